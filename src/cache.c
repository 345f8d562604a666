/* cache: see cache.h.
 *
 * Memory.  Each entry is one allocation: a small head (key, LRU links, size)
 * and the record's body exactly as the file holds it, so a lookup decodes
 * in place and a compaction writes bodies without re-encoding.  An
 * open-addressing table (linear probing, backward-shift deletion) indexes
 * the entries by the key's first 64 bits; a doubly linked list orders them
 * from least to most recently used.  max_bytes bounds the records' bytes
 * (what the file holds when compact); the heads and the table add about 80
 * bytes an entry (bench/README.md).
 *
 * The file.  Every store is appended as a record (cachelog.h writes them in
 * batches and compacts the file in a child process); hits are not written,
 * so the LRU order on disk is the last compaction's, which writes the
 * least recently used first.  A clear rewrites the file at once.
 *
 * Loading maps the file (read ahead at once), checks each record's CRC and
 * keeps the last record of each key; a damaged record ends the trusted part.
 * A record older than max_age_s is not loaded.
 *
 * Time.  A record made "in the future" (more than CLOCK_SLACK_S ahead of
 * the clock: a head unit without a real-time clock that stepped back) has
 * no age anyone can trust; it counts as expired, in lookups and at load,
 * rather than as fresh forever. */
#include "cache.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cachelog.h"
#include "evloop.h"
#include "log.h"


typedef struct entry {
    cache_key key;
    struct entry *older, *newer;
    uint32_t len;                /* of body */
    unsigned char body[];
} entry;

struct cache {
    config_cache cfg;            /* scalars; cfg.file not owned */
    char *path;
    cachelog *log;
    entry **slots;
    size_t cap, count;
    entry *oldest, *newest;
    size_t bytes;                /* records' bytes (head + body) of the live entries */
    cache_stats st;
    int64_t (*clock)(void);
};

#define CLOCK_SLACK_S 60

static int64_t wall_clock(void) { return (int64_t)time(NULL); }

static bool expired(int64_t now, int64_t created, int64_t max_age_s) {
    return now - created > max_age_s || created > now + CLOCK_SLACK_S;
}

static size_t record_size(const entry *e) { return CACHEFILE_RECORD_HEAD + e->len; }

/* ---- the index ---- */

static size_t home(const cache *c, const cache_key *k) { return (size_t)k->h[0] & (c->cap - 1); }

static bool same(const cache_key *a, const cache_key *b) { return a->h[0] == b->h[0] && a->h[1] == b->h[1]; }

static size_t find_slot(const cache *c, const cache_key *k) {
    size_t i = home(c, k);
    while (c->slots[i] && !same(&c->slots[i]->key, k)) i = (i + 1) & (c->cap - 1);
    return i;
}

static int grow(cache *c) {
    size_t ncap = c->cap ? c->cap * 2 : 1024;
    entry **old = c->slots;
    size_t ocap = c->cap;
    if (!(c->slots = calloc(ncap, sizeof *c->slots))) {
        c->slots = old;
        return -1;
    }
    c->cap = ncap;
    for (size_t i = 0; i < ocap; i++)
        if (old[i]) c->slots[find_slot(c, &old[i]->key)] = old[i];
    free(old);
    return 0;
}

/* Backward-shift deletion keeps every probe chain unbroken without tombstones. */
static void slot_remove(cache *c, size_t i) {
    size_t j = i;
    c->slots[i] = NULL;
    for (;;) {
        j = (j + 1) & (c->cap - 1);
        if (!c->slots[j]) return;
        size_t h = home(c, &c->slots[j]->key);
        bool movable = i <= j ? (h <= i || h > j) : (h <= i && h > j);
        if (movable) {
            c->slots[i] = c->slots[j];
            c->slots[j] = NULL;
            i = j;
        }
    }
}

/* ---- the LRU list ---- */

static void unlink_lru(cache *c, entry *e) {
    if (e->older) e->older->newer = e->newer;
    else c->oldest = e->newer;
    if (e->newer) e->newer->older = e->older;
    else c->newest = e->older;
    e->older = e->newer = NULL;
}

static void push_newest(cache *c, entry *e) {
    e->older = c->newest;
    e->newer = NULL;
    if (c->newest) c->newest->newer = e;
    else c->oldest = e;
    c->newest = e;
}

static void drop(cache *c, entry *e) {
    slot_remove(c, find_slot(c, &e->key));
    unlink_lru(c, e);
    c->bytes -= record_size(e);
    c->count--;
    free(e);
}

static void evict(cache *c) {
    while (c->bytes > c->cfg.max_bytes && c->oldest) {
        drop(c, c->oldest);
        c->st.evictions++;
    }
}

