"""The Anthropic (Messages API) and Ollama (native NDJSON) upstreams, against
tests/mock/mock_providers.py: what chatd sends (path, headers, body), the text byte for
byte one grapheme cluster per event however the bytes were cut, thinking as reasoning,
usage and finish reasons in done, errors mid-stream and before it, and the same upstreams
through /v1/chat/completions."""

import json
import os
import subprocess
import sys
import time

import chatd_harness
import clusters
from chatd_harness import UPSTREAM_KEY, ChatdTestCase, chat_body
from test_openai_api import OpenAIAssertions, oai_body

import mock_providers as mp  # tests/mock is on sys.path through chatd_harness

MOCK_PROVIDERS = os.path.join(chatd_harness.REPO, "tests", "mock", "mock_providers.py")
SPLIT_TEXT = clusters.text_of(clusters.SPLIT_CLUSTERS)
MIXED = clusters.CASES["mixed"]
MIXED_TEXT = "".join(MIXED)


class ProvidersMock(chatd_harness.Mock):
    """mock_providers.py in a child process; the control calls of the harness' Mock."""

    def __init__(self, base_path=""):
        self.proc = subprocess.Popen(
            [sys.executable, MOCK_PROVIDERS], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL, env=chatd_harness.clean_env(),
            preexec_fn=chatd_harness._pdeathsig)
        chatd_harness._LIVE.add(self.proc)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("PORT "):
            chatd_harness._kill(self.proc)
            raise RuntimeError("mock_providers did not start: %r" % line)
        self.port = int(line.split()[1])
        self.url = "http://127.0.0.1:%d%s" % (self.port, base_path)

    def posts(self, path):
        return [r for r in self.requests() if r["path"].startswith(path)]


class ProviderCase(ChatdTestCase):
    BASE_PATH = ""
    PATH = ""

    @classmethod
    def setUpClass(cls):
        cls.mock = ProvidersMock(cls.BASE_PATH)
        cls.chatd = None
        cls.chatd_err_mark = 0
        try:
            cls.chatd = cls.start_chatd()
        except BaseException:
            cls.mock.stop()
            raise

    def upstream(self, n=1):
        recs = self.mock.posts(self.PATH)
        self.assertEqual(len(recs), n, [r["path"] for r in self.mock.requests()])
        return recs[-1]

    def headers_of(self, rec, name):
        return [v for k, v in rec["headers"] if k.lower() == name.lower()]

    def echo(self, cl, model):
        text = clusters.text_of(cl)
        r = self.chat(text, model=model, timeout=60)
        self.assertDone(r, text, cl, model=model)
        return r

    def assertReady(self):
        r = self.get("/readyz")
        deadline = time.monotonic() + 5
        while r.status != 200 and time.monotonic() < deadline:
            time.sleep(0.05)  # poll interval
            r = self.get("/readyz")
        self.assertEqual(r.status, 200, "the probe of this provider's model list failed")


