/* Unit tests: the strict RFC 8259 check; locating values while checking (jsonv_find) and
 * unescaping them (jsonv_unescape). */
#include <check.h>

#include "check_main.h"
#include <stdio.h>
#include <string.h>

#include "jsonv.h"

static int ok(const char *s)
{
    return jsonv_check(s, strlen(s), NULL) == 0;
}

static const char *const GOOD[] = {"{}",
                                   "[]",
                                   " {\"a\":[1,-0.5,2e10,1E-3,true,false,null]} ",
                                   "\"x\"",
                                   "0",
                                   "-0",
                                   "{\"k\":\"\\u00e9\\ud83d\\ude00\\n\\\"\\/\\\\\"}",
                                   "[[[[]]]]",
                                   "{\"a\":{\"b\":{\"c\":\"\xe6\x97\xa5\"}}}"};
#define N_GOOD (sizeof(GOOD) / sizeof(GOOD[0]))

START_TEST(accepts_valid_json)
{
    for (size_t i = 0; i < N_GOOD; i++)
        ck_assert_msg(ok(GOOD[i]), "rejected %s", GOOD[i]);
}
END_TEST

static const char *const BAD[] = {
    "01",          "1.",        ".5",          "+1",         "-",        "1e",
    "0x10",        "NaN",       "Infinity",    "\"a\nb\"",   "\"a\tb\"", "\"\x01\"",
    "\"\\u12G4\"", "\"\\x41\"", "\"\\u0000\"", "{\"a\":1,}", "[1,]",     "{a:1}",
    "{'a':1}",     "[1 2]",     "{} {}",       "",           " ",        "tru",
    "nul",         "\"open",    "{\"a\"1}",    "[",          "{"};
#define N_BAD (sizeof(BAD) / sizeof(BAD[0]))

