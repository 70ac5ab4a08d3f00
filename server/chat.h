/* chat — the owner side of one answer: the upstream transfer (up) feeding the stream's
 * log through the provider's parser, pacing, timeouts, cancellation, and how it ends.
 * A chat lives on the worker that started it; it keeps its stream resumable for the
 * retention period after the end, then drops it from the store and frees itself. */
#ifndef CHATD_CHAT_H
#define CHATD_CHAT_H

#include <microhttpd.h>
#include <stdint.h>

#include "http.h"
#include "req.h"
#include "stream.h"
#include "worker.h"

struct chat {
    worker *w;
    stream *s;
    up_xfer *x;
    prov_stream *ps;
    int up_paused;
    int up_end_seen;   /* the provider's explicit end marker */
    buf errbody;
    uint64_t t0_ms, last_up_ms;
    chat *next, *prev; /* the worker's chats */
    chat *anext;       /* the worker's pacing list */
    int in_active;
    int counted;       /* counts in the worker's live_streams and the client's quota */
    char client[64];   /* who the per-client limits count against */
};

struct reader;

/* Starts an answer for a validated request (takes req): the stream, its upstream
 * transfer and the first reader, for mc. On failure an error response was queued.
 * Returns MHD_YES/MHD_NO for the access handler; *out is the reader. */
enum MHD_Result chat_start(worker *w, struct MHD_Connection *mc, chat_req *req, http_api api,
                           const char *client, struct reader **out);

/* Worker ticks, on the owner's thread. */
int chat_pump(chat *c, uint64_t now);       /* pacing; returns whether still active */
void chat_housekeep(chat *c, uint64_t now); /* timeouts, grace, cancel requests, expiry */
void chat_shutdown(chat *c);                /* server stopping: end now */
void chat_free_all(worker *w);              /* worker teardown */

/* A cancel for stream s from any worker (the owner acts on its next pass). */
void chat_request_cancel(stream *s);

#endif
