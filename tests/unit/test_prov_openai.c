/* Tests for prov_openai: request building, error reasons, and stream reading with real
 * OpenAI-format bodies fed whole, byte by byte and in random splits (fixed seeds); every
 * split must give the same sink calls and the same result. */
#include <check.h>
#include <cjson/cJSON.h>
#include <string.h>

#include "prov_openai.h"
#include "req.h"
#include "store.h"

#define CHECK_PROV prov_openai
#include "prov_check.h"

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
    expect_sink_stops(OPENAI_STREAM, sizeof(OPENAI_STREAM) - 1, "data: [DONE]\n\n", 4);
}
END_TEST

START_TEST(too_long)
{
    expect_too_long("data: ", "");
}
END_TEST

/* ---- the tree-free reading of a chunk against the cJSON tree ---- */

/* data as a stream: each of its lines (CR, LF or CRLF ends) a "data:" line, then a blank
 * line; malloc'd. The reader joins the lines with LF, the same JSON outside strings. */
static char *as_stream(const char *data)
{
    size_t n = strlen(data);
    char *out = malloc(8 * n + 16), *o = out;
    ck_assert_ptr_nonnull(out);
    o += sprintf(o, "data: ");
    for (const char *p = data; *p; p++) {
        if (*p == '\r' || *p == '\n') {
            if (*p == '\r' && p[1] == '\n')
                p++;
            o += sprintf(o, "\ndata: ");
        } else {
            *o++ = *p;
        }
    }
    strcpy(o, "\n\n");
    return out;
}

/* One chunk both ways with a sink stopping at call stop_at (0: never): the tree's result,
 * its calls in *tree; the fast reading, when it takes the chunk (its return, in *took),
 * made the same calls with the same result, and none when it left it to the tree. */
static int both_ways(const char *data, int stop_at, rec *tree, int *took)
{
    rec fast = {.stop_at = stop_at};
    *tree = (rec){.stop_at = stop_at};
    prov_sink kf = {&fast,    on_text, on_reasoning, on_finish,   on_usage,
                    on_error, on_end,  on_tool,      on_tool_args};
    prov_sink kt = kf;
    kt.ctx = tree;
    int rc_fast = 0;
    *took = prov_openai_chunk_fast(&kf, data, strlen(data), &rc_fast);
    int rc = prov_openai_chunk_tree(&kt, data, strlen(data));
    if (*took) {
        ck_assert_int_eq(rc_fast, rc);
        ck_assert_str_eq(fast.s, tree->s);
    } else {
        ck_assert_int_eq(fast.calls, 0);
    }
    return rc;
}

/* data, a chunk's JSON: read without a tree when fast says so, else by the tree; either
 * way the sink calls want and the result want_rc, alike with every sink stop and as a
 * stream in every split. */
static void expect_chunk(const char *data, int fast, const char *want, int want_rc)
{
    rec r;
    int took;
    ck_assert_int_eq(both_ways(data, 0, &r, &took), want_rc);
    ck_assert_msg(took == fast, "%s: fast reading took it: %d", data, took);
    ck_assert_str_eq(r.s, want);
    for (int stop = 1; stop <= r.calls; stop++)
        ck_assert_int_eq(both_ways(data, stop, &r, &took), 42);
    char *in = as_stream(data);
    expect_rc(in, want, want_rc);
    free(in);
}

/* clang-format off */
START_TEST(fast_common_chunks)
{
    expect_chunk("{\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\","
                 "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"logprobs\":null,"
                 "\"finish_reason\":null}]}", 1, "text:Hel\n", 0);
    expect_chunk("{\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\","
                 "\"refusal\":null}}],\"usage\":null}", 1, "", 0);
    expect_chunk("{\"choices\":[{\"delta\":{\"reasoning_content\":\"hm\",\"reasoning\":\"no\","
                 "\"content\":\"A\"},\"finish_reason\":\"stop\"}]}", 1,
                 "reasoning:hm\ntext:A\nfinish:stop\n", 0);
    expect_chunk("{\"choices\":[{\"delta\":{\"reasoning_content\":\"\",\"reasoning\":\"vllm\"}}]}",
                 1, "reasoning:vllm\n", 0);
    expect_chunk("{\"choices\":[{\"delta\":{\"reasoning_content\":1,\"reasoning\":\"r\"}}]}",
                 1, "reasoning:r\n", 0);
    expect_chunk("{\"choices\":[{\"delta\":{},\"finish_reason\":\"length\"}]}", 1,
                 "finish:length\n", 0);
    expect_chunk("{\"error\":null,\"choices\":[{\"delta\":{\"content\":\"e\"}}],\"usage\":5}", 1,
                 "text:e\n", 0);
    expect_chunk("{}", 1, "", 0);
}
END_TEST

