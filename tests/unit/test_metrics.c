/* metrics: slots by name and tier, what a request adds, and the Prometheus
 * text: escaping of label values, cumulative buckets, +Inf, _sum and _count,
 * zero series left out, one-hot gauges. */
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "testlib.h"

/* Whether text has line as a whole line. */
static int has_line(const char *text, const char *line) {
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)); p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n') return 1;
    fprintf(stderr, "  missing line: %s\n", line);
    return 0;
}

static char *render(const metrics *m, const metrics_backend_state *now, size_t n) {
    size_t len = 0;
    char *text = metrics_render(m, now, n, &len);
    CHECK(text != NULL);
    CHECK_INT(strlen(text), len);
    return text;
}

static void test_slots(void) {
    metrics *m = metrics_new();
    CHECK(m != NULL);
    int dev = metrics_backend(m, "local", TIER_DEVICE);
    CHECK(dev != METRICS_NO_BACKEND);
    CHECK_INT(metrics_backend(m, "local", TIER_DEVICE), dev);
    int moved = metrics_backend(m, "local", TIER_EDGE);      /* a reload moved it to another tier */
    CHECK(moved != dev && moved != METRICS_NO_BACKEND);
    char name[32];
    int last = 0;
    for (int i = 0; i < METRICS_MAX_BACKENDS; i++) {
        snprintf(name, sizeof name, "b%d", i);
        last = metrics_backend(m, name, TIER_CLOUD);
    }
    CHECK_INT(last, METRICS_NO_BACKEND);                    /* full: counted under "none" */
    CHECK_INT(metrics_backend(m, "local", TIER_DEVICE), dev);
    metrics_free(m);
    metrics_free(NULL);
}

