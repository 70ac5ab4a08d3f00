/* chat — see chat.h.
 *
 * Life of a chat: chat_start builds the upstream request and a stream in the WAITING
 * phase; the client connection (the first reader) is suspended. The first upstream body
 * byte with a 2xx status starts the stream and wakes its readers, which queue their
 * event-stream responses; a failure before that fails it early (an HTTP error status).
 * Upstream text flows through the provider's parser into the stream's log; the pacer
 * releases it; readers encode what is released. */
#include "chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <curl/curl.h>

#include "lim.h"
#include "quota.h"
#include "reader.h"
#include "store.h"
#include "utf8.h"

static const up_ops chat_up_ops;

/* ---------- lifetime ---------- */

static void chat_free(chat *c)
{
    worker *w = c->w;
    if (c->prev)
        c->prev->next = c->next;
    else
        w->chats = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->ps)
        w->env->prov->close(c->ps);
    store_del(c->s);
    stream_unref(c->s);
    buf_free(&c->errbody);
    w->nchats--;
    if (c->counted) {
        atomic_fetch_sub(&w->live_streams, 1);
        quota_release(c->client, loop_now_ms());
    }
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

static void stop_upstream(chat *c)
{
    if (!c->x)
        return;
    up_cancel(c->w->up, c->x);
    c->x = NULL;
}

/* A finished answer stops counting against max_streams at once (it stays resumable). */
static void uncount_if_done(chat *c)
{
    if (c->counted && !c->x && !stream_active(c->s) && c->s->term_kind) {
        c->counted = 0;
        atomic_fetch_sub(&c->w->live_streams, 1);
        quota_release(c->client, loop_now_ms());
    }
}

/* Pumps the stream and counts what it released. */
static int pump(chat *c, uint64_t now)
{
    uint64_t before = c->s->visible; /* written by this thread only */
    int news = stream_pump(c->s, now);
    uint64_t released = c->s->visible - before;
    if (released) {
        metrics_add(&c->w->m.chars, released);
        if (!before)
            metrics_first_char(&c->w->m, loop_since(now, c->t0_ms) * 1000);
    }
    return news;
}

/* Releases what pacing allows and tells the readers. */
static void kick(chat *c, uint64_t now)
{
    if (pump(c, now))
        reader_wake_all(c->s, c->w);
    if (stream_active(c->s))
        worker_activate(c->w, c);
    uncount_if_done(c);
}

/* ---------- upstream side ---------- */

static int sink_text(void *ctx, const char *p, size_t n)
{
    return stream_add(((chat *)ctx)->s, STREAM_TEXT, p, n);
}

static int sink_reasoning(void *ctx, const char *p, size_t n)
{
    return stream_add(((chat *)ctx)->s, STREAM_REASONING, p, n);
}

static int sink_finish(void *ctx, const char *reason)
{
    stream_set_finish(((chat *)ctx)->s, reason);
    return 0;
}

static int sink_usage(void *ctx, long prompt, long completion)
{
    stream_set_usage(((chat *)ctx)->s, prompt, completion);
    return 0;
}

/* The upstream's own words may quote a credential back: never pass those on. */
static void scrub(const chat *c, char *msg)
{
    const char *key = c->w->env->cfg->upstream_api_key;
    if ((*key && strstr(msg, key)) || strstr(msg, "***") || strstr(msg, "sk-"))
        strcpy(msg, "(reason withheld: it quoted a credential)");
}

static void count_error(chat *c, metrics_uperr kind)
{
    metrics_add(&c->w->m.up_errors[kind], 1);
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
    stream_fail(c->s, "upstream_error", msg, 0);
    return 1; /* stop reading: the stream has ended */
}

static int sink_end(void *ctx)
{
    ((chat *)ctx)->up_end_seen = 1;
    return 0;
}

static const prov_sink *sink_for(chat *c, prov_sink *s)
{
    *s = (prov_sink){c, sink_text, sink_reasoning, sink_finish, sink_usage, sink_error, sink_end};
    return s;
}

