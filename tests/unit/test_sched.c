/* Unit tests: the per-worker scheduler — local and remote wake-ups, forgetting, the tick
 * list, the kick, and, with threads, that no wake-up is ever lost.
 *   SCHED_STRESS_WAKES   wakes per waker thread in the stress test (default 20000)
 *   SCHED_RACE_ROUNDS    rounds of the re-wake race (default 500; 20 under valgrind) */
#include <check.h>

#include "check_main.h"
#include <pthread.h>
#include <sched.h> /* the system's: sched_yield */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sched.h"

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

/* The setting from the environment, else dflt; under valgrind, where threads take turns
 * (a race is as good as never hit and every hand-over waits for a time slice), vg_dflt. */
static long env_long(const char *name, long dflt, long vg_dflt)
{
    const char *v = getenv(name);
    long n = v ? strtol(v, NULL, 10) : 0;
    return n > 0 ? n : RUNNING_ON_VALGRIND ? vg_dflt : dflt;
}

/* ---- the kick: counted, and a condition the owner can wait on ---- */

typedef struct kicker {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    long kicks;
    int done; /* waker threads finished */
} kicker;

static void kicker_init(kicker *k)
{
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cv, NULL);
    k->kicks = 0;
    k->done = 0;
}

static void kicker_destroy(kicker *k)
{
    pthread_mutex_destroy(&k->mu);
    pthread_cond_destroy(&k->cv);
}

static void kick(void *ud)
{
    kicker *k = ud;
    pthread_mutex_lock(&k->mu);
    k->kicks++;
    pthread_cond_broadcast(&k->cv);
    pthread_mutex_unlock(&k->mu);
}

static long kicks(kicker *k)
{
    pthread_mutex_lock(&k->mu);
    long n = k->kicks;
    pthread_mutex_unlock(&k->mu);
    return n;
}

/* ---- tasks that count their runs ---- */

typedef struct task {
    sched_task t;
    int runs;
    int keep;           /* ticking: return nonzero this many more times */
    sched_task *wake;   /* wakes this one (locally) when it runs */
    sched_task *forget; /* forgets this one when it runs */
    atomic_ulong *seq;  /* published by wakers */
    unsigned long seen; /* seq when it last ran */
    int runs_this_pass;
} task;

static int on_run(sched_task *st, uint64_t now)
{
    task *t = (task *)(void *)st;
    (void)now;
    t->runs++;
    t->runs_this_pass++;
    if (t->seq) {
        unsigned long v = atomic_load(t->seq);
        ck_assert_uint_ge(v, t->seen);
        t->seen = v;
    }
    if (t->wake)
        sched_wake(t->wake);
    if (t->forget)
        sched_forget(t->forget);
    if (t->keep > 0) {
        t->keep--;
        return 1;
    }
    return 0;
}

static void task_init(task *t, sched *sc)
{
    memset(t, 0, sizeof(*t));
    sched_task_init(&t->t, sc, on_run);
}

/* A scheduler bound to this thread (its kicks counted in k, unless k is NULL) with the n
 * tasks t[] on it. */
static void sched_with(sched *sc, kicker *k, task *t, int n)
{
    if (k)
        kicker_init(k);
    sched_init(sc, k ? kick : NULL, k);
    sched_bind(sc);
    for (int i = 0; i < n; i++)
        task_init(&t[i], sc);
}

/* Runs fn(arg) on a thread of its own, to its end: wakes from there are remote. */
static void on_thread(void *(*fn)(void *), void *arg)
{
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, fn, arg), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
}

typedef struct wakes {
    sched_task *t[16];
    int n;
} wakes;

static void *wake_all(void *arg)
{
    wakes *w = arg;
    for (int i = 0; i < w->n; i++)
        sched_wake(w->t[i]);
    return NULL;
}

static void remote_wake(sched_task *a, sched_task *b, sched_task *c)
{
    wakes w = {{a, b, c}, c ? 3 : b ? 2 : 1};
    on_thread(wake_all, &w);
}

