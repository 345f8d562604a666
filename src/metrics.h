/* metrics: the gateway's counters and histograms, and their Prometheus text.
 *
 * One registry lives as long as the process: main owns it, and it outlives
 * configuration reloads, so a counter never goes back to zero while the
 * gateway runs.  Per-backend series are keyed by the backend's name and tier
 * and created on first use; a reload that removes or renames a backend leaves
 * its old series as they were (Prometheus expects counters to persist), and
 * a new name gets new ones.  The number of such series over a process's
 * life is bounded (METRICS_MAX_BACKENDS); past it, new names count under
 * backend "none".
 *
 * The hot path only adds numbers: a request is recorded by indexes (its
 * backend's slot found once; the status and reason looked up in short
 * fixed tables), into fixed arrays,
 * with no allocation, no lock (one thread) and no formatting.  Text is made
 * only when /metrics is scraped, and only for series that are not zero.
 * Histograms keep their sums in microseconds, so sums are exact.
 *
 * Metric names, labels and meanings: docs/operations.md. */
#ifndef TIERGATE_METRICS_H
#define TIERGATE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backends.h"
#include "circuit.h"
#include "config.h"
#include "dispatch.h"
#include "usage.h"

#define METRICS_MAX_BACKENDS 64
/* The slot of backend "none" (tier "none"): requests no backend answered. */
#define METRICS_NO_BACKEND 0

typedef struct metrics metrics;

/* One chat completion request, when it is over. */
typedef struct metrics_request {
    int slot;                    /* the backend of X-Tiergate-Backend */
    const char *reason;          /* as in X-Tiergate-Reason */
    int status;                  /* the HTTP status sent; 0 when the client left before it */
    uint64_t latency_us;         /* from the request's arrival to its end */
    uint64_t ttfb_us;            /* to the first byte given to the client; 0: none was */
    uint64_t added_us;           /* the gateway's own time (docs/operations.md) */
    bool answered;               /* a backend answered, so tokens and cost count */
    usage tokens;
    double cost;                 /* at the answering backend's price */
    double savings;              /* at the cloud price, when a smaller tier answered */
} metrics_request;

/* What a configured backend is now, for the gauges. */
typedef struct metrics_backend_state {
    const char *name;
    tier_t tier;
    backend_health health;
    circuit_state circuit;
} metrics_backend_state;

/* NULL when out of memory. */
metrics *metrics_new(void);
void metrics_free(metrics *m);

/* The slot of the backend called name at tier, made on first use (a scan
 * of the slots in use: cheap enough for once or twice a request).
 * METRICS_NO_BACKEND when the registry is full or out of memory. */
int metrics_backend(metrics *m, const char *name, tier_t tier);

void metrics_attempt(metrics *m, int slot, dispatch_attempt_kind kind);
/* Issue 15: n malformed events skipped in a stream from the backend of slot. */
void metrics_malformed(metrics *m, int slot, int n);
/* Issue 15: a continuation from the backend of slot from on that of slot to
 * (METRICS_NO_BACKEND: none could), outcome as dispatch_sink.on_continued. */
void metrics_continuation(metrics *m, int from, int to, const char *outcome);
void metrics_request_done(metrics *m, const metrics_request *r);
/* A request the server answered itself, before any handler (a missing key,
 * an unknown path, a body over the limit, ...), by the status it sent. */
void metrics_refused(metrics *m, int status);

/* The Prometheus text exposition (format 0.0.4) of everything counted, with
 * the gauges of the n backends in now; malloc'd, NUL-terminated, its length
 * in *len.  NULL when out of memory. */
char *metrics_render(const metrics *m, const metrics_backend_state *now, size_t n, size_t *len);

#endif
