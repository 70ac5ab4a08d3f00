"""A catalogue of hostile and malformed requests, each sent on its own raw connection.
Each gets the contract's status and error type ({"error":{"type","message"}} JSON), or,
where HTTP itself is broken, a well-formed HTTP error or a closed connection; never a
garbled response, never a stream for a request that should have been refused, never a
request sent upstream for it. GET /healthz answers 200 after every one."""

import json
import re
import socket
import time

from chatd_harness import ChatdTestCase, chat_body

GOOD = {"model": "echo", "messages": [{"role": "user", "content": "hi"}]}
GOOD_BYTES = json.dumps(GOOD).encode()
REQUEST_TIMEOUT_MS = 1000


def post_raw(body, path="/api/chat", ctype=b"application/json", extra=b"", close=True):
    head = b"POST " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    if ctype is not None:
        head += b"Content-Type: " + ctype + b"\r\n"
    head += b"Content-Length: %d\r\n" % len(body) + extra
    if close:
        head += b"Connection: close\r\n"
    return head + b"\r\n" + body


def content(raw):
    """A request body whose only message has raw bytes as content."""
    return b'{"model":"echo","messages":[{"role":"user","content":"a' + raw + b'b"}]}'


class Resp:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "Resp(%d, %r)" % (self.status, self.body[:120])


def parse_responses(data):
    """Responses in data, in order, and whatever bytes did not parse as one."""
    out, pos = [], 0
    while pos < len(data):
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            return out, data[pos:]
        lines = data[pos:end].decode("latin-1").split("\r\n")
        m = re.fullmatch(r"HTTP/1\.[01] (\d{3})(?: .*)?", lines[0])
        if not m:
            return out, data[pos:]
        headers = []
        for h in lines[1:]:
            k, sep, v = h.partition(":")
            if not sep or not k or k != k.strip():
                return out, data[pos:]
            headers.append((k, v.strip()))
        status = int(m.group(1))
        pos = end + 4
        r = Resp(status, headers, b"")
        te = (r.header("Transfer-Encoding") or "").lower()
        cls = r.header_all("Content-Length")
        if 100 <= status < 200 or status in (204, 304):
            pass
        elif "chunked" in te:
            body = b""
            while True:
                eol = data.find(b"\r\n", pos)
                if eol < 0:
                    return out, data[pos:]
                try:
                    size = int(data[pos:eol].split(b";")[0], 16)
                except ValueError:
                    return out, data[pos:]
                pos = eol + 2
                if size == 0:
                    if data[pos:pos + 2] != b"\r\n":
                        return out, data[pos:]
                    pos += 2
                    break
                if len(data) < pos + size + 2 or data[pos + size:pos + size + 2] != b"\r\n":
                    return out, data[pos:]
                body += data[pos:pos + size]
                pos += size + 2
            r.body = body
        elif cls:
            if len(set(cls)) != 1:
                return out, data[pos:]
            n = int(cls[0])
            if len(data) < pos + n:
                return out, data[pos:]
            r.body = data[pos:pos + n]
            pos += n
        else:
            r.body = data[pos:]
            pos = len(data)
        out.append(r)
    return out, b""


class Exchange:
    def __init__(self, responses, rest, closed, elapsed, raw):
        self.responses, self.rest, self.closed = responses, rest, closed
        self.elapsed, self.raw = elapsed, raw

    @property
    def first(self):
        return self.responses[0] if self.responses else None

    def __repr__(self):
        return "Exchange(%r, rest=%r, closed=%s, %.2fs)" % (
            self.responses, self.rest[:200], self.closed, self.elapsed)


