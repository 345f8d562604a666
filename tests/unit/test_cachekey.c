/* test_cachekey: the cache key's normalisation and the rules of what may be
 * cached.  Key order, whitespace, number spelling, "n": 1 and the fields
 * that do not change the answer leave the key alone; the client key, the
 * routed target, a message, a parameter that changes the output each give
 * another key.  Hot or many-choice requests, requests without a seed when
 * one is required, and requests for logprobs or audio are refused. */
#include <cjson/cJSON.h>
#include <string.h>

#include "cachekey.h"
#include "testlib.h"

static const config_cache cc = {.mode = CACHE_OFFLINE, .max_temperature = 0};

/* The key of body for client and target; verdict in *v. */
static cache_key key_of(const char *body, const char *client, const char *target, cachekey_verdict *v) {
    cJSON *root = cJSON_Parse(body);
    cache_key k = {{0, 0}};
    *v = root ? cachekey_make(&cc, root, client, target, &k) : CACHEKEY_OOM;
    cJSON_Delete(root);
    return k;
}

static bool same_key(const char *a, const char *b) {
    cachekey_verdict va, vb;
    cache_key ka = key_of(a, "kiosk", "tier:cloud", &va), kb = key_of(b, "kiosk", "tier:cloud", &vb);
    return va == CACHEKEY_OK && vb == CACHEKEY_OK && ka.h[0] == kb.h[0] && ka.h[1] == kb.h[1];
}

#define BASE "{\"model\":\"auto\",\"temperature\":0,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"

static void test_normalisation(void) {
    CHECK(same_key(BASE, BASE));
    CHECK(same_key(BASE, "{ \"messages\" : [ {\"content\":\"hi\", \"role\":\"user\"} ], \"temperature\": 0.0,"
                         " \"model\": \"gpt-4o\" }"));
    CHECK(same_key(BASE, "{\"temperature\":-0,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"));
    CHECK(same_key(BASE, "{\"model\":\"auto\",\"temperature\":0,\"n\":1,\"stream\":true,"
                         "\"stream_options\":{\"include_usage\":true},\"user\":\"u-17\",\"store\":false,"
                         "\"metadata\":{\"a\":\"b\"},\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"));
    CHECK(!same_key(BASE, "{\"temperature\":0,\"messages\":[{\"role\":\"user\",\"content\":\"hi!\"}]}"));
    CHECK(!same_key(BASE, "{\"temperature\":0,\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"));
    CHECK(!same_key(BASE, "{\"temperature\":0,\"messages\":[{\"role\":\"system\",\"content\":\"hi\"}]}"));
    CHECK(!same_key(BASE, "{\"temperature\":0,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
                          "{\"role\":\"user\",\"content\":\"hi\"}]}"));
    /* A nested key that is a left-out name at the top is not left out. */
    CHECK(!same_key(BASE, "{\"temperature\":0,\"messages\":[{\"role\":\"user\",\"content\":\"hi\",\"model\":1}]}"));
    /* Strings and numbers, and keys that run together, do not collide. */
    CHECK(!same_key("{\"temperature\":0,\"seed\":1,\"messages\":[]}", "{\"temperature\":0,\"seed\":\"1\",\"messages\":[]}"));
    CHECK(!same_key("{\"temperature\":0,\"ab\":\"c\",\"messages\":[]}", "{\"temperature\":0,\"a\":\"bc\",\"messages\":[]}"));

    cachekey_verdict v;
    cache_key a = key_of(BASE, "kiosk-a", "tier:cloud", &v), b = key_of(BASE, "kiosk-b", "tier:cloud", &v),
              d = key_of(BASE, "kiosk-a", "tier:device", &v), f = key_of(BASE, "kiosk-a", "backend:bigcloud", &v);
    CHECK(a.h[0] != b.h[0] && a.h[0] != d.h[0] && a.h[0] != f.h[0] && d.h[0] != f.h[0]);
    CHECK(a.h[1] != b.h[1]);
}

static cachekey_verdict verdict(const config_cache *c, const char *body) {
    cJSON *root = cJSON_Parse(body);
    cache_key k;
    cachekey_verdict v = cachekey_make(c, root, "", "tier:cloud", &k);
    cJSON_Delete(root);
    return v;
}

static void test_rules(void) {
    config_cache warm = cc, seeded = cc;
    warm.max_temperature = 0.5;
    seeded.require_seed = true;
    CHECK_INT(verdict(&cc, BASE), CACHEKEY_OK);
    /* OpenAI's default temperature is 1: no temperature varies. */
    CHECK_INT(verdict(&cc, "{\"messages\":[]}"), CACHEKEY_VARYING);
    CHECK_INT(verdict(&warm, "{\"messages\":[]}"), CACHEKEY_VARYING);
    CHECK_INT(verdict(&cc, "{\"temperature\":0.1,\"messages\":[]}"), CACHEKEY_VARYING);
    CHECK_INT(verdict(&warm, "{\"temperature\":0.5,\"messages\":[]}"), CACHEKEY_OK);
    CHECK_INT(verdict(&warm, "{\"temperature\":0.51,\"messages\":[]}"), CACHEKEY_VARYING);
    CHECK_INT(verdict(&cc, "{\"temperature\":0,\"n\":2,\"messages\":[]}"), CACHEKEY_VARYING);
    CHECK_INT(verdict(&cc, "{\"temperature\":0,\"n\":1,\"messages\":[]}"), CACHEKEY_OK);
    CHECK_INT(verdict(&seeded, BASE), CACHEKEY_VARYING);
    CHECK_INT(verdict(&seeded, "{\"temperature\":0,\"seed\":42,\"messages\":[]}"), CACHEKEY_OK);
    CHECK_INT(verdict(&cc, "{\"temperature\":0,\"logprobs\":true,\"messages\":[]}"), CACHEKEY_UNSUPPORTED);
    CHECK_INT(verdict(&cc, "{\"temperature\":0,\"logprobs\":false,\"messages\":[]}"), CACHEKEY_OK);
    CHECK_INT(verdict(&cc, "{\"temperature\":0,\"modalities\":[\"audio\"],\"messages\":[]}"), CACHEKEY_UNSUPPORTED);
}

static void test_target(void) {
    config cfg = {0};
    config_backend b[2] = {{.name = "local", .tier = TIER_DEVICE}, {.name = "bigcloud", .tier = TIER_CLOUD}};
    cfg.backends = b;
    cfg.nbackends = 2;
    char t[64];
    cachekey_target(&cfg, TIER_CLOUD, -1, t, sizeof t);
    CHECK_STR(t, "tier:cloud");
    cachekey_target(&cfg, TIER_CLOUD, 1, t, sizeof t);
    CHECK_STR(t, "backend:bigcloud");
}

int main(void) {
    test_normalisation();
    test_rules();
    test_target();
    TEST_MAIN_END();
}
