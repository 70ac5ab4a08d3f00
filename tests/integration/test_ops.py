"""Operations: GET /metrics is valid Prometheus text and its counters move as they should;
stderr carries one JSON line per request (never message contents or keys); X-Request-Id is
echoed (or generated) and forwarded upstream; GET /readyz follows the upstream probe."""

import json
import math
import re
import time

import clusters
from chatd_harness import ChatdTestCase, chat_body, free_port

MIXED = clusters.CASES["mixed"]
MIXED_TEXT = "".join(MIXED)
LONG = "".join("abcdefghijklmnopqrstuvwxyz"[i % 26] for i in range(400))
MARKER = "CONTENT-MARKER-zq81x"
GENERATED_ID = re.compile(r"^[A-Za-z0-9._-]{1,39}$")

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
SAMPLE_RE = re.compile(r"^(%s)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$" % NAME)
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


class PromError(Exception):
    pass


def parse_labels(text):
    labels, pos = {}, 0
    while pos < len(text):
        m = LABEL_RE.match(text, pos)
        if not m:
            raise PromError("bad labels %r" % text)
        if m.group(1) in labels:
            raise PromError("label %s twice in %r" % (m.group(1), text))
        labels[m.group(1)] = m.group(2)
        pos = m.end()
    return labels


def parse_prometheus(text):
    """Prometheus text exposition 0.0.4 -> {(name, frozenset(labels)): value} and
    {family: {"type", "help"}}. Raises PromError on anything malformed."""
    if not text.endswith("\n"):
        raise PromError("the exposition must end with a newline")
    families, samples = {}, {}
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not re.fullmatch(NAME, name):
                    raise PromError("line %d: bad metric name %r" % (n, name))
                fam = families.setdefault(name, {})
                key = parts[1].lower()
                if key in fam:
                    raise PromError("line %d: second %s for %s" % (n, parts[1], name))
                if key == "type":
                    if len(parts) != 4 or parts[3] not in TYPES:
                        raise PromError("line %d: bad TYPE %r" % (n, line))
                    if any(s[0] in family_members(name, parts[3]) for s in samples):
                        raise PromError("line %d: TYPE after samples of %s" % (n, name))
                fam[key] = parts[3] if len(parts) == 4 else ""
            continue
        if not line.strip():
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            raise PromError("line %d: not a sample: %r" % (n, line))
        name, labels, value = m.group(1), parse_labels(m.group(2) or ""), m.group(3)
        try:
            v = float(value)
        except ValueError:
            raise PromError("line %d: bad value %r" % (n, value))
        fam = family_of(name, families)
        if fam is None:
            raise PromError("line %d: sample %s before its TYPE" % (n, name))
        key = (name, frozenset(labels.items()))
        if key in samples:
            raise PromError("line %d: duplicate sample %r" % (n, line))
        samples[key] = v
    return samples, families


def family_members(fam, typ):
    if typ == "histogram":
        return {fam + "_bucket", fam + "_sum", fam + "_count"}
    if typ == "summary":
        return {fam, fam + "_sum", fam + "_count"}
    return {fam}


def family_of(sample_name, families):
    for fam, info in families.items():
        if "type" in info and sample_name in family_members(fam, info["type"]):
            return fam
    return None


class Metrics:
    def __init__(self, text):
        self.text = text
        self.samples, self.families = parse_prometheus(text)

    def get(self, name, **labels):
        key = (name, frozenset(labels.items()))
        if key not in self.samples:
            raise KeyError("no sample %s%r in:\n%s" % (name, labels, self.text))
        return self.samples[key]

    def buckets(self, fam):
        out = []
        for (name, labels), v in self.samples.items():
            if name == fam + "_bucket":
                le = dict(labels)["le"]
                out.append((math.inf if le == "+Inf" else float(le), v))
        return sorted(out)


