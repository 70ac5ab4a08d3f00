/* Fuzz target: every provider's stream reader (openai, anthropic, ollama) and error_reason.
 *
 * The payload is fed as the plan says (see fuzz.h), then finish; a sink checks what each
 * callback gets (text never NULL, never empty, never longer than the input; counts sane;
 * an error message one line under the stream cap; UTF-8 in, UTF-8 out; a tool call's
 * index under LIM_TOOLS and started once, its arguments only after its start, its id, name
 * and argument bytes within their caps, UTF-8 in, UTF-8 out). The same bytes in
 * one feed must make the same calls with the same result. Byte 0's high bits, when
 * non-zero, make that sink call return non-zero: the feed must stop there and return it.
 *
 * error_reason reads the payload as an error body with several out sizes (0 and 1 too):
 * never more than outsz-1 bytes, one line, trimmed; for a UTF-8 body valid UTF-8, each
 * result a prefix of the one with a larger out. */
#include "fuzz.h"
#include "lim.h"
#include "prov_anthropic.h"
#include "prov_ollama.h"
#include "prov_openai.h"
#include "utf8.h"

#define STOP_RC 4242
#define STREAM_MSG_MAX 512 /* the providers' cap on a mid-stream error message, with the NUL */

static const prov *const PROVS[] = {&prov_openai, &prov_anthropic, &prov_ollama};

/* The longest id a provider makes up for a call that came without one (Ollama's
 * "call_<index>_<n>"); an id the upstream sent is no longer than the input. */
#define MADE_ID_MAX 48
/* An argument fragment is the upstream's text, or (Anthropic's filled-in input, Ollama's
 * arguments object) cJSON's printing of a value in the input, which can be longer than
 * its text: a number such as 5e-324 prints as 23 bytes. Never more than this many times
 * the input, nor than "{}" (a call without arguments). */
#define ARGS_GROWTH 4

typedef struct run {
    fuzz_log log;
    size_t in_len;    /* payload bytes: no string the sink gets can be longer */
    int in_utf8;      /* the payload is valid UTF-8: so must every string be */
    unsigned stop_at; /* 1-based sink call that returns STOP_RC; 0: none */
    unsigned calls;
    int stopped;
    unsigned char started[(LIM_TOOLS + 7) / 8]; /* the tool calls started so far */
} run;

static int next_call(run *r, char tag)
{
    FUZZ_CHECK(!r->stopped, "sink call '%c' after a callback stopped the feed", tag);
    fuzz_log_add(&r->log, &tag, 1);
    if (++r->calls == r->stop_at) {
        r->stopped = 1;
        return STOP_RC;
    }
    return 0;
}

static void check_bytes(const run *r, const char *what, const char *p, size_t n)
{
    FUZZ_CHECK(p != NULL, "%s is NULL", what);
    FUZZ_CHECK(n > 0, "%s is empty", what);
    FUZZ_CHECK(n <= r->in_len, "%s is %zu bytes from a %zu-byte input", what, n, r->in_len);
    /* reads every byte, so a length past the string is an ASan report right here */
    int ok = utf8_valid(p, n);
    FUZZ_CHECK(ok || !r->in_utf8, "%s is not UTF-8 although the input is", what);
}

static void check_str(const run *r, const char *what, const char *s)
{
    FUZZ_CHECK(s != NULL, "%s is NULL", what);
    check_bytes(r, what, s, strlen(s));
}

/* A text or reasoning piece: checked, counted as call tag, logged. */
static int piece(run *r, const char *what, char tag, const char *p, size_t n)
{
    check_bytes(r, what, p, n);
    int rc = next_call(r, tag);
    fuzz_log_field(&r->log, p, n);
    return rc;
}

static int k_text(void *ctx, const char *p, size_t n)
{
    return piece(ctx, "text", 't', p, n);
}

static int k_reasoning(void *ctx, const char *p, size_t n)
{
    return piece(ctx, "reasoning", 'r', p, n);
}

static int k_finish(void *ctx, const char *reason)
{
    run *r = ctx;
    check_str(r, "finish reason", reason);
    int rc = next_call(r, 'f');
    fuzz_log_str(&r->log, reason);
    return rc;
}

