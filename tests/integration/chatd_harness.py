"""Harness for chatd's integration tests: runs the mock upstream and the real chatd
binary, and talks HTTP/1.1 + SSE to chatd over raw sockets, recording everything
(status, headers, raw body, events with ids/names/JSON data, comments, timestamps).

Processes are started with PR_SET_PDEATHSIG so none outlives the test runner, and are
killed on failure. Each ChatdTestCase class gets a fresh mock and a fresh chatd."""

import ctypes
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
MOCK = os.path.join(REPO, "tests", "mock", "mock_upstream.py")
sys.path.insert(0, os.path.join(REPO, "tests", "mock"))
import mock_upstream  # noqa: E402  (big_text, USAGE_*, REASONING_TEXT, mask_key)

UPSTREAM_KEY = "sk-test-SECRET123"
SECRET_FRAGMENTS = (UPSTREAM_KEY, "SECRET123", mock_upstream.mask_key(UPSTREAM_KEY))
READ_TIMEOUT = float(os.environ.get("CHATD_TEST_READ_TIMEOUT", "20"))
START_TIMEOUT = float(os.environ.get("CHATD_TEST_START_TIMEOUT", "15"))
LISTEN_RE = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")

# (not TSan's bare "ThreadSanitizer: reported N warnings" at exit: the report came before)
SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error:",
                     "WARNING: ThreadSanitizer", "ERROR: ThreadSanitizer")
TSAN_EXIT = 66  # tests/tsan-chatd.sh: a chatd that reported a race exits with this code
_LIVE = set()  # every process started here, for the last-resort cleanup


def report_excerpt(err, size=12000):
    """chatd's stderr from its first sanitizer report on (reports can be long and be
    followed by many log lines), else its end."""
    at = [err.find(m) for m in SANITIZER_MARKERS if m in err]
    if not at:
        return err[-size:]
    start = err.rfind("\n", 0, min(at)) + 1
    return err[start:start + size]


def _pdeathsig():
    """Runs in the child before exec: die with the runner, never become an orphan."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _kill(proc):
    if proc.poll() is None:
        proc.kill()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        pass
    _LIVE.discard(proc)


def kill_all():
    for p in list(_LIVE):
        _kill(p)


def chatd_bin():
    b = os.environ.get("CHATD_BIN", "build/chatd")
    if os.path.isabs(b):
        return b
    for base in (os.getcwd(), REPO):
        cand = os.path.abspath(os.path.join(base, b))
        if os.path.exists(cand):
            return cand
    return os.path.abspath(os.path.join(REPO, b))


def clean_env():
    """The runner's environment without anything that would configure chatd."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CHATD_") and k not in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")}
    return env


