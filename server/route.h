/* route — the model map: which upstream (provider, URL, keys, timeouts) serves a request's
 * model, and where it goes when that upstream fails before the first character.
 *
 * A routes table is built once (at start, and again on SIGHUP) from the JSON config's
 * `upstreams` and `models`, or, without them, from the one-upstream settings
 * (CHATD_PROVIDER, CHATD_UPSTREAM_URL, the key). It is immutable but for the keys' health
 * and the counters (atomics), and reference-counted: every chat holds the table it was
 * planned with, so a reload never pulls an upstream from under a running stream.
 *
 * A plan is one request's way through the table: its model's entry, then the entry's
 * fallbacks in order; within an entry, each of its upstream's keys that is not resting, in
 * turn. route_next gives the next attempt, route_report records how it went (of an
 * upstream with several keys, a key answered 401/403 rests for ROUTE_REST_AUTH_MS, one
 * answered 429 for its Retry-After; a lone key never rests).
 * Time comes from the caller (now_ms), so the selection is testable with any clock. */
#ifndef CHATD_ROUTE_H
#define CHATD_ROUTE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "cfg.h"
#include "prov.h"

#define ROUTE_UPSTREAMS_MAX 32
#define ROUTE_KEYS_MAX 16 /* keys of one upstream */
#define ROUTE_MODELS_MAX 256
#define ROUTE_FALLBACKS_MAX 8     /* fallbacks of one model entry */
#define ROUTE_NAME_MAX 257        /* an upstream's name, a model name, a variable's name */
#define ROUTE_REST_AUTH_MS 60000  /* a key answered 401/403 */
#define ROUTE_REST_429_MS 5000    /* a key answered 429 without Retry-After */
#define ROUTE_REST_MAX_MS 3600000 /* the longest Retry-After honoured */
#define ROUTE_ATTEMPTS_MAX 16     /* the most attempts fallback_max_attempts may allow */

enum { ROUTE_REACH_UNKNOWN, ROUTE_REACHABLE, ROUTE_UNREACHABLE };

typedef struct route_key {
    char var[ROUTE_NAME_MAX]; /* the environment variable it was read from ("" shorthand) */
    char *value;              /* secret; never logged */
    _Atomic uint64_t rest_until_ms;
    atomic_ullong attempts, failures;
} route_key;

typedef struct route_upstream {
    char name[ROUTE_NAME_MAX];
    const prov *prov;
    char *url; /* base URL, no trailing '/' */
    long connect_timeout_ms, first_byte_timeout_ms, idle_timeout_ms;
    int http2;     /* UP_H2_*: HTTP/2 to it */
    char *ca_file; /* CA certificates to verify it with; NULL: the system's */
    route_key keys[ROUTE_KEYS_MAX];
    int nkeys;        /* 0: requests carry no key */
    atomic_uint turn; /* the key to try first next time */
    atomic_ullong attempts, failures;
    atomic_int reachable; /* ROUTE_REACH_* as its last probe found it */
} route_upstream;

typedef struct route_model {
    char name[ROUTE_NAME_MAX];          /* "*": any model */
    int upstream;                       /* index into routes.ups */
    char model[ROUTE_NAME_MAX];         /* what goes upstream; "": the name asked for */
    int fallbacks[ROUTE_FALLBACKS_MAX]; /* indexes into routes.models */
    int nfallbacks;
} route_model;

typedef struct routes {
    atomic_int refs;
    route_upstream *ups;
    int nups;
    route_model *models;
    int nmodels;
    int max_attempts;
    long deadline_ms;
    char default_model[ROUTE_NAME_MAX]; /* for a request that names none */
    int shorthand;                      /* made from the one-upstream settings */
} routes;

/* The providers chatd has, by name ("demo", "openai", "anthropic", "ollama"); the demo is
 * OpenAI-compatible. NULL: unknown. */
const prov *route_provider(const char *name);

/* Builds the table from c: its config file's `upstreams` and `models` when it has them,
 * else the one-upstream settings, whose URL is shorthand_url (the demo's when it runs).
 * Keys are read from envp (NULL-terminated "NAME=value"). 0, or -1 with a one-line reason
 * in err (a bad entry, an unknown upstream, a model pointing nowhere, a key variable that
 * is unset), which names the entry and never holds a key. */
int routes_build(const cfg *c, const char *shorthand_url, char **envp, routes **out, char *err,
                 size_t errsz);
void routes_ref(routes *r);
void routes_unref(routes *r); /* frees it with the last reference */

/* The table in force: routes_install takes a reference of its own (and drops the old
 * table's); routes_current returns a reference the caller unrefs. Any thread. */
void routes_install(routes *r);
routes *routes_current(void);

/* The entry serving model (NULL: the default model); NULL when no entry matches. */
const route_model *route_find(const routes *r, const char *model);
/* The model name answering for entry m when model was asked for: m's own name, or model
 * for the "*" entry. */
const char *route_answer_name(const route_model *m, const char *model);

/* One attempt: the entry, its upstream, the key (NULL: none) and the model sent upstream. */
typedef struct route_attempt {
    const route_model *entry;
    route_upstream *up;
    route_key *key;
    const char *upstream_model;
    const char *answer_model; /* what the start event names */
} route_attempt;

typedef struct route_plan {
    const routes *r;
    const char *asked; /* the request's model (owned by the caller) */
    int entries[1 + ROUTE_FALLBACKS_MAX];
    int nentries, at;    /* the entries in order, the one being tried */
    uint32_t tried_keys; /* keys of the current entry's upstream already tried */
    int attempts;
    uint64_t deadline_ms;
} route_plan;

/* A plan for model (NULL: the default) starting at now_ms. -1 when no entry matches. */
int route_plan_init(route_plan *p, const routes *r, const char *model, uint64_t now_ms);

enum { ROUTE_NEXT_OK = 0, ROUTE_NEXT_NONE = -1, ROUTE_NEXT_RESTING = -2 };
/* The next attempt into *a: ROUTE_NEXT_OK; ROUTE_NEXT_NONE when the plan is spent (its
 * attempts, its deadline, its entries); ROUTE_NEXT_RESTING when the only keys left all
 * rest, with *wait_ms the shortest rest. */
int route_next(route_plan *p, uint64_t now_ms, route_attempt *a, uint64_t *wait_ms);

/* Whether another attempt may follow the last one route_next gave (its resting keys and
 * the deadline aside): the caller then holds the answer's start until its first character. */
int route_more(const route_plan *p);

/* How an attempt ended: status is the upstream's HTTP status (0: no answer: connect error,
 * timeout, a failure before the first character); retry_after_s its Retry-After (-1:
 * none). Rests the key on 401, 403 and 429; counts. */
void route_report(const route_attempt *a, long status, long retry_after_s, int failed,
                  uint64_t now_ms);

/* Prometheus lines: per upstream attempts, failures, fallbacks, reachability; per key
 * (by its variable's name and place, never its value) attempts, failures, resting. */
void routes_metrics(const routes *r, uint64_t now_ms, buf *out);
/* /readyz's "upstreams" object: per upstream {"status":"reachable"|"unreachable"|
 * "unknown","keys":N,"keys_resting":M} (never a key). */
void routes_ready_json(const routes *r, uint64_t now_ms, buf *out);

#endif
