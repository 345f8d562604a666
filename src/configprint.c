/* config_print: the effective configuration as JSON, for --check; and
 * config_restart_fields: what a reload cannot apply.
 *
 * Kept apart from parsing so that config.c stays about reading.  What is
 * printed is what the gateway will use, defaults filled in, so an operator
 * sees every limit in force.  Secrets never appear: a backend's key is
 * "***", client keys are listed by name only. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cacheconf.h"
#include "config.h"

#include "dialect.h"

/* A cap that is not set prints as null, so the output says "no cap". */
static void add_cap(cJSON *o, const char *key, double cap) {
    if (cap >= 0) cJSON_AddNumberToObject(o, key, cap);
    else cJSON_AddNullToObject(o, key);
}

static void print_budget(const config_budget *b, cJSON *root) {
    cJSON *o = cJSON_AddObjectToObject(root, "budget");
    add_cap(o, "daily", b->daily);
    add_cap(o, "per_key_daily", b->per_key_daily);
    cJSON *ks = cJSON_AddObjectToObject(o, "keys");
    for (size_t i = 0; ks && i < b->nkeys; i++) cJSON_AddNumberToObject(ks, b->keys[i].name, b->keys[i].daily);
    cJSON_AddStringToObject(o, "when_exhausted", b->reject ? "reject" : "downgrade");
    cJSON_AddNumberToObject(o, "utc_offset_minutes", b->utc_offset_min);
    cJSON_AddStringToObject(o, "state_file", b->state_file);
}

void config_print(const config *c, FILE *out) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return;
    char listen[300];
    bool v6 = strchr(c->listen_host, ':') != NULL;
    snprintf(listen, sizeof listen, v6 ? "[%s]:%d" : "%s:%d", c->listen_host, c->listen_port);
    cJSON_AddStringToObject(root, "listen", listen);
    cJSON *bs = cJSON_AddArrayToObject(root, "backends");
    for (size_t i = 0; bs && i < c->nbackends; i++) {
        const config_backend *b = &c->backends[i];
        cJSON *o = cJSON_CreateObject();
        if (!o) break;
        cJSON_AddItemToArray(bs, o);
        cJSON_AddStringToObject(o, "name", b->name);
        cJSON_AddStringToObject(o, "tier", tier_name(b->tier));
        cJSON_AddStringToObject(o, "url", b->url);
        cJSON_AddStringToObject(o, "model", b->model);
        if (b->api_key_env) {
            cJSON_AddStringToObject(o, "api_key_env", b->api_key_env);
            cJSON_AddStringToObject(o, "api_key", "***");
        }
        cJSON_AddStringToObject(o, "dialect", b->dialect == DIALECT_OPENAI ? "openai" : "compat");
        cJSON_AddStringToObject(o, "continuation", dialect_continuation_name(b->continuation));
        cJSON_AddStringToObject(o, "health_path", b->health_path);
        cJSON *t = cJSON_AddObjectToObject(o, "timeouts");
        cJSON_AddNumberToObject(t, "connect_ms", b->connect_ms);
        cJSON_AddNumberToObject(t, "first_byte_ms", b->first_byte_ms);
        cJSON_AddNumberToObject(t, "idle_ms", b->idle_ms);
        cJSON_AddNumberToObject(t, "total_ms", b->total_ms);
        if (b->context_tokens) cJSON_AddNumberToObject(o, "context_tokens", b->context_tokens);
        cJSON *pr = cJSON_AddObjectToObject(o, "price");
        cJSON_AddNumberToObject(pr, "input_per_mtok", b->price.input_per_mtok);
        cJSON_AddNumberToObject(pr, "output_per_mtok", b->price.output_per_mtok);
        if (b->ca_file || b->tls_insecure) {
            cJSON *tls = cJSON_AddObjectToObject(o, "tls");
            if (b->ca_file) cJSON_AddStringToObject(tls, "ca_file", b->ca_file);
            cJSON_AddBoolToObject(tls, "insecure_skip_verify", b->tls_insecure);
        }
    }
    cJSON *rt = cJSON_AddObjectToObject(root, "routing");
    cJSON_AddNumberToObject(rt, "threshold", c->threshold);
    cJSON_AddNumberToObject(rt, "cloud_threshold", c->cloud_threshold);
    cJSON_AddStringToObject(rt, "classifier_model", c->classifier_model);
    cJSON_AddBoolToObject(rt, "fallback", c->fallback);
    cJSON_AddNumberToObject(rt, "deadline_ms", c->deadline_ms);
    cJSON_AddNumberToObject(rt, "max_first_byte_ms", c->max_first_byte_ms);
    cJSON_AddNumberToObject(rt, "hedge_after_ms", c->hedge_after_ms);
    cJSON_AddNumberToObject(rt, "retries", c->retries);
    cJSON_AddNumberToObject(rt, "retry_backoff_ms", c->retry_backoff_ms);
    cJSON_AddNumberToObject(rt, "max_retry_after_ms", c->max_retry_after_ms);
    cJSON_AddStringToObject(rt, "unknown_language", unknown_language_names[c->unknown_language]);
    cJSON *al = cJSON_AddObjectToObject(rt, "model_aliases");
    for (size_t i = 0; al && i < c->naliases; i++) cJSON_AddStringToObject(al, c->aliases[i].name, c->aliases[i].target);
    cJSON *cb = cJSON_AddObjectToObject(root, "circuit");
    cJSON_AddNumberToObject(cb, "failures_to_open", c->circuit.failures_to_open);
    cJSON_AddNumberToObject(cb, "error_rate", c->circuit.error_rate);
    cJSON_AddNumberToObject(cb, "min_requests", c->circuit.min_requests);
    cJSON_AddNumberToObject(cb, "window_ms", c->circuit.window_ms);
    cJSON_AddNumberToObject(cb, "cooldown_ms", c->circuit.cooldown_ms);
    cJSON *h = cJSON_AddObjectToObject(root, "health");
    cJSON_AddNumberToObject(h, "probe_interval_ms", c->probe_interval_ms);
    cJSON *l = cJSON_AddObjectToObject(root, "limits");
    cJSON_AddNumberToObject(l, "max_body_bytes", (double)c->max_body_bytes);
    cJSON_AddNumberToObject(l, "max_connections", c->max_connections);
    cJSON_AddNumberToObject(l, "client_timeout_s", c->client_timeout_s);
    cJSON_AddNumberToObject(l, "max_header_bytes", (double)c->max_header_bytes);
    cJSON_AddNumberToObject(l, "max_connections_per_ip", c->max_connections_per_ip);
    cJSON_AddNumberToObject(l, "request_timeout_s", c->request_timeout_s);
    cJSON_AddNumberToObject(l, "max_json_depth", c->max_json_depth);
    cJSON_AddNumberToObject(l, "max_messages", c->max_messages);
    cJSON_AddNumberToObject(l, "max_message_chars", (double)c->max_message_chars);
    cJSON_AddNumberToObject(l, "max_inflight_per_key", c->max_inflight_per_key);
    cJSON_AddNumberToObject(l, "drain_timeout_s", c->drain_timeout_s);
    cJSON *au = cJSON_AddObjectToObject(root, "auth");
    if (c->auth_keys_env) cJSON_AddStringToObject(au, "keys_env", c->auth_keys_env);
    if (c->auth_keys_file) cJSON_AddStringToObject(au, "keys_file", c->auth_keys_file);
    cJSON *names = cJSON_AddArrayToObject(au, "keys");
    for (size_t i = 0; names && i < c->nclient_keys; i++)
        cJSON_AddItemToArray(names, cJSON_CreateString(c->client_keys[i].name));
    if (c->auth_admin_keys_env) cJSON_AddStringToObject(au, "admin_keys_env", c->auth_admin_keys_env);
    if (c->auth_admin_keys_file) cJSON_AddStringToObject(au, "admin_keys_file", c->auth_admin_keys_file);
    cJSON *admins = c->nadmin_keys ? cJSON_AddArrayToObject(au, "admin_keys") : NULL;
    for (size_t i = 0; admins && i < c->nadmin_keys; i++)
        cJSON_AddItemToArray(admins, cJSON_CreateString(c->admin_keys[i].name));
    cJSON *lg = cJSON_AddObjectToObject(root, "log");
    if (c->log_file) cJSON_AddStringToObject(lg, "file", c->log_file);
    cJSON_AddBoolToObject(lg, "include_text", c->log_include_text);
    cJSON *pv = cJSON_AddObjectToObject(root, "privacy");
    cJSON_AddStringToObject(pv, "mode", privacy_mode_name(c->privacy));
    cJSON *dv = cJSON_AddObjectToObject(pv, "detectors");
    for (int k = 0; dv && k < PII_BUILTIN_KINDS; k++) cJSON_AddBoolToObject(dv, pii_kind_name((pii_kind)k), c->pii_kinds >> k & 1);
    cJSON *ps = cJSON_AddArrayToObject(pv, "patterns");
    for (size_t i = 0; ps && i < c->npatterns; i++) {
        cJSON *o = cJSON_CreateObject();
        if (!o) break;
        cJSON_AddItemToArray(ps, o);
        cJSON_AddStringToObject(o, "name", c->patterns[i].name);
    }
    if (c->budget.enabled) print_budget(&c->budget, root);
    cacheconf_print(c, root);   /* issue 17 */
    char *s = cJSON_Print(root);
    cJSON_Delete(root);
    if (s) {
        fprintf(out, "%s\n", s);
        free(s);
    }
}

