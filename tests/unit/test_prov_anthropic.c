/* Tests for prov_anthropic: request building, error reasons, and stream reading with
 * Anthropic Messages API event streams fed whole, byte by byte and in random splits (fixed
 * seeds); every split must give the same sink calls and the same result. */
#include <check.h>
#include <cjson/cJSON.h>
#include <string.h>

#include "prov_anthropic.h"
#include "req.h"

#define CHECK_PROV prov_anthropic
#include "prov_check.h"

/* ---- streams in the format the Messages API sends ---- */

/* clang-format off */
#define EV(name, json) "event: " name "\ndata: " json "\n\n"
#define MSG_START(in) \
    EV("message_start", "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_01XFDUDYJgAACzvnptvVoYEL\"," \
       "\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-sonnet-4-5-20250929\"," \
       "\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":" in \
       ",\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":1}}}")
#define TEXT_START EV("content_block_start", \
    "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}")
#define TEXT(s) EV("content_block_delta", \
    "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"" s "\"}}")
#define BLOCK_STOP(i) EV("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":" i "}")
#define MSG_DELTA(stop, out) EV("message_delta", \
    "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":" stop ",\"stop_sequence\":null}," \
    "\"usage\":{\"output_tokens\":" out "}}")
#define MSG_STOP EV("message_stop", "{\"type\":\"message_stop\"}")
#define PING EV("ping", "{\"type\": \"ping\"}")

static const char BASIC_STREAM[] =
    MSG_START("25")
    TEXT_START
    PING
    TEXT("Hello")
    TEXT(" w\\u00f6rld \xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB")
    TEXT("\xE6\x97\xA5\xE6\x9C\xAC\\ud83d\\ude00 \xF0\x9F\x87\xAF\xF0\x9F\x87\xB5")
    TEXT("line\\nnext \\\"q\\\"")
    BLOCK_STOP("0")
    MSG_DELTA("\"end_turn\"", "15")
    MSG_STOP;

static const char BASIC_WANT[] =
    "text:Hello\n"
    "text: w\xC3\xB6rld \xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB\n"
    "text:\xE6\x97\xA5\xE6\x9C\xAC\xF0\x9F\x98\x80 \xF0\x9F\x87\xAF\xF0\x9F\x87\xB5\n"
    "text:line\nnext \"q\"\n"
    "finish:stop\n"
    "usage:25,15\n"
    "end:\n";
/* clang-format on */

START_TEST(basic_stream)
{
    expect(BASIC_STREAM, BASIC_WANT);
}
END_TEST

/* clang-format off */
/* The documentation's own spacing ("type": "...") and CRLF line ends; the body ends right
 * after the last data line. */
START_TEST(crlf_spaced_json_and_eof)
{
    expect("event: message_start\r\n"
           "data: {\"type\": \"message_start\", \"message\": {\"id\": \"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY\", "
           "\"type\": \"message\", \"role\": \"assistant\", \"content\": [], \"model\": "
           "\"claude-opus-4-1\", \"stop_reason\": null, \"stop_sequence\": null, \"usage\": "
           "{\"input_tokens\": 25, \"output_tokens\": 1}}}\r\n\r\n"
           "event: content_block_start\r\n"
           "data: {\"type\": \"content_block_start\", \"index\": 0, \"content_block\": "
           "{\"type\": \"text\", \"text\": \"\"}}\r\n\r\n"
           "event: ping\r\ndata: {\"type\": \"ping\"}\r\n\r\n"
           "event: content_block_delta\r\n"
           "data: {\"type\": \"content_block_delta\", \"index\": 0, \"delta\": {\"type\": "
           "\"text_delta\", \"text\": \"Hello\"}}\r\n\r\n"
           "event: content_block_delta\r\n"
           "data: {\"type\": \"content_block_delta\", \"index\": 0, \"delta\": {\"type\": "
           "\"text_delta\", \"text\": \"!\"}}\r\n\r\n"
           "event: content_block_stop\r\ndata: {\"type\": \"content_block_stop\", \"index\": 0}\r\n\r\n"
           "event: message_delta\r\n"
           "data: {\"type\": \"message_delta\", \"delta\": {\"stop_reason\": \"end_turn\", "
           "\"stop_sequence\":null}, \"usage\": {\"output_tokens\": 15}}\r\n\r\n"
           "event: message_stop\r\ndata: {\"type\": \"message_stop\"}",
           "text:Hello\ntext:!\nfinish:stop\nusage:25,15\nend:\n");
}
END_TEST

