/* bench_route: the routing decision of one request, end to end in memory.
 *
 * Times what the gateway does between the request body and the choice of a
 * backend: limits_check_body, chatreq_parse, limits_check_request, the
 * privacy scan (privacy_call_new), classifier_score on what the privacy
 * call lets the classifier read, and router_decide; then the body sent to
 * the chosen backend (dialect_body).  Two bodies: the yardstick's
 * (../shared/bench/peers.sh: a system line and "Say hello in one short
 * sentence.") and a 2 KB English prompt with a phone number, which redact
 * mode masks.  Each sample is one whole decision timed with CLOCK_MONOTONIC
 * after a warm-up; p50 and p99 in microseconds.  Release build; the
 * argument is a configuration (bench/run.sh writes the bench one from
 * bench/tiergate-bench.json.in and runs this with it). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends.h"
#include "benchlib.h"
#include "classifier.h"
#include "config.h"
#include "limits.h"
#include "privacy.h"
#include "dialect.h"
#include "request.h"
#include "router.h"

#define RUNS 20000

/* One decision; the chosen tier, or NULL when the request was refused. */
static const char *decide(const config *cfg, const classifier *model, const backends *health, const char *body,
                          size_t len, bool with_body) {
    chatreq req;
    api_error err;
    router_decision dec;
    router_backend view[ROUTER_MAX_CANDIDATES];
    if (limits_check_body(cfg, body, len, &err) < 0 || chatreq_parse(body, len, &req, &err) < 0) return NULL;
    privacy_call *priv = limits_check_request(cfg, &req, &err) < 0 ? NULL : privacy_call_new(cfg, &req);
    const char *tier = NULL;
    if (priv) {
        double score = classifier_score(model, privacy_scoring_msgs(priv, &req), req.nmessages, req.ntools);
        backends_router_view(health, view);
        router_input in = {.model = req.model, .score = score, .max_first_byte_ms = cfg->max_first_byte_ms,
                           .device_only = privacy_device_only(priv)};
        if (router_decide(cfg, view, &in, &dec, &err) == 0) {
            tier = tier_name(dec.tier);
            if (with_body) {
                size_t n;
                free(dialect_body(&req, &cfg->backends[dec.candidates[0]], &n));
            }
        }
    }
    privacy_call_free(priv);
    chatreq_free(&req);
    return tier;
}

static void run(const config *cfg, const classifier *model, const backends *health, const char *label,
                const char *body, bool with_body) {
    static double t[RUNS];
    size_t len = strlen(body);
    const char *tier = NULL;
    for (int i = 0; i < 1000; i++) decide(cfg, model, health, body, len, with_body);
    for (int i = 0; i < RUNS; i++) {
        double t0 = bench_now_us();
        tier = decide(cfg, model, health, body, len, with_body);
        t[i] = bench_now_us() - t0;
    }
    qsort(t, RUNS, sizeof t[0], bench_cmp_double);
    printf("%-44s %5zu B -> %-6s p50 %6.2f us  p99 %6.2f us\n", label, len, tier ? tier : "REFUSED", t[RUNS / 2],
           t[RUNS * 99 / 100]);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: bench_route CONFIG\n");
        return 2;
    }
    char err[512];
    config *cfg = config_load(argv[1], err, sizeof err);
    classifier *model = cfg ? classifier_load(cfg->classifier_model, err, sizeof err) : NULL;
    backends *health = model ? backends_new(cfg) : NULL;
    if (!health) {
        fprintf(stderr, "bench_route: %s\n", err);
        return 1;
    }
    static const char yardstick[] =
        "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"system\",\"content\":\"You are a helpful assistant.\"},"
        "{\"role\":\"user\",\"content\":\"Say hello in one short sentence.\"}],\"max_tokens\":32,\"temperature\":0}";
    char long_body[4096], prompt[2100] = "";
    const char *filler = "Please review the quarterly logistics plan for the northern warehouses and list the "
                         "three largest risks with a mitigation for each. ";
    while (strlen(prompt) + strlen(filler) < 1000) strcat(prompt, filler);
    strcat(prompt, "Call me back on +1 415 555 0100 when done. ");
    while (strlen(prompt) + strlen(filler) < 2048) strcat(prompt, filler);
    snprintf(long_body, sizeof long_body,
             "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"%s\"}]}", prompt);
    run(cfg, model, health, "yardstick request: decision", yardstick, false);
    run(cfg, model, health, "yardstick request: decision + upstream body", yardstick, true);
    run(cfg, model, health, "2 KB prompt with a phone: decision", long_body, false);
    run(cfg, model, health, "2 KB prompt with a phone: decision + body", long_body, true);
    backends_free(health);
    classifier_free(model);
    config_free(cfg);
    return 0;
}
