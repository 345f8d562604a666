/* exchange: see exchange.h.  A late reply is stored here as "pending" and
 * the connection resumed, because MHD only takes a response from inside its
 * access handler, which server.c calls exchange_queue_pending() from.  A
 * stream's bytes wait in out until MHD's reader asks for them; an empty
 * buffer suspends the connection and a write resumes it.
 *
 * Backpressure.  out is capped softly: a write is never refused (an event
 * must go whole), but once out holds SERVER_STREAM_CAP bytes the handler is
 * told to hold off, which pauses the upstream transfer, and told to go on
 * when the client has read out down to SERVER_STREAM_LOW.  The gap between
 * the two marks keeps a client that reads a little at a time from pausing
 * and resuming the transfer on every read.  A client that stops reading
 * altogether is MHD's connection timeout (limits.client_timeout_s): the
 * connection is not suspended while out holds bytes, so its idle time counts,
 * and its end closes the handler, which cancels the transfer.
 *
 * Out of memory.  One policy (docs/design.md, Concurrency): a request whose
 * answer cannot be built gets a 500, and every 500 (only the gateway's own
 * failures are 500s) closes its connection; a stream that has begun gets an
 * error event and its end; when not even that can be built, the connection
 * is closed (exchange_fail) and the request is logged as a 500.  Nothing is
 * left suspended waiting for an answer that will not come. */
#include "exchange.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "invariant.h"
#include "log.h"

static const char *const state_names[EX_STATES] = {
    [EX_RECEIVING] = "receiving", [EX_HANDLING] = "handling", [EX_PENDING] = "pending",
    [EX_REPLIED] = "replied", [EX_STREAMING] = "streaming", [EX_STREAM_ENDED] = "stream_ended",
    [EX_CLOSING] = "closing", [EX_ABORTED] = "aborted",
};

/* allowed[from] has bit `to` set for each move exchange.h's table allows. */
#define B(st) (1u << (st))
static const unsigned allowed[EX_STATES] = {
    [EX_RECEIVING] = B(EX_HANDLING) | B(EX_PENDING) | B(EX_CLOSING) | B(EX_ABORTED),
    [EX_HANDLING] = B(EX_PENDING) | B(EX_STREAMING) | B(EX_CLOSING) | B(EX_ABORTED),
    [EX_PENDING] = B(EX_REPLIED) | B(EX_CLOSING) | B(EX_ABORTED),
    [EX_REPLIED] = B(EX_ABORTED),
    [EX_STREAMING] = B(EX_STREAM_ENDED) | B(EX_CLOSING) | B(EX_ABORTED),
    [EX_STREAM_ENDED] = B(EX_CLOSING) | B(EX_ABORTED),
    [EX_CLOSING] = B(EX_ABORTED),
    [EX_ABORTED] = 0,
};
#undef B

void exchange_to(server_exchange *ex, exchange_state to) {
    INVARIANT(ex->state < EX_STATES && to < EX_STATES && (allowed[ex->state] & (1u << to)));
    if (log_debug_on()) log_state("exchange", ex->request_id, state_names[ex->state], state_names[to]);
    ex->state = to;
}

static uint64_t next_id(server *s) {
    /* xorshift128+: unique-looking ids without a syscall per request. */
    uint64_t a = s->id_seed[0], b = s->id_seed[1];
    s->id_seed[0] = b;
    a ^= a << 23;
    s->id_seed[1] = a ^ b ^ (a >> 17) ^ (b >> 26);
    return s->id_seed[1] + b;
}

void exchange_close(server_exchange *ex, bool client_gone) {
    void (*fn)(void *, bool) = ex->on_close;
    ex->on_close = NULL;
    ex->on_pressure = NULL;             /* the handler is gone; a cut stream still drains */
    if (fn) fn(ex->on_close_ud, client_gone);
}

static void unwatch(server_exchange *ex) {
    if (!ex->watching) return;
    connguard_off_hangup(ex->conn);
    ex->watching = false;
}

static void on_client_hup(void *ud) { exchange_abort(ud); }

void exchange_suspend(server_exchange *ex) {
    INVARIANT(!ex->suspended);
    MHD_suspend_connection(ex->conn);
    ex->suspended = true;
    if (!ex->watching) ex->watching = connguard_on_hangup(ex->conn, on_client_hup, ex);
}

