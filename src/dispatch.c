/* dispatch: try candidates in order until one answers, within the deadline.
 *
 * One job is one client request.  Each attempt builds the backend's own body
 * (chatreq_upstream_body), starts an upstream transfer, and judges what comes
 * back.  The judgement is the same for streams and plain responses up to the
 * point of commitment: nothing reaches the client until a backend produced a
 * first valid chunk (or a complete valid response), so until then every
 * failure is invisible to the client and simply moves to the next candidate.
 *
 * Failures are classified into three kinds that decide the final status when
 * every candidate failed: the backend could not be reached (503), it answered
 * badly (502), or it was too slow (504).  The last failure's kind wins, since
 * it is the one nearest to the client's deadline.  Every failure is also
 * written into a trail ("local (device): connection refused; ...") that the
 * final error message carries, so the client and the log say what was tried.
 *
 * A stream that ends with a finish_reason but without [DONE] is complete and
 * ends normally; one that ends with neither is not, and gets an error event.
 * That is the only way to tell a cut stream from a finished one when the
 * backend closes cleanly in the middle (Ollama does, on a mid-stream error). */
#include "dispatch.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evloop.h"
#include "sse.h"
#include "upstream.h"

#define DISPATCH_MAX_BODY (16u << 20)
#define DISPATCH_MAX_EVENT (4u << 20)

typedef enum { FAIL_NONE, FAIL_UNREACHABLE, FAIL_BAD, FAIL_TIMEOUT } fail_kind;

struct dispatch {
    const config *cfg;
    backends *health;
    evloop *loop;
    upstream *up;
};

struct dispatch_job {
    dispatch *d;
    const chatreq *req;
    router_decision dec;
    const dispatch_sink *sink;
    void *ud;
    size_t next;                 /* next candidate to try */
    int backend;                 /* the one being tried, -1 before the first */
    int attempts;
    upstream_xfer *xfer;
    sse_parser *sse;
    char *buf;                   /* plain body, or an error body */
    size_t len, cap;
    long status;
    bool committed, finished, done_seen, finish_seen;
    fail_kind kind;              /* of the current attempt's failure */
    char why[192];               /* the current attempt's failure */
    char trail[1024];
    unsigned long long started_us, ttfb_us;
    uint64_t deadline_ms;
};

dispatch *dispatch_new(const config *cfg, backends *health, evloop *loop, upstream *up) {
    dispatch *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->cfg = cfg;
    d->health = health;
    d->loop = loop;
    d->up = up;
    return d;
}

void dispatch_free(dispatch *d) { free(d); }

int dispatch_job_attempts(const dispatch_job *j) { return j->attempts; }
unsigned long long dispatch_job_ttfb_us(const dispatch_job *j) { return j->ttfb_us; }

static const config_backend *current(const dispatch_job *j) {
    return &j->d->cfg->backends[j->backend];
}

static bool fell_back(const dispatch_job *j) { return j->next > 1; }

__attribute__((format(printf, 3, 4)))
static void set_failure(dispatch_job *j, fail_kind kind, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->why, sizeof j->why, fmt, ap);
    va_end(ap);
    j->kind = kind;
}

static void finish_error(dispatch_job *j, const api_error *e) {
    j->finished = true;
    j->sink->on_error(j->ud, e, j->committed, j->backend);
}

/* After commitment: end the client's stream with an error event. */
static void finish_committed(dispatch_job *j, const char *why) {
    api_error e;
    api_error_set(&e, 502, "server_error", "upstream_error", NULL,
                  "backend %s failed mid-stream: %s", current(j)->name, why);
    backends_report(j->d->health, (size_t)j->backend, false, why);
    finish_error(j, &e);
}

/* The message of an OpenAI-, llama.cpp- or Ollama-shaped error body. */
static const char *error_message(const cJSON *body) {
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(body, "error");
    if (cJSON_IsString(err)) return err->valuestring;
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(err, "message");
    return cJSON_IsString(msg) ? msg->valuestring : NULL;
}

/* ---- SSE events of the stream ---- */

