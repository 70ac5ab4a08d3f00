/* seg — see seg.h.
 * The open cluster is hold[0..held) followed by in[start..i) of the current input: a
 * cluster that lies wholly in the input is emitted in place; only what must outlive the
 * input (the tail at the end of a feed) or differs from it (U+FFFD) is copied into hold. */
#include "seg.h"

#include <string.h>
#include <utf8proc.h>

static const char seg_fffd[3] = {(char)0xEF, (char)0xBF, (char)0xBD};

/* One feed in progress. */
struct seg_run {
    seg *s;
    const unsigned char *in;
    size_t n;
    size_t start; /* the open cluster's bytes in this input begin here */
    size_t end;   /* where the cut sequence saved in part begins (n when none) */
    seg_emit_fn emit;
    void *ctx;
};

void seg_init(seg *s)
{
    s->prev = -1;
    s->gstate = 0;
    s->acc = 0;
    s->need = s->lo = s->hi = s->partlen = 0;
    s->held = 0;
}

size_t seg_pending(const seg *s)
{
    return s->held + s->partlen;
}

static void seg_hold(seg *s, const void *p, size_t len)
{
    if (len) {
        memcpy(s->hold + s->held, p, len);
        s->held += len;
    }
}

/* Whether a cluster ends between prev and cp. Two ASCII code points always break except CR
 * LF (no ASCII character is Extend, ZWJ, Prepend or RI), and after one utf8proc's state is
 * just its class, which a zero state rebuilds on the next call: most text skips utf8proc. */
static inline int seg_breaks(seg *s, int32_t cp)
{
    if (s->prev < 0)
        return 0;
    if (s->prev < 0x80 && cp < 0x80) {
        s->gstate = 0;
        return !(s->prev == '\r' && cp == '\n');
    }
    return utf8proc_grapheme_break_stateful(s->prev, cp, &s->gstate);
}

/* Emits the open cluster up to in[a]; a new one starts there. */
static int seg_flush(struct seg_run *r, size_t a)
{
    seg *s = r->s;
    const char *p = (const char *)r->in + r->start;
    size_t len = a - r->start;

    if (s->held) {
        seg_hold(s, p, len);
        p = s->hold;
        len = s->held;
    }
    s->held = 0;
    r->start = a;
    return r->emit(r->ctx, p, len);
}

/* Adds code point cp, cplen bytes long, whose input bytes begin at in[a]. When its bytes
 * are not those input bytes as they stand (ext: a replacement, or the head of a sequence
 * cut by the last feed), they go to hold and the input resumes at in[skip]. */
static int seg_push(struct seg_run *r, int32_t cp, size_t a, size_t cplen, const char *ext,
                    size_t extlen, size_t skip)
{
    seg *s = r->s;
    int brk = seg_breaks(s, cp);
    int rc = 0;

    /* A cut for the cap keeps the break state: the next piece goes on with the cluster. */
    if (brk || s->held + (a - r->start) + cplen > LIM_CLUSTER)
        rc = seg_flush(r, a);
    s->prev = cp;
    if (ext) {
        seg_hold(s, r->in + r->start, a - r->start);
        seg_hold(s, ext, extlen);
        r->start = skip;
    }
    return rc;
}

static int seg_replace(struct seg_run *r, size_t a, size_t skip)
{
    return seg_push(r, 0xFFFD, a, sizeof(seg_fffd), seg_fffd, sizeof(seg_fffd), skip);
}

/* Continuation bytes a lead byte needs, and the range of the first (Unicode Table 3-7,
 * which also rules out overlongs, surrogates and values past U+10FFFF); 0: not a lead. */
static int seg_lead(unsigned c, uint8_t *lo, uint8_t *hi)
{
    *lo = 0x80;
    *hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        return 1;
    if (c == 0xE0)
        *lo = 0xA0;
    else if (c == 0xED)
        *hi = 0x9F;
    if (c >= 0xE0 && c <= 0xEF)
        return 2;
    if (c == 0xF0)
        *lo = 0x90;
    else if (c == 0xF4)
        *hi = 0x8F;
    if (c >= 0xF0 && c <= 0xF4)
        return 3;
    return 0;
}

