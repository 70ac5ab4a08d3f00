/* Unit tests: the epoll loop — watch, unwatch, re-watch, stale events, timeouts. */
#include <check.h>

#include "check_main.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop.h"

/* What the callbacks saw. */
typedef struct seen {
    int calls;
    int fd;
    unsigned events;
    void *ud;
    loop *l;
    int unwatch_fd; /* a callback unwatches this fd, if >= 0 */
} seen;

static seen a_seen, b_seen;

static void record(seen *s, loop *l, int fd, unsigned ev, void *ud)
{
    s->calls++;
    s->fd = fd;
    s->events = ev;
    s->ud = ud;
    if (s->unwatch_fd >= 0)
        loop_unwatch(l, s->unwatch_fd);
}

static void fn_a(loop *l, int fd, unsigned ev, void *ud)
{
    record(&a_seen, l, fd, ev, ud);
}

static void fn_b(loop *l, int fd, unsigned ev, void *ud)
{
    record(&b_seen, l, fd, ev, ud);
}

static void reset_seen(void)
{
    a_seen = (seen){.fd = -1, .unwatch_fd = -1};
    b_seen = (seen){.fd = -1, .unwatch_fd = -1};
}

static void make_pipe(int p[2])
{
    ck_assert_int_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
}

START_TEST(dispatches_a_ready_fd)
{
    reset_seen();
    loop *l = loop_new();
    ck_assert_ptr_nonnull(l);
    int p[2];
    make_pipe(p);
    int tag;
    ck_assert_int_eq(loop_watch(l, p[0], EPOLLIN, fn_a, &tag), 0);
    ck_assert(loop_watching(l, p[0]));
    ck_assert(!loop_watching(l, p[1]));
    ck_assert_int_eq(loop_run_once(l, 0), 0); /* nothing yet */
    ck_assert_int_eq(a_seen.calls, 0);
    ck_assert_int_eq(write(p[1], "x", 1), 1);
    ck_assert_int_eq(loop_run_once(l, 1000), 1);
    ck_assert_int_eq(a_seen.calls, 1);
    ck_assert_int_eq(a_seen.fd, p[0]);
    ck_assert(a_seen.events & EPOLLIN);
    ck_assert_ptr_eq(a_seen.ud, &tag);
    close(p[0]);
    close(p[1]);
    loop_free(l);
}
END_TEST

START_TEST(unwatched_fd_is_quiet)
{
    reset_seen();
    loop *l = loop_new();
    int p[2];
    make_pipe(p);
    ck_assert_int_eq(loop_watch(l, p[0], EPOLLIN, fn_a, NULL), 0);
    loop_unwatch(l, p[0]);
    ck_assert(!loop_watching(l, p[0]));
    ck_assert_int_eq(write(p[1], "x", 1), 1);
    ck_assert_int_eq(loop_run_once(l, 0), 0);
    ck_assert_int_eq(a_seen.calls, 0);
    loop_unwatch(l, p[0]); /* twice, and fds never seen: no-ops */
    loop_unwatch(l, 100000);
    loop_unwatch(l, -1);
    /* Watched again, it reports what is already there. */
    ck_assert_int_eq(loop_watch(l, p[0], EPOLLIN, fn_a, NULL), 0);
    ck_assert_int_eq(loop_run_once(l, 1000), 1);
    ck_assert_int_eq(a_seen.calls, 1);
    close(p[0]);
    close(p[1]);
    loop_free(l);
}
END_TEST

START_TEST(rewatch_replaces_callback_and_events)
{
    reset_seen();
    loop *l = loop_new();
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    int ud_b;
    /* Writable at once, but only reading is asked for: nothing. */
    ck_assert_int_eq(loop_watch(l, sv[0], EPOLLIN, fn_a, NULL), 0);
    ck_assert_int_eq(loop_run_once(l, 0), 0);
    ck_assert_int_eq(loop_watch(l, sv[0], EPOLLOUT, fn_b, &ud_b), 0);
    ck_assert_int_eq(loop_run_once(l, 1000), 1);
    ck_assert_int_eq(a_seen.calls, 0);
    ck_assert_int_eq(b_seen.calls, 1);
    ck_assert(b_seen.events & EPOLLOUT);
    ck_assert_ptr_eq(b_seen.ud, &ud_b);
    close(sv[0]);
    close(sv[1]);
    loop_free(l);
}
END_TEST

/* Two fds ready in one batch; whichever runs first unwatches the other, whose event
 * (already fetched from the kernel) must then be dropped. */