class OpsBase(ChatdTestCase):
    def metrics(self):
        r = self.get("/metrics")
        self.assertEqual(r.status, 200)
        return Metrics(bytes(r.body).decode("utf-8"))

    def log_lines(self):
        out = []
        for line in self.chatd.stderr_lines:
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def log_for(self, rid, timeout=3.0):
        """The log lines with request_id rid, once at least one was written."""
        deadline = time.monotonic() + timeout
        while True:
            found = [j for j in self.log_lines() if j.get("request_id") == rid]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.02)  # poll interval

    def poll_metric(self, pred, timeout=3.0):
        deadline = time.monotonic() + timeout
        while True:
            m = self.metrics()
            if pred(m) or time.monotonic() > deadline:
                return m
            time.sleep(0.02)  # poll interval


class MetricsTest(OpsBase):
    CHATD_ENV = {"CHATD_MODEL": "echo", "CHATD_RESUME_GRACE_MS": 0}

    def test_exposition_is_valid_prometheus_text(self):
        r = self.get("/metrics")
        self.assertEqual(r.status, 200)
        self.assertTrue((r.header("Content-Type") or "").startswith("text/plain"))
        self.assertIn("version=0.0.4", r.header("Content-Type"))
        m = Metrics(bytes(r.body).decode("utf-8"))
        want = {"chatd_streams_active": "gauge", "chatd_streams_retained": "gauge",
                "chatd_requests_total": "counter", "chatd_streams_total": "counter",
                "chatd_characters_emitted_total": "counter", "chatd_resumes_total": "counter",
                "chatd_rate_limited_total": "counter",
                "chatd_upstream_errors_total": "counter",
                "chatd_cancellations_total": "counter",
                "chatd_first_character_seconds": "histogram"}
        for fam, typ in want.items():
            self.assertEqual(m.families.get(fam, {}).get("type"), typ, fam)
            self.assertTrue(m.families[fam].get("help"), "HELP for " + fam)
        for t in ("status", "connect", "timeout", "malformed", "reported", "early_end", "failed"):
            self.assertGreaterEqual(m.get("chatd_upstream_errors_total", type=t), 0)
        for reason in ("request", "client_gone"):
            self.assertGreaterEqual(m.get("chatd_cancellations_total", reason=reason), 0)
        for (name, labels), v in m.samples.items():
            if m.families.get(family_of(name, m.families), {}).get("type") == "counter":
                self.assertGreaterEqual(v, 0, name)
                self.assertEqual(v, int(v), "%s is a count" % name)

    def test_a_stream_moves_the_counters(self):
        before = self.metrics()
        r = self.chat(MIXED_TEXT)
        self.assertDone(r, MIXED_TEXT, MIXED)
        after = self.metrics()
        d = lambda name, **kw: after.get(name, **kw) - before.get(name, **kw)  # noqa: E731
        self.assertEqual(d("chatd_streams_total"), 1)
        self.assertEqual(d("chatd_characters_emitted_total"), len(MIXED),
                         "characters are grapheme clusters")
        self.assertEqual(d("chatd_first_character_seconds_count"), 1)
        self.assertGreaterEqual(d("chatd_requests_total"), 2)  # the chat and a /metrics
        self.assertGreaterEqual(d("chatd_first_character_seconds_sum"), 0)
        self.assertGreaterEqual(after.get("chatd_streams_retained"), 1)

    def test_histogram_counts_streams_with_a_first_character(self):
        before = self.metrics()
        for text in ("one", "two 👩\u200d💻", "three"):
            self.assertDone(self.chat(text), text)
        self.assertDone(self.chat(""), "")                 # no character at all
        self.assertEqual(self.chat("x", model="status-500").status, 502)
        after = self.metrics()
        fam = "chatd_first_character_seconds"
        self.assertEqual(after.get(fam + "_count") - before.get(fam + "_count"), 3)
        bs = after.buckets(fam)
        self.assertGreaterEqual(len(bs), 2)
        self.assertEqual(bs[-1][0], math.inf)
        counts = [v for _, v in bs]
        self.assertEqual(counts, sorted(counts), "buckets are cumulative: %r" % bs)
        self.assertEqual(bs[-1][1], after.get(fam + "_count"), "+Inf bucket == count")
        self.assertEqual(len({le for le, _ in bs}), len(bs))
        self.assertGreater(after.get(fam + "_sum"), before.get(fam + "_sum") - 1e-9)

    def test_upstream_status_error_is_counted(self):
        before = self.metrics()
        self.assertEqual(self.chat("x", model="status-500").status, 502)
        after = self.metrics()
        up = "chatd_upstream_errors_total"
        self.assertEqual(after.get(up, type="status") - before.get(up, type="status"), 1)
        for t in ("connect", "timeout", "malformed", "reported", "early_end", "failed"):
            self.assertEqual(after.get(up, type=t), before.get(up, type=t), t)

    def test_reported_error_is_counted(self):
        before = self.metrics()
        self.assertErrorEvent(self.chat("x", model="error-mid"), "upstream_error")
        after = self.metrics()
        up = "chatd_upstream_errors_total"
        self.assertEqual(after.get(up, type="reported") - before.get(up, type="reported"), 1)

    def open_live(self):
        c = self.client()
        r = c.request("POST", "/api/chat", chat_body(LONG, "slow-50"))
        r.read_head()
        self.assertEqual(r.status, 200)
        self.assertTrue(r.read_until(lambda x: len(x.deltas()) >= 2))
        return c, r

    def test_cancel_is_counted(self):
        before = self.metrics()
        c, r = self.open_live()
        self.assertGreaterEqual(self.metrics().get("chatd_streams_active"), 1)
        sid = r.events[0].json["stream_id"]
        self.assertEqual(self.post(b"", path="/api/streams/%s/cancel" % sid,
                                   content_type=None).status, 202)
        r.read_to_end()
        cc = "chatd_cancellations_total"
        after = self.poll_metric(lambda m: m.get(cc, reason="request")
                                 > before.get(cc, reason="request"))
        self.assertEqual(after.get(cc, reason="request") - before.get(cc, reason="request"), 1)
        self.assertEqual(after.get(cc, reason="client_gone"),
                         before.get(cc, reason="client_gone"))
        idle = self.poll_metric(lambda m: m.get("chatd_streams_active") == 0)
        self.assertEqual(idle.get("chatd_streams_active"), 0)

    def test_client_gone_is_counted(self):
        before = self.metrics()
        c, r = self.open_live()
        c.close()
        cc = "chatd_cancellations_total"
        after = self.poll_metric(lambda m: m.get(cc, reason="client_gone")
                                 > before.get(cc, reason="client_gone"))
        self.assertEqual(after.get(cc, reason="client_gone")
                         - before.get(cc, reason="client_gone"), 1)

    def test_resume_is_counted(self):
        r = self.chat("again")
        start, _ = self.assertDone(r, "again")
        before = self.metrics()
        self.assertDone(self.get("/api/streams/" + start.json["stream_id"]), "again")
        after = self.metrics()
        self.assertEqual(after.get("chatd_resumes_total") - before.get("chatd_resumes_total"), 1)
        self.assertEqual(after.get("chatd_streams_total"), before.get("chatd_streams_total"))