/* Saves the sequence cut by the end of the input, from in[a], for the next feed. */
static void seg_cut(struct seg_run *r, size_t a, uint32_t acc, int need, uint8_t lo, uint8_t hi)
{
    seg *s = r->s;

    memcpy(s->part + s->partlen, r->in + a, r->n - a);
    s->partlen = (uint8_t)(s->partlen + (r->n - a));
    s->acc = acc;
    s->need = (uint8_t)need;
    s->lo = lo;
    s->hi = hi;
    r->end = a;
}

/* Decodes the multi-byte sequence at in[*i]; a bad byte ends a maximal subpart, which
 * becomes one U+FFFD, and is looked at again as a possible lead. */
static int seg_multi(struct seg_run *r, size_t *i)
{
    size_t a = *i, j = a + 1;
    uint8_t lo, hi;
    int need = seg_lead(r->in[a], &lo, &hi);
    uint32_t acc = r->in[a] & (0x3Fu >> need);

    if (!need) {
        *i = j;
        return seg_replace(r, a, j);
    }
    for (; need; need--, j++) {
        if (j == r->n) {
            seg_cut(r, a, acc, need, lo, hi);
            *i = j;
            return 0;
        }
        if (r->in[j] < lo || r->in[j] > hi) {
            *i = j;
            return seg_replace(r, a, j);
        }
        acc = acc << 6 | (r->in[j] & 0x3Fu);
        lo = 0x80;
        hi = 0xBF;
    }
    *i = j;
    return seg_push(r, (int32_t)acc, a, j - a, NULL, 0, 0);
}

/* Completes the sequence the last feed cut, from the head of this input. */
static int seg_resume(struct seg_run *r, size_t *i)
{
    seg *s = r->s;
    size_t j = 0;
    size_t plen = s->partlen;

    for (; s->need && j < r->n; j++, s->need--) {
        if (r->in[j] < s->lo || r->in[j] > s->hi) {
            s->partlen = s->need = 0;
            *i = j;
            return seg_replace(r, 0, j);
        }
        s->acc = s->acc << 6 | (r->in[j] & 0x3Fu);
        s->lo = 0x80;
        s->hi = 0xBF;
    }
    if (s->need) {
        seg_cut(r, 0, s->acc, s->need, s->lo, s->hi);
        *i = r->n;
        return 0;
    }
    *i = j;
    s->partlen = 0;
    return seg_push(r, (int32_t)s->acc, 0, plen + j, s->part, plen, 0);
}

int seg_feed(seg *s, const char *p, size_t n, seg_emit_fn emit, void *ctx)
{
    struct seg_run r = {s, (const unsigned char *)p, n, 0, n, emit, ctx};
    size_t i = 0;
    int rc = 0;

    if (n == 0)
        return 0;
    if (s->partlen)
        rc = seg_resume(&r, &i);
    while (!rc && i < n) {
        if (r.in[i] < 0x80) {
            rc = seg_push(&r, r.in[i], i, 1, NULL, 0, 0);
            i++;
        } else {
            rc = seg_multi(&r, &i);
        }
    }
    if (rc) {
        seg_init(s);
        return rc;
    }
    seg_hold(s, r.in + r.start, r.end - r.start);
    return 0;
}

int seg_finish(seg *s, seg_emit_fn emit, void *ctx)
{
    struct seg_run r = {s, (const unsigned char *)"", 0, 0, 0, emit, ctx};
    int rc = 0;

    if (s->partlen)
        rc = seg_replace(&r, 0, 0);
    if (!rc && s->held)
        rc = seg_flush(&r, 0);
    seg_init(s);
    return rc;
}
