/* Unit tests: buf's cap, its sticky error, consume and compaction, take, addf. */
#include <check.h>

#include "check_main.h"
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static int holds(const buf *b, const char *s)
{
    return buf_len(b) == strlen(s) && memcmp(buf_ptr(b), s, strlen(s)) == 0;
}

/* b with a cap of cap, then s added: rc is what that add returns (-1: over the cap). */
static void filled(buf *b, size_t cap, const char *s, int rc)
{
    buf_init(b, cap);
    ck_assert_int_eq(buf_addstr(b, s), rc);
}

/* b with a cap of cap holding kept, failed by adding over (which does not fit). */
static void failed_by(buf *b, size_t cap, const char *kept, const char *over)
{
    filled(b, cap, kept, 0);
    ck_assert_int_eq(buf_addstr(b, over), -1);
}

/* buf_take gives want, as a string of its own. */
static void expect_take(buf *b, const char *want)
{
    char *s = buf_take(b);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, want);
    free(s);
}

/* b has failed and still holds s (what came before the failing call). */
static void expect_failed(const buf *b, const char *s)
{
    ck_assert(buf_failed(b));
    ck_assert(holds(b, s));
}

/* The given many 'z's as a C string. */
static char *zs(size_t n)
{
    char *z = malloc(n + 1);
    ck_assert_ptr_nonnull(z);
    memset(z, 'z', n);
    z[n] = '\0';
    return z;
}

START_TEST(fills_to_the_cap_exactly)
{
    buf b;
    filled(&b, 10, "0123456789", 0);
    ck_assert_uint_eq(buf_len(&b), 10);
    ck_assert(!buf_failed(&b));
    ck_assert_int_eq(buf_add(&b, "x", 1), -1);
    ck_assert(holds(&b, "0123456789"));
    ck_assert_uint_le(b.alloc, 11); /* never more than cap + the NUL */
    buf_free(&b);
}
END_TEST

START_TEST(zero_cap_takes_nothing)
{
    buf b;
    buf_init(&b, 0);
    ck_assert_int_eq(buf_add(&b, "", 0), 0);
    ck_assert_int_eq(buf_add(&b, "a", 1), -1);
    ck_assert(buf_failed(&b));
    ck_assert_uint_eq(buf_len(&b), 0);
    buf_free(&b);
}
END_TEST

START_TEST(huge_add_does_not_wrap)
{
    buf b;
    filled(&b, 16, "abc", 0);
    ck_assert_int_eq(buf_reserve(&b, (size_t)-1), -1);
    ck_assert_int_eq(buf_reserve(&b, (size_t)-2), -1);
    expect_failed(&b, "abc");
    buf_free(&b);
}
END_TEST

START_TEST(error_is_sticky)
{
    buf b;
    failed_by(&b, 8, "abcd", "efghi"); /* 9 > 8 */
    expect_failed(&b, "abcd");         /* what came before stays */
    /* Every later call refuses, even what would fit. */
    ck_assert_int_eq(buf_add(&b, "e", 1), -1);
    ck_assert_int_eq(buf_add(&b, "", 0), -1);
    ck_assert_int_eq(buf_addstr(&b, "e"), -1);
    ck_assert_int_eq(buf_addf(&b, "%d", 1), -1);
    ck_assert_int_eq(buf_reserve(&b, 0), -1);
    expect_failed(&b, "abcd");
    buf_consume(&b, 4); /* room again, still failed */
    ck_assert_int_eq(buf_add(&b, "e", 1), -1);
    expect_failed(&b, "");
    buf_free(&b);
}
END_TEST

START_TEST(reset_clears_the_error)
{
    buf b;
    filled(&b, 4, "abcde", -1);
    expect_failed(&b, "");
    buf_reset(&b);
    ck_assert(!buf_failed(&b));
    ck_assert_int_eq(buf_addstr(&b, "abcd"), 0);
    ck_assert(holds(&b, "abcd"));
    buf_free(&b);
}
END_TEST

