/* auth — client API keys (`Authorization: Bearer KEY`): the list is parsed once at start
 * from the comma-separated setting and owned by the auth; checks run in time that does
 * not depend on where a guess first differs from a key. */
#ifndef CHATD_AUTH_H
#define CHATD_AUTH_H

#include <stddef.h>

typedef struct auth {
    char **keys;
    size_t n;
} auth;

int auth_init(auth *a, const char *comma_list); /* 0, or -1 (no memory) */
void auth_free(auth *a);
static inline int auth_enabled(const auth *a) { return a->n > 0; }
/* Which key the header carries: its index + 1; 0 when none matches. With no keys
 * configured every request passes as key 1... no: returns 1. */
int auth_check(const auth *a, const char *authorization);
/* Adds the keys of a file, one per line; blank lines and lines starting with # are
 * skipped. 0, or -1 (unreadable: errno set). */
int auth_load_file(auth *a, const char *path);

#endif
