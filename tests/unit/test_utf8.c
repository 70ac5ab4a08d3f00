/* Unit tests: strict UTF-8 validation (RFC 3629) and cutting text between sequences. */
#include <check.h>

#include "check_main.h"
#include <string.h>

#include "utf8.h"

#define PREFIX(lit) utf8_valid_prefix(lit, sizeof(lit) - 1)

START_TEST(accepts_every_length)
{
    ck_assert(utf8_valid("", 0));
    ck_assert_uint_eq(PREFIX("plain ascii \x01\x7f"), 14);
    ck_assert_uint_eq(PREFIX("a\0b"), 3);             /* NUL is a character */
    ck_assert_uint_eq(PREFIX("\xc2\x80"), 2);         /* U+0080 */
    ck_assert_uint_eq(PREFIX("\xdf\xbf"), 2);         /* U+07FF */
    ck_assert_uint_eq(PREFIX("\xe0\xa0\x80"), 3);     /* U+0800 */
    ck_assert_uint_eq(PREFIX("\xe2\x82\xac"), 3);     /* euro sign */
    ck_assert_uint_eq(PREFIX("\xef\xbf\xbf"), 3);     /* U+FFFF */
    ck_assert_uint_eq(PREFIX("\xf0\x90\x80\x80"), 4); /* U+10000 */
    ck_assert_uint_eq(PREFIX("\xf0\x9f\x91\xa9\xe2\x80\x8d"), 7);
    ck_assert_uint_eq(PREFIX("\xf4\x8f\xbf\xbf"), 4); /* U+10FFFF */
}
END_TEST

START_TEST(around_the_surrogates)
{
    ck_assert_uint_eq(PREFIX("\xed\x9f\xbf"), 3); /* U+D7FF */
    ck_assert_uint_eq(PREFIX("\xed\xa0\x80"), 0); /* U+D800 */
    ck_assert_uint_eq(PREFIX("\xed\xbf\xbf"), 0); /* U+DFFF */
    ck_assert_uint_eq(PREFIX("\xee\x80\x80"), 3); /* U+E000 */
    ck_assert_uint_eq(PREFIX("ok\xed\xb0\x80"), 2);
}
END_TEST

START_TEST(refuses_overlongs)
{
    ck_assert_uint_eq(PREFIX("\xc0\x80"), 0);
    ck_assert_uint_eq(PREFIX("\xc1\xbf"), 0);
    ck_assert_uint_eq(PREFIX("\xe0\x80\x80"), 0);
    ck_assert_uint_eq(PREFIX("\xe0\x9f\xbf"), 0);
    ck_assert_uint_eq(PREFIX("\xf0\x80\x80\x80"), 0);
    ck_assert_uint_eq(PREFIX("\xf0\x8f\xbf\xbf"), 0);
}
END_TEST

START_TEST(refuses_past_the_last_code_point)
{
    ck_assert_uint_eq(PREFIX("\xf4\x90\x80\x80"), 0); /* U+110000 */
    ck_assert_uint_eq(PREFIX("\xf5\x80\x80\x80"), 0);
    ck_assert_uint_eq(PREFIX("\xf8\x88\x80\x80\x80"), 0);
    ck_assert_uint_eq(PREFIX("\xfe"), 0);
    ck_assert_uint_eq(PREFIX("\xff"), 0);
}
END_TEST

START_TEST(refuses_broken_sequences)
{
    ck_assert_uint_eq(PREFIX("ab\x80"), 2); /* lone continuation */
    ck_assert_uint_eq(PREFIX("ab\xc3"), 2); /* cut short */
    ck_assert_uint_eq(PREFIX("ab\xe2\x82"), 2);
    ck_assert_uint_eq(PREFIX("ab\xf0\x9f\x91"), 2);
    ck_assert_uint_eq(PREFIX("\xe2\x28\xa1"), 0);     /* second byte not a continuation */
    ck_assert_uint_eq(PREFIX("\xe2\x82\x28"), 0);     /* third */
    ck_assert_uint_eq(PREFIX("\xf0\x9f\x91\x28"), 0); /* fourth */
    ck_assert_uint_eq(PREFIX("\xc3\xa9\xc3"), 2);     /* stops after the last whole one */
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

START_TEST(trim_keeps_whole_text)
{
    const char *s = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
    size_t n = strlen(s);
    ck_assert_uint_eq(utf8_trim(s, n), n);
    ck_assert_uint_eq(utf8_trim("abc", 3), 3);
    ck_assert_uint_eq(utf8_trim("", 0), 0);
}
END_TEST

START_TEST(trim_cuts_before_a_partial_sequence)
{
    const char *s = "ab\xf0\x9f\x98\x80"; /* a 4-byte sequence at 2 */
    ck_assert_uint_eq(utf8_trim(s, 6), 6);
    ck_assert_uint_eq(utf8_trim(s, 5), 2);
    ck_assert_uint_eq(utf8_trim(s, 4), 2);
    ck_assert_uint_eq(utf8_trim(s, 3), 2);
    ck_assert_uint_eq(utf8_trim(s, 2), 2);
    ck_assert_uint_eq(utf8_trim("\xc3\xa9\xc3\xa9", 3), 2);
    ck_assert_uint_eq(utf8_trim("\xe2\x82\xac", 2), 0);
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
