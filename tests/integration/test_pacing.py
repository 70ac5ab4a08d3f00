"""Pacing: with CHATD_PACE=off each character goes out as soon as it is whole (a cluster
cut by the upstream is held until its end arrives, the rest is not); with a number, about
that many characters per second; adaptive keeps the text exact."""

import clusters
from chatd_harness import ChatdTestCase

ZWJ = "\u200d"


class PaceOff(ChatdTestCase):
    CHATD_ENV = {"CHATD_UPSTREAM_IDLE_TIMEOUT_MS": 30000}

    def test_complete_clusters_go_out_before_the_upstream_pauses(self):
        # The upstream sends "ab👩", waits 2 s, then sends ZWJ "💻c".
        text = "ab👩" + ZWJ + "💻c"
        r = self.chat(text, model="ping-gap-2-3")
        self.assertDone(r, text, ["a", "b", "👩" + ZWJ + "💻", "c"])
        ev = {e.json["text"]: e.t for e in r.events if e.event == "delta"}
        self.assertGreater(ev["👩" + ZWJ + "💻"] - ev["b"], 1.5,
                           "'b' went out before the upstream's pause")
        self.assertLess(ev["b"] - r.t_head, 1.0, "'b' is sent at once")

    def test_a_cluster_is_not_cut_by_the_pause(self):
        # "e" then a 2 s pause then a combining accent: one cluster "é", never "e" alone.
        text = "xe\u0301y"
        r = self.chat(text, model="ping-gap-2-2")
        self.assertDone(r, text, ["x", "e\u0301", "y"])


class PaceFixed(ChatdTestCase):
    CHATD_ENV = {"CHATD_PACE": "40"}

    def test_40_characters_per_second(self):
        text = "Pacing at forty characters per second, ok"  # 42 characters
        r = self.chat(text, timeout=30)
        self.assertDone(r, text, list(text))
        ts = [e.t for e in r.events if e.event == "delta"]
        span = ts[-1] - ts[0]
        want = (len(text) - 1) / 40.0
        self.assertGreater(span, want * 0.7, "%.2f s for %d characters" % (span, len(text)))
        self.assertLess(span, want * 1.6 + 0.3, "%.2f s for %d characters" % (span, len(text)))


class PaceAdaptive(ChatdTestCase):
    CHATD_ENV = {"CHATD_PACE": "adaptive"}

    def test_adaptive_text_exact(self):
        cl = clusters.CASES["mixed"]
        text = clusters.text_of(cl)
        r = self.chat(text, timeout=60)
        self.assertDone(r, text, cl)
