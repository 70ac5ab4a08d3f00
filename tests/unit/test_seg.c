/* Unit tests for seg: every text is fed whole, byte by byte, cut at every single point and
 * cut at random points, and must give the same clusters each way; plus invalid UTF-8, the
 * cluster cap, early stop, and the official GraphemeBreakTest.txt. */
#include "seg.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#define FFFD "\xEF\xBF\xBD"
#define MAXB 16384 /* bytes a collector keeps */
#define MAXC 4096  /* clusters a collector keeps */
#define GBT_DEFAULT "/usr/share/unicode/auxiliary/GraphemeBreakTest.txt"

/* Clusters as emitted: bytes[off[k] .. off[k+1]) is cluster k. */
typedef struct coll {
    char bytes[MAXB];
    size_t off[MAXC + 1];
    size_t n;
    int calls;
    int stop_at, stop_rc; /* return stop_rc on call stop_at (1-based); 0: never */
    uintptr_t lo, hi;     /* the buffer being fed, to count clusters passed in place */
    int in_place;
    const char *bad; /* first broken rule seen, checked once per run */
} coll;

static coll got, want;

/* Clears the counters only: the arrays are large and rewritten before they are read. */
static void coll_reset(coll *c)
{
    c->off[0] = 0;
    c->n = 0;
    c->calls = c->stop_at = c->stop_rc = c->in_place = 0;
    c->lo = c->hi = 0;
    c->bad = NULL;
}

/* Records a broken rule; asserting at once would cost a pipe write per passing check. */
static void coll_fail(coll *c, const char *why)
{
    if (!c->bad)
        c->bad = why;
}

static void coll_add(coll *c, const char *p, size_t len)
{
    if (c->n == MAXC || c->off[c->n] + len > MAXB) {
        coll_fail(c, "collector full");
        return;
    }
    memcpy(c->bytes + c->off[c->n], p, len);
    c->off[c->n + 1] = c->off[c->n] + len;
    c->n++;
}

static int emit(void *ctx, const char *p, size_t len)
{
    coll *c = ctx;

    if (len == 0 || len > LIM_CLUSTER)
        coll_fail(c, "cluster length out of 1..LIM_CLUSTER");
    coll_add(c, p, len);
    if ((uintptr_t)p >= c->lo && (uintptr_t)p < c->hi)
        c->in_place++;
    c->calls++;
    return c->calls == c->stop_at ? c->stop_rc : 0;
}

static int coll_eq(const coll *a, const coll *b)
{
    if (a->bad || b->bad || a->n != b->n)
        return 0;
    for (size_t k = 0; k <= a->n; k++)
        if (a->off[k] != b->off[k])
            return 0;
    return memcmp(a->bytes, b->bytes, a->off[a->n]) == 0;
}

/* Feeds a private copy that is wiped and freed right after, so a pointer the seg kept
 * into an input it no longer owns shows up as wrong output (or under ASan). */
static void feed(seg *s, const char *p, size_t n, coll *c)
{
    char *copy = malloc(n ? n : 1);

    if (!copy) {
        coll_fail(c, "out of memory");
        return;
    }
    memcpy(copy, p, n);
    c->lo = (uintptr_t)copy;
    c->hi = (uintptr_t)(copy + n);
    if (seg_feed(s, copy, n, emit, c) != 0)
        coll_fail(c, "seg_feed failed");
    c->lo = c->hi = 0;
    memset(copy, 0xAA, n);
    free(copy);
    if (seg_pending(s) > LIM_CLUSTER + 3)
        coll_fail(c, "holds more than LIM_CLUSTER + 3 bytes");
}

/* Segments in[0..n) fed in pieces cut at cuts[] (ascending, inside 1..n-1). */
static void segment(const char *in, size_t n, const size_t *cuts, size_t ncuts, coll *c)
{
    seg s;
    size_t at = 0;

    coll_reset(c);
    seg_init(&s);
    for (size_t k = 0; k <= ncuts; k++) {
        size_t to = k < ncuts ? cuts[k] : n;
        feed(&s, in + at, to - at, c);
        at = to;
    }
    if (seg_finish(&s, emit, c) != 0 || seg_pending(&s) != 0)
        coll_fail(c, "seg_finish failed or left bytes held");
}

