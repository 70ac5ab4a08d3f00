/* Unit tests: the stream store's interface on the in-process implementation (store_mem):
 * the table (create, find, expire, count, references), the phases, appends and reads at
 * every event id (across the byte-offset checkpoints, within read limits, past the end),
 * who is woken when, the readers' lag, cancel requests and the log's cap. */
#include <check.h>

#include "check_main.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lim.h"
#include "store.h"

#define R STREAM_REASONING_BIT

/* A follower that counts its wake-ups. */
typedef struct counter {
    stream_sub sub;
    int n;
} counter;

static void count_notify(stream_sub *sub)
{
    ((counter *)(void *)sub)->n++;
}

static void counter_init(counter *c)
{
    memset(c, 0, sizeof(*c));
    c->sub.notify = count_notify;
}

static void want_init(void);

static void use_mem(void)
{
    want_init();
    store_shutdown(); /* what a failed test left (unforked, it did not clean up) */
    ck_assert_int_eq(store_use(&store_mem_ops), 0);
    ck_assert_int_eq(store_count(), 0);
}

static stream *started(const char *id)
{
    stream *s = stream_create(id, "m", 0);
    ck_assert_ptr_nonnull(s);
    stream_start(s);
    return s;
}

/* Appends n clusters; cluster k's text is text_of(k). */
static size_t cluster_text(uint64_t k, char *out)
{
    /* 1 to 4 bytes, so offsets never follow from the index alone */
    size_t len = 1 + (size_t)(k * 7 % 4);
    for (size_t i = 0; i < len; i++)
        out[i] = (char)('a' + (k + i) % 26);
    return len;
}

static uint16_t cluster_len(uint64_t k)
{
    char tmp[8];
    return (uint16_t)(cluster_text(k, tmp) | (k % 5 == 3 ? R : 0));
}

static int append_range(stream *s, uint64_t from, size_t n, const stream_term *term)
{
    char *text = malloc(4 * n + 1);
    uint16_t *lens = malloc(sizeof(*lens) * (n + 1));
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        off += cluster_text(from + i, text + off);
        lens[i] = cluster_len(from + i);
    }
    stream_batch b = {text, lens, n, term};
    int rc = stream_append(s, &b);
    free(text);
    free(lens);
    return rc;
}

static stream_term done_term(const char *finish)
{
    stream_term t;
    memset(&t, 0, sizeof(t));
    t.kind = STREAM_TERM_DONE;
    snprintf(t.finish_reason, sizeof(t.finish_reason), "%s", finish);
    t.prompt_tokens = t.completion_tokens = -1;
    return t;
}

/* The log every test appends from: cluster k's bytes at want_text + want_off[k]. */
#define WANT_MAX 1024
static char want_text[4 * WANT_MAX];
static size_t want_off[WANT_MAX + 1];
static uint16_t want_lens[WANT_MAX];

static void want_init(void)
{
    want_off[0] = 0;
    for (uint64_t k = 0; k < WANT_MAX; k++) {
        want_off[k + 1] = want_off[k] + cluster_text(k, want_text + want_off[k]);
        want_lens[k] = cluster_len(k);
    }
}

/* The chunk holds clusters first..first+n-1 (0-based cluster numbers) exactly. */
static void assert_clusters(const stream_chunk *ch, uint64_t first, size_t n)
{
    ck_assert_uint_le(first + n, WANT_MAX);
    ck_assert_uint_eq(ch->n, n);
    ck_assert_uint_eq(buf_len(&ch->lens), n * sizeof(uint16_t));
    ck_assert(n == 0 || !memcmp(buf_ptr(&ch->lens), want_lens + first, n * sizeof(uint16_t)));
    size_t bytes = want_off[first + n] - want_off[first];
    ck_assert_uint_eq(buf_len(&ch->text), bytes);
    ck_assert(bytes == 0 || !memcmp(buf_ptr(&ch->text), want_text + want_off[first], bytes));
}

