/* circuit: a circuit breaker for one backend.
 *
 * closed -> open after failures_to_open consecutive failures, after an error
 * rate of at least error_rate over the last window_ms (once min_requests
 * outcomes are in the window), or after a failed health probe.
 * open -> half_open when the cool-down has passed or a probe succeeds.
 * half_open lets one trial request through; its success closes the circuit,
 * its failure opens it again with a doubled cool-down (up to 8 times the
 * configured one).
 *
 * The breaker is pure: time is an argument, nothing is allocated, nothing is
 * logged.  Every call that can change the state returns true when it did, and
 * circuit_cause() says why, so the owner (backends) logs each change once. */
#ifndef TIERGATE_CIRCUIT_H
#define TIERGATE_CIRCUIT_H

#include <stdbool.h>
#include <stdint.h>

typedef enum { CIRCUIT_CLOSED = 0, CIRCUIT_OPEN = 1, CIRCUIT_HALF_OPEN = 2 } circuit_state;

typedef struct circuit_params {
    int failures_to_open;    /* >= 1 */
    double error_rate;       /* (0,1]; 1 means only all-failed windows open */
    int min_requests;        /* outcomes needed in the window before the rate counts */
    int window_ms;           /* >= CIRCUIT_BUCKETS */
    int cooldown_ms;         /* first cool-down; later ones double, up to 8x */
} circuit_params;

#define CIRCUIT_BUCKETS 10

typedef struct circuit {
    circuit_state state;
    int consecutive_failures;
    int cooldown_ms;             /* the cool-down of the current open period */
    uint64_t retry_at_ms;        /* open: when a trial may go */
    bool trial_in_flight;        /* half_open: the one trial is out */
    uint64_t bucket_start[CIRCUIT_BUCKETS];
    unsigned bucket_ok[CIRCUIT_BUCKETS], bucket_fail[CIRCUIT_BUCKETS];
    char cause[128];
} circuit;

void circuit_init(circuit *c, const circuit_params *p);
const char *circuit_state_name(circuit_state s);
/* Why the circuit last changed state ("" before any change). */
const char *circuit_cause(const circuit *c);

/* Whether a request may use the backend at now: closed, or a trial is free
 * (half_open without a trial out, or open past its cool-down).  Pure. */
bool circuit_allows(const circuit *c, uint64_t now);
typedef enum { CIRCUIT_DENIED = 0, CIRCUIT_GRANTED = 1, CIRCUIT_TRIAL = 2 } circuit_grant;

/* Claims the right to send a request at now.  *changed is set when the claim
 * moved open to half_open.  A TRIAL ends with circuit_record() or
 * circuit_release(). */
circuit_grant circuit_acquire(circuit *c, uint64_t now, bool *changed);
/* Gives back a trial whose request ended without an outcome (cancelled). */
void circuit_release(circuit *c, bool was_trial);
/* A request's outcome; why describes a failure.  Returns true on a change. */
bool circuit_record(circuit *c, const circuit_params *p, uint64_t now, bool ok, bool was_trial,
                    const char *why);
/* A health probe's outcome.  Returns true on a change. */
bool circuit_probe(circuit *c, const circuit_params *p, uint64_t now, bool ok, const char *why);
/* Milliseconds until a trial may go, 0 when one may go now. */
uint64_t circuit_wait_ms(const circuit *c, uint64_t now);

#endif
