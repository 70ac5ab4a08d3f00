/* prov_anthropic — see prov_anthropic.h. */
#include "prov_anthropic.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "req.h"
#include "sse_parse.h"

#define MESSAGES_PATH "/messages"
#define API_VERSION "2023-06-01"
#define MAX_TOKENS_DEFAULT 4096 /* Anthropic rejects a request without max_tokens */

struct prov_stream {
    ssep sse;
    const prov_sink *sink; /* of the feed/finish call in progress */
    int rc;                /* the event handler's non-zero value, kept apart from ssep's */
    long in_tokens;        /* from message_start; -1 until known */
};

static int is(const cJSON *s, const char *want)
{
    const char *v = cJSON_GetStringValue(s);
    return v && strcmp(v, want) == 0;
}

/* ---- build: URL and headers ---- */

static const char *const HEADERS[] = {
    "Content-Type: application/json",
    "Accept: text/event-stream",
    "anthropic-version: " API_VERSION,
    NULL,
};
static const prov_endpoint ENDPOINT = {MESSAGES_PATH, HEADERS, "x-api-key: "};

/* ---- build: body ---- */

static int is_system(const char *role)
{
    return strcmp(role, "system") == 0;
}

/* The contents of msgs[from, to) in role, joined by "\n\n"; malloc'd, or NULL. The cap is
 * exactly what the join needs. */
static char *join(const chat_req *req, size_t from, size_t to, const char *role)
{
    size_t need = 0;
    for (size_t i = from; i < to; i++)
        if (strcmp(req->msgs[i].role, role) == 0)
            need += strlen(req->msgs[i].content) + 2;
    buf b;
    buf_init(&b, need);
    int first = 1;
    for (size_t i = from; i < to && !buf_failed(&b); i++) {
        if (strcmp(req->msgs[i].role, role) != 0)
            continue;
        if (!first)
            buf_add(&b, "\n\n", 2);
        buf_addstr(&b, req->msgs[i].content);
        first = 0;
    }
    char *s = buf_failed(&b) ? NULL : buf_take(&b);
    buf_free(&b);
    return s;
}

/* One past the last message of the turn starting at i: Anthropic wants user and assistant
 * to alternate, so a run in one role (system messages aside) becomes one message. */
static size_t turn_end(const chat_req *req, size_t i)
{
    const char *role = req->msgs[i].role;
    size_t end = i + 1;
    for (size_t j = i + 1; j < req->n_msgs; j++) {
        if (is_system(req->msgs[j].role))
            continue;
        if (strcmp(req->msgs[j].role, role) != 0)
            break;
        end = j + 1;
    }
    return end;
}

/* Takes content (frees it whatever happens). */
static int add_turn(cJSON *arr, const char *role, char *content)
{
    cJSON *m = content ? cJSON_CreateObject() : NULL;
    int rc = -1;
    if (!m || !cJSON_AddItemToArray(arr, m)) {
        cJSON_Delete(m);
        goto out;
    }
    if (cJSON_AddStringToObject(m, "role", role) && cJSON_AddStringToObject(m, "content", content))
        rc = 0;
out:
    free(content);
    return rc;
}

static int add_messages(cJSON *o, const chat_req *req)
{
    cJSON *arr = cJSON_AddArrayToObject(o, "messages");
    if (!arr)
        return -1;
    for (size_t i = 0; i < req->n_msgs;) {
        const char *role = req->msgs[i].role;
        if (is_system(role)) {
            i++;
            continue;
        }
        size_t end = turn_end(req, i);
        if (add_turn(arr, role, join(req, i, end, role)) < 0)
            return -1;
        i = end;
    }
    return 0;
}

/* Anthropic has no system role inside messages: every system message goes here. */
static int add_system(cJSON *o, const chat_req *req)
{
    char *sys = join(req, 0, req->n_msgs, "system");
    if (!sys)
        return -1;
    int rc = *sys && !cJSON_AddStringToObject(o, "system", sys) ? -1 : 0;
    free(sys);
    return rc;
}

