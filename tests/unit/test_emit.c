/* Unit tests: the whole path of an answer — upstream text -> emit (segmentation, pacing on
 * an injected clock) -> the in-process store -> a reader's stream_read -> encode — with
 * the exact events a client gets. */
#include <check.h>

#include "check_main.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit.h"
#include "encode.h"
#include "lim.h"
#include "store.h"
#include "stream_reader.h"

#define RETRY "retry: 3000\n\n"
#define RETRY_LEN (sizeof(RETRY) - 1)

typedef struct ev {
    long id;
    char type[32];
    char *data;
} ev;

/* Parses chatd's native format (one data line per event) after its retry line; skips
 * comments. */
static int parse(const char *s, ev *evs, int max)
{
    ck_assert(!strncmp(s, RETRY, RETRY_LEN));
    int n = 0;
    ev cur = {.id = -1};
    for (const char *line = s + RETRY_LEN; *line;) {
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
    ck_assert_ptr_null(cur.data);
    return n;
}

/* e is a delta or reasoning event whose text is want. */
static void expect_text(const ev *e, const char *want)
{
    cJSON *j = cJSON_Parse(e->data);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(cJSON_GetObjectItem(j, "text")->valuestring, want);
    cJSON_Delete(j);
}

static void free_evs(ev *evs, int n)
{
    for (int i = 0; i < n; i++)
        free(evs[i].data);
}

/* A reader as reader.c reads: from its position, at most 128 clusters / 4096 bytes a read,
 * each read encoded into out. */
static void no_notify(stream_sub *sub)
{
    (void)sub;
}

static void rd_init(stream_reader *r, stream *s, enc_fmt fmt, int include_usage)
{
    ck_assert_int_eq(stream_reader_init(r, s, fmt, include_usage, 1 << 24, no_notify), 0);
}

/* Reads and encodes everything the store holds now; 1 when that took it to the end. */
static int rd_pull(stream_reader *r)
{
    for (;;) {
        uint64_t before = r->enc.next_id;
        stream_chunk_reset(&r->ch);
        ck_assert_int_eq(stream_read(r->s, &r->sub, r->enc.next_id, 128, 4096, &r->ch), 0);
        int rc = enc_chunk(&r->enc, stream_get_info(r->s), &r->ch, &r->out);
        ck_assert_int_ge(rc, 0);
        if (rc == 1 || r->enc.next_id == before)
            return rc;
    }
}

/* Everything a fresh native reader (resuming after event `after`, -1: none) gets now. */
static char *read_all(stream *s, int64_t after, int *finished)
{
    stream_reader r;
    rd_init(&r, s, ENC_NATIVE, 0);
    ck_assert_int_eq(stream_reader_seek(&r, after), 0);
    *finished = rd_pull(&r);
    char *t = buf_take(&r.out);
    stream_reader_free(&r);
    return t;
}

/* A fresh native reader after `after` gets exactly want, and the end when fin. */
static void expect_read(stream *s, int64_t after, int fin, const char *want)
{
    int got_fin;
    char *out = read_all(s, after, &got_fin);
    ck_assert_int_eq(got_fin, fin);
    ck_assert_str_eq(out, want);
    free(out);
}

/* The events a fresh native reader after `after` gets; 1 in *fin when they end. */
static int read_events(stream *s, int64_t after, ev *evs, int max, int *fin)
{
    char *out = read_all(s, after, fin);
    int n = parse(out, evs, max);
    free(out);
    return n;
}

/* The whole log from event 1 in one read. */
static void read_whole(stream *s, stream_chunk *ch)
{
    stream_chunk_init(ch, LIM_LOG_TEXT);
    ck_assert_int_eq(stream_read(s, NULL, 1, SIZE_MAX, SIZE_MAX, ch), 0);
}

/* An emit over the log's cap: ended with an error, it takes no more text. */
static void expect_ended_by_cap(emit *e)
{
    ck_assert(emit_decided(e));
    ck_assert(emit_is_error(e));
    ck_assert_int_eq(emit_text(e, EMIT_TEXT, "b", 1), 0);
}

/* The log of a stream ended by the cap: within it, without the text given after, ended
 * with the cap's error. The clusters it holds. */
static size_t expect_capped_log(stream *s)
{
    stream_chunk ch;
    read_whole(s, &ch);
    size_t n = ch.n;
    ck_assert_uint_le(buf_len(&ch.lens), LIM_LOG_TEXT);
    ck_assert_uint_le(buf_len(&ch.text) + buf_len(&ch.lens), 2 * (size_t)LIM_LOG_TEXT);
    ck_assert(memchr(buf_ptr(&ch.text), 'b', buf_len(&ch.text)) == NULL);
    ck_assert(ch.has_term);
    ck_assert_int_eq(ch.term.kind, STREAM_TERM_ERROR);
    ck_assert_str_eq(ch.term.type, "internal_error");
    ck_assert_str_eq(ch.term.msg, "the answer is longer than chatd keeps per stream");
    stream_chunk_free(&ch);
    return n;
}

/* 64 KiB of 'a' (big_fill), to go over the log's cap in a few calls. */
static char big[65536];

static void big_fill(void)
{
    memset(big, 'a', sizeof(big));
}

static const pace_cfg off = {.mode = PACE_OFF};

/* A started stream in the in-process store and its emit. */
static stream *begin(emit *e, const char *id, const char *model, const pace_cfg *pc)
{
    store_shutdown(); /* what a failed test left (unforked, it did not clean up) */
    ck_assert_int_eq(store_use(&store_mem_ops), 0);
    stream *s = stream_create(id, model, 0);
    ck_assert_ptr_nonnull(s);
    stream_start(s);
    emit_init(e, s, pc, 0);
    return s;
}

static void end(emit *e, stream *s)
{
    emit_free(e);
    stream_expire(s);
    stream_unref(s);
    ck_assert_int_eq(store_count(), 0);
    store_shutdown();
}

static void add(emit *e, int kind, const char *t)
{
    ck_assert_int_eq(emit_text(e, kind, t, strlen(t)), 0);
}

/* Adds texts (kinds[i] each; NULL kinds: all answer text), ends and releases it all. */
static void add_done(emit *e, const int *kinds, const char *const *texts, int n)
{
    for (int i = 0; i < n; i++)
        add(e, kinds ? kinds[i] : EMIT_TEXT, texts[i]);
    emit_done(e);
    emit_pump(e, 1);
}

START_TEST(whole_path_split_clusters)
{
    emit e;
    stream *s = begin(&e, "abc", "m", &off);
    /* 👩‍💻 split between tokens, é as e + combining accent split, CJK */
    const char *parts[] = {"H\xf0\x9f\x91\xa9", "\xe2\x80\x8d\xf0\x9f\x92\xbb", "e",
                           "\xcc\x81\xe6\x97\xa5"};
    for (int i = 0; i < 4; i++)
        add(&e, EMIT_TEXT, parts[i]);
    emit_finish_reason(&e, "stop");
    emit_usage(&e, 3, 4);
    emit_done(&e);
    ck_assert(emit_decided(&e));
    ck_assert(!emit_is_error(&e));
    ck_assert_uint_eq(emit_pump(&e, 1), 4);
    ck_assert(!emit_active(&e));
    ck_assert_uint_eq(emit_backlog(&e), 0);
    expect_read(s, -1, 1,
                RETRY "id: 0\nevent: start\ndata: {\"stream_id\":\"abc\",\"model\":\"m\"}\n\n"
                      "id: 1\nevent: delta\ndata: {\"text\":\"H\"}\n\n"
                      "id: 2\nevent: delta\ndata: {\"text\":\"\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb\"}\n\n"
                      "id: 3\nevent: delta\ndata: {\"text\":\"e\xcc\x81\"}\n\n"
                      "id: 4\nevent: delta\ndata: {\"text\":\"\xe6\x97\xa5\"}\n\n"
                      "id: 5\nevent: done\ndata: {\"finish_reason\":\"stop\","
                      "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}\n\n");
    ck_assert_int_eq(stream_last_id(s), 5);
    end(&e, s);
}
END_TEST

/* Before the end, a cluster is released only once the next one begins: the held tail
 * waits for more text (or the end). */
START_TEST(held_tail_waits_for_the_end)
{
    emit e;
    stream *s = begin(&e, "abc", "m", &off);
    add(&e, EMIT_TEXT, "ab");
    ck_assert_uint_eq(emit_pump(&e, 1), 1);
    ck_assert_uint_eq(emit_pump(&e, 2), 0);
    expect_read(s, 0, 0, RETRY "id: 1\nevent: delta\ndata: {\"text\":\"a\"}\n\n");
    ck_assert(!emit_active(&e));
    emit_done(&e);
    ck_assert(emit_active(&e));
    ck_assert_uint_eq(emit_pump(&e, 3), 1);
    ck_assert(!emit_active(&e));
    ck_assert_uint_eq(emit_pump(&e, 4), 0);
    expect_read(s, 1, 1,
                RETRY "id: 2\nevent: delta\ndata: {\"text\":\"b\"}\n\n"
                      "id: 3\nevent: done\ndata: {\"finish_reason\":\"stop\"}\n\n");
    end(&e, s);
}
END_TEST

START_TEST(resume_replays_exactly_after_id)
{
    emit e;
    stream *s = begin(&e, "r", "m", &off);
    add_done(&e, NULL, (const char *[]){"abcdef"}, 1);
    int fin;
    ev a[16];
    int na = read_events(s, -1, a, 16, &fin);
    ck_assert(fin);
    ck_assert_int_eq(na, 8);
    for (int64_t after = -1; after <= 7; after++) {
        ev b[16];
        int nb = read_events(s, after, b, 16, &fin);
        /* after the terminal event (id 7) nothing is left to finish: the router answers
         * that resume with 204 before any reader exists */
        ck_assert_int_eq(fin, after < 7);
        ck_assert_int_eq(nb, na - (int)(after + 1));
        for (int i = 0; i < nb; i++) {
            ck_assert_int_eq(b[i].id, a[i + after + 1].id);
            ck_assert_str_eq(b[i].type, a[i + after + 1].type);
            ck_assert_str_eq(b[i].data, a[i + after + 1].data);
        }
        free_evs(b, nb);
    }
    free_evs(a, na);
    stream_reader r;
    rd_init(&r, s, ENC_NATIVE, 0);
    ck_assert_int_eq(stream_reader_seek(&r, 8), -1); /* past the terminal event */
    ck_assert_int_eq(stream_reader_seek(&r, 100), -1);
    stream_reader_free(&r);
    end(&e, s);
}
END_TEST

/* While running, a resume may name the last released event but nothing later. */
START_TEST(resume_while_running)
{
    emit e;
    stream *s = begin(&e, "r", "m", &off);
    add(&e, EMIT_TEXT, "abcd");
    emit_pump(&e, 1); /* a b c out; d held */
    stream_reader r;
    rd_init(&r, s, ENC_NATIVE, 0);
    ck_assert_int_eq(stream_reader_seek(&r, 3), 0);
    ck_assert_int_eq(stream_reader_seek(&r, 4), -1);
    ck_assert(!rd_pull(&r));
    ck_assert_uint_eq(buf_len(&r.out), RETRY_LEN); /* the retry line alone */
    emit_done(&e);
    emit_pump(&e, 2);
    ck_assert(rd_pull(&r));
    char *t = buf_take(&r.out);
    ck_assert_str_eq(t, RETRY "id: 4\nevent: delta\ndata: {\"text\":\"d\"}\n\n"
                              "id: 5\nevent: done\ndata: {\"finish_reason\":\"stop\"}\n\n");
    free(t);
    stream_reader_free(&r);
    end(&e, s);
}
END_TEST

START_TEST(readers_see_only_released_characters)
{
    pace_cfg fixed = {.mode = PACE_FIXED, .cps = 100};
    emit e;
    stream *s = begin(&e, "id", "m", &fixed);
    add(&e, EMIT_TEXT, "abcdefghijklmnopqrstuvwxyz");
    emit_done(&e);
    ck_assert_uint_eq(emit_backlog(&e), 26); /* 'z' was segmented at the end */
    stream_reader r;
    rd_init(&r, s, ENC_NATIVE, 0);
    ck_assert(!rd_pull(&r));
    ck_assert_uint_eq(r.enc.next_id, 1); /* the start alone: nothing released yet */
    uint64_t released = 0;
    for (uint64_t t = 10; t <= 100; t += 10)
        released += emit_pump(&e, t);
    /* one character of credit at the start, then one per 10 ms at 100/s */
    ck_assert_uint_eq(released, 11);
    ck_assert_uint_eq(emit_backlog(&e), 15);
    ck_assert(emit_active(&e));
    ck_assert_int_eq(stream_last_id(s), -1);
    ck_assert(!rd_pull(&r));
    ck_assert_uint_eq(r.enc.next_id, 12);
    char *sofar = strndup(buf_ptr(&r.out), buf_len(&r.out));
    ev evs[32];
    int n = parse(sofar, evs, 32);
    free(sofar);
    ck_assert_int_eq(n, 12);
    expect_text(&evs[11], "k");
    free_evs(evs, n);
    for (uint64_t t = 110; t <= 1000; t += 10)
        emit_pump(&e, t);
    ck_assert(!emit_active(&e));
    ck_assert(rd_pull(&r));
    ck_assert_uint_eq(r.enc.next_id, 28);
    stream_reader_free(&r);
    end(&e, s);
}
END_TEST

/* Adaptive pacing lets the backlog out at once when the upstream is done. */
START_TEST(adaptive_flushes_when_done)
{
    pace_cfg ad = {.mode = PACE_ADAPTIVE, .base_cps = 10, .max_lag_ms = 100000};
    emit e;
    stream *s = begin(&e, "id", "m", &ad);
    add(&e, EMIT_TEXT, "abcdefghij");
    ck_assert_uint_eq(emit_pump(&e, 100), 2); /* 1 of credit + 1 in 100 ms */
    emit_done(&e);
    ck_assert_uint_eq(emit_pump(&e, 101), 8);
    ck_assert(!emit_active(&e));
    ck_assert_int_eq(stream_last_id(s), 11);
    end(&e, s);
}
END_TEST

START_TEST(error_comes_after_received_characters)
{
    pace_cfg fixed = {.mode = PACE_FIXED, .cps = 1};
    emit e;
    stream *s = begin(&e, "id", "m", &fixed);
    add(&e, EMIT_TEXT, "xyz");
    emit_fail(&e, "upstream_error", "boom", 502);
    emit_done(&e); /* ignored: the first terminal decision wins */
    emit_cancel(&e);
    emit_fail(&e, "upstream_timeout", "late", 504);
    emit_finish_reason(&e, "length");
    ck_assert(emit_is_error(&e));
    ck_assert_int_eq(emit_text(&e, EMIT_TEXT, "more", 4), 0); /* not taken */
    ck_assert_uint_eq(emit_pump(&e, 1), 3);                   /* an error is not paced */
    ck_assert(!emit_active(&e));
    int fin;
    ev evs[8];
    int n = read_events(s, -1, evs, 8, &fin);
    ck_assert(fin);
    ck_assert_int_eq(n, 5);
    expect_text(&evs[3], "z");
    ck_assert_str_eq(evs[4].type, "error");
    ck_assert_int_eq(evs[4].id, 4);
    ck_assert_str_eq(
        evs[4].data,
        "{\"error\":{\"type\":\"upstream_error\",\"message\":\"boom\",\"status\":502}}");
    free_evs(evs, n);
    end(&e, s);
}
END_TEST

START_TEST(cancel_ends_with_cancelled)
{
    pace_cfg fixed = {.mode = PACE_FIXED, .cps = 1};
    emit e;
    stream *s = begin(&e, "id", "m", &fixed);
    add(&e, EMIT_TEXT, "ab");
    emit_finish_reason(&e, "length");
    emit_cancel(&e);
    emit_done(&e); /* the first decision wins */
    ck_assert(!emit_is_error(&e));
    ck_assert_uint_eq(emit_pump(&e, 1), 2); /* a cancel is not paced */
    expect_read(s, -1, 1,
                RETRY "id: 0\nevent: start\ndata: {\"stream_id\":\"id\",\"model\":\"m\"}\n\n"
                      "id: 1\nevent: delta\ndata: {\"text\":\"a\"}\n\n"
                      "id: 2\nevent: delta\ndata: {\"text\":\"b\"}\n\n"
                      "id: 3\nevent: done\ndata: {\"finish_reason\":\"cancelled\"}\n\n");
    end(&e, s);
}
END_TEST

/* The finish reason given before done is the done event's; stop when none was. */
START_TEST(finish_reason_given_or_stop)
{
    emit e;
    stream *s = begin(&e, "id", "m", &off);
    emit_finish_reason(&e, "content_filter");
    emit_done(&e);
    emit_finish_reason(&e, "length"); /* after the end: ignored */
    emit_pump(&e, 1);
    expect_read(s, 0, 1,
                RETRY "id: 1\nevent: done\ndata: {\"finish_reason\":\"content_filter\"}\n\n");
    end(&e, s);
}
END_TEST

START_TEST(reasoning_events_are_separate_and_ordered)
{
    emit e;
    stream *s = begin(&e, "id", "m", &off);
    add_done(&e, (const int[]){EMIT_REASONING, EMIT_TEXT}, (const char *[]){"hm", "ok"}, 2);
    int fin;
    ev evs[8];
    int n = read_events(s, -1, evs, 8, &fin);
    ck_assert_int_eq(n, 6);
    const char *types[] = {"start", "reasoning", "reasoning", "delta", "delta", "done"};
    const char *texts[] = {NULL, "h", "m", "o", "k", NULL};
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(evs[i].id, i);
        ck_assert_str_eq(evs[i].type, types[i]);
        if (texts[i])
            expect_text(&evs[i], texts[i]);
    }
    free_evs(evs, n);
    end(&e, s);
}
END_TEST

