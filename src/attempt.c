/* attempt: send, read, judge.
 *
 * The judgement is the same for streams and plain answers up to commitment:
 * nothing reaches the caller's client-facing hooks until a backend produced a
 * complete valid response or a first valid chunk, so until then every failure
 * is invisible to the client and the caller is free to try elsewhere.
 *
 * Failures found inside libcurl's callbacks (a malformed chunk, an error
 * event, an oversized event) are only recorded there, and the transfer is
 * aborted; the end is reported from upstream's on_done, which runs outside
 * libcurl, so the caller may start the next attempt from its on_end.
 *
 * Ends of streams.  A stream with a finish_reason but no [DONE] is complete,
 * and one with neither is cut: that is the only way to tell them apart when a
 * backend closes cleanly in the middle (Ollama does, on a mid-stream error).
 * A backend that sends its finish_reason and then neither [DONE] nor a close
 * would hold the client until the idle limit; once a finish_reason has been
 * seen, ATTEMPT_DONE_GRACE_MS of silence ends the stream normally.
 *
 * States.  An attempt is in one state at a time (attempt_state below) and
 * attempt_to() is the only place that changes it, refusing a move the table
 * does not allow (INVARIANT) and naming each change in the debug log.  One
 * state rather than flags for committed, [DONE] seen, finish seen and
 * broken: flags can combine into a state that cannot happen, one state
 * cannot.
 *
 * Continuations (issue 15).  An attempt started with a prefix asks its
 * backend to continue it (dialect_continue_body) and passes its first
 * chunks through a seam (seam.h) in state JOINING: a backend that starts
 * over fails the attempt before anything reached the caller, like any
 * failure before commitment, so the caller can try another or end the
 * stream cleanly.
 *
 * A malformed event after commitment (a data line that is not JSON) is
 * skipped and counted (attempt_result.malformed): one bad line in a long
 * answer says nothing about the rest, and the stream's end still tells
 * whether the answer is whole.  Before commitment it fails the attempt,
 * which costs nothing to retry.
 *
 * Which failures are retryable on the same backend: a connection lost before
 * any header (a restart, a reset keep-alive connection) and 500/502/503.
 * Refused connections and time-outs are not: the backend is not there or not
 * keeping up, and another tier is the better use of the time left.  A 429 is
 * retried only as its Retry-After allows, which the caller decides. */
#include "attempt.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dialect.h"
#include "evloop.h"
#include "invariant.h"
#include "log.h"
#include "seam.h"
#include "sse.h"

#define ATTEMPT_MAX_BODY (16u << 20)
#define ATTEMPT_MAX_EVENT (4u << 20)
#define ATTEMPT_DONE_GRACE_MS 500
#define ATTEMPT_SLICE 256

/* The moves (allowed[] below):
 *   SENDING → RECEIVING → COMMITTED → FINISHING → COMPLETE, and COMMITTED → COMPLETE;
 *   a continuation: RECEIVING → JOINING → COMMITTED;
 *   SENDING, RECEIVING, JOINING → FAILED (a failure before commitment);
 *   COMMITTED, FINISHING → BROKEN (a failure after it);
 *   every state but ENDED → ENDED (on_end has run). */
typedef enum {
    AT_SENDING,       /* the request is out; no status yet */
    AT_RECEIVING,     /* the status came; nothing passed to the caller yet */
    AT_JOINING,       /* a continuation's first chunks wait for the seam's verdict */
    AT_COMMITTED,     /* the answer, or the stream's first valid chunk, went to the caller */
    AT_FINISHING,     /* a finish_reason came: a usage chunk may follow, silence ends it */
    AT_COMPLETE,      /* [DONE] came after commitment: what follows is ignored */
    AT_FAILED,        /* a failure before commitment was found; why says which */
    AT_BROKEN,        /* a failure after commitment was found; why says which */
    AT_ENDED,         /* on_end ran */
    AT_STATES
} attempt_state;

static const char *const state_names[AT_STATES] = {
    [AT_SENDING] = "sending", [AT_RECEIVING] = "receiving", [AT_JOINING] = "joining", [AT_COMMITTED] = "committed",
    [AT_FINISHING] = "finishing", [AT_COMPLETE] = "complete", [AT_FAILED] = "failed",
    [AT_BROKEN] = "broken", [AT_ENDED] = "ended",
};

