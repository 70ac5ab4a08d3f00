/* rconn — see rconn.h.
 *
 * hiredis calls back into us from inside its own calls (replies, NULL replies while it frees
 * a context, the event hooks, cleanup). Three rules keep that safe:
 *  - every entry into hiredis from here is bracketed by enter/leave, and rconn_free only
 *    marks rc while a bracket is open: the outermost leave frees it, after hiredis returned;
 *  - the context is only ever freed through redisAsyncFree, which hiredis defers itself
 *    while a reply callback runs; the cleanup hook is the one place that learns it is gone;
 *  - losing the link is idempotent (went_down): the first NULL reply, the cleanup hook, a
 *    failed handshake or a deadline, whichever comes first, says why.
 * Commands are answered in order, so those in flight are a FIFO ring of slots, allocated
 * once (max_inflight + the handshake); its head is the oldest, for the reply deadline. */
#include "rconn.h"

#include <errno.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#define RCONN_INFLIGHT_DEFAULT 1024
#define HANDSHAKE_MAX (2 + RCONN_SCRIPTS_MAX) /* AUTH and SELECT, or a PING; SCRIPT LOADs */

const uint32_t rconn_lat_le_us[RCONN_LAT_BUCKETS - 1] = {100,  250,   500,   1000,  2500,
                                                         5000, 10000, 25000, 100000};

enum { CMD_USER, CMD_AUTH, CMD_SELECT, CMD_PING, CMD_SCRIPT /* + the script's index */ };

typedef struct slot {
    rconn_cb cb;
    void *ud;
    uint64_t sent_us;
    int kind; /* CMD_* */
} slot;

