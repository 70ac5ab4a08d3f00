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

/* One entry of a kind joins the queue: head (may be empty) then body, one event. */
static int queue_entry(emit *e, int kind, const char *head, size_t hn, const char *p, size_t n)
{
    uint16_t len = (uint16_t)((hn + n) | ((unsigned)kind << STREAM_KIND_SHIFT));
    if (e->bytes + hn + n > LIM_LOG_TEXT || hn + n > STREAM_LEN_MASK)
        return -1;
    size_t mark = buf_len(&e->text);
    buf_add(&e->text, head, hn);
    buf_add(&e->text, p, n);
    buf_add(&e->lens, &len, sizeof(len));
    if (buf_failed(&e->text) || buf_failed(&e->lens)) {
        buf_reset(&e->lens); /* only reached on no memory: the answer ends with an error */
        buf_truncate(&e->text, mark);
        return -1;
    }
    e->bytes += hn + n;
    e->queued++;
    return 0;
}

/* Segmenter callback: one whole cluster joins the queue. */
static int queue_cluster(emit *e, int kind, const char *p, size_t n)
{
    return queue_entry(e, kind == EMIT_REASONING ? STREAM_KIND_REASONING : STREAM_KIND_TEXT,
                       "", 0, p, n);
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

/* The held tail becomes clusters (also before a tool call: text and a call never share
 * an event). */
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

int emit_tool(emit *e, int index, const char *id, const char *name)
{
    if (e->term.kind)
        return 0;
    char head[1 + STREAM_TOOL_ID_MAX + 1 + STREAM_TOOL_NAME_MAX];
    size_t in = strlen(id), nn = strlen(name);
    if (index < 0 || index >= STREAM_TOOLS_MAX || in > STREAM_TOOL_ID_MAX ||
        nn > STREAM_TOOL_NAME_MAX) {
        decide_error(e, "upstream_error", "upstream sent a tool call chatd cannot relay", 0);
        return -1;
    }
    head[0] = (char)index;
    memcpy(head + 1, id, in);
    head[1 + in] = '\0';
    memcpy(head + 2 + in, name, nn);
    if (close_seg(e) || queue_entry(e, STREAM_KIND_TOOL, head, 2 + in + nn, "", 0)) {
        decide_error(e, "internal_error", "the answer is longer than chatd keeps per stream", 0);
        return -1;
    }
    return 0;
}

int emit_tool_args(emit *e, int index, const char *p, size_t n)
{
    if (e->term.kind || n == 0)
        return 0;
    if (index < 0 || index >= STREAM_TOOLS_MAX) {
        decide_error(e, "upstream_error", "upstream sent a tool call chatd cannot relay", 0);
        return -1;
    }
    char head = (char)index;
    int rc = close_seg(e);
    /* A long fragment goes in pieces cut between UTF-8 sequences: their concatenation is
     * the fragment, byte for byte. */
    while (!rc && n) {
        size_t k = n <= STREAM_ENTRY_MAX ? n : utf8_trim(p, STREAM_ENTRY_MAX);
        if (k == 0)
            k = STREAM_ENTRY_MAX; /* not UTF-8 at all: cut anywhere rather than loop */
        rc = queue_entry(e, STREAM_KIND_TOOL_ARGS, &head, 1, p, k);
        p += k;
        n -= k;
    }
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
        bytes += l[i] & STREAM_LEN_MASK;
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
