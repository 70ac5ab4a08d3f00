/* prov_ollama — see prov_ollama.h. */
#include "prov_ollama.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "ndjson.h"
#include "req.h"

#define CHAT_PATH "/api/chat"

struct prov_stream {
    ndjson nd;
    const prov_sink *sink; /* of the feed/finish call in progress */
    int rc;                /* the line handler's non-zero value, kept apart from ndjson's */
};

/* ---- build ---- */

/* Ollama itself wants no key; a proxy in front of it may. */
static const char *const HEADERS[] = {"Content-Type: application/json", NULL};
static const prov_endpoint ENDPOINT = {CHAT_PATH, HEADERS, "Authorization: Bearer "};

/* Sampling settings live in "options", which is left out when nothing is set. */
static int add_options(cJSON *o, const chat_req *req)
{
    if (!cJSON_AddTrueToObject(o, "stream"))
        return -1;
    if (!req->has_temperature && req->max_tokens <= 0)
        return 0;
    cJSON *opt = cJSON_AddObjectToObject(o, "options");
    if (!opt)
        return -1;
    if (req->has_temperature && !cJSON_AddNumberToObject(opt, "temperature", req->temperature))
        return -1;
    if (req->max_tokens > 0 &&
        !cJSON_AddNumberToObject(opt, "num_predict", (double)req->max_tokens))
        return -1;
    return 0;
}

static int ollama_build(const chat_req *req, const char *base_url, const char *api_key,
                        const char *model, prov_http *out,
                  char *err, size_t errsz)
{
    if (!base_url || !*base_url)
        base_url = prov_ollama.default_url;
    return prov_build_http(out, &ENDPOINT, base_url, api_key,
                           prov_chat_body(req, model, add_options));
}

/* ---- error reasons ---- */

/* Ollama sends {"error":"..."}; a proxy in front of it may send an OpenAI-style object. */
static const char *json_reason(const cJSON *root)
{
    const cJSON *e = prov_get(root, "error");
    const char *m = prov_nonempty(e);
    return m ? m : prov_nonempty(prov_get(e, "message"));
}

static void ollama_error_reason(const char *body, size_t n, char *out, size_t outsz)
{
    prov_error_reason(body, n, json_reason, out, outsz);
}

/* ---- stream ---- */

static int report_error(const prov_sink *k, const char *line, size_t n)
{
    return prov_report_error(k, "upstream_error", line, n, json_reason);
}

/* done_reason already uses chatd's names (stop, length); others (load, unload) pass as they
 * are. Ollama leaves prompt_eval_count out when the whole prompt came from its cache:
 * then no prompt token was evaluated. */
static int report_done(const prov_sink *k, const cJSON *root)
{
    const char *reason = prov_nonempty(prov_get(root, "done_reason"));
    int rc = reason && k->finish ? k->finish(k->ctx, reason) : 0;
    long in = prov_tokens(prov_get(root, "prompt_eval_count"));
    long out = prov_tokens(prov_get(root, "eval_count"));
    if (rc == 0 && k->usage && out >= 0)
        rc = k->usage(k->ctx, in >= 0 ? in : 0, out);
    if (rc == 0 && k->end)
        rc = k->end(k->ctx);
    return rc;
}

/* Thinking before content: a line holding both thought first. */
static int report_line(const prov_sink *k, const cJSON *root, const char *line, size_t n)
{
    const cJSON *e = prov_get(root, "error");
    if (e && !cJSON_IsNull(e))
        return report_error(k, line, n);
    const cJSON *m = prov_get(root, "message");
    int rc = prov_report_text(k->reasoning, k->ctx, prov_nonempty(prov_get(m, "thinking")));
    if (rc == 0)
        rc = prov_report_text(k->text, k->ctx, prov_nonempty(prov_get(m, "content")));
    if (rc == 0 && cJSON_IsTrue(prov_get(root, "done")))
        rc = report_done(k, root);
    return rc;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int on_line(void *ctx, const char *line, size_t n)
{
    prov_stream *s = ctx;
    size_t i = 0;
    while (i < n && is_space(line[i]))
        i++;
    if (i == n)
        return 0; /* a line of white space only is as blank as an empty one */
    cJSON *root = prov_parse_exact(line, n);
    s->rc = cJSON_IsObject(root) ? report_line(s->sink, root, line, n) : PROV_ERR_PARSE;
    cJSON_Delete(root);
    return s->rc;
}

static int result(const prov_stream *s, int rc)
{
    if (rc == 0 || s->rc)
        return s->rc;
    return rc == NDJSON_ERR_NOMEM ? PROV_ERR_NOMEM : PROV_ERR_TOO_LONG;
}

static prov_stream *ollama_open(void)
{
    prov_stream *s = calloc(1, sizeof(*s));
    if (s)
        ndjson_init(&s->nd);
    return s;
}

static int ollama_feed(prov_stream *s, const char *p, size_t n, const prov_sink *sink)
{
    s->sink = sink;
    return result(s, ndjson_feed(&s->nd, p, n, on_line, s));
}

static int ollama_finish(prov_stream *s, const prov_sink *sink)
{
    s->sink = sink;
    return result(s, ndjson_finish(&s->nd, on_line, s));
}

static void ollama_close(prov_stream *s)
{
    if (!s)
        return;
    ndjson_free(&s->nd);
    free(s);
}

const prov prov_ollama = {
    .name = "ollama",
    .default_url = "http://127.0.0.1:11434",
    .default_model = "llama3.2",
    .build = ollama_build,
    .open = ollama_open,
    .feed = ollama_feed,
    .finish = ollama_finish,
    .close = ollama_close,
    .error_reason = ollama_error_reason,
};
