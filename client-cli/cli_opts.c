/* cli_opts — see cli_opts.h. */
#include "cli_opts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char help[] =
    "NAME\n"
    "    chatc - watch a chatd answer stream in a terminal, from a script or by hand\n"
    "\n"
    "SYNOPSIS\n"
    "    chatc [OPTIONS] [PROMPT...]\n"
    "    chatc -i [OPTIONS]\n"
    "    chatc --resume STREAM_ID [--after ID] [OPTIONS]\n"
    "\n"
    "DESCRIPTION\n"
    "    Sends PROMPT (the arguments joined by spaces) to chatd and writes the answer to\n"
    "    standard output as it arrives, one whole character at a time. Without arguments the\n"
    "    prompt is read from standard input; with both, standard input follows the arguments\n"
    "    after a blank line, so `git diff | chatc \"review this\"` works.\n"
    "    On a terminal the output is unbuffered; on a pipe each piece is still written as it\n"
    "    arrives, and no escape codes go into it.\n"
    "    A dropped connection is resumed where it stopped (Last-Event-ID), a few times with\n"
    "    backoff: no character is lost or repeated. Ctrl-C cancels the answer on the server\n"
    "    and exits 130.\n"
    "\n"
    "OPTIONS\n"
    "    -m, --model NAME     the model to ask for (default: chatd's)\n"
    "    -s, --system TEXT    a system message before the prompt\n"
    "    -u, --url URL        chatd's address (default: $CHATD_URL, else http://127.0.0.1:8080)\n"
    "    -j, --json           one JSON object per event instead of text:\n"
    "                         {\"id\":N,\"event\":\"delta\",\"data\":{...}} (for jq)\n"
    "    -r, --reasoning      show the model's reasoning text, on standard error\n"
    "                         (dimmed on a terminal)\n"
    "    -i, --interactive    a conversation: each line is a turn, the history is kept for\n"
    "                         the session; Ctrl-C stops the answer, Ctrl-D leaves\n"
    "        --resume ID      follow stream ID (from the start, or after --after)\n"
    "        --after N        with --resume: the last event id already seen\n"
    "        --retries N      reconnects after a dropped connection (default 5, 0 to 20)\n"
    "    -h, --help           this text\n"
    "        --version        chatc's version\n"
    "\n"
    "    Tool calls the model makes are printed as [tool_call NAME id=ID] ARGUMENTS.\n"
    "\n"
    "ENVIRONMENT\n"
    "    CHATD_URL            default for --url\n"
    "    CHATD_CLIENT_KEY     sent as Authorization: Bearer, when chatd requires client keys\n"
    "    NO_COLOR             no escape codes, even on a terminal\n"
    "\n"
    "EXIT STATUS\n"
    "    0    the answer ended with done\n"
    "    1    it ended with an error event, or chatd answered with an HTTP error (the error's\n"
    "         type and message on standard error, one line)\n"
    "    2    bad usage\n"
    "    3    chatd could not be reached (or was lost, and reconnecting failed)\n"
    "    130  interrupted with Ctrl-C (the answer was cancelled on the server)\n"
    "\n"
    "EXAMPLES\n"
    "    chatc \"Why is the sky blue?\"\n"
    "    git diff | chatc -m smart \"review this\"\n"
    "    chatc --json \"hi\" | jq -r 'select(.event==\"delta\") | .data.text'\n"
    "    chatc -i -s \"Answer briefly.\"\n";

void cli_opts_help(void)
{
    fputs(help, stdout);
}

/* The option's value: "--opt=value" or the next argument. NULL when there is none. */
static const char *value(int argc, char **argv, int *i, const char *eq)
{
    if (eq)
        return eq + 1;
    if (*i + 1 >= argc)
        return NULL;
    return argv[++*i];
}

