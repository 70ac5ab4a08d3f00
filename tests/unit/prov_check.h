/* prov_check — what the stream reader tests share. Every stream parser test (ssep, ndjson,
 * the providers) cuts its inputs whole, byte by byte and in random splits (fixed seeds)
 * with split_*, and runs its suite with check_run. A provider test first defines
 * CHECK_PROV as the provider under test (e.g. prov_openai) and then also gets a sink that
 * records each call as one line, run/expect/expect_rc over every split, and the checks
 * every provider must pass (expect_*). Header-only: each test is built from its .c alone. */
#ifndef CHATD_PROV_CHECK_H
#define CHATD_PROV_CHECK_H

#include <check.h>

#include "check_main.h"
#include <stdint.h>
#include <stdlib.h>

#define SEEDS 40 /* random splits of each input, after whole and byte by byte */

/* How an input is cut: mode 0 whole, 1 byte by byte, 2+ pieces of random size. */
typedef struct split {
    unsigned mode;
    uint32_t x; /* xorshift32 state, seeded from mode */
    size_t max; /* largest random piece */
} split;

/* Odd random modes cut pieces of at most odd_max bytes, even ones at most even_max. */
static split split_make(unsigned mode, uint32_t salt, size_t odd_max, size_t even_max)
{
    split sp = {mode, mode * 2654435761u + salt, mode % 2 ? odd_max : even_max};
    return sp;
}

/* The size of the next piece when left bytes remain (left > 0). */
static size_t split_next(split *sp, size_t left)
{
    size_t k = left;
    if (sp->mode == 1) {
        k = 1;
    } else if (sp->mode > 1) {
        sp->x ^= sp->x << 13;
        sp->x ^= sp->x >> 17;
        sp->x ^= sp->x << 5;
        k = 1 + sp->x % sp->max;
    }
    return k < left ? k : left;
}

/* Runs suite s and gives main its exit status. */


#ifdef CHECK_PROV

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "lim.h"
#include "prov.h"

/* ---- sink recorder: each call becomes one line ---- */

typedef struct rec {
    char s[16384];
    size_t len;
    int calls;
    int stop_at; /* return 42 from this call on (1-based); 0: never */
} rec;

static int rec_line(rec *r, const char *kind, const char *a, size_t an, const char *b)
{
    int n = snprintf(r->s + r->len, sizeof(r->s) - r->len, "%s:%.*s%s%s\n", kind, (int)an, a,
                     b ? "|" : "", b ? b : "");
    ck_assert(n > 0 && (size_t)n < sizeof(r->s) - r->len);
    r->len += (size_t)n;
    r->calls++;
    return r->stop_at && r->calls >= r->stop_at ? 42 : 0;
}

static int on_text(void *ctx, const char *p, size_t n)
{
    ck_assert_uint_gt(n, 0);
    return rec_line(ctx, "text", p, n, NULL);
}

static int on_reasoning(void *ctx, const char *p, size_t n)
{
    ck_assert_uint_gt(n, 0);
    return rec_line(ctx, "reasoning", p, n, NULL);
}

static int on_finish(void *ctx, const char *reason)
{
    return rec_line(ctx, "finish", reason, strlen(reason), NULL);
}

static int on_usage(void *ctx, long in, long out)
{
    char t[64];
    snprintf(t, sizeof(t), "%ld,%ld", in, out);
    return rec_line(ctx, "usage", t, strlen(t), NULL);
}

static int on_error(void *ctx, const char *type, const char *message)
{
    return rec_line(ctx, "error", type, strlen(type), message);
}

static int on_end(void *ctx)
{
    return rec_line(ctx, "end", "", 0, NULL);
}

/* "tool:INDEX|ID NAME" for a call's start, "args:INDEX|FRAGMENT" for each fragment. */
static int on_tool(void *ctx, int index, const char *id, const char *name)
{
    char ix[16], t[600];
    snprintf(ix, sizeof(ix), "%d", index);
    snprintf(t, sizeof(t), "%s %s", id, name);
    return rec_line(ctx, "tool", ix, strlen(ix), t);
}

static int on_tool_args(void *ctx, int index, const char *p, size_t n)
{
    char ix[16], t[4096];
    snprintf(ix, sizeof(ix), "%d", index);
    snprintf(t, sizeof(t), "%.*s", (int)n, p);
    return rec_line(ctx, "args", ix, strlen(ix), t);
}

/* ---- feeding the provider's stream reader ---- */

/* in[0..n) cut as mode says (see split) into CHECK_PROV's reader, then finish. The first
 * non-zero result, or 0. */
static int run(const char *in, size_t n, unsigned mode, rec *r)
{
    prov_sink sink = {r,        on_text, on_reasoning, on_finish,   on_usage,
                      on_error, on_end,  on_tool,      on_tool_args};
    prov_stream *s = CHECK_PROV.open();
    ck_assert_ptr_nonnull(s);
    split sp = split_make(mode, 7, 5, 97);
    int rc = 0;
    for (size_t off = 0, k; off < n && rc == 0; off += k) {
        k = split_next(&sp, n - off);
        rc = CHECK_PROV.feed(s, in + off, k, &sink);
    }
    if (rc == 0)
        rc = CHECK_PROV.finish(s, &sink);
    CHECK_PROV.close(s);
    return rc;
}

