/* Tests for ndjson: every input is fed whole, one byte at a time and in random splits
 * (fixed seeds); all ways must give the same lines and the same result. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lim.h"
#include "ndjson.h"
#include "prov_check.h"

#define SHOW_MAX 64 /* longer lines are recorded by their length */

/* Each line becomes "line\n" with CR and LF shown escaped. */
typedef struct rec {
    char s[4096];
    size_t len;
    int lines;
    int stop_at; /* return 99 from this line on (1-based); 0: never */
} rec;

static void rec_add(rec *r, const char *p, size_t n)
{
    ck_assert_uint_lt(r->len + n, sizeof(r->s));
    memcpy(r->s + r->len, p, n);
    r->len += n;
    r->s[r->len] = '\0';
}

static int on_line(void *ctx, const char *p, size_t n)
{
    rec *r = ctx;
    ck_assert_uint_gt(n, 0);
    char tmp[64];
    if (n > SHOW_MAX) {
        snprintf(tmp, sizeof(tmp), "<%zu bytes, last %c>", n, p[n - 1]);
        rec_add(r, tmp, strlen(tmp));
    }
    for (size_t i = 0; n <= SHOW_MAX && i < n; i++) {
        if (p[i] == '\r' || p[i] == '\n')
            rec_add(r, p[i] == '\r' ? "\\r" : "\\n", 2);
        else
            rec_add(r, p + i, 1);
    }
    rec_add(r, "\n", 1);
    r->lines++;
    return r->stop_at && r->lines >= r->stop_at ? 99 : 0;
}

/* mode 0: whole; 1: byte by byte; 2+: random chunks. The first non-zero result, or the
 * finish result. *fed_rc: the result before finish. */
static int run(const char *in, size_t n, unsigned mode, rec *r, int *fed_rc)
{
    ndjson p;
    ndjson_init(&p);
    split sp = split_make(mode, 7, 5, 97);
    int rc = 0;
    for (size_t off = 0, k; off < n && rc == 0; off += k) {
        k = split_next(&sp, n - off);
        rc = ndjson_feed(&p, in + off, k, on_line, r);
    }
    if (fed_rc)
        *fed_rc = rc;
    if (rc == 0)
        rc = ndjson_finish(&p, on_line, r);
    ndjson_free(&p);
    return rc;
}

static void expect_n(const char *in, size_t n, const char *want, int want_rc)
{
    for (unsigned mode = 0; mode < 2 + SEEDS; mode++) {
        rec r = {0};
        int rc = run(in, n, mode, &r, NULL);
        ck_assert_msg(rc == want_rc, "mode %u: rc %d, want %d", mode, rc, want_rc);
        ck_assert_msg(strcmp(r.s, want) == 0, "mode %u: got\n%s\nwant\n%s", mode, r.s, want);
    }
}

static void expect(const char *in, const char *want)
{
    expect_n(in, strlen(in), want, 0);
}

START_TEST(lf_lines)
{
    expect("{\"a\":1}\n{\"b\":\"x y\"}\n", "{\"a\":1}\n{\"b\":\"x y\"}\n");
    expect("", "");
    expect("\n", "");
}
END_TEST

START_TEST(crlf_lines)
{
    expect("{\"a\":1}\r\n{\"b\":2}\r\n", "{\"a\":1}\n{\"b\":2}\n");
    expect("one\r\ntwo\nthree\r\n", "one\ntwo\nthree\n");
}
END_TEST

/* Only the CR right before the LF is a line end. */
START_TEST(cr_elsewhere_is_content)
{
    expect("a\rb\n", "a\\rb\n");
    expect("a\r\r\n", "a\\r\n");
    expect("\ra\n", "\\ra\n");
}
END_TEST

START_TEST(blank_lines_skipped)
{
    expect("\n\r\n\n{}\n\r\n\n", "{}\n");
    expect(" \n", " \n"); /* white space is content: the JSON reader decides */
}
END_TEST

START_TEST(utf8_passes_byte_for_byte)
{
    expect("{\"t\":\"\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB \xE6\x97\xA5\"}\n",
           "{\"t\":\"\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB \xE6\x97\xA5\"}\n");
}
END_TEST

/* The last line comes out at finish, not before. */
START_TEST(final_unterminated_line)
{
    expect("a\nb", "a\nb\n");
    expect("a\nb\r", "a\nb\n");
    expect("only", "only\n");
    expect("\r", "");

    rec r = {0};
    int fed = -7;
    ck_assert_int_eq(run("a\n{\"done\":true}", 15, 0, &r, &fed), 0);
    ck_assert_int_eq(fed, 0);
    ck_assert_int_eq(r.lines, 2);

    ndjson p;
    ndjson_init(&p);
    rec r2 = {0};
    ck_assert_int_eq(ndjson_feed(&p, "a\nb", 3, on_line, &r2), 0);
    ck_assert_str_eq(r2.s, "a\n");
    ck_assert_int_eq(ndjson_finish(&p, on_line, &r2), 0);
    ck_assert_str_eq(r2.s, "a\nb\n");
    ndjson_free(&p);
}
END_TEST

