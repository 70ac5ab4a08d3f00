/* Tests for prov_ollama: request building (OpenAI's request translated into Ollama's body,
 * byte for byte, and every refusal's exact reason), error reasons, and stream reading with
 * Ollama /api/chat NDJSON bodies, tool calls included, fed whole, byte by byte and in random
 * splits (fixed seeds); every split must give the same sink calls and the same result. */
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

/* ---- tool calls ---- */

/* clang-format off */
/* A line whose message holds tool_calls (and content, thinking when given). */
#define CALLS(calls) HEAD "\"message\":{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[" \
    calls "]},\"done\":false}\n"
#define CALL(name, args) "{\"function\":{\"index\":0,\"name\":\"" name "\",\"arguments\":" args "}}"
#define CALL_ID(id, name, args) "{\"id\":\"" id "\",\"function\":{\"name\":\"" name "\"," \
    "\"arguments\":" args "}}"
#define WEATHER "{\"city\":\"Paris\",\"unit\":\"celsius\"}"
#define END_STOP DONE(STOP, COUNTS("122", "33"))
#define WANT_END "finish:tool_calls\nusage:122,33\nend:\n"

START_TEST(one_tool_call)
{
    expect(CALLS(CALL("get_weather", WEATHER)) END_STOP,
           "tool:0|call_0 get_weather\n"
           "args:0|{\"city\":\"Paris\",\"unit\":\"celsius\"}\n" WANT_END);
    /* pretty-printed arguments, numbers, nesting and escapes: sent on compact */
    expect(CALLS(CALL("f", "{ \"a\" : [1, 2.5, -3e2, true, null],\t \"b\": {\"c\": \"\\u00e9\\\"\\n\"} }"))
           END_STOP,
           "tool:0|call_0 f\n"
           "args:0|{\"a\":[1,2.5,-300,true,null],\"b\":{\"c\":\"\xC3\xA9\\\"\\n\"}}\n" WANT_END);
}
END_TEST

START_TEST(two_tool_calls_in_one_chunk)
{
    expect(CALLS(CALL("get_weather", WEATHER) "," CALL("get_time", "{\"tz\":\"CET\"}")) END_STOP,
           "tool:0|call_0 get_weather\n"
           "args:0|{\"city\":\"Paris\",\"unit\":\"celsius\"}\n"
           "tool:1|call_1 get_time\n"
           "args:1|{\"tz\":\"CET\"}\n" WANT_END);
}
END_TEST

START_TEST(tool_calls_in_separate_chunks)
{
    expect(CALLS(CALL("get_weather", WEATHER))
           LINE("")
           CALLS(CALL("get_weather", "{\"city\":\"Rome\"}"))
           CALLS(CALL("get_time", "{}"))
           END_STOP,
           "tool:0|call_0 get_weather\n"
           "args:0|{\"city\":\"Paris\",\"unit\":\"celsius\"}\n"
           "tool:1|call_1 get_weather\n"
           "args:1|{\"city\":\"Rome\"}\n"
           "tool:2|call_2 get_time\n"
           "args:2|{}\n" WANT_END);
}
END_TEST

START_TEST(text_then_tool_call)
{
    /* in separate lines, and in one line with thinking: thinking, text, then the call */
    expect(LINE("Let me check.") CALLS(CALL("get_weather", WEATHER)) LINE("Done.") END_STOP,
           "text:Let me check.\n"
           "tool:0|call_0 get_weather\n"
           "args:0|{\"city\":\"Paris\",\"unit\":\"celsius\"}\n"
           "text:Done.\n" WANT_END);
    expect(HEAD "\"message\":{\"role\":\"assistant\",\"tool_calls\":[" CALL("get_weather", WEATHER)
           "],\"content\":\"Checking \xF0\x9F\x8C\xA6\",\"thinking\":\"weather?\"},\"done\":false}\n"
           END_STOP,
           "reasoning:weather?\n"
           "text:Checking \xF0\x9F\x8C\xA6\n"
           "tool:0|call_0 get_weather\n"
           "args:0|{\"city\":\"Paris\",\"unit\":\"celsius\"}\n" WANT_END);
}
END_TEST