/* Every split of in must give the sink calls want and the result want_rc. */
static void expect_rc(const char *in, const char *want, int want_rc)
{
    for (unsigned mode = 0; mode < 2 + SEEDS; mode++) {
        rec r = {0};
        int rc = run(in, strlen(in), mode, &r);
        ck_assert_msg(rc == want_rc, "mode %u: rc %d, want %d", mode, rc, want_rc);
        ck_assert_msg(strcmp(r.s, want) == 0, "mode %u: got\n%s\nwant\n%s", mode, r.s, want);
    }
}

static void expect(const char *in, const char *want)
{
    expect_rc(in, want, 0);
}

/* A sink's non-zero value stops the reader for good: with only a text callback, returning
 * 42 from its second call, in[0..n) then more give 42 after two calls, and so does finish.
 * With a sink that never stops, in gives all_calls text calls. */
static void expect_sink_stops(const char *in, size_t n, const char *more, int all_calls)
{
    prov_sink sink = {0};
    rec r = {.stop_at = 2};
    sink.ctx = &r;
    sink.text = on_text; /* the other callbacks are absent: their parts are skipped */
    prov_stream *s = CHECK_PROV.open();
    ck_assert_int_eq(CHECK_PROV.feed(s, in, n, &sink), 42);
    ck_assert_int_eq(r.calls, 2);
    ck_assert_int_eq(CHECK_PROV.feed(s, more, strlen(more), &sink), 42);
    ck_assert_int_eq(CHECK_PROV.finish(s, &sink), 42);
    ck_assert_int_eq(r.calls, 2);
    CHECK_PROV.close(s);

    rec r2 = {0};
    sink.ctx = &r2;
    s = CHECK_PROV.open();
    ck_assert_int_eq(CHECK_PROV.feed(s, in, n, &sink), 0);
    ck_assert_int_eq(CHECK_PROV.finish(s, &sink), 0);
    ck_assert_int_eq(r2.calls, all_calls);
    CHECK_PROV.close(s);
}

/* A line of LIM_UP_LINE + 16 bytes, head then 'x's, is too long fed whole, and split with
 * end after it; no sink call either way. */
static void expect_too_long(const char *head, const char *end)
{
    size_t n = LIM_UP_LINE + 16, hn = strlen(head), en = strlen(end);
    char *in = malloc(n + en + 1);
    ck_assert_ptr_nonnull(in);
    memcpy(in, head, hn);
    memset(in + hn, 'x', n - hn);
    memcpy(in + n, end, en + 1);
    rec r = {0};
    ck_assert_int_eq(run(in, n, 0, &r), PROV_ERR_TOO_LONG);
    ck_assert_int_eq(run(in, n + en, 2, &r), PROV_ERR_TOO_LONG);
    ck_assert_int_eq(r.calls, 0);
    free(in);
}

/* ---- build and error_reason ---- */

/* Nothing left in h: freed, or a build that failed. */
static void expect_http_empty(const prov_http *h)
{
    ck_assert_ptr_null(h->url);
    ck_assert_ptr_null(h->headers);
    ck_assert_ptr_null(h->body);
}

/* The built body, which must be JSON; the caller deletes it. */
static cJSON *body_of(const prov_http *h)
{
    cJSON *b = cJSON_Parse(h->body);
    ck_assert_ptr_nonnull(b);
    return b;
}

/* Header lines starting with prefix (all of them when it is NULL). */
static size_t count_headers(const struct curl_slist *h, const char *prefix)
{
    size_t n = 0;
    for (; h; h = h->next)
        if (!prefix || strncmp(h->data, prefix, strlen(prefix)) == 0)
            n++;
    return n;
}

/* CHECK_PROV's error_reason for body, which it gets without a NUL after it. */
static const char *reason(const char *body, size_t outsz)
{
    static char out[1024];
    size_t n = strlen(body);
    char *copy = malloc(n ? n : 1); /* not NUL-terminated: reads must stay within n */
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, body, n);
    memset(out, '#', sizeof(out));
    CHECK_PROV.error_reason(copy, n, out, outsz);
    free(copy);
    ck_assert_uint_le(strlen(out), outsz - 1);
    ck_assert_ptr_null(strchr(out, '\n'));
    return out;
}

/* error_reason writes nothing without room, and "" for no body at all. */
static void expect_reason_edges(void)
{
    char out[4] = "###";
    CHECK_PROV.error_reason("abc", 3, out, 0); /* no room: nothing written */
    ck_assert_str_eq(out, "###");
    CHECK_PROV.error_reason(NULL, 0, out, sizeof(out));
    ck_assert_str_eq(out, "");
}

/* The provider's table: its name and default URL, and every operation there. */
static void expect_table(const char *name, const char *default_url)
{
    ck_assert_str_eq(CHECK_PROV.name, name);
    ck_assert_str_eq(CHECK_PROV.default_url, default_url);
    ck_assert_ptr_nonnull(CHECK_PROV.default_model);
    ck_assert_ptr_nonnull(CHECK_PROV.build);
    ck_assert_ptr_nonnull(CHECK_PROV.open);
    ck_assert_ptr_nonnull(CHECK_PROV.feed);
    ck_assert_ptr_nonnull(CHECK_PROV.finish);
    ck_assert_ptr_nonnull(CHECK_PROV.close);
    ck_assert_ptr_nonnull(CHECK_PROV.error_reason);
    CHECK_PROV.close(NULL);
}

#endif /* CHECK_PROV */

#endif
