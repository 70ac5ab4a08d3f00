/* Unit tests: strict UTF-8 validation (RFC 3629) and cutting text between sequences. */
#include <check.h>

#include "check_main.h"
#include <string.h>

#include "utf8.h"

/* A string literal (NULs and all) and the length of its longest valid prefix. */
typedef struct prefix_case {
    const char *s;
    size_t n;
    size_t want;
} prefix_case;

#define P(lit, want)                                                                               \
    {                                                                                              \
        lit, sizeof(lit) - 1, want                                                                 \
    }

static void check_prefixes(const prefix_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(utf8_valid_prefix(cases[i].s, cases[i].n) == cases[i].want,
                      "case %zu: prefix %zu, want %zu", i,
                      utf8_valid_prefix(cases[i].s, cases[i].n), cases[i].want);
}
#define CHECK_PREFIXES(...)                                                                        \
    check_prefixes((const prefix_case[]){__VA_ARGS__},                                             \
                   sizeof((const prefix_case[]){__VA_ARGS__}) / sizeof(prefix_case))

START_TEST(accepts_every_length)
{
    ck_assert(utf8_valid("", 0));
    CHECK_PREFIXES(P("plain ascii \x01\x7f", 14), P("a\0b", 3), /* NUL is a character */
                   P("\xc2\x80", 2),                            /* U+0080 */
                   P("\xdf\xbf", 2),                            /* U+07FF */
                   P("\xe0\xa0\x80", 3),                        /* U+0800 */
                   P("\xe2\x82\xac", 3),                        /* euro sign */
                   P("\xef\xbf\xbf", 3),                        /* U+FFFF */
                   P("\xf0\x90\x80\x80", 4),                    /* U+10000 */
                   P("\xf0\x9f\x91\xa9\xe2\x80\x8d", 7), P("\xf4\x8f\xbf\xbf", 4)); /* U+10FFFF */
}
END_TEST

START_TEST(around_the_surrogates)
{
    CHECK_PREFIXES(P("\xed\x9f\xbf", 3), /* U+D7FF */
                   P("\xed\xa0\x80", 0), /* U+D800 */
                   P("\xed\xbf\xbf", 0), /* U+DFFF */
                   P("\xee\x80\x80", 3), /* U+E000 */
                   P("ok\xed\xb0\x80", 2));
}
END_TEST

START_TEST(refuses_overlongs)
{
    CHECK_PREFIXES(P("\xc0\x80", 0), P("\xc1\xbf", 0), P("\xe0\x80\x80", 0), P("\xe0\x9f\xbf", 0),
                   P("\xf0\x80\x80\x80", 0), P("\xf0\x8f\xbf\xbf", 0));
}
END_TEST

START_TEST(refuses_past_the_last_code_point)
{
    CHECK_PREFIXES(P("\xf4\x90\x80\x80", 0), /* U+110000 */
                   P("\xf5\x80\x80\x80", 0), P("\xf8\x88\x80\x80\x80", 0), P("\xfe", 0),
                   P("\xff", 0));
}
END_TEST

START_TEST(refuses_broken_sequences)
{
    CHECK_PREFIXES(P("ab\x80", 2), /* lone continuation */
                   P("ab\xc3", 2), /* cut short */
                   P("ab\xe2\x82", 2), P("ab\xf0\x9f\x91", 2),
                   P("\xe2\x28\xa1", 0),     /* second byte not a continuation */
                   P("\xe2\x82\x28", 0),     /* third */
                   P("\xf0\x9f\x91\x28", 0), /* fourth */
                   P("\xc3\xa9\xc3", 2));    /* stops after the last whole one */
    ck_assert(!utf8_valid("\xc3\xa9\xc3", 3));
    ck_assert(utf8_valid("\xc3\xa9\xc3", 2));
}
END_TEST

START_TEST(never_reads_past_n)
{
    /* The bytes after n would complete the sequence: they must not count. */
    const char s[] = "x\xe2\x82\xac";
    ck_assert_uint_eq(utf8_valid_prefix(s, 3), 1);
    ck_assert_uint_eq(utf8_valid_prefix(s, 4), 4);
    ck_assert_uint_eq(utf8_trim(s, 3), 1);
}
END_TEST

/* utf8_trim of the first n bytes of s keeps want of them. */
typedef struct trim_case {
    const char *s;
    size_t n, want;
} trim_case;

START_TEST(trim_keeps_whole_text)
{
    const char *s = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
    const trim_case cases[] = {{s, strlen(s), strlen(s)}, {"abc", 3, 3}, {"", 0, 0}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ck_assert_uint_eq(utf8_trim(cases[i].s, cases[i].n), cases[i].want);
}
END_TEST

START_TEST(trim_cuts_before_a_partial_sequence)
{
    const char *s = "ab\xf0\x9f\x98\x80"; /* a 4-byte sequence at 2 */
    const trim_case cases[] = {{s, 6, 6},
                               {s, 5, 2},
                               {s, 4, 2},
                               {s, 3, 2},
                               {s, 2, 2},
                               {"\xc3\xa9\xc3\xa9", 3, 2},
                               {"\xe2\x82\xac", 2, 0}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ck_assert_msg(utf8_trim(cases[i].s, cases[i].n) == cases[i].want, "case %zu", i);
}
END_TEST

/* Every cut of a valid text is valid after trimming, and trimming never drops a whole
 * character: at most the 1-3 bytes of the one that was cut. */
START_TEST(trim_every_cut_is_valid)
{
    const char *s = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z\xed\x9f\xbf";
    size_t n = strlen(s);
    for (size_t cut = 0; cut <= n; cut++) {
        size_t t = utf8_trim(s, cut);
        ck_assert_uint_le(t, cut);
        ck_assert_uint_lt(cut - t, 4);
        ck_assert_msg(utf8_valid(s, t), "cut %zu trimmed to %zu", cut, t);
        if (utf8_valid(s, cut))
            ck_assert_uint_eq(t, cut);
    }
}
END_TEST

int main(void)
{
    return check_tests("utf8", accepts_every_length, around_the_surrogates, refuses_overlongs,
                       refuses_past_the_last_code_point, refuses_broken_sequences,
                       never_reads_past_n, trim_keeps_whole_text,
                       trim_cuts_before_a_partial_sequence, trim_every_cut_is_valid);
}
