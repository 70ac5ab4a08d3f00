/* reader — see reader.h. */
#include "reader.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lim.h"

/* What one read from the store takes at most: READ_BYTES of text (six-fold when every
 * byte is escaped) and as many clusters as LIM_READER_CHUNK of event framing allows, so
 * that its encoding stays under LIM_READER_OUT whatever the format and the model name. */
#define READ_BYTES 4096
_Static_assert(6 * READ_BYTES + LIM_READER_CHUNK + 8192 <= LIM_READER_OUT,
               "one read's encoding fits a reader's output buffer");
_Static_assert(6 * STREAM_ENTRY_MAX + 2 * 8192 <= LIM_READER_OUT,
               "one read of a single large entry fits a reader's output buffer");

struct reader {
    reader_set *rs;
    stream *s;
    const stream_info *info;
    struct MHD_Connection *mc; /* NULL once MHD completed the request */
    enc enc;
    buf out; /* encoded, not yet taken by MHD */
    api_kind api;
    int fd;        /* watched for the peer's hang-up; -1 when not */
    int shard;     /* which of the worker's daemons serves mc */
    int suspended; /* we suspended mc and have not resumed it */
    int resp_live; /* MHD holds our response and may call the callback */
    int streaming; /* the event-stream response is queued */
    int gone;      /* the client hung up */
    int finished;  /* the terminal event is in out */
    int ping_due;
    int spare_released; /* the response buffer's unused pages went back */
    int following;      /* stream_follow'ed and not yet unfollowed */
    int chunked;        /* the response goes in HTTP/1.1 chunks (not HTTP/1.0's until-close) */
    int direct;         /* suspended with MHD's buffer sent: we write the socket ourselves */
    buf wire;           /* direct: framed bytes the socket did not take yet */
    uint64_t last_write_ms;
    uint64_t first_char_ms;
    int term_kind;      /* finished: STREAM_TERM_DONE or _ERROR */
    char term_word[32]; /* finished: the finish reason, or the error type */
    sched_task task;    /* resume the connection: there is news */
    stream_sub sub;
    reader *next, *prev; /* the set's readers */
};

struct reader_set {
    reader_host h;
    reader *readers;
    int n;
    stream_chunk scratch; /* one read at a time: this thread's */
};

#define READER_OF(ptr, field) ((reader *)(void *)((char *)(ptr)-offsetof(reader, field)))

/* ---------- lifetime ---------- */

static void unwatch(reader *r)
{
    if (r->fd >= 0)
        loop_unwatch(r->rs->h.loop, r->fd);
    r->fd = -1;
}

static void unfollow(reader *r)
{
    if (!r->following)
        return;
    r->following = 0;
    stream_unfollow(r->s, &r->sub); /* no wake-up reaches r from here on... */
    sched_forget(&r->task);         /* ...and none is left queued */
}

static void maybe_free(reader *r)
{
    if (r->mc || r->resp_live)
        return;
    reader_set *rs = r->rs;
    if (r->prev)
        r->prev->next = r->next;
    else
        rs->readers = r->next;
    if (r->next)
        r->next->prev = r->prev;
    rs->n--;
    enc_free(&r->enc);
    buf_free(&r->out);
    buf_free(&r->wire);
    stream_unref(r->s);
    free(r);
}

static void on_sock(loop *l, int fd, unsigned ev, void *ud);

static void watch(reader *r, struct MHD_Connection *mc)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
    /* Only the peer's FIN/RST: MHD reads the socket itself, we must not consume data. */
    if (ci && loop_watch(r->rs->h.loop, ci->connect_fd, EPOLLRDHUP, on_sock, r) == 0)
        r->fd = ci->connect_fd;
}

/* Direct writes that the socket could not take wait for it to be writable. */
static void want_out(reader *r, int yes)
{
    if (r->fd >= 0)
        loop_watch(r->rs->h.loop, r->fd, EPOLLRDHUP | (yes ? EPOLLOUT : 0), on_sock, r);
}

