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
