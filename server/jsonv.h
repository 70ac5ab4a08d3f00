/* jsonv — a strict RFC 8259 check of JSON text before cJSON (which is lenient: it takes
 * raw control characters in strings, leading zeros, "1." and some bad escapes). One
 * value, white space around it, nesting capped; \u0000 is refused because C strings would
 * silently cut the text there. No allocation. */
#ifndef CHATD_JSONV_H
#define CHATD_JSONV_H

#include <stddef.h>

#define JSONV_MAX_DEPTH 64

/* 0 when s[0..n) is exactly one valid JSON value; else -1 with a short reason. */
int jsonv_check(const char *s, size_t n, const char **why);

#endif
