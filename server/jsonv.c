/* jsonv — see jsonv.h. A recursive-descent checker over a cursor; recursion is bounded by
 * JSONV_MAX_DEPTH.
 *
 * Locating rides along the check: each value is handed the set of paths (one bit per
 * path) whose steps so far lead to it. A value where a path ends is recorded; a container
 * hands each child the paths whose next step names that child. jsonv_check hands the top
 * value the empty set, so it only checks. */
#include "jsonv.h"

#include <stdint.h>
#include <string.h>

typedef uint32_t pathset; /* bit i: paths[i]; JSONV_MAX_PATHS bits */

typedef struct cur {
    const unsigned char *p, *end;
    const char *why;
    int depth;
    int escaped;             /* the string scanned last held an escape */
    unsigned notes;          /* JSONV_* notes */
    const jsonv_path *paths; /* what jsonv_find locates */
    jsonv_span *out;
} cur;

static int value(cur *c, pathset at);

static int fail(cur *c, const char *why)
{
    if (!c->why)
        c->why = why;
    return -1;
}

/* The hot loops below walk a local pointer: c->p itself could alias the bytes read (they
 * are chars), which keeps a compiler from holding it in a register. */

static void ws_run(cur *c)
{
    const unsigned char *p = c->p;
    while (p < c->end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    c->p = p;
}

/* Most JSON a program sends has no white space between tokens: one test then. */
static inline void ws(cur *c)
{
    if (c->p < c->end && *c->p <= ' ')
        ws_run(c);
}

static int lit(cur *c, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n))
        return fail(c, "not valid JSON");
    c->p += n;
    return 0;
}

/* ---- escapes, shared by the check and the decoding ---- */

static int is_hex(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* p[0..4) are hex digits. */
static unsigned hex4(const unsigned char *p)
{
    unsigned u = 0;
    for (int i = 0; i < 4; i++)
        u = u << 4 | (unsigned)(p[i] <= '9' ? p[i] - '0' : (p[i] | 0x20) - 'a' + 10);
    return u;
}

static int hex4_at(const unsigned char *p, const unsigned char *end)
{
    if (end - p < 4)
        return 0;
    for (int i = 0; i < 4; i++)
        if (!is_hex(p[i]))
            return 0;
    return 1;
}

/* p starts "\uDC00".."\uDFFF": the second half of a surrogate pair. */
static int low_escape_at(const unsigned char *p, const unsigned char *end)
{
    if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || !hex4_at(p + 2, end))
        return 0;
    unsigned u = hex4(p + 2);
    return u >= 0xDC00 && u <= 0xDFFF;
}

/* ---- the check ---- */

/* After a surrogate escape u: a high one with a low one right after it is one character
 * (both taken here); anything else is a lone surrogate, valid text but noted. */
static void surrogate(cur *c, unsigned u)
{
    if (u < 0xDC00 && low_escape_at(c->p, c->end))
        c->p += 6;
    else
        c->notes |= JSONV_LONE_SURROGATE;
}

static int escape(cur *c)
{
    if (c->p >= c->end)
        return fail(c, "unterminated string");
    unsigned char e = *c->p++;
    if (strchr("\"\\/bfnrt", e) && e)
        return 0;
    if (e != 'u' || c->end - c->p < 4)
        return fail(c, "bad escape in a string");
    if (!hex4_at(c->p, c->end))
        return fail(c, "bad \\u escape in a string");
    if (!memcmp(c->p, "0000", 4))
        return fail(c, "NUL characters (\\u0000) are not allowed");
    unsigned u = hex4(c->p);
    c->p += 4;
    if (u >= 0xD800 && u <= 0xDFFF)
        surrogate(c, u);
    return 0;
}

/* The bytes a string's scan stops at: control characters, the quote, the backslash. */
static const unsigned char STOP[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x00 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x10 */
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x20: '"' */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x30 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x40 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, /* 0x50: '\\' */
};

static int string(cur *c)
{
    const unsigned char *p = c->p + 1, *end = c->end; /* past the opening quote */
    c->escaped = 0;
    for (;;) {
        while (p < end && !STOP[*p])
            p++;
        if (p >= end)
            break;
        unsigned char ch = *p++;
        c->p = p;
        if (ch == '"')
            return 0;
        if (ch < 0x20)
            return fail(c, "raw control character in a string");
        c->escaped = 1;
        if (escape(c) < 0)
            return -1;
        p = c->p;
    }
    c->p = p;
    return fail(c, "unterminated string");
}

static int digits(cur *c)
{
    const unsigned char *start = c->p, *p = start;
    while (p < c->end && *p >= '0' && *p <= '9')
        p++;
    c->p = p;
    return p > start ? 0 : fail(c, "bad number");
}

