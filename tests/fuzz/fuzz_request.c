/* libFuzzer target for request parsing and the upstream body.
 *
 * The input is the request body.  A refused body must leave nothing behind
 * and produce a well-formed OpenAI error; an accepted one must be valid UTF-8
 * (checked here independently), agree with the typed request, and give each
 * dialect an upstream body that is itself an acceptable request with the
 * same message texts, without the original being touched. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "dialect.h"
#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Not assert(): fuzz builds may define NDEBUG, and these checks are the point. */
#define REQUIRE(cond) do { \
        if (!(cond)) { fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); abort(); } \
    } while (0)

/* Strict UTF-8 by code point, independent of the validator under test. */
static int valid_utf8(const uint8_t *s, size_t n) {
    size_t i = 0;

    while (i < n) {
        unsigned cp, k, min;
        if (s[i] < 0x80) { i++; continue; }
        if ((s[i] & 0xE0) == 0xC0) k = 1, cp = s[i] & 0x1F, min = 0x80;
        else if ((s[i] & 0xF0) == 0xE0) k = 2, cp = s[i] & 0x0F, min = 0x800;
        else if ((s[i] & 0xF8) == 0xF0) k = 3, cp = s[i] & 0x07, min = 0x10000;
        else return 0;
        if (n - i <= k) return 0;
        for (unsigned j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (s[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += k + 1;
    }
    return 1;
}

static void check_error(const chatreq *r, const api_error *e) {
    static const char *const codes[] = {"invalid_utf8", "invalid_json", "unknown_parameter",
                                        "invalid_request", "invalid_value"};
    size_t len = 0, ncodes = sizeof codes / sizeof *codes, k;
    char *json;
    cJSON *root, *err;

    REQUIRE(r->root == NULL && r->msgs == NULL && r->joined == NULL && r->nmessages == 0 && r->njoined == 0);
    REQUIRE(e->status == 400 || e->status == 500);
    REQUIRE(e->type && e->message[0]);
    REQUIRE(valid_utf8((const uint8_t *)e->message, strlen(e->message)));
    REQUIRE(valid_utf8((const uint8_t *)e->param, strlen(e->param)));
    if (e->status == 400) {
        REQUIRE(strcmp(e->type, "invalid_request_error") == 0 && e->code);
        for (k = 0; k < ncodes && strcmp(e->code, codes[k]) != 0; k++) {}
        REQUIRE(k < ncodes);
    }
    json = api_error_json(e, &len);
    REQUIRE(json && len == strlen(json));
    root = cJSON_Parse(json);
    REQUIRE(root);
    err = cJSON_GetObjectItemCaseSensitive(root, "error");
    REQUIRE(cJSON_GetArraySize(root) == 1 && cJSON_GetArraySize(err) == 4);
    REQUIRE(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(err, "message")));
    REQUIRE(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(err, "type")));
    REQUIRE(cJSON_GetObjectItemCaseSensitive(err, "param") && cJSON_GetObjectItemCaseSensitive(err, "code"));
    cJSON_Delete(root);
    free(json);
}

static int all_finite(const cJSON *item) {
    if (cJSON_IsNumber(item)) return isfinite(item->valuedouble);
    for (const cJSON *child = item->child; child; child = child->next)
        if (!all_finite(child)) return 0;
    return 1;
}

static void check_request(const chatreq *r) {
    const cJSON *messages = cJSON_GetObjectItemCaseSensitive(r->root, "messages"), *msg;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(r->root, "model");
    size_t i = 0;

    REQUIRE(cJSON_IsObject(r->root) && all_finite(r->root));
    REQUIRE(cJSON_IsString(model) && r->model == model->valuestring && r->model[0]);
    REQUIRE(r->stream == cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r->root, "stream")));
    REQUIRE(!r->include_usage || r->stream);
    REQUIRE(r->nmessages >= 1 && r->nmessages == (size_t)cJSON_GetArraySize(messages));
    REQUIRE(r->njoined <= r->nmessages);
    cJSON_ArrayForEach(msg, messages) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(msg, "role");
        const feature_message *m = &r->msgs[i++];
        REQUIRE(cJSON_IsString(role));
        REQUIRE(m->user == (strcmp(role->valuestring, "user") == 0));
        REQUIRE(m->text && strlen(m->text) == m->len);
        REQUIRE(valid_utf8((const uint8_t *)m->text, m->len));
    }
}

