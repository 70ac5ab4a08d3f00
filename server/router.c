/* router — see router.h. */
#include "router.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "anth_in.h"
#include "buf.h"
#include "files.h"
#include "jsonw.h"
#include "log.h"
#include "probe.h"
#include "quota.h"
#include "req.h"
#include "resp.h"
#include "route.h"

enum route { R_CHAT = 1 };

/* One request, from the URI callback to the completion callback. */
typedef struct http_req {
    resp_ctx rctx; /* what every response to it carries */
    int begun;     /* the access handler has seen it */
    char version[12]; /* HTTP/1.1 */
    int routed;    /* its route was taken */
    int route;
    api_kind api;
    buf body;
    int too_large;
    reader *r;
    uint64_t t0_ms;
    char id[40]; /* X-Request-Id */
    char method[12];
    char path[200];
    int raw_bad;                   /* the raw URI held an encoded NUL */
    char client[QUOTA_CLIENT_MAX]; /* who the limits count against */
    int redis;        /* REDIS_*: a stream of another replica, or the limits, asked of Redis */
    int redis_result; /* what repl answered */
    int redis_retry;  /* admission: Retry-After */
    char slot[REPL_SLOT_MAX]; /* admission: the concurrency slot taken in Redis */
    chat_req *req;            /* a parsed request waiting for its admission */
    struct redis_wait *wait;
} http_req;

/* A request suspended while Redis is asked about a stream another replica produces. The
 * answer resumes it, and the access handler runs its route again with the result; if the
 * request ended first (a daemon stopping), the answer only frees this. */
typedef struct redis_wait {
    http_req *hr;
    struct MHD_Connection *mc;
    uint32_t *mhd_due;
    int shard; /* its daemon: the bit in mhd_due */
} redis_wait;

enum { REDIS_NONE, REDIS_WAITING, REDIS_ANSWERED };

/* One client connection, for the slow-request watchdog. */
typedef struct http_conn {
    int fd;
    int reading;       /* a request is (or may be) arriving */
    uint64_t since_ms; /* when that started */
    struct http_conn *next, *prev;
} http_conn;

struct router {
    router_host h;
    const chatd_env *env;
    http_conn *conns; /* this worker's client connections */
};

router *router_new(const router_host *h)
{
    router *rt = calloc(1, sizeof(*rt));
    if (rt) {
        rt->h = *h;
        rt->env = h->env;
    }
    return rt;
}

void router_free(router *rt)
{
    while (rt && rt->conns) {
        http_conn *hc = rt->conns;
        rt->conns = hc->next;
        free(hc);
    }
    free(rt);
}

void router_on_connection(void *cls, struct MHD_Connection *mc, void **ctx,
                          enum MHD_ConnectionNotificationCode code)
{
    router *w = cls;
    http_conn *hc = *ctx;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!ci || !(hc = calloc(1, sizeof(*hc))))
            return;
        hc->fd = ci->connect_fd;
        hc->reading = 1;
        hc->since_ms = loop_now_ms();
        hc->next = w->conns;
        if (w->conns)
            w->conns->prev = hc;
        w->conns = hc;
        *ctx = hc;
        return;
    }
    if (!hc)
        return;
    if (hc->prev)
        hc->prev->next = hc->next;
    else
        w->conns = hc->next;
    if (hc->next)
        hc->next->prev = hc->prev;
    free(hc);
    *ctx = NULL;
}

static http_conn *conn_of(struct MHD_Connection *mc)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* The request has arrived whole (or was answered): the watchdog lets it be. */
static void request_read(struct MHD_Connection *mc)
{
    http_conn *hc = conn_of(mc);
    if (hc)
        hc->reading = 0;
}

void router_watchdog(router *w, uint64_t now)
{
    uint64_t limit = (uint64_t)w->env->cfg->request_timeout_ms;
    for (http_conn *hc = w->conns; hc; hc = hc->next) {
        /* MHD sees the shut socket on its next read and closes the connection itself. */
        if (hc->reading && loop_since(now, hc->since_ms) >= limit) {
            shutdown(hc->fd, SHUT_RDWR);
            hc->reading = 0;
        }
    }
}

/* A client's own request id is kept when it is short and plain; else one is made. */
static void set_request_id(http_req *hr, struct MHD_Connection *mc)
{
    const char *v = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "X-Request-Id");
    size_t n = v ? strlen(v) : 0;
    if (n && n < sizeof(hr->id) &&
        strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n) {
        memcpy(hr->id, v, n + 1);
        return;
    }
    static const char hex[] = "0123456789abcdef";
    unsigned char rnd[8];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        memset(rnd, 0, sizeof(rnd));
    for (size_t i = 0; i < sizeof(rnd); i++) {
        hr->id[2 * i] = hex[rnd[i] >> 4];
        hr->id[2 * i + 1] = hex[rnd[i] & 15];
    }
    hr->id[16] = '\0';
}

