/* req — see req.h. The request is kept as sent (root): fields chatd does not know go on
 * to the provider. What chatd or a translating provider reads is checked here: the
 * messages (req_msg.c), then each known option's type and range; null is absent. */
#include "req.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonv.h"
#include "lim.h"
#include "req_msg.h"
#include "utf8.h"

#define REQ_MODEL_MAX 256
#define REQ_CHOICES_MAX 128 /* n, as OpenAI caps it */
#define JOIN_SEP '\n'       /* between the text parts of one message */

static int fail(char *err, size_t errsz, const char *msg)
{
    snprintf(err, errsz, "%s", msg);
    return -1;
}

/* ---- messages ---- */

/* A message's content an array of text parts only (req_msg_check passed it). */
static int text_parts_only(const cJSON *content)
{
    const cJSON *p;
    cJSON_ArrayForEach(p, content)
    {
        if (strcmp(req_get(p, "type")->valuestring, "text"))
            return 0;
    }
    return 1;
}

/* m as req_msg_check passed it; joined text parts go to *join, which moves past them. */
static void fill_msg(const cJSON *m, chat_msg *out, char **join)
{
    const cJSON *content = req_get(m, "content");
    out->role = req_get(m, "role")->valuestring;
    out->json = m;
    out->content = cJSON_IsString(content) ? content->valuestring : NULL;
    if (!cJSON_IsArray(content) || !text_parts_only(content))
        return;
    char *o = *join;
    out->content = o;
    const cJSON *p;
    cJSON_ArrayForEach(p, content)
    {
        const char *t = req_get(p, "text")->valuestring;
        size_t n = strlen(t);
        if (p != content->child)
            *o++ = JOIN_SEP;
        memcpy(o, t, n);
        o += n;
    }
    *o++ = '\0';
    *join = o;
}

/* Checks every message, then fills r->msgs; the joined texts share one allocation. */
static int parse_messages(const cJSON *arr, chat_req *r, const req_limits *lim, char *err,
                          size_t errsz)
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
    size_t i = 0, total = 0, need; /* the joined texts' bytes */
    const cJSON *m;
    cJSON_ArrayForEach(m, arr)
    {
        if (req_msg_check(m, i++, lim->max_message_bytes, &need, err, errsz) < 0)
            return -1;
        total += need;
    }
    r->msgs = calloc((size_t)n, sizeof(*r->msgs));
    r->joined = total ? malloc(total) : NULL;
    if (!r->msgs || (total && !r->joined))
        return fail(err, errsz, "out of memory");
    char *at = r->joined;
    cJSON_ArrayForEach(m, arr)
    {
        fill_msg(m, &r->msgs[r->n_msgs++], &at);
    }
    return 0;
}

/* ---- options ---- */

typedef enum opt_kind { O_BOOL, O_NUMBER, O_INTEGER, O_STRING, O_OBJECT, O_STOP } opt_kind;

/* The top-level fields whose type chatd or a translating provider relies on; a value
 * outside [lo, hi] (numbers) or of another type is refused with msg. */
static const struct opt {
    const char *name;
    opt_kind kind;
    double lo, hi;
    const char *msg;
} OPTS[] = {
    {"stream", O_BOOL, 0, 0, "stream must be a boolean"},
    {"stream_options", O_OBJECT, 0, 0, "stream_options must be an object"},
    {"temperature", O_NUMBER, 0, 2, "temperature must be a number from 0 to 2"},
    {"top_p", O_NUMBER, 0, 1, "top_p must be a number from 0 to 1"},
    {"frequency_penalty", O_NUMBER, -2, 2, "frequency_penalty must be a number from -2 to 2"},
    {"presence_penalty", O_NUMBER, -2, 2, "presence_penalty must be a number from -2 to 2"},
    {"max_tokens", O_INTEGER, 1, 1e7, "max_tokens must be a positive integer"},
    {"max_completion_tokens", O_INTEGER, 1, 1e7,
     "max_completion_tokens must be a positive integer"},
    {"n", O_INTEGER, 1, REQ_CHOICES_MAX, "n must be an integer from 1 to 128"},
    {"seed", O_INTEGER, -9223372036854775808.0, 9223372036854775807.0, "seed must be an integer"},
    {"logprobs", O_BOOL, 0, 0, "logprobs must be a boolean"},
    {"top_logprobs", O_INTEGER, 0, 20, "top_logprobs must be an integer from 0 to 20"},
    {"parallel_tool_calls", O_BOOL, 0, 0, "parallel_tool_calls must be a boolean"},
    {"user", O_STRING, 0, 0, "user must be a string"},
    {"metadata", O_OBJECT, 0, 0, "metadata must be an object"},
    {"logit_bias", O_OBJECT, 0, 0, "logit_bias must be an object"},
    {"response_format", O_OBJECT, 0, 0, "response_format must be an object"},
    {"stop", O_STOP, 0, 0, "stop must be a string or an array of strings"},
};
#define N_OPTS (sizeof(OPTS) / sizeof(OPTS[0]))

