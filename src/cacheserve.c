/* cacheserve: see cacheserve.h.
 *
 * Headers.  A cached answer carries the X-Tiergate-* of the backend that
 * made it (tier and backend) with reason "cache" and X-Tiergate-Cache "hit"
 * or "stale"; the degraded reply carries tier and backend "none", reason
 * "degraded" and X-Tiergate-Degraded: true.  Both are 200s: the client gets
 * an answer it can show, and the headers tell the application what it is.
 *
 * What is stored.  Only an answer the request's need produced (a cloud
 * answer for a request that needed the cloud: never the device's stand-in,
 * which the cache would later pass off as the cloud's), whole (the body
 * came, or the stream ended normally: [DONE], or a finish_reason then a
 * clean close or attempt.c's grace of silence), plain (one choice of text,
 * finish_reason "stop": a cut or tool-calling answer is not replayed), for
 * a request without personal data whose output is not meant to vary. */
#include "cacheserve.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonout.h"
#include "privacy.h"

void cacheserve_begin(cacheserve_call *cc, cache *const *store, const config *cfg, const chatreq *req, bool pii,
                      const char *client, const router_decision *dec) {
    *cc = (cacheserve_call){.store = store, .cfg = cfg, .dec = dec};
    snprintf(cc->client, sizeof cc->client, "%s", client);
    if (!*store || cfg->cache.mode == CACHE_OFF || pii) return;
    char target[96];
    cachekey_target(cfg, dec->needed, dec->needed_backend, target, sizeof target);
    if (cachekey_make(&cfg->cache, req->root, client, target, &cc->key) != CACHEKEY_OK) return;
    /* privacy found nothing, but it may scan for less (mode "off", kinds
     * turned off in privacy.detectors): a stored answer outlives the
     * request, so the cache looks for every kind in the same texts. */
    if (privacy_scan_all(cfg, req->root) != 0) return;
    cc->eligible = true;
    cc->log = "miss";
}

static void oom(server_exchange *ex) {
    api_error e;
    api_error_set(&e, 500, "server_error", NULL, NULL, "out of memory");
    server_ex_reply_error(ex, &e);
}

/* Replies with a (a stored answer or the degraded one). */
static void reply(cacheserve_call *cc, const cacheserve_reply *r, const cache_answer *a, const char *cache_header) {
    server_exchange *ex = r->ex;
    cc->reason = cache_header ? "cache" : "degraded";
    snprintf(cc->backend, sizeof cc->backend, "%s", cache_header ? a->backend : "");
    cc->tier = a->tier;
    server_ex_set_route(ex, cache_header ? tier_name(a->tier) : "none", cache_header ? a->backend : "none",
                        cc->reason, cc->dec->score);
    if (cache_header) server_ex_add_header(ex, "X-Tiergate-Cache", cache_header);
    else server_ex_add_header(ex, "X-Tiergate-Degraded", "true");
    size_t n;
    if (!r->req->stream) {
        char *body = cachereply_json(a, r->id, r->created, &n);
        if (body) server_ex_reply(ex, 200, "application/json", body, n);
        else oom(ex);
        return;
    }
    /* Built whole, then queued in one write: the stream is the answer plus
     * a bounded overhead (cachereply.h), and the answer is bounded
     * (CACHEREPLY_MAX_STORED), so its memory is too. */
    buf sse = {0};
    if (cachereply_sse(&sse, a, r->id, r->created, r->req->include_usage) < 0) oom(ex);
    else if (server_ex_stream_begin(ex) == 0) {
        const char *data = buf_data(&sse, &n);
        server_ex_stream_write(ex, data, n);
        server_ex_stream_end(ex);
    }
    buf_free(&sse);
}

/* Looks k up no older than max_age; counts and answers a find as outcome. */
static bool serve(cacheserve_call *cc, const cacheserve_reply *r, int64_t max_age, cache_outcome outcome) {
    cache_answer a;
    cache *store = cc->eligible ? *cc->store : NULL;
    if (!store || !cache_get(store, &cc->key, max_age, &a)) {
        if (store) cache_count(store, CACHE_MISS);
        return false;
    }
    cache_count(store, outcome);
    cc->log = outcome == CACHE_HIT ? "hit" : "stale";
    reply(cc, r, &a, cc->log);
    return true;
}

