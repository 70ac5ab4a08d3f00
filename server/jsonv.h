/* jsonv — a strict RFC 8259 check of JSON text before cJSON (which is lenient: it takes
 * raw control characters in strings, leading zeros, "1." and some bad escapes). One
 * value, white space around it, nesting capped; \u0000 is refused because C strings would
 * silently cut the text there. No allocation.
 *
 * The same single pass can also locate the values at a few paths (jsonv_find), so that a
 * reader wanting three fields of a small document needs no tree; jsonv_unescape then
 * decodes a located string. What jsonv_find accepts is exactly what jsonv_check accepts:
 * it is one checker, with the locating switched on. jsonv_members walks the top object's
 * members in order, each as its exact text, for a writer that copies most of them. */
#ifndef CHATD_JSONV_H
#define CHATD_JSONV_H

#include <stddef.h>

#define JSONV_MAX_DEPTH 64
#define JSONV_MAX_PATHS 32 /* paths one jsonv_find call can locate */

/* 0 when s[0..n) is exactly one valid JSON value; else -1 with a short reason. */
int jsonv_check(const char *s, size_t n, const char **why);

/* ---- locating values ---- */

/* One step of a path: an object member by name, or an array element by position. */
typedef struct jsonv_step {
    const char *key; /* the member's name, unescaped; NULL: an array element */
    size_t key_len;
    size_t index; /* the element's position when key is NULL */
} jsonv_step;

#define JSONV_KEY(k)                                                                               \
    {                                                                                              \
        (k), sizeof(k) - 1, 0                                                                      \
    }
#define JSONV_AT(i)                                                                                \
    {                                                                                              \
        NULL, 0, (i)                                                                               \
    }

/* A path from the top value; no steps: the top value itself. */
typedef struct jsonv_path {
    const jsonv_step *step;
    size_t n;
} jsonv_path;

#define JSONV_PATH(steps)                                                                          \
    {                                                                                              \
        (steps), sizeof(steps) / sizeof((steps)[0])                                                \
    }

typedef enum jsonv_type {
    JSONV_NONE, /* no value at that path */
    JSONV_OBJECT,
    JSONV_ARRAY,
    JSONV_STRING,
    JSONV_NUMBER,
    JSONV_TRUE,
    JSONV_FALSE,
    JSONV_NULL,
} jsonv_type;

/* A located value: its text in the checked input, a string's quotes included. */
typedef struct jsonv_span {
    const char *p; /* NULL with type JSONV_NONE */
    size_t n;
    jsonv_type type;
    int escaped; /* a string holding at least one escape: its text is not its value */
} jsonv_span;

/* Notes on valid text that parsers are known to read differently (jsonv_find's notes). */
enum {
    /* A \uD800-\uDFFF escape not in a high-low pair: RFC 8259's grammar allows it, but it
     * is no Unicode character; cJSON refuses the whole text. */
    JSONV_LONE_SURROGATE = 1,
    /* A number of 64 bytes or more: cJSON 1.7.15 as released reads at most 63 of them and
     * then fails (patched builds read it all). */
    JSONV_LONG_NUMBER = 2,
};

/* jsonv_check, and while checking, out[i] = the value at paths[i] for each of the npaths
 * (at most JSONV_MAX_PATHS, else -1). A name step takes the first member of that name, as
 * cJSON_GetObjectItemCaseSensitive does (names compared unescaped), and only in an
 * object; a position step only applies to an array. *notes (when notes is not NULL) gets
 * the JSONV_* notes above. out and notes mean something only when 0 is returned. */
int jsonv_find(const char *s, size_t n, const jsonv_path *paths, size_t npaths, jsonv_span *out,
               unsigned *notes, const char **why);

/* The value of string v, located by jsonv_find in text it accepted, unescaped into out
 * and NUL-terminated: UTF-8 as cJSON makes it (a \u pair becomes one 4-byte sequence;
 * other bytes are copied as they are). Its length (at most v->n - 2), or -1 when v is not
 * a string, holds a lone surrogate, or its value and the NUL need more than cap bytes. */
long jsonv_unescape(const jsonv_span *v, char *out, size_t cap);

/* ---- walking an object's members ---- */

/* Called for each member: its name (a string span, quotes included, escaped set when it
 * holds an escape) and its value (its exact text, no white space around it). Non-zero
 * stops the walk. */
typedef int (*jsonv_member_fn)(void *ctx, const jsonv_span *name, const jsonv_span *value);

/* Walks the members of the object s[0..n) is, in the order they stand (a repeated name
 * each time), checking as it goes: 0 when all were seen, fn's non-zero when it stopped
 * the walk, or -1 when the text is not one valid JSON object. Meant for text jsonv_check
 * accepted: on other text fn may have seen the members before the fault. */
int jsonv_members(const char *s, size_t n, jsonv_member_fn fn, void *ctx);

#endif