/* A cluster never spans thinking and answer: switching kinds completes the open one. */
START_TEST(kind_switch_closes_the_cluster)
{
    emit e;
    stream *s = begin(&e, "id", "m", &off);
    /* a combining accent after the e: as answer text it must not join the reasoning e */
    add_done(&e, (const int[]){EMIT_REASONING, EMIT_TEXT, EMIT_REASONING},
             (const char *[]){"e", "\xcc\x81", "x"}, 3);
    expect_read(s, 0, 1,
                RETRY "id: 1\nevent: reasoning\ndata: {\"text\":\"e\"}\n\n"
                      "id: 2\nevent: delta\ndata: {\"text\":\"\xcc\x81\"}\n\n"
                      "id: 3\nevent: reasoning\ndata: {\"text\":\"x\"}\n\n"
                      "id: 4\nevent: done\ndata: {\"finish_reason\":\"stop\"}\n\n");
    end(&e, s);
}
END_TEST

static const char *jstr(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItem(o, key)->valuestring;
}

START_TEST(openai_chunks_and_whole_object)
{
    emit e;
    stream *s = begin(&e, "x1", "gpt", &off);
    add(&e, EMIT_TEXT, "h\xc3\xa9");
    emit_usage(&e, 2, 5);
    emit_done(&e);
    emit_pump(&e, 1);
    stream_reader r;
    rd_init(&r, s, ENC_OAI_SSE, 1);
    ck_assert(rd_pull(&r));
    char *t = buf_take(&r.out);
    char head[256];
    snprintf(head, sizeof(head),
             "data: {\"id\":\"chatcmpl-x1\",\"object\":\"chat.completion.chunk\",\"created\":%ld,"
             "\"model\":\"gpt\"",
             stream_get_info(s)->created);
    char want[2048];
    snprintf(want, sizeof(want),
             "%s,\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n"
             "%s,\"choices\":[{\"index\":0,\"delta\":{\"content\":\"h\"},\"finish_reason\":null}]}\n\n"
             "%s,\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\xc3\xa9\"},\"finish_reason\":null}]}\n\n"
             "%s,\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
             "%s,\"choices\":[],\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":5,\"total_tokens\":7}}\n\n"
             "data: [DONE]\n\n",
             head, head, head, head, head);
    ck_assert_str_eq(t, want);
    free(t);
    stream_reader_free(&r);

    /* the whole object, from one read of the whole stream */
    stream_chunk ch;
    read_whole(s, &ch);
    ck_assert(ch.has_term);
    buf out;
    buf_init(&out, 1 << 20);
    ck_assert_int_eq(enc_whole(stream_get_info(s), &ch, &out), 0);
    t = buf_take(&out);
    cJSON *j = cJSON_Parse(t);
    ck_assert_ptr_nonnull(j);
    cJSON *c0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
    cJSON *msg = cJSON_GetObjectItem(c0, "message");
    ck_assert_str_eq(jstr(msg, "content"), "h\xc3\xa9");
    ck_assert_ptr_null(cJSON_GetObjectItem(msg, "reasoning_content"));
    ck_assert_str_eq(jstr(c0, "finish_reason"), "stop");
    ck_assert_str_eq(jstr(j, "object"), "chat.completion");
    ck_assert_str_eq(jstr(j, "id"), "chatcmpl-x1");
    ck_assert_str_eq(jstr(j, "model"), "gpt");
    ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "usage"), "total_tokens")->valueint,
                     7);
    cJSON_Delete(j);
    free(t);
    stream_chunk_free(&ch);
    end(&e, s);
}
END_TEST