#define B(st) (1u << (st))
static const unsigned allowed[AT_STATES] = {
    [AT_SENDING] = B(AT_RECEIVING) | B(AT_FAILED) | B(AT_ENDED),
    [AT_RECEIVING] = B(AT_JOINING) | B(AT_COMMITTED) | B(AT_FAILED) | B(AT_ENDED),
    [AT_JOINING] = B(AT_COMMITTED) | B(AT_FAILED) | B(AT_ENDED),
    [AT_COMMITTED] = B(AT_FINISHING) | B(AT_COMPLETE) | B(AT_BROKEN) | B(AT_ENDED),
    [AT_FINISHING] = B(AT_COMPLETE) | B(AT_BROKEN) | B(AT_ENDED),
    [AT_COMPLETE] = B(AT_ENDED),
    [AT_FAILED] = B(AT_ENDED),
    [AT_BROKEN] = B(AT_ENDED),
    [AT_ENDED] = 0,
};
#undef B

struct attempt {
    evloop *loop;
    const upstream_ops *ops;
    const chatreq *req;
    const config_backend *b;
    const attempt_hooks *hooks;
    void *ud;
    upstream_xfer *xfer;
    sse_parser *sse;
    buf body;                    /* plain body, or an error body */
    long status;
    attempt_state state;
    attempt_fail kind;           /* of a failure found before on_done */
    char why[192];
    evloop_timer grace_timer;
    bool paused;                 /* the client's backpressure holds the transfer */
    bool holding;                /* the first event went out this turn: hold the rest */
    buf held;                    /* stream bytes after the first event, not parsed yet */
    evloop_timer drain_timer;
    seam *seam;                  /* a continuation's, or NULL */
    int malformed;               /* malformed events skipped */
    bool restarted;              /* the seam found the answer starting over */
};

__attribute__((format(printf, 3, 4)))
static void set_failure(attempt *a, attempt_fail kind, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->why, sizeof a->why, fmt, ap);
    va_end(ap);
    a->kind = kind;
}

static void attempt_to(attempt *a, attempt_state to) {
    if (a->state == to) return;
    INVARIANT(a->state < AT_STATES && to < AT_STATES && (allowed[a->state] & (1u << to)));
    if (log_debug_on()) log_state("attempt", a->b->name, state_names[a->state], state_names[to]);
    a->state = to;
}

/* Something reached the caller: a chunk or the answer. */
static bool committed(const attempt *a) {
    return a->state == AT_COMMITTED || a->state == AT_FINISHING || a->state == AT_COMPLETE ||
           a->state == AT_BROKEN;
}

/* A failure found inside libcurl: after commitment it breaks the stream,
 * except after [DONE], when the answer is whole and whatever follows is
 * only cut off (the transfer is aborted; the answer stands). */
static void fail_inside(attempt *a, const char *why) {
    if (a->state == AT_COMPLETE) return;
    attempt_to(a, committed(a) ? AT_BROKEN : AT_FAILED);
    set_failure(a, ATTEMPT_BAD, "%s", why);
}

/* The message of an OpenAI-, llama.cpp- or Ollama-shaped error body. */
static const char *error_message(const cJSON *body) {
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(body, "error");
    if (cJSON_IsString(err)) return err->valuestring;
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(err, "message");
    return cJSON_IsString(msg) ? msg->valuestring : NULL;
}

static void commit(attempt *a) {
    attempt_to(a, AT_COMMITTED);
    a->hooks->on_commit(a->ud, a);
}

/* ---- SSE events of the stream ---- */

/* A valid chunk to the caller (deleted here). */
static void pass_on(attempt *a, cJSON *chunk) {
    bool finish = false;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(chunk, "choices")) {
        if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(c, "finish_reason"))) finish = true;
    }
    if (finish) attempt_to(a, AT_FINISHING);
    a->hooks->on_chunk(a->ud, a, chunk);
    cJSON_Delete(chunk);
    if (a->state == AT_FINISHING && !a->paused) evloop_timer_start(a->loop, &a->grace_timer, ATTEMPT_DONE_GRACE_MS);
}

/* The seam's verdict on a continuation: commit and pass on what it held,
 * or fail.  The return is on_event's. */
static int joined(attempt *a, seam_verdict v) {
    if (v == SEAM_RESTARTED) {
        a->restarted = true;
        fail_inside(a, "the continuation started the answer over");
        return 1;
    }
    commit(a);
    for (cJSON *chunk; a->state != AT_ENDED && (chunk = seam_next(a->seam));) pass_on(a, chunk);
    return 0;
}

