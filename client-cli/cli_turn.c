/* cli_turn — see cli_turn.h. */
#include "cli_turn.h"

#include <cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "sse_parse.h"

#define ERRBODY_MAX (64 * 1024)
#define BACKOFF_FIRST_MS 250
#define BACKOFF_MAX_MS 4000

typedef struct turn {
    const cli_opts *o;
    cli_show *sh;
    buf *answer;
    int intr_fd;
    char stream_id[128];
    long long last_id; /* the last event id shown; -1: none yet */
    int terminal;      /* 1: done; 2: error */
    char err[600];     /* the error event's line */
    int interrupted;
    /* the exchange under way */
    CURL *easy;
    long status; /* 0 until the body begins */
    int sse;     /* the body is an event stream */
    int progress; /* events arrived on this connection */
    int bad_stream; /* the event stream could not be parsed */
    buf errbody;
    ssep p;
} turn;

/* ---------- the event stream ---------- */

static void error_line(const char *data, char *out, size_t n, long status)
{
    cJSON *j = cJSON_Parse(data);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(e, "type");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
    const char *type = cJSON_IsString(ty) ? ty->valuestring : "error";
    const char *m = cJSON_IsString(msg) ? msg->valuestring : "";
    if (status)
        snprintf(out, n, "%s: %s (HTTP %ld)", type, m, status);
    else
        snprintf(out, n, "%s: %s", type, m);
    for (char *c = out; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' '; /* one line */
    cJSON_Delete(j);
}

static int on_event(void *ctx, const ssep_event *ev)
{
    turn *t = ctx;
    long long id = -1;
    if (ev->id_len) {
        char *end;
        id = strtoll(ev->id, &end, 10);
        if (*end)
            id = -1;
    }
    if (id >= 0 && id <= t->last_id)
        return 0; /* seen before the reconnect */
    if (id >= 0)
        t->last_id = id;
    t->progress = 1;
    if (!strcmp(ev->type, "start") && !t->stream_id[0]) {
        cJSON *d = cJSON_Parse(ev->data);
        const cJSON *sid = cJSON_GetObjectItemCaseSensitive(d, "stream_id");
        if (cJSON_IsString(sid))
            snprintf(t->stream_id, sizeof(t->stream_id), "%s", sid->valuestring);
        cJSON_Delete(d);
    } else if (!strcmp(ev->type, "delta") && t->answer) {
        cJSON *d = cJSON_Parse(ev->data);
        const cJSON *tx = cJSON_GetObjectItemCaseSensitive(d, "text");
        if (cJSON_IsString(tx))
            buf_addstr(t->answer, tx->valuestring);
        cJSON_Delete(d);
    } else if (!strcmp(ev->type, "done")) {
        t->terminal = 1;
    } else if (!strcmp(ev->type, "error")) {
        t->terminal = 2;
        error_line(ev->data, t->err, sizeof(t->err), 0);
    }
    cli_show_event(t->sh, ev->type, ev->data, id);
    return t->terminal ? 1 : 0; /* nothing after the terminal event counts */
}

/* The answer's status, and whether its body is an event stream. */
static void note_status(turn *t)
{
    const char *ct = NULL;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->status);
    curl_easy_getinfo(t->easy, CURLINFO_CONTENT_TYPE, &ct);
    t->sse = t->status == 200 && ct && !strncasecmp(ct, "text/event-stream", 17);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    turn *t = ud;
    size_t len = size * n;
    if (!t->status)
        note_status(t);
    if (!t->sse) {
        if (buf_len(&t->errbody) + len <= ERRBODY_MAX)
            buf_add(&t->errbody, p, len);
        return len;
    }
    int rc = ssep_feed(&t->p, p, len, on_event, t);
    cli_show_flush(t->sh);
    if (rc < 0) {
        t->bad_stream = 1;
        return 0; /* abort: this is not chatd's stream */
    }
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    turn *t = ud;
    size_t len = size * n;
    static const char name[] = "x-chatd-stream-id:";
    if (len > sizeof(name) - 1 && !strncasecmp(p, name, sizeof(name) - 1) && !t->stream_id[0]) {
        const char *v = p + sizeof(name) - 1;
        const char *end = p + len;
        while (v < end && (*v == ' ' || *v == '\t'))
            v++;
        while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
            end--;
        if ((size_t)(end - v) < sizeof(t->stream_id)) {
            memcpy(t->stream_id, v, (size_t)(end - v));
            t->stream_id[end - v] = 0;
        }
    }
    return len;
}

