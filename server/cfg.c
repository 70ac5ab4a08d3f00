/* cfg — see cfg.h. Every key is one row of `keys`; loading walks the sources in order
 * (defaults, file, environment, flags) through the same text setter, so a value means the
 * same thing and fails the same way wherever it comes from. */
#include "cfg.h"

#include "lim.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_FILE "config/chatd.json"
#define NAME_MAX_LEN 64 /* env var and flag names built from key names */
#define WHERE_MAX (CFG_PATH_MAX + 96)
#define GOT_MAX 64 /* bytes of a bad value quoted back in an error */

typedef enum { K_STR, K_SECRET, K_URL, K_INT, K_NUM, K_ENUM, K_LISTEN, K_PACE } key_type;

/* Where a key's value came from. */
enum { SRC_DEFAULT, SRC_FILE, SRC_ENV, SRC_FLAG, SRC_PROVIDER, SRC_PROVIDER_ENV, SRC_AUTO };

typedef struct cfg_key {
    const char *name;
    key_type type;
    const char *meta;         /* the value's placeholder in --help */
    const char *sdef;         /* default of a text-valued key */
    long long idef;           /* default of a numeric key */
    long long lo, hi;         /* bounds of a numeric key (and of K_PACE's rate) */
    size_t off, size;         /* the field in cfg; for strings its capacity */
    const char *const *names; /* K_ENUM: the accepted values, NULL-terminated */
    const char *shown;        /* the default as --help shows it, when not the plain value */
    const char *help;
} cfg_key;

static const char *const provider_names[] = {"demo", "openai", "anthropic", "ollama", NULL};
static const char *const http2_names[] = {"auto", "on", "off", NULL};
static const char *const log_names[] = {"error", "warn", "info", "debug", NULL};
static const char *const pace_names[] = {"off", "adaptive", "fixed"};

/* What a provider brings when the user leaves upstream_url, model or the key empty. */
static const struct {
    const char *url, *model, *key_env;
} prov_defaults[] = {
    [CFG_PROVIDER_DEMO] = {"", "chatd-demo", NULL},
    [CFG_PROVIDER_OPENAI] = {"https://api.openai.com/v1", "gpt-4o-mini", "OPENAI_API_KEY"},
    [CFG_PROVIDER_ANTHROPIC] = {"https://api.anthropic.com/v1", "claude-sonnet-4-5",
                                "ANTHROPIC_API_KEY"},
    [CFG_PROVIDER_OLLAMA] = {"http://127.0.0.1:11434", "llama3.2", NULL},
};

/* One row per key, kept as a table for reading. */
// clang-format off
#define FIELD(f) .off = offsetof(cfg, f), .size = sizeof(((cfg *)0)->f)
#define MS(f, def, lo_, hi_, text)                                                          \
    {.name = #f, .type = K_INT, .meta = "MS", .idef = def, .lo = lo_, .hi = hi_,          \
     FIELD(f), .help = text}

