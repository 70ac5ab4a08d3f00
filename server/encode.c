/* encode — see encode.h. */
#include "encode.h"

#include <stdlib.h>
#include <string.h>

#include "jsonv.h"
#include "jsonw.h"
#include "lim.h"
#include "oai.h"
#include "sse_encode.h"

_Static_assert(ANTH_TOOLS_MAX == STREAM_TOOLS_MAX, "anth_stream counts the store's tool calls");

/* Room for any event's JSON: a 256-byte model or message escaped six-fold, and more. */
#define EVENT_JSON_MAX 8192

int enc_init(enc *c, enc_fmt fmt, int include_usage, const stream_info *info)
{
    memset(c, 0, sizeof(*c));
    c->fmt = fmt;
    c->include_usage = include_usage;
    buf_init(&c->head, EVENT_JSON_MAX);
    anth_stream_init(&c->anth, 3 * (size_t)LIM_LOG_TEXT); /* the log's bytes, 4 per entry */
    if (fmt == ENC_OAI_SSE)
        return oai_chunk_head(&c->head, info->id, info->created, info->model);
    return 0;
}

void enc_free(enc *c)
{
    buf_free(&c->head);
    anth_stream_free(&c->anth);
}

static int add_str(buf *b, const char *s)
{
    return jsonw_str(b, s, strlen(s));
}

static int enc_start(enc *c, const stream_info *info, const stream_chunk *ch, buf *out)
{
    if (c->fmt == ENC_OAI_SSE)
        return oai_chunk_role(out, buf_ptr(&c->head), buf_len(&c->head));
    if (c->fmt == ENC_ANTH_SSE) /* the input tokens are known here only if the end is */
        return anth_message_start(
            out, info->id, info->model,
            ch->has_term && ch->term.kind == STREAM_TERM_DONE ? ch->term.prompt_tokens : -1);
    buf j;
    buf_init(&j, EVENT_JSON_MAX);
    buf_addstr(&j, "{\"stream_id\":");
    add_str(&j, info->id);
    buf_addstr(&j, ",\"model\":");
    add_str(&j, info->model);
    buf_addstr(&j, "}");
    int bad = buf_failed(&j) || sse_event(out, 0, "start", buf_ptr(&j), buf_len(&j)) < 0;
    buf_free(&j);
    return bad ? -1 : 0;
}

static int enc_cluster(enc *c, buf *out, int reasoning, const char *p, size_t n)
{
    if (c->fmt == ENC_OAI_SSE)
        return oai_chunk_text(out, buf_ptr(&c->head), buf_len(&c->head), reasoning, p, n);
    if (c->fmt == ENC_ANTH_SSE)
        return anth_text(&c->anth, out, reasoning, p, n);
    return sse_text(out, c->next_id, reasoning ? "reasoning" : "delta", p, n);
}

/* A TOOL entry's payload: [index][id]\0[name]. */
typedef struct tool_start {
    int index;
    const char *id, *name;
    size_t idn, namen;
} tool_start;

static tool_start tool_of(const char *p, size_t n)
{
    tool_start t = {(unsigned char)p[0], p + 1, NULL, 0, 0};
    const char *z = memchr(p + 1, '\0', n - 1);
    t.idn = z ? (size_t)(z - (p + 1)) : n - 1;
    t.name = z ? z + 1 : p + n;
    t.namen = (size_t)(p + n - t.name);
    return t;
}

/* {"index":I,"id":..,"name":..,"arguments":""} or {"index":I,"arguments":..} */
static int enc_tool_event(enc *c, buf *out, int start, const char *p, size_t n)
{
    buf j;
    buf_init(&j, 2 * EVENT_JSON_MAX + 6 * STREAM_ENTRY_MAX);
    buf_addf(&j, "{\"index\":%d,", (unsigned char)p[0]);
    if (start) {
        tool_start t = tool_of(p, n);
        buf_addstr(&j, "\"id\":");
        jsonw_str(&j, t.id, t.idn);
        buf_addstr(&j, ",\"name\":");
        jsonw_str(&j, t.name, t.namen);
        buf_addstr(&j, ",\"arguments\":\"\"}");
    } else {
        buf_addstr(&j, "\"arguments\":");
        jsonw_str(&j, p + 1, n - 1);
        buf_addstr(&j, "}");
    }
    int bad = buf_failed(&j) || sse_event(out, c->next_id, "tool_call", buf_ptr(&j), buf_len(&j)) < 0;
    buf_free(&j);
    return bad ? -1 : 0;
}

