/* Unit tests: upstream transfers on the loop (libcurl multi) against a small HTTP server
 * this test runs on 127.0.0.1 in a thread. The loop is driven pass by pass, each wait
 * bounded, until the condition a test waits for holds or a deadline passes. */
#include <check.h>

#include "check_main.h"
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop.h"
#include "up.h"

#define BIG 65536
#define DEADLINE_MS 5000

/* ---------- the server ---------- */

typedef struct srv {
    int lfd, port;
    int stop[2]; /* test -> server: stop (never read, so it stays readable) */
    int note[2]; /* server -> test: 'c' when a client closed a held connection */
    pthread_t th;
    pthread_mutex_t mu;
    int requests;
    char method[8], path[64], body[256];
    int saw_header; /* the request carried "X-Test: yes" */
} srv;

static int send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int send_str(int fd, const char *s)
{
    return send_all(fd, s, strlen(s));
}

/* Reads one request (head and Content-Length body) and records it. */
static int read_request(srv *s, int fd)
{
    char req[4096];
    size_t n = 0;
    char *end = NULL;
    while (!end) {
        if (n == sizeof(req) - 1)
            return -1;
        ssize_t r = recv(fd, req + n, sizeof(req) - 1 - n, 0);
        if (r <= 0)
            return -1;
        n += (size_t)r;
        req[n] = '\0';
        end = strstr(req, "\r\n\r\n");
    }
    size_t head = (size_t)(end + 4 - req);
    const char *cl = strstr(req, "Content-Length: ");
    size_t want = cl && cl < end ? (size_t)atol(cl + 16) : 0;
    while (n - head < want && n < sizeof(req) - 1) {
        ssize_t r = recv(fd, req + n, sizeof(req) - 1 - n, 0);
        if (r <= 0)
            return -1;
        n += (size_t)r;
        req[n] = '\0';
    }
    pthread_mutex_lock(&s->mu);
    s->requests++;
    sscanf(req, "%7s %63s", s->method, s->path);
    snprintf(s->body, sizeof(s->body), "%.*s", (int)(n - head), req + head);
    *end = '\0';
    s->saw_header = strstr(req, "\r\nX-Test: yes") != NULL;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

/* Sends a start, then holds the connection until the client closes it (noted) or the
 * server is stopped. */
static void hold(srv *s, int fd)
{
    if (send_str(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\npart") < 0)
        return;
    for (;;) {
        struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = s->stop[0], .events = POLLIN}};
        if (poll(p, 2, -1) < 0 || p[1].revents)
            return;
        char c;
        ssize_t r = recv(fd, &c, 1, 0);
        if (r <= 0) {
            if (write(s->note[1], "c", 1) != 1) {
                /* the test will time out waiting */
            }
            return;
        }
    }
}

static void respond(srv *s, int fd)
{
    char path[64];
    pthread_mutex_lock(&s->mu);
    snprintf(path, sizeof(path), "%s", s->path);
    pthread_mutex_unlock(&s->mu);
    if (!strcmp(path, "/ok")) {
        send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
    } else if (!strcmp(path, "/status")) {
        send_str(fd, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n"
                     "Retry-After: 7\r\nConnection: close\r\n\r\nbusy");
    } else if (!strcmp(path, "/big")) {
        char *b = malloc(BIG);
        for (int i = 0; i < BIG; i++)
            b[i] = (char)('a' + i % 26);
        if (send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 65536\r\nConnection: close\r\n\r\n") ==
            0)
            send_all(fd, b, BIG);
        free(b);
    } else if (!strcmp(path, "/hold")) {
        hold(s, fd);
    } else {
        send_str(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    }
}

static void *serve(void *arg)
{
    srv *s = arg;
    for (;;) {
        struct pollfd p[2] = {{.fd = s->lfd, .events = POLLIN},
                              {.fd = s->stop[0], .events = POLLIN}};
        if (poll(p, 2, -1) < 0 || p[1].revents)
            break;
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        if (read_request(s, fd) == 0)
            respond(s, fd);
        close(fd);
    }
    return NULL;
}

/* A listening socket on 127.0.0.1, port chosen by the kernel. */
static int listen_any(int backlog, int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(fd, backlog), 0);
    socklen_t len = sizeof(a);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static void srv_start(srv *s)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    s->lfd = listen_any(16, &s->port);
    ck_assert_int_eq(pipe(s->stop), 0);
    ck_assert_int_eq(pipe(s->note), 0);
    ck_assert_int_eq(pthread_create(&s->th, NULL, serve, s), 0);
}

static void srv_stop(srv *s)
{
    ck_assert_int_eq(write(s->stop[1], "x", 1), 1);
    pthread_join(s->th, NULL);
    close(s->lfd);
    close(s->stop[0]);
    close(s->stop[1]);
    close(s->note[0]);
    close(s->note[1]);
    pthread_mutex_destroy(&s->mu);
}

/* Waits (bounded) for the server to note that a client closed its connection. */
static int srv_saw_close(srv *s)
{
    struct pollfd p = {.fd = s->note[0], .events = POLLIN};
    char c = 0;
    return poll(&p, 1, DEADLINE_MS) == 1 && read(s->note[0], &c, 1) == 1 && c == 'c';
}

/* ---------- one transfer's view ---------- */

typedef struct xf {
    char data[BIG + 64];
    size_t n;
    int calls;
    long status;
    int pause_first; /* answer UP_DATA_PAUSE to the first call */
    int pauses;
    size_t abort_after; /* answer UP_DATA_ABORT once this much came (0: never) */
    char paused_head[8];
    size_t paused_n;
    char resumed_head[8];
    size_t resumed_n;
    int done, result;
    long done_status;
    long retry_after;
    char reason[128];
} xf;

static int on_data(void *ud, long status, const char *p, size_t n)
{
    xf *x = ud;
    x->calls++;
    x->status = status;
    if (x->pause_first && x->pauses == 0) {
        x->pauses++;
        x->paused_n = n;
        memcpy(x->paused_head, p, n < 8 ? n : 8);
        return UP_DATA_PAUSE;
    }
    if (x->pauses && !x->resumed_n) {
        x->resumed_n = n;
        memcpy(x->resumed_head, p, n < 8 ? n : 8);
    }
    if (x->n + n > sizeof(x->data))
        return UP_DATA_ABORT;
    memcpy(x->data + x->n, p, n);
    x->n += n;
    if (x->abort_after && x->n >= x->abort_after)
        return UP_DATA_ABORT;
    return UP_DATA_OK;
}

static void on_done(void *ud, int result, long status, long retry_after_s, const char *reason)
{
    xf *x = ud;
    x->done++;
    x->result = result;
    x->done_status = status;
    x->retry_after = retry_after_s;
    snprintf(x->reason, sizeof(x->reason), "%s", reason ? reason : "");
}

static const up_ops ops = {on_data, on_done};

static xf *xf_new(void)
{
    xf *x = calloc(1, sizeof(*x));
    ck_assert_ptr_nonnull(x);
    return x;
}

static up_xfer *start(up *u, int port, const char *path, const char *body, long connect_ms, xf *x)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    prov_http h = {0};
    h.url = strdup(url);
    h.headers = curl_slist_append(NULL, "X-Test: yes");
    h.body = body ? strdup(body) : NULL;
    up_opts o = {.connect_timeout_ms = connect_ms};
    up_xfer *t = up_start(u, &h, &o, &ops, x);
    ck_assert_ptr_nonnull(t);
    ck_assert_ptr_null(h.url); /* taken */
    ck_assert_ptr_null(h.headers);
    return t;
}

