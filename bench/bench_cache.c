/* bench_cache: the answer cache's costs, in memory and on the file system.
 *
 * 1. key: cachekey_make on a kiosk request (a system line and a question,
 *    about 300 bytes of JSON), the per-request price of asking the cache.
 * 2. lookup: cache_get with 10 000 entries of 600-byte answers, hits and
 *    misses (keys never stored).
 * 3. store: cache_put of a new entry into that store (memory and the
 *    pending buffer; the file write is batched, timed as 4.).
 * 4. flush: the batched write of the pending records (one write() and
 *    sync_file_range) per 100 stores, per store.
 * 5. memory per entry: mallinfo2's allocated bytes for 10 000 entries,
 *    against their records' bytes.
 * 6. start-up: cache_open of a 64 MB file (about 30 000 answers of 2 KB),
 *    five times, with the file in the page cache; a rewrite of it in this
 *    process (what a clear costs: cache_clear of a key that holds
 *    nothing); and a compaction by a child process, with the loop's
 *    longest flush while it runs (the fork's stall) and how long the
 *    child took.
 * 7. replay: an 8 MiB answer as an SSE stream (cachereply), its bytes
 *    and the time to build it.
 * Each sample of 1-3 is one call timed with CLOCK_MONOTONIC after a
 * warm-up; p50 and p99 in microseconds.  Release build:
 *   build/bench/bench_cache [dir]   (default /tmp) */
#include <cjson/cJSON.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchlib.h"
#include "cache.h"
#include "cachereply.h"
#include "evloop.h"

#define N 10000
#define BIG_MB 64

static double samples[N];

static void report(const char *what, double *s, size_t n) {
    qsort(s, n, sizeof *s, bench_cmp_double);
    printf("%-34s p50 %8.3f us   p99 %8.3f us   (n=%zu)\n", what, s[n / 2], s[n * 99 / 100], n);
}

static cache_key key_n(uint64_t i) { return (cache_key){{i * 0x9e3779b97f4a7c15ull + 1, i ^ 0xabcdefull}}; }

static void fill(cache *c, uint64_t from, uint64_t n, size_t content_len) {
    char *text = malloc(content_len + 1);
    for (size_t i = 0; i < content_len; i++) text[i] = (char)('a' + i % 26);
    text[content_len] = 0;
    for (uint64_t i = from; i < from + n; i++) {
        cache_key k = key_n(i);
        cache_answer a = {.client = "kiosk-7", .backend = "deepseek", .model = "deepseek-chat",
                          .finish_reason = "stop", .content = text, .content_len = content_len,
                          .tier = TIER_CLOUD, .created = cache_now(c), .prompt_tokens = 40, .completion_tokens = 150};
        cache_put(c, &k, &a);
    }
    free(text);
}

/* 7. replay: an 8 MiB answer as the SSE stream a client gets, built
 * whole; its bytes against the answer's and the time, best of three. */