START_TEST(fast_unescapes)
{
    expect_chunk("{\"choices\":[{\"delta\":{\"content\":\"a\\n\\\"q\\\" \\u00e9\\ud83d\\ude00"
                 "\\uE000\\/\\t\\\\\"},\"finish_reason\":\"st\\u006fp\"}]}", 1,
                 "text:a\n\"q\" \xc3\xa9\xf0\x9f\x98\x80\xee\x80\x80/\t\\\nfinish:stop\n", 0);
    expect_chunk("{\"choices\":[{\"delta\":{\"reasoning\":\"\\u65e5\xe6\x9c\xac\"}}]}", 1,
                 "reasoning:\xe6\x97\xa5\xe6\x9c\xac\n", 0);
    expect_chunk("{\"ch\\u006fices\":[{\"d\\u0065lta\":{\"c\\u006fntent\":\"k\"}}]}", 1,
                 "text:k\n", 0);
    expect_chunk("{\"choices\":[{\"delta\":{\"content\\n\":\"no\",\"Content\":\"no\"}}]}", 1,
                 "", 0);
}
END_TEST

START_TEST(fast_first_of_repeated_names)
{
    expect_chunk("{\"choices\":[{\"delta\":{\"content\":\"1\",\"content\":\"2\"}}],"
                 "\"choices\":[{\"delta\":{\"content\":\"3\"}}]}", 1, "text:1\n", 0);
    expect_chunk("{\"choices\":[{\"delta\":{},\"delta\":{\"content\":\"no\"}}]}", 1, "", 0);
    expect_chunk("{\"choices\":[{\"finish_reason\":null,\"finish_reason\":\"stop\"}]}", 1, "", 0);
    expect_chunk("{\"choices\":5,\"choices\":[{\"delta\":{\"content\":\"no\"}}]}", 1, "", 0);
    expect_chunk("{\"choices\":[{\"delta\":{\"content\":\"\",\"content\":\"no\"}}]}", 1, "", 0);
}
END_TEST

START_TEST(fast_shapes_that_report_nothing)
{
    expect_chunk("{\"choices\":[{\"delta\":{\"content\":7,\"reasoning\":[\"r\"],"
                 "\"reasoning_content\":null},\"finish_reason\":true}]}", 1, "", 0);
    expect_chunk("{\"choices\":[{\"delta\":{}},{\"delta\":{\"content\":\"second\"}}]}", 1, "", 0);
    expect_chunk("{\"choices\":{\"0\":{\"delta\":{\"content\":\"x\"}}}}", 1, "", 0);
    expect_chunk("{\"choices\":[\"x\",{\"delta\":{\"content\":\"y\"}}]}", 1, "", 0);
    expect_chunk("{\"choices\":[{\"delta\":[{\"content\":\"y\"}]}]}", 1, "", 0);
    expect_chunk("{\"choices\":[[{\"delta\":{\"content\":\"y\"}}]]}", 1, "", 0);
    expect_chunk("{\"delta\":{\"content\":\"top\"},\"content\":\"top\"}", 1, "", 0);
}
END_TEST

START_TEST(fast_white_space_everywhere)
{
    expect_chunk(" \t\r\n{ \"choices\" :\t[ { \"delta\" : { \"content\" :\n\"w\" } ,\r\n"
                 "\"finish_reason\" : \"length\" }\t] , \"usage\" : null } \n", 1,
                 "text:w\nfinish:length\n", 0);
}
END_TEST

