/* dispatch: retries, fallbacks and hedges within one deadline.
 *
 * A job has two slots, each running at most one attempt: the first carries
 * the candidates in order, the second only a hedge.  A slot whose attempt
 * failed retries the same backend (after a back-off timer), moves on to the
 * next candidate, or, while the other slot still runs, goes quiet and lets
 * that one finish.  Keeping at most two transfers per request bounds what a
 * request can cost a struggling backend, and every decision stays in one
 * place: the slot's on_end.
 *
 * Retries.  Only for failures a retry can cure (attempt.c says which), at
 * most routing.retries times per backend, after base * 2^(n-1) * U(0.5, 1.5)
 * milliseconds: the jitter keeps a fleet of gateways from retrying in step.
 * A Retry-After is obeyed instead when it is at most max_retry_after_ms, and
 * also keeps every other request away from that backend for as long
 * (backends_hold_off); a longer one means: go elsewhere.  No retry may start
 * when its delay would not leave time before the deadline, so retries and
 * fallbacks spend what is left of the one deadline and never more; each
 * attempt's own limits are cut to the time left, too.
 *
 * Failures are classified (attempt_fail) and the last one decides the final
 * status when every candidate failed: unreachable 503, bad answer 502, too
 * slow 504.  Every failure goes into a trail ("local (device): connection
 * refused; ...") that the final error message carries.
 *
 * Continuations (issue 15) run in the slot whose stream broke, one at a
 * time, through the candidates after the one that answered, in order:
 * never a retry of the backend that broke (it just failed) nor any backend
 * the decision left out (privacy's device-only requests have only device
 * candidates, so they are never continued on the cloud).  While one waits
 * for its first byte the job has no winner again, which makes that wait
 * the backends' time, not the gateway's (track_wait). */
#include "dispatch.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attempt.h"
#include "evloop.h"
#include "invariant.h"
#include "upstream.h"

#define DISPATCH_MAX_BACKOFF_MS 10000

struct dispatch {
    const config *cfg;
    backends *health;
    evloop *loop;
    upstream_ops ops;
    uint64_t rng;            /* xorshift64 state for back-off jitter */
};

typedef struct slot {
    dispatch_job *job;
    attempt *a;              /* the running attempt, or NULL */
    size_t cand;             /* index in dec.candidates of its backend */
    int backend;             /* -1 before the first attempt */
    bool trial;              /* the attempt is its circuit's trial */
    bool hedge;              /* started by the hedge timer */
    int tries;               /* attempts on this backend so far */
    bool waiting;            /* retry_timer is armed */
    evloop_timer retry_timer;
} slot;

struct dispatch_job {
    dispatch *d;
    const chatreq *req;
    router_decision dec;
    const dispatch_sink *sink;
    void *ud;
    slot slots[2];           /* [0] the candidates in order, [1] a hedge */
    slot *winner;
    size_t next;             /* next candidate to start */
    bool finished;
    bool oom;                /* an attempt could not start: the job ends with a 500 */
    attempt_fail kind;       /* of the last failure */
    int last_backend;
    int attempts;
    char trail[1024];
    unsigned long long wait_us, waiting_since;   /* see track_wait */
    uint64_t deadline_ms;
    int budget_ms;
    evloop_timer hedge_timer;
    /* Issue 15: a stream that broke, being continued. */
    bool continuing;         /* the next attempts continue the stream (with prefix) */
    size_t cont_next;        /* the next candidate to try */
    int cont_from;           /* the backend whose stream broke last */
    attempt_prefix prefix;   /* the sink's text, for slot_start */
    char broke[512];         /* the failure that called for it, and the continuations' */
    bool paused;             /* the client's backpressure, for an attempt that commits later */
};

dispatch *dispatch_new(const config *cfg, backends *health, evloop *loop, const upstream_ops *ops) {
    dispatch *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->cfg = cfg;
    d->health = health;
    d->loop = loop;
    d->ops = *ops;
    d->rng = evloop_clock_us() | 1;
    return d;
}

void dispatch_free(dispatch *d) { free(d); }

int dispatch_job_attempts(const dispatch_job *j) { return j->attempts; }

unsigned long long dispatch_job_wait_us(const dispatch_job *j) {
    return j->wait_us + (j->waiting_since ? evloop_clock_us() - j->waiting_since : 0);
}

static const config_backend *backend_cfg(const dispatch_job *j, int i) { return &j->d->cfg->backends[i]; }

