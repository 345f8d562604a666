/* front: from a model endpoint's request body to a routing decision.
 *
 * front_decide() is what /v1/chat/completions and /v1/route share: it
 * checks the body against the limits, parses it (request.h), scans it for
 * personal data (privacy.h), scores it (classifier.h), names its language
 * and asks the router (router.h) under the budget and the vehicle's link
 * report.  A refusal it answers itself. */
#ifndef TIERGATE_FRONT_H
#define TIERGATE_FRONT_H

#include <stdbool.h>

#include "budgetstore.h"
#include "classifier.h"
#include "langid.h"
#include "linkreport.h"
#include "privacy.h"
#include "request.h"
#include "router.h"
#include "runtime.h"
#include "server.h"

/* What a decision reads besides the request. */
typedef struct front_env {
    const runtime *rt;
    const budgetstore *budget;   /* NULL: no spend budget */
    const linkreport *link;      /* the vehicle's link report */
    /* Optional: offered a 503 for want of a backend before it is sent;
     * true when it answered the request itself. */
    bool (*rescue)(void *ctx, const chatreq *req, const privacy_call *priv);
    void *rescue_ctx;
} front_env;

/* Decides ex's request.  0: *req and *priv are the caller's to free, *dec
 * the decision, *deadline_ms the request's deadline (a client may shorten
 * the operator's, never extend it), *lang its language (also logged as
 * "lang"); with why, the score's explanation (what /v1/route shows; the
 * chat endpoint passes NULL, which costs less).  -1: the request was
 * answered (refused, rescued, or out of memory) and nothing is left to
 * free; *reason is the X-Tiergate-Reason of a router's refusal. */
int front_decide(const front_env *env, server_exchange *ex, chatreq *req, privacy_call **priv,
                 classifier_explanation *why, router_decision *dec, int *deadline_ms, const char **reason,
                 langid_lang *lang);

#endif
