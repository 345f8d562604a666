/* Unit tests for the OpenAI error shape: the exact bytes, escaping, null
 * members, truncation and repair of text that is not UTF-8, and the SSE form. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "apierror.h"
#include "testlib.h"

/* The error's members, read back from its JSON. */
static cJSON *error_object(const api_error *e, cJSON **root) {
    size_t len = 0;
    char *json = api_error_json(e, &len);

    CHECK(json != NULL);
    CHECK_INT(len, strlen(json));
    *root = cJSON_Parse(json);
    free(json);
    CHECK(*root != NULL);
    CHECK_INT(cJSON_GetArraySize(*root), 1);
    return cJSON_GetObjectItemCaseSensitive(*root, "error");
}

/* An independent strict UTF-8 check (Unicode table 3-7), by code point. */
static int valid_utf8(const char *text) {
    const unsigned char *s = (const unsigned char *)text;

    while (*s) {
        unsigned cp, n, min;
        if (*s < 0x80) { s++; continue; }
        if ((*s & 0xE0) == 0xC0) n = 1, cp = *s & 0x1F, min = 0x80;
        else if ((*s & 0xF0) == 0xE0) n = 2, cp = *s & 0x0F, min = 0x800;
        else if ((*s & 0xF8) == 0xF0) n = 3, cp = *s & 0x07, min = 0x10000;
        else return 0;
        for (unsigned i = 1; i <= n; i++) {
            if ((s[i] & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (s[i] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        s += n + 1;
    }
    return 1;
}

static void test_exact_bytes(void) {
    api_error e;
    size_t len = 0;
    char *json;

    api_error_set(&e, 400, "invalid_request_error", NULL, NULL, "bad %d", 5);
    CHECK_INT(e.status, 400);
    CHECK_STR(e.type, "invalid_request_error");
    CHECK(e.code == NULL);
    CHECK_STR(e.param, "");
    CHECK_STR(e.message, "bad 5");
    json = api_error_json(&e, &len);
    CHECK_STR(json, "{\"error\":{\"message\":\"bad 5\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}");
    CHECK_INT(len, strlen(json));
    free(json);

    api_error_set(&e, 404, "invalid_request_error", "model_not_found", "model",
                  "The model `%s` does not exist or you do not have access to it.", "gpt-9");
    json = api_error_json(&e, NULL);
    CHECK_STR(json, "{\"error\":{\"message\":\"The model `gpt-9` does not exist or you do not have access to it.\","
                    "\"type\":\"invalid_request_error\",\"param\":\"model\",\"code\":\"model_not_found\"}}");
    free(json);

    api_error_set(&e, 502, "server_error", "upstream_error", "", "upstream connection lost");
    json = api_error_json(&e, NULL);
    CHECK_STR(json, "{\"error\":{\"message\":\"upstream connection lost\",\"type\":\"server_error\","
                    "\"param\":null,\"code\":\"upstream_error\"}}");
    free(json);
}

static void test_escaping(void) {
    const char *nasty = "quote \" backslash \\ newline \n tab \t bell \x07 slash / 中文 😀 </script>";
    api_error e;
    cJSON *root, *err;

    api_error_set(&e, 400, "invalid_request_error", "invalid_value", "messages[0].content", "%s", nasty);
    err = error_object(&e, &root);
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(err, "message")->valuestring, nasty);
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(err, "type")->valuestring, "invalid_request_error");
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(err, "param")->valuestring, "messages[0].content");
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(err, "code")->valuestring, "invalid_value");
    cJSON_Delete(root);

    /* A param that is only JSON-special characters. */
    api_error_set(&e, 400, "invalid_request_error", "unknown_parameter", "\"}{\\", "x");
    err = error_object(&e, &root);
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(err, "param")->valuestring, "\"}{\\");
    cJSON_Delete(root);
}

static void test_truncation(void) {
    char big[2000];
    api_error e;
    cJSON *root, *err;

    /* Cut in the middle of a 3-byte character: the partial character goes. */
    memset(big, 'a', sizeof big);
    for (size_t i = 760; i + 3 < sizeof big; i += 3) memcpy(big + i, "\xE4\xB8\xAD", 3);
    big[sizeof big - 1] = '\0';
    api_error_set(&e, 400, "invalid_request_error", NULL, big, "%s", big);
    CHECK(strlen(e.message) <= sizeof e.message - 1);
    CHECK(strlen(e.message) >= sizeof e.message - 4);
    CHECK(valid_utf8(e.message));
    CHECK(strlen(e.param) == sizeof e.param - 1);
    err = error_object(&e, &root);
    CHECK(strlen(cJSON_GetObjectItemCaseSensitive(err, "message")->valuestring) == strlen(e.message));
    cJSON_Delete(root);

    /* Every cut position of a 4-byte character. */
    for (size_t pad = 0; pad < 4; pad++) {
        memset(big, 'b', sizeof big);
        memcpy(big + sizeof e.message - 4 + pad - 1, "\xF0\x9F\x98\x80", 4);
        big[sizeof e.message + 8] = '\0';
        api_error_set(&e, 400, "invalid_request_error", NULL, NULL, "%s", big);
        CHECK(valid_utf8(e.message));
        CHECK(strchr(e.message, '?') == NULL);
    }
}

static void test_repair(void) {
    api_error e;

    api_error_set(&e, 502, "server_error", NULL, NULL, "a\xFF" "b");
    CHECK_STR(e.message, "a?b");
    api_error_set(&e, 502, "server_error", NULL, NULL, "%s", "\xC0\x80|\xED\xA0\x80|\xF4\x90\x80\x80|\xE4\xB8x");
    CHECK_STR(e.message, "??|???|????|??x");
    api_error_set(&e, 502, "server_error", NULL, "p\x80q", "ends cut \xE4\xB8");
    CHECK_STR(e.message, "ends cut ");
    CHECK_STR(e.param, "p?q");
    CHECK(valid_utf8("a\xF0\x9F\x98\x80 \xE4\xB8\xAD \xC3\xA9"));
    CHECK(!valid_utf8("\xED\xA0\x80") && !valid_utf8("\xC0\x80") && !valid_utf8("\xF4\x90\x80\x80"));
}

static void test_sse(void) {
    api_error e;
    size_t len = 0, json_len = 0;
    char *event, *json;

    api_error_set(&e, 502, "server_error", "upstream_error", NULL, "upstream connection lost");
    event = api_error_sse(&e, &len);
    json = api_error_json(&e, &json_len);
    CHECK_STR(event, "data: {\"error\":{\"message\":\"upstream connection lost\",\"type\":\"server_error\","
                     "\"param\":null,\"code\":\"upstream_error\"}}\n\n");
    CHECK_INT(len, strlen(event));
    CHECK_INT(len, json_len + 8);
    free(event);
    free(json);

    /* A newline in the message must not split the event. */
    api_error_set(&e, 500, "server_error", NULL, NULL, "line one\nline two\r\n");
    event = api_error_sse(&e, NULL);
    CHECK(strncmp(event, "data: {", 7) == 0);
    CHECK(strchr(event, '\r') == NULL);
    CHECK(strchr(event, '\n') == event + strlen(event) - 2);
    free(event);
}

int main(void) {
    test_exact_bytes();
    test_escaping();
    test_truncation();
    test_repair();
    test_sse();
    TEST_MAIN_END();
}
