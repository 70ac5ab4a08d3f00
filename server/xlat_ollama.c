/* xlat_ollama — see xlat_ollama.h. The body built: {model, messages: [{role, content,
 * images?, thinking?, tool_calls?: [{id?, function: {name, arguments: {...}}}], tool_name?,
 * tool_call_id?}], tools?, format?, think?, keep_alive?, options?, stream: true}, keys in
 * that order whatever the client's order. A field's null counts as its absence. */
#include "xlat_ollama.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "prov.h"

#define NOMEM PROV_BUILD_NOMEM
#define UNSUPPORTED PROV_BUILD_UNSUPPORTED
#define INVALID PROV_BUILD_INVALID

#define TEXT_MAX (1u << 30)          /* a message's joined text; the request body is far smaller */
#define INT_EXACT 9007199254740992.0 /* 2^53: larger doubles are no exact integers */

typedef struct xlat {
    const cJSON *root;
    char *err;
    size_t errsz;
} xlat;

static int fail(xlat *x, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* rc, with the reason in err. */
static int fail(xlat *x, int rc, const char *fmt, ...)
{
    if (x->err) {
        va_list ap;
        va_start(ap, fmt);
        prov_vreason(x->err, x->errsz, fmt, ap); /* one line: names come from the client */
        va_end(ap);
    }
    return rc;
}

/* o[key], NULL when absent or null. */
static const cJSON *field(const cJSON *o, const char *key)
{
    const cJSON *v = prov_get(o, key);
    return cJSON_IsNull(v) ? NULL : v;
}

static int is_str(const cJSON *v, const char *s)
{
    return cJSON_IsString(v) && strcmp(v->valuestring, s) == 0;
}

static int put_str(cJSON *o, const char *key, const char *s)
{
    return prov_put(o, key, cJSON_CreateString(s));
}

static int put_copy(cJSON *o, const char *key, const cJSON *v)
{
    return prov_put(o, key, cJSON_Duplicate(v, 1));
}

/* ---- top-level fields ---- */

/* Fields taken (the first three are chatd's own), and fields whose default alone is taken. */
/* clang-format off */
static const char *const KNOWN[] = {
    "model", "stream", "stream_options", "messages", "temperature", "top_p", "top_k", "min_p",
    "seed", "stop", "max_tokens", "max_completion_tokens", "presence_penalty",
    "frequency_penalty", "tools", "tool_choice", "parallel_tool_calls", "response_format",
    "reasoning_effort", "think", "keep_alive", NULL};
/* clang-format on */

static int is_default(const char *key, const cJSON *v)
{
    if (!strcmp(key, "n"))
        return cJSON_IsNumber(v) && v->valuedouble == 1;
    if (!strcmp(key, "logprobs"))
        return cJSON_IsFalse(v);
    if (!strcmp(key, "top_logprobs"))
        return cJSON_IsNumber(v) && v->valuedouble == 0;
    if (!strcmp(key, "logit_bias"))
        return cJSON_IsObject(v) && !v->child;
    if (!strcmp(key, "user")) /* an end-user id for the provider's abuse checks: none here */
        return cJSON_IsString(v) && !*v->valuestring;
    if (!strcmp(key, "modalities"))
        return cJSON_GetArraySize(v) == 1 && is_str(cJSON_GetArrayItem(v, 0), "text");
    return 0;
}

static int is_known(const char *key)
{
    for (const char *const *k = KNOWN; *k; k++)
        if (!strcmp(*k, key))
            return 1;
    return 0;
}

/* The first field Ollama has no equivalent for, refused. */
static int check_fields(xlat *x)
{
    const cJSON *v;
    cJSON_ArrayForEach(v, x->root)
    {
        if (cJSON_IsNull(v) || is_known(v->string) || is_default(v->string, v))
            continue;
        if (!strcmp(v->string, "n"))
            return fail(x, UNSUPPORTED, "n: ollama gives one choice per request (n must be 1)");
        char safe[PROV_FIELD_NAME_MAX];
        prov_field_name(safe, sizeof(safe), v->string);
        return fail(x, UNSUPPORTED, "%s: ollama has no equivalent", safe);
    }
    return 0;
}

/* ---- message content ---- */

static int b64_ok(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\r\n", *s))
            return 0;
    return 1;
}

/* Part j of message i, an image_url: its base64 data appended to images. */
static int add_image(xlat *x, cJSON *images, const cJSON *part, size_t i, size_t j)
{
    const cJSON *iu = prov_get(part, "image_url");
    const char *url =
        cJSON_IsString(iu) ? iu->valuestring : cJSON_GetStringValue(prov_get(iu, "url"));
    if (!url)
        return fail(x, INVALID, "messages[%zu].content[%zu].image_url.url must be a string", i, j);
    if (strncasecmp(url, "data:", 5) != 0)
        return fail(x, UNSUPPORTED,
                    "messages[%zu].content[%zu].image_url: ollama takes images inline only "
                    "(base64 data: URLs), not URLs",
                    i, j);
    const char *comma = strchr(url, ',');
    if (!comma || comma - url < 12 || strncasecmp(comma - 7, ";base64", 7) != 0 ||
        !b64_ok(comma + 1))
        return fail(x, INVALID,
                    "messages[%zu].content[%zu].image_url.url must be a base64 data: URL", i, j);
    return prov_push(images, cJSON_CreateString(comma + 1));
}

/* Part j of message i: its text added to b (after a "\n" when b has some), its image to
 * images (NULL: the role takes none). */
static int add_part(xlat *x, buf *b, cJSON *images, const cJSON *part, size_t i, size_t j)
{
    const char *type = cJSON_GetStringValue(prov_get(part, "type"));
    if (!type)
        return fail(x, INVALID, "messages[%zu].content[%zu].type must be a string", i, j);
    if (!strcmp(type, "image_url") && images)
        return add_image(x, images, part, i, j);
    /* a refusal part (an assistant's) is text it said */
    const char *key = !strcmp(type, "text")                 ? "text"
                      : !strcmp(type, "refusal") && !images ? "refusal"
                                                            : NULL;
    if (!key)
        return fail(x, UNSUPPORTED, "messages[%zu].content[%zu]: ollama takes no %s part here", i,
                    j, type);
    const char *text = cJSON_GetStringValue(prov_get(part, key));
    if (!text)
        return fail(x, INVALID, "messages[%zu].content[%zu].%s must be a string", i, j, key);
    if (buf_len(b))
        buf_addstr(b, "\n");
    buf_addstr(b, text);
    return buf_failed(b) ? NOMEM : 0;
}

/* o's content (and images) from message i's content c: a string, parts, or null ("").
 * images_ok: the role may carry images (user messages). */
static int add_content(xlat *x, cJSON *o, const cJSON *c, int images_ok, size_t i)
{
    if (!c)
        return put_str(o, "content", "");
    if (cJSON_IsString(c))
        return put_str(o, "content", c->valuestring);
    if (!cJSON_IsArray(c))
        return fail(x, INVALID, "messages[%zu].content must be a string, an array of parts or null",
                    i);
    cJSON *images = images_ok ? cJSON_CreateArray() : NULL;
    if (images_ok && !images)
        return NOMEM;
    buf b;
    buf_init(&b, TEXT_MAX);
    int rc = 0;
    size_t j = 0;
    const cJSON *part;
    cJSON_ArrayForEach(part, c)
    {
        if ((rc = add_part(x, &b, images, part, i, j++)) < 0)
            break;
    }
    if (rc == 0) {
        char *text = buf_take(&b);
        rc = text ? put_str(o, "content", text) : NOMEM;
        free(text);
    }
    if (rc == 0 && images && images->child) {
        rc = prov_put(o, "images", images);
        images = NULL;
    }
    cJSON_Delete(images);
    buf_free(&b);
    return rc;
}

/* ---- tool calls and results ---- */

/* Call j's arguments as an object: a JSON text, or an object already; "" or none: {}. */
static int call_args(xlat *x, const cJSON *a, size_t i, size_t j, cJSON **out)
{
    *out = NULL;
    if (!a || is_str(a, ""))
        *out = cJSON_CreateObject();
    else if (cJSON_IsObject(a))
        *out = cJSON_Duplicate(a, 1);
    else if (cJSON_IsString(a) &&
             cJSON_IsObject(*out = prov_parse_exact(a->valuestring, strlen(a->valuestring))))
        return 0;
    else {
        cJSON_Delete(*out);
        *out = NULL;
        return fail(x, INVALID,
                    "messages[%zu].tool_calls[%zu].function.arguments is not a JSON object", i, j);
    }
    return *out ? 0 : NOMEM;
}

static int add_call(xlat *x, cJSON *calls, const cJSON *c, size_t i, size_t j)
{
    if (!cJSON_IsObject(c))
        return fail(x, INVALID, "messages[%zu].tool_calls[%zu] must be an object", i, j);
    const cJSON *type = field(c, "type");
    if (type && !is_str(type, "function"))
        return fail(x, UNSUPPORTED,
                    "messages[%zu].tool_calls[%zu].type: ollama takes function calls only", i, j);
    const cJSON *f = prov_get(c, "function");
    const char *name = prov_nonempty(prov_get(f, "name"));
    if (!name)
        return fail(x, INVALID,
                    "messages[%zu].tool_calls[%zu].function.name must be a non-empty string", i, j);
    cJSON *args = NULL, *of = NULL;
    int rc = call_args(x, field(f, "arguments"), i, j, &args);
    if (rc < 0)
        return rc;
    const char *id = prov_nonempty(prov_get(c, "id"));
    cJSON *oc = cJSON_CreateObject();
    if (prov_push(calls, oc) < 0 || (id && put_str(oc, "id", id) < 0) ||
        !(of = cJSON_AddObjectToObject(oc, "function")) || put_str(of, "name", name) < 0) {
        cJSON_Delete(args);
        return NOMEM;
    }
    return prov_put(of, "arguments", args);
}

static int add_calls(xlat *x, cJSON *o, const cJSON *calls, size_t i)
{
    if (!cJSON_IsArray(calls))
        return fail(x, INVALID, "messages[%zu].tool_calls must be an array", i);
    cJSON *out = cJSON_CreateArray();
    int rc = prov_put(o, "tool_calls", out);
    size_t j = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, calls)
    {
        if (rc < 0)
            break;
        rc = add_call(x, out, c, i, j++);
    }
    return rc;
}