/* ---------- one exchange ---------- */

static int drain(int fd)
{
    char b[64];
    int any = 0;
    while (read(fd, b, sizeof(b)) > 0)
        any = 1;
    return any;
}

static struct curl_slist *headers(const turn *t, int json_body, long long last_id)
{
    struct curl_slist *h = curl_slist_append(NULL, "Accept: text/event-stream");
    char line[512];
    if (json_body)
        h = curl_slist_append(h, "Content-Type: application/json");
    if (t->o->key) {
        snprintf(line, sizeof(line), "Authorization: Bearer %s", t->o->key);
        h = curl_slist_append(h, line);
    }
    if (last_id >= 0) {
        snprintf(line, sizeof(line), "Last-Event-ID: %lld", last_id);
        h = curl_slist_append(h, line);
    }
    return h;
}

/* The URL of path on chatd (its base without a trailing slash). */
static void url_of(const turn *t, const char *path, char *out, size_t n)
{
    size_t bl = strlen(t->o->url);
    while (bl && t->o->url[bl - 1] == '/')
        bl--;
    snprintf(out, n, "%.*s%s", (int)bl, t->o->url, path);
}

/* One request, read to its end or until the user interrupts. */
static CURLcode exchange(turn *t, const char *path, const char *body, long long last_id)
{
    char url[2048];
    url_of(t, path, url, sizeof(url));
    t->status = 0;
    t->sse = 0;
    t->progress = 0;
    t->bad_stream = 0;
    buf_reset(&t->errbody);
    ssep_init(&t->p);
    CURL *e = curl_easy_init();
    CURLM *m = curl_multi_init();
    struct curl_slist *h = headers(t, body != NULL, last_id);
    CURLcode res = CURLE_OUT_OF_MEMORY;
    if (!e || !m || !h)
        goto out;
    t->easy = e;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "chatc/0.1");
    if (body)
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_multi_add_handle(m, e);
    int running = 1;
    while (running) {
        if (curl_multi_perform(m, &running) != CURLM_OK)
            break;
        if (!running)
            break;
        struct curl_waitfd w = {.fd = t->intr_fd, .events = CURL_WAIT_POLLIN};
        curl_multi_poll(m, &w, 1, 1000, NULL);
        if ((w.revents & CURL_WAIT_POLLIN) && drain(t->intr_fd)) {
            t->interrupted = 1;
            break;
        }
    }
    res = CURLE_OK;
    int left;
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(m, &left)))
        if (msg->msg == CURLMSG_DONE)
            res = msg->data.result;
    if (!t->status && !t->interrupted) /* no body came: a 204, or a drop after the head */
        note_status(t);
    /* No ssep_finish: chatd ends every event with its blank line, so an event without one
     * was cut by a dropped connection, and is read again whole after the reconnect. */
    curl_multi_remove_handle(m, e);
out:
    t->easy = NULL;
    ssep_free(&t->p);
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    curl_multi_cleanup(m);
    return res;
}

static size_t on_discard(char *p, size_t size, size_t n, void *ud)
{
    return size * n;
}

