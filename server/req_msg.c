/* req_msg — see req_msg.h. Every part and tool call is checked for the shape a translating
 * provider relies on; members chatd does not read are left as they are. */
#include "req_msg.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The kinds of content part, as bits: which ones each role may hold. */
enum { P_TEXT = 1, P_IMAGE = 2, P_AUDIO = 4, P_FILE = 8, P_REFUSAL = 16 };

static const struct {
    const char *name;
    unsigned parts;
} ROLES[] = {
    {"system", P_TEXT},
    {"developer", P_TEXT},
    {"user", P_TEXT | P_IMAGE | P_AUDIO | P_FILE},
    {"assistant", P_TEXT | P_REFUSAL},
    {"tool", P_TEXT},
};
#define N_ROLES (sizeof(ROLES) / sizeof(ROLES[0]))

static const struct {
    const char *type;
    unsigned bit;
} PARTS[] = {
    {"text", P_TEXT}, {"image_url", P_IMAGE}, {"input_audio", P_AUDIO},
    {"file", P_FILE}, {"refusal", P_REFUSAL},
};
#define N_PARTS (sizeof(PARTS) / sizeof(PARTS[0]))

/* The fields of one check: where reasons go and the size counted so far. */
typedef struct ck {
    size_t i;     /* the message's position */
    size_t bytes; /* its text and data */
    char *err;
    size_t errsz;
} ck;

__attribute__((format(printf, 2, 3))) static int fail(ck *c, const char *fmt, ...)
{
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    snprintf(c->err, c->errsz, "messages[%zu]%s", c->i, what);
    return -1;
}

const cJSON *req_get(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

int req_absent(const cJSON *v)
{
    return !v || cJSON_IsNull(v);
}

/* o[key] as a string (non-empty when nonempty), counted; absent ones pass when optional. */
static int str_field(ck *c, const cJSON *o, const char *key, int nonempty, int optional,
                     const char *where)
{
    const cJSON *v = req_get(o, key);
    if (optional && req_absent(v))
        return 0;
    if (!cJSON_IsString(v) || (nonempty && !*v->valuestring))
        return fail(c, "%s.%s must be a %sstring", where, key, nonempty ? "non-empty " : "");
    c->bytes += strlen(v->valuestring);
    return 0;
}

static int role_parts(const char *role)
{
    for (size_t k = 0; k < N_ROLES; k++)
        if (!strcmp(role, ROLES[k].name))
            return (int)ROLES[k].parts;
    return -1;
}

static unsigned part_bit(const char *type)
{
    for (size_t k = 0; k < N_PARTS; k++)
        if (!strcmp(type, PARTS[k].type))
            return PARTS[k].bit;
    return 0;
}

/* data: URLs (RFC 2397, the data after a comma) or https: ones. */
static int image_url_ok(const char *u)
{
    if (!strncmp(u, "data:", 5))
        return strchr(u, ',') != NULL;
    return !strncmp(u, "https://", 8) && u[8];
}

static int image_part(ck *c, const cJSON *p, const char *at)
{
    const cJSON *img = req_get(p, "image_url");
    if (!cJSON_IsObject(img))
        return fail(c, "%s.image_url must be an object", at);
    const cJSON *url = req_get(img, "url"), *detail = req_get(img, "detail");
    if (!cJSON_IsString(url) || !image_url_ok(url->valuestring))
        return fail(c, "%s.image_url.url must be a data: or https: URL", at);
    c->bytes += strlen(url->valuestring);
    const char *d = cJSON_GetStringValue(detail);
    if (!req_absent(detail) && (!d || (strcmp(d, "auto") && strcmp(d, "low") && strcmp(d, "high"))))
        return fail(c, "%s.image_url.detail must be auto, low or high", at);
    return 0;
}

/* Part p's object member key (else NULL, with the reason); where = its path. */
static const cJSON *part_object(ck *c, const cJSON *p, const char *key, const char *at,
                                char where[64])
{
    const cJSON *o = req_get(p, key);
    if (!cJSON_IsObject(o)) {
        fail(c, "%s.%s must be an object", at, key);
        return NULL;
    }
    snprintf(where, 64, "%s.%s", at, key);
    return o;
}

static int audio_part(ck *c, const cJSON *p, const char *at)
{
    char where[64];
    const cJSON *a = part_object(c, p, "input_audio", at, where);
    if (!a || str_field(c, a, "data", 1, 0, where) < 0)
        return -1;
    return str_field(c, a, "format", 1, 0, where);
}

static int file_part(ck *c, const cJSON *p, const char *at)
{
    char where[64];
    const cJSON *f = part_object(c, p, "file", at, where);
    if (!f)
        return -1;
    if (req_absent(req_get(f, "file_data")) && req_absent(req_get(f, "file_id")))
        return fail(c, "%s.file needs file_data or file_id", at);
    if (str_field(c, f, "file_data", 1, 1, where) < 0 ||
        str_field(c, f, "file_id", 1, 1, where) < 0 || str_field(c, f, "filename", 0, 1, where) < 0)
        return -1;
    return 0;
}

/* Part k of the content; *text: still only text parts. */
static int check_part(ck *c, const cJSON *p, size_t k, const char *role, unsigned allowed,
                      int *text)
{
    char at[48];
    snprintf(at, sizeof(at), ".content[%zu]", k);
    const cJSON *type = req_get(p, "type");
    if (!cJSON_IsObject(p))
        return fail(c, "%s must be an object", at);
    unsigned bit = cJSON_IsString(type) ? part_bit(type->valuestring) : 0;
    if (!bit)
        return fail(c, "%s.type must be text, image_url, input_audio, file or refusal", at);
    if (!(bit & allowed))
        return fail(c, "%s: a %s message takes no %s part", at, role, type->valuestring);
    if (bit != P_TEXT)
        *text = 0;
    c->bytes += k > 0; /* the separator when text parts are joined (req.c) */
    switch (bit) {
    case P_TEXT:
        return str_field(c, p, "text", 0, 0, at);
    case P_REFUSAL:
        return str_field(c, p, "refusal", 0, 0, at);
    case P_IMAGE:
        return image_part(c, p, at);
    case P_AUDIO:
        return audio_part(c, p, at);
    default:
        return file_part(c, p, at);
    }
}

static int check_tool_call(ck *c, const cJSON *t, size_t k)
{
    char at[48], fn[64];
    snprintf(at, sizeof(at), ".tool_calls[%zu]", k);
    snprintf(fn, sizeof(fn), "%s.function", at);
    if (!cJSON_IsObject(t))
        return fail(c, "%s must be an object", at);
    const cJSON *type = req_get(t, "type"), *f = req_get(t, "function");
    if (str_field(c, t, "id", 1, 0, at) < 0)
        return -1;
    if (!cJSON_IsString(type) || strcmp(type->valuestring, "function"))
        return fail(c, "%s.type must be \"function\"", at);
    if (!cJSON_IsObject(f))
        return fail(c, "%s must be an object", fn);
    if (str_field(c, f, "name", 1, 0, fn) < 0)
        return -1;
    return str_field(c, f, "arguments", 0, 0, fn);
}

static int check_tool_calls(ck *c, const cJSON *tc, const char *role)
{
    if (req_absent(tc))
        return 0;
    if (strcmp(role, "assistant"))
        return fail(c, ".tool_calls: only an assistant message makes tool calls");
    if (!cJSON_IsArray(tc) || !cJSON_GetArraySize(tc))
        return fail(c, ".tool_calls must be a non-empty array");
    size_t k = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, tc)
    {
        if (check_tool_call(c, t, k++) < 0)
            return -1;
    }
    return 0;
}

