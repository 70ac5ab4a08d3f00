/* anth_in — see anth_in.h. The request is read into a cJSON tree and a new tree in
 * OpenAI's shape is built beside it: values that mean the same in both (strings, numbers,
 * input_schema, stop sequences) are copied as they are. Every object the translation
 * reads is checked for keys it does not know, so that nothing is lost without a word. */
#include "anth_in.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jsonv.h"
#include "prov.h"
#include "utf8.h"

#define PATH_LEN 160 /* a field's path, e.g. messages[12].content[3].source.media_type */

/* dst = base + field + "[j]" ("[j]" left out when j < 0), base cut to fit. */
static void at(char *dst, const char *base, const char *field, int j)
{
    if (j < 0)
        snprintf(dst, PATH_LEN, "%.100s%s", base, field);
    else
        snprintf(dst, PATH_LEN, "%.100s%s[%d]", base, field, j);
}

/* One translation: where its reason goes, and whether memory ran out on the way. */
typedef struct tr {
    char *err;
    size_t errsz;
    int oom;
    size_t cap;           /* bound of any text built from the request: the body's size */
    const cJSON *in;      /* the request */
    int nrefs;            /* tool_reference blocks seen in its tool results */
    const cJSON *turn_oc; /* the last system turn's output_config: in force for the answer */
} tr;

