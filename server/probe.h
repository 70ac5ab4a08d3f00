/* probe — is the upstream reachable? One worker asks every few seconds with a plain GET
 * (any HTTP answer, even 401 or 404, proves it is reachable); /readyz reports the last
 * answer. The state is one atomic, read from any worker. */
#ifndef CHATD_PROBE_H
#define CHATD_PROBE_H

#include <stdint.h>

#include "env.h"
#include "up.h"

#define PROBE_EVERY_MS 10000

enum { PROBE_UNKNOWN, PROBE_REACHABLE, PROBE_UNREACHABLE };

void probe_tick(up *u, const chatd_env *e, uint64_t now); /* on the probing worker's thread */
int probe_state(void);

#endif