START_TEST(thinking_then_text)
{
    expect(MSG_START("12")
           EV("content_block_start", "{\"type\":\"content_block_start\",\"index\":0,"
              "\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}")
           EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,"
              "\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"I need to find the GCD of "
              "1071 and 462.\\n\\n1071 = 2 \xC3\x97 462 + 147\"}}")
           EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,"
              "\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\" \xF0\x9F\xA4\x94\"}}")
           EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,"
              "\"delta\":{\"type\":\"signature_delta\",\"signature\":\"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds\"}}")
           BLOCK_STOP("0")
           EV("content_block_start", "{\"type\":\"content_block_start\",\"index\":1,"
              "\"content_block\":{\"type\":\"text\",\"text\":\"The GCD\"}}")
           TEXT(" is 21.")
           BLOCK_STOP("1")
           MSG_DELTA("\"max_tokens\"", "300")
           MSG_STOP,
           "reasoning:I need to find the GCD of 1071 and 462.\n\n1071 = 2 \xC3\x97 462 + 147\n"
           "reasoning: \xF0\x9F\xA4\x94\n"
           "text:The GCD\n"
           "text: is 21.\n"
           "finish:length\n"
           "usage:12,300\n"
           "end:\n");
}
END_TEST

START_TEST(redacted_thinking_and_tool_use_ignored)
{
    expect(MSG_START("40")
           EV("content_block_start", "{\"type\":\"content_block_start\",\"index\":0,"
              "\"content_block\":{\"type\":\"redacted_thinking\",\"data\":\"EmwKAhgBEgy3va3pzix\"}}")
           BLOCK_STOP("0")
           EV("content_block_start", "{\"type\":\"content_block_start\",\"index\":1,"
              "\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01T1x1fJ34qAmk2tNTrN7Up6\","
              "\"name\":\"get_weather\",\"input\":{}}}")
           EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":1,"
              "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"location\\\": \\\"San Fra\"}}")
           BLOCK_STOP("1")
           MSG_DELTA("\"tool_use\"", "89")
           MSG_STOP,
           "finish:tool_calls\nusage:40,89\nend:\n");
}
END_TEST

START_TEST(stop_reasons_normalised)
{
    expect(MSG_DELTA("\"end_turn\"", "1") MSG_DELTA("\"stop_sequence\"", "2")
           MSG_DELTA("\"max_tokens\"", "3") MSG_DELTA("\"tool_use\"", "4")
           MSG_DELTA("\"refusal\"", "5") MSG_DELTA("\"pause_turn\"", "6")
           MSG_DELTA("\"model_context_window_exceeded\"", "7") MSG_DELTA("null", "8")
           MSG_DELTA("\"\"", "9"),
           "finish:stop\nfinish:stop\nfinish:length\nfinish:tool_calls\n"
           "finish:content_filter\nfinish:pause_turn\nfinish:length\n");
}
END_TEST

/* Usage goes out at message_delta, once both counts are known. */
START_TEST(usage_rules)
{
    /* a newer API version repeats the cumulative input count in message_delta */
    expect(MSG_START("10")
           EV("message_delta", "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},"
              "\"usage\":{\"input_tokens\":472,\"cache_creation_input_tokens\":0,"
              "\"cache_read_input_tokens\":0,\"output_tokens\":2}}"),
           "finish:stop\nusage:472,2\n");
    /* no message_start: input unknown, no usage */
    expect(MSG_DELTA("\"end_turn\"", "5"), "finish:stop\n");
    /* no output count, or a nonsense one */
    expect(MSG_START("10")
           EV("message_delta", "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"}}")
           MSG_DELTA("null", "-1") MSG_DELTA("null", "\"7\""),
           "finish:stop\n");
    expect(MSG_START("0") MSG_DELTA("null", "0"), "usage:0,0\n");
}
END_TEST

START_TEST(error_event_mid_stream)
{
    expect(MSG_START("25") TEXT_START TEXT("Hi \xF0\x9F\x91\x8B")
           "event: error\n"
           "data: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", "
           "\"message\": \"Overloaded\"}}\n\n",
           "text:Hi \xF0\x9F\x91\x8B\nerror:overloaded_error|Overloaded\n");
    expect("event: error\n"
           "data: {\"type\":\"error\",\"error\":{\"type\":\"api_error\","
           "\"message\":\"Internal\\nserver \\u0001error\"},\"request_id\":\"req_011CSHoEeqs5C35K2UUqR7Fy\"}\n\n",
           "error:api_error|Internal server error\n");
    expect("event: error\ndata: upstream\ndata: went away\n\n",
           "error:upstream_error|upstream went away\n");
    expect("event: error\ndata: {\"type\":\"error\",\"error\":{}}\n\n",
           "error:upstream_error|{\"type\":\"error\",\"error\":{}}\n");
    /* the data's type says error even when the event name does not */
    expect("data: {\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"slow down\"}}\n\n",
           "error:rate_limit_error|slow down\n");
}
END_TEST

