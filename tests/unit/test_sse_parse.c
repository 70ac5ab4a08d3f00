/* Tests for ssep: every input is fed whole, one byte at a time and in random splits
 * (fixed seeds); all ways must give the same events and the same result. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lim.h"
#include "prov_check.h"
#include "sse_parse.h"

/* Each event becomes "type|id|data\n" with CR, LF and NUL in data shown escaped. */
typedef struct rec {
    char *s;
    size_t len, cap;
    int events;
    int stop_at; /* return 99 from this event on (1-based); 0: never */
} rec;

static void rec_add(rec *r, const char *p, size_t n)
{
    if (r->len + n + 1 > r->cap) {
        r->cap = (r->len + n + 1) * 2;
        r->s = realloc(r->s, r->cap);
        ck_assert_ptr_nonnull(r->s);
    }
    memcpy(r->s + r->len, p, n);
    r->len += n;
    r->s[r->len] = '\0';
}

static void rec_escaped(rec *r, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n')
            rec_add(r, "\\n", 2);
        else if (p[i] == '\r')
            rec_add(r, "\\r", 2);
        else if (p[i] == '\0')
            rec_add(r, "\\0", 2);
        else
            rec_add(r, p + i, 1);
    }
}

static int on_event(void *ctx, const ssep_event *ev)
{
    rec *r = ctx;
    ck_assert_uint_eq(strlen(ev->type), ev->type_len);
    ck_assert_uint_eq(strlen(ev->id), ev->id_len);
    ck_assert(ev->data[ev->data_len] == '\0'); /* NUL-terminated for JSON parsers */
    rec_add(r, ev->type, ev->type_len);
    rec_add(r, "|", 1);
    rec_add(r, ev->id, ev->id_len);
    rec_add(r, "|", 1);
    rec_escaped(r, ev->data, ev->data_len);
    rec_add(r, "\n", 1);
    r->events++;
    return r->stop_at && r->events >= r->stop_at ? 99 : 0;
}

/* mode 0: whole; 1: byte by byte; 2+: random chunks from seed mode. Returns the first
 * non-zero result of feed/finish, or 0. */
static int run(const char *in, size_t n, unsigned mode, rec *r, ssep *p)
{
    split sp = split_make(mode, 1, 7, 61);
    int rc = 0;
    for (size_t off = 0, k; off < n && rc == 0; off += k) {
        k = split_next(&sp, n - off);
        rc = ssep_feed(p, in + off, k, on_event, r);
    }
    return rc ? rc : ssep_finish(p, on_event, r);
}

static void expect_modes(const char *in, size_t n, const char *want, int want_rc, unsigned modes)
{
    for (unsigned mode = 0; mode < modes; mode++) {
        rec r = {0};
        ssep p;
        ssep_init(&p);
        rec_add(&r, "", 0);
        int rc = run(in, n, mode, &r, &p);
        ck_assert_msg(rc == want_rc, "mode %u: rc %d, want %d", mode, rc, want_rc);
        ck_assert_msg(strcmp(r.s, want) == 0, "mode %u: got\n%s\nwant\n%s", mode, r.s, want);
        ck_assert_uint_le(p.line.alloc, LIM_UP_LINE + 1);
        ck_assert_uint_le(p.data.alloc, LIM_UP_EVENT + 2);
        ssep_free(&p);
        free(r.s);
    }
}

static void expect(const char *in, const char *want)
{
    expect_modes(in, strlen(in), want, 0, 2 + SEEDS);
}

START_TEST(line_ends_lf_cr_crlf_mixed)
{
    expect("data: a\n\ndata: b\n\n", "message||a\nmessage||b\n");
    expect("data: a\r\rdata: b\r\r", "message||a\nmessage||b\n");
    expect("data: a\r\n\r\ndata: b\r\n\r\n", "message||a\nmessage||b\n");
    expect("data: a\r\ndata: b\n\rdata: c\r\r\n", "message||a\\nb\nmessage||c\n");
    expect("data: a\n\r\n\rdata: b\r\n\n", "message||a\nmessage||b\n");
}
END_TEST

