"""The OpenAI-compatible API: POST /v1/chat/completions streamed (chat.completion.chunk
objects, one grapheme cluster each, role first, finish_reason last, the usage chunk when
asked, data: [DONE]) and whole (one chat.completion), GET /v1/models, and errors in
OpenAI's shape {"error":{"message","type","param","code"}} with the native statuses."""

import json

import clusters
from chatd_harness import ChatdTestCase, Response, mock_upstream

MAX = 4096
MIXED = clusters.CASES["mixed"]
MIXED_TEXT = "".join(MIXED)
OAI_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
    405: "invalid_request_error", 413: "invalid_request_error", 415: "invalid_request_error",
    429: "rate_limit_error",
}


def oai_body(text="Hello", model="echo", stream=True, messages=None, **extra):
    if messages is None:
        messages = [{"role": "user", "content": text}]
    body = {"model": model, "messages": messages}
    if stream is not None:
        body["stream"] = stream
    body.update(extra)
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def oai_chunks(r):
    """The JSON objects of an OpenAI chunk stream, and whether it ended with [DONE]."""
    datas = [e.data for e in r.events]
    done = bool(datas) and datas[-1] == "[DONE]"
    return [json.loads(d) for d in datas if d != "[DONE]"], done, datas.count("[DONE]")


class OpenAIAssertions:
    def assertOAIError(self, r, status, code, oai_type=None):
        """An error in OpenAI's shape: message, type, param, code."""
        self.assertEqual(r.status, status, "status; body=%r" % bytes(r.body[:300]))
        ct = (r.header("Content-Type") or "").split(";")[0].strip().lower()
        self.assertEqual(ct, "application/json")
        body = r.json()
        self.assertEqual(set(body), {"error"}, body)
        err = body["error"]
        self.assertEqual(set(err), {"message", "type", "param", "code"}, err)
        self.assertIsInstance(err["message"], str)
        self.assertTrue(err["message"])
        self.assertIsNone(err["param"])
        self.assertEqual(err["code"], code)
        want = oai_type or OAI_TYPES.get(status)
        if want:
            self.assertEqual(err["type"], want)
        else:
            self.assertIsInstance(err["type"], str)
        self.assertNoSecret(r.body, "an OpenAI error body")
        return err

    def assertOAIStream(self, r, text, cl=None, finish="stop", usage=None, model=None,
                        reasoning=None):
        """A complete chunk stream. usage: None (no usage chunk) or the expected dict."""
        self.assertEqual(r.status, 200, "status; body=%r" % bytes(r.body[:300]))
        self.assertEqual(r.header("Content-Type"), "text/event-stream; charset=utf-8")
        self.assertIsNone(r.header("Content-Encoding"))
        self.assertTrue(r.complete, "the body did not end properly")
        self.assertEqual(r.sse.utf8_errors, [])
        chunks, done, ndone = oai_chunks(r)
        self.assertTrue(done, "the stream ends with data: [DONE]: %r" % r.body[-200:])
        self.assertEqual(ndone, 1)
        self.assertTrue(chunks)
        ids = {c.get("id") for c in chunks}
        self.assertEqual(len(ids), 1, "one id for every chunk: %r" % ids)
        self.assertTrue(ids.pop().startswith("chatcmpl-"))
        for c in chunks:
            self.assertEqual(c.get("object"), "chat.completion.chunk", c)
            self.assertIsInstance(c.get("created"), int)
            if model is not None:
                self.assertEqual(c.get("model"), model)
        self.assertEqual(chunks[0]["choices"][0]["delta"].get("role"), "assistant",
                         "the first chunk carries the role: %r" % chunks[0])
        with_choices = [c for c in chunks if c["choices"]]
        finishes = [c["choices"][0].get("finish_reason") for c in with_choices]
        self.assertEqual([f for f in finishes if f is not None], [finish],
                         "exactly one finish_reason: %r" % finishes)
        self.assertIsNotNone(finishes[-1], "the last choice chunk has the finish_reason")
        contents = [c["choices"][0]["delta"]["content"] for c in with_choices
                    if c["choices"][0]["delta"].get("content")]
        if cl is not None:
            self.assertEqual(contents, cl, "one grapheme cluster per chunk")
        self.assertEqual("".join(contents).encode(), text.encode(), "byte-exact text")
        if reasoning is not None:
            rs = [c["choices"][0]["delta"]["reasoning_content"] for c in with_choices
                  if c["choices"][0]["delta"].get("reasoning_content")]
            self.assertEqual(rs, reasoning)
        tail = chunks[len(with_choices):]
        self.assertEqual(chunks[:len(with_choices)], with_choices,
                         "a chunk without choices may only come after the finish")
        if usage is None:
            self.assertEqual(tail, [])
            for c in chunks:
                self.assertIsNone(c.get("usage"), "no usage chunk unless asked for")
        else:
            self.assertEqual(len(tail), 1, "one usage chunk: %r" % tail)
            self.assertEqual(tail[0]["choices"], [])
            self.assertEqual(tail[0]["usage"], usage)
        self.assertNoSecret(r.body, "a chunk stream")
        return chunks


