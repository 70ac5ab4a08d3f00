/* rconn_url — where a Redis server is: parses CHATD_REDIS_URL-style addresses into host and
 * port or a unix socket path, credentials and database number, with a one-line error for
 * anything else. A leaf: no I/O, no allocation; every field has a fixed cap. */
#ifndef CHATD_RCONN_URL_H
#define CHATD_RCONN_URL_H

#include <stddef.h>

#define RCONN_URL_HOST_MAX 255 /* a DNS name's longest */
#define RCONN_URL_PATH_MAX 107 /* sockaddr_un.sun_path less its NUL */
#define RCONN_URL_USER_MAX 255
#define RCONN_URL_PASS_MAX 511
#define RCONN_URL_PORT_DEFAULT 6379

typedef struct rconn_url {
    int is_unix;                       /* 1: path is a unix socket; host and port unused */
    char host[RCONN_URL_HOST_MAX + 1]; /* a name or an address (IPv6 without brackets) */
    int port;                          /* 1..65535 */
    char path[RCONN_URL_PATH_MAX + 1];
    char user[RCONN_URL_USER_MAX + 1]; /* empty: AUTH with the password alone */
    char pass[RCONN_URL_PASS_MAX + 1]; /* empty: no AUTH */
    int db;                            /* 0: no SELECT */
} rconn_url;

/* Accepted, with %XX escapes decoded in user, password and path:
 *   redis://[[user]:password@]host[:port][/db]      host may be [an:ipv6::address]
 *   unix:///path/to/sock[?db=N]                     also redis+unix://
 * 0 and *out filled, or -1 with a one-line reason in err (out is then zeroed). */
int rconn_url_parse(const char *s, rconn_url *out, char *err, size_t errsz);

#endif
