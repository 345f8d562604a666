/* classifier: how complex is a request, as a score in [0,1].
 *
 * The score is a logistic regression over the features of featurize.h.  Its
 * weights are learned by tools/tiergate-train and live in a model file
 * (config/classifier.model).  A loaded model is immutable: its owner (main)
 * can load a new one and swap it in while requests still use the old.
 * classifier_score() is the per-request path: microseconds, no allocation.
 * classifier_explain() also names the features that contributed most, for
 * /v1/route.
 *
 * Model file, format version 3, little-endian (N = FEATURES_NNAMED,
 * H = 2^FEATURES_HASH_BITS):
 *
 *   offset     size   field
 *   0          4      magic "TGCM"
 *   4          4      u32 format version (3)
 *   8          4      u32 FEATURES_VERSION the model was trained with
 *   12         4      u32 dimension (FEATURES_DIM = N + H)
 *   16         4      u32 named features (N)
 *   20         4      u32 hash bits (FEATURES_HASH_BITS)
 *   24         8      f64 bias
 *   32         4      u32 learned languages: bit k for langid_lang k
 *   36         4      f32 step of the hashed weights (finite, >= 0)
 *   40         4*N    f32 weights of the named features
 *   40+4N      H      i8 q: the weight of hashed feature N+k is step * q[k]
 *   40+4N+H    4      u32 CRC-32 (IEEE 802.3) of every byte before it
 *
 * classifier_load_base() also reads a FEATURES_EXTENDS model, whose N is
 * FEATURES_EXTENDS_NNAMED.
 *
 * The learned languages are those the model was trained on (tiergate-train
 * records every language with enough training rows); the router applies
 * routing.unknown_language to a request in any other language. */
#ifndef TIERGATE_CLASSIFIER_H
#define TIERGATE_CLASSIFIER_H

#include <stdbool.h>
#include <stddef.h>

#include "featurize.h"
#include "langid.h"

typedef struct classifier classifier;

/* Reads and validates a model file.  On failure returns NULL and writes one
 * line naming path and what is wrong with it into err. */
classifier *classifier_load(const char *path, char *err, size_t errlen);
/* A model from parameters (FEATURES_DIM weights: the named ones copied, the
 * hashed ones rounded to the nearest multiple of the largest one's 1/127)
 * and the set of languages it learned; NULL when out of memory or a
 * parameter is not finite. */
classifier *classifier_new(double bias, const float *weights, langid_set languages);
/* Reads a model file as classifier_load() does, and also one trained with
 * FEATURES_EXTENDS, whose missing named features (second-stage ones) weigh
 * 0: the base of tiergate-train --base, which refits the second-stage
 * weights.
 * The gateway loads with classifier_load(), which refuses an older version. */
classifier *classifier_load_base(const char *path, char *err, size_t errlen);
/* A copy of base with the named weights named[0..FEATURES_NNAMED) and
 * base's bias, hashed weights and languages, bit for bit; NULL when out of
 * memory or a weight is not finite. */
classifier *classifier_with_named(const classifier *base, const float *named);
/* Writes the model file atomically (a temporary file renamed over path).
 * Returns 0, or -1 with err filled. */
int classifier_save(const classifier *m, const char *path, char *err, size_t errlen);
void classifier_free(classifier *m);

double classifier_bias(const classifier *m);
/* The languages the model learned (LANG_UND never among them). */
langid_set classifier_languages(const classifier *m);
/* The language of a conversation (langid_detect), and whether the model
 * learned it: LANG_UND counts as learned, since nothing says it is not. */
langid_lang classifier_language(const classifier *m, const feature_message *msgs, size_t n);
bool classifier_learned(const classifier *m, langid_lang lang);
/* The weight of feature index (< FEATURES_DIM), as the score uses it. */
double classifier_weight(const classifier *m, uint32_t index);

/* The complexity score of a conversation whose request carries ntools tool
 * definitions (see featurize). */
double classifier_score(const classifier *m, const feature_message *msgs, size_t n, size_t ntools);

#define CLASSIFIER_TOP 8
#define CLASSIFIER_NAME_MAX 64

typedef struct classifier_contribution {
    char name[CLASSIFIER_NAME_MAX];   /* feature_display() of the feature */
    double contribution;              /* weight * value, in logit units */
    long turn;                        /* index of the message it was first seen in;
                                         -1: a feature of the whole request */
} classifier_contribution;

typedef struct classifier_explanation {
    double score;                     /* equal to classifier_score() */
    double bias;                      /* logit = bias + every contribution */
    feature_focus focus;              /* which turns were read, and how */
    size_t n;                         /* entries of top */
    classifier_contribution top[CLASSIFIER_TOP];   /* largest |contribution| first */
} classifier_explanation;

/* The score and the features that moved it most.  An n-gram is named by its
 * first occurrence; n-grams that share a hash bucket share a line.  Returns
 * 0, or -1 when out of memory. */
int classifier_explain(const classifier *m, const feature_message *msgs, size_t n, size_t ntools,
                       classifier_explanation *out);

#endif
