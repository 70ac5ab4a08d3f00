/* store — where answers live: a stream's log of characters, its phase and its end,
 * behind one interface, so that the router, chat and reader never see how it is kept.
 *
 *   owner (chat, one worker)  create -> start | fail_early -> append batches (the last
 *                             one may carry the terminal event) -> expire
 *   readers (any worker)      find -> follow -> read after an event id, woken through
 *                             their stream_sub when there is news -> unfollow
 *   anyone                    cancel (the owner is woken and stops the upstream)
 *
 * Event ids: 0 is start; cluster i (from 0) is id i+1; the terminal event follows the
 * last cluster. Only released characters reach the store (the owner paces before it
 * appends), so everything in it is readable at once.
 *
 * A stream handle is a reference: find and create return one, stream_unref drops it.
 * Wake-ups (stream_sub.notify) run on the appending thread with the stream's lock held:
 * they must only schedule work (sched_wake), never call back into the store.
 * The in-process implementation is store_mem.c; store_use picks the one in force. */
#ifndef CHATD_STORE_H
#define CHATD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define STREAM_ID_LEN 24
/* A log entry's 16-bit length carries its kind in the top two bits. An entry is one event:
 *   TEXT, REASONING  one grapheme cluster of the answer or of the thinking text;
 *   TOOL             a tool call starts: [index byte][id]\0[name];
 *   TOOL_ARGS        a fragment of a tool call's arguments: [index byte][bytes].
 * The index counts the answer's tool calls from 0 (at most STREAM_TOOLS_MAX). */
enum { STREAM_KIND_TEXT = 0, STREAM_KIND_REASONING = 1, STREAM_KIND_TOOL = 2, STREAM_KIND_TOOL_ARGS = 3 };
#define STREAM_KIND_SHIFT 14
#define STREAM_LEN_MASK 0x3fffu
#define STREAM_KIND(len) ((int)((len) >> STREAM_KIND_SHIFT))
#define STREAM_REASONING_BIT ((unsigned)STREAM_KIND_REASONING << STREAM_KIND_SHIFT)
#define STREAM_TOOLS_MAX 128      /* tool calls in one answer */
#define STREAM_ENTRY_MAX 8192     /* bytes of one entry's payload (a longer fragment is cut) */
#define STREAM_TOOL_ID_MAX 256    /* bytes of a tool call's id */
#define STREAM_TOOL_NAME_MAX 256  /* bytes of a tool's name */

typedef struct stream stream;

/* Fixed at creation (the model may change before the stream starts, by its owner:
 * readers on other threads read it after they saw it started); readable without a lock. */
typedef struct stream_info {
    char id[STREAM_ID_LEN + 1];
    char model[257];
    long created; /* seconds since the epoch */
    int owner;    /* the owner's worker index */
} stream_info;

/* Before the first upstream byte a stream is WAITING; it is STARTED once the upstream
 * answered 2xx, or FAILED_EARLY (to be answered with an HTTP error status). */
typedef enum { STREAM_WAITING, STREAM_STARTED, STREAM_FAILED_EARLY } stream_phase;
enum { STREAM_TERM_NONE, STREAM_TERM_DONE, STREAM_TERM_ERROR };

/* How an answer ended (or, FAILED_EARLY, why it never began). */
typedef struct stream_term {
    int kind;                          /* STREAM_TERM_* */
    char finish_reason[32];            /* DONE: stop, length, cancelled, ... */
    long prompt_tokens, completion_tokens; /* -1: unknown */
    int status;                        /* ERROR: an HTTP status worth reporting, or 0 */
    char type[32];                     /* ERROR: the contract's error type */
    char msg[256];
} stream_term;

/* Characters the owner releases in one go: text holds the clusters' bytes back to back,
 * lens one 16-bit length and kind each (STREAM_KIND). term, when
 * set, is the terminal event after them. */
typedef struct stream_batch {
    const char *text;
    const uint16_t *lens;
    size_t n;
    const stream_term *term;
} stream_batch;

/* What a read found after a reader's position. */
typedef struct stream_chunk {
    stream_phase phase;
    stream_term early;   /* FAILED_EARLY: the status, type and message */
    buf text;            /* the clusters' bytes (the reader's scratch; cap it) */
    buf lens;            /* uint16_t per cluster */
    size_t n;            /* clusters read */
    uint64_t first_id;   /* the event id of the first of them */
    int has_term;        /* the terminal event follows them */
    stream_term term;
} stream_chunk;

/* A follower: a reader (counted for the slowest-reader lag while live) or the owner. */
typedef struct stream_sub stream_sub;
struct stream_sub {
    void (*notify)(stream_sub *sub); /* news; see the note above */
    uint64_t taken;                  /* clusters this reader has read (store's lock) */
    int live;                        /* counts for stream_lag (store's lock) */
    stream_sub *next, *prev;         /* the stream's followers (store's lock) */
};