static void test_requests_and_histograms(void) {
    metrics *m = metrics_new();
    int dev = metrics_backend(m, "local", TIER_DEVICE), cloud = metrics_backend(m, "bigcloud", TIER_CLOUD);
    metrics_request ok = {.slot = dev, .reason = "complexity", .status = 200, .latency_us = 3000,
                          .ttfb_us = 2000, .added_us = 40, .answered = true,
                          .tokens = {.input_tokens = 30, .output_tokens = 7}, .cost = 0, .savings = 0.25};
    metrics_request_done(m, &ok);
    ok.latency_us = 30000;                                   /* lands in le="0.05" */
    ok.added_us = 300;
    ok.tokens.output_estimated = true;
    metrics_request_done(m, &ok);
    metrics_request busy = {.slot = METRICS_NO_BACKEND, .reason = "none", .status = 400, .latency_us = 500,
                            .ttfb_us = 450, .added_us = 450};
    metrics_request_done(m, &busy);
    metrics_request gone = {.slot = cloud, .reason = "fallback", .status = 0, .latency_us = 200000000,
                            .added_us = 1000000, .answered = true,
                            .tokens = {.input_tokens = 10, .output_tokens = 3, .input_estimated = true,
                                       .output_estimated = true}, .cost = 0.125};
    metrics_request_done(m, &gone);
    metrics_request odd = {.slot = cloud, .reason = "failed", .status = 418, .latency_us = 1};
    metrics_request_done(m, &odd);
    metrics_attempt(m, cloud, DISPATCH_RETRY);
    metrics_attempt(m, cloud, DISPATCH_RETRY);
    metrics_attempt(m, dev, DISPATCH_HEDGE);

    char *t = render(m, NULL, 0);
    CHECK(has_line(t, "# HELP tiergate_requests_total Chat completion requests by the tier, backend and reason "
                      "of their answer (the X-Tiergate-* headers) and the HTTP status sent (499: the client left first)."));
    CHECK(has_line(t, "# TYPE tiergate_requests_total counter"));
    CHECK(has_line(t, "tiergate_requests_total{tier=\"device\",backend=\"local\",reason=\"complexity\",status=\"200\"} 2"));
    CHECK(has_line(t, "tiergate_requests_total{tier=\"none\",backend=\"none\",reason=\"none\",status=\"400\"} 1"));
    CHECK(has_line(t, "tiergate_requests_total{tier=\"cloud\",backend=\"bigcloud\",reason=\"fallback\",status=\"499\"} 1"));
    CHECK(has_line(t, "tiergate_requests_total{tier=\"cloud\",backend=\"bigcloud\",reason=\"failed\",status=\"other\"} 1"));
    CHECK(strstr(t, "status=\"500\"") == NULL);              /* zero series are left out */

    /* Buckets are cumulative and end with +Inf = _count; _sum in seconds. */
    CHECK(has_line(t, "# TYPE tiergate_request_duration_seconds histogram"));
    CHECK(has_line(t, "tiergate_request_duration_seconds_bucket{tier=\"device\",le=\"0.005\"} 1"));
    CHECK(has_line(t, "tiergate_request_duration_seconds_bucket{tier=\"device\",le=\"0.025\"} 1"));
    CHECK(has_line(t, "tiergate_request_duration_seconds_bucket{tier=\"device\",le=\"0.05\"} 2"));
    CHECK(has_line(t, "tiergate_request_duration_seconds_bucket{tier=\"device\",le=\"120\"} 2"));
    CHECK(has_line(t, "tiergate_request_duration_seconds_bucket{tier=\"device\",le=\"+Inf\"} 2"));
    CHECK(has_line(t, "tiergate_request_duration_seconds_sum{tier=\"device\"} 0.033000"));
    CHECK(has_line(t, "tiergate_request_duration_seconds_count{tier=\"device\"} 2"));
    /* 200 s is beyond the last bound: only +Inf holds it. */
    CHECK(has_line(t, "tiergate_request_duration_seconds_bucket{tier=\"cloud\",le=\"0.005\"} 1"));
    CHECK(has_line(t, "tiergate_request_duration_seconds_bucket{tier=\"cloud\",le=\"120\"} 1"));
    CHECK(has_line(t, "tiergate_request_duration_seconds_bucket{tier=\"cloud\",le=\"+Inf\"} 2"));
    CHECK(has_line(t, "tiergate_request_duration_seconds_sum{tier=\"cloud\"} 200.000001"));
    /* No first byte, no ttfb observation. */
    CHECK(strstr(t, "tiergate_time_to_first_byte_seconds_count{tier=\"cloud\"}") == NULL);
    CHECK(has_line(t, "tiergate_time_to_first_byte_seconds_count{tier=\"device\"} 2"));
    CHECK(has_line(t, "tiergate_time_to_first_byte_seconds_bucket{tier=\"none\",le=\"0.005\"} 1"));
    CHECK(has_line(t, "tiergate_gateway_added_seconds_bucket{tier=\"device\",le=\"5e-05\"} 1"));
    CHECK(has_line(t, "tiergate_gateway_added_seconds_bucket{tier=\"device\",le=\"0.00025\"} 1"));
    CHECK(has_line(t, "tiergate_gateway_added_seconds_bucket{tier=\"device\",le=\"0.0005\"} 2"));
    CHECK(has_line(t, "tiergate_gateway_added_seconds_sum{tier=\"device\"} 0.000340"));

    CHECK(has_line(t, "tiergate_upstream_attempts_total{tier=\"cloud\",backend=\"bigcloud\",kind=\"retry\"} 2"));
    CHECK(has_line(t, "tiergate_upstream_attempts_total{tier=\"device\",backend=\"local\",kind=\"hedge\"} 1"));
    CHECK(has_line(t, "tiergate_tokens_total{tier=\"device\",backend=\"local\",direction=\"input\",source=\"reported\"} 60"));
    CHECK(has_line(t, "tiergate_tokens_total{tier=\"device\",backend=\"local\",direction=\"output\",source=\"reported\"} 7"));
    CHECK(has_line(t, "tiergate_tokens_total{tier=\"device\",backend=\"local\",direction=\"output\",source=\"estimated\"} 7"));
    CHECK(has_line(t, "tiergate_tokens_total{tier=\"cloud\",backend=\"bigcloud\",direction=\"input\",source=\"estimated\"} 10"));
    CHECK(has_line(t, "tiergate_cost_total{tier=\"cloud\",backend=\"bigcloud\"} 0.125"));
    CHECK(strstr(t, "tiergate_cost_total{tier=\"device\"") == NULL);
    CHECK(has_line(t, "tiergate_savings_total{tier=\"device\",backend=\"local\"} 0.5"));
    CHECK(has_line(t, "# TYPE tiergate_build_info gauge"));
    free(t);
    metrics_free(m);
}

