/* dialect: the body one backend gets for a client's request.
 *
 * The request as the client wrote it, with the backend's model name, usage
 * always asked for in streams (metrics and spend need it; chat drops the
 * usage chunk again when the client did not ask), the masked text for tiers
 * above the device when privacy redacts, and for "compat" backends (llama.cpp,
 * Ollama, Spark, DashScope, DeepSeek) max_completion_tokens as max_tokens, the
 * "developer" role as "system", and the fields only OpenAI knows removed. */
#ifndef TIERGATE_DIALECT_H
#define TIERGATE_DIALECT_H

#include <stddef.h>

#include "config.h"
#include "request.h"

struct cJSON;
struct configread;

/* The JSON body for backend b (malloc'd, NUL-terminated), or NULL on OOM;
 * from r->redacted when set and b is above the device tier. */
char *dialect_body(const chatreq *r, const config_backend *b, size_t *len);

/* Issue 15.  The body asking b to continue an answer that begins with
 * prefix (plen bytes, in b's own words: masked when b gets the masked
 * request): dialect_body's, plus a final assistant message holding prefix
 * in b's continuation dialect (docs/resilience.md, "Continuation dialects").
 * NULL when out of memory; b->continuation must not be CONTINUATION_NONE. */
char *dialect_continue_body(const chatreq *r, const config_backend *b, const char *prefix, size_t plen,
                            size_t *len);

/* backends[].continuation of the backend object obj at path into *out
 * (default "none"); -1 with the message in r. */
int dialect_read_continuation(struct configread *r, const struct cJSON *obj, const char *path,
                              continuation_t *out);
/* The configuration's spelling of c. */
const char *dialect_continuation_name(continuation_t c);

#endif
