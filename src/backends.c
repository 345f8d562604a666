/* backends: circuits, estimates and probes for each backend.
 *
 * State per backend is small and fixed: a circuit (circuit.c decides every
 * transition; this file only feeds it and logs what changed), a hold-off time
 * set by a backend's own Retry-After, and two EWMAs.
 *
 * The estimates are what lets the router act before anything fails: a cloud
 * whose answers start 4 s after the question is no use to someone talking to
 * a car, even though nothing has timed out.  Connect time is pure network and
 * every transfer that opens a connection feeds it.  Time to first byte mixes
 * network and model, so it is fed only where the first byte comes early in
 * the model's work: probes and streams.  A time-out feeds its limit, a lower
 * bound of the truth, so a blackholed backend's estimate rises too.  The
 * weight of a new sample, EWMA_ALPHA, is high enough that three probes after
 * the network recovers bring a 4 s estimate under 1.5 s.
 *
 * Probes use the backend's own limits: a slow network must show as a slow
 * probe (and so as slow_network), not as a failed one, which would open the
 * circuit of a backend that still answers.  The next probe is scheduled when
 * one ends, so probes never overlap. */
#include "backends.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evloop.h"
#include "log.h"
#include "upstream.h"

#define EWMA_ALPHA 0.3

typedef struct ewma {
    double value;
    bool seen;
} ewma;

typedef struct backend_state {
    backends *owner;
    size_t index;
    circuit circuit;
    bool seen_outcome;
    bool inherited;              /* knows what the previous runtime knew: no need to probe at once */
    uint64_t hold_until_ms;
    ewma connect, first_byte;
    evloop_timer probe_timer;
    upstream_xfer *probe;
} backend_state;

struct backends {
    const config *cfg;
    evloop *loop;
    upstream *up;
    backend_state *st;
    size_t n;
};

backends *backends_new(const config *cfg) {
    backends *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->cfg = cfg;
    b->n = cfg->nbackends;
    b->st = calloc(b->n, sizeof *b->st);
    if (!b->st) {
        free(b);
        return NULL;
    }
    for (size_t i = 0; i < b->n; i++) {
        b->st[i].owner = b;
        b->st[i].index = i;
        circuit_init(&b->st[i].circuit, &cfg->circuit);
    }
    return b;
}

void backends_stop_probes(backends *b) {
    for (size_t i = 0; i < b->n; i++) {
        if (b->loop) evloop_timer_stop(b->loop, &b->st[i].probe_timer);
        upstream_cancel(b->st[i].probe);
        b->st[i].probe = NULL;
    }
}

void backends_free(backends *b) {
    if (!b) return;
    backends_stop_probes(b);
    free(b->st);
    free(b);
}

/* Same name and URL: the same server as far as anyone can tell.  A trial out
 * on the old registry is the old one's to settle, so the copy has none. */
void backends_inherit(backends *b, const backends *prev) {
    for (size_t i = 0; i < b->n; i++) {
        const config_backend *cb = &b->cfg->backends[i];
        int j = config_backend_index(prev->cfg, cb->name);
        if (j < 0 || strcmp(prev->cfg->backends[j].url, cb->url) != 0) continue;
        const backend_state *old = &prev->st[j];
        backend_state *s = &b->st[i];
        s->circuit = old->circuit;
        s->circuit.trial_in_flight = false;
        s->seen_outcome = old->seen_outcome;
        s->hold_until_ms = old->hold_until_ms;
        s->connect = old->connect;
        s->first_byte = old->first_byte;
        s->inherited = true;
    }
}

/* Before the loop exists (tests, --check) time stands still at 0. */
static uint64_t now_ms(const backends *b) { return b->loop ? evloop_now_ms(b->loop) : 0; }

circuit_state backends_circuit(const backends *b, size_t i) { return b->st[i].circuit.state; }
const char *backends_last_error(const backends *b, size_t i) { return circuit_cause(&b->st[i].circuit); }
int backends_est_connect_ms(const backends *b, size_t i) { return (int)(b->st[i].connect.value + 0.5); }
int backends_est_first_byte_ms(const backends *b, size_t i) { return (int)(b->st[i].first_byte.value + 0.5); }

/* Half-open counts as up: a probe or the cool-down says it may answer, and
 * the next request will find out. */
