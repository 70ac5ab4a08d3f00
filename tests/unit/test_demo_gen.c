/* Unit tests: the demo model's parts without a server — the tokenizer (tok), the
 * request it reads (ask) and the OpenAI shapes it writes (gen). */
#include <check.h>

#include "check_main.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "demo/answers.h"
#include "demo/ask.h"
#include "demo/demo.h"
#include "demo/gen.h"
#include "demo/tok.h"
#include "utf8.h"

/* ---- tok ---- */

START_TEST(tok_mix_is_splitmix64)
{
    /* splitmix64's first outputs from seed 0: token lengths, jitter and ids follow them. */
    ck_assert_uint_eq(tok_mix(0), 0xe220a8397b1dcdafull);
    ck_assert_uint_eq(tok_mix(0x9e3779b97f4a7c15ull), 0x6e789e6aa1b965f4ull);
}
END_TEST

/* Every answer cut whole: tokens of whole code points within the length rules, nothing
 * lost, the same cut twice. */
START_TEST(tok_every_answer)
{
    for (size_t i = 0; i < demo_answer_count(); i++) {
        const char *a = demo_answer_at(i);
        size_t n = strlen(a), pos = 0;
        long seq = 0;
        while (pos < n) {
            size_t len = tok_len(a + pos, n - pos, seq);
            ck_assert_uint_ge(len, 1);
            ck_assert_uint_le(len, TOK_MAX);
            ck_assert_uint_le(pos + len, n);
            if ((unsigned char)a[pos] < 0x80)
                ck_assert_uint_le(len, 2 + tok_mix((uint64_t)seq) % 5);
            ck_assert_msg(utf8_valid(a + pos, len), "answer %zu, token %ld", i, seq);
            ck_assert_uint_eq(tok_len(a + pos, n - pos, seq), len);
            pos += len;
            seq++;
        }
        ck_assert_uint_eq(pos, n);
        ck_assert_int_gt(seq, 100);
    }
}
END_TEST

/* The length of the first token of s, token number seq. */
static size_t first(const char *s, long seq)
{
    return tok_len(s, strlen(s), seq);
}

START_TEST(tok_cuts_clusters)
{
    /* Extenders and a second regional indicator always start a token of their own. */
    ck_assert_uint_eq(first("👩\u200d💻", 0), 4);
    ck_assert_uint_eq(first("\u200d💻", 0), 7); /* a ZWJ takes the next emoji */
    ck_assert_uint_eq(first("🇯🇵", 0), 4);
    ck_assert_uint_eq(first("👍🏽", 0), 4);
    ck_assert_uint_eq(first("❤\ufe0f", 0), 3);
    ck_assert_uint_eq(first("\u0301 x", 0), 2); /* an extender takes no space */
    ck_assert_uint_eq(first("e\u0301", 0), 1);
    /* A space takes what follows (within the ASCII limit of its token number: 5 for
     * token 3), wide characters join up to 8 bytes. */
    ck_assert_uint_eq(first(" 日本語", 3), 4);
    ck_assert_uint_eq(first(" 日本語", 0), 1);
    ck_assert_uint_eq(first("日本語", 0), 6);
    ck_assert_uint_eq(first("\u0301日本語", 0), 8); /* an extender takes wide characters */
    /* ASCII: words, punctuation, newlines apart, 2 to 6 bytes by the token number. */
    for (long seq = 0; seq < 64; seq++)
        ck_assert_uint_eq(first("abcdefghij", seq), 2 + tok_mix((uint64_t)seq) % 5);
    ck_assert_uint_eq(first("ab, cd", 0), 2);
    ck_assert_uint_eq(first(", cd", 0), 1);
    ck_assert_uint_eq(first("\n\nx", 0), 2);
    ck_assert_uint_eq(first("a", 0), 1);
}
END_TEST

/* ---- ask ---- */

static int parse(const char *body, ask *q, char *err, const char **param)
{
    return ask_parse(body, strlen(body), q, err, param);
}

