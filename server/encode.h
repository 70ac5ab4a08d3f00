/* encode — writes a stream's events in one reader's format: chatd's native event stream
 * (start, delta, reasoning, done/error with ids), OpenAI's chat.completion.chunk stream or
 * single chat.completion object, or Anthropic's Messages event stream or single message.
 * It works on what the reader has read from the store (a stream_chunk), outside any lock;
 * the reader owns the enc and its output. */
#ifndef CHATD_ENCODE_H
#define CHATD_ENCODE_H

#include <stdint.h>

#include "anth_out.h"
#include "buf.h"
#include "store.h"

typedef enum { ENC_NATIVE, ENC_OAI_SSE, ENC_OAI_JSON, ENC_ANTH_SSE, ENC_ANTH_JSON } enc_fmt;

typedef struct enc {
    enc_fmt fmt;
    int include_usage; /* OpenAI stream: the usage chunk */
    int retry_sent;    /* native: the retry line opens every response */
    uint64_t next_id;  /* the next event to write */
    buf head;          /* OpenAI stream: the fields every chunk repeats */
    anth_stream anth;  /* Anthropic stream: the open block, its index and kind, and the
                          blocks held until the end (see anth_out.h) */
} enc;

/* The format answers once, whole, after the stream's end (stream:false). */
static inline int enc_is_whole(enc_fmt fmt)
{
    return fmt == ENC_OAI_JSON || fmt == ENC_ANTH_JSON;
}

int enc_init(enc *c, enc_fmt fmt, int include_usage, const stream_info *info); /* 0 or -1 */
void enc_free(enc *c);
/* The most bytes one cluster's event adds besides the cluster's own (escaped) text: a
 * reader sizes its reads with it so that their encoding stays under its cap. */
size_t enc_per_event(const enc *c);
/* Writes the start event when it is next, then the chunk's clusters from c->next_id,
 * then its terminal event. 1 once the terminal event is written, 0 if not yet (in
 * Anthropic's stream the blocks held until the end may take several calls), -1 when
 * out is full (a cap error). */
int enc_chunk(enc *c, const stream_info *info, const stream_chunk *ch, buf *out);
/* The non-streamed answer from a chunk that holds the whole stream and its end, as
 * OpenAI's object (enc_whole) or in a whole format's shape. 0; 1 when the answer cannot
 * be said in that shape and out holds an error body instead (a 502: Anthropic's tool_use
 * input must be a JSON object, and the upstream's arguments were not one); -1 when out
 * is full. */
int enc_whole(const stream_info *info, const stream_chunk *ch, buf *out);
int enc_whole_as(enc_fmt fmt, const stream_info *info, const stream_chunk *ch, buf *out);

#endif
