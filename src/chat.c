/* chat: from request body to OpenAI-shaped answer.
 *
 * Per request, a chat_call holds what must live until the exchange ends: the
 * parsed request (the dispatch job borrows it), the decision, and the job.
 * The server's on_close is its one place of release, whether the answer was
 * delivered or the client went away; a client that leaves mid-request thus
 * frees the job, which cancels the upstream transfer at once.
 *
 * Rewriting chunks.  Every chunk is parsed (dispatch had to, to validate it)
 * and re-printed with the gateway's id, the answering backend's model name and
 * the object type, so a client sees one consistent stream whatever the
 * backend's quirks (Spark omits "object", Ollama's ids repeat).  Usage is
 * always requested upstream; when the client did not ask for it, the usage
 * chunk is dropped and "usage" removed, because clients that read
 * chunk.choices[0] break on the usage chunk's empty choices.
 *
 * Privacy.  front_decide() (front.h) scans the request once (privacy.h): in local mode the
 * router keeps it on the device tier, and an uncommitted failure becomes a
 * 503 that says privacy kept it there; in redact mode larger tiers get the
 * masked body and their answers are restored here, just before they are
 * printed.  Logs name the kinds found, never a value.
 *
 * Accounting.  Every request that reaches the handler is accounted once, when
 * its exchange closes, whatever ended it: its log fields and its metrics
 * (metrics.h).  Tokens are metered as the answer passes (usage.h), before the
 * usage chunk is dropped, so a stream is counted as exactly as a plain
 * answer; a stream the client or the backend broke off is counted with what
 * reached the client, estimated.  The answer's text is kept only when
 * log.include_text asks for it.
 *
 * Budget.  front_decide() asks the budget (budgetstore.h) whether the client may
 * still spend, and the router leaves the priced backends out when not; a
 * refusal is OpenAI's 429 insufficient_quota with Retry-After at the end of
 * the budget day and X-Should-Retry: false, which the official SDKs obey
 * instead of retrying a quota that will not come back for hours.  The
 * answer's cost is charged when it is accounted, to the budget current then,
 * so a reload never leaves a request holding a budget that is gone.
 *
 * Answer cache (issue 17, cacheserve.h).  chat only calls in, at the points
 * where the request's fate is known: routed (a fresh entry in "always", or
 * the needed tier's circuits all open), the router's 503, dispatch's
 * on_need_lost before it falls back to a smaller tier, an uncommitted 5xx
 * (a stored answer, else the degraded reply), and the answer's chunks and
 * end (collected and stored).  A cached answer is accounted under reason
 * "cache" and the backend that made it, with no tokens and no cost.
 *
 * Continuation (issue 15, chatcont.h).  A stream that broke is continued by
 * dispatch on another backend; chat gives it the text the client has and
 * relays the rest as the same stream, with the first chunk's model. */
#include "chat.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "budgetstore.h"
#include "buf.h"
#include "cacheserve.h"
#include "chatcont.h"
#include "classifier.h"
#include "evloop.h"
#include "front.h"
#include "jsonout.h"
#include "limits.h"
#include "privacy.h"
#include "request.h"
#include "router.h"
#include "usage.h"

struct chat {
    runtime *rt;                 /* the one new requests take; a reference */
    metrics *m;
    budgetstore *budget;         /* main's; NULL without a budget */
    cache *cache;                /* main's; NULL without an answer cache (requests read it at each use) */
    const linkreport *link;      /* main's: the vehicle's link report (issue 15) */
};

typedef struct chat_call {
    chat *c;
    runtime *rt;                 /* the one this request started with; a reference */
    const config *cfg;           /* rt's, for short */
    server_exchange *ex;
    chatreq req;
    privacy_call *priv;
    router_decision dec;
    dispatch_job *job;
    char id[48];
    double created;
    int backend;                 /* the one answering, once its answer or a chunk came; -1 */
    bool stream_started, role_sent, decided;
    bool close_tools;            /* issue 15: the stream broke after whole tool calls */
    metrics *m;
    int route_backend;           /* X-Tiergate-Backend, or -1 for "none" */
    const char *route_reason;    /* X-Tiergate-Reason (static) */
    usage_meter meter;
    buf text;                    /* the answer's text, with log.include_text only */
    cacheserve_call cache;       /* issue 17: the answer cache and the degraded reply */
    int meter_backend;           /* the backend whose answer meter counts; -1 */
    chatcont cont;               /* issue 15: continuing a stream that broke */
} chat_call;

