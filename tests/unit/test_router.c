/* test_router: every routing rule on hand-built configurations: forced
 * tiers and backends, the X-Tiergate-Tier header, errors, thresholds,
 * missing tiers, candidate order with and without fallback, backends whose
 * circuit is open, tiers too slow for the latency budget, and a spent
 * spend budget (downgrade and reject). */
#include <stdlib.h>
#include <string.h>

#include "router.h"
#include "testlib.h"

/* A configuration and the router's view of the backends, built from a spec such as
 * "d:local-qwen c:spark": one backend per word, tier letter, colon, name. */
typedef struct fixture {
    config cfg;
    config_backend backends[ROUTER_MAX_CANDIDATES];
    router_backend view[ROUTER_MAX_CANDIDATES];
    int budget_ms;
    bool device_only;
    budget_verdict spent;
    bool reject;
    bool unknown_language;
    char names[1024];
} fixture;

static void setup(fixture *f, const char *spec)
{
    char *save = NULL, *word;

    memset(f, 0, sizeof *f);
    snprintf(f->names, sizeof f->names, "%s", spec);
    for (word = strtok_r(f->names, " ", &save); word; word = strtok_r(NULL, " ", &save)) {
        config_backend *b = &f->backends[f->cfg.nbackends++];
        b->tier = word[0] == 'd' ? TIER_DEVICE : word[0] == 'e' ? TIER_EDGE : TIER_CLOUD;
        b->name = word + 2;
        f->view[f->cfg.nbackends - 1].usable = true;
    }
    f->cfg.backends = f->backends;
    f->cfg.threshold = 0.5;
    f->cfg.cloud_threshold = 0.8;
    f->cfg.fallback = true;
}

static int decide(fixture *f, const char *model, const char *header, double score,
                  router_decision *dec, api_error *err)
{
    router_input in = {.model = model, .force_tier = header, .score = score,
                       .max_first_byte_ms = f->budget_ms, .device_only = f->device_only,
                       .budget = f->spent, .budget_reject = f->reject,
                       .unknown_language = f->unknown_language};

    memset(dec, 0, sizeof *dec);
    memset(err, 0, sizeof *err);
    return router_decide(&f->cfg, f->view, &in, dec, err);
}

/* The candidates' names, space-separated, for comparing whole orders. */
static const char *order(const fixture *f, const router_decision *dec)
{
    static char buf[512];

    buf[0] = '\0';
    for (size_t i = 0; i < dec->ncandidates; i++) {
        if (i) strcat(buf, " ");
        strcat(buf, f->backends[dec->candidates[i]].name);
    }
    return buf;
}

/* The backend's circuit is open. */
static void set_down(fixture *f, const char *name)
{
    f->view[config_backend_index(&f->cfg, name)].usable = false;
}

static void set_estimate(fixture *f, const char *name, int ms)
{
    f->view[config_backend_index(&f->cfg, name)].est_first_byte_ms = ms;
}

/* Routes and checks the whole outcome in one line per case. */
#define ROUTE(f, model, header, score_, want_tier, want_reason, want_order) do { \
        router_decision d_; api_error e_; \
        CHECK_INT(decide((f), (model), (header), (score_), &d_, &e_), 0); \
        CHECK_STR(tier_name(d_.tier), (want_tier)); \
        CHECK_STR(d_.reason, (want_reason)); \
        CHECK_STR(order((f), &d_), (want_order)); \
        CHECK(d_.score == (score_)); \
    } while (0)

#define REFUSE(f, model, header, want_status, want_code, want_param) do { \
        router_decision d_; api_error e_; \
        CHECK_INT(decide((f), (model), (header), 0.5, &d_, &e_), -1); \
        CHECK_INT(e_.status, (want_status)); \
        CHECK_STR(e_.code, (want_code)); \
        CHECK_STR(e_.param, (want_param)); \
    } while (0)

/* Configuration order inside a tier is kept even when tiers interleave. */
#define THREE_TIERS "c:c1 d:d1 e:e1 d:d2 c:c2 e:e2"

