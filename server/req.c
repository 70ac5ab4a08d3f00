/* req — see req.h. Unknown fields are ignored (clients send provider-specific extras);
 * known fields are checked for type and range. */
#include "req.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonv.h"
#include "lim.h"
#include "utf8.h"

#define REQ_MODEL_MAX 256

static int fail(char *err, size_t errsz, const char *msg)
{
    snprintf(err, errsz, "%s", msg);
    return -1;
}

static int role_ok(const char *r)
{
    return !strcmp(r, "system") || !strcmp(r, "user") || !strcmp(r, "assistant");
}

/* OpenAI clients may send content as [{"type":"text","text":"..."}]: accepted when every
 * part is text and there is exactly one (chatd passes text through, nothing else). */
static const char *content_of(const cJSON *c, int allow_parts)
{
    if (cJSON_IsString(c))
        return c->valuestring;
    if (allow_parts && cJSON_IsArray(c) && cJSON_GetArraySize(c) == 1) {
        const cJSON *p = cJSON_GetArrayItem(c, 0);
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(p, "type");
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(p, "text");
        if (cJSON_IsString(t) && !strcmp(t->valuestring, "text") && cJSON_IsString(x))
            return x->valuestring;
    }
    return NULL;
}

static int parse_messages(const cJSON *arr, chat_req *r, int allow_parts, const req_limits *lim,
                          char *err, size_t errsz)
{
    if (!arr)
        return fail(err, errsz, "messages is required");
    if (!cJSON_IsArray(arr))
        return fail(err, errsz, "messages must be an array");
    int n = cJSON_GetArraySize(arr);
    if (n == 0)
        return fail(err, errsz, "messages must not be empty");
    if ((size_t)n > lim->max_messages) {
        snprintf(err, errsz, "too many messages (at most %zu)", lim->max_messages);
        return -1;
    }
    r->msgs = calloc((size_t)n, sizeof(*r->msgs));
    if (!r->msgs)
        return fail(err, errsz, "out of memory");
    const cJSON *m;
    cJSON_ArrayForEach(m, arr)
    {
        size_t i = r->n_msgs;
        if (!cJSON_IsObject(m)) {
            snprintf(err, errsz, "messages[%zu] must be an object", i);
            return -1;
        }
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        const char *content = content_of(cJSON_GetObjectItemCaseSensitive(m, "content"), allow_parts);
        if (!cJSON_IsString(role) || !role_ok(role->valuestring)) {
            snprintf(err, errsz, "messages[%zu].role must be system, user or assistant", i);
            return -1;
        }
        if (!content) {
            snprintf(err, errsz, "messages[%zu].content must be a string", i);
            return -1;
        }
        if (strlen(content) > lim->max_message_bytes) {
            snprintf(err, errsz, "messages[%zu].content is longer than %zu bytes", i,
                     lim->max_message_bytes);
            return -1;
        }
        r->msgs[r->n_msgs++] = (chat_msg){role->valuestring, content};
    }
    return 0;
}

static int has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

static int parse_options(const cJSON *root, chat_req *r, int openai, char *err, size_t errsz)
{
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *temp = cJSON_GetObjectItemCaseSensitive(root, "temperature");
    const cJSON *maxt = cJSON_GetObjectItemCaseSensitive(root, "max_tokens");
    const cJSON *stream = cJSON_GetObjectItemCaseSensitive(root, "stream");
    const cJSON *sopt = cJSON_GetObjectItemCaseSensitive(root, "stream_options");
    if (model && !cJSON_IsNull(model)) {
        if (!cJSON_IsString(model) || !*model->valuestring ||
            strlen(model->valuestring) > REQ_MODEL_MAX || has_control(model->valuestring))
            return fail(err, errsz, "model must be a non-empty string of at most 256 bytes "
                                    "without control characters");
        r->model = model->valuestring;
    }
    if (temp && !cJSON_IsNull(temp)) {
        if (!cJSON_IsNumber(temp) || !(temp->valuedouble >= 0 && temp->valuedouble <= 2))
            return fail(err, errsz, "temperature must be a number from 0 to 2");
        r->temperature = temp->valuedouble;
        r->has_temperature = 1;
    }
    if (maxt && !cJSON_IsNull(maxt)) {
        double v = cJSON_IsNumber(maxt) ? maxt->valuedouble : -1;
        if (v < 1 || v > 1e7 || floor(v) != v)
            return fail(err, errsz, "max_tokens must be a positive integer");
        r->max_tokens = (long)v;
    }
    if (!openai)
        return 0;
    if (stream && !cJSON_IsNull(stream)) {
        if (!cJSON_IsBool(stream))
            return fail(err, errsz, "stream must be a boolean");
        r->stream = cJSON_IsTrue(stream);
    }
    if (sopt && cJSON_IsObject(sopt))
        r->include_usage = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(sopt, "include_usage"));
    return 0;
}

int req_parse(const char *body, size_t len, int flags, const req_limits *lim, chat_req *out,
              char *err, size_t errsz)
{
    static const req_limits dflt = {LIM_MESSAGES_MAX, SIZE_MAX};
    if (!lim)
        lim = &dflt;
    memset(out, 0, sizeof(*out));
    if (!utf8_valid(body, len))
        return fail(err, errsz, "request body is not valid UTF-8");
    const char *why;
    if (jsonv_check(body, len, &why) < 0) {
        snprintf(err, errsz, "request body is not valid JSON: %s", why);
        return -1;
    }
    /* jsonv_check has seen exactly one value: cJSON reads all of it or fails. */
    out->root = cJSON_ParseWithLength(body, len);
    if (!out->root) {
        req_free(out);
        return fail(err, errsz, "request body is not valid JSON");
    }
    if (!cJSON_IsObject(out->root)) {
        fail(err, errsz, "request body must be a JSON object");
        goto bad;
    }
    if (parse_messages(cJSON_GetObjectItemCaseSensitive(out->root, "messages"), out,
                       flags & REQ_OPENAI, lim, err, errsz) < 0 ||
        parse_options(out->root, out, flags & REQ_OPENAI, err, errsz) < 0)
        goto bad;
    return 0;
bad:
    req_free(out);
    return -1;
}

void req_free(chat_req *r)
{
    free(r->msgs);
    cJSON_Delete(r->root);
    memset(r, 0, sizeof(*r));
}