static int on_event(void *ud, const char *event, const char *data, size_t len) {
    (void)event;
    dispatch_job *j = ud;
    if (j->finished || j->done_seen) return 0;
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
        j->done_seen = true;
        return 0;
    }
    cJSON *chunk = cJSON_ParseWithLength(data, len);
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(chunk, "choices");
    if (!cJSON_IsObject(chunk) || (!cJSON_IsArray(choices) && !cJSON_HasObjectItem(chunk, "error"))) {
        cJSON_Delete(chunk);
        if (j->committed) finish_committed(j, "malformed chunk");
        else set_failure(j, FAIL_BAD, "malformed stream chunk");
        return 1;
    }
    if (cJSON_HasObjectItem(chunk, "error")) {
        const char *m = error_message(chunk);
        char why[160];
        snprintf(why, sizeof why, "error event: %.120s", m ? m : "unknown error");
        cJSON_Delete(chunk);
        if (j->committed) finish_committed(j, why);
        else set_failure(j, FAIL_BAD, "%s", why);
        return 1;
    }
    const cJSON *c;
    cJSON_ArrayForEach(c, choices) {
        const cJSON *fr = cJSON_GetObjectItemCaseSensitive(c, "finish_reason");
        if (cJSON_IsString(fr)) j->finish_seen = true;
    }
    if (!j->committed) {
        j->committed = true;
        j->ttfb_us = evloop_clock_us() - j->started_us;
        backends_report(j->d->health, (size_t)j->backend, true, NULL);
    }
    j->sink->on_chunk(j->ud, j->backend, fell_back(j), chunk);
    cJSON_Delete(chunk);
    return 0;
}

/* ---- upstream callbacks ---- */

static int on_headers(void *ud, long status, const char *ct) {
    (void)ct;
    dispatch_job *j = ud;
    j->status = status;
    if (j->req->stream && status == 200) {
        j->sse = sse_new(DISPATCH_MAX_EVENT, on_event, j);
        if (!j->sse) {
            set_failure(j, FAIL_BAD, "out of memory");
            return 1;
        }
    }
    return 0;
}

static int on_data(void *ud, const char *data, size_t len) {
    dispatch_job *j = ud;
    if (j->sse) {
        int rc = sse_feed(j->sse, data, len);
        if (rc == SSE_ERR_TOO_LARGE) {
            if (j->committed) finish_committed(j, "stream event too large");
            else set_failure(j, FAIL_BAD, "stream event too large");
        }
        return rc != 0;
    }
    if (j->len + len > DISPATCH_MAX_BODY) {
        set_failure(j, FAIL_BAD, "response larger than %u bytes", DISPATCH_MAX_BODY);
        return 1;
    }
    if (j->len + len + 1 > j->cap) {
        size_t cap = j->cap ? j->cap * 2 : 8192;
        while (cap < j->len + len + 1) cap *= 2;
        char *b = realloc(j->buf, cap);
        if (!b) {
            set_failure(j, FAIL_BAD, "out of memory");
            return 1;
        }
        j->buf = b;
        j->cap = cap;
    }
    memcpy(j->buf + j->len, data, len);
    j->len += len;
    j->buf[j->len] = '\0';
    return 0;
}

static void attempt_next(dispatch_job *j);

/* A backend's 4xx that is the request's fault, in the OpenAI shape. */
static void pass_client_error(dispatch_job *j) {
    api_error e;
    cJSON *body = cJSON_ParseWithLength(j->buf ? j->buf : "", j->len);
    const char *msg = error_message(body);
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(body, "error");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(err, "type");
    const char *code = NULL;
    if (cJSON_IsString(type) && strcmp(type->valuestring, "exceed_context_size_error") == 0)
        code = "context_length_exceeded";
    api_error_set(&e, (int)j->status, "invalid_request_error", code, NULL, "backend %s: %s",
                  current(j)->name, msg ? msg : "request refused");
    cJSON_Delete(body);
    backends_report(j->d->health, (size_t)j->backend, true, NULL);
    finish_error(j, &e);
}

static void judge_plain(dispatch_job *j) {
    cJSON *body = cJSON_ParseWithLength(j->buf ? j->buf : "", j->len);
    if (!cJSON_IsObject(body) || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(body, "choices"))) {
        cJSON_Delete(body);
        set_failure(j, FAIL_BAD, "malformed response");
        return;
    }
    j->finished = true;
    j->ttfb_us = evloop_clock_us() - j->started_us;
    backends_report(j->d->health, (size_t)j->backend, true, NULL);
    j->sink->on_response(j->ud, j->backend, fell_back(j), body);
}

