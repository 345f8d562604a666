/* Config validation: defaults, every field's error message, secrets. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "testlib.h"

static const char *fake_env(const char *name) {
    if (strcmp(name, "CLOUD_KEY") == 0) return "sk-secret-value-123";
    if (strcmp(name, "CLIENT_KEYS") == 0) return "kiosk-7:sk-client-key-0000000001,ops:sk-client-key-0000000002";
    return NULL;
}

static config *parse(const char *json, char *err) {
    return config_parse(json, strlen(json), err, 256, fake_env);
}

#define MIN_BACKEND "{\"name\":\"dev\",\"tier\":\"device\",\"url\":\"http://127.0.0.1:8080/v1/\",\"model\":\"m\"}"

static void expect_error(const char *json, const char *want) {
    char err[256] = "";
    config *c = parse(json, err);
    CHECK(c == NULL);
    if (!strstr(err, want)) fprintf(stderr, "  got error: %s\n  wanted: %s\n", err, want);
    CHECK(strstr(err, want) != NULL);
    config_free(c);
}

static void test_defaults(void) {
    char err[256] = "";
    config *c = parse("{\"backends\":[" MIN_BACKEND "]}", err);
    CHECK(c != NULL);
    if (!c) return;
    CHECK_STR(c->listen_host, "127.0.0.1");
    CHECK_INT(c->listen_port, 8088);
    CHECK_INT(c->nbackends, 1);
    CHECK_STR(c->backends[0].url, "http://127.0.0.1:8080/v1");   /* trailing slash dropped */
    CHECK_STR(c->backends[0].health_path, "/models");
    CHECK(c->backends[0].dialect == DIALECT_COMPAT);
    CHECK(c->backends[0].continuation == CONTINUATION_NONE);
    CHECK(c->backends[0].api_key == NULL);
    CHECK_INT(c->backends[0].connect_ms, 2000);
    CHECK(c->threshold == 0.25);
    CHECK(c->cloud_threshold == 0.75);
    CHECK_STR(c->classifier_model, "classifier.model");   /* config_parse leaves it as written */
    CHECK(c->fallback);
    CHECK_INT(c->max_body_bytes, 1048576);
    CHECK_INT(c->max_connections, 1024);
    /* Resilience defaults: docs/resilience.md explains each. */
    CHECK_INT(c->max_first_byte_ms, 2000);
    CHECK_INT(c->hedge_after_ms, 0);
    CHECK_INT(c->retries, 1);
    CHECK_INT(c->retry_backoff_ms, 200);
    CHECK_INT(c->max_retry_after_ms, 5000);
    CHECK_INT(c->circuit.failures_to_open, 3);
    CHECK(c->circuit.error_rate == 0.5);
    CHECK_INT(c->circuit.min_requests, 10);
    CHECK_INT(c->circuit.window_ms, 30000);
    CHECK_INT(c->circuit.cooldown_ms, 5000);
    CHECK_INT(c->backends[0].context_tokens, 0);
    CHECK(c->backends[0].price.input_per_mtok == 0 && c->backends[0].price.output_per_mtok == 0);
    CHECK(c->log_file == NULL);
    CHECK(!c->log_include_text);
    CHECK(config_has_tier(c, TIER_DEVICE));
    CHECK(!config_has_tier(c, TIER_CLOUD));
    CHECK_INT(config_backend_index(c, "dev"), 0);
    CHECK_INT(config_backend_index(c, "nope"), -1);
    config_free(c);
}

