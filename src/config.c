/* config: parse, validate and default the JSON configuration.
 *
 * Validation is strict on purpose: the gateway runs unattended in cars and
 * kiosks, where a typo that silently falls back to a default ("treshold") is
 * found months later.  So unknown keys are errors, every number has a range,
 * and every message names the field as a path, the way the user wrote it.
 *
 * Each section is read by one function with the same shape: check the object's
 * keys against its table, then read each field with a typed reader
 * (configread.h) that applies the default when the key is absent.  The first error wins; the
 * half-built config is freed by the caller's single cleanup path. */
#include "config.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "budget.h"
#include "cacheconf.h"
#include "configread.h"
#include "datadir.h"
#include "dialect.h"
#include "privacy.h"

#define CONFIG_MAX_BACKENDS 16
#define CONFIG_MAX_FILE (1u << 20)
/* Beside the configuration file, as config/ ships it. */
#define DEFAULT_MODEL "classifier.model"
/* The shipped model's operating point (docs/classifier.md): the highest
 * threshold at which cross-validation on its training rows keeps at most
 * 2.5 % of complex requests on the device. */
#define DEFAULT_THRESHOLD 0.25

static const char *const tier_names[TIER_COUNT] = {"device", "edge", "cloud"};

const char *tier_name(tier_t t) { return (unsigned)t < TIER_COUNT ? tier_names[t] : "none"; }

int tier_parse(const char *s, tier_t *out) {
    for (int i = 0; i < TIER_COUNT; i++)
        if (strcmp(s, tier_names[i]) == 0) {
            *out = (tier_t)i;
            return 0;
        }
    return -1;
}

static const char *const privacy_names[] = {"off", "local", "redact"};
const char *const unknown_language_names[] = {"score", "cloud", "device", NULL};

const char *privacy_mode_name(privacy_mode m) {
    assert((unsigned)m < sizeof privacy_names / sizeof privacy_names[0]);
    return privacy_names[m];
}

static int parse_listen(configread *r, const cJSON *root, config *c) {
    char *listen = NULL;
    if (configread_string(r, root, "", "listen", "127.0.0.1:8088", &listen) < 0) return -1;
    char *colon = strrchr(listen, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || colon == listen || !end || *end || end == colon + 1 || port < 0 || port > 65535) {
        free(listen);
        return configread_fail(r, "listen", "must be \"host:port\" with a port from 0 to 65535");
    }
    *colon = '\0';
    char *host = listen;
    size_t hl = strlen(host);
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        host++;
    }
    c->listen_host = strdup(host);
    free(listen);
    if (!c->listen_host) return configread_fail(r, "listen", "out of memory");
    c->listen_port = (int)port;
    return 0;
}

static bool valid_name(const char *s) {
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return false;
    return true;
}

/* Verification stays on unless turned off by name; main warns at every
 * start when it is.  Options on a plain-http backend would be silently
 * meaningless, so they are refused. */
static int parse_tls(configread *r, const cJSON *obj, const char *path, config_backend *b) {
    static const char *const keys[] = {"ca_file", "insecure_skip_verify", NULL};
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "tls");
    if (!t) return 0;
    char p[128];
    configread_path(p, sizeof p, path, "tls");
    if (configread_keys(r, t, p, keys) < 0) return -1;
    if (strncmp(b->url, "https://", 8) != 0) return configread_fail(r, p, "applies only to an https:// url");
    if (cJSON_GetObjectItemCaseSensitive(t, "ca_file")) {
        if (configread_string(r, t, p, "ca_file", NULL, &b->ca_file) < 0) return -1;
        if (access(b->ca_file, R_OK) != 0) {
            char fp[160];
            configread_path(fp, sizeof fp, p, "ca_file");
            return configread_fail(r, fp, "%s: %s", b->ca_file, strerror(errno));
        }
    }
    return configread_bool(r, t, p, "insecure_skip_verify", false, &b->tls_insecure);
}