/* What the fast reading leaves to the tree, and what the tree makes of it. */
START_TEST(fast_leaves_the_rest)
{
    expect_chunk("{\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":12}}", 0,
                 "usage:9,12\n", 0);
    expect_chunk("{\"error\":{\"message\":\"boom\",\"type\":\"server_error\"}}", 0,
                 "error:server_error|boom\n", 0);
    expect_chunk("{\"error\":false}", 0, "error:upstream_error|{\"error\":false}\n", 0);
    /* cJSON refuses a lone surrogate anywhere */
    expect_chunk("{\"choices\":[{\"delta\":{\"content\":\"\\ud83d\"}}]}", 0, "", PROV_ERR_PARSE);
    expect_chunk("{\"id\":\"\\ude00\",\"choices\":[{\"delta\":{\"content\":\"x\"}}]}", 0, "",
                 PROV_ERR_PARSE);
    /* cJSON's C string ends at \u0000 */
    expect_chunk("{\"choices\":[{\"delta\":{\"content\":\"a\\u0000b\"}}]}", 0, "text:a\n", 0);
    expect_chunk("{\"choices\":[{\"delta\":{\"content\":\"\\u0000b\"}}]}", 0, "", 0);
    /* what cJSON lets through and jsonv does not */
    expect_chunk("{\"choices\":[{\"delta\":{\"content\":\"a\"}}],\"n\":01}", 0, "text:a\n", 0);
    expect_chunk("{\"choices\":[{\"delta\":{\"content\":\"t\\x\"}}]}", 0, "", PROV_ERR_PARSE);
    expect_chunk("{\"choices\":[{\"delta\":{\"content\":\"tab\there\"}}]}", 0,
                 "text:tab\there\n", 0);
    expect_chunk("{\"choices\":[{\"delta\":{\"content\":\"n\"}}],\"x\":"
                 "1111111111111111111111111111111111111111111111111111111111111111111111}", 0,
                 "text:n\n", 0);
    expect_chunk("[{\"choices\":[]}]", 0, "", PROV_ERR_PARSE);
    expect_chunk("{\"choices\":[]} x", 0, "", PROV_ERR_PARSE);
    expect_chunk("{\"choices\":[", 0, "", PROV_ERR_PARSE);
}
END_TEST
/* clang-format on */

/* "{...content: <value>...}" with value made of n copies of piece; malloc'd. */
static char *content_chunk(const char *piece, size_t n, const char *reasoning)
{
    size_t pn = strlen(piece), rn = strlen(reasoning);
    char *s = malloc(pn * n + rn + 128), *o = s;
    ck_assert_ptr_nonnull(s);
    o += sprintf(o, "{\"choices\":[{\"delta\":{\"reasoning\":\"%s\",\"content\":\"", reasoning);
    for (size_t i = 0; i < n; i++, o += pn)
        memcpy(o, piece, pn);
    strcpy(o, "\"},\"finish_reason\":\"stop\"}]}");
    return s;
}

/* Unescaped strings share a 4 KiB scratch; a chunk needing more goes to the tree, and
 * strings without escapes need none. */
START_TEST(fast_scratch_cap)
{
    struct {
        const char *piece;
        size_t n;
        const char *reasoning;
        int fast;
    } cases[] = {
        {"x", 10000, "r", 1},      /* in place, any length */
        {"\\u00e9", 2040, "r", 1}, /* 4080 bytes and a NUL, then "stop" and a NUL: 4086 */
        {"\\u00e9", 2047, "r", 0}, /* 4094 and a NUL: no room left for "stop" */
        {"x\\n", 2100, "r", 0},    /* 4200 bytes */
        {"\\n", 2000, "\\n", 1},   /* 2 + 2001 + 5 bytes */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *data = content_chunk(cases[i].piece, cases[i].n, cases[i].reasoning);
        rec r;
        int took;
        ck_assert_int_eq(both_ways(data, 0, &r, &took), 0);
        ck_assert_msg(took == cases[i].fast, "case %zu: took %d", i, took);
        ck_assert_int_eq(r.calls, 3);
        free(data);
    }
}
END_TEST

/* ---- tool calls ---- */

/* s with every ' made " (chunks written readably: \\' is an escaped quote); malloc'd. */
static char *Q(const char *s)
{
    char *o = strdup(s);
    ck_assert_ptr_nonnull(o);
    for (char *p = o; *p; p++)
        if (*p == '\'')
            *p = '"';
    return o;
}