START_TEST(tool_call_without_arguments)
{
    expect(CALLS(CALL("now", "{}")) END_STOP, "tool:0|call_0 now\nargs:0|{}\n" WANT_END);
    /* no arguments member, null, "" and a string holding JSON text */
    expect(CALLS("{\"function\":{\"name\":\"a\"}}," CALL("b", "null") "," CALL("c", "\"\"") ","
                 CALL("d", "\"{\\\"x\\\":1}\""))
           END_STOP,
           "tool:0|call_0 a\nargs:0|{}\n"
           "tool:1|call_1 b\nargs:1|{}\n"
           "tool:2|call_2 c\nargs:2|{}\n"
           "tool:3|call_3 d\nargs:3|{\"x\":1}\n" WANT_END);
}
END_TEST

START_TEST(tool_call_ids)
{
    /* Ollama's own ids are kept; one already used in the answer is replaced */
    expect(CALLS(CALL_ID("call_k3x9", "a", "{}") "," CALL_ID("call_k3x9", "b", "{}"))
           CALLS(CALL_ID("", "c", "{}")) END_STOP,
           "tool:0|call_k3x9 a\nargs:0|{}\n"
           "tool:1|call_1 b\nargs:1|{}\n"
           "tool:2|call_2 c\nargs:2|{}\n" WANT_END);
    /* a made id never repeats one the upstream sent, nor the other way round */
    expect(CALLS(CALL_ID("call_1", "a", "{}") "," CALL("b", "{}") "," CALL_ID("call_0", "c", "{}")
                 "," CALL_ID("call_1_1", "d", "{}"))
           END_STOP,
           "tool:0|call_1 a\nargs:0|{}\n"
           "tool:1|call_1_1 b\nargs:1|{}\n"
           "tool:2|call_0 c\nargs:2|{}\n"
           "tool:3|call_3 d\nargs:3|{}\n" WANT_END);
}
END_TEST

START_TEST(tool_call_finish_reasons)
{
    /* the whole answer in the last line (as with stream false) */
    expect(HEAD "\"message\":{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":["
           CALL("get_weather", WEATHER) "]},\"done_reason\":\"stop\",\"done\":true,"
           "\"prompt_eval_count\":122,\"eval_count\":33}\n",
           "tool:0|call_0 get_weather\n"
           "args:0|{\"city\":\"Paris\",\"unit\":\"celsius\"}\n" WANT_END);
    /* length stays length; no done_reason at all becomes tool_calls too */
    expect(CALLS(CALL("a", "{}")) DONE("\"done_reason\":\"length\",", COUNTS("1", "2")),
           "tool:0|call_0 a\nargs:0|{}\nfinish:length\nusage:1,2\nend:\n");
    expect(CALLS(CALL("a", "{}")) DONE("", COUNTS("1", "2")),
           "tool:0|call_0 a\nargs:0|{}\nfinish:tool_calls\nusage:1,2\nend:\n");
}
END_TEST

START_TEST(tool_call_oddities_skipped)
{
    /* entries that are no call (no function name) are skipped and take no index */
    expect(CALLS("1,{},{\"function\":null},{\"function\":{\"name\":\"\"}},{\"function\":{\"name\":7}},"
                 CALL("a", "{}"))
           HEAD "\"message\":{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":{}},\"done\":false}\n"
           HEAD "\"message\":{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":null},\"done\":false}\n"
           DONE(STOP, ""),
           "tool:0|call_0 a\nargs:0|{}\nfinish:tool_calls\nend:\n");
    /* a stream without calls still ends with stop */
    expect(LINE("x") "{\"message\":{\"tool_calls\":[]},\"done\":false}\n" DONE(STOP, ""),
           "text:x\nfinish:stop\nend:\n");
}
END_TEST
/* clang-format on */

/* A sink's non-zero value from the call's start stops the feed before its arguments. */
START_TEST(tool_call_sink_stops)
{
    const char *in = CALLS(CALL("a", "{}") "," CALL("b", "{}")) END_STOP;
    for (int at = 1; at <= 2; at++) {
        rec r = {.stop_at = at};
        ck_assert_int_eq(run(in, strlen(in), 0, &r), 42);
        ck_assert_int_eq(r.calls, at);
        ck_assert_str_eq(r.s, at == 1 ? "tool:0|call_0 a\n" : "tool:0|call_0 a\nargs:0|{}\n");
    }
}
END_TEST

