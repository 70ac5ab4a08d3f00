/* gen — see gen.h. The shapes are OpenAI's as its API sends them: "logprobs":null in
 * every choice, and "usage":null in every chunk but the usage one when usage was asked
 * for, so the clients of the demo parse what they would parse from OpenAI. */
#include "gen.h"

#include <stdio.h>
#include <string.h>

#include "jsonw.h"
#include "tok.h"

void gen_init(gen *g, const ask *q, uint64_t seed, long long created)
{
    static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    uint64_t h = tok_mix(seed);
    memset(g, 0, sizeof(*g));
    g->text = q->answer;
    g->len = strlen(q->answer);
    g->max_tokens = q->max_tokens;
    g->prompt_tokens = q->prompt_tokens;
    g->include_usage = q->include_usage;
    g->created = created;
    memcpy(g->id, "chatcmpl-", 9);
    for (size_t i = 9; i < GEN_ID_LEN; i++, h = tok_mix(h))
        g->id[i] = alnum[h % (sizeof(alnum) - 1)];
    snprintf(g->model, sizeof(g->model), "%s", q->model);
}

int gen_more(const gen *g)
{
    return g->pos < g->len && (g->max_tokens == 0 || g->tokens < g->max_tokens);
}

const char *gen_finish_reason(const gen *g)
{
    return g->pos < g->len ? "length" : "stop";
}

unsigned gen_delay(const gen *g, unsigned interval)
{
    long long iv = interval;
    return (unsigned)(iv + iv * ((long long)(tok_mix((uint64_t)g->tokens) % 41) - 20) / 100);
}

/* Every writer below appends its pieces as plain statements (buf's error is sticky) and
 * checks once: on failure the buffer goes back to where it was, so a half event never
 * reaches a client; the error stays set for the caller to see. */
static int done(buf *b, size_t mark)
{
    if (buf_failed(b)) {
        b->len = mark;
        return -1;
    }
    return 0;
}

/* `data: {"id":..,"object":"chat.completion.chunk","created":..,"model":..,` */
static void chunk_head(const gen *g, buf *b)
{
    buf_addf(b,
             "data: {\"id\":\"%s\",\"object\":\"chat.completion.chunk\",\"created\":%lld,"
             "\"model\":",
             g->id, g->created);
    jsonw_str(b, g->model, strlen(g->model));
    buf_add(b, ",", 1);
}

/* The part of a chunk after choices[0]'s delta: finish a JSON string or NULL for null. */
static void chunk_tail(const gen *g, buf *b, const char *finish)
{
    buf_addstr(b, ",\"logprobs\":null,\"finish_reason\":");
    if (finish)
        jsonw_str(b, finish, strlen(finish));
    else
        buf_addstr(b, "null");
    buf_addstr(b, g->include_usage ? "}],\"usage\":null}\n\n" : "}]}\n\n");
}

int gen_role(const gen *g, buf *b)
{
    size_t mark = buf_len(b);
    chunk_head(g, b);
    buf_addstr(b, "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}");
    chunk_tail(g, b, NULL);
    return done(b, mark);
}

int gen_token(gen *g, buf *b)
{
    size_t mark = buf_len(b);
    size_t n = tok_len(g->text + g->pos, g->len - g->pos, g->tokens);
    chunk_head(g, b);
    buf_addstr(b, "\"choices\":[{\"index\":0,\"delta\":{\"content\":");
    jsonw_str(b, g->text + g->pos, n);
    buf_add(b, "}", 1);
    chunk_tail(g, b, NULL);
    if (done(b, mark) < 0)
        return -1;
    g->pos += n;
    g->tokens++;
    return 0;
}

int gen_finish(const gen *g, buf *b)
{
    size_t mark = buf_len(b);
    chunk_head(g, b);
    buf_addstr(b, "\"choices\":[{\"index\":0,\"delta\":{}");
    chunk_tail(g, b, gen_finish_reason(g));
    return done(b, mark);
}

static void usage(const gen *g, buf *b)
{
    buf_addf(b,
             "\"usage\":{\"prompt_tokens\":%ld,\"completion_tokens\":%ld,"
             "\"total_tokens\":%ld}}",
             g->prompt_tokens, g->tokens, g->prompt_tokens + g->tokens);
}

int gen_usage(const gen *g, buf *b)
{
    size_t mark = buf_len(b);
    chunk_head(g, b);
    buf_addstr(b, "\"choices\":[],");
    usage(g, b);
    buf_add(b, "\n\n", 2);
    return done(b, mark);
}

int gen_done(buf *b)
{
    size_t mark = buf_len(b);
    buf_addstr(b, "data: [DONE]\n\n");
    return done(b, mark);
}

int gen_completion(gen *g, buf *b)
{
    size_t mark = buf_len(b);
    while (gen_more(g)) {
        g->pos += tok_len(g->text + g->pos, g->len - g->pos, g->tokens);
        g->tokens++;
    }
    buf_addf(b, "{\"id\":\"%s\",\"object\":\"chat.completion\",\"created\":%lld,\"model\":", g->id,
             g->created);
    jsonw_str(b, g->model, strlen(g->model));
    buf_addstr(b, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
    jsonw_str(b, g->text, g->pos);
    buf_addf(b, ",\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"%s\"}],",
             gen_finish_reason(g));
    usage(g, b);
    return done(b, mark);
}

int gen_error(buf *b, int status, const char *msg, const char *param)
{
    size_t mark = buf_len(b);
    buf_addstr(b, "{\"error\":{\"message\":");
    jsonw_str(b, msg, strlen(msg));
    buf_addf(
        b, ",\"type\":\"%s\",\"param\":", status >= 500 ? "server_error" : "invalid_request_error");
    if (param)
        jsonw_str(b, param, strlen(param));
    else
        buf_addstr(b, "null");
    buf_addstr(b, ",\"code\":null}}");
    return done(b, mark);
}