/* expect_rc with both written as Q reads them. */
static void expect_q(const char *in, const char *want, int want_rc)
{
    char *i = Q(in), *w = Q(want);
    expect_rc(i, w, want_rc);
    free(i);
    free(w);
}

/* A call's first entry as OpenAI streams it, and a fragment of its arguments. */
#define START(i, id, name, args)                                                                   \
    "{'index':" #i ",'id':'" id "','type':'function','function':{'name':'" name "','arguments':'" \
    args "'}}"
#define FRAG(i, args) "{'index':" #i ",'function':{'arguments':'" args "'}}"
#define CALLS(...) "{'tool_calls':[" __VA_ARGS__ "]}"
#define TOOL_CHUNK(delta, finish) "data: {'choices':[{'index':0,'delta':" delta \
    ",'finish_reason':" finish "}]}\n\n"
#define TOOL_USAGE "data: {'choices':[],'usage':{'prompt_tokens':5,'completion_tokens':7}}\n\n"

/* clang-format off */
START_TEST(tool_call_single)
{
    expect_q(TOOL_CHUNK("{'role':'assistant','content':null,'tool_calls':["
                        START(0, "call_abc", "get_weather", "") "],'refusal':null}", "null")
             TOOL_CHUNK(CALLS(FRAG(0, "{\\'")), "null")
             TOOL_CHUNK(CALLS(FRAG(0, "city")), "null")
             TOOL_CHUNK(CALLS(FRAG(0, "\\':\\'Z\xC3\xBCrich \\\\\\'\\\\u00e9\\\\\\' \\u00e9 "
                                      "\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB "
                                      "\\ud83d\\ude00 \xE6\x97\xA5")), "null")
             TOOL_CHUNK(CALLS(FRAG(0, "")), "null")
             TOOL_CHUNK(CALLS(FRAG(0, "\\'}")), "null")
             TOOL_CHUNK("{}", "'tool_calls'")
             TOOL_USAGE
             "data: [DONE]\n\n",
             "tool:0|call_abc get_weather\n"
             "args:0|{'\n"
             "args:0|city\n"
             "args:0|':'Z\xC3\xBCrich \\'\\u00e9\\' \xC3\xA9 "
             "\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB \xF0\x9F\x98\x80 \xE6\x97\xA5\n"
             "args:0|'}\n"
             "finish:tool_calls\n"
             "usage:5,7\n"
             "end:\n", 0);
}
END_TEST

/* Two calls, the second started before the first is complete; a first entry's non-empty
 * arguments are a fragment too. */
START_TEST(tool_calls_parallel_interleaved)
{
    expect_q(TOOL_CHUNK("{'role':'assistant','content':null}", "null")
             TOOL_CHUNK(CALLS(START(0, "call_A", "alpha", "{\\'x\\'")), "null")
             TOOL_CHUNK(CALLS(START(1, "call_B", "beta", "")), "null")
             TOOL_CHUNK(CALLS(FRAG(1, "{\\'y\\':")), "null")
             TOOL_CHUNK(CALLS(FRAG(0, ":1")), "null")
             TOOL_CHUNK(CALLS(FRAG(1, "2}")), "null")
             TOOL_CHUNK(CALLS(FRAG(0, "}")), "null")
             TOOL_CHUNK(CALLS(START(2, "call_C", "gamma", "{}")), "'tool_calls'")
             "data: [DONE]\n\n",
             "tool:0|call_A alpha\nargs:0|{'x'\n"
             "tool:1|call_B beta\nargs:1|{'y':\n"
             "args:0|:1\nargs:1|2}\nargs:0|}\n"
             "tool:2|call_C gamma\nargs:2|{}\n"
             "finish:tool_calls\nend:\n", 0);
}
END_TEST

