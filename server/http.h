/* http — libmicrohttpd's entry points: routing, request bodies (streamed into a capped
 * buffer of our own), the contract's JSON error responses and common headers. */
#ifndef CHATD_HTTP_H
#define CHATD_HTTP_H

#include <microhttpd.h>
#include <stdint.h>

/* Which API a request came in on: it decides the shape of error bodies. */
typedef enum { API_NATIVE, API_OPENAI } http_api;

enum MHD_Result http_on_request(void *cls, struct MHD_Connection *mc, const char *url,
                                const char *method, const char *version, const char *upload,
                                size_t *upload_size, void **con_cls);
void http_on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                       enum MHD_RequestTerminationCode toe);
/* Queues {"error":{"type":..,"message":..}} with status; extra header (name, value) or NULL. */
enum MHD_Result http_error(struct MHD_Connection *mc, unsigned status, const char *type,
                           const char *msg, const char *hname, const char *hvalue);
/* The same in the request's API's shape: OpenAI's {"error":{"message","type","param","code"}}. */
enum MHD_Result http_fail(struct MHD_Connection *mc, http_api api, unsigned status, const char *type,
                          const char *msg, const char *hname, const char *hvalue);
/* Queues r with the headers every response carries (X-Request-Id). */
enum MHD_Result http_queue(struct MHD_Connection *mc, unsigned status, struct MHD_Response *r);
/* The id of the request being handled on this thread (for the upstream request). */
const char *http_request_id(void);
void *http_on_uri(void *cls, const char *uri, struct MHD_Connection *mc);
void http_on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
                        enum MHD_ConnectionNotificationCode code);
/* Closes connections whose request did not arrive whole within request_timeout_ms of
 * the connection opening or of its previous response (slow-loris). */
void http_watchdog(void *worker, uint64_t now);
enum MHD_Result http_json(struct MHD_Connection *mc, unsigned status, const char *json, size_t n);

#endif
