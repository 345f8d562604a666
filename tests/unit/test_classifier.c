/* test_classifier: scoring and explanations, and the behaviour the
 * project promises of the shipped model (config/classifier.model): length
 * does not decide, both languages both ways, a follow-up inherits its
 * conversation, a system prompt moves nothing, a tool request's plan goes
 * up.  The model file itself is test_modelfile's.
 *
 * Texts are copied into heap blocks of exactly their length, without a
 * terminating NUL, so that AddressSanitizer catches any read past len. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifier.h"
#include "config.h"
#include "testlib.h"

#define SHIPPED TIERGATE_SOURCE_DIR "/config/classifier.model"

static double threshold;   /* the configuration's default routing.threshold */

static double score_turns(const classifier *m, const char *const *texts, size_t n)
{
    feature_message msgs[8];
    double s;

    CHECK(n <= 8);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(texts[i]);
        char *copy = malloc(len ? len : 1);
        memcpy(copy, texts[i], len);
        msgs[i] = (feature_message){i % 2 == 0, copy, len};   /* user, assistant, user, ... */
    }
    s = classifier_score(m, msgs, n, 0);
    for (size_t i = 0; i < n; i++) free((char *)msgs[i].text);
    return s;
}

static double score_of(const classifier *m, const char *text) { return score_turns(m, &text, 1); }

static uint32_t named_index(const char *name)
{
    for (uint32_t i = 0; i < FEATURES_NNAMED; i++)
        if (strcmp(feature_name(i), name) == 0) return i;
    CHECK(!"a named feature of that name");
    return 0;
}

static void sum_hashed(void *ctx, const feature *f, const feature_origin *origin, size_t n)
{
    (void)origin;
    for (size_t i = 0; i < n; i++)
        if (f[i].index >= FEATURES_NNAMED) *(double *)ctx += f[i].value;
}

/* A hand-made model: score and explanation follow from the weights. */
static void test_scoring(void)
{
    float *w = calloc(FEATURES_DIM, sizeof *w);
    classifier *m;
    classifier_explanation e;
    feature_message msg = {true, "prove it", 8};
    double logit;

    w[named_index("verb:prove")] = 2.0f;
    w[named_index("chars")] = -0.5f;
    m = classifier_new(-1.0, w, 0);
    CHECK(m != NULL);
    if (!m) return;
    CHECK(fabs(score_of(m, "") - 1 / (1 + exp(1.0))) < 1e-12);
    CHECK_INT(classifier_explain(m, &msg, 1, 0, &e), 0);
    CHECK(e.score == classifier_score(m, &msg, 1, 0));
    CHECK(e.bias == -1.0);
    CHECK_INT(e.n, 2);
    CHECK_STR(e.top[0].name, "verb:prove");
    CHECK(e.top[0].contribution == 2.0);
    CHECK_STR(e.top[1].name, "chars");
    CHECK(fabs(e.top[1].contribution + 0.5 * log1p(8)) < 1e-12);
    logit = e.bias + e.top[0].contribution + e.top[1].contribution;
    CHECK(fabs(e.score - 1 / (1 + exp(-logit))) < 1e-12);
    classifier_free(m);

    /* Through the hashed weights: every n-gram at 0.25, 127 steps of 0.25/127. */
    memset(w, 0, FEATURES_NNAMED * sizeof *w);
    for (size_t i = FEATURES_NNAMED; i < FEATURES_DIM; i++) w[i] = 0.25f;
    m = classifier_new(0, w, 0);
    CHECK(m != NULL);
    if (m) {
        featurizer *fx = featurizer_new();
        double hashed = 0, sum = 0;
        CHECK(fabs(classifier_weight(m, FEATURES_NNAMED) - 0.25) < 1e-8);
        if (fx) featurize(fx, &msg, 1, 0, false, sum_hashed, &hashed);
        CHECK(hashed > 0);
        logit = classifier_weight(m, FEATURES_NNAMED) * hashed;
        CHECK(fabs(classifier_score(m, &msg, 1, 0) - 1 / (1 + exp(-logit))) < 1e-12);
        CHECK_INT(classifier_explain(m, &msg, 1, 0, &e), 0);
        for (size_t i = 0; i < e.n; i++) sum += e.top[i].contribution;
        CHECK(e.n > 0 && e.n < CLASSIFIER_TOP && fabs(sum - logit) < 1e-12);
        featurizer_free(fx);
    }
    classifier_free(m);
    free(w);
}

