/* reader — see reader.h. */
#include "reader.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lim.h"

#define LOCK(s) pthread_mutex_lock(&(s)->mu)
#define UNLOCK(s) pthread_mutex_unlock(&(s)->mu)

/* ---------- lifetime ---------- */

static void maybe_free(reader *r)
{
    if (r->mc || r->resp_live || r->in_resume)
        return;
    worker *w = r->w;
    if (r->wprev)
        r->wprev->wnext = r->wnext;
    else
        w->readers = r->wnext;
    if (r->wnext)
        r->wnext->wprev = r->wprev;
    w->nreaders--;
    stream_cursor_free(&r->cur);
    buf_free(&r->out);
    stream_unref(r->s);
    free(r);
}

void reader_unlisted(reader *r)
{
    maybe_free(r);
}

static void on_hup(loop *l, int fd, unsigned ev, void *ud);

static void watch(reader *r, struct MHD_Connection *mc)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
    /* Only the peer's FIN/RST: MHD reads the socket itself, we must not consume data. */
    if (ci && loop_watch(r->w->loop, ci->connect_fd, EPOLLRDHUP, on_hup, r) == 0)
        r->fd = ci->connect_fd;
}

static void unwatch(reader *r)
{
    if (r->fd >= 0)
        loop_unwatch(r->w->loop, r->fd);
    r->fd = -1;
}

reader *reader_new(worker *w, struct MHD_Connection *mc, stream *s, stream_fmt fmt,
                   int include_usage, http_api api)
{
    reader *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    if (stream_cursor_init(&r->cur, s, fmt, include_usage) < 0) {
        stream_cursor_free(&r->cur);
        free(r);
        return NULL;
    }
    buf_init(&r->out, fmt == STREAM_FMT_OAI_JSON ? 3 * (size_t)LIM_LOG_TEXT : LIM_READER_OUT);
    stream_ref(s);
    r->s = s;
    r->w = w;
    r->mc = mc;
    r->api = api;
    r->fd = -1;
    r->shard = worker_shard_of(w, mc);
    r->last_write_ms = loop_now_ms();
    r->wnext = w->readers;
    if (w->readers)
        w->readers->wprev = r;
    w->readers = r;
    w->nreaders++;
    LOCK(s);
    r->snext = s->readers;
    if (s->readers)
        s->readers->sprev = r;
    s->readers = r;
    s->nreaders++;
    UNLOCK(s);
    watch(r, mc);
    return r;
}

int reader_seek(reader *r, int64_t last_id)
{
    return stream_seek(r->s, &r->cur, last_id);
}

/* Leaves the stream's list; the owner learns when the last reader goes (resume grace). */
static void leave_stream(reader *r)
{
    stream *s = r->s;
    LOCK(s);
    if (r->sprev)
        r->sprev->snext = r->snext;
    else if (s->readers == r)
        s->readers = r->snext;
    if (r->snext)
        r->snext->sprev = r->sprev;
    r->snext = r->sprev = NULL;
    int last = --s->nreaders == 0;
    if (last)
        s->no_reader_since_ms = loop_now_ms();
    /* Only a stream still running needs its owner to look now (grace, cancel). */
    int running = !s->term_visible && s->phase != STREAM_FAILED_EARLY;
    UNLOCK(s);
    worker_unqueue(r->w, r);
    if (last && running)
        worker_poke(s->owner);
}

void reader_detach(reader *r)
{
    unwatch(r);
    leave_stream(r);
    r->mc = NULL;
    r->suspended = 0;
    maybe_free(r);
}

int reader_resume_conn(reader *r)
{
    if (!r->suspended || !r->mc)
        return 0;
    r->suspended = 0;
    MHD_resume_connection(r->mc);
    return 1;
}

static void on_hup(loop *l, int fd, unsigned ev, void *ud)
{
    reader *r = ud;
    unwatch(r);
    r->gone = 1;
    worker_wake_reader(r->w, r);
}

/* ---------- the response ---------- */