class RateLimitedMetric(OpsBase):
    CHATD_ENV = {"CHATD_MODEL": "echo", "CHATD_RATE_LIMIT_PER_MINUTE": 60,
                 "CHATD_RATE_LIMIT_BURST": 1}

    def test_429_is_counted(self):
        before = self.metrics()
        self.assertEqual(self.chat("a").status, 200)
        self.assertEqual(self.chat("b").status, 429)
        after = self.metrics()
        self.assertEqual(after.get("chatd_rate_limited_total")
                         - before.get("chatd_rate_limited_total"), 1)


class Logs(OpsBase):
    CHATD_ENV = {"CHATD_MODEL": "echo"}

    def test_one_json_line_for_a_chat(self):
        text = MARKER + " 👍🏽"
        r = self.chat(text, headers=[("X-Request-Id", "log-chat-1")])
        start, _ = self.assertDone(r, text)
        lines = self.log_for("log-chat-1")
        self.assertEqual(len(lines), 1, lines)
        j = lines[0]
        self.assertIsInstance(j.get("time"), str)
        self.assertEqual(j["method"], "POST")
        self.assertEqual(j["path"], "/api/chat")
        self.assertEqual(j["status"], 200)
        self.assertIsInstance(j["duration_ms"], int)
        self.assertGreaterEqual(j["duration_ms"], 0)
        self.assertEqual(j["provider"], "openai")
        self.assertEqual(j["model"], "echo")
        self.assertEqual(j["stream_id"], start.json["stream_id"])
        self.assertEqual(j["characters"], len(clusters.segment(text)))
        self.assertIn(j["outcome"], ("ok", "done"))
        if "first_char_ms" in j:
            self.assertIsInstance(j["first_char_ms"], int)

    def test_one_json_line_for_other_requests(self):
        # (probes and scrapes, /healthz /readyz /metrics, may log at debug only)
        r = self.get("/v1/models", headers=[("X-Request-Id", "log-models-1")])
        self.assertEqual(r.status, 200)
        r = self.post(b"{bad", headers=[("X-Request-Id", "log-bad-1")])
        self.assertEqual(r.status, 400)
        h = self.log_for("log-models-1")
        self.assertEqual(len(h), 1, h)
        self.assertEqual((h[0]["method"], h[0]["path"], h[0]["status"]),
                         ("GET", "/v1/models", 200))
        self.assertNotIn("stream_id", h[0])
        b = self.log_for("log-bad-1")
        self.assertEqual(len(b), 1, b)
        self.assertEqual((b[0]["method"], b[0]["path"], b[0]["status"]), ("POST", "/api/chat", 400))

    def test_every_request_is_logged_once(self):
        ids = ["log-many-%d" % i for i in range(10)]
        for i, rid in enumerate(ids):
            if i % 2:
                self.get("/api/nope" if i % 4 == 1 else "/index-missing.html",
                         headers=[("X-Request-Id", rid)])
            else:
                self.chat("n%d" % i, headers=[("X-Request-Id", rid)])
        self.log_for(ids[-1])
        for rid in ids:
            got = self.log_for(rid)
            self.assertEqual(len(got), 1, "%s logged %d times" % (rid, len(got)))
            for k in ("request_id", "method", "path", "status", "duration_ms"):
                self.assertIn(k, got[0])

    def test_no_content_or_key_in_the_log(self):
        for model in ("echo", "status-401", "status-400", "error-mid"):
            self.chat(MARKER + " secret words", model=model,
                      headers=[("X-Request-Id", "log-" + model)])
        for model in ("echo", "status-401", "status-400", "error-mid"):
            self.assertEqual(len(self.log_for("log-" + model)), 1, model)
        err = self.chatd.stderr()
        self.assertNotIn(MARKER, err, "message content was logged")
        self.assertNotIn("secret words", err)
        self.assertNoSecret(err, "chatd's stderr")
        for j in self.log_lines():
            self.assertIsInstance(j, dict)

    def test_client_gone_outcome(self):
        c = self.client()
        r = c.request("POST", "/api/chat", chat_body(LONG, "slow-20"),
                      [("X-Request-Id", "log-gone-1")])
        r.read_head()
        self.assertTrue(r.read_until(lambda x: len(x.deltas()) >= 2))
        c.abort()
        lines = self.log_for("log-gone-1")
        self.assertEqual(len(lines), 1, lines)
        self.assertEqual(lines[0]["outcome"], "client_gone")
        self.assertGreaterEqual(lines[0]["characters"], 2)


