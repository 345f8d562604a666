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

struct server_exchange {
    server *s;
    struct MHD_Connection *conn;
    const server_endpoint *ep;
    char method[16];
    char *path;
    char request_id[32];
    unsigned long long started_us, handled_us, replied_us;
    buf body;
    bool too_large, handled, suspended, aborted, queued, streaming, stream_ended;
    bool cut;                           /* ended by the drain deadline; the handler's later writes are dropped */
    struct MHD_Response *pending;
    int status;
    buf out;                            /* stream bytes not yet given to MHD */
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
/* Hands the stored response to MHD (only from the access handler). */
enum MHD_Result exchange_queue_pending(server_exchange *ex);

#endif
