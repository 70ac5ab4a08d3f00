/* Unit tests: a stream's log entries in Redis — what the owner's XADD carries, read back
 * the way XRANGE/XREAD hand it over (a fake reply built from the command's own arguments),
 * entry ids, the terminal event, and entries that are not ours refused. */
#include <check.h>

#include "check_main.h"
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rlog.h"

#define ID "0123456789abcdef01234567"

/* ---- a fake connection: the reply Redis would give for the entry an XADD wrote ---- */

static redisReply nodes[64];
static redisReply *ptrs[64];
static int used;

static redisReply *str(const char *p, size_t n)
{
    redisReply *r = &nodes[used++];
    memset(r, 0, sizeof(*r));
    r->type = REDIS_REPLY_STRING;
    r->str = (char *)p;
    r->len = n;
    return r;
}

static redisReply *arr(redisReply **el, size_t n)
{
    redisReply *r = &nodes[used++];
    memset(r, 0, sizeof(*r));
    r->type = REDIS_REPLY_ARRAY;
    r->element = el;
    r->elements = n;
    return r;
}

/* [entry id, [field, value, ...]] from XADD key id field value ... */
static redisReply *entry_of(const rlog_cmd *c)
{
    used = 0;
    ck_assert_str_eq(c->argv[0], "XADD");
    int nf = c->argc - 3;
    for (int i = 0; i < nf; i++)
        ptrs[i] = str(c->argv[3 + i], c->len[3 + i]);
    ptrs[40] = str(c->argv[2], c->len[2]);
    ptrs[41] = arr(ptrs, (size_t)nf);
    return arr(&ptrs[40], 2);
}

static rlog_cmd cmd;

START_TEST(keys_share_the_stream_hash_tag)
{
    char k[RLOG_KEY_MAX], id[STREAM_ID_LEN + 1];
    rlog_key(k, ID, "log");
    ck_assert_str_eq(k, "chatd:{" ID "}:log");
    ck_assert_int_eq(rlog_key_id(k, strlen(k), id), 0);
    ck_assert_str_eq(id, ID);
    ck_assert_int_eq(rlog_key_id("chatd:cancels", 13, id), -1);
    ck_assert_int_eq(rlog_key_id("chatd:{0123456789abcdef0123456X}:log", 36, id), -1);
    ck_assert_int_eq(rlog_key_id("chatd:{0123}:log", 16, id), -1);
}
END_TEST

START_TEST(start_and_early_failure)
{
    rlog_entry e;
    rlog_xadd_start(&cmd, ID);
    ck_assert_str_eq(cmd.argv[1], "chatd:{" ID "}:log");
    ck_assert_str_eq(cmd.argv[2], "0-1");
    ck_assert_int_eq(rlog_decode(entry_of(&cmd), &e), 0);
    ck_assert_int_eq(e.kind, RLOG_START);
    ck_assert_uint_eq(e.last, 0);

    stream_term why = {.kind = STREAM_TERM_ERROR, .status = 502};
    strcpy(why.type, "upstream_error");
    strcpy(why.msg, "upstream said 500: boom");
    rlog_xadd_early(&cmd, ID, &why);
    ck_assert_int_eq(rlog_decode(entry_of(&cmd), &e), 0);
    ck_assert_int_eq(e.kind, RLOG_EARLY);
    ck_assert_int_eq(e.term.status, 502);
    ck_assert_str_eq(e.term.type, "upstream_error");
    ck_assert_str_eq(e.term.msg, "upstream said 500: boom");
}
END_TEST

START_TEST(batch_round_trip_every_kind)
{
    /* "é" as e + combining acute, a ZWJ family, reasoning, a tool call and its arguments. */
    static const char text[] = "e\xcc\x81" "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9" "r"
                               "\x00" "call_1\0get" "\x00{\"a\":1}";
    uint16_t lens[] = {3, 11, 1 | STREAM_REASONING_BIT,
                       (uint16_t)(11 | ((unsigned)STREAM_KIND_TOOL << STREAM_KIND_SHIFT)),
                       (uint16_t)(8 | ((unsigned)STREAM_KIND_TOOL_ARGS << STREAM_KIND_SHIFT))};
    ck_assert_int_eq(rlog_xadd_batch(&cmd, ID, 7, text, lens, 5, NULL), 0);
    ck_assert_str_eq(cmd.argv[2], "0-12"); /* events 7..11: the last is 11 */
    rlog_entry e;
    ck_assert_int_eq(rlog_decode(entry_of(&cmd), &e), 0);
    ck_assert_int_eq(e.kind, RLOG_BATCH);
    ck_assert_uint_eq(e.first, 7);
    ck_assert_uint_eq(e.last, 11);
    ck_assert_uint_eq(e.n, 5);
    ck_assert_int_eq(e.has_term, 0);
    ck_assert_uint_eq(e.text_len, 34);
    ck_assert_int_eq(memcmp(e.text, text, 34), 0);
    for (size_t i = 0; i < 5; i++)
        ck_assert_uint_eq(rlog_len_at(&e, i), lens[i]);
}
END_TEST