/* A read from next_id fails (past the log's end); then s and the store go. */
static void expect_no_read_then_end(stream *s, stream_chunk *ch, uint64_t next_id)
{
    stream_chunk_reset(ch);
    ck_assert_int_eq(stream_read(s, NULL, next_id, SIZE_MAX, SIZE_MAX, ch), -1);
    stream_chunk_free(ch);
    stream_unref(s);
    store_shutdown();
}

START_TEST(create_find_expire_count)
{
    use_mem();
    stream *a = stream_create("a", "model-a", 3);
    stream *b = stream_create("b", "model-b", 1);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(store_count(), 2);
    const stream_info *in = stream_get_info(a);
    ck_assert_str_eq(in->id, "a");
    ck_assert_str_eq(in->model, "model-a");
    ck_assert_int_eq(in->owner, 3);
    ck_assert_int_gt(in->created, 1600000000);
    stream *f = stream_find("a");
    ck_assert_ptr_eq(f, a);
    stream_unref(f);
    ck_assert_ptr_null(stream_find("c"));
    ck_assert_ptr_null(stream_find(""));
    stream_expire(a);
    ck_assert_int_eq(store_count(), 1);
    ck_assert_ptr_null(stream_find("a"));
    /* the caller's reference outlives the table's */
    ck_assert_str_eq(stream_get_info(a)->model, "model-a");
    stream_start(a);
    ck_assert_int_eq(append_range(a, 0, 3, NULL), 0);
    stream_expire(a); /* twice: nothing more happens */
    ck_assert_int_eq(store_count(), 1);
    ck_assert_ptr_eq(stream_find("b"), b);
    stream_unref(b); /* the find's */
    stream_unref(a);
    stream_unref(NULL);
    stream_expire(b);
    ck_assert_int_eq(store_count(), 0);
    stream_unref(b);
    store_shutdown();
}
END_TEST

/* Ids and models too long are cut, a model between UTF-8 sequences, never inside one. */
START_TEST(long_id_and_model_are_cut)
{
    use_mem();
    char model[600] = "";
    for (int i = 0; i < 200; i++)
        strcat(model, "\xc3\xa9"); /* 400 bytes */
    stream *s = stream_create("0123456789abcdef0123456789", model, 0);
    ck_assert_ptr_nonnull(s);
    const stream_info *in = stream_get_info(s);
    ck_assert_str_eq(in->id, "0123456789abcdef01234567");
    ck_assert_uint_eq(strlen(in->model), 256);
    ck_assert(!strncmp(in->model, model, 256));
    stream *f = stream_find("0123456789abcdef01234567");
    ck_assert_ptr_eq(f, s);
    stream_unref(f);
    stream_unref(s);
    store_shutdown();
}
END_TEST

/* Many streams: the table grows and finds every one; shutdown drops what is kept while
 * references held elsewhere stay valid. */
START_TEST(many_streams_and_shutdown)
{
    use_mem();
    enum { N = 3000 };
    static stream *s[N];
    char id[32];
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof(id), "s%d", i);
        s[i] = stream_create(id, "m", i % 4);
        ck_assert_ptr_nonnull(s[i]);
    }
    ck_assert_int_eq(store_count(), N);
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof(id), "s%d", i);
        stream *f = stream_find(id);
        ck_assert_ptr_eq(f, s[i]);
        stream_unref(f);
    }
    for (int i = 0; i < N; i += 2)
        stream_expire(s[i]);
    ck_assert_int_eq(store_count(), N / 2);
    ck_assert_ptr_null(stream_find("s0"));
    stream *keep = stream_find("s1");
    ck_assert_ptr_eq(keep, s[1]);
    store_shutdown();
    ck_assert_int_eq(store_count(), 0);
    ck_assert_ptr_null(stream_find("s1"));
    ck_assert_str_eq(stream_get_info(keep)->id, "s1");
    stream_unref(keep);
    for (int i = 0; i < N; i++)
        stream_unref(s[i]);
    /* the store works again after a new store_use */
    use_mem();
    stream *again = stream_create("s1", "m", 0);
    ck_assert_int_eq(store_count(), 1);
    stream_unref(again);
    store_shutdown();
}
END_TEST

