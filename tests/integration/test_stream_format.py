"""POST /api/chat: the response headers and the event-stream frame (retry, ids, start,
exactly one terminal event at the very end), what chatd sends upstream, finish reasons,
usage and reasoning."""

import clusters
from chatd_harness import ChatdTestCase, Response, chat_body, mock_upstream


class StreamFormat(ChatdTestCase):
    CHATD_ENV = {"CHATD_MODEL": "echo"}

    def test_headers_and_frame(self):
        r = self.chat("Hello")
        start, _ = self.assertDone(r, "Hello", list("Hello"), model="echo")
        self.assertEqual(r.header("X-Chatd-Stream-Id"), start.json["stream_id"])

    def test_never_compressed_even_when_gzip_is_accepted(self):
        r = self.chat("compress me", headers=[("Accept-Encoding", "gzip, deflate, br")])
        self.assertIsNone(r.header("Content-Encoding"))
        self.assertDone(r, "compress me", list("compress me"))

    def test_retry_comes_first_then_start_with_id_0(self):
        r = self.chat("x")
        self.assertDone(r, "x", ["x"])
        self.assertTrue(r.body.startswith(b"retry: 3000\n\n"), r.body[:60])
        kinds = [k for k, _ in r.sse.items]
        self.assertEqual(kinds[:2], ["retry", "event"])
        self.assertEqual(r.sse.items[1][1].event, "start")
        self.assertEqual(r.sse.items[1][1].id, "0")

    def test_ids_count_up_by_one_over_a_long_answer(self):
        text = "".join(chr(0x4E00 + i % 500) if i % 3 else "a" for i in range(700))
        r = self.chat(text)
        self.assertDone(r, text, list(text))
        self.assertEqual(len(r.events), len(text) + 2)
        self.assertEqual(r.events[-1].id, str(len(text) + 1))

    def test_http10_client_gets_the_stream_unchunked_until_close(self):
        # Without chunked encoding libmicrohttpd passes each piece through the response's
        # own block (LIM_RESP_BLOCK), far smaller than this answer.
        text = "".join(chr(0x4E00 + i % 500) if i % 3 else "a" for i in range(700))
        body = chat_body(text)
        c = self.client()
        c.send_raw(b"POST /api/chat HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: "
                   b"application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        r = Response(c.sock).read_head()
        self.assertIsNone(r.header("Transfer-Encoding"))
        r.read_to_end()
        self.assertTrue(r.eof)
        self.assertDone(r, text, list(text))

    def test_two_streams_one_after_the_other_on_one_kept_alive_connection(self):
        # The live body is written on the socket outside libmicrohttpd; its end (the last
        # chunk) is libmicrohttpd's again, which then reads the next request.
        c = self.client()
        try:
            for text in ("first answer 一二三", "second 👩‍💻 answer"):
                r = c.request("POST", "/api/chat", chat_body(text, model="slow-5"))
                r.read_head()
                self.assertEqual(r.header("Transfer-Encoding"), "chunked")
                r.read_to_end()
                self.assertTrue(r.complete, "the last chunk ended the body")
                self.assertFalse(r.eof, "the connection stays open")
                self.assertDone(r, text, clusters.segment(text))
        finally:
            c.close()

    def test_tokens_leave_as_they_come_not_at_the_end(self):
        text = "abcdef"
        r = self.chat(text, model="slow-120")
        self.assertDone(r, text, list(text))
        times = [e.t for e in r.events if e.event == "delta"]
        # The last character is held until the end shows it is whole, which comes at once;
        # of the others, one gap may shrink behind a scheduling hiccup, not all of them.
        gaps = [b - a for a, b in zip(times, times[1:])][:-1]
        self.assertGreaterEqual(sum(g > 0.06 for g in gaps), len(gaps) - 1,
                                "each character is sent when its token comes: %r" % gaps)

    def test_each_event_has_exactly_id_event_and_one_data_line(self):
        r = self.chat("ab\nc")
        self.assertDone(r, "ab\nc", ["a", "b", "\n", "c"])
        for e in r.events:
            names = [ln.partition(":")[0] for ln in e.raw]
            self.assertEqual(sorted(names), ["data", "event", "id"], e.raw)

    def test_stream_ids_differ_between_streams(self):
        a = self.chat("one")
        b = self.chat("two")
        sa, _ = self.assertDone(a, "one")
        sb, _ = self.assertDone(b, "two")
        self.assertNotEqual(sa.json["stream_id"], sb.json["stream_id"])

    def test_start_names_the_requested_model_and_upstream_gets_it(self):
        r = self.chat("hi there", model="echo+tok-2")
        self.assertDone(r, "hi there", list("hi there"), model="echo+tok-2")
        recs = self.mock.chat_requests()
        self.assertEqual(len(recs), 1)
        self.assertEqual(recs[0]["body_json"]["model"], "echo+tok-2")

    def test_configured_model_when_the_request_names_none(self):
        r = self.chat("default", model=None)
        self.assertDone(r, "default", list("default"), model="echo")
        self.assertEqual(self.mock.chat_requests()[0]["body_json"]["model"], "echo")

    def test_upstream_request_carries_messages_and_parameters(self):
        msgs = [{"role": "system", "content": "Be brief. \"quotes\" \\ \u2028 👩‍💻"},
                {"role": "user", "content": "first question"},
                {"role": "assistant", "content": "first answer é"},
                {"role": "user", "content": "second question 中文"}]
        r = self.post(chat_body(messages=msgs, model="echo", temperature=0.25, max_tokens=77))
        self.assertDone(r, "second question 中文")
        recs = self.mock.chat_requests()
        self.assertEqual(len(recs), 1)
        rec = recs[0]
        self.assertEqual(rec["method"], "POST")
        self.assertEqual(rec["path"], "/v1/chat/completions")
        ctype = [v for k, v in rec["headers"] if k.lower() == "content-type"]
        self.assertEqual([c.split(";")[0].strip() for c in ctype], ["application/json"])
        body = rec["body_json"]
        self.assertIsInstance(body, dict, rec["body"][:200])
        self.assertEqual([(m["role"], m["content"]) for m in body["messages"]],
                         [(m["role"], m["content"]) for m in msgs])
        self.assertIs(body["stream"], True)
        self.assertEqual(body["temperature"], 0.25)
        self.assertEqual(body["max_tokens"], 77)
        self.upstream_auth_ok(rec)

    def test_empty_answer_is_start_then_done(self):
        r = self.chat("")
        self.assertDone(r, "", [])
        self.assertEqual([e.event for e in r.events], ["start", "done"])

    def test_finish_reason_length_is_passed_on(self):
        r = self.chat("cut short", model="finish-length")
        self.assertDone(r, "cut short", list("cut short"), finish="length")

    def test_usage_reaches_done(self):
        r = self.chat("counted", model="usage")
        _, term = self.assertDone(r, "counted", list("counted"))
        self.assertEqual(term.json.get("usage"),
                         {"prompt_tokens": mock_upstream.USAGE_PROMPT,
                          "completion_tokens": mock_upstream.USAGE_COMPLETION})

    def test_reasoning_events_carry_thinking_text_one_cluster_each(self):
        text = "Answer: 4 ✓"
        r = self.chat(text, model="reasoning")
        self.assertDone(r, text, list(text))
        want = clusters.segment(mock_upstream.REASONING_TEXT)
        self.assertEqual(r.deltas("reasoning"), want)
        kinds = [e.event for e in r.events]
        first_delta = kinds.index("delta")
        self.assertEqual(set(kinds[1:first_delta]), {"reasoning"},
                         "the thinking comes before the answer: %r" % kinds)

    def test_content_type_with_charset_is_accepted(self):
        r = self.post(chat_body("ok", "echo"), content_type="application/json; charset=utf-8")
        self.assertDone(r, "ok", ["o", "k"])
