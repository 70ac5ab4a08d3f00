/* mock — a fast OpenAI-compatible upstream for chatd's benchmark.
 *
 * One thread, one epoll, keep-alive HTTP/1.1. POST .../chat/completions answers with a
 * chunked event stream of the deterministic text (text.h): one `data:` chunk per token,
 * the first at once and then one every 1/rate seconds (rate 0: all at once), then the
 * finish chunk, a usage chunk when stream_options.include_usage is set, and `data: [DONE]`.
 * The whole response is encoded once at start; a connection only holds an offset into it,
 * so 10,000 open streams cost little more than their sockets.
 * A request's "max_tokens" below --tokens cuts the answer to that many tokens (short
 * warm-up runs). GET /stats: JSON counters and the mock's own CPU time. SIGTERM/SIGINT:
 * print the same on stderr and exit 0. Bounded by --max-seconds.
 *
 *   mock [--port 0] [--tokens 40] [--token-bytes 8] [--rate 4] [--max-seconds 3600]
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "text.h"

#define IN_INIT 2048            /* first request buffer of a connection */
#define IN_CAP (64 * 1024)      /* longest request (head and body) accepted */
#define MAX_EVENTS 512
#define STATS_MAX 512
#define PAYLOAD_CAP (256u << 20)
#define CHUNK_HEAD "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\"," \
                   "\"created\":1700000000,\"model\":\"bench-mock\",\"choices\":["

/* ---- options and process-wide state ---- */

typedef struct opts {
    int port;
    size_t tokens, token_bytes;
    double rate;
    double max_seconds;
} opts;

typedef struct payload { /* one fully encoded response */
    char *buf;
    size_t len, cap;
} payload;

typedef struct conn {
    int fd;
    uint32_t gen;
    char *in;
    size_t in_len, in_cap;
    const char *out; /* the response being sent: a payload, or own */
    size_t out_len, out_off;
    char *own;       /* a small response this connection owns */
    size_t ntok;     /* tokens in this response */
    size_t tok_sent; /* stream tokens fully written */
    uint64_t t0;     /* when the stream started */
    int streaming, blocked, in_heap, close_after;
} conn;

typedef struct due {
    uint64_t at;
    int fd;
    uint32_t gen;
} due;

static struct {
    opts o;
    text t;
    payload plain, usage; /* without and with the usage chunk */
    size_t *tok_end;      /* payload offset just after token k's chunk (same in both) */
    uint64_t interval_ns;
    int ep, lfd;
    conn **conns;
    size_t nconns;
    due *heap;
    size_t heap_len, heap_cap;
    uint32_t gen;
    unsigned long long accepted, open, max_open, responses, done, tokens;
} M;

static volatile sig_atomic_t stop_flag;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- encoding the response once ---- */

static int pl_add(payload *p, const char *s, size_t n)
{
    if (p->len + n > PAYLOAD_CAP)
        return -1;
    if (p->len + n > p->cap) {
        size_t cap = p->cap ? p->cap : 65536;
        while (cap < p->len + n)
            cap *= 2;
        char *b = realloc(p->buf, cap);
        if (!b)
            return -1;
        p->buf = b;
        p->cap = cap;
    }
    memcpy(p->buf + p->len, s, n);
    p->len += n;
    return 0;
}

static int pl_str(payload *p, const char *s)
{
    return pl_add(p, s, strlen(s));
}

/* Appends the JSON string body of s[0..n) (no quotes). */
static int pl_json(payload *p, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\')
            snprintf(esc, sizeof(esc), "\\%c", c);
        else if (c == '\n')
            snprintf(esc, sizeof(esc), "\\n");
        else if (c < 0x20)
            snprintf(esc, sizeof(esc), "\\u%04x", c);
        else {
            esc[0] = (char)c;
            esc[1] = '\0';
        }
        if (pl_str(p, esc) < 0)
            return -1;
    }
    return 0;
}

/* Wraps the event text ev[0..n) in one HTTP chunk. */
static int pl_chunk(payload *p, const payload *ev)
{
    char head[32];
    snprintf(head, sizeof(head), "%zx\r\n", ev->len);
    return pl_str(p, head) | pl_add(p, ev->buf, ev->len) | pl_str(p, "\r\n");
}

