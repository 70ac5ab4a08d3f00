"""How soon a resumed reader on another worker gets what the upstream sent.

A stream belongs to the worker that took its POST; a GET /api/streams/{id} that lands on
another worker must be woken across threads each time the owner has news. A lost wake-up
there changes no text, only when it arrives (with the next heartbeat, 10 s later), so the
test here bounds the time instead:

- chatd runs 2 workers. Each round streams one answer from the mock's "held" scenario,
  which sends what the test tells it to, when it tells it to, one write per character,
  and notes the time (time.monotonic, the same clock as the test's) just before it
  writes. The answer has its POST and 16 resume readers: 12 on the worker that does not
  own the stream, 4 on the one that does. Rounds alternate which worker owns the stream.
- Mid-stream, each piece the upstream sends must reach every reader within LIMIT_S of
  its send time: all of it but its last character, which is whole only once the next
  piece or the end shows that nothing combines with it. The next piece goes out once
  every reader had this one (past the limit, the test fails).
- Then a burst: more text and the end of the answer. Every reader must have every new
  character and the terminal `done` within LIMIT_S of the moment the upstream sent its
  end.
- Meanwhile 2 slow background answers, each owned by one worker and read from the other,
  keep the cross-worker wake-up path busy with other readers and other streams.

Which worker a reader sits on: every connection first asks for an unknown stream (404)
with its own X-Request-Id, and the access log's "worker" field for that id says which
worker accepted the connection; the connection is then kept alive and reused, so the
same worker serves the readers sent on it. Each round checks this again on its own log
lines and fails if no reader of the round sat on a worker other than the owner's.

Rounds: ROUNDS, though none starts after ROUNDS_BUDGET_S once MIN_ROUNDS ran; under
valgrind (its wrapper as CHATD_BIN, or valgrind's tool as chatd's executable)
VALGRIND_ROUNDS and no background answers; CHATD_TEST_LATENCY_ROUNDS, when set, is the
number of rounds whatever the time."""

import gc
import itertools
import json
import os
import threading
import time
import urllib.parse

from chatd_harness import READ_TIMEOUT, ChatdTestCase, chat_body

LIMIT_S = 1.0            # the bound on cross-worker delivery
ROUNDS = 60
ROUNDS_BUDGET_S = 15.0   # no new round after this long (slow machines), if MIN_ROUNDS ran
MIN_ROUNDS = 10
VALGRIND_ROUNDS = 3
HELD_MODEL = "held+tok-1"  # one write per character: a burst of wake-ups per piece
ANSWERS = 2              # answers per round, streaming at the same time
N_SAME = 2               # readers per answer on its owner's worker
N_CROSS = 6              # readers per answer on the other worker
PIECES = 3               # pieces sent mid-stream per round, each waited for
NOISE_READERS = 3        # readers per background answer, on the worker it is not owned by
NOISE_MS = 3             # one character every NOISE_MS ms in the background answers
NOISE_CHARS = 20000
NOISE_TIMEOUT_S = 600    # background readers read until the test cancels their answers
MAX_CONNECTIONS = 300    # at most this many connections opened to find each worker's share
UNKNOWN_ID = "0" * 24
LOG_WAIT_S = 10.0
STRAGGLER_S = 12.0       # after a miss, how long to wait to tell late from lost


def under_valgrind(chatd):
    """True when chatd runs under valgrind: its wrapper named as the binary, or the
    process being valgrind's tool (the wrapper execs valgrind, which execs the tool)."""
    if "valgrind" in os.path.basename(chatd.bin):
        return True
    try:
        exe = os.path.basename(os.readlink("/proc/%d/exe" % chatd.proc.pid))
    except OSError:
        return False
    return "valgrind" in exe or "memcheck" in exe


class AccessLog:
    """chatd's access log lines by request id, from the stderr the harness captures."""

    def __init__(self, chatd):
        self.chatd = chatd
        self.pos = 0
        self.by_id = {}

    def _scan(self):
        lines = self.chatd.stderr_lines
        n = len(lines)
        for line in lines[self.pos:n]:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict) and isinstance(rec.get("request_id"), str):
                self.by_id[rec["request_id"]] = rec
        self.pos = n

    def wait(self, ids, timeout=LOG_WAIT_S):
        """(the lines of ids by id, the ids still not logged after timeout seconds)."""
        deadline = time.monotonic() + timeout
        while True:
            self._scan()
            missing = [i for i in ids if i not in self.by_id]
            if not missing or time.monotonic() >= deadline:
                return {i: self.by_id[i] for i in ids if i in self.by_id}, missing
            time.sleep(0.005)  # the harness reads stderr on its own thread: poll it


