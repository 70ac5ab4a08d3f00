/* worker — see worker.h. One pass of the loop:
 *   epoll_wait(min(MHD timeout, curl timeout, pacing tick, housekeeping))
 *   -> curl socket actions (from the loop callbacks) and curl's timeout
 *   -> pacing tick over the active chats only -> housekeeping (pings, timeouts)
 *   -> resume the connections that got output, all at once -> MHD_run on the shards
 *      that have work.
 *
 * Shards: libmicrohttpd 0.9.75 walks a daemon's whole list of suspended connections on
 * every MHD_run that follows a resume, and a streaming connection is suspended whenever
 * it has nothing to send. With one daemon a worker pays (open streams) per resume; with
 * LIM_MHD_SHARDS daemons on the same port (SO_REUSEPORT spreads the connections) it pays
 * a shard's share, and MHD_run visits only the shards that have events or resumes. */
#include "worker.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <malloc.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "chat.h"
#include "http.h"
#include "lim.h"
#include "probe.h"
#include "reader.h"
#include "store.h"

#define WORKERS_MAX 256
static worker *all_workers[WORKERS_MAX];
static atomic_int n_workers;

void worker_activate(worker *w, chat *c)
{
    if (c->in_active)
        return;
    c->in_active = 1;
    c->anext = w->active;
    w->active = c;
}

void worker_wake_reader(worker *w, reader *r)
{
    if (r->in_resume || !r->suspended)
        return;
    r->in_resume = 1;
    r->rnext = w->resume;
    w->resume = r;
}

static void wake_fd(worker *w)
{
    uint64_t one = 1;
    if (write(w->wake_fd, &one, sizeof(one)) < 0) {
        /* the counter is full: the worker is awake already */
    }
}

void worker_remote_wake(worker *w, reader *r)
{
    pthread_mutex_lock(&w->remote_mu);
    int first = !w->remote;
    if (!r->queued) {
        r->queued = 1;
        r->qnext = w->remote;
        w->remote = r;
    }
    pthread_mutex_unlock(&w->remote_mu);
    if (first)
        wake_fd(w);
}

void worker_unqueue(worker *w, reader *r)
{
    pthread_mutex_lock(&w->remote_mu);
    for (reader **pp = &w->remote; r->queued && *pp; pp = &(*pp)->qnext) {
        if (*pp == r) {
            *pp = r->qnext;
            r->queued = 0;
            break;
        }
    }
    pthread_mutex_unlock(&w->remote_mu);
}

void worker_poke(int idx)
{
    if (idx < 0 || idx >= atomic_load(&n_workers) || !all_workers[idx])
        return;
    atomic_store(&all_workers[idx]->poked, 1);
    wake_fd(all_workers[idx]);
}

static void drain_remote(worker *w)
{
    pthread_mutex_lock(&w->remote_mu);
    reader *list = w->remote;
    w->remote = NULL;
    for (reader *r = list; r; r = r->qnext)
        r->queued = 0;
    pthread_mutex_unlock(&w->remote_mu);
    /* Only this thread frees its readers, so the list stays valid once unlocked. */
    for (reader *r = list, *next; r; r = next) {
        next = r->qnext;
        worker_wake_reader(w, r);
    }
}

int worker_total_streams(const worker *w)
{
    int n = 0, k = atomic_load(&n_workers);
    for (int i = 0; i < k; i++)
        if (all_workers[i])
            n += atomic_load(&all_workers[i]->live_streams);
    return n;
}

int worker_render_metrics(buf *out)
{
    metrics *blocks[WORKERS_MAX];
    int n = 0, k = atomic_load(&n_workers);
    long active = 0;
    for (int i = 0; i < k; i++) {
        if (all_workers[i]) {
            blocks[n++] = &all_workers[i]->m;
            active += atomic_load(&all_workers[i]->live_streams);
        }
    }
    return metrics_render(out, blocks, n, active, store_count());
}

