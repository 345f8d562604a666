/* test_classifier: the complexity score on labelled English and Chinese
 * requests, the cases that length alone would get wrong, conversation
 * history, feature names, and hostile bytes.
 *
 * Every text is copied into a heap block of exactly its length, without a
 * terminating NUL, so that AddressSanitizer catches any read past len. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "classifier.h"
#include "testlib.h"

/* Scores a conversation of user turns, each in an exact-size heap block. */
static void score_turns(const char *const *texts, size_t n, classifier_result *r)
{
    classifier_message msgs[8];

    CHECK(n <= sizeof msgs / sizeof msgs[0]);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(texts[i]);
        char *copy = malloc(len ? len : 1);
        memcpy(copy, texts[i], len);
        msgs[i] = (classifier_message){.user = true, .text = copy, .len = len};
    }
    classifier_score(msgs, n, r);
    for (size_t i = 0; i < n; i++) free((void *)msgs[i].text);
}

/* Scores the first len bytes of text, copied to a block of exactly len. */
static double score_bytes(const char *text, size_t len, classifier_result *r)
{
    char *copy = malloc(len ? len : 1);
    classifier_message m;

    memcpy(copy, text, len);
    m = (classifier_message){.user = true, .text = copy, .len = len};
    classifier_score(&m, 1, r);
    free(copy);
    return r->score;
}

static double score_of(const char *text)
{
    classifier_result r;
    return score_bytes(text, strlen(text), &r);
}

static size_t feature_index(const char *name)
{
    for (size_t i = 0; i < CLASSIFIER_NFEATURES; i++)
        if (strcmp(classifier_feature_name(i), name) == 0) return i;
    fprintf(stderr, "no feature named %s\n", name);
    CHECK(!"feature exists");
    return 0;
}

static bool result_sane(const classifier_result *r)
{
    if (!(r->score >= 0 && r->score <= 1)) return false;
    for (size_t i = 0; i < CLASSIFIER_NFEATURES; i++)
        if (!isfinite(r->feature[i]) || !isfinite(r->contribution[i])) return false;
    return true;
}

/* In-car and kiosk commands, chit-chat, short facts and one-step
 * arithmetic: the on-device model answers these. */
static const char *const simple_texts[] = {
    "打开空调", "把空调温度调到22度", "关闭车窗", "导航去最近的加油站", "播放周杰伦的歌",
    "给妈妈打电话", "现在几点了", "明天北京天气怎么样", "你好", "谢谢你", "下一首",
    "把座椅加热打开", "中国的首都是哪里", "1加1等于几", "讲个笑话",
    "open the sunroof", "turn on the AC", "navigate home", "play some jazz", "call John",
    "what time is it", "what's the weather like tomorrow", "hello there", "thanks!",
    "what is the capital of France", "who wrote pride and prejudice", "what is 2+3",
    "how many days are in a week", "turn the volume down", "set a timer for 10 minutes",
    "what does this warning light mean", "translate good morning into French",
    "how far is the airport",
};

/* Proofs, code, essays, plans, analysis and multi-step maths. */
static const char *const complex_texts[] = {
    "derive the quadratic formula",
    "推导一元二次方程求根公式",
    "Prove that the square root of 2 is irrational.",
    "Write a Python function that returns the n-th Fibonacci number using memoization.",
    "```c\nint main(void) { return 0; }\n```\nwhy does this crash?",
    "Write an essay of at least 800 words on the causes of the First World War.",
    "写一篇关于人工智能对教育影响的文章，不少于800字",
    "Plan a 5-day itinerary for Tokyo with a budget of 2000 dollars.",
    "帮我设计一个电商网站的系统架构，要求支持高并发",
    "Compare the pros and cons of microservices and monoliths for a startup.",
    "分析一下新能源汽车行业未来五年的发展趋势",
    "用Python写一个快速排序算法",
    ("A train leaves at 3 pm at 60 km/h and another leaves at 4 pm at 80 km/h. "
     "When does the second catch up? Explain step by step."),
    "求函数 f(x)=x^3-3x 的导数和极值",
    "Write a short story about a robot who learns to paint.",
    "证明勾股定理",
    "Explain step by step how to solve 3x + 5 = 20",
    "Design a database schema for a library management system.",
    "写一首关于秋天的诗",
    "Evaluate the integral of x^2 from 0 to 3",
    "小明有5个苹果，给了小红2个，又买了3个，然后吃掉一半，他还剩几个？",
    "SELECT name, COUNT(*) FROM orders GROUP BY name; why is this query slow?",
    "请比较TCP和UDP的区别，并分别说明适用场景",
    "#include <stdio.h>\nint main(void) {\n  printf(\"hi\");\n}\nfix the bug",
};

