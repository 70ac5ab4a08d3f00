/* sse_encode — see sse_encode.h. Every function appends whole events or nothing: on a cap error the
 * buffer is rolled back so a half event never reaches a client. */
#include "sse_encode.h"

#include <string.h>

#include "jsonw.h"

static int head(buf *b, uint64_t id, const char *type)
{
    if (buf_add(b, "id: ", 4) < 0 || jsonw_u64(b, id) < 0 || buf_add(b, "\nevent: ", 8) < 0 ||
        buf_addstr(b, type) < 0)
        return -1;
    return buf_add(b, "\ndata: ", 7);
}

int sse_retry(buf *b, unsigned ms)
{
    size_t mark = buf_len(b);
    if (buf_add(b, "retry: ", 7) < 0 || jsonw_u64(b, ms) < 0 || buf_add(b, "\n\n", 2) < 0) {
        b->len = mark;
        return -1;
    }
    return 0;
}

int sse_event(buf *b, uint64_t id, const char *type, const char *json, size_t n)
{
    size_t mark = buf_len(b);
    if (head(b, id, type) < 0 || buf_add(b, json, n) < 0 || buf_add(b, "\n\n", 2) < 0) {
        b->len = mark;
        return -1;
    }
    return 0;
}

int sse_text(buf *b, uint64_t id, const char *type, const char *text, size_t n)
{
    size_t mark = buf_len(b);
    if (head(b, id, type) < 0 || buf_add(b, "{\"text\":", 8) < 0 || jsonw_str(b, text, n) < 0 ||
        buf_add(b, "}\n\n", 3) < 0) {
        b->len = mark;
        return -1;
    }
    return 0;
}

int sse_comment(buf *b, const char *text)
{
    size_t mark = buf_len(b);
    if (buf_add(b, ": ", 2) < 0 || buf_addstr(b, text) < 0 || buf_add(b, "\n\n", 2) < 0) {
        b->len = mark;
        return -1;
    }
    return 0;
}
