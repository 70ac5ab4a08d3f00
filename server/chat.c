/* chat — see chat.h.
 *
 * Life of a chat: chat_start builds the upstream request and a stream in the WAITING
 * phase. The first upstream body byte with a 2xx status starts the stream (its readers
 * queue their event-stream responses); a failure before that fails it early (an HTTP
 * error status). Upstream text flows through the provider's parser into emit, which
 * releases it into the stream at the pacer's rate; readers read what is released.
 *
 * Two scheduler tasks per chat: `tick` while emit has characters or the end to release
 * (or the upstream is paused), and `wake` when the store tells the owner something (a
 * cancel request, the last reader gone). */
#include "chat.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <curl/curl.h>

#include "emit.h"
#include "lim.h"
#include "quota.h"
#include "redact.h"
#include "repl.h"
#include "utf8.h"

typedef enum { PHASE_WAITING, PHASE_STARTED, PHASE_FAILED_EARLY } chat_phase;

typedef struct chat chat;
struct chat {
    chat_set *cs;
    stream *s;
    emit e;
    up_xfer *x;
    prov_stream *ps;
    chat_phase phase;
    int up_paused;
    int up_end_seen;   /* the provider's explicit end marker */
    int counted;       /* counts in chat_live and the client's quota */
    buf errbody;
    uint64_t t0_ms, last_up_ms;
    chat *next, *prev; /* the set's chats */
    sched_task tick;   /* pacing, while active */
    sched_task wake;   /* the store has news for the owner */
    stream_sub owner;
    char client[QUOTA_CLIENT_MAX];
    char slot[REPL_SLOT_MAX]; /* the client's slot in Redis (across replicas); "": quota's */
};

struct chat_set {
    chat_host h;
    chat *chats;
    int n;
};

static atomic_int live;

int chat_live(void)
{
    return atomic_load(&live);
}

static const up_ops chat_up_ops;
static int on_tick(sched_task *t, uint64_t now);
static int on_wake(sched_task *t, uint64_t now);

#define CHAT_OF(ptr, field) ((chat *)(void *)((char *)(ptr) - offsetof(chat, field)))

/* ---------- lifetime ---------- */

/* A client's stream slot is free again, where it was taken. */
static void release_slot(const char *client, const char *slot, stream *s)
{
    if (slot[0])
        repl_release(repl_current(), client, slot, s);
    else
        quota_release(client, loop_now_ms());
}

/* The stream stops counting against max_streams and the client's quota: the one place. */
static void uncount(chat *c)
{
    if (!c->counted)
        return;
    c->counted = 0;
    atomic_fetch_sub(&live, 1);
    release_slot(c->client, c->slot, c->s);
}

static void stop_upstream(chat *c)
{
    if (!c->x)
        return;
    up_cancel(c->cs->h.up, c->x);
    c->x = NULL;
}

