/* Unit tests: request validation (the whole OpenAI request: roles, content parts, tool
 * calls, options) and UTF-8 checks. Bodies are written with single quotes for JSON's
 * double ones (Q turns them back), so that the tables read as the requests do. */
#include <check.h>

#include "check_main.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "req.h"
#include "utf8.h"

/* s with every ' made " (JSON bodies written readably); malloc'd. */
static char *Q(const char *s)
{
    char *o = strdup(s);
    ck_assert_ptr_nonnull(o);
    for (char *p = o; *p; p++)
        if (*p == '\'')
            *p = '"';
    return o;
}

static int parse_as(const char *body, int flags, const req_limits *lim, chat_req *r, char *err)
{
    char *b = Q(body);
    int rc = req_parse(b, strlen(b), flags, lim, r, err, 256);
    free(b);
    return rc;
}

START_TEST(valid_request)
{
    const char *b = "{'messages':[{'role':'system','content':'be brief'},"
                    "{'role':'user','content':'\xe6\x97\xa5'}],'model':'x',"
                    "'temperature':0.5,'max_tokens':12,'extra':true}";
    chat_req r;
    char err[256];
    ck_assert_int_eq(parse_as(b, 0, NULL, &r, err), 0);
    ck_assert_uint_eq(r.n_msgs, 2);
    ck_assert_str_eq(r.msgs[1].role, "user");
    ck_assert_str_eq(r.msgs[1].content, "\xe6\x97\xa5");
    ck_assert_ptr_eq(r.msgs[1].json, cJSON_GetArrayItem(cJSON_GetObjectItem(r.root, "messages"), 1));
    ck_assert_str_eq(r.model, "x");
    ck_assert(r.has_temperature && r.temperature == 0.5);
    ck_assert_int_eq(r.max_tokens, 12);
    ck_assert_int_eq(r.n, 1);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(r.root, "extra"))); /* kept as sent */
    req_free(&r);
}
END_TEST

/* The whole OpenAI request: every role and part, tool calls, every parameter. */
static const char WHOLE[] =
    "{'model':'gpt-4o','messages':["
    "{'role':'developer','content':'Answer in French.'},"
    "{'role':'system','content':[{'type':'text','text':'Be'},{'type':'text','text':'brief.'}]},"
    "{'role':'user','name':'ann','content':[{'type':'text','text':'What is this?'},"
    "{'type':'image_url','image_url':{'url':'data:image/png;base64,iVBORw0KGgo=',"
    "'detail':'low'}},"
    "{'type':'image_url','image_url':{'url':'https://example.com/cat.jpg'}},"
    "{'type':'input_audio','input_audio':{'data':'UklGRg==','format':'wav'}},"
    "{'type':'file','file':{'file_data':'data:application/pdf;base64,JVBERi0=',"
    "'filename':'a.pdf'}},{'type':'file','file':{'file_id':'file-abc'}}]},"
    "{'role':'assistant','content':null,'reasoning_content':'They want the weather.',"
    "'tool_calls':[{'id':'call_1','type':'function','function':{'name':'get_weather',"
    "'arguments':'{\\'city\\':\\'Paris\\'}'}},{'id':'call_2','type':'function',"
    "'function':{'name':'now','arguments':''}}]},"
    "{'role':'tool','tool_call_id':'call_1','content':'{\\'c\\':21}'},"
    "{'role':'tool','tool_call_id':'call_2','content':[{'type':'text','text':'12:00'}]},"
    "{'role':'assistant','content':[{'type':'text','text':'Il'},{'type':'refusal',"
    "'refusal':'no'}]},"
    "{'role':'assistant','tool_calls':[{'id':'c3','type':'function','function':"
    "{'name':'f','arguments':'{}'}}]},"
    "{'role':'user','content':[{'type':'text','text':''},{'type':'text','text':'x'}]}],"
    "'tools':[{'type':'function','function':{'name':'get_weather','description':'d',"
    "'parameters':{'type':'object','properties':{'city':{'type':'string'}}},'strict':true}},"
    "{'type':'custom','custom':{'name':'grammar'}}],"
    "'tool_choice':{'type':'function','function':{'name':'get_weather'}},"
    "'parallel_tool_calls':false,'response_format':{'type':'json_object'},'stop':['\\n','END'],"
    "'seed':42,'top_p':0.9,'frequency_penalty':-1.5,'presence_penalty':2,"
    "'logit_bias':{'50256':-100},'logprobs':true,'top_logprobs':3,'user':'u-1',"
    "'metadata':{'k':'v'},'max_completion_tokens':300,'max_tokens':20,'n':2,"
    "'stream':true,'stream_options':{'include_usage':true},'unknown_field':{'a':[1]}}";