void *router_on_uri(void *cls, const char *uri, struct MHD_Connection *mc)
{
    http_req *hr = calloc(1, sizeof(*hr));
    if (!hr)
        return NULL;
    hr->t0_ms = loop_now_ms();
    buf_init(&hr->body, 0);
    /* MHD decodes %00 into a NUL that silently cuts the path: refuse such paths. */
    hr->raw_bad = strstr(uri, "%00") != NULL;
    return hr;
}

static enum MHD_Result not_allowed(struct MHD_Connection *mc, api_kind api, const char *allow)
{
    return resp_error(mc, api, 405, "method_not_allowed", "method not allowed here", "Allow",
                      allow);
}

static int is_get(const char *m)
{
    return !strcmp(m, "GET") || !strcmp(m, "HEAD");
}

/* application/json, optionally with parameters (charset=utf-8). */
static int json_type(const char *ct)
{
    static const char want[] = "application/json";
    if (!ct || strncasecmp(ct, want, sizeof(want) - 1))
        return 0;
    char next = ct[sizeof(want) - 1];
    return next == '\0' || next == ';' || next == ' ' || next == '\t';
}

/* First call for POST /api/chat: refuse early what the headers already show is wrong. */
static enum MHD_Result chat_begin(router *w, struct MHD_Connection *mc, api_kind api, http_req *hr)
{
    const char *ct = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Content-Type");
    if (!json_type(ct))
        return resp_error(mc, api, 415, "unsupported_media_type",
                          "Content-Type must be application/json", NULL, NULL);
    long max = w->env->cfg->max_body_bytes;
    const char *cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > (unsigned long long)max)
        return resp_error(mc, api, 413, "payload_too_large", "request body is too large", NULL,
                          NULL);
    hr->route = R_CHAT;
    hr->api = api;
    buf_init(&hr->body, (size_t)max);
    return MHD_YES;
}

/* Admission: the server's stream caps and the client's limits (a stream slot and a rate
 * token, or the 429 that says when to retry), counted here or, across replicas, in Redis
 * (asked before: hr->redis). 1 when admitted, else 0 with *rc queued. */
static int admit(router *w, struct MHD_Connection *mc, http_req *hr, enum MHD_Result *rc)
{
    api_kind api = hr->api;
    int shared = hr->redis == REDIS_ANSWERED && hr->redis_result != REPL_UNAVAILABLE;
    int q = QUOTA_OK, retry = 1;
    if (shared) {
        q = hr->redis_result;
        retry = hr->redis_retry;
    } else {
        hr->slot[0] = '\0';
    }
    const char *busy = *w->h.stopping                            ? "server is shutting down"
                       : chat_live() >= w->env->cfg->max_streams ? "too many open streams"
                       : !shared && w->env->cfg->max_streams_total > 0 &&
                               chat_live() >= w->env->cfg->max_streams_total
                           ? "too many open streams"
                       : q == QUOTA_FULL && shared ? "too many open streams (all replicas)"
                                                   : NULL;
    if (busy) {
        if (shared && q == QUOTA_OK)
            repl_release(*w->h.repl, hr->client, hr->slot, NULL);
        *rc = resp_error(mc, api, 503, "overloaded", busy, "Retry-After", "1");
        return 0;
    }
    if (!shared)
        q = quota_admit(hr->client, loop_now_ms(), &retry);
    if (q == QUOTA_OK)
        return 1;
    metrics_add(&w->h.m->rate_limited, 1);
    char ra[16];
    snprintf(ra, sizeof(ra), "%d", retry);
    const char *msg = q == QUOTA_STREAMS ? "too many concurrent streams for this client"
                      : q == QUOTA_RATE  ? "too many requests: slow down"
                                         : "too many clients";
    *rc = resp_error(mc, api, 429, "rate_limited", msg, "Retry-After", ra);
    return 0;
}

static enc_fmt format_for(api_kind api, const chat_req *req)
{
    if (api == API_NATIVE)
        return ENC_NATIVE;
    if (api == API_ANTHROPIC)
        return req->stream ? ENC_ANTH_SSE : ENC_ANTH_JSON;
    return req->stream ? ENC_OAI_SSE : ENC_OAI_JSON;
}

/* A validated request: admitted, its chat started, this connection its first reader
 * (suspended until the upstream answers). */
