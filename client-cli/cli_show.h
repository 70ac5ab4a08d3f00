/* cli_show — what chatc writes: the answer's text on stdout one whole character at a time
 * (through chatd's grapheme segmenter), reasoning on stderr (dimmed on a terminal), tool
 * calls as such, or with --json one JSON object per event. Knows nothing of HTTP. */
#ifndef CHATC_CLI_SHOW_H
#define CHATC_CLI_SHOW_H

#include <stddef.h>

#include "seg.h"

typedef struct cli_show {
    int json;      /* one JSON object per event */
    int reasoning; /* show reasoning */
    int color;     /* escape codes on stderr */
    int tty;       /* stdout is a terminal */
    seg text;      /* the answer's text, cut into whole characters */
    int at_bol;    /* stdout's last byte was a newline (or nothing was written) */
    int in_reasoning; /* stderr is inside a dimmed reasoning run */
    int in_tool;   /* a tool call's arguments are being printed */
    int tool_index;
} cli_show;

void cli_show_init(cli_show *s, int json, int reasoning, int color);
/* One event of the native stream (type, its JSON data, its id). */
void cli_show_event(cli_show *s, const char *type, const char *data, long long id);
/* The pieces so far are out (a pipe's reader sees them now). */
void cli_show_flush(cli_show *s);
/* The answer ended (or stopped): whatever is held goes out, and a newline on a terminal
 * if the text did not end with one. */
void cli_show_end(cli_show *s);

#endif