static int on_event(void *ud, const char *event, const char *data, size_t len) {
    (void)event;
    attempt *a = ud;
    if (a->state == AT_COMPLETE || a->state == AT_FAILED || a->state == AT_BROKEN) return 0;
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
        if (a->state == AT_JOINING && joined(a, seam_settle(a->seam))) return 1;
        if (committed(a)) attempt_to(a, AT_COMPLETE);
        else fail_inside(a, "stream ended before its first chunk");
        return 0;
    }
    cJSON *chunk = cJSON_ParseWithLength(data, len);
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(chunk, "choices");
    if (!cJSON_IsObject(chunk) || (!cJSON_IsArray(choices) && !cJSON_HasObjectItem(chunk, "error"))) {
        cJSON_Delete(chunk);
        if (committed(a)) {
            a->malformed++;
            return 0;
        }
        fail_inside(a, "malformed stream chunk");
        return 1;
    }
    if (cJSON_HasObjectItem(chunk, "error")) {
        const char *m = error_message(chunk);
        char why[160];
        snprintf(why, sizeof why, "error event: %.120s", m ? m : "unknown error");
        cJSON_Delete(chunk);
        fail_inside(a, why);
        return 1;
    }
    if (a->state == AT_JOINING) {
        int v = seam_add(a->seam, chunk);
        if (v == SEAM_WAIT) return 0;
        return v < 0 ? (fail_inside(a, "out of memory"), 1) : joined(a, (seam_verdict)v);
    }
    if (!committed(a)) commit(a);
    pass_on(a, chunk);
    return 0;
}

/* ---- upstream callbacks ---- */

static int on_headers(void *ud, long status, const char *ct) {
    (void)ct;
    attempt *a = ud;
    a->status = status;
    attempt_to(a, AT_RECEIVING);
    if (a->req->stream && status == 200) {
        if (a->seam) attempt_to(a, AT_JOINING);
        a->sse = sse_new(ATTEMPT_MAX_EVENT, on_event, a);
        if (!a->sse) {
            fail_inside(a, "out of memory");
            return 1;
        }
    }
    return 0;
}

/* Feeds stream bytes to the parser; false when they broke the stream. */
static bool feed(attempt *a, const char *data, size_t len) {
    int rc = sse_feed(a->sse, data, len);
    if (rc == SSE_ERR_TOO_LARGE) fail_inside(a, "stream event too large");
    return rc == 0;
}

static bool hold(attempt *a, const char *data, size_t len) {
    a->holding = true;
    if (len && !buf_append(&a->held, data, len, ATTEMPT_MAX_BODY)) {
        fail_inside(a, "stream backlog too large, or out of memory");
        return false;
    }
    if (!evloop_timer_active(&a->drain_timer)) evloop_timer_start(a->loop, &a->drain_timer, 0);
    return true;
}

/* Parses what hold() kept; false when it broke the stream. */
static bool drain(attempt *a) {
    size_t n;
    const char *p = buf_data(&a->held, &n);
    evloop_timer_stop(a->loop, &a->drain_timer);
    a->holding = false;
    bool ok = n == 0 || feed(a, p, n);
    buf_free(&a->held);
    return ok;
}

/* A backend that sends many events at once (a fast model, or a burst after
 * a stall) hands them to us in one read, which libcurl passes on in one
 * call or in one call per HTTP chunk.  The first event is what the client
 * waits for, so once it committed the stream, the rest of the read waits
 * for the next turn of the loop: the first event reaches the client before
 * the others are parsed, rewritten and queued. */
static int on_data(void *ud, const char *data, size_t len) {
    attempt *a = ud;
    if (a->sse) {
        if (a->holding) return !hold(a, data, len);
        if (committed(a)) return !feed(a, data, len);
        for (size_t off = 0; off < len;) {
            size_t n = len - off < ATTEMPT_SLICE ? len - off : ATTEMPT_SLICE;
            if (!feed(a, data + off, n)) return 1;
            off += n;
            if (committed(a)) return !hold(a, data + off, len - off);
        }
        return 0;
    }
    if (!buf_append(&a->body, data, len, ATTEMPT_MAX_BODY)) {
        attempt_to(a, AT_FAILED);
        set_failure(a, ATTEMPT_BAD, "response larger than %u bytes, or out of memory", ATTEMPT_MAX_BODY);
        return 1;
    }
    return 0;
}

static cJSON *parse_body(const attempt *a) {
    size_t n;
    const char *p = buf_data(&a->body, &n);
    return cJSON_ParseWithLength(p, n);
}

