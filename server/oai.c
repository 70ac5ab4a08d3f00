/* oai — see oai.h. */
#include "oai.h"

#include <stdio.h>
#include <string.h>

#include "jsonw.h"

/* Every writer below appends its pieces as plain statements (buf's error is sticky) and
 * checks once: on failure the buffer goes back to where it was, so a half chunk never
 * reaches a client; the error stays set for the caller to see. */
static int done(buf *b, size_t mark)
{
    if (buf_failed(b)) {
        b->len = mark;
        return -1;
    }
    return 0;
}

int oai_chunk_head(buf *b, const char *id, long created, const char *model)
{
    size_t mark = buf_len(b);
    buf_addstr(b, "{\"id\":\"chatcmpl-");
    buf_addstr(b, id);
    buf_addf(b, "\",\"object\":\"chat.completion.chunk\",\"created\":%ld,\"model\":", created);
    jsonw_str(b, model, strlen(model));
    return done(b, mark);
}

int oai_chunk_role(buf *out, const char *head, size_t hn)
{
    size_t mark = buf_len(out);
    buf_add(out, "data: ", 6);
    buf_add(out, head, hn);
    buf_addstr(out, ",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
                    "\"content\":\"\"},\"finish_reason\":null}]}\n\n");
    return done(out, mark);
}

int oai_chunk_text(buf *out, const char *head, size_t hn, int reasoning, const char *p, size_t n)
{
    size_t mark = buf_len(out);
    const char *field = reasoning ? ",\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":"
                                   : ",\"choices\":[{\"index\":0,\"delta\":{\"content\":";
    buf_add(out, "data: ", 6);
    buf_add(out, head, hn);
    buf_addstr(out, field);
    jsonw_str(out, p, n);
    buf_addstr(out, "},\"finish_reason\":null}]}\n\n");
    return done(out, mark);
}

int oai_chunk_tool(buf *out, const char *head, size_t hn, int index, const char *id,
                   const char *name)
{
    size_t mark = buf_len(out);
    buf_add(out, "data: ", 6);
    buf_add(out, head, hn);
    buf_addf(out, ",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":%d,\"id\":",
             index);
    jsonw_str(out, id, strlen(id));
    buf_addstr(out, ",\"type\":\"function\",\"function\":{\"name\":");
    jsonw_str(out, name, strlen(name));
    buf_addstr(out, ",\"arguments\":\"\"}}]},\"finish_reason\":null}]}\n\n");
    return done(out, mark);
}

int oai_chunk_tool_args(buf *out, const char *head, size_t hn, int index, const char *p, size_t n)
{
    size_t mark = buf_len(out);
    buf_add(out, "data: ", 6);
    buf_add(out, head, hn);
    buf_addf(out,
             ",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":%d,"
             "\"function\":{\"arguments\":",
             index);
    jsonw_str(out, p, n);
    buf_addstr(out, "}}]},\"finish_reason\":null}]}\n\n");
    return done(out, mark);
}

static void usage_obj(buf *b, long prompt, long completion)
{
    buf_addf(b, "\"usage\":{\"prompt_tokens\":%ld,\"completion_tokens\":%ld,\"total_tokens\":%ld}",
             prompt, completion, prompt + completion);
}

int oai_chunk_end(buf *out, const char *head, size_t hn, const char *finish, int with_usage,
                  long prompt, long completion)
{
    size_t mark = buf_len(out);
    buf_add(out, "data: ", 6);
    buf_add(out, head, hn);
    buf_addstr(out, ",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":");
    jsonw_str(out, finish, strlen(finish));
    buf_addstr(out, "}]}\n\n");
    if (with_usage) {
        buf_add(out, "data: ", 6);
        buf_add(out, head, hn);
        buf_addstr(out, ",\"choices\":[],");
        usage_obj(out, prompt < 0 ? 0 : prompt, completion < 0 ? 0 : completion);
        buf_addstr(out, "}\n\n");
    }
    buf_addstr(out, "data: [DONE]\n\n");
    return done(out, mark);
}

/* chatd's error types in OpenAI's vocabulary (the SDKs key their classes on the status). */
static const char *oai_type(const char *type)
{
    static const struct {
        const char *ours, *theirs;
    } map[] = {
        {"invalid_request", "invalid_request_error"},
        {"unsupported_parameter", "invalid_request_error"},
        {"unsupported_media_type", "invalid_request_error"},
        {"payload_too_large", "invalid_request_error"},
        {"method_not_allowed", "invalid_request_error"},
        {"not_found", "not_found_error"},
        {"model_not_found", "invalid_request_error"},
        {"unauthorized", "authentication_error"},
        {"rate_limited", "rate_limit_error"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (!strcmp(type, map[i].ours))
            return map[i].theirs;
    return "server_error";
}

static void error_obj(buf *b, const char *type, const char *msg)
{
    const char *t = oai_type(type);
    buf_addstr(b, "{\"error\":{\"message\":");
    jsonw_str(b, msg, strlen(msg));
    buf_addstr(b, ",\"type\":");
    jsonw_str(b, t, strlen(t));
    buf_addstr(b, ",\"param\":null,\"code\":");
    jsonw_str(b, type, strlen(type));
    buf_addstr(b, "}}");
}

int oai_chunk_error(buf *out, const char *type, const char *msg)
{
    size_t mark = buf_len(out);
    buf_add(out, "data: ", 6);
    error_obj(out, type, msg);
    buf_addstr(out, "\n\n");
    return done(out, mark);
}

int oai_error_body(buf *out, const char *type, const char *msg)
{
    size_t mark = buf_len(out);
    error_obj(out, type, msg);
    return done(out, mark);
}

int oai_completion(buf *out, const char *id, long created, const char *model, const char *text,
                   size_t tn, const char *reasoning, size_t rn, const char *tools, size_t ton,
                   const char *finish, long prompt, long completion)
{
    size_t mark = buf_len(out);
    buf_addstr(out, "{\"id\":\"chatcmpl-");
    buf_addstr(out, id);
    buf_addf(out, "\",\"object\":\"chat.completion\",\"created\":%ld,\"model\":", created);
    jsonw_str(out, model, strlen(model));
    buf_addstr(out, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
    if (tn || !ton)
        jsonw_str(out, text, tn);
    else
        buf_addstr(out, "null"); /* OpenAI's answer that is only tool calls */
    if (ton) {
        buf_addstr(out, ",\"tool_calls\":");
        buf_add(out, tools, ton);
    }
    if (rn) {
        buf_addstr(out, ",\"reasoning_content\":");
        jsonw_str(out, reasoning, rn);
    }
    buf_addstr(out, "},\"logprobs\":null,\"finish_reason\":");
    jsonw_str(out, finish, strlen(finish));
    buf_addstr(out, "}],");
    usage_obj(out, prompt < 0 ? 0 : prompt, completion < 0 ? 0 : completion);
    buf_addstr(out, "}");
    return done(out, mark);
}
