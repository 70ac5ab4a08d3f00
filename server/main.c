/* main — chatd's process: configuration, the demo upstream, the workers, signals.
 * The top layer alone logs; every module below returns errors. */
#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cfg.h"
#include "demo/demo.h"
#include "lim.h"
#include "log.h"
#include "prov_anthropic.h"
#include "prov_ollama.h"
#include "prov_openai.h"
#include "quota.h"
#include "rconn_url.h"
#include "repl.h"
#include "route.h"
#include "store.h"
#include "worker.h"

#define DEMO_TOKEN_MS 30

extern char **environ;

static int resolve_listen(const cfg *c, chatd_env *env, char *err, size_t errsz)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char port[16];
    snprintf(port, sizeof(port), "%d", c->listen_port);
    int rc = getaddrinfo(c->listen_host, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errsz, "listen: cannot resolve %s: %s", c->listen_host, gai_strerror(rc));
        return -1;
    }
    memcpy(&env->addr, res->ai_addr, res->ai_addrlen);
    env->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static const prov *provider_for(const cfg *c)
{
    switch (c->provider) {
    case CFG_PROVIDER_DEMO:
    case CFG_PROVIDER_OPENAI:
        return &prov_openai;
    case CFG_PROVIDER_ANTHROPIC:
        return &prov_anthropic;
    case CFG_PROVIDER_OLLAMA:
        return &prov_ollama;
    }
    return NULL;
}

static void pace_from(const cfg *c, pace_cfg *p)
{
    p->mode = c->pace_mode == CFG_PACE_OFF     ? PACE_OFF
              : c->pace_mode == CFG_PACE_FIXED ? PACE_FIXED
                                               : PACE_ADAPTIVE;
    p->cps = c->pace_cps;
    p->base_cps = c->pace_base_cps;
    p->max_lag_ms = (double)c->pace_max_lag_ms;
}

static int wait_for_signal(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    int sig = 0;
    sigwait(&set, &sig);
    return sig;
}

/* SIGHUP: the model map and its keys again, from the config file and the environment.
 * Streams under way keep the table they started with; a bad file keeps the old one. */
static void reload_routes(const cfg *c, const char *shorthand_url)
{
    char err[512];
    routes *r = NULL;
    if (routes_build(c, shorthand_url, environ, &r, err, sizeof(err)) < 0) {
        fprintf(stderr, "chatd: SIGHUP: the model map was not reloaded: %s\n", err);
        return;
    }
    routes_install(r);
    fprintf(stderr, "chatd: SIGHUP: model map reloaded (%d upstreams, %d model entries)\n", r->nups,
            r->nmodels);
    routes_unref(r);
}

/* Two sockets per stream: take every file descriptor the hard limit allows. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* Linux grows a process's descriptor table by doubling, and in a multi-threaded process
 * each growth waits for an RCU grace period (expand_fdtable -> synchronize_rcu) while
 * every thread that opens a descriptor waits too: a 10-20 ms stall of all workers at
 * 128, 256, 512... open sockets. Growing it once now, still single-threaded, costs
 * nothing but the table (8 bytes a slot, kernel memory). */
static void presize_fd_table(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    rlim_t top =
        rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > LIM_FD_TABLE ? LIM_FD_TABLE : rl.rlim_cur;
    if (top < 2)
        return;
    int fd = dup2(STDERR_FILENO, (int)(top - 1));
    if (fd >= 0)
        close(fd);
}

static void block_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    /* Workers inherit the mask: only the main thread takes these signals, in sigwait. */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static const char *url_host(const chatd_env *env, char *out, size_t n)
{
    if (env->addr.ss_family == AF_INET6)
        snprintf(out, n, "[%s]", env->cfg->listen_host);
    else
        snprintf(out, n, "%s", env->cfg->listen_host);
    return out;
}

/* The shared environment from the configuration; 0, or the exit status (said why). */
/* Who this replica is, in Redis: the host name and random bits (a restarted process is a
 * new replica: its streams of before are gone). */
static void replica_name(char *out, size_t n)
{
    char host[64] = "chatd";
    unsigned char rnd[4] = {0};
    gethostname(host, sizeof(host) - 1);
    host[strcspn(host, ":{} ")] = '\0';
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        memset(rnd, 0, sizeof(rnd));
    snprintf(out, n, "%.24s-%02x%02x%02x%02x", host, rnd[0], rnd[1], rnd[2], rnd[3]);
}

