/* anth_out — encodes chatd's output in Anthropic's Messages shapes: the event stream
 * (message_start, ping, content_block_start/delta/stop, message_delta, message_stop,
 * error), the single message object, and Anthropic's error object. anth_stream keeps the
 * open block and what has to wait for it (see "The stream's order" below). Appends to
 * caller-owned bufs; a failed call (-1) leaves the buf's bytes as they were, with its
 * sticky error set. */
#ifndef CHATD_ANTH_OUT_H
#define CHATD_ANTH_OUT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define ANTH_TOOLS_MAX 128 /* tool calls in one answer (the store's STREAM_TOOLS_MAX) */

enum { ANTH_NONE, ANTH_TEXT, ANTH_THINKING, ANTH_TOOL };

/* The stream's order. Anthropic's stream has one open block at a time and no delta after
 * a block's content_block_stop, while an upstream may interleave two calls' argument
 * fragments or send text between a call's fragments. So: text and thinking stream live,
 * one cluster per delta, as long as no tool call has started. The first tool call's
 * tool_use block opens and stays open until the end, its own fragments streamed live as
 * input_json_delta. Anything else that arrives while it is open (another call's start
 * or fragments, text, thinking) is held, and anth_done writes it after the open block's
 * content_block_stop as whole blocks in order of first appearance: a tool_use block with
 * each of its fragments as one input_json_delta, a text (thinking) block with one delta
 * per held cluster, held clusters of one kind in a row sharing a block unless a held
 * call's start comes between them. Block indexes count from 0 in the order written. */
typedef struct anth_stream {
    int open;                      /* ANTH_*: the kind of the open block */
    int index;                     /* the open block's index */
    int blocks;                    /* blocks started */
    int tool;                      /* ANTH_TOOL: the answer's tool call in the open block */
    int ending;                    /* anth_done has begun writing what was held */
    uint8_t state[ANTH_TOOLS_MAX]; /* each tool call: 0 not started, 1 live, 2 held */
    buf held;                      /* what waits for the end, as records in arrival order */
    size_t at, arg_at;             /* anth_done's place in held, and in a held call's args */
} anth_stream;

/* held_cap: the most bytes held (each held cluster or fragment adds 4 to its own). */
void anth_stream_init(anth_stream *s, size_t held_cap);
void anth_stream_free(anth_stream *s);
/* message_start (id "msg_<id>", empty content, input_tokens or 0 when < 0), then a ping. */
int anth_message_start(buf *out, const char *id, const char *model, long input_tokens);
/* One piece of text (thinking: of the thinking text) as a text_delta (thinking_delta),
 * in the open block of its kind, or after closing the open block and starting one; held
 * while a tool_use block is open. -1 when out or the held bytes are full. */
int anth_text(anth_stream *s, buf *out, int thinking, const char *p, size_t n);
/* A tool call starts: the open block closes, a tool_use block {id, name, input:{}} opens;
 * held while another call's block is open. A call's second start writes nothing. */
int anth_tool(anth_stream *s, buf *out, int tool, const char *id, size_t idn, const char *name,
              size_t namen);
/* A fragment of tool call `tool`'s arguments: an input_json_delta when its block is the
 * open one, held when the call is held. An empty fragment writes nothing; one for a call
 * that never started is an error (-1). */
int anth_tool_args(anth_stream *s, buf *out, int tool, const char *p, size_t n);
/* The end: the open block closes, the held blocks follow, then message_delta
 * {stop_reason, usage} and message_stop. The held blocks are written some ANTH_DRAIN_STEP
 * bytes at a time: 0 when more remain (call again, with the same arguments, once out has
 * room), 1 once message_stop is written, -1 when out is full. */
#define ANTH_DRAIN_STEP 8192
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