static int k_usage(void *ctx, long prompt, long completion)
{
    run *r = ctx;
    FUZZ_CHECK(prompt >= 0 && prompt <= 1000000000000000L, "prompt tokens %ld", prompt);
    FUZZ_CHECK(completion >= 0 && completion <= 1000000000000000L, "completion tokens %ld",
               completion);
    int rc = next_call(r, 'u');
    fuzz_log_long(&r->log, prompt);
    fuzz_log_long(&r->log, completion);
    return rc;
}

/* One line: no control byte, no space at either end. */
static void check_line(const char *what, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK((unsigned char)s[i] > 0x1f && s[i] != 0x7f, "%s: control byte at %zu", what, i);
    FUZZ_CHECK(n == 0 || (s[0] != ' ' && s[n - 1] != ' '), "%s: not trimmed", what);
}

static int k_error(void *ctx, const char *type, const char *message)
{
    run *r = ctx;
    FUZZ_CHECK(type && *type, "error type NULL or empty");
    FUZZ_CHECK(utf8_valid(type, strlen(type)) || !r->in_utf8, "error type: bad UTF-8");
    FUZZ_CHECK(message && *message, "error message NULL or empty");
    size_t n = strlen(message);
    FUZZ_CHECK(n < STREAM_MSG_MAX, "error message of %zu bytes", n);
    FUZZ_CHECK(utf8_valid(message, n) || !r->in_utf8, "error message: bad UTF-8");
    check_line("error message", message, n);
    int rc = next_call(r, 'e');
    fuzz_log_str(&r->log, type);
    fuzz_log_str(&r->log, message);
    return rc;
}

static int k_end(void *ctx)
{
    return next_call(ctx, 'E');
}

static int tool_started(const run *r, int index)
{
    return r->started[index / 8] >> (index % 8) & 1;
}

/* A tool call's id or name: a string within cap bytes, UTF-8 when the input is. */
static void check_tool_str(const run *r, const char *what, const char *s, size_t cap)
{
    FUZZ_CHECK(s != NULL, "tool %s is NULL", what);
    size_t n = strlen(s);
    FUZZ_CHECK(n <= cap, "tool %s of %zu bytes (cap %zu)", what, n, cap);
    int ok = utf8_valid(s, n);
    FUZZ_CHECK(ok || !r->in_utf8, "tool %s is not UTF-8 although the input is", what);
}

static int k_tool(void *ctx, int index, const char *id, const char *name)
{
    run *r = ctx;
    FUZZ_CHECK(index >= 0 && index < LIM_TOOLS, "tool call index %d (LIM_TOOLS %d)", index,
               LIM_TOOLS);
    FUZZ_CHECK(!tool_started(r, index), "tool call %d started twice", index);
    r->started[index / 8] |= (unsigned char)(1u << (index % 8));
    check_tool_str(r, "id", id, r->in_len > MADE_ID_MAX ? r->in_len : MADE_ID_MAX);
    check_tool_str(r, "name", name, r->in_len);
    int rc = next_call(r, 'T');
    fuzz_log_long(&r->log, index);
    fuzz_log_str(&r->log, id);
    fuzz_log_str(&r->log, name);
    return rc;
}

static int k_tool_args(void *ctx, int index, const char *p, size_t n)
{
    run *r = ctx;
    FUZZ_CHECK(index >= 0 && index < LIM_TOOLS, "tool arguments for index %d (LIM_TOOLS %d)", index,
               LIM_TOOLS);
    FUZZ_CHECK(tool_started(r, index), "tool arguments for call %d, which has not started", index);
    FUZZ_CHECK(p != NULL, "tool arguments NULL");
    size_t cap = r->in_len * ARGS_GROWTH > 2 ? r->in_len * ARGS_GROWTH : 2;
    FUZZ_CHECK(n <= cap, "tool arguments of %zu bytes from a %zu-byte input", n, r->in_len);
    /* reads every byte, so a length past the fragment is an ASan report right here */
    int ok = utf8_valid(p, n);
    FUZZ_CHECK(ok || !r->in_utf8, "tool arguments are not UTF-8 although the input is");
    int rc = next_call(r, 'A');
    fuzz_log_long(&r->log, index);
    fuzz_log_field(&r->log, p, n);
    return rc;
}

static int rc_ok(int rc)
{
    return rc == 0 || rc == PROV_ERR_PARSE || rc == PROV_ERR_TOO_LONG || rc == PROV_ERR_NOMEM ||
           rc == STOP_RC;
}

