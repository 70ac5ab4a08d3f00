/* Unit tests: the stream log (segment -> log -> pace release -> encode per reader). */
#include <check.h>

#include "check_main.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lim.h"
#include "stream.h"

typedef struct ev {
    long id;
    char type[32];
    char *data;
} ev;

/* Parses chatd's native format (one data line per event); skips retry and comments. */
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

/* Everything a fresh native reader gets now, as a string. */
static char *read_all(stream *s, int64_t after, int *finished)
{
    stream_cursor c;
    ck_assert_int_eq(stream_cursor_init(&c, s, STREAM_FMT_NATIVE, 0), 0);
    ck_assert_int_eq(stream_seek(s, &c, after), 0);
    buf out;
    buf_init(&out, 1 << 20);
    int rc;
    do {
        size_t before = buf_len(&out);
        rc = stream_encode(s, &c, &out, buf_len(&out) + 100);
        ck_assert_int_ge(rc, 0);
        if (buf_len(&out) == before)
            break;
    } while (rc == 0);
    *finished = rc == 1;
    stream_cursor_free(&c);
    return buf_take(&out);
}

static pace_cfg off = {.mode = PACE_OFF};

START_TEST(whole_path_split_clusters)
{
    stream *s = stream_new("abc", "m", &off, 0, 0);
    stream_start(s);
    /* 👩‍💻 split between tokens, é as e + combining accent split, CJK */
    const char *parts[] = {"H\xf0\x9f\x91\xa9", "\xe2\x80\x8d\xf0\x9f\x92\xbb", "e",
                           "\xcc\x81\xe6\x97\xa5"};
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(stream_add(s, STREAM_TEXT, parts[i], strlen(parts[i])), 0);
    stream_set_finish(s, "stop");
    stream_set_usage(s, 3, 4);
    stream_end(s);
    ck_assert(stream_pump(s, 1));
    ck_assert(!stream_active(s));
    int fin;
    char *out = read_all(s, -1, &fin);
    ck_assert(fin);
    ck_assert(!strncmp(out, "retry: 3000\n\n", 13));
    ev evs[16];
    int n = parse(out + 13, evs, 16);
    ck_assert_int_eq(n, 6);
    const char *want[] = {"H", "\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb", "e\xcc\x81",
                          "\xe6\x97\xa5"};
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
    ck_assert_str_eq(
        evs[5].data,
        "{\"finish_reason\":\"stop\",\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}");
    ck_assert_int_eq(stream_last_id(s), 5);
    free_evs(evs, n);
    free(out);
    stream_unref(s);
}
END_TEST

START_TEST(resume_replays_exactly_after_id)
{
    stream *s = stream_new("r", "m", &off, 0, 0);
    stream_start(s);
    stream_add(s, STREAM_TEXT, "abcdef", 6);
    stream_end(s);
    stream_pump(s, 1);
    int fin;
    char *all = read_all(s, -1, &fin);
    for (int64_t after = -1; after <= 7; after++) {
        char *part = read_all(s, after, &fin);
        ev a[16], b[16];
        int na = parse(all + 13, a, 16), nb = parse(part + 13, b, 16);
        ck_assert_int_eq(nb, na - (int)(after + 1));
        for (int i = 0; i < nb; i++) {
            ck_assert_int_eq(b[i].id, a[i + after + 1].id);
            ck_assert_str_eq(b[i].data, a[i + after + 1].data);
        }
        free_evs(a, na);
        free_evs(b, nb);
        free(part);
    }
    stream_cursor c;
    stream_cursor_init(&c, s, STREAM_FMT_NATIVE, 0);
    ck_assert_int_eq(stream_seek(s, &c, 8), -1); /* past the terminal event */
    stream_cursor_free(&c);
    free(all);
    stream_unref(s);
}
END_TEST

START_TEST(readers_see_only_released_characters)
{
    pace_cfg fixed = {.mode = PACE_FIXED, .cps = 100};
    stream *s = stream_new("id", "m", &fixed, 0, 0);
    stream_start(s);
    stream_add(s, STREAM_TEXT, "abcdefghijklmnopqrstuvwxyz", 26);
    stream_end(s);
    stream_cursor c;
    stream_cursor_init(&c, s, STREAM_FMT_NATIVE, 0);
    buf out;
    buf_init(&out, 1 << 20);
    for (uint64_t t = 10; t <= 100; t += 10)
        stream_pump(s, t);
    ck_assert_int_eq(stream_encode(s, &c, &out, SIZE_MAX), 0);
    /* 'z' was segmented at the end; about 10 of 26 released after 100 ms at 100/s */
    ck_assert_uint_ge(c.next_id - 1, 9);
    ck_assert_uint_le(c.next_id - 1, 12);
    for (uint64_t t = 110; t <= 1000; t += 10)
        stream_pump(s, t);
    ck_assert_int_eq(stream_encode(s, &c, &out, SIZE_MAX), 1);
    ck_assert_uint_eq(c.next_id, 28);
    stream_cursor_free(&c);
    buf_free(&out);
    stream_unref(s);
}
END_TEST