START_TEST(free_clears_the_error_and_keeps_the_cap)
{
    buf b;
    failed_by(&b, 4, "ab", "cde");
    buf_free(&b);
    ck_assert(!buf_failed(&b));
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(buf_len(&b), 0);
    ck_assert_int_eq(buf_addstr(&b, "wxyz"), 0);
    ck_assert_int_eq(buf_addstr(&b, "!"), -1); /* the cap is still 4 */
    buf_free(&b);
}
END_TEST

START_TEST(shrink_keeps_the_error)
{
    buf b;
    filled(&b, 4, "abcde", -1);
    buf_shrink(&b); /* empty: the memory goes, the error does not */
    ck_assert_ptr_null(b.data);
    ck_assert(buf_failed(&b));
    ck_assert_int_eq(buf_addstr(&b, "a"), -1);
    buf_free(&b);
}
END_TEST

START_TEST(shrink_keeps_live_bytes)
{
    buf b;
    filled(&b, 64, "abc", 0);
    buf_shrink(&b);
    ck_assert(holds(&b, "abc"));
    buf_consume(&b, 3);
    buf_shrink(&b);
    ck_assert_ptr_null(b.data);
    ck_assert_str_eq(buf_ptr(&b), "");
    buf_free(&b);
}
END_TEST

START_TEST(consume_skips_then_compacts_in_place)
{
    buf b;
    buf_init(&b, 1 << 20);
    char big[100];
    memset(big, 'a', sizeof(big));
    ck_assert_int_eq(buf_add(&b, big, sizeof(big)), 0);
    ck_assert_int_eq(buf_addstr(&b, "tail"), 0);
    char *mem = b.data;
    size_t alloc = b.alloc;
    buf_consume(&b, sizeof(big));
    ck_assert(holds(&b, "tail"));
    ck_assert_uint_eq(b.off, sizeof(big)); /* skipped, not moved */
    /* Does not fit after the consumed prefix, fits in the allocation: moved to the front. */
    size_t room = alloc - 1 - 4 - b.off + 1;
    char *more = malloc(room);
    memset(more, 'b', room);
    ck_assert_int_eq(buf_add(&b, more, room), 0);
    ck_assert_ptr_eq(b.data, mem);
    ck_assert_uint_eq(b.alloc, alloc);
    ck_assert_uint_eq(b.off, 0);
    ck_assert_uint_eq(buf_len(&b), 4 + room);
    ck_assert_int_eq(memcmp(buf_ptr(&b), "tail", 4), 0);
    ck_assert_int_eq(memcmp(buf_ptr(&b) + 4, more, room), 0);
    free(more);
    buf_free(&b);
}
END_TEST

START_TEST(consume_counts_against_the_cap_no_more)
{
    buf b;
    filled(&b, 8, "12345678", 0);
    buf_consume(&b, 5);
    ck_assert_int_eq(buf_add(&b, "abcde", 5), 0);
    ck_assert(holds(&b, "678abcde"));
    ck_assert_int_eq(buf_add(&b, "9", 1), -1); /* the cap counts what is live */
    expect_failed(&b, "678abcde");
    buf_consume(&b, 8);
    ck_assert_int_eq(buf_add(&b, "9", 1), -1); /* failed until a reset */
    buf_reset(&b);
    ck_assert(!buf_failed(&b));
    buf_shrink(&b);
    ck_assert_ptr_null(b.data);
    ck_assert_int_eq(buf_add(&b, "abc", 3), 0);
    buf_consume(&b, 100); /* more than there is: empty */
    ck_assert_uint_eq(buf_len(&b), 0);
    ck_assert_uint_eq(b.off, 0);
    ck_assert(!buf_failed(&b));
    buf_free(&b);
}
END_TEST

START_TEST(take_moves_live_bytes_out)
{
    buf b;
    filled(&b, 64, "skip:keep", 0);
    buf_consume(&b, 5);
    expect_take(&b, "keep");
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(buf_len(&b), 0);
    /* Reusable afterwards; an empty buffer gives an empty string. */
    expect_take(&b, "");
    buf_free(&b);
}
END_TEST

