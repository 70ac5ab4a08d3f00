/* Tests for prov_ollama: request building, error reasons, and stream reading with Ollama
 * /api/chat NDJSON bodies fed whole, byte by byte and in random splits (fixed seeds);
 * every split must give the same sink calls and the same result. */
#include <check.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lim.h"
#include "prov_ollama.h"
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
    prov_stream *s = prov_ollama.open();
    ck_assert_ptr_nonnull(s);
    uint32_t x = mode * 2654435761u + 7;
    size_t maxchunk = mode % 2 ? 5 : 97;
    int rc = 0;
    for (size_t off = 0; off < n && rc == 0;) {
        size_t k = mode == 0 ? n : mode == 1 ? 1 : 1 + next_rand(&x) % maxchunk;
        if (k > n - off)
            k = n - off;
        rc = prov_ollama.feed(s, in + off, k, &sink);
        off += k;
    }
    if (rc == 0)
        rc = prov_ollama.finish(s, &sink);
    prov_ollama.close(s);
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

/* ---- streams in the format Ollama sends ---- */

/* clang-format off */
#define HEAD "{\"model\":\"llama3.2\",\"created_at\":\"2024-09-25T19:22:45.499127Z\","
#define LINE(content) HEAD "\"message\":{\"role\":\"assistant\",\"content\":\"" content "\"},\"done\":false}\n"
#define THINK(thinking) HEAD "\"message\":{\"role\":\"assistant\",\"content\":\"\",\"thinking\":\"" \
    thinking "\"},\"done\":false}\n"
#define DONE(reason, counts) HEAD "\"message\":{\"role\":\"assistant\",\"content\":\"\"}," reason \
    "\"done\":true,\"total_duration\":4883583458,\"load_duration\":1334875," counts \
    "\"eval_duration\":4535599000}\n"
#define COUNTS(in, out) "\"prompt_eval_count\":" in ",\"prompt_eval_duration\":342546000," \
    "\"eval_count\":" out ","
#define STOP "\"done_reason\":\"stop\","

static const char BASIC_STREAM[] =
    LINE("The")
    LINE(" w\\u00f6rld \xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB")
    LINE("\xE6\x97\xA5\xE6\x9C\xAC\\ud83d\\ude00 \xF0\x9F\x87\xAF\xF0\x9F\x87\xB5")
    LINE("line\\nnext \\\"q\\\"")
    DONE(STOP, COUNTS("26", "282"));

static const char BASIC_WANT[] =
    "text:The\n"
    "text: w\xC3\xB6rld \xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB\n"
    "text:\xE6\x97\xA5\xE6\x9C\xAC\xF0\x9F\x98\x80 \xF0\x9F\x87\xAF\xF0\x9F\x87\xB5\n"
    "text:line\nnext \"q\"\n"
    "finish:stop\n"
    "usage:26,282\n"
    "end:\n";
/* clang-format on */

START_TEST(basic_stream)
{
    expect(BASIC_STREAM, BASIC_WANT);
}
END_TEST

/* clang-format off */
/* CRLF line ends, blank lines, and a last line without its line end. */
START_TEST(crlf_blank_lines_and_eof)
{
    expect("\r\n{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"ok\"},\"done\":false}\r\n"
           "\r\n  \r\n\n"
           "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"!\"},"
           "\"done_reason\":\"length\",\"done\":true,\"prompt_eval_count\":3,\"eval_count\":2}",
           "text:ok\ntext:!\nfinish:length\nusage:3,2\nend:\n");
}
END_TEST

START_TEST(thinking_then_content)
{
    expect(THINK("Okay, the user")
           THINK(" asks \xE2\x80\x9C\xF0\x9F\xA4\x94\xE2\x80\x9D\\n")
           HEAD "\"message\":{\"role\":\"assistant\",\"content\":\"Hi\",\"thinking\":\" done\"},"
           "\"done\":false}\n"
           LINE(" there")
           DONE(STOP, COUNTS("11", "40")),
           "reasoning:Okay, the user\n"
           "reasoning: asks \xE2\x80\x9C\xF0\x9F\xA4\x94\xE2\x80\x9D\n\n"
           "reasoning: done\ntext:Hi\n"
           "text: there\n"
           "finish:stop\nusage:11,40\nend:\n");
}
END_TEST