START_TEST(event_name_stands_in_for_missing_type)
{
    expect(EV("content_block_delta", "{\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}")
           EV("message_stop", "{}"),
           "text:x\nend:\n");
}
END_TEST

START_TEST(unknown_and_empty_events_ignored)
{
    expect(": comment\n\n"
           EV("ping", "{\"type\":\"ping\"}")
           EV("future_event", "{\"type\":\"future_event\",\"text\":\"no\"}")
           EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,"
              "\"delta\":{\"type\":\"citations_delta\",\"citation\":{}}}")
           EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,"
              "\"delta\":{\"type\":\"text_delta\",\"text\":\"\"}}")
           EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,"
              "\"delta\":{\"type\":\"text_delta\",\"text\":7}}")
           EV("content_block_delta", "{\"type\":\"content_block_delta\",\"delta\":\"text_delta\"}")
           EV("message_start", "{\"type\":\"message_start\",\"message\":null}")
           "event: message_delta\ndata:\n\n",
           "");
}
END_TEST

START_TEST(non_json_data)
{
    expect_rc(TEXT("a") EV("content_block_delta", "not json") TEXT("b"), "text:a\n", PROV_ERR_PARSE);
    expect_rc(EV("message_stop", "{\"type\":\"message_stop\"} trailing"), "", PROV_ERR_PARSE);
    expect_rc(EV("message_stop", "[1,2]"), "", PROV_ERR_PARSE);
    expect_rc("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"text",
              "", PROV_ERR_PARSE);
}
END_TEST
/* clang-format on */

START_TEST(sink_value_stops)
{
    expect_sink_stops(BASIC_STREAM, sizeof(BASIC_STREAM) - 1, MSG_STOP, 4);
}
END_TEST

START_TEST(too_long)
{
    expect_too_long("data: ", "");
}
END_TEST

/* ---- build ---- */

static const char *str_at(const cJSON *o, const char *key)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
    ck_assert_msg(s != NULL, "no string %s", key);
    return s;
}

static double num_at(const cJSON *o, const char *key)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, key);
    ck_assert_msg(cJSON_IsNumber(n), "no number %s", key);
    return n->valuedouble;
}

/* messages[i] must be exactly {"role":role,"content":content}. */
static void check_msg(const cJSON *msgs, int i, const char *role, const char *content)
{
    const cJSON *m = cJSON_GetArrayItem(msgs, i);
    ck_assert_int_eq(cJSON_GetArraySize(m), 2);
    ck_assert_str_eq(str_at(m, "role"), role);
    ck_assert_str_eq(str_at(m, "content"), content);
}

static chat_msg MSGS[] = {
    {"system", "Be brief."},
    {"user", "Caf\xC3\xA9 \"quoted\"\nnew line"},
    {"assistant", "Yes."},
};

START_TEST(build_full)
{
    chat_req req = {.msgs = MSGS,
                    .n_msgs = 3,
                    .temperature = 0.5,
                    .has_temperature = 1,
                    .max_tokens = 100,
                    .root = NULL};
    prov_http h;
    ck_assert_int_eq(
        prov_anthropic.build(&req, "http://127.0.0.1:9/v1//", "sk-ant-test-123", "claude-x", &h, NULL, 0),
        0);
    ck_assert_str_eq(h.url, "http://127.0.0.1:9/v1/messages");
    ck_assert_uint_eq(count_headers(h.headers, NULL), 4);
    ck_assert_uint_eq(count_headers(h.headers, "Content-Type: application/json"), 1);
    ck_assert_uint_eq(count_headers(h.headers, "Accept: text/event-stream"), 1);
    ck_assert_uint_eq(count_headers(h.headers, "x-api-key: sk-ant-test-123"), 1);
    ck_assert_uint_eq(count_headers(h.headers, "anthropic-version: 2023-06-01"), 1);
    ck_assert_uint_eq(count_headers(h.headers, "Authorization"), 0);
    ck_assert_ptr_null(strstr(h.body, "sk-ant"));
    ck_assert_ptr_null(strstr(h.url, "sk-ant"));

    cJSON *b = body_of(&h);
    ck_assert_str_eq(str_at(b, "model"), "claude-x");
    ck_assert(num_at(b, "max_tokens") == 100);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(b, "stream")));
    ck_assert(num_at(b, "temperature") == 0.5);
    ck_assert_str_eq(str_at(b, "system"), "Be brief.");
    cJSON *msgs = cJSON_GetObjectItem(b, "messages");
    ck_assert_int_eq(cJSON_GetArraySize(msgs), 2);
    check_msg(msgs, 0, "user", MSGS[1].content);
    check_msg(msgs, 1, "assistant", "Yes.");
    ck_assert_int_eq(cJSON_GetArraySize(b), 6);
    cJSON_Delete(b);
    prov_http_free(&h);
    expect_http_empty(&h);
}
END_TEST

