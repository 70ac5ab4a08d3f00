/* sse_parse — an incremental parser (functions ssep_*) of a text/event-stream body (WHATWG HTML "event stream
 * interpretation"): bytes go in with any split, whole events come out through a callback.
 * The parser owns its buffers; an event passed to the callback is valid during the call only.
 *
 * Follows the spec: one leading UTF-8 BOM skipped; lines end in CR, LF or CRLF (also when
 * the CR and the LF arrive in different calls); ':' lines are comments; "field:value" with
 * one optional space after the colon removed; a line without a colon is a field with an
 * empty value; data lines are joined with "\n"; event sets the type ("message" when
 * unset); id is kept across events and ignored when it contains NUL; retry takes digits
 * only; unknown fields are ignored; a blank line dispatches unless the data is empty.
 *
 * One leniency at the end of the body: the spec drops an event without its closing blank
 * line, but real providers often end the body right after the last "data:" line. So
 * ssep_finish dispatches the pending event when its last line was terminated, or when the
 * unterminated final line is a complete field (it holds a colon). An unterminated line
 * without a colon is a cut-off field name: then the whole pending event is dropped.
 *
 * Caps: a line longer than LIM_UP_LINE or event data over LIM_UP_EVENT is an error;
 * memory never grows past them. Only a line split across calls is copied before parsing. */
#ifndef CHATD_SSE_PARSE_H
#define CHATD_SSE_PARSE_H

#include <stddef.h>

#include "buf.h"

/* Errors; besides them ssep_feed/ssep_finish return the callback's first non-zero value. */
enum { SSEP_ERR_LINE = -1, SSEP_ERR_EVENT = -2, SSEP_ERR_NOMEM = -3 };

/* One dispatched event. All three strings are NUL-terminated (data can go straight to a
 * JSON parser); the lengths exclude the NUL. type is "message" when the event set none;
 * id is the last event id seen so far in the stream ("" when none). */
typedef struct ssep_event {
    const char *type;
    size_t type_len;
    const char *data;
    size_t data_len;
    const char *id;
    size_t id_len;
} ssep_event;

/* 0 to go on; non-zero stops the parser and becomes the return value of feed/finish. */
typedef int (*ssep_event_fn)(void *ctx, const ssep_event *ev);

typedef struct ssep {
    buf line;   /* a line split across calls, carried until its end arrives */
    buf data;   /* data of the event being built, each line followed by "\n" */
    buf type;   /* event type of the event being built */
    buf id;     /* last event id */
    long retry; /* last valid retry field, milliseconds; -1 when none (read-only) */
    int bom;    /* BOM bytes matched so far; 3 once the start of the body is past */
    int cr;     /* the previous call ended with CR: an LF next is part of that line end */
    int err;    /* first non-zero result; sticky, nothing is parsed after it */
} ssep;

void ssep_init(ssep *p);
void ssep_free(ssep *p);
/* Parses n bytes; 0, a negative SSEP_ERR_*, or the callback's first non-zero value.
 * After a non-zero return every later call returns the same value. */
int ssep_feed(ssep *p, const char *b, size_t n, ssep_event_fn cb, void *ctx);
/* The body ended: dispatches the pending event as described above. Same returns. */
int ssep_finish(ssep *p, ssep_event_fn cb, void *ctx);

#endif
