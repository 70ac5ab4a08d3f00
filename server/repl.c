/* repl — see repl.h.
 *
 * Ownership: a rec is a stream's extension in store_mem (store_mem_create_ext) and is
 * freed with the stream's last reference. The repl holds a reference of its own while the
 * rec is listed (owned or mirrored here), waits in the dirty list, or names it in a command
 * in flight (inflight); settle() drops it when none of the three holds. A mirror still
 * loading has no stream yet: the repl frees it itself once its lookup is answered.
 * Every rec field is touched by the repl's thread only, but for the remote reader count. */
#include "repl.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "lim.h"
#include "rconn.h"
#include "rlog.h"
#include "store_mem.h"
#include "utf8.h"

/* ---------- the scripts (one round trip each, keys of one stream only) ---------- */

/* KEYS own meta log cancel rd; ARGV replica lease_ms running_ttl_ms.
 * Renews the lease and the running TTL; answers {cancel requested, replicas reading}. */
static const char RENEW[] =
    "redis.call('set',KEYS[1],ARGV[1],'px',ARGV[2])\n"
    "redis.call('pexpire',KEYS[2],ARGV[3]) redis.call('pexpire',KEYS[3],ARGV[3])\n"
    "local t=redis.call('time') local now=tonumber(t[1])*1000+math.floor(tonumber(t[2])/1000)\n"
    "redis.call('zremrangebyscore',KEYS[5],'-inf',now)\n"
    "return {redis.call('exists',KEYS[4]),redis.call('zcard',KEYS[5])}";

/* RENEW, and the stream's meta first (ARGV[4] model, ARGV[5] created): one round trip. */
static const char CREATE[] =
    "redis.call('hset',KEYS[2],'model',ARGV[4],'created',ARGV[5],'replica',ARGV[1])\n"
    "redis.call('set',KEYS[1],ARGV[1],'px',ARGV[2])\n"
    "redis.call('pexpire',KEYS[2],ARGV[3]) redis.call('pexpire',KEYS[3],ARGV[3])\n"
    "local t=redis.call('time') local now=tonumber(t[1])*1000+math.floor(tonumber(t[2])/1000)\n"
    "redis.call('zremrangebyscore',KEYS[5],'-inf',now)\n"
    "return {redis.call('exists',KEYS[4]),redis.call('zcard',KEYS[5])}";

/* KEYS meta log own rd cancel; ARGV retention_ms. The terminal entry is in. */
static const char FINISH[] =
    "redis.call('hset',KEYS[1],'end','1')\n"
    "redis.call('pexpire',KEYS[1],ARGV[1]) redis.call('pexpire',KEYS[2],ARGV[1])\n"
    "redis.call('del',KEYS[3],KEYS[4]) redis.call('pexpire',KEYS[5],ARGV[1]) return 1";

/* KEYS meta cancel; ARGV ttl_ms. 0: no such stream; 1: cancelling; 2: it had ended. */
static const char CANCEL[] = "if redis.call('exists',KEYS[1])==0 then return 0 end\n"
                             "redis.call('set',KEYS[2],'1','px',ARGV[1])\n"
                             "if redis.call('hget',KEYS[1],'end') then return 2 end return 1";

/* KEYS rd; ARGV member lapse_ms ttl_ms. This replica reads the stream for a while yet. */
static const char PRESENT[] =
    "local t=redis.call('time') local now=tonumber(t[1])*1000+math.floor(tonumber(t[2])/1000)\n"
    "redis.call('zadd',KEYS[1],now+tonumber(ARGV[2]),ARGV[1])\n"
    "redis.call('pexpire',KEYS[1],ARGV[3]) return 1";

/* KEYS rate conc [all]; ARGV slot lease_ms per_min burst max_client max_total.
 * {0,0} admitted (a token taken, the slot held); {1,1} the client's streams are at the
 * cap; {2,secs} out of tokens; {3,1} all streams are at the cap. */
static const char ADMIT[] =
    "local t=redis.call('time') local now=tonumber(t[1])*1000+math.floor(tonumber(t[2])/1000)\n"
    "local lease=tonumber(ARGV[2]) local per=tonumber(ARGV[3]) local burst=tonumber(ARGV[4])\n"
    "local maxc=tonumber(ARGV[5]) local maxt=tonumber(ARGV[6])\n"
    "if maxt>0 then redis.call('zremrangebyscore',KEYS[3],'-inf',now)\n"
    " if redis.call('zcard',KEYS[3])>=maxt then return {3,1} end end\n"
    "if maxc>0 then redis.call('zremrangebyscore',KEYS[2],'-inf',now)\n"
    " if redis.call('zcard',KEYS[2])>=maxc then return {1,1} end end\n"
    "if per>0 then\n"
    " local v=redis.call('hmget',KEYS[1],'t','ts')\n"
    " local tok=tonumber(v[1]) or burst local ts=tonumber(v[2]) or now\n"
    " if now>ts then tok=math.min(burst,tok+(now-ts)*per/60000) end\n"
    " if tok<1 then local s=math.ceil((1-tok)*60000/per/1000) if s<1 then s=1 end return {2,s} "
    "end\n"
    " redis.call('hset',KEYS[1],'t',tostring(tok-1),'ts',tostring(math.max(now,ts)))\n"
    " redis.call('pexpire',KEYS[1],math.ceil(burst*60000/per)+60000)\n"
    "end\n"
    "if maxc>0 then redis.call('zadd',KEYS[2],now+lease,ARGV[1]) "
    "redis.call('pexpire',KEYS[2],lease*4) end\n"
    "if maxt>0 then redis.call('zadd',KEYS[3],now+lease,ARGV[1]) "
    "redis.call('pexpire',KEYS[3],lease*4) end\n"
    "return {0,0}";

/* KEYS conc [all]; ARGV slot lease_ms. The stream holding the slot is alive. */
static const char HOLD[] =
    "local t=redis.call('time') local now=tonumber(t[1])*1000+math.floor(tonumber(t[2])/1000)\n"
    "for i=1,#KEYS do redis.call('zadd',KEYS[i],'xx',now+tonumber(ARGV[2]),ARGV[1])\n"
    " redis.call('pexpire',KEYS[i],tonumber(ARGV[2])*4) end return 1";

/* ---------- state ---------- */

static struct {
    int on;
    rconn_url url;
    char replica[REPL_REPLICA_MAX + 1];
    long retention_ms;
    long running_ttl_ms; /* a stream being produced: its keys outlive a dead owner this long */
    repl_limits lim;
} G;