START_TEST(done_reasons_and_usage)
{
    expect(DONE("\"done_reason\":\"length\",", COUNTS("5", "128")), "finish:length\nusage:5,128\nend:\n");
    expect(DONE("\"done_reason\":\"load\",", ""), "finish:load\nend:\n");
    /* older servers send no done_reason: the caller picks the default */
    expect(DONE("", COUNTS("5", "6")), "usage:5,6\nend:\n");
    /* the whole prompt came from the cache: no prompt_eval_count */
    expect(DONE(STOP, "\"eval_count\":9,"), "finish:stop\nusage:0,9\nend:\n");
    expect(DONE(STOP, "\"prompt_eval_count\":9,"), "finish:stop\nend:\n");
    expect(DONE(STOP, COUNTS("-1", "\"3\"")), "finish:stop\nend:\n");
    /* the last line may carry text of its own */
    expect(HEAD "\"message\":{\"role\":\"assistant\",\"content\":\"bye\"},\"done_reason\":\"stop\","
           "\"done\":true}\n",
           "text:bye\nfinish:stop\nend:\n");
}
END_TEST

START_TEST(error_line_mid_stream)
{
    expect(LINE("Hi \xF0\x9F\x91\x8B")
           "{\"error\":\"an error was encountered while running the model: unexpected EOF\"}\n",
           "text:Hi \xF0\x9F\x91\x8B\n"
           "error:upstream_error|an error was encountered while running the model: unexpected EOF\n");
    expect("{\"error\":\"line one\\nline\\ttwo \\u0001\"}\n", "error:upstream_error|line one line two\n");
    expect("{\"error\":{\"message\":\"proxy said no\",\"type\":\"x\"}}\n",
           "error:upstream_error|proxy said no\n");
    expect("{\"error\":{}}\n", "error:upstream_error|{\"error\":{}}\n");
    expect("{\"error\":\"\"}", "error:upstream_error|{\"error\":\"\"}\n");
    expect("{\"error\":null," "\"message\":{\"content\":\"a\"},\"done\":false}\n", "text:a\n");
}
END_TEST

START_TEST(odd_lines_ignored)
{
    expect("{}\n"
           "{\"message\":null,\"done\":false}\n"
           "{\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":false}\n"
           "{\"message\":{\"content\":7,\"thinking\":false},\"done\":false}\n"
           "{\"message\":\"text\",\"done\":\"true\"}\n"
           "{\"done\":1}\n",
           "");
}
END_TEST

START_TEST(non_json_lines)
{
    expect_rc(LINE("a") "not json\n" LINE("b"), "text:a\n", PROV_ERR_PARSE);
    expect_rc("{\"done\":false} trailing\n", "", PROV_ERR_PARSE);
    expect_rc("[1,2]\n", "", PROV_ERR_PARSE);
    expect_rc("\"str\"\n", "", PROV_ERR_PARSE);
    expect_rc("data: {\"done\":true}\n", "", PROV_ERR_PARSE);
    /* cut off: the last line is incomplete JSON */
    expect_rc(LINE("a") "{\"message\":{\"content\":\"cu", "text:a\n", PROV_ERR_PARSE);
    /* two objects on one line */
    expect_rc("{\"done\":false}{\"done\":false}\n", "", PROV_ERR_PARSE);
}
END_TEST
/* clang-format on */

