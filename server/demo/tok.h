/* tok — the demo model's tokenizer: cuts an answer into the pieces a byte-level BPE
 * tokenizer would send, 2-6 bytes of ASCII or up to TOK_MAX bytes of anything else,
 * always whole code points. Like real tokenizers it cuts grapheme clusters: an extender
 * (combining mark, ZWJ, variation selector, skin tone, keycap, tag) or a second regional
 * indicator always starts a new token, which is what chatd's segmenter is there to mend.
 * Pure functions, no state: the same text and token number give the same cut. */
#ifndef CHATD_DEMO_TOK_H
#define CHATD_DEMO_TOK_H

#include <stddef.h>
#include <stdint.h>

#define TOK_MAX 8 /* bytes in one token */

/* Length in bytes of token number seq at s; n > 0 bytes are left, valid UTF-8. */
size_t tok_len(const char *s, size_t n, long seq);

/* splitmix64's finaliser: a cheap, well spread, deterministic hash (token lengths,
 * jitter, response ids). */
uint64_t tok_mix(uint64_t x);

#endif