/* One pass as a worker makes it: wait for fds or curl's timer, then curl's timeout work. */
static void pass(loop *l, up *u, int max_ms)
{
    int t = up_timeout_ms(u, loop_now_ms());
    if (t < 0 || t > max_ms)
        t = max_ms;
    ck_assert_int_ge(loop_run_once(l, t), 0);
    up_tick(u, loop_now_ms());
}

/* Passes until *flag >= want or the deadline; returns whether it got there. */
static int drive_until(loop *l, up *u, const int *flag, int want)
{
    uint64_t end = loop_now_ms() + DEADLINE_MS;
    while (*flag < want && loop_now_ms() < end)
        pass(l, u, 50);
    return *flag >= want;
}

typedef struct env {
    srv s;
    loop *l;
    up *u;
} env;

static void env_start(env *e)
{
    srv_start(&e->s);
    e->l = loop_new();
    ck_assert_ptr_nonnull(e->l);
    e->u = up_new(e->l);
    ck_assert_ptr_nonnull(e->u);
}

static void env_stop(env *e)
{
    up_free(e->u);
    loop_free(e->l);
    srv_stop(&e->s);
}

/* ---------- tests ---------- */

/* The test server saw one request with this method and (when not NULL) path and body,
 * and with the header chatd adds. */