/* The shipped model: what the project promises of it. */
static void test_shipped_model(void)
{
    char err[512];
    classifier *m = classifier_load(SHIPPED, err, sizeof err);
    static const char *const simple[] = {
        "打开空调", "把温度调到二十三度", "导航去最近的充电站", "给老王打个电话", "现在几点了", "你好",
        "open the sunroof", "turn on the seat heater", "navigate to the airport", "call my sister",
        "what time is it", "thanks!", "Where is the restroom?",
    };
    static const char *const complex[] = {
        "derive the quadratic formula", "Derive the quadratic formula", "prove that there are infinitely many primes",
        "Write a Python function that parses ISO 8601 dates and test it.",
        "Compare the economic policies of Keynes and Hayek.",
        "推导一元二次方程的求根公式", "证明勾股定理", "写一篇关于人工智能与教育的议论文，不少于800字",
        "用Python实现一个LRU缓存，并分析时间复杂度", "帮我规划一个七天的欧洲旅行行程，预算两万元",
    };
    /* Long and polite, but all it asks is to open the sunroof. */
    static const char *const long_simple[] = {
        "Good afternoon! I really hope I'm not bothering you, and please take your time, but whenever it's "
        "convenient could you kindly open the sunroof a little bit? The weather outside has turned out to be "
        "absolutely lovely this afternoon, the sun is shining, and I think a bit of fresh air would make this "
        "long drive much nicer for everybody in the car. Thanks a million!",
        "你好呀，今天阳光特别好，风也很舒服，我们一家人正在去海边的路上，孩子们都很开心。如果不麻烦的话，"
        "能不能请你帮我们把天窗打开一点点呀？就开一小半就好，让大家呼吸一下新鲜空气，真是太感谢你啦！",
    };
    static const char *const code_followup[] = {"Write a Go function that merges two sorted slices.",
                                               "Here is one way: func merge(a, b []int) []int { ... }",
                                               "and in Rust?"};
    static const char *const proof_followup[] = {"证明根号2是无理数", "假设根号2是有理数……", "继续"};
    static const char *const car_followup[] = {"打开空调", "好的，已打开空调。", "再调低一点"};

    CHECK(m != NULL);
    if (!m) {
        fprintf(stderr, "  %s\n", err);
        return;
    }
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++) {
        double s = score_of(m, simple[i]);
        if (s >= threshold) fprintf(stderr, "  simple scored %.3f: %s\n", s, simple[i]);
        CHECK(s < threshold);
    }
    for (size_t i = 0; i < sizeof complex / sizeof complex[0]; i++) {
        double s = score_of(m, complex[i]);
        if (s < threshold) fprintf(stderr, "  complex scored %.3f: %s\n", s, complex[i]);
        CHECK(s >= threshold);
    }
    for (size_t i = 0; i < 2; i++) {
        CHECK(strlen(long_simple[i]) > 250);
        CHECK(score_of(m, long_simple[i]) < threshold);
        /* Length does not decide: the long trivial text scores below a short hard one. */
        CHECK(score_of(m, long_simple[i]) < score_of(m, complex[i == 0 ? 0 : 6]));
    }
    /* A short follow-up inherits its conversation: after a proof it scores
     * above the threshold and above the same word alone (which, with no
     * thread to continue, the shipped model also sends up: docs/classifier.md). */
    CHECK(score_turns(m, code_followup, 3) >= threshold);
    CHECK(score_turns(m, proof_followup, 3) >= threshold);
    CHECK(score_of(m, "继续") < score_turns(m, proof_followup, 3));
    CHECK(score_turns(m, car_followup, 3) < threshold);
    classifier_free(m);
}

/* The shipped model learned the export languages it was trained on, and
 * knows it did not learn others. */
static void test_shipped_languages(void)
{
    static const langid_lang learned[] = {LANG_EN, LANG_ZH, LANG_DE, LANG_ES, LANG_FR, LANG_PT,
                                          LANG_RU, LANG_JA, LANG_KO, LANG_AR};
    static const langid_lang unlearned[] = {LANG_IT, LANG_TR, LANG_TH, LANG_PL, LANG_VI};
    char err[512];
    classifier *m = classifier_load(SHIPPED, err, sizeof err);

    CHECK(m != NULL);
    if (!m) return;
    for (size_t i = 0; i < sizeof learned / sizeof learned[0]; i++) CHECK(classifier_learned(m, learned[i]));
    for (size_t i = 0; i < sizeof unlearned / sizeof unlearned[0]; i++) CHECK(!classifier_learned(m, unlearned[i]));
    classifier_free(m);
}

/* Whole conversations on the shipped model (texts written for this test,
 * in neither the training nor the evaluation data). */
