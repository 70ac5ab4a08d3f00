/* Unit tests: rconn against real redis-server processes on loopback (and a unix socket),
 * driven the way a worker drives it: one loop, rconn_timeout_ms for the wait, rconn_tick and
 * rconn_flush after it. Round trips, binary values, AUTH, SELECT, the in-flight cap, a server
 * killed mid-way and restarted, reply deadlines, and rconn_free from every state. Every wait is
 * bounded; every server is stopped by its PID. */
#include <check.h>

#include "check_main.h"
#include <errno.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"
#include "rconn.h"

/* ---------- redis-server processes ---------- */

typedef struct srv {
    pid_t pid;
    int port; /* 0: unix socket only */
    char sock[108];
} srv;

#define SRV_MAX 4
static srv *started[SRV_MAX];
static char tmpdir[64];

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof(a);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &n), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* One connect() attempt to the server's address: 1 when it accepts. */
static int accepts(const srv *s)
{
    int fd, ok;
    if (s->port) {
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)s->port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    } else {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(a.sun_path, sizeof(a.sun_path), "%s", s->sock);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    }
    close(fd);
    return ok;
}

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Starts redis-server (requirepass pass when set; a unix socket only when s->port is 0)
 * and polls until it accepts, 10 s at most. */
static void srv_start(srv *s, const char *pass)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", s->port);
    const char *argv[24] = {"redis-server", "--port", port,        "--save", "",    "--appendonly",
                            "no",           "--bind", "127.0.0.1", "--dir",  tmpdir};
    int n = 11;
    if (pass) {
        argv[n++] = "--requirepass";
        argv[n++] = pass;
    }
    if (!s->port) {
        argv[n++] = "--unixsocket";
        argv[n++] = s->sock;
    }
    argv[n] = NULL;
    s->pid = fork();
    ck_assert_int_ge(s->pid, 0);
    if (s->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a failed test */
        freopen("/dev/null", "w", stdout);
        execvp("redis-server", (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < SRV_MAX; i++)
        if (!started[i]) {
            started[i] = s;
            break;
        }
    uint64_t until = loop_now_ms() + 10000;
    while (!accepts(s)) {
        int st;
        ck_assert_msg(waitpid(s->pid, &st, WNOHANG) == 0, "redis-server exited (is it installed?)");
        ck_assert_msg(loop_now_ms() < until, "redis-server did not accept within 10 s");
        pause_ms(5);
    }
}

static void srv_stop(srv *s)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
    for (int i = 0; i < SRV_MAX; i++)
        if (started[i] == s)
            started[i] = NULL;
}

static void setup(void)
{
    signal(SIGPIPE, SIG_IGN); /* as chatd's main does: a write to a dead server is EPIPE */
}

/* Unforked, a failed check jumps here; forked, PR_SET_PDEATHSIG stops the servers. */
static void teardown(void)
{
    for (int i = 0; i < SRV_MAX; i++)
        if (started[i])
            srv_stop(started[i]);
    char sock[128];
    snprintf(sock, sizeof(sock), "%s/r.sock", tmpdir);
    unlink(sock);
}

/* A server on a free loopback port (not started yet). */
static srv tcp_srv(void)
{
    srv s = {.port = free_port()};
    return s;
}

/* ---------- driving the loop like a worker ---------- */

static loop *L;

static rconn *open_url(const char *url, int cap)
{
    rconn_url u;
    char err[160];
    ck_assert_msg(rconn_url_parse(url, &u, err, sizeof(err)) == 0, "%s", err);
    rconn_opts o = {.max_inflight = cap};
    rconn *rc = rconn_new(L, &u, &o);
    ck_assert_ptr_nonnull(rc);
    return rc;
}

static rconn *open_tcp(const srv *s, const char *userinfo, int db, int cap)
{
    char url[200];
    snprintf(url, sizeof(url), "redis://%s127.0.0.1:%d/%d", userinfo ? userinfo : "", s->port, db);
    return open_url(url, cap);
}

typedef int (*cond_fn)(void *arg);

