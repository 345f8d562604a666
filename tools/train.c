/* tiergate-train: learns the complexity classifier from labelled JSONL and
 * writes the model file the gateway loads.
 *
 * What it trains on is decided by dataset.h's two rules, not by options:
 * rows whose licence does not allow training are never used, and the fixed
 * held-out part is left out unless --all says otherwise, so that the shipped
 * model can be evaluated on rows it has not seen.  --cv K first runs k-fold
 * cross-validation over the training rows only; that is where the default
 * threshold is chosen, without touching any evaluation row.  --base FILE
 * trains no new model: it refits FILE's second-stage weights on the rows of
 * DATA that have a second-stage feature (learn_refit()), and checks that
 * every other row scores as under FILE, bit for bit. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifier.h"
#include "dataset.h"
#include "learn.h"

static const char usage[] =
    "usage: tiergate-train [options] DATA.jsonl...\n"
    "\n"
    "Trains the classifier on the rows of DATA whose licence allows it, without the\n"
    "fixed held-out part, and writes the model file.\n"
    "\n"
    "  --out FILE   write the model here (config/classifier.model ships)\n"
    "  --all        also train on the held-out part (its figures are then void)\n"
    "  --cv K       k-fold cross-validation over the training rows first\n"
    "  --threshold T  threshold of the cross-validation figures (default 0.5)\n"
    "  --categories with --cv: also the figures by source and category\n"
    "  --base FILE  refit only FILE's second-stage weights (it names them), on\n"
    "               DATA's rows that have one (rows FILE was not trained on);\n"
    "               FILE may be of features v%d\n"
    "  --prior P    with --base: pull toward FILE's weights (default %g)\n" LEARN_OPTIONS_HELP;

/* Cross-validation: figures for every training row, scored by a model that
 * did not see it. */
static int cross_validate(const example *const *rows, size_t n, unsigned k, const learn_params *p,
                          double threshold, bool categories)
{
    const example **train = malloc(n * sizeof *train);
    scored *s = malloc(n * sizeof *s);
    size_t ns = 0;
    int rc = -1;

    if (!train || !s) goto out;
    for (unsigned f = 0; f < k; f++) {
        size_t nt = 0;
        classifier *m;
        for (size_t i = 0; i < n; i++)
            if (learn_fold(rows[i]->id, p->seed, k) != f) train[nt++] = rows[i];
        if (nt == 0 || !(m = learn_train(train, nt, p))) goto out;
        for (size_t i = 0; i < n; i++) {
            const example *e = rows[i];
            if (learn_fold(e->id, p->seed, k) != f) continue;
            s[ns] = (scored){classifier_score(m, e->msgs, e->nmsgs, e->ntools), e->label, "", e->source, e->category};
            memcpy(s[ns++].lang, e->lang, sizeof s[0].lang);
        }
        classifier_free(m);
    }
    printf("\n### %u-fold cross-validation over the training rows (threshold %.2f)\n\n", k, threshold);
    learn_print_header(stdout);
    learn_print_groups(stdout, s, ns, threshold, true);
    printf("\n### Threshold sweep, %u-fold cross-validation\n\n", k);
    learn_print_sweep(stdout, s, ns);
    if (categories) {
        printf("\n### %u-fold cross-validation by category (threshold %.2f)\n\n", k, threshold);
        learn_print_header(stdout);
        learn_print_categories(stdout, s, ns, threshold, false);
    }
    rc = 0;
out:
    free(train);
    free(s);
    return rc;
}

typedef struct train_options {
    const char *out, *base;
    bool all, categories, prior_given;
    unsigned cv;
    double threshold, prior;
} train_options;

/* The names of the second-stage features, sep between them: the one list
 * is feature_second_stage(). */
static void print_second_stage(FILE *f, const char *sep)
{
    const char *between = "";

    for (uint32_t j = 0; j < FEATURES_NNAMED; j++)
        if (feature_second_stage(j)) {
            fprintf(f, "%s%s", between, feature_name(j));
            between = sep;
        }
}

/* --base: the refitted model, checked to score every row without a
 * second-stage feature as base does; NULL with a message on stderr. */
