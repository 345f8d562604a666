/* exchange: one request and its response, as the server keeps them.
 *
 * Internal to the server: server.c runs the daemon, admits each request and
 * routes it; exchange.c is the request's own side, which handlers drive
 * through server.h's server_ex_* functions (the request, the reply or the
 * stream, headers, log fields) and the suspend / resume dance with MHD that
 * lets a reply come late.  The two files share the structs below, and
 * nothing else includes this header: handlers see only server.h. */
#ifndef TIERGATE_EXCHANGE_H
#define TIERGATE_EXCHANGE_H

#include <microhttpd.h>
#include <stdint.h>

#include "auth.h"
#include "buf.h"
#include "connguard.h"
#include "evloop.h"
#include "jsonout.h"
#include "server.h"

struct cJSON;

#define SERVER_MAX_EXTRA_HEADERS 8
#define SERVER_STREAM_BLOCK 4096
/* An over-limit body is read and thrown away up to this many bytes past
 * limits.max_body_bytes before its 413 (lingering, server.c). */
#define SERVER_LINGER_BYTES (4u << 20)
/* A stream's bytes waiting for a slow client: at the cap the handler is told
 * to hold off (the upstream transfer pauses), below the low mark to go on. */
#define SERVER_STREAM_CAP (32u * 1024)
#define SERVER_STREAM_LOW (8u * 1024)

/* An exchange's life, one state at a time; exchange_to() is the only place
 * that changes it and refuses (INVARIANT) a move the table does not allow:
 *
 *   RECEIVING ──▶ HANDLING ──▶ PENDING ──▶ REPLIED
 *       │            │
 *       │            └──▶ STREAMING ──▶ STREAM_ENDED
 *       └──▶ PENDING (refused before the body: 401, 404, 405, 413, 429, 503)
 *
 * and from every state but the last two: CLOSING (no response could be
 * made: out of memory; the connection is closed, logged as a 500) and
 * ABORTED (the client hung up, or the server stops).  In ABORTED and CLOSING
 * the handler's writes are dropped.  A stream's response waits in pending
 * until the access handler queues it, like a reply's; suspension (MHD's
 * view of the connection) is orthogonal and kept in suspended. */
typedef enum {
    EX_RECEIVING,       /* headers in, the body arriving; no handler yet */
    EX_HANDLING,        /* the handler has it and has not answered */
    EX_PENDING,         /* a whole response stored for the access handler */
    EX_REPLIED,         /* the response is MHD's */
    EX_STREAMING,       /* a stream; the handler writes to out */
    EX_STREAM_ENDED,    /* the handler's last byte is in out */
    EX_CLOSING,         /* no response could be made: the connection is closed */
    EX_ABORTED,         /* the client hung up, or the server stops */
    EX_STATES
} exchange_state;

struct server_exchange {
    server *s;
    struct MHD_Connection *conn;
    const server_endpoint *ep;
    char method[16];
    char *path;
    char request_id[32];
    unsigned long long started_us, handled_us, replied_us;
    buf body;
    exchange_state state;
    bool too_large, suspended;
    size_t discarded;                   /* bytes of an over-limit body thrown away */
    bool held_off;                      /* the handler was told to hold off (out at the cap) */
    struct MHD_Response *pending;
    int status;
    buf out;                            /* stream bytes not yet given to MHD */
    void (*on_pressure)(void *ud, bool hold_off);
    void *on_pressure_ud;
    char tier[16], backend[64], reason[32];
    char client[AUTH_MAX_NAME + 1];     /* the key's name; "" without auth */
    int key;                            /* counted in flight for this key, or -1 */
    double score;
    struct { char *name, *value; } extra[SERVER_MAX_EXTRA_HEADERS];
    size_t nextra;
    jsonout_text logfields;             /* ,"key":value... for the log line */
    void (*on_close)(void *ud, bool client_gone);
    void *on_close_ud;
    bool watching;                      /* connguard reports a hang-up */
    server_exchange *prev, *next;
};

struct server {
    evloop *loop;
    const config *cfg;
    const server_endpoint *table;
    size_t ntable;
    struct MHD_Daemon *daemon;
    auth *auth;
    connguard *guard;
    evloop_io mhd_io;
    evloop_timer mhd_timer;
    bool need_run;
    int port;
    server_exchange *exchanges;
    uint64_t id_seed[2];
    bool draining;
    void (*on_drained)(void *ud);
    void *on_drained_ud;
    void (*on_refused)(void *ud, int status);
    void *on_refused_ud;
};

/* MHD is run again before the loop next waits. */
static inline void server_run_soon(server *s) { s->need_run = true; }

/* Moves ex to state to, logging the change at debug level; a move the
 * table above does not allow stops the process (INVARIANT). */
void exchange_to(server_exchange *ex, exchange_state to);
/* The handler's writes are dropped (ABORTED, CLOSING). */
static inline bool exchange_gone(const server_exchange *ex) {
    return ex->state == EX_ABORTED || ex->state == EX_CLOSING;
}

/* A new exchange for a request MHD has just begun, linked into s's list;
 * NULL when out of memory. */
server_exchange *exchange_new(server *s, struct MHD_Connection *conn, const char *url, const char *method);
/* Unlinks and frees ex; the last one gone while draining calls on_drained. */
void exchange_free(server_exchange *ex);
/* Runs the handler's on_close once (later calls do nothing). */
void exchange_close(server_exchange *ex, bool client_gone);
/* The request's log line (log_request_begin). */
void exchange_log(server_exchange *ex, bool client_gone);
/* MHD stops serving the connection until exchange_resume; meanwhile
 * connguard reports a client that hangs up. */
void exchange_suspend(server_exchange *ex);
void exchange_resume(server_exchange *ex);
/* The exchange ends without its answer (the client hung up, or the server
 * stops): on_close runs with client_gone, the handler's later writes are
 * dropped, and a suspended connection is woken so that MHD ends it. */
void exchange_abort(server_exchange *ex);
/* No response can be made (out of memory): the connection is closed and
 * the request logged as a 500; the handler's later writes are dropped. */
void exchange_fail(server_exchange *ex);
/* Hands the stored response to MHD (only from the access handler). */
enum MHD_Result exchange_queue_pending(server_exchange *ex);

#endif
