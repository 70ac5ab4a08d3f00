/* encode — see encode.h. */
#include "encode.h"

#include <string.h>

#include "jsonw.h"
#include "lim.h"
#include "oai.h"
#include "sse_encode.h"

/* Room for any event's JSON: a 256-byte model or message escaped six-fold, and more. */
#define EVENT_JSON_MAX 8192

int enc_init(enc *c, enc_fmt fmt, int include_usage, const stream_info *info)
{
    memset(c, 0, sizeof(*c));
    c->fmt = fmt;
    c->include_usage = include_usage;
    buf_init(&c->head, EVENT_JSON_MAX);
    if (fmt == ENC_OAI_SSE)
        return oai_chunk_head(&c->head, info->id, info->created, info->model);
    return 0;
}

void enc_free(enc *c)
{
    buf_free(&c->head);
}

static int add_str(buf *b, const char *s)
{
    return jsonw_str(b, s, strlen(s));
}

static int enc_start(enc *c, const stream_info *info, buf *out)
{
    if (c->fmt == ENC_OAI_SSE)
        return oai_chunk_role(out, buf_ptr(&c->head), buf_len(&c->head));
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
    return sse_text(out, c->next_id, reasoning ? "reasoning" : "delta", p, n);
}

static int enc_done(enc *c, const stream_term *t, buf *out)
{
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
        if (enc_start(c, info, out) < 0)
            return -1;
        c->next_id = 1;
    }
    const uint16_t *l = (const uint16_t *)(const void *)buf_ptr(&ch->lens);
    const char *p = buf_ptr(&ch->text);
    for (size_t i = 0; i < ch->n; i++) {
        size_t n = l[i] & ~STREAM_REASONING_BIT;
        if (ch->first_id + i == c->next_id) {
            if (enc_cluster(c, out, (l[i] & STREAM_REASONING_BIT) != 0, p, n) < 0)
                return -1;
            c->next_id++;
        }
        p += n;
    }
    if (!ch->has_term || c->next_id != ch->first_id + ch->n)
        return 0;
    const stream_term *t = &ch->term;
    if ((t->kind == STREAM_TERM_DONE ? enc_done(c, t, out) : enc_error(c, t, out)) < 0)
        return -1;
    c->next_id++;
    return 1;
}

int enc_whole(const stream_info *info, const stream_chunk *ch, buf *out)
{
    if (ch->term.kind == STREAM_TERM_ERROR)
        return oai_error_body(out, ch->term.type, ch->term.msg);
    buf part[2];
    buf_init(&part[0], LIM_LOG_TEXT);
    buf_init(&part[1], LIM_LOG_TEXT);
    const uint16_t *l = (const uint16_t *)(const void *)buf_ptr(&ch->lens);
    const char *p = buf_ptr(&ch->text);
    int rc = 0;
    for (size_t i = 0; i < ch->n && !rc; i++) {
        size_t n = l[i] & ~STREAM_REASONING_BIT;
        rc = buf_add(&part[(l[i] & STREAM_REASONING_BIT) != 0], p, n);
        p += n;
    }
    const stream_term *t = &ch->term;
    if (!rc)
        rc = oai_completion(out, info->id, info->created, info->model, buf_ptr(&part[0]),
                            buf_len(&part[0]), buf_ptr(&part[1]), buf_len(&part[1]),
                            t->finish_reason, t->prompt_tokens, t->completion_tokens);
    buf_free(&part[0]);
    buf_free(&part[1]);
    return rc;
}
