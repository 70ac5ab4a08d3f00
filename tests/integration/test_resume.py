"""GET /api/streams/{id}: replay after Last-Event-ID (header or ?last_event_id=), then
follow live; several readers at once; a reader that drops and resumes gets every event
exactly once; 204 after the terminal event; 400 / 404; retention; the resume grace
(CHATD_RESUME_GRACE_MS) keeps the upstream running for a client that comes back and
cancels it for one that does not."""

import threading
import time

import clusters
from chatd_harness import READ_TIMEOUT, ChatdTestCase, chat_body

TEXT_CL = ["H", "e", "l", "l", "o", " ", "👩\u200d💻", " ", "🇫🇷", " ", "e\u0301", "中", "!"]
TEXT = "".join(TEXT_CL)
LONG = "".join("abcdefghijklmnopqrstuvwxyz"[i % 26] for i in range(400))
UNKNOWN_ID = "0" * 24


def triples(events, after=-1):
    return [(e.id, e.event, e.data) for e in events if int(e.id) > after]


class ResumeMixin:
    def resume(self, sid, last=None, query=None, read=True, timeout=READ_TIMEOUT,
               method="GET"):
        headers = [] if last is None else [("Last-Event-ID", str(last))]
        path = "/api/streams/" + sid
        if query is not None:
            path += "?last_event_id=" + str(query)
        c = self.client()
        r = c.request(method, path, b"", headers, content_type=None)
        r.read_head(timeout)
        if read:
            r.read_to_end(timeout)
        return r

    def open_live(self, model, text=LONG, deltas=3):
        """A POST /api/chat whose answer is still streaming; returns (client, response,
        stream id) after `deltas` deltas arrived."""
        c = self.client()
        r = c.request("POST", "/api/chat", chat_body(text, model))
        r.read_head()
        self.assertEqual(r.status, 200, bytes(r.body[:300]))
        self.assertTrue(r.read_until(lambda x: len(x.deltas()) >= deltas),
                        "the stream ended early: %r" % r.events[-3:])
        return c, r, r.events[0].json["stream_id"]

    def assertResumed(self, r, sid, after):
        """A resume response: status, headers, retry first, ids contiguous from after+1,
        exactly one terminal event at the end."""
        self.assertEqual(r.status, 200, bytes(r.body[:300]))
        self.assertEqual(r.header("Content-Type"), "text/event-stream; charset=utf-8")
        self.assertEqual(r.header("Cache-Control"), "no-cache, no-transform")
        self.assertEqual(r.header("X-Accel-Buffering"), "no")
        self.assertEqual(r.header("X-Chatd-Stream-Id"), sid)
        self.assertIsNone(r.header("Content-Encoding"))
        self.assertTrue(r.complete, "the resumed body did not end properly")
        self.assertTrue(r.body.startswith(b"retry: 3000\n"), r.body[:40])
        self.assertEqual(r.sse.utf8_errors, [])
        ids = [int(e.id) for e in r.events]
        self.assertTrue(ids, "no events after %d" % after)
        self.assertEqual(ids, list(range(after + 1, after + 1 + len(ids))),
                         "ids contiguous from Last-Event-ID + 1")
        kinds = [e.event for e in r.events]
        self.assertEqual(sum(k in ("done", "error") for k in kinds), 1, kinds)
        self.assertIn(kinds[-1], ("done", "error"))
        return r.events[-1]


