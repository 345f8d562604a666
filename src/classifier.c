/* classifier: the learned model, its file, and scoring.
 *
 * Design choices and their trade-offs:
 *
 * - A linear model.  Logistic regression over hashed n-grams and a few dozen
 *   named features scores a 2 KB prompt in microseconds with one table of
 *   weights, is trained in seconds by a small C program, and explains itself:
 *   every feature's contribution is its weight times its value, and they sum
 *   to the logit.  A deeper model would buy some accuracy on benchmark-style
 *   prompts at the price of all three.
 *
 * - Dense weights, the hashed ones in 8 bits.  The model is a table indexed
 *   by feature, not a sparse map: the hot path is one load per n-gram.  Ten
 *   languages and conversations filled 2^16 hash slots (85 % of them in use,
 *   n-grams of different languages sharing weights); 2^20 slots leave about
 *   one in nine in use, and the development figures rose at each size tried,
 *   2^17, 2^18 and 2^20 (docs/classifier.md, "How the model was built").  As
 *   floats that table would be 4 MB; as one step times a signed byte it is
 *   1 MB, and rounding to the nearest step changed one development row of
 *   4,200.  The named features, few and of every scale, stay floats.
 *   Training in double and storing float changes their contributions by
 *   about 1e-7.
 *
 * - A self-checking file.  The header repeats the feature dimensions and the
 *   feature version, so a model trained for another extraction is refused
 *   instead of silently reading the wrong weights; a CRC-32 over the whole
 *   file catches truncation and bit rot.  Saving writes a temporary file and
 *   renames it, so a reader never sees half a model.  The one reader that
 *   takes an older version, classifier_load_base(), is the trainer's: a
 *   version that FEATURES_EXTENDS names reads every request the same way,
 *   less the second-stage features it lacks, whose weights it refits.
 *
 * - Explanations off the hot path.  classifier_score() only sums.
 *   classifier_explain() collects every occurrence, merges them by index and
 *   keeps the largest; it allocates, which is fine for /v1/route. */
#include "classifier.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32.h"
#include "langid.h"

#define MODEL_MAGIC "TGCM"
#define MODEL_VERSION 3u
#define HEADER_BYTES 40u
#define HASHED (1u << FEATURES_HASH_BITS)
#define HEAD_BYTES (HEADER_BYTES + 4u * FEATURES_NNAMED)   /* all before the hashed weights */
/* The same of a FEATURES_EXTENDS model, which classifier_load_base() reads. */
#define BASE_HEAD_BYTES (HEADER_BYTES + 4u * FEATURES_EXTENDS_NNAMED)

_Static_assert(FEATURES_EXTENDS_NNAMED <= FEATURES_NNAMED, "a version extends one with fewer named features");
#define QMAX 127   /* a hashed weight is step * q, |q| <= QMAX */

struct classifier {
    featurizer *fx;
    langid *id;
    langid_set languages;
    double bias;
    float named[FEATURES_NNAMED];
    float step;
    int8_t q[HASHED];
};

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int k = 0; k < 4; k++) p[k] = (unsigned char)(v >> (8 * k));
}

static uint64_t get64(const unsigned char *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }

