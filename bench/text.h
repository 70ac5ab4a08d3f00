/* text — the benchmark's deterministic answer, shared by the mock upstream (which streams
 * it) and the load client (which checks every stream against it byte for byte).
 * Token k is bytes [k*token_bytes, (k+1)*token_bytes): mixed ASCII, CJK, emoji with ZWJ
 * sequences, skin tones, flags and combining marks, cut at code point boundaries only, so
 * a grapheme cluster may straddle two tokens as with real byte-level tokenizers.
 * The caller owns the text and frees it with text_free. */
#ifndef BENCH_TEXT_H
#define BENCH_TEXT_H

#include <stddef.h>

#define TEXT_TOKENS_MAX 100000
#define TEXT_TOKEN_BYTES_MIN 4 /* the longest UTF-8 code point must fit in one token */
#define TEXT_TOKEN_BYTES_MAX 4096
#define TEXT_BYTES_MAX (16u << 20)

typedef struct text {
    char *bytes; /* tokens * token_bytes bytes, NUL-terminated */
    size_t len;
    size_t tokens;
    size_t token_bytes;
} text;

/* 0, or -1 when the sizes are out of bounds or memory runs out (t is then empty). */
int text_make(text *t, size_t tokens, size_t token_bytes);
void text_free(text *t);
/* The token whose arrival completes the character ending at byte offset end (exclusive):
 * a segmenter needs the next code point to know a character is whole. */
size_t text_token_completing(const text *t, size_t end);

#endif