START_TEST(build_minimal_and_defaults)
{
    chat_req req = {.msgs = MSGS + 1, .n_msgs = 1, .root = NULL};
    prov_http h;
    ck_assert_int_eq(prov_anthropic.build(&req, "http://h/v1", "", "m", &h, NULL, 0), 0);
    ck_assert_str_eq(h.url, "http://h/v1/messages");
    ck_assert_uint_eq(count_headers(h.headers, NULL), 3);
    ck_assert_uint_eq(count_headers(h.headers, "x-api-key"), 0);
    cJSON *b = body_of(&h);
    ck_assert(num_at(b, "max_tokens") == 4096);
    ck_assert_ptr_null(cJSON_GetObjectItem(b, "temperature"));
    ck_assert_ptr_null(cJSON_GetObjectItem(b, "system"));
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(b, "messages")), 1);
    ck_assert_int_eq(cJSON_GetArraySize(b), 4);
    cJSON_Delete(b);
    prov_http_free(&h);

    req.has_temperature = 1; /* temperature 0 is a real value */
    ck_assert_int_eq(prov_anthropic.build(&req, NULL, NULL, "m", &h, NULL, 0), 0);
    ck_assert_str_eq(h.url, "https://api.anthropic.com/v1/messages");
    ck_assert_uint_eq(count_headers(h.headers, "x-api-key"), 0);
    ck_assert_ptr_nonnull(strstr(h.body, "\"temperature\":0"));
    prov_http_free(&h);
    prov_http_free(&h); /* twice is harmless */
}
END_TEST

/* Every system message goes to "system"; the rest alternate, runs in one role merged. */
START_TEST(build_system_and_merging)
{
    chat_msg m[] = {
        {"system", "You are terse."},
        {"assistant", "Earlier answer."},
        {"user", "One"},
        {"system", "Use \xF0\x9F\x98\x80 sparingly."},
        {"user", "Two"},
        {"user", ""},
        {"assistant", "A"},
        {"assistant", "B"},
        {"user", "Last"},
    };
    chat_req req = {.msgs = m, .n_msgs = sizeof(m) / sizeof(m[0]), .root = NULL};
    prov_http h;
    ck_assert_int_eq(prov_anthropic.build(&req, "http://h", "k", "m", &h, NULL, 0), 0);
    cJSON *b = body_of(&h);
    ck_assert_str_eq(str_at(b, "system"), "You are terse.\n\nUse \xF0\x9F\x98\x80 sparingly.");
    cJSON *msgs = cJSON_GetObjectItem(b, "messages");
    ck_assert_int_eq(cJSON_GetArraySize(msgs), 4);
    check_msg(msgs, 0, "assistant", "Earlier answer.");
    check_msg(msgs, 1, "user", "One\n\nTwo\n\n");
    check_msg(msgs, 2, "assistant", "A\n\nB");
    check_msg(msgs, 3, "user", "Last");
    cJSON_Delete(b);
    prov_http_free(&h);
}
END_TEST

START_TEST(build_only_system)
{
    chat_msg m[] = {{"system", "a"}, {"system", "b"}};
    chat_req req = {.msgs = m, .n_msgs = 2, .max_tokens = 1, .root = NULL};
    prov_http h;
    ck_assert_int_eq(prov_anthropic.build(&req, "http://h", NULL, "m", &h, NULL, 0), 0);
    cJSON *b = body_of(&h);
    ck_assert_str_eq(str_at(b, "system"), "a\n\nb");
    ck_assert(num_at(b, "max_tokens") == 1);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(b, "messages")), 0);
    cJSON_Delete(b);
    prov_http_free(&h);

    chat_msg e[] = {{"system", ""}, {"user", "hi"}};
    req = (chat_req){.msgs = e, .n_msgs = 2, .root = NULL};
    ck_assert_int_eq(prov_anthropic.build(&req, "http://h", NULL, "m", &h, NULL, 0), 0);
    b = body_of(&h);
    ck_assert_ptr_null(cJSON_GetObjectItem(b, "system")); /* nothing to say: left out */
    cJSON_Delete(b);
    prov_http_free(&h);
}
END_TEST