static void test_escaping_and_gauges(void) {
    metrics *m = metrics_new();
    int odd = metrics_backend(m, "a\"b\\c\nd", TIER_EDGE);
    metrics_request r = {.slot = odd, .reason = "forced", .status = 503, .latency_us = 10};
    metrics_request_done(m, &r);
    metrics_backend_state now[] = {
        {"local", TIER_DEVICE, BACKEND_UP, CIRCUIT_CLOSED},
        {"x\"y", TIER_CLOUD, BACKEND_DOWN, CIRCUIT_HALF_OPEN},
    };
    char *t = render(m, now, 2);
    CHECK(has_line(t, "tiergate_requests_total{tier=\"edge\",backend=\"a\\\"b\\\\c\\nd\",reason=\"forced\",status=\"503\"} 1"));
    CHECK(has_line(t, "tiergate_backend_health{tier=\"device\",backend=\"local\",state=\"up\"} 1"));
    CHECK(has_line(t, "tiergate_backend_health{tier=\"device\",backend=\"local\",state=\"down\"} 0"));
    CHECK(has_line(t, "tiergate_backend_health{tier=\"device\",backend=\"local\",state=\"unknown\"} 0"));
    CHECK(has_line(t, "tiergate_backend_health{tier=\"cloud\",backend=\"x\\\"y\",state=\"down\"} 1"));
    CHECK(has_line(t, "tiergate_backend_circuit_state{tier=\"cloud\",backend=\"x\\\"y\",state=\"half_open\"} 1"));
    CHECK(has_line(t, "tiergate_backend_circuit_state{tier=\"cloud\",backend=\"x\\\"y\",state=\"open\"} 0"));
    CHECK(has_line(t, "tiergate_backend_circuit_state{tier=\"device\",backend=\"local\",state=\"closed\"} 1"));
    /* Every line is a comment or a sample; the text ends with a line feed. */
    CHECK(t[strlen(t) - 1] == '\n');
    free(t);
    metrics_free(m);
}

/* A name longer than the formatting buffer is written whole. */
static void test_long_name(void) {
    metrics *m = metrics_new();
    char name[600];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    metrics_request r = {.slot = metrics_backend(m, name, TIER_CLOUD), .reason = "hedge", .status = 200};
    metrics_request_done(m, &r);
    char *t = render(m, NULL, 0);
    char want[700];
    snprintf(want, sizeof want, "tiergate_requests_total{tier=\"cloud\",backend=\"%s\",reason=\"hedge\",status=\"200\"} 1", name);
    CHECK(has_line(t, want));
    free(t);
    metrics_free(m);
}

/* Refusals by status, "other" for one outside the table, none rendered
 * while none happened. */
static void test_refused(void) {
    metrics *m = metrics_new();
    char *text = render(m, NULL, 0);
    CHECK(strstr(text, "tiergate_refused_total{") == NULL);
    free(text);
    metrics_refused(m, 401);
    metrics_refused(m, 401);
    metrics_refused(m, 413);
    metrics_refused(m, 418);
    text = render(m, NULL, 0);
    CHECK(has_line(text, "# TYPE tiergate_refused_total counter"));
    CHECK(has_line(text, "tiergate_refused_total{status=\"401\"} 2"));
    CHECK(has_line(text, "tiergate_refused_total{status=\"413\"} 1"));
    CHECK(has_line(text, "tiergate_refused_total{status=\"other\"} 1"));
    CHECK(strstr(text, "tiergate_refused_total{status=\"404\"}") == NULL);
    CHECK(strstr(text, "tiergate_requests_total{") == NULL);     /* refusals are not chat requests */
    free(text);
    metrics_free(m);
}

int main(void) {
    test_slots();
    test_refused();
    test_requests_and_histograms();
    test_escaping_and_gauges();
    test_long_name();
    TEST_MAIN_END();
}