START_TEST(local_wake_runs_once_per_run)
{
    kicker k;
    sched sc;
    task a;
    sched_with(&sc, &k, &a, 1);
    ck_assert(!sched_has_due(&sc));
    sched_wake(&a.t);
    sched_wake(&a.t);
    ck_assert(sched_has_due(&sc));
    ck_assert_int_eq(sched_run(&sc, 1), 1);
    ck_assert_int_eq(a.runs, 1);
    ck_assert(!sched_has_due(&sc));
    ck_assert_int_eq(sched_run(&sc, 2), 0);
    ck_assert_int_eq(a.runs, 1);
    sched_wake(&a.t);
    ck_assert_int_eq(sched_run(&sc, 3), 1);
    ck_assert_int_eq(a.runs, 2);
    ck_assert_int_eq(kicks(&k), 0); /* the owner's own wakes need no kick */
    sched_destroy(&sc);
    kicker_destroy(&k);
}
END_TEST

START_TEST(forget_removes_from_every_list)
{
    kicker k;
    sched sc;
    task t[6];
    sched_with(&sc, &k, t, 6);
    /* due */
    sched_wake(&t[0].t);
    sched_wake(&t[1].t);
    sched_forget(&t[0].t);
    ck_assert_int_eq(sched_run(&sc, 1), 1);
    ck_assert_int_eq(t[0].runs, 0);
    ck_assert_int_eq(t[1].runs, 1);
    /* ticking */
    t[2].keep = 100;
    sched_activate(&t[2].t);
    ck_assert(sched_has_ticking(&sc));
    sched_tick(&sc, 2);
    ck_assert_int_eq(t[2].runs, 1);
    sched_forget(&t[2].t);
    ck_assert(!sched_has_ticking(&sc));
    sched_tick(&sc, 3);
    ck_assert_int_eq(t[2].runs, 1);
    /* the remote queue: the head, the middle and the tail of it */
    for (int first = 3; first < 6; first++) {
        remote_wake(&t[3].t, &t[4].t, &t[5].t);
        sched_forget(&t[first].t);
        int before[6];
        for (int i = 3; i < 6; i++)
            before[i] = t[i].runs;
        ck_assert_int_eq(sched_run(&sc, 4), 2);
        for (int i = 3; i < 6; i++)
            ck_assert_int_eq(t[i].runs, before[i] + (i != first));
        ck_assert_int_eq(sched_run(&sc, 5), 0);
    }
    /* forgotten and woken again: an ordinary task once more */
    sched_wake(&t[0].t);
    ck_assert_int_eq(sched_run(&sc, 6), 1);
    ck_assert_int_eq(t[0].runs, 1);
    /* a task that forgets another due in the same pass: that one does not run */
    t[1].forget = &t[2].t;
    sched_wake(&t[1].t);
    sched_wake(&t[2].t);
    ck_assert_int_eq(sched_run(&sc, 7), 1);
    ck_assert_int_eq(t[2].runs, 1);
    sched_destroy(&sc);
    kicker_destroy(&k);
}
END_TEST

START_TEST(woken_by_a_task_runs_on_the_next_run)
{
    sched sc;
    task t[2], *a = &t[0], *b = &t[1];
    sched_with(&sc, NULL, t, 2);
    a->wake = &b->t;
    sched_wake(&a->t);
    ck_assert_int_eq(sched_run(&sc, 1), 1);
    ck_assert_int_eq(a->runs, 1);
    ck_assert_int_eq(b->runs, 0);
    ck_assert(sched_has_due(&sc));
    ck_assert_int_eq(sched_run(&sc, 2), 1);
    ck_assert_int_eq(b->runs, 1);
    /* b ran earlier in the same pass: woken again, it waits for the next one */
    a->wake = &b->t;
    b->wake = NULL;
    sched_wake(&b->t);
    sched_wake(&a->t); /* after b */
    ck_assert_int_eq(sched_run(&sc, 3), 2);
    ck_assert_int_eq(b->runs, 2);
    ck_assert_int_eq(sched_run(&sc, 4), 1);
    ck_assert_int_eq(b->runs, 3);
    /* a task that wakes itself runs again on the next pass, not in a loop */
    a->wake = &a->t;
    sched_wake(&a->t);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(sched_run(&sc, 5), 1);
    ck_assert_int_eq(a->runs, 2 + 5);
    sched_forget(&a->t);
    ck_assert_int_eq(sched_run(&sc, 6), 0);
    sched_destroy(&sc);
}
END_TEST

