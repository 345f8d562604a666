/* circuit: closed, open, half-open; see circuit.h for the rules.
 *
 * Two triggers open a closed circuit because failures come in two shapes.  A
 * dead backend fails every request, and consecutive failures catch it after
 * failures_to_open requests whatever the traffic.  A sick one (packet loss,
 * an overloaded provider) fails some requests between successes, which reset
 * any consecutive count; only a rate over a window catches it.  The window is
 * CIRCUIT_BUCKETS buckets of window_ms / CIRCUIT_BUCKETS each, so recording
 * is O(1), memory is fixed, and old outcomes age out a bucket at a time.
 *
 * A failed probe opens the circuit at once.  Probes exist for the case the
 * gateway is for: the uplink went away in a tunnel, and the next user should
 * not be the one who waits for a connect time-out to find out.  A successful
 * probe only half-opens it: a health endpoint can answer while chat requests
 * still fail, and one trial request settles that at the cost of one request.
 *
 * Cool-downs double after each failed trial, up to 8 times the configured
 * one, so a backend that stays broken is not tried every few seconds, while
 * a probe success still lets it back within one probe interval. */
#include "circuit.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#define CIRCUIT_MAX_BACKOFF 8

const char *circuit_state_name(circuit_state s) {
    return s == CIRCUIT_OPEN ? "open" : s == CIRCUIT_HALF_OPEN ? "half_open" : "closed";
}

const char *circuit_cause(const circuit *c) { return c->cause; }

void circuit_init(circuit *c, const circuit_params *p) {
    assert(p->failures_to_open >= 1 && p->window_ms >= CIRCUIT_BUCKETS && p->cooldown_ms >= 1);
    memset(c, 0, sizeof *c);
    c->cooldown_ms = p->cooldown_ms;
}

static uint64_t bucket_width(const circuit_params *p) { return (uint64_t)p->window_ms / CIRCUIT_BUCKETS; }

static void window_add(circuit *c, const circuit_params *p, uint64_t now, bool ok) {
    uint64_t w = bucket_width(p);
    uint64_t start = now / w * w;
    size_t i = (size_t)(now / w % CIRCUIT_BUCKETS);
    if (c->bucket_start[i] != start) {
        c->bucket_start[i] = start;
        c->bucket_ok[i] = c->bucket_fail[i] = 0;
    }
    if (ok) c->bucket_ok[i]++;
    else c->bucket_fail[i]++;
}

/* True when the window holds enough outcomes and too many failed. */
static bool window_over_rate(const circuit *c, const circuit_params *p, uint64_t now, char *why, size_t cap) {
    uint64_t w = bucket_width(p);
    uint64_t span = (uint64_t)(CIRCUIT_BUCKETS - 1) * w, current = now / w * w;
    uint64_t oldest = current > span ? current - span : 0;
    unsigned ok = 0, fail = 0;
    for (size_t i = 0; i < CIRCUIT_BUCKETS; i++) {
        if (c->bucket_start[i] < oldest || c->bucket_start[i] > now) continue;
        ok += c->bucket_ok[i];
        fail += c->bucket_fail[i];
    }
    if (ok + fail < (unsigned)p->min_requests || ok + fail == 0) return false;
    if ((double)fail / (double)(ok + fail) < p->error_rate) return false;
    snprintf(why, cap, "%u of the last %u requests failed", fail, ok + fail);
    return true;
}

static void set_cause(circuit *c, const char *what, const char *why) {
    snprintf(c->cause, sizeof c->cause, "%s%s%.100s", what, why && *why ? ": " : "", why ? why : "");
}

static void open_circuit(circuit *c, uint64_t now, int cooldown_ms, const char *what, const char *why) {
    c->state = CIRCUIT_OPEN;
    c->cooldown_ms = cooldown_ms;
    c->retry_at_ms = now + (uint64_t)cooldown_ms;
    c->trial_in_flight = false;
    c->consecutive_failures = 0;
    set_cause(c, what, why);
}

