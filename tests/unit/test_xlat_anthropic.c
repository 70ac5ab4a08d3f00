/* Tests for xlat_anthropic: OpenAI chat requests and the exact Anthropic Messages body each
 * becomes (compared as JSON trees), and the requests refused, each with its code and exact
 * message. JSON is written with ' for " to stay readable. */
#include <check.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "prov.h"
#include "utf8.h"
#include "xlat_anthropic.h"

#define MODEL "claude-x"

/* s with every ' made ", parsed; the caller deletes it. */
static cJSON *json(const char *s)
{
    char *t = strdup(s);
    ck_assert_ptr_nonnull(t);
    for (char *p = t; *p; p++)
        if (*p == '\'')
            *p = '"';
    cJSON *j = cJSON_Parse(t);
    ck_assert_msg(j != NULL, "test JSON does not parse: %s", t);
    free(t);
    return j;
}

typedef struct xcase {
    const char *name;
    const char *req;
    const char *want; /* the body without model and stream, which every body has */
} xcase;

/* clang-format off */
static const xcase CASES[] = {
    {"minimal: content blocks, the default max_tokens",
     "{'messages':[{'role':'user','content':'Hi'}]}",
     "{'max_tokens':4096,'messages':[{'role':'user','content':[{'type':'text','text':'Hi'}]}]}"},

    {"chatd's own fields are not sent on; null is absent",
     "{'model':'gpt-4o','stream':false,'stream_options':{'include_usage':true},'seed':null,"
     "'messages':[{'role':'user','content':'Hi','name':null}],'temperature':null}",
     "{'max_tokens':4096,'messages':[{'role':'user','content':[{'type':'text','text':'Hi'}]}]}"},

    {"system and developer: text blocks in order, wherever they stand; empty text left out",
     "{'messages':[{'role':'system','content':'A'},{'role':'user','content':'u1'},"
     "{'role':'developer','content':[{'type':'text','text':'B'},{'type':'text','text':'C'}]},"
     "{'role':'system','content':''},{'role':'user','content':'u2'}]}",
     "{'max_tokens':4096,'system':[{'type':'text','text':'A'},{'type':'text','text':'B'},"
     "{'type':'text','text':'C'}],'messages':[{'role':'user','content':["
     "{'type':'text','text':'u1'},{'type':'text','text':'u2'}]}]}"},

    {"user parts: text, a base64 image, an https image",
     "{'messages':[{'role':'user','content':[{'type':'text','text':'What is this?'},"
     "{'type':'image_url','image_url':{'url':'data:image/png;base64,iVBORw0KGgo='}},"
     "{'type':'image_url','image_url':{'url':'data:IMAGE/JPEG;name=a.jpg;base64,/9j/4AAQ','detail':'auto'}},"
     "{'type':'image_url','image_url':{'url':'https://example.com/cat.webp','detail':null}}]}]}",
     "{'max_tokens':4096,'messages':[{'role':'user','content':["
     "{'type':'text','text':'What is this?'},"
     "{'type':'image','source':{'type':'base64','media_type':'image/png','data':'iVBORw0KGgo='}},"
     "{'type':'image','source':{'type':'base64','media_type':'image/jpeg','data':'/9j/4AAQ'}},"
     "{'type':'image','source':{'type':'url','url':'https://example.com/cat.webp'}}]}]}"},

    {"a tool round: text then tool_use blocks; tool results in one user turn, the next user "
     "message after them; echoed nulls, an empty reasoning_content and empty annotations accepted",
     "{'messages':[{'role':'user','content':'Weather in Paris and Oslo?'},"
     "{'role':'assistant','content':'Checking.','reasoning_content':'',"
     "'refusal':null,'annotations':[],'audio':null,'function_call':null,'tool_calls':["
     "{'id':'call_1','type':'function','function':{'name':'get_weather','arguments':'{\\'city\\':\\'Paris\\'}'}},"
     "{'id':'call_2','type':'function','function':{'name':'get_weather','arguments':' {\\'city\\': \\'Oslo\\'} \\n'}}]},"
     "{'role':'tool','tool_call_id':'call_1','content':'18 C'},"
     "{'role':'tool','tool_call_id':'call_2','content':[{'type':'text','text':'-3 C'}]},"
     "{'role':'user','content':'Thanks'}]}",
     "{'max_tokens':4096,'messages':["
     "{'role':'user','content':[{'type':'text','text':'Weather in Paris and Oslo?'}]},"
     "{'role':'assistant','content':[{'type':'text','text':'Checking.'},"
     "{'type':'tool_use','id':'call_1','name':'get_weather','input':{'city':'Paris'}},"
     "{'type':'tool_use','id':'call_2','name':'get_weather','input':{'city':'Oslo'}}]},"
     "{'role':'user','content':["
     "{'type':'tool_result','tool_use_id':'call_1','content':'18 C'},"
     "{'type':'tool_result','tool_use_id':'call_2','content':[{'type':'text','text':'-3 C'}]},"
     "{'type':'text','text':'Thanks'}]}]}"},

    {"content null with tool_calls; arguments '', absent, or an object; a tool result without content",
     "{'messages':[{'role':'user','content':'Go'},"
     "{'role':'assistant','content':null,'tool_calls':["
     "{'id':'a','type':'function','function':{'name':'now','arguments':''}},"
     "{'id':'b','function':{'name':'now'}},"
     "{'id':'c','type':'function','function':{'name':'add','arguments':{'x':1}}}]},"
     "{'role':'tool','tool_call_id':'a'}]}",
     "{'max_tokens':4096,'messages':[{'role':'user','content':[{'type':'text','text':'Go'}]},"
     "{'role':'assistant','content':["
     "{'type':'tool_use','id':'a','name':'now','input':{}},"
     "{'type':'tool_use','id':'b','name':'now','input':{}},"
     "{'type':'tool_use','id':'c','name':'add','input':{'x':1}}]},"
     "{'role':'user','content':[{'type':'tool_result','tool_use_id':'a'}]}]}"},

    {"runs in one role merged; an assistant's refusal is its text; a message with nothing adds no turn",
     "{'messages':[{'role':'user','content':'One'},{'role':'user','content':[{'type':'text','text':'Two'}]},"
     "{'role':'assistant','content':'A'},{'role':'assistant','content':null,'refusal':'I cannot.'},"
     "{'role':'assistant','content':[{'type':'refusal','refusal':'No.'}]},"
     "{'role':'user','content':''},{'role':'assistant','content':'B'}]}",
     "{'max_tokens':4096,'messages':[{'role':'user','content':[{'type':'text','text':'One'},"
     "{'type':'text','text':'Two'}]},{'role':'assistant','content':[{'type':'text','text':'A'},"
     "{'type':'text','text':'I cannot.'},{'type':'text','text':'No.'},{'type':'text','text':'B'}]}]}"},

    {"tools: parameters to input_schema, a schema without type gets object",
     "{'messages':[{'role':'user','content':'x'}],'tools':["
     "{'type':'function','function':{'name':'get_weather','description':'Weather now',"
     "'parameters':{'type':'object','properties':{'city':{'type':'string'}},'required':['city']},'strict':false}},"
     "{'type':'function','function':{'name':'now'}},"
     "{'type':'function','function':{'name':'ping','parameters':{}}}]}",
     "{'max_tokens':4096,'messages':[{'role':'user','content':[{'type':'text','text':'x'}]}],'tools':["
     "{'name':'get_weather','description':'Weather now','input_schema':{'type':'object',"
     "'properties':{'city':{'type':'string'}},'required':['city']}},"
     "{'name':'now','input_schema':{'type':'object'}},"
     "{'name':'ping','input_schema':{'type':'object'}}]}"},

#define ONE_TOOL "'messages':[{'role':'user','content':'x'}],'tools':[{'type':'function','function':{'name':'f'}}]"
#define ONE_TOOL_OUT "'max_tokens':4096,'messages':[{'role':'user','content':[{'type':'text','text':'x'}]}]," \
    "'tools':[{'name':'f','input_schema':{'type':'object'}}]"
    {"tool_choice auto", "{" ONE_TOOL ",'tool_choice':'auto'}",
     "{" ONE_TOOL_OUT ",'tool_choice':{'type':'auto'}}"},
    {"tool_choice required", "{" ONE_TOOL ",'tool_choice':'required','parallel_tool_calls':true}",
     "{" ONE_TOOL_OUT ",'tool_choice':{'type':'any'}}"},
    {"tool_choice none", "{" ONE_TOOL ",'tool_choice':'none','parallel_tool_calls':false}",
     "{" ONE_TOOL_OUT ",'tool_choice':{'type':'none'}}"},
    {"tool_choice a named function, not in parallel",
     "{" ONE_TOOL ",'tool_choice':{'type':'function','function':{'name':'f'}},'parallel_tool_calls':false}",
     "{" ONE_TOOL_OUT ",'tool_choice':{'type':'tool','name':'f','disable_parallel_tool_use':true}}"},
    {"parallel_tool_calls false alone", "{" ONE_TOOL ",'parallel_tool_calls':false}",
     "{" ONE_TOOL_OUT ",'tool_choice':{'type':'auto','disable_parallel_tool_use':true}}"},
    {"without tools, auto and parallel_tool_calls change nothing",
     "{'messages':[{'role':'user','content':'x'}],'tools':[],'tool_choice':'auto','parallel_tool_calls':false}",
     "{'max_tokens':4096,'messages':[{'role':'user','content':[{'type':'text','text':'x'}]}]}"},

#define USER_X "'messages':[{'role':'user','content':'x'}]"
#define USER_X_OUT "'messages':[{'role':'user','content':[{'type':'text','text':'x'}]}]"
    {"parameters with an equivalent",
     "{" USER_X ",'temperature':0,'top_p':0.9,'top_k':40,'max_tokens':300,'stop':'END','user':'u-42'}",
     "{" USER_X_OUT ",'temperature':0,'top_p':0.9,'top_k':40,'max_tokens':300,"
     "'stop_sequences':['END'],'metadata':{'user_id':'u-42'}}"},
    {"max_completion_tokens over max_tokens; stop as an array, '' left out",
     "{" USER_X ",'max_tokens':10,'max_completion_tokens':20,'stop':['a','','\\n\\n'],'temperature':1}",
     "{" USER_X_OUT ",'max_tokens':20,'stop_sequences':['a','\\n\\n'],'temperature':1}"},
    {"stop '' and [] say nothing", "{" USER_X ",'stop':''}", "{" USER_X_OUT ",'max_tokens':4096}"},
    {"values that ask for what Anthropic does anyway",
     "{" USER_X ",'n':1,'presence_penalty':0,'frequency_penalty':0.0,'logprobs':false,'store':false,"
     "'logit_bias':{},'response_format':{'type':'text'},'top_logprobs':null,'user':''}",
     "{" USER_X_OUT ",'max_tokens':4096}"},

    {"reasoning_effort without a limit: the budget plus the default",
     "{" USER_X ",'reasoning_effort':'low'}",
     "{" USER_X_OUT ",'max_tokens':6144,'thinking':{'type':'enabled','budget_tokens':2048}}"},
    {"reasoning_effort high within max_completion_tokens: at most half of it",
     "{" USER_X ",'reasoning_effort':'high','max_completion_tokens':10000}",
     "{" USER_X_OUT ",'max_tokens':10000,'thinking':{'type':'enabled','budget_tokens':5000}}"},
    {"reasoning_effort medium and minimal",
     "{" USER_X ",'reasoning_effort':'medium','max_tokens':40000}",
     "{" USER_X_OUT ",'max_tokens':40000,'thinking':{'type':'enabled','budget_tokens':8192}}"},
    {"reasoning_effort minimal at the least limit",
     "{" USER_X ",'reasoning_effort':'minimal','max_tokens':2048}",
     "{" USER_X_OUT ",'max_tokens':2048,'thinking':{'type':'enabled','budget_tokens':1024}}"},
    {"reasoning_effort none", "{" USER_X ",'reasoning_effort':'none'}",
     "{" USER_X_OUT ",'max_tokens':4096}"},
};
/* clang-format on */