START_TEST(batch_with_the_end)
{
    stream_term t = {.kind = STREAM_TERM_DONE, .prompt_tokens = 12, .completion_tokens = -1};
    strcpy(t.finish_reason, "tool_calls");
    uint16_t lens[] = {1, 1};
    ck_assert_int_eq(rlog_xadd_batch(&cmd, ID, 1, "ab", lens, 2, &t), 0);
    ck_assert_str_eq(cmd.argv[2], "0-4"); /* a, b, then the terminal event 3 */
    rlog_entry e;
    ck_assert_int_eq(rlog_decode(entry_of(&cmd), &e), 0);
    ck_assert_int_eq(e.has_term, 1);
    ck_assert_uint_eq(e.last, 3);
    ck_assert_int_eq(e.term.kind, STREAM_TERM_DONE);
    ck_assert_str_eq(e.term.finish_reason, "tool_calls");
    ck_assert_int_eq(e.term.prompt_tokens, 12);
    ck_assert_int_eq(e.term.completion_tokens, -1);

    /* The end alone (no characters after the last entry): one event, the terminal one. */
    stream_term err = {.kind = STREAM_TERM_ERROR, .prompt_tokens = -1, .completion_tokens = -1};
    strcpy(err.type, "owner_lost");
    ck_assert_int_eq(rlog_xadd_batch(&cmd, ID, 9, "", NULL, 0, &err), 0);
    ck_assert_str_eq(cmd.argv[2], "0-10");
    ck_assert_int_eq(rlog_decode(entry_of(&cmd), &e), 0);
    ck_assert_uint_eq(e.n, 0);
    ck_assert_uint_eq(e.first, 9);
    ck_assert_uint_eq(e.last, 9);
    ck_assert_str_eq(e.term.type, "owner_lost");
}
END_TEST

/* Entries that are not ours, or whose parts disagree, are refused rather than misread. */
START_TEST(foreign_entries_refused)
{
    uint16_t lens[] = {1, 2};
    rlog_entry e;
    ck_assert_int_eq(rlog_xadd_batch(&cmd, ID, 1, "abc", lens, 2, NULL), 0);
    redisReply *ent = entry_of(&cmd);
    ck_assert_int_eq(rlog_decode(ent, &e), 0);

    /* the lengths add up to more than the text */
    redisReply *x = ent->element[1]->element[5];
    x->len = 2;
    ck_assert_int_eq(rlog_decode(ent, &e), -1);
    x->len = 3;
    /* an auto-generated id (someone else's XADD *) */
    redisReply *id = ent->element[0];
    id->str = (char *)"1733480000000-0";
    id->len = strlen(id->str);
    ck_assert_int_eq(rlog_decode(ent, &e), -1);
    /* an id that disagrees with the events it claims */
    id->str = (char *)"0-9";
    id->len = 3;
    ck_assert_int_eq(rlog_decode(ent, &e), -1);
    id->str = (char *)"0-3";
    ck_assert_int_eq(rlog_decode(ent, &e), 0);
    /* an odd number of length bytes */
    redisReply *l = ent->element[1]->element[3];
    l->len = 3;
    ck_assert_int_eq(rlog_decode(ent, &e), -1);
    l->len = 4;
    /* not a [id, fields] pair */
    ent->elements = 1;
    ck_assert_int_eq(rlog_decode(ent, &e), -1);
    ent->elements = 2;
    /* a start that claims a later event */
    rlog_xadd_start(&cmd, ID);
    ent = entry_of(&cmd);
    ent->element[0]->str = (char *)"0-5";
    ck_assert_int_eq(rlog_decode(ent, &e), -1);
    /* no kind at all */
    ent->element[1]->elements = 0;
    ck_assert_int_eq(rlog_decode(ent, &e), -1);
}
END_TEST

/* A catch-up after a loss re-sends from the start: ids only grow with the events carried. */
START_TEST(ids_grow_with_the_last_event)
{
    uint16_t lens[64];
    char text[64];
    for (int i = 0; i < 64; i++) {
        lens[i] = 1;
        text[i] = (char)('a' + i % 26);
    }
    rlog_xadd_batch(&cmd, ID, 1, text, lens, 10, NULL);
    ck_assert_str_eq(cmd.argv[2], "0-11");
    rlog_xadd_batch(&cmd, ID, 11, text, lens, 5, NULL);
    ck_assert_str_eq(cmd.argv[2], "0-16");
    /* the whole log again, one entry: newer than both, overlapping them */
    rlog_xadd_batch(&cmd, ID, 1, text, lens, 20, NULL);
    ck_assert_str_eq(cmd.argv[2], "0-21");
}
END_TEST

int main(void)
{
    buf_init(&cmd.lens, 1 << 16);
    int rc = check_tests("rlog", keys_share_the_stream_hash_tag, start_and_early_failure,
                         batch_round_trip_every_kind, batch_with_the_end, foreign_entries_refused,
                         ids_grow_with_the_last_event);
    buf_free(&cmd.lens);
    return rc;
}
