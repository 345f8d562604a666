/* metrics: fixed arrays in, Prometheus text out.
 *
 * The registry is one allocation: METRICS_MAX_BACKENDS slots of counters and
 * a histogram per tier, so recording never allocates and a slot's index stays
 * valid for the registry's life.  Slot 0 is backend "none" at tier "none";
 * its tier index is TIER_COUNT, one past the real tiers.
 *
 * Requests are counted by slot, reason and status together, dense: 12 reasons
 * by 15 statuses is 180 counters a slot, about 92 KB for all slots, which
 * makes recording two scans of short constant tables and an increment, with
 * no hashing and nothing to grow.  Status codes outside the table
 * count as "other"; a client that left before any response counts as 499,
 * the code nginx logs for it.
 *
 * Rendering writes only series that are not zero, in a fixed order, with
 * label values escaped as the format requires (backslash, double quote, line
 * feed) although configured names never need it. */
#include "metrics.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define NTIERS (TIER_COUNT + 1)               /* the tiers and "none" */
#define NBUCKETS_MAX 16

static const char *const reasons[] = {"complexity", "unknown_language", "forced", "fallback", "offline",
                                      "slow_network", "hedge", "failed", "privacy", "budget", "cache",
                                      "degraded", "none"};
#define NREASONS (sizeof reasons / sizeof *reasons)
#define REASON_NONE (NREASONS - 1)

static const int statuses[] = {200, 400, 401, 403, 404, 405, 408, 413, 422, 429, 499, 500, 502, 503, 504};
#define NSTATUSES (sizeof statuses / sizeof *statuses + 1)   /* the last is "other" */
#define STATUS_CLIENT_GONE 499

static const char *const attempt_kinds[DISPATCH_ATTEMPT_KINDS] = {"first", "retry", "fallback", "hedge",
                                                                          "continuation"};
/* Issue 15: how a continuation went (dispatch_sink.on_continued). */
static const char *const cont_outcomes[] = {"completed", "broken", "refused", "failed", "unavailable", "closed"};
#define NCONT (sizeof cont_outcomes / sizeof *cont_outcomes)

/* Upper bounds in microseconds. */
static const uint64_t latency_bounds[] = {5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
                                          2500000, 5000000, 10000000, 30000000, 60000000, 120000000};
static const uint64_t added_bounds[] = {50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000};

typedef struct histogram {
    uint64_t bucket[NBUCKETS_MAX];            /* not cumulative; the last is +Inf */
    uint64_t sum_us, count;
} histogram;

typedef struct slot {
    char *name;                               /* NULL: unused */
    int tier;                                 /* tier_t, or TIER_COUNT for "none" */
    uint64_t requests[NREASONS][NSTATUSES];
    uint64_t attempts[DISPATCH_ATTEMPT_KINDS];
    uint64_t malformed;                       /* malformed events skipped mid-stream */
    uint64_t tokens[2][2];                    /* [input, output][reported, estimated] */
    double cost, savings;
} slot;

struct metrics {
    slot slots[METRICS_MAX_BACKENDS];
    histogram latency[NTIERS], ttfb[NTIERS], added[NTIERS];
    uint64_t refused[NSTATUSES];
    uint64_t continuations[METRICS_MAX_BACKENDS][METRICS_MAX_BACKENDS][NCONT];   /* [from][to][outcome] */
};

static const char *tier_label(int t) { return t == TIER_COUNT ? "none" : tier_name((tier_t)t); }

metrics *metrics_new(void) {
    metrics *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->slots[METRICS_NO_BACKEND].name = strdup("none");
    m->slots[METRICS_NO_BACKEND].tier = TIER_COUNT;
    if (!m->slots[METRICS_NO_BACKEND].name) {
        free(m);
        return NULL;
    }
    return m;
}

void metrics_free(metrics *m) {
    if (!m) return;
    for (size_t i = 0; i < METRICS_MAX_BACKENDS; i++) free(m->slots[i].name);
    free(m);
}

int metrics_backend(metrics *m, const char *name, tier_t tier) {
    for (int i = 1; i < METRICS_MAX_BACKENDS; i++) {
        slot *s = &m->slots[i];
        if (!s->name) {
            if (!(s->name = strdup(name))) return METRICS_NO_BACKEND;
            s->tier = (int)tier;
            return i;
        }
        if (s->tier == (int)tier && strcmp(s->name, name) == 0) return i;
    }
    return METRICS_NO_BACKEND;
}

