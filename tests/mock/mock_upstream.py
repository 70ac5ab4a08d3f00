#!/usr/bin/env python3
"""A fault-injecting, OpenAI-compatible upstream for chatd's integration tests.

Serves POST /v1/chat/completions (streaming SSE over chunked HTTP/1.1, keep-alive) on
127.0.0.1 at a port the OS picks, printed as the first stdout line: "PORT 12345".

The scenario is chosen by the request's "model": a main scenario optionally joined with
modifiers by "+", e.g. "echo", "split-1", "crlf+split-3", "slow-20", "big-200000".
Every scenario streams the text of the last user message (so a test chooses the text and
checks chatd re-emits it byte for byte), except big-N, which streams big_text(N).

Main scenarios
  echo            the text in tokens of 1, 2, 3, 4, 1, 2, ... code points, then
                  finish_reason "stop", a usage chunk if stream_options.include_usage
                  was asked for, then [DONE]
  nodone          like echo, with finish_reason, but the body ends without [DONE]
  finish-length   like echo, finish_reason "length"
  usage           a role-only chunk, empty-content chunks between the tokens, and a
                  usage chunk ("choices": []) with USAGE_PROMPT / USAGE_COMPLETION
  reasoning       REASONING_TEXT as delta.reasoning_content, then the text as content
  error-mid       the text, then data: {"error":{"message":"overloaded",...}}, end
  error-first     the role chunk, then data: {"error":{"message":"overloaded",...}} before
                  any text (a context-window or overload error inside an HTTP 200), end
  badjson         the text, then a data line that is not JSON, then [DONE]
  badutf8         the text, then a chunk whose content is "\xff" (a raw byte that is not
                  UTF-8), then "ok", finish_reason "stop" and [DONE]
  status-NNN      HTTP status NNN with an OpenAI-style JSON error body (401 echoes the
                  masked key like OpenAI does; 400 echoes the full key, as careless
                  proxies do; 429 and 503 carry Retry-After)
  stall-first     read the request, send nothing at all
  stall-mid       the text, then silence (no end)
  reset-mid       the text, then a TCP RST (SO_LINGER 0)
  close-mid       the text, then a complete HTTP body without finish_reason or [DONE]
  eof-mid         the text, then a TCP FIN in the middle of the chunked body
  slow[-MS]       one code point per token, one token every MS (default 50) ms
  big-N           big_text(N) fast, in tokens of 16 code points
  ping-gap-S[-K]  the first K code points (default: half), S seconds of silence, the rest
  held            the role chunk, then whatever the test commands through /_mock/send and
                  /_mock/end (below); ends by itself after STALL_HOLD_S without a command

Tool-call scenarios (the calls are TOOL_CALLS: their ids, names and argument fragments;
every scenario's arguments join to TOOL_CALLS[i]["arguments"], cut mid-string, mid-escape
and inside a grapheme cluster). With "stream" not true in the request they answer one
chat.completion object instead, the stream's content and calls assembled.
  tools           as OpenAI streams parallel calls: the text, then per index a first
                  tool_calls entry with id, type, function.name and arguments "", then
                  arguments fragments, the two calls interleaved by index, one fragment
                  empty; finish_reason "tool_calls", a usage chunk if asked for, [DONE]
  tools-only      no text: the role chunk with content null and the first call's start,
                  then the calls one after the other (index 0 whole, then index 1)
  tools-mixed     text before, between and after the calls, and one chunk that carries
                  both content and a tool_calls entry (as some compatible servers do)
  agent-read      an agent's two turns: without a tool result in the request, one call
                  of the tool "Read" with {"file_path": the first absolute *.txt path in
                  the user's text}; with one, the text "The file says: " and the last
                  tool result's text, then finish_reason "stop"

Modifiers
  crlf / cr       event lines end with CRLF / a bare CR
  nospace         "data:" without the space
  comments        ": keepalive" comment lines between and inside events
  multiline       each chunk's JSON split over two data: lines
  escaped         JSON with \\uXXXX escapes (surrogate pairs for astral characters)
  split-N         the body written in N-byte pieces (one HTTP chunk each), cutting UTF-8
                  sequences and lines; one code point per token
  tok-N           N code points per token

A request whose key (Authorization: Bearer) starts with "status-NNN-" is answered with
status NNN as status-NNN would, whatever its model: for tests of key rotation.

Control endpoints (no sleeps needed to synchronise with them)
  GET  /_mock/requests                       JSON list of the recorded requests
  GET  /_mock/wait-closed?n=K&timeout=S      200 once K recorded responses were cut by the
                                             peer closing the connection, else 408
  GET  /_mock/wait-requests?n=K&timeout=S    200 once K requests arrived, else 408
  POST /_mock/reset                          forget the recorded requests
  POST /_mock/send?id=K&text=T[&timeout=S]   the held response of request K sends T (as
                                             content tokens); answers once it is written
                                             with {"sent_at": t}, t its time.monotonic()
                                             just before the first byte (the same clock as
                                             the tests'); waits up to S s (default 5) for
                                             request K to be held; 404 if it is not (or
                                             no longer), 409 if it ended meanwhile
  POST /_mock/end?id=K[&text=T][&timeout=S]  like send: T (if any), then finish_reason
                                             "stop", [DONE] and the end of the body, in a
                                             burst; {"sent_at": t, "ended_at": t2}, t2 the
                                             time just before the finish chunk
"""