/* Too many calls in one answer is an answer chatd cannot relay. */
START_TEST(tool_calls_capped)
{
    char *in = malloc(300 * 100);
    ck_assert_ptr_nonnull(in);
    size_t o = 0;
    for (int i = 0; i < 300; i++)
        o += (size_t)sprintf(in + o, "{\"message\":{\"tool_calls\":[" CALL("f", "{}") "]}}\n");
    rec r = {0};
    ck_assert_int_eq(run(in, o, 0, &r), PROV_ERR_TOO_LONG);
    ck_assert_int_eq(r.calls, 2 * LIM_TOOLS); /* the index of every call under LIM_TOOLS */
    ck_assert_ptr_nonnull(strstr(r.s, "tool:127|call_127 f\nargs:127|{}\n"));
    ck_assert_ptr_null(strstr(r.s, "tool:128|"));
    free(in);
}
END_TEST

/* ---- build ---- */

/* s with every ' made a " (JSON written readably; an apostrophe is \u0027), in one of two
 * static buffers. */
static const char *dq(const char *s)
{
    static char out[2][4096];
    static int turn;
    char *o = out[turn ^= 1];
    size_t n = strlen(s);
    ck_assert_uint_lt(n, sizeof(out[0]));
    for (size_t i = 0; i <= n; i++)
        o[i] = s[i] == '\'' ? '"' : s[i];
    return o;
}

/* Builds the client's JSON in (a ' for each ") for model "m": build's result, the URL and
 * body in h. */
static int build_from(const char *in, const char *base_url, const char *key, prov_http *h,
                      char *err, size_t errsz)
{
    chat_req req = {0};
    req.root = cJSON_Parse(dq(in));
    ck_assert_msg(req.root != NULL, "test input is not JSON: %s", in);
    int rc = prov_ollama.build(&req, base_url, key, "m", h, err, errsz);
    cJSON_Delete(req.root);
    return rc;
}

typedef struct build_case {
    const char *in;   /* the client's request */
    const char *want; /* Ollama's body, byte for byte */
} build_case;

/* clang-format off */
#define USER "{'role':'user','content':'Hi'}"
#define BODY(msgs, rest) "{'model':'m','messages':[" msgs "]" rest ",'stream':true}"
#define PNG "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="

