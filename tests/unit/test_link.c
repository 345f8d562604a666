/* test_link: the vehicle's link report (issue 15).  The router with each
 * state (offline leaves edge and cloud out with reason "offline" and marks
 * the need unreachable for the answer cache; weak makes them slower than
 * the budget; good assumes nothing), the report's expiry at exactly for_ms
 * on the loop's clock driven by hand, its JSON view and metrics text (and
 * the view's backends) when memory runs out at each allocation, the
 * Retry-After wait while offline, and every way a PUT body is refused. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "backends.h"
#include "evloop.h"
#include "linkreport.h"
#include "router.h"
#include "testlib.h"

/* Three tiers, two backends each, configuration order interleaved. */
typedef struct fixture {
    config cfg;
    config_backend backends[6];
    router_backend view[6];
} fixture;

static void setup(fixture *f, bool fallback)
{
    static char names[6][3] = {"c1", "d1", "e1", "d2", "c2", "e2"};

    memset(f, 0, sizeof *f);
    for (int i = 0; i < 6; i++) {
        f->backends[i].name = names[i];
        f->backends[i].tier = names[i][0] == 'd' ? TIER_DEVICE : names[i][0] == 'e' ? TIER_EDGE : TIER_CLOUD;
        f->view[i].usable = true;
    }
    f->cfg.nbackends = 6;
    f->cfg.backends = f->backends;
    f->cfg.threshold = 0.5;
    f->cfg.cloud_threshold = 0.8;
    f->cfg.fallback = fallback;
}

static int decide(fixture *f, link_state link, const char *model, double score, int budget_ms,
                  router_decision *d, api_error *e)
{
    router_input in = {.model = model, .score = score, .max_first_byte_ms = budget_ms, .link = link};

    memset(d, 0, sizeof *d);
    memset(e, 0, sizeof *e);
    return router_decide(&f->cfg, f->view, &in, d, e);
}

static const char *order(const fixture *f, const router_decision *d)
{
    static char buf[256];

    buf[0] = '\0';
    for (size_t i = 0; i < d->ncandidates; i++) {
        if (i) strcat(buf, " ");
        strcat(buf, f->backends[d->candidates[i]].name);
    }
    return buf;
}

#define ROUTE(f, link, model, score, budget, want_reason, want_order) do { \
        router_decision d_; api_error e_; \
        CHECK_INT(decide((f), (link), (model), (score), (budget), &d_, &e_), 0); \
        CHECK_STR(d_.reason, (want_reason)); \
        CHECK_STR(order((f), &d_), (want_order)); \
    } while (0)

