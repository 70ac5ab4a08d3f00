/* Unit tests: anth_in — Anthropic Messages requests rewritten as OpenAI chat requests,
 * compared as exact JSON text; and the requests refused, with the code and the field
 * the reason must name. */
#include <check.h>

#include "check_main.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anth_in.h"
#include "utf8.h"

typedef struct xlat_case {
    const char *name, *in, *want;
} xlat_case;

#define USER_HI "{\"role\":\"user\",\"content\":\"hi\"}"

static const xlat_case xlats[] = {
    {"plain string content, parameters in OpenAI's order",
     "{\"model\":\"m\",\"max_tokens\":64,\"temperature\":0.5,\"top_p\":0.9,\"stream\":true,"
     "\"messages\":[" USER_HI "]}",
     "{\"model\":\"m\",\"messages\":[" USER_HI "],\"max_tokens\":64,\"temperature\":0.5,"
     "\"top_p\":0.9,\"stream\":true}"},
    {"system string first", "{\"system\":\"be brief\",\"messages\":[" USER_HI "]}",
     "{\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"}," USER_HI "]}"},
    {"system text blocks as parts, cache_control let go",
     "{\"system\":[{\"type\":\"text\",\"text\":\"a\",\"cache_control\":{\"type\":\"ephemeral\"}},"
     "{\"type\":\"text\",\"text\":\"b\"}],\"messages\":[" USER_HI "]}",
     "{\"messages\":[{\"role\":\"system\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
     "{\"type\":\"text\",\"text\":\"b\"}]}," USER_HI "]}"},
    {"user blocks: text, base64 image, URL image",
     "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"see\"},"
     "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/"
     "png\",\"data\":\"iVBO\"}},"
     "{\"type\":\"image\",\"source\":{\"type\":\"url\",\"url\":\"https://x.test/a.jpg\"}}]}]}",
     "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"see\"},"
     "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBO\"}},"
     "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://x.test/a.jpg\"}}]}]}"},
    {"a PDF document as a file part",
     "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"document\",\"title\":\"r.pdf\","
     "\"source\":{\"type\":\"base64\",\"media_type\":\"application/pdf\",\"data\":\"JVBE\"}}]}]}",
     "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"file\",\"file\":{\"filename\":"
     "\"r.pdf\",\"file_data\":\"data:application/pdf;base64,JVBE\"}}]}]}"},
    {"tool round trip: thinking, text, two tool_use; two results then text",
     "{\"messages\":[" USER_HI ",{\"role\":\"assistant\",\"content\":["
     "{\"type\":\"thinking\",\"thinking\":\"hm\",\"signature\":\"sig\"},"
     "{\"type\":\"text\",\"text\":\"Let me look.\"},"
     "{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_weather\",\"input\":{\"city\": "
     "\"Z\\u00fcrich\", \"n\": [1, 2]}},"
     "{\"type\":\"tool_use\",\"id\":\"toolu_2\",\"name\":\"now\",\"input\":{}}]},"
     "{\"role\":\"user\",\"content\":["
     "{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\",\"content\":\"12 C\"},"
     "{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_2\",\"is_error\":true,"
     "\"content\":[{\"type\":\"text\",\"text\":\"no\"},{\"type\":\"text\",\"text\":\"clock\"}]},"
     "{\"type\":\"text\",\"text\":\"and?\"}]}]}",
     "{\"messages\":[" USER_HI ",{\"role\":\"assistant\",\"content\":[{\"type\":\"text\","
     "\"text\":\"Let me look.\"}],\"tool_calls\":[{\"id\":\"toolu_1\",\"type\":\"function\","
     "\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Z\xc3\xbcrich\\\","
     "\\\"n\\\":[1,2]}\"}},{\"id\":\"toolu_2\",\"type\":\"function\",\"function\":{\"name\":"
     "\"now\",\"arguments\":\"{}\"}}],\"reasoning_content\":\"hm\"},"
     "{\"role\":\"tool\",\"tool_call_id\":\"toolu_1\",\"content\":\"12 C\"},"
     "{\"role\":\"tool\",\"tool_call_id\":\"toolu_2\",\"content\":\"Error: no\\nclock\"},"
     "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"and?\"}]}]}"},
    {"only tool calls: content null; only tool results: no user message",
     "{\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t\","
     "\"name\":\"f\",\"input\":{\"a\":1}}]},{\"role\":\"user\",\"content\":[{\"type\":"
     "\"tool_result\",\"tool_use_id\":\"t\"}]}]}",
     "{\"messages\":[{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"t\","
     "\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"}}]},"
     "{\"role\":\"tool\",\"tool_call_id\":\"t\",\"content\":\"\"}]}"},
    {"tools, tool_choice tool, no parallel calls, stop, user, thinking",
     "{\"messages\":[" USER_HI "],\"stop_sequences\":[\"END\"],\"metadata\":{\"user_id\":\"u1\"},"
     "\"tools\":[{\"name\":\"get_weather\",\"description\":\"Weather\",\"input_schema\":"
     "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}},"
     "\"cache_control\":{\"type\":\"ephemeral\"}},{\"type\":\"custom\",\"name\":\"noop\","
     "\"input_schema\":{\"type\":\"object\"}}],"
     "\"tool_choice\":{\"type\":\"tool\",\"name\":\"get_weather\",\"disable_parallel_tool_use\":"
     "true},"
     "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":10000}}",
     "{\"messages\":[" USER_HI "],\"stop\":[\"END\"],\"user\":\"u1\",\"tools\":[{\"type\":"
     "\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"Weather\","
     "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}},"
     "{\"type\":\"function\",\"function\":{\"name\":\"noop\",\"parameters\":{\"type\":"
     "\"object\"}}}],\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":"
     "\"get_weather\"}},\"parallel_tool_calls\":false,\"reasoning_effort\":\"medium\"}"},
    {"tool_choice any is required",
     "{\"messages\":[" USER_HI "],\"tool_choice\":{\"type\":\"any\"}}",
     "{\"messages\":[" USER_HI "],\"tool_choice\":\"required\"}"},
    {"tool_choice auto and none as they are; thinking disabled says nothing",
     "{\"messages\":[" USER_HI
     "],\"tool_choice\":{\"type\":\"none\"},\"thinking\":{\"type\":\"disabled\"}}",
     "{\"messages\":[" USER_HI "],\"tool_choice\":\"none\"}"},
    {"a system turn between user turns is a system message where it stands",
     "{\"messages\":[" USER_HI ",{\"role\":\"system\",\"content\":[{\"type\":\"text\","
     "\"text\":\"env\",\"cache_control\":{\"type\":\"ephemeral\"}}]}]}",
     "{\"messages\":[" USER_HI ",{\"role\":\"system\",\"content\":[{\"type\":\"text\","
     "\"text\":\"env\"}]}]}"},
    {"adaptive thinking takes output_config's effort (max is OpenAI's high); display and a "
     "no-op context edit (Claude Code's) accepted",
     "{\"messages\":[" USER_HI "],\"thinking\":{\"type\":\"adaptive\",\"display\":\"omitted\"},"
     "\"output_config\":{\"effort\":\"max\"},\"context_management\":{\"edits\":[{\"type\":"
     "\"clear_thinking_20251015\",\"keep\":\"all\"}]}}",
     "{\"messages\":[" USER_HI "],\"reasoning_effort\":\"high\"}"},
    {"a system turn's output_config is in force from there on: its effort wins",
     "{\"messages\":[" USER_HI ",{\"role\":\"system\",\"content\":\"env\",\"output_config\":"
     "{\"effort\":\"low\"}}],\"thinking\":{\"type\":\"adaptive\"},\"output_config\":"
     "{\"effort\":\"high\"}}",
     "{\"messages\":[" USER_HI ",{\"role\":\"system\",\"content\":\"env\"}],"
     "\"reasoning_effort\":\"low\"}"},
    {"adaptive thinking without an effort is medium; an effort alone sets it too",
     "{\"messages\":[" USER_HI "],\"thinking\":{\"type\":\"adaptive\"}}",
     "{\"messages\":[" USER_HI "],\"reasoning_effort\":\"medium\"}"},
    {"output_config: an effort without thinking; a format as a JSON schema response",
     "{\"messages\":[" USER_HI "],\"output_config\":{\"effort\":\"low\",\"format\":{\"type\":"
     "\"json_schema\",\"schema\":{\"type\":\"object\"}}}}",
     "{\"messages\":[" USER_HI "],\"response_format\":{\"type\":\"json_schema\",\"json_schema\":"
     "{\"name\":\"output\",\"schema\":{\"type\":\"object\"},\"strict\":true}},"
     "\"reasoning_effort\":\"low\"}"},
    {"a deferred tool goes upstream only once a tool result references it",
     "{\"messages\":[" USER_HI ",{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\","
     "\"id\":\"t1\",\"name\":\"ToolSearch\",\"input\":{\"query\":\"select:Web\"}}]},"
     "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t1\","
     "\"content\":[{\"type\":\"tool_reference\",\"tool_name\":\"Web\"}]}]}],"
     "\"tools\":[{\"name\":\"ToolSearch\",\"input_schema\":{}},"
     "{\"name\":\"Web\",\"input_schema\":{},\"defer_loading\":true},"
     "{\"name\":\"Cron\",\"input_schema\":{},\"defer_loading\":true}]}",
     "{\"messages\":[" USER_HI ",{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{"
     "\"id\":\"t1\",\"type\":\"function\",\"function\":{\"name\":\"ToolSearch\","
     "\"arguments\":\"{\\\"query\\\":\\\"select:Web\\\"}\"}}]},{\"role\":\"tool\","
     "\"tool_call_id\":\"t1\",\"content\":\"Tool available: Web\"}],\"tools\":["
     "{\"type\":\"function\",\"function\":{\"name\":\"ToolSearch\",\"parameters\":{}}},"
     "{\"type\":\"function\",\"function\":{\"name\":\"Web\",\"parameters\":{}}}]}"},
    {"nulls are absent fields",
     "{\"messages\":[" USER_HI "],\"top_k\":null,\"system\":null,\"metadata\":{\"user_id\":null}}",
     "{\"messages\":[" USER_HI "]}"},
};

