/* sched — what a worker runs between two waits of its loop: tasks woken since the last
 * pass (from its own thread or from any other) and tasks that tick while active (pacing).
 * It knows nothing of HTTP, curl or streams; its users embed a sched_task and say what to
 * run. The owner thread runs everything; other threads only queue wake-ups, under the
 * scheduler's mutex, and ring its kick (the worker's eventfd) when the queue was empty.
 * A task must be forgotten (sched_forget, owner thread) before its memory is freed; after
 * that no wake-up reaches it. Lock order: a caller may hold its own locks while waking a
 * task (the stream's, say); sched_run holds the mutex only to take the queue. */
#ifndef CHATD_SCHED_H
#define CHATD_SCHED_H

#include <pthread.h>
#include <stdint.h>

typedef struct sched sched;
typedef struct sched_task sched_task;
/* A woken task's return value is ignored; a ticking task returns nonzero to keep ticking. */
typedef int (*sched_fn)(sched_task *t, uint64_t now);

struct sched_task {
    sched_fn fn;
    sched *sc;                 /* the owner */
    sched_task *next, *prev;   /* owner's list: due (woken) or ticking (owner thread) */
    sched_task *qnext;         /* the remote queue (sc->mu) */
    unsigned char due;         /* on the due list (owner thread) */
    unsigned char ticking;     /* on the tick list (owner thread) */
    unsigned char queued;      /* on the remote queue (sc->mu) */
};

struct sched {
    pthread_mutex_t mu;
    sched_task *remote;        /* woken from other threads (mu) */
    sched_task due, tick;      /* list heads (owner thread) */
    void (*kick)(void *ud);    /* wakes the owner thread's loop */
    void *kick_ud;
};

void sched_init(sched *sc, void (*kick)(void *ud), void *ud);
void sched_destroy(sched *sc);
/* The calling thread owns sc: sched_wake from it takes the lock-free path. */
void sched_bind(sched *sc);

void sched_task_init(sched_task *t, sched *sc, sched_fn fn);
/* Any thread: t->fn runs once on the owner's thread at its next sched_run. */
void sched_wake(sched_task *t);
/* Owner thread: t->fn runs at every sched_tick until it returns 0. */
void sched_activate(sched_task *t);
/* Owner thread: t is off every list and no wake-up can reach it any more. */
void sched_forget(sched_task *t);

/* Owner thread: runs every task woken so far (those woken while running wait for the
 * next call). Returns how many ran. */
int sched_run(sched *sc, uint64_t now);
/* Owner thread: runs every ticking task once. */
void sched_tick(sched *sc, uint64_t now);
int sched_has_due(const sched *sc);     /* owner thread: a task is due locally */
int sched_has_ticking(const sched *sc); /* owner thread: the tick list is not empty */

#endif