void exchange_resume(server_exchange *ex) {
    if (!ex->suspended) return;
    unwatch(ex);
    ex->suspended = false;
    MHD_resume_connection(ex->conn);
    server_run_soon(ex->s);
}

void exchange_abort(server_exchange *ex) {
    if (ex->state != EX_ABORTED) exchange_to(ex, EX_ABORTED);
    exchange_close(ex, true);
    exchange_resume(ex);
}

void exchange_fail(server_exchange *ex) {
    if (exchange_gone(ex)) return;
    exchange_to(ex, EX_CLOSING);
    ex->status = 500;
    if (!ex->replied_us) ex->replied_us = evloop_clock_us();
    exchange_resume(ex);
}

static void add_common_headers(server_exchange *ex, struct MHD_Response *r) {
    char score[32];
    snprintf(score, sizeof score, "%.3f", ex->score);
    MHD_add_response_header(r, "X-Request-Id", ex->request_id);
    MHD_add_response_header(r, "X-Tiergate-Tier", ex->tier);
    MHD_add_response_header(r, "X-Tiergate-Backend", ex->backend);
    MHD_add_response_header(r, "X-Tiergate-Reason", ex->reason);
    MHD_add_response_header(r, "X-Tiergate-Score", score);
    for (size_t i = 0; i < ex->nextra; i++)
        MHD_add_response_header(r, ex->extra[i].name, ex->extra[i].value);
    /* A draining gateway must not keep a connection that would bring more work. */
    if (ex->s->draining) MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
}

/* Stores r to be queued by the access handler, waking the connection; the
 * exchange moves to `to` (PENDING, or STREAMING). */
static void set_pending(server_exchange *ex, struct MHD_Response *r, int status, exchange_state to) {
    INVARIANT(!ex->pending);
    exchange_to(ex, to);
    ex->replied_us = evloop_clock_us();
    ex->pending = r;
    ex->status = status;
    exchange_resume(ex);
}

