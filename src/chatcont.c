/* chatcont: see chatcont.h.
 *
 * The text kept is what the client received, not what a backend sent: the
 * two differ under privacy's redact mode (placeholders restored) and by
 * the part of a placeholder a restore stream was holding back when the
 * stream broke, which the client never got.  privacy_continuation_text()
 * turns it into the next backend's words.  Keeping it costs one copy of
 * the answer's text per streamed request; the answer is bounded by the
 * backend's own limits, and the copy is what makes an exact join possible.
 *
 * Characters are counted as UTF-8 sequence starts: the relayed text is
 * always whole characters (a JSON string cannot hold half of one). */
#include "chatcont.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"

static const cJSON *get(const cJSON *o, const char *key) { return cJSON_GetObjectItemCaseSensitive(o, key); }

/* The tool-call deltas of one chunk: each call's name and arguments. */
static void note_calls(chatcont *cc, const cJSON *calls) {
    const cJSON *tc;
    cJSON_ArrayForEach(tc, calls) {
        const cJSON *idx = get(tc, "index"), *fn = get(tc, "function");
        int i = cJSON_IsNumber(idx) ? idx->valueint : -1;
        if (i < 0 || i >= CHATCONT_MAX_CALLS) {
            cc->unclosable = true;
            continue;
        }
        if (i >= cc->ncalls) cc->ncalls = i + 1;
        const char *name = cJSON_GetStringValue(get(fn, "name"));
        if (name && *name) cc->named[i] = true;
        const char *a = cJSON_GetStringValue(get(fn, "arguments"));
        if (a && *a && !buf_append(&cc->args[i], a, strlen(a), 0)) cc->unclosable = true;   /* out of memory */
    }
}

void chatcont_chunk(chatcont *cc, const cJSON *chunk) {
    const cJSON *c;
    cc->folded = false;
    cJSON_ArrayForEach(c, get(chunk, "choices")) {
        const cJSON *idx = get(c, "index"), *delta = get(c, "delta"), *calls = get(delta, "tool_calls");
        if (cJSON_IsNumber(idx) && idx->valueint != 0) cc->not_text = cc->unclosable = true;
        if (calls) {
            cc->not_text = true;
            note_calls(cc, calls);
        }
        const char *t = cJSON_GetStringValue(get(delta, "content"));
        if (t && *t && cc->ncalls > 0) cc->unclosable = true;
        if (t && *t && !buf_append(&cc->sent, t, strlen(t), 0)) cc->not_text = true;   /* out of memory */
    }
}

bool chatcont_whole_turn(const chatcont *cc) {
    if (cc->unclosable || cc->ncalls == 0) return false;
    for (int i = 0; i < cc->ncalls; i++) {
        size_t n;
        const char *a = buf_data(&cc->args[i], &n);
        const char *end = a;
        cJSON *o = cc->named[i] && a ? cJSON_ParseWithLengthOpts(a, n, &end, false) : NULL;
        bool whole = cJSON_IsObject(o);
        cJSON_Delete(o);
        for (; whole && end < a + n; end++)   /* nothing but white space after it */
            whole = *end == ' ' || *end == '\t' || *end == '\r' || *end == '\n';
        if (!whole) return false;
    }
    return true;
}

static size_t chars(const char *s, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += ((unsigned char)s[i] & 0xC0) != 0x80;
    return k;
}

const char *chatcont_prefix(chatcont *cc, privacy_call *priv, const config_backend *to, usage_meter *meter,
                            const config_price *price, const feature_message *msgs, size_t nmsgs, size_t *len) {
    if (cc->not_text) return NULL;
    if (!cc->folded) {   /* once per broken attempt, however many candidates are asked */
        usage u = usage_meter_result(meter, msgs, nmsgs);
        cc->prior.input_tokens += u.input_tokens;
        cc->prior.output_tokens += u.output_tokens;
        cc->prior.input_estimated |= u.input_estimated;
        cc->prior.output_estimated |= u.output_estimated;
        cc->prior_cost += usage_cost(price, &u);
        usage_meter_init(meter);
        cc->folded = true;
    }
    size_t n;
    const char *s = buf_data(&cc->sent, &n);
    free(cc->prefix);
    cc->prefix = NULL;
    int rc = privacy_continuation_text(priv, to, s ? s : "", s ? n : 0, &cc->prefix, len);
    if (rc < 0) return NULL;
    if (rc > 0) return DISPATCH_CONT_SKIP;
    cc->after_chars = chars(s ? s : "", s ? n : 0);
    return cc->prefix;
}

void chatcont_outcome(chatcont *cc, metrics *m, int from, int to, const char *to_name, const char *outcome,
                      const char *why) {
    metrics_continuation(m, from, to, outcome);
    if (!cc->why[0]) snprintf(cc->why, sizeof cc->why, "%s", why);
    cc->outcome = outcome;
    if (strcmp(outcome, "completed") != 0) cc->errors = true;
    if (strcmp(outcome, "unavailable") == 0 || strcmp(outcome, "closed") == 0) return;   /* no backend took it */
    cc->hops++;
    snprintf(cc->by, sizeof cc->by, "%s", to_name);
}

/* Adds n to the number o[key], when it is one. */
static void add_to(cJSON *o, const char *key, long long n) {
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsNumber(v)) cJSON_SetNumberValue(v, v->valuedouble + (double)n);
}

void chatcont_usage(const chatcont *cc, cJSON *chunk) {
    cJSON *u = cJSON_GetObjectItemCaseSensitive(chunk, "usage");
    if (!cJSON_IsObject(u) || !(cc->prior.input_tokens || cc->prior.output_tokens)) return;
    add_to(u, "prompt_tokens", cc->prior.input_tokens);
    add_to(u, "completion_tokens", cc->prior.output_tokens);
    add_to(u, "total_tokens", cc->prior.input_tokens + cc->prior.output_tokens);
}

void chatcont_account(const chatcont *cc, server_exchange *ex, usage *u, double *cost) {
    if (cc->malformed) server_ex_log_int(ex, "malformed_events", cc->malformed);
    if (cc->outcome) {
        server_ex_log_str(ex, "continuation", cc->outcome);
        server_ex_log_str(ex, "continued_why", cc->why);
        server_ex_log_int(ex, "continued_after_chars", (long long)cc->after_chars);
        if (cc->by[0]) server_ex_log_str(ex, "continued_by", cc->by);
    }
    u->input_tokens += cc->prior.input_tokens;
    u->output_tokens += cc->prior.output_tokens;
    u->input_estimated |= cc->prior.input_estimated;
    u->output_estimated |= cc->prior.output_estimated;
    *cost += cc->prior_cost;
}

bool chatcont_storable(const chatcont *cc) { return !cc->errors; }

void chatcont_free(chatcont *cc) {
    buf_free(&cc->sent);
    for (int i = 0; i < CHATCONT_MAX_CALLS; i++) buf_free(&cc->args[i]);
    free(cc->prefix);
    cc->prefix = NULL;
}
