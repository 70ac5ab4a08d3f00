/* hist — a fixed-size log-linear histogram of durations in nanoseconds: exact below
 * 256 ns, then 128 sub-buckets per power of two (under 0.8 % error), up to ~18 minutes.
 * Memory is constant whatever the count; the exact maximum is kept beside it. */
#ifndef BENCH_HIST_H
#define BENCH_HIST_H

#include <stdint.h>

#define HIST_BUCKETS (256 + 33 * 128)

typedef struct hist {
    uint64_t count, max;
    uint64_t b[HIST_BUCKETS];
} hist;

void hist_add(hist *h, uint64_t ns);
/* The value at quantile q (0..1), the bucket's midpoint; 0 when empty. */
uint64_t hist_quantile(const hist *h, double q);

#endif