/* Worker passes until cond holds or ms pass; returns cond's last value. */
static int run_until(rconn *rc, cond_fn cond, void *arg, int ms)
{
    uint64_t until = loop_now_ms() + (uint64_t)ms;
    while (!cond(arg)) {
        if (rc)
            rconn_flush(rc); /* the worker flushes at the end of its pass */
        uint64_t now = loop_now_ms();
        if (now >= until)
            return 0;
        int t = rc ? rconn_timeout_ms(rc, now) : -1;
        int left = (int)(until - now);
        if (t < 0 || t > left)
            t = left;
        ck_assert_int_ge(loop_run_once(L, t > 50 ? 50 : t), 0);
        if (rc)
            rconn_tick(rc, loop_now_ms());
    }
    return 1;
}

static int is_ready(void *rc)
{
    return rconn_ready(rc);
}
static int is_down(void *rc)
{
    return rconn_get_state(rc) == RCONN_DOWN;
}

static void wait_ready(rconn *rc)
{
    ck_assert_msg(run_until(rc, is_ready, rc, 5000), "not ready: %s", rconn_error(rc));
}

/* One reply kept for the test to look at. */
typedef struct got {
    int calls;
    int null;
    int type;
    long long integer;
    char str[64];
    size_t len;
} got;

static void keep(rconn *rc, const redisReply *r, void *ud)
{
    got *g = ud;
    g->calls++;
    if (!r) {
        g->null++;
        return;
    }
    g->type = r->type;
    g->integer = r->integer;
    g->len = r->str ? r->len : 0;
    if (r->str)
        memcpy(g->str, r->str, r->len < sizeof(g->str) ? r->len : sizeof(g->str));
}

static int got_called(void *g)
{
    return ((got *)g)->calls > 0;
}

/* Sends a command of NUL-free words and waits for its one callback. */
static got roundtrip_n(rconn *rc, int argc, const char *const *argv, const size_t *lens)
{
    got g = {0};
    ck_assert_int_eq(rconn_cmd(rc, keep, &g, argc, argv, lens), 0);
    ck_assert_msg(run_until(rc, got_called, &g, 5000), "no reply");
    ck_assert_int_eq(g.calls, 1);
    return g;
}

static got roundtrip(rconn *rc, const char *a, const char *b, const char *c)
{
    const char *argv[3] = {a, b, c};
    size_t lens[3] = {strlen(a), b ? strlen(b) : 0, c ? strlen(c) : 0};
    return roundtrip_n(rc, c ? 3 : b ? 2 : 1, argv, lens);
}

static void start_loop(void)
{
    L = loop_new();
    ck_assert_ptr_nonnull(L);
}

static void info_calls(rconn *rc, const redisReply *r, void *ud)
{
    struct {
        int done;
        long calls;
        const char *name;
    } *q = ud;
    q->done = 1;
    char key[64];
    snprintf(key, sizeof(key), "cmdstat_%s:calls=", q->name);
    const char *p = r && r->str ? strstr(r->str, key) : NULL;
    q->calls = p ? strtol(p + strlen(key), NULL, 10) : 0;
}

/* ---------- the tests ---------- */

