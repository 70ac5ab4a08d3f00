"""The heartbeat: while nothing else is sent, a ': ping' comment goes out at least every
15 s. SLOW: the interval is not configurable, so this waits through a 14 s upstream gap."""

from chatd_harness import ChatdTestCase

GAP_S = 14


class SlowHeartbeat(ChatdTestCase):
    CHATD_ENV = {"CHATD_UPSTREAM_IDLE_TIMEOUT_MS": 60000}

    def test_slow_heartbeat_ping_during_14s_upstream_silence(self):
        text = "abcdef"
        # Three code points, 14 s of silence, the rest. 'c' may be held back until the
        # next bytes show it is complete; 'a' and 'b' go out before the gap.
        r = self.chat(text, model="ping-gap-%d-3" % GAP_S, timeout=GAP_S + 20)
        self.assertDone(r, text, list(text))
        pings = [t for c, t in r.sse.comments if c == "ping"]
        self.assertTrue(pings, "no ': ping' comment during %d s of silence" % GAP_S)
        self.assertIn(b"\n\n: ping\n", bytes(r.body), "a ping stands between events")
        # Nothing (event or comment) more than 15 s apart from the headers to the end.
        times = sorted([r.t_head] + [e.t for e in r.events] + [t for _, t in r.sse.comments])
        gaps = [b - a for a, b in zip(times, times[1:])]
        self.assertLessEqual(max(gaps), 15.0, "longest silence %.1f s" % max(gaps))
        b_at = [e.t for e in r.events if e.event == "delta"][1]
        self.assertTrue(any(b_at < t < b_at + GAP_S for t in pings),
                        "the ping falls inside the upstream's silence")
