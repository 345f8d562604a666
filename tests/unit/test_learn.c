/* test_learn: the classifier tools' library (tools/dataset.c, tools/learn.c):
 * which rows may be trained on, the fixed held-out split, JSONL loading and
 * its errors, the figures, a trainer that gives the same model file for the
 * same rows and seed, and the tools' command line with each of its
 * outcomes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset.h"
#include "learn.h"
#include "testlib.h"

static char dir[] = "/tmp/tiergate-test-learn-XXXXXX";

static const char *tmp_path(const char *name)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

static const char *write_file(const char *name, const char *text)
{
    const char *path = tmp_path(name);
    FILE *f = fopen(path, "w");

    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return path;
}

static void test_licences(void)
{
    CHECK(dataset_licence_trainable("CC-BY-3.0"));
    CHECK(dataset_licence_trainable("CC-BY-SA-3.0"));
    CHECK(dataset_licence_trainable("Apache-2.0 (repo licence; prompts originate from Chatbot Arena users)"));
    CHECK(dataset_licence_trainable("MIT"));
    CHECK(dataset_licence_trainable("tiergate (written by the project)"));
    CHECK(!dataset_licence_trainable(NULL));
    CHECK(!dataset_licence_trainable(""));
    CHECK(!dataset_licence_trainable("MITx"));
    /* Both evaluation sets' licences, and the rule behind them. */
    CHECK(!dataset_licence_trainable("tiergate-eval (written by the project; evaluation only)"));
    CHECK(!dataset_licence_trainable("evaluation-only (written by the project)"));
    CHECK(!dataset_licence_trainable("tiergate (evaluation only)"));
    CHECK(!dataset_licence_trainable("MIT (evaluation-only copy)"));
    /* Any case, "eval" for "evaluation", a space, '-' or '_'. */
    CHECK(!dataset_licence_trainable("MIT (Evaluation Only)"));
    CHECK(!dataset_licence_trainable("tiergate (EVALUATION-ONLY)"));
    CHECK(!dataset_licence_trainable("tiergate (eval only)"));
    CHECK(!dataset_licence_trainable("Apache-2.0 (Eval-Only split)"));
    CHECK(!dataset_licence_trainable("MIT (evaluation_only)"));
    CHECK(dataset_licence_trainable("MIT (evaluated by the project; only the prompts)"));
    CHECK(!dataset_licence_trainable("no licence file; SMP2017-ECDT evaluation data, research use"));
    CHECK(!dataset_licence_trainable("ODC-By-1.0 (DATA_LICENSE) + README: research use only"));
}

/* A fixed fifth, by id alone. */
static void test_held_out(void)
{
    size_t held = 0;
    char id[32];

    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof id, "src:%d", i);
        held += dataset_id_held_out(id);
        CHECK(dataset_id_held_out(id) == dataset_id_held_out(id));
    }
    CHECK(held > 150 && held < 250);
    for (unsigned k = 0; k < 50; k++) CHECK(learn_fold(id, 7, 5) < 5);
    CHECK(learn_fold("a", 7, 5) == learn_fold("a", 7, 5));
}

static const char toy[] =
    "{\"id\":\"t:1\",\"text\":\"打开空调\",\"label\":\"simple\",\"source\":\"tiergate\",\"licence\":\"tiergate\"}\n"
    "{\"id\":\"t:2\",\"text\":\"证明勾股定理\",\"label\":\"complex\",\"source\":\"tiergate\",\"licence\":\"tiergate\"}\n"
    "\n"
    "{\"id\":\"t:3\",\"text\":\"turn on the radio\",\"label\":\"simple\",\"licence\":\"MIT\"}\n"
    "{\"id\":\"t:4\",\"text\":\"prove that sqrt 2 is irrational\",\"label\":\"complex\",\"licence\":\"MIT\"}\n"
    "{\"id\":\"t:5\",\"text\":\"open the window\",\"label\":\"simple\",\"licence\":\"research use only\"}\n"
    "{\"id\":\"t:6\",\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
    "{\"role\":\"user\",\"content\":\"写一篇作文\"},{\"role\":\"assistant\",\"content\":\"好\"},"
    "{\"role\":\"user\",\"content\":\"继续\"}],\"label\":\"complex\",\"licence\":\"tiergate\"}\n"
    "{\"id\":\"t:7\",\"text\":\"derive the quadratic formula\",\"label\":\"complex\",\"licence\":\"MIT\"}\n"
    "{\"id\":\"t:8\",\"text\":\"play some jazz\",\"label\":\"simple\",\"licence\":\"MIT\"}\n"
    "{\"id\":\"t:9\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"打开\"},"
    "{\"type\":\"text\",\"text\":\"空调\"}]},{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[]},"
    "{\"role\":\"tool\",\"content\":\"ok\"}],\"tools\":[{},{}],\"label\":\"simple\",\"licence\":\"tiergate\"}\n";