static void on_done(void *ud, upstream_result res, long status, const char *detail) {
    dispatch_job *j = ud;
    j->xfer = NULL;
    if (j->finished) return;
    if (res == UPSTREAM_OK && j->sse && sse_finish(j->sse) != 0) {
        if (j->finished) return;
        res = UPSTREAM_ERR_ABORTED;     /* the last event was bad; why is set */
    }

    if (j->committed) {
        if (j->done_seen || j->finish_seen) {
            j->finished = true;
            j->sink->on_stream_end(j->ud);
        } else {
            finish_committed(j, res == UPSTREAM_OK || res == UPSTREAM_ERR_ABORTED
                                    ? "stream ended before completion" : detail);
        }
        return;
    }
    if (res == UPSTREAM_OK && status == 200) {
        if (j->req->stream) set_failure(j, FAIL_BAD, "stream ended before its first chunk");
        else judge_plain(j);
        if (j->finished) return;
    } else if (res == UPSTREAM_OK) {
        if (status == 400 || status == 413 || status == 422) {
            pass_client_error(j);
            return;
        }
        cJSON *body = cJSON_ParseWithLength(j->buf ? j->buf : "", j->len);
        const char *m = error_message(body);
        set_failure(j, FAIL_BAD, "HTTP %ld%s%.100s", status, m ? ": " : "", m ? m : "");
        cJSON_Delete(body);
    } else if (res != UPSTREAM_ERR_ABORTED) {
        set_failure(j, upstream_result_is_timeout(res) ? FAIL_TIMEOUT
                       : res == UPSTREAM_ERR_CONNECT ? FAIL_UNREACHABLE : FAIL_BAD,
                    "%s", detail);
    }
    backends_report(j->d->health, (size_t)j->backend, false, j->why);
    attempt_next(j);
}

static const upstream_callbacks job_callbacks = {on_headers, on_data, on_done};

/* ---- attempts ---- */

static void trail_add(dispatch_job *j) {
    size_t n = strlen(j->trail);
    snprintf(j->trail + n, sizeof j->trail - n, "%s%s (%s): %s", n ? "; " : "", current(j)->name,
             tier_name(current(j)->tier), j->why);
}

static void fail_all(dispatch_job *j) {
    static const struct { int status; const char *code; } by_kind[] = {
        [FAIL_NONE] = {503, "backend_unavailable"},
        [FAIL_UNREACHABLE] = {503, "backend_unavailable"},
        [FAIL_BAD] = {502, "upstream_error"},
        [FAIL_TIMEOUT] = {504, "upstream_timeout"},
    };
    api_error e;
    api_error_set(&e, by_kind[j->kind].status, "server_error", by_kind[j->kind].code, NULL,
                  "No tier could answer: %s", j->trail[0] ? j->trail : "no backend was tried");
    finish_error(j, &e);
}

static void reset_attempt(dispatch_job *j) {
    sse_free(j->sse);
    j->sse = NULL;
    j->len = 0;
    j->status = 0;
    j->done_seen = j->finish_seen = false;
    j->why[0] = '\0';
}

static void attempt_next(dispatch_job *j) {
    dispatch *d = j->d;
    if (j->backend >= 0) trail_add(j);
    while (j->next < j->dec.ncandidates) {
        if (j->next > 0 && !d->cfg->fallback) break;
        uint64_t now = evloop_now_ms(d->loop);
        if (now >= j->deadline_ms) {
            set_failure(j, FAIL_TIMEOUT, "deadline of %d ms exceeded", d->cfg->deadline_ms);
            size_t n = strlen(j->trail);
            snprintf(j->trail + n, sizeof j->trail - n, "%s%s", n ? "; " : "", j->why);
            break;
        }
        int left = (int)(j->deadline_ms - now);
        reset_attempt(j);
        j->backend = j->dec.candidates[j->next++];
        j->attempts++;
        const config_backend *b = current(j);
        size_t blen;
        char *body = chatreq_upstream_body(j->req, b, &blen);
        char url[1024];
        snprintf(url, sizeof url, "%s/chat/completions", b->url);
        upstream_request ur = {
            .url = url,
            .body = body,
            .body_len = blen,
            .bearer = b->api_key,
            .accept_sse = j->req->stream,
            .connect_ms = b->connect_ms < left ? b->connect_ms : left,
            .first_byte_ms = b->first_byte_ms < left ? b->first_byte_ms : left,
            .idle_ms = b->idle_ms,
            .total_ms = b->total_ms < left ? b->total_ms : left,
        };
        j->xfer = body ? upstream_start(d->up, &ur, &job_callbacks, j) : NULL;
        free(body);
        if (j->xfer) return;
        set_failure(j, FAIL_BAD, "could not start the transfer (out of memory)");
        trail_add(j);
    }
    fail_all(j);
}

dispatch_job *dispatch_start(dispatch *d, const chatreq *req, const router_decision *dec,
                             const dispatch_sink *sink, void *ud) {
    assert(dec->ncandidates >= 1);
    dispatch_job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->d = d;
    j->req = req;
    j->dec = *dec;
    j->sink = sink;
    j->ud = ud;
    j->backend = -1;
    j->started_us = evloop_clock_us();
    j->deadline_ms = evloop_now_ms(d->loop) + (uint64_t)d->cfg->deadline_ms;
    attempt_next(j);
    return j;
}

void dispatch_job_free(dispatch_job *j) {
    if (!j) return;
    upstream_cancel(j->xfer);
    sse_free(j->sse);
    free(j->buf);
    free(j);
}
