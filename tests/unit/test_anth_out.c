/* Unit tests: anth_out — Anthropic's event stream and message, byte for byte: blocks
 * opened and closed as the kinds of output change, indexes over every block, tool
 * arguments at their call's block, stop reasons, usage and error shapes. */
#include <check.h>

#include "check_main.h"
#include <string.h>

#include "anth_out.h"

static void assert_bytes_of(const buf *out, const char *want, const char *what)
{
    size_t n = strlen(want);
    if (buf_len(out) != n || memcmp(buf_ptr(out), want, n) != 0)
        ck_abort_msg("%s:\ngot  <%.*s>\nwant <%s>", what, (int)buf_len(out), buf_ptr(out), want);
}

#define EV(name, json) "event: " name "\ndata: " json "\n\n"
#define START_TEXT(i)                                                                              \
    EV("content_block_start", "{\"type\":\"content_block_start\",\"index\":" #i                    \
                              ",\"content_block\":{\"type\":\"text\",\"text\":\"\"}}")
#define START_THINKING(i)                                                                          \
    EV("content_block_start", "{\"type\":\"content_block_start\",\"index\":" #i                    \
                              ",\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\","       \
                              "\"signature\":\"\"}}")
#define TEXT(i, t)                                                                                 \
    EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":" #i                    \
                              ",\"delta\":{\"type\":\"text_delta\",\"text\":\"" t "\"}}")
#define THINK(i, t)                                                                                \
    EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":" #i                    \
                              ",\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"" t "\"}}")
#define TOOL(i, id, name)                                                                          \
    EV("content_block_start", "{\"type\":\"content_block_start\",\"index\":" #i                    \
                              ",\"content_block\":{\"type\":\"tool_use\",\"id\":\"" id             \
                              "\",\"name\":\"" name "\",\"input\":{}}}")
#define ARGS(i, j)                                                                                 \
    EV("content_block_delta",                                                                      \
       "{\"type\":\"content_block_delta\",\"index\":" #i                                           \
       ",\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":" j "}}")
#define STOP(i) EV("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":" #i "}")
#define END(reason, usage)                                                                         \
    EV("message_delta", "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"" reason         \
                        "\",\"stop_sequence\":null},\"usage\":" usage "}")                         \
    EV("message_stop", "{\"type\":\"message_stop\"}")

START_TEST(message_start_and_ping)
{
    buf out;
    buf_init(&out, 4096);
    ck_assert_int_eq(anth_message_start(&out, "abc", "m\"x", -1), 0);
    ck_assert_int_eq(anth_message_start(&out, "abc", "m", 12), 0);
    assert_bytes_of(
        &out,
        EV("message_start", "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_abc\","
                            "\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\\\"x\","
                            "\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,"
                            "\"usage\":{\"input_tokens\":0,\"output_tokens\":0}}}")
            EV("ping", "{\"type\":\"ping\"}")
                EV("message_start", "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_abc\","
                                    "\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\","
                                    "\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,"
                                    "\"usage\":{\"input_tokens\":12,\"output_tokens\":0}}}")
                    EV("ping", "{\"type\":\"ping\"}"),
        "message_start");
    buf_free(&out);
}
END_TEST

/* thinking, text, a tool call, text after it, then the end: each change of kind closes the
 * open block and opens the next at the next index; an empty fragment writes nothing. */
START_TEST(blocks_follow_the_kinds)
{
    anth_stream s;
    anth_stream_init(&s, 1 << 20);
    buf out;
    buf_init(&out, 1 << 16);
    ck_assert_int_eq(anth_text(&s, &out, 1, "hm", 2), 0);
    ck_assert_int_eq(anth_text(&s, &out, 0, "H", 1), 0);
    ck_assert_int_eq(anth_text(&s, &out, 0, "\xc3\xa9", 2), 0);
    ck_assert_int_eq(anth_tool(&s, &out, 0, "call_1", 6, "get_weather", 11), 0);
    ck_assert_int_eq(anth_tool_args(&s, &out, 0, "{\"c", 3), 0);
    ck_assert_int_eq(anth_tool_args(&s, &out, 0, "", 0), 0);
    ck_assert_int_eq(anth_tool_args(&s, &out, 0, "\":1}", 4), 0);
    ck_assert_int_eq(anth_text(&s, &out, 0, "!", 1), 0);
    ck_assert_int_eq(anth_done(&s, &out, "tool_calls", 7, 9), 1);
    assert_bytes_of(&out,
                    START_THINKING(0) THINK(0, "hm") STOP(0) START_TEXT(1) TEXT(1, "H")
                        TEXT(1, "\xc3\xa9") STOP(1) TOOL(2, "call_1", "get_weather")
                            ARGS(2, "\"{\\\"c\"") ARGS(2, "\"\\\":1}\"") STOP(2) START_TEXT(3)
                                TEXT(3, "!") STOP(3)
                                    END("tool_use", "{\"input_tokens\":7,\"output_tokens\":9}"),
                    "blocks");
    buf_free(&out);
    anth_stream_free(&s);
}
END_TEST

