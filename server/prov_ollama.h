/* prov_ollama — Ollama's native /api/chat provider: the request built from the chat request
 * as is, its newline-delimited JSON stream read into sink calls. build's -1 also covers an
 * api key holding control characters (a key is only sent for Ollama behind a proxy). */
#ifndef CHATD_PROV_OLLAMA_H
#define CHATD_PROV_OLLAMA_H

#include "prov.h"

extern const prov prov_ollama;

#endif