static uint64_t rng = 0x9E3779B97F4A7C15u;

static uint32_t rnd(uint32_t bound)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % bound);
}

/* Up to 8 random ascending cuts in 1..n-1. */
static size_t random_cuts(size_t n, size_t *cuts)
{
    size_t m = 0;

    for (size_t at = 0; n > 1 && m < 8;) {
        at += 1 + rnd((uint32_t)(n / 3 + 1));
        if (at >= n)
            break;
        cuts[m++] = at;
    }
    return m;
}

static void describe(char *why, size_t whysz, const char *way, size_t at)
{
    snprintf(why, whysz, "%s %zu: %zu clusters, %s", way, at, got.n,
             got.bad ? got.bad : "not the expected ones");
}

/* Every way of feeding in[0..n) must give the clusters in want; returns the ways that
 * did not (0 on success), describing the first in why. */
static int all_ways(const char *in, size_t n, int randoms, char *why, size_t whysz)
{
    static size_t cuts[MAXB];
    int bad = 0;

    segment(in, n, NULL, 0, &got);
    if (!coll_eq(&got, &want) && bad++ == 0)
        describe(why, whysz, "fed whole, pieces", 1);
    for (size_t k = 1; k < n; k++)
        cuts[k - 1] = k;
    segment(in, n, cuts, n ? n - 1 : 0, &got);
    if (!coll_eq(&got, &want) && bad++ == 0)
        describe(why, whysz, "fed byte by byte, pieces", n);
    for (size_t k = 1; k < n; k++) {
        segment(in, n, &k, 1, &got);
        if (!coll_eq(&got, &want) && bad++ == 0)
            describe(why, whysz, "cut at byte", k);
    }
    for (int r = 0; r < randoms; r++) {
        segment(in, n, cuts, random_cuts(n, cuts), &got);
        if (!coll_eq(&got, &want) && bad++ == 0)
            describe(why, whysz, "random cuts, run", (size_t)r);
    }
    return bad;
}

static void check_ways(const char *in, size_t n, const char *name)
{
    char why[128] = "";
    int bad = all_ways(in, n, 64, why, sizeof(why));

    ck_assert_msg(bad == 0, "%s: %d ways differ (first: %s, want %zu clusters)", name, bad, why,
                  want.n);
}

/* Table of texts: clusters, and the input when it is not their concatenation. */
struct seg_case {
    const char *name;
    const char *in;
    const char *out[12];
};

/* One case a line reads better than the formatter's wrapped split literals. */
/* clang-format off */
static const struct seg_case valid_cases[] = {
    {"ascii", NULL, {"H", "i", ",", " ", "y", "o", "u", "!"}},
    {"cjk", NULL, {"\u65E5", "\u672C", "\u8A9E", "\u3002"}},
    {"combining", NULL, {"e\u0301\u0327", "x", "a\u0308"}},
    {"zwj technologist", NULL, {"\U0001F469\u200D\U0001F4BB", "!"}},
    {"zwj family", NULL, {"\U0001F468\u200D\U0001F469\u200D\U0001F467\u200D\U0001F466", "a",
                          "\U0001F3F3\uFE0F\u200D\U0001F308"}},
    {"skin tone", NULL, {"\U0001F44B\U0001F3FD", "\U0001F44D\U0001F3FF", "k"}},
    {"flags", NULL, {"\U0001F1EF\U0001F1F5", "\U0001F1EB\U0001F1F7"}},
    {"odd regional indicators", NULL, {"\U0001F1EF\U0001F1F5", "\U0001F1EB\U0001F1F7",
                                       "\U0001F1E9", "x"}},
    {"keycaps", NULL, {"1\uFE0F\u20E3", "#\uFE0F\u20E3", "*\u20E3"}},
    {"cr lf", NULL, {"a", "\r\n", "b"}},
    {"lone cr", NULL, {"a", "\r", "b", "\r", "\r\n", "\n", "\r"}},
    {"lf", NULL, {"a", "\n", "\n", "b"}},
    {"hangul jamo", NULL, {"\u1100\u1161\u11A8", "\uAC00\u11A8", "\u1100\u1100\u1161",
                           "\uAC01\u11A8", "a", "\u11A8"}},
    {"zwj after ascii", NULL, {"a\u200D", "\U0001F469"}},
    {"prepend", NULL, {"\u0600a", "b"}},
    {"spacing mark", NULL, {"\u0915\u093F", "\u0915\u094D", "\u0937"}},
    {"mixed", NULL, {"H", "\u00E9", "\u65E5", "\U0001F469\u200D\U0001F4BB", "\r\n",
                     "\U0001F1EF\U0001F1F5", "e\u0301", " ", "\uD55C", "\U0001F600"}},
};