static int make_env(const cfg *c, chatd_env *env)
{
    char err[512];
    env->cfg = c;
    env->prov = provider_for(c);
    if (!env->prov) {
        fprintf(stderr, "chatd: config: provider %s is not available in this build\n",
                cfg_provider_name(c));
        return 2;
    }
    if (resolve_listen(c, env, err, sizeof(err)) < 0) {
        fprintf(stderr, "chatd: config: %s\n", err);
        return 2;
    }
    pace_from(c, &env->pace);
    if (auth_init(&env->auth, c->api_keys) < 0) {
        fprintf(stderr, "chatd: out of memory\n");
        return 1;
    }
    if (c->api_keys_file[0] && auth_load_file(&env->auth, c->api_keys_file) < 0) {
        fprintf(stderr, "chatd: config: api_keys_file: cannot read %s: %s\n", c->api_keys_file,
                strerror(errno));
        return 2;
    }
    if (!realpath(c->web_root, env->web_root_real)) {
        fprintf(stderr, "chatd: warning: web root %s: %s (the UI is not served)\n", c->web_root,
                strerror(errno));
        env->web_root_real[0] = '\0';
    }
    env->upstream_url = c->upstream_url;
    if (c->redis_url[0]) {
        rconn_url u;
        char replica[REPL_REPLICA_MAX + 1];
        if (rconn_url_parse(c->redis_url, &u, err, sizeof(err)) < 0) {
            fprintf(stderr, "chatd: config: redis_url: %s\n", err);
            return 2;
        }
        replica_name(replica, sizeof(replica));
        repl_setup(&u, replica, c->stream_retention_ms);
        repl_set_limits(&(repl_limits){c->max_streams_per_client, c->max_streams_total,
                                       c->rate_limit_per_minute, c->rate_limit_burst});
        fprintf(stderr, "chatd: replica %s, streams shared through Redis at %s\n", replica,
                u.is_unix ? u.path : u.host);
    }
    return 0;
}

/* Runs the workers until SIGINT or SIGTERM; 0, or the exit status (said why). */
static int serve(const cfg *c, chatd_env *env)
{
    char err[512];
    int n = (int)c->workers;
    worker *ws = calloc((size_t)n, sizeof(*ws));
    unsigned port = (unsigned)c->listen_port;
    if (!ws || worker_start_all(ws, n, env, &port, err, sizeof(err)) < 0) {
        fprintf(stderr, "chatd: %s\n", ws ? err : "out of memory");
        free(ws);
        return 1;
    }
    char host[300];
    fprintf(stderr, "chatd: listening on http://%s:%u (%d workers, provider %s, pace %s)\n",
            url_host(env, host, sizeof(host)), port, n, cfg_provider_name(c), cfg_pace_name(c));
    int sig;
    while ((sig = wait_for_signal()) == SIGHUP)
        reload_routes(c, env->upstream_url);
    fprintf(stderr, "chatd: %s: stopping (grace %ld ms)\n", sig == SIGINT ? "SIGINT" : "SIGTERM",
            c->shutdown_grace_ms);
    worker_stop_all(ws, n);
    free(ws);
    return 0;
}

int main(int argc, char **argv)
{
    static cfg c;
    static chatd_env env;
    char err[512];
    int rc = cfg_load(&c, argc, argv, environ, err, sizeof(err));
    if (rc == 1)
        return 0;
    if (rc < 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    log_set_level((int)c.log_level);
    if ((rc = make_env(&c, &env)) != 0)
        return rc;
    quota_init(c.max_streams_per_client, c.rate_limit_per_minute, c.rate_limit_burst);
    fprintf(stderr, "chatd: effective configuration:\n");
    cfg_print(&c, stderr);
    if (store_use(repl_enabled() ? store_redis() : &store_mem_ops) < 0) {
        fprintf(stderr, "chatd: out of memory\n");
        return 1;
    }
    raise_nofile();
    presize_fd_table();
    block_signals();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    demo *d = NULL;
    if (c.provider == CFG_PROVIDER_DEMO && !c.upstream_url[0]) {
        if ((rc = demo_start(&d, DEMO_TOKEN_MS)) < 0) {
            fprintf(stderr, "chatd: cannot start the demo upstream: %s\n", strerror(-rc));
            return 1;
        }
        env.upstream_url = demo_base_url(d);
    }
    routes *rt = NULL;
    if (routes_build(&c, env.upstream_url, environ, &rt, err, sizeof(err)) < 0) {
        fprintf(stderr, "chatd: config: %s\n", err);
        demo_stop(d);
        return 2;
    }
    routes_install(rt);
    routes_unref(rt);
    rc = serve(&c, &env);
    routes_install(NULL);
    store_shutdown();
    quota_free();
    demo_stop(d);
    auth_free(&env.auth);
    curl_global_cleanup();
    if (rc == 0)
        fprintf(stderr, "chatd: stopped\n");
    return rc;
}