/* Interleaved calls, as OpenAI streams parallel calls: the first call's block stays open
 * and its fragments stream live; the second call, started while it is open, is held
 * with its fragments and follows as a whole block after the first one's stop. */
START_TEST(interleaved_calls_follow_whole)
{
    anth_stream s;
    anth_stream_init(&s, 1 << 20);
    buf out;
    buf_init(&out, 1 << 16);
    ck_assert_int_eq(anth_text(&s, &out, 0, "H", 1), 0);
    ck_assert_int_eq(anth_tool(&s, &out, 0, "a", 1, "f", 1), 0);
    ck_assert_int_eq(anth_tool_args(&s, &out, 0, "{\"a", 3), 0);
    ck_assert_int_eq(anth_tool(&s, &out, 1, "b", 1, "g", 1), 0);
    ck_assert_int_eq(anth_tool_args(&s, &out, 1, "{\"t", 3), 0);
    ck_assert_int_eq(anth_tool_args(&s, &out, 0, "\":1}", 4), 0);
    ck_assert_int_eq(anth_tool_args(&s, &out, 1, "", 0), 0);
    ck_assert_int_eq(anth_tool_args(&s, &out, 1, "\":2}", 4), 0);
    assert_bytes_of(&out,
                    START_TEXT(0) TEXT(0, "H") STOP(0) TOOL(1, "a", "f") ARGS(1, "\"{\\\"a\"")
                        ARGS(1, "\"\\\":1}\""),
                    "before the end");
    ck_assert_int_eq(anth_done(&s, &out, "tool_calls", -1, -1), 1);
    assert_bytes_of(&out,
                    START_TEXT(0) TEXT(0, "H") STOP(0) TOOL(1, "a", "f") ARGS(1, "\"{\\\"a\"")
                        ARGS(1, "\"\\\":1}\"") STOP(1) TOOL(2, "b", "g") ARGS(2, "\"{\\\"t\"")
                            ARGS(2, "\"\\\":2}\"") STOP(2) END("tool_use", "{\"output_tokens\":0}"),
                    "interleaved");
    buf_free(&out);
    anth_stream_free(&s);
}
END_TEST

/* Text between a call's fragments and after a later call: held, never into the open
 * tool_use block; at the end the held text, the later call and the text after it follow
 * as blocks in order of first appearance, one text delta per cluster. */
START_TEST(text_between_fragments_is_held)
{
    anth_stream s;
    anth_stream_init(&s, 1 << 20);
    buf out;
    buf_init(&out, 1 << 16);
    ck_assert_int_eq(anth_tool(&s, &out, 0, "a", 1, "f", 1), 0);
    ck_assert_int_eq(anth_tool_args(&s, &out, 0, "{", 1), 0);
    ck_assert_int_eq(anth_text(&s, &out, 0, "x", 1), 0);
    ck_assert_int_eq(anth_text(&s, &out, 0, "\xc3\xa9", 2), 0);
    ck_assert_int_eq(anth_tool_args(&s, &out, 0, "}", 1), 0);
    ck_assert_int_eq(anth_tool(&s, &out, 1, "b", 1, "g", 1), 0);
    ck_assert_int_eq(anth_tool_args(&s, &out, 1, "{}", 2), 0);
    ck_assert_int_eq(anth_text(&s, &out, 0, "z", 1), 0);
    assert_bytes_of(&out, TOOL(0, "a", "f") ARGS(0, "\"{\"") ARGS(0, "\"}\""), "before the end");
    ck_assert_int_eq(anth_done(&s, &out, "tool_calls", 2, 3), 1);
    assert_bytes_of(&out,
                    TOOL(0, "a", "f") ARGS(0, "\"{\"") ARGS(0, "\"}\"") STOP(0) START_TEXT(1)
                        TEXT(1, "x") TEXT(1, "\xc3\xa9") STOP(1) TOOL(2, "b", "g") ARGS(2, "\"{}\"")
                            STOP(2) START_TEXT(3) TEXT(3, "z") STOP(3)
                                END("tool_use", "{\"input_tokens\":2,\"output_tokens\":3}"),
                    "text between");
    buf_free(&out);
    anth_stream_free(&s);
}
END_TEST