START_TEST(set_get_roundtrip)
{
    start_loop();
    srv s = tcp_srv();
    srv_start(&s, NULL);
    rconn *rc = open_tcp(&s, NULL, 0, 16);
    ck_assert_int_eq(rconn_get_state(rc), RCONN_DOWN);
    ck_assert_int_eq(rconn_timeout_ms(rc, loop_now_ms()), 0); /* the first attempt is due */
    got early = {0};
    const char *ping[] = {"PING"};
    size_t pl[] = {4};
    ck_assert_int_eq(rconn_cmd(rc, keep, &early, 1, ping, pl), -EAGAIN);
    wait_ready(rc);
    ck_assert_int_eq(early.calls, 0);
    ck_assert_str_eq(rconn_error(rc), "");

    got g = roundtrip(rc, "SET", "greeting", "hello");
    ck_assert_int_eq(g.type, REDIS_REPLY_STATUS);
    ck_assert_str_eq(g.str, "OK");
    g = roundtrip(rc, "GET", "greeting", NULL);
    ck_assert_int_eq(g.type, REDIS_REPLY_STRING);
    ck_assert_uint_eq(g.len, 5);
    ck_assert_str_eq(g.str, "hello");
    g = roundtrip(rc, "GET", "nothing", NULL);
    ck_assert_int_eq(g.type, REDIS_REPLY_NIL);
    g = roundtrip(rc, "NOSUCHCOMMAND", NULL, NULL);
    ck_assert_int_eq(g.type, REDIS_REPLY_ERROR);
    ck_assert_int_eq(rconn_get_state(rc), RCONN_READY); /* an error reply is not a loss */

    const rconn_stats *st = rconn_get_stats(rc);
    ck_assert_uint_eq(st->sent, 4);
    ck_assert_uint_eq(st->replies, 4);
    ck_assert_uint_eq(st->errors, 1);
    ck_assert_uint_eq(st->lost, 0);
    ck_assert_uint_eq(st->rejected, 1);
    ck_assert_uint_eq(st->connects, 1);
    ck_assert_uint_eq(st->reconnects, 0);
    ck_assert_uint_eq(st->lat_count, 4);
    unsigned long long inb = 0;
    for (int i = 0; i < RCONN_LAT_BUCKETS; i++)
        inb += st->lat_bucket[i];
    ck_assert_uint_eq(inb, 4);
    ck_assert_int_eq(rconn_inflight(rc), 0);
    ck_assert_int_eq(rconn_timeout_ms(rc, loop_now_ms()), -1); /* idle: nothing due */
    rconn_free(rc);
    srv_stop(&s);
    loop_free(L);
}
END_TEST

START_TEST(binary_safe_values)
{
    start_loop();
    srv s = tcp_srv();
    srv_start(&s, NULL);
    rconn *rc = open_tcp(&s, NULL, 0, 16);
    wait_ready(rc);
    static const char key[] = "k\0ey\r\n";
    static const char val[] = "a\0b\r\n$3\r\n\0\xff";
    const char *set[] = {"SET", key, val};
    size_t setl[] = {3, sizeof(key) - 1, sizeof(val) - 1};
    got g = roundtrip_n(rc, 3, set, setl);
    ck_assert_str_eq(g.str, "OK");
    const char *get[] = {"GET", key};
    size_t getl[] = {3, sizeof(key) - 1};
    g = roundtrip_n(rc, 2, get, getl);
    ck_assert_int_eq(g.type, REDIS_REPLY_STRING);
    ck_assert_uint_eq(g.len, sizeof(val) - 1);
    ck_assert_mem_eq(g.str, val, sizeof(val) - 1);
    /* The key with its NUL is not the key cut at it. */
    const char *get2[] = {"GET", "k"};
    size_t get2l[] = {3, 1};
    g = roundtrip_n(rc, 2, get2, get2l);
    ck_assert_int_eq(g.type, REDIS_REPLY_NIL);
    ck_assert_int_eq(rconn_cmd(rc, keep, &g, 0, get, getl), -EINVAL);
    rconn_free(rc);
    srv_stop(&s);
    loop_free(L);
}
END_TEST

/* Runs until ready or down after an attempt; fails if it was ever ready. */
static int stays_unready(void *rc)
{
    ck_assert_int_ne(rconn_get_state(rc), RCONN_READY);
    return rconn_get_stats(rc)->reconnects > 0 ||
           (rconn_get_state(rc) == RCONN_DOWN && rconn_error(rc)[0]);
}