/* The name of the call with this id in an assistant message before message upto. */
static const char *call_name(const cJSON *msgs, const cJSON *upto, const char *id)
{
    const char *name = NULL;
    const cJSON *m, *c;
    cJSON_ArrayForEach(m, msgs)
    {
        if (m == upto)
            break;
        if (!is_str(prov_get(m, "role"), "assistant"))
            continue;
        cJSON_ArrayForEach(c, prov_get(m, "tool_calls"))
        {
            if (is_str(prov_get(c, "id"), id))
                name = prov_nonempty(prov_get(prov_get(c, "function"), "name"));
        }
    }
    return name;
}

/* A tool message's tool_call_id and tool_name. */
static int add_result(xlat *x, cJSON *o, const cJSON *m, size_t i)
{
    const cJSON *idv = field(m, "tool_call_id"), *namev = field(m, "name");
    if ((idv && !cJSON_IsString(idv)) || (namev && !cJSON_IsString(namev)))
        return fail(x, INVALID, "messages[%zu].%s must be a string", i,
                    idv && !cJSON_IsString(idv) ? "tool_call_id" : "name");
    const char *id = cJSON_GetStringValue(idv);
    const char *name = id ? call_name(prov_get(x->root, "messages"), m, id) : NULL;
    if (!name)
        name = prov_nonempty(namev);
    if (name && put_str(o, "tool_name", name) < 0)
        return NOMEM;
    return id ? put_str(o, "tool_call_id", id) : 0;
}