START_TEST(stale_event_in_the_batch_is_dropped)
{
    reset_seen();
    loop *l = loop_new();
    int p[2], q[2];
    make_pipe(p);
    make_pipe(q);
    a_seen.unwatch_fd = q[0];
    b_seen.unwatch_fd = p[0];
    ck_assert_int_eq(loop_watch(l, p[0], EPOLLIN, fn_a, NULL), 0);
    ck_assert_int_eq(loop_watch(l, q[0], EPOLLIN, fn_b, NULL), 0);
    ck_assert_int_eq(write(p[1], "x", 1), 1);
    ck_assert_int_eq(write(q[1], "x", 1), 1);
    ck_assert_int_eq(loop_run_once(l, 1000), 2); /* both events came back */
    ck_assert_int_eq(a_seen.calls + b_seen.calls, 1);
    ck_assert(!loop_watching(l, p[0]) || !loop_watching(l, q[0]));
    close(p[0]);
    close(p[1]);
    close(q[0]);
    close(q[1]);
    loop_free(l);
}
END_TEST

/* An fd closed while watched leaves the kernel's set on its own; the number, handed out
 * again, can be watched again (the table still had it). */
START_TEST(reused_fd_number_can_be_watched)
{
    reset_seen();
    loop *l = loop_new();
    int p[2];
    make_pipe(p);
    int old = p[0];
    ck_assert_int_eq(loop_watch(l, p[0], EPOLLIN, fn_a, NULL), 0);
    close(p[0]);
    close(p[1]);
    make_pipe(p);
    ck_assert_int_eq(p[0], old);
    ck_assert(loop_watching(l, p[0])); /* our table lags behind */
    ck_assert_int_eq(loop_watch(l, p[0], EPOLLIN, fn_b, NULL), 0);
    ck_assert_int_eq(write(p[1], "x", 1), 1);
    ck_assert_int_eq(loop_run_once(l, 1000), 1);
    ck_assert_int_eq(a_seen.calls, 0);
    ck_assert_int_eq(b_seen.calls, 1);
    close(p[0]);
    close(p[1]);
    loop_free(l);
}
END_TEST

START_TEST(high_fd_grows_the_table)
{
    reset_seen();
    loop *l = loop_new();
    int p[2];
    make_pipe(p);
    int hi = 700;
    ck_assert_int_eq(dup3(p[0], hi, O_CLOEXEC), hi);
    ck_assert_int_eq(loop_watch(l, p[0], EPOLLIN, fn_a, NULL), 0);
    ck_assert_int_eq(loop_watch(l, hi, EPOLLIN, fn_b, NULL), 0);
    ck_assert(loop_watching(l, hi));
    ck_assert(loop_watching(l, p[0])); /* survived the growth */
    ck_assert_int_eq(write(p[1], "x", 1), 1);
    ck_assert_int_eq(loop_run_once(l, 1000), 2);
    ck_assert_int_eq(a_seen.calls, 1);
    ck_assert_int_eq(b_seen.calls, 1);
    ck_assert_int_eq(b_seen.fd, hi);
    close(hi);
    close(p[0]);
    close(p[1]);
    loop_free(l);
}
END_TEST

START_TEST(refused_fd_is_not_watched)
{
    loop *l = loop_new();
    char path[] = "/tmp/loop-test-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    ck_assert_int_eq(loop_watch(l, fd, EPOLLIN, fn_a, NULL), -EPERM); /* regular file */
    ck_assert(!loop_watching(l, fd));
    ck_assert_int_lt(loop_watch(l, -1, EPOLLIN, fn_a, NULL), 0);
    close(fd);
    loop_free(l);
}
END_TEST

START_TEST(waits_for_the_timeout)
{
    loop *l = loop_new();
    int p[2];
    make_pipe(p);
    ck_assert_int_eq(loop_watch(l, p[0], EPOLLIN, fn_a, NULL), 0);
    uint64_t t0 = loop_now_ms();
    ck_assert_int_eq(loop_run_once(l, 60), 0);
    uint64_t waited = loop_since(loop_now_ms(), t0);
    ck_assert_uint_ge(waited, 59);
    ck_assert_uint_lt(waited, 5000);
    t0 = loop_now_ms();
    ck_assert_int_eq(loop_run_once(l, 0), 0); /* 0: just a look */
    ck_assert_uint_lt(loop_since(loop_now_ms(), t0), 1000);
    close(p[0]);
    close(p[1]);
    loop_free(l);
}
END_TEST

START_TEST(since_never_wraps)
{
    ck_assert_uint_eq(loop_since(1000, 400), 600);
    ck_assert_uint_eq(loop_since(400, 400), 0);
    ck_assert_uint_eq(loop_since(400, 1000), 0); /* stamped after now was read */
    ck_assert_uint_eq(loop_since(0, UINT64_MAX), 0);
    ck_assert_uint_eq(loop_since(UINT64_MAX, 0), UINT64_MAX);
    uint64_t a = loop_now_ms(), b = loop_now_ms();
    ck_assert_uint_ge(b, a); /* monotonic */
}
END_TEST

int main(void)
{
    return check_tests("loop", dispatches_a_ready_fd, unwatched_fd_is_quiet,
                       rewatch_replaces_callback_and_events, stale_event_in_the_batch_is_dropped,
                       reused_fd_number_can_be_watched, high_fd_grows_the_table,
                       refused_fd_is_not_watched, waits_for_the_timeout, since_never_wraps);
}