START_TEST(auth_right_and_wrong)
{
    start_loop();
    srv s = tcp_srv();
    srv_start(&s, "s3cret pw");
    rconn *rc = open_tcp(&s, ":s3cret%20pw@", 0, 16);
    wait_ready(rc);
    got g = roundtrip(rc, "SET", "a", "1");
    ck_assert_str_eq(g.str, "OK");
    rconn_free(rc);

    rc = open_tcp(&s, "default:s3cret%20pw@", 0, 16); /* AUTH user password */
    wait_ready(rc);
    g = roundtrip(rc, "GET", "a", NULL);
    ck_assert_str_eq(g.str, "1");
    rconn_free(rc);

    rc = open_tcp(&s, ":wrong@", 0, 16);
    ck_assert(run_until(rc, stays_unready, rc, 5000));
    ck_assert_int_eq(rconn_get_state(rc), RCONN_DOWN);
    ck_assert_msg(strstr(rconn_error(rc), "AUTH failed:") != NULL, "%s", rconn_error(rc));
    ck_assert_msg(strstr(rconn_error(rc), "WRONGPASS") || strstr(rconn_error(rc), "invalid"), "%s",
                  rconn_error(rc));
    ck_assert_uint_eq(rconn_get_stats(rc)->connects, 0);
    /* Down: the next attempt waits for the backoff, and commands are refused at once. */
    int t = rconn_timeout_ms(rc, loop_now_ms());
    ck_assert_int_ge(t, 0);
    ck_assert_int_le(t, RCONN_BACKOFF_MIN_MS);
    const char *ping[] = {"PING"};
    size_t pl[] = {4};
    ck_assert_int_eq(rconn_cmd(rc, keep, &g, 1, ping, pl), -EAGAIN);
    rconn_free(rc);

    /* No password at all: the handshake's PING answers NOAUTH, and that is the reason. */
    rc = open_tcp(&s, NULL, 0, 16);
    ck_assert(run_until(rc, stays_unready, rc, 5000));
    ck_assert_msg(strstr(rconn_error(rc), "PING failed: NOAUTH") != NULL, "%s", rconn_error(rc));
    rconn_free(rc);
    srv_stop(&s);
    loop_free(L);
}
END_TEST

START_TEST(select_db)
{
    start_loop();
    srv s = tcp_srv();
    srv_start(&s, NULL);
    rconn *five = open_tcp(&s, NULL, 5, 16);
    rconn *zero = open_tcp(&s, NULL, 0, 16);
    wait_ready(five);
    wait_ready(zero);
    got g = roundtrip(five, "SET", "where", "five");
    ck_assert_str_eq(g.str, "OK");
    g = roundtrip(zero, "GET", "where", NULL);
    ck_assert_int_eq(g.type, REDIS_REPLY_NIL);
    g = roundtrip(five, "GET", "where", NULL);
    ck_assert_str_eq(g.str, "five");
    rconn_free(zero);

    rconn *bad = open_tcp(&s, NULL, 999, 16); /* the server has 16 databases */
    ck_assert(run_until(bad, stays_unready, bad, 5000));
    ck_assert_msg(strstr(rconn_error(bad), "SELECT failed:") != NULL, "%s", rconn_error(bad));
    rconn_free(bad);
    rconn_free(five);
    srv_stop(&s);
    loop_free(L);
}
END_TEST

START_TEST(unix_socket)
{
    start_loop();
    srv s = {.port = 0};
    snprintf(s.sock, sizeof(s.sock), "%s/r.sock", tmpdir);
    srv_start(&s, NULL);
    char url[200];
    snprintf(url, sizeof(url), "unix://%s?db=2", s.sock);
    rconn *rc = open_url(url, 4);
    wait_ready(rc);
    got g = roundtrip(rc, "SET", "u", "x");
    ck_assert_str_eq(g.str, "OK");
    g = roundtrip(rc, "GET", "u", NULL);
    ck_assert_str_eq(g.str, "x");
    snprintf(url, sizeof(url), "redis+unix://%s", s.sock);
    rconn *zero = open_url(url, 4);
    wait_ready(zero);
    g = roundtrip(zero, "GET", "u", NULL);
    ck_assert_int_eq(g.type, REDIS_REPLY_NIL); /* db 0, not 2 */
    rconn_free(zero);
    rconn_free(rc);
    srv_stop(&s);
    loop_free(L);
}
END_TEST

/* ---- 1000 pipelined INCRs under a cap ---- */

