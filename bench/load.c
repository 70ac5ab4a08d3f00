/* load — the benchmark's load client. One thread, one epoll, non-blocking sockets.
 *
 * Opens --streams concurrent streams (one POST and one connection each, Connection:
 * close), paced at --ramp connections per second, against chatd's native event stream
 * (--api native, /api/chat) or an OpenAI-style chunk stream (--api openai,
 * /v1/chat/completions: nginx or Portkey in front of the mock, or chatd's own). Decodes
 * HTTP/1.1 (chunked, Content-Length or until close), parses the event stream
 * incrementally, timestamps every character event with CLOCK_MONOTONIC and checks every
 * stream byte for byte against the mock's deterministic text (text.h).
 *
 * Reports time to first character, gaps between characters, "paced" gaps (those where
 * the next character had already reached the server under test, from the mock's token
 * schedule: the gaps a pacer is responsible for), characters per second, errors by kind,
 * and, for the --pid processes (the system under test), CPU seconds over the run and
 * resident memory growth per open stream, sampled once every stream has its first
 * character. The last line, "RESULT key=value ...", is for scripts.
 * --dump FILE writes one line per stream (start, first character, error) for plots.
 * Bounded: --streams streams, each failed after --timeout s, the run after --duration s.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hist.h"
#include "proc.h"
#include "resp.h"
#include "ssec.h"
#include "text.h"

#define MAX_HEADERS 16
#define MAX_PIDS 64
#define MAX_STREAMS 100000
#define READ_BUF (64 * 1024)
#define EVENT_TEXT_MAX (64 * 1024)
#define REQ_MAX 8192
#define SWEEP_NS 100000000u /* timeout sweep and memory sample check */
#define MAX_EVENTS 1024
#define STOP 2 /* callback result: the stream failed, its err says why */

enum { API_NATIVE, API_OPENAI };
enum { ST_WAIT, ST_CONNECTING, ST_SENDING, ST_READING, ST_OK, ST_FAILED };
enum { E_NONE, E_CONNECT, E_HTTP, E_PROTO, E_EOF, E_TIMEOUT, E_STREAM, E_MISMATCH,
       E_INCOMPLETE, E_ID, E_COUNT };
static const char *const ERR_NAMES[E_COUNT] = {"none", "connect", "http", "proto", "eof",
    "timeout", "stream_error", "mismatch", "incomplete", "id"};

typedef struct opts {
    const char *host, *path, *label, *model, *dump;
    int port, api, mock_pid;
    size_t streams, tokens, token_bytes, max_tokens, nheaders, npids;
    double ramp, timeout_s, duration_s, rate;
    const char *headers[MAX_HEADERS];
    int pids[MAX_PIDS];
} opts;

typedef struct stream {
    int fd;
    uint8_t state, err, terminal, mismatch;
    size_t sent, off;
    long next_id;
    uint64_t t_start, t_prev, ttfc;
    int64_t base; /* earliest (arrival - completing token * interval): the mock's schedule */
    uint32_t chars;
    resp r;
    ssec s;
} stream;

static struct {
    opts o;
    text t;
    stream *s;
    char req[REQ_MAX];
    size_t req_len;
    int ep;
    struct sockaddr_in addr;
    uint64_t interval_ns, t_begin, t_end, now;
    size_t opened, finished, failed;
    size_t open_now, settled; /* streams with a first character and not ended; + ended */
    size_t errs[E_COUNT];
    hist ttfc, gap, paced;
    uint64_t chars, bytes;
    proc_sample p0, p_open, p1;
    double mock0, mock1;
    size_t open_at_sample;
    int sampled, http_status; /* the first status other than 200 seen */
    char first_error[160];    /* the data of the first error event seen */
    char rbuf[READ_BUF], tbuf[EVENT_TEXT_MAX];
} L;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- stream end ---- */

static void stream_close(stream *st, int state)
{
    if (st->fd >= 0)
        close(st->fd);
    st->fd = -1;
    resp_free(&st->r);
    ssec_free(&st->s);
    st->state = (uint8_t)state;
    L.finished++;
    if (st->chars)
        L.open_now--;
    else
        L.settled++;
    L.t_end = now_ns();
}