int worker_shard_of(const worker *w, struct MHD_Connection *mc)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_DAEMON);
    for (int i = 0; ci && i < w->nmhd; i++)
        if (w->mhd[i] == ci->daemon)
            return i;
    return 0;
}

static void flush_resumes(worker *w)
{
    while (w->resume) {
        reader *r = w->resume;
        w->resume = r->rnext;
        r->in_resume = 0;
        if (reader_resume_conn(r))
            w->mhd_due |= 1u << r->shard;
        reader_unlisted(r);
    }
}

static void pace_tick(worker *w, uint64_t now)
{
    chat *list = w->active;
    w->active = NULL;
    while (list) {
        chat *c = list;
        list = c->anext;
        c->in_active = 0;
        /* A chat off this list is freed by housekeeping alone (expiry checks in_active). */
        if (chat_pump(c, now))
            worker_activate(w, c);
    }
}

static void housekeep(worker *w, uint64_t now)
{
    for (chat *c = w->chats, *next; c; c = next) {
        next = c->next;
        chat_housekeep(c, now);
    }
    for (reader *r = w->readers; r; r = r->wnext)
        reader_housekeep(r, now);
    http_watchdog(w, now);
}

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
 * when no chat is left or a second later at most (clients that do not read). */
static int stop_progress(worker *w, uint64_t now)
{
    static const uint64_t drain_ms = 1000;
    if (now >= w->stop_deadline_ms) {
        for (chat *c = w->chats, *next; c; c = next) {
            next = c->next;
            chat_shutdown(c);
        }
    }
    return w->nreaders == 0 || now >= w->stop_deadline_ms + drain_ms;
}

static int next_timeout(worker *w, uint64_t now)
{
    int64_t t = (int64_t)w->next_house_ms - (int64_t)now;
    if (w->active && (int64_t)w->next_pace_ms - (int64_t)now < t)
        t = (int64_t)w->next_pace_ms - (int64_t)now;
    int ut = up_timeout_ms(w->up, now);
    if (ut >= 0 && ut < t)
        t = ut;
    if (w->resume || w->mhd_due)
        t = 0;
    return t < 0 ? 0 : (int)t;
}

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
_Static_assert(LIM_MHD_SHARDS <= 32, "worker.mhd_due has a bit per shard");

static void on_mhd(loop *l, int fd, unsigned ev, void *ud)
{
    shard_ref *ref = ud;
    ref->w->mhd_due |= 1u << ref->i;
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
static void trim_when_idle(worker *w, uint64_t now)
{
    static uint64_t next;
    if (now < next)
        return;
    next = now + 10000;
    if (worker_total_streams(w) == 0)
        malloc_trim(0);
}

static void pass(worker *w)
{
    uint64_t now = loop_now_ms();
    loop_run_once(w->loop, next_timeout(w, now));
    now = loop_now_ms();
    up_tick(w->up, now);
    drain_remote(w);
    if (w->active && now >= w->next_pace_ms) {
        pace_tick(w, now);
        w->next_pace_ms = now + LIM_PACE_TICK_MS;
    }
    if (w->idx == 0 && !w->stopping)
        probe_tick(w, now);
    if (w->idx == 0)
        trim_when_idle(w, now);
    int all = now >= w->next_house_ms;
    if (all || atomic_exchange(&w->poked, 0)) {
        housekeep(w, now);
        w->next_house_ms = now + LIM_HOUSEKEEP_MS;
    }
    flush_resumes(w);
    run_mhd(w, all);
}

static void teardown(worker *w)
{
    /* MHD aborts on stop with suspended connections: resume each, marked gone. */
    for (reader *r = w->readers; r; r = r->wnext) {
        r->gone = 1;
        r->in_resume = 0;
        reader_resume_conn(r);
    }
    w->resume = NULL;
    for (chat *c = w->chats; c; c = c->next)
        c->in_active = 0;
    w->active = NULL;
    for (int i = 0; i < w->nmhd; i++) {
        MHD_run(w->mhd[i]);
        MHD_stop_daemon(w->mhd[i]);
        w->mhd[i] = NULL;
    }
    w->nmhd = 0;
    reader_free_all(w);
    chat_free_all(w);
}

static void *thread_main(void *arg)
{
    worker *w = arg;
    while (1) {
        pass(w);
        uint64_t now = loop_now_ms();
        if (!w->stopping && atomic_load(&w->stop_req))
            begin_stop(w, now);
        if (w->stopping && stop_progress(w, now))
            break;
    }
    teardown(w);
    return NULL;
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
static void addr_with_port(const worker_env *env, unsigned port, struct sockaddr_storage *out)
{
    memcpy(out, &env->addr, sizeof(*out));
    if (out->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)out)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)out)->sin_port = htons((uint16_t)port);
}

