/* backends: health of each backend, from probes and from real traffic.
 *
 * The rule is deliberately simple and symmetric: one failed probe or
 * BACKENDS_FAILS_TO_DOWN failed requests in a row make a backend DOWN; one
 * success of either kind makes it UP.  Probes matter most for the case the
 * gateway exists for: a cloud that went away in a tunnel is known to be down
 * before a user's request has to find out by waiting.  Probes use the
 * backend's own connect limit and a first-byte limit of at most the probe
 * interval, so a probe can never outlive the next one. */
#include "backends.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evloop.h"
#include "log.h"
#include "upstream.h"

#include <cjson/cJSON.h>

typedef struct backend_state {
    backends *owner;
    size_t index;
    backend_health health;
    int consecutive_failures;
    char last_error[128];
    evloop_timer probe_timer;
    upstream_xfer *probe;
    long probe_status;
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
    }
    return b;
}

void backends_free(backends *b) {
    if (!b) return;
    for (size_t i = 0; i < b->n; i++) {
        if (b->loop) evloop_timer_stop(b->loop, &b->st[i].probe_timer);
        upstream_cancel(b->st[i].probe);
    }
    free(b->st);
    free(b);
}

size_t backends_count(const backends *b) { return b->n; }
backend_health backends_health(const backends *b, size_t i) { return b->st[i].health; }
const char *backends_last_error(const backends *b, size_t i) { return b->st[i].last_error; }

const char *backends_health_name(backend_health h) {
    return h == BACKEND_UP ? "up" : h == BACKEND_DOWN ? "down" : "unknown";
}

bool backends_any_up(const backends *b) {
    for (size_t i = 0; i < b->n; i++)
        if (b->st[i].health == BACKEND_UP) return true;
    return false;
}

static void set_health(backend_state *s, backend_health h, const char *why) {
    if (why) snprintf(s->last_error, sizeof s->last_error, "%s", why);
    else s->last_error[0] = '\0';
    if (s->health == h) return;
    backend_health old = s->health;
    s->health = h;
    cJSON *o = log_begin(h == BACKEND_DOWN ? "warn" : "info", "backend health changed");
    if (!o) return;
    cJSON_AddStringToObject(o, "backend", s->owner->cfg->backends[s->index].name);
    cJSON_AddStringToObject(o, "from", backends_health_name(old));
    cJSON_AddStringToObject(o, "to", backends_health_name(h));
    if (why) cJSON_AddStringToObject(o, "cause", why);
    log_end(o);
}

void backends_report(backends *b, size_t i, bool ok, const char *err) {
    backend_state *s = &b->st[i];
    if (ok) {
        s->consecutive_failures = 0;
        set_health(s, BACKEND_UP, NULL);
        return;
    }
    if (++s->consecutive_failures >= BACKENDS_FAILS_TO_DOWN) {
        char why[128];
        snprintf(why, sizeof why, "%d failed requests: %s", s->consecutive_failures, err ? err : "error");
        set_health(s, BACKEND_DOWN, why);
    }
}

/* ---- probes ---- */

static int probe_on_headers(void *ud, long status, const char *ct) {
    (void)ct;
    ((backend_state *)ud)->probe_status = status;
    return 0;
}

static int probe_on_data(void *ud, const char *d, size_t n) {
    (void)ud, (void)d, (void)n;
    return 0;   /* the body does not matter; the status does */
}

static void probe_on_done(void *ud, upstream_result res, long status, const char *detail) {
    backend_state *s = ud;
    s->probe = NULL;
    char why[sizeof s->last_error];   /* what set_health keeps of it */
    if (res == UPSTREAM_OK && status >= 200 && status < 300) {
        s->consecutive_failures = 0;
        set_health(s, BACKEND_UP, NULL);
    } else {
        if (res == UPSTREAM_OK) snprintf(why, sizeof why, "probe: HTTP %ld", status);
        else snprintf(why, sizeof why, "probe: %s", detail);
        set_health(s, BACKEND_DOWN, why);
    }
    evloop_timer_start(s->owner->loop, &s->probe_timer, (uint64_t)s->owner->cfg->probe_interval_ms);
}

static const upstream_callbacks probe_callbacks = {probe_on_headers, probe_on_data, probe_on_done};

static void probe_now(void *ud) {
    backend_state *s = ud;
    backends *b = s->owner;
    const config_backend *cb = &b->cfg->backends[s->index];
    char url[1024];
    snprintf(url, sizeof url, "%s%s", cb->url, cb->health_path);
    int limit = b->cfg->probe_interval_ms;
    upstream_request req = {
        .url = url,
        .bearer = cb->api_key,
        .connect_ms = cb->connect_ms < limit ? cb->connect_ms : limit,
        .first_byte_ms = cb->first_byte_ms < limit ? cb->first_byte_ms : limit,
        .idle_ms = limit,
        .total_ms = limit,
    };
    s->probe_status = 0;
    s->probe = upstream_start(b->up, &req, &probe_callbacks, s);
    if (!s->probe) evloop_timer_start(b->loop, &s->probe_timer, (uint64_t)limit);
}

int backends_start_probes(backends *b, evloop *loop, upstream *up) {
    b->loop = loop;
    b->up = up;
    for (size_t i = 0; i < b->n; i++) {
        evloop_timer_init(&b->st[i].probe_timer, probe_now, &b->st[i]);
        evloop_timer_start(loop, &b->st[i].probe_timer, 0);
    }
    return 0;
}
