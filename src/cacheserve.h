/* cacheserve: the answer cache and the degraded reply at work in one chat
 * request (issue 17), and the operator's DELETE /v1/cache.
 *
 * chat calls in at fixed points: once routed (cacheserve_begin: may this
 * request use the cache, under which key), before dispatching ("always": a
 * fresh entry answers first), when what the request needs is unreachable
 * (router_decision.needed_out, dispatch's on_need_lost, or every candidate
 * failed: a stored answer of any age up to max_age_s, "stale"), when no
 * tier could answer (the degraded reply), as the answer passes (collected)
 * and when it ended whole (stored).  The request's log line gets
 * "cache": "hit", "stale", "miss" or "store" for requests that could use
 * the cache; nothing of an answer reaches a log line or a metric. */
#ifndef TIERGATE_CACHESERVE_H
#define TIERGATE_CACHESERVE_H

#include <stdbool.h>

#include "auth.h"
#include "cache.h"
#include "cachereply.h"
#include "request.h"
#include "router.h"
#include "server.h"
#include "usage.h"

struct cJSON;

typedef struct cacheserve_call {
    /* The gateway's store, read at each use: a reload may close it or
     * open another while the request runs (NULL: off). */
    cache *const *store;
    const config *cfg;
    const router_decision *dec;
    char client[AUTH_MAX_NAME + 1];
    bool eligible, tried_stale;
    cache_key key;
    const char *log;             /* the log line's "cache" value, or NULL */
    cache_collect collect;
    /* Set when the cache or the degraded reply answered. */
    const char *reason;          /* "cache" or "degraded" (static), NULL otherwise */
    char backend[64];            /* the stored answer's backend, "" for degraded */
    tier_t tier;
} cacheserve_call;

/* What a reply needs of the request. */
typedef struct cacheserve_reply {
    server_exchange *ex;
    const chatreq *req;
    const char *id;
    double created;
} cacheserve_reply;

/* Whether req (with pii: personal data was found in it) may use *store
 * (NULL: no cache) and its key; store and dec are borrowed for the call's
 * life. */
void cacheserve_begin(cacheserve_call *cc, cache *const *store, const config *cfg, const chatreq *req, bool pii,
                      const char *client, const router_decision *dec);
/* "always": a fresh entry answers.  True when it replied. */
bool cacheserve_fresh(cacheserve_call *cc, const cacheserve_reply *r);
/* What the request needs is unreachable: a stored answer up to max_age_s
 * old answers (looked up once per request).  True when it replied. */
bool cacheserve_stale(cacheserve_call *cc, const cacheserve_reply *r);
/* No tier could answer: routing.degraded_reply, when configured.  True
 * when it replied. */
bool cacheserve_degraded(cacheserve_call *cc, const cacheserve_reply *r);

/* The live answer's chunk or body (after privacy restoration). */
void cacheserve_chunk(cacheserve_call *cc, const struct cJSON *chunk);
void cacheserve_response(cacheserve_call *cc, const struct cJSON *body);
/* The live answer from backend (-1: no chunk named one) ended whole:
 * stored when the request may use the cache and the backend is what it
 * needed. */
void cacheserve_store(cacheserve_call *cc, int backend, const usage *tokens);
/* Adds the log field and frees what the call holds. */
void cacheserve_end(cacheserve_call *cc, server_exchange *ex);

/* DELETE /v1/cache[?key=NAME]; ctx is a cache ** (main's, NULL when off). */
void cacheserve_handle_delete(server_exchange *ex, void *ctx);

#endif
