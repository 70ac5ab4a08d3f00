/* store_mem — the in-process store: every stream in this process's memory, found by id
 * through one hash table behind one mutex (touched on create, find and expire, never per
 * character), each stream's log behind a mutex of its own that no other file sees.
 *
 * The log keeps the characters, not encoded events (3-5 bytes a character instead of
 * ~40): cluster bytes back to back, a 16-bit length each, and the byte offset of every
 * 64th cluster, so a read at any event id costs at most 63 additions (resume, any
 * follower). Lock order: a stream's mutex, then a follower's scheduler (notify). The
 * table's mutex is never held with a stream's. */
#include "store_mem.h"
#include "store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lim.h"
#include "loop.h"
#include "utf8.h"

#define CKPT_EVERY 64

struct stream {
    stream_info info; /* fixed at creation */
    atomic_int refs;
    pthread_mutex_t mu; /* guards everything below */
    stream_phase phase;
    buf text;       /* cluster bytes */
    buf lens;       /* uint16_t a cluster */
    buf ckpt;       /* uint32_t: byte offset of cluster (k+1) * CKPT_EVERY */
    uint64_t count; /* clusters */
    int has_term;
    stream_term term; /* has_term: how it ended; FAILED_EARLY: why */
    int cancel_req;
    stream_sub *subs; /* the readers following */
    int nreaders;
    uint64_t alone_since_ms; /* when nreaders last became 0 */
    stream_sub *owner;
    struct stream *hnext;        /* the table's chain (table mutex) */
    int kept;                    /* in the table (table mutex) */
    void *ext;                   /* a store built on this one: fixed at creation */
    void (*ext_free)(void *ext); /* runs with the last reference */
};

#define LOCK(s) pthread_mutex_lock(&(s)->mu)
#define UNLOCK(s) pthread_mutex_unlock(&(s)->mu)

/* ---------- the table ---------- */

static pthread_mutex_t table_mu = PTHREAD_MUTEX_INITIALIZER;
static stream **table;
static size_t nbuckets, nkept;

static uint64_t hash(const char *id)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a: ids are random already */
    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 1099511628211ull;
    return h;
}

static int mem_init(void)
{
    pthread_mutex_lock(&table_mu);
    if (!table) {
        nbuckets = 1024;
        table = calloc(nbuckets, sizeof(*table));
    }
    int rc = table ? 0 : -1;
    pthread_mutex_unlock(&table_mu);
    return rc;
}

static void mem_unref(stream *s);

static void mem_shutdown(void)
{
    pthread_mutex_lock(&table_mu);
    stream **t = table;
    size_t n = nbuckets;
    table = NULL;
    nbuckets = nkept = 0;
    pthread_mutex_unlock(&table_mu);
    for (size_t i = 0; t && i < n; i++) {
        for (stream *s = t[i], *next; s; s = next) {
            next = s->hnext;
            s->kept = 0;
            mem_unref(s);
        }
    }
    free(t);
}

/* Doubles the table at 3/4 full (table mutex held); a fuller table still works. */
static void grow(void)
{
    size_t n = nbuckets * 2;
    stream **t = calloc(n, sizeof(*t));
    if (!t)
        return;
    for (size_t i = 0; i < nbuckets; i++) {
        for (stream *s = table[i], *next; s; s = next) {
            next = s->hnext;
            size_t b = hash(s->info.id) & (n - 1);
            s->hnext = t[b];
            t[b] = s;
        }
    }
    free(table);
    table = t;
    nbuckets = n;
}

static int keep(stream *s)
{
    pthread_mutex_lock(&table_mu);
    int ok = table != NULL;
    if (ok) {
        if (nkept + 1 > nbuckets / 4 * 3)
            grow();
        size_t b = hash(s->info.id) & (nbuckets - 1);
        s->hnext = table[b];
        table[b] = s;
        s->kept = 1;
        nkept++;
    }
    pthread_mutex_unlock(&table_mu);
    return ok ? 0 : -1;
}

