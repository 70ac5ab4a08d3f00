/* store — finds a stream by id from any worker: the streams that can be resumed or
 * cancelled. The in-memory store is one hash table behind one mutex (touched on create,
 * resume, cancel and expiry, never per character); a shared store could replace it
 * behind the same four calls. The store holds one reference per stream it keeps. */
#ifndef CHATD_STORE_H
#define CHATD_STORE_H

#include "stream.h"

int store_init(void);
void store_free(void);                 /* drops every stream still kept */
int store_put(stream *s);              /* 0, or -1 (no memory) */
stream *store_get(const char *id);     /* a new reference, or NULL */
void store_del(stream *s);             /* forget s (drops the store's reference) */
int store_count(void);

#endif
