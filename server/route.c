/* route — see route.h. */
#include "route.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "prov_anthropic.h"
#include "prov_ollama.h"
#include "prov_openai.h"
#include "up.h"

const prov *route_provider(const char *name)
{
    if (!strcmp(name, "demo") || !strcmp(name, "openai"))
        return &prov_openai;
    if (!strcmp(name, "anthropic"))
        return &prov_anthropic;
    if (!strcmp(name, "ollama"))
        return &prov_ollama;
    return NULL;
}

/* ---------- building ---------- */

static int fail(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errsz, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *env_get(char **envp, const char *name)
{
    size_t n = strlen(name);
    for (char **e = envp; e && *e; e++)
        if (!strncmp(*e, name, n) && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

static int has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

static void free_table(routes *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->nups; i++) {
        free(r->ups[i].url);
        free(r->ups[i].ca_file);
        for (int k = 0; k < r->ups[i].nkeys; k++) {
            if (r->ups[i].keys[k].value) /* a secret: wiped before it goes */
                memset(r->ups[i].keys[k].value, 0, strlen(r->ups[i].keys[k].value));
            free(r->ups[i].keys[k].value);
        }
    }
    free(r->ups);
    free(r->models);
    free(r);
}

static int add_key(route_upstream *u, const char *var, const char *value)
{
    if (u->nkeys >= ROUTE_KEYS_MAX)
        return -1;
    route_key *k = &u->keys[u->nkeys];
    snprintf(k->var, sizeof(k->var), "%s", var);
    if (!(k->value = strdup(value)))
        return -1;
    u->nkeys++;
    return 0;
}

static void url_trim(char *u)
{
    size_t n = strlen(u);
    while (n && u[n - 1] == '/')
        u[--n] = '\0';
}

/* A string member of o (absent: def); -1 with err when it is not a string or too long. */
static int str_member(const cJSON *o, const char *name, const char *where, const char **out,
                      size_t max, char *err, size_t errsz)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!v)
        return 0;
    if (!cJSON_IsString(v) || !v->valuestring[0])
        return fail(err, errsz, "%s: %s must be a non-empty string", where, name);
    if (strlen(v->valuestring) >= max || has_ctl(v->valuestring))
        return fail(err, errsz, "%s: %s is too long or holds control characters", where, name);
    *out = v->valuestring;
    return 0;
}

static int ms_member(const cJSON *o, const char *name, const char *where, long *out, char *err,
                     size_t errsz)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!v)
        return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 3600000 ||
        v->valuedouble != (double)(long)v->valuedouble)
        return fail(err, errsz, "%s: %s must be a whole number of milliseconds, 1 to 3600000",
                    where, name);
    *out = (long)v->valuedouble;
    return 0;
}

static int only_members(const cJSON *o, const char *const *allowed, const char *where, char *err,
                        size_t errsz)
{
    for (const cJSON *it = o->child; it; it = it->next) {
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = !strcmp(*a, it->string);
        if (!ok)
            return fail(err, errsz, "%s: unknown key \"%.64s\"", where, it->string);
    }
    return 0;
}

static int upstream_index(const routes *r, const char *name)
{
    for (int i = 0; i < r->nups; i++)
        if (!strcmp(r->ups[i].name, name))
            return i;
    return -1;
}

static int model_index(const routes *r, const char *name)
{
    for (int i = 0; i < r->nmodels; i++)
        if (!strcmp(r->models[i].name, name))
            return i;
    return -1;
}

static int http2_of(cfg_http2 h)
{
    return h == CFG_H2_ON ? UP_H2_ON : h == CFG_H2_OFF ? UP_H2_OFF : UP_H2_AUTO;
}

static int http2_named(const char *s)
{
    return !strcmp(s, "auto") ? UP_H2_AUTO : !strcmp(s, "on") ? UP_H2_ON : !strcmp(s, "off") ? UP_H2_OFF : -1;
}