static stream *mem_find(const char *id)
{
    stream *found = NULL;
    pthread_mutex_lock(&table_mu);
    for (stream *s = table ? table[hash(id) & (nbuckets - 1)] : NULL; s; s = s->hnext) {
        if (!strcmp(s->info.id, id)) {
            found = s;
            atomic_fetch_add(&s->refs, 1);
            break;
        }
    }
    pthread_mutex_unlock(&table_mu);
    return found;
}

static void mem_expire(stream *s)
{
    int dropped = 0;
    pthread_mutex_lock(&table_mu);
    for (stream **pp = table && s->kept ? &table[hash(s->info.id) & (nbuckets - 1)] : NULL;
         pp && *pp; pp = &(*pp)->hnext) {
        if (*pp == s) {
            *pp = s->hnext;
            s->kept = 0;
            nkept--;
            dropped = 1;
            break;
        }
    }
    pthread_mutex_unlock(&table_mu);
    if (dropped)
        mem_unref(s); /* the table's reference */
}

static int mem_count(void)
{
    pthread_mutex_lock(&table_mu);
    int n = (int)nkept;
    pthread_mutex_unlock(&table_mu);
    return n;
}

/* ---------- a stream's life ---------- */

stream *store_mem_create_ext(const stream_info *info, void *ext, void (*ext_free)(void *))
{
    stream *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    utf8_copy(s->info.id, sizeof(s->info.id), info->id);
    utf8_copy(s->info.model, sizeof(s->info.model), info->model);
    s->info.owner = info->owner;
    s->info.created = info->created ? info->created : (long)time(NULL);
    s->ext = ext;
    s->ext_free = ext_free;
    atomic_init(&s->refs, 2); /* the caller's and the table's */
    pthread_mutex_init(&s->mu, NULL);
    buf_init(&s->text, LIM_LOG_TEXT);
    buf_init(&s->lens, LIM_LOG_TEXT);
    buf_init(&s->ckpt, LIM_LOG_TEXT / CKPT_EVERY * sizeof(uint32_t) + sizeof(uint32_t));
    s->alone_since_ms = loop_now_ms();
    if (keep(s) < 0) {
        s->ext_free = NULL; /* the caller keeps ext when creation fails */
        atomic_store(&s->refs, 1);
        mem_unref(s);
        return NULL;
    }
    return s;
}

void *store_mem_ext(const stream *s)
{
    return s->ext;
}

static stream *mem_create(const char *id, const char *model, int owner)
{
    stream_info info = {.owner = owner};
    utf8_copy(info.id, sizeof(info.id), id);
    utf8_copy(info.model, sizeof(info.model), model);
    return store_mem_create_ext(&info, NULL, NULL);
}

static void mem_ref(stream *s)
{
    atomic_fetch_add(&s->refs, 1);
}