static int bad(tr *t, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(tr *t, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char raw[512];
    vsnprintf(raw, sizeof(raw), fmt, ap);
    va_end(ap);
    /* One line, never a split character: names and types come from the client. */
    prov_field_name(t->err, t->errsz, raw);
    return code;
}

/* v added to the object o under k, or to the array o when k is NULL; a NULL v (no
 * memory) or a failed add marks the translation out of memory and frees v. */
static cJSON *put(tr *t, cJSON *o, const char *k, cJSON *v)
{
    if (!v || !o || !(k ? cJSON_AddItemToObject(o, k, v) : cJSON_AddItemToArray(o, v))) {
        cJSON_Delete(v);
        t->oom = 1;
        return NULL;
    }
    return v;
}

static cJSON *dup(const cJSON *v)
{
    return cJSON_Duplicate(v, 1);
}

/* o[k] when present and not null. */
static const cJSON *field(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

static const char *str_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Every key of o is one of keys (NULL-terminated). */
static int known(tr *t, const cJSON *o, const char *path, const char *const *keys)
{
    for (const cJSON *c = o->child; c; c = c->next) {
        size_t i = 0;
        while (keys[i] && strcmp(keys[i], c->string))
            i++;
        if (!keys[i]) {
            char name[PROV_FIELD_NAME_MAX];
            prov_field_name(name, sizeof(name), c->string);
            return bad(t, ANTH_IN_INVALID,
                       "%s%s%s: unknown field (not part of Anthropic's Messages API)", path,
                       *path ? "." : "", name);
        }
    }
    return 0;
}

/* A block's type, or an error naming it. */
static int block_type(tr *t, const cJSON *b, const char *path, const char **type)
{
    if (!cJSON_IsObject(b))
        return bad(t, ANTH_IN_INVALID, "%s must be a content block (an object)", path);
    if (!(*type = str_of(b, "type")))
        return bad(t, ANTH_IN_INVALID, "%s.type must be a string", path);
    return 0;
}

/* ---------- content blocks ---------- */

/* {"type":"text","text":...} into parts. Citations have no OpenAI equivalent. */
static int text_part(tr *t, const cJSON *b, const char *path, cJSON *parts)
{
    static const char *const keys[] = {"type", "text", "cache_control", "citations", NULL};
    int rc = known(t, b, path, keys);
    if (rc)
        return rc;
    const cJSON *cit = field(b, "citations");
    if (cit && !(cJSON_IsArray(cit) && cJSON_GetArraySize(cit) == 0))
        return bad(t, ANTH_IN_UNSUPPORTED,
                   "%s.citations has no equivalent in OpenAI's chat request", path);
    const char *text = str_of(b, "text");
    if (!text)
        return bad(t, ANTH_IN_INVALID, "%s.text must be a string", path);
    cJSON *p = put(t, parts, NULL, cJSON_CreateObject());
    put(t, p, "type", cJSON_CreateString("text"));
    put(t, p, "text", cJSON_CreateString(text));
    return 0;
}

/* "data:<media type>;base64,<data>" */
static cJSON *data_url(const char *media, const char *data)
{
    size_t n = strlen(media) + strlen(data) + 16;
    char *s = malloc(n);
    if (!s)
        return NULL;
    snprintf(s, n, "data:%s;base64,%s", media, data);
    cJSON *v = cJSON_CreateString(s);
    free(s);
    return v;
}

/* An image or document source as a URL: base64 data as a data: URL, a URL as it is. */
static int source_url(tr *t, const cJSON *b, const char *path, int allow_url, cJSON **url)
{
    static const char *const b64[] = {"type", "media_type", "data", NULL};
    static const char *const byurl[] = {"type", "url", NULL};
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(b, "source");
    const char *type = str_of(src, "type");
    if (!cJSON_IsObject(src) || !type)
        return bad(t, ANTH_IN_INVALID, "%s.source must be an object with a type", path);
    char sp[PATH_LEN];
    at(sp, path, ".source", -1);
    int rc;
    if (!strcmp(type, "base64")) {
        const char *media = str_of(src, "media_type"), *data = str_of(src, "data");
        if ((rc = known(t, src, sp, b64)))
            return rc;
        if (!media || !data)
            return bad(t, ANTH_IN_INVALID, "%s needs media_type and data strings", sp);
        *url = data_url(media, data);
        return *url ? 0 : ANTH_IN_NOMEM;
    }
    if (!strcmp(type, "url") && allow_url) {
        const char *u = str_of(src, "url");
        if ((rc = known(t, src, sp, byurl)))
            return rc;
        if (!u)
            return bad(t, ANTH_IN_INVALID, "%s.url must be a string", sp);
        /* what the OpenAI-shaped request may carry (data: URLs come as base64 here) */
        if (strncmp(u, "https://", 8) || !u[8])
            return bad(t, ANTH_IN_INVALID, "%s.url must be an https: URL", sp);
        *url = cJSON_CreateString(u);
        return *url ? 0 : ANTH_IN_NOMEM;
    }
    return bad(t, ANTH_IN_UNSUPPORTED, "%s.type %s has no equivalent in OpenAI's chat request", sp,
               type);
}

/* image -> {"type":"image_url","image_url":{"url":...}} */
static int image_part(tr *t, const cJSON *b, const char *path, cJSON *parts)
{
    static const char *const keys[] = {"type", "source", "cache_control", NULL};
    cJSON *url = NULL;
    int rc = known(t, b, path, keys);
    if (rc || (rc = source_url(t, b, path, 1, &url)))
        return rc;
    cJSON *p = put(t, parts, NULL, cJSON_CreateObject());
    put(t, p, "type", cJSON_CreateString("image_url"));
    cJSON *iu = put(t, p, "image_url", cJSON_CreateObject());
    put(t, iu, "url", url);
    return 0;
}

/* A base64 document (a PDF) -> {"type":"file","file":{"filename"?,"file_data":data URL}}. */
static int document_part(tr *t, const cJSON *b, const char *path, cJSON *parts)
{
    static const char *const keys[] = {"type", "source", "title", "cache_control", NULL};
    cJSON *url = NULL;
    int rc = known(t, b, path, keys);
    if (rc || (rc = source_url(t, b, path, 0, &url)))
        return rc;
    const char *title = str_of(b, "title");
    cJSON *p = put(t, parts, NULL, cJSON_CreateObject());
    put(t, p, "type", cJSON_CreateString("file"));
    cJSON *f = put(t, p, "file", cJSON_CreateObject());
    if (title)
        put(t, f, "filename", cJSON_CreateString(title));
    put(t, f, "file_data", url);
    return 0;
}

/* tool_result -> {"role":"tool","tool_call_id":..,"content":text}: text blocks joined by
 * a newline; is_error true puts "Error: " before the text (OpenAI's tool message has no
 * such flag). */
static int tool_message(tr *t, const cJSON *b, const char *path, cJSON *msgs)
{
    static const char *const keys[] = {"type",     "tool_use_id",   "content",
                                       "is_error", "cache_control", NULL};
    int rc = known(t, b, path, keys);
    if (rc)
        return rc;
    const char *id = str_of(b, "tool_use_id");
    const cJSON *content = field(b, "content"), *err = field(b, "is_error");
    if (!id || !*id)
        return bad(t, ANTH_IN_INVALID, "%s.tool_use_id must be a non-empty string", path);
    if (err && !cJSON_IsBool(err))
        return bad(t, ANTH_IN_INVALID, "%s.is_error must be a boolean", path);
    if (content && !cJSON_IsString(content) && !cJSON_IsArray(content))
        return bad(t, ANTH_IN_INVALID, "%s.content must be a string or an array of blocks", path);
    buf text;
    buf_init(&text, t->cap);
    if (cJSON_IsTrue(err))
        buf_addstr(&text, "Error: ");
    if (cJSON_IsString(content))
        buf_addstr(&text, content->valuestring);
    int j = 0;
    const cJSON *c, *blocks = cJSON_IsArray(content) ? content : NULL;
    cJSON_ArrayForEach(c, blocks)
    {
        static const char *const tkeys[] = {"type", "text", "cache_control", NULL};
        char cp[PATH_LEN];
        const char *type;
        at(cp, path, ".content", j);
        if ((rc = block_type(t, c, cp, &type)))
            break;
        if (!strcmp(type, "tool_reference")) { /* a deferred tool loaded (tool search) */
            static const char *const rkeys[] = {"type", "tool_name", NULL};
            const char *name = str_of(c, "tool_name");
            if ((rc = known(t, c, cp, rkeys)) || !name || !*name) {
                rc = rc ? rc
                        : bad(t, ANTH_IN_INVALID, "%s.tool_name must be a non-empty string", cp);
                break;
            }
            t->nrefs++;
            if (j++)
                buf_addstr(&text, "\n");
            buf_addstr(&text, "Tool available: ");
            buf_addstr(&text, name);
            continue;
        }
        if (strcmp(type, "text")) {
            rc = bad(t, ANTH_IN_UNSUPPORTED,
                     "%s: a tool result's %s block has no equivalent in OpenAI's tool message", cp,
                     type);
            break;
        }
        if ((rc = known(t, c, cp, tkeys)))
            break;
        if (!str_of(c, "text")) {
            rc = bad(t, ANTH_IN_INVALID, "%s.text must be a string", cp);
            break;
        }
        if (j++)
            buf_addstr(&text, "\n");
        buf_addstr(&text, str_of(c, "text"));
    }
    if (!rc && buf_failed(&text))
        rc = ANTH_IN_NOMEM;
    if (!rc) {
        cJSON *m = put(t, msgs, NULL, cJSON_CreateObject());
        put(t, m, "role", cJSON_CreateString("tool"));
        put(t, m, "tool_call_id", cJSON_CreateString(id));
        /* buf_ptr is "" for an empty buf; else NUL-terminated through the add below. */
        buf_add(&text, "", 1);
        put(t, m, "content", buf_failed(&text) ? NULL : cJSON_CreateString(buf_ptr(&text)));
    }
    buf_free(&text);
    return rc;
}

/* A user turn: tool results become tool messages (first, as Anthropic requires them
 * first in the turn), the rest one user message with content parts. */
static int user_turn(tr *t, const cJSON *content, const char *path, cJSON *msgs)
{
    cJSON *parts = cJSON_CreateArray();
    int rc = parts ? 0 : ANTH_IN_NOMEM, j = 0, results = 0;
    const cJSON *b;
    cJSON_ArrayForEach(b, content)
    {
        char bp[PATH_LEN];
        const char *type;
        at(bp, path, ".content", j++);
        if (rc || (rc = block_type(t, b, bp, &type)))
            break;
        if (!strcmp(type, "text"))
            rc = text_part(t, b, bp, parts);
        else if (!strcmp(type, "image"))
            rc = image_part(t, b, bp, parts);
        else if (!strcmp(type, "document"))
            rc = document_part(t, b, bp, parts);
        else if (!strcmp(type, "tool_result") && ++results)
            rc = tool_message(t, b, bp, msgs);
        else if (!strcmp(type, "tool_use") || !strcmp(type, "thinking") ||
                 !strcmp(type, "redacted_thinking"))
            rc = bad(t, ANTH_IN_INVALID, "%s: a %s block belongs in an assistant turn", bp, type);
        else
            rc = bad(t, ANTH_IN_UNSUPPORTED,
                     "%s.type %s has no equivalent in OpenAI's chat request", bp, type);
    }
    if (rc || (results && cJSON_GetArraySize(parts) == 0)) {
        cJSON_Delete(parts);
        return rc;
    }
    cJSON *m = put(t, msgs, NULL, cJSON_CreateObject());
    put(t, m, "role", cJSON_CreateString("user"));
    put(t, m, "content", parts);
    return 0;
}

/* tool_use -> {"id","type":"function","function":{"name","arguments":compact input}}. */
static int tool_call(tr *t, const cJSON *b, const char *path, cJSON *calls)
{
    static const char *const keys[] = {"type", "id", "name", "input", "cache_control", NULL};
    int rc = known(t, b, path, keys);
    if (rc)
        return rc;
    const char *id = str_of(b, "id"), *name = str_of(b, "name");
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(b, "input");
    if (!id || !name || !*id || !*name)
        return bad(t, ANTH_IN_INVALID, "%s needs id and name as non-empty strings", path);
    if (!cJSON_IsObject(input))
        return bad(t, ANTH_IN_INVALID, "%s.input must be an object", path);
    char *args = cJSON_PrintUnformatted(input);
    cJSON *c = put(t, calls, NULL, cJSON_CreateObject());
    put(t, c, "id", cJSON_CreateString(id));
    put(t, c, "type", cJSON_CreateString("function"));
    cJSON *f = put(t, c, "function", cJSON_CreateObject());
    put(t, f, "name", cJSON_CreateString(name));
    put(t, f, "arguments", args ? cJSON_CreateString(args) : NULL);
    free(args);
    return 0;
}

/* thinking -> appended to reasoning. The signature has no OpenAI equivalent; it only
 * proves the text to Anthropic's API, so it is let go. */
static int thinking(tr *t, const cJSON *b, const char *path, buf *reasoning)
{
    static const char *const keys[] = {"type", "thinking", "signature", NULL};
    int rc = known(t, b, path, keys);
    if (rc)
        return rc;
    if (!str_of(b, "thinking"))
        return bad(t, ANTH_IN_INVALID, "%s.thinking must be a string", path);
    buf_addstr(reasoning, str_of(b, "thinking"));
    return 0;
}

/* An assistant turn: text parts as content (null when there are only tool calls),
 * tool_use blocks as tool_calls, thinking as reasoning_content. */
static int assistant_turn(tr *t, const cJSON *content, const char *path, cJSON *msgs)
{
    cJSON *parts = cJSON_CreateArray(), *calls = cJSON_CreateArray();
    buf reasoning;
    buf_init(&reasoning, t->cap);
    int rc = parts && calls ? 0 : ANTH_IN_NOMEM, j = 0;
    const cJSON *b;
    cJSON_ArrayForEach(b, content)
    {
        char bp[PATH_LEN];
        const char *type;
        at(bp, path, ".content", j++);
        if (rc || (rc = block_type(t, b, bp, &type)))
            break;
        if (!strcmp(type, "text"))
            rc = text_part(t, b, bp, parts);
        else if (!strcmp(type, "tool_use"))
            rc = tool_call(t, b, bp, calls);
        else if (!strcmp(type, "thinking"))
            rc = thinking(t, b, bp, &reasoning);
        else if (!strcmp(type, "image") || !strcmp(type, "document") ||
                 !strcmp(type, "tool_result"))
            rc = bad(t, ANTH_IN_INVALID, "%s: a %s block belongs in a user turn", bp, type);
        else
            rc = bad(t, ANTH_IN_UNSUPPORTED,
                     "%s.type %s has no equivalent in OpenAI's chat request", bp, type);
    }
    buf_add(&reasoning, "", 1);
    if (!rc && buf_failed(&reasoning))
        rc = ANTH_IN_NOMEM;
    if (!rc) {
        int ncalls = cJSON_GetArraySize(calls);
        cJSON *m = put(t, msgs, NULL, cJSON_CreateObject());
        put(t, m, "role", cJSON_CreateString("assistant"));
        if (cJSON_GetArraySize(parts))
            put(t, m, "content", parts), parts = NULL;
        else
            put(t, m, "content", ncalls ? cJSON_CreateNull() : cJSON_CreateString(""));
        if (ncalls)
            put(t, m, "tool_calls", calls), calls = NULL;
        if (buf_len(&reasoning) > 1)
            put(t, m, "reasoning_content", cJSON_CreateString(buf_ptr(&reasoning)));
    }
    cJSON_Delete(parts);
    cJSON_Delete(calls);
    buf_free(&reasoning);
    return rc;
}

static int system_message(tr *t, const cJSON *sys, const char *path, cJSON *msgs);

/* Turns: user and assistant, and system turns in between (instructions given at that
 * point of the conversation) as system messages where they stand. */
static int messages(tr *t, const cJSON *arr, cJSON *msgs)
{
    static const char *const keys[] = {"role", "content", NULL};
    static const char *const system_keys[] = {"role", "content", "output_config", NULL};
    static const char *const effort_keys[] = {"effort", NULL};
    if (!cJSON_IsArray(arr))
        return bad(t, ANTH_IN_INVALID, arr ? "messages must be an array" : "messages is required");
    if (cJSON_GetArraySize(arr) == 0)
        return bad(t, ANTH_IN_INVALID, "messages must not be empty");
    int i = 0, rc = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, arr)
    {
        char path[PATH_LEN];
        at(path, "messages", "", i++);
        if (!cJSON_IsObject(m))
            return bad(t, ANTH_IN_INVALID, "%s must be an object", path);
        const char *role = str_of(m, "role");
        int system = role && !strcmp(role, "system");
        if ((rc = known(t, m, path, system ? system_keys : keys)))
            return rc;
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        if (!role || (strcmp(role, "user") && strcmp(role, "assistant") && strcmp(role, "system")))
            return bad(t, ANTH_IN_INVALID, "%s.role must be user, assistant or system", path);
        if (system) {
            char cp[PATH_LEN];
            const cJSON *oc = field(m, "output_config");
            at(cp, path, ".output_config", -1);
            if (oc && (!cJSON_IsObject(oc) || (rc = known(t, oc, cp, effort_keys))))
                return rc ? rc : bad(t, ANTH_IN_INVALID, "%s must be an object", cp);
            if (oc)
                t->turn_oc = oc;
            at(cp, path, ".content", -1);
            if (!content || (rc = system_message(t, content, cp, msgs)))
                return rc ? rc : bad(t, ANTH_IN_INVALID, "%s is required", cp);
        } else if (cJSON_IsString(content)) {
            cJSON *o = put(t, msgs, NULL, cJSON_CreateObject());
            put(t, o, "role", cJSON_CreateString(role));
            put(t, o, "content", dup(content));
        } else if (!cJSON_IsArray(content)) {
            return bad(t, ANTH_IN_INVALID,
                       "%s.content must be a string or an array of content blocks", path);
        } else if (cJSON_GetArraySize(content) == 0) {
            return bad(t, ANTH_IN_INVALID, "%s.content: all messages must have non-empty content",
                       path);
        } else if ((rc = (*role == 'u' ? user_turn : assistant_turn)(t, content, path, msgs))) {
            return rc;
        }
    }
    return 0;
}

/* system: a string, or text blocks (as content parts) -> a system message; path names
 * it in errors ("system", or a system turn's messages[i].content). */
static int system_message(tr *t, const cJSON *sys, const char *path, cJSON *msgs)
{
    if (!sys)
        return 0;
    cJSON *content;
    if (cJSON_IsString(sys)) {
        content = dup(sys);
    } else if (cJSON_IsArray(sys)) {
        content = cJSON_CreateArray();
        int j = 0, rc = content ? 0 : ANTH_IN_NOMEM;
        const cJSON *b;
        cJSON_ArrayForEach(b, sys)
        {
            char bp[PATH_LEN];
            const char *type;
            at(bp, path, "", j++);
            if (rc || (rc = block_type(t, b, bp, &type)))
                break;
            rc = strcmp(type, "text") ? bad(t, ANTH_IN_INVALID, "%s must be a text block", bp)
                                      : text_part(t, b, bp, content);
        }
        if (rc) {
            cJSON_Delete(content);
            return rc;
        }
    } else {
        return bad(t, ANTH_IN_INVALID, "%s must be a string or an array of text blocks", path);
    }
    cJSON *m = put(t, msgs, NULL, cJSON_CreateObject());
    put(t, m, "role", cJSON_CreateString("system"));
    put(t, m, "content", content);
    return 0;
}

/* ---------- tools and parameters ---------- */

/* Whether a tool result of the request holds a tool_reference to name: a deferred tool
 * that tool search has loaded. */
static int referenced(const tr *t, const char *name)
{
    const cJSON *m, *b, *c;
    if (!t->nrefs)
        return 0;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(t->in, "messages"))
    {
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        const cJSON *blocks = cJSON_IsArray(content) ? content : NULL;
        cJSON_ArrayForEach(b, blocks)
        {
            const cJSON *rc = cJSON_GetObjectItemCaseSensitive(b, "content");
            if (!cJSON_IsArray(rc) || !str_of(b, "type") ||
                strcmp(str_of(b, "type"), "tool_result"))
                continue;
            cJSON_ArrayForEach(c, rc)
            {
                const char *type = str_of(c, "type"), *n = str_of(c, "tool_name");
                if (type && n && !strcmp(type, "tool_reference") && !strcmp(n, name))
                    return 1;
            }
        }
    }
    return 0;
}

