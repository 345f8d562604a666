/* dialect: see dialect.h.  The client's parsed body is duplicated, never
 * changed, because a fallback or a hedge writes a second body from the same
 * request for a backend of another dialect or tier. */
#include "dialect.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "configread.h"
#include "jsonout.h"

/* Sets obj[key] to item, replacing a member of that name; takes item. */
static int put(cJSON *obj, const char *key, cJSON *item) {
    int ok;

    if (!item) return 0;
    if (cJSON_GetObjectItemCaseSensitive(obj, key)) ok = cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item);
    else ok = cJSON_AddItemToObject(obj, key, item);
    if (!ok) cJSON_Delete(item);
    return ok;
}

/* Fields only OpenAI itself understands; compatible servers may reject them. */
static const char *const openai_only_fields[] = {
    "store", "metadata", "service_tier", "prediction", "web_search_options", "modalities",
    "audio", "safety_identifier", "prompt_cache_key", "verbosity", "user",
};

static int rewrite_for_compat(cJSON *body) {
    cJSON *completion_tokens = cJSON_DetachItemFromObjectCaseSensitive(body, "max_completion_tokens");
    const cJSON *max_tokens = cJSON_GetObjectItemCaseSensitive(body, "max_tokens");
    cJSON *msg;

    if (completion_tokens && !cJSON_IsNull(completion_tokens) && (!max_tokens || cJSON_IsNull(max_tokens))) {
        if (!put(body, "max_tokens", completion_tokens)) return -1;
    } else {
        cJSON_Delete(completion_tokens);
    }
    for (size_t i = 0; i < sizeof openai_only_fields / sizeof *openai_only_fields; i++)
        cJSON_DeleteItemFromObjectCaseSensitive(body, openai_only_fields[i]);
    cJSON_ArrayForEach(msg, cJSON_GetObjectItemCaseSensitive(body, "messages")) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(msg, "role");
        assert(cJSON_IsString(role));
        if (strcmp(role->valuestring, "developer") == 0 && !put(msg, "role", cJSON_CreateString("system")))
            return -1;
    }
    return 0;
}

/* The body for b as a cJSON tree (the caller's), or NULL on OOM. */
static cJSON *body_for(const chatreq *r, const config_backend *b) {
    cJSON *body, *options;

    assert(r && r->root && b && b->model);
    body = cJSON_Duplicate(r->redacted && b->tier != TIER_DEVICE ? r->redacted : r->root, 1);
    if (!body || !put(body, "model", cJSON_CreateString(b->model))) goto done;
    if (r->stream) {
        /* Usage is always wanted for metrics and spend; the chat handler drops
         * the usage chunk again when the client did not ask for it. */
        options = cJSON_GetObjectItemCaseSensitive(body, "stream_options");
        if (!cJSON_IsObject(options)) {
            options = cJSON_CreateObject();
            if (!put(body, "stream_options", options)) goto done;
        }
        if (!put(options, "include_usage", cJSON_CreateTrue())) goto done;
    }
    if (b->dialect == DIALECT_COMPAT && rewrite_for_compat(body)) goto done;
    return body;
done:
    cJSON_Delete(body);
    return NULL;
}

static char *print_and_free(cJSON *body, size_t *len) {
    char *text = body ? jsonout_print(body, NULL, NULL, len) : NULL;
    cJSON_Delete(body);
    return text;
}

char *dialect_body(const chatreq *r, const config_backend *b, size_t *len) {
    return print_and_free(body_for(r, b), len);
}

static const char *const continuation_names[] = {
    [CONTINUATION_NONE] = "none", [CONTINUATION_PREFILL] = "prefill", [CONTINUATION_PREFIX] = "prefix",
    [CONTINUATION_PARTIAL] = "partial", [CONTINUATION_CONTINUE_FINAL_MESSAGE] = "continue_final_message",
};

const char *dialect_continuation_name(continuation_t c) { return continuation_names[c]; }

int dialect_read_continuation(configread *r, const cJSON *obj, const char *path, continuation_t *out) {
    char *s = NULL, p[128];
    if (configread_string(r, obj, path, "continuation", "none", &s) < 0) return -1;
    int found = -1;
    for (size_t i = 0; i < sizeof continuation_names / sizeof *continuation_names; i++)
        if (strcmp(s, continuation_names[i]) == 0) found = (int)i;
    free(s);
    snprintf(p, sizeof p, "%s.continuation", path);
    if (found < 0)
        return configread_fail(r, p, "must be \"prefill\", \"prefix\", \"partial\", \"continue_final_message\" "
                                     "or \"none\"");
    *out = (continuation_t)found;
    return 0;
}

/* The one shape every dialect shares, a final assistant message with the
 * prefix, and each dialect's marker: none (prefill), a flag on the message
 * (prefix, partial) or two flags on the body (continue_final_message). */
char *dialect_continue_body(const chatreq *r, const config_backend *b, const char *prefix, size_t plen,
                            size_t *len) {
    assert(b->continuation != CONTINUATION_NONE);
    cJSON *body = body_for(r, b), *msg = cJSON_CreateObject();
    char *text = malloc(plen + 1);
    cJSON *messages = cJSON_GetObjectItemCaseSensitive(body, "messages");
    if (!body || !msg || !text || !cJSON_IsArray(messages)) goto oom;
    memcpy(text, prefix, plen);
    text[plen] = '\0';
    if (!put(msg, "role", cJSON_CreateString("assistant")) || !put(msg, "content", cJSON_CreateString(text)))
        goto oom;
    bool ok = true;
    switch (b->continuation) {
    case CONTINUATION_PREFIX: ok = put(msg, "prefix", cJSON_CreateTrue()); break;
    case CONTINUATION_PARTIAL: ok = put(msg, "partial", cJSON_CreateTrue()); break;
    case CONTINUATION_CONTINUE_FINAL_MESSAGE:
        ok = put(body, "continue_final_message", cJSON_CreateTrue()) &&
             put(body, "add_generation_prompt", cJSON_CreateFalse());
        break;
    case CONTINUATION_PREFILL:
    case CONTINUATION_NONE: break;
    }
    if (!ok || !cJSON_AddItemToArray(messages, msg)) goto oom;
    free(text);
    return print_and_free(body, len);
oom:
    free(text);
    cJSON_Delete(msg);
    cJSON_Delete(body);
    return NULL;
}
