/* Tests for prov_openai: request building, error reasons, and stream reading with real
 * OpenAI-format bodies fed whole, byte by byte and in random splits (fixed seeds); every
 * split must give the same sink calls and the same result. */
#include <check.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lim.h"
#include "prov_openai.h"
#include "req.h"

#define SEEDS 40

/* ---- sink recorder: each call becomes one line ---- */

typedef struct rec {
    char s[16384];
    size_t len;
    int calls;
    int stop_at; /* return 42 from this call on (1-based); 0: never */
} rec;

static int rec_line(rec *r, const char *kind, const char *a, size_t an, const char *b)
{
    int n = snprintf(r->s + r->len, sizeof(r->s) - r->len, "%s:%.*s%s%s\n", kind, (int)an, a,
                     b ? "|" : "", b ? b : "");
    ck_assert(n > 0 && (size_t)n < sizeof(r->s) - r->len);
    r->len += (size_t)n;
    r->calls++;
    return r->stop_at && r->calls >= r->stop_at ? 42 : 0;
}

static int on_text(void *ctx, const char *p, size_t n)
{
    ck_assert_uint_gt(n, 0);
    return rec_line(ctx, "text", p, n, NULL);
}

static int on_reasoning(void *ctx, const char *p, size_t n)
{
    ck_assert_uint_gt(n, 0);
    return rec_line(ctx, "reasoning", p, n, NULL);
}

static int on_finish(void *ctx, const char *reason)
{
    return rec_line(ctx, "finish", reason, strlen(reason), NULL);
}

static int on_usage(void *ctx, long in, long out)
{
    char t[64];
    snprintf(t, sizeof(t), "%ld,%ld", in, out);
    return rec_line(ctx, "usage", t, strlen(t), NULL);
}

static int on_error(void *ctx, const char *type, const char *message)
{
    return rec_line(ctx, "error", type, strlen(type), message);
}

static int on_end(void *ctx)
{
    return rec_line(ctx, "end", "", 0, NULL);
}

static uint32_t next_rand(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

/* mode 0: whole; 1: byte by byte; 2+: random chunks. First non-zero result, or 0. */
static int run(const char *in, size_t n, unsigned mode, rec *r)
{
    prov_sink sink = {r, on_text, on_reasoning, on_finish, on_usage, on_error, on_end};
    prov_stream *s = prov_openai.open();
    ck_assert_ptr_nonnull(s);
    uint32_t x = mode * 2654435761u + 7;
    size_t maxchunk = mode % 2 ? 5 : 97;
    int rc = 0;
    for (size_t off = 0; off < n && rc == 0;) {
        size_t k = mode == 0 ? n : mode == 1 ? 1 : 1 + next_rand(&x) % maxchunk;
        if (k > n - off)
            k = n - off;
        rc = prov_openai.feed(s, in + off, k, &sink);
        off += k;
    }
    if (rc == 0)
        rc = prov_openai.finish(s, &sink);
    prov_openai.close(s);
    return rc;
}

static void expect_rc(const char *in, const char *want, int want_rc)
{
    for (unsigned mode = 0; mode < 2 + SEEDS; mode++) {
        rec r = {0};
        int rc = run(in, strlen(in), mode, &r);
        ck_assert_msg(rc == want_rc, "mode %u: rc %d, want %d", mode, rc, want_rc);
        ck_assert_msg(strcmp(r.s, want) == 0, "mode %u: got\n%s\nwant\n%s", mode, r.s, want);
    }
}

static void expect(const char *in, const char *want)
{
    expect_rc(in, want, 0);
}

/* ---- streams in the format the servers send ---- */

/* The bodies read best one chunk a line. */
/* clang-format off */
#define HEAD "{\"id\":\"chatcmpl-AbC\",\"object\":\"chat.completion.chunk\"," \
             "\"created\":1727000000," \
             "\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_f85bea6784\","
#define CHUNK(delta, finish) \
    "data: " HEAD "\"choices\":[{\"index\":0,\"delta\":" delta ",\"logprobs\":null," \
    "\"finish_reason\":" finish "}],\"usage\":null}\n\n"

static const char OPENAI_STREAM[] =
    CHUNK("{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null}", "null")
    CHUNK("{\"content\":\"Hello\"}", "null")
    CHUNK("{\"content\":\" w\\u00f6rld \xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB\"}", "null")
    CHUNK("{\"content\":\"\xE6\x97\xA5\xE6\x9C\xAC\\ud83d\\ude00\"}", "null")
    CHUNK("{\"content\":\"line\\nnext \\\"q\\\"\"}", "null")
    CHUNK("{}", "\"stop\"")
    "data: " HEAD "\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":12,"
    "\"total_tokens\":21,\"prompt_tokens_details\":{\"cached_tokens\":0},"
    "\"completion_tokens_details\":{\"reasoning_tokens\":0}}}\n\n"
    "data: [DONE]\n\n";

static const char OPENAI_WANT[] =
    "text:Hello\n"
    "text: w\xC3\xB6rld \xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB\n"
    "text:\xE6\x97\xA5\xE6\x9C\xAC\xF0\x9F\x98\x80\n"
    "text:line\nnext \"q\"\n"
    "finish:stop\n"
    "usage:9,12\n"
    "end:\n";
/* clang-format on */

START_TEST(openai_stream)
{
    expect(OPENAI_STREAM, OPENAI_WANT);
}
END_TEST

/* Same body with CRLF line ends, comments and no blank line after [DONE]. */
START_TEST(crlf_comments_and_eof)
{
    expect(": OPENROUTER PROCESSING\r\n\r\n"
           "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"}}]}\r\n\r\n"
           ": ping\r\n"
           "data:{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"},"
           "\"finish_reason\":null}]}\r\n\r\n"
           "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"!\"},"
           "\"finish_reason\":\"length\"}],"
           "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}\r\n\r\n"
           "data: [DONE]",
           "text:ok\ntext:!\nfinish:length\nusage:3,2\nend:\n");
}
END_TEST

