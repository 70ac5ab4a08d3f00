/* fuzz — what the libFuzzer targets share: a check that aborts with a message (libFuzzer
 * then keeps the input as a crash), a plan that cuts an input into feeds, and a log of
 * callback calls so that two runs over the same bytes can be compared.
 * Header-only; every target is one translation unit. */
#ifndef CHATD_FUZZ_H
#define CHATD_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An invariant broke: print where and why, and abort so that libFuzzer saves the input. */
#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "\nFUZZ CHECK FAILED %s:%d: %s\n  ", __FILE__, __LINE__, #cond);       \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* ---- the feed plan ----
 * Input layout: byte 0 holds the plan length in its low 3 bits (the high 5 bits are the
 * target's own), then that many piece lengths, then the payload. Pieces take the lengths
 * in turn, cycling; a 0 is an empty feed. With no plan, or only zeros, the payload goes in
 * one feed. So the seed "\x01\x01..." feeds one byte at a time. */
typedef struct fuzz_plan {
    const uint8_t *len;
    size_t nlen;
    size_t k;
    int moves;     /* some length is non-zero: cycling always makes progress */
    unsigned high; /* byte 0 >> 3, for the target */
} fuzz_plan;

/* Takes the plan off the head of the input; *d and *n become the payload. */
static inline void fuzz_plan_take(fuzz_plan *pl, const uint8_t **d, size_t *n)
{
    memset(pl, 0, sizeof(*pl));
    if (*n == 0)
        return;
    size_t want = (*d)[0] & 7u;
    pl->high = (*d)[0] >> 3;
    (*d)++;
    (*n)--;
    pl->nlen = want < *n ? want : *n;
    pl->len = *d;
    *d += pl->nlen;
    *n -= pl->nlen;
    for (size_t i = 0; i < pl->nlen; i++)
        pl->moves |= pl->len[i] != 0;
}

/* Length of the next piece, at most left (left > 0). */
static inline size_t fuzz_plan_next(fuzz_plan *pl, size_t left)
{
    if (!pl->moves)
        return left;
    size_t want = pl->len[pl->k++ % pl->nlen];
    return want < left ? want : left;
}

/* ---- a log of calls ---- */
typedef struct fuzz_log {
    char *p;
    size_t n, alloc;
} fuzz_log;

static inline void fuzz_log_add(fuzz_log *l, const void *p, size_t n)
{
    if (l->n + n > l->alloc) {
        size_t a = l->alloc ? l->alloc : 256;
        while (a < l->n + n)
            a *= 2;
        l->p = realloc(l->p, a);
        FUZZ_CHECK(l->p != NULL, "out of memory");
        l->alloc = a;
    }
    if (n)
        memcpy(l->p + l->n, p, n);
    l->n += n;
}

/* One field: its length, then its bytes, so that fields never run into each other. */
static inline void fuzz_log_field(fuzz_log *l, const void *p, size_t n)
{
    fuzz_log_add(l, &n, sizeof(n));
    fuzz_log_add(l, p, n);
}

static inline void fuzz_log_str(fuzz_log *l, const char *s)
{
    fuzz_log_field(l, s, strlen(s));
}

static inline void fuzz_log_long(fuzz_log *l, long v)
{
    fuzz_log_add(l, &v, sizeof(v));
}

static inline void fuzz_log_free(fuzz_log *l)
{
    free(l->p);
    memset(l, 0, sizeof(*l));
}

static inline int fuzz_log_same(const fuzz_log *a, const fuzz_log *b)
{
    return a->n == b->n && (a->n == 0 || memcmp(a->p, b->p, a->n) == 0);
}

/* The first differing byte of two logs, for a failure message. */
static inline size_t fuzz_log_diff(const fuzz_log *a, const fuzz_log *b)
{
    size_t i = 0;
    while (i < a->n && i < b->n && a->p[i] == b->p[i])
        i++;
    return i;
}

#endif