/* Encodes what the stream has released into dst; 0 when nothing yet (suspends). */
static ssize_t fill(reader *r, char *dst, size_t max)
{
    if (r->gone)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (buf_len(&r->out) == 0 && !r->finished) {
        int rc = stream_encode(r->s, &r->cur, &r->out, LIM_READER_CHUNK);
        if (rc < 0)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        r->finished = rc == 1;
    }
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
        r->last_write_ms = loop_now_ms();
        if (!r->first_char_ms && r->cur.next_id > 1)
            r->first_char_ms = r->last_write_ms;
        return (ssize_t)n;
    }
    if (r->finished)
        return MHD_CONTENT_READER_END_OF_STREAM;
    /* Nothing to send: suspend, or MHD would poll this callback in a busy loop. */
    r->suspended = 1;
    MHD_suspend_connection(r->mc);
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

/* Once per response, with its second piece: the buffer stays where it is from the first,
 * and the first character leaves without waiting for the system call. */
static ssize_t content(void *cls, uint64_t pos, char *dst, size_t max)
{
    reader *r = cls;
    ssize_t n = fill(r, dst, max);
    if (pos > 0 && !r->spare_released) {
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
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, LIM_RESP_BLOCK, content, r,
                                                                  on_response_free);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "text/event-stream; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control", "no-cache, no-transform");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    MHD_add_response_header(resp, "X-Chatd-Stream-Id", r->s->id);
    r->resp_live = 1;
    r->streaming = 1;
    enum MHD_Result rc = http_queue(mc, MHD_HTTP_OK, resp);
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

/* A non-streamed (OpenAI stream:false) answer, whole. */
static enum MHD_Result respond_whole(reader *r, struct MHD_Connection *mc)
{
    stream *s = r->s;
    LOCK(s);
    unsigned status = s->term_kind == STREAM_TERM_DONE ? 200 : status_for(s->err_type);
    UNLOCK(s);
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        buf_len(&r->out), (void *)buf_ptr(&r->out), MHD_RESPMEM_MUST_COPY);
    buf_free(&r->out);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    enum MHD_Result rc = http_queue(mc, status, resp);
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
    stream *s = r->s;
    if (r->gone)
        return MHD_NO;
    LOCK(s);
    stream_phase phase = s->phase;
    int status = s->early_status;
    char type[32], msg[256];
    memcpy(type, s->early_type, sizeof(type));
    memcpy(msg, s->early_msg, sizeof(msg));
    UNLOCK(s);
    if (phase == STREAM_FAILED_EARLY)
        return http_fail(mc, r->api, (unsigned)status, type, msg, NULL, NULL);
    if (phase == STREAM_WAITING)
        return wait_more(r, mc);
    if (r->cur.fmt != STREAM_FMT_OAI_JSON)
        return respond_events(r, mc);
    int rc = stream_encode(s, &r->cur, &r->out, SIZE_MAX);
    if (rc < 0)
        return http_fail(mc, r->api, 500, "internal_error", "answer too large", NULL, NULL);
    return rc == 1 ? respond_whole(r, mc) : wait_more(r, mc);
}

/* ---------- wake-ups, heartbeats ---------- */

void reader_wake_all(stream *s, worker *self)
{
    LOCK(s);
    for (reader *r = s->readers; r; r = r->snext) {
        if (r->w == self)
            worker_wake_reader(self, r);
        else
            worker_remote_wake(r->w, r);
    }
    UNLOCK(s);
}

uint64_t reader_unsent(stream *s)
{
    uint64_t worst = 0;
    LOCK(s);
    for (reader *r = s->readers; r; r = r->snext) {
        uint64_t taken = r->cur.next_id ? r->cur.next_id - 1 : 0;
        if (r->streaming && !r->gone && s->count > taken && s->count - taken > worst)
            worst = s->count - taken;
    }
    UNLOCK(s);
    return worst;
}

void reader_housekeep(reader *r, uint64_t now)
{
    if (r->streaming && r->mc && !r->finished && !r->gone &&
        loop_since(now, r->last_write_ms) >= LIM_PING_IDLE_MS) {
        r->ping_due = 1;
        r->last_write_ms = now;
        worker_wake_reader(r->w, r);
    }
}

void reader_free_all(worker *w)
{
    while (w->readers) {
        reader *r = w->readers;
        unwatch(r);
        leave_stream(r);
        r->mc = NULL;
        r->resp_live = 0;
        r->in_resume = 0;
        maybe_free(r);
    }
}
