/* server: libmicrohttpd driven by the gateway's own event loop.
 *
 * MHD runs in its "external epoll" mode: it keeps its own epoll set, whose
 * descriptor sits in evloop's set, and we call MHD_run() when that descriptor
 * is readable, when MHD's connection timeout is due, and after we resumed a
 * connection.  So client connections and upstream transfers share one thread
 * and one wait, like nginx's worker loop.
 *
 * A request whose answer is not ready is suspended (MHD_suspend_connection):
 * MHD stops watching it, and it costs nothing until we resume it.  MHD only
 * lets responses be queued from inside its access handler, so a late reply is
 * stored in the exchange and the connection resumed; MHD then calls the access
 * handler again and the stored response is queued there.  Streams use a
 * callback response whose reader hands out what is buffered and suspends the
 * connection when the buffer is empty; writing resumes it.
 *
 * MHD does not watch a suspended socket, so it cannot see a client leave while
 * we wait for the backend.  connguard watches each socket for EPOLLRDHUP and
 * tells us while the request is suspended, which is how a client that hangs
 * up cancels its upstream transfer at once instead of when the backend next
 * sends a byte.
 *
 * An over-limit body.  A client that is still sending when the gateway
 * closes gets a reset and loses the 413 that was sent before it (the kernel
 * answers unread data with RST).  So, like nginx's lingering close, a body
 * over limits.max_body_bytes is read and thrown away, at most
 * SERVER_LINGER_BYTES past the limit and within limits.request_timeout_s
 * (connguard's deadline for a request to arrive), and the 413 comes after
 * it.  A Content-Length beyond that, or a client that waits for
 * "100 Continue", gets its 413 at once, unread.
 *
 * This file runs the daemon, admits requests (endpoint, client key, body
 * size, draining) and hands them to their handlers; the request's own side,
 * replies and streams, is exchange.c.  Reloads swap the configuration and
 * the key table between requests; a request in flight keeps its place under
 * its key's name.  Draining closes the listening socket at once and lets the
 * requests in flight finish. */
#include "server.h"

#include <arpa/inet.h>
#include <assert.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <unistd.h>

#include "exchange.h"
#include "log.h"

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    server *s = cls;
    server_exchange *ex = *con_cls;
    connguard_next(conn);
    if (!ex) return;
    *con_cls = NULL;
    /* A connection the gateway closed (exchange_fail) was not the client's doing. */
    bool gone = ex->state == EX_ABORTED || (ex->state != EX_CLOSING && toe != MHD_REQUEST_TERMINATED_COMPLETED_OK);
    /* No handler ran (dispatch sets handled_us just before it calls one),
     * yet a status was given: the server refused the request. */
    if (!ex->handled_us && ex->status && s->on_refused) s->on_refused(s->on_refused_ud, ex->status);
    exchange_close(ex, gone);
    exchange_log(ex, gone);
    exchange_free(ex);
}

/* ---- routing to endpoints ---- */

/* The endpoint for ex's method and path, or NULL after replying 404 or 405. */
static const server_endpoint *route(server_exchange *ex) {
    server *s = ex->s;
    bool path_known = false;
    char allow[64] = "";
    for (size_t i = 0; i < s->ntable; i++) {
        const server_endpoint *ep = &s->table[i];
        if (ep->admin && !auth_admin_enabled(s->auth)) continue;   /* issue 17: admin endpoints */
        size_t pl = strlen(ep->path);
        bool match = ep->path[pl - 1] == '/' ? strncmp(ex->path, ep->path, pl) == 0 && ex->path[pl]
                                             : strcmp(ex->path, ep->path) == 0;
        if (!match) continue;
        path_known = true;
        if (strcmp(ex->method, ep->method) == 0) return ep;
        size_t al = strlen(allow);
        snprintf(allow + al, sizeof allow - al, "%s%s", al ? ", " : "", ep->method);
    }
    api_error e;
    if (path_known) {
        server_ex_add_header(ex, "Allow", allow);
        api_error_set(&e, 405, "invalid_request_error", "method_not_allowed", NULL,
                      "Method %s is not allowed on %s; use %s", ex->method, ex->path, allow);
    } else {
        api_error_set(&e, 404, "invalid_request_error", "not_found", NULL, "Unknown path %s", ex->path);
    }
    server_ex_reply_error(ex, &e);
    return NULL;
}

/* A request that came on a kept-alive connection after SIGTERM gets a 503;
 * health checks are still answered, so /readyz can say "draining". */
static bool refuse_if_draining(server_exchange *ex) {
    if (!ex->s->draining || ex->ep->open) return false;
    api_error e;
    api_error_set(&e, 503, "server_error", "shutting_down", NULL,
                  "The gateway is shutting down; send the request again, to another instance or later");
    server_ex_reply_error(ex, &e);
    return true;
}

/* Checks the client's key and counts the request against it; false after
 * replying 401 or 429.  Runs on the headers, before any body is read. */
