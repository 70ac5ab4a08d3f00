/* prov_openai — the OpenAI-compatible chat completions provider (OpenAI, vLLM, llama.cpp,
 * Ollama /v1, Groq, OpenRouter, DeepSeek, ...): streamed SSE chunks in, sink calls out.
 * build's -1 also covers an api key holding control characters (it would split headers). */
#ifndef CHATD_PROV_OPENAI_H
#define CHATD_PROV_OPENAI_H

#include "prov.h"

extern const prov prov_openai;

/* How the stream reader reports one "message" event's data[0..n) (a chunk; no NUL needed
 * after it), in two ways that must agree; exported so that tests can hold them to that.
 * The tree: parsed with cJSON, the reference. Returns the first non-zero sink value,
 * PROV_ERR_PARSE when data is no JSON object, else 0. */
int prov_openai_chunk_tree(const prov_sink *k, const char *data, size_t n);

/* Without allocating, for the common chunk: 1 with *rc what prov_openai_chunk_tree would
 * return, after the same sink calls; or 0, nothing reported, when it leaves the chunk to
 * the tree (the reader then parses it there). */
int prov_openai_chunk_fast(const prov_sink *k, const char *data, size_t n, int *rc);

#endif
