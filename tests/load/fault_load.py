#!/usr/bin/env python3
"""chatd fault-and-load test: thousands of concurrent streams against the real binary.

Starts tests/load/mock_fault.py (an OpenAI-compatible streaming upstream that injects a
fault per request, chosen by the model name) and build/chatd in front of it, all on
127.0.0.1, then opens --streams concurrent POST /api/chat streams of these kinds:

  normal       read to the end: byte-exact, one grapheme cluster per delta, ids 0,1,2,...
               with no gap, exactly one terminal event (done / stop, the upstream's usage)
  abandon      read a few characters, then vanish for good (half with a TCP RST, half
               with a plain close): chatd must close the upstream connection within
               resume grace + 1 s (the mock records when, per request marker)
  resume       read a few characters, drop the connection, come back within a fraction
               of the grace period with GET /api/streams/{id} and Last-Event-ID; half of
               them drop the resumed connection too and come back once more: the text of
               all connections together byte-exact, every event id seen exactly once
  fail500      the upstream answers HTTP 500 before any stream byte: 502 JSON upstream_error
  stall-first  the upstream sends nothing: 504 JSON upstream_timeout after the first-byte
               timeout, and chatd closes the upstream connection
  stall-mid    the upstream sends a prefix, then nothing: the prefix byte-exact, then one
               error event upstream_timeout; the upstream connection closed
  reset-mid    the upstream sends a prefix, then a TCP RST: the prefix byte-exact, then one
               error event upstream_error

Before the load, a burst of --warmup streams checks a freshly started chatd; the baseline
(fds, RSS, /metrics) is taken after it. Afterwards the test checks that chatd did not
crash (answers /healthz, exits 0 on SIGTERM), that every worker listens on the announced
port and connections did not queue up unaccepted, that its open fds and RSS came back to
the baseline, that finished streams expired, and that /metrics agrees with what was
done. It prints the figures and ends with "load: N passed, M failed" (one per check
group). Exit status 0 when all passed.

chatd runs with CHATD_LISTEN=127.0.0.1:0 (or a free port picked here: --fixed-port),
CHATD_PROVIDER=openai, CHATD_PACE=off, CHATD_RESUME_GRACE_MS=1000, CHATD_WORKERS=2,
first-byte and idle timeouts of 1500 ms and CHATD_STREAM_RETENTION_MS=1000; its soft
RLIMIT_NOFILE is raised to the hard limit, and so is this process's.

Everything is bounded: --time-limit for the whole run, a deadline per stream and per
settle poll; waiting is done on events or by polling with a deadline. Standard library
only (Python 3.11).
"""

import argparse
import asyncio
import json
import os
import random
import re
import resource
import signal
import socket
import struct
import sys
import tempfile
import time
import uuid

# chatd's cap on idle upstream connections kept per worker (LIM_UP_IDLE_CONNS in lim.h).
UPSTREAM_IDLE_POOL = 64

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True   # leave no __pycache__ beside the test
import mock_fault  # noqa: E402  (the deterministic answer plan is shared)

DEFAULT_MIX = ("normal=40,abandon=15,resume=15,fail500=7.5,stall-first=7.5,"
               "stall-mid=7.5,reset-mid=7.5")
HOST = "127.0.0.1"


def now():
    return time.monotonic()


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def pct(values, p):
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def ms(x):
    return "-" if x is None else f"{x * 1000:.0f} ms"


# ---------------------------------------------------------------- wire helpers

class Chunked:
    """Incremental HTTP/1.1 chunked-body decoder."""

    def __init__(self):
        self.buf = b""
        self.need = None   # bytes of the current chunk; -1: in the trailer
        self.done = False

    def feed(self, data):
        self.buf += data
        out = []
        while not self.done:
            if self.need is None:
                j = self.buf.find(b"\r\n")
                if j < 0:
                    break
                size = int(self.buf[:j].split(b";")[0].strip(), 16)
                self.buf = self.buf[j + 2:]
                self.need = size if size else -1
            elif self.need == -1:
                j = self.buf.find(b"\r\n")
                if j < 0:
                    break
                self.buf = self.buf[j + 2:]
                if j == 0:
                    self.done = True
            else:
                if len(self.buf) < self.need + 2:
                    break
                if self.buf[self.need:self.need + 2] != b"\r\n":
                    raise ValueError("chunk not followed by CRLF")
                out.append(self.buf[:self.need])
                self.buf = self.buf[self.need + 2:]
                self.need = None
        return b"".join(out)


class Identity:
    def __init__(self):
        self.done = False

    def feed(self, data):
        return data


class SSE:
    """Incremental event-stream parser (chatd ends lines with LF). Events are kept raw,
    as (id, event, data bytes), and checked after the load: the client must stay fast
    while thousands of streams arrive."""

    def __init__(self):
        self.buf = b""
        self.retry = None
        self.pings = 0
        self.odd = []       # malformed or unexpected blocks

    def feed(self, data):
        self.buf += data
        if b"\n\n" not in self.buf:
            return ()
        blocks = self.buf.split(b"\n\n")
        self.buf = blocks.pop()
        out = []
        for block in blocks:
            lines = block.split(b"\n")
            if len(lines) == 3 and lines[0][:4] == b"id: " and lines[1][:7] == b"event: " \
                    and lines[2][:6] == b"data: ":
                out.append((int(lines[0][4:]), lines[1][7:], lines[2][6:]))
                continue
            ev = [None, None, None]
            for line in lines:
                if line[:1] == b":":
                    self.pings += 1
                    continue
                name, _, val = line.partition(b":")
                if val[:1] == b" ":
                    val = val[1:]
                if name == b"retry":
                    self.retry = int(val)
                elif name == b"id":
                    ev[0] = int(val)
                elif name == b"event":
                    ev[1] = val
                elif name == b"data":
                    ev[2] = val if ev[2] is None else ev[2] + b"\n" + val
                else:
                    self.odd.append(block[:80])
            if ev != [None, None, None]:
                out.append(tuple(ev))
        return out


async def read_head(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for ln in lines[1:]:
        if ln:
            k, _, v = ln.partition(":")
            headers[k.strip().lower()] = v.strip()
    return status, headers


async def http(port, method, path, body=None, headers=None, timeout=10.0):
    """One request on its own connection (Connection: close): status, headers, body."""
    async def go():
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            h = {"Host": f"{HOST}:{port}", "Connection": "close"}
            h.update(headers or {})
            data = b"" if body is None else body
            if body is not None:
                h["Content-Length"] = str(len(data))
            req = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items())
            writer.write(req.encode() + b"\r\n" + data)
            status, hd = await read_head(reader)
            if hd.get("transfer-encoding", "").lower() == "chunked":
                dec, out = Chunked(), []
                while not dec.done:
                    d = await reader.read(65536)
                    if not d:
                        break
                    out.append(dec.feed(d))
                payload = b"".join(out)
            elif "content-length" in hd:
                payload = await reader.readexactly(int(hd["content-length"]))
            elif status in (204, 304):
                payload = b""
            else:
                payload = await reader.read()
            return status, hd, payload
        finally:
            writer.close()
    return await asyncio.wait_for(go(), timeout)