import json
import os
import queue
import re
import select
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

USAGE_PROMPT = 17
USAGE_COMPLETION = 23
REASONING_TEXT = "Let me think: 2+2=4 \u2234 \U0001F914"
STALL_HOLD_S = 60.0     # how long a stalled response waits for the peer before giving up
SPLIT_PAUSE_S = 0.0003  # pause between split-N pieces so they leave as separate segments
BIG_PATTERN = "The quick brown fox jumps over the lazy dog. \u4e2d\u6587\u5b57 \U0001F600 \u00e9\n"


# The tool calls of the tools-* scenarios (mock_providers.py streams the same ones): the
# arguments as streamed, in fragments whose cuts fall inside JSON strings, inside escapes
# (\" \\ \u00e9) and inside a ZWJ sequence; one fragment is empty.
TOOL_CALLS = [
    {"id": "call_mockWeather01", "name": "get_weather", "fragments": [
        '{"ci', 'ty":"Z', '\u00fcrich \\', '"Altstadt\\"', '","unit":"cel',
        'sius","note":"caf\\u0', '0e9 \u2615 \u6771', '\u4eac \U0001F469',
        '\u200d\U0001F4BB \\', '\\ end"}']},
    {"id": "call_mockTime02", "name": "get_time", "fragments": [
        '{"tz":"Asia/Tok', 'yo","fmt":"HH:mm \\u20', '', '14 \\"24h\\""',
        ',"days":[1,2', ',3]}']},
]
for _c in TOOL_CALLS:
    _c["arguments"] = "".join(_c["fragments"])