backend_health backends_health(const backends *b, size_t i) {
    const backend_state *s = &b->st[i];
    if (s->circuit.state == CIRCUIT_OPEN) return BACKEND_DOWN;
    return s->seen_outcome ? BACKEND_UP : BACKEND_UNKNOWN;
}

const char *backends_health_name(backend_health h) {
    return h == BACKEND_UP ? "up" : h == BACKEND_DOWN ? "down" : "unknown";
}

static bool usable(const backend_state *s, uint64_t now) {
    return now >= s->hold_until_ms && circuit_allows(&s->circuit, now);
}

bool backends_any_up(const backends *b) {
    for (size_t i = 0; i < b->n; i++)
        if (backends_health(b, i) == BACKEND_UP) return true;
    return false;
}

uint64_t backends_next_usable_ms(const backends *b, uint64_t network_ms) {
    uint64_t now = now_ms(b), best = UINT64_MAX;
    for (size_t i = 0; i < b->n; i++) {
        const backend_state *s = &b->st[i];
        uint64_t hold = s->hold_until_ms > now ? s->hold_until_ms - now : 0;
        uint64_t wait = circuit_wait_ms(&s->circuit, now);
        uint64_t w = hold > wait ? hold : wait;
        if (b->cfg->backends[i].tier != TIER_DEVICE && w < network_ms) w = network_ms;
        if (w < best) best = w;
    }
    return best == UINT64_MAX ? 0 : best;
}

void backends_router_view(const backends *b, router_backend *out) {
    uint64_t now = now_ms(b);
    for (size_t i = 0; i < b->n; i++) {
        const backend_state *s = &b->st[i];
        out[i].usable = usable(s, now);
        out[i].est_first_byte_ms = s->first_byte.seen ? backends_est_first_byte_ms(b, i) : 0;
    }
}

cJSON *backends_json(const backends *b) {
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < b->n; i++) {
        const config_backend *cb = &b->cfg->backends[i];
        cJSON *e = cJSON_CreateObject();
        const char *why = backends_last_error(b, i);
        if (!cJSON_AddItemToArray(arr, e) || !cJSON_AddStringToObject(e, "name", cb->name) ||
            !cJSON_AddStringToObject(e, "tier", tier_name(cb->tier)) ||
            !cJSON_AddStringToObject(e, "state", backends_health_name(backends_health(b, i))) ||
            !cJSON_AddStringToObject(e, "circuit", circuit_state_name(backends_circuit(b, i))) ||
            !cJSON_AddNumberToObject(e, "est_connect_ms", backends_est_connect_ms(b, i)) ||
            !cJSON_AddNumberToObject(e, "est_first_byte_ms", backends_est_first_byte_ms(b, i)) ||
            (*why && !cJSON_AddStringToObject(e, "reason", why))) {
            cJSON_Delete(arr);
            return NULL;
        }
    }
    return arr;
}

static void log_change(backend_state *s, circuit_state from) {
    circuit_state to = s->circuit.state;
    cJSON *o = log_begin(to == CIRCUIT_OPEN ? "warn" : "info", "circuit changed");
    if (!o) return;
    cJSON_AddStringToObject(o, "backend", s->owner->cfg->backends[s->index].name);
    cJSON_AddStringToObject(o, "from", circuit_state_name(from));
    cJSON_AddStringToObject(o, "to", circuit_state_name(to));
    cJSON_AddStringToObject(o, "cause", circuit_cause(&s->circuit));
    log_end(o);
}

bool backends_acquire(backends *b, size_t i, bool *trial) {
    backend_state *s = &b->st[i];
    uint64_t now = now_ms(b);
    *trial = false;
    if (now < s->hold_until_ms) return false;
    bool changed;
    circuit_state from = s->circuit.state;
    circuit_grant g = circuit_acquire(&s->circuit, now, &changed);
    if (changed) log_change(s, from);
    *trial = g == CIRCUIT_TRIAL;
    return g != CIRCUIT_DENIED;
}

void backends_release(backends *b, size_t i, bool trial) { circuit_release(&b->st[i].circuit, trial); }

