/* prov_ollama — Ollama's native /api/chat provider: the client's request translated
 * (xlat_ollama.h), its newline-delimited JSON stream read into sink calls, each whole tool
 * call as its start and one arguments fragment. build's -1 also covers an api key holding
 * control characters (a key is only sent for Ollama behind a proxy). */
#ifndef CHATD_PROV_OLLAMA_H
#define CHATD_PROV_OLLAMA_H

#include "prov.h"

extern const prov prov_ollama;

#endif