START_TEST(whole_openai_request)
{
    chat_req r;
    char err[256] = "";
    for (int flags = 0; flags <= REQ_OPENAI; flags++) {
        ck_assert_msg(parse_as(WHOLE, flags, NULL, &r, err) == 0, "%s", err);
        ck_assert_uint_eq(r.n_msgs, 9);
        static const char *const roles[] = {"developer", "system", "user", "assistant", "tool",
                                            "tool", "assistant", "assistant", "user"};
        for (size_t i = 0; i < 9; i++)
            ck_assert_str_eq(r.msgs[i].role, roles[i]);
        ck_assert_str_eq(r.msgs[0].content, "Answer in French.");
        ck_assert_str_eq(r.msgs[1].content, "Be\nbrief."); /* text parts joined */
        ck_assert_ptr_null(r.msgs[2].content);              /* images: no text alone */
        ck_assert_ptr_null(r.msgs[3].content);              /* null beside tool calls */
        ck_assert_str_eq(r.msgs[4].content, "{\"c\":21}");
        ck_assert_str_eq(r.msgs[5].content, "12:00");
        ck_assert_ptr_null(r.msgs[6].content); /* a refusal part */
        ck_assert_ptr_null(r.msgs[7].content); /* content absent beside tool calls */
        ck_assert_str_eq(r.msgs[8].content, "\nx");
        for (size_t i = 0; i < r.n_msgs; i++)
            ck_assert(cJSON_IsObject(r.msgs[i].json));
        ck_assert_int_eq(r.max_tokens, 300); /* max_completion_tokens before max_tokens */
        ck_assert_int_eq(r.n, 2);
        ck_assert_int_eq(r.stream, flags == REQ_OPENAI);
        ck_assert_int_eq(r.include_usage, flags == REQ_OPENAI);
        ck_assert_ptr_nonnull(cJSON_GetObjectItem(r.root, "unknown_field"));
        req_free(&r);
    }
}
END_TEST

/* One message (the rest of a body around it) per row: accepted. */
static const char *const good_msgs[] = {
    "{'role':'user','content':''}",
    "{'role':'user','content':[{'type':'image_url','image_url':{'url':'data:,x'}}]}",
    "{'role':'user','content':[{'type':'image_url','image_url':{'url':'https://h/i.png',"
    "'detail':'auto'}}]}",
    "{'role':'user','content':[{'type':'file','file':{'file_id':'f','filename':null}}]}",
    "{'role':'assistant','content':'x','reasoning_content':null}",
    "{'role':'assistant','content':'','tool_calls':null}",
    "{'role':'assistant','content':null,'tool_calls':[{'id':'a','type':'function',"
    "'function':{'name':'f','arguments':''},'extra':1}]}",
    "{'role':'tool','tool_call_id':'a','content':''}",
    "{'role':'user','content':'x','name':null,'unknown':[1,{}]}",
};

START_TEST(accepted_messages)
{
    for (size_t i = 0; i < sizeof(good_msgs) / sizeof(good_msgs[0]); i++) {
        char body[1024], err[256] = "";
        snprintf(body, sizeof(body), "{'messages':[%s]}", good_msgs[i]);
        chat_req r;
        ck_assert_msg(parse_as(body, REQ_OPENAI, NULL, &r, err) == 0, "%s: %s", body, err);
        req_free(&r);
    }
}
END_TEST

