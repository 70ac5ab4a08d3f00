/* req — the validated chat request, as every API (native, OpenAI-compatible) hands it on.
 * req_parse reads a JSON body and either fills a chat_req or says which field is wrong.
 * The chat_req owns its cJSON tree; every string points into it; req_free releases it. */
#ifndef CHATD_REQ_H
#define CHATD_REQ_H

#include <stddef.h>

typedef struct cJSON cJSON;

typedef struct chat_msg {
    const char *role;    /* "system", "user" or "assistant" */
    const char *content; /* UTF-8, validated */
} chat_msg;

typedef struct chat_req {
    chat_msg *msgs;
    size_t n_msgs;
    const char *model;    /* NULL: the configured default */
    double temperature;   /* valid when has_temperature */
    int has_temperature;
    long max_tokens;      /* 0: unset */
    int stream;           /* OpenAI API: stream flag (the native API always streams) */
    int include_usage;    /* OpenAI API: stream_options.include_usage */
    cJSON *root;          /* owns the strings above */
} chat_req;

/* Flags: OpenAI's API also takes content as [{"type":"text","text":...}] and has the
 * stream and stream_options fields; the native API ignores those as unknown fields. */
enum { REQ_OPENAI = 1 };

typedef struct req_limits {
    size_t max_messages;      /* most messages */
    size_t max_message_bytes; /* largest content of one message */
} req_limits;

/* 0 and *out filled, or -1 with a one-line reason in err (invalid_request).
 * lim NULL: LIM_MESSAGES_MAX and no per-message cap. */
int req_parse(const char *body, size_t len, int flags, const req_limits *lim, chat_req *out,
              char *err, size_t errsz);
void req_free(chat_req *r);

#endif
