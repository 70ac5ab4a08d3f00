/* prov_ollama — see prov_ollama.h. */
#include "prov_ollama.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ndjson.h"
#include "req.h"

#define CHAT_PATH "/api/chat"
#define AUTH_MAX 8192      /* longest Authorization header line accepted */
#define STREAM_MSG_MAX 512 /* an error message reported mid-stream, bytes with the NUL */

struct prov_stream {
    ndjson nd;
    const prov_sink *sink; /* of the feed/finish call in progress */
    int rc;                /* the line handler's non-zero value, kept apart from ndjson's */
};

/* ---- small JSON helpers ---- */

static const cJSON *get(const cJSON *o, const char *key)
{
    return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

static const char *nonempty(const cJSON *s)
{
    const char *v = cJSON_GetStringValue(s);
    return v && *v ? v : NULL;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The whole text must be one JSON value: cJSON alone accepts trailing bytes. */
static cJSON *parse_exact(const char *s, size_t n)
{
    const char *end = NULL;
    cJSON *j = n ? cJSON_ParseWithLengthOpts(s, n, &end, 0) : NULL;
    if (!j)
        return NULL;
    while (end < s + n && is_space(*end))
        end++;
    if (end == s + n)
        return j;
    cJSON_Delete(j);
    return NULL;
}

/* ---- build ---- */

static char *make_url(const char *base)
{
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    char *url = malloc(n + sizeof(CHAT_PATH));
    if (url) {
        memcpy(url, base, n);
        memcpy(url + n, CHAT_PATH, sizeof(CHAT_PATH));
    }
    return url;
}

static int append(struct curl_slist **list, const char *line)
{
    struct curl_slist *l = curl_slist_append(*list, line);
    if (!l)
        return -1;
    *list = l;
    return 0;
}

/* A CR or LF in the key would let it write headers of its own. */
static int has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

/* Ollama itself wants no key; a proxy in front of it may. */
static int add_headers(struct curl_slist **list, const char *api_key)
{
    if (append(list, "Content-Type: application/json") < 0)
        return -1;
    if (!api_key || !*api_key)
        return 0;
    if (has_ctl(api_key))
        return -1;
    buf b;
    buf_init(&b, AUTH_MAX);
    int rc = -1;
    if (buf_addstr(&b, "Authorization: Bearer ") == 0 && buf_addstr(&b, api_key) == 0) {
        char *line = buf_take(&b);
        rc = line ? append(list, line) : -1;
        free(line);
    }
    buf_free(&b);
    return rc;
}

static int add_messages(cJSON *o, const chat_req *req)
{
    cJSON *arr = cJSON_AddArrayToObject(o, "messages");
    if (!arr)
        return -1;
    for (size_t i = 0; i < req->n_msgs; i++) {
        cJSON *m = cJSON_CreateObject();
        if (!m || !cJSON_AddItemToArray(arr, m)) {
            cJSON_Delete(m);
            return -1;
        }
        if (!cJSON_AddStringToObject(m, "role", req->msgs[i].role) ||
            !cJSON_AddStringToObject(m, "content", req->msgs[i].content))
            return -1;
    }
    return 0;
}

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

static char *make_body(const chat_req *req, const char *model)
{
    char *body = NULL;
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "model", model) || add_messages(o, req) < 0 ||
        add_options(o, req) < 0)
        goto out;
    body = cJSON_PrintUnformatted(o);
out:
    cJSON_Delete(o);
    return body;
}

static int ollama_build(const chat_req *req, const char *base_url, const char *api_key,
                        const char *model, prov_http *out)
{
    memset(out, 0, sizeof(*out));
    if (!base_url || !*base_url)
        base_url = prov_ollama.default_url;
    out->url = make_url(base_url);
    out->body = make_body(req, model);
    if (out->url && out->body && add_headers(&out->headers, api_key) == 0)
        return 0;
    prov_http_free(out);
    return -1;
}

/* ---- error reasons ---- */

