/* Fuzz target: the request translation. The input is a JSON body. When req_parse
 * (REQ_OPENAI) accepts it, each provider builds its upstream request (fixed URL, key and
 * model): a build either succeeds with a body that is JSON cJSON parses, or fails with a
 * known code and a one-line reason naming the field. The OpenAI-compatible body is the
 * request as sent but for model, stream and stream_options, and from a request's text its
 * other members are that text byte for byte, in order. The same bytes as an Anthropic
 * Messages request: what anth_in translates, req_parse accepts (and the providers build).
 * No crash, no leak, no undefined behaviour. */
#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "anth_in.h"
#include "fuzz.h"
#include "jsonv.h"
#include "prov.h"
#include "prov_anthropic.h"
#include "prov_ollama.h"
#include "prov_openai.h"
#include "req.h"

#define URL "http://127.0.0.1:9/v1"
#define KEY "sk-fuzz"
#define MODEL "fuzz-model"

static const prov *const PROVS[] = {&prov_openai, &prov_anthropic, &prov_ollama};

static void check_reason(const prov *p, const char *err, size_t errsz)
{
    size_t n = strnlen(err, errsz);
    FUZZ_CHECK(n > 0 && n < errsz, "%s: a failed build without a reason", p->name);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK((unsigned char)err[i] >= 0x20, "%s: control byte in the reason \"%s\"", p->name,
                   err);
}

/* o without its members named key (all of them: a request may repeat a name). */
static void drop_all(cJSON *o, const char *key)
{
    for (cJSON *c = o->child, *next; c; c = next) {
        next = c->next;
        if (c->string && !strcmp(c->string, key))
            cJSON_Delete(cJSON_DetachItemViaPointer(o, c));
    }
}

/* The OpenAI-compatible body: model and stream chatd's, stream_options.include_usage true,
 * everything else as the client sent it. */
static void check_openai_body(const chat_req *req, const cJSON *body)
{
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(body, "model");
    FUZZ_CHECK(cJSON_IsString(model) && !strcmp(model->valuestring, MODEL), "openai: model");
    FUZZ_CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "stream")), "openai: stream");
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(body, "stream_options");
    FUZZ_CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(so, "include_usage")),
               "openai: stream_options.include_usage");
    cJSON *want = cJSON_Duplicate(req->root, 1), *got = cJSON_Duplicate(body, 1);
    FUZZ_CHECK(want && got, "out of memory");
    static const char *const OWN[] = {"model", "stream", "stream_options"};
    for (size_t i = 0; i < sizeof(OWN) / sizeof(OWN[0]); i++) {
        drop_all(want, OWN[i]);
        drop_all(got, OWN[i]);
    }
    /* compared as printed: cJSON_Compare pairs members by name, so it cannot compare
     * objects that repeat a name, which a request may */
    char *w = cJSON_PrintUnformatted(want), *g = cJSON_PrintUnformatted(got);
    FUZZ_CHECK(w && g, "out of memory");
    FUZZ_CHECK(!strcmp(w, g),
               "openai: the body is not the request as sent\n  sent %.400s\n  built %.400s", w, g);
    free(w);
    free(g);
    cJSON_Delete(want);
    cJSON_Delete(got);
}

/* The client's members but chatd's three, each as its text, joined by commas. */
typedef struct kept {
    char *p;
    size_t n, cap;
} kept;

static int chatds(const jsonv_span *name)
{
    char nm[32];
    return jsonv_unescape(name, nm, sizeof(nm)) >= 0 &&
           (!strcmp(nm, "model") || !strcmp(nm, "stream") || !strcmp(nm, "stream_options"));
}

static int keep_member(void *ctx, const jsonv_span *name, const jsonv_span *value)
{
    kept *k = ctx;
    if (chatds(name))
        return 0;
    FUZZ_CHECK(k->n + name->n + value->n + 2 <= k->cap, "members longer than their text");
    if (k->n)
        k->p[k->n++] = ',';
    memcpy(k->p + k->n, name->p, name->n);
    k->n += name->n;
    k->p[k->n++] = ':';
    memcpy(k->p + k->n, value->p, value->n);
    k->n += value->n;
    return 0;
}

/* From a request's text, the OpenAI-compatible body is "{", its members but chatd's three
 * byte for byte, then chatd's model. */
