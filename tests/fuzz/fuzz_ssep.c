/* Fuzz target: the event-stream parser (ssep) fed the payload split as the input's plan says
 * (see fuzz.h), then ssep_finish. The same bytes fed in one call must give the same events,
 * the same last retry and the same result: the parser promises any split is alike.
 * Every event is checked against ssep.h (NUL-terminated strings, lengths, caps). Byte 0's
 * high bits, when non-zero, make the callback stop the parser at that event: the stop value
 * must come back from then on, with no event after it. */
#include "fuzz.h"
#include "lim.h"
#include "sse_parse.h"

#define STOP_RC 4242

typedef struct run {
    fuzz_log log;
    unsigned stop_at; /* 1-based event that returns STOP_RC; 0: none */
    unsigned events;
    int stopped;
} run;

static void check_event(const ssep_event *ev)
{
    FUZZ_CHECK(ev->type && ev->data && ev->id, "NULL string in an event");
    /* a type holding a NUL ends there, as a C string: type_len is strlen(type), maybe 0 */
    FUZZ_CHECK(ev->type_len == strlen(ev->type), "type_len %zu", ev->type_len);
    FUZZ_CHECK(ev->type_len <= LIM_UP_LINE, "type over the line cap");
    FUZZ_CHECK(ev->data[ev->data_len] == '\0', "data not NUL-terminated at data_len");
    FUZZ_CHECK(ev->data_len <= LIM_UP_EVENT, "data_len %zu over the cap", ev->data_len);
    FUZZ_CHECK(ev->id[ev->id_len] == '\0', "id not NUL-terminated at id_len");
    FUZZ_CHECK(memchr(ev->id, '\0', ev->id_len) == NULL, "id holds a NUL");
    FUZZ_CHECK(ev->id_len <= LIM_UP_LINE, "id over the line cap");
}

static int on_event(void *ctx, const ssep_event *ev)
{
    run *r = ctx;
    FUZZ_CHECK(!r->stopped, "an event after the parser was stopped");
    check_event(ev);
    fuzz_log_field(&r->log, ev->type, ev->type_len);
    fuzz_log_field(&r->log, ev->data, ev->data_len);
    fuzz_log_field(&r->log, ev->id, ev->id_len);
    if (++r->events == r->stop_at) {
        r->stopped = 1;
        return STOP_RC;
    }
    return 0;
}

static int rc_ok(int rc)
{
    return rc == 0 || rc == SSEP_ERR_LINE || rc == SSEP_ERR_EVENT || rc == SSEP_ERR_NOMEM ||
           rc == STOP_RC;
}

/* A non-zero result is sticky: the same value from every later call, and no event. */
static int track(int *first, int rc)
{
    FUZZ_CHECK(rc_ok(rc), "unexpected result %d", rc);
    if (*first)
        FUZZ_CHECK(rc == *first, "result %d after %d: not sticky", rc, *first);
    else
        *first = rc;
    return rc;
}

/* Feeds d[0..n) in the plan's pieces, then finishes; returns the final result. */
static int parse(run *r, fuzz_plan *pl, const uint8_t *d, size_t n, long *retry)
{
    ssep p;
    int first = 0;
    ssep_init(&p);
    for (size_t off = 0; off < n;) {
        size_t k = pl ? fuzz_plan_next(pl, n - off) : n - off;
        track(&first, ssep_feed(&p, (const char *)d + off, k, on_event, r));
        off += k;
    }
    int rc = track(&first, ssep_finish(&p, on_event, r));
    track(&first, ssep_finish(&p, on_event, r)); /* a second finish changes nothing */
    FUZZ_CHECK(p.retry >= -1 && p.retry <= 0x7fffffffL, "retry %ld", p.retry);
    if (r->stopped)
        FUZZ_CHECK(rc == STOP_RC, "stopped by the callback, result %d", rc);
    *retry = p.retry;
    ssep_free(&p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    fuzz_plan pl;
    fuzz_plan_take(&pl, &d, &n);
    run split = {.stop_at = pl.high}, whole = {.stop_at = pl.high};
    long retry_split, retry_whole;
    int a = parse(&split, &pl, d, n, &retry_split);
    int b = parse(&whole, NULL, d, n, &retry_whole);
    FUZZ_CHECK(a == b, "result %d split, %d whole", a, b);
    FUZZ_CHECK(fuzz_log_same(&split.log, &whole.log),
               "events differ with the split (%u vs %u events, first difference at log byte %zu)",
               split.events, whole.events, fuzz_log_diff(&split.log, &whole.log));
    FUZZ_CHECK(retry_split == retry_whole, "retry %ld split, %ld whole", retry_split, retry_whole);
    fuzz_log_free(&split.log);
    fuzz_log_free(&whole.log);
    return 0;
}