static int number(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int cli_opts_parse(cli_opts *o, int argc, char **argv, char *err, int errsz)
{
    memset(o, 0, sizeof(*o));
    const char *env_url = getenv("CHATD_URL");
    o->url = env_url && *env_url ? env_url : "http://127.0.0.1:8080";
    const char *key = getenv("CHATD_CLIENT_KEY");
    o->key = key && *key ? key : NULL;
    o->after = -1;
    o->retries = 5;
    const char *nc = getenv("NO_COLOR");
    o->color = isatty(STDERR_FILENO) && !(nc && *nc);
    int i;
    for (i = 1; i < argc; i++) {
        char *a = argv[i];
        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        if (a[0] != '-' || !a[1])
            break;
        char name[32];
        const char *eq = NULL;
        if (a[1] == '-') {
            eq = strchr(a, '=');
            size_t n = eq ? (size_t)(eq - a) : strlen(a);
            if (n >= sizeof(name))
                n = sizeof(name) - 1;
            memcpy(name, a, n);
            name[n] = 0;
        } else {
            if (a[2]) {
                snprintf(err, (size_t)errsz, "unknown option %s (short options go one by one)", a);
                return CLI_USAGE;
            }
            snprintf(name, sizeof(name), "%s", a);
        }
        const char *v;
#define IS(s, l) (!strcmp(name, s) || !strcmp(name, l))
#define NEED()                                                                  \
    do {                                                                        \
        if (!(v = value(argc, argv, &i, eq))) {                                 \
            snprintf(err, (size_t)errsz, "option %s needs a value", name);     \
            return CLI_USAGE;                                                   \
        }                                                                       \
    } while (0)
        if (IS("-h", "--help"))
            return CLI_HELP;
        if (!strcmp(name, "--version"))
            return CLI_VERSION;
        if (IS("-j", "--json") || IS("-r", "--reasoning") || IS("-i", "--interactive")) {
            if (eq) {
                snprintf(err, (size_t)errsz, "option %s takes no value", name);
                return CLI_USAGE;
            }
            if (IS("-j", "--json"))
                o->json = 1;
            else if (IS("-r", "--reasoning"))
                o->reasoning = 1;
            else
                o->interactive = 1;
        } else if (IS("-m", "--model")) {
            NEED();
            o->model = v;
        } else if (IS("-s", "--system")) {
            NEED();
            o->system = v;
        } else if (IS("-u", "--url")) {
            NEED();
            o->url = v;
        } else if (!strcmp(name, "--resume")) {
            NEED();
            o->resume_id = v;
        } else if (!strcmp(name, "--after") || !strcmp(name, "--retries")) {
            NEED();
            long long n;
            int after = !strcmp(name, "--after");
            if (number(v, after ? 0 : 0, after ? (1LL << 53) : 20, &n) < 0) {
                snprintf(err, (size_t)errsz, "%s: not a number in range: %s", name, v);
                return CLI_USAGE;
            }
            if (after)
                o->after = n;
            else
                o->retries = (int)n;
        } else {
            snprintf(err, (size_t)errsz, "unknown option %s", name);
            return CLI_USAGE;
        }
#undef IS
#undef NEED
    }
    o->prompt = argv + i;
    o->nprompt = argc - i;
    if (strncmp(o->url, "http://", 7) && strncmp(o->url, "https://", 8)) {
        snprintf(err, (size_t)errsz, "the URL must start with http:// or https://: %s", o->url);
        return CLI_USAGE;
    }
    if (o->resume_id && (o->nprompt || o->interactive || o->system || o->model)) {
        snprintf(err, (size_t)errsz, "--resume follows a stream: no prompt, -i, -m or -s with it");
        return CLI_USAGE;
    }
    if (o->after >= 0 && !o->resume_id) {
        snprintf(err, (size_t)errsz, "--after goes with --resume");
        return CLI_USAGE;
    }
    if (o->interactive && o->nprompt) {
        snprintf(err, (size_t)errsz, "-i reads its prompts from the terminal: no prompt arguments");
        return CLI_USAGE;
    }
    if (o->resume_id && (!*o->resume_id || strspn(o->resume_id,
                                                   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") !=
                                               strlen(o->resume_id))) {
        snprintf(err, (size_t)errsz, "--resume: not a stream id: %s", o->resume_id);
        return CLI_USAGE;
    }
    return CLI_OK;
}
