/* cachereply: a stored answer as the client gets it, and an answer as the
 * cache stores it.
 *
 * Replay: a stored answer (or the configured degraded reply) becomes a
 * normal chat.completion, or a well-formed SSE stream chunked like a
 * backend's: a first chunk naming the role, the content in at most
 * CACHEREPLY_PIECES pieces of at least CACHEREPLY_PIECE_MIN bytes (never
 * splitting a UTF-8 sequence), a last chunk with its finish_reason, the
 * usage chunk when the client asked for it, and [DONE].  The stream is
 * the answer (JSON-escaped) plus a bounded overhead, whatever its length.
 * Collection: the chunks or the body of a live answer, gathered into what
 * cache_put takes, and the verdict whether it is whole, plain enough
 * (one choice, text only, finish_reason "stop") and at most
 * CACHEREPLY_MAX_STORED bytes to store.  Pure. */
#ifndef TIERGATE_CACHEREPLY_H
#define TIERGATE_CACHEREPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "cachefile.h"
#include "config.h"
#include "request.h"

struct cJSON;

#define CACHEREPLY_PIECES 64
#define CACHEREPLY_PIECE_MIN 16
/* A longer answer (a quarter of a million tokens) is not stored: a kiosk's
 * cache holds many answers, and a replay is built whole in memory. */
#define CACHEREPLY_MAX_STORED (1u << 20)

/* The completion object's JSON text (malloc'd); NULL when out of memory. */
char *cachereply_json(const cache_answer *a, const char *id, double created, size_t *len);
/* The whole SSE body, [DONE] included, appended to out; -1 when out of
 * memory (out then holds part of it). */
int cachereply_sse(buf *out, const cache_answer *a, const char *id, double created, bool include_usage);
/* The degraded reply for req: Chinese when the last user message holds a
 * Chinese character and "zh" is set, else "en", else "zh"; NULL when none. */
const char *cachereply_degraded_text(const config_degraded *d, const chatreq *req);

/* An answer being gathered for the cache. */
typedef struct cache_collect {
    buf content;
    char finish[24];
    bool unfit;                  /* not storable: tool calls, several choices, ... */
} cache_collect;

void cachecollect_chunk(cache_collect *k, const struct cJSON *chunk);
void cachecollect_response(cache_collect *k, const struct cJSON *body);
/* The content (NUL-terminated) when the answer is whole and storable, else NULL. */
const char *cachecollect_result(cache_collect *k, size_t *len);
void cachecollect_free(cache_collect *k);

#endif
