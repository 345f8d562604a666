/* cache: the answer cache's store: entries in memory, bounded in bytes with
 * least-recently-used eviction, kept in a file that survives power cuts.
 *
 * main owns one store across reloads (like the budget's); chat looks
 * answers up and stores them, the admin endpoint clears them, /metrics
 * shows its counters.  What may be stored and under which key is
 * cachekey.h's; the file's bytes are cachefile.h's; how a stored answer is
 * replayed to a client is cachereply.h's.  A damaged file is set aside
 * (renamed <file>.corrupt-<time>) with a warning, and the store starts with
 * the records before the damage.  Operations: docs/operations.md. */
#ifndef TIERGATE_CACHE_H
#define TIERGATE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cachefile.h"
#include "cachekey.h"
#include "config.h"

struct evloop;

typedef struct cache cache;

typedef struct cache_stats {
    uint64_t hits, stale_hits, misses, stores, evictions;
    size_t bytes, entries;
} cache_stats;

/* Opens and loads cc->file (created when absent); loop runs the batched
 * writes (NULL: every store is written at once, for tools and tests).
 * NULL with err only when a new file cannot be created or written at all;
 * a good file is never lost to a failed compaction (it is kept, appended
 * to, and compacted later). */
cache *cache_open(const config_cache *cc, struct evloop *loop, char *err, size_t errlen);
/* Writes what is pending and closes. */
void cache_free(cache *c);
/* New limits (max_bytes evicts at once); the file stays. */
void cache_reconfigure(cache *c, const config_cache *cc);
const char *cache_path(const cache *c);
/* For tests: the wall clock in Unix seconds (default time()). */
void cache_set_clock(cache *c, int64_t (*clock)(void));
int64_t cache_now(const cache *c);

/* The entry for k no older than max_age_s, made the most recently used:
 * true with *out filled (valid until the next call that changes the store). */
bool cache_get(cache *c, const cache_key *k, int64_t max_age_s, cache_answer *out);
/* Stores a (created is a's), replacing k's entry; evicts the least recently
 * used past max_bytes.  -1 when out of memory or too large to keep. */
int cache_put(cache *c, const cache_key *k, const cache_answer *a);
/* Removes every entry, or every entry of the client key client, from memory
 * and from the file (rewritten at once).  Returns how many went, or -1 when
 * the file could not be rewritten (then it is cut to its header: nothing
 * removed survives a restart either way). */
long cache_clear(cache *c, const char *client);
/* Writes the pending records now (the timer's work), and finishes or
 * starts a compaction of the file (cachelog.h). */
void cache_flush(cache *c);
/* True while a child process compacts the file. */
bool cache_compacting(const cache *c);

typedef enum { CACHE_HIT, CACHE_STALE, CACHE_MISS } cache_outcome;
void cache_count(cache *c, cache_outcome o);
cache_stats cache_get_stats(const cache *c);
/* The Prometheus text of the counters, appended at out (n bytes); returns
 * the length written. */
size_t cache_render_metrics(const cache *c, char *out, size_t n);

#endif
