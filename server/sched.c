/* sched — see sched.h. The due and tick lists are circular and doubly linked around a
 * head, so forgetting a task is O(1) wherever it sits. The remote queue is singly linked
 * and taken whole under the mutex: each taken task is moved onto the due list before the
 * mutex is released, so a wake-up that races with the take either lands in this batch or
 * in the queue for the next one, never in between. */
#include "sched.h"

#include <stddef.h>

static __thread sched *self;

static void list_init(sched_task *head)
{
    head->next = head->prev = head;
}

static void list_push(sched_task *head, sched_task *t)
{
    t->prev = head->prev;
    t->next = head;
    head->prev->next = t;
    head->prev = t;
}

static void list_del(sched_task *t)
{
    t->prev->next = t->next;
    t->next->prev = t->prev;
    t->next = t->prev = NULL;
}

void sched_init(sched *sc, void (*kick)(void *ud), void *ud)
{
    pthread_mutex_init(&sc->mu, NULL);
    sc->remote = NULL;
    list_init(&sc->due);
    list_init(&sc->tick);
    sc->kick = kick;
    sc->kick_ud = ud;
}

void sched_destroy(sched *sc)
{
    if (self == sc)
        self = NULL;
    pthread_mutex_destroy(&sc->mu);
}

void sched_bind(sched *sc)
{
    self = sc;
}

void sched_task_init(sched_task *t, sched *sc, sched_fn fn)
{
    t->fn = fn;
    t->sc = sc;
    t->next = t->prev = t->qnext = NULL;
    t->due = t->ticking = t->queued = 0;
}

static void make_due(sched_task *t)
{
    if (t->due || t->ticking)
        return; /* a ticking task runs at the next tick anyway */
    t->due = 1;
    list_push(&t->sc->due, t);
}

void sched_wake(sched_task *t)
{
    sched *sc = t->sc;
    if (self == sc) {
        make_due(t);
        return;
    }
    pthread_mutex_lock(&sc->mu);
    int first = sc->remote == NULL;
    if (!t->queued) {
        t->queued = 1;
        t->qnext = sc->remote;
        sc->remote = t;
    }
    pthread_mutex_unlock(&sc->mu);
    if (first && sc->kick)
        sc->kick(sc->kick_ud);
}

void sched_activate(sched_task *t)
{
    if (t->ticking)
        return;
    if (t->due) {
        t->due = 0;
        list_del(t);
    }
    t->ticking = 1;
    list_push(&t->sc->tick, t);
}

void sched_forget(sched_task *t)
{
    sched *sc = t->sc;
    if (t->due || t->ticking)
        list_del(t);
    t->due = t->ticking = 0;
    pthread_mutex_lock(&sc->mu);
    for (sched_task **pp = &sc->remote; t->queued && *pp; pp = &(*pp)->qnext) {
        if (*pp == t) {
            *pp = t->qnext;
            break;
        }
    }
    t->queued = 0;
    t->qnext = NULL;
    pthread_mutex_unlock(&sc->mu);
}

static void take_remote(sched *sc)
{
    pthread_mutex_lock(&sc->mu);
    sched_task *t = sc->remote;
    sc->remote = NULL;
    while (t) {
        sched_task *next = t->qnext;
        t->qnext = NULL;
        t->queued = 0;
        make_due(t);
        t = next;
    }
    pthread_mutex_unlock(&sc->mu);
}

int sched_run(sched *sc, uint64_t now)
{
    take_remote(sc);
    /* Run only this batch: a task woken by another's fn goes to the back of a fresh list. */
    sched_task batch;
    list_init(&batch);
    if (sc->due.next != &sc->due) {
        batch.next = sc->due.next;
        batch.prev = sc->due.prev;
        batch.next->prev = &batch;
        batch.prev->next = &batch;
        list_init(&sc->due);
    }
    int n = 0;
    while (batch.next != &batch) {
        sched_task *t = batch.next;
        list_del(t);
        t->due = 0;
        n++;
        t->fn(t, now); /* may free t: nothing touches it after this */
    }
    return n;
}

void sched_tick(sched *sc, uint64_t now)
{
    sched_task batch;
    list_init(&batch);
    if (sc->tick.next == &sc->tick)
        return;
    batch.next = sc->tick.next;
    batch.prev = sc->tick.prev;
    batch.next->prev = &batch;
    batch.prev->next = &batch;
    list_init(&sc->tick);
    while (batch.next != &batch) {
        sched_task *t = batch.next;
        list_del(t);
        t->ticking = 0;
        if (t->fn(t, now))
            sched_activate(t);
    }
}

int sched_has_due(const sched *sc)
{
    return sc->due.next != &sc->due;
}

int sched_has_ticking(const sched *sc)
{
    return sc->tick.next != &sc->tick;
}
