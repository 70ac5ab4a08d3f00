/* ask — see ask.h. */
#include "ask.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "answers.h"
#include "req.h"

/* The request field req_parse names at the start of its reasons ("messages[2].role must
 * be ..."), as OpenAI's error.param spells it. */
static const char *param_of(const char *reason)
{
    static const struct {
        const char *field, *param;
    } fields[] = {{"messages", "messages"},
                  {"model", "model"},
                  {"max_tokens", "max_tokens"},
                  {"max_completion_tokens", "max_tokens"},
                  {"temperature", "temperature"},
                  {"stream", "stream"},
                  {"stream_options", "stream_options"}};
    size_t n = strspn(reason, "abcdefghijklmnopqrstuvwxyz_");
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        if (strlen(fields[i].field) == n && strncmp(reason, fields[i].field, n) == 0)
            return fields[i].param;
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
    if (opts && !cJSON_IsNull(opts) && (!cJSON_IsObject(opts) || !r->stream))
        return fail(err, param, "stream_options",
                    "The 'stream_options' parameter is only allowed when 'stream' is enabled.");
    if (r->model && !model_ok(r->model))
        return fail(err, param, "model", "Invalid 'model': expected a model name.");
    snprintf(q->model, sizeof(q->model), "%s", r->model ? r->model : DEMO_MODEL);
    q->max_tokens = r->max_tokens; /* max_completion_tokens, else max_tokens */
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
        const char *text = r.msgs[i].content; /* NULL: no text (images, tool calls) */
        chars += text ? utf8_chars(text) : 0;
        if (text && strcmp(r.msgs[i].role, "user") == 0)
            last_user = text;
    }
    if (rc == 0) {
        q->prompt_tokens = (chars + 3) / 4;
        q->answer = demo_answer_for(last_user);
    }
    req_free(&r);
    return rc;
}