static int strings_only(const cJSON *a)
{
    const cJSON *s;
    cJSON_ArrayForEach(s, a)
    {
        if (!cJSON_IsString(s))
            return 0;
    }
    return 1;
}

static int opt_ok(const struct opt *o, const cJSON *v)
{
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    switch (o->kind) {
    case O_BOOL:
        return cJSON_IsBool(v);
    case O_NUMBER:
        return d >= o->lo && d <= o->hi;
    case O_INTEGER:
        return d >= o->lo && d <= o->hi && floor(d) == d;
    case O_STRING:
        return cJSON_IsString(v);
    case O_OBJECT:
        return cJSON_IsObject(v);
    default:
        return cJSON_IsString(v) || (cJSON_IsArray(v) && strings_only(v));
    }
}

/* ---- repeated members ---- */

/* The top-level names chatd reads besides those of OPTS: OPTS's index space goes on with
 * these. */
static const char *const READ[] = {"messages", "model", "tools", "tool_choice"};
#define N_READ (sizeof(READ) / sizeof(READ[0]))
#define NAME_MAX_READ 32 /* longer than any name chatd reads, its NUL included */

static const char *read_name(size_t k)
{
    return k < N_OPTS ? OPTS[k].name : READ[k - N_OPTS];
}

typedef struct seen {
    uint32_t bits; /* bit k: read_name(k) was met */
    const char *twice;
} seen;

_Static_assert(N_OPTS + N_READ <= 32, "one bit per name read");

/* A jsonv_member_fn: stops (1) at the second member of a name chatd reads. */
static int note_name(void *ctx, const jsonv_span *name, const jsonv_span *value)
{
    (void)value;
    seen *s = ctx;
    char nm[NAME_MAX_READ];
    if (jsonv_unescape(name, nm, sizeof(nm)) < 0)
        return 0; /* too long for a name chatd reads */
    for (size_t k = 0; k < N_OPTS + N_READ; k++) {
        if (strcmp(nm, read_name(k)))
            continue;
        if (s->bits >> k & 1) {
            s->twice = read_name(k);
            return 1;
        }
        s->bits |= (uint32_t)1 << k;
        return 0;
    }
    return 0;
}

/* body is a checked JSON object. */
static int check_repeats(const char *body, size_t len, char *err, size_t errsz)
{
    seen s = {0, NULL};
    if (jsonv_members(body, len, note_name, &s) == 0)
        return 0;
    if (!s.twice)
        return fail(err, errsz, "request body is not valid JSON");
    snprintf(err, errsz, "%s appears more than once", s.twice);
    return -1;
}

static int check_options(const cJSON *root, char *err, size_t errsz)
{
    for (size_t k = 0; k < N_OPTS; k++) {
        const cJSON *v = req_get(root, OPTS[k].name);
        if (!req_absent(v) && !opt_ok(&OPTS[k], v))
            return fail(err, errsz, OPTS[k].msg);
    }
    const cJSON *so = req_get(root, "stream_options"),
                *iu = so ? req_get(so, "include_usage") : NULL;
    if (!req_absent(iu) && !cJSON_IsBool(iu))
        return fail(err, errsz, "stream_options.include_usage must be a boolean");
    const cJSON *rf = req_get(root, "response_format");
    if (rf && cJSON_IsObject(rf) && !cJSON_IsString(req_get(rf, "type")))
        return fail(err, errsz, "response_format.type must be a string");
    return 0;
}

/* A function's name, as tools and tool_choice hold it: f.name, a non-empty string. */
static int function_named(const cJSON *f)
{
    const cJSON *name = cJSON_IsObject(f) ? req_get(f, "name") : NULL;
    return cJSON_IsString(name) && *name->valuestring;
}