/* The provider's code for the refusals a client must see as they are. */
static const char *client_error_code(const cJSON *err, const char *msg) {
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(err, "type");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(err, "code");
    const char *t = cJSON_IsString(type) ? type->valuestring : "";
    const char *c = cJSON_IsString(code) ? code->valuestring : "";
    if (strcmp(t, "exceed_context_size_error") == 0 || strcmp(c, "context_length_exceeded") == 0 ||
        (msg && (strstr(msg, "maximum context length") || strstr(msg, "exceeds the available context"))))
        return "context_length_exceeded";
    if (strcmp(c, "content_filter") == 0 || strcmp(c, "content_policy_violation") == 0 ||
        strcmp(c, "DataInspectionFailed") == 0)
        return "content_filter";
    return NULL;
}

/* A backend's 4xx that is the request's fault, in the OpenAI shape. */
static void judge_client_error(attempt *a, attempt_result *r) {
    cJSON *body = parse_body(a);
    const char *msg = error_message(body);
    const char *code = client_error_code(cJSON_GetObjectItemCaseSensitive(body, "error"), msg);
    api_error_set(&r->error, (int)a->status, "invalid_request_error", code, NULL, "backend %s: %s",
                  a->b->name, msg ? msg : "request refused");
    cJSON_Delete(body);
    r->end = ATTEMPT_CLIENT_ERROR;
    r->context_exceeded = code && strcmp(code, "context_length_exceeded") == 0;
    snprintf(a->why, sizeof a->why, "HTTP %ld%s%s", a->status, code ? " " : "", code ? code : "");
}

static void judge_plain(attempt *a, attempt_result *r) {
    cJSON *body = parse_body(a);
    if (!cJSON_IsObject(body) || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(body, "choices"))) {
        cJSON_Delete(body);
        set_failure(a, ATTEMPT_BAD, "malformed response");
        return;
    }
    commit(a);
    a->hooks->on_response(a->ud, a, body);
    r->end = ATTEMPT_ANSWERED;
}

static void judge_status(attempt *a, attempt_result *r) {
    cJSON *body = parse_body(a);
    const char *m = error_message(body);
    set_failure(a, ATTEMPT_BAD, "HTTP %ld%s%.100s", a->status, m ? ": " : "", m ? m : "");
    cJSON_Delete(body);
    r->retryable = a->status == 500 || a->status == 502 || a->status == 503;
}

static void judge_transport(attempt *a, const upstream_report *up, attempt_result *r) {
    if (up->res == UPSTREAM_ERR_ABORTED) return;     /* why was set when we aborted */
    attempt_fail kind = upstream_result_is_timeout(up->res) ? ATTEMPT_TIMEOUT
                        : up->res == UPSTREAM_ERR_CONNECT ? ATTEMPT_UNREACHABLE : ATTEMPT_BAD;
    set_failure(a, kind, "%s", up->detail);
    r->retryable = up->res == UPSTREAM_ERR_CUT && up->status == 0;
}

static void end_with(attempt *a, attempt_result *r) {
    evloop_timer_stop(a->loop, &a->grace_timer);
    attempt_to(a, AT_ENDED);
    r->kind = r->end == ATTEMPT_FAILED ? a->kind : ATTEMPT_FAIL_NONE;
    r->why = a->why;
    r->status = a->status;
    r->malformed = a->malformed;
    r->restarted = a->restarted;
    a->hooks->on_end(a->ud, a, r);
}

static void on_done(void *ud, const upstream_report *up) {
    attempt *a = ud;
    attempt_result r = {.end = ATTEMPT_FAILED, .retry_after_ms = up->retry_after_ms, .up = up};
    a->xfer = NULL;
    bool whole = drain(a);
    if (up->res == UPSTREAM_OK && a->sse && whole) sse_finish(a->sse);   /* a failure sets why */
    if (a->state == AT_JOINING && up->res == UPSTREAM_OK) joined(a, seam_settle(a->seam));

    if (committed(a) && a->req->stream) {
        if (a->state == AT_COMPLETE || a->state == AT_FINISHING) {
            r.end = ATTEMPT_ANSWERED;
        } else {
            r.end = ATTEMPT_BROKEN;
            if (a->state != AT_BROKEN)
                snprintf(a->why, sizeof a->why, "%s",
                         up->res == UPSTREAM_OK || up->res == UPSTREAM_ERR_ABORTED
                             ? "stream ended before completion" : up->detail);
        }
    } else if (up->res == UPSTREAM_OK && up->status == 200) {
        if (a->req->stream) {
            if (!a->why[0]) set_failure(a, ATTEMPT_BAD, "stream ended before its first chunk");
        } else {
            judge_plain(a, &r);
        }
    } else if (up->res == UPSTREAM_OK && (up->status == 400 || up->status == 413 || up->status == 422)) {
        judge_client_error(a, &r);
    } else if (up->res == UPSTREAM_OK) {
        judge_status(a, &r);
    } else {
        judge_transport(a, up, &r);
    }
    end_with(a, &r);
}

