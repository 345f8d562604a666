/* learn: AdaGrad logistic regression and the evaluation figures.
 *
 * Why this optimiser: the data are a few thousand sparse rows, so one pass
 * takes milliseconds and a simple, deterministic method is enough.  AdaGrad
 * gives each feature its own step size, which suits features of very
 * different frequencies and scales (a rare n-gram beside log(length)).  The
 * L2 term is applied to the features a row touches, when it touches them;
 * frequent features are thus regularised more often, which is the usual
 * trade of sparse SGD for not touching all million weights per row.
 *
 * Public rows (clinc150, nq_open, gsm8k, ...) are real users' requests; the
 * project's rows (source "tiergate...") are written to cover what they miss
 * (Chinese, the export languages, conversations, hard short and easy long
 * requests) and outnumber them five to one.  A public row's gradient is
 * multiplied by public_weight (3 by default, chosen on the development sets,
 * docs/classifier.md), and the classes are balanced by weight.  Under
 * AdaGrad a constant factor cancels for a feature only public rows have;
 * what it changes is the pull of the features both kinds share (the bias,
 * the named features, common words), so that the written rows do not
 * decide alone what, say, a question word or a length is worth.  It is not
 * the same as three copies of the row.
 *
 * Determinism: the visiting order comes from a seeded splitmix64 stream and
 * all arithmetic is sequential, so a model depends only on its rows (in
 * order), its parameters and its seed. */
#include "learn.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* AdaGrad's accumulators start here, not at zero, so the first step of a
 * feature is bounded. */
#define ADAGRAD_START 1e-3

static uint64_t splitmix(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

unsigned learn_fold(const char *id, uint64_t seed, unsigned k)
{
    uint64_t h = 0xcbf29ce484222325ull ^ seed;

    assert(k > 0);
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) h = (h ^ *p) * 0x100000001b3ull;
    return (unsigned)(splitmix(&h) % k);
}

/* The languages with at least LEARN_LANGUAGE_ROWS rows among rows[0..n):
 * what the model can be said to have learned. */
static langid_set learned_languages(const example *const *rows, size_t n)
{
    size_t count[LANG_COUNT] = {0};
    langid_set set = 0;

    for (size_t i = 0; i < n; i++) count[langid_from_code(rows[i]->lang)]++;
    for (unsigned l = 1; l < LANG_COUNT; l++)
        if (count[l] >= LEARN_LANGUAGE_ROWS) set |= 1u << l;
    return set;
}

bool learn_project_row(const example *e)
{
    return strncmp(e->source, LEARN_PROJECT_SOURCE, strlen(LEARN_PROJECT_SOURCE)) == 0;
}

/* Each class weighs half of the total (n rows), whatever its share of the
 * rows' weight (count[label]); a row's step is its class's weight times its
 * own.  Both stages balance their classes this way. */
static void balance(const double count[2], double n, double weight[2])
{
    for (int c = 0; c < 2; c++) weight[c] = count[c] > 0 ? n / (2.0 * count[c]) : 0;
}