static void test_full(void) {
    char err[256] = "";
    config *c = parse("{\"listen\":\"[::1]:0\",\"backends\":[" MIN_BACKEND ","
                      "{\"name\":\"big\",\"tier\":\"cloud\",\"url\":\"https://x.example/v1\",\"model\":\"big\","
                      "\"api_key_env\":\"CLOUD_KEY\",\"dialect\":\"openai\",\"health_path\":\"/health\","
                      "\"continuation\":\"continue_final_message\","
                      "\"timeouts\":{\"connect_ms\":10,\"first_byte_ms\":20,\"idle_ms\":30,\"total_ms\":40},"
                      "\"price\":{\"input_per_mtok\":0.27,\"output_per_mtok\":1.1}}],"
                      "\"routing\":{\"threshold\":0.3,\"cloud_threshold\":0.9,\"fallback\":false,\"deadline_ms\":5000,"
                      "\"max_first_byte_ms\":0,\"hedge_after_ms\":300,\"retries\":0,\"retry_backoff_ms\":50,"
                      "\"max_retry_after_ms\":0},"
                      "\"circuit\":{\"failures_to_open\":1,\"error_rate\":1,\"min_requests\":1,\"window_ms\":100,"
                      "\"cooldown_ms\":1},"
                      "\"health\":{\"probe_interval_ms\":250},"
                      "\"limits\":{\"max_body_bytes\":4096,\"max_connections\":10,\"client_timeout_s\":5},"
                      "\"log\":{\"file\":\"/var/log/tiergate/requests.log\",\"include_text\":true}}", err);
    CHECK(c != NULL);
    if (!c) {
        fprintf(stderr, "  %s\n", err);
        return;
    }
    CHECK_STR(c->listen_host, "::1");
    CHECK_INT(c->listen_port, 0);
    CHECK_STR(c->backends[1].api_key, "sk-secret-value-123");
    CHECK(c->backends[1].dialect == DIALECT_OPENAI);
    CHECK(c->backends[1].continuation == CONTINUATION_CONTINUE_FINAL_MESSAGE);
    CHECK_INT(c->backends[1].total_ms, 40);
    CHECK(c->backends[1].price.input_per_mtok == 0.27 && c->backends[1].price.output_per_mtok == 1.1);
    CHECK_STR(c->log_file, "/var/log/tiergate/requests.log");
    CHECK(c->log_include_text);
    CHECK(!c->fallback);
    CHECK_INT(c->probe_interval_ms, 250);
    CHECK_INT(c->max_body_bytes, 4096);
    CHECK_INT(c->max_first_byte_ms, 0);
    CHECK_INT(c->hedge_after_ms, 300);
    CHECK_INT(c->retries, 0);
    CHECK_INT(c->retry_backoff_ms, 50);
    CHECK_INT(c->max_retry_after_ms, 0);
    CHECK_INT(c->circuit.failures_to_open, 1);
    CHECK(c->circuit.error_rate == 1);
    CHECK_INT(c->circuit.window_ms, 100);
    CHECK_INT(c->circuit.cooldown_ms, 1);

    /* --check output masks the key but names its variable. */
    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    config_print(c, f);
    fclose(f);
    CHECK(strstr(out, "sk-secret") == NULL);
    CHECK(strstr(out, "\"***\"") != NULL);
    CHECK(strstr(out, "CLOUD_KEY") != NULL);
    CHECK(strstr(out, "\"[::1]:0\"") != NULL);
    CHECK(strstr(out, "\"output_per_mtok\":\t1.1") != NULL);
    CHECK(strstr(out, "\"include_text\":\ttrue") != NULL);
    free(out);
    config_free(c);
}

