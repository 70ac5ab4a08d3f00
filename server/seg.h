/* seg — cuts a stream of UTF-8 bytes, split anywhere, into extended grapheme clusters
 * (UAX #29, via utf8proc). The caller owns the seg (fixed size, no heap); the segmenter
 * holds the unfinished tail between feeds and hands out each cluster only once it is whole. */
#ifndef CHATD_SEG_H
#define CHATD_SEG_H

#include <stddef.h>
#include <stdint.h>

#include "lim.h"

/* Receives one cluster; the bytes are valid only during the call (they may point into the
 * fed input or into the seg). Non-zero stops the segmenter and is returned to the caller.
 * It must not call back into the same seg. */
typedef int (*seg_emit_fn)(void *ctx, const char *cluster, size_t len);

typedef struct seg {
    int32_t prev;           /* last code point of the open cluster; -1: none yet */
    int32_t gstate;         /* utf8proc's break state, carried from code point to code point */
    uint32_t acc;           /* bits of the code point cut at the end of the last feed */
    uint8_t need;           /* continuation bytes that code point still lacks */
    uint8_t lo, hi;         /* range the next continuation byte must fall in */
    uint8_t partlen;        /* bytes in part */
    char part[4];           /* that code point's bytes so far */
    size_t held;            /* bytes in hold */
    char hold[LIM_CLUSTER]; /* the open cluster, copied out of inputs that are gone */
} seg;

void seg_init(seg *s);

/* Feeds n bytes. Calls emit once per complete cluster, in order; a cluster is complete when
 * the next code point breaks from it, so the last one stays held until more text or
 * seg_finish. Invalid UTF-8 comes out as U+FFFD, one per maximal subpart (Unicode ch. 3,
 * as WHATWG decoders do); valid input comes out byte for byte. A cluster longer than
 * LIM_CLUSTER bytes (hostile input: a base with endless marks) is handed out in pieces of at
 * most LIM_CLUSTER bytes, cut between code points. Returns 0, or the first non-zero value
 * emit returned: the rest of the input and the held tail are then dropped and the seg is
 * reset as by seg_init. */
int seg_feed(seg *s, const char *p, size_t n, seg_emit_fn emit, void *ctx);

/* End of text: emits the held tail, an incomplete UTF-8 sequence as one U+FFFD. Resets the
 * seg for a new text. Returns 0 or emit's first non-zero value. */
int seg_finish(seg *s, seg_emit_fn emit, void *ctx);

/* Bytes currently held (the open cluster plus any cut UTF-8 sequence). */
size_t seg_pending(const seg *s);

#endif