static int time_left_ms(const dispatch_job *j) {
    uint64_t now = evloop_now_ms(j->d->loop);
    return now >= j->deadline_ms ? 0 : (int)(j->deadline_ms - now);
}

/* U(0.5, 1.5) from xorshift64: jitter needs spread, not quality. */
static double jitter(dispatch *d) {
    d->rng ^= d->rng << 13;
    d->rng ^= d->rng >> 7;
    d->rng ^= d->rng << 17;
    return 0.5 + (double)(d->rng >> 11) / (double)(1ull << 53);
}

static void trail_add(dispatch_job *j, int backend, const char *why) {
    size_t n = strlen(j->trail);
    if (backend >= 0)
        snprintf(j->trail + n, sizeof j->trail - n, "%s%s (%s): %s", n ? "; " : "", backend_cfg(j, backend)->name,
                 tier_name(backend_cfg(j, backend)->tier), why);
    else
        snprintf(j->trail + n, sizeof j->trail - n, "%s%s", n ? "; " : "", why);
}

static bool slot_busy(const slot *s) { return s->a || s->waiting; }

/* Called after every change of a slot's business and at the commit: the job
 * waits for backends while a slot is busy and nothing has been committed.
 * Two slots busy at once (a hedge) count once. */
static void track_wait(dispatch_job *j) {
    bool waiting = !j->winner && !j->finished && (slot_busy(&j->slots[0]) || slot_busy(&j->slots[1]));
    if (waiting == (j->waiting_since != 0)) return;
    unsigned long long now = evloop_clock_us();
    if (waiting) {
        j->waiting_since = now;
    } else {
        j->wait_us += now - j->waiting_since;
        j->waiting_since = 0;
    }
}

/* Stops whatever the slot runs or waits for, giving back a circuit trial. */
static void slot_stop(slot *s) {
    dispatch_job *j = s->job;
    if (s->a) {
        attempt_free(s->a);
        s->a = NULL;
        backends_release(j->d->health, (size_t)s->backend, s->trial);
        s->trial = false;
    }
    if (s->waiting) evloop_timer_stop(j->d->loop, &s->retry_timer);
    s->waiting = false;
}

static void finish(dispatch_job *j) {
    j->finished = true;
    evloop_timer_stop(j->d->loop, &j->hedge_timer);
    for (int i = 0; i < 2; i++)
        if (&j->slots[i] != j->winner) slot_stop(&j->slots[i]);
    track_wait(j);
}

static void fail_all(dispatch_job *j) {
    static const struct { int status; const char *code; } by_kind[] = {
        [ATTEMPT_FAIL_NONE] = {503, "backend_unavailable"},
        [ATTEMPT_UNREACHABLE] = {503, "backend_unavailable"},
        [ATTEMPT_BAD] = {502, "upstream_error"},
        [ATTEMPT_TIMEOUT] = {504, "upstream_timeout"},
    };
    api_error e;
    if (j->oom)   /* the one out-of-memory policy: the gateway's failure, a 500 */
        api_error_set(&e, 500, "server_error", NULL, NULL, "out of memory");
    else
        api_error_set(&e, by_kind[j->kind].status, "server_error", by_kind[j->kind].code, NULL,
                      "No tier could answer: %s", j->trail[0] ? j->trail : "no backend was tried");
    finish(j);
    j->sink->on_error(j->ud, &e, false, j->last_backend);
}

static const attempt_hooks slot_hooks;

/* Starts an attempt of candidate cand in s; false (with the trail told why)
 * when its circuit says no or it could not start. */
static bool slot_start(slot *s, size_t cand, dispatch_attempt_kind kind) {
    dispatch_job *j = s->job;
    dispatch *d = j->d;
    int backend = j->dec.candidates[cand];
    int left = time_left_ms(j);
    INVARIANT(!slot_busy(s) && left > 0);
    if (s->backend != backend) s->tries = 0;
    s->cand = cand;
    s->backend = backend;
    if (!backends_acquire(d->health, (size_t)backend, &s->trial)) {
        trail_add(j, backend, "skipped, circuit open");
        j->kind = j->kind ? j->kind : ATTEMPT_UNREACHABLE;
        return false;
    }
    s->a = attempt_start(d->loop, &d->ops, j->req, backend_cfg(j, backend), j->continuing ? &j->prefix : NULL, left,
                         &slot_hooks, s);
    if (!s->a) {
        backends_release(d->health, (size_t)backend, s->trial);
        trail_add(j, backend, "could not start the transfer (out of memory)");
        j->oom = true;
        return false;
    }
    j->last_backend = backend;
    j->attempts++;
    s->tries++;
    track_wait(j);
    j->sink->on_attempt(j->ud, backend, kind);
    return true;
}

