/* gen — one answer of the demo model being generated, and its encoding in OpenAI's
 * chat-completions shapes: the streamed chat.completion.chunk events (role, one per token,
 * finish, usage, [DONE]), the whole chat.completion object, and the error object.
 * A gen owns nothing (its text is a static answer); every encoder appends one complete
 * piece to a caller-owned buf, or fails (-1): its bytes are taken back, and the buf's
 * sticky error stays set (buf_failed) until the caller resets it. */
#ifndef CHATD_DEMO_GEN_H
#define CHATD_DEMO_GEN_H

#include <stdint.h>

#include "ask.h"
#include "buf.h"

#define GEN_ID_LEN 33 /* "chatcmpl-" and 24 letters or digits */

typedef struct gen {
    const char *text; /* the answer */
    size_t pos, len;  /* bytes sent, bytes in all */
    long tokens;      /* tokens sent: completion_tokens */
    long max_tokens;  /* 0: no limit */
    long prompt_tokens;
    int include_usage;
    long long created; /* Unix seconds */
    char id[GEN_ID_LEN + 1];
    char model[ASK_MODEL_MAX + 1];
} gen;

/* Starts the answer q asks for; the id's letters come from seed. */
void gen_init(gen *g, const ask *q, uint64_t seed, long long created);
int gen_more(const gen *g);                  /* a token is left and max_tokens allows it */
const char *gen_finish_reason(const gen *g); /* "stop" at the end, else "length" */
/* Milliseconds before the next token: interval with a jitter of up to a fifth either
 * way, the same for the same token number. */
unsigned gen_delay(const gen *g, unsigned interval);

/* Streamed events, each "data: ...\n\n". */
int gen_role(const gen *g, buf *b);   /* delta {"role":"assistant","content":""} */
int gen_token(gen *g, buf *b);        /* the next token (gen_more is true); advances g */
int gen_finish(const gen *g, buf *b); /* empty delta, finish_reason */
int gen_usage(const gen *g, buf *b);  /* no choices, the usage object */
int gen_done(buf *b);                 /* data: [DONE] */

/* The whole answer as one chat.completion object; runs g to its end. */
int gen_completion(gen *g, buf *b);

/* {"error":{"message":..,"type":..,"param":..,"code":null}}; the type follows the status
 * (server_error from 500, else invalid_request_error). msg: valid UTF-8; param: NULL
 * for null. */
int gen_error(buf *b, int status, const char *msg, const char *param);

#endif