classifier *learn_train(const example *const *rows, size_t n, const learn_params *p)
{
    double *w = calloc(FEATURES_DIM, sizeof *w), *g2 = malloc(FEATURES_DIM * sizeof *g2);
    float *wf = malloc(FEATURES_DIM * sizeof *wf);
    size_t *order = malloc(n * sizeof *order);
    double *weight = malloc(n * sizeof *weight);
    classifier *m = NULL;
    double bias = 0, bias_g2 = ADAGRAD_START, class_weight[2], count[2] = {0, 0};
    uint64_t rng = p->seed;

    assert(n > 0);
    if (!w || !g2 || !wf || !order || !weight) goto out;
    for (size_t j = 0; j < FEATURES_DIM; j++) g2[j] = ADAGRAD_START;
    for (size_t i = 0; i < n; i++) {
        weight[i] = learn_project_row(rows[i]) ? 1 : p->public_weight;
        count[rows[i]->label] += weight[i];
        order[i] = i;
    }
    balance(count, (double)n, class_weight);

    for (unsigned epoch = 0; epoch < p->epochs; epoch++) {
        for (size_t i = n; i > 1; i--) {
            size_t j = (size_t)(splitmix(&rng) % i), t = order[i - 1];
            order[i - 1] = order[j];
            order[j] = t;
        }
        for (size_t k = 0; k < n; k++) {
            const example *e = rows[order[k]];
            double z = bias, g;

            for (size_t j = 0; j < e->nnz; j++) z += w[e->index[j]] * e->value[j];
            g = (1.0 / (1.0 + exp(-z)) - e->label) * class_weight[e->label] * weight[order[k]];
            bias_g2 += g * g;
            bias -= p->rate * g / sqrt(bias_g2);
            for (size_t j = 0; j < e->nnz; j++) {
                uint32_t f = e->index[j];
                double gj = g * e->value[j] + p->l2 * w[f];
                g2[f] += gj * gj;
                w[f] -= p->rate * gj / sqrt(g2[f]);
            }
        }
    }
    for (size_t j = 0; j < FEATURES_DIM; j++) wf[j] = (float)w[j];
    m = classifier_new(bias, wf, learned_languages(rows, n));
out:
    free(w);
    free(g2);
    free(wf);
    free(order);
    free(weight);
    return m;
}

#define REFIT_MAX 8
/* Newton's method converged in about eight steps on the tool requests, for
 * priors from 0.001 to 10; with figures, whose rows in the data were all
 * complex at first, it takes longer at a small prior, but 1,000 steps gave
 * the same model file as 100, byte for byte, at priors 0.001, 0.01 and 0.3,
 * and again with numbers_stated at 0.01 and 0.3.  A fixed count keeps the
 * fit a pure function of its rows, and the extra steps cost microseconds. */
#define REFIT_ITERATIONS 100

/* The second-stage named features (feature_second_stage()) into idx, at
 * most REFIT_MAX; returns their number. */
static size_t second_stage(uint32_t *idx)
{
    size_t k = 0;

    for (uint32_t j = 0; j < FEATURES_NNAMED; j++)
        if (feature_second_stage(j)) {
            assert(k < REFIT_MAX);
            idx[k++] = j;
        }
    return k;
}

/* Solves a x = b for the k x k symmetric positive definite a (row-major),
 * by Gaussian elimination without pivoting, which such a matrix needs
 * none of; a and b are overwritten, x = b. */
static void solve(double *a, double *b, size_t k)
{
    for (size_t c = 0; c < k; c++)
        for (size_t r = c + 1; r < k; r++) {
            double f = a[r * k + c] / a[c * k + c];
            for (size_t j = c; j < k; j++) a[r * k + j] -= f * a[c * k + j];
            b[r] -= f * b[c];
        }
    for (size_t c = k; c-- > 0;) {
        for (size_t j = c + 1; j < k; j++) b[c] -= a[c * k + j] * b[j];
        b[c] /= a[c * k + c];
    }
}

/* Newton's method on the class-balanced log loss of the second stage's
 * rows, each row's logit the base model's without its second-stage part
 * (off) plus theta . x, with the penalty prior/2 |theta - theta0|^2: the
 * penalty makes the Hessian positive definite, so every step is defined,
 * and the fit is deterministic. */
static void refit_newton(const double *off, const double *x, const int *label, size_t n, size_t k,
                         const double *theta0, double prior, double *theta)
{
    double count[2] = {0, 0}, cw[2];

    for (size_t i = 0; i < n; i++) count[label[i]]++;
    balance(count, (double)n, cw);
    memcpy(theta, theta0, k * sizeof *theta);
    for (unsigned it = 0; it < REFIT_ITERATIONS; it++) {
        double g[REFIT_MAX], h[REFIT_MAX * REFIT_MAX];
        for (size_t a = 0; a < k; a++) {
            g[a] = prior * (theta[a] - theta0[a]);
            for (size_t b = 0; b < k; b++) h[a * k + b] = a == b ? prior : 0;
        }
        for (size_t i = 0; i < n; i++) {
            const double *xi = x + i * k;
            double z = off[i], p;
            for (size_t a = 0; a < k; a++) z += theta[a] * xi[a];
            p = 1.0 / (1.0 + exp(-z));
            for (size_t a = 0; a < k; a++) {
                g[a] += cw[label[i]] * (p - label[i]) * xi[a];
                for (size_t b = 0; b < k; b++) h[a * k + b] += cw[label[i]] * p * (1 - p) * xi[a] * xi[b];
            }
        }
        solve(h, g, k);
        for (size_t a = 0; a < k; a++) theta[a] -= g[a];
    }
}

