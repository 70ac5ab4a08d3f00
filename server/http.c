/* http — see http.h. */
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "chat.h"
#include "files.h"
#include "jsonw.h"
#include "req.h"
#include "worker.h"

enum route { R_CHAT = 1 };

/* Per-connection state for a request whose body we read (POST /api/chat). */
typedef struct http_req {
    int route;
    buf body;
    int too_large;
    chat *c;
} http_req;

enum MHD_Result http_json(struct MHD_Connection *mc, unsigned status, const char *json)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(json), (void *)json,
                                                             MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    enum MHD_Result rc = MHD_queue_response(mc, status, r);
    MHD_destroy_response(r);
    return rc;
}

enum MHD_Result http_error(struct MHD_Connection *mc, unsigned status, const char *type,
                           const char *msg, const char *hname, const char *hvalue)
{
    buf b;
    buf_init(&b, 4096);
    int bad = buf_addstr(&b, "{\"error\":{\"type\":") | jsonw_str(&b, type, strlen(type)) |
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
    enum MHD_Result rc = MHD_queue_response(mc, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result not_allowed(struct MHD_Connection *mc, const char *allow)
{
    return http_error(mc, 405, "method_not_allowed", "method not allowed here", "Allow", allow);
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
static enum MHD_Result chat_begin(worker *w, struct MHD_Connection *mc, void **con_cls)
{
    const char *ct = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Content-Type");
    if (!json_type(ct))
        return http_error(mc, 415, "unsupported_media_type", "Content-Type must be application/json",
                          NULL, NULL);
    long max = w->env->cfg->max_body_bytes;
    const char *cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > (unsigned long long)max)
        return http_error(mc, 413, "payload_too_large", "request body is too large", NULL, NULL);
    http_req *hr = calloc(1, sizeof(*hr));
    if (!hr)
        return MHD_NO;
    hr->route = R_CHAT;
    buf_init(&hr->body, (size_t)max);
    *con_cls = hr;
    return MHD_YES;
}

static enum MHD_Result chat_body(worker *w, struct MHD_Connection *mc, http_req *hr,
                                 const char *upload, size_t *upload_size)
{
    if (hr->c)
        return chat_respond(hr->c, mc);
    if (*upload_size) {
        if (!hr->too_large && buf_add(&hr->body, upload, *upload_size) < 0) {
            hr->too_large = 1;
            buf_free(&hr->body);
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (hr->too_large)
        return http_error(mc, 413, "payload_too_large", "request body is too large", NULL, NULL);
    chat_req req;
    char err[256];
    if (req_parse(buf_ptr(&hr->body), buf_len(&hr->body), &req, err, sizeof(err)) < 0)
        return http_error(mc, 400, "invalid_request", err, NULL, NULL);
    buf_free(&hr->body);
    return chat_start(w, mc, &req, &hr->c);
}

static enum MHD_Result route_first(worker *w, struct MHD_Connection *mc, const char *url,
                                   const char *method, void **con_cls)
{
    if (!strcmp(url, "/api/chat"))
        return strcmp(method, "POST") ? not_allowed(mc, "POST") : chat_begin(w, mc, con_cls);
    if (!strcmp(url, "/healthz"))
        return is_get(method) ? http_json(mc, 200, "{\"status\":\"ok\"}") : not_allowed(mc, "GET, HEAD");
    if (!strncmp(url, "/api/", 5) || !strcmp(url, "/api") || !strncmp(url, "/v1/", 4))
        return http_error(mc, 404, "not_found", "no such endpoint", NULL, NULL);
    if (!is_get(method))
        return not_allowed(mc, "GET, HEAD");
    return files_serve(mc, w->env->web_root_real, url);
}

enum MHD_Result http_on_request(void *cls, struct MHD_Connection *mc, const char *url,
                                const char *method, const char *version, const char *upload,
                                size_t *upload_size, void **con_cls)
{
    worker *w = cls;
    http_req *hr = *con_cls;
    if (!hr)
        return route_first(w, mc, url, method, con_cls);
    return chat_body(w, mc, hr, upload, upload_size);
}

void http_on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                       enum MHD_RequestTerminationCode toe)
{
    http_req *hr = *con_cls;
    if (!hr)
        return;
    if (hr->c)
        chat_detach(hr->c);
    buf_free(&hr->body);
    free(hr);
    *con_cls = NULL;
}
