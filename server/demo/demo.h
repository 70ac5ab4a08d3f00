/* demo — the built-in demo model: an HTTP/1.1 server on 127.0.0.1 that speaks OpenAI's
 * chat-completions API (streaming included) and answers with canned text, so chatd runs
 * its real upstream path with no key and no network. A demo owns its thread, its event
 * loop, its libmicrohttpd daemon and every connection; demo_stop releases all of them.
 * The answers: answers.h; the request: ask.h; the tokens and their encoding: tok.h, gen.h. */
#ifndef CHATD_DEMO_H
#define CHATD_DEMO_H

#include "answers.h" /* DEMO_MODEL */

typedef struct demo demo;

/* Binds 127.0.0.1 on an ephemeral port and starts the server's thread. Tokens go out one
 * every token_interval_ms (a little deterministic jitter around it; 0: as fast as the
 * client reads). 0 and *out set, or a negative errno and *out NULL. */
int demo_start(demo **out, unsigned token_interval_ms);

/* "http://127.0.0.1:PORT/v1": the base URL to give an OpenAI client. Lives as long as d. */
const char *demo_base_url(const demo *d);

/* Stops the thread, closes every connection (streams in flight are cut), frees d.
 * NULL is ignored. */
void demo_stop(demo *d);

#endif
