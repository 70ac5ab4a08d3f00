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

START_TEST(redacted_thinking_ignored_tool_use_read)
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
           "tool:0|toolu_01T1x1fJ34qAmk2tNTrN7Up6 get_weather\n"
           "args:0|{\"location\": \"San Fra\n"
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

/* ---- tool calls ---- */

/* clang-format off */
#define TOOL_START(i, id, name) EV("content_block_start", \
    "{\"type\":\"content_block_start\",\"index\":" i ",\"content_block\":{\"type\":\"tool_use\"," \
    "\"id\":\"" id "\",\"name\":\"" name "\",\"input\":{}}}")
#define ARGS(i, json) EV("content_block_delta", \
    "{\"type\":\"content_block_delta\",\"index\":" i ",\"delta\":{\"type\":\"input_json_delta\"," \
    "\"partial_json\":\"" json "\"}}")
#define TEXT_AT(i, s) EV("content_block_delta", \
    "{\"type\":\"content_block_delta\",\"index\":" i ",\"delta\":{\"type\":\"text_delta\",\"text\":\"" s "\"}}")
#define TEXT_START_AT(i) EV("content_block_start", \
    "{\"type\":\"content_block_start\",\"index\":" i ",\"content_block\":{\"type\":\"text\",\"text\":\"\"}}")

/* Two parallel calls after a text block: content blocks 1 and 2 are tool calls 0 and 1; the
 * first fragment of each is "" (as the API sends it), pings come between the fragments. */
static const char PARALLEL_STREAM[] =
    MSG_START("472")
    TEXT_START
    TEXT("I'll check both.")
    BLOCK_STOP("0")
    TOOL_START("1", "toolu_01A09q90qw90lq917835lq9", "get_weather")
    ARGS("1", "")
    PING
    ARGS("1", "{\\\"location\\\": \\\"San Fra")
    PING
    ARGS("1", "ncisco, CA\\\", \\\"unit\\\": \\\"\xC2\xB0" "F\\\"}")
    BLOCK_STOP("1")
    TOOL_START("2", "toolu_01B", "get_time")
    ARGS("2", "")
    ARGS("2", "{\\\"tz\\\":")
    ARGS("2", "\\\"America/Los_Angeles\\\"}")
    BLOCK_STOP("2")
    MSG_DELTA("\"tool_use\"", "89")
    MSG_STOP;

static const char PARALLEL_WANT[] =
    "text:I'll check both.\n"
    "tool:0|toolu_01A09q90qw90lq917835lq9 get_weather\n"
    "args:0|{\"location\": \"San Fra\n"
    "args:0|ncisco, CA\", \"unit\": \"\xC2\xB0" "F\"}\n"
    "tool:1|toolu_01B get_time\n"
    "args:1|{\"tz\":\n"
    "args:1|\"America/Los_Angeles\"}\n"
    "finish:tool_calls\n"
    "usage:472,89\n"
    "end:\n";
/* clang-format on */

START_TEST(parallel_tool_calls_after_text)
{
    expect(PARALLEL_STREAM, PARALLEL_WANT);
}
END_TEST

/* clang-format off */
/* A call without arguments streams no fragment (or only ""): its arguments are "{}". */
START_TEST(no_argument_tools_get_braces)
{
    expect(MSG_START("5")
           TOOL_START("0", "toolu_1", "now")
           BLOCK_STOP("0")
           TOOL_START("1", "toolu_2", "now")
           ARGS("1", "")
           PING
           ARGS("1", "")
           BLOCK_STOP("1")
           MSG_DELTA("\"tool_use\"", "9")
           MSG_STOP,
           "tool:0|toolu_1 now\nargs:0|{}\ntool:1|toolu_2 now\nargs:1|{}\n"
           "finish:tool_calls\nusage:5,9\nend:\n");
}
END_TEST

/* Thinking, text and tool blocks interleaved keep their order; tool indexes count the tool
 * blocks alone. */
