/* rconn_url — see rconn_url.h. One pass over the string, left to right: scheme, then
 * userinfo (up to the last '@' before the path), host, port, and the db as path or query. */
#include "rconn_url.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int fail(rconn_url *out, char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(rconn_url *out, char *err, size_t errsz, const char *fmt, ...)
{
    memset(out, 0, sizeof(*out));
    if (errsz) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errsz, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes [p, p+n) with %XX escapes into dst (cap bytes with its NUL). The decoded length,
 * -1 for a bad escape, -2 when it does not fit, -3 for a control character or NUL. */
static int decode(const char *p, size_t n, char *dst, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)p[i];
        if (c == '%') {
            if (i + 2 >= n)
                return -1;
            int h = hexval(p[i + 1]), l = hexval(p[i + 2]);
            if (h < 0 || l < 0)
                return -1;
            c = h * 16 + l;
            i += 2;
        }
        if (c < 0x20 || c == 0x7f)
            return -3;
        if (k + 1 >= cap)
            return -2;
        dst[k++] = (char)c;
    }
    dst[k] = '\0';
    return (int)k;
}

/* A decimal number in [p, p+n) no larger than max; -1 when it is not one. */
static long number(const char *p, size_t n, long max)
{
    if (n == 0 || n > 10)
        return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v <= max ? v : -1;
}

#define DB_MAX 2147483647L

static int field(const char *what, const char *p, size_t n, char *dst, size_t cap, rconn_url *out,
                 char *err, size_t errsz)
{
    int rc = decode(p, n, dst, cap);
    if (rc == -1)
        return fail(out, err, errsz, "redis url: bad %%-escape in the %s", what);
    if (rc == -2)
        return fail(out, err, errsz, "redis url: the %s is longer than %zu bytes", what, cap - 1);
    if (rc == -3)
        return fail(out, err, errsz, "redis url: the %s has a control character", what);
    return 0;
}

static int userinfo(const char *p, size_t n, rconn_url *out, char *err, size_t errsz)
{
    const char *colon = memchr(p, ':', n);
    if (!colon)
        return fail(out, err, errsz, "redis url: credentials need ':password' before '@'");
    if (field("user", p, (size_t)(colon - p), out->user, sizeof(out->user), out, err, errsz) < 0)
        return -1;
    size_t pn = n - (size_t)(colon - p) - 1;
    if (field("password", colon + 1, pn, out->pass, sizeof(out->pass), out, err, errsz) < 0)
        return -1;
    if (!out->pass[0])
        return fail(out, err, errsz, "redis url: empty password after ':'");
    return 0;
}

/* host[:port] or [v6]:port in [p, p+n). */
static int hostport(const char *p, size_t n, rconn_url *out, char *err, size_t errsz)
{
    const char *h = p, *port = NULL;
    size_t hn = n;
    if (n && p[0] == '[') {
        const char *close = memchr(p, ']', n);
        if (!close)
            return fail(out, err, errsz, "redis url: '[' without ']' in the host");
        h = p + 1;
        hn = (size_t)(close - h);
        size_t rest = n - (size_t)(close - p) - 1;
        if (rest && close[1] != ':')
            return fail(out, err, errsz, "redis url: junk after ']' in the host");
        port = rest ? close + 2 : NULL;
    } else {
        const char *colon = memchr(p, ':', n);
        if (colon) {
            hn = (size_t)(colon - p);
            port = colon + 1;
        }
    }
    if (hn == 0)
        return fail(out, err, errsz, "redis url: empty host");
    if (hn > RCONN_URL_HOST_MAX)
        return fail(out, err, errsz, "redis url: host longer than %d bytes", RCONN_URL_HOST_MAX);
    for (size_t i = 0; i < hn; i++) {
        unsigned char c = (unsigned char)h[i];
        if (c <= 0x20 || c == 0x7f || c == '%' || c == '@' || c == '[' || c == ']')
            return fail(out, err, errsz, "redis url: bad character in the host");
    }
    memcpy(out->host, h, hn);
    out->host[hn] = '\0';
    out->port = RCONN_URL_PORT_DEFAULT;
    if (port) {
        size_t pn = (size_t)(p + n - port);
        long v = number(port, pn, 65535);
        if (pn == 0 || v < 1)
            return fail(out, err, errsz, "redis url: port %.*s is not in 1..65535",
                        (int)(pn > 16 ? 16 : pn), port);
        out->port = (int)v;
    }
    return 0;
}

