/* Unit tests: encode — a read chunk written as chatd's native event stream, as OpenAI
 * chunks, or as one OpenAI object, byte for byte. The chunks are built by hand here, so
 * these tests need no store. */
#include <check.h>

#include "check_main.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "lim.h"

#define R STREAM_REASONING_BIT

static stream_info info_of(const char *id, const char *model)
{
    stream_info in;
    memset(&in, 0, sizeof(in));
    snprintf(in.id, sizeof(in.id), "%s", id);
    snprintf(in.model, sizeof(in.model), "%s", model);
    in.created = 1700000000;
    return in;
}

/* A chunk of clusters from first_id on: texts[i] (reasoning when kinds[i]). */
static void chunk_of(stream_chunk *ch, uint64_t first_id, const char *const *texts,
                     const int *kinds, size_t n)
{
    stream_chunk_init(ch, 1 << 20);
    ch->phase = STREAM_STARTED;
    ch->first_id = first_id;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(texts[i]);
        uint16_t l = (uint16_t)(len | (kinds && kinds[i] ? R : 0));
        ck_assert_int_eq(buf_add(&ch->text, texts[i], len), 0);
        ck_assert_int_eq(buf_add(&ch->lens, &l, sizeof(l)), 0);
    }
    ch->n = n;
}

static void term_done(stream_chunk *ch, const char *finish, long prompt, long completion)
{
    ch->has_term = 1;
    memset(&ch->term, 0, sizeof(ch->term));
    ch->term.kind = STREAM_TERM_DONE;
    snprintf(ch->term.finish_reason, sizeof(ch->term.finish_reason), "%s", finish);
    ch->term.prompt_tokens = prompt;
    ch->term.completion_tokens = completion;
}

static void term_error(stream_chunk *ch, const char *type, const char *msg, int status)
{
    ch->has_term = 1;
    memset(&ch->term, 0, sizeof(ch->term));
    ch->term.kind = STREAM_TERM_ERROR;
    ch->term.prompt_tokens = ch->term.completion_tokens = -1;
    snprintf(ch->term.type, sizeof(ch->term.type), "%s", type);
    snprintf(ch->term.msg, sizeof(ch->term.msg), "%s", msg);
    ch->term.status = status;
}

/* out's bytes must be want's, exactly. */
static void assert_bytes_of(const buf *out, const char *want, const char *what)
{
    size_t n = strlen(want);
    if (buf_len(out) != n || memcmp(buf_ptr(out), want, n) != 0)
        ck_abort_msg("%s:\ngot  <%.*s>\nwant <%s>", what, (int)buf_len(out), buf_ptr(out), want);
}
#define assert_bytes(out, want) assert_bytes_of(out, want, "output")

#define NATIVE_START "retry: 3000\n\nid: 0\nevent: start\ndata: {\"stream_id\":\"abc\",\"model\":\"m\"}\n\n"
#define OAI_HEAD                                                                                   \
    "data: {\"id\":\"chatcmpl-abc\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"   \
    "\"model\":\"m\""
#define OAI_ROLE OAI_HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n"

/* A chunk of clusters from id 1 and a terminal, written whole in one format. */
typedef struct enc_case {
    const char *name;
    enc_fmt fmt; /* ENC_OAI_JSON: enc_whole */
    int include_usage;
    const char *texts[4];
    int kinds[4]; /* 1: reasoning */
    size_t n;
    int error;           /* the terminal: done (0) or error (1) */
    const char *reason;  /* done's finish reason, or the error's type */
    long prompt, completion; /* done's usage */
    const char *msg;     /* the error's message and status */
    int status;
    const char *want;
} enc_case;