/* ---- messages ---- */

/* Ollama's role for an OpenAI role, NULL when it has none. */
static const char *ollama_role(const char *role)
{
    if (!strcmp(role, "system") || !strcmp(role, "developer"))
        return "system";
    if (!strcmp(role, "user") || !strcmp(role, "assistant") || !strcmp(role, "tool"))
        return role;
    return NULL;
}

/* Whether a message of this role may carry key (besides role and content). */
static int msg_key_ok(const char *role, const char *key)
{
    if (!strcmp(role, "assistant"))
        return !strcmp(key, "tool_calls") || !strcmp(key, "reasoning_content");
    if (!strcmp(role, "tool"))
        return !strcmp(key, "tool_call_id") || !strcmp(key, "name");
    return 0;
}

static int check_msg_keys(xlat *x, const cJSON *m, const char *role, size_t i)
{
    const cJSON *v;
    cJSON_ArrayForEach(v, m)
    {
        if (cJSON_IsNull(v) || !strcmp(v->string, "role") || !strcmp(v->string, "content") ||
            msg_key_ok(role, v->string))
            continue;
        /* an earlier answer's citations, echoed back empty: nothing to carry */
        if (!strcmp(role, "assistant") && !strcmp(v->string, "annotations") &&
            cJSON_IsArray(v) && !v->child)
            continue;
        char safe[PROV_FIELD_NAME_MAX];
        prov_field_name(safe, sizeof(safe), v->string);
        return fail(x, UNSUPPORTED, "messages[%zu].%s: ollama has no equivalent", i, safe);
    }
    return 0;
}