#define REPLS_MAX 256
/* What other threads read of each worker's repl (/readyz, /metrics): kept here, never
 * freed, so that a worker stopping cannot pull it from under a reader. */
static struct {
    atomic_int used;
    atomic_int ready; /* the command link is up (as of the worker's last pass) */
    rconn_stats cmd, ctl, fol;
} slots[REPLS_MAX];
static _Thread_local repl *cur;

enum { REC_OWN, REC_MIRROR };

typedef struct waiter {
    repl_found_fn fn;
    void *ud;
    struct waiter *next;
} waiter;

typedef struct rec {
    int kind;
    repl *r;
    stream *s; /* NULL while a mirror loads */
    char id[STREAM_ID_LEN + 1];
    int listed;              /* in r->owned or r->mirrors */
    int dirty;               /* in r->dirty */
    int inflight;            /* commands in flight naming it */
    struct rec *next, *prev; /* r->owned or r->mirrors */
    struct rec *dnext;       /* r->dirty */
    /* produced here */
    int created, ended, finished; /* meta and lease sent; terminal sent; FINISH sent */
    uint64_t sent_next;           /* the next event id to send (0: the start) */
    uint64_t renew_at_ms;
    int renewing;
    atomic_int remote_readers;
    _Atomic uint64_t remote_since_ms;
    char client_tag[40]; /* the concurrency slot it holds (slot[0]: none) */
    char slot[REPL_SLOT_MAX];
    uint64_t hold_at_ms;
    /* mirrored here */
    uint64_t want;           /* the next event id it needs (0: the start) */
    int done;                /* ended (terminal event, early failure, owner lost) */
    int absent, unavailable; /* what a lookup found */
    stream_info *info;       /* while loading */
    waiter *waiters;
    uint64_t news_ms, check_at_ms, present_at_ms;
    int misses, checking, present;
} rec;

struct repl {
    loop *l;
    int idx;
    rconn *cmd, *ctl, *fol; /* the owner's writes; lookups, admissions and cancels (never
                               queued behind a pass's writes); XREAD BLOCK */
    unsigned long long cmd_connects, fol_connects;
    rec *owned, *mirrors, *loading, *dirty;
    /* the follower: XREAD BLOCK over every mirror still running (and, on worker 0, the
     * cancel notices) */
    int xread_inflight, follow_changed, cid_state, cancels_state;
    long long fol_cid;
    char cancels_after[48];
    int unblock_inflight;
    stream_chunk ch;
    rlog_cmd xc;
    buf lens16;
    char member[REPL_REPLICA_MAX + 8]; /* replica:worker, for the readers' set */
};

enum { ASK_NONE, ASK_SENT, ASK_KNOWN };

/* ---------- setup ---------- */

int repl_setup(const rconn_url *url, const char *replica, long retention_ms)
{
    G.url = *url;
    utf8_copy(G.replica, sizeof(G.replica), replica);
    G.retention_ms = retention_ms > 0 ? retention_ms : 1;
    G.running_ttl_ms = retention_ms + 120000;
    G.on = 1;
    return 0;
}

int repl_enabled(void)
{
    return G.on;
}

void repl_set_limits(const repl_limits *l)
{
    G.lim = *l;
}

int repl_limits_on(void)
{
    return G.on && (G.lim.per_client > 0 || G.lim.total > 0 || G.lim.rate_per_min > 0);
}

void repl_bind(repl *r)
{
    cur = r;
}

repl *repl_current(void)
{
    return cur;
}

repl *repl_new(loop *l, int idx)
{
    if (idx < 0 || idx >= REPLS_MAX)
        return NULL;
    repl *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->l = l;
    r->idx = idx;
    /* The scripts go out by their SHA-1 (EVALSHA): a few bytes instead of their text. */
    static const char *const scripts[] = {RENEW,   CREATE, FINISH, CANCEL,
                                          PRESENT, ADMIT,  HOLD,   NULL};
    rconn_opts co = {.max_inflight = 8192, .scripts = scripts, .stats = &slots[idx].cmd};
    rconn_opts fo = {
        .max_inflight = 4, .reply_timeout_ms = REPL_BLOCK_MS + 3000, .stats = &slots[idx].fol};
    rconn_opts ko = {.max_inflight = 4096, .scripts = scripts, .stats = &slots[idx].ctl};
    r->cmd = rconn_new(l, &G.url, &co);
    r->ctl = rconn_new(l, &G.url, &ko);
    r->fol = rconn_new(l, &G.url, &fo);
    if (!r->cmd || !r->ctl || !r->fol) {
        rconn_free(r->cmd);
        rconn_free(r->ctl);
        rconn_free(r->fol);
        free(r);
        return NULL;
    }
    stream_chunk_init(&r->ch, LIM_LOG_TEXT);
    buf_init(&r->xc.lens, LIM_LOG_TEXT);
    buf_init(&r->lens16, LIM_LOG_TEXT);
    snprintf(r->member, sizeof(r->member), "%s:%d", G.replica, idx);
    atomic_store(&slots[idx].ready, 0);
    atomic_store(&slots[idx].used, 1);
    return r;
}

/* ---------- references ---------- */

static void rec_free(void *p)
{
    rec *x = p;
    free(x->info);
    free(x);
}

/* Drops the repl's reference once nothing here needs the rec (may free it). */
static void settle(rec *x)
{
    if (x->listed || x->dirty || x->inflight)
        return;
    if (x->s)
        store_mem_ops.unref(x->s);
    else
        rec_free(x);
}

static void list_add(rec **head, rec *x)
{
    x->prev = NULL;
    x->next = *head;
    if (*head)
        (*head)->prev = x;
    *head = x;
    x->listed = 1;
}

static void list_del(rec **head, rec *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else if (*head == x)
        *head = x->next;
    if (x->next)
        x->next->prev = x->prev;
    x->next = x->prev = NULL;
    x->listed = 0;
}

/* ---------- sending ---------- */

static void on_plain(rconn *rc, const redisReply *rep, void *ud);

/* One command naming x (x may be NULL). 0, or -1: not sent. */
static int send(repl *r, rconn *rc, rconn_cb cb, rec *x, int argc, const char *const *argv,
                const size_t *len)
{
    int e = rconn_cmd(rc, cb ? cb : on_plain, x, argc, argv, len);
    if (e < 0)
        return -1;
    if (x)
        x->inflight++;
    return 0;
}

static int sendv(repl *r, rconn *rc, rconn_cb cb, rec *x, int argc, const char *const *argv)
{
    size_t len[16];
    for (int i = 0; i < argc; i++)
        len[i] = strlen(argv[i]);
    return send(r, rc, cb, x, argc, argv, len);
}

