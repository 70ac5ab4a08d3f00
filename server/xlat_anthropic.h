/* xlat_anthropic — OpenAI chat request -> Anthropic Messages body. System and developer
 * messages go to system, turns are merged so that user and assistant alternate, content parts,
 * tool calls and tool results become blocks, and every parameter with an equivalent is
 * translated; any other field is refused by name before anything goes upstream. */
#ifndef CHATD_XLAT_ANTHROPIC_H
#define CHATD_XLAT_ANTHROPIC_H

#include <stddef.h>

struct cJSON;

/* max_tokens when the request sets neither max_tokens nor max_completion_tokens
 * (Anthropic requires one). */
#define XLAT_ANTHROPIC_MAX_TOKENS 4096

/* The streaming Messages body for the OpenAI chat request req (its whole JSON object), to
 * model. 0 with *out set (the caller deletes it); or, with *out NULL and a one-line reason
 * naming the field in err, PROV_BUILD_UNSUPPORTED (a field or value Anthropic has no
 * equivalent for), PROV_BUILD_INVALID (a field that cannot be translated as given) or
 * PROV_BUILD_NOMEM. Fields chatd owns (model, stream, stream_options) are not read. */
int xlat_anthropic(const struct cJSON *req, const char *model, struct cJSON **out, char *err,
                   size_t errsz);

#endif