/* Prices per million tokens; the largest real ones are some tens. */
static int parse_price(configread *r, const cJSON *obj, const char *path, config_backend *b) {
    static const char *const keys[] = {"input_per_mtok", "output_per_mtok", NULL};
    const cJSON *pr = cJSON_GetObjectItemCaseSensitive(obj, "price");
    if (!pr) return 0;
    char p[128];
    configread_path(p, sizeof p, path, "price");
    if (configread_keys(r, pr, p, keys) < 0 ||
        configread_double(r, pr, p, "input_per_mtok", 0, 1e5, 0, &b->price.input_per_mtok) < 0)
        return -1;
    return configread_double(r, pr, p, "output_per_mtok", 0, 1e5, 0, &b->price.output_per_mtok);
}

static int parse_backend(configread *r, const cJSON *obj, size_t i, config *c) {
    static const char *const keys[] = {"name", "tier", "url", "model", "api_key_env", "dialect",
                                       "health_path", "timeouts", "context_tokens", "tls", "price",
                                       "continuation", NULL};
    static const char *const tkeys[] = {"connect_ms", "first_byte_ms", "idle_ms", "total_ms", NULL};
    config_backend *b = &c->backends[i];
    char path[64], p[128];
    snprintf(path, sizeof path, "backends[%zu]", i);
    if (configread_keys(r, obj, path, keys) < 0) return -1;
    if (configread_string(r, obj, path, "name", NULL, &b->name) < 0) return -1;
    snprintf(p, sizeof p, "%s.name", path);
    tier_t ignored;
    if (!valid_name(b->name) || strcmp(b->name, "auto") == 0 || tier_parse(b->name, &ignored) == 0)
        return configread_fail(r, p,
                               "must use only letters, digits, '-', '_' and '.', and not be \"auto\" or a tier name");
    for (size_t j = 0; j < i; j++)
        if (strcmp(c->backends[j].name, b->name) == 0) return configread_fail(r, p, "\"%s\" is used twice", b->name);

    char *s = NULL;
    if (configread_string(r, obj, path, "tier", NULL, &s) < 0) return -1;
    int bad = tier_parse(s, &b->tier);
    free(s);
    snprintf(p, sizeof p, "%s.tier", path);
    if (bad) return configread_fail(r, p, "must be \"device\", \"edge\" or \"cloud\"");

    if (configread_string(r, obj, path, "url", NULL, &b->url) < 0) return -1;
    snprintf(p, sizeof p, "%s.url", path);
    if (strncmp(b->url, "http://", 7) != 0 && strncmp(b->url, "https://", 8) != 0)
        return configread_fail(r, p, "must start with http:// or https://");
    for (size_t ul = strlen(b->url); ul && b->url[ul - 1] == '/'; ul--) b->url[ul - 1] = '\0';

    if (configread_string(r, obj, path, "model", NULL, &b->model) < 0) return -1;
    if (cJSON_GetObjectItemCaseSensitive(obj, "api_key_env")) {
        if (configread_string(r, obj, path, "api_key_env", NULL, &b->api_key_env) < 0) return -1;
        const char *key = r->getenv_fn(b->api_key_env);
        snprintf(p, sizeof p, "%s.api_key_env", path);
        if (!key || !*key) return configread_fail(r, p, "environment variable %s is not set", b->api_key_env);
        if (!(b->api_key = strdup(key))) return configread_fail(r, p, "out of memory");
    }
    if (configread_string(r, obj, path, "dialect", "compat", &s) < 0) return -1;
    snprintf(p, sizeof p, "%s.dialect", path);
    bad = strcmp(s, "compat") == 0 ? (b->dialect = DIALECT_COMPAT, 0)
          : strcmp(s, "openai") == 0 ? (b->dialect = DIALECT_OPENAI, 0) : 1;
    free(s);
    if (bad) return configread_fail(r, p, "must be \"compat\" or \"openai\"");
    if (dialect_read_continuation(r, obj, path, &b->continuation) < 0) return -1;   /* issue 15 */
    if (configread_string(r, obj, path, "health_path", "/models", &b->health_path) < 0) return -1;
    snprintf(p, sizeof p, "%s.health_path", path);
    if (b->health_path[0] != '/') return configread_fail(r, p, "must start with '/'");

    const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "timeouts");
    cJSON empty = {.type = cJSON_Object};
    if (!t) t = &empty;
    snprintf(p, sizeof p, "%s.timeouts", path);
    if (configread_keys(r, t, p, tkeys) < 0 ||
        configread_int(r, t, p, "connect_ms", 1, 600000, 2000, &b->connect_ms) < 0 ||
        configread_int(r, t, p, "first_byte_ms", 1, 3600000, 15000, &b->first_byte_ms) < 0 ||
        configread_int(r, t, p, "idle_ms", 1, 3600000, 30000, &b->idle_ms) < 0 ||
        configread_int(r, t, p, "total_ms", 1, 86400000, 300000, &b->total_ms) < 0)
        return -1;
    if (configread_int(r, obj, path, "context_tokens", 0, 100000000, 0, &b->context_tokens) < 0 ||
        parse_price(r, obj, path, b) < 0)
        return -1;
    return parse_tls(r, obj, path, b);
}

