/* server: the HTTP side facing clients, on libmicrohttpd.
 *
 * The server accepts connections, enforces the limits (body size, header
 * size, connections in total and per address, idle and slow clients), checks
 * client keys (auth.h) on every endpoint not marked open, collects each request body, routes the request by
 * method and path to an endpoint handler, and writes every response with the
 * headers a client can rely on (X-Request-Id and the X-Tiergate-* decision).
 *
 * A handler gets a server_exchange: one request and its response.  It may
 * reply at once, or return and reply later from any loop callback (the
 * connection is suspended meanwhile and costs no CPU), or begin a stream and
 * write to it as bytes arrive.  When the exchange ends, for whatever reason
 * (response sent, client gone), the on_close callback runs exactly once;
 * after that the handler must not touch the exchange again. */
#ifndef TIERGATE_SERVER_H
#define TIERGATE_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "apierror.h"
#include "config.h"

struct cJSON;
struct evloop;

typedef struct server server;
typedef struct server_exchange server_exchange;

typedef void (*server_handler_fn)(server_exchange *ex, void *ctx);

typedef struct server_endpoint {
    const char *method;        /* "GET", "POST" */
    const char *path;          /* exact path, or a prefix when it ends in '/' */
    server_handler_fn fn;
    void *ctx;
    bool open;                 /* served without a client key (health checks) */
    bool admin;                /* needs an admin key (auth.h); absent (404) when none is configured */
} server_endpoint;

/* Starts listening on cfg's address (port 0 picks a free port).  The table is
 * borrowed and must outlive the server.  Returns NULL with err filled. */
server *server_new(struct evloop *loop, const config *cfg, const server_endpoint *table,
                   size_t nendpoints, char *err, size_t errlen);
/* Closes the listening socket and every connection. */
void server_free(server *s);
/* fn(ud, status) runs once for each request the server answers itself,
 * before any handler: 401 and 429 (auth), 404 and 405 (routing), 413 (body
 * size), 503 (draining).  main counts them in the metrics. */
void server_on_refused(server *s, void (*fn)(void *ud, int status), void *ud);
int server_port(const server *s);
/* The server's part of the work before the loop waits (main.c's
 * before-wait): runs MHD for the connections resumed this round, a few
 * times while it has more to do at once, and arms MHD's timer. */
void server_before_wait(server *s);
/* A reload: requests from now on are checked against cfg (keys, body limit);
 * requests in flight keep their place under their key's name.  The listening
 * address and the connection limits stay as they were started (see
 * config_restart_fields).  -1 when out of memory (nothing changed). */
int server_reconfigure(server *s, const config *cfg);
/* SIGTERM: closes the listening socket, answers new requests on open
 * connections with 503 (health checks excepted) and closes each connection
 * after its response; on_drained(ud) runs when no request is left, at once
 * if none is. */
void server_drain(server *s, void (*on_drained)(void *ud), void *ud);
/* The drain deadline: every request still waiting for its answer gets a 503,
 * every open stream an error event and its end; what the handlers write
 * after that is dropped.  Returns how many were cut. */
size_t server_cut_all(server *s);

/* ---- the request ---- */
const char *server_ex_path(const server_exchange *ex);
/* A query-string argument ("?key=NAME"), decoded; NULL when absent. */
const char *server_ex_query(const server_exchange *ex, const char *name);
/* The first query-string argument whose name is not in known (a
 * NULL-terminated list) or that has no value ("?key"), or NULL when there
 * is none: an endpoint refuses what it does not understand. */
const char *server_ex_query_unknown(const server_exchange *ex, const char *const *known);
/* Case-insensitive request header lookup; NULL when absent. */
const char *server_ex_header(const server_exchange *ex, const char *name);
const char *server_ex_body(const server_exchange *ex, size_t *len);
const char *server_ex_request_id(const server_exchange *ex);
/* The name of the client key the request presented; "" without auth. */
const char *server_ex_client(const server_exchange *ex);

/* Moments of the exchange in monotonic microseconds (evloop_clock_us): its
 * headers arrived, its body was complete and the handler was called, its
 * response or stream was handed to the connection; 0 for one not come yet. */
typedef struct server_ex_times {
    unsigned long long arrived_us, handled_us, replied_us;
} server_ex_times;
server_ex_times server_ex_timing(const server_exchange *ex);
/* The status of the response given, 0 before one was. */
int server_ex_status(const server_exchange *ex);

/* ---- the decision, sent as X-Tiergate-* on every response ---- */
void server_ex_set_route(server_exchange *ex, const char *tier, const char *backend,
                         const char *reason, double score);
/* Extra fields for the exchange's log line, rendered at once (nothing the
 * arguments point to is kept). */
void server_ex_log_int(server_exchange *ex, const char *key, long long v);
void server_ex_log_str(server_exchange *ex, const char *key, const char *v);
/* us microseconds, as milliseconds with three decimals. */
void server_ex_log_ms(server_exchange *ex, const char *key, unsigned long long us);
/* json is JSON text the caller vouches for ("true", a formatted number). */
void server_ex_log_raw(server_exchange *ex, const char *key, const char *json);
/* v's JSON text (NULL: null). */
void server_ex_log_json(server_exchange *ex, const char *key, const struct cJSON *v);

/* ---- replying ---- */
/* body is malloc'd and owned by the server from now on. */
void server_ex_reply(server_exchange *ex, int status, const char *content_type,
                     char *body, size_t len);
void server_ex_reply_error(server_exchange *ex, const api_error *e);
/* Adds a header to the coming response (before reply or stream_begin). */
void server_ex_add_header(server_exchange *ex, const char *name, const char *value);

/* Starts a chunked text/event-stream response with status 200. */
int server_ex_stream_begin(server_exchange *ex);
/* Queues bytes for the client; returns -1 if the client is gone. */
int server_ex_stream_write(server_exchange *ex, const char *data, size_t len);
void server_ex_stream_end(server_exchange *ex);
/* Ends a stream that cannot finish: e as an error event the SDKs raise,
 * then the end (no [DONE], so no client takes the answer for whole). */
void server_ex_stream_fail(server_exchange *ex, const api_error *e);

/* Backpressure: fn(ud, true) when the stream's bytes waiting for the client
 * reach their cap (hold off: pause the source), fn(ud, false) when the
 * client has read them down again (go on).  Writes are never refused. */
void server_ex_on_pressure(server_exchange *ex, void (*fn)(void *ud, bool hold_off), void *ud);

/* The one out-of-memory policy: a 500 (with Connection: close) when nothing
 * was sent yet, an error event and the end when a stream has begun; when
 * not even that can be made, the connection is closed and the request logged
 * as a 500.  Nothing is done when the answer was already complete. */
void server_ex_fail_oom(server_exchange *ex);

/* fn(ud, client_gone) runs once when the exchange is over. */
void server_ex_on_close(server_exchange *ex, void (*fn)(void *ud, bool client_gone), void *ud);

#endif
