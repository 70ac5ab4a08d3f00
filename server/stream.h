/* stream — one answer's character pipeline, independent of HTTP and curl:
 *   upstream text -> segmenter -> pending clusters -> pacer -> SSE events in `out`.
 * The stream owns its buffers; its owner (chat.c) moves `out` to the client and tells it
 * when the upstream ends or fails. Ids count from 0 (start) up by one per event; exactly
 * one terminal event (done or error) is written, after every pending character. */
#ifndef CHATD_STREAM_H
#define CHATD_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "pace.h"
#include "seg.h"

#define STREAM_ID_LEN 24

enum { STREAM_TEXT = 0, STREAM_REASONING = 1 };

/* How events are written: chatd's native event stream, OpenAI's chunk stream, or one
 * OpenAI chat.completion object at the end (collected, never paced). */
typedef enum { STREAM_FMT_NATIVE, STREAM_FMT_OAI_SSE, STREAM_FMT_OAI_JSON } stream_fmt;

typedef struct stream {
    char id[STREAM_ID_LEN + 1];
    char model[257];
    const pace_cfg *pc;
    pace pace;
    stream_fmt fmt;
    int include_usage; /* OpenAI stream: send the usage chunk */
    long created;      /* OpenAI: creation time, seconds */
    buf head;          /* OpenAI stream: the fields every chunk repeats */
    buf full[2];       /* OpenAI object: the answer and the reasoning, collected */
    seg seg[2];        /* text and reasoning segment independently */
    int last_kind;     /* the kind fed last */
    buf out;           /* encoded events not yet taken by the client */
    buf pend;          /* pending cluster bytes, in order */
    buf pend_lens;     /* one uint16_t per pending cluster; top bit: reasoning */
    size_t pend_count; /* clusters pending */
    uint64_t next_id;
    uint64_t chars;          /* deltas written */
    uint64_t last_out_ms;    /* last time anything was written to out */
    char finish_reason[32];
    long prompt_tokens, completion_tokens; /* -1: unknown */
    int up_done;       /* no more text will come */
    int flush;         /* ignore pacing: drain as fast as out allows */
    int term_kind;     /* STREAM_TERM_* once decided */
    int term_written;
    int err_status;
    char err_type[32];
    char err_msg[256];
} stream;

enum { STREAM_TERM_NONE, STREAM_TERM_DONE, STREAM_TERM_ERROR };

void stream_init(stream *s, const char *id, const char *model, const pace_cfg *pc, uint64_t now);
void stream_release(stream *s);
/* Chooses the output format (default native); before stream_begin. 0 or -1. */
int stream_set_format(stream *s, stream_fmt fmt, int include_usage, long created);
int stream_begin(stream *s);                            /* retry + start event */
int stream_add(stream *s, int kind, const char *p, size_t n); /* 0 or -1 (pending cap) */
void stream_set_finish(stream *s, const char *reason);
void stream_set_usage(stream *s, long prompt, long completion);
/* The upstream ended normally: held tails become characters; done follows them. */
int stream_end(stream *s);
/* End with an error after every character already received (type, message, status
 * or 0). A later end or fail is ignored: the first terminal decision wins. */
void stream_fail(stream *s, const char *type, const char *msg, int status);
/* End with done/cancelled after the characters already received. */
void stream_cancel(stream *s);
/* Moves what pacing allows from pending to out, then the terminal event when due.
 * Returns the number of bytes added to out. */
size_t stream_pump(stream *s, uint64_t now);
int stream_ping(stream *s, uint64_t now);
static inline size_t stream_backlog(const stream *s) { return s->pend_count; }
static inline size_t stream_pend_bytes(const stream *s) { return buf_len(&s->pend); }
static inline int stream_over_high(const stream *s) { return buf_len(&s->out) >= LIM_OUT_HIGH; }
/* True while pump has work: characters pending, or a terminal event not yet written. */
int stream_active(const stream *s);

#endif