START_TEST(phases_start_and_fail_early)
{
    use_mem();
    stream *s = stream_create("w", "m", 0);
    stream_chunk ch;
    stream_chunk_init(&ch, 1 << 16);
    ck_assert_int_eq(stream_read(s, NULL, 0, SIZE_MAX, SIZE_MAX, &ch), 0);
    ck_assert_int_eq(ch.phase, STREAM_WAITING);
    ck_assert_uint_eq(ch.n, 0);
    ck_assert(!ch.has_term);
    /* nothing is appended before the start */
    stream_term t = done_term("stop");
    ck_assert_int_eq(append_range(s, 0, 2, &t), 0);
    stream_chunk_reset(&ch);
    stream_read(s, NULL, 1, SIZE_MAX, SIZE_MAX, &ch);
    ck_assert_uint_eq(ch.n, 0);
    ck_assert(!ch.has_term);
    ck_assert_int_eq(stream_last_id(s), -1);
    stream_start(s);
    stream_term why = {.kind = STREAM_TERM_ERROR, .status = 502};
    snprintf(why.type, sizeof(why.type), "upstream_error");
    stream_fail_early(s, &why); /* too late: it started */
    stream_chunk_reset(&ch);
    stream_read(s, NULL, 0, SIZE_MAX, SIZE_MAX, &ch);
    ck_assert_int_eq(ch.phase, STREAM_STARTED);
    stream_unref(s);

    stream *e = stream_create("e", "m", 0);
    snprintf(why.msg, sizeof(why.msg), "bad gateway");
    stream_fail_early(e, &why);
    stream_start(e); /* too late: it failed */
    ck_assert_int_eq(append_range(e, 0, 2, &t), 0);
    stream_chunk_reset(&ch);
    ck_assert_int_eq(stream_read(e, NULL, 0, SIZE_MAX, SIZE_MAX, &ch), 0);
    ck_assert_int_eq(ch.phase, STREAM_FAILED_EARLY);
    ck_assert_int_eq(ch.early.kind, STREAM_TERM_ERROR);
    ck_assert_int_eq(ch.early.status, 502);
    ck_assert_str_eq(ch.early.type, "upstream_error");
    ck_assert_str_eq(ch.early.msg, "bad gateway");
    ck_assert_uint_eq(ch.n, 0);
    ck_assert(!ch.has_term);
    ck_assert_int_eq(stream_last_id(e), -1);
    /* no event after the start exists */
    stream_chunk_reset(&ch);
    ck_assert_int_eq(stream_read(e, NULL, 1, SIZE_MAX, SIZE_MAX, &ch), 0);
    stream_chunk_reset(&ch);
    ck_assert_int_eq(stream_read(e, NULL, 2, SIZE_MAX, SIZE_MAX, &ch), -1);
    stream_unref(e);
    stream_chunk_free(&ch);
    store_shutdown();
}
END_TEST

/* 200 clusters in batches of awkward sizes (across the checkpoints at every 64th), then
 * done: a read from every id gets exactly the clusters from there and the end. */
