/* prov_openai — see prov_openai.h. */
#include "prov_openai.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jsonv.h"
#include "jsonw.h"
#include "lim.h"
#include "req.h"
#include "sse_parse.h"

#define CHAT_PATH "/chat/completions"

/* The tool calls of one answer that have started (their index seen with id and name). */
typedef struct calls {
    unsigned char started[(LIM_TOOLS + 7) / 8];
} calls;

struct prov_stream {
    ssep sse;
    calls calls;
    const prov_sink *sink; /* of the feed/finish call in progress */
    int rc;                /* the event handler's non-zero value, kept apart from ssep's */
};

/* ---- build ---- */

static const char *const HEADERS[] = {
    "Content-Type: application/json",
    "Accept: text/event-stream",
    NULL,
};
static const prov_endpoint ENDPOINT = {CHAT_PATH, HEADERS, "Authorization: Bearer "};

/* o[key] = item (taken) where the first member of that name is, the others removed; at
 * the end when there is none. -1: no item (no memory). */
static int set_member(cJSON *o, const char *key, cJSON *item)
{
    if (!item)
        return -1;
    int seen = 0;
    for (cJSON *c = o->child, *next; c; c = next) {
        next = c->next;
        if (c->string && !strcmp(c->string, key) && seen++)
            cJSON_Delete(cJSON_DetachItemViaPointer(o, c));
    }
    cJSON_bool ok = seen ? cJSON_ReplaceItemInObjectCaseSensitive(o, key, item)
                         : cJSON_AddItemToObject(o, key, item);
    if (!ok)
        cJSON_Delete(item);
    return ok ? 0 : -1;
}

/* The client's stream_options (what chatd does not know in it kept) with include_usage:
 * chatd reports usage whether the client asked for it or not. */