class Resume(ResumeMixin, ChatdTestCase):
    CHATD_ENV = {"CHATD_MODEL": "echo", "CHATD_WORKERS": 2}

    def finished(self, text=TEXT, model="echo"):
        r = self.chat(text, model=model)
        start, _ = self.assertDone(r, text)
        return r, start.json["stream_id"]

    # -- after the end --
    def test_no_last_event_id_replays_everything_after_the_end(self):
        orig, sid = self.finished()
        r = self.resume(sid)
        self.assertDone(r, TEXT, TEXT_CL, model="echo")
        self.assertEqual(triples(r.events), triples(orig.events))

    def test_last_event_id_header_replays_events_after_n(self):
        orig, sid = self.finished()
        for n in (0, 1, 3, 7, len(orig.events) - 2):
            with self.subTest(last_event_id=n):
                r = self.resume(sid, last=n)
                self.assertResumed(r, sid, n)
                self.assertEqual(triples(r.events), triples(orig.events, n))

    def test_last_event_id_query_parameter(self):
        orig, sid = self.finished()
        r = self.resume(sid, query=4)
        self.assertResumed(r, sid, 4)
        self.assertEqual(triples(r.events), triples(orig.events, 4))

    def test_terminal_id_gives_204(self):
        orig, sid = self.finished()
        last = int(orig.events[-1].id)
        for kw in ({"last": last}, {"query": last}):
            with self.subTest(**kw):
                r = self.resume(sid, **kw)
                self.assertEqual(r.status, 204, bytes(r.body[:200]))
                self.assertEqual(bytes(r.body), b"")

    def test_last_event_id_beyond_the_end_is_400(self):
        orig, sid = self.finished()
        last = int(orig.events[-1].id)
        for n in (last + 1, last + 1000, 999999999999999999):
            with self.subTest(last_event_id=n):
                r = self.resume(sid, last=n)
                self.assertJSONError(r, 400, "invalid_request")

    def test_malformed_last_event_id_is_400(self):
        _, sid = self.finished()
        for bad in ("abc", "-1", "1.5", "0x10", "1e3", "+3", "3a", "99999999999999999999999"):
            with self.subTest(header=bad):
                self.assertJSONError(self.resume(sid, last=bad), 400, "invalid_request")
        for bad in ("abc", "-1", "%00", "1%20"):
            with self.subTest(query=bad):
                self.assertJSONError(self.resume(sid, query=bad), 400, "invalid_request")
        self.assertHealthy()

    def test_unknown_stream_is_404(self):
        for path in ("/api/streams/" + UNKNOWN_ID, "/api/streams/" + "f" * 24,
                     "/api/streams/xyz", "/api/streams/" + "0" * 23, "/api/streams/" + "0" * 25,
                     "/api/streams/", "/api/streams/" + UNKNOWN_ID + "/extra"):
            with self.subTest(path=path):
                r = self.get(path, headers=[("Last-Event-ID", "0")])
                self.assertJSONError(r, 404, "not_found")

    def test_post_to_a_stream_is_405(self):
        _, sid = self.finished()
        r = self.resume(sid, method="POST")
        self.assertJSONError(r, 405, "method_not_allowed")
        self.assertIn("GET", r.header("Allow") or "")

    def test_resume_is_repeatable(self):
        orig, sid = self.finished()
        first = self.resume(sid, last=2)
        second = self.resume(sid, last=2)
        self.assertEqual(triples(first.events), triples(second.events))

    # -- live --
    def test_three_readers_on_a_live_stream_see_identical_events(self):
        text = "".join(clusters.CASES["mixed"]) * 2
        c, orig, sid = self.open_live("slow-25", text=text, deltas=2)
        starts = (None, 1, 2)
        readers = [self.resume(sid, last=s, read=False) for s in starts]
        live = [q for q in self.mock.requests() if not q["completed"]]
        self.assertEqual(len(live), 1, "the stream must still be live when the readers join")
        orig.read_to_end()
        self.assertDone(orig, text, clusters.segment(text))
        for s, r in zip(starts, readers):
            r.read_to_end()
            after = -1 if s is None else s
            with self.subTest(start=s):
                if s is None:
                    self.assertDone(r, text, clusters.segment(text))
                else:
                    self.assertResumed(r, sid, after)
                self.assertEqual(triples(r.events), triples(orig.events, after))

    def test_live_reader_beyond_what_exists_gets_only_later_events(self):
        # Last-Event-ID 20 while only a few characters exist: whatever comes must be the
        # events with id > 20, the same as the first reader sees for those ids.
        text = "a\u00e9\u4e2d\U0001F44D\U0001F3FD " * 10
        c, orig, sid = self.open_live("slow-25", text=text, deltas=2)
        r = self.resume(sid, last=20, read=False)
        orig.read_to_end()
        self.assertDone(orig, text)
        if r.status == 400:
            r.read_to_end()
            self.assertJSONError(r, 400, "invalid_request")
            return
        r.read_to_end()
        self.assertEqual(triples(r.events), triples(orig.events, 20),
                         "event ids and contents must match the stream's own")
        self.assertEqual(r.sse.utf8_errors, [], "broken UTF-8 in the resumed stream")
        self.assertResumed(r, sid, 20)

    def test_dropped_reader_resumes_and_gets_every_event_exactly_once(self):
        text = LONG[:80]
        c, r, sid = self.open_live("slow-20", text=text, deltas=10)
        last = int(r.events[-1].id)
        got = r.deltas()
        c.abort()
        r2 = self.resume(sid, last=last)
        self.assertResumed(r2, sid, last)
        self.assertEqual(r2.events[-1].event, "done")
        self.assertEqual(r2.events[-1].json.get("finish_reason"), "stop")
        whole = "".join(got + r2.deltas())
        self.assertEqual(whole.encode(), text.encode(), "byte-exact, nothing lost or doubled")
        self.assertEqual(len(got) + len(r2.deltas()), len(text))
        self.assertFalse(any(q["closed_by_peer"] for q in self.mock.requests()),
                         "the upstream was closed although the client came back in time")

    def test_eventsource_style_reconnects_until_done(self):
        text = "".join(clusters.CASES["zwj_sequences"] + clusters.CASES["combining"]) * 3
        c, r, sid = self.open_live("slow-10", text=text, deltas=4)
        pieces = [r.deltas()]
        last = int(r.events[-1].id)
        c.close()
        for _ in range(100):
            c = self.client()
            r = c.request("GET", "/api/streams/" + sid, b"", [("Last-Event-ID", str(last))],
                          content_type=None)
            r.read_head()
            self.assertEqual(r.status, 200)
            done = not r.read_until(lambda x: len(x.deltas()) >= 5)
            self.assertEqual([int(e.id) for e in r.events],
                             list(range(last + 1, last + 1 + len(r.events))))
            pieces.append(r.deltas())
            if done or r.terminal:
                break
            last = int(r.events[-1].id)
            c.close()
        self.assertEqual(r.terminal[-1].event, "done", r.events[-3:])
        got = [d for p in pieces for d in p]
        self.assertEqual(got, clusters.segment(text))

    def test_many_concurrent_resumes_all_succeed_on_any_worker(self):
        text = "".join(clusters.CASES["mixed"])
        c, orig, sid = self.open_live("slow-30", text=text, deltas=6)
        starts = [None] + [i % 6 for i in range(23)]
        readers = [self.resume(sid, last=s, read=False) for s in starts]
        orig.read_to_end()
        self.assertDone(orig, text)
        for s, r in zip(starts, readers):
            r.read_to_end()
            after = -1 if s is None else s
            self.assertEqual(r.status, 200)
            self.assertEqual(triples(r.events), triples(orig.events, after), "start %r" % s)
        # ... and after the end, from fresh connections (spread over the workers).
        results = [None] * 24
        threads = []

        def one(i):
            cl = self.client()
            rr = cl.request("GET", "/api/streams/" + sid, b"", [("Last-Event-ID", str(i % 5))],
                            content_type=None)
            rr.read_head()
            rr.read_to_end()
            results[i] = rr

        for i in range(24):
            t = threading.Thread(target=one, args=(i,))
            t.start()
            threads.append(t)
        for t in threads:
            t.join(READ_TIMEOUT + 5)
        for i, rr in enumerate(results):
            self.assertIsNotNone(rr, "reader %d did not finish" % i)
            self.assertEqual(rr.status, 200)
            self.assertEqual(triples(rr.events), triples(orig.events, i % 5))