static int is_cont(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

/* Drops a code point cut at the end of out[0..o) when the next source byte continues it. */
static size_t utf8_cut(const char *out, size_t o, unsigned char next)
{
    if (!is_cont(next))
        return o;
    while (o > 0 && is_cont((unsigned char)out[o - 1]))
        o--;
    if (o > 0 && (unsigned char)out[o - 1] >= 0xC0)
        o--;
    return o;
}

/* One line: each run of spaces and control bytes becomes one space, ends trimmed, cut to
 * outsz-1 bytes without splitting a UTF-8 sequence. */
static void one_line(const char *s, size_t n, char *out, size_t outsz)
{
    size_t o = 0, i = 0;
    int gap = 0;
    for (; i < n && o + 1 < outsz; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c == 0x7f) {
            gap = o > 0;
            continue;
        }
        if (gap && o + 2 >= outsz)
            break;
        if (gap)
            out[o++] = ' ';
        gap = 0;
        out[o++] = (char)c;
    }
    if (i < n)
        o = utf8_cut(out, o, (unsigned char)s[i]);
    while (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
}

/* Ollama sends {"error":"..."}; a proxy in front of it may send an OpenAI-style object. */
static const char *json_reason(const cJSON *root)
{
    const cJSON *e = get(root, "error");
    const char *m = nonempty(e);
    return m ? m : nonempty(get(e, "message"));
}

static void ollama_error_reason(const char *body, size_t n, char *out, size_t outsz)
{
    if (outsz == 0)
        return;
    cJSON *root = parse_exact(body, n);
    const char *m = json_reason(root);
    if (m)
        one_line(m, strlen(m), out, outsz);
    else
        one_line(body ? body : "", body ? n : 0, out, outsz);
    cJSON_Delete(root);
}

/* ---- stream ---- */

static int report_text(int (*fn)(void *, const char *, size_t), void *ctx, const char *s)
{
    return fn && s ? fn(ctx, s, strlen(s)) : 0;
}

static int report_error(const prov_sink *k, const char *line, size_t n)
{
    if (!k->error)
        return 0;
    char msg[STREAM_MSG_MAX];
    ollama_error_reason(line, n, msg, sizeof(msg));
    return k->error(k->ctx, "upstream_error", msg[0] ? msg : "upstream error");
}

/* A token count, or -1 when absent or not a sane count. */
static long tokens(const cJSON *n)
{
    if (!cJSON_IsNumber(n) || n->valuedouble < 0 || n->valuedouble > 1e15)
        return -1;
    return (long)n->valuedouble;
}

/* done_reason already uses chatd's names (stop, length); others (load, unload) pass as they
 * are. Ollama leaves prompt_eval_count out when the whole prompt came from its cache:
 * then no prompt token was evaluated. */
static int report_done(const prov_sink *k, const cJSON *root)
{
    const char *reason = nonempty(get(root, "done_reason"));
    int rc = reason && k->finish ? k->finish(k->ctx, reason) : 0;
    long in = tokens(get(root, "prompt_eval_count")), out = tokens(get(root, "eval_count"));
    if (rc == 0 && k->usage && out >= 0)
        rc = k->usage(k->ctx, in >= 0 ? in : 0, out);
    if (rc == 0 && k->end)
        rc = k->end(k->ctx);
    return rc;
}

/* Thinking before content: a line holding both thought first. */
static int report_line(const prov_sink *k, const cJSON *root, const char *line, size_t n)
{
    const cJSON *e = get(root, "error");
    if (e && !cJSON_IsNull(e))
        return report_error(k, line, n);
    const cJSON *m = get(root, "message");
    int rc = report_text(k->reasoning, k->ctx, nonempty(get(m, "thinking")));
    if (rc == 0)
        rc = report_text(k->text, k->ctx, nonempty(get(m, "content")));
    if (rc == 0 && cJSON_IsTrue(get(root, "done")))
        rc = report_done(k, root);
    return rc;
}

static int on_line(void *ctx, const char *line, size_t n)
{
    prov_stream *s = ctx;
    size_t i = 0;
    while (i < n && is_space(line[i]))
        i++;
    if (i == n)
        return 0; /* a line of white space only is as blank as an empty one */
    cJSON *root = parse_exact(line, n);
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