START_TEST(callback_value_stops_and_sticks)
{
    ndjson p;
    ndjson_init(&p);
    rec r = {.stop_at = 2};
    ck_assert_int_eq(ndjson_feed(&p, "a\nb\nc\n", 6, on_line, &r), 99);
    ck_assert_int_eq(r.lines, 2);
    ck_assert_int_eq(ndjson_feed(&p, "d\n", 2, on_line, &r), 99);
    ck_assert_int_eq(ndjson_finish(&p, on_line, &r), 99);
    ck_assert_int_eq(r.lines, 2);
    ndjson_free(&p);

    for (unsigned mode = 0; mode < 2 + SEEDS; mode++) {
        rec r2 = {.stop_at = 1};
        ck_assert_int_eq(run("x\ny\nz", 5, mode, &r2, NULL), 99);
        ck_assert_str_eq(r2.s, "x\n");
    }
}
END_TEST

/* A line of n content bytes followed by end (LF, CR LF or nothing). */
static char *long_line(size_t n, const char *end, size_t *len)
{
    size_t e = strlen(end);
    char *s = malloc(2 + n + e + 1);
    ck_assert_ptr_nonnull(s);
    memcpy(s, "a\n", 2);
    memset(s + 2, 'x', n);
    s[2 + n - 1] = 'y';
    memcpy(s + 2 + n, end, e + 1);
    *len = 2 + n + e;
    return s;
}

START_TEST(cap_exact_fits)
{
    static const char *const ends[] = {"\n", "\r\n", ""};
    char want[64];
    snprintf(want, sizeof(want), "a\n<%u bytes, last y>\n", (unsigned)LIM_UP_LINE);
    for (size_t i = 0; i < 3; i++) {
        size_t n;
        char *s = long_line(LIM_UP_LINE, ends[i], &n);
        expect_n(s, n, want, 0);
        free(s);
    }
}
END_TEST

START_TEST(cap_over_is_error)
{
    static const char *const ends[] = {"\n", "\r\n", "", "\r"};
    for (size_t i = 0; i < 4; i++) {
        size_t n;
        char *s = long_line(LIM_UP_LINE + 1, ends[i], &n);
        expect_n(s, n, "a\n", NDJSON_ERR_LINE);
        free(s);
    }
}
END_TEST

/* Memory stays bounded: the error comes before the line's end arrives. */
START_TEST(cap_error_without_line_end)
{
    size_t n;
    char *s = long_line(LIM_UP_LINE + 1, "", &n);
    for (unsigned mode = 0; mode < 4; mode++) {
        rec r = {0};
        int fed = 0;
        ck_assert_int_eq(run(s, n, mode, &r, &fed), NDJSON_ERR_LINE);
        ck_assert_int_eq(fed, NDJSON_ERR_LINE);
    }
    /* The byte over the cap may be a CR, but what follows it must be the LF. */
    s[n - 1] = '\r';
    ndjson p;
    ndjson_init(&p);
    rec r = {0};
    ck_assert_int_eq(ndjson_feed(&p, s, n, on_line, &r), 0);
    ck_assert_int_eq(ndjson_feed(&p, "z", 1, on_line, &r), NDJSON_ERR_LINE);
    ck_assert_int_eq(ndjson_feed(&p, "\n", 1, on_line, &r), NDJSON_ERR_LINE);
    ck_assert_int_eq(ndjson_finish(&p, on_line, &r), NDJSON_ERR_LINE);
    ndjson_free(&p);
    free(s);
}
END_TEST

/* Carrying one big line does not break the lines after it. */
START_TEST(after_big_line)
{
    size_t n;
    char *s = long_line(100000, "\n", &n);
    char *t = malloc(n + 16);
    ck_assert_ptr_nonnull(t);
    memcpy(t, s, n);
    memcpy(t + n, "next\r\nlast", 11);
    expect_n(t, n + 10, "a\n<100000 bytes, last y>\nnext\nlast\n", 0);
    free(t);
    free(s);
}
END_TEST

static Suite *ndjson_suite(void)
{
    Suite *s = suite_create("ndjson");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, lf_lines);
    tcase_add_test(tc, crlf_lines);
    tcase_add_test(tc, cr_elsewhere_is_content);
    tcase_add_test(tc, blank_lines_skipped);
    tcase_add_test(tc, utf8_passes_byte_for_byte);
    tcase_add_test(tc, final_unterminated_line);
    tcase_add_test(tc, callback_value_stops_and_sticks);
    tcase_add_test(tc, cap_exact_fits);
    tcase_add_test(tc, cap_over_is_error);
    tcase_add_test(tc, cap_error_without_line_end);
    tcase_add_test(tc, after_big_line);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(ndjson_suite());
}
