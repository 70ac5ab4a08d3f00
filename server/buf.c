/* buf — see buf.h. */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(buf *b, size_t cap)
{
    memset(b, 0, sizeof(*b));
    b->cap = cap;
}

void buf_free(buf *b)
{
    free(b->data);
    b->data = NULL;
    b->off = b->len = b->alloc = 0;
    b->failed = 0;
}

void buf_reset(buf *b)
{
    b->off = b->len = 0;
    b->failed = 0;
}

/* Every failure goes through here: it is what makes the error sticky. */
static int fail(buf *b)
{
    b->failed = 1;
    return -1;
}

/* Room for n more bytes (plus a NUL), compacting before growing. */
int buf_reserve(buf *b, size_t n)
{
    if (b->failed)
        return -1;
    if (n > b->cap || b->len > b->cap - n)
        return fail(b);
    size_t need = b->len + n + 1;
    if (b->off + need <= b->alloc)
        return 0;
    if (b->off && need <= b->alloc) {
        memmove(b->data, b->data + b->off, b->len);
        b->off = 0;
        return 0;
    }
    size_t na = b->alloc ? b->alloc : 64;
    while (na < need)
        na *= 2;
    if (na > b->cap + 1)
        na = b->cap + 1;
    char *p = malloc(na);
    if (!p)
        return fail(b);
    if (b->len)
        memcpy(p, b->data + b->off, b->len);
    free(b->data);
    b->data = p;
    b->alloc = na;
    b->off = 0;
    return 0;
}

int buf_add(buf *b, const void *p, size_t n)
{
    if (buf_reserve(b, n) < 0)
        return -1;
    memcpy(b->data + b->off + b->len, p, n);
    b->len += n;
    return 0;
}

int buf_addstr(buf *b, const char *s)
{
    return buf_add(b, s, strlen(s));
}

int buf_addf(buf *b, const char *fmt, ...)
{
    if (b->failed)
        return -1;
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return fail(b);
    if ((size_t)n < sizeof(small))
        return buf_add(b, small, (size_t)n);
    if (buf_reserve(b, (size_t)n) < 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(buf_tail(b), (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void buf_consume(buf *b, size_t n)
{
    if (n >= b->len) {
        b->off = b->len = 0;
        return;
    }
    b->off += n;
    b->len -= n;
}

void buf_shrink(buf *b)
{
    if (b->len == 0) {
        int failed = b->failed;
        buf_free(b);
        b->failed = failed;
    }
}

char *buf_take(buf *b)
{
    if (buf_reserve(b, 0) < 0)
        return NULL;
    char *p = b->data;
    if (b->off)
        memmove(p, p + b->off, b->len);
    p[b->len] = '\0';
    b->data = NULL;
    b->off = b->len = b->alloc = 0;
    return p;
}

void buf_truncate(buf *b, size_t len)
{
    if (len < b->len)
        b->len = len;
}
