/* pace — how many characters a stream may emit at a given moment. Pure arithmetic on a
 * caller-supplied clock (milliseconds), so it is exact to test. Each stream owns one
 * pace state; the settings are shared read-only by every stream of a worker.
 *   off       everything whole goes out at once
 *   fixed     a steady rate of cps characters per second
 *   adaptive  base_cps, sped up so the backlog never waits longer than max_lag_ms,
 *             and flushed at once when the upstream has finished */
#ifndef CHATD_PACE_H
#define CHATD_PACE_H

#include <stddef.h>
#include <stdint.h>

typedef enum { PACE_OFF, PACE_FIXED, PACE_ADAPTIVE } pace_mode;

typedef struct pace_cfg {
    pace_mode mode;
    double cps;        /* fixed: characters per second */
    double base_cps;   /* adaptive: the readable rate with no backlog */
    double max_lag_ms; /* adaptive: the longest a character may wait */
} pace_cfg;

typedef struct pace {
    double credit;   /* characters owed, fractional */
    uint64_t last_ms;
} pace;

void pace_init(pace *p, uint64_t now_ms);
/* Characters to emit now from a backlog of `backlog`; upstream_done: nothing more will
 * arrive. Never more than backlog. */
size_t pace_take(pace *p, const pace_cfg *c, uint64_t now_ms, size_t backlog, int upstream_done);
/* The rate in force for this backlog, characters per second (0 for off). */
double pace_rate(const pace_cfg *c, size_t backlog);

#endif