enum MHD_Result exchange_queue_pending(server_exchange *ex) {
    struct MHD_Response *r = ex->pending;
    ex->pending = NULL;
    if (ex->state == EX_PENDING) exchange_to(ex, EX_REPLIED);
    enum MHD_Result ret = MHD_queue_response(ex->conn, (unsigned)ex->status, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---- exchanges ---- */

server_exchange *exchange_new(server *s, struct MHD_Connection *conn, const char *url, const char *method) {
    server_exchange *ex = calloc(1, sizeof *ex);
    if (!ex) return NULL;
    ex->path = strdup(url);
    if (!ex->path) {
        free(ex);
        return NULL;
    }
    ex->s = s;
    ex->conn = conn;
    snprintf(ex->method, sizeof ex->method, "%s", method);
    snprintf(ex->request_id, sizeof ex->request_id, "req_%016llx", (unsigned long long)next_id(s));
    ex->started_us = evloop_clock_us();
    ex->key = -1;
    strcpy(ex->tier, "none");
    strcpy(ex->backend, "none");
    strcpy(ex->reason, "none");
    ex->next = s->exchanges;
    if (s->exchanges) s->exchanges->prev = ex;
    s->exchanges = ex;
    return ex;
}

static void field_str(jsonout_text *t, const char *key, const char *v) {
    jsonout_key(t, key);
    jsonout_string(t, v);
}

static void field_int(jsonout_text *t, const char *key, long long v) {
    jsonout_key(t, key);
    jsonout_int(t, v);
}

static void field_milli(jsonout_text *t, const char *key, long long v) {
    jsonout_key(t, key);
    jsonout_milli(t, v);
}

void exchange_log(server_exchange *ex, bool client_gone) {
    jsonout_text *t = log_request_begin();
    field_str(t, "request_id", ex->request_id);
    field_str(t, "method", ex->method);
    field_str(t, "path", ex->path);
    field_int(t, "status", ex->status);
    field_str(t, "tier", ex->tier);
    field_str(t, "backend", ex->backend);
    field_str(t, "reason", ex->reason);
    field_milli(t, "score", (long long)(ex->score * 1000.0 + 0.5));
    field_milli(t, "latency_ms", (long long)(evloop_clock_us() - ex->started_us));
    if (ex->client[0]) field_str(t, "client", ex->client);
    if (client_gone) {
        jsonout_key(t, "client_gone");
        jsonout_put(t, "true", 4);
    }
    if (ex->logfields.failed) t->failed = true;
    jsonout_put(t, ex->logfields.p, ex->logfields.n);
    log_request_end();
}

void exchange_free(server_exchange *ex) {
    server *s = ex->s;
    unwatch(ex);
    if (ex->key >= 0) auth_release(s->auth, ex->key);
    if (ex->pending) MHD_destroy_response(ex->pending);
    for (size_t i = 0; i < ex->nextra; i++) {
        free(ex->extra[i].name);
        free(ex->extra[i].value);
    }
    jsonout_text_free(&ex->logfields);
    if (ex->prev) ex->prev->next = ex->next; else s->exchanges = ex->next;
    if (ex->next) ex->next->prev = ex->prev;
    buf_free(&ex->out);
    buf_free(&ex->body);
    free(ex->path);
    free(ex);
    if (s->draining && !s->exchanges && s->on_drained) s->on_drained(s->on_drained_ud);
}

/* ---- streaming ---- */

/* Tells the handler to hold off or to go on, once per crossing. */
static void pressure(server_exchange *ex, bool hold_off) {
    if (ex->held_off == hold_off) return;
    ex->held_off = hold_off;
    if (ex->on_pressure) ex->on_pressure(ex->on_pressure_ud, hold_off);
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *out, size_t max) {
    (void)pos;
    server_exchange *ex = cls;
    if (exchange_gone(ex)) return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t n = buf_take(&ex->out, out, max);
    if (ex->held_off && ex->out.len - ex->out.off <= SERVER_STREAM_LOW) pressure(ex, false);
    if (n) return (ssize_t)n;
    if (ex->state == EX_STREAM_ENDED) return MHD_CONTENT_READER_END_OF_STREAM;
    exchange_suspend(ex);
    return 0;
}

int server_ex_stream_begin(server_exchange *ex) {
    if (exchange_gone(ex)) return -1;
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SERVER_STREAM_BLOCK, stream_reader, ex, NULL);
    if (!r) {
        exchange_fail(ex);
        return -1;
    }
    add_common_headers(ex, r);
    MHD_add_response_header(r, "Content-Type", "text/event-stream; charset=utf-8");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    set_pending(ex, r, 200, EX_STREAMING);
    return 0;
}

int server_ex_stream_write(server_exchange *ex, const char *data, size_t len) {
    if (exchange_gone(ex)) return -1;
    INVARIANT(ex->state == EX_STREAMING);
    if (!buf_append(&ex->out, data, len, 0)) {
        /* Part of the answer is lost: the client must not take the rest for
         * whole, so the connection ends without the stream's end. */
        exchange_fail(ex);
        return -1;
    }
    if (ex->out.len - ex->out.off >= SERVER_STREAM_CAP) pressure(ex, true);
    exchange_resume(ex);
    return 0;
}

void server_ex_stream_end(server_exchange *ex) {
    if (exchange_gone(ex)) return;
    exchange_to(ex, EX_STREAM_ENDED);
    exchange_resume(ex);
}

void server_ex_stream_fail(server_exchange *ex, const api_error *e) {
    size_t n;
    char *ev = api_error_sse(e, &n);
    if (!ev) {
        exchange_fail(ex);
        return;
    }
    int rc = server_ex_stream_write(ex, ev, n);
    free(ev);
    if (rc == 0) server_ex_stream_end(ex);
}

void server_ex_on_pressure(server_exchange *ex, void (*fn)(void *ud, bool hold_off), void *ud) {
    ex->on_pressure = fn;
    ex->on_pressure_ud = ud;
}

/* ---- replies ---- */

void server_ex_reply(server_exchange *ex, int status, const char *content_type, char *body, size_t len) {
    if (exchange_gone(ex)) {
        free(body);
        return;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        exchange_fail(ex);
        return;
    }
    add_common_headers(ex, r);
    MHD_add_response_header(r, "Content-Type", content_type);
    if (status == 500 && !ex->s->draining) MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    set_pending(ex, r, status, EX_PENDING);
}

void server_ex_reply_error(server_exchange *ex, const api_error *e) {
    size_t len;
    char *body = api_error_json(e, &len);
    if (!body) {
        exchange_fail(ex);
        return;
    }
    bool after = false;
    for (size_t i = 0; i < ex->nextra && !after; i++) after = strcasecmp(ex->extra[i].name, "Retry-After") == 0;
    if ((e->status == 503 || e->status == 429) && !after) server_ex_add_header(ex, "Retry-After", "1");
    server_ex_reply(ex, e->status, "application/json", body, len);
}

void server_ex_fail_oom(server_exchange *ex) {
    api_error e;
    api_error_set(&e, 500, "server_error", NULL, NULL, "out of memory");
    if (ex->state == EX_STREAMING) server_ex_stream_fail(ex, &e);
    else if (ex->state == EX_RECEIVING || ex->state == EX_HANDLING) server_ex_reply_error(ex, &e);
}

void server_ex_add_header(server_exchange *ex, const char *name, const char *value) {
    if (ex->nextra == SERVER_MAX_EXTRA_HEADERS) return;
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return;
    }
    ex->extra[ex->nextra].name = n;
    ex->extra[ex->nextra].value = v;
    ex->nextra++;
}