static const enc_case formats[] = {
    {"native: start, reasoning, deltas, done", ENC_NATIVE, 0, {"hm", "H", "\xc3\xa9"}, {1, 0, 0},
     3, 0, "stop", -1, -1, NULL, 0,
     NATIVE_START "id: 1\nevent: reasoning\ndata: {\"text\":\"hm\"}\n\n"
                  "id: 2\nevent: delta\ndata: {\"text\":\"H\"}\n\n"
                  "id: 3\nevent: delta\ndata: {\"text\":\"\xc3\xa9\"}\n\n"
                  "id: 4\nevent: done\ndata: {\"finish_reason\":\"stop\"}\n\n"},
    {"native: done with usage", ENC_NATIVE, 0, {0}, {0}, 0, 0, "length", 3, 4, NULL, 0,
     NATIVE_START "id: 1\nevent: done\ndata: {\"finish_reason\":\"length\","
                  "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}\n\n"},
    {"native: error without status", ENC_NATIVE, 0, {"x"}, {0}, 1, 1, "upstream_error", -1, -1,
     "boom", 0,
     NATIVE_START "id: 1\nevent: delta\ndata: {\"text\":\"x\"}\n\n"
                  "id: 2\nevent: error\ndata: {\"error\":{\"type\":\"upstream_error\","
                  "\"message\":\"boom\"}}\n\n"},
    {"native: error with status", ENC_NATIVE, 0, {"x"}, {0}, 1, 1, "upstream_error", -1, -1,
     "boom", 502,
     NATIVE_START "id: 1\nevent: delta\ndata: {\"text\":\"x\"}\n\n"
                  "id: 2\nevent: error\ndata: {\"error\":{\"type\":\"upstream_error\","
                  "\"message\":\"boom\",\"status\":502}}\n\n"},
    {"oai: chunks", ENC_OAI_SSE, 0, {"th", "h\xc3\xa9"}, {1, 0}, 2, 0, "stop", 2, 5, NULL, 0,
     OAI_ROLE
     OAI_HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"th\"},\"finish_reason\":null}]}\n\n"
     OAI_HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"h\xc3\xa9\"},\"finish_reason\":null}]}\n\n"
     OAI_HEAD ",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
     "data: [DONE]\n\n"},
    {"oai: include_usage", ENC_OAI_SSE, 1, {0}, {0}, 0, 0, "length", 2, 5, NULL, 0,
     OAI_ROLE
     OAI_HEAD ",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}]}\n\n"
     OAI_HEAD ",\"choices\":[],\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":5,\"total_tokens\":7}}\n\n"
     "data: [DONE]\n\n"},
    /* usage unknown: zeros, never -1 */
    {"oai: include_usage, usage unknown", ENC_OAI_SSE, 1, {0}, {0}, 0, 0, "stop", -1, -1, NULL, 0,
     OAI_ROLE
     OAI_HEAD ",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
     OAI_HEAD ",\"choices\":[],\"usage\":{\"prompt_tokens\":0,\"completion_tokens\":0,\"total_tokens\":0}}\n\n"
     "data: [DONE]\n\n"},
    /* no [DONE] and no usage after an error */
    {"oai: error chunk", ENC_OAI_SSE, 1, {"p"}, {0}, 1, 1, "rate_limited", -1, -1, "slow down", 429,
     OAI_ROLE
     OAI_HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"p\"},\"finish_reason\":null}]}\n\n"
     "data: {\"error\":{\"message\":\"slow down\",\"type\":\"rate_limit_error\","
     "\"param\":null,\"code\":\"rate_limited\"}}\n\n"},
    {"whole: with reasoning", ENC_OAI_JSON, 0, {"I", "think", "Hi", "!"}, {1, 1, 0, 0}, 4, 0,
     "stop", 2, 5, NULL, 0,
     "{\"id\":\"chatcmpl-abc\",\"object\":\"chat.completion\",\"created\":1700000000,"
     "\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
     "\"content\":\"Hi!\",\"reasoning_content\":\"Ithink\"},\"logprobs\":null,"
     "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":2,"
     "\"completion_tokens\":5,\"total_tokens\":7}}"},
    {"whole: plain", ENC_OAI_JSON, 0, {"ok"}, {0}, 1, 0, "length", -1, -1, NULL, 0,
     "{\"id\":\"chatcmpl-abc\",\"object\":\"chat.completion\",\"created\":1700000000,"
     "\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
     "\"content\":\"ok\"},\"logprobs\":null,\"finish_reason\":\"length\"}],"
     "\"usage\":{\"prompt_tokens\":0,\"completion_tokens\":0,\"total_tokens\":0}}"},
    {"whole: error", ENC_OAI_JSON, 0, {"ok"}, {0}, 1, 1, "upstream_timeout", -1, -1, "too slow", 0,
     "{\"error\":{\"message\":\"too slow\",\"type\":\"server_error\","
     "\"param\":null,\"code\":\"upstream_timeout\"}}"},
};