START_TEST(tick_keeps_tasks_while_nonzero)
{
    sched sc;
    task t[2], *a = &t[0], *b = &t[1];
    sched_with(&sc, NULL, t, 2);
    a->keep = 3;
    sched_activate(&a->t);
    sched_activate(&a->t); /* once on the list */
    ck_assert(sched_has_ticking(&sc));
    ck_assert(!sched_has_due(&sc));
    ck_assert_int_eq(sched_run(&sc, 1), 0); /* ticking is not due */
    for (int i = 0; i < 6; i++)
        sched_tick(&sc, (uint64_t)(10 + i));
    ck_assert_int_eq(a->runs, 4); /* three nonzero, then zero: off the list */
    ck_assert(!sched_has_ticking(&sc));
    /* a due task activated moves to the tick list */
    sched_wake(&b->t);
    b->keep = 1;
    sched_activate(&b->t);
    ck_assert(!sched_has_due(&sc));
    ck_assert_int_eq(sched_run(&sc, 20), 0);
    /* woken while ticking: it runs at the tick (once), not at the run */
    sched_wake(&b->t);
    ck_assert_int_eq(sched_run(&sc, 21), 0);
    sched_tick(&sc, 22);
    ck_assert_int_eq(b->runs, 1);
    ck_assert(sched_has_ticking(&sc));
    sched_tick(&sc, 23);
    ck_assert_int_eq(b->runs, 2);
    ck_assert(!sched_has_ticking(&sc));
    /* a ticking task that wakes one which already ticked and stopped: a due task now */
    a->keep = 0;
    a->wake = &b->t;
    b->keep = 0;
    sched_activate(&b->t);
    sched_activate(&a->t); /* after b */
    sched_tick(&sc, 30);
    ck_assert_int_eq(b->runs, 3);
    ck_assert(sched_has_due(&sc));
    ck_assert_int_eq(sched_run(&sc, 31), 1);
    ck_assert_int_eq(b->runs, 4);
    sched_destroy(&sc);
}
END_TEST

START_TEST(remote_wakes_kick_only_an_empty_queue)
{
    kicker k;
    sched sc;
    task t[2], *a = &t[0], *b = &t[1];
    sched_with(&sc, &k, t, 2);
    remote_wake(&a->t, &a->t, &b->t);
    ck_assert_int_eq(kicks(&k), 1);
    ck_assert(!sched_has_due(&sc)); /* queued, not yet taken */
    ck_assert_int_eq(sched_run(&sc, 1), 2);
    ck_assert_int_eq(a->runs, 1);
    ck_assert_int_eq(b->runs, 1);
    remote_wake(&b->t, NULL, NULL);
    ck_assert_int_eq(kicks(&k), 2);
    remote_wake(&a->t, NULL, NULL); /* the queue still holds b */
    ck_assert_int_eq(kicks(&k), 2);
    ck_assert_int_eq(sched_run(&sc, 2), 2);
    ck_assert_int_eq(sched_run(&sc, 3), 0);
    /* a remote wake of a task due locally: it runs once */
    sched_wake(&a->t);
    remote_wake(&a->t, NULL, NULL);
    ck_assert_int_eq(kicks(&k), 3);
    ck_assert_int_eq(sched_run(&sc, 4), 1);
    ck_assert_int_eq(a->runs, 3);
    ck_assert_int_eq(sched_run(&sc, 5), 0);
    /* no kick function: wakes still queue */
    sched sc2;
    sched_init(&sc2, NULL, NULL);
    task c;
    task_init(&c, &sc2);
    remote_wake(&c.t, NULL, NULL);
    ck_assert_int_eq(sched_run(&sc2, 6), 1);
    sched_destroy(&sc2);
    sched_destroy(&sc);
    kicker_destroy(&k);
}
END_TEST