START_TEST(tool_calls_with_text)
{
    expect_q(TOOL_CHUNK("{'role':'assistant','content':''}", "null")
             TOOL_CHUNK("{'content':'Let me check.'}", "null")
             TOOL_CHUNK(CALLS(START(0, "c0", "f", "")), "null")
             TOOL_CHUNK(CALLS(FRAG(0, "{}")), "null")
             TOOL_CHUNK("{'content':' and \xE6\x97\xA5'}", "null")
             TOOL_CHUNK(CALLS(START(1, "c1", "g", "[1]")), "null")
             TOOL_CHUNK("{'content':' done.'}", "'tool_calls'")
             TOOL_USAGE
             "data: [DONE]\n\n",
             "text:Let me check.\n"
             "tool:0|c0 f\nargs:0|{}\n"
             "text: and \xE6\x97\xA5\n"
             "tool:1|c1 g\nargs:1|[1]\n"
             "text: done.\n"
             "finish:tool_calls\nusage:5,7\nend:\n", 0);
}
END_TEST

/* Reasoning, text and calls in one chunk keep that order; two calls in one entry list; an
 * id sent again with a call's fragment starts nothing new. */
START_TEST(tool_calls_in_one_chunk)
{
    expect_q(TOOL_CHUNK("{'reasoning_content':'hm','content':'Hi','tool_calls':["
                        START(0, "c0", "f", "{") "," START(1, "c1", "g", "") "]}", "null")
             TOOL_CHUNK("{'tool_calls':[{'index':0,'id':'c0','type':'function',"
                        "'function':{'arguments':'}'}}," FRAG(1, "[]") "]}", "'tool_calls'")
             TOOL_CHUNK("{'tool_calls':null,'content':'!'}", "null")
             TOOL_CHUNK("{'tool_calls':[]}", "null")
             TOOL_CHUNK("{'tool_calls':[{'index':3}]}", "null")
             TOOL_CHUNK(CALLS(START(127, "last", "h", "")), "null"),
             "reasoning:hm\ntext:Hi\ntool:0|c0 f\nargs:0|{\ntool:1|c1 g\n"
             "args:0|}\nargs:1|[]\nfinish:tool_calls\ntext:!\ntool:127|last h\n", 0);
}
END_TEST

/* What no call may look like: a parse error, after what came before it. */
START_TEST(tool_calls_malformed)
{
    static const char *const bad[] = {
        CALLS(FRAG(0, "{")),                                  /* arguments before the start */
        CALLS(START(0, "c", "f", "") "," FRAG(1, "x")),
        CALLS(START(128, "c", "f", "")),                      /* index out of range */
        CALLS(START(-1, "c", "f", "")),
        CALLS(START(1.5, "c", "f", "")),
        CALLS("{'index':'0','id':'c','type':'function','function':{'name':'f'}}"),
        CALLS("{'id':'c','type':'function','function':{'name':'f','arguments':''}}"),
        CALLS("{'index':0,'id':'c','type':'function','function':{'arguments':'{}'}}"),
        CALLS("{'index':0,'type':'function','function':{'name':'f'}}"), /* no id */
        CALLS("{'index':0,'id':'c','type':'function','function':{'name':'f','arguments':{}}}"),
        CALLS("7"),
        "{'tool_calls':{'index':0}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char in[1024];
        snprintf(in, sizeof(in), TOOL_CHUNK("{'content':'a'}", "null") TOOL_CHUNK("%s", "null")
                 TOOL_CHUNK("{'content':'b'}", "null"), bad[i]);
        int n = strcmp(bad[i], CALLS(START(0, "c", "f", "") "," FRAG(1, "x"))) == 0;
        expect_q(in, n ? "text:a\ntool:0|c f\n" : "text:a\n", PROV_ERR_PARSE);
    }
}
END_TEST