#define M(msg) "{'messages':[" msg "]}"
#define U "{'role':'user','content':'x'}"
#define WITH(opts) "{'messages':[" U "]," opts "}"
#define CALL(inner) M("{'role':'assistant','content':null,'tool_calls':[" inner "]}")

/* Refused, with the exact reason. */
static const struct {
    const char *body;
    const char *msg;
} bad[] = {
    {"", "request body is not valid JSON: "},
    {"{", "request body is not valid JSON: "},
    {"[]", "request body must be a JSON object"},
    {"{}", "messages is required"},
    {"{'messages':{}}", "messages must be an array"},
    {"{'messages':[]}", "messages must not be empty"},
    {M("1"), "messages[0] must be an object"},
    {M("{'role':'bot','content':'x'}"),
     "messages[0].role must be system, developer, user, assistant or tool"},
    {M("{'role':'function','content':'x'}"),
     "messages[0].role must be system, developer, user, assistant or tool"},
    {M("{'content':'x'}"), "messages[0].role must be system, developer, user, assistant or tool"},
    {M(U ",{'role':'user','content':5}"),
     "messages[1].content must be a string or a non-empty array of parts"},
    {M("{'role':'user','content':[]}"),
     "messages[0].content must be a string or a non-empty array of parts"},
    {M("{'role':'user'}"),
     "messages[0].content is required (null only beside an assistant's tool_calls)"},
    {M("{'role':'user','content':null}"),
     "messages[0].content is required (null only beside an assistant's tool_calls)"},
    {M("{'role':'assistant','content':null}"),
     "messages[0].content is required (null only beside an assistant's tool_calls)"},
    {M("{'role':'user','content':['x']}"), "messages[0].content[0] must be an object"},
    {M("{'role':'user','content':[{'text':'x'}]}"),
     "messages[0].content[0].type must be text, image_url, input_audio, file or refusal"},
    {M("{'role':'user','content':[{'type':'video','video':{}}]}"),
     "messages[0].content[0].type must be text, image_url, input_audio, file or refusal"},
    {M("{'role':'user','content':[{'type':'text'}]}"),
     "messages[0].content[0].text must be a string"},
    {M("{'role':'user','content':[{'type':'text','text':1}]}"),
     "messages[0].content[0].text must be a string"},
    {M("{'role':'user','content':[{'type':'image_url','image_url':'https://h/i'}]}"),
     "messages[0].content[0].image_url must be an object"},
    {M("{'role':'user','content':[{'type':'image_url','image_url':{'url':'http://h/i'}}]}"),
     "messages[0].content[0].image_url.url must be a data: or https: URL"},
    {M("{'role':'user','content':[{'type':'image_url','image_url':{'url':'data:abc'}}]}"),
     "messages[0].content[0].image_url.url must be a data: or https: URL"},
    {M("{'role':'user','content':[{'type':'image_url','image_url':{'url':'https://h',"
       "'detail':'max'}}]}"),
     "messages[0].content[0].image_url.detail must be auto, low or high"},
    {M("{'role':'user','content':[{'type':'input_audio','input_audio':{'data':'AA=='}}]}"),
     "messages[0].content[0].input_audio.format must be a non-empty string"},
    {M("{'role':'user','content':[{'type':'input_audio','input_audio':{'data':'',"
       "'format':'wav'}}]}"),
     "messages[0].content[0].input_audio.data must be a non-empty string"},
    {M("{'role':'user','content':[{'type':'file','file':{'filename':'a'}}]}"),
     "messages[0].content[0].file needs file_data or file_id"},
    {M("{'role':'user','content':[{'type':'file','file':{'file_id':3}}]}"),
     "messages[0].content[0].file.file_id must be a non-empty string"},
    {M("{'role':'system','content':[{'type':'image_url','image_url':{'url':'https://h'}}]}"),
     "messages[0].content[0]: a system message takes no image_url part"},
    {M("{'role':'tool','tool_call_id':'a','content':[{'type':'refusal','refusal':'x'}]}"),
     "messages[0].content[0]: a tool message takes no refusal part"},
    {M("{'role':'user','content':[{'type':'refusal','refusal':'x'}]}"),
     "messages[0].content[0]: a user message takes no refusal part"},
    {M("{'role':'tool','content':'x'}"), "messages[0].tool_call_id must be a non-empty string"},
    {M("{'role':'tool','tool_call_id':'','content':'x'}"),
     "messages[0].tool_call_id must be a non-empty string"},
    {M("{'role':'user','content':'x','tool_calls':[]}"),
     "messages[0].tool_calls: only an assistant message makes tool calls"},
    {M("{'role':'assistant','content':'x','tool_calls':{}}"),
     "messages[0].tool_calls must be a non-empty array"},
    {M("{'role':'assistant','content':null,'tool_calls':[]}"),
     "messages[0].tool_calls must be a non-empty array"},
    {CALL("7"), "messages[0].tool_calls[0] must be an object"},
    {CALL("{'type':'function','function':{'name':'f','arguments':''}}"),
     "messages[0].tool_calls[0].id must be a non-empty string"},
    {CALL("{'id':'a','type':'custom','function':{'name':'f','arguments':''}}"),
     "messages[0].tool_calls[0].type must be \"function\""},
    {CALL("{'id':'a','type':'function'}"), "messages[0].tool_calls[0].function must be an object"},
    {CALL("{'id':'a','type':'function','function':{'name':'','arguments':''}}"),
     "messages[0].tool_calls[0].function.name must be a non-empty string"},
    {CALL("{'id':'a','type':'function','function':{'name':'f','arguments':{}}}"),
     "messages[0].tool_calls[0].function.arguments must be a string"},
    {CALL("{'id':'a','type':'function','function':{'name':'f'}}"),
     "messages[0].tool_calls[0].function.arguments must be a string"},
    {M("{'role':'assistant','content':'x','reasoning_content':1}"),
     "messages[0].reasoning_content must be a string"},
    {M("{'role':'user','content':'x','name':1}"), "messages[0].name must be a string"},
    {WITH("'model':3"),
     "model must be a non-empty string of at most 256 bytes without control characters"},
    {WITH("'model':''"),
     "model must be a non-empty string of at most 256 bytes without control characters"},
    {WITH("'temperature':'hot'"), "temperature must be a number from 0 to 2"},
    {WITH("'temperature':9"), "temperature must be a number from 0 to 2"},
    {WITH("'top_p':1.5"), "top_p must be a number from 0 to 1"},
    {WITH("'frequency_penalty':-3"), "frequency_penalty must be a number from -2 to 2"},
    {WITH("'presence_penalty':true"), "presence_penalty must be a number from -2 to 2"},
    {WITH("'max_tokens':0"), "max_tokens must be a positive integer"},
    {WITH("'max_tokens':1.5"), "max_tokens must be a positive integer"},
    {WITH("'max_completion_tokens':'9'"), "max_completion_tokens must be a positive integer"},
    {WITH("'n':0"), "n must be an integer from 1 to 128"},
    {WITH("'n':129"), "n must be an integer from 1 to 128"},
    {WITH("'seed':1.5"), "seed must be an integer"},
    {WITH("'stream':'yes'"), "stream must be a boolean"},
    {WITH("'stream_options':true"), "stream_options must be an object"},
    {WITH("'stream_options':{'include_usage':1}"),
     "stream_options.include_usage must be a boolean"},
    {WITH("'logprobs':1"), "logprobs must be a boolean"},
    {WITH("'top_logprobs':21"), "top_logprobs must be an integer from 0 to 20"},
    {WITH("'parallel_tool_calls':'no'"), "parallel_tool_calls must be a boolean"},
    {WITH("'user':5"), "user must be a string"},
    {WITH("'metadata':[]"), "metadata must be an object"},
    {WITH("'logit_bias':1"), "logit_bias must be an object"},
    {WITH("'response_format':'json'"), "response_format must be an object"},
    {WITH("'response_format':{}"), "response_format.type must be a string"},
    {WITH("'stop':5"), "stop must be a string or an array of strings"},
    {WITH("'stop':['a',1]"), "stop must be a string or an array of strings"},
    {WITH("'tools':{}"), "tools must be an array"},
    {WITH("'tools':[1]"), "tools[0].type must be a string"},
    {WITH("'tools':[{'type':'function','function':{'name':'f'}},{'type':'function'}]"),
     "tools[1].function.name must be a non-empty string"},
    {WITH("'tools':[{'type':'function','function':{'name':'f','parameters':'{}'}}]"),
     "tools[0].function.parameters must be an object"},
    {WITH("'tool_choice':'any'"), "tool_choice must be none, auto, required or an object"},
    {WITH("'tool_choice':{}"), "tool_choice must be none, auto, required or an object"},
    {WITH("'tool_choice':{'type':'function','function':{}}"),
     "tool_choice.function.name must be a non-empty string"},
    {WITH("'model':'a','model':'b'"), "model appears more than once"},
    {WITH("'stream':false,'x':1,'stream':true"), "stream appears more than once"},
    {WITH("'temperature':0,'mod\\u0065l':'a','model':'b'"), "model appears more than once"},
    {WITH("'\\u0073eed':1,'seed':2"), "seed appears more than once"},
    {WITH("'tools':[],'tools':[1]"), "tools appears more than once"},
    {WITH("'n':1,'n':2"), "n appears more than once"},
    {M(U) "x" /* not JSON: the JSON reason, not a repeat */, "request body is not valid JSON: "},
    {"{'messages':[" U "],'messages':[" U "]}", "messages appears more than once"},
    {M("{'role':'user','content':'\xc3\x28'}"), "request body is not valid UTF-8"},
    {M("{'role':'user','content':'\xed\xa0\x80'}"), "request body is not valid UTF-8"},
    {M(U) " x", "request body is not valid JSON: "},
};

