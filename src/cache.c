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
 * Writing without blocking the loop.  A store appends its record to a
 * pending buffer and arms a timer; every FLUSH_MS the buffer goes to the
 * file in one write() to an O_APPEND descriptor (a page-cache copy), and
 * sync_file_range() starts the write-back without waiting for it.  A power
 * cut therefore loses at most the last second of stores, and tears at most
 * the last record, which the checksums catch.  A failed write (a full disk)
 * cuts the file back to its last whole record and is logged once; memory
 * keeps serving.
 *
 * Compaction.  The log only grows (a replaced or evicted entry stays in the
 * file), so when the file is over twice the live bytes plus 1 MiB it is
 * rewritten: every live record, least recently used first (so the order
 * survives a restart), into <file>.tmp, fdatasync'd and renamed over the
 * file.  This is the one step that blocks the loop for as long as the data
 * takes to write (bench/README.md: 64 MB); it comes at most once per
 * max_bytes of stores.  A clear (DELETE /v1/cache) compacts at once, so
 * what an operator removed is gone from the disk when the answer says so.
 * Hits are not written: the LRU order on disk is the last compaction's.
 *
 * Loading maps the file (read ahead at once), checks each record's CRC and keeps
 * the last record of each key; a damaged record ends the trusted part. */
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

#include "evloop.h"
#include "log.h"

#define FLUSH_MS 1000
#define COMPACT_SLACK (1u << 20)

typedef struct entry {
    cache_key key;
    struct entry *older, *newer;
    uint32_t len;                /* of body */
    unsigned char body[];
} entry;

struct cache {
    config_cache cfg;            /* scalars; cfg.file not owned */
    char *path, *tmp;
    int fd, dirfd;
    size_t file_bytes;           /* what the file holds after the last good write */
    bool need_compact;           /* the file lost records (a failed write): rewrite it */
    unsigned char *pending;
    size_t npending, cappending;
    entry **slots;
    size_t cap, count;
    entry *oldest, *newest;
    size_t bytes;                /* records' bytes (head + body) of the live entries */
    cache_stats st;
    char write_error[256];
    struct evloop *loop;
    evloop_timer timer;
    int64_t (*clock)(void);
};

static int64_t wall_clock(void) { return (int64_t)time(NULL); }

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

/* ---- writing ---- */