static void expect_request(env *e, const char *method, const char *path, const char *body)
{
    pthread_mutex_lock(&e->s.mu);
    ck_assert_str_eq(e->s.method, method);
    if (path)
        ck_assert_str_eq(e->s.path, path);
    if (body)
        ck_assert_str_eq(e->s.body, body);
    ck_assert(e->s.saw_header);
    pthread_mutex_unlock(&e->s.mu);
}

START_TEST(get_delivers_body_and_done)
{
    env e;
    env_start(&e);
    xf *x = xf_new();
    start(e.u, e.s.port, "/ok", NULL, 2000, x);
    ck_assert_int_eq(up_count(e.u), 1);
    ck_assert_int_ge(up_timeout_ms(e.u, loop_now_ms()), 0); /* curl asked for a kick */
    ck_assert(drive_until(e.l, e.u, &x->done, 1));
    ck_assert_int_eq(x->done, 1);
    ck_assert_int_eq(x->result, UP_OK);
    ck_assert_int_eq(x->done_status, 200);
    ck_assert_int_eq(x->retry_after, -1); /* none sent */
    ck_assert_int_eq(x->status, 200);
    ck_assert_uint_eq(x->n, 5);
    ck_assert_int_eq(memcmp(x->data, "hello", 5), 0);
    ck_assert_int_eq(up_count(e.u), 0);
    expect_request(&e, "GET", "/ok", NULL);
    free(x);
    env_stop(&e);
}
END_TEST

START_TEST(post_sends_the_body)
{
    env e;
    env_start(&e);
    xf *x = xf_new();
    start(e.u, e.s.port, "/ok", "{\"q\":\"hi\"}", 2000, x);
    ck_assert(drive_until(e.l, e.u, &x->done, 1));
    ck_assert_int_eq(x->result, UP_OK);
    expect_request(&e, "POST", NULL, "{\"q\":\"hi\"}");
    free(x);
    env_stop(&e);
}
END_TEST

START_TEST(error_status_is_reported)
{
    env e;
    env_start(&e);
    xf *x = xf_new();
    start(e.u, e.s.port, "/status", NULL, 2000, x);
    ck_assert(drive_until(e.l, e.u, &x->done, 1));
    ck_assert_int_eq(x->result, UP_OK); /* the transfer itself went fine */
    ck_assert_int_eq(x->done_status, 503);
    ck_assert_int_eq(x->retry_after, 7); /* its Retry-After, for resting a key */
    ck_assert_int_eq(x->status, 503); /* on_data knew it too */
    ck_assert_uint_eq(x->n, 4);
    ck_assert_int_eq(memcmp(x->data, "busy", 4), 0);
    free(x);
    env_stop(&e);
}
END_TEST