static const cfg_key keys[] = {
    {.name = "listen", .type = K_LISTEN, .meta = "HOST:PORT", .sdef = "127.0.0.1:8080",
     FIELD(listen), .help = "address to serve on: an IPv4 address, localhost or [IPv6], and a "
                            "port (0 = any free port)"},
    {.name = "provider", .type = K_ENUM, .meta = "NAME", .idef = CFG_PROVIDER_DEMO,
     FIELD(provider), .names = provider_names, .help = "upstream provider"},
    {.name = "upstream_url", .type = K_URL, .meta = "URL", .sdef = "", FIELD(upstream_url),
     .shown = "the provider's public URL",
     .help = "provider base URL, http:// or https://; empty = the provider's public URL "
             "(demo: the built-in demo server)"},
    {.name = "upstream_api_key", .type = K_SECRET, .meta = "KEY", .sdef = "",
     FIELD(upstream_api_key), .shown = "none",
     .help = "upstream API key, never printed; empty = OPENAI_API_KEY or ANTHROPIC_API_KEY "
             "for those providers"},
    {.name = "model", .type = K_STR, .meta = "NAME", .sdef = "", FIELD(model),
     .shown = "demo chatd-demo, openai gpt-4o-mini, anthropic claude-sonnet-4-5, ollama "
              "llama3.2",
     .help = "model used when a request names none; empty = the provider's default"},
    {.name = "pace", .type = K_PACE, .meta = "off|adaptive|CPS", .sdef = "adaptive", .lo = 1,
     .hi = 100000, .help = "off (each character as soon as it is whole), adaptive, or a fixed "
                           "number of characters per second"},
    {.name = "pace_base_cps", .type = K_NUM, .meta = "CPS", .idef = 80, .lo = 1, .hi = 100000,
     FIELD(pace_base_cps), .help = "adaptive pacing: the readable base rate, characters per "
                                   "second"},
    MS(pace_max_lag_ms, 750, 10, 60000,
       "adaptive pacing: how far the text may lag behind the upstream"),
    {.name = "api_keys", .type = K_SECRET, .meta = "KEY,KEY", .sdef = "", FIELD(api_keys),
     .shown = "empty", .help = "comma-separated keys clients must send as Authorization: "
                               "Bearer; empty = no client auth; never printed"},
    {.name = "web_root", .type = K_STR, .meta = "DIR", .sdef = "", FIELD(web_root),
     .shown = "client-web next to the folder holding the binary",
     .help = "folder of the web UI"},
    MS(resume_grace_ms, 5000, 0, 3600000,
       "how long a vanished client may take to resume before its upstream is cancelled; "
       "0 = at once"),
    MS(stream_retention_ms, 60000, 0, 86400000,
       "how long a finished stream stays resumable"),
    {.name = "redis_url", .type = K_SECRET, .meta = "URL", .sdef = "", FIELD(redis_url),
     .shown = "none",
     .help = "redis://[[user]:password@]host[:port][/db] or unix:///path[?db=N]: share streams, "
             "cancels and limits among replicas; empty = in-process store"},
    {.name = "workers", .type = K_INT, .meta = "N", .idef = 0, .lo = 0, .hi = 256,
     FIELD(workers), .shown = "0 = one per online CPU",
     .help = "worker threads; 0 = one per online CPU"},
    {.name = "max_body_bytes", .type = K_INT, .meta = "BYTES", .idef = LIM_BODY_DEFAULT,
     .lo = 1024, .hi = 67108864, FIELD(max_body_bytes), .help = "largest request body"},
    MS(upstream_connect_timeout_ms, 10000, 1, 600000, "upstream connect timeout"),
    MS(upstream_first_byte_timeout_ms, 60000, 1, 3600000,
       "how long the upstream may take to send its first byte"),
    MS(upstream_idle_timeout_ms, 60000, 1, 3600000,
       "how long the upstream may stay silent mid-stream"),
    {.name = "upstream_http2", .type = K_ENUM, .meta = "auto|on|off", .idef = CFG_H2_AUTO,
     FIELD(upstream_http2), .names = http2_names,
     .help = "HTTP/2 to the upstream, its streams multiplexed on few connections: auto "
             "(https: when the server offers it; http: HTTP/1.1), on (https: HTTP/2; http: "
             "h2c with prior knowledge), off (HTTP/1.1 only)"},
    {.name = "upstream_ca_file", .type = K_STR, .meta = "PATH", .sdef = "",
     FIELD(upstream_ca_file), .shown = "the system's CA certificates",
     .help = "PEM file of the CA certificates an https upstream is verified with (a private "
             "CA); empty = the system's"},
    {.name = "max_streams", .type = K_INT, .meta = "N", .idef = 10000, .lo = 1, .hi = 1000000,
     FIELD(max_streams), .help = "concurrent streams per process; over it: 503 overloaded"},
    MS(shutdown_grace_ms, 5000, 0, 600000,
       "on SIGTERM, how long open streams may finish before they end with error shutdown"),
    {.name = "log_level", .type = K_ENUM, .meta = "LEVEL", .idef = CFG_LOG_INFO,
     FIELD(log_level), .names = log_names, .help = "log verbosity"},
    {.name = "api_keys_file", .type = K_STR, .meta = "PATH", .sdef = "", FIELD(api_keys_file),
     .shown = "none", .help = "file of client keys, one per line (# comments), added to "
                              "api_keys"},
    {.name = "max_streams_total", .type = K_INT, .meta = "N", .idef = 0, .lo = 0, .hi = 100000000,
     FIELD(max_streams_total),
     .help = "concurrent streams of every replica together (counted in Redis with redis_url, "
             "else in this process); over it: 503 overloaded; 0 = no such limit"},
    {.name = "max_streams_per_client", .type = K_INT, .meta = "N", .idef = 0, .lo = 0,
     .hi = 1000000, FIELD(max_streams_per_client),
     .help = "concurrent streams per client key (per IP without keys); over it: 429; "
             "0 = no per-client limit"},
    {.name = "rate_limit_per_minute", .type = K_INT, .meta = "N", .idef = 0, .lo = 0,
     .hi = 1000000, FIELD(rate_limit_per_minute),
     .help = "chat requests per minute per client key or IP (token bucket); 0 = no limit"},
    {.name = "rate_limit_burst", .type = K_INT, .meta = "N", .idef = 10, .lo = 1, .hi = 1000000,
     FIELD(rate_limit_burst), .help = "requests a client may make at once before the rate "
                                      "applies"},
    {.name = "fallback_max_attempts", .type = K_INT, .meta = "N", .idef = 4, .lo = 1, .hi = 16,
     FIELD(fallback_max_attempts),
     .help = "upstream attempts one request may make before its first character (keys, then "
             "fallbacks)"},
    MS(fallback_deadline_ms, 60000, 1, 3600000,
       "how long a request may spend on upstream attempts before its first character"),
    MS(max_stream_duration_ms, 600000, 1000, 86400000,
       "longest an answer may stream; then it ends with error max_duration"),
    MS(request_timeout_ms, 30000, 100, 3600000,
       "a request's headers and body must arrive within this"),
    {.name = "max_header_bytes", .type = K_INT, .meta = "BYTES", .idef = 8192, .lo = 1024,
     .hi = 65536, FIELD(max_header_bytes), .help = "largest request head; over it: 431"},
    {.name = "max_messages", .type = K_INT, .meta = "N", .idef = 1024, .lo = 1, .hi = 100000,
     FIELD(max_messages), .help = "most messages in one request"},
    {.name = "max_message_bytes", .type = K_INT, .meta = "BYTES", .idef = 262144, .lo = 1,
     .hi = 67108864, FIELD(max_message_bytes), .help = "largest content of one message"},
    {.name = "cors_origins", .type = K_STR, .meta = "ORIGIN,ORIGIN", .sdef = "",
     FIELD(cors_origins), .shown = "none (CORS off)",
     .help = "comma-separated origins allowed to call the API from a browser; * = any; "
             "empty = CORS off"},
};
// clang-format on