/* tools[{name, description, input_schema}] -> [{type:function, function:{name,
 * description, parameters}}]; Anthropic's server tools (typed web_search_..., bash_...)
 * run on Anthropic's side and have no equivalent. */
static int tools(tr *t, const cJSON *arr, cJSON *o)
{
    static const char *const keys[] = {"type",          "name",   "description",   "input_schema",
                                       "cache_control", "strict", "defer_loading", NULL};
    if (!cJSON_IsArray(arr))
        return bad(t, ANTH_IN_INVALID, "tools must be an array");
    cJSON *out = put(t, o, "tools", cJSON_CreateArray());
    int i = 0, rc;
    const cJSON *tl;
    cJSON_ArrayForEach(tl, arr)
    {
        char path[PATH_LEN];
        at(path, "tools", "", i++);
        if (!cJSON_IsObject(tl))
            return bad(t, ANTH_IN_INVALID, "%s must be an object", path);
        const char *type = str_of(tl, "type"), *name = str_of(tl, "name");
        if (type && strcmp(type, "custom"))
            return bad(
                t, ANTH_IN_UNSUPPORTED,
                "%s.type %s (a tool Anthropic runs) has no equivalent in OpenAI's chat request",
                path, type);
        if ((rc = known(t, tl, path, keys)))
            return rc;
        const cJSON *desc = field(tl, "description"), *schema = field(tl, "input_schema");
        const cJSON *strict = field(tl, "strict");
        if (!name)
            return bad(t, ANTH_IN_INVALID, "%s.name must be a string", path);
        if (desc && !cJSON_IsString(desc))
            return bad(t, ANTH_IN_INVALID, "%s.description must be a string", path);
        if (!cJSON_IsObject(schema))
            return bad(t, ANTH_IN_INVALID, "%s.input_schema must be an object", path);
        if (strict && !cJSON_IsBool(strict))
            return bad(t, ANTH_IN_INVALID, "%s.strict must be a boolean", path);
        /* A deferred tool is not in the model's context until tool search loads it (a
         * tool_reference in a tool result): so it goes upstream only from then on. */
        const cJSON *defer = field(tl, "defer_loading");
        if (defer && !cJSON_IsBool(defer))
            return bad(t, ANTH_IN_INVALID, "%s.defer_loading must be a boolean", path);
        if (cJSON_IsTrue(defer) && !referenced(t, name))
            continue;
        cJSON *fn = put(t, out, NULL, cJSON_CreateObject());
        put(t, fn, "type", cJSON_CreateString("function"));
        cJSON *f = put(t, fn, "function", cJSON_CreateObject());
        put(t, f, "name", cJSON_CreateString(name));
        if (desc)
            put(t, f, "description", dup(desc));
        put(t, f, "parameters", dup(schema));
        if (strict)
            put(t, f, "strict", dup(strict));
    }
    return 0;
}

