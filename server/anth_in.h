/* anth_in — Anthropic's Messages request (POST /v1/messages) rewritten as OpenAI's chat
 * request, the one chatd's providers take: system, messages with every block kind that
 * has an equivalent, tools, tool_choice and the parameters. What has none is refused with
 * the field named, never dropped. The JSON it returns is the caller's to free. */
#ifndef CHATD_ANTH_IN_H
#define CHATD_ANTH_IN_H

#include <stddef.h>

/* The outcomes besides 0: INVALID is a malformed request or an unknown field (400
 * invalid_request); UNSUPPORTED a field without an OpenAI equivalent (400
 * unsupported_parameter). */
enum { ANTH_IN_NOMEM = -1, ANTH_IN_INVALID = -2, ANTH_IN_UNSUPPORTED = -3 };

/* 0 and *out the OpenAI request (malloc'd, NUL-terminated), or an ANTH_IN_* code with a
 * one-line reason naming the field (Anthropic's path, e.g. messages[1].content[0].source)
 * in err. */
int anth_in_translate(const char *body, size_t len, char **out, char *err, size_t errsz);

/* The reasoning_effort a thinking budget maps to: below 4096 tokens "low", below 16384
 * "medium", else "high". */
const char *anth_in_effort(double budget_tokens);

#endif
