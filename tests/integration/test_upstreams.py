"""Several upstreams at once (the config file's "upstreams" and "models"): three mock
upstreams of different providers (OpenAI-compatible, Anthropic, Ollama), routing by name
and by "*", a model rewritten upstream, each failure before the first character falling
back (connect refused, 500, 429 with Retry-After, a stall before the first byte, an error
event before any text) with the client seeing one byte-exact stream from the fallback and
`start` naming it, no retry after the first character, key rotation and resting checked
by the keys the mock saw, every key resting -> 429, /v1/models, an unmatched model's 404,
bad maps refused at start (exit 2), and SIGHUP reloading the map while a stream runs."""

import json
import os
import signal
import subprocess
import tempfile
import time
import unittest

import chatd_harness
import clusters
from chatd_harness import Chatd, ChatdTestCase, Mock, clean_env, chatd_bin, free_port
from test_providers import ProvidersMock

TEXT = clusters.CASES["mixed"]
TEXT_S = "".join(TEXT)

KEYS = {
    "OAI_KEY_A": "sk-oai-aaaa-0001",
    "OAI_KEY_B": "sk-oai-bbbb-0002",
    "ROT_BAD": "status-401-rot-bad-key",
    "ROT_GOOD1": "sk-rot-good-0001",
    "ROT_GOOD2": "sk-rot-good-0002",
    "BUSY_A": "status-429-busy-a",
    "BUSY_B": "status-429-busy-b",
    "ANTH_KEY": "sk-ant-mock-0001",
}


def write_config(path, oai_url, prov_port, dead_port):
    cfg = {
        "upstreams": [
            {"name": "oai", "provider": "openai", "url": oai_url,
             "api_key_env": ["OAI_KEY_A", "OAI_KEY_B"]},
            {"name": "claude", "provider": "anthropic",
             "url": "http://127.0.0.1:%d/v1" % prov_port, "api_key_env": "ANTH_KEY"},
            {"name": "local", "provider": "ollama", "url": "http://127.0.0.1:%d" % prov_port},
            {"name": "dead", "provider": "openai", "url": "http://127.0.0.1:%d/v1" % dead_port,
             "connect_timeout_ms": 2000},
            {"name": "slow", "provider": "openai", "url": oai_url, "first_byte_timeout_ms": 400},
            {"name": "rot", "provider": "openai", "url": oai_url,
             "api_key_env": ["ROT_BAD", "ROT_GOOD1", "ROT_GOOD2"]},
            {"name": "busy", "provider": "openai", "url": oai_url,
             "api_key_env": ["BUSY_A", "BUSY_B"]},
            {"name": "oai429", "provider": "openai", "url": oai_url,
             "api_key_env": ["OAI_KEY_A", "OAI_KEY_B"]},
        ],
        "models": [
            {"name": "gpt-echo", "upstream": "oai", "model": "echo"},
            {"name": "smart", "upstream": "claude", "model": "echo"},
            {"name": "claude-echo", "upstream": "claude", "model": "echo"},
            {"name": "local-echo", "upstream": "local", "model": "echo"},
            {"name": "from-dead", "upstream": "dead", "model": "echo",
             "fallbacks": ["claude-echo"]},
            {"name": "from-500", "upstream": "oai", "model": "status-500",
             "fallbacks": ["local-echo"]},
            {"name": "from-429", "upstream": "oai429", "model": "status-429",
             "fallbacks": ["claude-echo"]},
            {"name": "gpt429-echo", "upstream": "oai429", "model": "echo"},
            {"name": "from-stall", "upstream": "slow", "model": "stall-first",
             "fallbacks": ["local-echo"]},
            {"name": "from-error-event", "upstream": "oai", "model": "error-first",
             "fallbacks": ["claude-echo", "local-echo"]},
            {"name": "mid-error", "upstream": "oai", "model": "error-mid",
             "fallbacks": ["claude-echo"]},
            {"name": "all-fail", "upstream": "oai", "model": "status-503",
             "fallbacks": ["from-dead-only"]},
            {"name": "from-dead-only", "upstream": "dead", "model": "echo"},
            {"name": "rotating", "upstream": "rot", "model": "echo"},
            {"name": "busy", "upstream": "busy", "model": "echo"},
            {"name": "*", "upstream": "local"},
        ],
    }
    with open(path, "w") as f:
        json.dump(cfg, f)