static void replay(void) {
    size_t len = 8u << 20, n = 0;
    char *text = malloc(len + 1);
    for (size_t i = 0; i < len; i++) text[i] = (char)('a' + i % 26);
    text[len] = 0;
    cache_answer a = {.client = "kiosk-7", .backend = "deepseek", .model = "deepseek-chat", .finish_reason = "stop",
                      .content = text, .content_len = len, .tier = TIER_CLOUD, .completion_tokens = 150};
    double best = 1e18;
    for (int i = 0; i < 3; i++) {
        buf out = {0};
        double t0 = bench_now_us();
        cachereply_sse(&out, &a, "chatcmpl-x", 1, false);
        double t = bench_now_us() - t0;
        buf_data(&out, &n);
        buf_free(&out);
        if (t < best) best = t;
    }
    printf("replay of an 8 MiB answer as SSE: %zu bytes (%.2f x the answer), %.1f ms (best of 3)\n", n,
           (double)n / (double)len, best / 1000);
    free(text);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/bench-cache-%d.cache", dir, (int)getpid());
    evloop *loop = evloop_new();
    config_cache cc = {.mode = CACHE_OFFLINE, .file = path, .max_bytes = 256u << 20, .ttl_s = 3600,
                       .max_age_s = 604800};

    /* 1. the key */
    const char *body = "{\"model\":\"auto\",\"temperature\":0,\"messages\":[{\"role\":\"system\",\"content\":"
                       "\"You are the station's help kiosk. Answer in one or two short sentences.\"},"
                       "{\"role\":\"user\",\"content\":\"Where is the left-luggage office, and until when is it "
                       "open today?\"}],\"max_tokens\":200}";
    cJSON *root = cJSON_Parse(body);
    cache_key k;
    for (int i = 0; i < 1000; i++) cachekey_make(&cc, root, "kiosk-7", "tier:cloud", &k);
    for (int i = 0; i < N; i++) {
        double t0 = bench_now_us();
        cachekey_make(&cc, root, "kiosk-7", "tier:cloud", &k);
        samples[i] = bench_now_us() - t0;
    }
    cJSON_Delete(root);
    printf("request body: %zu bytes\n", strlen(body));
    report("key (cachekey_make)", samples, N);

    /* 5. memory, while filling */
    unlink(path);
    struct mallinfo2 m0 = mallinfo2();
    cache *c = cache_open(&cc, loop, err, sizeof err);
    if (!c) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    fill(c, 0, N, 600);
    cache_flush(c);
    struct mallinfo2 m1 = mallinfo2();
    cache_stats st = cache_get_stats(c);
    printf("memory: %zu entries, records %zu bytes (%.0f per entry), heap %.0f bytes per entry "
           "(%.0f over the record)\n", st.entries, st.bytes, (double)st.bytes / st.entries,
           (double)(m1.uordblks - m0.uordblks) / st.entries,
           (double)(m1.uordblks - m0.uordblks) / st.entries - (double)st.bytes / st.entries);

    /* 2. lookups */
    cache_answer a;
    for (int i = 0; i < N; i++) {
        cache_key q = key_n((uint64_t)(i * 7919) % N);
        double t0 = bench_now_us();
        bool hit = cache_get(c, &q, 604800, &a);
        samples[i] = bench_now_us() - t0;
        if (!hit) return 1;
    }
    report("lookup, hit (10 000 entries)", samples, N);
    for (int i = 0; i < N; i++) {
        cache_key q = key_n((uint64_t)N + 1000000 + (uint64_t)i);
        double t0 = bench_now_us();
        bool hit = cache_get(c, &q, 604800, &a);
        samples[i] = bench_now_us() - t0;
        if (hit) return 1;
    }
    report("lookup, miss (10 000 entries)", samples, N);

    /* 3. stores, 4. flushes */
    char *text = malloc(601);
    memset(text, 'z', 600);
    text[600] = 0;
    double flush[N / 100];
    size_t nflush = 0;
    for (int i = 0; i < N; i++) {
        cache_key q = key_n((uint64_t)N + (uint64_t)i);
        cache_answer na = {.client = "kiosk-7", .backend = "deepseek", .model = "deepseek-chat",
                           .finish_reason = "stop", .content = text, .content_len = 600, .tier = TIER_CLOUD,
                           .created = cache_now(c), .prompt_tokens = 40, .completion_tokens = 150};
        double t0 = bench_now_us();
        cache_put(c, &q, &na);
        samples[i] = bench_now_us() - t0;
        if (i % 100 == 99) {
            t0 = bench_now_us();
            cache_flush(c);
            flush[nflush++] = (bench_now_us() - t0) / 100;
        }
    }
    free(text);
    report("store (10 000 -> 20 000 entries)", samples, N);
    report("file write per store (batches of 100)", flush, nflush);
    cache_free(c);

    /* 6. start-up with 64 MB */
    unlink(path);
    c = cache_open(&cc, loop, err, sizeof err);
    size_t per = 2048, n = ((size_t)BIG_MB << 20) / (per + 100);
    fill(c, 0, n, per);
    cache_free(c);
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    double ms[5];
    for (int r = 0; r < 5; r++) {
        double t0 = bench_now_us();
        c = cache_open(&cc, loop, err, sizeof err);
        ms[r] = (bench_now_us() - t0) / 1000;
        st = cache_get_stats(c);
        if (r < 4) cache_free(c);
    }
    qsort(ms, 5, sizeof *ms, bench_cmp_double);
    printf("start-up load: %.1f MB file, %zu entries: min %.1f ms, median %.1f ms, max %.1f ms (5 runs, page cache warm)\n",
           (double)size / 1048576, st.entries, ms[0], ms[2], ms[4]);
    double t0 = bench_now_us();
    cache_clear(c, "nobody");
    printf("rewrite of it in the loop's process (a clear; fdatasync included): %.1f ms\n",
           (bench_now_us() - t0) / 1000);
    /* Storing it all again twice makes the file three times the live
     * bytes: a child compacts it.  The loop's stall is the longest flush. */
    double worst = 0, forking = 0;
    for (int round = 0; round < 2 && !cache_compacting(c); round++)
        for (size_t i = 0; i < n && !cache_compacting(c); i += 100) {
            fill(c, i, n - i < 100 ? n - i : 100, per);
            t0 = bench_now_us();
            cache_flush(c);
            double us = bench_now_us() - t0;
            if (us > worst) worst = us;
            if (cache_compacting(c)) forking = us;
        }
    t0 = bench_now_us();
    bool started = cache_compacting(c);
    while (cache_compacting(c)) {
        usleep(1000);
        double f0 = bench_now_us();
        cache_flush(c);
        if (bench_now_us() - f0 > worst) worst = bench_now_us() - f0;
    }
    printf("compaction in a child: %s; the flush that forked it %.2f ms, the longest flush %.2f ms; the child "
           "took %.0f ms more\n", started ? "started" : "NOT STARTED", forking / 1000, worst / 1000,
           (bench_now_us() - t0) / 1000);
    cache_free(c);
    unlink(path);
    evloop_free(loop);
    replay();
    return 0;
}