static struct MHD_Daemon *start_daemon(worker *w, unsigned port)
{
    const worker_env *env = w->env;
    struct sockaddr_storage addr;
    addr_with_port(env, port, &addr);
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (env->addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    return MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, http_on_request, w,
                            MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&addr,
                            MHD_OPTION_CONNECTION_LIMIT, connection_limit(),
                            MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool_size(env->cfg),
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)LIM_CONN_TIMEOUT_S,
                            MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)4096,
                            MHD_OPTION_NOTIFY_COMPLETED, http_on_completed, w,
                            MHD_OPTION_URI_LOG_CALLBACK, http_on_uri, w,
                            MHD_OPTION_NOTIFY_CONNECTION, http_on_connection, w,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, w, MHD_OPTION_END);
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

int worker_start(worker *w, int idx, const worker_env *env, unsigned *port_out, char *err,
                 size_t errsz)
{
    memset(w, 0, sizeof(*w));
    w->idx = idx;
    w->env = env;
    w->wake_fd = -1;
    pthread_mutex_init(&w->remote_mu, NULL);
    w->loop = loop_new();
    w->up = w->loop ? up_new(w->loop) : NULL;
    w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!w->up || w->wake_fd < 0) {
        snprintf(err, errsz, "out of resources starting worker %d", idx);
        goto fail;
    }
    if (idx >= WORKERS_MAX) {
        snprintf(err, errsz, "too many workers (at most %d)", WORKERS_MAX);
        goto fail;
    }
    for (; w->nmhd < LIM_MHD_SHARDS; w->nmhd++)
        if (start_shard(w, w->nmhd, port_out, err, errsz) < 0)
            goto fail;
    if (loop_watch(w->loop, w->wake_fd, EPOLLIN, on_wake, w) < 0) {
        snprintf(err, errsz, "cannot watch the wake-up descriptor");
        goto fail;
    }
    all_workers[idx] = w;
    atomic_fetch_add(&n_workers, 1);
    if (pthread_create(&w->thread, NULL, thread_main, w) != 0) {
        snprintf(err, errsz, "cannot start worker thread %d", idx);
        goto fail;
    }
    return 0;
fail:
    for (int i = 0; i < w->nmhd; i++)
        MHD_stop_daemon(w->mhd[i]);
    w->nmhd = 0;
    up_free(w->up);
    loop_free(w->loop);
    if (w->wake_fd >= 0)
        close(w->wake_fd);
    w->up = NULL;
    w->loop = NULL;
    return -1;
}

void worker_request_stop(worker *w)
{
    atomic_store(&w->stop_req, 1);
    wake_fd(w);
}

void worker_join(worker *w)
{
    pthread_join(w->thread, NULL);
}

void worker_free(worker *w)
{
    if (w->idx < WORKERS_MAX)
        all_workers[w->idx] = NULL;
    up_free(w->up);
    loop_free(w->loop);
    close(w->wake_fd);
    pthread_mutex_destroy(&w->remote_mu);
}
