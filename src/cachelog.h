/* cachelog: the answer cache's file as it is written (cache.h owns what is
 * in it; cachefile.h says what the bytes are).
 *
 * Records are appended in batches: cachelog_append queues a record and
 * arms a timer, and every second the queue goes to the file in one write.
 * The file only grows, so now and then it is rewritten with only the live
 * records (compaction): in a child process, which sees the records as they
 * were when it was forked and writes them to <file>.tmp while the gateway
 * goes on appending to the file; when the child is done, what was
 * appended meanwhile is added to the new file, which then replaces the
 * old.  A clear compacts at once, in the gateway's own process, so that
 * what an operator removed is gone from the disk when the answer says so. */
#ifndef TIERGATE_CACHELOG_H
#define TIERGATE_CACHELOG_H

#include <stdbool.h>
#include <stddef.h>

struct evloop;

typedef struct cachelog cachelog;

/* The live records, least recently used first: each call returns the next
 * body (and its length) after *cursor (NULL: the first), or NULL at the
 * end.  Called in the child too, so it must not allocate. */
typedef const unsigned char *(*cachelog_walk_fn)(void *ud, const void **cursor, size_t *len);

/* For path; *live is the live records' bytes (the store's count), read to
 * decide when to compact.  loop NULL: appends are written at once.  NULL
 * with err when path's directory cannot be opened or out of memory. */
cachelog *cachelog_new(const char *path, struct evloop *loop, cachelog_walk_fn walk, void *ud,
                       const size_t *live, char *err, size_t errlen);
/* Stops a compaction under way, writes what is queued, closes. */
void cachelog_free(cachelog *l);
/* After loading: a good file of file_bytes is appended to (compacted
 * first when it is mostly dead records; if that fails, it is kept as it is
 * and compaction is tried again later); a file that is not good is
 * rewritten now.  -1 with err when that cannot be written at all. */
int cachelog_start(cachelog *l, bool good, size_t file_bytes, char *err, size_t errlen);
/* Queues one record (its 8-byte head is made here). */
void cachelog_append(cachelog *l, const unsigned char *body, size_t len);
/* Writes the queue now; finishes a compaction whose child is done; starts
 * one when due. */
void cachelog_flush(cachelog *l);
/* Rewrites the file now, in this process, after a clear.  -1 when it
 * cannot: the file is then cut to its header, so that nothing removed
 * survives a restart. */
int cachelog_rewrite(cachelog *l);
/* True while a child compacts. */
bool cachelog_compacting(const cachelog *l);

#endif