static void test_offline(void)
{
    fixture f;
    router_decision d;
    api_error e;

    setup(&f, true);
    ROUTE(&f, LINK_NONE, "auto", 0.9, 0, "complexity", "c1 c2 e1 e2 d1 d2");
    /* Edge and cloud are left out whatever their circuits say, as if open. */
    ROUTE(&f, LINK_OFFLINE, "auto", 0.9, 0, "offline", "d1 d2");
    ROUTE(&f, LINK_OFFLINE, "auto", 0.6, 0, "offline", "d1 d2");
    ROUTE(&f, LINK_OFFLINE, "cloud", 0.1, 0, "offline", "d1 d2");
    ROUTE(&f, LINK_OFFLINE, "c2", 0.1, 0, "offline", "d1 d2");
    /* A request the device was going to answer anyway keeps its reason. */
    ROUTE(&f, LINK_OFFLINE, "auto", 0.1, 0, "complexity", "d1 d2");
    /* Open device circuits still count. */
    f.view[1].usable = false;
    ROUTE(&f, LINK_OFFLINE, "auto", 0.1, 0, "offline", "d2");

    /* The cloud needed and the link offline: unreachable, so the answer
     * cache may stand in (issue 17's needed_out), as for open circuits. */
    setup(&f, true);
    CHECK_INT(decide(&f, LINK_OFFLINE, "auto", 0.9, 0, &d, &e), 0);
    CHECK_INT(d.needed, TIER_CLOUD);
    CHECK(d.needed_out);
    CHECK_INT(decide(&f, LINK_OFFLINE, "e1", 0.9, 0, &d, &e), 0);
    CHECK_INT(d.needed_backend, 2);
    CHECK(d.needed_out);
    CHECK_INT(decide(&f, LINK_OFFLINE, "auto", 0.1, 0, &d, &e), 0);
    CHECK(!d.needed_out);
    CHECK_INT(decide(&f, LINK_NONE, "auto", 0.9, 0, &d, &e), 0);
    CHECK(!d.needed_out);

    /* Nothing left: a 503 that says the link is why. */
    setup(&f, true);
    f.view[1].usable = f.view[3].usable = false;
    CHECK_INT(decide(&f, LINK_OFFLINE, "auto", 0.9, 0, &d, &e), -1);
    CHECK_INT(e.status, 503);
    CHECK_STR(e.code, "backend_unavailable");
    CHECK(strstr(e.message, "link offline") != NULL);
    CHECK(d.needed_out);
    /* Without fallback, a forced cloud has nowhere else to go. */
    setup(&f, false);
    CHECK_INT(decide(&f, LINK_OFFLINE, "cloud", 0.1, 0, &d, &e), -1);
    CHECK_INT(e.status, 503);
    ROUTE(&f, LINK_OFFLINE, "device", 0.9, 0, "forced", "d1 d2");
}

static void test_weak_and_good(void)
{
    fixture f;
    router_decision d;
    api_error e;

    setup(&f, true);
    /* Never measured counts as fast, except over a weak link: edge and
     * cloud are slower than the budget, the device answers, the rest stay
     * behind it as fallbacks. */
    ROUTE(&f, LINK_NONE, "auto", 0.9, 1500, "complexity", "c1 c2 e1 e2 d1 d2");
    ROUTE(&f, LINK_WEAK, "auto", 0.9, 1500, "slow_network", "d1 d2 e1 e2 c1 c2");
    ROUTE(&f, LINK_WEAK, "auto", 0.6, 1500, "slow_network", "d1 d2 e1 e2 c1 c2");
    ROUTE(&f, LINK_WEAK, "auto", 0.1, 1500, "complexity", "d1 d2 e1 e2 c1 c2");
    /* Weak is slow, not unreachable: the cache does not stand in. */
    CHECK_INT(decide(&f, LINK_WEAK, "auto", 0.9, 1500, &d, &e), 0);
    CHECK(!d.needed_out);
    /* A named tier is kept however slow; no budget, no network step. */
    ROUTE(&f, LINK_WEAK, "cloud", 0.1, 1500, "forced", "c1 c2 e1 e2 d1 d2");
    ROUTE(&f, LINK_WEAK, "auto", 0.9, 0, "complexity", "c1 c2 e1 e2 d1 d2");
    /* A weak link with every device circuit open: slow beats nothing. */
    f.view[1].usable = f.view[3].usable = false;
    ROUTE(&f, LINK_WEAK, "auto", 0.9, 1500, "offline", "e1 e2 c1 c2");

    /* Good assumes nothing: estimates and circuits decide as without a report. */
    setup(&f, true);
    ROUTE(&f, LINK_GOOD, "auto", 0.9, 1500, "complexity", "c1 c2 e1 e2 d1 d2");
    f.view[0].est_first_byte_ms = f.view[4].est_first_byte_ms = 4000;
    ROUTE(&f, LINK_GOOD, "auto", 0.9, 1500, "slow_network", "e1 e2 c1 c2 d1 d2");
    f.view[0].usable = f.view[4].usable = false;
    ROUTE(&f, LINK_GOOD, "auto", 0.9, 0, "offline", "e1 e2 d1 d2");
}

static linkreport_body body(link_state s, int for_ms, const char *reason)
{
    linkreport_body b = {.state = s, .for_ms = for_ms};

    snprintf(b.reason, sizeof b.reason, "%s", reason);
    return b;
}