static int add_options(cJSON *o, const chat_req *req)
{
    long max = req->max_tokens > 0 ? req->max_tokens : MAX_TOKENS_DEFAULT;
    if (!cJSON_AddNumberToObject(o, "max_tokens", (double)max) ||
        !cJSON_AddTrueToObject(o, "stream"))
        return -1;
    if (req->has_temperature && !cJSON_AddNumberToObject(o, "temperature", req->temperature))
        return -1;
    return 0;
}

static char *make_body(const chat_req *req, const char *model)
{
    char *body = NULL;
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "model", model) || add_options(o, req) < 0 ||
        add_system(o, req) < 0 || add_messages(o, req) < 0)
        goto out;
    body = cJSON_PrintUnformatted(o);
out:
    cJSON_Delete(o);
    return body;
}

static int anthropic_build(const chat_req *req, const char *base_url, const char *api_key,
                           const char *model, prov_http *out,
                  char *err, size_t errsz)
{
    if (!base_url || !*base_url)
        base_url = prov_anthropic.default_url;
    return prov_build_http(out, &ENDPOINT, base_url, api_key, make_body(req, model));
}

/* ---- error reasons ---- */

/* {"type":"error","error":{"type":"...","message":"..."}}; gateways in front of the API
 * sometimes send {"error":"..."} or {"message":"..."}. */
static const char *json_reason(const cJSON *root)
{
    const cJSON *e = prov_get(root, "error");
    const char *m = prov_nonempty(e);
    if (!m)
        m = prov_nonempty(prov_get(e, "message"));
    if (!m)
        m = prov_nonempty(prov_get(e, "type"));
    if (!m)
        m = prov_nonempty(prov_get(root, "message"));
    return m;
}

static void anthropic_error_reason(const char *body, size_t n, char *out, size_t outsz)
{
    prov_error_reason(body, n, json_reason, out, outsz);
}

/* ---- stream ---- */

/* An error event; data need not be JSON (then it is the message itself). */
static int report_error(const prov_sink *k, const cJSON *root, const char *data, size_t n)
{
    const char *type = prov_nonempty(prov_get(prov_get(root, "error"), "type"));
    return prov_report_error(k, type ? type : "upstream_error", data, n, json_reason);
}