static int db_number(const char *p, size_t n, rconn_url *out, char *err, size_t errsz)
{
    long v = number(p, n, DB_MAX);
    if (v < 0)
        return fail(out, err, errsz, "redis url: db '%.*s' is not a number", (int)(n > 16 ? 16 : n),
                    p);
    out->db = (int)v;
    return 0;
}

static int parse_tcp(const char *s, rconn_url *out, char *err, size_t errsz)
{
    size_t end = strcspn(s, "/?#");
    if (strpbrk(s, "?#"))
        return fail(out, err, errsz, "redis url: no query or fragment after a host");
    const char *at = NULL;
    for (const char *q = s; q < s + end; q++)
        if (*q == '@')
            at = q;
    const char *hp = s;
    if (at) {
        if (userinfo(s, (size_t)(at - s), out, err, errsz) < 0)
            return -1;
        hp = at + 1;
    }
    if (hostport(hp, (size_t)(s + end - hp), out, err, errsz) < 0)
        return -1;
    if (s[end] == '/' && s[end + 1])
        return db_number(s + end + 1, strlen(s + end + 1), out, err, errsz);
    return 0;
}

static int parse_unix(const char *s, rconn_url *out, char *err, size_t errsz)
{
    if (s[0] != '/')
        return fail(out, err, errsz,
                    "redis url: a unix socket needs an absolute path "
                    "(unix:///path)");
    size_t n = strcspn(s, "?#");
    if (s[n] == '#')
        return fail(out, err, errsz, "redis url: no fragment after a socket path");
    int rc = decode(s, n, out->path, sizeof(out->path));
    if (rc == -2)
        return fail(out, err, errsz, "redis url: socket path longer than %d bytes",
                    RCONN_URL_PATH_MAX);
    if (rc < 0)
        return fail(out, err, errsz, "redis url: bad socket path");
    out->is_unix = 1;
    if (s[n] != '?')
        return 0;
    const char *q = s + n + 1;
    if (strncmp(q, "db=", 3) != 0)
        return fail(out, err, errsz, "redis url: the only query a socket takes is ?db=N");
    return db_number(q + 3, strlen(q + 3), out, err, errsz);
}

int rconn_url_parse(const char *s, rconn_url *out, char *err, size_t errsz)
{
    memset(out, 0, sizeof(*out));
    if (!s || !*s)
        return fail(out, err, errsz, "redis url: empty");
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return fail(out, err, errsz,
                        "redis url: spaces or control characters "
                        "(escape them as %%XX)");
    static const char *const unix_schemes[] = {"unix://", "redis+unix://"};
    for (size_t i = 0; i < 2; i++)
        if (strncmp(s, unix_schemes[i], strlen(unix_schemes[i])) == 0)
            return parse_unix(s + strlen(unix_schemes[i]), out, err, errsz);
    if (strncmp(s, "redis://", 8) == 0)
        return parse_tcp(s + 8, out, err, errsz);
    if (strncmp(s, "rediss://", 9) == 0)
        return fail(out, err, errsz, "redis url: rediss:// (TLS) is not supported");
    size_t sn = strcspn(s, ":");
    return fail(out, err, errsz,
                "redis url: scheme '%.*s' is not redis://, unix:// or redis+unix://",
                (int)(sn > 16 ? 16 : sn), s);
}