/* tool_choice {type: auto|any|tool|none, name, disable_parallel_tool_use}. */
static int tool_choice(tr *t, const cJSON *tc, cJSON *o)
{
    static const char *const keys[] = {"type", "name", "disable_parallel_tool_use", NULL};
    const char *type = str_of(tc, "type");
    if (!cJSON_IsObject(tc) || !type)
        return bad(t, ANTH_IN_INVALID, "tool_choice must be an object with a type");
    int rc = known(t, tc, "tool_choice", keys);
    if (rc)
        return rc;
    const char *name = str_of(tc, "name");
    const cJSON *dpar = field(tc, "disable_parallel_tool_use");
    if (dpar && !cJSON_IsBool(dpar))
        return bad(t, ANTH_IN_INVALID, "tool_choice.disable_parallel_tool_use must be a boolean");
    if (!strcmp(type, "auto") || !strcmp(type, "none")) {
        put(t, o, "tool_choice", cJSON_CreateString(type));
    } else if (!strcmp(type, "any")) {
        put(t, o, "tool_choice", cJSON_CreateString("required"));
    } else if (!strcmp(type, "tool")) {
        if (!name)
            return bad(t, ANTH_IN_INVALID, "tool_choice.name must be a string when type is tool");
        cJSON *c = put(t, o, "tool_choice", cJSON_CreateObject());
        put(t, c, "type", cJSON_CreateString("function"));
        cJSON *f = put(t, c, "function", cJSON_CreateObject());
        put(t, f, "name", cJSON_CreateString(name));
    } else {
        return bad(t, ANTH_IN_INVALID, "tool_choice.type must be auto, any, tool or none");
    }
    if (cJSON_IsTrue(dpar))
        put(t, o, "parallel_tool_calls", cJSON_CreateFalse());
    return 0;
}