def hist_quantile(m0, m1, name, q):
    """A quantile (upper bucket bound) of a Prometheus histogram's increase m0 -> m1."""
    buckets = []
    for k, v in m1.items():
        if k.startswith(name + '_bucket{le="'):
            le = k[len(name) + 12:-2]
            buckets.append((float("inf") if le == "+Inf" else float(le), v - m0.get(k, 0)))
    buckets.sort()
    total = buckets[-1][1] if buckets else 0
    for le, c in buckets:
        if total and c >= q * total:
            return le
    return None


def parse_metrics(text):
    m = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, val = line.rpartition(" ")
        try:
            m[name] = float(val)
        except ValueError:
            pass
    return m


async def metrics(port):
    st, _, body = await http(port, "GET", "/metrics", timeout=10)
    if st != 200:
        raise RuntimeError(f"/metrics answered {st}")
    return parse_metrics(body.decode())


def proc_fds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def proc_rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def proc_cpu_s(pid):
    """User + system CPU seconds of a live process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            p = f.read().rsplit(")", 1)[1].split()
        return (int(p[11]) + int(p[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def listen_queue(pid, port):
    """The longest accept queue among chatd's listening sockets (one per worker)."""
    try:
        with open(f"/proc/{pid}/net/tcp", "rb") as f:
            data = f.read()
    except OSError:
        return 0
    key = b":%04X 00000000:0000 0A " % port
    worst, i = 0, data.find(key)
    for _ in range(1024):
        if i < 0:
            break
        j = i + len(key)
        worst = max(worst, int(data[j + 9:j + 17], 16))
        i = data.find(key, j)
    return worst


def tcp_ext():
    """Listen queue overflows and drops, SYN retransmits (this network namespace)."""
    want = ("ListenOverflows", "ListenDrops", "TCPSynRetrans")
    try:
        with open("/proc/net/netstat") as f:
            lines = f.read().splitlines()
        for a, b in zip(lines[::2], lines[1::2]):
            if a.startswith("TcpExt:"):
                d = dict(zip(a.split()[1:], b.split()[1:]))
                return {k: int(d.get(k, 0)) for k in want}
    except (OSError, ValueError):
        pass
    return {k: 0 for k in want}


TCP_STATES = {"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1",
              "05": "FIN_WAIT2", "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT",
              "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING"}


def fd_breakdown(pid, chatd_port, mock_port):
    """chatd's fds grouped: client sockets, upstream sockets by TCP state, other."""
    inode_info = {}
    for fn in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{fn}") as f:
                next(f)
                for line in f:
                    p = line.split()
                    lport = int(p[1].rsplit(":", 1)[1], 16)
                    rport = int(p[2].rsplit(":", 1)[1], 16)
                    inode_info[p[9]] = (lport, rport, TCP_STATES.get(p[3], p[3]))
        except OSError:
            pass
    out = {}
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return out
    for n in names:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{n}")
        except OSError:
            continue
        if target.startswith("socket:["):
            info = inode_info.get(target[8:-1])
            if info is None:
                key = "socket (other)"
            elif info[1] == mock_port:
                key = f"upstream {info[2]}"
            elif info[0] == chatd_port and info[2] == "LISTEN":
                key = "listening"
            elif info[0] == chatd_port:
                key = f"client {info[2]}"
            else:
                key = f"tcp {info[2]}"
        elif target.startswith("anon_inode:"):
            key = target
        else:
            key = "file/pipe"
        out[key] = out.get(key, 0) + 1
    return out


# ---------------------------------------------------------------- one stream

class Response:
    """One HTTP response as received: head, raw events, how it ended."""

    def __init__(self, status, headers):
        self.status = status
        self.headers = headers
        self.events = []
        self.ended = False       # the chunked body's last chunk arrived
        self.retry = None
        self.odd = []
        self.body = b""          # a non-stream body


class Result:
    def __init__(self, idx, kind, marker):
        self.idx = idx
        self.kind = kind
        self.marker = marker
        self.plan = None          # what the mock sends (computed before the load)
        self.errors = []          # from the run itself (timeouts, resets) and the checks
        self.t_req = None         # when the request was sent (monotonic)
        self.ttfc = None          # seconds to the first delta
        self.chars = 0            # deltas received (all connections)
        self.k = None             # abandon / resume: deltas read before leaving
        self.t_abort = None       # when the client left (abandon, resume)
        self.t_back = None        # resume: when the GET went out
        self.abort_mode = None
        self.elapsed = None       # seconds from request to the end of the answer
        self.stream_id = None
        self.first = None         # Response of the POST
        self.legs = []            # resume: the POST's Response, then each resume GET's
        self.ks = []              # resume: deltas read on each connection before dropping it
        self.drops = []           # resume: (left, came back, answered) times of each drop

    def err(self, msg):
        self.errors.append(msg)


