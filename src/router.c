/* router: which backends answer a request, in which order, and why.
 *
 * The decision is a pure function of the configuration, what is known of the
 * backends (circuit, first-byte estimate) and four facts about the request
 * (model name, X-Tiergate-Tier header, complexity score, latency budget), so
 * it can be tested exhaustively and shown by /v1/route exactly as the chat
 * endpoint would act on it.  It runs in four steps:
 *
 * 1. Primary choice.  A model or header naming a tier, or a model naming a
 *    backend, forces that choice ("forced"); the header, when it names a tier,
 *    wins over the model, because it is how an operator or a test overrides a
 *    client.  Otherwise the score against the thresholds picks the cheapest
 *    tier good enough ("complexity"), with a missing tier replaced by the
 *    nearest configured one.
 *
 * 2. Candidates.  The primary tier's backends in configuration order (a forced
 *    backend first), then, when routing.fallback allows it, every other tier in
 *    the fallback order below.  Listing all of them here, rather than letting
 *    dispatch improvise, keeps every retry explainable by one list.
 *
 * 3. Network.  Without a forced choice, a tier above the device whose
 *    usable backends are all expected to take longer than the latency budget
 *    for their first byte gives way to the largest smaller tier that is not
 *    ("slow_network").  The slow tier stays in the list as a fallback: slow
 *    beats nothing.  Estimates never measured count as fast.
 *
 * 4. Availability.  Backends whose circuit is open are left out: the
 *    circuit exists so that no request waits on a backend known to fail.
 *    When that moves the first choice away, the answer comes from somewhere
 *    the client did not ask for, and the reason says so ("offline").  When
 *    it leaves nothing, the answer is an immediate 503.
 *
 * The vehicle's link (router_input.link, issue 15).  The car may know its
 * network is gone or poor before any request fails; its report is believed
 * in the two steps above rather than in a rule of its own, so a request's
 * reason stays the one an operator already reads.  Offline: every backend
 * above the device tier counts as unusable in the availability step (reason
 * "offline", no connect attempt, and the answer cache's needed_out as for an
 * open circuit).  Weak: in the network step every such backend counts as
 * slower than the latency budget, whatever its estimate ("slow_network");
 * with no budget (0) there is no network step, so weak changes nothing, and
 * a forced tier is kept however slow, as always.  Good, or no report:
 * nothing is assumed; estimates and circuits decide as they would.
 *
 * Budget.  When the client is over a spend cap (router_input.budget), the
 * backends with a price are left out of the list, as privacy leaves out the
 * larger tiers, and the reason is "budget" when that moved the first choice;
 * a request that the score sent to a free backend anyway keeps its reason.
 * With budget_reject, a request whose first choice is priced is refused
 * with OpenAI's own answer to an exhausted quota (429 insufficient_quota)
 * instead: some operators would rather their clients knew than got a
 * smaller model's answer.  Budget comes after the network step, so a
 * request that slow_network already moved to a free tier is not refused.
 *
 * Privacy.  A request that must stay on the device (router_input.device_only)
 * gets the device tier whatever the score, model or header asked for, and no
 * other tier in its list, fallback or not: dispatch retries, falls back and
 * hedges only within the list, so nothing else is needed to keep it there.
 * The reason is "privacy" when that moved it; with no usable device backend
 * the answer is a 503 that says why rather than a larger tier.
 *
 * Errors are OpenAI-shaped: an unknown model or a forced tier without
 * backends is 400 model_not_found with a message that lists what would work;
 * a bad header value is 400 invalid_header; no backends at all is 503. */
#include "router.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

/* The tiers to try after each tier, in order.  Up first: a request that was
 * too hard for where it failed is better served by a bigger model, and the
 * edge is nearer and cheaper than the cloud.  The same order names the
 * stand-in for a tier that is not configured: nearest upward, then downward. */
static const tier_t next_tiers[TIER_COUNT][TIER_COUNT - 1] = {
    [TIER_DEVICE] = {TIER_EDGE, TIER_CLOUD},
    [TIER_EDGE] = {TIER_CLOUD, TIER_DEVICE},
    [TIER_CLOUD] = {TIER_EDGE, TIER_DEVICE},
};

/* Longest model name quoted back in an error message, in bytes. */
#define MAX_QUOTED_MODEL 64