void metrics_attempt(metrics *m, int slot_index, dispatch_attempt_kind kind) {
    assert(slot_index >= 0 && slot_index < METRICS_MAX_BACKENDS && kind < DISPATCH_ATTEMPT_KINDS);
    m->slots[slot_index].attempts[kind]++;
}

void metrics_malformed(metrics *m, int slot_index, int n) {
    assert(slot_index >= 0 && slot_index < METRICS_MAX_BACKENDS && n >= 0);
    m->slots[slot_index].malformed += (uint64_t)n;
}

void metrics_continuation(metrics *m, int from, int to, const char *outcome) {
    assert(from >= 0 && from < METRICS_MAX_BACKENDS && to >= 0 && to < METRICS_MAX_BACKENDS);
    for (size_t k = 0; k < NCONT; k++)
        if (strcmp(cont_outcomes[k], outcome) == 0) m->continuations[from][to][k]++;
}

static size_t reason_index(const char *reason) {
    for (size_t i = 0; i < NREASONS; i++)
        if (strcmp(reasons[i], reason) == 0) return i;
    assert(!"a reason the metrics do not know");
    return REASON_NONE;
}

static size_t status_index(int status) {
    if (status == 0) status = STATUS_CLIENT_GONE;
    for (size_t i = 0; i < NSTATUSES - 1; i++)
        if (statuses[i] == status) return i;
    return NSTATUSES - 1;
}

void metrics_refused(metrics *m, int status) { m->refused[status_index(status)]++; }

static void observe(histogram *h, const uint64_t *bounds, size_t nbounds, uint64_t us) {
    size_t i = 0;
    while (i < nbounds && us > bounds[i]) i++;
    h->bucket[i]++;
    h->sum_us += us;
    h->count++;
}

#define NBOUNDS(a) (sizeof a / sizeof *a)

void metrics_request_done(metrics *m, const metrics_request *r) {
    assert(r->slot >= 0 && r->slot < METRICS_MAX_BACKENDS && m->slots[r->slot].name);
    slot *s = &m->slots[r->slot];
    s->requests[reason_index(r->reason)][status_index(r->status)]++;
    observe(&m->latency[s->tier], latency_bounds, NBOUNDS(latency_bounds), r->latency_us);
    if (r->ttfb_us) observe(&m->ttfb[s->tier], latency_bounds, NBOUNDS(latency_bounds), r->ttfb_us);
    observe(&m->added[s->tier], added_bounds, NBOUNDS(added_bounds), r->added_us);
    if (!r->answered) return;
    s->tokens[0][r->tokens.input_estimated] += (uint64_t)r->tokens.input_tokens;
    s->tokens[1][r->tokens.output_estimated] += (uint64_t)r->tokens.output_tokens;
    s->cost += r->cost;
    s->savings += r->savings;
}

/* ---- the text ---- */

typedef struct out {
    buf b;
    bool failed;
} out;