static const struct seg_case invalid_cases[] = {
    {"stray continuation", "a\x80" "b", {"a", FFFD, "b"}},
    {"two strays", "\x80\xBF", {FFFD, FFFD}},
    {"overlong 2-byte", "\xC0\xAF", {FFFD, FFFD}},
    {"overlong 3-byte", "\xE0\x80\xAF", {FFFD, FFFD, FFFD}},
    {"overlong 4-byte", "\xF0\x8F\xBF\xBF", {FFFD, FFFD, FFFD, FFFD}},
    {"surrogate", "\xED\xA0\x80", {FFFD, FFFD, FFFD}},
    {"above U+10FFFF", "\xF4\x90\x80\x80", {FFFD, FFFD, FFFD, FFFD}},
    {"F5 lead", "\xF5\x80", {FFFD, FFFD}},
    {"FE FF", "\xFE\xFF", {FFFD, FFFD}},
    {"truncated 3 then ascii", "\xE2\x82" "a", {FFFD, "a"}},
    {"truncated 4 then ascii", "\xF0\x9F\x98" "x", {FFFD, "x"}},
    {"truncated then lead", "\xE2\x82\xE2\x82\xAC", {FFFD, "\xE2\x82\xAC"}},
    {"truncated at end", "ab\xF0\x9F\x98", {"a", "b", FFFD}},
    {"lone lead at end", "\xE2", {FFFD}},
    {"table 3-8", "a\xF1\x80\x80\xE1\x80\xC2" "b\x80" "c\x80\xBF" "d",
     {"a", FFFD, FFFD, FFFD, "b", FFFD, "c", FFFD, FFFD, "d"}},
    {"replacement takes marks", "\x80\xCC\x81\xCC\x81", {FFFD "\xCC\x81\xCC\x81"}},
    {"truncated then mark", "\xE2\x82\xCC\x81" "a", {FFFD "\xCC\x81", "a"}},
    {"invalid inside cluster", "e\xCC\x81\x80" "e", {"e\xCC\x81", FFFD, "e"}},
    {"valid fffd passes", FFFD "a", {FFFD, "a"}},
};
/* clang-format on */

/* Fills want from a case; returns the input (in buf when it is the concatenation). */
static const char *load_case(const struct seg_case *c, char *buf, size_t bufsz, size_t *n)
{
    size_t len = 0;

    coll_reset(&want);
    for (int k = 0; c->out[k]; k++) {
        size_t l = strlen(c->out[k]);
        coll_add(&want, c->out[k], l);
        ck_assert_uint_lt(len + l, bufsz);
        memcpy(buf + len, c->out[k], l);
        len += l;
    }
    ck_assert(!want.bad);
    *n = c->in ? strlen(c->in) : len;
    return c->in ? c->in : buf;
}

START_TEST(test_valid)
{
    char buf[512];
    size_t n;
    const char *in = load_case(&valid_cases[_i], buf, sizeof(buf), &n);

    check_ways(in, n, valid_cases[_i].name);
}
END_TEST

START_TEST(test_invalid)
{
    char buf[512];
    size_t n;
    const char *in = load_case(&invalid_cases[_i], buf, sizeof(buf), &n);

    check_ways(in, n, invalid_cases[_i].name);
}
END_TEST

START_TEST(test_in_place)
{
    static const char text[] = "ab\U0001F469\u200D\U0001F4BB"
                               "c";
    seg s;

    coll_reset(&got);
    seg_init(&s);
    got.lo = (uintptr_t)text;
    got.hi = (uintptr_t)(text + sizeof(text));
    ck_assert_int_eq(seg_feed(&s, text, sizeof(text) - 1, emit, &got), 0);
    ck_assert_uint_eq(got.n, 3);
    ck_assert_int_eq(got.in_place, 3);
    ck_assert_uint_eq(seg_pending(&s), 1);
    ck_assert_int_eq(seg_finish(&s, emit, &got), 0);
    ck_assert_uint_eq(got.n, 4);
    ck_assert_int_eq(got.in_place, 3);
}
END_TEST