/* Adds body (len bytes, checked) as k's entry, replacing an older one. */
static entry *insert(cache *c, const cache_key *k, const unsigned char *body, size_t len) {
    if ((c->count + 1) * 4 > c->cap * 3 && grow(c) < 0) return NULL;
    entry *e = malloc(sizeof *e + len);
    if (!e) return NULL;
    e->key = *k;
    e->len = (uint32_t)len;
    memcpy(e->body, body, len);
    size_t i = find_slot(c, k);
    if (c->slots[i]) {
        drop(c, c->slots[i]);
        i = find_slot(c, k);
    }
    c->slots[i] = e;
    push_newest(c, e);
    c->count++;
    c->bytes += record_size(e);
    evict(c);
    return e;
}

/* Live records, least recently used first, for the file's rewrite (cachelog.h). */
static const unsigned char *walk(void *ud, const void **cursor, size_t *len) {
    const cache *c = ud;
    const entry *e = *cursor ? ((const entry *)*cursor)->newer : c->oldest;
    *cursor = e;
    if (!e) return NULL;
    *len = e->len;
    return e->body;
}

/* ---- the operations ---- */

bool cache_get(cache *c, const cache_key *k, int64_t max_age_s, cache_answer *out) {
    if (!c->count) return false;
    entry *e = c->slots[find_slot(c, k)];
    char why[64];
    cache_key ek;
    if (!e || cachefile_decode_body(e->body, e->len, &ek, out, why, sizeof why) < 0) return false;
    if (expired(c->clock(), out->created, max_age_s)) return false;
    unlink_lru(c, e);
    push_newest(c, e);
    return true;
}

int cache_put(cache *c, const cache_key *k, const cache_answer *a) {
    size_t len = cachefile_body_size(a);
    if (!len || CACHEFILE_RECORD_HEAD + len > c->cfg.max_bytes / 4) return -1;
    unsigned char *body = malloc(len);
    if (!body) return -1;
    cachefile_encode_body(k, a, body);
    entry *e = insert(c, k, body, len);
    free(body);
    if (!e) return -1;
    c->st.stores++;
    cachelog_append(c->log, e->body, e->len);
    return 0;
}

long cache_clear(cache *c, const char *client) {
    long n = 0;
    for (entry *e = c->oldest, *next; e; e = next) {
        next = e->newer;
        cache_answer a;
        cache_key k;
        char why[64];
        if (client && cachefile_decode_body(e->body, e->len, &k, &a, why, sizeof why) == 0 &&
            strcmp(a.client, client) != 0)
            continue;
        drop(c, e);
        n++;
    }
    return cachelog_rewrite(c->log) == 0 ? n : -1;
}

void cache_flush(cache *c) { cachelog_flush(c->log); }
bool cache_compacting(const cache *c) { return cachelog_compacting(c->log); }

void cache_count(cache *c, cache_outcome o) {
    if (o == CACHE_HIT) c->st.hits++;
    else if (o == CACHE_STALE) c->st.stale_hits++;
    else c->st.misses++;
}

cache_stats cache_get_stats(const cache *c) {
    cache_stats s = c->st;
    s.bytes = c->bytes;
    s.entries = c->count;
    return s;
}

size_t cache_render_metrics(const cache *c, char *out, size_t n) {
    cache_stats s = cache_get_stats(c);
    int w = snprintf(out, n,
                     "# HELP tiergate_cache_lookups_total Answer cache lookups by result (hit: fresh, "
                     "stale: served because the tier was unreachable, miss).\n"
                     "# TYPE tiergate_cache_lookups_total counter\n"
                     "tiergate_cache_lookups_total{result=\"hit\"} %llu\n"
                     "tiergate_cache_lookups_total{result=\"stale\"} %llu\n"
                     "tiergate_cache_lookups_total{result=\"miss\"} %llu\n"
                     "# HELP tiergate_cache_stores_total Answers stored in the cache.\n"
                     "# TYPE tiergate_cache_stores_total counter\n"
                     "tiergate_cache_stores_total %llu\n"
                     "# HELP tiergate_cache_evictions_total Entries evicted as least recently used.\n"
                     "# TYPE tiergate_cache_evictions_total counter\n"
                     "tiergate_cache_evictions_total %llu\n"
                     "# HELP tiergate_cache_bytes Bytes of the cached records (bounded by cache.max_bytes).\n"
                     "# TYPE tiergate_cache_bytes gauge\n"
                     "tiergate_cache_bytes %zu\n"
                     "# HELP tiergate_cache_entries Answers in the cache.\n"
                     "# TYPE tiergate_cache_entries gauge\n"
                     "tiergate_cache_entries %zu\n",
                     (unsigned long long)s.hits, (unsigned long long)s.stale_hits, (unsigned long long)s.misses,
                     (unsigned long long)s.stores, (unsigned long long)s.evictions, s.bytes, s.entries);
    return w < 0 ? 0 : (size_t)w >= n ? n - 1 : (size_t)w;
}

/* ---- opening ---- */

