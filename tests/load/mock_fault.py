#!/usr/bin/env python3
"""An asyncio, OpenAI-compatible streaming upstream for chatd's fault-and-load test.

Serves POST /v1/chat/completions on 127.0.0.1 (HTTP/1.1, keep-alive, chunked SSE) at a
port the OS picks, printed as the first stdout line: "PORT 12345". Standard library only.

The answer is deterministic: it is built from a marker ("marker=<hex>") found in the
request's last user message, so the test client can rebuild the exact text with plan().
The fault is chosen by the request's "model" (see KINDS):

  load-normal      the whole answer, in tokens that cut grapheme clusters, written in
                   pieces that sometimes cut an event (and a UTF-8 sequence) in two,
                   then finish_reason "stop", a usage chunk and [DONE]
  load-resume      like normal, longer (the client drops and resumes mid-answer)
  load-abandon     like normal, much longer and slower (the client goes away for good;
                   chatd must close this connection)
  load-fail500     HTTP 500 with an OpenAI-style JSON error body, before any stream byte
  load-stall-first reads the request and sends nothing at all
  load-stall-mid   a prefix of the answer (whole events), then silence
  load-reset-mid   a prefix of the answer (whole events), then a TCP RST (SO_LINGER 0)

The answer is paced: SHAPE gives per kind how long it takes and in about how many writes.

Every chat request is recorded: marker, kind, the connection it came on, monotonic times
(CLOCK_MONOTONIC, comparable with the client's time.monotonic()) of its arrival, first
and last write, end of response and of the peer closing the connection while the
response was still in progress, and its outcome (complete, peer_closed, reset_sent,
status_sent, stall_expired). Every connection is recorded too: when it was opened, when
its first request bytes came, when and by whom it was closed, how many requests it
carried. Idle keep-alive connections stay open unless --idle-close-ms is given.

Control endpoints (served on the same port):
  GET /_mock/records                      JSON: {"records": [...], "connections": {...}}
  GET /_mock/wait-idle?timeout=S          200 once no chat response is in progress, else 408
  GET /_mock/wait-records?n=K&timeout=S   200 once K chat requests arrived, else 408
  GET /_mock/lag                          JSON: {"max": the event loop's worst lateness in
                                          seconds since the last call}
"""

import argparse
import asyncio
import itertools
import json
import random
import re
import socket
import struct
import sys
import time
from urllib.parse import parse_qs, urlsplit

KINDS = ("normal", "resume", "abandon", "fail500", "stall-first", "stall-mid", "reset-mid")

# Each item is exactly one extended grapheme cluster (UAX #29), and any concatenation of
# items keeps the boundaries: no item starts with an extender, a ZWJ, a spacing mark or
# a lone regional indicator, and none ends with a ZWJ or is a Hangul jamo.
PLAIN = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") + [" "] * 12 + [
    ".", ",", "!", "?", "'", "-"]
SPECIAL = [
    "\n", "\r\n", "\t", '"', "\\", "/", "<", "&", "\u00e9", "\u00df", "\u03a9", "\u2014",
    "\u2026", "\u20ac", "\u4e2d", "\u6587", "\u5b57", "\u65e5", "\u672c", "\ud55c", "\uae00",
    "e\u0301", "a\u0308\u0301", "n\u0303", "\U0001F600", "\U0001F469\u200d\U0001F4BB",
    "\U0001F44D\U0001F3FD", "\U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466",
    "\u2764\ufe0f", "\U0001F3F3\ufe0f\u200d\U0001F308", "\U0001F1EB\U0001F1F7",
    "\U0001F1EF\U0001F1F5", "1\ufe0f\u20e3", "\u2028", "\u2029",
]

# Per kind: (min clusters, max clusters, seconds the whole answer takes to send, about how
# many writes it takes).
SHAPE = {
    "normal": (60, 180, 6.0, 10),
    "resume": (200, 320, 8.0, 16),
    "abandon": (300, 400, 15.0, 40),
    "stall-mid": (10, 60, 0.8, 4),
    "reset-mid": (10, 60, 0.8, 4),
}
STALL_HOLD_S = 30.0   # a stalled response gives up (closes) after this long
USAGE_PROMPT = 11


def kind_of(model):
    k = model[5:] if isinstance(model, str) and model.startswith("load-") else "normal"
    return k if k in KINDS else "normal"


POOL = PLAIN + SPECIAL
# A quarter of the clusters are special ones (multi-byte, multi-code-point, escapes).
CUM = list(itertools.accumulate([0.75 / len(PLAIN)] * len(PLAIN) +
                                [0.25 / len(SPECIAL)] * len(SPECIAL)))
TOKEN_SIZES = (1, 2, 3, 4)


