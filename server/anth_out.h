/* anth_out — encodes chatd's output in Anthropic's Messages shapes: the event stream
 * (message_start, ping, content_block_start/delta/stop, message_delta, message_stop,
 * error), the single message object, and Anthropic's error object. anth_stream keeps the
 * open block, so that text never goes into a tool_use block and block indexes count
 * every block from 0. Appends to caller-owned bufs; a failed call (-1) leaves the buf's
 * bytes as they were, with its sticky error set. */
#ifndef CHATD_ANTH_OUT_H
#define CHATD_ANTH_OUT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define ANTH_TOOLS_MAX 128 /* tool calls in one answer (the store's STREAM_TOOLS_MAX) */

enum { ANTH_NONE, ANTH_TEXT, ANTH_THINKING, ANTH_TOOL };

/* A streamed answer's blocks so far. */
typedef struct anth_stream {
    int open;                         /* ANTH_*: the kind of the open block */
    int index;                        /* the open block's index */
    int blocks;                       /* blocks started */
    int tool;                         /* ANTH_TOOL: the answer's tool call in the open block */
    int16_t block_of[ANTH_TOOLS_MAX]; /* each tool call's block index, -1 before its start */
} anth_stream;

void anth_stream_init(anth_stream *s);
/* message_start (id "msg_<id>", empty content, input_tokens or 0 when < 0), then a ping. */
int anth_message_start(buf *out, const char *id, const char *model, long input_tokens);
/* One piece of text (thinking: of the thinking text) as a text_delta (thinking_delta),
 * in the open block of its kind, or after closing the open block and starting one. */
int anth_text(anth_stream *s, buf *out, int thinking, const char *p, size_t n);
/* A tool call starts: the open block closes, a tool_use block {id, name, input:{}} opens. */
int anth_tool(anth_stream *s, buf *out, int tool, const char *id, size_t idn, const char *name,
              size_t namen);
/* A fragment of tool call `tool`'s arguments as an input_json_delta at its block's index
 * (its own block, even when a later one opened since: the SDKs assemble by index). An
 * empty fragment writes nothing; one for a call that never started is an error (-1). */
int anth_tool_args(anth_stream *s, buf *out, int tool, const char *p, size_t n);
/* The end: the open block closes, message_delta {stop_reason, usage}, message_stop. */
int anth_done(anth_stream *s, buf *out, const char *finish, long input_tokens, long output_tokens);
/* event: error, data {"type":"error","error":{"type","message"}}. */
int anth_error_event(buf *out, const char *type, const char *msg);

/* Anthropic's stop_reason for chatd's finish_reason: stop and cancelled end_turn, length
 * max_tokens, tool_calls tool_use, content_filter refusal. */
const char *anth_stop_reason(const char *finish);
/* Anthropic's error type for chatd's (invalid_request_error, authentication_error, ...). */
const char *anth_error_type(const char *type);
/* {"type":"error","error":{"type":..,"message":..}} */
int anth_error_body(buf *out, const char *type, const char *msg);

/* The non-streamed message, in three steps: the head up to "content":[, each block (first:
 * the first of them), then the tail. A tool_use block's input is JSON object text. */
int anth_message_open(buf *out, const char *id, const char *model);
int anth_block_text(buf *out, int first, int thinking, const char *p, size_t n);
int anth_block_tool(buf *out, int first, const char *id, size_t idn, const char *name, size_t namen,
                    const char *input, size_t inputn);
int anth_message_close(buf *out, const char *finish, long input_tokens, long output_tokens);

#endif
