/* chat: the /v1/chat/completions and /v1/route endpoints.
 *
 * chat is where one request is followed from its body to its answer: parse
 * and validate (request), score (classifier), decide (router), carry out
 * (dispatch), and write what comes back as the OpenAI client expects it: one
 * JSON object, or an SSE stream with a gateway id and the answering model's
 * name on every chunk, usage only when asked for, and [DONE] only when the
 * answer is complete.  It also accounts for each request: tokens, cost and
 * times in its log line and in the metrics.  chat knows nothing of libcurl
 * or of sockets. */
#ifndef TIERGATE_CHAT_H
#define TIERGATE_CHAT_H

#include "budgetstore.h"
#include "cache.h"
#include "linkreport.h"
#include "metrics.h"
#include "runtime.h"
#include "server.h"

typedef struct chat chat;

/* New requests use rt (the chat holds a reference); each request keeps the
 * runtime it started with until it ends.  Requests are counted in m
 * (borrowed; it outlives the chat). */
chat *chat_new(runtime *rt, metrics *m);
/* A reload: requests from now on use rt. */
void chat_set_runtime(chat *c, runtime *rt);
/* The spend budget (main's, outliving reloads), or NULL for none; requests
 * are checked against it from now on, and answers that end from now on are
 * charged to it. */
void chat_set_budget(chat *c, budgetstore *budget);
/* The answer cache (main's, outliving reloads), or NULL for none. */
void chat_set_cache(chat *c, cache *store);
/* The vehicle's link report (main's, issue 15); the router reads its state
 * at every request. */
void chat_set_link(chat *c, const linkreport *link);
void chat_free(chat *c);

/* server_endpoint handlers; ctx is the chat. */
void chat_handle_completions(server_exchange *ex, void *ctx);
void chat_handle_route(server_exchange *ex, void *ctx);

#endif