static int write_all(int fd, const unsigned char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            if (w == 0) errno = ENOSPC;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void report_write(cache *c, const char *step, int err) {
    char msg[sizeof c->write_error];
    snprintf(msg, sizeof msg, "%s: %s: %s", c->path, step, strerror(err));
    if (strcmp(msg, c->write_error) != 0) {
        cJSON *o = log_begin("error", "cache: file not written; answers stay in memory");
        if (o) cJSON_AddStringToObject(o, "error", msg);
        log_end(o);
    }
    snprintf(c->write_error, sizeof c->write_error, "%s", msg);
}

static int pending_add(cache *c, const unsigned char *p, size_t n) {
    if (c->npending + n > c->cappending) {
        size_t cap = c->cappending ? c->cappending : 4096;
        while (cap < c->npending + n) cap *= 2;
        unsigned char *np = realloc(c->pending, cap);
        if (!np) return -1;
        c->pending = np;
        c->cappending = cap;
    }
    memcpy(c->pending + c->npending, p, n);
    c->npending += n;
    return 0;
}

/* Writes every live record, oldest first, to tmp and renames it over the
 * file; on failure the file is left as it was. */
static int compact(cache *c) {
    unsigned char head[CACHEFILE_HEADER], rh[CACHEFILE_RECORD_HEAD];
    const char *step = "create";
    int fd = open(c->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t total = CACHEFILE_HEADER;
    c->npending = 0;   /* every live record goes into the new file */
    if (fd < 0) goto err;
    step = "write";
    cachefile_header(head);
    if (pending_add(c, head, sizeof head) < 0) goto err_nomem;
    for (entry *e = c->oldest; e; e = e->newer) {
        cachefile_record_head(e->body, e->len, rh);
        if (pending_add(c, rh, sizeof rh) < 0 || pending_add(c, e->body, e->len) < 0) goto err_nomem;
        total += record_size(e);
        if (c->npending >= (1u << 20)) {
            if (write_all(fd, c->pending, c->npending) < 0) goto err;
            c->npending = 0;
        }
    }
    if (write_all(fd, c->pending, c->npending) < 0 || fdatasync(fd) < 0) goto err;
    c->npending = 0;
    step = "close";
    int rc = close(fd);
    fd = -1;
    if (rc < 0) goto err;
    step = "rename";
    if (rename(c->tmp, c->path) < 0) goto err;
    fsync(c->dirfd);
    step = "reopen";
    int nfd = open(c->path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (nfd < 0) goto err;
    if (c->fd >= 0) close(c->fd);
    c->fd = nfd;
    c->file_bytes = total;
    c->need_compact = false;
    c->write_error[0] = '\0';
    return 0;
err_nomem:
    errno = ENOMEM;
err:;
    int e = errno;
    if (fd >= 0) close(fd);
    unlink(c->tmp);
    c->npending = 0;
    report_write(c, step, e);
    return -1;
}

void cache_flush(cache *c) {
    if (c->loop) evloop_timer_stop(c->loop, &c->timer);
    if (c->need_compact || c->file_bytes > 2 * c->bytes + COMPACT_SLACK) {
        compact(c);
        return;
    }
    if (!c->npending) return;
    if (write_all(c->fd, c->pending, c->npending) < 0) {
        int e = errno;
        /* A torn record would hide every later one: back to the last whole one. */
        if (ftruncate(c->fd, (off_t)c->file_bytes) < 0) c->need_compact = true;
        c->npending = 0;
        report_write(c, "append", e);
        return;
    }
    sync_file_range(c->fd, (off_t)c->file_bytes, (off_t)c->npending, SYNC_FILE_RANGE_WRITE);
    c->file_bytes += c->npending;
    c->npending = 0;
    if (c->write_error[0]) log_msg("info", "cache: file written again");
    c->write_error[0] = '\0';
}

static void on_timer(void *ud) { cache_flush(ud); }

/* ---- the operations ---- */

bool cache_get(cache *c, const cache_key *k, int64_t max_age_s, cache_answer *out) {
    if (!c->count) return false;
    entry *e = c->slots[find_slot(c, k)];
    char why[64];
    cache_key ek;
    if (!e || cachefile_decode_body(e->body, e->len, &ek, out, why, sizeof why) < 0) return false;
    if (c->clock() - out->created > max_age_s) return false;
    unlink_lru(c, e);
    push_newest(c, e);
    return true;
}

int cache_put(cache *c, const cache_key *k, const cache_answer *a) {
    size_t len = cachefile_body_size(a);
    if (!len || CACHEFILE_RECORD_HEAD + len > c->cfg.max_bytes / 4) return -1;
    unsigned char *body = malloc(len), rh[CACHEFILE_RECORD_HEAD];
    if (!body) return -1;
    cachefile_encode_body(k, a, body);
    entry *e = insert(c, k, body, len);
    free(body);
    if (!e) return -1;
    c->st.stores++;
    cachefile_record_head(e->body, e->len, rh);
    if (pending_add(c, rh, sizeof rh) < 0 || pending_add(c, e->body, e->len) < 0) c->need_compact = true;
    if (!c->loop) cache_flush(c);
    else if (!evloop_timer_active(&c->timer)) evloop_timer_start(c->loop, &c->timer, FLUSH_MS);
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
    if (compact(c) == 0) return n;
    /* The removed answers must not come back at a restart. */
    if (ftruncate(c->fd, CACHEFILE_HEADER) == 0) c->file_bytes = CACHEFILE_HEADER;
    c->need_compact = true;
    return -1;
}

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
static bool load(cache *c) {
    unsigned char *data;
    size_t len, off = CACHEFILE_HEADER, expired = 0;
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
            if (now - a.created > c->cfg.max_age_s) expired++;
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
        cJSON_AddNumberToObject(o, "expired", (double)expired);
        cJSON_AddNumberToObject(o, "ms", (double)(evloop_clock_us() - t0) / 1000.0);
    }
    log_end(o);
    c->file_bytes = len;
    c->st.evictions = 0;   /* evictions while loading only replay the file's history */
    return good;
}

static int open_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    free(dir);
    return fd;
}

cache *cache_open(const config_cache *cc, struct evloop *loop, char *err, size_t errlen) {
    cache *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "cache: out of memory");
        return NULL;
    }
    c->cfg = *cc;
    c->cfg.file = NULL;
    c->fd = c->dirfd = -1;
    c->loop = loop;
    c->clock = wall_clock;
    evloop_timer_init(&c->timer, on_timer, c);
    if (!(c->path = strdup(cc->file)) || asprintf(&c->tmp, "%s.tmp", cc->file) < 0) {
        c->tmp = NULL;
        snprintf(err, errlen, "cache: out of memory");
        goto fail;
    }
    if ((c->dirfd = open_dir(c->path)) < 0) {
        snprintf(err, errlen, "cache.file: %s: its directory cannot be opened: %s", c->path, strerror(errno));
        goto fail;
    }
    bool good = load(c);
    if (good && (c->fd = open(c->path, O_WRONLY | O_APPEND | O_CLOEXEC)) < 0) good = false;
    if ((!good || c->file_bytes > 2 * c->bytes + COMPACT_SLACK) && compact(c) < 0) {
        snprintf(err, errlen, "cache.file: %s", c->write_error);
        goto fail;
    }
    return c;
fail:
    cache_free(c);
    return NULL;
}

void cache_free(cache *c) {
    if (!c) return;
    if (c->fd >= 0) {
        cache_flush(c);
        close(c->fd);
    }
    if (c->dirfd >= 0) close(c->dirfd);
    for (entry *e = c->oldest, *next; e; e = next) {
        next = e->newer;
        free(e);
    }
    free(c->slots);
    free(c->pending);
    free(c->path);
    free(c->tmp);
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