chat *chat_new(runtime *rt, metrics *m) {
    chat *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->rt = runtime_ref(rt);
    c->m = m;
    return c;
}

void chat_set_runtime(chat *c, runtime *rt) {
    runtime *old = c->rt;
    c->rt = runtime_ref(rt);
    runtime_unref(old);
}

void chat_set_budget(chat *c, budgetstore *store) { c->budget = store; }

void chat_set_cache(chat *c, cache *store) { c->cache = store; }

void chat_set_link(chat *c, const linkreport *link) { c->link = link; }

void chat_free(chat *c) {
    if (!c) return;
    runtime_unref(c->rt);
    free(c);
}

/* ---- /v1/route ---- */

/* "decided_by": the turn the score rests on, whether it is a follow-up that
 * inherits earlier user turns, which ones and at what weight, and the
 * number of tools: what an integrator needs to see why a follow-up went
 * where it went. */
static void add_decided_by(cJSON *o, const classifier_explanation *why, size_t ntools) {
    cJSON *d = cJSON_AddObjectToObject(o, "decided_by");
    cJSON_AddNumberToObject(d, "turn", (double)why->focus.turn);
    cJSON_AddBoolToObject(d, "follow_up", why->focus.follow_up);
    cJSON *ctx = cJSON_AddArrayToObject(d, "context_turns");
    for (size_t i = 0; i < why->focus.ncontext; i++)
        cJSON_AddItemToArray(ctx, cJSON_CreateNumber((double)why->focus.context[i]));
    cJSON_AddNumberToObject(d, "context_weight", why->focus.context_weight);
    cJSON_AddNumberToObject(d, "tools", (double)ntools);
}

void chat_handle_route(server_exchange *ex, void *ctx) {
    const chat *c = ctx;
    const config *cfg = runtime_config(c->rt);
    backends *health = runtime_backends(c->rt);
    chatreq req;
    privacy_call *priv;
    classifier_explanation why;
    router_decision dec;
    int deadline_ms;
    const char *reason;
    langid_lang lang;
    front_env env = {.rt = c->rt, .budget = c->budget, .link = c->link};
    if (front_decide(&env, ex, &req, &priv, &why, &dec, &deadline_ms, &reason, &lang) < 0) return;
    const config_backend *first = &cfg->backends[dec.candidates[0]];
    server_ex_set_route(ex, tier_name(dec.tier), first->name, dec.reason, dec.score);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "tier", tier_name(dec.tier));
    cJSON_AddStringToObject(o, "backend", first->name);
    cJSON_AddStringToObject(o, "model", first->model);
    cJSON_AddStringToObject(o, "reason", dec.reason);
    cJSON_AddNumberToObject(o, "score", dec.score);
    cJSON_AddStringToObject(o, "lang", langid_code(lang));
    cJSON_AddBoolToObject(o, "lang_learned", classifier_learned(runtime_classifier(c->rt), lang));
    cJSON_AddStringToObject(o, "unknown_language", unknown_language_names[cfg->unknown_language]);
    cJSON_AddNumberToObject(o, "threshold", cfg->threshold);
    cJSON_AddNumberToObject(o, "cloud_threshold", cfg->cloud_threshold);
    cJSON_AddNumberToObject(o, "bias", why.bias);
    add_decided_by(o, &why, req.ntools);
    cJSON *f = cJSON_AddArrayToObject(o, "features");
    for (size_t i = 0; i < why.n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", why.top[i].name);
        cJSON_AddNumberToObject(e, "contribution", why.top[i].contribution);
        if (why.top[i].turn >= 0) cJSON_AddNumberToObject(e, "turn", (double)why.top[i].turn);
        cJSON_AddItemToArray(f, e);
    }
    cJSON *pv = cJSON_AddObjectToObject(o, "privacy");
    cJSON_AddStringToObject(pv, "mode", privacy_mode_name(cfg->privacy));
    cJSON_AddItemToObject(pv, "found", privacy_kinds_json(cfg, privacy_found(priv)));
    cJSON *cand = cJSON_AddArrayToObject(o, "candidates");
    for (size_t i = 0; i < dec.ncandidates; i++) {
        const config_backend *b = &cfg->backends[dec.candidates[i]];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "backend", b->name);
        cJSON_AddStringToObject(e, "tier", tier_name(b->tier));
        size_t bi = (size_t)dec.candidates[i];
        cJSON_AddStringToObject(e, "health", backends_health_name(backends_health(health, bi)));
        cJSON_AddStringToObject(e, "circuit", circuit_state_name(backends_circuit(health, bi)));
        cJSON_AddNumberToObject(e, "est_first_byte_ms", backends_est_first_byte_ms(health, bi));
        cJSON_AddItemToArray(cand, e);
    }
    chatreq_free(&req);
    privacy_call_free(priv);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (s) server_ex_reply(ex, 200, "application/json", s, strlen(s));
    else server_ex_fail_oom(ex);
}