static enum MHD_Result start(router *w, struct MHD_Connection *mc, http_req *hr, chat_req *req)
{
    enum MHD_Result rc;
    if (!admit(w, mc, hr, &rc))
        return rc;
    chat_refusal why;
    enc_fmt fmt = format_for(hr->api, req);
    int usage = req->include_usage;
    stream *s = chat_start(w->h.chats, req, hr->client, hr->slot, hr->id, &why); /* takes req */
    if (!s) {
        char ra[24];
        snprintf(ra, sizeof(ra), "%ld", why.retry_after_s);
        const char *type =
            hr->api == API_OPENAI && !strcmp(why.type, "not_found") ? "model_not_found" : why.type;
        return resp_error(mc, hr->api, why.status, type, why.msg,
                          why.retry_after_s > 0 ? "Retry-After" : NULL,
                          why.retry_after_s > 0 ? ra : NULL);
    }
    hr->r = reader_new(w->h.readers, mc, s, fmt, usage, hr->api);
    if (hr->r)
        reader_set_http_version(hr->r, hr->version);
    stream_unref(s); /* the chat and the reader hold theirs; with no reader the grace ends it */
    return hr->r ? reader_respond(hr->r, mc) : MHD_NO;
}

static int ask_admission(router *w, struct MHD_Connection *mc, http_req *hr);

static enum MHD_Result start_parked(router *w, struct MHD_Connection *mc, http_req *hr)
{
    enum MHD_Result rc = start(w, mc, hr, hr->req);
    req_free(hr->req);
    free(hr->req);
    hr->req = NULL;
    return rc;
}

static enum MHD_Result chat_body(router *w, struct MHD_Connection *mc, http_req *hr,
                                 const char *upload, size_t *upload_size)
{
    if (hr->r)
        return reader_respond(hr->r, mc);
    if (hr->req && hr->redis == REDIS_ANSWERED)
        return start_parked(w, mc, hr); /* Redis answered the admission */
    if (*upload_size) {
        if (!hr->too_large && buf_add(&hr->body, upload, *upload_size) < 0) {
            hr->too_large = 1;
            buf_free(&hr->body);
        }
        *upload_size = 0;
        return MHD_YES;
    }
    request_read(mc); /* the final call: the body is whole */
    if (hr->too_large)
        return resp_error(mc, hr->api, 413, "payload_too_large", "request body is too large", NULL,
                          NULL);
    chat_req req;
    char err[256];
    int flags = hr->api == API_NATIVE ? 0 : REQ_OPENAI;
    const cfg *cf = w->env->cfg;
    req_limits lim = {(size_t)cf->max_messages, (size_t)cf->max_message_bytes};
    if (hr->api == API_ANTHROPIC) {
        /* Anthropic's request becomes OpenAI's, which req_parse and the providers take. */
        char *oai = NULL;
        int ar = anth_in_translate(buf_ptr(&hr->body), buf_len(&hr->body), &oai, err, sizeof(err));
        if (ar < 0) {
            free(oai);
            return ar == ANTH_IN_NOMEM
                       ? resp_error(mc, hr->api, 500, "internal_error", err, NULL, NULL)
                       : resp_error(mc, hr->api, 400,
                                    ar == ANTH_IN_UNSUPPORTED ? "unsupported_parameter"
                                                              : "invalid_request",
                                    err, NULL, NULL);
        }
        buf_reset(&hr->body);
        int bad = buf_addstr(&hr->body, oai);
        free(oai);
        if (bad < 0)
            return resp_error(mc, hr->api, 413, "payload_too_large", "request body is too large",
                              NULL, NULL);
    }
    if (req_parse(buf_ptr(&hr->body), buf_len(&hr->body), flags, &lim, &req, err, sizeof(err)) < 0)
        return resp_error(mc, hr->api, 400, "invalid_request", err, NULL, NULL);
    buf_free(&hr->body);
    if (*w->h.repl && repl_limits_on() && !*w->h.stopping) {
        /* The limits are counted across replicas: the request waits (parked) for Redis. */
        hr->req = malloc(sizeof(*hr->req));
        if (!hr->req) {
            req_free(&req);
            return MHD_NO;
        }
        *hr->req = req;
        int ar = ask_admission(w, mc, hr);
        if (ar == 0)
            return MHD_YES;
        if (ar < 0) {
            req_free(hr->req);
            free(hr->req);
            hr->req = NULL;
            return MHD_NO;
        }
        return start_parked(w, mc, hr); /* Redis is down: this replica's own counts */
    }
    enum MHD_Result rc = start(w, mc, hr, &req);
    req_free(&req);
    return rc;
}

static void model_obj(buf *b, const char *id, const char *owner, int first)
{
    buf_addstr(b, first ? "{\"id\":" : ",{\"id\":");
    jsonw_str(b, id, strlen(id));
    buf_addstr(b, ",\"object\":\"model\",\"created\":0,\"owned_by\":");
    jsonw_str(b, owner, strlen(owner));
    buf_addstr(b, "}");
}

/* GET /v1/models: every model name the map routes, the default first (a "*" entry routes
 * any name: the list names the default model for it). owned_by names the upstream. */
