/* demo — see demo.h.
 * One thread runs an event loop (loop.c) that watches three kinds of fd: the epoll fd of
 * a libmicrohttpd daemon in external-epoll mode (no thread of its own), an eventfd that
 * demo_stop writes, and the socket of every streaming connection, for the client's
 * hang-up (MHD does not look at a suspended connection). A request's body is read whole,
 * then the request is answered at once (JSON) or with a token stream: the response's
 * content callback hands MHD one event per call, one HTTP chunk each, and suspends the
 * connection while the next token is not due; the loop resumes it when it is. */
#include "demo.h"

#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ask.h"
#include "buf.h"
#include "gen.h"
#include "loop.h"

#define DEMO_CONNS_MAX 4096        /* connections beyond this are closed on accept */
#define DEMO_HEAD_MAX (16u * 1024) /* request line and headers */
#define DEMO_BODY_MAX (1u << 20)   /* request body */
#define DEMO_POOL (32u * 1024)     /* MHD's memory per connection (head, write buffer) */
#define DEMO_EVENT_MAX (4u * 1024) /* one streamed event; a token's is about 250 bytes */
#define DEMO_JSON_MAX (64u * 1024) /* one JSON response */
#define DEMO_SNDBUF (16 * 1024)    /* kernel send buffer per connection (doubled by Linux) */
#define DEMO_NAME_MAX 128          /* method or path echoed in a 404, bytes with the NUL */
#define DEMO_WAIT_MAX 60000        /* longest wait of the loop with streams to time, ms */

/* Where a stream is: the role chunk, the tokens (then the finish chunk), the usage chunk
 * when asked for, [DONE], the end of the body. */
enum { F_ROLE, F_TOKENS, F_USAGE, F_DONE, F_END };

/* One streamed answer: the state of its response's content callback. Owned by the MHD
 * response (freed by the response's free callback); listed in demo.feeds while it lives. */
typedef struct feed {
    demo *d;
    struct MHD_Connection *mc;
    gen g;
    int phase;
    int suspended; /* MHD has the connection suspended; the loop resumes it */
    int gone;      /* the client hung up or the demo stops: the response ends */
    int fd;        /* the client's socket, watched for its hang-up; -1: not watched */
    uint64_t due;  /* F_TOKENS: when the next token (or the finish) goes out */
    buf ev;        /* the event being handed to MHD */
    struct feed *prev, *next;
} feed;

/* One request: its body, read whole before the request is answered. Owned by MHD's
 * request context: made by the first call, freed when the request completes. */
typedef struct exch {
    buf body;
    int too_large; /* the body went over DEMO_BODY_MAX: the rest is dropped, 413 */
    int answered;  /* a response is queued */
} exch;

struct demo {
    struct MHD_Daemon *mhd;
    loop *l;
    int wfd;  /* eventfd: demo_stop wakes the thread */
    int quit; /* set by the thread on that wake-up */
    pthread_t thr;
    int thr_live;
    unsigned interval;
    uint64_t seq; /* response ids */
    feed *feeds;
    buf json; /* one JSON response being written: the thread is its only user */
    char url[64];
};

/* ---- responses ---- */

/* Queues n bytes of JSON. close: the connection ends after this response (its framing is
 * lost, or a refused body was left unread). */
