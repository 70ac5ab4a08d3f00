/* ndjson — see ndjson.h. */
#include "ndjson.h"

#include <string.h>

#include "lim.h"

/* A carried line grown past this is freed once handed over, so an idle stream does not
 * keep its largest line's memory. */
static const size_t KEEP_ALLOC = 64u * 1024;

void ndjson_init(ndjson *p)
{
    memset(p, 0, sizeof(*p));
    buf_init(&p->line, LIM_UP_LINE + 1); /* + the CR of a CR LF split across calls */
}

void ndjson_free(ndjson *p)
{
    buf_free(&p->line);
}

/* One byte over the cap is allowed only when it can still be the CR of a CR LF. */
static int carry(ndjson *p, const char *s, size_t n)
{
    size_t have = buf_len(&p->line);
    if (n == 0)
        return 0;
    if (n > LIM_UP_LINE + 1 - have || (have + n > LIM_UP_LINE && s[n - 1] != '\r'))
        return NDJSON_ERR_LINE;
    return buf_add(&p->line, s, n) < 0 ? NDJSON_ERR_NOMEM : 0;
}

static int emit(const char *s, size_t n, ndjson_line_fn cb, void *ctx)
{
    if (n > 0 && s[n - 1] == '\r')
        n--;
    if (n > LIM_UP_LINE)
        return NDJSON_ERR_LINE;
    return n > 0 ? cb(ctx, s, n) : 0;
}

/* A line [s, s+n) just ended; it completes the carried part if there is one. */
static int line_end(ndjson *p, const char *s, size_t n, ndjson_line_fn cb, void *ctx)
{
    if (buf_len(&p->line) == 0)
        return emit(s, n, cb, ctx);
    int rc = carry(p, s, n);
    if (rc == 0)
        rc = emit(buf_ptr(&p->line), buf_len(&p->line), cb, ctx);
    buf_reset(&p->line);
    if (p->line.alloc > KEEP_ALLOC)
        buf_free(&p->line);
    return rc;
}

/* Whole lines are handed over in place; only a trailing partial line is copied. */
static int split(ndjson *p, const char *b, const char *end, ndjson_line_fn cb, void *ctx)
{
    while (b < end) {
        const char *lf = memchr(b, '\n', (size_t)(end - b));
        if (!lf)
            return carry(p, b, (size_t)(end - b));
        int rc = line_end(p, b, (size_t)(lf - b), cb, ctx);
        if (rc)
            return rc;
        b = lf + 1;
    }
    return 0;
}

int ndjson_feed(ndjson *p, const char *b, size_t n, ndjson_line_fn cb, void *ctx)
{
    if (p->err)
        return p->err;
    p->err = n > 0 ? split(p, b, b + n, cb, ctx) : 0;
    return p->err;
}

int ndjson_finish(ndjson *p, ndjson_line_fn cb, void *ctx)
{
    if (p->err)
        return p->err;
    p->err = buf_len(&p->line) ? line_end(p, "", 0, cb, ctx) : 0;
    return p->err;
}