static void put64(unsigned char *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

/* The weight of feature i. */
static inline double weight_of(const classifier *m, uint32_t i)
{
    assert(i < FEATURES_DIM);
    return i < FEATURES_NNAMED ? (double)m->named[i] : (double)m->step * m->q[i - FEATURES_NNAMED];
}

/* A model with its hashed weights zero, for the caller to fill; step
 * finite and >= 0. */
static classifier *model_new(double bias, const float *named, float step, langid_set languages)
{
    classifier *m;

    assert(isfinite(step) && step >= 0);
    m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->fx = featurizer_new();
    m->id = langid_new();
    if (!m->fx || !m->id) {
        classifier_free(m);
        return NULL;
    }
    /* Languages this build cannot name (a file from a newer trainer) are
     * left out: a request is never identified as one of them. */
    m->languages = languages & ~(1u << LANG_UND) & (LANG_COUNT < 32 ? (1u << LANG_COUNT) - 1 : ~0u);
    m->bias = bias;
    memcpy(m->named, named, sizeof m->named);
    m->step = step;
    return m;
}

classifier *classifier_new(double bias, const float *weights, langid_set languages)
{
    const float *hashed;
    classifier *m;
    float top = 0, step;

    assert(weights != NULL);
    hashed = weights + FEATURES_NNAMED;
    if (!isfinite(bias)) return NULL;
    for (size_t i = 0; i < FEATURES_DIM; i++)
        if (!isfinite(weights[i])) return NULL;
    /* A compare, not fmax(): Debian's aarch64 gcc 12 crashes vectorising an
     * fmax reduction (internal compiler error in vect_transform_reduction). */
    for (size_t i = 0; i < HASHED; i++)
        if (fabsf(hashed[i]) > top) top = fabsf(hashed[i]);
    step = (float)((double)top / QMAX);
    if (!(m = model_new(bias, weights, step, languages))) return NULL;
    /* Round to the nearest step; the clamp only catches the largest weight
     * when the float step came out a hair smaller than top / QMAX. */
    for (size_t i = 0; step > 0 && i < HASHED; i++) {
        long k = lrint(hashed[i] / (double)step);
        m->q[i] = (int8_t)(k > QMAX ? QMAX : k < -QMAX ? -QMAX : k);
    }
    return m;
}

void classifier_free(classifier *m)
{
    if (!m) return;
    featurizer_free(m->fx);
    langid_free(m->id);
    free(m);
}

double classifier_bias(const classifier *m) { return m->bias; }

langid_set classifier_languages(const classifier *m) { return m->languages; }

langid_lang classifier_language(const classifier *m, const feature_message *msgs, size_t n)
{
    assert(m != NULL);
    return langid_detect(m->id, msgs, n);
}

bool classifier_learned(const classifier *m, langid_lang lang)
{
    return lang == LANG_UND || (m->languages >> lang & 1);
}

double classifier_weight(const classifier *m, uint32_t index)
{
    assert(m != NULL);
    return weight_of(m, index);
}

/* Checks that head (n bytes read) starts a model this build reads:
 * magic, version, dimensions, length; with base, also a model of
 * FEATURES_EXTENDS.  *nnamed receives its named features.  false with err
 * filled. */
static bool check_layout(const unsigned char *head, size_t n, bool base, uint32_t *nnamed, const char *path,
                         char *err, size_t errlen)
{
    uint32_t version, fversion, dim, named, hbits;
    bool extends;

    if (n < HEADER_BYTES || memcmp(head, MODEL_MAGIC, 4) != 0) {
        snprintf(err, errlen, "%s: not a tiergate classifier model (%s)", path,
                 n < HEADER_BYTES ? "file too short" : "bad magic");
        return false;
    }
    version = get32(head + 4);
    fversion = get32(head + 8);
    dim = get32(head + 12);
    named = get32(head + 16);
    hbits = get32(head + 20);
    if (version != MODEL_VERSION) {
        snprintf(err, errlen, "%s: model format version %u, this build reads version %u", path, version,
                 MODEL_VERSION);
        return false;
    }
    extends = base && fversion == FEATURES_EXTENDS && named == FEATURES_EXTENDS_NNAMED &&
              dim == FEATURES_EXTENDS_NNAMED + HASHED && hbits == FEATURES_HASH_BITS;
    if (!extends && (fversion != FEATURES_VERSION || dim != FEATURES_DIM || named != FEATURES_NNAMED ||
                     hbits != FEATURES_HASH_BITS)) {
        snprintf(err, errlen,
                 "%s: model is for features v%u with %u dimensions (%u named, %u hash bits), this build "
                 "extracts v%d with %u (%d named, %d hash bits); retrain it with tiergate-train",
                 path, fversion, dim, named, hbits, FEATURES_VERSION, FEATURES_DIM, FEATURES_NNAMED,
                 FEATURES_HASH_BITS);
        return false;
    }
    *nnamed = named;
    return true;
}

/* Reads the bias, the step and the nnamed named weights of a checked head
 * into m (the others stay 0); false with err filled when one is not a
 * number a model may hold. */
static bool take_values(classifier *m, const unsigned char *head, uint32_t nnamed, const char *path, char *err,
                        size_t errlen)
{
    uint64_t bits = get64(head + 24);
    uint32_t v = get32(head + 36);

    memcpy(&m->bias, &bits, sizeof m->bias);
    memcpy(&m->step, &v, sizeof m->step);
    for (size_t i = 0; i < nnamed; i++) {
        v = get32(head + HEADER_BYTES + 4 * i);
        memcpy(&m->named[i], &v, sizeof v);
        if (!isfinite(m->named[i])) {
            snprintf(err, errlen, "%s: weight %zu is not a finite number", path, i);
            return false;
        }
    }
    if (!isfinite(m->bias)) {
        snprintf(err, errlen, "%s: the bias is not a finite number", path);
        return false;
    }
    if (!(isfinite(m->step) && m->step >= 0)) {
        snprintf(err, errlen, "%s: the step of the hashed weights is not a finite number >= 0", path);
        return false;
    }
    return true;
}

/* Reads the rest of the file after a checked head into m: the hashed
 * weights straight into the model, then the checksum, which must be the
 * last four bytes and match.  false with err filled. */
static bool read_rest(FILE *f, classifier *m, const unsigned char *head, size_t n, const char *path, char *err,
                      size_t errlen)
{
    unsigned char tail[5];   /* one byte more than the checksum, so that trailing data shows */
    size_t q = fread(m->q, 1, HASHED, f), t = q == HASHED ? fread(tail, 1, sizeof tail, f) : 0;
    size_t bytes = n + HASHED + 4;

    assert(n == HEAD_BYTES || n == BASE_HEAD_BYTES);

    if (ferror(f))
        snprintf(err, errlen, "%s: cannot read the classifier model: %s", path, strerror(errno));
    else if (q < HASHED || t < 4)
        snprintf(err, errlen, "%s: truncated: %zu bytes, a model has %zu", path, n + q + t, bytes);
    else if (t > 4)
        snprintf(err, errlen, "%s: trailing data: more than the %zu bytes of a model", path, bytes);
    else if (crc32_ieee_more(crc32_ieee(head, n), m->q, HASHED) != get32(tail))
        snprintf(err, errlen, "%s: checksum mismatch: the file is corrupt", path);
    else
        return true;
    return false;
}

/* The file is read in four pieces (header, named weights, hashed weights,
 * checksum), the hashed weights straight into the
 * model: a megabyte read into a buffer first would cost a second megabyte
 * while loading, and glibc, having given it back, raises its threshold for
 * mapping large blocks and keeps later ones of that size on the heap.  The
 * checksum is checked before any value is taken, so that bit rot is called
 * bit rot.  Any signed byte is a hashed weight, -128 included: the trainer
 * never writes it, but refusing it would buy nothing. */
static classifier *load(const char *path, bool base, char *err, size_t errlen)
{
    static const float unset[FEATURES_NNAMED];
    unsigned char head[HEAD_BYTES];
    classifier *m = NULL;
    uint32_t nnamed = 0;
    FILE *f;
    size_t n, want;

    assert(path != NULL && err != NULL);
    if (!(f = fopen(path, "rb"))) {
        snprintf(err, errlen, "%s: cannot open the classifier model: %s", path, strerror(errno));
        return NULL;
    }
    n = fread(head, 1, HEADER_BYTES, f);
    if (ferror(f)) {
        snprintf(err, errlen, "%s: cannot read the classifier model: %s", path, strerror(errno));
    } else if (check_layout(head, n, base, &nnamed, path, err, errlen)) {
        want = HEADER_BYTES + 4u * nnamed;
        n += fread(head + n, 1, want - n, f);
        if (ferror(f))
            snprintf(err, errlen, "%s: cannot read the classifier model: %s", path, strerror(errno));
        else if (n < want)
            snprintf(err, errlen, "%s: truncated: %zu bytes, a model has %zu", path, n, want + HASHED + 4);
        else if (!(m = model_new(0, unset, 0, get32(head + 32))))
            snprintf(err, errlen, "%s: out of memory", path);
        else if (!read_rest(f, m, head, n, path, err, errlen) ||
                 !take_values(m, head, nnamed, path, err, errlen)) {
            classifier_free(m);
            m = NULL;
        }
    }
    fclose(f);
    return m;
}

classifier *classifier_load(const char *path, char *err, size_t errlen) { return load(path, false, err, errlen); }

classifier *classifier_load_base(const char *path, char *err, size_t errlen) { return load(path, true, err, errlen); }

classifier *classifier_with_named(const classifier *base, const float *named)
{
    classifier *m;

    assert(base != NULL && named != NULL);
    for (size_t i = 0; i < FEATURES_NNAMED; i++)
        if (!isfinite(named[i])) return NULL;
    if (!(m = model_new(base->bias, named, base->step, base->languages))) return NULL;
    memcpy(m->q, base->q, sizeof m->q);
    return m;
}

/* The file's bytes before the hashed weights, for m. */
static void put_head(const classifier *m, unsigned char head[HEAD_BYTES])
{
    uint64_t bits;
    uint32_t v;

    memcpy(head, MODEL_MAGIC, 4);
    put32(head + 4, MODEL_VERSION);
    put32(head + 8, FEATURES_VERSION);
    put32(head + 12, FEATURES_DIM);
    put32(head + 16, FEATURES_NNAMED);
    put32(head + 20, FEATURES_HASH_BITS);
    memcpy(&bits, &m->bias, sizeof bits);
    put64(head + 24, bits);
    put32(head + 32, m->languages);
    memcpy(&v, &m->step, sizeof v);
    put32(head + 36, v);
    for (size_t i = 0; i < FEATURES_NNAMED; i++) {
        memcpy(&v, &m->named[i], sizeof v);
        put32(head + HEADER_BYTES + 4 * i, v);
    }
}

int classifier_save(const classifier *m, const char *path, char *err, size_t errlen)
{
    unsigned char head[HEAD_BYTES], crc[4];
    char *tmp = malloc(strlen(path) + 5);
    FILE *f = NULL;
    int rc = -1;
    bool created = false;

    if (!tmp) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    put_head(m, head);
    put32(crc, crc32_ieee_more(crc32_ieee(head, sizeof head), m->q, HASHED));
    sprintf(tmp, "%s.tmp", path);
    created = (f = fopen(tmp, "wb")) != NULL;
    if (!f || fwrite(head, 1, sizeof head, f) != sizeof head || fwrite(m->q, 1, HASHED, f) != HASHED ||
        fwrite(crc, 1, sizeof crc, f) != sizeof crc || fflush(f) != 0) {
        snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
        goto out;
    }
    if (fclose(f) != 0) {
        f = NULL;
        snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
        goto out;
    }
    f = NULL;
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: cannot rename %s over it: %s", path, tmp, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (f) fclose(f);
    if (rc != 0 && created) remove(tmp);
    free(tmp);
    return rc;
}

static double logistic(double x) { return 1.0 / (1.0 + exp(-x)); }

/* The logit, summed the same way (batch by batch, in the order featurize
 * gives them) by every caller, so that score and explanation agree to the
 * last bit. */
typedef struct sum {
    const classifier *m;
    double logit;
} sum;

static void add(void *ctx, const feature *f, const feature_origin *origin, size_t n)
{
    sum *s = ctx;
    const classifier *m = s->m;
    double a[4] = {0, 0, 0, 0};
    size_t i = 0;

    (void)origin;
    /* Four partial sums: one would make every addition wait for the one
     * before it, and a Chinese prompt has thousands. */
    for (; i + 4 <= n; i += 4)
        for (size_t k = 0; k < 4; k++) a[k] += weight_of(m, f[i + k].index) * f[i + k].value;
    for (; i < n; i++) a[0] += weight_of(m, f[i].index) * f[i].value;
    s->logit += (a[0] + a[1]) + (a[2] + a[3]);
}

double classifier_score(const classifier *m, const feature_message *msgs, size_t n, size_t ntools)
{
    sum s;

    assert(m != NULL);
    s = (sum){m, m->bias};
    featurize(m->fx, msgs, n, ntools, false, add, &s);
    return logistic(s.logit);
}

typedef struct occurrence {
    feature f;
    feature_origin o;
    size_t seq;    /* order of appearance: the first names the merged line */
} occurrence;

typedef struct collect {
    sum s;
    occurrence *v;
    size_t n, cap;
    bool oom;
} collect;

static void add_and_keep(void *ctx, const feature *f, const feature_origin *origin, size_t n)
{
    collect *c = ctx;

    assert(origin != NULL);
    add(&c->s, f, origin, n);
    if (c->oom) return;
    if (c->n + n > c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 256;
        occurrence *v;
        while (cap < c->n + n) cap *= 2;
        if (!(v = realloc(c->v, cap * sizeof *v))) {
            c->oom = true;
            return;
        }
        c->v = v;
        c->cap = cap;
    }
    for (size_t i = 0; i < n; i++, c->n++) c->v[c->n] = (occurrence){f[i], origin[i], c->n};
}

static int by_index(const void *a, const void *b)
{
    const occurrence *x = a, *y = b;

    if (x->f.index != y->f.index) return x->f.index < y->f.index ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Puts a feature (named after its first occurrence) and its contribution
 * into the top list, when it is among the CLASSIFIER_TOP largest by
 * magnitude. */
/* The message of msgs[0..n) that origin o points into, or -1. */
static long turn_of(const feature_origin *o, const feature_message *msgs, size_t n)
{
    uintptr_t at = (uintptr_t)o->text;

    for (size_t i = 0; o->text && i < n; i++) {
        uintptr_t start = (uintptr_t)msgs[i].text;
        if (at >= start && at <= start + msgs[i].len) return (long)i;
    }
    return -1;
}

static void keep_top(classifier_explanation *out, const occurrence *first, double contribution, long turn)
{
    size_t i = out->n < CLASSIFIER_TOP ? out->n++ : CLASSIFIER_TOP;

    if (i == CLASSIFIER_TOP && fabs(contribution) <= fabs(out->top[CLASSIFIER_TOP - 1].contribution)) return;
    if (i == CLASSIFIER_TOP) i--;
    while (i > 0 && fabs(out->top[i - 1].contribution) < fabs(contribution)) {
        out->top[i] = out->top[i - 1];
        i--;
    }
    feature_display(&first->f, &first->o, out->top[i].name, sizeof out->top[i].name);
    out->top[i].contribution = contribution;
    out->top[i].turn = turn;
}

int classifier_explain(const classifier *m, const feature_message *msgs, size_t n, size_t ntools,
                       classifier_explanation *out)
{
    collect c = {0};

    assert(m != NULL && out != NULL);
    c.s = (sum){m, m->bias};
    featurize(m->fx, msgs, n, ntools, true, add_and_keep, &c);
    memset(out, 0, sizeof *out);
    featurize_focus(msgs, n, &out->focus);
    out->score = logistic(c.s.logit);
    out->bias = m->bias;
    if (c.oom) {
        free(c.v);
        return -1;
    }
    if (c.n > 0) qsort(c.v, c.n, sizeof *c.v, by_index);
    for (size_t i = 0; i < c.n;) {
        size_t j = i;
        double value = 0, w = weight_of(m, c.v[i].f.index);

        while (j < c.n && c.v[j].f.index == c.v[i].f.index) value += c.v[j++].f.value;
        if (w != 0 && value != 0) keep_top(out, &c.v[i], w * value, turn_of(&c.v[i].o, msgs, n));
        i = j;
    }
    free(c.v);
    return 0;
}
