/* stream — see stream.h. */
#include "stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jsonw.h"
#include "lim.h"
#include "oai.h"
#include "sse.h"
#include "utf8.h"

#define REASONING_BIT 0x8000u
/* Room for any event's JSON: a 256-byte model or message escaped six-fold, and more. */
#define EVENT_JSON_MAX 8192
#define LOCK(s) pthread_mutex_lock(&(s)->mu)
#define UNLOCK(s) pthread_mutex_unlock(&(s)->mu)

/* Copies src into dst[n], cut (if it must be) between UTF-8 sequences, never inside one. */
static void copy_text(char *dst, size_t n, const char *src)
{
    size_t len = strlen(src);
    if (len > n - 1)
        len = utf8_trim(src, n - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
}

stream *stream_new(const char *id, const char *model, const pace_cfg *pc, int owner, uint64_t now)
{
    stream *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    snprintf(s->id, sizeof(s->id), "%s", id);
    copy_text(s->model, sizeof(s->model), model);
    s->owner = owner;
    s->created = (long)time(NULL);
    atomic_init(&s->refs, 1);
    s->pc = pc;
    pace_init(&s->pace, now);
    seg_init(&s->seg);
    pthread_mutex_init(&s->mu, NULL);
    buf_init(&s->text, LIM_LOG_TEXT);
    buf_init(&s->lens, LIM_LOG_TEXT);
    s->prompt_tokens = s->completion_tokens = -1;
    s->no_reader_since_ms = now;
    return s;
}

void stream_ref(stream *s)
{
    atomic_fetch_add(&s->refs, 1);
}

void stream_unref(stream *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    buf_free(&s->text);
    buf_free(&s->lens);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* ---------- owner side ---------- */

/* Segmenter callback (mu held): one whole cluster joins the log. */
static int push_cluster(stream *s, int kind, const char *p, size_t n)
{
    uint16_t len = (uint16_t)(n | (kind == STREAM_REASONING ? REASONING_BIT : 0));
    size_t mark = buf_len(&s->text);
    if (buf_add(&s->text, p, n) < 0)
        return -1;
    if (buf_add(&s->lens, &len, sizeof(len)) < 0) {
        s->text.len = mark;
        return -1;
    }
    s->count++;
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

static seg_emit_fn push_fn(int kind)
{
    return kind == STREAM_REASONING ? push_reasoning : push_text;
}

/* mu held. A cluster never spans thinking and answer: switching kinds completes the other. */
static int add_locked(stream *s, int kind, const char *p, size_t n)
{
    if (kind != s->last_kind) {
        if (seg_finish(&s->seg, push_fn(s->last_kind), s))
            return -1;
        s->last_kind = kind;
    }
    return seg_feed(&s->seg, p, n, push_fn(kind), s) ? -1 : 0;
}

static void fail_locked(stream *s, const char *type, const char *msg, int status);

int stream_add(stream *s, int kind, const char *p, size_t n)
{
    LOCK(s);
    int rc = 0;
    if (!s->term_kind && add_locked(s, kind, p, n) < 0) {
        fail_locked(s, "internal_error", "the answer is longer than chatd keeps per stream", 0);
        rc = -1;
    }
    UNLOCK(s);
    return rc;
}

void stream_set_finish(stream *s, const char *reason)
{
    LOCK(s);
    copy_text(s->finish_reason, sizeof(s->finish_reason), reason);
    UNLOCK(s);
}

void stream_set_usage(stream *s, long prompt, long completion)
{
    LOCK(s);
    s->prompt_tokens = prompt;
    s->completion_tokens = completion;
    UNLOCK(s);
}

void stream_start(stream *s)
{
    LOCK(s);
    if (s->phase == STREAM_WAITING)
        s->phase = STREAM_STARTED;
    UNLOCK(s);
}

void stream_fail_early(stream *s, int status, const char *type, const char *msg)
{
    LOCK(s);
    if (s->phase == STREAM_WAITING) {
        s->phase = STREAM_FAILED_EARLY;
        s->early_status = status;
        copy_text(s->early_type, sizeof(s->early_type), type);
        copy_text(s->early_msg, sizeof(s->early_msg), msg);
        s->term_kind = STREAM_TERM_ERROR;
    }
    UNLOCK(s);
}

/* mu held: the held tail becomes clusters. */
static void close_segs(stream *s)
{
    seg_finish(&s->seg, push_fn(s->last_kind), s);
}

static void fail_locked(stream *s, const char *type, const char *msg, int status)
{
    if (s->term_kind)
        return;
    close_segs(s);
    s->term_kind = STREAM_TERM_ERROR;
    s->flush = 1;
    s->err_status = status;
    copy_text(s->err_type, sizeof(s->err_type), type);
    copy_text(s->err_msg, sizeof(s->err_msg), msg);
}

int stream_end(stream *s)
{
    LOCK(s);
    if (!s->term_kind) {
        close_segs(s);
        s->term_kind = STREAM_TERM_DONE;
        if (!s->finish_reason[0])
            snprintf(s->finish_reason, sizeof(s->finish_reason), "stop");
    }
    UNLOCK(s);
    return 0;
}

void stream_fail(stream *s, const char *type, const char *msg, int status)
{
    LOCK(s);
    fail_locked(s, type, msg, status);
    UNLOCK(s);
}

void stream_cancel(stream *s)
{
    LOCK(s);
    if (!s->term_kind) {
        close_segs(s);
        s->term_kind = STREAM_TERM_DONE;
        s->flush = 1;
        snprintf(s->finish_reason, sizeof(s->finish_reason), "cancelled");
    }
    UNLOCK(s);
}

int stream_pump(stream *s, uint64_t now)
{
    LOCK(s);
    uint64_t backlog = s->count - s->visible;
    uint64_t n = backlog;
    if (!s->flush)
        n = pace_take(&s->pace, s->pc, now, (size_t)backlog, s->term_kind != 0);
    s->visible += n;
    int news = n > 0;
    if (s->term_kind && !s->term_visible && s->visible == s->count &&
        s->phase != STREAM_FAILED_EARLY) {
        s->term_visible = 1;
        s->ended_ms = now;
        news = 1;
    }
    UNLOCK(s);
    return news;
}

int stream_active(stream *s)
{
    LOCK(s);
    int a = s->visible < s->count || (s->term_kind && !s->term_visible && s->phase != STREAM_FAILED_EARLY);
    UNLOCK(s);
    return a;
}

uint64_t stream_backlog(stream *s)
{
    LOCK(s);
    uint64_t b = s->count - s->visible;
    UNLOCK(s);
    return b;
}

size_t stream_log_bytes(stream *s)
{
    LOCK(s);
    size_t n = buf_len(&s->text) + buf_len(&s->lens);
    UNLOCK(s);
    return n;
}

/* ---------- reader side ---------- */

int stream_cursor_init(stream_cursor *c, stream *s, stream_fmt fmt, int include_usage)
{
    memset(c, 0, sizeof(*c));
    c->fmt = fmt;
    c->include_usage = include_usage;
    buf_init(&c->head, EVENT_JSON_MAX);
    if (fmt == STREAM_FMT_OAI_SSE)
        return oai_chunk_head(&c->head, s->id, s->created, s->model);
    return 0;
}

void stream_cursor_free(stream_cursor *c)
{
    buf_free(&c->head);
}

static const uint16_t *lens_of(stream *s)
{
    return (const uint16_t *)buf_ptr(&s->lens);
}

int stream_seek(stream *s, stream_cursor *c, int64_t last_id)
{
    LOCK(s);
    int rc = 0;
    /* A client can only have seen released events: anything later is not an id of ours. */
    uint64_t max_id = s->term_visible ? s->count + 1 : s->visible;
    if (last_id >= 0 && (uint64_t)last_id > max_id) {
        rc = -1;
    } else {
        /* events up to last_id hold clusters 0 .. last_id-1 */
        uint64_t clusters = last_id <= 0 ? 0 : (uint64_t)last_id;
        if (clusters > s->count)
            clusters = s->count;
        const uint16_t *l = lens_of(s);
        size_t off = 0;
        for (uint64_t i = 0; i < clusters; i++)
            off += l[i] & ~REASONING_BIT;
        c->next_id = (uint64_t)(last_id + 1);
        c->text_off = off;
    }
    UNLOCK(s);
    return rc;
}

static int enc_start(stream *s, stream_cursor *c, buf *out)
{
    if (c->fmt == STREAM_FMT_OAI_SSE)
        return oai_chunk_role(out, buf_ptr(&c->head), buf_len(&c->head));
    buf j;
    buf_init(&j, EVENT_JSON_MAX);
    int rc = buf_addstr(&j, "{\"stream_id\":") | jsonw_str(&j, s->id, strlen(s->id)) |
             buf_addstr(&j, ",\"model\":") | jsonw_str(&j, s->model, strlen(s->model)) |
             buf_addstr(&j, "}");
    if (!rc)
        rc = sse_event(out, 0, "start", buf_ptr(&j), buf_len(&j));
    buf_free(&j);
    return rc;
}

static int enc_cluster(stream_cursor *c, buf *out, int reasoning, const char *p, size_t n)
{
    if (c->fmt == STREAM_FMT_OAI_SSE)
        return oai_chunk_text(out, buf_ptr(&c->head), buf_len(&c->head), reasoning, p, n);
    return sse_text(out, c->next_id, reasoning ? "reasoning" : "delta", p, n);
}

static int enc_done(stream *s, stream_cursor *c, buf *out)
{
    if (c->fmt == STREAM_FMT_OAI_SSE)
        return oai_chunk_end(out, buf_ptr(&c->head), buf_len(&c->head), s->finish_reason,
                             c->include_usage, s->prompt_tokens, s->completion_tokens);
    buf j;
    buf_init(&j, EVENT_JSON_MAX);
    int rc = buf_addstr(&j, "{\"finish_reason\":") |
             jsonw_str(&j, s->finish_reason, strlen(s->finish_reason));
    if (s->prompt_tokens >= 0)
        rc |= buf_addf(&j, ",\"usage\":{\"prompt_tokens\":%ld,\"completion_tokens\":%ld}",
                       s->prompt_tokens, s->completion_tokens);
    rc |= buf_addstr(&j, "}");
    if (!rc)
        rc = sse_event(out, c->next_id, "done", buf_ptr(&j), buf_len(&j));
    buf_free(&j);
    return rc;
}

static int enc_error(stream *s, stream_cursor *c, buf *out)
{
    if (c->fmt == STREAM_FMT_OAI_SSE)
        return oai_chunk_error(out, s->err_type, s->err_msg);
    buf j;
    buf_init(&j, EVENT_JSON_MAX);
    int rc = buf_addstr(&j, "{\"error\":{\"type\":") | jsonw_str(&j, s->err_type, strlen(s->err_type)) |
             buf_addstr(&j, ",\"message\":") | jsonw_str(&j, s->err_msg, strlen(s->err_msg));
    if (s->err_status)
        rc |= buf_addf(&j, ",\"status\":%d", s->err_status);
    rc |= buf_addstr(&j, "}}");
    if (!rc)
        rc = sse_event(out, c->next_id, "error", buf_ptr(&j), buf_len(&j));
    buf_free(&j);
    return rc;
}

/* The non-streamed answer: content and reasoning gathered from the log (mu held). */
static int enc_whole(stream *s, buf *out)
{
    if (s->term_kind == STREAM_TERM_ERROR)
        return oai_error_body(out, s->err_type, s->err_msg);
    buf part[2];
    buf_init(&part[0], LIM_LOG_TEXT);
    buf_init(&part[1], LIM_LOG_TEXT);
    const uint16_t *l = lens_of(s);
    const char *p = buf_ptr(&s->text);
    int rc = 0;
    for (uint64_t i = 0; i < s->count && !rc; i++) {
        size_t n = l[i] & ~REASONING_BIT;
        rc = buf_add(&part[(l[i] & REASONING_BIT) != 0], p, n);
        p += n;
    }
    if (!rc)
        rc = oai_completion(out, s->id, s->created, s->model, buf_ptr(&part[0]), buf_len(&part[0]),
                            buf_ptr(&part[1]), buf_len(&part[1]), s->finish_reason,
                            s->prompt_tokens, s->completion_tokens);
    buf_free(&part[0]);
    buf_free(&part[1]);
    return rc;
}

/* mu held: the events after c that are released, while out is under max. */
static int encode_locked(stream *s, stream_cursor *c, buf *out, size_t max)
{
    if (c->fmt == STREAM_FMT_OAI_JSON) {
        if (!s->term_visible)
            return 0;
        return enc_whole(s, out) < 0 ? -1 : 1;
    }
    if (c->fmt == STREAM_FMT_NATIVE && !c->retry_sent) {
        if (sse_retry(out, 3000) < 0)
            return -1;
        c->retry_sent = 1;
    }
    if (c->next_id == 0 && buf_len(out) < max) {
        if (enc_start(s, c, out) < 0)
            return -1;
        c->next_id = 1;
    }
    const uint16_t *l = lens_of(s);
    const char *text = buf_ptr(&s->text);
    while (c->next_id <= s->visible && buf_len(out) < max) {
        uint16_t len = l[c->next_id - 1];
        size_t n = len & ~REASONING_BIT;
        if (enc_cluster(c, out, (len & REASONING_BIT) != 0, text + c->text_off, n) < 0)
            return -1;
        c->text_off += n;
        c->next_id++;
    }
    if (s->term_visible && c->next_id == s->count + 1 && buf_len(out) < max) {
        int rc = s->term_kind == STREAM_TERM_DONE ? enc_done(s, c, out) : enc_error(s, c, out);
        if (rc < 0)
            return -1;
        c->next_id++;
    }
    return s->term_visible && c->next_id > s->count + 1;
}

int stream_encode(stream *s, stream_cursor *c, buf *out, size_t max)
{
    LOCK(s);
    int rc = encode_locked(s, c, out, max);
    UNLOCK(s);
    return rc;
}

int64_t stream_last_id(stream *s)
{
    LOCK(s);
    int64_t id = s->term_visible ? (int64_t)s->count + 1 : -1;
    UNLOCK(s);
    return id;
}
