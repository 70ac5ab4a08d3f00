"""Replicas through Redis (CHATD_REDIS_URL): several chatd processes on one redis-server act
as one. A stream started on one replica resumes byte for byte on any other, live or
finished, by ?last_event_id and by Last-Event-ID; a cancel sent to another replica closes
the producer's upstream within 200 ms; a killed producer's readers elsewhere get every
stored character, then owner_lost, within 5 s; Redis stopped and restarted mid-answer
loses nothing; keys expire after retention; limits count across replicas; /readyz and
/metrics speak of Redis; a bad URL stops chatd at start."""

import os
import signal
import subprocess
import time
import unittest

from chatd_harness import (free_port, SANITIZER_MARKERS, Chatd, Client, Mock, _LIVE, _kill, _pdeathsig,
                           chat_body, chatd_bin, clean_env, report_excerpt)

LONG = "".join("abcdefghijklmnopqrstuvwxyz"[i % 26] for i in range(400))  # 20 s at 50 ms
MID = "Grüße, 世界! " * 8 + "👩‍👩‍👧 é."  # 105 characters, 2 s at 20 ms


def under_valgrind(bin_path):
    return "valgrind" in os.path.basename(bin_path)


class Redis:
    """A redis-server of the test's own on a loopback port, without persistence (a restart
    forgets everything, the hardest case for chatd)."""

    def __init__(self):
        self.port = free_port()
        self.url = "redis://127.0.0.1:%d" % self.port
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL, preexec_fn=_pdeathsig)
        _LIVE.add(self.proc)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self.cli("PING") == "PONG":
                    return
            except (OSError, subprocess.SubprocessError):
                pass
            time.sleep(0.05)  # polling for the server to listen, bounded
        raise RuntimeError("redis-server did not start")

    def stop(self):
        _kill(self.proc)

    def cli(self, *args):
        out = subprocess.run(["redis-cli", "-p", str(self.port), "--raw"] + list(args),
                             capture_output=True, timeout=10, check=True)
        return out.stdout.decode().strip()

    def keys(self, pattern):
        out = self.cli("KEYS", pattern)
        return [k for k in out.split("\n") if k]


def events_of(r):
    return [(e.id, e.event, e.data) for e in r.events]


def term(r):
    """The terminal event, or None."""
    t = r.terminal
    return t[-1] if t else None


