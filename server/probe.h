/* probe — are the upstreams reachable? One worker asks each upstream of the model map every
 * few seconds with a plain GET (any HTTP answer, even 401 or 404, proves it is reachable);
 * the answer is kept in the upstream's entry (an atomic, read from any worker). /readyz
 * is ready while at least one upstream is reachable. */
#ifndef CHATD_PROBE_H
#define CHATD_PROBE_H

#include <stdint.h>

#include "env.h"
#include "up.h"

#define PROBE_EVERY_MS 10000

enum { PROBE_UNKNOWN, PROBE_REACHABLE, PROBE_UNREACHABLE };

void probe_tick(up *u, const chatd_env *e, uint64_t now); /* on the probing worker's thread */
int probe_state(void); /* PROBE_REACHABLE when any upstream is */

#endif
