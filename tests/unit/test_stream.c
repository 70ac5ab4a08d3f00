/* Unit tests: the character pipeline (segment -> pending -> pace -> SSE events). */
#include <check.h>
#include <stdio.h>
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "lim.h"
#include "stream.h"

typedef struct ev {
    long id;
    char type[32];
    char *data;
} ev;

/* Parses the stream's out buffer (chatd's own format: one data line per event). */
static int parse(const char *s, ev *evs, int max)
{
    int n = 0;
    ev cur = {.id = -1};
    for (const char *line = s; *line;) {
        const char *end = strchr(line, '\n');
        ck_assert_ptr_nonnull(end);
        size_t len = (size_t)(end - line);
        if (len == 0 && cur.data) {
            ck_assert_int_lt(n, max);
            evs[n++] = cur;
            cur = (ev){.id = -1};
        } else if (!strncmp(line, "id: ", 4))
            cur.id = strtol(line + 4, NULL, 10);
        else if (!strncmp(line, "event: ", 7))
            snprintf(cur.type, sizeof(cur.type), "%.*s", (int)len - 7, line + 7);
        else if (!strncmp(line, "data: ", 6))
            cur.data = strndup(line + 6, len - 6);
        line = end + 1;
    }
    return n;
}

static char *text_of(const ev *e)
{
    cJSON *j = cJSON_Parse(e->data);
    ck_assert_ptr_nonnull(j);
    char *t = strdup(cJSON_GetObjectItem(j, "text")->valuestring);
    cJSON_Delete(j);
    return t;
}

static void free_evs(ev *evs, int n)
{
    for (int i = 0; i < n; i++)
        free(evs[i].data);
}

static pace_cfg off = {.mode = PACE_OFF};

START_TEST(whole_path_split_clusters)
{
    stream s;
    stream_init(&s, "abc", "m", &off, 0);
    ck_assert_int_eq(stream_begin(&s), 0);
    /* 👩‍💻 split between tokens, é as e + combining accent split, CJK */
    const char *parts[] = {"H\xf0\x9f\x91\xa9", "\xe2\x80\x8d\xf0\x9f\x92\xbb", "e", "\xcc\x81\xe6\x97\xa5"};
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(stream_add(&s, STREAM_TEXT, parts[i], strlen(parts[i])), 0);
    stream_set_finish(&s, "stop");
    stream_set_usage(&s, 3, 4);
    ck_assert_int_eq(stream_end(&s), 0);
    stream_pump(&s, 1);
    ck_assert(s.term_written);
    ck_assert(!stream_active(&s));
    char *out = buf_take(&s.out);
    ck_assert(!strncmp(out, "retry: 3000\n\n", 13));
    ev evs[16];
    int n = parse(out + 13, evs, 16);
    ck_assert_int_eq(n, 6);
    const char *want[] = {"H", "\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb", "e\xcc\x81", "\xe6\x97\xa5"};
    ck_assert_str_eq(evs[0].type, "start");
    ck_assert_str_eq(evs[0].data, "{\"stream_id\":\"abc\",\"model\":\"m\"}");
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(evs[i].id, i);
    for (int i = 0; i < 4; i++) {
        char *t = text_of(&evs[i + 1]);
        ck_assert_str_eq(evs[i + 1].type, "delta");
        ck_assert_str_eq(t, want[i]);
        free(t);
    }
    ck_assert_str_eq(evs[5].type, "done");
    ck_assert_str_eq(evs[5].data,
                     "{\"finish_reason\":\"stop\",\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}");
    free_evs(evs, n);
    free(out);
    stream_release(&s);
}
END_TEST

START_TEST(fixed_pace_spreads_characters)
{
    pace_cfg fixed = {.mode = PACE_FIXED, .cps = 100};
    stream s;
    stream_init(&s, "id", "m", &fixed, 0);
    stream_add(&s, STREAM_TEXT, "abcdefghijklmnopqrstuvwxyz", 26);
    stream_end(&s);
    size_t chars_at_100ms = 0;
    for (uint64_t t = 10; t <= 1000; t += 10) {
        stream_pump(&s, t);
        if (t == 100)
            chars_at_100ms = s.chars;
    }
    ck_assert_uint_ge(chars_at_100ms, 9);
    ck_assert_uint_le(chars_at_100ms, 12);
    ck_assert_uint_eq(s.chars, 26);
    ck_assert(s.term_written);
    stream_release(&s);
}
END_TEST