/* Names where the client and admin keys are; auth_load_keys reads them. */
static int parse_auth(configread *r, const cJSON *root, config *c) {
    static const char *const keys[] = {"keys_env", "keys_file", "admin_keys_env", "admin_keys_file", NULL};
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "auth");
    if (!a) return 0;
    if (configread_keys(r, a, "auth", keys) < 0) return -1;
    bool env = cJSON_GetObjectItemCaseSensitive(a, "keys_env"), file = cJSON_GetObjectItemCaseSensitive(a, "keys_file");
    bool aenv = cJSON_GetObjectItemCaseSensitive(a, "admin_keys_env"),
         afile = cJSON_GetObjectItemCaseSensitive(a, "admin_keys_file");
    if (env && file) return configread_fail(r, "auth", "needs exactly one of keys_env and keys_file");
    if (aenv && afile) return configread_fail(r, "auth", "needs at most one of admin_keys_env and admin_keys_file");
    if (!env && !file && !aenv && !afile) return configread_fail(r, "auth", "needs exactly one of keys_env and keys_file");
    if ((env && configread_string(r, a, "auth", "keys_env", NULL, &c->auth_keys_env) < 0) ||
        (file && configread_string(r, a, "auth", "keys_file", NULL, &c->auth_keys_file) < 0) ||
        (aenv && configread_string(r, a, "auth", "admin_keys_env", NULL, &c->auth_admin_keys_env) < 0) ||
        (afile && configread_string(r, a, "auth", "admin_keys_file", NULL, &c->auth_admin_keys_file) < 0))
        return -1;
    return auth_load_keys(c, r->getenv_fn, r->err, r->errlen) < 0 ? configread_plain(r) : 0;
}

/* An optional cap: BUDGET_NO_CAP when absent. */
static int read_cap(configread *r, const cJSON *obj, const char *key, double *out) {
    return configread_double(r, obj, "budget", key, 0, 1e12, BUDGET_NO_CAP, out);
}

/* Caps for named keys; each name must be a client key, so that a typo does
 * not leave a key without its cap. */
static int parse_budget_keys(configread *r, const cJSON *ks, config *c) {
    if (!cJSON_IsObject(ks)) return configread_fail(r, "budget.keys", "must be an object of key names and daily caps");
    if (!c->nclient_keys)
        return configread_fail(r, "budget.keys", "needs client keys (auth.keys_env or auth.keys_file)");
    size_t n = (size_t)cJSON_GetArraySize(ks);
    if (n && !(c->budget.keys = calloc(n, sizeof *c->budget.keys)))
        return configread_fail(r, "budget.keys", "out of memory");
    const cJSON *k;
    cJSON_ArrayForEach(k, ks) {
        char p[128];
        snprintf(p, sizeof p, "budget.keys.%.64s", k->string);
        bool known = false;
        for (size_t i = 0; i < c->nclient_keys && !known; i++) known = strcmp(c->client_keys[i].name, k->string) == 0;
        if (!known) return configread_fail(r, p, "no client key has this name");
        for (const cJSON *dup = k->next; dup; dup = dup->next)
            if (strcmp(dup->string, k->string) == 0) return configread_fail(r, p, "duplicate key");
        if (!cJSON_IsNumber(k) || !(k->valuedouble >= 0 && k->valuedouble <= 1e12))
            return configread_fail(r, p, "must be a number from 0 to 1e+12");
        config_budget_key *bk = &c->budget.keys[c->budget.nkeys];
        if (!(bk->name = strdup(k->string))) return configread_fail(r, p, "out of memory");
        bk->daily = k->valuedouble;
        c->budget.nkeys++;
    }
    return 0;
}

