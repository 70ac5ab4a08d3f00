/* ask — see ask.h. */
#include "ask.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "answers.h"
#include "req.h"

/* The request fields req_parse names at the start of its reasons ("messages[2].role
 * must be ..."), as OpenAI's error.param spells them. */
static const char *param_of(const char *reason)
{
    static const char *const fields[] = {"messages", "model", "max_tokens", "temperature",
                                         "stream"};
    size_t n = strspn(reason, "abcdefghijklmnopqrstuvwxyz_");
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        if (strlen(fields[i]) == n && strncmp(reason, fields[i], n) == 0)
            return fields[i];
    return NULL;
}

static long utf8_chars(const char *s)
{
    long n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

/* Model names as providers spell them: gpt-4o-mini, ft:gpt-4o:org::id, org/model:tag.
 * Nothing in them needs escaping, so every response can echo the name as it came. */
static int model_ok(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= ASK_MODEL_MAX &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._:/@+") == n;
}

/* max_completion_tokens, OpenAI's newer name for max_tokens, held to req's rule for it:
 * an integer from 1 to 10^7. 0 and *out (0: absent), or -1. */
static int completion_tokens(const cJSON *root, long *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "max_completion_tokens");
    *out = 0;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 1 && v->valuedouble <= 1e7) ||
        v->valuedouble != (double)(long)v->valuedouble)
        return -1;
    *out = (long)v->valuedouble;
    return 0;
}

static int fail(char *err, const char **param, const char *field, const char *msg)
{
    snprintf(err, ASK_ERR_MAX, "%s", msg);
    *param = field;
    return -1;
}

/* The fields req_parse leaves alone; r is valid. */
static int options(const chat_req *r, ask *q, char *err, const char **param)
{
    const cJSON *opts = cJSON_GetObjectItemCaseSensitive(r->root, "stream_options");
    long max_completion;
    if (completion_tokens(r->root, &max_completion) < 0)
        return fail(err, param, "max_tokens", "max_completion_tokens must be a positive integer");
    if (opts && !cJSON_IsNull(opts) && (!cJSON_IsObject(opts) || !r->stream))
        return fail(err, param, "stream_options",
                    "The 'stream_options' parameter is only allowed when 'stream' is enabled.");
    if (r->model && !model_ok(r->model))
        return fail(err, param, "model", "Invalid 'model': expected a model name.");
    snprintf(q->model, sizeof(q->model), "%s", r->model ? r->model : DEMO_MODEL);
    q->max_tokens = max_completion ? max_completion : r->max_tokens;
    q->stream = r->stream;
    q->include_usage = r->include_usage;
    return 0;
}

int ask_parse(const char *body, size_t n, ask *q, char *err, const char **param)
{
    chat_req r;
    const char *last_user = NULL;
    long chars = 0;
    memset(q, 0, sizeof(*q));
    *param = NULL;
    if (req_parse(body, n, REQ_OPENAI, NULL, &r, err, ASK_ERR_MAX) < 0) {
        *param = param_of(err);
        return -1;
    }
    int rc = options(&r, q, err, param);
    for (size_t i = 0; rc == 0 && i < r.n_msgs; i++) {
        chars += utf8_chars(r.msgs[i].content);
        if (strcmp(r.msgs[i].role, "user") == 0)
            last_user = r.msgs[i].content;
    }
    if (rc == 0) {
        q->prompt_tokens = (chars + 3) / 4;
        q->answer = demo_answer_for(last_user);
    }
    req_free(&r);
    return rc;
}