static const build_case BUILDS[] = {
    /* chatd's own fields (model, stream, stream_options) are not sent; an empty user says nothing */
    {"{'model':'gpt-4o','messages':[" USER "],'stream':true,'stream_options':{'include_usage':true},"
     "'user':''}",
     BODY(USER, "")},
    /* an answer echoed back with empty annotations */
    {"{'messages':[" USER ",{'role':'assistant','content':'Yes.','annotations':[],'refusal':null}]}",
     BODY(USER ",{'role':'assistant','content':'Yes.'}", "")},
    /* roles; system and developer are system messages; UTF-8 and escapes as they are */
    {"{'messages':[{'role':'system','content':'Be brief.'},{'role':'developer','content':'No lists.'},"
     "{'role':'user','content':'Caf\xC3\xA9 \\'q\\'\\n'},{'role':'assistant','content':'Yes.'},"
     "{'role':'user','content':''}]}",
     BODY("{'role':'system','content':'Be brief.'},{'role':'system','content':'No lists.'},"
          "{'role':'user','content':'Caf\xC3\xA9 \\'q\\'\\n'},{'role':'assistant','content':'Yes.'},"
          "{'role':'user','content':''}", "")},
    /* parts: texts joined, images inline (the media type dropped, detail no matter) */
    {"{'messages':[{'role':'user','content':[{'type':'text','text':'What is'},"
     "{'type':'image_url','image_url':{'url':'data:image/png;base64," PNG "','detail':'high'}},"
     "{'type':'text','text':'this?'},{'type':'image_url','image_url':{'url':'DATA:image/jpeg;BASE64,/9j/'}}]},"
     "{'role':'system','content':[{'type':'text','text':'a'},{'type':'text','text':'b'}]}]}",
     BODY("{'role':'user','content':'What is\\nthis?','images':['" PNG "','/9j/']},"
          "{'role':'system','content':'a\\nb'}", "")},
    /* a user message of images only */
    {"{'messages':[{'role':'user','content':[{'type':'image_url','image_url':{'url':'data:;base64,QQ=='}}]}]}",
     BODY("{'role':'user','content':'','images':['QQ==']}", "")},
    /* assistant tool calls (arguments as objects, "" and none: {}), thinking, tool results */
    {"{'messages':[" USER ",{'role':'assistant','content':null,'reasoning_content':'Two cities.',"
     "'tool_calls':[{'id':'call_a','type':'function','function':{'name':'get_weather',"
     "'arguments':'{\\'city\\': \\'Paris\\'}'}},{'id':'call_b','type':'function',"
     "'function':{'name':'now','arguments':''}},{'function':{'name':'ping'}}]},"
     "{'role':'tool','tool_call_id':'call_a','content':'18C'},"
     "{'role':'tool','tool_call_id':'call_b','content':[{'type':'text','text':'noon'}]},"
     "{'role':'tool','tool_call_id':'call_x','name':'ping','content':'pong'},"
     "{'role':'tool','tool_call_id':'call_y','content':'?'},"
     "{'role':'assistant','content':'Sunny.','refusal':null,'tool_calls':null}]}",
     BODY(USER ",{'role':'assistant','content':'','thinking':'Two cities.','tool_calls':["
          "{'id':'call_a','function':{'name':'get_weather','arguments':{'city':'Paris'}}},"
          "{'id':'call_b','function':{'name':'now','arguments':{}}},"
          "{'function':{'name':'ping','arguments':{}}}]},"
          "{'role':'tool','content':'18C','tool_name':'get_weather','tool_call_id':'call_a'},"
          "{'role':'tool','content':'noon','tool_name':'now','tool_call_id':'call_b'},"
          "{'role':'tool','content':'pong','tool_name':'ping','tool_call_id':'call_x'},"
          "{'role':'tool','content':'?','tool_call_id':'call_y'},"
          "{'role':'assistant','content':'Sunny.'}", "")},
    /* arguments sent as an object already */
    {"{'messages':[{'role':'assistant','tool_calls':[{'id':'1','function':{'name':'f','arguments':{'a':[1]}}}]}]}",
     BODY("{'role':'assistant','content':'','tool_calls':[{'id':'1','function':{'name':'f','arguments':{'a':[1]}}}]}", "")},
    /* tools as sent (OpenAI's schema); auto and parallel calls are Ollama's way anyway */
    {"{'messages':[" USER "],'tools':[{'type':'function','function':{'name':'get_weather',"
     "'description':'Weather','parameters':{'type':'object','properties':{'city':{'type':'string'}}},"
     "'strict':false}}],'tool_choice':'auto','parallel_tool_calls':true}",
     BODY(USER, ",'tools':[{'type':'function','function':{'name':'get_weather','description':'Weather',"
          "'parameters':{'type':'object','properties':{'city':{'type':'string'}}},'strict':false}}]")},
    /* tool_choice none: no tools go */
    {"{'messages':[" USER "],'tools':[{'type':'function','function':{'name':'f'}}],'tool_choice':'none'}",
     BODY(USER, "")},
    {"{'messages':[" USER "],'tools':[]}", BODY(USER, "")},
    /* response formats */
    {"{'messages':[" USER "],'response_format':{'type':'json_object'}}", BODY(USER, ",'format':'json'")},
    {"{'messages':[" USER "],'response_format':{'type':'json_schema','json_schema':{'name':'p','strict':true,"
     "'schema':{'type':'object','properties':{'age':{'type':'integer'}},'required':['age']}}}}",
     BODY(USER, ",'format':{'type':'object','properties':{'age':{'type':'integer'}},'required':['age']}")},
    {"{'messages':[" USER "],'response_format':{'type':'text'}}", BODY(USER, "")},
    /* options, in Ollama's names and a fixed order */
    {"{'frequency_penalty':0.5,'stop':'END','max_tokens':100,'seed':42,'top_p':0.9,'temperature':0.25,"
     "'presence_penalty':-1,'top_k':40,'min_p':0.05,'messages':[" USER "]}",
     BODY(USER, ",'options':{'temperature':0.25,'top_p':0.9,'top_k':40,'min_p':0.05,'seed':42,"
          "'presence_penalty':-1,'frequency_penalty':0.5,'stop':['END'],'num_predict':100}")},
    /* temperature 0 is a value; max_completion_tokens wins over max_tokens; stop arrays */
    {"{'messages':[" USER "],'temperature':0,'max_tokens':5,'max_completion_tokens':7,'stop':['a','b']}",
     BODY(USER, ",'options':{'temperature':0,'stop':['a','b'],'num_predict':7}")},
    {"{'messages':[" USER "],'stop':[],'temperature':null}", BODY(USER, "")},
    /* thinking: reasoning_effort sets think; Ollama's own think and keep_alive pass */
    {"{'messages':[" USER "],'reasoning_effort':'low'}", BODY(USER, ",'think':true")},
    {"{'messages':[" USER "],'reasoning_effort':'none'}", BODY(USER, ",'think':false")},
    {"{'messages':[" USER "],'reasoning_effort':'high','think':'medium','keep_alive':'10m'}",
     BODY(USER, ",'think':'medium','keep_alive':'10m'")},
    /* defaults of fields Ollama has no equivalent for, and nulls */
    {"{'messages':[" USER "],'n':1,'logprobs':false,'top_logprobs':0,'logit_bias':{},"
     "'modalities':['text'],'audio':null,'prediction':null,'metadata':null}",
     BODY(USER, "")},
};
/* clang-format on */