START_TEST(append_and_read_at_every_id)
{
    use_mem();
    stream *s = started("r");
    static const size_t sizes[] = {1, 62, 1, 1, 63, 64, 8};
    uint64_t total = 0;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        ck_assert_int_eq(append_range(s, total, sizes[i], NULL), 0);
        total += sizes[i];
    }
    ck_assert_uint_eq(total, 200);
    ck_assert_int_eq(stream_last_id(s), -1);
    stream_term t = done_term("length");
    t.prompt_tokens = 7;
    t.completion_tokens = 200;
    ck_assert_int_eq(append_range(s, total, 0, &t), 0); /* the end alone */
    ck_assert_int_eq(stream_last_id(s), 201);
    stream_chunk ch;
    stream_chunk_init(&ch, 1 << 16);
    for (uint64_t id = 0; id <= total + 2; id++) {
        stream_chunk_reset(&ch);
        ck_assert_int_eq(stream_read(s, NULL, id, SIZE_MAX, SIZE_MAX, &ch), 0);
        uint64_t first = id ? id : 1;
        ck_assert_uint_eq(ch.first_id, first);
        ck_assert_int_eq(ch.phase, STREAM_STARTED);
        if (id <= total + 1) {
            assert_clusters(&ch, first - 1, (size_t)(total - (first - 1)));
            ck_assert(ch.has_term);
            ck_assert_int_eq(ch.term.kind, STREAM_TERM_DONE);
            ck_assert_str_eq(ch.term.finish_reason, "length");
            ck_assert_int_eq(ch.term.prompt_tokens, 7);
            ck_assert_int_eq(ch.term.completion_tokens, 200);
        } else { /* after the terminal event: nothing more */
            ck_assert_uint_eq(ch.n, 0);
            ck_assert(!ch.has_term);
        }
    }
    expect_no_read_then_end(s, &ch, total + 3);
}
END_TEST

/* Reads of at most k clusters from every id (k around the checkpoint spacing), chained as
 * a reader does, join to the whole log. */
START_TEST(reads_limited_by_clusters_across_checkpoints)
{
    use_mem();
    stream *s = started("r");
    ck_assert_int_eq(append_range(s, 0, 300, NULL), 0);
    stream_chunk ch;
    stream_chunk_init(&ch, 1 << 16);
    static const size_t ks[] = {1, 2, 63, 64, 65, 127, 128, 129};
    for (size_t ki = 0; ki < sizeof(ks) / sizeof(ks[0]); ki++) {
        size_t k = ks[ki];
        for (uint64_t id = 1; id <= 301; id++) {
            stream_chunk_reset(&ch);
            ck_assert_int_eq(stream_read(s, NULL, id, k, SIZE_MAX, &ch), 0);
            size_t want = 300 - (id - 1) < k ? (size_t)(300 - (id - 1)) : k;
            assert_clusters(&ch, id - 1, want);
            ck_assert(!ch.has_term);
        }
        uint64_t next = 1, got = 0;
        for (;;) {
            stream_chunk_reset(&ch);
            ck_assert_int_eq(stream_read(s, NULL, next, k, SIZE_MAX, &ch), 0);
            if (!ch.n)
                break;
            assert_clusters(&ch, next - 1, ch.n);
            next += ch.n;
            got += ch.n;
        }
        ck_assert_uint_eq(got, 300);
    }
    /* 0 clusters: nothing, but the phase */
    stream_chunk_reset(&ch);
    ck_assert_int_eq(stream_read(s, NULL, 5, 0, 0, &ch), 0);
    ck_assert_uint_eq(ch.n, 0);
    ck_assert_uint_eq(buf_len(&ch.text), 0);
    stream_chunk_free(&ch);
    stream_unref(s);
    store_shutdown();
}
END_TEST

START_TEST(reads_limited_by_bytes)
{
    use_mem();
    stream *s = started("r");
    /* clusters of 1, 4, 3, 2, 1, ... bytes (see cluster_text) */
    ck_assert_int_eq(append_range(s, 0, 130, NULL), 0);
    stream_term t = done_term("stop");
    ck_assert_int_eq(append_range(s, 130, 0, &t), 0);
    stream_chunk ch;
    stream_chunk_init(&ch, 1 << 16);
    for (uint64_t id = 1; id <= 131; id++) {
        for (size_t max = 1; max <= 12; max++) {
            stream_chunk_reset(&ch);
            ck_assert_int_eq(stream_read(s, NULL, id, SIZE_MAX, max, &ch), 0);
            /* as many whole clusters as fit, and always one when there is one */
            size_t want = 0, bytes = 0;
            for (uint64_t k = id - 1; k < 130; k++) {
                size_t len = cluster_len(k) & ~R;
                if (want && bytes + len > max)
                    break;
                bytes += len;
                want++;
            }
            assert_clusters(&ch, id - 1, want);
            ck_assert_uint_eq(buf_len(&ch.text), bytes);
            ck_assert_int_eq(ch.has_term, id - 1 + want == 130);
        }
    }
    /* both limits: the tighter one wins */
    stream_chunk_reset(&ch);
    stream_read(s, NULL, 1, 2, 1000, &ch);
    ck_assert_uint_eq(ch.n, 2);
    stream_chunk_reset(&ch);
    stream_read(s, NULL, 1, 1000, 5, &ch);
    assert_clusters(&ch, 0, 2); /* 1 + 4 bytes; the third (3 bytes) would make 8 */
    stream_chunk_free(&ch);
    stream_unref(s);
    store_shutdown();
}
END_TEST

