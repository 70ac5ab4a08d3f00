/* sse_encode — writes (functions sse_*) chatd's outgoing event stream (WHATWG text/event-stream) into a
 * caller-owned buf: the retry line, id/event/data events, comments.
 * Event data is always one line of JSON, so no CR or LF ever needs splitting. */
#ifndef CHATD_SSE_ENCODE_H
#define CHATD_SSE_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

int sse_retry(buf *b, unsigned ms);
/* id: N / event: TYPE / data: JSON — json is already-encoded JSON text. */
int sse_event(buf *b, uint64_t id, const char *type, const char *json, size_t n);
/* id: N / event: TYPE / data: {"text":"<text escaped>"} */
int sse_text(buf *b, uint64_t id, const char *type, const char *text, size_t n);
int sse_comment(buf *b, const char *text); /* ": text" and a blank line */

#endif