#define NKEYS (sizeof(keys) / sizeof(keys[0]))
_Static_assert(NKEYS <= CFG_KEYS_MAX, "cfg.src too small for the key table");
_Static_assert(NKEYS <= 64, "json_apply tracks seen keys in 64 bits");
_Static_assert(sizeof(cfg_provider) == sizeof(int) && sizeof(cfg_log_level) == sizeof(int) &&
                   sizeof(cfg_http2) == sizeof(int),
               "enum fields are written as int");

/* ---- errors ---- */

/* The message is one line whatever the input: control characters become '?'. */
static int fail(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errsz, const char *fmt, ...)
{
    if (!err || errsz == 0)
        return -1;
    int n = snprintf(err, errsz, "chatd: config: ");
    if (n > 0 && (size_t)n < errsz) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err + n, errsz - (size_t)n, fmt, ap);
        va_end(ap);
    }
    for (char *p = err; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return -1;
}

/* s in quotes, cut at GOT_MAX bytes on a UTF-8 boundary so errors stay short. */
static const char *quote(const char *s, char *out, size_t outsz)
{
    size_t n = strlen(s), cut = n;
    if (cut > GOT_MAX) {
        cut = GOT_MAX;
        while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
            cut--;
    }
    snprintf(out, outsz, "\"%.*s\"%s", (int)cut, s, cut < n ? "..." : "");
    return out;
}

/* ---- names ---- */

static void env_name(const cfg_key *k, char *out, size_t n)
{
    size_t i = (size_t)snprintf(out, n, "CHATD_");
    for (const char *p = k->name; *p && i + 1 < n; p++)
        out[i++] = (char)toupper((unsigned char)*p);
    out[i] = '\0';
}

static void flag_name(const cfg_key *k, char *out, size_t n)
{
    size_t i = (size_t)snprintf(out, n, "--");
    for (const char *p = k->name; *p && i + 1 < n; p++)
        out[i++] = *p == '_' ? '-' : *p;
    out[i] = '\0';
}

static const cfg_key *key_by_name(const char *s)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (!strcmp(keys[i].name, s))
            return &keys[i];
    return NULL;
}

/* s[0..n) is a key name spelled with '-' for '_'. */
static const cfg_key *key_by_flag(const char *s, size_t n)
{
    for (size_t i = 0; i < NKEYS; i++) {
        const char *k = keys[i].name;
        size_t j = 0;
        while (j < n && k[j] && (k[j] == '_' ? s[j] == '-' : k[j] == s[j]))
            j++;
        if (j == n && !k[j])
            return &keys[i];
    }
    return NULL;
}

static void *field(cfg *c, const cfg_key *k)
{
    return (char *)c + k->off;
}

static const void *cfield(const cfg *c, const cfg_key *k)
{
    return (const char *)c + k->off;
}

/* ---- value parsing ---- */

/* A plain decimal integer, nothing around it. */
static int int_parse(const char *s, long long *out)
{
    char *end;
    if (!isdigit((unsigned char)s[s[0] == '-']))
        return -1;
    errno = 0;
    *out = strtoll(s, &end, 10);
    return (*end || errno == ERANGE) ? -1 : 0;
}