/* Issue 17: true when candidate c is what the request needs. */
static bool meets_need(const dispatch_job *j, size_t c) {
    return router_meets_need(j->d->cfg, &j->dec, j->dec.candidates[c]);
}

/* Issue 17: moving from the last candidate that met the need to a smaller
 * tier; the sink may answer instead (on_need_lost). */
static bool need_taken_over(dispatch_job *j) {
    size_t c = j->next;
    if (!j->sink->on_need_lost || c == 0 || !meets_need(j, c - 1) || meets_need(j, c) ||
        backend_cfg(j, j->dec.candidates[c])->tier >= j->dec.needed || !j->sink->on_need_lost(j->ud))
        return false;
    finish(j);
    return true;
}

/* Starts the next candidate that can go, in s, as a hedge or not.  False
 * when none can; true also when the sink took the job over. */
static bool slot_start_next(slot *s, bool hedge) {
    dispatch_job *j = s->job;
    s->hedge = hedge;
    while (j->next < j->dec.ncandidates && !j->oom) {
        if (j->next > 0 && !j->d->cfg->fallback) return false;
        if (!hedge && need_taken_over(j)) return true;
        if (time_left_ms(j) == 0) {
            char why[64];
            snprintf(why, sizeof why, "deadline of %d ms exceeded", j->budget_ms);
            trail_add(j, -1, why);
            j->kind = ATTEMPT_TIMEOUT;
            return false;
        }
        dispatch_attempt_kind kind = hedge ? DISPATCH_HEDGE : j->next == 0 ? DISPATCH_FIRST : DISPATCH_FALLBACK;
        if (slot_start(s, j->next++, kind)) return true;
    }
    return false;
}

/* s has nothing left to run: move on, or wait for the other slot, or fail. */
static void slot_move_on(slot *s) {
    dispatch_job *j = s->job;
    slot *other = &j->slots[s == &j->slots[0] ? 1 : 0];
    if (slot_busy(other)) return;
    if (!slot_start_next(s, false)) fail_all(j);
}

static void on_retry_timer(void *ud) {
    slot *s = ud;
    s->waiting = false;
    track_wait(s->job);
    if (time_left_ms(s->job) > 0 && slot_start(s, s->cand, DISPATCH_RETRY)) return;
    slot_move_on(s);
}

/* The delay before retrying the same backend, or -1 for no retry. */
static int retry_delay_ms(dispatch_job *j, const slot *s, const attempt_result *r) {
    const config *cfg = j->d->cfg;
    if (s->tries > cfg->retries || !(r->retryable || r->status == 429)) return -1;
    int delay;
    if (r->retry_after_ms >= 0) {
        if (r->retry_after_ms > cfg->max_retry_after_ms) return -1;
        delay = r->retry_after_ms;
    } else if (r->retryable) {
        double ms = cfg->retry_backoff_ms * (double)(1u << (s->tries - 1)) * jitter(j->d);
        delay = ms > DISPATCH_MAX_BACKOFF_MS ? DISPATCH_MAX_BACKOFF_MS : (int)ms;
    } else {
        return -1;   /* a 429 without Retry-After: do not guess, go elsewhere */
    }
    /* A retry must leave its attempt time to do something before the deadline. */
    return delay + 100 < time_left_ms(j) ? delay : -1;
}

/* The first candidate from j->next on with more context than backend. */
static bool skip_to_larger_context(dispatch_job *j, int backend) {
    const config_backend *cur = backend_cfg(j, backend);
    for (size_t c = j->next; c < j->dec.ncandidates; c++) {
        const config_backend *b = backend_cfg(j, j->dec.candidates[c]);
        bool larger = cur->context_tokens && b->context_tokens ? b->context_tokens > cur->context_tokens
                                                                : b->tier > cur->tier;
        if (larger) {
            j->next = c;
            return true;
        }
    }
    return false;
}

/* ---- issue 15: continuing a stream that broke ---- */

const char dispatch_cont_skip[] = "";

static void continued(dispatch_job *j, int to, const char *outcome) {
    if (j->sink->on_continued) j->sink->on_continued(j->ud, j->cont_from, to, outcome, j->broke);
}

