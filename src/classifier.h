/* classifier: how complex is a request, as a score in [0,1].
 *
 * The score is a logistic function of features computed from the conversation:
 * length, turns, code, maths, and reasoning or writing cues in Chinese and
 * English.  It is pure and takes microseconds.  classifier_result keeps each
 * feature's value and its contribution to the logit so /v1/route can show why. */
#ifndef TIERGATE_CLASSIFIER_H
#define TIERGATE_CLASSIFIER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct classifier_message {
    bool user;           /* written by the user (vs system, assistant or tool) */
    const char *text;    /* UTF-8, not NUL-terminated */
    size_t len;
} classifier_message;

#define CLASSIFIER_NFEATURES 12

typedef struct classifier_result {
    double score;                                  /* in [0,1] */
    double feature[CLASSIFIER_NFEATURES];          /* raw feature values */
    double contribution[CLASSIFIER_NFEATURES];     /* weight * value, logit space */
} classifier_result;

void classifier_score(const classifier_message *msgs, size_t n, classifier_result *out);
/* Stable snake_case name of feature i (i < CLASSIFIER_NFEATURES). */
const char *classifier_feature_name(size_t i);

#endif