/* A finite decimal number (no hex, inf or nan, which strtod would take). */
static int num_parse(const char *s, double *out)
{
    char *end;
    if (!*s || s[strspn(s, "0123456789.eE+-")])
        return -1;
    *out = strtod(s, &end);
    return (*end || !isfinite(*out)) ? -1 : 0;
}

static int port_parse(const char *s, int *port)
{
    long long v;
    if (strlen(s) > 5 || !isdigit((unsigned char)s[0]) || int_parse(s, &v) < 0 || v > 65535)
        return -1;
    *port = (int)v;
    return 0;
}

/* "host:port" with an IPv4 literal, localhost or a bracketed IPv6 literal. */
static int listen_parse(const char *v, char *host, size_t hostsz, int *port)
{
    const char *colon = strrchr(v, ':');
    unsigned char addr[16];
    if (!colon)
        return -1;
    const char *h = v;
    size_t hn = (size_t)(colon - v);
    int v6 = hn >= 2 && v[0] == '[' && v[hn - 1] == ']';
    if (v6) {
        h++;
        hn -= 2;
    }
    if (hn == 0 || hn >= hostsz)
        return -1;
    memcpy(host, h, hn);
    host[hn] = '\0';
    if (v6 ? inet_pton(AF_INET6, host, addr) != 1
           : strcmp(host, "localhost") && inet_pton(AF_INET, host, addr) != 1)
        return -1;
    return port_parse(colon + 1, port);
}

/* Control characters are refused everywhere: values end up in HTTP headers and logs. */
static int has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

static int url_ok(const char *v)
{
    size_t n = strncmp(v, "https://", 8) == 0 ? 8 : strncmp(v, "http://", 7) == 0 ? 7 : 0;
    return !*v || (n && v[n] && !strchr(v, ' '));
}

/* ---- setting one key from text ---- */

/* "a, b or c" */
static void enum_list(const char *const *names, char *out, size_t n)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; names[i] && len < n; i++) {
        const char *sep = i == 0 ? "" : names[i + 1] ? ", " : " or ";
        len += (size_t)snprintf(out + len, n - len, "%s%s", sep, names[i]);
    }
}

/* What the key accepts, for "expected ..." in errors. v is the rejected text or NULL. */
static void key_expect(const cfg_key *k, const char *v, char *out, size_t n)
{
    double d;
    switch (k->type) {
    case K_STR:
    case K_SECRET:
        snprintf(out, n, "a string of at most %zu bytes without control characters", k->size - 1);
        break;
    case K_URL:
        snprintf(out, n, "empty or an http:// or https:// URL of at most %zu bytes", k->size - 1);
        break;
    case K_INT:
        snprintf(out, n, "an integer from %lld to %lld", k->lo, k->hi);
        break;
    case K_NUM:
        snprintf(out, n, "a number from %lld to %lld", k->lo, k->hi);
        break;
    case K_ENUM:
        enum_list(k->names, out, n);
        break;
    case K_LISTEN:
        snprintf(out, n,
                 "host:port with an IPv4 address, localhost or [IPv6] and a port from "
                 "0 to 65535");
        break;
    case K_PACE:
        snprintf(out, n, "off, adaptive or a number of characters per second%s",
                 v && num_parse(v, &d) == 0 ? " from 1 to 100000" : "");
        break;
    }
}

/* "WHERE: expected ..., got "v"" — a secret's value is never repeated. */
static int bad_value(const cfg_key *k, const char *v, const char *where, char *err, size_t errsz)
{
    char want[256], got[GOT_MAX + 8];
    key_expect(k, v, want, sizeof(want));
    if (k->type == K_SECRET)
        return fail(err, errsz, "%s: expected %s (value not shown)", where, want);
    return fail(err, errsz, "%s: expected %s, got %s", where, want, quote(v, got, sizeof(got)));
}

static int set_str(cfg *c, const cfg_key *k, const char *v)
{
    char *dst = field(c, k);
    size_t n = strlen(v);
    if (n >= k->size || has_ctl(v) || (k->type == K_URL && !url_ok(v)))
        return -1;
    memcpy(dst, v, n + 1);
    while (k->type == K_URL && n > 0 && dst[n - 1] == '/') /* callers append "/path" */
        dst[--n] = '\0';
    return 0;
}

static int set_int(cfg *c, const cfg_key *k, long long v)
{
    if (v < k->lo || v > k->hi)
        return -1;
    *(long *)field(c, k) = (long)v;
    return 0;
}

static int set_enum(cfg *c, const cfg_key *k, const char *v)
{
    for (int i = 0; k->names[i]; i++) {
        if (!strcmp(k->names[i], v)) {
            memcpy(field(c, k), &i, sizeof(i));
            return 0;
        }
    }
    return -1;
}