/* ---- threads ---- */

#define NTASKS 64
#define NWAKERS 4

typedef struct stress {
    sched sc;
    kicker k;
    task t[NTASKS];
    atomic_ulong seq[NTASKS];
    long per_waker;
    int which;
    atomic_int next_waker;
} stress;

static void *waker(void *arg)
{
    stress *st = arg;
    unsigned w = (unsigned)atomic_fetch_add(&st->next_waker, 1);
    uint32_t x = 2463534242u ^ (w * 2654435761u);
    for (long j = 0; j < st->per_waker; j++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        int i = (int)(x % NTASKS);
        atomic_fetch_add(&st->seq[i], 1); /* published, then the wake-up */
        sched_wake(&st->t[i].t);
    }
    pthread_mutex_lock(&st->k.mu);
    st->k.done++;
    pthread_cond_broadcast(&st->k.cv);
    pthread_mutex_unlock(&st->k.mu);
    return NULL;
}

/* Four threads wake 64 tasks while the owner runs them as its loop would (waiting for a
 * kick between passes): every task's last run saw the last value published for it, and
 * when the wakers are done a wake-up still queued has rung the kick. */
START_TEST(no_wake_up_is_lost)
{
    static stress st;
    memset(&st, 0, sizeof(st));
    st.per_waker = env_long("SCHED_STRESS_WAKES", 20000, 20000);
    kicker_init(&st.k);
    sched_init(&st.sc, kick, &st.k);
    sched_bind(&st.sc);
    for (int i = 0; i < NTASKS; i++) {
        task_init(&st.t[i], &st.sc);
        atomic_init(&st.seq[i], 0);
        st.t[i].seq = &st.seq[i];
    }
    pthread_t th[NWAKERS];
    for (int w = 0; w < NWAKERS; w++)
        ck_assert_int_eq(pthread_create(&th[w], NULL, waker, &st), 0);
    long seen = 0, at_last_run = 0;
    for (;;) {
        pthread_mutex_lock(&st.k.mu);
        while (st.k.kicks == seen && st.k.done < NWAKERS)
            pthread_cond_wait(&st.k.cv, &st.k.mu);
        seen = st.k.kicks;
        int all_done = st.k.done == NWAKERS;
        pthread_mutex_unlock(&st.k.mu);
        if (all_done)
            break;
        at_last_run = seen;
        sched_run(&st.sc, 0);
    }
    for (int w = 0; w < NWAKERS; w++)
        pthread_join(th[w], NULL);
    /* a wake-up left in the queue must have kicked after the owner last took it */
    pthread_mutex_lock(&st.sc.mu);
    int queued = st.sc.remote != NULL;
    pthread_mutex_unlock(&st.sc.mu);
    ck_assert_msg(!queued || kicks(&st.k) > at_last_run,
                  "wake-ups are queued but no kick rang since the last pass");
    sched_run(&st.sc, 0); /* the final pass */
    unsigned long total = 0;
    for (int i = 0; i < NTASKS; i++) {
        unsigned long last = atomic_load(&st.seq[i]);
        total += last;
        ck_assert_msg(st.t[i].seen == last, "task %d last ran at %lu, last woken at %lu", i,
                      st.t[i].seen, last);
        ck_assert_int_le(st.t[i].runs, (int)last);
    }
    ck_assert_uint_eq(total, (unsigned long)(NWAKERS * st.per_waker));
    ck_assert_int_eq(sched_run(&st.sc, 0), 0);
    sched_destroy(&st.sc);
    kicker_destroy(&st.k);
}
END_TEST