/* A CR ending one call and an LF starting the next are one line end, not two. */
START_TEST(crlf_split_across_calls)
{
    static const char *parts[] = {"data: a\r", "\n", "data: b\r", "\ndata: c\r", "\n\r", "\n"};
    rec r = {0};
    ssep p;
    ssep_init(&p);
    rec_add(&r, "", 0);
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
        ck_assert_int_eq(ssep_feed(&p, parts[i], strlen(parts[i]), on_event, &r), 0);
    ck_assert_str_eq(r.s, "message||a\\nb\\nc\n");
    ck_assert_int_eq(ssep_finish(&p, on_event, &r), 0);
    ck_assert_int_eq(r.events, 1);
    ssep_free(&p);
    free(r.s);
    expect("data: a\r\ndata: b\r\ndata: c\r\n\r\n", "message||a\\nb\\nc\n");
}
END_TEST

START_TEST(comments_ignored)
{
    expect(": ping\n\ndata: x\n:comment\n:\n\n", "message||x\n");
    expect(":only\n:comments\n\n", "");
    expect("data: x\n: data: y\n\n", "message||x\n");
}
END_TEST

START_TEST(colon_and_space)
{
    expect("data:a\n\ndata: b\n\ndata:  c\n\ndata: d: e\n\n",
           "message||a\nmessage||b\nmessage|| c\nmessage||d: e\n");
    expect("data:\tx\n\n", "message||\tx\n");
}
END_TEST

START_TEST(multi_line_data)
{
    expect("data: 1\ndata: 2\ndata: 3\n\n", "message||1\\n2\\n3\n");
    expect("data: 1\ndata: 2\ndata\n\n", "message||1\\n2\\n\n");
    expect("data: {\"a\":\ndata: 1}\n\n", "message||{\"a\":\\n1}\n");
}
END_TEST

START_TEST(event_id_fields)
{
    expect("event: delta\nid: 7\ndata: x\n\ndata: y\n\n", "delta|7|x\nmessage|7|y\n");
    expect("event:\ndata: x\n\n", "message||x\n");
    expect("event: a\n\ndata: x\n\n", "message||x\n"); /* no data: type reset too */
    expect("id: 5\ndata: a\n\nid\ndata: b\n\n", "message|5|a\nmessage||b\n");
    expect("id: 1\n\ndata: x\n\n", "message|1|x\n"); /* id kept from an empty event */
    expect("foo: bar\nDATA: no\ndata: x\n\n", "message||x\n");
    expect("event: a\nevent: b\ndata: x\n\n", "b||x\n");
    static const char nul_id[] = "id: 1\n\nid: a\0b\ndata: x\n\n";
    expect_modes(nul_id, sizeof(nul_id) - 1, "message|1|x\n", 0, 2 + SEEDS);
    static const char nul_data[] = "data: a\0b\n\n";
    expect_modes(nul_data, sizeof(nul_data) - 1, "message||a\\0b\n", 0, 2 + SEEDS);
}
END_TEST

static long retry_after(const char *in)
{
    ssep p;
    rec r = {0};
    ssep_init(&p);
    ck_assert_int_eq(ssep_feed(&p, in, strlen(in), on_event, &r), 0);
    long v = p.retry;
    ssep_free(&p);
    free(r.s);
    return v;
}

START_TEST(retry_field)
{
    ck_assert_int_eq(retry_after(""), -1);
    ck_assert_int_eq(retry_after("retry: 3000\n"), 3000);
    ck_assert_int_eq(retry_after("retry:0\n"), 0);
    ck_assert_int_eq(retry_after("retry: 3000\nretry: 30x\n"), 3000);
    ck_assert_int_eq(retry_after("retry: 3000\nretry:\n"), 3000);
    ck_assert_int_eq(retry_after("retry: 3000\nretry: -5\n"), 3000);
    ck_assert_int_eq(retry_after("retry: 3000\nretry: 99999999999999999999\n"), 3000);
    ck_assert_int_eq(retry_after("retry: 3000\nretry:  7\n"), 3000); /* one space only */
    expect("retry: 10\ndata: x\n\n", "message||x\n");
}
END_TEST

