/* Unit tests: per-client quotas — concurrency slots and the token bucket, on a clock the
 * test drives (quota_admit and quota_release take the time). */
#include <check.h>

#include "check_main.h"
#include <stdio.h>
#include <string.h>

#include "quota.h"

/* The table is global: every test starts from an empty one and leaves none behind. */
static void setup(long streams, long per_min, long burst)
{
    quota_free();
    quota_set_max_clients(1000000);
    ck_assert_int_eq(quota_init(streams, per_min, burst), 0);
    ck_assert_int_eq(quota_clients(), 0);
}

static void teardown(void)
{
    quota_free();
    quota_set_max_clients(1000000);
    quota_init(0, 0, 0);
}

static int admit(const char *c, uint64_t now)
{
    int ra = -1;
    return quota_admit(c, now, &ra);
}

/* One request of a script: client c at now is answered want. */
typedef struct step {
    const char *c;
    uint64_t now;
    int want;
} step;

static void run_steps(const step *steps, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(admit(steps[i].c, steps[i].now) == steps[i].want,
                      "step %zu: %s at %llu is not answered %d", i, steps[i].c,
                      (unsigned long long)steps[i].now, steps[i].want);
}
#define STEPS(...)                                                                                 \
    run_steps((const step[]){__VA_ARGS__}, sizeof((const step[]){__VA_ARGS__}) / sizeof(step))

START_TEST(no_limits_counts_nothing)
{
    setup(0, 0, 0);
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(admit("ip:1.2.3.4", 0), QUOTA_OK);
    ck_assert_int_eq(quota_clients(), 0); /* no table at all */
    quota_release("ip:1.2.3.4", 0);
    teardown();
}
END_TEST

START_TEST(burst_then_refused)
{
    setup(0, 60, 3); /* one a second, three at once */
    uint64_t t = 1000000;
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(admit("k", t), QUOTA_OK);
    int ra = -1;
    ck_assert_int_eq(quota_admit("k", t, &ra), QUOTA_RATE);
    ck_assert_int_eq(ra, 1);                       /* exactly one second to the next token */
    ck_assert_int_eq(admit("other", t), QUOTA_OK); /* clients are apart */
    teardown();
}
END_TEST

START_TEST(refill_at_the_rate)
{
    setup(0, 60, 2);
    STEPS({"k", 5000, QUOTA_OK}, {"k", 5000, QUOTA_OK},
          {"k", 5999, QUOTA_RATE},                          /* 0.999 of a token */
          {"k", 6000, QUOTA_OK},                            /* one token */
          {"k", 6000, QUOTA_RATE}, {"k", 6500, QUOTA_RATE}, /* half of the next */
          {"k", 7000, QUOTA_OK});
    teardown();
}
END_TEST

START_TEST(refill_stops_at_the_burst)
{
    setup(0, 60, 2);
    /* an hour idle earns the burst, not 3600 */
    STEPS({"k", 0, QUOTA_OK}, {"k", 0, QUOTA_OK}, {"k", 3600 * 1000, QUOTA_OK},
          {"k", 3600 * 1000, QUOTA_OK}, {"k", 3600 * 1000, QUOTA_RATE});
    teardown();
}
END_TEST

START_TEST(retry_after_is_enough_and_no_more)
{
    setup(0, 12, 1); /* a token every 5 s */
    uint64_t t = 100;
    ck_assert_int_eq(admit("k", t), QUOTA_OK);
    int ra = -1;
    t += 1200; /* 1.2 s of 5 earned: 3.8 s to go, said as 4 */
    ck_assert_int_eq(quota_admit("k", t, &ra), QUOTA_RATE);
    ck_assert_int_eq(ra, 4);
    ck_assert_int_eq(admit("k", t + (uint64_t)(ra - 1) * 1000), QUOTA_RATE);
    ck_assert_int_eq(admit("k", t + (uint64_t)ra * 1000), QUOTA_OK);
    teardown();
}
END_TEST

START_TEST(a_refused_request_costs_nothing)
{
    setup(0, 60, 1);
    ck_assert_int_eq(admit("k", 0), QUOTA_OK);
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(admit("k", 500), QUOTA_RATE);
    ck_assert_int_eq(admit("k", 1000), QUOTA_OK);
    teardown();
}
END_TEST

START_TEST(clock_going_back_earns_nothing)
{
    setup(0, 60, 1);
    /* Another worker read its clock a little earlier. */
    STEPS({"k", 10000, QUOTA_OK}, {"k", 9000, QUOTA_RATE}, {"k", 10999, QUOTA_RATE},
          {"k", 11000, QUOTA_OK});
    teardown();
}
END_TEST