static void test_errors(void) {
    expect_error("", "config: not valid JSON");
    expect_error("[]", "config: must be a JSON object");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"treshold\":1}", "treshold: unknown key");
    expect_error("{}", "backends: must be an array of 1 to 16 backends");
    expect_error("{\"backends\":[]}", "backends: must be an array");
    expect_error("{\"backends\":[{\"tier\":\"device\",\"url\":\"http://a\",\"model\":\"m\"}]}",
                 "backends[0].name: is required");
    expect_error("{\"backends\":[" MIN_BACKEND "," MIN_BACKEND "]}", "backends[1].name: \"dev\" is used twice");
    expect_error("{\"backends\":[{\"name\":\"auto\",\"tier\":\"device\",\"url\":\"http://a\",\"model\":\"m\"}]}",
                 "backends[0].name: must use only");
    expect_error("{\"backends\":[{\"name\":\"a b\",\"tier\":\"device\",\"url\":\"http://a\",\"model\":\"m\"}]}",
                 "backends[0].name: must use only");
    expect_error("{\"backends\":[{\"name\":\"a\",\"tier\":\"phone\",\"url\":\"http://a\",\"model\":\"m\"}]}",
                 "backends[0].tier: must be \"device\", \"edge\" or \"cloud\"");
    expect_error("{\"backends\":[{\"name\":\"a\",\"tier\":\"device\",\"url\":\"ftp://a\",\"model\":\"m\"}]}",
                 "backends[0].url: must start with http:// or https://");
    expect_error("{\"backends\":[{\"name\":\"a\",\"tier\":\"device\",\"url\":\"http://a\",\"model\":\"\"}]}",
                 "backends[0].model: must be a non-empty string");
    expect_error("{\"backends\":[{\"name\":\"a\",\"tier\":\"device\",\"url\":\"http://a\",\"model\":\"m\",\"api_key_env\":\"NOPE\"}]}",
                 "backends[0].api_key_env: environment variable NOPE is not set");
    expect_error("{\"backends\":[{\"name\":\"a\",\"tier\":\"device\",\"url\":\"http://a\",\"model\":\"m\",\"dialect\":\"x\"}]}",
                 "backends[0].dialect: must be \"compat\" or \"openai\"");
    expect_error("{\"backends\":[{\"name\":\"a\",\"tier\":\"device\",\"url\":\"http://a\",\"model\":\"m\","
                 "\"continuation\":\"prefil\"}]}",
                 "backends[0].continuation: must be \"prefill\", \"prefix\", \"partial\", \"continue_final_message\" "
                 "or \"none\"");
    expect_error("{\"backends\":[{\"name\":\"a\",\"tier\":\"device\",\"url\":\"http://a\",\"model\":\"m\","
                 "\"continuation\":true}]}",
                 "backends[0].continuation: must be a non-empty string");
    expect_error("{\"backends\":[{\"name\":\"a\",\"tier\":\"device\",\"url\":\"http://a\",\"model\":\"m\",\"timeouts\":{\"connect_ms\":-5}}]}",
                 "backends[0].timeouts.connect_ms: must be an integer");
    expect_error("{\"backends\":[{\"name\":\"a\",\"tier\":\"device\",\"url\":\"http://a\",\"model\":\"m\",\"timeouts\":{\"connect_ms\":1.5}}]}",
                 "backends[0].timeouts.connect_ms: must be an integer");
    expect_error("{\"backends\":[{\"name\":\"a\",\"tier\":\"device\",\"url\":\"http://a\",\"model\":\"m\",\"timeouts\":{\"conect_ms\":5}}]}",
                 "backends[0].timeouts.conect_ms: unknown key");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"routing\":{\"threshold\":1.5}}",
                 "routing.threshold: must be a number from 0 to 1");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"routing\":{\"threshold\":0.6,\"cloud_threshold\":0.5}}",
                 "routing.cloud_threshold: must be a number from 0.6 to 1");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"routing\":{\"fallback\":\"yes\"}}",
                 "routing.fallback: must be true or false");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"listen\":\"localhost\"}", "listen: must be \"host:port\"");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"listen\":\"1.2.3.4:99999\"}", "listen: must be \"host:port\"");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"limits\":{\"max_body_bytes\":10}}",
                 "limits.max_body_bytes: must be an integer from 1024");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"health\":{\"probe_interval_ms\":0}}",
                 "health.probe_interval_ms: must be an integer from 100");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"routing\":{},\"routing\":{}}", "routing: duplicate key");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"routing\":{\"retries\":6}}", "routing.retries: must be an integer from 0 to 5");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"routing\":{\"hedge_after_ms\":-1}}",
                 "routing.hedge_after_ms: must be an integer from 0");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"routing\":{\"retry_backoff_ms\":0}}",
                 "routing.retry_backoff_ms: must be an integer from 1");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"circuit\":{\"cooldown\":5}}", "circuit.cooldown: unknown key");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"circuit\":[]}", "circuit: must be an object");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"circuit\":{\"error_rate\":0}}",
                 "circuit.error_rate: must be a number from 0.01 to 1");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"circuit\":{\"window_ms\":99}}",
                 "circuit.window_ms: must be an integer from 100");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"circuit\":{\"failures_to_open\":0}}",
                 "circuit.failures_to_open: must be an integer from 1");
    expect_error("{\"backends\":[{\"name\":\"a\",\"tier\":\"device\",\"url\":\"http://a\",\"model\":\"m\",\"context_tokens\":-1}]}",
                 "backends[0].context_tokens: must be an integer from 0");
    expect_error("{\"backends\":[{\"name\":\"a\",\"tier\":\"cloud\",\"url\":\"http://a\",\"model\":\"m\",\"price\":{\"input_per_mtok\":-1}}]}",
                 "backends[0].price.input_per_mtok: must be a number from 0 to 100000");
    expect_error("{\"backends\":[{\"name\":\"a\",\"tier\":\"cloud\",\"url\":\"http://a\",\"model\":\"m\",\"price\":{\"output_per_mtok\":\"1\"}}]}",
                 "backends[0].price.output_per_mtok: must be a number");
    expect_error("{\"backends\":[{\"name\":\"a\",\"tier\":\"cloud\",\"url\":\"http://a\",\"model\":\"m\",\"price\":{\"per_mtok\":1}}]}",
                 "backends[0].price.per_mtok: unknown key");
    expect_error("{\"backends\":[{\"name\":\"a\",\"tier\":\"cloud\",\"url\":\"http://a\",\"model\":\"m\",\"price\":1}]}",
                 "backends[0].price: must be an object");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"log\":{\"file\":\"\"}}", "log.file: must be a non-empty string");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"log\":{\"include_text\":1}}", "log.include_text: must be true or false");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"log\":{\"level\":\"debug\"}}", "log.level: unknown key");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"log\":\"stderr\"}", "log: must be an object");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"routing\":{\"classifier_model\":\"\"}}",
                 "routing.classifier_model: must be a non-empty string");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"routing\":{\"classifier_model\":3}}",
                 "routing.classifier_model: must be a non-empty string");
}