static enum MHD_Result send_json(struct MHD_Connection *mc, unsigned status, const char *body,
                                 size_t n, int close)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(n, (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result rc;
    if (!r)
        return MHD_NO;
    rc = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (rc == MHD_YES && close)
        rc = MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    if (rc == MHD_YES)
        rc = MHD_queue_response(mc, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* An error in OpenAI's shape. param: the request field at fault, or NULL. */
static enum MHD_Result send_error(demo *d, struct MHD_Connection *mc, unsigned status,
                                  const char *msg, const char *param, int close)
{
    buf_reset(&d->json);
    if (gen_error(&d->json, (int)status, msg, param) < 0)
        return MHD_NO;
    return send_json(mc, status, buf_ptr(&d->json), buf_len(&d->json), close);
}

static enum MHD_Result send_models(struct MHD_Connection *mc)
{
    static const char body[] = "{\"object\":\"list\",\"data\":[{\"id\":\"" DEMO_MODEL
                               "\",\"object\":\"model\",\"created\":1700000000,"
                               "\"owned_by\":\"chatd\"}]}";
    return send_json(mc, 200, body, sizeof(body) - 1, 0);
}

static uint64_t next_seed(demo *d)
{
    return d->seq++ ^ ((uint64_t)time(NULL) << 20);
}

static enum MHD_Result send_completion(demo *d, struct MHD_Connection *mc, const ask *q)
{
    gen g;
    gen_init(&g, q, next_seed(d), (long long)time(NULL));
    buf_reset(&d->json);
    if (gen_completion(&g, &d->json) < 0)
        return MHD_NO;
    return send_json(mc, 200, buf_ptr(&d->json), buf_len(&d->json), 0);
}

/* ---- the token stream ---- */

static void feed_resume(feed *f)
{
    if (!f->suspended)
        return;
    f->suspended = 0;
    MHD_resume_connection(f->mc);
}

static void on_hup(loop *l, int fd, unsigned events, void *ud)
{
    feed *f = ud;
    /* A client gone mid-stream is dropped at once: nobody reads what follows. */
    loop_unwatch(l, fd);
    f->fd = -1;
    f->gone = 1;
    feed_resume(f);
}

/* Puts the next event into f->ev. 1: there is one; 0: none now (the next token is not
 * due, or the stream is over); -1: no memory. */
static int feed_next(feed *f, uint64_t now)
{
    gen *g = &f->g;
    switch (f->phase) {
    case F_ROLE:
        f->phase = F_TOKENS;
        return gen_role(g, &f->ev) < 0 ? -1 : 1;
    case F_TOKENS:
        if (now < f->due)
            return 0;
        f->due = now + gen_delay(g, f->d->interval);
        if (gen_more(g))
            return gen_token(g, &f->ev) < 0 ? -1 : 1;
        f->phase = g->include_usage ? F_USAGE : F_DONE;
        return gen_finish(g, &f->ev) < 0 ? -1 : 1;
    case F_USAGE:
        f->phase = F_DONE;
        return gen_usage(g, &f->ev) < 0 ? -1 : 1;
    case F_DONE:
        f->phase = F_END;
        return gen_done(&f->ev) < 0 ? -1 : 1;
    default:
        return 0;
    }
}

/* MHD's content callback: one event per call (MHD sends each as one chunk). With nothing
 * due it suspends the connection, or MHD would call again in a busy loop. */
static ssize_t feed_read(void *cls, uint64_t pos, char *dst, size_t max)
{
    feed *f = cls;
    if (f->gone)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (buf_len(&f->ev) == 0) {
        int r = feed_next(f, loop_now_ms());
        if (r < 0)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (r == 0 && f->phase == F_END)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (r == 0) {
            f->suspended = 1;
            MHD_suspend_connection(f->mc);
            return 0;
        }
    }
    size_t n = buf_len(&f->ev) < max ? buf_len(&f->ev) : max;
    memcpy(dst, buf_ptr(&f->ev), n);
    buf_consume(&f->ev, n);
    return (ssize_t)n;
}

/* The response is done with the stream (sent, cut, or the demo stops). */
static void feed_free(void *cls)
{
    feed *f = cls;
    demo *d = f->d;
    if (f->fd >= 0)
        loop_unwatch(d->l, f->fd);
    if (f->prev)
        f->prev->next = f->next;
    else
        d->feeds = f->next;
    if (f->next)
        f->next->prev = f->prev;
    buf_free(&f->ev);
    free(f);
}

/* Watches the client's socket for its FIN or RST only: MHD reads the socket itself. */
static void feed_watch(feed *f)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(f->mc, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci && loop_watch(f->d->l, ci->connect_fd, EPOLLRDHUP, on_hup, f) == 0)
        f->fd = ci->connect_fd;
}

static enum MHD_Result stream_start(demo *d, struct MHD_Connection *mc, const ask *q)
{
    struct MHD_Response *r;
    enum MHD_Result rc;
    feed *f = calloc(1, sizeof(*f));
    if (!f)
        return MHD_NO;
    f->d = d;
    f->mc = mc;
    f->fd = -1;
    f->phase = F_ROLE;
    buf_init(&f->ev, DEMO_EVENT_MAX);
    gen_init(&f->g, q, next_seed(d), (long long)time(NULL));
    f->due = loop_now_ms() + gen_delay(&f->g, d->interval);
    f->next = d->feeds;
    if (d->feeds)
        d->feeds->prev = f;
    d->feeds = f;
    r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, DEMO_EVENT_MAX, feed_read, f,
                                          feed_free);
    if (!r) {
        feed_free(f);
        return MHD_NO;
    }
    rc = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                 "text/event-stream; charset=utf-8");
    if (rc == MHD_YES)
        rc = MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    if (rc == MHD_YES)
        rc = MHD_queue_response(mc, 200, r);
    if (rc == MHD_YES)
        feed_watch(f); /* f lives as long as the queued response */
    MHD_destroy_response(r);
    return rc;
}