START_TEST(take_of_a_full_buffer_has_room_for_the_nul)
{
    buf b;
    filled(&b, 5, "12345", 0);
    expect_take(&b, "12345");
    buf_free(&b);
}
END_TEST

START_TEST(take_refuses_a_failed_buffer)
{
    buf b;
    failed_by(&b, 4, "ab", "cde");
    ck_assert_ptr_null(buf_take(&b));
    expect_failed(&b, "ab"); /* untouched: still the caller's to free */
    buf_free(&b);
}
END_TEST

START_TEST(addf_formats_short_and_long)
{
    buf b;
    buf_init(&b, 4096);
    ck_assert_int_eq(buf_addf(&b, "%d-%s", 42, "x"), 0);
    char *longer = zs(999);
    ck_assert_int_eq(buf_addf(&b, "[%s]", longer), 0); /* past the 256-byte fast path */
    free(longer);
    ck_assert_uint_eq(buf_len(&b), 4 + 1 + 999 + 1);
    ck_assert_int_eq(memcmp(buf_ptr(&b), "42-x[zzz", 8), 0);
    ck_assert_int_eq(buf_ptr(&b)[buf_len(&b) - 1], ']');
    buf_free(&b);
}
END_TEST

START_TEST(addf_over_the_cap_fails_whole)
{
    buf b;
    filled(&b, 300, "head", 0);
    char *longer = zs(399);
    ck_assert_int_eq(buf_addf(&b, "%s", longer), -1); /* long path */
    expect_failed(&b, "head");                        /* nothing of it went in */
    buf_reset(&b);
    ck_assert_int_eq(buf_addf(&b, "%.*s", 296, longer), 0);
    ck_assert_int_eq(buf_addf(&b, "%s", "12345"), -1); /* short path, 301 > 300 */
    ck_assert(buf_failed(&b));
    ck_assert_uint_eq(buf_len(&b), 296);
    free(longer);
    buf_free(&b);
}
END_TEST

START_TEST(reserve_then_commit)
{
    buf b;
    filled(&b, 16, "ab", 0);
    ck_assert_int_eq(buf_reserve(&b, 3), 0);
    memcpy(buf_tail(&b), "cde", 3);
    buf_commit(&b, 3);
    ck_assert(holds(&b, "abcde"));
    ck_assert_int_eq(buf_reserve(&b, 12), -1); /* 5 + 12 > 16 */
    expect_failed(&b, "abcde");
    buf_free(&b);
}
END_TEST

START_TEST(grows_across_many_adds)
{
    buf b;
    buf_init(&b, 100000);
    for (int i = 0; i < 10000; i++)
        buf_addf(&b, "%04d", i % 10000);
    ck_assert(!buf_failed(&b));
    ck_assert_uint_eq(buf_len(&b), 40000);
    ck_assert_int_eq(memcmp(buf_ptr(&b) + 4 * 1234, "1234", 4), 0);
    ck_assert_int_eq(memcmp(buf_ptr(&b) + 4 * 9999, "9999", 4), 0);
    buf_free(&b);
}
END_TEST

int main(void)
{
    return check_tests("buf", fills_to_the_cap_exactly, zero_cap_takes_nothing,
                       huge_add_does_not_wrap, error_is_sticky, reset_clears_the_error,
                       free_clears_the_error_and_keeps_the_cap, shrink_keeps_the_error,
                       shrink_keeps_live_bytes, consume_skips_then_compacts_in_place,
                       consume_counts_against_the_cap_no_more, take_moves_live_bytes_out,
                       take_of_a_full_buffer_has_room_for_the_nul, take_refuses_a_failed_buffer,
                       addf_formats_short_and_long, addf_over_the_cap_fails_whole,
                       reserve_then_commit, grows_across_many_adds);
}