static void test_labelled_examples(void)
{
    size_t nsimple = sizeof simple_texts / sizeof simple_texts[0];
    size_t ncomplex = sizeof complex_texts / sizeof complex_texts[0];

    CHECK(nsimple + ncomplex >= 30);
    for (size_t i = 0; i < nsimple; i++) {
        double s = score_of(simple_texts[i]);
        if (s >= 0.5) fprintf(stderr, "simple scored %.3f: %s\n", s, simple_texts[i]);
        CHECK(s < 0.5);
    }
    for (size_t i = 0; i < ncomplex; i++) {
        double s = score_of(complex_texts[i]);
        if (s < 0.5) fprintf(stderr, "complex scored %.3f: %s\n", s, complex_texts[i]);
        CHECK(s >= 0.5);
    }
}

/* Length must not decide: long but trivial stays low, short but hard goes
 * high. */
static void test_length_does_not_decide(void)
{
    const char *long_en =
        "Hi there, I hope you're having a lovely day. Could you please, if it isn't too much "
        "trouble at all, open the sunroof just a little bit for me? It is getting rather warm "
        "in here and I think some fresh air would make the rest of this long drive along the "
        "coast much more pleasant for everyone in the car. Thank you so much!";
    const char *long_zh =
        "你好呀，今天天气真不错，车里有点闷热，麻烦你帮我把天窗稍微打开一点点，让新鲜空气进来，"
        "这样我们接下来沿着海边开车的这段路会舒服很多，坐在后排的朋友们也会更开心，真的太谢谢你啦！";

    CHECK(strlen(long_en) > 300);
    CHECK(score_of(long_en) < 0.5);
    CHECK(score_of(long_zh) < 0.5);
    CHECK(score_of("derive the quadratic formula") >= 0.5);
    CHECK(score_of("推导一元二次方程求根公式") >= 0.5);
    CHECK(score_of("证明勾股定理") >= 0.5);
    /* Short and hard still scores above long and trivial. */
    CHECK(score_of("证明勾股定理") > score_of(long_zh));
}

static void test_follow_up_keeps_history(void)
{
    const char *code[] = {"Write a Python function that merges two sorted lists.", "and in Go?"};
    const char *proof[] = {"推导一元二次方程求根公式", "继续"};
    const char *essay[] = {"写一篇关于环保的作文", "继续"};
    const char *essay_then_window[] = {"写一篇关于环保的作文", "打开车窗"};
    const char *car[] = {"打开空调", "调高一点"};
    classifier_result r;
    size_t history = feature_index("history");

    score_turns(code, 2, &r);
    CHECK(r.score >= 0.5);
    CHECK(r.contribution[history] > 0);
    score_turns(proof, 2, &r);
    CHECK(r.score >= 0.5);
    score_turns(essay, 2, &r);
    CHECK(r.score >= 0.5);
    CHECK(score_of("继续") < 0.5);
    CHECK(score_of("and in Go?") < 0.5);
    /* A command after a hard turn is a new, simple request. */
    score_turns(essay_then_window, 2, &r);
    CHECK(r.score < 0.5);
    /* Simple history gives nothing to inherit. */
    score_turns(car, 2, &r);
    CHECK(r.score < 0.5);
    CHECK_INT(r.feature[history] == 0, 1);
    CHECK_INT(r.feature[feature_index("turns")], 2);
}