/* Writes text to a new file dir/name; returns its path (static buffer). */
static const char *write_file(const char *dir, const char *name, const char *text) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return path;
}

/* A relative model path is taken relative to the configuration file's
 * directory, so the gateway finds config/classifier.model from anywhere;
 * an absolute one is kept. */
static void test_model_path(void) {
    char dir[] = "/tmp/tiergate-test-config-XXXXXX", err[256] = "";
    CHECK(mkdtemp(dir) != NULL);
    config *c = config_load(write_file(dir, "a.json", "{\"backends\":[" MIN_BACKEND "]}"), err, sizeof err);
    char want[600];
    snprintf(want, sizeof want, "%s/classifier.model", dir);
    CHECK(c != NULL);
    if (c) CHECK_STR(c->classifier_model, want);
    config_free(c);
    c = config_load(write_file(dir, "b.json", "{\"backends\":[" MIN_BACKEND "],"
                                              "\"routing\":{\"classifier_model\":\"models/x.model\"}}"),
                    err, sizeof err);
    snprintf(want, sizeof want, "%s/models/x.model", dir);
    CHECK(c != NULL);
    if (c) CHECK_STR(c->classifier_model, want);
    config_free(c);
    c = config_load(write_file(dir, "c.json", "{\"backends\":[" MIN_BACKEND "],"
                                              "\"routing\":{\"classifier_model\":\"/opt/m.model\"}}"),
                    err, sizeof err);
    CHECK(c != NULL);
    if (c) CHECK_STR(c->classifier_model, "/opt/m.model");
    config_free(c);
    /* The budget's state file likewise. */
    c = config_load(write_file(dir, "d.json", "{\"backends\":[" MIN_BACKEND ",{\"name\":\"big\",\"tier\":\"cloud\","
                                              "\"url\":\"http://c\",\"model\":\"m\",\"price\":{\"input_per_mtok\":1}}],"
                                              "\"budget\":{\"daily\":1,\"state_file\":\"state/budget\"},"
                                              "\"log\":{\"file\":\"logs/requests.log\"}}"),
                    err, sizeof err);
    snprintf(want, sizeof want, "%s/state/budget", dir);
    CHECK(c != NULL);
    if (c) CHECK_STR(c->budget.state_file, want);
    snprintf(want, sizeof want, "%s/logs/requests.log", dir);     /* and the request log */
    if (c) CHECK_STR(c->log_file, want);
    config_free(c);
    for (const char *n = "abcd"; *n; n++) {
        char path[600];
        snprintf(path, sizeof path, "%s/%c.json", dir, *n);
        remove(path);
    }
    rmdir(dir);
}

