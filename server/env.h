/* env — what every worker shares, read-only once the workers run: the configuration,
 * the provider in force and its base URL, pacing, client keys, the web root and the
 * listening address. main fills it in; everything else only reads it. */
#ifndef CHATD_ENV_H
#define CHATD_ENV_H

#include <sys/socket.h>

#include "auth.h"
#include "cfg.h"
#include "pace.h"
#include "prov.h"

typedef struct chatd_env {
    const cfg *cfg;
    const prov *prov;
    const char *upstream_url; /* the provider base URL in force (the demo's when demo) */
    pace_cfg pace;
    auth auth;                /* client keys */
    char web_root_real[4096]; /* realpath of cfg->web_root; empty: no UI */
    struct sockaddr_storage addr;
    socklen_t addrlen;
} chatd_env;

#endif
