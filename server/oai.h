/* oai — encodes chatd's output in OpenAI's chat-completions shapes: the streamed
 * chat.completion.chunk events (`data: {...}` lines ending in `data: [DONE]`), the
 * single chat.completion object, and OpenAI's error object. Appends to caller-owned bufs;
 * a failed call (-1) leaves the buf's bytes as they were, with its sticky error set. */
#ifndef CHATD_OAI_H
#define CHATD_OAI_H

#include <stddef.h>

#include "buf.h"

/* The id, object, created and model fields every chunk of one stream repeats, written
 * once: `{"id":"chatcmpl-ID","object":"chat.completion.chunk","created":T,"model":"M"`. */
int oai_chunk_head(buf *b, const char *id, long created, const char *model);
/* A chunk whose delta is {"role":"assistant","content":""}. */
int oai_chunk_role(buf *out, const char *head, size_t hn);
/* A chunk with one piece of content (reasoning: delta.reasoning_content). */
int oai_chunk_text(buf *out, const char *head, size_t hn, int reasoning, const char *p, size_t n);
/* A tool call starts: delta.tool_calls[{index, id, type, function{name, arguments:""}}]. */
int oai_chunk_tool(buf *out, const char *head, size_t hn, int index, const char *id,
                   const char *name);
/* A fragment of its arguments: delta.tool_calls[{index, function{arguments}}]. */
int oai_chunk_tool_args(buf *out, const char *head, size_t hn, int index, const char *p, size_t n);
/* The chunk with an empty delta and finish_reason; the usage chunk when usage is known
 * (prompt >= 0) and asked for; then `data: [DONE]`. */
int oai_chunk_end(buf *out, const char *head, size_t hn, const char *finish, int with_usage,
                  long prompt, long completion);
/* `data: {"error":{...}}`: what OpenAI's SDKs raise as an APIError mid-stream. */
int oai_chunk_error(buf *out, const char *type, const char *msg);
/* The whole non-streamed answer. */
/* tools: the message's tool_calls as a JSON array (ton 0: none; content is then null when
 * there is no text, as OpenAI answers). */
int oai_completion(buf *out, const char *id, long created, const char *model, const char *text,
                   size_t tn, const char *reasoning, size_t rn, const char *tools, size_t ton,
                   const char *finish, long prompt, long completion);
/* {"error":{"message":..,"type":..,"param":null,"code":..}} for chatd's error type. */
int oai_error_body(buf *out, const char *type, const char *msg);

#endif
