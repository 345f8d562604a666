/* dispatch: carrying out a routing decision.
 *
 * A job tries the decision's candidate backends in order, each through an
 * attempt (attempt.h), all within one deadline.  Before anything reached the
 * client, a failure is retried on the same backend when a retry can help
 * (bounded, with jittered back-off, or as the backend's Retry-After says) and
 * otherwise moves on to the next candidate; a context-length refusal moves on
 * to a candidate with a larger context.  With hedging on, a second candidate
 * starts when the first has not produced a byte after routing.hedge_after_ms;
 * the first to produce one wins and the other is cancelled.  Once a chunk has
 * gone to the sink the job is committed: a later failure becomes on_error with
 * committed = true, which the caller turns into an error event.
 *
 * Continuation (issue 15).  When a committed stream breaks, the job asks
 * the sink for the text its client has (on_continue) and gives it to the
 * next candidate whose backends[].continuation is not "none", within the
 * same deadline; that attempt's chunks come to on_chunk as the same
 * stream.  A continuation that fails, is refused or starts over moves on
 * to the next such candidate; when none is left (or the time is up) the
 * job ends with a committed on_error naming the original failure.
 *
 * dispatch speaks the OpenAI response format through attempt, but not HTTP
 * towards the client: the sink does that. */
#ifndef TIERGATE_DISPATCH_H
#define TIERGATE_DISPATCH_H

#include <stdbool.h>

#include "apierror.h"
#include "backends.h"
#include "config.h"
#include "request.h"
#include "router.h"

#include "upstream.h"

struct cJSON;
struct evloop;

typedef struct dispatch dispatch;
typedef struct dispatch_job dispatch_job;

/* Why an attempt was started. */
typedef enum {
    DISPATCH_FIRST,          /* the decision's first candidate */
    DISPATCH_RETRY,          /* the same backend again, after a failure */
    DISPATCH_FALLBACK,       /* a later candidate, after a failure or a refusal */
    DISPATCH_HEDGE,          /* a later candidate, alongside one slow to answer */
    DISPATCH_CONTINUATION,   /* a later candidate, continuing a stream that broke */
    DISPATCH_ATTEMPT_KINDS
} dispatch_attempt_kind;

/* Where the job's outcome goes.  Exactly one of on_response, on_stream_end or
 * on_error ends a job; on_chunk comes before on_stream_end or a committed
 * on_error.  backend is the index of the backend answering; reason is why it
 * is that one (static: the decision's reason, "fallback" or "hedge").  The
 * sink must not free the job from inside these callbacks. */
typedef struct dispatch_sink {
    /* Non-streaming success; the sink takes ownership of body. */
    void (*on_response)(void *ud, int backend, const char *reason, struct cJSON *body);
    /* One valid stream chunk (borrowed; may be modified). */
    void (*on_chunk)(void *ud, int backend, const char *reason, struct cJSON *chunk);
    void (*on_stream_end)(void *ud);
    /* backend is the last one tried (-1 if none was). */
    void (*on_error)(void *ud, const api_error *e, bool committed, int backend);
    /* An attempt on backend has started; for accounting only. */
    void (*on_attempt)(void *ud, int backend, dispatch_attempt_kind kind);
    /* Optional (issue 17).  Every candidate of what the request needs
     * (router_decision.needed) failed before its first byte and the job is
     * about to fall back to a smaller tier: true when the sink answers
     * instead (from the answer cache); the job then ends with no further
     * callback. */
    bool (*on_need_lost)(void *ud);
    /* Optional (issue 15).  The stream from backend `from` broke: the text
     * its client has so far, in the words of backend `to` (masked when `to`
     * gets the masked request), valid until the next call or the job's
     * end; NULL when the answer cannot be continued by text (a tool call
     * was under way, several choices, out of memory); DISPATCH_CONT_SKIP
     * when this candidate must not continue it but a later one may (its
     * text would show the candidate what privacy keeps from it). */
    const char *(*on_continue)(void *ud, int from, int to, size_t *len);
    /* Optional (issue 15).  How one continuation went: outcome is
     * "completed", "broken" (it broke in turn), "refused" (a 4xx, or it
     * started over) or "failed" (any other failure before its first
     * byte); `to` is -1 with outcome "unavailable" when no candidate could
     * continue, or "closed" when on_whole_turn ended the turn.  why is the
     * failure that called for it. */
    void (*on_continued)(void *ud, int from, int to, const char *outcome, const char *why);
    /* Optional (issue 15).  An attempt on backend skipped n malformed
     * events in its stream (n > 0), reported when it ends. */
    void (*on_malformed)(void *ud, int backend, int n);
    /* Optional (issue 15).  A stream broke: true when what the client has
     * is a whole turn all the same (complete tool calls, which no backend
     * continues as text), and the job ends as an answer whose stream
     * on_stream_end closes; the continuation's outcome is "closed". */
    bool (*on_whole_turn)(void *ud);
} dispatch_sink;

/* on_continue's "not this candidate": compared by address, never read. */
extern const char dispatch_cont_skip[];
#define DISPATCH_CONT_SKIP dispatch_cont_skip

/* The job's world is two things, both replaceable by a test: the loop,
 * whose clock and timers it uses (a test moves the clock with
 * evloop_advance), and ops (copied), which start, cancel and pause the
 * transfers of its attempts (upstream_ops_of() here, scripted transfers in
 * tests/unit/test_dispatch.c).  Nothing else reaches outside. */
dispatch *dispatch_new(const config *cfg, backends *health, struct evloop *loop, const upstream_ops *ops);
void dispatch_free(dispatch *d);

/* Starts a job for req (borrowed until the job ends) following dec, to end
 * within deadline_ms.  Returns NULL when out of memory. */
dispatch_job *dispatch_start(dispatch *d, const chatreq *req, const router_decision *dec,
                             int deadline_ms, const dispatch_sink *sink, void *ud);
/* Stops the job if still running (no more callbacks) and frees it. */
void dispatch_job_free(dispatch_job *j);
/* Backpressure: pauses or resumes the transfer of the attempt whose answer
 * the client is reading (nothing before commitment); a continuation that
 * commits while the client is held off starts paused. */
void dispatch_job_pause(dispatch_job *j, bool paused);
/* Attempts made so far, retries and hedges included. */
int dispatch_job_attempts(const dispatch_job *j);
/* Microseconds the job has spent waiting for backends before its first
 * byte: with an attempt in flight or a retry's back-off pending.  What is
 * left of a request's time is the gateway's own (docs/operations.md). */
unsigned long long dispatch_job_wait_us(const dispatch_job *j);


#endif
