/* dispatch: carrying out a routing decision.
 *
 * A job tries the decision's candidate backends in order.  Any failure before
 * the first chunk has been handed to the sink (connect error, time-outs, 429,
 * 5xx, a malformed or empty answer, a stream that dies before its first chunk)
 * moves on to the next candidate, all within the request's deadline.  Once a
 * chunk has gone to the sink the job is committed: a later failure becomes
 * on_error with committed = true, which the caller turns into an error event.
 * A client error from the backend (400 and friends, but not 429) is returned
 * as it is, normalised to the OpenAI error shape: another tier would refuse
 * the same request.
 *
 * dispatch speaks the OpenAI response format (it must, to know a valid chunk
 * from a malformed one) but not HTTP towards the client: the sink does that. */
#ifndef TIERGATE_DISPATCH_H
#define TIERGATE_DISPATCH_H

#include <stdbool.h>

#include "apierror.h"
#include "backends.h"
#include "config.h"
#include "request.h"
#include "router.h"

struct cJSON;
struct evloop;
struct upstream;

typedef struct dispatch dispatch;
typedef struct dispatch_job dispatch_job;

/* Where the job's outcome goes.  Exactly one of on_response, on_stream_end or
 * on_error ends a job; on_chunk comes before on_stream_end or a committed
 * on_error.  backend is the index of the backend answering; fell_back is true
 * when it is not the first candidate.  The sink must not free the job from
 * inside these callbacks. */
typedef struct dispatch_sink {
    /* Non-streaming success; the sink takes ownership of body. */
    void (*on_response)(void *ud, int backend, bool fell_back, struct cJSON *body);
    /* One valid stream chunk (borrowed; may be modified). */
    void (*on_chunk)(void *ud, int backend, bool fell_back, struct cJSON *chunk);
    void (*on_stream_end)(void *ud);
    /* backend is the last one tried (-1 if none was). */
    void (*on_error)(void *ud, const api_error *e, bool committed, int backend);
} dispatch_sink;

dispatch *dispatch_new(const config *cfg, backends *health, struct evloop *loop,
                       struct upstream *up);
void dispatch_free(dispatch *d);

/* Starts a job for req (borrowed until the job ends) following dec.  Returns
 * NULL when out of memory. */
dispatch_job *dispatch_start(dispatch *d, const chatreq *req, const router_decision *dec,
                             const dispatch_sink *sink, void *ud);
/* Stops the job if still running (no more callbacks) and frees it. */
void dispatch_job_free(dispatch_job *j);
/* Attempts made so far (1 = the first candidate answered). */
int dispatch_job_attempts(const dispatch_job *j);
/* Microseconds from the start of the job to its first byte from a backend
 * that was used, or 0. */
unsigned long long dispatch_job_ttfb_us(const dispatch_job *j);

#endif