START_TEST(text_between_and_after_tools)
{
    expect(EV("content_block_start", "{\"type\":\"content_block_start\",\"index\":0,"
              "\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}")
           EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,"
              "\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"Two steps.\"}}")
           EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,"
              "\"delta\":{\"type\":\"signature_delta\",\"signature\":\"EqQBCgIYAhIM\"}}")
           BLOCK_STOP("0")
           TEXT_START_AT("1") TEXT_AT("1", "First ") TEXT_AT("1", "\xF0\x9F\x91\x8D") BLOCK_STOP("1")
           TOOL_START("2", "toolu_a", "step_one") ARGS("2", "{\\\"n\\\":1}") BLOCK_STOP("2")
           TEXT_START_AT("3") TEXT_AT("3", "then") BLOCK_STOP("3")
           TOOL_START("4", "toolu_b", "step_two") BLOCK_STOP("4")
           TEXT_START_AT("5") TEXT_AT("5", "done.") BLOCK_STOP("5")
           MSG_DELTA("\"end_turn\"", "30"),
           "reasoning:Two steps.\ntext:First \ntext:\xF0\x9F\x91\x8D\n"
           "tool:0|toolu_a step_one\nargs:0|{\"n\":1}\n"
           "text:then\n"
           "tool:1|toolu_b step_two\nargs:1|{}\n"
           "text:done.\nfinish:stop\n");
}
END_TEST

/* An input already filled in at the start is the arguments whole; fragments outside the
 * open tool block have no call; a block never stopped ends at message_delta/message_stop. */
START_TEST(tool_block_edges)
{
    expect(ARGS("0", "{}")
           EV("content_block_start", "{\"type\":\"content_block_start\",\"index\":0,"
              "\"content_block\":{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"add\","
              "\"input\":{\"a\":1,\"b\":[true,null]}}}")
           BLOCK_STOP("0")
           ARGS("0", "{\\\"late\\\":1}")
           TOOL_START("1", "t2", "f")
           ARGS("7", "{\\\"other\\\":1}")
           ARGS("1", "{\\\"x\\\"")
           BLOCK_STOP("7")
           ARGS("1", ":2}")
           MSG_DELTA("\"tool_use\"", "1")
           TOOL_START("2", "t3", "g")
           MSG_STOP,
           "tool:0|t1 add\nargs:0|{\"a\":1,\"b\":[true,null]}\n"
           "tool:1|t2 f\nargs:1|{\"x\"\nargs:1|:2}\nfinish:tool_calls\n"
           "tool:2|t3 g\nargs:2|{}\nend:\n");
    /* a tool block without an id or a name still counts, and no index means the open block */
    expect(EV("content_block_start", "{\"type\":\"content_block_start\",\"index\":3,"
              "\"content_block\":{\"type\":\"tool_use\",\"input\":{}}}")
           EV("content_block_delta", "{\"type\":\"content_block_delta\","
              "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{}\"}}")
           EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":3,"
              "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":7}}")
           EV("content_block_stop", "{\"type\":\"content_block_stop\"}")
           TOOL_START("4", "t", "h") BLOCK_STOP("4"),
           "tool:0| \nargs:0|{}\ntool:1|t h\nargs:1|{}\n");
}
END_TEST
/* clang-format on */

/* More than LIM_TOOLS tool blocks in one answer is an answer chatd cannot relay: every
 * call's index stays under LIM_TOOLS. */
START_TEST(tool_calls_capped)
{
    char *in = malloc((LIM_TOOLS + 2) * 200);
    ck_assert_ptr_nonnull(in);
    size_t o = 0;
    for (int i = 0; i < LIM_TOOLS + 2; i++)
        o += (size_t)sprintf(in + o,
                             EV("content_block_start", "{\"type\":\"content_block_start\","
                                                       "\"index\":%d,\"content_block\":{\"type\":"
                                                       "\"tool_use\",\"id\":\"t%d\",\"name\":"
                                                       "\"f\",\"input\":{}}}"),
                             i, i);
    rec r = {0};
    ck_assert_int_eq(run(in, o, 0, &r), PROV_ERR_TOO_LONG);
    ck_assert_int_eq(r.calls, 2 * LIM_TOOLS); /* each call's start and its "{}" */
    ck_assert_ptr_nonnull(strstr(r.s, "tool:127|t127 f\nargs:127|{}\n"));
    ck_assert_ptr_null(strstr(r.s, "tool:128|"));
    free(in);
}
END_TEST