static enum MHD_Result models(router *w, struct MHD_Connection *mc)
{
    routes *rt = routes_current();
    buf b;
    buf_init(&b, 65536);
    buf_addstr(&b, "{\"object\":\"list\",\"data\":[");
    int n = 0;
    const route_model *def = rt ? route_find(rt, NULL) : NULL;
    if (def)
        model_obj(&b, rt->default_model, rt->ups[def->upstream].name, !n++);
    for (int i = 0; rt && i < rt->nmodels; i++) {
        const route_model *m = &rt->models[i];
        if (strcmp(m->name, "*") && strcmp(m->name, rt->default_model))
            model_obj(&b, m->name, rt->ups[m->upstream].name, !n++);
    }
    buf_addstr(&b, "]}");
    routes_unref(rt);
    enum MHD_Result rc = buf_failed(&b) ? MHD_NO : resp_json(mc, 200, buf_ptr(&b), buf_len(&b));
    buf_free(&b);
    return rc;
}

/* "/api/streams/ID" or "/api/streams/ID/cancel": the rest after ID ("" or "/cancel"), or
 * NULL for any other path. *id_ok: ID has the shape of a stream id (copied into id). */
static const char *stream_path(const char *url, char *id, int *id_ok)
{
    static const char prefix[] = "/api/streams/";
    if (strncmp(url, prefix, sizeof(prefix) - 1))
        return NULL;
    const char *p = url + sizeof(prefix) - 1;
    size_t seg = strcspn(p, "/");
    const char *rest = p + seg;
    if (!seg || (*rest && strcmp(rest, "/cancel")))
        return NULL;
    size_t n = strspn(p, "0123456789abcdef");
    *id_ok = n == STREAM_ID_LEN && seg == n;
    if (*id_ok) {
        memcpy(id, p, n);
        id[n] = '\0';
    }
    return rest;
}

/* Last-Event-ID header, else ?last_event_id=; -1 when neither; -2 when malformed. */
static int64_t last_event_id(struct MHD_Connection *mc)
{
    const char *v = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Last-Event-ID");
    if (!v)
        v = MHD_lookup_connection_value(mc, MHD_GET_ARGUMENT_KIND, "last_event_id");
    if (!v || !*v)
        return -1;
    if (strspn(v, "0123456789") != strlen(v) || strlen(v) > 18)
        return -2;
    return strtoll(v, NULL, 10);
}

static void on_redis_answer(void *ud, int result)
{
    redis_wait *rw = ud;
    if (rw->hr) {
        rw->hr->redis = REDIS_ANSWERED;
        rw->hr->redis_result = result;
        rw->hr->wait = NULL;
        MHD_resume_connection(rw->mc);
        *rw->mhd_due |= 1u << rw->shard;
    }
    free(rw);
}

/* Asks Redis about stream id (its lookup, or a cancel) and suspends the request until the
 * answer; MHD_NO when the request cannot wait, 1 when Redis is down. */
static int ask_redis(router *w, struct MHD_Connection *mc, http_req *hr, const char *id, int cancel)
{
    redis_wait *rw = calloc(1, sizeof(*rw));
    if (!rw)
        return -1;
    rw->hr = hr;
    rw->mc = mc;
    rw->mhd_due = w->h.mhd_due;
    rw->shard = reader_set_shard(w->h.readers, mc);
    int rc = cancel ? repl_cancel(*w->h.repl, id, on_redis_answer, rw)
                    : repl_lookup(*w->h.repl, id, on_redis_answer, rw);
    if (rc < 0) {
        free(rw);
        return 1;
    }
    hr->wait = rw;
    hr->redis = REDIS_WAITING;
    MHD_suspend_connection(mc);
    return 0;
}

static void on_admission(void *ud, int result, int retry)
{
    redis_wait *rw = ud;
    if (rw->hr)
        rw->hr->redis_retry = retry;
    on_redis_answer(ud, result);
}

/* 0: suspended until Redis answers; 1: Redis is down; -1: no memory. */
static int ask_admission(router *w, struct MHD_Connection *mc, http_req *hr)
{
    redis_wait *rw = calloc(1, sizeof(*rw));
    if (!rw)
        return -1;
    rw->hr = hr;
    rw->mc = mc;
    rw->mhd_due = w->h.mhd_due;
    rw->shard = reader_set_shard(w->h.readers, mc);
    if (repl_admit(*w->h.repl, hr->client, hr->slot, on_admission, rw) < 0) {
        free(rw);
        hr->slot[0] = '\0';
        return 1;
    }
    hr->wait = rw;
    hr->redis = REDIS_WAITING;
    MHD_suspend_connection(mc);
    return 0;
}

static enum MHD_Result redis_down(struct MHD_Connection *mc)
{
    return resp_error(mc, API_NATIVE, 503, "overloaded",
                      "the shared stream store (Redis) is unreachable; try again", "Retry-After",
                      "1");
}