/* The upstream's CA file (readable), and HTTP/2 only where this libcurl can do it. */
static int transport(route_upstream *u, const char *ca, const char *where, char *err,
                     size_t errsz)
{
    if (u->http2 == UP_H2_ON && !strncmp(u->url, "http://", 7) && !up_h2c_ok())
        return fail(err, errsz,
                    "%s: http2 \"on\" over http:// (h2c) needs libcurl 8.0.0 or later, this is "
                    "%s (it breaks a reused prior-knowledge connection); use https:// or http2 "
                    "\"auto\"",
                    where, up_libcurl_version());
    if (!ca || !*ca)
        return 0;
    FILE *f = fopen(ca, "r");
    if (!f)
        return fail(err, errsz, "%s: ca_file %.200s: %s", where, ca, strerror(errno));
    fclose(f);
    u->ca_file = strdup(ca);
    return u->ca_file ? 0 : fail(err, errsz, "out of memory");
}

static int parse_upstream(routes *r, const cJSON *o, int i, const cfg *c, const char *demo_url,
                          char **envp, char *err, size_t errsz)
{
    static const char *const allowed[] = {"name",
                                          "provider",
                                          "url",
                                          "api_key_env",
                                          "connect_timeout_ms",
                                          "first_byte_timeout_ms",
                                          "idle_timeout_ms",
                                          "http2",
                                          "ca_file",
                                          NULL};
    char where[ROUTE_NAME_MAX + 32];
    snprintf(where, sizeof(where), "upstreams[%d]", i);
    if (!cJSON_IsObject(o))
        return fail(err, errsz, "%s: expected an object", where);
    const char *name = NULL, *provider = NULL, *url = NULL;
    if (str_member(o, "name", where, &name, ROUTE_NAME_MAX, err, errsz) < 0)
        return -1;
    if (!name)
        return fail(err, errsz, "%s: name is missing", where);
    snprintf(where, sizeof(where), "upstreams[%d] (%s)", i, name);
    if (only_members(o, allowed, where, err, errsz) < 0 ||
        str_member(o, "provider", where, &provider, 32, err, errsz) < 0 ||
        str_member(o, "url", where, &url, CFG_URL_MAX, err, errsz) < 0)
        return -1;
    if (upstream_index(r, name) >= 0)
        return fail(err, errsz, "%s: another upstream has this name", where);
    if (!provider)
        return fail(err, errsz, "%s: provider is missing", where);
    route_upstream *u = &r->ups[r->nups];
    if (!(u->prov = route_provider(provider)))
        return fail(err, errsz, "%s: unknown provider \"%s\" (demo, openai, anthropic, ollama)",
                    where, provider);
    snprintf(u->name, sizeof(u->name), "%s", name);
    if (!url)
        url = strcmp(provider, "demo") ? u->prov->default_url : demo_url;
    if (!url)
        return fail(err, errsz, "%s: the demo upstream is not running here; give a url", where);
    if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
        return fail(err, errsz, "%s: url must start with http:// or https://", where);
    if (!(u->url = strdup(url)))
        return fail(err, errsz, "out of memory");
    url_trim(u->url);
    r->nups++; /* from here on free_table frees what u holds */
    u->connect_timeout_ms = c->upstream_connect_timeout_ms;
    u->first_byte_timeout_ms = c->upstream_first_byte_timeout_ms;
    u->idle_timeout_ms = c->upstream_idle_timeout_ms;
    if (ms_member(o, "connect_timeout_ms", where, &u->connect_timeout_ms, err, errsz) < 0 ||
        ms_member(o, "first_byte_timeout_ms", where, &u->first_byte_timeout_ms, err, errsz) < 0 ||
        ms_member(o, "idle_timeout_ms", where, &u->idle_timeout_ms, err, errsz) < 0)
        return -1;
    u->http2 = http2_of(c->upstream_http2);
    const char *h2 = NULL;
    if (str_member(o, "http2", where, &h2, 32, err, errsz) < 0)
        return -1;
    if (h2 && (u->http2 = http2_named(h2)) < 0)
        return fail(err, errsz, "%s: http2 must be \"auto\", \"on\" or \"off\"", where);
    const char *ca = NULL;
    if (str_member(o, "ca_file", where, &ca, CFG_PATH_MAX, err, errsz) < 0)
        return -1;
    if (transport(u, ca ? ca : c->upstream_ca_file, where, err, errsz) < 0)
        return -1;
    const cJSON *ke = cJSON_GetObjectItemCaseSensitive(o, "api_key_env");
    if (!ke)
        return 0;
    if (!cJSON_IsString(ke) && !cJSON_IsArray(ke))
        return fail(err, errsz, "%s: api_key_env must be a variable's name or a list of them",
                    where);
    const cJSON *it = cJSON_IsString(ke) ? ke : ke->child;
    for (; it; it = cJSON_IsString(ke) ? NULL : it->next) {
        if (!cJSON_IsString(it) || !it->valuestring[0] || strlen(it->valuestring) >= ROUTE_NAME_MAX)
            return fail(err, errsz, "%s: api_key_env: expected variable names", where);
        const char *v = env_get(envp, it->valuestring);
        if (!v || !*v)
            return fail(err, errsz, "%s: api_key_env: %.100s is not set", where, it->valuestring);
        if (has_ctl(v) || strlen(v) >= CFG_SECRET_MAX)
            return fail(err, errsz,
                        "%s: api_key_env: %.100s holds control characters or is too long", where,
                        it->valuestring);
        if (add_key(u, it->valuestring, v) < 0)
            return fail(err, errsz, "%s: api_key_env: more than %d keys (or out of memory)", where,
                        ROUTE_KEYS_MAX);
    }
    return 0;
}