/* Each case's chunk, written by a fresh encoder (or enc_whole) in one call, is exactly its
 * bytes; a streamed one ends the response and moves the reader past the terminal. */
START_TEST(formats_exact)
{
    stream_info in = info_of("abc", "m");
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        const enc_case *tc = &formats[i];
        stream_chunk ch;
        chunk_of(&ch, 1, tc->texts, tc->kinds, tc->n);
        if (tc->error)
            term_error(&ch, tc->reason, tc->msg, tc->status);
        else
            term_done(&ch, tc->reason, tc->prompt, tc->completion);
        buf out;
        buf_init(&out, 1 << 20);
        if (tc->fmt == ENC_OAI_JSON) {
            ck_assert_msg(enc_whole(&in, &ch, &out) == 0, "%s", tc->name);
        } else {
            enc c;
            ck_assert_int_eq(enc_init(&c, tc->fmt, tc->include_usage, &in), 0);
            ck_assert_msg(enc_chunk(&c, &in, &ch, &out) == 1, "%s", tc->name);
            ck_assert_msg(c.next_id == tc->n + 2, "%s: next_id %llu", tc->name,
                          (unsigned long long)c.next_id);
            enc_free(&c);
        }
        assert_bytes_of(&out, tc->want, tc->name);
        buf_free(&out);
        stream_chunk_free(&ch);
    }
}
END_TEST

/* The retry line opens a response once, however many chunks follow; a resumed reader
 * (next_id set past the start) gets it too, and no start event. */
START_TEST(native_retry_line_once)
{
    stream_info in = info_of("abc", "m");
    const char *a[] = {"a"}, *b[] = {"b"};
    stream_chunk c1, c2, empty;
    chunk_of(&c1, 1, a, NULL, 1);
    chunk_of(&c2, 2, b, NULL, 1);
    chunk_of(&empty, 3, NULL, NULL, 0);
    enc c;
    enc_init(&c, ENC_NATIVE, 0, &in);
    buf out;
    buf_init(&out, 1 << 20);
    ck_assert_int_eq(enc_chunk(&c, &in, &c1, &out), 0);
    ck_assert_int_eq(enc_chunk(&c, &in, &c2, &out), 0);
    ck_assert_int_eq(enc_chunk(&c, &in, &empty, &out), 0);
    assert_bytes(&out, NATIVE_START "id: 1\nevent: delta\ndata: {\"text\":\"a\"}\n\n"
                                    "id: 2\nevent: delta\ndata: {\"text\":\"b\"}\n\n");
    enc_free(&c);
    buf_reset(&out);
    enc_init(&c, ENC_NATIVE, 0, &in);
    c.next_id = 2; /* resumed after event 1 */
    ck_assert_int_eq(enc_chunk(&c, &in, &c2, &out), 0);
    assert_bytes(&out, "retry: 3000\n\nid: 2\nevent: delta\ndata: {\"text\":\"b\"}\n\n");
    buf_free(&out);
    enc_free(&c);
    stream_chunk_free(&c1);
    stream_chunk_free(&c2);
    stream_chunk_free(&empty);
}
END_TEST

/* Clusters before the reader's position are skipped; the terminal event is written only
 * when the reader has every cluster before it. */
START_TEST(chunk_overlap_and_gap)
{
    stream_info in = info_of("abc", "m");
    const char *t[] = {"a", "b", "c"};
    stream_chunk ch;
    chunk_of(&ch, 1, t, NULL, 3);
    term_done(&ch, "stop", -1, -1);
    enc c;
    enc_init(&c, ENC_NATIVE, 0, &in);
    c.next_id = 3;
    c.retry_sent = 1;
    buf out;
    buf_init(&out, 1 << 20);
    ck_assert_int_eq(enc_chunk(&c, &in, &ch, &out), 1);
    assert_bytes(&out, "id: 3\nevent: delta\ndata: {\"text\":\"c\"}\n\n"
                       "id: 4\nevent: done\ndata: {\"finish_reason\":\"stop\"}\n\n");
    /* a chunk that starts after the reader's position: nothing, and no terminal */
    buf_reset(&out);
    enc_free(&c);
    enc_init(&c, ENC_NATIVE, 0, &in);
    c.next_id = 1;
    c.retry_sent = 1;
    stream_chunk later;
    chunk_of(&later, 2, t + 1, NULL, 2);
    term_done(&later, "stop", -1, -1);
    ck_assert_int_eq(enc_chunk(&c, &in, &later, &out), 0);
    ck_assert_uint_eq(buf_len(&out), 0);
    ck_assert_uint_eq(c.next_id, 1);
    buf_free(&out);
    enc_free(&c);
    stream_chunk_free(&ch);
    stream_chunk_free(&later);
}
END_TEST

