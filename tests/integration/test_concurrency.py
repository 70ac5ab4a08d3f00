"""Many streams at once, spread over both workers: each gets exactly its own text, its
own stream id, and its own upstream request."""

import clusters
from chatd_harness import ChatdTestCase, chat_body

MODELS = ("echo", "tok-1", "escaped+tok-2", "crlf+tok-3", "slow-5")


class Concurrency(ChatdTestCase):
    def test_40_concurrent_streams_each_get_their_own_text(self):
        names = sorted(clusters.CASES)
        jobs = []
        for i in range(40):
            # A line feed never joins a neighbour, so the prefix keeps the clusters as listed.
            cl = ["#"] + list(str(i)) + ["\n"] + clusters.CASES[names[i % len(names)]]
            model = MODELS[i % len(MODELS)]
            c = self.client()
            r = c.request("POST", "/api/chat", chat_body(clusters.text_of(cl), model))
            jobs.append((r, cl, model))
        ids = set()
        for r, cl, model in jobs:
            r.read_head()
            r.read_to_end(60)
            start, _ = self.assertDone(r, clusters.text_of(cl), cl, model=model)
            ids.add(start.json["stream_id"])
        self.assertEqual(len(ids), 40, "stream ids are unique")
        recs = self.mock.chat_requests()
        self.assertEqual(len(recs), 40)
        self.assertEqual(sorted(q["body_json"]["messages"][-1]["content"] for q in recs),
                         sorted(clusters.text_of(cl) for _, cl, _ in jobs))
        self.assertHealthy()

    def test_answers_one_after_another_reuse_idle_upstream_connections(self):
        # Each worker keeps finished upstream connections for the next answer: ten answers
        # in a row need at most one connection per worker (two), not ten.
        for i in range(10):
            self.assertDone(self.chat("r%d" % i), "r%d" % i, ["r"] + list(str(i)))
        conns = {q["conn_id"] for q in self.mock.chat_requests()}
        self.assertEqual(len(self.mock.chat_requests()), 10)
        self.assertLessEqual(len(conns), 2, "upstream connections: %r" % sorted(conns))

    def test_overlapping_answers_never_share_an_upstream_connection(self):
        # HTTP/1.1 upstream: a connection carries one answer at a time. Answers that
        # overlapped at the upstream must have had connections of their own (reused or
        # new); ones that did not overlap may share.
        jobs = []
        for i in range(12):
            c = self.client()
            jobs.append((c.request("POST", "/api/chat", chat_body("c%d" % i, "slow-50")), i))
        for r, i in jobs:
            r.read_head()
            r.read_to_end(60)
            self.assertDone(r, "c%d" % i, ["c"] + list(str(i)), model="slow-50")
        recs = self.mock.chat_requests()
        self.assertEqual(len(recs), 12)
        overlapping = [(a, b) for k, a in enumerate(recs) for b in recs[k + 1:]
                       if a["t_start"] < b["ended_at"] and b["t_start"] < a["ended_at"]]
        self.assertTrue(overlapping, "no two answers overlapped: the test proves nothing")
        for a, b in overlapping:
            self.assertNotEqual(a["conn_id"], b["conn_id"], "two overlapping answers on one "
                                "upstream connection")
        self.assertHealthy()
