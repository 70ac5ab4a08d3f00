/* rlog — see rlog.h. */
#include "rlog.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

void rlog_key(char *out, const char *id, const char *suffix)
{
    snprintf(out, RLOG_KEY_MAX, "chatd:{%s}:%s", id, suffix);
}

int rlog_key_id(const char *key, size_t len, char *id)
{
    static const char pre[] = "chatd:{";
    size_t np = sizeof(pre) - 1;
    if (len < np + STREAM_ID_LEN + 1 || memcmp(key, pre, np) || key[np + STREAM_ID_LEN] != '}')
        return -1;
    memcpy(id, key + np, STREAM_ID_LEN);
    id[STREAM_ID_LEN] = '\0';
    return strspn(id, "0123456789abcdef") == STREAM_ID_LEN ? 0 : -1;
}

static void arg(rlog_cmd *c, const char *p, size_t n)
{
    c->argv[c->argc] = p;
    c->len[c->argc++] = n;
}

static void sarg(rlog_cmd *c, const char *s)
{
    arg(c, s, strlen(s));
}

static void head(rlog_cmd *c, const char *id, uint64_t last)
{
    c->argc = 0;
    rlog_key(c->key, id, "log");
    snprintf(c->eid, sizeof(c->eid), "0-%" PRIu64, last + 1);
    sarg(c, "XADD");
    sarg(c, c->key);
    sarg(c, c->eid);
}

void rlog_xadd_start(rlog_cmd *c, const char *id)
{
    head(c, id, 0);
    sarg(c, "s");
    sarg(c, "");
}

static void why(rlog_cmd *c, const stream_term *t)
{
    snprintf(c->status, sizeof(c->status), "%d", t->status);
    sarg(c, "st");
    sarg(c, c->status);
    sarg(c, "ty");
    sarg(c, t->type);
    sarg(c, "m");
    sarg(c, t->msg);
}

void rlog_xadd_early(rlog_cmd *c, const char *id, const stream_term *t)
{
    head(c, id, 0);
    sarg(c, "f");
    sarg(c, "");
    why(c, t);
}

int rlog_xadd_batch(rlog_cmd *c, const char *id, uint64_t first, const char *text,
                    const uint16_t *lens, size_t n, const stream_term *term)
{
    buf_reset(&c->lens);
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char le[2] = {(unsigned char)(lens[i] & 0xff), (unsigned char)(lens[i] >> 8)};
        if (buf_add(&c->lens, le, 2) < 0)
            return -1;
        bytes += lens[i] & STREAM_LEN_MASK;
    }
    head(c, id, first + n - (term ? 0 : 1));
    snprintf(c->first, sizeof(c->first), "%" PRIu64, first);
    sarg(c, "i");
    sarg(c, c->first);
    sarg(c, "l");
    arg(c, buf_ptr(&c->lens), buf_len(&c->lens));
    sarg(c, "x");
    arg(c, text, bytes);
    if (term) {
        snprintf(c->kind, sizeof(c->kind), "%d", term->kind);
        snprintf(c->prompt, sizeof(c->prompt), "%ld", term->prompt_tokens);
        snprintf(c->compl, sizeof(c->compl), "%ld", term->completion_tokens);
        sarg(c, "k");
        sarg(c, c->kind);
        sarg(c, "r");
        sarg(c, term->finish_reason);
        sarg(c, "p");
        sarg(c, c->prompt);
        sarg(c, "c");
        sarg(c, c->compl);
        why(c, term);
    }
    return 0;
}

/* ---------- reading back ---------- */

static int num(const redisReply *v, long long lo, long long hi, long long *out)
{
    char tmp[24];
    if (v->type != REDIS_REPLY_STRING || v->len == 0 || v->len >= sizeof(tmp))
        return -1;
    memcpy(tmp, v->str, v->len);
    tmp[v->len] = '\0';
    char *end;
    long long x = strtoll(tmp, &end, 10);
    if (*end || x < lo || x > hi)
        return -1;
    *out = x;
    return 0;
}