static int parse_model(routes *r, const cJSON *o, int i, char *err, size_t errsz)
{
    static const char *const allowed[] = {"name", "upstream", "model", "fallbacks", NULL};
    char where[ROUTE_NAME_MAX + 32];
    snprintf(where, sizeof(where), "models[%d]", i);
    if (!cJSON_IsObject(o))
        return fail(err, errsz, "%s: expected an object", where);
    const char *name = NULL, *upname = NULL, *model = NULL;
    if (str_member(o, "name", where, &name, ROUTE_NAME_MAX, err, errsz) < 0)
        return -1;
    if (!name)
        return fail(err, errsz, "%s: name is missing", where);
    snprintf(where, sizeof(where), "models[%d] (%s)", i, name);
    if (only_members(o, allowed, where, err, errsz) < 0 ||
        str_member(o, "upstream", where, &upname, ROUTE_NAME_MAX, err, errsz) < 0 ||
        str_member(o, "model", where, &model, ROUTE_NAME_MAX, err, errsz) < 0)
        return -1;
    if (model_index(r, name) >= 0)
        return fail(err, errsz, "%s: another entry has this name", where);
    if (!upname)
        return fail(err, errsz, "%s: upstream is missing", where);
    route_model *m = &r->models[r->nmodels];
    if ((m->upstream = upstream_index(r, upname)) < 0)
        return fail(err, errsz, "%s: unknown upstream \"%s\"", where, upname);
    snprintf(m->name, sizeof(m->name), "%s", name);
    snprintf(m->model, sizeof(m->model), "%s", model ? model : "");
    r->nmodels++;
    return 0;
}

/* The fallbacks name entries that exist (a second pass: any entry may be named). */
static int parse_fallbacks(routes *r, const cJSON *models, char *err, size_t errsz)
{
    int i = 0;
    for (const cJSON *o = models->child; o; o = o->next, i++) {
        route_model *m = &r->models[i];
        const cJSON *fb = cJSON_GetObjectItemCaseSensitive(o, "fallbacks");
        if (!fb)
            continue;
        if (!cJSON_IsArray(fb))
            return fail(err, errsz, "models[%d] (%s): fallbacks must be a list of model names", i,
                        m->name);
        for (const cJSON *f = fb->child; f; f = f->next) {
            if (!cJSON_IsString(f))
                return fail(err, errsz, "models[%d] (%s): fallbacks must be a list of model names",
                            i, m->name);
            int j = model_index(r, f->valuestring);
            if (j < 0 || !strcmp(f->valuestring, "*"))
                return fail(err, errsz,
                            "models[%d] (%s): fallback \"%.100s\" is not a model in the map", i,
                            m->name, f->valuestring);
            if (j == i)
                return fail(err, errsz, "models[%d] (%s): an entry cannot fall back to itself", i,
                            m->name);
            if (m->nfallbacks >= ROUTE_FALLBACKS_MAX)
                return fail(err, errsz, "models[%d] (%s): more than %d fallbacks", i, m->name,
                            ROUTE_FALLBACKS_MAX);
            m->fallbacks[m->nfallbacks++] = j;
        }
    }
    return 0;
}