/* ---- /v1/chat/completions: the sink of the dispatch job ---- */

/* ---- issue 17: the answer cache and the degraded reply (cacheserve.h) ---- */

static cacheserve_reply reply_of(chat_call *call) {
    return (cacheserve_reply){call->ex, &call->req, call->id, call->created};
}

/* front_env.rescue: no backend can take the request (the router's 503): a
 * stored answer, else the degraded reply. */
static bool rescue(void *ud, const chatreq *req, const privacy_call *priv) {
    chat_call *call = ud;
    cacheserve_begin(&call->cache, &call->c->cache, call->cfg, req, privacy_found(priv) != 0,
                     server_ex_client(call->ex), &call->dec);
    cacheserve_reply r = reply_of(call);
    return cacheserve_stale(&call->cache, &r) || cacheserve_degraded(&call->cache, &r);
}

static bool on_need_lost(void *ud) {
    chat_call *call = ud;
    cacheserve_reply r = reply_of(call);
    return cacheserve_stale(&call->cache, &r);
}

/* A continued answer is stored only when every continuation went cleanly,
 * under the backend that finished it (chatcont.h). */
static void store_answer(chat_call *call) {
    if (!chatcont_storable(&call->cont)) return;
    usage u = usage_meter_result(&call->meter, call->req.msgs, call->req.nmessages);
    cacheserve_store(&call->cache, call->meter_backend, &u);
}

/* The X-Tiergate-* headers, remembered for the accounting; backend -1 is "none". */
static void set_route(chat_call *call, int backend, const char *reason) {
    const config_backend *b = backend >= 0 ? &call->cfg->backends[backend] : NULL;
    server_ex_set_route(call->ex, b ? tier_name(b->tier) : "none", b ? b->name : "none", reason, call->dec.score);
    call->route_backend = backend;
    call->route_reason = reason;
}

/* With log.include_text: the text of each choice, as the client gets it. */
static void keep_text(chat_call *call, const cJSON *answer) {
    if (!call->cfg->log_include_text) return;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(answer, "choices")) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(c, "message");
        if (!m) m = cJSON_GetObjectItemCaseSensitive(c, "delta");
        const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "content"));
        if (t) buf_append(&call->text, t, strlen(t), 0);
    }
}

/* Sets o[key] in place when present, so the backend's field order survives. */
static void set_field(cJSON *o, const char *key, cJSON *v) {
    if (!v) return;
    if (cJSON_GetObjectItemCaseSensitive(o, key)) cJSON_ReplaceItemInObjectCaseSensitive(o, key, v);
    else cJSON_AddItemToObject(o, key, v);
}

static void stamp(chat_call *call, cJSON *o, const char *object, int backend) {
    set_field(o, "id", cJSON_CreateString(call->id));
    set_field(o, "object", cJSON_CreateString(object));
    if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, "created")))
        set_field(o, "created", cJSON_CreateNumber(call->created));
    set_field(o, "model", cJSON_CreateString(call->cfg->backends[backend].model));
}

static void on_response(void *ud, int backend, const char *reason, cJSON *body) {
    chat_call *call = ud;
    set_route(call, backend, reason);
    call->backend = call->meter_backend = backend;
    usage_meter_add(&call->meter, body);
    privacy_restore_response(call->priv, &call->cfg->backends[backend], body);
    keep_text(call, body);
    cacheserve_response(&call->cache, body);
    stamp(call, body, "chat.completion", backend);
    size_t n;
    char *s = jsonout_print(body, NULL, NULL, &n);
    cJSON_Delete(body);
    if (!s) {
        server_ex_fail_oom(call->ex);
        return;
    }
    server_ex_reply(call->ex, 200, "application/json", s, n);
    store_answer(call);
}

/* One SSE event of the stream: "data: <chunk>" and a blank line. */
static void write_event(chat_call *call, const cJSON *chunk) {
    size_t n;
    char *ev = jsonout_print(chunk, "data: ", "\n\n", &n);
    if (ev) server_ex_stream_write(call->ex, ev, n);
    else server_ex_fail_oom(call->ex);     /* a lost event: the stream cannot go on */
    free(ev);
}