static void fail_early(chat *c, int status, const char *type, const char *msg)
{
    stream_fail_early(c->s, status, type, msg);
    reader_wake_all(c->s, c->w);
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
    if (c->s->phase == STREAM_WAITING) {
        stream_start(c->s);
        reader_wake_all(c->s, c->w);
    }
    if (reader_unsent(c->s) >= LIM_UNSENT_HIGH) {
        c->up_paused = 1;
        worker_activate(c->w, c);
        return UP_DATA_PAUSE;
    }
    prov_sink sink;
    int rc = c->w->env->prov->feed(c->ps, p, n, sink_for(c, &sink));
    if (rc < 0 && !c->s->term_kind)
        count_error(c, UPERR_MALFORMED);
    if (rc < 0)
        stream_fail(c->s, "upstream_error",
                    rc == PROV_ERR_PARSE ? "upstream sent a malformed event stream"
                                         : "upstream event too large or out of memory", 0);
    kick(c, now);
    return c->s->term_kind == STREAM_TERM_ERROR ? UP_DATA_ABORT : UP_DATA_OK;
}

/* The reason an upstream HTTP error gives, never carrying the key. */
static void upstream_reason(chat *c, long status, char *out, size_t n)
{
    char why[200] = "";
    if (status == 401 || status == 403) {
        snprintf(out, n, "upstream rejected the credentials (HTTP %ld)", status);
        return;
    }
    c->w->env->prov->error_reason(buf_ptr(&c->errbody), buf_len(&c->errbody), why, sizeof(why));
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
        count_error(c, result == UP_CONNECT ? UPERR_CONNECT : result == UP_OK ? UPERR_EARLY_END : UPERR_FAILED);
        if (result == UP_CONNECT)
            snprintf(msg, sizeof(msg), "could not connect to the upstream: %s", why);
        else if (result == UP_OK)
            snprintf(msg, sizeof(msg), "upstream sent an empty response");
        else
            snprintf(msg, sizeof(msg), "upstream failed: %s", why);
        fail_early(c, 502, "upstream_error", msg);
    }
}

static void done_streaming(chat *c, int result, const char *why)
{
    prov_sink sink;
    int rc = 0;
    if (result == UP_OK)
        rc = c->w->env->prov->finish(c->ps, sink_for(c, &sink));
    if (c->s->term_kind)
        return;
    if (!(result == UP_OK && rc >= 0 && (c->up_end_seen || c->s->finish_reason[0])))
        count_error(c, result == UP_TIMEOUT ? UPERR_TIMEOUT
                       : result != UP_OK    ? UPERR_FAILED
                       : rc < 0             ? UPERR_MALFORMED
                                            : UPERR_EARLY_END);
    if (result == UP_OK && rc < 0)
        stream_fail(c->s, "upstream_error", "upstream ended in the middle of an event", 0);
    else if (result == UP_OK && (c->up_end_seen || c->s->finish_reason[0]))
        stream_end(c->s);
    else if (result == UP_OK)
        stream_fail(c->s, "upstream_error", "upstream ended the stream early", 0);
    else if (result == UP_TIMEOUT)
        stream_fail(c->s, "upstream_timeout", "upstream timed out", 0);
    else {
        char msg[256];
        snprintf(msg, sizeof(msg), "upstream connection failed: %s", why);
        stream_fail(c->s, "upstream_error", msg, 0);
    }
}

static void on_done(void *ud, int result, long status, const char *why)
{
    chat *c = ud;
    c->x = NULL;
    if (c->s->phase == STREAM_WAITING)
        done_before_start(c, result, status, why);
    else
        done_streaming(c, result, why);
    kick(c, loop_now_ms());
}

static const up_ops chat_up_ops = {on_data, on_done};

/* ---------- start ---------- */

