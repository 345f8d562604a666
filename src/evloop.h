/* evloop: the gateway's one event loop: epoll for file descriptors, a binary
 * heap for timers.
 *
 * Everything that waits (client connections through libmicrohttpd, upstream
 * transfers through libcurl, probes, deadlines) waits here, so a thousand open
 * streams cost a thousand heap entries and sockets, not a thousand threads, and
 * an idle gateway sleeps in epoll_wait.  Watches and timers are embedded in
 * their owners' structs: the loop allocates nothing per event and never frees
 * what it did not allocate.  Not thread-safe: one loop, one thread. */
#ifndef TIERGATE_EVLOOP_H
#define TIERGATE_EVLOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct evloop evloop;

typedef void (*evloop_io_fn)(void *ud, uint32_t events);
typedef void (*evloop_timer_fn)(void *ud);
typedef void (*evloop_hook_fn)(void *ud);

/* One watched descriptor; owned and placed by the caller. */
typedef struct evloop_io {
    int fd;
    evloop_io_fn fn;
    void *ud;
} evloop_io;

/* One timer; owned and placed by the caller.  heap_pos is the loop's. */
typedef struct evloop_timer {
    uint64_t when_ms;
    evloop_timer_fn fn;
    void *ud;
    size_t heap_pos;      /* 0 = not scheduled, else 1-based heap index */
} evloop_timer;

evloop *evloop_new(void);
void evloop_free(evloop *l);

/* Watches fd for events (EPOLLIN, EPOLLOUT, EPOLLRDHUP...).  Returns 0 or -1. */
int evloop_io_add(evloop *l, evloop_io *io, int fd, uint32_t events,
                  evloop_io_fn fn, void *ud);
int evloop_io_mod(evloop *l, evloop_io *io, uint32_t events);
void evloop_io_del(evloop *l, evloop_io *io);

void evloop_timer_init(evloop_timer *t, evloop_timer_fn fn, void *ud);
/* (Re)schedules t to fire once, delay_ms from now. */
void evloop_timer_start(evloop *l, evloop_timer *t, uint64_t delay_ms);
void evloop_timer_stop(evloop *l, evloop_timer *t);
bool evloop_timer_active(const evloop_timer *t);

/* fn(ud) runs before every wait, after all events and timers of the last
 * round: the place for work that must not wait a turn (running
 * libmicrohttpd after a resume, writing the request lines).  There is one
 * such function, the program's (main.c), which does that work in an order
 * written down there, rather than hooks that run in the order they happened
 * to be added. */
void evloop_set_before_wait(evloop *l, evloop_hook_fn fn, void *ud);

/* For tests that drive time themselves: moves the loop's clock forward by
 * ms and runs the timers then due (a 0 runs those due now), without waiting
 * on anything. */
void evloop_advance(evloop *l, uint64_t ms);

/* Monotonic milliseconds; cached per loop round. */
uint64_t evloop_now_ms(const evloop *l);
/* Monotonic microseconds, read now (for latency measurements). */
uint64_t evloop_clock_us(void);

/* Runs until evloop_stop(); returns 0, or -1 if epoll failed. */
int evloop_run(evloop *l);
void evloop_stop(evloop *l);

#endif
