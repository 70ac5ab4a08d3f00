/* anth_out — see anth_out.h. */
#include "anth_out.h"

#include <string.h>

#include "jsonw.h"

/* As in oai.c: pieces appended as plain statements (buf's error is sticky), one check;
 * on failure the buffer goes back to where it was. */
static int done(buf *b, size_t mark)
{
    if (buf_failed(b)) {
        b->len = mark;
        return -1;
    }
    return 0;
}

static void str(buf *b, const char *s, size_t n)
{
    jsonw_str(b, s, n);
}

/* "event: NAME\ndata: " — the JSON and "\n\n" follow. */
static void event(buf *out, const char *name)
{
    buf_addstr(out, "event: ");
    buf_addstr(out, name);
    buf_addstr(out, "\ndata: ");
}

void anth_stream_init(anth_stream *s, size_t held_cap)
{
    memset(s, 0, sizeof(*s));
    buf_init(&s->held, held_cap);
}

void anth_stream_free(anth_stream *s)
{
    buf_free(&s->held);
}

/* A held record: [kind][call index][uint16 length][bytes]; a tool start's bytes are
 * id\0name. */
enum { HELD_TEXT = ANTH_TEXT, HELD_THINKING = ANTH_THINKING, HELD_TOOL, HELD_ARGS };
#define HELD_HEAD 4

static int hold(anth_stream *s, int kind, int tool, const char *a, size_t an, const char *b,
                size_t bn)
{
    size_t n = an + (b ? 1 + bn : 0);
    if (n > UINT16_MAX)
        return -1;
    uint16_t len = (uint16_t)n;
    unsigned char head[2] = {(unsigned char)kind, (unsigned char)tool};
    size_t mark = buf_len(&s->held);
    buf_add(&s->held, head, 2);
    buf_add(&s->held, &len, 2);
    buf_add(&s->held, a, an);
    if (b) {
        buf_add(&s->held, "", 1);
        buf_add(&s->held, b, bn);
    }
    return done(&s->held, mark);
}

typedef struct held_rec {
    int kind, tool;
    const char *p;
    size_t n, next; /* next: the offset after it */
} held_rec;

static held_rec held_at(const anth_stream *s, size_t at)
{
    const unsigned char *h = (const unsigned char *)buf_ptr(&s->held) + at;
    uint16_t len;
    memcpy(&len, h + 2, 2);
    held_rec r = {h[0], h[1], (const char *)h + HELD_HEAD, len, at + HELD_HEAD + len};
    return r;
}