/* Issue 17: the cache section and routing.degraded_reply. */
static void test_cache(void) {
    char err[256] = "";
    config *c = parse("{\"backends\":[" MIN_BACKEND "]}", err);
    CHECK(c != NULL);
    if (c) {
        CHECK_INT(c->cache.mode, CACHE_OFF);
        CHECK(c->cache.file == NULL && c->degraded_reply.zh == NULL && c->degraded_reply.en == NULL);
        CHECK_INT(c->cache.max_age_s, 604800);
        CHECK(c->cache.max_temperature == 0);
    }
    config_free(c);
    c = parse("{\"backends\":[" MIN_BACKEND "],\"cache\":{\"mode\":\"always\",\"file\":\"a.cache\","
              "\"max_bytes\":1048576,\"ttl_s\":60,\"max_age_s\":120,\"max_temperature\":0.2,"
              "\"require_seed\":true},\"routing\":{\"degraded_reply\":{\"zh\":\"稍后\",\"en\":\"later\"}}}", err);
    CHECK(c != NULL);
    if (c) {
        CHECK_INT(c->cache.mode, CACHE_ALWAYS);
        CHECK_STR(c->cache.file, "a.cache");
        CHECK_INT(c->cache.max_bytes, 1048576);
        CHECK_INT(c->cache.ttl_s, 60);
        CHECK_INT(c->cache.max_age_s, 120);
        CHECK(c->cache.require_seed);
        CHECK_STR(c->degraded_reply.zh, "稍后");
        CHECK_STR(c->degraded_reply.en, "later");
    }
    config_free(c);
    expect_error("{\"backends\":[" MIN_BACKEND "],\"cache\":{\"mode\":\"offline\"}}",
                 "cache.file: is required when the cache is on");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"cache\":{\"mode\":\"sometimes\",\"file\":\"x\"}}",
                 "cache.mode: must be \"off\", \"offline\" or \"always\"");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"cache\":{\"mode\":\"offline\",\"file\":\"x\",\"ttl\":1}}",
                 "cache.ttl: unknown key");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"cache\":{\"max_temperature\":3}}",
                 "cache.max_temperature: must be a number from 0 to 2");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"routing\":{\"degraded_reply\":\"sorry\"}}",
                 "routing.degraded_reply: must be an object");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"routing\":{\"degraded_reply\":{}}}",
                 "routing.degraded_reply: needs \"zh\", \"en\" or both");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"routing\":{\"degraded_reply\":{\"fr\":\"x\"}}}",
                 "routing.degraded_reply.fr: unknown key");
    /* The file is relative to the configuration's directory. */
    char dir[] = "/tmp/tiergate-test-cache-XXXXXX", path[600], want[600];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/c.json", dir);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("{\"backends\":[" MIN_BACKEND "],\"cache\":{\"mode\":\"offline\",\"file\":\"state/answers\"}}", f);
        fclose(f);
    }
    c = config_load(path, err, sizeof err);
    snprintf(want, sizeof want, "%s/state/answers", dir);
    CHECK(c != NULL);
    if (c) CHECK_STR(c->cache.file, want);
    config_free(c);
    remove(path);
    rmdir(dir);
}

static void test_load_missing_file(void) {
    char err[256] = "";
    config *c = config_load("/nonexistent/tiergate.json", err, sizeof err);
    CHECK(c == NULL);
    CHECK(strstr(err, "/nonexistent/tiergate.json: No such file") != NULL);
}

static void test_tiers(void) {
    tier_t t;
    CHECK_INT(tier_parse("edge", &t), 0);
    CHECK(t == TIER_EDGE);
    CHECK_INT(tier_parse("Edge", &t), -1);
    CHECK_STR(tier_name(TIER_CLOUD), "cloud");
}

/* privacy: redact by default, the three modes, operator patterns compiled
 * once, and every mistake named by its field. */
static void test_privacy(void) {
    char err[256] = "";
    config *c = parse("{\"backends\":[" MIN_BACKEND "]}", err);
    CHECK(c != NULL);
    if (c) CHECK_INT(c->privacy, PRIVACY_REDACT);
    config_free(c);
    c = parse("{\"backends\":[" MIN_BACKEND "],\"privacy\":{\"mode\":\"local\",\"patterns\":["
              "{\"name\":\"EMPLOYEE_ID\",\"regex\":\"EMP-[0-9]{6}\"},{\"name\":\"ORDER\",\"regex\":\"O[0-9]+\"}]}}",
              err);
    CHECK(c != NULL);
    if (c) {
        CHECK_INT(c->privacy, PRIVACY_LOCAL);
        CHECK_INT(c->npatterns, 2);
        CHECK_STR(c->patterns[0].name, "EMPLOYEE_ID");
        CHECK(regexec(&c->patterns[0].re, "id EMP-004211", 0, NULL, 0) == 0);
        CHECK_STR(privacy_mode_name(c->privacy), "local");
    }
    config_free(c);
    expect_error("{\"backends\":[" MIN_BACKEND "],\"privacy\":{\"mode\":\"cloud\"}}", "privacy.mode: must be");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"privacy\":{\"modes\":\"off\"}}", "privacy.modes: unknown key");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"privacy\":{\"patterns\":[{\"name\":\"A\",\"regex\":\"(\"}]}}",
                 "privacy.patterns[0].regex: not a POSIX extended regular expression");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"privacy\":{\"patterns\":[{\"name\":\"A\",\"regex\":\"a\"},"
                 "{\"name\":\"lower\",\"regex\":\"b\"}]}}",
                 "privacy.patterns[1].name: must be A-Z");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"privacy\":{\"patterns\":[{\"name\":\"PHONE\",\"regex\":\"a\"}]}}",
                 "privacy.patterns[0].name: is a built-in kind");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"privacy\":{\"patterns\":[{\"name\":\"A\",\"regex\":\"a\"},"
                 "{\"name\":\"A\",\"regex\":\"b\"}]}}",
                 "privacy.patterns[1].name: duplicate name");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"privacy\":{\"patterns\":[{\"name\":\"A\"}]}}",
                 "privacy.patterns[0].regex: is required");    expect_error("{\"backends\":[" MIN_BACKEND "],\"privacy\":{\"patterns\":[{\"name\":\"NAME\",\"regex\":\"a\"}]}}",
                 "privacy.patterns[0].name: is a built-in kind");
    /* The size limits of piiregex.h (test_piiregex has the cases). */
    expect_error("{\"backends\":[" MIN_BACKEND "],\"privacy\":{\"patterns\":[{\"name\":\"A\","
                 "\"regex\":\"((a{1,255}){1,255}){1,255}\"}]}}",
                 "privacy.patterns[0].regex: must not repeat more than 1000 copies");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"privacy\":{\"patterns\":[{\"name\":\"A\","
                 "\"regex\":\"\\\\\\\\**\"}]}}",
                 "privacy.patterns[0].regex: must not stack quantifiers");
}

