/* router — libmicrohttpd's entry points for one worker: method + path -> handler;
 * request framing and size checks, CORS, auth, admission (the server's stream cap, the
 * client's limits), request bodies (streamed into a capped buffer of our own), the
 * slow-request watchdog and the access log. It starts chats and makes the readers that
 * answer them; responses go out through resp. */
#ifndef CHATD_ROUTER_H
#define CHATD_ROUTER_H

#include <microhttpd.h>
#include <stdint.h>

#include "buf.h"
#include "chat.h"
#include "env.h"
#include "metrics.h"
#include "reader.h"
#include "repl.h"

typedef struct router router;

/* The worker's services the router uses. */
typedef struct router_host {
    const chatd_env *env;
    int idx;                          /* the worker's index, for the log */
    chat_set *chats;
    reader_set *readers;
    metrics *m;
    const int *stopping;              /* the worker is stopping: refuse new chats */
    int (*render_metrics)(buf *out);  /* every worker's metrics, summed */
    repl *const *repl;                /* the worker's link to Redis (NULL: in-process only;
                                         it goes NULL before the daemons stop) */
    uint32_t *mhd_due;                /* a bit per shard that MHD_run must visit */
} router_host;

router *router_new(const router_host *h);
void router_free(router *rt);

/* libmicrohttpd callbacks; their cls is the router. */
enum MHD_Result router_on_request(void *cls, struct MHD_Connection *mc, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls);
void router_on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                         enum MHD_RequestTerminationCode toe);
void *router_on_uri(void *cls, const char *uri, struct MHD_Connection *mc);
void router_on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
                          enum MHD_ConnectionNotificationCode code);
/* Closes connections whose request did not arrive whole within request_timeout_ms of
 * the connection opening or of its previous response (slow-loris). */
void router_watchdog(router *rt, uint64_t now);

#endif
