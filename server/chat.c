/* chat — see chat.h.
 *
 * Life of a chat: chat_start validates capacity, builds the upstream request and
 * suspends the client connection (WAITING). The first upstream body byte with a 2xx
 * status starts the stream (STREAMING) and resumes the connection so chat_respond queues
 * the event-stream response; an upstream failure before that becomes an HTTP error
 * (PRE_ERROR). Upstream text flows through the provider's parser into the stream; the
 * content reader hands the stream's out buffer to MHD and suspends when it is empty. */
#include "chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <time.h>

#include "http.h"
#include "lim.h"

static const up_ops chat_up_ops;

/* ---------- lifetime ---------- */

/* Frees c once nothing refers to it: client connection, response, upstream transfer and
 * the worker's pacing and resume lists (the worker calls chat_unlisted as it drops it). */
static void maybe_free(chat *c)
{
    if (c->mc || c->resp_live || c->x || c->in_active || c->in_resume)
        return;
    worker *w = c->w;
    if (c->prev)
        c->prev->next = c->next;
    else
        w->chats = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->ps)
        w->env->prov->close(c->ps);
    stream_release(&c->st);
    buf_free(&c->errbody);
    w->nchats--;
    atomic_fetch_sub(&w->live_streams, 1);
    free(c);
}

void chat_unlisted(chat *c)
{
    maybe_free(c);
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

/* ---------- client side ---------- */

static void stop_upstream(chat *c)
{
    if (!c->x)
        return;
    up_cancel(c->w->up, c->x);
    c->x = NULL;
}

static void unwatch_client(chat *c)
{
    if (c->fd >= 0)
        loop_unwatch(c->w->loop, c->fd);
    c->fd = -1;
}

/* The client vanished: after the grace period (0: now) its upstream is cancelled. */
static void client_gone(chat *c)
{
    if (c->client_gone)
        return;
    c->client_gone = 1;
    c->gone_ms = loop_now_ms();
    if (c->w->env->cfg->resume_grace_ms == 0 || c->phase != CHAT_STREAMING) {
        stop_upstream(c);
        stream_cancel(&c->st);
    }
}

static void on_client_hup(loop *l, int fd, unsigned ev, void *ud)
{
    chat *c = ud;
    unwatch_client(c);
    client_gone(c);
    worker_wake(c->w, c);
}

void chat_resume_conn(chat *c)
{
    if (c->suspended && c->mc) {
        c->suspended = 0;
        MHD_resume_connection(c->mc);
    }
}

static ssize_t reader(void *cls, uint64_t pos, char *out, size_t max)
{
    chat *c = cls;
    if (c->client_gone)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t n = buf_len(&c->st.out);
    if (n) {
        if (n > max)
            n = max;
        memcpy(out, buf_ptr(&c->st.out), n);
        buf_consume(&c->st.out, n);
        buf_shrink(&c->st.out);
        if (stream_active(&c->st))
            worker_activate(c->w, c);
        return (ssize_t)n;
    }
    if (c->st.term_written)
        return MHD_CONTENT_READER_END_OF_STREAM;
    /* Nothing to send: suspend, or MHD would poll this reader in a busy loop. */
    c->suspended = 1;
    MHD_suspend_connection(c->mc);
    return 0;
}

static void on_response_free(void *cls)
{
    chat *c = cls;
    c->resp_live = 0;
    maybe_free(c);
}

void chat_detach(chat *c)
{
    unwatch_client(c);
    c->mc = NULL;
    c->suspended = 0;
    if (!c->st.term_written)
        client_gone(c);
    maybe_free(c);
}

static enum MHD_Result respond_stream(chat *c, struct MHD_Connection *mc)
{
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 8192, reader, c,
                                                               on_response_free);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "text/event-stream; charset=utf-8");
    MHD_add_response_header(r, "Cache-Control", "no-cache, no-transform");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    MHD_add_response_header(r, "X-Chatd-Stream-Id", c->st.id);
    c->resp_live = 1;
    enum MHD_Result rc = MHD_queue_response(mc, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return rc;
}

/* HTTP status for an answer that ended in an error before anything was sent. */
static unsigned status_for(const char *type)
{
    if (!strcmp(type, "upstream_timeout"))
        return 504;
    if (!strcmp(type, "shutdown") || !strcmp(type, "overloaded"))
        return 503;
    if (!strcmp(type, "upstream_error"))
        return 502;
    return 500;
}