/* clang-format off */
START_TEST(finish_reasons_pass_through)
{
    expect(CHUNK("{}", "\"tool_calls\"")
           CHUNK("{}", "\"content_filter\"")
           CHUNK("{}", "\"\"")
           CHUNK("{\"content\":null}", "null"),
           "finish:tool_calls\nfinish:content_filter\n");
}
END_TEST

START_TEST(reasoning_fields)
{
    expect(CHUNK("{\"role\":\"assistant\",\"content\":null,\"reasoning_content\":\"Let me \"}",
                 "null")
           CHUNK("{\"content\":null,\"reasoning_content\":\"th\xC3\xAFnk\"}", "null")
           CHUNK("{\"reasoning\":\"vllm style\"}", "null")
           CHUNK("{\"reasoning_content\":\"\",\"content\":\"Answer\"}", "null")
           CHUNK("{\"reasoning_content\":\"both\",\"reasoning\":\"both\",\"content\":\"x\"}",
                 "\"stop\"")
           "data: [DONE]\n\n",
           "reasoning:Let me \nreasoning:th\xC3\xAFnk\nreasoning:vllm style\ntext:Answer\n"
           "reasoning:both\ntext:x\nfinish:stop\nend:\n");
}
END_TEST

START_TEST(error_object_mid_stream)
{
    expect(CHUNK("{\"content\":\"Hi\"}", "null")
           "data: {\"error\":{\"message\":\"The server had an error while processing your "
           "request.\\nSorry!\",\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n",
           "text:Hi\nerror:server_error|The server had an error while processing your request. "
           "Sorry!\n");
    expect("data: {\"error\":{\"message\":\"Rate limit\",\"code\":\"rate_limit_exceeded\"}}\n\n",
           "error:rate_limit_exceeded|Rate limit\n");
    expect("data: {\"error\":{\"message\":\"Provider returned error\",\"code\":502}}\n\n",
           "error:upstream_error|Provider returned error\n");
    expect("data: {\"error\":\"overloaded\"}\n\n", "error:upstream_error|overloaded\n");
    expect("data: {\"error\":{}}\n\n", "error:upstream_error|{\"error\":{}}\n");
    expect(CHUNK("{\"content\":\"a\"}", "null")
           "data: {\"error\":null,\"choices\":[]}\n\n",
           "text:a\n");
}
END_TEST
/* clang-format on */