static int enc_tool(enc *c, buf *out, int start, const char *p, size_t n)
{
    if (n == 0)
        return -1; /* every tool entry holds its index */
    if (c->fmt == ENC_NATIVE)
        return enc_tool_event(c, out, start, p, n);
    if (c->fmt == ENC_ANTH_SSE && !start)
        return anth_tool_args(&c->anth, out, (unsigned char)p[0], p + 1, n - 1);
    if (c->fmt == ENC_ANTH_SSE) {
        tool_start t = tool_of(p, n);
        return anth_tool(&c->anth, out, t.index, t.id, t.idn, t.name, t.namen);
    }
    const char *h = buf_ptr(&c->head);
    size_t hn = buf_len(&c->head);
    if (!start)
        return oai_chunk_tool_args(out, h, hn, (unsigned char)p[0], p + 1, n - 1);
    tool_start t = tool_of(p, n);
    char id[STREAM_TOOL_ID_MAX + 1], name[STREAM_TOOL_NAME_MAX + 1];
    if (t.idn > STREAM_TOOL_ID_MAX || t.namen > STREAM_TOOL_NAME_MAX)
        return -1;
    memcpy(id, t.id, t.idn);
    id[t.idn] = '\0';
    memcpy(name, t.name, t.namen);
    name[t.namen] = '\0';
    return oai_chunk_tool(out, h, hn, t.index, id, name);
}

/* One log entry as one event of the reader's format. */
static int enc_entry(enc *c, buf *out, uint16_t len, const char *p)
{
    size_t n = len & STREAM_LEN_MASK;
    switch (STREAM_KIND(len)) {
    case STREAM_KIND_TOOL:
        return enc_tool(c, out, 1, p, n);
    case STREAM_KIND_TOOL_ARGS:
        return enc_tool(c, out, 0, p, n);
    default:
        return enc_cluster(c, out, STREAM_KIND(len) == STREAM_KIND_REASONING, p, n);
    }
}

/* 0 written, 1 written in part (Anthropic's held blocks: call again), -1 out full. */
static int enc_done(enc *c, const stream_term *t, buf *out)
{
    if (c->fmt == ENC_ANTH_SSE) {
        int rc = anth_done(&c->anth, out, t->finish_reason, t->prompt_tokens, t->completion_tokens);
        return rc < 0 ? -1 : !rc;
    }
    if (c->fmt == ENC_OAI_SSE)
        return oai_chunk_end(out, buf_ptr(&c->head), buf_len(&c->head), t->finish_reason,
                             c->include_usage, t->prompt_tokens, t->completion_tokens);
    buf j;
    buf_init(&j, EVENT_JSON_MAX);
    buf_addstr(&j, "{\"finish_reason\":");
    add_str(&j, t->finish_reason);
    if (t->prompt_tokens >= 0)
        buf_addf(&j, ",\"usage\":{\"prompt_tokens\":%ld,\"completion_tokens\":%ld}",
                 t->prompt_tokens, t->completion_tokens);
    buf_addstr(&j, "}");
    int bad = buf_failed(&j) || sse_event(out, c->next_id, "done", buf_ptr(&j), buf_len(&j)) < 0;
    buf_free(&j);
    return bad ? -1 : 0;
}

static int enc_error(enc *c, const stream_term *t, buf *out)
{
    if (c->fmt == ENC_ANTH_SSE)
        return anth_error_event(out, t->type, t->msg);
    if (c->fmt == ENC_OAI_SSE)
        return oai_chunk_error(out, t->type, t->msg);
    buf j;
    buf_init(&j, EVENT_JSON_MAX);
    buf_addstr(&j, "{\"error\":{\"type\":");
    add_str(&j, t->type);
    buf_addstr(&j, ",\"message\":");
    add_str(&j, t->msg);
    if (t->status)
        buf_addf(&j, ",\"status\":%d", t->status);
    buf_addstr(&j, "}}");
    int bad = buf_failed(&j) || sse_event(out, c->next_id, "error", buf_ptr(&j), buf_len(&j)) < 0;
    buf_free(&j);
    return bad ? -1 : 0;
}

size_t enc_per_event(const enc *c)
{
    /* native: "id: <20 digits>\nevent: reasoning\ndata: {\"text\":\"\"}\n\n";
     * OpenAI: "data: " + the repeated head + the delta object and its closing. */
    if (c->fmt == ENC_ANTH_SSE) /* a thinking delta that closes a text block and opens its own */
        return 400;
    return c->fmt == ENC_OAI_SSE ? buf_len(&c->head) + 160 : 96;
}