class OpenAIAPI(OpenAIAssertions, ChatdTestCase):
    CHATD_ENV = {"CHATD_MODEL": "echo", "CHATD_MAX_BODY_BYTES": MAX,
                 "CHATD_UPSTREAM_FIRST_BYTE_TIMEOUT_MS": 500}

    def completions(self, body, **kw):
        return self.post(body, path="/v1/chat/completions", **kw)

    # -- streamed --
    def test_stream_one_grapheme_per_chunk(self):
        r = self.completions(oai_body(MIXED_TEXT))
        self.assertOAIStream(r, MIXED_TEXT, MIXED, model="echo")

    def test_stream_split_reads_byte_exact(self):
        text = clusters.text_of(clusters.SPLIT_CLUSTERS)
        r = self.completions(oai_body(text, model="split-3"))
        self.assertOAIStream(r, text, clusters.SPLIT_CLUSTERS)

    def test_stream_carries_the_stream_id_header(self):
        r = self.completions(oai_body("id?"))
        self.assertOAIStream(r, "id?")
        self.assertRegex(r.header("X-Chatd-Stream-Id") or "", r"^[A-Za-z0-9._~-]+$")

    def test_include_usage_adds_a_usage_chunk(self):
        r = self.completions(oai_body("counted", model="usage",
                                      stream_options={"include_usage": True}))
        p, c = mock_upstream.USAGE_PROMPT, mock_upstream.USAGE_COMPLETION
        self.assertOAIStream(r, "counted", list("counted"),
                             usage={"prompt_tokens": p, "completion_tokens": c,
                                    "total_tokens": p + c})

    def test_no_usage_chunk_without_include_usage(self):
        r = self.completions(oai_body("quiet", model="usage"))
        self.assertOAIStream(r, "quiet", list("quiet"))

    def test_finish_reason_length(self):
        r = self.completions(oai_body("cut", model="finish-length"))
        self.assertOAIStream(r, "cut", list("cut"), finish="length")

    def test_reasoning_content(self):
        r = self.completions(oai_body("4", model="reasoning"))
        self.assertOAIStream(r, "4", ["4"],
                             reasoning=clusters.segment(mock_upstream.REASONING_TEXT))

    def test_error_after_the_start_is_an_error_data_line(self):
        r = self.completions(oai_body("partial", model="error-mid"))
        self.assertEqual(r.status, 200)
        self.assertTrue(r.complete)
        datas = [e.data for e in r.events]
        self.assertNotIn("[DONE]", datas[:-1])
        last = json.loads(datas[-1] if datas[-1] != "[DONE]" else datas[-2])
        self.assertIn("error", last, datas[-3:])
        self.assertIsInstance(last["error"].get("message"), str)
        self.assertEqual(last["error"].get("code"), "upstream_error")
        chunks = [json.loads(d) for d in datas if d != "[DONE]" and "error" not in json.loads(d)]
        text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks
                       if c["choices"])
        self.assertEqual(text, "partial")

    # -- whole --
    def test_stream_false_is_one_chat_completion(self):
        r = self.completions(oai_body(MIXED_TEXT, model="usage", stream=False))
        self.assertEqual(r.status, 200, bytes(r.body[:300]))
        self.assertEqual((r.header("Content-Type") or "").split(";")[0], "application/json")
        body = r.json()
        self.assertEqual(body["object"], "chat.completion")
        self.assertTrue(body["id"].startswith("chatcmpl-"))
        self.assertEqual(body["model"], "usage")
        self.assertEqual(len(body["choices"]), 1)
        ch = body["choices"][0]
        self.assertEqual(ch["index"], 0)
        self.assertEqual(ch["message"]["role"], "assistant")
        self.assertEqual(ch["message"]["content"].encode(), MIXED_TEXT.encode())
        self.assertEqual(ch["finish_reason"], "stop")
        p, c = mock_upstream.USAGE_PROMPT, mock_upstream.USAGE_COMPLETION
        self.assertEqual(body["usage"], {"prompt_tokens": p, "completion_tokens": c,
                                         "total_tokens": p + c})

    def test_stream_absent_means_whole(self):
        r = self.completions(oai_body("whole", stream=None))
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["choices"][0]["message"]["content"], "whole")

    def test_whole_with_reasoning(self):
        r = self.completions(oai_body("4", model="reasoning", stream=False))
        msg = r.json()["choices"][0]["message"]
        self.assertEqual(msg["content"], "4")
        self.assertEqual(msg.get("reasoning_content"), mock_upstream.REASONING_TEXT)

    # -- content parts --
    def test_content_part_accepted_on_v1(self):
        msgs = [{"role": "user", "content": [{"type": "text", "text": "from a part é"}]}]
        r = self.completions(oai_body(messages=msgs))
        self.assertOAIStream(r, "")  # the mock echoes string contents only
        up = self.mock.chat_requests()[0]["body_json"]["messages"]
        self.assertEqual(up, msgs)  # the parts go upstream as sent

    def test_content_parts_on_native_too(self):
        msgs = [{"role": "user", "content": [{"type": "text", "text": "hi"},
                                             {"type": "text", "text": "there"}]}]
        r = self.post(json.dumps({"model": "echo", "messages": msgs}))
        self.assertDone(r, "")  # the mock echoes string contents only
        up = self.mock.chat_requests()[0]["body_json"]["messages"]
        self.assertEqual(up, msgs)

    def test_malformed_parts_are_400(self):
        for content in ([{"type": "image_url", "image_url": {"url": "http://x/y.png"}}],
                        [{"type": "video", "video": {}}],
                        [{"type": "text"}], [], [{"type": "text", "text": 5}]):
            with self.subTest(content=content):
                r = self.completions(oai_body(messages=[{"role": "user", "content": content}]))
                self.assertOAIError(r, 400, "invalid_request")
        self.assertEqual(self.mock.chat_requests(), [])

    # -- models --
    def test_models_list(self):
        r = self.get("/v1/models")
        self.assertEqual(r.status, 200)
        body = r.json()
        self.assertEqual(body["object"], "list")
        self.assertIsInstance(body["data"], list)
        self.assertIn("echo", [m["id"] for m in body["data"]])
        for m in body["data"]:
            self.assertEqual(m["object"], "model")
            self.assertIsInstance(m.get("created"), int)
            self.assertIsInstance(m.get("owned_by"), str)

    def test_post_models_is_405(self):
        r = self.post(b"{}", path="/v1/models")
        self.assertOAIError(r, 405, "method_not_allowed")
        self.assertIn("GET", r.header("Allow") or "")

    # -- errors --
    def test_bad_json_400(self):
        for body in (b"{", b"[]", b'{"messages":"x"}', b"", b'{"messages":[]}',
                     oai_body(stream="yes"), oai_body(temperature=3)):
            with self.subTest(body=body[:40]):
                self.assertOAIError(self.completions(body), 400, "invalid_request")

    def test_unknown_path_404(self):
        for path in ("/v1/nope", "/v1/chat", "/v1/completions", "/v1"):
            with self.subTest(path=path):
                r = self.post(oai_body(), path=path)
                self.assertOAIError(r, 404, "not_found")

    def test_get_completions_405(self):
        r = self.get("/v1/chat/completions")
        self.assertOAIError(r, 405, "method_not_allowed")
        self.assertIn("POST", r.header("Allow") or "")

    def test_too_large_413(self):
        r = self.completions(oai_body("x" * (MAX + 10)))
        self.assertOAIError(r, 413, "payload_too_large")

    def test_wrong_media_type_415(self):
        r = self.completions(oai_body(), content_type="text/plain")
        self.assertOAIError(r, 415, "unsupported_media_type")

    def test_header_too_large_431_in_openai_shape(self):
        r = self.completions(oai_body(), headers=[("X-Pad", "p" * 9000)])
        self.assertOAIError(r, 431, "header_too_large")

    def test_upstream_error_502(self):
        for model in ("status-500", "status-429", "status-401"):
            with self.subTest(model=model):
                r = self.completions(oai_body(model=model))
                err = self.assertOAIError(r, 502, "upstream_error")
                self.assertIn(model[-3:], err["message"])

    def test_upstream_timeout_504(self):
        r = self.completions(oai_body(model="stall-first"))
        self.assertOAIError(r, 504, "upstream_timeout")

    def test_whole_answer_upstream_error_502(self):
        r = self.completions(oai_body(model="status-503", stream=False))
        self.assertOAIError(r, 502, "upstream_error")

    def test_huge_content_length_413_before_the_body(self):
        c = self.client()
        c.send_raw(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                   b"Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{")
        r = Response(c.sock)
        r.read_head(10)
        r.read_to_end(10)
        self.assertOAIError(r, 413, "payload_too_large")


class OpenAIAuth(OpenAIAssertions, ChatdTestCase):
    CHATD_ENV = {"CHATD_MODEL": "echo", "CHATD_API_KEYS": "oai-client-key"}

    def test_401_in_openai_shape(self):
        for headers in ([], [("Authorization", "Bearer wrong")],
                        [("Authorization", "oai-client-key")]):
            with self.subTest(headers=headers):
                r = self.post(oai_body(), path="/v1/chat/completions", headers=headers)
                self.assertOAIError(r, 401, "unauthorized")
                self.assertEqual(r.header("WWW-Authenticate"), "Bearer")
                r = self.get("/v1/models", headers=headers)
                self.assertOAIError(r, 401, "unauthorized")

    def test_valid_key_works(self):
        r = self.post(oai_body("ok"), path="/v1/chat/completions",
                      headers=[("Authorization", "Bearer oai-client-key")])
        self.assertOAIStream(r, "ok", ["o", "k"])