/* *join: bytes of the joined text parts, NUL included, when there are only text parts. */
static int check_content(ck *c, const cJSON *content, const char *role, unsigned allowed,
                         int has_calls, size_t *join)
{
    if (req_absent(content)) {
        if (!strcmp(role, "assistant") && has_calls)
            return 0;
        return fail(c, ".content is required (null only beside an assistant's tool_calls)");
    }
    if (cJSON_IsString(content)) {
        c->bytes += strlen(content->valuestring);
        return 0;
    }
    if (!cJSON_IsArray(content) || !cJSON_GetArraySize(content))
        return fail(c, ".content must be a string or a non-empty array of parts");
    int text = 1;
    size_t k = 0, before = c->bytes;
    const cJSON *p;
    cJSON_ArrayForEach(p, content)
    {
        if (check_part(c, p, k++, role, allowed, &text) < 0)
            return -1;
    }
    *join = text ? c->bytes - before + 1 : 0;
    return 0;
}

int req_msg_check(const cJSON *m, size_t i, size_t max_bytes, size_t *join, char *err, size_t errsz)
{
    ck c = {i, 0, err, errsz};
    *join = 0;
    if (!cJSON_IsObject(m))
        return fail(&c, " must be an object");
    const cJSON *role = req_get(m, "role"), *calls = req_get(m, "tool_calls");
    int parts = cJSON_IsString(role) ? role_parts(role->valuestring) : -1;
    if (parts < 0)
        return fail(&c, ".role must be system, developer, user, assistant or tool");
    const char *r = role->valuestring;
    if (check_tool_calls(&c, calls, r) < 0 ||
        check_content(&c, req_get(m, "content"), r, (unsigned)parts, !req_absent(calls), join) < 0)
        return -1;
    if (!strcmp(r, "tool") && str_field(&c, m, "tool_call_id", 1, 0, "") < 0)
        return -1;
    if (!strcmp(r, "assistant") && str_field(&c, m, "reasoning_content", 0, 1, "") < 0)
        return -1;
    if (str_field(&c, m, "name", 0, 1, "") < 0)
        return -1;
    if (c.bytes > max_bytes)
        return fail(&c, " is longer than %zu bytes (its text and data)", max_bytes);
    return 0;
}