class Tracker:
    """Reads one streaming response on its own thread and notes when each character and
    the terminal event came off the socket."""

    def __init__(self, name, worker, resp, cond, timeout=READ_TIMEOUT + 10, keep=True):
        self.name = name
        self.keep = keep          # False: drop the events once counted (long answers)
        self.worker = worker      # the worker the connection was probed on
        self.resp = resp
        self.cond = cond
        self.chars = []           # the characters of the delta events, in order
        self.char_t = []          # the arrival time of each
        self.term = None
        self.term_t = None
        self.ended = False        # the body ended (or reading failed)
        self.error = None
        self._seen = 0
        self.timeout = timeout
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _collect(self, resp):
        evs = resp.sse.events
        if len(evs) > self._seen:
            with self.cond:
                for e in evs[self._seen:]:
                    if e.event == "delta" and isinstance(e.json, dict):
                        for ch in e.json.get("text", ""):
                            self.chars.append(ch)
                            self.char_t.append(e.t)
                    elif e.event in ("done", "error"):
                        self.term, self.term_t = e, e.t
                self._seen = len(evs)
                if not self.keep:
                    del self.chars[:], self.char_t[:], evs[:], resp.sse.items[:], resp.body[:]
                    self._seen = 0
                self.cond.notify_all()
        return False  # read until the body ends

    def _run(self):
        try:
            self.resp.read_until(self._collect, self.timeout)
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e
        finally:
            with self.cond:
                self.ended = True
                self.cond.notify_all()

    def describe(self):
        return "%s (worker %s)" % (self.name, self.worker)


class Answer:
    """One answer of a round: its POST, its readers and the text sent so far."""