START_TEST(concurrency_slots)
{
    setup(2, 0, 0);
    int ra = -1;
    STEPS({"k", 0, QUOTA_OK}, {"k", 0, QUOTA_OK});
    ck_assert_int_eq(quota_admit("k", 0, &ra), QUOTA_STREAMS);
    ck_assert_int_eq(ra, 1);
    ck_assert_int_eq(admit("j", 0), QUOTA_OK); /* another client has its own */
    quota_release("k", 1);
    STEPS({"k", 2, QUOTA_OK}, {"k", 2, QUOTA_STREAMS});
    teardown();
}
END_TEST

START_TEST(release_never_goes_below_zero)
{
    setup(1, 0, 0);
    quota_release("k", 0); /* unknown: nothing, and no entry made */
    ck_assert_int_eq(quota_clients(), 0);
    ck_assert_int_eq(admit("k", 0), QUOTA_OK);
    for (int i = 0; i < 3; i++)
        quota_release("k", 0);
    STEPS({"k", 0, QUOTA_OK}, {"k", 0, QUOTA_STREAMS}); /* one slot, not four */
    teardown();
}
END_TEST

START_TEST(streams_checked_before_tokens)
{
    setup(1, 60, 5);
    int ra = -1;
    ck_assert_int_eq(admit("k", 0), QUOTA_OK);
    /* A refused stream does not spend a token: 4 left after many refusals. */
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(quota_admit("k", 0, &ra), QUOTA_STREAMS);
    for (int i = 0; i < 4; i++) {
        quota_release("k", 0);
        ck_assert_int_eq(admit("k", 0), QUOTA_OK);
    }
    quota_release("k", 0);
    ck_assert_int_eq(admit("k", 0), QUOTA_RATE);
    teardown();
}
END_TEST

START_TEST(table_full)
{
    setup(1, 0, 0);
    quota_set_max_clients(3);
    char name[32];
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof(name), "ip:10.0.0.%d", i);
        ck_assert_int_eq(admit(name, 0), QUOTA_OK);
    }
    ck_assert_int_eq(quota_clients(), 3);
    ck_assert_int_eq(admit("ip:10.0.0.99", 0), QUOTA_FULL);
    ck_assert_int_eq(quota_clients(), 3);
    /* Clients already in the table are still served. */
    quota_release("ip:10.0.0.1", 0);
    ck_assert_int_eq(admit("ip:10.0.0.1", 0), QUOTA_OK);
    teardown();
}
END_TEST

/* The table's hash (FNV-1a over 4096 buckets), to put two clients in one bucket. */
static unsigned bucket_of(const char *c)
{
    unsigned h = 2166136261u;
    for (; *c; c++)
        h = (h ^ (unsigned char)*c) * 16777619u;
    return h % 4096;
}

static void same_bucket(const char *c, char *out, size_t n)
{
    for (int i = 0;; i++) {
        snprintf(out, n, "peer-%d", i);
        if (bucket_of(out) == bucket_of(c) && strcmp(out, c) != 0)
            return;
    }
}

START_TEST(idle_entries_are_dropped)
{
    setup(1, 60, 1);
    char peer[32];
    same_bucket("k", peer, sizeof(peer));
    ck_assert_int_eq(admit("k", 0), QUOTA_OK);
    quota_release("k", 0);
    ck_assert_int_eq(quota_clients(), 1); /* an empty bucket to earn back */
    /* Met in its bucket before its token is back: kept. */
    ck_assert_int_eq(admit(peer, 500), QUOTA_OK);
    quota_release(peer, 500);
    ck_assert_int_eq(quota_clients(), 2);
    /* The peer (newer, first in the bucket) met once its token is back: dropped. */
    ck_assert_int_eq(admit("k", 1600), QUOTA_OK);
    ck_assert_int_eq(quota_clients(), 1);
    ck_assert_int_eq(admit(peer, 1600), QUOTA_OK); /* and comes back as a new entry */
    ck_assert_int_eq(quota_clients(), 2);
    teardown();
}
END_TEST

START_TEST(full_table_makes_room_from_idle_entries)
{
    setup(1, 60, 1);
    quota_set_max_clients(1);
    char peer[32];
    same_bucket("k", peer, sizeof(peer));
    STEPS({"k", 0, QUOTA_OK}, {peer, 0, QUOTA_FULL});
    quota_release("k", 0);
    STEPS({peer, 500, QUOTA_FULL}, /* k still owes half a token */
          {peer, 1000, QUOTA_OK}); /* k idle now: its place is free */
    teardown();
}
END_TEST

int main(void)
{
    return check_tests("quota", no_limits_counts_nothing, burst_then_refused, refill_at_the_rate,
                       refill_stops_at_the_burst, retry_after_is_enough_and_no_more,
                       a_refused_request_costs_nothing, clock_going_back_earns_nothing,
                       concurrency_slots, release_never_goes_below_zero,
                       streams_checked_before_tokens, table_full, idle_entries_are_dropped,
                       full_table_makes_room_from_idle_entries);
}