static int token_event(payload *ev, size_t k)
{
    ev->len = 0;
    int rc = pl_str(ev, CHUNK_HEAD "{\"index\":0,\"delta\":{");
    if (k == 0)
        rc |= pl_str(ev, "\"role\":\"assistant\",");
    rc |= pl_str(ev, "\"content\":\"");
    rc |= pl_json(ev, M.t.bytes + k * M.t.token_bytes, M.t.token_bytes);
    return rc | pl_str(ev, "\"},\"finish_reason\":null}]}\n\n");
}

static int tail_events(payload *p, int with_usage)
{
    payload ev = {0};
    char u[256];
    int rc = pl_str(&ev, CHUNK_HEAD "{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n");
    rc |= pl_chunk(p, &ev);
    if (with_usage) {
        snprintf(u, sizeof(u), CHUNK_HEAD "],\"usage\":{\"prompt_tokens\":5,"
                 "\"completion_tokens\":%zu,\"total_tokens\":%zu}}\n\n", M.t.tokens,
                 M.t.tokens + 5);
        ev.len = 0;
        rc |= pl_str(&ev, u) | pl_chunk(p, &ev);
    }
    ev.len = 0;
    rc |= pl_str(&ev, "data: [DONE]\n\n") | pl_chunk(p, &ev);
    free(ev.buf);
    return rc | pl_str(p, "0\r\n\r\n");
}

static int build_payloads(void)
{
    payload ev = {0};
    int rc = 0;
    M.tok_end = calloc(M.t.tokens, sizeof(size_t));
    if (!M.tok_end)
        return -1;
    rc |= pl_str(&M.plain, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                           "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (size_t k = 0; k < M.t.tokens && rc == 0; k++) {
        rc |= token_event(&ev, k) | pl_chunk(&M.plain, &ev);
        M.tok_end[k] = M.plain.len;
    }
    free(ev.buf);
    rc |= pl_add(&M.usage, M.plain.buf, M.plain.len);
    return rc | tail_events(&M.plain, 0) | tail_events(&M.usage, 1);
}

/* ---- the due-time heap of streams waiting for their next token ---- */

static int heap_push(uint64_t at, const conn *c)
{
    if (M.heap_len == M.heap_cap) {
        size_t cap = M.heap_cap ? M.heap_cap * 2 : 1024;
        due *h = realloc(M.heap, cap * sizeof(*h));
        if (!h)
            return -1;
        M.heap = h;
        M.heap_cap = cap;
    }
    size_t i = M.heap_len++;
    while (i > 0 && M.heap[(i - 1) / 2].at > at) {
        M.heap[i] = M.heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    M.heap[i] = (due){at, c->fd, c->gen};
    return 0;
}

static due heap_pop(void)
{
    due top = M.heap[0], last = M.heap[--M.heap_len];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, m = l + 1, s = i;
        const due *cur = &last;
        if (l < M.heap_len && M.heap[l].at < cur->at)
            cur = &M.heap[s = l];
        if (m < M.heap_len && M.heap[m].at < cur->at)
            s = m;
        if (s == i)
            break;
        M.heap[i] = M.heap[s];
        i = s;
    }
    if (M.heap_len)
        M.heap[i] = last;
    return top;
}

/* ---- connections ---- */

static void conn_close(conn *c)
{
    close(c->fd);
    M.conns[c->fd] = NULL;
    M.open--;
    free(c->in);
    free(c->own);
    free(c);
}

static void set_out_watch(conn *c, int want)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | (want ? EPOLLOUT : 0),
                             .data.fd = c->fd};
    epoll_ctl(M.ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->blocked = want;
}

