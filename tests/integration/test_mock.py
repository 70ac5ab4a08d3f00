"""The test tools themselves: the mock upstream serves every scenario as documented and the
hand-written grapheme table agrees with the UAX#29-lite segmenter. When these fail, the
other tests' verdicts on chatd mean nothing."""

import json
import os
import socket
import subprocess
import sys
import time
import unittest

import chatd_harness
import clusters
from chatd_harness import Client, Mock, UPSTREAM_KEY, mock_upstream

import mock_providers  # tests/mock is on sys.path through chatd_harness

TEXT = clusters.text_of(clusters.CASES["mixed"])


class MockSelfCheck(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()

    @classmethod
    def tearDownClass(cls):
        cls.mock.stop()

    def setUp(self):
        self.mock.reset()

    def upstream(self, model, text=TEXT, usage=False, read=True):
        c = Client(self.mock.port)
        self.addCleanup(c.close)
        body = {"model": model, "stream": True,
                "messages": [{"role": "user", "content": text}]}
        if usage:
            body["stream_options"] = {"include_usage": True}
        r = c.request("POST", "/v1/chat/completions", json.dumps(body),
                      [("Authorization", "Bearer " + UPSTREAM_KEY)])
        if read:
            r.read_head()
            r.read_to_end()
        return r

    def decode(self, r):
        """(content, reasoning, finish_reasons, usage, saw_done, errors)"""
        content, reasoning, finish, usage, done, errors = "", "", [], None, False, []
        for e in r.events:
            if e.data == "[DONE]":
                done = True
                continue
            obj = json.loads(e.data)
            if "error" in obj:
                errors.append(obj["error"])
                continue
            if obj.get("usage"):
                usage = obj["usage"]
            for ch in obj["choices"]:
                content += ch["delta"].get("content") or ""
                reasoning += ch["delta"].get("reasoning_content") or ""
                if ch["finish_reason"]:
                    finish.append(ch["finish_reason"])
        return content, reasoning, finish, usage, done, errors

    def test_cluster_table_matches_segmenter(self):
        self.assertEqual(clusters.check_table(), [])

    def test_segmenter_rejects_a_wrong_table(self):
        self.assertNotEqual(clusters.segment("e\u0301"), ["e", "\u0301"])
        self.assertEqual(clusters.segment("🇫🇷🇩"), ["🇫🇷", "🇩"])

    def test_plain_scenarios_reproduce_the_text(self):
        for model in ("echo", "crlf", "cr", "nospace", "comments", "multiline", "escaped",
                      "split-1", "split-7", "crlf+split-1", "cr+split-1", "tok-1",
                      "multiline+comments+crlf+split-2", "nospace+escaped+split-3"):
            text = TEXT if "split" not in model else "a\u00e9\U0001F469\u200d\U0001F4BB\r\n"
            r = self.upstream(model, text=text)
            self.assertEqual(r.status, 200, model)
            self.assertTrue(r.complete, model)
            self.assertEqual(r.sse.utf8_errors, [], model)
            content, _, finish, usage, done, _ = self.decode(r)
            self.assertEqual(content, text, model)
            self.assertEqual(finish, ["stop"], model)
            self.assertTrue(done, model)
            self.assertIsNone(usage, model)

    def test_split_cuts_utf8_sequences(self):
        body = json.dumps({"model": "split-1", "messages": [{"role": "user", "content": "é👩"}]})
        s = socket.create_connection(("127.0.0.1", self.mock.port), timeout=10)
        self.addCleanup(s.close)
        s.sendall(("POST /v1/chat/completions HTTP/1.1\r\nHost: m\r\nContent-Length: %d\r\n"
                   "Connection: close\r\n\r\n%s" % (len(body), body)).encode())
        raw = b""
        while not raw.endswith(b"\r\n0\r\n\r\n"):
            data = s.recv(65536)
            self.assertTrue(data, "EOF before the end of the body")
            raw += data
        _, _, chunked = raw.partition(b"\r\n\r\n")
        sizes, pos = [], 0
        while True:
            eol = chunked.index(b"\r\n", pos)
            n = int(chunked[pos:eol], 16)
            if n == 0:
                break
            sizes.append(n)
            pos = eol + 2 + n + 2
        self.assertEqual(set(sizes), {1})
        self.assertIn("é👩".encode()[1:2], raw)

    def test_usage_scenarios(self):
        r = self.upstream("usage")
        content, _, finish, usage, done, _ = self.decode(r)
        self.assertEqual(content, TEXT)
        self.assertEqual(usage["prompt_tokens"], mock_upstream.USAGE_PROMPT)
        self.assertEqual(usage["completion_tokens"], mock_upstream.USAGE_COMPLETION)
        self.assertTrue(done)
        first = json.loads(r.events[0].data)
        self.assertEqual(first["choices"][0]["delta"], {"role": "assistant"})
        r = self.upstream("echo", usage=True)
        self.assertIsNotNone(self.decode(r)[3])

    def test_reasoning_and_finish_variants(self):
        content, reasoning, finish, _, done, _ = self.decode(self.upstream("reasoning"))
        self.assertEqual((content, reasoning, done), (TEXT, mock_upstream.REASONING_TEXT, True))
        content, _, finish, _, done, _ = self.decode(self.upstream("nodone"))
        self.assertEqual((content, finish, done), (TEXT, ["stop"], False))
        content, _, finish, _, done, _ = self.decode(self.upstream("finish-length"))
        self.assertEqual((content, finish, done), (TEXT, ["length"], True))
        content, _, finish, _, done, _ = self.decode(self.upstream("close-mid"))
        self.assertEqual((content, finish, done), (TEXT, [], False))

    def test_error_mid_and_badjson(self):
        r = self.upstream("error-mid")
        content, _, _, _, done, errors = self.decode(r)
        self.assertEqual((content, done), (TEXT, False))
        self.assertEqual(errors[0]["message"], "overloaded")
        r = self.upstream("badjson")
        self.assertEqual(r.events[-1].data, "[DONE]")
        with self.assertRaises(ValueError):
            json.loads(r.events[-2].data)

    def test_badutf8(self):
        r = self.upstream("badutf8", text="ab")
        self.assertEqual(len(r.sse.utf8_errors), 1)
        self.assertIn(b'"content": "\xff"', bytes(r.body))
        self.assertEqual(r.events[-1].data, "[DONE]")

    def test_status_scenarios(self):
        for st in (400, 401, 429, 500, 503):
            r = self.upstream("status-%d" % st)
            self.assertEqual(r.status, st)
            self.assertIn("error", r.json())
        r = self.upstream("status-401")
        self.assertIn("sk-test-***123", r.json()["error"]["message"])
        r = self.upstream("status-400")
        self.assertIn(UPSTREAM_KEY, r.json()["error"]["message"])
        self.assertEqual(self.upstream("status-429").header("Retry-After"), "7")

    def test_big(self):
        r = self.upstream("big-50000")
        content, _, finish, _, done, _ = self.decode(r)
        self.assertEqual(content, mock_upstream.big_text(50000))
        self.assertEqual(len(mock_upstream.big_text(50000)), 50000)
        self.assertTrue(done)

    def test_faults_end_the_connection(self):
        r = self.upstream("reset-mid")
        self.assertFalse(r.complete)
        self.assertEqual(self.decode(r)[0], TEXT)
        r = self.upstream("eof-mid")
        self.assertFalse(r.complete)
        self.assertTrue(r.eof)
        self.assertEqual(self.decode(r)[0], TEXT)

    def test_slow_timing(self):
        r = self.upstream("slow-20", text="abcdefghij")
        self.assertEqual(self.decode(r)[0], "abcdefghij")
        ts = [e.t for e in r.events if '"content": "' in e.data and '"content": ""' not in e.data]
        self.assertGreaterEqual(ts[-1] - ts[0], 9 * 0.02 * 0.8)

    def test_wait_closed_sees_a_client_leaving_a_stall(self):
        for model in ("stall-first", "stall-mid", "slow-50", "ping-gap-30"):
            self.mock.reset()
            r = self.upstream(model, text="x" * 100, read=False)
            ok, _ = self.mock.wait_requests(1, 5)
            self.assertTrue(ok)
            ok, _ = self.mock.wait_closed(1, 0.2)
            self.assertFalse(ok, model)  # nothing closed yet: 408 at the timeout
            t0 = time.monotonic()
            r.sock.close()
            ok, info = self.mock.wait_closed(1, 2)
            self.assertTrue(ok, model)
            rec = info["requests"][0]
            self.assertTrue(rec["closed_by_peer"])
            self.assertLess(rec["closed_at"] - t0, 0.5, model)

    def test_ping_gap_splits_at_k(self):
        r = self.upstream("ping-gap-1-2", text="abcd")
        deltas = [(json.loads(e.data)["choices"][0]["delta"].get("content"), e.t)
                  for e in r.events if e.data != "[DONE]" and json.loads(e.data)["choices"]]
        first = [t for c, t in deltas if c and c in "ab"]
        later = [t for c, t in deltas if c and c in "cd"]
        self.assertGreater(min(later) - max(first), 0.8)
        self.assertEqual("".join(c or "" for c, _ in deltas), "abcd")

    def test_held_sends_on_command_and_timestamps_the_sends(self):
        r = self.upstream("held", text="ignored", read=False)
        r.read_head()
        ok, info = self.mock.wait_requests(1, 5)
        self.assertTrue(ok)
        rid = info["requests"][0]["id"]
        self.assertTrue(r.read_until(lambda x: len(x.events) >= 1))  # the role chunk
        st, res = self.mock.call("POST", "/_mock/send?id=%d&text=ab%%20c" % rid)
        self.assertEqual(st, 200, res)
        self.assertTrue(r.read_until(lambda x: "ab c" in self.decode(x)[0]))
        self.assertLessEqual(res["sent_at"], r.events[-1].t)
        self.assertEqual(len(r.events), 1 + 3, "tokens of 1, 2, 3 code points")
        st, res = self.mock.call("POST", "/_mock/end?id=%d&text=d" % rid)
        self.assertEqual(st, 200, res)
        self.assertLessEqual(res["sent_at"], res["ended_at"])
        r.read_to_end()
        self.assertTrue(r.complete)
        content, _, finish, _, done, _ = self.decode(r)
        self.assertEqual((content, finish, done), ("ab cd", ["stop"], True))
        self.assertLessEqual(res["ended_at"], r.events[-1].t)
        st, res = self.mock.call("POST", "/_mock/send?id=%d&text=x&timeout=0.1" % rid)
        self.assertEqual(st, 404, "an ended response takes no more commands: %r" % res)

    def test_records(self):
        self.upstream("echo", text="hi")
        recs = self.mock.requests()
        self.assertEqual(len(recs), 1)
        self.assertEqual(recs[0]["path"], "/v1/chat/completions")
        self.assertIn(["Authorization", "Bearer " + UPSTREAM_KEY], recs[0]["headers"])
        self.assertEqual(recs[0]["body_json"]["messages"][0]["content"], "hi")
        self.assertTrue(recs[0]["completed"])

    # ---- tool calls ------------------------------------------------------------------

    def chunks(self, r):
        """The stream's chat.completion.chunk objects (not [DONE])."""
        return [json.loads(e.data) for e in r.events if e.data != "[DONE]"]

    def tool_entries(self, r):
        """(index, entry) for each delta.tool_calls entry, in stream order."""
        return [(tc["index"], tc) for c in self.chunks(r) for ch in c["choices"]
                for tc in ch["delta"].get("tool_calls") or []]

    def assertToolCalls(self, calls, ids=None):
        want = mock_upstream.TOOL_CALLS
        self.assertEqual([c["function"]["name"] for c in calls], [w["name"] for w in want])
        self.assertEqual([c["function"]["arguments"] for c in calls],
                         [w["arguments"] for w in want])
        self.assertEqual([c["id"] for c in calls], ids or [w["id"] for w in want])
        for c in calls:
            json.loads(c["function"]["arguments"])

    def test_tool_fragments_cut_strings_and_escapes(self):
        frags = [f for c in mock_upstream.TOOL_CALLS for f in c["fragments"]]
        self.assertIn("", frags)
        self.assertTrue(any(f.endswith("\\") and not f.endswith("\\\\") for f in frags),
                        "a fragment ends between a backslash and what it escapes")
        self.assertTrue(any(f.endswith("\\u0") or f.endswith("\\u20") for f in frags))
        self.assertTrue(any(f.endswith("\U0001F469") for f in frags), "a cut in a ZWJ sequence")
        for c in mock_upstream.TOOL_CALLS:
            args = json.loads(c["arguments"])
            self.assertEqual(sorted(args), sorted(mock_upstream.TOOL_SCHEMAS[c["name"]]
                                                  ["properties"]))
            for f in c["fragments"][:-1]:
                with self.assertRaises(ValueError, msg="a prefix is not whole JSON"):
                    json.loads("".join(c["fragments"][:c["fragments"].index(f) + 1]))

    def test_tools_streams_parallel_calls_as_openai_does(self):
        for model in ("tools", "tools+split-1", "tools+crlf+escaped"):
            r = self.upstream(model, usage=True, text="Checking é👩‍💻")
            self.assertEqual(r.status, 200, model)
            self.assertTrue(r.complete, model)
            content, _, finish, usage, done, _ = self.decode(r)
            self.assertEqual(content, "Checking é👩‍💻", model)
            self.assertEqual(finish, ["tool_calls"], model)
            self.assertTrue(done)
            self.assertEqual(usage["completion_tokens"], mock_upstream.USAGE_COMPLETION)
            chunks = self.chunks(r)
            deltas = [ch["delta"] for c in chunks for ch in c["choices"]]
            self.assertToolCalls(mock_upstream.assemble(deltas)[1])
            entries = self.tool_entries(r)
            order = [i for i, _ in entries]
            self.assertNotEqual(order, sorted(order), "the calls are interleaved")
            for i in (0, 1):
                mine = [tc for k, tc in entries if k == i]
                self.assertEqual(set(mine[0]), {"index", "id", "type", "function"})
                self.assertEqual(mine[0]["function"]["arguments"], "")
                for tc in mine[1:]:
                    self.assertEqual(set(tc), {"index", "function"}, "id/name once per index")
                    self.assertEqual(set(tc["function"]), {"arguments"})
            self.assertIn("", [tc["function"]["arguments"] for _, tc in entries
                               if "id" not in tc], "an empty arguments fragment")
            # The text comes before the calls; the usage chunk is last, with no choices.
            first_tool = next(k for k, d in enumerate(deltas) if d.get("tool_calls"))
            self.assertFalse(any(d.get("content") for d in deltas[first_tool:]))
            self.assertEqual(chunks[-1]["choices"], [])

    def test_tools_only_and_mixed(self):
        r = self.upstream("tools-only", text="ignored")
        content, _, finish, usage, done, _ = self.decode(r)
        self.assertEqual((content, finish, usage, done), ("", ["tool_calls"], None, True))
        first = self.chunks(r)[0]["choices"][0]["delta"]
        self.assertIsNone(first["content"])
        self.assertEqual(first["tool_calls"][0]["index"], 0)
        order = [i for i, _ in self.tool_entries(r)]
        self.assertEqual(order, sorted(order), "one call after the other")
        deltas = [ch["delta"] for c in self.chunks(r) for ch in c["choices"]]
        self.assertToolCalls(mock_upstream.assemble(deltas)[1])

        text = "before, between and after"
        r = self.upstream("tools-mixed", text=text)
        content, _, finish, _, done, _ = self.decode(r)
        self.assertEqual((content, finish, done), (text, ["tool_calls"], True))
        deltas = [ch["delta"] for c in self.chunks(r) for ch in c["choices"]]
        self.assertTrue(any(d.get("content") and d.get("tool_calls") for d in deltas),
                        "one chunk carries both text and a call")
        kinds = [("t" if d.get("tool_calls") else "c") for d in deltas if d.get("content")
                 or d.get("tool_calls")]
        runs = "".join(k for n, k in enumerate(kinds) if n == 0 or kinds[n - 1] != k)
        self.assertEqual(runs, "ctctc", "text before, between and after the calls")
        self.assertToolCalls(mock_upstream.assemble(deltas)[1])

    def test_tools_without_stream_answers_one_completion(self):
        c = Client(self.mock.port)
        self.addCleanup(c.close)
        body = {"model": "tools", "messages": [{"role": "user", "content": "hi é"}]}
        r = c.request("POST", "/v1/chat/completions", json.dumps(body))
        r.read_head()
        r.read_to_end()
        self.assertEqual(r.status, 200)
        obj = r.json()
        self.assertEqual(obj["object"], "chat.completion")
        ch = obj["choices"][0]
        self.assertEqual(ch["finish_reason"], "tool_calls")
        self.assertEqual(ch["message"]["content"], "hi é")
        self.assertToolCalls(ch["message"]["tool_calls"])
        self.assertEqual(obj["usage"]["prompt_tokens"], mock_upstream.USAGE_PROMPT)
        self.assertEqual(self.mock.requests()[-1]["body_json"], body, "the request is recorded")


class ProvidersMock(Mock):
    """mock_providers.py in a child process, with the harness' control calls."""

    def __init__(self):
        path = os.path.join(chatd_harness.REPO, "tests", "mock", "mock_providers.py")
        self.proc = subprocess.Popen(
            [sys.executable, path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL, env=chatd_harness.clean_env(),
            preexec_fn=chatd_harness._pdeathsig)
        chatd_harness._LIVE.add(self.proc)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("PORT "):
            chatd_harness._kill(self.proc)
            raise RuntimeError("mock_providers did not start: %r" % line)
        self.port = int(line.split()[1])


class ProvidersMockToolsSelfCheck(unittest.TestCase):
    """mock_providers.py's tools-* scenarios stream tool calls as Anthropic and Ollama do."""

    TEXT = "Let me look é👩‍💻"

    @classmethod
    def setUpClass(cls):
        cls.mock = ProvidersMock()

    @classmethod
    def tearDownClass(cls):
        cls.mock.stop()

    def setUp(self):
        self.mock.reset()

    def post(self, path, body):
        c = Client(self.mock.port)
        self.addCleanup(c.close)
        r = c.request("POST", path, json.dumps(body, ensure_ascii=False))
        r.read_head()
        r.read_to_end()
        self.assertEqual(r.status, 200, r.body)
        self.assertTrue(r.complete)
        return r

    def anthropic(self, model, stream=True):
        body = {"model": model, "max_tokens": 100, "stream": stream,
                "messages": [{"role": "user", "content": self.TEXT}]}
        return self.post("/v1/messages", body)

    def ollama(self, model, stream=None):
        body = {"model": model, "messages": [{"role": "user", "content": self.TEXT}]}
        if stream is not None:
            body["stream"] = stream
        return self.post("/api/chat", body)

    def a_fold(self, r):
        """What a client assembles from an Anthropic stream: blocks by index (text, or
        [id, name, arguments]), the stop reason, the output usage, and the event names."""
        blocks, stop, usage, names = {}, None, None, []
        for e in r.events:
            names.append(e.event)
            d = e.json
            self.assertEqual(d["type"], e.event)
            if e.event == "content_block_start":
                self.assertNotIn(d["index"], blocks)
                cb = d["content_block"]
                if cb["type"] == "tool_use":
                    self.assertEqual(cb["input"], {})
                    blocks[d["index"]] = [cb["id"], cb["name"], ""]
                else:
                    blocks[d["index"]] = cb.get("text", "") if cb["type"] == "text" else None
            elif e.event == "content_block_delta":
                delta = d["delta"]
                if delta["type"] == "input_json_delta":
                    blocks[d["index"]][2] += delta["partial_json"]
                elif delta["type"] == "text_delta":
                    blocks[d["index"]] += delta["text"]
            elif e.event == "message_delta":
                stop, usage = d["delta"]["stop_reason"], d["usage"]
        return blocks, stop, usage, names

    def test_anthropic_tools(self):
        for model in ("tools", "tools+split-1", "tools+escaped+crlf"):
            r = self.anthropic(model)
            blocks, stop, usage, names = self.a_fold(r)
            self.assertEqual(blocks[0], self.TEXT, model)
            want = [[i, c["name"], c["arguments"]]
                    for i, c in zip(mock_providers.ANTHROPIC_TOOL_IDS, mock_upstream.TOOL_CALLS)]
            self.assertEqual([blocks[1], blocks[2]], want, model)
            self.assertEqual((stop, usage), ("tool_use", {"output_tokens":
                                                          mock_providers.ANTHROPIC_OUTPUT_TOKENS}))
            self.assertEqual(names[0], "message_start")
            self.assertEqual(names[-2:], ["message_delta", "message_stop"])
            self.assertEqual(names.count("content_block_stop"), 3)
            partial = [e.json["delta"]["partial_json"] for e in r.events
                       if e.event == "content_block_delta"
                       and e.json["delta"]["type"] == "input_json_delta"]
            self.assertIn("", partial)
            # pings between the argument fragments of an open tool_use block
            first_tool = next(k for k, e in enumerate(r.events)
                              if e.event == "content_block_start" and e.json["index"] == 1)
            self.assertIn("ping", names[first_tool:names.index("message_delta")])

    def test_anthropic_tools_variants(self):
        blocks, stop, _, _ = self.a_fold(self.anthropic("tools-only"))
        self.assertEqual(sorted(blocks), [0, 1])
        self.assertEqual(blocks[0][1], "get_weather")
        self.assertEqual(stop, "tool_use")
        blocks, _, _, names = self.a_fold(self.anthropic("tools-thinking"))
        self.assertEqual((blocks[0], blocks[1]), (None, self.TEXT))
        self.assertEqual([blocks[2][1], blocks[3][1]], ["get_weather", "get_time"])
        self.assertIn("content_block_start", names)
        r = self.anthropic("tools-noargs")
        blocks, stop, _, _ = self.a_fold(r)
        self.assertEqual(blocks[1], [mock_providers.NOARGS_TOOL["id"],
                                     mock_providers.NOARGS_TOOL["name"], ""])
        partial = [e.json["delta"] for e in r.events if e.event == "content_block_delta"
                   and e.json["index"] == 1]
        self.assertEqual(partial, [{"type": "input_json_delta", "partial_json": ""}])

    def test_anthropic_tools_without_stream(self):
        obj = self.anthropic("tools", stream=False).json()
        self.assertEqual(obj["stop_reason"], "tool_use")
        self.assertEqual(obj["content"][0], {"type": "text", "text": self.TEXT})
        self.assertEqual([b["input"] for b in obj["content"][1:]],
                         [json.loads(c["arguments"]) for c in mock_upstream.TOOL_CALLS])
        rec = self.mock.requests()[-1]
        self.assertEqual((rec["path"], rec["body_json"]["stream"]), ("/v1/messages", False))

    def o_lines(self, r):
        lines = bytes(r.body).decode("utf-8").split("\n")
        self.assertEqual(lines[-1], "", "every line ends with a newline")
        return [json.loads(x) for x in lines[:-1]]

    def test_ollama_tools(self):
        for model in ("tools", "tools+split-1", "tools+escaped"):
            lines = self.o_lines(self.ollama(model))
            text = "".join(x["message"]["content"] for x in lines)
            self.assertEqual(text, self.TEXT, model)
            with_calls = [x for x in lines if x["message"].get("tool_calls")]
            self.assertEqual(len(with_calls), 1, model)
            calls = with_calls[0]["message"]["tool_calls"]
            self.assertEqual([c["id"] for c in calls], mock_providers.OLLAMA_TOOL_IDS)
            self.assertEqual([c["function"]["index"] for c in calls], [0, 1])
            self.assertEqual([(c["function"]["name"], c["function"]["arguments"]) for c in calls],
                             [(c["name"], json.loads(c["arguments"]))
                              for c in mock_upstream.TOOL_CALLS])
            self.assertFalse(with_calls[0]["done"])
            self.assertIs(lines.index(with_calls[0]), len(lines) - 2, "text first, then calls")
            final = lines[-1]
            self.assertEqual((final["done"], final["done_reason"]), (True, "stop"))
            self.assertEqual(final["eval_count"], mock_providers.OLLAMA_EVAL_COUNT)

    def test_ollama_tools_variants(self):
        lines = self.o_lines(self.ollama("tools-lines"))
        calls = [x["message"]["tool_calls"] for x in lines if x["message"].get("tool_calls")]
        self.assertEqual([len(c) for c in calls], [1, 1])
        self.assertEqual(set(calls[0][0]), {"function"})
        self.assertEqual(set(calls[0][0]["function"]), {"name", "arguments"})
        lines = self.o_lines(self.ollama("tools-noargs"))
        calls = [x["message"]["tool_calls"] for x in lines if x["message"].get("tool_calls")]
        self.assertEqual(calls[0][0]["function"]["arguments"], {})
        lines = self.o_lines(self.ollama("tools-only"))
        self.assertEqual("".join(x["message"]["content"] for x in lines), "")
        obj = self.ollama("tools", stream=False).json()
        self.assertTrue(obj["done"])
        self.assertEqual(len(obj["message"]["tool_calls"]), 2)
        self.assertEqual(obj["message"]["content"], self.TEXT)


if __name__ == "__main__":
    unittest.main()