def plan(marker, kind):
    """What the upstream answers for this marker and kind: the clusters of the answer
    (for stall-mid / reset-mid: the prefix that is sent), the tokens (cut at code points,
    not clusters), the time the answer takes and the usage. Deterministic."""
    rng = random.Random(f"{marker}/{kind}")
    lo, hi, secs, writes = SHAPE.get(kind, SHAPE["normal"])
    n = rng.randint(lo, hi)
    clusters = rng.choices(POOL, cum_weights=CUM, k=n)
    text = "".join(clusters)
    tokens, i = [], 0
    for k in rng.choices(TOKEN_SIZES, k=len(text)):
        if i >= len(text):
            break
        tokens.append(text[i:i + k])
        i += k
    return {"clusters": clusters, "text": text, "tokens": tokens, "seconds": secs,
            "writes": writes,
            "seed": rng.random(), "usage": {"prompt_tokens": USAGE_PROMPT,
                                            "completion_tokens": len(tokens)}}


def chunk_json(cid, model, delta=None, finish=None, usage=None):
    o = {"id": cid, "object": "chat.completion.chunk", "created": 1700000000, "model": model}
    if usage is not None:
        o["choices"] = []
        o["usage"] = usage
    else:
        o["choices"] = [{"index": 0, "delta": delta or {}, "finish_reason": finish}]
    return b"data: " + json.dumps(o, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


def content_chunk(head, text):
    """chunk_json(cid, model, {"content": text}), built without a JSON encoder pass over
    the whole object (thousands of these per second)."""
    return b"".join((head, json.dumps(text, ensure_ascii=False).encode(),
                     b'},"finish_reason":null}]}\n\n'))


def body_events(p, model, marker, full):
    """The SSE events: a role chunk, one per token, then (full) finish, usage, [DONE]."""
    cid = "chatcmpl-" + marker[:16]
    head = ('data: {"id":%s,"object":"chat.completion.chunk","created":1700000000,"model":%s,'
            '"choices":[{"index":0,"delta":{"content":'
            % (json.dumps(cid), json.dumps(model))).encode()
    yield chunk_json(cid, model, {"role": "assistant", "content": ""})
    for t in p["tokens"]:
        yield content_chunk(head, t)
    if full:
        yield chunk_json(cid, model, {}, "stop")
        yield chunk_json(cid, model, usage=p["usage"])
        yield b"data: [DONE]\n\n"


def writes_of(p, events, cut_events):
    """Groups the events (an iterator, encoded as needed) into about p["writes"] writes;
    when cut_events, a write sometimes ends inside the next event (cutting its line and
    maybe a UTF-8 sequence). Yields the pieces."""
    rng = random.Random(p["seed"])
    per = max(1, (len(p["tokens"]) + 2) // p["writes"])
    events = iter(events)
    carry = b""
    while True:
        group = list(itertools.islice(events, rng.randint(max(1, per // 2), per + per // 2)))
        if not group:
            break
        piece = carry + b"".join(group)
        carry = b""
        if cut_events and rng.random() < 0.3:
            nxt = next(events, None)
            if nxt is not None:
                cut = rng.randint(1, len(nxt) - 1)
                piece += nxt[:cut]
                carry = nxt[cut:]
        yield piece
    if carry:
        yield carry


def chunked(data):
    return b"%x\r\n%s\r\n" % (len(data), data)


class State:
    def __init__(self):
        self.records = []
        self.conns = {}            # id -> {"opened", "closed", "requests"}
        self.next_conn = 0
        self.active = 0            # chat responses in progress
        self.changed = asyncio.Condition()
        self.lag_max = 0.0         # the event loop's worst lateness, seconds
        self.lag_at = None

    async def notify(self):
        async with self.changed:
            self.changed.notify_all()

    async def wait_for(self, pred, timeout):
        try:
            async with self.changed:
                await asyncio.wait_for(self.changed.wait_for(pred), timeout)
            return True
        except asyncio.TimeoutError:
            return False


def now():
    return time.monotonic()


class Conn(asyncio.Protocol):
    def __init__(self, st, args):
        self.st = st
        self.args = args
        self.buf = b""
        self.transport = None
        self.closed = False
        self.closed_event = asyncio.Event()
        self.busy = False          # a response is in progress
        self.current = None        # its record
        self.idle_handle = None
        self.queue = []

    # ---- connection events ----

    def connection_made(self, transport):
        self.transport = transport
        self.cid = self.st.next_conn
        self.st.next_conn += 1
        self.info = {"opened": now(), "closed": None, "requests": 0, "closed_by": None}
        self.st.conns[self.cid] = self.info
        self.arm_idle()

    def _peer_gone(self):
        if self.closed:
            return
        self.closed = True
        t = now()
        self.info["closed"] = t
        if self.info["closed_by"] is None:
            self.info["closed_by"] = "peer"
        if self.current is not None and self.current.get("t_peer_closed") is None and \
                self.current.get("t_end") is None:
            self.current["t_peer_closed"] = t
        self.closed_event.set()
        if self.idle_handle:
            self.idle_handle.cancel()

    def eof_received(self):
        self._peer_gone()
        return False

    def connection_lost(self, exc):
        self._peer_gone()

    def arm_idle(self):
        if self.idle_handle:
            self.idle_handle.cancel()
            self.idle_handle = None
        if self.args.idle_close_ms > 0 and not self.busy and not self.closed:
            self.idle_handle = asyncio.get_running_loop().call_later(
                self.args.idle_close_ms / 1000.0, self.idle_close)

    def idle_close(self):
        if not self.busy and not self.closed:
            self.info["closed_by"] = "mock_idle"
            self.transport.close()

    # ---- requests ----

    def data_received(self, data):
        if self.info.get("first_data") is None:
            self.info["first_data"] = now()
        self.buf += data
        if len(self.buf) > (8 << 20):
            self.transport.abort()
            return
        self.parse()

    def parse(self):
        while not self.busy:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].decode("latin-1")
            lines = head.split("\r\n")
            try:
                method, target, _ = lines[0].split(" ", 2)
            except ValueError:
                self.transport.abort()
                return
            headers = {}
            for ln in lines[1:]:
                k, _, v = ln.partition(":")
                headers[k.strip().lower()] = v.strip()
            n = int(headers.get("content-length", "0") or 0)
            if headers.get("expect", "").lower() == "100-continue" and \
                    len(self.buf) < end + 4 + n and not getattr(self, "sent100", False):
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                self.sent100 = True
            if len(self.buf) < end + 4 + n:
                return
            body = self.buf[end + 4:end + 4 + n]
            self.buf = self.buf[end + 4 + n:]
            self.sent100 = False
            self.busy = True
            if self.idle_handle:
                self.idle_handle.cancel()
                self.idle_handle = None
            self.info["requests"] += 1
            asyncio.get_running_loop().create_task(self.handle(method, target, headers, body))

    def finish_response(self):
        self.busy = False
        self.current = None
        if not self.closed:
            self.arm_idle()
            self.parse()

    def write(self, data):
        if not self.closed:
            self.transport.write(data)

    def send_simple(self, status, reason, body, ctype="application/json"):
        self.write(b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
                   b"Connection: keep-alive\r\n\r\n%s"
                   % (status, reason.encode(), ctype.encode(), len(body), body))

    async def handle(self, method, target, headers, body):
        try:
            u = urlsplit(target)
            if method == "POST" and u.path.endswith("/chat/completions"):
                await self.chat(headers, body)
            elif method == "GET" and u.path.endswith("/models"):
                self.send_simple(200, "OK", b'{"object":"list","data":[{"id":"load-normal",'
                                            b'"object":"model","owned_by":"mock"}]}')
            elif u.path.startswith("/_mock/"):
                await self.control(u)
            else:
                self.send_simple(404, "Not Found", b'{"error":{"message":"no such path"}}')
        except Exception as e:  # a bug in the mock must be visible, not a silent hang
            sys.stderr.write(f"mock: handler error: {e!r}\n")
            self.transport.abort()
        finally:
            self.finish_response()

    async def control(self, u):
        q = parse_qs(u.query)
        timeout = min(float(q.get("timeout", ["10"])[0]), 120.0)
        if u.path == "/_mock/records":
            body = json.dumps({"records": self.st.records, "connections": self.st.conns,
                               "loop_lag_max": self.st.lag_max,
                               "loop_lag_at": self.st.lag_at}).encode()
            self.send_simple(200, "OK", body)
        elif u.path == "/_mock/lag":
            body = json.dumps({"max": self.st.lag_max}).encode()
            self.st.lag_max = 0.0
            self.send_simple(200, "OK", body)
        elif u.path == "/_mock/wait-idle":
            ok = await self.st.wait_for(lambda: self.st.active == 0, timeout)
            self.send_simple(200 if ok else 408, "OK" if ok else "Timeout",
                             json.dumps({"active": self.st.active}).encode())
        elif u.path == "/_mock/wait-records":
            n = int(q.get("n", ["1"])[0])
            ok = await self.st.wait_for(lambda: len(self.st.records) >= n, timeout)
            self.send_simple(200 if ok else 408, "OK" if ok else "Timeout",
                             json.dumps({"records": len(self.st.records)}).encode())
        else:
            self.send_simple(404, "Not Found", b"{}")

    # ---- the chat answer ----

    async def chat(self, headers, body):
        t0 = now()
        try:
            req = json.loads(body)
            model = req.get("model", "")
            msgs = [m for m in req.get("messages", []) if m.get("role") == "user"]
            content = msgs[-1]["content"] if msgs else ""
        except (ValueError, KeyError, TypeError, AttributeError):
            self.send_simple(400, "Bad Request", b'{"error":{"message":"bad request"}}')
            return
        m = re.search(r"marker=([0-9a-f]+)", content if isinstance(content, str) else "")
        marker = m.group(1) if m else "none"
        kind = kind_of(model)
        rec = {"marker": marker, "kind": kind, "model": model, "conn": self.cid,
               "request_id": headers.get("x-request-id"), "t_accept": t0,
               "t_first_write": None, "t_last_write": None, "t_end": None,
               "t_peer_closed": None,
               "outcome": None, "writes": 0, "bytes": 0}
        self.st.records.append(rec)
        self.current = rec
        self.st.active += 1
        await self.st.notify()
        try:
            await self.answer(rec, kind, model, marker)
        finally:
            if rec["outcome"] is None:
                rec["outcome"] = "peer_closed" if rec["t_peer_closed"] is not None else "aborted"
            self.st.active -= 1
            await self.st.notify()

    async def pause(self, seconds):
        """Waits seconds (the pace of the answer); True when the peer is gone by then.
        The close itself is timed when it happens, in connection_lost / eof_received."""
        if not self.closed:
            await asyncio.sleep(seconds)
        return self.closed

    async def hold(self, seconds):
        """Waits until the peer closes, at most seconds; True when it did."""
        if not self.closed:
            try:
                await asyncio.wait_for(self.closed_event.wait(), seconds)
            except asyncio.TimeoutError:
                pass
        return self.closed

    def sent(self, rec, data):
        t = now()
        if rec["t_first_write"] is None:
            rec["t_first_write"] = t
        rec["t_last_write"] = t
        rec["writes"] += 1
        rec["bytes"] += len(data)
        self.write(data)

    async def answer(self, rec, kind, model, marker):
        if kind == "fail500":
            body = json.dumps({"error": {"message": f"mock failure for {marker[:8]}",
                                         "type": "server_error", "code": None}}).encode()
            self.sent(rec, b"")
            self.send_simple(500, "Internal Server Error", body)
            rec["t_end"] = now()
            rec["outcome"] = "status_sent"
            return
        if kind == "stall-first":
            if not await self.hold(STALL_HOLD_S):
                rec["outcome"] = "stall_expired"
                self.info["closed_by"] = "mock_stall"
                self.transport.close()
            return
        p = plan(marker, kind)
        full = kind not in ("stall-mid", "reset-mid")
        writes = writes_of(p, body_events(p, model, marker, full), cut_events=full)
        gap = p["seconds"] / p["writes"]
        self.sent(rec, b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                       b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n"
                       b"Connection: keep-alive\r\n\r\n" + chunked(next(writes)))
        for w in writes:
            if await self.pause(gap):
                return
            self.sent(rec, chunked(w))
        if kind == "stall-mid":
            if not await self.hold(STALL_HOLD_S):
                rec["outcome"] = "stall_expired"
                self.info["closed_by"] = "mock_stall"
                self.transport.close()
            return
        if kind == "reset-mid":
            if await self.pause(gap):
                return
            rec["t_end"] = now()
            rec["outcome"] = "reset_sent"
            self.info["closed_by"] = "mock_reset"
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.closed = True
            self.info["closed"] = now()
            self.closed_event.set()
            self.transport.abort()
            return
        self.sent(rec, b"0\r\n\r\n")
        rec["t_end"] = now()
        rec["outcome"] = "complete"


async def watch_lag(st):
    """Records how late the event loop runs a 50 ms timer (the mock's own slowness)."""
    while True:
        t = now()
        await asyncio.sleep(0.05)
        late = now() - t - 0.05
        if late > st.lag_max:
            st.lag_max, st.lag_at = late, now()


async def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--idle-close-ms", type=int, default=0,
                    help="close a keep-alive connection idle this long (0: never)")
    args = ap.parse_args()
    st = State()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Conn(st, args), "127.0.0.1", args.port,
                                      backlog=4096, reuse_address=True)
    port = server.sockets[0].getsockname()[1]
    lag_task = loop.create_task(watch_lag(st))
    sys.stdout.write(f"PORT {port}\n")
    sys.stdout.flush()
    # Runs until stdin closes (the test ends) or the process is signalled.
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while await reader.read(4096):
        pass
    lag_task.cancel()
    server.close()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