/* A command whose callback gets ud itself (not a rec). */
static int cmdv(rconn *rc, rconn_cb cb, void *ud, int argc, const char *const *argv)
{
    size_t len[16];
    for (int i = 0; i < argc && i < 16; i++)
        len[i] = strlen(argv[i]);
    return argc <= 16 && rconn_cmd(rc, cb, ud, argc, argv, len) == 0 ? 0 : -1;
}

static int ended_reply(rec *x, const redisReply *rep)
{
    if (x)
        x->inflight--;
    return rep && rep->type == REDIS_REPLY_ERROR;
}

static void on_plain(rconn *rc, const redisReply *rep, void *ud)
{
    rec *x = ud;
    ended_reply(x, rep);
    if (x)
        settle(x);
}

/* ---------- produced here ---------- */

static void keys5(const char *id, char k[5][RLOG_KEY_MAX], const char *const names[5])
{
    for (int i = 0; i < 5; i++)
        rlog_key(k[i], id, names[i]);
}

static void on_renew(rconn *rc, const redisReply *rep, void *ud)
{
    rec *x = ud;
    x->inflight--;
    x->renewing = 0;
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
        rep->element[0]->type == REDIS_REPLY_INTEGER &&
        rep->element[1]->type == REDIS_REPLY_INTEGER) {
        if (rep->element[0]->integer && !store_mem_ops.cancel_requested(x->s))
            store_mem_ops.cancel(x->s);
        int n = (int)rep->element[1]->integer;
        if (n == 0 && atomic_load(&x->remote_readers) > 0)
            atomic_store(&x->remote_since_ms, loop_now_ms());
        atomic_store(&x->remote_readers, n);
    }
    settle(x);
}

/* RENEW, or CREATE with the meta (create: the stream's info). */
static int send_lease(repl *r, rec *x, uint64_t now, const stream_info *create)
{
    static const char *const names[5] = {"own", "meta", "log", "cancel", "rd"};
    char k[5][RLOG_KEY_MAX], lease[16], ttl[24], created[24];
    keys5(x->id, k, names);
    snprintf(lease, sizeof(lease), "%d", REPL_LEASE_MS);
    snprintf(ttl, sizeof(ttl), "%ld", G.running_ttl_ms);
    snprintf(created, sizeof(created), "%ld", create ? create->created : 0L);
    const char *argv[] = {
        "EVAL", create ? CREATE : RENEW,     "5",    k[0], k[1], k[2], k[3], k[4], G.replica, lease,
        ttl,    create ? create->model : "", created};
    if (sendv(r, r->cmd, on_renew, x, create ? 13 : 11, argv) < 0)
        return -1;
    x->renewing = 1;
    x->renew_at_ms = now + REPL_RENEW_MS;
    return 0;
}

static int send_renew(repl *r, rec *x, uint64_t now)
{
    return send_lease(r, x, now, NULL);
}

static int send_create(repl *r, rec *x, uint64_t now)
{
    return send_lease(r, x, now, store_mem_ops.info(x->s));
}

static int send_finish(repl *r, rec *x)
{
    static const char *const names[5] = {"meta", "log", "own", "rd", "cancel"};
    char k[5][RLOG_KEY_MAX], ret[24];
    keys5(x->id, k, names);
    snprintf(ret, sizeof(ret), "%ld", G.retention_ms);
    const char *argv[] = {"EVAL", FINISH, "5", k[0], k[1], k[2], k[3], k[4], ret};
    return sendv(r, r->cmd, NULL, x, 9, argv);
}

static void on_xadd(rconn *rc, const redisReply *rep, void *ud)
{
    rec *x = ud;
    x->inflight--;
    /* Refused as not newer: Redis has it already (a re-sent entry). Anything else: send the
     * whole log again on the next housekeeping tick. */
    if (rep && rep->type == REDIS_REPLY_ERROR && !strstr(rep->str, "equal or smaller") && x->listed)
        x->created = x->ended = x->finished = 0, x->sent_next = 0, x->renew_at_ms = 0;
    settle(x);
}

static int send_xadd(repl *r, rec *x)
{
    return send(r, r->cmd, on_xadd, x, r->xc.argc, r->xc.argv, r->xc.len);
}

/* Sends what x has that Redis has not: 1 when all went, 0 when it must wait. */
static int flush(repl *r, rec *x, uint64_t now)
{
    if (rconn_get_state(r->cmd) != RCONN_READY)
        return 0;
    if (!x->created) {
        if (send_create(r, x, now) < 0)
            return 0;
        x->created = 1;
    }
    stream_chunk *ch = &r->ch;
    while (!x->ended) {
        stream_chunk_reset(ch);
        if (x->sent_next == 0) {
            store_mem_ops.read(x->s, NULL, 0, 0, 0, ch);
            if (ch->phase == STREAM_WAITING)
                return 1;
            if (ch->phase == STREAM_FAILED_EARLY)
                rlog_xadd_early(&r->xc, x->id, &ch->early);
            else
                rlog_xadd_start(&r->xc, x->id);
            if (send_xadd(r, x) < 0)
                return 0;
            x->sent_next = 1;
            x->ended = ch->phase == STREAM_FAILED_EARLY;
            continue;
        }
        if (store_mem_ops.read(x->s, NULL, x->sent_next, SIZE_MAX, RLOG_ENTRY_BYTES, ch) < 0)
            return 1;
        if (ch->n == 0 && !ch->has_term)
            return 1;
        if (rlog_xadd_batch(&r->xc, x->id, x->sent_next, buf_ptr(&ch->text),
                            (const uint16_t *)(const void *)buf_ptr(&ch->lens), ch->n,
                            ch->has_term ? &ch->term : NULL) < 0 ||
            send_xadd(r, x) < 0)
            return 0;
        x->sent_next += ch->n + (ch->has_term ? 1 : 0);
        x->ended = ch->has_term;
    }
    if (!x->finished) {
        if (send_finish(r, x) < 0)
            return 0;
        x->finished = 1;
    }
    return 1;
}

static void mark_dirty(repl *r, rec *x)
{
    if (x->dirty)
        return;
    x->dirty = 1;
    x->dnext = r->dirty;
    r->dirty = x;
}

