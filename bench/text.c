/* text — see text.h. One cycle of the pattern below is taken code point by code point;
 * when the next code point does not fit in what is left of a token, the token is padded
 * with ASCII '-' and the code point opens the next token. */
#include "text.h"

#include <stdlib.h>
#include <string.h>

/* JSON-special bytes (quote, backslash, newline) are in it on purpose: every hop must
 * escape and unescape them. */
static const char PATTERN[] =
    "The quick \xF0\x9F\xA6\x8A jumps: \xE4\xB8\x96\xE7\x95\x8C\xE4\xBD\xA0\xE5\xA5\xBD, "
    "cafe\xCC\x81 na\xC3\xAFve \xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB codes; "
    "\xF0\x9F\x87\xAF\xF0\x9F\x87\xB5 & \xF0\x9F\x87\xAB\xF0\x9F\x87\xB7 flags, "
    "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD ok. \xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4 "
    "\"quoted\" \\ back\n"
    "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7 family, "
    "\xE3\x81\x93\xE3\x82\x93\xE3\x81\xAB\xE3\x81\xA1\xE3\x81\xAF 123.\n";

static size_t cp_len(unsigned char b)
{
    if (b < 0x80)
        return 1;
    if ((b & 0xE0) == 0xC0)
        return 2;
    if ((b & 0xF0) == 0xE0)
        return 3;
    return 4;
}

/* Fills one token of t->token_bytes bytes at out; *pos walks the pattern. */
static void fill_token(const text *t, char *out, size_t *pos)
{
    size_t left = t->token_bytes;
    while (left > 0) {
        size_t n = cp_len((unsigned char)PATTERN[*pos]);
        if (n > left) {
            memset(out, '-', left);
            return;
        }
        memcpy(out, PATTERN + *pos, n);
        out += n;
        left -= n;
        *pos += n;
        if (*pos >= sizeof(PATTERN) - 1)
            *pos = 0;
    }
}

int text_make(text *t, size_t tokens, size_t token_bytes)
{
    memset(t, 0, sizeof(*t));
    if (tokens < 1 || tokens > TEXT_TOKENS_MAX || token_bytes < TEXT_TOKEN_BYTES_MIN ||
        token_bytes > TEXT_TOKEN_BYTES_MAX || tokens * token_bytes > TEXT_BYTES_MAX)
        return -1;
    t->bytes = malloc(tokens * token_bytes + 1);
    if (!t->bytes)
        return -1;
    t->tokens = tokens;
    t->token_bytes = token_bytes;
    t->len = tokens * token_bytes;
    size_t pos = 0;
    for (size_t k = 0; k < tokens; k++)
        fill_token(t, t->bytes + k * token_bytes, &pos);
    t->bytes[t->len] = '\0';
    return 0;
}

void text_free(text *t)
{
    free(t->bytes);
    memset(t, 0, sizeof(*t));
}

size_t text_token_completing(const text *t, size_t end)
{
    if (end >= t->len)
        return t->tokens - 1;
    return end / t->token_bytes;
}
