/* prov_ollama — see prov_ollama.h. */
#include "prov_ollama.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lim.h"
#include "ndjson.h"
#include "req.h"
#include "xlat_ollama.h"

#define CHAT_PATH "/api/chat"
#define CALLS_MAX LIM_TOOLS /* tool calls in one answer; more is an answer chatd cannot relay */
#define CALL_ID_MAX 48      /* an id chatd makes: "call_<index>" and a suffix */

struct prov_stream {
    ndjson nd;
    const prov_sink *sink;   /* of the feed/finish call in progress */
    int rc;                  /* the line handler's non-zero value, kept apart from ndjson's */
    int calls;               /* tool calls reported so far */
    uint64_t ids[CALLS_MAX]; /* hashes of their ids, to keep each id unique */
};

/* ---- build ---- */

/* Ollama itself wants no key; a proxy in front of it may. */
static const char *const HEADERS[] = {"Content-Type: application/json", NULL};
static const prov_endpoint ENDPOINT = {CHAT_PATH, HEADERS, "Authorization: Bearer "};

static int ollama_build(const chat_req *req, const char *base_url, const char *api_key,
                        const char *model, prov_http *out, char *err, size_t errsz)
{
    memset(out, 0, sizeof(*out));
    if (!base_url || !*base_url)
        base_url = prov_ollama.default_url;
    char *body = NULL;
    int rc = xlat_ollama_body(req->root, model, &body, err, errsz);
    return rc < 0 ? rc : prov_build_http(out, &ENDPOINT, base_url, api_key, body);
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

/* ---- tool calls ---- */

static uint64_t id_hash(const char *s)
{
    uint64_t h = 14695981039346656037u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

static int id_used(const prov_stream *s, uint64_t h)
{
    for (int i = 0; i < s->calls; i++)
        if (s->ids[i] == h)
            return 1;
    return 0;
}

/* The id of the next call: the upstream's when it sent one not used yet in this answer,
 * else "call_<index>" (with "_<n>" added while that is taken). A hash shared by two ids
 * only makes one of them renamed: ids stay unique. */
static const char *call_id(prov_stream *s, const char *sent, char *mine, size_t minesz)
{
    const char *id = sent;
    if (!id || id_used(s, id_hash(id))) {
        snprintf(mine, minesz, "call_%d", s->calls);
        for (unsigned n = 1; id_used(s, id_hash(mine)); n++)
            snprintf(mine, minesz, "call_%d_%u", s->calls, n);
        id = mine;
    }
    s->ids[s->calls] = id_hash(id);
    return id;
}

/* A call's arguments as JSON text (malloc'd; NULL: no memory): Ollama sends an object,
 * printed compact; a string is taken as the JSON text it holds; none or "": {}. */
static char *args_text(const cJSON *a)
{
    if (!a || cJSON_IsNull(a) || (cJSON_IsString(a) && !*a->valuestring))
        return strdup("{}");
    if (cJSON_IsString(a))
        return strdup(a->valuestring);
    return cJSON_PrintUnformatted(a);
}

/* One whole call: its start, then its arguments as one fragment. An entry without a
 * function name is no call and is skipped. */
static int report_call(prov_stream *s, const cJSON *c)
{
    const prov_sink *k = s->sink;
    const cJSON *f = prov_get(c, "function");
    const char *name = prov_nonempty(prov_get(f, "name"));
    if (!name)
        return 0;
    if (s->calls >= CALLS_MAX)
        return PROV_ERR_TOO_LONG;
    char mine[CALL_ID_MAX];
    const char *id = call_id(s, prov_nonempty(prov_get(c, "id")), mine, sizeof(mine));
    char *args = args_text(prov_get(f, "arguments"));
    if (!args)
        return PROV_ERR_NOMEM;
    int index = s->calls++;
    int rc = k->tool ? k->tool(k->ctx, index, id, name) : 0;
    if (rc == 0 && k->tool_args)
        rc = k->tool_args(k->ctx, index, args, strlen(args));
    free(args);
    return rc;
}

static int report_calls(prov_stream *s, const cJSON *calls)
{
    int rc = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, calls)
    {
        if ((rc = report_call(s, c)) != 0)
            break;
    }
    return rc;
}

/* ---- stream lines ---- */

/* done_reason already uses chatd's names (stop, length); others (load, unload) pass as they
 * are, but an answer that called tools ends with "tool_calls" where Ollama says "stop" or
 * nothing (OpenAI's clients look for it). Ollama leaves prompt_eval_count out when the
 * whole prompt came from its cache: then no prompt token was evaluated. */
static int report_done(const prov_stream *s, const cJSON *root)
{
    const prov_sink *k = s->sink;
    const char *reason = prov_nonempty(prov_get(root, "done_reason"));
    if (s->calls > 0 && (!reason || !strcmp(reason, "stop")))
        reason = "tool_calls";
    int rc = reason && k->finish ? k->finish(k->ctx, reason) : 0;
    long in = prov_tokens(prov_get(root, "prompt_eval_count"));
    long out = prov_tokens(prov_get(root, "eval_count"));
    if (rc == 0 && k->usage && out >= 0)
        rc = k->usage(k->ctx, in >= 0 ? in : 0, out);
    if (rc == 0 && k->end)
        rc = k->end(k->ctx);
    return rc;
}

/* A line holding several parts reports them in the order they were made: thinking, text,
 * then the tool calls. */
static int report_line(prov_stream *s, const cJSON *root, const char *line, size_t n)
{
    const prov_sink *k = s->sink;
    const cJSON *e = prov_get(root, "error");
    if (e && !cJSON_IsNull(e))
        return report_error(k, line, n);
    const cJSON *m = prov_get(root, "message");
    int rc = prov_report_text(k->reasoning, k->ctx, prov_nonempty(prov_get(m, "thinking")));
    if (rc == 0)
        rc = prov_report_text(k->text, k->ctx, prov_nonempty(prov_get(m, "content")));
    if (rc == 0)
        rc = report_calls(s, prov_get(m, "tool_calls"));
    if (rc == 0 && cJSON_IsTrue(prov_get(root, "done")))
        rc = report_done(s, root);
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
    s->rc = cJSON_IsObject(root) ? report_line(s, root, line, n) : PROV_ERR_PARSE;
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