static void test_tier_for_score(void)
{
    fixture f;

    setup(&f, "d:d c:c");
    CHECK_INT(router_tier_for_score(&f.cfg, 0.0), TIER_DEVICE);
    CHECK_INT(router_tier_for_score(&f.cfg, 0.4999), TIER_DEVICE);
    CHECK_INT(router_tier_for_score(&f.cfg, 0.5), TIER_CLOUD);   /* at the threshold: larger tier */
    CHECK_INT(router_tier_for_score(&f.cfg, 0.9), TIER_CLOUD);
    CHECK_INT(router_tier_for_score(&f.cfg, 1.0), TIER_CLOUD);
    f.cfg.threshold = 0.3;
    CHECK_INT(router_tier_for_score(&f.cfg, 0.2999), TIER_DEVICE);
    CHECK_INT(router_tier_for_score(&f.cfg, 0.3), TIER_CLOUD);

    setup(&f, "d:d e:e c:c");
    CHECK_INT(router_tier_for_score(&f.cfg, 0.4999), TIER_DEVICE);
    CHECK_INT(router_tier_for_score(&f.cfg, 0.5), TIER_EDGE);
    CHECK_INT(router_tier_for_score(&f.cfg, 0.7999), TIER_EDGE);
    CHECK_INT(router_tier_for_score(&f.cfg, 0.8), TIER_CLOUD);
    CHECK_INT(router_tier_for_score(&f.cfg, 1.0), TIER_CLOUD);
    f.cfg.cloud_threshold = 0.5;   /* equal thresholds: the edge band is empty */
    CHECK_INT(router_tier_for_score(&f.cfg, 0.5), TIER_CLOUD);
}

/* A tier the score asks for but nobody serves: nearest upward, then
 * downward. */
static void test_missing_tiers(void)
{
    fixture f;

    setup(&f, "d:d");
    CHECK_INT(router_tier_for_score(&f.cfg, 0.0), TIER_DEVICE);
    CHECK_INT(router_tier_for_score(&f.cfg, 1.0), TIER_DEVICE);
    ROUTE(&f, "auto", NULL, 0.95, "device", "complexity", "d");

    setup(&f, "c:c");
    CHECK_INT(router_tier_for_score(&f.cfg, 0.0), TIER_CLOUD);
    ROUTE(&f, "auto", NULL, 0.1, "cloud", "complexity", "c");

    setup(&f, "e:e");
    CHECK_INT(router_tier_for_score(&f.cfg, 0.0), TIER_EDGE);
    CHECK_INT(router_tier_for_score(&f.cfg, 1.0), TIER_EDGE);

    setup(&f, "d:d e:e");   /* the cloud band falls to the edge */
    CHECK_INT(router_tier_for_score(&f.cfg, 0.3), TIER_DEVICE);
    CHECK_INT(router_tier_for_score(&f.cfg, 0.6), TIER_EDGE);
    CHECK_INT(router_tier_for_score(&f.cfg, 0.9), TIER_EDGE);

    setup(&f, "e:e c:c");   /* the device band rises to the edge */
    CHECK_INT(router_tier_for_score(&f.cfg, 0.1), TIER_EDGE);
    CHECK_INT(router_tier_for_score(&f.cfg, 0.6), TIER_EDGE);
    CHECK_INT(router_tier_for_score(&f.cfg, 0.9), TIER_CLOUD);
    ROUTE(&f, "auto", NULL, 0.1, "edge", "complexity", "e c");
}

/* Primary tier's backends in config order, then the fallback tiers:
 * device -> edge, cloud; edge -> cloud, device; cloud -> edge, device. */
static void test_candidate_order(void)
{
    fixture f;

    setup(&f, THREE_TIERS);
    ROUTE(&f, "auto", NULL, 0.1, "device", "complexity", "d1 d2 e1 e2 c1 c2");
    ROUTE(&f, "auto", NULL, 0.6, "edge", "complexity", "e1 e2 c1 c2 d1 d2");
    ROUTE(&f, "auto", NULL, 0.9, "cloud", "complexity", "c1 c2 e1 e2 d1 d2");

    setup(&f, "c:c1 d:d1 c:c2 d:d2");
    ROUTE(&f, "auto", NULL, 0.1, "device", "complexity", "d1 d2 c1 c2");
    ROUTE(&f, "auto", NULL, 0.5, "cloud", "complexity", "c1 c2 d1 d2");
    ROUTE(&f, "auto", NULL, 0.9, "cloud", "complexity", "c1 c2 d1 d2");

    setup(&f, "e:e1 d:d1 e:e2");
    ROUTE(&f, "auto", NULL, 0.1, "device", "complexity", "d1 e1 e2");
    ROUTE(&f, "auto", NULL, 0.9, "edge", "complexity", "e1 e2 d1");

    setup(&f, "d:d1 d:d2 d:d3");
    ROUTE(&f, "auto", NULL, 0.9, "device", "complexity", "d1 d2 d3");
}

