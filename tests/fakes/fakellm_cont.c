/*
 * fakellm's continuation dialects: a request that ends with an assistant
 * message asks the model to continue that text.  Providers spell the ask in
 * four ways (docs/resilience.md, "Continuation dialects"):
 *   prefill                 the trailing assistant message alone (llama-server,
 *                           Ollama's templates)
 *   prefix                  "prefix": true on it, at /beta/ (DeepSeek)
 *   partial                 "partial": true on it (DashScope, Moonshot)
 *   continue_final_message  body "continue_final_message": true and
 *                           "add_generation_prompt": false (vLLM, SGLang)
 * All of them answer only the new text.
 *
 * The fake speaks one dialect per request (the "dialect" fault, default
 * --continuation) and is stricter than the real servers on purpose: it
 * refuses with a 400, in that provider's error shape, any request whose shape
 * is not exactly its dialect, also where a real server would ignore the
 * stray marker and silently answer afresh.  A gateway sending the wrong
 * dialect so fails a test instead of splicing a new answer onto an old one.
 * The one exception is "none" (OpenAI and the like): a plain trailing
 * assistant message is history there, so the answer starts over ("fresh").
 *
 * The answer to continue is the fake's deterministic full answer for the
 * request, so a continuation is exactly the full answer's rest and fresh +
 * continued answers can be compared byte for byte.  A prefix that is not the
 * start of that answer (another tier's words, say) is answered from the
 * start ("unmatched"), as a model that ignores an unfamiliar prefix would.
 */
#include "fakellm.h"

#include <stdlib.h>
#include <string.h>

#define DEEPSEEK_DOC "https://api-docs.deepseek.com/guides/chat_prefix_completion"

static bool flag(const cJSON *o, const char *key)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static const char *role_of(const cJSON *m)
{
    const char *r = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "role"));
    return r ? r : "";
}

/* Why a request of this shape is refused by a fake speaking dialect d, or
 * NULL.  The messages are the providers' own where known (see the doc). */
static const char *refusal(int d, const cJSON *req, const struct request *rq, const cJSON *last,
                           const cJSON *before_last)
{
    bool trailing = strcmp(role_of(last), "assistant") == 0;
    bool cfm = flag(req, "continue_final_message"), prefix = trailing && flag(last, "prefix");
    bool partial = trailing && flag(last, "partial");
    const cJSON *agp = cJSON_GetObjectItemCaseSensitive(req, "add_generation_prompt");
    switch (d) {
    case DIALECT_PREFILL:
        if (cfm || prefix || partial)
            return "the fake speaks prefill: a trailing assistant message is continued as it is, "
                   "without prefix, partial or continue_final_message";
        if (before_last && strcmp(role_of(before_last), "assistant") == 0)
            return "Cannot have 2 or more assistant messages at the end of the list.";
        if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(last, "tool_calls")) > 0)
            return "Cannot continue an assistant message that contains tool calls.";
        if (flag(cJSON_GetObjectItemCaseSensitive(req, "chat_template_kwargs"), "enable_thinking"))
            return "Assistant response prefill is incompatible with enable_thinking.";
        return NULL;
    case DIALECT_PREFIX:
        if (cfm || partial)
            return "the fake speaks prefix: set \"prefix\": true on the last assistant message";
        if (!prefix)
            return "The last message must be a user message, or an assistant message with prefix mode on "
                   "(refer to " DEEPSEEK_DOC ").";
        if (strncmp(rq->target, "/beta/", 6) != 0)
            return "prefix is only available when using beta api (set base_url=\"https://api.deepseek.com/beta\")";
        return NULL;
    case DIALECT_PARTIAL:
        if (cfm || prefix || !partial)
            return "the fake speaks partial: the last message must be a user or tool message, "
                   "or an assistant message with \"partial\": true";
        return NULL;
    case DIALECT_CFM:
        if (cfm && !cJSON_IsFalse(agp))
            return "Cannot set both `continue_final_message` and `add_generation_prompt` to True.";
        if (cfm && !trailing)
            return "continue_final_message requires a final assistant message";
        if (!cfm || prefix || partial)
            return "the fake speaks continue_final_message: a trailing assistant message needs "
                   "\"continue_final_message\": true and \"add_generation_prompt\": false";
        return NULL;
    default:
        if (cfm)
            return "Unrecognized request argument supplied: continue_final_message";
        if (prefix || partial)
            return prefix ? "Additional properties are not allowed ('prefix' was unexpected)"
                          : "Additional properties are not allowed ('partial' was unexpected)";
        return NULL;
    }
}