/* Calls one after the other, then thinking and text after them: the second call (which
 * may start before the first has all its fragments, for all chatd knows) is held, a
 * call without fragments is a block with no delta, and the thinking and text after the
 * calls are their own blocks. */
START_TEST(text_after_calls_follows_them)
{
    anth_stream s;
    anth_stream_init(&s, 1 << 20);
    buf out;
    buf_init(&out, 1 << 16);
    ck_assert_int_eq(anth_tool(&s, &out, 0, "a", 1, "f", 1), 0);
    ck_assert_int_eq(anth_tool_args(&s, &out, 0, "{}", 2), 0);
    ck_assert_int_eq(anth_tool(&s, &out, 1, "b", 1, "g", 1), 0);
    ck_assert_int_eq(anth_tool(&s, &out, 1, "b", 1, "g", 1), 0); /* a second start: nothing */
    ck_assert_int_eq(anth_tool(&s, &out, 2, "c", 1, "h", 1), 0);
    ck_assert_int_eq(anth_tool_args(&s, &out, 2, "{}", 2), 0);
    ck_assert_int_eq(anth_text(&s, &out, 1, "t", 1), 0);
    ck_assert_int_eq(anth_text(&s, &out, 0, "o", 1), 0);
    ck_assert_int_eq(anth_text(&s, &out, 0, "k", 1), 0);
    ck_assert_int_eq(anth_done(&s, &out, "tool_calls", -1, 1), 1);
    assert_bytes_of(&out,
                    TOOL(0, "a", "f") ARGS(0, "\"{}\"") STOP(0) TOOL(1, "b", "g") STOP(1)
                        TOOL(2, "c", "h") ARGS(2, "\"{}\"") STOP(2) START_THINKING(3) THINK(3, "t")
                            STOP(3) START_TEXT(4) TEXT(4, "o") TEXT(4, "k") STOP(4)
                                END("tool_use", "{\"output_tokens\":1}"),
                    "text after");
    buf_free(&out);
    anth_stream_free(&s);
}
END_TEST

/* A single call: each event is written as it arrives, nothing waits for the end. */
START_TEST(single_call_streams_live)
{
    anth_stream s;
    anth_stream_init(&s, 1 << 20);
    buf out;
    buf_init(&out, 1 << 16);
    ck_assert_int_eq(anth_text(&s, &out, 0, "H", 1), 0);
    assert_bytes_of(&out, START_TEXT(0) TEXT(0, "H"), "text");
    buf_reset(&out);
    ck_assert_int_eq(anth_tool(&s, &out, 0, "a", 1, "f", 1), 0);
    assert_bytes_of(&out, STOP(0) TOOL(1, "a", "f"), "start");
    buf_reset(&out);
    ck_assert_int_eq(anth_tool_args(&s, &out, 0, "{\"a", 3), 0);
    assert_bytes_of(&out, ARGS(1, "\"{\\\"a\""), "fragment");
    buf_reset(&out);
    ck_assert_int_eq(anth_tool_args(&s, &out, 0, "\":1}", 4), 0);
    assert_bytes_of(&out, ARGS(1, "\"\\\":1}\""), "last fragment");
    buf_reset(&out);
    ck_assert_int_eq(anth_done(&s, &out, "tool_calls", -1, 2), 1);
    assert_bytes_of(&out, STOP(1) END("tool_use", "{\"output_tokens\":2}"), "end");
    ck_assert_uint_eq(buf_len(&s.held), 0);
    buf_free(&out);
    anth_stream_free(&s);
}
END_TEST

