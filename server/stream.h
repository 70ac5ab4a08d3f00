/* stream — one answer as a log of events, shared by every reader of it.
 *
 *   owner (chat.c, one worker): upstream text -> segmenter -> log of clusters;
 *                               the pacer releases clusters; a terminal event ends it.
 *   readers (reader.c, any worker): each keeps a cursor and encodes the released events
 *                               from it in its own format (native SSE, OpenAI chunks, or
 *                               one OpenAI object), so a resumed reader replays exactly.
 *
 * Event ids: 0 is start; cluster i (from 0) is id i+1; the terminal event follows the last
 * cluster. The log keeps the clusters themselves (bytes + a 16-bit length each), not the
 * encoded events, and is capped. Fields marked (owner) are touched by the owner's thread
 * only; fields marked (mu) only with mu held. A stream is reference-counted: the store,
 * the chat and each reader hold one. */
#ifndef CHATD_STREAM_H
#define CHATD_STREAM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "pace.h"
#include "seg.h"

#define STREAM_ID_LEN 24

enum { STREAM_TEXT = 0, STREAM_REASONING = 1 };
enum { STREAM_TERM_NONE, STREAM_TERM_DONE, STREAM_TERM_ERROR };

/* Before the first upstream byte a stream is WAITING; it STARTED once the upstream
 * answered 2xx, or FAILED_EARLY (to be answered with an HTTP error status). */
typedef enum { STREAM_WAITING, STREAM_STARTED, STREAM_FAILED_EARLY } stream_phase;

/* How a reader writes events. */
typedef enum { STREAM_FMT_NATIVE, STREAM_FMT_OAI_SSE, STREAM_FMT_OAI_JSON } stream_fmt;

struct reader;

typedef struct stream {
    /* fixed at creation */
    char id[STREAM_ID_LEN + 1];
    char model[257];
    int owner;           /* worker index */
    long created;        /* seconds since the epoch */
    atomic_int refs;
    /* (owner) */
    const pace_cfg *pc;
    pace pace;
    seg seg;             /* the open cluster, of kind last_kind: one segmenter serves both
                          * kinds, since switching kinds completes the other's cluster */
    int last_kind;
    int flush;           /* release without pacing */
    /* (mu) */
    pthread_mutex_t mu;
    stream_phase phase;
    int early_status;    /* FAILED_EARLY: HTTP status, type, message */
    char early_type[32];
    char early_msg[256];
    buf text;            /* cluster bytes, in order */
    buf lens;            /* uint16_t per cluster; top bit: reasoning */
    uint64_t count;      /* clusters in the log */
    uint64_t visible;    /* clusters released to readers */
    int term_kind;       /* decided */
    int term_visible;    /* released (after every cluster) */
    char finish_reason[32];
    long prompt_tokens, completion_tokens; /* -1: unknown */
    int err_status;
    char err_type[32];
    char err_msg[256];
    int cancel_req;      /* a cancel arrived from another worker */
    struct reader *readers;
    int nreaders;
    uint64_t no_reader_since_ms; /* when nreaders last dropped to 0 */
    uint64_t ended_ms;   /* when the terminal event was released */
} stream;

/* A reader's position and format. */
typedef struct stream_cursor {
    stream_fmt fmt;
    int include_usage;   /* OpenAI stream: the usage chunk */
    uint64_t next_id;    /* next event to encode */
    size_t text_off;     /* byte offset of cluster next_id-1 in the log */
    int retry_sent;      /* native: the retry line opens every response */
    buf head;            /* OpenAI stream: the fields every chunk repeats */
} stream_cursor;

stream *stream_new(const char *id, const char *model, const pace_cfg *pc, int owner, uint64_t now);
void stream_ref(stream *s);
void stream_unref(stream *s);

/* ---- owner side ---- */
int stream_add(stream *s, int kind, const char *p, size_t n); /* 0, or -1 over the log cap */
void stream_set_finish(stream *s, const char *reason);
void stream_set_usage(stream *s, long prompt, long completion);
void stream_start(stream *s);                                  /* phase STARTED */
void stream_fail_early(stream *s, int status, const char *type, const char *msg);
/* The upstream ended normally: held tails become clusters; done follows them. */
int stream_end(stream *s);
/* Ends with an error after every cluster already received; the first terminal wins. */
void stream_fail(stream *s, const char *type, const char *msg, int status);
void stream_cancel(stream *s); /* done / cancelled after what was received */
/* Releases what pacing allows (and the terminal when due). 1 if readers have news. */
int stream_pump(stream *s, uint64_t now);
int stream_active(stream *s);  /* clusters or the terminal still to release */
uint64_t stream_backlog(stream *s);
size_t stream_log_bytes(stream *s);

/* ---- reader side ---- */
int stream_cursor_init(stream_cursor *c, stream *s, stream_fmt fmt, int include_usage);
void stream_cursor_free(stream_cursor *c);
/* Positions c after event last_id (-1: from the start). 0, or -1 if last_id is beyond
 * the stream's last possible event. */
int stream_seek(stream *s, stream_cursor *c, int64_t last_id);
/* Encodes released events from c into out until out holds at least max bytes.
 * Returns 1 once the terminal event has been encoded (the reader is done), else 0;
 * -1 on a cap error. */
int stream_encode(stream *s, stream_cursor *c, buf *out, size_t max);
/* The terminal event's id once decided and released, else -1. */
int64_t stream_last_id(stream *s);

#endif