def free_port():
    """A loopback port nothing listens on (bound, then closed): a refused connection, or a
    port for a server the test starts."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---- the mock upstream --------------------------------------------------------------

class Mock:
    def __init__(self):
        self.proc = subprocess.Popen(
            [sys.executable, MOCK], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL, env=clean_env(), preexec_fn=_pdeathsig)
        _LIVE.add(self.proc)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("PORT "):
            _kill(self.proc)
            raise RuntimeError("mock did not start: %r %r" % (line, self.proc.stderr.read()))
        self.port = int(line.split()[1])
        self.url = "http://127.0.0.1:%d/v1" % self.port

    def call(self, method, path, timeout=30):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout + 5)
        try:
            s.sendall(("%s %s HTTP/1.1\r\nHost: mock\r\nContent-Length: 0\r\n"
                       "Connection: close\r\n\r\n" % (method, path)).encode())
            r = Response(s, "mock")
            r.read_head(timeout + 5)
            r.read_to_end(timeout + 5)
            return r.status, json.loads(r.body)
        finally:
            s.close()

    def requests(self):
        return self.call("GET", "/_mock/requests")[1]

    def chat_requests(self):
        return [r for r in self.requests() if r["path"].startswith("/v1/chat/completions")]

    def reset(self):
        self.call("POST", "/_mock/reset")

    def wait_closed(self, n=1, timeout=1.0):
        """(True, info) once n recorded responses were cut by chatd closing the
        connection; (False, info) after timeout seconds."""
        st, info = self.call("GET", "/_mock/wait-closed?n=%d&timeout=%s" % (n, timeout),
                             timeout=timeout)
        return st == 200, info

    def wait_requests(self, n=1, timeout=5.0):
        st, info = self.call("GET", "/_mock/wait-requests?n=%d&timeout=%s" % (n, timeout),
                             timeout=timeout)
        return st == 200, info

    def stop(self):
        _kill(self.proc)


# ---- chatd --------------------------------------------------------------------------

class Chatd:
    def __init__(self, upstream_url, extra_env=None, key=UPSTREAM_KEY, args=()):
        self.tmp = tempfile.TemporaryDirectory(prefix="chatd-it-")
        env = clean_env()
        env.update({
            "CHATD_LISTEN": "127.0.0.1:0",
            "CHATD_PROVIDER": "openai",
            "CHATD_UPSTREAM_URL": upstream_url,
            "CHATD_UPSTREAM_API_KEY": key,
            "CHATD_PACE": "off",
            "CHATD_WORKERS": "2",
        })
        for k, v in (extra_env or {}).items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = str(v)
        self.env = env
        self.stderr_lines = []
        self.sanitizer_reported = False  # a test already failed on this chatd's report
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.port = None
        self.bin = chatd_bin()
        if not os.path.exists(self.bin):
            raise RuntimeError("chatd binary not found at %s (set CHATD_BIN)" % self.bin)
        self.proc = subprocess.Popen(
            [self.bin] + list(args), cwd=self.tmp.name, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=_pdeathsig)
        _LIVE.add(self.proc)
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        if not self._ready.wait(START_TIMEOUT) or self.port is None:
            _kill(self.proc)
            self._reader.join(2)
            raise RuntimeError("chatd did not report 'listening on' (exit %s); stderr:\n%s"
                               % (self.proc.returncode, self.stderr()))
        self.url = "http://127.0.0.1:%d" % self.port

    def _read_stderr(self):
        for raw in iter(self.proc.stderr.readline, b""):
            line = raw.decode("utf-8", "replace")
            with self._lock:
                self.stderr_lines.append(line)
            if self.port is None:
                m = LISTEN_RE.search(line)
                if m:
                    self.port = int(m.group(1))
                    self._ready.set()
        self._ready.set()

    def stderr(self):
        with self._lock:
            return "".join(self.stderr_lines)

    def alive(self):
        return self.proc.poll() is None

    def rss_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def sigterm(self):
        self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout):
        """The exit code, or None if still running after timeout seconds."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._reader.join(2)
        return rc

    def stop(self):
        """SIGTERM, SIGKILL after 5 s. Raises AssertionError if chatd exited with
        ThreadSanitizer's code and no test has failed on its report yet."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        _kill(self.proc)
        self._reader.join(2)
        self.tmp.cleanup()
        if self.proc.returncode == TSAN_EXIT and not self.sanitizer_reported:
            self.sanitizer_reported = True
            raise AssertionError("chatd exited %d (ThreadSanitizer reported); stderr:\n%s"
                                 % (TSAN_EXIT, report_excerpt(self.stderr())))


# ---- HTTP + SSE client --------------------------------------------------------------

class Event:
    __slots__ = ("id", "event", "data", "json", "t", "raw")

    def __init__(self, id_, event, data, t, raw):
        self.id, self.event, self.data, self.t, self.raw = id_, event, data, t, raw
        try:
            self.json = json.loads(data)
        except ValueError:
            self.json = None

    def __repr__(self):
        return "Event(id=%r, event=%r, data=%r)" % (self.id, self.event, self.data)


class SSEParser:
    """WHATWG event-stream parsing, byte-incremental, strict about UTF-8 per line."""

    def __init__(self):
        self.buf = b""
        self.events = []
        self.comments = []  # (text, t)
        self.retries = []
        self.items = []     # ("event", Event) / ("comment", text) / ("retry", value), in order
        self.utf8_errors = []
        self._reset_event()

    def _reset_event(self):
        self._id = None
        self._event = None
        self._data = []
        self._raw = []

    def feed(self, data, t, eof=False):
        buf = self.buf + data if self.buf else bytes(data)
        if b"\r" in buf:
            self._feed_slow(buf, t, eof)
            return
        end = buf.rfind(b"\n")
        if end < 0:
            self.buf = buf
            return
        self.buf = buf[end + 1:]
        try:
            lines = buf[:end].decode("utf-8").split("\n")
        except UnicodeDecodeError:
            for raw in buf[:end].split(b"\n"):
                self._line(raw, t)
            return
        for line in lines:
            self._text_line(line, t)

    def _feed_slow(self, buf, t, eof):
        """Any mix of CRLF, LF and bare CR line ends."""
        pos, n = 0, len(buf)
        while pos < n:
            nl = buf.find(b"\n", pos)
            cr = buf.find(b"\r", pos)
            if nl < 0 and cr < 0:
                break
            if cr >= 0 and (nl < 0 or cr < nl):
                if cr + 1 == n and not eof:
                    break  # a CR at the end: might be the start of CRLF
                line = buf[pos:cr]
                nxt = cr + 2 if buf[cr + 1:cr + 2] == b"\n" else cr + 1
            else:
                line, nxt = buf[pos:nl], nl + 1
            pos = nxt
            self._line(line, t)
        self.buf = buf[pos:]

    def _line(self, raw, t):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            self.utf8_errors.append((raw, str(e)))
            line = raw.decode("utf-8", "replace")
        self._text_line(line, t)

    def _text_line(self, line, t):
        if line == "":
            if self._data:
                ev = Event(self._id, self._event or "message", "\n".join(self._data), t,
                           self._raw)
                self.events.append(ev)
                self.items.append(("event", ev))
            if self._data or self._event is not None or self._id is not None or self._raw:
                self._reset_event()
            return
        if line[0] == ":":
            c = line[2:] if line[1:2] == " " else line[1:]
            self.comments.append((c, t))
            self.items.append(("comment", c))
            return
        name, _, value = line.partition(":")
        if value[:1] == " ":
            value = value[1:]
        self._raw.append(line)
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            self._id = value
        elif name == "retry":
            self.retries.append(value)
            self.items.append(("retry", value))


class Response:
    """One HTTP/1.1 response read from a socket; the body is fed to an SSE parser as it
    arrives so events carry their arrival time."""

    def __init__(self, sock, what="chatd"):
        self.sock = sock
        self.what = what
        self.rbuf = b""
        self.rpos = 0
        self.status = None
        self.reason = None
        self.headers = []
        self.body = bytearray()
        self.complete = False   # the framing said the body ended
        self.eof = False        # the peer closed the connection
        self.reset = False      # the peer reset the connection
        self.sse = SSEParser()
        self.t_sent = time.monotonic()
        self.t_head = None
        self.t_end = None
        self._chunk_left = None  # bytes left in the current chunk
        self._mode = None

    # -- headers --
    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    @property
    def events(self):
        return self.sse.events

    @property
    def terminal(self):
        return [e for e in self.sse.events if e.event in ("done", "error")]

    def deltas(self, name="delta"):
        return [e.json["text"] for e in self.sse.events
                if e.event == name and isinstance(e.json, dict) and "text" in e.json]

    def text(self, name="delta"):
        return "".join(self.deltas(name))

    # -- socket reading --
    def _avail(self):
        return len(self.rbuf) - self.rpos

    def _take(self, n):
        data = self.rbuf[self.rpos:self.rpos + n]
        self.rpos += len(data)
        return data

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("%s: read timed out" % self.what)
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(262144)
        except socket.timeout:
            raise TimeoutError("%s: read timed out" % self.what)
        except ConnectionResetError:
            self.reset = True
            data = b""
        if not data:
            self.eof = True
            return False
        if self.rpos:
            self.rbuf = self.rbuf[self.rpos:] + data
            self.rpos = 0
        else:
            self.rbuf += data
        return True

    def _readline(self, deadline):
        while True:
            i = self.rbuf.find(b"\n", self.rpos)
            if i >= 0:
                break
            if not self._fill(deadline):
                raise ConnectionError("%s: connection closed mid-line" % self.what)
        line = self.rbuf[self.rpos:i]
        self.rpos = i + 1
        return line.rstrip(b"\r")

    def read_head(self, timeout=READ_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            line = self._readline(deadline).decode("latin-1")
            parts = line.split(" ", 2)
            self.status = int(parts[1])
            self.reason = parts[2] if len(parts) > 2 else ""
            self.headers = []
            while True:
                h = self._readline(deadline).decode("latin-1")
                if h == "":
                    break
                k, _, v = h.partition(":")
                self.headers.append((k.strip(), v.strip()))
            if self.status >= 200:
                break  # skip 1xx interim responses
        self.t_head = time.monotonic()
        te = (self.header("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            self._mode = "chunked"
        elif self.header("Content-Length") is not None:
            self._mode = "length"
            self._chunk_left = int(self.header("Content-Length"))
        elif self.status in (204, 304):
            self._mode = "length"
            self._chunk_left = 0
        else:
            self._mode = "eof"
        if self._mode == "length" and self._chunk_left == 0:
            self._finish()
        return self

    def _deliver(self, data):
        if data:
            self.body += data
            self.sse.feed(data, time.monotonic())

    def _finish(self):
        if not self.complete:
            self.complete = True
            self.t_end = time.monotonic()
            self.sse.feed(b"", time.monotonic(), eof=True)

    def _step(self, deadline):
        """Consumes one piece of body; False when the body is over."""
        if self.complete:
            return False
        if self._mode == "length":
            if not self._avail() and not self._fill(deadline):
                return False
            take = self._take(self._chunk_left)
            self._chunk_left -= len(take)
            self._deliver(take)
            if self._chunk_left == 0:
                self._finish()
                return False
            return True
        if self._mode == "eof":
            if not self._avail() and not self._fill(deadline):
                self._finish()
                return False
            self._deliver(self._take(self._avail()))
            return True
        # chunked
        if self._chunk_left is None:
            try:
                line = self._readline(deadline)
            except ConnectionError:
                return False
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while True:  # trailers up to the empty line
                    try:
                        if self._readline(deadline) == b"":
                            break
                    except ConnectionError:
                        break
                self._finish()
                return False
            self._chunk_left = size
            return True
        if not self._avail() and not self._fill(deadline):
            return False
        take = self._take(self._chunk_left)
        self._chunk_left -= len(take)
        self._deliver(take)
        if self._chunk_left == 0:
            try:
                self._readline(deadline)  # the CRLF after the chunk data
            except ConnectionError:
                return False
            self._chunk_left = None
        return True

    def read_until(self, pred, timeout=READ_TIMEOUT):
        """Reads until pred(self) is true (True) or the body ended (False)."""
        deadline = time.monotonic() + timeout
        while not pred(self):
            if not self._step(deadline):
                return pred(self)
        return True

    def read_to_end(self, timeout=READ_TIMEOUT):
        deadline = time.monotonic() + timeout
        while self._step(deadline):
            pass
        return self


class Client:
    """One HTTP/1.1 connection to chatd."""

    def __init__(self, port, rcvbuf=None, timeout=READ_TIMEOUT):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.port = port

    def send_raw(self, data):
        self.sock.sendall(data)

    def request(self, method, path, body=b"", headers=None, content_type="application/json",
                chunked=False):
        if isinstance(body, str):
            body = body.encode("utf-8")
        hs = [("Host", "127.0.0.1:%d" % self.port)]
        if content_type is not None:
            hs.append(("Content-Type", content_type))
        if chunked:
            hs.append(("Transfer-Encoding", "chunked"))
        elif body or method in ("POST", "PUT"):
            hs.append(("Content-Length", str(len(body))))
        hs += list(headers or [])
        head = "%s %s HTTP/1.1\r\n" % (method, path)
        head += "".join("%s: %s\r\n" % kv for kv in hs) + "\r\n"
        data = head.encode("latin-1")
        if chunked:
            step = 1000
            for i in range(0, len(body), step):
                piece = body[i:i + step]
                data += b"%x\r\n" % len(piece) + piece + b"\r\n"
            data += b"0\r\n\r\n"
        else:
            data += body
        resp = Response(self.sock)
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer (e.g. 413) and close before reading everything
        resp.t_sent = time.monotonic()
        return resp

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def abort(self):
        """Closes with a TCP RST, like a killed browser tab."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
        except OSError:
            pass
        self.close()


