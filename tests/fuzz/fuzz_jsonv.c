/* Fuzz target: jsonv_find and jsonv_unescape against cJSON, and prov_openai's tree-free
 * chunk reading against its cJSON tree reading.
 *
 * Input layout: byte 0 is a control byte, the rest the payload (JSON text, or not).
 *   bits 0-1: the sink call (1-based) that returns non-zero; 0: none
 *   bit 2, 3, 4: no text, reasoning, finish callback in the sink
 *   bits 5-6: the payload is wrapped in a chunk, so that mutations land where the fast
 *     reading looks: 0 as it is, 1 as the members of choices[0].delta, 2 as the members
 *     of choices[0], 3 as the inside of the string choices[0].delta.content
 *
 * On the payload:
 * - jsonv_find, with paths or without, accepts exactly what jsonv_check accepts, with the
 *   same reason.
 * - Text it accepts, cJSON parses whole, but for what jsonv notes; it fails on a noted
 *   lone surrogate. Then the value at each path is where cJSON's look-ups
 *   (cJSON_GetObjectItemCaseSensitive, cJSON_GetArrayItem) find it: both there or both
 *   not, the span parsed alone prints as cJSON's value does, a string unescapes to the
 *   bytes of cJSON's valuestring (and fails with a buffer one byte short).
 * - prov_openai_chunk_fast, when it takes a chunk, makes the sink calls and returns the
 *   result of prov_openai_chunk_tree, byte for byte; when it leaves it, it calls nothing. */
#include <cjson/cJSON.h>

#include "fuzz.h"
#include "jsonv.h"
#include "prov_openai.h"

/* ---- paths ---- */

/* Names and positions the paths are made of; the dictionary holds the names too. */
#define A JSONV_KEY("a")
#define B JSONV_KEY("b")
#define EMPTY JSONV_KEY("")
#define E_ACUTE JSONV_KEY("\xc3\xa9")
#define EMOJI JSONV_KEY("\xf0\x9f\x98\x80")
#define CHOICES JSONV_KEY("choices")
#define DELTA JSONV_KEY("delta")
#define CONTENT JSONV_KEY("content")
#define AT0 JSONV_AT(0)
#define AT1 JSONV_AT(1)
#define AT2 JSONV_AT(2)

#define MAX_STEPS 4
typedef struct path_def {
    jsonv_step step[MAX_STEPS];
    size_t n;
} path_def;

static const path_def DEFS[] = {
    {{{0}}, 0},
    {{A}, 1},
    {{B}, 1},
    {{EMPTY}, 1},
    {{E_ACUTE}, 1},
    {{EMOJI}, 1},
    {{AT0}, 1},
    {{AT1}, 1},
    {{AT2}, 1},
    {{A, B}, 2},
    {{A, A}, 2},
    {{A, AT0}, 2},
    {{AT0, A}, 2},
    {{AT0, AT0}, 2},
    {{AT1, B}, 2},
    {{A, AT1, B}, 3},
    {{A, B, A}, 3},
    {{AT0, AT0, AT0}, 3},
    {{CHOICES, AT0, DELTA, CONTENT}, 4},
    {{CHOICES, AT1, DELTA, CONTENT}, 4},
    {{A, AT0, B, AT0}, 4},
};
#define N_DEFS (sizeof(DEFS) / sizeof(DEFS[0]))

static jsonv_path PATHS[N_DEFS];

static void init_paths(void)
{
    static int ready;
    for (size_t i = 0; i < N_DEFS && !ready; i++)
        PATHS[i] = (jsonv_path){DEFS[i].step, DEFS[i].n};
    ready = 1;
}

/* What cJSON's look-ups find at path p: prov.c's prov_get for names, cJSON_GetArrayItem
 * on arrays for positions. */
static const cJSON *tree_at(const cJSON *root, const jsonv_path *p)
{
    const cJSON *v = root;
    for (size_t i = 0; i < p->n && v; i++) {
        const jsonv_step *st = &p->step[i];
        if (st->key)
            v = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, st->key) : NULL;
        else
            v = cJSON_IsArray(v) ? cJSON_GetArrayItem(v, (int)st->index) : NULL;
    }
    return v;
}