static void test_expiry(void)
{
    evloop *loop = evloop_new();
    linkreport *lr = linkreport_new(loop);
    linkreport_body b = body(LINK_OFFLINE, 30000, "tunnel ahead");
    char text[2048];

    CHECK(loop && lr);
    CHECK_INT(linkreport_state(lr), LINK_NONE);
    CHECK_INT(linkreport_state(NULL), LINK_NONE);
    CHECK(!linkreport_clear(lr));
    linkreport_set(lr, &b);
    CHECK_INT(linkreport_state(lr), LINK_OFFLINE);
    evloop_advance(loop, 29999);
    CHECK_INT(linkreport_state(lr), LINK_OFFLINE);
    cJSON *j = linkreport_json(lr);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "state")), "offline");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "reason")), "tunnel ahead");
    CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "for_ms")), 30000);
    CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "remaining_ms")), 1);
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "since")) > 1.7e9);
    cJSON_Delete(j);
    /* At exactly for_ms it is over. */
    evloop_advance(loop, 1);
    CHECK_INT(linkreport_state(lr), LINK_NONE);
    j = linkreport_json(lr);
    CHECK(cJSON_IsNull(j));
    cJSON_Delete(j);
    CHECK(!linkreport_clear(lr));

    /* A new report replaces the old, with its own time; a report without a
     * reason shows null; clearing ends it at once. */
    linkreport_set(lr, &b);
    evloop_advance(loop, 20000);
    b = body(LINK_WEAK, 5000, "");
    linkreport_set(lr, &b);
    evloop_advance(loop, 4999);
    CHECK_INT(linkreport_state(lr), LINK_WEAK);
    j = linkreport_json(lr);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "reason")));
    cJSON_Delete(j);
    evloop_advance(loop, 1);
    CHECK_INT(linkreport_state(lr), LINK_NONE);   /* not the first report's 30 s */
    b = body(LINK_GOOD, 1000, "");
    linkreport_set(lr, &b);
    CHECK_INT(linkreport_state(lr), LINK_GOOD);
    CHECK(linkreport_clear(lr));
    CHECK_INT(linkreport_state(lr), LINK_NONE);
    evloop_advance(loop, 1000);                   /* the stopped timer does not bring it back */
    CHECK_INT(linkreport_state(lr), LINK_NONE);

    /* Metrics: one gauge series per state, counters by state reported. */
    b = body(LINK_OFFLINE, 1000, "");
    linkreport_set(lr, &b);
    size_t n = linkreport_render_metrics(lr, text, sizeof text);
    CHECK_INT(n, strlen(text));
    CHECK(strstr(text, "tiergate_link_state{state=\"offline\"} 1\n") != NULL);
    CHECK(strstr(text, "tiergate_link_state{state=\"none\"} 0\n") != NULL);
    CHECK(strstr(text, "tiergate_link_reports_total{state=\"offline\"} 3\n") != NULL);
    CHECK(strstr(text, "tiergate_link_reports_total{state=\"weak\"} 1\n") != NULL);
    CHECK(strstr(text, "tiergate_link_reports_total{state=\"good\"} 1\n") != NULL);
    /* A buffer too small is cut, still a string. */
    n = linkreport_render_metrics(lr, text, 40);
    CHECK_INT(n, 39);
    CHECK_INT(strlen(text), 39);
    n = linkreport_render_metrics(NULL, text, sizeof text);
    CHECK(strstr(text, "tiergate_link_state{state=\"none\"} 1\n") != NULL);
    linkreport_free(lr);   /* with its timer running */
    evloop_free(loop);
}

