/* front: the half of a request that every model endpoint shares, from the
 * body to a routing decision: limits, parsing, the privacy scan, the score,
 * the language, the router.  /v1/route stops there and shows the decision;
 * the chat endpoint carries it out.  One function, so the two can never
 * disagree about where a request would go.
 *
 * Refusals are answered here (400s, 413, 429 with the budget's headers, 503
 * with a Retry-After from the backends' and the link report's waits), except
 * that a 503 for want of a backend is first offered to the caller's rescue
 * (the answer cache and the degraded reply), which may answer instead. */
#include "front.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "classifier.h"
#include "limits.h"

/* A header with a whole number of milliseconds from min to max, or def when
 * absent.  Returns -1 with err filled when present but not such a number. */
static int header_ms(server_exchange *ex, const char *name, int min, int max, int def, int *out,
                     api_error *err) {
    const char *v = server_ex_header(ex, name);
    *out = def;
    if (!v) return 0;
    char *end;
    long n = strtol(v, &end, 10);
    if (end == v || *end || n < min || n > max) {
        api_error_set(err, 400, "invalid_request_error", "invalid_header", NULL,
                      "%s must be a whole number of milliseconds from %d to %d", name, min, max);
        return -1;
    }
    *out = (int)n;
    return 0;
}

/* The score, and when why is not NULL its explanation: /v1/route wants it,
 * the chat endpoint only needs the score, which costs less.  Both read the
 * text with personal data masked (privacy.h).  -1 when out of memory. */
static int score_request(const classifier *model, const chatreq *req, const privacy_call *priv,
                         classifier_explanation *why, double *score) {
    const feature_message *msgs = privacy_scoring_msgs(priv, req);
    if (!why) {
        *score = classifier_score(model, msgs, req->nmessages, req->ntools);
        return 0;
    }
    if (classifier_explain(model, msgs, req->nmessages, req->ntools, why) < 0) return -1;
    *score = why->score;
    return 0;
}

/* A refusal for the budget: when to come back, and that retrying sooner is
 * pointless. */
static void budget_headers(const budgetstore *store, server_exchange *ex) {
    char after[24];
    snprintf(after, sizeof after, "%lld", (long long)budgetstore_seconds_left(store));
    server_ex_add_header(ex, "Retry-After", after);
    server_ex_add_header(ex, "X-Should-Retry", "false");
}

int front_decide(const front_env *env, server_exchange *ex, chatreq *req, privacy_call **priv,
                 classifier_explanation *why, router_decision *dec, int *deadline_ms, const char **reason,
                 langid_lang *lang) {
    const runtime *rt = env->rt;
    const budgetstore *store = env->budget;
    const linkreport *link = env->link;
    const config *cfg = runtime_config(rt);
    backends *health = runtime_backends(rt);
    size_t len;
    const char *body = server_ex_body(ex, &len);
    api_error err;
    if (limits_check_body(cfg, body, len, &err) < 0 || chatreq_parse(body, len, req, &err) < 0) {
        server_ex_reply_error(ex, &err);
        return -1;
    }
    if (limits_check_request(cfg, req, &err) < 0) {
        server_ex_reply_error(ex, &err);
        chatreq_free(req);
        return -1;
    }
    double score;
    *priv = privacy_call_new(cfg, req);
    if (!*priv || score_request(runtime_classifier(rt), req, *priv, why, &score) < 0) {
        server_ex_fail_oom(ex);
        chatreq_free(req);
        privacy_call_free(*priv);
        return -1;
    }
    const classifier *model = runtime_classifier(rt);
    *lang = classifier_language(model, privacy_scoring_msgs(*priv, req), req->nmessages);
    server_ex_log_str(ex, "lang", langid_code(*lang));
    if (privacy_found(*priv)) {
        char kinds[256];
        privacy_kinds_str(cfg, privacy_found(*priv), kinds, sizeof kinds);
        server_ex_log_str(ex, "pii", kinds);
    }
    router_backend view[ROUTER_MAX_CANDIDATES];
    backends_router_view(health, view);
    router_input in = {
        .model = req->model,
        .force_tier = server_ex_header(ex, "X-Tiergate-Tier"),
        .score = score,
        .unknown_language = !classifier_learned(model, *lang),
        .device_only = privacy_device_only(*priv),
        .budget = store ? budgetstore_verdict(store, server_ex_client(ex)) : BUDGET_OK,
        .budget_reject = cfg->budget.reject,
        .link = linkreport_state(link),
    };
    /* A client may shorten the operator's deadline, never extend it. */
    if (header_ms(ex, "X-Tiergate-Max-First-Byte-Ms", 0, 3600000, cfg->max_first_byte_ms,
                  &in.max_first_byte_ms, &err) < 0 ||
        header_ms(ex, "X-Tiergate-Deadline-Ms", 1, cfg->deadline_ms, cfg->deadline_ms, deadline_ms,
                  &err) < 0 ||
        router_decide(cfg, view, &in, dec, &err) < 0) {
        if (env->rescue && err.status == 503 && env->rescue(env->rescue_ctx, req, *priv)) {
            chatreq_free(req);
            privacy_call_free(*priv);
            return -1;
        }
        bool refused = err.status == 429 && in.budget != BUDGET_OK;
        *reason = refused ? "budget" : "none";
        server_ex_set_route(ex, "none", "none", *reason, score);
        if (refused) budget_headers(store, ex);
        if (err.status == 503) {
            char after[24];
            uint64_t wait = backends_next_usable_ms(health, linkreport_offline_ms(link));
            snprintf(after, sizeof after, "%llu", (unsigned long long)(wait + 999) / 1000);
            server_ex_add_header(ex, "Retry-After", after);
        }
        server_ex_reply_error(ex, &err);
        chatreq_free(req);
        privacy_call_free(*priv);
        return -1;
    }
    return 0;
}
