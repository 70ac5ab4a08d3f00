/* loop — a minimal epoll event loop (after redis' ae): file descriptors and callbacks,
 * nothing else. It knows nothing of HTTP or curl; its owner computes the wait timeout.
 * Registrations are keyed by fd; a stale event for an fd no longer watched is dropped. */
#ifndef CHATD_LOOP_H
#define CHATD_LOOP_H

#include <stdint.h>

typedef struct loop loop;
typedef void (*loop_fn)(loop *l, int fd, unsigned events, void *ud);

loop *loop_new(void);
void loop_free(loop *l);
/* Watch fd for events (EPOLLIN, EPOLLOUT, EPOLLRDHUP...); re-watching replaces. 0 or -errno. */
int loop_watch(loop *l, int fd, unsigned events, loop_fn fn, void *ud);
void loop_unwatch(loop *l, int fd);
int loop_watching(const loop *l, int fd);
/* One wait of at most timeout_ms (-1: forever); dispatches ready fds. Events or -errno. */
int loop_run_once(loop *l, int timeout_ms);
uint64_t loop_now_ms(void); /* monotonic milliseconds */
/* Milliseconds from then to now; 0 when then is later (a time stamped after now was
 * read, in the same pass or on another thread): never an unsigned wrap-around. */
static inline uint64_t loop_since(uint64_t now, uint64_t then) { return now > then ? now - then : 0; }

#endif
