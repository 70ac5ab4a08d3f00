/* jsonw — appends JSON text to a capped buf: quoted strings escaped so that the result
 * never holds a raw CR, LF, U+2028 or U+2029 (safe inside one SSE data line).
 * Input must be valid UTF-8 (the segmenter guarantees it for answer text). */
#ifndef CHATD_JSONW_H
#define CHATD_JSONW_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

int jsonw_str(buf *b, const char *s, size_t n); /* "..." with escapes; 0 or -1 (cap) */
int jsonw_u64(buf *b, uint64_t v);              /* decimal digits */

#endif
