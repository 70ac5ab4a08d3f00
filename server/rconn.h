/* rconn — one asynchronous Redis connection (hiredis, RESP2) driven by a worker's own loop:
 * connects without blocking, pipelines AUTH/SELECT and the SCRIPT LOADs first, and after any
 * loss reconnects with capped exponential backoff, paced by the worker's pass
 * (rconn_timeout_ms, rconn_tick, rconn_flush). A NOSCRIPT reply (the server's scripts were
 * flushed) makes it reconnect, which loads them again.
 * One thread owns an rconn and makes every call on it; only rconn_ready and the counters
 * may be read from others. rconn owns its hiredis context and every command slot.
 * The process must ignore SIGPIPE (hiredis writes with write(2)). A host name is resolved by
 * hiredis' getaddrinfo, which blocks when it needs DNS: prefer an address or a unix socket.
 * A blocking command (XREAD BLOCK) needs a reply_timeout_ms above its block time, or -1. */
#ifndef CHATD_RCONN_H
#define CHATD_RCONN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"
#include "rconn_url.h"

typedef struct rconn rconn;
typedef struct redisReply redisReply; /* hiredis' reply: type, integer, str/len, elements */

/* DOWN: no connection (waiting for the next attempt, or before the first); CONNECTING: the
 * socket or the handshake is under way; READY: commands are accepted. */
typedef enum { RCONN_DOWN, RCONN_CONNECTING, RCONN_READY } rconn_state;

typedef struct rconn_opts {
    int max_inflight;           /* commands sent and not answered yet; 1..RCONN_INFLIGHT_MAX */
    int connect_timeout_ms;     /* socket + handshake; 0: the default */
    int reply_timeout_ms;       /* the oldest command unanswered this long drops the link;
                                   0: the default, -1: never */
    int backoff_min_ms;         /* first retry after a loss; 0: the default */
    int backoff_max_ms;         /* the cap of the doubling; 0: the default */
    const char *const *scripts; /* NULL-terminated Lua scripts (at most RCONN_SCRIPTS_MAX)
                                   loaded at each connect (SCRIPT LOAD, in the handshake);
                                   an EVAL of one of them, passing the same pointer, goes out
                                   as EVALSHA. The strings must outlive rc. */
    struct rconn_stats *stats;  /* where to count (zeroed by the caller, outliving rc, for
                                   readers on other threads); NULL: inside rc */
} rconn_opts;

#define RCONN_INFLIGHT_MAX 65536
#define RCONN_SCRIPTS_MAX 8
#define RCONN_EVALSHA_ARGS 32 /* an EVAL with more arguments goes out as EVAL */
#define RCONN_CONNECT_TIMEOUT_MS 2000
#define RCONN_REPLY_TIMEOUT_MS 2000
#define RCONN_BACKOFF_MIN_MS 100
#define RCONN_BACKOFF_MAX_MS 2000
#define RCONN_ERR_MAX 160

/* Round-trip latency buckets, upper bounds in microseconds (the last one is +Inf). */
#define RCONN_LAT_BUCKETS 10
extern const uint32_t rconn_lat_le_us[RCONN_LAT_BUCKETS - 1];

/* For /metrics: relaxed atomics, written by the owner, readable from any thread. */
typedef struct rconn_stats {
    atomic_ullong sent;       /* commands written (the handshake's not counted) */
    atomic_ullong replies;    /* replies received, errors included */
    atomic_ullong errors;     /* error replies */
    atomic_ullong lost;       /* commands whose callback got NULL (the link went) */
    atomic_ullong rejected;   /* rconn_cmd refused: not ready, or at the in-flight cap */
    atomic_ullong connects;   /* handshakes completed */
    atomic_ullong reconnects; /* attempts after the first */
    atomic_ullong lat_count, lat_sum_us;
    atomic_ullong lat_bucket[RCONN_LAT_BUCKETS]; /* per bucket, not cumulative */
} rconn_stats;

/* A reply (owned by hiredis, valid during the call only; may be an error reply,
 * REDIS_REPLY_ERROR) or NULL when the connection went before it came. Called exactly once
 * per accepted command. It may call rconn_cmd or rconn_free. */
typedef void (*rconn_cb)(rconn *rc, const redisReply *reply, void *ud);

/* A connection to url on l; nothing happens until the first rconn_tick. NULL: bad
 * options or no memory. The url is copied. */
rconn *rconn_new(loop *l, const rconn_url *url, const rconn_opts *o);
/* Any state, also from inside a callback: every command still pending gets its callback
 * with NULL (before this returns, or, from inside a callback, before the loop callback that
 * led there returns), then the connection and rc are gone. */
void rconn_free(rconn *rc);

/* Sends one command of argc binary-safe arguments (argvlen[i] bytes each). 0: accepted,
 * cb will be called once. -EAGAIN: not ready; -ENOBUFS: max_inflight commands are out;
 * -ENOMEM; -EINVAL: bad arguments. On an error cb is never called and nothing was sent:
 * the caller keeps (buffers) the command and tries again, when rconn_ready, after a pass. */
int rconn_cmd(rconn *rc, rconn_cb cb, void *ud, int argc, const char *const *argv,
              const size_t *argvlen);

/* Writes the commands sent since the last flush (one write for all of them); the owner
 * calls it once a pass, after its last command. Until then rconn_timeout_ms is 0. */
void rconn_flush(rconn *rc);

/* Milliseconds until rconn_tick has work (a retry, a connect or reply deadline), -1: none.
 * For the worker's next epoll timeout. */
int rconn_timeout_ms(const rconn *rc, uint64_t now);
/* The worker's housekeeping, once a pass: starts a due connection attempt, drops a
 * connection past its connect or reply deadline. */
void rconn_tick(rconn *rc, uint64_t now);

rconn_state rconn_get_state(const rconn *rc);
int rconn_ready(const rconn *rc); /* any thread; for /readyz */
int rconn_inflight(const rconn *rc);
/* Why the connection last went down ("" when it never did); owner thread. */
const char *rconn_error(const rconn *rc);
const rconn_stats *rconn_get_stats(const rconn *rc);

#endif