/* These are options of the listening daemon, fixed when it starts; applying
 * them would mean closing the socket that clients are connected to.  The
 * budget's state file stays the one opened: moving a day's spend from one
 * file to another is for an operator to decide. */
int config_restart_fields(const config *old, const config *new_cfg, char *out, size_t outlen) {
    const struct {
        const char *name;
        bool differs;
    } f[] = {
        {"listen", strcmp(old->listen_host, new_cfg->listen_host) != 0 || old->listen_port != new_cfg->listen_port},
        {"limits.max_connections", old->max_connections != new_cfg->max_connections},
        {"limits.max_connections_per_ip", old->max_connections_per_ip != new_cfg->max_connections_per_ip},
        {"limits.client_timeout_s", old->client_timeout_s != new_cfg->client_timeout_s},
        {"limits.max_header_bytes", old->max_header_bytes != new_cfg->max_header_bytes},
        {"limits.request_timeout_s", old->request_timeout_s != new_cfg->request_timeout_s},
        {"budget.state_file", old->budget.enabled && new_cfg->budget.enabled &&
                                  strcmp(old->budget.state_file, new_cfg->budget.state_file) != 0},
        {"budget.utc_offset_minutes", old->budget.enabled && new_cfg->budget.enabled &&
                                          old->budget.utc_offset_min != new_cfg->budget.utc_offset_min},
    };
    int n = 0;
    size_t len = 0;
    if (outlen) out[0] = '\0';
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
        if (!f[i].differs) continue;
        if (len < outlen) len += (size_t)snprintf(out + len, outlen - len, "%s%s", n ? ", " : "", f[i].name);
        n++;
    }
    return n;
}