/* A chunk with tool calls is the tree's, read alike alone and in a stream. */
START_TEST(tool_calls_leave_the_fast_reading)
{
    static const struct {
        const char *data;
        int fast;
        const char *want;
        int rc;
    } cases[] = {
        {"{'choices':[{'delta':" CALLS(START(0, "c", "f", "{}")) "}]}", 0,
         "tool:0|c f\nargs:0|{}\n", 0},
        {"{'choices':[{'delta':{'content':'x','tool_calls':[" START(0, "c", "f", "")
         "]},'finish_reason':'tool_calls'}]}", 0, "text:x\ntool:0|c f\nfinish:tool_calls\n", 0},
        {"{'choices':[{'delta':{'content':'x','tool_calls':[]}}]}", 0, "text:x\n", 0},
        {"{'choices':[{'delta':{'content':'x','tool_calls':null}}]}", 1, "text:x\n", 0},
        {"{'choices':[{'delta':{'content':'x','tool_calls':5}}]}", 0, "text:x\n", PROV_ERR_PARSE},
        {"{'choices':[{'delta':" CALLS(FRAG(0, "{}")) "}]}", 0, "", PROV_ERR_PARSE},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *d = Q(cases[i].data), *w = Q(cases[i].want);
        expect_chunk(d, cases[i].fast, w, cases[i].rc);
        free(d);
        free(w);
    }
}
END_TEST
/* clang-format on */

_Static_assert(LIM_TOOLS == STREAM_TOOLS_MAX, "one cap on an answer's tool calls");

/* ---- build ---- */

/* body parsed by req_parse (OpenAI's flavour) into *req; the caller frees it. */
static void request(const char *body, chat_req *req)
{
    char err[256] = "";
    ck_assert_msg(req_parse(body, strlen(body), REQ_OPENAI, NULL, req, err, sizeof(err)) == 0,
                  "%s", err);
}

/* The whole OpenAI request: every field goes upstream as the client sent it, unknown ones
 * included; only model, stream and stream_options are chatd's. */
#define W_MESSAGES                                                                                 \
    "\"messages\":["                                                                               \
    "{\"role\":\"developer\",\"content\":\"Be brief.\"},"                                          \
    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Caf\xC3\xA9?\"},"               \
    "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBO\"}}]},"           \
    "{\"role\":\"assistant\",\"content\":null,\"reasoning_content\":\"hm\",\"tool_calls\":"        \
    "[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"f\","                      \
    "\"arguments\":\"{\\\"a\\\":\\\"\\u00e9\\\"}\"}}]},"                                           \
    "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"42\"}]"
#define W_REST                                                                                     \
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":"               \
    "{\"type\":\"object\",\"properties\":{}}}}],\"tool_choice\":\"auto\","                         \
    "\"parallel_tool_calls\":false,\"response_format\":{\"type\":\"json_object\"},"                \
    "\"stop\":[\"END\"],\"seed\":1234567890123456789,\"top_p\":0.25,\"temperature\":0.50,"         \
    "\"max_tokens\":1e2,\"max_completion_tokens\":50,\"frequency_penalty\":0.5,"                   \
    "\"presence_penalty\":-0.5,\"logit_bias\":{\"50256\":-100},\"user\":\"\\u00e9\\/\","           \
    "\"metadata\":{\"k\":\"v\"},\"n\":1,\"x_unknown\":{\"deep\":[1,\"two\",null,true]},"           \
    "\"x_big\":12345678901234567890,\"x_float\":1.10,\"x_dup\":1,\"x_dup\":[2]"
static const char WHOLE[] = "{\"model\":\"client-model\"," W_MESSAGES
                            ",\"stream\":false,\"stream_options\":{\"include_usage\":false,"
                            "\"include_obfuscation\":false}," W_REST "}";

START_TEST(build_passes_the_request_through)
{
    chat_req req;
    request(WHOLE, &req);
    prov_http h;
    ck_assert_int_eq(
        prov_openai.build(&req, "http://127.0.0.1:9/v1//", "sk-test-123", "m1", &h, NULL, 0), 0);
    ck_assert_str_eq(h.url, "http://127.0.0.1:9/v1/chat/completions");
    ck_assert_uint_eq(count_headers(h.headers, NULL), 3);
    ck_assert_uint_eq(count_headers(h.headers, "Content-Type: application/json"), 1);
    ck_assert_uint_eq(count_headers(h.headers, "Accept: text/event-stream"), 1);
    ck_assert_uint_eq(count_headers(h.headers, "Authorization: Bearer sk-test-123"), 1);
    ck_assert_ptr_null(strstr(h.body, "sk-test"));
    ck_assert_ptr_null(strstr(h.url, "sk-test"));
    /* the rest is the client's, byte for byte and in its order; chatd's three after it */
    ck_assert_str_eq(h.body, "{" W_MESSAGES "," W_REST ",\"model\":\"m1\",\"stream\":true,"
                             "\"stream_options\":{\"include_obfuscation\":false,"
                             "\"include_usage\":true}}");
    cJSON *b = body_of(&h); /* and it is JSON */
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(b, "stream")));
    cJSON_Delete(b);
    prov_http_free(&h);
    expect_http_empty(&h);
    req_free(&req);
}
END_TEST