/* Much held: anth_done writes it some ANTH_DRAIN_STEP bytes at a time (0: call again),
 * the pieces together the same bytes as one write. */
START_TEST(held_blocks_drain_in_steps)
{
    anth_stream s;
    anth_stream_init(&s, 1 << 20);
    buf out, want;
    buf_init(&out, 1 << 20);
    buf_init(&want, 1 << 20);
    ck_assert_int_eq(anth_tool(&s, &out, 0, "a", 1, "f", 1), 0);
    ck_assert_int_eq(anth_tool(&s, &out, 1, "b", 1, "g", 1), 0);
    buf_addstr(&want, TOOL(0, "a", "f") STOP(0) TOOL(1, "b", "g"));
    for (int i = 0; i < 400; i++) {
        ck_assert_int_eq(anth_tool_args(&s, &out, 1, "1", 1), 0);
        buf_addstr(&want, ARGS(1, "\"1\""));
    }
    buf_addstr(&want, STOP(1) START_TEXT(2));
    for (int i = 0; i < 400; i++) {
        ck_assert_int_eq(anth_text(&s, &out, 0, "x", 1), 0);
        buf_addstr(&want, TEXT(2, "x"));
    }
    buf_addstr(&want, STOP(2) END("tool_use", "{\"output_tokens\":0}"));
    int rc, calls = 0;
    while ((rc = anth_done(&s, &out, "tool_calls", -1, -1)) == 0) {
        calls++;
        ck_assert_int_lt(calls, 100);
    }
    ck_assert_int_eq(rc, 1);
    ck_assert_int_ge(calls, (int)(buf_len(&want) / (2 * ANTH_DRAIN_STEP)));
    ck_assert_int_eq(buf_failed(&want), 0);
    ck_assert_uint_eq(buf_len(&out), buf_len(&want));
    ck_assert(!memcmp(buf_ptr(&out), buf_ptr(&want), buf_len(&want)));
    buf_free(&out);
    buf_free(&want);
    anth_stream_free(&s);
}
END_TEST

/* Held bytes over their cap: -1, as a full out is. */
START_TEST(held_over_cap_is_refused)
{
    anth_stream s;
    anth_stream_init(&s, 8);
    buf out;
    buf_init(&out, 4096);
    ck_assert_int_eq(anth_tool(&s, &out, 0, "a", 1, "f", 1), 0);
    ck_assert_int_eq(anth_text(&s, &out, 0, "x", 1), 0);
    ck_assert_int_eq(anth_text(&s, &out, 0, "y", 1), -1);
    ck_assert_int_eq(anth_tool(&s, &out, 1, "bbbbbbbb", 8, "g", 1), -1);
    buf_free(&out);
    anth_stream_free(&s);
}
END_TEST

/* Arguments for a call that never started, or an index out of range: an error, no bytes. */
START_TEST(arguments_without_a_start_are_refused)
{
    anth_stream s;
    anth_stream_init(&s, 1 << 20);
    buf out;
    buf_init(&out, 4096);
    ck_assert_int_eq(anth_tool_args(&s, &out, 0, "{}", 2), -1);
    ck_assert_int_eq(anth_tool(&s, &out, ANTH_TOOLS_MAX, "a", 1, "f", 1), -1);
    ck_assert_int_eq(anth_tool_args(&s, &out, -1, "{}", 2), -1);
    ck_assert_uint_eq(buf_len(&out), 0);
    buf_free(&out);
    anth_stream_free(&s);
}
END_TEST

/* A done with no block open: only message_delta and message_stop. */
START_TEST(empty_answer_ends_plainly)
{
    anth_stream s;
    anth_stream_init(&s, 1 << 20);
    buf out;
    buf_init(&out, 4096);
    ck_assert_int_eq(anth_done(&s, &out, "length", 3, 0), 1);
    assert_bytes_of(&out, END("max_tokens", "{\"input_tokens\":3,\"output_tokens\":0}"), "empty");
    buf_free(&out);
    anth_stream_free(&s);
}
END_TEST