/* Quotes, backslashes, control characters, DEL and U+2028/2029 are escaped in every
 * string every format writes: texts, the model, finish reasons and error messages. */
START_TEST(escaping)
{
    stream_info in = info_of("abc", "m\"\\\x01");
    const char *t[] = {"\"", "\\", "\n", "\r", "\t", "\x01", "\x1f", "\x7f", "\xe2\x80\xa8",
                       "\xe2\x80\xa9", "</"};
    stream_chunk ch;
    chunk_of(&ch, 1, t, NULL, 11);
    term_error(&ch, "upstream_error", "a\"b\n\x02", 0);
    enc c;
    enc_init(&c, ENC_NATIVE, 0, &in);
    buf out;
    buf_init(&out, 1 << 20);
    ck_assert_int_eq(enc_chunk(&c, &in, &ch, &out), 1);
    assert_bytes(&out,
                 "retry: 3000\n\nid: 0\nevent: start\ndata: {\"stream_id\":\"abc\","
                 "\"model\":\"m\\\"\\\\\\u0001\"}\n\n"
                 "id: 1\nevent: delta\ndata: {\"text\":\"\\\"\"}\n\n"
                 "id: 2\nevent: delta\ndata: {\"text\":\"\\\\\"}\n\n"
                 "id: 3\nevent: delta\ndata: {\"text\":\"\\n\"}\n\n"
                 "id: 4\nevent: delta\ndata: {\"text\":\"\\r\"}\n\n"
                 "id: 5\nevent: delta\ndata: {\"text\":\"\\t\"}\n\n"
                 "id: 6\nevent: delta\ndata: {\"text\":\"\\u0001\"}\n\n"
                 "id: 7\nevent: delta\ndata: {\"text\":\"\\u001f\"}\n\n"
                 "id: 8\nevent: delta\ndata: {\"text\":\"\\u007f\"}\n\n"
                 "id: 9\nevent: delta\ndata: {\"text\":\"\\u2028\"}\n\n"
                 "id: 10\nevent: delta\ndata: {\"text\":\"\\u2029\"}\n\n"
                 "id: 11\nevent: delta\ndata: {\"text\":\"</\"}\n\n"
                 "id: 12\nevent: error\ndata: {\"error\":{\"type\":\"upstream_error\","
                 "\"message\":\"a\\\"b\\n\\u0002\"}}\n\n");
    enc_free(&c);
    /* the OpenAI formats escape the model in their head and the finish reason */
    buf_reset(&out);
    term_done(&ch, "st\"op\x03", -1, -1);
    ck_assert_int_eq(enc_init(&c, ENC_OAI_SSE, 0, &in), 0);
    stream_chunk none;
    chunk_of(&none, 1, NULL, NULL, 0);
    none.has_term = 1;
    none.term = ch.term;
    ck_assert_int_eq(enc_chunk(&c, &in, &none, &out), 1);
    const char *h = "data: {\"id\":\"chatcmpl-abc\",\"object\":\"chat.completion.chunk\","
                    "\"created\":1700000000,\"model\":\"m\\\"\\\\\\u0001\"";
    buf want;
    buf_init(&want, 1 << 20);
    buf_addf(&want,
             "%s,\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
             "\"finish_reason\":null}]}\n\n"
             "%s,\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"st\\\"op\\u0003\"}]}\n\n"
             "data: [DONE]\n\n",
             h, h);
    char *w = buf_take(&want);
    assert_bytes(&out, w);
    free(w);
    buf_reset(&out);
    ck_assert_int_eq(enc_whole(&in, &none, &out), 0);
    w = buf_take(&out);
    ck_assert_ptr_nonnull(strstr(w, ",\"model\":\"m\\\"\\\\\\u0001\","));
    ck_assert_ptr_nonnull(strstr(w, "\"finish_reason\":\"st\\\"op\\u0003\"}"));
    free(w);
    buf_free(&out);
    enc_free(&c);
    stream_chunk_free(&ch);
    stream_chunk_free(&none);
}
END_TEST