int enc_chunk(enc *c, const stream_info *info, const stream_chunk *ch, buf *out)
{
    if (c->fmt == ENC_NATIVE && !c->retry_sent) {
        if (sse_retry(out, 3000) < 0)
            return -1;
        c->retry_sent = 1;
    }
    if (c->next_id == 0) {
        if (enc_start(c, info, ch, out) < 0)
            return -1;
        c->next_id = 1;
    }
    const uint16_t *l = (const uint16_t *)(const void *)buf_ptr(&ch->lens);
    const char *p = buf_ptr(&ch->text);
    for (size_t i = 0; i < ch->n; i++) {
        size_t n = l[i] & STREAM_LEN_MASK;
        if (ch->first_id + i == c->next_id) {
            if (enc_entry(c, out, l[i], p) < 0)
                return -1;
            c->next_id++;
        }
        p += n;
    }
    if (!ch->has_term || c->next_id != ch->first_id + ch->n)
        return 0;
    const stream_term *t = &ch->term;
    int rc = t->kind == STREAM_TERM_DONE ? enc_done(c, t, out) : enc_error(c, t, out);
    if (rc != 0)
        return rc < 0 ? -1 : 0; /* more of the end to write at the next call */
    c->next_id++;
    return 1;
}

/* The answer's tool calls, assembled: each call's start and its argument fragments in
 * order, by the call's index. */
typedef struct calls {
    buf *args;          /* STREAM_TOOLS_MAX: each call's arguments */
    tool_start *starts; /* STREAM_TOOLS_MAX: id NULL for an index that never started */
    int n;              /* 1 + the highest index started */
} calls;

static void calls_free(calls *k)
{
    for (int i = 0; k->args && i < STREAM_TOOLS_MAX; i++)
        buf_free(&k->args[i]);
    free(k->args);
    free(k->starts);
}

static int calls_collect(const stream_chunk *ch, calls *k)
{
    k->args = calloc(STREAM_TOOLS_MAX, sizeof(*k->args));
    k->starts = calloc(STREAM_TOOLS_MAX, sizeof(*k->starts));
    k->n = 0;
    int rc = k->args && k->starts ? 0 : -1;
    const uint16_t *l = (const uint16_t *)(const void *)buf_ptr(&ch->lens);
    const char *p = buf_ptr(&ch->text);
    for (size_t i = 0; i < ch->n && !rc; i++) {
        size_t n = l[i] & STREAM_LEN_MASK;
        int kind = STREAM_KIND(l[i]), idx = n ? (unsigned char)p[0] : 0;
        if (kind == STREAM_KIND_TOOL && n && idx < STREAM_TOOLS_MAX && !k->starts[idx].id) {
            k->starts[idx] = tool_of(p, n);
            buf_init(&k->args[idx], LIM_LOG_TEXT);
            k->n = idx + 1 > k->n ? idx + 1 : k->n;
        } else if (kind == STREAM_KIND_TOOL_ARGS && n && idx < STREAM_TOOLS_MAX &&
                   k->starts[idx].id) {
            rc = buf_add(&k->args[idx], p + 1, n - 1);
        }
        p += n;
    }
    return rc;
}

/* OpenAI's message.tool_calls array; nothing when there is none. */
static int enc_tool_calls(const stream_chunk *ch, buf *out)
{
    calls k;
    int rc = calls_collect(ch, &k);
    for (int i = 0; i < k.n && !rc; i++) {
        if (!k.starts[i].id)
            continue;
        buf_addstr(out, buf_len(out) ? ",{\"id\":" : "[{\"id\":");
        jsonw_str(out, k.starts[i].id, k.starts[i].idn);
        buf_addstr(out, ",\"type\":\"function\",\"function\":{\"name\":");
        jsonw_str(out, k.starts[i].name, k.starts[i].namen);
        buf_addstr(out, ",\"arguments\":");
        jsonw_str(out, buf_ptr(&k.args[i]), buf_len(&k.args[i]));
        buf_addstr(out, "}}");
        rc = buf_failed(out) ? -1 : 0;
    }
    if (!rc && buf_len(out))
        rc = buf_addstr(out, "]");
    calls_free(&k);
    return rc;
}

