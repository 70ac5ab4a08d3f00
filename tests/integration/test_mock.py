"""The test tools themselves: the mock upstream serves every scenario as documented and the
hand-written grapheme table agrees with the UAX#29-lite segmenter. When these fail, the
other tests' verdicts on chatd mean nothing."""

import json
import socket
import time
import unittest

import clusters
from chatd_harness import Client, Mock, UPSTREAM_KEY, mock_upstream

TEXT = clusters.text_of(clusters.CASES["mixed"])


class MockSelfCheck(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()

    @classmethod
    def tearDownClass(cls):
        cls.mock.stop()

    def setUp(self):
        self.mock.reset()

    def upstream(self, model, text=TEXT, usage=False, read=True):
        c = Client(self.mock.port)
        self.addCleanup(c.close)
        body = {"model": model, "stream": True,
                "messages": [{"role": "user", "content": text}]}
        if usage:
            body["stream_options"] = {"include_usage": True}
        r = c.request("POST", "/v1/chat/completions", json.dumps(body),
                      [("Authorization", "Bearer " + UPSTREAM_KEY)])
        if read:
            r.read_head()
            r.read_to_end()
        return r

    def decode(self, r):
        """(content, reasoning, finish_reasons, usage, saw_done, errors)"""
        content, reasoning, finish, usage, done, errors = "", "", [], None, False, []
        for e in r.events:
            if e.data == "[DONE]":
                done = True
                continue
            obj = json.loads(e.data)
            if "error" in obj:
                errors.append(obj["error"])
                continue
            if obj.get("usage"):
                usage = obj["usage"]
            for ch in obj["choices"]:
                content += ch["delta"].get("content") or ""
                reasoning += ch["delta"].get("reasoning_content") or ""
                if ch["finish_reason"]:
                    finish.append(ch["finish_reason"])
        return content, reasoning, finish, usage, done, errors

    def test_cluster_table_matches_segmenter(self):
        self.assertEqual(clusters.check_table(), [])

    def test_segmenter_rejects_a_wrong_table(self):
        self.assertNotEqual(clusters.segment("e\u0301"), ["e", "\u0301"])
        self.assertEqual(clusters.segment("🇫🇷🇩"), ["🇫🇷", "🇩"])

    def test_plain_scenarios_reproduce_the_text(self):
        for model in ("echo", "crlf", "cr", "nospace", "comments", "multiline", "escaped",
                      "split-1", "split-7", "crlf+split-1", "cr+split-1", "tok-1",
                      "multiline+comments+crlf+split-2", "nospace+escaped+split-3"):
            text = TEXT if "split" not in model else "a\u00e9\U0001F469\u200d\U0001F4BB\r\n"
            r = self.upstream(model, text=text)
            self.assertEqual(r.status, 200, model)
            self.assertTrue(r.complete, model)
            self.assertEqual(r.sse.utf8_errors, [], model)
            content, _, finish, usage, done, _ = self.decode(r)
            self.assertEqual(content, text, model)
            self.assertEqual(finish, ["stop"], model)
            self.assertTrue(done, model)
            self.assertIsNone(usage, model)

    def test_split_cuts_utf8_sequences(self):
        body = json.dumps({"model": "split-1", "messages": [{"role": "user", "content": "é👩"}]})
        s = socket.create_connection(("127.0.0.1", self.mock.port), timeout=10)
        self.addCleanup(s.close)
        s.sendall(("POST /v1/chat/completions HTTP/1.1\r\nHost: m\r\nContent-Length: %d\r\n"
                   "Connection: close\r\n\r\n%s" % (len(body), body)).encode())
        raw = b""
        while not raw.endswith(b"\r\n0\r\n\r\n"):
            data = s.recv(65536)
            self.assertTrue(data, "EOF before the end of the body")
            raw += data
        _, _, chunked = raw.partition(b"\r\n\r\n")
        sizes, pos = [], 0
        while True:
            eol = chunked.index(b"\r\n", pos)
            n = int(chunked[pos:eol], 16)
            if n == 0:
                break
            sizes.append(n)
            pos = eol + 2 + n + 2
        self.assertEqual(set(sizes), {1})
        self.assertIn("é👩".encode()[1:2], raw)

    def test_usage_scenarios(self):
        r = self.upstream("usage")
        content, _, finish, usage, done, _ = self.decode(r)
        self.assertEqual(content, TEXT)
        self.assertEqual(usage["prompt_tokens"], mock_upstream.USAGE_PROMPT)
        self.assertEqual(usage["completion_tokens"], mock_upstream.USAGE_COMPLETION)
        self.assertTrue(done)
        first = json.loads(r.events[0].data)
        self.assertEqual(first["choices"][0]["delta"], {"role": "assistant"})
        r = self.upstream("echo", usage=True)
        self.assertIsNotNone(self.decode(r)[3])

    def test_reasoning_and_finish_variants(self):
        content, reasoning, finish, _, done, _ = self.decode(self.upstream("reasoning"))
        self.assertEqual((content, reasoning, done), (TEXT, mock_upstream.REASONING_TEXT, True))
        content, _, finish, _, done, _ = self.decode(self.upstream("nodone"))
        self.assertEqual((content, finish, done), (TEXT, ["stop"], False))
        content, _, finish, _, done, _ = self.decode(self.upstream("finish-length"))
        self.assertEqual((content, finish, done), (TEXT, ["length"], True))
        content, _, finish, _, done, _ = self.decode(self.upstream("close-mid"))
        self.assertEqual((content, finish, done), (TEXT, [], False))

    def test_error_mid_and_badjson(self):
        r = self.upstream("error-mid")
        content, _, _, _, done, errors = self.decode(r)
        self.assertEqual((content, done), (TEXT, False))
        self.assertEqual(errors[0]["message"], "overloaded")
        r = self.upstream("badjson")
        self.assertEqual(r.events[-1].data, "[DONE]")
        with self.assertRaises(ValueError):
            json.loads(r.events[-2].data)

    def test_badutf8(self):
        r = self.upstream("badutf8", text="ab")
        self.assertEqual(len(r.sse.utf8_errors), 1)
        self.assertIn(b'"content": "\xff"', bytes(r.body))
        self.assertEqual(r.events[-1].data, "[DONE]")

    def test_status_scenarios(self):
        for st in (400, 401, 429, 500, 503):
            r = self.upstream("status-%d" % st)
            self.assertEqual(r.status, st)
            self.assertIn("error", r.json())
        r = self.upstream("status-401")
        self.assertIn("sk-test-***123", r.json()["error"]["message"])
        r = self.upstream("status-400")
        self.assertIn(UPSTREAM_KEY, r.json()["error"]["message"])
        self.assertEqual(self.upstream("status-429").header("Retry-After"), "7")

    def test_big(self):
        r = self.upstream("big-50000")
        content, _, finish, _, done, _ = self.decode(r)
        self.assertEqual(content, mock_upstream.big_text(50000))
        self.assertEqual(len(mock_upstream.big_text(50000)), 50000)
        self.assertTrue(done)

    def test_faults_end_the_connection(self):
        r = self.upstream("reset-mid")
        self.assertFalse(r.complete)
        self.assertEqual(self.decode(r)[0], TEXT)
        r = self.upstream("eof-mid")
        self.assertFalse(r.complete)
        self.assertTrue(r.eof)
        self.assertEqual(self.decode(r)[0], TEXT)

    def test_slow_timing(self):
        r = self.upstream("slow-20", text="abcdefghij")
        self.assertEqual(self.decode(r)[0], "abcdefghij")
        ts = [e.t for e in r.events if '"content": "' in e.data and '"content": ""' not in e.data]
        self.assertGreaterEqual(ts[-1] - ts[0], 9 * 0.02 * 0.8)

    def test_wait_closed_sees_a_client_leaving_a_stall(self):
        for model in ("stall-first", "stall-mid", "slow-50", "ping-gap-30"):
            self.mock.reset()
            r = self.upstream(model, text="x" * 100, read=False)
            ok, _ = self.mock.wait_requests(1, 5)
            self.assertTrue(ok)
            ok, _ = self.mock.wait_closed(1, 0.2)
            self.assertFalse(ok, model)  # nothing closed yet: 408 at the timeout
            t0 = time.monotonic()
            r.sock.close()
            ok, info = self.mock.wait_closed(1, 2)
            self.assertTrue(ok, model)
            rec = info["requests"][0]
            self.assertTrue(rec["closed_by_peer"])
            self.assertLess(rec["closed_at"] - t0, 0.5, model)

    def test_ping_gap_splits_at_k(self):
        r = self.upstream("ping-gap-1-2", text="abcd")
        deltas = [(json.loads(e.data)["choices"][0]["delta"].get("content"), e.t)
                  for e in r.events if e.data != "[DONE]" and json.loads(e.data)["choices"]]
        first = [t for c, t in deltas if c and c in "ab"]
        later = [t for c, t in deltas if c and c in "cd"]
        self.assertGreater(min(later) - max(first), 0.8)
        self.assertEqual("".join(c or "" for c, _ in deltas), "abcd")

    def test_held_sends_on_command_and_timestamps_the_sends(self):
        r = self.upstream("held", text="ignored", read=False)
        r.read_head()
        ok, info = self.mock.wait_requests(1, 5)
        self.assertTrue(ok)
        rid = info["requests"][0]["id"]
        self.assertTrue(r.read_until(lambda x: len(x.events) >= 1))  # the role chunk
        st, res = self.mock.call("POST", "/_mock/send?id=%d&text=ab%%20c" % rid)
        self.assertEqual(st, 200, res)
        self.assertTrue(r.read_until(lambda x: "ab c" in self.decode(x)[0]))
        self.assertLessEqual(res["sent_at"], r.events[-1].t)
        self.assertEqual(len(r.events), 1 + 3, "tokens of 1, 2, 3 code points")
        st, res = self.mock.call("POST", "/_mock/end?id=%d&text=d" % rid)
        self.assertEqual(st, 200, res)
        self.assertLessEqual(res["sent_at"], res["ended_at"])
        r.read_to_end()
        self.assertTrue(r.complete)
        content, _, finish, _, done, _ = self.decode(r)
        self.assertEqual((content, finish, done), ("ab cd", ["stop"], True))
        self.assertLessEqual(res["ended_at"], r.events[-1].t)
        st, res = self.mock.call("POST", "/_mock/send?id=%d&text=x&timeout=0.1" % rid)
        self.assertEqual(st, 404, "an ended response takes no more commands: %r" % res)

    def test_records(self):
        self.upstream("echo", text="hi")
        recs = self.mock.requests()
        self.assertEqual(len(recs), 1)
        self.assertEqual(recs[0]["path"], "/v1/chat/completions")
        self.assertIn(["Authorization", "Bearer " + UPSTREAM_KEY], recs[0]["headers"])
        self.assertEqual(recs[0]["body_json"]["messages"][0]["content"], "hi")
        self.assertTrue(recs[0]["completed"])


if __name__ == "__main__":
    unittest.main()