static int parse_budget(configread *r, const cJSON *root, config *c) {
    static const char *const keys[] = {"daily", "per_key_daily", "keys", "when_exhausted", "utc_offset_minutes",
                                       "state_file", NULL};
    const cJSON *bg = cJSON_GetObjectItemCaseSensitive(root, "budget");
    config_budget *b = &c->budget;
    if (!bg) return 0;
    b->enabled = true;
    char *when = NULL;
    if (configread_keys(r, bg, "budget", keys) < 0 || read_cap(r, bg, "daily", &b->daily) < 0 ||
        read_cap(r, bg, "per_key_daily", &b->per_key_daily) < 0 ||
        configread_int(r, bg, "budget", "utc_offset_minutes", -720, 840, 0, &b->utc_offset_min) < 0 ||
        configread_string(r, bg, "budget", "state_file", NULL, &b->state_file) < 0 ||
        configread_string(r, bg, "budget", "when_exhausted", "downgrade", &when) < 0)
        return -1;
    bool downgrade = strcmp(when, "downgrade") == 0;
    b->reject = strcmp(when, "reject") == 0;
    free(when);
    if (!downgrade && !b->reject)
        return configread_fail(r, "budget.when_exhausted", "must be \"downgrade\" or \"reject\"");
    if (b->per_key_daily >= 0 && !c->nclient_keys)
        return configread_fail(r, "budget.per_key_daily", "needs client keys (auth.keys_env or auth.keys_file)");
    const cJSON *ks = cJSON_GetObjectItemCaseSensitive(bg, "keys");
    if (ks && parse_budget_keys(r, ks, c) < 0) return -1;
    if (b->daily < 0 && b->per_key_daily < 0 && !b->nkeys)
        return configread_fail(r, "budget", "needs a cap: daily, per_key_daily or keys");
    bool priced = false;
    for (size_t i = 0; i < c->nbackends; i++) priced |= config_backend_priced(&c->backends[i]);
    if (!priced)
        return configread_fail(r, "budget", "no backend has a price (backends[].price), so nothing would count");
    return 0;
}

/* routing.model_aliases: what a client's model name (an OpenAI SDK default
 * such as "gpt-4o-mini") means here: "auto", a configured tier or a backend.
 * Backends were parsed first, so every target is checked now. */
static int parse_aliases(configread *r, const cJSON *a, config *c) {
    char p[160];
    const cJSON *e;
    tier_t t;
    if (!a) return 0;
    if (!cJSON_IsObject(a) || cJSON_GetArraySize(a) > CONFIG_MAX_ALIASES)
        return configread_fail(r, "routing.model_aliases", "must be an object of at most %d names", CONFIG_MAX_ALIASES);
    c->aliases = calloc((size_t)cJSON_GetArraySize(a) + 1, sizeof *c->aliases);
    if (!c->aliases) return configread_fail(r, "routing.model_aliases", "out of memory");
    cJSON_ArrayForEach(e, a) {
        config_alias *al = &c->aliases[c->naliases];
        configread_path(p, sizeof p, "routing.model_aliases", e->string);
        if (!e->string[0] || strlen(e->string) > 128 || strcmp(e->string, "auto") == 0 ||
            tier_parse(e->string, &t) == 0 || config_backend_index(c, e->string) >= 0 ||
            config_alias_target(c, e->string) != e->string)
            return configread_fail(r, p, "an alias must be a new name of 1 to 128 bytes, not \"auto\", a tier or a backend");
        if (!cJSON_IsString(e) || !(strcmp(e->valuestring, "auto") == 0 ||
                                    (tier_parse(e->valuestring, &t) == 0 && config_has_tier(c, t)) ||
                                    config_backend_index(c, e->valuestring) >= 0))
            return configread_fail(r, p, "must be \"auto\", a configured tier or a backend name");
        if (!(al->name = strdup(e->string)) || !(al->target = strdup(e->valuestring)))
            return configread_fail(r, p, "out of memory");
        c->naliases++;
    }
    return 0;
}

/* Where request lines go, and the debug option that puts text in them. */
static int parse_log(configread *r, const cJSON *root, config *c) {
    static const char *const keys[] = {"file", "include_text", NULL};
    const cJSON *lg = cJSON_GetObjectItemCaseSensitive(root, "log");
    if (!lg) return 0;
    if (configread_keys(r, lg, "log", keys) < 0 ||
        (cJSON_GetObjectItemCaseSensitive(lg, "file") &&
         configread_string(r, lg, "log", "file", NULL, &c->log_file) < 0))
        return -1;
    return configread_bool(r, lg, "log", "include_text", false, &c->log_include_text);
}