/* Sets *out to the tier named s; false when s names none. */
static bool tier_named(const char *s, tier_t *out)
{
    for (int t = 0; t < TIER_COUNT; t++) {
        if (strcmp(s, tier_name((tier_t)t)) == 0) {
            *out = (tier_t)t;
            return true;
        }
    }
    return false;
}

tier_t router_tier_for_score(const config *cfg, double score)
{
    tier_t want;

    assert(cfg != NULL);
    assert(score >= 0.0 && score <= 1.0);
    if (!config_has_tier(cfg, TIER_EDGE)) want = score >= cfg->threshold ? TIER_CLOUD : TIER_DEVICE;
    else if (score < cfg->threshold) want = TIER_DEVICE;
    else want = score >= cfg->cloud_threshold ? TIER_CLOUD : TIER_EDGE;

    if (config_has_tier(cfg, want)) return want;
    for (int i = 0; i < TIER_COUNT - 1; i++)
        if (config_has_tier(cfg, next_tiers[want][i])) return next_tiers[want][i];
    return want;   /* no backend at all; router_decide refuses before this matters */
}

/* Appends tier t's backends in configuration order, except skip. */
static void add_tier(const config *cfg, tier_t t, int skip, router_decision *out)
{
    for (size_t i = 0; i < cfg->nbackends; i++) {
        if (cfg->backends[i].tier != t || (int)i == skip) continue;
        assert(out->ncandidates < ROUTER_MAX_CANDIDATES);
        out->candidates[out->ncandidates++] = (int)i;
    }
}

/* The try order for primary tier t, or for backend forced_backend (>= 0)
 * first; other tiers follow only when fallback is allowed. */
static void list_candidates(const config *cfg, tier_t t, int forced_backend, router_decision *out)
{
    out->ncandidates = 0;
    if (forced_backend >= 0) {
        out->candidates[out->ncandidates++] = forced_backend;
        if (!cfg->fallback) return;
    }
    add_tier(cfg, t, forced_backend, out);
    if (!cfg->fallback) return;
    for (int i = 0; i < TIER_COUNT - 1; i++) add_tier(cfg, next_tiers[t][i], -1, out);
}

/* Leaves out every candidate above the device tier, keeping the order. */
static void keep_device(const config *cfg, router_decision *out)
{
    size_t n = 0;

    for (size_t i = 0; i < out->ncandidates; i++)
        if (cfg->backends[out->candidates[i]].tier == TIER_DEVICE) out->candidates[n++] = out->candidates[i];
    out->ncandidates = n;
}

/* Leaves out the priced backends, keeping the order.  Returns true when
 * that changed the first choice. */
static bool drop_priced(const config *cfg, router_decision *out)
{
    size_t n = 0;
    int first = out->candidates[0];

    for (size_t i = 0; i < out->ncandidates; i++)
        if (!config_backend_priced(&cfg->backends[out->candidates[i]])) out->candidates[n++] = out->candidates[i];
    out->ncandidates = n;
    return n > 0 && out->candidates[0] != first;
}

/* 429 insufficient_quota, as OpenAI answers a spent quota. */
static void over_budget(budget_verdict v, api_error *err)
{
    api_error_set(err, 429, "insufficient_quota", "insufficient_quota", NULL, "%s",
                  v == BUDGET_KEY_SPENT ? "This API key has spent its daily budget for priced models; "
                                          "they are available to it again when the budget day ends"
                  : v == BUDGET_TOTAL_SPENT ? "The gateway has spent its daily budget for priced models; "
                                              "they are available again when the budget day ends"
                                            : "Priced models are unavailable for the rest of the budget day: "
                                              "the gateway's budget state is damaged (an operator can repair it)");
}

/* True when backend i may take a request: its circuit allows it and, for
 * a tier that needs the network, the vehicle does not report it offline. */
static bool reachable(const config *cfg, const router_backend *view, link_state link, int i)
{
    return view[i].usable && !(link == LINK_OFFLINE && cfg->backends[i].tier != TIER_DEVICE);
}

/* Leaves out the backends that are not reachable, keeping the order.
 * Returns true when that changed the first choice. */
static bool drop_unusable(const config *cfg, const router_backend *view, link_state link, router_decision *out)
{
    size_t n = 0;
    int first = out->candidates[0];

    for (size_t i = 0; i < out->ncandidates; i++)
        if (reachable(cfg, view, link, out->candidates[i])) out->candidates[n++] = out->candidates[i];
    out->ncandidates = n;
    return n > 0 && out->candidates[0] != first;
}

