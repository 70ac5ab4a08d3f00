/* prov — an upstream provider: how to build its request and how to read its stream.
 * Each provider is one module (prov_openai.c, ...) exporting one const prov.
 * The stream reader is incremental: bytes arrive in any split; what it understands is
 * reported through the sink's callbacks, in order. A callback returning non-zero stops
 * the feed and that value is returned. */
#ifndef CHATD_PROV_H
#define CHATD_PROV_H

#include <stddef.h>

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
} prov_sink;

typedef struct prov_stream prov_stream; /* a provider's parse state, opaque */

/* What a request to the provider needs; everything heap-allocated belongs to the caller. */
typedef struct prov_http {
    char *url;                  /* full URL */
    struct curl_slist *headers; /* includes auth and content type */
    char *body;                 /* JSON, NUL-terminated */
} prov_http;

/* Errors from feed/finish (besides a sink callback's own non-zero value). */
enum { PROV_ERR_PARSE = -1, PROV_ERR_TOO_LONG = -2, PROV_ERR_NOMEM = -3 };

typedef struct prov {
    const char *name;
    const char *default_url;
    const char *default_model;
    /* 0, or -1 (no memory). model is never NULL here. */
    int (*build)(const struct chat_req *req, const char *base_url, const char *api_key,
                 const char *model, prov_http *out);
    prov_stream *(*open)(void);
    int (*feed)(prov_stream *s, const char *p, size_t n, const prov_sink *sink);
    int (*finish)(prov_stream *s, const prov_sink *sink); /* the upstream body ended */
    void (*close)(prov_stream *s);
    /* A short human reason from an upstream error body (may be empty); never longer
     * than outsz-1 bytes. */
    void (*error_reason)(const char *body, size_t n, char *out, size_t outsz);
} prov;

void prov_http_free(prov_http *h);

#endif