static void broke_add(dispatch_job *j, const char *fmt, const char *name, const char *why) {
    size_t n = strlen(j->broke);
    snprintf(j->broke + n, sizeof j->broke - n, fmt, name, why);
}

/* Starts a continuation of the stream that broke on j->cont_from in s, on
 * the next candidate that can continue it; false when none can. */
static bool continue_stream(slot *s) {
    dispatch_job *j = s->job;
    if (!j->sink->on_continue || !j->d->cfg->fallback) return false;
    while (j->cont_next < j->dec.ncandidates) {
        size_t c = j->cont_next++;
        int to = j->dec.candidates[c];
        if (backend_cfg(j, to)->continuation == CONTINUATION_NONE || to == j->cont_from) continue;
        if (time_left_ms(j) == 0) {
            broke_add(j, "; %s%s", "no time left to continue it", "");
            return false;
        }
        const char *text = j->sink->on_continue(j->ud, j->cont_from, to, &j->prefix.len);
        if (text == DISPATCH_CONT_SKIP) {
            broke_add(j, "; continuation on %s: %s", backend_cfg(j, to)->name,
                      "not asked: the answer was cut inside a personal value it must not see");
            continue;
        }
        if (!text) {
            broke_add(j, "; %s%s", "it cannot be continued as text", "");
            return false;
        }
        j->prefix.text = text;
        j->continuing = true;
        j->winner = NULL;
        if (slot_start(s, c, DISPATCH_CONTINUATION)) return true;
        broke_add(j, "; continuation on %s: %s", backend_cfg(j, to)->name, "could not start");
        continued(j, to, "failed");
    }
    return false;
}

/* The stream cannot go on: the client gets the error event. */
static void end_broken(slot *s, bool tried) {
    dispatch_job *j = s->job;
    api_error e;
    if (!tried) continued(j, -1, "unavailable");
    api_error_set(&e, 502, "server_error", "upstream_error", NULL, "%s", j->broke);
    finish(j);
    j->sink->on_error(j->ud, &e, true, s->backend);
}

/* A continuation ended before its first byte reached the client. */
static void continuation_failed(slot *s, const attempt_result *r) {
    dispatch_job *j = s->job;
    bool refused = r->end == ATTEMPT_CLIENT_ERROR || r->restarted;
    backends_report(j->d->health, (size_t)s->backend, s->trial, r->end == ATTEMPT_CLIENT_ERROR, r->why);
    s->trial = false;
    broke_add(j, "; continuation on %s: %s", backend_cfg(j, s->backend)->name, r->why);
    continued(j, s->backend, refused ? "refused" : "failed");
    if (!continue_stream(s)) end_broken(s, true);
}

/* What to do after s's attempt ended with r. */
static void slot_judge(slot *s, const attempt_result *r) {
    dispatch_job *j = s->job;
    backends *h = j->d->health;
    const config_backend *b = backend_cfg(j, s->backend);
    backends_observe(h, (size_t)s->backend, r->up, j->req->stream,
                     r->up->res == UPSTREAM_ERR_CONNECT_TIMEOUT ? b->connect_ms : b->first_byte_ms);
    if (r->malformed && j->sink->on_malformed) j->sink->on_malformed(j->ud, s->backend, r->malformed);
    if (j->continuing && !j->winner) {
        continuation_failed(s, r);
        return;
    }

    switch (r->end) {
    case ATTEMPT_ANSWERED:
        if (j->continuing) continued(j, s->backend, "completed");
        finish(j);
        if (j->req->stream) j->sink->on_stream_end(j->ud);
        return;
    case ATTEMPT_BROKEN: {
        backends_report(h, (size_t)s->backend, false, false, r->why);
        bool again = j->continuing;
        if (again) {
            broke_add(j, "; continuation on %s broke too: %s", b->name, r->why);
            continued(j, s->backend, "broken");
        } else {
            snprintf(j->broke, sizeof j->broke, "backend %s failed mid-stream: %s", b->name, r->why);
            j->cont_next = s->cand + 1;
        }
        j->cont_from = s->backend;
        if (j->sink->on_whole_turn && j->sink->on_whole_turn(j->ud)) {
            continued(j, -1, "closed");
            finish(j);
            j->sink->on_stream_end(j->ud);
            return;
        }
        if (!continue_stream(s)) end_broken(s, again);
        return;
    }
    case ATTEMPT_CLIENT_ERROR:
        backends_report(h, (size_t)s->backend, s->trial, true, NULL);
        s->trial = false;
        if (r->context_exceeded && j->d->cfg->fallback && skip_to_larger_context(j, s->backend)) {
            trail_add(j, s->backend, "context length exceeded");
            slot_move_on(s);
            return;
        }
        finish(j);
        j->sink->on_error(j->ud, &r->error, false, s->backend);
        return;
    case ATTEMPT_FAILED:
        break;
    }
    backends_report(h, (size_t)s->backend, s->trial, false, r->why);
    s->trial = false;
    if (r->retry_after_ms >= 0 && (r->status == 429 || r->status == 503))
        backends_hold_off(h, (size_t)s->backend, r->retry_after_ms);
    trail_add(j, s->backend, r->why);
    j->kind = r->kind;
    int delay = retry_delay_ms(j, s, r);
    if (delay >= 0) {
        s->waiting = true;
        track_wait(j);
        evloop_timer_start(j->d->loop, &s->retry_timer, (uint64_t)delay);
        return;
    }
    slot_move_on(s);
}