START_TEST(invalid_requests)
{
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        for (int flags = 0; flags <= REQ_OPENAI; flags++) {
            char err[256] = "";
            chat_req r;
            ck_assert_msg(parse_as(bad[i].body, flags, NULL, &r, err) == -1, "accepted: %s",
                          bad[i].body);
            size_t n = strlen(bad[i].msg);
            int prefix = bad[i].msg[n - 1] == ' '; /* the JSON reasons vary after ": " */
            ck_assert_msg(prefix ? !strncmp(err, bad[i].msg, n) : !strcmp(err, bad[i].msg),
                          "for %s got \"%s\"", bad[i].body, err);
            ck_assert_ptr_null(r.root);
        }
    }
}
END_TEST

/* max_message_bytes counts a message's text and data: parts, tool calls, reasoning. */
/* Every member chatd reads, once each; unknown ones may repeat. */
START_TEST(repeats_of_unread_names)
{
    const char *body = "{'messages':[" U "],'model':'m','stream':true,'stream_options':{},"
                       "'n':1,'temperature':1,'top_p':1,'frequency_penalty':0,"
                       "'presence_penalty':0,'max_tokens':5,'max_completion_tokens':5,"
                       "'seed':1,'logprobs':false,'top_logprobs':0,'parallel_tool_calls':true,"
                       "'user':'u','metadata':{},'logit_bias':{},"
                       "'response_format':{'type':'text'},'stop':'s','tools':[],"
                       "'tool_choice':'auto','x':1,'x':2,'model_':1,'model_':2,'mode':3,'mode':4,"
                       "'a_name_longer_than_any_chatd_reads_at_all':1,"
                       "'a_name_longer_than_any_chatd_reads_at_all':2,'\\u00e9':1,'\\u00e9':2}";
    char err[256] = "";
    chat_req r;
    ck_assert_msg(parse_as(body, REQ_OPENAI, NULL, &r, err) == 0, "%s", err);
    req_free(&r);
}
END_TEST