static int parse_sections(configread *r, const cJSON *root, config *c) {
    static const char *const keys[] = {"listen", "backends", "routing", "health", "circuit", "limits",
                                       "privacy", "auth", "log", "budget", "cache", NULL};
    static const char *const rkeys[] = {"threshold", "cloud_threshold", "classifier_model", "fallback", "deadline_ms",
                                        "max_first_byte_ms", "hedge_after_ms", "retries",
                                        "retry_backoff_ms", "max_retry_after_ms", "model_aliases",
                                        "degraded_reply", "unknown_language", NULL};
    static const char *const ckeys[] = {"failures_to_open", "error_rate", "min_requests", "window_ms",
                                        "cooldown_ms", NULL};
    static const char *const hkeys[] = {"probe_interval_ms", NULL};
    static const char *const lkeys[] = {"max_body_bytes", "max_connections", "client_timeout_s",
                                        "max_header_bytes", "max_connections_per_ip", "request_timeout_s",
                                        "max_json_depth", "max_messages", "max_message_chars",
                                        "max_inflight_per_key", "drain_timeout_s", NULL};
    if (configread_keys(r, root, "", keys) < 0) return -1;
    if (parse_listen(r, root, c) < 0) return -1;

    const cJSON *bs = cJSON_GetObjectItemCaseSensitive(root, "backends");
    if (!cJSON_IsArray(bs) || cJSON_GetArraySize(bs) < 1 || cJSON_GetArraySize(bs) > CONFIG_MAX_BACKENDS)
        return configread_fail(r, "backends", "must be an array of 1 to %d backends", CONFIG_MAX_BACKENDS);
    c->nbackends = (size_t)cJSON_GetArraySize(bs);
    c->backends = calloc(c->nbackends, sizeof *c->backends);
    if (!c->backends) return configread_fail(r, "backends", "out of memory");
    size_t i = 0;
    const cJSON *b;
    cJSON_ArrayForEach(b, bs) if (parse_backend(r, b, i++, c) < 0) return -1;

    cJSON empty = {.type = cJSON_Object};
    const cJSON *rt = cJSON_GetObjectItemCaseSensitive(root, "routing");
    int unknown_language;
    if (!rt) rt = &empty;
    if (configread_keys(r, rt, "routing", rkeys) < 0 ||
        configread_double(r, rt, "routing", "threshold", 0, 1, DEFAULT_THRESHOLD, &c->threshold) < 0 ||
        configread_double(r, rt, "routing", "cloud_threshold", c->threshold, 1,
                          c->threshold > 0.75 ? c->threshold : 0.75, &c->cloud_threshold) < 0 ||
        configread_string(r, rt, "routing", "classifier_model", DEFAULT_MODEL, &c->classifier_model) < 0 ||
        configread_bool(r, rt, "routing", "fallback", true, &c->fallback) < 0 ||
        configread_int(r, rt, "routing", "deadline_ms", 1, 86400000, 120000, &c->deadline_ms) < 0 ||
        configread_int(r, rt, "routing", "max_first_byte_ms", 0, 3600000, 2000, &c->max_first_byte_ms) < 0 ||
        configread_int(r, rt, "routing", "hedge_after_ms", 0, 3600000, 0, &c->hedge_after_ms) < 0 ||
        configread_int(r, rt, "routing", "retries", 0, 5, 1, &c->retries) < 0 ||
        configread_int(r, rt, "routing", "retry_backoff_ms", 1, 60000, 200, &c->retry_backoff_ms) < 0 ||
        configread_int(r, rt, "routing", "max_retry_after_ms", 0, 3600000, 5000, &c->max_retry_after_ms) < 0 ||
        configread_choice(r, rt, "routing", "unknown_language", unknown_language_names, UNKNOWN_LANGUAGE_CLOUD,
                          &unknown_language) < 0 ||
        parse_aliases(r, cJSON_GetObjectItemCaseSensitive(rt, "model_aliases"), c) < 0)
        return -1;
    c->unknown_language = (unknown_language_policy)unknown_language;

    const cJSON *cb = cJSON_GetObjectItemCaseSensitive(root, "circuit");
    if (!cb) cb = &empty;
    circuit_params *cp = &c->circuit;
    if (configread_keys(r, cb, "circuit", ckeys) < 0 ||
        configread_int(r, cb, "circuit", "failures_to_open", 1, 1000, 3, &cp->failures_to_open) < 0 ||
        configread_double(r, cb, "circuit", "error_rate", 0.01, 1, 0.5, &cp->error_rate) < 0 ||
        configread_int(r, cb, "circuit", "min_requests", 1, 1000000, 10, &cp->min_requests) < 0 ||
        configread_int(r, cb, "circuit", "window_ms", 100, 86400000, 30000, &cp->window_ms) < 0 ||
        configread_int(r, cb, "circuit", "cooldown_ms", 1, 3600000, 5000, &cp->cooldown_ms) < 0)
        return -1;

    const cJSON *h = cJSON_GetObjectItemCaseSensitive(root, "health");
    if (!h) h = &empty;
    if (configread_keys(r, h, "health", hkeys) < 0 ||
        configread_int(r, h, "health", "probe_interval_ms", 100, 3600000, 5000, &c->probe_interval_ms) < 0)
        return -1;

    const cJSON *l = cJSON_GetObjectItemCaseSensitive(root, "limits");
    if (!l) l = &empty;
    int maxconn, perip;
    if (configread_keys(r, l, "limits", lkeys) < 0 ||
        configread_size(r, l, "limits", "max_body_bytes", 1024, 1073741824.0, 1048576, &c->max_body_bytes) < 0 ||
        configread_int(r, l, "limits", "max_connections", 1, 1000000, 1024, &maxconn) < 0 ||
        configread_int(r, l, "limits", "client_timeout_s", 1, 3600, 30, &c->client_timeout_s) < 0 ||
        configread_size(r, l, "limits", "max_header_bytes", 4096, 1048576, 32768, &c->max_header_bytes) < 0 ||
        configread_int(r, l, "limits", "max_connections_per_ip", 0, 1000000, 256, &perip) < 0 ||
        configread_int(r, l, "limits", "request_timeout_s", 1, 3600, 60, &c->request_timeout_s) < 0 ||
        configread_int(r, l, "limits", "max_json_depth", 4, 512, 64, &c->max_json_depth) < 0 ||
        configread_int(r, l, "limits", "max_messages", 1, 1000000, 1024, &c->max_messages) < 0 ||
        configread_size(r, l, "limits", "max_message_chars", 1, 1073741824.0, 524288, &c->max_message_chars) < 0 ||
        configread_int(r, l, "limits", "max_inflight_per_key", 1, 1000000, 64, &c->max_inflight_per_key) < 0 ||
        configread_int(r, l, "limits", "drain_timeout_s", 0, 3600, 30, &c->drain_timeout_s) < 0)
        return -1;
    c->max_connections = (unsigned)maxconn;
    c->max_connections_per_ip = (unsigned)perip;
    if (parse_auth(r, root, c) < 0 || parse_log(r, root, c) < 0 || parse_budget(r, root, c) < 0 ||
        cacheconf_parse(r, root, cJSON_GetObjectItemCaseSensitive(root, "routing"), c) < 0)   /* issue 17 */
        return -1;
    return privacy_parse_config(r, root, c);
}