static bool admit(server_exchange *ex) {
    api_error e;
    if (ex->ep->admin) {   /* issue 17: an admin key, never counted as a client's */
        const char *name;
        if (auth_admit_admin(ex->s->auth, server_ex_header(ex, "Authorization"), &name, &e) == 0) {
            snprintf(ex->client, sizeof ex->client, "%s", name);
            return true;
        }
        if (e.status == 401) server_ex_add_header(ex, "WWW-Authenticate", "Bearer");
        server_ex_reply_error(ex, &e);
        return false;
    }
    if (ex->ep->open || auth_admit(ex->s->auth, server_ex_header(ex, "Authorization"), &ex->key, &e) == 0) {
        if (ex->key >= 0) snprintf(ex->client, sizeof ex->client, "%s", auth_key_name(ex->s->auth, ex->key));
        return true;
    }
    if (e.status == 401) server_ex_add_header(ex, "WWW-Authenticate", "Bearer");
    server_ex_reply_error(ex, &e);
    return false;
}

static void dispatch(server_exchange *ex) {
    if (ex->too_large) {
        api_error e;
        api_error_set(&e, 413, "invalid_request_error", "request_too_large", NULL,
                      "Request body is larger than the limit of %zu bytes", ex->s->cfg->max_body_bytes);
        server_ex_reply_error(ex, &e);
        return;
    }
    exchange_to(ex, EX_HANDLING);
    ex->handled_us = evloop_clock_us();
    ex->ep->fn(ex, ex->ep->ctx);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls) {
    (void)version;
    server *s = cls;
    server_exchange *ex = *con_cls;
    if (!ex) {
        ex = exchange_new(s, conn, url, method);
        if (!ex) return MHD_NO;
        *con_cls = ex;
        /* Unknown paths and bad keys are refused before a byte of the body
         * is read (MHD closes the connection after), and so is a body too
         * large to linger over; one within the lingering bound is read and
         * thrown away first (the comment at the top). */
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        unsigned long long len = cl ? strtoull(cl, NULL, 10) : 0;
        ex->too_large = len > s->cfg->max_body_bytes;
        bool linger = ex->too_large && len <= s->cfg->max_body_bytes + SERVER_LINGER_BYTES &&
                      !MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
        if (!(ex->ep = route(ex)) || refuse_if_draining(ex) || !admit(ex) || (ex->too_large && !linger)) {
            if (ex->state == EX_RECEIVING) dispatch(ex);
            return ex->pending ? exchange_queue_pending(ex) : MHD_NO;
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!ex->too_large && !buf_append(&ex->body, upload_data, *upload_data_size, ex->s->cfg->max_body_bytes)) {
            ex->too_large = true;
            buf_free(&ex->body);
        }
        if (ex->too_large) ex->discarded += *upload_data_size;
        *upload_data_size = 0;
        if (ex->discarded <= ex->s->cfg->max_body_bytes + SERVER_LINGER_BYTES) return MHD_YES;
        /* Lingered long enough: the 413 now, and the connection closes. */
        if (ex->state == EX_RECEIVING) dispatch(ex);
        return ex->pending ? exchange_queue_pending(ex) : MHD_NO;
    }
    if (ex->state == EX_RECEIVING) {
        connguard_received(conn);
        dispatch(ex);
    }
    if (exchange_gone(ex)) return MHD_NO;
    if (ex->pending) return exchange_queue_pending(ex);
    if (ex->state == EX_HANDLING) exchange_suspend(ex);
    return MHD_YES;
}

/* ---- the daemon ---- */

static void on_mhd_ready(void *ud, uint32_t events) {
    (void)events;
    server *s = ud;
    s->need_run = false;
    MHD_run(s->daemon);
}

static void on_mhd_timer(void *ud) {
    server *s = ud;
    s->need_run = false;
    MHD_run(s->daemon);
}

/* Before every wait: run MHD if a connection was resumed, and arm its timer.
 * MHD often has more to do at once after a run (a stream's first event
 * after its headers, the end of a request after its answer); that is done
 * here too, a few times at most, rather than after one more turn of the
 * loop: the turn is an epoll_wait and a little latency on every answer's
 * way to the client. */
#define SERVER_MAX_RUNS_PER_WAIT 4

void server_before_wait(server *s) {
    MHD_UNSIGNED_LONG_LONG t = 0;
    bool due = s->need_run;
    for (int i = 0; due && i < SERVER_MAX_RUNS_PER_WAIT; i++) {
        s->need_run = false;
        MHD_run(s->daemon);
        due = s->need_run || (MHD_get_timeout(s->daemon, &t) == MHD_YES && t == 0);
    }
    if (MHD_get_timeout(s->daemon, &t) == MHD_YES)
        evloop_timer_start(s->loop, &s->mhd_timer, (uint64_t)t);
    else
        evloop_timer_stop(s->loop, &s->mhd_timer);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n') msg[--n] = '\0';
    cJSON *o = log_begin("warn", "http");
    if (o) cJSON_AddStringToObject(o, "detail", msg);
    log_end(o);
}