/* Stops the answer on the server: the upstream request ends, no more tokens are paid. */
static void cancel(turn *t)
{
    if (!t->stream_id[0])
        return;
    char path[256], url[2048];
    snprintf(path, sizeof(path), "/api/streams/%s/cancel", t->stream_id);
    url_of(t, path, url, sizeof(url));
    CURL *e = curl_easy_init();
    struct curl_slist *h = headers(t, 0, -1);
    if (e && h) {
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 3000L);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_discard);
        curl_easy_perform(e);
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
}

static int connect_failed(CURLcode rc)
{
    return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
           rc == CURLE_COULDNT_RESOLVE_PROXY || rc == CURLE_OPERATION_TIMEDOUT ||
           rc == CURLE_SSL_CONNECT_ERROR;
}

/* Waits ms, or less if the user interrupts: 1 then. */
static int pause_ms(turn *t, int ms)
{
    struct pollfd p = {.fd = t->intr_fd, .events = POLLIN};
    int r = poll(&p, 1, ms);
    return r > 0 && drain(t->intr_fd);
}

/* One line on stderr. */
__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("chatc: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

turn_result cli_turn_run(const cli_opts *o, cli_show *sh, const cli_ask *ask, int intr_fd,
                         buf *answer)
{
    turn t = {.o = o, .sh = sh, .answer = answer, .intr_fd = intr_fd, .last_id = -1};
    buf_init(&t.errbody, ERRBODY_MAX);
    if (ask->resume_id) {
        snprintf(t.stream_id, sizeof(t.stream_id), "%s", ask->resume_id);
        t.last_id = ask->after;
    }
    turn_result r;
    int attempt = 0, first = 1;
    for (;;) {
        CURLcode rc;
        char path[256];
        if (first && ask->body) {
            rc = exchange(&t, "/api/chat", ask->body, -1);
        } else {
            snprintf(path, sizeof(path), "/api/streams/%s", t.stream_id);
            rc = exchange(&t, path, NULL, t.last_id);
        }
        int was_first = first;
        first = 0;
        if (t.interrupted) {
            cancel(&t);
            r = TURN_INTERRUPTED;
            break;
        }
        if (t.terminal == 1) {
            r = TURN_DONE;
            break;
        }
        if (t.terminal == 2) {
            cli_show_end(sh);
            say("%s", t.err);
            r = TURN_ERROR;
            break;
        }
        if (t.status == 204) {
            r = TURN_DONE; /* resumed after the terminal event: nothing more will come */
            break;
        }
        /* An answer that is not an event stream: chatd's (or a proxy's) HTTP error. A
         * proxy's 502-504 while reconnecting is passing: try again. */
        if (t.status && !t.sse &&
            (was_first || !(t.status >= 502 && t.status <= 504))) {
            char line[600];
            buf_add(&t.errbody, "", 1);
            error_line(buf_ptr(&t.errbody), line, sizeof(line), t.status);
            say("%s", line);
            r = TURN_ERROR;
            break;
        }
        if (t.bad_stream) {
            say("invalid_response: chatd's event stream could not be read");
            r = TURN_ERROR;
            break;
        }
        /* The connection was lost (or never made). */
        if (!t.stream_id[0]) {
            if (connect_failed(rc))
                say("cannot reach chatd at %s: %s", o->url, curl_easy_strerror(rc));
            else
                say("the connection to %s was lost before the answer began: %s", o->url,
                    curl_easy_strerror(rc));
            r = TURN_UNREACHABLE;
            break;
        }
        if (t.progress)
            attempt = 0;
        if (attempt >= o->retries) {
            say("the connection was lost and %d reconnects failed (%s)", o->retries,
                curl_easy_strerror(rc));
            r = TURN_UNREACHABLE;
            break;
        }
        int ms = BACKOFF_FIRST_MS << (attempt < 5 ? attempt : 5);
        attempt++;
        if (pause_ms(&t, ms > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : ms)) {
            t.interrupted = 1;
            cancel(&t);
            r = TURN_INTERRUPTED;
            break;
        }
    }
    cli_show_end(sh);
    buf_free(&t.errbody);
    return r;
}
