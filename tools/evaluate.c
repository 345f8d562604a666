/* tiergate-evaluate: how good a classifier model is, on rows it has not seen.
 *
 * The model is scored exactly as the gateway scores (classifier_score over
 * the messages), and only on rows a model trained by tiergate-train cannot
 * have seen: the fixed held-out part, and rows whose licence forbids
 * training.  The project's own held-out examples are reported apart: they
 * were written with the training examples and flatter the model.
 *
 * --loso adds leave-one-source-out figures: for each public source that may
 * be trained on, a model is trained (same parameters and seed as the shipped
 * one) without that source and scored on all of its rows.  Sources differ
 * in style, so this is the honest estimate for traffic that looks like no
 * training source.
 *
 * The project's export-language evaluation set (source "tiergate-eval") is
 * reported by language, with how often langid names each language; rows in
 * a language the model did not learn are also reported under each
 * routing.unknown_language policy.
 *
 * FILE may also be a model of FEATURES_EXTENDS (the shipped model's first
 * stage), read as the gateway would read it under this version: its
 * missing second-stage weights are 0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifier.h"
#include "dataset.h"
#include "learn.h"

/* The export-language evaluation set (tools/data/lang-eval.jsonl). */
#define LANG_EVAL_SOURCE "tiergate-eval"

static const char usage[] =
    "usage: tiergate-evaluate --model FILE [options] DATA.jsonl...\n"
    "\n"
    "Scores FILE on the rows of DATA it was not trained on and prints the figures\n"
    "and the threshold sweep as Markdown.  FILE may be of features v%d too.\n"
    "\n"
    "  --threshold T  threshold of the figures (default 0.5)\n"
    "  --categories   also the unseen public rows by source and category\n"
    "  --by-lang      with --categories: by source, category and language\n"
    "  --rows         also every unseen row: id, language, label, score, where it went\n"
    "  --loso         also train and score leave-one-source-out models:\n" LEARN_OPTIONS_HELP;

static scored score_of(const classifier *m, const example *e)
{
    scored s = {classifier_score(m, e->msgs, e->nmsgs, e->ntools), e->label, "", e->source, e->category};

    memcpy(s.lang, e->lang, sizeof s.lang);
    return s;
}

/* The project's training files (its evaluation sets have sources of their
 * own and are reported apart). */
static bool is_own(const example *e) { return strcmp(e->source, LEARN_PROJECT_SOURCE) == 0; }
static bool is_lang_eval(const example *e) { return strcmp(e->source, LANG_EVAL_SOURCE) == 0; }

/* Whether a model trained on d by tiergate-train (without --all) saw e. */
static bool unseen(const example *e) { return !e->trainable || e->held_out; }

static void report(const char *title, const scored *s, size_t n, double threshold, bool by_source)
{
    printf("\n### %s (threshold %.2f)\n\n", title, threshold);
    learn_print_header(stdout);
    learn_print_groups(stdout, s, n, threshold, by_source);
}

/* How often langid names the language a row is labelled with, by language,
 * over the rows of the export-language evaluation set. */
static void language_id(const classifier *m, const dataset *d)
{
    size_t n[LANG_COUNT] = {0}, right[LANG_COUNT] = {0};

    printf("\n### Language identification on the export-language evaluation set\n\n");
    printf("| lang | n | identified | learned by the model |\n|---|---:|---:|---|\n");
    for (size_t i = 0; i < d->n; i++) {
        const example *e = &d->rows[i];
        langid_lang want = langid_from_code(e->lang);
        if (!is_lang_eval(e)) continue;
        n[want]++;
        right[want] += classifier_language(m, e->msgs, e->nmsgs) == want;
    }
    for (unsigned l = 0; l < LANG_COUNT; l++)
        if (n[l])
            printf("| %s | %zu | %.3f | %s |\n", langid_code((langid_lang)l), n[l], (double)right[l] / (double)n[l],
                   classifier_learned(m, (langid_lang)l) ? "yes" : "no");
}

/* routing.unknown_language on the unseen rows whose detected language the
 * model did not learn: figures as scored ("score"), all sent to the cloud
 * ("cloud") and all kept on the device ("device"), by labelled language;
 * nothing when there are none (empty tables would read as a result). */
static int unknown_language(const classifier *m, const dataset *d, double threshold)
{
    static const char *const policies[] = {"score", "cloud", "device"};
    scored *s = malloc((d->n ? d->n : 1) * sizeof *s);
    size_t n = 0;

    if (!s) return -1;
    for (size_t i = 0; i < d->n; i++) {
        const example *e = &d->rows[i];
        if (unseen(e) && !classifier_learned(m, classifier_language(m, e->msgs, e->nmsgs))) s[n++] = score_of(m, e);
    }
    for (size_t p = 0; n > 0 && p < 3; p++) {
        char title[160];
        for (size_t i = 0; p > 0 && i < n; i++) s[i].score = p == 1 ? 1.0 : 0.0;
        snprintf(title, sizeof title, "Rows in a language the model did not learn, routing.unknown_language \"%s\"",
                 policies[p]);
        report(title, s, n, threshold, false);
    }
    free(s);
    return 0;
}

/* Every unseen row with its score, for reading the errors of a development
 * set.  Reading an evaluation set's rows this way and then changing the
 * model is tuning on it: see docs/classifier.md. */
static void rows(const classifier *m, const dataset *d, double threshold)
{
    printf("\n### Rows the model was not trained on (threshold %.2f)\n\n", threshold);
    printf("| id | lang | label | score | routed |\n|---|---|---|---:|---|\n");
    for (size_t i = 0; i < d->n; i++) {
        const example *e = &d->rows[i];
        scored s;
        if (!unseen(e)) continue;
        s = score_of(m, e);
        printf("| %s | %s | %s | %.3f | %s |\n", e->id, e->lang, e->label ? "complex" : "simple", s.score,
               (s.score >= threshold) == (e->label == 1) ? "right" : "wrong");
    }
}