static int set_listen(cfg *c, const char *v)
{
    char host[CFG_HOST_MAX];
    int port;
    if (strlen(v) >= sizeof(c->listen) || listen_parse(v, host, sizeof(host), &port) < 0)
        return -1;
    strcpy(c->listen, v);
    strcpy(c->listen_host, host);
    c->listen_port = port;
    return 0;
}

static int set_pace(cfg *c, const cfg_key *k, const char *v)
{
    double d = 0;
    cfg_pace_mode m = CFG_PACE_FIXED;
    if (!strcmp(v, "off"))
        m = CFG_PACE_OFF;
    else if (!strcmp(v, "adaptive"))
        m = CFG_PACE_ADAPTIVE;
    else if (num_parse(v, &d) < 0 || d < (double)k->lo || d > (double)k->hi)
        return -1;
    c->pace_mode = m;
    c->pace_cps = d;
    return 0;
}

static int key_set_text(cfg *c, const cfg_key *k, const char *v)
{
    long long i;
    double d;
    switch (k->type) {
    case K_STR:
    case K_SECRET:
    case K_URL:
        return set_str(c, k, v);
    case K_INT:
        return int_parse(v, &i) < 0 ? -1 : set_int(c, k, i);
    case K_NUM:
        if (num_parse(v, &d) < 0 || d < (double)k->lo || d > (double)k->hi)
            return -1;
        *(double *)field(c, k) = d;
        return 0;
    case K_ENUM:
        return set_enum(c, k, v);
    case K_LISTEN:
        return set_listen(c, v);
    case K_PACE:
        return set_pace(c, k, v);
    }
    return -1;
}

static int key_set(cfg *c, const cfg_key *k, const char *v, int src, const char *where, char *err,
                   size_t errsz)
{
    if (key_set_text(c, k, v) < 0)
        return bad_value(k, v, where, err, errsz);
    c->src[k - keys] = (unsigned char)src;
    return 0;
}

/* ---- sources ---- */

static int load_defaults(cfg *c, char *err, size_t errsz)
{
    for (size_t i = 0; i < NKEYS; i++) {
        const cfg_key *k = &keys[i];
        int rc;
        if (k->type == K_INT)
            rc = set_int(c, k, k->idef);
        else if (k->type == K_NUM)
            rc = (*(double *)field(c, k) = (double)k->idef, 0);
        else if (k->type == K_ENUM)
            rc = (memcpy(field(c, k), &(int){(int)k->idef}, sizeof(int)), 0);
        else
            rc = key_set_text(c, k, k->sdef);
        if (rc < 0)
            return fail(err, errsz, "built-in default of %s is invalid", k->name);
    }
    return 0;
}

static const char *env_get(char **envp, const char *name)
{
    size_t n = strlen(name);
    for (; envp && *envp; envp++)
        if (!strncmp(*envp, name, n) && (*envp)[n] == '=')
            return *envp + n + 1;
    return NULL;
}

/* Unknown CHATD_* variables are left alone: tools and test harnesses use the prefix too. */
static int load_env(cfg *c, char **envp, char *err, size_t errsz)
{
    char name[NAME_MAX_LEN];
    for (size_t i = 0; i < NKEYS; i++) {
        env_name(&keys[i], name, sizeof(name));
        const char *v = env_get(envp, name);
        if (v && key_set(c, &keys[i], v, SRC_ENV, name, err, errsz) < 0)
            return -1;
    }
    return 0;
}

static const char *json_type(const cJSON *v)
{
    if (cJSON_IsObject(v))
        return "an object";
    if (cJSON_IsArray(v))
        return "an array";
    if (cJSON_IsBool(v))
        return cJSON_IsTrue(v) ? "true" : "false";
    if (cJSON_IsNull(v))
        return "null";
    return cJSON_IsNumber(v) ? "a number" : "a string";
}

/* Strings go to every text-valued key, numbers to numeric keys and pace; numbers are
 * formatted back to text so they meet the same checks as an env var or a flag. */
static int json_member(cfg *c, const cfg_key *k, const cJSON *v, const char *where, char *err,
                       size_t errsz)
{
    char num[64], want[256];
    int numeric = k->type == K_INT || k->type == K_NUM;
    if (cJSON_IsString(v) && !numeric)
        return key_set(c, k, v->valuestring, SRC_FILE, where, err, errsz);
    if (cJSON_IsNumber(v) && (numeric || k->type == K_PACE)) {
        snprintf(num, sizeof(num), "%.15g", v->valuedouble);
        return key_set(c, k, num, SRC_FILE, where, err, errsz);
    }
    key_expect(k, NULL, want, sizeof(want));
    return fail(err, errsz, "%s: expected %s, got %s", where, want, json_type(v));
}