#define BOM "\xEF\xBB\xBF"
#define BOM_1 "\xEF" /* the first bytes of a BOM */
#define BOM_2 "\xEF\xBB"

START_TEST(bom)
{
    expect(BOM "data: x\n\n", "message||x\n");
    expect(BOM BOM "data: x\n\ndata: y\n\n", "message||y\n"); /* one only */
    expect(BOM_1 "data: x\n\ndata: y\n\n", "message||y\n");   /* a partial BOM is text */
    expect(BOM_2 "data: x\n\ndata: y\n\n", "message||y\n");
    expect("data: x\n\n" BOM "data: y\n\n", "message||x\n");
    expect(BOM, "");
    expect(BOM_2, "");
    expect(BOM "\n\ndata: x\n\n", "message||x\n");
    expect("data: \xEF\xBB\xBF\n\n", "message||\xEF\xBB\xBF\n");
}
END_TEST

START_TEST(empty_data)
{
    expect("data:\n\n", "message||\n");
    expect("data\n\n", "message||\n");
    expect("data:\ndata:\n\n", "message||\\n\n");
    expect("\n\n\n", "");
    expect("", "");
    expect("data: x\n\n\n\n\ndata: y\n\n", "message||x\nmessage||y\n");
}
END_TEST

START_TEST(eof_without_blank_line)
{
    expect("data: x", "message||x\n");
    expect("data: x\n", "message||x\n");
    expect("data: x\r", "message||x\n");
    expect("data: x\r\n", "message||x\n");
    expect("data: a\ndata: b", "message||a\\nb\n");
    expect("data: a\n: c", "message||a\n");
    expect("data: a\nid: 3", "message|3|a\n");
    expect("event: e\ndata: a\n", "e||a\n");
    expect("data: x\n\ndata: y\ndat", "message||x\n"); /* a cut-off field name */
    expect("data: x\n\nda", "message||x\n");
    expect("data: x\n\ndata", "message||x\n");
    expect("data: x\n\ndata:", "message||x\nmessage||\n");
    expect("data: x\n\nevent: z", "message||x\n"); /* nothing pending */
}
END_TEST

static char *line_of(const char *field, size_t total)
{
    size_t f = strlen(field);
    char *s = malloc(total + 3);
    ck_assert_ptr_nonnull(s);
    memcpy(s, field, f);
    memset(s + f, 'x', total - f);
    memcpy(s + total, "\n\n", 3);
    return s;
}

START_TEST(line_cap)
{
    char *ok = line_of("data:", LIM_UP_LINE);
    char *want = malloc(LIM_UP_LINE + 32);
    ck_assert_ptr_nonnull(want);
    strcpy(want, "message||");
    memset(want + 9, 'x', LIM_UP_LINE - 5);
    strcpy(want + 9 + LIM_UP_LINE - 5, "\n");
    expect_modes(ok, LIM_UP_LINE + 2, want, 0, 2 + 4);

    char *big = line_of("data:", LIM_UP_LINE + 1);
    expect_modes(big, LIM_UP_LINE + 3, "", SSEP_ERR_LINE, 2 + 4);
    expect_modes(big, LIM_UP_LINE + 1, "", SSEP_ERR_LINE, 2 + 4); /* unterminated */
    char *comment = line_of(":", LIM_UP_LINE + 1);
    expect_modes(comment, LIM_UP_LINE + 3, "", SSEP_ERR_LINE, 2 + 4);
    free(ok);
    free(want);
    free(big);
    free(comment);
}
END_TEST

/* data lines whose joined data is exactly `total` bytes. */
static char *event_of(size_t total, size_t *n)
{
    size_t per = LIM_UP_LINE - 5, lines = (total + per) / (per + 1) + 1;
    char *s = malloc(total + lines * 6 + 2);
    ck_assert_ptr_nonnull(s);
    size_t o = 0, left = total;
    while (1) {
        size_t k = left < per ? left : per;
        memcpy(s + o, "data:", 5);
        memset(s + o + 5, 'y', k);
        o += 5 + k;
        s[o++] = '\n';
        left -= k;
        if (left == 0)
            break;
        left--; /* the "\n" joining this line and the next */
    }
    s[o++] = '\n';
    *n = o;
    return s;
}