START_TEST(build_translates)
{
    for (size_t i = 0; i < sizeof(BUILDS) / sizeof(BUILDS[0]); i++) {
        prov_http h;
        char err[256] = "";
        int rc = build_from(BUILDS[i].in, "http://h:11434", NULL, &h, err, sizeof(err));
        ck_assert_msg(rc == 0, "case %zu: rc %d (%s)", i, rc, err);
        ck_assert_msg(strcmp(h.body, dq(BUILDS[i].want)) == 0, "case %zu: got\n%s\nwant\n%s", i,
                      h.body, dq(BUILDS[i].want));
        prov_http_free(&h);
    }
}
END_TEST

typedef struct refusal {
    const char *in; /* the client's request */
    int rc;
    const char *msg; /* the reason, exactly */
} refusal;

/* clang-format off */
#define UNSUP PROV_BUILD_UNSUPPORTED
#define INVAL PROV_BUILD_INVALID
#define MSGS(m) "{'messages':[" m "]"
#define WITH(fields) MSGS(USER) "," fields "}"
#define PART(p) MSGS("{'role':'user','content':[{'type':'text','text':'x'}," p "]}") "}"
#define ARGS(a) MSGS("{'role':'assistant','tool_calls':[{'id':'c','function':{'name':'f','arguments':" a "}}]}") "}"