START_TEST(stop_reasons_and_error_types)
{
    static const char *const stops[][2] = {{"stop", "end_turn"},
                                           {"cancelled", "end_turn"},
                                           {"length", "max_tokens"},
                                           {"tool_calls", "tool_use"},
                                           {"content_filter", "refusal"},
                                           {"whatever", "end_turn"},
                                           {"stop_sequence", "stop_sequence"}};
    for (size_t i = 0; i < sizeof(stops) / sizeof(stops[0]); i++)
        ck_assert_str_eq(anth_stop_reason(stops[i][0]), stops[i][1]);
    static const char *const types[][2] = {{"invalid_request", "invalid_request_error"},
                                           {"unsupported_parameter", "invalid_request_error"},
                                           {"method_not_allowed", "invalid_request_error"},
                                           {"unauthorized", "authentication_error"},
                                           {"not_found", "not_found_error"},
                                           {"rate_limited", "rate_limit_error"},
                                           {"overloaded", "overloaded_error"},
                                           {"payload_too_large", "request_too_large"},
                                           {"upstream_error", "api_error"},
                                           {"upstream_timeout", "api_error"}};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        ck_assert_str_eq(anth_error_type(types[i][0]), types[i][1]);
}
END_TEST

START_TEST(error_shapes)
{
    buf out;
    buf_init(&out, 4096);
    ck_assert_int_eq(anth_error_event(&out, "upstream_error", "boom \"x\""), 0);
    ck_assert_int_eq(anth_error_body(&out, "unauthorized", "key"), 0);
    assert_bytes_of(&out,
                    EV("error",
                       "{\"type\":\"error\",\"error\":{\"type\":\"api_error\","
                       "\"message\":\"boom \\\"x\\\"\"}}") "{\"type\":\"error\",\"error\":{"
                                                           "\"type\":\"authentication_error\","
                                                           "\"message\":\"key\"}}",
                    "errors");
    buf_free(&out);
}
END_TEST

START_TEST(whole_message)
{
    buf out;
    buf_init(&out, 4096);
    ck_assert_int_eq(anth_message_open(&out, "abc", "m"), 0);
    ck_assert_int_eq(anth_block_text(&out, 1, 1, "hm", 2), 0);
    ck_assert_int_eq(anth_block_text(&out, 0, 0, "Hi\n", 3), 0);
    ck_assert_int_eq(anth_block_tool(&out, 0, "t1", 2, "f", 1, "{\"a\": 1}", 8), 0);
    ck_assert_int_eq(anth_message_close(&out, "tool_calls", -1, 4), 0);
    assert_bytes_of(
        &out,
        "{\"id\":\"msg_abc\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\","
        "\"content\":[{\"type\":\"thinking\",\"thinking\":\"hm\",\"signature\":\"\"},"
        "{\"type\":\"text\",\"text\":\"Hi\\n\"},{\"type\":\"tool_use\",\"id\":\"t1\","
        "\"name\":\"f\",\"input\":{\"a\": 1}}],\"stop_reason\":\"tool_use\","
        "\"stop_sequence\":null,\"usage\":{\"input_tokens\":0,\"output_tokens\":4}}",
        "message");
    buf_free(&out);
}
END_TEST

/* A full buffer: -1 and the bytes as they were. */
START_TEST(full_buffer_leaves_bytes_as_they_were)
{
    anth_stream s;
    anth_stream_init(&s, 1 << 20);
    buf out;
    buf_init(&out, 40);
    ck_assert_int_eq(buf_addstr(&out, "keep"), 0);
    ck_assert_int_eq(anth_text(&s, &out, 0, "x", 1), -1);
    assert_bytes_of(&out, "keep", "after a failed write");
    buf_free(&out);
    anth_stream_free(&s);
}
END_TEST

int main(void)
{
    return check_tests(
        "anth_out", message_start_and_ping, blocks_follow_the_kinds, interleaved_calls_follow_whole,
        text_between_fragments_is_held, text_after_calls_follows_them, single_call_streams_live,
        held_blocks_drain_in_steps, held_over_cap_is_refused, arguments_without_a_start_are_refused,
        empty_answer_ends_plainly, stop_reasons_and_error_types, error_shapes, whole_message,
        full_buffer_leaves_bytes_as_they_were);
}
