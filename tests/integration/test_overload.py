"""Over the configured number of concurrent streams chatd answers 503 overloaded (JSON)
before contacting the upstream, and serves again once a stream has ended."""

import time

from chatd_harness import ChatdTestCase, chat_body


class Overload(ChatdTestCase):
    CHATD_ENV = {"CHATD_MAX_STREAMS": 1, "CHATD_RESUME_GRACE_MS": 0}

    def test_second_stream_over_max_streams_is_503_until_the_first_ends(self):
        text = "abcdefghijklmnopqrst"  # 20 tokens, 50 ms apart
        c = self.client()
        r1 = c.request("POST", "/api/chat", chat_body(text, "slow-50"))
        r1.read_head()
        self.assertEqual(r1.status, 200)
        self.assertTrue(r1.read_until(lambda x: len(x.deltas()) >= 2))
        r2 = self.chat("second", model="echo")
        self.assertJSONError(r2, 503, "overloaded")
        self.assertEqual([q["model"] for q in self.mock.chat_requests()], ["slow-50"],
                         "the refused request must not reach the upstream")
        self.assertHealthy()
        r1.read_to_end()
        self.assertDone(r1, text, list(text))
        # The slot is free once the first stream has ended (allow 2 s for bookkeeping).
        deadline = time.monotonic() + 2.0
        while True:
            r3 = self.chat("third", model="echo")
            if r3.status != 503 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertDone(r3, "third")
