/* up — drives upstream HTTP transfers with one libcurl multi handle on a worker's loop
 * (curl's multi_socket API, as in its ephiperfifo example). Transfers report body bytes
 * and their end through callbacks; `up` owns every curl handle. A cancelled transfer is
 * removed at once, which closes its upstream connection: that is what stops the tokens. */
#ifndef CHATD_UP_H
#define CHATD_UP_H

#include <stddef.h>
#include <stdint.h>

#include "loop.h"
#include "prov.h"

typedef struct up up;
typedef struct up_xfer up_xfer;

/* Result codes given to on_done. */
enum { UP_OK = 0, UP_CONNECT = 1, UP_TIMEOUT = 2, UP_FAILED = 3, UP_ABORTED = 4 };

typedef struct up_ops {
    /* Body bytes; return UP_DATA_OK, UP_DATA_PAUSE (deliver the same bytes again after
     * up_resume) or UP_DATA_ABORT. status is the HTTP status of the response. */
    int (*on_data)(void *ud, long status, const char *p, size_t n);
    /* The transfer ended (never after up_cancel); the handle is already gone.
     * retry_after_s: the response's Retry-After in seconds (-1: none). */
    void (*on_done)(void *ud, int result, long status, long retry_after_s, const char *reason);
} up_ops;

enum { UP_DATA_OK, UP_DATA_PAUSE, UP_DATA_ABORT };

/* HTTP/2 to the upstream (as cfg_http2): auto (https: when the server offers it; http:
 * HTTP/1.1), on (https: HTTP/2; http: h2c with prior knowledge), off (HTTP/1.1). */
enum { UP_H2_AUTO, UP_H2_ON, UP_H2_OFF };

typedef struct up_opts {
    long connect_timeout_ms;
    int http2;           /* UP_H2_* */
    const char *ca_file; /* CA certificates to verify the upstream with; NULL: the system's */
} up_opts;

/* Whether this libcurl can multiplex h2c (HTTP/2 with prior knowledge over http://). */
int up_h2c_ok(void);
const char *up_libcurl_version(void); /* "7.88.1" */

up *up_new(loop *l);
void up_free(up *u);                /* cancels every transfer */
/* Starts a transfer (a POST of h->body, or a GET when it is NULL); takes ownership of
 * h's members (h is zeroed). NULL on failure. */
up_xfer *up_start(up *u, prov_http *h, const up_opts *o, const up_ops *ops, void *ud);
void up_cancel(up *u, up_xfer *x);  /* not from inside an up_ops callback */
void up_resume(up *u, up_xfer *x);  /* after UP_DATA_PAUSE */
/* Milliseconds until curl wants its timeout handled, -1 for none. */
int up_timeout_ms(const up *u, uint64_t now);
/* Runs curl's timeout work if due and reports finished transfers. Call once per loop pass. */
void up_tick(up *u, uint64_t now);
int up_count(const up *u);

#endif