/* GET /api/streams/{id}: replay after Last-Event-ID, then follow live. */
static enum MHD_Result resume(router *w, struct MHD_Connection *mc, const char *id, http_req *hr)
{
    int64_t last = last_event_id(mc);
    if (last == -2)
        return resp_error(mc, API_NATIVE, 400, "invalid_request",
                          "Last-Event-ID must be a decimal event id", NULL, NULL);
    stream *s = stream_find(id);
    if (!s && *w->h.repl && hr->redis == REDIS_NONE) {
        int rc = ask_redis(w, mc, hr, id, 0);
        if (rc <= 0)
            return rc < 0 ? MHD_NO : MHD_YES;
        return redis_down(mc);
    }
    if (!s && hr->redis == REDIS_ANSWERED && hr->redis_result == REPL_UNAVAILABLE)
        return redis_down(mc);
    if (!s)
        return resp_error(mc, API_NATIVE, 404, "not_found", "no such stream (unknown or expired)",
                          NULL, NULL);
    int64_t end = stream_last_id(s);
    enum MHD_Result rc;
    if (end >= 0 && last > end) {
        rc = resp_error(mc, API_NATIVE, 400, "invalid_request",
                        "Last-Event-ID is beyond the stream's end", NULL, NULL);
        goto out;
    }
    if (end >= 0 && last == end) {
        /* Nothing after the terminal event: 204 tells EventSource not to reconnect. */
        rc = resp_json(mc, 204, "", 0);
        goto out;
    }
    reader *r = reader_new(w->h.readers, mc, s, ENC_NATIVE, 0, API_NATIVE);
    if (!r) {
        rc = MHD_NO;
        goto out;
    }
    hr->r = r;
    reader_set_http_version(r, hr->version);
    metrics_add(&w->h.m->resumes, 1);
    if (reader_seek(r, last) < 0) {
        rc = resp_error(mc, API_NATIVE, 400, "invalid_request",
                        "Last-Event-ID is beyond the stream's end", NULL, NULL);
        goto out;
    }
    rc = reader_respond(r, mc);
out:
    stream_unref(s);
    return rc;
}

/* POST /api/streams/{id}/cancel: the owner aborts the upstream on its next pass (on
 * another replica: told through Redis). */
static enum MHD_Result cancel(router *w, struct MHD_Connection *mc, const char *id, http_req *hr)
{
    char body[96];
    stream *s = stream_find(id);
    if (!s && *w->h.repl && hr->redis == REDIS_NONE) {
        int rc = ask_redis(w, mc, hr, id, 1);
        if (rc <= 0)
            return rc < 0 ? MHD_NO : MHD_YES;
        return redis_down(mc);
    }
    if (!s && hr->redis == REDIS_ANSWERED) {
        if (hr->redis_result == REPL_UNAVAILABLE)
            return redis_down(mc);
        if (hr->redis_result > 0) {
            int n = snprintf(body, sizeof(body), "{\"stream_id\":\"%s\",\"status\":\"%s\"}", id,
                             hr->redis_result == 2 ? "finished" : "cancelling");
            return resp_json(mc, 202, body, (size_t)n);
        }
    }
    if (!s)
        return resp_error(mc, API_NATIVE, 404, "not_found", "no such stream (unknown or expired)",
                          NULL, NULL);
    int n = snprintf(body, sizeof(body), "{\"stream_id\":\"%s\",\"status\":\"%s\"}",
                     stream_get_info(s)->id, stream_last_id(s) >= 0 ? "finished" : "cancelling");
    stream_cancel(s);
    stream_unref(s);
    return resp_json(mc, 202, body, (size_t)n);
}

static enum MHD_Result route_streams(router *w, struct MHD_Connection *mc, const char *url,
                                     const char *method, http_req *hr)
{
    char id[STREAM_ID_LEN + 1];
    int id_ok = 0;
    const char *rest = stream_path(url, id, &id_ok);
    if (!rest)
        return resp_error(mc, API_NATIVE, 404, "not_found", "no such endpoint", NULL, NULL);
    /* A known path with the wrong method is 405 whatever the id; then an id that cannot
     * be one of ours is an unknown stream. */
    int want_post = *rest != '\0';
    if (want_post ? strcmp(method, "POST") != 0 : !is_get(method))
        return not_allowed(mc, API_NATIVE, want_post ? "POST" : "GET, HEAD");
    if (!id_ok)
        return resp_error(mc, API_NATIVE, 404, "not_found", "no such stream (unknown or expired)",
                          NULL, NULL);
    return want_post ? cancel(w, mc, id, hr) : resume(w, mc, id, hr);
}

/* Is origin in the comma-separated allow-list ("*" admits any)? */
static int origin_allowed(const char *list, const char *origin)
{
    size_t on = strlen(origin);
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ", ");
        if ((n == 1 && *p == '*') || (n == on && n && !strncmp(p, origin, n)))
            return 1;
        p += n;
    }
    return 0;
}