def wait_for(pred, timeout, step=0.05):
    """Polls pred until it is true (its value) or timeout seconds passed (None)."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            return None
        time.sleep(step)


class ReplicaCase(unittest.TestCase):
    """A mock upstream, a redis-server and REPLICAS chatd processes sharing it."""

    REPLICAS = 3
    ENV = {}
    maxDiff = 4000

    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()
        cls.redis = Redis()
        cls.nodes = []
        try:
            for _ in range(cls.REPLICAS):
                cls.nodes.append(cls.replica())
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def replica(cls, **env):
        e = {"CHATD_MODEL": "echo", "CHATD_REDIS_URL": cls.redis.url,
             "CHATD_UPSTREAM_FIRST_BYTE_TIMEOUT_MS": 30000,
             "CHATD_UPSTREAM_IDLE_TIMEOUT_MS": 30000}
        e.update(cls.ENV)
        e.update(env)
        return Chatd(cls.mock.url, e)

    @classmethod
    def tearDownClass(cls):
        errs = []
        for n in getattr(cls, "nodes", []):
            try:
                n.stop()
            except AssertionError as ex:
                errs.append(str(ex))
            err = n.stderr()
            if any(m in err for m in SANITIZER_MARKERS) and not n.sanitizer_reported:
                errs.append(report_excerpt(err))
        cls.redis.stop()
        cls.mock.stop()
        if errs:
            raise AssertionError("\n".join(errs))

    def setUp(self):
        self.clients = []
        self.extra = []
        self.mock.reset()

    def tearDown(self):
        for c in self.clients:
            c.close()
        for n in self.extra:
            n.stop()
        for n in self.nodes + self.extra:
            err = n.stderr()
            found = [m for m in SANITIZER_MARKERS if m in err]
            if found and not n.sanitizer_reported:
                n.sanitizer_reported = True
                self.fail("chatd reports %r:\n%s" % (found, report_excerpt(err)))
        for n in self.nodes:
            self.assertTrue(n.alive(), "a replica exited during the test:\n" + n.stderr()[-3000:])

    # -- helpers --
    def client(self, node):
        c = Client(node.port)
        self.clients.append(c)
        return c

    def start(self, node, text, model):
        r = self.client(node).request("POST", "/api/chat", chat_body(text, model))
        r.read_head()
        self.assertEqual(r.status, 200, bytes(r.body[:300]))
        self.assertTrue(r.read_until(lambda x: len(x.events) >= 1))
        return r, r.events[0].json["stream_id"]

    def resume(self, node, sid, last=None, header=False, read=True, timeout=30):
        path = "/api/streams/%s" % sid
        headers = []
        if last is not None and header:
            headers.append(("Last-Event-ID", str(last)))
        elif last is not None:
            path += "?last_event_id=%d" % last
        r = self.client(node).request("GET", path, b"", headers, content_type=None)
        r.read_head(timeout)
        if read:
            r.read_to_end(timeout)
        return r

    def cancel(self, node, sid):
        r = self.client(node).request("POST", "/api/streams/%s/cancel" % sid, b"", None,
                                      content_type=None)
        r.read_head()
        r.read_to_end()
        return r

    def assertSameAfter(self, whole, part, last):
        self.assertEqual(part.status, 200, bytes(part.body[:300]))
        want = [e for e in events_of(whole) if e[0] is not None and int(e[0]) > last]
        self.assertEqual(events_of(part), want)


class Replicas(ReplicaCase):

    def test_resume_on_another_replica_live_and_finished(self):
        a, b, c = self.nodes
        r, sid = self.start(a, MID, "slow-20")
        self.assertTrue(r.read_until(lambda x: len(x.deltas()) >= 10))
        live_q = self.resume(b, sid, last=5, read=False)       # ?last_event_id, while A streams
        live_h = self.resume(c, sid, last=7, header=True, read=False)  # Last-Event-ID
        r.read_to_end()
        live_q.read_to_end()
        live_h.read_to_end()
        self.assertEqual(term(r).event, "done")
        self.assertEqual(r.text(), MID)
        self.assertSameAfter(r, live_q, 5)
        self.assertSameAfter(r, live_h, 7)
        # Finished: the whole stream from the start, and from the middle, byte for byte.
        whole = self.resume(b, sid)
        self.assertEqual(whole.status, 200)
        self.assertEqual(bytes(whole.body), bytes(r.body))
        self.assertSameAfter(r, self.resume(c, sid, last=50, header=True), 50)
        # After the terminal event there is nothing more: 204, on every replica.
        end = int(term(r).id)
        for n in (b, c):
            self.assertEqual(self.resume(n, sid, last=end).status, 204)
        self.assertEqual(self.resume(b, sid, last=end + 1).status, 400)

    def test_several_readers_on_several_replicas(self):
        a, b, c = self.nodes
        r, sid = self.start(a, MID, "slow-20")
        readers = [self.resume(n, sid, read=False) for n in (b, b, c, c)]
        r.read_to_end()
        for x in readers:
            x.read_to_end()
            self.assertEqual(bytes(x.body), bytes(r.body))

    def test_cancel_on_another_replica_closes_the_upstream(self):
        a, b, c = self.nodes
        r, sid = self.start(a, LONG, "slow-50")
        self.assertTrue(r.read_until(lambda x: len(x.deltas()) >= 3))
        reader_c = self.resume(c, sid, read=False)
        t0 = time.monotonic()
        resp = self.cancel(b, sid)
        self.assertEqual(resp.status, 202, bytes(resp.body))
        self.assertEqual(resp.json(), {"stream_id": sid, "status": "cancelling"})
        ok, info = self.mock.wait_closed(1, 2.0)
        self.assertTrue(ok, "the upstream was never closed")
        rec = [q for q in info["requests"] if q["closed_by_peer"]][0]
        self.assertLess(rec["closed_at"] - t0, 0.2,
                        "upstream closed %.3f s after the cancel" % (rec["closed_at"] - t0))
        r.read_to_end()
        reader_c.read_to_end()
        self.assertEqual(term(r).event, "done")
        self.assertEqual(term(r).json["finish_reason"], "cancelled")
        self.assertEqual(bytes(reader_c.body), bytes(r.body))
        # Once the end is in Redis, a cancel anywhere says so.
        fin = wait_for(lambda: self.cancel(c, sid).json().get("status") == "finished", 5)
        self.assertTrue(fin, "the finished stream is reported as finished")
        for n in (b, c):
            r404 = self.cancel(n, "0123456789abcdef01234567")
            self.assertEqual(r404.status, 404)
            self.assertEqual(r404.json()["error"]["type"], "not_found")
            self.assertEqual(self.resume(n, "0123456789abcdef01234567").status, 404)

    def test_killed_owner_ends_readers_elsewhere_with_owner_lost(self):
        d = self.replica()
        self.extra.append(d)
        b = self.nodes[1]
        r, sid = self.start(d, LONG, "slow-50")
        self.assertTrue(r.read_until(lambda x: len(x.deltas()) >= 5))
        far = self.resume(b, sid, read=False)
        self.assertTrue(far.read_until(lambda x: len(x.deltas()) >= 8))
        d.proc.send_signal(signal.SIGKILL)
        t0 = time.monotonic()
        limit = 15 if under_valgrind(b.bin) else 5
        far.read_to_end(limit + 5)
        t = time.monotonic() - t0
        t_end = term(far)
        self.assertIsNotNone(t_end, "the reader got an end")
        self.assertEqual(t_end.event, "error")
        self.assertEqual(t_end.json["error"]["type"], "owner_lost")
        self.assertLess(t, limit, "owner_lost %.2f s after the kill" % t)
        self.assertTrue(LONG.startswith(far.text()))
        self.assertGreaterEqual(len(far.text()), 8)
        ids = [int(e.id) for e in far.events if e.id is not None]
        self.assertEqual(ids, list(range(len(ids))), "ids from 0, one by one")
        # Every character the dead replica had stored is still resumable.
        again = self.resume(self.nodes[2], sid, last=0)
        self.assertEqual(again.text(), far.text())
        self.assertEqual(term(again).json["error"]["type"], "owner_lost")

    def test_operations(self):
        a = self.nodes[0]
        r = self.client(a).request("GET", "/readyz", b"", None, content_type=None)
        r.read_head()
        r.read_to_end()
        self.assertEqual(r.json().get("redis"), "reachable")
        m = self.client(a).request("GET", "/metrics", b"", None, content_type=None)
        m.read_head()
        m.read_to_end()
        text = bytes(m.body).decode()
        self.assertIn("\nchatd_redis_up 1\n", text)
        sent = [int(line.split()[1]) for line in text.split("\n")
                if line.startswith("chatd_redis_commands_total ")]
        self.assertTrue(sent and sent[0] > 0, "commands are counted")
        self.assertIn("chatd_redis_latency_seconds_bucket{le=\"+Inf\"}", text)


class RedisRestart(ReplicaCase):
    REPLICAS = 2

    def readyz(self, node):
        r = self.client(node).request("GET", "/readyz", b"", None, content_type=None)
        r.read_head()
        r.read_to_end()
        return r

    def test_redis_restart_mid_answer_loses_nothing(self):
        a, b = self.nodes
        r, sid = self.start(a, MID, "slow-20")
        self.assertTrue(r.read_until(lambda x: len(x.deltas()) >= 10))
        self.redis.stop()
        down = wait_for(lambda: self.readyz(a).status == 503, 10)
        self.assertTrue(down, "/readyz says 503 while Redis is down")
        self.assertEqual(self.readyz(a).json().get("redis"), "unreachable")
        # A stream this replica does not have cannot be looked up meanwhile: 503, not 404.
        self.assertEqual(self.resume(b, sid).status, 503)
        self.redis.start()
        r.read_to_end()
        self.assertEqual(term(r).event, "done")
        self.assertEqual(r.text(), MID, "the owner's own reader got everything")
        self.assertTrue(wait_for(lambda: self.readyz(a).status == 200, 10))
        # The owner sends the whole stream again once Redis is back.
        whole = wait_for(lambda: (lambda x: x if x.status == 200 and term(x) else None)(
            self.resume(b, sid)), 10, step=0.2)
        self.assertTrue(whole, "resumable on the other replica after the restart")
        self.assertEqual(bytes(whole.body), bytes(r.body))


class Retention(ReplicaCase):
    REPLICAS = 2
    ENV = {"CHATD_STREAM_RETENTION_MS": 1000}

    def test_keys_expire_after_retention(self):
        a, b = self.nodes
        r, sid = self.start(a, "short answer", "echo")
        r.read_to_end()
        self.assertEqual(term(r).event, "done")
        self.assertTrue(self.redis.keys("chatd:{%s}:*" % sid), "the stream is in Redis")
        self.assertEqual(self.redis.cli("PTTL", "chatd:{%s}:own" % sid), "-2",
                         "the lease goes with the end")
        gone = wait_for(lambda: not self.redis.keys("chatd:{%s}:*" % sid), 15, step=0.2)
        self.assertTrue(gone, "keys left: %r" % self.redis.keys("chatd:{%s}:*" % sid))
        self.assertEqual(self.resume(b, sid).status, 404)


class Limits(ReplicaCase):
    REPLICAS = 2
    ENV = {"CHATD_RATE_LIMIT_PER_MINUTE": 4, "CHATD_RATE_LIMIT_BURST": 4,
           "CHATD_MAX_STREAMS_PER_CLIENT": 2}

    def post(self, node, text="hi", model="echo"):
        r = self.client(node).request("POST", "/api/chat", chat_body(text, model))
        r.read_head()
        return r

    def test_rate_counts_across_replicas(self):
        self.redis.cli("FLUSHALL")
        statuses = []
        for i in range(8):
            r = self.post(self.nodes[i % 2])
            r.read_to_end()
            statuses.append(r.status)
        self.assertEqual(statuses.count(200), 4, statuses)
        self.assertEqual(statuses[:4], [200] * 4)
        r = self.post(self.nodes[0])
        r.read_to_end()
        self.assertEqual(r.status, 429)
        self.assertEqual(r.json()["error"]["type"], "rate_limited")
        self.assertGreaterEqual(int(r.header("Retry-After")), 1)

    def test_concurrency_counts_across_replicas(self):
        self.redis.cli("FLUSHALL")
        a, b = self.nodes
        r1, sid1 = self.start(a, LONG, "slow-50")
        r2, sid2 = self.start(b, LONG, "slow-50")
        r3 = self.post(a, LONG, "slow-50")
        r3.read_to_end()
        self.assertEqual(r3.status, 429)
        self.assertIn("concurrent", r3.json()["error"]["message"])
        self.assertEqual(self.cancel(b, sid1).status, 202)
        r1.read_to_end()
        # The slot is free once the cancelled stream ended (a token is still left).
        r4 = wait_for(lambda: (lambda x: x if x.status == 200 else x.read_to_end() and None)(
            self.post(b, "ok", "echo")), 5, step=0.1)
        self.assertTrue(r4, "a slot came free after the cancel")
        self.cancel(a, sid2)


class BadUrl(unittest.TestCase):

    def test_bad_redis_url_stops_chatd_at_start(self):
        for url in ("redis://127.0.0.1:99999", "http://127.0.0.1:6379", "redis://:pw@",
                    "unix://relative/path"):
            with self.subTest(url=url):
                env = clean_env()
                env.update({"CHATD_REDIS_URL": url, "CHATD_LISTEN": "127.0.0.1:0"})
                p = subprocess.run([chatd_bin()], env=env, capture_output=True, timeout=60,
                                   stdin=subprocess.DEVNULL, preexec_fn=_pdeathsig)
                err = p.stderr.decode()
                self.assertEqual(p.returncode, 2, err)
                lines = [ln for ln in err.split("\n") if "redis_url" in ln]
                self.assertEqual(len(lines), 1, err)
                self.assertNotIn("pw", lines[0], "the URL's password is not repeated")


if __name__ == "__main__":
    unittest.main()
