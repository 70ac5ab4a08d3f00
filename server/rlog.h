/* rlog — a stream kept in Redis: the key names and the log entries every replica agrees on.
 *
 * Keys of one stream share the hash tag {ID}, so Redis Cluster keeps them on one slot:
 *   chatd:{ID}:meta    hash: model, created, replica; end = 1 once the terminal entry is in
 *   chatd:{ID}:log     stream: the entries below
 *   chatd:{ID}:own     string: the producing replica's lease (it renews it)
 *   chatd:{ID}:cancel  string: a cancel request (the owner checks it when it renews)
 *   chatd:{ID}:rd      zset: replicas with readers of the stream, scored by when that lapses
 *   chatd:cancels      stream: a notice per cancel request, so that the owner hears at once
 *
 * An entry is what one loop pass released, never one character: its id is 0-(L+1), L the
 * last event id it carries, so ids are explicit and increasing, and whoever needs events
 * from q on reads the entries after 0-q. A re-sent entry that reaches further than the
 * stored ones lands (readers skip the events they have); one that does not is refused by
 * Redis, harmlessly. Fields:
 *   s                              the start (event 0)
 *   f st ty m                      the stream failed before it began: status, type, message
 *   i l x [k r p c st ty m]        clusters from event i on: their 16-bit lengths and kinds
 *                                  (little-endian), their bytes; then, when k is there, the
 *                                  terminal event: kind, finish reason, prompt and
 *                                  completion tokens, status, type, message */
#ifndef CHATD_RLOG_H
#define CHATD_RLOG_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "store.h"

#define RLOG_KEY_MAX 64
#define RLOG_ARGV_MAX 26
#define RLOG_ENTRY_BYTES 65536 /* the text of one entry at most (a catch-up is split) */
#define RLOG_CANCELS "chatd:cancels"

typedef struct redisReply redisReply;

/* chatd:{id}:suffix into out (RLOG_KEY_MAX bytes). */
void rlog_key(char *out, const char *id, const char *suffix);
/* The stream id in a log key, into id (STREAM_ID_LEN + 1 bytes); 0, or -1 if not one. */
int rlog_key_id(const char *key, size_t len, char *id);

/* One XADD, its arguments pointing into the command itself (and lens). */
typedef struct rlog_cmd {
    int argc;
    const char *argv[RLOG_ARGV_MAX];
    size_t len[RLOG_ARGV_MAX];
    char key[RLOG_KEY_MAX], eid[32], first[24], kind[4], prompt[24], compl[24], status[8];
    buf lens; /* the lengths, little-endian (the caller inits and frees it) */
} rlog_cmd;

void rlog_xadd_start(rlog_cmd *c, const char *id);
void rlog_xadd_early(rlog_cmd *c, const char *id, const stream_term *why);
/* n clusters from event first on (text, lens), then term when not NULL. 0, or -1 when
 * lens has no room. */
int rlog_xadd_batch(rlog_cmd *c, const char *id, uint64_t first, const char *text,
                    const uint16_t *lens, size_t n, const stream_term *term);

enum { RLOG_START, RLOG_EARLY, RLOG_BATCH };

/* One entry read back (pointers into the reply). */
typedef struct rlog_entry {
    int kind;               /* RLOG_* */
    uint64_t last;          /* the last event id it carries (from its entry id) */
    uint64_t first;         /* BATCH: the event id of its first cluster */
    const char *text;       /* BATCH: the clusters' bytes */
    size_t text_len;
    const unsigned char *lens; /* BATCH: n little-endian 16-bit lengths */
    size_t n;
    int has_term;
    stream_term term;       /* EARLY: why; BATCH with has_term: how it ended */
} rlog_entry;

/* Decodes one [id, [field, value, ...]] element of an XRANGE or XREAD reply. 0, or -1
 * when it is not an entry of ours (wrong shape, lengths that do not add up). */
int rlog_decode(const redisReply *entry, rlog_entry *out);
static inline uint16_t rlog_len_at(const rlog_entry *e, size_t i)
{
    return (uint16_t)(e->lens[2 * i] | (e->lens[2 * i + 1] << 8));
}

#endif