#define N_INCR 1000
#define CAP 64

typedef struct pipe_state {
    rconn *rc;
    int calls[N_INCR];
    long long next; /* the value the next reply must carry */
    int done, max_inflight, refused, bad;
} pipe_state;

static pipe_state P;

static void on_incr(rconn *rc, const redisReply *r, void *ud)
{
    int i = (int)(intptr_t)ud;
    P.calls[i]++;
    if (!r || r->type != REDIS_REPLY_INTEGER || r->integer != ++P.next || i + 1 != r->integer)
        P.bad++;
    P.done++;
}

static int all_done(void *arg)
{
    return P.done == N_INCR;
}

START_TEST(pipelined_incr_with_cap)
{
    start_loop();
    srv s = tcp_srv();
    srv_start(&s, NULL);
    memset(&P, 0, sizeof(P));
    P.rc = open_tcp(&s, NULL, 0, CAP);
    wait_ready(P.rc);
    const char *argv[] = {"INCR", "counter"};
    size_t lens[] = {4, 7};
    uint64_t until = loop_now_ms() + 10000;
    for (int i = 0; i < N_INCR;) {
        int rc = rconn_cmd(P.rc, on_incr, (void *)(intptr_t)i, 2, argv, lens);
        if (rc == 0) {
            i++;
            if (rconn_inflight(P.rc) > P.max_inflight)
                P.max_inflight = rconn_inflight(P.rc);
            continue;
        }
        ck_assert_int_eq(rc, -ENOBUFS);
        ck_assert_int_eq(rconn_inflight(P.rc), CAP);
        P.refused++;
        ck_assert_msg(loop_now_ms() < until, "stuck at %d", i);
        rconn_flush(P.rc);
        loop_run_once(L, 50); /* a pass: replies free room */
        rconn_tick(P.rc, loop_now_ms());
    }
    ck_assert(run_until(P.rc, all_done, NULL, 10000));
    ck_assert_int_eq(P.bad, 0);
    ck_assert_int_eq(P.max_inflight, CAP);
    ck_assert_int_gt(P.refused, 0);
    for (int i = 0; i < N_INCR; i++)
        ck_assert_int_eq(P.calls[i], 1);
    got g = roundtrip(P.rc, "GET", "counter", NULL);
    ck_assert_str_eq(g.str, "1000");
    ck_assert_uint_eq(rconn_get_stats(P.rc)->sent, N_INCR + 1);
    ck_assert_uint_eq(rconn_get_stats(P.rc)->lat_count, N_INCR + 1);
    rconn_free(P.rc);
    srv_stop(&s);
    loop_free(L);
}
END_TEST

/* ---- the server killed mid-way, then back on the same port ---- */

#define N_PENDING 100
static got pending[N_PENDING];

static int all_pending_called(void *arg)
{
    for (int i = 0; i < N_PENDING; i++)
        if (!pending[i].calls)
            return 0;
    return 1;
}

static int attempts_at_least(void *rc)
{
    return rconn_get_stats(rc)->reconnects >= 2;
}

