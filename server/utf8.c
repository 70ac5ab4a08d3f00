/* utf8 — see utf8.h. */
#include "utf8.h"

#include <string.h>

/* Length of the sequence starting at s[i], 0 if it is not valid there. */
static size_t seq_len(const unsigned char *s, size_t i, size_t n)
{
    unsigned c = s[i];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        if (c == 0xed)
            hi = 0x9f; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        if (c == 0xf4)
            hi = 0x8f; /* > U+10FFFF */
    } else
        return 0;
    if (n - i < len || s[i + 1] < lo || s[i + 1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++)
        if ((s[i + k] & 0xc0) != 0x80)
            return 0;
    return len;
}

size_t utf8_valid_prefix(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t l = seq_len(s, i, n);
        if (!l)
            break;
        i += l;
    }
    return i;
}

size_t utf8_trim(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = n;
    while (i > 0 && n - i < 4 && (s[i - 1] & 0xc0) == 0x80)
        i--;
    if (i > 0 && s[i - 1] >= 0xc0) {
        /* s[i-1] leads a sequence: keep it only if it is complete */
        size_t lead = i - 1;
        return utf8_valid_prefix(str + lead, n - lead) == n - lead ? n : lead;
    }
    return n;
}

void utf8_copy(char *dst, size_t n, const char *src)
{
    size_t len = strlen(src);
    if (len > n - 1)
        len = utf8_trim(src, n - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
}
