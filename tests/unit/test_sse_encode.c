/* Unit tests: the SSE encoder and JSON string writer. */
#include <check.h>

#include "check_main.h"
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jsonw.h"
#include "sse_encode.h"

static char *str_of(buf *b)
{
    return buf_take(b);
}

START_TEST(event_format)
{
    buf b;
    buf_init(&b, 4096);
    ck_assert_int_eq(sse_retry(&b, 3000), 0);
    ck_assert_int_eq(sse_text(&b, 7, "delta", "H", 1), 0);
    ck_assert_int_eq(sse_event(&b, 8, "done", "{\"a\":1}", 7), 0);
    ck_assert_int_eq(sse_comment(&b, "ping"), 0);
    char *s = str_of(&b);
    ck_assert_str_eq(s, "retry: 3000\n\nid: 7\nevent: delta\ndata: {\"text\":\"H\"}\n\n"
                        "id: 8\nevent: done\ndata: {\"a\":1}\n\n: ping\n\n");
    free(s);
}
END_TEST

START_TEST(escapes_line_breakers)
{
    buf b;
    buf_init(&b, 4096);
    const char in[] = "a\"b\\c\nd\re\tf\x01g\xe2\x80\xa8h\xe2\x80\xa9i\x7f";
    ck_assert_int_eq(jsonw_str(&b, in, sizeof(in) - 1), 0);
    char *s = str_of(&b);
    ck_assert_str_eq(s, "\"a\\\"b\\\\c\\nd\\re\\tf\\u0001g\\u2028h\\u2029i\\u007f\"");
    ck_assert_ptr_null(strchr(s, '\n'));
    free(s);
}
END_TEST

START_TEST(multibyte_passes_through)
{
    buf b;
    buf_init(&b, 4096);
    const char *in = "\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb \xe6\x97\xa5 \xe2\x80\xa6";
    ck_assert_int_eq(jsonw_str(&b, in, strlen(in)), 0);
    char *s = str_of(&b);
    ck_assert_int_eq(strlen(s), strlen(in) + 2);
    ck_assert_int_eq(memcmp(s + 1, in, strlen(in)), 0);
    free(s);
}
END_TEST

START_TEST(cap_rolls_back_whole_event)
{
    buf b;
    buf_init(&b, 40);
    ck_assert_int_eq(sse_text(&b, 1, "delta", "x", 1), 0);
    size_t before = buf_len(&b);
    ck_assert_int_eq(sse_text(&b, 2, "delta", "y", 1), -1);
    ck_assert_uint_eq(buf_len(&b), before);
    ck_assert(buf_failed(&b));
    buf_free(&b);
}
END_TEST

START_TEST(u64_digits)
{
    buf b;
    buf_init(&b, 64);
    jsonw_u64(&b, 0);
    buf_addstr(&b, ",");
    jsonw_u64(&b, 18446744073709551615ull);
    char *s = str_of(&b);
    ck_assert_str_eq(s, "0,18446744073709551615");
    free(s);
}
END_TEST

int main(void)
{
    return check_tests("sse", event_format, escapes_line_breakers, multibyte_passes_through,
                       cap_rolls_back_whole_event, u64_digits);
}
