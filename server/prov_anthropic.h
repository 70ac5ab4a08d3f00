/* prov_anthropic — the Anthropic Messages API provider: a /messages request built from the
 * chat request (system messages lifted out, same-role turns merged), its SSE stream read
 * into sink calls. build's -1 also covers an api key holding control characters. */
#ifndef CHATD_PROV_ANTHROPIC_H
#define CHATD_PROV_ANTHROPIC_H

#include "prov.h"

extern const prov prov_anthropic;

#endif
