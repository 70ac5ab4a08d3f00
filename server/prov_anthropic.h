/* prov_anthropic — the Anthropic Messages API provider: a /messages request from the client's
 * whole chat request (translated by xlat_anthropic), its SSE stream read into sink calls, with
 * tool_use blocks as tool calls. build's -1 also covers an api key holding control characters. */
#ifndef CHATD_PROV_ANTHROPIC_H
#define CHATD_PROV_ANTHROPIC_H

#include "prov.h"

extern const prov prov_anthropic;

#endif
