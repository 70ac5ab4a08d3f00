"""Clients that leave or stall. One that goes away stops the upstream at once
(CHATD_RESUME_GRACE_MS=0): the mock sees its connection closed within 1 s, whatever phase
the stream was in, and other streams are unaffected. One that stops reading does not make
chatd's memory grow, and gets the whole text or an error event once it reads again."""

import os
import time

from chatd_harness import ChatdTestCase, chat_body, mock_upstream

LONG = "".join("abcdefghijklmnopqrstuvwxyz"[i % 26] for i in range(400))  # 20 s at 50 ms


class Disconnect(ChatdTestCase):
    CHATD_ENV = {"CHATD_RESUME_GRACE_MS": 0,
                 "CHATD_UPSTREAM_FIRST_BYTE_TIMEOUT_MS": 30000,
                 "CHATD_UPSTREAM_IDLE_TIMEOUT_MS": 30000}

    def open_stream(self, model, text=LONG, deltas=3):
        c = self.client()
        r = c.request("POST", "/api/chat", chat_body(text, model))
        if deltas is None:
            return c, r
        r.read_head()
        self.assertEqual(r.status, 200)
        self.assertTrue(r.read_until(lambda x: len(x.deltas()) >= deltas),
                        "the stream ended early: %r" % r.events[-3:])
        return c, r

    def assertUpstreamClosedWithin(self, t0, seconds=1.0):
        ok, info = self.mock.wait_closed(1, seconds)
        self.assertTrue(ok, "chatd kept the upstream open %.1f s after the client left: %r"
                        % (seconds, [(q["model"], q["phase"], q["completed"])
                                     for q in info["requests"]]))
        rec = [q for q in info["requests"] if q["closed_by_peer"]][0]
        self.assertLess(rec["closed_at"] - t0, seconds)
        self.assertFalse(rec["completed"])

    def test_close_mid_stream_closes_upstream_within_1s(self):
        c, r = self.open_stream("slow-50")
        self.assertEqual(r.text(), LONG[:len(r.deltas())])
        t0 = time.monotonic()
        c.close()
        self.assertUpstreamClosedWithin(t0)
        self.assertHealthy()

    def test_reset_mid_stream_closes_upstream_within_1s(self):
        c, r = self.open_stream("slow-50")
        t0 = time.monotonic()
        c.abort()
        self.assertUpstreamClosedWithin(t0)
        self.assertHealthy()

    def test_close_during_upstream_silence_closes_upstream_within_1s(self):
        # ping-gap-20-6: six code points, then 20 s of silence. The client leaves while
        # chatd has nothing to write.
        c, r = self.open_stream("ping-gap-20-6", text="abcdefghijkl", deltas=5)
        t0 = time.monotonic()
        c.close()
        self.assertUpstreamClosedWithin(t0)
        self.assertHealthy()

    def test_close_before_the_first_upstream_byte_closes_upstream_within_1s(self):
        c, r = self.open_stream("stall-first", deltas=None)
        ok, _ = self.mock.wait_requests(1, 5)
        self.assertTrue(ok, "the request never reached the upstream")
        t0 = time.monotonic()
        c.close()
        self.assertUpstreamClosedWithin(t0)
        self.assertHealthy()

    def test_other_streams_are_unaffected(self):
        text = "the other stream finishes"
        c1, r1 = self.open_stream("slow-50")
        c2, r2 = self.open_stream("slow-20", text=text, deltas=1)
        c1.close()
        r2.read_to_end()
        self.assertDone(r2, text, list(text))
        ok, info = self.mock.wait_closed(1, 1.0)
        self.assertTrue(ok)
        self.assertEqual([q["model"] for q in info["requests"] if q["closed_by_peer"]],
                         ["slow-50"])


def _small_asan_quarantine():
    """Under AddressSanitizer freed memory sits in a quarantine (256 MB by default) that
    would count as growth; keep it small. Ignored by a build without ASan."""
    opts = [o for o in os.environ.get("ASAN_OPTIONS", "").split(":") if o]
    opts.append("quarantine_size_mb=4")
    return ":".join(opts)


class Backpressure(ChatdTestCase):
    """A client that stops reading must not make chatd's memory grow without bound; once
    it reads again, the text is complete and exact or the stream ends with an error event
    (never silently truncated). A million characters: held as SSE events they would take
    ~45 MB, as one small struct each ~30-60 MB, so the 32 MB bound catches an unbounded
    queue while the per-stream caps (well under 2 MB) pass easily."""

    CHATD_ENV = {"ASAN_OPTIONS": _small_asan_quarantine()}
    N = 1000000
    RSS_BOUND_KB = 32 * 1024

    def test_slow_client_big_answer_memory_bounded_and_never_truncated(self):
        text = mock_upstream.big_text(self.N)
        warm = self.chat("warm up")
        self.assertDone(warm, "warm up")
        base = self.chatd.rss_kb()
        c = self.client(rcvbuf=4096)
        r = c.request("POST", "/api/chat", chat_body("", "big-%d" % self.N))
        r.read_head(30)
        self.assertEqual(r.status, 200)
        self.assertTrue(r.read_until(lambda x: len(x.deltas()) >= 10, 30))
        # Stop reading. Watch chatd's memory while the upstream pushes as fast as chatd
        # takes it; stop watching when the upstream has been stuck or done for 2 s.
        peak, last_sent, still_since = base, -1, time.monotonic()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            peak = max(peak, self.chatd.rss_kb())
            recs = self.mock.chat_requests()
            sent = recs[-1]["sent_bytes"] if recs else 0
            if sent != last_sent:
                last_sent, still_since = sent, time.monotonic()
            elif time.monotonic() - still_since > 2.0:
                break
            time.sleep(0.1)
        grown = peak - base
        self.assertLess(grown, self.RSS_BOUND_KB,
                        "chatd grew %d KB while the client did not read" % grown)
        r.read_to_end(300)
        start, middle, term = self.assertStreamFrame(r)
        got = r.deltas()
        if term.event == "done":
            self.assertEqual(len(got), len(text))
            self.assertEqual("".join(got), text, "the whole text, exact")
            self.assertEqual(got, list(text), "one cluster per delta")
        else:
            self.assertTrue(text.startswith("".join(got)), "an exact prefix before the error")
            self.assertIsInstance(term.json["error"]["type"], str)
        self.assertHealthy()

    def test_fast_client_big_answer_exact(self):
        text = mock_upstream.big_text(200000)
        r = self.chat("", model="big-200000", timeout=120)
        self.assertDone(r, text, list(text))
