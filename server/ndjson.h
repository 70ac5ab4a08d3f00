/* ndjson — an incremental splitter of a newline-delimited JSON body (Ollama's stream):
 * bytes go in with any split, whole lines come out through a callback. It does not parse
 * the JSON. The splitter owns its buffer; a line passed to the callback is valid during
 * the call only.
 *
 * Lines end in LF or CR LF (the CR is dropped, also when the CR and the LF arrive in
 * different calls); a CR anywhere else is content. Empty lines are skipped. At the end of
 * the body, ndjson_finish hands over an unterminated last line as a line of its own.
 *
 * Cap: a line longer than LIM_UP_LINE bytes (without its line end) is an error, reported
 * as soon as the carried part passes the cap. Only a line split across calls is copied. */
#ifndef CHATD_NDJSON_H
#define CHATD_NDJSON_H

#include <stddef.h>

#include "buf.h"

/* Errors; besides them ndjson_feed/ndjson_finish return the callback's first non-zero value. */
enum { NDJSON_ERR_LINE = -1, NDJSON_ERR_NOMEM = -2 };

/* One line without its line end, n > 0, not NUL-terminated (whole lines are handed over
 * in place). 0 to go on; non-zero stops the splitter and is returned. */
typedef int (*ndjson_line_fn)(void *ctx, const char *line, size_t n);

typedef struct ndjson {
    buf line; /* a line split across calls, carried until its end arrives */
    int err;  /* first non-zero result; sticky, nothing is split after it */
} ndjson;

void ndjson_init(ndjson *p);
void ndjson_free(ndjson *p);
/* Splits n bytes; 0, a negative NDJSON_ERR_*, or the callback's first non-zero value.
 * After a non-zero return every later call returns the same value. */
int ndjson_feed(ndjson *p, const char *b, size_t n, ndjson_line_fn cb, void *ctx);
/* The body ended: the unterminated last line, if any, goes to cb. Same returns. */
int ndjson_finish(ndjson *p, ndjson_line_fn cb, void *ctx);

#endif