START_TEST(error_events)
{
    expect("event: error\n"
           "data: {\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
           "error:overloaded_error|Overloaded\n");
    expect("event: error\ndata: {\"type\":\"bad\",\"message\":\"flat object\"}\n\n",
           "error:bad|flat object\n");
    expect("event: error\ndata: upstream\ndata: went away\n\n",
           "error:upstream_error|upstream went away\n");
    expect("event: ping\ndata: {\"choices\":[{\"delta\":{\"content\":\"no\"}}]}\n\n"
           "event: message\ndata: {\"choices\":[{\"delta\":{\"content\":\"yes\"}}]}\n\n"
           "event: done\ndata: not json either\n\n",
           "text:yes\n");
}
END_TEST

/* clang-format off */
START_TEST(non_json_data)
{
    expect_rc(CHUNK("{\"content\":\"a\"}", "null")
              "data: not json\n\n"
              CHUNK("{\"content\":\"b\"}", "null"),
              "text:a\n", PROV_ERR_PARSE);
    expect_rc("data: {\"choices\":[]} trailing\n\n", "", PROV_ERR_PARSE);
    expect_rc("data: [1,2]\n\n", "", PROV_ERR_PARSE);
    expect_rc("data: {\"choices\":[{\"delta\":{\"content\":\"cut", "", PROV_ERR_PARSE);
    expect_rc("data: [DONE] \n\n", "", PROV_ERR_PARSE);
}
END_TEST
/* clang-format on */

START_TEST(empty_and_role_only_chunks)
{
    expect("data: {}\n\n"
           "data: {\"choices\":[]}\n\n"
           "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"}}]}\n\n"
           "data: {\"choices\":[{\"delta\":{\"content\":\"\"}}],\"usage\":null}\n\n"
           "data: {\"choices\":[{\"delta\":{\"content\":7}}]}\n\n"
           "data: {\"choices\":{\"delta\":{\"content\":\"x\"}}}\n\n"
           "data: {\"usage\":{\"prompt_tokens\":1}}\n\n"
           "data:\n\n",
           "");
}
END_TEST

START_TEST(sink_value_stops)
{
    prov_sink sink = {0};
    rec r = {.stop_at = 2};
    sink.ctx = &r;
    sink.text = on_text;
    prov_stream *s = prov_openai.open();
    ck_assert_int_eq(prov_openai.feed(s, OPENAI_STREAM, sizeof(OPENAI_STREAM) - 1, &sink), 42);
    ck_assert_int_eq(r.calls, 2);
    ck_assert_int_eq(prov_openai.feed(s, "data: [DONE]\n\n", 14, &sink), 42);
    ck_assert_int_eq(prov_openai.finish(s, &sink), 42);
    ck_assert_int_eq(r.calls, 2);
    prov_openai.close(s);
}
END_TEST

START_TEST(too_long)
{
    size_t n = LIM_UP_LINE + 16;
    char *in = malloc(n + 1);
    ck_assert_ptr_nonnull(in);
    memcpy(in, "data: ", 6);
    memset(in + 6, 'x', n - 6);
    in[n] = '\0';
    rec r = {0};
    ck_assert_int_eq(run(in, n, 0, &r), PROV_ERR_TOO_LONG);
    ck_assert_int_eq(run(in, n, 2, &r), PROV_ERR_TOO_LONG);
    ck_assert_int_eq(r.calls, 0);
    free(in);
}
END_TEST

/* ---- build ---- */

static chat_msg MSGS[] = {
    {"system", "Be brief."},
    {"user", "Caf\xC3\xA9 \"quoted\"\nnew line"},
    {"assistant", "Yes."},
};

static size_t count_headers(const struct curl_slist *h, const char *prefix)
{
    size_t n = 0;
    for (; h; h = h->next)
        if (!prefix || strncmp(h->data, prefix, strlen(prefix)) == 0)
            n++;
    return n;
}