START_TEST(sink_value_stops)
{
    prov_sink sink = {0};
    rec r = {.stop_at = 2};
    sink.ctx = &r;
    sink.text = on_text; /* the other callbacks are absent: their parts are skipped */
    prov_stream *s = prov_ollama.open();
    ck_assert_int_eq(prov_ollama.feed(s, BASIC_STREAM, sizeof(BASIC_STREAM) - 1, &sink), 42);
    ck_assert_int_eq(r.calls, 2);
    ck_assert_int_eq(prov_ollama.feed(s, "{}\n", 3, &sink), 42);
    ck_assert_int_eq(prov_ollama.finish(s, &sink), 42);
    ck_assert_int_eq(r.calls, 2);
    prov_ollama.close(s);

    rec r2 = {0};
    sink.ctx = &r2;
    s = prov_ollama.open();
    ck_assert_int_eq(prov_ollama.feed(s, BASIC_STREAM, sizeof(BASIC_STREAM) - 1, &sink), 0);
    ck_assert_int_eq(prov_ollama.finish(s, &sink), 0);
    ck_assert_int_eq(r2.calls, 4);
    prov_ollama.close(s);
}
END_TEST

START_TEST(too_long)
{
    size_t n = LIM_UP_LINE + 16;
    char *in = malloc(n + 2);
    ck_assert_ptr_nonnull(in);
    memcpy(in, "{\"message\":{\"content\":\"", 23);
    memset(in + 23, 'x', n - 23);
    memcpy(in + n, "\n", 2);
    rec r = {0};
    ck_assert_int_eq(run(in, n, 0, &r), PROV_ERR_TOO_LONG);
    ck_assert_int_eq(run(in, n + 1, 2, &r), PROV_ERR_TOO_LONG);
    ck_assert_int_eq(r.calls, 0);
    free(in);
}
END_TEST

/* A long line under the cap still parses, whatever the split. */
START_TEST(long_line_under_cap)
{
    size_t n = 12000; /* many reads long, and still fits the recorder */
    char *in = malloc(n + 64);
    ck_assert_ptr_nonnull(in);
    size_t o = 0;
    memcpy(in, "{\"message\":{\"content\":\"", 23);
    o = 23;
    memset(in + o, 'x', n);
    o += n;
    memcpy(in + o, "\"},\"done\":false}\n", 18);
    for (unsigned mode = 0; mode < 4; mode++) {
        rec r = {0};
        ck_assert_int_eq(run(in, strlen(in), mode, &r), 0);
        ck_assert_int_eq(r.calls, 1);
        ck_assert_uint_eq(r.len, 5 + n + 1);
    }
    free(in);
}
END_TEST

/* ---- build ---- */

static size_t count_headers(const struct curl_slist *h, const char *prefix)
{
    size_t n = 0;
    for (; h; h = h->next)
        if (!prefix || strncmp(h->data, prefix, strlen(prefix)) == 0)
            n++;
    return n;
}

static cJSON *body_of(const prov_http *h)
{
    cJSON *b = cJSON_Parse(h->body);
    ck_assert_ptr_nonnull(b);
    return b;
}

static chat_msg MSGS[] = {
    {"system", "Be brief."},
    {"user", "Caf\xC3\xA9 \"quoted\"\nnew line"},
    {"user", "again"},
    {"assistant", "Yes."},
};

