/* request: the client's chat completion request, parsed and validated.
 *
 * chatreq_parse() checks everything a backend would otherwise choke on or a
 * hostile client could abuse (UTF-8, JSON syntax, types, roles, required
 * fields, duplicate keys, unknown fields) and reports the first problem as an
 * OpenAI-style 400.  The body each backend gets is dialect.h's. */
#ifndef TIERGATE_REQUEST_H
#define TIERGATE_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "apierror.h"
#include "featurize.h"
#include "config.h"

struct cJSON;

typedef struct chatreq {
    struct cJSON *root;          /* owned: the parsed body */
    const char *model;           /* points into root */
    bool stream;
    bool include_usage;          /* stream_options.include_usage */
    size_t nmessages;
    size_t ntools;               /* tool (and legacy function) definitions */
    feature_message *msgs;       /* owned array of nmessages; texts point into
                                    root or into owned joined-part buffers */
    char **joined;               /* owned buffers for array contents */
    size_t njoined;
    struct cJSON *redacted;      /* borrowed (privacy.h): the body with personal
                                    data masked, for tiers above the device; or NULL */
} chatreq;

/* Returns 0 and fills out, or -1 with err filled (out needs no free then). */
int chatreq_parse(const char *body, size_t len, chatreq *out, api_error *err);
void chatreq_free(chatreq *r);

#endif