__attribute__((format(printf, 2, 3)))
static void put(out *o, const char *fmt, ...) {
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        o->failed = true;
        return;
    }
    char *text = small;
    if ((size_t)n >= sizeof small) {
        if (!(text = malloc((size_t)n + 1))) {
            o->failed = true;
            return;
        }
        va_start(ap, fmt);
        vsnprintf(text, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    if (!buf_append(&o->b, text, (size_t)n, 0)) o->failed = true;
    if (text != small) free(text);
}

/* A label value between double quotes, escaped. */
static void put_value(out *o, const char *v) {
    put(o, "\"");
    for (const char *p = v; *p; p++) {
        size_t plain = strcspn(p, "\\\"\n");
        if (plain) {
            if (!buf_append(&o->b, p, plain, 0)) o->failed = true;
            p += plain;
            if (!*p) break;
        }
        put(o, "%s", *p == '\n' ? "\\n" : *p == '"' ? "\\\"" : "\\\\");
    }
    put(o, "\"");
}

static void head(out *o, const char *name, const char *type, const char *help) {
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{tier="…",backend="…"  (the caller closes the braces) */
static void series(out *o, const char *name, const slot *s) {
    put(o, "%s{tier=\"%s\",backend=", name, tier_label(s->tier));
    put_value(o, s->name);
}

static void render_requests(out *o, const metrics *m) {
    head(o, "tiergate_requests_total", "counter",
         "Chat completion requests by the tier, backend and reason of their answer (the X-Tiergate-* "
         "headers) and the HTTP status sent (499: the client left first).");
    for (size_t i = 0; i < METRICS_MAX_BACKENDS && m->slots[i].name; i++)
        for (size_t r = 0; r < NREASONS; r++)
            for (size_t st = 0; st < NSTATUSES; st++) {
                uint64_t v = m->slots[i].requests[r][st];
                if (!v) continue;
                series(o, "tiergate_requests_total", &m->slots[i]);
                if (st < NSTATUSES - 1) put(o, ",reason=\"%s\",status=\"%d\"} %llu\n", reasons[r], statuses[st],
                                            (unsigned long long)v);
                else put(o, ",reason=\"%s\",status=\"other\"} %llu\n", reasons[r], (unsigned long long)v);
            }
}

static void render_refused(out *o, const metrics *m) {
    head(o, "tiergate_refused_total", "counter",
         "Requests the gateway answered itself before any handler ran, by the HTTP status sent: 401 no "
         "or unknown client key, 404 and 405 unknown path or method, 413 body over the limit, 429 the "
         "key's requests in flight at their limit, 503 draining.");
    for (size_t st = 0; st < NSTATUSES; st++) {
        if (!m->refused[st]) continue;
        if (st < NSTATUSES - 1) put(o, "tiergate_refused_total{status=\"%d\"} %llu\n", statuses[st],
                                    (unsigned long long)m->refused[st]);
        else put(o, "tiergate_refused_total{status=\"other\"} %llu\n", (unsigned long long)m->refused[st]);
    }
}

static void render_histogram(out *o, const char *name, const char *help, const histogram *h,
                             const uint64_t *bounds, size_t nbounds) {
    head(o, name, "histogram", help);
    for (int t = 0; t < NTIERS; t++) {
        if (!h[t].count) continue;
        uint64_t cumulative = 0;
        for (size_t i = 0; i < nbounds; i++) {
            cumulative += h[t].bucket[i];
            put(o, "%s_bucket{tier=\"%s\",le=\"%g\"} %llu\n", name, tier_label(t), (double)bounds[i] / 1e6,
                (unsigned long long)cumulative);
        }
        put(o, "%s_bucket{tier=\"%s\",le=\"+Inf\"} %llu\n", name, tier_label(t), (unsigned long long)h[t].count);
        put(o, "%s_sum{tier=\"%s\"} %.6f\n", name, tier_label(t), (double)h[t].sum_us / 1e6);
        put(o, "%s_count{tier=\"%s\"} %llu\n", name, tier_label(t), (unsigned long long)h[t].count);
    }
}

/* Cost or savings, per slot. */
static void render_money(out *o, const metrics *m, const char *name, bool savings, const char *help) {
    head(o, name, "counter", help);
    for (size_t i = 0; i < METRICS_MAX_BACKENDS && m->slots[i].name; i++) {
        double v = savings ? m->slots[i].savings : m->slots[i].cost;
        if (!v) continue;
        series(o, name, &m->slots[i]);
        put(o, "} %.15g\n", v);
    }
}

static void render_backends(out *o, const metrics *m) {
    static const char *const dirs[2] = {"input", "output"}, *const sources[2] = {"reported", "estimated"};
    head(o, "tiergate_upstream_attempts_total", "counter",
         "Attempts on each backend, by why they were made: first, retry (the same backend again), "
         "fallback (a later candidate), hedge (a later candidate alongside a slow one), continuation (a later "
         "candidate continuing a stream that broke).");
    for (size_t i = 0; i < METRICS_MAX_BACKENDS && m->slots[i].name; i++)
        for (size_t k = 0; k < DISPATCH_ATTEMPT_KINDS; k++) {
            if (!m->slots[i].attempts[k]) continue;
            series(o, "tiergate_upstream_attempts_total", &m->slots[i]);
            put(o, ",kind=\"%s\"} %llu\n", attempt_kinds[k], (unsigned long long)m->slots[i].attempts[k]);
        }
    head(o, "tiergate_upstream_malformed_events_total", "counter",
         "Events in the middle of a stream that were not JSON, skipped (the stream went on).");
    for (size_t i = 0; i < METRICS_MAX_BACKENDS && m->slots[i].name; i++) {
        if (!m->slots[i].malformed) continue;
        put(o, "tiergate_upstream_malformed_events_total{backend=");
        put_value(o, m->slots[i].name);
        put(o, "} %llu\n", (unsigned long long)m->slots[i].malformed);
    }
    head(o, "tiergate_continuations_total", "counter",
         "Streams that broke after their first byte and were continued from the backend that broke (from) "
         "on another (to; \"none\" when none could), by outcome: completed, broken (it broke in turn), "
         "refused (a 4xx, or it started over), failed (before its first byte), unavailable, closed (it broke "
         "after whole tool calls and the gateway ended the turn).");
    for (size_t f = 0; f < METRICS_MAX_BACKENDS && m->slots[f].name; f++)
        for (size_t t = 0; t < METRICS_MAX_BACKENDS && m->slots[t].name; t++)
            for (size_t k = 0; k < NCONT; k++) {
                if (!m->continuations[f][t][k]) continue;
                put(o, "tiergate_continuations_total{from=");
                put_value(o, m->slots[f].name);
                put(o, ",to=");
                put_value(o, m->slots[t].name);
                put(o, ",outcome=\"%s\"} %llu\n", cont_outcomes[k], (unsigned long long)m->continuations[f][t][k]);
            }
    head(o, "tiergate_tokens_total", "counter",
         "Tokens of the answered requests by backend, direction (input: prompt, output: completion) "
         "and source (reported by the backend, or estimated where it reported none).");
    for (size_t i = 0; i < METRICS_MAX_BACKENDS && m->slots[i].name; i++)
        for (size_t d = 0; d < 2; d++)
            for (size_t src = 0; src < 2; src++) {
                if (!m->slots[i].tokens[d][src]) continue;
                series(o, "tiergate_tokens_total", &m->slots[i]);
                put(o, ",direction=\"%s\",source=\"%s\"} %llu\n", dirs[d], sources[src],
                    (unsigned long long)m->slots[i].tokens[d][src]);
            }
    render_money(o, m, "tiergate_cost_total", false,
                 "Estimated cost of the answered requests at each backend's price (backends[].price), "
                 "in the currency of the prices.");
    render_money(o, m, "tiergate_savings_total", true,
                 "What the requests answered by a tier below the cloud would have cost at the first cloud "
                 "backend's price, by the backend that answered them instead.");
}

/* name{tier,backend,state}: 1 for each backend's state, 0 for the other
 * two; health's and circuit's three states are their enums' 0, 1, 2. */
static void render_one_hot(out *o, const char *name, const metrics_backend_state *now, size_t n, bool health) {
    for (size_t i = 0; i < n; i++)
        for (int st = 0; st < 3; st++) {
            int cur = health ? (int)now[i].health : (int)now[i].circuit;
            put(o, "%s{tier=\"%s\",backend=", name, tier_name(now[i].tier));
            put_value(o, now[i].name);
            put(o, ",state=\"%s\"} %d\n",
                health ? backends_health_name((backend_health)st) : circuit_state_name((circuit_state)st), cur == st);
        }
}

static void render_gauges(out *o, const metrics_backend_state *now, size_t n) {
    head(o, "tiergate_backend_health", "gauge",
         "1 for each configured backend's current health state (unknown, up, down), 0 for the others.");
    render_one_hot(o, "tiergate_backend_health", now, n, true);
    head(o, "tiergate_backend_circuit_state", "gauge",
         "1 for each configured backend's current circuit breaker state (closed, open, half_open), "
         "0 for the others.");
    render_one_hot(o, "tiergate_backend_circuit_state", now, n, false);
    head(o, "tiergate_build_info", "gauge", "Always 1; the version of the running gateway.");
    put(o, "tiergate_build_info{version=\"%s\"} 1\n", TIERGATE_VERSION);
}

char *metrics_render(const metrics *m, const metrics_backend_state *now, size_t n, size_t *len) {
    out o = {{0}, false};
    render_requests(&o, m);
    render_refused(&o, m);
    render_histogram(&o, "tiergate_request_duration_seconds",
                     "Time from a chat completion request's arrival to its end, by the tier that answered.",
                     m->latency, latency_bounds, NBOUNDS(latency_bounds));
    render_histogram(&o, "tiergate_time_to_first_byte_seconds",
                     "Time from a chat completion request's arrival to the first byte of its response, by tier.",
                     m->ttfb, latency_bounds, NBOUNDS(latency_bounds));
    render_histogram(&o, "tiergate_gateway_added_seconds",
                     "The gateway's own time in a request: to its first byte, less the time spent waiting "
                     "for backends (attempts in flight, retry back-offs).",
                     m->added, added_bounds, NBOUNDS(added_bounds));
    render_backends(&o, m);
    render_gauges(&o, now, n);
    if (o.failed) {
        buf_free(&o.b);
        return NULL;
    }
    assert(o.b.off == 0);
    *len = o.b.len;
    return o.b.p;
}