static void check_openai_text(const chat_req *req, const char *body)
{
    kept k = {malloc(req->raw_len + 2), 0, req->raw_len + 2};
    FUZZ_CHECK(k.p, "out of memory");
    FUZZ_CHECK(jsonv_members(req->raw, req->raw_len, keep_member, &k) == 0,
               "jsonv_members refused a request req_parse accepted");
    FUZZ_CHECK(body[0] == '{' && !strncmp(body + 1, k.p, k.n),
               "openai: the members are not the client's text\n  sent %.*s\n  built %.400s",
               (int)(req->raw_len < 400 ? req->raw_len : 400), req->raw, body);
    const char *ours = body + 1 + k.n + (k.n ? 1 : 0);
    FUZZ_CHECK(!k.n || body[1 + k.n] == ',', "openai: no comma after the client's members");
    static const char OURS[] = "\"model\":\"" MODEL "\",\"stream\":true,\"stream_options\":{";
    FUZZ_CHECK(!strncmp(ours, OURS, sizeof(OURS) - 1),
               "openai: chatd's members do not follow the client's: %.400s", ours);
    free(k.p);
}

/* Every provider's build of one accepted request. */
static void build_all(const chat_req *req)
{
    for (size_t i = 0; i < sizeof(PROVS) / sizeof(PROVS[0]); i++) {
        const prov *p = PROVS[i];
        prov_http h;
        char err[256] = "";
        int rc = p->build(req, URL, KEY, MODEL, &h, err, sizeof(err));
        FUZZ_CHECK(rc == 0 || rc == PROV_BUILD_UNSUPPORTED || rc == PROV_BUILD_INVALID,
                   "%s: build returned %d (%s)", p->name, rc, err);
        if (rc != 0) {
            FUZZ_CHECK(!h.url && !h.headers && !h.body, "%s: a failed build left a request",
                       p->name);
            check_reason(p, err, sizeof(err));
            continue;
        }
        FUZZ_CHECK(h.url && h.headers && h.body, "%s: a built request without url, headers or body",
                   p->name);
        FUZZ_CHECK(!strncmp(h.url, URL, strlen(URL)), "%s: url %s", p->name, h.url);
        cJSON *body = prov_parse_exact(h.body, strlen(h.body));
        FUZZ_CHECK(cJSON_IsObject(body), "%s: the body is not one JSON object: %.400s", p->name,
                   h.body);
        if (p == &prov_openai)
            check_openai_body(req, body);
        if (p == &prov_openai && req->raw)
            check_openai_text(req, h.body);
        cJSON_Delete(body);
        prov_http_free(&h);
    }
}

/* The bytes as an OpenAI request: parsed, then built by each provider. */
static void openai_request(const char *d, size_t n)
{
    chat_req req;
    char err[160];
    if (req_parse(d, n, REQ_OPENAI, NULL, &req, err, sizeof(err)) != 0)
        return;
    build_all(&req);
    req_free(&req);
}

/* The bytes as an Anthropic request: what anth_in translates is an OpenAI request chatd
 * accepts. */
static void anthropic_request(const char *d, size_t n)
{
    char *out = NULL, err[256] = "";
    int rc = anth_in_translate(d, n, &out, err, sizeof(err));
    FUZZ_CHECK(rc == 0 || rc == ANTH_IN_INVALID || rc == ANTH_IN_UNSUPPORTED,
               "anth_in_translate returned %d (%s)", rc, err);
    if (rc != 0) {
        FUZZ_CHECK(!out, "anth_in: a failed translation left a body");
        size_t en = strnlen(err, sizeof(err));
        FUZZ_CHECK(en > 0 && en < sizeof(err), "anth_in: failed without a reason");
        return;
    }
    FUZZ_CHECK(out, "anth_in: success without a body");
    chat_req req;
    char perr[160] = "";
    size_t on = strlen(out);
    FUZZ_CHECK(req_parse(out, on, REQ_OPENAI, NULL, &req, perr, sizeof(perr)) == 0,
               "anth_in's request is refused by req_parse: %s\n  request %.600s", perr, out);
    build_all(&req);
    req_free(&req);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    openai_request((const char *)d, n);
    anthropic_request((const char *)d, n);
    return 0;
}