static int json_apply(cfg *c, const cJSON *root, const char *path, char *err, size_t errsz)
{
    char where[WHERE_MAX + NAME_MAX_LEN], got[GOT_MAX + 8];
    uint64_t seen = 0;
    if (!cJSON_IsObject(root))
        return fail(err, errsz, "%s: expected a JSON object of settings", path);
    for (const cJSON *it = root->child; it; it = it->next) {
        if (!strcmp(it->string, "upstreams") || !strcmp(it->string, "models"))
            continue; /* the model map: route.c reads it */
        const cfg_key *k = key_by_name(it->string);
        if (!k)
            return fail(err, errsz, "%s: unknown key %s", path,
                        quote(it->string, got, sizeof(got)));
        uint64_t bit = (uint64_t)1 << (k - keys);
        if (seen & bit)
            return fail(err, errsz, "%s: %s: duplicate key", path, k->name);
        seen |= bit;
        snprintf(where, sizeof(where), "%s: %s", path, k->name);
        if (json_member(c, k, it, where, err, errsz) < 0)
            return -1;
    }
    return 0;
}

/* Reads at most CFG_FILE_MAX bytes into a NUL-terminated heap buffer. */
static char *file_read(FILE *fp, size_t *len)
{
    char *text = malloc(CFG_FILE_MAX + 1);
    if (!text)
        return NULL;
    *len = fread(text, 1, CFG_FILE_MAX + 1, fp);
    text[*len <= CFG_FILE_MAX ? *len : CFG_FILE_MAX] = '\0';
    return text;
}

static size_t line_of(const char *text, const char *pos)
{
    size_t line = 1;
    for (const char *p = text; p < pos && *p; p++)
        line += *p == '\n';
    return line;
}

/* who names the file in errors: the path, or "--config path" when it was asked for. */
static int file_load(cfg *c, FILE *fp, const char *who, char *err, size_t errsz)
{
    size_t len = 0;
    const char *end = NULL;
    cJSON *root = NULL;
    int rc = -1;
    char *text = file_read(fp, &len);
    if (!text)
        fail(err, errsz, "%s: out of memory", who);
    else if (ferror(fp))
        fail(err, errsz, "%s: cannot read: %s", who, strerror(errno));
    else if (len > CFG_FILE_MAX)
        fail(err, errsz, "%s: larger than %u bytes", who, CFG_FILE_MAX);
    else if (memchr(text, '\0', len))
        fail(err, errsz, "%s: not valid JSON (contains a NUL byte)", who);
    else if (!(root = cJSON_ParseWithLengthOpts(text, len + 1, &end, 1))) /* + its NUL */
        fail(err, errsz, "%s: not valid JSON (line %zu)", who, line_of(text, end));
    else
        rc = json_apply(c, root, who, err, errsz);
    cJSON_Delete(root);
    free(text);
    return rc;
}

/* An explicit --config must exist; the default file is read only when present. */
static int load_file(cfg *c, const char *path, char *err, size_t errsz)
{
    char who[WHERE_MAX];
    int explicit = path != NULL;
    if (!explicit)
        path = DEFAULT_FILE;
    if (strlen(path) >= sizeof(c->config_path))
        return fail(err, errsz, "--config: path longer than %d bytes", CFG_PATH_MAX - 1);
    snprintf(who, sizeof(who), "%s%s", explicit ? "--config " : "", path);
    FILE *fp = fopen(path, "rb");
    if (!fp && !explicit && errno == ENOENT)
        return 0;
    if (!fp)
        return fail(err, errsz, "%s: cannot read: %s", who, strerror(errno));
    strcpy(c->config_path, path);
    int rc = file_load(c, fp, who, err, errsz);
    fclose(fp);
    return rc;
}

/* ---- command line ---- */

enum { ARG_HELP, ARG_CONFIG, ARG_KEY, ARG_UNKNOWN, ARG_POSITIONAL };

typedef struct arg {
    int kind;
    const char *text;   /* the argument as given */
    size_t namelen;     /* of text, up to '=' */
    const cfg_key *key; /* ARG_KEY */
    const char *val;    /* ARG_KEY, ARG_CONFIG; NULL: missing */
} arg;

/* Reads the argument at argv[*i] and, for a flag taking a value, the value (after '=' or
 * the next argument); advances *i past both. */