static int add_message(xlat *x, cJSON *out, const cJSON *m, size_t i)
{
    if (!cJSON_IsObject(m))
        return fail(x, INVALID, "messages[%zu] must be an object", i);
    const char *role = cJSON_GetStringValue(prov_get(m, "role"));
    if (!role)
        return fail(x, INVALID, "messages[%zu].role must be a string", i);
    const char *to = ollama_role(role);
    if (!to)
        return fail(x, UNSUPPORTED, "messages[%zu].role: ollama has no %s role", i, role);
    int rc = check_msg_keys(x, m, role, i);
    if (rc < 0)
        return rc;
    cJSON *o = cJSON_CreateObject();
    if (prov_push(out, o) < 0 || put_str(o, "role", to) < 0)
        return NOMEM;
    rc = add_content(x, o, field(m, "content"), !strcmp(role, "user"), i);
    if (rc == 0 && !strcmp(role, "assistant")) {
        const cJSON *r = field(m, "reasoning_content"), *calls = field(m, "tool_calls");
        if (r && !cJSON_IsString(r))
            return fail(x, INVALID, "messages[%zu].reasoning_content must be a string", i);
        if (prov_nonempty(r))
            rc = put_str(o, "thinking", r->valuestring);
        if (rc == 0 && calls)
            rc = add_calls(x, o, calls, i);
    }
    if (rc == 0 && !strcmp(role, "tool"))
        rc = add_result(x, o, m, i);
    return rc;
}

static int add_messages(xlat *x, cJSON *body)
{
    const cJSON *msgs = prov_get(x->root, "messages");
    if (!cJSON_IsArray(msgs))
        return fail(x, INVALID, "messages must be an array");
    cJSON *out = cJSON_CreateArray();
    int rc = prov_put(body, "messages", out);
    size_t i = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs)
    {
        if (rc < 0)
            break;
        rc = add_message(x, out, m, i++);
    }
    return rc;
}

/* ---- tools, format, thinking ---- */