static void test_forced(void)
{
    fixture f;

    setup(&f, THREE_TIERS);
    /* A tier name forces the tier, whatever the score. */
    ROUTE(&f, "cloud", NULL, 0.0, "cloud", "forced", "c1 c2 e1 e2 d1 d2");
    ROUTE(&f, "device", NULL, 1.0, "device", "forced", "d1 d2 e1 e2 c1 c2");
    ROUTE(&f, "edge", NULL, 0.0, "edge", "forced", "e1 e2 c1 c2 d1 d2");
    /* A backend name puts it first, then the rest of its tier. */
    ROUTE(&f, "c2", NULL, 0.0, "cloud", "forced", "c2 c1 e1 e2 d1 d2");
    ROUTE(&f, "d2", NULL, 1.0, "device", "forced", "d2 d1 e1 e2 c1 c2");
    ROUTE(&f, "e1", NULL, 0.0, "edge", "forced", "e1 e2 c1 c2 d1 d2");
}

/* routing.model_aliases: an SDK's default model name routes like its target. */
static void test_aliases(void)
{
    fixture f;
    config_alias aliases[] = {{"gpt-4o-mini", "auto"}, {"gpt-4o", "cloud"}, {"local", "d2"}};

    setup(&f, THREE_TIERS);
    f.cfg.aliases = aliases;
    f.cfg.naliases = 3;
    ROUTE(&f, "gpt-4o-mini", NULL, 0.1, "device", "complexity", "d1 d2 e1 e2 c1 c2");
    ROUTE(&f, "gpt-4o-mini", NULL, 0.9, "cloud", "complexity", "c1 c2 e1 e2 d1 d2");
    ROUTE(&f, "gpt-4o", NULL, 0.0, "cloud", "forced", "c1 c2 e1 e2 d1 d2");
    ROUTE(&f, "local", NULL, 1.0, "device", "forced", "d2 d1 e1 e2 c1 c2");
    ROUTE(&f, "gpt-4o-mini", "edge", 0.0, "edge", "forced", "e1 e2 c1 c2 d1 d2");
    CHECK_STR(config_alias_target(&f.cfg, "gpt-4.1"), "gpt-4.1");
}

static void test_no_fallback(void)
{
    fixture f;
    router_decision d;
    api_error e;

    setup(&f, THREE_TIERS);
    f.cfg.fallback = false;
    ROUTE(&f, "auto", NULL, 0.1, "device", "complexity", "d1 d2");
    ROUTE(&f, "auto", NULL, 0.6, "edge", "complexity", "e1 e2");
    ROUTE(&f, "auto", NULL, 0.9, "cloud", "complexity", "c1 c2");
    ROUTE(&f, "cloud", NULL, 0.1, "cloud", "forced", "c1 c2");
    ROUTE(&f, "c2", NULL, 0.1, "cloud", "forced", "c2");
    ROUTE(&f, "auto", "edge", 0.1, "edge", "forced", "e1 e2");
    /* An open circuit is skipped even when it is all there is. */
    set_down(&f, "c1");
    ROUTE(&f, "cloud", NULL, 0.1, "cloud", "offline", "c2");
    CHECK_INT(decide(&f, "c1", NULL, 0.1, &d, &e), -1);
    CHECK_INT(e.status, 503);
    CHECK_STR(e.code, "backend_unavailable");
}