void backends_report(backends *b, size_t i, bool trial, bool ok, const char *why) {
    backend_state *s = &b->st[i];
    circuit_state from = s->circuit.state;
    s->seen_outcome = true;
    if (circuit_record(&s->circuit, &b->cfg->circuit, now_ms(b), ok, trial, why)) log_change(s, from);
}

void backends_hold_off(backends *b, size_t i, int ms) {
    uint64_t until = now_ms(b) + (uint64_t)(ms > 0 ? ms : 0);
    if (until > b->st[i].hold_until_ms) b->st[i].hold_until_ms = until;
}

static void ewma_add(ewma *e, double sample) {
    e->value = e->seen ? EWMA_ALPHA * sample + (1 - EWMA_ALPHA) * e->value : sample;
    e->seen = true;
}

void backends_observe(backends *b, size_t i, const upstream_report *r, bool first_byte_counts, int limit_ms) {
    backend_state *s = &b->st[i];
    if (r->res == UPSTREAM_ERR_CONNECT_TIMEOUT) {
        ewma_add(&s->connect, limit_ms);
        ewma_add(&s->first_byte, limit_ms);
        return;
    }
    if (r->connect_ms >= 0) ewma_add(&s->connect, r->connect_ms);
    if (r->res == UPSTREAM_ERR_FIRST_BYTE_TIMEOUT) ewma_add(&s->first_byte, limit_ms);
    else if (first_byte_counts && r->first_byte_ms >= 0) ewma_add(&s->first_byte, r->first_byte_ms);
}

/* ---- probes ---- */

static int probe_on_headers(void *ud, long status, const char *ct) {
    (void)ud, (void)status, (void)ct;
    return 0;
}

static int probe_on_data(void *ud, const char *d, size_t n) {
    (void)ud, (void)d, (void)n;
    return 0;   /* the body does not matter; the status does */
}

static void probe_on_done(void *ud, const upstream_report *r) {
    backend_state *s = ud;
    backends *b = s->owner;
    const config_backend *cb = &b->cfg->backends[s->index];
    s->probe = NULL;
    bool ok = r->res == UPSTREAM_OK && r->status >= 200 && r->status < 300;
    char why[160];
    if (r->res == UPSTREAM_OK) snprintf(why, sizeof why, "HTTP %ld", r->status);
    else snprintf(why, sizeof why, "%s", r->detail);
    backends_observe(b, s->index, r, true,
                     r->res == UPSTREAM_ERR_CONNECT_TIMEOUT ? cb->connect_ms : cb->first_byte_ms);
    circuit_state from = s->circuit.state;
    s->seen_outcome = true;
    if (circuit_probe(&s->circuit, &b->cfg->circuit, now_ms(b), ok, why)) log_change(s, from);
    evloop_timer_start(b->loop, &s->probe_timer, (uint64_t)b->cfg->probe_interval_ms);
}

static const upstream_callbacks probe_callbacks = {probe_on_headers, probe_on_data, probe_on_done};

static void probe_now(void *ud) {
    backend_state *s = ud;
    backends *b = s->owner;
    const config_backend *cb = &b->cfg->backends[s->index];
    char url[1024];
    snprintf(url, sizeof url, "%s%s", cb->url, cb->health_path);
    upstream_request req = {
        .url = url,
        .bearer = cb->api_key,
        .ca_file = cb->ca_file,
        .insecure = cb->tls_insecure,
        .connect_ms = cb->connect_ms,
        .first_byte_ms = cb->first_byte_ms,
        .idle_ms = cb->idle_ms,
        .total_ms = cb->first_byte_ms + cb->idle_ms,
    };
    s->probe = upstream_start(b->up, &req, &probe_callbacks, s);
    if (!s->probe) evloop_timer_start(b->loop, &s->probe_timer, (uint64_t)b->cfg->probe_interval_ms);
}

void backends_use_clock(backends *b, evloop *loop) { b->loop = loop; }

int backends_start_probes(backends *b, evloop *loop, upstream *up) {
    assert(loop && up);
    b->loop = loop;
    b->up = up;
    for (size_t i = 0; i < b->n; i++) {
        evloop_timer_init(&b->st[i].probe_timer, probe_now, &b->st[i]);
        evloop_timer_start(loop, &b->st[i].probe_timer,
                           b->st[i].inherited ? (uint64_t)b->cfg->probe_interval_ms : 0);
    }
    return 0;
}