def chat_body(text="Hello", model="echo", messages=None, **extra):
    if messages is None:
        messages = [{"role": "user", "content": text}]
    body = {"messages": messages}
    if model is not None:
        body["model"] = model
    body.update(extra)
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


# ---- test base ----------------------------------------------------------------------

class ChatdTestCase(unittest.TestCase):
    """A fresh mock upstream and chatd per class (per test when PER_TEST is set).
    CHATD_ENV adds to / overrides (None removes) chatd's environment."""

    CHATD_ENV = {}
    PER_TEST = False
    maxDiff = 4000

    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()
        cls.chatd = None
        cls.chatd_err_mark = 0
        if not cls.PER_TEST:
            try:
                cls.chatd = cls.start_chatd()
            except BaseException:
                cls.mock.stop()
                raise

    @classmethod
    def start_chatd(cls, **override):
        env = dict(cls.CHATD_ENV)
        env.update(override)
        return Chatd(cls.mock.url, env)

    @classmethod
    def tearDownClass(cls):
        err = ""
        try:
            if cls.chatd:
                cls.chatd.stop()
                err = "".join(cls.chatd.stderr_lines[cls.chatd_err_mark:])
        finally:
            cls.mock.stop()
        found = [m for m in SANITIZER_MARKERS if m in err]
        if found:
            raise AssertionError("chatd's stderr at exit reports %r:\n%s" % (found, report_excerpt(err)))

    def setUp(self):
        self.clients = []
        if self.PER_TEST:
            self.chatd = self.start_chatd()
        elif not self.chatd.alive():
            type(self).chatd = self.start_chatd()
            type(self).chatd_err_mark = 0
        self.mock.reset()
        self._err_mark = len(self.chatd.stderr_lines)

    def tearDown(self):
        for c in self.clients:
            c.close()
        if self.PER_TEST:
            self.chatd.stop()  # at exit, so a leak report is seen too
        problems = []
        err = "".join(self.chatd.stderr_lines[self._err_mark:])
        for marker in SANITIZER_MARKERS:
            if marker in err:
                problems.append("chatd stderr reports %r" % marker)
        died = not self.PER_TEST and not self.chatd.alive()
        if died:
            problems.append("chatd exited (code %s) during the test" % self.chatd.proc.returncode)
        if problems:
            self.chatd.sanitizer_reported = True
            tail = report_excerpt(err)
            if not self.PER_TEST:
                type(self).chatd_err_mark = len(self.chatd.stderr_lines)
            if died:
                self.chatd.stop()
                type(self).chatd = self.start_chatd()
                type(self).chatd_err_mark = 0
            self.fail("; ".join(problems) + "\nchatd stderr:\n" + tail)

    # -- requests --
    def client(self, **kw):
        c = Client(self.chatd.port, **kw)
        self.clients.append(c)
        return c

    def post(self, body, path="/api/chat", headers=None, content_type="application/json",
             chunked=False, read=True, client=None, timeout=READ_TIMEOUT):
        c = client or self.client()
        r = c.request("POST", path, body, headers, content_type, chunked)
        r.read_head(timeout)
        if read:
            r.read_to_end(timeout)
        return r

    def get(self, path, headers=None, timeout=READ_TIMEOUT):
        c = self.client()
        r = c.request("GET", path, b"", headers, content_type=None)
        r.read_head(timeout)
        r.read_to_end(timeout)
        return r

    def chat(self, text="Hello", model="echo", read=True, headers=None, timeout=READ_TIMEOUT,
             client=None, **extra):
        return self.post(chat_body(text, model, **extra), headers=headers, read=read,
                         timeout=timeout, client=client)

    # -- assertions --
    def assertHealthy(self):
        r = self.get("/healthz")
        self.assertEqual(r.status, 200, "GET /healthz after the test")
        self.assertEqual(r.json(), {"status": "ok"})

    def assertNoSecret(self, text, where):
        if isinstance(text, (bytes, bytearray)):
            text = bytes(text).decode("utf-8", "replace")
        for s in SECRET_FRAGMENTS:
            self.assertNotIn(s, text, "the upstream key (%r) leaked into %s" % (s, where))

    def assertJSONError(self, r, status, etype):
        """An HTTP error before any stream: the status, JSON content type and shape."""
        self.assertEqual(r.status, status, "status; body=%r" % r.body[:300])
        ct = r.header("Content-Type") or ""
        self.assertEqual(ct.split(";")[0].strip().lower(), "application/json",
                         "Content-Type of a %d" % status)
        body = r.json()
        self.assertIsInstance(body, dict)
        self.assertIn("error", body)
        err = body["error"]
        self.assertEqual(err.get("type"), etype, "error.type; body=%r" % body)
        self.assertIsInstance(err.get("message"), str)
        self.assertTrue(err["message"], "error.message is empty")
        self.assertNoSecret(r.body, "an error body")
        return err

    def assertStreamFrame(self, r, model=None):
        """Everything every native stream must satisfy: status, headers, retry first,
        ids from 0 up by one, a start event, exactly one terminal event at the very end.
        Returns (start, middle events, terminal)."""
        self.assertEqual(r.status, 200, "status; body=%r" % r.body[:300])
        self.assertEqual(r.header("Content-Type"), "text/event-stream; charset=utf-8")
        self.assertEqual(r.header("Cache-Control"), "no-cache, no-transform")
        self.assertEqual(r.header("X-Accel-Buffering"), "no")
        self.assertIsNone(r.header("Content-Encoding"), "streams are never compressed")
        self.assertTrue(r.complete, "the response body did not end properly (eof=%s reset=%s)"
                        % (r.eof, r.reset))
        self.assertEqual(r.sse.utf8_errors, [], "broken UTF-8 in the event stream")
        self.assertTrue(r.body.startswith(b"retry: 3000\n"), "body starts %r" % r.body[:40])
        self.assertEqual(r.sse.retries, ["3000"])
        evs = r.events
        self.assertGreaterEqual(len(evs), 2, "at least start and a terminal event: %r" % evs)
        self.assertEqual([e.id for e in evs], [str(i) for i in range(len(evs))],
                         "ids are decimal from 0 up by 1")
        start = evs[0]
        self.assertEqual(start.event, "start")
        self.assertIsInstance(start.json, dict, "start data is JSON: %r" % start.data)
        sid = start.json.get("stream_id")
        self.assertIsInstance(sid, str)
        self.assertRegex(sid, r"^[A-Za-z0-9._~-]+$", "stream id must be URL-safe")
        self.assertEqual(r.header("X-Chatd-Stream-Id"), sid)
        self.assertIsInstance(start.json.get("model"), str)
        if model is not None:
            self.assertEqual(start.json["model"], model)
        kinds = [e.event for e in evs]
        self.assertEqual(sum(k in ("done", "error") for k in kinds), 1,
                         "exactly one terminal event: %r" % kinds)
        term = evs[-1]
        self.assertIn(term.event, ("done", "error"), "the last event is terminal: %r" % kinds)
        self.assertIsInstance(term.json, dict, "terminal data is JSON: %r" % term.data)
        # The body ends right after the terminal event.
        self.assertTrue(r.body.endswith(("data: %s\n\n" % term.data).encode("utf-8")),
                        "the body must end with the terminal event: %r" % r.body[-200:])
        middle = evs[1:-1]
        for e in middle:  # one plain loop: streams of a million events are checked here
            j = e.json
            if not (e.event in ("delta", "reasoning") and type(j) is dict and len(j) == 1
                    and type(j.get("text")) is str and j["text"] != ""):
                self.fail("every event between start and the end is a delta or reasoning "
                          "event with one non-empty \"text\": %r" % e)
        self.assertNoSecret(r.body, "a stream body")
        return start, middle, term

    def assertDone(self, r, text, clusters=None, model=None, finish="stop"):
        """A complete stream: frame, deltas == clusters (one grapheme each), the text byte
        for byte, and done with finish_reason."""
        start, middle, term = self.assertStreamFrame(r, model)
        self.assertEqual(term.event, "done", "terminal: %r" % term)
        self.assertEqual(term.json.get("finish_reason"), finish)
        got = r.deltas()
        if clusters is not None:
            self.assertEqual(got, clusters, "one grapheme cluster per delta")
        self.assertEqual("".join(got).encode("utf-8"), text.encode("utf-8"),
                         "the concatenated deltas equal the upstream text")
        return start, term

    def assertErrorEvent(self, r, etype, text_prefix=None, text_exact=None):
        """A stream that started, then ended with an error event of type etype."""
        start, middle, term = self.assertStreamFrame(r)
        self.assertEqual(term.event, "error", "terminal: %r" % term)
        err = term.json.get("error")
        self.assertIsInstance(err, dict, "error data shape: %r" % term.json)
        self.assertEqual(err.get("type"), etype, "error type: %r" % term.json)
        self.assertIsInstance(err.get("message"), str)
        if "status" in err:
            self.assertIsInstance(err["status"], int)
        got = r.text()
        if text_exact is not None:
            self.assertEqual(got.encode("utf-8"), text_exact.encode("utf-8"),
                             "the text sent before the error")
        if text_prefix is not None:
            self.assertTrue(text_prefix.startswith(got),
                            "the text before the error must be a prefix of the upstream's: "
                            "%r" % got[-80:])
        return err

    def upstream_auth_ok(self, rec):
        hs = rec["headers"]
        auth = [v for k, v in hs if k.lower() == "authorization"]
        self.assertEqual(auth, ["Bearer " + UPSTREAM_KEY], "the upstream Authorization header")
        for k, v in hs:
            if k.lower() != "authorization":
                self.assertNotIn("SECRET123", v, "the key leaked into upstream header " + k)
        self.assertNotIn("SECRET123", rec["body"], "the key leaked into the upstream body")