static int build_map(routes *r, const cJSON *root, const cfg *c, const char *demo_url, char **envp,
                     char *err, size_t errsz)
{
    const cJSON *ups = cJSON_GetObjectItemCaseSensitive(root, "upstreams");
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(root, "models");
    if (ups && (!cJSON_IsArray(ups) || !ups->child))
        return fail(err, errsz, "upstreams: expected a non-empty list of upstreams");
    if (models && (!cJSON_IsArray(models) || !models->child))
        return fail(err, errsz, "models: expected a non-empty list of model entries");
    int nu = ups ? cJSON_GetArraySize(ups) : 0, nm = models ? cJSON_GetArraySize(models) : 0;
    if (nu > ROUTE_UPSTREAMS_MAX || nm > ROUTE_MODELS_MAX)
        return fail(err, errsz, "at most %d upstreams and %d model entries", ROUTE_UPSTREAMS_MAX,
                    ROUTE_MODELS_MAX);
    r->ups = calloc((size_t)(nu ? nu : 1), sizeof(*r->ups));
    r->models = calloc((size_t)(nm ? nm : 1), sizeof(*r->models));
    if (!r->ups || !r->models)
        return fail(err, errsz, "out of memory");
    int i = 0;
    for (const cJSON *o = ups->child; o; o = o->next, i++)
        if (parse_upstream(r, o, i, c, demo_url, envp, err, errsz) < 0)
            return -1;
    i = 0;
    if (!models) { /* every model to the first upstream */
        snprintf(r->models[0].name, sizeof(r->models[0].name), "*");
        r->nmodels = 1;
        return 0;
    }
    for (const cJSON *o = models->child; o; o = o->next, i++)
        if (parse_model(r, o, i, err, errsz) < 0)
            return -1;
    return parse_fallbacks(r, models, err, errsz);
}

static int build_shorthand(routes *r, const cfg *c, const char *url, char *err, size_t errsz)
{
    r->ups = calloc(1, sizeof(*r->ups));
    r->models = calloc(1, sizeof(*r->models));
    if (!r->ups || !r->models)
        return fail(err, errsz, "out of memory");
    route_upstream *u = &r->ups[0];
    u->prov = route_provider(cfg_provider_name(c));
    snprintf(u->name, sizeof(u->name), "%s", cfg_provider_name(c));
    if (!u->prov || !(u->url = strdup(url ? url : "")))
        return fail(err, errsz, "out of memory");
    r->nups = 1;
    url_trim(u->url);
    u->connect_timeout_ms = c->upstream_connect_timeout_ms;
    u->first_byte_timeout_ms = c->upstream_first_byte_timeout_ms;
    u->idle_timeout_ms = c->upstream_idle_timeout_ms;
    u->http2 = http2_of(c->upstream_http2);
    if (transport(u, c->upstream_ca_file, "upstream", err, errsz) < 0)
        return -1;
    if (c->upstream_api_key[0] && add_key(u, "", c->upstream_api_key) < 0)
        return fail(err, errsz, "out of memory");
    snprintf(r->models[0].name, sizeof(r->models[0].name), "*");
    r->nmodels = 1;
    r->shorthand = 1;
    return 0;
}

