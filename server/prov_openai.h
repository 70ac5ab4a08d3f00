/* prov_openai — the OpenAI-compatible chat completions provider (OpenAI, vLLM, llama.cpp,
 * Ollama /v1, Groq, OpenRouter, DeepSeek, ...): streamed SSE chunks in, sink calls out.
 * build sends the client's request as it came, only model, stream and stream_options set
 * by chatd; n > 1 is unsupported. Its -1 also covers an api key holding control characters
 * (it would split headers). The reader relays text, reasoning and delta.tool_calls. */
#ifndef CHATD_PROV_OPENAI_H
#define CHATD_PROV_OPENAI_H

#include "prov.h"

extern const prov prov_openai;

/* How the stream reader reports one "message" event's data[0..n) (a chunk; no NUL needed
 * after it), in two ways that must agree; exported so that tests can hold them to that.
 * The tree: parsed with cJSON, the reference. Returns the first non-zero sink value,
 * PROV_ERR_PARSE when data is no JSON object or holds a malformed tool call, else 0.
 * A chunk read alone has no tool call started before it (the stream reader remembers). */
int prov_openai_chunk_tree(const prov_sink *k, const char *data, size_t n);

/* Without allocating, for the common chunk: 1 with *rc what prov_openai_chunk_tree would
 * return, after the same sink calls; or 0, nothing reported, when it leaves the chunk to
 * the tree (the reader then parses it there). */
int prov_openai_chunk_fast(const prov_sink *k, const char *data, size_t n, int *rc);

#endif