static int number(cur *c)
{
    const unsigned char *start = c->p;
    if (*c->p == '-')
        c->p++;
    if (c->p < c->end && *c->p == '0')
        c->p++; /* a lone zero: no leading zeros */
    else if (digits(c) < 0)
        return -1;
    if (c->p < c->end && *c->p == '.') {
        c->p++;
        if (digits(c) < 0)
            return -1;
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        c->p++;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
            c->p++;
        if (digits(c) < 0)
            return -1;
    }
    if (c->p - start >= 64)
        c->notes |= JSONV_LONG_NUMBER;
    return 0;
}

/* ---- which paths go where ---- */

/* The string whose inside is name[0..end) (escaped: it holds escapes), unescaped, is
 * st's name. */
static int name_is(const unsigned char *name, const unsigned char *end, int escaped,
                   const jsonv_step *st);

/* The paths of at that end at the value the cursor is on. */
static pathset ending(const cur *c, pathset at)
{
    pathset here = 0;
    for (pathset m = at; m; m &= m - 1) {
        int i = __builtin_ctz(m);
        if (c->paths[i].n == (size_t)c->depth)
            here |= (pathset)1 << i;
    }
    return here;
}

/* A name's signature: one bit of 64 from its length and first byte. An object's members
 * whose signature no wanted name has are passed over without comparing (most are). */
static uint64_t signature(const unsigned char *name, size_t len)
{
    return (uint64_t)1 << (((len << 3) ^ (len ? name[0] : 0u)) & 63);
}

/* What an object's members are matched with: the paths going on into them, those a
 * member took already (the first member of a name wins), the signatures of their names. */
typedef struct names {
    pathset at, seen;
    uint64_t sigs;
} names;

/* For the members of the object the cursor has just entered. */
static names names_for(const cur *c, pathset at)
{
    names nm = {at, 0, 0};
    for (pathset m = at; m; m &= m - 1) {
        const jsonv_step *st = &c->paths[__builtin_ctz(m)].step[c->depth - 1];
        if (st->key)
            nm.sigs |= signature((const unsigned char *)st->key, st->key_len);
    }
    return nm;
}

/* The paths of at whose step here names the member name[0..end), but for those a member
 * before it in this object took already (seen): the first member of a name wins. */
static pathset named(const cur *c, pathset at, const unsigned char *name, const unsigned char *end,
                     pathset *seen)
{
    pathset hit = 0;
    size_t k = (size_t)c->depth - 1, len = (size_t)(end - name);
    const jsonv_step *last = NULL; /* paths sharing a prefix often share the name too */
    int same = 0;
    for (pathset m = at & ~*seen; m; m &= m - 1) {
        int i = __builtin_ctz(m);
        const jsonv_step *st = &c->paths[i].step[k];
        /* unescaped, a name is as long as its text: most differ right there */
        if (!st->key || (!c->escaped && st->key_len != len))
            continue;
        if (!last || st->key != last->key || st->key_len != last->key_len)
            same = name_is(name, end, c->escaped, st);
        last = st;
        if (same)
            hit |= (pathset)1 << i;
    }
    *seen |= hit;
    return hit;
}

/* The paths of at whose step here is array position index. */
static pathset positioned(const cur *c, pathset at, size_t index)
{
    pathset hit = 0;
    for (pathset m = at; m; m &= m - 1) {
        int i = __builtin_ctz(m);
        const jsonv_step *st = &c->paths[i].step[c->depth - 1];
        if (!st->key && st->index == index)
            hit |= (pathset)1 << i;
    }
    return hit;
}

static jsonv_type type_of(unsigned char first)
{
    switch (first) {
    case '{': return JSONV_OBJECT;
    case '[': return JSONV_ARRAY;
    case '"': return JSONV_STRING;
    case 't': return JSONV_TRUE;
    case 'f': return JSONV_FALSE;
    case 'n': return JSONV_NULL;
    default: return JSONV_NUMBER;
    }
}

/* The value from start to the cursor is where the paths of here end. */
static void record(cur *c, pathset here, const unsigned char *start)
{
    jsonv_span v = {(const char *)start, (size_t)(c->p - start), type_of(*start), 0};
    v.escaped = v.type == JSONV_STRING && c->escaped;
    for (pathset m = here; m; m &= m - 1)
        c->out[__builtin_ctz(m)] = v;
}

/* ---- containers and values ---- */

/* A member's name and its colon; *next: the paths of nm that go on into its value. An
 * escaped name's text says nothing of its value's length: it is always compared. */
