/* sse_parse — see sse_parse.h. */
#include "sse_parse.h"

#include <string.h>

#include "lim.h"

static const char BOM[3] = {'\xEF', '\xBB', '\xBF'};

/* A buffer grown past this by one big line or event is freed once it is empty again, so
 * an idle stream does not keep its largest event's memory. */
static const size_t KEEP_ALLOC = 64u * 1024;

void ssep_init(ssep *p)
{
    memset(p, 0, sizeof(*p));
    buf_init(&p->line, LIM_UP_LINE);
    buf_init(&p->data, LIM_UP_EVENT + 1); /* + the "\n" dropped at dispatch */
    buf_init(&p->type, LIM_UP_LINE);
    buf_init(&p->id, LIM_UP_LINE);
    p->retry = -1;
}

void ssep_free(ssep *p)
{
    buf_free(&p->line);
    buf_free(&p->data);
    buf_free(&p->type);
    buf_free(&p->id);
}

static void trim_alloc(buf *b)
{
    if (b->alloc > KEEP_ALLOC)
        buf_free(b);
}

/* buf_reserve always leaves room for a NUL after the live bytes. */
static const char *cstr(buf *b)
{
    if (!b->data)
        return "";
    b->data[b->off + b->len] = '\0';
    return b->data + b->off;
}

static int set_buf(buf *b, const char *v, size_t n)
{
    buf_reset(b);
    return buf_add(b, v, n) < 0 ? SSEP_ERR_NOMEM : 0;
}

static int same(const char *s, size_t n, const char *lit)
{
    return n == strlen(lit) && memcmp(s, lit, n) == 0;
}

static int add_data(ssep *p, const char *v, size_t n)
{
    if (n >= p->data.cap - buf_len(&p->data))
        return SSEP_ERR_EVENT;
    if (buf_add(&p->data, v, n) < 0 || buf_add(&p->data, "\n", 1) < 0)
        return SSEP_ERR_NOMEM;
    return 0;
}

/* Digits only, as the spec says; a value that overflows is ignored like any bad one. */
static void set_retry(ssep *p, const char *v, size_t n)
{
    long ms = 0;
    if (n == 0)
        return;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9' || ms > (0x7fffffffL - (v[i] - '0')) / 10)
            return;
        ms = ms * 10 + (v[i] - '0');
    }
    p->retry = ms;
}

static int on_field(ssep *p, const char *f, size_t fn, const char *v, size_t vn)
{
    if (same(f, fn, "data"))
        return add_data(p, v, vn);
    if (same(f, fn, "event"))
        return set_buf(&p->type, v, vn);
    if (same(f, fn, "id"))
        return memchr(v, '\0', vn) ? 0 : set_buf(&p->id, v, vn);
    if (same(f, fn, "retry"))
        set_retry(p, v, vn);
    return 0;
}

static int dispatch(ssep *p, ssep_event_fn cb, void *ctx)
{
    int rc = 0;
    if (buf_len(&p->data) > 0) {
        p->data.len--; /* the "\n" after the last data line */
        ssep_event ev = {0};
        ev.type = buf_len(&p->type) ? cstr(&p->type) : "message";
        ev.type_len = strlen(ev.type);
        ev.data = cstr(&p->data);
        ev.data_len = buf_len(&p->data);
        ev.id = cstr(&p->id);
        ev.id_len = buf_len(&p->id);
        rc = cb(ctx, &ev);
    }
    buf_reset(&p->data);
    buf_reset(&p->type);
    trim_alloc(&p->data);
    return rc;
}

static int on_line(ssep *p, const char *s, size_t n, ssep_event_fn cb, void *ctx)
{
    if (n == 0)
        return dispatch(p, cb, ctx);
    if (s[0] == ':')
        return 0;
    const char *colon = memchr(s, ':', n);
    if (!colon)
        return on_field(p, s, n, "", 0);
    size_t fn = (size_t)(colon - s);
    const char *v = colon + 1;
    size_t vn = n - fn - 1;
    if (vn > 0 && v[0] == ' ') {
        v++;
        vn--;
    }
    return on_field(p, s, fn, v, vn);
}