int anth_message_start(buf *out, const char *id, const char *model, long input_tokens)
{
    size_t mark = buf_len(out);
    event(out, "message_start");
    buf_addstr(out, "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_");
    buf_addstr(out, id);
    buf_addstr(out, "\",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
    str(out, model, strlen(model));
    buf_addf(out,
             ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,"
             "\"usage\":{\"input_tokens\":%ld,\"output_tokens\":0}}}\n\n",
             input_tokens < 0 ? 0 : input_tokens);
    event(out, "ping");
    buf_addstr(out, "{\"type\":\"ping\"}\n\n");
    return done(out, mark);
}

static void block_stop(anth_stream *s, buf *out)
{
    if (s->open == ANTH_NONE)
        return;
    event(out, "content_block_stop");
    buf_addf(out, "{\"type\":\"content_block_stop\",\"index\":%d}\n\n", s->index);
    s->open = ANTH_NONE;
}

/* Closes the open block and writes the start of the next one up to its content_block's
 * type-specific fields. */
static void block_start(anth_stream *s, buf *out, int kind)
{
    block_stop(s, out);
    s->open = kind;
    s->index = s->blocks++;
    event(out, "content_block_start");
    buf_addf(out, "{\"type\":\"content_block_start\",\"index\":%d,\"content_block\":", s->index);
}

int anth_text(anth_stream *s, buf *out, int thinking, const char *p, size_t n)
{
    int kind = thinking ? ANTH_THINKING : ANTH_TEXT;
    if (s->open == ANTH_TOOL && !s->ending)
        return hold(s, kind, 0, p, n, NULL, 0);
    size_t mark = buf_len(out);
    if (s->open != kind) {
        block_start(s, out, kind);
        buf_addstr(out, thinking
                            ? "{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}\n\n"
                            : "{\"type\":\"text\",\"text\":\"\"}}\n\n");
    }
    event(out, "content_block_delta");
    buf_addf(out, "{\"type\":\"content_block_delta\",\"index\":%d,\"delta\":", s->index);
    buf_addstr(out, thinking ? "{\"type\":\"thinking_delta\",\"thinking\":"
                             : "{\"type\":\"text_delta\",\"text\":");
    str(out, p, n);
    buf_addstr(out, "}}\n\n");
    return done(out, mark);
}

/* Opens a tool_use block for call `tool`. */
static void tool_start(anth_stream *s, buf *out, int tool, const char *id, size_t idn,
                       const char *name, size_t namen)
{
    block_start(s, out, ANTH_TOOL);
    s->tool = tool;
    buf_addstr(out, "{\"type\":\"tool_use\",\"id\":");
    str(out, id, idn);
    buf_addstr(out, ",\"name\":");
    str(out, name, namen);
    buf_addstr(out, ",\"input\":{}}}\n\n");
}

/* A fragment as an input_json_delta into the open block. */
static void tool_delta(anth_stream *s, buf *out, const char *p, size_t n)
{
    event(out, "content_block_delta");
    buf_addf(out,
             "{\"type\":\"content_block_delta\",\"index\":%d,"
             "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":",
             s->index);
    str(out, p, n);
    buf_addstr(out, "}}\n\n");
}

int anth_tool(anth_stream *s, buf *out, int tool, const char *id, size_t idn, const char *name,
              size_t namen)
{
    if (tool < 0 || tool >= ANTH_TOOLS_MAX)
        return -1;
    if (s->state[tool])
        return 0;
    if (s->open == ANTH_TOOL) {
        if (hold(s, HELD_TOOL, tool, id, idn, name, namen) < 0)
            return -1;
        s->state[tool] = 2;
        return 0;
    }
    size_t mark = buf_len(out);
    tool_start(s, out, tool, id, idn, name, namen);
    if (done(out, mark) < 0)
        return -1;
    s->state[tool] = 1;
    return 0;
}

int anth_tool_args(anth_stream *s, buf *out, int tool, const char *p, size_t n)
{
    if (tool < 0 || tool >= ANTH_TOOLS_MAX || !s->state[tool])
        return -1;
    if (n == 0)
        return 0;
    if (s->state[tool] == 2) /* live: its block is the open one, which stays open */
        return hold(s, HELD_ARGS, tool, p, n, NULL, 0);
    size_t mark = buf_len(out);
    tool_delta(s, out, p, n);
    return done(out, mark);
}

/* One step of writing what was held: the next fragment of the held call whose block is
 * open (or its stop), or the next held record. */
static void drain_one(anth_stream *s, buf *out)
{
    if (s->open == ANTH_TOOL) {
        for (size_t at = s->arg_at; at < buf_len(&s->held);) {
            held_rec r = held_at(s, at);
            at = r.next;
            if (r.kind == HELD_ARGS && r.tool == s->tool) {
                s->arg_at = at;
                tool_delta(s, out, r.p, r.n);
                return;
            }
        }
        block_stop(s, out);
        return;
    }
    held_rec r = held_at(s, s->at);
    s->at = r.next;
    if (r.kind == HELD_TEXT || r.kind == HELD_THINKING) {
        anth_text(s, out, r.kind == HELD_THINKING, r.p, r.n);
    } else if (r.kind == HELD_TOOL) {
        const char *z = memchr(r.p, '\0', r.n);
        size_t idn = z ? (size_t)(z - r.p) : r.n;
        tool_start(s, out, r.tool, r.p, idn, r.p + idn + 1, r.n - idn - (z ? 1 : 0));
        s->arg_at = s->at;
    }
}

static void usage(buf *out, long input_tokens, long output_tokens, int always_input)
{
    buf_addstr(out, "\"usage\":{");
    if (input_tokens >= 0 || always_input)
        buf_addf(out, "\"input_tokens\":%ld,", input_tokens < 0 ? 0 : input_tokens);
    buf_addf(out, "\"output_tokens\":%ld}", output_tokens < 0 ? 0 : output_tokens);
}

int anth_done(anth_stream *s, buf *out, const char *finish, long input_tokens, long output_tokens)
{
    size_t mark = buf_len(out);
    if (!s->ending) {
        block_stop(s, out);
        s->ending = 1;
    }
    while (s->at < buf_len(&s->held) || s->open == ANTH_TOOL) {
        if (buf_len(out) - mark >= ANTH_DRAIN_STEP || buf_failed(out))
            return done(out, mark);
        drain_one(s, out);
    }
    block_stop(s, out);
    event(out, "message_delta");
    buf_addstr(out, "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"");
    buf_addstr(out, anth_stop_reason(finish));
    buf_addstr(out, "\",\"stop_sequence\":null},");
    usage(out, input_tokens, output_tokens, 0);
    buf_addstr(out, "}\n\n");
    event(out, "message_stop");
    buf_addstr(out, "{\"type\":\"message_stop\"}\n\n");
    return done(out, mark) < 0 ? -1 : 1;
}

const char *anth_stop_reason(const char *finish)
{
    static const char *const map[][2] = {
        {"length", "max_tokens"},
        {"tool_calls", "tool_use"},
        {"content_filter", "refusal"},
        {"stop_sequence", "stop_sequence"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (!strcmp(finish, map[i][0]))
            return map[i][1];
    return "end_turn"; /* stop, cancelled, and whatever else ended the answer */
}

const char *anth_error_type(const char *type)
{
    static const char *const map[][2] = {
        {"invalid_request", "invalid_request_error"},
        {"unsupported_parameter", "invalid_request_error"},
        {"unsupported_media_type", "invalid_request_error"},
        {"method_not_allowed", "invalid_request_error"},
        {"header_too_large", "invalid_request_error"},
        {"payload_too_large", "request_too_large"},
        {"unauthorized", "authentication_error"},
        {"forbidden", "permission_error"},
        {"not_found", "not_found_error"},
        {"rate_limited", "rate_limit_error"},
        {"overloaded", "overloaded_error"},
        {"shutdown", "overloaded_error"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (!strcmp(type, map[i][0]))
            return map[i][1];
    return "api_error";
}

static void error_obj(buf *b, const char *type, const char *msg)
{
    buf_addstr(b, "{\"type\":\"error\",\"error\":{\"type\":\"");
    buf_addstr(b, anth_error_type(type));
    buf_addstr(b, "\",\"message\":");
    str(b, msg, strlen(msg));
    buf_addstr(b, "}}");
}

int anth_error_event(buf *out, const char *type, const char *msg)
{
    size_t mark = buf_len(out);
    event(out, "error");
    error_obj(out, type, msg);
    buf_addstr(out, "\n\n");
    return done(out, mark);
}

int anth_error_body(buf *out, const char *type, const char *msg)
{
    size_t mark = buf_len(out);
    error_obj(out, type, msg);
    return done(out, mark);
}

int anth_message_open(buf *out, const char *id, const char *model)
{
    size_t mark = buf_len(out);
    buf_addstr(out, "{\"id\":\"msg_");
    buf_addstr(out, id);
    buf_addstr(out, "\",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
    str(out, model, strlen(model));
    buf_addstr(out, ",\"content\":[");
    return done(out, mark);
}

int anth_block_text(buf *out, int first, int thinking, const char *p, size_t n)
{
    size_t mark = buf_len(out);
    buf_addstr(out, first ? "" : ",");
    buf_addstr(out,
               thinking ? "{\"type\":\"thinking\",\"thinking\":" : "{\"type\":\"text\",\"text\":");
    str(out, p, n);
    buf_addstr(out, thinking ? ",\"signature\":\"\"}" : "}");
    return done(out, mark);
}

int anth_block_tool(buf *out, int first, const char *id, size_t idn, const char *name, size_t namen,
                    const char *input, size_t inputn)
{
    size_t mark = buf_len(out);
    buf_addstr(out, first ? "{\"type\":\"tool_use\",\"id\":" : ",{\"type\":\"tool_use\",\"id\":");
    str(out, id, idn);
    buf_addstr(out, ",\"name\":");
    str(out, name, namen);
    buf_addstr(out, ",\"input\":");
    buf_add(out, input, inputn);
    buf_addstr(out, "}");
    return done(out, mark);
}

int anth_message_close(buf *out, const char *finish, long input_tokens, long output_tokens)
{
    size_t mark = buf_len(out);
    buf_addstr(out, "],\"stop_reason\":\"");
    buf_addstr(out, anth_stop_reason(finish));
    buf_addstr(out, "\",\"stop_sequence\":null,");
    usage(out, input_tokens, output_tokens, 1);
    buf_addstr(out, "}");
    return done(out, mark);
}