static void test_header(void)
{
    fixture f;

    setup(&f, THREE_TIERS);
    /* A tier in the header overrides the score and the model's tier. */
    ROUTE(&f, "auto", "cloud", 0.1, "cloud", "forced", "c1 c2 e1 e2 d1 d2");
    ROUTE(&f, "auto", "device", 0.9, "device", "forced", "d1 d2 e1 e2 c1 c2");
    ROUTE(&f, "cloud", "device", 0.9, "device", "forced", "d1 d2 e1 e2 c1 c2");
    ROUTE(&f, "c2", "device", 0.9, "device", "forced", "d1 d2 e1 e2 c1 c2");
    /* Naming the forced backend's own tier keeps that backend first. */
    ROUTE(&f, "c2", "cloud", 0.9, "cloud", "forced", "c2 c1 e1 e2 d1 d2");
    /* "auto" leaves the model's choice alone. */
    ROUTE(&f, "auto", "auto", 0.1, "device", "complexity", "d1 d2 e1 e2 c1 c2");
    ROUTE(&f, "edge", "auto", 0.1, "edge", "forced", "e1 e2 c1 c2 d1 d2");
    ROUTE(&f, "d2", "auto", 0.9, "device", "forced", "d2 d1 e1 e2 c1 c2");

    /* Anything else in the header is the client's mistake. */
    REFUSE(&f, "auto", "Cloud", 400, "invalid_header", "");
    REFUSE(&f, "auto", "", 400, "invalid_header", "");
    REFUSE(&f, "auto", "gpu", 400, "invalid_header", "");
    REFUSE(&f, "auto", "c1", 400, "invalid_header", "");
    setup(&f, "d:d c:c");
    REFUSE(&f, "auto", "edge", 400, "invalid_header", "");

    router_decision d;
    api_error e;
    CHECK_INT(decide(&f, "auto", "gpu", 0.5, &d, &e), -1);
    CHECK_STR(e.type, "invalid_request_error");
    CHECK(strstr(e.message, "X-Tiergate-Tier") != NULL);
}

static void test_unknown_model(void)
{
    fixture f;
    router_decision d;
    api_error e;

    setup(&f, "d:local-qwen c:spark");
    CHECK_INT(decide(&f, "gpt-9", NULL, 0.5, &d, &e), -1);
    CHECK_INT(e.status, 400);
    CHECK_STR(e.type, "invalid_request_error");
    CHECK_STR(e.code, "model_not_found");
    CHECK_STR(e.param, "model");
    CHECK_STR(e.message, "The model `gpt-9` does not exist; use \"auto\", a tier (device, cloud) "
                         "or a backend (local-qwen, spark)");

    /* The empty name, near misses, and a tier nobody serves. */
    REFUSE(&f, "", NULL, 400, "model_not_found", "model");
    REFUSE(&f, "Auto", NULL, 400, "model_not_found", "model");
    REFUSE(&f, "spark ", NULL, 400, "model_not_found", "model");
    REFUSE(&f, "edge", NULL, 400, "model_not_found", "model");
    CHECK_INT(decide(&f, "edge", NULL, 0.5, &d, &e), -1);
    CHECK(strstr(e.message, "`edge`") != NULL && strstr(e.message, "(device, cloud)") != NULL);
    /* The model is checked before the header. */
    REFUSE(&f, "gpt-9", "cloud", 400, "model_not_found", "model");

    /* A long model name is shortened without cutting a character, and many
     * long backend names still fit the message. */
    char model[301];
    for (size_t i = 0; i < 100; i++) memcpy(model + 3 * i, "模", 3);
    model[300] = '\0';
    CHECK_INT(decide(&f, model, NULL, 0.5, &d, &e), -1);
    const char *quoted = strchr(e.message, '`');
    const char *end = quoted ? strchr(quoted + 1, '`') : NULL;
    CHECK(quoted && end && (end - quoted - 1) % 3 == 0 && end - quoted - 1 <= 64);

    char spec[1024] = "";
    for (int i = 0; i < ROUTER_MAX_CANDIDATES; i++) {
        char word[64];
        snprintf(word, sizeof word, "%sc:backend-with-a-rather-long-name-number-%02d", i ? " " : "", i);
        strcat(spec, word);
    }
    setup(&f, spec);
    CHECK_INT(decide(&f, "nope", NULL, 0.5, &d, &e), -1);
    CHECK(strlen(e.message) < sizeof e.message - 1);
    CHECK(strstr(e.message, "backend-with-a-rather-long-name-number-00") != NULL);
    CHECK(strstr(e.message, " ...") != NULL);
}

