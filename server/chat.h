/* chat — POST /api/chat: ties one client connection (MHD), one upstream transfer (up)
 * and one character stream (stream) together, and decides how the stream ends.
 * A chat is owned by its worker's list; it is freed once the client connection, the
 * response and the upstream transfer have all let go of it. */
#ifndef CHATD_CHAT_H
#define CHATD_CHAT_H

#include <microhttpd.h>
#include <stdint.h>

#include "http.h"
#include "req.h"
#include "stream.h"
#include "worker.h"

typedef enum { CHAT_WAITING, CHAT_STREAMING, CHAT_PRE_ERROR, CHAT_REFUSED } chat_phase;

struct chat {
    stream st;
    worker *w;
    chat_phase phase;
    http_api api;
    /* client side */
    struct MHD_Connection *mc; /* NULL once MHD completed the request */
    int fd;                    /* client socket watched for hang-up, -1 when not */
    int suspended;             /* we suspended mc and have not resumed it */
    int resp_live;             /* MHD still holds the response (and may call the reader) */
    int client_gone;
    uint64_t gone_ms;
    /* upstream side */
    up_xfer *x;
    prov_stream *ps;
    int up_paused;
    int up_end_seen;           /* the provider's explicit end marker */
    long up_status;
    buf errbody;
    uint64_t t0_ms, first_byte_ms, last_up_ms;
    /* an error answered with an HTTP status before the stream started */
    int pre_status;
    char pre_type[32];
    char pre_msg[256];
    /* worker lists */
    chat *next, *prev;   /* all chats */
    chat *anext;         /* active list */
    chat *rnext;         /* resume list */
    int in_active, in_resume;
};

/* Starts a chat for a validated request (takes req). On success the connection is
 * suspended until the upstream answers; *out is set. On failure an error response was
 * queued. Returns MHD_YES/MHD_NO for the access handler. */
enum MHD_Result chat_start(worker *w, struct MHD_Connection *mc, chat_req *req, http_api api,
                           chat **out);
/* The access handler is called again after the connection was resumed. */
enum MHD_Result chat_respond(chat *c, struct MHD_Connection *mc);
/* The client connection is gone (MHD completed the request). */
void chat_detach(chat *c);

/* Worker ticks. */
int chat_pump(chat *c, uint64_t now);       /* pacing; returns whether still active */
void chat_housekeep(chat *c, uint64_t now); /* pings and timeouts */
void chat_shutdown(chat *c);                /* server stopping: end now */
void chat_resume_conn(chat *c);             /* called by the worker for its resume list */
void chat_free_all(worker *w);
void chat_unlisted(chat *c);                /* the worker dropped c from a list */              /* worker teardown, MHD already stopped */


#endif
