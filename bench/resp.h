/* resp — an incremental HTTP/1.1 response decoder for the load client: the status line
 * and headers, then a chunked, Content-Length or read-until-close body, handed to a
 * callback as decoded bytes. Bytes may come in any split. The caller zeroes a resp
 * before the first feed and calls resp_free at the end (the header buffer lives only
 * until the head is complete). */
#ifndef BENCH_RESP_H
#define BENCH_RESP_H

#include <stddef.h>
#include <stdint.h>

#define RESP_HEAD_MAX 8192

/* Decoded body bytes; non-zero stops the feed and becomes its result. */
typedef int (*resp_body_fn)(void *ud, const char *p, size_t n);

typedef struct resp {
    int state, status;
    int chunked, has_len;
    uint64_t left; /* bytes left in this chunk, or in a Content-Length body */
    char *head;
    size_t head_len;
} resp;

enum { RESP_MORE = 0, RESP_DONE = 1, RESP_ERR = -1 };

/* RESP_MORE, RESP_DONE (the message is complete; later bytes are ignored), RESP_ERR, or
 * the body callback's non-zero value. */
int resp_feed(resp *r, const char *p, size_t n, resp_body_fn fn, void *ud);
/* The peer closed: RESP_DONE when that ends a read-until-close body, else RESP_ERR. */
int resp_eof(resp *r);
void resp_free(resp *r);

#endif
