/* Fuzz target: req_parse on arbitrary bytes, native (flags 0) and REQ_OPENAI, and with
 * small limits; jsonv_check, the strict JSON check in front of cJSON, on the same bytes.
 * A request that parses is checked against req.h's promises (roles, each message's JSON
 * object, its text NULL or UTF-8 within the limit and the content string itself when that
 * is a string, option ranges, the limits); one that fails leaves a zeroed chat_req and a
 * one-line reason.
 * Two parses of one body that both succeed agree on every field both read; limits only
 * narrow what is accepted. Text jsonv accepts, cJSON (more lenient) parses whole, but for
 * an escaped lone surrogate: RFC 8259's grammar allows one, cJSON refuses it. */
#include <cjson/cJSON.h>

#include "fuzz.h"
#include "jsonv.h"
#include "lim.h"
#include "req.h"
#include "utf8.h"

static int role_ok(const char *r)
{
    return r && (!strcmp(r, "system") || !strcmp(r, "developer") || !strcmp(r, "user") ||
                 !strcmp(r, "assistant") || !strcmp(r, "tool"));
}

static const req_limits SMALL = {3, 16};

static void check_ok(const chat_req *r, const req_limits *lim)
{
    FUZZ_CHECK(r->root != NULL, "a parsed request owns its tree");
    FUZZ_CHECK(r->n_msgs >= 1 && r->n_msgs <= (lim ? lim->max_messages : LIM_MESSAGES_MAX),
               "n_msgs %zu", r->n_msgs);
    for (size_t i = 0; i < r->n_msgs; i++) {
        const chat_msg *m = &r->msgs[i];
        FUZZ_CHECK(role_ok(m->role), "messages[%zu].role", i);
        FUZZ_CHECK(cJSON_IsObject(m->json) &&
                       m->json == cJSON_GetArrayItem(cJSON_GetObjectItem(r->root, "messages"),
                                                     (int)i),
                   "messages[%zu].json is not the message", i);
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(m->json, "content");
        FUZZ_CHECK(!cJSON_IsString(c) || m->content == c->valuestring,
                   "messages[%zu].content is not the string sent", i);
        FUZZ_CHECK(m->content || !cJSON_IsString(c), "messages[%zu].content lost", i);
        if (!m->content)
            continue;
        size_t n = strlen(m->content);
        FUZZ_CHECK(utf8_valid(m->content, n), "messages[%zu].content: bad UTF-8", i);
        FUZZ_CHECK(!lim || n <= lim->max_message_bytes, "messages[%zu].content: %zu bytes", i, n);
    }
    if (r->model) {
        size_t n = strlen(r->model);
        FUZZ_CHECK(n >= 1 && n <= 256, "model length %zu", n);
        FUZZ_CHECK(utf8_valid(r->model, n), "model: bad UTF-8");
    }
    if (r->has_temperature)
        FUZZ_CHECK(r->temperature >= 0 && r->temperature <= 2, "temperature %g", r->temperature);
    FUZZ_CHECK(r->max_tokens >= 0 && r->max_tokens <= 10000000, "max_tokens %ld", r->max_tokens);
    FUZZ_CHECK(r->n >= 1 && r->n <= 128, "n %ld", r->n);
    FUZZ_CHECK(r->stream == 0 || r->stream == 1, "stream %d", r->stream);
    FUZZ_CHECK(r->include_usage == 0 || r->include_usage == 1, "include_usage %d",
               r->include_usage);
}

static void check_failed(const chat_req *r, const char *err, size_t errsz)
{
    FUZZ_CHECK(!r->root && !r->msgs && !r->n_msgs && !r->model && !r->joined,
               "a failed parse leaves nothing");
    size_t n = strnlen(err, errsz);
    FUZZ_CHECK(n < errsz, "reason not NUL-terminated within %zu bytes", errsz);
    FUZZ_CHECK(errsz == 1 || n > 0, "empty reason");
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK((unsigned char)err[i] >= 0x20, "control byte in the reason");
}

static int same_str(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

/* Two parses of one body that both succeeded say the same (the stream fields only when
 * both read them). */
static void check_same(const chat_req *a, const chat_req *b, int stream_fields)
{
    FUZZ_CHECK(a->n_msgs == b->n_msgs, "n_msgs %zu vs %zu", a->n_msgs, b->n_msgs);
    for (size_t i = 0; i < a->n_msgs; i++)
        FUZZ_CHECK(same_str(a->msgs[i].role, b->msgs[i].role) &&
                       same_str(a->msgs[i].content, b->msgs[i].content),
                   "messages[%zu] differ", i);
    FUZZ_CHECK(same_str(a->model, b->model), "model differs");
    FUZZ_CHECK(a->has_temperature == b->has_temperature &&
                   (!a->has_temperature || a->temperature == b->temperature),
               "temperature differs");
    FUZZ_CHECK(a->max_tokens == b->max_tokens && a->n == b->n, "max_tokens or n differs");
    FUZZ_CHECK(!stream_fields || (a->stream == b->stream && a->include_usage == b->include_usage),
               "stream options differ");
}

/* One parse, checked on its own. */
static int parse(const uint8_t *d, size_t n, int flags, const req_limits *lim, chat_req *out,
                 char *err, size_t errsz)
{
    int rc = req_parse((const char *)d, n, flags, lim, out, err, errsz);
    FUZZ_CHECK(rc == 0 || rc == -1, "req_parse returned %d", rc);
    if (rc == 0)
        check_ok(out, lim);
    else
        check_failed(out, err, errsz);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

/* A \uD800..\uDFFF escape somewhere (or what looks like one after an escaped backslash). */
static int surrogate_escape(const uint8_t *d, size_t n)
{
    for (size_t i = 0; i + 3 < n; i++)
        if (d[i] == '\\' && d[i + 1] == 'u' && (d[i + 2] | 0x20) == 'd' && d[i + 3] &&
            strchr("89abcdefABCDEF", d[i + 3]))
            return 1;
    return 0;
}

static void check_jsonv(const uint8_t *d, size_t n)
{
    const char *why = NULL;
    int rc = jsonv_check((const char *)d, n, &why);
    FUZZ_CHECK(rc == 0 || rc == -1, "jsonv_check returned %d", rc);
    if (rc < 0) {
        FUZZ_CHECK(why && *why, "jsonv_check failed without a reason");
        return;
    }
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts((const char *)d, n, &end, 0);
    if (!j) {
        FUZZ_CHECK(surrogate_escape(d, n), "jsonv_check accepts what cJSON cannot parse");
        return;
    }
    for (; end < (const char *)d + n; end++)
        FUZZ_CHECK(*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n',
                   "jsonv_check accepts bytes after the value");
    cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    chat_req native, oai, small;
    char err[160], tiny[1];
    check_jsonv(d, n);
    int a = parse(d, n, 0, NULL, &native, err, sizeof(err));
    FUZZ_CHECK(a < 0 || (!native.stream && !native.include_usage),
               "native request with stream fields");
    /* the smallest error buffer: the reason is cut to nothing, never written past */
    int b = parse(d, n, REQ_OPENAI, NULL, &oai, tiny, sizeof(tiny));
    int c = parse(d, n, REQ_OPENAI, &SMALL, &small, err, sizeof(err));
    if (a == 0 && b == 0)
        check_same(&native, &oai, 0);
    if (c == 0) {
        FUZZ_CHECK(b == 0, "valid under small limits, rejected under none");
        check_same(&small, &oai, 1);
    }
    req_free(&native);
    req_free(&oai);
    req_free(&small);
    req_free(&small); /* a freed request is zeroed: freeing it again is harmless */
    return 0;
}