static void mem_unref(stream *s)
{
    if (atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    if (s->ext_free)
        s->ext_free(s->ext);
    buf_free(&s->text);
    buf_free(&s->lens);
    buf_free(&s->ckpt);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static const stream_info *mem_info(stream *s)
{
    return &s->info;
}

static void mem_retitle(stream *s, const char *model)
{
    utf8_copy(s->info.model, sizeof(s->info.model), model);
}

/* mu held: every reader has news. */
static void notify_readers(stream *s)
{
    for (stream_sub *r = s->subs; r; r = r->next)
        r->notify(r);
}

static void notify_owner(stream *s)
{
    if (s->owner)
        s->owner->notify(s->owner);
}

static void mem_start(stream *s)
{
    LOCK(s);
    if (s->phase == STREAM_WAITING) {
        s->phase = STREAM_STARTED;
        notify_readers(s);
    }
    UNLOCK(s);
}

static void mem_fail_early(stream *s, const stream_term *why)
{
    LOCK(s);
    if (s->phase == STREAM_WAITING) {
        s->phase = STREAM_FAILED_EARLY;
        s->term = *why; /* has_term stays 0: nothing can be read after it */
        notify_readers(s);
    }
    UNLOCK(s);
}

static const uint16_t *lens_of(const stream *s)
{
    return (const uint16_t *)(const void *)buf_ptr(&s->lens);
}

/* mu held: one cluster joins the log. */
static int push(stream *s, const char *p, uint16_t len)
{
    size_t n = len & STREAM_LEN_MASK;
    if (s->count && s->count % CKPT_EVERY == 0) { /* cluster 0 is at 0: not kept */
        uint32_t off = (uint32_t)buf_len(&s->text);
        if (buf_add(&s->ckpt, &off, sizeof(off)) < 0)
            return -1;
    }
    if (buf_add(&s->text, p, n) < 0 || buf_add(&s->lens, &len, sizeof(len)) < 0)
        return -1;
    s->count++;
    return 0;
}

static int mem_append(stream *s, const stream_batch *b)
{
    int rc = 0;
    LOCK(s);
    if (s->has_term || s->phase != STREAM_STARTED) {
        UNLOCK(s);
        return 0; /* the first end wins; nothing follows it */
    }
    size_t bytes = 0;
    for (size_t i = 0; i < b->n; i++)
        bytes += b->lens[i] & STREAM_LEN_MASK;
    if (buf_len(&s->text) + bytes > LIM_LOG_TEXT ||
        buf_len(&s->lens) + b->n * sizeof(uint16_t) > LIM_LOG_TEXT) {
        s->has_term = 1;
        memset(&s->term, 0, sizeof(s->term));
        s->term.kind = STREAM_TERM_ERROR;
        snprintf(s->term.type, sizeof(s->term.type), "internal_error");
        snprintf(s->term.msg, sizeof(s->term.msg),
                 "the answer is longer than chatd keeps per stream");
        rc = -1;
    } else {
        const char *p = b->text;
        for (size_t i = 0; i < b->n && rc == 0; i++) {
            rc = push(s, p, b->lens[i]);
            p += b->lens[i] & STREAM_LEN_MASK;
        }
        if (b->term && rc == 0) {
            s->has_term = 1;
            s->term = *b->term;
        }
    }
    if (b->n || s->has_term)
        notify_readers(s);
    UNLOCK(s);
    return rc;
}

/* mu held: byte offset of cluster i (i <= count). */
static size_t offset_of(const stream *s, uint64_t i)
{
    if (i == s->count)
        return buf_len(&s->text);
    const uint32_t *ck = (const uint32_t *)(const void *)buf_ptr(&s->ckpt);
    const uint16_t *l = lens_of(s);
    size_t off = i >= CKPT_EVERY ? ck[i / CKPT_EVERY - 1] : 0;
    for (uint64_t k = i / CKPT_EVERY * CKPT_EVERY; k < i; k++)
        off += l[k] & STREAM_LEN_MASK;
    return off;
}

static int mem_read(stream *s, stream_sub *sub, uint64_t next_id, size_t max_clusters,
                    size_t max_bytes, stream_chunk *out)
{
    int rc = 0;
    LOCK(s);
    out->phase = s->phase;
    if (s->phase == STREAM_FAILED_EARLY)
        out->early = s->term;
    /* A client can only have seen events that exist: a later id is not one of ours. */
    uint64_t max_next = s->has_term ? s->count + 2 : s->count + 1;
    uint64_t first = next_id ? next_id : 1;
    out->first_id = first;
    out->n = 0;
    out->has_term = 0;
    if (next_id > max_next) {
        rc = -1;
    } else if (first - 1 <= s->count) {
        uint64_t i = first - 1;
        const uint16_t *l = lens_of(s);
        size_t off = offset_of(s, i), bytes = 0;
        uint64_t end = i;
        while (end < s->count && end - i < max_clusters &&
               (end == i || bytes + (l[end] & STREAM_LEN_MASK) <= max_bytes))
            bytes += l[end++] & STREAM_LEN_MASK;
        out->n = (size_t)(end - i);
        if (buf_add(&out->text, buf_ptr(&s->text) + off, bytes) < 0 ||
            buf_add(&out->lens, l + i, out->n * sizeof(uint16_t)) < 0) {
            out->n = 0;
            rc = -1;
        } else {
            out->has_term = s->has_term && end == s->count;
            if (out->has_term)
                out->term = s->term;
            if (sub && end > sub->taken)
                sub->taken = end;
        }
    }
    UNLOCK(s);
    return rc;
}

static int64_t mem_last_id(stream *s)
{
    LOCK(s);
    int64_t id = s->has_term ? (int64_t)s->count + 1 : -1;
    UNLOCK(s);
    return id;
}

static void mem_follow(stream *s, stream_sub *sub)
{
    LOCK(s);
    sub->prev = NULL;
    sub->next = s->subs;
    if (s->subs)
        s->subs->prev = sub;
    s->subs = sub;
    s->nreaders++;
    UNLOCK(s);
}

static void mem_unfollow(stream *s, stream_sub *sub)
{
    LOCK(s);
    if (sub->prev)
        sub->prev->next = sub->next;
    else if (s->subs == sub)
        s->subs = sub->next;
    if (sub->next)
        sub->next->prev = sub->prev;
    sub->next = sub->prev = NULL;
    sub->live = 0;
    if (--s->nreaders == 0) {
        s->alone_since_ms = loop_now_ms();
        /* Only a stream still running needs its owner to look now (grace, cancel). */
        if (!s->has_term && s->phase != STREAM_FAILED_EARLY)
            notify_owner(s);
    }
    UNLOCK(s);
}

static void mem_set_live(stream *s, stream_sub *sub, int live)
{
    LOCK(s);
    sub->live = live;
    UNLOCK(s);
}

static int mem_lag(stream *s, uint64_t *worst)
{
    int live = 0;
    *worst = 0;
    LOCK(s);
    for (stream_sub *r = s->subs; r; r = r->next) {
        if (!r->live)
            continue;
        live++;
        if (s->count > r->taken && s->count - r->taken > *worst)
            *worst = s->count - r->taken;
    }
    UNLOCK(s);
    return live;
}

static int mem_readers(stream *s, uint64_t *alone_since_ms)
{
    LOCK(s);
    int n = s->nreaders;
    if (alone_since_ms)
        *alone_since_ms = s->alone_since_ms;
    UNLOCK(s);
    return n;
}

static void mem_own(stream *s, stream_sub *owner)
{
    LOCK(s);
    s->owner = owner;
    UNLOCK(s);
}

static void mem_disown(stream *s)
{
    LOCK(s);
    s->owner = NULL;
    UNLOCK(s);
}

static void mem_cancel(stream *s)
{
    LOCK(s);
    s->cancel_req = 1;
    notify_owner(s);
    UNLOCK(s);
}

static int mem_cancel_requested(stream *s)
{
    LOCK(s);
    int c = s->cancel_req;
    UNLOCK(s);
    return c;
}

const store_ops store_mem_ops = {
    .name = "memory",
    .init = mem_init,
    .shutdown = mem_shutdown,
    .create = mem_create,
    .find = mem_find,
    .ref = mem_ref,
    .unref = mem_unref,
    .info = mem_info,
    .start = mem_start,
    .retitle = mem_retitle,
    .fail_early = mem_fail_early,
    .append = mem_append,
    .read = mem_read,
    .last_id = mem_last_id,
    .follow = mem_follow,
    .unfollow = mem_unfollow,
    .set_live = mem_set_live,
    .lag = mem_lag,
    .readers = mem_readers,
    .own = mem_own,
    .disown = mem_disown,
    .cancel = mem_cancel,
    .cancel_requested = mem_cancel_requested,
    .expire = mem_expire,
    .count = mem_count,
};