class Upstreams(ChatdTestCase):
    """One chatd in front of the three mocks, a map using them all."""

    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()
        cls.prov = ProvidersMock("")
        cls.dead_port = free_port()
        cls.cfgdir = tempfile.TemporaryDirectory(prefix="chatd-map-")
        cls.cfg = os.path.join(cls.cfgdir.name, "chatd.json")
        write_config(cls.cfg, cls.mock.url, cls.prov.port, cls.dead_port)
        cls.chatd = None
        cls.chatd_err_mark = 0
        try:
            cls.chatd = cls.start_chatd()
        except BaseException:
            cls.mock.stop()
            cls.prov.stop()
            raise

    @classmethod
    def start_chatd(cls, **override):
        env = dict(KEYS)
        env.update({"CHATD_UPSTREAM_API_KEY": None, "CHATD_PROVIDER": None})
        env.update(override)
        return Chatd(cls.mock.url, env, args=["--config", cls.cfg])

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.prov.stop()
            cls.cfgdir.cleanup()

    def setUp(self):
        super().setUp()
        self.prov.reset()

    def keys_seen(self, recs):
        return [dict((k.lower(), v) for k, v in r["headers"]).get("authorization") for r in recs]

    # -- routing --

    def test_routing_by_name_goes_to_its_upstream_with_its_key(self):
        r = self.chat(TEXT_S, model="gpt-echo")
        self.assertDone(r, TEXT_S, TEXT, model="gpt-echo")
        recs = self.mock.chat_requests()
        self.assertEqual(len(recs), 1)
        self.assertEqual(recs[0]["model"], "echo", "the entry's model goes upstream")
        self.assertIn(self.keys_seen(recs)[0], ("Bearer " + KEYS["OAI_KEY_A"],
                                                "Bearer " + KEYS["OAI_KEY_B"]))
        self.assertEqual(self.prov.requests(), [], "no other upstream was asked")

    def test_model_rewritten_for_anthropic(self):
        r = self.chat(TEXT_S, model="smart")
        self.assertDone(r, TEXT_S, TEXT, model="smart")
        recs = self.prov.posts("/v1/messages")
        self.assertEqual(len(recs), 1)
        self.assertEqual(recs[0]["body_json"]["model"], "echo")
        hs = dict((k.lower(), v) for k, v in recs[0]["headers"])
        self.assertEqual(hs.get("x-api-key"), KEYS["ANTH_KEY"])

    def test_star_routes_any_other_name_as_asked(self):
        r = self.chat(TEXT_S, model="tok-3")
        self.assertDone(r, TEXT_S, TEXT, model="tok-3")
        recs = self.prov.posts("/api/chat")
        self.assertEqual(len(recs), 1, "the '*' entry's upstream (Ollama) answered")
        self.assertEqual(recs[0]["body_json"]["model"], "tok-3", "the name as asked")
        self.assertEqual(self.mock.chat_requests(), [])

    def test_openai_api_routes_too(self):
        r = self.post(json.dumps({"model": "smart", "stream": True,
                                  "messages": [{"role": "user", "content": TEXT_S}]}).encode(),
                      path="/v1/chat/completions")
        self.assertEqual(r.status, 200, r.body[:300])
        self.assertIn(b'"model":"smart"', r.body)
        self.assertEqual(len(self.prov.posts("/v1/messages")), 1)

    def test_models_lists_the_routable_names(self):
        r = self.get("/v1/models")
        self.assertEqual(r.status, 200)
        ids = [m["id"] for m in r.json()["data"]]
        self.assertEqual(ids[0], "gpt-echo", "the default (the map's first entry) first")
        for name in ("smart", "claude-echo", "local-echo", "rotating"):
            self.assertIn(name, ids)
        self.assertNotIn("*", ids)
        owners = {m["id"]: m["owned_by"] for m in r.json()["data"]}
        self.assertEqual(owners["smart"], "claude")

    def test_no_model_uses_the_default_entry(self):
        body = json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode()
        r = self.post(body)
        self.assertDone(r, "hi", model="gpt-echo")

    # -- fallbacks before the first character --

    def fallback_case(self, model, answered_by, path):
        r = self.chat(TEXT_S, model=model, timeout=30)
        self.assertDone(r, TEXT_S, TEXT, model=answered_by)
        self.assertEqual(len(self.prov.posts(path)), 1, "the fallback got the request once")
        return r

    def test_connect_refused_falls_back(self):
        self.fallback_case("from-dead", "claude-echo", "/v1/messages")
        self.assertIn("dead/echo connect error", self.chatd.stderr())

    def test_500_falls_back_across_providers(self):
        self.fallback_case("from-500", "local-echo", "/api/chat")
        # both keys of oai were tried before the fallback
        self.assertEqual(len(self.mock.chat_requests()), 2)

    def test_429_with_retry_after_rests_the_key_and_falls_back(self):
        self.fallback_case("from-429", "claude-echo", "/v1/messages")
        recs = self.mock.chat_requests()
        self.assertEqual(sorted(self.keys_seen(recs)),
                         sorted(["Bearer " + KEYS["OAI_KEY_A"], "Bearer " + KEYS["OAI_KEY_B"]]))
        m = self.get("/metrics").body.decode()
        self.assertIn('chatd_upstream_key_resting{upstream="oai429",key="0",var="OAI_KEY_A"} 1', m)
        self.assertNotIn(KEYS["OAI_KEY_A"], m, "never the key itself")
        # Both keys rest (Retry-After: 7): a model on that upstream alone is refused with 429.
        r = self.chat("x", model="gpt429-echo")
        err = self.assertJSONError(r, 429, "rate_limited")
        self.assertIn("resting", err["message"])
        self.assertTrue(1 <= int(r.header("Retry-After")) <= 7, r.header("Retry-After"))
        ups = self.get("/readyz").json()["upstreams"]
        self.assertEqual(ups["oai429"]["keys_resting"], 2)

    def test_stall_before_the_first_byte_falls_back(self):
        t0 = time.monotonic()
        self.fallback_case("from-stall", "local-echo", "/api/chat")
        self.assertLess(time.monotonic() - t0, 10)
        ok, _ = self.mock.wait_closed(1, timeout=5)
        self.assertTrue(ok, "the stalled upstream's connection was closed")

    def test_error_event_before_any_text_falls_back(self):
        r = self.fallback_case("from-error-event", "claude-echo", "/v1/messages")
        self.assertNotIn(b"overloaded", r.body, "the failed attempt left no trace in the stream")
        self.assertEqual(self.prov.posts("/api/chat"), [], "the second fallback was not needed")

    def test_no_retry_after_the_first_character(self):
        r = self.chat(TEXT_S, model="mid-error")
        self.assertErrorEvent(r, "upstream_error", text_exact=TEXT_S)
        self.assertEqual(self.prov.requests(), [], "nothing retried once text went out")

    def test_every_attempt_failing_reports_the_last(self):
        r = self.chat(TEXT_S, model="all-fail", timeout=30)
        self.assertJSONError(r, 502, "upstream_error")
        self.assertEqual(len(self.mock.chat_requests()), 2, "both keys of the first entry")

    # -- keys --

    def test_keys_in_turn_and_a_rejected_key_rests(self):
        seen = []
        for i in range(6):
            self.mock.reset()
            r = self.chat("k%d" % i, model="rotating")
            self.assertDone(r, "k%d" % i, model="rotating")
            seen.append(self.keys_seen(self.mock.chat_requests()))
        flat = [k for s in seen for k in s]
        bad = "Bearer " + KEYS["ROT_BAD"]
        self.assertLessEqual(flat.count(bad), 1, "the key answered 401 rests: %r" % seen)
        good = [s[-1] for s in seen]
        self.assertNotIn(bad, good)
        self.assertEqual(set(good), {"Bearer " + KEYS["ROT_GOOD1"], "Bearer " + KEYS["ROT_GOOD2"]},
                         "the good keys are used in turn: %r" % good)
        self.assertLessEqual(max(good.count(g) for g in set(good)), 4)

    def test_all_keys_resting_is_429_with_the_shortest_wait(self):
        r = self.chat("x", model="busy")
        self.assertJSONError(r, 502, "upstream_error")  # both keys answered 429
        self.assertEqual(len(self.mock.chat_requests()), 2)
        r = self.chat("x", model="busy")
        self.assertJSONError(r, 429, "rate_limited")
        self.assertTrue(1 <= int(r.header("Retry-After")) <= 7)
        self.assertEqual(len(self.mock.chat_requests()), 2, "no request while every key rests")

    def test_readyz_names_every_upstream(self):
        deadline = time.monotonic() + 15
        while True:
            j = self.get("/readyz").json()
            ups = j["upstreams"]
            if (ups.get("dead", {}).get("status") == "unreachable"
                    and ups.get("oai", {}).get("status") == "reachable"):
                break
            self.assertLess(time.monotonic(), deadline, j)
            time.sleep(0.1)  # poll interval: the probe runs on its own schedule
        self.assertEqual(j["status"], "ready", "one reachable upstream is enough")
        self.assertEqual(set(j["upstreams"]), {"oai", "claude", "local", "dead", "slow", "rot", "busy", "oai429"})
        self.assertEqual(j["upstreams"]["rot"]["keys"], 3)
        self.assertNotIn("sk-", json.dumps(j), "never a key")


