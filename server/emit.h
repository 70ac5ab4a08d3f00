/* emit — the owner's side of a stream, before the store: upstream text is cut into
 * characters (grapheme clusters, seg), queued, and released into the stream at the
 * pacer's rate, one batch per release; the terminal event follows the last character.
 * All of it runs on the owner's thread and outside any lock: the store sees only whole,
 * released characters. The emit owns its queue; the stream is the caller's reference. */
#ifndef CHATD_EMIT_H
#define CHATD_EMIT_H

#include <stdint.h>

#include "buf.h"
#include "pace.h"
#include "seg.h"
#include "store.h"

enum { EMIT_TEXT = 0, EMIT_REASONING = 1 };

typedef struct emit {
    stream *s;
    const pace_cfg *pc;
    pace pace;
    seg seg;             /* the open cluster, of kind last_kind: switching kinds closes it */
    int last_kind;
    buf text;            /* queued clusters' bytes, oldest first */
    buf lens;            /* uint16_t each */
    uint64_t queued;     /* clusters queued */
    uint64_t released;   /* clusters in the stream */
    size_t bytes;        /* text queued and released, against the log's cap */
    stream_term term;    /* decided when term.kind is set */
    int flush;           /* release without pacing (an error or a cancel) */
    int term_sent;       /* the terminal event is in the stream */
    uint64_t ended_ms;   /* when it went */
} emit;

void emit_init(emit *e, stream *s, const pace_cfg *pc, uint64_t now);
void emit_free(emit *e);

/* Upstream text of a kind. 0, or -1 over the log's cap (the answer then ends with an
 * error after what was queued). Nothing is taken once the end is decided. */
int emit_text(emit *e, int kind, const char *p, size_t n);
/* A tool call starts (index counts the answer's tool calls from 0), then fragments of its
 * arguments; each is one event, in order with the text. 0, or -1 (the answer then ends
 * with an error: a call chatd cannot relay, or over the log's cap). */
int emit_tool(emit *e, int index, const char *id, const char *name);
int emit_tool_args(emit *e, int index, const char *p, size_t n);
void emit_finish_reason(emit *e, const char *reason);
void emit_usage(emit *e, long prompt, long completion);
/* The end, decided: done (after every character received), an error or a cancel (both
 * after what was received, released at once). The first decision wins. */
void emit_done(emit *e);
void emit_fail(emit *e, const char *type, const char *msg, int status);
void emit_cancel(emit *e);
int emit_decided(const emit *e);           /* the end is decided */
int emit_is_error(const emit *e);

/* Releases what pacing allows into the stream (and the terminal event when due).
 * Returns the clusters released. */
uint64_t emit_pump(emit *e, uint64_t now);
int emit_active(const emit *e);            /* clusters or the terminal event still to go */
uint64_t emit_backlog(const emit *e);      /* clusters queued */

#endif