/* A sink without tool callbacks reads the same stream for its text; a tool callback's
 * non-zero value stops the reader like any other. */
START_TEST(tool_callbacks_optional_and_stopping)
{
    static const char mixed[] = TEXT_START TEXT("a") TOOL_START("1", "t1", "f") ARGS("1", "{}")
        BLOCK_STOP("1") TEXT_AT("2", "b") TOOL_START("3", "t2", "g") BLOCK_STOP("3") TEXT("c");
    expect_sink_stops(mixed, sizeof(mixed) - 1, MSG_STOP, 3);
    for (unsigned mode = 0; mode < 2 + SEEDS; mode++) {
        for (int at = 2; at <= 6; at++) { /* tool, args, args, tool, args */
            rec r = {.stop_at = at};
            ck_assert_int_eq(run(PARALLEL_STREAM, sizeof(PARALLEL_STREAM) - 1, mode, &r), 42);
            ck_assert_int_eq(r.calls, at);
        }
    }
}
END_TEST

/* ---- build ---- */

/* A chat request whose tree is s with every ' made "; req_done deletes the tree. */
static chat_req req_of(const char *s)
{
    char *t = strdup(s);
    ck_assert_ptr_nonnull(t);
    for (char *p = t; *p; p++)
        if (*p == '\'')
            *p = '"';
    chat_req req = {.root = cJSON_Parse(t)};
    ck_assert_ptr_nonnull(req.root);
    free(t);
    return req;
}

static void req_done(chat_req *req)
{
    cJSON_Delete(req->root);
}

/* h's body must be the JSON s (written with ' for "). */
static void expect_body(const prov_http *h, const char *s)
{
    chat_req want = req_of(s);
    cJSON *got = body_of(h);
    ck_assert_msg(cJSON_Compare(got, want.root, 1), "got %s", h->body);
    cJSON_Delete(got);
    req_done(&want);
}

/* The translation itself is tested in test_xlat_anthropic.c; here, that build sends it. */
START_TEST(build_full)
{
    chat_req req = req_of("{'model':'ignored','stream':false,'messages':["
                          "{'role':'system','content':'Be brief.'},"
                          "{'role':'user','content':'Caf\u00e9 \\'quoted\\'\\nnew line'},"
                          "{'role':'assistant','content':'Yes.'}],"
                          "'temperature':0.5,'max_tokens':100}");
    prov_http h;
    char err[128] = "#";
    ck_assert_int_eq(prov_anthropic.build(&req, "http://127.0.0.1:9/v1//", "sk-ant-test-123",
                                          "claude-x", &h, err, sizeof(err)),
                     0);
    ck_assert_str_eq(err, "");
    ck_assert_str_eq(h.url, "http://127.0.0.1:9/v1/messages");
    ck_assert_uint_eq(count_headers(h.headers, NULL), 4);
    ck_assert_uint_eq(count_headers(h.headers, "Content-Type: application/json"), 1);
    ck_assert_uint_eq(count_headers(h.headers, "Accept: text/event-stream"), 1);
    ck_assert_uint_eq(count_headers(h.headers, "x-api-key: sk-ant-test-123"), 1);
    ck_assert_uint_eq(count_headers(h.headers, "anthropic-version: 2023-06-01"), 1);
    ck_assert_uint_eq(count_headers(h.headers, "Authorization"), 0);
    ck_assert_ptr_null(strstr(h.body, "sk-ant"));
    ck_assert_ptr_null(strstr(h.url, "sk-ant"));
    expect_body(
        &h,
        "{'model':'claude-x','max_tokens':100,'temperature':0.5,'stream':true,"
        "'system':[{'type':'text','text':'Be brief.'}],'messages':["
        "{'role':'user','content':[{'type':'text','text':'Caf\u00e9 \\'quoted\\'\\nnew line'}]},"
        "{'role':'assistant','content':[{'type':'text','text':'Yes.'}]}]}");
    prov_http_free(&h);
    expect_http_empty(&h);
    req_done(&req);
}
END_TEST