stream *repl_create_owned(repl *r, const stream_info *info)
{
    rec *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->kind = REC_OWN;
    x->r = r;
    utf8_copy(x->id, sizeof(x->id), info->id);
    atomic_init(&x->remote_readers, 0);
    atomic_init(&x->remote_since_ms, 0);
    stream *s = store_mem_create_ext(info, x, rec_free);
    if (!s) {
        free(x);
        return NULL;
    }
    store_mem_ops.ref(s); /* the repl's */
    x->s = s;
    list_add(&r->owned, x);
    mark_dirty(r, x);
    return s;
}

void repl_touch(stream *s)
{
    rec *x = store_mem_ext(s);
    if (x && x->kind == REC_OWN && x->r == cur && x->listed)
        mark_dirty(x->r, x);
}

void repl_retitle(stream *s)
{
    rec *x = store_mem_ext(s);
    if (x && x->kind == REC_OWN && x->r == cur && x->listed) {
        x->created = 0; /* CREATE again: it writes the meta's model */
        mark_dirty(x->r, x);
    }
}

void repl_forget(stream *s)
{
    rec *x = store_mem_ext(s);
    if (!x || x->kind != REC_OWN || x->r != cur || !x->listed)
        return;
    list_del(&x->r->owned, x);
    settle(x);
}

int repl_remote_readers(stream *s, uint64_t *since_ms)
{
    rec *x = store_mem_ext(s);
    if (!x || x->kind != REC_OWN)
        return 0;
    if (since_ms)
        *since_ms = atomic_load(&x->remote_since_ms);
    return atomic_load(&x->remote_readers);
}

/* After a new connection: Redis may have lost everything (a restart without persistence),
 * so every stream kept here goes again, whole. */
static void resync_all(repl *r)
{
    for (rec *x = r->owned; x; x = x->next) {
        x->created = x->ended = x->finished = 0;
        x->sent_next = 0;
        x->renew_at_ms = 0;
        mark_dirty(r, x);
    }
}

static void flush_dirty(repl *r, uint64_t now)
{
    rec *keep = NULL;
    for (rec *x = r->dirty, *next; x; x = next) {
        next = x->dnext;
        if (x->listed && !flush(r, x, now)) {
            x->dnext = keep;
            keep = x;
            continue;
        }
        x->dirty = 0;
        settle(x);
    }
    r->dirty = keep;
}

/* ---------- mirrored here ---------- */

static void answer(rec *m, int result)
{
    waiter *w = m->waiters;
    m->waiters = NULL;
    while (w) {
        waiter *next = w->next;
        w->fn(w->ud, result);
        free(w);
        w = next;
    }
}

static void owner_lost(rec *m)
{
    stream_term t = {.kind = STREAM_TERM_ERROR, .prompt_tokens = -1, .completion_tokens = -1};
    snprintf(t.type, sizeof(t.type), "owner_lost");
    snprintf(t.msg, sizeof(t.msg),
             "the replica producing this stream is gone; "
             "the characters it stored were all sent");
    if (m->want == 0)
        store_mem_ops.start(m->s);
    stream_batch b = {.text = "", .lens = NULL, .n = 0, .term = &t};
    store_mem_ops.append(m->s, &b);
    m->done = 1;
    m->r->follow_changed = 1;
}

static void apply_entry(repl *r, rec *m, const rlog_entry *e, uint64_t now)
{
    if (m->done)
        return;
    m->news_ms = now;
    m->misses = 0;
    if (e->kind != RLOG_BATCH) {
        if (m->want != 0)
            return;
        if (e->kind == RLOG_START) {
            store_mem_ops.start(m->s);
        } else {
            store_mem_ops.fail_early(m->s, &e->term);
            m->done = 1;
        }
        m->want = 1;
        return;
    }
    /* A gap (Redis lost entries the owner is sending again) waits for them. */
    if (m->want == 0 || e->first > m->want || e->last < m->want)
        return;
    size_t skip = (size_t)(m->want - e->first), off = 0;
    if (skip > e->n)
        return;
    buf_reset(&r->lens16);
    for (size_t i = 0; i < e->n; i++) {
        uint16_t len = rlog_len_at(e, i);
        if (i < skip)
            off += len & STREAM_LEN_MASK;
        else if (buf_add(&r->lens16, &len, sizeof(len)) < 0)
            return;
    }
    stream_batch b = {.text = e->text + off,
                      .lens = (const uint16_t *)(const void *)buf_ptr(&r->lens16),
                      .n = e->n - skip,
                      .term = e->has_term ? &e->term : NULL};
    if (store_mem_ops.append(m->s, &b) < 0 || e->has_term)
        m->done = 1;
    m->want = e->last + 1;
    if (m->done)
        r->follow_changed = 1;
}

static void apply_entries(repl *r, rec *m, const redisReply *arr)
{
    uint64_t now = loop_now_ms();
    for (size_t i = 0; arr && arr->type == REDIS_REPLY_ARRAY && i < arr->elements; i++) {
        rlog_entry e;
        if (rlog_decode(arr->element[i], &e) == 0)
            apply_entry(r, m, &e, now);
    }
}

static rec *mirror_of(repl *r, const char *id)
{
    for (rec *m = r->mirrors; m; m = m->next)
        if (!strcmp(m->id, id))
            return m;
    return NULL;
}

static void on_meta(rconn *rc, const redisReply *rep, void *ud)
{
    rec *m = ud;
    m->inflight--;
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
        m->unavailable = 1;
    } else if (rep->element[0]->type != REDIS_REPLY_STRING) {
        m->absent = 1;
    } else {
        const redisReply *model = rep->element[0], *created = rep->element[1];
        size_t n =
            model->len < sizeof(m->info->model) - 1 ? model->len : sizeof(m->info->model) - 1;
        memcpy(m->info->model, model->str, n);
        m->info->model[n] = '\0';
        if (created->type == REDIS_REPLY_STRING && created->len < 24) {
            char tmp[24];
            memcpy(tmp, created->str, created->len);
            tmp[created->len] = '\0';
            m->info->created = strtol(tmp, NULL, 10);
        }
    }
    if (!m->listed)
        settle(m); /* its lookup failed before the log was asked for */
}

static void on_loaded(rconn *rc, const redisReply *rep, void *ud)
{
    rec *m = ud;
    repl *r = m->r;
    m->inflight--;
    list_del(&r->loading, m);
    if (!rep || rep->type == REDIS_REPLY_ERROR)
        m->unavailable = 1;
    if (m->unavailable || m->absent) {
        answer(m, m->unavailable ? REPL_UNAVAILABLE : REPL_ABSENT);
        settle(m);
        return;
    }
    m->s = store_mem_create_ext(m->info, m, rec_free);
    if (!m->s) {
        answer(m, REPL_UNAVAILABLE);
        settle(m);
        return;
    }
    free(m->info);
    m->info = NULL;
    list_add(&r->mirrors, m);
    m->news_ms = m->check_at_ms = loop_now_ms();
    apply_entries(r, m, rep);
    r->follow_changed = 1;
    answer(m, REPL_FOUND);
}

