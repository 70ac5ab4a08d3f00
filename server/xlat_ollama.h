/* xlat_ollama — OpenAI's chat request, as the client sent it, translated into the body of
 * Ollama's /api/chat: roles, content parts and inline images, tool calls and results, tools,
 * response formats, sampling options, thinking. A field Ollama has no equivalent for is
 * refused, never dropped: the caller gets a one-line reason that names it. */
#ifndef CHATD_XLAT_OLLAMA_H
#define CHATD_XLAT_OLLAMA_H

#include <stddef.h>

struct cJSON;

/* The streamed body for model from the client's JSON root: 0 with *body malloc'd (the
 * caller's), or a PROV_BUILD_* error (prov.h) with *body NULL and, for UNSUPPORTED and
 * INVALID, the reason in err (err may be NULL when errsz is 0).
 *
 * What is translated: system and developer messages become system messages; content parts'
 * texts are joined with "\n"; an image_url part with a base64 data: URL goes into the
 * message's images (its media type dropped; Ollama takes no URL); assistant tool_calls get
 * their arguments as an object ("" and absent: {}), reasoning_content becomes thinking; a
 * tool message gets tool_call_id and tool_name, the name of the assistant's call with that
 * id (else the message's own name). tools pass in OpenAI's schema; tool_choice "none" drops
 * them. response_format json_object -> format "json", json_schema -> format: the schema.
 * temperature, top_p, top_k, min_p, seed, stop, presence_penalty, frequency_penalty and
 * max_completion_tokens or max_tokens (as num_predict) go into options. reasoning_effort
 * sets think (false for "none", else true: Ollama takes no level for most models). Ollama's
 * own think and keep_alive pass as they are; user (an end-user id) is not sent. Defaults
 * are accepted where the field has no equivalent otherwise: n 1, logprobs false,
 * top_logprobs 0, logit_bias {}, modalities ["text"], null for anything. */
int xlat_ollama_body(const struct cJSON *root, const char *model, char **body, char *err,
                     size_t errsz);

#endif