static void arg_next(int argc, char **argv, int *i, arg *a)
{
    const char *s = argv[(*i)++];
    memset(a, 0, sizeof(*a));
    a->text = s;
    a->namelen = strcspn(s, "=");
    if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
        a->kind = ARG_HELP;
        return;
    }
    if (strncmp(s, "--", 2) != 0 || a->namelen == 2) {
        a->kind = ARG_POSITIONAL;
        return;
    }
    if (a->namelen == 8 && !strncmp(s, "--config", 8))
        a->kind = ARG_CONFIG;
    else if ((a->key = key_by_flag(s + 2, a->namelen - 2)))
        a->kind = ARG_KEY;
    else {
        a->kind = ARG_UNKNOWN;
        return;
    }
    if (s[a->namelen] == '=')
        a->val = s + a->namelen + 1;
    else if (*i < argc)
        a->val = argv[(*i)++];
}

/* First pass: only --help and --config matter; errors wait for the second pass. */
static int args_scan(int argc, char **argv, const char **config)
{
    arg a;
    for (int i = 1; i < argc;) {
        arg_next(argc, argv, &i, &a);
        if (a.kind == ARG_HELP)
            return 1;
        if (a.kind == ARG_CONFIG && a.val)
            *config = a.val;
    }
    return 0;
}

static int args_apply(cfg *c, int argc, char **argv, char *err, size_t errsz)
{
    char where[NAME_MAX_LEN];
    arg a;
    for (int i = 1; i < argc;) {
        arg_next(argc, argv, &i, &a);
        if (a.kind == ARG_POSITIONAL)
            return fail(err, errsz, "unexpected argument \"%.64s\" (see --help)", a.text);
        if (a.kind == ARG_UNKNOWN)
            return fail(err, errsz, "%.*s: unknown flag (see --help)", (int)a.namelen, a.text);
        if ((a.kind == ARG_CONFIG || a.kind == ARG_KEY) && !a.val)
            return fail(err, errsz, "%.*s: missing value", (int)a.namelen, a.text);
        if (a.kind != ARG_KEY)
            continue;
        flag_name(a.key, where, sizeof(where));
        if (key_set(c, a.key, a.val, SRC_FLAG, where, err, errsz) < 0)
            return -1;
    }
    return 0;
}

static void usage(FILE *f)
{
    char env[NAME_MAX_LEN], flag[NAME_MAX_LEN];
    fprintf(f, "usage: chatd [--config PATH] [--KEY VALUE | --KEY=VALUE]...\n\n"
               "Settings, later wins: built-in defaults < JSON file < environment < flags.\n\n"
               "  --config PATH\n"
               "      JSON file of settings (default: " DEFAULT_FILE " when present)\n");
    for (size_t i = 0; i < NKEYS; i++) {
        const cfg_key *k = &keys[i];
        env_name(k, env, sizeof(env));
        flag_name(k, flag, sizeof(flag));
        fprintf(f, "  %s %s  (%s; default ", flag, k->meta, env);
        if (k->shown)
            fputs(k->shown, f);
        else if (k->type == K_ENUM)
            fputs(k->names[k->idef], f);
        else if (k->type == K_INT || k->type == K_NUM)
            fprintf(f, "%lld", k->idef);
        else
            fputs(k->sdef, f);
        fprintf(f, ")\n      %s", k->help);
        if (k->type == K_INT || k->type == K_NUM || k->type == K_PACE)
            fprintf(f, " (%lld to %lld)", k->lo, k->hi);
        if (k->type == K_ENUM)
            for (size_t j = 0; k->names[j]; j++)
                fprintf(f, "%s%s", j ? ", " : ": ", k->names[j]);
        fputc('\n', f);
    }
    fprintf(f, "  -h, --help\n      print this help and exit\n");
}

/* ---- values that depend on others ---- */

static void set_derived(cfg *c, const char *name, const char *v, int src)
{
    const cfg_key *k = key_by_name(name);
    snprintf(field(c, k), k->size, "%s", v);
    c->src[k - keys] = (unsigned char)src;
}

/* The CPUs this process may really use: its affinity mask (cpusets), further capped by a
 * cgroup v2 CPU quota ("max" or "QUOTA PERIOD" in cpu.max), as containers set them. */
static long usable_cpus(void)
{
    cpu_set_t set;
    long n = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set)
                                                          : sysconf(_SC_NPROCESSORS_ONLN);
    FILE *f = fopen("/sys/fs/cgroup/cpu.max", "r");
    long long quota, period;
    if (f && fscanf(f, "%lld %lld", &quota, &period) == 2 && quota > 0 && period > 0) {
        long q = (long)((quota + period - 1) / period);
        if (q < n)
            n = q;
    }
    if (f)
        fclose(f);
    return n;
}

/* The client-web folder beside the one holding the binary (build/chatd -> client-web). */
static void default_web_root(cfg *c)
{
    char exe[CFG_PATH_MAX], path[CFG_PATH_MAX + 16];
    char *root = NULL;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    char *slash = n > 0 ? memrchr(exe, '/', (size_t)n) : NULL;
    if (slash) {
        *slash = '\0';
        snprintf(path, sizeof(path), "%s/../client-web", exe);
        root = realpath(path, NULL);
    }
    set_derived(c, "web_root", root ? root : "client-web", SRC_AUTO);
    free(root);
}

