/* connguard: per-connection request deadlines on the event loop's timers,
 * and the client's hang-up.
 *
 * MHD offers no call to close one connection from outside its handlers, so
 * a late connection is cut with shutdown(2) on its socket: MHD's epoll set
 * then reports it readable, the next read sees the end, and MHD closes and
 * cleans it up through its usual path (completion and close notifications),
 * exactly as if the client had hung up.  The state per connection is one
 * timer; it is MHD's socket context, created when MHD reports the connection
 * started and freed when MHD reports it closed.
 *
 * The hang-up watch is registered once per connection, edge-triggered, for
 * EPOLLRDHUP only: a request then costs no epoll_ctl of ours however often
 * it is suspended and resumed (a stream is, at every chunk).  MHD itself
 * reads the socket while the request is not suspended, so a hang-up seen
 * then is only remembered, and reported as soon as someone asks to be told;
 * through a zero timer, so that the report never runs inside MHD's call.
 *
 * The deadline covers the gap between requests on a kept-alive connection
 * too.  That may cut a client that idles a while and then sends slowly,
 * which is the point: a connection must make progress to keep its slot. */
#include "connguard.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "evloop.h"
#include "log.h"

struct connguard {
    struct evloop *loop;
    uint64_t timeout_ms;
    size_t cut;                  /* connections shut down so far */
};

typedef struct guarded {
    connguard *g;
    int fd;
    evloop_timer deadline;
    evloop_io hup_io;
    bool watched;                /* hup_io is registered */
    bool hung_up;                /* the client closed its side */
    evloop_timer hup_later;      /* reports a hang-up seen before the ask */
    void (*on_hup)(void *ud);
    void *hup_ud;
} guarded;

static void report_hup(guarded *c) {
    void (*fn)(void *) = c->on_hup;
    c->on_hup = NULL;
    if (fn) fn(c->hup_ud);
}

static void on_hup_event(void *ud, uint32_t events) {
    (void)events;
    guarded *c = ud;
    c->hung_up = true;
    report_hup(c);
}

static void on_hup_later(void *ud) { report_hup(ud); }

static void on_deadline(void *ud) {
    guarded *c = ud;
    c->g->cut++;
    cJSON *o = log_begin("warn", "request_timeout");
    if (o) {
        cJSON_AddNumberToObject(o, "timeout_s", (double)(c->g->timeout_ms / 1000));
        cJSON_AddNumberToObject(o, "cut_total", (double)c->g->cut);
    }
    log_end(o);
    shutdown(c->fd, SHUT_RDWR);
}

connguard *connguard_new(struct evloop *loop, int timeout_s) {
    assert(timeout_s > 0);
    connguard *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->loop = loop;
    g->timeout_ms = (uint64_t)timeout_s * 1000;
    return g;
}

void connguard_free(connguard *g) { free(g); }

void connguard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                      enum MHD_ConnectionNotificationCode code) {
    connguard *g = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        guarded *c = ci ? calloc(1, sizeof *c) : NULL;
        /* Without memory for a deadline the connection still has MHD's idle timeout. */
        if (!c) return;
        c->g = g;
        c->fd = ci->connect_fd;
        evloop_timer_init(&c->deadline, on_deadline, c);
        evloop_timer_init(&c->hup_later, on_hup_later, c);
        evloop_timer_start(g->loop, &c->deadline, g->timeout_ms);
        c->watched = evloop_io_add(g->loop, &c->hup_io, c->fd, EPOLLRDHUP | EPOLLET, on_hup_event, c) == 0;
        *socket_context = c;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        guarded *c = *socket_context;
        if (!c) return;
        evloop_timer_stop(g->loop, &c->deadline);
        evloop_timer_stop(g->loop, &c->hup_later);
        if (c->watched) evloop_io_del(g->loop, &c->hup_io);
        free(c);
        *socket_context = NULL;
    }
}

static guarded *guarded_of(struct MHD_Connection *conn) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

void connguard_received(struct MHD_Connection *conn) {
    guarded *c = guarded_of(conn);
    if (c) evloop_timer_stop(c->g->loop, &c->deadline);
}

void connguard_next(struct MHD_Connection *conn) {
    guarded *c = guarded_of(conn);
    if (c) evloop_timer_start(c->g->loop, &c->deadline, c->g->timeout_ms);
}

bool connguard_on_hangup(struct MHD_Connection *conn, void (*fn)(void *ud), void *ud) {
    guarded *c = guarded_of(conn);
    if (!c || !c->watched) return false;
    c->on_hup = fn;
    c->hup_ud = ud;
    if (c->hung_up) evloop_timer_start(c->g->loop, &c->hup_later, 0);
    return true;
}

void connguard_off_hangup(struct MHD_Connection *conn) {
    guarded *c = guarded_of(conn);
    if (!c) return;
    c->on_hup = NULL;
    evloop_timer_stop(c->g->loop, &c->hup_later);
}