/* A stream reader reads as reader.c does — at most 4096 bytes of text and
 * LIM_READER_CHUNK / enc_per_event clusters a read, each read encoded into an out buffer
 * capped at LIM_READER_OUT and emptied before the next — and must never hit that cap: a
 * cap error ends the client's response. Every OpenAI chunk repeats the head with the
 * model name, which a request may give as 256 bytes that each need escaping (quotes and
 * backslashes are allowed); control characters in the text are escaped six-fold. */
START_TEST(reads_fit_the_reader_buffer)
{
    char model[257];
    memset(model, '"', 256);
    model[256] = '\0';
    emit e;
    stream *s = begin(&e, "0123456789abcdef01234567", model, &off);
    static char text[1000];
    memset(text, 'a', sizeof(text));
    ck_assert_int_eq(emit_text(&e, EMIT_TEXT, text, sizeof(text)), 0);
    memset(text, '\x01', sizeof(text));
    ck_assert_int_eq(emit_text(&e, EMIT_REASONING, text, sizeof(text)), 0);
    emit_done(&e);
    emit_pump(&e, 1);
    for (int f = 0; f < 2; f++) {
        stream_reader r;
        ck_assert_int_eq(stream_reader_init(&r, s, f ? ENC_OAI_SSE : ENC_NATIVE, 1,
                                            LIM_READER_OUT, no_notify),
                         0);
        size_t clusters = LIM_READER_CHUNK / enc_per_event(&r.enc);
        int rc = 0, reads = 0;
        while (rc == 0) {
            stream_chunk_reset(&r.ch);
            buf_reset(&r.out);
            ck_assert_int_eq(
                stream_read(s, NULL, r.enc.next_id, clusters ? clusters : 1, 4096, &r.ch), 0);
            rc = enc_chunk(&r.enc, stream_get_info(s), &r.ch, &r.out);
            ck_assert_msg(rc >= 0,
                          "format %d, read %d from event %llu (%zu clusters): over the "
                          "reader's cap",
                          f, reads, (unsigned long long)r.ch.first_id, r.ch.n);
            ck_assert_msg(r.ch.n > 0 || rc == 1, "a read made no progress");
            reads++;
        }
        ck_assert_uint_eq(r.enc.next_id, 2002);
        stream_reader_free(&r);
    }
    end(&e, s);
}
END_TEST

