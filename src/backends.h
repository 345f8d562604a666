/* backends: what the gateway knows about each backend's health.
 *
 * One backends_state per configured backend, indexed like config->backends.
 * Health comes from two sources: active probes (GET url+health_path every
 * probe_interval_ms) and the outcome of real requests reported by dispatch.
 * A backend is DOWN after its probe fails or after BACKENDS_FAILS_TO_DOWN
 * consecutive request failures, and UP again after one success of either kind.
 * The router reads the states; only dispatch and the probes write them. */
#ifndef TIERGATE_BACKENDS_H
#define TIERGATE_BACKENDS_H

#include "config.h"

typedef enum { BACKEND_UNKNOWN = 0, BACKEND_UP = 1, BACKEND_DOWN = 2 } backend_health;

#define BACKENDS_FAILS_TO_DOWN 3

typedef struct backends backends;
struct evloop;
struct upstream;

/* Creates the registry for cfg (borrowed; must outlive the registry). */
backends *backends_new(const config *cfg);
void backends_free(backends *b);
/* Starts periodic probes on loop through up; the first runs at once. */
int backends_start_probes(backends *b, struct evloop *loop, struct upstream *up);

size_t backends_count(const backends *b);
backend_health backends_health(const backends *b, size_t i);
const char *backends_health_name(backend_health h);
/* Short reason for the current state ("probe: connection refused"), or "". */
const char *backends_last_error(const backends *b, size_t i);
/* Request outcomes, reported by dispatch.  err is a short reason or NULL. */
void backends_report(backends *b, size_t i, bool ok, const char *err);
/* True when at least one backend is UP. */
bool backends_any_up(const backends *b);

#endif