static void fail(stream *st, int err)
{
    if (err == E_HTTP && !L.http_status)
        L.http_status = st->r.status;
    st->err = (uint8_t)(err ? err : E_PROTO);
    L.errs[st->err]++;
    L.failed++;
    stream_close(st, ST_FAILED);
}

/* The HTTP message is complete: was the stream whole and exact? */
static void complete(stream *st)
{
    if (st->r.status != 200)
        fail(st, E_HTTP);
    else if (st->mismatch)
        fail(st, E_MISMATCH);
    else if (!st->terminal || st->off != L.t.len)
        fail(st, E_INCOMPLETE);
    else
        stream_close(st, ST_OK);
}

/* ---- events ---- */

static void paced_gap(stream *st, uint64_t gap)
{
    uint64_t k = text_token_completing(&L.t, st->off < L.t.len ? st->off : L.t.len);
    int64_t sched = (int64_t)L.now - (int64_t)(k * L.interval_ns);
    if (sched < st->base)
        st->base = sched;
    if (st->chars && st->base + (int64_t)(k * L.interval_ns) <= (int64_t)st->t_prev)
        hist_add(&L.paced, gap);
}

static void on_char(stream *st, const char *p, size_t n)
{
    if (!st->mismatch && (st->off + n > L.t.len || memcmp(L.t.bytes + st->off, p, n) != 0))
        st->mismatch = 1;
    st->off += n;
    L.bytes += n;
    L.chars++;
    if (st->chars == 0) {
        st->ttfc = L.now - st->t_start;
        hist_add(&L.ttfc, st->ttfc);
        st->base = INT64_MAX;
        L.open_now++;
        L.settled++;
    } else {
        hist_add(&L.gap, L.now - st->t_prev);
    }
    paced_gap(st, L.now - st->t_prev);
    st->t_prev = L.now;
    st->chars++;
}

static int char_from(stream *st, const ssec_event *ev, const char *key)
{
    long n = ssec_json_string(ev->data, ev->data_len, key, L.tbuf, sizeof(L.tbuf));
    if (n < -1 || (n == -1 && L.o.api == API_NATIVE)) {
        st->err = E_PROTO;
        return STOP;
    }
    if (n > 0)
        on_char(st, L.tbuf, (size_t)n);
    return 0;
}

static int stream_error(stream *st, const ssec_event *ev)
{
    if (!L.first_error[0])
        snprintf(L.first_error, sizeof(L.first_error), "%.*s",
                 (int)(ev->data_len < 150 ? ev->data_len : 150), ev->data);
    st->err = E_STREAM;
    return STOP;
}

static int on_native(stream *st, const ssec_event *ev)
{
    if (ev->id) {
        char *end = NULL;
        long id = strtol(ev->id, &end, 10);
        if (*end || id != st->next_id) {
            st->err = E_ID;
            return STOP;
        }
        st->next_id++;
    }
    if (strcmp(ev->type, "delta") == 0)
        return char_from(st, ev, "text");
    if (strcmp(ev->type, "error") == 0)
        return stream_error(st, ev);
    if (strcmp(ev->type, "done") == 0)
        st->terminal = 1;
    return 0;
}

static int on_openai(stream *st, const ssec_event *ev)
{
    if (strcmp(ev->data, "[DONE]") == 0) {
        st->terminal = 1;
        return 0;
    }
    if (memmem(ev->data, ev->data_len, "\"error\":{", 9))
        return stream_error(st, ev);
    return char_from(st, ev, "content");
}

static int on_event(void *ud, const ssec_event *ev)
{
    stream *st = ud;
    if (st->terminal) { /* nothing may follow the terminal event */
        st->err = E_PROTO;
        return STOP;
    }
    return L.o.api == API_NATIVE ? on_native(st, ev) : on_openai(st, ev);
}

static int on_body(void *ud, const char *p, size_t n)
{
    stream *st = ud;
    if (st->r.status != 200) {
        st->err = E_HTTP;
        return STOP;
    }
    int rc = ssec_feed(&st->s, p, n, on_event, st);
    if (rc && !st->err)
        st->err = E_PROTO;
    return rc ? STOP : 0;
}

/* ---- sockets ---- */