void cont_classify(struct cont *ct, const cJSON *req, const struct request *rq, const struct faults *f)
{
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(req, "messages");
    int n = cJSON_GetArraySize(msgs);
    const cJSON *last = n > 0 ? cJSON_GetArrayItem(msgs, n - 1) : NULL;
    const cJSON *before_last = n > 1 ? cJSON_GetArrayItem(msgs, n - 2) : NULL;
    bool trailing = strcmp(role_of(last), "assistant") == 0;
    bool cfm = flag(req, "continue_final_message");

    memset(ct, 0, sizeof *ct);
    ct->asked = trailing || cfm;
    if (!ct->asked)
        return;
    ct->shape = cfm ? DIALECT_CFM
              : trailing && flag(last, "prefix") ? DIALECT_PREFIX
              : trailing && flag(last, "partial") ? DIALECT_PARTIAL
              : DIALECT_PREFILL;
    ct->prefix = trailing ? message_text(last) : NULL;
    ct->refusal = refusal(f->dialect, req, rq, last, before_last);
    ct->outcome = ct->refusal ? "refused" : NULL;
}

size_t cont_start(struct cont *ct, const char *full, const struct faults *f)
{
    size_t plen = ct->prefix ? strlen(ct->prefix) : 0;
    if (f->dialect == DIALECT_NONE) {
        ct->outcome = "fresh";
        return ct->from = 0;
    }
    switch (f->continuation) {
    case CONT_FAULT_REJECT:
        ct->outcome = "rejected";
        ct->refusal = "simulated: this continuation is refused";
        return ct->from = 0;
    case CONT_FAULT_RESTART:
        ct->outcome = "restarted";
        return ct->from = 0;
    case CONT_FAULT_TRIM:       /* a chat template that trims the message */
        while (plen > 0 && strchr(" \t\r\n", ct->prefix[plen - 1]))
            plen--;
        ct->outcome = "trimmed";
        break;
    default:
        ct->outcome = "continued";
    }
    if (strncmp(full, ct->prefix, plen) != 0) {
        ct->outcome = "unmatched";
        plen = 0;
    }
    return ct->from = plen;
}

enum outcome cont_respond_refusal(struct conn *c, struct request *rq, const struct cont *ct, int dialect)
{
    cJSON *o = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "message", ct->refusal);
    switch (dialect) {
    case DIALECT_PREFILL:              /* llama.cpp: integer code, no param */
        cJSON_AddNumberToObject(e, "code", 400);
        cJSON_AddStringToObject(e, "type", "invalid_request_error");
        break;
    case DIALECT_CFM:                  /* vLLM */
        cJSON_AddStringToObject(e, "type", "BadRequestError");
        cJSON_AddNullToObject(e, "param");
        cJSON_AddNumberToObject(e, "code", 400);
        break;
    default:                           /* OpenAI's shape; each provider's code */
        cJSON_AddStringToObject(e, "type", "invalid_request_error");
        cJSON_AddNullToObject(e, "param");
        if (dialect == DIALECT_NONE)
            cJSON_AddNullToObject(e, "code");
        else
            cJSON_AddStringToObject(e, "code", dialect == DIALECT_PREFIX ? "invalid_request_error"
                                                                        : "invalid_parameter_error");
        if (dialect == DIALECT_PARTIAL) /* DashScope adds its request id */
            cJSON_AddStringToObject(o, "request_id", "fake-request");
    }
    return respond_json(c, rq, 400, o, NULL);
}

cJSON *cont_record(const struct cont *ct)
{
    if (!ct->asked)
        return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "dialect", dialect_names[ct->shape]);
    if (ct->prefix)
        cJSON_AddStringToObject(o, "prefix", ct->prefix);
    else
        cJSON_AddNullToObject(o, "prefix");
    cJSON_AddStringToObject(o, "outcome", ct->outcome);
    cJSON_AddNumberToObject(o, "from", (double)ct->from);
    if (ct->refusal)
        cJSON_AddStringToObject(o, "error", ct->refusal);
    return o;
}

void cont_free(struct cont *ct)
{
    free(ct->prefix);
    ct->prefix = NULL;
}
