/* reader — one HTTP response that reads a stream: the POST that started it, or a
 * GET /api/streams/{id} that resumes it (several at once are fine, on any worker).
 * A reader belongs to the worker whose MHD daemon serves its connection; it holds a
 * reference to its stream and a cursor into the stream's log. It is freed once MHD has
 * completed the request and released the response. */
#ifndef CHATD_READER_H
#define CHATD_READER_H

#include <microhttpd.h>
#include <stdint.h>

#include "http.h"
#include "stream.h"
#include "worker.h"

typedef struct reader reader;

struct reader {
    stream *s;
    worker *w;
    struct MHD_Connection *mc; /* NULL once MHD completed the request */
    stream_cursor cur;
    buf out;                   /* encoded, not yet taken by MHD */
    http_api api;
    int fd;                    /* watched for the peer's hang-up; -1 when not */
    int suspended;             /* we suspended mc and have not resumed it */
    int resp_live;             /* MHD holds our response and may call the callback */
    int streaming;             /* the event-stream response is queued */
    int gone;                  /* the client hung up */
    int finished;              /* the terminal event is in out */
    int ping_due;
    int spare_released;        /* the response buffer's unused pages went back (reader.c) */
    uint64_t last_write_ms;
    uint64_t first_char_ms;    /* when the first character went to MHD, 0: not yet */
    reader *snext, *sprev;     /* the stream's readers (stream mu) */
    reader *wnext, *wprev;     /* the worker's readers */
    reader *rnext;             /* the worker's resume list */
    int in_resume;
    int shard;                 /* which of the worker's daemons serves mc */
    reader *qnext;             /* the worker's cross-thread wake queue (its remote_mu) */
    int queued;
};

/* Creates a reader for mc on worker w and attaches it to s. NULL on no memory. */
reader *reader_new(worker *w, struct MHD_Connection *mc, stream *s, stream_fmt fmt,
                   int include_usage, http_api api);
/* Replay from after last_id (-1: everything). 0, or -1 if last_id is out of range. */
int reader_seek(reader *r, int64_t last_id);
/* Called from the access handler: queues the response when the stream has started (or
 * failed early), else suspends the connection until it has. */
enum MHD_Result reader_respond(reader *r, struct MHD_Connection *mc);
void reader_detach(reader *r);         /* MHD completed the request */
int reader_resume_conn(reader *r);     /* the worker's resume list, before MHD_run; 1: resumed */
void reader_unlisted(reader *r);       /* the worker dropped r from a list */
void reader_housekeep(reader *r, uint64_t now); /* heartbeats */
void reader_free_all(worker *w);       /* worker teardown, MHD stopped */
/* The stream has news: wake every reader, on whatever worker. */
void reader_wake_all(stream *s, worker *self);
/* Characters the slowest reader with a live connection has not taken (0: none). */
uint64_t reader_unsent(stream *s);

#endif