/* Leave-one-source-out over the public sources that may be trained on. */
static int loso(const dataset *d, const learn_params *p, double threshold)
{
    const example **train = malloc(d->n * sizeof *train);
    scored *all = malloc(d->n * sizeof *all), *one = malloc(d->n * sizeof *one);
    size_t nall = 0;
    learn_eval e;
    int rc = -1;

    if (!train || !all || !one) goto out;
    printf("\n### Leave one source out (threshold %.2f): trained without the source, scored on all of "
           "its rows\n\n", threshold);
    learn_print_header(stdout);
    for (size_t i = 0; i < d->n; i++) {
        const char *src = d->rows[i].source;
        size_t nt = 0, n1 = 0;
        bool seen = false;
        classifier *m;

        if (!d->rows[i].trainable || is_own(&d->rows[i])) continue;
        for (size_t k = 0; k < i && !seen; k++) seen = strcmp(d->rows[k].source, src) == 0;
        if (seen) continue;
        for (size_t k = 0; k < d->n; k++) {
            const example *x = &d->rows[k];
            if (x->trainable && !x->held_out && strcmp(x->source, src) != 0) train[nt++] = x;
        }
        if (nt == 0 || !(m = learn_train(train, nt, p))) goto out;
        for (size_t k = 0; k < d->n; k++)
            if (strcmp(d->rows[k].source, src) == 0) one[n1++] = all[nall++] = score_of(m, &d->rows[k]);
        classifier_free(m);
        learn_measure(one, n1, threshold, &e);
        learn_print_row(stdout, src, &e);
    }
    learn_measure(all, nall, threshold, &e);
    learn_print_row(stdout, "pooled", &e);
    rc = 0;
out:
    free(train);
    free(all);
    free(one);
    return rc;
}

typedef struct evaluate_options {
    const char *model;
    bool loso, categories, by_lang, rows;
    double threshold;
} evaluate_options;

static bool evaluate_option(void *ctx, int argc, char **argv, int *i)
{
    evaluate_options *o = ctx;
    if (strcmp(argv[*i], "--model") == 0 && *i + 1 < argc) o->model = argv[++*i];
    else if (strcmp(argv[*i], "--loso") == 0) o->loso = true;
    else if (strcmp(argv[*i], "--categories") == 0) o->categories = true;
    else if (strcmp(argv[*i], "--by-lang") == 0) o->by_lang = true;
    else if (strcmp(argv[*i], "--rows") == 0) o->rows = true;
    else if (strcmp(argv[*i], "--threshold") == 0 && *i + 1 < argc) o->threshold = atof(argv[++*i]);
    else return false;
    return true;
}

int main(int argc, char **argv)
{
    learn_params p = LEARN_DEFAULTS;
    evaluate_options o = {NULL, false, false, false, false, 0.5};
    featurizer *fx = featurizer_new();
    dataset d = {0};
    classifier *m = NULL;
    scored *pub = NULL, *own = NULL, *langs = NULL;
    size_t npub = 0, nown = 0, nlangs = 0;
    char err[512];
    int rc = 1, nfiles = 0;

    if (!fx) return 1;
    learn_args_result r = learn_args(argc, argv, "tiergate-evaluate", &p, fx, &d, &nfiles, evaluate_option, &o);
    if (r == LEARN_ARGS_ERROR) goto out;
    if (r != LEARN_ARGS_OK || !o.model || nfiles == 0) {
        fprintf(stderr, usage, FEATURES_EXTENDS, LEARN_DEFAULT_SEED, p.epochs, p.rate, p.l2, p.public_weight);
        rc = r == LEARN_ARGS_HELP ? 0 : 2;
        goto out;
    }
    if (!(m = classifier_load_base(o.model, err, sizeof err))) {
        fprintf(stderr, "tiergate-evaluate: %s\n", err);
        goto out;
    }
    if (!(pub = malloc((d.n ? d.n : 1) * sizeof *pub)) || !(own = malloc((d.n ? d.n : 1) * sizeof *own)) ||
        !(langs = malloc((d.n ? d.n : 1) * sizeof *langs)))
        goto out;
    for (size_t i = 0; i < d.n; i++) {
        const example *e = &d.rows[i];
        if (!unseen(e)) continue;
        if (is_own(e)) own[nown++] = score_of(m, e);
        else if (is_lang_eval(e)) langs[nlangs++] = score_of(m, e);
        else pub[npub++] = score_of(m, e);
    }
    report("Public rows the model was not trained on", pub, npub, o.threshold, true);
    printf("\n### Threshold sweep, public rows the model was not trained on\n\n");
    learn_print_sweep(stdout, pub, npub);
    if (o.categories) {
        printf("\n### Public rows the model was not trained on, by category (threshold %.2f)\n\n", o.threshold);
        learn_print_header(stdout);
        learn_print_categories(stdout, pub, npub, o.threshold, o.by_lang);
    }
    if (nown) report("The project's own examples, held-out part", own, nown, o.threshold, false);
    if (nlangs) {
        report("The export-language evaluation set, by language", langs, nlangs, o.threshold, false);
        language_id(m, &d);
    }
    if (unknown_language(m, &d, o.threshold) < 0) goto out;
    if (o.loso && loso(&d, &p, o.threshold) < 0) goto out;
    if (o.rows) rows(m, &d, o.threshold);
    rc = 0;
out:
    classifier_free(m);
    free(pub);
    free(own);
    free(langs);
    dataset_free(&d);
    featurizer_free(fx);
    return rc;
}
