/* cacheconf: the configuration of the answer cache and of the degraded
 * reply: the top-level "cache" section and routing.degraded_reply.
 *
 * Part of the config module (config.c calls it while it reads the file);
 * kept apart so that the cache's settings live with the cache's docs and
 * config.c stays one screenful per section. */
#ifndef TIERGATE_CACHECONF_H
#define TIERGATE_CACHECONF_H

#include <cjson/cJSON.h>

#include "config.h"
#include "configread.h"

/* Reads root's "cache" object and routing's "degraded_reply" (routing may
 * be NULL) into c->cache and c->degraded_reply.  -1 with r's message. */
int cacheconf_parse(configread *r, const cJSON *root, const cJSON *routing, config *c);
/* Frees what cacheconf_parse allocated in c. */
void cacheconf_free(config *c);
/* Adds "cache" (and the degraded reply under root's "routing", when set)
 * to root, for --check. */
void cacheconf_print(const config *c, cJSON *root);

#endif