static void watch(stream *st, int op, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.u64 = (uint64_t)(st - L.s)};
    if (epoll_ctl(L.ep, op, st->fd, &ev) < 0)
        fail(st, E_CONNECT);
}

static void stream_start(stream *st)
{
    int one = 1;
    st->t_start = now_ns();
    st->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    L.opened++;
    st->state = ST_CONNECTING;
    if (st->fd < 0) {
        fail(st, E_CONNECT);
        return;
    }
    setsockopt(st->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(st->fd, (struct sockaddr *)&L.addr, sizeof(L.addr)) < 0 && errno != EINPROGRESS) {
        fail(st, E_CONNECT);
        return;
    }
    watch(st, EPOLL_CTL_ADD, EPOLLOUT);
}

static void on_writable(stream *st)
{
    int err = 0;
    socklen_t el = sizeof(err);
    if (st->state == ST_CONNECTING) {
        if (getsockopt(st->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
            fail(st, E_CONNECT);
            return;
        }
        st->state = ST_SENDING;
    }
    ssize_t n = send(st->fd, L.req + st->sent, L.req_len - st->sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
        fail(st, E_EOF);
        return;
    }
    st->sent += n > 0 ? (size_t)n : 0;
    if (st->sent == L.req_len) {
        st->state = ST_READING;
        watch(st, EPOLL_CTL_MOD, EPOLLIN | EPOLLRDHUP);
    }
}

/* One read per readiness report (epoll is level-triggered): fair across streams. */
static void on_readable(stream *st)
{
    ssize_t n = recv(st->fd, L.rbuf, sizeof(L.rbuf), 0);
    L.now = now_ns();
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        if (n == 0 && resp_eof(&st->r) == RESP_DONE)
            complete(st);
        else
            fail(st, E_EOF);
        return;
    }
    int rc = resp_feed(&st->r, L.rbuf, (size_t)n, on_body, st);
    if (rc == RESP_DONE)
        complete(st);
    else if (rc != RESP_MORE)
        fail(st, rc == RESP_ERR ? E_PROTO : st->err);
}

static void on_ready(stream *st, uint32_t events)
{
    if (st->state == ST_CONNECTING || st->state == ST_SENDING) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            on_writable(st);
    } else if (st->state == ST_READING) {
        on_readable(st);
    }
}

/* ---- the run ---- */

/* Memory is sampled when the most streams are open at once (every stream, when all of
 * them get their first character before the first ends). */
static void sample_peak(void)
{
    if (L.sampled && L.open_now <= L.open_at_sample)
        return;
    L.p_open = proc_read(L.o.pids, L.o.npids);
    L.open_at_sample = L.open_now;
    L.sampled = 1;
}

static void sweep(uint64_t now)
{
    uint64_t limit = (uint64_t)(L.o.timeout_s * 1e9);
    for (size_t i = 0; i < L.opened; i++) {
        stream *st = &L.s[i];
        if (st->state >= ST_CONNECTING && st->state <= ST_READING && now > st->t_start &&
            now - st->t_start > limit)
            fail(st, E_TIMEOUT);
    }
    sample_peak();
}

static void open_due(uint64_t now)
{
    size_t want = L.o.streams;
    if (L.o.ramp > 0) {
        double w = (double)(now - L.t_begin) * L.o.ramp / 1e9 + 1;
        want = w < (double)L.o.streams ? (size_t)w : L.o.streams;
    }
    while (L.opened < want)
        stream_start(&L.s[L.opened]);
}

static uint64_t wait_ns(uint64_t now, uint64_t next_sweep)
{
    uint64_t w = next_sweep > now ? next_sweep - now : 0;
    if (L.opened < L.o.streams && L.o.ramp > 0) {
        uint64_t step = (uint64_t)(1e9 / L.o.ramp);
        w = w < step ? w : step;
    }
    return w;
}

static double mock_cpu(void)
{
    return L.o.mock_pid > 0 ? proc_read(&L.o.mock_pid, 1).cpu_s : 0;
}

