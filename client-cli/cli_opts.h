/* cli_opts — chatc's command line: what it asks for, read from the arguments and the
 * environment (CHATD_URL, CHATD_CLIENT_KEY, NO_COLOR). */
#ifndef CHATC_CLI_OPTS_H
#define CHATC_CLI_OPTS_H

typedef struct cli_opts {
    const char *url;        /* chatd's base URL, no trailing slash */
    const char *model;      /* NULL: chatd's default */
    const char *system;     /* NULL: no system message */
    const char *key;        /* CHATD_CLIENT_KEY; NULL: none */
    const char *resume_id;  /* --resume: follow this stream instead of asking */
    long long after;        /* --after: with --resume, the last event id already seen */
    int json;               /* --json: one JSON object per event */
    int reasoning;          /* --reasoning: thinking text on stderr */
    int interactive;        /* -i */
    int retries;            /* reconnects after a dropped connection */
    int color;              /* escape codes allowed on stderr (a terminal, no NO_COLOR) */
    char **prompt;          /* the prompt's words */
    int nprompt;
} cli_opts;

enum { CLI_OK = 0, CLI_HELP = 1, CLI_VERSION = 2, CLI_USAGE = -1 };

/* Fills o. CLI_OK, CLI_HELP / CLI_VERSION (print and exit 0), or CLI_USAGE with a one-line
 * reason in err. */
int cli_opts_parse(cli_opts *o, int argc, char **argv, char *err, int errsz);
void cli_opts_help(void);

#endif
