/* tok — see tok.h. */
#include "tok.h"

uint64_t tok_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

enum { K_ALNUM, K_PUNCT, K_SPACE, K_NL, K_WIDE, K_EXT, K_RI, K_KINDS };

/* Whether a token ending in a code point of kind [prev] takes one of kind [next].
 * Nothing takes an extender or a second regional indicator (see tok.h). */
/* clang-format off */
static const unsigned char joins[K_KINDS][K_KINDS] = {
    /*  next:      ALNUM PUNCT SPACE NL WIDE EXT RI */
    [K_ALNUM] = {1,    0,    0,    0, 0,   0,  0},
    [K_PUNCT] = {0,    1,    0,    0, 0,   0,  0},
    [K_SPACE] = {1,    1,    1,    0, 1,   0,  1},
    [K_NL]    = {0,    0,    0,    1, 0,   0,  0},
    [K_WIDE]  = {0,    0,    0,    0, 1,   0,  0},
    [K_EXT]   = {0,    0,    0,    0, 1,   0,  0},
    [K_RI]    = {0,    0,    0,    0, 0,   0,  0},
};
/* clang-format on */

/* Decodes the code point at s (valid UTF-8: the answers are) and its length. */
static uint32_t cp_decode(const char *s, size_t *len)
{
    const unsigned char *p = (const unsigned char *)s;
    if (p[0] < 0x80) {
        *len = 1;
        return p[0];
    }
    size_t n = p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : 4;
    uint32_t cp = p[0] & (0x7f >> n);
    for (size_t i = 1; i < n; i++)
        cp = cp << 6 | (p[i] & 0x3f);
    *len = n;
    return cp;
}

static int cp_kind(uint32_t cp)
{
    if (cp == '\n')
        return K_NL;
    if (cp == ' ' || cp == '\t')
        return K_SPACE;
    if (((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') || (cp >= '0' && cp <= '9'))
        return K_ALNUM;
    if (cp < 0x80)
        return K_PUNCT;
    if ((cp >= 0x300 && cp <= 0x36f) || cp == 0x200d || cp == 0xfe0e || cp == 0xfe0f ||
        cp == 0x20e3 || (cp >= 0x1f3fb && cp <= 0x1f3ff) || (cp >= 0xe0020 && cp <= 0xe007f))
        return K_EXT;
    if (cp >= 0x1f1e6 && cp <= 0x1f1ff)
        return K_RI;
    return K_WIDE;
}

size_t tok_len(const char *s, size_t n, long seq)
{
    size_t len, limit = (unsigned char)s[0] < 0x80 ? 2 + tok_mix((uint64_t)seq) % 5 : TOK_MAX;
    int prev = cp_kind(cp_decode(s, &len));
    size_t have = len;
    while (have < n) {
        int next = cp_kind(cp_decode(s + have, &len));
        if (have + len > limit || !joins[prev][next])
            break;
        have += len;
        prev = next;
    }
    return have;
}