int enc_whole(const stream_info *info, const stream_chunk *ch, buf *out)
{
    if (ch->term.kind == STREAM_TERM_ERROR)
        return oai_error_body(out, ch->term.type, ch->term.msg);
    buf part[3]; /* text, reasoning, tool calls */
    for (int k = 0; k < 3; k++)
        buf_init(&part[k], 2 * (size_t)LIM_LOG_TEXT);
    const uint16_t *l = (const uint16_t *)(const void *)buf_ptr(&ch->lens);
    const char *p = buf_ptr(&ch->text);
    int rc = 0;
    for (size_t i = 0; i < ch->n && !rc; i++) {
        size_t n = l[i] & STREAM_LEN_MASK;
        int kind = STREAM_KIND(l[i]);
        if (kind == STREAM_KIND_TEXT || kind == STREAM_KIND_REASONING)
            rc = buf_add(&part[kind == STREAM_KIND_REASONING], p, n);
        p += n;
    }
    if (!rc)
        rc = enc_tool_calls(ch, &part[2]);
    const stream_term *t = &ch->term;
    if (!rc)
        rc = oai_completion(out, info->id, info->created, info->model, buf_ptr(&part[0]),
                            buf_len(&part[0]), buf_ptr(&part[1]), buf_len(&part[1]),
                            buf_ptr(&part[2]), buf_len(&part[2]), t->finish_reason,
                            t->prompt_tokens, t->completion_tokens);
    for (int k = 0; k < 3; k++)
        buf_free(&part[k]);
    return rc;
}

/* Arguments as a tool_use block's input: "" (a tool without parameters) is {}; anything
 * else must be one JSON object. NULL when it is not. */
static const char *tool_input(const buf *args, size_t *n)
{
    const char *p = buf_ptr(args), *why;
    size_t len = buf_len(args), ws = 0;
    while (ws < len && memchr(" \t\r\n", p[ws], 4))
        ws++;
    if (ws == len) {
        *n = 2;
        return "{}";
    }
    *n = len;
    return p[ws] == '{' && jsonv_check(p, len, &why) == 0 ? p : NULL;
}

/* The run of text or thinking collected so far as one block. */
static int flush_run(buf *out, buf *run, int kind, int *first)
{
    if (kind < 0)
        return 0;
    int rc =
        anth_block_text(out, *first, kind == STREAM_KIND_REASONING, buf_ptr(run), buf_len(run));
    *first = 0;
    buf_reset(run);
    return rc;
}

/* Anthropic's message: text and thinking runs and tool_use blocks in the log's order. */
static int anth_whole(const stream_info *info, const stream_chunk *ch, buf *out)
{
    calls k;
    buf run;
    buf_init(&run, LIM_LOG_TEXT);
    int rc = calls_collect(ch, &k), kind = -1, first = 1;
    if (!rc)
        rc = anth_message_open(out, info->id, info->model);
    const uint16_t *l = (const uint16_t *)(const void *)buf_ptr(&ch->lens);
    const char *p = buf_ptr(&ch->text);
    for (size_t i = 0; i < ch->n && !rc; i++) {
        size_t n = l[i] & STREAM_LEN_MASK;
        int ek = STREAM_KIND(l[i]);
        if (ek == STREAM_KIND_TEXT || ek == STREAM_KIND_REASONING) {
            if (ek != kind)
                rc = flush_run(out, &run, kind, &first);
            kind = ek;
            if (!rc)
                rc = buf_add(&run, p, n);
        } else if (ek == STREAM_KIND_TOOL && n) {
            rc = flush_run(out, &run, kind, &first);
            kind = -1;
            tool_start t = tool_of(p, n);
            size_t inn = 0;
            const char *in = t.index < k.n ? tool_input(&k.args[t.index], &inn) : NULL;
            if (!rc && !in) {
                buf_reset(out);
                rc = anth_error_body(out, "upstream_error",
                                     "a tool call's arguments from the upstream are not a JSON "
                                     "object, which Anthropic's tool_use input must be");
                calls_free(&k);
                buf_free(&run);
                return rc < 0 ? -1 : 1;
            }
            if (!rc)
                rc = anth_block_tool(out, first, t.id, t.idn, t.name, t.namen, in, inn);
            first = 0;
        }
        p += n;
    }
    if (!rc)
        rc = flush_run(out, &run, kind, &first);
    if (!rc)
        rc = anth_message_close(out, ch->term.finish_reason, ch->term.prompt_tokens,
                                ch->term.completion_tokens);
    calls_free(&k);
    buf_free(&run);
    return rc;
}

int enc_whole_as(enc_fmt fmt, const stream_info *info, const stream_chunk *ch, buf *out)
{
    if (fmt != ENC_ANTH_JSON)
        return enc_whole(info, ch, out);
    if (ch->term.kind == STREAM_TERM_ERROR)
        return anth_error_body(out, ch->term.type, ch->term.msg);
    return anth_whole(info, ch, out);
}