/* ---- request accessors ---- */

const char *server_ex_path(const server_exchange *ex) { return ex->path; }
const char *server_ex_query(const server_exchange *ex, const char *name) {
    return MHD_lookup_connection_value(ex->conn, MHD_GET_ARGUMENT_KIND, name);
}

typedef struct query_check {
    const char *const *known;
    const char *bad;
} query_check;

static enum MHD_Result check_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    (void)kind;
    query_check *q = cls;
    bool known = false;
    for (size_t i = 0; q->known[i] && !known; i++) known = strcmp(key, q->known[i]) == 0;
    if (known && value) return MHD_YES;
    q->bad = key;
    return MHD_NO;
}

const char *server_ex_query_unknown(const server_exchange *ex, const char *const *known) {
    query_check q = {known, NULL};
    MHD_get_connection_values(ex->conn, MHD_GET_ARGUMENT_KIND, check_arg, &q);
    return q.bad;
}
const char *server_ex_request_id(const server_exchange *ex) { return ex->request_id; }
const char *server_ex_client(const server_exchange *ex) { return ex->client; }
int server_ex_status(const server_exchange *ex) { return ex->status; }

server_ex_times server_ex_timing(const server_exchange *ex) {
    return (server_ex_times){ex->started_us, ex->handled_us, ex->replied_us};
}

const char *server_ex_header(const server_exchange *ex, const char *name) {
    return MHD_lookup_connection_value(ex->conn, MHD_HEADER_KIND, name);
}

const char *server_ex_body(const server_exchange *ex, size_t *len) {
    return buf_data(&ex->body, len);
}

/* snprintf(dst, cap, "%s", src) without the format machinery: this runs
 * twice per request. */
static void copy_cut(char *dst, size_t cap, const char *src) {
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void server_ex_set_route(server_exchange *ex, const char *tier, const char *backend,
                         const char *reason, double score) {
    copy_cut(ex->tier, sizeof ex->tier, tier);
    copy_cut(ex->backend, sizeof ex->backend, backend);
    copy_cut(ex->reason, sizeof ex->reason, reason);
    ex->score = score;
}

void server_ex_log_int(server_exchange *ex, const char *key, long long v) { field_int(&ex->logfields, key, v); }

void server_ex_log_str(server_exchange *ex, const char *key, const char *v) { field_str(&ex->logfields, key, v); }

void server_ex_log_ms(server_exchange *ex, const char *key, unsigned long long us) {
    field_milli(&ex->logfields, key, (long long)us);
}

void server_ex_log_raw(server_exchange *ex, const char *key, const char *json) {
    jsonout_key(&ex->logfields, key);
    jsonout_put(&ex->logfields, json, strlen(json));
}

void server_ex_log_json(server_exchange *ex, const char *key, const cJSON *v) {
    jsonout_key(&ex->logfields, key);
    if (v) jsonout_value(&ex->logfields, v);
    else jsonout_put(&ex->logfields, "null", 4);
}

void server_ex_on_close(server_exchange *ex, void (*fn)(void *ud, bool client_gone), void *ud) {
    ex->on_close = fn;
    ex->on_close_ud = ud;
}
