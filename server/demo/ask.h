/* ask — what a chat-completions request asks the demo model for. The messages are read
 * and checked by chatd's own request parser (req.c, OpenAI flavour); this module adds
 * what only an OpenAI server looks at: stream_options without
 * stream, and a model name it can echo. An ask owns nothing: answer points into the
 * static answers (answers.h), model is a copy. */
#ifndef CHATD_DEMO_ASK_H
#define CHATD_DEMO_ASK_H

#include <stddef.h>

#define ASK_MODEL_MAX 128 /* requested model name, bytes */
#define ASK_ERR_MAX 192   /* an error message, bytes with its NUL */

typedef struct ask {
    const char *answer; /* the canned answer for the last user message */
    long prompt_tokens; /* characters of every message's content / 4, rounded up */
    long max_tokens;    /* 0: no limit */
    int stream;
    int include_usage; /* stream_options.include_usage */
    char model[ASK_MODEL_MAX + 1];
} ask;

/* 0 and *q filled; or -1, what is wrong in err (ASK_ERR_MAX bytes) and *param, the
 * request field at fault (a static string), or NULL when it is the body as a whole. */
int ask_parse(const char *body, size_t n, ask *q, char *err, const char **param);

#endif
