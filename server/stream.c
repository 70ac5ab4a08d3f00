/* stream — see stream.h. */
#include "stream.h"

#include <stdio.h>
#include <string.h>

#include "jsonw.h"
#include "lim.h"
#include "oai.h"
#include "sse.h"

#define REASONING_BIT 0x8000u

void stream_init(stream *s, const char *id, const char *model, const pace_cfg *pc, uint64_t now)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->id, sizeof(s->id), "%s", id);
    snprintf(s->model, sizeof(s->model), "%s", model);
    s->pc = pc;
    pace_init(&s->pace, now);
    seg_init(&s->seg[0]);
    seg_init(&s->seg[1]);
    buf_init(&s->out, LIM_OUT_MAX);
    buf_init(&s->pend, LIM_PEND_MAX);
    buf_init(&s->pend_lens, LIM_PEND_MAX);
    buf_init(&s->head, 1024);
    buf_init(&s->full[0], LIM_FULL_MAX);
    buf_init(&s->full[1], LIM_FULL_MAX);
    s->prompt_tokens = s->completion_tokens = -1;
    s->last_out_ms = now;
}

void stream_release(stream *s)
{
    buf_free(&s->out);
    buf_free(&s->pend);
    buf_free(&s->pend_lens);
    buf_free(&s->head);
    buf_free(&s->full[0]);
    buf_free(&s->full[1]);
}

int stream_set_format(stream *s, stream_fmt fmt, int include_usage, long created)
{
    s->fmt = fmt;
    s->include_usage = include_usage;
    s->created = created;
    if (fmt == STREAM_FMT_OAI_JSON) {
        s->flush = 1;
        s->out.cap = 2 * LIM_FULL_MAX + 4096; /* the whole answer, escaped, in one object */
    }
    if (fmt == STREAM_FMT_OAI_SSE)
        return oai_chunk_head(&s->head, s->id, created, s->model);
    return 0;
}

int stream_begin(stream *s)
{
    if (s->fmt == STREAM_FMT_OAI_SSE)
        return oai_chunk_role(&s->out, buf_ptr(&s->head), buf_len(&s->head));
    if (s->fmt == STREAM_FMT_OAI_JSON)
        return 0;
    buf j;
    buf_init(&j, 1024);
    int rc = buf_addstr(&j, "{\"stream_id\":") | jsonw_str(&j, s->id, strlen(s->id)) |
             buf_addstr(&j, ",\"model\":") | jsonw_str(&j, s->model, strlen(s->model)) |
             buf_addstr(&j, "}");
    if (rc == 0)
        rc = sse_retry(&s->out, 3000) | sse_event(&s->out, s->next_id++, "start", buf_ptr(&j), buf_len(&j));
    buf_free(&j);
    return rc ? -1 : 0;
}

/* Segmenter callback: one whole cluster joins the pending queue. */
static int push_cluster(stream *s, int kind, const char *p, size_t n)
{
    uint16_t len = (uint16_t)(n | (kind == STREAM_REASONING ? REASONING_BIT : 0));
    if (buf_add(&s->pend, p, n) < 0 || buf_add(&s->pend_lens, &len, sizeof(len)) < 0)
        return -1;
    s->pend_count++;
    return 0;
}

static int push_text(void *ctx, const char *p, size_t n)
{
    return push_cluster(ctx, STREAM_TEXT, p, n);
}

static int push_reasoning(void *ctx, const char *p, size_t n)
{
    return push_cluster(ctx, STREAM_REASONING, p, n);
}

int stream_add(stream *s, int kind, const char *p, size_t n)
{
    if (s->up_done || s->term_kind)
        return 0;
    seg_emit_fn fn = kind == STREAM_REASONING ? push_reasoning : push_text;
    /* A cluster never spans thinking and answer: switching kinds completes the other's. */
    if (kind != s->last_kind) {
        seg_emit_fn other = kind == STREAM_REASONING ? push_text : push_reasoning;
        if (seg_finish(&s->seg[s->last_kind], other, s))
            return -1;
        s->last_kind = kind;
    }
    return seg_feed(&s->seg[kind], p, n, fn, s) ? -1 : 0;
}

void stream_set_finish(stream *s, const char *reason)
{
    snprintf(s->finish_reason, sizeof(s->finish_reason), "%s", reason);
}

void stream_set_usage(stream *s, long prompt, long completion)
{
    s->prompt_tokens = prompt;
    s->completion_tokens = completion;
}

/* Held tails become characters; nothing more is accepted. */
static int close_segs(stream *s)
{
    if (s->up_done)
        return 0;
    s->up_done = 1;
    int rc = seg_finish(&s->seg[STREAM_REASONING], push_reasoning, s);
    return rc | seg_finish(&s->seg[STREAM_TEXT], push_text, s);
}

int stream_end(stream *s)
{
    if (s->term_kind)
        return 0;
    if (close_segs(s) < 0) {
        stream_fail(s, "internal_error", "answer too large to buffer", 0);
        return -1;
    }
    s->term_kind = STREAM_TERM_DONE;
    if (!s->finish_reason[0])
        stream_set_finish(s, "stop");
    return 0;
}