static jsonv_type tree_type(const cJSON *v)
{
    if (cJSON_IsObject(v))
        return JSONV_OBJECT;
    if (cJSON_IsArray(v))
        return JSONV_ARRAY;
    if (cJSON_IsString(v))
        return JSONV_STRING;
    if (cJSON_IsNumber(v))
        return JSONV_NUMBER;
    if (cJSON_IsTrue(v))
        return JSONV_TRUE;
    if (cJSON_IsFalse(v))
        return JSONV_FALSE;
    return cJSON_IsNull(v) ? JSONV_NULL : JSONV_NONE;
}

static void check_string(const jsonv_span *s, const cJSON *v, size_t i)
{
    static char out[1 << 16];
    size_t want = strlen(v->valuestring);
    FUZZ_CHECK(want + 2 <= s->n, "path %zu: value of %zu bytes from a %zu-byte span", i, want,
               s->n);
    FUZZ_CHECK(s->escaped == (memchr(s->p, '\\', s->n) != NULL), "path %zu: escaped %d", i,
               s->escaped);
    if (want + 1 > sizeof(out))
        return;
    long m = jsonv_unescape(s, out, want + 1);
    FUZZ_CHECK(m >= 0 && (size_t)m == want && !memcmp(out, v->valuestring, want + 1),
               "path %zu: unescaped %ld bytes, cJSON has %zu", i, m, want);
    FUZZ_CHECK(jsonv_unescape(s, out, want) == -1, "path %zu: fits one byte short", i);
}

/* The span at path i is what cJSON finds there. */
static void check_span(const jsonv_span *s, const cJSON *v, size_t i)
{
    FUZZ_CHECK(s->type == tree_type(v), "path %zu: type %d, cJSON's %d", i, s->type, tree_type(v));
    if (!v) {
        FUZZ_CHECK(!s->p && !s->n, "path %zu: a span for no value", i);
        return;
    }
    /* printed, not cJSON_Compare: that one matches repeated names to the first of each */
    cJSON *alone = cJSON_ParseWithLength(s->p, s->n);
    char *a = alone ? cJSON_PrintUnformatted(alone) : NULL, *b = cJSON_PrintUnformatted(v);
    FUZZ_CHECK(a && b && !strcmp(a, b), "path %zu: the span is another value", i);
    cJSON_free(a);
    cJSON_free(b);
    cJSON_Delete(alone);
    if (s->type == JSONV_STRING)
        check_string(s, v, i);
    else
        FUZZ_CHECK(jsonv_unescape(s, (char[8]){0}, 8) == -1, "path %zu: unescaped a non-string", i);
}

static cJSON *parse_whole(const char *s, size_t n)
{
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(s, n, &end, 0);
    if (!j)
        return NULL;
    for (; end < s + n; end++)
        FUZZ_CHECK(*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n',
                   "jsonv accepts bytes after the value");
    return j;
}

static void check_find(const char *s, size_t n)
{
    jsonv_span out[N_DEFS];
    const char *why_check = NULL, *why_find = NULL;
    unsigned notes = 0;
    int a = jsonv_check(s, n, &why_check);
    int b = jsonv_find(s, n, PATHS, N_DEFS, out, &notes, &why_find);
    FUZZ_CHECK(a == b && !strcmp(why_check, why_find), "check %d (%s), find %d (%s)", a, why_check,
               b, why_find);
    FUZZ_CHECK(jsonv_find(s, n, PATHS, JSONV_MAX_PATHS + 1, out, NULL, NULL) == -1,
               "more than JSONV_MAX_PATHS paths");
    if (b < 0)
        return;
    cJSON *root = parse_whole(s, n);
    /* (a cJSON build without the long-number fix fails on JSONV_LONG_NUMBER too) */
    FUZZ_CHECK(!root || !(notes & JSONV_LONE_SURROGATE), "cJSON parses a lone surrogate");
    FUZZ_CHECK(root || notes, "cJSON fails on text jsonv accepts without a note");
    if (root)
        for (size_t i = 0; i < N_DEFS; i++)
            check_span(&out[i], tree_at(root, &PATHS[i]), i);
    cJSON_Delete(root);
}