/* The named features come first: a row's indexes ascend (dataset.h). */
bool learn_second_stage_row(const example *e)
{
    for (size_t j = 0; j < e->nnz && e->index[j] < FEATURES_NNAMED; j++)
        if (feature_second_stage(e->index[j])) return true;
    return false;
}

classifier *learn_refit(const classifier *base, const example *const *rows, size_t n, double prior, size_t *used)
{
    uint32_t idx[REFIT_MAX];
    size_t k = second_stage(idx), nrows = 0;
    double *off = NULL, *x = NULL, theta0[REFIT_MAX], theta[REFIT_MAX];
    int *label = NULL;
    float named[FEATURES_NNAMED];
    classifier *out = NULL;

    assert(base != NULL && isfinite(prior) && prior > 0);
    for (size_t i = 0; i < n; i++) nrows += learn_second_stage_row(rows[i]);
    *used = nrows;
    if (nrows == 0) return NULL;
    off = malloc(nrows * sizeof *off);
    x = calloc(nrows * k, sizeof *x);
    label = malloc(nrows * sizeof *label);
    if (!off || !x || !label) goto out;
    nrows = 0;
    for (size_t a = 0; a < k; a++) theta0[a] = classifier_weight(base, idx[a]);
    for (size_t i = 0; i < n; i++) {
        const example *e = rows[i];
        double z = classifier_bias(base);
        if (!learn_second_stage_row(e)) continue;
        for (size_t j = 0; j < e->nnz; j++) {
            size_t a = 0;
            while (a < k && idx[a] != e->index[j]) a++;
            if (a < k) x[nrows * k + a] = e->value[j];
            else z += classifier_weight(base, e->index[j]) * e->value[j];
        }
        off[nrows] = z;
        label[nrows++] = e->label;
    }
    assert(nrows == *used);
    refit_newton(off, x, label, nrows, k, theta0, prior, theta);
    for (uint32_t j = 0; j < FEATURES_NNAMED; j++) named[j] = (float)classifier_weight(base, j);
    for (size_t a = 0; a < k; a++) named[idx[a]] = (float)theta[a];
    out = classifier_with_named(base, named);
out:
    free(off);
    free(x);
    free(label);
    return out;
}

static int by_score(const void *a, const void *b)
{
    double x = ((const scored *)a)->score, y = ((const scored *)b)->score;

    return x < y ? -1 : x > y;
}

/* ROC AUC by the rank-sum (Mann-Whitney) formula, ties sharing their mean
 * rank. */
static double auc(const scored *s, size_t n, size_t pos, size_t neg)
{
    scored *v;
    double ranks = 0;

    if (pos == 0 || neg == 0 || !(v = malloc(n * sizeof *v))) return NAN;
    memcpy(v, s, n * sizeof *v);
    qsort(v, n, sizeof *v, by_score);
    for (size_t i = 0; i < n;) {
        size_t j = i, npos = 0;
        while (j < n && v[j].score == v[i].score) npos += (size_t)v[j++].label;
        ranks += (double)npos * ((double)(i + 1) + (double)j) / 2.0;
        i = j;
    }
    free(v);
    return (ranks - (double)pos * ((double)pos + 1) / 2.0) / ((double)pos * (double)neg);
}