/* Only user turns count: a system prompt full of hard words says nothing
 * about the request, and the request is the last user message even when an
 * assistant message follows it. */
static void test_roles(void)
{
    const char *system = "You are an assistant that can prove theorems, write essays, "
                         "design architectures and write Python code step by step.";
    classifier_message msgs[3] = {
        {false, system, strlen(system)},
        {true, "打开空调", strlen("打开空调")},
        {false, "好的，已为您打开空调。", strlen("好的，已为您打开空调。")},
    };
    classifier_result r;

    classifier_score(msgs, 3, &r);
    CHECK(r.score < 0.5);
    CHECK_INT(r.feature[feature_index("turns")], 1);
    CHECK_INT(r.feature[feature_index("history")] == 0, 1);
    /* With no user message the last message is scored. */
    classifier_score(msgs, 1, &r);
    CHECK(r.score >= 0.5);
    CHECK_INT(r.feature[feature_index("turns")], 0);
}

static void test_feature_names(void)
{
    for (size_t i = 0; i < CLASSIFIER_NFEATURES; i++) {
        const char *name = classifier_feature_name(i);
        bool snake = name && name[0] >= 'a' && name[0] <= 'z';

        for (const char *c = name; snake && *c; c++)
            snake = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
                    (*c == '_' && c[1] != '_' && c[1] != '\0');
        if (!snake) fprintf(stderr, "feature %zu: not snake_case: %s\n", i, name ? name : "(null)");
        CHECK(snake);
        for (size_t j = 0; j < i; j++) CHECK(strcmp(name, classifier_feature_name(j)) != 0);
    }
    /* The features the router's explanation and the docs refer to. */
    feature_index("est_tokens");
    feature_index("code");
    feature_index("math");
    feature_index("reasoning");
    feature_index("history");
}

/* What the result promises: contributions add up to the logit, so two
 * results differ in logit exactly by their contributions' difference. */
static void test_contributions(void)
{
    classifier_result a, b;
    double la, lb, sa = 0, sb = 0;

    score_bytes("hello", 5, &a);
    score_bytes("prove it", 8, &b);
    la = log(a.score / (1 - a.score));
    lb = log(b.score / (1 - b.score));
    for (size_t i = 0; i < CLASSIFIER_NFEATURES; i++) {
        sa += a.contribution[i];
        sb += b.contribution[i];
    }
    CHECK(fabs((lb - la) - (sb - sa)) < 1e-9);
    CHECK(b.contribution[feature_index("reasoning")] > 0);
    CHECK(a.contribution[feature_index("chit_chat")] < 0);
    CHECK(result_sane(&a) && result_sane(&b));
}

static void test_matching_rules(void)
{
    classifier_result r;
    size_t chat = feature_index("chit_chat"), plan = feature_index("planning");
    size_t reasoning = feature_index("reasoning"), writing = feature_index("writing");
    size_t command = feature_index("simple_command");

    /* Whole words: "hi" is not in "this" or "high", "plan" not in "planet",
     * "set" not in "dataset". */
    score_bytes("this is high", 12, &r);
    CHECK_INT(r.feature[chat] == 0, 1);
    score_bytes("the planet mars", 15, &r);
    CHECK_INT(r.feature[plan] == 0, 1);
    score_bytes("the dataset", 11, &r);
    CHECK_INT(r.feature[command] == 0, 1);
    /* Prefixes: "analy*" matches analysis and analyze. */
    score_bytes("analysis", 8, &r);
    CHECK(r.feature[reasoning] > 0);
    score_bytes("ANALYZE", 7, &r);
    CHECK(r.feature[reasoning] > 0);
    /* ASCII case does not matter. */
    CHECK(fabs(score_of("DERIVE THE QUADRATIC FORMULA") - score_of("derive the quadratic formula")) < 1e-12);
    CHECK(fabs(score_of("Write A Poem") - score_of("write a poem")) < 1e-12);
    /* Chinese keywords match inside running text. */
    score_bytes("请帮我写一篇文章", strlen("请帮我写一篇文章"), &r);
    CHECK(r.feature[writing] > 0);
    /* len is the end: a keyword cut by it does not match. */
    score_bytes("write a poem", 12, &r);
    double with_poem = r.feature[writing];
    score_bytes("write a poem", 9, &r);
    CHECK(r.feature[writing] < with_poem);
    score_bytes("prove", 4, &r);
    CHECK_INT(r.feature[reasoning] == 0, 1);
    score_bytes("证明", 5, &r);   /* the second character cut after two bytes */
    CHECK_INT(r.feature[reasoning] == 0, 1);
    score_bytes("hi", 1, &r);
    CHECK_INT(r.feature[chat] == 0, 1);
}

