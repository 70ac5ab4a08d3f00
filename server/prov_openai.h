/* prov_openai — the OpenAI-compatible chat completions provider (OpenAI, vLLM, llama.cpp,
 * Ollama /v1, Groq, OpenRouter, DeepSeek, ...): streamed SSE chunks in, sink calls out.
 * build's -1 also covers an api key holding control characters (it would split headers). */
#ifndef CHATD_PROV_OPENAI_H
#define CHATD_PROV_OPENAI_H

#include "prov.h"

extern const prov prov_openai;

#endif
