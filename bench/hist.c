/* hist — see hist.h. */
#include "hist.h"

#include <math.h>

static unsigned index_of(uint64_t v)
{
    if (v < 256)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - 7u; /* keep the top 8 bits: 128..255 */
    if (shift > 33u)
        return HIST_BUCKETS - 1;
    return 256u + (shift - 1u) * 128u + (unsigned)((v >> shift) - 128u);
}

static uint64_t midpoint_of(unsigned i)
{
    if (i < 256)
        return i;
    unsigned shift = (i - 256u) / 128u + 1u;
    uint64_t lo = (uint64_t)(128u + (i - 256u) % 128u) << shift;
    return lo + ((uint64_t)1 << shift) / 2;
}

void hist_add(hist *h, uint64_t ns)
{
    h->b[index_of(ns)]++;
    h->count++;
    if (ns > h->max)
        h->max = ns;
}

uint64_t hist_quantile(const hist *h, double q)
{
    if (h->count == 0)
        return 0;
    uint64_t rank = (uint64_t)ceil(q * (double)h->count), seen = 0;
    if (rank < 1)
        rank = 1;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            uint64_t m = midpoint_of(i);
            return m < h->max ? m : h->max;
        }
    }
    return h->max;
}