/* Writes out[out_off..target); 1 all written, 0 blocked, -1 connection gone. */
static int send_upto(conn *c, size_t target)
{
    while (c->out_off < target) {
        ssize_t n = send(c->fd, c->out + c->out_off, target - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
    }
    return 1;
}

static size_t tokens_due(const conn *c, uint64_t now)
{
    if (M.interval_ns == 0)
        return c->ntok;
    size_t n = 1 + (size_t)((now - c->t0) / M.interval_ns);
    return n < c->ntok ? n : c->ntok;
}

static void count_tokens(conn *c)
{
    while (c->streaming && c->tok_sent < c->ntok && M.tok_end[c->tok_sent] <= c->out_off) {
        c->tok_sent++;
        M.tokens++;
    }
}

static void process_input(conn *c, uint64_t now);

/* The response is out: keep the connection for the next request, or close it. */
static void response_done(conn *c, uint64_t now)
{
    M.done += c->streaming;
    c->streaming = 0;
    c->out = NULL;
    free(c->own);
    c->own = NULL;
    if (c->close_after) {
        conn_close(c);
        return;
    }
    process_input(c, now);
}

/* Sends what is due; then waits for the socket, the next token, or the next request. */
static void pump(conn *c, uint64_t now)
{
    size_t n = c->streaming ? tokens_due(c, now) : 0;
    size_t target = !c->streaming || n >= c->ntok ? c->out_len : M.tok_end[n - 1];
    int rc = send_upto(c, target);
    count_tokens(c);
    if (rc < 0) {
        conn_close(c);
        return;
    }
    if (rc == 0 || c->blocked)
        set_out_watch(c, rc == 0);
    if (rc == 0)
        return;
    if (c->out_off == c->out_len) {
        response_done(c, now);
        return;
    }
    if (heap_push(c->t0 + (uint64_t)n * M.interval_ns, c) < 0) {
        conn_close(c);
        return;
    }
    c->in_heap = 1;
}

/* ---- requests ---- */

/* The value of header `name` in head[0..n), or NULL; *vlen its length. */
static const char *header(const char *head, size_t n, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    const char *p = memchr(head, '\n', n), *end = head + n;
    while (p && p + 1 < end) {
        const char *line = p + 1, *eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol)
            break;
        if ((size_t)(eol - line) > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0) {
            const char *v = line + nl + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = eol;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
                ve--;
            *vlen = (size_t)(ve - v);
            return v;
        }
        p = eol;
    }
    return NULL;
}

static int header_is(const char *head, size_t n, const char *name, const char *want)
{
    size_t vl = 0;
    const char *v = header(head, n, name, &vl);
    return v && vl >= strlen(want) && strncasecmp(v, want, strlen(want)) == 0;
}

/* Bytes of the whole request (head + body) when complete, 0 when more is needed,
 * -1 when it is malformed or too long. */
static long request_len(const conn *c, size_t *head_len)
{
    const char *e = memmem(c->in, c->in_len, "\r\n\r\n", 4);
    if (!e)
        return c->in_len >= IN_CAP ? -1 : 0;
    *head_len = (size_t)(e - c->in) + 4;
    size_t vl = 0;
    const char *cl = header(c->in, *head_len, "content-length", &vl);
    if (header_is(c->in, *head_len, "transfer-encoding", "chunked")) {
        const char *z = memmem(c->in + *head_len - 2, c->in_len - *head_len + 2,
                               "\r\n0\r\n\r\n", 7);
        return z ? (long)(z - c->in) + 7 : (c->in_len >= IN_CAP ? -1 : 0);
    }
    long body = cl ? strtol(cl, NULL, 10) : 0;
    if (body < 0 || *head_len + (size_t)body > IN_CAP)
        return -1;
    return c->in_len >= *head_len + (size_t)body ? (long)(*head_len + (size_t)body) : 0;
}

static int wants_usage(const char *body, size_t n)
{
    const char *k = memmem(body, n, "\"include_usage\"", 15);
    if (!k)
        return 0;
    k += 15;
    while (k < body + n && (*k == ' ' || *k == ':' || *k == '\t'))
        k++;
    return (size_t)(body + n - k) >= 4 && memcmp(k, "true", 4) == 0;
}

static void respond_small(conn *c, const char *status, const char *body)
{
    char *r = malloc(STATS_MAX + 256);
    if (!r)
        return;
    int n = snprintf(r, STATS_MAX + 256, "HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n%s", status, strlen(body), body);
    c->own = r;
    c->out = r;
    c->out_len = n > 0 ? (size_t)n : 0;
}

static double tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void stats_json(char *out, size_t cap)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    snprintf(out, cap, "{\"open\":%llu,\"max_open\":%llu,\"accepted\":%llu,\"responses\":%llu,"
             "\"done\":%llu,\"tokens\":%llu,\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f}\n",
             M.open, M.max_open, M.accepted, M.responses, M.done, M.tokens,
             tv_s(ru.ru_utime), tv_s(ru.ru_stime));
}

