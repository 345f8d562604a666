/* router: which backend answers a request, and why.
 *
 * router_decide() runs the fixed pipeline of DESIGN.md: forced (model name or
 * X-Tiergate-Tier header) -> complexity (score against the thresholds picks the
 * cheapest tier good enough) -> network (a tier whose estimated first byte is
 * over the budget gives way to a smaller one) -> budget (a client over its
 * spend cap loses the priced backends) -> availability (backends whose
 * circuit is open are left out, and the edge and cloud tiers while the
 * vehicle reports its link offline).
 * The result is an ordered list of candidate backends: dispatch tries them in
 * that order.  The router is pure: no I/O, no allocation, no global state. */
#ifndef TIERGATE_ROUTER_H
#define TIERGATE_ROUTER_H

#include <stdbool.h>

#include "apierror.h"
#include "budget.h"
#include "config.h"
#include "linkreport.h"

#define ROUTER_MAX_CANDIDATES 16

/* What the router knows of one backend (filled by backends_router_view). */
typedef struct router_backend {
    bool usable;              /* its circuit (and any Retry-After) lets a request through */
    int est_first_byte_ms;    /* estimated time to first byte; 0 = unknown */
} router_backend;

typedef struct router_input {
    const char *model;        /* the request's "model" */
    const char *force_tier;   /* X-Tiergate-Tier header value, or NULL */
    double score;             /* classifier score in [0,1] */
    bool unknown_language;    /* written in a language the classifier did not learn:
                                 routing.unknown_language decides instead of the score */
    int max_first_byte_ms;    /* latency budget; 0 = none */
    bool device_only;         /* privacy.mode "local" and the request holds personal data */
    budget_verdict budget;    /* BUDGET_OK, or why the priced backends are out */
    bool budget_reject;       /* budget.when_exhausted "reject": 429 rather than a smaller tier */
    link_state link;          /* the vehicle's link report in force (issue 15); LINK_NONE: none */
} router_input;

typedef struct router_decision {
    tier_t tier;              /* tier of candidates[0] */
    const char *reason;       /* static: "forced", "complexity", "unknown_language" (the
                                 routing.unknown_language policy picked the tier), "offline", "slow_network",
                                 "privacy" (device_only moved it to the device tier),
                                 "budget" (the spend cap moved it off a priced backend) */
    double score;
    /* What the request needs, before the network, budget and availability
     * steps: the tier (forced, scored, or the device for privacy) and a
     * forced backend (-1: none).  needed_out: availability left none of it
     * (every such circuit open), so it is unreachable; the answer cache
     * (issue 17) stands in for it.  Also filled on a 503 for open circuits. */
    tier_t needed;
    int needed_backend;
    bool needed_out;
    size_t ncandidates;       /* >= 1 on success */
    int candidates[ROUTER_MAX_CANDIDATES];   /* backend indexes, try order */
} router_decision;

/* view has cfg->nbackends entries.  Returns 0, or -1 with err filled (400
 * model_not_found for an unknown model, 503 backend_unavailable when no
 * backend exists or every candidate's circuit is open; with device_only, when
 * no device backend exists or is usable, a 503 that names privacy; 429
 * insufficient_quota when over budget and the request needs a priced backend
 * (budget_reject) or only priced ones could answer it). */
int router_decide(const config *cfg, const router_backend *view,
                  const router_input *in, router_decision *out, api_error *err);

/* Whether backend is what d needs: the forced backend when one was, else
 * a backend of the needed tier (dispatch's fallback, the answer cache's
 * store and the router's needed_out all ask this). */
bool router_meets_need(const config *cfg, const router_decision *d, int backend);

/* The tier the score alone asks for, given which tiers are configured. */
tier_t router_tier_for_score(const config *cfg, double score);

#endif