static const char *default_getenv(const char *name) { return getenv(name); }

config *config_parse(const char *text, size_t len, char *err, size_t errlen,
                     const char *(*getenv_fn)(const char *name)) {
    configread r = {err, errlen, getenv_fn ? getenv_fn : default_getenv};
    config *c = calloc(1, sizeof *c);
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!c) {
        configread_fail(&r, "config", "out of memory");
        goto err;
    }
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        long off = at && at >= text && at <= text + len ? (long)(at - text) : -1;
        configread_fail(&r, "config", "not valid JSON (near byte %ld)", off);
        goto err;
    }
    if (!cJSON_IsObject(root)) {
        configread_fail(&r, "config", "must be a JSON object");
        goto err;
    }
    if (parse_sections(&r, root, c) < 0) goto err;
    cJSON_Delete(root);
    return c;
err:
    cJSON_Delete(root);
    config_free(c);
    return NULL;
}

/* Makes *file, when relative, relative to the directory of the
 * configuration file at path, so the gateway finds its files from any
 * working directory. */
static int resolve_path(char **file, const char *path, char *err, size_t errlen) {
    const char *slash = strrchr(path, '/');
    if (!*file || (*file)[0] == '/' || !slash) return 0;
    size_t dir = (size_t)(slash - path) + 1;
    size_t n = strlen(*file);
    char *full = malloc(dir + n + 1);
    if (!full) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    memcpy(full, path, dir);
    memcpy(full + dir, *file, n + 1);
    free(*file);
    *file = full;
    return 0;
}