static cJSON *stream_options(const cJSON *root)
{
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(root, "stream_options");
    cJSON *o = cJSON_IsObject(so) ? cJSON_Duplicate(so, 1) : cJSON_CreateObject();
    if (o && set_member(o, "include_usage", cJSON_CreateTrue()) < 0) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* The client's request as a tree, every field kept, with only model, stream and
 * stream_options chatd's; malloc'd JSON, or NULL (no memory). For a request that has no
 * text of its own (raw NULL). */
static char *tree_body(const chat_req *req, const char *model)
{
    char *body = NULL;
    cJSON *o = cJSON_Duplicate(req->root, 1);
    if (o && set_member(o, "model", cJSON_CreateString(model)) == 0 &&
        set_member(o, "stream", cJSON_CreateTrue()) == 0 &&
        set_member(o, "stream_options", stream_options(req->root)) == 0)
        body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return body;
}

/* ---- build: the client's text, member for member ---- */

/* Bytes the upstream body may have beyond the client's own: chatd's three members. */
#define BODY_MARGIN 128

/* name (a member's name as it stands) unescaped is word. */
static int named(const jsonv_span *name, const char *word)
{
    char nm[32];
    return jsonv_unescape(name, nm, sizeof(nm)) >= 0 && !strcmp(nm, word);
}

/* Copying an object's members to b, all but those one skip function names. */
typedef struct copy {
    buf *b;
    int (*skip)(struct copy *c, const jsonv_span *name, const jsonv_span *value);
    size_t copied;
    jsonv_span so; /* the client's stream_options, when the top object has them */
} copy;

/* A jsonv_member_fn: the member as it stands, after a comma when one came before it. */
static int copy_member(void *ctx, const jsonv_span *name, const jsonv_span *value)
{
    copy *c = ctx;
    if (c->skip(c, name, value))
        return 0;
    if (c->copied++)
        buf_addstr(c->b, ",");
    buf_add(c->b, name->p, name->n);
    buf_addstr(c->b, ":");
    buf_add(c->b, value->p, value->n);
    return 0;
}

/* The top object: chatd writes model, stream and stream_options itself. */
static int skip_chatds(copy *c, const jsonv_span *name, const jsonv_span *value)
{
    if (named(name, "stream_options")) {
        c->so = *value; /* req_parse let one stand at most */
        return 1;
    }
    return named(name, "model") || named(name, "stream");
}

/* The client's stream_options: chatd sets include_usage. */
static int skip_include_usage(copy *c, const jsonv_span *name, const jsonv_span *value)
{
    (void)c;
    (void)value;
    return named(name, "include_usage");
}

/* The client's text with only model, stream and stream_options chatd's: its members byte
 * for byte and in its order, chatd's three after them. stream_options keeps what the
 * client put in it but include_usage, which is true: chatd reports usage whether the
 * client asked for it or not. malloc'd JSON, or NULL (no memory). */
static char *raw_body(const chat_req *req, const char *model)
{
    size_t model_len = strlen(model);
    buf b;
    buf_init(&b, req->raw_len + 6 * model_len + BODY_MARGIN); /* \u escapes at worst */
    copy top = {&b, skip_chatds, 0, {NULL, 0, JSONV_NONE, 0}};
    buf_addstr(&b, "{");
    int rc = jsonv_members(req->raw, req->raw_len, copy_member, &top);
    buf_addstr(&b, top.copied ? ",\"model\":" : "\"model\":");
    jsonw_str(&b, model, model_len);
    buf_addstr(&b, ",\"stream\":true,\"stream_options\":{");
    copy so = {&b, skip_include_usage, 0, {NULL, 0, JSONV_NONE, 0}};
    if (rc == 0 && top.so.type == JSONV_OBJECT)
        rc = jsonv_members(top.so.p, top.so.n, copy_member, &so);
    buf_addstr(&b, so.copied ? ",\"include_usage\":true}}" : "\"include_usage\":true}}");
    char *body = rc == 0 && !buf_failed(&b) ? buf_take(&b) : NULL;
    buf_free(&b);
    return body;
}

static char *upstream_body(const chat_req *req, const char *model)
{
    return req->raw ? raw_body(req, model) : tree_body(req, model);
}

static int openai_build(const chat_req *req, const char *base_url, const char *api_key,
                        const char *model, prov_http *out, char *err, size_t errsz)
{
    memset(out, 0, sizeof(*out));
    if (req->n > 1) {
        snprintf(err, errsz, "n: chatd streams a single choice (n must be 1)");
        return PROV_BUILD_UNSUPPORTED;
    }
    if (!cJSON_IsObject(req->root)) {
        snprintf(err, errsz, "messages: no request to send");
        return PROV_BUILD_INVALID;
    }
    if (!base_url || !*base_url)
        base_url = prov_openai.default_url;
    return prov_build_http(out, &ENDPOINT, base_url, api_key, upstream_body(req, model));
}

/* ---- error reasons ---- */

/* FastAPI-style servers: "detail" is a string or a list of {"msg": ...}. */
static const char *detail_reason(const cJSON *d)
{
    if (cJSON_IsString(d))
        return prov_nonempty(d);
    if (cJSON_IsArray(d))
        d = cJSON_GetArrayItem(d, 0);
    const char *m = prov_nonempty(prov_get(d, "msg"));
    return m ? m : prov_nonempty(prov_get(d, "message"));
}

static const char *json_reason(const cJSON *root)
{
    const cJSON *e = prov_get(root, "error");
    const char *m = cJSON_IsString(e) ? prov_nonempty(e) : prov_nonempty(prov_get(e, "message"));
    if (!m)
        m = prov_nonempty(prov_get(root, "message"));
    if (!m)
        m = detail_reason(prov_get(root, "detail"));
    if (!m)
        m = prov_nonempty(prov_get(e, "type"));
    if (!m)
        m = prov_nonempty(prov_get(e, "code"));
    return m;
}

static void openai_error_reason(const char *body, size_t n, char *out, size_t outsz)
{
    prov_error_reason(body, n, json_reason, out, outsz);
}

/* ---- stream ---- */

/* e: the error object, or the whole body of an "error" event when it has none. */
static const char *error_type(const cJSON *e)
{
    const char *t = prov_nonempty(prov_get(e, "type"));
    if (!t)
        t = prov_nonempty(prov_get(e, "code"));
    return t ? t : "upstream_error";
}

static int report_error(const prov_sink *k, const cJSON *root, const char *data, size_t n)
{
    const cJSON *e = prov_get(root, "error");
    return prov_report_error(k, error_type(cJSON_IsObject(e) ? e : root), data, n, json_reason);
}

static int is_started(const calls *c, int i)
{
    return c->started[i / 8] >> (i % 8) & 1;
}

/* One entry of delta.tool_calls: the call's start the first time its index comes with id
 * and function.name, then its arguments fragment when there is one. */
static int report_call(const prov_sink *k, calls *st, const cJSON *t)
{
    const cJSON *ix = prov_get(t, "index"), *f = prov_get(t, "function");
    const cJSON *a = prov_get(f, "arguments");
    double d = cJSON_IsNumber(ix) ? ix->valuedouble : -1;
    if (!(d >= 0 && d < LIM_TOOLS && floor(d) == d) ||
        (a && !cJSON_IsNull(a) && !cJSON_IsString(a)))
        return PROV_ERR_PARSE;
    int i = (int)d, rc = 0;
    const char *id = prov_nonempty(prov_get(t, "id")), *name = prov_nonempty(prov_get(f, "name"));
    const char *args = prov_nonempty(a);
    if (!is_started(st, i)) {
        if (!id || !name) /* a call's pieces before its start */
            return id || name || args ? PROV_ERR_PARSE : 0;
        st->started[i / 8] |= (unsigned char)(1u << (i % 8));
        rc = k->tool ? k->tool(k->ctx, i, id, name) : 0;
    }
    if (rc == 0 && args && k->tool_args)
        rc = k->tool_args(k->ctx, i, args, strlen(args));
    return rc;
}

static int report_calls(const prov_sink *k, calls *st, const cJSON *tc)
{
    if (!tc || cJSON_IsNull(tc))
        return 0;
    if (!cJSON_IsArray(tc))
        return PROV_ERR_PARSE;
    const cJSON *t;
    cJSON_ArrayForEach(t, tc)
    {
        int rc = cJSON_IsObject(t) ? report_call(k, st, t) : PROV_ERR_PARSE;
        if (rc)
            return rc;
    }
    return 0;
}

/* Reasoning, text, tool calls, finish: a chunk holding several keeps that order. */
static int report_choice(const prov_sink *k, calls *st, const cJSON *c)
{
    const cJSON *d = prov_get(c, "delta");
    const char *r = prov_nonempty(prov_get(d, "reasoning_content"));
    if (!r)
        r = prov_nonempty(prov_get(d, "reasoning"));
    int rc = prov_report_text(k->reasoning, k->ctx, r);
    if (rc == 0)
        rc = prov_report_text(k->text, k->ctx, prov_nonempty(prov_get(d, "content")));
    if (rc == 0)
        rc = report_calls(k, st, prov_get(d, "tool_calls"));
    const char *fr = prov_nonempty(prov_get(c, "finish_reason"));
    if (rc == 0 && fr && k->finish)
        rc = k->finish(k->ctx, fr);
    return rc;
}

static int report_usage(const prov_sink *k, const cJSON *u)
{
    long in = prov_tokens(prov_get(u, "prompt_tokens"));
    long out = prov_tokens(prov_get(u, "completion_tokens"));
    return k->usage && in >= 0 && out >= 0 ? k->usage(k->ctx, in, out) : 0;
}

static int report_chunk(const prov_sink *k, calls *st, const cJSON *root, const char *data,
                        size_t n)
{
    const cJSON *e = prov_get(root, "error");
    if (e && !cJSON_IsNull(e))
        return report_error(k, root, data, n);
    const cJSON *choices = prov_get(root, "choices");
    const cJSON *c = cJSON_IsArray(choices) ? cJSON_GetArrayItem(choices, 0) : NULL;
    int rc = report_choice(k, st, c);
    return rc ? rc : report_usage(k, prov_get(root, "usage"));
}

/* The tree reading with the calls started so far in st. */
static int chunk_tree(const prov_sink *k, calls *st, const char *data, size_t n)
{
    cJSON *root = prov_parse_exact(data, n);
    int rc = cJSON_IsObject(root) ? report_chunk(k, st, root, data, n) : PROV_ERR_PARSE;
    cJSON_Delete(root);
    return rc;
}

int prov_openai_chunk_tree(const prov_sink *k, const char *data, size_t n)
{
    calls none = {{0}};
    return chunk_tree(k, &none, data, n);
}

/* ---- stream: the common chunk, read without a tree ----
 * Nearly every chunk is a small object whose report needs at most three strings. One
 * jsonv_find pass checks the text and finds them; report_chunk's rules are then applied
 * to those spans. Text jsonv accepts without a note, cJSON parses too, to the same values,
 * so there the two readings agree. All else goes to the tree, which stays the reference:
 * text jsonv refuses or notes (cJSON may be lenient, or cut a string at \u0000, or fail),
 * an error, a usage object, tool calls, strings the scratch buffer cannot hold. */

/* Unescaped strings (and the finish reason, which needs a NUL) of one chunk; on the
 * stack. Longer ones take the tree. */
#define CHUNK_SCRATCH 4096

enum {
    AT_ROOT,
    AT_ERROR,
    AT_USAGE,
    AT_REASONING_CONTENT,
    AT_REASONING,
    AT_CONTENT,
    AT_FINISH,
    AT_TOOL_CALLS,
    N_AT
};

#define DELTA JSONV_KEY("choices"), JSONV_AT(0), JSONV_KEY("delta")
static const jsonv_step ERROR_STEPS[] = {JSONV_KEY("error")};
static const jsonv_step USAGE_STEPS[] = {JSONV_KEY("usage")};
static const jsonv_step REASONING_CONTENT_STEPS[] = {DELTA, JSONV_KEY("reasoning_content")};
static const jsonv_step REASONING_STEPS[] = {DELTA, JSONV_KEY("reasoning")};
static const jsonv_step CONTENT_STEPS[] = {DELTA, JSONV_KEY("content")};
static const jsonv_step TOOL_CALLS_STEPS[] = {DELTA, JSONV_KEY("tool_calls")};
static const jsonv_step FINISH_STEPS[] = {JSONV_KEY("choices"), JSONV_AT(0),
                                          JSONV_KEY("finish_reason")};
#undef DELTA

static const jsonv_path CHUNK_PATHS[N_AT] = {
    [AT_ROOT] = {NULL, 0},
    [AT_ERROR] = JSONV_PATH(ERROR_STEPS),
    [AT_USAGE] = JSONV_PATH(USAGE_STEPS),
    [AT_REASONING_CONTENT] = JSONV_PATH(REASONING_CONTENT_STEPS),
    [AT_REASONING] = JSONV_PATH(REASONING_STEPS),
    [AT_CONTENT] = JSONV_PATH(CONTENT_STEPS),
    [AT_FINISH] = JSONV_PATH(FINISH_STEPS),
    [AT_TOOL_CALLS] = JSONV_PATH(TOOL_CALLS_STEPS),
};

typedef struct scratch {
    char b[CHUNK_SCRATCH];
    size_t used;
} scratch;

typedef struct taken {
    const char *p; /* NULL: none (prov_nonempty's NULL) */
    size_t n;
} taken;

/* prov_nonempty for a span: v's value when it is a non-empty string, in place when it
 * holds no escape and nul is 0, else unescaped into sc with a NUL after it. -1 when it
 * does not fit. (jsonv refused \u0000, so an empty value is exactly the text "".) */
static int take(const jsonv_span *v, int nul, scratch *sc, taken *t)
{
    *t = (taken){NULL, 0};
    if (v->type != JSONV_STRING || v->n <= 2)
        return 0;
    if (!v->escaped && !nul) {
        *t = (taken){v->p + 1, v->n - 2};
        return 0;
    }
    long m = jsonv_unescape(v, sc->b + sc->used, sizeof(sc->b) - sc->used);
    if (m < 0)
        return -1;
    *t = (taken){sc->b + sc->used, (size_t)m};
    sc->used += (size_t)m + 1;
    return 0;
}

/* report_choice on spans; every string is taken before the first sink call, so that a
 * chunk the scratch cannot hold goes to the tree with nothing reported. */
static int take_choice(const jsonv_span *v, scratch *sc, taken *r, taken *t, taken *fr)
{
    if (take(&v[AT_REASONING_CONTENT], 0, sc, r) < 0)
        return -1;
    if (!r->p && take(&v[AT_REASONING], 0, sc, r) < 0)
        return -1;
    if (take(&v[AT_CONTENT], 0, sc, t) < 0)
        return -1;
    return take(&v[AT_FINISH], 1, sc, fr);
}

static int report_taken(const prov_sink *k, const taken *r, const taken *t, const taken *fr)
{
    int rc = r->p && k->reasoning ? k->reasoning(k->ctx, r->p, r->n) : 0;
    if (rc == 0 && t->p && k->text)
        rc = k->text(k->ctx, t->p, t->n);
    if (rc == 0 && fr->p && k->finish)
        rc = k->finish(k->ctx, fr->p);
    return rc;
}

int prov_openai_chunk_fast(const prov_sink *k, const char *data, size_t n, int *rc)
{
    jsonv_span v[N_AT];
    unsigned notes;
    if (jsonv_find(data, n, CHUNK_PATHS, N_AT, v, &notes, NULL) < 0 || notes)
        return 0; /* what cJSON makes of it is the tree's business */
    if (v[AT_ROOT].type != JSONV_OBJECT)
        return 0;
    if (v[AT_ERROR].type != JSONV_NONE && v[AT_ERROR].type != JSONV_NULL)
        return 0;
    if (v[AT_USAGE].type == JSONV_OBJECT)
        return 0; /* (any other usage reports nothing, as prov_get gives NULL) */
    if (v[AT_TOOL_CALLS].type != JSONV_NONE && v[AT_TOOL_CALLS].type != JSONV_NULL)
        return 0; /* tool calls need the calls started so far: the stream's tree reading */
    scratch sc;
    sc.used = 0;
    taken r, t, fr;
    if (take_choice(v, &sc, &r, &t, &fr) < 0)
        return 0;
    *rc = report_taken(k, &r, &t, &fr);
    return 1;
}

static int report_message(prov_stream *s, const char *data, size_t n)
{
    int rc;
    if (prov_openai_chunk_fast(s->sink, data, n, &rc))
        return rc;
    return chunk_tree(s->sink, &s->calls, data, n);
}

static int report_error_event(const prov_sink *k, const char *data, size_t n)
{
    cJSON *root = prov_parse_exact(data, n);
    int rc = report_error(k, root, data, n);
    cJSON_Delete(root);
    return rc;
}

/* Only "message" events carry chunks; some servers send an "error" event instead. */
static int handle_event(prov_stream *s, const ssep_event *ev)
{
    const prov_sink *k = s->sink;
    int is_error = strcmp(ev->type, "error") == 0;
    if ((!is_error && strcmp(ev->type, "message") != 0) || ev->data_len == 0)
        return 0; /* an empty "data:" carries nothing to report */
    if (is_error)
        return report_error_event(k, ev->data, ev->data_len);
    if (strcmp(ev->data, "[DONE]") == 0)
        return k->end ? k->end(k->ctx) : 0;
    return report_message(s, ev->data, ev->data_len);
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