struct rconn {
    loop *l;
    rconn_url url;
    rconn_opts o;
    redisAsyncContext *ac; /* NULL once hiredis freed it (the cleanup hook) */
    int fd;
    unsigned watch; /* EPOLLIN | EPOLLOUT as registered with the loop */
    int want_write; /* hiredis has output: written by rconn_flush, or on EPOLLOUT when the
                       socket was full or is still connecting */
    _Atomic int state;
    slot *ring;
    int ring_n, head, count; /* the FIFO of commands in flight, handshake included */
    int user_inflight;
    int handshake_left;
    uint64_t next_try_ms, deadline_ms;
    int backoff_ms;
    unsigned long attempts;
    int depth, freeing, watch_failed;
    char err[RCONN_ERR_MAX];
    int nscripts;
    char sha[RCONN_SCRIPTS_MAX][41]; /* each script's SHA-1, as the server named it */
    rconn_stats own_st;
    rconn_stats *st; /* own_st, or the caller's (rconn_opts.stats) */
};

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void count(atomic_ullong *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static void set_state(rconn *rc, rconn_state s)
{
    atomic_store_explicit(&rc->state, (int)s, memory_order_relaxed);
}

static rconn_state state_of(const rconn *rc)
{
    return (rconn_state)atomic_load_explicit(&rc->state, memory_order_relaxed);
}

/* ---------- entering hiredis, and freeing safely ---------- */

static void destroy(rconn *rc)
{
    free(rc->ring);
    free(rc);
}

static void enter(rconn *rc)
{
    rc->depth++;
}

/* Frees rc when rconn_free was asked for inside the bracket: touch rc no more after this. */
static void leave(rconn *rc)
{
    if (--rc->depth == 0 && rc->freeing && !rc->ac)
        destroy(rc);
}

/* The link is lost (idempotent): DOWN, the reason kept, the next attempt scheduled. */
static void went_down(rconn *rc, const char *why)
{
    if (state_of(rc) == RCONN_DOWN)
        return;
    set_state(rc, RCONN_DOWN);
    snprintf(rc->err, sizeof(rc->err), "%s", why && *why ? why : "connection lost");
    rc->next_try_ms = loop_now_ms() + (uint64_t)rc->backoff_ms;
    rc->backoff_ms =
        rc->backoff_ms * 2 > rc->o.backoff_max_ms ? rc->o.backoff_max_ms : rc->backoff_ms * 2;
}

static const char *ac_error(const redisAsyncContext *ac)
{
    if (ac->err && ac->errstr && *ac->errstr)
        return ac->errstr;
    if (ac->c.err && *ac->c.errstr)
        return ac->c.errstr;
    return "connection lost";
}

/* Drops the connection: every pending callback gets NULL, now or (inside a reply callback)
 * as soon as it returns. Call inside an enter/leave bracket. */
static void teardown(rconn *rc, const char *why)
{
    went_down(rc, why);
    if (rc->ac)
        redisAsyncFree(rc->ac);
}

/* ---------- the adapter: hiredis' event hooks onto the loop ---------- */

static void on_io(loop *l, int fd, unsigned ev, void *ud)
{
    rconn *rc = ud;
    enter(rc);
    if (rc->ac && (rc->watch & EPOLLIN) && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        redisAsyncHandleRead(rc->ac);
    /* The read may have freed the context (the cleanup hook cleared rc->ac). */
    if (rc->ac && (rc->watch & EPOLLOUT) && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
        redisAsyncHandleWrite(rc->ac);
    leave(rc);
}

/* Read and write come and go independently; the loop keys by fd, so watch their union. */
static void ev_set(rconn *rc, unsigned bit, int on)
{
    unsigned want = on ? rc->watch | bit : rc->watch & ~bit;
    if (want == rc->watch || rc->fd < 0)
        return;
    rc->watch = want;
    if (!want)
        loop_unwatch(rc->l, rc->fd);
    else if (loop_watch(rc->l, rc->fd, want, on_io, rc) < 0)
        rc->watch_failed = 1; /* rconn_tick drops the link; hiredis is mid-call here */
}

static void ev_add_read(void *p)
{
    ev_set(p, EPOLLIN, 1);
}

static void ev_del_read(void *p)
{
    ev_set(p, EPOLLIN, 0);
}

/* Commands are written once per pass (rconn_flush), not on an EPOLLOUT wake-up each: that
 * saved an epoll_ctl pair and a loop wake-up per pass. Only a connect in progress (hiredis
 * learns of its end by writability) or a full socket waits for EPOLLOUT. */
static void ev_add_write(void *p)
{
    rconn *rc = p;
    rc->want_write = 1;
    if (!rc->ac || !(rc->ac->c.flags & REDIS_CONNECTED))
        ev_set(rc, EPOLLOUT, 1);
}

static void ev_del_write(void *p)
{
    rconn *rc = p;
    rc->want_write = 0;
    ev_set(rc, EPOLLOUT, 0);
}

/* hiredis is freeing the context (every pending callback already had its NULL). */
static void ev_cleanup(void *p)
{
    rconn *rc = p;
    went_down(rc, ac_error(rc->ac));
    if (rc->fd >= 0 && rc->watch)
        loop_unwatch(rc->l, rc->fd);
    rc->watch = 0;
    rc->want_write = 0;
    rc->fd = -1;
    rc->ac = NULL;
}

/* ---------- commands in flight ---------- */

static slot *push(rconn *rc, int kind, rconn_cb cb, void *ud)
{
    slot *s = &rc->ring[(rc->head + rc->count) % rc->ring_n];
    *s = (slot){cb, ud, now_us(), kind};
    rc->count++;
    return s;
}

static void unpush(rconn *rc)
{
    rc->count--;
}

static void observe_latency(rconn *rc, uint64_t us)
{
    int b = 0;
    while (b < RCONN_LAT_BUCKETS - 1 && us > rconn_lat_le_us[b])
        b++;
    count(&rc->st->lat_bucket[b], 1);
    count(&rc->st->lat_count, 1);
    count(&rc->st->lat_sum_us, us);
}

static void handshake_reply(rconn *rc, int kind, const redisReply *r)
{
    if (!r || state_of(rc) != RCONN_CONNECTING)
        return;
    if (kind >= CMD_SCRIPT && r->type == REDIS_REPLY_STRING && r->len == 40)
        memcpy(rc->sha[kind - CMD_SCRIPT], r->str, 40), rc->sha[kind - CMD_SCRIPT][40] = '\0';
    else if (kind >= CMD_SCRIPT && r->type != REDIS_REPLY_ERROR) {
        teardown(rc, "SCRIPT LOAD: unexpected reply");
        return;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        char why[RCONN_ERR_MAX];
        const char *what = kind == CMD_AUTH     ? "AUTH"
                           : kind == CMD_SELECT ? "SELECT"
                           : kind == CMD_PING   ? "PING"
                                                : "SCRIPT LOAD";
        snprintf(why, sizeof(why), "%s failed: %.*s", what, (int)(r->len > 120 ? 120 : r->len),
                 r->str ? r->str : "");
        teardown(rc, why);
        return;
    }
    if (--rc->handshake_left == 0) {
        set_state(rc, RCONN_READY);
        rc->backoff_ms = rc->o.backoff_min_ms;
        count(&rc->st->connects, 1);
    }
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    rconn *rc = ac->data;
    const redisReply *r = reply;
    if (rc->count == 0)
        return; /* cannot happen: every command hiredis holds has a slot */
    slot s = rc->ring[rc->head];
    rc->head = (rc->head + 1) % rc->ring_n;
    rc->count--;
    if (!r)
        went_down(rc, ac_error(ac));
    if (s.kind != CMD_USER) {
        handshake_reply(rc, s.kind, r);
        return;
    }
    rc->user_inflight--;
    if (!r) {
        count(&rc->st->lost, 1);
    } else {
        count(&rc->st->replies, 1);
        if (r->type == REDIS_REPLY_ERROR)
            count(&rc->st->errors, 1);
        uint64_t t = now_us();
        observe_latency(rc, t > s.sent_us ? t - s.sent_us : 0);
    }
    /* The server lost the scripts (SCRIPT FLUSH): a new connection loads them again. */
    int noscript =
        r && r->type == REDIS_REPLY_ERROR && r->len >= 8 && !memcmp(r->str, "NOSCRIPT", 8);
    s.cb(rc, r, s.ud);
    if (noscript && rc->ac && !rc->freeing)
        teardown(rc, "NOSCRIPT: the server lost its scripts");
}

/* ---------- connecting ---------- */

static int send_handshake_cmd(rconn *rc, int kind, int argc, const char **argv)
{
    size_t lens[3];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    slot *s = push(rc, kind, NULL, NULL);
    if (redisAsyncCommandArgv(rc->ac, on_reply, s, argc, argv, lens) != REDIS_OK) {
        unpush(rc);
        return -1;
    }
    rc->handshake_left++;
    return 0;
}

/* AUTH and SELECT go out first, pipelined ahead of the socket's connect; with neither, a
 * PING, so that READY always means the server answered. */
static int send_handshake(rconn *rc)
{
    const rconn_url *u = &rc->url;
    char db[16];
    snprintf(db, sizeof(db), "%d", u->db);
    if (u->pass[0] && u->user[0] &&
        send_handshake_cmd(rc, CMD_AUTH, 3, (const char *[]){"AUTH", u->user, u->pass}) < 0)
        return -1;
    if (u->pass[0] && !u->user[0] &&
        send_handshake_cmd(rc, CMD_AUTH, 2, (const char *[]){"AUTH", u->pass}) < 0)
        return -1;
    if (u->db && send_handshake_cmd(rc, CMD_SELECT, 2, (const char *[]){"SELECT", db}) < 0)
        return -1;
    if (!rc->handshake_left && send_handshake_cmd(rc, CMD_PING, 1, (const char *[]){"PING"}) < 0)
        return -1;
    for (int i = 0; i < rc->nscripts; i++)
        if (send_handshake_cmd(rc, CMD_SCRIPT + i, 3,
                               (const char *[]){"SCRIPT", "LOAD", rc->o.scripts[i]}) < 0)
            return -1;
    return 0;
}

static void start_connect(rconn *rc, uint64_t now)
{
    if (rc->attempts++)
        count(&rc->st->reconnects, 1);
    set_state(rc, RCONN_CONNECTING);
    rc->deadline_ms = now + (uint64_t)rc->o.connect_timeout_ms;
    rc->handshake_left = 0;
    rc->watch_failed = 0;
    redisAsyncContext *ac = rc->url.is_unix ? redisAsyncConnectUnix(rc->url.path)
                                            : redisAsyncConnect(rc->url.host, rc->url.port);
    if (!ac || ac->err) {
        char why[RCONN_ERR_MAX];
        snprintf(why, sizeof(why), "connect: %s", ac ? ac_error(ac) : "out of memory");
        if (ac)
            redisAsyncFree(ac); /* nothing attached, nothing pending */
        went_down(rc, why);
        return;
    }
    ac->data = rc;
    ac->ev.data = rc;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    rc->ac = ac;
    rc->fd = ac->c.fd;
    rc->watch = 0;
    if (send_handshake(rc) < 0)
        teardown(rc, "out of memory for the handshake");
}

/* ---------- the API ---------- */

static int opt(int v, int def)
{
    return v > 0 ? v : def;
}

rconn *rconn_new(loop *l, const rconn_url *url, const rconn_opts *o)
{
    rconn_opts d = o ? *o : (rconn_opts){0};
    d.max_inflight = opt(d.max_inflight, RCONN_INFLIGHT_DEFAULT);
    d.connect_timeout_ms = opt(d.connect_timeout_ms, RCONN_CONNECT_TIMEOUT_MS);
    d.reply_timeout_ms =
        d.reply_timeout_ms < 0 ? -1 : opt(d.reply_timeout_ms, RCONN_REPLY_TIMEOUT_MS);
    d.backoff_min_ms = opt(d.backoff_min_ms, RCONN_BACKOFF_MIN_MS);
    d.backoff_max_ms = opt(d.backoff_max_ms, RCONN_BACKOFF_MAX_MS);
    if (!l || !url || d.max_inflight > RCONN_INFLIGHT_MAX || d.backoff_max_ms < d.backoff_min_ms)
        return NULL;
    int ns = 0;
    while (d.scripts && d.scripts[ns])
        ns++;
    if (ns > RCONN_SCRIPTS_MAX)
        return NULL;
    rconn *rc = calloc(1, sizeof(*rc));
    if (!rc)
        return NULL;
    rc->nscripts = ns;
    rc->ring_n = d.max_inflight + HANDSHAKE_MAX;
    rc->ring = calloc((size_t)rc->ring_n, sizeof(*rc->ring));
    if (!rc->ring) {
        free(rc);
        return NULL;
    }
    rc->l = l;
    rc->url = *url;
    rc->o = d;
    rc->st = d.stats ? d.stats : &rc->own_st;
    rc->fd = -1;
    rc->backoff_ms = d.backoff_min_ms;
    set_state(rc, RCONN_DOWN);
    return rc;
}

void rconn_free(rconn *rc)
{
    if (!rc || rc->freeing)
        return;
    rc->freeing = 1;
    enter(rc);
    teardown(rc, "closed");
    leave(rc);
}

int rconn_cmd(rconn *rc, rconn_cb cb, void *ud, int argc, const char *const *argv,
              const size_t *argvlen)
{
    if (!cb || argc < 1 || !argv || !argvlen)
        return -EINVAL;
    if (state_of(rc) != RCONN_READY || !rc->ac || rc->freeing) {
        count(&rc->st->rejected, 1);
        return -EAGAIN;
    }
    if (rc->user_inflight >= rc->o.max_inflight) {
        count(&rc->st->rejected, 1);
        return -ENOBUFS;
    }
    const char *v[RCONN_EVALSHA_ARGS];
    size_t vl[RCONN_EVALSHA_ARGS];
    int i = -1;
    if (argc >= 2 && argc <= RCONN_EVALSHA_ARGS && argvlen[0] == 4 && !memcmp(argv[0], "EVAL", 4))
        for (i = rc->nscripts - 1; i >= 0 && argv[1] != rc->o.scripts[i]; i--)
            ;
    if (i >= 0) {
        /* One of the connection's scripts: its SHA-1 goes out, not its text. */
        memcpy(v, argv, sizeof(*v) * (size_t)argc);
        memcpy(vl, argvlen, sizeof(*vl) * (size_t)argc);
        v[0] = "EVALSHA", vl[0] = 7;
        v[1] = rc->sha[i], vl[1] = 40;
        argv = v, argvlen = vl;
    }
    slot *s = push(rc, CMD_USER, cb, ud);
    if (redisAsyncCommandArgv(rc->ac, on_reply, s, argc, (const char **)argv, argvlen) !=
        REDIS_OK) {
        unpush(rc);
        return -ENOMEM;
    }
    rc->user_inflight++;
    count(&rc->st->sent, 1);
    return 0;
}

static int until(uint64_t when, uint64_t now)
{
    uint64_t d = when > now ? when - now : 0;
    return d > 0x7fffffff ? 0x7fffffff : (int)d;
}

void rconn_flush(rconn *rc)
{
    if (!rc->want_write || !rc->ac || (rc->watch & EPOLLOUT) || rc->freeing)
        return;
    enter(rc);
    redisAsyncHandleWrite(rc->ac);
    /* Not all written (the socket is full): the rest goes on EPOLLOUT. */
    if (rc->ac && rc->want_write)
        ev_set(rc, EPOLLOUT, 1);
    leave(rc);
}

int rconn_timeout_ms(const rconn *rc, uint64_t now)
{
    if (rc->watch_failed || (rc->want_write && rc->ac && !(rc->watch & EPOLLOUT)))
        return 0;
    switch (state_of(rc)) {
    case RCONN_DOWN:
        return rc->ac || rc->freeing ? -1 : until(rc->next_try_ms, now);
    case RCONN_CONNECTING:
        return until(rc->deadline_ms, now);
    case RCONN_READY:
        if (rc->o.reply_timeout_ms < 0 || rc->count == 0)
            return -1;
        return until(rc->ring[rc->head].sent_us / 1000u + (uint64_t)rc->o.reply_timeout_ms, now);
    }
    return -1;
}

void rconn_tick(rconn *rc, uint64_t now)
{
    enter(rc);
    rconn_state s = state_of(rc);
    if (rc->watch_failed && rc->ac)
        teardown(rc, "cannot watch the socket");
    else if (s == RCONN_DOWN && !rc->ac && !rc->freeing && now >= rc->next_try_ms)
        start_connect(rc, now);
    else if (s == RCONN_CONNECTING && now >= rc->deadline_ms)
        teardown(rc, "connect timed out");
    else if (s == RCONN_READY && rc->o.reply_timeout_ms >= 0 && rc->count &&
             now >= rc->ring[rc->head].sent_us / 1000u + (uint64_t)rc->o.reply_timeout_ms)
        teardown(rc, "reply timed out");
    leave(rc);
}

rconn_state rconn_get_state(const rconn *rc)
{
    return state_of(rc);
}

int rconn_ready(const rconn *rc)
{
    return state_of(rc) == RCONN_READY;
}

int rconn_inflight(const rconn *rc)
{
    return rc->user_inflight;
}

const char *rconn_error(const rconn *rc)
{
    return rc->err;
}

const rconn_stats *rconn_get_stats(const rconn *rc)
{
    return rc->st;
}