static int shard_of(const reader_host *h, struct MHD_Connection *mc)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_DAEMON);
    for (int i = 0; ci && i < h->nmhd; i++)
        if (h->mhd[i] == ci->daemon)
            return i;
    return 0;
}

int reader_set_shard(const reader_set *rs, struct MHD_Connection *mc)
{
    return shard_of(&rs->h, mc);
}

static int pump(reader *r);

/* MHD takes the connection back: to start the response, to end it, or to close it. */
static void resume(reader *r)
{
    if (r->suspended && r->mc) {
        r->suspended = 0;
        r->direct = 0;
        MHD_resume_connection(r->mc);
        *r->rs->h.mhd_due |= 1u << r->shard;
    }
}

/* The scheduler runs this on the reader's thread when it was woken: while the stream is
 * live its news go out from here (pump); anything else is MHD's to do. */
static int on_news(sched_task *t, uint64_t now)
{
    reader *r = READER_OF(t, task);
    if (r->direct && r->suspended && r->mc && pump(r) == 0)
        return 0;
    resume(r);
    return 0;
}

/* From the appending thread, the stream's lock held: only schedule. */
static void notify(stream_sub *sub)
{
    sched_wake(&READER_OF(sub, sub)->task);
}

reader *reader_new(reader_set *rs, struct MHD_Connection *mc, stream *s, enc_fmt fmt,
                   int include_usage, api_kind api)
{
    reader *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->info = stream_get_info(s);
    if (enc_init(&r->enc, fmt, include_usage, r->info) < 0) {
        enc_free(&r->enc);
        free(r);
        return NULL;
    }
    buf_init(&r->out, enc_is_whole(fmt) ? 3 * (size_t)LIM_LOG_TEXT : LIM_READER_OUT);
    buf_init(&r->wire, LIM_READER_OUT + 16);
    stream_ref(s);
    r->s = s;
    r->rs = rs;
    r->mc = mc;
    r->api = api;
    r->fd = -1;
    r->shard = shard_of(&rs->h, mc);
    r->last_write_ms = loop_now_ms();
    sched_task_init(&r->task, rs->h.sc, on_news);
    r->sub.notify = notify;
    r->next = rs->readers;
    if (rs->readers)
        rs->readers->prev = r;
    rs->readers = r;
    rs->n++;
    stream_follow(s, &r->sub);
    r->following = 1;
    watch(r, mc);
    return r;
}

void reader_set_http_version(reader *r, const char *version)
{
    /* MHD answers a body of unknown size in chunks to HTTP/1.1 (and later 1.x) clients,
     * and to HTTP/1.0 ones until it closes the connection. */
    r->chunked = version && strcmp(version, MHD_HTTP_VERSION_1_0) != 0;
}

int reader_seek(reader *r, int64_t last_id)
{
    uint64_t next = (uint64_t)(last_id + 1);
    stream_chunk *ch = &r->rs->scratch;
    stream_chunk_reset(ch);
    if (stream_read(r->s, NULL, next, 0, 0, ch) < 0)
        return -1;
    r->enc.next_id = next;
    return 0;
}

void reader_detach(reader *r)
{
    unwatch(r);
    unfollow(r);
    r->mc = NULL;
    r->suspended = 0;
    r->direct = 0;
    maybe_free(r);
}

static void hung_up(reader *r)
{
    unwatch(r);
    r->gone = 1;
    stream_set_live(r->s, &r->sub, 0);
    sched_wake(&r->task);
}

static int flush_wire(reader *r);

static void on_sock(loop *l, int fd, unsigned ev, void *ud)
{
    reader *r = ud;
    if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        hung_up(r);
        return;
    }
    int rc = ev & EPOLLOUT ? flush_wire(r) : 1;
    if (rc < 0) {
        hung_up(r);
    } else if (rc == 0) {
        want_out(r, 0);
        sched_wake(&r->task); /* what came meanwhile, or the end for MHD to write */
    }
}

