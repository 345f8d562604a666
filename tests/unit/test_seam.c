/* test_seam: the join of a continuation (issue 15).  What is sent of a
 * prefix (trailing whitespace off, a prefix of whitespace whole); the
 * verdicts: a restart found by the probe however the first bytes are split,
 * a continuation that finishes before the probe's length, a prefix shorter
 * than the probe; the whitespace the client has dropped across chunks, and
 * only as far as it agrees; the role delta and empty chunks dropped, usage
 * and finish kept.  And redact_known, which masks the values a redactor
 * holds wherever they are (the continuation's prefix for a masked tier). */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "pii.h"
#include "redact.h"
#include "seam.h"
#include "testlib.h"

static cJSON *chunk(const char *content, const char *finish) {
    cJSON *c = cJSON_CreateObject(), *choices = cJSON_AddArrayToObject(c, "choices"), *ch = cJSON_CreateObject();
    cJSON_AddItemToArray(choices, ch);
    cJSON_AddNumberToObject(ch, "index", 0);
    cJSON *delta = cJSON_AddObjectToObject(ch, "delta");
    if (content) cJSON_AddStringToObject(delta, "content", content);
    if (finish) cJSON_AddStringToObject(ch, "finish_reason", finish);
    else cJSON_AddNullToObject(ch, "finish_reason");
    return c;
}

static cJSON *role_chunk(void) {
    cJSON *c = chunk("", NULL);
    cJSON_AddStringToObject(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(c, "choices"), 0), "delta"),
                            "role", "assistant");
    return c;
}

/* The text of what seam_next gives, "|" between chunks, "#" for a finish,
 * "U" for a usage chunk; a role anywhere is "R". */
static void drain(seam *s, char *out, size_t n) {
    out[0] = '\0';
    for (cJSON *c; (c = seam_next(s));) {
        const cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(c, "choices"), 0);
        const cJSON *delta = cJSON_GetObjectItem(ch, "delta");
        const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(delta, "content"));
        size_t k = strlen(out);
        snprintf(out + k, n - k, "%s%s%s%s%s", k ? "|" : "", cJSON_HasObjectItem(delta, "role") ? "R" : "",
                 t ? t : "", cJSON_IsString(cJSON_GetObjectItem(ch, "finish_reason")) ? "#" : "",
                 ch ? "" : "U");
        cJSON_Delete(c);
    }
}

static void test_send_len(void) {
    CHECK_INT(seam_send_len("Hello, ", 7), 6);
    CHECK_INT(seam_send_len("Hello \n\t", 8), 5);
    CHECK_INT(seam_send_len("Hello", 5), 5);
    CHECK_INT(seam_send_len("  \n", 3), 3);     /* nothing but whitespace: sent whole */
    CHECK_INT(seam_send_len("你好 ", strlen("你好 ")), strlen("你好"));
}

static void test_joined(void) {
    char out[256];
    /* the space the client has is dropped, across chunks; the role delta too */
    seam *s = seam_new("Hello,", 6, "  ", 2);
    CHECK_INT(seam_add(s, role_chunk()), SEAM_WAIT);
    CHECK_INT(seam_add(s, chunk(" ", NULL)), SEAM_WAIT);
    CHECK_INT(seam_add(s, chunk(" world", NULL)), SEAM_JOINED);
    drain(s, out, sizeof out);
    CHECK_STR(out, "world");
    seam_free(s);

    /* only as far as it agrees: a newline the client lacks is kept */
    s = seam_new("Hello,", 6, " ", 1);
    CHECK_INT(seam_add(s, chunk("\nworld", NULL)), SEAM_JOINED);
    drain(s, out, sizeof out);
    CHECK_STR(out, "\nworld");
    seam_free(s);

    /* a long prefix: the probe waits for SEAM_PROBE bytes, split anyhow */
    const char *p = "The quick brown fox jumps over";
    s = seam_new(p, strlen(p), "", 0);
    CHECK_INT(seam_add(s, chunk(" the lazy", NULL)), SEAM_WAIT);
    CHECK_INT(seam_add(s, chunk(" dog, and ", NULL)), SEAM_JOINED);
    CHECK_INT(seam_add(s, chunk("late", NULL)), SEAM_JOINED);   /* after the verdict it stays */
    drain(s, out, sizeof out);
    CHECK_STR(out, " the lazy| dog, and |late");
    seam_free(s);

    /* a continuation that finishes before the probe's length: joined */
    s = seam_new(p, strlen(p), "", 0);
    CHECK_INT(seam_add(s, chunk(".", NULL)), SEAM_WAIT);
    CHECK_INT(seam_add(s, chunk(NULL, "stop")), SEAM_JOINED);
    drain(s, out, sizeof out);
    CHECK_STR(out, ".|#");
    seam_free(s);

    /* the stream ended with text short of the probe: settled as joined;
     * a usage chunk (no choices) is kept */
    s = seam_new(p, strlen(p), "", 0);
    CHECK_INT(seam_add(s, chunk("!", NULL)), SEAM_WAIT);
    cJSON *u = cJSON_CreateObject();
    cJSON_AddArrayToObject(u, "choices");
    cJSON_AddObjectToObject(u, "usage");
    CHECK_INT(seam_add(s, u), SEAM_WAIT);
    CHECK_INT(seam_settle(s), SEAM_JOINED);
    drain(s, out, sizeof out);
    CHECK_STR(out, "!|U");
    seam_free(s);
}

static void test_restarted(void) {
    const char *p = "The quick brown fox jumps over";
    /* the answer from the start, byte by byte into the probe */
    seam *s = seam_new(p, strlen(p), " ", 1);
    int v = SEAM_WAIT;
    for (size_t i = 0; i < strlen(p) && v == SEAM_WAIT; i++) {
        char one[2] = {p[i], '\0'};
        v = seam_add(s, chunk(one, NULL));
    }
    CHECK_INT(v, SEAM_RESTARTED);
    CHECK_INT(seam_settle(s), SEAM_RESTARTED);
    seam_free(s);

    /* a prefix shorter than the probe is compared whole */
    s = seam_new("Hi", 2, "", 0);
    CHECK_INT(seam_add(s, role_chunk()), SEAM_WAIT);
    CHECK_INT(seam_add(s, chunk("Hi there", NULL)), SEAM_RESTARTED);
    seam_free(s);
    s = seam_new("Hi", 2, "", 0);
    CHECK_INT(seam_add(s, chunk(" there", NULL)), SEAM_JOINED);
    seam_free(s);
}

static void test_redact_known(void) {
    redactor *r = redactor_new();
    pii_spans sp = {0};
    const char *req = "call 13812345678, mail li@example.com";
    CHECK(pii_scan(req, strlen(req), PII_ALL_KINDS, NULL, 0, &sp) == 0);
    char *masked = redact_text(r, req, strlen(req), &sp, NULL);
    pii_spans_free(&sp);
    CHECK_STR(masked, "call ⟨PHONE_1⟩, mail ⟨EMAIL_1⟩");
    /* an answer holding the values anywhere, even glued to other text */
    const char *ans = "x13812345678y and li@example.com.";
    char *k = redact_known(r, ans, strlen(ans));
    CHECK_STR(k, "x⟨PHONE_1⟩y and ⟨EMAIL_1⟩.");
    free(k);
    k = redact_known(r, "", 0);
    CHECK_STR(k, "");
    free(k);
    free(masked);
    redactor_free(r);
}

int main(void) {
    test_send_len();
    test_joined();
    test_restarted();
    test_redact_known();
    TEST_MAIN_END();
}