/* tools: objects with a type; a function tool names its function, whose parameters are
 * a JSON Schema object. Other tool types go to the provider to judge. */
static int check_tools(const cJSON *tools, char *err, size_t errsz)
{
    if (req_absent(tools))
        return 0;
    if (!cJSON_IsArray(tools))
        return fail(err, errsz, "tools must be an array");
    size_t k = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, tools)
    {
        const cJSON *type = cJSON_IsObject(t) ? req_get(t, "type") : NULL;
        const cJSON *f = cJSON_IsObject(t) ? req_get(t, "function") : NULL;
        const cJSON *params = cJSON_IsObject(f) ? req_get(f, "parameters") : NULL;
        const char *why = NULL;
        if (!cJSON_IsString(type))
            why = "type must be a string";
        else if (strcmp(type->valuestring, "function"))
            why = NULL;
        else if (!function_named(f))
            why = "function.name must be a non-empty string";
        else if (!req_absent(params) && !cJSON_IsObject(params))
            why = "function.parameters must be an object";
        if (why) {
            snprintf(err, errsz, "tools[%zu].%s", k, why);
            return -1;
        }
        k++;
    }
    return 0;
}

/* tool_choice: "none", "auto", "required", or an object with a type ("function" naming
 * one). */
static int check_tool_choice(const cJSON *tc, char *err, size_t errsz)
{
    if (req_absent(tc))
        return 0;
    if (cJSON_IsString(tc)) {
        const char *s = tc->valuestring;
        if (!strcmp(s, "none") || !strcmp(s, "auto") || !strcmp(s, "required"))
            return 0;
        return fail(err, errsz, "tool_choice must be none, auto, required or an object");
    }
    const cJSON *type = cJSON_IsObject(tc) ? req_get(tc, "type") : NULL;
    if (!cJSON_IsString(type))
        return fail(err, errsz, "tool_choice must be none, auto, required or an object");
    if (!strcmp(type->valuestring, "function") && !function_named(req_get(tc, "function")))
        return fail(err, errsz, "tool_choice.function.name must be a non-empty string");
    return 0;
}

static int has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

/* The fields chatd itself reads, once they passed check_options. */
static int read_options(const cJSON *root, chat_req *r, int openai, char *err, size_t errsz)
{
    const cJSON *model = req_get(root, "model"), *temp = req_get(root, "temperature");
    const cJSON *maxt = req_get(root, "max_tokens"), *maxc = req_get(root, "max_completion_tokens");
    const cJSON *n = req_get(root, "n");
    if (!req_absent(model)) {
        if (!cJSON_IsString(model) || !*model->valuestring ||
            strlen(model->valuestring) > REQ_MODEL_MAX || has_control(model->valuestring))
            return fail(err, errsz,
                        "model must be a non-empty string of at most 256 bytes "
                        "without control characters");
        r->model = model->valuestring;
    }
    if (!req_absent(temp)) {
        r->temperature = temp->valuedouble;
        r->has_temperature = 1;
    }
    if (!req_absent(maxc))
        r->max_tokens = (long)maxc->valuedouble;
    else if (!req_absent(maxt))
        r->max_tokens = (long)maxt->valuedouble;
    r->n = req_absent(n) ? 1 : (long)n->valuedouble;
    if (!openai)
        return 0;
    r->stream = cJSON_IsTrue(req_get(root, "stream"));
    const cJSON *so = req_get(root, "stream_options");
    r->include_usage = cJSON_IsObject(so) && cJSON_IsTrue(req_get(so, "include_usage"));
    return 0;
}

static int parse_options(const cJSON *root, chat_req *r, int openai, char *err, size_t errsz)
{
    if (check_options(root, err, errsz) < 0 ||
        check_tools(req_get(root, "tools"), err, errsz) < 0 ||
        check_tool_choice(req_get(root, "tool_choice"), err, errsz) < 0)
        return -1;
    return read_options(root, r, openai, err, errsz);
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
    if (check_repeats(body, len, err, errsz) < 0)
        goto bad;
    out->raw = malloc(len ? len : 1);
    if (!out->raw) {
        fail(err, errsz, "out of memory");
        goto bad;
    }
    memcpy(out->raw, body, len);
    out->raw_len = len;
    if (parse_messages(req_get(out->root, "messages"), out, lim, err, errsz) < 0 ||
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
    free(r->joined);
    free(r->raw);
    cJSON_Delete(r->root);
    memset(r, 0, sizeof(*r));
}