def request_bytes(port, model, marker, idx):
    body = json.dumps({"model": model, "messages": [
        {"role": "system", "content": "You are a load test."},
        {"role": "user", "content": f"stream {idx} marker={marker}"}]}).encode()
    return (f"POST /api/chat HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
            f"Content-Type: application/json\r\nAccept: text/event-stream\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def read_events(reader, resp, want_deltas=None, on_first=None):
    """Reads events into resp until the body ends, or until want_deltas delta events
    were taken (events after that one in the same read are dropped: never seen)."""
    dec = Chunked() if resp.headers.get("transfer-encoding", "").lower() == "chunked" \
        else Identity()
    sse = SSE()
    deltas = 0
    try:
        while not dec.done:
            data = await reader.read(65536)
            if not data:
                return
            evs = sse.feed(dec.feed(data))
            if not evs:
                continue
            if want_deltas is None:
                if on_first is not None and deltas == 0:
                    for e in evs:
                        if e[1] == b"delta":
                            on_first()
                            deltas = 1
                            break
                resp.events.extend(evs)
                continue
            for e in evs:
                resp.events.append(e)
                if e[1] == b"delta":
                    deltas += 1
                    if deltas == 1 and on_first is not None:
                        on_first()
                    if deltas >= want_deltas:
                        return
    finally:
        resp.ended = dec.done
        resp.retry = sse.retry
        resp.odd = sse.odd


def leave(writer, rst):
    if rst:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
    else:
        writer.close()


async def run_stream(cfg, port, res, start_at):
    """The client side of one stream; checks come later (verify)."""
    delay = start_at - now()
    if delay > 0:
        await asyncio.sleep(delay)        # the ramp schedule, not a synchronisation
    rng = random.Random(res.marker)
    t0 = res.t_req = now()
    reader, writer = await asyncio.open_connection(HOST, port)
    left = False
    writers = []
    try:
        writer.write(request_bytes(port, "load-" + res.kind, res.marker, res.idx))
        status, headers = await read_head(reader)
        resp = res.first = Response(status, headers)
        res.stream_id = headers.get("x-chatd-stream-id")
        if status != 200:
            n = int(headers.get("content-length", "0"))
            resp.body = await reader.readexactly(n) if n else await reader.read()
            res.elapsed = now() - t0
            return

        def first():
            res.ttfc = now() - t0

        if res.kind == "abandon":
            res.k = rng.randint(3, 25)
            await read_events(reader, resp, res.k, first)
            res.abort_mode = "rst" if res.idx % 2 else "close"
            res.t_abort = now()
            leave(writer, res.abort_mode == "rst")
            left = True
            return

        if res.kind == "resume":
            # Drop and come back once, or twice (the second time from the resumed connection,
            # which may be served by another worker than the one that owns the stream).
            drops = 2 if rng.random() < cfg.resume_twice else 1
            res.ks = [rng.randint(3, 60)] + [rng.randint(3, 40) for _ in range(drops - 1)]
            res.legs = [resp]
            cur_reader, cur_writer, cur = reader, writer, resp
            for i, k in enumerate(res.ks):
                await read_events(cur_reader, cur, k, first if i == 0 else None)
                if cur.ended or not cur.events:
                    return
                t_abort = now()
                leave(cur_writer, rng.random() < 0.5)
                left = True
                await asyncio.sleep(rng.uniform(0, cfg.resume_delay_ms / 1000.0))  # away a while
                r2, w2 = await asyncio.open_connection(HOST, port)
                writers.append(w2)
                t_back = now()
                w2.write((f"GET /api/streams/{res.stream_id} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
                          f"Accept: text/event-stream\r\nLast-Event-ID: {cur.events[-1][0]}"
                          f"\r\n\r\n").encode())
                st2, h2 = await read_head(r2)
                res.drops.append((t_abort, t_back, now()))
                nxt = Response(st2, h2)
                res.legs.append(nxt)
                if st2 != 200:
                    n = int(h2.get("content-length", "0"))
                    nxt.body = await r2.readexactly(n) if n else b""
                    return
                cur_reader, cur_writer, cur = r2, w2, nxt
            res.t_abort, res.t_back = res.drops[0][:2]
            await read_events(cur_reader, cur)
            res.elapsed = now() - t0
            return

        await read_events(reader, resp, None, first)
        res.elapsed = now() - t0
    finally:
        if not left:
            writer.close()
        for w in writers:
            w.close()


# ---------------------------------------------------------------- checks per stream

def check_sse_head(res, resp, what):
    if resp.status != 200:
        res.err(f"{what}: HTTP {resp.status} {resp.body[:160]!r}, expected 200")
        return False
    if resp.headers.get("content-type") != "text/event-stream; charset=utf-8":
        res.err(f"{what}: Content-Type {resp.headers.get('content-type')!r}")
    if not resp.headers.get("x-chatd-stream-id"):
        res.err(f"{what}: no X-Chatd-Stream-Id")
    if resp.retry != 3000:
        res.err(f"{what}: retry field {resp.retry}, expected 3000")
    if resp.odd:
        res.err(f"{what}: unexpected fields {resp.odd[:2]}")
    return True


def decode_data(res, events, what):
    """The JSON of every event's data, in one pass; None when one is not JSON."""
    try:
        return json.loads(b"[" + b",".join(e[2] or b"null" for e in events) + b"]")
    except ValueError as e:
        res.err(f"{what}: an event's data is not JSON: {e}")
        return None


def check_events(res, events, datas, expect_clusters, terminal, ended, what):
    """ids consecutive from 0, a start event first, deltas == expect_clusters (one
    cluster each), exactly one terminal event, last, of the expected shape, and the body
    ended after it. Returns the number of deltas."""
    ids = [e[0] for e in events]
    if ids != list(range(len(events))):
        want = list(range(len(events)))
        bad = next((i for i, (a, b) in enumerate(zip(ids, want)) if a != b), len(ids))
        dup = len(ids) - len(set(ids))
        res.err(f"{what}: ids not 0, 1, 2, ... (at event {bad}: {ids[max(0, bad - 2):bad + 2]}; "
                f"{dup} seen twice)")
    names = [e[1] for e in events]
    if not names or names[0] != b"start" or datas[0].get("stream_id") != res.stream_id:
        res.err(f"{what}: the first event is not start with the stream id: "
                f"{events[:1]}")
    terms = [i for i, n in enumerate(names) if n in (b"done", b"error")]
    if len(terms) != 1 or terms[0] != len(events) - 1:
        res.err(f"{what}: {len(terms)} terminal events (at {terms[:3]}) in {len(events)}")
    stop = len(events) - 1 if terms else len(events)
    others = {n for n in names[1:stop] if n != b"delta"}
    if others:
        res.err(f"{what}: unexpected events {sorted(others)}")
    got = [d["text"] for n, d in zip(names[1:stop], datas[1:stop]) if n == b"delta"]
    if got != expect_clusters:
        gs, xs = "".join(got).encode(), "".join(expect_clusters).encode()
        if gs != xs:
            k = next((i for i in range(min(len(gs), len(xs))) if gs[i] != xs[i]),
                     min(len(gs), len(xs)))
            res.err(f"{what}: text differs from the upstream's at byte {k} "
                    f"(got {len(gs)} bytes in {len(got)} deltas, expected {len(xs)} in "
                    f"{len(expect_clusters)}): {gs[max(0, k - 12):k + 12]!r} vs "
                    f"{xs[max(0, k - 12):k + 12]!r}")
        else:
            k = next((i for i, (a, b) in enumerate(zip(got, expect_clusters)) if a != b), 0)
            res.err(f"{what}: text byte-exact but cut into other clusters at delta {k}: "
                    f"{got[k:k + 3]!r} vs {expect_clusters[k:k + 3]!r}")
    if terms:
        n, d = names[-1], datas[-1]
        if terminal[0] == "done":
            if n != b"done" or d.get("finish_reason") != terminal[1]:
                res.err(f"{what}: ended with {n.decode()} {d}, expected done {terminal[1]}")
            elif len(terminal) > 2 and d.get("usage") != terminal[2]:
                res.err(f"{what}: usage {d.get('usage')} != {terminal[2]}")
        elif n != b"error" or d.get("error", {}).get("type") != terminal[1]:
            res.err(f"{what}: ended with {n.decode()} {d}, expected error {terminal[1]}")
        if not ended:
            res.err(f"{what}: the response did not end after the terminal event")
    return len(got)


def verify(cfg, res):
    """Checks one stream against what the mock sent (its plan)."""
    p, resp = res.plan, res.first
    if resp is None:
        if not res.errors:
            res.err("no response")
        return
    if res.kind in ("fail500", "stall-first"):
        want_status, want_type = (502, "upstream_error") if res.kind == "fail500" \
            else (504, "upstream_timeout")
        if resp.status != want_status:
            res.err(f"HTTP {resp.status} {resp.body[:160]!r}, expected {want_status}")
        if not resp.headers.get("content-type", "").startswith("application/json"):
            res.err(f"Content-Type {resp.headers.get('content-type')!r}")
        try:
            e = json.loads(resp.body)["error"]
            if e.get("type") != want_type:
                res.err(f"error type {e.get('type')!r}, expected {want_type}")
            if res.kind == "fail500" and "HTTP 500" not in e.get("message", ""):
                res.err(f"message {e.get('message')!r} does not name HTTP 500")
        except (ValueError, KeyError, TypeError, AttributeError):
            res.err(f"not a JSON error body: {resp.body[:120]!r}")
        lo = cfg.first_byte_timeout_ms / 1000.0
        if res.kind == "stall-first" and res.elapsed is not None and \
                not lo - 0.05 <= res.elapsed <= lo + 2.0:
            res.err(f"504 after {res.elapsed:.2f} s, the first-byte timeout is {lo:.1f} s")
        return
    if not check_sse_head(res, resp, "POST"):
        return
    datas = decode_data(res, resp.events, "POST")
    if datas is None:
        return
    clusters = p["clusters"]
    if res.kind == "abandon":
        got = [d["text"] for e, d in zip(resp.events, datas) if e[1] == b"delta"]
        res.chars = len(got)
        if len(got) < res.k or resp.ended:
            res.err(f"the stream ended after {len(got)} deltas, before the client left")
        elif got != clusters[:res.k]:
            res.err("the characters before leaving differ from the upstream's")
        return
    if res.kind == "resume":
        legs = res.legs
        late = [f"{c - a:.2f} s" for a, b, c in res.drops if c - a > cfg.grace_ms / 1000.0]
        note = (f" (chatd answered the resume {', '.join(late)} after the client left: "
                f"later than the grace)") if late else ""
        for i, leg in enumerate(legs[:len(res.ks)]):
            if leg.status == 200 and (
                    leg.ended or sum(1 for e in leg.events if e[1] == b"delta") < res.ks[i]):
                last = leg.events[-1] if leg.events else None
                res.err(f"the stream ended before the client dropped connection {i + 1} "
                        f"(last event {last[1].decode() if last else None} "
                        f"{(last[2] or b'')[:80].decode(errors='replace') if last else ''})"
                        + note)
                return
        if len(legs) < len(res.ks) + 1:
            res.err("no resume response" + note)
            return
        heads = [check_sse_head(res, leg, "POST" if i == 0 else f"resume {i}")
                 for i, leg in enumerate(legs)]
        if not all(heads):
            if note:
                res.err(note.strip())
            return
        for leg in legs[1:]:
            if leg.headers.get("x-chatd-stream-id") != res.stream_id:
                res.err(f"resume: X-Chatd-Stream-Id {leg.headers.get('x-chatd-stream-id')}")
        datas, events = [], []
        for i, leg in enumerate(legs):
            dd = decode_data(res, leg.events, f"connection {i + 1}")
            if dd is None:
                return
            if i and leg.events and events and leg.events[0][0] != events[-1][0] + 1:
                res.err(f"resume {i}: first id {leg.events[0][0]} after Last-Event-ID "
                        f"{events[-1][0]}")
            datas += dd
            events += leg.events
        before = len(res.errors)
        res.chars = check_events(res, events, datas, clusters, ("done", "stop", p["usage"]),
                                 legs[-1].ended, f"resume ({len(legs)} connections)")
        if len(res.errors) > before and note:
            res.err(note.strip())
        return
    term = {"normal": ("done", "stop", p["usage"]), "stall-mid": ("error", "upstream_timeout"),
            "reset-mid": ("error", "upstream_error")}[res.kind]
    res.chars = check_events(res, resp.events, datas, clusters, term, resp.ended, res.kind)


async def guarded(cfg, port, res, start_at):
    try:
        await asyncio.wait_for(run_stream(cfg, port, res, start_at),
                               cfg.stream_timeout + max(0.0, start_at - now()))
    except asyncio.TimeoutError:
        res.err(f"no end within {cfg.stream_timeout:.0f} s")
    except (OSError, asyncio.IncompleteReadError, ValueError, KeyError) as e:
        res.err(f"{type(e).__name__}: {e}")


# ---------------------------------------------------------------- processes

async def start_mock(cfg):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, os.path.join(HERE, "mock_fault.py"), "--idle-close-ms",
        str(cfg.mock_idle_close_ms), stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, preexec_fn=raise_nofile)
    line = await asyncio.wait_for(proc.stdout.readline(), 10)
    if not line.startswith(b"PORT "):
        raise RuntimeError(f"mock did not start: {line!r}")
    return proc, int(line.split()[1])


