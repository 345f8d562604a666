/* dialect: see dialect.h.  The client's parsed body is duplicated, never
 * changed, because a fallback or a hedge writes a second body from the same
 * request for a backend of another dialect or tier. */
#include "dialect.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <string.h>

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

char *dialect_body(const chatreq *r, const config_backend *b, size_t *len) {
    cJSON *body, *options;
    char *text = NULL;

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
    text = jsonout_print(body, NULL, NULL, len);
done:
    cJSON_Delete(body);
    return text;
}
