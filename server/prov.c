/* prov — see prov.h. What every provider module shares. */
#include "prov.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "req.h"

#define KEY_LINE_MAX 8192  /* longest api key header line accepted */
#define STREAM_MSG_MAX 512 /* an error message reported mid-stream, bytes with the NUL */

/* url and body come from malloc (cJSON prints with malloc: chatd installs no cJSON hooks). */
void prov_http_free(prov_http *h)
{
    if (!h)
        return;
    free(h->url);
    curl_slist_free_all(h->headers);
    free(h->body);
    h->url = NULL;
    h->headers = NULL;
    h->body = NULL;
}

/* ---- build ---- */

static char *make_url(const char *base, const char *path)
{
    size_t n = strlen(base), pn = strlen(path) + 1;
    while (n > 0 && base[n - 1] == '/')
        n--;
    char *url = malloc(n + pn);
    if (url) {
        memcpy(url, base, n);
        memcpy(url + n, path, pn);
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

static int has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

static int add_key(struct curl_slist **list, const char *prefix, const char *api_key)
{
    if (!api_key || !*api_key)
        return 0;
    if (has_ctl(api_key))
        return -1;
    buf b;
    buf_init(&b, KEY_LINE_MAX);
    int rc = -1;
    if (buf_addstr(&b, prefix) == 0 && buf_addstr(&b, api_key) == 0) {
        char *line = buf_take(&b);
        rc = line ? append(list, line) : -1;
        free(line);
    }
    buf_free(&b);
    return rc;
}

static int add_headers(struct curl_slist **list, const prov_endpoint *e, const char *api_key)
{
    for (const char *const *h = e->headers; *h; h++)
        if (append(list, *h) < 0)
            return -1;
    return add_key(list, e->key_header, api_key);
}

int prov_build_http(prov_http *out, const prov_endpoint *e, const char *base_url,
                    const char *api_key, char *body)
{
    memset(out, 0, sizeof(*out));
    out->body = body;
    out->url = make_url(base_url, e->path);
    if (out->url && out->body && add_headers(&out->headers, e, api_key) == 0)
        return 0;
    prov_http_free(out);
    return -1;
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
        const char *text = req->msgs[i].content; /* NULL: not text alone */
        if (!cJSON_AddStringToObject(m, "role", req->msgs[i].role) ||
            !(text ? cJSON_AddStringToObject(m, "content", text)
                   : cJSON_AddNullToObject(m, "content")))
            return -1;
    }
    return 0;
}

char *prov_chat_body(const chat_req *req, const char *model,
                     int (*add_options)(cJSON *o, const chat_req *req))
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

/* ---- JSON ---- */

const cJSON *prov_get(const cJSON *o, const char *key)
{
    return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

const char *prov_nonempty(const cJSON *s)
{
    const char *v = cJSON_GetStringValue(s);
    return v && *v ? v : NULL;
}

long prov_tokens(const cJSON *n)
{
    if (!cJSON_IsNumber(n) || n->valuedouble < 0 || n->valuedouble > 1e15)
        return -1;
    return (long)n->valuedouble;
}

cJSON *prov_parse_exact(const char *s, size_t n)
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

int prov_report_text(int (*fn)(void *ctx, const char *p, size_t n), void *ctx, const char *s)
{
    return fn && s ? fn(ctx, s, strlen(s)) : 0;
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

void prov_field_name(char *out, size_t n, const char *name)
{
    if (n == 0)
        return;
    size_t o = 0;
    for (; name[o] && o + 1 < n; o++) {
        unsigned char c = (unsigned char)name[o];
        out[o] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    /* the name, or a path holding it, may already end in a cut sequence */
    size_t lead = o;
    while (lead > 0 && o - lead < 4 && is_cont((unsigned char)out[lead - 1]))
        lead--;
    if (lead > 0 && (unsigned char)out[lead - 1] >= 0xC0) {
        unsigned char c = (unsigned char)out[lead - 1];
        size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
        if (o - (lead - 1) < need)
            o = lead - 1;
    }
    out[o] = '\0';
}

void prov_vreason(char *out, size_t n, const char *fmt, va_list ap)
{
    char raw[512];
    vsnprintf(raw, sizeof(raw), fmt, ap);
    prov_field_name(out, n, raw);
}

int prov_put(cJSON *o, const char *key, cJSON *v)
{
    if (v && cJSON_AddItemToObject(o, key, v))
        return 0;
    cJSON_Delete(v);
    return PROV_BUILD_NOMEM;
}

int prov_push(cJSON *arr, cJSON *v)
{
    if (v && cJSON_AddItemToArray(arr, v))
        return 0;
    cJSON_Delete(v);
    return PROV_BUILD_NOMEM;
}

void prov_error_reason(const char *body, size_t n, prov_reason_fn pick, char *out, size_t outsz)
{
    if (outsz == 0)
        return;
    cJSON *root = prov_parse_exact(body, n);
    const char *m = pick(root);
    if (m)
        one_line(m, strlen(m), out, outsz);
    else
        one_line(body ? body : "", body ? n : 0, out, outsz);
    cJSON_Delete(root);
}

int prov_report_error(const prov_sink *k, const char *type, const char *data, size_t n,
                      prov_reason_fn pick)
{
    if (!k->error)
        return 0;
    char msg[STREAM_MSG_MAX];
    prov_error_reason(data, n, pick, msg, sizeof(msg));
    return k->error(k->ctx, type, msg[0] ? msg : "upstream error");
}
