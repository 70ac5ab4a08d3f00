/* chat — the owner side of answers: for each, the upstream transfer (up) feeding the
 * provider's parser, whose text goes through emit (characters, pacing) into the stream;
 * timeouts, cancellation, the resume grace, how it ends and how long it is kept.
 * A worker owns one chat_set; every chat lives on that worker's thread, keeps its stream
 * resumable for the retention period after the end, then expires it and frees itself.
 * chat knows nothing of HTTP responses: the router makes the readers. */
#ifndef CHATD_CHAT_H
#define CHATD_CHAT_H

#include <stdint.h>

#include "env.h"
#include "metrics.h"
#include "req.h"
#include "sched.h"
#include "store.h"
#include "up.h"

typedef struct chat_set chat_set;

/* The worker's services a chat uses. */
typedef struct chat_host {
    const chatd_env *env;
    up *up;
    sched *sc;
    metrics *m;
    int idx; /* the worker's index: the stream's owner */
} chat_host;

chat_set *chat_set_new(const chat_host *h);
void chat_set_free(chat_set *cs);               /* stops every upstream transfer */
int chat_set_count(const chat_set *cs);

/* Why chat_start refused: the HTTP status and the contract's error type and message. */
typedef struct chat_refusal {
    unsigned status;
    long retry_after_s; /* > 0: a Retry-After header */
    char type[32];
    char msg[256];
} chat_refusal;

/* Starts an answer for a validated request: its stream (kept in the store), its upstream
 * transfer. client: who the per-client limits count (the caller has admitted it with
 * quota_admit, or across replicas with repl_admit, which named the slot it took: slot, else
 * ""); chat_start takes that slot over and releases it exactly once, also when it
 * fails). request_id goes to the upstream. req's model is routed through the model map
 * (route.h); req is taken (emptied: the caller's req_free is then a no-op), since every
 * attempt builds its upstream request from it. Returns a reference to the stream (in the
 * WAITING phase), or NULL with *why filled: a model chatd does not route (404), every key
 * it could use resting (429), a field the provider cannot take (400), or the upstream
 * request could not be started (500). */
stream *chat_start(chat_set *cs, chat_req *req, const char *client, const char *slot,
                   const char *request_id, chat_refusal *why);

/* Timeouts, grace, cancel requests and expiry of every chat. */
void chat_set_housekeep(chat_set *cs, uint64_t now);
/* The server is stopping: every chat ends now (error "shutdown"). */
void chat_set_shutdown(chat_set *cs);

/* Streams counted against max_streams now, on every worker. */
int chat_live(void);

#endif
