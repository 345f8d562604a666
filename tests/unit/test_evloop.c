/* evloop: timers fire in deadline order, stop and restart work, watches
 * deliver readiness, and a watch removed during a round is not called. */
#include <stdint.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "evloop.h"
#include "testlib.h"

typedef struct rec {
    evloop *l;
    int order[64];
    int n;
} rec;

typedef struct tmr {
    evloop_timer t;
    rec *r;
    int id;
} tmr;

static void on_timer(void *ud) {
    tmr *t = ud;
    t->r->order[t->r->n++] = t->id;
    if (t->r->n == 5) evloop_stop(t->r->l);
}

static void test_timer_order(void) {
    evloop *l = evloop_new();
    rec r = {.l = l};
    tmr ts[6];
    const int delays[6] = {30, 10, 20, 0, 40, 5};
    for (int i = 0; i < 6; i++) {
        ts[i].r = &r;
        ts[i].id = i;
        evloop_timer_init(&ts[i].t, on_timer, &ts[i]);
        evloop_timer_start(l, &ts[i].t, (uint64_t)delays[i]);
    }
    evloop_timer_stop(l, &ts[2].t);           /* never fires */
    CHECK(!evloop_timer_active(&ts[2].t));
    evloop_timer_start(l, &ts[4].t, 1);       /* moved earlier */
    CHECK_INT(evloop_run(l), 0);
    CHECK_INT(r.n, 5);
    const int want[5] = {3, 4, 5, 1, 0};
    for (int i = 0; i < 5; i++) CHECK_INT(r.order[i], want[i]);
    evloop_free(l);
}

static void test_many_timers(void) {
    /* Exercise heap growth and removal from the middle. */
    evloop *l = evloop_new();
    rec r = {.l = l};
    static tmr ts[500];
    for (int i = 0; i < 500; i++) {
        ts[i].r = &r;
        ts[i].id = i;
        evloop_timer_init(&ts[i].t, on_timer, &ts[i]);
        evloop_timer_start(l, &ts[i].t, (uint64_t)(1000 + (i * 7919) % 500));
    }
    for (int i = 0; i < 500; i++)
        if (i % 100 != 0) evloop_timer_stop(l, &ts[i].t);
    /* 0, 100, 200, 300, 400 remain: delays 1000, 1100+..., in heap order. */
    evloop_timer_start(l, &ts[0].t, 0);
    evloop_timer_start(l, &ts[100].t, 1);
    evloop_timer_start(l, &ts[200].t, 2);
    evloop_timer_start(l, &ts[300].t, 3);
    evloop_timer_start(l, &ts[400].t, 4);
    evloop_run(l);
    for (int i = 0; i < 5; i++) CHECK_INT(r.order[i], i * 100);
    evloop_free(l);
}

typedef struct pipes {
    evloop *l;
    evloop_io a, b;
    int fa[2], fb[2];
    int calls_a, calls_b;
} pipes;

static void on_a(void *ud, uint32_t ev) {
    pipes *p = ud;
    (void)ev;
    p->calls_a++;
    evloop_io_del(p->l, &p->b);   /* b is ready in this same round */
    char c;
    if (read(p->fa[0], &c, 1) != 1) p->calls_a += 100;
    evloop_stop(p->l);
}

static void on_b(void *ud, uint32_t ev) {
    pipes *p = ud;
    (void)ev;
    p->calls_b++;
    evloop_io_del(p->l, &p->a);
    evloop_stop(p->l);
}

static void test_io_removed_in_round(void) {
    pipes p = {0};
    p.l = evloop_new();
    CHECK(pipe(p.fa) == 0 && pipe(p.fb) == 0);
    CHECK(write(p.fa[1], "x", 1) == 1 && write(p.fb[1], "y", 1) == 1);
    CHECK_INT(evloop_io_add(p.l, &p.a, p.fa[0], EPOLLIN, on_a, &p), 0);
    CHECK_INT(evloop_io_add(p.l, &p.b, p.fb[0], EPOLLIN, on_b, &p), 0);
    evloop_run(p.l);
    /* Exactly one of the two ran: the other was removed before its turn. */
    CHECK_INT(p.calls_a + p.calls_b, 1);
    for (int i = 0; i < 2; i++) {
        close(p.fa[i]);
        close(p.fb[i]);
    }
    evloop_free(p.l);
}

int main(void) {
    test_timer_order();
    test_many_timers();
    test_io_removed_in_round();
    TEST_MAIN_END();
}