int repl_lookup(repl *r, const char *id, repl_found_fn fn, void *ud)
{
    if (rconn_get_state(r->ctl) != RCONN_READY)
        return -1;
    waiter *w = calloc(1, sizeof(*w));
    if (!w)
        return -1;
    w->fn = fn;
    w->ud = ud;
    rec *m = r->loading;
    while (m && strcmp(m->id, id))
        m = m->next;
    if (!m) {
        m = calloc(1, sizeof(*m));
        if (m)
            m->info = calloc(1, sizeof(*m->info));
        if (!m || !m->info) {
            free(m);
            free(w);
            return -1;
        }
        m->kind = REC_MIRROR;
        m->r = r;
        utf8_copy(m->id, sizeof(m->id), id);
        utf8_copy(m->info->id, sizeof(m->info->id), id);
        m->info->owner = -1;
        char meta[RLOG_KEY_MAX], log[RLOG_KEY_MAX];
        rlog_key(meta, id, "meta");
        rlog_key(log, id, "log");
        const char *a1[] = {"HMGET", meta, "model", "created"};
        const char *a2[] = {"XRANGE", log, "-", "+"};
        if (sendv(r, r->ctl, on_meta, m, 4, a1) < 0) {
            rec_free(m);
            free(w);
            return -1;
        }
        if (sendv(r, r->ctl, on_loaded, m, 4, a2) < 0)
            m->unavailable = 1; /* on_meta will not know: answered below */
        list_add(&r->loading, m);
        if (m->unavailable) {
            /* on_meta runs later and finds it unlisted: the waiter is told now. */
            list_del(&r->loading, m);
            free(w);
            return -1;
        }
    }
    w->next = m->waiters;
    m->waiters = w;
    return 0;
}

static void on_check_lease(rconn *rc, const redisReply *rep, void *ud)
{
    rec *m = ud;
    m->inflight--;
    if (rep && rep->type == REDIS_REPLY_INTEGER)
        m->misses = rep->integer ? 0 : m->misses + 1;
    settle(m);
}

static void on_check_log(rconn *rc, const redisReply *rep, void *ud)
{
    rec *m = ud;
    m->inflight--;
    m->checking = 0;
    if (m->listed && rep && rep->type == REDIS_REPLY_ARRAY) {
        int misses = m->misses;
        apply_entries(m->r, m, rep);
        if (!m->done && misses >= 2)
            owner_lost(m);
    }
    settle(m);
}

/* A mirror still running without news: is its owner alive? The log is read after the
 * lease, so an answer that ended just before its lease went is not taken for a loss. */
static void check(repl *r, rec *m, uint64_t now)
{
    char own[RLOG_KEY_MAX], log[RLOG_KEY_MAX], from[32];
    rlog_key(own, m->id, "own");
    rlog_key(log, m->id, "log");
    snprintf(from, sizeof(from), "(0-%" PRIu64, m->want);
    const char *a1[] = {"EXISTS", own};
    const char *a2[] = {"XRANGE", log, from, "+"};
    if (sendv(r, r->ctl, on_check_lease, m, 2, a1) < 0)
        return;
    if (sendv(r, r->ctl, on_check_log, m, 4, a2) < 0)
        return;
    m->checking = 1;
    m->check_at_ms = now + REPL_CHECK_MS;
}

static void presence(repl *r, rec *m, int on, uint64_t now)
{
    char rd[RLOG_KEY_MAX], lapse[16], ttl[24];
    rlog_key(rd, m->id, "rd");
    if (!on) {
        const char *argv[] = {"ZREM", rd, r->member};
        if (sendv(r, r->cmd, NULL, NULL, 3, argv) == 0)
            m->present = 0;
        return;
    }
    snprintf(lapse, sizeof(lapse), "%d", REPL_LEASE_MS);
    snprintf(ttl, sizeof(ttl), "%ld", G.running_ttl_ms);
    const char *argv[] = {"EVAL", PRESENT, "1", rd, r->member, lapse, ttl};
    if (sendv(r, r->cmd, NULL, NULL, 7, argv) == 0) {
        m->present = 1;
        m->present_at_ms = now + REPL_RENEW_MS;
    }
}

static void mirrors_house(repl *r, uint64_t now)
{
    int ready = rconn_get_state(r->cmd) == RCONN_READY && rconn_get_state(r->ctl) == RCONN_READY;
    for (rec *m = r->mirrors, *next; m; m = next) {
        next = m->next;
        uint64_t alone = 0;
        int n = store_mem_ops.readers(m->s, &alone);
        if (n == 0 && loop_since(now, alone) >= REPL_MIRROR_IDLE_MS) {
            if (m->present && ready)
                presence(r, m, 0, now);
            list_del(&r->mirrors, m);
            store_mem_ops.expire(m->s);
            r->follow_changed = 1;
            settle(m);
            continue;
        }
        if (!ready)
            continue;
        if (m->done) {
            if (m->present)
                presence(r, m, 0, now);
            continue;
        }
        if (n > 0 && (!m->present || now >= m->present_at_ms))
            presence(r, m, 1, now);
        if (!m->checking && loop_since(now, m->news_ms) >= REPL_CHECK_MS && now >= m->check_at_ms)
            check(r, m, now);
    }
}

/* ---------- the follower ---------- */

static void on_cancel_notice(repl *r, const redisReply *entries)
{
    for (size_t i = 0; i < entries->elements; i++) {
        const redisReply *e = entries->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[0]->type != REDIS_REPLY_STRING)
            continue;
        if (e->element[0]->len < sizeof(r->cancels_after)) {
            memcpy(r->cancels_after, e->element[0]->str, e->element[0]->len);
            r->cancels_after[e->element[0]->len] = '\0';
        }
        const redisReply *f = e->element[1];
        for (size_t k = 0; f->type == REDIS_REPLY_ARRAY && k + 1 < f->elements; k += 2) {
            const redisReply *v = f->element[k + 1];
            if (v->type != REDIS_REPLY_STRING || v->len != STREAM_ID_LEN)
                continue;
            char id[STREAM_ID_LEN + 1];
            memcpy(id, v->str, STREAM_ID_LEN);
            id[STREAM_ID_LEN] = '\0';
            stream *s = store_mem_ops.find(id);
            if (s && store_mem_ops.info(s)->owner >= 0)
                store_mem_ops.cancel(s);
            if (s)
                store_mem_ops.unref(s);
        }
    }
}