async def malloc_trim(pid):
    """Diagnostic only: makes chatd's allocator give free memory back (gdb calls
    malloc_trim(0) in it), then returns its RSS in kB; None when that is not possible."""
    try:
        p = await asyncio.create_subprocess_exec(
            "gdb", "-p", str(pid), "-batch", "-ex", "call (int)malloc_trim(0)",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            stdin=asyncio.subprocess.DEVNULL)
    except OSError:
        return None
    try:
        await asyncio.wait_for(p.wait(), 30)   # gdb's exit status reflects its warnings too
    except asyncio.TimeoutError:
        p.kill()
        await p.wait()
        return None
    return proc_rss_kb(pid)


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def listening_ports(pid):
    """The ports of the listening TCP sockets process pid holds."""
    inodes = set()
    try:
        for n in os.listdir(f"/proc/{pid}/fd"):
            try:
                t = os.readlink(f"/proc/{pid}/fd/{n}")
            except OSError:
                continue
            if t.startswith("socket:["):
                inodes.add(t[8:-1])
        out = []
        for fn in ("tcp", "tcp6"):
            with open(f"/proc/{pid}/net/{fn}") as f:
                next(f)
                for line in f:
                    p = line.split()
                    if p[3] == "0A" and p[9] in inodes:
                        out.append(int(p[1].rsplit(":", 1)[1], 16))
        return sorted(out)
    except OSError:
        return []


async def start_redis():
    """A redis-server of this run's own on a free loopback port, without persistence."""
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        "redis-server", "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no",
        "--maxclients", "1000", stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL, stdin=asyncio.subprocess.DEVNULL)
    deadline = now() + 10
    while now() < deadline:
        try:
            r, w = await asyncio.open_connection(HOST, port)
            w.write(b"PING\r\n")
            line = await asyncio.wait_for(r.readline(), 2)
            w.close()
            if line.startswith(b"+PONG"):
                return proc, f"redis://{HOST}:{port}"
        except (OSError, asyncio.TimeoutError):
            await asyncio.sleep(0.05)  # polling for the server to listen, bounded
    proc.kill()
    await proc.wait()
    raise RuntimeError("redis-server did not start")


async def start_chatd(cfg, mock_port, workdir):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CHATD_") and k not in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")}
    env.update({
        "CHATD_PROVIDER": "openai",
        "CHATD_UPSTREAM_URL": f"http://{HOST}:{mock_port}/v1",
        "CHATD_UPSTREAM_API_KEY": "load-test-key",
        "CHATD_PACE": cfg.pace,
        "CHATD_RESUME_GRACE_MS": str(cfg.grace_ms),
        "CHATD_WORKERS": str(cfg.workers),
        "CHATD_UPSTREAM_FIRST_BYTE_TIMEOUT_MS": str(cfg.first_byte_timeout_ms),
        "CHATD_UPSTREAM_IDLE_TIMEOUT_MS": str(cfg.idle_timeout_ms),
        "CHATD_STREAM_RETENTION_MS": str(cfg.retention_ms),
        "CHATD_MAX_STREAMS": str(max(10000, 2 * cfg.streams)),
        "CHATD_MAX_STREAMS_PER_CLIENT": str(max(64, 2 * cfg.streams)),
        "CHATD_LOG_LEVEL": cfg.log_level,
    })
    if cfg.redis_url:
        env["CHATD_REDIS_URL"] = cfg.redis_url
    head = []
    for attempt in range(3):       # a fixed port may be taken meanwhile: try another
        env["CHATD_LISTEN"] = f"{HOST}:{free_port() if cfg.fixed_port else 0}"
        proc = await asyncio.create_subprocess_exec(
            cfg.chatd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL, env=env, cwd=workdir, preexec_fn=raise_nofile)
        head = []
        deadline = now() + 15
        while now() < deadline:
            line = await asyncio.wait_for(proc.stdout.readline(), max(0.1, deadline - now()))
            if not line:
                break
            s = line.decode(errors="replace").rstrip()
            head.append(s)
            m = re.search(r"listening on http://[^\s]*:(\d+)", s)
            if m:
                return proc, int(m.group(1)), head
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
    raise RuntimeError("chatd did not start:\n" + "\n".join(head[-20:]))