/* Each body's upstream text (model "m"). */
static void expect_body(const char *body, const char *want)
{
    chat_req req;
    request(body, &req);
    prov_http h;
    ck_assert_int_eq(prov_openai.build(&req, "http://h", NULL, "m", &h, NULL, 0), 0);
    ck_assert_str_eq(h.body, want);
    prov_http_free(&h);
    req_free(&req);
}

#define MSGS "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]"
#define OURS(so)                                                                                   \
    ",\"model\":\"m\",\"stream\":true,\"stream_options\":{" so "\"include_usage\":true}}"

/* Numbers, escapes and nested white space as the client wrote them; names chatd does not
 * read may repeat. */
#define KEPT                                                                                       \
    "\"seed\":12,\"big\":12345678901234567890,\"f\":1.10,\"e\":1e2,\"E\":-0.5E-3,"                 \
    "\"s\":\"\\u00e9\\ud83d\\ude00\\/\",\"\\u0078\":{ \"a\" : [ 1 ,2 ] }"
START_TEST(build_keeps_the_client_text)
{
    expect_body("{" MSGS "," KEPT "}", "{" MSGS "," KEPT OURS(""));
    expect_body("{\"z\":1,\"a\":2,\"z\":3," MSGS ",\"a\":[4]}",
                "{\"z\":1,\"a\":2,\"z\":3," MSGS ",\"a\":[4]" OURS(""));
    expect_body(" {\n\t\"b\" : true ,\r\n " MSGS " \n}\n ", "{\"b\":true," MSGS OURS(""));
}
END_TEST

/* model, stream and stream_options leave wherever they stand, by name unescaped; chatd's
 * follow the rest. stream_options keeps the client's members but include_usage. */
START_TEST(build_replaces_chatds_members)
{
    expect_body("{\"model\":\"a\"," MSGS "}", "{" MSGS OURS(""));
    expect_body("{\"stream\":false," MSGS ",\"x\":0}", "{" MSGS ",\"x\":0" OURS(""));
    expect_body("{" MSGS ",\"stream_options\":null}", "{" MSGS OURS(""));
    expect_body("{\"mod\\u0065l\":\"a\"," MSGS ",\"\\u0073tream\":false}", "{" MSGS OURS(""));
    expect_body("{\"stream_options\":{\"x\":1.10,\"include_usage\":false,\"y\":[1e2]}," MSGS
                ",\"stream\":true,\"model\":\"q\",\"modelx\":1}",
                "{" MSGS ",\"modelx\":1" OURS("\"x\":1.10,\"y\":[1e2],"));
    expect_body("{\"stream_options\":{\"include_\\u0075sage\":false}," MSGS "}", "{" MSGS OURS(""));
    expect_body("{\"stream_options\":{}," MSGS "}", "{" MSGS OURS(""));
    /* the model is chatd's, written as a JSON string whatever it holds */
    chat_req req;
    request("{" MSGS "}", &req);
    char model[301];
    memset(model, '\x01', 300);
    model[300] = '\0';
    prov_http h;
    ck_assert_int_eq(prov_openai.build(&req, "http://h", NULL, model, &h, NULL, 0), 0);
    cJSON *b = body_of(&h);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(b, "model")), model);
    cJSON_Delete(b);
    prov_http_free(&h);
    req_free(&req);
}
END_TEST

/* chatd's three fields where the client left them out (at the end). */
START_TEST(build_minimal)
{
    chat_req req;
    request("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", &req);
    prov_http h;
    ck_assert_int_eq(prov_openai.build(&req, "http://h/v1", "", "llama3", &h, NULL, 0), 0);
    ck_assert_str_eq(h.url, "http://h/v1/chat/completions");
    ck_assert_uint_eq(count_headers(h.headers, NULL), 2);
    ck_assert_uint_eq(count_headers(h.headers, "Authorization"), 0);
    ck_assert_str_eq(h.body, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                             "\"model\":\"llama3\",\"stream\":true,"
                             "\"stream_options\":{\"include_usage\":true}}");
    prov_http_free(&h);
    prov_http_free(&h); /* twice is harmless */
    req_free(&req);
}
END_TEST