START_TEST(build_minimal_and_defaults)
{
    chat_req req = req_of("{'messages':[{'role':'user','content':'hi'}]}");
    prov_http h;
    ck_assert_int_eq(prov_anthropic.build(&req, "http://h/v1", "", "m", &h, NULL, 0), 0);
    ck_assert_str_eq(h.url, "http://h/v1/messages");
    ck_assert_uint_eq(count_headers(h.headers, NULL), 3);
    ck_assert_uint_eq(count_headers(h.headers, "x-api-key"), 0);
    expect_body(&h, "{'model':'m','max_tokens':4096,'stream':true,"
                    "'messages':[{'role':'user','content':[{'type':'text','text':'hi'}]}]}");
    prov_http_free(&h);

    ck_assert_int_eq(prov_anthropic.build(&req, NULL, NULL, "m", &h, NULL, 0), 0);
    ck_assert_str_eq(h.url, "https://api.anthropic.com/v1/messages");
    ck_assert_uint_eq(count_headers(h.headers, "x-api-key"), 0);
    prov_http_free(&h);
    prov_http_free(&h); /* twice is harmless */
    req_done(&req);
}
END_TEST

/* A field without an equivalent stops the build before anything is made. */
START_TEST(build_refuses_by_name)
{
    chat_req req = req_of("{'messages':[{'role':'user','content':'hi'}],'seed':1}");
    prov_http h = {(char *)"stale", NULL, NULL};
    char err[128] = "";
    ck_assert_int_eq(prov_anthropic.build(&req, "http://h", "k", "m", &h, err, sizeof(err)),
                     PROV_BUILD_UNSUPPORTED);
    ck_assert_str_eq(err, "seed is not supported by Anthropic");
    expect_http_empty(&h);
    req_done(&req);

    req = req_of("{'messages':[{'role':'assistant','tool_calls':[{'id':'c','type':'function',"
                 "'function':{'name':'f','arguments':'nope'}}]}]}");
    ck_assert_int_eq(prov_anthropic.build(&req, "http://h", "k", "m", &h, err, sizeof(err)),
                     PROV_BUILD_INVALID);
    ck_assert_str_eq(err, "messages[0].tool_calls[0].function.arguments must be a JSON object");
    expect_http_empty(&h);
    req_done(&req);
}
END_TEST

START_TEST(build_rejects_key_with_control_chars)
{
    chat_req req = req_of("{'messages':[{'role':'user','content':'hi'}]}");
    prov_http h;
    ck_assert_int_eq(prov_anthropic.build(&req, "http://h", "sk\r\nX-Evil: 1", "m", &h, NULL, 0),
                     -1);
    expect_http_empty(&h);
    ck_assert_int_eq(prov_anthropic.build(&req, "http://h", "sk\x7f", "m", &h, NULL, 0), -1);
    ck_assert_int_eq(prov_anthropic.build(&req, "http://h", "sk\t", "m", &h, NULL, 0), -1);
    req_done(&req);
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
    tcase_add_test(tc, redacted_thinking_ignored_tool_use_read);
    tcase_add_test(tc, stop_reasons_normalised);
    tcase_add_test(tc, usage_rules);
    tcase_add_test(tc, error_event_mid_stream);
    tcase_add_test(tc, event_name_stands_in_for_missing_type);
    tcase_add_test(tc, unknown_and_empty_events_ignored);
    tcase_add_test(tc, non_json_data);
    tcase_add_test(tc, sink_value_stops);
    tcase_add_test(tc, too_long);
    tcase_add_test(tc, parallel_tool_calls_after_text);
    tcase_add_test(tc, no_argument_tools_get_braces);
    tcase_add_test(tc, text_between_and_after_tools);
    tcase_add_test(tc, tool_block_edges);
    tcase_add_test(tc, tool_calls_capped);
    tcase_add_test(tc, tool_callbacks_optional_and_stopping);
    tcase_add_test(tc, build_full);
    tcase_add_test(tc, build_minimal_and_defaults);
    tcase_add_test(tc, build_refuses_by_name);
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
