/* cfg — chatd's configuration. One table of keys (name, type, default, bounds) drives the
 * JSON file, the CHATD_* environment, the command-line flags, --help and cfg_print alike.
 * A cfg is plain data: strings live in fixed-size arrays, nothing is heap-owned. */
#ifndef CHATD_CFG_H
#define CHATD_CFG_H

#include <stddef.h>
#include <stdio.h>

/* String capacities, NUL included; a longer value is a config error naming the key. */
#define CFG_LISTEN_MAX 320
#define CFG_HOST_MAX 256
#define CFG_URL_MAX 2048
#define CFG_SECRET_MAX 1024
#define CFG_MODEL_MAX 256
#define CFG_KEYLIST_MAX 8192 /* api_keys */
#define CFG_PATH_MAX 4096
#define CFG_FILE_MAX (1u << 20) /* largest JSON config file read */
#define CFG_KEYS_MAX 64         /* room for the key table's per-key sources */

typedef enum {
    CFG_PROVIDER_DEMO,
    CFG_PROVIDER_OPENAI,
    CFG_PROVIDER_ANTHROPIC,
    CFG_PROVIDER_OLLAMA
} cfg_provider;

typedef enum { CFG_PACE_OFF, CFG_PACE_ADAPTIVE, CFG_PACE_FIXED } cfg_pace_mode;

typedef enum { CFG_LOG_ERROR, CFG_LOG_WARN, CFG_LOG_INFO, CFG_LOG_DEBUG } cfg_log_level;

/* HTTP/2 to the upstream: auto (https: when the server offers it; http: HTTP/1.1), on
 * (https: HTTP/2; http: h2c with prior knowledge), off (HTTP/1.1). */
typedef enum { CFG_H2_AUTO, CFG_H2_ON, CFG_H2_OFF } cfg_http2;

typedef struct cfg {
    char listen[CFG_LISTEN_MAX];    /* as given, e.g. "[::1]:8080" */
    char listen_host[CFG_HOST_MAX]; /* IPv4 literal, "localhost" or IPv6 without brackets */
    int listen_port;                /* 0: any free port */
    cfg_provider provider;
    char upstream_url[CFG_URL_MAX]; /* no trailing '/'; empty only for demo: built-in server */
    char upstream_api_key[CFG_SECRET_MAX]; /* secret; may be empty */
    char model[CFG_MODEL_MAX];             /* never empty after cfg_load */
    cfg_pace_mode pace_mode;
    double pace_cps;                /* CFG_PACE_FIXED: characters per second */
    double pace_base_cps;           /* CFG_PACE_ADAPTIVE: readable base rate */
    long pace_max_lag_ms;           /* CFG_PACE_ADAPTIVE: bound on lag behind upstream */
    char api_keys[CFG_KEYLIST_MAX]; /* secret; comma-separated; empty: no client auth */
    char web_root[CFG_PATH_MAX];
    long resume_grace_ms;
    long stream_retention_ms;
    char redis_url[CFG_URL_MAX];    /* secret (it may hold a password); empty: in-process store */
    long workers; /* resolved: >= 1 after cfg_load */
    long max_body_bytes;
    long upstream_connect_timeout_ms;
    long upstream_first_byte_timeout_ms;
    long upstream_idle_timeout_ms;
    cfg_http2 upstream_http2;
    char upstream_ca_file[CFG_PATH_MAX]; /* CA certificates for https upstreams; "": system's */
    long max_streams;
    long max_streams_total;         /* all replicas together (this process alone without Redis); 0: none */
    long shutdown_grace_ms;
    cfg_log_level log_level;
    char api_keys_file[CFG_PATH_MAX];
    long max_streams_per_client;
    long rate_limit_per_minute;
    long rate_limit_burst;
    long fallback_max_attempts;     /* upstream attempts before the first character */
    long fallback_deadline_ms;      /* and the time they may take together */
    long max_stream_duration_ms;
    long request_timeout_ms;
    long max_header_bytes;
    long max_messages;
    long max_message_bytes;
    char cors_origins[CFG_KEYLIST_MAX];
    char config_path[CFG_PATH_MAX];  /* the JSON file read, or empty */
    unsigned char src[CFG_KEYS_MAX]; /* where each key's value came from, for cfg_print */
} cfg;

/* Fills c from defaults < JSON file < envp (CHATD_*) < argv flags, then applies the
 * per-provider defaults. envp is a NULL-terminated "NAME=value" array (may be NULL).
 * Returns 0; 1 when --help was printed to stdout (the caller exits 0); -1 with a one-line
 * message in err (the caller exits 2). Secrets never appear in err. */
int cfg_load(cfg *c, int argc, char **argv, char **envp, char *err, size_t errsz);

/* The effective config, one "name = value (source)" line per key; secrets are shown as
 * "(set, redacted)" or "(unset)". */
void cfg_print(const cfg *c, FILE *f);

/* Whether key name was set by the file, the environment or a flag (not a default). */
int cfg_explicit(const cfg *c, const char *name);

const char *cfg_pace_name(const cfg *c);     /* "off", "adaptive" or "fixed" */
const char *cfg_provider_name(const cfg *c); /* "demo", "openai", "anthropic" or "ollama" */

#endif