class ResumeLatency(ChatdTestCase):
    CHATD_ENV = {"CHATD_WORKERS": 2, "CHATD_MODEL": "held"}

    def setUp(self):
        super().setUp()
        self.log = AccessLog(self.chatd)
        self.ids = itertools.count()
        self.pool = {}            # worker index -> connections probed on it, not yet taken
        self.opened = 0
        self.cond = threading.Condition()

    # -- connections with a known worker --
    def probe(self, n):
        """Opens n keep-alive connections and learns from the access log which worker
        accepted each."""
        batch = []
        for _ in range(n):
            c = self.client()
            rid = "lat-probe-%d" % next(self.ids)
            r = c.request("GET", "/api/streams/" + UNKNOWN_ID, b"", [("X-Request-Id", rid)],
                          content_type=None)
            batch.append((c, r, rid))
        self.opened += n
        for c, r, rid in batch:
            r.read_head()
            r.read_to_end()
            self.assertEqual(r.status, 404, bytes(r.body[:200]))
            self.assertTrue(self.reusable(r), "chatd closed the connection after a 404")
        lines, missing = self.log.wait([rid for _, _, rid in batch])
        self.assertEqual(missing, [], "no access log line for these request ids")
        for c, r, rid in batch:
            w = lines[rid].get("worker")
            self.assertIsInstance(w, int, "the access log line has no worker: %r" % lines[rid])
            self.assertIn(w, (0, 1), "2 workers, yet a line says worker %r" % w)
            self.pool.setdefault(w, []).append(c)

    @staticmethod
    def reusable(r):
        return (r.complete and not r.eof and not r.reset
                and (r.header("Connection") or "").lower() != "close")

    def take(self, worker, n):
        """n connections on worker, opening more (up to MAX_CONNECTIONS in all) until
        SO_REUSEPORT put enough there."""
        while len(self.pool.get(worker, [])) < n:
            if self.opened >= MAX_CONNECTIONS:
                self.fail("after %d connections, only %d were on worker %d (wanted %d): "
                          "the test cannot place readers across workers"
                          % (self.opened, len(self.pool.get(worker, [])), worker, n))
            self.probe(8)
        got, self.pool[worker] = self.pool[worker][:n], self.pool[worker][n:]
        return got

    def give_back(self, worker, conns_resps):
        """Returns connections whose response ended cleanly to the pool; the others are
        closed (new ones are probed when needed)."""
        for c, r in conns_resps:
            if self.reusable(r):
                self.pool.setdefault(worker, []).append(c)
            else:
                c.close()

    # -- the mock's held answers --
    def mock_cmd(self, what, mid, text=""):
        path = "/_mock/%s?id=%d&text=%s" % (what, mid, urllib.parse.quote(text))
        st, res = self.mock.call("POST", path, timeout=10)
        self.assertEqual(st, 200, "mock %s: %r" % (what, res))
        return res

    def mock_id(self, marker):
        """The mock's id for the upstream request whose last user message is marker."""
        deadline = time.monotonic() + READ_TIMEOUT
        while True:
            n = len(self.mock.requests())
            for rec in self.mock.requests():
                msgs = (rec.get("body_json") or {}).get("messages") or []
                if msgs and msgs[-1].get("content") == marker:
                    return rec["id"]
            left = deadline - time.monotonic()
            self.assertGreater(left, 0, "the upstream never got the request %r" % marker)
            self.mock.wait_requests(n + 1, min(left, 1.0))

    # -- waiting on readers --
    def wait_until(self, trackers, pred, deadline):
        """Waits until pred holds for every tracker (or its body ended), or deadline."""
        with self.cond:
            self.cond.wait_for(lambda: all(pred(t) or t.ended for t in trackers),
                               max(0.0, deadline - time.monotonic()))

    def assertInTime(self, trackers, arrival, sent_at, what, owner):
        """Every tracker had what it waited for (arrival(t): when it came, None: not yet)
        within LIMIT_S of sent_at. The caller waited up to sent_at + LIMIT_S; on a miss,
        the message says when the late ones got it, waiting up to STRAGGLER_S more (a lost
        wake-up shows as the next heartbeat, 10 s later)."""
        with self.cond:
            late = [t for t in trackers
                    if arrival(t) is None or arrival(t) - sent_at > LIMIT_S]
        if not late:
            return
        self.wait_until(late, lambda t: arrival(t) is not None, sent_at + STRAGGLER_S)
        notes = []
        with self.cond:
            for t in late:
                at = arrival(t)
                notes.append("%s %s" % (t.describe(), "got it %.3f s after" % (at - sent_at)
                                        if at is not None else "still lacked it %.0f s after%s"
                                        % (STRAGGLER_S, " (its body ended)" if t.ended
                                           else "")))
        self.fail("%s (stream owned by worker %d): not every reader had it within %.1f s of "
                  "the upstream sending it: %s" % (what, owner, LIMIT_S, "; ".join(notes)))

    def char_arrival(self, n):
        """arrival() for the first n characters."""
        return lambda t: t.char_t[n - 1] if len(t.chars) >= n else None

    # -- background answers --
    def start_noise(self):
        """One slow answer owned by each worker, read from the other; returns
        [(stream id, trackers)]."""
        noise = []
        for w in (0, 1):
            owner = self.take(w, 1)[0]
            r = owner.request("POST", "/api/chat",
                              chat_body("n" * NOISE_CHARS, "slow-%d" % NOISE_MS))
            r.read_head()
            self.assertEqual(r.status, 200, bytes(r.body[:300]))
            self.assertTrue(r.read_until(lambda x: len(x.events) >= 1), "no start event")
            sid = r.events[0].json["stream_id"]
            trackers = [Tracker("background owner", w, r, self.cond, NOISE_TIMEOUT_S,
                                keep=False)]
            for i, c in enumerate(self.take(1 - w, NOISE_READERS)):
                rr = c.request("GET", "/api/streams/" + sid, b"", [], content_type=None)
                rr.read_head()
                self.assertEqual(rr.status, 200, bytes(rr.body[:300]))
                trackers.append(Tracker("background reader %d" % i, 1 - w, rr, self.cond,
                                        NOISE_TIMEOUT_S, keep=False))
            noise.append((sid, trackers))
        return noise

    def stop_noise(self, noise):
        for sid, trackers in noise:
            r = self.post(b"", path="/api/streams/%s/cancel" % sid, content_type=None)
            # A long soak outlives the background answer and its retention: gone is fine
            # then, as long as every reader saw it end.
            if r.status == 404:
                self.assertTrue(all(t.ended for t in trackers), bytes(r.body[:300]))
            else:
                self.assertIn(r.status, (200, 202), bytes(r.body[:300]))
        for sid, trackers in noise:
            self.wait_until(trackers, lambda t: False, time.monotonic() + READ_TIMEOUT)
            for t in trackers:
                self.assertTrue(t.ended, "background %s did not end" % t.describe())
                self.assertIsNone(t.error, "background %s: %r" % (t.describe(), t.error))
                self.assertIsNotNone(t.term, "background %s: no terminal event"
                                     % t.describe())
                self.assertEqual(t.term.event, "done", t.term)

    # -- one round --
    def open_answer(self, k, a, x, y):
        """POSTs answer a of round k on worker x and opens its readers: N_SAME on x,
        N_CROSS on y."""
        ans = Answer()
        ans.owner_conn = self.take(x, 1)[0]
        ans.conns = ([(c, x) for c in self.take(x, N_SAME)]
                     + [(c, y) for c in self.take(y, N_CROSS)])
        marker = "latency round %d answer %d" % (k, a)
        ans.post_rid = "lat-%d-%d-post" % (k, a)
        ans.post = ans.owner_conn.request("POST", "/api/chat", chat_body(marker, HELD_MODEL),
                                          [("X-Request-Id", ans.post_rid)])
        ans.post.read_head()
        self.assertEqual(ans.post.status, 200, bytes(ans.post.body[:300]))
        self.assertTrue(ans.post.read_until(lambda r: len(r.events) >= 1), "no start event")
        ans.sid = ans.post.events[0].json["stream_id"]
        ans.mid = self.mock_id(marker)
        ans.readers, ans.rids, ans.firsts = [], [], []
        for i, (c, w) in enumerate(ans.conns):
            rid = "lat-%d-%d-r%d" % (k, a, i)
            last = [("Last-Event-ID", "0")] if i % 2 else []
            ans.readers.append(c.request("GET", "/api/streams/" + ans.sid, b"",
                                         [("X-Request-Id", rid)] + last, content_type=None))
            ans.rids.append(rid)
            ans.firsts.append(1 if last else 0)
        ans.trackers = [Tracker("answer %d's POST" % a, x, ans.post, self.cond)]
        for i, ((c, w), r) in enumerate(zip(ans.conns, ans.readers)):
            r.read_head()
            self.assertEqual(r.status, 200, bytes(r.body[:300]))
            ans.trackers.append(Tracker("answer %d's reader %d" % (a, i), w, r, self.cond))
        for t in ans.trackers:
            t.answer = ans
        ans.text = ""
        return ans

    def command_all(self, what, answers, texts):
        """The same command for every answer at once (one thread each), so their
        upstreams write at the same time; returns the mock's answers in order."""
        results = [None] * len(answers)
        errors = []

        def one(i):
            try:
                results[i] = self.mock_cmd(what, answers[i].mid, texts[i])
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(len(answers))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(READ_TIMEOUT)
        if errors:
            raise errors[0]
        self.assertNotIn(None, results, "a mock command did not answer")
        return results

    def round(self, k):
        """ANSWERS answers owned by worker k % 2, each with N_SAME readers there and
        N_CROSS on the other; returns how many readers the log places on a worker other
        than their answer's owner."""
        x, y = k % 2, 1 - k % 2
        answers = [self.open_answer(k, a, x, y) for a in range(ANSWERS)]
        everyone = [t for ans in answers for t in ans.trackers]

        # Pieces mid-stream, sent to every answer at once and each waited for.
        for p in range(PIECES):
            pieces = ["r%da%dp%d-abcdefgh " % (k, a, p) for a in range(len(answers))]
            results = self.command_all("send", answers, pieces)
            for ans, piece in zip(answers, pieces):
                ans.text += piece
            # The last character is not whole until the next one shows it is not followed
            # by a combining mark: chatd sends it with the next piece or the end.
            self.wait_until(everyone, lambda t: len(t.chars) >= len(t.answer.text) - 1,
                            max(r["sent_at"] for r in results) + LIMIT_S)
            for ans, res in zip(answers, results):
                self.assertInTime(ans.trackers, self.char_arrival(len(ans.text) - 1),
                                  res["sent_at"], "round %d, answer %s, piece %d"
                                  % (k, answers.index(ans), p), x)

        # The burst: more text and the end, for every answer at once.
        tails = ["r%da%d-the-end." % (k, a) for a in range(len(answers))]
        results = self.command_all("end", answers, tails)
        for ans, tail in zip(answers, tails):
            ans.text += tail
        self.wait_until(everyone, lambda t: t.term is not None,
                        max(r["ended_at"] for r in results) + LIMIT_S)
        for a, (ans, res) in enumerate(zip(answers, results)):
            self.assertInTime(ans.trackers, self.char_arrival(len(ans.text)), res["sent_at"],
                              "round %d, answer %d, the last text" % (k, a), x)
            self.assertInTime(ans.trackers, lambda t: t.term_t, res["ended_at"],
                              "round %d, answer %d, the end" % (k, a), x)

        cross = 0
        for ans in answers:
            cross += self.check_answer(ans, x)
        return cross

    def check_answer(self, ans, x):
        """After the end: every body complete and right, every request logged on the
        worker its connection was probed on; returns the readers on a non-owner worker.
        The connections go back to the pool."""
        for t, first in zip(ans.trackers, [0] + ans.firsts):
            t.thread.join(READ_TIMEOUT)
            self.assertTrue(t.ended, "%s: the body did not end" % t.describe())
            self.assertIsNone(t.error, "%s: %r" % (t.describe(), t.error))
            self.assertTrue(t.resp.complete, "%s: the body did not end properly"
                            % t.describe())
            self.assertEqual(t.term.event, "done", "%s: %r" % (t.describe(), t.term))
            self.assertEqual(t.term.json.get("finish_reason"), "stop")
            self.assertEqual("".join(t.chars), ans.text, "%s: the text" % t.describe())
            ids = [int(e.id) for e in t.resp.events]
            self.assertEqual(ids, list(range(first, first + len(ids))),
                             "%s: event ids" % t.describe())

        lines, missing = self.log.wait([ans.post_rid] + ans.rids)
        self.assertEqual(missing, [], "no access log line for these request ids")
        owner = lines[ans.post_rid]["worker"]
        self.assertEqual(owner, x, "the POST's worker")
        cross = 0
        for (c, w), rid in zip(ans.conns, ans.rids):
            got = lines[rid]
            self.assertEqual(got["worker"], w, "%s was probed on worker %d, yet served by "
                             "worker %r" % (rid, w, got["worker"]))
            self.assertEqual(got.get("stream_id"), ans.sid)
            self.assertEqual(got.get("outcome"), "done", got)
            cross += got["worker"] != owner
        self.assertGreater(cross, 0, "no reader of %s sat on a worker other than the "
                           "stream's owner, so nothing crossed workers" % ans.sid)

        self.give_back(x, [(ans.owner_conn, ans.post)])
        for (c, w), r in zip(ans.conns, ans.readers):
            self.give_back(w, [(c, r)])
        return cross

    def test_cross_worker_readers_get_each_piece_and_the_end_within_a_second(self):
        slow = under_valgrind(self.chatd)
        forced = os.environ.get("CHATD_TEST_LATENCY_ROUNDS")
        rounds = int(forced) if forced else VALGRIND_ROUNDS if slow else ROUNDS
        self.assertGreater(rounds, 0)
        budget = float("inf") if forced else ROUNDS_BUDGET_S
        # The arrival times are taken by this process's reader threads: a collection of
        # the cyclic garbage collector would stop them all. It runs between rounds only.
        gc.collect()
        gc.disable()
        self.addCleanup(gc.enable)
        noise = [] if slow else self.start_noise()
        crossed, t0, k = 0, time.monotonic(), 0
        while k < rounds and (k < MIN_ROUNDS or time.monotonic() - t0 < budget):
            crossed += self.round(k)
            k += 1
            gc.collect()
        self.stop_noise(noise)
        self.assertGreaterEqual(crossed, k * ANSWERS * N_CROSS,
                                "readers that sat on a worker other than their stream's owner")
        self.assertHealthy()


if __name__ == "__main__":
    import unittest
    unittest.main()