/* Reading past the end fails exactly where a seek after event (next_id - 1) would name an
 * event that does not exist: after the last cluster while running, after the terminal
 * event once ended. */
START_TEST(read_past_the_end)
{
    use_mem();
    stream *s = started("r");
    stream_chunk ch;
    stream_chunk_init(&ch, 1 << 16);
    struct {
        uint64_t clusters;
        int ended;
    } cases[] = {{0, 0}, {0, 1}, {1, 0}, {5, 0}, {5, 1}, {64, 0}, {64, 1}, {65, 1}};
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        stream *x = started("x");
        ck_assert_int_eq(append_range(x, 0, cases[c].clusters, NULL), 0);
        stream_term t = done_term("stop");
        if (cases[c].ended)
            ck_assert_int_eq(append_range(x, cases[c].clusters, 0, &t), 0);
        /* events that exist: 0 .. clusters (+1 with the end); next_id may be one past */
        uint64_t last = cases[c].clusters + (uint64_t)cases[c].ended;
        for (uint64_t id = 0; id <= last + 1; id++) {
            stream_chunk_reset(&ch);
            ck_assert_msg(stream_read(x, NULL, id, SIZE_MAX, SIZE_MAX, &ch) == 0,
                          "case %zu: read from %llu", c, (unsigned long long)id);
        }
        for (uint64_t id = last + 2; id <= last + 4; id++) {
            stream_chunk_reset(&ch);
            ck_assert_msg(stream_read(x, NULL, id, SIZE_MAX, SIZE_MAX, &ch) == -1,
                          "case %zu: read from %llu", c, (unsigned long long)id);
        }
        ck_assert_int_eq(stream_last_id(x), cases[c].ended ? (int64_t)last : -1);
        stream_expire(x);
        stream_unref(x);
    }
    expect_no_read_then_end(s, &ch, UINT64_MAX);
}
END_TEST

/* A chunk whose buffers are too small: -1, and no clusters claimed. */
START_TEST(read_into_a_full_chunk)
{
    use_mem();
    stream *s = started("r");
    ck_assert_int_eq(append_range(s, 0, 100, NULL), 0);
    stream_chunk ch;
    stream_chunk_init(&ch, 16);
    ck_assert_int_eq(stream_read(s, NULL, 1, SIZE_MAX, SIZE_MAX, &ch), -1);
    ck_assert_uint_eq(ch.n, 0);
    stream_chunk_reset(&ch);
    ck_assert_int_eq(stream_read(s, NULL, 1, 4, SIZE_MAX, &ch), 0);
    assert_clusters(&ch, 0, 4);
    stream_chunk_free(&ch);
    stream_unref(s);
    store_shutdown();
}
END_TEST

START_TEST(append_after_the_end_is_ignored)
{
    use_mem();
    stream *s = started("r");
    counter rd;
    counter_init(&rd);
    stream_follow(s, &rd.sub);
    stream_term t = done_term("stop");
    ck_assert_int_eq(append_range(s, 0, 3, &t), 0);
    ck_assert_int_eq(rd.n, 1);
    stream_term other = done_term("length");
    ck_assert_int_eq(append_range(s, 3, 2, &other), 0);
    ck_assert_int_eq(append_range(s, 3, 2, NULL), 0);
    ck_assert_int_eq(rd.n, 1); /* nothing new: nobody woken */
    stream_chunk ch;
    stream_chunk_init(&ch, 1 << 16);
    stream_read(s, NULL, 1, SIZE_MAX, SIZE_MAX, &ch);
    assert_clusters(&ch, 0, 3);
    ck_assert(ch.has_term);
    ck_assert_str_eq(ch.term.finish_reason, "stop");
    ck_assert_int_eq(stream_last_id(s), 4);
    stream_chunk_free(&ch);
    stream_unfollow(s, &rd.sub);
    stream_unref(s);
    store_shutdown();
}
END_TEST