/* The config file's JSON, when it has a model map; NULL otherwise (or -1 on a read error). */
static int read_map(const cfg *c, cJSON **out, char *err, size_t errsz)
{
    *out = NULL;
    if (!c->config_path[0])
        return 0;
    FILE *fp = fopen(c->config_path, "rb");
    if (!fp)
        return fail(err, errsz, "%s: cannot read: %s", c->config_path, strerror(errno));
    char *text = malloc(CFG_FILE_MAX + 1);
    size_t n = text ? fread(text, 1, CFG_FILE_MAX, fp) : 0;
    fclose(fp);
    if (!text)
        return fail(err, errsz, "out of memory");
    text[n] = '\0';
    cJSON *root = cJSON_ParseWithLength(text, n);
    free(text);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return fail(err, errsz, "%s: not a valid JSON object", c->config_path);
    }
    if (!cJSON_GetObjectItemCaseSensitive(root, "upstreams") &&
        !cJSON_GetObjectItemCaseSensitive(root, "models")) {
        cJSON_Delete(root);
        return 0;
    }
    *out = root;
    return 0;
}

int routes_build(const cfg *c, const char *shorthand_url, char **envp, routes **out, char *err,
                 size_t errsz)
{
    *out = NULL;
    cJSON *root = NULL;
    if (read_map(c, &root, err, errsz) < 0)
        return -1;
    routes *r = calloc(1, sizeof(*r));
    if (!r) {
        cJSON_Delete(root);
        return fail(err, errsz, "out of memory");
    }
    atomic_init(&r->refs, 1);
    r->max_attempts = (int)c->fallback_max_attempts;
    r->deadline_ms = c->fallback_deadline_ms;
    const char *demo_url = c->provider == CFG_PROVIDER_DEMO ? shorthand_url : NULL;
    int rc;
    if (root && !cJSON_GetObjectItemCaseSensitive(root, "upstreams"))
        rc = fail(err, errsz, "models: the model map needs its upstreams (\"upstreams\": [...])");
    else if (root)
        rc = build_map(r, root, c, demo_url, envp, err, errsz);
    else
        rc = build_shorthand(r, c, shorthand_url, err, errsz);
    cJSON_Delete(root);
    if (rc < 0) {
        free_table(r);
        return -1;
    }
    /* A request naming no model: the configured model, else the map's first named entry. */
    const char *def = c->model;
    if (!r->shorthand && !cfg_explicit(c, "model") && strcmp(r->models[0].name, "*"))
        def = r->models[0].name;
    snprintf(r->default_model, sizeof(r->default_model), "%s", def);
    *out = r;
    return 0;
}

void routes_ref(routes *r)
{
    atomic_fetch_add(&r->refs, 1);
}

void routes_unref(routes *r)
{
    if (r && atomic_fetch_sub(&r->refs, 1) == 1)
        free_table(r);
}

static pthread_mutex_t cur_lock = PTHREAD_MUTEX_INITIALIZER;
static routes *cur;

void routes_install(routes *r)
{
    if (r)
        routes_ref(r);
    pthread_mutex_lock(&cur_lock);
    routes *old = cur;
    cur = r;
    pthread_mutex_unlock(&cur_lock);
    routes_unref(old);
}

routes *routes_current(void)
{
    pthread_mutex_lock(&cur_lock);
    routes *r = cur;
    if (r)
        routes_ref(r);
    pthread_mutex_unlock(&cur_lock);
    return r;
}

/* ---------- choosing ---------- */

const route_model *route_find(const routes *r, const char *model)
{
    if (!model)
        model = r->default_model;
    for (int i = 0; i < r->nmodels; i++)
        if (!strcmp(r->models[i].name, model) || !strcmp(r->models[i].name, "*"))
            return &r->models[i];
    return NULL;
}

const char *route_answer_name(const route_model *m, const char *model)
{
    return strcmp(m->name, "*") ? m->name : model;
}

int route_plan_init(route_plan *p, const routes *r, const char *model, uint64_t now_ms)
{
    memset(p, 0, sizeof(*p));
    const route_model *m = route_find(r, model);
    if (!m)
        return -1;
    p->r = r;
    p->asked = model ? model : r->default_model;
    p->entries[p->nentries++] = (int)(m - r->models);
    for (int i = 0; i < m->nfallbacks; i++)
        p->entries[p->nentries++] = m->fallbacks[i];
    p->deadline_ms = now_ms + (uint64_t)r->deadline_ms;
    return 0;
}