/* Over the log's cap in the emit's queue: emit_text fails, the answer ends with an error
 * after what was queued, and nothing more is taken. */
START_TEST(log_cap_ends_with_error)
{
    emit e;
    stream *s = begin(&e, "id", "m", &off);
    big_fill();
    int rc = 0, i;
    for (i = 0; i < 200 && rc == 0; i++)
        rc = emit_text(&e, EMIT_TEXT, big, sizeof(big));
    ck_assert_int_eq(rc, -1);
    ck_assert_int_lt(i, 200);
    expect_ended_by_cap(&e);
    uint64_t queued = emit_backlog(&e);
    ck_assert_uint_gt(queued, 0);
    ck_assert_uint_le(queued * sizeof(uint16_t), LIM_LOG_TEXT);
    ck_assert_uint_eq(emit_pump(&e, 1), queued);
    ck_assert(!emit_active(&e));
    ck_assert_uint_eq(expect_capped_log(s), queued);
    end(&e, s);
}
END_TEST

/* Over the log's cap in the store (released as it came, the queue stays short): the
 * append fails, the stream ends with the error, and the emit knows it ended. */
START_TEST(log_cap_in_the_store_ends_with_error)
{
    emit e;
    stream *s = begin(&e, "id", "m", &off);
    big_fill();
    int i;
    for (i = 0; i < 200 && !emit_decided(&e); i++) {
        ck_assert_int_eq(emit_text(&e, EMIT_TEXT, big, sizeof(big)), 0);
        emit_pump(&e, (uint64_t)i + 1);
    }
    ck_assert_int_lt(i, 200);
    expect_ended_by_cap(&e);
    ck_assert(!emit_active(&e));
    ck_assert_uint_eq(emit_pump(&e, 1000), 0);
    ck_assert_int_gt(stream_last_id(s), 0);
    ck_assert_uint_gt(expect_capped_log(s), 0);
    end(&e, s);
}
END_TEST

int main(void)
{
    return check_tests("emit", whole_path_split_clusters, held_tail_waits_for_the_end,
                       resume_replays_exactly_after_id, resume_while_running,
                       readers_see_only_released_characters, adaptive_flushes_when_done,
                       error_comes_after_received_characters, cancel_ends_with_cancelled,
                       finish_reason_given_or_stop, reasoning_events_are_separate_and_ordered,
                       kind_switch_closes_the_cluster, openai_chunks_and_whole_object,
                       reads_fit_the_reader_buffer, log_cap_ends_with_error,
                       log_cap_in_the_store_ends_with_error);
}
