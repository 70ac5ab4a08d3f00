"""Client authentication (CHATD_API_KEYS, CHATD_API_KEYS_FILE) and the limits: concurrent
streams per client (429) and in total (503), the per-client request rate (429 with
Retry-After), number and size of messages (400), header size (431), slow requests
(disconnected after CHATD_REQUEST_TIMEOUT_MS) and the longest stream (max_duration)."""

import json
import os
import select
import socket
import tempfile
import time

from chatd_harness import ChatdTestCase, chat_body

LONG = "".join("abcdefghijklmnopqrstuvwxyz"[i % 26] for i in range(400))  # 20 s at 50 ms
K1, K2 = "k1-client-AAAA1111", "k2-client-BBBB2222"


def bearer(key):
    return [("Authorization", "Bearer " + key)]


class LiveStreams:
    """Opening streams that stay live, and cancelling them."""

    def open_live(self, headers=None, model="slow-50", text=LONG):
        c = self.client()
        r = c.request("POST", "/api/chat", chat_body(text, model), headers)
        r.read_head()
        self.assertEqual(r.status, 200, bytes(r.body[:300]))
        self.assertTrue(r.read_until(lambda x: len(x.deltas()) >= 1))
        return c, r

    def cancel(self, r, headers=None):
        sid = r.events[0].json["stream_id"]
        resp = self.post(b"", path="/api/streams/%s/cancel" % sid, headers=headers,
                         content_type=None)
        self.assertEqual(resp.status, 202, bytes(resp.body))
        r.read_to_end()

    def poll_until_admitted(self, headers=None, timeout=5.0):
        """Chats until one is not refused; returns the last response."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.chat("again", headers=headers)
            if r.status == 200 or time.monotonic() > deadline:
                return r
            time.sleep(0.05)  # poll interval


class Auth(LiveStreams, ChatdTestCase):
    CHATD_ENV = {"CHATD_MODEL": "echo", "CHATD_API_KEYS": "%s,%s" % (K1, K2)}

    @classmethod
    def setUpClass(cls):
        cls.web = tempfile.TemporaryDirectory(prefix="chatd-web-")
        cls.addClassCleanup(cls.web.cleanup)
        with open(os.path.join(cls.web.name, "index.html"), "w") as f:
            f.write("<!doctype html><title>ui</title>")
        cls.CHATD_ENV = dict(cls.CHATD_ENV, CHATD_WEB_ROOT=cls.web.name)
        super().setUpClass()


    BAD = [
        [],
        [("Authorization", "Bearer wrong-key")],
        [("Authorization", "Bearer ")],
        [("Authorization", "Basic " + "azE6cGFzcw==")],
        [("Authorization", K1)],
        [("Authorization", "Bearer " + K1[:-1])],
        [("Authorization", "Bearer " + K1 + "X")],
        [("Authorization", "Bearer " + K1 + " " + K2)],
        [("Authorization", "Bearer " + K1.upper())],
    ]

    def assert401(self, r):
        self.assertJSONError(r, 401, "unauthorized")
        self.assertEqual(r.header("WWW-Authenticate"), "Bearer")

    def test_chat_without_or_with_a_wrong_key_is_401(self):
        for headers in self.BAD:
            with self.subTest(headers=headers):
                self.assert401(self.chat("hi", headers=headers))
        self.assertEqual(self.mock.chat_requests(), [], "a refused request went upstream")

    def test_each_key_is_accepted(self):
        for key in (K1, K2):
            with self.subTest(key=key):
                self.assertDone(self.chat("ok", headers=bearer(key)), "ok")

    def test_scheme_is_case_insensitive(self):
        self.assertDone(self.chat("ok", headers=[("Authorization", "bearer " + K1)]), "ok")

    def test_v1_needs_a_key(self):
        body = json.dumps({"model": "echo", "stream": True,
                           "messages": [{"role": "user", "content": "x"}]})
        for headers in self.BAD[:3]:
            with self.subTest(headers=headers):
                r = self.post(body, path="/v1/chat/completions", headers=headers)
                self.assertEqual(r.status, 401)
                self.assertEqual(r.header("WWW-Authenticate"), "Bearer")
                self.assertEqual(r.json()["error"]["code"], "unauthorized")
                r = self.get("/v1/models", headers=headers)
                self.assertEqual(r.status, 401)
        self.assertEqual(self.get("/v1/models", headers=bearer(K2)).status, 200)

    def test_streams_need_a_key(self):
        r = self.chat("resumable", headers=bearer(K1))
        start, _ = self.assertDone(r, "resumable")
        sid = start.json["stream_id"]
        for headers in self.BAD[:3]:
            with self.subTest(headers=headers):
                self.assert401(self.get("/api/streams/" + sid, headers=headers))
                self.assert401(self.post(b"", path="/api/streams/%s/cancel" % sid,
                                         headers=headers, content_type=None))
                self.assert401(self.get("/api/streams/" + "0" * 24, headers=headers))
        self.assertDone(self.get("/api/streams/" + sid, headers=bearer(K1)), "resumable")
        resp = self.post(b"", path="/api/streams/%s/cancel" % sid, headers=bearer(K1),
                         content_type=None)
        self.assertEqual(resp.status, 202)

    def test_open_endpoints_need_no_key(self):
        self.assertEqual(self.get("/healthz").status, 200)
        self.assertEqual(self.get("/metrics").status, 200)
        self.assertIn(self.get("/readyz").status, (200, 503))
        r = self.get("/")
        self.assertEqual(r.status, 200)
        self.assertIn(b"<title>ui</title>", bytes(r.body))

    def test_client_key_never_goes_upstream(self):
        r = self.chat("private", headers=bearer(K1))
        self.assertDone(r, "private")
        recs = self.mock.chat_requests()
        self.assertEqual(len(recs), 1)
        self.upstream_auth_ok(recs[0])
        dump = json.dumps(recs[0])
        self.assertNotIn(K1, dump, "the client key was forwarded upstream")
        self.assertNotIn(K1, self.chatd.stderr(), "the client key was logged")


class AuthKeysFile(ChatdTestCase):
    CHATD_ENV = {"CHATD_MODEL": "echo", "CHATD_API_KEYS": "env-key-EEEE"}

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="chatd-keys-")
        cls.addClassCleanup(cls.tmp.cleanup)
        path = os.path.join(cls.tmp.name, "keys.txt")
        with open(path, "wb") as f:
            f.write(b"# chatd client keys\n"
                    b"file-key-ONE\n"
                    b"   file-key-TWO  \t\n"
                    b"\n"
                    b"# file-key-COMMENTED\n"
                    b"file-key-THREE\r\n")
        cls.CHATD_ENV = dict(cls.CHATD_ENV, CHATD_API_KEYS_FILE=path)
        super().setUpClass()


    def test_keys_from_the_file_and_the_environment(self):
        for key in ("file-key-ONE", "file-key-TWO", "file-key-THREE", "env-key-EEEE"):
            with self.subTest(key=key):
                self.assertDone(self.chat("ok", headers=bearer(key)), "ok")

    def test_comments_and_blank_lines_are_not_keys(self):
        for key in ("# chatd client keys", "file-key-COMMENTED", "# file-key-COMMENTED",
                    "chatd client keys", "file-key-TW", "file-key-THREEE"):
            with self.subTest(key=key):
                r = self.chat("no", headers=[("Authorization", "Bearer " + key)])
                self.assertJSONError(r, 401, "unauthorized")
        r = self.chat("no", headers=[("Authorization", "Bearer")])
        self.assertJSONError(r, 401, "unauthorized")


class StreamsPerClientByKey(LiveStreams, ChatdTestCase):
    CHATD_ENV = {"CHATD_MODEL": "echo", "CHATD_API_KEYS": "%s,%s" % (K1, K2),
                 "CHATD_MAX_STREAMS_PER_CLIENT": 1}

    def test_second_concurrent_stream_of_a_key_is_429_other_key_unaffected(self):
        c, live = self.open_live(bearer(K1))
        r = self.chat("second", headers=bearer(K1))
        self.assertJSONError(r, 429, "rate_limited")
        self.assertRegex(r.header("Retry-After") or "", r"^[1-9][0-9]*$")
        other = self.chat("other", headers=bearer(K2))
        self.assertDone(other, "other")
        self.cancel(live, bearer(K1))
        again = self.poll_until_admitted(bearer(K1))
        self.assertDone(again, "again")


class StreamsPerClientByAddress(LiveStreams, ChatdTestCase):
    CHATD_ENV = {"CHATD_MODEL": "echo", "CHATD_MAX_STREAMS_PER_CLIENT": 1}

    def test_second_concurrent_stream_from_one_address_is_429(self):
        c, live = self.open_live()
        r = self.chat("second")
        self.assertJSONError(r, 429, "rate_limited")
        self.assertRegex(r.header("Retry-After") or "", r"^[1-9][0-9]*$")
        self.cancel(live)
        self.assertDone(self.poll_until_admitted(), "again")


class RateLimit(LiveStreams, ChatdTestCase):
    KEYS = ["rate-key-%d" % i for i in range(4)]
    CHATD_ENV = {"CHATD_MODEL": "echo", "CHATD_API_KEYS": ",".join(KEYS),
                 "CHATD_RATE_LIMIT_PER_MINUTE": 60, "CHATD_RATE_LIMIT_BURST": 2}

    def test_third_quick_request_is_429_with_retry_after(self):
        h = bearer(self.KEYS[0])
        self.assertDone(self.chat("one", headers=h), "one")
        self.assertDone(self.chat("two", headers=h), "two")
        r = self.chat("three", headers=h)
        self.assertJSONError(r, 429, "rate_limited")
        ra = r.header("Retry-After") or ""
        self.assertRegex(ra, r"^[0-9]+$")
        self.assertGreaterEqual(int(ra), 1)
        self.assertLessEqual(int(ra), 60)
        # another client is not affected
        self.assertDone(self.chat("other", headers=bearer(self.KEYS[1])), "other")

    def test_admitted_again_after_retry_after(self):
        h = bearer(self.KEYS[2])
        statuses = [self.chat("x", headers=h).status for _ in range(3)]
        self.assertEqual(statuses, [200, 200, 429])
        t0 = time.monotonic()
        r = self.poll_until_admitted(h, timeout=4)
        self.assertEqual(r.status, 200, "not admitted again within 4 s at 60/minute")
        self.assertLess(time.monotonic() - t0, 2.5)

    def test_openai_429_shape(self):
        h = bearer(self.KEYS[3])
        body = json.dumps({"model": "echo", "stream": False,
                           "messages": [{"role": "user", "content": "x"}]})
        rs = [self.post(body, path="/v1/chat/completions", headers=h) for _ in range(3)]
        self.assertEqual([r.status for r in rs], [200, 200, 429])
        err = rs[2].json()["error"]
        self.assertEqual(err["code"], "rate_limited")
        self.assertEqual(err["type"], "rate_limit_error")
        self.assertIsNotNone(rs[2].header("Retry-After"))


class MessageLimits(ChatdTestCase):
    CHATD_ENV = {"CHATD_MODEL": "echo", "CHATD_MAX_MESSAGES": 3,
                 "CHATD_MAX_MESSAGE_BYTES": 10}

    def msgs(self, n, content="hi"):
        return [{"role": "user" if i % 2 == 0 else "assistant", "content": content}
                for i in range(n)]

    def test_max_messages(self):
        self.assertDone(self.chat(messages=self.msgs(3)), "hi")
        self.assertJSONError(self.chat(messages=self.msgs(4)), 400, "invalid_request")
        self.assertEqual(len(self.mock.chat_requests()), 1)

    def test_max_message_bytes(self):
        self.assertDone(self.chat("0123456789"), "0123456789")
        self.assertDone(self.chat("\u00e9" * 5), "\u00e9" * 5)  # 10 bytes
        for text in ("0123456789A", "\u00e9" * 5 + "x", "\U0001F600" * 3):
            with self.subTest(text=text):
                self.assertJSONError(self.chat(text), 400, "invalid_request")
        sys_long = [{"role": "system", "content": "s" * 11}, {"role": "user", "content": "u"}]
        self.assertJSONError(self.chat(messages=sys_long), 400, "invalid_request")

    def test_limits_apply_to_v1(self):
        body = json.dumps({"model": "echo", "messages": self.msgs(4)})
        r = self.post(body, path="/v1/chat/completions")
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json()["error"]["code"], "invalid_request")


class HeaderLimit(ChatdTestCase):
    CHATD_ENV = {"CHATD_MODEL": "echo", "CHATD_MAX_HEADER_BYTES": 2048}

    def test_4k_header_is_431(self):
        pad = [("X-Pad", "p" * 4096)]
        self.assertJSONError(self.chat("hi", headers=pad), 431, "header_too_large")
        self.assertJSONError(self.get("/healthz", headers=pad), 431, "header_too_large")
        self.assertEqual(self.mock.chat_requests(), [])
        self.assertHealthy()

    def test_many_small_headers_over_the_limit_are_431(self):
        hs = [("X-H%d" % i, "v" * 20) for i in range(120)]
        self.assertJSONError(self.chat("hi", headers=hs), 431, "header_too_large")

    def test_1k_header_is_fine(self):
        self.assertDone(self.chat("hi", headers=[("X-Pad", "p" * 1024)]), "hi")


class SlowRequests(ChatdTestCase):
    """A request head or body that trickles in is cut after CHATD_REQUEST_TIMEOUT_MS (1 s)
    while everyone else is served. Each test takes about 1-2 s."""

    CHATD_ENV = {"CHATD_MODEL": "echo", "CHATD_REQUEST_TIMEOUT_MS": 1000}
    LIMIT = 2.0

    def dribble(self, head, body=b"", head_at_once=False):
        """Sends one byte every 200 ms until the server closes the connection (or 5 s);
        returns (seconds until closed or None, bytes received)."""
        s = socket.create_connection(("127.0.0.1", self.chatd.port), timeout=5)
        self.addCleanup(s.close)
        data = head + body
        pos = 0
        if head_at_once:
            s.sendall(head)
            pos = len(head)
        t0 = time.monotonic()
        got = b""
        served_meanwhile = False
        while time.monotonic() - t0 < 5:
            if pos < len(data):
                try:
                    s.send(data[pos:pos + 1])
                except OSError:
                    return time.monotonic() - t0, got
                pos += 1
            if not served_meanwhile and time.monotonic() - t0 > 0.3:
                t1 = time.monotonic()
                self.assertHealthy()
                self.assertLess(time.monotonic() - t1, 0.5, "others wait behind a slow client")
                served_meanwhile = True
            ready, _, _ = select.select([s], [], [], 0.2)
            if ready:
                try:
                    chunk = s.recv(65536)
                except ConnectionResetError:
                    return time.monotonic() - t0, got
                if not chunk:
                    return time.monotonic() - t0, got
                got += chunk
        return None, got

    def assertCut(self, took, got):
        self.assertIsNotNone(took, "the slow request was not cut within 5 s: %r" % got[:200])
        self.assertLess(took, self.LIMIT + 0.3, "cut after %.2f s" % took)
        self.assertGreater(took, 0.8, "cut after %.2f s, before the timeout" % took)
        self.assertFalse(got.startswith(b"HTTP/1.1 200"), got[:200])

    def test_dribbled_headers_are_cut(self):
        head = (b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"X-Slow: " + b"s" * 100 + b"\r\n\r\n")
        took, got = self.dribble(head)
        self.assertCut(took, got)
        self.assertEqual(self.mock.chat_requests(), [])
        self.assertHealthy()

    def test_dribbled_body_is_cut(self):
        body = chat_body("slow body " * 5, "echo")
        head = (b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body))
        took, got = self.dribble(head, body, head_at_once=True)
        self.assertCut(took, got)
        self.assertEqual(self.mock.chat_requests(), [])
        self.assertHealthy()

    def test_a_streaming_answer_is_not_cut(self):
        text = "x" * 40
        r = self.chat(text, model="slow-50", timeout=10)
        self.assertDone(r, text)
        self.assertGreater(r.t_end - r.t_sent, 1.5, "the answer streamed past the timeout")


class MaxDuration(ChatdTestCase):
    CHATD_ENV = {"CHATD_MODEL": "echo", "CHATD_MAX_STREAM_DURATION_MS": 1500,
                 "CHATD_UPSTREAM_IDLE_TIMEOUT_MS": 30000}

    def test_slow_stream_ends_with_max_duration(self):
        r = self.chat(LONG, model="slow-50", timeout=10)
        took = r.t_end - r.t_sent
        self.assertErrorEvent(r, "max_duration", text_prefix=LONG)
        self.assertGreater(len(r.deltas()), 5)
        self.assertGreater(took, 1.4)
        self.assertLess(took, 2.6, "ended %.2f s after the request" % took)
        ok, _ = self.mock.wait_closed(1, 1.0)
        self.assertTrue(ok, "the upstream request was not aborted")
        self.assertDone(self.chat("quick"), "quick")


class MaxStreams(LiveStreams, ChatdTestCase):
    CHATD_ENV = {"CHATD_MODEL": "echo", "CHATD_MAX_STREAMS": 1}

    def test_second_stream_is_503_overloaded(self):
        c, live = self.open_live()
        r = self.chat("second")
        self.assertJSONError(r, 503, "overloaded")
        self.assertIsNotNone(r.header("Retry-After"))
        self.assertHealthy()
        self.cancel(live)
        self.assertDone(self.poll_until_admitted(), "again")
