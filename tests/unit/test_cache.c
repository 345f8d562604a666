/* test_cache: the answer cache's store on a real file system.  Entries are
 * found and replaced, evicted least recently used first within max_bytes,
 * cleared per client key, and too old ones are not served; the file keeps
 * them across a reopen, and a child process compacts it while stores go on.  The file format: a truncated
 * file, a flipped byte, another version, foreign bytes and an empty file
 * are each set aside (or ignored, when empty) and the records before the
 * damage kept; a full disk (a 64 KiB tmpfs mounted for the test, which
 * fails when it cannot mount) leaves no torn record, the store serving from
 * memory, and a clear that cannot rewrite the file cuts it to its header;
 * a missing directory or a read-only file system (a tmpfs mounted so)
 * stops the start with the file named. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "crc32.h"
#include "testlib.h"

static char dir[64], path[128];
/* The test's clock, set on the store after it loaded with the wall clock. */
static int64_t now_s;

static int64_t test_clock(void) { return now_s; }

/* Each case starts at the wall clock, which loading uses. */
static void fresh_dir(void) {
    now_s = (int64_t)time(NULL);
    tl_make_dir(dir, sizeof dir, "cache");
    snprintf(path, sizeof path, "%s/answers.cache", dir);
}

/* Files in dir whose name starts with prefix. */
static int count_files(const char *prefix) {
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d))) n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    if (d) closedir(d);
    return n;
}

static config_cache cfg_of(size_t max_bytes) {
    return (config_cache){.mode = CACHE_OFFLINE, .file = path, .max_bytes = max_bytes, .ttl_s = 60,
                          .max_age_s = 3600};
}

static cache *open_cache(size_t max_bytes) {
    char err[256];
    config_cache cc = cfg_of(max_bytes);
    cache *c = cache_open(&cc, NULL, err, sizeof err);
    if (!c) fprintf(stderr, "cache_open: %s\n", err);
    else cache_set_clock(c, test_clock);
    return c;
}

static cache_key key(uint64_t i) { return (cache_key){{i * 0x9e3779b97f4a7c15ull, i}}; }

static char content[300000];

/* Stores entry i: content "answer <i>" padded to pad bytes. */
static int put(cache *c, uint64_t i, const char *client, size_t pad) {
    int n = snprintf(content, sizeof content, "answer %llu", (unsigned long long)i);
    memset(content + n, '.', pad > (size_t)n ? pad - (size_t)n : 0);
    content[pad > (size_t)n ? pad : (size_t)n] = 0;
    cache_key k = key(i);
    cache_answer a = {.client = client, .backend = "bigcloud", .model = "big-model", .finish_reason = "stop",
                      .content = content, .content_len = strlen(content), .tier = TIER_CLOUD,
                      .created = now_s, .prompt_tokens = 7, .completion_tokens = 3};
    return cache_put(c, &k, &a);
}

/* True when entry i is found and its content starts as put wrote it. */
static bool has(cache *c, uint64_t i) {
    cache_key k = key(i);
    cache_answer a;
    char want[32];
    snprintf(want, sizeof want, "answer %llu", (unsigned long long)i);
    return cache_get(c, &k, 3600, &a) && strncmp(a.content, want, strlen(want)) == 0 &&
           (a.content[strlen(want)] == '.' || a.content[strlen(want)] == 0);
}

static long file_size(void) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void test_memory(void) {
    fresh_dir();
    cache *c = open_cache(1 << 20);
    CHECK(c != NULL);
    CHECK_INT(put(c, 1, "kiosk-a", 0), 0);
    CHECK(has(c, 1));
    CHECK(!has(c, 2));
    cache_key k = key(1);
    cache_answer a;
    CHECK(cache_get(c, &k, 3600, &a));
    CHECK_STR(a.backend, "bigcloud");
    CHECK_STR(a.model, "big-model");
    CHECK_STR(a.client, "kiosk-a");
    CHECK_INT(a.tier, TIER_CLOUD);
    CHECK_INT(a.prompt_tokens, 7);
    /* Replaced, not duplicated. */
    CHECK_INT(put(c, 1, "kiosk-a", 100), 0);
    CHECK_INT(cache_get_stats(c).entries, 1);
    CHECK(cache_get(c, &k, 3600, &a) && a.content_len == 100);
    /* Too old for max_age, still there for a longer one. */
    now_s += 100;
    CHECK(!cache_get(c, &k, 99, &a));
    CHECK(cache_get(c, &k, 100, &a));
    /* One answer larger than a quarter of max_bytes is not kept. */
    CHECK_INT(put(c, 2, "kiosk-a", (1 << 20) / 4), -1);
    cache_free(c);
    tl_remove_dir(dir);
}