static void on_xread(rconn *rc, const redisReply *rep, void *ud)
{
    repl *r = ud;
    r->xread_inflight = 0;
    if (!rep || rep->type != REDIS_REPLY_ARRAY)
        return; /* a timeout, an unblock, a loss: the next pass asks again */
    for (size_t i = 0; i < rep->elements; i++) {
        const redisReply *ks = rep->element[i];
        if (ks->type != REDIS_REPLY_ARRAY || ks->elements != 2 ||
            ks->element[0]->type != REDIS_REPLY_STRING || ks->element[1]->type != REDIS_REPLY_ARRAY)
            continue;
        const redisReply *key = ks->element[0];
        if (key->len == sizeof(RLOG_CANCELS) - 1 && !memcmp(key->str, RLOG_CANCELS, key->len)) {
            on_cancel_notice(r, ks->element[1]);
            continue;
        }
        char id[STREAM_ID_LEN + 1];
        rec *m = rlog_key_id(key->str, key->len, id) == 0 ? mirror_of(r, id) : NULL;
        if (m)
            apply_entries(r, m, ks->element[1]);
    }
}

static void on_cid(rconn *rc, const redisReply *rep, void *ud)
{
    repl *r = ud;
    if (rep && rep->type == REDIS_REPLY_INTEGER) {
        r->fol_cid = rep->integer;
        r->cid_state = ASK_KNOWN;
    } else {
        r->cid_state = ASK_NONE;
    }
}

static void on_cancels_top(rconn *rc, const redisReply *rep, void *ud)
{
    repl *r = ud;
    snprintf(r->cancels_after, sizeof(r->cancels_after), "0-0");
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        r->cancels_state = ASK_NONE;
        return;
    }
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 &&
        rep->element[0]->type == REDIS_REPLY_ARRAY && rep->element[0]->elements == 2 &&
        rep->element[0]->element[0]->type == REDIS_REPLY_STRING) {
        const redisReply *id = rep->element[0]->element[0];
        if (id->len < sizeof(r->cancels_after)) {
            memcpy(r->cancels_after, id->str, id->len);
            r->cancels_after[id->len] = '\0';
        }
    }
    r->cancels_state = ASK_KNOWN;
    r->follow_changed = 1;
}

static void on_unblock(rconn *rc, const redisReply *rep, void *ud)
{
    repl *r = ud;
    r->unblock_inflight = 0;
    /* Not blocked yet (the XREAD was still on its way): try again next pass. */
    if (rep && rep->type == REDIS_REPLY_INTEGER && rep->integer == 0 && r->xread_inflight)
        r->follow_changed = 1;
}

static void follow(repl *r)
{
    if (rconn_get_state(r->fol) != RCONN_READY)
        return;
    if (r->cid_state == ASK_NONE) {
        const char *argv[] = {"CLIENT", "ID"};
        size_t len[] = {6, 2};
        if (rconn_cmd(r->fol, on_cid, r, 2, argv, len) == 0)
            r->cid_state = ASK_SENT;
    }
    int cancels = r->idx == 0;
    if (cancels && r->cancels_state == ASK_NONE) {
        const char *argv[] = {"XREVRANGE", RLOG_CANCELS, "+", "-", "COUNT", "1"};
        size_t len[6];
        for (int i = 0; i < 6; i++)
            len[i] = strlen(argv[i]);
        if (rconn_cmd(r->fol, on_cancels_top, r, 6, argv, len) == 0)
            r->cancels_state = ASK_SENT;
    }
    if (r->xread_inflight) {
        /* The set changed while XREAD blocks: wake it (it answers as a timeout). */
        if (r->follow_changed && r->cid_state == ASK_KNOWN && !r->unblock_inflight &&
            rconn_get_state(r->ctl) == RCONN_READY) {
            char cid[24];
            snprintf(cid, sizeof(cid), "%lld", r->fol_cid);
            const char *argv[] = {"CLIENT", "UNBLOCK", cid};
            size_t len[] = {6, 7, strlen(cid)};
            if (rconn_cmd(r->ctl, on_unblock, r, 3, argv, len) == 0) {
                r->unblock_inflight = 1;
                r->follow_changed = 0;
            }
        }
        return;
    }
    int n = cancels && r->cancels_state == ASK_KNOWN ? 1 : 0;
    for (rec *m = r->mirrors; m; m = m->next)
        n += !m->done;
    if (n == 0)
        return;
    int argc = 6 + 2 * n;
    const char **argv = calloc((size_t)argc, sizeof(*argv));
    size_t *len = calloc((size_t)argc, sizeof(*len));
    char *store = calloc((size_t)n, 2 * RLOG_KEY_MAX);
    if (!argv || !len || !store)
        goto out;
    char block[16];
    snprintf(block, sizeof(block), "%d", REPL_BLOCK_MS);
    const char *fixed[] = {"XREAD", "COUNT", "1024", "BLOCK", block, "STREAMS"};
    memcpy(argv, fixed, sizeof(fixed));
    int k = 0;
    if (cancels && r->cancels_state == ASK_KNOWN) {
        argv[6] = RLOG_CANCELS;
        argv[6 + n] = r->cancels_after;
        k = 1;
    }
    for (rec *m = r->mirrors; m; m = m->next) {
        if (m->done)
            continue;
        char *key = store + (size_t)k * 2 * RLOG_KEY_MAX, *from = key + RLOG_KEY_MAX;
        rlog_key(key, m->id, "log");
        snprintf(from, RLOG_KEY_MAX, "0-%" PRIu64, m->want);
        argv[6 + k] = key;
        argv[6 + n + k] = from;
        k++;
    }
    for (int i = 0; i < argc; i++)
        len[i] = strlen(argv[i]);
    if (rconn_cmd(r->fol, on_xread, r, argc, argv, len) == 0) {
        r->xread_inflight = 1;
        r->follow_changed = 0;
    }
out:
    free(argv);
    free(len);
    free(store);
}

/* ---------- limits ---------- */

/* A client's keys carry a hash of its name (an API key must not become a key name): two
 * independent 64-bit FNV-1a hashes. */
