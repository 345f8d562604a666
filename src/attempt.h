/* attempt: one request to one backend, and the judgement of what came back.
 *
 * An attempt sends the client's request in the backend's dialect, reads the
 * answer, and sorts it into one of four ends: answered, failed before
 * anything reached the client (the caller may retry or fall back), a client
 * error the backend refused (400/413/422), or broken after commitment (a
 * stream that died mid-way).  Nothing reaches the caller's client-facing
 * hooks until the answer has proved valid: a complete JSON body, or a first
 * well-formed chunk.  Retries, fallbacks, hedging and deadlines are the
 * caller's (dispatch); an attempt knows one backend and one transfer. */
#ifndef TIERGATE_ATTEMPT_H
#define TIERGATE_ATTEMPT_H

#include <stdbool.h>
#include <stddef.h>

#include "apierror.h"
#include "config.h"
#include "request.h"
#include "upstream.h"

struct cJSON;
struct evloop;

typedef struct attempt attempt;

typedef enum {
    ATTEMPT_ANSWERED,       /* the answer was delivered through the hooks */
    ATTEMPT_FAILED,         /* nothing was delivered; see kind and why */
    ATTEMPT_CLIENT_ERROR,   /* the backend refused the request itself; see error */
    ATTEMPT_BROKEN          /* a stream failed after its first chunk; see why */
} attempt_end;

/* Why an attempt failed, which decides the final status when all fail:
 * could not reach it (503), bad answer (502), too slow (504). */
typedef enum { ATTEMPT_FAIL_NONE, ATTEMPT_UNREACHABLE, ATTEMPT_BAD, ATTEMPT_TIMEOUT } attempt_fail;

typedef struct attempt_result {
    attempt_end end;
    attempt_fail kind;
    const char *why;              /* short reason, "" when answered */
    long status;                  /* the backend's HTTP status, 0 if none */
    bool retryable;               /* a retry on the same backend may help */
    bool context_exceeded;        /* a client error a larger context could fix */
    int retry_after_ms;           /* the backend's Retry-After, or -1 */
    const upstream_report *up;    /* the transfer's timings */
    api_error error;              /* ATTEMPT_CLIENT_ERROR: in the OpenAI shape */
    int malformed;                /* malformed events skipped after commitment */
    bool restarted;               /* a continuation that started the answer over */
} attempt_result;

/* Issue 15: the text a continuation goes on from, in the backend's own
 * words (masked for a tier that gets the masked request); borrowed. */
typedef struct attempt_prefix {
    const char *text;
    size_t len;
} attempt_prefix;

/* The caller's side.  on_commit comes once, before the first on_chunk or the
 * on_response; on_chunk and on_commit may run inside libcurl, so they may
 * cancel other attempts but not start any or free this one.  on_end comes
 * exactly once unless attempt_free() came first, outside libcurl, and may
 * free the attempt. */
typedef struct attempt_hooks {
    void (*on_commit)(void *ud, attempt *a);
    /* A complete valid non-streamed answer; ownership of body passes. */
    void (*on_response)(void *ud, attempt *a, struct cJSON *body);
    /* A valid stream chunk (borrowed; may be modified). */
    void (*on_chunk)(void *ud, attempt *a, struct cJSON *chunk);
    void (*on_end)(void *ud, attempt *a, const attempt_result *r);
} attempt_hooks;

/* Starts an attempt of req (borrowed) on backend b (borrowed), all of it
 * within left_ms; with prefix (borrowed, NULL for a fresh answer) it asks b
 * to continue that text in b's continuation dialect, and its stream reaches
 * on_commit only once it proved to continue it (seam.h), without its role
 * delta and without the whitespace the client already has; through ops (borrowed; upstream_ops_of() in the gateway,
 * scripted transfers in tests).  NULL when out of memory. */
attempt *attempt_start(struct evloop *loop, const upstream_ops *ops, const chatreq *req, const config_backend *b,
                       const attempt_prefix *prefix, int left_ms, const attempt_hooks *hooks, void *ud);
/* Stops the attempt if still running (no more hooks) and frees it. */
void attempt_free(attempt *a);
/* Backpressure from the client's side: pauses or resumes the transfer
 * (upstream_pause). */
void attempt_pause(attempt *a, bool paused);

#endif