static int count_events(const char *in, size_t n, int *events)
{
    rec r = {0};
    ssep p;
    ssep_init(&p);
    int rc = run(in, n, 0, &r, &p);
    *events = r.events;
    ssep_free(&p);
    free(r.s);
    return rc;
}

START_TEST(event_cap)
{
    size_t n;
    int events;
    char *ok = event_of(LIM_UP_EVENT, &n);
    ck_assert_int_eq(count_events(ok, n, &events), 0);
    ck_assert_int_eq(events, 1);
    char *big = event_of(LIM_UP_EVENT + 1, &n);
    for (unsigned mode = 0; mode < 2 + 4; mode++) {
        rec r = {0};
        ssep p;
        ssep_init(&p);
        ck_assert_int_eq(run(big, n, mode, &r, &p), SSEP_ERR_EVENT);
        ck_assert_int_eq(r.events, 0);
        ck_assert_uint_le(p.data.alloc, LIM_UP_EVENT + 2);
        ssep_free(&p);
    }
    free(ok);
    free(big);
}
END_TEST

START_TEST(errors_are_sticky)
{
    char *big = line_of("data:", LIM_UP_LINE + 1);
    ssep p;
    rec r = {0};
    ssep_init(&p);
    ck_assert_int_eq(ssep_feed(&p, big, LIM_UP_LINE + 3, on_event, &r), SSEP_ERR_LINE);
    ck_assert_int_eq(ssep_feed(&p, "data: x\n\n", 9, on_event, &r), SSEP_ERR_LINE);
    ck_assert_int_eq(ssep_finish(&p, on_event, &r), SSEP_ERR_LINE);
    ck_assert_int_eq(r.events, 0);
    ssep_free(&p);
    free(big);
}
END_TEST

START_TEST(callback_stops)
{
    static const char in[] = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
    for (unsigned mode = 0; mode < 2 + SEEDS; mode++) {
        rec r = {.stop_at = 2};
        ssep p;
        ssep_init(&p);
        ck_assert_int_eq(run(in, sizeof(in) - 1, mode, &r, &p), 99);
        ck_assert_int_eq(r.events, 2);
        ck_assert_int_eq(ssep_feed(&p, "data: 4\n\n", 9, on_event, &r), 99);
        ck_assert_int_eq(r.events, 2);
        ssep_free(&p);
        free(r.s);
    }
}
END_TEST

/* Lines ending in CR alone across a long input (the LF search must not rescan). */
START_TEST(many_cr_lines)
{
    enum { N = 2000 };
    char *in = malloc(N * 9 + 1);
    ck_assert_ptr_nonnull(in);
    size_t o = 0;
    for (int i = 0; i < N; i++) {
        memcpy(in + o, "data: z\r\r", 9);
        o += 9;
    }
    in[o] = '\0';
    int events;
    ck_assert_int_eq(count_events(in, o, &events), 0);
    ck_assert_int_eq(events, N);
    free(in);
}
END_TEST

static Suite *ssep_suite(void)
{
    Suite *s = suite_create("ssep");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, line_ends_lf_cr_crlf_mixed);
    tcase_add_test(tc, crlf_split_across_calls);
    tcase_add_test(tc, comments_ignored);
    tcase_add_test(tc, colon_and_space);
    tcase_add_test(tc, multi_line_data);
    tcase_add_test(tc, event_id_fields);
    tcase_add_test(tc, retry_field);
    tcase_add_test(tc, bom);
    tcase_add_test(tc, empty_data);
    tcase_add_test(tc, eof_without_blank_line);
    tcase_add_test(tc, line_cap);
    tcase_add_test(tc, event_cap);
    tcase_add_test(tc, errors_are_sticky);
    tcase_add_test(tc, callback_stops);
    tcase_add_test(tc, many_cr_lines);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(ssep_suite());
}