START_TEST(translations)
{
    const xcase *c = &CASES[_i];
    cJSON *req = json(c->req), *want = json(c->want), *got = NULL;
    ck_assert(cJSON_AddStringToObject(want, "model", MODEL));
    ck_assert(cJSON_AddTrueToObject(want, "stream"));
    char err[256] = "#";
    int rc = xlat_anthropic(req, MODEL, &got, err, sizeof(err));
    ck_assert_msg(rc == 0, "%s: rc %d: %s", c->name, rc, err);
    ck_assert_str_eq(err, "");
    char *g = cJSON_PrintUnformatted(got), *w = cJSON_PrintUnformatted(want);
    ck_assert_msg(cJSON_Compare(got, want, 1), "%s:\n got %s\nwant %s", c->name, g, w);
    free(g);
    free(w);
    cJSON_Delete(req);
    cJSON_Delete(want);
    cJSON_Delete(got);
}
END_TEST

typedef struct rcase {
    const char *req;
    int rc;
    const char *msg;
} rcase;

#define U PROV_BUILD_UNSUPPORTED
#define I PROV_BUILD_INVALID
#define USER_MSG "'messages':[{'role':'user','content':'x'}]"
#define USER_MSG_OBJ "{'role':'user','content':'x'}"
#define ASSISTANT_CALL(args)                                                                       \
    "{'messages':[{'role':'user','content':'x'},{'role':'assistant','content':null,'tool_calls':"  \
    "[{'id':'c1','type':'function','function':{'name':'f','arguments':" args "}}]}]}"