/* A file that cannot be created stops the start, naming it. */
static void test_unwritable(void) {
    char err[256] = "";
    config_cache cc = cfg_of(1 << 20);
    cc.file = "/nonexistent-dir/answers.cache";
    CHECK(cache_open(&cc, NULL, err, sizeof err) == NULL);
    CHECK(strstr(err, "cache.file: /nonexistent-dir/answers.cache: its directory cannot be opened") != NULL);
    /* A read-only file system (mode bits would not stop root, who runs CI). */
    fresh_dir();
    int rc = mount("tmpfs", dir, "tmpfs", MS_RDONLY, "size=16k");
    CHECK_INT(rc, 0);
    if (rc == 0) {
        cc.file = path;
        CHECK(cache_open(&cc, NULL, err, sizeof err) == NULL);
        CHECK(strstr(err, "create: Read-only file system") != NULL);
        CHECK_INT(umount(dir), 0);
    }
    tl_remove_dir(dir);
}

static void test_eviction(void) {
    fresh_dir();
    /* Each record is a little over 1 KB: ten fit in 11 KB, not eleven. */
    cache *c = open_cache(11 * 1024);
    for (uint64_t i = 0; i < 10; i++) CHECK_INT(put(c, i, "k", 1000), 0);
    CHECK_INT(cache_get_stats(c).entries, 10);
    CHECK(has(c, 0));                       /* 0 becomes the most recently used */
    CHECK_INT(put(c, 10, "k", 1000), 0);    /* evicts 1, the least recently used */
    CHECK(!has(c, 1));
    CHECK(has(c, 0) && has(c, 2) && has(c, 10));
    cache_stats s = cache_get_stats(c);
    CHECK_INT(s.evictions, 1);
    CHECK(s.bytes <= 11 * 1024);
    for (uint64_t i = 11; i < 100; i++) put(c, i, "k", 1000);
    s = cache_get_stats(c);
    CHECK(s.bytes <= 11 * 1024);
    CHECK_INT(s.entries, 10);
    CHECK_INT(s.evictions, 90);
    CHECK(has(c, 99) && !has(c, 0));
    /* The log grew past twice the live bytes and 1 MiB? Not here; the file
     * is still bounded by what was written. */
    cache_free(c);
    /* Reopened: the same ten, the LRU order saved by the last compaction
     * or the append order. */
    c = open_cache(11 * 1024);
    CHECK_INT(cache_get_stats(c).entries, 10);
    CHECK_INT(cache_get_stats(c).evictions, 0);
    CHECK(has(c, 90) && has(c, 99) && !has(c, 89));
    cache_free(c);
    tl_remove_dir(dir);
}

static void test_clear_and_persist(void) {
    fresh_dir();
    cache *c = open_cache(1 << 20);
    for (uint64_t i = 0; i < 6; i++) put(c, i, i % 2 ? "kiosk-b" : "kiosk-a", 50);
    CHECK_INT(cache_clear(c, "kiosk-a"), 3);
    CHECK(!has(c, 0) && has(c, 1) && !has(c, 2) && has(c, 3));
    cache_free(c);
    c = open_cache(1 << 20);
    CHECK_INT(cache_get_stats(c).entries, 3);
    CHECK(!has(c, 0) && has(c, 1));
    CHECK_INT(cache_clear(c, NULL), 3);
    CHECK_INT(file_size(), CACHEFILE_HEADER);
    cache_free(c);
    c = open_cache(1 << 20);
    CHECK_INT(cache_get_stats(c).entries, 0);
    /* A log much larger than its live bytes is compacted, by a child
     * process; what is stored meanwhile reaches the new file too. */
    for (int round = 0; round < 20; round++) put(c, 1, "kiosk-a", 60000);
    CHECK(cache_compacting(c));
    long during = file_size();
    put(c, 2, "kiosk-a", 100);
    put(c, 1, "kiosk-a", 70);                 /* replaced after the fork */
    for (int i = 0; i < 500 && cache_compacting(c); i++) {
        usleep(10000);
        cache_flush(c);
    }
    CHECK(!cache_compacting(c));
    CHECK(file_size() < during);
    CHECK(file_size() < 2 * 61000);
    cache_free(c);
    c = open_cache(1 << 20);
    CHECK(has(c, 1) && has(c, 2));
    cache_key k1 = key(1);
    cache_answer a1;
    CHECK(cache_get(c, &k1, 3600, &a1) && a1.content_len == 70);
    CHECK_INT(cache_get_stats(c).entries, 2);
    cache_free(c);
    CHECK_INT(count_files("answers.cache.corrupt-"), 0);
    tl_remove_dir(dir);
}