const char *anth_in_effort(double budget)
{
    return budget < 4096 ? "low" : budget < 16384 ? "medium" : "high";
}

/* output_config.effort (low, medium, high, max) as a reasoning_effort; NULL when absent.
 * A system turn's output_config (set from that turn on) wins over the request's. */
static int effort_of(tr *t, const cJSON *oc, const char **effort)
{
    const cJSON *e = field(t->turn_oc, "effort");
    if (!e)
        e = field(oc, "effort");
    *effort = NULL;
    if (!e)
        return 0;
    const char *v = cJSON_GetStringValue(e);
    if (!v || (strcmp(v, "low") && strcmp(v, "medium") && strcmp(v, "high") && strcmp(v, "max")))
        return bad(t, ANTH_IN_INVALID, "output_config.effort must be low, medium, high or max");
    *effort = strcmp(v, "max") ? v : "high"; /* OpenAI's highest */
    return 0;
}

/* thinking -> reasoning_effort: enabled by its budget_tokens, adaptive by
 * output_config.effort (else medium); disabled -> nothing. display (summarized or
 * omitted) asks how thinking is shown: the upstream's reasoning text is relayed as
 * thinking_delta either way. Without thinking, an effort alone still sets
 * reasoning_effort. */
static int thinking_param(tr *t, const cJSON *th, const cJSON *oc, cJSON *o)
{
    static const char *const keys[] = {"type", "budget_tokens", "display", NULL};
    const char *effort;
    int rc = effort_of(t, oc, &effort);
    if (rc)
        return rc;
    if (!th) {
        if (effort)
            put(t, o, "reasoning_effort", cJSON_CreateString(effort));
        return 0;
    }
    const char *type = str_of(th, "type");
    if (!cJSON_IsObject(th) || !type)
        return bad(t, ANTH_IN_INVALID, "thinking must be an object with a type");
    if ((rc = known(t, th, "thinking", keys)))
        return rc;
    const cJSON *display = field(th, "display");
    const char *d = cJSON_GetStringValue(display);
    if (display && (!d || (strcmp(d, "summarized") && strcmp(d, "omitted"))))
        return bad(t, ANTH_IN_INVALID, "thinking.display must be summarized or omitted");
    if (!strcmp(type, "disabled"))
        return 0;
    if (!strcmp(type, "adaptive")) {
        put(t, o, "reasoning_effort", cJSON_CreateString(effort ? effort : "medium"));
        return 0;
    }
    const cJSON *budget = field(th, "budget_tokens");
    if (strcmp(type, "enabled"))
        return bad(t, ANTH_IN_INVALID, "thinking.type must be enabled, adaptive or disabled");
    if (!cJSON_IsNumber(budget) || budget->valuedouble < 1)
        return bad(t, ANTH_IN_INVALID, "thinking.budget_tokens must be a positive integer");
    put(t, o, "reasoning_effort",
        cJSON_CreateString(effort ? effort : anth_in_effort(budget->valuedouble)));
    return 0;
}

