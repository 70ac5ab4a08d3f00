"""Bad requests get the contract's HTTP status and {"error":{"type","message"}} JSON, and
the server keeps serving (GET /healthz) after each."""

import json
import time

from chatd_harness import ChatdTestCase, Response, chat_body

MAX = 4096
GOOD = {"messages": [{"role": "user", "content": "hi"}], "model": "echo"}


def with_messages(msgs):
    return json.dumps({"messages": msgs, "model": "echo"})


class RequestErrors(ChatdTestCase):
    CHATD_ENV = {"CHATD_MAX_BODY_BYTES": MAX}

    def bad(self, body, status=400, etype="invalid_request", **kw):
        r = self.post(body, **kw)
        err = self.assertJSONError(r, status, etype)
        self.assertEqual(self.mock.chat_requests(), [], "a rejected request went upstream")
        self.assertHealthy()
        return r, err

    # -- JSON --
    def test_truncated_json(self):
        self.bad(b'{"messages": [{"role": "user", "content": "hi"}')

    def test_trailing_garbage_after_json(self):
        self.bad(json.dumps(GOOD).encode() + b" x")

    def test_empty_body(self):
        self.bad(b"")

    def test_top_level_array(self):
        self.bad(json.dumps([GOOD]))

    def test_top_level_string(self):
        self.bad(b'"hello"')

    # -- messages --
    def test_missing_messages(self):
        self.bad(json.dumps({"model": "echo"}))

    def test_messages_not_an_array(self):
        self.bad(json.dumps({"messages": "hi", "model": "echo"}))

    def test_empty_messages(self):
        self.bad(with_messages([]))

    def test_message_not_an_object(self):
        self.bad(with_messages(["hi"]))

    def test_role_tool_not_allowed(self):
        self.bad(with_messages([{"role": "tool", "content": "hi"}]))

    def test_role_is_case_sensitive(self):
        self.bad(with_messages([{"role": "User", "content": "hi"}]))

    def test_role_missing(self):
        self.bad(with_messages([{"content": "hi"}]))

    def test_role_not_a_string(self):
        self.bad(with_messages([{"role": 1, "content": "hi"}]))

    def test_content_number(self):
        self.bad(with_messages([{"role": "user", "content": 5}]))

    def test_content_null(self):
        self.bad(with_messages([{"role": "user", "content": None}]))

    def test_content_part_of_unknown_type(self):
        self.bad(with_messages([{"role": "user", "content": [{"type": "video", "video": {}}]}]))

    def test_content_missing(self):
        self.bad(with_messages([{"role": "user"}]))

    def test_one_bad_message_among_good_ones(self):
        self.bad(with_messages([{"role": "system", "content": "s"},
                                {"role": "user", "content": "u"},
                                {"role": "assistant", "content": 7}]))

    # -- other fields --
    def test_model_not_a_string(self):
        self.bad(json.dumps(dict(GOOD, model=5)))

    def test_temperature_not_a_number(self):
        self.bad(json.dumps(dict(GOOD, temperature="hot")))

    def test_max_tokens_not_a_number(self):
        self.bad(json.dumps(dict(GOOD, max_tokens="many")))

    def test_max_tokens_not_an_integer(self):
        self.bad(json.dumps(dict(GOOD, max_tokens=1.5)))

    # -- UTF-8 --
    def utf8(self, raw):
        self.bad(b'{"model":"echo","messages":[{"role":"user","content":"a' + raw + b'b"}]}')

    def test_invalid_utf8_byte_ff(self):
        self.utf8(b"\xff")

    def test_invalid_utf8_lone_continuation(self):
        self.utf8(b"\x80")

    def test_invalid_utf8_overlong_slash(self):
        self.utf8(b"\xc0\xaf")

    def test_invalid_utf8_encoded_surrogate(self):
        self.utf8(b"\xed\xa0\x80")

    def test_invalid_utf8_truncated_sequence(self):
        self.utf8(b"\xe4\xb8")

    def test_invalid_utf8_above_u10ffff(self):
        self.utf8(b"\xf4\x90\x80\x80")

    def test_invalid_utf8_in_a_key(self):
        self.bad(b'{"model":"echo","messages":[{"role":"user","content":"hi","\xff":1}]}')

    def test_lone_surrogate_escape(self):
        self.bad(b'{"model":"echo","messages":[{"role":"user","content":"a\\ud800b"}]}')

    # -- media type, size, method, path --
    def test_text_plain_is_415(self):
        self.bad(json.dumps(GOOD), 415, "unsupported_media_type", content_type="text/plain")

    def test_form_encoded_is_415(self):
        self.bad(json.dumps(GOOD), 415, "unsupported_media_type",
                 content_type="application/x-www-form-urlencoded")

    def test_missing_content_type_is_415(self):
        self.bad(json.dumps(GOOD), 415, "unsupported_media_type", content_type=None)

    def body_of_size(self, n):
        base = chat_body("", "echo")
        body = chat_body("x" * (n - len(base)), "echo")
        self.assertEqual(len(body), n)
        return body

    def test_body_of_exactly_the_limit_is_accepted(self):
        body = self.body_of_size(MAX)
        r = self.post(body)
        text = json.loads(body)["messages"][0]["content"]
        self.assertDone(r, text)

    def test_body_one_byte_over_the_limit_is_413(self):
        self.bad(self.body_of_size(MAX + 1), 413, "payload_too_large")

    def test_chunked_body_over_the_limit_is_413(self):
        self.bad(self.body_of_size(3 * MAX), 413, "payload_too_large", chunked=True)

    def test_huge_content_length_is_413_without_sending_the_body(self):
        c = self.client()
        c.send_raw(b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   b"Content-Length: 100000000\r\n\r\n" + b'{"messages":[' + b" " * 1000)
        r = Response(c.sock)
        r.read_head(10)
        r.read_to_end(10)
        self.assertJSONError(r, 413, "payload_too_large")
        self.assertHealthy()

    def method(self, method):
        c = self.client()
        r = c.request(method, "/api/chat", b"", None, content_type=None)
        r.read_head()
        r.read_to_end()
        self.assertJSONError(r, 405, "method_not_allowed")
        allow = [m.strip().upper() for m in (r.header("Allow") or "").split(",")]
        self.assertIn("POST", allow, "Allow: %r" % r.header("Allow"))
        self.assertNotIn(method, allow)
        self.assertHealthy()

    def test_get_api_chat_is_405_with_allow_post(self):
        self.method("GET")

    def test_put_api_chat_is_405(self):
        self.method("PUT")

    def test_delete_api_chat_is_405(self):
        self.method("DELETE")

    def test_unknown_api_path_post_is_404(self):
        self.bad(json.dumps(GOOD), 404, "not_found", path="/api/nope")

    def test_unknown_api_path_get_is_404(self):
        r = self.get("/api/nope")
        self.assertJSONError(r, 404, "not_found")
        self.assertHealthy()

    def test_many_bad_requests_then_a_good_one(self):
        for _ in range(30):
            r = self.post(b"{bad")
            self.assertJSONError(r, 400, "invalid_request")
        t0 = time.monotonic()
        r = self.chat("still fine")
        self.assertDone(r, "still fine")
        self.assertLess(time.monotonic() - t0, 5)