START_TEST(error_comes_after_received_characters)
{
    pace_cfg fixed = {.mode = PACE_FIXED, .cps = 1};
    stream s;
    stream_init(&s, "id", "m", &fixed, 0);
    stream_add(&s, STREAM_TEXT, "xyz", 3);
    stream_fail(&s, "upstream_error", "boom", 502);
    stream_end(&s); /* ignored: the first terminal decision wins */
    stream_pump(&s, 1);
    char *out = buf_take(&s.out);
    ev evs[8];
    int n = parse(out, evs, 8);
    ck_assert_int_eq(n, 4);
    ck_assert_str_eq(evs[3].type, "error");
    ck_assert_str_eq(evs[3].data, "{\"error\":{\"type\":\"upstream_error\",\"message\":\"boom\",\"status\":502}}");
    free_evs(evs, n);
    free(out);
    stream_release(&s);
}
END_TEST

START_TEST(cancel_ends_with_cancelled)
{
    stream s;
    stream_init(&s, "id", "m", &off, 0);
    stream_add(&s, STREAM_TEXT, "ab", 2);
    stream_cancel(&s);
    stream_pump(&s, 1);
    char *out = buf_take(&s.out);
    ck_assert_ptr_nonnull(strstr(out, "event: done\ndata: {\"finish_reason\":\"cancelled\"}"));
    free(out);
    stream_release(&s);
}
END_TEST

START_TEST(reasoning_events_are_separate)
{
    stream s;
    stream_init(&s, "id", "m", &off, 0);
    stream_add(&s, STREAM_REASONING, "hm", 2);
    stream_add(&s, STREAM_TEXT, "ok", 2);
    stream_end(&s);
    stream_pump(&s, 1);
    char *out = buf_take(&s.out);
    ev evs[8];
    int n = parse(out, evs, 8);
    ck_assert_int_eq(n, 5);
    ck_assert_str_eq(evs[0].type, "reasoning");
    ck_assert_str_eq(evs[1].type, "reasoning");
    ck_assert_str_eq(evs[2].type, "delta");
    free_evs(evs, n);
    free(out);
    stream_release(&s);
}
END_TEST

START_TEST(slow_reader_keeps_out_bounded)
{
    stream s;
    stream_init(&s, "id", "m", &off, 0);
    static char big[100000];
    memset(big, 'a', sizeof(big));
    ck_assert_int_eq(stream_add(&s, STREAM_TEXT, big, sizeof(big)), 0);
    stream_end(&s);
    stream_pump(&s, 1);
    ck_assert_uint_lt(buf_len(&s.out), LIM_OUT_HIGH + 64);
    ck_assert(stream_active(&s));
    /* the reader drains; everything arrives, in order, once */
    size_t total_chars = 0;
    while (stream_active(&s)) {
        total_chars = s.chars;
        buf_reset(&s.out);
        stream_pump(&s, 2);
    }
    ck_assert_uint_eq(s.chars, sizeof(big));
    ck_assert_uint_le(total_chars, sizeof(big));
    ck_assert(s.term_written);
    stream_release(&s);
}
END_TEST

START_TEST(ping_is_a_comment)
{
    stream s;
    stream_init(&s, "id", "m", &off, 0);
    stream_ping(&s, 5);
    ck_assert_uint_eq(buf_len(&s.out), 8);
    ck_assert_int_eq(memcmp(buf_ptr(&s.out), ": ping\n\n", 8), 0);
    ck_assert_uint_eq(s.next_id, 0);
    stream_release(&s);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("stream");
    TCase *t = tcase_create("core");
    tcase_add_test(t, whole_path_split_clusters);
    tcase_add_test(t, fixed_pace_spreads_characters);
    tcase_add_test(t, error_comes_after_received_characters);
    tcase_add_test(t, cancel_ends_with_cancelled);
    tcase_add_test(t, reasoning_events_are_separate);
    tcase_add_test(t, slow_reader_keeps_out_bounded);
    tcase_add_test(t, ping_is_a_comment);
    suite_add_tcase(su, t);
    SRunner *r = srunner_create(su);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