START_TEST(build_full)
{
    chat_req req = {.msgs = MSGS,
                    .n_msgs = 3,
                    .temperature = 0.5,
                    .has_temperature = 1,
                    .max_tokens = 100,
                    .root = NULL};
    prov_http h;
    ck_assert_int_eq(prov_openai.build(&req, "http://127.0.0.1:9/v1//", "sk-test-123", "m1", &h),
                     0);
    ck_assert_str_eq(h.url, "http://127.0.0.1:9/v1/chat/completions");
    ck_assert_uint_eq(count_headers(h.headers, NULL), 3);
    ck_assert_uint_eq(count_headers(h.headers, "Content-Type: application/json"), 1);
    ck_assert_uint_eq(count_headers(h.headers, "Accept: text/event-stream"), 1);
    ck_assert_uint_eq(count_headers(h.headers, "Authorization: Bearer sk-test-123"), 1);
    ck_assert_ptr_null(strstr(h.body, "sk-test"));
    ck_assert_ptr_null(strstr(h.url, "sk-test"));

    cJSON *b = cJSON_Parse(h.body);
    ck_assert_ptr_nonnull(b);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(b, "model")), "m1");
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(b, "stream")));
    cJSON *so = cJSON_GetObjectItem(b, "stream_options");
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(so, "include_usage")));
    ck_assert(cJSON_GetNumberValue(cJSON_GetObjectItem(b, "temperature")) == 0.5);
    ck_assert(cJSON_GetNumberValue(cJSON_GetObjectItem(b, "max_tokens")) == 100);
    cJSON *msgs = cJSON_GetObjectItem(b, "messages");
    ck_assert_int_eq(cJSON_GetArraySize(msgs), 3);
    for (int i = 0; i < 3; i++) {
        cJSON *m = cJSON_GetArrayItem(msgs, i);
        ck_assert_int_eq(cJSON_GetArraySize(m), 2);
        ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(m, "role")), MSGS[i].role);
        ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(m, "content")), MSGS[i].content);
    }
    ck_assert_int_eq(cJSON_GetArraySize(b), 6);
    cJSON_Delete(b);
    prov_http_free(&h);
    ck_assert_ptr_null(h.url);
    ck_assert_ptr_null(h.headers);
    ck_assert_ptr_null(h.body);
}
END_TEST

START_TEST(build_minimal)
{
    chat_req req = {.msgs = MSGS + 1, .n_msgs = 1, .root = NULL};
    prov_http h;
    ck_assert_int_eq(prov_openai.build(&req, "http://h/v1", "", "llama3", &h), 0);
    ck_assert_str_eq(h.url, "http://h/v1/chat/completions");
    ck_assert_uint_eq(count_headers(h.headers, NULL), 2);
    ck_assert_uint_eq(count_headers(h.headers, "Authorization"), 0);
    cJSON *b = cJSON_Parse(h.body);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_null(cJSON_GetObjectItem(b, "temperature"));
    ck_assert_ptr_null(cJSON_GetObjectItem(b, "max_tokens"));
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(b, "messages")), 1);
    ck_assert_int_eq(cJSON_GetArraySize(b), 4);
    cJSON_Delete(b);
    prov_http_free(&h);

    req.has_temperature = 1; /* temperature 0 is a real value */
    ck_assert_int_eq(prov_openai.build(&req, NULL, NULL, "m", &h), 0);
    ck_assert_str_eq(h.url, "https://api.openai.com/v1/chat/completions");
    ck_assert_uint_eq(count_headers(h.headers, "Authorization"), 0);
    ck_assert_ptr_nonnull(strstr(h.body, "\"temperature\":0"));
    prov_http_free(&h);
    prov_http_free(&h); /* twice is harmless */
}
END_TEST

START_TEST(build_rejects_key_with_newline)
{
    chat_req req = {.msgs = MSGS, .n_msgs = 1, .root = NULL};
    prov_http h;
    ck_assert_int_eq(prov_openai.build(&req, "http://h", "sk\r\nX-Evil: 1", "m", &h), -1);
    ck_assert_ptr_null(h.url);
    ck_assert_ptr_null(h.headers);
    ck_assert_ptr_null(h.body);
}
END_TEST

/* ---- error_reason ---- */

static const char *reason(const char *body, size_t outsz)
{
    static char out[1024];
    size_t n = strlen(body);
    char *copy = malloc(n ? n : 1); /* not NUL-terminated: reads must stay within n */
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, body, n);
    memset(out, '#', sizeof(out));
    prov_openai.error_reason(copy, n, out, outsz);
    free(copy);
    ck_assert_uint_le(strlen(out), outsz - 1);
    ck_assert_ptr_null(strchr(out, '\n'));
    return out;
}

