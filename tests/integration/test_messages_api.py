"""The Anthropic-compatible API: POST /v1/messages streamed (message_start, ping, one
content block per kind of output with indexes from 0, one grapheme cluster per
text_delta, tool_use blocks with input_json_delta fragments, message_delta with the stop
reason and usage, message_stop) and whole (one message), x-api-key auth, errors in
Anthropic's shape, and the request reaching the upstream as OpenAI's (tool_use and
tool_result as tool_calls and tool messages)."""

import json

import clusters
import mock_upstream  # the tools-* scenarios' calls (the harness puts tests/mock on the path)
from chatd_harness import ChatdTestCase

MIXED = clusters.CASES["mixed"]
MIXED_TEXT = "".join(MIXED)
KEY = "client-key-1"


def msg_body(text="Hello", model="echo", stream=True, messages=None, **extra):
    if messages is None:
        messages = [{"role": "user", "content": text}]
    body = {"model": model, "max_tokens": 256, "messages": messages}
    if stream is not None:
        body["stream"] = stream
    body.update(extra)
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


class MessagesAPI(ChatdTestCase):
    CHATD_ENV = {"CHATD_MODEL": "echo", "CHATD_API_KEYS": KEY,
                 "CHATD_UPSTREAM_FIRST_BYTE_TIMEOUT_MS": 500}

    def messages(self, body, key=KEY, header="x-api-key", path="/v1/messages", **kw):
        hs = [("anthropic-version", "2023-06-01")]
        if key is not None:
            hs.append((header, key if header == "x-api-key" else "Bearer " + key))
        return self.post(body, path=path, headers=hs, **kw)

    def assertAnthError(self, r, status, etype, names=None):
        self.assertEqual(r.status, status, "status; body=%r" % bytes(r.body[:300]))
        self.assertEqual((r.header("Content-Type") or "").split(";")[0], "application/json")
        body = r.json()
        self.assertEqual(set(body), {"type", "error"}, body)
        self.assertEqual(body["type"], "error")
        self.assertEqual(set(body["error"]), {"type", "message"}, body)
        self.assertEqual(body["error"]["type"], etype, body)
        self.assertTrue(body["error"]["message"])
        if names:
            self.assertIn(names, body["error"]["message"])
        self.assertNoSecret(r.body, "an Anthropic error body")
        return body["error"]

    def stream_events(self, r):
        """(name, data) of every event; the response must be a complete event stream."""
        self.assertEqual(r.status, 200, "status; body=%r" % bytes(r.body[:300]))
        self.assertEqual(r.header("Content-Type"), "text/event-stream; charset=utf-8")
        self.assertTrue(r.complete, "the body did not end properly")
        self.assertEqual(r.sse.utf8_errors, [])
        out = []
        for e in r.events:
            self.assertIsNotNone(e.json, "data is JSON: %r" % e)
            self.assertEqual(e.json.get("type"), e.event, "type matches the event name: %r" % e)
            out.append((e.event, e.json))
        return out

    def assertBlocksWellFormed(self, evs):
        """message_start, ping, then blocks each started, fed and stopped at indexes
        0, 1, ... with no delta into a block of another kind, then message_delta and
        message_stop. Returns the blocks: (content_block, [deltas])."""
        names = [n for n, _ in evs]
        self.assertEqual(names[:2], ["message_start", "ping"])
        self.assertEqual(names[-2:], ["message_delta", "message_stop"])
        blocks, open_ = [], None
        for name, d in evs[2:-2]:
            if name == "content_block_start":
                self.assertIsNone(open_, "a block starts while another is open")
                self.assertEqual(d["index"], len(blocks))
                blocks.append((d["content_block"], []))
                open_ = d["index"]
            elif name == "content_block_delta":
                block = blocks[d["index"]][0]
                want = {"text": "text_delta", "thinking": "thinking_delta",
                        "tool_use": "input_json_delta"}[block["type"]]
                self.assertEqual(d["delta"]["type"], want, "delta kind matches its block")
                blocks[d["index"]][1].append(d["delta"])
            elif name == "content_block_stop":
                self.assertEqual(d["index"], open_)
                open_ = None
            else:
                self.fail("unexpected event %r" % name)
        self.assertIsNone(open_, "every block stopped")
        return blocks

    # -- streamed --
    def test_stream_text_one_grapheme_per_delta(self):
        r = self.messages(msg_body(MIXED_TEXT))
        evs = self.stream_events(r)
        start = evs[0][1]["message"]
        self.assertTrue(start["id"].startswith("msg_"))
        self.assertEqual(start["id"], "msg_" + r.header("X-Chatd-Stream-Id"))
        self.assertEqual((start["role"], start["model"], start["content"]), ("assistant", "echo", []))
        self.assertEqual(set(start["usage"]), {"input_tokens", "output_tokens"})
        blocks = self.assertBlocksWellFormed(evs)
        self.assertEqual(len(blocks), 1)
        self.assertEqual(blocks[0][0], {"type": "text", "text": ""})
        self.assertEqual([d["text"] for d in blocks[0][1]], MIXED, "one grapheme per delta")
        delta = evs[-2][1]
        self.assertEqual(delta["delta"], {"stop_reason": "end_turn", "stop_sequence": None})
        self.assertIsInstance(delta["usage"]["output_tokens"], int)

    def test_exact_event_sequence(self):
        r = self.messages(msg_body("Hé"))
        self.assertEqual([n for n, _ in self.stream_events(r)],
                         ["message_start", "ping", "content_block_start", "content_block_delta",
                          "content_block_delta", "content_block_stop", "message_delta",
                          "message_stop"])

    def test_length_is_max_tokens(self):
        evs = self.stream_events(self.messages(msg_body("abc", model="finish-length")))
        self.assertEqual(evs[-2][1]["delta"]["stop_reason"], "max_tokens")

    def test_reasoning_is_a_thinking_block_before_the_text(self):
        evs = self.stream_events(self.messages(msg_body("ok", model="reasoning")))
        blocks = self.assertBlocksWellFormed(evs)
        self.assertEqual([b[0]["type"] for b in blocks], ["thinking", "text"])
        self.assertEqual("".join(d["text"] for d in blocks[1][1]), "ok")
        self.assertTrue("".join(d["thinking"] for d in blocks[0][1]))

    def test_error_mid_stream_is_an_error_event(self):
        evs = self.stream_events(self.messages(msg_body("abc", model="error-mid")))
        self.assertEqual(evs[-1][0], "error")
        self.assertEqual(set(evs[-1][1]), {"type", "error"})
        self.assertEqual(set(evs[-1][1]["error"]), {"type", "message"})
        self.assertNotIn("message_stop", [n for n, _ in evs])

    def test_bearer_auth_works_too(self):
        r = self.messages(msg_body("hi"), header="Authorization")
        self.assertEqual(self.stream_events(r)[-1][0], "message_stop")

    # -- whole --
    def test_stream_false_is_one_message(self):
        r = self.messages(msg_body(MIXED_TEXT, stream=None))
        self.assertEqual(r.status, 200, bytes(r.body[:300]))
        self.assertEqual(r.header("Content-Type"), "application/json")
        m = r.json()
        self.assertEqual(set(m), {"id", "type", "role", "model", "content", "stop_reason",
                                  "stop_sequence", "usage"})
        self.assertTrue(m["id"].startswith("msg_"))
        self.assertEqual((m["type"], m["role"], m["model"]), ("message", "assistant", "echo"))
        self.assertEqual(m["content"], [{"type": "text", "text": MIXED_TEXT}])
        self.assertEqual((m["stop_reason"], m["stop_sequence"]), ("end_turn", None))
        self.assertEqual(set(m["usage"]), {"input_tokens", "output_tokens"})

    # -- errors --
    def test_no_key_is_401_in_anthropic_shape(self):
        self.assertAnthError(self.messages(msg_body(), key=None), 401, "authentication_error")
        self.assertAnthError(self.messages(msg_body(), key="wrong"), 401, "authentication_error")

    def test_unknown_field_is_400_naming_it(self):
        r = self.messages(msg_body(frobnicate=1))
        self.assertAnthError(r, 400, "invalid_request_error", "frobnicate")
        self.assertEqual(self.mock.chat_requests(), [], "nothing went upstream")

    def test_top_k_is_refused_naming_it(self):
        r = self.messages(msg_body(top_k=5))
        self.assertAnthError(r, 400, "invalid_request_error", "top_k")
        self.assertEqual(self.mock.chat_requests(), [], "nothing went upstream")

    def test_bad_block_is_400_naming_its_path(self):
        r = self.messages(msg_body(messages=[{"role": "user", "content": [
            {"type": "text", "text": "a"}, {"type": "image", "source": {"type": "base64"}}]}]))
        self.assertAnthError(r, 400, "invalid_request_error", "messages[0].content[1].source")

    def test_get_is_405(self):
        c = self.client()
        r = c.request("GET", "/v1/messages", b"", [("x-api-key", KEY)], content_type=None)
        r.read_head()
        r.read_to_end()
        self.assertAnthError(r, 405, "invalid_request_error")
        self.assertEqual(r.header("Allow"), "POST")

    def test_count_tokens_is_404(self):
        r = self.messages(msg_body(), path="/v1/messages/count_tokens")
        self.assertAnthError(r, 404, "not_found_error")

    def test_upstream_status_before_the_stream(self):
        r = self.messages(msg_body(model="status-503"))
        self.assertEqual(r.status // 100, 5, bytes(r.body[:300]))
        body = r.json()
        self.assertEqual(body["type"], "error")
        self.assertNoSecret(r.body, "an upstream error")

    # -- the request upstream --
    def test_request_reaches_the_upstream_as_openai(self):
        body = msg_body(stream=True, system="be brief", stop_sequences=["END"], temperature=0.5,
                        metadata={"user_id": "u1"}, messages=[
                            {"role": "user", "content": "weather?"},
                            {"role": "assistant", "content": [
                                {"type": "text", "text": "Looking."},
                                {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                                 "input": {"city": "Zürich"}}]},
                            {"role": "user", "content": [
                                {"type": "tool_result", "tool_use_id": "toolu_1",
                                 "content": [{"type": "text", "text": "12 C"}]},
                                {"type": "text", "text": "Hello"}]}],
                        tools=[{"name": "get_weather", "description": "Weather",
                                "input_schema": {"type": "object"}}],
                        tool_choice={"type": "auto"})
        evs = self.stream_events(self.messages(body))
        self.assertEqual(evs[-1][0], "message_stop")
        up = self.mock.chat_requests()[-1]["body_json"]
        self.assertEqual(up["messages"], [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": [{"type": "text", "text": "Looking."}],
             "tool_calls": [{"id": "toolu_1", "type": "function", "function": {
                 "name": "get_weather", "arguments": '{"city":"Zürich"}'}}]},
            {"role": "tool", "tool_call_id": "toolu_1", "content": "12 C"},
            {"role": "user", "content": [{"type": "text", "text": "Hello"}]}])
        self.assertEqual(up["tools"], [{"type": "function", "function": {
            "name": "get_weather", "description": "Weather", "parameters": {"type": "object"}}}])
        self.assertEqual(up["tool_choice"], "auto")
        self.assertEqual(up["stop"], ["END"])
        self.assertEqual(up["temperature"], 0.5)
        self.assertEqual(up["user"], "u1")
        self.assertEqual(up["max_tokens"], 256)
        self.assertNotIn("system", up)
        self.assertNotIn("stop_sequences", up)

    # -- tool calls back --
    def test_streamed_tool_calls_are_tool_use_blocks(self):
        evs = self.stream_events(self.messages(msg_body("Hi", model="tools-only")))
        blocks = self.assertBlocksWellFormed(evs)
        self.assertEqual([b[0]["type"] for b in blocks], ["tool_use"] * len(mock_upstream.TOOL_CALLS))
        for (block, deltas), call in zip(blocks, mock_upstream.TOOL_CALLS):
            self.assertEqual(block, {"type": "tool_use", "id": call["id"], "name": call["name"],
                                     "input": {}})
            joined = "".join(d["partial_json"] for d in deltas)
            self.assertEqual(joined, call["arguments"])
            self.assertNotIn("", [d["partial_json"] for d in deltas], "no empty fragment")
            json.loads(joined)
        self.assertEqual(evs[-2][1]["delta"]["stop_reason"], "tool_use")

    def test_text_and_tool_calls_keep_their_kinds(self):
        evs = self.stream_events(self.messages(msg_body("abcdef", model="tools-mixed")))
        blocks = self.assertBlocksWellFormed(evs)
        kinds = [b[0]["type"] for b in blocks]
        self.assertIn("tool_use", kinds)
        self.assertEqual(kinds[0], "text")
        text = "".join(d["text"] for b in blocks if b[0]["type"] == "text" for d in b[1])
        self.assertEqual(text, "abcdef")

    def test_whole_tool_use_input_parsed(self):
        r = self.messages(msg_body("Hi", model="tools", stream=False))
        self.assertEqual(r.status, 200, bytes(r.body[:300]))
        m = r.json()
        uses = [b for b in m["content"] if b["type"] == "tool_use"]
        self.assertEqual([(u["id"], u["name"], u["input"]) for u in uses],
                         [(c["id"], c["name"], json.loads(c["arguments"]))
                          for c in mock_upstream.TOOL_CALLS])
        self.assertEqual(m["stop_reason"], "tool_use")
