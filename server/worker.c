/* worker — see worker.h. One pass of the loop:
 *   epoll_wait(min(MHD timeout, curl timeout, pacing tick, housekeeping))
 *   -> curl socket actions (from the loop callbacks) and curl's timeout
 *   -> pacing tick over the ticking chats only -> housekeeping (pings, timeouts)
 *   -> the scheduler's woken tasks (readers resume their connections, chats look at
 *      cancels), all at once -> MHD_run on the shards that have work.
 *
 * Shards: libmicrohttpd 0.9.75 walks a daemon's whole list of suspended connections on
 * every MHD_run that follows a resume, and a streaming connection is suspended whenever
 * it has nothing to send. With one daemon a worker pays (open streams) per resume; with
 * LIM_MHD_SHARDS daemons on the same port (SO_REUSEPORT spreads the connections) it pays
 * a shard's share, and MHD_run visits only the shards that have events or resumes. */
#include "worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "probe.h"
#include "repl.h"
#include "route.h"
#include "store.h"

#define WORKERS_MAX 256
static worker *_Atomic all_workers[WORKERS_MAX];
static atomic_int n_workers;

_Static_assert(LIM_MHD_SHARDS <= 32, "worker.mhd_due has a bit per shard");

static void kick(void *ud)
{
    worker *w = ud;
    uint64_t one = 1;
    if (write(w->wake_fd, &one, sizeof(one)) < 0) {
        /* the counter is full: the worker is awake already */
    }
}

static int render_metrics(buf *out)
{
    metrics *blocks[WORKERS_MAX];
    int n = 0, k = atomic_load(&n_workers);
    for (int i = 0; i < k; i++) {
        worker *w = atomic_load(&all_workers[i]);
        if (w)
            blocks[n++] = &w->m;
    }
    if (metrics_render(out, blocks, n, chat_live(), store_count()) < 0)
        return -1;
    routes *rt = routes_current();
    if (rt)
        routes_metrics(rt, loop_now_ms(), out);
    routes_unref(rt);
    if (buf_failed(out))
        return -1;
    return repl_enabled() ? repl_render_metrics(out) : 0;
}

/* ---------- one pass ---------- */

static int next_timeout(worker *w, uint64_t now)
{
    int64_t t = (int64_t)w->next_house_ms - (int64_t)now;
    if (sched_has_ticking(&w->sc) && (int64_t)w->next_pace_ms - (int64_t)now < t)
        t = (int64_t)w->next_pace_ms - (int64_t)now;
    int ut = up_timeout_ms(w->up, now);
    if (ut >= 0 && ut < t)
        t = ut;
    int rt = w->repl ? repl_timeout_ms(w->repl, now) : -1;
    if (rt >= 0 && rt < t)
        t = rt;
    if (sched_has_due(&w->sc) || w->mhd_due)
        t = 0;
    return t < 0 ? 0 : (int)t;
}

/* One MHD_run a pass for each shard with events or resumes: resumes are batched, since
 * each makes MHD walk the shard's suspended list. A shard that wants to run again at once
 * (a connection with more to write) stays due; MHD's own timeouts (idle connections,
 * seconds) are served by the run of every shard at each housekeeping tick. */
static void run_mhd(worker *w, int all)
{
    uint32_t due = all ? (w->nmhd >= 32 ? UINT32_MAX : (1u << w->nmhd) - 1) : w->mhd_due;
    w->mhd_due = 0;
    for (int i = 0; due && i < w->nmhd; i++, due >>= 1) {
        if (!(due & 1))
            continue;
        MHD_run(w->mhd[i]);
        MHD_UNSIGNED_LONG_LONG mt;
        if (MHD_get_timeout(w->mhd[i], &mt) == MHD_YES && mt == 0)
            w->mhd_due |= 1u << i;
    }
}

/* After a burst the allocator keeps its free pages; give them back when nothing streams. */
static void trim_when_idle(uint64_t now)
{
    static uint64_t next;
    if (now < next)
        return;
    next = now + 10000;
    if (chat_live() == 0)
        malloc_trim(0);
}

static void pass(worker *w)
{
    uint64_t now = loop_now_ms();
    loop_run_once(w->loop, next_timeout(w, now));
    now = loop_now_ms();
    up_tick(w->up, now);
    if (sched_has_ticking(&w->sc) && now >= w->next_pace_ms) {
        sched_tick(&w->sc, now);
        w->next_pace_ms = now + LIM_PACE_TICK_MS;
    }
    if (w->idx == 0 && !w->stopping)
        probe_tick(w->up, w->env, now);
    if (w->idx == 0)
        trim_when_idle(now);
    int all = now >= w->next_house_ms;
    if (all) {
        chat_set_housekeep(w->chats, now);
        reader_set_housekeep(w->readers, now);
        router_watchdog(w->router, now);
        w->next_house_ms = now + LIM_HOUSEKEEP_MS;
    }
    sched_run(&w->sc, now);
    run_mhd(w, all);
    /* Upstream requests the requests of this pass started: connect now, not a pass later. */
    up_tick(w->up, loop_now_ms());
    /* What this pass released, one write per stream: after the readers' sockets got it. */
    if (w->repl)
        repl_pass(w->repl, now, all);
}