static void client_tag(const char *client, char out[40])
{
    uint64_t a = 1469598103934665603ull, b = 0x84222325cbf29ce4ull;
    for (const unsigned char *p = (const unsigned char *)client; *p; p++) {
        a = (a ^ *p) * 1099511628211ull;
        b = (b ^ (unsigned)(*p + 0x5bu)) * 1099511628211ull;
    }
    snprintf(out, 40, "%016" PRIx64 "%016" PRIx64, a, b);
}

static void lim_key(char *out, const char *tag, const char *what)
{
    snprintf(out, RLOG_KEY_MAX, "chatd:lim:{%s}:%s", tag, what);
}

#define LIM_ALL_KEY "chatd:lim:{all}:conc"

typedef struct admit_ctx {
    repl_admit_fn fn;
    void *ud;
} admit_ctx;

static void on_admit(rconn *rc, const redisReply *rep, void *ud)
{
    admit_ctx *a = ud;
    int result = REPL_UNAVAILABLE, retry = 1;
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
        rep->element[0]->type == REDIS_REPLY_INTEGER &&
        rep->element[1]->type == REDIS_REPLY_INTEGER) {
        result = (int)rep->element[0]->integer;
        retry = (int)rep->element[1]->integer;
    }
    a->fn(a->ud, result, retry);
    free(a);
}

