/* Fuzz target: one answer through the whole path — emit (segmentation, pacing) -> the
 * in-process store -> readers (stream_read + encode) — driven by the input as a program,
 * read by a reader of each format (native SSE, OpenAI chunks, one OpenAI object) along the
 * way and by fresh readers at the end.
 *
 * The input is a header byte, then a list of ops. Header: bit 7, the OpenAI readers ask for
 * usage; bit 6, the model name is the next L bytes (L: next byte) when they are UTF-8 and
 * not empty, as a request may name it (else "fuzz-model"); bit 5, pacing is fixed at
 * 50 * (1 + low 5 bits) characters a second (else off). An op's control byte has the op in
 * its low 3 bits and its argument in the high 5:
 *   0, 1  emit_text of the next L bytes (L: next byte) as text (0) or reasoning (1)
 *   2     emit_pump, the clock on by arg ms   3  a step of one incremental reader (arg:
 *                                                which, and how much it reads at a time)
 *   4     emit_finish_reason   5  emit_usage
 *   6     emit_done, or emit_cancel when the argument is odd
 *   7     emit_fail with a type (arg < 6: one of chatd's; else the next L bytes) and a
 *         message of 2*L bytes
 * The owner behaves as chat.c does: nothing is set after the terminal (text goes on: the
 * emit must ignore it). At the end: emit_done if no terminal came, then pumps until the
 * emit has released everything (pacing off: one pump). Readers read as reader.c does, with
 * its read limits and buffer caps: a cap error is a failure.
 *
 * Checked: every pump that released something woke every follower; native output parses
 * (retry line, then id/event/data events; ids consecutive from 0; start first; one delta
 * or reasoning per cluster, each valid JSON with a non-empty text of at most LIM_CLUSTER
 * bytes; exactly one terminal, last); the clusters join to the text of each kind given
 * (when each run of one kind is valid UTF-8) and are as many as the emit released; the
 * OpenAI chunks and the OpenAI object carry the same texts and finish reason; every output
 * is valid UTF-8 when the strings handed to the emit were; a reader that read along gets
 * exactly the bytes a fresh reader gets; a resume after any event replays exactly the
 * later events, and one after the last event fails. */
#include <cjson/cJSON.h>

#include "emit.h"
#include "encode.h"
#include "fuzz.h"
#include "lim.h"
#include "store.h"
#include "utf8.h"

#include "../unit/stream_reader.h"

#define ALL_CAP (1u << 26) /* everything one reader got, joined */
#define STREAM_ID "fuzz0123456789abcdefABCD"
#define DEFAULT_MODEL "fuzz-model"

/* reader.c's read limit on text; its limit on clusters comes from enc_per_event */
#define READ_BYTES 4096

static const enc_fmt FMTS[3] = {ENC_NATIVE, ENC_OAI_SSE, ENC_OAI_JSON};
static const char *const FAIL_TYPES[] = {"upstream_error", "upstream_timeout", "internal_error",
                                         "shutdown",       "invalid_request",  "rate_limited"};
#define N_FAIL_TYPES (sizeof(FAIL_TYPES) / sizeof(FAIL_TYPES[0]))

/* What the owner told the stream, to hold the readers' output against. */
typedef struct model {
    fuzz_log text[2]; /* bytes added of each kind before the terminal */
    fuzz_log run;     /* the bytes of the current run of one kind */
    int kind;         /* kind of that run */
    int exact;        /* every run was valid UTF-8: the clusters join to text[] byte for byte */
    int strings_utf8; /* every finish reason, error type and message given was valid UTF-8 */
    int term;         /* STREAM_TERM_* of the first terminal op */
    int include_usage;
    pace_cfg pace;
    char model[257];
    char finish[64];                 /* the finish reason the done event must carry */
    char err_type[48], err_msg[520]; /* what the error event must carry */
} model;

/* ---- reading the input ---- */

typedef struct input {
    const uint8_t *p;
    size_t n;
} input;

