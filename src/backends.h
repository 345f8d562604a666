/* backends: what the gateway knows about each backend right now.
 *
 * One state per configured backend, indexed like config->backends: its
 * circuit breaker (circuit.h), a hold-off from a Retry-After, and running
 * estimates of its connect time and time to first byte.  The knowledge comes
 * from active probes (GET url+health_path every probe_interval_ms) and from
 * the outcomes and timings of real requests, which dispatch reports.  The
 * router reads it through backends_router_view(); only dispatch and the
 * probes write it.  Every circuit change is logged once, with its cause. */
#ifndef TIERGATE_BACKENDS_H
#define TIERGATE_BACKENDS_H

#include <stdint.h>

#include "circuit.h"
#include "config.h"
#include "router.h"

typedef enum { BACKEND_UNKNOWN = 0, BACKEND_UP = 1, BACKEND_DOWN = 2 } backend_health;

typedef struct backends backends;
struct evloop;
struct upstream;
struct upstream_report;

/* Creates the registry for cfg (borrowed; must outlive the registry). */
backends *backends_new(const config *cfg);
void backends_free(backends *b);
/* Starts periodic probes on loop through up; the first runs at once, except
 * for a backend that inherited its state, which waits one interval. */
int backends_start_probes(backends *b, struct evloop *loop, struct upstream *up);
/* The loop whose clock hold-offs and circuits are read by; probes set it
 * too.  A registry without probes (a unit test of dispatch) needs it. */
void backends_use_clock(backends *b, struct evloop *loop);
/* Stops them, a probe in flight included (a reload retired the registry). */
void backends_stop_probes(backends *b);
/* Starts each backend that prev also has, by the same name and URL, from
 * prev's circuit, hold-off and estimates (a reload). */
void backends_inherit(backends *b, const backends *prev);

/* UNKNOWN before the first outcome, DOWN while the circuit is open. */
backend_health backends_health(const backends *b, size_t i);
const char *backends_health_name(backend_health h);
circuit_state backends_circuit(const backends *b, size_t i);
/* Why the backend is in its state ("probe failed: connection refused"), or "". */
const char *backends_last_error(const backends *b, size_t i);
/* Estimates in milliseconds, 0 while nothing has been measured. */
int backends_est_connect_ms(const backends *b, size_t i);
int backends_est_first_byte_ms(const backends *b, size_t i);
/* True when at least one backend is UP. */
bool backends_any_up(const backends *b);
/* Milliseconds until some backend may take a request again (0: one may now);
 * the backends above the device tier not before network_ms (the time left
 * of a link reported offline; 0: no such wait). */
uint64_t backends_next_usable_ms(const backends *b, uint64_t network_ms);
/* Every backend as /readyz and GET /v1/link show it: an array of
 * {"name","tier","state","circuit","est_connect_ms","est_first_byte_ms"}
 * and "reason" when there is one; NULL when out of memory. */
struct cJSON *backends_json(const backends *b);
/* Fills out[i] for every backend, as of now (the loop's clock). */
void backends_router_view(const backends *b, router_backend *out);

/* A request about to go to backend i: false when its circuit or a hold-off
 * says no.  *trial is set when it goes as the half-open circuit's one trial;
 * the request ends with backends_report() or, if abandoned, backends_release(). */
bool backends_acquire(backends *b, size_t i, bool *trial);
void backends_release(backends *b, size_t i, bool trial);
/* A request's outcome (ok: the backend did its job, a client error
 * included).  why describes a failure. */
void backends_report(backends *b, size_t i, bool trial, bool ok, const char *why);
/* A transfer's timings.  first_byte_counts is false when the first byte
 * measures generation rather than the network (a non-streamed answer);
 * limit_ms is the time limit that applied, the sample for a time-out. */
void backends_observe(backends *b, size_t i, const struct upstream_report *r, bool first_byte_counts,
                      int limit_ms);
/* Keeps requests away from backend i for ms (a Retry-After). */
void backends_hold_off(backends *b, size_t i, int ms);

#endif