class LogDrain:
    """Keeps reading chatd's output (one JSON line per request) so it never blocks."""

    def __init__(self, stream, path=None):
        self.file = open(path, "w") if path else None
        self.lines = 0
        self.outcomes = {}
        self.notable = []
        self.task = asyncio.get_running_loop().create_task(self.run(stream))

    async def run(self, stream):
        while True:
            line = await stream.readline()
            if not line:
                if self.file:
                    self.file.close()
                return
            self.lines += 1
            s = line.decode(errors="replace").rstrip()
            if self.file:
                self.file.write(s + "\n")
            try:
                o = json.loads(s)
                if isinstance(o, dict) and "outcome" in o:
                    self.outcomes[o["outcome"]] = self.outcomes.get(o["outcome"], 0) + 1
                    continue
                lvl = o.get("level", "") if isinstance(o, dict) else ""
                if lvl in ("error", "warn", "warning"):
                    self.notable.append(s)
            except ValueError:
                if any(w in s.lower() for w in ("error", "sanitizer", "abort", "assert", "fatal")):
                    self.notable.append(s)


class LagWatch:
    """How late this process's event loop runs a 50 ms timer: the client's own slowness,
    which every latency figure measured here includes."""

    def __init__(self):
        self.max = 0.0
        self.round_max = 0.0
        self.at = None
        self.task = asyncio.get_running_loop().create_task(self.run())

    async def run(self):
        for _ in range(10 ** 6):
            t = now()
            await asyncio.sleep(0.05)
            late = now() - t - 0.05
            if late > self.max:
                self.max, self.at = late, now()
            self.round_max = max(self.round_max, late)

    def take(self):
        v, self.round_max = self.round_max, 0.0
        return v


class Sampler:
    """Peaks of chatd's fds, RSS and active streams while the load runs."""

    def __init__(self, pid, port):
        self.pid, self.port = pid, port
        self.fds = self.rss = self.active = self.backlog = 0
        self.stop = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(self.run())

    async def run(self):
        n = 0
        while not self.stop.is_set() and n < 100000:
            n += 1
            f, r = proc_fds(self.pid), proc_rss_kb(self.pid)
            self.fds = max(self.fds, f or 0)
            self.rss = max(self.rss, r or 0)
            if n % 5 == 0:
                self.backlog = max(self.backlog, listen_queue(self.pid, self.port))
            if n % 3 == 0:
                try:
                    m = await metrics(self.port)
                    self.active = max(self.active, int(m.get("chatd_streams_active", 0)))
                except (OSError, asyncio.TimeoutError, RuntimeError, ValueError):
                    pass
            try:
                await asyncio.wait_for(self.stop.wait(), 0.2)
            except asyncio.TimeoutError:
                pass


async def poll(fn, pred, deadline, every=0.1):
    """Calls fn until pred(value) or the deadline; returns (ok, last value)."""
    v = None
    for _ in range(100000):
        try:
            v = await fn()
        except (OSError, asyncio.TimeoutError, RuntimeError, ValueError) as e:
            v = e
        if not isinstance(v, Exception) and pred(v):
            return True, v
        if now() >= deadline:
            return False, v
        await asyncio.sleep(every)
    return False, v


# ---------------------------------------------------------------- orchestration

def assign_kinds(n, mix, seed):
    parts = []
    for item in mix.split(","):
        k, _, w = item.partition("=")
        k = k.strip()
        if k not in mock_fault.KINDS:
            raise SystemExit(f"fault_load: unknown kind {k!r} in --mix")
        parts.append((k, float(w)))
    total = sum(w for _, w in parts)
    counts = [int(n * w / total) for _, w in parts]
    i = 0
    while sum(counts) < n:
        counts[i % len(counts)] += 1
        i += 1
    kinds = [k for (k, _), c in zip(parts, counts) for _ in range(c)]
    random.Random(seed).shuffle(kinds)
    return kinds


class Checks:
    def __init__(self):
        self.items = []

    def add(self, name, ok, detail=""):
        self.items.append((name, bool(ok), detail))

    def report(self):
        for name, ok, detail in self.items:
            print(f"{'PASS' if ok else 'FAIL'} {name}" + (f": {detail}" if detail else ""))
        p = sum(1 for _, ok, _ in self.items if ok)
        return p, len(self.items) - p


def summarise_errors(results, limit=5):
    out = []
    for r in results:
        for e in r.errors:
            out.append(f"#{r.idx} {r.kind} {r.marker[:8]}: {e}")
    more = f" (+{len(out) - limit} more)" if len(out) > limit else ""
    return "; ".join(out[:limit]) + more


