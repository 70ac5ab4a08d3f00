/* http — see http.h. */
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "buf.h"
#include "chat.h"
#include "files.h"
#include "reader.h"
#include "store.h"
#include "jsonw.h"
#include "log.h"
#include "oai.h"
#include "probe.h"
#include "quota.h"
#include "req.h"
#include "worker.h"

enum route { R_CHAT = 1 };

/* One request, from the URI callback to the completion callback. */
typedef struct http_req {
    int begun;        /* the access handler has seen it */
    int routed;       /* its route was taken */
    int route;
    http_api api;
    buf body;
    int too_large;
    reader *r;
    uint64_t t0_ms;
    char id[40];      /* X-Request-Id */
    char method[12];
    char path[200];
    int raw_bad;      /* the raw URI held an encoded NUL */
    char client[QUOTA_CLIENT_MAX]; /* who the limits count against */
    const char *cors; /* the request's Origin when the allow-list admits it */
} http_req;

/* One client connection, for the slow-request watchdog. */
typedef struct http_conn {
    int fd;
    int reading;           /* a request is (or may be) arriving */
    uint64_t since_ms;     /* when that started */
    struct http_conn *next, *prev;
} http_conn;

void http_on_connection(void *cls, struct MHD_Connection *mc, void **ctx,
                        enum MHD_ConnectionNotificationCode code)
{
    worker *w = cls;
    http_conn *hc = *ctx;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!ci || !(hc = calloc(1, sizeof(*hc))))
            return;
        hc->fd = ci->connect_fd;
        hc->reading = 1;
        hc->since_ms = loop_now_ms();
        hc->next = w->conns;
        if (w->conns)
            ((http_conn *)w->conns)->prev = hc;
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
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* The request has arrived whole (or was answered): the watchdog lets it be. */
static void request_read(struct MHD_Connection *mc)
{
    http_conn *hc = conn_of(mc);
    if (hc)
        hc->reading = 0;
}

void http_watchdog(void *wv, uint64_t now)
{
    worker *w = wv;
    uint64_t limit = (uint64_t)w->env->cfg->request_timeout_ms;
    for (http_conn *hc = w->conns; hc; hc = hc->next) {
        /* MHD sees the shut socket on its next read and closes the connection itself. */
        if (hc->reading && loop_since(now, hc->since_ms) >= limit) {
            shutdown(hc->fd, SHUT_RDWR);
            hc->reading = 0;
        }
    }
}

/* The request being handled on this thread: every response it queues carries its id. */
static __thread http_req *current;

const char *http_request_id(void)
{
    return current ? current->id : "";
}