static chat *chat_new(worker *w, const char *model, const char *client)
{
    chat *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    char id[STREAM_ID_LEN + 1];
    make_id(id, sizeof(id));
    uint64_t now = loop_now_ms();
    c->s = stream_new(id, model, &w->env->pace, w->idx, now);
    if (!c->s || store_put(c->s) < 0) {
        stream_unref(c->s);
        free(c);
        return NULL;
    }
    buf_init(&c->errbody, LIM_UP_ERRBODY);
    snprintf(c->client, sizeof(c->client), "%s", client);
    c->w = w;
    c->t0_ms = c->last_up_ms = now;
    c->next = w->chats;
    if (w->chats)
        w->chats->prev = c;
    w->chats = c;
    w->nchats++;
    c->counted = 1;
    atomic_fetch_add(&w->live_streams, 1);
    return c;
}

/* The upstream sees the same request id as the client and the log. */
static int add_request_id(prov_http *h)
{
    char line[64];
    snprintf(line, sizeof(line), "X-Request-Id: %s", http_request_id());
    struct curl_slist *l = curl_slist_append(h->headers, line);
    if (!l)
        return -1;
    h->headers = l;
    return 0;
}

static stream_fmt format_for(http_api api, const chat_req *req)
{
    if (api == API_NATIVE)
        return STREAM_FMT_NATIVE;
    return req->stream ? STREAM_FMT_OAI_SSE : STREAM_FMT_OAI_JSON;
}

/* Per-client limits: a stream slot and a rate token, or the 429 that says when to retry. */
static enum MHD_Result admit(worker *w, struct MHD_Connection *mc, http_api api, const char *client,
                             int *ok)
{
    int retry = 1;
    int q = quota_admit(client, loop_now_ms(), &retry);
    *ok = q == QUOTA_OK;
    if (*ok)
        return MHD_YES;
    metrics_add(&w->m.rate_limited, 1);
    char ra[16];
    snprintf(ra, sizeof(ra), "%d", retry);
    const char *msg = q == QUOTA_STREAMS ? "too many concurrent streams for this client"
                      : q == QUOTA_RATE  ? "too many requests: slow down"
                                         : "too many clients";
    return http_fail(mc, api, 429, "rate_limited", msg, "Retry-After", ra);
}

enum MHD_Result chat_start(worker *w, struct MHD_Connection *mc, chat_req *req, http_api api,
                           const char *client, struct reader **out)
{
    const worker_env *env = w->env;
    enum MHD_Result rc;
    prov_http h = {0};
    if (w->stopping) {
        rc = http_fail(mc, api, 503, "overloaded", "server is shutting down", "Retry-After", "1");
        goto out;
    }
    if (worker_total_streams(w) >= env->cfg->max_streams) {
        rc = http_fail(mc, api, 503, "overloaded", "too many open streams", "Retry-After", "1");
        goto out;
    }
    int admitted;
    rc = admit(w, mc, api, client, &admitted);
    if (!admitted)
        goto out;
    const char *model = req->model ? req->model : env->cfg->model;
    chat *c = NULL;
    reader *r = NULL;
    if (env->prov->build(req, env->upstream_url, env->cfg->upstream_api_key, model, &h) == 0 &&
        add_request_id(&h) == 0 &&
        (c = chat_new(w, model, client)) && (c->ps = env->prov->open()) &&
        (r = reader_new(w, mc, c->s, format_for(api, req), req->include_usage, api)))
        c->x = up_start(w->up, &h, &(up_opts){env->cfg->upstream_connect_timeout_ms}, &chat_up_ops, c);
    if (!c || !c->x) {
        if (r) {
            stream_fail_early(c->s, 500, "internal_error", "could not start the upstream request");
            *out = r;
            rc = reader_respond(r, mc);
            goto out;
        }
        if (c)
            chat_free(c);
        else
            quota_release(client, loop_now_ms());
        rc = http_fail(mc, api, 500, "internal_error", "could not start the upstream request", NULL, NULL);
        goto out;
    }
    metrics_add(&w->m.streams, 1);
    *out = r;
    rc = reader_respond(r, mc); /* WAITING: suspends until the upstream answers */
out:
    prov_http_free(&h);
    req_free(req);
    return rc;
}

/* ---------- worker ticks ---------- */