START_TEST(ask_valid)
{
    ask q;
    char err[ASK_ERR_MAX];
    const char *param;
    /* 4 + 5 + 3 + 5 characters of content (日本 counts 2): 17 / 4 -> 5 prompt tokens. */
    const char *b = "{\"messages\":[{\"role\":\"system\",\"content\":\"kind\"},"
                    "{\"role\":\"user\",\"content\":\"emoji\"},"
                    "{\"role\":\"assistant\",\"content\":\"ok!\"},"
                    "{\"role\":\"user\",\"content\":\"日本 ok\"}],"
                    "\"stream\":true,\"stream_options\":{\"include_usage\":true},"
                    "\"max_tokens\":50,\"max_completion_tokens\":7,\"model\":\"org/m:1\"}";
    ck_assert_int_eq(parse(b, &q, err, &param), 0);
    ck_assert_ptr_eq(q.answer, demo_answer_for("日本 ok")); /* the last user message */
    ck_assert_int_eq(q.prompt_tokens, 5);
    ck_assert_int_eq(q.max_tokens, 7);
    ck_assert_int_eq(q.stream, 1);
    ck_assert_int_eq(q.include_usage, 1);
    ck_assert_str_eq(q.model, "org/m:1");
    /* The defaults. */
    ck_assert_int_eq(parse("{\"messages\":[{\"role\":\"user\",\"content\":\"\"}],\"max_tokens\":4}",
                           &q, err, &param),
                     0);
    ck_assert_ptr_eq(q.answer, demo_answer_at(0));
    ck_assert_int_eq(q.prompt_tokens, 0);
    ck_assert_int_eq(q.max_tokens, 4);
    ck_assert_int_eq(q.stream, 0);
    ck_assert_int_eq(q.include_usage, 0);
    ck_assert_str_eq(q.model, DEMO_MODEL);
    /* No user message at all: the default answer. */
    ck_assert_int_eq(
        parse("{\"messages\":[{\"role\":\"system\",\"content\":\"code\"}]}", &q, err, &param), 0);
    ck_assert_ptr_eq(q.answer, demo_answer_at(0));
    ck_assert_int_eq(q.max_tokens, 0);
}
END_TEST

START_TEST(ask_invalid)
{
    static const struct {
        const char *body, *param;
    } bad[] = {
        {"", NULL},
        {"{", NULL},
        {"[]", NULL},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"\xc3\"}]}", NULL},
        {"{}", "messages"},
        {"{\"messages\":{}}", "messages"},
        {"{\"messages\":[{\"role\":\"tool\",\"content\":\"x\"}]}", "messages"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":[]}]}", "messages"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"model\":7}", "model"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"model\":\"a b\"}", "model"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":-1}", "max_tokens"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_completion_tokens\":2.5}",
         "max_tokens"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":9}", "temperature"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":1}", "stream"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream_options\":{}}",
         "stream_options"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":true,"
         "\"stream_options\":5}",
         "stream_options"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ask q;
        char err[ASK_ERR_MAX];
        const char *param = "unset";
        ck_assert_msg(parse(bad[i].body, &q, err, &param) == -1, "accepted: %s", bad[i].body);
        ck_assert_msg(err[0] != '\0' && utf8_valid(err, strlen(err)), "%s", bad[i].body);
        if (bad[i].param)
            ck_assert_msg(param && strcmp(param, bad[i].param) == 0, "%s: param %s", bad[i].body,
                          param ? param : "null");
        else
            ck_assert_msg(param == NULL, "%s: param %s", bad[i].body, param);
    }
}
END_TEST

/* ---- gen ---- */

#define ID "chatcmpl-ABCDEFGHIJKLMNOPQRSTUVWX"
#define HEAD                                                                                       \
    "data: {\"id\":\"" ID "\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"        \
    "\"model\":\"m-1\","

static void start(gen *g, const char *answer, long max_tokens, int include_usage)
{
    ask q = {.answer = answer,
             .prompt_tokens = 5,
             .max_tokens = max_tokens,
             .stream = 1,
             .include_usage = include_usage};
    snprintf(q.model, sizeof(q.model), "m-1");
    gen_init(g, &q, 42, 1700000000);
    ck_assert_uint_eq(strlen(g->id), GEN_ID_LEN);
    ck_assert(strncmp(g->id, "chatcmpl-", 9) == 0);
    ck_assert_uint_eq(strspn(g->id + 9, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                        "0123456789"),
                      GEN_ID_LEN - 9);
    snprintf(g->id, sizeof(g->id), "%s", ID); /* the rest compares bytes */
}

static void expect(buf *b, const char *want)
{
    ck_assert_msg(buf_len(b) == strlen(want) && memcmp(buf_ptr(b), want, buf_len(b)) == 0,
                  "got  %.*s\nwant %s", (int)buf_len(b), buf_ptr(b), want);
    buf_reset(b);
}

