/* apierror: the one place that knows the OpenAI error shape.
 *
 * An api_error is a plain struct with fixed-size buffers, so filling one never
 * allocates and cannot fail: a module that runs out of memory can still
 * describe the problem.  The bytes are produced only when the server sends
 * them, through cJSON, so escaping is always right and all four keys
 * ("message", "type", "param", "code") are always present, with null where
 * OpenAI puts null.
 *
 * Messages often quote client input (a field name) or a backend's own error
 * text, which may be cut by the fixed buffer in the middle of a character or
 * may not be UTF-8 at all.  The official SDKs decode error bodies as UTF-8 and
 * fail on anything else, so api_error_set() repairs the text once, where it is
 * stored: an incomplete character at the end (truncation) is dropped and any
 * other byte that is not part of valid UTF-8 becomes '?'.  Repairing in place
 * keeps the struct allocation-free; '?' rather than U+FFFD because it fits in
 * the byte it replaces. */
#include "apierror.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "utf8.h"

static void utf8_repair(char *text) {
    unsigned char *s = (unsigned char *)text;
    size_t n = strlen(text), i = 0;

    while (i < n) {
        int len = utf8_char(s + i, n - i);
        if (len > 0) {
            i += (size_t)len;
        } else if (len < 0) {
            s[i] = '\0';
            return;
        } else {
            s[i++] = '?';
        }
    }
}

void api_error_set(api_error *e, int status, const char *type, const char *code,
                   const char *param, const char *fmt, ...) {
    va_list ap;

    assert(e && type && fmt);
    e->status = status;
    e->type = type;
    e->code = code;
    snprintf(e->param, sizeof e->param, "%s", param ? param : "");
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    utf8_repair(e->param);
    utf8_repair(e->message);
}

static cJSON *string_or_null(const char *s) {
    return s && s[0] ? cJSON_CreateString(s) : cJSON_CreateNull();
}

/* cJSON_AddItemToObject leaves the item to the caller when it fails. */
static int add_item(cJSON *obj, const char *key, cJSON *item) {
    if (cJSON_AddItemToObject(obj, key, item)) return 1;
    cJSON_Delete(item);
    return 0;
}

char *api_error_json(const api_error *e, size_t *len) {
    cJSON *root = cJSON_CreateObject(), *obj = NULL;
    char *text = NULL;

    assert(e && e->type);
    if (!root || !(obj = cJSON_AddObjectToObject(root, "error"))) goto done;
    if (!add_item(obj, "message", cJSON_CreateString(e->message)) ||
        !add_item(obj, "type", cJSON_CreateString(e->type)) ||
        !add_item(obj, "param", string_or_null(e->param)) ||
        !add_item(obj, "code", string_or_null(e->code)))
        goto done;
    text = cJSON_PrintUnformatted(root);
    if (text && len) *len = strlen(text);
done:
    cJSON_Delete(root);
    return text;
}

char *api_error_sse(const api_error *e, size_t *len) {
    static const char prefix[] = "data: ", suffix[] = "\n\n";
    size_t json_len, total;
    char *json = api_error_json(e, &json_len), *event;

    if (!json) return NULL;
    total = sizeof prefix - 1 + json_len + sizeof suffix - 1;
    event = malloc(total + 1);
    if (event) {
        memcpy(event, prefix, sizeof prefix - 1);
        memcpy(event + sizeof prefix - 1, json, json_len);
        memcpy(event + sizeof prefix - 1 + json_len, suffix, sizeof suffix);
        if (len) *len = total;
    }
    free(json);
    return event;
}