/* The classifier model beside the configuration, or else the one installed
 * with the binary (datadir.h): an installed gateway started with its
 * installed configuration needs no file copied into /etc. */
static int resolve_model(char **file, const char *path, char *err, size_t errlen) {
    char shipped[4096];
    int found = datadir_find(*file, shipped, sizeof shipped);
    if (resolve_path(file, path, err, errlen) < 0) return -1;
    if (!found || access(*file, F_OK) == 0) return 0;
    char *dup = strdup(shipped);
    if (!dup) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    free(*file);
    *file = dup;
    return 0;
}

config *config_load(const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(CONFIG_MAX_FILE + 1);
    size_t n = buf ? fread(buf, 1, CONFIG_MAX_FILE + 1, f) : 0;
    fclose(f);
    config *c = NULL;
    if (!buf) snprintf(err, errlen, "%s: out of memory", path);
    else if (n > CONFIG_MAX_FILE) snprintf(err, errlen, "%s: larger than %u bytes", path, CONFIG_MAX_FILE);
    else c = config_parse(buf, n, err, errlen, NULL);
    free(buf);
    if (c && (resolve_model(&c->classifier_model, path, err, errlen) < 0 ||
              resolve_path(&c->budget.state_file, path, err, errlen) < 0 ||
              resolve_path(&c->cache.file, path, err, errlen) < 0 ||
              resolve_path(&c->log_file, path, err, errlen) < 0)) {
        config_free(c);
        c = NULL;
    }
    return c;
}

void config_free(config *c) {
    if (!c) return;
    for (size_t i = 0; c->backends && i < c->nbackends; i++) {
        config_backend *b = &c->backends[i];
        free(b->name);
        free(b->url);
        free(b->model);
        free(b->api_key_env);
        if (b->api_key) {
            memset(b->api_key, 0, strlen(b->api_key));
            free(b->api_key);
        }
        free(b->health_path);
        free(b->ca_file);
    }
    auth_keys_free(c->client_keys, c->nclient_keys);
    free(c->auth_keys_env);
    free(c->auth_keys_file);
    free(c->backends);
    for (size_t i = 0; c->patterns && i < c->npatterns; i++) {
        free(c->patterns[i].name);
        regfree(&c->patterns[i].re);
    }
    free(c->patterns);
    for (size_t i = 0; i < c->budget.nkeys; i++) free(c->budget.keys[i].name);
    free(c->budget.keys);
    free(c->budget.state_file);
    cacheconf_free(c);
    auth_keys_free(c->admin_keys, c->nadmin_keys);
    free(c->auth_admin_keys_env);
    free(c->auth_admin_keys_file);
    for (size_t i = 0; c->aliases && i < c->naliases + 1; i++) {
        free(c->aliases[i].name);
        free(c->aliases[i].target);
    }
    free(c->aliases);
    free(c->listen_host);
    free(c->classifier_model);
    free(c->log_file);
    free(c);
}

int config_backend_index(const config *c, const char *name) {
    for (size_t i = 0; i < c->nbackends; i++)
        if (strcmp(c->backends[i].name, name) == 0) return (int)i;
    return -1;
}

bool config_backend_priced(const config_backend *b) {
    return b->price.input_per_mtok > 0 || b->price.output_per_mtok > 0;
}

bool config_has_tier(const config *c, tier_t t) {
    for (size_t i = 0; i < c->nbackends; i++)
        if (c->backends[i].tier == t) return true;
    return false;
}

const char *config_alias_target(const config *c, const char *model) {
    for (size_t i = 0; i < c->naliases; i++)
        if (strcmp(c->aliases[i].name, model) == 0) return c->aliases[i].target;
    return model;
}