class Hostile(ChatdTestCase):
    CHATD_ENV = {"CHATD_MODEL": "echo", "CHATD_REQUEST_TIMEOUT_MS": REQUEST_TIMEOUT_MS}

    def tearDown(self):
        try:
            self.assertHealthy()
        finally:
            super().tearDown()

    # -- plumbing --
    def exchange(self, data, timeout=6.0, sock=None):
        """Sends data on a fresh connection and reads until the server closes it (or
        timeout seconds pass)."""
        s = sock or socket.create_connection(("127.0.0.1", self.chatd.port), timeout=timeout)
        self.addCleanup(s.close)
        t0 = time.monotonic()
        try:
            s.sendall(data)
        except OSError:
            pass
        buf, closed = b"", False
        while True:
            left = t0 + timeout - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except (ConnectionResetError, BrokenPipeError):
                closed = True
                break
            if not chunk:
                closed = True
                break
            buf += chunk
        resps, rest = parse_responses(buf)
        return Exchange(resps, rest, closed, time.monotonic() - t0, buf)

    def assertWellFormed(self, x):
        self.assertEqual(x.rest, b"", "the server sent bytes that are not a well-formed "
                                      "HTTP response: %r" % x.raw[:600])

    def assertJSONErr(self, x, status, etype):
        self.assertWellFormed(x)
        self.assertTrue(x.responses, "no response (closed=%s)" % x.closed)
        r = x.first
        self.assertEqual(r.status, status, "%r" % x)
        self.assertEqual((r.header("Content-Type") or "").split(";")[0].strip(),
                         "application/json", "%r" % x)
        err = r.json().get("error")
        self.assertIsInstance(err, dict, r.body)
        self.assertEqual(err.get("type"), etype, r.body)
        self.assertTrue(err.get("message"))
        self.assertNoSecret(r.body, "an error body")
        return r

    def assertRefusedOrClosed(self, x, statuses=(400,)):
        """HTTP itself is broken: a well-formed error with one of statuses, or the
        connection closed without an answer; never a success."""
        self.assertWellFormed(x)
        if x.responses:
            self.assertIn(x.first.status, statuses, "%r" % x)
        else:
            self.assertTrue(x.closed, "neither an answer nor a close: %r" % x)
        self.assertEqual(self.mock.chat_requests(), [], "a broken request went upstream")

    def assertLibraryRefused(self, x, statuses):
        """A Content-Length libmicrohttpd 0.9.75 cannot parse is refused by the library
        itself, before chatd sees the request. That version writes its error's header block
        twice (a known defect of the library's own error path, reproduced with a bare
        daemon; fixed in libmicrohttpd 1.0's rewritten parser). What matters here holds:
        the first status line refuses the request, the connection closes, nothing went
        upstream, and the server stays up (checked after every test)."""
        head = x.raw.split(b"\r\n", 1)[0]
        self.assertRegex(head, rb"^HTTP/1\.1 (%s) " % b"|".join(b"%d" % c for c in statuses),
                         "%r" % x.raw[:300])
        self.assertIn(b"Connection: close", x.raw[:400])
        self.assertTrue(x.closed, "the connection stayed open: %r" % x)
        self.assertEqual(self.mock.chat_requests(), [], "a broken request went upstream")

    def bad_json(self, body, status=400, etype="invalid_request", **kw):
        self.mock.reset()
        x = self.exchange(post_raw(body, **kw))
        self.assertJSONErr(x, status, etype)
        self.assertEqual(self.mock.chat_requests(), [], "a refused request went upstream")
        return x

    def ok_stream(self, body, text):
        x = self.exchange(post_raw(body))
        self.assertWellFormed(x)
        self.assertTrue(x.responses, x)
        r = x.first
        self.assertEqual(r.status, 200, x)
        self.assertEqual(r.header("Content-Type"), "text/event-stream; charset=utf-8")
        datas = [json.loads(line[6:]) for line in r.body.decode("utf-8").split("\n")
                 if line.startswith("data: ")]
        got = "".join(d["text"] for d in datas if "text" in d)
        self.assertEqual(got.encode("utf-8"), text.encode("utf-8"))
        self.assertIn("finish_reason", datas[-1], datas[-1])
        return r

    # ---------------- JSON ----------------
    def test_01_truncated_json(self):
        for body in (b'{"messages": [{"role": "user", "content": "hi"}', b"{", b'{"messages":',
                     b'{"model":"echo","messages":[{"role":"user","content":"unterminated'):
            with self.subTest(body=body):
                self.bad_json(body)

    def test_02_single_quotes_trailing_commas_comments(self):
        for body in (b"{'model':'echo','messages':[{'role':'user','content':'x'}]}",
                     b'{"model":"echo","messages":[{"role":"user","content":"x"},]}',
                     b'{"model":"echo","messages":[{"role":"user","content":"x"}],}',
                     b'{"model":"echo", /* c */ "messages":[{"role":"user","content":"x"}]}',
                     b'// c\n' + GOOD_BYTES, b'{model:"echo"}', b'{"a" "b"}', b"{,}",
                     GOOD_BYTES + b"x", GOOD_BYTES + GOOD_BYTES):
            with self.subTest(body=body[:60]):
                self.bad_json(body)

    def test_03_nan_infinity_hex_literals(self):
        for lit in (b"NaN", b"Infinity", b"-Infinity", b"0x10", b"1.", b".5", b"+1", b"1e",
                    b"--1", b"undefined", b"True"):
            with self.subTest(literal=lit):
                self.bad_json(b'{"model":"echo","temperature":' + lit +
                              b',"messages":[{"role":"user","content":"x"}]}')

    def test_04_deep_array_nesting_100000_levels(self):
        self.bad_json(b'{"model":"echo","messages":[{"role":"user","content":"x"}],"x":'
                      + b"[" * 100000 + b"]" * 100000 + b"}")

    def test_05_deep_object_nesting_100000_levels(self):
        self.bad_json(b'{"model":"echo","messages":[{"role":"user","content":"x"}],"x":'
                      + b'{"a":' * 100000 + b"1" + b"}" * 100000 + b"}")

    def test_06_unclosed_deep_nesting(self):
        self.bad_json(b'{"messages":' + b"[" * 200000)

    def test_07_huge_numbers_in_known_fields(self):
        for field, num in (("max_tokens", b"1e999"), ("max_tokens", b"1e400"),
                           ("max_tokens", b"99999999999999999999999999999"),
                           ("max_tokens", b"-1e999"), ("temperature", b"1e308"),
                           ("temperature", b"-1e308"), ("temperature", b"1e999")):
            with self.subTest(field=field, num=num):
                self.bad_json(b'{"model":"echo","' + field.encode() + b'":' + num +
                              b',"messages":[{"role":"user","content":"x"}]}')

    def test_08_huge_number_in_an_unknown_field_goes_upstream_as_sent(self):
        self.mock.reset()
        huge = b'"x":1e999999,"y":' + b"9" * 5000
        self.ok_stream(b'{"model":"echo",' + huge +
                       b',"messages":[{"role":"user","content":"fine"}]}', "fine")
        reqs = self.mock.chat_requests()
        self.assertEqual(len(reqs), 1)
        self.assertIn(huge.decode(), reqs[0]["body"], "the numbers' text reached the upstream unchanged")

    def test_09_raw_nul_byte_inside_a_string(self):
        # JSON forbids raw control characters in strings; taking the string only up to
        # the NUL would silently lose text.
        self.bad_json(content(b"\x00"))

    def test_10_raw_nul_byte_between_tokens(self):
        self.bad_json(b'{"model":"echo",\x00"messages":[{"role":"user","content":"x"}]}')

    def test_11_escaped_nul_is_refused_or_kept_whole(self):
        x = self.exchange(post_raw(content(b"\\u0000")))
        self.assertWellFormed(x)
        if x.first.status == 400:
            self.assertJSONErr(x, 400, "invalid_request")
            return
        self.assertEqual(x.first.status, 200, x)
        up = self.mock.chat_requests()[0]["body_json"]["messages"][-1]["content"]
        self.assertEqual(up, "a\x00b", "the upstream got a cut message")

    def test_12_raw_control_characters_in_strings(self):
        for ch in (b"\n", b"\t", b"\r", b"\x01", b"\x1f"):
            with self.subTest(ch=ch):
                self.bad_json(content(ch))

    def test_13_leading_zeros(self):
        self.bad_json(b'{"model":"echo","max_tokens":010,"messages":[{"role":"user",'
                      b'"content":"x"}]}')

    # ---------------- UTF-8 ----------------
    def test_14_invalid_utf8_in_the_body(self):
        for raw in (b"\xff", b"\xfe", b"\x80", b"\xbf", b"\xc3", b"\xe2\x82", b"\xf0\x9f\x98",
                    b"\xf8\x88\x80\x80\x80", b"\xfc\x84\x80\x80\x80\x80", b"\xf4\x90\x80\x80",
                    b"\xc3\x28", b"\xe2\x28\xa1"):
            with self.subTest(raw=raw):
                self.bad_json(content(raw))
        self.bad_json(b'{"model":"echo","messages":[{"role":"user","content":"x"}],"\xff":1}')
        self.bad_json(b'{"model":"ech\xc0","messages":[{"role":"user","content":"x"}]}')

    def test_15_overlong_utf8(self):
        for raw in (b"\xc0\x80", b"\xc0\xaf", b"\xc1\xbf", b"\xe0\x80\xaf", b"\xe0\x9f\xbf",
                    b"\xf0\x80\x80\xaf", b"\xf0\x8f\xbf\xbf"):
            with self.subTest(raw=raw):
                self.bad_json(content(raw))

    def test_16_utf8_encoded_surrogates(self):
        for raw in (b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xed\xa0\xbd\xed\xb8\x80"):
            with self.subTest(raw=raw):
                self.bad_json(content(raw))

    def test_17_escaped_lone_surrogates(self):
        for esc in (b"\\ud800", b"\\udfff", b"\\udc00", b"\\ud800\\u0041", b"\\udc00\\ud800",
                    b"\\ud800\\ud800", b"\\uDBFF"):
            with self.subTest(esc=esc):
                self.bad_json(content(esc))

    def test_18_escaped_surrogate_pair_and_bad_escapes(self):
        self.ok_stream(content(b"\\ud83d\\ude00"), "a\U0001F600b")
        self.mock.reset()
        for esc in (b"\\q", b"\\u12", b"\\u12G4", b"\\x41", b"\\U0001F600", b"\\u"):
            with self.subTest(esc=esc):
                self.bad_json(content(esc))

    def test_19_invalid_utf8_in_headers(self):
        x = self.exchange(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Junk: \xff\xfe\xc0\xaf"
                          b"\r\nX-Request-Id: \xff\xfe\r\nUser-Agent: \xed\xa0\x80\r\n"
                          b"Connection: close\r\n\r\n")
        self.assertWellFormed(x)
        self.assertEqual(x.first.status, 200, x)
        rid = x.first.header("X-Request-Id") or ""
        self.assertRegex(rid, r"^[A-Za-z0-9._-]{1,39}$", "an odd id must be replaced")
        body = GOOD_BYTES
        x = self.exchange(post_raw(body, extra=b"X-Junk: \x80\x81\r\nAccept-Language: \xff\r\n"))
        self.assertWellFormed(x)
        self.assertEqual(x.first.status, 200)

    def test_20_invalid_utf8_and_nul_in_the_path(self):
        for path in (b"/\xff\xfe", b"/api/chat\xff", b"/api/streams/\xc0\xaf",
                     b"/healthz%00", b"/api/chat%00", b"/%00", b"/%ff%fe", b"/api/%c0%af"):
            with self.subTest(path=path):
                x = self.exchange(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n"
                                  b"Connection: close\r\n\r\n")
                self.assertWellFormed(x)
                self.assertTrue(x.responses, x)
                self.assertIn(x.first.status, (400, 404), x)
                self.assertJSONErr(x, x.first.status,
                                   "invalid_request" if x.first.status == 400 else "not_found")

    # ---------------- fields ----------------
    def test_21_wrong_types_at_every_field(self):
        def body(**kw):
            b = {"model": "echo", "messages": [{"role": "user", "content": "x"}]}
            b.update(kw)
            return json.dumps(b).encode()

        def msg(**kw):
            m = {"role": "user", "content": "x"}
            m.update(kw)
            return json.dumps({"model": "echo", "messages": [m]}).encode()

        cases = []
        for v in ({}, None, 1, "x", True, [[]], [None], [1], ["x"], [True]):
            cases.append(("messages", body(messages=v)))
        for v in (None, [], {}, 1, True, "", "tool", "USER", "function", "bot"):
            cases.append(("role", msg(role=v)))  # ("tool" without tool_call_id)
        for v in ([], {}, True, 1, 1.5, None, ["x"], [{"type": "text"}], [{"type": "x"}]):
            cases.append(("content", msg(content=v)))
        for v in ([], {}, 1, [{"id": "c"}], [{"id": "c", "type": "function", "function": {}}]):
            cases.append(("tool_calls", msg(role="assistant", tool_calls=v)))
        for k, v in (("tools", [{"type": "function"}]), ("tools", {}), ("n", "many"), ("n", 0),
                     ("user", 5), ("seed", [1]), ("stream_options", 7), ("stop", 1),
                     ("top_p", 2), ("tool_choice", "any"), ("stream", "yes")):
            cases.append((k, body(**{k: v})))
        cases.append(("no role", json.dumps({"messages": [{"content": "x"}]}).encode()))
        cases.append(("no content", json.dumps({"messages": [{"role": "user"}]}).encode()))
        for v in (1, [], {}, "", True, "x" * 257):
            cases.append(("model", body(model=v)))
        for v in ("1", [], {}, True, -0.1, 2.0001, -1e-9):
            cases.append(("temperature", body(temperature=v)))
        for v in (0, -1, 1.5, "10", True, [], {}, 1e8, 0.0):
            cases.append(("max_tokens", body(max_tokens=v)))
        for name, b in cases:
            with self.subTest(field=name, body=b[:80]):
                self.bad_json(b)

    def test_22_unknown_fields_of_any_type_are_kept(self):
        extras = {"foo": {"deep": [1, {"x": None}]}, "x_vendor": [None, 1.5, "s"], "seed2": "7"}
        for k, v in extras.items():
            with self.subTest(field=k):
                self.mock.reset()
                b = dict(GOOD, **{k: v})
                b["messages"] = [{"role": "user", "content": "kept " + k, "other": 5}]
                self.ok_stream(json.dumps(b).encode(), "kept " + k)
                up = self.mock.chat_requests()[0]["body_json"]
                self.assertEqual(up[k], v)
                self.assertEqual(up["messages"], b["messages"])

    def test_23_stream_false_still_streams_natively(self):
        # "stream" belongs to the OpenAI API; /api/chat always streams.
        b = dict(GOOD, stream=False)
        b["messages"] = [{"role": "user", "content": "still a stream"}]
        self.ok_stream(json.dumps(b).encode(), "still a stream")

    def test_24_too_many_messages_and_too_long_model(self):
        self.bad_json(json.dumps({"model": "echo",
                                  "messages": [{"role": "user", "content": "a"}] * 1025}).encode())
        self.bad_json(json.dumps({"model": "m" * 100000,
                                  "messages": [{"role": "user", "content": "a"}]}).encode())

    # ---------------- bodies and framing ----------------
    def test_25_empty_and_blank_bodies(self):
        for body in (b"", b" ", b"\r\n\r\n", b"null", b"0", b"[]", b'""', b"true"):
            with self.subTest(body=body):
                self.bad_json(body)

    def test_26_post_without_length_or_chunking(self):
        x = self.exchange(b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                          b"\r\nConnection: close\r\n\r\n")
        self.assertJSONErr(x, 400, "invalid_request")

    def chunked(self, chunks, close=True):
        return (b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n" + (b"Connection: close\r\n" if close else b"")
                + b"\r\n" + chunks)

    def test_27_bad_chunk_sizes(self):
        for chunks in (b"zz\r\nabc\r\n0\r\n\r\n", b"-1\r\nabc\r\n0\r\n\r\n",
                       b"1 2\r\nabc\r\n0\r\n\r\n", b"\r\nabc\r\n0\r\n\r\n",
                       b"3\r\nabcdef\r\n0\r\n\r\n", b"0x3\r\nabc\r\n0\r\n\r\n"):
            with self.subTest(chunks=chunks):
                self.assertRefusedOrClosed(self.exchange(self.chunked(chunks)), (400,))

    def test_28_slow_absurd_chunk_size(self):
        for size in (b"ffffffffffffffffffff", b"fffffffffffffff", b"7fffffffffffffff",
                     b"10000000"):
            with self.subTest(size=size):
                x = self.exchange(self.chunked(size + b"\r\nabc\r\n0\r\n\r\n"))
                self.assertRefusedOrClosed(x, (400, 413))
                if x.responses and x.first.status == 413 and \
                        (x.first.header("Content-Type") or "").startswith("application/json"):
                    self.assertJSONErr(x, 413, "payload_too_large")

    def test_29_truncated_chunked_body_is_cut_by_the_request_timeout(self):
        x = self.exchange(self.chunked(b"40\r\n" + GOOD_BYTES[:20]))
        self.assertRefusedOrClosed(x, (400, 408))
        self.assertLess(x.elapsed, REQUEST_TIMEOUT_MS / 1000 + 1.5)

    def test_30_content_length_longer_than_the_body(self):
        x = self.exchange(post_raw(b"{}")[:-2].replace(b"Content-Length: 2",
                                                        b"Content-Length: 100") + b"{}")
        self.assertRefusedOrClosed(x, (400, 408))
        self.assertLess(x.elapsed, REQUEST_TIMEOUT_MS / 1000 + 1.5)

    def test_31_content_length_shorter_than_the_body(self):
        # The first two bytes are the body; the rest must be read as the next request.
        x = self.exchange(b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/"
                          b"json\r\nContent-Length: 2\r\n\r\n{}GET /healthz HTTP/1.1\r\nHost: x"
                          b"\r\nConnection: close\r\n\r\n")
        self.assertWellFormed(x)
        self.assertEqual([r.status for r in x.responses], [400, 200], x)
        self.assertEqual(x.responses[0].json()["error"]["type"], "invalid_request")
        self.assertEqual(x.responses[1].json(), {"status": "ok"})

    def assertContentLengthRefused(self, values, statuses):
        for cl in values:
            with self.subTest(cl=cl):
                x = self.exchange(post_raw(b"{}").replace(b"Content-Length: 2",
                                                          b"Content-Length: " + cl))
                if x.rest:
                    self.assertLibraryRefused(x, statuses)
                else:
                    self.assertRefusedOrClosed(x, statuses)

    def test_32_absurd_content_length(self):
        self.assertContentLengthRefused((b"99999999999999999999999999", b"18446744073709551616",
                                         b"18446744073709551615", b"100000000"), (400, 413))

    def test_33_malformed_content_length(self):
        self.assertContentLengthRefused((b"-5", b"abc", b"+2", b"2 2", b"0x2", b"2.0", b"",
                                         b"2,2"), (400, 411))

    def test_34_two_different_content_lengths(self):
        # Whichever one a proxy in front believes, the other lets a request hide in the
        # body: RFC 9112 requires a 400 and a close.
        body = GOOD_BYTES
        for first, second in ((len(body), 5), (5, len(body))):
            with self.subTest(first=first, second=second):
                self.mock.reset()
                x = self.exchange(b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                  b"application/json\r\nContent-Length: %d\r\nContent-Length: "
                                  b"%d\r\nConnection: close\r\n\r\n" % (first, second) + body)
                self.assertRefusedOrClosed(x, (400,))

    def test_35_content_length_and_chunked_together(self):
        # RFC 9112 6.1: never framed by Content-Length, and the connection closed after.
        smuggled = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        chunks = b"%x\r\n" % len(GOOD_BYTES) + GOOD_BYTES + b"\r\n0\r\n\r\n"
        x = self.exchange(b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: "
                          b"application/json\r\nContent-Length: 3\r\n"
                          b"Transfer-Encoding: chunked\r\n\r\n" + chunks + smuggled,
                          timeout=REQUEST_TIMEOUT_MS / 1000 + 3)
        self.assertWellFormed(x)
        self.assertTrue(x.responses, x)
        self.assertIn(x.first.status, (200, 400), x)
        self.assertTrue(x.closed, x)
        self.assertEqual(len(x.responses), 1,
                         "a request after an ambiguous body must not be served: %r" % x)
        self.assertLess(x.elapsed, 0.8, "the connection was kept open after a request with "
                                        "both Content-Length and Transfer-Encoding")

    def test_36_slow_unsupported_transfer_encoding(self):
        for te in (b"gzip, chunked", b"xchunked", b"chunked, gzip", b"identity"):
            with self.subTest(te=te):
                x = self.exchange(b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                  b"application/json\r\nTransfer-Encoding: " + te +
                                  b"\r\nConnection: close\r\n\r\n3c\r\n" + GOOD_BYTES[:60] +
                                  b"\r\n0\r\n\r\n")
                self.assertRefusedOrClosed(x, (400, 501))
                self.assertLess(x.elapsed, REQUEST_TIMEOUT_MS / 1000 + 1.5)

    def test_37_expect_100_continue(self):
        s = socket.create_connection(("127.0.0.1", self.chatd.port), timeout=10)
        self.addCleanup(s.close)
        body = chat_body("continued", "echo")
        s.sendall(b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
                  % len(body))
        first = s.recv(4096)
        self.assertTrue(first.startswith(b"HTTP/1.1 100"), first[:100])
        x = self.exchange(body, sock=s)
        self.assertWellFormed(x)
        self.assertEqual([r.status for r in x.responses][-1], 200, x)
        x = self.exchange(b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/"
                          b"json\r\nContent-Length: 99999999\r\nExpect: 100-continue\r\n"
                          b"Connection: close\r\n\r\n")
        self.assertNotIn(b"100 Continue", x.raw)
        self.assertJSONErr(x, 413, "payload_too_large")

    # ---------------- request line ----------------
    def test_38_http09_and_garbage_request_lines(self):
        for line in (b"GET /\r\n", b"GET /healthz\r\n\r\n", b"GET\r\n\r\n", b"\r\n\r\n\r\n",
                     b"/healthz HTTP/1.1\r\n\r\n", b"GET /healthz HTTP/1.1 extra\r\n\r\n",
                     b"G\x00T /healthz HTTP/1.1\r\n\r\n"):
            with self.subTest(line=line):
                self.assertRefusedOrClosed(self.exchange(line), (400, 404, 405, 501, 505))

    def test_39_slow_binary_garbage_and_tls_hello(self):
        for data in (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,
                     bytes(range(256)), b"\x00" * 1000, b"\xff" * 1000 + b"\r\n\r\n"):
            with self.subTest(data=data[:12]):
                x = self.exchange(data)
                self.assertRefusedOrClosed(x, (400, 414, 431, 505))
                self.assertLess(x.elapsed, REQUEST_TIMEOUT_MS / 1000 + 1.5)

    def test_40_unsupported_http_versions(self):
        for ver in (b"HTTP/9.9", b"HTTP/2.0", b"HTTP/1.10", b"HTTP/0.9", b"http/1.1", b"HTTP/1"):
            with self.subTest(ver=ver):
                x = self.exchange(b"GET /healthz " + ver + b"\r\nHost: x\r\n"
                                  b"Connection: close\r\n\r\n")
                self.assertRefusedOrClosed(x, (400, 505))
        x = self.exchange(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        self.assertRefusedOrClosed(x, (400, 405, 505))

    def test_41_long_url_is_431(self):
        x = self.exchange(b"GET /api/streams/" + b"a" * 10000 + b" HTTP/1.1\r\nHost: x\r\n"
                          b"Connection: close\r\n\r\n")
        self.assertJSONErr(x, 431, "header_too_large")

    def test_42_very_long_url(self):
        x = self.exchange(b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n"
                          b"Connection: close\r\n\r\n")
        self.assertRefusedOrClosed(x, (414, 431))

    def test_43_huge_header_block(self):
        x = self.exchange(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" +
                          b"".join(b"X-H%d: v\r\n" % i for i in range(3000)) +
                          b"Connection: close\r\n\r\n")
        self.assertRefusedOrClosed(x, (431,))
        x = self.exchange(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"v" * 9000 +
                          b"\r\nConnection: close\r\n\r\n")
        self.assertJSONErr(x, 431, "header_too_large")

    # ---------------- methods ----------------
    def test_44_wrong_methods_on_the_api(self):
        for method in (b"PUT", b"DELETE", b"PATCH", b"TRACE", b"GET"):
            with self.subTest(method=method):
                x = self.exchange(method + b" /api/chat HTTP/1.1\r\nHost: x\r\nContent-Length: "
                                  b"2\r\nContent-Type: application/json\r\nConnection: close"
                                  b"\r\n\r\n{}")
                self.assertWellFormed(x)
                self.assertEqual(x.first.status, 405, x)
                self.assertIn("POST", x.first.header("Allow") or "")
                self.assertJSONErr(x, 405, "method_not_allowed")

    def test_44b_options_without_origin_is_not_a_preflight(self):
        # No Origin header: not a CORS preflight, so no "origin not allowed"; the method is
        # simply not one /api/chat takes.
        x = self.exchange(b"OPTIONS /api/chat HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertWellFormed(x)
        self.assertIn(x.first.status, (204, 405), x)
        if x.first.status == 405:
            self.assertJSONErr(x, 405, "method_not_allowed")
            self.assertIn("POST", x.first.header("Allow") or "")

    def test_45_connect_and_unknown_methods(self):
        for req in (b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" %
                    (self.mock.port, self.mock.port),
                    b"FOO /api/chat HTTP/1.1\r\nHost: x\r\n",
                    b"get /healthz HTTP/1.1\r\nHost: x\r\n",
                    b"PROPFIND / HTTP/1.1\r\nHost: x\r\n"):
            with self.subTest(req=req[:30]):
                x = self.exchange(req + b"Connection: close\r\n\r\n")
                self.assertRefusedOrClosed(x, (400, 404, 405, 501))
                if x.responses and x.first.status == 405:
                    self.assertJSONErr(x, 405, "method_not_allowed")

    def test_46_trace_does_not_echo_the_request(self):
        x = self.exchange(b"TRACE / HTTP/1.1\r\nHost: x\r\nX-Trace-Marker: cookie=abc123\r\n"
                          b"Connection: close\r\n\r\n")
        self.assertJSONErr(x, 405, "method_not_allowed")
        self.assertNotIn(b"abc123", x.raw)

    def test_47_absolute_form_target_is_not_proxied(self):
        x = self.exchange(b"GET http://127.0.0.1:%d/_mock/requests HTTP/1.1\r\nHost: "
                          b"127.0.0.1:%d\r\nConnection: close\r\n\r\n"
                          % (self.mock.port, self.mock.port))
        self.assertWellFormed(x)
        self.assertTrue(x.responses, x)
        self.assertIn(x.first.status, (400, 404), x)
        self.assertNotIn(b"conn_id", x.raw, "chatd acted as a proxy")

    # ---------------- headers ----------------
    def test_48_header_injection_attempts(self):
        for hdr in (b"X-Request-Id: abc\rX-Injected: yes",
                    b"X-Request-Id: abc%0d%0aX-Injected: yes",
                    b"X-Request-Id: abc\\r\\nX-Injected: yes",
                    b"X-Request-Id: a\x00X-Injected: yes",
                    b"Origin: http://a.test\rAccess-Control-Allow-Origin: *"):
            with self.subTest(hdr=hdr):
                x = self.exchange(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + hdr +
                                  b"\r\nConnection: close\r\n\r\n")
                self.assertWellFormed(x)
                if not x.responses:
                    self.assertTrue(x.closed)
                    continue
                r = x.first
                self.assertIn(r.status, (200, 400), x)
                self.assertIsNone(r.header("X-Injected"), x)
                self.assertIsNone(r.header("Access-Control-Allow-Origin"), x)
                self.assertRegex(r.header("X-Request-Id") or "", r"^[A-Za-z0-9._-]{1,39}$")

    def test_49_malformed_header_lines(self):
        for hdr in (b"NoColonHere", b"Bad Header: x", b" leading-space: x", b"X-A: a\r\n b",
                    b":empty-name", b": x", b"X-Tab\t: x", b"X-Nul: a\x00b", b"X-Ctl: \x01\x02\x7f",
                    b"Content-Type: application/json\x00"):
            with self.subTest(hdr=hdr):
                x = self.exchange(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + hdr +
                                  b"\r\nConnection: close\r\n\r\n")
                self.assertWellFormed(x)
                if x.responses:
                    self.assertIn(x.first.status, (200, 400), x)
                else:
                    self.assertTrue(x.closed, x)

    def test_50_host_header_oddities(self):
        for hosts in (b"", b"Host: a\r\nHost: b\r\n", b"Host: \r\n", b"Host: a b\r\n",
                      b"Host: " + b"h" * 3000 + b"\r\n"):
            with self.subTest(hosts=hosts[:40]):
                x = self.exchange(b"GET /healthz HTTP/1.1\r\n" + hosts +
                                  b"Connection: close\r\n\r\n")
                self.assertWellFormed(x)
                self.assertTrue(x.responses or x.closed, x)
                if x.responses:
                    self.assertIn(x.first.status, (200, 400), x)

    def test_51_content_type_tricks(self):
        for ct in (b"application/jsonx", b"text/plain; application/json", b"application/json-seq",
                   b"application/x-json", b"json", b"*/*", b"multipart/form-data; boundary=x"):
            with self.subTest(ct=ct):
                self.bad_json(GOOD_BYTES, 415, "unsupported_media_type", ctype=ct)
        for ct in (b"APPLICATION/JSON", b"application/json;charset=utf-8",
                   b"application/json ; charset=UTF-8"):
            with self.subTest(ct=ct):
                self.mock.reset()
                x = self.exchange(post_raw(chat_body("typed", "echo"), ctype=ct))
                self.assertEqual(x.first.status, 200, x)

    # ---------------- paths ----------------
    def test_52_path_traversal_variants(self):
        for path in (b"/api/chat/../healthz", b"/api/../../etc/passwd", b"/api/streams/../chat",
                     b"/api/streams/..%2f..%2fetc%2fpasswd", b"/v1/../../../etc/passwd",
                     b"/%2e%2e/%2e%2e/etc/passwd", b"/..%2f..%2f..%2fetc%2fpasswd",
                     b"/....//....//etc/passwd", b"/..\\..\\etc\\passwd",
                     b"/%c0%ae%c0%ae/etc/passwd",
                     b"/static/%2e%2e%5c%2e%2e%5cetc%5cpasswd", b"/./../etc/passwd"):
            with self.subTest(path=path):
                x = self.exchange(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n"
                                  b"Connection: close\r\n\r\n")
                self.assertWellFormed(x)
                self.assertTrue(x.responses, x)
                self.assertIn(x.first.status, (400, 404, 405), x)
                self.assertNotIn(b"root:", x.raw)

    def test_53_odd_percent_encodings(self):
        for path in (b"/%", b"/%zz", b"/api/chat%", b"/api/%61pi", b"/%2fapi%2fchat",
                     b"/api/chat%20", b"/api/chat;x=1", b"/api/chat#frag"):
            with self.subTest(path=path):
                x = self.exchange(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n"
                                  b"Connection: close\r\n\r\n")
                self.assertWellFormed(x)
                self.assertTrue(x.responses, x)
                self.assertIn(x.first.status, (400, 404, 405), x)

    # ---------------- connections ----------------
    def test_54_pipelined_requests_answered_in_order(self):
        x = self.exchange(post_raw(b"{}", close=False) + post_raw(b"{bad", close=False)
                          + b"GET /api/nope HTTP/1.1\r\nHost: x\r\n\r\n"
                          + b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertWellFormed(x)
        statuses = [r.status for r in x.responses]
        self.assertTrue(statuses, x)
        self.assertEqual(statuses, [400, 400, 404, 200][:len(statuses)], x)
        if len(statuses) < 4:
            self.assertEqual((x.responses[-1].header("Connection") or "").lower(), "close",
                             "fewer answers than requests without saying so: %r" % x)

    def test_55_pipelined_chat_then_more(self):
        x = self.exchange(post_raw(chat_body("first", "echo"), close=False)
                          + post_raw(chat_body("second", "echo"), close=False)
                          + b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertWellFormed(x)
        statuses = [r.status for r in x.responses]
        self.assertEqual(statuses, [200, 200, 200][:len(statuses)], x)
        self.assertIn(b'"text":"f"', x.responses[0].body)
        if len(statuses) > 1:
            self.assertIn(b'"text":"s"', x.responses[1].body)

    def test_56_slowloris_many_connections(self):
        socks = []
        for i in range(40):
            s = socket.create_connection(("127.0.0.1", self.chatd.port), timeout=5)
            self.addCleanup(s.close)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow-%d: " % i)
            socks.append(s)
        t0 = time.monotonic()
        self.assertHealthy()
        self.assertLess(time.monotonic() - t0, 0.5, "a fresh client waited behind slow ones")
        open_ = set(range(len(socks)))
        deadline = t0 + REQUEST_TIMEOUT_MS / 1000 + 2.5
        while open_ and time.monotonic() < deadline:
            for i in list(open_):
                try:
                    socks[i].send(b"z")  # keep dribbling: one byte per connection per round
                    socks[i].settimeout(0.01)
                    data = socks[i].recv(4096)
                    if not data:
                        open_.discard(i)
                except socket.timeout:
                    pass
                except OSError:
                    open_.discard(i)
            time.sleep(0.1)  # dribble interval
        self.assertEqual(open_, set(), "slow connections still open %.1f s after the request "
                                       "timeout" % (time.monotonic() - t0))

    def test_57_idle_connection_is_closed(self):
        x = self.exchange(b"", timeout=REQUEST_TIMEOUT_MS / 1000 + 3)
        self.assertTrue(x.closed, "an idle connection stayed open %.1f s" % x.elapsed)
        self.assertEqual(x.raw, b"")
        self.assertLess(x.elapsed, REQUEST_TIMEOUT_MS / 1000 + 1.5)

    def test_58_half_closed_client(self):
        s = socket.create_connection(("127.0.0.1", self.chatd.port), timeout=5)
        self.addCleanup(s.close)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        s.shutdown(socket.SHUT_WR)
        x = self.exchange(b"", sock=s, timeout=4)
        self.assertWellFormed(x)
        if x.responses:
            self.assertEqual(x.first.status, 200)
        self.assertTrue(x.closed)

    def test_59_reset_mid_request_and_mid_body(self):
        for data in (b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: app",
                     b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 500\r\n\r\n" + GOOD_BYTES[:30]):
            s = socket.create_connection(("127.0.0.1", self.chatd.port), timeout=5)
            s.sendall(data)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
            s.close()
        self.assertEqual(self.mock.chat_requests(), [])

    def test_60_many_bad_requests_on_one_connection(self):
        reqs = b"".join(post_raw(b"{bad%d" % i, close=False) for i in range(50))
        x = self.exchange(reqs + b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertWellFormed(x)
        self.assertTrue(x.responses)
        self.assertEqual({r.status for r in x.responses[:50]}, {400})