START_TEST(test_pending)
{
    seg s;

    coll_reset(&got);
    seg_init(&s);
    ck_assert_uint_eq(seg_pending(&s), 0);
    ck_assert_int_eq(seg_feed(&s, "ab", 2, emit, &got), 0);
    ck_assert_uint_eq(seg_pending(&s), 1);
    ck_assert_int_eq(seg_feed(&s, "\xF0\x9F", 2, emit, &got), 0);
    ck_assert_uint_eq(seg_pending(&s), 3);
    ck_assert_int_eq(seg_feed(&s, "\x98", 1, emit, &got), 0);
    ck_assert_uint_eq(seg_pending(&s), 4);
    ck_assert_int_eq(seg_feed(&s, "\x80", 1, emit, &got), 0);
    ck_assert_uint_eq(got.n, 2);
    ck_assert_uint_eq(seg_pending(&s), 4);
    ck_assert_int_eq(seg_feed(&s, NULL, 0, emit, &got), 0);
    ck_assert_uint_eq(seg_pending(&s), 4);
    ck_assert_int_eq(seg_finish(&s, emit, &got), 0);
    ck_assert_uint_eq(got.n, 3);
    ck_assert_mem_eq(got.bytes + got.off[2], "\U0001F600", 4);
    ck_assert_uint_eq(seg_pending(&s), 0);
    ck_assert_int_eq(seg_finish(&s, emit, &got), 0);
    ck_assert_uint_eq(got.n, 3);
}
END_TEST

/* Checks the pieces of one over-long cluster: each at most the cap, whole code points,
 * each but the last within a code point of the cap, together equal to text. */
static void check_pieces(const coll *c, size_t first, size_t last, const char *text, size_t n)
{
    ck_assert_uint_eq(c->off[last + 1] - c->off[first], n);
    ck_assert_mem_eq(c->bytes + c->off[first], text, n);
    for (size_t k = first; k <= last; k++) {
        size_t len = c->off[k + 1] - c->off[k];
        utf8proc_int32_t cp;
        ck_assert_uint_le(len, LIM_CLUSTER);
        if (k < last)
            ck_assert_uint_gt(len, LIM_CLUSTER - 4);
        for (size_t at = 0; at < len;) {
            utf8proc_ssize_t l =
                utf8proc_iterate((const utf8proc_uint8_t *)c->bytes + c->off[k] + at,
                                 (utf8proc_ssize_t)(len - at), &cp);
            ck_assert_int_gt(l, 0);
            at += (size_t)l;
        }
    }
}

/* A base with 2000 combining marks, then "b": pieces, then "b" on its own. */
START_TEST(test_cap)
{
    static char text[4100];
    static size_t cuts[4100];
    size_t n = 0;

    text[n++] = 'a';
    for (int k = 0; k < 2000; k++, n += 2)
        memcpy(text + n, "\xCC\x81", 2);
    text[n++] = 'b';
    for (size_t k = 1; k < n; k++)
        cuts[k - 1] = k;
    for (int way = 0; way < 3; way++) {
        size_t ncuts = way == 0 ? 0 : way == 1 ? n - 1 : random_cuts(n, cuts);
        segment(text, n, cuts, ncuts, &got);
        ck_assert_msg(!got.bad, "%s", got.bad);
        ck_assert_uint_eq(got.n, 5);
        check_pieces(&got, 0, 3, text, n - 1);
        ck_assert_uint_eq(got.off[5] - got.off[4], 1);
        ck_assert_int_eq(got.bytes[got.off[4]], 'b');
    }
}
END_TEST

/* The cap also holds when the cluster starts with a replacement character. */
START_TEST(test_cap_replacement)
{
    static char text[1300], out[1300];
    size_t n = 0, m = 0;

    text[n++] = (char)0x80;
    memcpy(out, FFFD, 3);
    m = 3;
    for (int k = 0; k < 600; k++, n += 2, m += 2) {
        memcpy(text + n, "\xCC\x81", 2);
        memcpy(out + m, "\xCC\x81", 2);
    }
    segment(text, n, NULL, 0, &got);
    ck_assert_msg(!got.bad, "%s", got.bad);
    ck_assert_uint_eq(got.n, 2);
    check_pieces(&got, 0, 1, out, m);
}
END_TEST