/* ---- re-woken by another thread while the owner takes the queue / runs the batch ---- */

#define NRE 8     /* tasks of the batch test */
#define NSWEEP 64 /* tasks of the sweep test */

typedef struct race {
    sched sc;
    kicker k;
    task t[NSWEEP];
    atomic_ulong seq[NSWEEP];
    int n; /* tasks in use */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    long round;    /* the owner asks for round n of wakes */
    long finished; /* the helper has done round n */
    int stop;
} race;

/* Every task once; down (the queue's head is then task 0) or up. */
static void rewake_all(race *r, int up)
{
    for (int k = 0; k < r->n; k++) {
        int i = up ? k : r->n - 1 - k;
        atomic_fetch_add(&r->seq[i], 1);
        sched_wake(&r->t[i].t);
    }
}

static void *helper(void *arg)
{
    race *r = arg;
    long done = 0;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        while (r->round == done && !r->stop)
            pthread_cond_wait(&r->cv, &r->mu);
        if (r->stop) {
            pthread_mutex_unlock(&r->mu);
            return NULL;
        }
        done = r->round;
        pthread_mutex_unlock(&r->mu);
        rewake_all(r, 0);
        pthread_mutex_lock(&r->mu);
        r->finished = done;
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
    }
}

static void race_init(race *r, int n)
{
    memset(r, 0, sizeof(*r));
    r->n = n;
    kicker_init(&r->k);
    sched_init(&r->sc, kick, &r->k);
    sched_bind(&r->sc);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    for (int i = 0; i < n; i++) {
        task_init(&r->t[i], &r->sc);
        atomic_init(&r->seq[i], 0);
        r->t[i].seq = &r->seq[i];
    }
}

static void race_destroy(race *r)
{
    sched_destroy(&r->sc);
    kicker_destroy(&r->k);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
}

/* The owner asks for a round and waits until the helper did it. */
static void ask_round(race *r)
{
    pthread_mutex_lock(&r->mu);
    long n = ++r->round;
    pthread_cond_broadcast(&r->cv);
    while (r->finished < n)
        pthread_cond_wait(&r->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);
}

static race *racing; /* for the fn below */

/* The first task of the pass has the helper re-wake every task, all of them taken from
 * the queue already, and waits until it has. */
static int rewake_in_pass(sched_task *st, uint64_t now)
{
    on_run(st, now);
    if (racing->round == 0) /* the owner's own count: only it writes round */
        ask_round(racing);
    return 0;
}

START_TEST(rewoken_while_the_batch_runs)
{
    static race r;
    race_init(&r, NRE);
    racing = &r;
    for (int i = 0; i < NRE; i++)
        r.t[i].t.fn = rewake_in_pass;
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, helper, &r), 0);
    /* round 0: every task queued from another thread */
    wakes w = {.n = NRE};
    for (int i = 0; i < NRE; i++) {
        atomic_fetch_add(&r.seq[i], 1);
        w.t[i] = &r.t[i].t;
    }
    on_thread(wake_all, &w);
    ck_assert_int_eq(kicks(&r.k), 1);
    /* the pass: its first task has all of them woken again (round 1) */
    ck_assert_int_eq(sched_run(&r.sc, 1), NRE);
    ck_assert_int_eq(r.finished, 1);
    for (int i = 0; i < NRE; i++)
        ck_assert_int_eq(r.t[i].runs, 1);
    ck_assert_int_eq(kicks(&r.k), 2); /* the queue was empty: one kick for eight wakes */
    /* those wakes are for the next pass: every task once, seeing the new value */
    ck_assert_int_eq(sched_run(&r.sc, 2), NRE);
    for (int i = 0; i < NRE; i++) {
        ck_assert_int_eq(r.t[i].runs, 2);
        ck_assert_uint_eq(r.t[i].seen, atomic_load(&r.seq[i]));
        ck_assert_uint_eq(r.t[i].seen, 2);
    }
    ck_assert_int_eq(sched_run(&r.sc, 3), 0);
    pthread_mutex_lock(&r.mu);
    r.stop = 1;
    pthread_cond_broadcast(&r.cv);
    pthread_mutex_unlock(&r.mu);
    pthread_join(th, NULL);
    race_destroy(&r);
}
END_TEST