/* The stream's response, once: at its first event, or at its end or its
 * failure when every chunk before was dropped (a usage chunk first, for a
 * client that did not ask for usage). */
static bool begin_stream(chat_call *call) {
    if (call->stream_started) return true;
    if (server_ex_stream_begin(call->ex) < 0) return false;
    call->stream_started = true;
    return true;
}

static void on_chunk(void *ud, int backend, const char *reason, cJSON *chunk) {
    chat_call *call = ud;
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(chunk, "choices");
    bool usage_only = cJSON_GetArraySize(choices) == 0;
    usage_meter_add(&call->meter, chunk);
    call->meter_backend = backend;
    if (!call->req.include_usage) {
        if (usage_only) return;
        cJSON_DeleteItemFromObjectCaseSensitive(chunk, "usage");
    }
    chatcont_usage(&call->cont, chunk);
    if (!call->stream_started) set_route(call, backend, reason);
    if (!begin_stream(call)) return;
    if (!call->role_sent && !usage_only) {
        /* The SDKs' stream helpers insist that the first delta names the role. */
        cJSON *delta = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(choices, 0), "delta");
        if (cJSON_IsObject(delta) && !cJSON_HasObjectItem(delta, "role"))
            cJSON_AddStringToObject(delta, "role", "assistant");
        call->role_sent = true;
    }
    /* A continued stream keeps the model of its first chunk: one answer,
     * one name; the log line says who continued it. */
    if (call->backend < 0) call->backend = backend;
    privacy_restore_chunk(call->priv, &call->cfg->backends[backend], chunk);
    chatcont_chunk(&call->cont, chunk);
    keep_text(call, chunk);
    cacheserve_chunk(&call->cache, chunk);
    stamp(call, chunk, "chat.completion.chunk", call->backend);
    write_event(call, chunk);
}

/* The end of a turn whose stream broke after whole tool calls: the finish
 * chunk, and the usage chunk when the client asked for it (estimated: the
 * backend's never came). */
static void close_tool_turn(chat_call *call) {
    cJSON *fin = cJSON_CreateObject(), *choice = cJSON_CreateObject();
    cJSON_AddNumberToObject(choice, "index", 0);
    cJSON_AddItemToObject(choice, "delta", cJSON_CreateObject());
    cJSON_AddStringToObject(choice, "finish_reason", "tool_calls");
    cJSON_AddItemToArray(cJSON_AddArrayToObject(fin, "choices"), choice);
    stamp(call, fin, "chat.completion.chunk", call->backend);
    write_event(call, fin);
    cJSON_Delete(fin);
    if (!call->req.include_usage) return;
    usage u = usage_meter_result(&call->meter, call->req.msgs, call->req.nmessages);
    cJSON *chunk = cJSON_CreateObject(), *o = cJSON_CreateObject();
    cJSON_AddArrayToObject(chunk, "choices");
    cJSON_AddNumberToObject(o, "prompt_tokens", (double)u.input_tokens);
    cJSON_AddNumberToObject(o, "completion_tokens", (double)u.output_tokens);
    cJSON_AddNumberToObject(o, "total_tokens", (double)(u.input_tokens + u.output_tokens));
    cJSON_AddItemToObject(chunk, "usage", o);
    chatcont_usage(&call->cont, chunk);
    stamp(call, chunk, "chat.completion.chunk", call->backend);
    write_event(call, chunk);
    cJSON_Delete(chunk);
}

static void on_stream_end(void *ud) {
    chat_call *call = ud;
    static const char done[] = "data: [DONE]\n\n";
    if (!begin_stream(call)) return;
    cJSON *rest = privacy_flush_chunk(call->priv);
    if (rest) {
        keep_text(call, rest);
        stamp(call, rest, "chat.completion.chunk", call->backend);
        write_event(call, rest);
        cJSON_Delete(rest);
    }
    if (call->close_tools) close_tool_turn(call);
    server_ex_stream_write(call->ex, done, sizeof done - 1);
    server_ex_stream_end(call->ex);
    store_answer(call);
}