static void test_offline(void)
{
    fixture f;
    router_decision d;
    api_error e;

    /* The first choice's circuit open: the next one leads, the reason says
     * so, and the open one is left out altogether. */
    setup(&f, THREE_TIERS);
    set_down(&f, "d1");
    ROUTE(&f, "auto", NULL, 0.1, "device", "offline", "d2 e1 e2 c1 c2");
    /* A whole tier open: the tier of the new first candidate. */
    set_down(&f, "d2");
    ROUTE(&f, "auto", NULL, 0.1, "edge", "offline", "e1 e2 c1 c2");
    /* Open backends behind the first choice just drop out. */
    ROUTE(&f, "auto", NULL, 0.9, "cloud", "complexity", "c1 c2 e1 e2");

    /* The cloud unreachable: a forced or complex request goes to the edge
     * or device and says "offline", even though it was forced. */
    setup(&f, THREE_TIERS);
    set_down(&f, "c1");
    set_down(&f, "c2");
    ROUTE(&f, "auto", NULL, 0.9, "edge", "offline", "e1 e2 d1 d2");
    ROUTE(&f, "cloud", NULL, 0.0, "edge", "offline", "e1 e2 d1 d2");
    ROUTE(&f, "c2", NULL, 0.0, "edge", "offline", "e1 e2 d1 d2");
    ROUTE(&f, "auto", "cloud", 0.0, "edge", "offline", "e1 e2 d1 d2");
    ROUTE(&f, "auto", NULL, 0.1, "device", "complexity", "d1 d2 e1 e2");

    /* Every circuit open: an immediate 503, for any model. */
    setup(&f, THREE_TIERS);
    for (size_t i = 0; i < f.cfg.nbackends; i++) set_down(&f, f.backends[i].name);
    CHECK_INT(decide(&f, "auto", NULL, 0.6, &d, &e), -1);
    CHECK_INT(e.status, 503);
    CHECK_STR(e.type, "server_error");
    CHECK_STR(e.code, "backend_unavailable");
    CHECK_INT(decide(&f, "d2", NULL, 0.6, &d, &e), -1);
    CHECK_INT(e.status, 503);
}

/* Issue 17: what the request needs, and whether availability left it out
 * (the answer cache stands in then); never for a budget or a slow network. */
static void test_needed(void)
{
    fixture f;
    router_decision d;
    api_error e;

    setup(&f, THREE_TIERS);
    CHECK_INT(decide(&f, "auto", NULL, 0.9, &d, &e), 0);
    CHECK_INT(d.needed, TIER_CLOUD);
    CHECK_INT(d.needed_backend, -1);
    CHECK(!d.needed_out);
    set_down(&f, "c1");
    CHECK_INT(decide(&f, "auto", NULL, 0.9, &d, &e), 0);
    CHECK(!d.needed_out);                         /* c2 still serves the cloud */
    set_down(&f, "c2");
    CHECK_INT(decide(&f, "cloud", NULL, 0.1, &d, &e), 0);
    CHECK_INT(d.needed, TIER_CLOUD);
    CHECK(d.needed_out);
    CHECK_INT(decide(&f, "auto", NULL, 0.1, &d, &e), 0);
    CHECK_INT(d.needed, TIER_DEVICE);
    CHECK(!d.needed_out);
    CHECK(router_meets_need(&f.cfg, &d, config_backend_index(&f.cfg, "d2")));   /* any of the tier */
    CHECK(!router_meets_need(&f.cfg, &d, config_backend_index(&f.cfg, "c1")));
    /* A forced backend is the need, not its tier. */
    setup(&f, THREE_TIERS);
    set_down(&f, "c2");
    CHECK_INT(decide(&f, "c2", NULL, 0.1, &d, &e), 0);
    CHECK_INT(d.needed_backend, config_backend_index(&f.cfg, "c2"));
    CHECK(d.needed_out);
    CHECK(router_meets_need(&f.cfg, &d, config_backend_index(&f.cfg, "c2")));
    CHECK(!router_meets_need(&f.cfg, &d, config_backend_index(&f.cfg, "c1")));
    CHECK_INT(decide(&f, "c1", NULL, 0.1, &d, &e), 0);
    CHECK(!d.needed_out);
    /* Slow, not unreachable. */
    setup(&f, THREE_TIERS);
    f.budget_ms = 100;
    set_estimate(&f, "c1", 500);
    set_estimate(&f, "c2", 500);
    CHECK_INT(decide(&f, "auto", NULL, 0.9, &d, &e), 0);
    CHECK_STR(d.reason, "slow_network");
    CHECK_INT(d.needed, TIER_CLOUD);
    CHECK(!d.needed_out);
    /* Every circuit open: the 503 still says what was needed. */
    setup(&f, THREE_TIERS);
    for (size_t i = 0; i < f.cfg.nbackends; i++) set_down(&f, f.backends[i].name);
    CHECK_INT(decide(&f, "auto", NULL, 0.9, &d, &e), -1);
    CHECK_INT(e.status, 503);
    CHECK_INT(d.needed, TIER_CLOUD);
    CHECK_INT(d.needed_backend, -1);
}

