/* prov_openai — see prov_openai.h. */
#include "prov_openai.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "req.h"
#include "ssep.h"

#define CHAT_PATH "/chat/completions"

struct prov_stream {
    ssep sse;
    const prov_sink *sink; /* of the feed/finish call in progress */
    int rc;                /* the event handler's non-zero value, kept apart from ssep's */
};

/* ---- build ---- */

static const char *const HEADERS[] = {
    "Content-Type: application/json",
    "Accept: text/event-stream",
    NULL,
};
static const prov_endpoint ENDPOINT = {CHAT_PATH, HEADERS, "Authorization: Bearer "};

static int add_options(cJSON *o, const chat_req *req)
{
    cJSON *so = NULL;
    if (!cJSON_AddTrueToObject(o, "stream") ||
        !(so = cJSON_AddObjectToObject(o, "stream_options")) ||
        !cJSON_AddTrueToObject(so, "include_usage"))
        return -1;
    if (req->has_temperature && !cJSON_AddNumberToObject(o, "temperature", req->temperature))
        return -1;
    if (req->max_tokens > 0 && !cJSON_AddNumberToObject(o, "max_tokens", (double)req->max_tokens))
        return -1;
    return 0;
}

static int openai_build(const chat_req *req, const char *base_url, const char *api_key,
                        const char *model, prov_http *out)
{
    if (!base_url || !*base_url)
        base_url = prov_openai.default_url;
    return prov_build_http(out, &ENDPOINT, base_url, api_key,
                           prov_chat_body(req, model, add_options));
}

/* ---- error reasons ---- */

/* FastAPI-style servers: "detail" is a string or a list of {"msg": ...}. */
static const char *detail_reason(const cJSON *d)
{
    if (cJSON_IsString(d))
        return prov_nonempty(d);
    if (cJSON_IsArray(d))
        d = cJSON_GetArrayItem(d, 0);
    const char *m = prov_nonempty(prov_get(d, "msg"));
    return m ? m : prov_nonempty(prov_get(d, "message"));
}

static const char *json_reason(const cJSON *root)
{
    const cJSON *e = prov_get(root, "error");
    const char *m = cJSON_IsString(e) ? prov_nonempty(e) : prov_nonempty(prov_get(e, "message"));
    if (!m)
        m = prov_nonempty(prov_get(root, "message"));
    if (!m)
        m = detail_reason(prov_get(root, "detail"));
    if (!m)
        m = prov_nonempty(prov_get(e, "type"));
    if (!m)
        m = prov_nonempty(prov_get(e, "code"));
    return m;
}

static void openai_error_reason(const char *body, size_t n, char *out, size_t outsz)
{
    prov_error_reason(body, n, json_reason, out, outsz);
}

/* ---- stream ---- */

/* e: the error object, or the whole body of an "error" event when it has none. */
static const char *error_type(const cJSON *e)
{
    const char *t = prov_nonempty(prov_get(e, "type"));
    if (!t)
        t = prov_nonempty(prov_get(e, "code"));
    return t ? t : "upstream_error";
}

static int report_error(const prov_sink *k, const cJSON *root, const char *data, size_t n)
{
    const cJSON *e = prov_get(root, "error");
    return prov_report_error(k, error_type(cJSON_IsObject(e) ? e : root), data, n, json_reason);
}

/* Reasoning before text: a chunk holding both thought first. */
static int report_choice(const prov_sink *k, const cJSON *c)
{
    const cJSON *d = prov_get(c, "delta");
    const char *r = prov_nonempty(prov_get(d, "reasoning_content"));
    if (!r)
        r = prov_nonempty(prov_get(d, "reasoning"));
    int rc = prov_report_text(k->reasoning, k->ctx, r);
    if (rc == 0)
        rc = prov_report_text(k->text, k->ctx, prov_nonempty(prov_get(d, "content")));
    const char *fr = prov_nonempty(prov_get(c, "finish_reason"));
    if (rc == 0 && fr && k->finish)
        rc = k->finish(k->ctx, fr);
    return rc;
}

static int report_usage(const prov_sink *k, const cJSON *u)
{
    long in = prov_tokens(prov_get(u, "prompt_tokens"));
    long out = prov_tokens(prov_get(u, "completion_tokens"));
    return k->usage && in >= 0 && out >= 0 ? k->usage(k->ctx, in, out) : 0;
}

static int report_chunk(const prov_sink *k, const cJSON *root, const ssep_event *ev)
{
    const cJSON *e = prov_get(root, "error");
    if (e && !cJSON_IsNull(e))
        return report_error(k, root, ev->data, ev->data_len);
    const cJSON *choices = prov_get(root, "choices");
    int rc = report_choice(k, cJSON_IsArray(choices) ? cJSON_GetArrayItem(choices, 0) : NULL);
    return rc ? rc : report_usage(k, prov_get(root, "usage"));
}

/* Only "message" events carry chunks; some servers send an "error" event instead. */
static int handle_event(const prov_sink *k, const ssep_event *ev)
{
    int is_error = strcmp(ev->type, "error") == 0;
    if ((!is_error && strcmp(ev->type, "message") != 0) || ev->data_len == 0)
        return 0; /* an empty "data:" carries nothing to report */
    if (!is_error && strcmp(ev->data, "[DONE]") == 0)
        return k->end ? k->end(k->ctx) : 0;
    cJSON *root = prov_parse_exact(ev->data, ev->data_len);
    int rc;
    if (is_error)
        rc = report_error(k, root, ev->data, ev->data_len);
    else
        rc = cJSON_IsObject(root) ? report_chunk(k, root, ev) : PROV_ERR_PARSE;
    cJSON_Delete(root);
    return rc;
}

static int on_event(void *ctx, const ssep_event *ev)
{
    prov_stream *s = ctx;
    s->rc = handle_event(s->sink, ev);
    return s->rc;
}

static int result(const prov_stream *s, int rc)
{
    if (rc == 0 || s->rc)
        return s->rc;
    return rc == SSEP_ERR_NOMEM ? PROV_ERR_NOMEM : PROV_ERR_TOO_LONG;
}

static prov_stream *openai_open(void)
{
    prov_stream *s = calloc(1, sizeof(*s));
    if (s)
        ssep_init(&s->sse);
    return s;
}

static int openai_feed(prov_stream *s, const char *p, size_t n, const prov_sink *sink)
{
    s->sink = sink;
    return result(s, ssep_feed(&s->sse, p, n, on_event, s));
}

static int openai_finish(prov_stream *s, const prov_sink *sink)
{
    s->sink = sink;
    return result(s, ssep_finish(&s->sse, on_event, s));
}

static void openai_close(prov_stream *s)
{
    if (!s)
        return;
    ssep_free(&s->sse);
    free(s);
}

const prov prov_openai = {
    .name = "openai",
    .default_url = "https://api.openai.com/v1",
    .default_model = "gpt-4o-mini",
    .build = openai_build,
    .open = openai_open,
    .feed = openai_feed,
    .finish = openai_finish,
    .close = openai_close,
    .error_reason = openai_error_reason,
};