static int check_tool(xlat *x, const cJSON *t, size_t i)
{
    if (!cJSON_IsObject(t))
        return fail(x, INVALID, "tools[%zu] must be an object", i);
    if (!is_str(prov_get(t, "type"), "function"))
        return fail(x, UNSUPPORTED, "tools[%zu].type: ollama takes function tools only", i);
    const cJSON *f = prov_get(t, "function"), *p = field(f, "parameters");
    if (!prov_nonempty(prov_get(f, "name")))
        return fail(x, INVALID, "tools[%zu].function.name must be a non-empty string", i);
    if (p && !cJSON_IsObject(p))
        return fail(x, INVALID, "tools[%zu].function.parameters must be an object", i);
    if (cJSON_IsTrue(prov_get(f, "strict")))
        return fail(x, UNSUPPORTED,
                    "tools[%zu].function.strict: ollama does not hold calls to the schema", i);
    return 0;
}

/* tools as sent, unless tool_choice is "none"; tool_choice and parallel_tool_calls checked. */
static int add_tools(xlat *x, cJSON *body)
{
    const cJSON *tools = field(x->root, "tools"), *choice = field(x->root, "tool_choice");
    const cJSON *parallel = field(x->root, "parallel_tool_calls");
    if (choice && !is_str(choice, "auto") && !is_str(choice, "none"))
        return fail(x, UNSUPPORTED, "tool_choice: ollama cannot force a tool call (auto or none)");
    if (parallel && !cJSON_IsTrue(parallel))
        return fail(x, UNSUPPORTED,
                    "parallel_tool_calls: ollama cannot limit an answer to one tool call");
    if (!tools)
        return 0;
    if (!cJSON_IsArray(tools))
        return fail(x, INVALID, "tools must be an array");
    size_t i = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, tools)
    {
        int rc = check_tool(x, t, i++);
        if (rc < 0)
            return rc;
    }
    if (!tools->child || is_str(choice, "none"))
        return 0;
    return put_copy(body, "tools", tools);
}

static int add_format(xlat *x, cJSON *body)
{
    const cJSON *rf = field(x->root, "response_format");
    if (!rf)
        return 0;
    const cJSON *type = prov_get(rf, "type");
    if (is_str(type, "text"))
        return 0;
    if (is_str(type, "json_object"))
        return put_str(body, "format", "json");
    if (!is_str(type, "json_schema"))
        return cJSON_IsString(type)
                   ? fail(x, UNSUPPORTED, "response_format.type: ollama has no %s format",
                          type->valuestring)
                   : fail(x, INVALID, "response_format.type must be a string");
    const cJSON *schema = prov_get(prov_get(rf, "json_schema"), "schema");
    if (!cJSON_IsObject(schema))
        return fail(x, INVALID, "response_format.json_schema.schema must be an object");
    return put_copy(body, "format", schema);
}

/* think from reasoning_effort, or Ollama's own think (which wins), and keep_alive. */
static int add_think(xlat *x, cJSON *body)
{
    const cJSON *effort = field(x->root, "reasoning_effort"), *think = field(x->root, "think");
    const cJSON *keep = field(x->root, "keep_alive");
    if (effort && !cJSON_IsString(effort))
        return fail(x, INVALID, "reasoning_effort must be a string");
    if (think && !cJSON_IsBool(think) && !cJSON_IsString(think))
        return fail(x, INVALID, "think must be a boolean or a string");
    if (keep && !cJSON_IsString(keep) && !cJSON_IsNumber(keep))
        return fail(x, INVALID, "keep_alive must be a string or a number");
    int rc = 0;
    if (think)
        rc = put_copy(body, "think", think);
    else if (effort)
        rc = prov_put(body, "think", cJSON_CreateBool(strcmp(effort->valuestring, "none") != 0));
    if (rc == 0 && keep)
        rc = put_copy(body, "keep_alive", keep);
    return rc;
}

/* ---- options ---- */

static int is_int(const cJSON *v, double min)
{
    return cJSON_IsNumber(v) && floor(v->valuedouble) == v->valuedouble && v->valuedouble >= min &&
           fabs(v->valuedouble) <= INT_EXACT;
}

/* key's value checked (a number; when whole, an integer of at least min): 0 with *v, NULL
 * when absent, or INVALID. */