static void close_circuit(circuit *c, const circuit_params *p, const char *what) {
    c->state = CIRCUIT_CLOSED;
    c->cooldown_ms = p->cooldown_ms;
    c->trial_in_flight = false;
    c->consecutive_failures = 0;
    memset(c->bucket_start, 0, sizeof c->bucket_start);
    set_cause(c, what, NULL);
}

bool circuit_allows(const circuit *c, uint64_t now) {
    switch (c->state) {
    case CIRCUIT_CLOSED: return true;
    case CIRCUIT_HALF_OPEN: return !c->trial_in_flight;
    case CIRCUIT_OPEN: return now >= c->retry_at_ms;
    }
    return false;
}

uint64_t circuit_wait_ms(const circuit *c, uint64_t now) {
    if (circuit_allows(c, now)) return 0;
    if (c->state == CIRCUIT_OPEN) return c->retry_at_ms - now;
    return (uint64_t)c->cooldown_ms;   /* a trial is out; its time-out bounds the wait */
}

circuit_grant circuit_acquire(circuit *c, uint64_t now, bool *changed) {
    *changed = false;
    if (!circuit_allows(c, now)) return CIRCUIT_DENIED;
    if (c->state == CIRCUIT_CLOSED) return CIRCUIT_GRANTED;
    if (c->state == CIRCUIT_OPEN) {
        c->state = CIRCUIT_HALF_OPEN;
        set_cause(c, "cool-down over", NULL);
        *changed = true;
    }
    c->trial_in_flight = true;
    return CIRCUIT_TRIAL;
}

void circuit_release(circuit *c, bool was_trial) {
    if (was_trial && c->state == CIRCUIT_HALF_OPEN) c->trial_in_flight = false;
}

bool circuit_record(circuit *c, const circuit_params *p, uint64_t now, bool ok, bool was_trial,
                    const char *why) {
    window_add(c, p, now, ok);
    if (c->state != CIRCUIT_CLOSED) {
        /* Outcomes of requests sent before the circuit opened say nothing
         * about the backend now; only the trial decides. */
        if (!was_trial || c->state != CIRCUIT_HALF_OPEN) return false;
        if (ok) {
            close_circuit(c, p, "trial request succeeded");
        } else {
            int next = c->cooldown_ms * 2;
            if (next > p->cooldown_ms * CIRCUIT_MAX_BACKOFF) next = p->cooldown_ms * CIRCUIT_MAX_BACKOFF;
            open_circuit(c, now, next, "trial request failed", why);
        }
        return true;
    }
    if (ok) {
        c->consecutive_failures = 0;
        return false;
    }
    char rate[64];
    if (++c->consecutive_failures >= p->failures_to_open) {
        char what[64];
        snprintf(what, sizeof what, "%d consecutive failures", c->consecutive_failures);
        open_circuit(c, now, p->cooldown_ms, what, why);
        return true;
    }
    if (window_over_rate(c, p, now, rate, sizeof rate)) {
        open_circuit(c, now, p->cooldown_ms, rate, why);
        return true;
    }
    return false;
}

bool circuit_probe(circuit *c, const circuit_params *p, uint64_t now, bool ok, const char *why) {
    if (ok) {
        if (c->state != CIRCUIT_OPEN) return false;
        c->state = CIRCUIT_HALF_OPEN;
        c->trial_in_flight = false;
        set_cause(c, "probe succeeded", NULL);
        return true;
    }
    if (c->state == CIRCUIT_OPEN) {
        /* Still down: the next trial waits for a full cool-down from now. */
        c->retry_at_ms = now + (uint64_t)c->cooldown_ms;
        return false;
    }
    open_circuit(c, now, c->state == CIRCUIT_HALF_OPEN ? c->cooldown_ms : p->cooldown_ms, "probe failed", why);
    return true;
}