static void on_error(void *ud, const api_error *e, bool committed, int backend) {
    chat_call *call = ud;
    server_ex_log_str(call->ex, "error", e->message);
    if (committed) {
        if (begin_stream(call)) server_ex_stream_fail(call->ex, e);
        return;
    }
    cacheserve_reply r = reply_of(call);
    if (e->status >= 500 && (cacheserve_stale(&call->cache, &r) || cacheserve_degraded(&call->cache, &r))) return;
    if (privacy_device_only(call->priv) && e->status >= 500) {
        /* The client must learn that a larger tier could have answered. */
        api_error pe;
        char kinds[128];
        privacy_kinds_str(call->cfg, privacy_found(call->priv), kinds, sizeof kinds);
        api_error_set(&pe, 503, "server_error", "backend_unavailable", NULL,
                      "The request contains personal data (%s) and privacy.mode is \"local\", so only the "
                      "device tier may answer it, and it could not: %.400s", kinds, e->message);
        set_route(call, -1, "privacy");
        server_ex_reply_error(call->ex, &pe);
        return;
    }
    set_route(call, backend, backend < 0 || e->status >= 500 ? "failed" : call->dec.reason);
    server_ex_reply_error(call->ex, e);
}

static void on_attempt(void *ud, int backend, dispatch_attempt_kind kind) {
    chat_call *call = ud;
    const config_backend *b = &call->cfg->backends[backend];
    metrics_attempt(call->m, metrics_backend(call->m, b->name, b->tier), kind);
}

/* A client slower than the backend: its transfer waits (server.h). */
static void on_pressure(void *ud, bool hold_off) {
    chat_call *call = ud;
    if (call->job) dispatch_job_pause(call->job, hold_off);
}

/* ---- issue 15: continuation (chatcont.h) ---- */

static int slot_of(const chat_call *call, int backend) {
    const config_backend *b = &call->cfg->backends[backend];
    return metrics_backend(call->m, b->name, b->tier);
}

static const char *on_continue(void *ud, int from, int to, size_t *len) {
    chat_call *call = ud;
    return chatcont_prefix(&call->cont, call->priv, &call->cfg->backends[to], &call->meter,
                           &call->cfg->backends[from].price, call->req.msgs, call->req.nmessages, len);
}

static void on_continued(void *ud, int from, int to, const char *outcome, const char *why) {
    chat_call *call = ud;
    chatcont_outcome(&call->cont, call->m, slot_of(call, from), to >= 0 ? slot_of(call, to) : METRICS_NO_BACKEND,
                     to >= 0 ? call->cfg->backends[to].name : "none", outcome, why);
}

static void on_malformed(void *ud, int backend, int n) {
    chat_call *call = ud;
    call->cont.malformed += n;
    metrics_malformed(call->m, slot_of(call, backend), n);
}

/* A stream that broke after whole tool calls: on_stream_end writes the
 * finish the backend never sent. */
static bool on_whole_turn(void *ud) {
    chat_call *call = ud;
    call->close_tools = chatcont_whole_turn(&call->cont);
    return call->close_tools;
}

static const dispatch_sink chat_sink = {on_response,  on_chunk,    on_stream_end, on_error,     on_attempt,
                                        on_need_lost, on_continue, on_continued,  on_malformed, on_whole_turn};

/* ---- accounting, when the exchange closes ---- */

/* What the answer took and cost; savings at the first cloud backend's
 * price when a smaller tier answered. */
static void account_answer(chat_call *call, metrics_request *r) {
    const config_backend *b = &call->cfg->backends[call->meter_backend];
    r->answered = true;
    r->tokens = usage_meter_result(&call->meter, call->req.msgs, call->req.nmessages);
    r->cost = usage_cost(&b->price, &r->tokens);
    chatcont_account(&call->cont, call->ex, &r->tokens, &r->cost);
    for (size_t i = 0; i < call->cfg->nbackends && b->tier != TIER_CLOUD; i++)
        if (call->cfg->backends[i].tier == TIER_CLOUD) {
            r->savings = usage_cost(&call->cfg->backends[i].price, &r->tokens);
            break;
        }
    server_ex_log_int(call->ex, "prompt_tokens", r->tokens.input_tokens);
    server_ex_log_int(call->ex, "completion_tokens", r->tokens.output_tokens);
    server_ex_log_raw(call->ex, "usage_estimated",
                      r->tokens.input_estimated || r->tokens.output_estimated ? "true" : "false");
    char cost[32];
    snprintf(cost, sizeof cost, "%.10g", r->cost);   /* finer than any price */
    server_ex_log_raw(call->ex, "cost", cost);
    if (call->c->budget) budgetstore_charge(call->c->budget, server_ex_client(call->ex), r->cost);
}

