/* store — see store.h: which implementation is in force, and the read buffers. */
#include "store.h"

#include <string.h>

const store_ops *store_impl = &store_mem_ops;

int store_use(const store_ops *ops)
{
    store_impl = ops;
    return ops->init();
}

void store_shutdown(void)
{
    store_impl->shutdown();
}

int store_count(void)
{
    return store_impl->count();
}

void stream_chunk_init(stream_chunk *c, size_t cap)
{
    memset(c, 0, sizeof(*c));
    buf_init(&c->text, cap);
    buf_init(&c->lens, cap);
}

void stream_chunk_reset(stream_chunk *c)
{
    buf_reset(&c->text);
    buf_reset(&c->lens);
    c->n = 0;
    c->first_id = 0;
    c->has_term = 0;
}

void stream_chunk_free(stream_chunk *c)
{
    buf_free(&c->text);
    buf_free(&c->lens);
    c->n = 0;
}