START_TEST(test_stop_feed)
{
    seg s;

    coll_reset(&got);
    got.stop_at = 3;
    got.stop_rc = 7;
    seg_init(&s);
    ck_assert_int_eq(seg_feed(&s, "abcdef", 6, emit, &got), 7);
    ck_assert_int_eq(got.calls, 3);
    ck_assert_mem_eq(got.bytes, "abc", 3);
    ck_assert_uint_eq(seg_pending(&s), 0);

    coll_reset(&got);
    seg_init(&s);
    ck_assert_int_eq(seg_feed(&s, "xy", 2, emit, &got), 0);
    ck_assert_int_eq(seg_finish(&s, emit, &got), 0);
    ck_assert_uint_eq(got.n, 2);
    ck_assert_mem_eq(got.bytes, "xy", 2);
}
END_TEST

/* A stop while a replacement and a cut sequence are held leaves nothing behind. */
START_TEST(test_stop_held)
{
    seg s;

    coll_reset(&got);
    got.stop_at = 1;
    got.stop_rc = -5;
    seg_init(&s);
    ck_assert_int_eq(seg_feed(&s, "\x80\xCC\x81\xE2\x82", 5, emit, &got), 0);
    ck_assert_uint_eq(seg_pending(&s), 7);
    ck_assert_int_eq(seg_feed(&s, "zq", 2, emit, &got), -5);
    ck_assert_int_eq(got.calls, 1);
    ck_assert_mem_eq(got.bytes, FFFD "\xCC\x81", 5);
    ck_assert_uint_eq(seg_pending(&s), 0);
    ck_assert_int_eq(seg_finish(&s, emit, &got), 0);
    ck_assert_int_eq(got.calls, 1);
}
END_TEST

START_TEST(test_stop_finish)
{
    seg s;

    coll_reset(&got);
    got.stop_at = 2;
    got.stop_rc = 9;
    seg_init(&s);
    ck_assert_int_eq(seg_feed(&s, "ab\xE2", 3, emit, &got), 0);
    ck_assert_int_eq(got.calls, 1);
    ck_assert_int_eq(seg_finish(&s, emit, &got), 9);
    ck_assert_int_eq(got.calls, 2);
    ck_assert_uint_eq(seg_pending(&s), 0);
}
END_TEST

/* Code points from every break class, for the comparison with plain utf8proc below. */
static const int32_t palette[] = {
    'a',     ' ',     '\r',    '\n',    0x01,    0x7F,   0xE9,   0x0301, 0x0308,  0x200D, 0xFE0F,
    0x20E3,  0x0600,  0x0903,  0x0915,  0x094D,  0x1100, 0x1161, 0x11A8, 0xAC00,  0xAC01, 0x1F1EF,
    0x1F1F5, 0x1F469, 0x1F4BB, 0x1F3FD, 0x1F600, 0x65E5, 0xFFFD, 0x00AD, 0xE0020, 0x2764,
};

/* Random mixes of the palette, segmented by seg fed in pieces and by utf8proc alone. */
START_TEST(test_vs_utf8proc)
{
    static char text[256];
    char why[128] = "";
    const size_t np = sizeof(palette) / sizeof(palette[0]);

    for (int run = 0; run < 3000; run++) {
        int32_t prev = -1, state = 0;
        size_t n = 0, cl = 0;
        size_t count = 1 + rnd(24);
        coll_reset(&want);
        for (size_t k = 0; k < count; k++) {
            int32_t cp = palette[rnd((uint32_t)np)];
            if (prev >= 0 && utf8proc_grapheme_break_stateful(prev, cp, &state)) {
                coll_add(&want, text + cl, n - cl);
                cl = n;
            }
            n += (size_t)utf8proc_encode_char(cp, (utf8proc_uint8_t *)text + n);
            prev = cp;
        }
        coll_add(&want, text + cl, n - cl);
        ck_assert_msg(all_ways(text, n, 4, why, sizeof(why)) == 0, "run %d: %s", run, why);
    }
}
END_TEST