#define ROLE_CHOICE                                                                                \
    "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"               \
    "\"logprobs\":null,\"finish_reason\":null}]"

/* g started on answer, its role chunk written into a fresh b and checked. */
static void start_streaming(gen *g, buf *b, const char *answer, long max_tokens, int include_usage)
{
    buf_init(b, 4096);
    start(g, answer, max_tokens, include_usage);
    ck_assert_int_eq(gen_role(g, b), 0);
    expect(b, include_usage ? HEAD ROLE_CHOICE ",\"usage\":null}\n\n" : HEAD ROLE_CHOICE "}\n\n");
}

START_TEST(gen_ids)
{
    ask q = {.answer = "x"};
    gen a, b, c;
    gen_init(&a, &q, 1, 0);
    gen_init(&b, &q, 1, 0);
    gen_init(&c, &q, 2, 0);
    ck_assert_str_eq(a.id, b.id);
    ck_assert_str_ne(a.id, c.id);
}
END_TEST

START_TEST(gen_stream_events)
{
    gen g;
    buf b;
    start_streaming(&g, &b, "Hi \"you\"\n", 0, 0);
    /* Tokens 0-2 take up to 2 bytes of ASCII, 3-5 up to 5: "Hi", " \"" (a space takes
     * what follows), "yo", "u", "\"" and "\n" (punctuation and newlines apart). */
    const char *want[] = {"Hi", " \\\"", "yo", "u", "\\\"", "\\n"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        char line[512];
        ck_assert(gen_more(&g));
        ck_assert_int_eq(gen_token(&g, &b), 0);
        snprintf(line, sizeof(line),
                 HEAD "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%s\"},"
                      "\"logprobs\":null,\"finish_reason\":null}]}\n\n",
                 want[i]);
        expect(&b, line);
        ck_assert_int_eq(g.tokens, (long)i + 1);
    }
    ck_assert(!gen_more(&g));
    ck_assert_str_eq(gen_finish_reason(&g), "stop");
    ck_assert_int_eq(gen_finish(&g, &b), 0);
    expect(&b, HEAD "\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,"
                    "\"finish_reason\":\"stop\"}]}\n\n");
    ck_assert_int_eq(gen_done(&b), 0);
    expect(&b, "data: [DONE]\n\n");
    buf_free(&b);
}
END_TEST

START_TEST(gen_usage_and_length)
{
    gen g;
    buf b;
    start_streaming(&g, &b, "one two three", 2, 1);
    ck_assert_int_eq(gen_token(&g, &b), 0);
    ck_assert_int_eq(gen_token(&g, &b), 0);
    buf_reset(&b);
    ck_assert(!gen_more(&g)); /* max_tokens reached, text left */
    ck_assert_str_eq(gen_finish_reason(&g), "length");
    ck_assert_int_eq(gen_finish(&g, &b), 0);
    expect(&b, HEAD "\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,"
                    "\"finish_reason\":\"length\"}],\"usage\":null}\n\n");
    ck_assert_int_eq(gen_usage(&g, &b), 0);
    expect(&b, HEAD "\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,"
                    "\"total_tokens\":7}}\n\n");
    buf_free(&b);
}
END_TEST

START_TEST(gen_whole_completion)
{
    gen g;
    buf b;
    buf_init(&b, 4096);
    start(&g, "a\tb\u2028", 0, 0);
    ck_assert_int_eq(gen_completion(&g, &b), 0);
    ck_assert(!gen_more(&g));
    ck_assert_int_gt(g.tokens, 0);
    char want[512];
    snprintf(want, sizeof(want),
             "{\"id\":\"" ID "\",\"object\":\"chat.completion\",\"created\":1700000000,"
             "\"model\":\"m-1\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
             "\"content\":\"a\\tb\\u2028\",\"refusal\":null},\"logprobs\":null,"
             "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":5,"
             "\"completion_tokens\":%ld,\"total_tokens\":%ld}}",
             g.tokens, 5 + g.tokens);
    expect(&b, want);
    /* The same text and token count as the stream of the same answer. */
    gen s;
    start(&s, demo_answer_at(0), 30, 0);
    start(&g, demo_answer_at(0), 30, 0);
    while (gen_more(&s)) {
        ck_assert_int_eq(gen_token(&s, &b), 0);
        buf_reset(&b);
    }
    buf_reset(&b);
    ck_assert_int_eq(gen_completion(&g, &b), 0);
    cJSON *j = cJSON_ParseWithLength(buf_ptr(&b), buf_len(&b));
    ck_assert_ptr_nonnull(j);
    const cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
    const char *text =
        cJSON_GetObjectItem(cJSON_GetObjectItem(c, "message"), "content")->valuestring;
    ck_assert_uint_eq(strlen(text), s.pos);
    ck_assert(strncmp(text, demo_answer_at(0), s.pos) == 0);
    ck_assert_int_eq(g.tokens, 30);
    ck_assert_str_eq(cJSON_GetObjectItem(c, "finish_reason")->valuestring, "length");
    cJSON_Delete(j);
    buf_free(&b);
}
END_TEST