static long body_int(const char *body, size_t n, const char *key, size_t kl)
{
    const char *k = memmem(body, n, key, kl);
    if (!k)
        return 0;
    k += kl;
    while (k < body + n && (*k == ' ' || *k == ':' || *k == '\t'))
        k++;
    return k < body + n && *k >= '0' && *k <= '9' ? strtol(k, NULL, 10) : 0;
}

/* The first k tokens and the usual tail, in a buffer the connection owns. */
static int cut_payload(conn *c, const payload *p, size_t k)
{
    size_t head = M.tok_end[k - 1], tail = M.tok_end[M.t.tokens - 1];
    char *b = malloc(head + p->len - tail);
    if (!b)
        return -1;
    memcpy(b, p->buf, head);
    memcpy(b + head, p->buf + tail, p->len - tail);
    c->own = b;
    c->out = b;
    c->out_len = head + p->len - tail;
    return 0;
}

static void start_stream(conn *c, const char *body, size_t n, uint64_t now)
{
    const payload *p = wants_usage(body, n) ? &M.usage : &M.plain;
    long k = body_int(body, n, "\"max_tokens\"", 12);
    c->ntok = k > 0 && (size_t)k < M.t.tokens ? (size_t)k : M.t.tokens;
    if (c->ntok < M.t.tokens && cut_payload(c, p, c->ntok) < 0)
        return;
    if (c->ntok == M.t.tokens) {
        c->out = p->buf;
        c->out_len = p->len;
    }
    c->streaming = 1;
    c->tok_sent = 0;
    c->t0 = now;
    M.responses++;
}

static void start_response(conn *c, size_t head_len, size_t total, uint64_t now)
{
    const char *h = c->in;
    c->out_off = 0;
    c->close_after = header_is(h, head_len, "connection", "close");
    if (strncmp(h, "POST ", 5) == 0 && memmem(h, head_len, "/chat/completions ", 18)) {
        start_stream(c, h + head_len, total - head_len, now);
    } else if (strncmp(h, "GET /stats ", 11) == 0) {
        char js[STATS_MAX];
        stats_json(js, sizeof(js));
        respond_small(c, "200 OK", js);
    } else if (strncmp(h, "GET /healthz ", 13) == 0) {
        respond_small(c, "200 OK", "{\"status\":\"ok\"}");
    } else {
        respond_small(c, "404 Not Found", "{\"error\":{\"message\":\"not found\"}}");
    }
}

static void process_input(conn *c, uint64_t now)
{
    size_t head_len = 0;
    long total = request_len(c, &head_len);
    if (total < 0) {
        conn_close(c);
        return;
    }
    if (total == 0)
        return;
    if (header_is(c->in, head_len, "expect", "100-continue"))
        send(c->fd, "HTTP/1.1 100 Continue\r\n\r\n", 25, MSG_NOSIGNAL);
    start_response(c, head_len, (size_t)total, now);
    memmove(c->in, c->in + total, c->in_len - (size_t)total);
    c->in_len -= (size_t)total;
    if (!c->out) {
        conn_close(c);
        return;
    }
    pump(c, now);
}

/* Reads what is there; 0 ok, -1 the peer is gone or the request is too long. */
static int read_input(conn *c)
{
    for (;;) {
        if (c->in_len == c->in_cap) {
            if (c->in_cap >= IN_CAP)
                return -1;
            size_t cap = c->in_cap ? c->in_cap * 2 : IN_INIT;
            char *b = realloc(c->in, cap);
            if (!b)
                return -1;
            c->in = b;
            c->in_cap = cap;
        }
        ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (n > 0) {
            c->in_len += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
    }
}

static void conn_event(conn *c, uint32_t ev, uint64_t now)
{
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        if (read_input(c) < 0) {
            conn_close(c);
            return;
        }
        if (!c->out) {
            process_input(c, now);
            return;
        }
    }
    if ((ev & EPOLLOUT) && c->out && !c->in_heap)
        pump(c, now);
}