/* CJK characters are about a token each, Latin text about four characters
 * per token. */
static void test_token_estimate(void)
{
    char zh[301], en[401];
    classifier_result r;
    size_t tokens = feature_index("est_tokens");

    for (size_t i = 0; i < 100; i++) memcpy(zh + 3 * i, "的", 3);
    for (size_t i = 0; i < 400; i++) en[i] = "abc "[i % 4];
    score_bytes(zh, 300, &r);
    CHECK(fabs(r.feature[tokens] - log1p(100)) < 1e-9);
    score_bytes(en, 400, &r);
    CHECK(fabs(r.feature[tokens] - log1p(100)) < 1e-9);
    score_bytes("", 0, &r);
    CHECK_INT(r.feature[tokens] == 0, 1);
}

/* A huge message is scanned only in part, but its length still counts. */
static void test_huge_message(void)
{
    size_t len = 4u << 20;
    char *big = malloc(len);
    classifier_result small, huge;

    for (size_t i = 0; i < len; i++) big[i] = "lorem ipsum dolor sit amet "[i % 27];
    score_bytes(big, 1000, &small);
    score_bytes(big, len, &huge);
    CHECK(result_sane(&huge));
    CHECK(huge.feature[feature_index("est_tokens")] > small.feature[feature_index("est_tokens")]);
    free(big);
}

/* Truncated sequences, invalid bytes, overlongs, surrogates, NULs: always
 * a sane result and no read past len. */
static void test_hostile_bytes(void)
{
    static const char *const cases[] = {
        "\xe6\x89\x93\xe5\xbc\x80\xe7\xa9",   /* 打开 then a cut 空 */
        "\xe7", "\xf0\x9f", "\xf0\x9f\x98", "\xc3",
        "\xff\xfe\xfd", "\x80\x80\x80", "\xc0\xaf", "\xe0\x80\xaf",
        "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80",
        "prove \xff derive \xe6\x8e", "12\xe5", "\xef\xbc\x9f\xef\xbc",
    };
    classifier_result r;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = strlen(cases[i]);
        for (size_t cut = 0; cut <= len; cut++) {
            score_bytes(cases[i], cut, &r);
            CHECK(result_sane(&r));
        }
    }
    score_bytes("a\0b\0prove\0", 10, &r);
    CHECK(result_sane(&r));
    /* Every prefix of every labelled text, cut mid-character or not. */
    for (size_t i = 0; i < sizeof complex_texts / sizeof complex_texts[0]; i++) {
        size_t len = strlen(complex_texts[i]);
        for (size_t cut = 0; cut <= len; cut++) {
            score_bytes(complex_texts[i], cut, &r);
            if (!result_sane(&r)) CHECK(!"sane result for a prefix");
        }
    }
    classifier_score(NULL, 0, &r);
    CHECK(result_sane(&r));
    CHECK(r.score < 0.5);
}

int main(void)
{
    test_labelled_examples();
    test_length_does_not_decide();
    test_follow_up_keeps_history();
    test_roles();
    test_feature_names();
    test_contributions();
    test_matching_rules();
    test_token_estimate();
    test_huge_message();
    test_hostile_bytes();
    TEST_MAIN_END();
}