static void run(void)
{
    struct epoll_event evs[MAX_EVENTS];
    L.p0 = proc_read(L.o.pids, L.o.npids);
    L.mock0 = mock_cpu();
    L.t_begin = L.t_end = now_ns();
    uint64_t deadline = L.t_begin + (uint64_t)(L.o.duration_s * 1e9), next_sweep = L.t_begin;
    while (L.finished < L.o.streams) {
        uint64_t now = now_ns();
        if (now >= deadline)
            break;
        open_due(now);
        if (now >= next_sweep) {
            sweep(now);
            next_sweep = now + SWEEP_NS;
        }
        uint64_t w = wait_ns(now, next_sweep);
        struct timespec ts = {(time_t)(w / 1000000000u), (long)(w % 1000000000u)};
        int n = epoll_pwait2(L.ep, evs, MAX_EVENTS, &ts, NULL);
        for (int i = 0; i < n; i++)
            on_ready(&L.s[evs[i].data.u64], evs[i].events);
        if (L.settled == L.o.streams && L.open_now > L.open_at_sample)
            sample_peak();
    }
    for (size_t i = 0; i < L.o.streams; i++)
        if (L.s[i].state < ST_OK)
            fail(&L.s[i], E_TIMEOUT);
    L.p1 = proc_read(L.o.pids, L.o.npids);
    L.mock1 = mock_cpu();
}

/* ---- report ---- */

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

static double load_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void report_human(double wall, double tokens)
{
    printf("%s: %zu streams, %zu ok, %zu failed (", L.o.label, L.o.streams,
           L.o.streams - L.failed, L.failed);
    for (int e = 1; e < E_COUNT; e++)
        if (L.errs[e])
            printf(" %s=%zu", ERR_NAMES[e], L.errs[e]);
    printf(" ), %.2f s", wall);
    if (L.http_status)
        printf("; first HTTP status other than 200: %d", L.http_status);
    if (L.first_error[0])
        printf("; first error event: %s", L.first_error);
    printf("\n");
    printf("  first character ms: p50 %.3f p99 %.3f max %.3f\n", ms(hist_quantile(&L.ttfc, .5)),
           ms(hist_quantile(&L.ttfc, .99)), ms(L.ttfc.max));
    printf("  gap ms: p50 %.3f p99 %.3f max %.3f; paced gaps: %llu, p99 %.3f ms\n",
           ms(hist_quantile(&L.gap, .5)), ms(hist_quantile(&L.gap, .99)), ms(L.gap.max),
           (unsigned long long)L.paced.count, ms(hist_quantile(&L.paced, .99)));
    printf("  %llu characters (%.0f/s), %.0f upstream tokens, byte-exact: %s\n",
           (unsigned long long)L.chars, (double)L.chars / wall, tokens,
           L.errs[E_MISMATCH] || L.errs[E_INCOMPLETE] || L.failed ? "no" : "yes");
    if (L.o.npids)
        printf("  system: cpu %.2f s; rss %lu -> %lu KiB with %zu streams open\n",
               L.p1.cpu_s - L.p0.cpu_s, L.p0.rss_kb, L.p_open.rss_kb, L.open_at_sample);
    printf("  mock cpu %.2f s, load client cpu %.2f s\n", L.mock1 - L.mock0, load_cpu_s());
}

static void report_machine(double wall, double tokens)
{
    double cpu = L.p1.cpu_s - L.p0.cpu_s;
    double growth = (double)L.p_open.rss_kb - (double)L.p0.rss_kb;
    printf("RESULT label=%s n=%zu ok=%zu errors=%zu", L.o.label, L.o.streams,
           L.o.streams - L.failed, L.failed);
    for (int e = 1; e < E_COUNT; e++)
        printf(" err_%s=%zu", ERR_NAMES[e], L.errs[e]);
    printf(" ttfc_p50_ms=%.4f ttfc_p99_ms=%.4f ttfc_max_ms=%.4f", ms(hist_quantile(&L.ttfc, .5)),
           ms(hist_quantile(&L.ttfc, .99)), ms(L.ttfc.max));
    printf(" gap_p50_ms=%.3f gap_p99_ms=%.3f paced_n=%llu paced_p50_ms=%.3f paced_p99_ms=%.3f",
           ms(hist_quantile(&L.gap, .5)), ms(hist_quantile(&L.gap, .99)),
           (unsigned long long)L.paced.count, ms(hist_quantile(&L.paced, .5)),
           ms(hist_quantile(&L.paced, .99)));
    printf(" chars=%llu cps=%.0f tokens=%.0f exact=%s wall_s=%.2f", (unsigned long long)L.chars,
           (double)L.chars / wall, tokens, L.failed ? "no" : "yes", wall);
    printf(" cpu_s=%.3f cpu_per_1k_tokens_s=%.4f rss_base_kb=%lu rss_open_kb=%lu open=%zu"
           " rss_per_stream_kib=%.2f", cpu, tokens > 0 ? cpu * 1000 / tokens : 0, L.p0.rss_kb,
           L.p_open.rss_kb, L.open_at_sample,
           L.open_at_sample ? growth / (double)L.open_at_sample : 0);
    printf(" mock_cpu_s=%.3f load_cpu_s=%.3f\n", L.mock1 - L.mock0, load_cpu_s());
}