/* ---------- stopping ---------- */

static void begin_stop(worker *w, uint64_t now)
{
    w->stopping = 1;
    w->stop_deadline_ms = now + (uint64_t)w->env->cfg->shutdown_grace_ms;
    for (int i = 0; i < w->nmhd; i++) {
        MHD_socket s = MHD_quiesce_daemon(w->mhd[i]);
        if (s != MHD_INVALID_SOCKET)
            close(s);
    }
}

/* After the grace period every open stream ends with error "shutdown"; the loop ends
 * when no reader is left or a second later at most (clients that do not read). */
static int stop_progress(worker *w, uint64_t now)
{
    static const uint64_t drain_ms = 1000;
    if (now >= w->stop_deadline_ms)
        chat_set_shutdown(w->chats);
    return reader_set_count(w->readers) == 0 || now >= w->stop_deadline_ms + drain_ms;
}

static void stop_daemons(worker *w)
{
    for (int i = 0; i < w->nmhd; i++) {
        MHD_run(w->mhd[i]);
        MHD_stop_daemon(w->mhd[i]);
        w->mhd[i] = NULL;
    }
    w->nmhd = 0;
}

static void *thread_main(void *arg)
{
    worker *w = arg;
    sched_bind(&w->sc);
    repl_bind(w->repl);
    while (1) {
        pass(w);
        uint64_t now = loop_now_ms();
        if (!w->stopping && atomic_load(&w->stop_req))
            begin_stop(w, now);
        if (w->stopping && stop_progress(w, now))
            break;
    }
    /* Lookups waiting on Redis are answered (their connections resumed), then MHD aborts
     * on stop with suspended connections: resume each reader's, marked gone. */
    repl_free(w->repl);
    w->repl = NULL;
    reader_set_teardown(w->readers);
    stop_daemons(w);
    reader_set_free(w->readers);
    chat_set_free(w->chats);
    w->readers = NULL;
    w->chats = NULL;
    return NULL;
}

/* ---------- the daemons ---------- */

static void on_wake(loop *l, int fd, unsigned ev, void *ud)
{
    uint64_t v;
    if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        return;
}

typedef struct shard_ref {
    worker *w;
    int i;
} shard_ref;
static shard_ref shard_refs[WORKERS_MAX][LIM_MHD_SHARDS];

static void on_mhd(loop *l, int fd, unsigned ev, void *ud)
{
    shard_ref *ref = ud;
    ref->w->mhd_due |= 1u << ref->i;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    /* MHD reports client-side noise (resets, timeouts) here; the top layer logs requests. */
}

/* MHD would stop at FD_SETSIZE connections per daemon; the real bound is the process's
 * open-file limit (main raises it to the hard limit), less room for upstream sockets. */
static unsigned connection_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
        return 65536;
    return rl.rlim_cur > 64 ? (unsigned)(rl.rlim_cur - 32) : 32;
}

/* MHD's per-connection pool holds the request head and the response's write buffer. */
static size_t pool_size(const cfg *c)
{
    size_t want = (size_t)c->max_header_bytes + 8192;
    return want > LIM_MHD_POOL ? want : LIM_MHD_POOL;
}

/* The listening address with the port every worker shares: with port 0 the first worker's
 * bind picks it, and the others must bind that same one. */
static void addr_with_port(const chatd_env *e, unsigned port, struct sockaddr_storage *out)
{
    memcpy(out, &e->addr, sizeof(*out));
    if (out->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)out)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)out)->sin_port = htons((uint16_t)port);
}

static struct MHD_Daemon *start_daemon(worker *w, unsigned port)
{
    const chatd_env *e = w->env;
    struct sockaddr_storage addr;
    addr_with_port(e, port, &addr);
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (e->addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    router *rt = w->router;
    return MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, router_on_request, rt, MHD_OPTION_SOCK_ADDR,
        (const struct sockaddr *)&addr, MHD_OPTION_CONNECTION_LIMIT, connection_limit(),
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        pool_size(e->cfg), MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)LIM_CONN_TIMEOUT_S,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)4096, MHD_OPTION_NOTIFY_COMPLETED,
        router_on_completed, rt, MHD_OPTION_URI_LOG_CALLBACK, router_on_uri, rt,
        MHD_OPTION_NOTIFY_CONNECTION, router_on_connection, rt, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
        w, MHD_OPTION_END);
}