static const refusal REFUSALS[] = {
    /* content parts Ollama cannot take */
    {PART("{'type':'image_url','image_url':{'url':'https://example.com/cat.png'}}"), UNSUP,
     "messages[0].content[1].image_url: ollama takes images inline only (base64 data: URLs), not URLs"},
    {PART("{'type':'input_audio','input_audio':{'data':'AAA=','format':'wav'}}"), UNSUP,
     "messages[0].content[1]: ollama takes no input_audio part here"},
    {PART("{'type':'file','file':{'file_data':'data:application/pdf;base64,AAA='}}"), UNSUP,
     "messages[0].content[1]: ollama takes no file part here"},
    {MSGS("{'role':'system','content':[{'type':'image_url','image_url':{'url':'data:,QQ=='}}]}") "}", UNSUP,
     "messages[0].content[0]: ollama takes no image_url part here"},
    {PART("{'type':'image_url','image_url':{'url':'data:image/png,%89PNG'}}"), INVAL,
     "messages[0].content[1].image_url.url must be a base64 data: URL"},
    {PART("{'type':'image_url','image_url':{'url':'data:image/png;base64,a-b_'}}"), INVAL,
     "messages[0].content[1].image_url.url must be a base64 data: URL"},
    {PART("{'type':'image_url','image_url':{'url':'data:image/png;base64,'}}"), INVAL,
     "messages[0].content[1].image_url.url must be a base64 data: URL"},
    {PART("{'type':'image_url','image_url':{}}"), INVAL,
     "messages[0].content[1].image_url.url must be a string"},
    {PART("{'type':'text'}"), INVAL, "messages[0].content[1].text must be a string"},
    {PART("{'text':'x'}"), INVAL, "messages[0].content[1].type must be a string"},
    {MSGS("{'role':'user','content':7}") "}", INVAL,
     "messages[0].content must be a string, an array of parts or null"},
    /* messages */
    {MSGS("{'role':'function','name':'f','content':'x'}") "}", UNSUP,
     "messages[0].role: ollama has no function role"},
    {MSGS("{'role':'user','name':'ann','content':'x'}") "}", UNSUP,
     "messages[0].name: ollama has no equivalent"},
    {MSGS(USER ",{'role':'assistant','content':'x','audio':{'id':'a1'}}") "}", UNSUP,
     "messages[1].audio: ollama has no equivalent"},
    {MSGS("{'role':'user','content':'x','tool_calls':[]}") "}", UNSUP,
     "messages[0].tool_calls: ollama has no equivalent"},
    {MSGS(USER ",{'role':'assistant','content':'a','annotations':[{'type':'url_citation'}]}") "}", UNSUP,
     "messages[1].annotations: ollama has no equivalent"},
    {MSGS("7") "}", INVAL, "messages[0] must be an object"},
    {"{'messages':{}}", INVAL, "messages must be an array"},
    {"[1]", INVAL, "the request must be a JSON object"},
    /* assistant tool calls */
    {ARGS("'{\\'city\\':'"), INVAL, "messages[0].tool_calls[0].function.arguments is not a JSON object"},
    {ARGS("'[1,2]'"), INVAL, "messages[0].tool_calls[0].function.arguments is not a JSON object"},
    {ARGS("'{} {}'"), INVAL, "messages[0].tool_calls[0].function.arguments is not a JSON object"},
    {ARGS("3"), INVAL, "messages[0].tool_calls[0].function.arguments is not a JSON object"},
    {MSGS("{'role':'assistant','tool_calls':[{'type':'custom','custom':{'name':'f','input':'x'}}]}") "}",
     UNSUP, "messages[0].tool_calls[0].type: ollama takes function calls only"},
    {MSGS("{'role':'assistant','tool_calls':[{'function':{'arguments':'{}'}}]}") "}", INVAL,
     "messages[0].tool_calls[0].function.name must be a non-empty string"},
    {MSGS("{'role':'assistant','tool_calls':{}}") "}", INVAL, "messages[0].tool_calls must be an array"},
    {MSGS("{'role':'tool','tool_call_id':5,'content':'x'}") "}", INVAL,
     "messages[0].tool_call_id must be a string"},
    /* tools */
    {WITH("'tool_choice':'required'"), UNSUP, "tool_choice: ollama cannot force a tool call (auto or none)"},
    {WITH("'tool_choice':{'type':'function','function':{'name':'f'}}"), UNSUP,
     "tool_choice: ollama cannot force a tool call (auto or none)"},
    {WITH("'parallel_tool_calls':false"), UNSUP,
     "parallel_tool_calls: ollama cannot limit an answer to one tool call"},
    {WITH("'tools':[{'type':'custom','custom':{'name':'f'}}]"), UNSUP,
     "tools[0].type: ollama takes function tools only"},
    {WITH("'tools':[{'type':'function','function':{'name':'f','strict':true}}]"), UNSUP,
     "tools[0].function.strict: ollama does not hold calls to the schema"},
    {WITH("'tools':[{'type':'function','function':{'name':'f','parameters':[]}}]"), INVAL,
     "tools[0].function.parameters must be an object"},
    {WITH("'tools':[{'type':'function','function':{'name':''}}]"), INVAL,
     "tools[0].function.name must be a non-empty string"},
    {WITH("'tools':{}"), INVAL, "tools must be an array"},
    /* fields with no equivalent, beyond their defaults */
    {WITH("'n':2"), UNSUP, "n: ollama gives one choice per request (n must be 1)"},
    {WITH("'logit_bias':{'50256':-100}"), UNSUP, "logit_bias: ollama has no equivalent"},
    {WITH("'logprobs':true"), UNSUP, "logprobs: ollama has no equivalent"},
    {WITH("'top_logprobs':3"), UNSUP, "top_logprobs: ollama has no equivalent"},
    {WITH("'modalities':['text','audio']"), UNSUP, "modalities: ollama has no equivalent"},
    {WITH("'audio':{'voice':'alloy','format':'wav'}"), UNSUP, "audio: ollama has no equivalent"},
    {WITH("'prediction':{'type':'content','content':'x'}"), UNSUP, "prediction: ollama has no equivalent"},
    {WITH("'service_tier':'flex'"), UNSUP, "service_tier: ollama has no equivalent"},
    {WITH("'user':'u-1'"), UNSUP, "user: ollama has no equivalent"},
    {WITH("'web_search_options':{}"), UNSUP, "web_search_options: ollama has no equivalent"},
    {WITH("'x_custom':1,'n':3"), UNSUP, "x_custom: ollama has no equivalent"},
    /* a client's field name is made safe for the one-line reason */
    {WITH("'a\\nb\\u007fc':1"), UNSUP, "a?b?c: ollama has no equivalent"},
    {MSGS("{'role':'user','content':'x','n\\rm':1}") "}", UNSUP,
     "messages[0].n?m: ollama has no equivalent"},
    /* formats and options of the wrong shape */
    {WITH("'response_format':{'type':'json_schema','json_schema':{'name':'p'}}"), INVAL,
     "response_format.json_schema.schema must be an object"},
    {WITH("'response_format':{'type':'grammar'}"), UNSUP, "response_format.type: ollama has no grammar format"},
    {WITH("'response_format':{}"), INVAL, "response_format.type must be a string"},
    {WITH("'seed':1.5"), INVAL, "seed must be an integer"},
    {WITH("'top_p':'high'"), INVAL, "top_p must be a number"},
    {WITH("'max_tokens':0"), INVAL, "max_tokens must be a positive integer"},
    {WITH("'max_tokens':-5,'max_completion_tokens':5"), INVAL, "max_tokens must be a positive integer"},
    {WITH("'max_completion_tokens':2.5"), INVAL, "max_completion_tokens must be a positive integer"},
    {WITH("'stop':['a',1]"), INVAL, "stop must be a string or an array of strings"},
    {WITH("'reasoning_effort':1"), INVAL, "reasoning_effort must be a string"},
    {WITH("'think':1"), INVAL, "think must be a boolean or a string"},
    {WITH("'keep_alive':[]"), INVAL, "keep_alive must be a string or a number"},
};
/* clang-format on */

