/* jsonv — see jsonv.h. A recursive-descent checker over a cursor; recursion is bounded by
 * JSONV_MAX_DEPTH. */
#include "jsonv.h"

#include <string.h>

typedef struct cur {
    const unsigned char *p, *end;
    const char *why;
    int depth;
} cur;

static int value(cur *c);

static int fail(cur *c, const char *why)
{
    if (!c->why)
        c->why = why;
    return -1;
}

static void ws(cur *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int lit(cur *c, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n))
        return fail(c, "not valid JSON");
    c->p += n;
    return 0;
}

static int is_hex(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
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
    for (int i = 0; i < 4; i++)
        if (!is_hex(c->p[i]))
            return fail(c, "bad \\u escape in a string");
    if (!memcmp(c->p, "0000", 4))
        return fail(c, "NUL characters (\\u0000) are not allowed");
    c->p += 4;
    return 0;
}

static int string(cur *c)
{
    c->p++; /* the opening quote */
    while (c->p < c->end) {
        unsigned char ch = *c->p++;
        if (ch == '"')
            return 0;
        if (ch < 0x20)
            return fail(c, "raw control character in a string");
        if (ch == '\\' && escape(c) < 0)
            return -1;
    }
    return fail(c, "unterminated string");
}

static int digits(cur *c)
{
    const unsigned char *start = c->p;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
        c->p++;
    return c->p > start ? 0 : fail(c, "bad number");
}

static int number(cur *c)
{
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
    return 0;
}

/* Members or elements, after the opening bracket; close is ']' or '}'. */
static int items(cur *c, unsigned char close)
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
    for (;;) {
        if (close == '}') {
            if (c->p >= c->end || *c->p != '"' || string(c) < 0)
                return fail(c, "object keys must be strings");
            ws(c);
            if (c->p >= c->end || *c->p++ != ':')
                return fail(c, "expected ':' in an object");
        }
        if (value(c) < 0)
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

static int value(cur *c)
{
    ws(c);
    if (c->p >= c->end)
        return fail(c, "not valid JSON");
    int rc;
    switch (*c->p) {
    case '{': rc = items(c, '}'); break;
    case '[': rc = items(c, ']'); break;
    case '"': rc = string(c); break;
    case 't': rc = lit(c, "true"); break;
    case 'f': rc = lit(c, "false"); break;
    case 'n': rc = lit(c, "null"); break;
    default:
        rc = (*c->p == '-' || (*c->p >= '0' && *c->p <= '9')) ? number(c) : fail(c, "not valid JSON");
    }
    ws(c);
    return rc;
}

int jsonv_check(const char *s, size_t n, const char **why)
{
    cur c = {(const unsigned char *)s, (const unsigned char *)s + n, NULL, 0};
    int rc = value(&c);
    if (rc == 0 && c.p != c.end)
        rc = fail(&c, "text after the JSON value");
    if (why)
        *why = c.why ? c.why : "";
    return rc;
}
