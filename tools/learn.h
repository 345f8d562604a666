/* learn: training the classifier and measuring it, shared by tiergate-train
 * and tiergate-evaluate so that a leave-one-source-out model is trained
 * exactly like the shipped one and every figure is computed one way.
 *
 * Training is logistic regression by AdaGrad stochastic gradient descent
 * with L2 regularisation, public rows weighted against the project's own,
 * classes weighted to equal total weight, and the
 * visiting order shuffled by a seeded generator: the same rows, parameters
 * and seed give the same model, bit for bit.
 *
 * Figures treat "complex" as the positive class: a complex request scored
 * below the threshold is "kept on the device"; a request at or above it is
 * "sent to the cloud".  Tables are printed as Markdown. */
#ifndef TIERGATE_TOOLS_LEARN_H
#define TIERGATE_TOOLS_LEARN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "classifier.h"
#include "dataset.h"

typedef struct learn_params {
    uint64_t seed;
    unsigned epochs;
    double rate;       /* AdaGrad base step */
    double l2;         /* L2 strength per update of a feature */
    double public_weight; /* weight of a public row (learn_project_row() false); the project's rows weigh 1 */
} learn_params;

/* --public-weight's range: outside it one kind of row drowns the other, or
 * a class's weight underflows. */
#define LEARN_PUBLIC_WEIGHT_MIN 0.01
#define LEARN_PUBLIC_WEIGHT_MAX 100

#define LEARN_DEFAULT_SEED 20241122u
#define LEARN_DEFAULTS {LEARN_DEFAULT_SEED, 40, 0.3, 1e-4, 3.0}

/* A language with at least this many training rows counts as learned (the
 * model file records it; see routing.unknown_language). */
#define LEARN_LANGUAGE_ROWS 100

/* The project's own rows have sources that start with this ("tiergate" for
 * its training files, "tiergate-eval" and "tiergate-conv-eval" for its
 * evaluation sets); a row without a source reads as "unknown", a public
 * one. */
#define LEARN_PROJECT_SOURCE "tiergate"
/* Whether the row is the project's own, not a public dataset's. */
bool learn_project_row(const example *e);

/* Trains on rows[0..n) (n > 0).  NULL when out of memory. */
classifier *learn_train(const example *const *rows, size_t n, const learn_params *p);

/* --prior's default, chosen on the development rounds: the best accuracy on
 * the left-out rounds' rows with a second-stage feature, a tie to the
 * larger prior (docs/classifier.md, "Since: the fourteenth sets", chosen
 * again in "Since: the fifteenth sets" and "Since: the sixteenth sets"). */
#define LEARN_REFIT_PRIOR 0.3

/* Whether e has a second-stage feature (feature_second_stage()): it
 * carries tools, asks for a figure or a choice over figures, or states
 * three numbers or more. */
bool learn_second_stage_row(const example *e);

/* The second stage of a model: base's weights, with the second-stage named
 * features (feature_second_stage()) refitted on the rows of rows[0..n)
 * that have one, by Newton's method on the class-balanced log loss with
 * the penalty prior/2 times the squared distance from base's weights.
 * Every other weight, the bias and the languages are base's, bit for bit,
 * so the model scores every request without a second-stage feature as base
 * does.  The rows should be ones base was not trained on: its scores on its
 * own rows are too good to learn a correction from.  prior is finite and
 * > 0.  *used receives the number of rows with a second-stage feature;
 * NULL when it is 0, or (*used > 0) when out of memory or a weight came out
 * not finite. */
classifier *learn_refit(const classifier *base, const example *const *rows, size_t n, double prior, size_t *used);

/* A scored example, for the figures. */
typedef struct scored {
    double score;
    int label;           /* 1: complex */
    char lang[4];        /* as example.lang */
    const char *source;  /* borrowed from the example */
    const char *category;
} scored;

/* Confusion counts at a threshold, and the ROC AUC (NaN with one class). */
typedef struct learn_eval {
    size_t n, simple, complex;
    size_t tp, fp, tn, fn;    /* positive: complex, predicted score >= threshold */
    double auc;
} learn_eval;

void learn_measure(const scored *s, size_t n, double threshold, learn_eval *out);

void learn_print_header(FILE *out);
void learn_print_row(FILE *out, const char *name, const learn_eval *e);
/* The cost/quality table over thresholds 0.05 .. 0.95: share sent to the
 * cloud, share of complex requests kept on the device (overall, English,
 * Chinese), share of simple requests sent to the cloud, accuracy. */
void learn_print_sweep(FILE *out, const scored *s, size_t n);

/* Rows "all", "en", "zh" and, when by_source, one per source in order of
 * first appearance: learn_print_row() of each group at threshold. */
void learn_print_groups(FILE *out, const scored *s, size_t n, double threshold, bool by_source);
/* One row per "source category" (per "source category lang" when by_lang),
 * in order of first appearance. */
void learn_print_categories(FILE *out, const scored *s, size_t n, double threshold, bool by_lang);

/* A tool's own options: consumes argv[*i] (and its value, moving *i) and
 * returns true, or returns false when argv[*i] is not one of them. */
typedef bool (*learn_own_option_fn)(void *ctx, int argc, char **argv, int *i);

typedef enum learn_args_result {
    LEARN_ARGS_OK,       /* read; files loaded into the dataset */
    LEARN_ARGS_HELP,     /* --help: print the usage, exit 0 */
    LEARN_ARGS_USAGE,    /* an unknown option: print the usage, exit 2 */
    LEARN_ARGS_ERROR     /* a bad value or a file that did not load: said on stderr, exit 1 */
} learn_args_result;

/* The tools' command line: the training options (--seed, --epochs, --rate,
 * --l2) into p, the tool's own through own(ctx, ...), and every other
 * argument a JSONL file loaded into d (featurized by fx), counted in
 * *nfiles.  Messages on stderr start with tool. */
learn_args_result learn_args(int argc, char **argv, const char *tool, learn_params *p, const featurizer *fx,
                             dataset *d, int *nfiles, learn_own_option_fn own, void *ctx);
#define LEARN_OPTIONS_HELP \
    "  --seed N     shuffling seed (default %u)\n" \
    "  --epochs N   passes over the data (default %u)\n" \
    "  --rate R     AdaGrad step (default %g)\n" \
    "  --l2 L       L2 regularisation (default %g)\n" \
    "  --public-weight W  weight of a public row against the project's own (default %g)\n"

/* Fold of id in k-fold cross-validation with this seed, in [0, k). */
unsigned learn_fold(const char *id, uint64_t seed, unsigned k);

#endif