static unsigned char *slurp(size_t *len) {
    FILE *f = fopen(path, "rb");
    unsigned char *p = malloc(1 << 20);
    *len = f && p ? fread(p, 1, 1 << 20, f) : 0;
    if (f) fclose(f);
    return p;
}

static void spit(const unsigned char *p, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    fwrite(p, 1, len, f);
    fclose(f);
}

/* A file with entries 0..2 of 100 bytes; returns its bytes. */
static unsigned char *three_entries(size_t *len) {
    cache *c = open_cache(1 << 20);
    for (uint64_t i = 0; i < 3; i++) put(c, i, "k", 100);
    cache_free(c);
    return slurp(len);
}

static void cut_tail(unsigned char *p, size_t *len) {
    (void)p;
    *len -= 10;
}

static void flip_middle(unsigned char *p, size_t *len) {
    size_t rec = (*len - CACHEFILE_HEADER) / 3;
    p[CACHEFILE_HEADER + rec + rec / 2] ^= 0x20;
}

/* Version 2 with a header whose CRC matches: a newer build's file. */
static void version_2(unsigned char *p, size_t *len) {
    (void)len;
    p[8] = 2;
    uint32_t crc = crc32_ieee(p, 12);
    for (int i = 0; i < 4; i++) p[12 + i] = (unsigned char)(crc >> (8 * i));
}

static void flip_header(unsigned char *p, size_t *len) {
    (void)len;
    p[3] ^= 1;
}

/* Three entries written, the file damaged, reopened: the first kept ones
 * are served, nothing after them, and the file is set aside once; the
 * rewritten file is whole. */
static void damaged(void (*damage)(unsigned char *, size_t *), int kept) {
    size_t len;
    fresh_dir();
    unsigned char *p = three_entries(&len);
    damage(p, &len);
    spit(p, len);
    free(p);
    cache *c = open_cache(1 << 20);
    CHECK(c != NULL);
    if (!c) return;
    CHECK_INT(cache_get_stats(c).entries, kept);
    for (int i = 0; i < 3; i++) CHECK(has(c, (uint64_t)i) == (i < kept));
    CHECK_INT(count_files("answers.cache.corrupt-"), 1);
    cache_free(c);
    c = open_cache(1 << 20);
    CHECK_INT(cache_get_stats(c).entries, kept);
    CHECK_INT(count_files("answers.cache.corrupt-"), 1);
    cache_free(c);
    tl_remove_dir(dir);
}

static void test_damage(void) {
    damaged(cut_tail, 2);      /* the last record loses its tail */
    damaged(flip_middle, 1);   /* nothing after a damaged record is trusted */
    damaged(version_2, 0);
    damaged(flip_header, 0);
    unsigned char head[CACHEFILE_HEADER];
    char why[128];
    size_t len = sizeof head;
    cachefile_header(head);
    CHECK_INT(cachefile_check_header(head, sizeof head, why, sizeof why), 0);
    version_2(head, &len);
    CHECK_INT(cachefile_check_header(head, sizeof head, why, sizeof why), -1);
    CHECK_STR(why, "format version 2, this build reads 1");
    flip_header(head, &len);
    CHECK_INT(cachefile_check_header(head, sizeof head, why, sizeof why), -1);
    CHECK_STR(why, "not a tiergate cache file");
    cachefile_header(head);
    head[13] ^= 1;
    CHECK_INT(cachefile_check_header(head, sizeof head, why, sizeof why), -1);
    CHECK_STR(why, "damaged header");
    CHECK_INT(cachefile_check_header(head, 10, why, sizeof why), -1);

    /* Foreign bytes; an empty file (a cut before the header) is no damage. */
    fresh_dir();
    spit((const unsigned char *)"{\"not\": \"a cache\"}", 18);
    cache *c = open_cache(1 << 20);
    CHECK(c != NULL && cache_get_stats(c).entries == 0);
    CHECK_INT(count_files("answers.cache.corrupt-"), 1);
    cache_free(c);
    tl_remove_dir(dir);
    fresh_dir();
    spit((const unsigned char *)"", 0);
    c = open_cache(1 << 20);
    CHECK(c != NULL);
    CHECK_INT(count_files("answers.cache.corrupt-"), 0);
    CHECK_INT(file_size(), CACHEFILE_HEADER);
    cache_free(c);
    tl_remove_dir(dir);
}

