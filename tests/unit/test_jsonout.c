/* jsonout: the same text as cJSON_PrintUnformatted, framed, and every
 * number reading back to the double it came from; an object written field
 * by field that cJSON reads back as written. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jsonout.h"
#include "testlib.h"
#include "utf8.h"

/* jsonout's text of the JSON text src, which must equal cJSON's. */
static void same_as_cjson(const char *src) {
    cJSON *t = cJSON_Parse(src);
    CHECK(t != NULL);
    if (!t) return;
    size_t n = 0;
    char *ours = jsonout_print(t, NULL, NULL, &n);
    char *theirs = cJSON_PrintUnformatted(t);
    CHECK_STR(ours, theirs);
    CHECK_INT(n, ours ? strlen(ours) : 0);
    free(ours);
    free(theirs);
    cJSON_Delete(t);
}

static void test_matches_cjson(void) {
    same_as_cjson("{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1763840000,"
                  "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hi\"},"
                  "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3}}");
    same_as_cjson("[true,false,null,[],{},\"\",-0,-17,0.5,0.1,3.14159,1e-7,-2.5e+300,123456789]");
    same_as_cjson("{\"esc\":\"quote \\\" backslash \\\\ nl \\n cr \\r tab \\t bs \\b ff \\f ctl \\u0001\\u001f\"}");
    same_as_cjson("{\"utf8\":\"打开空调 ⟨PHONE_1⟩ é\",\"k\\\"ey\":1}");
    same_as_cjson("[2147483647,-2147483648,5e-324]");
}

static void test_numbers_round_trip(void) {
    const double v[] = {0, 1, -1, 4294967296.0, 9007199254740991.0, 9007199254740992.0, 1e300, 0.1, 2.0 / 3.0,
                        -123.456, 1e-300, 42.0, 0.30000000000000004, 1.7976931348623157e308};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        cJSON *n = cJSON_CreateNumber(v[i]);
        char *s = jsonout_print(n, NULL, NULL, NULL);
        CHECK(s != NULL);
        if (s) CHECK(strtod(s, NULL) == v[i]);
        free(s);
        cJSON_Delete(n);
    }
    cJSON *big = cJSON_CreateNumber(4294967296.0);
    char *s = jsonout_print(big, NULL, NULL, NULL);
    CHECK_STR(s, "4294967296");
    free(s);
    cJSON_Delete(big);
}

static void test_not_finite_is_null(void) {
    cJSON *a = cJSON_CreateArray();
    cJSON_AddItemToArray(a, cJSON_CreateNumber(INFINITY));
    cJSON_AddItemToArray(a, cJSON_CreateNumber(NAN));
    char *s = jsonout_print(a, NULL, NULL, NULL);
    CHECK_STR(s, "[null,null]");
    free(s);
    cJSON_Delete(a);
}

static void test_framing(void) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "a", "b");
    size_t n;
    char *s = jsonout_print(o, "data: ", "\n\n", &n);
    CHECK_STR(s, "data: {\"a\":\"b\"}\n\n");
    CHECK_INT(n, 17);
    free(s);
    s = jsonout_print(o, NULL, "\n", &n);
    CHECK_STR(s, "{\"a\":\"b\"}\n");
    CHECK_INT(n, 10);
    free(s);
    cJSON_Delete(o);
}

/* Past the first buffer: a long string and many members grow it. */
static void test_large(void) {
    size_t len = 100000;
    char *text = malloc(len + 1);
    CHECK(text != NULL);
    if (!text) return;
    for (size_t i = 0; i < len; i++) text[i] = i % 97 == 0 ? '"' : (char)('a' + i % 26);
    text[len] = '\0';
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "t", text);
    for (int i = 0; i < 500; i++) cJSON_AddNumberToObject(o, "n", i);
    char *ours = jsonout_print(o, NULL, NULL, NULL);
    char *theirs = cJSON_PrintUnformatted(o);
    CHECK_STR(ours, theirs);
    free(ours);
    free(theirs);
    cJSON_Delete(o);
    free(text);
}

/* A raw item without text is not printable, as in cJSON. */
static void test_unprintable(void) {
    cJSON *o = cJSON_CreateObject();
    cJSON *raw = cJSON_CreateRaw("1");
    free(raw->valuestring);
    raw->valuestring = NULL;
    cJSON_AddItemToObject(o, "r", raw);
    CHECK(jsonout_print(o, NULL, NULL, NULL) == NULL);
    CHECK(cJSON_PrintUnformatted(o) == NULL);
    cJSON_Delete(o);
    cJSON *r = cJSON_CreateRaw("{\"x\":1}");
    char *s = jsonout_print(r, NULL, NULL, NULL);
    CHECK_STR(s, "{\"x\":1}");
    free(s);
    cJSON_Delete(r);
}

/* t's text as a string (the text is not NUL-terminated). */
static char *text_of(const jsonout_text *t) {
    char *s = malloc(t->n + 1);
    if (t->n) memcpy(s, t->p, t->n);
    s[t->n] = '\0';
    return s;
}