/* privacy.detectors: every kind on by default, named kinds switched, and
 * every mistake named by its field. */
static void test_detectors(void) {
    char err[256] = "";
    config *c = parse("{\"backends\":[" MIN_BACKEND "]}", err);
    CHECK(c != NULL);
    if (c) CHECK_INT(c->pii_kinds, PII_ALL_KINDS);
    config_free(c);
    c = parse("{\"backends\":[" MIN_BACKEND "],\"privacy\":{\"detectors\":{\"NAME\":false,\"ADDRESS\":false,"
              "\"PHONE\":true}}}",
              err);
    CHECK(c != NULL);
    if (c) CHECK_INT(c->pii_kinds, PII_ALL_KINDS & ~(1u << PII_NAME | 1u << PII_ADDRESS));
    config_free(c);
    expect_error("{\"backends\":[" MIN_BACKEND "],\"privacy\":{\"detectors\":[\"NAME\"]}}",
                 "privacy.detectors: must be an object of kind names to true or false");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"privacy\":{\"detectors\":{\"name\":false}}}",
                 "privacy.detectors.name: is not a built-in kind (PHONE, CN_ID");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"privacy\":{\"detectors\":{\"NAME\":0}}}",
                 "privacy.detectors.NAME: must be true or false");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"privacy\":{\"detectors\":{\"NAME\":false,\"NAME\":true}}}",
                 "privacy.detectors.NAME: duplicate kind");
}

static void test_aliases(void) {
    char err[256];
    config *c = parse("{\"backends\":[" MIN_BACKEND "],\"routing\":{\"model_aliases\":"
                      "{\"gpt-4o-mini\":\"auto\",\"gpt-4o\":\"device\",\"qwen\":\"dev\"}}}", err);
    CHECK(c != NULL);
    if (!c) return;
    CHECK_INT(c->naliases, 3);
    CHECK_STR(config_alias_target(c, "gpt-4o-mini"), "auto");
    CHECK_STR(config_alias_target(c, "gpt-4o"), "device");
    CHECK_STR(config_alias_target(c, "qwen"), "dev");
    CHECK_STR(config_alias_target(c, "other"), "other");
    config_free(c);
    expect_error("{\"backends\":[" MIN_BACKEND "],\"routing\":{\"model_aliases\":[]}}",
                 "routing.model_aliases: must be an object of at most 64 names");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"routing\":{\"model_aliases\":{\"x\":\"cloud\"}}}",
                 "routing.model_aliases.x: must be \"auto\", a configured tier or a backend name");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"routing\":{\"model_aliases\":{\"x\":1}}}",
                 "routing.model_aliases.x: must be \"auto\", a configured tier or a backend name");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"routing\":{\"model_aliases\":{\"dev\":\"auto\"}}}",
                 "routing.model_aliases.dev: an alias must be a new name");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"routing\":{\"model_aliases\":{\"cloud\":\"auto\"}}}",
                 "routing.model_aliases.cloud: an alias must be a new name");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"routing\":{\"model_aliases\":{\"a\":\"auto\",\"a\":\"dev\"}}}",
                 "routing.model_aliases.a: an alias must be a new name");
}

