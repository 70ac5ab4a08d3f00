/* req_msg — one chat message of a request checked the way OpenAI defines it: its role, its
 * content (a string, an array of typed parts, or null beside tool calls), an assistant's
 * tool calls and reasoning, a tool result's call id, and its size in bytes. */
#ifndef CHATD_REQ_MSG_H
#define CHATD_REQ_MSG_H

#include <stddef.h>

typedef struct cJSON cJSON;

/* Message i (m, any JSON value) checked against a cap of max_bytes bytes of text and data:
 * 0 with *join = the bytes (NUL included) its text needs when its content is an array of
 * text parts only, else 0; or -1 with a one-line reason naming the field in err. */
int req_msg_check(const cJSON *m, size_t i, size_t max_bytes, size_t *join, char *err,
                  size_t errsz);

/* The look-ups req.c and req_msg.c read a request with: o[key] (names compared as they
 * are; NULL when absent or o is no object), and whether a value counts as absent (missing
 * or null). */
const cJSON *req_get(const cJSON *o, const char *key);
int req_absent(const cJSON *v);

#endif