START_TEST(server_killed_and_restarted)
{
    start_loop();
    srv s = tcp_srv();
    srv_start(&s, NULL);
    rconn *rc = open_tcp(&s, NULL, 0, 128);
    wait_ready(rc);
    got g = roundtrip(rc, "SET", "before", "1");
    ck_assert_str_eq(g.str, "OK");

    /* Stopped, the server reads nothing: the commands stay unanswered, then it dies. */
    ck_assert_int_eq(kill(s.pid, SIGSTOP), 0);
    memset(pending, 0, sizeof(pending));
    const char *argv[] = {"INCR", "n"};
    size_t lens[] = {4, 1};
    for (int i = 0; i < N_PENDING; i++)
        ck_assert_int_eq(rconn_cmd(rc, keep, &pending[i], 2, argv, lens), 0);
    ck_assert_int_eq(rconn_inflight(rc), N_PENDING);
    loop_run_once(L, 0); /* the pipeline goes out */
    srv_stop(&s);

    ck_assert(run_until(rc, all_pending_called, NULL, 5000));
    for (int i = 0; i < N_PENDING; i++) {
        ck_assert_int_eq(pending[i].calls, 1);
        ck_assert_int_eq(pending[i].null, 1);
    }
    ck_assert_int_eq(rconn_get_state(rc), RCONN_DOWN);
    ck_assert(!rconn_ready(rc));
    ck_assert_int_eq(rconn_inflight(rc), 0);
    ck_assert_msg(rconn_error(rc)[0], "no reason kept");
    ck_assert_uint_eq(rconn_get_stats(rc)->lost, N_PENDING);
    ck_assert_int_eq(rconn_cmd(rc, keep, &g, 2, argv, lens), -EAGAIN);

    /* Nobody listens: attempts fail and back off (100, 200, 400 ms ... capped at 2 s). */
    ck_assert(run_until(rc, attempts_at_least, rc, 5000));
    int t = rconn_timeout_ms(rc, loop_now_ms());
    ck_assert_int_ge(t, 0);
    ck_assert_int_le(t, RCONN_BACKOFF_MAX_MS);
    ck_assert_int_eq(rconn_get_stats(rc)->connects, 1);

    /* Back on the same port: the connection comes back by itself. */
    srv_start(&s, NULL);
    wait_ready(rc);
    ck_assert_uint_eq(rconn_get_stats(rc)->connects, 2);
    ck_assert_uint_ge(rconn_get_stats(rc)->reconnects, 2);
    g = roundtrip(rc, "INCR", "n", NULL);
    ck_assert_int_eq(g.type, REDIS_REPLY_INTEGER);
    ck_assert_int_eq(g.integer, 1); /* a fresh server: nothing of before survived */
    rconn_free(rc);
    srv_stop(&s);
    loop_free(L);
}
END_TEST

/* A script named in the options is loaded at connect and runs by its SHA-1; after the
 * server lost it (SCRIPT FLUSH), the NOSCRIPT reply makes the link reconnect and load it
 * again, and the same EVAL works once more. */
static const char SCRIPT_ADD[] = "return tonumber(ARGV[1]) + 1";

static int flag_set(void *p)
{
    return *(int *)p;
}

static got eval_add(rconn *rc, const char *n)
{
    const char *argv[] = {"EVAL", SCRIPT_ADD, "0", n};
    size_t lens[] = {4, strlen(SCRIPT_ADD), 1, strlen(n)};
    return roundtrip_n(rc, 4, argv, lens);
}

/* How many times the server ran a command, from INFO commandstats ("cmdstat_NAME:calls="). */
static long calls_of(rconn *rc, const char *name)
{
    const char *argv[] = {"INFO", "commandstats"};
    size_t lens[] = {4, 12};
    struct {
        int done;
        long calls;
        const char *name;
    } q = {0, 0, name};
    ck_assert_int_eq(rconn_cmd(rc, info_calls, &q, 2, argv, lens), 0);
    ck_assert(run_until(rc, flag_set, &q.done, 5000));
    return q.calls;
}