/* Refused with a 400 whose param is want_param ("" for none) and code want_code. */
static void refused(const char *text, const char *want_code, const char *want_param)
{
    linkreport_body b;
    api_error e;

    memset(&e, 0, sizeof e);
    CHECK_INT(linkreport_parse(text, strlen(text), &b, &e), -1);
    CHECK_INT(e.status, 400);
    CHECK_STR(e.code, want_code);
    CHECK_STR(e.param, want_param);
    if (e.status != 400 || strcmp(e.param, want_param) != 0) fprintf(stderr, "  body: %s\n", text);
}

static void test_parse(void)
{
    linkreport_body b;
    api_error e;
    char text[512], reason[256];
    const char *ok = "{\"state\":\"offline\",\"for_ms\":30000,\"reason\":\"tunnel ahead\"}";

    CHECK_INT(linkreport_parse(ok, strlen(ok), &b, &e), 0);
    CHECK_INT(b.state, LINK_OFFLINE);
    CHECK_INT(b.for_ms, 30000);
    CHECK_STR(b.reason, "tunnel ahead");
    ok = "{\"for_ms\":86400000,\"state\":\"good\",\"reason\":null}";
    CHECK_INT(linkreport_parse(ok, strlen(ok), &b, &e), 0);
    CHECK_INT(b.state, LINK_GOOD);
    CHECK_INT(b.for_ms, 86400000);
    CHECK_STR(b.reason, "");
    ok = "{\"state\":\"weak\",\"for_ms\":1}";
    CHECK_INT(linkreport_parse(ok, strlen(ok), &b, &e), 0);
    CHECK_INT(b.state, LINK_WEAK);
    /* 200 bytes of UTF-8 (100 two-byte characters) is the most. */
    reason[0] = '\0';
    for (int i = 0; i < 100; i++) strcat(reason, "\xc3\xa9");
    snprintf(text, sizeof text, "{\"state\":\"weak\",\"for_ms\":5,\"reason\":\"%s\"}", reason);
    CHECK_INT(linkreport_parse(text, strlen(text), &b, &e), 0);
    CHECK_INT(strlen(b.reason), 200);

    strcat(reason, "x");
    snprintf(text, sizeof text, "{\"state\":\"weak\",\"for_ms\":5,\"reason\":\"%s\"}", reason);
    refused(text, "invalid_value", "reason");
    refused("", "invalid_json", "");
    refused("not json", "invalid_json", "");
    refused("[1]", "invalid_json", "");
    refused("\"offline\"", "invalid_json", "");
    refused("{\"state\":\"offline\",\"for_ms\":1000} x", "invalid_json", "");
    refused("{\"state\":\"offline\",\"for_ms\":1000,\"reason\":\"\xff\"}", "invalid_utf8", "");
    refused("{\"for_ms\":1000}", "invalid_request", "state");
    refused("{\"state\":\"offline\"}", "invalid_request", "for_ms");
    refused("{\"state\":\"gone\",\"for_ms\":1000}", "invalid_value", "state");
    refused("{\"state\":\"none\",\"for_ms\":1000}", "invalid_value", "state");
    refused("{\"state\":\"OFFLINE\",\"for_ms\":1000}", "invalid_value", "state");
    refused("{\"state\":1,\"for_ms\":1000}", "invalid_request", "state");
    refused("{\"state\":\"offline\",\"for_ms\":0}", "invalid_value", "for_ms");
    refused("{\"state\":\"offline\",\"for_ms\":-5}", "invalid_value", "for_ms");
    refused("{\"state\":\"offline\",\"for_ms\":86400001}", "invalid_value", "for_ms");
    refused("{\"state\":\"offline\",\"for_ms\":1e300}", "invalid_value", "for_ms");
    refused("{\"state\":\"offline\",\"for_ms\":1.5}", "invalid_value", "for_ms");
    refused("{\"state\":\"offline\",\"for_ms\":\"1000\"}", "invalid_request", "for_ms");
    refused("{\"state\":\"offline\",\"for_ms\":null}", "invalid_request", "for_ms");
    refused("{\"state\":\"offline\",\"for_ms\":1000,\"reason\":5}", "invalid_request", "reason");
    refused("{\"state\":\"offline\",\"for_ms\":1000,\"reason\":\"a\\nb\"}", "invalid_value", "reason");
    refused("{\"state\":\"offline\",\"for_ms\":1000,\"until\":5}", "unknown_parameter", "until");
    refused("{\"state\":\"offline\",\"state\":\"good\",\"for_ms\":1000}", "invalid_request", "state");
    /* An unknown name is quoted in the message only when that keeps it one line. */
    CHECK_INT(linkreport_parse("{\"until\":1}", 11, &b, &e), -1);
    CHECK(strstr(e.message, "supplied: until") != NULL);
    CHECK_INT(linkreport_parse("{\"a\\nb\":1}", 10, &b, &e), -1);
    CHECK_STR(e.param, "a\nb");
    CHECK(strchr(e.message, '\n') == NULL);
}