static int carry(ssep *p, const char *s, size_t n)
{
    if (n > LIM_UP_LINE - buf_len(&p->line))
        return SSEP_ERR_LINE;
    return buf_add(&p->line, s, n) < 0 ? SSEP_ERR_NOMEM : 0;
}

/* A line [s, s+n) just ended; it completes the carried part if there is one. */
static int line_end(ssep *p, const char *s, size_t n, ssep_event_fn cb, void *ctx)
{
    if (buf_len(&p->line) == 0)
        return n > LIM_UP_LINE ? SSEP_ERR_LINE : on_line(p, s, n, cb, ctx);
    int rc = carry(p, s, n);
    if (rc == 0)
        rc = on_line(p, buf_ptr(&p->line), buf_len(&p->line), cb, ctx);
    buf_reset(&p->line);
    trim_alloc(&p->line);
    return rc;
}

static const char *next_lf(const char *s, const char *end)
{
    const char *f = memchr(s, '\n', (size_t)(end - s));
    return f ? f : end;
}

/* First CR or LF in [s, end), or NULL. *lf remembers the next LF (end: none) so that a
 * body whose lines end in CR alone is still scanned once, not once per line. */
static const char *find_eol(const char *s, const char *end, const char **lf)
{
    if (*lf < s)
        *lf = next_lf(s, end);
    const char *cr = memchr(s, '\r', (size_t)(*lf - s));
    if (cr)
        return cr;
    return *lf < end ? *lf : NULL;
}

/* Whole lines are parsed in place; only a trailing partial line is copied. */
static int parse(ssep *p, const char *b, const char *end, ssep_event_fn cb, void *ctx)
{
    if (p->cr && *b == '\n')
        b++;
    p->cr = 0;
    const char *lf = next_lf(b, end);
    while (b < end) {
        const char *e = find_eol(b, end, &lf);
        if (!e)
            return carry(p, b, (size_t)(end - b));
        int rc = line_end(p, b, (size_t)(e - b), cb, ctx);
        if (rc)
            return rc;
        if (*e == '\r' && e + 1 == end)
            p->cr = 1; /* an LF starting the next call belongs to this line end */
        else if (*e == '\r' && e[1] == '\n')
            e++;
        b = e + 1;
    }
    return 0;
}

/* A BOM may arrive split; bytes of a partial match that then fails are content. */
static int eat_bom(ssep *p, const char **b, size_t *n)
{
    while (p->bom < 3 && *n > 0) {
        if (**b != BOM[p->bom]) {
            int k = p->bom;
            p->bom = 3;
            return k > 0 && buf_add(&p->line, BOM, (size_t)k) < 0 ? SSEP_ERR_NOMEM : 0;
        }
        p->bom++;
        (*b)++;
        (*n)--;
    }
    return 0;
}

int ssep_feed(ssep *p, const char *b, size_t n, ssep_event_fn cb, void *ctx)
{
    if (p->err)
        return p->err;
    int rc = eat_bom(p, &b, &n);
    if (rc == 0 && n > 0)
        rc = parse(p, b, b + n, cb, ctx);
    p->err = rc;
    return rc;
}

/* The leniency described in ssep.h: an unterminated last line counts when it holds a
 * colon; without one it is a cut-off field name and the pending event is dropped. */
static int finish_body(ssep *p, ssep_event_fn cb, void *ctx)
{
    if (p->bom > 0 && p->bom < 3 && buf_add(&p->line, BOM, (size_t)p->bom) < 0)
        return SSEP_ERR_NOMEM;
    p->bom = 3;
    if (buf_len(&p->line) == 0)
        return dispatch(p, cb, ctx);
    const char *s = buf_ptr(&p->line);
    size_t n = buf_len(&p->line);
    int whole = memchr(s, ':', n) != NULL;
    int rc = whole ? on_line(p, s, n, cb, ctx) : 0;
    buf_reset(&p->line);
    if (rc == 0 && whole)
        return dispatch(p, cb, ctx);
    buf_reset(&p->data);
    buf_reset(&p->type);
    return rc;
}

int ssep_finish(ssep *p, ssep_event_fn cb, void *ctx)
{
    if (p->err)
        return p->err;
    p->err = finish_body(p, cb, ctx);
    return p->err;
}
