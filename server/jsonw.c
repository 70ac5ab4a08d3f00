/* jsonw — see jsonw.h. */
#include "jsonw.h"

#include <string.h>

static const char hex[] = "0123456789abcdef";

/* Length of the escape for byte c at s[i], 0 when it can be copied as is. */
static size_t esc_len(const unsigned char *s, size_t i, size_t n)
{
    unsigned char c = s[i];
    if (c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t')
        return 2;
    if (c < 0x20 || c == 0x7f)
        return 6;
    /* U+2028 / U+2029 are E2 80 A8 / E2 80 A9: JSON allows them raw, JavaScript
     * line splitters and some SSE consumers do not. */
    if (c == 0xe2 && i + 2 < n && s[i + 1] == 0x80 && (s[i + 2] == 0xa8 || s[i + 2] == 0xa9))
        return 6;
    return 0;
}

static char *put_escape(char *o, const unsigned char *s, size_t i)
{
    unsigned c = s[i];
    *o++ = '\\';
    switch (c) {
    case '"': *o++ = '"'; return o;
    case '\\': *o++ = '\\'; return o;
    case '\n': *o++ = 'n'; return o;
    case '\r': *o++ = 'r'; return o;
    case '\t': *o++ = 't'; return o;
    }
    if (c == 0xe2)
        c = s[i + 2] == 0xa8 ? 0x2028 : 0x2029;
    *o++ = 'u';
    *o++ = hex[(c >> 12) & 15];
    *o++ = hex[(c >> 8) & 15];
    *o++ = hex[(c >> 4) & 15];
    *o++ = hex[c & 15];
    return o;
}

int jsonw_str(buf *b, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t out = 2;
    for (size_t i = 0; i < n; i++) {
        size_t e = esc_len(s, i, n);
        out += e ? e : 1;
        if (e == 6 && s[i] == 0xe2)
            i += 2;
    }
    if (buf_reserve(b, out) < 0)
        return -1;
    char *o = buf_tail(b);
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        size_t e = esc_len(s, i, n);
        if (!e) {
            *o++ = (char)s[i];
            continue;
        }
        o = put_escape(o, s, i);
        if (e == 6 && s[i] == 0xe2)
            i += 2;
    }
    *o++ = '"';
    buf_commit(b, out);
    return 0;
}

int jsonw_u64(buf *b, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[sizeof(tmp) - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return buf_add(b, tmp + sizeof(tmp) - n, n);
}