int chat_pump(chat *c, uint64_t now)
{
    if (c->up_paused && c->x && reader_unsent(c->s) < LIM_UNSENT_LOW) {
        c->up_paused = 0;
        c->last_up_ms = now;
        up_resume(c->w->up, c->x); /* may deliver data right here */
    }
    if (pump(c, now))
        reader_wake_all(c->s, c->w);
    uncount_if_done(c);
    return stream_active(c->s) || c->up_paused;
}

static void cancel(chat *c, uint64_t now)
{
    stop_upstream(c);
    /* Cancelled before the upstream answered: a started stream that ends at once, so
     * every reader sees the same done / cancelled. */
    if (c->s->phase == STREAM_WAITING) {
        stream_start(c->s);
        reader_wake_all(c->s, c->w);
    }
    stream_cancel(c->s);
    kick(c, now);
}

/* Upstream timeouts: first byte, then silence mid-answer. */
static void check_timeouts(chat *c, uint64_t now)
{
    const cfg *cf = c->w->env->cfg;
    if (!c->x)
        return;
    if (c->s->phase == STREAM_WAITING &&
        loop_since(now, c->t0_ms) >= (uint64_t)cf->upstream_first_byte_timeout_ms) {
        stop_upstream(c);
        count_error(c, UPERR_TIMEOUT);
        fail_early(c, 504, "upstream_timeout", "upstream sent no answer in time");
    } else if (loop_since(now, c->t0_ms) >= (uint64_t)cf->max_stream_duration_ms) {
        stop_upstream(c);
        if (c->s->phase == STREAM_WAITING)
            stream_start(c->s);
        stream_fail(c->s, "max_duration", "the answer took longer than this server allows", 0);
        kick(c, now);
    } else if (c->s->phase == STREAM_STARTED && !c->up_paused &&
               loop_since(now, c->last_up_ms) >= (uint64_t)cf->upstream_idle_timeout_ms) {
        stop_upstream(c);
        count_error(c, UPERR_TIMEOUT);
        stream_fail(c->s, "upstream_timeout", "upstream went silent mid-answer", 0);
        kick(c, now);
    }
}

void chat_housekeep(chat *c, uint64_t now)
{
    stream *s = c->s;
    check_timeouts(c, now);
    pthread_mutex_lock(&s->mu);
    int cancel_req = s->cancel_req, nreaders = s->nreaders, ended = s->term_visible;
    int early = s->phase == STREAM_FAILED_EARLY;
    uint64_t alone = s->no_reader_since_ms, ended_ms = s->ended_ms;
    pthread_mutex_unlock(&s->mu);
    int running = c->x != NULL || (!ended && !early);
    uint64_t grace = (uint64_t)c->w->env->cfg->resume_grace_ms;
    if (running && (cancel_req || (nreaders == 0 && loop_since(now, alone) >= grace))) {
        metrics_add(&c->w->m.cancels[cancel_req ? CANCEL_REQUEST : CANCEL_CLIENT_GONE], 1);
        cancel(c, now);
    }
    uncount_if_done(c);
    /* Kept for resume until retention ends; an early failure has nothing to resume. */
    uint64_t keep = (uint64_t)c->w->env->cfg->stream_retention_ms;
    int expired = (ended && loop_since(now, ended_ms) >= keep) || (early && nreaders == 0);
    if (expired && !c->x && !c->in_active)
        chat_free(c);
}

void chat_shutdown(chat *c)
{
    stop_upstream(c);
    if (c->s->phase == STREAM_WAITING)
        fail_early(c, 503, "shutdown", "server is shutting down");
    stream_fail(c->s, "shutdown", "server is shutting down", 0);
    kick(c, loop_now_ms());
}

void chat_free_all(worker *w)
{
    while (w->chats) {
        chat *c = w->chats;
        stop_upstream(c);
        c->in_active = 0;
        chat_free(c);
    }
}

void chat_request_cancel(stream *s)
{
    pthread_mutex_lock(&s->mu);
    s->cancel_req = 1;
    pthread_mutex_unlock(&s->mu);
    worker_poke(s->owner);
}