static void test_slow_network(void)
{
    fixture f;

    /* A cloud slower than the budget gives way to the edge, which stays
     * fast; the cloud stays in the list as a fallback. */
    setup(&f, THREE_TIERS);
    f.budget_ms = 1500;
    set_estimate(&f, "c1", 4000);
    set_estimate(&f, "c2", 1600);
    ROUTE(&f, "auto", NULL, 0.9, "edge", "slow_network", "e1 e2 c1 c2 d1 d2");
    /* One fast cloud backend is enough to use the cloud. */
    set_estimate(&f, "c2", 1500);
    ROUTE(&f, "auto", NULL, 0.9, "cloud", "complexity", "c1 c2 e1 e2 d1 d2");
    /* Edge slow as well: straight to the device. */
    set_estimate(&f, "c2", 3000);
    set_estimate(&f, "e1", 2000);
    set_estimate(&f, "e2", 2000);
    ROUTE(&f, "auto", NULL, 0.9, "device", "slow_network", "d1 d2 e1 e2 c1 c2");
    ROUTE(&f, "auto", NULL, 0.6, "device", "slow_network", "d1 d2 e1 e2 c1 c2");
    /* The device is never too slow: it is the last stop. */
    set_estimate(&f, "d1", 9000);
    set_estimate(&f, "d2", 9000);
    ROUTE(&f, "auto", NULL, 0.1, "device", "complexity", "d1 d2 e1 e2 c1 c2");
    /* A client that names a tier or backend gets it, however slow. */
    ROUTE(&f, "cloud", NULL, 0.1, "cloud", "forced", "c1 c2 e1 e2 d1 d2");
    ROUTE(&f, "auto", "cloud", 0.1, "cloud", "forced", "c1 c2 e1 e2 d1 d2");
    ROUTE(&f, "c2", NULL, 0.1, "cloud", "forced", "c2 c1 e1 e2 d1 d2");
    /* No budget, no slow_network. */
    f.budget_ms = 0;
    ROUTE(&f, "auto", NULL, 0.9, "cloud", "complexity", "c1 c2 e1 e2 d1 d2");

    /* Never measured counts as fast; an open backend's estimate does not
     * count at all. */
    setup(&f, "d:d c:c1 c:c2");
    f.budget_ms = 1000;
    set_estimate(&f, "c1", 5000);
    ROUTE(&f, "auto", NULL, 0.9, "cloud", "complexity", "c1 c2 d");
    set_down(&f, "c2");
    ROUTE(&f, "auto", NULL, 0.9, "device", "slow_network", "d c1");
    /* Slow and open: offline wins, the answer comes from elsewhere anyway. */
    set_down(&f, "d");
    ROUTE(&f, "auto", NULL, 0.9, "cloud", "offline", "c1");

    /* Two tiers: cloud too slow means the device. */
    setup(&f, "d:d c:c");
    f.budget_ms = 2000;
    set_estimate(&f, "c", 2001);
    ROUTE(&f, "auto", NULL, 0.9, "device", "slow_network", "d c");
    set_estimate(&f, "c", 2000);
    ROUTE(&f, "auto", NULL, 0.9, "cloud", "complexity", "c d");
}

static void test_limits(void)
{
    fixture f;
    router_decision d;
    api_error e;
    char spec[512] = "";

    /* No backend at all: nothing can answer. */
    setup(&f, "");
    CHECK_INT(decide(&f, "auto", NULL, 0.5, &d, &e), -1);
    CHECK_INT(e.status, 503);
    CHECK_STR(e.type, "server_error");
    CHECK_STR(e.code, "backend_unavailable");

    /* The most backends a configuration may have all fit. */
    for (int i = 0; i < ROUTER_MAX_CANDIDATES; i++) {
        char word[16];
        snprintf(word, sizeof word, "%s%c:b%02d", i ? " " : "", "dec"[i % 3], i);
        strcat(spec, word);
    }
    setup(&f, spec);
    CHECK_INT(f.cfg.nbackends, ROUTER_MAX_CANDIDATES);
    CHECK_INT(decide(&f, "auto", NULL, 0.9, &d, &e), 0);
    CHECK_INT(d.ncandidates, ROUTER_MAX_CANDIDATES);
    CHECK_INT(d.candidates[0], 2);
    CHECK_INT(decide(&f, "b07", NULL, 0.9, &d, &e), 0);
    CHECK_INT(d.ncandidates, ROUTER_MAX_CANDIDATES);
    CHECK_INT(d.candidates[0], 7);
}

/* The same inputs always give the same decision; the score is carried
 * through unchanged whatever decided. */