static const upstream_callbacks attempt_callbacks = {on_headers, on_data, on_done};

/* The finish_reason came and then silence: the stream is complete. */
static void on_grace_over(void *ud) {
    attempt *a = ud;
    a->ops->cancel(a->ops->ctx, a->xfer);
    a->xfer = NULL;
    upstream_report up = {.res = UPSTREAM_OK, .status = a->status, .detail = "finished without [DONE]",
                          .connect_ms = -1, .first_byte_ms = -1, .retry_after_ms = -1};
    attempt_result r = {.end = ATTEMPT_ANSWERED, .retry_after_ms = -1, .up = &up};
    assert(!a->held.len);   /* drained at once, long before the grace is over */
    end_with(a, &r);
}

/* The held bytes, a turn of the loop after the first event went out.  When
 * they break the stream, the transfer ends as it would have, had they been
 * parsed inside libcurl's callback. */
static void on_drain(void *ud) {
    attempt *a = ud;
    if (drain(a)) return;
    a->ops->cancel(a->ops->ctx, a->xfer);
    a->xfer = NULL;
    upstream_report up = {.res = UPSTREAM_ERR_ABORTED, .status = a->status, .detail = "aborted by the gateway",
                          .connect_ms = -1, .first_byte_ms = -1, .retry_after_ms = -1};
    on_done(a, &up);
}

attempt *attempt_start(evloop *loop, const upstream_ops *ops, const chatreq *req, const config_backend *b,
                       const attempt_prefix *prefix, int left_ms, const attempt_hooks *hooks, void *ud) {
    assert(left_ms > 0);
    attempt *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->loop = loop;
    a->ops = ops;
    a->req = req;
    a->b = b;
    a->hooks = hooks;
    a->ud = ud;
    evloop_timer_init(&a->grace_timer, on_grace_over, a);
    evloop_timer_init(&a->drain_timer, on_drain, a);

    size_t blen;
    char *body;
    if (prefix) {
        size_t n = seam_send_len(prefix->text, prefix->len);
        a->seam = seam_new(prefix->text, n, prefix->text + n, prefix->len - n);
        body = a->seam ? dialect_continue_body(req, b, prefix->text, n, &blen) : NULL;
    } else {
        body = dialect_body(req, b, &blen);
    }
    if (!body) goto err;
    char url[1024];
    snprintf(url, sizeof url, "%s/chat/completions", b->url);
    upstream_request ur = {
        .url = url,
        .body = body,
        .body_len = blen,
        .bearer = b->api_key,
        .ca_file = b->ca_file,
        .insecure = b->tls_insecure,
        .accept_sse = req->stream,
        .connect_ms = b->connect_ms < left_ms ? b->connect_ms : left_ms,
        .first_byte_ms = b->first_byte_ms < left_ms ? b->first_byte_ms : left_ms,
        .idle_ms = b->idle_ms,
        .total_ms = b->total_ms < left_ms ? b->total_ms : left_ms,
    };
    a->xfer = ops->start(ops->ctx, &ur, &attempt_callbacks, a);
    free(body);
    if (!a->xfer) goto err;
    return a;
err:
    seam_free(a->seam);
    free(a);
    return NULL;
}

void attempt_free(attempt *a) {
    if (!a) return;
    evloop_timer_stop(a->loop, &a->grace_timer);
    evloop_timer_stop(a->loop, &a->drain_timer);
    buf_free(&a->held);
    if (a->xfer) a->ops->cancel(a->ops->ctx, a->xfer);
    sse_free(a->sse);
    seam_free(a->seam);
    buf_free(&a->body);
    free(a);
}

/* The finish grace measures the backend's silence, so it waits while the
 * transfer is paused: the usage chunk and [DONE] may be in libcurl's hands. */
void attempt_pause(attempt *a, bool paused) {
    a->paused = paused;
    if (a->xfer) a->ops->pause(a->ops->ctx, a->xfer, paused);
    if (a->state != AT_FINISHING) return;
    if (paused) evloop_timer_stop(a->loop, &a->grace_timer);
    else evloop_timer_start(a->loop, &a->grace_timer, ATTEMPT_DONE_GRACE_MS);
}