START_TEST(build_refuses)
{
    for (size_t i = 0; i < sizeof(REFUSALS) / sizeof(REFUSALS[0]); i++) {
        prov_http h;
        char err[256] = "";
        int rc = build_from(REFUSALS[i].in, "http://h:11434", "k", &h, err, sizeof(err));
        ck_assert_msg(rc == REFUSALS[i].rc, "case %zu: rc %d, want %d (%s)", i, rc, REFUSALS[i].rc,
                      err);
        ck_assert_msg(strcmp(err, REFUSALS[i].msg) == 0, "case %zu: got\n%s\nwant\n%s", i, err,
                      REFUSALS[i].msg);
        expect_http_empty(&h);
    }
}
END_TEST

/* A reason longer than err is cut, still NUL-terminated; no err at all is fine. */
START_TEST(build_refusal_fits_err)
{
    prov_http h;
    char err[8];
    ck_assert_int_eq(build_from(WITH("'n':2"), NULL, NULL, &h, err, sizeof(err)), UNSUP);
    ck_assert_str_eq(err, "n: olla");
    ck_assert_int_eq(build_from(WITH("'n':2"), NULL, NULL, &h, NULL, 0), UNSUP);
    expect_http_empty(&h);
}
END_TEST

/* cJSON allocations fail from the budget's end on. */
static long alloc_budget;

static void *budget_malloc(size_t n)
{
    return alloc_budget-- > 0 ? malloc(n) : NULL;
}

/* With memory running out at each allocation in turn, build fails with NOMEM (nothing
 * left behind: the sanitizer and valgrind runs see leaks) until it has enough. */
