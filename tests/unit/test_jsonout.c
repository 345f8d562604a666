/* jsonout: the same text as cJSON_PrintUnformatted, framed, and every
 * number reading back to the double it came from. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jsonout.h"
#include "testlib.h"

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

int main(void) {
    test_matches_cjson();
    test_numbers_round_trip();
    test_not_finite_is_null();
    test_framing();
    test_large();
    test_unprintable();
    TEST_MAIN_END();
}