/* True when a candidate left is what the request needs (router_decision.needed). */
bool router_meets_need(const config *cfg, const router_decision *d, int backend)
{
    return d->needed_backend >= 0 ? backend == d->needed_backend : cfg->backends[backend].tier == d->needed;
}

static bool serves_need(const config *cfg, const router_decision *d)
{
    for (size_t i = 0; i < d->ncandidates; i++)
        if (router_meets_need(cfg, d, d->candidates[i]))
            return true;
    return false;
}

/* True when tier t has usable backends and every one of them is expected to
 * take longer than budget_ms for its first byte.  Unknown estimates count as
 * fast: a backend that was never measured gets the benefit of the doubt.
 * Over a link reported weak, a tier above the device is slow whatever its
 * estimates say. */
static bool tier_too_slow(const config *cfg, const router_backend *view, link_state link, tier_t t,
                          int budget_ms)
{
    bool any = false, weak = link == LINK_WEAK && t != TIER_DEVICE;

    if (budget_ms <= 0) return false;
    for (size_t i = 0; i < cfg->nbackends; i++) {
        if (cfg->backends[i].tier != t || !view[i].usable) continue;
        if (!weak && view[i].est_first_byte_ms <= budget_ms) return false;
        any = true;
    }
    return any;
}

/* The largest configured tier below t that is not too slow; the device tier
 * (or the smallest configured one) when every one is. */
static tier_t smaller_tier(const config *cfg, const router_backend *view, link_state link, tier_t t,
                           int budget_ms)
{
    tier_t last = t;

    for (int s = (int)t - 1; s >= 0; s--) {
        if (!config_has_tier(cfg, (tier_t)s)) continue;
        last = (tier_t)s;
        if (!tier_too_slow(cfg, view, link, last, budget_ms)) return last;
    }
    return last;
}

/* Length of the longest prefix of s, at most max bytes, that does not cut
 * a UTF-8 sequence: the client's model name is quoted back, shortened. */
static int quotable_length(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n <= max) return (int)n;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
    return (int)n;
}

/* Appends item to the ", "-separated list in buf, or " ..." once the next
 * item would not fit, so an error message stays within its buffer. */
static void list_append(char *buf, size_t cap, const char *item)
{
    size_t used = strlen(buf);
    const char *sep = used ? ", " : "";

    if (used >= 4 && strcmp(buf + used - 4, " ...") == 0) return;
    if (used + strlen(sep) + strlen(item) + 4 < cap) snprintf(buf + used, cap - used, "%s%s", sep, item);
    else snprintf(buf + used, cap - used, " ...");
}

/* 400 model_not_found, naming what the client could have asked for. */
static void model_not_found(const config *cfg, const char *model, api_error *err)
{
    char tiers[64] = "", names[512] = "";

    for (int t = 0; t < TIER_COUNT; t++)
        if (config_has_tier(cfg, (tier_t)t)) list_append(tiers, sizeof tiers, tier_name((tier_t)t));
    for (size_t i = 0; i < cfg->nbackends; i++) list_append(names, sizeof names, cfg->backends[i].name);
    api_error_set(err, 400, "invalid_request_error", "model_not_found", "model",
                  "The model `%.*s` does not exist; use \"auto\", a tier (%s) or a backend (%s)",
                  quotable_length(model, MAX_QUOTED_MODEL), model, tiers, names);
}

/* 503 for a request that may only go to the device tier when none can take it. */
static void private_unavailable(api_error *err)
{
    api_error_set(err, 503, "server_error", "backend_unavailable", NULL,
                  "The request contains personal data and privacy.mode is \"local\", so only the device "
                  "tier may answer it, and no device backend is available");
}