/* Anthropic's stop reasons in the names chatd reports (OpenAI's). */
static const char *finish_name(const char *stop)
{
    static const char *const map[][2] = {
        {"end_turn", "stop"},       {"stop_sequence", "stop"},
        {"max_tokens", "length"},   {"model_context_window_exceeded", "length"},
        {"tool_use", "tool_calls"}, {"refusal", "content_filter"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(stop, map[i][0]) == 0)
            return map[i][1];
    return stop;
}

static int on_message_start(prov_stream *s, const cJSON *ev)
{
    const cJSON *u = prov_get(prov_get(ev, "message"), "usage");
    s->in_tokens = prov_tokens(prov_get(u, "input_tokens"));
    return 0;
}

/* A text or thinking block may open with some text already. */
static int on_block_start(prov_stream *s, const cJSON *ev)
{
    const cJSON *b = prov_get(ev, "content_block");
    const prov_sink *k = s->sink;
    if (is(prov_get(b, "type"), "text"))
        return prov_report_text(k->text, k->ctx, prov_nonempty(prov_get(b, "text")));
    if (is(prov_get(b, "type"), "thinking"))
        return prov_report_text(k->reasoning, k->ctx, prov_nonempty(prov_get(b, "thinking")));
    return 0;
}

/* signature_delta and input_json_delta carry nothing chatd shows. */
static int on_block_delta(prov_stream *s, const cJSON *ev)
{
    const cJSON *d = prov_get(ev, "delta");
    const prov_sink *k = s->sink;
    if (is(prov_get(d, "type"), "text_delta"))
        return prov_report_text(k->text, k->ctx, prov_nonempty(prov_get(d, "text")));
    if (is(prov_get(d, "type"), "thinking_delta"))
        return prov_report_text(k->reasoning, k->ctx, prov_nonempty(prov_get(d, "thinking")));
    return 0;
}

/* The counts here are cumulative; a newer API version repeats input_tokens here too. */
static int on_message_delta(prov_stream *s, const cJSON *ev)
{
    const prov_sink *k = s->sink;
    const char *stop = prov_nonempty(prov_get(prov_get(ev, "delta"), "stop_reason"));
    int rc = stop && k->finish ? k->finish(k->ctx, finish_name(stop)) : 0;
    const cJSON *u = prov_get(ev, "usage");
    long in = prov_tokens(prov_get(u, "input_tokens"));
    long out = prov_tokens(prov_get(u, "output_tokens"));
    if (in >= 0)
        s->in_tokens = in;
    if (rc == 0 && k->usage && s->in_tokens >= 0 && out >= 0)
        rc = k->usage(k->ctx, s->in_tokens, out);
    return rc;
}

static int on_message_stop(prov_stream *s, const cJSON *ev)
{
    return s->sink->end ? s->sink->end(s->sink->ctx) : 0;
}

/* ping, content_block_stop and event types added later are ignored, as Anthropic asks. */
static const struct {
    const char *type;
    int (*fn)(prov_stream *s, const cJSON *ev);
} HANDLERS[] = {
    {"message_start", on_message_start},     {"content_block_start", on_block_start},
    {"content_block_delta", on_block_delta}, {"message_delta", on_message_delta},
    {"message_stop", on_message_stop},
};

/* The data's "type" names the event; the SSE event name stands in when it has none. */
static int report_event(prov_stream *s, const cJSON *root, const char *ev_type)
{
    const char *type = prov_nonempty(prov_get(root, "type"));
    if (!type)
        type = ev_type;
    for (size_t i = 0; i < sizeof(HANDLERS) / sizeof(HANDLERS[0]); i++)
        if (strcmp(type, HANDLERS[i].type) == 0)
            return HANDLERS[i].fn(s, root);
    return 0;
}

static int handle_event(prov_stream *s, const ssep_event *ev)
{
    if (ev->data_len == 0)
        return 0; /* an empty "data:" carries nothing to report */
    cJSON *root = prov_parse_exact(ev->data, ev->data_len);
    int rc;
    if (strcmp(ev->type, "error") == 0 || is(prov_get(root, "type"), "error"))
        rc = report_error(s->sink, root, ev->data, ev->data_len);
    else
        rc = cJSON_IsObject(root) ? report_event(s, root, ev->type) : PROV_ERR_PARSE;
    cJSON_Delete(root);
    return rc;
}

static int on_event(void *ctx, const ssep_event *ev)
{
    prov_stream *s = ctx;
    s->rc = handle_event(s, ev);
    return s->rc;
}

static int result(const prov_stream *s, int rc)
{
    if (rc == 0 || s->rc)
        return s->rc;
    return rc == SSEP_ERR_NOMEM ? PROV_ERR_NOMEM : PROV_ERR_TOO_LONG;
}

static prov_stream *anthropic_open(void)
{
    prov_stream *s = calloc(1, sizeof(*s));
    if (s) {
        ssep_init(&s->sse);
        s->in_tokens = -1;
    }
    return s;
}

static int anthropic_feed(prov_stream *s, const char *p, size_t n, const prov_sink *sink)
{
    s->sink = sink;
    return result(s, ssep_feed(&s->sse, p, n, on_event, s));
}

static int anthropic_finish(prov_stream *s, const prov_sink *sink)
{
    s->sink = sink;
    return result(s, ssep_finish(&s->sse, on_event, s));
}

static void anthropic_close(prov_stream *s)
{
    if (!s)
        return;
    ssep_free(&s->sse);
    free(s);
}

const prov prov_anthropic = {
    .name = "anthropic",
    .default_url = "https://api.anthropic.com/v1",
    .default_model = "claude-sonnet-4-5",
    .build = anthropic_build,
    .open = anthropic_open,
    .feed = anthropic_feed,
    .finish = anthropic_finish,
    .close = anthropic_close,
    .error_reason = anthropic_error_reason,
};