static void test_pure(void)
{
    fixture f;
    router_decision a, b;
    api_error e;

    setup(&f, THREE_TIERS);
    set_down(&f, "e1");
    CHECK_INT(decide(&f, "auto", NULL, 0.65, &a, &e), 0);
    CHECK_INT(decide(&f, "auto", NULL, 0.65, &b, &e), 0);
    CHECK(memcmp(&a, &b, sizeof a) == 0);
    CHECK(a.score == 0.65);
    CHECK(!f.view[config_backend_index(&f.cfg, "e1")].usable);
    CHECK_INT(decide(&f, "d1", NULL, 0.123, &a, &e), 0);
    CHECK(a.score == 0.123);
}

/* privacy.mode local with personal data: the device tier only, whatever
 * was asked, never a larger tier as fallback or hedge, and a 503 naming
 * privacy when no device backend can answer. */
static void test_device_only(void)
{
    fixture f;
    router_decision d;
    api_error e;

    setup(&f, "d:local d:local2 e:depot c:spark");
    f.device_only = true;
    ROUTE(&f, "auto", NULL, 0.1, "device", "complexity", "local local2");
    ROUTE(&f, "auto", NULL, 0.9, "device", "privacy", "local local2");
    ROUTE(&f, "cloud", NULL, 0.1, "device", "privacy", "local local2");
    ROUTE(&f, "spark", NULL, 0.1, "device", "privacy", "local local2");
    ROUTE(&f, "local2", NULL, 0.1, "device", "forced", "local2 local");
    ROUTE(&f, "auto", "cloud", 0.1, "device", "privacy", "local local2");
    f.budget_ms = 100;
    set_estimate(&f, "local", 5000);
    set_estimate(&f, "local2", 5000);
    ROUTE(&f, "auto", NULL, 0.9, "device", "privacy", "local local2");
    set_down(&f, "local");
    ROUTE(&f, "auto", NULL, 0.9, "device", "privacy", "local2");
    set_down(&f, "local2");
    CHECK_INT(decide(&f, "auto", NULL, 0.9, &d, &e), -1);
    CHECK_INT(e.status, 503);
    CHECK(strstr(e.message, "personal data") != NULL);

    setup(&f, "e:depot c:spark");
    f.device_only = true;
    CHECK_INT(decide(&f, "auto", NULL, 0.1, &d, &e), -1);
    CHECK_INT(e.status, 503);
    CHECK(strstr(e.message, "privacy.mode") != NULL);
}

/* A language the classifier did not learn: the policy picks the tier for
 * "auto", a client's tier or backend still wins, and so do privacy and the
 * state of the network. */
static void test_unknown_language(void)
{
    fixture f;

    setup(&f, "d:local e:depot c:spark");
    f.unknown_language = true;
    f.cfg.unknown_language = UNKNOWN_LANGUAGE_CLOUD;
    ROUTE(&f, "auto", NULL, 0.1, "cloud", "unknown_language", "spark depot local");
    ROUTE(&f, "auto", NULL, 0.9, "cloud", "unknown_language", "spark depot local");
    ROUTE(&f, "device", NULL, 0.9, "device", "forced", "local depot spark");
    ROUTE(&f, "auto", "edge", 0.1, "edge", "forced", "depot spark local");
    f.cfg.unknown_language = UNKNOWN_LANGUAGE_DEVICE;
    ROUTE(&f, "auto", NULL, 0.9, "device", "unknown_language", "local depot spark");
    f.cfg.unknown_language = UNKNOWN_LANGUAGE_SCORE;
    ROUTE(&f, "auto", NULL, 0.1, "device", "complexity", "local depot spark");
    ROUTE(&f, "auto", NULL, 0.9, "cloud", "complexity", "spark depot local");
    /* A learned language is scored whatever the policy. */
    f.unknown_language = false;
    f.cfg.unknown_language = UNKNOWN_LANGUAGE_CLOUD;
    ROUTE(&f, "auto", NULL, 0.1, "device", "complexity", "local depot spark");
    f.unknown_language = true;
    f.device_only = true;
    ROUTE(&f, "auto", NULL, 0.1, "device", "privacy", "local");
    f.device_only = false;
    set_down(&f, "spark");
    ROUTE(&f, "auto", NULL, 0.1, "edge", "offline", "depot local");
    /* Without a cloud tier, "cloud" is the largest tier there is. */
    setup(&f, "d:local e:depot");
    f.unknown_language = true;
    f.cfg.unknown_language = UNKNOWN_LANGUAGE_CLOUD;
    ROUTE(&f, "auto", NULL, 0.1, "edge", "unknown_language", "depot local");
}