static int member_name(cur *c, names *nm, pathset *next)
{
    if (c->p >= c->end || *c->p != '"')
        return fail(c, "object keys must be strings");
    const unsigned char *name = c->p + 1;
    if (string(c) < 0)
        return fail(c, "object keys must be strings");
    const unsigned char *end = c->p - 1;
    *next = 0;
    if (nm->at && (c->escaped || (nm->sigs & signature(name, (size_t)(end - name)))))
        *next = named(c, nm->at, name, end, &nm->seen);
    ws(c);
    if (c->p >= c->end || *c->p++ != ':')
        return fail(c, "expected ':' in an object");
    return 0;
}

/* Members or elements, after the opening bracket; close is ']' or '}'. at: the paths that
 * go on into this container's children. */
static int items(cur *c, unsigned char close, pathset at)
{
    if (++c->depth > JSONV_MAX_DEPTH)
        return fail(c, "JSON nested too deeply");
    c->p++;
    ws(c);
    if (c->p < c->end && *c->p == close) {
        c->p++;
        c->depth--;
        return 0;
    }
    names nm = close == '}' && at ? names_for(c, at) : (names){0, 0, 0};
    pathset next = 0;
    for (size_t index = 0;; index++) {
        if (close == '}' && member_name(c, &nm, &next) < 0)
            return -1;
        if (close == ']')
            next = at ? positioned(c, at, index) : 0;
        if (value(c, next) < 0)
            return -1;
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            ws(c);
            continue;
        }
        if (c->p < c->end && *c->p == close) {
            c->p++;
            c->depth--;
            return 0;
        }
        return fail(c, "expected ',' or a closing bracket");
    }
}

/* at: the paths that lead to this value. */
static int value(cur *c, pathset at)
{
    ws(c);
    if (c->p >= c->end)
        return fail(c, "not valid JSON");
    const unsigned char *start = c->p;
    pathset here = at ? ending(c, at) : 0;
    at &= ~here;
    int rc;
    switch (*c->p) {
    case '{': rc = items(c, '}', at); break;
    case '[': rc = items(c, ']', at); break;
    case '"': rc = string(c); break;
    case 't': rc = lit(c, "true"); break;
    case 'f': rc = lit(c, "false"); break;
    case 'n': rc = lit(c, "null"); break;
    default:
        rc = (*c->p == '-' || (*c->p >= '0' && *c->p <= '9')) ? number(c) : fail(c, "not valid JSON");
    }
    if (here && rc == 0)
        record(c, here, start);
    ws(c);
    return rc;
}

int jsonv_find(const char *s, size_t n, const jsonv_path *paths, size_t npaths, jsonv_span *out,
               unsigned *notes, const char **why)
{
    cur c = {(const unsigned char *)s, (const unsigned char *)s + n, NULL, 0, 0, 0, paths, out};
    int rc;
    if (npaths > JSONV_MAX_PATHS) {
        rc = fail(&c, "too many paths");
    } else {
        for (size_t i = 0; i < npaths; i++)
            out[i] = (jsonv_span){NULL, 0, JSONV_NONE, 0};
        rc = value(&c, npaths == JSONV_MAX_PATHS ? ~(pathset)0 : ((pathset)1 << npaths) - 1);
    }
    if (rc == 0 && c.p != c.end)
        rc = fail(&c, "text after the JSON value");
    if (why)
        *why = c.why ? c.why : "";
    if (notes)
        *notes = c.notes;
    return rc;
}

int jsonv_check(const char *s, size_t n, const char **why)
{
    return jsonv_find(s, n, NULL, 0, NULL, NULL, why);
}

/* ---- walking an object's members ---- */

/* The value the cursor is on, checked; *v its text. value() skips the white space after
 * it, which is no part of it: trimmed here. */
static int member_value(cur *c, jsonv_span *v)
{
    ws(c);
    const unsigned char *start = c->p;
    if (value(c, 0) < 0)
        return -1;
    const unsigned char *end = c->p;
    while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
        end--;
    *v = (jsonv_span){(const char *)start, (size_t)(end - start), type_of(*start), 0};
    v->escaped = v->type == JSONV_STRING && c->escaped;
    return 0;
}

/* One member's name and colon; *name its text. */
static int walked_name(cur *c, jsonv_span *name)
{
    const unsigned char *start = c->p;
    if (c->p >= c->end || *c->p != '"' || string(c) < 0)
        return -1;
    *name = (jsonv_span){(const char *)start, (size_t)(c->p - start), JSONV_STRING, c->escaped};
    ws(c);
    if (c->p >= c->end || *c->p++ != ':')
        return -1;
    return 0;
}