static void check_milli(long long v, const char *want) {
    jsonout_text t = {0};
    jsonout_milli(&t, v);
    char *s = text_of(&t);
    CHECK_STR(s, want);
    free(s);
    jsonout_text_free(&t);
}

static void test_fields(void) {
    check_milli(0, "0.000");
    check_milli(1, "0.001");
    check_milli(999, "0.999");
    check_milli(1000, "1.000");
    check_milli(12345, "12.345");
    check_milli(-1, "-0.001");
    check_milli(-12345, "-12.345");
    check_milli((long long)INT64_MAX, "9223372036854775.807");
    check_milli((long long)INT64_MIN, "-9223372036854775.808");

    jsonout_text t = {0};                 /* zeroed: empty and ready */
    CHECK_INT(t.n, 0);
    jsonout_text empty = {0};
    jsonout_put(&t, empty.p, empty.n);    /* nothing, from nowhere (UBSan checks the memcpy) */
    CHECK(t.n == 0 && t.p == NULL && !t.failed);
    jsonout_put(&t, "{\"a\":1", 6);
    jsonout_key(&t, "s\"q");
    jsonout_string(&t, "line\nbreak \x01 打开");
    jsonout_key(&t, "none");
    jsonout_string(&t, NULL);
    jsonout_key(&t, "min");
    jsonout_int(&t, (long long)INT64_MIN);
    jsonout_key(&t, "ms");
    jsonout_milli(&t, 2500);
    cJSON *arr = cJSON_Parse("[1,\"x\",{\"y\":null}]");
    jsonout_key(&t, "tree");
    jsonout_value(&t, arr);
    jsonout_put(&t, "}", 1);
    CHECK(!t.failed);
    char *s = text_of(&t);
    CHECK_STR(s, "{\"a\":1,\"s\\\"q\":\"line\\nbreak \\u0001 打开\",\"none\":\"\",\"min\":-9223372036854775808,"
                 "\"ms\":2.500,\"tree\":[1,\"x\",{\"y\":null}]}");
    cJSON *back = cJSON_Parse(s);
    CHECK(back != NULL);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(back, "s\"q")), "line\nbreak \x01 打开");
    CHECK(cJSON_GetObjectItemCaseSensitive(back, "ms")->valuedouble == 2.5);
    cJSON_Delete(back);
    free(s);

    /* A value that is not JSON fails the text, and later appends do nothing. */
    cJSON *raw = cJSON_CreateRaw("1");
    free(raw->valuestring);
    raw->valuestring = NULL;
    size_t before = t.n;
    jsonout_value(&t, raw);
    CHECK(t.failed);
    jsonout_put(&t, "more", 4);
    CHECK_INT(t.n, before);
    cJSON_Delete(raw);
    cJSON_Delete(arr);
    jsonout_text_free(&t);
    CHECK(t.p == NULL && t.n == 0 && t.cap == 0 && !t.failed);

    /* Growth past the first allocation keeps every byte. */
    for (int i = 0; i < 1000; i++) jsonout_int(&t, i % 10);
    CHECK_INT(t.n, 1000);
    CHECK(t.p[0] == '0' && t.p[999] == '9' && t.cap > 1000);
    jsonout_text_free(&t);
}

static void check_string(const char *in, const char *want) {
    jsonout_text t = {0};
    jsonout_string(&t, in);
    char *s = text_of(&t);
    CHECK_STR(s, want);
    CHECK_INT(utf8_invalid_offset(s, strlen(s)), strlen(s));
    free(s);
    jsonout_text_free(&t);
}

/* Well-formed UTF-8 passes as it is; each byte of a malformed sequence
 * becomes U+FFFD (EF BF BD), so the text is valid UTF-8 whatever came in. */
static void test_malformed_utf8(void) {
    check_string("打开 é 😀", "\"打开 é 😀\"");
    check_string("/v1/\xFF\xFE", "\"/v1/\xEF\xBF\xBD\xEF\xBF\xBD\"");
    check_string("a\xC0\xAF" "b", "\"a\xEF\xBF\xBD\xEF\xBF\xBD" "b\"");           /* overlong "/" */
    check_string("\xED\xA0\x80", "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");  /* a surrogate */
    check_string("\xF4\x90\x80\x80!", "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD!\"");  /* > U+10FFFF */
    check_string("end \xE6\x89", "\"end \xEF\xBF\xBD\xEF\xBF\xBD\"");         /* cut off by the end */
    check_string("\x80\"\n", "\"\xEF\xBF\xBD\\\"\\n\"");                    /* then escapes as usual */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "path", "/v1/\xFF");
    char *text = jsonout_print(o, NULL, NULL, NULL);
    CHECK_STR(text, "{\"path\":\"/v1/\xEF\xBF\xBD\"}");
    free(text);
    cJSON_Delete(o);
}

int main(void) {
    test_matches_cjson();
    test_numbers_round_trip();
    test_not_finite_is_null();
    test_framing();
    test_large();
    test_unprintable();
    test_fields();
    test_malformed_utf8();
    TEST_MAIN_END();
}