START_TEST(translations_exact)
{
    for (size_t i = 0; i < sizeof(xlats) / sizeof(xlats[0]); i++) {
        const xlat_case *tc = &xlats[i];
        char err[256] = "", *out = NULL;
        int rc = anth_in_translate(tc->in, strlen(tc->in), &out, err, sizeof(err));
        ck_assert_msg(rc == 0, "%s: rc %d: %s", tc->name, rc, err);
        ck_assert_msg(!strcmp(out, tc->want), "%s:\ngot  %s\nwant %s", tc->name, out, tc->want);
        free(out);
    }
}
END_TEST

typedef struct refusal {
    const char *in;
    int code;
    const char *names; /* the reason holds this */
} refusal;

static const refusal refusals[] = {
    {"{\"messages\":[" USER_HI "],\"top_k\":5}", ANTH_IN_UNSUPPORTED, "top_k"},
    {"{\"messages\":[" USER_HI "],\"service_tier\":\"auto\"}", ANTH_IN_UNSUPPORTED, "service_tier"},
    {"{\"messages\":[" USER_HI "],\"frobnicate\":1}", ANTH_IN_INVALID, "frobnicate: unknown field"},
    {"{\"messages\":[{\"role\":\"user\",\"content\":\"x\",\"name\":\"n\"}]}", ANTH_IN_INVALID,
     "messages[0].name"},
    {"{\"messages\":[{\"role\":\"tool\",\"content\":\"x\"}]}", ANTH_IN_INVALID, "messages[0].role"},
    {"{\"messages\":[{\"role\":\"system\",\"content\":[{\"type\":\"image\"}]}]}", ANTH_IN_INVALID,
     "messages[0].content[0] must be a text block"},
    {"{\"messages\":[" USER_HI "],\"context_management\":{\"edits\":[{\"type\":"
     "\"clear_tool_uses_20250919\"}]}}",
     ANTH_IN_UNSUPPORTED, "context_management.edits[0]"},
    {"{\"messages\":[" USER_HI "],\"context_management\":{\"edits\":[{\"type\":"
     "\"clear_thinking_20251015\",\"keep\":{\"type\":\"thinking_turns\",\"value\":1}}]}}",
     ANTH_IN_UNSUPPORTED, "context_management.edits[0]"},
    {"{\"messages\":[" USER_HI "],\"output_config\":{\"effort\":\"extreme\"}}", ANTH_IN_INVALID,
     "output_config.effort"},
    {"{\"messages\":[{\"role\":\"system\",\"content\":\"x\",\"output_config\":{\"format\":{}}}]}",
     ANTH_IN_INVALID, "messages[0].output_config.format: unknown field"},
    {"{\"messages\":[{\"role\":\"user\",\"content\":\"x\",\"output_config\":{}}]}", ANTH_IN_INVALID,
     "messages[0].output_config: unknown field"},
    {"{\"messages\":[" USER_HI "],\"thinking\":{\"type\":\"adaptive\",\"display\":\"loud\"}}",
     ANTH_IN_INVALID, "thinking.display"},
    {"{\"messages\":[" USER_HI "],\"tools\":[{\"name\":\"f\",\"input_schema\":{},"
     "\"defer_loading\":1}]}",
     ANTH_IN_INVALID, "tools[0].defer_loading"},
    {"{\"messages\":[]}", ANTH_IN_INVALID, "messages must not be empty"},
    {"{\"model\":\"m\"}", ANTH_IN_INVALID, "messages is required"},
    {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\",\"x\":1}]}]"
     "}",
     ANTH_IN_INVALID, "messages[0].content[0].x"},
    {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image\",\"source\":{\"type\":"
     "\"file\",\"file_id\":\"f\"}}]}]}",
     ANTH_IN_UNSUPPORTED, "messages[0].content[0].source.type file"},
    {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"search_result\"}]}]}",
     ANTH_IN_UNSUPPORTED, "messages[0].content[0].type search_result"},
    {"{\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"redacted_thinking\",\"data\":"
     "\"x\"}]}]}",
     ANTH_IN_UNSUPPORTED, "messages[0].content[0].type redacted_thinking"},
    {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":"
     "\"t\","
     "\"content\":[{\"type\":\"image\",\"source\":{}}]}]}]}",
     ANTH_IN_UNSUPPORTED, "messages[0].content[0].content[0]: a tool result's image block"},
    {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t\",\"name\":"
     "\"f\",\"input\":{}}]}]}",
     ANTH_IN_INVALID, "messages[0].content[0]: a tool_use block belongs in an assistant turn"},
    {"{\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t\","
     "\"name\":\"f\",\"input\":\"{}\"}]}]}",
     ANTH_IN_INVALID, "messages[0].content[0].input must be an object"},
    {"{\"messages\":[" USER_HI
     "],\"tools\":[{\"type\":\"web_search_20250305\",\"name\":\"web_search\"}]}",
     ANTH_IN_UNSUPPORTED, "tools[0].type web_search_20250305"},
    {"{\"messages\":[" USER_HI "],\"tools\":[{\"name\":\"f\"}]}", ANTH_IN_INVALID,
     "tools[0].input_schema"},
    {"{\"messages\":[" USER_HI "],\"tool_choice\":{\"type\":\"tool\"}}", ANTH_IN_INVALID,
     "tool_choice.name"},
    {"{\"messages\":[" USER_HI "],\"tool_choice\":{\"type\":\"sometimes\"}}", ANTH_IN_INVALID,
     "tool_choice.type"},
    {"{\"messages\":[" USER_HI "],\"thinking\":{\"type\":\"enabled\"}}", ANTH_IN_INVALID,
     "thinking.budget_tokens"},
    {"{\"messages\":[" USER_HI "],\"metadata\":{\"session\":\"s\"}}", ANTH_IN_INVALID,
     "metadata.session"},
    {"{\"messages\":[" USER_HI "],\"stop_sequences\":[\"a\",1]}", ANTH_IN_INVALID,
     "stop_sequences"},
    {"{\"messages\":[" USER_HI "],\"stream\":\"yes\"}", ANTH_IN_INVALID,
     "stream must be a boolean"},
    {"{\"messages\":[" USER_HI "],\"temperature\":\"hot\"}", ANTH_IN_INVALID, "temperature"},
    {"{\"messages\":[" USER_HI "],\"system\":[{\"type\":\"image\"}]}", ANTH_IN_INVALID,
     "system[0] must be a text block"},
    {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image\",\"source\":{"
     "\"type\":\"url\",\"url\":\"ftp://x.test/a.jpg\"}}]}]}",
     ANTH_IN_INVALID, "messages[0].content[0].source.url must be an https: URL"},
    {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image\",\"source\":{"
     "\"type\":\"url\",\"url\":\"https://\"}}]}]}",
     ANTH_IN_INVALID, "messages[0].content[0].source.url must be an https: URL"},
    {"{\"messages\":[{\"role\":\"user\",\"content\":[]}]}", ANTH_IN_INVALID,
     "messages[0].content: all messages must have non-empty content"},
    {"{\"messages\":[" USER_HI ",{\"role\":\"assistant\",\"content\":[]}]}", ANTH_IN_INVALID,
     "messages[1].content: all messages must have non-empty content"},
    {"{\"messages\":[" USER_HI "],\"a\\nb\\u0001c\":1}", ANTH_IN_INVALID, "a?b?c: unknown field"},
    {"{\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"\","
     "\"name\":\"f\",\"input\":{}}]}]}",
     ANTH_IN_INVALID, "messages[0].content[0] needs id and name as non-empty strings"},
    {"{\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t\","
     "\"name\":\"\",\"input\":{}}]}]}",
     ANTH_IN_INVALID, "messages[0].content[0] needs id and name as non-empty strings"},
    {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\","
     "\"tool_use_id\":\"\"}]}]}",
     ANTH_IN_INVALID, "messages[0].content[0].tool_use_id must be a non-empty string"},
    {"{\"messages\":[" USER_HI "],\"max_tokens\":-4}", ANTH_IN_INVALID,
     "max_tokens must be an integer from 1 to 1e+07"},
    {"{\"messages\":[" USER_HI "],\"max_tokens\":1.5}", ANTH_IN_INVALID,
     "max_tokens must be an integer from 1 to 1e+07"},
    {"{\"messages\":[" USER_HI "],\"temperature\":1.5}", ANTH_IN_INVALID,
     "temperature must be a number from 0 to 1"},
    {"{\"messages\":[" USER_HI "],\"top_p\":-0.1}", ANTH_IN_INVALID,
     "top_p must be a number from 0 to 1"},
    {"[1]", ANTH_IN_INVALID, "must be a JSON object"},
    {"{\"messages\":", ANTH_IN_INVALID, "not valid JSON"},
    {"{\"messages\":\"\xff\"}", ANTH_IN_INVALID, "not valid UTF-8"},
    /* JSON jsonv takes but cJSON does not read: refused as not valid JSON, not as no memory */
    {"{\"messages\":[{\"role\":\"user\",\"content\":\"\\udc00\"}]}", ANTH_IN_INVALID,
     "request body is not valid JSON"},
};