/* output_config: effort (read with thinking) and format, a JSON schema the answer
 * follows -> response_format json_schema. */
static int output_config(tr *t, const cJSON *oc, cJSON *o)
{
    static const char *const keys[] = {"effort", "format", NULL};
    static const char *const fkeys[] = {"type", "schema", NULL};
    if (!cJSON_IsObject(oc))
        return bad(t, ANTH_IN_INVALID, "output_config must be an object");
    int rc = known(t, oc, "output_config", keys);
    const cJSON *f = field(oc, "format");
    if (rc || !f)
        return rc;
    if (!cJSON_IsObject(f) || (rc = known(t, f, "output_config.format", fkeys)))
        return rc ? rc : bad(t, ANTH_IN_INVALID, "output_config.format must be an object");
    const char *type = str_of(f, "type");
    const cJSON *schema = field(f, "schema");
    if (!type || strcmp(type, "json_schema") || !cJSON_IsObject(schema))
        return bad(t, ANTH_IN_INVALID,
                   "output_config.format must be {\"type\":\"json_schema\",\"schema\":{...}}");
    cJSON *rf = put(t, o, "response_format", cJSON_CreateObject());
    put(t, rf, "type", cJSON_CreateString("json_schema"));
    cJSON *js = put(t, rf, "json_schema", cJSON_CreateObject());
    put(t, js, "name", cJSON_CreateString("output"));
    put(t, js, "schema", dup(schema));
    put(t, js, "strict", cJSON_CreateTrue());
    return 0;
}