static int get_number(xlat *x, const char *key, int whole, double min, const cJSON **v)
{
    *v = field(x->root, key);
    if (!*v || (whole ? is_int(*v, min) : cJSON_IsNumber(*v)))
        return 0;
    if (!whole)
        return fail(x, INVALID, "%s must be a number", key);
    return fail(x, INVALID, "%s must be %s integer", key, min > 0 ? "a positive" : "an");
}

static int put_number(cJSON *opt, const char *name, const cJSON *v)
{
    return v ? prov_put(opt, name, cJSON_CreateNumber(v->valuedouble)) : 0;
}

/* max_completion_tokens replaced max_tokens: it wins when both are sent (both checked). */
static int add_max_tokens(xlat *x, cJSON *opt)
{
    const cJSON *mt = NULL, *mct = NULL;
    int rc = get_number(x, "max_tokens", 1, 1, &mt);
    if (rc == 0)
        rc = get_number(x, "max_completion_tokens", 1, 1, &mct);
    return rc < 0 ? rc : put_number(opt, "num_predict", mct ? mct : mt);
}

static int add_stop(xlat *x, cJSON *opt)
{
    const cJSON *stop = field(x->root, "stop"), *s;
    if (!stop)
        return 0;
    if (cJSON_IsString(stop)) {
        cJSON *arr = cJSON_CreateArray();
        if (prov_put(opt, "stop", arr) < 0)
            return NOMEM;
        return prov_push(arr, cJSON_CreateString(stop->valuestring));
    }
    int ok = cJSON_IsArray(stop);
    cJSON_ArrayForEach(s, stop) ok = ok && cJSON_IsString(s);
    if (!ok)
        return fail(x, INVALID, "stop must be a string or an array of strings");
    return stop->child ? put_copy(opt, "stop", stop) : 0;
}

/* Options taken under their own name, in the order they are put. */
static const struct {
    const char *key;
    int whole;
    double min;
} NUMBERS[] = {
    {"temperature", 0, 0},       {"top_p", 0, 0},
    {"top_k", 1, -INT_EXACT},    {"min_p", 0, 0},
    {"seed", 1, -INT_EXACT},     {"presence_penalty", 0, 0},
    {"frequency_penalty", 0, 0},
};

static int add_options(xlat *x, cJSON *body)
{
    cJSON *opt = cJSON_CreateObject();
    if (!opt)
        return NOMEM;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof(NUMBERS) / sizeof(NUMBERS[0]); i++) {
        const cJSON *v;
        rc = get_number(x, NUMBERS[i].key, NUMBERS[i].whole, NUMBERS[i].min, &v);
        if (rc == 0)
            rc = put_number(opt, NUMBERS[i].key, v);
    }
    if (rc == 0)
        rc = add_stop(x, opt);
    if (rc == 0)
        rc = add_max_tokens(x, opt);
    if (rc == 0 && opt->child)
        return prov_put(body, "options", opt);
    cJSON_Delete(opt);
    return rc;
}

int xlat_ollama_body(const cJSON *root, const char *model, char **body, char *err, size_t errsz)
{
    xlat x = {root, err, errsz};
    *body = NULL;
    if (!cJSON_IsObject(root))
        return fail(&x, INVALID, "the request must be a JSON object");
    cJSON *o = cJSON_CreateObject();
    int rc = o ? check_fields(&x) : NOMEM;
    if (rc == 0)
        rc = put_str(o, "model", model);
    if (rc == 0)
        rc = add_messages(&x, o);
    if (rc == 0)
        rc = add_tools(&x, o);
    if (rc == 0)
        rc = add_format(&x, o);
    if (rc == 0)
        rc = add_think(&x, o);
    if (rc == 0)
        rc = add_options(&x, o);
    if (rc == 0)
        rc = prov_put(o, "stream", cJSON_CreateTrue());
    if (rc == 0 && !(*body = cJSON_PrintUnformatted(o)))
        rc = NOMEM;
    cJSON_Delete(o);
    return rc;
}
