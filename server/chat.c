/* chat — see chat.h.
 *
 * Life of a chat: chat_start plans the request's way through the model map (route.h),
 * makes a stream in the WAITING phase and starts the first attempt. While another attempt
 * may follow (a next key, a fallback), the stream starts with the first character (text,
 * reasoning, a tool call or the end); on the last, with the first upstream body byte of a
 * 2xx status. Until it starts, a connect error, a timeout, 429, 5xx, 401/403 or an error
 * event moves the request to the next attempt, built from the same request for that
 * attempt's provider; when none is left it fails early (an HTTP error status). Once it
 * started nothing is retried. Upstream text flows through the provider's parser into
 * emit, which releases it into the stream at the pacer's rate; readers read what is
 * released.
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
#include "log.h"
#include "quota.h"
#include "redact.h"
#include "repl.h"
#include "route.h"
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
    int up_end_seen; /* the provider's explicit end marker */
    int counted;     /* counts in chat_live and the client's quota */
    buf errbody;
    uint64_t t0_ms, last_up_ms;
    uint64_t try_t0_ms; /* the attempt's start */
    routes *rt;         /* the model map it was planned with (a reference) */
    route_plan plan;
    route_attempt at; /* the attempt under way */
    const prov *prov; /* at's provider */
    chat_req req;     /* kept while another attempt may follow: each builds from it */
    int has_req;
    int may_retry;   /* another attempt may follow this one: hold the start */
    int early_error; /* an error event came before any character (sink_error) */
    char early_msg[300];
    char tries[512]; /* "upstream/model status; ..." for the log */
    char request_id[64];
    chat *next, *prev; /* the set's live chats, or its retained ones (retained) */
    int retained;      /* ended, kept for resume only: in the set's retained queue */
    sched_task tick;   /* pacing, while active */
    sched_task wake;   /* the store has news for the owner */
    stream_sub owner;
    char client[QUOTA_CLIENT_MAX];
    char slot[REPL_SLOT_MAX]; /* the client's slot in Redis (across replicas); "": quota's */
};

/* Live chats (an upstream, pacing, an early failure with readers) are checked at every
 * housekeeping tick; ended ones, kept only for resume until their retention ends, wait in
 * a queue in the order they ended, so a tick looks at the expired head only, not at every
 * stream kept (thousands, for a minute each). */