/* context_management: edits the server makes to the context. Clearing thinking while
 * keeping all of it changes nothing (Claude Code sends that); any other edit has no
 * equivalent. */
static int context_management(tr *t, const cJSON *cm)
{
    static const char *const keys[] = {"edits", NULL};
    static const char *const ekeys[] = {"type", "keep", NULL};
    if (!cJSON_IsObject(cm))
        return bad(t, ANTH_IN_INVALID, "context_management must be an object");
    int rc = known(t, cm, "context_management", keys), i = 0;
    const cJSON *edits = field(cm, "edits"), *e;
    if (!rc && edits && !cJSON_IsArray(edits))
        return bad(t, ANTH_IN_INVALID, "context_management.edits must be an array");
    cJSON_ArrayForEach(e, edits)
    {
        char path[PATH_LEN];
        at(path, "context_management.edits", "", i++);
        const char *type = str_of(e, "type"), *keep = str_of(e, "keep");
        if (rc || !cJSON_IsObject(e) || (rc = known(t, e, path, ekeys)))
            return rc ? rc : bad(t, ANTH_IN_INVALID, "%s must be an object", path);
        if (!type || strncmp(type, "clear_thinking_", 15) || !keep || strcmp(keep, "all"))
            return bad(t, ANTH_IN_UNSUPPORTED,
                       "%s: only clearing no thinking (keep: all) has an equivalent in "
                       "OpenAI's chat request",
                       path);
    }
    return rc;
}

/* A number copied under OpenAI's name. */
/* in[k], a number from lo to hi (a whole one when whole), copied to o. The ranges are
 * Anthropic's, within those the OpenAI-shaped request is checked against. */
static int number(tr *t, const cJSON *in, const char *k, double lo, double hi, int whole, cJSON *o)
{
    const cJSON *v = field(in, k);
    if (v && (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi) ||
              (whole && v->valuedouble != (double)(long long)v->valuedouble)))
        return bad(t, ANTH_IN_INVALID, "%s must be %s from %g to %g", k,
                   whole ? "an integer" : "a number", lo, hi);
    if (v)
        put(t, o, k, dup(v));
    return 0;
}

static int stop_sequences(tr *t, const cJSON *v, cJSON *o)
{
    const cJSON *s, *arr = cJSON_IsArray(v) ? v : NULL;
    int ok = arr != NULL;
    cJSON_ArrayForEach(s, arr) ok = ok && cJSON_IsString(s);
    if (!ok)
        return bad(t, ANTH_IN_INVALID, "stop_sequences must be an array of strings");
    put(t, o, "stop", dup(v));
    return 0;
}

static int metadata(tr *t, const cJSON *v, cJSON *o)
{
    static const char *const keys[] = {"user_id", NULL};
    if (!cJSON_IsObject(v))
        return bad(t, ANTH_IN_INVALID, "metadata must be an object");
    int rc = known(t, v, "metadata", keys);
    const cJSON *u = field(v, "user_id");
    if (!rc && u && !cJSON_IsString(u))
        return bad(t, ANTH_IN_INVALID, "metadata.user_id must be a string");
    if (!rc && u)
        put(t, o, "user", dup(u));
    return rc;
}