START_TEST(build_out_of_memory)
{
    chat_req req = {0};
    req.root = cJSON_Parse(
        dq("{'messages':[{'role':'system','content':'s'},{'role':'user','content':[{'type':'text',"
           "'text':'a'},{'type':'image_url','image_url':{'url':'data:;base64,QQ=='}}]},"
           "{'role':'assistant','reasoning_content':'r','tool_calls':[{'id':'c','function':"
           "{'name':'f','arguments':{'x':[1]}}},{'function':{'name':'g','arguments':''}}]},"
           "{'role':'tool','tool_call_id':'c','content':'ok'}],'tools':[{'type':'function',"
           "'function':{'name':'f'}}],'response_format':{'type':'json_schema','json_schema':"
           "{'schema':{'type':'object'}}},'reasoning_effort':'low','keep_alive':0,'stop':'x',"
           "'temperature':1,'max_tokens':9}"));
    ck_assert_ptr_nonnull(req.root);
    cJSON_Hooks hooks = {budget_malloc, free};
    int rc = PROV_BUILD_NOMEM;
    long n;
    for (n = 0; rc != 0 && n < 1000; n++) {
        prov_http h;
        char err[256] = "";
        alloc_budget = n;
        cJSON_InitHooks(&hooks);
        rc = prov_ollama.build(&req, NULL, NULL, "m", &h, err, sizeof(err));
        cJSON_InitHooks(NULL);
        ck_assert_msg(rc == 0 || rc == PROV_BUILD_NOMEM, "budget %ld: rc %d (%s)", n, rc, err);
        if (rc == 0)
            prov_http_free(&h);
        expect_http_empty(&h);
    }
    ck_assert_int_eq(rc, 0);
    ck_assert_int_gt(n, 20); /* many allocations were made to fail on the way */
    cJSON_Delete(req.root);
}
END_TEST

START_TEST(build_request_without_json)
{
    chat_req req = {0};
    prov_http h;
    char err[256];
    ck_assert_int_eq(prov_ollama.build(&req, NULL, NULL, "m", &h, err, sizeof(err)), INVAL);
    ck_assert_str_eq(err, "the request must be a JSON object");
    expect_http_empty(&h);
}
END_TEST

START_TEST(build_url_and_headers)
{
    prov_http h;
    ck_assert_int_eq(build_from(MSGS(USER) "}", "http://10.0.0.2:11434/", "proxy-key", &h, NULL, 0),
                     0);
    ck_assert_str_eq(h.url, "http://10.0.0.2:11434/api/chat");
    ck_assert_uint_eq(count_headers(h.headers, NULL), 2);
    ck_assert_uint_eq(count_headers(h.headers, "Content-Type: application/json"), 1);
    ck_assert_uint_eq(count_headers(h.headers, "Authorization: Bearer proxy-key"), 1);
    ck_assert_ptr_null(strstr(h.body, "proxy-key"));
    cJSON *b = body_of(&h);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(b, "stream")));
    cJSON_Delete(b);
    prov_http_free(&h);
    expect_http_empty(&h);

    /* no key: no Authorization; no base URL, or an empty one: Ollama's default */
    ck_assert_int_eq(build_from(MSGS(USER) "}", NULL, NULL, &h, NULL, 0), 0);
    ck_assert_str_eq(h.url, "http://127.0.0.1:11434/api/chat");
    ck_assert_uint_eq(count_headers(h.headers, NULL), 1);
    prov_http_free(&h);
    ck_assert_int_eq(build_from(MSGS(USER) "}", "", "", &h, NULL, 0), 0);
    ck_assert_str_eq(h.url, "http://127.0.0.1:11434/api/chat");
    ck_assert_uint_eq(count_headers(h.headers, "Authorization"), 0);
    prov_http_free(&h);
    prov_http_free(&h); /* twice is harmless */
}
END_TEST

START_TEST(build_rejects_key_with_control_chars)
{
    prov_http h;
    ck_assert_int_eq(build_from(MSGS(USER) "}", "http://h", "k\r\nX-Evil: 1", &h, NULL, 0), -1);
    expect_http_empty(&h);
    ck_assert_int_eq(build_from(MSGS(USER) "}", "http://h", "k\n", &h, NULL, 0), -1);
    expect_http_empty(&h);
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
    tcase_add_test(tc, one_tool_call);
    tcase_add_test(tc, two_tool_calls_in_one_chunk);
    tcase_add_test(tc, tool_calls_in_separate_chunks);
    tcase_add_test(tc, text_then_tool_call);
    tcase_add_test(tc, tool_call_without_arguments);
    tcase_add_test(tc, tool_call_ids);
    tcase_add_test(tc, tool_call_finish_reasons);
    tcase_add_test(tc, tool_call_oddities_skipped);
    tcase_add_test(tc, tool_call_sink_stops);
    tcase_add_test(tc, tool_calls_capped);
    tcase_add_test(tc, build_translates);
    tcase_add_test(tc, build_refuses);
    tcase_add_test(tc, build_refusal_fits_err);
    tcase_add_test(tc, build_out_of_memory);
    tcase_add_test(tc, build_request_without_json);
    tcase_add_test(tc, build_url_and_headers);
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
