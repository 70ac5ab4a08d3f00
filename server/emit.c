/* emit — see emit.h. */
#include "emit.h"

#include <stdio.h>
#include <string.h>

#include "lim.h"
#include "utf8.h"


void emit_init(emit *e, stream *s, const pace_cfg *pc, uint64_t now)
{
    memset(e, 0, sizeof(*e));
    e->s = s;
    e->pc = pc;
    pace_init(&e->pace, now);
    seg_init(&e->seg);
    buf_init(&e->text, LIM_LOG_TEXT);
    buf_init(&e->lens, LIM_LOG_TEXT);
    e->term.prompt_tokens = e->term.completion_tokens = -1;
}

void emit_free(emit *e)
{
    buf_free(&e->text);
    buf_free(&e->lens);
}

/* Segmenter callback: one whole cluster joins the queue. */
static int queue_cluster(emit *e, int kind, const char *p, size_t n)
{
    uint16_t len = (uint16_t)(n | (kind == EMIT_REASONING ? STREAM_REASONING_BIT : 0));
    if (e->bytes + n > LIM_LOG_TEXT)
        return -1;
    size_t mark = buf_len(&e->text);
    if (buf_add(&e->text, p, n) < 0)
        return -1;
    if (buf_add(&e->lens, &len, sizeof(len)) < 0) {
        buf_truncate(&e->text, mark);
        return -1;
    }
    e->bytes += n;
    e->queued++;
    return 0;
}

static int queue_text(void *ctx, const char *p, size_t n)
{
    return queue_cluster(ctx, EMIT_TEXT, p, n);
}

static int queue_reasoning(void *ctx, const char *p, size_t n)
{
    return queue_cluster(ctx, EMIT_REASONING, p, n);
}

static seg_emit_fn queue_fn(int kind)
{
    return kind == EMIT_REASONING ? queue_reasoning : queue_text;
}

/* The held tail becomes clusters. */
static int close_seg(emit *e)
{
    return seg_finish(&e->seg, queue_fn(e->last_kind), e);
}

static void decide_error(emit *e, const char *type, const char *msg, int status)
{
    if (e->term.kind)
        return;
    close_seg(e);
    e->term.kind = STREAM_TERM_ERROR;
    e->term.status = status;
    utf8_copy(e->term.type, sizeof(e->term.type), type);
    utf8_copy(e->term.msg, sizeof(e->term.msg), msg);
    e->flush = 1;
}

int emit_text(emit *e, int kind, const char *p, size_t n)
{
    if (e->term.kind)
        return 0;
    /* A cluster never spans thinking and answer: switching kinds completes the other. */
    int rc = 0;
    if (kind != e->last_kind) {
        rc = close_seg(e);
        e->last_kind = kind;
    }
    if (!rc)
        rc = seg_feed(&e->seg, p, n, queue_fn(kind), e);
    if (rc) {
        decide_error(e, "internal_error", "the answer is longer than chatd keeps per stream", 0);
        return -1;
    }
    return 0;
}

void emit_finish_reason(emit *e, const char *reason)
{
    if (!e->term.kind)
        utf8_copy(e->term.finish_reason, sizeof(e->term.finish_reason), reason);
}

void emit_usage(emit *e, long prompt, long completion)
{
    e->term.prompt_tokens = prompt;
    e->term.completion_tokens = completion;
}

void emit_done(emit *e)
{
    if (e->term.kind)
        return;
    close_seg(e);
    e->term.kind = STREAM_TERM_DONE;
    if (!e->term.finish_reason[0])
        snprintf(e->term.finish_reason, sizeof(e->term.finish_reason), "stop");
}

void emit_fail(emit *e, const char *type, const char *msg, int status)
{
    decide_error(e, type, msg, status);
}

void emit_cancel(emit *e)
{
    if (e->term.kind)
        return;
    close_seg(e);
    e->term.kind = STREAM_TERM_DONE;
    snprintf(e->term.finish_reason, sizeof(e->term.finish_reason), "cancelled");
    e->flush = 1;
}

int emit_decided(const emit *e)
{
    return e->term.kind != STREAM_TERM_NONE;
}

int emit_is_error(const emit *e)
{
    return e->term.kind == STREAM_TERM_ERROR;
}

uint64_t emit_pump(emit *e, uint64_t now)
{
    if (e->term_sent)
        return 0;
    uint64_t n = e->queued;
    if (!e->flush)
        n = pace_take(&e->pace, e->pc, now, (size_t)e->queued, e->term.kind != 0);
    int with_term = e->term.kind && n == e->queued;
    if (!n && !with_term)
        return 0;
    const uint16_t *l = (const uint16_t *)(const void *)buf_ptr(&e->lens);
    size_t bytes = 0;
    for (uint64_t i = 0; i < n; i++)
        bytes += l[i] & ~STREAM_REASONING_BIT;
    stream_batch b = {buf_ptr(&e->text), l, (size_t)n, with_term ? &e->term : NULL};
    if (stream_append(e->s, &b) < 0) {
        /* Over the log's cap: the stream has ended itself with an error. */
        decide_error(e, "internal_error", "the answer is longer than chatd keeps per stream", 0);
        buf_reset(&e->text);
        buf_reset(&e->lens);
        e->queued = 0;
        e->term_sent = 1;
        e->ended_ms = now;
        return n;
    }
    buf_consume(&e->text, bytes);
    buf_consume(&e->lens, (size_t)n * sizeof(uint16_t));
    e->queued -= n;
    e->released += n;
    if (with_term) {
        e->term_sent = 1;
        e->ended_ms = now;
    }
    /* An empty queue holds no memory: a stream's characters live in the store, and a
     * thousand idle streams must not keep a queue's worth each. */
    buf_shrink(&e->text);
    buf_shrink(&e->lens);
    return n;
}

int emit_active(const emit *e)
{
    return e->queued > 0 || (e->term.kind && !e->term_sent);
}

uint64_t emit_backlog(const emit *e)
{
    return e->queued;
}
