/* loop — see loop.h. The fd table grows on demand; it is indexed by fd because the kernel
 * hands out the lowest free fd, so it stays dense. */
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define LOOP_BATCH 256

typedef struct slot {
    loop_fn fn;
    void *ud;
    unsigned events;
} slot;

struct loop {
    int epfd;
    slot *slots;
    int nslots;
};

loop *loop_new(void)
{
    loop *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        free(l);
        return NULL;
    }
    return l;
}

void loop_free(loop *l)
{
    if (!l)
        return;
    close(l->epfd);
    free(l->slots);
    free(l);
}

static int grow(loop *l, int fd)
{
    if (fd < l->nslots)
        return 0;
    int n = l->nslots ? l->nslots : 64;
    while (n <= fd)
        n *= 2;
    slot *s = realloc(l->slots, (size_t)n * sizeof(*s));
    if (!s)
        return -ENOMEM;
    memset(s + l->nslots, 0, (size_t)(n - l->nslots) * sizeof(*s));
    l->slots = s;
    l->nslots = n;
    return 0;
}

int loop_watch(loop *l, int fd, unsigned events, loop_fn fn, void *ud)
{
    if (fd < 0 || grow(l, fd) < 0)
        return -ENOMEM;
    struct epoll_event ev = {.events = events, .data.fd = fd};
    int op = l->slots[fd].fn ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    int rc = epoll_ctl(l->epfd, op, fd, &ev);
    /* The kernel drops a closed fd from the set on its own; our table may lag behind. */
    if (rc < 0 && errno == ENOENT)
        rc = epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev);
    else if (rc < 0 && errno == EEXIST)
        rc = epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev);
    if (rc < 0)
        return -errno;
    l->slots[fd] = (slot){fn, ud, events};
    return 0;
}

void loop_unwatch(loop *l, int fd)
{
    if (fd < 0 || fd >= l->nslots || !l->slots[fd].fn)
        return;
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
    l->slots[fd] = (slot){0};
}

int loop_watching(const loop *l, int fd)
{
    return fd >= 0 && fd < l->nslots && l->slots[fd].fn != NULL;
}

int loop_run_once(loop *l, int timeout_ms)
{
    struct epoll_event evs[LOOP_BATCH];
    int n = epoll_wait(l->epfd, evs, LOOP_BATCH, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
        int fd = evs[i].data.fd;
        /* A callback earlier in this batch may have unwatched this fd. */
        if (fd < l->nslots && l->slots[fd].fn)
            l->slots[fd].fn(l, fd, evs[i].events, l->slots[fd].ud);
    }
    return n;
}

uint64_t loop_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
