/* quota — see quota.h. An entry lives while its client has streams open or tokens to
 * earn back; idle, full entries are dropped as they are met, so the table stays small. */
#include "quota.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUOTA_BUCKETS 4096
#define QUOTA_ENTRIES_MAX 1000000

typedef struct entry {
    char client[QUOTA_CLIENT_MAX];
    long streams;
    double tokens;
    uint64_t last_ms;
    struct entry *next;
} entry;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static entry *table[QUOTA_BUCKETS];
static long max_streams, per_min, burst;
static int nentries, max_entries = QUOTA_ENTRIES_MAX;

int quota_init(long streams, long rate_per_min, long burst_)
{
    max_streams = streams;
    per_min = rate_per_min;
    burst = burst_;
    return 0;
}

void quota_set_max_clients(int n)
{
    pthread_mutex_lock(&mu);
    max_entries = n;
    pthread_mutex_unlock(&mu);
}

void quota_free(void)
{
    pthread_mutex_lock(&mu);
    for (int i = 0; i < QUOTA_BUCKETS; i++) {
        for (entry *e = table[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
        table[i] = NULL;
    }
    nentries = 0;
    pthread_mutex_unlock(&mu);
}

static unsigned bucket(const char *c)
{
    unsigned h = 2166136261u;
    for (; *c; c++)
        h = (h ^ (unsigned char)*c) * 16777619u;
    return h % QUOTA_BUCKETS;
}

/* Tokens earned since the last look, up to the burst. */
static void refill(entry *e, uint64_t now)
{
    if (per_min <= 0)
        return;
    double earned = (double)(now > e->last_ms ? now - e->last_ms : 0) * (double)per_min / 60000.0;
    e->tokens = e->tokens + earned > (double)burst ? (double)burst : e->tokens + earned;
    if (now > e->last_ms)
        e->last_ms = now;
}

/* Nothing to remember: no stream open and a full bucket. */
static int idle(const entry *e)
{
    return e->streams == 0 && (per_min <= 0 || e->tokens >= (double)burst);
}

/* Finds the client's entry, dropping idle ones met on the way; creates it if asked. */
static entry *find(const char *client, uint64_t now, int create)
{
    entry **pp = &table[bucket(client)];
    while (*pp) {
        entry *e = *pp;
        if (!strcmp(e->client, client))
            return e;
        refill(e, now);
        if (idle(e)) {
            *pp = e->next;
            free(e);
            nentries--;
            continue;
        }
        pp = &e->next;
    }
    if (!create || nentries >= max_entries)
        return NULL;
    entry *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    snprintf(e->client, sizeof(e->client), "%s", client);
    e->tokens = (double)burst;
    e->last_ms = now;
    e->next = table[bucket(client)];
    table[bucket(client)] = e;
    nentries++;
    return e;
}

/* With no limit set there is nothing to count: no lock, no table. */
static int off(void)
{
    return max_streams <= 0 && per_min <= 0;
}

int quota_admit(const char *client, uint64_t now, int *retry_after_s)
{
    int rc = QUOTA_OK;
    if (off())
        return QUOTA_OK;
    pthread_mutex_lock(&mu);
    entry *e = find(client, now, 1);
    if (!e) {
        rc = QUOTA_FULL;
        goto out;
    }
    refill(e, now);
    if (max_streams > 0 && e->streams >= max_streams) {
        rc = QUOTA_STREAMS;
        *retry_after_s = 1;
        goto out;
    }
    if (per_min > 0 && e->tokens < 1.0) {
        rc = QUOTA_RATE;
        /* The whole seconds until a token is back, rounded up: a wait of exactly one
         * second says 1, not 2. */
        double wait_ms = (1.0 - e->tokens) * 60000.0 / (double)per_min;
        int secs = (int)ceil(wait_ms / 1000.0);
        *retry_after_s = secs < 1 ? 1 : secs;
        goto out;
    }
    if (per_min > 0)
        e->tokens -= 1.0;
    e->streams++;
out:
    pthread_mutex_unlock(&mu);
    return rc;
}

void quota_release(const char *client, uint64_t now)
{
    if (off())
        return;
    pthread_mutex_lock(&mu);
    entry *e = find(client, now, 0);
    if (e && e->streams > 0)
        e->streams--;
    pthread_mutex_unlock(&mu);
}

int quota_clients(void)
{
    pthread_mutex_lock(&mu);
    int n = nentries;
    pthread_mutex_unlock(&mu);
    return n;
}
