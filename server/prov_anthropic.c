/* prov_anthropic — see prov_anthropic.h. */
#include "prov_anthropic.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "lim.h"
#include "req.h"
#include "sse_parse.h"
#include "xlat_anthropic.h"

#define MESSAGES_PATH "/messages"
#define API_VERSION "2023-06-01"

struct prov_stream {
    ssep sse;
    const prov_sink *sink; /* of the feed/finish call in progress */
    int rc;                /* the event handler's non-zero value, kept apart from ssep's */
    long in_tokens;        /* from message_start; -1 until known */
    /* Tool calls: Anthropic numbers content blocks (text and thinking too) and streams them
     * one after the other; chatd numbers the tool_use blocks alone, from 0. */
    int n_tools;     /* tool_use blocks started: the next one's tool index */
    int tool_open;   /* a tool_use block is open (index n_tools - 1) */
    long tool_block; /* its content block index; -1: its start had none */
    int tool_args;   /* it has had an argument fragment */
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

static int anthropic_build(const chat_req *req, const char *base_url, const char *api_key,
                           const char *model, prov_http *out, char *err, size_t errsz)
{
    memset(out, 0, sizeof(*out));
    cJSON *o = NULL;
    int rc = xlat_anthropic(req->root, model, &o, err, errsz);
    if (rc < 0)
        return rc;
    char *body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!base_url || !*base_url)
        base_url = prov_anthropic.default_url;
    return prov_build_http(out, &ENDPOINT, base_url, api_key, body);
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

/* The content block index an event names, or -1. */
static long block_index(const cJSON *ev)
{
    const cJSON *i = prov_get(ev, "index");
    return cJSON_IsNumber(i) && i->valuedouble >= 0 && i->valuedouble < 1e9 ? (long)i->valuedouble
                                                                            : -1;
}

/* Whether ev is for the open tool_use block (an event without an index is for the open
 * block, whatever it is). */
static int for_open_tool(const prov_stream *s, const cJSON *ev)
{
    long i = block_index(ev);
    return s->tool_open && (i < 0 || s->tool_block < 0 || i == s->tool_block);
}

/* The open tool_use block ends. A call without arguments streams no input_json_delta at
 * all; OpenAI's clients get "{}" for one, and so do chatd's. */
static int close_tool(prov_stream *s)
{
    const prov_sink *k = s->sink;
    if (!s->tool_open)
        return 0;
    s->tool_open = 0;
    return !s->tool_args && k->tool_args ? k->tool_args(k->ctx, s->n_tools - 1, "{}", 2) : 0;
}

/* A fragment of the open call's arguments; "" (Anthropic sends one first) says nothing. */
static int tool_fragment(prov_stream *s, const char *p, size_t n)
{
    const prov_sink *k = s->sink;
    if (n == 0)
        return 0;
    s->tool_args = 1;
    return k->tool_args ? k->tool_args(k->ctx, s->n_tools - 1, p, n) : 0;
}

/* content_block_start {type: tool_use, id, name, input: {}}: a call starts. Its input is {}
 * with the arguments streamed after; an input already filled in is its arguments whole.
 * More than LIM_TOOLS calls is an answer chatd cannot relay. */
static int start_tool(prov_stream *s, const cJSON *ev, const cJSON *b)
{
    const prov_sink *k = s->sink;
    int rc = close_tool(s);
    if (rc)
        return rc;
    if (s->n_tools >= LIM_TOOLS)
        return PROV_ERR_TOO_LONG;
    int index = s->n_tools++;
    s->tool_open = 1;
    s->tool_block = block_index(ev);
    s->tool_args = 0;
    const char *id = cJSON_GetStringValue(prov_get(b, "id"));
    const char *name = cJSON_GetStringValue(prov_get(b, "name"));
    rc = k->tool ? k->tool(k->ctx, index, id ? id : "", name ? name : "") : 0;
    const cJSON *input = prov_get(b, "input");
    if (rc || !cJSON_IsObject(input) || !input->child)
        return rc;
    char *whole = cJSON_PrintUnformatted(input);
    rc = whole ? tool_fragment(s, whole, strlen(whole)) : PROV_ERR_NOMEM;
    free(whole);
    return rc;
}

/* A text or thinking block may open with some text already. redacted_thinking carries
 * nothing readable; server_tool_use blocks are the API's own tools, not the client's. */
static int on_block_start(prov_stream *s, const cJSON *ev)
{
    const cJSON *b = prov_get(ev, "content_block");
    const prov_sink *k = s->sink;
    if (is(prov_get(b, "type"), "tool_use"))
        return start_tool(s, ev, b);
    if (is(prov_get(b, "type"), "text"))
        return prov_report_text(k->text, k->ctx, prov_nonempty(prov_get(b, "text")));
    if (is(prov_get(b, "type"), "thinking"))
        return prov_report_text(k->reasoning, k->ctx, prov_nonempty(prov_get(b, "thinking")));
    return 0;
}

/* signature_delta carries nothing chatd shows (thinking is not sent back: see
 * xlat_anthropic.c); an input_json_delta outside the open tool_use block has no call. */
static int on_block_delta(prov_stream *s, const cJSON *ev)
{
    const cJSON *d = prov_get(ev, "delta");
    const prov_sink *k = s->sink;
    if (is(prov_get(d, "type"), "text_delta"))
        return prov_report_text(k->text, k->ctx, prov_nonempty(prov_get(d, "text")));
    if (is(prov_get(d, "type"), "thinking_delta"))
        return prov_report_text(k->reasoning, k->ctx, prov_nonempty(prov_get(d, "thinking")));
    if (is(prov_get(d, "type"), "input_json_delta") && for_open_tool(s, ev)) {
        const char *p = cJSON_GetStringValue(prov_get(d, "partial_json"));
        return p ? tool_fragment(s, p, strlen(p)) : 0;
    }
    return 0;
}

static int on_block_stop(prov_stream *s, const cJSON *ev)
{
    return for_open_tool(s, ev) ? close_tool(s) : 0;
}

/* The counts here are cumulative; a newer API version repeats input_tokens here too. */
static int on_message_delta(prov_stream *s, const cJSON *ev)
{
    const prov_sink *k = s->sink;
    const char *stop = prov_nonempty(prov_get(prov_get(ev, "delta"), "stop_reason"));
    int rc = close_tool(s); /* a block the upstream never stopped */
    if (rc == 0 && stop && k->finish)
        rc = k->finish(k->ctx, finish_name(stop));
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
    int rc = close_tool(s);
    return rc == 0 && s->sink->end ? s->sink->end(s->sink->ctx) : rc;
}

/* ping and event types added later are ignored, as Anthropic asks. */
static const struct {
    const char *type;
    int (*fn)(prov_stream *s, const cJSON *ev);
} HANDLERS[] = {
    {"message_start", on_message_start},     {"content_block_start", on_block_start},
    {"content_block_delta", on_block_delta}, {"content_block_stop", on_block_stop},
    {"message_delta", on_message_delta},     {"message_stop", on_message_stop},
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