int repl_admit(repl *r, const char *client, char slot[REPL_SLOT_MAX], repl_admit_fn fn, void *ud)
{
    if (!r || rconn_get_state(r->ctl) != RCONN_READY)
        return -1;
    admit_ctx *a = calloc(1, sizeof(*a));
    if (!a)
        return -1;
    a->fn = fn;
    a->ud = ud;
    unsigned char rnd[8];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        memset(rnd, 0, sizeof(rnd));
    snprintf(slot, REPL_SLOT_MAX, "%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
             rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    char tag[40], rate[RLOG_KEY_MAX], conc[RLOG_KEY_MAX], lease[16], per[24], burst[24], maxc[24],
        maxt[24];
    client_tag(client, tag);
    lim_key(rate, tag, "rate");
    lim_key(conc, tag, "conc");
    snprintf(lease, sizeof(lease), "%d", REPL_SLOT_LEASE_MS);
    snprintf(per, sizeof(per), "%ld", G.lim.rate_per_min);
    snprintf(burst, sizeof(burst), "%ld", G.lim.burst > 0 ? G.lim.burst : 1);
    snprintf(maxc, sizeof(maxc), "%ld", G.lim.per_client);
    snprintf(maxt, sizeof(maxt), "%ld", G.lim.total);
    const char *argv[12] = {"EVAL", ADMIT, "2", rate, conc};
    int argc = 5;
    if (G.lim.total > 0) {
        argv[2] = "3";
        argv[argc++] = LIM_ALL_KEY;
    }
    const char *args[] = {slot, lease, per, burst, maxc, maxt};
    for (size_t i = 0; i < 6; i++)
        argv[argc++] = args[i];
    if (cmdv(r->ctl, on_admit, a, argc, argv) < 0) {
        free(a);
        return -1;
    }
    return 0;
}

static void send_hold(repl *r, rec *x, uint64_t now)
{
    char conc[RLOG_KEY_MAX], lease[16];
    lim_key(conc, x->client_tag, "conc");
    snprintf(lease, sizeof(lease), "%d", REPL_SLOT_LEASE_MS);
    const char *argv[7] = {"EVAL", HOLD, "1", conc};
    int argc = 4;
    if (G.lim.total > 0) {
        argv[2] = "2";
        argv[argc++] = LIM_ALL_KEY;
    }
    argv[argc++] = x->slot;
    argv[argc++] = lease;
    if (sendv(r, r->cmd, NULL, x, argc, argv) == 0)
        x->hold_at_ms = now + REPL_SLOT_RENEW_MS;
}

void repl_hold(stream *s, const char *client, const char *slot)
{
    rec *x = store_mem_ext(s);
    if (!x || x->kind != REC_OWN || !slot[0])
        return;
    client_tag(client, x->client_tag);
    utf8_copy(x->slot, sizeof(x->slot), slot);
    x->hold_at_ms = loop_now_ms() + REPL_SLOT_RENEW_MS;
}

void repl_release(repl *r, const char *client, const char *slot, stream *s)
{
    rec *x = s ? store_mem_ext(s) : NULL;
    if (x && x->kind == REC_OWN && x->r == r)
        x->slot[0] = '\0'; /* no more renewals */
    if (!r || !slot[0] || rconn_get_state(r->ctl) != RCONN_READY)
        return; /* the lease lapses by itself */
    char tag[40], conc[RLOG_KEY_MAX];
    client_tag(client, tag);
    lim_key(conc, tag, "conc");
    const char *a1[] = {"ZREM", conc, slot};
    sendv(r, r->ctl, NULL, NULL, 3, a1);
    if (G.lim.total > 0) {
        const char *a2[] = {"ZREM", LIM_ALL_KEY, slot};
        sendv(r, r->ctl, NULL, NULL, 3, a2);
    }
}

/* ---------- cancel ---------- */

typedef struct cancel_ctx {
    repl_found_fn fn;
    void *ud;
} cancel_ctx;

static void on_cancel(rconn *rc, const redisReply *rep, void *ud)
{
    cancel_ctx *c = ud;
    int result = rep && rep->type == REDIS_REPLY_INTEGER ? (int)rep->integer : REPL_UNAVAILABLE;
    if (c->fn)
        c->fn(c->ud, result);
    free(c);
}

int repl_cancel(repl *r, const char *id, repl_found_fn fn, void *ud)
{
    if (!r || rconn_get_state(r->ctl) != RCONN_READY)
        return -1;
    cancel_ctx *c = calloc(1, sizeof(*c));
    if (!c)
        return -1;
    c->fn = fn;
    c->ud = ud;
    char meta[RLOG_KEY_MAX], key[RLOG_KEY_MAX], ttl[24];
    rlog_key(meta, id, "meta");
    rlog_key(key, id, "cancel");
    snprintf(ttl, sizeof(ttl), "%ld", G.running_ttl_ms);
    const char *a1[] = {"EVAL", CANCEL, "2", meta, key, ttl};
    size_t l1[6];
    for (int i = 0; i < 6; i++)
        l1[i] = strlen(a1[i]);
    if (rconn_cmd(r->ctl, on_cancel, c, 6, a1, l1) < 0) {
        free(c);
        return -1;
    }
    /* The notice, for speed; the key above is what the owner is sure to see. */
    const char *a2[] = {"XADD", RLOG_CANCELS, "MAXLEN", "~", "10000", "*", "id", id};
    sendv(r, r->ctl, NULL, NULL, 8, a2);
    return 0;
}

/* ---------- the pass ---------- */

int repl_timeout_ms(const repl *r, uint64_t now)
{
    int t = -1;
    const rconn *all3[] = {r->cmd, r->ctl, r->fol};
    for (int i = 0; i < 3; i++) {
        int x = rconn_timeout_ms(all3[i], now);
        if (x >= 0 && (t < 0 || x < t))
            t = x;
    }
    return t;
}

void repl_pass(repl *r, uint64_t now, int house)
{
    rconn_tick(r->cmd, now);
    rconn_tick(r->ctl, now);
    rconn_tick(r->fol, now);
    atomic_store(&slots[r->idx].ready, rconn_ready(r->cmd) && rconn_ready(r->ctl));
    unsigned long long c = atomic_load(&rconn_get_stats(r->cmd)->connects);
    if (c != r->cmd_connects && rconn_get_state(r->cmd) == RCONN_READY) {
        r->cmd_connects = c;
        resync_all(r);
    }
    c = atomic_load(&rconn_get_stats(r->fol)->connects);
    if (c != r->fol_connects && rconn_get_state(r->fol) == RCONN_READY) {
        r->fol_connects = c;
        r->cid_state = r->cancels_state = ASK_NONE;
        r->xread_inflight = 0;
    }
    if (house) {
        for (rec *x = r->owned; x; x = x->next) {
            if (!x->created || x->ended)
                continue;
            if (!x->renewing && now >= x->renew_at_ms && rconn_get_state(r->cmd) == RCONN_READY)
                send_renew(r, x, now);
        }
        for (rec *x = r->owned; x; x = x->next) {
            if (!x->created && !x->dirty)
                mark_dirty(r, x); /* an error asked for the whole log again */
            if (x->slot[0] && now >= x->hold_at_ms && rconn_get_state(r->cmd) == RCONN_READY)
                send_hold(r, x, now);
        }
        mirrors_house(r, now);
    }
    flush_dirty(r, now);
    follow(r);
    rconn_flush(r->cmd);
    rconn_flush(r->ctl);
    rconn_flush(r->fol);
}

void repl_free(repl *r)
{
    if (!r)
        return;
    atomic_store(&slots[r->idx].used, 0);
    rconn_free(r->cmd); /* every callback runs now, with NULL */
    rconn_free(r->ctl);
    rconn_free(r->fol);
    r->cmd = r->ctl = r->fol = NULL;
    while (r->loading) {
        rec *m = r->loading;
        list_del(&r->loading, m);
        answer(m, REPL_UNAVAILABLE);
        settle(m);
    }
    for (rec *x = r->dirty, *next; x; x = next) {
        next = x->dnext;
        x->dirty = 0;
        settle(x);
    }
    r->dirty = NULL;
    while (r->owned) {
        rec *x = r->owned;
        list_del(&r->owned, x);
        settle(x);
    }
    while (r->mirrors) {
        rec *m = r->mirrors;
        list_del(&r->mirrors, m);
        settle(m);
    }
    stream_chunk_free(&r->ch);
    buf_free(&r->xc.lens);
    buf_free(&r->lens16);
    if (cur == r)
        cur = NULL;
    free(r);
}

/* ---------- any thread ---------- */

int repl_ready(void)
{
    int n = 0;
    for (int i = 0; i < REPLS_MAX; i++) {
        if (!atomic_load(&slots[i].used))
            continue;
        if (!atomic_load(&slots[i].ready))
            return 0;
        n++;
    }
    return n > 0;
}

/* A counter summed over every worker's links (both, or the command links only); a stopped
 * worker's counts stay in. */
static unsigned long long sum(size_t off, int cmd_only)
{
    unsigned long long t = 0;
    for (int i = 0; i < REPLS_MAX; i++) {
        const rconn_stats *st3[] = {&slots[i].cmd, &slots[i].ctl, &slots[i].fol};
        for (int k = 0; k < (cmd_only ? 2 : 3); k++) {
            const rconn_stats *st = st3[k];
            t += atomic_load((const atomic_ullong *)(const void *)((const char *)st + off));
        }
    }
    return t;
}

int repl_render_metrics(buf *out)
{
    static const struct {
        const char *name, *help;
        size_t off;
    } counters[] = {
        {"chatd_redis_commands_total", "Redis commands sent", offsetof(rconn_stats, sent)},
        {"chatd_redis_replies_total", "Redis replies received, errors included",
         offsetof(rconn_stats, replies)},
        {"chatd_redis_errors_total", "Redis error replies", offsetof(rconn_stats, errors)},
        {"chatd_redis_lost_total", "Redis commands whose connection went before the reply",
         offsetof(rconn_stats, lost)},
        {"chatd_redis_deferred_total", "Redis commands held back: link down or too many in flight",
         offsetof(rconn_stats, rejected)},
        {"chatd_redis_connects_total", "Redis connections established",
         offsetof(rconn_stats, connects)},
    };
    buf_addf(out,
             "# HELP chatd_redis_up Whether every worker's Redis connection is up.\n"
             "# TYPE chatd_redis_up gauge\nchatd_redis_up %d\n",
             repl_ready());
    for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
        buf_addf(out, "# HELP %s %s.\n# TYPE %s counter\n%s %llu\n", counters[i].name,
                 counters[i].help, counters[i].name, counters[i].name, sum(counters[i].off, 0));
    buf_addstr(out, "# HELP chatd_redis_latency_seconds Round trip of Redis commands (blocking "
                    "reads excluded).\n"
                    "# TYPE chatd_redis_latency_seconds histogram\n");
    unsigned long long cum = 0;
    for (int b = 0; b < RCONN_LAT_BUCKETS; b++) {
        cum += sum(offsetof(rconn_stats, lat_bucket) + (size_t)b * sizeof(atomic_ullong), 1);
        if (b < RCONN_LAT_BUCKETS - 1)
            buf_addf(out, "chatd_redis_latency_seconds_bucket{le=\"%g\"} %llu\n",
                     rconn_lat_le_us[b] / 1e6, cum);
        else
            buf_addf(out, "chatd_redis_latency_seconds_bucket{le=\"+Inf\"} %llu\n", cum);
    }
    buf_addf(out, "chatd_redis_latency_seconds_sum %.6f\nchatd_redis_latency_seconds_count %llu\n",
             sum(offsetof(rconn_stats, lat_sum_us), 1) / 1e6,
             sum(offsetof(rconn_stats, lat_count), 1));
    return buf_failed(out) ? -1 : 0;
}
