/* chatc — chatd's terminal client: one answer from the arguments or standard input, a
 * stream followed by id, or a conversation at a prompt (-i). See cli_opts.c for usage. */
#include <cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cli_opts.h"
#include "cli_show.h"
#include "cli_turn.h"

#define PROMPT_MAX (16u * 1024 * 1024)
#define ANSWER_MAX (64u * 1024 * 1024)

static int intr_pipe[2] = {-1, -1};

/* Ctrl-C: a byte on the pipe the transfer loop and the prompt watch. */
static void on_sigint(int sig)
{
    int saved = errno;
    char b = 1;
    if (write(intr_pipe[1], &b, 1) < 0) {
        /* full: an interrupt is pending already */
    }
    errno = saved;
}

static int setup_signals(void)
{
    if (pipe(intr_pipe) < 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        fcntl(intr_pipe[i], F_SETFL, fcntl(intr_pipe[i], F_GETFL) | O_NONBLOCK);
        fcntl(intr_pipe[i], F_SETFD, FD_CLOEXEC);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a read at the prompt returns EINTR */
    return sigaction(SIGINT, &sa, NULL);
}

static int interrupted(void)
{
    char b[64];
    int any = 0;
    while (read(intr_pipe[0], b, sizeof(b)) > 0)
        any = 1;
    return any;
}

/* Standard input, whole (a piped diff, a file). -1 over PROMPT_MAX or on an interrupt. */
static int read_all(buf *out)
{
    char b[65536];
    for (;;) {
        ssize_t n = read(STDIN_FILENO, b, sizeof(b));
        if (n < 0 && errno == EINTR) {
            if (interrupted())
                return -2;
            continue;
        }
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        if (buf_add(out, b, (size_t)n) < 0)
            return -1;
    }
}

static void add_message(cJSON *msgs, const char *role, const char *content)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", role);
    cJSON_AddStringToObject(m, "content", content);
    cJSON_AddItemToArray(msgs, m);
}

static char *request_body(const cli_opts *o, cJSON *msgs)
{
    cJSON *req = cJSON_CreateObject();
    cJSON_AddItemReferenceToObject(req, "messages", msgs);
    if (o->model)
        cJSON_AddStringToObject(req, "model", o->model);
    char *s = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    return s;
}

static cJSON *new_history(const cli_opts *o)
{
    cJSON *msgs = cJSON_CreateArray();
    if (o->system)
        add_message(msgs, "system", o->system);
    return msgs;
}

static int one_shot(const cli_opts *o, cli_show *sh)
{
    buf prompt;
    buf_init(&prompt, PROMPT_MAX);
    for (int i = 0; i < o->nprompt; i++) {
        if (i)
            buf_add(&prompt, " ", 1);
        buf_addstr(&prompt, o->prompt[i]);
    }
    if (!o->nprompt || !isatty(STDIN_FILENO)) {
        buf in;
        buf_init(&in, PROMPT_MAX);
        int rc = read_all(&in);
        if (rc == -2) {
            buf_free(&in);
            buf_free(&prompt);
            return TURN_INTERRUPTED;
        }
        if (rc < 0) {
            fprintf(stderr, "chatc: cannot read the prompt from standard input (at most %u bytes)\n",
                    PROMPT_MAX);
            buf_free(&in);
            buf_free(&prompt);
            return 2;
        }
        if (buf_len(&in) && buf_len(&prompt))
            buf_add(&prompt, "\n\n", 2);
        buf_add(&prompt, buf_ptr(&in), buf_len(&in));
        buf_free(&in);
    }
    buf_add(&prompt, "", 1);
    if (buf_failed(&prompt) || !buf_ptr(&prompt)[0]) {
        fprintf(stderr, "chatc: %s\n", buf_failed(&prompt) ? "the prompt is too large"
                                                            : "no prompt (give one, or pipe it in)");
        buf_free(&prompt);
        return 2;
    }
    cJSON *msgs = new_history(o);
    add_message(msgs, "user", buf_ptr(&prompt));
    buf_free(&prompt);
    char *body = request_body(o, msgs);
    cJSON_Delete(msgs);
    if (!body)
        return TURN_ERROR;
    cli_ask ask = {.body = body, .after = -1};
    turn_result r = cli_turn_run(o, sh, &ask, intr_pipe[0], NULL);
    cJSON_free(body);
    return (int)r;
}