/* The model names req.c accepts, checked here so the refusal names the client's field. */
static int model_ok(const cJSON *m)
{
    if (!cJSON_IsString(m) || !*m->valuestring || strlen(m->valuestring) > 256)
        return 0;
    for (const unsigned char *p = (const unsigned char *)m->valuestring; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

static const char *const TOP_KEYS[] = {"model",
                                       "messages",
                                       "system",
                                       "max_tokens",
                                       "temperature",
                                       "top_p",
                                       "top_k",
                                       "stop_sequences",
                                       "stream",
                                       "metadata",
                                       "tools",
                                       "tool_choice",
                                       "thinking",
                                       "service_tier",
                                       "container",
                                       "mcp_servers",
                                       "context_management",
                                       "output_config",
                                       NULL};
/* Anthropic's parameters that OpenAI's chat request cannot say. */
static const char *const NO_EQUIVALENT[] = {"top_k", "service_tier", "container", "mcp_servers",
                                            NULL};

static int translate(tr *t, const cJSON *in, cJSON *o)
{
    int rc = known(t, in, "", TOP_KEYS);
    for (size_t i = 0; !rc && NO_EQUIVALENT[i]; i++)
        if (field(in, NO_EQUIVALENT[i]))
            rc = bad(t, ANTH_IN_UNSUPPORTED, "%s has no equivalent in OpenAI's chat request",
                     NO_EQUIVALENT[i]);
    const cJSON *model = field(in, "model"), *stream = field(in, "stream"), *v;
    if (!rc && model && !model_ok(model))
        rc = bad(t, ANTH_IN_INVALID,
                 "model must be a non-empty string of at most 256 bytes without control "
                 "characters");
    if (!rc && stream && !cJSON_IsBool(stream))
        rc = bad(t, ANTH_IN_INVALID, "stream must be a boolean");
    if (rc)
        return rc;
    if (model)
        put(t, o, "model", dup(model));
    cJSON *msgs = put(t, o, "messages", cJSON_CreateArray());
    if ((rc = system_message(t, field(in, "system"), "system", msgs)) ||
        (rc = messages(t, cJSON_GetObjectItemCaseSensitive(in, "messages"), msgs)) ||
        (rc = number(t, in, "max_tokens", 1, 1e7, 1, o)) ||
        (rc = number(t, in, "temperature", 0, 1, 0, o)) ||
        (rc = number(t, in, "top_p", 0, 1, 0, o)))
        return rc;
    if ((v = field(in, "stop_sequences")) && (rc = stop_sequences(t, v, o)))
        return rc;
    if (stream)
        put(t, o, "stream", dup(stream));
    if ((v = field(in, "metadata")) && (rc = metadata(t, v, o)))
        return rc;
    if ((v = field(in, "tools")) && (rc = tools(t, v, o)))
        return rc;
    if ((v = field(in, "tool_choice")) && (rc = tool_choice(t, v, o)))
        return rc;
    if ((v = field(in, "output_config")) && (rc = output_config(t, v, o)))
        return rc;
    if ((rc = thinking_param(t, field(in, "thinking"), field(in, "output_config"), o)))
        return rc;
    if ((v = field(in, "context_management")))
        return context_management(t, v);
    return 0;
}

int anth_in_translate(const char *body, size_t len, char **out, char *err, size_t errsz)
{
    tr t = {err, errsz, 0, len + 64, NULL, 0, NULL};
    const char *why;
    *out = NULL;
    if (!utf8_valid(body, len))
        return bad(&t, ANTH_IN_INVALID, "request body is not valid UTF-8");
    if (jsonv_check(body, len, &why) < 0)
        return bad(&t, ANTH_IN_INVALID, "request body is not valid JSON: %s", why);
    /* jsonv_check has seen exactly one value, yet cJSON may still refuse it (a lone
     * surrogate escape, a number too long for its buffer): not valid JSON, as req.c says */
    cJSON *in = cJSON_ParseWithLength(body, len), *o = NULL;
    int rc = in ? 0 : bad(&t, ANTH_IN_INVALID, "request body is not valid JSON");
    if (!rc && !cJSON_IsObject(in))
        rc = bad(&t, ANTH_IN_INVALID, "request body must be a JSON object");
    t.in = in;
    if (!rc)
        rc = (o = cJSON_CreateObject()) ? translate(&t, in, o) : ANTH_IN_NOMEM;
    if (!rc && (t.oom || !(*out = cJSON_PrintUnformatted(o))))
        rc = ANTH_IN_NOMEM;
    if (rc == ANTH_IN_NOMEM)
        bad(&t, rc, "out of memory");
    cJSON_Delete(o);
    cJSON_Delete(in);
    return rc;
}
