/* prov_openai — see prov_openai.h. */
#include "prov_openai.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "req.h"
#include "ssep.h"

#define CHAT_PATH "/chat/completions"
#define AUTH_MAX 8192      /* longest Authorization header line accepted */
#define STREAM_MSG_MAX 512 /* an error message reported mid-stream, bytes with the NUL */

struct prov_stream {
    ssep sse;
    const prov_sink *sink; /* of the feed/finish call in progress */
    int rc;                /* the event handler's non-zero value, kept apart from ssep's */
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

/* The whole text must be one JSON value: cJSON alone accepts trailing bytes. */
static cJSON *parse_exact(const char *s, size_t n)
{
    const char *end = NULL;
    cJSON *j = n ? cJSON_ParseWithLengthOpts(s, n, &end, 0) : NULL;
    if (!j)
        return NULL;
    while (end < s + n && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
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

static int add_headers(struct curl_slist **list, const char *api_key)
{
    if (append(list, "Content-Type: application/json") < 0 ||
        append(list, "Accept: text/event-stream") < 0)
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

static int openai_build(const chat_req *req, const char *base_url, const char *api_key,
                        const char *model, prov_http *out)
{
    memset(out, 0, sizeof(*out));
    if (!base_url || !*base_url)
        base_url = prov_openai.default_url;
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

/* FastAPI-style servers: "detail" is a string or a list of {"msg": ...}. */
static const char *detail_reason(const cJSON *d)
{
    if (cJSON_IsString(d))
        return nonempty(d);
    if (cJSON_IsArray(d))
        d = cJSON_GetArrayItem(d, 0);
    const char *m = nonempty(get(d, "msg"));
    return m ? m : nonempty(get(d, "message"));
}

static const char *json_reason(const cJSON *root)
{
    const cJSON *e = get(root, "error");
    const char *m = cJSON_IsString(e) ? nonempty(e) : nonempty(get(e, "message"));
    if (!m)
        m = nonempty(get(root, "message"));
    if (!m)
        m = detail_reason(get(root, "detail"));
    if (!m)
        m = nonempty(get(e, "type"));
    if (!m)
        m = nonempty(get(e, "code"));
    return m;
}

static void openai_error_reason(const char *body, size_t n, char *out, size_t outsz)
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

/* e: the error object, or the whole body of an "error" event when it has none. */
static const char *error_type(const cJSON *e)
{
    const char *t = nonempty(get(e, "type"));
    if (!t)
        t = nonempty(get(e, "code"));
    return t ? t : "upstream_error";
}

static int report_error(const prov_sink *k, const cJSON *root, const char *data, size_t n)
{
    if (!k->error)
        return 0;
    const cJSON *e = get(root, "error");
    char msg[STREAM_MSG_MAX];
    openai_error_reason(data, n, msg, sizeof(msg));
    return k->error(k->ctx, error_type(cJSON_IsObject(e) ? e : root),
                    msg[0] ? msg : "upstream error");
}

static int report_text(int (*fn)(void *, const char *, size_t), void *ctx, const char *s)
{
    return fn && s ? fn(ctx, s, strlen(s)) : 0;
}

/* Reasoning before text: a chunk holding both thought first. */
static int report_choice(const prov_sink *k, const cJSON *c)
{
    const cJSON *d = get(c, "delta");
    const char *r = nonempty(get(d, "reasoning_content"));
    if (!r)
        r = nonempty(get(d, "reasoning"));
    int rc = report_text(k->reasoning, k->ctx, r);
    if (rc == 0)
        rc = report_text(k->text, k->ctx, nonempty(get(d, "content")));
    const char *fr = nonempty(get(c, "finish_reason"));
    if (rc == 0 && fr && k->finish)
        rc = k->finish(k->ctx, fr);
    return rc;
}

/* A token count, or -1 when absent or not a sane count. */
static long tokens(const cJSON *n)
{
    if (!cJSON_IsNumber(n) || n->valuedouble < 0 || n->valuedouble > 1e15)
        return -1;
    return (long)n->valuedouble;
}

static int report_usage(const prov_sink *k, const cJSON *u)
{
    long in = tokens(get(u, "prompt_tokens")), out = tokens(get(u, "completion_tokens"));
    return k->usage && in >= 0 && out >= 0 ? k->usage(k->ctx, in, out) : 0;
}

static int report_chunk(const prov_sink *k, const cJSON *root, const ssep_event *ev)
{
    const cJSON *e = get(root, "error");
    if (e && !cJSON_IsNull(e))
        return report_error(k, root, ev->data, ev->data_len);
    const cJSON *choices = get(root, "choices");
    int rc = report_choice(k, cJSON_IsArray(choices) ? cJSON_GetArrayItem(choices, 0) : NULL);
    return rc ? rc : report_usage(k, get(root, "usage"));
}

/* Only "message" events carry chunks; some servers send an "error" event instead. */
static int handle_event(const prov_sink *k, const ssep_event *ev)
{
    int is_error = strcmp(ev->type, "error") == 0;
    if ((!is_error && strcmp(ev->type, "message") != 0) || ev->data_len == 0)
        return 0; /* an empty "data:" carries nothing to report */
    if (!is_error && strcmp(ev->data, "[DONE]") == 0)
        return k->end ? k->end(k->ctx) : 0;
    cJSON *root = parse_exact(ev->data, ev->data_len);
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