START_TEST(build_full)
{
    chat_req req = {.msgs = MSGS,
                    .n_msgs = 4,
                    .temperature = 0.25,
                    .has_temperature = 1,
                    .max_tokens = 100,
                    .root = NULL};
    prov_http h;
    ck_assert_int_eq(prov_ollama.build(&req, "http://10.0.0.2:11434/", "proxy-key", "qwen3", &h),
                     0);
    ck_assert_str_eq(h.url, "http://10.0.0.2:11434/api/chat");
    ck_assert_uint_eq(count_headers(h.headers, NULL), 2);
    ck_assert_uint_eq(count_headers(h.headers, "Content-Type: application/json"), 1);
    ck_assert_uint_eq(count_headers(h.headers, "Authorization: Bearer proxy-key"), 1);
    ck_assert_ptr_null(strstr(h.body, "proxy-key"));

    cJSON *b = body_of(&h);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(b, "model")), "qwen3");
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(b, "stream")));
    cJSON *msgs = cJSON_GetObjectItem(b, "messages");
    ck_assert_int_eq(cJSON_GetArraySize(msgs), 4); /* as is: system kept, nothing merged */
    for (int i = 0; i < 4; i++) {
        cJSON *m = cJSON_GetArrayItem(msgs, i);
        ck_assert_int_eq(cJSON_GetArraySize(m), 2);
        ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(m, "role")), MSGS[i].role);
        ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(m, "content")), MSGS[i].content);
    }
    cJSON *opt = cJSON_GetObjectItem(b, "options");
    ck_assert_int_eq(cJSON_GetArraySize(opt), 2);
    ck_assert(cJSON_GetNumberValue(cJSON_GetObjectItem(opt, "temperature")) == 0.25);
    ck_assert(cJSON_GetNumberValue(cJSON_GetObjectItem(opt, "num_predict")) == 100);
    ck_assert_ptr_null(cJSON_GetObjectItem(b, "max_tokens"));
    ck_assert_ptr_null(cJSON_GetObjectItem(b, "temperature"));
    ck_assert_int_eq(cJSON_GetArraySize(b), 4);
    cJSON_Delete(b);
    prov_http_free(&h);
    ck_assert_ptr_null(h.url);
    ck_assert_ptr_null(h.headers);
    ck_assert_ptr_null(h.body);
}
END_TEST

START_TEST(build_options_only_when_set)
{
    chat_req req = {.msgs = MSGS + 1, .n_msgs = 1, .root = NULL};
    prov_http h;
    ck_assert_int_eq(prov_ollama.build(&req, "http://h:11434", "", "m", &h), 0);
    ck_assert_str_eq(h.url, "http://h:11434/api/chat");
    ck_assert_uint_eq(count_headers(h.headers, NULL), 1);
    ck_assert_uint_eq(count_headers(h.headers, "Authorization"), 0);
    cJSON *b = body_of(&h);
    ck_assert_ptr_null(cJSON_GetObjectItem(b, "options"));
    ck_assert_int_eq(cJSON_GetArraySize(b), 3);
    cJSON_Delete(b);
    prov_http_free(&h);

    req.has_temperature = 1; /* temperature 0 is a real value */
    ck_assert_int_eq(prov_ollama.build(&req, NULL, NULL, "m", &h), 0);
    ck_assert_str_eq(h.url, "http://127.0.0.1:11434/api/chat");
    ck_assert_uint_eq(count_headers(h.headers, "Authorization"), 0);
    b = body_of(&h);
    cJSON *opt = cJSON_GetObjectItem(b, "options");
    ck_assert_int_eq(cJSON_GetArraySize(opt), 1);
    ck_assert(cJSON_IsNumber(cJSON_GetObjectItem(opt, "temperature")));
    ck_assert(cJSON_GetNumberValue(cJSON_GetObjectItem(opt, "temperature")) == 0);
    cJSON_Delete(b);
    prov_http_free(&h);

    req.has_temperature = 0;
    req.max_tokens = 7;
    ck_assert_int_eq(prov_ollama.build(&req, "", NULL, "m", &h), 0);
    ck_assert_str_eq(h.url, "http://127.0.0.1:11434/api/chat");
    b = body_of(&h);
    opt = cJSON_GetObjectItem(b, "options");
    ck_assert_int_eq(cJSON_GetArraySize(opt), 1);
    ck_assert(cJSON_GetNumberValue(cJSON_GetObjectItem(opt, "num_predict")) == 7);
    cJSON_Delete(b);
    prov_http_free(&h);
    prov_http_free(&h); /* twice is harmless */
}
END_TEST

