"""SIGTERM / SIGINT: open streams end with an error event of type shutdown (or finish
within the grace period, complete), upstream connections are dropped, and the process
exits 0 within a few seconds."""

import signal
import time

from chatd_harness import ChatdTestCase, chat_body

LONG = "".join("abcdefghijklmnopqrstuvwxyz"[i % 26] for i in range(200))  # 10 s at 50 ms
GRACE_MS = 500


class Shutdown(ChatdTestCase):
    PER_TEST = True
    CHATD_ENV = {"CHATD_SHUTDOWN_GRACE_MS": GRACE_MS, "CHATD_RESUME_GRACE_MS": 0}

    def open_stream(self, text=LONG, model="slow-50", deltas=3):
        c = self.client()
        r = c.request("POST", "/api/chat", chat_body(text, model))
        r.read_head()
        self.assertEqual(r.status, 200)
        self.assertTrue(r.read_until(lambda x: len(x.deltas()) >= deltas))
        return r

    def stop_with(self, sig, streams, grace_ms=GRACE_MS):
        t0 = time.monotonic()
        self.chatd.proc.send_signal(sig)
        for r in streams:
            r.read_to_end(grace_ms / 1000.0 + 5)
        rc = self.chatd.wait(grace_ms / 1000.0 + 5)
        took = time.monotonic() - t0
        self.assertEqual(rc, 0, "exit code after the signal; stderr:\n" + self.chatd.stderr())
        self.assertLess(took, grace_ms / 1000.0 + 3.0, "took %.1f s to exit" % took)
        self.assertNoSecret(self.chatd.stderr(), "chatd's stderr")
        return took

    def test_sigterm_ends_two_open_streams_with_shutdown_and_exits_0(self):
        a = self.open_stream()
        b = self.open_stream()
        self.stop_with(signal.SIGTERM, [a, b])
        for r in (a, b):
            self.assertErrorEvent(r, "shutdown", text_prefix=LONG)
        ok, info = self.mock.wait_closed(2, 2.0)
        self.assertTrue(ok, "the upstream connections were not closed: %r"
                        % [(q["phase"], q["completed"]) for q in info["requests"]])

    def test_sigint_ends_an_open_stream_with_shutdown_and_exits_0(self):
        a = self.open_stream()
        self.stop_with(signal.SIGINT, [a])
        self.assertErrorEvent(a, "shutdown", text_prefix=LONG)

    def test_sigterm_when_idle_exits_0_quickly(self):
        r = self.chat("before")
        self.assertDone(r, "before")
        took = self.stop_with(signal.SIGTERM, [])
        self.assertLess(took, 2.0)

    def test_sigterm_with_a_long_grace_lets_a_short_stream_finish_or_end_cleanly(self):
        self.chatd.stop()
        self.chatd = self.start_chatd(CHATD_SHUTDOWN_GRACE_MS=4000)
        text = "finishing up"  # 12 tokens 50 ms apart: 0.6 s, well inside 4 s
        r = self.open_stream(text=text, deltas=1)
        self.stop_with(signal.SIGTERM, [r], grace_ms=4000)
        _, _, term = self.assertStreamFrame(r)
        if term.event == "done":
            self.assertDone(r, text, list(text))
        else:
            self.assertErrorEvent(r, "shutdown", text_prefix=text)