START_TEST(build_rejects_key_with_control_chars)
{
    chat_req req = {.msgs = MSGS, .n_msgs = 2, .root = NULL};
    prov_http h;
    ck_assert_int_eq(prov_anthropic.build(&req, "http://h", "sk\r\nX-Evil: 1", "m", &h, NULL, 0), -1);
    expect_http_empty(&h);
    ck_assert_int_eq(prov_anthropic.build(&req, "http://h", "sk\x7f", "m", &h, NULL, 0), -1);
    ck_assert_int_eq(prov_anthropic.build(&req, "http://h", "sk\t", "m", &h, NULL, 0), -1);
}
END_TEST

/* ---- error_reason ---- */

START_TEST(error_reason_shapes)
{
    ck_assert_str_eq(reason("{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
                            "\"message\":\"max_tokens: Field required\"},"
                            "\"request_id\":\"req_011CSHoEeqs5C35K2UUqR7Fy\"}",
                            256),
                     "max_tokens: Field required");
    ck_assert_str_eq(reason("{\"type\":\"error\",\"error\":{\"type\":\"not_found_error\","
                            "\"message\":\"model: claude-nope\"}}",
                            256),
                     "model: claude-nope");
    ck_assert_str_eq(reason("{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\"}}", 256),
                     "overloaded_error");
    ck_assert_str_eq(reason("{\"error\":\"gateway says no\"}", 256), "gateway says no");
    ck_assert_str_eq(reason("{\"message\":\"Too many requests\"}", 256), "Too many requests");
    ck_assert_str_eq(
        reason("{\"type\":\"error\",\"error\":{\"message\":\"a\\u0001b\\nc\\td\"}}", 256),
        "a b c d");
    ck_assert_str_eq(reason("<html><body>502 Bad Gateway</body></html>\r\n", 256),
                     "<html><body>502 Bad Gateway</body></html>");
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
    ck_assert_str_eq(reason("ab\xF0\x9F\x98\x80z", 7), "ab\xF0\x9F\x98\x80");
    ck_assert_str_eq(reason("abc def", 5), "abc"); /* no trailing space */
    ck_assert_str_eq(reason("{\"type\":\"error\",\"error\":{\"type\":\"api_error\","
                            "\"message\":\"\xE6\x97\xA5\xE6\x9C\xAC\"}}",
                            6),
                     "\xE6\x97\xA5");
    ck_assert_str_eq(reason("abc", 1), "");
    expect_reason_edges();
}
END_TEST

START_TEST(provider_table)
{
    expect_table("anthropic", "https://api.anthropic.com/v1");
    ck_assert_str_eq(prov_anthropic.default_model, "claude-sonnet-4-5");
}
END_TEST

static Suite *anthropic_suite(void)
{
    Suite *s = suite_create("prov_anthropic");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, basic_stream);
    tcase_add_test(tc, crlf_spaced_json_and_eof);
    tcase_add_test(tc, thinking_then_text);
    tcase_add_test(tc, redacted_thinking_and_tool_use_ignored);
    tcase_add_test(tc, stop_reasons_normalised);
    tcase_add_test(tc, usage_rules);
    tcase_add_test(tc, error_event_mid_stream);
    tcase_add_test(tc, event_name_stands_in_for_missing_type);
    tcase_add_test(tc, unknown_and_empty_events_ignored);
    tcase_add_test(tc, non_json_data);
    tcase_add_test(tc, sink_value_stops);
    tcase_add_test(tc, too_long);
    tcase_add_test(tc, build_full);
    tcase_add_test(tc, build_minimal_and_defaults);
    tcase_add_test(tc, build_system_and_merging);
    tcase_add_test(tc, build_only_system);
    tcase_add_test(tc, build_rejects_key_with_control_chars);
    tcase_add_test(tc, error_reason_shapes);
    tcase_add_test(tc, error_reason_truncates_on_utf8_boundary);
    tcase_add_test(tc, provider_table);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(anthropic_suite());
}
