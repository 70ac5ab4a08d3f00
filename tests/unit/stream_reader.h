/* stream_reader — one reader of a stream, as reader.c holds it: the encoder of its format,
 * a scratch chunk, a subscription and an out buffer. Shared by the unit tests and the
 * stream fuzz target, which check its results each in their own way. Header-only. */
#ifndef CHATD_STREAM_READER_H
#define CHATD_STREAM_READER_H

#include <stdint.h>
#include <string.h>

#include "encode.h"
#include "lim.h"
#include "store.h"

typedef struct stream_reader {
    stream *s;
    enc enc;
    stream_chunk ch;
    stream_sub sub;
    buf out;
} stream_reader;

/* Ready to read s from its start in fmt; notify is the subscription's wake-up (it is not
 * followed yet). enc_init's result: 0, or its error. */
__attribute__((unused)) static int stream_reader_init(stream_reader *r, stream *s, enc_fmt fmt,
                                                      int include_usage, size_t out_cap,
                                                      void (*notify)(stream_sub *sub))
{
    memset(r, 0, sizeof(*r));
    r->s = s;
    r->sub.notify = notify;
    stream_chunk_init(&r->ch, LIM_LOG_TEXT);
    buf_init(&r->out, out_cap);
    return enc_init(&r->enc, fmt, include_usage, stream_get_info(s));
}

__attribute__((unused)) static void stream_reader_free(stream_reader *r)
{
    enc_free(&r->enc);
    stream_chunk_free(&r->ch);
    buf_free(&r->out);
}

/* A resume: positions r after event last_id (-1: from the start). 0, or -1 when the
 * stream has no such event. */
__attribute__((unused)) static int stream_reader_seek(stream_reader *r, int64_t last_id)
{
    uint64_t next = (uint64_t)(last_id + 1);
    stream_chunk_reset(&r->ch);
    if (stream_read(r->s, NULL, next, 0, 0, &r->ch) < 0)
        return -1;
    r->enc.next_id = next;
    return 0;
}

#endif