START_TEST(several_at_once)
{
    env e;
    env_start(&e);
    xf *x[3];
    for (int i = 0; i < 3; i++) {
        x[i] = xf_new();
        start(e.u, e.s.port, "/ok", NULL, 2000, x[i]);
    }
    ck_assert_int_eq(up_count(e.u), 3);
    int all = 0;
    uint64_t end = loop_now_ms() + DEADLINE_MS;
    while (all < 3 && loop_now_ms() < end) {
        pass(e.l, e.u, 50);
        all = x[0]->done + x[1]->done + x[2]->done;
    }
    ck_assert_int_eq(all, 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(x[i]->result, UP_OK);
        ck_assert_uint_eq(x[i]->n, 5);
        free(x[i]);
    }
    ck_assert_int_eq(up_count(e.u), 0);
    env_stop(&e);
}
END_TEST

START_TEST(pause_holds_bytes_until_resume)
{
    env e;
    env_start(&e);
    xf *x = xf_new();
    x->pause_first = 1;
    up_xfer *t = start(e.u, e.s.port, "/big", NULL, 2000, x);
    ck_assert(drive_until(e.l, e.u, &x->pauses, 1));
    ck_assert_uint_gt(x->paused_n, 0);
    /* Paused: the rest of the body is waiting in the socket, but nothing is delivered. */
    for (int i = 0; i < 10; i++)
        pass(e.l, e.u, 10);
    ck_assert_int_eq(x->calls, 1);
    ck_assert_int_eq(x->done, 0);
    ck_assert_uint_eq(x->n, 0);
    up_resume(e.u, t);
    ck_assert(drive_until(e.l, e.u, &x->done, 1));
    ck_assert_int_eq(x->result, UP_OK);
    /* The held bytes came again first, then the rest: the whole body, in order. */
    ck_assert_uint_eq(x->resumed_n, x->paused_n);
    ck_assert_int_eq(memcmp(x->resumed_head, x->paused_head, x->paused_n < 8 ? x->paused_n : 8), 0);
    ck_assert_uint_eq(x->n, BIG);
    for (int i = 0; i < BIG; i++)
        if (x->data[i] != (char)('a' + i % 26))
            ck_abort_msg("byte %d is wrong", i);
    free(x);
    env_stop(&e);
}
END_TEST

START_TEST(resume_of_a_running_transfer_is_harmless)
{
    env e;
    env_start(&e);
    xf *x = xf_new();
    up_xfer *t = start(e.u, e.s.port, "/ok", NULL, 2000, x);
    up_resume(e.u, t); /* never paused */
    ck_assert(drive_until(e.l, e.u, &x->done, 1));
    ck_assert_int_eq(x->result, UP_OK);
    ck_assert_uint_eq(x->n, 5);
    free(x);
    env_stop(&e);
}
END_TEST

START_TEST(abort_from_on_data)
{
    env e;
    env_start(&e);
    xf *x = xf_new();
    x->abort_after = 1;
    start(e.u, e.s.port, "/big", NULL, 2000, x);
    ck_assert(drive_until(e.l, e.u, &x->done, 1));
    ck_assert_int_eq(x->result, UP_ABORTED);
    ck_assert_int_eq(x->calls, 1);
    ck_assert_int_eq(up_count(e.u), 0);
    free(x);
    env_stop(&e);
}
END_TEST

START_TEST(cancel_closes_the_connection)
{
    env e;
    env_start(&e);
    xf *x = xf_new();
    up_xfer *t = start(e.u, e.s.port, "/hold", NULL, 2000, x);
    ck_assert(drive_until(e.l, e.u, &x->calls, 1));
    ck_assert_uint_eq(x->n, 4);
    ck_assert_int_eq(memcmp(x->data, "part", 4), 0);
    up_cancel(e.u, t);
    ck_assert_int_eq(up_count(e.u), 0);
    ck_assert_msg(srv_saw_close(&e.s), "the upstream connection stayed open");
    for (int i = 0; i < 5; i++)
        pass(e.l, e.u, 10);
    ck_assert_int_eq(x->done, 0); /* never on_done after a cancel */
    up_cancel(e.u, NULL);         /* no-op */
    free(x);
    env_stop(&e);
}
END_TEST

