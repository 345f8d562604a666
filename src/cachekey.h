/* cachekey: which requests the answer cache may keep, and under which key.
 *
 * The key is a 128-bit hash of everything that determines the answer: the
 * client key's name (so tenants never share an entry), the model target as
 * routed ("tier:cloud", or "backend:<name>" when one was forced) and the
 * request body in a canonical form: object keys sorted, numbers by value,
 * "n": 1 dropped as the default it is, and the fields that do not change
 * the answer ("model", replaced by the target, "stream", "stream_options",
 * "user", "metadata", "store") left out.  Pure: no I/O, no state. */
#ifndef TIERGATE_CACHEKEY_H
#define TIERGATE_CACHEKEY_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

struct cJSON;

typedef struct cache_key {
    uint64_t h[2];
} cache_key;

typedef enum {
    CACHEKEY_OK = 0,
    CACHEKEY_VARYING,        /* meant to vary: temperature over the ceiling, n > 1, no seed when required */
    CACHEKEY_UNSUPPORTED,    /* asks for what the cache does not keep (logprobs, audio) */
    CACHEKEY_OOM
} cachekey_verdict;

/* The key of the request body root, or why it may not be cached. */
cachekey_verdict cachekey_make(const config_cache *cc, const struct cJSON *root, const char *client,
                               const char *target, cache_key *out);
/* The target of the key: "tier:<name>" or "backend:<name>" into out. */
void cachekey_target(const config *cfg, tier_t needed, int needed_backend, char *out, size_t n);

#endif