/* r points into a, so a is freed only after the judgement. */
static void on_attempt_end(void *ud, attempt *a, const attempt_result *r) {
    slot *s = ud;
    INVARIANT(a == s->a);
    s->a = NULL;
    track_wait(s->job);
    slot_judge(s, r);
    attempt_free(a);
}

static const char *answer_reason(const dispatch_job *j) {
    if (j->continuing) return "continuation";
    if (j->winner->hedge) return "hedge";
    return j->winner->cand == 0 ? j->dec.reason : "fallback";
}

static void on_attempt_commit(void *ud, attempt *a) {
    slot *s = ud;
    dispatch_job *j = s->job;
    j->winner = s;
    track_wait(j);
    backends_report(j->d->health, (size_t)s->backend, s->trial, true, NULL);
    s->trial = false;
    evloop_timer_stop(j->d->loop, &j->hedge_timer);
    slot_stop(&j->slots[s == &j->slots[0] ? 1 : 0]);
    if (j->paused) attempt_pause(a, true);   /* a continuation, while the client is held off */
}

static void on_attempt_response(void *ud, attempt *a, cJSON *body) {
    slot *s = ud;
    dispatch_job *j = s->job;
    (void)a;
    j->sink->on_response(j->ud, s->backend, answer_reason(j), body);
    finish(j);
}

static void on_attempt_chunk(void *ud, attempt *a, cJSON *chunk) {
    slot *s = ud;
    dispatch_job *j = s->job;
    (void)a;
    j->sink->on_chunk(j->ud, s->backend, answer_reason(j), chunk);
}

static const attempt_hooks slot_hooks = {on_attempt_commit, on_attempt_response, on_attempt_chunk,
                                         on_attempt_end};

/* No first byte yet from the chosen backend: start the next one too. */
static void on_hedge_timer(void *ud) {
    dispatch_job *j = ud;
    slot *h = &j->slots[1];
    if (j->finished || j->winner || slot_busy(h) || !j->d->cfg->fallback) return;
    slot_start_next(h, true);
}

dispatch_job *dispatch_start(dispatch *d, const chatreq *req, const router_decision *dec, int deadline_ms,
                             const dispatch_sink *sink, void *ud) {
    assert(dec->ncandidates >= 1 && deadline_ms > 0);
    dispatch_job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->d = d;
    j->req = req;
    j->dec = *dec;
    j->sink = sink;
    j->ud = ud;
    j->last_backend = -1;
    j->budget_ms = deadline_ms;
    j->deadline_ms = evloop_now_ms(d->loop) + (uint64_t)deadline_ms;
    evloop_timer_init(&j->hedge_timer, on_hedge_timer, j);
    for (int i = 0; i < 2; i++) {
        j->slots[i].job = j;
        j->slots[i].backend = -1;
        evloop_timer_init(&j->slots[i].retry_timer, on_retry_timer, &j->slots[i]);
    }
    if (!slot_start_next(&j->slots[0], false)) {
        fail_all(j);
        return j;
    }
    if (d->cfg->hedge_after_ms > 0 && dec->ncandidates > 1 && !j->finished)
        evloop_timer_start(d->loop, &j->hedge_timer, (uint64_t)d->cfg->hedge_after_ms);
    return j;
}

void dispatch_job_pause(dispatch_job *j, bool paused) {
    j->paused = paused;
    if (j->winner && j->winner->a) attempt_pause(j->winner->a, paused);
}

void dispatch_job_free(dispatch_job *j) {
    if (!j) return;
    j->winner = NULL;
    finish(j);
    free(j);
}