void learn_measure(const scored *s, size_t n, double threshold, learn_eval *out)
{
    memset(out, 0, sizeof *out);
    out->n = n;
    for (size_t i = 0; i < n; i++) {
        bool cloud = s[i].score >= threshold;
        if (s[i].label) {
            out->complex++;
            if (cloud) out->tp++;
            else out->fn++;
        } else {
            out->simple++;
            if (cloud) out->fp++;
            else out->tn++;
        }
    }
    out->auc = auc(s, n, out->complex, out->simple);
}

/* Writes a ratio as "0.934", or "-" when it is undefined. */
static void ratio(FILE *out, size_t num, size_t den)
{
    if (den == 0) fprintf(out, " - |");
    else fprintf(out, " %.3f |", (double)num / (double)den);
}

static void percent(FILE *out, size_t num, size_t den)
{
    if (den == 0) fprintf(out, " - |");
    else fprintf(out, " %.1f %% |", 100.0 * (double)num / (double)den);
}

void learn_print_header(FILE *out)
{
    fprintf(out, "| set | n | simple | complex | accuracy | P simple | R simple | P complex | R complex | "
                 "ROC AUC | complex kept on device | sent to cloud |\n");
    fprintf(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
}

void learn_print_row(FILE *out, const char *name, const learn_eval *e)
{
    fprintf(out, "| %s | %zu | %zu | %zu |", name, e->n, e->simple, e->complex);
    ratio(out, e->tp + e->tn, e->n);
    ratio(out, e->tn, e->tn + e->fn);
    ratio(out, e->tn, e->simple);
    ratio(out, e->tp, e->tp + e->fp);
    ratio(out, e->tp, e->complex);
    if (isnan(e->auc)) fprintf(out, " - |");
    else fprintf(out, " %.3f |", e->auc);
    percent(out, e->fn, e->complex);
    percent(out, e->tp + e->fp, e->n);
    fprintf(out, "\n");
}

void learn_print_sweep(FILE *out, const scored *s, size_t n)
{
    fprintf(out, "| threshold | sent to cloud | complex kept on device | en | zh | simple sent to cloud | "
                 "accuracy |\n");
    fprintf(out, "|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int t = 5; t <= 95; t += 5) {
        size_t cloud = 0, cx[3] = {0}, kept[3] = {0}, simple = 0, simple_cloud = 0, right = 0;
        for (size_t i = 0; i < n; i++) {
            bool up = s[i].score >= t / 100.0;
            int lang = strcmp(s[i].lang, "zh") == 0 ? 2 : 1;
            cloud += up;
            right += up == (s[i].label == 1);
            if (s[i].label) {
                cx[0]++;
                cx[lang]++;
                kept[0] += !up;
                kept[lang] += !up;
            } else {
                simple++;
                simple_cloud += up;
            }
        }
        fprintf(out, "| %.2f |", t / 100.0);
        percent(out, cloud, n);
        percent(out, kept[0], cx[0]);
        percent(out, kept[1], cx[1]);
        percent(out, kept[2], cx[2]);
        percent(out, simple_cloud, simple);
        ratio(out, right, n);
        fprintf(out, "\n");
    }
}

void learn_print_groups(FILE *out, const scored *s, size_t n, double threshold, bool by_source)
{
    scored *sub = malloc((n ? n : 1) * sizeof *sub);
    learn_eval e;

    if (!sub) return;
    learn_measure(s, n, threshold, &e);
    if (n) learn_print_row(out, "all", &e);
    /* en and zh first, as before there were other languages, then the others
     * in order of first appearance. */
    for (size_t g = 0; g < 2 + n; g++) {
        const char *lang = g == 0 ? "en" : g == 1 ? "zh" : s[g - 2].lang;
        size_t m = 0;
        bool seen = g >= 2 && (strcmp(lang, "en") == 0 || strcmp(lang, "zh") == 0);
        for (size_t k = 0; g >= 2 && k < g - 2 && !seen; k++) seen = strcmp(s[k].lang, lang) == 0;
        if (seen) continue;
        for (size_t i = 0; i < n; i++)
            if (strcmp(s[i].lang, lang) == 0) sub[m++] = s[i];
        if (m == 0) continue;
        learn_measure(sub, m, threshold, &e);
        learn_print_row(out, lang, &e);
    }
    for (size_t i = 0; by_source && i < n; i++) {
        size_t m = 0, first = i;
        for (size_t k = 0; k < i && first == i; k++)
            if (strcmp(s[k].source, s[i].source) == 0) first = k;
        if (first != i) continue;
        for (size_t k = i; k < n; k++)
            if (strcmp(s[k].source, s[i].source) == 0) sub[m++] = s[k];
        learn_measure(sub, m, threshold, &e);
        learn_print_row(out, s[i].source, &e);
    }
    free(sub);
}

/* Whether a and b fall in the same category row. */
static bool same_category(const scored *a, const scored *b, bool by_lang)
{
    return strcmp(a->source, b->source) == 0 && strcmp(a->category, b->category) == 0 &&
           (!by_lang || strcmp(a->lang, b->lang) == 0);
}

void learn_print_categories(FILE *out, const scored *s, size_t n, double threshold, bool by_lang)
{
    scored *sub = malloc((n ? n : 1) * sizeof *sub);
    learn_eval e;
    char name[160];

    if (!sub) return;
    for (size_t i = 0; i < n; i++) {
        size_t m = 0;
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++) seen = same_category(&s[k], &s[i], by_lang);
        if (seen) continue;
        for (size_t k = i; k < n; k++)
            if (same_category(&s[k], &s[i], by_lang)) sub[m++] = s[k];
        learn_measure(sub, m, threshold, &e);
        snprintf(name, sizeof name, "%s %s%s%s", s[i].source, s[i].category, by_lang ? " " : "", by_lang ? s[i].lang : "");
        learn_print_row(out, name, &e);
    }
    free(sub);
}

