/* Tests for prov_ollama: request building, error reasons, and stream reading with Ollama
 * /api/chat NDJSON bodies fed whole, byte by byte and in random splits (fixed seeds);
 * every split must give the same sink calls and the same result. */
#include <check.h>
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "prov_ollama.h"
#include "req.h"

#define CHECK_PROV prov_ollama
#include "prov_check.h"

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
    expect_sink_stops(BASIC_STREAM, sizeof(BASIC_STREAM) - 1, "{}\n", 4);
}
END_TEST

START_TEST(too_long)
{
    expect_too_long("{\"message\":{\"content\":\"", "\n");
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
    ck_assert_int_eq(prov_ollama.build(&req, "http://10.0.0.2:11434/", "proxy-key", "qwen3", &h, NULL, 0),
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
    expect_http_empty(&h);
}
END_TEST

START_TEST(build_options_only_when_set)
{
    chat_req req = {.msgs = MSGS + 1, .n_msgs = 1, .root = NULL};
    prov_http h;
    ck_assert_int_eq(prov_ollama.build(&req, "http://h:11434", "", "m", &h, NULL, 0), 0);
    ck_assert_str_eq(h.url, "http://h:11434/api/chat");
    ck_assert_uint_eq(count_headers(h.headers, NULL), 1);
    ck_assert_uint_eq(count_headers(h.headers, "Authorization"), 0);
    cJSON *b = body_of(&h);
    ck_assert_ptr_null(cJSON_GetObjectItem(b, "options"));
    ck_assert_int_eq(cJSON_GetArraySize(b), 3);
    cJSON_Delete(b);
    prov_http_free(&h);

    req.has_temperature = 1; /* temperature 0 is a real value */
    ck_assert_int_eq(prov_ollama.build(&req, NULL, NULL, "m", &h, NULL, 0), 0);
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
    ck_assert_int_eq(prov_ollama.build(&req, "", NULL, "m", &h, NULL, 0), 0);
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
    ck_assert_int_eq(prov_ollama.build(&req, "http://h", "k\r\nX-Evil: 1", "m", &h, NULL, 0), -1);
    expect_http_empty(&h);
    ck_assert_int_eq(prov_ollama.build(&req, "http://h", "k\n", "m", &h, NULL, 0), -1);
}
END_TEST

/* ---- error_reason ---- */

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
    expect_reason_edges();
}
END_TEST

START_TEST(provider_table)
{
    expect_table("ollama", "http://127.0.0.1:11434");
    ck_assert_str_eq(prov_ollama.default_model, "llama3.2");
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
    return check_run(ollama_suite());
}
