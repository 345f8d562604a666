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

/* The JSON body for backend b (malloc'd, NUL-terminated), or NULL on OOM;
 * from r->redacted when set and b is above the device tier. */
char *dialect_body(const chatreq *r, const config_backend *b, size_t *len);

#endif