/* ---------- the response ---------- */

/* The terminal event is written: what the access log says of it. */
static void finish(reader *r, const stream_term *t)
{
    r->finished = 1;
    r->term_kind = t->kind;
    snprintf(r->term_word, sizeof(r->term_word), "%s",
             t->kind == STREAM_TERM_ERROR ? t->type : t->finish_reason);
}

/* Reads what is new and writes it in the reader's format. */
static int encode_more(reader *r)
{
    stream_chunk *ch = &r->rs->scratch;
    stream_chunk_reset(ch);
    size_t clusters = LIM_READER_CHUNK / enc_per_event(&r->enc);
    if (stream_read(r->s, &r->sub, r->enc.next_id, clusters ? clusters : 1, READ_BYTES, ch) < 0)
        return -1;
    int rc = enc_chunk(&r->enc, r->info, ch, &r->out);
    if (rc == 1)
        finish(r, &ch->term);
    return rc < 0 ? -1 : 0;
}

/* Bytes left for the client (through MHD or directly): the heartbeat and the log's first
 * character count from here. */
static void wrote(reader *r)
{
    r->last_write_ms = loop_now_ms();
    if (!r->first_char_ms && r->enc.next_id > 1)
        r->first_char_ms = r->last_write_ms;
}

/* Fills dst from what the stream has released; 0 when nothing yet (suspends). */
static ssize_t fill(reader *r, char *dst, size_t max)
{
    if (r->gone)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (buf_len(&r->out) == 0 && !r->finished && encode_more(r) < 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (buf_len(&r->out) == 0 && r->ping_due && !r->finished)
        buf_add(&r->out, ": ping\n\n", 8);
    r->ping_due = 0;
    size_t n = buf_len(&r->out);
    if (n) {
        if (n > max)
            n = max;
        memcpy(dst, buf_ptr(&r->out), n);
        buf_consume(&r->out, n);
        buf_shrink(&r->out);
        wrote(r);
        return (ssize_t)n;
    }
    if (r->finished)
        return MHD_CONTENT_READER_END_OF_STREAM;
    /* Nothing to send: suspend, or MHD would poll this callback in a busy loop. MHD asks
     * only once its buffer went out whole, so from here what comes next may go to the
     * socket directly (pump), framed as MHD frames it. */
    r->suspended = 1;
    r->direct = r->chunked && r->fd >= 0;
    MHD_suspend_connection(r->mc);
    return 0;
}

/* ---------- direct writes ----------
 * A live stream's news cost one send per pass, not MHD's resume (an eventfd, its epoll
 * re-registration, a walk of the shard's suspended list) and suspend again. Only the body
 * of an HTTP/1.1 chunked response in flight is written here; its head, its end (the
 * terminal event and MHD's last chunk), hang-ups and errors are MHD's again. */

/* How many reads one pass sends for one reader before it lets the others go. */
#define PUMP_ROUNDS 4

/* Writes what is in wire. 0: all of it; 1: the socket is full; -1: the connection broke. */
static int flush_wire(reader *r)
{
    while (buf_len(&r->wire)) {
        ssize_t n = send(r->fd, buf_ptr(&r->wire), buf_len(&r->wire), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : -1;
        buf_consume(&r->wire, (size_t)n);
    }
    buf_shrink(&r->wire);
    return 0;
}

/* out as one chunk, in one system call; what the socket does not take waits in wire.
 * 0: sent; 1: part of it waits; -1: the connection broke. */
static int send_chunk(reader *r)
{
    char head[20];
    size_t n = buf_len(&r->out);
    int hl = snprintf(head, sizeof(head), "%zx\r\n", n);
    struct iovec iov[3] = {{head, (size_t)hl}, {(void *)buf_ptr(&r->out), n}, {"\r\n", 2}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 3};
    ssize_t w;
    do
        w = sendmsg(r->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (w < 0 && errno == EINTR);
    if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
        return -1;
    size_t sent = w < 0 ? 0 : (size_t)w;
    for (int i = 0; i < 3; i++) {
        size_t skip = sent < iov[i].iov_len ? sent : iov[i].iov_len;
        sent -= skip;
        buf_add(&r->wire, (char *)iov[i].iov_base + skip, iov[i].iov_len - skip);
    }
    if (buf_failed(&r->wire))
        return -1; /* cannot happen: wire holds one out and its framing */
    wrote(r);
    buf_consume(&r->out, n);
    buf_shrink(&r->out);
    if (!buf_len(&r->wire))
        return 0;
    want_out(r, 1);
    return 1;
}

/* Sends the stream's news on the socket. 0: done for this pass (or waiting for the socket
 * to take more); -1: MHD must take the connection back. */
static int pump(reader *r)
{
    if (r->gone || r->fd < 0)
        return -1;
    if (buf_len(&r->wire))
        return 0; /* on_sock wakes the reader when the socket took it */
    for (int round = 0; round < PUMP_ROUNDS; round++) {
        if (buf_len(&r->out) == 0 && !r->finished && encode_more(r) < 0)
            return -1;
        if (r->finished)
            return -1; /* the end goes out through MHD, which then closes the chunks */
        if (buf_len(&r->out) == 0 && r->ping_due)
            buf_add(&r->out, ": ping\n\n", 8);
        r->ping_due = 0;
        if (buf_len(&r->out) == 0)
            return 0;
        int rc = send_chunk(r);
        if (rc < 0) {
            r->gone = 1;
            return -1;
        }
        if (rc > 0)
            return 0;
    }
    sched_wake(&r->task); /* a backlog: the rest next pass, after the other readers */
    return 0;
}

/* For HTTP/1.1, dst is the free part of the connection's write buffer, which spans most of
 * MHD's per-connection pool. Switching from reading the request to writing, MHD shrank its
 * read buffer (half the pool) to the bytes left in it and zeroed the rest: some 8 KiB of
 * resident pages that hold nothing, for as long as the stream lasts. The whole pages past
 * what was written go back to the kernel; they read as zeros again, as MHD left them,
 * should a larger piece need them. */
static void release_spare(char *dst, size_t used, size_t max)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = ((uintptr_t)dst + used + page - 1) & ~(page - 1);
    uintptr_t hi = ((uintptr_t)dst + max) & ~(page - 1);
    if (hi > lo)
        madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* Once per response, with its second piece or when the live body starts going out
 * directly: the buffer stays where it is from the first, and the first character leaves
 * without waiting for the system call. */
static ssize_t content(void *cls, uint64_t pos, char *dst, size_t max)
{
    reader *r = cls;
    ssize_t n = fill(r, dst, max);
    if ((pos > 0 || r->direct) && !r->spare_released) {
        r->spare_released = 1;
        release_spare(dst, n > 0 ? (size_t)n : 0, max);
    }
    return n;
}

static void on_response_free(void *cls)
{
    reader *r = cls;
    r->resp_live = 0;
    maybe_free(r);
}

static enum MHD_Result respond_events(reader *r, struct MHD_Connection *mc)
{
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, LIM_RESP_BLOCK,
                                                                  content, r, on_response_free);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "text/event-stream; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control", "no-cache, no-transform");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    MHD_add_response_header(resp, "X-Chatd-Stream-Id", r->info->id);
    r->resp_live = 1;
    r->streaming = 1;
    stream_set_live(r->s, &r->sub, 1);
    enum MHD_Result rc = resp_queue(mc, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* HTTP status for an answer that ended in an error before anything was sent. */
static unsigned status_for(const char *type)
{
    if (!strcmp(type, "upstream_timeout"))
        return 504;
    if (!strcmp(type, "shutdown") || !strcmp(type, "overloaded"))
        return 503;
    if (!strcmp(type, "upstream_error"))
        return 502;
    return 500;
}

/* A non-streamed (stream:false) answer, whole, once the stream has ended. */
static enum MHD_Result respond_whole(reader *r, struct MHD_Connection *mc)
{
    stream_chunk *ch = &r->rs->scratch;
    stream_chunk_reset(ch);
    int w = -1;
    if (stream_read(r->s, &r->sub, 1, SIZE_MAX, SIZE_MAX, ch) < 0 || !ch->has_term ||
        (w = enc_whole_as(r->enc.fmt, r->info, ch, &r->out)) < 0)
        return resp_error(mc, r->api, 500, "internal_error", "answer too large", NULL, NULL);
    finish(r, &ch->term);
    stream_chunk_free(ch); /* a whole answer's room goes back at once */
    unsigned status = w == 1                              ? 502 /* not sayable in the format */
                      : ch->term.kind == STREAM_TERM_DONE ? 200
                                                          : status_for(ch->term.type);
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        buf_len(&r->out), (void *)buf_ptr(&r->out), MHD_RESPMEM_MUST_COPY);
    buf_free(&r->out);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    enum MHD_Result rc = resp_queue(mc, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result wait_more(reader *r, struct MHD_Connection *mc)
{
    r->suspended = 1;
    MHD_suspend_connection(mc);
    return MHD_YES;
}

enum MHD_Result reader_respond(reader *r, struct MHD_Connection *mc)
{
    if (r->gone)
        return MHD_NO;
    stream_chunk *ch = &r->rs->scratch;
    stream_chunk_reset(ch);
    stream_read(r->s, NULL, 0, 0, 0, ch); /* the phase */
    if (ch->phase == STREAM_FAILED_EARLY)
        return resp_error(mc, r->api, (unsigned)ch->early.status, ch->early.type, ch->early.msg,
                          NULL, NULL);
    if (ch->phase == STREAM_WAITING)
        return wait_more(r, mc);
    if (!enc_is_whole(r->enc.fmt))
        return respond_events(r, mc);
    return stream_last_id(r->s) >= 0 ? respond_whole(r, mc) : wait_more(r, mc);
}

void reader_get_stats(const reader *r, reader_stats *st)
{
    st->info = r->info;
    st->chars = r->enc.next_id > 1 ? r->enc.next_id - 1 : 0;
    if (r->finished && st->chars)
        st->chars--; /* the terminal event is not a character */
    st->first_char_ms = r->first_char_ms;
    st->gone = r->gone;
    st->streaming = r->streaming;
    st->finished = r->finished;
    st->term_kind = r->term_kind;
    st->term_word = r->term_word;
}

/* ---------- the set ---------- */

reader_set *reader_set_new(const reader_host *h)
{
    reader_set *rs = calloc(1, sizeof(*rs));
    if (!rs)
        return NULL;
    rs->h = *h;
    stream_chunk_init(&rs->scratch, LIM_LOG_TEXT);
    return rs;
}

int reader_set_count(const reader_set *rs)
{
    return rs->n;
}

void reader_set_housekeep(reader_set *rs, uint64_t now)
{
    for (reader *r = rs->readers; r; r = r->next) {
        if (r->streaming && r->mc && !r->finished && !r->gone &&
            loop_since(now, r->last_write_ms) >= LIM_PING_IDLE_MS) {
            r->ping_due = 1;
            r->last_write_ms = now;
            sched_wake(&r->task);
        }
    }
}

void reader_set_teardown(reader_set *rs)
{
    for (reader *r = rs->readers; r; r = r->next) {
        r->gone = 1;
        unfollow(r);
        resume(r);
    }
}

void reader_set_free(reader_set *rs)
{
    if (!rs)
        return;
    while (rs->readers) {
        reader *r = rs->readers;
        unwatch(r);
        unfollow(r);
        r->mc = NULL;
        r->resp_live = 0;
        maybe_free(r);
    }
    stream_chunk_free(&rs->scratch);
    free(rs);
}
