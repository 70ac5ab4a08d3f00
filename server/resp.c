/* resp — see resp.h. */
#include "resp.h"

#include <string.h>

#include "anth_out.h"
#include "buf.h"
#include "jsonw.h"
#include "oai.h"

static __thread const resp_ctx *current;

void resp_begin(const resp_ctx *ctx)
{
    current = ctx;
}

void resp_end(void)
{
    current = NULL;
}

enum MHD_Result resp_queue(struct MHD_Connection *mc, unsigned status, struct MHD_Response *r)
{
    if (current && current->request_id)
        MHD_add_response_header(r, "X-Request-Id", current->request_id);
    if (current && current->cors) {
        MHD_add_response_header(r, "Access-Control-Allow-Origin", current->cors);
        MHD_add_response_header(r, "Vary", "Origin");
        MHD_add_response_header(r, "Access-Control-Expose-Headers",
                                "X-Chatd-Stream-Id, X-Request-Id, Retry-After");
    }
    return MHD_queue_response(mc, status, r);
}

static enum MHD_Result queue_json(struct MHD_Connection *mc, unsigned status, const char *json,
                                  size_t n, const char *hname, const char *hvalue)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(n, (void *)json, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (hname)
        MHD_add_response_header(r, hname, hvalue);
    enum MHD_Result rc = resp_queue(mc, status, r);
    MHD_destroy_response(r);
    return rc;
}

enum MHD_Result resp_json(struct MHD_Connection *mc, unsigned status, const char *json, size_t n)
{
    return queue_json(mc, status, json, n, NULL, NULL);
}

static int native_error(buf *b, const char *type, const char *msg)
{
    buf_addstr(b, "{\"error\":{\"type\":");
    jsonw_str(b, type, strlen(type));
    buf_addstr(b, ",\"message\":");
    jsonw_str(b, msg, strlen(msg));
    buf_addstr(b, "}}");
    return buf_failed(b) ? -1 : 0;
}

enum MHD_Result resp_error(struct MHD_Connection *mc, api_kind api, unsigned status,
                           const char *type, const char *msg, const char *hname,
                           const char *hvalue)
{
    buf b;
    buf_init(&b, 4096);
    int bad = api == API_OPENAI      ? oai_error_body(&b, type, msg)
              : api == API_ANTHROPIC ? anth_error_body(&b, type, msg)
                                     : native_error(&b, type, msg);
    enum MHD_Result rc = bad ? MHD_NO : queue_json(mc, status, buf_ptr(&b), buf_len(&b), hname, hvalue);
    buf_free(&b);
    return rc;
}
