/* resp — the responses every answering module queues through libmicrohttpd: the headers
 * every response carries (X-Request-Id, CORS for an admitted Origin), JSON bodies, and
 * the contract's JSON errors in the shape of the API the request came in on. The router
 * says which request is being answered on this thread (resp_begin/resp_end); nothing
 * here keeps state across requests. */
#ifndef CHATD_RESP_H
#define CHATD_RESP_H

#include <microhttpd.h>

/* Which API a request came in on: it decides the shape of error bodies. */
typedef enum { API_NATIVE, API_OPENAI, API_ANTHROPIC } api_kind;

typedef struct resp_ctx {
    const char *request_id; /* X-Request-Id */
    const char *cors;       /* the request's Origin when the allow-list admits it, or NULL */
} resp_ctx;

void resp_begin(const resp_ctx *ctx); /* this thread answers ctx's request until resp_end */
void resp_end(void);

/* Queues r with the headers every response carries. */
enum MHD_Result resp_queue(struct MHD_Connection *mc, unsigned status, struct MHD_Response *r);
/* application/json, not cached. */
enum MHD_Result resp_json(struct MHD_Connection *mc, unsigned status, const char *json, size_t n);
/* {"error":{"type":..,"message":..}} (native), OpenAI's {"error":{"message","type",
 * "param","code"}} or Anthropic's {"type":"error","error":{"type","message"}}, with status
 * and one extra header (name, value) or NULL. */
enum MHD_Result resp_error(struct MHD_Connection *mc, api_kind api, unsigned status,
                           const char *type, const char *msg, const char *hname,
                           const char *hvalue);

#endif
