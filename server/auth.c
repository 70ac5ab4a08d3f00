/* auth — see auth.h. */
#include "auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int add_key(auth *a, const char *p, size_t n)
{
    while (n && (*p == ' ' || *p == '\t'))
        p++, n--;
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    if (!n)
        return 0;
    char **k = realloc(a->keys, (a->n + 1) * sizeof(*k));
    if (!k)
        return -1;
    a->keys = k;
    if (!(k[a->n] = strndup(p, n)))
        return -1;
    a->n++;
    return 0;
}

int auth_init(auth *a, const char *list)
{
    memset(a, 0, sizeof(*a));
    for (const char *p = list; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (add_key(a, p, n) < 0) {
            auth_free(a);
            return -1;
        }
        p += n + (comma != NULL);
    }
    return 0;
}

void auth_free(auth *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->keys[i]);
    free(a->keys);
    memset(a, 0, sizeof(*a));
}

/* Compares every byte of the key whatever the guess: no early exit on a mismatch. */
static int same(const char *key, const char *guess, size_t gn)
{
    size_t kn = strlen(key);
    unsigned char diff = (unsigned char)(kn != gn);
    for (size_t i = 0; i < kn; i++)
        diff |= (unsigned char)(key[i] ^ (i < gn ? guess[i] : 0));
    return diff == 0;
}

int auth_check(const auth *a, const char *h)
{
    if (!a->n)
        return 1;
    if (!h || strncasecmp(h, "Bearer ", 7))
        return 0;
    const char *g = h + 7;
    while (*g == ' ')
        g++;
    size_t gn = strlen(g);
    while (gn && (g[gn - 1] == ' ' || g[gn - 1] == '\t'))
        gn--;
    int which = 0;
    for (size_t i = 0; i < a->n; i++)
        if (same(a->keys[i], g, gn) && !which)
            which = (int)i + 1;
    return which;
}

int auth_load_file(auth *a, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[1024];
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof(line), f)) {
        size_t n = strcspn(line, "\r\n");
        if (line[0] != '#')
            rc = add_key(a, line, n);
    }
    fclose(f);
    return rc;
}