/* A non-streamed (OpenAI stream:false) answer, sent whole once it is complete. */
static enum MHD_Result respond_whole(chat *c, struct MHD_Connection *mc)
{
    stream *st = &c->st;
    unsigned status = st->term_kind == STREAM_TERM_DONE ? 200 : status_for(st->err_type);
    struct MHD_Response *r = MHD_create_response_from_buffer(buf_len(&st->out), (void *)buf_ptr(&st->out),
                                                             MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    buf_free(&st->out);
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result rc = MHD_queue_response(mc, status, r);
    MHD_destroy_response(r);
    return rc;
}

enum MHD_Result chat_respond(chat *c, struct MHD_Connection *mc)
{
    if (c->client_gone)
        return MHD_NO;
    if (c->phase == CHAT_PRE_ERROR)
        return http_fail(mc, c->api, (unsigned)c->pre_status, c->pre_type, c->pre_msg, NULL, NULL);
    if (c->phase == CHAT_STREAMING && c->st.fmt == STREAM_FMT_OAI_JSON && c->st.term_written)
        return respond_whole(c, mc);
    if (c->phase == CHAT_STREAMING && c->st.fmt != STREAM_FMT_OAI_JSON)
        return respond_stream(c, mc);
    /* Resumed while still waiting (spurious): wait on. */
    c->suspended = 1;
    MHD_suspend_connection(mc);
    return MHD_YES;
}

/* ---------- upstream side ---------- */

static int sink_text(void *ctx, const char *p, size_t n)
{
    return stream_add(&((chat *)ctx)->st, STREAM_TEXT, p, n);
}

static int sink_reasoning(void *ctx, const char *p, size_t n)
{
    return stream_add(&((chat *)ctx)->st, STREAM_REASONING, p, n);
}

static int sink_finish(void *ctx, const char *reason)
{
    stream_set_finish(&((chat *)ctx)->st, reason);
    return 0;
}

static int sink_usage(void *ctx, long prompt, long completion)
{
    stream_set_usage(&((chat *)ctx)->st, prompt, completion);
    return 0;
}

static int sink_error(void *ctx, const char *type, const char *message)
{
    chat *c = ctx;
    char msg[300];
    snprintf(msg, sizeof(msg), "upstream error: %s", message);
    stream_fail(&c->st, "upstream_error", msg, 0);
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

static void set_pre_error(chat *c, int status, const char *type, const char *msg)
{
    c->phase = CHAT_PRE_ERROR;
    c->pre_status = status;
    snprintf(c->pre_type, sizeof(c->pre_type), "%s", type);
    snprintf(c->pre_msg, sizeof(c->pre_msg), "%s", msg);
    worker_wake(c->w, c);
}

static void start_streaming(chat *c)
{
    c->phase = CHAT_STREAMING;
    stream_begin(&c->st);
    worker_wake(c->w, c);
}

/* Moves what pacing allows into out and gets the client connection going. */
static void kick(chat *c, uint64_t now)
{
    if (c->phase != CHAT_STREAMING)
        return;
    if (stream_pump(&c->st, now))
        worker_wake(c->w, c);
    if (stream_active(&c->st))
        worker_activate(c->w, c);
}

static int on_data(void *ud, long status, const char *p, size_t n)
{
    chat *c = ud;
    uint64_t now = loop_now_ms();
    c->last_up_ms = now;
    c->up_status = status;
    if (!c->first_byte_ms)
        c->first_byte_ms = now;
    if (status < 200 || status >= 300) {
        /* An error body: keep the start for the reason. */
        buf_add(&c->errbody, p, n > LIM_UP_ERRBODY - buf_len(&c->errbody) ? LIM_UP_ERRBODY - buf_len(&c->errbody) : n);
        return UP_DATA_OK;
    }
    if (c->st.term_kind)
        return UP_DATA_ABORT;
    if (c->phase == CHAT_WAITING)
        start_streaming(c);
    if (stream_pend_bytes(&c->st) >= LIM_PEND_HIGH) {
        c->up_paused = 1;
        worker_activate(c->w, c);
        return UP_DATA_PAUSE;
    }
    prov_sink sink;
    int rc = c->w->env->prov->feed(c->ps, p, n, sink_for(c, &sink));
    if (rc < 0 && !c->st.term_kind)
        stream_fail(&c->st, "upstream_error",
                    rc == PROV_ERR_PARSE ? "upstream sent a malformed event stream"
                                         : "upstream event too large or out of memory", 0);
    kick(c, now);
    return c->st.term_kind == STREAM_TERM_ERROR ? UP_DATA_ABORT : UP_DATA_OK;
}

/* The reason an upstream HTTP error gives, never carrying the key. */
static void upstream_reason(chat *c, long status, char *out, size_t n)
{
    char why[200] = "";
    const char *key = c->w->env->cfg->upstream_api_key;
    if (status != 401 && status != 403)
        c->w->env->prov->error_reason(buf_ptr(&c->errbody), buf_len(&c->errbody), why, sizeof(why));
    /* Providers quote part of a rejected key back ("sk-abc***xyz"): never pass that on. */
    if ((*key && strstr(why, key)) || strstr(why, "***") || strstr(why, "sk-"))
        why[0] = '\0';
    if (status == 401 || status == 403)
        snprintf(out, n, "upstream rejected the credentials (HTTP %ld)", status);
    else if (why[0])
        snprintf(out, n, "upstream returned HTTP %ld: %s", status, why);
    else
        snprintf(out, n, "upstream returned HTTP %ld", status);
}

static void done_before_start(chat *c, int result, long status, const char *why)
{
    char msg[256];
    if (status >= 300) {
        upstream_reason(c, status, msg, sizeof(msg));
        set_pre_error(c, 502, "upstream_error", msg);
        c->pre_status = 502;
        return;
    }
    if (result == UP_TIMEOUT) {
        set_pre_error(c, 504, "upstream_timeout", "upstream did not connect in time");
        return;
    }
    if (result == UP_CONNECT)
        snprintf(msg, sizeof(msg), "could not connect to the upstream: %s", why);
    else if (result == UP_OK)
        snprintf(msg, sizeof(msg), "upstream sent an empty response");
    else
        snprintf(msg, sizeof(msg), "upstream failed: %s", why);
    set_pre_error(c, 502, "upstream_error", msg);
}

static void on_done(void *ud, int result, long status, const char *why)
{
    chat *c = ud;
    c->x = NULL;
    if (c->phase == CHAT_WAITING) {
        done_before_start(c, result, status, why);
    } else if (c->phase == CHAT_STREAMING && !c->st.term_kind) {
        prov_sink sink;
        if (result == UP_OK)
            c->w->env->prov->finish(c->ps, sink_for(c, &sink));
        if (c->st.term_kind)
            ;
        else if (result == UP_OK && (c->up_end_seen || c->st.finish_reason[0]))
            stream_end(&c->st);
        else if (result == UP_OK)
            stream_fail(&c->st, "upstream_error", "upstream ended the stream early", 0);
        else if (result == UP_TIMEOUT)
            stream_fail(&c->st, "upstream_timeout", "upstream timed out", 0);
        else {
            char msg[256];
            snprintf(msg, sizeof(msg), "upstream connection failed: %s", why);
            stream_fail(&c->st, "upstream_error", msg, 0);
        }
    }
    kick(c, loop_now_ms());
    maybe_free(c);
}

static const up_ops chat_up_ops = {on_data, on_done};

/* ---------- start ---------- */

static chat *chat_new(worker *w, struct MHD_Connection *mc, const char *model)
{
    chat *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    char id[STREAM_ID_LEN + 1];
    make_id(id, sizeof(id));
    uint64_t now = loop_now_ms();
    stream_init(&c->st, id, model, &w->env->pace, now);
    buf_init(&c->errbody, LIM_UP_ERRBODY);
    c->w = w;
    c->mc = mc;
    c->fd = -1;
    c->t0_ms = c->last_up_ms = now;
    c->next = w->chats;
    if (w->chats)
        w->chats->prev = c;
    w->chats = c;
    w->nchats++;
    atomic_fetch_add(&w->live_streams, 1);
    return c;
}

static void watch_client(chat *c, struct MHD_Connection *mc)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return;
    /* Only the peer's FIN/RST: MHD reads the socket itself, we must not consume data. */
    if (loop_watch(c->w->loop, ci->connect_fd, EPOLLRDHUP, on_client_hup, c) == 0)
        c->fd = ci->connect_fd;
}

static int setup_format(chat *c, http_api api, const chat_req *req)
{
    c->api = api;
    if (api == API_NATIVE)
        return 0;
    stream_fmt f = req->stream ? STREAM_FMT_OAI_SSE : STREAM_FMT_OAI_JSON;
    return stream_set_format(&c->st, f, req->include_usage, (long)time(NULL));
}

enum MHD_Result chat_start(worker *w, struct MHD_Connection *mc, chat_req *req, http_api api,
                           chat **out)
{
    const worker_env *env = w->env;
    enum MHD_Result rc;
    if (w->stopping) {
        rc = http_fail(mc, api, 503, "overloaded", "server is shutting down", "Retry-After", "1");
        goto out;
    }
    if (worker_total_streams(w) >= env->cfg->max_streams) {
        rc = http_fail(mc, api, 503, "overloaded", "too many open streams", "Retry-After", "1");
        goto out;
    }
    const char *model = req->model ? req->model : env->cfg->model;
    prov_http h = {0};
    if (env->prov->build(req, env->upstream_url, env->cfg->upstream_api_key, model, &h) < 0) {
        prov_http_free(&h);
        rc = http_fail(mc, api, 500, "internal_error", "could not build the upstream request", NULL, NULL);
        goto out;
    }
    chat *c = chat_new(w, mc, model);
    if (c && setup_format(c, api, req) == 0)
        c->ps = env->prov->open();
    up_opts o = {env->cfg->upstream_connect_timeout_ms};
    if (c && c->ps)
        c->x = up_start(w->up, &h, &o, &chat_up_ops, c);
    prov_http_free(&h);
    if (!c || !c->x) {
        if (c) {
            c->mc = NULL;
            maybe_free(c);
        }
        rc = http_fail(mc, api, 500, "internal_error", "could not start the upstream request", NULL, NULL);
        goto out;
    }
    watch_client(c, mc);
    c->suspended = 1;
    MHD_suspend_connection(mc);
    *out = c;
    rc = MHD_YES;
out:
    req_free(req);
    return rc;
}

/* ---------- worker ticks ---------- */

int chat_pump(chat *c, uint64_t now)
{
    if (c->up_paused && c->x && stream_pend_bytes(&c->st) < LIM_PEND_LOW) {
        c->up_paused = 0;
        c->last_up_ms = now;
        up_resume(c->w->up, c->x);
    }
    if (c->phase == CHAT_STREAMING && stream_pump(&c->st, now))
        worker_wake(c->w, c);
    return stream_active(&c->st) || c->up_paused;
}

void chat_housekeep(chat *c, uint64_t now)
{
    const cfg *cf = c->w->env->cfg;
    if (c->x && c->phase == CHAT_WAITING &&
        now - c->t0_ms >= (uint64_t)cf->upstream_first_byte_timeout_ms) {
        stop_upstream(c);
        set_pre_error(c, 504, "upstream_timeout", "upstream sent no answer in time");
    } else if (c->x && c->phase == CHAT_STREAMING && !c->up_paused &&
               now - c->last_up_ms >= (uint64_t)cf->upstream_idle_timeout_ms) {
        stop_upstream(c);
        stream_fail(&c->st, "upstream_timeout", "upstream went silent mid-answer", 0);
        kick(c, now);
    }
    if (c->client_gone && c->x && now - c->gone_ms >= (uint64_t)cf->resume_grace_ms) {
        stop_upstream(c);
        stream_cancel(&c->st);
        kick(c, now);
    }
    if (c->phase == CHAT_STREAMING && c->mc && !c->st.term_written &&
        now - c->st.last_out_ms >= LIM_PING_IDLE_MS && buf_len(&c->st.out) == 0) {
        stream_ping(&c->st, now);
        worker_wake(c->w, c);
    }
    maybe_free(c);
}

void chat_shutdown(chat *c)
{
    stop_upstream(c);
    if (c->phase == CHAT_WAITING)
        set_pre_error(c, 503, "shutdown", "server is shutting down");
    stream_fail(&c->st, "shutdown", "server is shutting down", 0);
    kick(c, loop_now_ms());
}

void chat_free_all(worker *w)
{
    while (w->chats) {
        chat *c = w->chats;
        stop_upstream(c);
        unwatch_client(c);
        c->mc = NULL;
        c->resp_live = 0;
        c->in_active = c->in_resume = 0;
        maybe_free(c);
    }
}
