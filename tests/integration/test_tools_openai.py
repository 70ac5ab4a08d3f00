"""The whole OpenAI request to an OpenAI-compatible upstream, and its streamed tool calls
back to every kind of client. The upstream gets the client's JSON unchanged but for model,
stream and stream_options (tools, tool_choice, parameters, content parts, tool calls and
results, unknown fields); a tool call the upstream streams reaches a /v1 stream client as
delta.tool_calls (index, id, type, name, then argument fragments), the native client as
tool_call events, a stream:false client as message.tool_calls; arguments byte for byte."""

import json

from chatd_harness import ChatdTestCase, mock_upstream
from test_openai_api import oai_chunks

CALLS = mock_upstream.TOOL_CALLS  # what the mock's tools scenarios stream

# Every kind of message and every parameter OpenAI's request has, and one it does not.
WHOLE = {
    "model": "echo",
    "messages": [
        {"role": "developer", "content": "Answer briefly."},
        {"role": "system", "content": [{"type": "text", "text": "Be kind."}]},
        {"role": "user", "content": [
            {"type": "text", "text": "Weather where this is? 👩‍💻"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=",
                                                "detail": "low"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/z\u00fcrich.jpg"}}]},
        {"role": "assistant", "content": None, "reasoning_content": "They want weather.",
         "tool_calls": [{"id": "call_1", "type": "function", "function": {
             "name": "get_weather", "arguments": "{\"city\":\"Z\u00fcrich \\\"Altstadt\\\"\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "{\"celsius\":21}"},
        {"role": "user", "content": "Thanks \u6771\u4eac"},
    ],
    "tools": [{"type": "function", "function": {
        "name": "get_weather", "description": "The weather in a city",
        "parameters": mock_upstream.TOOL_SCHEMAS["get_weather"], "strict": False}}],
    "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    "parallel_tool_calls": False,
    "response_format": {"type": "json_schema", "json_schema": {
        "name": "w", "schema": {"type": "object"}}},
    "stop": ["END", "\n\n"],
    "seed": 1234567,
    "top_p": 0.25,
    "temperature": 0.5,
    "frequency_penalty": 0.5,
    "presence_penalty": -0.75,
    "logit_bias": {"50256": -100, "1": 2.5},
    "logprobs": False,
    "user": "user-42",
    "metadata": {"team": "a", "run": "7"},
    "max_completion_tokens": 300,
    "x_vendor_option": {"deep": [1, "two", None, True, {"three": 3.5}]},
}


def without_chatds(body):
    return {k: v for k, v in body.items() if k not in ("model", "stream", "stream_options")}


class ToolsOpenAI(ChatdTestCase):
    CHATD_ENV = {"CHATD_MODEL": "echo"}

    def completions(self, body):
        return self.post(json.dumps(body, ensure_ascii=False).encode(),
                         path="/v1/chat/completions")

    def upstream_request(self):
        reqs = self.mock.chat_requests()
        self.assertEqual(len(reqs), 1)
        return reqs[0]

    def upstream_body(self):
        return self.upstream_request()["body_json"]

    # -- the request, passed through --
    def test_every_field_reaches_the_upstream_unchanged(self):
        # Member texts a parser would change: a seed past a double's precision, an integer
        # past 64 bits, a float's trailing zero, an exponent, escapes.
        exact = [("seed", "1234567890123456789"), ("x_big", "12345678901234567890"),
                 ("x_float", "1.10"), ("x_exp", "1e2"), ("x_escaped", '"\\u00e9\\/"')]
        for path, extra in (("/v1/chat/completions", {"stream": True}),
                            ("/v1/chat/completions", {"stream": False,
                                                      "stream_options": {"include_usage": False}}),
                            ("/api/chat", {})):
            with self.subTest(path=path, extra=extra):
                self.mock.reset()
                members = [(json.dumps(k, ensure_ascii=False),
                            json.dumps(v, ensure_ascii=False, separators=(",", ":")))
                           for k, v in dict(WHOLE, **extra).items() if k != "seed"]
                members += [(json.dumps(k), text) for k, text in exact]
                sent = "{" + ",".join(k + ":" + v for k, v in members) + "}"
                r = self.post(sent.encode(), path=path)
                self.assertEqual(r.status, 200, bytes(r.body[:300]))
                rec = self.upstream_request()
                # the client's members byte for byte and in order, then chatd's three
                ours = ('"model":"echo","stream":true,'
                        '"stream_options":{"include_usage":true}')
                theirs = [k + ":" + v for k, v in members
                          if k not in ('"model"', '"stream"', '"stream_options"')]
                self.assertEqual(rec["body"], "{" + ",".join(theirs + [ours]) + "}")
                for k, text in exact:
                    self.assertIn('"%s":%s' % (k, text), rec["body"])
                up = rec["body_json"]
                self.assertEqual(without_chatds(up), without_chatds(json.loads(sent)))
                self.assertEqual(up["model"], "echo")
                self.assertIs(up["stream"], True)
                self.assertEqual(up["stream_options"], {"include_usage": True})
                # the echo mock streams the last user message back
                if path == "/api/chat":
                    self.assertEqual("".join(r.deltas()), "Thanks \u6771\u4eac")

    def test_a_repeated_field_chatd_reads_is_refused(self):
        for name, a, b in (("model", '"echo"', '"tools"'), ("stream", "false", "true"),
                           ("temperature", "0.5", "9")):
            with self.subTest(name=name):
                sent = ('{"messages":[{"role":"user","content":"hi"}],"%s":%s,"%s":%s}'
                        % (name, a, name, b))
                r = self.post(sent.encode(), path="/v1/chat/completions")
                err = self.assertJSONError(r, 400, "invalid_request_error")
                self.assertEqual(err["code"], "invalid_request")
                self.assertEqual(err["message"], "%s appears more than once" % name)
        self.assertEqual(self.mock.chat_requests(), [])

    def test_more_than_one_choice_is_refused_by_name(self):
        r = self.completions(dict(WHOLE, n=2))
        self.assertEqual(r.status, 400)
        err = r.json()["error"]
        self.assertEqual(err["code"], "unsupported_parameter")
        self.assertIn("n", err["message"])
        self.assertEqual(self.mock.chat_requests(), [])

    # -- tool calls streamed back --
    def tool_entries(self, chunks):
        return [tc for c in chunks for ch in c["choices"]
                for tc in ch["delta"].get("tool_calls") or []]

    def test_v1_stream_relays_tool_calls(self):
        text = "Checking é👩‍💻"
        r = self.completions({"model": "tools", "stream": True,
                              "stream_options": {"include_usage": True},
                              "messages": [{"role": "user", "content": text}],
                              "tools": WHOLE["tools"]})
        self.assertEqual(r.status, 200, bytes(r.body[:300]))
        chunks, done, _ = oai_chunks(r)
        self.assertTrue(done)
        contents = [ch["delta"]["content"] for c in chunks for ch in c["choices"]
                    if ch["delta"].get("content")]
        self.assertEqual("".join(contents), text)
        self.assertEqual(contents, ["C", "h", "e", "c", "k", "i", "n", "g", " ", "é", "👩‍💻"],
                         "one grapheme per chunk")
        entries = self.tool_entries(chunks)
        self.assertTrue(entries)
        first_call = next(k for k, c in enumerate(chunks) if c["choices"] and
                          c["choices"][0]["delta"].get("tool_calls"))
        self.assertFalse(any(ch["delta"].get("content") for c in chunks[first_call:]
                             for ch in c["choices"]), "the text came before the calls")
        order = [tc["index"] for tc in entries]
        self.assertNotEqual(order, sorted(order), "the calls stay interleaved")
        for i, call in enumerate(CALLS):
            mine = [tc for tc in entries if tc["index"] == i]
            self.assertEqual(mine[0]["id"], call["id"])
            self.assertEqual(mine[0]["type"], "function")
            self.assertEqual(mine[0]["function"]["name"], call["name"])
            for tc in mine[1:]:
                self.assertNotIn("id", tc, "id, type and name once per call")
                self.assertNotIn("name", tc["function"])
            args = "".join(tc["function"].get("arguments", "") for tc in mine)
            self.assertEqual(args.encode(), call["arguments"].encode(), "arguments byte-exact")
        finishes = [ch["finish_reason"] for c in chunks for ch in c["choices"]
                    if ch.get("finish_reason")]
        self.assertEqual(finishes, ["tool_calls"])
        self.assertEqual(chunks[-1]["choices"], [])
        self.assertEqual(chunks[-1]["usage"]["completion_tokens"],
                         mock_upstream.USAGE_COMPLETION)

    def test_native_stream_has_tool_call_events(self):
        r = self.post(json.dumps({"model": "tools-mixed", "messages": [
            {"role": "user", "content": "before, between and after"}]}).encode())
        self.assertEqual(r.status, 200, bytes(r.body[:300]))
        events = [e for e in r.events if e.event]
        self.assertEqual([int(e.id) for e in events], list(range(len(events))))
        self.assertEqual(events[0].event, "start")
        middle, term = events[1:-1], events[-1]
        self.assertEqual({e.event for e in middle}, {"delta", "tool_call"})
        self.assertEqual(term.event, "done")
        self.assertEqual(term.json["finish_reason"], "tool_calls")
        kinds = "".join("t" if e.event == "tool_call" else "c" for e in middle
                        if e.event in ("tool_call", "delta"))
        runs = "".join(k for n, k in enumerate(kinds) if n == 0 or kinds[n - 1] != k)
        self.assertEqual(runs, "ctctc", "text before, between and after the calls")
        self.assertEqual("".join(r.deltas()), "before, between and after")
        calls = [e.json for e in middle if e.event == "tool_call"]
        for i, call in enumerate(CALLS):
            mine = [c for c in calls if c["index"] == i]
            self.assertEqual(mine[0], {"index": i, "id": call["id"], "name": call["name"],
                                       "arguments": ""})
            for c in mine[1:]:
                self.assertEqual(set(c), {"index", "arguments"})
            self.assertEqual("".join(c["arguments"] for c in mine).encode(),
                             call["arguments"].encode())

    def test_whole_answer_carries_message_tool_calls(self):
        r = self.completions({"model": "tools-only", "stream": False,
                              "messages": [{"role": "user", "content": "go"}]})
        self.assertEqual(r.status, 200, bytes(r.body[:300]))
        choice = r.json()["choices"][0]
        self.assertEqual(choice["finish_reason"], "tool_calls")
        msg = choice["message"]
        self.assertIsNone(msg["content"])
        self.assertEqual([(c["id"], c["type"], c["function"]["name"], c["function"]["arguments"])
                          for c in msg["tool_calls"]],
                         [(c["id"], "function", c["name"], c["arguments"]) for c in CALLS])
        up = self.upstream_body()
        self.assertIs(up["stream"], True, "chatd streams from the upstream either way")


if __name__ == "__main__":
    import unittest
    unittest.main()
