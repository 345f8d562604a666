/* featseen: what test_featurize and test_plans share: a record of every
 * occurrence one featurize() call passes on, with its display name, and
 * lookups by name.  Every text is copied into a heap block of exactly its
 * length, without a terminating NUL, so that AddressSanitizer catches any
 * read past len. */
#ifndef TIERGATE_FEATSEEN_H
#define TIERGATE_FEATSEEN_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "featurize.h"
#include "testlib.h"

#define MAX_SEEN 16384

/* Every occurrence of one featurize() call, with its display name. */
typedef struct seen {
    size_t n, batches;
    bool origins_ok;
    feature f[MAX_SEEN];
    char name[MAX_SEEN][80];
} seen;

static featurizer *fx;

static inline void record(void *ctx, const feature *f, const feature_origin *o, size_t n)
{
    seen *s = ctx;

    s->batches++;
    if (n == 0 || !o) s->origins_ok = false;
    for (size_t i = 0; i < n && s->n < MAX_SEEN; i++, s->n++) {
        s->f[s->n] = f[i];
        if (o) feature_display(&f[i], &o[i], s->name[s->n], sizeof s->name[s->n]);
    }
}

/* Featurizes a conversation of texts (user turns unless roles says
 * otherwise: 'u' user, 's' system, 'a' assistant), each in an exact-size
 * heap block, whose request carries ntools tools. */
static inline void conv_tools(seen *s, const char *roles, const char *const *texts, const size_t *lens, size_t n,
                       size_t ntools)
{
    feature_message m[8] = {{0}};

    CHECK(n <= 8);
    s->n = s->batches = 0;
    s->origins_ok = true;
    for (size_t i = 0; i < n; i++) {
        size_t len = lens ? lens[i] : strlen(texts[i]);
        char *copy = malloc(len ? len : 1);
        CHECK(copy != NULL);
        if (!copy) abort();
        memcpy(copy, texts[i], len);
        m[i] = (feature_message){!roles || roles[i] == 'u', copy, len};
    }
    featurize(fx, m, n, ntools, true, record, s);
    CHECK(s->n < MAX_SEEN);   /* record() kept every occurrence */
    for (size_t i = 0; i < n; i++) free((char *)m[i].text);
}

static inline void conv(seen *s, const char *roles, const char *const *texts, const size_t *lens, size_t n)
{
    conv_tools(s, roles, texts, lens, n, 0);
}

static inline void text(seen *s, const char *t) { conv(s, NULL, &t, NULL, 1); }

static inline void bytes(seen *s, const char *t, size_t len) { conv(s, NULL, &t, &len, 1); }

/* Sum of the values of the occurrences named name (0 when none). */
static inline double value(const seen *s, const char *name)
{
    double v = 0;

    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->name[i], name) == 0) v += s->f[i].value;
    return v;
}

static inline bool has(const seen *s, const char *name) { return value(s, name) != 0; }

static inline size_t count_kind(const seen *s, const char *prefix)
{
    size_t c = 0;

    for (size_t i = 0; i < s->n; i++) c += strncmp(s->name[i], prefix, strlen(prefix)) == 0;
    return c;
}

/* Whether a and b hold the same occurrences in the same order. */
static inline bool same(const seen *a, const seen *b)
{
    if (a->n != b->n) return false;
    for (size_t i = 0; i < a->n; i++)
        if (a->f[i].index != b->f[i].index || a->f[i].value != b->f[i].value) return false;
    return true;
}

/* The index that name has in s, or UINT32_MAX. */
static inline uint32_t index_of(const seen *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->name[i], name) == 0) return s->f[i].index;
    return UINT32_MAX;
}

static inline bool sane(const seen *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->f[i].index >= FEATURES_DIM || !isfinite(s->f[i].value)) return false;
    return s->origins_ok;
}

static inline double named(const seen *s, const char *name) { return value(s, name); }

/* Every n-gram of a turn is worth weight / characters^0.4: a long text
 * does not pile up weight. */
static inline double unit(double chars) { return pow(chars, -FEATURES_NGRAM_NORM); }

#endif