/* enc_per_event bounds what one cluster's event adds to its escaped text, in each
 * streamed format, with the longest model name escaped as much as a request allows and
 * the largest ids: a reader sizes its reads with it. */
START_TEST(per_event_bounds_the_framing)
{
    char model[257];
    memset(model, '\\', 256);
    model[256] = '\0';
    stream_info in = info_of("0123456789abcdef01234567", model);
    const char *t[] = {"x"};
    for (int f = 0; f < 2; f++) {
        for (int k = 0; k < 2; k++) {
            stream_chunk ch;
            chunk_of(&ch, UINT64_MAX - 1, t, &k, 1);
            enc c;
            ck_assert_int_eq(enc_init(&c, f ? ENC_OAI_SSE : ENC_NATIVE, 1, &in), 0);
            c.next_id = UINT64_MAX - 1;
            c.retry_sent = 1;
            buf out;
            buf_init(&out, 1 << 20);
            ck_assert_int_eq(enc_chunk(&c, &in, &ch, &out), 0);
            ck_assert_uint_gt(buf_len(&out), 0);
            ck_assert_msg(buf_len(&out) - 1 <= enc_per_event(&c),
                          "format %d kind %d: %zu bytes of framing, enc_per_event says %zu", f, k,
                          buf_len(&out) - 1, enc_per_event(&c));
            buf_free(&out);
            enc_free(&c);
            stream_chunk_free(&ch);
        }
    }
}
END_TEST

/* A full out buffer is a cap error (-1) and never leaves half an event behind; the
 * reader's position stays on the event that did not fit. */
START_TEST(full_out_is_cap_error)
{
    stream_info in = info_of("abc", "m");
    const char *t[] = {"a", "b"};
    stream_chunk ch;
    chunk_of(&ch, 1, t, NULL, 2);
    term_done(&ch, "stop", -1, -1);
    enc c;
    enc_init(&c, ENC_NATIVE, 0, &in);
    buf out;
    size_t fits = strlen(NATIVE_START "id: 1\nevent: delta\ndata: {\"text\":\"a\"}\n\n");
    buf_init(&out, fits + 10);
    ck_assert_int_eq(enc_chunk(&c, &in, &ch, &out), -1);
    assert_bytes(&out, NATIVE_START "id: 1\nevent: delta\ndata: {\"text\":\"a\"}\n\n");
    ck_assert_uint_eq(c.next_id, 2);
    /* room again: the rest follows, without a second retry line or start */
    buf_reset(&out);
    ck_assert_int_eq(enc_chunk(&c, &in, &ch, &out), 1);
    assert_bytes(&out, "id: 2\nevent: delta\ndata: {\"text\":\"b\"}\n\n"
                       "id: 3\nevent: done\ndata: {\"finish_reason\":\"stop\"}\n\n");
    buf_free(&out);
    enc_free(&c);
    stream_chunk_free(&ch);
}
END_TEST

/* ---- Anthropic's formats, from log entries of every kind ---- */

typedef struct entry {
    int kind;
    const char *p;
    size_t n;
} entry;
#define E(kind, lit)                                                                               \
    {                                                                                              \
        kind, lit, sizeof(lit) - 1                                                                 \
    }

static void log_chunk(stream_chunk *ch, const entry *e, size_t n)
{
    stream_chunk_init(ch, 1 << 20);
    ch->phase = STREAM_STARTED;
    ch->first_id = 1;
    for (size_t i = 0; i < n; i++) {
        uint16_t l = (uint16_t)(e[i].n | ((unsigned)e[i].kind << STREAM_KIND_SHIFT));
        ck_assert_int_eq(buf_add(&ch->text, e[i].p, e[i].n), 0);
        ck_assert_int_eq(buf_add(&ch->lens, &l, sizeof(l)), 0);
    }
    ch->n = n;
}