# The JSON schemas of the two tools, for clients that declare them.
TOOL_SCHEMAS = {
    "get_weather": {"type": "object", "properties": {
        "city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "note": {"type": "string"}}, "required": ["city"]},
    "get_time": {"type": "object", "properties": {
        "tz": {"type": "string"}, "fmt": {"type": "string"},
        "days": {"type": "array", "items": {"type": "integer"}}}, "required": ["tz"]},
}


def tool_start(index, call):
    """The first tool_calls entry of a call, as OpenAI streams it."""
    return {"index": index, "id": call["id"], "type": "function",
            "function": {"name": call["name"], "arguments": ""}}


def tool_frag(index, fragment):
    return {"index": index, "function": {"arguments": fragment}}


def tools_script(main, text, tok=None):
    """The deltas after the role chunk of a tools-* scenario, in order."""
    toks = tokens_of(text, tok)
    out = [{"content": t} for t in toks]
    w, t = TOOL_CALLS
    if main == "tools":
        out.append({"tool_calls": [tool_start(0, w)]})
        out += [{"tool_calls": [tool_frag(0, f)]} for f in w["fragments"][:2]]
        out.append({"tool_calls": [tool_start(1, t)]})
        rest = [(0, f) for f in w["fragments"][2:]]
        other = [(1, f) for f in t["fragments"]]
        while rest or other:  # interleaved by index: 1, 0, 1, 0, ...
            for q in (other, rest):
                if q:
                    i, f = q.pop(0)
                    out.append({"tool_calls": [tool_frag(i, f)]})
    elif main == "tools-only":
        out = []
        for i, c in enumerate(TOOL_CALLS):
            out.append({"tool_calls": [tool_start(i, c)]})
            out += [{"tool_calls": [tool_frag(i, f)]} for f in c["fragments"]]
    elif main == "tools-mixed":
        cut1, cut2 = len(toks) // 3, 2 * len(toks) // 3
        out = [{"content": x} for x in toks[:cut1]]
        first = {"tool_calls": [tool_start(0, w)]}
        if cut1 < cut2:
            first["content"] = toks[cut1]
            cut1 += 1
        out.append(first)
        out += [{"tool_calls": [tool_frag(0, f)]} for f in w["fragments"][:4]]
        out += [{"content": x} for x in toks[cut1:cut2]]
        out += [{"tool_calls": [tool_frag(0, f)]} for f in w["fragments"][4:]]
        out.append({"tool_calls": [tool_start(1, t)]})
        out += [{"tool_calls": [tool_frag(1, f)]} for f in t["fragments"]]
        out += [{"content": x} for x in toks[cut2:]]
    return out


def assemble(deltas):
    """What a client makes of a stream's deltas: (content or None, [tool calls])."""
    content, calls = None, {}
    for d in deltas:
        if d.get("content") is not None:
            content = (content or "") + d["content"]
        for tc in d.get("tool_calls") or []:
            c = calls.setdefault(tc["index"], {"id": None, "type": "function",
                                               "function": {"name": "", "arguments": ""}})
            if tc.get("id"):
                c["id"] = tc["id"]
            fn = tc.get("function") or {}
            c["function"]["name"] += fn.get("name") or ""
            c["function"]["arguments"] += fn.get("arguments") or ""
    return content, [calls[i] for i in sorted(calls)]


def big_text(n):
    """The deterministic text of the big-N scenario: n code points, each its own
    grapheme cluster (ASCII, CJK, a plain emoji, precomposed e-acute, newline)."""
    reps = n // len(BIG_PATTERN) + 1
    return (BIG_PATTERN * reps)[:n]


def mask_key(key):
    """OpenAI's way of quoting a wrong key back: the first 8 characters, *** and the
    last 3."""
    if len(key) <= 11:
        return "***"
    return key[:8] + "***" + key[-3:]


class PeerClosed(Exception):
    """The peer (chatd) closed the connection while a response was being sent."""


class Registry:
    """Recorded requests, and a condition that signals every change."""

    def __init__(self):
        self.cond = threading.Condition()
        self.records = []
        self.next_id = 0

    def add(self, rec):
        with self.cond:
            rec["id"] = self.next_id
            self.next_id += 1
            self.records.append(rec)
            self.cond.notify_all()

    def update(self, rec, **kw):
        with self.cond:
            rec.update(kw)
            self.cond.notify_all()

    def snapshot(self):
        with self.cond:
            return json.loads(json.dumps(self.records))

    def reset(self):
        with self.cond:
            self.records = []
            self.cond.notify_all()

    def wait_for(self, pred, timeout):
        with self.cond:
            return self.cond.wait_for(lambda: pred(self.records), timeout)


REG = Registry()


class Held:
    """The command queues of held responses, by request id."""

    def __init__(self):
        self.cond = threading.Condition()
        self.queues = {}

    def add(self, rid, q):
        with self.cond:
            self.queues[rid] = q
            self.cond.notify_all()

    def remove(self, rid):
        with self.cond:
            self.queues.pop(rid, None)

    def wait(self, rid, timeout):
        with self.cond:
            self.cond.wait_for(lambda: rid in self.queues, timeout)
            return self.queues.get(rid)


HELD = Held()
CONN_IDS = iter(range(1, 1 << 62))
CONN_LOCK = threading.Lock()


def parse_scenario(model):
    """Splits a model name into the main scenario and its options."""
    sc = {
        "main": "echo", "eol": "\n", "nospace": False, "comments": False,
        "multiline": False, "escaped": False, "split": 0, "tok": None,
        "usage": False, "param": None, "param2": None,
    }
    for part in (model or "echo").split("+"):
        m = re.fullmatch(r"([a-z-]+?)(?:-(\d+))?(?:-(\d+))?", part)
        if not m:
            sc["main"] = part
            continue
        name, p1, p2 = m.group(1), m.group(2), m.group(3)
        if name == "crlf":
            sc["eol"] = "\r\n"
        elif name == "cr":
            sc["eol"] = "\r"
        elif name == "nospace":
            sc["nospace"] = True
        elif name == "comments":
            sc["comments"] = True
        elif name == "multiline":
            sc["multiline"] = True
        elif name == "escaped":
            sc["escaped"] = True
        elif name == "split" and p1:
            sc["split"] = int(p1)
            sc["tok"] = sc["tok"] or 1
        elif name == "tok" and p1:
            sc["tok"] = int(p1)
        elif name == "usage":
            sc["usage"] = True
            if sc["main"] == "echo":
                sc["main"] = "usage"
        else:
            sc["main"] = name
            sc["param"] = int(p1) if p1 else None
            sc["param2"] = int(p2) if p2 else None
    return sc


def tokens_of(text, tok):
    """Cuts text into tokens of tok code points, or 1, 2, 3, 4, 1, ... when tok is None."""
    out, i, k = [], 0, 0
    while i < len(text):
        n = tok if tok else (k % 4) + 1
        out.append(text[i:i + n])
        i += n
        k += 1
    return out


def message_text(m):
    """A message's text: its content as a string, or its text parts joined."""
    c = m.get("content") if isinstance(m, dict) else None
    if isinstance(c, str):
        return c
    if isinstance(c, list):
        return "\n".join(p.get("text", "") for p in c if isinstance(p, dict) and p.get("type") == "text")
    return ""


def agent_script(body):
    """The deltas of the agent-read scenario and its finish reason."""
    msgs = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    results = [m for m in msgs if m.get("role") == "tool"]
    if results:
        return [{"content": t} for t in tokens_of("The file says: " + message_text(results[-1]), None)], "stop"
    users = "\n".join(message_text(m) for m in msgs if m.get("role") == "user")
    found = re.search(r"(/[^\s\"']+\.txt)", users)
    args = json.dumps({"file_path": found.group(1) if found else "/nonexistent.txt"})
    call = {"id": "call_agentRead1", "name": "Read"}
    return [{"tool_calls": [tool_start(0, call)]},
            {"tool_calls": [tool_frag(0, args[:7])]},
            {"tool_calls": [tool_frag(0, args[7:])]}], "tool_calls"


def last_user_text(body):
    for m in reversed(body.get("messages") or []):
        if isinstance(m, dict) and m.get("role") == "user" and isinstance(m.get("content"), str):
            return m["content"]
    return ""


class MockHandler(BaseHTTPRequestHandler):
    """The HTTP plumbing every mock here shares: request bodies (plain or chunked), JSON
    answers, raw and chunked writes, and a connection id per client connection."""

    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with CONN_LOCK:
            self.conn_id = next(CONN_IDS)

    def log_message(self, fmt, *args):
        if os.environ.get("MOCK_VERBOSE"):
            sys.stderr.write("mock: " + (fmt % args) + "\n")

    def peer_closed_within(self, seconds):
        """Waits up to seconds; True as soon as the peer closed (or reset) the connection."""
        deadline = time.monotonic() + seconds
        sock = self.connection
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            r, _, _ = select.select([sock], [], [], left)
            if not r:
                return False
            try:
                data = sock.recv(1, socket.MSG_PEEK)
            except (ConnectionResetError, OSError):
                return True
            if data == b"":
                return True
            # Unexpected bytes from the peer: not a close; keep waiting without spinning.
            time.sleep(min(left, 0.01))

    def mark_closed(self):
        REG.update(self.rec, closed_by_peer=True, closed_at=time.monotonic())
        self.close_connection = True

    def serve_registry(self, path, q):
        """The test-control GETs every mock answers; True when path was one of them."""
        if path == "/_mock/requests":
            self.send_json(200, REG.snapshot())
            return True
        if path not in ("/_mock/wait-closed", "/_mock/wait-requests"):
            return False
        n = int(q.get("n", "1"))
        timeout = float(q.get("timeout", "5"))
        if path == "/_mock/wait-closed":
            def count(recs):
                return sum(1 for r in recs if r["closed_by_peer"])
        else:
            def count(recs):
                return len(recs)
        ok = REG.wait_for(lambda recs: count(recs) >= n, timeout)
        with REG.cond:
            got = count(REG.records)
        self.send_json(200 if ok else 408, {"count": got, "wanted": n,
                                            "requests": REG.snapshot()})
        return True

    def read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def send_json(self, status, obj, extra=()):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def write_raw(self, data):
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            raise PeerClosed()
        self.rec["sent_bytes"] += len(data)

    def chunk(self, data):
        if data:
            self.write_raw(b"%x\r\n" % len(data) + data + b"\r\n")

    def end_body(self):
        self.flush_carry()
        self.write_raw(b"0\r\n\r\n")
        REG.update(self.rec, completed=True, ended_at=time.monotonic())

    def flush_carry(self):
        if self.carry:
            self.chunk(self.carry)
            self.carry = b""


class Handler(MockHandler):
    server_version = "mock-upstream/1"

    # ---- plumbing -------------------------------------------------------------------



    # ---- the SSE body ---------------------------------------------------------------

    def start_stream(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()  # flushes the header buffer with one write
        REG.update(self.rec, phase="streaming", headers_sent_at=time.monotonic())
        self.carry = b""

    def emit(self, data):
        """Sends body bytes, cut into split-N pieces when asked (pieces straddle events)."""
        n = self.sc["split"]
        if not n:
            self.chunk(data)
            return
        self.carry += data
        while len(self.carry) >= n:
            piece, self.carry = self.carry[:n], self.carry[n:]
            self.chunk(piece)
            time.sleep(SPLIT_PAUSE_S)


    def sse_bytes(self, payload):
        """One SSE event for a data payload (a dict becomes JSON), in the scenario's form."""
        sc = self.sc
        if isinstance(payload, str):
            text = payload
        else:
            text = json.dumps(payload, ensure_ascii=sc["escaped"])
        prefix = "data:" if sc["nospace"] else "data: "
        if sc["multiline"] and not isinstance(payload, str):
            at = text.find('"choices"')
            if at <= 0:
                at = len(text) // 2 if text.startswith("{") else 0
            parts = [text[:at], text[at:]] if at > 0 else [text]
        else:
            parts = [text]
        lines = [prefix + p for p in parts]
        if sc["comments"]:
            lines = [": keepalive"] + lines[:1] + [": inside an event"] + lines[1:]
        eol = sc["eol"]
        return (eol.join(lines) + eol + eol).encode("utf-8")

    def chunk_obj(self, delta, finish=None, usage_null=False):
        obj = {
            "id": "chatcmpl-mock%d" % self.rec["id"],
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": self.model,
            "system_fingerprint": None,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if usage_null:
            obj["usage"] = None
        return obj

    def usage_obj(self):
        return {
            "id": "chatcmpl-mock%d" % self.rec["id"],
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": self.model,
            "choices": [],
            "usage": {"prompt_tokens": USAGE_PROMPT, "completion_tokens": USAGE_COMPLETION,
                      "total_tokens": USAGE_PROMPT + USAGE_COMPLETION},
        }

    def send_event(self, payload):
        self.emit(self.sse_bytes(payload))

    def send_tokens(self, toks, pause=0.0, empty_between=False):
        for i, t in enumerate(toks):
            self.send_event(self.chunk_obj({"content": t}))
            if empty_between:
                self.send_event(self.chunk_obj({"content": ""}))
            if pause:
                self.flush_carry()
                if i + 1 < len(toks) and self.peer_closed_within(pause):
                    raise PeerClosed()


    def finish_ok(self, reason="stop", usage=False, done=True):
        self.send_event(self.chunk_obj({}, finish=reason))
        if usage:
            self.send_event(self.usage_obj())
        if done:
            self.send_event("[DONE]")
        self.end_body()

    def hold_until_closed(self):
        """Stays silent until the peer closes (recorded) or STALL_HOLD_S passes."""
        self.flush_carry()
        if self.peer_closed_within(STALL_HOLD_S):
            raise PeerClosed()
        self.close_connection = True

    # ---- scenarios ------------------------------------------------------------------

    def run_scenario(self, body):
        sc, text = self.sc, last_user_text(body)
        main = sc["main"]
        want_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        toks = tokens_of(text, sc["tok"])

        if main == "status":
            return self.send_status(sc["param"] or 500)
        if main == "stall-first":
            REG.update(self.rec, phase="stalled")
            if self.peer_closed_within(STALL_HOLD_S):
                raise PeerClosed()
            self.close_connection = True
            return
        if main == "big":
            text = big_text(sc["param"] or 100000)
            toks = tokens_of(text, sc["tok"] or 16)

        if main.startswith("tools") or main == "agent-read":
            return self.run_tools(body, text, want_usage)

        self.start_stream()
        first = {"role": "assistant", "content": ""} if main != "usage" else {"role": "assistant"}
        self.send_event(self.chunk_obj(first))

        if main in ("echo", "big"):
            if main == "big":
                self.send_big(toks)
            else:
                self.send_tokens(toks)
            self.finish_ok(usage=want_usage)
        elif main == "nodone":
            self.send_tokens(toks)
            self.finish_ok(usage=want_usage, done=False)
        elif main == "finish-length":
            self.send_tokens(toks)
            self.finish_ok(reason="length", usage=want_usage)
        elif main == "usage":
            self.send_event(self.chunk_obj({"content": ""}))
            self.send_tokens(toks, empty_between=True)
            self.finish_ok(usage=True)
        elif main == "reasoning":
            for t in tokens_of(REASONING_TEXT, sc["tok"]):
                self.send_event(self.chunk_obj({"reasoning_content": t}))
            self.send_tokens(toks)
            self.finish_ok(usage=want_usage)
        elif main == "error-first":
            self.send_event({"error": {"message": "overloaded", "type": "server_error",
                                       "param": None, "code": None}})
            self.end_body()
        elif main == "error-mid":
            self.send_tokens(toks)
            self.send_event({"error": {"message": "overloaded", "type": "server_error",
                                       "param": None, "code": None}})
            self.end_body()
        elif main == "badjson":
            self.send_tokens(toks)
            self.send_event('{"id":"chatcmpl-broken","choices":[{"delta":{"content":"x"')
            self.send_event("[DONE]")
            self.end_body()
        elif main == "badutf8":
            self.send_tokens(toks)
            raw = self.sse_bytes(self.chunk_obj({"content": "\u0000MARK"}))
            marker = json.dumps("\u0000MARK", ensure_ascii=sc["escaped"]).encode()
            self.emit(raw.replace(marker, b'"\xff"'))
            self.send_tokens(["ok"])
            self.finish_ok(usage=want_usage)
        elif main == "stall-mid":
            self.send_tokens(toks)
            self.hold_until_closed()
        elif main == "reset-mid":
            self.send_tokens(toks)
            self.flush_carry()
            self.reset_connection()
        elif main == "close-mid":
            self.send_tokens(toks)
            self.end_body()
            self.close_connection = True
        elif main == "eof-mid":
            self.send_tokens(toks)
            self.flush_carry()
            self.connection.shutdown(socket.SHUT_WR)
            REG.update(self.rec, ended_at=time.monotonic())
            self.close_connection = True
        elif main == "slow":
            ms = sc["param"] if sc["param"] is not None else 50
            self.send_tokens(tokens_of(text, sc["tok"] or 1), pause=ms / 1000.0)
            self.finish_ok(usage=want_usage)
        elif main == "held":
            self.run_held()
        elif main == "ping-gap":
            gap = sc["param"] if sc["param"] is not None else 14
            k = sc["param2"] if sc["param2"] is not None else len(text) // 2
            self.send_tokens(tokens_of(text[:k], sc["tok"]))
            self.flush_carry()
            REG.update(self.rec, gap_started_at=time.monotonic())
            if self.peer_closed_within(gap):
                raise PeerClosed()
            REG.update(self.rec, gap_ended_at=time.monotonic())
            self.send_tokens(tokens_of(text[k:], sc["tok"]))
            self.finish_ok(usage=want_usage)
        else:
            self.send_event({"error": {"message": "unknown mock scenario " + main}})
            self.end_body()

    def run_agent(self, body, want_usage):
        deltas, reason = agent_script(body)
        self.start_stream()
        self.send_event(self.chunk_obj({"role": "assistant", "content": ""}))
        for d in deltas:
            self.send_event(self.chunk_obj(d))
        self.finish_ok(reason=reason, usage=want_usage)

    def run_tools(self, body, text, want_usage):
        main = self.sc["main"]
        if main == "agent-read":
            return self.run_agent(body, want_usage)
        if main not in ("tools", "tools-only", "tools-mixed"):
            return self.send_json(400, {"error": {"message": "unknown mock scenario " + main,
                                                  "type": "invalid_request_error"}})
        deltas = tools_script(main, text, self.sc["tok"])
        if body.get("stream") is not True:
            return self.send_completion(deltas)
        self.start_stream()
        first = {"role": "assistant", "content": ""}
        if main == "tools-only":
            first = dict(deltas.pop(0), role="assistant", content=None, refusal=None)
        self.send_event(self.chunk_obj(first))
        for d in deltas:
            self.send_event(self.chunk_obj(d))
        self.finish_ok(reason="tool_calls", usage=want_usage)

    def send_completion(self, deltas):
        """The non-streaming answer: one chat.completion with the deltas assembled."""
        content, calls = assemble(deltas)
        msg = {"role": "assistant", "content": content, "refusal": None,
               "annotations": [], "tool_calls": calls}
        self.send_json(200, {
            "id": "chatcmpl-mock%d" % self.rec["id"], "object": "chat.completion",
            "created": 1700000000, "model": self.model, "system_fingerprint": None,
            "choices": [{"index": 0, "message": msg, "logprobs": None,
                         "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": USAGE_PROMPT, "completion_tokens": USAGE_COMPLETION,
                      "total_tokens": USAGE_PROMPT + USAGE_COMPLETION}})
        REG.update(self.rec, completed=True, ended_at=time.monotonic())

    def run_held(self):
        """Serves the commands /_mock/send and /_mock/end queue for this response."""
        rid = self.rec["id"]
        q = queue.Queue()
        self.flush_carry()
        REG.update(self.rec, phase="held")
        HELD.add(rid, q)
        deadline = time.monotonic() + STALL_HOLD_S
        try:
            while True:
                try:
                    cmd = q.get(timeout=0.1)
                except queue.Empty:
                    r, _, _ = select.select([self.connection], [], [], 0)
                    if r and self.peer_closed_within(0.001):
                        raise PeerClosed()
                    if time.monotonic() >= deadline:
                        self.close_connection = True
                        return
                    continue
                deadline = time.monotonic() + STALL_HOLD_S
                try:
                    cmd["result"] = self.held_command(cmd)
                finally:
                    if cmd["end"] or cmd["result"] is None:
                        HELD.remove(rid)  # before the answer: no later command is queued
                    cmd["done"].set()
                if cmd["end"]:
                    return
        finally:
            HELD.remove(rid)
            while not q.empty():  # queued while this response ended: answered 409
                cmd = q.get()
                cmd["done"].set()

    def held_command(self, cmd):
        out = {"sent_at": time.monotonic()}
        if cmd["text"]:
            self.send_tokens(tokens_of(cmd["text"], self.sc["tok"]))
            self.flush_carry()
        if cmd["end"]:
            out["ended_at"] = time.monotonic()
            self.finish_ok()
        return out

    def held_control(self, path, q):
        """POST /_mock/send and /_mock/end: queues the command, answers once it ran."""
        try:
            rid = int(q.get("id", ""))
        except ValueError:
            return self.send_json(400, {"error": "id must be a request id"})
        timeout = float(q.get("timeout", "5"))
        target = HELD.wait(rid, timeout)
        if target is None:
            return self.send_json(404, {"error": "request %d is not held" % rid})
        cmd = {"text": q.get("text", ""), "end": path == "/_mock/end",
               "done": threading.Event(), "result": None}
        target.put(cmd)
        if not cmd["done"].wait(timeout + 5):
            return self.send_json(504, {"error": "the held response did not run the command"})
        if cmd["result"] is None:
            return self.send_json(409, {"error": "the peer closed request %d" % rid})
        return self.send_json(200, cmd["result"])

    def send_big(self, toks):
        """Many events per write, so a big answer goes out as fast as the peer reads."""
        batch = []
        size = 0
        for t in toks:
            b = self.sse_bytes(self.chunk_obj({"content": t}))
            batch.append(b)
            size += len(b)
            if size >= 16384:
                self.emit(b"".join(batch))
                batch, size = [], 0
        if batch:
            self.emit(b"".join(batch))

    def reset_connection(self):
        REG.update(self.rec, ended_at=time.monotonic())
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()
        self.connection.close()
        self.close_connection = True

    def send_status(self, status):
        auth = self.headers.get("Authorization") or ""
        key = auth[7:] if auth.startswith("Bearer ") else auth
        extra = []
        if status == 401:
            err = {"message": "Incorrect API key provided: %s. You can find your API key at "
                              "https://platform.openai.com/account/api-keys." % mask_key(key),
                   "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}
        elif status == 400:
            err = {"message": "Invalid header Authorization: Bearer %s" % key,
                   "type": "invalid_request_error", "param": None, "code": None}
        elif status == 429:
            err = {"message": "Rate limit reached for requests", "type": "requests",
                   "param": None, "code": "rate_limit_exceeded"}
            extra.append(("Retry-After", "7"))
        elif status == 503:
            err = {"message": "The engine is currently overloaded, please try again later",
                   "type": "server_error", "param": None, "code": None}
            extra.append(("Retry-After", "3"))
        else:
            err = {"message": "The server had an error while processing your request.",
                   "type": "server_error", "param": None, "code": None}
        self.send_json(status, {"error": err}, extra)
        REG.update(self.rec, completed=True, ended_at=time.monotonic())

    # ---- HTTP methods ---------------------------------------------------------------

    def do_POST(self):
        path = urlsplit(self.path).path
        if path == "/_mock/reset":
            self.read_body()
            REG.reset()
            return self.send_json(200, {"ok": True})
        if path in ("/_mock/send", "/_mock/end"):
            self.read_body()
            return self.held_control(path, {k: v[-1] for k, v in
                                            parse_qs(urlsplit(self.path).query).items()})
        raw = self.read_body()
        rec = {
            "conn_id": self.conn_id, "method": "POST", "path": self.path,
            "headers": [[k, v] for k, v in self.headers.items()],
            "body": raw.decode("utf-8", "replace"), "body_json": None, "model": None,
            "t_start": time.monotonic(), "phase": "request", "sent_bytes": 0,
            "completed": False, "closed_by_peer": False, "closed_at": None,
        }
        try:
            # An integer longer than Python's int conversion allows (4,300 digits) is kept
            # as its text: it is valid JSON, and chatd passes the client's numbers on as sent.
            body = json.loads(raw, parse_int=lambda t: int(t) if len(t) < 4300 else t)
        except ValueError:
            body = None
        rec["body_json"] = body
        self.rec = rec
        REG.add(rec)
        if path != "/v1/chat/completions":
            return self.send_json(404, {"error": {"message": "Unknown path " + path,
                                                  "type": "invalid_request_error"}})
        if not isinstance(body, dict):
            return self.send_json(400, {"error": {"message": "Invalid JSON body",
                                                  "type": "invalid_request_error"}})
        self.model = body.get("model") if isinstance(body.get("model"), str) else ""
        rec["model"] = self.model
        self.sc = parse_scenario(self.model)
        auth = self.headers.get("Authorization") or ""
        m = re.match(r"Bearer status-(\d{3})-", auth)
        try:
            if m:  # a key named "status-NNN-..." is answered with that status, any model
                return self.send_status(int(m.group(1)))
            self.run_scenario(body)
        except (PeerClosed, BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.mark_closed()

    def do_GET(self):
        u = urlsplit(self.path)
        q = {k: v[-1] for k, v in parse_qs(u.query).items()}
        if self.serve_registry(u.path, q):
            return
        if u.path == "/_mock/health":
            return self.send_json(200, {"ok": True})
        if u.path == "/v1/models":
            return self.send_json(200, {"object": "list", "data": [
                {"id": "echo", "object": "model", "created": 1700000000, "owned_by": "mock"}]})
        self.send_json(404, {"error": {"message": "Unknown path " + u.path,
                                       "type": "invalid_request_error"}})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        if os.environ.get("MOCK_VERBOSE"):
            super().handle_error(request, client_address)


def exit_with_stdin():
    """Ends the process once standard input reaches its end: a parent that keeps a pipe
    open and may die without a word (killed by a signal) takes its mock with it."""
    while sys.stdin.buffer.read(65536):
        pass
    os._exit(0)


def serve(handler):
    """Listens on the port in argv[1] (0: any), prints it, serves until interrupted (or,
    with MOCK_EXIT_ON_STDIN_EOF set, until standard input ends)."""
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    if os.environ.get("MOCK_EXIT_ON_STDIN_EOF"):
        threading.Thread(target=exit_with_stdin, daemon=True).start()
    srv = Server(("127.0.0.1", port), handler)
    sys.stdout.write("PORT %d\n" % srv.server_address[1])
    sys.stdout.flush()
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    serve(Handler)