/* A language langid cannot determine is "und", as langid_code says, not
 * cut to "un" (which names no language). */
static void test_undetermined(const featurizer *fx)
{
    dataset d = {0};
    char err[256];
    const char *digits = "{\"id\":\"u:1\",\"text\":\"12345 67890\",\"label\":\"simple\",\"licence\":\"MIT\"}\n";
    CHECK_INT(dataset_load(&d, write_file("und.jsonl", digits), fx, err, sizeof err), 0);
    CHECK_INT(d.n, 1);
    if (d.n == 1) CHECK_STR(d.rows[0].lang, "und");
    dataset_free(&d);
    remove(tmp_path("und.jsonl"));
}

static void test_load(const featurizer *fx)
{
    dataset d = {0};
    char err[256];

    CHECK_INT(dataset_load(&d, write_file("toy.jsonl", toy), fx, err, sizeof err), 0);
    CHECK_INT(d.n, 9);
    if (d.n != 9) return;
    CHECK_STR(d.rows[0].lang, "zh");
    CHECK_STR(d.rows[2].lang, "en");
    CHECK_STR(d.rows[2].source, "unknown");
    CHECK_INT(d.rows[1].label, 1);
    CHECK(d.rows[0].trainable && d.rows[3].trainable && !d.rows[4].trainable);
    CHECK_INT(d.rows[5].nmsgs, 4);
    CHECK(!d.rows[5].msgs[0].user && d.rows[5].msgs[1].user && !d.rows[5].msgs[2].user);
    CHECK_INT(d.rows[5].ntools, 0);
    /* Text parts joined as the gateway joins them, null content, tools counted. */
    CHECK_INT(d.rows[8].nmsgs, 3);
    CHECK_STR(d.rows[8].msgs[0].text, "打开\n空调");
    CHECK_INT(d.rows[8].msgs[1].len, 0);
    CHECK_INT(d.rows[8].ntools, 2);
    for (size_t i = 0; i < d.n; i++) {
        const example *e = &d.rows[i];
        CHECK(e->nnz > 0);
        for (size_t j = 1; j < e->nnz; j++) CHECK(e->index[j - 1] < e->index[j]);   /* merged, ascending */
    }
    dataset_free(&d);

    static const struct { const char *text, *want; } bad[] = {
        {"{\"text\":\"x\",\"label\":\"easy\"}\n", "bad.jsonl:1: \"label\" must be"},
        {"{\"text\":\"x\",\"label\":\"simple\"}\n{\"text\":\n", "bad.jsonl:2: not valid JSON"},
        {"{\"label\":\"simple\"}\n", "needs \"text\""},
        {"{\"messages\":[],\"label\":\"simple\"}\n", "\"messages\" is empty"},
        {"{\"messages\":[{\"role\":\"user\"}],\"label\":\"simple\"}\n", "\"content\" must be"},
        {"{\"messages\":[{\"content\":\"x\"}],\"label\":\"simple\"}\n", "needs a string \"role\""},
        {"{\"text\":\"x\",\"tools\":{},\"label\":\"simple\"}\n", "\"tools\" must be an array"},
        {"[1]\n", "not a JSON object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        CHECK_INT(dataset_load(&d, write_file("bad.jsonl", bad[i].text), fx, err, sizeof err), -1);
        if (!strstr(err, bad[i].want)) fprintf(stderr, "  got: %s\n  want: %s\n", err, bad[i].want);
        CHECK(strstr(err, bad[i].want) != NULL);
        dataset_free(&d);
    }
    CHECK_INT(dataset_load(&d, tmp_path("none.jsonl"), fx, err, sizeof err), -1);
    CHECK(strstr(err, "none.jsonl") != NULL);
}

static bool same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int ca, cb;
    bool same = fa && fb;

    while (same && ((ca = fgetc(fa)) != EOF || !feof(fa))) {
        cb = fgetc(fb);
        same = ca == cb;
    }
    same = same && fgetc(fb) == EOF;
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

/* Same rows, parameters and seed: the same file, byte for byte.  And the
 * model has learned the toy rows. */
static void test_training(const featurizer *fx)
{
    dataset d = {0};
    const example *rows[16];
    size_t n = 0;
    char err[256];
    learn_params p = LEARN_DEFAULTS;
    classifier *a, *b, *c;

    CHECK_INT(dataset_load(&d, write_file("toy.jsonl", toy), fx, err, sizeof err), 0);
    for (size_t i = 0; i < d.n; i++)
        if (d.rows[i].trainable) rows[n++] = &d.rows[i];
    a = learn_train(rows, n, &p);
    b = learn_train(rows, n, &p);
    CHECK(a != NULL && b != NULL);
    if (!a || !b) goto out;
    CHECK_INT(classifier_save(a, tmp_path("a.model"), err, sizeof err), 0);
    CHECK_INT(classifier_save(b, tmp_path("b.model"), err, sizeof err), 0);
    CHECK(same_file(tmp_path("a.model"), tmp_path("b.model")));
    p.seed++;
    c = learn_train(rows, n, &p);
    CHECK(c != NULL);
    if (c) {
        bool differ = false;
        for (uint32_t i = 0; i < FEATURES_DIM && !differ; i++) differ = classifier_weight(a, i) != classifier_weight(c, i);
        CHECK(differ);
    }
    classifier_free(c);
    for (size_t i = 0; i < n; i++) {
        double s = classifier_score(a, rows[i]->msgs, rows[i]->nmsgs, rows[i]->ntools);
        CHECK(rows[i]->label ? s > 0.5 : s < 0.5);
    }
out:
    classifier_free(a);
    classifier_free(b);
    dataset_free(&d);
    remove(tmp_path("a.model"));
    remove(tmp_path("b.model"));
}

static const char tool_rows[] =
    "{\"id\":\"r:1\",\"messages\":[{\"role\":\"user\",\"content\":\"要是下雨的话 把窗关了 然后开内循环\"}],"
    "\"tools\":[{},{},{}],\"label\":\"complex\",\"licence\":\"tiergate\"}\n"
    "{\"id\":\"r:2\",\"messages\":[{\"role\":\"user\",\"content\":\"if it snows warm the car up otherwise remind me at 7\"}],"
    "\"tools\":[{},{},{}],\"label\":\"complex\",\"licence\":\"tiergate\"}\n"
    "{\"id\":\"r:3\",\"messages\":[{\"role\":\"user\",\"content\":\"空调调到二十二度\"}],"
    "\"tools\":[{},{},{}],\"label\":\"simple\",\"licence\":\"tiergate\"}\n"
    "{\"id\":\"r:4\",\"messages\":[{\"role\":\"user\",\"content\":\"open the sunroof\"}],"
    "\"tools\":[{},{},{}],\"label\":\"simple\",\"licence\":\"tiergate\"}\n"
    "{\"id\":\"r:5\",\"text\":\"4 of us, 3 rides each and 2 tomorrow, is the day pass cheaper\","
    "\"label\":\"complex\",\"licence\":\"tiergate\"}\n"
    "{\"id\":\"r:6\",\"text\":\"I spent 85 at Myer, 60 at Kmart and 20 at Coles, what do I owe\","
    "\"label\":\"complex\",\"licence\":\"tiergate\"}\n"
    "{\"id\":\"r:7\",\"text\":\"add 2 kg potatoes 6 eggs and 1 litre of milk to the list\","
    "\"label\":\"simple\",\"licence\":\"tiergate\"}\n";

/* The second stage: only the second-stage weights move, every request
 * without a second-stage feature scores as under the base, bit for bit,
 * the rows with one move toward their labels (requests without tools that
 * ask for a choice or a figure, or state figures, among them), and the
 * same rows give the same model. */
static void test_refit(const featurizer *fx)
{
    dataset d = {0}, t = {0};
    const example *rows[16], *tools[8];
    size_t n = 0, nt = 0, used = 99;
    char err[256];
    learn_params p = LEARN_DEFAULTS;
    classifier *base, *m = NULL, *again = NULL;

    CHECK_INT(dataset_load(&d, write_file("toy.jsonl", toy), fx, err, sizeof err), 0);
    CHECK_INT(dataset_load(&t, write_file("tools.jsonl", tool_rows), fx, err, sizeof err), 0);
    for (size_t i = 0; i < d.n; i++)
        if (d.rows[i].trainable) rows[n++] = &d.rows[i];
    for (size_t i = 0; i < t.n; i++) tools[nt++] = &t.rows[i];
    base = learn_train(rows, n, &p);
    CHECK(base != NULL);
    if (!base) goto out;
    /* No row with a second-stage feature: nothing to fit. */
    for (size_t i = 0; i + 1 < n; i++) CHECK(!learn_second_stage_row(rows[i]));
    CHECK(learn_second_stage_row(rows[n - 1]));                  /* t:9, the last, carries tools */
    CHECK(learn_refit(base, rows, n - 1, 1.0, &used) == NULL);
    CHECK_INT(used, 0);
    CHECK(t.rows[4].ntools == 0 && learn_second_stage_row(&t.rows[4]));
    m = learn_refit(base, tools, nt, 0.1, &used);
    again = learn_refit(base, tools, nt, 0.1, &used);
    CHECK(m != NULL && again != NULL);
    CHECK_INT(used, 7);
    if (!m || !again) goto out;
    CHECK(classifier_bias(m) == classifier_bias(base));
    for (uint32_t j = 0; j < FEATURES_DIM; j++) {
        CHECK(classifier_weight(m, j) == classifier_weight(again, j));
        if (!feature_second_stage(j)) CHECK(classifier_weight(m, j) == classifier_weight(base, j));
    }
    for (uint32_t j = 0; j < FEATURES_NNAMED; j++) {
        const char *name = feature_name(j);
        if (strcmp(name, "tool_branches") == 0 || strcmp(name, "figures") == 0 || strcmp(name, "figures_choice") == 0)
            CHECK(feature_second_stage(j) && classifier_weight(m, j) > 0 && classifier_weight(base, j) == 0);
        if (strcmp(name, "numbers_stated") == 0)
            CHECK(feature_second_stage(j) && classifier_weight(m, j) < 0 && classifier_weight(base, j) == 0);
    }
    for (size_t i = 0; i < d.n; i++) {
        const example *e = &d.rows[i];
        if (!learn_second_stage_row(e))
            CHECK(classifier_score(m, e->msgs, e->nmsgs, 0) == classifier_score(base, e->msgs, e->nmsgs, 0));
    }
    for (size_t i = 0; i < nt; i++) {
        const example *e = tools[i];
        double before = classifier_score(base, e->msgs, e->nmsgs, e->ntools);
        double after = classifier_score(m, e->msgs, e->nmsgs, e->ntools);
        CHECK(e->label ? after > before : after <= before);
    }
out:
    classifier_free(m);
    classifier_free(again);
    classifier_free(base);
    dataset_free(&d);
    dataset_free(&t);
    remove(tmp_path("tools.jsonl"));
}

static void test_figures(void)
{
    /* Complex at 0.4 and 0.8, simple at 0.1 and 0.5: three of the four
     * (complex, simple) pairs are ordered right, so the AUC is 0.75. */
    scored s[] = {{0.1, 0, "en", "a", "x"}, {0.4, 1, "en", "a", "x"}, {0.5, 0, "zh", "b", "y"}, {0.8, 1, "zh", "b", "y"}};
    scored tie[] = {{0.5, 0, "en", "a", "x"}, {0.5, 1, "en", "a", "x"}};
    scored one[] = {{0.5, 1, "en", "a", "x"}};
    learn_eval e;

    learn_measure(s, 4, 0.45, &e);
    CHECK_INT(e.n, 4);
    CHECK_INT(e.complex, 2);
    CHECK_INT(e.tp, 1);   /* 0.8 */
    CHECK_INT(e.fn, 1);   /* 0.4, kept on the device */
    CHECK_INT(e.fp, 1);   /* 0.5, sent to the cloud */
    CHECK_INT(e.tn, 1);
    CHECK(fabs(e.auc - 0.75) < 1e-12);
    learn_measure(tie, 2, 0.5, &e);
    CHECK(fabs(e.auc - 0.5) < 1e-12);
    learn_measure(one, 1, 0.5, &e);
    CHECK(isnan(e.auc));
}

/* A tool's own options, as tiergate-train's look: one with a value, one
 * without. */
typedef struct own_options {
    const char *out;
    bool all;
} own_options;

static bool own_option(void *ctx, int argc, char **argv, int *i)
{
    own_options *o = ctx;
    if (strcmp(argv[*i], "--out") == 0 && *i + 1 < argc) o->out = argv[++*i];
    else if (strcmp(argv[*i], "--all") == 0) o->all = true;
    else return false;
    return true;
}

/* learn_args over a command line given as one string (split at spaces). */
static learn_args_result run_args(const featurizer *fx, const char *line, learn_params *p, own_options *o,
                                  dataset *d, int *nfiles)
{
    static char buf[512];
    char *argv[16] = {"tool"};
    int argc = 1;

    snprintf(buf, sizeof buf, "%s", line);
    for (char *t = strtok(buf, " "); t && argc < 15; t = strtok(NULL, " ")) argv[argc++] = t;
    argv[argc] = NULL;
    *p = (learn_params)LEARN_DEFAULTS;
    *o = (own_options){NULL, false};
    *nfiles = 0;
    return learn_args(argc, argv, "tool", p, fx, d, nfiles, own_option, o);
}

static void test_args(const featurizer *fx)
{
    char line[400];
    const char *toy_path = write_file("toy.jsonl", toy);
    learn_params p;
    own_options o;
    int nfiles;
    dataset d = {0};

    snprintf(line, sizeof line, "--epochs 3 --out m.model %s --all --seed 9 --rate 0.5 --l2 0 %s", toy_path, toy_path);
    CHECK_INT(run_args(fx, line, &p, &o, &d, &nfiles), LEARN_ARGS_OK);
    CHECK_INT(nfiles, 2);
    CHECK_INT(d.n, 18);
    CHECK(p.epochs == 3 && p.seed == 9 && p.rate == 0.5 && p.l2 == 0);
    CHECK(o.out && strcmp(o.out, "m.model") == 0 && o.all);
    dataset_free(&d);

    CHECK_INT(run_args(fx, "", &p, &o, &d, &nfiles), LEARN_ARGS_OK);          /* the tool asks for files */
    CHECK_INT(nfiles, 0);
    CHECK_INT(run_args(fx, "--help", &p, &o, &d, &nfiles), LEARN_ARGS_HELP);
    CHECK_INT(run_args(fx, "--bogus", &p, &o, &d, &nfiles), LEARN_ARGS_USAGE);
    CHECK_INT(run_args(fx, "--out", &p, &o, &d, &nfiles), LEARN_ARGS_USAGE);  /* its value is missing */
    CHECK_INT(run_args(fx, "--epochs", &p, &o, &d, &nfiles), LEARN_ARGS_ERROR);
    CHECK_INT(run_args(fx, "--rate 0", &p, &o, &d, &nfiles), LEARN_ARGS_ERROR);
    CHECK_INT(run_args(fx, "--l2 -1", &p, &o, &d, &nfiles), LEARN_ARGS_ERROR);
    CHECK_INT(run_args(fx, "--public-weight 0", &p, &o, &d, &nfiles), LEARN_ARGS_ERROR);
    CHECK_INT(run_args(fx, "--public-weight -1", &p, &o, &d, &nfiles), LEARN_ARGS_ERROR);
    CHECK_INT(run_args(fx, "--public-weight 1e-310", &p, &o, &d, &nfiles), LEARN_ARGS_ERROR);
    CHECK_INT(run_args(fx, "--public-weight 101", &p, &o, &d, &nfiles), LEARN_ARGS_ERROR);
    CHECK_INT(run_args(fx, "--public-weight 0.5", &p, &o, &d, &nfiles), LEARN_ARGS_OK);
    CHECK(p.public_weight == 0.5);
    CHECK_INT(run_args(fx, "", &p, &o, &d, &nfiles), LEARN_ARGS_OK);
    CHECK(p.public_weight == 3);
    CHECK_INT(run_args(fx, "--seed 12x", &p, &o, &d, &nfiles), LEARN_ARGS_ERROR);
    snprintf(line, sizeof line, "%s", tmp_path("none.jsonl"));
    CHECK_INT(run_args(fx, line, &p, &o, &d, &nfiles), LEARN_ARGS_ERROR);
    dataset_free(&d);
}

int main(void)
{
    featurizer *fx = featurizer_new();

    CHECK(fx != NULL && mkdtemp(dir) != NULL);
    test_licences();
    test_held_out();
    test_load(fx);
    test_undetermined(fx);
    test_training(fx);
    test_refit(fx);
    test_figures();
    test_args(fx);
    remove(tmp_path("toy.jsonl"));
    remove(tmp_path("bad.jsonl"));
    rmdir(dir);
    featurizer_free(fx);
    TEST_MAIN_END();
}