bool cacheserve_fresh(cacheserve_call *cc, const cacheserve_reply *r) {
    return cc->cfg->cache.mode == CACHE_ALWAYS && serve(cc, r, cc->cfg->cache.ttl_s, CACHE_HIT);
}

bool cacheserve_stale(cacheserve_call *cc, const cacheserve_reply *r) {
    if (cc->tried_stale) return false;
    cc->tried_stale = true;
    return serve(cc, r, cc->cfg->cache.max_age_s, CACHE_STALE);
}

bool cacheserve_degraded(cacheserve_call *cc, const cacheserve_reply *r) {
    const char *text = cachereply_degraded_text(&cc->cfg->degraded_reply, r->req);
    if (!text) return false;
    cache_answer a = {.client = "", .backend = "none", .model = "tiergate-degraded", .finish_reason = "stop",
                      .content = text, .content_len = strlen(text), .tier = TIER_DEVICE};
    reply(cc, r, &a, NULL);
    return true;
}

void cacheserve_chunk(cacheserve_call *cc, const cJSON *chunk) {
    if (cc->eligible) cachecollect_chunk(&cc->collect, chunk);
}

void cacheserve_response(cacheserve_call *cc, const cJSON *body) {
    if (cc->eligible) cachecollect_response(&cc->collect, body);
}

static uint32_t tokens32(long long n) { return n <= 0 ? 0 : n > UINT32_MAX ? UINT32_MAX : (uint32_t)n; }

void cacheserve_store(cacheserve_call *cc, int backend, const usage *tokens) {
    cache *store = cc->eligible ? *cc->store : NULL;
    /* backend < 0: no chunk named one (a stream of empty choices). */
    if (!store || backend < 0) return;
    const config_backend *b = &cc->cfg->backends[backend];
    size_t len;
    const char *content = cachecollect_result(&cc->collect, &len);
    if (!router_meets_need(cc->cfg, cc->dec, backend) || !content) return;
    cache_answer a = {
        .client = cc->client, .backend = b->name, .model = b->model, .finish_reason = "stop",
        .content = content, .content_len = len, .tier = b->tier, .created = cache_now(store),
        .prompt_tokens = tokens32(tokens->input_tokens), .completion_tokens = tokens32(tokens->output_tokens),
    };
    if (cache_put(store, &cc->key, &a) == 0) cc->log = "store";
}

void cacheserve_end(cacheserve_call *cc, server_exchange *ex) {
    if (cc->log) server_ex_log_str(ex, "cache", cc->log);
    cachecollect_free(&cc->collect);
}

void cacheserve_handle_delete(server_exchange *ex, void *ctx) {
    cache *store = *(cache **)ctx;
    static const char *const known[] = {"key", NULL};
    const char *client = server_ex_query(ex, "key"), *bad = server_ex_query_unknown(ex, known);
    api_error e;
    /* A clear the operator did not mean ("?client=alice", "?key" without a
     * value) must not wipe every client's entries. */
    if (bad && strcmp(bad, "key") != 0) {
        api_error_set(&e, 400, "invalid_request_error", "unknown_parameter", bad,
                      "Unknown query parameter; DELETE /v1/cache takes only key=NAME");
        server_ex_reply_error(ex, &e);
        return;
    }
    if (bad || (client && !*client)) {
        api_error_set(&e, 400, "invalid_request_error", "invalid_value", "key",
                      "key must name a client key: DELETE /v1/cache?key=NAME");
        server_ex_reply_error(ex, &e);
        return;
    }
    long n = store ? cache_clear(store, client) : 0;
    if (n < 0) {
        api_error_set(&e, 500, "server_error", NULL, NULL,
                      "The entries were removed from memory, but the cache file could not be rewritten; "
                      "it was cut to its header instead, so none comes back at a restart");
        server_ex_reply_error(ex, &e);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "deleted", true);
    if (client) cJSON_AddStringToObject(o, "key", client);
    cJSON_AddNumberToObject(o, "entries", (double)n);
    size_t len;
    char *s = jsonout_print(o, NULL, NULL, &len);
    cJSON_Delete(o);
    if (!s) oom(ex);
    else server_ex_reply(ex, 200, "application/json", s, len);
}