/* Backends named "$..." have a price. */
static void setup_priced(fixture *f, const char *spec)
{
    setup(f, spec);
    for (size_t i = 0; i < f->cfg.nbackends; i++)
        if (f->backends[i].name[0] == '$') f->backends[i].price.output_per_mtok = 1;
}

static void test_budget(void)
{
    fixture f;
    router_decision d;
    api_error e;

    setup_priced(&f, "d:local e:depot c:$spark c:$qwen");
    ROUTE(&f, "auto", NULL, 0.9, "cloud", "complexity", "$spark $qwen depot local");
    /* Spent: the priced backends are left out; a free edge is not. */
    f.spent = BUDGET_TOTAL_SPENT;
    ROUTE(&f, "auto", NULL, 0.9, "edge", "budget", "depot local");
    ROUTE(&f, "auto", NULL, 0.6, "edge", "complexity", "depot local");
    ROUTE(&f, "auto", NULL, 0.1, "device", "complexity", "local depot");
    /* A client that named a priced model or tier does not get it either. */
    ROUTE(&f, "$qwen", NULL, 0.1, "edge", "budget", "depot local");
    ROUTE(&f, "auto", "cloud", 0.1, "edge", "budget", "depot local");
    ROUTE(&f, "local", NULL, 0.9, "device", "forced", "local depot");
    /* Budget before availability: the reason says why it moved first. */
    set_down(&f, "depot");
    ROUTE(&f, "auto", NULL, 0.9, "device", "budget", "local");
    set_down(&f, "local");
    CHECK_INT(decide(&f, "auto", NULL, 0.9, &d, &e), -1);
    CHECK_INT(e.status, 503);

    /* Reject: a request that needs a priced backend gets OpenAI's 429. */
    setup_priced(&f, "d:local c:$spark");
    f.spent = BUDGET_KEY_SPENT;
    f.reject = true;
    CHECK_INT(decide(&f, "auto", NULL, 0.9, &d, &e), -1);
    CHECK_INT(e.status, 429);
    CHECK_STR(e.type, "insufficient_quota");
    CHECK_STR(e.code, "insufficient_quota");
    CHECK(strstr(e.message, "This API key has spent its daily budget") != NULL);
    REFUSE(&f, "$spark", NULL, 429, "insufficient_quota", "");
    /* One that does not keeps its tier and loses only the priced fallback. */
    ROUTE(&f, "auto", NULL, 0.1, "device", "complexity", "local");
    /* slow_network moved it to the device first: not refused. */
    f.budget_ms = 100;
    set_estimate(&f, "$spark", 5000);
    ROUTE(&f, "auto", NULL, 0.9, "device", "slow_network", "local");
    f.budget_ms = 0;

    /* Nothing free to go to: 429 even when downgrading, for each cause. */
    f.reject = false;
    f.cfg.fallback = false;
    CHECK_INT(decide(&f, "auto", "cloud", 0.1, &d, &e), -1);
    CHECK_INT(e.status, 429);
    setup_priced(&f, "c:$spark");
    f.spent = BUDGET_TOTAL_SPENT;
    CHECK_INT(decide(&f, "auto", NULL, 0.1, &d, &e), -1);
    CHECK(strstr(e.message, "The gateway has spent its daily budget") != NULL);
    f.spent = BUDGET_BLOCKED;
    CHECK_INT(decide(&f, "auto", NULL, 0.1, &d, &e), -1);
    CHECK_INT(e.status, 429);
    CHECK(strstr(e.message, "budget state is damaged") != NULL);

    /* Privacy moved it first: its reason stands. */
    setup_priced(&f, "d:local c:$spark");
    f.spent = BUDGET_TOTAL_SPENT;
    f.device_only = true;
    ROUTE(&f, "auto", NULL, 0.9, "device", "privacy", "local");
}

int main(void)
{
    test_budget();
    test_device_only();
    test_unknown_language();
    test_tier_for_score();
    test_missing_tiers();
    test_candidate_order();
    test_forced();
    test_aliases();
    test_no_fallback();
    test_header();
    test_unknown_model();
    test_offline();
    test_slow_network();
    test_needed();
    test_limits();
    test_pure();
    TEST_MAIN_END();
}