static void test_full_disk(void) {
    fresh_dir();
    /* CI runs as root: a test that cannot mount fails rather than passes. */
    int rc = mount("tmpfs", dir, "tmpfs", 0, "size=64k,mode=0700");
    CHECK_INT(rc, 0);
    if (rc < 0) {
        fprintf(stderr, "mount tmpfs on %s: %s\n", dir, strerror(errno));
        tl_remove_dir(dir);
        return;
    }
    cache *c = open_cache(1 << 20);
    CHECK(c != NULL);
    long last = file_size();
    int grown = 0;
    for (uint64_t i = 0; i < 40; i++) {
        CHECK_INT(put(c, i, "k", 4000), 0);   /* memory keeps every one */
        long now = file_size();
        grown += now > last;
        last = now;
    }
    CHECK(grown > 5 && grown < 40);           /* the disk filled up on the way */
    CHECK(last <= 64 * 1024);
    for (uint64_t i = 0; i < 40; i++) CHECK(has(c, i));
    cache_free(c);
    /* What the file holds is whole: no record torn by the failed writes. */
    c = open_cache(1 << 20);
    CHECK(c != NULL);
    CHECK_INT(count_files("answers.cache.corrupt-"), 0);
    CHECK_INT(cache_get_stats(c).entries, grown);
    CHECK(has(c, 0));
    /* A clear that cannot write the new file cuts the old one to its header. */
    char fill[256];
    snprintf(fill, sizeof fill, "%s/filler", dir);
    FILE *f = fopen(fill, "wb");
    for (int i = 0; f && i < 64; i++) fwrite(content, 1, 1024, f);
    if (f) fclose(f);
    CHECK_INT(cache_clear(c, "nobody"), -1);
    CHECK_INT(file_size(), CACHEFILE_HEADER);
    CHECK(has(c, 0));                         /* memory still serves */
    cache_free(c);
    CHECK_INT(umount(dir), 0);
    tl_remove_dir(dir);
}

/* A good file that is mostly dead records is compacted at start; when that
 * fails (here <file>.tmp is a directory), the file is kept as it is and
 * the store opens with its entries. */
static void test_failed_start_compaction(void) {
    fresh_dir();
    cache *c = open_cache(1 << 22);
    CHECK(c != NULL && put(c, 1, "k", 200000) == 0);
    cache_free(c);
    size_t len;
    unsigned char *one = slurp(&len), *big = malloc(CACHEFILE_HEADER + 8 * (len - CACHEFILE_HEADER));
    CHECK(one != NULL && big != NULL);
    memcpy(big, one, CACHEFILE_HEADER);
    size_t blen = CACHEFILE_HEADER;
    for (int i = 0; i < 8; i++, blen += len - CACHEFILE_HEADER)   /* the last record of a key wins */
        memcpy(big + blen, one + CACHEFILE_HEADER, len - CACHEFILE_HEADER);
    spit(big, blen);
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK_INT(mkdir(tmp, 0700), 0);
    c = open_cache(1 << 22);
    CHECK(c != NULL);
    if (c) {
        CHECK(has(c, 1));
        CHECK_INT(cache_get_stats(c).entries, 1);
        CHECK_INT(file_size(), (long)blen);
        CHECK_INT(put(c, 2, "k", 10), 0);   /* and appended to */
        cache_free(c);
    }
    CHECK_INT(count_files("answers.cache.corrupt-"), 0);
    CHECK_INT(rmdir(tmp), 0);
    c = open_cache(1 << 22);
    CHECK(c != NULL && has(c, 1) && has(c, 2));
    CHECK(file_size() < (long)blen);          /* compacted now that it can be */
    cache_free(c);
    free(one);
    free(big);
    tl_remove_dir(dir);
}

/* An entry made ahead of the clock (it stepped back) is expired, not fresh
 * forever: in a lookup and at load. */
static void test_future(void) {
    fresh_dir();
    cache *c = open_cache(1 << 20);
    CHECK(c != NULL);
    int64_t now = now_s;
    now_s = now + 3600;
    CHECK_INT(put(c, 1, "k", 0), 0);
    now_s = now + 3600 - 60;                  /* within the slack */
    CHECK(has(c, 1));
    now_s = now;
    CHECK(!has(c, 1));
    CHECK_INT(put(c, 2, "k", 0), 0);
    cache_free(c);
    c = open_cache(1 << 20);                  /* loads with the wall clock, an hour behind entry 1 */
    CHECK(c != NULL);
    CHECK_INT(cache_get_stats(c).entries, 1);
    CHECK(has(c, 2));
    cache_free(c);
    tl_remove_dir(dir);
}

int main(void) {
    now_s = (int64_t)time(NULL);
    test_memory();
    test_unwritable();
    test_eviction();
    test_clear_and_persist();
    test_damage();
    test_full_disk();
    test_failed_start_compaction();
    test_future();
    TEST_MAIN_END();
}