typedef struct store_ops {
    const char *name;
    int (*init)(void);
    void (*shutdown)(void);
    stream *(*create)(const char *id, const char *model, int owner);
    stream *(*find)(const char *id);
    void (*ref)(stream *s);
    void (*unref)(stream *s);
    const stream_info *(*info)(stream *s);
    void (*start)(stream *s);
    /* The model the answer comes from (a fallback answered): the owner, before start. */
    void (*retitle)(stream *s, const char *model);
    void (*fail_early)(stream *s, const stream_term *why);
    int (*append)(stream *s, const stream_batch *b);
    int (*read)(stream *s, stream_sub *sub, uint64_t next_id, size_t max_clusters,
                size_t max_bytes, stream_chunk *out);
    int64_t (*last_id)(stream *s);
    void (*follow)(stream *s, stream_sub *sub);
    void (*unfollow)(stream *s, stream_sub *sub);
    void (*set_live)(stream *s, stream_sub *sub, int live);
    int (*lag)(stream *s, uint64_t *worst);
    int (*readers)(stream *s, uint64_t *alone_since_ms);
    void (*own)(stream *s, stream_sub *owner);
    void (*disown)(stream *s);
    void (*cancel)(stream *s);
    int (*cancel_requested)(stream *s);
    void (*expire)(stream *s);
    int (*count)(void);
} store_ops;

extern const store_ops store_mem_ops;
/* store_mem shared with other replicas through Redis (store_redis.c, repl.h). */
const store_ops *store_redis(void);
extern const store_ops *store_impl;

/* ---- the store ---- */
int store_use(const store_ops *ops);            /* picks and initialises; 0 or -1 */
void store_shutdown(void);                       /* drops every stream still kept */
int store_count(void);                           /* streams kept now */
/* A new stream, kept until stream_expire, and a reference to it. NULL: no memory. */
static inline stream *stream_create(const char *id, const char *model, int owner)
{
    return store_impl->create(id, model, owner);
}
static inline stream *stream_find(const char *id) { return store_impl->find(id); }
static inline void stream_ref(stream *s) { store_impl->ref(s); }
static inline void stream_unref(stream *s) { if (s) store_impl->unref(s); }
static inline const stream_info *stream_get_info(stream *s) { return store_impl->info(s); }

/* ---- owner ---- */
static inline void stream_start(stream *s) { store_impl->start(s); }
static inline void stream_retitle(stream *s, const char *model) { store_impl->retitle(s, model); }
static inline void stream_fail_early(stream *s, const stream_term *why) { store_impl->fail_early(s, why); }
/* 0, or -1 over the log's cap (the stream then ends with an error). */
static inline int stream_append(stream *s, const stream_batch *b) { return store_impl->append(s, b); }
/* The owner's sub is woken on a cancel request and when the last reader leaves. */
static inline void stream_own(stream *s, stream_sub *owner) { store_impl->own(s, owner); }
static inline void stream_disown(stream *s) { store_impl->disown(s); }
static inline int stream_cancel_requested(stream *s) { return store_impl->cancel_requested(s); }
/* Readers now, and since when there has been none (when 0). */
static inline int stream_readers(stream *s, uint64_t *alone_since_ms) { return store_impl->readers(s, alone_since_ms); }
/* Live readers; *worst: the clusters in the store the slowest of them has not read. */
static inline int stream_lag(stream *s, uint64_t *worst) { return store_impl->lag(s, worst); }
/* Forgets the stream: find no longer sees it (references stay valid). */
static inline void stream_expire(stream *s) { store_impl->expire(s); }

/* ---- readers ---- */
static inline void stream_follow(stream *s, stream_sub *sub) { store_impl->follow(s, sub); }
/* After this returns, sub->notify is never called again. */
static inline void stream_unfollow(stream *s, stream_sub *sub) { store_impl->unfollow(s, sub); }
static inline void stream_set_live(stream *s, stream_sub *sub, int live) { store_impl->set_live(s, sub, live); }
/* The events from next_id on (at most max_clusters clusters, max_bytes of their text),
 * appended to out's bufs; sub (or NULL) records how far its reader got. 0, or -1 when
 * next_id is beyond the stream's last possible event or out's bufs are full. */
static inline int stream_read(stream *s, stream_sub *sub, uint64_t next_id, size_t max_clusters,
                              size_t max_bytes, stream_chunk *out)
{
    return store_impl->read(s, sub, next_id, max_clusters, max_bytes, out);
}
/* The terminal event's id once released, else -1. */
static inline int64_t stream_last_id(stream *s) { return store_impl->last_id(s); }
/* A cancel request from any worker: the owner stops the upstream on its next pass. */
static inline void stream_cancel(stream *s) { store_impl->cancel(s); }

void stream_chunk_init(stream_chunk *c, size_t cap);
void stream_chunk_reset(stream_chunk *c);
void stream_chunk_free(stream_chunk *c);

#endif
