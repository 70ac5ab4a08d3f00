/* resp — see resp.h. */
#include "resp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { S_HEAD, S_SIZE, S_EXT, S_SIZE_LF, S_DATA, S_DATA_CR, S_DATA_LF, S_TRAILER,
       S_TRAILER_LINE, S_LEN, S_EOF, S_DONE };

/* The value of header `name` in the head, NUL-terminated in place by the caller's copy. */
static const char *header(const char *head, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = strchr(head, '\n'); p && p[1]; p = strchr(p + 1, '\n')) {
        if (strncasecmp(p + 1, name, nl) == 0 && p[1 + nl] == ':') {
            const char *v = p + 2 + nl;
            while (*v == ' ' || *v == '\t')
                v++;
            return v;
        }
    }
    return NULL;
}

/* Parses the complete head; 0 ok, -1 malformed. A 1xx head is dropped and awaited again. */
static int parse_head(resp *r)
{
    int major = 0, minor = 0, status = 0;
    r->head[r->head_len] = '\0';
    if (sscanf(r->head, "HTTP/%d.%d %d", &major, &minor, &status) != 3 || status < 100)
        return -1;
    if (status < 200) {
        r->head_len = 0;
        return 0;
    }
    r->status = status;
    const char *te = header(r->head, "transfer-encoding");
    const char *cl = header(r->head, "content-length");
    r->chunked = te && strncasecmp(te, "chunked", 7) == 0;
    r->has_len = !r->chunked && cl;
    r->left = r->has_len ? strtoull(cl, NULL, 10) : 0;
    r->state = r->chunked ? S_SIZE : r->has_len ? (r->left ? S_LEN : S_DONE) : S_EOF;
    free(r->head);
    r->head = NULL;
    return 0;
}

/* Takes head bytes; returns how many were used, or -1. */
static long feed_head(resp *r, const char *p, size_t n)
{
    if (!r->head && !(r->head = malloc(RESP_HEAD_MAX + 1)))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (r->head_len >= RESP_HEAD_MAX)
            return -1;
        r->head[r->head_len++] = p[i];
        if (r->head_len >= 4 && memcmp(r->head + r->head_len - 4, "\r\n\r\n", 4) == 0)
            return parse_head(r) < 0 ? -1 : (long)i + 1;
    }
    return (long)n;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* One framing byte of a chunked body (anything but chunk data). 0 ok, -1 malformed. */
static int chunk_byte(resp *r, char c)
{
    switch (r->state) {
    case S_SIZE:
        if (hexval(c) >= 0 && r->left < ((uint64_t)1 << 40)) {
            r->left = r->left * 16 + (uint64_t)hexval(c);
            return 0;
        }
        r->state = c == '\r' ? S_SIZE_LF : c == ';' ? S_EXT : -1;
        return r->state < 0 ? -1 : 0;
    case S_EXT:
        r->state = c == '\r' ? S_SIZE_LF : S_EXT;
        return 0;
    case S_SIZE_LF:
        if (c != '\n')
            return -1;
        r->state = r->left ? S_DATA : S_TRAILER;
        return 0;
    case S_DATA_CR:
        r->state = S_DATA_LF;
        return c == '\r' ? 0 : -1;
    case S_DATA_LF:
        r->state = S_SIZE;
        return c == '\n' ? 0 : -1;
    case S_TRAILER: /* at a line start: CR LF ends the message, anything else a trailer */
        r->state = c == '\r' ? S_TRAILER : c == '\n' ? S_DONE : S_TRAILER_LINE;
        return 0;
    case S_TRAILER_LINE:
        r->state = c == '\n' ? S_TRAILER : S_TRAILER_LINE;
        return 0;
    }
    return -1;
}

/* Of n body bytes at hand, how many belong to the current data run. */
static size_t data_run(resp *r, size_t n)
{
    size_t take = r->state == S_EOF ? n : (size_t)(r->left < n ? r->left : n);
    if (r->state != S_EOF)
        r->left -= take;
    if (r->state == S_DATA && r->left == 0)
        r->state = S_DATA_CR;
    else if (r->state == S_LEN && r->left == 0)
        r->state = S_DONE;
    return take;
}

int resp_feed(resp *r, const char *p, size_t n, resp_body_fn fn, void *ud)
{
    size_t i = 0;
    while (i < n && r->state != S_DONE) {
        if (r->state == S_HEAD) {
            long used = feed_head(r, p + i, n - i);
            if (used < 0)
                return RESP_ERR;
            i += (size_t)used;
        } else if (r->state == S_DATA || r->state == S_LEN || r->state == S_EOF) {
            size_t take = data_run(r, n - i);
            int rc = fn(ud, p + i, take);
            if (rc)
                return rc;
            i += take;
        } else if (chunk_byte(r, p[i++]) < 0) {
            return RESP_ERR;
        }
    }
    return r->state == S_DONE ? RESP_DONE : RESP_MORE;
}

int resp_eof(resp *r)
{
    return r->state == S_EOF || r->state == S_DONE ? RESP_DONE : RESP_ERR;
}

void resp_free(resp *r)
{
    free(r->head);
    r->head = NULL;
}