/* Consumes argv[*i] (and its value) when it is a training option.  1 when
 * consumed, 0 when not a training option, -1 (said on stderr) when its
 * value is bad. */
static int training_option(int argc, char **argv, int *i, learn_params *p, const char *tool)
{
    const char *opt = argv[*i];
    char *end;
    double v;

    if (strcmp(opt, "--seed") != 0 && strcmp(opt, "--epochs") != 0 && strcmp(opt, "--rate") != 0 &&
        strcmp(opt, "--l2") != 0 && strcmp(opt, "--public-weight") != 0)
        return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "%s: %s needs a value\n", tool, opt);
        return -1;
    }
    v = strtod(argv[++*i], &end);
    if (*end || !(v >= 0) || (strcmp(opt, "--rate") == 0 && v == 0) || v > 1e12 ||
        (strcmp(opt, "--public-weight") == 0 && !(v >= LEARN_PUBLIC_WEIGHT_MIN && v <= LEARN_PUBLIC_WEIGHT_MAX))) {
        fprintf(stderr, "%s: %s: bad value '%s'\n", tool, opt, argv[*i]);
        return -1;
    }
    if (strcmp(opt, "--seed") == 0) p->seed = (uint64_t)v;
    else if (strcmp(opt, "--epochs") == 0) p->epochs = (unsigned)v;
    else if (strcmp(opt, "--rate") == 0) p->rate = v;
    else if (strcmp(opt, "--l2") == 0) p->l2 = v;
    else p->public_weight = v;
    return 1;
}

learn_args_result learn_args(int argc, char **argv, const char *tool, learn_params *p, const featurizer *fx,
                             dataset *d, int *nfiles, learn_own_option_fn own, void *ctx)
{
    char err[512];

    for (int i = 1; i < argc; i++) {
        int used = training_option(argc, argv, &i, p, tool);
        if (used < 0) return LEARN_ARGS_ERROR;
        if (used || own(ctx, argc, argv, &i)) continue;
        if (strcmp(argv[i], "--help") == 0) return LEARN_ARGS_HELP;
        if (argv[i][0] == '-') return LEARN_ARGS_USAGE;
        if (dataset_load(d, argv[i], fx, err, sizeof err) < 0) {
            fprintf(stderr, "%s: %s\n", tool, err);
            return LEARN_ARGS_ERROR;
        }
        ++*nfiles;
    }
    return LEARN_ARGS_OK;
}
