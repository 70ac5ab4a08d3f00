/* utf8 — strict UTF-8 validation (RFC 3629: no overlongs, no surrogates, <= U+10FFFF). */
#ifndef CHATD_UTF8_H
#define CHATD_UTF8_H

#include <stddef.h>

/* Length of the valid prefix; equals n when all of s is valid. */
size_t utf8_valid_prefix(const char *s, size_t n);
static inline int utf8_valid(const char *s, size_t n) { return utf8_valid_prefix(s, n) == n; }
/* Largest length <= n that does not cut a UTF-8 sequence of valid text. */
size_t utf8_trim(const char *s, size_t n);

/* Copies the string src into dst[n] (n >= 1), cut if it must be between UTF-8 sequences,
 * never inside one; always NUL-terminated. */
void utf8_copy(char *dst, size_t n, const char *src);

#endif
