/* ssec — see ssec.h. */
#include "ssec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Appends p[0..n) to a capped growing buffer; 0 ok, -1 over the cap. */
static int grow_add(char **b, size_t *len, size_t *cap, const char *p, size_t n)
{
    if (*len + n + 1 > SSEC_LINE_MAX)
        return -1;
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 256;
        while (c < *len + n + 1)
            c *= 2;
        char *nb = realloc(*b, c);
        if (!nb)
            return -1;
        *b = nb;
        *cap = c;
    }
    memcpy(*b + *len, p, n);
    *len += n;
    (*b)[*len] = '\0';
    return 0;
}

static void set_field(char *dst, const char *v, size_t n)
{
    if (n >= SSEC_FIELD_MAX)
        n = SSEC_FIELD_MAX - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static int dispatch(ssec *s, ssec_fn fn, void *ud)
{
    if (s->data_len == 0) {
        s->type[0] = '\0';
        return 0;
    }
    s->data[--s->data_len] = '\0'; /* the last data line's LF */
    ssec_event ev = {s->type[0] ? s->type : "message", s->data, s->data_len,
                     s->has_id ? s->id : NULL};
    int rc = fn(ud, &ev);
    s->data_len = 0;
    s->type[0] = '\0';
    s->has_id = 0;
    return rc;
}

static int field(ssec *s, const char *name, size_t nl, const char *v, size_t vl)
{
    if (nl == 4 && memcmp(name, "data", 4) == 0)
        return grow_add(&s->data, &s->data_len, &s->data_cap, v, vl) |
               grow_add(&s->data, &s->data_len, &s->data_cap, "\n", 1);
    if (nl == 5 && memcmp(name, "event", 5) == 0)
        set_field(s->type, v, vl);
    else if (nl == 2 && memcmp(name, "id", 2) == 0) {
        set_field(s->id, v, vl);
        s->has_id = 1;
    }
    return 0;
}

static int line_done(ssec *s, ssec_fn fn, void *ud)
{
    const char *l = s->line ? s->line : "";
    size_t n = s->line_len;
    s->line_len = 0;
    if (n > 0 && l[n - 1] == '\r')
        n--;
    if (n == 0)
        return dispatch(s, fn, ud);
    if (l[0] == ':')
        return 0;
    const char *colon = memchr(l, ':', n);
    size_t nl = colon ? (size_t)(colon - l) : n;
    const char *v = colon ? colon + 1 : l + n;
    if (v < l + n && *v == ' ')
        v++;
    return field(s, l, nl, v, (size_t)(l + n - v));
}

int ssec_feed(ssec *s, const char *p, size_t n, ssec_fn fn, void *ud)
{
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t take = nl ? (size_t)(nl - p) : n;
        if (grow_add(&s->line, &s->line_len, &s->line_cap, p, take) < 0)
            return -1;
        p += take;
        n -= take;
        if (!nl)
            return 0;
        p++;
        n--;
        int rc = line_done(s, fn, ud);
        if (rc)
            return rc;
    }
    return 0;
}

void ssec_free(ssec *s)
{
    free(s->line);
    free(s->data);
    memset(s, 0, sizeof(*s));
}

/* ---- JSON string member ---- */

static int hex4(const char *p, const char *end, uint32_t *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        if (p + i >= end)
            return -1;
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'f'
                                                      ? (c | 0x20) - 'a' + 10 : -1;
        if (d < 0)
            return -1;
        *v = *v * 16 + (uint32_t)d;
    }
    return 0;
}

static size_t utf8_put(uint32_t cp, char *o)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* A \u escape at p (after the backslash and 'u'), with a following low surrogate when
 * it is a high one. Returns the bytes of input used, or -1. */
static long unicode_escape(const char *p, const char *end, uint32_t *cp)
{
    uint32_t lo;
    if (hex4(p, end, cp) < 0)
        return -1;
    if (*cp < 0xD800 || *cp > 0xDBFF)
        return *cp >= 0xDC00 && *cp <= 0xDFFF ? -1 : 4;
    if (end - p < 10 || p[4] != '\\' || p[5] != 'u' || hex4(p + 6, end, &lo) < 0 ||
        lo < 0xDC00 || lo > 0xDFFF)
        return -1;
    *cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
    return 10;
}

/* One escape after a backslash at p: the decoded bytes into o, input used into *used. */
static long unescape(const char *p, const char *end, char *o, size_t *used)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    if (p >= end)
        return -1;
    const char *f = memchr(from, *p, sizeof(from) - 1);
    if (f) {
        *o = to[f - from];
        *used = 1;
        return 1;
    }
    uint32_t cp;
    long n = *p == 'u' ? unicode_escape(p + 1, end, &cp) : -1;
    if (n < 0)
        return -1;
    *used = (size_t)n + 1;
    return (long)utf8_put(cp, o);
}

static long decode_string(const char *p, const char *end, char *out, size_t cap)
{
    size_t len = 0;
    while (p < end && *p != '"') {
        char tmp[4];
        size_t used = 1;
        long w = 1;
        if (*p == '\\') {
            w = unescape(p + 1, end, tmp, &used);
            used++;
        } else {
            tmp[0] = *p;
        }
        if (w < 0 || len + (size_t)w > cap)
            return -2;
        memcpy(out + len, tmp, (size_t)w);
        len += (size_t)w;
        p += used;
    }
    return p < end ? (long)len : -2;
}

long ssec_json_string(const char *js, size_t n, const char *key, char *out, size_t cap)
{
    char pat[SSEC_FIELD_MAX + 4];
    size_t kl = strlen(key);
    if (kl + 3 > sizeof(pat))
        return -2;
    pat[0] = '"';
    memcpy(pat + 1, key, kl);
    memcpy(pat + 1 + kl, "\":", 2);
    const char *k = memmem(js, n, pat, kl + 3), *end = js + n;
    if (!k)
        return -1;
    const char *v = k + kl + 3;
    while (v < end && (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r'))
        v++;
    if (v >= end || *v != '"')
        return -1;
    return decode_string(v + 1, end, out, cap);
}
