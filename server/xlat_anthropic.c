/* xlat_anthropic — see xlat_anthropic.h.
 *
 * Every array and object of the body is added to its parent as soon as it is made, so the
 * body tree is the one owner of everything built: on any failure the caller's one
 * cJSON_Delete releases it all. A JSON null counts as an absent field, as in OpenAI's API. */
#include "xlat_anthropic.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "jsonv.h"
#include "prov.h"

#define PATH_MAX_LEN 128  /* "messages[1023].tool_calls[99].function" and a bit */
#define MEDIA_TYPE_MAX 64 /* a data: URL's media type, bytes */
#define THINKING_MIN 1024 /* Anthropic's smallest budget_tokens */
#define TOKENS_MAX 1e15   /* larger counts are nonsense, not sent on */

typedef struct xlat {
    char *err;
    size_t errsz;
    int rc; /* the first failure's code; its reason is in err */
} xlat;

static int fail(xlat *x, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(xlat *x, int rc, const char *fmt, ...)
{
    if (x->rc == 0) {
        x->rc = rc;
        if (x->err) {
            va_list ap;
            va_start(ap, fmt);
            prov_vreason(x->err, x->errsz, fmt, ap);
            va_end(ap);
        }
    }
    return -1;
}

static int nomem(xlat *x)
{
    return fail(x, PROV_BUILD_NOMEM, "out of memory");
}

static int not_supported(xlat *x, const char *path)
{
    char safe[PATH_MAX_LEN];
    prov_field_name(safe, sizeof(safe), path);
    return fail(x, PROV_BUILD_UNSUPPORTED, "%s is not supported by Anthropic", safe);
}

/* ---- small helpers ---- */

/* A field's path for a message, such as messages[2].content[0]; cut short when longer. */
static void pathf(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void pathf(char *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, PATH_MAX_LEN, fmt, ap);
    va_end(ap);
}

static int present(const cJSON *v)
{
    return v && !cJSON_IsNull(v);
}

static int is(const cJSON *s, const char *want)
{
    const char *v = cJSON_GetStringValue(s);
    return v && strcmp(v, want) == 0;
}

/* A whole number in [lo, TOKENS_MAX]. */
static int is_count(const cJSON *v, double lo)
{
    return cJSON_IsNumber(v) && v->valuedouble >= lo && v->valuedouble <= TOKENS_MAX &&
           v->valuedouble == (double)(long long)v->valuedouble;
}

/* v (taken) as o[key], or appended to arr: 0, or -1 with v deleted (no memory, reported). */
static int put(xlat *x, cJSON *o, const char *key, cJSON *v)
{
    return prov_put(o, key, v) < 0 ? nomem(x) : 0;
}

static int push(xlat *x, cJSON *arr, cJSON *v)
{
    return prov_push(arr, v) < 0 ? nomem(x) : 0;
}

/* A new object appended to arr, or NULL (no memory, reported). */
static cJSON *new_in(xlat *x, cJSON *arr)
{
    cJSON *o = cJSON_CreateObject();
    return push(x, arr, o) == 0 ? o : NULL;
}

static int put_str(xlat *x, cJSON *o, const char *key, const char *s)
{
    return cJSON_AddStringToObject(o, key, s) ? 0 : nomem(x);
}

static int put_num(xlat *x, cJSON *o, const char *key, double n)
{
    return cJSON_AddNumberToObject(o, key, n) ? 0 : nomem(x);
}

/* A copy of v as o[key]. */
static int put_copy(xlat *x, cJSON *o, const char *key, const cJSON *v)
{
    return put(x, o, key, cJSON_Duplicate(v, 1));
}

/* ---- content parts -> blocks ---- */

/* Which parts a role's content may hold besides text. */
enum { ALLOW_IMAGE = 1, ALLOW_REFUSAL = 2 };

/* {"type":"text","text":s}; Anthropic refuses empty text blocks, so "" adds nothing. */
static int add_text(xlat *x, cJSON *dst, const char *s)
{
    if (!*s)
        return 0;
    cJSON *b = new_in(x, dst);
    if (!b || put_str(x, b, "type", "text") < 0 || put_str(x, b, "text", s) < 0)
        return -1;
    return 0;
}

/* The media types Anthropic's image blocks take. */
static const char *const MEDIA_TYPES[] = {"image/jpeg", "image/png", "image/gif", "image/webp"};

/* data:MEDIA[;params];base64,DATA -> {"type":"base64","media_type":MEDIA,"data":DATA}. */
static int data_source(xlat *x, cJSON *src, const char *url, const char *path)
{
    const char *head = url + 5, *comma = strchr(head, ',');
    size_t hn = comma ? (size_t)(comma - head) : 0;
    if (!comma || hn < 7 || strncasecmp(comma - 7, ";base64", 7) != 0)
        return fail(x, PROV_BUILD_UNSUPPORTED,
                    "%s.image_url.url: Anthropic supports only base64 data: URLs", path);
    size_t mn = strcspn(head, ";,");
    const char *media = NULL;
    for (size_t i = 0; i < sizeof(MEDIA_TYPES) / sizeof(MEDIA_TYPES[0]) && !media; i++)
        if (mn == strlen(MEDIA_TYPES[i]) && strncasecmp(head, MEDIA_TYPES[i], mn) == 0)
            media = MEDIA_TYPES[i];
    if (!media) {
        char raw[MEDIA_TYPE_MAX], got[MEDIA_TYPE_MAX];
        snprintf(raw, sizeof(raw), "%.*s", (int)(mn < sizeof(raw) ? mn : sizeof(raw) - 1), head);
        prov_field_name(got, sizeof(got), raw); /* the client's text, made safe */
        return fail(x, PROV_BUILD_UNSUPPORTED,
                    "%s.image_url.url: media type \"%s\" is not supported by Anthropic "
                    "(image/jpeg, image/png, image/gif, image/webp)",
                    path, got);
    }
    if (!comma[1])
        return fail(x, PROV_BUILD_INVALID, "%s.image_url.url has no data", path);
    if (put_str(x, src, "type", "base64") < 0 || put_str(x, src, "media_type", media) < 0 ||
        put_str(x, src, "data", comma + 1) < 0)
        return -1;
    return 0;
}

/* An image_url part (path names it) -> an image block, from a data: or https: URL. */
static int add_image(xlat *x, cJSON *dst, const cJSON *part, const char *path)
{
    const cJSON *iu = prov_get(part, "image_url");
    const char *url = cJSON_GetStringValue(prov_get(iu, "url"));
    if (!url)
        return fail(x, PROV_BUILD_INVALID, "%s.image_url.url must be a string", path);
    const cJSON *detail = prov_get(iu, "detail");
    if (present(detail) && !is(detail, "auto"))
        return fail(x, PROV_BUILD_UNSUPPORTED,
                    "%s.image_url.detail: Anthropic supports only \"auto\"", path);
    int data = strncasecmp(url, "data:", 5) == 0;
    if (!data && strncasecmp(url, "https://", 8) != 0)
        return fail(x, PROV_BUILD_UNSUPPORTED,
                    "%s.image_url.url: Anthropic supports only data: and https: URLs", path);
    cJSON *b = new_in(x, dst), *src;
    if (!b || put_str(x, b, "type", "image") < 0)
        return -1;
    if (!(src = cJSON_AddObjectToObject(b, "source")))
        return nomem(x);
    if (data)
        return data_source(x, src, url, path);
    if (put_str(x, src, "type", "url") < 0 || put_str(x, src, "url", url) < 0)
        return -1;
    return 0;
}

/* One part of messages[i].content (path names it). */
static int add_part(xlat *x, cJSON *dst, const cJSON *part, int allow, const char *path)
{
    const char *type = cJSON_GetStringValue(prov_get(part, "type"));
    if (!type)
        return fail(x, PROV_BUILD_INVALID, "%s.type must be a string", path);
    if (strcmp(type, "text") == 0) {
        const char *t = cJSON_GetStringValue(prov_get(part, "text"));
        return t ? add_text(x, dst, t)
                 : fail(x, PROV_BUILD_INVALID, "%s.text must be a string", path);
    }
    if (strcmp(type, "image_url") == 0 && (allow & ALLOW_IMAGE))
        return add_image(x, dst, part, path);
    /* an assistant's refusal is what it said: it goes back as its text */
    if (strcmp(type, "refusal") == 0 && (allow & ALLOW_REFUSAL)) {
        const char *t = cJSON_GetStringValue(prov_get(part, "refusal"));
        return t ? add_text(x, dst, t)
                 : fail(x, PROV_BUILD_INVALID, "%s.refusal must be a string", path);
    }
    /* input_audio, file, and image_url where the role cannot hold one */
    return fail(x, PROV_BUILD_UNSUPPORTED, "%s (%s) is not supported by Anthropic", path, type);
}

/* content, a string or an array of parts, as blocks appended to dst; null adds nothing.
 * path names the content. */
static int add_content(xlat *x, cJSON *dst, const cJSON *content, int allow, const char *path)
{
    if (!present(content))
        return 0;
    if (cJSON_IsString(content))
        return add_text(x, dst, content->valuestring);
    if (!cJSON_IsArray(content))
        return fail(x, PROV_BUILD_INVALID, "%s must be a string or an array of parts", path);
    size_t j = 0;
    for (const cJSON *p = content->child; p; p = p->next, j++) {
        char pp[PATH_MAX_LEN];
        pathf(pp, "%s[%zu]", path, j);
        if (add_part(x, dst, p, allow, pp) < 0)
            return -1;
    }
    return 0;
}

/* ---- tool calls and results ---- */

/* A call's arguments as the object Anthropic's input takes: "" (what OpenAI sends for a
 * call without arguments) and absent are {}; an object sent as it is stays one. */
static int put_input(xlat *x, cJSON *b, const cJSON *args, const char *path)
{
    if (cJSON_IsObject(args))
        return put_copy(x, b, "input", args);
    if (present(args) && !cJSON_IsString(args))
        return fail(x, PROV_BUILD_INVALID, "%s.function.arguments must be a string", path);
    const char *s = present(args) ? args->valuestring : "";
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        n--;
    if (n == 0)
        return cJSON_AddObjectToObject(b, "input") ? 0 : nomem(x);
    const char *why;
    size_t lead = strspn(s, " \t\r\n");
    if (s[lead] != '{' || jsonv_check(s, n, &why) < 0) /* checked first: then NULL is memory */
        return fail(x, PROV_BUILD_INVALID, "%s.function.arguments must be a JSON object", path);
    return put(x, b, "input", prov_parse_exact(s, n));
}

/* tool_calls[k] (path names it) -> {"type":"tool_use","id","name","input"}. */
static int add_tool_use(xlat *x, cJSON *dst, const cJSON *call, const char *path)
{
    const cJSON *type = prov_get(call, "type");
    if (present(type) && !is(type, "function"))
        return fail(x, PROV_BUILD_UNSUPPORTED, "%s.type: Anthropic supports only \"function\"",
                    path);
    const char *id = prov_nonempty(prov_get(call, "id"));
    if (!id)
        return fail(x, PROV_BUILD_INVALID, "%s.id must be a non-empty string", path);
    const cJSON *fn = prov_get(call, "function");
    const char *name = prov_nonempty(prov_get(fn, "name"));
    if (!name)
        return fail(x, PROV_BUILD_INVALID, "%s.function.name must be a non-empty string", path);
    cJSON *b = new_in(x, dst);
    if (!b || put_str(x, b, "type", "tool_use") < 0 || put_str(x, b, "id", id) < 0 ||
        put_str(x, b, "name", name) < 0)
        return -1;
    return put_input(x, b, prov_get(fn, "arguments"), path);
}

static int add_tool_calls(xlat *x, cJSON *dst, const cJSON *calls, const char *path)
{
    if (!present(calls))
        return 0;
    if (!cJSON_IsArray(calls))
        return fail(x, PROV_BUILD_INVALID, "%s.tool_calls must be an array", path);
    size_t k = 0;
    for (const cJSON *c = calls->child; c; c = c->next, k++) {
        char cp[PATH_MAX_LEN];
        pathf(cp, "%s.tool_calls[%zu]", path, k);
        if (add_tool_use(x, dst, c, cp) < 0)
            return -1;
    }
    return 0;
}

/* A tool message -> {"type":"tool_result","tool_use_id","content": the string or the
 * parts as blocks}. */
static int add_tool_result(xlat *x, cJSON *dst, const cJSON *m, const char *path)
{
    const char *id = prov_nonempty(prov_get(m, "tool_call_id"));
    if (!id)
        return fail(x, PROV_BUILD_INVALID, "%s.tool_call_id must be a non-empty string", path);
    cJSON *b = new_in(x, dst), *parts;
    if (!b || put_str(x, b, "type", "tool_result") < 0 || put_str(x, b, "tool_use_id", id) < 0)
        return -1;
    const cJSON *c = prov_get(m, "content");
    char cp[PATH_MAX_LEN];
    pathf(cp, "%s.content", path);
    if (!present(c))
        return 0;
    if (cJSON_IsString(c))
        return put_str(x, b, "content", c->valuestring);
    if (!cJSON_IsArray(c))
        return fail(x, PROV_BUILD_INVALID, "%s must be a string or an array of parts", cp);
    if (!(parts = cJSON_AddArrayToObject(b, "content")))
        return nomem(x);
    return add_content(x, parts, c, ALLOW_IMAGE, cp);
}

/* ---- messages ---- */

/* The fields each role may carry (non-null), space-separated; any other is refused.
 * reasoning_content is an earlier answer's thinking: Anthropic takes thinking back only with
 * the signature it made, which OpenAI's shape has no room for; annotations are an earlier
 * answer's citations, which Anthropic takes only as its own citation blocks. Both are
 * refused unless empty (clients echo "" and [] back), like any field without an
 * equivalent. */
static const struct {
    const char *role;
    const char *fields;
} ROLES[] = {
    {"system", "role content"},
    {"developer", "role content"},
    {"user", "role content"},
    {"assistant", "role content tool_calls refusal"},
    {"tool", "role content tool_call_id"},
};

static int has_word(const char *list, const char *w)
{
    size_t n = strlen(w);
    if (n == 0) /* strstr finds "" everywhere: p would never move on */
        return 0;
    for (const char *p = list; (p = strstr(p, w)); p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return 1;
    return 0;
}

/* An earlier answer's reasoning_content "" or annotations []: nothing to carry. */
static int empty_output(const cJSON *f)
{
    if (!f->string)
        return 0;
    if (!strcmp(f->string, "reasoning_content"))
        return cJSON_IsString(f) && !*f->valuestring;
    if (!strcmp(f->string, "annotations"))
        return cJSON_IsArray(f) && !f->child;
    return 0;
}

/* The role's row in ROLES, after checking m's fields against it; -1 refused. */
static int check_message(xlat *x, const cJSON *m, const char *path)
{
    if (!cJSON_IsObject(m))
        return fail(x, PROV_BUILD_INVALID, "%s must be an object", path);
    const char *role = cJSON_GetStringValue(prov_get(m, "role"));
    if (!role)
        return fail(x, PROV_BUILD_INVALID, "%s.role must be a string", path);
    int r = -1;
    for (int i = 0; i < (int)(sizeof(ROLES) / sizeof(ROLES[0])) && r < 0; i++)
        if (strcmp(role, ROLES[i].role) == 0)
            r = i;
    if (r < 0)
        return fail(x, PROV_BUILD_UNSUPPORTED,
                    "%s.role: Anthropic supports system, developer, user, assistant and tool",
                    path);
    for (const cJSON *f = m->child; f; f = f->next) {
        if (!present(f) || (f->string && has_word(ROLES[r].fields, f->string)) || empty_output(f))
            continue;
        char fp[PATH_MAX_LEN];
        pathf(fp, "%s.%s", path, f->string ? f->string : "");
        return not_supported(x, fp);
    }
    return r;
}

/* The turns being built: Anthropic wants user and assistant to alternate, so a message in
 * the role of the last turn adds its blocks to that turn. */
typedef struct turns {
    cJSON *arr;       /* messages */
    cJSON *last;      /* the last turn's content, or NULL */
    const char *role; /* the last turn's role */
} turns;

/* Moves blocks into a turn in role (the last one when it is in role); takes blocks. A
 * message that gave no blocks adds no turn. */
static int add_turn(xlat *x, turns *t, const char *role, cJSON *blocks)
{
    int rc = 0;
    if (blocks->child && (!t->last || strcmp(t->role, role) != 0)) {
        cJSON *m = new_in(x, t->arr);
        rc = !m || put_str(x, m, "role", role) < 0 ? -1 : 0;
        if (rc == 0 && !(t->last = cJSON_AddArrayToObject(m, "content")))
            rc = nomem(x);
        t->role = role;
    }
    for (cJSON *b; rc == 0 && (b = cJSON_DetachItemFromArray(blocks, 0));)
        cJSON_AddItemToArray(t->last, b); /* fails only for NULL arguments */
    cJSON_Delete(blocks);
    return rc;
}

/* One message's blocks into system (system, developer) or into a turn. */
static int add_message(xlat *x, cJSON *system, turns *t, const cJSON *m, const char *path)
{
    int r = check_message(x, m, path);
    if (r < 0)
        return -1;
    const char *role = ROLES[r].role;
    char cp[PATH_MAX_LEN];
    pathf(cp, "%s.content", path);
    const cJSON *content = prov_get(m, "content");
    if (r <= 1) /* system, developer: text only */
        return add_content(x, system, content, 0, cp);
    cJSON *blocks = cJSON_CreateArray();
    if (!blocks)
        return nomem(x);
    int rc;
    if (strcmp(role, "user") == 0) {
        rc = add_content(x, blocks, content, ALLOW_IMAGE, cp);
    } else if (strcmp(role, "tool") == 0) {
        role = "user"; /* tool results go back in a user turn, several in one */
        rc = add_tool_result(x, blocks, m, path);
    } else { /* assistant: its text, then its calls */
        const cJSON *refusal = prov_get(m, "refusal");
        rc = add_content(x, blocks, content, ALLOW_REFUSAL, cp);
        if (rc == 0 && present(refusal)) {
            char rp[PATH_MAX_LEN];
            pathf(rp, "%s.refusal", path);
            rc = add_content(x, blocks, refusal, 0, rp);
        }
        if (rc == 0)
            rc = add_tool_calls(x, blocks, prov_get(m, "tool_calls"), path);
    }
    if (rc < 0) {
        cJSON_Delete(blocks);
        return -1;
    }
    return add_turn(x, t, role, blocks);
}

static int add_messages(xlat *x, cJSON *o, const cJSON *req)
{
    const cJSON *msgs = prov_get(req, "messages");
    if (!cJSON_IsArray(msgs))
        return fail(x, PROV_BUILD_INVALID, "messages must be an array");
    cJSON *system = cJSON_AddArrayToObject(o, "system");
    turns t = {cJSON_AddArrayToObject(o, "messages"), NULL, NULL};
    if (!system || !t.arr)
        return nomem(x);
    size_t i = 0;
    for (const cJSON *m = msgs->child; m; m = m->next, i++) {
        char path[PATH_MAX_LEN];
        pathf(path, "messages[%zu]", i);
        if (add_message(x, system, &t, m, path) < 0)
            return -1;
    }
    if (!system->child)
        cJSON_DeleteItemFromObjectCaseSensitive(o, "system"); /* nothing to say */
    return 0;
}

/* ---- tools ---- */

/* tools[k] -> {"name","description","input_schema": parameters, or {"type":"object"}}.
 * Anthropic requires the schema's "type"; OpenAI's parameters describe an object, so a
 * schema without one (such as {}) gets "type":"object". */
static int add_tool(xlat *x, cJSON *dst, const cJSON *tool, const char *path)
{
    const cJSON *type = prov_get(tool, "type");
    if (present(type) && !is(type, "function"))
        return fail(x, PROV_BUILD_UNSUPPORTED, "%s.type: Anthropic supports only \"function\"",
                    path);
    const cJSON *fn = prov_get(tool, "function");
    const char *name = prov_nonempty(prov_get(fn, "name"));
    if (!name)
        return fail(x, PROV_BUILD_INVALID, "%s.function.name must be a non-empty string", path);
    const cJSON *desc = prov_get(fn, "description"), *params = prov_get(fn, "parameters");
    if (present(desc) && !cJSON_IsString(desc))
        return fail(x, PROV_BUILD_INVALID, "%s.function.description must be a string", path);
    if (present(params) && !cJSON_IsObject(params))
        return fail(x, PROV_BUILD_INVALID, "%s.function.parameters must be an object", path);
    if (cJSON_IsTrue(prov_get(fn, "strict"))) {
        char sp[PATH_MAX_LEN];
        pathf(sp, "%s.function.strict", path);
        return not_supported(x, sp);
    }
    cJSON *t = new_in(x, dst);
    if (!t || put_str(x, t, "name", name) < 0 ||
        (present(desc) && put_str(x, t, "description", desc->valuestring) < 0))
        return -1;
    cJSON *schema = present(params) ? cJSON_Duplicate(params, 1) : cJSON_CreateObject();
    if (put(x, t, "input_schema", schema) < 0)
        return -1;
    if (!cJSON_HasObjectItem(schema, "type") && put_str(x, schema, "type", "object") < 0)
        return -1;
    return 0;
}

/* The tools, if any; *n counts them. */
static int add_tools(xlat *x, cJSON *o, const cJSON *req, int *n)
{
    const cJSON *tools = prov_get(req, "tools");
    *n = 0;
    if (!present(tools))
        return 0;
    if (!cJSON_IsArray(tools))
        return fail(x, PROV_BUILD_INVALID, "tools must be an array");
    if (!tools->child)
        return 0;
    cJSON *arr = cJSON_AddArrayToObject(o, "tools");
    if (!arr)
        return nomem(x);
    for (const cJSON *t = tools->child; t; t = t->next, (*n)++) {
        char path[PATH_MAX_LEN];
        pathf(path, "tools[%d]", *n);
        if (add_tool(x, arr, t, path) < 0)
            return -1;
    }
    return 0;
}

/* OpenAI's tool_choice as Anthropic's type (auto, any, none, tool), *name set for tool; NULL
 * when absent; -1 in *bad when refused. */
static const char *choice_type(xlat *x, const cJSON *tc, const char **name, int *bad)
{
    static const char *const MAP[][2] = {{"auto", "auto"}, {"required", "any"}, {"none", "none"}};
    *name = NULL;
    *bad = 0;
    if (!present(tc))
        return NULL;
    for (size_t i = 0; cJSON_IsString(tc) && i < sizeof(MAP) / sizeof(MAP[0]); i++)
        if (strcmp(tc->valuestring, MAP[i][0]) == 0)
            return MAP[i][1];
    if (cJSON_IsObject(tc) && is(prov_get(tc, "type"), "function")) {
        *name = prov_nonempty(prov_get(prov_get(tc, "function"), "name"));
        if (*name)
            return "tool";
        *bad = fail(x, PROV_BUILD_INVALID, "tool_choice.function.name must be a non-empty string");
        return NULL;
    }
    if (cJSON_IsObject(tc)) /* allowed_tools, custom */
        *bad = fail(x, PROV_BUILD_UNSUPPORTED,
                    "tool_choice: Anthropic supports only auto, "
                    "required, none and a named function");
    else
        *bad = fail(x, PROV_BUILD_INVALID,
                    "tool_choice must be auto, required, none or {\"type\":\"function\",...}");
    return NULL;
}

/* tool_choice and parallel_tool_calls -> tool_choice {type, name, disable_parallel_tool_use}.
 * Without tools there is nothing to choose from: auto, none and parallel_tool_calls change
 * nothing then, and a call that must be made cannot be. */
static int add_tool_choice(xlat *x, cJSON *o, const cJSON *req, int n_tools)
{
    const cJSON *ptc = prov_get(req, "parallel_tool_calls");
    if (present(ptc) && !cJSON_IsBool(ptc))
        return fail(x, PROV_BUILD_INVALID, "parallel_tool_calls must be a boolean");
    const char *name;
    int bad;
    const char *type = choice_type(x, prov_get(req, "tool_choice"), &name, &bad);
    if (bad)
        return -1;
    int serial = cJSON_IsFalse(ptc);
    if (n_tools == 0)
        return type && (!strcmp(type, "any") || !strcmp(type, "tool"))
                   ? fail(x, PROV_BUILD_INVALID, "tool_choice needs tools")
                   : 0;
    if (!type && !serial)
        return 0;
    if (!type)
        type = "auto";
    cJSON *c = cJSON_AddObjectToObject(o, "tool_choice");
    if (!c || put_str(x, c, "type", type) < 0 || (name && put_str(x, c, "name", name) < 0))
        return c ? -1 : nomem(x);
    /* Anthropic's none takes no other field: no calls, none in parallel */
    if (serial && strcmp(type, "none") != 0 &&
        !cJSON_AddTrueToObject(c, "disable_parallel_tool_use"))
        return nomem(x);
    return 0;
}

/* ---- parameters ---- */

/* reasoning_effort -> thinking budget_tokens. Anthropic's budget is a token count that must
 * stay below max_tokens; OpenAI's efforts are levels. The budgets: minimal 1024 (Anthropic's
 * least), low 2048, medium 8192, high 16384; none thinks not at all. -1: not a level. */
static long effort_budget(const cJSON *e)
{
    static const struct {
        const char *level;
        long budget;
    } LEVELS[] = {
        {"none", 0}, {"minimal", THINKING_MIN}, {"low", 2048}, {"medium", 8192}, {"high", 16384},
    };
    for (size_t i = 0; i < sizeof(LEVELS) / sizeof(LEVELS[0]); i++)
        if (is(e, LEVELS[i].level))
            return LEVELS[i].budget;
    return -1;
}

/* max_tokens (from max_completion_tokens, else max_tokens, else the default) and thinking.
 * OpenAI counts reasoning tokens within max_completion_tokens, and Anthropic counts thinking
 * within max_tokens: so a client's limit is kept as it is and the budget fits inside it, at
 * most half of it (room for the answer); without a limit it is the budget plus the default. */
static int add_limits(xlat *x, cJSON *o, const cJSON *req)
{
    const char *field = "max_completion_tokens";
    const cJSON *m = prov_get(req, field);
    if (!present(m))
        m = prov_get(req, field = "max_tokens");
    if (present(m) && !is_count(m, 1))
        return fail(x, PROV_BUILD_INVALID, "%s must be a positive integer", field);
    double max = present(m) ? m->valuedouble : 0;
    const cJSON *e = prov_get(req, "reasoning_effort");
    long budget = present(e) ? effort_budget(e) : 0;
    if (budget < 0)
        return fail(x, PROV_BUILD_INVALID,
                    "reasoning_effort must be none, minimal, low, medium or high");
    if (budget > 0) {
        if (max == 0)
            max = (double)budget + XLAT_ANTHROPIC_MAX_TOKENS;
        else if (budget > max / 2)
            budget = (long)(max / 2);
        if (budget < THINKING_MIN)
            return fail(x, PROV_BUILD_UNSUPPORTED,
                        "reasoning_effort: Anthropic thinks only with %s of at least %d", field,
                        2 * THINKING_MIN);
        cJSON *t = cJSON_AddObjectToObject(o, "thinking");
        if (!t || put_str(x, t, "type", "enabled") < 0 ||
            put_num(x, t, "budget_tokens", (double)budget) < 0)
            return t ? -1 : nomem(x);
    }
    return put_num(x, o, "max_tokens", max > 0 ? max : XLAT_ANTHROPIC_MAX_TOKENS);
}

/* temperature (Anthropic's range is 0 to 1, OpenAI's 0 to 2), top_p, top_k. */
static int add_sampling(xlat *x, cJSON *o, const cJSON *req)
{
    const cJSON *t = prov_get(req, "temperature"), *p = prov_get(req, "top_p"),
                *k = prov_get(req, "top_k");
    if (present(t) && (!cJSON_IsNumber(t) || t->valuedouble < 0))
        return fail(x, PROV_BUILD_INVALID, "temperature must be a number from 0 to 2");
    if (present(t) && t->valuedouble > 1)
        return fail(x, PROV_BUILD_UNSUPPORTED, "temperature: Anthropic supports 0 to 1");
    if (present(p) && (!cJSON_IsNumber(p) || p->valuedouble < 0 || p->valuedouble > 1))
        return fail(x, PROV_BUILD_INVALID, "top_p must be a number from 0 to 1");
    if (present(k) && !is_count(k, 0))
        return fail(x, PROV_BUILD_INVALID, "top_k must be a non-negative integer");
    if ((present(t) && put_num(x, o, "temperature", t->valuedouble) < 0) ||
        (present(p) && put_num(x, o, "top_p", p->valuedouble) < 0) ||
        (present(k) && put_num(x, o, "top_k", k->valuedouble) < 0))
        return -1;
    return 0;
}

static int add_stop_seq(xlat *x, cJSON *arr, const cJSON *e)
{
    if (!cJSON_IsString(e))
        return fail(x, PROV_BUILD_INVALID, "stop must be a string or an array of strings");
    if (!*e->valuestring)
        return 0; /* "" stops at nothing */
    return push(x, arr, cJSON_CreateString(e->valuestring));
}

/* stop, a string or an array of strings -> stop_sequences. */
static int add_stop(xlat *x, cJSON *o, const cJSON *req)
{
    const cJSON *s = prov_get(req, "stop");
    if (!present(s))
        return 0;
    cJSON *arr = cJSON_AddArrayToObject(o, "stop_sequences");
    if (!arr)
        return nomem(x);
    if (!cJSON_IsArray(s) && add_stop_seq(x, arr, s) < 0)
        return -1;
    for (const cJSON *e = cJSON_IsArray(s) ? s->child : NULL; e; e = e->next)
        if (add_stop_seq(x, arr, e) < 0)
            return -1;
    if (!arr->child)
        cJSON_DeleteItemFromObjectCaseSensitive(o, "stop_sequences");
    return 0;
}

/* user -> metadata.user_id. */
static int add_user(xlat *x, cJSON *o, const cJSON *req)
{
    const cJSON *u = prov_get(req, "user");
    if (present(u) && !cJSON_IsString(u))
        return fail(x, PROV_BUILD_INVALID, "user must be a string");
    if (!present(u) || !*u->valuestring)
        return 0;
    cJSON *md = cJSON_AddObjectToObject(o, "metadata");
    return md ? put_str(x, md, "user_id", u->valuestring) : nomem(x);
}

/* ---- top-level fields ---- */

static int is_one(const cJSON *v)
{
    return cJSON_IsNumber(v) && v->valuedouble == 1;
}

static int is_zero(const cJSON *v)
{
    return cJSON_IsNumber(v) && v->valuedouble == 0;
}

static int is_empty_object(const cJSON *v)
{
    return cJSON_IsObject(v) && !v->child;
}

static int is_text_format(const cJSON *v)
{
    return cJSON_IsObject(v) && is(prov_get(v, "type"), "text") && cJSON_GetArraySize(v) == 1;
}

/* Every top-level field chatd knows for Anthropic. Those with a check have no Anthropic
 * equivalent but the value that asks for what Anthropic does anyway (only says what
 * that is); the others are chatd's own (model, stream, stream_options) or translated above.
 * Any field not here is refused by name. */
static const struct {
    const char *name;
    int (*ok)(const cJSON *v);
    const char *only;
} FIELDS[] = {
    {"model", NULL, NULL},
    {"stream", NULL, NULL},
    {"stream_options", NULL, NULL},
    {"messages", NULL, NULL},
    {"max_tokens", NULL, NULL},
    {"max_completion_tokens", NULL, NULL},
    {"reasoning_effort", NULL, NULL},
    {"temperature", NULL, NULL},
    {"top_p", NULL, NULL},
    {"top_k", NULL, NULL},
    {"stop", NULL, NULL},
    {"user", NULL, NULL},
    {"tools", NULL, NULL},
    {"tool_choice", NULL, NULL},
    {"parallel_tool_calls", NULL, NULL},
    {"n", is_one, "1"},
    {"presence_penalty", is_zero, "0"},
    {"frequency_penalty", is_zero, "0"},
    {"logprobs", cJSON_IsFalse, "false"},
    {"store", cJSON_IsFalse, "false"},
    {"logit_bias", is_empty_object, "{}"},
    {"response_format", is_text_format, "{\"type\":\"text\"}"},
};

static int check_fields(xlat *x, const cJSON *req)
{
    for (const cJSON *f = req->child; f; f = f->next) {
        if (!present(f) || !f->string)
            continue;
        size_t i = 0;
        while (i < sizeof(FIELDS) / sizeof(FIELDS[0]) && strcmp(FIELDS[i].name, f->string) != 0)
            i++;
        if (i == sizeof(FIELDS) / sizeof(FIELDS[0]))
            return not_supported(x, f->string); /* made safe there */
        if (FIELDS[i].ok && !FIELDS[i].ok(f))   /* a known name: safe as it is */
            return fail(x, PROV_BUILD_UNSUPPORTED, "%s: Anthropic supports only %s", f->string,
                        FIELDS[i].only);
    }
    return 0;
}

static int translate(xlat *x, cJSON *o, const cJSON *req, const char *model)
{
    int n_tools = 0;
    if (check_fields(x, req) < 0 || put_str(x, o, "model", model) < 0 ||
        add_limits(x, o, req) < 0 || add_sampling(x, o, req) < 0 || add_stop(x, o, req) < 0 ||
        add_user(x, o, req) < 0 || add_messages(x, o, req) < 0 ||
        add_tools(x, o, req, &n_tools) < 0 || add_tool_choice(x, o, req, n_tools) < 0)
        return -1;
    return cJSON_AddTrueToObject(o, "stream") ? 0 : nomem(x);
}

int xlat_anthropic(const cJSON *req, const char *model, cJSON **out, char *err, size_t errsz)
{
    xlat x = {err, errsz, 0};
    *out = NULL;
    if (err && errsz)
        err[0] = '\0';
    cJSON *o = NULL;
    if (!cJSON_IsObject(req))
        fail(&x, PROV_BUILD_INVALID, "request body must be a JSON object");
    else if (!(o = cJSON_CreateObject()))
        nomem(&x);
    else if (translate(&x, o, req, model) == 0)
        *out = o;
    else if (x.rc == 0)
        nomem(&x); /* every failure reports itself; this is a guard */
    if (!*out)
        cJSON_Delete(o);
    return x.rc;
}