START_TEST(error_reason_shapes)
{
    ck_assert_str_eq(reason("{\"error\":{\"message\":\"Incorrect API key provided.\","
                            "\"type\":\"invalid_request_error\",\"param\":null,"
                            "\"code\":\"invalid_api_key\"}}",
                            256),
                     "Incorrect API key provided.");
    ck_assert_str_eq(reason("{\"error\":\"model 'x' not found\"}", 256), "model 'x' not found");
    ck_assert_str_eq(reason("{\"detail\":\"Not Found\"}", 256), "Not Found");
    ck_assert_str_eq(reason("{\"detail\":[{\"loc\":[\"body\",\"model\"],\"msg\":\"field required\","
                            "\"type\":\"value_error.missing\"}]}",
                            256),
                     "field required");
    ck_assert_str_eq(reason("{\"message\":\"Too many requests\"}", 256), "Too many requests");
    ck_assert_str_eq(reason("{\"error\":{\"type\":\"overloaded\"}}", 256), "overloaded");
    ck_assert_str_eq(reason("  Bad Gateway\r\n\tupstream \x01\x7f down\n", 256),
                     "Bad Gateway upstream down");
    ck_assert_str_eq(reason("{\"error\":{\"message\":\"a\\u0001b\\nc\\td\"}}", 256), "a b c d");
    ck_assert_str_eq(reason("{\"error\":\"x\"} trailing", 256), "{\"error\":\"x\"} trailing");
    ck_assert_str_eq(reason("{\"other\":1}", 256), "{\"other\":1}");
    ck_assert_str_eq(reason("", 256), "");
    ck_assert_str_eq(reason("\r\n", 256), "");
}
END_TEST

START_TEST(error_reason_truncates_on_utf8_boundary)
{
    ck_assert_str_eq(reason("h\xC3\xA9llo", 3), "h");
    ck_assert_str_eq(reason("h\xC3\xA9llo", 4), "h\xC3\xA9");
    ck_assert_str_eq(reason("ab\xF0\x9F\x98\x80", 5), "ab");
    ck_assert_str_eq(reason("ab\xF0\x9F\x98\x80", 6), "ab");
    ck_assert_str_eq(reason("ab\xF0\x9F\x98\x80", 7), "ab\xF0\x9F\x98\x80");
    ck_assert_str_eq(reason("ab\xF0\x9F\x98\x80z", 7), "ab\xF0\x9F\x98\x80");
    ck_assert_str_eq(reason("abc def", 4), "abc");
    ck_assert_str_eq(reason("abc def", 5), "abc"); /* no trailing space */
    ck_assert_str_eq(reason("abc def", 6), "abc d");
    ck_assert_str_eq(reason("{\"error\":{\"message\":\"\xE6\x97\xA5\xE6\x9C\xAC\"}}", 6),
                     "\xE6\x97\xA5");
    ck_assert_str_eq(reason("abc", 1), "");

    char out[4] = "###";
    prov_openai.error_reason("abc", 3, out, 0); /* no room: nothing written */
    ck_assert_str_eq(out, "###");
    prov_openai.error_reason(NULL, 0, out, sizeof(out));
    ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(provider_table)
{
    ck_assert_str_eq(prov_openai.name, "openai");
    ck_assert_str_eq(prov_openai.default_url, "https://api.openai.com/v1");
    ck_assert_ptr_nonnull(prov_openai.default_model);
    ck_assert_ptr_nonnull(prov_openai.build);
    ck_assert_ptr_nonnull(prov_openai.error_reason);
}
END_TEST

static Suite *openai_suite(void)
{
    Suite *s = suite_create("prov_openai");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, openai_stream);
    tcase_add_test(tc, crlf_comments_and_eof);
    tcase_add_test(tc, finish_reasons_pass_through);
    tcase_add_test(tc, reasoning_fields);
    tcase_add_test(tc, error_object_mid_stream);
    tcase_add_test(tc, error_events);
    tcase_add_test(tc, non_json_data);
    tcase_add_test(tc, empty_and_role_only_chunks);
    tcase_add_test(tc, sink_value_stops);
    tcase_add_test(tc, too_long);
    tcase_add_test(tc, build_full);
    tcase_add_test(tc, build_minimal);
    tcase_add_test(tc, build_rejects_key_with_newline);
    tcase_add_test(tc, error_reason_shapes);
    tcase_add_test(tc, error_reason_truncates_on_utf8_boundary);
    tcase_add_test(tc, provider_table);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(openai_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