/* A line from standard input without its newline: 1; 0 at the end (Ctrl-D); -1 when
 * Ctrl-C cleared it. */
static int read_line(buf *line)
{
    buf_reset(line);
    for (;;) {
        char c;
        ssize_t n = read(STDIN_FILENO, &c, 1);
        if (n < 0 && errno == EINTR) {
            if (interrupted())
                return -1;
            continue;
        }
        if (n <= 0)
            return buf_len(line) ? 1 : 0;
        if (c == '\n')
            return 1;
        if (buf_add(line, &c, 1) < 0)
            return 1; /* over the cap: the line so far */
    }
}

static int interactive(const cli_opts *o, cli_show *sh)
{
    int tty = isatty(STDIN_FILENO);
    cJSON *msgs = new_history(o);
    buf line, answer;
    buf_init(&line, PROMPT_MAX);
    buf_init(&answer, ANSWER_MAX);
    if (tty)
        fprintf(stderr, "chatc: talking to %s. Ctrl-C stops an answer, Ctrl-D leaves.\n", o->url);
    for (;;) {
        if (tty) {
            fputs("> ", stderr);
            fflush(stderr);
        }
        int got = read_line(&line);
        if (got == 0)
            break;
        if (got < 0) {
            fputc('\n', stderr);
            continue;
        }
        buf_add(&line, "", 1);
        if (!buf_ptr(&line)[0])
            continue;
        add_message(msgs, "user", buf_ptr(&line));
        char *body = request_body(o, msgs);
        buf_reset(&answer);
        interrupted(); /* a Ctrl-C typed before this turn is not for it */
        cli_ask ask = {.body = body, .after = -1};
        turn_result r = body ? cli_turn_run(o, sh, &ask, intr_pipe[0], &answer) : TURN_ERROR;
        cJSON_free(body);
        if (r == TURN_DONE || r == TURN_INTERRUPTED) {
            buf_add(&answer, "", 1);
            add_message(msgs, "assistant", buf_ptr(&answer));
            if (r == TURN_INTERRUPTED)
                fputs("chatc: stopped\n", stderr);
        } else {
            /* the question had no answer: take it back, it can be asked again */
            cJSON_DeleteItemFromArray(msgs, cJSON_GetArraySize(msgs) - 1);
        }
    }
    if (tty)
        fputc('\n', stderr);
    buf_free(&line);
    buf_free(&answer);
    cJSON_Delete(msgs);
    return 0;
}

int main(int argc, char **argv)
{
    cli_opts o;
    char err[300];
    int rc = cli_opts_parse(&o, argc, argv, err, sizeof(err));
    if (rc == CLI_HELP) {
        cli_opts_help();
        return 0;
    }
    if (rc == CLI_VERSION) {
        printf("chatc 0.1 (%s)\n", curl_version());
        return 0;
    }
    if (rc == CLI_USAGE) {
        fprintf(stderr, "chatc: %s (chatc --help)\n", err);
        return 2;
    }
    if (setup_signals() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        fprintf(stderr, "chatc: cannot start: %s\n", strerror(errno));
        return 1;
    }
    cli_show sh;
    cli_show_init(&sh, o.json, o.reasoning, o.color);
    if (sh.tty)
        setvbuf(stdout, NULL, _IONBF, 0);
    if (o.resume_id) {
        cli_ask ask = {.resume_id = o.resume_id, .after = o.after};
        rc = (int)cli_turn_run(&o, &sh, &ask, intr_pipe[0], NULL);
    } else if (o.interactive) {
        rc = interactive(&o, &sh);
    } else {
        rc = one_shot(&o, &sh);
    }
    curl_global_cleanup();
    return rc;
}