static int resting(const route_key *k, uint64_t now, uint64_t *left)
{
    uint64_t until = atomic_load_explicit(&k->rest_until_ms, memory_order_relaxed);
    if (until <= now)
        return 0;
    if (left && (*left == 0 || until - now < *left))
        *left = until - now;
    return 1;
}

int route_next(route_plan *p, uint64_t now_ms, route_attempt *a, uint64_t *wait_ms)
{
    uint64_t shortest = 0;
    int rested = 0;
    if (p->attempts >= p->r->max_attempts || (p->attempts && now_ms >= p->deadline_ms))
        return ROUTE_NEXT_NONE;
    for (; p->at < p->nentries; p->at++, p->tried_keys = 0) {
        const route_model *m = &p->r->models[p->entries[p->at]];
        route_upstream *u = &p->r->ups[m->upstream];
        int key = -1;
        if (u->nkeys == 0 && !p->tried_keys) {
            p->tried_keys = 1;
            key = ROUTE_KEYS_MAX; /* no key: one attempt */
        }
        /* Keys in turn: from the upstream's cursor, the first not tried and not resting. */
        unsigned start = atomic_fetch_add_explicit(&u->turn, 1, memory_order_relaxed);
        for (int i = 0; u->nkeys && i < u->nkeys && key < 0; i++) {
            int k = (int)((start + (unsigned)i) % (unsigned)u->nkeys);
            if (p->tried_keys & (1u << k))
                continue;
            if (resting(&u->keys[k], now_ms, &shortest)) {
                rested = 1;
                continue;
            }
            key = k;
        }
        if (key < 0)
            continue;
        if (key < ROUTE_KEYS_MAX)
            p->tried_keys |= 1u << key;
        p->attempts++;
        a->entry = m;
        a->up = u;
        a->key = key < ROUTE_KEYS_MAX ? &u->keys[key] : NULL;
        a->answer_model = route_answer_name(m, p->asked);
        a->upstream_model = m->model[0] ? m->model : a->answer_model;
        atomic_fetch_add_explicit(&u->attempts, 1, memory_order_relaxed);
        if (a->key)
            atomic_fetch_add_explicit(&a->key->attempts, 1, memory_order_relaxed);
        return ROUTE_NEXT_OK;
    }
    if (rested && wait_ms)
        *wait_ms = shortest;
    return rested ? ROUTE_NEXT_RESTING : ROUTE_NEXT_NONE;
}

int route_more(const route_plan *p)
{
    if (p->attempts >= p->r->max_attempts)
        return 0;
    if (p->at + 1 < p->nentries)
        return 1;
    if (p->at >= p->nentries)
        return 0;
    const route_upstream *u = &p->r->ups[p->r->models[p->entries[p->at]].upstream];
    for (int k = 0; k < u->nkeys; k++)
        if (!(p->tried_keys & (1u << k)))
            return 1;
    return 0;
}

void route_report(const route_attempt *a, long status, long retry_after_s, int failed,
                  uint64_t now_ms)
{
    if (!failed)
        return;
    atomic_fetch_add_explicit(&a->up->failures, 1, memory_order_relaxed);
    if (!a->key)
        return;
    atomic_fetch_add_explicit(&a->key->failures, 1, memory_order_relaxed);
    if (a->up->nkeys < 2)
        return; /* one key: nothing to turn to, every request tries it */
    uint64_t rest = 0;
    if (status == 401 || status == 403)
        rest = ROUTE_REST_AUTH_MS;
    else if (status == 429)
        rest = retry_after_s >= 0 ? (uint64_t)retry_after_s * 1000u : ROUTE_REST_429_MS;
    if (rest > ROUTE_REST_MAX_MS)
        rest = ROUTE_REST_MAX_MS;
    if (rest)
        atomic_store_explicit(&a->key->rest_until_ms, now_ms + rest, memory_order_relaxed);
}

