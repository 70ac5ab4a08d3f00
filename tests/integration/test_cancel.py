"""POST /api/streams/{id}/cancel: 202, the upstream connection is closed at once (the mock
sees it within 200 ms), every reader's stream ends with done / finish_reason "cancelled"
after the characters already sent; 404 for an unknown stream, 405 for other methods."""

import time

from chatd_harness import ChatdTestCase, chat_body

LONG = "".join("abcdefghijklmnopqrstuvwxyz"[i % 26] for i in range(400))  # 20 s at 50 ms
UNKNOWN_ID = "0123456789abcdef01234567"


class Cancel(ChatdTestCase):
    CHATD_ENV = {"CHATD_MODEL": "echo", "CHATD_UPSTREAM_FIRST_BYTE_TIMEOUT_MS": 30000,
                 "CHATD_UPSTREAM_IDLE_TIMEOUT_MS": 30000}

    def open_live(self, model="slow-50", text=LONG, deltas=3):
        c = self.client()
        r = c.request("POST", "/api/chat", chat_body(text, model))
        r.read_head()
        self.assertEqual(r.status, 200, bytes(r.body[:300]))
        if deltas:
            self.assertTrue(r.read_until(lambda x: len(x.deltas()) >= deltas))
        return c, r

    def cancel(self, sid, method="POST"):
        c = self.client()
        r = c.request(method, "/api/streams/%s/cancel" % sid, b"", None, content_type=None)
        r.read_head()
        r.read_to_end()
        return r

    def assertCancelled(self, r, text=LONG):
        start, middle, term = self.assertStreamFrame(r)
        self.assertEqual(term.event, "done", term)
        self.assertEqual(term.json.get("finish_reason"), "cancelled")
        self.assertTrue(text.startswith(r.text()), "the text before the cancel is a prefix")
        return term

    def assertUpstreamClosedWithin(self, t0, seconds):
        ok, info = self.mock.wait_closed(1, 2.0)
        self.assertTrue(ok, "the mock never saw its connection closed: %r"
                        % [(q["model"], q["phase"]) for q in info["requests"]])
        rec = [q for q in info["requests"] if q["closed_by_peer"]][0]
        self.assertFalse(rec["completed"])
        self.assertLess(rec["closed_at"] - t0, seconds,
                        "upstream closed %.3f s after the cancel" % (rec["closed_at"] - t0))

    def test_cancel_live_stream(self):
        c, r = self.open_live()
        sid = r.events[0].json["stream_id"]
        t0 = time.monotonic()
        resp = self.cancel(sid)
        self.assertEqual(resp.status, 202, bytes(resp.body))
        self.assertEqual((resp.header("Content-Type") or "").split(";")[0], "application/json")
        self.assertEqual(resp.json(), {"stream_id": sid, "status": "cancelling"})
        self.assertUpstreamClosedWithin(t0, 0.2)
        r.read_to_end()
        self.assertCancelled(r)
        self.assertGreaterEqual(len(r.deltas()), 3, "the characters sent before stay")
        self.assertHealthy()

    def test_cancel_while_the_upstream_is_silent(self):
        # ping-gap-20-6: six code points, then 20 s of silence (the sixth is whole only
        # when the upstream says what follows, or ends).
        text = "abcdefghijkl"
        c, r = self.open_live(model="ping-gap-20-6", text=text, deltas=5)
        sid = r.events[0].json["stream_id"]
        t0 = time.monotonic()
        self.assertEqual(self.cancel(sid).status, 202)
        self.assertUpstreamClosedWithin(t0, 0.2)
        r.read_to_end()
        self.assertCancelled(r, text)
        self.assertEqual(r.text(), text[:6])

    def test_cancel_unknown_stream_is_404(self):
        for sid in (UNKNOWN_ID, "f" * 24, "nothex", "0" * 23, "0" * 25):
            with self.subTest(sid=sid):
                self.assertJSONError(self.cancel(sid), 404, "not_found")

    def test_get_on_cancel_is_405(self):
        c, r = self.open_live(model="echo", text="short", deltas=0)
        r.read_to_end()
        sid = r.events[0].json["stream_id"]
        for method in ("GET", "PUT", "DELETE"):
            with self.subTest(method=method):
                resp = self.cancel(sid, method=method)
                self.assertJSONError(resp, 405, "method_not_allowed")
                self.assertIn("POST", resp.header("Allow") or "")

    def test_wrong_method_on_cancel_is_405_whatever_the_id(self):
        """The path is known whether or not the id is: the method is judged first."""
        for sid in (UNKNOWN_ID, "nothex", "0" * 23):
            for method in ("GET", "PUT", "DELETE"):
                with self.subTest(sid=sid, method=method):
                    resp = self.cancel(sid, method=method)
                    self.assertJSONError(resp, 405, "method_not_allowed")
                    self.assertEqual(resp.header("Allow"), "POST")

    def test_cancel_after_the_end_reports_finished_and_keeps_done_stop(self):
        r = self.chat("all done")
        start, _ = self.assertDone(r, "all done")
        sid = start.json["stream_id"]
        resp = self.cancel(sid)
        self.assertEqual(resp.status, 202)
        self.assertEqual(resp.json(), {"stream_id": sid, "status": "finished"})
        again = self.get("/api/streams/" + sid)
        self.assertDone(again, "all done")

    def test_cancel_twice(self):
        c, r = self.open_live()
        sid = r.events[0].json["stream_id"]
        first = self.cancel(sid)
        second = self.cancel(sid)
        self.assertEqual(first.status, 202)
        self.assertEqual(second.status, 202)
        self.assertIn(second.json()["status"], ("cancelling", "finished"))
        r.read_to_end()
        self.assertCancelled(r)

    def test_every_reader_sees_the_cancel(self):
        c, r = self.open_live()
        sid = r.events[0].json["stream_id"]
        c2 = self.client()
        r2 = c2.request("GET", "/api/streams/" + sid, b"", [("Last-Event-ID", "1")],
                        content_type=None)
        r2.read_head()
        self.assertEqual(r2.status, 200)
        self.assertEqual(self.cancel(sid).status, 202)
        r.read_to_end()
        r2.read_to_end()
        self.assertCancelled(r)
        self.assertEqual(r2.events[-1].event, "done")
        self.assertEqual(r2.events[-1].json.get("finish_reason"), "cancelled")
        self.assertEqual([(e.id, e.data) for e in r2.events],
                         [(e.id, e.data) for e in r.events if int(e.id) > 1])

    def test_other_streams_are_unaffected(self):
        c1, r1 = self.open_live()
        text = "the other one finishes"
        c2, r2 = self.open_live(model="slow-10", text=text, deltas=1)
        self.assertEqual(self.cancel(r1.events[0].json["stream_id"]).status, 202)
        r2.read_to_end()
        self.assertDone(r2, text, list(text))
        r1.read_to_end()
        self.assertCancelled(r1)