START_TEST(build_rejects_key_with_control_chars)
{
    chat_req req = {.msgs = MSGS, .n_msgs = 2, .root = NULL};
    prov_http h;
    ck_assert_int_eq(prov_ollama.build(&req, "http://h", "k\r\nX-Evil: 1", "m", &h), -1);
    ck_assert_ptr_null(h.url);
    ck_assert_ptr_null(h.headers);
    ck_assert_ptr_null(h.body);
    ck_assert_int_eq(prov_ollama.build(&req, "http://h", "k\n", "m", &h), -1);
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
    prov_ollama.error_reason(copy, n, out, outsz);
    free(copy);
    ck_assert_uint_le(strlen(out), outsz - 1);
    ck_assert_ptr_null(strchr(out, '\n'));
    return out;
}

START_TEST(error_reason_shapes)
{
    ck_assert_str_eq(
        reason("{\"error\":\"model \\\"llama9\\\" not found, try pulling it first\"}", 256),
        "model \"llama9\" not found, try pulling it first");
    ck_assert_str_eq(reason("{\"error\":\"json: cannot unmarshal\\nstring\"}\n", 256),
                     "json: cannot unmarshal string");
    ck_assert_str_eq(reason("{\"error\":{\"message\":\"Unauthorized\",\"type\":\"auth\"}}", 256),
                     "Unauthorized");
    ck_assert_str_eq(reason("404 page not found", 256), "404 page not found");
    ck_assert_str_eq(reason("{\"error\":\"x\"} trailing", 256), "{\"error\":\"x\"} trailing");
    ck_assert_str_eq(reason("{\"other\":1}", 256), "{\"other\":1}");
    ck_assert_str_eq(reason("", 256), "");
}
END_TEST

START_TEST(error_reason_truncates_on_utf8_boundary)
{
    ck_assert_str_eq(reason("h\xC3\xA9llo", 3), "h");
    ck_assert_str_eq(reason("h\xC3\xA9llo", 4), "h\xC3\xA9");
    ck_assert_str_eq(reason("ab\xF0\x9F\x98\x80", 6), "ab");
    ck_assert_str_eq(reason("{\"error\":\"\xE6\x97\xA5\xE6\x9C\xAC\"}", 6), "\xE6\x97\xA5");
    ck_assert_str_eq(reason("abc def", 5), "abc");

    char out[4] = "###";
    prov_ollama.error_reason("abc", 3, out, 0); /* no room: nothing written */
    ck_assert_str_eq(out, "###");
    prov_ollama.error_reason(NULL, 0, out, sizeof(out));
    ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(provider_table)
{
    ck_assert_str_eq(prov_ollama.name, "ollama");
    ck_assert_str_eq(prov_ollama.default_url, "http://127.0.0.1:11434");
    ck_assert_str_eq(prov_ollama.default_model, "llama3.2");
    ck_assert_ptr_nonnull(prov_ollama.build);
    ck_assert_ptr_nonnull(prov_ollama.open);
    ck_assert_ptr_nonnull(prov_ollama.feed);
    ck_assert_ptr_nonnull(prov_ollama.finish);
    ck_assert_ptr_nonnull(prov_ollama.close);
    ck_assert_ptr_nonnull(prov_ollama.error_reason);
    prov_ollama.close(NULL);
}
END_TEST

static Suite *ollama_suite(void)
{
    Suite *s = suite_create("prov_ollama");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, basic_stream);
    tcase_add_test(tc, crlf_blank_lines_and_eof);
    tcase_add_test(tc, thinking_then_content);
    tcase_add_test(tc, done_reasons_and_usage);
    tcase_add_test(tc, error_line_mid_stream);
    tcase_add_test(tc, odd_lines_ignored);
    tcase_add_test(tc, non_json_lines);
    tcase_add_test(tc, sink_value_stops);
    tcase_add_test(tc, too_long);
    tcase_add_test(tc, long_line_under_cap);
    tcase_add_test(tc, build_full);
    tcase_add_test(tc, build_options_only_when_set);
    tcase_add_test(tc, build_rejects_key_with_control_chars);
    tcase_add_test(tc, error_reason_shapes);
    tcase_add_test(tc, error_reason_truncates_on_utf8_boundary);
    tcase_add_test(tc, provider_table);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ollama_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
