/* status: the endpoints that describe the gateway rather than answer chats:
 * GET /healthz (the process is alive), GET /readyz (some backend can serve;
 * each backend's health), GET /v1/models and GET /v1/models/{id} (what a
 * client may put in "model": "auto", the configured tiers, the backends). */
#ifndef TIERGATE_STATUS_H
#define TIERGATE_STATUS_H

#include "backends.h"
#include "config.h"
#include "server.h"

typedef struct status status;

status *status_new(const config *cfg, const backends *health);
void status_free(status *s);

void status_handle_healthz(server_exchange *ex, void *ctx);
void status_handle_readyz(server_exchange *ex, void *ctx);
void status_handle_models(server_exchange *ex, void *ctx);
void status_handle_model(server_exchange *ex, void *ctx);

#endif