class BadMaps(unittest.TestCase):
    """A map that cannot work is a one-line error at start, exit 2, naming the entry."""

    def run_with(self, cfg, env=None):
        with tempfile.TemporaryDirectory(prefix="chatd-badmap-") as d:
            path = os.path.join(d, "c.json")
            with open(path, "w") as f:
                json.dump(cfg, f)
            e = clean_env()
            e.update({"CHATD_LISTEN": "127.0.0.1:0"})
            e.update(env or {})
            p = subprocess.run([chatd_bin(), "--config", path], env=e, capture_output=True,
                               timeout=60, stdin=subprocess.DEVNULL)
            return p.returncode, p.stderr.decode()

    def test_bad_maps(self):
        up = {"name": "u", "provider": "openai", "url": "http://127.0.0.1:9/v1"}
        cases = [
            ({"upstreams": [up], "models": [{"name": "m", "upstream": "nope"}]},
             'models[0] (m): unknown upstream "nope"'),
            ({"upstreams": [up], "models": [{"name": "m", "upstream": "u", "fallbacks": ["x"]}]},
             'fallback "x" is not a model in the map'),
            ({"upstreams": [dict(up, api_key_env="CHATD_TEST_UNSET_KEY")]},
             "api_key_env: CHATD_TEST_UNSET_KEY is not set"),
            ({"upstreams": [dict(up, provider="bard")]}, 'unknown provider "bard"'),
            ({"upstreams": [up, up]}, "another upstream has this name"),
            ({"upstreams": [dict(up, colour="red")]}, 'unknown key "colour"'),
            ({"models": [{"name": "m", "upstream": "u"}]}, "needs its upstreams"),
        ]
        for cfg, want in cases:
            with self.subTest(want=want):
                rc, err = self.run_with(cfg)
                self.assertEqual(rc, 2, err)
                lines = [ln for ln in err.splitlines() if want in ln]
                self.assertEqual(len(lines), 1, err)


