/* store_mem's hooks for a store built on top of it (store_redis keeps every stream it
 * serves here too): a stream created with fixed info and an extension that lives exactly
 * as long as the stream. The in-process operations themselves are store_mem_ops. */
#ifndef CHATD_STORE_MEM_H
#define CHATD_STORE_MEM_H

#include "store.h"

/* A kept stream with info (created 0: now) and ext, freed by ext_free with the last
 * reference. NULL: no memory (ext is then the caller's still). */
stream *store_mem_create_ext(const stream_info *info, void *ext, void (*ext_free)(void *ext));
void *store_mem_ext(const stream *s);

#endif
