/* pace — see pace.h. A credit (token) bucket: time earns rate*dt characters; a stream
 * that had nothing to send keeps at most one character of credit, so a new burst starts
 * at once but cannot come out in a lump. */
#include "pace.h"

#include <math.h>

double pace_rate(const pace_cfg *c, size_t backlog)
{
    switch (c->mode) {
    case PACE_OFF:
        return 0;
    case PACE_FIXED:
        return c->cps;
    case PACE_ADAPTIVE:
        break;
    }
    /* Emitting backlog characters within max_lag keeps every waiting one under the bound. */
    double need = (double)backlog * 1000.0 / c->max_lag_ms;
    return need > c->base_cps ? need : c->base_cps;
}

void pace_init(pace *p, uint64_t now_ms)
{
    p->credit = 1.0;
    p->last_ms = now_ms;
}

size_t pace_take(pace *p, const pace_cfg *c, uint64_t now_ms, size_t backlog, int upstream_done)
{
    uint64_t dt = now_ms > p->last_ms ? now_ms - p->last_ms : 0;
    p->last_ms = now_ms;
    if (c->mode == PACE_OFF || (c->mode == PACE_ADAPTIVE && upstream_done))
        return backlog;
    if (backlog == 0) {
        p->credit = p->credit + pace_rate(c, 0) * (double)dt / 1000.0;
        if (p->credit > 1.0)
            p->credit = 1.0;
        return 0;
    }
    p->credit += pace_rate(c, backlog) * (double)dt / 1000.0;
    double whole = floor(p->credit);
    size_t n = whole >= (double)backlog ? backlog : (size_t)whole;
    p->credit -= (double)n;
    return n;
}