int router_decide(const config *cfg, const router_backend *view, const router_input *in,
                  router_decision *out, api_error *err)
{
    tier_t tier;
    int forced_backend = -1;
    bool forced = true, slow = false, by_language = false;

    assert(cfg != NULL && in != NULL && in->model != NULL && out != NULL && err != NULL);
    assert(view != NULL || cfg->nbackends == 0);
    assert(cfg->nbackends <= ROUTER_MAX_CANDIDATES);

    out->needed = TIER_DEVICE;             /* issue 17: filled below; defined on every 503 */
    out->needed_backend = -1;
    out->needed_out = false;
    out->score = in->score;
    if (cfg->nbackends == 0) {
        api_error_set(err, 503, "server_error", "backend_unavailable", NULL,
                      "No backend is configured to answer this request");
        return -1;
    }

    /* The model: a tier, a backend, or "auto", possibly through an alias.
     * Config validation keeps backend names, aliases, tier names and "auto"
     * apart. */
    const char *model = config_alias_target(cfg, in->model);
    if (tier_named(model, &tier)) {
        if (!config_has_tier(cfg, tier)) {
            model_not_found(cfg, in->model, err);
            return -1;
        }
    } else if ((forced_backend = config_backend_index(cfg, model)) >= 0) {
        tier = cfg->backends[forced_backend].tier;
    } else if (strcmp(model, "auto") == 0) {
        /* A language the classifier did not learn: the policy, not the
         * score, picks the tier ("cloud" as the top score would, "device"
         * as the lowest). */
        by_language = in->unknown_language && cfg->unknown_language != UNKNOWN_LANGUAGE_SCORE;
        tier = router_tier_for_score(cfg, !by_language ? in->score
                                          : cfg->unknown_language == UNKNOWN_LANGUAGE_CLOUD ? 1.0 : 0.0);
        forced = false;
    } else {
        model_not_found(cfg, in->model, err);
        return -1;
    }

    /* The header: "auto" leaves the model's choice, a tier replaces it (a
     * forced backend stays first only when the header names its own tier). */
    if (in->force_tier != NULL && strcmp(in->force_tier, "auto") != 0) {
        tier_t header_tier;
        if (!tier_named(in->force_tier, &header_tier)) {
            api_error_set(err, 400, "invalid_request_error", "invalid_header", NULL,
                          "X-Tiergate-Tier must be \"auto\", \"device\", \"edge\" or \"cloud\"");
            return -1;
        }
        if (!config_has_tier(cfg, header_tier)) {
            api_error_set(err, 400, "invalid_request_error", "invalid_header", NULL,
                          "X-Tiergate-Tier: no backend serves the %s tier", tier_name(header_tier));
            return -1;
        }
        if (header_tier != tier) forced_backend = -1;
        tier = header_tier;
        forced = true;
    }

    bool moved_private = false;
    if (in->device_only) {
        if (!config_has_tier(cfg, TIER_DEVICE)) {
            private_unavailable(err);
            return -1;
        }
        moved_private = tier != TIER_DEVICE;
        if (forced_backend >= 0 && cfg->backends[forced_backend].tier != TIER_DEVICE) forced_backend = -1;
        tier = TIER_DEVICE;
    }

    out->needed = tier;                     /* issue 17: what the answer cache keys and stands in for */
    out->needed_backend = forced_backend;

    /* A client that named a tier gets it however slow; "auto" does not. */
    if (!forced && tier_too_slow(cfg, view, in->link, tier, in->max_first_byte_ms)) {
        tier_t smaller = smaller_tier(cfg, view, in->link, tier, in->max_first_byte_ms);
        slow = smaller != tier;
        tier = smaller;
    }

    list_candidates(cfg, tier, forced_backend, out);
    assert(out->ncandidates >= 1);
    if (in->device_only) keep_device(cfg, out);
    bool moved_budget = false;
    if (in->budget != BUDGET_OK) {
        if (in->budget_reject && config_backend_priced(&cfg->backends[out->candidates[0]])) {
            over_budget(in->budget, err);
            return -1;
        }
        moved_budget = drop_priced(cfg, out);
        if (out->ncandidates == 0) {
            over_budget(in->budget, err);
            return -1;
        }
    }
    out->score = in->score;
    bool had_need = serves_need(cfg, out);
    bool moved = drop_unusable(cfg, view, in->link, out);
    out->needed_out = had_need && !serves_need(cfg, out);
    if (out->ncandidates == 0 && in->device_only) {
        private_unavailable(err);
        return -1;
    }
    if (out->ncandidates == 0) {
        api_error_set(err, 503, "server_error", "backend_unavailable", NULL,
                      in->link == LINK_OFFLINE
                          ? "Every backend that could answer is unavailable (circuit open, or above the device "
                            "tier while the vehicle reports its link offline); retry later"
                          : "Every backend that could answer is unavailable (circuit open); retry later");
        return -1;
    }
    out->reason = moved_private ? "privacy" : moved_budget ? "budget" : moved ? "offline" : slow ? "slow_network"
                  : forced ? "forced" : by_language ? "unknown_language" : "complexity";
    out->tier = cfg->backends[out->candidates[0]].tier;
    return 0;
}
