/* Fuzz target: the grapheme segmenter fed the payload split as the plan says (see fuzz.h).
 *
 * Checked: every cluster is valid UTF-8 of 1..LIM_CLUSTER bytes; seg_pending never passes
 * LIM_CLUSTER+3; the clusters joined are the input when it is valid UTF-8. Beyond seg.h's
 * words, the clusters must be exactly those of a plain reference: a whole-input decode
 * (one U+FFFD per maximal subpart) walked with utf8proc's stateful break rule on every pair
 * of code points, cut at LIM_CLUSTER between code points. The one-feed run must agree too.
 * Byte 0's high bits, when non-zero, make emit stop at that cluster: the feed returns the
 * value and the seg is reset (nothing pending). */
#include <utf8proc.h>

#include "fuzz.h"
#include "lim.h"
#include "seg.h"
#include "utf8.h"

#define STOP_RC 4242

static const char FFFD[3] = {(char)0xEF, (char)0xBF, (char)0xBD};

typedef struct run {
    fuzz_log log; /* each cluster as a field */
    unsigned stop_at;
    unsigned clusters;
    int stopped;
} run;

static int on_cluster(void *ctx, const char *p, size_t n)
{
    run *r = ctx;
    FUZZ_CHECK(!r->stopped, "a cluster after emit stopped the segmenter");
    FUZZ_CHECK(p != NULL, "cluster NULL");
    FUZZ_CHECK(n >= 1 && n <= LIM_CLUSTER, "cluster of %zu bytes", n);
    FUZZ_CHECK(utf8_valid(p, n), "cluster %u is not valid UTF-8", r->clusters);
    fuzz_log_field(&r->log, p, n);
    if (++r->clusters == r->stop_at) {
        r->stopped = 1;
        return STOP_RC;
    }
    return 0;
}

static void segment(run *r, fuzz_plan *pl, const uint8_t *d, size_t n)
{
    seg s;
    seg_init(&s);
    for (size_t off = 0; off < n;) {
        size_t k = pl ? fuzz_plan_next(pl, n - off) : n - off;
        int rc = seg_feed(&s, (const char *)d + off, k, on_cluster, r);
        off += k;
        FUZZ_CHECK(seg_pending(&s) <= LIM_CLUSTER + 3, "seg_pending %zu", seg_pending(&s));
        if (rc) {
            FUZZ_CHECK(rc == STOP_RC && r->stopped, "seg_feed returned %d", rc);
            FUZZ_CHECK(seg_pending(&s) == 0, "a stopped seg still holds %zu bytes",
                       seg_pending(&s));
            return;
        }
    }
    int rc = seg_finish(&s, on_cluster, r);
    FUZZ_CHECK(rc == 0 || (rc == STOP_RC && r->stopped), "seg_finish returned %d", rc);
    FUZZ_CHECK(seg_pending(&s) == 0, "seg_finish left %zu bytes", seg_pending(&s));
}

/* ---- the reference ---- */

/* Decodes one code point at s[i]: its value and length, or U+FFFD for a maximal subpart of
 * an ill-formed sequence (Unicode 3.9, Table 3-7), whose length is then the subpart's. */
static int32_t decode(const uint8_t *s, size_t n, size_t i, size_t *len)
{
    uint8_t c = s[i];
    int need;
    uint8_t lo = 0x80, hi = 0xBF;
    *len = 1;
    if (c < 0x80)
        return c;
    if (c >= 0xC2 && c <= 0xDF)
        need = 1;
    else if (c >= 0xE0 && c <= 0xEF)
        need = 2;
    else if (c >= 0xF0 && c <= 0xF4)
        need = 3;
    else
        return 0xFFFD;
    if (c == 0xE0)
        lo = 0xA0;
    if (c == 0xED)
        hi = 0x9F;
    if (c == 0xF0)
        lo = 0x90;
    if (c == 0xF4)
        hi = 0x8F;
    int32_t cp = c & (0x3F >> need);
    for (int k = 0; k < need; k++) {
        if (i + *len >= n || s[i + *len] < lo || s[i + *len] > hi)
            return 0xFFFD;
        cp = cp << 6 | (s[i + *len] & 0x3F);
        (*len)++;
        lo = 0x80;
        hi = 0xBF;
    }
    return cp;
}

typedef struct ref {
    fuzz_log log;
    char cur[LIM_CLUSTER];
    size_t held;
} ref;

static void ref_flush(ref *r)
{
    if (r->held)
        fuzz_log_field(&r->log, r->cur, r->held);
    r->held = 0;
}

static void reference(ref *r, const uint8_t *s, size_t n)
{
    int32_t prev = -1, state = 0;
    for (size_t i = 0; i < n;) {
        size_t len;
        int32_t cp = decode(s, n, i, &len);
        /* a replacement and a literal U+FFFD are the same three bytes */
        const char *bytes = cp == 0xFFFD ? FFFD : (const char *)s + i;
        size_t blen = cp == 0xFFFD ? sizeof(FFFD) : len;
        int brk = prev >= 0 && utf8proc_grapheme_break_stateful(prev, cp, &state);
        if (brk || r->held + blen > LIM_CLUSTER)
            ref_flush(r);
        memcpy(r->cur + r->held, bytes, blen);
        r->held += blen;
        prev = cp;
        i += len;
    }
    ref_flush(r);
}

/* The clusters of a log joined. */
static void joined(const fuzz_log *l, fuzz_log *out)
{
    for (size_t off = 0; off < l->n;) {
        size_t n;
        memcpy(&n, l->p + off, sizeof(n));
        fuzz_log_add(out, l->p + off + sizeof(n), n);
        off += sizeof(n) + n;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    fuzz_plan pl;
    fuzz_plan_take(&pl, &d, &n);
    run split = {.stop_at = pl.high}, whole = {.stop_at = pl.high};
    segment(&split, &pl, d, n);
    segment(&whole, NULL, d, n);
    FUZZ_CHECK(
        fuzz_log_same(&split.log, &whole.log),
        "clusters differ with the split (%u vs %u clusters, first difference at log byte %zu)",
        split.clusters, whole.clusters, fuzz_log_diff(&split.log, &whole.log));
    if (!pl.high) {
        ref r = {0};
        reference(&r, d, n);
        FUZZ_CHECK(
            fuzz_log_same(&r.log, &whole.log),
            "clusters differ from the reference (%u clusters; first difference at log byte %zu)",
            whole.clusters, fuzz_log_diff(&r.log, &whole.log));
        fuzz_log_free(&r.log);
        if (utf8_valid((const char *)d, n)) {
            fuzz_log all = {0};
            joined(&whole.log, &all);
            FUZZ_CHECK(all.n == n && (n == 0 || !memcmp(all.p, d, n)),
                       "valid UTF-8 did not come out byte for byte");
            fuzz_log_free(&all);
        }
    }
    fuzz_log_free(&split.log);
    fuzz_log_free(&whole.log);
    return 0;
}
