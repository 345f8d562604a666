/* libFuzzer target for jsonout's strings.
 *
 * The input, cut at its first NUL, is written as a JSON string three ways:
 * by jsonout_string, as a field (jsonout_key plus jsonout_string), and by
 * jsonout_print of a cJSON string item.  Every text must be valid UTF-8,
 * the three must agree, and cJSON must read the string back: to the input
 * itself when the input is valid UTF-8, and otherwise to the input with
 * each malformed byte replaced by U+FFFD, decoded by utf8_decode's rules. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonout.h"
#include "utf8.h"

/* Not assert(): fuzz builds may define NDEBUG, and these checks are the point. */
#define REQUIRE(cond) do { \
        if (!(cond)) { fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); abort(); } \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* in with every malformed byte as U+FFFD, the way jsonout writes it. */
static char *repaired(const char *in, size_t n) {
    char *out = malloc(n * 3 + 1);
    size_t o = 0;
    REQUIRE(out);
    for (size_t i = 0; i < n;) {
        int len = utf8_char((const unsigned char *)in + i, n - i);
        if (len > 0) {
            memcpy(out + o, in + i, (size_t)len);
            o += (size_t)len;
            i += (size_t)len;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    out[o] = '\0';
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *in = malloc(size + 1);
    REQUIRE(in);
    memcpy(in, data, size);
    in[size] = '\0';
    size_t n = strlen(in);

    jsonout_text t = {0}, f = {0};
    jsonout_string(&t, in);
    jsonout_put(&f, "{\"k\":0", 6);
    jsonout_key(&f, in);
    jsonout_string(&f, in);
    jsonout_put(&f, "}", 1);
    REQUIRE(!t.failed && !f.failed);
    REQUIRE(utf8_invalid_offset(t.p, t.n) == t.n);
    REQUIRE(utf8_invalid_offset(f.p, f.n) == f.n);

    cJSON *item = cJSON_CreateString(in);
    REQUIRE(item);
    size_t plen = 0;
    char *printed = jsonout_print(item, NULL, NULL, &plen);
    REQUIRE(printed && plen == t.n && memcmp(printed, t.p, t.n) == 0);

    char *want = repaired(in, n);
    if (utf8_invalid_offset(in, n) == n) REQUIRE(strcmp(want, in) == 0);
    cJSON *back = cJSON_ParseWithLength(t.p, t.n);
    REQUIRE(cJSON_IsString(back) && strcmp(back->valuestring, want) == 0);
    cJSON *obj = cJSON_ParseWithLength(f.p, f.n);
    REQUIRE(cJSON_IsObject(obj));
    /* The key may repeat "k"; the last value is the one under the key. */
    const cJSON *last = obj->child;
    while (last->next) last = last->next;
    REQUIRE(strcmp(last->string, want) == 0 && cJSON_IsString(last) && strcmp(last->valuestring, want) == 0);

    cJSON_Delete(obj);
    cJSON_Delete(back);
    cJSON_Delete(item);
    free(want);
    free(printed);
    jsonout_text_free(&t);
    jsonout_text_free(&f);
    free(in);
    return 0;
}