server *server_new(evloop *loop, const config *cfg, const server_endpoint *table, size_t n,
                   char *err, size_t errlen) {
    server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->loop = loop;
    s->cfg = cfg;
    s->table = table;
    s->ntable = n;
    if (getrandom(s->id_seed, sizeof s->id_seed, 0) != (ssize_t)sizeof s->id_seed || !(s->id_seed[0] | s->id_seed[1]))
        s->id_seed[0] = (uint64_t)evloop_clock_us() | 1;
    evloop_timer_init(&s->mhd_timer, on_mhd_timer, s);
    if (!(s->auth = auth_new(cfg)) || !(s->guard = connguard_new(loop, cfg->request_timeout_s))) {
        snprintf(err, errlen, "out of memory");
        goto err;
    }

    struct sockaddr_in sin = {0};
    struct sockaddr_in6 sin6 = {0};
    struct sockaddr *sa;
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (inet_pton(AF_INET, cfg->listen_host, &sin.sin_addr) == 1) {
        sin.sin_family = AF_INET;
        sin.sin_port = htons((uint16_t)cfg->listen_port);
        sa = (struct sockaddr *)&sin;
    } else if (inet_pton(AF_INET6, cfg->listen_host, &sin6.sin6_addr) == 1) {
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons((uint16_t)cfg->listen_port);
        sa = (struct sockaddr *)&sin6;
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(err, errlen, "listen: \"%s\" is not an IPv4 or IPv6 address", cfg->listen_host);
        goto err;
    }
    s->daemon = MHD_start_daemon(
        flags, (uint16_t)cfg->listen_port, NULL, NULL, on_access, s,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
        MHD_OPTION_SOCK_ADDR, sa,
        MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->client_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, cfg->max_header_bytes,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->max_connections_per_ip,
        MHD_OPTION_NOTIFY_CONNECTION, connguard_notify, s->guard,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_END);
    if (!s->daemon) {
        snprintf(err, errlen, "listen: cannot listen on %s:%d (address in use or not permitted)",
                 cfg->listen_host, cfg->listen_port);
        goto err;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : cfg->listen_port;
    di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    if (!di || evloop_io_add(loop, &s->mhd_io, di->epoll_fd, EPOLLIN, on_mhd_ready, s) < 0) {
        snprintf(err, errlen, "server: cannot watch the HTTP daemon");
        goto err;
    }
    return s;
err:
    if (s->daemon) MHD_stop_daemon(s->daemon);
    connguard_free(s->guard);
    auth_free(s->auth);
    free(s);
    return NULL;
}

int server_port(const server *s) { return s->port; }

void server_on_refused(server *s, void (*fn)(void *ud, int status), void *ud) {
    s->on_refused = fn;
    s->on_refused_ud = ud;
}

int server_reconfigure(server *s, const config *cfg) {
    auth *a = auth_new(cfg);
    if (!a) return -1;
    for (server_exchange *ex = s->exchanges; ex; ex = ex->next) {
        if (ex->key < 0) continue;
        auth_release(s->auth, ex->key);
        ex->key = auth_carry(a, ex->client);
    }
    auth_free(s->auth);
    s->auth = a;
    s->cfg = cfg;
    return 0;
}

void server_drain(server *s, void (*on_drained)(void *ud), void *ud) {
    s->draining = true;
    s->on_drained = on_drained;
    s->on_drained_ud = ud;
    /* In external-loop mode nothing else uses the listening socket. */
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET) close(fd);
    server_run_soon(s);
    if (!s->exchanges) on_drained(ud);
}

size_t server_cut_all(server *s) {
    size_t n = 0;
    api_error e;
    api_error_set(&e, 503, "server_error", "shutting_down", NULL,
                  "The gateway shut down before this request finished (drain deadline passed)");
    for (server_exchange *ex = s->exchanges; ex; ex = ex->next) {
        if (ex->state == EX_STREAMING) server_ex_stream_fail(ex, &e);
        else if (ex->state == EX_HANDLING) server_ex_reply_error(ex, &e);
        else continue;
        /* Its handler stops now (the job and its transfer cancelled, the
         * request accounted with the 503): nothing may arrive in the second
         * the sockets get, to open a stream or be charged. */
        exchange_close(ex, false);
        n++;
    }
    return n;
}

void server_free(server *s) {
    if (!s) return;
    s->on_drained = NULL;        /* tearing down is not "drained": nothing is logged or stopped */
    /* MHD refuses to stop with suspended connections: end and wake them all. */
    for (server_exchange *ex = s->exchanges; ex; ex = ex->next) exchange_abort(ex);
    MHD_run(s->daemon);
    evloop_io_del(s->loop, &s->mhd_io);
    evloop_timer_stop(s->loop, &s->mhd_timer);
    MHD_stop_daemon(s->daemon);
    while (s->exchanges) exchange_free(s->exchanges);
    connguard_free(s->guard);
    auth_free(s->auth);
    free(s);
}