START_TEST(scripts_by_sha)
{
    start_loop();
    srv s = tcp_srv();
    srv_start(&s, NULL);
    char url[64], err[160];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", s.port);
    rconn_url u;
    ck_assert_int_eq(rconn_url_parse(url, &u, err, sizeof(err)), 0);
    static const char *const scripts[] = {"return 1", SCRIPT_ADD, NULL};
    rconn_opts o = {.max_inflight = 8, .scripts = scripts};
    rconn *rc = rconn_new(L, &u, &o);
    ck_assert_ptr_nonnull(rc);
    wait_ready(rc);
    got g = eval_add(rc, "41");
    ck_assert_int_eq(g.type, REDIS_REPLY_INTEGER);
    ck_assert_int_eq(g.integer, 42);
    ck_assert_int_eq(calls_of(rc, "evalsha"), 1);
    ck_assert_int_eq(calls_of(rc, "eval"), 0);
    /* A script that is not in the options goes out as it is. */
    const char *other[] = {"EVAL", "return 5", "0"};
    size_t ol[] = {4, 8, 1};
    ck_assert_int_eq(roundtrip_n(rc, 3, other, ol).integer, 5);
    ck_assert_int_eq(calls_of(rc, "eval"), 1);
    unsigned long long c0 = atomic_load(&rconn_get_stats(rc)->connects);
    ck_assert_str_eq(roundtrip(rc, "SCRIPT", "FLUSH", NULL).str, "OK");
    g = eval_add(rc, "1");
    ck_assert_int_eq(g.type, REDIS_REPLY_ERROR);
    ck_assert_msg(!strncmp(g.str, "NOSCRIPT", 8), "%s", g.str);
    wait_ready(rc);
    ck_assert_uint_eq(atomic_load(&rconn_get_stats(rc)->connects), c0 + 1);
    ck_assert_str_eq(rconn_error(rc), "NOSCRIPT: the server lost its scripts");
    g = eval_add(rc, "1");
    ck_assert_int_eq(g.type, REDIS_REPLY_INTEGER);
    ck_assert_int_eq(g.integer, 2);
    rconn_free(rc);
    srv_stop(&s);
    loop_free(L);
}
END_TEST

START_TEST(reply_deadline)
{
    start_loop();
    srv s = tcp_srv();
    srv_start(&s, NULL);
    rconn_url u;
    char url[64], err[160];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", s.port);
    ck_assert_int_eq(rconn_url_parse(url, &u, err, sizeof(err)), 0);
    rconn_opts o = {.max_inflight = 8, .reply_timeout_ms = 200};
    rconn *rc = rconn_new(L, &u, &o);
    wait_ready(rc);
    ck_assert_int_eq(kill(s.pid, SIGSTOP), 0);
    got g = {0};
    const char *argv[] = {"PING"};
    size_t lens[] = {4};
    uint64_t t0 = loop_now_ms();
    ck_assert_int_eq(rconn_cmd(rc, keep, &g, 1, argv, lens), 0);
    ck_assert_int_eq(rconn_timeout_ms(rc, loop_now_ms()), 0); /* written at the flush */
    rconn_flush(rc);
    int t = rconn_timeout_ms(rc, loop_now_ms());
    ck_assert_int_gt(t, 0);
    ck_assert_int_le(t, 200);
    ck_assert(run_until(rc, got_called, &g, 5000));
    ck_assert_int_eq(g.null, 1);
    ck_assert_uint_ge(loop_now_ms() - t0, 200);
    ck_assert_str_eq(rconn_error(rc), "reply timed out");
    ck_assert_int_eq(kill(s.pid, SIGCONT), 0);
    wait_ready(rc); /* a new connection to the same, now awake, server */
    got h = roundtrip(rc, "PING", NULL, NULL);
    ck_assert_str_eq(h.str, "PONG");
    rconn_free(rc);
    srv_stop(&s);
    loop_free(L);
}
END_TEST

START_TEST(connect_refused)
{
    start_loop();
    srv s = tcp_srv(); /* never started */
    rconn *rc = open_tcp(&s, NULL, 0, 4);
    ck_assert(run_until(rc, stays_unready, rc, 5000));
    ck_assert_int_eq(rconn_get_state(rc), RCONN_DOWN);
    ck_assert_msg(strstr(rconn_error(rc), "refused") != NULL, "%s", rconn_error(rc));
    rconn_free(rc);

    char url[160];
    snprintf(url, sizeof(url), "unix://%s/absent.sock", tmpdir);
    rc = open_url(url, 4);
    ck_assert(run_until(rc, stays_unready, rc, 5000));
    ck_assert_int_eq(rconn_get_state(rc), RCONN_DOWN);
    ck_assert_msg(strstr(rconn_error(rc), "connect") != NULL, "%s", rconn_error(rc));
    rconn_free(rc);
    loop_free(L);
}
END_TEST

/* ---- rconn_free from every state, and from inside a callback ---- */

typedef struct freeing {
    rconn *rc;
    int calls, nulls, after_free;
} freeing;