/* Answers a CORS preflight; remembers an admitted Origin for the real request. */
static enum MHD_Result cors(router *w, struct MHD_Connection *mc, const char *method, http_req *hr,
                            int *done)
{
    const char *origin = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Origin");
    const char *list = w->env->cfg->cors_origins;
    *done = 0;
    if (origin && *list && origin_allowed(list, origin))
        hr->rctx.cors = origin;
    if (strcmp(method, "OPTIONS"))
        return MHD_YES;
    *done = 1;
    if (!origin)
        return resp_error(mc, API_NATIVE, 405, "method_not_allowed",
                          "OPTIONS is for CORS preflights", "Allow", "GET, POST");
    if (!hr->rctx.cors)
        return resp_error(mc, API_NATIVE, 403, "forbidden", "origin not allowed", NULL, NULL);
    struct MHD_Response *r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    MHD_add_response_header(r, "Access-Control-Allow-Headers",
                            "Authorization, Content-Type, Last-Event-ID, X-Request-Id, "
                            "X-Api-Key, Anthropic-Version, Anthropic-Beta");
    MHD_add_response_header(r, "Access-Control-Max-Age", "600");
    enum MHD_Result rc = resp_queue(mc, 204, r);
    MHD_destroy_response(r);
    return rc;
}

/* Who the per-client limits count: the API key used, else the peer's address. */
static void set_client(struct MHD_Connection *mc, http_req *hr, int key)
{
    if (key > 0 && hr->client[0] == '\0') {
        snprintf(hr->client, sizeof(hr->client), "key:%d", key);
        return;
    }
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char ip[INET6_ADDRSTRLEN] = "?";
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, sizeof(ip));
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip, sizeof(ip));
    snprintf(hr->client, sizeof(hr->client), "ip:%s", ip);
}

/* The client key's header in auth_check's form: Authorization, or for Anthropic's API
 * x-api-key (as its SDKs send the key) when present, written as a Bearer header into tmp. */
static const char *key_header(struct MHD_Connection *mc, api_kind api, char *tmp, size_t n)
{
    const char *x =
        api == API_ANTHROPIC ? MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "x-api-key") : NULL;
    if (!x)
        return MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Authorization");
    int len = snprintf(tmp, n, "Bearer %s", x);
    return len > 0 && (size_t)len < n ? tmp : NULL; /* a longer key is no key of ours */
}

/* Anthropic's endpoints: /v1/messages and what lies under it. */
static int anthropic_path(const char *url)
{
    return !strcmp(url, "/v1/messages") || !strncmp(url, "/v1/messages/", 13);
}

/* The API endpoints (native under /api/, OpenAI's and Anthropic's under /v1/); auth
 * applies to all. */
static enum MHD_Result route_api(router *w, struct MHD_Connection *mc, const char *url,
                                 const char *method, api_kind api, http_req *hr)
{
    int preflight;
    enum MHD_Result rc = cors(w, mc, method, hr, &preflight);
    if (preflight)
        return rc;
    char tmp[1024];
    int key = auth_check(&w->env->auth, key_header(mc, api, tmp, sizeof(tmp)));
    if (!key)
        return resp_error(mc, api, 401, "unauthorized", "a valid API key is required",
                          "WWW-Authenticate", "Bearer");
    set_client(mc, hr, auth_enabled(&w->env->auth) ? key : 0);
    if (!strcmp(url, "/api/chat") || !strcmp(url, "/v1/chat/completions") ||
        !strcmp(url, "/v1/messages"))
        return strcmp(method, "POST") ? not_allowed(mc, api, "POST") : chat_begin(w, mc, api, hr);
    if (!strcmp(url, "/v1/models"))
        return is_get(method) ? models(w, mc) : not_allowed(mc, api, "GET, HEAD");
    if (!strncmp(url, "/api/streams/", 13))
        return route_streams(w, mc, url, method, hr);
    return resp_error(mc, api, 404, "not_found", "no such endpoint", NULL, NULL);
}