static void chat_free(chat *c)
{
    chat_set *cs = c->cs;
    stop_upstream(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        cs->chats = c->next;
    if (c->next)
        c->next->prev = c->prev;
    cs->n--;
    stream_disown(c->s); /* no wake-up reaches c from here on */
    sched_forget(&c->tick);
    sched_forget(&c->wake);
    if (c->ps)
        cs->h.env->prov->close(c->ps);
    stream_expire(c->s);
    stream_unref(c->s);
    emit_free(&c->e);
    buf_free(&c->errbody);
    uncount(c);
    free(c);
}

static void make_id(char *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char rnd[STREAM_ID_LEN / 2];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        memset(rnd, 0, sizeof(rnd));
    size_t i = 0;
    for (; i < sizeof(rnd) && 2 * i + 2 < n; i++) {
        out[2 * i] = hex[rnd[i] >> 4];
        out[2 * i + 1] = hex[rnd[i] & 15];
    }
    out[2 * i] = '\0';
}

/* A finished answer stops counting against max_streams at once (it stays resumable). */
static void uncount_if_done(chat *c)
{
    if (c->counted && !c->x && c->e.term_sent)
        uncount(c);
}

/* Releases what pacing allows into the stream and counts it. */
static void release(chat *c, uint64_t now)
{
    uint64_t before = c->e.released;
    uint64_t n = emit_pump(&c->e, now);
    if (n) {
        metrics_add(&c->cs->h.m->chars, n);
        if (!before)
            metrics_first_char(c->cs->h.m, loop_since(now, c->t0_ms) * 1000);
    }
}

/* Releases what pacing allows, keeps ticking while there is more. */
static void kick(chat *c, uint64_t now)
{
    release(c, now);
    if (emit_active(&c->e) || c->up_paused)
        sched_activate(&c->tick);
    uncount_if_done(c);
}

static void start_stream(chat *c)
{
    if (c->phase != PHASE_WAITING)
        return;
    c->phase = PHASE_STARTED;
    stream_start(c->s);
}

static void fail_early(chat *c, int status, const char *type, const char *msg)
{
    if (c->phase != PHASE_WAITING)
        return;
    c->phase = PHASE_FAILED_EARLY;
    stream_term t = {.kind = STREAM_TERM_ERROR, .status = status};
    utf8_copy(t.type, sizeof(t.type), type);
    utf8_copy(t.msg, sizeof(t.msg), msg);
    stream_fail_early(c->s, &t);
    emit_fail(&c->e, type, msg, status);
    c->e.term_sent = 1; /* nothing follows an early failure */
    c->e.ended_ms = loop_now_ms();
}

static void count_error(chat *c, metrics_uperr kind)
{
    metrics_add(&c->cs->h.m->up_errors[kind], 1);
}

/* ---------- upstream side ---------- */

static int sink_text(void *ctx, const char *p, size_t n)
{
    return emit_text(&((chat *)ctx)->e, EMIT_TEXT, p, n);
}

static int sink_reasoning(void *ctx, const char *p, size_t n)
{
    return emit_text(&((chat *)ctx)->e, EMIT_REASONING, p, n);
}

static int sink_finish(void *ctx, const char *reason)
{
    emit_finish_reason(&((chat *)ctx)->e, reason);
    return 0;
}

static int sink_usage(void *ctx, long prompt, long completion)
{
    emit_usage(&((chat *)ctx)->e, prompt, completion);
    return 0;
}

/* The upstream's own words may quote a credential back: never pass those on. */
static void scrub(const chat *c, char *msg)
{
    redact_credentials(msg, c->cs->h.env->cfg->upstream_api_key);
}

static int sink_error(void *ctx, const char *type, const char *message)
{
    chat *c = ctx;
    count_error(c, UPERR_REPORTED);
    char msg[300];
    int n = snprintf(msg, sizeof(msg), "upstream error: %s", message);
    if (n >= (int)sizeof(msg))
        msg[utf8_trim(msg, sizeof(msg) - 1)] = '\0'; /* never half a character */
    scrub(c, msg);
    emit_fail(&c->e, "upstream_error", msg, 0);
    return 1; /* stop reading: the stream has ended */
}

static int sink_end(void *ctx)
{
    ((chat *)ctx)->up_end_seen = 1;
    return 0;
}

static int sink_tool(void *ctx, int index, const char *id, const char *name)
{
    return emit_tool(&((chat *)ctx)->e, index, id, name);
}

static int sink_tool_args(void *ctx, int index, const char *p, size_t n)
{
    return emit_tool_args(&((chat *)ctx)->e, index, p, n);
}

static const prov_sink *sink_for(chat *c, prov_sink *s)
{
    *s = (prov_sink){c,        sink_text, sink_reasoning, sink_finish, sink_usage,
                     sink_error, sink_end, sink_tool,     sink_tool_args};
    return s;
}

/* Characters the slowest live reader has not taken, queued ones included (0: no live
 * reader, nobody to wait for). */
static uint64_t unsent(chat *c)
{
    uint64_t worst;
    return stream_lag(c->s, &worst) ? worst + emit_backlog(&c->e) : 0;
}

static int on_data(void *ud, long status, const char *p, size_t n)
{
    chat *c = ud;
    uint64_t now = loop_now_ms();
    c->last_up_ms = now;
    if (status < 200 || status >= 300) {
        size_t room = LIM_UP_ERRBODY - buf_len(&c->errbody);
        buf_add(&c->errbody, p, n > room ? room : n); /* the start is enough for a reason */
        return UP_DATA_OK;
    }
    start_stream(c);
    if (unsent(c) >= LIM_UNSENT_HIGH) {
        c->up_paused = 1;
        sched_activate(&c->tick);
        return UP_DATA_PAUSE;
    }
    prov_sink sink;
    int rc = c->cs->h.env->prov->feed(c->ps, p, n, sink_for(c, &sink));
    if (rc < 0 && !emit_decided(&c->e))
        count_error(c, UPERR_MALFORMED);
    if (rc < 0)
        emit_fail(&c->e, "upstream_error",
                  rc == PROV_ERR_PARSE ? "upstream sent a malformed event stream"
                                       : "upstream event too large or out of memory", 0);
    kick(c, now);
    return emit_is_error(&c->e) ? UP_DATA_ABORT : UP_DATA_OK;
}

/* The reason an upstream HTTP error gives, never carrying the key. */
static void upstream_reason(chat *c, long status, char *out, size_t n)
{
    char why[200] = "";
    if (status == 401 || status == 403) {
        snprintf(out, n, "upstream rejected the credentials (HTTP %ld)", status);
        return;
    }
    c->cs->h.env->prov->error_reason(buf_ptr(&c->errbody), buf_len(&c->errbody), why, sizeof(why));
    scrub(c, why);
    if (why[0])
        snprintf(out, n, "upstream returned HTTP %ld: %s", status, why);
    else
        snprintf(out, n, "upstream returned HTTP %ld", status);
}

static void done_before_start(chat *c, int result, long status, const char *why)
{
    char msg[256];
    if (status >= 300) {
        count_error(c, UPERR_STATUS);
        upstream_reason(c, status, msg, sizeof(msg));
        fail_early(c, 502, "upstream_error", msg);
    } else if (result == UP_TIMEOUT) {
        count_error(c, UPERR_TIMEOUT);
        fail_early(c, 504, "upstream_timeout", "upstream did not connect in time");
    } else {
        count_error(c, result == UP_CONNECT ? UPERR_CONNECT
                       : result == UP_OK    ? UPERR_EARLY_END
                                            : UPERR_FAILED);
        if (result == UP_CONNECT)
            snprintf(msg, sizeof(msg), "could not connect to the upstream: %s", why);
        else if (result == UP_OK)
            snprintf(msg, sizeof(msg), "upstream sent an empty response");
        else
            snprintf(msg, sizeof(msg), "upstream failed: %s", why);
        fail_early(c, 502, "upstream_error", msg);
    }
}

static metrics_uperr failure_kind(int result, int rc)
{
    if (result == UP_TIMEOUT)
        return UPERR_TIMEOUT;
    if (result != UP_OK)
        return UPERR_FAILED;
    return rc < 0 ? UPERR_MALFORMED : UPERR_EARLY_END;
}

static void done_streaming(chat *c, int result, const char *why)
{
    prov_sink sink;
    int rc = 0;
    if (result == UP_OK)
        rc = c->cs->h.env->prov->finish(c->ps, sink_for(c, &sink));
    if (emit_decided(&c->e))
        return;
    int finished = c->up_end_seen || c->e.term.finish_reason[0];
    if (!(result == UP_OK && rc >= 0 && finished))
        count_error(c, failure_kind(result, rc));
    if (result == UP_OK && rc < 0)
        emit_fail(&c->e, "upstream_error", "upstream ended in the middle of an event", 0);
    else if (result == UP_OK && finished)
        emit_done(&c->e);
    else if (result == UP_OK)
        emit_fail(&c->e, "upstream_error", "upstream ended the stream early", 0);
    else if (result == UP_TIMEOUT)
        emit_fail(&c->e, "upstream_timeout", "upstream timed out", 0);
    else {
        char msg[256];
        snprintf(msg, sizeof(msg), "upstream connection failed: %s", why);
        emit_fail(&c->e, "upstream_error", msg, 0);
    }
}

static void on_done(void *ud, int result, long status, const char *why)
{
    chat *c = ud;
    c->x = NULL;
    if (c->phase == PHASE_WAITING)
        done_before_start(c, result, status, why);
    else
        done_streaming(c, result, why);
    kick(c, loop_now_ms());
}

static const up_ops chat_up_ops = {on_data, on_done};

/* ---------- the owner's ticks ---------- */

/* Pacing: resumes a paused upstream once the readers caught up, releases characters.
 * Returns whether to keep ticking. Never frees c. */
static int on_tick(sched_task *t, uint64_t now)
{
    chat *c = CHAT_OF(t, tick);
    if (c->up_paused && c->x && unsent(c) < LIM_UNSENT_LOW) {
        c->up_paused = 0;
        c->last_up_ms = now;
        up_resume(c->cs->h.up, c->x); /* may deliver data right here */
    }
    release(c, now);
    uncount_if_done(c);
    return emit_active(&c->e) || (c->up_paused && c->x);
}

static void cancel(chat *c, uint64_t now)
{
    stop_upstream(c);
    /* Cancelled before the upstream answered: a started stream that ends at once, so
     * every reader sees the same done / cancelled. */
    start_stream(c);
    emit_cancel(&c->e);
    kick(c, now);
}

/* Upstream timeouts: first byte, then silence mid-answer. */
static void check_timeouts(chat *c, uint64_t now)
{
    const cfg *cf = c->cs->h.env->cfg;
    if (!c->x)
        return;
    if (c->phase == PHASE_WAITING &&
        loop_since(now, c->t0_ms) >= (uint64_t)cf->upstream_first_byte_timeout_ms) {
        stop_upstream(c);
        count_error(c, UPERR_TIMEOUT);
        fail_early(c, 504, "upstream_timeout", "upstream sent no answer in time");
        kick(c, now);
    } else if (loop_since(now, c->t0_ms) >= (uint64_t)cf->max_stream_duration_ms) {
        stop_upstream(c);
        start_stream(c);
        emit_fail(&c->e, "max_duration", "the answer took longer than this server allows", 0);
        kick(c, now);
    } else if (c->phase == PHASE_STARTED && !c->up_paused &&
               loop_since(now, c->last_up_ms) >= (uint64_t)cf->upstream_idle_timeout_ms) {
        stop_upstream(c);
        count_error(c, UPERR_TIMEOUT);
        emit_fail(&c->e, "upstream_timeout", "upstream went silent mid-answer", 0);
        kick(c, now);
    }
}

/* Cancel requests, the resume grace, expiry. May free c. */
static void check(chat *c, uint64_t now)
{
    uint64_t alone;
    int nreaders = stream_readers(c->s, &alone);
    int cancel_req = stream_cancel_requested(c->s);
    int running = c->x != NULL || !emit_decided(&c->e);
    uint64_t grace = (uint64_t)c->cs->h.env->cfg->resume_grace_ms;
    if (running && (cancel_req || (nreaders == 0 && loop_since(now, alone) >= grace))) {
        metrics_add(&c->cs->h.m->cancels[cancel_req ? CANCEL_REQUEST : CANCEL_CLIENT_GONE], 1);
        cancel(c, now);
    }
    uncount_if_done(c);
    /* Kept for resume until retention ends; an early failure has nothing to resume. */
    uint64_t keep = (uint64_t)c->cs->h.env->cfg->stream_retention_ms;
    int early = c->phase == PHASE_FAILED_EARLY;
    int expired = (!early && c->e.term_sent && loop_since(now, c->e.ended_ms) >= keep) ||
                  (early && nreaders == 0);
    if (expired && !c->x && !c->tick.ticking)
        chat_free(c);
}

static int on_wake(sched_task *t, uint64_t now)
{
    check(CHAT_OF(t, wake), now);
    return 0;
}

/* The store's news for the owner (any thread): look at it on the owner's next pass. */
static void owner_notify(stream_sub *sub)
{
    sched_wake(&CHAT_OF(sub, owner)->wake);
}

/* ---------- the set ---------- */

chat_set *chat_set_new(const chat_host *h)
{
    chat_set *cs = calloc(1, sizeof(*cs));
    if (cs)
        cs->h = *h;
    return cs;
}

void chat_set_free(chat_set *cs)
{
    if (!cs)
        return;
    while (cs->chats)
        chat_free(cs->chats);
    free(cs);
}

int chat_set_count(const chat_set *cs)
{
    return cs->n;
}

void chat_set_housekeep(chat_set *cs, uint64_t now)
{
    for (chat *c = cs->chats, *next; c; c = next) {
        next = c->next;
        check_timeouts(c, now);
        check(c, now);
    }
}

void chat_set_shutdown(chat_set *cs)
{
    uint64_t now = loop_now_ms();
    for (chat *c = cs->chats; c; c = c->next) {
        stop_upstream(c);
        fail_early(c, 503, "shutdown", "server is shutting down");
        emit_fail(&c->e, "shutdown", "server is shutting down", 0);
        kick(c, now);
    }
}

/* ---------- start ---------- */

static chat *chat_new(chat_set *cs, const char *model, const char *client, const char *slot)
{
    chat *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    char id[STREAM_ID_LEN + 1];
    make_id(id, sizeof(id));
    c->s = stream_create(id, model, cs->h.idx);
    if (!c->s) {
        free(c);
        return NULL;
    }
    uint64_t now = loop_now_ms();
    c->cs = cs;
    emit_init(&c->e, c->s, &cs->h.env->pace, now);
    buf_init(&c->errbody, LIM_UP_ERRBODY);
    snprintf(c->client, sizeof(c->client), "%s", client);
    snprintf(c->slot, sizeof(c->slot), "%s", slot);
    repl_hold(c->s, client, slot); /* its owner keeps the slot's lease alive */
    c->t0_ms = c->last_up_ms = now;
    sched_task_init(&c->tick, cs->h.sc, on_tick);
    sched_task_init(&c->wake, cs->h.sc, on_wake);
    c->owner.notify = owner_notify;
    stream_own(c->s, &c->owner);
    c->next = cs->chats;
    if (cs->chats)
        cs->chats->prev = c;
    cs->chats = c;
    cs->n++;
    c->counted = 1;
    atomic_fetch_add(&live, 1);
    return c;
}

/* The upstream sees the same request id as the client and the log. */
static int add_request_id(prov_http *h, const char *request_id)
{
    char line[64];
    snprintf(line, sizeof(line), "X-Request-Id: %s", request_id);
    struct curl_slist *l = curl_slist_append(h->headers, line);
    if (!l)
        return -1;
    h->headers = l;
    return 0;
}

/* The refusal for a build error. */
static void refuse(chat_refusal *why, int rc, const char *err)
{
    int bad_field = rc == PROV_BUILD_UNSUPPORTED || rc == PROV_BUILD_INVALID;
    why->status = bad_field ? 400 : 500;
    snprintf(why->type, sizeof(why->type), "%s",
             rc == PROV_BUILD_UNSUPPORTED ? "unsupported_parameter"
             : rc == PROV_BUILD_INVALID   ? "invalid_request"
                                          : "internal_error");
    utf8_copy(why->msg, sizeof(why->msg),
              bad_field && *err ? err : "could not start the upstream request");
}

stream *chat_start(chat_set *cs, const chat_req *req, const char *client, const char *slot,
                   const char *request_id, chat_refusal *why)
{
    const chatd_env *env = cs->h.env;
    const char *model = req->model ? req->model : env->cfg->model;
    prov_http h = {0};
    chat *c = NULL;
    char err[256] = "";
    int rc = env->prov->build(req, env->upstream_url, env->cfg->upstream_api_key, model, &h, err,
                              sizeof(err));
    refuse(why, rc < 0 ? rc : PROV_BUILD_NOMEM, err);
    if (rc < 0 || add_request_id(&h, request_id) < 0 || !(c = chat_new(cs, model, client, slot)) ||
        !(c->ps = env->prov->open()))
        goto fail;
    c->x = up_start(cs->h.up, &h, &(up_opts){env->cfg->upstream_connect_timeout_ms}, &chat_up_ops, c);
    if (!c->x)
        goto fail;
    prov_http_free(&h);
    metrics_add(&cs->h.m->streams, 1);
    stream_ref(c->s);
    return c->s;
fail:
    prov_http_free(&h);
    if (c)
        chat_free(c); /* releases the client's slot */
    else
        release_slot(client, slot, NULL);
    return NULL;
}