class Reload(ChatdTestCase):
    """SIGHUP swaps the map; a stream under way finishes on the table it started with."""

    PER_TEST = True

    @classmethod
    def setUpClass(cls):
        cls.cfgdir = tempfile.TemporaryDirectory(prefix="chatd-reload-")
        cls.cfg = os.path.join(cls.cfgdir.name, "chatd.json")
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.cfgdir.cleanup()

    def write(self, models):
        with open(self.cfg, "w") as f:
            json.dump({"upstreams": [{"name": "oai", "provider": "openai", "url": self.mock.url,
                                      "api_key_env": "RELOAD_KEY"}], "models": models}, f)

    @classmethod
    def start_chatd(cls, **override):
        return Chatd(cls.mock.url, {"RELOAD_KEY": "sk-reload-0001"}, args=["--config", cls.cfg])

    def setUp(self):
        self.write([{"name": "first", "upstream": "oai", "model": "slow-100"}])
        super().setUp()

    def test_sighup_reloads_while_a_stream_runs(self):
        text = "0123456789abcdefghij"
        r = self.chat(text, model="first", read=False, timeout=30)
        self.assertEqual(r.status, 200)
        self.assertTrue(r.read_until(lambda x: any(e.event == "delta" for e in x.events), timeout=10))
        self.write([{"name": "second", "upstream": "oai", "model": "echo"}])
        mark = len(self.chatd.stderr_lines)
        self.chatd.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "model map reloaded" not in "".join(self.chatd.stderr_lines[mark:]):
            self.assertLess(time.monotonic(), deadline, self.chatd.stderr())
            time.sleep(0.05)  # poll interval: the log line says the reload happened
        r2 = self.chat("new", model="second")
        self.assertDone(r2, "new", model="second")
        gone = self.chat("x", model="first")
        self.assertJSONError(gone, 404, "not_found")
        r.read_to_end(30)
        self.assertDone(r, text, model="first")  # the running stream was not dropped

    def test_a_bad_map_on_sighup_keeps_the_old(self):
        with open(self.cfg, "w") as f:
            f.write('{"upstreams": [{"name": "x"}]}')
        mark = len(self.chatd.stderr_lines)
        self.chatd.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "was not reloaded" not in "".join(self.chatd.stderr_lines[mark:]):
            self.assertLess(time.monotonic(), deadline, self.chatd.stderr())
            time.sleep(0.05)  # poll interval
        r = self.chat("still", model="first", timeout=30)
        self.assertDone(r, "still", model="first")


if __name__ == "__main__":
    unittest.main()
