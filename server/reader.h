/* reader — one HTTP response that reads a stream: the POST that started it, or a
 * GET /api/streams/{id} that resumes it (several at once are fine, on any worker). It
 * follows the stream in the store, is woken through the worker's scheduler when there is
 * news (from whatever thread appended it), reads what is new after its position and
 * writes it in its format (encode) for libmicrohttpd's content callback.
 * A worker owns one reader_set; a reader belongs to the worker whose daemon serves its
 * connection and is touched by that thread only. It is freed once MHD has completed the
 * request and released the response. */
#ifndef CHATD_READER_H
#define CHATD_READER_H

#include <microhttpd.h>
#include <stdint.h>

#include "encode.h"
#include "loop.h"
#include "resp.h"
#include "sched.h"
#include "store.h"

typedef struct reader reader;
typedef struct reader_set reader_set;

/* The worker's services a reader uses. */
typedef struct reader_host {
    loop *loop;
    sched *sc;
    struct MHD_Daemon *const *mhd; /* the worker's daemons (shards) */
    int nmhd;
    uint32_t *mhd_due;             /* a bit per shard that MHD_run must visit */
} reader_host;

/* What the access log says of a reader. */
typedef struct reader_stats {
    const stream_info *info;
    uint64_t chars;          /* characters written */
    uint64_t first_char_ms;  /* when the first went to MHD; 0: none */
    int gone;                /* the client hung up */
    int streaming;           /* the event-stream response was queued */
    int finished;            /* the terminal event was written: */
    int term_kind;           /* STREAM_TERM_DONE or STREAM_TERM_ERROR, */
    const char *term_word;   /* and its finish reason or error type */
} reader_stats;

reader_set *reader_set_new(const reader_host *h);
/* After the daemons stopped: frees what is left. */
void reader_set_free(reader_set *rs);
int reader_set_count(const reader_set *rs);
/* Which of the worker's daemons (shards) holds mc: the bit to set in mhd_due after a resume. */
int reader_set_shard(const reader_set *rs, struct MHD_Connection *mc);
void reader_set_housekeep(reader_set *rs, uint64_t now); /* heartbeats */
/* Before the daemons stop: every connection resumed, its reader marked gone (MHD aborts
 * when stopped with suspended connections). */
void reader_set_teardown(reader_set *rs);

/* A reader for mc on stream s (it takes its own reference). NULL on no memory. */
reader *reader_new(reader_set *rs, struct MHD_Connection *mc, stream *s, enc_fmt fmt,
                   int include_usage, api_kind api);
/* The request's HTTP version: an HTTP/1.1 response's live body is written on the socket
 * by the reader itself (no MHD resume per token); others go through MHD only. */
void reader_set_http_version(reader *r, const char *version);
/* Replay from after last_id (-1: everything). 0, or -1 if last_id is out of range. */
int reader_seek(reader *r, int64_t last_id);
/* From the access handler: queues the response when the stream has started (or failed
 * early), else suspends the connection until it has. */
enum MHD_Result reader_respond(reader *r, struct MHD_Connection *mc);
void reader_detach(reader *r); /* MHD completed the request */
void reader_get_stats(const reader *r, reader_stats *st);

#endif