START_TEST(gen_errors)
{
    buf b;
    buf_init(&b, 4096);
    ck_assert_int_eq(gen_error(&b, 400, "bad \"x\"\n", "messages"), 0);
    expect(&b, "{\"error\":{\"message\":\"bad \\\"x\\\"\\n\",\"type\":\"invalid_request_error\","
               "\"param\":\"messages\",\"code\":null}}");
    ck_assert_int_eq(gen_error(&b, 500, "oops", NULL), 0);
    expect(&b, "{\"error\":{\"message\":\"oops\",\"type\":\"server_error\",\"param\":null,"
               "\"code\":null}}");
    buf_free(&b);
}
END_TEST

/* An encoder over the cap appends nothing and, for a token, does not advance. */
/* An encoder went over the cap after "keep" was written: it said -1, set the buf's error
 * and took its bytes back. Then "keep" again, for the next one. */
static void check_full(buf *b, int rc)
{
    ck_assert_int_eq(rc, -1);
    ck_assert(buf_failed(b));
    ck_assert_uint_eq(buf_len(b), 4);
    ck_assert(memcmp(buf_ptr(b), "keep", 4) == 0);
    buf_reset(b);
    ck_assert_int_eq(buf_addstr(b, "keep"), 0);
}

START_TEST(gen_full_buffer)
{
    gen g;
    buf b;
    buf_init(&b, 150); /* "keep" and about 110 bytes of a chunk's head */
    start(&g, "Hello there", 0, 1);
    ck_assert_int_eq(buf_addstr(&b, "keep"), 0);
    check_full(&b, gen_token(&g, &b));
    ck_assert_uint_eq(g.pos, 0); /* a token that did not go out is not spent */
    ck_assert_int_eq(g.tokens, 0);
    check_full(&b, gen_role(&g, &b));
    check_full(&b, gen_finish(&g, &b));
    check_full(&b, gen_usage(&g, &b));
    check_full(&b, gen_error(&b, 400,
                             "a message long enough to go over the cap of this buffer "
                             "with the error object around it, more than 150 bytes",
                             NULL));
    check_full(&b, gen_completion(&g, &b));
    /* The error is sticky: even what would fit fails until a reset. */
    ck_assert_int_eq(buf_reserve(&b, 1000), -1);
    check_full(&b, gen_done(&b));
    buf_reset(&b);
    ck_assert_int_eq(gen_done(&b), 0);
    expect(&b, "data: [DONE]\n\n");
    buf_free(&b);
}
END_TEST

START_TEST(gen_delays)
{
    gen g;
    int seen[41] = {0}, kinds = 0;
    start(&g, "x", 0, 0);
    for (g.tokens = 0; g.tokens < 500; g.tokens++) {
        unsigned d = gen_delay(&g, 100);
        ck_assert_uint_ge(d, 80);
        ck_assert_uint_le(d, 120);
        ck_assert_uint_eq(gen_delay(&g, 100), d);
        ck_assert_uint_eq(gen_delay(&g, 0), 0);
        kinds += !seen[d - 80]++;
    }
    ck_assert_int_gt(kinds, 30); /* jitter, not a constant */
}
END_TEST

int main(void)
{
    return check_tests("demo_gen", tok_mix_is_splitmix64, tok_every_answer, tok_cuts_clusters,
                       ask_valid, ask_invalid, gen_ids, gen_stream_events, gen_usage_and_length,
                       gen_whole_completion, gen_errors, gen_full_buffer, gen_delays);
}