static classifier *refit(const train_options *o, const dataset *d, const example *const *rows, size_t n)
{
    char err[512];
    classifier *base = classifier_load_base(o->base, err, sizeof err), *m = NULL;
    size_t used = 0, same = 0, other = 0;

    if (!base) {
        fprintf(stderr, "tiergate-train: %s\n", err);
        return NULL;
    }
    if (!(m = learn_refit(base, rows, n, o->prior, &used))) {
        if (used) {
            fprintf(stderr, "tiergate-train: out of memory, or a weight came out not finite\n");
        } else {
            fprintf(stderr, "tiergate-train: no training row has a second-stage feature (");
            print_second_stage(stderr, ", ");
            fprintf(stderr, ")\n");
        }
        goto out;
    }
    for (size_t i = 0; i < d->n; i++) {
        const example *e = &d->rows[i];
        if (learn_second_stage_row(e)) continue;
        other++;
        same += classifier_score(m, e->msgs, e->nmsgs, 0) == classifier_score(base, e->msgs, e->nmsgs, 0);
    }
    printf("refitted on %zu rows with a second-stage feature, prior %g:", used, o->prior);
    for (uint32_t j = 0; j < FEATURES_NNAMED; j++)
        if (feature_second_stage(j))
            printf(" %s %.3f -> %.3f", feature_name(j), classifier_weight(base, j), classifier_weight(m, j));
    printf("\nrows without a second-stage feature scored as under the base: %zu of %zu\n", same, other);
    if (same != other) {
        fprintf(stderr, "tiergate-train: the refitted model scores %zu rows without a second-stage feature "
                "differently\n", other - same);
        classifier_free(m);
        m = NULL;
    }
out:
    classifier_free(base);
    return m;
}

static bool train_option(void *ctx, int argc, char **argv, int *i)
{
    train_options *o = ctx;
    if (strcmp(argv[*i], "--out") == 0 && *i + 1 < argc) o->out = argv[++*i];
    else if (strcmp(argv[*i], "--base") == 0 && *i + 1 < argc) o->base = argv[++*i];
    else if (strcmp(argv[*i], "--prior") == 0 && *i + 1 < argc) {
        o->prior = atof(argv[++*i]);
        o->prior_given = true;
    }
    else if (strcmp(argv[*i], "--all") == 0) o->all = true;
    else if (strcmp(argv[*i], "--categories") == 0) o->categories = true;
    else if (strcmp(argv[*i], "--cv") == 0 && *i + 1 < argc) o->cv = (unsigned)atoi(argv[++*i]);
    else if (strcmp(argv[*i], "--threshold") == 0 && *i + 1 < argc) o->threshold = atof(argv[++*i]);
    else return false;
    return true;
}

int main(int argc, char **argv)
{
    learn_params p = LEARN_DEFAULTS;
    train_options o = {NULL, NULL, false, false, false, 0, 0.5, LEARN_REFIT_PRIOR};
    featurizer *fx = featurizer_new();
    dataset d = {0};
    const example **rows = NULL;
    size_t n = 0, research = 0, held = 0, own = 0;
    classifier *m = NULL;
    char err[512];
    int rc = 1, nfiles = 0;

    if (!fx) return 1;
    learn_args_result r = learn_args(argc, argv, "tiergate-train", &p, fx, &d, &nfiles, train_option, &o);
    if (r == LEARN_ARGS_ERROR) goto out;
    if (r != LEARN_ARGS_OK || nfiles == 0 || (!o.out && o.cv < 2) || o.cv == 1 ||
        (o.base && (!o.out || o.cv)) || (o.prior_given && !o.base) ||
        !(isfinite(o.prior) && o.prior > 0)) {
        fprintf(stderr, usage, FEATURES_EXTENDS, LEARN_REFIT_PRIOR, LEARN_DEFAULT_SEED, p.epochs, p.rate, p.l2,
                p.public_weight);
        rc = r == LEARN_ARGS_HELP ? 0 : 2;
        goto out;
    }
    if (!(rows = malloc((d.n ? d.n : 1) * sizeof *rows))) goto out;
    for (size_t i = 0; i < d.n; i++) {
        const example *e = &d.rows[i];
        if (!e->trainable) research++;
        else if (e->held_out && !o.all) held++;
        else rows[n++] = e;
    }
    for (size_t i = 0; i < n; i++) own += learn_project_row(rows[i]);
    printf("rows: %zu read, %zu trained on (%zu the project's, %zu public), %zu held out, %zu evaluation-only by "
           "licence\n",
           d.n, n, own, n - own, held, research);
    if (!o.base)
        printf("parameters: seed %llu, epochs %u, rate %g, l2 %g, public weight %g\n", (unsigned long long)p.seed,
               p.epochs, p.rate, p.l2, p.public_weight);
    if (n == 0) {
        fprintf(stderr, "tiergate-train: no row may be trained on\n");
        goto out;
    }
    if (o.cv >= 2 && cross_validate(rows, n, o.cv, &p, o.threshold, o.categories) < 0) goto out;
    if (o.out) {
        if (!(m = o.base ? refit(&o, &d, rows, n) : learn_train(rows, n, &p))) goto out;
        if (classifier_save(m, o.out, err, sizeof err) < 0) {
            fprintf(stderr, "tiergate-train: %s\n", err);
            goto out;
        }
        printf("wrote %s\n", o.out);
    }
    rc = 0;
out:
    classifier_free(m);
    free(rows);
    dataset_free(&d);
    featurizer_free(fx);
    return rc;
}
