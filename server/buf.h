/* buf — a growable byte buffer with a hard size cap (after curl's dynbuf).
 * The buffer owns its memory; going over the cap is an ordinary error (-1),
 * never a crash. Consumed bytes are skipped with buf_consume, compacted lazily.
 * buf_ptr's bytes are not NUL-terminated: always pair it with buf_len.
 *
 * Errors are sticky: once buf_add, buf_addstr, buf_addf or buf_reserve fails (over the
 * cap, no memory, a bad format), the buffer remembers it; every later add or reserve does
 * nothing and returns -1, and buf_take returns NULL. So a message can be written as plain
 * statements and checked once with buf_failed. Only buf_reset and buf_free clear the error
 * (buf_shrink frees memory but keeps it); the bytes written before the failure stay. */
#ifndef CHATD_BUF_H
#define CHATD_BUF_H

#include <stddef.h>

typedef struct buf {
    char *data;   /* allocation; live bytes are data[off .. off+len) */
    size_t off;   /* consumed prefix */
    size_t len;   /* live bytes */
    size_t alloc; /* bytes allocated */
    size_t cap;   /* largest len allowed */
    int failed;   /* sticky: an add or reserve failed (see above) */
} buf;

void buf_init(buf *b, size_t cap);
void buf_free(buf *b);                            /* releases memory, keeps cap; clears error */
void buf_reset(buf *b);                           /* empties, keeps memory; clears error */
int buf_add(buf *b, const void *p, size_t n);     /* 0, or -1 over cap / no memory / failed */
int buf_addstr(buf *b, const char *s);
int buf_addf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_reserve(buf *b, size_t n);                /* room for n more bytes */
void buf_consume(buf *b, size_t n);               /* drop n bytes from the front */
void buf_shrink(buf *b);                          /* free memory when empty; keeps error */
void buf_truncate(buf *b, size_t len);            /* keep the first len live bytes */
char *buf_take(buf *b);                           /* NUL-terminated; caller frees; b empty
                                                     (NULL, b untouched, once failed) */

/* Non-zero once an add or reserve has failed, until buf_reset or buf_free. */
static inline int buf_failed(const buf *b) { return b->failed; }

static inline const char *buf_ptr(const buf *b) { return b->data ? b->data + b->off : ""; }
static inline size_t buf_len(const buf *b) { return b->len; }
static inline char *buf_tail(buf *b) { return b->data + b->off + b->len; } /* after reserve */
static inline void buf_commit(buf *b, size_t n) { b->len += n; }           /* after reserve */

#endif