class LogsDebug(OpsBase):
    CHATD_ENV = {"CHATD_MODEL": "echo", "CHATD_LOG_LEVEL": "debug"}

    def test_probes_are_logged_at_debug(self):
        for path in ("/healthz", "/readyz", "/metrics"):
            rid = "log-probe" + path.replace("/", "-")
            self.get(path, headers=[("X-Request-Id", rid)])
            lines = self.log_for(rid)
            self.assertEqual(len(lines), 1, (path, lines))
            self.assertEqual((lines[0]["method"], lines[0]["path"]), ("GET", path))
        self.assertNoSecret(self.chatd.stderr(), "chatd's stderr at debug")


class RequestIds(OpsBase):
    CHATD_ENV = {"CHATD_MODEL": "echo"}

    def upstream_ids(self):
        recs = self.mock.chat_requests()
        self.assertEqual(len(recs), 1)
        return [v for k, v in recs[0]["headers"] if k.lower() == "x-request-id"]

    def test_plain_client_id_is_echoed_and_forwarded(self):
        for rid in ("abc-123.X_y", "a", "x" * 39):
            with self.subTest(rid=rid):
                self.mock.reset()
                r = self.chat("id", headers=[("X-Request-Id", rid)])
                self.assertDone(r, "id")
                self.assertEqual(r.header("X-Request-Id"), rid)
                self.assertEqual(self.upstream_ids(), [rid])
                self.assertEqual(len(self.log_for(rid)), 1)

    def test_missing_id_is_generated_and_forwarded(self):
        r1 = self.chat("one")
        rid = r1.header("X-Request-Id") or ""
        self.assertRegex(rid, GENERATED_ID)
        self.assertEqual(self.upstream_ids(), [rid])
        self.mock.reset()
        r2 = self.chat("two")
        self.assertNotEqual(r2.header("X-Request-Id"), rid, "ids must differ per request")

    def test_odd_ids_are_replaced(self):
        for rid in ("has space", "a/b", "<script>", "id;x=1", "x" * 40, "caf\u00e9",
                    "tab\there", "%0d%0aX-Injected: 1", "{}", "'quoted'"):
            with self.subTest(rid=rid):
                self.mock.reset()
                r = self.chat("odd", headers=[("X-Request-Id", rid)])
                self.assertDone(r, "odd")
                got = r.header("X-Request-Id") or ""
                self.assertNotEqual(got, rid.strip())
                self.assertRegex(got, GENERATED_ID)
                self.assertEqual(self.upstream_ids(), [got])
                self.assertIsNone(r.header("X-Injected"))

    def test_every_response_has_an_id(self):
        for path in ("/healthz", "/metrics", "/readyz", "/api/nope", "/nope.html", "/v1/models"):
            with self.subTest(path=path):
                self.assertRegex(self.get(path).header("X-Request-Id") or "", GENERATED_ID)
        self.assertRegex(self.post(b"{").header("X-Request-Id") or "", GENERATED_ID)


