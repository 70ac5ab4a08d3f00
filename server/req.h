/* req — the validated chat request, as every API (native, OpenAI-compatible) hands it on.
 * req_parse reads a JSON body and either fills a chat_req or says which field is wrong.
 * The chat_req owns its cJSON tree (every string points into it, or into joined) and a
 * copy of the body's text, which a provider can pass on byte for byte. */
#ifndef CHATD_REQ_H
#define CHATD_REQ_H

#include <stddef.h>

typedef struct cJSON cJSON;

typedef struct chat_msg {
    const char *role;    /* "system", "developer", "user", "assistant" or "tool" */
    const char *content; /* the text: content as a string, or its text parts joined by "\n";
                            NULL when content is null, absent or holds other parts */
    const cJSON *json;   /* the message as sent: an object in the request's tree */
} chat_msg;

typedef struct chat_req {
    chat_msg *msgs;
    size_t n_msgs;
    const char *model;  /* NULL: the configured default */
    double temperature; /* valid when has_temperature */
    int has_temperature;
    long max_tokens;   /* max_completion_tokens, else max_tokens; 0: unset */
    long n;            /* choices asked for: 1 unless the request says more */
    int stream;        /* OpenAI API: stream flag (the native API always streams) */
    int include_usage; /* OpenAI API: stream_options.include_usage */
    cJSON *root;       /* the request as sent, every field kept; owns the strings above */
    char *joined;      /* the joined text parts some contents point into */
    /* The body as parsed (malloc'd, owned here, freed by req_free; not NUL-terminated):
     * root's text, every number and escape as the client wrote it. NULL in a chat_req
     * not made by req_parse, which then has only root. */
    char *raw;
    size_t raw_len;
} chat_req;

/* Flags: OpenAI's API has the stream and stream_options fields; the native API checks
 * their types but always streams. Both take the whole OpenAI request otherwise. */
enum { REQ_OPENAI = 1 };

typedef struct req_limits {
    size_t max_messages;      /* most messages */
    size_t max_message_bytes; /* largest message: its text and data (parts, tool calls) */
} req_limits;

/* 0 and *out filled, or -1 with a one-line reason in err (invalid_request).
 * lim NULL: LIM_MESSAGES_MAX and no per-message cap. A top-level member chatd reads may
 * appear once only ("<name> appears more than once"): cJSON reads the first of a repeated
 * name and other parsers the last, so the one checked here could differ from the one an
 * upstream reads. Other names may repeat; they go on as they are. */
int req_parse(const char *body, size_t len, int flags, const req_limits *lim, chat_req *out,
              char *err, size_t errsz);
void req_free(chat_req *r);

#endif
