/* repl — one worker's link to Redis, when chatd runs as one of several replicas: it
 * copies the streams this worker produces into Redis (rlog) and keeps them owned, and it
 * serves this worker's readers of streams produced elsewhere from a local mirror that it
 * loads and follows. Every stream still lives in store_mem; Redis is where replicas meet.
 *
 *   produced here   create -> each loop pass, one XADD per stream with news (a lost link or
 *                   a Redis restart: the whole log again once it is back; the local log is
 *                   the buffer, capped like it) -> a lease renewed every REPL_RENEW_MS,
 *                   which also learns of cancel requests and of readers on other replicas
 *                   -> at the end, the retention TTL and the lease dropped
 *   read here       lookup (HMGET + XRANGE) -> a mirror stream in store_mem -> followed with
 *                   XREAD BLOCK on a connection of its own -> owner_lost when the lease is
 *                   gone twice in a row and the log has no end
 *   cancel          a key the owner checks when it renews, and a notice on chatd:cancels
 *                   that worker 0 of every replica follows, for speed
 *
 * A repl belongs to one worker thread (its loop, its two rconns); repl_current is the
 * calling thread's. Only repl_ready, repl_render_metrics and the remote reader count are
 * for any thread. */
#ifndef CHATD_REPL_H
#define CHATD_REPL_H

#include <stdint.h>

#include "buf.h"
#include "loop.h"
#include "rconn_url.h"
#include "store.h"

#define REPL_LEASE_MS 2500       /* an owner's lease lapses this long after its last renewal */
#define REPL_RENEW_MS 800        /* how often an owner renews */
#define REPL_SLOT_LEASE_MS 10000 /* a concurrency slot lapses this long after its renewal */
#define REPL_SLOT_RENEW_MS 3000
#define REPL_CHECK_MS 700        /* a mirror without news this long looks at the lease */
#define REPL_MIRROR_IDLE_MS 2000 /* a mirror without readers this long is dropped */
#define REPL_BLOCK_MS 2000       /* XREAD BLOCK */
#define REPL_REPLICA_MAX 40

typedef struct repl repl;

/* Once, before the workers start: where Redis is, who this replica is, how long finished
 * streams stay. 0, or -1 (no memory). */
int repl_setup(const rconn_url *url, const char *replica, long retention_ms);
int repl_enabled(void);

/* The limits counted in Redis, across replicas (0: that limit is off). */
typedef struct repl_limits {
    long per_client;     /* concurrent streams of one client */
    long total;          /* concurrent streams of all clients */
    long rate_per_min;   /* a client's token bucket: refill per minute, */
    long burst;          /* and its size */
} repl_limits;
void repl_set_limits(const repl_limits *l);
int repl_limits_on(void);

repl *repl_new(loop *l, int worker_idx);
/* Any pending lookup or cancel is answered "unavailable", every stream let go. */
void repl_free(repl *r);
void repl_bind(repl *r); /* the calling thread's repl from now on */
repl *repl_current(void);

int repl_timeout_ms(const repl *r, uint64_t now);
/* Every pass, after the chats released: sends what is new. house: renewals, checks. */
void repl_pass(repl *r, uint64_t now, int house);

/* Any thread: every worker's link is up. */
int repl_ready(void);
/* Any thread: the Redis counters of every worker, Prometheus text. 0 or -1 (full). */
int repl_render_metrics(buf *out);

/* ---- for store_redis (the owner's thread) ---- */
stream *repl_create_owned(repl *r, const stream_info *info);
void repl_touch(stream *s);   /* the stream has news to send */
void repl_retitle(stream *s); /* its model changed: the meta goes again */
void repl_forget(stream *s);  /* the owner lets the stream go (expire) */
/* Readers on other replicas (any thread); *since: when that last became 0. */
int repl_remote_readers(stream *s, uint64_t *since_ms);

/* ---- admission (worker threads) ---- */
#define REPL_SLOT_MAX 24 /* a concurrency slot's name, NUL included */
/* result: QUOTA_OK, QUOTA_STREAMS, QUOTA_RATE, QUOTA_FULL (the total), or
 * REPL_UNAVAILABLE; retry_s for Retry-After. */
typedef void (*repl_admit_fn)(void *ud, int result, int retry_s);
/* Takes client's rate token and a concurrency slot named slot (a fresh random name is
 * written there), both in one script. 0: fn runs once, later, on this thread; -1: Redis
 * is down (fn never runs). */
int repl_admit(repl *r, const char *client, char slot[REPL_SLOT_MAX], repl_admit_fn fn, void *ud);
/* The stream now holds the slot: its owner keeps the slot's lease alive with the stream's. */
void repl_hold(stream *s, const char *client, const char *slot);
/* The slot is free again (the stream s ended, or, s NULL, never began). */
void repl_release(repl *r, const char *client, const char *slot, stream *s);

/* ---- for the router (its worker's thread) ---- */
/* REPL_FOUND: the stream is in store_mem now (a mirror); REPL_ABSENT: Redis has no such
 * stream; REPL_UNAVAILABLE: Redis did not answer. */
enum { REPL_UNAVAILABLE = -1, REPL_ABSENT = 0, REPL_FOUND = 1 };
typedef void (*repl_found_fn)(void *ud, int result);
/* Loads the stream from Redis; fn runs once, later, on this thread. 0, or -1 (Redis is
 * down: fn never runs). */
int repl_lookup(repl *r, const char *id, repl_found_fn fn, void *ud);
/* Asks the owner, wherever it is, to stop. fn (may be NULL) gets REPL_UNAVAILABLE,
 * REPL_ABSENT, 1 (cancelling) or 2 (it had finished). 0, or -1 (Redis is down). */
int repl_cancel(repl *r, const char *id, repl_found_fn fn, void *ud);

#endif