START_TEST(free_cancels_live_transfers)
{
    env e;
    env_start(&e);
    xf *x = xf_new();
    start(e.u, e.s.port, "/hold", NULL, 2000, x);
    ck_assert(drive_until(e.l, e.u, &x->calls, 1));
    up_free(e.u);
    e.u = up_new(e.l); /* for env_stop */
    ck_assert_msg(srv_saw_close(&e.s), "the upstream connection stayed open");
    ck_assert_int_eq(x->done, 0);
    free(x);
    env_stop(&e);
}
END_TEST

START_TEST(connect_refused)
{
    env e;
    env_start(&e);
    int port;
    int fd = listen_any(1, &port);
    close(fd); /* nobody listens there now */
    xf *x = xf_new();
    start(e.u, port, "/ok", NULL, 2000, x);
    ck_assert(drive_until(e.l, e.u, &x->done, 1));
    ck_assert_int_eq(x->result, UP_CONNECT);
    ck_assert_int_eq(x->done_status, 0);
    ck_assert_int_eq(x->calls, 0);
    ck_assert_str_ne(x->reason, "");
    free(x);
    env_stop(&e);
}
END_TEST

/* A listener whose accept queue is full drops new SYNs: the connect hangs until curl's
 * connect timeout, which only the timer (up_timeout_ms / up_tick) can notice. */
START_TEST(connect_timeout)
{
    env e;
    env_start(&e);
    int port;
    int lfd = listen_any(0, &port);
    int filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(connect(filler, (struct sockaddr *)&a, sizeof(a)), 0);
    xf *x = xf_new();
    uint64_t t0 = loop_now_ms();
    start(e.u, port, "/ok", NULL, 300, x);
    ck_assert(drive_until(e.l, e.u, &x->done, 1));
    uint64_t took = loop_since(loop_now_ms(), t0);
    ck_assert_int_eq(x->result, UP_TIMEOUT);
    ck_assert_uint_ge(took, 250);
    ck_assert_uint_lt(took, 3000);
    free(x);
    close(filler);
    close(lfd);
    env_stop(&e);
}
END_TEST

/* on_done runs after the handle is gone: it may start the next transfer on the same up. */
typedef struct chain {
    xf first; /* first: on_done gets a pointer to it */
    up *u;
    int port;
    xf *next;
} chain;

static void on_done_start_next(void *ud, int result, long status, long retry_after_s,
                               const char *reason)
{
    chain *c = ud;
    on_done(&c->first, result, status, retry_after_s, reason);
    start(c->u, c->port, "/status", NULL, 2000, c->next);
}

static const up_ops chain_ops = {on_data, on_done_start_next};

START_TEST(on_done_may_start_another)
{
    env e;
    env_start(&e);
    chain *c = calloc(1, sizeof(*c));
    c->u = e.u;
    c->port = e.s.port;
    c->next = xf_new();
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/ok", e.s.port);
    prov_http h = {.url = strdup(url)};
    up_opts o = {.connect_timeout_ms = 2000};
    ck_assert_ptr_nonnull(up_start(e.u, &h, &o, &chain_ops, c));
    ck_assert(drive_until(e.l, e.u, &c->first.done, 1));
    ck_assert_int_eq(c->first.result, UP_OK);
    ck_assert_int_eq(up_count(e.u), 1); /* the one on_done started */
    ck_assert(drive_until(e.l, e.u, &c->next->done, 1));
    ck_assert_int_eq(c->next->done_status, 503);
    ck_assert_int_eq(up_count(e.u), 0);
    pthread_mutex_lock(&e.s.mu);
    ck_assert_int_eq(e.s.requests, 2);
    pthread_mutex_unlock(&e.s.mu);
    free(c->next);
    free(c);
    env_stop(&e);
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = check_tests("up", get_delivers_body_and_done, post_sends_the_body,
                         error_status_is_reported, several_at_once, pause_holds_bytes_until_resume,
                         resume_of_a_running_transfer_is_harmless, abort_from_on_data,
                         cancel_closes_the_connection, free_cancels_live_transfers, connect_refused,
                         connect_timeout, on_done_may_start_another);
    curl_global_cleanup();
    return rc;
}
