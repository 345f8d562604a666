/* cachekey: see cachekey.h.
 *
 * Why a hash and not the text.  An entry keeps 16 bytes of key instead of
 * the whole conversation, which keeps memory and file small and puts no
 * prompt on the disk.  The hash is not cryptographic (two 64-bit lanes,
 * FNV-1a and a multiply-rotate one, each finished by splitmix64's mixer),
 * so a client could craft two requests with one key; it can only do so
 * within its own scope, since the client's name is hashed first, and so
 * only confuse its own answers.  Accidental collisions at 2^-128 per pair
 * do not happen.
 *
 * The canonical form is fed to the hash as typed, length-prefixed tokens,
 * never as printed JSON, so "1" and 1 or a key that ends where another
 * begins cannot run together. */
#include "cachekey.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


typedef struct hasher {
    uint64_t a, b;
} hasher;

static void feed(hasher *h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h->a = (h->a ^ p[i]) * 0x100000001b3ull;
        h->b = (h->b + p[i] + 1) * 0x9e3779b97f4a7c15ull;
        h->b = (h->b << 23) | (h->b >> 41);
    }
}

static void feed_tag(hasher *h, char tag, uint64_t n) {
    feed(h, &tag, 1);
    feed(h, &n, sizeof n);
}

static void feed_str(hasher *h, const char *s) {
    size_t n = strlen(s);
    feed_tag(h, 's', n);
    feed(h, s, n);
}

static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int by_key(const void *x, const void *y) {
    return strcmp((*(const cJSON *const *)x)->string, (*(const cJSON *const *)y)->string);
}

static bool left_out(const char *key) {
    static const char *const keys[] = {"model", "stream", "stream_options", "user", "metadata", "store", NULL};
    for (size_t i = 0; keys[i]; i++)
        if (strcmp(key, keys[i]) == 0) return true;
    return false;
}

/* Feeds v in canonical form; top is true for the request object itself,
 * whose non-answer fields are left out.  -1 when out of memory. */
static int feed_value(hasher *h, const cJSON *v, bool top) {
    if (cJSON_IsNull(v)) feed_tag(h, 'n', 0);
    else if (cJSON_IsTrue(v)) feed_tag(h, 't', 0);
    else if (cJSON_IsFalse(v)) feed_tag(h, 'f', 0);
    else if (cJSON_IsString(v)) feed_str(h, v->valuestring);
    else if (cJSON_IsNumber(v)) {
        double d = v->valuedouble == 0 ? 0 : v->valuedouble;   /* -0 is 0 */
        feed(h, "d", 1);
        feed(h, &d, sizeof d);
    } else if (cJSON_IsArray(v)) {
        const cJSON *e;
        feed_tag(h, '[', (uint64_t)cJSON_GetArraySize(v));
        cJSON_ArrayForEach(e, v) if (feed_value(h, e, false) < 0) return -1;
    } else {
        size_t n = (size_t)cJSON_GetArraySize(v), k = 0;
        const cJSON **kids = n ? malloc(n * sizeof *kids) : NULL;
        if (n && !kids) return -1;
        const cJSON *e;
        cJSON_ArrayForEach(e, v) {
            if (top && (left_out(e->string) ||
                        (strcmp(e->string, "n") == 0 && cJSON_IsNumber(e) && e->valuedouble == 1)))
                continue;
            kids[k++] = e;
        }
        if (k) qsort(kids, k, sizeof *kids, by_key);
        feed_tag(h, '{', k);
        int rc = 0;
        for (size_t i = 0; i < k && rc == 0; i++) {
            feed_str(h, kids[i]->string);
            rc = feed_value(h, kids[i], false);
        }
        free(kids);
        return rc;
    }
    return 0;
}

static cachekey_verdict may_cache(const config_cache *cc, const cJSON *root) {
    static const char *const unsupported[] = {"logprobs", "top_logprobs", "audio", "modalities", "prediction", NULL};
    for (size_t i = 0; unsupported[i]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, unsupported[i]);
        if (v && !cJSON_IsNull(v) && !cJSON_IsFalse(v)) return CACHEKEY_UNSUPPORTED;
    }
    /* OpenAI's default temperature is 1: a request that sets none varies. */
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "temperature");
    double temp = cJSON_IsNumber(t) ? t->valuedouble : 1.0;
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(root, "n");
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(root, "seed");
    if (temp > cc->max_temperature || (cJSON_IsNumber(n) && n->valuedouble != 1) ||
        (cc->require_seed && !cJSON_IsNumber(seed)))
        return CACHEKEY_VARYING;
    return CACHEKEY_OK;
}

cachekey_verdict cachekey_make(const config_cache *cc, const cJSON *root, const char *client, const char *target,
                               cache_key *out) {
    cachekey_verdict v = may_cache(cc, root);
    if (v != CACHEKEY_OK) return v;
    hasher h = {0xcbf29ce484222325ull, 0x6a09e667f3bcc909ull};
    feed_str(&h, client);
    feed_str(&h, target);
    if (feed_value(&h, root, true) < 0) return CACHEKEY_OOM;
    out->h[0] = mix(h.a);
    out->h[1] = mix(h.b ^ out->h[0]);
    return CACHEKEY_OK;
}

void cachekey_target(const config *cfg, tier_t needed, int needed_backend, char *out, size_t n) {
    if (needed_backend >= 0) snprintf(out, n, "backend:%s", cfg->backends[needed_backend].name);
    else snprintf(out, n, "tier:%s", tier_name(needed));
}