static void text_into(char *dst, size_t cap, const redisReply *v)
{
    char tmp[512];
    size_t n = v->len < sizeof(tmp) - 1 ? v->len : sizeof(tmp) - 1;
    memcpy(tmp, v->str, n);
    tmp[n] = '\0';
    utf8_copy(dst, cap, tmp);
}

int rlog_decode(const redisReply *e, rlog_entry *out)
{
    memset(out, 0, sizeof(*out));
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING ||
        e->element[1]->type != REDIS_REPLY_ARRAY || e->element[1]->elements % 2)
        return -1;
    const redisReply *eid = e->element[0];
    if (eid->len < 3 || memcmp(eid->str, "0-", 2))
        return -1;
    redisReply idtxt = {.type = REDIS_REPLY_STRING, .str = eid->str + 2, .len = eid->len - 2};
    long long last1;
    if (num(&idtxt, 1, INT64_MAX, &last1) < 0)
        return -1;
    out->last = (uint64_t)last1 - 1;
    const redisReply *f = e->element[1];
    int have_i = 0, have_l = 0, have_x = 0, have_s = 0, have_f = 0, have_k = 0;
    out->term.prompt_tokens = out->term.completion_tokens = -1;
    for (size_t k = 0; k + 1 < f->elements; k += 2) {
        const redisReply *name = f->element[k], *v = f->element[k + 1];
        if (name->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING || name->len > 2)
            return -1;
        char nm[3] = {0};
        memcpy(nm, name->str, name->len);
        long long x;
        if (!strcmp(nm, "s")) {
            have_s = 1;
        } else if (!strcmp(nm, "f")) {
            have_f = 1;
        } else if (!strcmp(nm, "i")) {
            if (num(v, 1, INT64_MAX, &x) < 0)
                return -1;
            out->first = (uint64_t)x;
            have_i = 1;
        } else if (!strcmp(nm, "l")) {
            if (v->len % 2)
                return -1;
            out->lens = (const unsigned char *)v->str;
            out->n = v->len / 2;
            have_l = 1;
        } else if (!strcmp(nm, "x")) {
            out->text = v->str;
            out->text_len = v->len;
            have_x = 1;
        } else if (!strcmp(nm, "k")) {
            if (num(v, STREAM_TERM_DONE, STREAM_TERM_ERROR, &x) < 0)
                return -1;
            out->term.kind = (int)x;
            have_k = 1;
        } else if (!strcmp(nm, "r")) {
            text_into(out->term.finish_reason, sizeof(out->term.finish_reason), v);
        } else if (!strcmp(nm, "p")) {
            if (num(v, -1, INT64_MAX, &x) < 0)
                return -1;
            out->term.prompt_tokens = (long)x;
        } else if (!strcmp(nm, "c")) {
            if (num(v, -1, INT64_MAX, &x) < 0)
                return -1;
            out->term.completion_tokens = (long)x;
        } else if (!strcmp(nm, "st")) {
            if (num(v, 0, 999, &x) < 0)
                return -1;
            out->term.status = (int)x;
        } else if (!strcmp(nm, "ty")) {
            text_into(out->term.type, sizeof(out->term.type), v);
        } else if (!strcmp(nm, "m")) {
            text_into(out->term.msg, sizeof(out->term.msg), v);
        }
    }
    if (have_s + have_f + have_i != 1)
        return -1;
    if (have_s || have_f) {
        out->kind = have_s ? RLOG_START : RLOG_EARLY;
        if (have_f)
            out->term.kind = STREAM_TERM_ERROR;
        return out->last == 0 ? 0 : -1;
    }
    if (!have_l || !have_x)
        return -1;
    out->kind = RLOG_BATCH;
    out->has_term = have_k;
    size_t bytes = 0;
    for (size_t i = 0; i < out->n; i++)
        bytes += rlog_len_at(out, i) & STREAM_LEN_MASK;
    if (bytes != out->text_len || out->n + (size_t)have_k == 0)
        return -1;
    /* The entry id must say what the fields say: first + n - 1, or the terminal event. */
    return out->last == out->first + out->n - (have_k ? 0 : 1) ? 0 : -1;
}
