/* evloop: epoll plus a timer heap, in one thread.
 *
 * Design.  Level-triggered epoll: a callback that does not drain its descriptor
 * is simply called again, which keeps the libraries driven from here
 * (libmicrohttpd, libcurl) correct without knowing their internals.  Timers
 * live in a binary min-heap of pointers keyed by absolute deadline; each timer
 * remembers its heap position, so stopping or rescheduling is O(log n), which
 * matters because every chunk of every stream pushes its idle timer forward.
 *
 * Time is read once per round (evloop_now_ms), so all timers due in one round
 * compare against the same instant and none can starve the others.
 *
 * One before-wait function runs just before each epoll_wait (main.c's, which
 * says what it does in which order).  libmicrohttpd needs it: resuming a
 * suspended connection only takes effect in the next MHD_run(), and the wait
 * time must include MHD's own next timeout. */
#include "evloop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "invariant.h"

#define EVLOOP_MAX_EVENTS 128

struct evloop {
    int epfd;
    bool stopping;
    uint64_t now_ms;
    evloop_timer **heap;      /* 1-based: heap[1] is the earliest */
    size_t nheap, capheap;
    evloop_hook_fn before_wait;
    void *before_wait_ud;
    /* The round being dispatched, so that a watch removed by an earlier
     * callback of the same round is not called with a freed pointer. */
    struct epoll_event *round;
    int round_next, round_n;
};

uint64_t evloop_clock_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t clock_ms(void) { return evloop_clock_us() / 1000u; }

evloop *evloop_new(void) {
    evloop *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) goto err;
    l->capheap = 64;
    l->heap = calloc(l->capheap + 1, sizeof *l->heap);
    if (!l->heap) goto err;
    l->now_ms = clock_ms();
    return l;
err:
    if (l->epfd >= 0) close(l->epfd);
    free(l);
    return NULL;
}

void evloop_free(evloop *l) {
    if (!l) return;
    close(l->epfd);
    free(l->heap);
    free(l);
}

int evloop_io_add(evloop *l, evloop_io *io, int fd, uint32_t events,
                  evloop_io_fn fn, void *ud) {
    io->fd = fd;
    io->fn = fn;
    io->ud = ud;
    struct epoll_event ev = {.events = events, .data.ptr = io};
    return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev);
}

int evloop_io_mod(evloop *l, evloop_io *io, uint32_t events) {
    struct epoll_event ev = {.events = events, .data.ptr = io};
    return epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ev);
}

void evloop_io_del(evloop *l, evloop_io *io) {
    /* The descriptor may already be closed, which removed it from the set;
     * ENOENT/EBADF then are not errors. */
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    io->fd = -1;
    for (int i = l->round_next; i < l->round_n; i++)
        if (l->round[i].data.ptr == io) l->round[i].data.ptr = NULL;
}

/* ---- timer heap ---- */

static void heap_set(evloop *l, size_t pos, evloop_timer *t) {
    l->heap[pos] = t;
    t->heap_pos = pos;
}

static void heap_up(evloop *l, size_t pos) {
    evloop_timer *t = l->heap[pos];
    while (pos > 1 && l->heap[pos / 2]->when_ms > t->when_ms) {
        heap_set(l, pos, l->heap[pos / 2]);
        pos /= 2;
    }
    heap_set(l, pos, t);
}

static void heap_down(evloop *l, size_t pos) {
    evloop_timer *t = l->heap[pos];
    for (;;) {
        size_t child = pos * 2;
        if (child > l->nheap) break;
        if (child < l->nheap && l->heap[child + 1]->when_ms < l->heap[child]->when_ms) child++;
        if (l->heap[child]->when_ms >= t->when_ms) break;
        heap_set(l, pos, l->heap[child]);
        pos = child;
    }
    heap_set(l, pos, t);
}

void evloop_timer_init(evloop_timer *t, evloop_timer_fn fn, void *ud) {
    t->when_ms = 0;
    t->fn = fn;
    t->ud = ud;
    t->heap_pos = 0;
}

bool evloop_timer_active(const evloop_timer *t) { return t->heap_pos != 0; }

void evloop_timer_stop(evloop *l, evloop_timer *t) {
    size_t pos = t->heap_pos;
    if (!pos) return;
    INVARIANT(pos <= l->nheap && l->heap[pos] == t);
    evloop_timer *last = l->heap[l->nheap--];
    t->heap_pos = 0;
    if (last == t) return;
    heap_set(l, pos, last);
    heap_up(l, pos);
    heap_down(l, last->heap_pos);
}

void evloop_timer_start(evloop *l, evloop_timer *t, uint64_t delay_ms) {
    evloop_timer_stop(l, t);
    if (l->nheap == l->capheap) {
        size_t cap = l->capheap * 2;
        evloop_timer **h = realloc(l->heap, (cap + 1) * sizeof *h);
        /* Out of memory with a timer that must fire: nothing sane remains. */
        if (!h) abort();
        l->heap = h;
        l->capheap = cap;
    }
    t->when_ms = l->now_ms + delay_ms;
    l->nheap++;
    heap_set(l, l->nheap, t);
    heap_up(l, l->nheap);
}

static void run_due_timers(evloop *l) {
    while (l->nheap && l->heap[1]->when_ms <= l->now_ms) {
        evloop_timer *t = l->heap[1];
        evloop_timer_stop(l, t);
        t->fn(t->ud);
    }
}

/* ---- the loop ---- */

void evloop_set_before_wait(evloop *l, evloop_hook_fn fn, void *ud) {
    l->before_wait = fn;
    l->before_wait_ud = ud;
}

void evloop_advance(evloop *l, uint64_t ms) {
    l->now_ms += ms;
    run_due_timers(l);
}

uint64_t evloop_now_ms(const evloop *l) { return l->now_ms; }

void evloop_stop(evloop *l) { l->stopping = true; }

int evloop_run(evloop *l) {
    struct epoll_event events[EVLOOP_MAX_EVENTS];
    l->stopping = false;
    while (!l->stopping) {
        if (l->before_wait) l->before_wait(l->before_wait_ud);
        int timeout = -1;
        if (l->nheap) {
            uint64_t now = clock_ms();
            uint64_t when = l->heap[1]->when_ms;
            timeout = when <= now ? 0 : (int)(when - now > 60000 ? 60000 : when - now);
        }
        int n = epoll_wait(l->epfd, events, EVLOOP_MAX_EVENTS, timeout);
        if (n < 0 && errno != EINTR) return -1;
        l->now_ms = clock_ms();
        l->round = events;
        l->round_n = n < 0 ? 0 : n;
        for (l->round_next = 0; l->round_next < l->round_n;) {
            struct epoll_event *ev = &events[l->round_next++];
            evloop_io *io = ev->data.ptr;
            if (io) io->fn(io->ud, ev->events);
        }
        l->round_n = 0;
        run_due_timers(l);
    }
    return 0;
}