/* The gateway's added time is its time from the handler's start to the
 * response handed over (or to now, when none was), less the time the job
 * waited for backends before its first byte (dispatch_job_wait_us). */
static void account(chat_call *call) {
    server_exchange *ex = call->ex;
    server_ex_times t = server_ex_timing(ex);
    unsigned long long now = evloop_clock_us(), wait = call->job ? dispatch_job_wait_us(call->job) : 0;
    unsigned long long own = (t.replied_us ? t.replied_us : now) - t.handled_us;
    metrics_request r = {
        .slot = METRICS_NO_BACKEND,
        .reason = call->route_reason,
        .status = server_ex_status(ex),
        .latency_us = now - t.arrived_us,
        .ttfb_us = t.replied_us ? t.replied_us - t.arrived_us : 0,
        .added_us = own > wait ? own - wait : 0,
    };
    if (call->route_backend >= 0) {
        const config_backend *b = &call->cfg->backends[call->route_backend];
        r.slot = metrics_backend(call->m, b->name, b->tier);
    }
    if (call->cache.reason) {   /* issue 17: the cache or the degraded reply answered */
        r.reason = call->cache.reason;
        r.slot = call->cache.backend[0] ? metrics_backend(call->m, call->cache.backend, call->cache.tier)
                                        : METRICS_NO_BACKEND;
    }
    cacheserve_end(&call->cache, ex);
    assert(call->backend < 0 || call->backend == call->route_backend);
    if (call->backend >= 0) account_answer(call, &r);
    if (call->job) server_ex_log_int(ex, "attempts", dispatch_job_attempts(call->job));
    if (r.ttfb_us) server_ex_log_ms(ex, "ttfb_ms", r.ttfb_us);
    server_ex_log_ms(ex, "upstream_ms", wait);
    server_ex_log_ms(ex, "added_ms", r.added_us);
    if (call->cfg->log_include_text && call->decided) {
        size_t n;
        server_ex_log_json(ex, "messages", cJSON_GetObjectItemCaseSensitive(call->req.root, "messages"));
        if (call->backend >= 0) server_ex_log_str(ex, "answer", buf_data(&call->text, &n));
    }
    metrics_request_done(call->m, &r);
}

static void call_close(void *ud, bool client_gone) {
    (void)client_gone;
    chat_call *call = ud;
    account(call);
    dispatch_job_free(call->job);
    if (call->decided) {
        chatreq_free(&call->req);
        privacy_call_free(call->priv);
    }
    buf_free(&call->text);
    chatcont_free(&call->cont);
    runtime_unref(call->rt);
    free(call);
}

void chat_handle_completions(server_exchange *ex, void *ctx) {
    chat *c = ctx;
    chat_call *call = calloc(1, sizeof *call);
    if (!call) {
        server_ex_fail_oom(ex);
        return;
    }
    call->c = c;
    call->rt = runtime_ref(c->rt);
    call->cfg = runtime_config(call->rt);
    call->ex = ex;
    call->m = c->m;
    call->backend = call->route_backend = call->meter_backend = -1;
    call->route_reason = "none";
    usage_meter_init(&call->meter);
    server_ex_on_close(ex, call_close, call);
    call->created = (double)time(NULL);
    snprintf(call->id, sizeof call->id, "chatcmpl-%s", server_ex_request_id(ex) + 4);
    int deadline_ms;
    langid_lang lang;
    front_env env = {.rt = call->rt, .budget = c->budget, .link = c->link, .rescue = rescue, .rescue_ctx = call};
    if (front_decide(&env, ex, &call->req, &call->priv, NULL, &call->dec, &deadline_ms, &call->route_reason,
                     &lang) < 0)
        return;
    call->decided = true;
    set_route(call, call->dec.candidates[0], call->dec.reason);
    /* Issue 17: "always" answers from a fresh entry; an unreachable need from any. */
    cacheserve_begin(&call->cache, &c->cache, call->cfg, &call->req, privacy_found(call->priv) != 0,
                     server_ex_client(ex), &call->dec);
    cacheserve_reply r = reply_of(call);
    if (cacheserve_fresh(&call->cache, &r) || (call->dec.needed_out && cacheserve_stale(&call->cache, &r)))
        return;
    call->job = dispatch_start(runtime_dispatch(call->rt), &call->req, &call->dec, deadline_ms, &chat_sink, call);
    if (!call->job) server_ex_fail_oom(ex);
    else server_ex_on_pressure(ex, on_pressure, call);
}