/* Per-provider defaults fill what every source left empty. */
static int apply_derived(cfg *c, char **envp, char *err, size_t errsz)
{
    const char *key_env = prov_defaults[c->provider].key_env;
    const char *v;
    if (!c->upstream_url[0] && prov_defaults[c->provider].url[0])
        set_derived(c, "upstream_url", prov_defaults[c->provider].url, SRC_PROVIDER);
    if (!c->model[0])
        set_derived(c, "model", prov_defaults[c->provider].model, SRC_PROVIDER);
    if (!c->upstream_api_key[0] && key_env && (v = env_get(envp, key_env)) && *v) {
        if (strlen(v) >= sizeof(c->upstream_api_key) || has_ctl(v))
            return bad_value(key_by_name("upstream_api_key"), v, key_env, err, errsz);
        set_derived(c, "upstream_api_key", v, SRC_PROVIDER_ENV);
    }
    if (!c->web_root[0])
        default_web_root(c);
    if (c->workers == 0) {
        long n = usable_cpus();
        c->workers = n < 1 ? 1 : n > 256 ? 256 : n;
        c->src[key_by_name("workers") - keys] = SRC_AUTO;
    }
    return 0;
}

int cfg_load(cfg *c, int argc, char **argv, char **envp, char *err, size_t errsz)
{
    const char *config = NULL;
    if (err && errsz)
        err[0] = '\0';
    memset(c, 0, sizeof(*c));
    if (load_defaults(c, err, errsz) < 0)
        return -1;
    if (args_scan(argc, argv, &config)) {
        usage(stdout);
        return 1;
    }
    if (load_file(c, config, err, errsz) < 0 || load_env(c, envp, err, errsz) < 0 ||
        args_apply(c, argc, argv, err, errsz) < 0 || apply_derived(c, envp, err, errsz) < 0)
        return -1;
    return 0;
}

/* ---- printing ---- */

static void print_value(const cfg *c, const cfg_key *k, FILE *f)
{
    const char *s = cfield(c, k);
    int e;
    switch (k->type) {
    case K_SECRET:
        fputs(s[0] ? "(set, redacted)" : "(unset)", f);
        break;
    case K_STR:
    case K_URL:
    case K_LISTEN:
        fputs(s[0] ? s : "\"\"", f);
        break;
    case K_INT:
        fprintf(f, "%ld", *(const long *)s);
        break;
    case K_NUM:
        fprintf(f, "%g", *(const double *)s);
        break;
    case K_ENUM:
        memcpy(&e, s, sizeof(e));
        fputs(k->names[e], f);
        break;
    case K_PACE:
        if (c->pace_mode == CFG_PACE_FIXED)
            fprintf(f, "%g", c->pace_cps);
        else
            fputs(cfg_pace_name(c), f);
        break;
    }
}

static void print_source(const cfg *c, const cfg_key *k, FILE *f)
{
    char name[NAME_MAX_LEN];
    switch (c->src[k - keys]) {
    case SRC_FILE:
        fprintf(f, "file %s", c->config_path);
        break;
    case SRC_ENV:
        env_name(k, name, sizeof(name));
        fprintf(f, "env %s", name);
        break;
    case SRC_FLAG:
        flag_name(k, name, sizeof(name));
        fprintf(f, "flag %s", name);
        break;
    case SRC_PROVIDER:
        fprintf(f, "default for %s", cfg_provider_name(c));
        break;
    case SRC_PROVIDER_ENV:
        fprintf(f, "env %s", prov_defaults[c->provider].key_env);
        break;
    case SRC_AUTO:
        fputs("auto", f);
        break;
    default:
        fputs("default", f);
    }
}

int cfg_explicit(const cfg *c, const char *name)
{
    const cfg_key *k = key_by_name(name);
    if (!k)
        return 0;
    int src = c->src[k - keys];
    return src == SRC_FILE || src == SRC_ENV || src == SRC_FLAG;
}

void cfg_print(const cfg *c, FILE *f)
{
    fprintf(f, "config = %s\n", c->config_path[0] ? c->config_path : "(none)");
    for (size_t i = 0; i < NKEYS; i++) {
        fprintf(f, "%s = ", keys[i].name);
        print_value(c, &keys[i], f);
        fputs(" (", f);
        print_source(c, &keys[i], f);
        fputs(")\n", f);
    }
}

const char *cfg_pace_name(const cfg *c)
{
    return pace_names[c->pace_mode];
}

const char *cfg_provider_name(const cfg *c)
{
    return provider_names[c->provider];
}