/* What a reload cannot apply is named, and nothing else is. */
static void test_restart_fields(void) {
    char err[256] = "", out[256];
    config *a = parse("{\"backends\":[" MIN_BACKEND "]}", err);
    config *b = parse("{\"listen\":\"127.0.0.1:9000\",\"backends\":[" MIN_BACKEND "],"
                      "\"routing\":{\"threshold\":0.9},"
                      "\"limits\":{\"max_connections\":5,\"request_timeout_s\":7,\"max_body_bytes\":4096,"
                      "\"drain_timeout_s\":3}}", err);
    CHECK(a && b);
    if (!a || !b) goto out;
    CHECK_INT(b->drain_timeout_s, 3);
    CHECK_INT(a->drain_timeout_s, 30);
    CHECK_INT(config_restart_fields(a, a, out, sizeof out), 0);
    CHECK_STR(out, "");
    CHECK_INT(config_restart_fields(a, b, out, sizeof out), 3);
    CHECK_STR(out, "listen, limits.max_connections, limits.request_timeout_s");
    CHECK_INT(config_restart_fields(a, b, out, 10), 3);
    CHECK_INT((int)strlen(out), 9);
out:
    config_free(a);
    config_free(b);
    expect_error("{\"backends\":[" MIN_BACKEND "],\"limits\":{\"drain_timeout_s\":-1}}",
                 "limits.drain_timeout_s: must be");
}

#define PRICED "{\"name\":\"big\",\"tier\":\"cloud\",\"url\":\"http://c\",\"model\":\"m\"," \
               "\"price\":{\"output_per_mtok\":2}}"
#define KEYS "\"auth\":{\"keys_env\":\"CLIENT_KEYS\"}"

/* budget: off without the section; caps, keys, the day's offset and the
 * state file read and printed; every mistake named by its field. */
