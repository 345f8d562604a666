/* test_cachereply: a stored answer replayed as a completion and as an SSE
 * stream (role first, pieces that never split a UTF-8 sequence and join to
 * the content byte for byte, finish_reason, usage only when asked, one
 * [DONE]); the degraded reply's language; what the collector will and will
 * not store (one plain choice that stopped, not tool calls, not a cut or a
 * length-limited answer, not several choices). */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "cachereply.h"
#include "request.h"
#include "testlib.h"
#include "utf8.h"

static const char text[] = "退票请到二号窗口办理。Refunds: window 2, 8:00–20:00 ✓";

static const cache_answer answer = {.client = "k", .backend = "bigcloud", .model = "big-model",
                                    .finish_reason = "stop", .content = text, .content_len = sizeof text - 1,
                                    .tier = TIER_CLOUD, .created = 1, .prompt_tokens = 11, .completion_tokens = 22};

static void test_json(void) {
    size_t n;
    char *s = cachereply_json(&answer, "chatcmpl-x", 1234, &n);
    cJSON *o = cJSON_Parse(s);
    CHECK(o != NULL && n == strlen(s));
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "object")), "chat.completion");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "model")), "big-model");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "id")), "chatcmpl-x");
    cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "choices"), 0);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(c, "message"), "content")), text);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(c, "finish_reason")), "stop");
    CHECK_INT(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "usage"), "total_tokens")->valueint, 33);
    cJSON_Delete(o);
    free(s);
}

/* Checks the stream and returns its joined content (malloc'd). */
static char *check_stream(const char *s, bool usage) {
    buf joined = {0};
    int events = 0, done = 0, usage_chunks = 0, finishes = 0;
    for (const char *p = s; *p;) {
        CHECK(strncmp(p, "data: ", 6) == 0);
        const char *end = strstr(p, "\n\n");
        if (!end) break;
        events++;
        if (strncmp(p + 6, "[DONE]", 6) == 0) {
            done++;
            CHECK(end[2] == 0);
        } else {
            cJSON *o = cJSON_ParseWithLength(p + 6, (size_t)(end - p - 6));
            CHECK(o != NULL);
            CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "object")), "chat.completion.chunk");
            cJSON *ch = cJSON_GetObjectItem(o, "choices");
            CHECK(usage == cJSON_HasObjectItem(o, "usage"));
            if (cJSON_GetArraySize(ch) == 0) {
                usage_chunks++;
            } else {
                cJSON *d = cJSON_GetObjectItem(cJSON_GetArrayItem(ch, 0), "delta");
                if (events == 1) CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(d, "role")), "assistant");
                const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(d, "content"));
                if (t) {
                    CHECK_INT(utf8_invalid_offset(t, strlen(t)), strlen(t));
                    CHECK(strlen(t) <= CACHEREPLY_PIECE_MIN + 3);
                    buf_append(&joined, t, strlen(t), 0);
                }
                finishes += cJSON_IsString(cJSON_GetObjectItem(cJSON_GetArrayItem(ch, 0), "finish_reason"));
            }
            cJSON_Delete(o);
        }
        p = end + 2;
    }
    CHECK_INT(done, 1);
    CHECK_INT(finishes, 1);
    CHECK_INT(usage_chunks, usage ? 1 : 0);
    CHECK(events > 4);
    size_t n;
    char *out = strdup(buf_data(&joined, &n));
    buf_free(&joined);
    return out;
}

/* The stream of a (NUL-terminated, malloc'd). */
static char *sse_of(const cache_answer *a, bool usage, size_t *n) {
    buf out = {0};
    CHECK_INT(cachereply_sse(&out, a, "chatcmpl-x", 1234, usage), 0);
    const char *d = buf_data(&out, n);
    char *s = strndup(d, *n);
    buf_free(&out);
    return s;
}

static void test_sse(void) {
    for (int usage = 0; usage < 2; usage++) {
        size_t n;
        char *s = sse_of(&answer, usage, &n);
        CHECK(s && n == strlen(s));
        char *joined = check_stream(s, usage);
        CHECK_STR(joined, text);
        free(joined);
        free(s);
    }
}

/* A long answer: pieces grow with it, so the stream stays the answer plus
 * a bounded overhead (it was 16-byte pieces, 13 times the answer). */
static void test_sse_long(void) {
    size_t len = CACHEREPLY_MAX_STORED, n;
    char *big = malloc(len + 1);
    for (size_t i = 0; i < len; i++) big[i] = (char)('a' + i % 26);
    memcpy(big + 1000, "✓", 3);
    big[len] = 0;
    cache_answer a = answer;
    a.content = big;
    a.content_len = len;
    char *s = sse_of(&a, true, &n);
    CHECK(n < len + (CACHEREPLY_PIECES + 4) * 300);
    int events = 0;
    for (const char *p = s; (p = strstr(p, "data: ")); p += 6) events++;
    CHECK(events <= CACHEREPLY_PIECES + 5);
    CHECK(events > CACHEREPLY_PIECES / 2);
    buf joined = {0};
    for (const char *p = s; (p = strstr(p, "\"content\":\"")); p += 11) {
        const char *e = strchr(p + 11, '"');
        buf_append(&joined, p + 11, (size_t)(e - p - 11), 0);
    }
    size_t jn;
    CHECK(strlen(big) == len && memcmp(buf_data(&joined, &jn), big, len) == 0 && jn == len);
    buf_free(&joined);
    free(s);
    free(big);
}