/* The chat_req keeps the body's text as it was parsed. */
START_TEST(keeps_the_raw_body)
{
    const char *body =
        "{ 'messages':[" U "], 'seed':1234567890123456789, 'x':12345678901234567890,\n'y':1.10 }";
    char *b = Q(body), err[256] = "";
    chat_req r;
    ck_assert_int_eq(req_parse(b, strlen(b), REQ_OPENAI, NULL, &r, err, sizeof(err)), 0);
    ck_assert_ptr_ne(r.raw, b);
    ck_assert_uint_eq(r.raw_len, strlen(b));
    ck_assert(!memcmp(r.raw, b, r.raw_len));
    req_free(&r);
    ck_assert_ptr_null(r.raw);
    ck_assert_uint_eq(r.raw_len, 0);
    ck_assert_int_eq(req_parse(b, strlen(b) - 2, REQ_OPENAI, NULL, &r, err, sizeof(err)), -1);
    ck_assert_ptr_null(r.raw);
    free(b);
}
END_TEST

START_TEST(message_size_limit)
{
    static const req_limits lim = {3, 10};
    static const struct {
        const char *body;
        int ok;
    } cases[] = {
        {M("{'role':'user','content':'0123456789'}"), 1},
        {M("{'role':'user','content':'0123456789A'}"), 0},
        {M("{'role':'user','content':[{'type':'text','text':'01234'},"
           "{'type':'text','text':'5678'}]}"),
         1}, /* 9 bytes and the separator */
        {M("{'role':'user','content':[{'type':'text','text':'01234'},"
           "{'type':'text','text':'56789'}]}"),
         0},
        {M("{'role':'user','content':[{'type':'image_url','image_url':{'url':'data:,0123456'}}]}"),
         0},
        {M("{'role':'assistant','content':null,'tool_calls':[{'id':'a','type':'function',"
           "'function':{'name':'f','arguments':'{1234567}'}}]}"),
         0},
        {M("{'role':'assistant','content':'01234','reasoning_content':'56789'}"), 1},
        {M("{'role':'assistant','content':'01234','reasoning_content':'56789A'}"), 0},
        {M(U "," U "," U), 1},
        {M(U "," U "," U "," U), 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        chat_req r;
        char err[256] = "";
        int rc = parse_as(cases[i].body, 0, &lim, &r, err);
        ck_assert_msg(rc == (cases[i].ok ? 0 : -1), "case %zu: %s", i, err);
        if (rc == 0)
            req_free(&r);
        else
            ck_assert_msg(strstr(err, "is longer than 10 bytes") || strstr(err, "at most 3"),
                          "case %zu: %s", i, err);
    }
}
END_TEST

START_TEST(utf8_validation)
{
    ck_assert(utf8_valid("a\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80", 10));
    ck_assert(!utf8_valid("\xc0\xaf", 2));         /* overlong */
    ck_assert(!utf8_valid("\xe0\x80\xaf", 3));     /* overlong */
    ck_assert(!utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    ck_assert(!utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    ck_assert(!utf8_valid("\x80", 1));
    ck_assert(!utf8_valid("\xe6\x97", 2)); /* truncated */
    ck_assert_uint_eq(utf8_trim("ab\xe6\x97", 4), 2);
    ck_assert_uint_eq(utf8_trim("ab\xe6\x97\xa5", 5), 5);
}
END_TEST

int main(void)
{
    return check_tests("req", valid_request, whole_openai_request, accepted_messages,
                       invalid_requests, repeats_of_unread_names, keeps_the_raw_body,
                       message_size_limit, utf8_validation);
}