/* A request with no text of its own (only a tree): the tree printed, chatd's three fields
 * in place of the first of each name, the others dropped. */
START_TEST(build_from_a_tree)
{
    chat_req req = {.n = 1};
    req.root = cJSON_Parse("{\"model\":\"a\",\"stream\":false,\"messages\":[{\"role\":\"user\","
                           "\"content\":\"hi\"}],\"model\":\"b\",\"stream_options\":{\"x\":1},"
                           "\"stream\":false}");
    ck_assert_ptr_nonnull(req.root);
    prov_http h;
    ck_assert_int_eq(prov_openai.build(&req, NULL, NULL, "m", &h, NULL, 0), 0);
    ck_assert_str_eq(h.url, "https://api.openai.com/v1/chat/completions");
    ck_assert_str_eq(h.body, "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\","
                             "\"content\":\"hi\"}],\"stream_options\":{\"x\":1,"
                             "\"include_usage\":true}}");
    prov_http_free(&h);
    cJSON_Delete(req.root);
}
END_TEST

START_TEST(build_refuses_more_than_one_choice)
{
    chat_req req;
    request("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"n\":2}", &req);
    prov_http h;
    char err[128] = "";
    ck_assert_int_eq(prov_openai.build(&req, "http://h", "k", "m", &h, err, sizeof(err)),
                     PROV_BUILD_UNSUPPORTED);
    ck_assert_str_eq(err, "n: chatd streams a single choice (n must be 1)");
    expect_http_empty(&h);
    req_free(&req);
    request("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"n\":1}", &req);
    ck_assert_int_eq(prov_openai.build(&req, "http://h", "k", "m", &h, err, sizeof(err)), 0);
    ck_assert_ptr_nonnull(strstr(h.body, "\"n\":1"));
    prov_http_free(&h);
    req_free(&req);
}
END_TEST

START_TEST(build_rejects_key_with_newline)
{
    chat_req req;
    request("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", &req);
    prov_http h;
    ck_assert_int_eq(prov_openai.build(&req, "http://h", "sk\r\nX-Evil: 1", "m", &h, NULL, 0), -1);
    expect_http_empty(&h);
    req_free(&req);
}
END_TEST

/* ---- error_reason ---- */

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
    expect_reason_edges();
}
END_TEST

START_TEST(provider_table)
{
    expect_table("openai", "https://api.openai.com/v1");
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
    tcase_add_test(tc, fast_common_chunks);
    tcase_add_test(tc, fast_unescapes);
    tcase_add_test(tc, fast_first_of_repeated_names);
    tcase_add_test(tc, fast_shapes_that_report_nothing);
    tcase_add_test(tc, fast_white_space_everywhere);
    tcase_add_test(tc, fast_leaves_the_rest);
    tcase_add_test(tc, fast_scratch_cap);
    tcase_add_test(tc, tool_call_single);
    tcase_add_test(tc, tool_calls_parallel_interleaved);
    tcase_add_test(tc, tool_calls_with_text);
    tcase_add_test(tc, tool_calls_in_one_chunk);
    tcase_add_test(tc, tool_calls_malformed);
    tcase_add_test(tc, tool_calls_leave_the_fast_reading);
    tcase_add_test(tc, build_passes_the_request_through);
    tcase_add_test(tc, build_keeps_the_client_text);
    tcase_add_test(tc, build_replaces_chatds_members);
    tcase_add_test(tc, build_minimal);
    tcase_add_test(tc, build_from_a_tree);
    tcase_add_test(tc, build_refuses_more_than_one_choice);
    tcase_add_test(tc, build_rejects_key_with_newline);
    tcase_add_test(tc, error_reason_shapes);
    tcase_add_test(tc, error_reason_truncates_on_utf8_boundary);
    tcase_add_test(tc, provider_table);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(openai_suite());
}