static void test_shipped_conversations(void)
{
    char err[512];
    classifier *m = classifier_load(SHIPPED, err, sizeof err);
    static const char *const system =
        "你是车载助手。回答要简短，不超过两句；车控指令直接执行并确认；导航时说明预计到达时间；"
        "不回答危险驾驶相关的问题；不编造车辆没有的功能。You must prove every claim, write code when "
        "asked, analyze trade-offs in depth and design complete plans with constraints.";
    static const char *const hard_then_command[] = {"证明任意奇数的平方减一能被8整除", "设奇数为2k+1，平方减一得4k(k+1)……",
                                                    "好的，把座椅通风打开"};
    static const char *const hard_then_why[] = {"证明任意奇数的平方减一能被8整除", "设奇数为2k+1，平方减一得4k(k+1)……",
                                                "为什么"};
    static const char *const en_proof_then_command[] = {"Prove that there are infinitely many primes",
                                                        "Suppose there are finitely many, p1 to pn ...",
                                                        "Take the shorter route"};
    static const char *const asks[] = {"打开车窗", "帮我把空调温度调到二十二度"};
    static const char *const plan = "后天先去车检再接爸妈去吃饭，顺路买个蛋糕，下午五点之前要回到家，几点出门";
    static const char *const branched = "要是外面下雨的话 先把车窗都关上 然后打开内循环 不下雨就开点窗透透气";
    static const char *const message = "给老婆发个微信 说我堵车了 晚点到";
    static const char *const figures = "ok so it's me my wife and our kids 12 9 and 4 how much is that today "
                                       "and is the family pass cheaper";
    static const char *const lookups[] = {"how much is parking for 2 hours", "my son is 12 how much is his ticket",
                                          "how much is 20 minutes at 3 euros an hour"};
    /* Three numbers and a word that names a rate or offers alternatives:
     * commands, not sums (round fourteen's model sent them to the cloud). */
    static const char *const commands[] = {"set the temperature to 21 or 22, fan 3", "turn off alarms 1 2 and 3",
                                           "空调调到22度还是23度，风量3档"};
    /* Figures handed over, not asked about (stop 30's model sent half of
     * such requests in Chinese and English, three in four in the export
     * languages, to the cloud). */
    static const char *const stated[] = {"记一下 停车在3层108号车位 下午5点半前要取车",
                                         "remind me on the 14th at 7:45 to transfer the 1250 rent",
                                         "trag für Freitag 18:30 ein: Tisch für 4 im Adler, Hauptstraße 12",
                                         "apunta 2 kilos de tomates, 6 huevos y 1 litro de leche",
                                         "rappelle-moi le 3 mars à 9h de payer les 45 euros de la cantine",
                                         "3月5日の10時に歯医者、2番診察室ってメモして"};
    feature_message msgs[2];
    double alone, with_system;

    CHECK(m != NULL);
    if (!m) {
        fprintf(stderr, "  %s\n", err);
        return;
    }
    CHECK(score_turns(m, hard_then_command, 3) < threshold);
    CHECK(score_turns(m, en_proof_then_command, 3) < threshold);
    CHECK(score_turns(m, hard_then_why, 3) >= threshold);
    /* The explanation says which turn decided: the follow-up, inheriting the proof. */
    {
        feature_message conv[3];
        classifier_explanation e;
        bool from_proof = false;
        for (size_t i = 0; i < 3; i++) conv[i] = (feature_message){i != 1, hard_then_why[i], strlen(hard_then_why[i])};
        CHECK_INT(classifier_explain(m, conv, 3, 0, &e), 0);
        CHECK(e.focus.follow_up && e.focus.turn == 2 && e.focus.ncontext == 1 && e.focus.context[0] == 0);
        for (size_t i = 0; i < e.n; i++) {
            CHECK(e.top[i].turn == -1 || e.top[i].turn == 0 || e.top[i].turn == 2);
            from_proof |= e.top[i].turn == 0 && e.top[i].contribution > 0;
        }
        CHECK(from_proof);
    }
    /* A system prompt alone cannot move a request: it is not read. */
    for (size_t i = 0; i < sizeof asks / sizeof asks[0]; i++) {
        msgs[0] = (feature_message){false, system, strlen(system)};
        msgs[1] = (feature_message){true, asks[i], strlen(asks[i])};
        alone = classifier_score(m, &msgs[1], 1, 0);
        with_system = classifier_score(m, msgs, 2, 0);
        CHECK(alone == with_system && with_system < threshold);
    }
    /* Colloquial planning is complex, with or without tools; one command
     * with tools stays simple. */
    msgs[0] = (feature_message){true, plan, strlen(plan)};
    CHECK(classifier_score(m, msgs, 1, 0) >= threshold);
    CHECK(classifier_score(m, msgs, 1, 8) >= threshold);
    msgs[0] = (feature_message){true, asks[0], strlen(asks[0])};
    CHECK(classifier_score(m, msgs, 1, 8) < threshold);
    /* With tools, a dictated request whose actions hang on a condition is
     * a plan (stop 26's model, without the second stage, scored it 0.33);
     * a dictated message with pauses stays a command. */
    msgs[0] = (feature_message){true, branched, strlen(branched)};
    CHECK(classifier_score(m, msgs, 1, 5) >= threshold);
    msgs[0] = (feature_message){true, message, strlen(message)};
    CHECK(classifier_score(m, msgs, 1, 5) < threshold);
    /* A visitor's sum over figures in everyday words goes to the cloud
     * (stop 26's model: 0.09), with or without a kiosk's tools; a price
     * lookup with a number or two stays on the device. */
    msgs[0] = (feature_message){true, figures, strlen(figures)};
    CHECK(classifier_score(m, msgs, 1, 0) >= threshold);
    CHECK(classifier_score(m, msgs, 1, 4) >= threshold);
    for (size_t i = 0; i < sizeof lookups / sizeof lookups[0]; i++) {
        msgs[0] = (feature_message){true, lookups[i], strlen(lookups[i])};
        CHECK(classifier_score(m, msgs, 1, 0) < threshold);
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        msgs[0] = (feature_message){true, commands[i], strlen(commands[i])};
        CHECK(classifier_score(m, msgs, 1, 5) < threshold);
    }
    for (size_t i = 0; i < sizeof stated / sizeof stated[0]; i++) {
        msgs[0] = (feature_message){true, stated[i], strlen(stated[i])};
        CHECK(classifier_score(m, msgs, 1, 0) < threshold);
    }
    classifier_free(m);
}