/* cJSON's allocator, failing the allocation numbered fail_at (from 0). */
static int allocs, fail_at = -1;

static void *failing_malloc(size_t n)
{
    return allocs++ == fail_at ? NULL : malloc(n);
}

/* Out of memory at every allocation in turn: NULL, never a part-built view
 * (and, under ASan, nothing leaked). */
static void test_view_oom(void)
{
    evloop *loop = evloop_new();
    linkreport *lr = linkreport_new(loop);
    linkreport_body b = body(LINK_WEAK, 1000, "tunnel ahead");
    fixture f;
    cJSON_Hooks hooks = {failing_malloc, free};

    setup(&f, true);
    f.cfg.circuit = (circuit_params){.failures_to_open = 3, .window_ms = 10000, .cooldown_ms = 1000};
    backends *reg = backends_new(&f.cfg);
    CHECK(reg != NULL);
    linkreport_set(lr, &b);
    cJSON_InitHooks(&hooks);
    /* How many allocations the two views make when none fails. */
    fail_at = -1;
    allocs = 0;
    cJSON *r = linkreport_json(lr), *arr = backends_json(reg);
    int needed = allocs;
    CHECK(r && arr && needed > 20);
    cJSON_Delete(r);
    cJSON_Delete(arr);
    /* Each of them failing leaves one of the views NULL. */
    int failed = 0;
    for (fail_at = 0; fail_at < needed; fail_at++) {
        allocs = 0;
        r = linkreport_json(lr);
        arr = backends_json(reg);
        failed += !r || !arr;
        if (r) CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(r, "reason")), "tunnel ahead");
        if (arr) CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 5), "name")), "e2");
        cJSON_Delete(r);
        cJSON_Delete(arr);
    }
    cJSON_InitHooks(NULL);
    CHECK_INT(failed, needed);
    backends_free(reg);
    linkreport_free(lr);
    evloop_free(loop);
}

/* Retry-After of a 503 while offline: the device's wait, or the report's
 * time left for the tiers above it, whichever ends first. */
static void test_retry_wait(void)
{
    fixture f;

    setup(&f, true);
    f.cfg.circuit = (circuit_params){.failures_to_open = 3, .window_ms = 10000, .cooldown_ms = 1000};
    backends *reg = backends_new(&f.cfg);
    CHECK(reg != NULL);
    CHECK_INT(backends_next_usable_ms(reg, 5000), 0);   /* the device answers now */
    for (int i = 0; i < 3; i++) {
        backends_report(reg, 1, false, false, "test");
        backends_report(reg, 3, false, false, "test");
    }
    CHECK_INT(backends_circuit(reg, 1), CIRCUIT_OPEN);
    CHECK_INT(backends_next_usable_ms(reg, 0), 0);      /* no report: the cloud answers now */
    CHECK_INT(backends_next_usable_ms(reg, 5000), 1000);
    CHECK_INT(backends_next_usable_ms(reg, 400), 400);
    backends_free(reg);
}

int main(void)
{
    test_offline();
    test_weak_and_good();
    test_expiry();
    test_parse();
    test_view_oom();
    test_retry_wait();
    TEST_MAIN_END();
}
