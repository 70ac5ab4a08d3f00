/* Unit tests: the pacer's arithmetic on a simulated clock. */
#include <check.h>

#include "check_main.h"

#include "pace.h"

/* Simulates ticks of tick_ms over total_ms with a constant backlog refill; returns the
 * number of characters emitted. */
static size_t run(const pace_cfg *c, size_t backlog, int refill, unsigned tick, unsigned total)
{
    pace p;
    pace_init(&p, 0);
    size_t out = 0, b = backlog;
    for (unsigned t = tick; t <= total; t += tick) {
        size_t n = pace_take(&p, c, t, b, 0);
        ck_assert_uint_le(n, b);
        out += n;
        b -= n;
        if (refill)
            b = backlog;
    }
    return out;
}

START_TEST(off_emits_everything)
{
    pace_cfg c = {.mode = PACE_OFF};
    pace p;
    pace_init(&p, 0);
    ck_assert_uint_eq(pace_take(&p, &c, 0, 1234, 0), 1234);
}
END_TEST

START_TEST(fixed_rate_is_kept)
{
    pace_cfg c = {.mode = PACE_FIXED, .cps = 50};
    size_t n = run(&c, 100000, 1, 10, 10000); /* 10 s at 50/s, endless backlog */
    ck_assert_uint_ge(n, 499);
    ck_assert_uint_le(n, 501);
}
END_TEST

START_TEST(fixed_does_not_flush_on_done)
{
    pace_cfg c = {.mode = PACE_FIXED, .cps = 10};
    pace p;
    pace_init(&p, 0);
    pace_take(&p, &c, 0, 100, 1);
    ck_assert_uint_le(pace_take(&p, &c, 100, 99, 1), 2);
}
END_TEST

START_TEST(adaptive_base_rate_without_backlog)
{
    pace_cfg c = {.mode = PACE_ADAPTIVE, .base_cps = 80, .max_lag_ms = 750};
    ck_assert(pace_rate(&c, 0) == 80);
    ck_assert(pace_rate(&c, 30) == 80);   /* 30 / 0.75 s = 40 < base */
    ck_assert(pace_rate(&c, 300) == 400); /* 300 / 0.75 s */
}
END_TEST

START_TEST(adaptive_bounds_lag)
{
    /* Upstream delivers 50 characters every 100 ms (500/s, well over base): the backlog must
     * stay below what max_lag allows at that rate plus one arrival. */
    pace_cfg c = {.mode = PACE_ADAPTIVE, .base_cps = 80, .max_lag_ms = 500};
    pace p;
    pace_init(&p, 0);
    size_t b = 0, maxb = 0;
    for (unsigned t = 10; t <= 20000; t += 10) {
        if (t % 100 == 0)
            b += 50;
        b -= pace_take(&p, &c, t, b, 0);
        if (b > maxb)
            maxb = b;
    }
    ck_assert_uint_le(maxb, 500 * 500 / 1000 + 50);
}
END_TEST

START_TEST(adaptive_flushes_when_upstream_done)
{
    pace_cfg c = {.mode = PACE_ADAPTIVE, .base_cps = 80, .max_lag_ms = 750};
    pace p;
    pace_init(&p, 0);
    ck_assert_uint_eq(pace_take(&p, &c, 10, 777, 1), 777);
}
END_TEST

START_TEST(idle_credit_does_not_burst)
{
    pace_cfg c = {.mode = PACE_FIXED, .cps = 100};
    pace p;
    pace_init(&p, 0);
    pace_take(&p, &c, 60000, 0, 0); /* a minute with nothing to send */
    ck_assert_uint_le(pace_take(&p, &c, 60010, 1000, 0), 2);
}
END_TEST

int main(void)
{
    return check_tests("pace", off_emits_everything, fixed_rate_is_kept,
                       fixed_does_not_flush_on_done, adaptive_base_rate_without_backlog,
                       adaptive_bounds_lag, adaptive_flushes_when_upstream_done,
                       idle_credit_does_not_burst);
}