/* ---- requests ---- */

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    int *n = cls;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
        n[0]++;
    else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0)
        n[1]++;
    return MHD_YES;
}

/* The head is in: refuses what it already shows is wrong, before any body is read. */
static enum MHD_Result first_call(demo *d, struct MHD_Connection *mc, exch *x)
{
    const union MHD_ConnectionInfo *hs =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    const char *cl =
        MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    int n[2] = {0, 0};
    MHD_get_connection_values(mc, MHD_HEADER_KIND, count_framing, n);
    if (n[0] > 1 || (n[0] && n[1])) {
        x->answered = 1;
        return send_error(d, mc, 400,
                          "Malformed HTTP request: several Content-Length headers, or one with "
                          "Transfer-Encoding.",
                          NULL, 1);
    }
    if (hs && hs->header_size > DEMO_HEAD_MAX) {
        x->answered = 1;
        return send_error(d, mc, 431, "The request header is too large.", NULL, 1);
    }
    errno = 0;
    if (cl && (strtoull(cl, NULL, 10) > DEMO_BODY_MAX || errno == ERANGE)) {
        x->answered = 1;
        return send_error(d, mc, 413, "The request body is too large.", NULL, 1);
    }
    return MHD_YES;
}

/* Method or path as a 404 echoes it: printable ASCII, the rest turned into '?'. */
static void printable(char *dst, size_t cap, const char *s)
{
    size_t i = 0;
    for (; s[i] && i + 1 < cap; i++)
        dst[i] = s[i] > 0x20 && s[i] < 0x7f ? s[i] : '?';
    dst[i] = '\0';
}

static enum MHD_Result route(demo *d, struct MHD_Connection *mc, const char *url,
                             const char *method, exch *x)
{
    char m[DEMO_NAME_MAX], p[DEMO_NAME_MAX], msg[2 * DEMO_NAME_MAX + 16];
    x->answered = 1;
    if (x->too_large)
        return send_error(d, mc, 413, "The request body is too large.", NULL, 1);
    if (strcmp(url, "/v1/chat/completions") == 0 && strcmp(method, "POST") == 0) {
        ask q;
        char err[ASK_ERR_MAX];
        const char *param;
        if (ask_parse(buf_ptr(&x->body), buf_len(&x->body), &q, err, &param) < 0)
            return send_error(d, mc, 400, err, param, 0);
        return q.stream ? stream_start(d, mc, &q) : send_completion(d, mc, &q);
    }
    if (strcmp(url, "/v1/models") == 0 && strcmp(method, "GET") == 0)
        return send_models(mc);
    printable(m, sizeof(m), method);
    printable(p, sizeof(p), url);
    snprintf(msg, sizeof(msg), "Invalid URL (%s %s)", m, p);
    return send_error(d, mc, 404, msg, NULL, 0);
}

