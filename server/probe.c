/* probe — see probe.h. */
#include "probe.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_int state = PROBE_UNKNOWN;
static int in_flight;
static uint64_t next_ms;

static int on_data(void *ud, long status, const char *p, size_t n)
{
    return UP_DATA_OK; /* the body does not matter */
}

static void on_done(void *ud, int result, long status, const char *why)
{
    atomic_store(&state, status > 0 ? PROBE_REACHABLE : PROBE_UNREACHABLE);
    in_flight = 0;
}

static const up_ops probe_ops = {on_data, on_done};

/* A path every provider answers cheaply: their model lists. */
static char *probe_url(const chatd_env *env)
{
    const char *suffix = strcmp(env->prov->name, "ollama") ? "/models" : "/api/tags";
    size_t n = strlen(env->upstream_url) + strlen(suffix) + 1;
    char *u = malloc(n);
    if (u)
        snprintf(u, n, "%s%s", env->upstream_url, suffix);
    return u;
}

void probe_tick(up *u, const chatd_env *e, uint64_t now)
{
    if (in_flight || now < next_ms)
        return;
    next_ms = now + PROBE_EVERY_MS;
    prov_http h = {probe_url(e), NULL, NULL};
    up_opts o = {e->cfg->upstream_connect_timeout_ms};
    if (h.url && up_start(u, &h, &o, &probe_ops, NULL))
        in_flight = 1;
    prov_http_free(&h);
}

int probe_state(void)
{
    return atomic_load(&state);
}