static freeing F;

static void free_in_cb(rconn *rc, const redisReply *r, void *ud)
{
    F.calls++;
    F.nulls += !r;
    if (F.rc) {
        rconn_free(F.rc);
        F.rc = NULL;
        F.after_free = F.calls;
    }
}

static int f_all(void *n)
{
    return F.calls == (int)(intptr_t)n;
}

START_TEST(free_in_every_state)
{
    start_loop();
    srv s = tcp_srv();
    srv_start(&s, NULL);
    rconn_free(NULL);
    /* Never ticked. */
    rconn *rc = open_tcp(&s, NULL, 0, 4);
    rconn_free(rc);
    /* Connecting: the handshake is out, no reply yet. */
    rc = open_tcp(&s, NULL, 0, 4);
    rconn_tick(rc, loop_now_ms());
    ck_assert_int_eq(rconn_get_state(rc), RCONN_CONNECTING);
    rconn_free(rc);
    /* Ready, commands pending: each callback gets NULL before rconn_free returns. */
    rc = open_tcp(&s, NULL, 0, 8);
    wait_ready(rc);
    got g[5] = {{0}};
    const char *argv[] = {"PING"};
    size_t lens[] = {4};
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(rconn_cmd(rc, keep, &g[i], 1, argv, lens), 0);
    rconn_free(rc);
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(g[i].calls, 1);
        ck_assert_int_eq(g[i].null, 1);
    }
    /* From inside a reply callback: the rest get NULL, once each; nothing after. */
    memset(&F, 0, sizeof(F));
    F.rc = open_tcp(&s, NULL, 0, 8);
    wait_ready(F.rc);
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(rconn_cmd(F.rc, free_in_cb, NULL, 1, argv, lens), 0);
    rconn_flush(F.rc);
    ck_assert(run_until(NULL, f_all, (void *)(intptr_t)6, 5000));
    ck_assert_int_eq(F.after_free, 1);
    ck_assert_int_eq(F.nulls, 5);
    /* Down between attempts. */
    srv_stop(&s);
    rc = open_tcp(&s, NULL, 0, 4);
    ck_assert(run_until(rc, is_down, rc, 5000));
    rconn_free(rc);
    loop_free(L);
}
END_TEST

START_TEST(bad_options)
{
    start_loop();
    rconn_url u;
    char err[100];
    ck_assert_int_eq(rconn_url_parse("redis://127.0.0.1", &u, err, sizeof(err)), 0);
    rconn_opts o = {.max_inflight = RCONN_INFLIGHT_MAX + 1};
    ck_assert_ptr_null(rconn_new(L, &u, &o));
    o = (rconn_opts){.backoff_min_ms = 500, .backoff_max_ms = 100};
    ck_assert_ptr_null(rconn_new(L, &u, &o));
    ck_assert_ptr_null(rconn_new(NULL, &u, NULL));
    rconn *rc = rconn_new(L, &u, NULL);
    ck_assert_ptr_nonnull(rc);
    rconn_free(rc);
    loop_free(L);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rconn");
    TCase *t = tcase_create("core");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 60);
    tcase_add_test(t, set_get_roundtrip);
    tcase_add_test(t, binary_safe_values);
    tcase_add_test(t, auth_right_and_wrong);
    tcase_add_test(t, select_db);
    tcase_add_test(t, unix_socket);
    tcase_add_test(t, pipelined_incr_with_cap);
    tcase_add_test(t, server_killed_and_restarted);
    tcase_add_test(t, scripts_by_sha);
    tcase_add_test(t, reply_deadline);
    tcase_add_test(t, connect_refused);
    tcase_add_test(t, free_in_every_state);
    tcase_add_test(t, bad_options);
    suite_add_tcase(s, t);
    /* One directory for every server's files (none with --save '' but a unix socket). */
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/rconn-test-XXXXXX");
    if (!mkdtemp(tmpdir))
        return EXIT_FAILURE;
    int rc = check_run(s);
    teardown();
    rmdir(tmpdir);
    return rc;
}