/* MHD's access handler: a first call with the head, one per piece of body, and a final
 * one with the body whole, which answers (so that MHD keeps the connection alive). */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    demo *d = cls;
    exch *x = *con_cls;
    if (!x) {
        if (!(x = calloc(1, sizeof(*x))))
            return MHD_NO;
        buf_init(&x->body, DEMO_BODY_MAX);
        *con_cls = x;
        return first_call(d, mc, x);
    }
    if (*upload_size) {
        if (!x->answered && !x->too_large && buf_add(&x->body, upload, *upload_size) < 0) {
            x->too_large = 1;
            buf_free(&x->body);
        }
        *upload_size = 0;
        return MHD_YES;
    }
    return x->answered ? MHD_YES : route(d, mc, url, method, x);
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    exch *x = *con_cls;
    if (!x)
        return;
    buf_free(&x->body);
    free(x);
    *con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *mc, void **socket_ctx,
                          enum MHD_ConnectionNotificationCode code)
{
    int one = 1, sndbuf = DEMO_SNDBUF;
    const union MHD_ConnectionInfo *ci;
    if (code != MHD_CONNECTION_NOTIFY_STARTED ||
        !(ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD)))
        return;
    /* Each token is its own small write; Nagle would hold it back behind a delayed ACK. */
    setsockopt(ci->connect_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /* Loopback would otherwise buffer megabytes per connection: a small send buffer makes
     * a reader that stops reading stop the tokens, as a distant provider's would. */
    setsockopt(ci->connect_fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
}

/* Paths as they came: "%2F" stays three bytes, so a route matches only its own spelling. */
static size_t keep_escapes(void *cls, struct MHD_Connection *mc, char *s)
{
    return strlen(s);
}

/* ---- the loop ---- */

static void on_mhd(loop *l, int fd, unsigned events, void *ud)
{
    /* Nothing to do here: every pass of the loop runs the daemon. */
}

static void on_wake(loop *l, int fd, unsigned events, void *ud)
{
    demo *d = ud;
    uint64_t v;
    if (read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
        d->quit = 1;
}

/* Every suspended stream whose next token is due, or whose client is gone, goes on. */
static void resume_due(demo *d, uint64_t now)
{
    for (feed *f = d->feeds; f; f = f->next)
        if (f->suspended && (f->gone || f->due <= now))
            feed_resume(f);
}

/* Milliseconds the loop may wait: until the next token is due or MHD has work. */
static int next_timeout(demo *d, uint64_t now)
{
    MHD_UNSIGNED_LONG_LONG mt;
    long long t = -1;
    if (MHD_get_timeout(d->mhd, &mt) == MHD_YES)
        t = mt > DEMO_WAIT_MAX ? DEMO_WAIT_MAX : (long long)mt;
    for (const feed *f = d->feeds; f; f = f->next) {
        if (!f->suspended)
            continue; /* waits for the socket, not for the clock */
        long long wait = (long long)loop_since(f->due, now);
        if (t < 0 || wait < t)
            t = wait > DEMO_WAIT_MAX ? DEMO_WAIT_MAX : wait;
    }
    return (int)t;
}

static void *demo_run(void *arg)
{
    demo *d = arg;
    while (!d->quit) {
        if (loop_run_once(d->l, next_timeout(d, loop_now_ms())) < 0)
            break;
        if (d->quit)
            break;
        resume_due(d, loop_now_ms());
        MHD_run(d->mhd);
    }
    return NULL;
}

/* ---- start and stop ---- */

static int demo_daemon(demo *d)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    const union MHD_DaemonInfo *port, *ep;
    errno = 0;
    d->mhd = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL, on_request, d,
        MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)DEMO_CONNS_MAX, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)DEMO_POOL,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)SOMAXCONN, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, d, MHD_OPTION_NOTIFY_CONNECTION, on_connection, d,
        MHD_OPTION_UNESCAPE_CALLBACK, keep_escapes, d, MHD_OPTION_END);
    if (!d->mhd)
        return errno ? -errno : -EIO;
    port = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_BIND_PORT);
    ep = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    if (!port || !ep)
        return -EIO;
    snprintf(d->url, sizeof(d->url), "http://127.0.0.1:%u/v1", (unsigned)port->port);
    return loop_watch(d->l, ep->epoll_fd, EPOLLIN, on_mhd, d);
}

/* The thread takes every signal blocked, so that signals reach the embedding program's
 * own threads and never interrupt this one. */
static int demo_thread(demo *d)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int err = pthread_create(&d->thr, NULL, demo_run, d);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    d->thr_live = err == 0;
    return -err;
}

/* After the thread: MHD aborts when stopped with suspended connections, so every stream
 * is resumed, marked gone, and cut by one more run; the stop closes the rest. */
static void demo_free(demo *d)
{
    if (d->mhd) {
        for (feed *f = d->feeds; f; f = f->next) {
            f->gone = 1;
            feed_resume(f);
        }
        MHD_run(d->mhd);
        MHD_stop_daemon(d->mhd);
    }
    loop_free(d->l);
    if (d->wfd >= 0)
        close(d->wfd);
    buf_free(&d->json);
    free(d);
}

int demo_start(demo **out, unsigned token_interval_ms)
{
    demo *d = calloc(1, sizeof(*d));
    int err;
    *out = NULL;
    if (!d)
        return -ENOMEM;
    d->wfd = -1;
    d->interval = token_interval_ms;
    buf_init(&d->json, DEMO_JSON_MAX);
    d->l = loop_new();
    d->wfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!d->l || d->wfd < 0)
        err = d->l ? -errno : -ENOMEM;
    else
        err = loop_watch(d->l, d->wfd, EPOLLIN, on_wake, d);
    if (!err)
        err = demo_daemon(d);
    if (!err)
        err = demo_thread(d);
    if (err) {
        demo_free(d);
        return err;
    }
    *out = d;
    return 0;
}

const char *demo_base_url(const demo *d)
{
    return d->url;
}

void demo_stop(demo *d)
{
    uint64_t one = 1;
    if (!d)
        return;
    /* One write to a fresh eventfd cannot fail: the counter is far from overflowing. */
    while (write(d->wfd, &one, sizeof(one)) < 0 && errno == EINTR)
        ;
    if (d->thr_live)
        pthread_join(d->thr, NULL);
    demo_free(d);
}
