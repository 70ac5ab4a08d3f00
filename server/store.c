/* store — see store.h. Open addressing would need tombstones; chaining keeps delete
 * simple. The table doubles when it is 3/4 full. */
#include "store.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    stream *s;
    struct entry *next;
} entry;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static entry **table;
static size_t nbuckets, count;

static uint64_t hash(const char *id)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a: ids are random already */
    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 1099511628211ull;
    return h;
}

int store_init(void)
{
    pthread_mutex_lock(&mu);
    if (!table) {
        nbuckets = 1024;
        table = calloc(nbuckets, sizeof(*table));
    }
    int rc = table ? 0 : -1;
    pthread_mutex_unlock(&mu);
    return rc;
}

void store_free(void)
{
    pthread_mutex_lock(&mu);
    for (size_t i = 0; table && i < nbuckets; i++) {
        for (entry *e = table[i], *next; e; e = next) {
            next = e->next;
            stream_unref(e->s);
            free(e);
        }
    }
    free(table);
    table = NULL;
    nbuckets = count = 0;
    pthread_mutex_unlock(&mu);
}

static void grow(void)
{
    size_t n = nbuckets * 2;
    entry **t = calloc(n, sizeof(*t));
    if (!t)
        return; /* a fuller table still works */
    for (size_t i = 0; i < nbuckets; i++) {
        for (entry *e = table[i], *next; e; e = next) {
            next = e->next;
            size_t b = hash(e->s->id) & (n - 1);
            e->next = t[b];
            t[b] = e;
        }
    }
    free(table);
    table = t;
    nbuckets = n;
}

int store_put(stream *s)
{
    entry *e = malloc(sizeof(*e));
    if (!e)
        return -1;
    stream_ref(s);
    e->s = s;
    pthread_mutex_lock(&mu);
    if (count + 1 > nbuckets / 4 * 3)
        grow();
    size_t b = hash(s->id) & (nbuckets - 1);
    e->next = table[b];
    table[b] = e;
    count++;
    pthread_mutex_unlock(&mu);
    return 0;
}

stream *store_get(const char *id)
{
    stream *found = NULL;
    pthread_mutex_lock(&mu);
    for (entry *e = table ? table[hash(id) & (nbuckets - 1)] : NULL; e; e = e->next) {
        if (!strcmp(e->s->id, id)) {
            found = e->s;
            stream_ref(found);
            break;
        }
    }
    pthread_mutex_unlock(&mu);
    return found;
}

void store_del(stream *s)
{
    entry *gone = NULL;
    pthread_mutex_lock(&mu);
    for (entry **pp = table ? &table[hash(s->id) & (nbuckets - 1)] : NULL; pp && *pp; pp = &(*pp)->next) {
        if ((*pp)->s == s) {
            gone = *pp;
            *pp = gone->next;
            count--;
            break;
        }
    }
    pthread_mutex_unlock(&mu);
    if (gone) {
        stream_unref(gone->s);
        free(gone);
    }
}

int store_count(void)
{
    pthread_mutex_lock(&mu);
    int n = (int)count;
    pthread_mutex_unlock(&mu);
    return n;
}