/* thinking, text, a call whose arguments come in three fragments (one empty), text after
 * it, a call without arguments */
static const entry answer[] = {
    E(STREAM_KIND_REASONING, "hm"),     E(STREAM_KIND_TEXT, "H"),
    E(STREAM_KIND_TOOL, "\0call_1\0f"), E(STREAM_KIND_TOOL_ARGS, "\0{\"a\":"),
    E(STREAM_KIND_TOOL_ARGS, "\0"),     E(STREAM_KIND_TOOL_ARGS, "\0 1}"),
    E(STREAM_KIND_TEXT, "\xc3\xa9"),    E(STREAM_KIND_TOOL, "\1call_2\0g"),
};
#define N_ANSWER (sizeof(answer) / sizeof(answer[0]))

#define AEV(name, json) "event: " name "\ndata: " json "\n\n"
#define ABLOCK(i, cb)                                                                              \
    AEV("content_block_start",                                                                     \
        "{\"type\":\"content_block_start\",\"index\":" #i ",\"content_block\":" cb "}")
#define ADELTA(i, d)                                                                               \
    AEV("content_block_delta",                                                                     \
        "{\"type\":\"content_block_delta\",\"index\":" #i ",\"delta\":" d "}")
#define ASTOP(i) AEV("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":" #i "}")

/* The whole answer in one read: message_start carries the input tokens (the end is
 * known), each kind its own block, arguments at the call's block, the empty fragment
 * left out, the end. */
START_TEST(anthropic_stream_from_log)
{
    stream_info in = info_of("abc", "m");
    stream_chunk ch;
    log_chunk(&ch, answer, N_ANSWER);
    term_done(&ch, "tool_calls", 5, 7);
    enc c;
    ck_assert_int_eq(enc_init(&c, ENC_ANTH_SSE, 0, &in), 0);
    buf out;
    buf_init(&out, 1 << 20);
    ck_assert_int_eq(enc_chunk(&c, &in, &ch, &out), 1);
    ck_assert_uint_eq(c.next_id, N_ANSWER + 2);
    assert_bytes(
        &out,
        AEV("message_start",
            "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_abc\",\"type\":"
            "\"message\",\"role\":\"assistant\",\"model\":\"m\",\"content\":[],"
            "\"stop_reason\":null,\"stop_sequence\":null,\"usage\":"
            "{\"input_tokens\":5,\"output_tokens\":0}}}") AEV("ping", "{\"type\":\"ping\"}")
            ABLOCK(0, "{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}")
                ADELTA(0, "{\"type\":\"thinking_delta\",\"thinking\":\"hm\"}") ASTOP(0) ABLOCK(
                    1, "{\"type\":\"text\",\"text\":\"\"}")
                    ADELTA(1, "{\"type\":\"text_delta\",\"text\":\"H\"}") ASTOP(1) ABLOCK(
                        2, "{\"type\":\"tool_use\",\"id\":\"call_1\",\"name\":\"f\",\"input\":{}}")
                        ADELTA(2,
                               "{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\":\"}")
                            ADELTA(2, "{\"type\":\"input_json_delta\",\"partial_json\":\" 1}\"}")
                                ASTOP(2) ABLOCK(3, "{\"type\":\"text\",\"text\":\"\"}") ADELTA(
                                    3, "{\"type\":\"text_delta\",\"text\":\"\xc3\xa9\"}") ASTOP(3)
                                    ABLOCK(4, "{\"type\":\"tool_use\",\"id\":\"call_2\",\"name\":"
                                              "\"g\",\"input\":{}}") ASTOP(4)
                                        AEV("message_delta",
                                            "{\"type\":\"message_delta\",\"delta\":{\"stop_"
                                            "reason\":\"tool_use\","
                                            "\"stop_sequence\":null},\"usage\":{\"input_tokens\":5,"
                                            "\"output_tokens\":7}}")
                                            AEV("message_stop", "{\"type\":\"message_stop\"}"));
    buf_free(&out);
    enc_free(&c);
    stream_chunk_free(&ch);
}
END_TEST

/* Read in pieces of one entry: the same bytes as in one read (the block state lives in
 * the enc between reads), except the input tokens message_start could not know yet. */
START_TEST(anthropic_stream_in_pieces)
{
    stream_info in = info_of("abc", "m");
    stream_chunk whole;
    log_chunk(&whole, answer, N_ANSWER);
    term_done(&whole, "tool_calls", -1, 7);
    enc c1, c2;
    enc_init(&c1, ENC_ANTH_SSE, 0, &in);
    enc_init(&c2, ENC_ANTH_SSE, 0, &in);
    buf a, b;
    buf_init(&a, 1 << 20);
    buf_init(&b, 1 << 20);
    ck_assert_int_eq(enc_chunk(&c1, &in, &whole, &a), 1);
    for (size_t i = 0; i <= N_ANSWER; i++) {
        stream_chunk one;
        log_chunk(&one, answer + i, i < N_ANSWER);
        one.first_id = i + 1;
        if (i == N_ANSWER)
            term_done(&one, "tool_calls", -1, 7);
        ck_assert_int_eq(enc_chunk(&c2, &in, &one, &b), i == N_ANSWER);
        stream_chunk_free(&one);
    }
    ck_assert_uint_eq(buf_len(&a), buf_len(&b));
    ck_assert(!memcmp(buf_ptr(&a), buf_ptr(&b), buf_len(&a)));
    buf_free(&a);
    buf_free(&b);
    enc_free(&c1);
    enc_free(&c2);
    stream_chunk_free(&whole);
}
END_TEST

/* stream:false: runs of one kind as one block, tool_use input from the assembled
 * arguments ("" is {}), usage zeros when unknown. */
START_TEST(anthropic_whole_from_log)
{
    stream_info in = info_of("abc", "m");
    stream_chunk ch;
    log_chunk(&ch, answer, N_ANSWER);
    term_done(&ch, "tool_calls", -1, -1);
    buf out;
    buf_init(&out, 1 << 20);
    ck_assert_int_eq(enc_whole_as(ENC_ANTH_JSON, &in, &ch, &out), 0);
    assert_bytes(&out,
                 "{\"id\":\"msg_abc\",\"type\":\"message\",\"role\":\"assistant\",\"model\":"
                 "\"m\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"hm\",\"signature\":"
                 "\"\"},{\"type\":\"text\",\"text\":\"H\"},{\"type\":\"tool_use\",\"id\":"
                 "\"call_1\",\"name\":\"f\",\"input\":{\"a\": 1}},{\"type\":\"text\",\"text\":"
                 "\"\xc3\xa9\"},{\"type\":\"tool_use\",\"id\":\"call_2\",\"name\":\"g\","
                 "\"input\":{}}],\"stop_reason\":\"tool_use\",\"stop_sequence\":null,"
                 "\"usage\":{\"input_tokens\":0,\"output_tokens\":0}}");
    buf_free(&out);
    stream_chunk_free(&ch);
}
END_TEST

/* Arguments that are not a JSON object cannot be a tool_use input: an error body, and 1
 * (the reader answers 502); an error end is Anthropic's error object. */
START_TEST(anthropic_whole_refusals)
{
    stream_info in = info_of("abc", "m");
    static const entry bad[] = {E(STREAM_KIND_TOOL, "\0c\0f"), E(STREAM_KIND_TOOL_ARGS, "\0[1]")};
    stream_chunk ch;
    log_chunk(&ch, bad, 2);
    term_done(&ch, "tool_calls", -1, -1);
    buf out;
    buf_init(&out, 1 << 20);
    ck_assert_int_eq(enc_whole_as(ENC_ANTH_JSON, &in, &ch, &out), 1);
    ck_assert(
        !strncmp(buf_ptr(&out), "{\"type\":\"error\",\"error\":{\"type\":\"api_error\",", 44));
    buf_reset(&out);
    term_error(&ch, "upstream_timeout", "too slow", 0);
    ck_assert_int_eq(enc_whole_as(ENC_ANTH_JSON, &in, &ch, &out), 0);
    assert_bytes(
        &out, "{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"too slow\"}}");
    buf_free(&out);
    stream_chunk_free(&ch);
}
END_TEST

/* Interleaved calls and text after them, with more held than one step of the end: the
 * terminal event takes several enc_chunk calls (0 until the last, next_id staying at the
 * end), each with an emptied out as the reader's, and the pieces are anth_out's bytes. */
START_TEST(anthropic_held_end_in_pieces)
{
    stream_info in = info_of("abc", "m");
    enum { N = 2 + 600 };
    entry e[N];
    e[0] = (entry)E(STREAM_KIND_TOOL, "\0c1\0f");
    e[1] = (entry)E(STREAM_KIND_TOOL, "\1c2\0g");
    for (int i = 2; i < N; i++)
        e[i] = (entry)E(STREAM_KIND_TEXT, "x");
    stream_chunk ch;
    log_chunk(&ch, e, N);
    term_done(&ch, "tool_calls", 1, 2);
    enc c;
    ck_assert_int_eq(enc_init(&c, ENC_ANTH_SSE, 0, &in), 0);
    buf out, all, want;
    buf_init(&out, LIM_READER_OUT);
    buf_init(&all, 1 << 20);
    buf_init(&want, 1 << 20);
    int rc, calls = 0;
    while ((rc = enc_chunk(&c, &in, &ch, &out)) == 0) {
        ck_assert_uint_gt(buf_len(&out), 0);
        ck_assert_uint_eq(c.next_id, N + 1);
        buf_add(&all, buf_ptr(&out), buf_len(&out));
        buf_reset(&out);
        ck_assert_int_lt(++calls, 100);
    }
    ck_assert_int_eq(rc, 1);
    ck_assert_int_ge(calls, 2);
    ck_assert_uint_eq(c.next_id, N + 2);
    buf_add(&all, buf_ptr(&out), buf_len(&out));
    anth_stream s;
    anth_stream_init(&s, 1 << 20);
    anth_message_start(&want, "abc", "m", 1);
    anth_tool(&s, &want, 0, "c1", 2, "f", 1);
    anth_tool(&s, &want, 1, "c2", 2, "g", 1);
    for (int i = 2; i < N; i++)
        anth_text(&s, &want, 0, "x", 1);
    while (anth_done(&s, &want, "tool_calls", 1, 2) == 0)
        ;
    ck_assert_int_eq(buf_failed(&want), 0);
    ck_assert_int_eq(buf_failed(&all), 0);
    ck_assert_uint_eq(buf_len(&all), buf_len(&want));
    ck_assert(!memcmp(buf_ptr(&all), buf_ptr(&want), buf_len(&want)));
    anth_stream_free(&s);
    buf_free(&out);
    buf_free(&all);
    buf_free(&want);
    enc_free(&c);
    stream_chunk_free(&ch);
}
END_TEST

/* enc_per_event bounds the largest framing one cluster gets in Anthropic's stream: a
 * thinking cluster that closes a text block and opens its own, at the largest index. */
START_TEST(anthropic_per_event_bound)
{
    stream_info in = info_of("0123456789abcdef01234567", "m");
    static const entry one[] = {E(STREAM_KIND_REASONING, "x")};
    stream_chunk ch;
    log_chunk(&ch, one, 1);
    ch.first_id = 5;
    enc c;
    enc_init(&c, ENC_ANTH_SSE, 0, &in);
    c.next_id = 5;
    c.anth.open = ANTH_TEXT;
    c.anth.index = c.anth.blocks = 2147483646;
    buf out;
    buf_init(&out, 1 << 20);
    ck_assert_int_eq(enc_chunk(&c, &in, &ch, &out), 0);
    ck_assert_msg(buf_len(&out) - 1 <= enc_per_event(&c), "%zu bytes of framing, bound %zu",
                  buf_len(&out) - 1, enc_per_event(&c));
    buf_free(&out);
    enc_free(&c);
    stream_chunk_free(&ch);
}
END_TEST

int main(void)
{
    return check_tests("encode", formats_exact, native_retry_line_once, chunk_overlap_and_gap,
                       escaping, per_event_bounds_the_framing, full_out_is_cap_error,
                       anthropic_stream_from_log, anthropic_stream_in_pieces,
                       anthropic_whole_from_log, anthropic_whole_refusals,
                       anthropic_held_end_in_pieces, anthropic_per_event_bound);
}