/* Round after round, a helper queues every task (the queue's head is task 0, the order
 * the owner walks it), then, the moment the owner starts its pass, wakes every task again
 * from task 0 up: chasing the owner while it takes the queue, so tasks it has just taken
 * off are queued again meanwhile. (Were a task's queue link reused while the owner still
 * walked the queue it was taken from, the tasks after it would stay marked queued and
 * never run again.) After each round, one more pass: every task has run since its last
 * wake-up, and never twice in one pass. The hand-overs spin on atomics (yielding). */
enum { FILL, FILLED, GO, CHASED };

typedef struct chase {
    race *r;
    long rounds;
    atomic_int phase;
} chase;

static void spin_until(atomic_int *v, int want)
{
    while (atomic_load(v) != want)
        sched_yield();
}

static void *chaser(void *arg)
{
    chase *c = arg;
    for (long n = 0; n < c->rounds; n++) {
        spin_until(&c->phase, FILL);
        rewake_all(c->r, 0);
        atomic_store(&c->phase, FILLED);
        spin_until(&c->phase, GO);
        rewake_all(c->r, 1);
        atomic_store(&c->phase, CHASED);
    }
    return NULL;
}

START_TEST(rewoken_while_the_queue_is_taken)
{
    static race r;
    race_init(&r, NSWEEP);
    static chase c;
    c.r = &r;
    c.rounds = env_long("SCHED_RACE_ROUNDS", 500, 20);
    atomic_init(&c.phase, FILL);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, chaser, &c), 0);
    for (long n = 0; n < c.rounds; n++) {
        spin_until(&c.phase, FILLED);
        for (int i = 0; i < NSWEEP; i++)
            r.t[i].runs_this_pass = 0;
        atomic_store(&c.phase, GO);
        sched_run(&r.sc, (uint64_t)n); /* takes the queue while the helper refills it */
        spin_until(&c.phase, CHASED);
        for (int i = 0; i < NSWEEP; i++) {
            ck_assert_int_le(r.t[i].runs_this_pass, 1);
            r.t[i].runs_this_pass = 0;
        }
        sched_run(&r.sc, (uint64_t)n);
        for (int i = 0; i < NSWEEP; i++) {
            ck_assert_int_le(r.t[i].runs_this_pass, 1);
            ck_assert_msg(r.t[i].seen == atomic_load(&r.seq[i]),
                          "round %ld: task %d last ran at %lu, last woken at %lu", n, i,
                          r.t[i].seen, atomic_load(&r.seq[i]));
        }
        ck_assert_int_eq(sched_run(&r.sc, (uint64_t)n), 0);
        if (n + 1 < c.rounds)
            atomic_store(&c.phase, FILL);
    }
    pthread_join(th, NULL);
    for (int i = 0; i < NSWEEP; i++)
        ck_assert_uint_eq(r.t[i].seen, (unsigned long)(2 * c.rounds));
    race_destroy(&r);
}
END_TEST

int main(void)
{
    return check_tests("sched", local_wake_runs_once_per_run, forget_removes_from_every_list,
                       woken_by_a_task_runs_on_the_next_run, tick_keeps_tasks_while_nonzero,
                       remote_wakes_kick_only_an_empty_queue, no_wake_up_is_lost,
                       rewoken_while_the_batch_runs, rewoken_while_the_queue_is_taken);
}
