/* worker — one event-loop thread: its loop, a few libmicrohttpd daemons in external epoll
 * mode on the shared port (shards; see worker.c), a libcurl multi handle (up), its
 * scheduler, and the chats, readers and router that live on it. It knows those modules
 * only by the calls they offer and the tasks they register with the scheduler. Workers
 * share nothing but the read-only env, the port and the store. */
#ifndef CHATD_WORKER_H
#define CHATD_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "chat.h"
#include "env.h"
#include "lim.h"
#include "loop.h"
#include "metrics.h"
#include "reader.h"
#include "router.h"
#include "sched.h"
#include "up.h"

struct MHD_Daemon;

typedef struct worker {
    int idx;
    const chatd_env *env;
    loop *loop;
    struct MHD_Daemon *mhd[LIM_MHD_SHARDS]; /* all on the one port */
    int nmhd;
    uint32_t mhd_due;        /* shards MHD_run must visit this pass, a bit each */
    up *up;
    sched sc;
    int wake_fd;             /* eventfd: the scheduler's kick and the stop request */
    pthread_t thread;
    chat_set *chats;
    reader_set *readers;
    router *router;
    repl *repl;              /* the link to Redis when replicas share streams; else NULL */
    uint64_t next_pace_ms, next_house_ms;
    atomic_int stop_req;
    int stopping;
    uint64_t stop_deadline_ms;
    metrics m;
} worker;

/* Binds (on the calling thread, so errors surface before anything runs) and starts the
 * thread. port_out: the bound port. 0, or -1 with err (nothing left running). */
int worker_start(worker *w, int idx, const chatd_env *e, unsigned *port_out, char *err, size_t errsz);
void worker_request_stop(worker *w); /* async-signal-safe */
void worker_join(worker *w);         /* waits for the thread */
void worker_free(worker *w);         /* after every worker was joined */

/* Starts n workers; on failure stops the ones started and says why. 0 or -1. */
int worker_start_all(worker *ws, int n, const chatd_env *e, unsigned *port, char *err, size_t errsz);
/* Asks every one to stop, waits for them and frees them. */
void worker_stop_all(worker *ws, int n);

#endif
