/* chatcont: a chat request's side of continuation (issue 15).
 *
 * dispatch continues a stream that broke on another backend (dispatch.h);
 * what it needs of the request is here, kept apart from chat.c's sink: the
 * text the client has received (choice 0's content after privacy's
 * restore, exactly as written to the client), whether the answer can be
 * continued as text at all (not in the middle of a tool call, not with
 * several choices), the tokens and cost of the attempts before (so the
 * usage chunk and the accounting count every attempt), and what the
 * request's log line says about it: "continued_by", "continued_after_chars",
 * "continued_why", "continuation" (the last outcome) and
 * "malformed_events". */
#ifndef TIERGATE_CHATCONT_H
#define TIERGATE_CHATCONT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "config.h"
#include "metrics.h"
#include "privacy.h"
#include "server.h"
#include "usage.h"

struct cJSON;

/* Tool calls of one answer that a broken stream can still close. */
#define CHATCONT_MAX_CALLS 8

typedef struct chatcont {
    buf sent;                    /* choice 0's text as the client received it */
    bool not_text;               /* a tool call or a second choice was relayed */
    bool unclosable;             /* a second choice, text after a tool call, too many calls */
    int ncalls;                  /* tool calls relayed: indexes 0 .. ncalls-1 */
    bool named[CHATCONT_MAX_CALLS];
    buf args[CHATCONT_MAX_CALLS];   /* each call's arguments as relayed */
    char *prefix;                /* the last text given to dispatch (owned) */
    usage prior;                 /* the tokens of the attempts before the current one */
    bool folded;                 /* the current attempt is in prior already (no chunk since) */
    double prior_cost;
    int hops;                    /* continuations that went to a backend */
    bool errors;                 /* one of them failed, was refused or broke */
    const char *outcome;         /* the last one's (static), NULL: none */
    char by[64];                 /* the backend that continued last */
    size_t after_chars;          /* characters the client had when it was asked */
    char why[256];               /* the failure that called for the first one */
    int malformed;
} chatcont;

/* A relayed chunk, as written to the client (after the restore). */
void chatcont_chunk(chatcont *cc, const struct cJSON *chunk);

/* dispatch_sink.on_whole_turn: whether the answer relayed so far is a
 * whole turn although its stream broke: one choice of tool calls only,
 * each named and with arguments that are a complete JSON object (an
 * object is complete only at its closing brace, so a cut inside one is
 * never taken for a whole call). */
bool chatcont_whole_turn(const chatcont *cc);

/* dispatch_sink.on_continue: the prefix for backend to (NULL when the
 * answer cannot be continued as text, or out of memory; DISPATCH_CONT_SKIP
 * when to may not see it: privacy_continuation_text).  meter holds the
 * attempt that broke, at price; it is folded into prior and reset. */
const char *chatcont_prefix(chatcont *cc, privacy_call *priv, const config_backend *to, usage_meter *meter,
                            const config_price *price, const feature_message *msgs, size_t nmsgs, size_t *len);

/* dispatch_sink.on_continued, counted in m (from and to are metrics slots). */
void chatcont_outcome(chatcont *cc, metrics *m, int from, int to, const char *to_name, const char *outcome,
                      const char *why);

/* A usage chunk for the client: the attempts before are added to its
 * counts, so the client's usage is the sum. */
void chatcont_usage(const chatcont *cc, struct cJSON *chunk);

/* The answer's tokens and cost, every attempt counted (u: the current
 * attempt's, cost at its price), and the log fields. */
void chatcont_account(const chatcont *cc, server_exchange *ex, usage *u, double *cost);

/* A continued answer may be stored in the answer cache only when every
 * continuation went cleanly. */
bool chatcont_storable(const chatcont *cc);

void chatcont_free(chatcont *cc);

#endif