#define IMAGE(url, more)                                                                           \
    "{'messages':[{'role':'user','content':[{'type':'text','text':'see'},"                         \
    "{'type':'image_url','image_url':{'url':'" url "'" more "}}]}]}"

/* clang-format off */
static const rcase REFUSED[] = {
    {"{" USER_MSG ",'n':2}", U, "n: Anthropic supports only 1"},
    {"{" USER_MSG ",'logit_bias':{'50256':-100}}", U, "logit_bias: Anthropic supports only {}"},
    {"{" USER_MSG ",'logprobs':true}", U, "logprobs: Anthropic supports only false"},
    {"{" USER_MSG ",'top_logprobs':2}", U, "top_logprobs is not supported by Anthropic"},
    {"{" USER_MSG ",'presence_penalty':0.5}", U, "presence_penalty: Anthropic supports only 0"},
    {"{" USER_MSG ",'frequency_penalty':-1}", U, "frequency_penalty: Anthropic supports only 0"},
    {"{" USER_MSG ",'seed':7}", U, "seed is not supported by Anthropic"},
    {"{" USER_MSG ",'response_format':{'type':'json_object'}}", U,
     "response_format: Anthropic supports only {\"type\":\"text\"}"},
    {"{" USER_MSG ",'response_format':{'type':'json_schema','json_schema':{'name':'x','schema':{}}}}", U,
     "response_format: Anthropic supports only {\"type\":\"text\"}"},
    {"{" USER_MSG ",'modalities':['text','audio']}", U, "modalities is not supported by Anthropic"},
    {"{" USER_MSG ",'audio':{'voice':'alloy','format':'wav'}}", U, "audio is not supported by Anthropic"},
    {"{" USER_MSG ",'prediction':{'type':'content','content':'x'}}", U,
     "prediction is not supported by Anthropic"},
    {"{" USER_MSG ",'store':true}", U, "store: Anthropic supports only false"},
    {"{" USER_MSG ",'metadata':{'k':'v'}}", U, "metadata is not supported by Anthropic"},
    {"{" USER_MSG ",'service_tier':'flex'}", U, "service_tier is not supported by Anthropic"},
    {"{" USER_MSG ",'frobnicate':true}", U, "frobnicate is not supported by Anthropic"},
    /* an earlier answer's thinking goes back to Anthropic only with its signature */
    {"{'messages':[" USER_MSG_OBJ ",{'role':'assistant','content':'a','reasoning_content':'why'}]}", U,
     "messages[1].reasoning_content is not supported by Anthropic"},
    {"{'messages':[" USER_MSG_OBJ ",{'role':'assistant','content':'a','annotations':[{'type':'url_citation'}]}]}", U,
     "messages[1].annotations is not supported by Anthropic"},
    /* a client's field name is made safe for the one-line reason */
    {"{" USER_MSG ",'a\\nb\\u0001c':1}", U, "a?b?c is not supported by Anthropic"},
    {"{'messages':[{'role':'user','content':'x','':1}]}", U,
     "messages[0]. is not supported by Anthropic"},
    {"{'messages':[{'role':'user','content':'x','n\\tm':1}]}", U,
     "messages[0].n?m is not supported by Anthropic"},
    {"{" USER_MSG ",'temperature':1.5}", U, "temperature: Anthropic supports 0 to 1"},
    {"{'messages':[{'role':'user','content':[{'type':'text','text':'hi'},"
     "{'type':'input_audio','input_audio':{'data':'UklGR','format':'wav'}}]}]}", U,
     "messages[0].content[1] (input_audio) is not supported by Anthropic"},
    {"{'messages':[{'role':'system','content':'s'},{'role':'user','content':["
     "{'type':'file','file':{'file_id':'file-abc'}}]}]}", U,
     "messages[1].content[0] (file) is not supported by Anthropic"},
    {"{'messages':[{'role':'system','content':[{'type':'image_url','image_url':{'url':'https://a/b.png'}}]}]}", U,
     "messages[0].content[0] (image_url) is not supported by Anthropic"},
    {IMAGE("http://example.com/a.png", ""), U,
     "messages[0].content[1].image_url.url: Anthropic supports only data: and https: URLs"},
    {IMAGE("https://example.com/a.png", ",'detail':'high'"), U,
     "messages[0].content[1].image_url.detail: Anthropic supports only \"auto\""},
    {IMAGE("data:image/png,rawbytes", ""), U,
     "messages[0].content[1].image_url.url: Anthropic supports only base64 data: URLs"},
    {IMAGE("data:image/bmp;base64,Qk0=", ""), U,
     "messages[0].content[1].image_url.url: media type \"image/bmp\" is not supported by "
     "Anthropic (image/jpeg, image/png, image/gif, image/webp)"},
    {IMAGE("data:image/\\tx;base64,Qk0=", ""), U,
     "messages[0].content[1].image_url.url: media type \"image/?x\" is not supported by "
     "Anthropic (image/jpeg, image/png, image/gif, image/webp)"},
    {IMAGE("data:image/png;base64,", ""), I, "messages[0].content[1].image_url.url has no data"},
    {"{'messages':[{'role':'user','content':'x','name':'alice'}]}", U,
     "messages[0].name is not supported by Anthropic"},
    {"{'messages':[{'role':'user','content':'x'},{'role':'assistant','content':null,'audio':{'id':'audio_1'}}]}", U,
     "messages[1].audio is not supported by Anthropic"},
    {"{'messages':[{'role':'function','name':'f','content':'1'}]}", U,
     "messages[0].role: Anthropic supports system, developer, user, assistant and tool"},
    {"{" USER_MSG ",'tools':[{'type':'custom','custom':{'name':'x'}}]}", U,
     "tools[0].type: Anthropic supports only \"function\""},
    {"{" USER_MSG ",'tools':[{'type':'function','function':{'name':'a'}},"
     "{'type':'function','function':{'name':'f','strict':true}}]}", U,
     "tools[1].function.strict is not supported by Anthropic"},
    {"{" USER_MSG ",'tools':[{'type':'function','function':{'name':'f'}}],"
     "'tool_choice':{'type':'allowed_tools','allowed_tools':{'mode':'auto','tools':[]}}}", U,
     "tool_choice: Anthropic supports only auto, required, none and a named function"},
    {"{" USER_MSG ",'reasoning_effort':'high','max_tokens':2047}", U,
     "reasoning_effort: Anthropic thinks only with max_tokens of at least 2048"},

    {ASSISTANT_CALL("'[1,2]'"), I, "messages[1].tool_calls[0].function.arguments must be a JSON object"},
    {ASSISTANT_CALL("'{\\'a\\':'"), I, "messages[1].tool_calls[0].function.arguments must be a JSON object"},
    {ASSISTANT_CALL("'{} x'"), I, "messages[1].tool_calls[0].function.arguments must be a JSON object"},
    {ASSISTANT_CALL("7"), I, "messages[1].tool_calls[0].function.arguments must be a string"},
    {"{'messages':[{'role':'assistant','tool_calls':[{'type':'function','function':{'name':'f'}}]}]}", I,
     "messages[0].tool_calls[0].id must be a non-empty string"},
    {"{'messages':[{'role':'tool','content':'r'}]}", I, "messages[0].tool_call_id must be a non-empty string"},
    {"{'messages':[{'role':'tool','tool_call_id':'c','content':7}]}", I,
     "messages[0].content must be a string or an array of parts"},
    {"{" USER_MSG ",'max_tokens':0}", I, "max_tokens must be a positive integer"},
    {"{" USER_MSG ",'max_completion_tokens':1.5}", I, "max_completion_tokens must be a positive integer"},
    {"{" USER_MSG ",'reasoning_effort':'extreme'}", I,
     "reasoning_effort must be none, minimal, low, medium or high"},
    {"{" USER_MSG ",'tool_choice':'required'}", I, "tool_choice needs tools"},
    {"{" USER_MSG ",'tool_choice':'sometimes'}", I,
     "tool_choice must be auto, required, none or {\"type\":\"function\",...}"},
    {"{" USER_MSG ",'stop':['a',1]}", I, "stop must be a string or an array of strings"},
    {"{" USER_MSG ",'user':42}", I, "user must be a string"},
    {"{'messages':'hi'}", I, "messages must be an array"},
    {"[]", I, "request body must be a JSON object"},
};
/* clang-format on */

