/* probe — see probe.h. */
#include "probe.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"

/* One probe in flight: the table it belongs to (a reference) and the upstream's place. */
typedef struct probe {
    routes *rt;
    int i;
} probe;

static int in_flight;
static uint64_t next_ms;

static int on_data(void *ud, long status, const char *p, size_t n)
{
    return UP_DATA_OK; /* the body does not matter */
}

static void on_done(void *ud, int result, long status, long retry_after_s, const char *why)
{
    probe *p = ud;
    atomic_store(&p->rt->ups[p->i].reachable, status > 0 ? ROUTE_REACHABLE : ROUTE_UNREACHABLE);
    routes_unref(p->rt);
    free(p);
    in_flight--;
}

static const up_ops probe_ops = {on_data, on_done};

/* A path every provider answers cheaply: their model lists. */
static char *probe_url(const route_upstream *u)
{
    const char *suffix = strcmp(u->prov->name, "ollama") ? "/models" : "/api/tags";
    size_t n = strlen(u->url) + strlen(suffix) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s", u->url, suffix);
    return s;
}

void probe_tick(up *u, const chatd_env *e, uint64_t now)
{
    (void)e;
    if (in_flight || now < next_ms)
        return;
    next_ms = now + PROBE_EVERY_MS;
    routes *rt = routes_current();
    for (int i = 0; rt && i < rt->nups; i++) {
        probe *p = malloc(sizeof(*p));
        prov_http h = {probe_url(&rt->ups[i]), NULL, NULL};
        up_opts o = {rt->ups[i].connect_timeout_ms, rt->ups[i].http2, rt->ups[i].ca_file};
        if (p && h.url) {
            routes_ref(rt);
            *p = (probe){rt, i};
            if (up_start(u, &h, &o, &probe_ops, p)) {
                in_flight++;
                p = NULL;
            } else {
                routes_unref(rt);
            }
        }
        free(p);
        prov_http_free(&h);
    }
    routes_unref(rt);
}

int probe_state(void)
{
    routes *rt = routes_current();
    int any = 0, unknown = 0;
    for (int i = 0; rt && i < rt->nups; i++) {
        int st = atomic_load(&rt->ups[i].reachable);
        any |= st == ROUTE_REACHABLE;
        unknown |= st == ROUTE_REACH_UNKNOWN;
    }
    routes_unref(rt);
    return any ? PROBE_REACHABLE : unknown ? PROBE_UNKNOWN : PROBE_UNREACHABLE;
}