/* Who is woken: readers on start, fail_early and appends with news; the owner on a cancel
 * request and when the last reader leaves a stream still running. */
START_TEST(follow_and_notify)
{
    use_mem();
    stream *s = stream_create("n", "m", 0);
    counter r1, r2, own;
    counter_init(&r1);
    counter_init(&r2);
    counter_init(&own);
    stream_own(s, &own.sub);
    stream_follow(s, &r1.sub);
    stream_follow(s, &r2.sub);
    ck_assert_int_eq(stream_readers(s, NULL), 2);
    stream_start(s);
    ck_assert_int_eq(r1.n, 1);
    ck_assert_int_eq(r2.n, 1);
    stream_start(s); /* no change, no news */
    ck_assert_int_eq(r1.n, 1);
    ck_assert_int_eq(append_range(s, 0, 2, NULL), 0);
    ck_assert_int_eq(r1.n, 2);
    ck_assert_int_eq(r2.n, 2);
    ck_assert_int_eq(append_range(s, 2, 0, NULL), 0); /* an empty batch is no news */
    ck_assert_int_eq(r1.n, 2);
    ck_assert_int_eq(own.n, 0);
    ck_assert(!stream_cancel_requested(s));
    stream_cancel(s);
    ck_assert(stream_cancel_requested(s));
    ck_assert_int_eq(own.n, 1);
    ck_assert_int_eq(r1.n, 2); /* a cancel is the owner's business */
    /* one reader leaves: the owner is not woken; the last one: it is */
    stream_unfollow(s, &r1.sub);
    ck_assert_int_eq(own.n, 1);
    ck_assert_int_eq(stream_readers(s, NULL), 1);
    ck_assert_int_eq(append_range(s, 2, 1, NULL), 0);
    ck_assert_int_eq(r1.n, 2); /* gone: never woken again */
    ck_assert_int_eq(r2.n, 3);
    uint64_t alone = 0;
    stream_unfollow(s, &r2.sub);
    ck_assert_int_eq(own.n, 2);
    ck_assert_int_eq(stream_readers(s, &alone), 0);
    ck_assert_uint_gt(alone, 0);
    /* a reader that comes back and leaves again wakes the owner again */
    stream_follow(s, &r1.sub);
    ck_assert_int_eq(stream_readers(s, NULL), 1);
    stream_unfollow(s, &r1.sub);
    ck_assert_int_eq(own.n, 3);
    /* disowned: nobody to wake */
    stream_disown(s);
    stream_cancel(s);
    ck_assert_int_eq(own.n, 3);
    stream_unref(s);
    store_shutdown();
}
END_TEST

/* The last reader leaving a finished stream, or one that failed early, wakes nobody. */
START_TEST(last_reader_leaving_a_finished_stream)
{
    use_mem();
    stream *s = started("f");
    counter rd, own;
    counter_init(&rd);
    counter_init(&own);
    stream_own(s, &own.sub);
    stream_follow(s, &rd.sub);
    stream_term t = done_term("stop");
    ck_assert_int_eq(append_range(s, 0, 1, &t), 0);
    ck_assert_int_eq(rd.n, 1);
    stream_unfollow(s, &rd.sub);
    ck_assert_int_eq(own.n, 0);
    stream_unref(s);

    stream *e = stream_create("e", "m", 0);
    counter_init(&rd);
    counter_init(&own);
    stream_own(e, &own.sub);
    stream_follow(e, &rd.sub);
    stream_term why = {.kind = STREAM_TERM_ERROR, .status = 504};
    snprintf(why.type, sizeof(why.type), "upstream_timeout");
    stream_fail_early(e, &why);
    ck_assert_int_eq(rd.n, 1);
    stream_fail_early(e, &why); /* once only */
    ck_assert_int_eq(rd.n, 1);
    stream_unfollow(e, &rd.sub);
    ck_assert_int_eq(own.n, 0);
    stream_unref(e);

    /* still waiting for the upstream: the owner must look */
    stream *w = stream_create("w", "m", 0);
    counter_init(&rd);
    counter_init(&own);
    stream_own(w, &own.sub);
    stream_follow(w, &rd.sub);
    stream_unfollow(w, &rd.sub);
    ck_assert_int_eq(own.n, 1);
    stream_unref(w);
    store_shutdown();
}
END_TEST