/* Starts shard i on the port (the first bind picks it when the port is 0). */
static int start_shard(worker *w, int i, unsigned *port, char *err, size_t errsz)
{
    w->mhd[i] = start_daemon(w, *port);
    if (!w->mhd[i]) {
        snprintf(err, errsz, "cannot listen on %s: %s", w->env->cfg->listen, strerror(errno));
        return -1;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(w->mhd[i], MHD_DAEMON_INFO_BIND_PORT);
    *port = di ? di->port : *port;
    di = MHD_get_daemon_info(w->mhd[i], MHD_DAEMON_INFO_EPOLL_FD);
    shard_ref *ref = &shard_refs[w->idx][i];
    ref->w = w;
    ref->i = i;
    if (!di || loop_watch(w->loop, di->epoll_fd, EPOLLIN, on_mhd, ref) < 0) {
        MHD_stop_daemon(w->mhd[i]);
        w->mhd[i] = NULL;
        snprintf(err, errsz, "cannot watch the HTTP daemon");
        return -1;
    }
    return 0;
}

/* The modules that live on the worker, wired to its services. */
static int make_parts(worker *w)
{
    chat_host ch = {w->env, w->up, &w->sc, &w->m, w->idx};
    reader_host rh = {w->loop, &w->sc, w->mhd, LIM_MHD_SHARDS, &w->mhd_due};
    w->chats = chat_set_new(&ch);
    w->readers = reader_set_new(&rh);
    if (!w->chats || !w->readers)
        return -1;
    if (repl_enabled() && !(w->repl = repl_new(w->loop, w->idx)))
        return -1;
    router_host h = {w->env,       w->idx,         w->chats, w->readers, &w->m,
                     &w->stopping, render_metrics, &w->repl, &w->mhd_due};
    w->router = router_new(&h);
    return w->router ? 0 : -1;
}

/* Everything worker_start made, in reverse (the thread is not running). */
static void unmake(worker *w)
{
    for (int i = 0; i < w->nmhd; i++)
        MHD_stop_daemon(w->mhd[i]);
    w->nmhd = 0;
    repl_free(w->repl);
    reader_set_free(w->readers);
    chat_set_free(w->chats);
    router_free(w->router);
    up_free(w->up);
    loop_free(w->loop);
    if (w->wake_fd >= 0)
        close(w->wake_fd);
    sched_destroy(&w->sc);
    w->readers = NULL;
    w->chats = NULL;
    w->router = NULL;
    w->repl = NULL;
    w->up = NULL;
    w->loop = NULL;
    w->wake_fd = -1;
}

int worker_start(worker *w, int idx, const chatd_env *e, unsigned *port_out, char *err,
                 size_t errsz)
{
    memset(w, 0, sizeof(*w));
    w->idx = idx;
    w->env = e;
    w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    sched_init(&w->sc, kick, w);
    w->loop = loop_new();
    w->up = w->loop ? up_new(w->loop) : NULL;
    if (idx >= WORKERS_MAX) {
        snprintf(err, errsz, "too many workers (at most %d)", WORKERS_MAX);
        goto fail;
    }
    if (!w->up || w->wake_fd < 0 || make_parts(w) < 0) {
        snprintf(err, errsz, "out of resources starting worker %d", idx);
        goto fail;
    }
    for (; w->nmhd < LIM_MHD_SHARDS; w->nmhd++)
        if (start_shard(w, w->nmhd, port_out, err, errsz) < 0)
            goto fail;
    if (loop_watch(w->loop, w->wake_fd, EPOLLIN, on_wake, w) < 0) {
        snprintf(err, errsz, "cannot watch the wake-up descriptor");
        goto fail;
    }
    atomic_store(&all_workers[idx], w);
    atomic_fetch_add(&n_workers, 1);
    if (pthread_create(&w->thread, NULL, thread_main, w) != 0) {
        snprintf(err, errsz, "cannot start worker thread %d", idx);
        atomic_store(&all_workers[idx], NULL);
        atomic_fetch_sub(&n_workers, 1);
        goto fail;
    }
    return 0;
fail:
    unmake(w);
    return -1;
}

void worker_request_stop(worker *w)
{
    atomic_store(&w->stop_req, 1);
    kick(w);
}

void worker_join(worker *w)
{
    pthread_join(w->thread, NULL);
}

void worker_free(worker *w)
{
    if (w->idx < WORKERS_MAX)
        atomic_store(&all_workers[w->idx], NULL);
    unmake(w);
}

int worker_start_all(worker *ws, int n, const chatd_env *e, unsigned *port, char *err, size_t errsz)
{
    int started = 0;
    while (started < n && worker_start(&ws[started], started, e, port, err, errsz) == 0)
        started++;
    if (started == n)
        return 0;
    worker_stop_all(ws, started);
    return -1;
}

void worker_stop_all(worker *ws, int n)
{
    for (int i = 0; i < n; i++)
        worker_request_stop(&ws[i]);
    for (int i = 0; i < n; i++)
        worker_join(&ws[i]);
    for (int i = 0; i < n; i++)
        worker_free(&ws[i]);
}