static int is_dropped_for_compat(const char *key) {
    static const char *const dropped[] = {"store", "metadata", "service_tier", "prediction", "web_search_options",
                                          "modalities", "audio", "safety_identifier", "prompt_cache_key",
                                          "verbosity", "user", "max_completion_tokens"};
    for (size_t k = 0; k < sizeof dropped / sizeof *dropped; k++)
        if (strcmp(key, dropped[k]) == 0) return 1;
    return 0;
}

static void check_upstream(const chatreq *r, dialect_t dialect) {
    config_backend b = {.name = "b", .model = "upstream-model", .dialect = dialect};
    size_t len = 0;
    char *text = dialect_body(r, &b, &len);
    const cJSON *item;
    chatreq again;
    api_error e;

    REQUIRE(text && len == strlen(text));
    REQUIRE(chatreq_parse(text, len, &again, &e) == 0);
    REQUIRE(strcmp(again.model, "upstream-model") == 0);
    REQUIRE(again.stream == r->stream);
    REQUIRE(!r->stream || again.include_usage);
    REQUIRE(again.nmessages == r->nmessages);
    for (size_t i = 0; i < r->nmessages; i++) {
        REQUIRE(again.msgs[i].len == r->msgs[i].len && again.msgs[i].user == r->msgs[i].user);
        REQUIRE(memcmp(again.msgs[i].text, r->msgs[i].text, r->msgs[i].len) == 0);
    }
    if (dialect == DIALECT_COMPAT) {
        const cJSON *msg;
        cJSON_ArrayForEach(item, again.root) REQUIRE(!is_dropped_for_compat(item->string));
        cJSON_ArrayForEach(msg, cJSON_GetObjectItemCaseSensitive(again.root, "messages"))
            REQUIRE(strcmp(cJSON_GetObjectItemCaseSensitive(msg, "role")->valuestring, "developer") != 0);
        if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(r->root, "max_completion_tokens")))
            REQUIRE(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(again.root, "max_tokens")));
    } else {
        /* Apart from model and stream_options, the OpenAI body is the request. */
        cJSON_ArrayForEach(item, r->root) {
            char *mine, *theirs;
            if (strcmp(item->string, "model") == 0 || strcmp(item->string, "stream_options") == 0) continue;
            /* Printed, not cJSON_Compare(): nested objects may repeat keys. */
            mine = cJSON_PrintUnformatted(item);
            theirs = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(again.root, item->string));
            REQUIRE(mine && theirs && strcmp(mine, theirs) == 0);
            free(mine);
            free(theirs);
        }
        REQUIRE(cJSON_GetArraySize(again.root) >= cJSON_GetArraySize(r->root));
    }
    chatreq_free(&again);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    chatreq r;
    api_error e;
    char *before, *after;

    memset(&e, 0, sizeof e);
    if (chatreq_parse((const char *)data, size, &r, &e) != 0) {
        check_error(&r, &e);
        chatreq_free(&r);
        return 0;
    }
    REQUIRE(valid_utf8(data, size) && !memchr(data, '\0', size));
    check_request(&r);
    before = cJSON_PrintUnformatted(r.root);
    check_upstream(&r, DIALECT_OPENAI);
    check_upstream(&r, DIALECT_COMPAT);
    after = cJSON_PrintUnformatted(r.root);
    REQUIRE(before && after && strcmp(before, after) == 0);
    check_request(&r);
    free(before);
    free(after);
    chatreq_free(&r);
    return 0;
}