/* One line per stream: start (ms from the first connect), first character (ms), error. */
static void dump_streams(void)
{
    FILE *f = L.o.dump ? fopen(L.o.dump, "w") : NULL;
    if (!f)
        return;
    for (size_t i = 0; i < L.o.streams; i++) {
        const stream *st = &L.s[i];
        fprintf(f, "%.3f %.3f %s\n", st->t_start ? ms(st->t_start - L.t_begin) : -1.0,
                st->chars ? ms(st->ttfc) : -1.0, ERR_NAMES[st->err]);
    }
    fclose(f);
}

/* ---- setup ---- */

static int build_request(void)
{
    char body[512], extra[REQ_MAX / 2] = "", maxt[48] = "";
    size_t el = 0;
    if (L.o.max_tokens)
        snprintf(maxt, sizeof(maxt), ",\"max_tokens\":%zu", L.o.max_tokens);
    if (L.o.api == API_NATIVE)
        snprintf(body, sizeof(body), "{\"messages\":[{\"role\":\"user\",\"content\":\"bench\"}]%s}",
                 maxt);
    else
        snprintf(body, sizeof(body), "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\","
                 "\"content\":\"bench\"}],\"stream\":true%s}", L.o.model, maxt);
    for (size_t i = 0; i < L.o.nheaders; i++) {
        int w = snprintf(extra + el, sizeof(extra) - el, "%s\r\n", L.o.headers[i]);
        if (w < 0 || (size_t)w >= sizeof(extra) - el)
            return -1;
        el += (size_t)w;
    }
    int n = snprintf(L.req, sizeof(L.req), "POST %s HTTP/1.1\r\nHost: %s:%d\r\n"
                     "Content-Type: application/json\r\nAccept: text/event-stream\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n%s\r\n%s", L.o.path,
                     L.o.host, L.o.port, strlen(body), extra, body);
    if (n < 0 || (size_t)n >= sizeof(L.req))
        return -1;
    L.req_len = (size_t)n;
    return 0;
}

static int set_api(opts *o, const char *v)
{
    o->api = !strcmp(v, "openai") ? API_OPENAI : !strcmp(v, "native") ? API_NATIVE : -1;
    return o->api < 0 ? -1 : 0;
}

static int set_text_opt(opts *o, const char *a, const char *v)
{
    if (!strcmp(a, "--tokens"))
        o->tokens = strtoul(v, NULL, 10);
    else if (!strcmp(a, "--token-bytes"))
        o->token_bytes = strtoul(v, NULL, 10);
    else if (!strcmp(a, "--max-tokens"))
        o->max_tokens = strtoul(v, NULL, 10);
    else if (!strcmp(a, "--rate"))
        o->rate = strtod(v, NULL);
    else
        return -1;
    return 0;
}