START_TEST(error_comes_after_received_characters)
{
    pace_cfg fixed = {.mode = PACE_FIXED, .cps = 1};
    stream *s = stream_new("id", "m", &fixed, 0, 0);
    stream_start(s);
    stream_add(s, STREAM_TEXT, "xyz", 3);
    stream_fail(s, "upstream_error", "boom", 502);
    stream_end(s); /* ignored: the first terminal decision wins */
    stream_pump(s, 1);
    int fin;
    char *out = read_all(s, -1, &fin);
    ev evs[8];
    int n = parse(out + 13, evs, 8);
    ck_assert_int_eq(n, 5);
    ck_assert_str_eq(evs[4].type, "error");
    ck_assert_str_eq(
        evs[4].data,
        "{\"error\":{\"type\":\"upstream_error\",\"message\":\"boom\",\"status\":502}}");
    free_evs(evs, n);
    free(out);
    stream_unref(s);
}
END_TEST

START_TEST(cancel_ends_with_cancelled)
{
    stream *s = stream_new("id", "m", &off, 0, 0);
    stream_start(s);
    stream_add(s, STREAM_TEXT, "ab", 2);
    stream_cancel(s);
    stream_pump(s, 1);
    int fin;
    char *out = read_all(s, -1, &fin);
    ck_assert_ptr_nonnull(strstr(out, "event: done\ndata: {\"finish_reason\":\"cancelled\"}"));
    ck_assert_ptr_nonnull(strstr(out, "\"text\":\"b\""));
    free(out);
    stream_unref(s);
}
END_TEST

START_TEST(reasoning_events_are_separate_and_ordered)
{
    stream *s = stream_new("id", "m", &off, 0, 0);
    stream_start(s);
    stream_add(s, STREAM_REASONING, "hm", 2);
    stream_add(s, STREAM_TEXT, "ok", 2);
    stream_end(s);
    stream_pump(s, 1);
    int fin;
    char *out = read_all(s, -1, &fin);
    ev evs[8];
    int n = parse(out + 13, evs, 8);
    ck_assert_int_eq(n, 6);
    ck_assert_str_eq(evs[1].type, "reasoning");
    ck_assert_str_eq(evs[2].type, "reasoning");
    ck_assert_str_eq(evs[3].type, "delta");
    ck_assert_str_eq(evs[4].type, "delta");
    free_evs(evs, n);
    free(out);
    stream_unref(s);
}
END_TEST

START_TEST(openai_chunks_and_whole_object)
{
    stream *s = stream_new("x1", "gpt", &off, 0, 0);
    stream_start(s);
    stream_add(s, STREAM_TEXT, "h\xc3\xa9", 3);
    stream_set_usage(s, 2, 5);
    stream_end(s);
    stream_pump(s, 1);
    stream_cursor c;
    stream_cursor_init(&c, s, STREAM_FMT_OAI_SSE, 1);
    buf out;
    buf_init(&out, 1 << 20);
    ck_assert_int_eq(stream_encode(s, &c, &out, SIZE_MAX), 1);
    char *t = buf_take(&out);
    ck_assert_ptr_nonnull(strstr(t, "\"delta\":{\"role\":\"assistant\",\"content\":\"\"}"));
    ck_assert_ptr_nonnull(strstr(t, "\"delta\":{\"content\":\"h\"}"));
    ck_assert_ptr_nonnull(strstr(t, "\"delta\":{\"content\":\"\xc3\xa9\"}"));
    ck_assert_ptr_nonnull(strstr(t, "\"finish_reason\":\"stop\""));
    ck_assert_ptr_nonnull(
        strstr(t, "\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":5,\"total_tokens\":7}"));
    ck_assert(!strcmp(t + strlen(t) - 14, "data: [DONE]\n\n"));
    free(t);
    stream_cursor_free(&c);
    stream_cursor_init(&c, s, STREAM_FMT_OAI_JSON, 0);
    ck_assert_int_eq(stream_encode(s, &c, &out, SIZE_MAX), 1);
    t = buf_take(&out);
    cJSON *j = cJSON_Parse(t);
    ck_assert_ptr_nonnull(j);
    cJSON *msg =
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0), "message");
    ck_assert_str_eq(cJSON_GetObjectItem(msg, "content")->valuestring, "h\xc3\xa9");
    ck_assert_str_eq(cJSON_GetObjectItem(j, "object")->valuestring, "chat.completion");
    cJSON_Delete(j);
    free(t);
    stream_cursor_free(&c);
    stream_unref(s);
}
END_TEST

START_TEST(log_cap_ends_with_error)
{
    stream *s = stream_new("id", "m", &off, 0, 0);
    stream_start(s);
    static char chunk[65536];
    memset(chunk, 'a', sizeof(chunk));
    int rc = 0;
    for (int i = 0; i < 200 && rc == 0; i++)
        rc = stream_add(s, STREAM_TEXT, chunk, sizeof(chunk));
    ck_assert_int_eq(rc, -1);
    ck_assert_uint_le(stream_log_bytes(s), 2 * LIM_LOG_TEXT);
    ck_assert_int_eq(s->term_kind, STREAM_TERM_ERROR);
    stream_unref(s);
}
END_TEST

int main(void)
{
    return check_tests("stream", whole_path_split_clusters, resume_replays_exactly_after_id,
                       readers_see_only_released_characters, error_comes_after_received_characters,
                       cancel_ends_with_cancelled, reasoning_events_are_separate_and_ordered,
                       openai_chunks_and_whole_object, log_cap_ends_with_error);
}