async def run(cfg):
    t_start = now()
    hard_deadline = t_start + cfg.time_limit
    raise_nofile()
    checks = Checks()
    load1 = os.getloadavg()
    workdir = tempfile.mkdtemp(prefix="chatd-load-")
    mock, mock_port = await start_mock(cfg)
    mock_err = []

    async def drain_mock():
        while True:
            line = await mock.stderr.readline()
            if not line:
                return
            mock_err.append(line.decode(errors="replace").rstrip())

    mock_drain = asyncio.get_running_loop().create_task(drain_mock())
    chatd = None
    redis = None
    cfg.redis_url = ""
    rounds = []        # per round: results and figures
    try:
        if cfg.redis:
            redis, cfg.redis_url = await start_redis()
        chatd, port, _ = await start_chatd(cfg, mock_port, workdir)
        pid = chatd.pid
        log = LogDrain(chatd.stdout, cfg.chatd_log)
        ok, v = await poll(lambda: http(port, "GET", "/readyz", timeout=5),
                           lambda r: r[0] == 200, now() + 15)
        if not ok:
            raise RuntimeError(f"chatd not ready: {v}")
        ports = listening_ports(pid)

        # Warm-up: a few streams so one-time allocations are part of the baseline.
        warm = [Result(-i - 1, "normal", uuid.uuid4().hex) for i in range(cfg.warmup)]
        for r in warm:
            r.plan = mock_fault.plan(r.marker, r.kind)
        await asyncio.gather(*(guarded(cfg, port, r, now()) for r in warm))
        for r in warm:
            verify(cfg, r)
        warm_bad = [r for r in warm if r.errors]
        await poll(lambda: metrics(port), lambda m: m.get("chatd_streams_retained", 1) == 0
                   and m.get("chatd_streams_active", 1) == 0, now() + 15)
        base_fds, base_rss = proc_fds(pid), proc_rss_kb(pid)
        base_kinds = fd_breakdown(pid, port, mock_port)
        m0 = await metrics(port)
        net0 = tcp_ext()
        sampler = Sampler(pid, port)
        lagw = LagWatch()

        for rnd in range(cfg.rounds):
            kinds = assign_kinds(cfg.streams, cfg.mix, cfg.seed + rnd)
            results = [Result(i + rnd * cfg.streams, k, uuid.uuid4().hex)
                       for i, k in enumerate(kinds)]
            for r in results:
                r.plan = mock_fault.plan(r.marker, r.kind)
            t_load = now()
            ramp = cfg.ramp_ms / 1000.0
            tasks = [asyncio.get_running_loop().create_task(
                guarded(cfg, port, r, t_load + ramp * i / max(1, len(results))))
                for i, r in enumerate(results)]
            budget = (hard_deadline - now() - 30) / (cfg.rounds - rnd)
            _, pending = await asyncio.wait(tasks, timeout=max(1.0, budget - cfg.settle_s))
            for t in pending:
                t.cancel()
            for r, t in zip(results, tasks):
                if t in pending:
                    r.err("cancelled: the run's time limit came first")
            if pending:
                await asyncio.wait(pending, timeout=5)
            t_load_end = now()
            alive = chatd.returncode is None
            # The mock's view: every chat response ended (closed, completed, failed).
            try:
                await http(mock_port, "GET", "/_mock/wait-idle?timeout=%d"
                           % max(1, min(20, hard_deadline - now() - 20)), timeout=25)
            except (OSError, asyncio.TimeoutError):
                pass
            # Settle: finished streams expire (retention), fds come back.
            settle_deadline = min(hard_deadline - 12, now() + cfg.settle_s)
            ok_ret, m_ret = await poll(lambda: metrics(port),
                                       lambda m: m.get("chatd_streams_retained", 1) == 0
                                       and m.get("chatd_streams_active", 1) == 0,
                                       settle_deadline)
            ok_fds, fds_after = await poll(lambda: asyncio.sleep(0, proc_fds(pid)),
                                           lambda f: f is not None and f <= base_fds + cfg.fd_slack,
                                           settle_deadline)
            try:
                mock_lag = json.loads((await http(mock_port, "GET", "/_mock/lag"))[2])["max"]
            except (OSError, asyncio.TimeoutError, ValueError, KeyError):
                mock_lag = None
            rounds.append({"results": results, "t_load": t_load, "t_end": t_load_end,
                           "lag": (lagw.take(), mock_lag),
                           "alive": alive, "ok_ret": ok_ret, "m_ret": m_ret,
                           "fds": fds_after, "rss": proc_rss_kb(pid),
                           "fd_kinds": fd_breakdown(pid, port, mock_port)})

        sampler.stop.set()
        await sampler.task
        lagw.task.cancel()
        net1 = tcp_ext()
        _, _, body = await http(mock_port, "GET", "/_mock/records", timeout=30)
        mrec = json.loads(body)
        m1 = await metrics(port)
        cpu = {"chatd": proc_cpu_s(pid), "mock": proc_cpu_s(mock.pid)}
        rss_trimmed = await malloc_trim(pid) if cfg.trim_check else None
        try:
            hz = await http(port, "GET", "/healthz", timeout=10)
            health_ok = hz[0] == 200 and json.loads(hz[2]) == {"status": "ok"}
        except (OSError, asyncio.TimeoutError, ValueError) as e:
            health_ok, hz = False, (str(e),)

        # Stop chatd.
        chatd.send_signal(signal.SIGTERM)
        try:
            rc = await asyncio.wait_for(chatd.wait(), 15)
        except asyncio.TimeoutError:
            rc = None
            chatd.kill()
            await chatd.wait()
        await asyncio.wait([log.task], timeout=5)
    finally:
        if chatd is not None and chatd.returncode is None:
            chatd.kill()
            await chatd.wait()
        if redis is not None and redis.returncode is None:
            redis.kill()
            await redis.wait()
        if mock.stdin:
            mock.stdin.close()
        try:
            await asyncio.wait_for(mock.wait(), 10)
        except asyncio.TimeoutError:
            mock.kill()
            await mock.wait()
        await asyncio.wait([mock_drain], timeout=5)
        try:
            os.rmdir(workdir)
        except OSError:
            pass

    results = [r for rd in rounds for r in rd["results"]]
    records = {}
    for rec in mrec["records"]:
        records.setdefault(rec["marker"], []).append(rec)
    for r in results:
        verify(cfg, r)
    if cfg.dump:
        keep = ("idx", "kind", "marker", "errors", "t_req", "ttfc", "chars", "k", "t_abort",
                "t_back", "abort_mode", "elapsed", "stream_id")
        with open(cfg.dump, "w") as f:
            json.dump({"results": [{k: getattr(r, k) for k in keep} for r in results],
                       "mock": mrec, "t_load": rounds[0]["t_load"]}, f)

    # ------------------------------------------------------------ checks
    by = {}
    for r in results:
        by.setdefault(r.kind, []).append(r)

    def group(kind):
        return by.get(kind, [])

    last = rounds[-1]
    alive_all = all(rd["alive"] for rd in rounds)
    checks.add("chatd never crashed (alive after the load, /healthz ok, exit 0 on SIGTERM)",
               alive_all and health_ok and rc == 0,
               f"alive={alive_all} healthz={hz[0]} exit={rc}")
    checks.add(f"first burst: {cfg.warmup} concurrent streams right after start all complete",
               not warm_bad, summarise_errors(warm_bad) if warm_bad else
               f"{len(warm)}/{len(warm)} ok")
    checks.add("every worker listens on the announced port",
               ports and all(p == port for p in ports),
               f"announced {port}, listening on {ports}")
    checks.add(f"chatd accepts connections promptly (accept queue <= {cfg.max_accept_queue})",
               sampler.backlog <= cfg.max_accept_queue,
               f"longest accept queue {sampler.backlog}")

    def kind_check(kind, title, extra=None):
        rs = group(kind)
        bad = [r for r in rs if r.errors]
        detail = f"{len(rs) - len(bad)}/{len(rs)} ok"
        if extra:
            detail += "; " + extra
        if bad:
            detail += "; " + summarise_errors(bad)
        checks.add(title, not bad, detail)

    kind_check("normal", "completed streams byte-exact, one cluster per delta, ids consecutive, "
                         "one terminal done")
    kind_check("resume", "resumed streams (one or two drops) byte-exact, every id exactly once "
                         "across the connections",
               f"{sum(1 for r in group('resume') if len(r.ks) > 1)} dropped twice")

    # Abandoned: the upstream closed within grace + 1 s of the client leaving.
    lat, ab_bad = [], []
    limit = cfg.grace_ms / 1000.0 + 1.0
    for r in group("abandon"):
        recs = records.get(r.marker, [])
        if r.errors or r.t_abort is None:
            ab_bad.append(r)
            if r.t_abort is None and not r.errors:
                r.err("the client never got to leave")
            continue
        if len(recs) != 1:
            r.err(f"{len(recs)} upstream requests for this marker")
        elif recs[0]["t_peer_closed"] is None:
            r.err(f"upstream not closed by chatd (mock outcome {recs[0]['outcome']})")
        else:
            d = recs[0]["t_peer_closed"] - r.t_abort
            lat.append(d)
            if d < 0:
                r.err(f"upstream closed {-d:.3f} s before the client left (client "
                      f"{r.abort_mode}): chatd ended the stream on its own")
            elif d > limit:
                r.err(f"upstream closed {d:.3f} s after the client left (limit {limit:.1f} s, "
                      f"client {r.abort_mode})")
        if r.errors:
            ab_bad.append(r)
    n_ab = len(group("abandon"))
    checks.add(f"abandoned streams: upstream closed within grace + 1 s ({limit:.1f} s)",
               not ab_bad, f"{n_ab - len(ab_bad)}/{n_ab} ok"
               + (f"; {summarise_errors(ab_bad)}" if ab_bad else ""))

    # Faults: for the stalls, chatd also closed the upstream connection.
    def closed_after(kind, ref):
        out = []
        for r in group(kind):
            recs = records.get(r.marker, [])
            if len(recs) != 1 or recs[0]["t_peer_closed"] is None:
                r.err("upstream connection not closed by chatd (mock: "
                      f"{[x['outcome'] for x in recs]})")
            elif recs[0][ref] is not None:
                out.append(recs[0]["t_peer_closed"] - recs[0][ref])
        return out

    sf_close = closed_after("stall-first", "t_accept")
    sm_close = closed_after("stall-mid", "t_first_write")
    kind_check("fail500", "upstream HTTP 500 -> 502 JSON upstream_error")
    kind_check("stall-first", "upstream silent -> 504 JSON upstream_timeout, upstream closed",
               "504 after p50 " + ms(pct([r.elapsed for r in group("stall-first") if r.elapsed],
                                         50)))
    kind_check("stall-mid", "upstream stalls mid-answer -> prefix exact, error upstream_timeout, "
                            "upstream closed")
    kind_check("reset-mid", "upstream reset mid-answer -> prefix exact, error upstream_error")

    # Metrics.
    def d(name):
        return int(m1.get(name, 0) - m0.get(name, 0))

    n = {k: len(group(k)) for k in mock_fault.KINDS}
    n_gets = sum(len(r.ks) for r in group("resume"))
    total = len(results)
    exact_chars = sum(len(r.plan["clusters"]) for r in results
                      if r.kind in ("normal", "resume", "stall-mid", "reset-mid"))
    ab_read = sum(r.chars for r in group("abandon"))
    ab_full = sum(len(r.plan["clusters"]) for r in group("abandon"))
    want = {
        "chatd_streams_total": (total, total),
        "chatd_resumes_total": (n_gets, n_gets),
        'chatd_cancellations_total{reason="client_gone"}': (n["abandon"], n["abandon"]),
        'chatd_cancellations_total{reason="request"}': (0, 0),
        'chatd_upstream_errors_total{type="status"}': (n["fail500"], n["fail500"]),
        'chatd_upstream_errors_total{type="timeout"}':
            (n["stall-first"] + n["stall-mid"], n["stall-first"] + n["stall-mid"]),
        'chatd_upstream_errors_total{type="failed"}': (n["reset-mid"], n["reset-mid"]),
        'chatd_upstream_errors_total{type="connect"}': (0, 0),
        'chatd_upstream_errors_total{type="malformed"}': (0, 0),
        'chatd_upstream_errors_total{type="reported"}': (0, 0),
        'chatd_upstream_errors_total{type="early_end"}': (0, 0),
        "chatd_rate_limited_total": (0, 0),
        "chatd_first_character_seconds_count": (total - n["fail500"] - n["stall-first"],) * 2,
        "chatd_characters_emitted_total": (exact_chars + ab_read, exact_chars + ab_full),
    }
    mbad = []
    for name, (lo, hi) in want.items():
        v = d(name)
        if not lo <= v <= hi:
            mbad.append(f"{name} +{v}, expected " + (f"{lo}" if lo == hi else f"{lo}..{hi}"))
    for g in ("chatd_streams_active", "chatd_streams_retained"):
        if m1.get(g, -1) != 0:
            mbad.append(f"{g} = {m1.get(g)} after the settle period")
    checks.add("/metrics counters consistent with the load", not mbad, "; ".join(mbad))
    ok_ret = all(rd["ok_ret"] for rd in rounds)
    seen = last["m_ret"]
    if not isinstance(seen, Exception):
        seen = {k: seen.get(k) for k in ("chatd_streams_active", "chatd_streams_retained")}
    checks.add("finished streams expired (streams_retained 0, streams_active 0)", ok_ret,
               "" if ok_ret else f"last seen: {seen}")

    def upstream_fds(kinds):
        return sum(v for k, v in kinds.items() if k.startswith("upstream"))

    fds_after, kinds_after = last["fds"], last["fd_kinds"]
    other_base = base_fds - upstream_fds(base_kinds)
    other_after = (fds_after or 0) - upstream_fds(kinds_after)
    checks.add(f"client sockets and other fds back to the baseline (+{cfg.fd_slack})",
               other_after <= other_base + cfg.fd_slack,
               f"before {other_base}, after {other_after} (not counting upstream sockets)")
    # chatd keeps a bounded pool of idle keep-alive upstream connections for reuse (like
    # nginx's upstream keepalive): at most UPSTREAM_IDLE_POOL per worker, never more.
    pool = UPSTREAM_IDLE_POOL * cfg.workers
    checks.add(f"open fds back to the baseline (+{cfg.fd_slack}) plus at most the idle "
               f"upstream pool ({pool})",
               fds_after is not None and fds_after <= base_fds + cfg.fd_slack + pool,
               f"before {base_fds} {base_kinds}, after {fds_after} {kinds_after}")
    rss_after = last["rss"]
    rss_grow_mb = (rss_after - base_rss) / 1024.0 if rss_after and base_rss else None
    checks.add(f"RSS back near the baseline (+{cfg.rss_slack_mb:g} MB)",
               rss_grow_mb is not None and rss_grow_mb <= cfg.rss_slack_mb,
               f"grew {rss_grow_mb:.1f} MB" if rss_grow_mb is not None else "unreadable")

    # ------------------------------------------------------------ figures
    ttfc = [r.ttfc for r in results if r.ttfc is not None]
    total_chars = sum(r.chars for r in results)
    print(f"chatd fault-and-load: {cfg.streams} streams x {cfg.rounds} round(s), pace {cfg.pace}, "
          f"{cfg.workers} workers, grace {cfg.grace_ms} ms, ramp {cfg.ramp_ms} ms, "
          f"listen {'a fixed port' if cfg.fixed_port else 'port 0'}")
    print("streams by kind: " + ", ".join(
        f"{k} {len(group(k))} ({sum(1 for r in group(k) if not r.errors)} ok)"
        for k in mock_fault.KINDS))
    print(f"peak concurrent streams (chatd_streams_active): {sampler.active}")
    print(f"time to first character: p50 {ms(pct(ttfc, 50))}, p99 {ms(pct(ttfc, 99))}, "
          f"max {ms(max(ttfc) if ttfc else None)} ({len(ttfc)} streams)")
    q50 = hist_quantile(m0, m1, "chatd_first_character_seconds", 0.5)
    q99 = hist_quantile(m0, m1, "chatd_first_character_seconds", 0.99)
    print(f"chatd's own first-character histogram: p50 <= {q50:g} s, p99 <= {q99:g} s"
          if q50 is not None else "chatd's own first-character histogram: empty")
    od = sorted(c["first_data"] - c["opened"] for c in mrec["connections"].values()
                if c.get("first_data"))
    print(f"upstream connection opened -> request sent by chatd: p50 {ms(pct(od, 50))}, "
          f"p99 {ms(pct(od, 99))}, max {ms(od[-1] if od else None)} ({len(od)} connections)")
    print(f"characters received by clients: {total_chars}; "
          f"chatd_characters_emitted_total +{d('chatd_characters_emitted_total')}")
    print(f"abandoned upstream close after the client left: p50 {ms(pct(lat, 50))}, "
          f"p99 {ms(pct(lat, 99))}, max {ms(max(lat) if lat else None)} ({len(lat)} streams)")
    print(f"stall-first upstream closed after the request: p50 {ms(pct(sf_close, 50))}, "
          f"max {ms(max(sf_close) if sf_close else None)}; stall-mid closed after its first "
          f"write: p50 {ms(pct(sm_close, 50))}, max {ms(max(sm_close) if sm_close else None)}")
    el = [r.elapsed for r in group("normal") if r.elapsed]
    print(f"normal stream duration: p50 {ms(pct(el, 50))}, p99 {ms(pct(el, 99))}")
    print(f"fds: before {base_fds}, peak {sampler.fds}, after " +
          ", ".join(str(rd["fds"]) for rd in rounds) +
          f" (idle upstream connections after: {upstream_fds(kinds_after)})")
    print(f"RSS: before {base_rss / 1024:.1f} MB, peak {sampler.rss / 1024:.1f} MB, after " +
          ", ".join(f"{rd['rss'] / 1024:.1f}" for rd in rounds if rd["rss"]) + " MB")
    if cfg.trim_check:
        print("RSS after malloc_trim(0) in chatd: " + (f"{rss_trimmed / 1024:.1f} MB"
              if rss_trimmed else "unavailable (gdb missing or ptrace not allowed)"))
    print("metrics deltas: " + ", ".join(f"{k.replace('chatd_', '')} +{d(k)}" for k in want))
    print(f"chatd log lines {log.lines}, outcomes {log.outcomes}"
          + (f"; notable: {log.notable[:3]}" if log.notable else ""))
    print(f"chatd accept queue: longest {sampler.backlog}; kernel: " + ", ".join(
        f"{k} +{net1[k] - net0[k]}" for k in net0))
    print(f"event loop lag max: client {lagw.max * 1000:.0f} ms, mock "
          f"{mrec.get('loop_lag_max', 0) * 1000:.0f} ms")
    if mock_err:
        print(f"mock stderr: {mock_err[:3]}")
    ru = resource.getrusage(resource.RUSAGE_SELF)
    cpu["client"] = ru.ru_utime + ru.ru_stime
    print("CPU seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items() if v is not None))
    load2 = os.getloadavg()
    print("load duration " + ", ".join(f"{rd['t_end'] - rd['t_load']:.1f}" for rd in rounds) +
          f" s, total {now() - t_start:.1f} s; load average before {load1[0]:.2f} "
          f"{load1[1]:.2f} {load1[2]:.2f}, after {load2[0]:.2f} {load2[1]:.2f} {load2[2]:.2f} "
          f"({os.cpu_count()} CPUs)")
    if cfg.rounds > 1:
        for i, rd in enumerate(rounds):
            rs = rd["results"]
            print(f"round {i + 1}: {sum(1 for r in rs if not r.errors)}/{len(rs)} streams ok, "
                  f"load {rd['t_end'] - rd['t_load']:.1f} s, fds after {rd['fds']}, RSS after "
                  f"{(rd['rss'] or 0) / 1024:.1f} MB, event loop lag max client "
                  f"{rd['lag'][0] * 1000:.0f} ms / mock {(rd['lag'][1] or 0) * 1000:.0f} ms")
    p, f = checks.report()
    print(f"load: {p} passed, {f} failed")
    return 0 if f == 0 else 1


def main():
    ap = argparse.ArgumentParser(description="chatd fault-and-load test (loopback only)")
    ap.add_argument("--streams", type=int, default=int(os.environ.get("LOAD_STREAMS", 2000)))
    ap.add_argument("--mix", default=DEFAULT_MIX, help=f"kind=weight,... (default {DEFAULT_MIX})")
    ap.add_argument("--chatd", default=os.path.join(REPO, "build", "chatd"))
    ap.add_argument("--pace", default="off", help="CHATD_PACE: off, adaptive or a number")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--grace-ms", type=int, default=1000)
    ap.add_argument("--first-byte-timeout-ms", type=int, default=1500)
    ap.add_argument("--idle-timeout-ms", type=int, default=1500)
    ap.add_argument("--retention-ms", type=int, default=1000)
    ap.add_argument("--ramp-ms", type=int, default=None,
                    help="spread the stream starts over this (default: 1 ms per stream, at "
                         "least 2000)")
    ap.add_argument("--resume-delay-ms", type=int, default=300,
                    help="a resuming client stays away up to this long")
    ap.add_argument("--resume-twice", type=float, default=0.5,
                    help="the share of resuming clients that drop and come back a second time")
    ap.add_argument("--warmup", type=int, default=20, help="streams run before the baseline")
    ap.add_argument("--stream-timeout", type=float, default=60.0)
    ap.add_argument("--settle-s", type=float, default=20.0)
    ap.add_argument("--fd-slack", type=int, default=4)
    ap.add_argument("--rss-slack-mb", type=float, default=20.0)
    ap.add_argument("--mock-idle-close-ms", type=int, default=0,
                    help="the mock closes idle keep-alive connections after this (0: never)")
    ap.add_argument("--log-level", default="info")
    ap.add_argument("--fixed-port", action="store_true",
                    help="listen on a free port picked here instead of CHATD_LISTEN port 0")
    ap.add_argument("--trim-check", action="store_true",
                    help="at the end, ask chatd's allocator to return free memory (gdb calls "
                         "malloc_trim) and print the RSS: retention or leak?")
    ap.add_argument("--rounds", type=int, default=1,
                    help="run the load this many times against one chatd (leak or plateau?)")
    ap.add_argument("--max-accept-queue", type=int, default=128,
                    help="the longest accept queue allowed on chatd's listening sockets")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--chatd-log", help="write chatd's whole output (one line per request) here")
    ap.add_argument("--dump", help="write every stream's result and the mock's records here")
    ap.add_argument("--time-limit", type=float, default=180.0, help="seconds for the whole run")
    ap.add_argument("--redis", action="store_true",
                    help="chatd in Redis mode (CHATD_REDIS_URL to a redis-server started here)")
    cfg = ap.parse_args()
    if cfg.ramp_ms is None:
        cfg.ramp_ms = max(2000, cfg.streams)
    if cfg.streams < 1 or cfg.time_limit < 60:
        raise SystemExit("fault_load: --streams >= 1 and --time-limit >= 60 please")
    if not os.access(cfg.chatd, os.X_OK):
        print(f"fault_load: {cfg.chatd} is not built (make)")
        print("load: 0 passed, 1 failed")
        return 1
    try:
        return asyncio.run(run(cfg))
    except (RuntimeError, OSError, asyncio.TimeoutError) as e:
        print(f"fault_load: setup failed: {e}")
        print("load: 0 passed, 1 failed")
        return 1


if __name__ == "__main__":
    sys.exit(main())