/* ---- the two chunk readings ---- */

typedef struct run {
    fuzz_log log;
    unsigned stop_at, calls;
} run;

static int call(run *r, char tag)
{
    fuzz_log_add(&r->log, &tag, 1);
    return ++r->calls == r->stop_at ? 77 : 0;
}

static int k_text(void *ctx, const char *p, size_t n)
{
    FUZZ_CHECK(p && n, "empty text");
    fuzz_log_field(&((run *)ctx)->log, p, n);
    return call(ctx, 't');
}

static int k_reasoning(void *ctx, const char *p, size_t n)
{
    FUZZ_CHECK(p && n, "empty reasoning");
    fuzz_log_field(&((run *)ctx)->log, p, n);
    return call(ctx, 'r');
}

static int k_finish(void *ctx, const char *reason)
{
    fuzz_log_str(&((run *)ctx)->log, reason);
    return call(ctx, 'f');
}

static int k_usage(void *ctx, long prompt, long completion)
{
    fuzz_log_long(&((run *)ctx)->log, prompt);
    fuzz_log_long(&((run *)ctx)->log, completion);
    return call(ctx, 'u');
}

static int k_error(void *ctx, const char *type, const char *message)
{
    fuzz_log_str(&((run *)ctx)->log, type);
    fuzz_log_str(&((run *)ctx)->log, message);
    return call(ctx, 'e');
}

static int k_end(void *ctx)
{
    return call(ctx, 'E');
}

static prov_sink sink_for(run *r, unsigned ctl)
{
    prov_sink k = {r, k_text, k_reasoning, k_finish, k_usage, k_error, k_end, NULL, NULL};
    if (ctl & 4)
        k.text = NULL;
    if (ctl & 8)
        k.reasoning = NULL;
    if (ctl & 16)
        k.finish = NULL;
    return k;
}

static void check_chunk(unsigned ctl, const char *s, size_t n)
{
    run fast = {.stop_at = ctl & 3}, tree = fast;
    prov_sink kf = sink_for(&fast, ctl), kt = sink_for(&tree, ctl);
    int rc_fast = 0;
    int took = prov_openai_chunk_fast(&kf, s, n, &rc_fast);
    int rc_tree = prov_openai_chunk_tree(&kt, s, n);
    if (took) {
        FUZZ_CHECK(rc_fast == rc_tree, "result %d fast, %d with the tree", rc_fast, rc_tree);
        FUZZ_CHECK(fuzz_log_same(&fast.log, &tree.log),
                   "sink calls differ (%u fast, %u with the tree; first difference at byte %zu)",
                   fast.calls, tree.calls, fuzz_log_diff(&fast.log, &tree.log));
    } else {
        FUZZ_CHECK(fast.calls == 0, "left to the tree after %u sink calls", fast.calls);
    }
    fuzz_log_free(&fast.log);
    fuzz_log_free(&tree.log);
}

/* ---- input ---- */

static const char *const WRAP[4][2] = {
    {"", ""},
    {"{\"choices\":[{\"delta\":{", "}}]}"},
    {"{\"choices\":[{", "}]}"},
    {"{\"choices\":[{\"delta\":{\"content\":\"", "\"}}]}"},
};

/* The payload wrapped as ctl says, malloc'd without a NUL after it: reads past *n are
 * ASan reports. */
static char *wrapped(unsigned ctl, const uint8_t *d, size_t *n)
{
    const char *const *w = WRAP[(ctl >> 5) & 3];
    size_t a = strlen(w[0]), b = strlen(w[1]), len = a + *n + b;
    char *s = malloc(len ? len : 1);
    FUZZ_CHECK(s != NULL, "out of memory");
    memcpy(s, w[0], a);
    if (*n)
        memcpy(s + a, d, *n);
    memcpy(s + a + *n, w[1], b);
    *n = len;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    init_paths();
    if (n == 0)
        return 0;
    unsigned ctl = d[0];
    n--;
    char *s = wrapped(ctl, d + 1, &n);
    check_find(s, n);
    check_chunk(ctl, s, n);
    free(s);
    return 0;
}