START_TEST(refuses_what_cjson_lets_through)
{
    for (size_t i = 0; i < N_BAD; i++)
        ck_assert_msg(!ok(BAD[i]), "accepted %s", BAD[i]);
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

/* ---- jsonv_find ---- */

#define K(k) JSONV_KEY(k)
#define AT(i) JSONV_AT(i)

static const jsonv_step S_A[] = {K("a")}, S_B[] = {K("b")}, S_AB[] = {K("a"), K("b")},
                        S_A0[] = {K("a"), AT(0)}, S_A1B[] = {K("a"), AT(1), K("b")},
                        S_0[] = {AT(0)}, S_2[] = {AT(2)};

/* Paths the find tests ask for, in this order. */
static const jsonv_path PATHS[] = {{NULL, 0},        JSONV_PATH(S_A),  JSONV_PATH(S_B),
                                   JSONV_PATH(S_AB), JSONV_PATH(S_A0), JSONV_PATH(S_A1B),
                                   JSONV_PATH(S_0),  JSONV_PATH(S_2)};
enum { P_TOP, P_A, P_B, P_AB, P_A0, P_A1B, P_0, P_2, N_P };

static jsonv_span OUT[N_P];
static unsigned NOTES;

/* jsonv_find over s with PATHS; its result. */
static int find(const char *s)
{
    return jsonv_find(s, strlen(s), PATHS, N_P, OUT, &NOTES, NULL);
}

/* The text of what path i found ("-" when nothing). */
static const char *at(int i)
{
    static char t[256];
    if (!OUT[i].p) {
        ck_assert_int_eq(OUT[i].type, JSONV_NONE);
        return "-";
    }
    ck_assert_uint_lt(OUT[i].n, sizeof(t));
    memcpy(t, OUT[i].p, OUT[i].n);
    t[OUT[i].n] = '\0';
    return t;
}

START_TEST(find_agrees_with_check)
{
    for (size_t i = 0; i < N_GOOD + N_BAD; i++) {
        const char *s = i < N_GOOD ? GOOD[i] : BAD[i - N_GOOD];
        const char *why_check, *why_find;
        int a = jsonv_check(s, strlen(s), &why_check);
        int b = jsonv_find(s, strlen(s), PATHS, N_P, OUT, NULL, &why_find);
        ck_assert_msg(a == b && !strcmp(why_check, why_find), "%s: %d (%s) vs %d (%s)", s, a,
                      why_check, b, why_find);
    }
    ck_assert_int_eq(jsonv_find("\"a\0b\"", 5, PATHS, N_P, OUT, NULL, NULL), -1);
    const char *why;
    ck_assert_int_eq(jsonv_find("{}", 2, PATHS, JSONV_MAX_PATHS + 1, OUT, NULL, &why), -1);
    ck_assert_str_eq(why, "too many paths");
}
END_TEST

/* d arrays, one in the other, into deep; the length. */
static size_t nest(char *deep, size_t d)
{
    memset(deep, '[', d);
    memset(deep + d, ']', d);
    return 2 * d;
}

START_TEST(find_caps_nesting_alike)
{
    char deep[2 * JSONV_MAX_DEPTH + 2], inner[2 * JSONV_MAX_DEPTH];
    size_t n = nest(deep, JSONV_MAX_DEPTH);
    ck_assert_int_eq(jsonv_find(deep, n, PATHS, N_P, OUT, NULL, NULL), 0);
    inner[nest(inner, JSONV_MAX_DEPTH - 1)] = '\0';
    ck_assert_str_eq(at(P_0), inner);
    n = nest(deep, JSONV_MAX_DEPTH + 1);
    const char *why;
    ck_assert_int_eq(jsonv_find(deep, n, PATHS, N_P, OUT, NULL, &why), -1);
    ck_assert_ptr_nonnull(strstr(why, "deep"));
}
END_TEST

START_TEST(find_nested_values)
{
    ck_assert_int_eq(find("{\"a\":{\"b\":[1,{\"b\":2}],\"x\":null},\"b\":\"s\"}"), 0);
    ck_assert_str_eq(at(P_TOP), "{\"a\":{\"b\":[1,{\"b\":2}],\"x\":null},\"b\":\"s\"}");
    ck_assert_int_eq(OUT[P_TOP].type, JSONV_OBJECT);
    ck_assert_str_eq(at(P_A), "{\"b\":[1,{\"b\":2}],\"x\":null}");
    ck_assert_str_eq(at(P_B), "\"s\"");
    ck_assert_int_eq(OUT[P_B].type, JSONV_STRING);
    ck_assert_str_eq(at(P_AB), "[1,{\"b\":2}]");
    ck_assert_int_eq(OUT[P_AB].type, JSONV_ARRAY);
    ck_assert_str_eq(at(P_A0), "-"); /* a is an object: no position step there */
    ck_assert_str_eq(at(P_0), "-");  /* nor a name step in an array, below */
    ck_assert_int_eq(NOTES, 0);

    ck_assert_int_eq(find("{\"a\":[true,{\"b\":false},3],\"0\":1}"), 0);
    ck_assert_str_eq(at(P_A0), "true");
    ck_assert_int_eq(OUT[P_A0].type, JSONV_TRUE);
    ck_assert_str_eq(at(P_A1B), "false");
    ck_assert_int_eq(OUT[P_A1B].type, JSONV_FALSE);
    ck_assert_str_eq(at(P_0), "-");

    ck_assert_int_eq(find("[{\"a\":1},2,-3.5e+2]"), 0);
    ck_assert_str_eq(at(P_0), "{\"a\":1}");
    ck_assert_str_eq(at(P_2), "-3.5e+2");
    ck_assert_int_eq(OUT[P_2].type, JSONV_NUMBER);
    ck_assert_str_eq(at(P_A), "-");

    ck_assert_int_eq(find("null"), 0);
    ck_assert_int_eq(OUT[P_TOP].type, JSONV_NULL);
    ck_assert_str_eq(at(P_A), "-");
}
END_TEST

START_TEST(find_first_of_repeated_names)
{
    /* as cJSON_GetObjectItemCaseSensitive: the first "a" counts, and everything under it */
    ck_assert_int_eq(find("{\"a\":{\"x\":1},\"a\":{\"b\":2},\"b\":3,\"b\":4}"), 0);
    ck_assert_str_eq(at(P_A), "{\"x\":1}");
    ck_assert_str_eq(at(P_AB), "-");
    ck_assert_str_eq(at(P_B), "3");
    ck_assert_int_eq(find("{\"a\":{\"b\":1,\"b\":2}}"), 0);
    ck_assert_str_eq(at(P_AB), "1");
    /* a repeat inside a later member of another name is a different object */
    ck_assert_int_eq(find("{\"x\":{\"a\":0},\"a\":{\"b\":5}}"), 0);
    ck_assert_str_eq(at(P_AB), "5");
}
END_TEST

START_TEST(find_names_compared_unescaped)
{
    ck_assert_int_eq(find("{\"\\u0061\":{\"\\u0062\":\"v\"},\"b\\/\":1,\"\\\"b\":2}"), 0);
    ck_assert_str_eq(at(P_A), "{\"\\u0062\":\"v\"}");
    ck_assert_str_eq(at(P_AB), "\"v\"");
    ck_assert_str_eq(at(P_B), "-"); /* "b/" and "\"b" are other names */
    ck_assert_int_eq(find("{\"a\\n\":1,\"ab\":2,\"\":3,\"A\":4}"), 0);
    ck_assert_str_eq(at(P_A), "-");
    static const jsonv_step e_acute[] = {K("\xc3\xa9")}, empty[] = {K("")};
    const jsonv_path p[] = {JSONV_PATH(e_acute), JSONV_PATH(empty)};
    const char *s = "{\"\":0,\"\\u00e9\":1,\"\xc3\xa9\":2}";
    ck_assert_int_eq(jsonv_find(s, strlen(s), p, 2, OUT, NULL, NULL), 0);
    ck_assert_str_eq(at(0), "1");
    ck_assert_str_eq(at(1), "0");
}
END_TEST

START_TEST(find_with_white_space_everywhere)
{
    ck_assert_int_eq(find(" \t\r\n{ \"a\" :\n[ 7 ,\t{ \"b\"\r\n: \"w\" } ] , \"b\" : null }\n "),
                     0);
    ck_assert_str_eq(at(P_A0), "7");
    ck_assert_str_eq(at(P_A1B), "\"w\"");
    ck_assert_str_eq(at(P_B), "null");
    ck_assert_int_eq(OUT[P_B].type, JSONV_NULL);
    ck_assert_str_eq(at(P_TOP), "{ \"a\" :\n[ 7 ,\t{ \"b\"\r\n: \"w\" } ] , \"b\" : null }");
}
END_TEST

START_TEST(find_marks_escaped_strings)
{
    ck_assert_int_eq(find("{\"a\":\"plain \xe6\x97\xa5\",\"b\":\"\\n\"}"), 0);
    ck_assert_int_eq(OUT[P_A].escaped, 0);
    ck_assert_int_eq(OUT[P_B].escaped, 1);
    ck_assert_int_eq(find("{\"a\":{\"k\":\"\\n\"},\"b\":\"\"}"), 0);
    ck_assert_int_eq(OUT[P_A].escaped, 0); /* only strings are */
    ck_assert_str_eq(at(P_B), "\"\"");
}
END_TEST

START_TEST(find_notes)
{
    const char *lone[] = {"\"\\ud800\"",
                          "\"\\udc00\"",
                          "\"\\ud800x\"",
                          "\"\\ud800\\u0041\"",
                          "\"\\ud800\\ud800\\udc00\"",
                          "\"\\ude00\\ud83d\"",
                          "\"\\ud83d\\\\ude00\"",
                          "{\"\\ud800\":1}"};
    for (size_t i = 0; i < sizeof(lone) / sizeof(lone[0]); i++) {
        ck_assert_int_eq(find(lone[i]), 0);
        ck_assert_msg(NOTES == JSONV_LONE_SURROGATE, "%s: notes %u", lone[i], NOTES);
    }
    const char *paired[] = {"\"\\ud83d\\ude00\"", "\"\\uD83D\\uDE00x\\uDBFF\\uDFFF\"",
                            "\"\\ud7ff\\ue000\\uffff\""};
    for (size_t i = 0; i < sizeof(paired) / sizeof(paired[0]); i++) {
        ck_assert_int_eq(find(paired[i]), 0);
        ck_assert_msg(NOTES == 0, "%s: notes %u", paired[i], NOTES);
    }
    char num[80] = "[-";
    memset(num + 2, '1', 62); /* 63 bytes with the sign */
    strcpy(num + 64, "]");
    ck_assert_int_eq(find(num), 0);
    ck_assert_uint_eq(NOTES, 0);
    strcpy(num + 64, "1]");
    ck_assert_int_eq(find(num), 0);
    ck_assert_uint_eq(NOTES, JSONV_LONG_NUMBER);
}
END_TEST

/* ---- jsonv_unescape ---- */

/* s's top value unescaped into a cap-byte out; its length, out in *text. */
static long unescape(const char *s, size_t cap, const char **text)
{
    static char out[256];
    ck_assert_uint_le(cap, sizeof(out));
    ck_assert_int_eq(find(s), 0);
    *text = out;
    return jsonv_unescape(&OUT[P_TOP], out, cap);
}

START_TEST(unescape_as_cjson)
{
    const struct {
        const char *in, *out;
    } cases[] = {
        {"\"\"", ""},
        {"\"plain \xe6\x97\xa5\"", "plain \xe6\x97\xa5"},
        {"\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t"},
        {"\"\\u0041\\u007f\\u0080\\u07ff\\u0800\"", "A\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80"},
        {"\"\\ud7ff\\ue000\\uFFFF\"", "\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf"},
        {"\"\\ud83d\\ude00\\uD800\\uDC00\\udbff\\udfff\"",
         "\xf0\x9f\x98\x80\xf0\x90\x80\x80\xf4\x8f\xbf\xbf"},
        {"\"a\\u00e9!\"", "a\xc3\xa9!"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *t;
        size_t want = strlen(cases[i].out);
        ck_assert_int_eq(unescape(cases[i].in, want + 1, &t), (long)want);
        ck_assert_str_eq(t, cases[i].out);
        ck_assert_int_eq(unescape(cases[i].in, want, &t), -1); /* no room for the NUL */
    }
}
END_TEST

START_TEST(unescape_refuses)
{
    const char *t;
    ck_assert_int_eq(unescape("\"\\ud83d\"", 64, &t), -1);
    ck_assert_int_eq(unescape("\"\\ude00\\ud83d\"", 64, &t), -1);
    ck_assert_int_eq(unescape("\"\\ud83dx\"", 64, &t), -1);
    ck_assert_int_eq(unescape("12", 64, &t), -1);
    ck_assert_int_eq(unescape("[\"x\"]", 64, &t), -1);
    ck_assert_int_eq(unescape("\"x\"", 0, &t), -1);
    ck_assert_int_eq(unescape("\"\"", 1, &t), 0);
    ck_assert_str_eq(t, "");
    const jsonv_span none = {NULL, 0, JSONV_NONE, 0};
    char out[4];
    ck_assert_int_eq(jsonv_unescape(&none, out, sizeof(out)), -1);
}
END_TEST

/* ---- jsonv_members ---- */

/* The walk's record: "name=value;" per member, each span's text as it stands. */
typedef struct walked {
    char text[512];
    size_t n_members, stop_at; /* stop_at: fn returns 7 on that member (1-based); 0 never */
    int escaped[8];
} walked;

static int note_member(void *ctx, const jsonv_span *name, const jsonv_span *value)
{
    walked *w = ctx;
    ck_assert_int_eq(name->type, JSONV_STRING);
    ck_assert_int_eq(name->p[0], '"');
    ck_assert_int_eq(name->p[name->n - 1], '"');
    if (w->n_members < 8)
        w->escaped[w->n_members] = name->escaped;
    size_t len = strlen(w->text);
    snprintf(w->text + len, sizeof(w->text) - len, "%.*s=%.*s;", (int)name->n, name->p,
             (int)value->n, value->p);
    return ++w->n_members == w->stop_at ? 7 : 0;
}

static int walk(const char *s, walked *w)
{
    memset(w, 0, sizeof(*w));
    return jsonv_members(s, strlen(s), note_member, w);
}

START_TEST(members_in_order_as_text)
{
    walked w;
    ck_assert_int_eq(walk("{\"a\":1.10,\"b\":12345678901234567890,\"a\":1e2}", &w), 0);
    ck_assert_str_eq(w.text, "\"a\"=1.10;\"b\"=12345678901234567890;\"a\"=1e2;");
    ck_assert_uint_eq(w.n_members, 3);
}
END_TEST

START_TEST(members_nested_values)
{
    walked w;
    ck_assert_int_eq(walk("{\"o\":{\"x\":[1,{\"y\":\"}\"}]},\"s\":\"a,b\",\"n\":null}", &w), 0);
    ck_assert_str_eq(w.text, "\"o\"={\"x\":[1,{\"y\":\"}\"}]};\"s\"=\"a,b\";\"n\"=null;");
}
END_TEST

START_TEST(members_escaped_names)
{
    walked w;
    ck_assert_int_eq(walk("{\"mod\\u0065l\":\"\\u00e9\",\"plain\":true,\"q\\\"\":0}", &w), 0);
    ck_assert_str_eq(w.text, "\"mod\\u0065l\"=\"\\u00e9\";\"plain\"=true;\"q\\\"\"=0;");
    ck_assert_int_eq(w.escaped[0], 1);
    ck_assert_int_eq(w.escaped[1], 0);
    ck_assert_int_eq(w.escaped[2], 1);
}
END_TEST

START_TEST(members_white_space_everywhere)
{
    walked w;
    ck_assert_int_eq(
        walk(" \t\r\n{ \"a\" :\n[ 7 ,\t{ \"b\"\r\n: \"w\" } ] ,\n\"b\" : null\t}\n ", &w), 0);
    ck_assert_str_eq(w.text, "\"a\"=[ 7 ,\t{ \"b\"\r\n: \"w\" } ];\"b\"=null;");
}
END_TEST

START_TEST(members_of_empty_object)
{
    walked w;
    ck_assert_int_eq(walk("{}", &w), 0);
    ck_assert_int_eq(walk(" { \n } ", &w), 0);
    ck_assert_uint_eq(w.n_members, 0);
}
END_TEST

START_TEST(members_stopped_by_fn)
{
    walked w;
    memset(&w, 0, sizeof(w));
    w.stop_at = 2;
    const char *s = "{\"a\":1,\"b\":2,\"c\":3}";
    ck_assert_int_eq(jsonv_members(s, strlen(s), note_member, &w), 7);
    ck_assert_str_eq(w.text, "\"a\"=1;\"b\"=2;");
}
END_TEST

START_TEST(members_of_no_object)
{
    const char *bad[] = {"[]", "\"x\"", "1", "null", "", "   ", "[{\"a\":1}]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        walked w;
        ck_assert_msg(walk(bad[i], &w) == -1, "walked %s", bad[i]);
        ck_assert_uint_eq(w.n_members, 0);
    }
}
END_TEST

START_TEST(members_of_invalid_text)
{
    const char *bad[] = {"{",         "{\"a\"}",    "{\"a\":}",        "{\"a\":1,}",
                         "{a:1}",     "{\"a\":1}x", "{\"a\":1}{}",     "{\"a\":01}",
                         "{\"a\" 1}", "{\"a\":[1}", "{\"a\":\"\\x\"}", "{\"a\":1 \"b\":2}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        walked w;
        ck_assert_msg(walk(bad[i], &w) == -1, "walked %s", bad[i]);
    }
    char deep[256] = "{\"a\":";
    size_t k = strlen(deep);
    for (int i = 0; i < JSONV_MAX_DEPTH; i++)
        deep[k++] = '[';
    for (int i = 0; i < JSONV_MAX_DEPTH; i++)
        deep[k++] = ']';
    strcpy(deep + k, "}");
    walked w;
    ck_assert_int_eq(walk(deep, &w), -1); /* one level too deep, as jsonv_check says */
    ck_assert_int_eq(jsonv_check(deep, strlen(deep), NULL), -1);
}
END_TEST

int main(void)
{
    return check_tests("jsonv", accepts_valid_json, refuses_what_cjson_lets_through, caps_nesting,
                       find_agrees_with_check, find_caps_nesting_alike, find_nested_values,
                       find_first_of_repeated_names, find_names_compared_unescaped,
                       find_with_white_space_everywhere, find_marks_escaped_strings, find_notes,
                       unescape_as_cjson, unescape_refuses, members_in_order_as_text,
                       members_nested_values, members_escaped_names, members_white_space_everywhere,
                       members_of_empty_object, members_stopped_by_fn, members_of_no_object,
                       members_of_invalid_text);
}
