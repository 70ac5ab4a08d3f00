/* worker — one event-loop thread: its own epoll loop, a few libmicrohttpd daemons in
 * external epoll mode (shards; see worker.c) and a libcurl multi handle. Workers share nothing but the read-only
 * worker_env and the listening port (SO_REUSEPORT). Every MHD and curl call for a stream
 * happens on its worker's thread. The worker owns its chats and frees them at stop. */
#ifndef CHATD_WORKER_H
#define CHATD_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

#include "auth.h"
#include "cfg.h"
#include "loop.h"
#include "metrics.h"
#include "pace.h"
#include "prov.h"
#include "lim.h"
#include "up.h"

struct MHD_Daemon;
struct MHD_Connection;
typedef struct chat chat;
typedef struct reader reader;

/* Shared, read-only after start. */
typedef struct worker_env {
    const cfg *cfg;
    const prov *prov;
    const char *upstream_url; /* the provider base URL in force (the demo's when demo) */
    pace_cfg pace;
    auth auth;                /* client keys */
    char web_root_real[4096]; /* realpath of cfg->web_root; empty: no UI */
    struct sockaddr_storage addr;
    socklen_t addrlen;
} worker_env;

typedef struct worker {
    int idx;
    const worker_env *env;
    loop *loop;
    struct MHD_Daemon *mhd[LIM_MHD_SHARDS]; /* all on the one port */
    int nmhd;
    uint32_t mhd_due;        /* shards MHD_run must visit this pass, a bit each */
    up *up;
    int wake_fd;             /* eventfd: stop request */
    pthread_t thread;
    chat *chats;             /* every chat this worker owns */
    chat *active;            /* chats the pacing tick must visit */
    int nchats;
    reader *readers;         /* every reader this worker's daemon serves */
    reader *resume;          /* readers whose connection must be resumed before MHD_run */
    int nreaders;
    pthread_mutex_t remote_mu; /* guards remote: wake-ups from other workers */
    reader *remote;
    atomic_int poked;        /* another worker asked for a housekeeping pass */
    void *conns;             /* http.c's client connections, for its watchdog */
    uint64_t next_pace_ms, next_house_ms;
    atomic_int stop_req;
    int stopping;
    uint64_t stop_deadline_ms;
    atomic_int live_streams; /* read by other workers for the max_streams cap */
    metrics m;
} worker;

/* Binds (on the calling thread, so errors surface before anything runs) and starts the
 * thread. port_out: the bound port. 0, or -1 with err. */
int worker_start(worker *w, int idx, const worker_env *env, unsigned *port_out, char *err,
                 size_t errsz);
void worker_request_stop(worker *w); /* async-signal-safe */
void worker_join(worker *w);         /* waits for the thread */
void worker_free(worker *w);         /* after every worker was joined */

/* Scheduling work, from the worker's own thread. */
void worker_activate(worker *w, chat *c);       /* the pacing tick visits c */
void worker_wake_reader(worker *w, reader *r);  /* resume r's connection before MHD_run */
/* From any thread. */
void worker_remote_wake(worker *w, reader *r);  /* r has news: its worker wakes it */
void worker_unqueue(worker *w, reader *r);      /* r is going away */
void worker_poke(int idx);                      /* worker idx: housekeeping pass now */
int worker_shard_of(const worker *w, struct MHD_Connection *mc); /* mc's daemon, 0.. */
int worker_total_streams(const worker *w);      /* across all workers */
int worker_render_metrics(buf *out);            /* every worker's metrics, summed */

#endif
