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

static void close_pair(int p[2])
{
    close(p[0]);
    close(p[1]);
}

/* A new loop, nothing seen yet. */
static loop *fresh(void)
{
    reset_seen();
    loop *l = loop_new();
    ck_assert_ptr_nonnull(l);
    return l;
}

static void watch(loop *l, int fd, unsigned ev, loop_fn fn, void *ud)
{
    ck_assert_int_eq(loop_watch(l, fd, ev, fn, ud), 0);
}

/* A byte into the pipe (or socket) end fd: its other end becomes readable. */
static void poke(int fd)
{
    ck_assert_int_eq(write(fd, "x", 1), 1);
}

/* One pass dispatched n events, and the callbacks have run a and b times in all. */
static void expect_run(loop *l, int timeout, int n, int a, int b)
{
    ck_assert_int_eq(loop_run_once(l, timeout), n);
    ck_assert_int_eq(a_seen.calls, a);
    ck_assert_int_eq(b_seen.calls, b);
}

START_TEST(dispatches_a_ready_fd)
{
    loop *l = fresh();
    int p[2];
    make_pipe(p);
    int tag;
    watch(l, p[0], EPOLLIN, fn_a, &tag);
    ck_assert(loop_watching(l, p[0]));
    ck_assert(!loop_watching(l, p[1]));
    expect_run(l, 0, 0, 0, 0); /* nothing yet */
    poke(p[1]);
    expect_run(l, 1000, 1, 1, 0);
    ck_assert_int_eq(a_seen.fd, p[0]);
    ck_assert(a_seen.events & EPOLLIN);
    ck_assert_ptr_eq(a_seen.ud, &tag);
    close_pair(p);
    loop_free(l);
}
END_TEST

START_TEST(unwatched_fd_is_quiet)
{
    loop *l = fresh();
    int p[2];
    make_pipe(p);
    watch(l, p[0], EPOLLIN, fn_a, NULL);
    loop_unwatch(l, p[0]);
    ck_assert(!loop_watching(l, p[0]));
    poke(p[1]);
    expect_run(l, 0, 0, 0, 0);
    loop_unwatch(l, p[0]); /* twice, and fds never seen: no-ops */
    loop_unwatch(l, 100000);
    loop_unwatch(l, -1);
    /* Watched again, it reports what is already there. */
    watch(l, p[0], EPOLLIN, fn_a, NULL);
    expect_run(l, 1000, 1, 1, 0);
    close_pair(p);
    loop_free(l);
}
END_TEST

START_TEST(rewatch_replaces_callback_and_events)
{
    loop *l = fresh();
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    int ud_b;
    /* Writable at once, but only reading is asked for: nothing. */
    watch(l, sv[0], EPOLLIN, fn_a, NULL);
    ck_assert_int_eq(loop_run_once(l, 0), 0);
    watch(l, sv[0], EPOLLOUT, fn_b, &ud_b);
    expect_run(l, 1000, 1, 0, 1);
    ck_assert(b_seen.events & EPOLLOUT);
    ck_assert_ptr_eq(b_seen.ud, &ud_b);
    close_pair(sv);
    loop_free(l);
}
END_TEST

/* Two fds ready in one batch; whichever runs first unwatches the other, whose event
 * (already fetched from the kernel) must then be dropped. */
START_TEST(stale_event_in_the_batch_is_dropped)
{
    loop *l = fresh();
    int p[2], q[2];
    make_pipe(p);
    make_pipe(q);
    a_seen.unwatch_fd = q[0];
    b_seen.unwatch_fd = p[0];
    watch(l, p[0], EPOLLIN, fn_a, NULL);
    watch(l, q[0], EPOLLIN, fn_b, NULL);
    poke(p[1]);
    poke(q[1]);
    ck_assert_int_eq(loop_run_once(l, 1000), 2); /* both events came back */
    ck_assert_int_eq(a_seen.calls + b_seen.calls, 1);
    ck_assert(!loop_watching(l, p[0]) || !loop_watching(l, q[0]));
    close_pair(p);
    close_pair(q);
    loop_free(l);
}
END_TEST

/* An fd closed while watched leaves the kernel's set on its own; the number, handed out
 * again, can be watched again (the table still had it). */
START_TEST(reused_fd_number_can_be_watched)
{
    loop *l = fresh();
    int p[2];
    make_pipe(p);
    int old = p[0];
    watch(l, p[0], EPOLLIN, fn_a, NULL);
    close_pair(p);
    make_pipe(p);
    ck_assert_int_eq(p[0], old);
    ck_assert(loop_watching(l, p[0])); /* our table lags behind */
    watch(l, p[0], EPOLLIN, fn_b, NULL);
    poke(p[1]);
    expect_run(l, 1000, 1, 0, 1);
    close_pair(p);
    loop_free(l);
}
END_TEST

START_TEST(high_fd_grows_the_table)
{
    loop *l = fresh();
    int p[2];
    make_pipe(p);
    int hi = 700;
    ck_assert_int_eq(dup3(p[0], hi, O_CLOEXEC), hi);
    watch(l, p[0], EPOLLIN, fn_a, NULL);
    watch(l, hi, EPOLLIN, fn_b, NULL);
    ck_assert(loop_watching(l, hi));
    ck_assert(loop_watching(l, p[0])); /* survived the growth */
    poke(p[1]);
    expect_run(l, 1000, 2, 1, 1);
    ck_assert_int_eq(b_seen.fd, hi);
    close(hi);
    close_pair(p);
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
    watch(l, p[0], EPOLLIN, fn_a, NULL);
    uint64_t t0 = loop_now_ms();
    ck_assert_int_eq(loop_run_once(l, 60), 0);
    uint64_t waited = loop_since(loop_now_ms(), t0);
    ck_assert_uint_ge(waited, 59);
    ck_assert_uint_lt(waited, 5000);
    t0 = loop_now_ms();
    ck_assert_int_eq(loop_run_once(l, 0), 0); /* 0: just a look */
    ck_assert_uint_lt(loop_since(loop_now_ms(), t0), 1000);
    close_pair(p);
    loop_free(l);
}
END_TEST

START_TEST(since_never_wraps)
{
    const struct {
        uint64_t now, then, want;
    } cases[] = {{1000, 400, 600},
                 {400, 400, 0},
                 {400, 1000, 0}, /* stamped after now was read */
                 {0, UINT64_MAX, 0},
                 {UINT64_MAX, 0, UINT64_MAX}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ck_assert_msg(loop_since(cases[i].now, cases[i].then) == cases[i].want, "case %zu", i);
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