/* The members after the opening brace, up to and past the closing one. */
static int walk(cur *c, jsonv_member_fn fn, void *ctx)
{
    c->p++;
    ws(c);
    if (c->p < c->end && *c->p == '}') {
        c->p++;
        return 0;
    }
    for (;;) {
        jsonv_span name, v;
        if (walked_name(c, &name) < 0 || member_value(c, &v) < 0)
            return -1;
        int rc = fn(ctx, &name, &v);
        if (rc)
            return rc;
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            ws(c);
            continue;
        }
        if (c->p < c->end && *c->p == '}') {
            c->p++;
            return 0;
        }
        return -1;
    }
}

int jsonv_members(const char *s, size_t n, jsonv_member_fn fn, void *ctx)
{
    cur c = {(const unsigned char *)s, (const unsigned char *)s + n, NULL, 1, 0, 0, NULL, NULL};
    ws(&c);
    if (c.p >= c.end || *c.p != '{')
        return -1;
    int rc = walk(&c, fn, ctx);
    if (rc)
        return rc;
    ws(&c);
    return c.p == c.end ? 0 : -1;
}

/* ---- unescaping ---- */

/* Code point u as UTF-8 in out, the way cJSON writes it; the byte count. */
static size_t utf8_put(unsigned long u, unsigned char out[4])
{
    if (u < 0x80) {
        out[0] = (unsigned char)u;
        return 1;
    }
    size_t n = u < 0x800 ? 2 : u < 0x10000 ? 3 : 4;
    static const unsigned char lead[5] = {0, 0, 0xC0, 0xE0, 0xF0};
    for (size_t i = n - 1; i > 0; i--) {
        out[i] = (unsigned char)(0x80 | (u & 0x3F));
        u >>= 6;
    }
    out[0] = (unsigned char)(lead[n] | u);
    return n;
}

/* The character of a \u escape whose hex digits start at *p, a surrogate pair as one. */
static size_t unescape_u(const unsigned char **p, const unsigned char *end, unsigned char out[4])
{
    if (!hex4_at(*p, end))
        return 0;
    unsigned long u = hex4(*p);
    *p += 4;
    if (u >= 0xDC00 && u <= 0xDFFF)
        return 0; /* a low half first */
    if (u >= 0xD800 && u <= 0xDBFF) {
        if (!low_escape_at(*p, end))
            return 0;
        u = 0x10000 + (((u & 0x3FF) << 10) | (hex4(*p + 2) & 0x3FF));
        *p += 6;
    }
    return utf8_put(u, out);
}

/* One character of a string's inside at *p (before end) into out, *p moved past it: a
 * raw byte as it is, an escape decoded. The byte count; 0 for a bad escape. */
static size_t unescape_one(const unsigned char **p, const unsigned char *end, unsigned char out[4])
{
    const unsigned char *s = *p;
    if (*s != '\\') {
        out[0] = *s;
        *p = s + 1;
        return 1;
    }
    if (end - s < 2)
        return 0;
    *p = s + 2;
    switch (s[1]) {
    case 'b': out[0] = '\b'; return 1;
    case 'f': out[0] = '\f'; return 1;
    case 'n': out[0] = '\n'; return 1;
    case 'r': out[0] = '\r'; return 1;
    case 't': out[0] = '\t'; return 1;
    case '"':
    case '\\':
    case '/': out[0] = s[1]; return 1;
    case 'u': return unescape_u(p, end, out);
    default: return 0;
    }
}

static int name_is(const unsigned char *name, const unsigned char *end, int escaped,
                   const jsonv_step *st)
{
    if (!escaped)
        return (size_t)(end - name) == st->key_len && !memcmp(name, st->key, st->key_len);
    const unsigned char *k = (const unsigned char *)st->key, *kend = k + st->key_len;
    while (name < end) {
        unsigned char ch[4];
        size_t m = unescape_one(&name, end, ch);
        if (m == 0 || (size_t)(kend - k) < m || memcmp(k, ch, m))
            return 0;
        k += m;
    }
    return k == kend;
}

long jsonv_unescape(const jsonv_span *v, char *out, size_t cap)
{
    if (v->type != JSONV_STRING || !v->p || v->n < 2 || cap == 0)
        return -1;
    const unsigned char *p = (const unsigned char *)v->p + 1;
    const unsigned char *end = (const unsigned char *)v->p + v->n - 1; /* the closing quote */
    size_t o = 0; /* o < cap throughout: room for the NUL */
    while (p < end) {
        const unsigned char *bs = memchr(p, '\\', (size_t)(end - p));
        size_t run = (size_t)((bs ? bs : end) - p);
        if (run >= cap - o)
            return -1;
        memcpy(out + o, p, run);
        o += run;
        p += run;
        if (!bs)
            break;
        unsigned char ch[4];
        size_t m = unescape_one(&p, end, ch);
        if (m == 0 || m >= cap - o)
            return -1;
        memcpy(out + o, ch, m);
        o += m;
    }
    out[o] = '\0';
    return (long)o;
}
