/* Unit tests: the strict RFC 8259 check. */
#include <check.h>

#include "check_main.h"
#include <string.h>

#include "jsonv.h"

static int ok(const char *s)
{
    return jsonv_check(s, strlen(s), NULL) == 0;
}

START_TEST(accepts_valid_json)
{
    const char *good[] = {"{}",
                          "[]",
                          " {\"a\":[1,-0.5,2e10,1E-3,true,false,null]} ",
                          "\"x\"",
                          "0",
                          "-0",
                          "{\"k\":\"\\u00e9\\ud83d\\ude00\\n\\\"\\/\\\\\"}",
                          "[[[[]]]]",
                          "{\"a\":{\"b\":{\"c\":\"\xe6\x97\xa5\"}}}"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        ck_assert_msg(ok(good[i]), "rejected %s", good[i]);
}
END_TEST

START_TEST(refuses_what_cjson_lets_through)
{
    const char *bad[] = {"01",         "1.",       ".5",          "+1",        "-",
                         "1e",         "0x10",     "NaN",         "Infinity",  "\"a\nb\"",
                         "\"a\tb\"",   "\"\x01\"", "\"\\u12G4\"", "\"\\x41\"", "\"\\u0000\"",
                         "{\"a\":1,}", "[1,]",     "{a:1}",       "{'a':1}",   "[1 2]",
                         "{} {}",      "",         " ",           "tru",       "nul",
                         "\"open",     "{\"a\"1}", "[",           "{"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(!ok(bad[i]), "accepted %s", bad[i]);
    ck_assert(jsonv_check("\"a\0b\"", 5, NULL) < 0);
}
END_TEST

START_TEST(caps_nesting)
{
    char deep[2 * JSONV_MAX_DEPTH + 4];
    size_t n = 0;
    for (int i = 0; i < JSONV_MAX_DEPTH; i++)
        deep[n++] = '[';
    for (int i = 0; i < JSONV_MAX_DEPTH; i++)
        deep[n++] = ']';
    ck_assert_int_eq(jsonv_check(deep, n, NULL), 0);
    memmove(deep + 1, deep, n);
    deep[0] = '[';
    deep[++n] = ']';
    n++;
    const char *why;
    ck_assert_int_eq(jsonv_check(deep, n, &why), -1);
    ck_assert_ptr_nonnull(strstr(why, "deep"));
}
END_TEST

int main(void)
{
    return check_tests("jsonv", accepts_valid_json, refuses_what_cjson_lets_through, caps_nesting);
}
