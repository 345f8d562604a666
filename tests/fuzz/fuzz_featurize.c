/* libFuzzer target for the classifier's reading of untrusted text.
 *
 * The first byte chooses the roles of up to four messages; the rest, split
 * at 0x1E bytes, is their text.  The conversation is scored and explained
 * by a model with fixed, non-zero weights, and featurized with and without
 * origins.  Each must stay within its promises: indexes below FEATURES_DIM,
 * finite values, origins inside their message, readable names, the same
 * occurrences either way, an explanation whose score is the score, and a
 * language the detector knows. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifier.h"
#include "featurize.h"
#include "utf8.h"

/* Not assert(): fuzz builds may define NDEBUG, and these checks are the point. */
#define REQUIRE(cond) do { \
        if (!(cond)) { fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); abort(); } \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct seen {
    const feature_message *msgs;
    size_t nmsgs, n;
    uint64_t sum;   /* order-sensitive digest of (index, value) */
} seen;

static void check(void *ctx, const feature *f, const feature_origin *o, size_t n)
{
    seen *l = ctx;
    char name[64];

    REQUIRE(n >= 1);
    for (size_t i = 0; i < n; i++) {
        uint64_t bits;
        REQUIRE(f[i].index < FEATURES_DIM);
        REQUIRE(isfinite(f[i].value));
        memcpy(&bits, &f[i].value, sizeof bits);
        l->sum = (l->sum ^ f[i].index ^ bits) * 0x100000001b3ull;
        l->n++;
        if (!o) continue;
        REQUIRE((o[i].kind == NULL) == (f[i].index < FEATURES_NNAMED));
        if (o[i].kind) {
            bool inside = false;
            for (size_t m = 0; m < l->nmsgs && !inside; m++)
                inside = o[i].text >= l->msgs[m].text && o[i].text + o[i].len <= l->msgs[m].text + l->msgs[m].len;
            REQUIRE(inside && o[i].len > 0);
        }
        feature_display(&f[i], &o[i], name, sizeof name);
        REQUIRE(utf8_invalid_offset(name, strlen(name)) == strlen(name));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static featurizer *fx;
    static classifier *model;
    feature_message msgs[4];
    size_t n = 0, at = 1;
    classifier_explanation e;
    seen a = {0}, b = {0};
    double score;

    if (!fx) {
        static float w[FEATURES_DIM];
        for (size_t i = 0; i < FEATURES_DIM; i++) w[i] = (float)((int)(i % 13) - 6) / 4;
        fx = featurizer_new();
        model = classifier_new(-1.0, w, 1u << LANG_EN | 1u << LANG_DE);
        REQUIRE(fx && model);
    }
    if (size == 0) return 0;
    while (at <= size && n < 4) {
        const uint8_t *end = memchr(data + at, 0x1E, size - at);
        size_t len = end ? (size_t)(end - (data + at)) : size - at;
        msgs[n] = (feature_message){(data[0] >> n & 1) != 0, (const char *)data + at, len};
        n++;
        at += len + 1;
    }
    size_t ntools = data[0] >> 4;   /* the high bits: a number of tools */
    a.msgs = b.msgs = msgs;
    a.nmsgs = b.nmsgs = n;
    featurize(fx, msgs, n, ntools, true, check, &a);
    featurize(fx, msgs, n, ntools, false, check, &b);
    REQUIRE(a.n == b.n && a.sum == b.sum);
    score = classifier_score(model, msgs, n, ntools);
    /* Language identification reads the same untrusted text. */
    REQUIRE(classifier_language(model, msgs, n) < LANG_COUNT);
    REQUIRE(score >= 0 && score <= 1);
    REQUIRE(classifier_explain(model, msgs, n, ntools, &e) == 0);
    REQUIRE(e.score == score && e.n <= CLASSIFIER_TOP);
    REQUIRE(e.focus.turn <= n && e.focus.ncontext <= 4);
    for (size_t i = 0; i < e.n; i++) REQUIRE(e.top[i].turn >= -1 && e.top[i].turn < (long)n);
    return 0;
}
