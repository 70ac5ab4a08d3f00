/* cli_turn — one answer from chatd over HTTP (libcurl): POST /api/chat, or following a
 * stream by id; the event stream read with chatd's SSE parser and handed to cli_show.
 * A connection dropped mid-answer is resumed with Last-Event-ID (GET /api/streams/{id}),
 * with backoff, skipping nothing and repeating nothing; an interrupt (a byte on intr_fd)
 * cancels the stream on the server (POST /api/streams/{id}/cancel). */
#ifndef CHATC_CLI_TURN_H
#define CHATC_CLI_TURN_H

#include "buf.h"
#include "cli_opts.h"
#include "cli_show.h"

/* The outcome, as chatc's exit status. */
typedef enum {
    TURN_DONE = 0,
    TURN_ERROR = 1,       /* an error event or an HTTP error: said on stderr */
    TURN_UNREACHABLE = 3, /* chatd could not be reached, or was lost for good: said */
    TURN_INTERRUPTED = 130
} turn_result;

typedef struct cli_ask {
    const char *body;      /* a POST /api/chat body; NULL: follow resume_id */
    const char *resume_id; /* the stream to follow */
    long long after;       /* with resume_id: the last event id already seen; -1: none */
} cli_ask;

/* Runs one answer to its end. answer (or NULL) gets the answer's text, for a history.
 * intr_fd: readable when the user interrupts (a signal handler writes to its pipe). */
turn_result cli_turn_run(const cli_opts *o, cli_show *sh, const cli_ask *ask, int intr_fd,
                         buf *answer);

#endif
