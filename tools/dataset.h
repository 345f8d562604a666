/* dataset: labelled JSONL examples for the classifier tools, with the rules
 * that decide what may be trained on.
 *
 * One JSON object per line: "text" (a single user message) or "messages"
 * (an OpenAI-style conversation of {"role","content"}: any role; content a
 * string, an array of text parts, or null for an assistant turn that only
 * calls tools), optionally "tools" (the request's tool definitions, an
 * array, counted as the gateway counts them), "label" ("simple" or
 * "complex"), and optionally "id", "lang" (a two-letter code, else detected),
 * "source", "category" and "licence".  Every example is featurized once at
 * load time with the gateway's own featurize(), so training and evaluation
 * see exactly what the gateway sees.
 *
 * Two rules live here and nowhere else:
 * - Licence: only rows whose licence is permissive (CC-BY-3.0, CC-BY-SA-3.0,
 *   Apache-2.0, MIT) or the project's own ("tiergate") may be trained on.
 *   Anything else, a missing licence included, is evaluation-only, and so
 *   is a licence that says "evaluation only", "evaluation-only" or "eval
 *   only" (any case; a space, '-' or '_') whatever it starts with: the project's evaluation sets (lang-eval.jsonl,
 *   conversations-eval.jsonl) say so.
 * - The fixed held-out part: a row is held out when the FNV-1a 32-bit hash of
 *   its id is 0 modulo 5 (about a fifth), so the split never changes when
 *   rows are added or reordered. */
#ifndef TIERGATE_TOOLS_DATASET_H
#define TIERGATE_TOOLS_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "featurize.h"

typedef struct example {
    char *id, *source, *category;
    char lang[4];                /* two-letter code: the row's "lang", else langid_detect()'s
                                    ("und" for an undetermined one) */
    int label;                   /* 1: complex, 0: simple */
    bool trainable;              /* the licence allows training */
    bool held_out;               /* in the fixed held-out part */
    feature_message *msgs;       /* owned, texts included */
    size_t nmsgs;
    size_t ntools;               /* entries of the row's "tools" array */
    uint32_t *index;             /* the feature vector: nnz (index, value) */
    double *value;               /* pairs, indexes ascending and unique */
    size_t nnz;
} example;

typedef struct dataset {
    example *rows;
    size_t n, cap;
} dataset;

/* Appends the examples of the JSONL file at path to d.  Returns 0, or -1 with
 * err naming the file and line. */
int dataset_load(dataset *d, const char *path, const featurizer *fx, char *err, size_t errlen);
void dataset_free(dataset *d);

bool dataset_licence_trainable(const char *licence);
bool dataset_id_held_out(const char *id);

#endif