static void test_budget(void) {
    char err[256] = "";
    config *c = parse("{\"backends\":[" MIN_BACKEND "]}", err);
    CHECK(c && !c->budget.enabled);
    config_free(c);
    c = parse("{\"backends\":[" MIN_BACKEND "," PRICED "]," KEYS ",\"budget\":{\"daily\":5,\"per_key_daily\":1.5,"
              "\"keys\":{\"kiosk-7\":0},\"when_exhausted\":\"reject\",\"utc_offset_minutes\":480,"
              "\"state_file\":\"/var/lib/tiergate/budget.state\"}}", err);
    CHECK(c != NULL);
    if (!c) {
        fprintf(stderr, "  %s\n", err);
        return;
    }
    CHECK(c->budget.enabled && c->budget.reject);
    CHECK(c->budget.daily == 5 && c->budget.per_key_daily == 1.5);
    CHECK_INT(c->budget.nkeys, 1);
    CHECK_STR(c->budget.keys[0].name, "kiosk-7");
    CHECK(c->budget.keys[0].daily == 0);
    CHECK_INT(c->budget.utc_offset_min, 480);
    CHECK(config_backend_priced(&c->backends[1]) && !config_backend_priced(&c->backends[0]));
    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    config_print(c, f);
    fclose(f);
    CHECK(strstr(out, "\"when_exhausted\":\t\"reject\"") != NULL);
    CHECK(strstr(out, "\"kiosk-7\":\t0") != NULL);
    CHECK(strstr(out, "\"state_file\":\t\"/var/lib/tiergate/budget.state\"") != NULL);
    free(out);

    /* Defaults: downgrade, UTC, no cap printed as null; a new file takes a restart. */
    char out2[128];
    config *d = parse("{\"backends\":[" MIN_BACKEND "," PRICED "],\"budget\":{\"daily\":0,\"state_file\":\"b.state\"}}",
                      err);
    CHECK(d != NULL);
    if (d) {
        CHECK(!d->budget.reject && d->budget.utc_offset_min == 0 && d->budget.per_key_daily == -1.0);
        out = NULL;
        f = open_memstream(&out, &outlen);
        config_print(d, f);
        fclose(f);
        CHECK(strstr(out, "\"per_key_daily\":\tnull") != NULL);
        CHECK(strstr(out, "\"when_exhausted\":\t\"downgrade\"") != NULL);
        free(out);
        /* c is at +480 minutes, d at UTC: the day's start waits for a restart too. */
        CHECK_INT(config_restart_fields(c, d, out2, sizeof out2), 2);
        CHECK_STR(out2, "budget.state_file, budget.utc_offset_minutes");
    }
    config_free(d);
    config_free(c);

    const char *head = "{\"backends\":[" MIN_BACKEND "," PRICED "]," KEYS ",\"budget\":";
    static const struct {
        const char *budget, *want;
    } bad[] = {
        {"5", "budget: must be an object"},
        {"{\"daily\":1}", "budget.state_file: is required"},
        {"{\"state_file\":\"b\"}", "budget: needs a cap: daily, per_key_daily or keys"},
        {"{\"keys\":{},\"state_file\":\"b\"}", "budget: needs a cap: daily, per_key_daily or keys"},
        {"{\"daily\":-1,\"state_file\":\"b\"}", "budget.daily: must be a number from 0"},
        {"{\"daily\":\"5\",\"state_file\":\"b\"}", "budget.daily: must be a number"},
        {"{\"per_key_daily\":-1,\"state_file\":\"b\"}", "budget.per_key_daily: must be a number from 0"},
        {"{\"dayly\":1,\"state_file\":\"b\"}", "budget.dayly: unknown key"},
        {"{\"daily\":1,\"state_file\":\"\"}", "budget.state_file: must be a non-empty string"},
        {"{\"daily\":1,\"state_file\":\"b\",\"when_exhausted\":\"queue\"}",
         "budget.when_exhausted: must be \"downgrade\" or \"reject\""},
        {"{\"daily\":1,\"state_file\":\"b\",\"utc_offset_minutes\":900}",
         "budget.utc_offset_minutes: must be an integer from -720 to 840"},
        {"{\"keys\":[],\"state_file\":\"b\"}", "budget.keys: must be an object"},
        {"{\"keys\":{\"alice\":1},\"state_file\":\"b\"}", "budget.keys.alice: no client key has this name"},
        {"{\"keys\":{\"ops\":-1},\"state_file\":\"b\"}", "budget.keys.ops: must be a number from 0"},
        {"{\"keys\":{\"ops\":1,\"ops\":2},\"state_file\":\"b\"}", "budget.keys.ops: duplicate key"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char json[1024];
        snprintf(json, sizeof json, "%s%s}", head, bad[i].budget);
        expect_error(json, bad[i].want);
    }
    expect_error("{\"backends\":[" MIN_BACKEND "," PRICED "],\"budget\":{\"per_key_daily\":1,\"state_file\":\"b\"}}",
                 "budget.per_key_daily: needs client keys");
    expect_error("{\"backends\":[" MIN_BACKEND "," PRICED "],\"budget\":{\"keys\":{},\"state_file\":\"b\"}}",
                 "budget.keys: needs client keys");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"budget\":{\"daily\":1,\"state_file\":\"b\"}}",
                 "budget: no backend has a price");
}

/* routing.unknown_language: "cloud" unless set, one of three names. */
static void test_unknown_language(void) {
    char err[256];
    config *c = parse("{\"backends\":[" MIN_BACKEND "]}", err);
    CHECK(c != NULL);
    if (c) CHECK_INT(c->unknown_language, UNKNOWN_LANGUAGE_CLOUD);
    config_free(c);
    c = parse("{\"backends\":[" MIN_BACKEND "],\"routing\":{\"unknown_language\":\"device\"}}", err);
    CHECK(c != NULL);
    if (c) CHECK_INT(c->unknown_language, UNKNOWN_LANGUAGE_DEVICE);
    config_free(c);
    c = parse("{\"backends\":[" MIN_BACKEND "],\"routing\":{\"unknown_language\":\"score\"}}", err);
    CHECK(c != NULL);
    if (c) CHECK_INT(c->unknown_language, UNKNOWN_LANGUAGE_SCORE);
    config_free(c);
    expect_error("{\"backends\":[" MIN_BACKEND "],\"routing\":{\"unknown_language\":\"english\"}}",
                 "routing.unknown_language: must be \"score\", \"cloud\" or \"device\"");
    expect_error("{\"backends\":[" MIN_BACKEND "],\"routing\":{\"unknown_language\":1}}",
                 "routing.unknown_language: must be");
}

int main(void) {
    test_budget();
    test_aliases();
    test_restart_fields();
    test_privacy();
    test_detectors();
    test_unknown_language();
    test_defaults();
    test_full();
    test_errors();
    test_load_missing_file();
    test_model_path();
    test_tiers();
    test_cache();
    TEST_MAIN_END();
}