/* GET /metrics: Prometheus' text exposition. */
static enum MHD_Result metrics_page(router *w, struct MHD_Connection *mc)
{
    buf b;
    buf_init(&b, 1 << 20);
    if (w->h.render_metrics(&b) < 0) {
        buf_free(&b);
        return MHD_NO;
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer(buf_len(&b), (void *)buf_ptr(&b), MHD_RESPMEM_MUST_COPY);
    buf_free(&b);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result rc = resp_queue(mc, 200, r);
    MHD_destroy_response(r);
    return rc;
}

/* GET /readyz: configuration loaded (we are running), the upstream answered the last
 * probe, and, when replicas share streams, every worker's Redis link is up. */
static enum MHD_Result ready(struct MHD_Connection *mc)
{
    int p = probe_state();
    const char *ups = p == PROBE_REACHABLE     ? "reachable"
                      : p == PROBE_UNREACHABLE ? "unreachable"
                                               : "checking";
    int ok = p == PROBE_REACHABLE;
    int r = repl_enabled() ? repl_ready() : 1;
    ok = ok && r;
    buf b;
    buf_init(&b, 16384);
    buf_addstr(&b, ok ? "{\"status\":\"ready\",\"upstream\":\""
                      : "{\"status\":\"not_ready\",\"upstream\":\"");
    buf_addstr(&b, ups);
    buf_addstr(&b, "\",\"upstreams\":");
    routes *rt = routes_current();
    if (rt)
        routes_ready_json(rt, loop_now_ms(), &b);
    else
        buf_addstr(&b, "{}");
    routes_unref(rt);
    if (repl_enabled())
        buf_addstr(&b, r ? ",\"redis\":\"reachable\"" : ",\"redis\":\"unreachable\"");
    buf_addstr(&b, "}");
    enum MHD_Result rc =
        buf_failed(&b) ? MHD_NO : resp_json(mc, ok ? 200 : 503, buf_ptr(&b), buf_len(&b));
    buf_free(&b);
    return rc;
}

static enum MHD_Result route_first(router *w, struct MHD_Connection *mc, const char *url,
                                   const char *method, http_req *hr)
{
    if (!strncmp(url, "/api/", 5) || !strcmp(url, "/api"))
        return route_api(w, mc, url, method, API_NATIVE, hr);
    if (!strncmp(url, "/v1/", 4) || !strcmp(url, "/v1"))
        return route_api(w, mc, url, method, anthropic_path(url) ? API_ANTHROPIC : API_OPENAI, hr);
    if (!strcmp(url, "/metrics"))
        return is_get(method) ? metrics_page(w, mc) : not_allowed(mc, API_NATIVE, "GET, HEAD");
    if (!strcmp(url, "/readyz"))
        return is_get(method) ? ready(mc) : not_allowed(mc, API_NATIVE, "GET, HEAD");
    if (!strcmp(url, "/healthz"))
        return is_get(method) ? resp_json(mc, 200, "{\"status\":\"ok\"}", 15)
                              : not_allowed(mc, API_NATIVE, "GET, HEAD");
    if (!is_get(method))
        return not_allowed(mc, API_NATIVE, "GET, HEAD");
    return files_serve(mc, w->env->web_root_real, url);
}

static int bodyless(const char *m)
{
    return !strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "OPTIONS") || !strcmp(m, "DELETE");
}

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    int *n = cls;
    if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH))
        n[0]++;
    if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING))
        n[1]++;
    return MHD_YES;
}

/* RFC 9112: several Content-Length headers, or one with Transfer-Encoding, make the body's
 * end ambiguous (request smuggling behind a proxy): refuse them. n[0], n[1] = counts. */
static void framing(struct MHD_Connection *mc, int n[2])
{
    n[0] = n[1] = 0;
    MHD_get_connection_values(mc, MHD_HEADER_KIND, count_header, n);
}

static int has_body(struct MHD_Connection *mc)
{
    int n[2];
    framing(mc, n);
    return n[0] || n[1];
}

/* Checks every request gets, then the route. */
static enum MHD_Result first_call(router *w, struct MHD_Connection *mc, const char *url,
                                  const char *method, http_req *hr)
{
    hr->routed = 1;
    api_kind api = anthropic_path(url)        ? API_ANTHROPIC
                   : !strncmp(url, "/v1/", 4) ? API_OPENAI
                                              : API_NATIVE;
    const union MHD_ConnectionInfo *hs =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    int n[2];
    framing(mc, n);
    if (hr->raw_bad)
        return resp_error(mc, api, 400, "invalid_request", "the path holds a NUL byte", NULL, NULL);
    if (n[0] > 1 || (n[0] && n[1]))
        return resp_error(mc, api, 400, "invalid_request",
                          "ambiguous body length: several Content-Length headers, or one with "
                          "Transfer-Encoding",
                          "Connection", "close");
    if (hs && hs->header_size > (size_t)w->env->cfg->max_header_bytes)
        return resp_error(mc, api, 431, "header_too_large", "request headers are too large", NULL,
                          NULL);
    return route_first(w, mc, url, method, hr);
}