class Anthropic(OpenAIAssertions, ProviderCase):
    BASE_PATH = "/v1"
    PATH = "/v1/messages"
    CHATD_ENV = {"CHATD_PROVIDER": "anthropic", "CHATD_MODEL": "echo"}

    def test_request_path_headers_and_body(self):
        msgs = [{"role": "system", "content": "Be brief."},
                {"role": "user", "content": "first question"},
                {"role": "assistant", "content": "first answer é"},
                {"role": "system", "content": "Use French."},
                {"role": "user", "content": "second question 中文"}]
        r = self.post(chat_body(messages=msgs, model="echo", temperature=0.5, max_tokens=77))
        self.assertDone(r, "second question 中文")
        rec = self.upstream()
        self.assertEqual(rec["method"], "POST")
        self.assertEqual(rec["path"], "/v1/messages")
        self.assertEqual(self.headers_of(rec, "x-api-key"), [UPSTREAM_KEY])
        self.assertEqual(self.headers_of(rec, "anthropic-version"), ["2023-06-01"])
        ct = self.headers_of(rec, "content-type")
        self.assertEqual([c.split(";")[0].strip() for c in ct], ["application/json"])
        for k, v in rec["headers"]:
            if k.lower() != "x-api-key":
                self.assertNotIn("SECRET123", v, "the key leaked into header " + k)
        body = rec["body_json"]
        self.assertEqual(body["model"], "echo")
        self.assertIs(body["stream"], True)
        self.assertEqual(body["max_tokens"], 77)
        self.assertEqual(body["temperature"], 0.5)
        # system and developer messages become system text blocks, in order
        self.assertEqual(body["system"], [{"type": "text", "text": "Be brief."},
                                          {"type": "text", "text": "Use French."}])
        self.assertEqual([m["role"] for m in body["messages"]], ["user", "assistant", "user"])
        self.assertEqual(body["messages"][0]["content"],
                         [{"type": "text", "text": "first question"}])
        self.assertEqual(body["messages"][1]["content"],
                         [{"type": "text", "text": "first answer é"}])
        self.assertEqual(body["messages"][-1]["content"],
                         [{"type": "text", "text": "second question 中文"}])
        self.assertNotIn("SECRET123", rec["body"])

    def test_max_tokens_always_sent(self):
        self.assertDone(self.chat("no limit given"), "no limit given")
        body = self.upstream()["body_json"]
        self.assertIsInstance(body.get("max_tokens"), int)
        self.assertGreater(body["max_tokens"], 0)
        self.assertNotIn("system", body, "no system field without system messages")

    def test_text_byte_exact_one_cluster_per_event(self):
        for name in ("mixed", "zwj_sequences", "skin_tones_and_flags", "combining",
                     "quotes_and_controls", "astral_letters"):
            for model in ("echo", "tok-1", "escaped+tok-3", "extras", "crlf+tok-2"):
                with self.subTest(case=name, model=model):
                    self.echo(clusters.CASES[name], model)

    def test_slow_split_reads(self):
        for model in ("split-1", "split-2", "split-5", "crlf+split-3", "escaped+split-4"):
            with self.subTest(model=model):
                self.echo(clusters.SPLIT_CLUSTERS, model)

    def test_thinking_becomes_reasoning_events(self):
        r = self.echo(MIXED, "thinking")
        self.assertEqual(r.deltas("reasoning"), clusters.segment(mp.THINKING_TEXT))
        kinds = [e.event for e in r.events]
        self.assertEqual(set(kinds[1:kinds.index("delta")]), {"reasoning"})

    def test_usage_and_stop_reason_end_turn(self):
        r = self.chat("counted")
        _, term = self.assertDone(r, "counted", list("counted"))
        self.assertEqual(term.json.get("usage"),
                         {"prompt_tokens": mp.ANTHROPIC_INPUT_TOKENS,
                          "completion_tokens": mp.ANTHROPIC_OUTPUT_TOKENS})

    def test_stop_reason_max_tokens_is_length(self):
        self.assertDone(self.chat("cut", model="length"), "cut", finish="length")

    def test_error_event_mid_stream(self):
        r = self.chat(MIXED_TEXT, model="error-mid")
        err = self.assertErrorEvent(r, "upstream_error", text_exact=MIXED_TEXT)
        self.assertIn(mp.ANTHROPIC_ERROR_MID, err["message"])

    def test_end_without_message_stop_is_an_error(self):
        r = self.chat("abc", model="nostop")
        self.assertErrorEvent(r, "upstream_error", text_exact="abc")

    def test_malformed_event_is_an_error(self):
        r = self.chat("abc", model="badjson")
        self.assertErrorEvent(r, "upstream_error", text_prefix="abc")

    def test_529_overloaded_before_the_stream_is_502(self):
        r = self.chat("x", model="status-529")
        err = self.assertJSONError(r, 502, "upstream_error")
        self.assertIn("529", err["message"])

    def test_401_before_the_stream_is_502_without_the_key(self):
        r = self.chat("x", model="status-401")
        err = self.assertJSONError(r, 502, "upstream_error")
        self.assertIn("401", err["message"])
        self.assertNoSecret(self.chatd.stderr(), "chatd's stderr")

    def test_openai_stream_through_anthropic(self):
        r = self.post(oai_body(MIXED_TEXT, stream_options={"include_usage": True}),
                      path="/v1/chat/completions")
        p, c = mp.ANTHROPIC_INPUT_TOKENS, mp.ANTHROPIC_OUTPUT_TOKENS
        self.assertOAIStream(r, MIXED_TEXT, MIXED,
                             usage={"prompt_tokens": p, "completion_tokens": c,
                                    "total_tokens": p + c})

    def test_openai_whole_through_anthropic(self):
        r = self.post(oai_body(SPLIT_TEXT, model="split-3", stream=False),
                      path="/v1/chat/completions")
        self.assertEqual(r.status, 200, bytes(r.body[:300]))
        body = r.json()
        self.assertEqual(body["choices"][0]["message"]["content"].encode(), SPLIT_TEXT.encode())
        self.assertEqual(body["choices"][0]["finish_reason"], "stop")

    def test_openai_reasoning_through_anthropic(self):
        r = self.post(oai_body("4", model="thinking"), path="/v1/chat/completions")
        self.assertOAIStream(r, "4", ["4"], reasoning=clusters.segment(mp.THINKING_TEXT))

    def test_openai_error_through_anthropic(self):
        r = self.post(oai_body("x", model="status-529"), path="/v1/chat/completions")
        self.assertOAIError(r, 502, "upstream_error")

    def test_readyz_probes_anthropic(self):
        self.assertReady()