/* The lag: clusters in the store the slowest live reader has not read; readers not live
 * (not yet streaming, or gone) do not hold the owner back. */
START_TEST(lag_over_live_readers)
{
    use_mem();
    stream *s = started("l");
    counter a, b, c;
    counter_init(&a);
    counter_init(&b);
    counter_init(&c);
    stream_follow(s, &a.sub);
    stream_follow(s, &b.sub);
    stream_follow(s, &c.sub);
    uint64_t worst = 99;
    ck_assert_int_eq(stream_lag(s, &worst), 0);
    ck_assert_uint_eq(worst, 0);
    ck_assert_int_eq(append_range(s, 0, 100, NULL), 0);
    ck_assert_int_eq(stream_lag(s, &worst), 0); /* none live yet */
    ck_assert_uint_eq(worst, 0);
    stream_set_live(s, &a.sub, 1);
    stream_set_live(s, &b.sub, 1);
    ck_assert_int_eq(stream_lag(s, &worst), 2);
    ck_assert_uint_eq(worst, 100);
    stream_chunk ch;
    stream_chunk_init(&ch, 1 << 16);
    /* a reads 30, b reads 70 (in two reads); c (not live) reads nothing */
    ck_assert_int_eq(stream_read(s, &a.sub, 1, 30, SIZE_MAX, &ch), 0);
    stream_chunk_reset(&ch);
    ck_assert_int_eq(stream_read(s, &b.sub, 1, 50, SIZE_MAX, &ch), 0);
    stream_chunk_reset(&ch);
    ck_assert_int_eq(stream_read(s, &b.sub, 51, 20, SIZE_MAX, &ch), 0);
    ck_assert_uint_eq(a.sub.taken, 30);
    ck_assert_uint_eq(b.sub.taken, 70);
    ck_assert_int_eq(stream_lag(s, &worst), 2);
    ck_assert_uint_eq(worst, 70);
    /* a read from further back (a resume) does not move a reader back */
    stream_chunk_reset(&ch);
    ck_assert_int_eq(stream_read(s, &b.sub, 1, 5, SIZE_MAX, &ch), 0);
    ck_assert_uint_eq(b.sub.taken, 70);
    /* the slow one goes: the other is the slowest */
    stream_set_live(s, &a.sub, 0);
    ck_assert_int_eq(stream_lag(s, &worst), 1);
    ck_assert_uint_eq(worst, 30);
    stream_set_live(s, &c.sub, 1);
    ck_assert_int_eq(stream_lag(s, &worst), 2);
    ck_assert_uint_eq(worst, 100);
    /* unfollowing makes a reader not live */
    stream_unfollow(s, &c.sub);
    ck_assert_int_eq(c.sub.live, 0);
    ck_assert_int_eq(stream_lag(s, &worst), 1);
    ck_assert_uint_eq(worst, 30);
    stream_chunk_reset(&ch);
    ck_assert_int_eq(stream_read(s, &b.sub, 71, SIZE_MAX, SIZE_MAX, &ch), 0);
    ck_assert_int_eq(stream_lag(s, &worst), 1);
    ck_assert_uint_eq(worst, 0);
    stream_unfollow(s, &a.sub);
    stream_unfollow(s, &b.sub);
    stream_chunk_free(&ch);
    stream_unref(s);
    store_shutdown();
}
END_TEST