static void test_degraded(void) {
    chatreq req = {0};
    feature_message zh[] = {{true, "空调怎么开", 15}, {false, "ok", 2}},
                    en[] = {{true, "空调怎么开", 15}, {true, "and the seats?", 14}};
    config_degraded both = {"稍后再试", "try later"}, only_en = {NULL, "try later"}, only_zh = {"稍后再试", NULL},
                    none = {NULL, NULL};
    req.msgs = zh;
    req.nmessages = 2;
    CHECK_STR(cachereply_degraded_text(&both, &req), "稍后再试");
    CHECK_STR(cachereply_degraded_text(&only_en, &req), "try later");
    req.msgs = en;
    CHECK_STR(cachereply_degraded_text(&both, &req), "try later");   /* the last user message decides */
    CHECK_STR(cachereply_degraded_text(&only_zh, &req), "稍后再试");
    CHECK(cachereply_degraded_text(&none, &req) == NULL);
}

/* The collector's verdict on a body given as JSON text. */
static const char *collected(const char *json, bool chunks, size_t *len) {
    static cache_collect k;
    static char out[256];
    cachecollect_free(&k);
    memset(&k, 0, sizeof k);
    cJSON *arr = cJSON_Parse(json), *e;
    if (chunks) cJSON_ArrayForEach(e, arr) cachecollect_chunk(&k, e);
    else cachecollect_response(&k, arr);
    cJSON_Delete(arr);
    const char *r = cachecollect_result(&k, len);
    if (!r) return NULL;
    snprintf(out, sizeof out, "%s", r);
    return out;
}

static void test_collect(void) {
    size_t n;
    CHECK_STR(collected("{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"hi\","
                        "\"refusal\":null},\"finish_reason\":\"stop\"}]}", false, &n), "hi");
    CHECK(collected("{\"choices\":[{\"message\":{\"content\":\"hi\"},\"finish_reason\":\"length\"}]}", false, &n) == NULL);
    CHECK(collected("{\"choices\":[{\"message\":{\"content\":null,\"tool_calls\":[{\"id\":\"1\"}]},"
                    "\"finish_reason\":\"stop\"}]}", false, &n) == NULL);
    CHECK(collected("{\"choices\":[{\"message\":{\"content\":\"a\"},\"finish_reason\":\"stop\"},"
                    "{\"message\":{\"content\":\"b\"},\"finish_reason\":\"stop\"}]}", false, &n) == NULL);
    CHECK(collected("{\"choices\":[{\"message\":{\"content\":\"\"},\"finish_reason\":\"stop\"}]}", false, &n) == NULL);
    CHECK_STR(collected("[{\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]},"
                        "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]},"
                        "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":null}]},"
                        "{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]},"
                        "{\"choices\":[],\"usage\":{\"prompt_tokens\":1}}]", true, &n), "Hello");
    CHECK_INT(n, 5);
    /* No finish_reason: the stream was cut. */
    CHECK(collected("[{\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}]", true, &n) == NULL);
    CHECK(collected("[{\"choices\":[{\"delta\":{\"content\":\"a\"}}]},{\"choices\":[{\"index\":1,\"delta\":"
                    "{\"content\":\"b\"},\"finish_reason\":\"stop\"}]}]", true, &n) == NULL);
    /* A delta or message that is not an object (a backend's bug): not
     * stored, and no crash on its members' missing names. */
    CHECK(collected("[{\"choices\":[{\"delta\":[\"x\"]}]},{\"choices\":[{\"delta\":{\"content\":\"a\"},"
                    "\"finish_reason\":\"stop\"}]}]", true, &n) == NULL);
    CHECK(collected("{\"choices\":[{\"message\":[\"x\"],\"finish_reason\":\"stop\"}]}", false, &n) == NULL);
    CHECK(collected("{\"choices\":[[\"x\"]]}", false, &n) == NULL);
    CHECK(collected("{\"choices\":[{\"message\":\"hi\",\"finish_reason\":\"stop\"}]}", false, &n) == NULL);
    /* Longer than CACHEREPLY_MAX_STORED: not stored. */
    static cache_collect k;
    char *piece = malloc(CACHEREPLY_MAX_STORED / 2 + 2);
    memset(piece, 'a', CACHEREPLY_MAX_STORED / 2 + 1);
    piece[CACHEREPLY_MAX_STORED / 2 + 1] = 0;
    cJSON *chunk = cJSON_CreateObject(), *ch = cJSON_CreateObject(), *d = cJSON_AddObjectToObject(ch, "delta");
    cJSON_AddStringToObject(d, "content", piece);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(chunk, "choices"), ch);
    cachecollect_chunk(&k, chunk);
    CHECK(!k.unfit);
    cJSON_AddStringToObject(ch, "finish_reason", "stop");
    cachecollect_chunk(&k, chunk);
    CHECK(cachecollect_result(&k, &n) == NULL);
    cachecollect_free(&k);
    cJSON_Delete(chunk);
    free(piece);
    collected("[]", true, &n);
}

int main(void) {
    test_json();
    test_sse();
    test_sse_long();
    test_degraded();
    test_collect();
    TEST_MAIN_END();
}