enum MHD_Result http_queue(struct MHD_Connection *mc, unsigned status, struct MHD_Response *r)
{
    if (current)
        MHD_add_response_header(r, "X-Request-Id", current->id);
    if (current && current->cors) {
        MHD_add_response_header(r, "Access-Control-Allow-Origin", current->cors);
        MHD_add_response_header(r, "Vary", "Origin");
        MHD_add_response_header(r, "Access-Control-Expose-Headers",
                                "X-Chatd-Stream-Id, X-Request-Id, Retry-After");
    }
    return MHD_queue_response(mc, status, r);
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

void *http_on_uri(void *cls, const char *uri, struct MHD_Connection *mc)
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

enum MHD_Result http_json(struct MHD_Connection *mc, unsigned status, const char *json, size_t n)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(n, (void *)json,
                                                             MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    enum MHD_Result rc = http_queue(mc, status, r);
    MHD_destroy_response(r);
    return rc;
}

enum MHD_Result http_error(struct MHD_Connection *mc, unsigned status, const char *type,
                           const char *msg, const char *hname, const char *hvalue)
{
    return http_fail(mc, API_NATIVE, status, type, msg, hname, hvalue);
}

enum MHD_Result http_fail(struct MHD_Connection *mc, http_api api, unsigned status, const char *type,
                          const char *msg, const char *hname, const char *hvalue)
{
    buf b;
    buf_init(&b, 4096);
    int bad = api == API_OPENAI
                  ? oai_error_body(&b, type, msg)
                  : buf_addstr(&b, "{\"error\":{\"type\":") | jsonw_str(&b, type, strlen(type)) |
                        buf_addstr(&b, ",\"message\":") | jsonw_str(&b, msg, strlen(msg)) |
                        buf_addstr(&b, "}}");
    struct MHD_Response *r =
        bad ? NULL
            : MHD_create_response_from_buffer(buf_len(&b), (void *)buf_ptr(&b), MHD_RESPMEM_MUST_COPY);
    buf_free(&b);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (hname)
        MHD_add_response_header(r, hname, hvalue);
    enum MHD_Result rc = http_queue(mc, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result not_allowed(struct MHD_Connection *mc, http_api api, const char *allow)
{
    return http_fail(mc, api, 405, "method_not_allowed", "method not allowed here", "Allow", allow);
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
static enum MHD_Result chat_begin(worker *w, struct MHD_Connection *mc, http_api api, http_req *hr)
{
    const char *ct = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Content-Type");
    if (!json_type(ct))
        return http_fail(mc, api, 415, "unsupported_media_type",
                         "Content-Type must be application/json", NULL, NULL);
    long max = w->env->cfg->max_body_bytes;
    const char *cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > (unsigned long long)max)
        return http_fail(mc, api, 413, "payload_too_large", "request body is too large", NULL, NULL);
    hr->route = R_CHAT;
    hr->api = api;
    buf_init(&hr->body, (size_t)max);
    return MHD_YES;
}

static enum MHD_Result chat_body(worker *w, struct MHD_Connection *mc, http_req *hr,
                                 const char *upload, size_t *upload_size)
{
    if (hr->r)
        return reader_respond(hr->r, mc);
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
        return http_fail(mc, hr->api, 413, "payload_too_large", "request body is too large", NULL, NULL);
    chat_req req;
    char err[256];
    int flags = hr->api == API_OPENAI ? REQ_OPENAI : 0;
    const cfg *cf = w->env->cfg;
    req_limits lim = {(size_t)cf->max_messages, (size_t)cf->max_message_bytes};
    if (req_parse(buf_ptr(&hr->body), buf_len(&hr->body), flags, &lim, &req, err, sizeof(err)) < 0)
        return http_fail(mc, hr->api, 400, "invalid_request", err, NULL, NULL);
    buf_free(&hr->body);
    return chat_start(w, mc, &req, hr->api, hr->client, &hr->r);
}

/* GET /v1/models: the model chatd uses when a request names none. */
static enum MHD_Result models(worker *w, struct MHD_Connection *mc)
{
    const char *m = w->env->cfg->model;
    buf b;
    buf_init(&b, 4096);
    int bad = buf_addstr(&b, "{\"object\":\"list\",\"data\":[{\"id\":") | jsonw_str(&b, m, strlen(m)) |
              buf_addstr(&b, ",\"object\":\"model\",\"created\":0,\"owned_by\":\"chatd\"}]}");
    enum MHD_Result rc = bad ? MHD_NO : http_json(mc, 200, buf_ptr(&b), buf_len(&b));
    buf_free(&b);
    return rc;
}

/* "/api/streams/ID" or "/api/streams/ID/cancel": copies ID, returns the rest or NULL. */
static const char *stream_path(const char *url, char *id)
{
    static const char prefix[] = "/api/streams/";
    if (strncmp(url, prefix, sizeof(prefix) - 1))
        return NULL;
    const char *p = url + sizeof(prefix) - 1;
    size_t n = strspn(p, "0123456789abcdef");
    if (n != STREAM_ID_LEN)
        return NULL;
    memcpy(id, p, n);
    id[n] = '\0';
    return p + n;
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

/* GET /api/streams/{id}: replay after Last-Event-ID, then follow live. */
static enum MHD_Result resume(worker *w, struct MHD_Connection *mc, const char *id, http_req *hr)
{
    int64_t last = last_event_id(mc);
    if (last == -2)
        return http_error(mc, 400, "invalid_request", "Last-Event-ID must be a decimal event id", NULL, NULL);
    stream *s = store_get(id);
    if (!s)
        return http_error(mc, 404, "not_found", "no such stream (unknown or expired)", NULL, NULL);
    int64_t end = stream_last_id(s);
    enum MHD_Result rc;
    if (end >= 0 && last > end) {
        rc = http_error(mc, 400, "invalid_request", "Last-Event-ID is beyond the stream's end", NULL, NULL);
        goto out;
    }
    if (end >= 0 && last == end) {
        /* Nothing after the terminal event: 204 tells EventSource not to reconnect. */
        rc = http_json(mc, 204, "", 0);
        goto out;
    }
    reader *r = reader_new(w, mc, s, STREAM_FMT_NATIVE, 0, API_NATIVE);
    if (!r) {
        rc = MHD_NO;
        goto out;
    }
    hr->r = r;
    metrics_add(&w->m.resumes, 1);
    if (reader_seek(r, last) < 0) {
        rc = http_error(mc, 400, "invalid_request", "Last-Event-ID is beyond the stream's end", NULL, NULL);
        goto out;
    }
    rc = reader_respond(r, mc);
out:
    stream_unref(s);
    return rc;
}

/* POST /api/streams/{id}/cancel: the owner aborts the upstream on its next pass. */
static enum MHD_Result cancel(struct MHD_Connection *mc, const char *id)
{
    stream *s = store_get(id);
    if (!s)
        return http_error(mc, 404, "not_found", "no such stream (unknown or expired)", NULL, NULL);
    char body[96];
    int n = snprintf(body, sizeof(body), "{\"stream_id\":\"%s\",\"status\":\"%s\"}", s->id,
                     stream_last_id(s) >= 0 ? "finished" : "cancelling");
    chat_request_cancel(s);
    stream_unref(s);
    return http_json(mc, 202, body, (size_t)n);
}

static enum MHD_Result route_streams(worker *w, struct MHD_Connection *mc, const char *url,
                                     const char *method, http_req *hr)
{
    char id[STREAM_ID_LEN + 1];
    const char *rest = stream_path(url, id);
    if (!rest || (*rest && strcmp(rest, "/cancel")))
        return http_error(mc, 404, "not_found", "no such endpoint", NULL, NULL);
    if (*rest)
        return strcmp(method, "POST") ? not_allowed(mc, API_NATIVE, "POST") : cancel(mc, id);
    return is_get(method) ? resume(w, mc, id, hr) : not_allowed(mc, API_NATIVE, "GET, HEAD");
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
static enum MHD_Result cors(worker *w, struct MHD_Connection *mc, const char *method, http_req *hr,
                            int *done)
{
    const char *origin = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Origin");
    const char *list = w->env->cfg->cors_origins;
    *done = 0;
    if (origin && *list && origin_allowed(list, origin))
        hr->cors = origin;
    if (strcmp(method, "OPTIONS"))
        return MHD_YES;
    *done = 1;
    if (!origin)
        return http_error(mc, 405, "method_not_allowed", "OPTIONS is for CORS preflights",
                          "Allow", "GET, POST");
    if (!hr->cors)
        return http_error(mc, 403, "forbidden", "origin not allowed", NULL, NULL);
    struct MHD_Response *r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    MHD_add_response_header(r, "Access-Control-Allow-Headers",
                            "Authorization, Content-Type, Last-Event-ID, X-Request-Id");
    MHD_add_response_header(r, "Access-Control-Max-Age", "600");
    enum MHD_Result rc = http_queue(mc, 204, r);
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
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char ip[INET6_ADDRSTRLEN] = "?";
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, sizeof(ip));
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip, sizeof(ip));
    snprintf(hr->client, sizeof(hr->client), "ip:%s", ip);
}

/* The API endpoints (native under /api/, OpenAI's under /v1/); auth applies to both. */
static enum MHD_Result route_api(worker *w, struct MHD_Connection *mc, const char *url,
                                 const char *method, http_api api, http_req *hr)
{
    int preflight;
    enum MHD_Result rc = cors(w, mc, method, hr, &preflight);
    if (preflight)
        return rc;
    const char *h = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Authorization");
    int key = auth_check(&w->env->auth, h);
    if (!key)
        return http_fail(mc, api, 401, "unauthorized", "a valid API key is required",
                         "WWW-Authenticate", "Bearer");
    set_client(mc, hr, auth_enabled(&w->env->auth) ? key : 0);
    if (!strcmp(url, "/api/chat") || !strcmp(url, "/v1/chat/completions"))
        return strcmp(method, "POST") ? not_allowed(mc, api, "POST") : chat_begin(w, mc, api, hr);
    if (!strcmp(url, "/v1/models"))
        return is_get(method) ? models(w, mc) : not_allowed(mc, api, "GET, HEAD");
    if (!strncmp(url, "/api/streams/", 13))
        return route_streams(w, mc, url, method, hr);
    return http_fail(mc, api, 404, "not_found", "no such endpoint", NULL, NULL);
}

/* GET /metrics: Prometheus' text exposition. */
static enum MHD_Result metrics_page(struct MHD_Connection *mc)
{
    buf b;
    buf_init(&b, 1 << 20);
    if (worker_render_metrics(&b) < 0) {
        buf_free(&b);
        return MHD_NO;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(buf_len(&b), (void *)buf_ptr(&b),
                                                             MHD_RESPMEM_MUST_COPY);
    buf_free(&b);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result rc = http_queue(mc, 200, r);
    MHD_destroy_response(r);
    return rc;
}

/* GET /readyz: configuration loaded (we are running) and the upstream answered the
 * last probe. */
static enum MHD_Result ready(struct MHD_Connection *mc)
{
    static const char ok[] = "{\"status\":\"ready\",\"upstream\":\"reachable\"}";
    static const char down[] = "{\"status\":\"not_ready\",\"upstream\":\"unreachable\"}";
    static const char unknown[] = "{\"status\":\"not_ready\",\"upstream\":\"checking\"}";
    switch (probe_state()) {
    case PROBE_REACHABLE:
        return http_json(mc, 200, ok, sizeof(ok) - 1);
    case PROBE_UNREACHABLE:
        return http_json(mc, 503, down, sizeof(down) - 1);
    }
    return http_json(mc, 503, unknown, sizeof(unknown) - 1);
}

static enum MHD_Result route_first(worker *w, struct MHD_Connection *mc, const char *url,
                                   const char *method, http_req *hr)
{
    if (!strncmp(url, "/api/", 5) || !strcmp(url, "/api"))
        return route_api(w, mc, url, method, API_NATIVE, hr);
    if (!strncmp(url, "/v1/", 4) || !strcmp(url, "/v1"))
        return route_api(w, mc, url, method, API_OPENAI, hr);
    if (!strcmp(url, "/metrics"))
        return is_get(method) ? metrics_page(mc) : not_allowed(mc, API_NATIVE, "GET, HEAD");
    if (!strcmp(url, "/readyz"))
        return is_get(method) ? ready(mc) : not_allowed(mc, API_NATIVE, "GET, HEAD");
    if (!strcmp(url, "/healthz"))
        return is_get(method) ? http_json(mc, 200, "{\"status\":\"ok\"}", 15)
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
static enum MHD_Result first_call(worker *w, struct MHD_Connection *mc, const char *url,
                                  const char *method, http_req *hr)
{
    hr->routed = 1;
    http_api api = !strncmp(url, "/v1/", 4) ? API_OPENAI : API_NATIVE;
    const union MHD_ConnectionInfo *hs = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    int n[2];
    framing(mc, n);
    if (hr->raw_bad)
        return http_fail(mc, api, 400, "invalid_request", "the path holds a NUL byte", NULL, NULL);
    if (n[0] > 1 || (n[0] && n[1]))
        return http_fail(mc, api, 400, "invalid_request",
                         "ambiguous body length: several Content-Length headers, or one with "
                         "Transfer-Encoding", "Connection", "close");
    if (hs && hs->header_size > (size_t)w->env->cfg->max_header_bytes)
        return http_fail(mc, api, 431, "header_too_large", "request headers are too large", NULL, NULL);
    return route_first(w, mc, url, method, hr);
}

enum MHD_Result http_on_request(void *cls, struct MHD_Connection *mc, const char *url,
                                const char *method, const char *version, const char *upload,
                                size_t *upload_size, void **con_cls)
{
    worker *w = cls;
    http_req *hr = *con_cls;
    if (!hr)
        return MHD_NO;
    enum MHD_Result rc;
    current = hr;
    if (!hr->begun) {
        hr->begun = 1;
        metrics_add(&w->m.requests, 1);
        set_request_id(hr, mc);
        snprintf(hr->method, sizeof(hr->method), "%s", method);
        snprintf(hr->path, sizeof(hr->path), "%s", url);
        rc = bodyless(method) && !has_body(mc) ? MHD_YES : first_call(w, mc, url, method, hr);
    } else if (!hr->routed) {
        /* A request without a body, whole now: answering it here (not in the first call)
         * lets MHD keep the connection alive. */
        rc = first_call(w, mc, url, method, hr);
    } else if (hr->route != R_CHAT) {
        rc = hr->r ? reader_respond(hr->r, mc) : MHD_NO;
    } else {
        rc = chat_body(w, mc, hr, upload, upload_size);
    }
    if (hr->route != R_CHAT)
        request_read(mc);
    current = NULL;
    return rc;
}

/* The request's outcome for the log line: for a stream, how its answer ended as this
 * reader saw it (done, cancelled, error:TYPE); else how the connection ended. */
static void outcome(const http_req *hr, enum MHD_RequestTerminationCode toe, char *out, size_t n)
{
    const reader *r = hr->r;
    const char *o = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK       ? "ok"
                    : toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? "timeout"
                                                                    : "aborted";
    if (r && (r->gone || (r->streaming && !r->finished)))
        o = "client_gone";
    else if (r && r->finished && r->s->term_kind == STREAM_TERM_ERROR) {
        snprintf(out, n, "error:%s", r->s->err_type);
        return;
    } else if (r && r->finished)
        o = strcmp(r->s->finish_reason, "cancelled") ? "done" : "cancelled";
    snprintf(out, n, "%s", o);
}

static void log_request(worker *w, struct MHD_Connection *mc, http_req *hr,
                        enum MHD_RequestTerminationCode toe)
{
    if (!log_enabled(LOG_DEBUG) && !log_enabled(LOG_INFO))
        return;
    if (!hr->begun)
        return;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_HTTP_STATUS);
    buf b;
    buf_init(&b, 4096);
    buf_addstr(&b, "\"request_id\":");
    jsonw_str(&b, hr->id, strlen(hr->id));
    buf_addstr(&b, ",\"method\":");
    jsonw_str(&b, hr->method, strlen(hr->method));
    buf_addstr(&b, ",\"path\":");
    jsonw_str(&b, hr->path, strlen(hr->path));
    buf_addf(&b, ",\"status\":%u,\"duration_ms\":%llu,\"worker\":%d", ci ? ci->http_status : 0,
             (unsigned long long)(loop_now_ms() - hr->t0_ms), w->idx);
    if (hr->r) {
        stream *s = hr->r->s;
        const char *pname = cfg_provider_name(w->env->cfg);
        pthread_mutex_lock(&s->mu);
        uint64_t sent = hr->r->cur.next_id > 1 ? hr->r->cur.next_id - 1 : 0;
        uint64_t chars = sent < s->count ? sent : s->count;
        pthread_mutex_unlock(&s->mu);
        buf_addstr(&b, ",\"provider\":");
        jsonw_str(&b, pname, strlen(pname));
        buf_addstr(&b, ",\"model\":");
        jsonw_str(&b, s->model, strlen(s->model));
        buf_addf(&b, ",\"stream_id\":\"%s\",\"characters\":%llu", s->id, (unsigned long long)chars);
        if (hr->r->first_char_ms)
            buf_addf(&b, ",\"first_char_ms\":%llu",
                     (unsigned long long)(hr->r->first_char_ms - hr->t0_ms));
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

void http_on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
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
    buf_free(&hr->body);
    free(hr);
    *con_cls = NULL;
}