START_TEST(refusals)
{
    const rcase *c = &REFUSED[_i];
    cJSON *req = json(c->req), *got = (cJSON *)1;
    char err[256] = "#";
    int rc = xlat_anthropic(req, MODEL, &got, err, sizeof(err));
    ck_assert_msg(rc == c->rc, "%s: rc %d, want %d (%s)", c->req, rc, c->rc, err);
    ck_assert_str_eq(err, c->msg);
    ck_assert_ptr_null(got);
    /* without room for the reason, the code alone */
    got = (cJSON *)1;
    ck_assert_int_eq(xlat_anthropic(req, MODEL, &got, NULL, 0), c->rc);
    ck_assert_ptr_null(got);
    char small[8];
    ck_assert_int_eq(xlat_anthropic(req, MODEL, &got, small, sizeof(small)), c->rc);
    ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
    cJSON_Delete(req);
}
END_TEST

/* A long field name is cut, never overrun. */
START_TEST(long_names_cut)
{
    char name[600], body[800];
    memset(name, 'z', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    snprintf(body, sizeof(body), "{'messages':[{'role':'user','content':'x','%s':1}]}", name);
    cJSON *req = json(body), *got = NULL;
    char err[256];
    ck_assert_int_eq(xlat_anthropic(req, MODEL, &got, err, sizeof(err)), PROV_BUILD_UNSUPPORTED);
    ck_assert_uint_lt(strlen(err), sizeof(err));
    ck_assert(strncmp(err, "messages[0].zzz", 15) == 0);
    cJSON_Delete(req);
}
END_TEST

/* A long name of multi-byte characters is cut between characters, never inside one. */
START_TEST(long_names_cut_between_characters)
{
    char body[1200] = "{'messages':[{'role':'user','content':'x'}],'";
    for (int i = 0; i < 200; i++)
        strcat(body, "\xc3\xa9");
    strcat(body, "':1}");
    cJSON *req = json(body), *got = NULL;
    char err[256];
    ck_assert_int_eq(xlat_anthropic(req, MODEL, &got, err, sizeof(err)), PROV_BUILD_UNSUPPORTED);
    const char *tail = strstr(err, " is not supported by Anthropic");
    ck_assert_ptr_nonnull(tail);
    ck_assert_uint_eq((size_t)(tail - err) % 2, 0); /* whole two-byte characters only */
    ck_assert(utf8_valid(err, strlen(err)));
    ck_assert_ptr_null(got);
    cJSON_Delete(req);
    /* in a message, the path holding the name is cut first: odd offset, same result */
    char body2[1200] = "{'messages':[{'role':'user','content':'x','";
    for (int i = 0; i < 200; i++)
        strcat(body2, "\xc3\xa9");
    strcat(body2, "':1}]}");
    req = json(body2);
    ck_assert_int_eq(xlat_anthropic(req, MODEL, &got, err, sizeof(err)), PROV_BUILD_UNSUPPORTED);
    ck_assert_msg(utf8_valid(err, strlen(err)), "cut inside a character: %s", err);
    ck_assert(strncmp(err, "messages[0].\xc3\xa9", 14) == 0);
    cJSON_Delete(req);
}
END_TEST

/* With allocation n failing, for every n until none fails: "out of memory" and nothing
 * built (a leak shows under the sanitizers and valgrind). */
static long allocs_left;

static void *failing_malloc(size_t n)
{
    return allocs_left-- > 0 ? malloc(n) : NULL;
}

START_TEST(no_memory_at_every_allocation)
{
    cJSON *req = json(
        "{'messages':[{'role':'system','content':'S'},{'role':'user','content':[{'type':'text',"
        "'text':'see'},{'type':'image_url','image_url':{'url':'data:image/gif;base64,R0lG'}},"
        "{'type':'image_url','image_url':{'url':'https://a.example/b.png'}}]},"
        "{'role':'assistant','content':'ok','tool_calls':[{'id':'c1','type':'function',"
        "'function':{'name':'f','arguments':'{\\'a\\':[1,{\\'b\\':null}]}'}},{'id':'c2',"
        "'function':{'name':'g','arguments':''}}]},{'role':'tool','tool_call_id':'c1',"
        "'content':[{'type':'text','text':'r'}]},{'role':'tool','tool_call_id':'c2','content':'s'}]"
        ","
        "'tools':[{'type':'function','function':{'name':'f','description':'d','parameters':"
        "{'type':'object','properties':{'a':{'type':'array'}}}}},{'type':'function','function':"
        "{'name':'g'}}],'tool_choice':'required','parallel_tool_calls':false,'stop':['x','y'],"
        "'user':'u','reasoning_effort':'low','top_p':0.5}");
    long n = 0;
    for (;; n++) {
        cJSON *got = (cJSON *)1;
        char err[64] = "";
        cJSON_Hooks hooks = {failing_malloc, free};
        allocs_left = n;
        cJSON_InitHooks(&hooks);
        int rc = xlat_anthropic(req, MODEL, &got, err, sizeof(err));
        cJSON_InitHooks(NULL);
        if (rc == 0) {
            cJSON_Delete(got);
            break;
        }
        ck_assert_int_eq(rc, PROV_BUILD_NOMEM);
        ck_assert_str_eq(err, "out of memory");
        ck_assert_ptr_null(got);
    }
    ck_assert_int_gt(n, 50); /* it did fail at many places first */
    cJSON_Delete(req);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("xlat_anthropic");
    TCase *t = tcase_create("core");
    tcase_add_loop_test(t, translations, 0, sizeof(CASES) / sizeof(CASES[0]));
    tcase_add_loop_test(t, refusals, 0, sizeof(REFUSED) / sizeof(REFUSED[0]));
    tcase_add_test(t, long_names_cut);
    tcase_add_test(t, long_names_cut_between_characters);
    tcase_add_test(t, no_memory_at_every_allocation);
    suite_add_tcase(s, t);
    return check_run(s);
}
