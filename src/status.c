/* status: small read-only endpoints, built with cJSON on every call.
 *
 * They are cheap enough that caching would only add a way to be stale.  The
 * model list is derived from the configuration each time, so it can never
 * disagree with what the router accepts. */
#include "status.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct status {
    const runtime *rt;
    const budgetstore *budget;   /* main's, or NULL */
    const cache *cache;          /* main's, or NULL (issue 17) */
    const linkreport *link;      /* main's (issue 15) */
    const metrics *m;
    double started;
    bool draining;
};

status *status_new(const runtime *rt, const metrics *m) {
    status *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->rt = rt;
    s->m = m;
    s->started = (double)time(NULL);
    return s;
}

void status_set_runtime(status *s, const runtime *rt) { s->rt = rt; }
void status_set_draining(status *s) { s->draining = true; }
void status_set_budget(status *s, const budgetstore *store) { s->budget = store; }
void status_set_cache(status *s, const cache *store) { s->cache = store; }
void status_set_link(status *s, const linkreport *link) { s->link = link; }

void status_free(status *s) { free(s); }

static void reply_json(server_exchange *ex, int code, cJSON *o) {
    char *body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!body) {
        server_ex_fail_oom(ex);
        return;
    }
    server_ex_reply(ex, code, "application/json", body, strlen(body));
}

void status_handle_healthz(server_exchange *ex, void *ctx) {
    (void)ctx;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "ok");
    reply_json(ex, 200, o);
}

/* A draining gateway says so first: a load balancer must stop sending it
 * work even though its backends are fine. */
void status_handle_readyz(server_exchange *ex, void *ctx) {
    status *s = ctx;
    const backends *health = runtime_backends(s->rt);
    bool ready = !s->draining && backends_any_up(health);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", s->draining ? "draining" : ready ? "ready" : "unavailable");
    cJSON_AddItemToObject(o, "backends", backends_json(health));
    cJSON_AddItemToObject(o, "link", linkreport_json(s->link));   /* issue 15: the vehicle's report, or null */
    /* A spent or blocked budget does not make the gateway unready: its free
     * tiers still answer.  It is shown here so that a damaged state file is
     * seen where operators look. */
    if (s->budget) cJSON_AddItemToObject(o, "budget", budgetstore_status(s->budget));
    reply_json(ex, ready ? 200 : 503, o);
}

static cJSON *model_object(const status *s, const char *id, const char *owner) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "id", id);
    cJSON_AddStringToObject(m, "object", "model");
    cJSON_AddNumberToObject(m, "created", s->started);
    cJSON_AddStringToObject(m, "owned_by", owner);
    return m;
}

/* Calls fn for every model id a client may use, in list order. */
static void each_model(const status *s, void (*fn)(const status *, const char *, const char *, void *),
                       void *ud) {
    const config *cfg = runtime_config(s->rt);
    fn(s, "auto", "tiergate", ud);
    for (int t = 0; t < TIER_COUNT; t++)
        if (config_has_tier(cfg, (tier_t)t)) fn(s, tier_name((tier_t)t), "tiergate", ud);
    for (size_t i = 0; i < cfg->nbackends; i++)
        fn(s, cfg->backends[i].name, tier_name(cfg->backends[i].tier), ud);
    for (size_t i = 0; i < cfg->naliases; i++) fn(s, cfg->aliases[i].name, "tiergate", ud);
}

static void add_to_list(const status *s, const char *id, const char *owner, void *ud) {
    cJSON_AddItemToArray(ud, model_object(s, id, owner));
}

void status_handle_models(server_exchange *ex, void *ctx) {
    status *s = ctx;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "object", "list");
    cJSON *data = cJSON_AddArrayToObject(o, "data");
    each_model(s, add_to_list, data);
    reply_json(ex, 200, o);
}

typedef struct model_lookup {
    const char *want;
    cJSON *found;
} model_lookup;

static void find_model(const status *s, const char *id, const char *owner, void *ud) {
    model_lookup *l = ud;
    if (!l->found && strcmp(id, l->want) == 0) l->found = model_object(s, id, owner);
}

void status_handle_model(server_exchange *ex, void *ctx) {
    status *s = ctx;
    model_lookup l = {server_ex_path(ex) + strlen("/v1/models/"), NULL};
    each_model(s, find_model, &l);
    if (l.found) {
        reply_json(ex, 200, l.found);
        return;
    }
    api_error e;
    api_error_set(&e, 404, "invalid_request_error", "model_not_found", "model",
                  "The model `%.200s` does not exist", l.want);
    server_ex_reply_error(ex, &e);
}

void status_handle_metrics(server_exchange *ex, void *ctx) {
    status *s = ctx;
    const config *cfg = runtime_config(s->rt);
    const backends *health = runtime_backends(s->rt);
    metrics_backend_state now[ROUTER_MAX_CANDIDATES];
    assert(cfg->nbackends <= ROUTER_MAX_CANDIDATES);
    for (size_t i = 0; i < cfg->nbackends; i++)
        now[i] = (metrics_backend_state){cfg->backends[i].name, cfg->backends[i].tier, backends_health(health, i),
                                         backends_circuit(health, i)};
    size_t len, n = 0;
    char *text = metrics_render(s->m, now, cfg->nbackends, &len), more[3072];
    /* The answer cache's counters (issue 17) and the link's (issue 15) follow the registry's. */
    if (s->cache) n = cache_render_metrics(s->cache, more, sizeof more);
    n += linkreport_render_metrics(s->link, more + n, sizeof more - n);
    char *t = text ? realloc(text, len + n + 1) : NULL;
    if (!t) {
        free(text);
        server_ex_fail_oom(ex);
        return;
    }
    text = t;
    memcpy(text + len, more, n);
    len += n;
    text[len] = '\0';
    server_ex_reply(ex, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}