class ReadyUp(OpsBase):
    CHATD_ENV = {"CHATD_MODEL": "echo"}

    def test_ready_when_the_upstream_answers(self):
        deadline = time.monotonic() + 5
        while True:
            r = self.get("/readyz")
            if r.status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.05)  # poll interval
        self.assertEqual(r.status, 200, bytes(r.body))
        self.assertEqual(r.json(), {"status": "ready", "upstream": "reachable",
                                    "upstreams": {"openai": {"status": "reachable", "keys": 1,
                                                             "keys_resting": 0}}})
        self.assertEqual((r.header("Content-Type") or "").split(";")[0], "application/json")



class ReadyDown(OpsBase):
    CHATD_ENV = {"CHATD_MODEL": "echo", "CHATD_UPSTREAM_CONNECT_TIMEOUT_MS": 1000}

    @classmethod
    def setUpClass(cls):
        cls.CHATD_ENV = dict(cls.CHATD_ENV,
                             CHATD_UPSTREAM_URL="http://127.0.0.1:%d/v1" % free_port())
        super().setUpClass()

    def test_not_ready_when_the_upstream_is_unreachable(self):
        deadline = time.monotonic() + 5
        statuses = []
        while time.monotonic() < deadline:
            r = self.get("/readyz")
            statuses.append(r.status)
            if r.status == 503 and r.json().get("upstream") == "unreachable":
                break
            time.sleep(0.05)  # poll interval
        self.assertNotIn(200, statuses)
        self.assertEqual(r.status, 503)
        self.assertNotEqual(r.json().get("status"), "ready")
        self.assertHealthy()
        chat = self.chat("x")
        self.assertJSONError(chat, 502, "upstream_error")