static void accept_all(void)
{
    for (;;) {
        int fd = accept4(M.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        conn *c = (size_t)fd < M.nconns ? calloc(1, sizeof(*c)) : NULL;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = fd};
        if (!c || epoll_ctl(M.ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            free(c);
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->fd = fd;
        c->gen = ++M.gen;
        M.conns[fd] = c;
        M.accepted++;
        if (++M.open > M.max_open)
            M.max_open = M.open;
    }
}

/* Streams whose next token is due. */
static void run_due(uint64_t now)
{
    while (M.heap_len && M.heap[0].at <= now) {
        due d = heap_pop();
        conn *c = M.conns[d.fd];
        if (!c || c->gen != d.gen || !c->in_heap)
            continue;
        c->in_heap = 0;
        pump(c, now);
    }
}

/* ---- setup and the loop ---- */

static int listen_on(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 65535) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
        perror("mock: listen");
        return -1;
    }
    M.lfd = fd;
    return ntohs(a.sin_port);
}

static size_t raise_nofile(void)
{
    struct rlimit r;
    getrlimit(RLIMIT_NOFILE, &r);
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
    getrlimit(RLIMIT_NOFILE, &r);
    return r.rlim_cur > 1048576 ? 1048576 : (size_t)r.rlim_cur;
}

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void loop(void)
{
    struct epoll_event evs[MAX_EVENTS];
    uint64_t end = now_ns() + (uint64_t)(M.o.max_seconds * 1e9);
    while (!stop_flag && now_ns() < end) {
        uint64_t now = now_ns();
        run_due(now);
        uint64_t wait = M.heap_len ? (M.heap[0].at > now ? M.heap[0].at - now : 0) : 200000000u;
        struct timespec ts = {(time_t)(wait / 1000000000u), (long)(wait % 1000000000u)};
        int n = epoll_pwait2(M.ep, evs, MAX_EVENTS, &ts, NULL);
        now = now_ns();
        for (int i = 0; i < n; i++) {
            if (evs[i].data.fd == M.lfd)
                accept_all();
            else if (M.conns[evs[i].data.fd])
                conn_event(M.conns[evs[i].data.fd], evs[i].events, now);
        }
    }
}

static int parse_args(int argc, char **argv, opts *o)
{
    *o = (opts){.port = 0, .tokens = 40, .token_bytes = 8, .rate = 4, .max_seconds = 3600};
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return -1;
        if (!strcmp(a, "--port"))
            o->port = atoi(v);
        else if (!strcmp(a, "--tokens"))
            o->tokens = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--token-bytes"))
            o->token_bytes = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--rate"))
            o->rate = strtod(v, NULL);
        else if (!strcmp(a, "--max-seconds"))
            o->max_seconds = strtod(v, NULL);
        else
            return -1;
    }
    return o->port < 0 || o->port > 65535 || o->rate < 0 || o->rate > 1e6 ||
                   o->max_seconds <= 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
    if (parse_args(argc, argv, &M.o) < 0 || text_make(&M.t, M.o.tokens, M.o.token_bytes) < 0) {
        fprintf(stderr, "usage: mock [--port 0] [--tokens 1..%d] [--token-bytes %d..%d] "
                "[--rate tokens/s, 0 = at once] [--max-seconds S]\n", TEXT_TOKENS_MAX,
                TEXT_TOKEN_BYTES_MIN, TEXT_TOKEN_BYTES_MAX);
        return 2;
    }
    M.interval_ns = M.o.rate > 0 ? (uint64_t)(1e9 / M.o.rate) : 0;
    M.nconns = raise_nofile();
    M.conns = calloc(M.nconns, sizeof(conn *));
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    int port = M.conns && build_payloads() == 0 ? listen_on(M.o.port) : -1;
    M.ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = M.lfd};
    if (port < 0 || M.ep < 0 || epoll_ctl(M.ep, EPOLL_CTL_ADD, M.lfd, &ev) < 0)
        return 1;
    printf("mock: listening on 127.0.0.1:%d (%zu tokens of %zu bytes, rate %g/s, nofile %zu)\n",
           port, M.t.tokens, M.t.token_bytes, M.o.rate, M.nconns);
    fflush(stdout);
    loop();
    char js[STATS_MAX];
    stats_json(js, sizeof(js));
    fprintf(stderr, "mock: %s", js);
    return 0;
}