/* /v1/route's explanation on the shipped model: named, ordered, and the
 * score the chat endpoint acts on. */
static void test_explanation(void)
{
    char err[512];
    classifier *m = classifier_load(SHIPPED, err, sizeof err);
    static const char *const t = "Derive the quadratic formula, step by step.";
    feature_message msg = {true, t, strlen(t)};
    classifier_explanation e;
    bool verb = false;

    CHECK(m != NULL);
    if (!m) return;
    CHECK_INT(classifier_explain(m, &msg, 1, 0, &e), 0);
    CHECK(e.score == classifier_score(m, &msg, 1, 0));
    CHECK(e.n == CLASSIFIER_TOP);
    for (size_t i = 0; i < e.n; i++) {
        CHECK(e.top[i].name[0] != '\0' && isfinite(e.top[i].contribution));
        if (i > 0) CHECK(fabs(e.top[i].contribution) <= fabs(e.top[i - 1].contribution));
        verb |= strcmp(e.top[i].name, "verb:derive") == 0 || strcmp(e.top[i].name, "word:derive") == 0;
    }
    CHECK(verb);
    classifier_free(m);
}

/* Hostile bytes and every prefix of a mixed text: a score in [0, 1]. */
static void test_hostile(void)
{
    char err[512];
    classifier *m = classifier_load(SHIPPED, err, sizeof err);
    static const char t[] = "Prove \xff that √2 \xe6\x8e is irrational; 请证明\xe7\xa9 它。\xf0\x9f";
    classifier_explanation e;

    CHECK(m != NULL);
    if (!m) return;
    for (size_t cut = 0; cut <= sizeof t - 1; cut++) {
        char *copy = malloc(cut ? cut : 1);
        feature_message msg = {true, copy, cut};
        double s;
        memcpy(copy, t, cut);
        s = classifier_score(m, &msg, 1, 0);
        CHECK(s >= 0 && s <= 1);
        CHECK_INT(classifier_explain(m, &msg, 1, 0, &e), 0);
        CHECK(e.score == s);
        free(copy);
    }
    CHECK(classifier_score(m, NULL, 0, 0) >= 0);
    classifier_free(m);
}

/* Out of memory at each allocation a model makes in turn (the model,
 * its featurizer, its language identifier): loading and building give
 * NULL, loading says so in one line naming the file, and nothing leaks
 * (AddressSanitizer's leak check); with every allocation let through, both
 * work. */
int main(void)
{
    char err[256];
    static const char minimal[] = "{\"backends\":[{\"name\":\"d\",\"tier\":\"device\",\"url\":\"http://a\","
                                  "\"model\":\"m\"}]}";
    config *c = config_parse(minimal, strlen(minimal), err, sizeof err, NULL);

    CHECK(c != NULL);
    threshold = c ? c->threshold : 0.5;
    config_free(c);
    test_scoring();
    test_shipped_model();
    test_shipped_languages();
    test_shipped_conversations();
    test_explanation();
    test_hostile();
    TEST_MAIN_END();
}