static stream_term read_term(stream *s, uint64_t *clusters)
{
    stream_chunk ch;
    stream_chunk_init(&ch, LIM_LOG_TEXT);
    ck_assert_int_eq(stream_read(s, NULL, 1, SIZE_MAX, SIZE_MAX, &ch), 0);
    ck_assert(ch.has_term);
    *clusters = ch.n;
    stream_term t = ch.term;
    stream_chunk_free(&ch);
    return t;
}

/* Over the log's cap, of text or of lengths: the stream ends with internal_error after
 * what it held (the batch that did not fit is not in it), and takes nothing more. */
START_TEST(over_the_cap_ends_with_internal_error)
{
    use_mem();
    /* text: clusters of 1024 bytes; the cap holds exactly LIM_LOG_TEXT / 1024 of them */
    size_t per = 1024, fit = LIM_LOG_TEXT / per;
    char *text = malloc(per * 64);
    memset(text, 'x', per * 64);
    uint16_t lens[64];
    for (int i = 0; i < 64; i++)
        lens[i] = (uint16_t)per;
    stream *s = started("cap");
    counter rd;
    counter_init(&rd);
    stream_follow(s, &rd.sub);
    stream_batch b = {text, lens, 64, NULL};
    for (size_t k = 0; k < fit / 64; k++)
        ck_assert_int_eq(stream_append(s, &b), 0);
    ck_assert_int_eq(stream_last_id(s), -1);
    int woken = rd.n;
    stream_batch one = {text, lens, 1, NULL};
    ck_assert_int_eq(stream_append(s, &one), -1);
    ck_assert_int_eq(rd.n, woken + 1); /* the end is news */
    ck_assert_int_eq(stream_last_id(s), (int64_t)fit + 1);
    uint64_t n;
    stream_term t = read_term(s, &n);
    ck_assert_uint_eq(n, fit);
    ck_assert_int_eq(t.kind, STREAM_TERM_ERROR);
    ck_assert_str_eq(t.type, "internal_error");
    ck_assert_str_eq(t.msg, "the answer is longer than chatd keeps per stream");
    ck_assert_int_eq(stream_append(s, &one), 0); /* ended: ignored */
    ck_assert_int_eq(stream_last_id(s), (int64_t)fit + 1);
    stream_unfollow(s, &rd.sub);
    stream_unref(s);
    free(text);

    /* lengths: two bytes a cluster, so one-byte clusters reach it first */
    size_t nl = LIM_LOG_TEXT / sizeof(uint16_t);
    uint16_t *l1 = malloc(nl * sizeof(*l1));
    char *t1 = malloc(nl);
    memset(t1, 'y', nl);
    for (size_t i = 0; i < nl; i++)
        l1[i] = 1;
    stream *x = started("lens");
    stream_batch all = {t1, l1, nl, NULL};
    ck_assert_int_eq(stream_append(x, &all), 0);
    ck_assert_int_eq(stream_last_id(x), -1);
    stream_term done = done_term("stop");
    stream_batch more = {t1, l1, 1, &done};
    ck_assert_int_eq(stream_append(x, &more), -1);
    t = read_term(x, &n);
    ck_assert_uint_eq(n, nl);
    ck_assert_int_eq(t.kind, STREAM_TERM_ERROR);
    ck_assert_str_eq(t.type, "internal_error");
    stream_unref(x);
    free(t1);
    free(l1);
    store_shutdown();
}
END_TEST

int main(void)
{
    return check_tests("store", create_find_expire_count, long_id_and_model_are_cut,
                       many_streams_and_shutdown, phases_start_and_fail_early,
                       append_and_read_at_every_id, reads_limited_by_clusters_across_checkpoints,
                       reads_limited_by_bytes, read_past_the_end, read_into_a_full_chunk,
                       append_after_the_end_is_ignored, follow_and_notify,
                       last_reader_leaving_a_finished_stream, lag_over_live_readers,
                       over_the_cap_ends_with_internal_error);
}