START_TEST(refusals_name_the_field)
{
    for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
        const refusal *tc = &refusals[i];
        char err[256] = "", *out = NULL;
        int rc = anth_in_translate(tc->in, strlen(tc->in), &out, err, sizeof(err));
        ck_assert_msg(rc == tc->code, "%s: rc %d, want %d (%s)", tc->in, rc, tc->code, err);
        ck_assert_msg(out == NULL, "%s: no output on a refusal", tc->in);
        ck_assert_msg(strstr(err, tc->names), "%s: reason <%s> does not hold <%s>", tc->in, err,
                      tc->names);
    }
}
END_TEST

/* The thinking budget's thresholds, at and around each (Claude Code's "think" budgets
 * 4000, 10000 and 31999 fall one in each). */
START_TEST(effort_thresholds)
{
    static const struct {
        double budget;
        const char *want;
    } t[] = {{1024, "low"},     {4000, "low"},     {4095, "low"},   {4096, "medium"},
             {10000, "medium"}, {16383, "medium"}, {16384, "high"}, {31999, "high"}};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        ck_assert_str_eq(anth_in_effort(t[i].budget), t[i].want);
}
END_TEST

/* A reason longer than err is cut, and never inside a UTF-8 sequence. */
START_TEST(long_reason_cut_between_characters)
{
    char in[600];
    int n = snprintf(in, sizeof(in), "{\"messages\":[" USER_HI "],\"");
    for (int i = 0; i < 100; i++)
        n += snprintf(in + n, sizeof(in) - (size_t)n, "\xc3\xa9");
    snprintf(in + n, sizeof(in) - (size_t)n, "\":1}");
    char err[64], *out = NULL;
    ck_assert_int_eq(anth_in_translate(in, strlen(in), &out, err, sizeof(err)), ANTH_IN_INVALID);
    size_t len = strlen(err);
    ck_assert_uint_le(len, sizeof(err) - 1);
    ck_assert_uint_ge(len, 2);
    ck_assert_msg(utf8_valid(err, len), "cut inside a character: %s", err);
    /* the name itself is cut first, between characters, with the reason after it */
    char big[512];
    ck_assert_int_eq(anth_in_translate(in, strlen(in), &out, big, sizeof(big)), ANTH_IN_INVALID);
    const char *colon = strstr(big, ": unknown field");
    ck_assert_ptr_nonnull(colon);
    ck_assert_uint_lt((size_t)(colon - big), 100);
    ck_assert_uint_eq((size_t)(colon - big) % 2, 0);
    ck_assert_msg(utf8_valid(big, strlen(big)), "cut inside a character: %s", big);
}
END_TEST

int main(void)
{
    return check_tests("anth_in", translations_exact, refusals_name_the_field, effort_thresholds,
                       long_reason_cut_between_characters);
}
