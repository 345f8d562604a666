/* test_cacheserve: what cacheserve_store keeps.  A stream whose every
 * chunk was dropped (empty choices) names no backend (-1): nothing is
 * stored and no backend is read (the backends sit right after a page that
 * cannot be read, so backends[-1] faults rather than passing unseen, as it
 * would under ASan when it lands in another allocation).  The backend the
 * request needed is stored.  The personal-data check before a store. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cacheserve.h"
#include "pii.h"
#include "privacy.h"
#include "testlib.h"

static void collect(cacheserve_call *cc, const char *json) {
    cJSON *o = cJSON_Parse(json);
    cacheserve_chunk(cc, o);
    cJSON_Delete(o);
}

static void test_store(void) {
    char dir[64], path[128], err[256];
    tl_make_dir(dir, sizeof dir, "cacheserve");
    snprintf(path, sizeof path, "%s/answers.cache", dir);
    config_cache ccfg = {.mode = CACHE_ALWAYS, .file = path, .max_bytes = 1 << 20, .ttl_s = 60, .max_age_s = 3600};
    cache *store = cache_open(&ccfg, NULL, err, sizeof err);
    CHECK(store != NULL);
    if (!store) return;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    unsigned char *guard = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(guard != MAP_FAILED && mprotect(guard, page, PROT_NONE) == 0);
    config_backend *backends = (config_backend *)(guard + page);
    backends[0] = (config_backend){.name = "bigcloud", .model = "big-model", .tier = TIER_CLOUD};
    config cfg = {.backends = backends, .nbackends = 1, .cache = ccfg};
    router_decision dec = {.needed = TIER_CLOUD, .needed_backend = -1};
    usage u = {.input_tokens = 3, .output_tokens = 2};
    cacheserve_call cc = {.store = &store, .cfg = &cfg, .dec = &dec, .eligible = true, .key = {{1, 2}}};
    collect(&cc, "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}");

    cacheserve_store(&cc, -1, &u);
    CHECK_INT(cache_get_stats(store).entries, 0);
    CHECK(cc.log == NULL);
    cacheserve_store(&cc, 0, &u);
    CHECK_INT(cache_get_stats(store).entries, 1);
    CHECK_STR(cc.log, "store");

    cachecollect_free(&cc.collect);
    munmap(guard, 2 * page);
    cache_free(store);
    tl_remove_dir(dir);
}

/* What the cache scans before it keeps an answer: every built-in kind
 * whatever privacy.detectors says, in tool-call arguments too, and the
 * operator's patterns, in any privacy.mode. */
static void test_scan_all(void) {
    pii_pattern pat = {.name = "TICKET"};
    CHECK_INT(regcomp(&pat.re, "TK-[0-9]{6}", REG_EXTENDED), 0);
    config cfg = {.privacy = PRIVACY_OFF, .pii_kinds = 0, .patterns = &pat, .npatterns = 1};
    static const char *const found[] = {
        "{\"messages\":[{\"role\":\"user\",\"content\":\"call 13812345678\"}]}",
        "{\"messages\":[{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"1\",\"type\":"
        "\"function\",\"function\":{\"name\":\"dial\",\"arguments\":\"{\\\"to\\\":\\\"13812345678\\\"}\"}}]},"
        "{\"role\":\"user\",\"content\":\"done?\"}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"my ticket TK-123456\"}]}]}",
    };
    for (size_t i = 0; i < sizeof found / sizeof *found; i++) {
        cJSON *root = cJSON_Parse(found[i]);
        CHECK(root != NULL);
        for (int mode = PRIVACY_OFF; mode <= PRIVACY_REDACT; mode++) {
            cfg.privacy = (privacy_mode)mode;
            CHECK_INT(privacy_scan_all(&cfg, root), 1);
        }
        cJSON_Delete(root);
    }
    cJSON *clean = cJSON_Parse("{\"messages\":[{\"role\":\"user\",\"content\":\"where is the exit\"}]}");
    CHECK_INT(privacy_scan_all(&cfg, clean), 0);
    cJSON_Delete(clean);
    regfree(&pat.re);
}

int main(void) {
    test_store();
    test_scan_all();
    TEST_MAIN_END();
}