enum MHD_Result router_on_request(void *cls, struct MHD_Connection *mc, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    router *w = cls;
    http_req *hr = *con_cls;
    if (!hr)
        return MHD_NO;
    enum MHD_Result rc;
    resp_begin(&hr->rctx);
    if (!hr->begun) {
        hr->begun = 1;
        metrics_add(&w->h.m->requests, 1);
        set_request_id(hr, mc);
        hr->rctx.request_id = hr->id;
        snprintf(hr->method, sizeof(hr->method), "%s", method);
        snprintf(hr->version, sizeof(hr->version), "%s", version);
        snprintf(hr->path, sizeof(hr->path), "%s", url);
        rc = bodyless(method) && !has_body(mc) ? MHD_YES : first_call(w, mc, url, method, hr);
    } else if (!hr->routed) {
        /* A request without a body, whole now: answering it here (not in the first call)
         * lets MHD keep the connection alive. */
        rc = first_call(w, mc, url, method, hr);
    } else if (hr->redis == REDIS_ANSWERED && !hr->r && hr->route != R_CHAT) {
        rc = route_first(w, mc, url, method, hr); /* the same route, with Redis' answer */
    } else if (hr->route != R_CHAT) {
        rc = hr->r ? reader_respond(hr->r, mc) : MHD_NO;
    } else {
        rc = chat_body(w, mc, hr, upload, upload_size);
    }
    if (hr->route != R_CHAT)
        request_read(mc);
    resp_end();
    return rc;
}

/* The request's outcome for the log line: for a stream, how its answer ended as this
 * reader saw it (done, cancelled, error:TYPE); else how the connection ended. */
static void outcome(const http_req *hr, enum MHD_RequestTerminationCode toe, char *out, size_t n)
{
    const char *o = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK      ? "ok"
                    : toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? "timeout"
                                                                    : "aborted";
    reader_stats st;
    if (hr->r)
        reader_get_stats(hr->r, &st);
    if (hr->r && (st.gone || (st.streaming && !st.finished)))
        o = "client_gone";
    else if (hr->r && st.finished && st.term_kind == STREAM_TERM_ERROR) {
        snprintf(out, n, "error:%s", st.term_word);
        return;
    } else if (hr->r && st.finished)
        o = strcmp(st.term_word, "cancelled") ? "done" : "cancelled";
    snprintf(out, n, "%s", o);
}

static void log_request(router *w, struct MHD_Connection *mc, http_req *hr,
                        enum MHD_RequestTerminationCode toe)
{
    if (!log_enabled(LOG_DEBUG) && !log_enabled(LOG_INFO))
        return;
    if (!hr->begun)
        return;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_HTTP_STATUS);
    buf b;
    buf_init(&b, 4096);
    buf_addstr(&b, "\"request_id\":");
    jsonw_str(&b, hr->id, strlen(hr->id));
    buf_addstr(&b, ",\"method\":");
    jsonw_str(&b, hr->method, strlen(hr->method));
    buf_addstr(&b, ",\"path\":");
    jsonw_str(&b, hr->path, strlen(hr->path));
    buf_addf(&b, ",\"status\":%u,\"duration_ms\":%llu", ci ? ci->http_status : 0,
             (unsigned long long)(loop_now_ms() - hr->t0_ms));
    buf_addf(&b, ",\"worker\":%d", w->h.idx);
    if (hr->r) {
        reader_stats st;
        reader_get_stats(hr->r, &st);
        const char *pname = cfg_provider_name(w->env->cfg);
        buf_addstr(&b, ",\"provider\":");
        jsonw_str(&b, pname, strlen(pname));
        buf_addstr(&b, ",\"model\":");
        jsonw_str(&b, st.info->model, strlen(st.info->model));
        buf_addf(&b, ",\"stream_id\":\"%s\",\"characters\":%llu", st.info->id,
                 (unsigned long long)st.chars);
        if (st.first_char_ms)
            buf_addf(&b, ",\"first_char_ms\":%llu",
                     (unsigned long long)(st.first_char_ms - hr->t0_ms));
    }
    char o[64];
    outcome(hr, toe, o, sizeof(o));
    buf_addstr(&b, ",\"outcome\":");
    jsonw_str(&b, o, strlen(o));
    /* Probes and scrapes come every few seconds: they log at debug. */
    int quiet = !strcmp(hr->path, "/healthz") || !strcmp(hr->path, "/readyz") ||
                !strcmp(hr->path, "/metrics");
    log_fields(quiet ? LOG_DEBUG : LOG_INFO, buf_ptr(&b), buf_len(&b));
    buf_free(&b);
}

void router_on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    http_req *hr = *con_cls;
    if (!hr)
        return;
    log_request(cls, mc, hr, toe);
    http_conn *hc = conn_of(mc);
    if (hc) {
        hc->reading = 1; /* the next request on this connection may start now */
        hc->since_ms = loop_now_ms();
    }
    if (hr->r)
        reader_detach(hr->r);
    if (hr->wait)
        hr->wait->hr = NULL; /* the answer, when it comes, finds no request */
    if (hr->req) {
        req_free(hr->req);
        free(hr->req);
    }
    buf_free(&hr->body);
    free(hr);
    *con_cls = NULL;
}