/* ---------- reporting ---------- */

static void label(buf *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            buf_addstr(out, "\\");
        if (*s == '\n')
            buf_addstr(out, "\\n");
        else
            buf_add(out, s, 1);
    }
}

void routes_metrics(const routes *r, uint64_t now_ms, buf *out)
{
    char line[160];
    static const char *const heads[] = {
        "# HELP chatd_upstream_attempts_total Upstream attempts (the first and each fallback).\n"
        "# TYPE chatd_upstream_attempts_total counter\n",
        "# HELP chatd_upstream_failures_total Attempts that failed before the first character.\n"
        "# TYPE chatd_upstream_failures_total counter\n",
        "# HELP chatd_upstream_up Whether the upstream answered its last probe (-1: not yet).\n"
        "# TYPE chatd_upstream_up gauge\n",
        "# HELP chatd_upstream_key_attempts_total Attempts per upstream key (named by its "
        "variable).\n# TYPE chatd_upstream_key_attempts_total counter\n",
        "# HELP chatd_upstream_key_resting Whether the key rests now (after 401, 403 or 429).\n"
        "# TYPE chatd_upstream_key_resting gauge\n",
    };
    for (int h = 0; h < 5; h++) {
        buf_addstr(out, heads[h]);
        for (int i = 0; i < r->nups; i++) {
            const route_upstream *u = &r->ups[i];
            if (h < 3) {
                const char *name = h == 0   ? "chatd_upstream_attempts_total"
                                   : h == 1 ? "chatd_upstream_failures_total"
                                            : "chatd_upstream_up";
                buf_addstr(out, name);
                buf_addstr(out, "{upstream=\"");
                label(out, u->name);
                int st = atomic_load(&u->reachable);
                unsigned long long v =
                    h == 0 ? atomic_load(&u->attempts) : atomic_load(&u->failures);
                if (h == 2)
                    snprintf(line, sizeof(line), "\"} %d\n",
                             st == ROUTE_REACHABLE     ? 1
                             : st == ROUTE_UNREACHABLE ? 0
                                                       : -1);
                else
                    snprintf(line, sizeof(line), "\"} %llu\n", v);
                buf_addstr(out, line);
                continue;
            }
            for (int k = 0; k < u->nkeys; k++) {
                const route_key *key = &u->keys[k];
                buf_addstr(out, h == 3 ? "chatd_upstream_key_attempts_total"
                                       : "chatd_upstream_key_resting");
                buf_addstr(out, "{upstream=\"");
                label(out, u->name);
                snprintf(line, sizeof(line), "\",key=\"%d\",var=\"", k);
                buf_addstr(out, line);
                label(out, key->var);
                if (h == 3)
                    snprintf(line, sizeof(line), "\"} %llu\n",
                             (unsigned long long)atomic_load(&key->attempts));
                else
                    snprintf(line, sizeof(line), "\"} %d\n", resting(key, now_ms, NULL));
                buf_addstr(out, line);
            }
        }
    }
}

void routes_ready_json(const routes *r, uint64_t now_ms, buf *out)
{
    char line[96];
    buf_addstr(out, "{");
    for (int i = 0; i < r->nups; i++) {
        const route_upstream *u = &r->ups[i];
        if (i)
            buf_addstr(out, ",");
        jsonw_str(out, u->name, strlen(u->name));
        int st = atomic_load(&u->reachable);
        buf_addstr(out, st == ROUTE_REACHABLE     ? ":{\"status\":\"reachable\""
                        : st == ROUTE_UNREACHABLE ? ":{\"status\":\"unreachable\""
                                                  : ":{\"status\":\"unknown\"");
        int resting_n = 0;
        for (int k = 0; k < u->nkeys; k++)
            resting_n += resting(&u->keys[k], now_ms, NULL);
        snprintf(line, sizeof(line), ",\"keys\":%d,\"keys_resting\":%d}", u->nkeys, resting_n);
        buf_addstr(out, line);
    }
    buf_addstr(out, "}");
}