void stream_fail(stream *s, const char *type, const char *msg, int status)
{
    if (s->term_kind)
        return;
    close_segs(s);
    s->term_kind = STREAM_TERM_ERROR;
    s->flush = 1;
    s->err_status = status;
    snprintf(s->err_type, sizeof(s->err_type), "%s", type);
    snprintf(s->err_msg, sizeof(s->err_msg), "%s", msg);
}

void stream_cancel(stream *s)
{
    if (s->term_kind)
        return;
    stream_set_finish(s, "cancelled");
    s->flush = 1;
    stream_end(s);
    stream_set_finish(s, "cancelled");
}

static int write_done(stream *s)
{
    if (s->fmt == STREAM_FMT_OAI_SSE)
        return oai_chunk_end(&s->out, buf_ptr(&s->head), buf_len(&s->head), s->finish_reason,
                             s->include_usage, s->prompt_tokens, s->completion_tokens);
    if (s->fmt == STREAM_FMT_OAI_JSON)
        return oai_completion(&s->out, s->id, s->created, s->model, buf_ptr(&s->full[0]),
                              buf_len(&s->full[0]), buf_ptr(&s->full[1]), buf_len(&s->full[1]),
                              s->finish_reason, s->prompt_tokens, s->completion_tokens);
    buf j;
    buf_init(&j, 512);
    int rc = buf_addstr(&j, "{\"finish_reason\":") |
             jsonw_str(&j, s->finish_reason, strlen(s->finish_reason));
    if (s->prompt_tokens >= 0)
        rc |= buf_addf(&j, ",\"usage\":{\"prompt_tokens\":%ld,\"completion_tokens\":%ld}",
                       s->prompt_tokens, s->completion_tokens);
    rc |= buf_addstr(&j, "}");
    if (!rc)
        rc = sse_event(&s->out, s->next_id++, "done", buf_ptr(&j), buf_len(&j));
    buf_free(&j);
    return rc;
}

static int write_error(stream *s)
{
    if (s->fmt == STREAM_FMT_OAI_SSE)
        return oai_chunk_error(&s->out, s->err_type, s->err_msg);
    if (s->fmt == STREAM_FMT_OAI_JSON)
        return oai_error_body(&s->out, s->err_type, s->err_msg);
    buf j;
    buf_init(&j, 1024);
    int rc = buf_addstr(&j, "{\"error\":{\"type\":") | jsonw_str(&j, s->err_type, strlen(s->err_type)) |
             buf_addstr(&j, ",\"message\":") | jsonw_str(&j, s->err_msg, strlen(s->err_msg));
    if (s->err_status)
        rc |= buf_addf(&j, ",\"status\":%d", s->err_status);
    rc |= buf_addstr(&j, "}}");
    if (!rc)
        rc = sse_event(&s->out, s->next_id++, "error", buf_ptr(&j), buf_len(&j));
    buf_free(&j);
    return rc;
}

/* One character in the stream's format. */
static int encode(stream *s, int reasoning, const char *p, size_t n)
{
    switch (s->fmt) {
    case STREAM_FMT_OAI_SSE:
        return oai_chunk_text(&s->out, buf_ptr(&s->head), buf_len(&s->head), reasoning, p, n);
    case STREAM_FMT_OAI_JSON:
        return buf_add(&s->full[reasoning], p, n);
    case STREAM_FMT_NATIVE:
        break;
    }
    return sse_text(&s->out, s->next_id, reasoning ? "reasoning" : "delta", p, n);
}

/* Moves up to n clusters into out as delta/reasoning events; stops at the out mark. */
static size_t emit(stream *s, size_t n)
{
    const uint16_t *lens = (const uint16_t *)buf_ptr(&s->pend_lens);
    const char *p = buf_ptr(&s->pend);
    size_t i = 0, bytes = 0;
    for (; i < n && buf_len(&s->out) < LIM_OUT_HIGH; i++) {
        size_t len = lens[i] & ~REASONING_BIT;
        if (encode(s, (lens[i] & REASONING_BIT) != 0, p + bytes, len) < 0)
            break;
        s->next_id++;
        bytes += len;
    }
    buf_consume(&s->pend, bytes);
    buf_consume(&s->pend_lens, i * sizeof(uint16_t));
    s->pend_count -= i;
    s->chars += i;
    buf_shrink(&s->pend);
    buf_shrink(&s->pend_lens);
    return i;
}

size_t stream_pump(stream *s, uint64_t now)
{
    size_t before = buf_len(&s->out);
    size_t n = s->pend_count;
    if (!s->flush)
        n = pace_take(&s->pace, s->pc, now, s->pend_count, s->up_done);
    if (n)
        emit(s, n);
    if (s->term_kind && !s->term_written && s->pend_count == 0 && buf_len(&s->out) < LIM_OUT_HIGH) {
        int rc = s->term_kind == STREAM_TERM_DONE ? write_done(s) : write_error(s);
        s->term_written = rc == 0;
    }
    if (buf_len(&s->out) != before)
        s->last_out_ms = now;
    return buf_len(&s->out) - before;
}

int stream_ping(stream *s, uint64_t now)
{
    s->last_out_ms = now;
    if (s->fmt == STREAM_FMT_OAI_JSON)
        return 0;
    return sse_comment(&s->out, "ping");
}

int stream_active(const stream *s)
{
    return s->pend_count > 0 || (s->term_kind && !s->term_written);
}