/* Parses one test line into text and want; 0, or -1 when malformed. */
static int gbt_parse(char *line, char *text, size_t *n)
{
    size_t cl = 0;
    char *save = NULL;

    *n = 0;
    coll_reset(&want);
    for (char *t = strtok_r(line, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
        if (!strcmp(t, "\xC3\xB7")) { /* ÷: a break */
            if (*n > cl)
                coll_add(&want, text + cl, *n - cl);
            cl = *n;
        } else if (strcmp(t, "\xC3\x97")) { /* not ×: a code point */
            char *e;
            long cp = strtol(t, &e, 16);
            if (*e || cp < 0 || cp > 0x10FFFF || *n > 200)
                return -1;
            *n += (size_t)utf8proc_encode_char((int32_t)cp, (utf8proc_uint8_t *)text + *n);
        }
    }
    return *n > 0 && cl == *n ? 0 : -1;
}

/* Checks the file's Unicode version against utf8proc's: the expected breaks change with it. */
static void gbt_version(FILE *f, const char *path)
{
    char line[256], ver[32];
    int major, minor, update;

    ck_assert_msg(fgets(line, sizeof(line), f) != NULL, "%s: empty", path);
    ck_assert_msg(sscanf(line, "# GraphemeBreakTest-%d.%d.%d.txt", &major, &minor, &update) == 3,
                  "%s: no version line", path);
    snprintf(ver, sizeof(ver), "%d.%d.%d", major, minor, update);
    ck_assert_msg(!strcmp(ver, utf8proc_unicode_version()),
                  "%s is Unicode %s but utf8proc implements %s; point GRAPHEME_BREAK_TEST at "
                  "the matching file",
                  path, ver, utf8proc_unicode_version());
}

START_TEST(test_grapheme_break_test)
{
    const char *path = getenv("GRAPHEME_BREAK_TEST");
    static char line[4096], copy[4096], text[1024];
    char why[128];
    int lineno = 1, cases = 0, failed = 0;
    FILE *f;

    if (!path || !*path)
        path = GBT_DEFAULT;
    f = fopen(path, "r");
    ck_assert_msg(f != NULL,
                  "cannot open %s (Debian package unicode-data; or set "
                  "GRAPHEME_BREAK_TEST)",
                  path);
    gbt_version(f, path);
    while (fgets(line, sizeof(line), f)) {
        size_t n;
        lineno++;
        line[strcspn(line, "#\r\n")] = '\0';
        if (line[strspn(line, " \t")] == '\0')
            continue;
        snprintf(copy, sizeof(copy), "%s", line);
        ck_assert_msg(gbt_parse(line, text, &n) == 0, "%s:%d: cannot parse", path, lineno);
        cases++;
        if (all_ways(text, n, 2, why, sizeof(why))) {
            fprintf(stderr, "%s:%d: %s: %s\n", path, lineno, copy, why);
            failed++;
        }
    }
    fclose(f);
    ck_assert_int_gt(cases, 0);
    ck_assert_msg(failed == 0, "%d of %d GraphemeBreakTest lines fail", failed, cases);
}
END_TEST

static Suite *seg_suite(void)
{
    Suite *su = suite_create("seg");
    TCase *tc = tcase_create("seg");
    TCase *slow = tcase_create("conformance");

    tcase_add_loop_test(tc, test_valid, 0, sizeof(valid_cases) / sizeof(valid_cases[0]));
    tcase_add_loop_test(tc, test_invalid, 0, sizeof(invalid_cases) / sizeof(invalid_cases[0]));
    tcase_add_test(tc, test_in_place);
    tcase_add_test(tc, test_pending);
    tcase_add_test(tc, test_cap);
    tcase_add_test(tc, test_cap_replacement);
    tcase_add_test(tc, test_stop_feed);
    tcase_add_test(tc, test_stop_held);
    tcase_add_test(tc, test_stop_finish);
    tcase_add_test(slow, test_vs_utf8proc);
    tcase_add_test(slow, test_grapheme_break_test);
    tcase_set_timeout(slow, 60);
    suite_add_tcase(su, tc);
    suite_add_tcase(su, slow);
    return su;
}

int main(void)
{
    SRunner *sr = srunner_create(seg_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