static int set_opt(opts *o, const char *a, const char *v)
{
    if (!strcmp(a, "--host"))
        o->host = v;
    else if (!strcmp(a, "--port"))
        o->port = atoi(v);
    else if (!strcmp(a, "--path"))
        o->path = v;
    else if (!strcmp(a, "--api"))
        return set_api(o, v);
    else if (!strcmp(a, "--streams"))
        o->streams = strtoul(v, NULL, 10);
    else if (!strcmp(a, "--ramp"))
        o->ramp = strtod(v, NULL);
    else if (!strcmp(a, "--timeout"))
        o->timeout_s = strtod(v, NULL);
    else if (!strcmp(a, "--duration"))
        o->duration_s = strtod(v, NULL);
    else if (!strcmp(a, "--label"))
        o->label = v;
    else if (!strcmp(a, "--model"))
        o->model = v;
    else if (!strcmp(a, "--dump"))
        o->dump = v;
    else if (!strcmp(a, "--mock-pid"))
        o->mock_pid = atoi(v);
    else if (!strcmp(a, "--header") && o->nheaders < MAX_HEADERS)
        o->headers[o->nheaders++] = v;
    else if (!strcmp(a, "--pid") && o->npids < MAX_PIDS)
        o->pids[o->npids++] = atoi(v);
    else
        return set_text_opt(o, a, v);
    return 0;
}

static int parse_args(int argc, char **argv, opts *o)
{
    *o = (opts){.host = "127.0.0.1", .path = "/api/chat", .label = "run", .model = "bench-mock",
                .port = 8080, .streams = 100, .tokens = 40, .token_bytes = 8, .ramp = 2000,
                .timeout_s = 60, .duration_s = 120, .rate = 4};
    for (int i = 1; i < argc; i += 2)
        if (i + 1 >= argc || set_opt(o, argv[i], argv[i + 1]) < 0)
            return -1;
    return o->api < 0 || o->port <= 0 || o->port > 65535 || o->streams < 1 ||
                   o->streams > MAX_STREAMS || o->timeout_s <= 0 || o->duration_s <= 0 ||
                   o->rate < 0 || inet_pton(AF_INET, o->host, &L.addr.sin_addr) != 1 ? -1 : 0;
}

/* Soft RLIMIT_NOFILE up to the hard one; -1 when that is still too few for the streams. */
static int raise_nofile(size_t need)
{
    struct rlimit r;
    getrlimit(RLIMIT_NOFILE, &r);
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
    getrlimit(RLIMIT_NOFILE, &r);
    return r.rlim_cur >= need ? 0 : -1;
}

static int setup(int argc, char **argv)
{
    if (parse_args(argc, argv, &L.o) < 0 || text_make(&L.t, L.o.tokens, L.o.token_bytes) < 0 ||
        build_request() < 0) {
        fprintf(stderr, "usage: load --port P [--host 127.0.0.1] [--path /api/chat] "
                "[--api native|openai] [--streams N] [--ramp conns/s] [--timeout S] "
                "[--duration S] [--tokens T] [--token-bytes B] [--max-tokens K] [--rate tokens/s] "
                "[--header 'K: V']... [--pid PID]... [--mock-pid PID] [--label L] [--model M] "
                "[--dump FILE]\n");
        return 2;
    }
    if (raise_nofile(L.o.streams + 64) < 0) {
        fprintf(stderr, "load: RLIMIT_NOFILE hard limit below %zu streams\n", L.o.streams);
        return 2;
    }
    if (L.o.max_tokens && L.o.max_tokens < L.t.tokens) { /* the mock sends only these */
        L.t.tokens = L.o.max_tokens;
        L.t.len = L.t.tokens * L.t.token_bytes;
    }
    L.addr.sin_family = AF_INET;
    L.addr.sin_port = htons((uint16_t)L.o.port);
    L.interval_ns = L.o.rate > 0 ? (uint64_t)(1e9 / L.o.rate) : 0;
    L.s = calloc(L.o.streams, sizeof(stream));
    L.ep = epoll_create1(EPOLL_CLOEXEC);
    if (!L.s || L.ep < 0) {
        perror("load");
        return 1;
    }
    for (size_t i = 0; i < L.o.streams; i++)
        L.s[i].fd = -1;
    return 0;
}

int main(int argc, char **argv)
{
    int rc = setup(argc, argv);
    if (rc)
        return rc;
    run();
    double wall = (double)(L.t_end - L.t_begin) / 1e9;
    double tokens = (double)L.bytes / (double)L.t.token_bytes;
    if (wall <= 0)
        wall = 1e-9;
    report_human(wall, tokens);
    report_machine(wall, tokens);
    dump_streams();
    return 0;
}