/* Moves the damaged file aside for a person to look at. */
static void set_aside(cache *c, const char *why, size_t kept) {
    char stamp[32], *to = NULL;
    time_t t = (time_t)c->clock();
    struct tm tm;
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", gmtime_r(&t, &tm));
    bool moved = asprintf(&to, "%s.corrupt-%s", c->path, stamp) >= 0 && rename(c->path, to) == 0;
    cJSON *o = log_begin("warn", "cache: the file is damaged; it is set aside and the records before the damage "
                                 "are kept");
    if (o) {
        cJSON_AddStringToObject(o, "file", c->path);
        cJSON_AddStringToObject(o, "problem", why);
        cJSON_AddStringToObject(o, "kept_as", moved ? to : "(could not be moved; it will be replaced)");
        cJSON_AddNumberToObject(o, "entries_kept", (double)kept);
    }
    log_end(o);
    free(to);
}

/* Maps path whole (read-only, read ahead at once): 1, or 0 when it does not
 * exist, or -1 with errno.  *data is NULL for an empty file. */
static int map_whole(const char *path, unsigned char **data, size_t *len) {
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0) return errno == ENOENT ? 0 : -1;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return -1;
    }
    *len = (size_t)st.st_size;
    void *p = *len ? mmap(NULL, *len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0) : NULL;
    close(fd);
    if (p == MAP_FAILED) return -1;
    *data = p;
    return 1;
}

/* Reads the file into the store.  Returns true when the file is good as it
 * is (appends may follow); false when it must be written anew. */
static bool load(cache *c, size_t *file_bytes) {
    unsigned char *data;
    size_t len, off = CACHEFILE_HEADER, old = 0;
    *file_bytes = 0;
    char why[128] = "";
    uint64_t t0 = evloop_clock_us();
    int rc = map_whole(c->path, &data, &len);
    if (rc <= 0) {
        if (rc < 0) {
            snprintf(why, sizeof why, "cannot read: %s", strerror(errno));
            set_aside(c, why, 0);
        }
        return false;
    }
    if (len == 0) return false;   /* created, then cut before its header: nothing lost */
    if (cachefile_check_header(data, len, why, sizeof why) == 0) {
        int64_t now = c->clock();
        while (off < len) {
            size_t blen, used;
            cache_key k;
            cache_answer a;
            const unsigned char *body = cachefile_next(data + off, len - off, &blen, &used, why, sizeof why);
            if (!body || cachefile_decode_body(body, blen, &k, &a, why, sizeof why) < 0) break;
            off += used;
            if (expired(now, a.created, c->cfg.max_age_s)) old++;
            else if (!insert(c, &k, body, blen)) {
                snprintf(why, sizeof why, "out of memory while loading");
                break;
            }
        }
    }
    munmap(data, len);
    bool good = off >= len && !why[0];
    if (!good) set_aside(c, why, c->count);
    cJSON *o = log_begin("info", "cache loaded");
    if (o) {
        cJSON_AddStringToObject(o, "file", c->path);
        cJSON_AddNumberToObject(o, "entries", (double)c->count);
        cJSON_AddNumberToObject(o, "bytes", (double)c->bytes);
        cJSON_AddNumberToObject(o, "expired", (double)old);
        cJSON_AddNumberToObject(o, "ms", (double)(evloop_clock_us() - t0) / 1000.0);
    }
    log_end(o);
    *file_bytes = len;
    c->st.evictions = 0;   /* evictions while loading only replay the file's history */
    return good;
}

cache *cache_open(const config_cache *cc, struct evloop *loop, char *err, size_t errlen) {
    cache *c = calloc(1, sizeof *c);
    if (!c || !(c->path = strdup(cc->file))) {
        snprintf(err, errlen, "cache: out of memory");
        cache_free(c);
        return NULL;
    }
    c->cfg = *cc;
    c->cfg.file = NULL;
    c->clock = wall_clock;
    if (!(c->log = cachelog_new(c->path, loop, walk, c, &c->bytes, err, errlen))) {
        cache_free(c);
        return NULL;
    }
    size_t file_bytes;
    bool good = load(c, &file_bytes);
    if (cachelog_start(c->log, good, file_bytes, err, errlen) < 0) {
        cache_free(c);
        return NULL;
    }
    return c;
}

void cache_free(cache *c) {
    if (!c) return;
    cachelog_free(c->log);   /* first: a last rewrite walks the entries */
    for (entry *e = c->oldest, *next; e; e = next) {
        next = e->newer;
        free(e);
    }
    free(c->slots);
    free(c->path);
    free(c);
}

void cache_reconfigure(cache *c, const config_cache *cc) {
    c->cfg.mode = cc->mode;
    c->cfg.max_bytes = cc->max_bytes;
    c->cfg.ttl_s = cc->ttl_s;
    c->cfg.max_age_s = cc->max_age_s;
    c->cfg.max_temperature = cc->max_temperature;
    c->cfg.require_seed = cc->require_seed;
    evict(c);
}

const char *cache_path(const cache *c) { return c->path; }
void cache_set_clock(cache *c, int64_t (*clock)(void)) { c->clock = clock; }
int64_t cache_now(const cache *c) { return c->clock(); }