class Retention(ResumeMixin, ChatdTestCase):
    CHATD_ENV = {"CHATD_MODEL": "echo", "CHATD_STREAM_RETENTION_MS": 500}

    def test_stream_expires_after_retention(self):
        r = self.chat(TEXT)
        start, _ = self.assertDone(r, TEXT)
        t_end = time.monotonic()
        sid = start.json["stream_id"]
        first = self.resume(sid)
        self.assertEqual(first.status, 200, "resumable right after the end")
        self.assertEqual(triples(first.events), triples(r.events))
        deadline = time.monotonic() + 5
        status = 200
        while time.monotonic() < deadline:
            rr = self.resume(sid, last=0)
            status = rr.status
            if status == 404:
                self.assertJSONError(rr, 404, "not_found")
                break
            self.assertEqual(status, 200)
            time.sleep(0.05)  # poll interval
        self.assertEqual(status, 404, "still resumable 5 s after the end (retention 500 ms)")
        self.assertGreater(time.monotonic() - t_end, 0.3, "expired before the retention")
        cancel = self.post(b"", path="/api/streams/%s/cancel" % sid, content_type=None)
        self.assertJSONError(cancel, 404, "not_found")


class ResumeGrace(ResumeMixin, ChatdTestCase):
    CHATD_ENV = {"CHATD_MODEL": "echo", "CHATD_RESUME_GRACE_MS": 2000,
                 "CHATD_UPSTREAM_IDLE_TIMEOUT_MS": 30000}
    GRACE = 2.0

    def test_resume_within_grace_completes_and_keeps_the_upstream(self):
        text = LONG[:90]
        c, r, sid = self.open_live("slow-20", text=text, deltas=5)
        last = int(r.events[-1].id)
        got = r.deltas()
        c.close()
        closed, _ = self.mock.wait_closed(1, 1.0)  # one second gone: still within the grace
        self.assertFalse(closed, "the upstream was closed before the grace ended")
        r2 = self.resume(sid, last=last)
        self.assertResumed(r2, sid, last)
        self.assertEqual(r2.events[-1].event, "done")
        self.assertEqual(r2.events[-1].json.get("finish_reason"), "stop")
        self.assertEqual("".join(got + r2.deltas()).encode(), text.encode())
        recs = self.mock.requests()
        self.assertEqual(len(recs), 1)
        self.assertTrue(recs[0]["completed"], "the upstream answer ran to its end")
        self.assertFalse(recs[0]["closed_by_peer"])

    def test_slow_no_resume_cancels_upstream_after_the_grace(self):
        c, r, sid = self.open_live("slow-50", text=LONG, deltas=3)
        c.close()
        t0 = time.monotonic()
        ok, info = self.mock.wait_closed(1, self.GRACE + 3)
        self.assertTrue(ok, "the upstream was not closed %.1f s after the client left"
                        % (self.GRACE + 3))
        rec = [q for q in info["requests"] if q["closed_by_peer"]][0]
        took = rec["closed_at"] - t0
        self.assertGreaterEqual(took, self.GRACE - 0.05, "closed before the grace ended")
        self.assertLessEqual(took, self.GRACE + 1.5, "closed too long after the grace")
        r2 = self.resume(sid)
        start, middle, term = self.assertStreamFrame(r2)
        self.assertEqual(term.event, "done", term)
        self.assertEqual(term.json.get("finish_reason"), "cancelled")
        self.assertTrue(LONG.startswith(r2.text()))
        self.assertGreaterEqual(len(r2.deltas()), 3)
        self.assertEqual(r2.deltas()[:len(r.deltas())], r.deltas())