/* Feeds as chat.c does: stops at the first non-zero result, else finishes. */
static int read_stream(const prov *pv, run *r, fuzz_plan *pl, const uint8_t *d, size_t n)
{
    prov_sink sink = {r,       k_text, k_reasoning, k_finish,   k_usage,
                      k_error, k_end,  k_tool,      k_tool_args};
    prov_stream *s = pv->open();
    FUZZ_CHECK(s != NULL, "%s: open failed", pv->name);
    int rc = 0;
    for (size_t off = 0; off < n && rc == 0;) {
        size_t k = pl ? fuzz_plan_next(pl, n - off) : n - off;
        rc = pv->feed(s, (const char *)d + off, k, &sink);
        off += k;
    }
    if (rc == 0)
        rc = pv->finish(s, &sink);
    pv->close(s);
    FUZZ_CHECK(rc_ok(rc), "%s: unexpected result %d", pv->name, rc);
    FUZZ_CHECK(r->stopped == (rc == STOP_RC), "%s: stopped %d, result %d", pv->name, r->stopped,
               rc);
    return rc;
}

static void fuzz_stream(const prov *pv, const fuzz_plan *plan, const uint8_t *d, size_t n)
{
    fuzz_plan pl = *plan;
    int utf8 = utf8_valid((const char *)d, n);
    run split = {.in_len = n, .in_utf8 = utf8, .stop_at = pl.high};
    run whole = split;
    int a = read_stream(pv, &split, &pl, d, n);
    int b = read_stream(pv, &whole, NULL, d, n);
    FUZZ_CHECK(a == b, "%s: result %d split, %d whole", pv->name, a, b);
    FUZZ_CHECK(fuzz_log_same(&split.log, &whole.log),
               "%s: sink calls differ with the split (%u vs %u calls)", pv->name, split.calls,
               whole.calls);
    fuzz_log_free(&split.log);
    fuzz_log_free(&whole.log);
}

static const size_t OUT_SIZES[] = {1, 2, 3, 4, 5, 8, 17, 64, 300, 512, 4096};
#define N_SIZES (sizeof(OUT_SIZES) / sizeof(OUT_SIZES[0]))

static void fuzz_reason(const prov *pv, const char *body, size_t n)
{
    static char out[N_SIZES][4096 + 16];
    char canary[4] = "\x5a\x5a\x5a";
    int utf8 = body ? utf8_valid(body, n) : 1;
    pv->error_reason(body, n, canary, 0);
    FUZZ_CHECK(!memcmp(canary, "\x5a\x5a\x5a", 4), "%s: error_reason wrote to a 0-byte out",
               pv->name);
    for (size_t i = 0; i < N_SIZES; i++) {
        size_t sz = OUT_SIZES[i];
        memset(out[i], 0x5a, sz + 16);
        pv->error_reason(body, n, out[i], sz);
        size_t len = strnlen(out[i], sz);
        FUZZ_CHECK(len < sz, "%s: reason not NUL-terminated within %zu bytes", pv->name, sz);
        for (size_t j = sz; j < sz + 16; j++)
            FUZZ_CHECK(out[i][j] == 0x5a, "%s: wrote past outsz %zu", pv->name, sz);
        check_line("error reason", out[i], len);
        FUZZ_CHECK(utf8_valid(out[i], len) || !utf8, "%s: reason (outsz %zu) is not UTF-8",
                   pv->name, sz);
        /* (a body that is not UTF-8 may be cut differently: bytes after a gap are not
         * the continuation of the bytes before it) */
        if (i > 0 && utf8)
            FUZZ_CHECK(!strncmp(out[i - 1], out[i], strlen(out[i - 1])),
                       "%s: reason with outsz %zu is not a prefix of the one with %zu", pv->name,
                       OUT_SIZES[i - 1], sz);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    fuzz_plan pl;
    fuzz_plan_take(&pl, &d, &n);
    for (size_t i = 0; i < sizeof(PROVS) / sizeof(PROVS[0]); i++) {
        fuzz_stream(PROVS[i], &pl, d, n);
        fuzz_reason(PROVS[i], (const char *)d, n);
        if (n == 0)
            fuzz_reason(PROVS[i], NULL, 0);
    }
    return 0;
}
