/* store_redis — the store when chatd is one of several replicas (CHATD_REDIS_URL): every
 * stream still lives in store_mem, readers read it there, and repl copies what this
 * process produces into Redis and mirrors what others produce. Only what crosses replicas
 * differs from store_mem: a new stream is registered with the worker's repl, news is
 * marked for the next Redis write, a cancel of a mirrored stream goes to its owner through
 * Redis, and readers on other replicas count as readers. */
#include "store.h"

#include "repl.h"
#include "store_mem.h"
#include "utf8.h"

static stream *r_create(const char *id, const char *model, int owner)
{
    stream_info info = {.owner = owner};
    utf8_copy(info.id, sizeof(info.id), id);
    utf8_copy(info.model, sizeof(info.model), model);
    repl *r = repl_current();
    return r ? repl_create_owned(r, &info) : store_mem_create_ext(&info, NULL, NULL);
}

static void r_start(stream *s)
{
    store_mem_ops.start(s);
    repl_touch(s);
}

static void r_retitle(stream *s, const char *model)
{
    store_mem_ops.retitle(s, model);
    repl_retitle(s);
}

static void r_fail_early(stream *s, const stream_term *why)
{
    store_mem_ops.fail_early(s, why);
    repl_touch(s);
}

static int r_append(stream *s, const stream_batch *b)
{
    int rc = store_mem_ops.append(s, b);
    repl_touch(s);
    return rc;
}

static void r_cancel(stream *s)
{
    store_mem_ops.cancel(s);
    const stream_info *in = store_mem_ops.info(s);
    if (in->owner < 0) /* a mirror: the owner is elsewhere */
        repl_cancel(repl_current(), in->id, NULL, NULL);
}

static int r_readers(stream *s, uint64_t *alone_since_ms)
{
    uint64_t since = 0;
    int n = store_mem_ops.readers(s, alone_since_ms);
    int remote = repl_remote_readers(s, &since);
    if (remote > 0)
        return n + remote;
    if (n == 0 && alone_since_ms && since > *alone_since_ms)
        *alone_since_ms = since;
    return n;
}

static void r_expire(stream *s)
{
    repl_forget(s);
    store_mem_ops.expire(s);
}

const store_ops *store_redis(void)
{
    static store_ops ops;
    ops = store_mem_ops;
    ops.name = "redis";
    ops.create = r_create;
    ops.start = r_start;
    ops.retitle = r_retitle;
    ops.fail_early = r_fail_early;
    ops.append = r_append;
    ops.cancel = r_cancel;
    ops.readers = r_readers;
    ops.expire = r_expire;
    return &ops;
}