static unsigned take1(input *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

static const char *take(input *in, size_t want, size_t *got)
{
    const char *p = (const char *)in->p;
    *got = want < in->n ? want : in->n;
    in->p += *got;
    in->n -= *got;
    return p;
}

/* The next L bytes as a C string (they end at a NUL if they hold one). */
static void take_str(input *in, size_t want, char *out, size_t outsz)
{
    size_t got;
    const char *p = take(in, want < outsz - 1 ? want : outsz - 1, &got);
    memcpy(out, p, got);
    out[got] = '\0';
}

/* ---- the owner ---- */

static void close_run(model *m)
{
    if (!utf8_valid(m->run.p ? m->run.p : "", m->run.n))
        m->exact = 0;
    m->run.n = 0;
}

static void op_add(emit *e, model *m, input *in, int kind)
{
    size_t got;
    const char *p = take(in, take1(in), &got);
    FUZZ_CHECK(emit_text(e, kind, p, got) == 0, "emit_text failed far below the log cap");
    if (m->term)
        return;
    if (kind != m->kind) {
        close_run(m);
        m->kind = kind;
    }
    fuzz_log_add(&m->run, p, got);
    fuzz_log_add(&m->text[kind], p, got);
}

static void note_str(model *m, const char *s)
{
    m->strings_utf8 &= utf8_valid(s, strlen(s));
}

static void op_finish(emit *e, model *m, input *in)
{
    char reason[64];
    take_str(in, take1(in) & 63, reason, sizeof(reason));
    if (m->term)
        return;
    note_str(m, reason);
    emit_finish_reason(e, reason);
    snprintf(m->finish, sizeof(m->finish), "%s", reason);
}

static void op_usage(emit *e, model *m, input *in, unsigned arg)
{
    long prompt = (long)take1(in) * 1000 + take1(in);
    long completion = (long)take1(in) * 1000 + take1(in);
    if (!m->term)
        emit_usage(e, arg == 31 ? -1 : prompt, arg == 31 ? -1 : completion);
}

static void terminal(model *m, int kind)
{
    if (m->term)
        return;
    close_run(m);
    m->term = kind;
}

static void op_end(emit *e, model *m, int cancel)
{
    if (cancel)
        emit_cancel(e);
    else
        emit_done(e);
    if (!m->term && (cancel || !m->finish[0]))
        snprintf(m->finish, sizeof(m->finish), "%s", cancel ? "cancelled" : "stop");
    terminal(m, STREAM_TERM_DONE);
}

static void op_fail(emit *e, model *m, input *in, unsigned arg)
{
    char type[48], msg[520];
    if (arg < N_FAIL_TYPES)
        snprintf(type, sizeof(type), "%s", FAIL_TYPES[arg]);
    else
        take_str(in, take1(in) & 47, type, sizeof(type));
    take_str(in, 2 * (size_t)take1(in), msg, sizeof(msg));
    if (!type[0])
        snprintf(type, sizeof(type), "upstream_error");
    if (!m->term) {
        note_str(m, type);
        note_str(m, msg);
        snprintf(m->err_type, sizeof(m->err_type), "%s", type);
        snprintf(m->err_msg, sizeof(m->err_msg), "%s", msg);
    }
    emit_fail(e, type, msg, arg & 1 ? 502 : 0);
    terminal(m, STREAM_TERM_ERROR);
}

/* ---- the readers ---- */

/* Reads as reader.c does: a follower of the stream; each step reads from its position
 * (at most READ_BYTES bytes of text and LIM_READER_CHUNK / enc_per_event clusters, or
 * less) into a scratch chunk and
 * encodes it into an out buffer with reader.c's cap, only when out is empty; what comes
 * out is moved to all. The OpenAI object is read whole once the stream has ended. A cap
 * error (-1) on any input is a failure. */
typedef struct reader {
    stream_reader r;
    enc_fmt fmt;
    long woken; /* notify calls */
    buf all;
    int done;
} reader;

static void on_notify(stream_sub *sub)
{
    ((reader *)(void *)((char *)sub - offsetof(reader, r.sub)))->woken++;
}

static void reader_init(reader *r, stream *s, enc_fmt fmt, int include_usage)
{
    memset(r, 0, sizeof(*r));
    int rc = stream_reader_init(&r->r, s, fmt, include_usage,
                                fmt == ENC_OAI_JSON ? 3 * (size_t)LIM_LOG_TEXT : LIM_READER_OUT,
                                on_notify);
    FUZZ_CHECK(rc == 0, "enc_init (format %d) returned %d", (int)fmt, rc);
    r->fmt = fmt;
    stream_follow(s, &r->r.sub);
    buf_init(&r->all, ALL_CAP);
}

static void reader_free(reader *r)
{
    stream_unfollow(r->r.s, &r->r.sub);
    stream_reader_free(&r->r);
    buf_free(&r->all);
}

/* One read and its encoding, of at most room bytes of text (and of clusters). */
static void reader_step(reader *r, size_t room)
{
    if (r->done)
        return;
    stream_reader *sr = &r->r;
    stream_chunk_reset(&sr->ch);
    int rc;
    if (r->fmt == ENC_OAI_JSON) {
        if (stream_last_id(sr->s) < 0)
            return;
        rc = stream_read(sr->s, &sr->sub, 1, SIZE_MAX, SIZE_MAX, &sr->ch);
        FUZZ_CHECK(rc == 0 && sr->ch.has_term, "the whole read failed (%d) or has no end", rc);
        rc = enc_whole(stream_get_info(sr->s), &sr->ch, &sr->out);
        FUZZ_CHECK(rc == 0, "enc_whole returned %d", rc);
        r->done = 1;
    } else {
        size_t most = LIM_READER_CHUNK / enc_per_event(&sr->enc);
        most = most ? most : 1;
        size_t clusters = room < most ? room : most;
        size_t bytes = room < READ_BYTES ? room : READ_BYTES;
        rc = stream_read(sr->s, &sr->sub, sr->enc.next_id, clusters, bytes, &sr->ch);
        FUZZ_CHECK(rc == 0, "stream_read (format %d) from %llu returned %d", (int)r->fmt,
                   (unsigned long long)sr->enc.next_id, rc);
        rc = enc_chunk(&sr->enc, stream_get_info(sr->s), &sr->ch, &sr->out);
        FUZZ_CHECK(rc == 0 || rc == 1, "enc_chunk (format %d) returned %d", (int)r->fmt, rc);
        r->done = rc;
    }
    FUZZ_CHECK(buf_add(&r->all, buf_ptr(&sr->out), buf_len(&sr->out)) == 0, "out of memory");
    buf_reset(&sr->out);
}

/* Reads to the end; the terminal has been released. */
static void reader_drain(reader *r, size_t room)
{
    while (!r->done) {
        size_t before = buf_len(&r->all);
        reader_step(r, room);
        FUZZ_CHECK(r->done || buf_len(&r->all) > before, "a read makes no progress");
    }
}

/* ---- native output ---- */

typedef struct nev {
    long id;
    char type[16];
    const char *data, *raw; /* data line; the whole event with its blank line */
    size_t data_len, raw_len;
} nev;

static const char *line(const char **p, const char *end, const char *prefix, size_t *len)
{
    size_t k = strlen(prefix);
    FUZZ_CHECK((size_t)(end - *p) > k && !memcmp(*p, prefix, k), "native: expected '%s'", prefix);
    const char *v = *p + k;
    const char *nl = memchr(v, '\n', (size_t)(end - v));
    FUZZ_CHECK(nl != NULL, "native: line without its end");
    *len = (size_t)(nl - v);
    *p = nl + 1;
    return v;
}

/* Splits a native response into its events; the retry line opens it. */
static size_t native_events(const char *p, size_t n, nev **evs)
{
    const char *end = p + n;
    static const char RETRY[] = "retry: 3000\n\n";
    FUZZ_CHECK(n >= sizeof(RETRY) - 1 && !memcmp(p, RETRY, sizeof(RETRY) - 1),
               "native: no retry line");
    p += sizeof(RETRY) - 1;
    size_t count = 0, alloc = 0;
    *evs = NULL;
    while (p < end) {
        if (count == alloc) {
            alloc = alloc ? 2 * alloc : 64;
            *evs = realloc(*evs, alloc * sizeof(**evs));
            FUZZ_CHECK(*evs != NULL, "out of memory");
        }
        nev *e = &(*evs)[count++];
        size_t len;
        e->raw = p;
        const char *v = line(&p, end, "id: ", &len);
        char num[24];
        FUZZ_CHECK(len > 0 && len < sizeof(num), "native: id of %zu bytes", len);
        memcpy(num, v, len);
        num[len] = '\0';
        e->id = strtol(num, NULL, 10);
        v = line(&p, end, "event: ", &len);
        FUZZ_CHECK(len < sizeof(e->type), "native: event type of %zu bytes", len);
        memcpy(e->type, v, len);
        e->type[len] = '\0';
        e->data = line(&p, end, "data: ", &e->data_len);
        FUZZ_CHECK(p < end && *p == '\n', "native: event not closed by a blank line");
        p++;
        e->raw_len = (size_t)(p - e->raw);
    }
    return count;
}

/* The whole text must be one JSON value. */
static cJSON *json_exact(const char *p, size_t n, const char *what)
{
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(p, n, &end, 0);
    FUZZ_CHECK(j != NULL && end == p + n, "%s: not one JSON value: %.*s", what,
               (int)(n > 200 ? 200 : n), p);
    return j;
}

static const char *jstr(const cJSON *o, const char *key)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* What the readers agree on, taken from the native output. */
typedef struct seen {
    fuzz_log text[2]; /* clusters joined, per kind (cJSON drops a U+0000: see strip_nul) */
    uint64_t clusters;
    int term;
    char finish[64];
} seen;

static void check_cluster(const nev *e, seen *sn)
{
    int kind = !strcmp(e->type, "reasoning") ? EMIT_REASONING : EMIT_TEXT;
    FUZZ_CHECK(kind == EMIT_REASONING || !strcmp(e->type, "delta"), "native: event '%s' mid-stream",
               e->type);
    cJSON *j = json_exact(e->data, e->data_len, "native cluster");
    const char *t = jstr(j, "text");
    FUZZ_CHECK(t != NULL, "native: cluster without text");
    size_t n = strlen(t);
    /* U+0000 is a cluster of its own (a control); cJSON ends the string there */
    static const char NUL_TEXT[] = "{\"text\":\"\\u0000\"}";
    FUZZ_CHECK(n > 0 ||
                   (e->data_len == sizeof(NUL_TEXT) - 1 && !memcmp(e->data, NUL_TEXT, e->data_len)),
               "native: empty cluster");
    FUZZ_CHECK(n <= LIM_CLUSTER, "native: cluster of %zu bytes", n);
    fuzz_log_add(&sn->text[kind], t, n);
    sn->clusters++;
    cJSON_Delete(j);
}

/* The string the stream was given, or (a long one) a non-empty head of it. */
static int same_or_cut(const char *got, const char *given)
{
    size_t n = strlen(got);
    return !strcmp(got, given) || (n > 0 && n < strlen(given) && !strncmp(got, given, n));
}

static void check_terminal(const nev *e, seen *sn, const model *m)
{
    cJSON *j = json_exact(e->data, e->data_len, "native terminal");
    if (!strcmp(e->type, "done")) {
        const char *f = jstr(j, "finish_reason");
        FUZZ_CHECK(f != NULL, "native: done without finish_reason");
        snprintf(sn->finish, sizeof(sn->finish), "%s", f);
        sn->term = STREAM_TERM_DONE;
        FUZZ_CHECK(same_or_cut(f, m->finish), "done: finish_reason '%s', given '%s'", f, m->finish);
    } else {
        FUZZ_CHECK(!strcmp(e->type, "error"), "native: last event is '%s'", e->type);
        const cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
        FUZZ_CHECK(jstr(err, "type") && jstr(err, "message"),
                   "native: error without type or message");
        FUZZ_CHECK(same_or_cut(jstr(err, "type"), m->err_type), "error: type '%s', given '%s'",
                   jstr(err, "type"), m->err_type);
        FUZZ_CHECK(same_or_cut(jstr(err, "message"), m->err_msg),
                   "error: message differs from the one given");
        sn->term = STREAM_TERM_ERROR;
    }
    FUZZ_CHECK(sn->term == m->term, "native: terminal %d, the owner ended with %d", sn->term,
               m->term);
    cJSON_Delete(j);
}

static void check_native(const buf *out, const model *m, stream *s, seen *sn)
{
    nev *evs;
    size_t n = native_events(buf_ptr(out), buf_len(out), &evs);
    FUZZ_CHECK(n >= 2, "native: %zu events", n);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(evs[i].id == (long)i, "native: event %zu has id %ld", i, evs[i].id);
    FUZZ_CHECK(!strcmp(evs[0].type, "start"), "native: first event '%s'", evs[0].type);
    cJSON *j = json_exact(evs[0].data, evs[0].data_len, "native start");
    FUZZ_CHECK(jstr(j, "stream_id") && !strcmp(jstr(j, "stream_id"), STREAM_ID),
               "start: stream_id");
    FUZZ_CHECK(jstr(j, "model") && !strcmp(jstr(j, "model"), m->model), "start: model");
    cJSON_Delete(j);
    for (size_t i = 1; i + 1 < n; i++)
        check_cluster(&evs[i], sn);
    check_terminal(&evs[n - 1], sn, m);
    FUZZ_CHECK(stream_last_id(s) == (int64_t)(n - 1), "stream_last_id %lld, last event %zu",
               (long long)stream_last_id(s), n - 1);
    free(evs);
}

/* A resume after event k replays the retry line and exactly the events after k; one
 * after the last event fails. */
static void check_seek(stream *s, const buf *full, int64_t k)
{
    nev *evs;
    size_t n = native_events(buf_ptr(full), buf_len(full), &evs);
    reader r;
    reader_init(&r, s, ENC_NATIVE, 0);
    FUZZ_CHECK(stream_reader_seek(&r.r, k) == 0, "a resume after %lld failed", (long long)k);
    if (k + 1 < (int64_t)n)
        reader_drain(&r, 1);
    else
        reader_step(&r, 1); /* after the terminal event: nothing to finish */
    buf want;
    buf_init(&want, ALL_CAP);
    buf_addstr(&want, "retry: 3000\n\n");
    for (size_t i = 0; i < n; i++)
        if ((int64_t)i > k)
            buf_add(&want, evs[i].raw, evs[i].raw_len);
    FUZZ_CHECK(buf_len(&want) == buf_len(&r.all) &&
                   !memcmp(buf_ptr(&want), buf_ptr(&r.all), buf_len(&want)),
               "a reader resumed after event %lld does not replay the later events", (long long)k);
    buf_free(&want);
    reader_free(&r);
    reader_init(&r, s, ENC_NATIVE, 0);
    FUZZ_CHECK(stream_reader_seek(&r.r, (int64_t)n) == -1,
               "a resume past the last event succeeded");
    reader_free(&r);
    free(evs);
}

/* ---- OpenAI output ---- */

static void add_field(fuzz_log *l, const cJSON *o, const char *key)
{
    const char *v = jstr(o, key);
    if (v)
        fuzz_log_add(l, v, strlen(v));
}

static void check_oai_sse(const buf *out, const seen *sn, const model *m)
{
    const char *p = buf_ptr(out), *end = p + buf_len(out);
    fuzz_log text[2] = {{0}, {0}};
    int chunks = 0, done = 0, error = 0;
    char finish[64] = "";
    while (p < end) {
        FUZZ_CHECK(!done && !error, "OpenAI stream: data after its end");
        size_t len;
        const char *v = line(&p, end, "data: ", &len);
        FUZZ_CHECK(p < end && *p == '\n', "OpenAI stream: chunk not closed by a blank line");
        p++;
        if (len == 6 && !memcmp(v, "[DONE]", 6)) {
            done = 1;
            continue;
        }
        cJSON *j = json_exact(v, len, "OpenAI chunk");
        const cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
        const cJSON *c0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"), 0);
        const cJSON *delta = cJSON_GetObjectItemCaseSensitive(c0, "delta");
        if (err) {
            FUZZ_CHECK(jstr(err, "message") && jstr(err, "type"),
                       "OpenAI error chunk without message/type");
            error = 1;
        } else if (chunks++ > 0) {
            add_field(&text[0], delta, "content");
            add_field(&text[1], delta, "reasoning_content");
            if (jstr(c0, "finish_reason"))
                snprintf(finish, sizeof(finish), "%s", jstr(c0, "finish_reason"));
        }
        cJSON_Delete(j);
    }
    FUZZ_CHECK(m->term == STREAM_TERM_DONE ? done && !error : error && !done,
               "OpenAI stream: ended with [DONE] %d, error %d", done, error);
    for (int k = 0; k < 2; k++)
        FUZZ_CHECK(fuzz_log_same(&text[k], &sn->text[k]), "OpenAI stream: %s differs from native",
                   k ? "reasoning" : "text");
    if (done)
        FUZZ_CHECK(!strcmp(finish, sn->finish), "OpenAI stream: finish '%s', native '%s'", finish,
                   sn->finish);
    fuzz_log_free(&text[0]);
    fuzz_log_free(&text[1]);
}

/* cJSON ends a string at U+0000: compare a whole text only up to its first NUL. */
static int same_to_nul(const char *got, const fuzz_log *want)
{
    size_t n = want->n;
    const char *nul = want->n ? memchr(want->p, '\0', want->n) : NULL;
    if (nul)
        n = (size_t)(nul - want->p);
    return strlen(got) == n && (n == 0 || !memcmp(got, want->p, n));
}

static void check_oai_json(const buf *out, const seen *sn, const model *m)
{
    cJSON *j = json_exact(buf_ptr(out), buf_len(out), "OpenAI object");
    if (m->term == STREAM_TERM_ERROR) {
        const cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
        FUZZ_CHECK(jstr(err, "message") && jstr(err, "type"),
                   "OpenAI object: error without message/type");
    } else {
        const cJSON *c0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"), 0);
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(c0, "message");
        const char *content = jstr(msg, "content"), *reasoning = jstr(msg, "reasoning_content");
        FUZZ_CHECK(content != NULL, "OpenAI object: no content");
        /* the text as added, when the segmenter had nothing to replace */
        FUZZ_CHECK(!m->exact || same_to_nul(content, &m->text[0]),
                   "OpenAI object: content differs");
        FUZZ_CHECK(!m->exact ||
                       (reasoning ? same_to_nul(reasoning, &m->text[1]) : m->text[1].n == 0),
                   "OpenAI object: reasoning_content differs");
        FUZZ_CHECK(jstr(c0, "finish_reason") && !strcmp(jstr(c0, "finish_reason"), sn->finish),
                   "OpenAI object: finish_reason differs");
    }
    cJSON_Delete(j);
}

/* ---- putting it together ---- */

static void strip_nul(const fuzz_log *in, fuzz_log *out)
{
    for (size_t i = 0; i < in->n; i++)
        if (in->p[i])
            fuzz_log_add(out, in->p + i, 1);
}

static void check_texts(const seen *sn, const model *m, const emit *e)
{
    FUZZ_CHECK(sn->clusters == e->released, "native: %llu clusters, the emit released %llu",
               (unsigned long long)sn->clusters, (unsigned long long)e->released);
    if (!m->exact)
        return;
    for (int k = 0; k < 2; k++) {
        fuzz_log want = {0};
        strip_nul(&m->text[k], &want);
        FUZZ_CHECK(fuzz_log_same(&want, &sn->text[k]),
                   "native: the %s clusters do not join to the text added",
                   k ? "reasoning" : "answer");
        fuzz_log_free(&want);
    }
}

static void take_header(model *m, input *in)
{
    unsigned h = take1(in);
    m->include_usage = (h & 0x80) != 0;
    if (h & 0x40)
        take_str(in, take1(in), m->model, sizeof(m->model));
    m->pace.mode = PACE_OFF;
    if (h & 0x20) {
        m->pace.mode = PACE_FIXED;
        m->pace.cps = 50.0 * (1 + (h & 31));
    }
    if (!m->model[0] || !utf8_valid(m->model, strlen(m->model)))
        snprintf(m->model, sizeof(m->model), "%s", DEFAULT_MODEL);
}

/* Every follower was woken by a pump that released something. */
static void pump(emit *e, reader rd[3], uint64_t now)
{
    long before[3];
    for (int f = 0; f < 3; f++)
        before[f] = rd[f].woken;
    int64_t last = stream_last_id(e->s);
    uint64_t n = emit_pump(e, now);
    if (n || stream_last_id(e->s) != last)
        for (int f = 0; f < 3; f++)
            FUZZ_CHECK(rd[f].woken > before[f], "a pump released news but reader %d slept", f);
}

static void run_ops(emit *e, model *m, reader rd[3], input *in, uint64_t *now)
{
    while (in->n) {
        unsigned c = take1(in), arg = c >> 3;
        switch (c & 7) {
        case 0:
        case 1:
            op_add(e, m, in, (int)(c & 1));
            break;
        case 2:
            pump(e, rd, *now += arg);
            break;
        case 3:
            reader_step(&rd[arg % 3], (arg / 3) * 16 + 1);
            break;
        case 4:
            op_finish(e, m, in);
            break;
        case 5:
            op_usage(e, m, in, arg);
            break;
        case 6:
            op_end(e, m, arg & 1);
            break;
        case 7:
            op_fail(e, m, in, arg);
            break;
        }
    }
}

static void check_all(stream *s, const emit *e, const model *m, reader rd[3], int64_t seek_to)
{
    seen sn = {0};
    reader fresh[3];
    for (int f = 0; f < 3; f++) {
        reader_drain(&rd[f], 4096);
        reader_init(&fresh[f], s, FMTS[f], m->include_usage);
        reader_drain(&fresh[f], SIZE_MAX);
        FUZZ_CHECK(buf_len(&rd[f].all) == buf_len(&fresh[f].all) &&
                       !memcmp(buf_ptr(&rd[f].all), buf_ptr(&fresh[f].all), buf_len(&rd[f].all)),
                   "format %d: a reader that read along got other bytes than a fresh one", f);
        FUZZ_CHECK(utf8_valid(buf_ptr(&fresh[f].all), buf_len(&fresh[f].all)) || !m->strings_utf8,
                   "format %d: the output is not valid UTF-8", f);
    }
    check_native(&fresh[0].all, m, s, &sn);
    check_texts(&sn, m, e);
    check_oai_sse(&fresh[1].all, &sn, m);
    check_oai_json(&fresh[2].all, &sn, m);
    check_seek(s, &fresh[0].all, seek_to % (int64_t)(sn.clusters + 3) - 1);
    for (int f = 0; f < 3; f++)
        reader_free(&fresh[f]);
    for (int k = 0; k < 2; k++)
        fuzz_log_free(&sn.text[k]);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    input in = {d, n};
    uint64_t now = 1000;
    model m = {.exact = 1, .strings_utf8 = 1};
    take_header(&m, &in);
    FUZZ_CHECK(store_use(&store_mem_ops) == 0, "store_use");
    stream *s = stream_create(STREAM_ID, m.model, 0);
    FUZZ_CHECK(s != NULL, "stream_create");
    stream_start(s);
    emit e;
    emit_init(&e, s, &m.pace, now);
    reader rd[3];
    for (int f = 0; f < 3; f++)
        reader_init(&rd[f], s, FMTS[f], m.include_usage);
    run_ops(&e, &m, rd, &in, &now);
    if (!m.term)
        op_end(&e, &m, 0);
    /* fixed pacing: at least 50 a second, so a second per 50 of backlog */
    for (uint64_t k = 0, most = emit_backlog(&e) / 50 + 2; k < most && emit_active(&e); k++)
        pump(&e, rd, now += 1000);
    FUZZ_CHECK(!emit_active(&e), "everything is out after the pumps (backlog %llu)",
               (unsigned long long)emit_backlog(&e));
    check_all(s, &e, &m, rd, (int64_t)n);
    for (int f = 0; f < 3; f++)
        reader_free(&rd[f]);
    for (int k = 0; k < 2; k++)
        fuzz_log_free(&m.text[k]);
    fuzz_log_free(&m.run);
    emit_free(&e);
    stream_expire(s);
    stream_unref(s);
    FUZZ_CHECK(store_count() == 0, "the store still keeps %d streams", store_count());
    return 0;
}
