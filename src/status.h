/* status: the endpoints that describe the gateway rather than answer chats:
 * GET /healthz (the process is alive), GET /readyz (some backend can serve and the
 * gateway is not draining; each backend's health; the spend budget; the link report), GET /v1/models
 * and GET /v1/models/{id} (what a client may put in "model": "auto", the configured
 * tiers, the backends),
 * GET /metrics (the Prometheus text of metrics.h, with each configured
 * backend's health and circuit as of now). */
#ifndef TIERGATE_STATUS_H
#define TIERGATE_STATUS_H

#include "budgetstore.h"
#include "cache.h"
#include "linkreport.h"
#include "metrics.h"
#include "runtime.h"
#include "server.h"

typedef struct status status;

/* rt and m are borrowed: main keeps the runtime it sets here and the
 * metrics alive. */
status *status_new(const runtime *rt, const metrics *m);
void status_set_runtime(status *s, const runtime *rt);
/* From now on /readyz answers 503 "draining" (SIGTERM). */
void status_set_draining(status *s);
/* The spend budget to show on /readyz (borrowed), or NULL for none. */
void status_set_budget(status *s, const budgetstore *budget);
/* The answer cache whose counters /metrics shows, or NULL. */
void status_set_cache(status *s, const cache *store);
/* The vehicle's link report (main's, issue 15) that /readyz and /metrics show. */
void status_set_link(status *s, const linkreport *link);
void status_free(status *s);

void status_handle_healthz(server_exchange *ex, void *ctx);
void status_handle_readyz(server_exchange *ex, void *ctx);
void status_handle_models(server_exchange *ex, void *ctx);
void status_handle_model(server_exchange *ex, void *ctx);
void status_handle_metrics(server_exchange *ex, void *ctx);

#endif
