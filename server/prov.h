/* prov — an upstream provider: how to build its request and how to read its stream.
 * Each provider is one module (prov_openai.c, ...) exporting one const prov; what those
 * modules share (JSON look-ups, request building, error reasons) is in prov.c.
 * The stream reader is incremental: bytes arrive in any split; what it understands is
 * reported through the sink's callbacks, in order. A callback returning non-zero stops
 * the feed and that value is returned. */
#ifndef CHATD_PROV_H
#define CHATD_PROV_H

#include <stdarg.h>
#include <stddef.h>

struct cJSON;
struct curl_slist;
struct chat_req;

typedef struct prov_sink {
    void *ctx;
    int (*text)(void *ctx, const char *p, size_t n);      /* answer text, UTF-8 as sent */
    int (*reasoning)(void *ctx, const char *p, size_t n); /* thinking text, UTF-8 as sent */
    int (*finish)(void *ctx, const char *reason);         /* normalised: stop, length, ... */
    int (*usage)(void *ctx, long prompt_tokens, long completion_tokens);
    int (*error)(void *ctx, const char *type, const char *message); /* reported mid-stream */
    int (*end)(void *ctx);                                /* the explicit end marker */
    /* A tool call starts: index counts the answer's tool calls from 0, whatever the
     * provider numbers its blocks; id and name as the upstream sent them. */
    int (*tool)(void *ctx, int index, const char *id, const char *name);
    /* A fragment of call index's arguments (JSON text, UTF-8 as sent; may be empty). */
    int (*tool_args)(void *ctx, int index, const char *p, size_t n);
} prov_sink;

typedef struct prov_stream prov_stream; /* a provider's parse state, opaque */

/* What a request to the provider needs; everything heap-allocated belongs to the caller. */
typedef struct prov_http {
    char *url;                  /* full URL */
    struct curl_slist *headers; /* includes auth and content type */
    char *body;                 /* JSON, NUL-terminated */
} prov_http;

enum { PROV_BUILD_NOMEM = -1, PROV_BUILD_UNSUPPORTED = -2, PROV_BUILD_INVALID = -3 };

/* Errors from feed/finish (besides a sink callback's own non-zero value). */
enum { PROV_ERR_PARSE = -1, PROV_ERR_TOO_LONG = -2, PROV_ERR_NOMEM = -3 };

typedef struct prov {
    const char *name;
    const char *default_url;
    const char *default_model;
    /* The upstream request for req: 0, or PROV_BUILD_NOMEM (no memory, or a key that
     * cannot be sent), PROV_BUILD_UNSUPPORTED (a field this provider has no equivalent
     * for) or PROV_BUILD_INVALID (a field chatd cannot translate as given), with a
     * one-line reason naming the field in err. model is never NULL here. */
    int (*build)(const struct chat_req *req, const char *base_url, const char *api_key,
                 const char *model, prov_http *out, char *err, size_t errsz);
    prov_stream *(*open)(void);
    int (*feed)(prov_stream *s, const char *p, size_t n, const prov_sink *sink);
    int (*finish)(prov_stream *s, const prov_sink *sink); /* the upstream body ended */
    void (*close)(prov_stream *s);
    /* A short human reason from an upstream error body (may be empty); never longer
     * than outsz-1 bytes. */
    void (*error_reason)(const char *body, size_t n, char *out, size_t outsz);
} prov;

void prov_http_free(prov_http *h);

/* ---- for the provider modules ---- */

/* A client's field name made safe for a one-line reason: control bytes as '?', cut to
 * n-1 bytes (n >= 1) between UTF-8 sequences, never inside one (nor ending in a cut one). */
#define PROV_FIELD_NAME_MAX 64
void prov_field_name(char *out, size_t n, const char *name);

/* A one-line reason formatted from fmt into out[n] as prov_field_name makes a name safe
 * (the names and paths in it come from the client); formatted text past 511 bytes is cut. */
void prov_vreason(char *out, size_t n, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* o[key] = v, which is taken: 0, or PROV_BUILD_NOMEM with v deleted when v is NULL or
 * cannot be added (no memory). prov_push likewise appends v to the array arr. */
int prov_put(struct cJSON *o, const char *key, struct cJSON *v);
int prov_push(struct cJSON *arr, struct cJSON *v);

/* Where a provider's requests go and which headers they carry, for prov_build_http. */
typedef struct prov_endpoint {
    const char *path;           /* appended to the base URL, e.g. "/chat/completions" */
    const char *const *headers; /* fixed header lines, NULL-terminated */
    const char *key_header;     /* the api key follows this, e.g. "x-api-key: " */
} prov_endpoint;

/* Fills out (zeroed first): base_url without trailing slashes plus e->path, body (taken;
 * NULL: no memory), e's headers. 0, or -1 with out emptied (no memory, or a key holding
 * control characters: a CR or LF would let it write headers of its own). */
int prov_build_http(prov_http *out, const prov_endpoint *e, const char *base_url,
                    const char *api_key, char *body);

/* The body OpenAI-style APIs take: model, the messages as they are, then what add_options
 * adds; malloc'd JSON, or NULL (no memory). */
char *prov_chat_body(const struct chat_req *req, const char *model,
                     int (*add_options)(struct cJSON *o, const struct chat_req *req));

/* o[key] when o is an object, else NULL. */
const struct cJSON *prov_get(const struct cJSON *o, const char *key);

/* s's value when s is a non-empty string, else NULL. */
const char *prov_nonempty(const struct cJSON *s);

/* A token count, or -1 when absent or not a sane count. */
long prov_tokens(const struct cJSON *n);

/* s[0..n) as exactly one JSON value (cJSON alone accepts trailing bytes), or NULL. */
struct cJSON *prov_parse_exact(const char *s, size_t n);

/* fn(ctx, s, strlen(s)) when there are both a callback and a string, else 0. */
int prov_report_text(int (*fn)(void *ctx, const char *p, size_t n), void *ctx, const char *s);

/* Picks the message out of a provider's JSON error body; NULL when it has none. */
typedef const char *(*prov_reason_fn)(const struct cJSON *root);

/* An error_reason: what pick finds in the body, else the body itself, as one line of
 * at most outsz-1 bytes (see prov.error_reason). */
void prov_error_reason(const char *body, size_t n, prov_reason_fn pick, char *out, size_t outsz);

/* Reports a mid-stream error to k->error (0 without one): type and the reason pick finds
 * in data, or "upstream error" when there is none. */
int prov_report_error(const prov_sink *k, const char *type, const char *data, size_t n,
                      prov_reason_fn pick);

#endif
