/* metrics — counters for GET /metrics in Prometheus' text format. Each worker owns one
 * metrics block and updates it from its own thread with relaxed atomics; the scrape sums
 * the blocks of every worker. */
#ifndef CHATD_METRICS_H
#define CHATD_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef enum {
    UPERR_STATUS,    /* the upstream answered an HTTP error */
    UPERR_CONNECT,   /* could not connect */
    UPERR_TIMEOUT,   /* connect, first byte or idle timeout */
    UPERR_MALFORMED, /* a stream chatd could not parse */
    UPERR_REPORTED,  /* an error the upstream reported mid-stream */
    UPERR_EARLY_END, /* ended without finishing */
    UPERR_FAILED,    /* any other transfer failure */
    UPERR_N
} metrics_uperr;

typedef enum { CANCEL_REQUEST, CANCEL_CLIENT_GONE, CANCEL_N } metrics_cancel;

#define METRICS_FC_BUCKETS 12

typedef struct metrics {
    atomic_ullong requests;
    atomic_ullong streams;
    atomic_ullong chars;
    atomic_ullong resumes;
    atomic_ullong fallbacks; /* attempts after the first, before a first character */
    atomic_ullong rate_limited;
    atomic_ullong up_errors[UPERR_N];
    atomic_ullong cancels[CANCEL_N];
    atomic_ullong fc_bucket[METRICS_FC_BUCKETS]; /* first-character latency, cumulative later */
    atomic_ullong fc_count;
    atomic_ullong fc_sum_us;
} metrics;

static inline void metrics_add(atomic_ullong *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}
void metrics_first_char(metrics *m, uint64_t us);
/* The exposition for every block; active: streams open now. 0 or -1 (cap). */
int metrics_render(buf *out, metrics *const *blocks, int n, long active, long retained);

#endif
