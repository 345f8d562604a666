/* upstream: HTTP transfers to backends, driven by the event loop.
 *
 * A thin layer over libcurl's multi-socket interface: every transfer's sockets
 * and curl's own timer are watched by the gateway's evloop, so a thousand
 * streaming transfers need no thread of their own.  Connections are reused
 * through the multi handle's connection cache.  Four separate time limits
 * apply to each transfer: connect, first byte (from the start), idle (between
 * bytes, after the first), and total.
 *
 * upstream knows nothing of routing or of OpenAI: it moves bytes and reports
 * what happened.  Callbacks run on the loop thread.  on_headers and on_data
 * may not start or cancel transfers (libcurl forbids re-entry); they return
 * non-zero to abort their own transfer instead.  on_done runs outside libcurl
 * and may do anything, including starting the next transfer. */
#ifndef TIERGATE_UPSTREAM_H
#define TIERGATE_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>

struct evloop;

typedef struct upstream upstream;
typedef struct upstream_xfer upstream_xfer;

typedef enum {
    UPSTREAM_OK = 0,                 /* a complete HTTP response, any status */
    UPSTREAM_ERR_CONNECT,            /* refused, unreachable, unresolvable */
    UPSTREAM_ERR_CONNECT_TIMEOUT,
    UPSTREAM_ERR_FIRST_BYTE_TIMEOUT,
    UPSTREAM_ERR_IDLE_TIMEOUT,
    UPSTREAM_ERR_TOTAL_TIMEOUT,
    UPSTREAM_ERR_CUT,                /* connection lost before the response ended */
    UPSTREAM_ERR_ABORTED,            /* a callback returned non-zero */
    UPSTREAM_ERR_OTHER
} upstream_result;

/* How a transfer ended, with the timings the gateway learns the network
 * from.  Times are milliseconds from the start of the transfer; -1 means the
 * moment never came (no new connection was made, no byte arrived). */
typedef struct upstream_report {
    upstream_result res;
    long status;             /* HTTP status, 0 before the status line */
    const char *detail;      /* short human-readable reason ("connection refused") */
    int connect_ms;          /* a new connection's set-up time */
    int first_byte_ms;       /* first byte of the response */
    int retry_after_ms;      /* from Retry-After or retry-after-ms, or -1 */
} upstream_report;

typedef struct upstream_callbacks {
    /* The final status line and headers have arrived. */
    int (*on_headers)(void *ud, long status, const char *content_type);
    int (*on_data)(void *ud, const char *data, size_t len);
    /* Called exactly once per transfer unless upstream_cancel() came first;
     * r is valid only during the call. */
    void (*on_done)(void *ud, const upstream_report *r);
} upstream_callbacks;

typedef struct upstream_request {
    const char *url;
    const char *body;        /* POST body (copied); NULL means GET */
    size_t body_len;
    const char *bearer;      /* API key for "Authorization: Bearer", or NULL */
    const char *ca_file;     /* CA bundle to verify https with; NULL = the system's */
    bool insecure;           /* skip certificate and host name verification */
    bool accept_sse;
    int connect_ms, first_byte_ms, idle_ms, total_ms;   /* 0 = no limit */
} upstream_request;

/* Transfers driven by loop (its sockets and curl's timer); NULL when out
 * of memory. */
upstream *upstream_new(struct evloop *loop);
/* Cancels every transfer still running (no callbacks), then frees. */
void upstream_free(upstream *u);

/* Starts a transfer; NULL when it could not even be set up (out of memory). */
upstream_xfer *upstream_start(upstream *u, const upstream_request *req,
                              const upstream_callbacks *cb, void *ud);
/* Stops a transfer at once; its callbacks are not called again. */
void upstream_cancel(upstream_xfer *x);
/* Backpressure: a paused transfer reads nothing more from its backend (the
 * bytes libcurl already holds wait for the resume) and its idle limit does
 * not run while paused; its total limit does.  Pausing takes effect before
 * the next on_data; resuming a turn of the loop later, outside libcurl. */
void upstream_pause(upstream_xfer *x, bool paused);

/* The calls an attempt makes, as a table: the one seam under attempt and
 * dispatch, so that a unit test can put scripted transfers in their place
 * and drive every path without sockets (tests/unit/test_dispatch.c).  ctx
 * is the first argument of each. */
typedef struct upstream_ops {
    upstream_xfer *(*start)(void *ctx, const upstream_request *req, const upstream_callbacks *cb, void *ud);
    void (*cancel)(void *ctx, upstream_xfer *x);
    void (*pause)(void *ctx, upstream_xfer *x, bool paused);
    void *ctx;
} upstream_ops;

/* The table of the real transfers of u. */
upstream_ops upstream_ops_of(upstream *u);

bool upstream_result_is_timeout(upstream_result r);

#endif
