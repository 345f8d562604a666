/* cacheconf: see cacheconf.h.
 *
 * Defaults.  A cache is off unless the operator turns it on: a gateway that
 * answers from yesterday must be a decision, never a surprise.  The file is
 * required once it is on, as the budget's state file is, because where a
 * device keeps state that survives power cuts (an SD card, a data
 * partition) is the operator's knowledge.  max_temperature 0 stores only
 * deterministic requests; max_age_s of a week bounds how old an answer an
 * offline kiosk may still give. */
#include "cacheconf.h"

#include <stdlib.h>
#include <string.h>

static const char *const mode_names[] = {"off", "offline", "always"};

static int parse_cache(configread *r, const cJSON *cs, config_cache *c) {
    static const char *const keys[] = {"mode", "file", "max_bytes", "ttl_s", "max_age_s", "max_temperature",
                                       "require_seed", NULL};
    char *mode = NULL;
    if (configread_keys(r, cs, "cache", keys) < 0 || configread_string(r, cs, "cache", "mode", "off", &mode) < 0)
        return -1;
    int m = 0;
    while (m < 3 && strcmp(mode, mode_names[m]) != 0) m++;
    free(mode);
    if (m == 3) return configread_fail(r, "cache.mode", "must be \"off\", \"offline\" or \"always\"");
    c->mode = (cache_mode)m;
    if (configread_size(r, cs, "cache", "max_bytes", 4096, 1099511627776.0, 64u << 20, &c->max_bytes) < 0 ||
        configread_int(r, cs, "cache", "ttl_s", 1, 31536000, 3600, &c->ttl_s) < 0 ||
        configread_int(r, cs, "cache", "max_age_s", 1, 315360000, 604800, &c->max_age_s) < 0 ||
        configread_double(r, cs, "cache", "max_temperature", 0, 2, 0, &c->max_temperature) < 0 ||
        configread_bool(r, cs, "cache", "require_seed", false, &c->require_seed) < 0)
        return -1;
    if (c->mode == CACHE_OFF) return 0;
    if (!cJSON_GetObjectItemCaseSensitive(cs, "file"))
        return configread_fail(r, "cache.file", "is required when the cache is on");
    return configread_string(r, cs, "cache", "file", NULL, &c->file);
}

static int parse_degraded(configread *r, const cJSON *d, config_degraded *out) {
    static const char *const keys[] = {"zh", "en", NULL};
    if (!cJSON_IsObject(d))
        return configread_fail(r, "routing.degraded_reply", "must be an object {\"zh\": \"...\", \"en\": \"...\"}");
    if (configread_keys(r, d, "routing.degraded_reply", keys) < 0 ||
        (cJSON_GetObjectItemCaseSensitive(d, "zh") &&
         configread_string(r, d, "routing.degraded_reply", "zh", NULL, &out->zh) < 0) ||
        (cJSON_GetObjectItemCaseSensitive(d, "en") &&
         configread_string(r, d, "routing.degraded_reply", "en", NULL, &out->en) < 0))
        return -1;
    if (!out->zh && !out->en) return configread_fail(r, "routing.degraded_reply", "needs \"zh\", \"en\" or both");
    return 0;
}

int cacheconf_parse(configread *r, const cJSON *root, const cJSON *routing, config *c) {
    cJSON empty = {.type = cJSON_Object};
    const cJSON *cs = cJSON_GetObjectItemCaseSensitive(root, "cache");
    if (parse_cache(r, cs ? cs : &empty, &c->cache) < 0) return -1;
    const cJSON *d = routing ? cJSON_GetObjectItemCaseSensitive(routing, "degraded_reply") : NULL;
    return d ? parse_degraded(r, d, &c->degraded_reply) : 0;
}

void cacheconf_free(config *c) {
    free(c->cache.file);
    free(c->degraded_reply.zh);
    free(c->degraded_reply.en);
}

void cacheconf_print(const config *c, cJSON *root) {
    const config_cache *cc = &c->cache;
    cJSON *o = cJSON_AddObjectToObject(root, "cache");
    cJSON_AddStringToObject(o, "mode", mode_names[cc->mode]);
    if (cc->mode != CACHE_OFF) {
        cJSON_AddStringToObject(o, "file", cc->file);
        cJSON_AddNumberToObject(o, "max_bytes", (double)cc->max_bytes);
        cJSON_AddNumberToObject(o, "ttl_s", cc->ttl_s);
        cJSON_AddNumberToObject(o, "max_age_s", cc->max_age_s);
        cJSON_AddNumberToObject(o, "max_temperature", cc->max_temperature);
        cJSON_AddBoolToObject(o, "require_seed", cc->require_seed);
    }
    cJSON *rt = cJSON_GetObjectItemCaseSensitive(root, "routing");
    if (!rt || (!c->degraded_reply.zh && !c->degraded_reply.en)) return;
    cJSON *d = cJSON_AddObjectToObject(rt, "degraded_reply");
    if (c->degraded_reply.zh) cJSON_AddStringToObject(d, "zh", c->degraded_reply.zh);
    if (c->degraded_reply.en) cJSON_AddStringToObject(d, "en", c->degraded_reply.en);
}