struct chat_set {
    chat_host h;
    chat *chats;          /* live */
    chat *old, *old_tail; /* retained, oldest first */
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

#define CHAT_OF(ptr, field) ((chat *)(void *)((char *)(ptr)-offsetof(chat, field)))

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
    chat **head = c->retained ? &cs->old : &cs->chats;
    if (c->prev)
        c->prev->next = c->next;
    else
        *head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else if (c->retained)
        cs->old_tail = c->prev;
    cs->n--;
    stream_disown(c->s); /* no wake-up reaches c from here on */
    sched_forget(&c->tick);
    sched_forget(&c->wake);
    if (c->ps)
        c->prov->close(c->ps);
    if (c->has_req)
        req_free(&c->req);
    routes_unref(c->rt);
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

/* The first character (or the end) of an attempt that held its start: the answer is
 * this attempt's from here on, whatever follows. */
static void first_content(chat *c)
{
    if (c->phase != PHASE_WAITING)
        return;
    c->may_retry = 0;
    start_stream(c);
    if (c->has_req) {
        req_free(&c->req);
        c->has_req = 0;
    }
}

static int sink_text(void *ctx, const char *p, size_t n)
{
    first_content(ctx);
    return emit_text(&((chat *)ctx)->e, EMIT_TEXT, p, n);
}

static int sink_reasoning(void *ctx, const char *p, size_t n)
{
    first_content(ctx);
    return emit_text(&((chat *)ctx)->e, EMIT_REASONING, p, n);
}

static int sink_finish(void *ctx, const char *reason)
{
    first_content(ctx);
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
    redact_credentials(msg, c->at.key ? c->at.key->value : "");
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
    if (c->phase == PHASE_WAITING && c->may_retry) {
        /* Before any character: the next attempt may answer instead. */
        c->early_error = 1;
        snprintf(c->early_msg, sizeof(c->early_msg), "%s", msg);
        return 1;
    }
    first_content(c);
    emit_fail(&c->e, "upstream_error", msg, 0);
    return 1; /* stop reading: the stream has ended */
}

static int sink_end(void *ctx)
{
    first_content(ctx);
    ((chat *)ctx)->up_end_seen = 1;
    return 0;
}

static int sink_tool(void *ctx, int index, const char *id, const char *name)
{
    first_content(ctx);
    return emit_tool(&((chat *)ctx)->e, index, id, name);
}

static int sink_tool_args(void *ctx, int index, const char *p, size_t n)
{
    return emit_tool_args(&((chat *)ctx)->e, index, p, n);
}

static const prov_sink *sink_for(chat *c, prov_sink *s)
{
    *s = (prov_sink){c,          sink_text, sink_reasoning, sink_finish,   sink_usage,
                     sink_error, sink_end,  sink_tool,      sink_tool_args};
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
    if (!c->may_retry)
        start_stream(c); /* the last attempt: its answer, whatever it says */
    if (unsent(c) >= LIM_UNSENT_HIGH) {
        c->up_paused = 1;
        sched_activate(&c->tick);
        return UP_DATA_PAUSE;
    }
    prov_sink sink;
    int rc = c->prov->feed(c->ps, p, n, sink_for(c, &sink));
    if (c->early_error)
        return UP_DATA_ABORT; /* on_done moves on to the next attempt */
    if (rc < 0 && c->phase == PHASE_WAITING && c->may_retry) {
        c->early_error = 1;
        snprintf(c->early_msg, sizeof(c->early_msg), "upstream sent a malformed event stream");
        return UP_DATA_ABORT;
    }
    if (rc < 0 && !emit_decided(&c->e))
        count_error(c, UPERR_MALFORMED);
    if (rc < 0)
        emit_fail(&c->e, "upstream_error",
                  rc == PROV_ERR_PARSE ? "upstream sent a malformed event stream"
                                       : "upstream event too large or out of memory",
                  0);
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
    c->prov->error_reason(buf_ptr(&c->errbody), buf_len(&c->errbody), why, sizeof(why));
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
        rc = c->prov->finish(c->ps, sink_for(c, &sink));
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

/* Whether an attempt that ended this way, before the first character, may be followed by
 * the next: no answer, a timeout, an error event, 401/403 (the key), 429, 5xx. */
static int retryable(const chat *c, int result, long status)
{
    if (c->early_error)
        return 1;
    if (status >= 300)
        return status == 401 || status == 403 || status == 429 || status >= 500;
    return result != UP_ABORTED;
}

static void note_try(chat *c, const char *what)
{
    size_t n = strlen(c->tries);
    char piece[2 * ROUTE_NAME_MAX + 64];
    snprintf(piece, sizeof(piece), "%s%s/%s %s", n ? "; " : "", c->at.up->name,
             c->at.upstream_model, what);
    utf8_copy(c->tries + n, sizeof(c->tries) - n, piece); /* cut whole, when long */
}

static int start_attempt(chat *c, chat_refusal *why);

/* The attempt failed before its first character: the next one, if the plan has one.
 * 1 when another attempt is under way. */
static int try_next(chat *c, int result, long status, long retry_after_s)
{
    uint64_t now = loop_now_ms();
    char what[48];
    if (c->early_error)
        snprintf(what, sizeof(what), "error event");
    else if (status >= 300)
        snprintf(what, sizeof(what), "HTTP %ld", status);
    else
        snprintf(what, sizeof(what), "%s",
                 result == UP_TIMEOUT   ? "timeout"
                 : result == UP_CONNECT ? "connect error"
                                        : "failed");
    note_try(c, what);
    route_report(&c->at, status, retry_after_s, 1, now);
    if (!c->has_req || !retryable(c, result, status))
        return 0;
    while (route_next(&c->plan, now, &c->at, NULL) == ROUTE_NEXT_OK) {
        if (start_attempt(c, NULL) == 0) {
            metrics_add(&c->cs->h.m->fallbacks, 1);
            return 1;
        }
        note_try(c, "not started (cannot take this request)");
    }
    return 0;
}

static void on_done(void *ud, int result, long status, long retry_after_s, const char *why)
{
    chat *c = ud;
    c->x = NULL;
    if (c->phase == PHASE_WAITING && try_next(c, result, status, retry_after_s))
        return;
    if (c->phase == PHASE_WAITING && c->early_error) {
        start_stream(c); /* the last attempt's error event, reported as one */
        emit_fail(&c->e, "upstream_error", c->early_msg, 0);
    } else if (c->phase == PHASE_WAITING)
        done_before_start(c, result, status, why);
    else
        done_streaming(c, result, why);
    if (c->tries[0])
        log_msg(LOG_INFO, "stream %s: upstream attempts: %s", stream_get_info(c->s)->id, c->tries);
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
        loop_since(now, c->try_t0_ms) >= (uint64_t)c->at.up->first_byte_timeout_ms) {
        stop_upstream(c);
        count_error(c, UPERR_TIMEOUT);
        if (try_next(c, UP_TIMEOUT, 0, -1))
            return;
        fail_early(c, 504, "upstream_timeout", "upstream sent no answer in time");
        kick(c, now);
    } else if (loop_since(now, c->t0_ms) >= (uint64_t)cf->max_stream_duration_ms) {
        stop_upstream(c);
        start_stream(c);
        emit_fail(&c->e, "max_duration", "the answer took longer than this server allows", 0);
        kick(c, now);
    } else if (c->phase == PHASE_STARTED && !c->up_paused &&
               loop_since(now, c->last_up_ms) >= (uint64_t)c->at.up->idle_timeout_ms) {
        stop_upstream(c);
        count_error(c, UPERR_TIMEOUT);
        emit_fail(&c->e, "upstream_timeout", "upstream went silent mid-answer", 0);
        kick(c, now);
    }
}

/* Cancel requests, the resume grace, expiry. May free c. */
/* c has ended and only waits for its retention to pass: from the live list to the end of
 * the retained queue (chats end in about the order they are moved here). */
static void retain(chat *c)
{
    chat_set *cs = c->cs;
    if (c->prev)
        c->prev->next = c->next;
    else
        cs->chats = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->retained = 1;
    c->next = NULL;
    c->prev = cs->old_tail;
    if (cs->old_tail)
        cs->old_tail->next = c;
    else
        cs->old = c;
    cs->old_tail = c;
}

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
    else if (!early && !c->retained && c->e.term_sent && !c->x && !c->tick.ticking && !c->counted)
        retain(c);
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
    while (cs->old)
        chat_free(cs->old);
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
    /* The retained queue: only its expired head (an early one that is not expired yet
     * holds the rest back until it is; they end in about this order). */
    uint64_t keep = (uint64_t)cs->h.env->cfg->stream_retention_ms;
    for (chat *c; (c = cs->old) && loop_since(now, c->e.ended_ms) >= keep;) {
        check(c, now);
        if (cs->old == c)
            break; /* still held (cannot happen to an ended chat): not in a loop */
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
    char line[96];
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
    why->retry_after_s = 0;
    snprintf(why->type, sizeof(why->type), "%s",
             rc == PROV_BUILD_UNSUPPORTED ? "unsupported_parameter"
             : rc == PROV_BUILD_INVALID   ? "invalid_request"
                                          : "internal_error");
    utf8_copy(why->msg, sizeof(why->msg),
              bad_field && *err ? err : "could not start the upstream request");
}

/* Starts c->at: the request built for its provider, key and model. 0, or a PROV_BUILD_*
 * code with *why filled (when given). */
static int start_attempt(chat *c, chat_refusal *why)
{
    const route_attempt *a = &c->at;
    prov_http h = {0};
    char err[256] = "";
    if (c->ps)
        c->prov->close(c->ps);
    c->ps = NULL;
    c->prov = a->up->prov;
    c->early_error = 0;
    c->up_end_seen = 0;
    buf_reset(&c->errbody);
    int rc = c->prov->build(&c->req, a->up->url, a->key ? a->key->value : "", a->upstream_model, &h,
                            err, sizeof(err));
    if (why)
        refuse(why, rc < 0 ? rc : PROV_BUILD_NOMEM, err);
    if (rc == 0 && (add_request_id(&h, c->request_id) < 0 || !(c->ps = c->prov->open())))
        rc = PROV_BUILD_NOMEM;
    if (rc == 0) {
        c->x = up_start(c->cs->h.up, &h, &(up_opts){a->up->connect_timeout_ms, a->up->http2, a->up->ca_file}, &chat_up_ops, c);
        if (!c->x)
            rc = PROV_BUILD_NOMEM;
    }
    prov_http_free(&h);
    if (rc < 0)
        return rc;
    c->try_t0_ms = c->last_up_ms = loop_now_ms();
    c->may_retry = route_more(&c->plan);
    if (strcmp(stream_get_info(c->s)->model, a->answer_model))
        stream_retitle(c->s, a->answer_model);
    return 0;
}

stream *chat_start(chat_set *cs, chat_req *req, const char *client, const char *slot,
                   const char *request_id, chat_refusal *why)
{
    uint64_t now = loop_now_ms();
    routes *rt = routes_current();
    route_plan plan;
    route_attempt first;
    uint64_t wait_ms = 0;
    int rn = ROUTE_NEXT_NONE;
    if (!rt || route_plan_init(&plan, rt, req->model, now) < 0) {
        *why = (chat_refusal){.status = 404};
        snprintf(why->type, sizeof(why->type), "not_found");
        char name[PROV_FIELD_NAME_MAX];
        prov_field_name(name, sizeof(name), req->model ? req->model : "");
        snprintf(why->msg, sizeof(why->msg),
                 "the model \"%s\" is not served here (GET /v1/models lists the models)", name);
        goto refused;
    }
    if ((rn = route_next(&plan, now, &first, &wait_ms)) != ROUTE_NEXT_OK) {
        /* Every key of every upstream the model could use rests. */
        *why = (chat_refusal){.status = 429, .retry_after_s = (long)((wait_ms + 999) / 1000)};
        snprintf(why->type, sizeof(why->type), "rate_limited");
        snprintf(
            why->msg, sizeof(why->msg),
            "every upstream key for this model is resting after 429 or 401/403; try again later");
        goto refused;
    }
    chat *c = chat_new(cs, first.answer_model, client, slot);
    if (!c) {
        refuse(why, PROV_BUILD_NOMEM, "");
        release_slot(client, slot, NULL);
        routes_unref(rt);
        return NULL;
    }
    c->rt = rt; /* the chat holds the table's reference from here */
    c->plan = plan;
    c->at = first;
    c->req = *req; /* taken: each attempt builds from it */
    c->has_req = 1;
    memset(req, 0, sizeof(*req));
    snprintf(c->request_id, sizeof(c->request_id), "%s", request_id);
    int rc = start_attempt(c, why);
    while (rc < 0 && rc != PROV_BUILD_NOMEM && route_more(&c->plan) &&
           route_next(&c->plan, now, &c->at, NULL) == ROUTE_NEXT_OK) {
        /* This provider cannot take the request: a fallback that can may answer. */
        note_try(c, "not started (cannot take this request)");
        chat_refusal later;
        rc = start_attempt(c, &later);
    }
    if (rc < 0) {
        chat_free(c); /* releases the client's slot */
        return NULL;
    }
    metrics_add(&cs->h.m->streams, 1);
    stream_ref(c->s);
    return c->s;
refused:
    routes_unref(rt);
    release_slot(client, slot, NULL);
    return NULL;
}