class Ollama(OpenAIAssertions, ProviderCase):
    PATH = "/api/chat"
    CHATD_ENV = {"CHATD_PROVIDER": "ollama", "CHATD_MODEL": "echo"}

    def test_request_path_and_body(self):
        msgs = [{"role": "system", "content": "Be brief."},
                {"role": "user", "content": "q1"},
                {"role": "assistant", "content": "a1"},
                {"role": "user", "content": "q2 é"}]
        r = self.post(chat_body(messages=msgs, model="echo", temperature=0.25, max_tokens=33))
        self.assertDone(r, "q2 é")
        rec = self.upstream()
        self.assertEqual(rec["path"], "/api/chat")
        body = rec["body_json"]
        self.assertEqual(body["model"], "echo")
        self.assertIs(body["stream"], True)
        self.assertEqual([(m["role"], m["content"]) for m in body["messages"]],
                         [(m["role"], m["content"]) for m in msgs])
        self.assertEqual(body["options"]["temperature"], 0.25)
        self.assertEqual(body["options"]["num_predict"], 33)
        for k, v in rec["headers"]:
            if k.lower() == "authorization":
                self.assertEqual(v, "Bearer " + UPSTREAM_KEY)
            else:
                self.assertNotIn("SECRET123", v)

    def test_text_byte_exact_one_cluster_per_event(self):
        for name in ("mixed", "zwj_sequences", "skin_tones_and_flags", "combining",
                     "quotes_and_controls", "crlf_and_newlines"):
            for model in ("echo", "tok-1", "escaped+tok-2"):
                with self.subTest(case=name, model=model):
                    self.echo(clusters.CASES[name], model)

    def test_slow_lines_split_across_reads(self):
        for model in ("split-1", "split-2", "split-7", "escaped+split-3"):
            with self.subTest(model=model):
                self.echo(clusters.SPLIT_CLUSTERS, model)

    def test_done_carries_eval_counts_as_usage(self):
        r = self.chat("counted")
        _, term = self.assertDone(r, "counted", list("counted"))
        self.assertEqual(term.json.get("usage"),
                         {"prompt_tokens": mp.OLLAMA_PROMPT_EVAL_COUNT,
                          "completion_tokens": mp.OLLAMA_EVAL_COUNT})

    def test_done_reason_length(self):
        self.assertDone(self.chat("cut", model="length"), "cut", finish="length")

    def test_thinking_becomes_reasoning_events(self):
        r = self.echo(MIXED, "thinking")
        self.assertEqual(r.deltas("reasoning"), clusters.segment(mp.THINKING_TEXT))

    def test_error_line_mid_stream(self):
        r = self.chat(MIXED_TEXT, model="error-mid")
        err = self.assertErrorEvent(r, "upstream_error", text_exact=MIXED_TEXT)
        self.assertIn(mp.OLLAMA_ERROR_MID, err["message"])

    def test_end_without_done_is_an_error(self):
        self.assertErrorEvent(self.chat("abc", model="nostop"), "upstream_error",
                              text_exact="abc")

    def test_malformed_line_is_an_error(self):
        self.assertErrorEvent(self.chat("abc", model="badjson"), "upstream_error",
                              text_prefix="abc")

    def test_404_before_the_stream_is_502(self):
        r = self.chat("x", model="status-404")
        err = self.assertJSONError(r, 502, "upstream_error")
        self.assertIn("404", err["message"])

    def test_openai_stream_through_ollama(self):
        r = self.post(oai_body(SPLIT_TEXT, model="split-2",
                               stream_options={"include_usage": True}),
                      path="/v1/chat/completions")
        p, c = mp.OLLAMA_PROMPT_EVAL_COUNT, mp.OLLAMA_EVAL_COUNT
        self.assertOAIStream(r, SPLIT_TEXT, clusters.SPLIT_CLUSTERS,
                             usage={"prompt_tokens": p, "completion_tokens": c,
                                    "total_tokens": p + c})

    def test_openai_whole_through_ollama(self):
        r = self.post(oai_body(MIXED_TEXT, stream=False), path="/v1/chat/completions")
        self.assertEqual(r.status, 200, bytes(r.body[:300]))
        self.assertEqual(r.json()["choices"][0]["message"]["content"].encode(),
                         MIXED_TEXT.encode())

    def test_openai_mid_stream_error_through_ollama(self):
        r = self.post(oai_body("abc", model="error-mid"), path="/v1/chat/completions")
        self.assertEqual(r.status, 200)
        last = json.loads([e.data for e in r.events if e.data != "[DONE]"][-1])
        self.assertEqual(last.get("error", {}).get("code"), "upstream_error")

    def test_cancel_closes_the_ollama_upstream(self):
        c = self.client()
        r = c.request("POST", "/api/chat", chat_body("a" * 200, "slow-50"))
        r.read_head()
        self.assertTrue(r.read_until(lambda x: len(x.deltas()) >= 2))
        sid = r.events[0].json["stream_id"]
        t0 = time.monotonic()
        self.assertEqual(self.post(b"", path="/api/streams/%s/cancel" % sid,
                                   content_type=None).status, 202)
        ok, info = self.mock.wait_closed(1, 2.0)
        self.assertTrue(ok)
        rec = [q for q in info["requests"] if q["closed_by_peer"]][0]
        self.assertLess(rec["closed_at"] - t0, 0.2)
        r.read_to_end()
        self.assertEqual(r.events[-1].json.get("finish_reason"), "cancelled")

    def test_readyz_probes_ollama(self):
        self.assertReady()
