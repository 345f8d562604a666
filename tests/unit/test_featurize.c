/* test_featurize: what the classifier reads.  CJK character n-grams and
 * Latin word n-grams, normalisation (case, full width, numbers), the named
 * structural features, conversations, quoted texts, length normalisation,
 * the lexicons,
 * display names, and hostile bytes.
 *
 * Every text is copied into a heap block of exactly its length, without a
 * terminating NUL, so that AddressSanitizer catches any read past len. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "featurize.h"
#include "testlib.h"

#define MAX_SEEN 16384

/* Every occurrence of one featurize() call, with its display name. */
typedef struct seen {
    size_t n, batches;
    bool origins_ok;
    feature f[MAX_SEEN];
    char name[MAX_SEEN][80];
} seen;

static featurizer *fx;

static void record(void *ctx, const feature *f, const feature_origin *o, size_t n)
{
    seen *s = ctx;

    s->batches++;
    if (n == 0 || !o) s->origins_ok = false;
    for (size_t i = 0; i < n && s->n < MAX_SEEN; i++, s->n++) {
        s->f[s->n] = f[i];
        if (o) feature_display(&f[i], &o[i], s->name[s->n], sizeof s->name[s->n]);
    }
}

/* Featurizes a conversation of texts (user turns unless roles says
 * otherwise: 'u' user, 's' system, 'a' assistant), each in an exact-size
 * heap block, whose request carries ntools tools. */
static void conv_tools(seen *s, const char *roles, const char *const *texts, const size_t *lens, size_t n,
                       size_t ntools)
{
    feature_message m[8] = {{0}};

    CHECK(n <= 8);
    s->n = s->batches = 0;
    s->origins_ok = true;
    for (size_t i = 0; i < n; i++) {
        size_t len = lens ? lens[i] : strlen(texts[i]);
        char *copy = malloc(len ? len : 1);
        memcpy(copy, texts[i], len);
        m[i] = (feature_message){!roles || roles[i] == 'u', copy, len};
    }
    featurize(fx, m, n, ntools, true, record, s);
    for (size_t i = 0; i < n; i++) free((char *)m[i].text);
}

static void conv(seen *s, const char *roles, const char *const *texts, const size_t *lens, size_t n)
{
    conv_tools(s, roles, texts, lens, n, 0);
}

static void text(seen *s, const char *t) { conv(s, NULL, &t, NULL, 1); }

static void bytes(seen *s, const char *t, size_t len) { conv(s, NULL, &t, &len, 1); }

/* Sum of the values of the occurrences named name (0 when none). */
static double value(const seen *s, const char *name)
{
    double v = 0;

    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->name[i], name) == 0) v += s->f[i].value;
    return v;
}

static bool has(const seen *s, const char *name) { return value(s, name) != 0; }

static size_t count_kind(const seen *s, const char *prefix)
{
    size_t c = 0;

    for (size_t i = 0; i < s->n; i++) c += strncmp(s->name[i], prefix, strlen(prefix)) == 0;
    return c;
}

/* Whether a and b hold the same occurrences in the same order. */
static bool same(const seen *a, const seen *b)
{
    if (a->n != b->n) return false;
    for (size_t i = 0; i < a->n; i++)
        if (a->f[i].index != b->f[i].index || a->f[i].value != b->f[i].value) return false;
    return true;
}

/* The index that name has in s, or UINT32_MAX. */
static uint32_t index_of(const seen *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->name[i], name) == 0) return s->f[i].index;
    return UINT32_MAX;
}

static bool sane(const seen *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->f[i].index >= FEATURES_DIM || !isfinite(s->f[i].value)) return false;
    return s->origins_ok;
}

/* Chinese has no spaces: every 1-, 2- and 3-character window of a run. */
static void test_cjk_ngrams(void)
{
    static seen s, t;

    text(&s, "打开空调");
    CHECK_INT(count_kind(&s, "char:"), 4);
    CHECK_INT(count_kind(&s, "chars2:"), 3);
    CHECK_INT(count_kind(&s, "chars3:"), 2);
    CHECK(has(&s, "char:空") && has(&s, "chars2:打开") && has(&s, "chars2:空调") && has(&s, "chars3:开空调"));
    /* Punctuation and spaces end a run: no window spans them. */
    text(&s, "你好，世界 再见");
    CHECK(has(&s, "chars2:你好") && has(&s, "chars2:世界") && has(&s, "chars2:再见"));
    CHECK(!has(&s, "chars2:好世") && !has(&s, "chars2:界再"));
    CHECK(has(&s, "sym:,"));   /* the full-width comma reads as ',' */
    /* A number is one element of the run, whatever its digits. */
    text(&s, "调到22度");
    CHECK(has(&s, "chars2:22度") && has(&s, "chars3:到22度") && has(&s, "num:22"));
    text(&t, "调到26度");
    CHECK_INT(index_of(&s, "chars2:22度"), index_of(&t, "chars2:26度"));
    /* Kana and Hangul are read the same way. */
    text(&s, "ありがとう");
    CHECK_INT(count_kind(&s, "chars3:"), 3);
    text(&s, "감사합니다");
    CHECK_INT(count_kind(&s, "chars2:"), 4);
    /* A four-byte CJK character (Extension B) joins the run too. */
    text(&s, "\xF0\xA0\x80\x80字");
    CHECK_INT(count_kind(&s, "chars2:"), 1);
}

/* Latin text: lower-cased words and pairs of adjacent words. */
static void test_latin_ngrams(void)
{
    static seen s, t;

    text(&s, "Derive the Quadratic formula");
    CHECK_INT(count_kind(&s, "word:"), 4);
    CHECK_INT(count_kind(&s, "words:"), 3);
    CHECK(has(&s, "word:derive") && has(&s, "words:the quadratic"));
    /* Case and full width do not matter. */
    text(&t, "ＤＥＲＩＶＥ the quadratic   FORMULA");
    CHECK(has(&t, "word:derive"));   /* shown as read: full width folded */
    CHECK_INT(index_of(&s, "word:derive"), index_of(&t, "word:derive"));
    CHECK_INT(index_of(&s, "words:quadratic formula"), index_of(&t, "words:quadratic formula"));
    /* Punctuation ends a phrase; ' and - inside a word keep it whole. */
    text(&s, "don't stop, step-by-step");
    CHECK(has(&s, "word:don't") && has(&s, "word:step-by-step") && has(&s, "words:don't stop"));
    CHECK(!has(&s, "words:stop step-by-step"));
    text(&t, "don’t");   /* U+2019 is the apostrophe too */
    CHECK_INT(index_of(&s, "word:don't"), index_of(&t, "word:don’t"));
    /* Numbers are one element: "500 words" and "800 words" are the same pair. */
    text(&s, "write 500 words");
    text(&t, "write 800 words");
    CHECK_INT(index_of(&s, "words:500 words"), index_of(&t, "words:800 words"));
    /* Latin words inside Chinese text. */
    text(&s, "用Python写代码");
    CHECK(has(&s, "word:python") && has(&s, "chars2:代码") && !has(&s, "chars2:用写"));
    /* Accented and Cyrillic letters are word letters. */
    text(&s, "café привет");
    CHECK(has(&s, "word:café") && has(&s, "words:café привет"));
}

static double named(const seen *s, const char *name) { return value(s, name); }

/* The named structural features, each on text made to show it. */
static void test_structural(void)
{
    static seen s;

    text(&s, "```python\nprint(x)\n```");
    CHECK(fabs(named(&s, "code_fences") - log1p(2)) < 1e-9);
    text(&s, "int main() {\n  return a == b && c != d;\n}\nstd::vector<int> v; my_var = fooBar;");
    CHECK(named(&s, "code_marks") >= log1p(6));
    text(&s, "\\frac{a}{b} + \\int x dx, x^2, √2 ≤ π");
    CHECK(named(&s, "math_marks") >= log1p(5));
    text(&s, "what is 2+3*4-1");
    CHECK(fabs(named(&s, "operators") - log1p(3)) < 1e-9);
    CHECK(fabs(named(&s, "numbers") - log1p(4)) < 1e-9);
    text(&s, "Why? How? 为什么？怎么办？");
    CHECK(fabs(named(&s, "question_words") - log1p(5)) < 1e-9);   /* 为什么 holds 什么 too */
    CHECK(fabs(named(&s, "question_marks") - log1p(4)) < 1e-9);
    text(&s, "1. apples\n2) pears\n- plums\n* figs\n① 一\n二、 三\n(3) x\n1.5 is no item");
    CHECK(fabs(named(&s, "list_items") - log1p(7)) < 1e-9);
    CHECK(fabs(named(&s, "lines") - log1p(7)) < 1e-9);
    text(&s, "at least 500 words, no more than 3 paragraphs; you must cite. 不少于800字，必须押韵");
    CHECK(fabs(named(&s, "constraints") - log1p(8)) < 1e-9);
    /* Instruction verbs, in either language and in their other forms. */
    text(&s, "Proof and analysis; compare; derivation; implementation; designing; planning; writing");
    for (size_t i = 0; i < 8; i++) {
        static const char *const v[] = {"verb:prove", "verb:derive", "verb:analyze", "verb:compare",
                                         "verb:write", "verb:implement", "verb:design", "verb:plan"};
        if (named(&s, v[i]) != 1) fprintf(stderr, "%s missing\n", v[i]);
        CHECK(named(&s, v[i]) == 1);
    }
    text(&s, "请证明并推导，分析比较，写一篇文章，实现设计规划");
    CHECK(named(&s, "verb:证明") == 1 && named(&s, "verb:推导") == 1 && named(&s, "verb:分析") == 1);
    CHECK(named(&s, "verb:比较") == 1 && named(&s, "verb:写一篇") == 1 && named(&s, "verb:实现") == 1);
    CHECK(named(&s, "verb:设计") == 1 && named(&s, "verb:规划") == 1);
    /* Whole words only: planet, provide, rewrite and whatever are none of them. */
    text(&s, "the planet provides a rewrite, whatever");
    CHECK(!has(&s, "verb:plan") && !has(&s, "verb:prove") && !has(&s, "verb:write") &&
          !has(&s, "question_words"));
    /* Length: a CJK character is about a token, other text about four
     * characters per token. */
    char zh[301], en[401];
    for (size_t i = 0; i < 100; i++) memcpy(zh + 3 * i, "的", 3);
    for (size_t i = 0; i < 400; i++) en[i] = "abc "[i % 4];
    bytes(&s, zh, 300);
    CHECK(fabs(named(&s, "est_tokens") - log1p(100)) < 1e-9);
    CHECK(fabs(named(&s, "chars") - log1p(100)) < 1e-9);
    CHECK(fabs(named(&s, "cjk_share") - 1) < 1e-9);
    bytes(&s, en, 400);
    CHECK(fabs(named(&s, "est_tokens") - log1p(100)) < 1e-9);
    CHECK(fabs(named(&s, "chars") - log1p(400)) < 1e-9);
    CHECK(!has(&s, "cjk_share"));
}

/* Every n-gram of a turn is worth weight / characters^0.4: a long text
 * does not pile up weight. */
static double unit(double chars) { return pow(chars, -FEATURES_NGRAM_NORM); }

/* The shipped model was trained with 0.4: another value needs a new
 * FEATURES_VERSION and a retrained model, and this check says so. */
static void test_norm_pinned(void)
{
    CHECK_INT(FEATURES_VERSION, 11);
    CHECK(FEATURES_NGRAM_NORM == 0.4);
}

static void test_normalisation(void)
{
    static seen s;

    text(&s, "打开空调");
    for (size_t i = 0; i < s.n; i++)
        if (strchr(s.name[i], ':')) CHECK(fabs(s.f[i].value - unit(4)) < 1e-12);
    text(&s, "open the window please");   /* 22 characters */
    CHECK(fabs(value(&s, "word:open") - unit(22)) < 1e-12);
}

/* The request is the last user turn; up to four earlier user turns share
 * a weight of one behind a follow-up, of a quarter behind any other
 * request; other roles are not read. */
static void test_conversations(void)
{
    static const char *const t3[] = {"证明勾股定理", "好的，我们从直角三角形开始……", "继续"};
    static const char *const sys[] = {"You must prove theorems and write Python code.", "打开空调"};
    static const char *const six[] = {"aa", "bb", "cc", "dd", "ee", "ff"};
    static const char *const sw[] = {"证明勾股定理", "好的，我们从直角三角形开始……", "那先把座椅加热打开吧"};
    static seen s;

    conv(&s, "uau", t3, NULL, 3);
    CHECK(fabs(value(&s, "chars2:继续") - unit(2)) < 1e-12);
    CHECK(fabs(value(&s, "chars2:证明") - unit(6)) < 1e-12);   /* the only earlier turn: weight 1 */
    CHECK(named(&s, "verb:证明") == 1);
    CHECK(!has(&s, "chars2:三角"));                                   /* the assistant is not read */
    CHECK(fabs(named(&s, "turns") - log1p(1)) < 1e-12);
    CHECK(named(&s, "follow_up") == 1);
    /* A self-contained command after a hard turn rests on itself. */
    conv(&s, "uau", sw, NULL, 3);
    CHECK(fabs(value(&s, "chars2:证明") - 0.25 * unit(6)) < 1e-12);
    CHECK(fabs(value(&s, "chars2:座椅") - unit(10)) < 1e-12);
    CHECK(!has(&s, "follow_up"));
    conv(&s, "su", sys, NULL, 2);
    CHECK(!has(&s, "verb:prove") && !has(&s, "word:python") && !has(&s, "turns"));
    /* No user turn: the last message stands in for the request. */
    conv(&s, "s", sys, NULL, 1);
    CHECK(has(&s, "verb:prove"));
    /* Six user turns: the last, and the four before it sharing 1/4. */
    conv(&s, "uuuuuu", six, NULL, 6);
    CHECK(fabs(value(&s, "word:ff") - unit(2)) < 1e-12);
    CHECK(fabs(value(&s, "word:bb") - 0.0625 * unit(2)) < 1e-12);
    CHECK(!has(&s, "word:aa"));
    CHECK(fabs(named(&s, "turns") - log1p(5)) < 1e-12);
    conv(&s, "", NULL, NULL, 0);
    CHECK_INT(s.n, 0);
}

/* Which turn a decision rests on. */
static void test_focus(void)
{
    static const char *const followups[] = {"继续", "为什么", "举个例子", "go on", "Why?", "and in Go?",
                                            "go deeper", "那要是下雨呢", "Warum?", "¿Por qué?", "POR QUÉ?",
                                            "Почему?", "ПОЧЕМУ", "なぜ？", "더 자세히"};
    /* Commands that hold a would-be follow-up word inside another word, or
     * as a condition or a route: they stay self-contained.  The last is 60
     * malformed bytes, each read as U+FFFD. */
    static const char *const selfcontained[] = {
        "打开车窗", "下一首", "thanks, play some music", "Turn on Bluetooth", "Open the window too",
        "Take the shorter route", "Make it 22 degrees", "如果下雨就把车窗关上", "Leite die Nachricht an Anna weiter",
        "Сколько примерно ехать до дома?", "手続きの窓口はどこ",
        "继续往下写这篇文章的第二部分，重点写主人公离开故乡的那个冬天的心理变化",
        "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
        "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
        "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"};
    feature_message m[3] = {{true, "证明勾股定理", strlen("证明勾股定理")}, {false, "好", 3}, {true, NULL, 0}};
    feature_focus f;

    for (size_t i = 0; i < sizeof followups / sizeof followups[0]; i++) {
        m[2] = (feature_message){true, followups[i], strlen(followups[i])};
        featurize_focus(m, 3, &f);
        CHECK(f.follow_up && f.turn == 2 && f.ncontext == 1 && f.context[0] == 0 && f.context_weight == 1);
    }
    for (size_t i = 0; i < sizeof selfcontained / sizeof selfcontained[0]; i++) {
        m[2] = (feature_message){true, selfcontained[i], strlen(selfcontained[i])};
        featurize_focus(m, 3, &f);
        CHECK(!f.follow_up && f.turn == 2 && f.ncontext == 1 && f.context_weight == 0.25);
    }
    /* A lone turn inherits nothing, whatever it says. */
    featurize_focus(&m[2], 1, &f);
    CHECK(!f.follow_up && f.turn == 0 && f.ncontext == 0 && f.context_weight == 0);
    featurize_focus(NULL, 0, &f);
    CHECK(f.turn == 0 && f.ncontext == 0);
}

/* Tools, plans, comparisons and calculations. */
static void test_plans(void)
{
    static const char *const plan[] = {"明早先送孩子再去开会，顺路加个油，九点之前要到"};
    static const char *const cmp[] = {"两种套餐哪个更划算，帮我算算一共多少钱"};
    static const char *const en[] = {"Drop the kids first, then the bank before 9; which option is cheaper in total?"};
    static const char *const relay[] = {"给王总发短信，内容是会议改到下午两点"};
    static const char *const de[] = {"Rechne aus ob es günstiger ist und dann zuerst nach Graz"};
    static const char *const pt[] = {"Lembre-me de comprar leite"};
    static const char *const ar[] = {"افتح النافذة، شغل المكيف؛ والراديو"};
    static seen s;

    conv_tools(&s, NULL, plan, NULL, 1, 4);
    CHECK(fabs(named(&s, "tools") - log1p(4)) < 1e-12);
    CHECK(fabs(named(&s, "steps") - log1p(3)) < 1e-12);        /* 先送 再去 顺路 */
    CHECK(fabs(named(&s, "conditions") - log1p(1)) < 1e-12);   /* 之前 */
    CHECK(fabs(named(&s, "clauses") - log1p(2)) < 1e-12);     /* two commas */
    CHECK(fabs(named(&s, "tool_plan") - log1p(6)) < 1e-12);   /* steps, conditions, clauses */
    conv(&s, NULL, plan, NULL, 1);
    CHECK(!has(&s, "tools") && !has(&s, "tool_plan") && has(&s, "steps"));
    conv(&s, NULL, cmp, NULL, 1);
    CHECK(fabs(named(&s, "compare") - log1p(2)) < 1e-12);      /* 哪个 划算 */
    CHECK(fabs(named(&s, "calc") - log1p(3)) < 1e-12);         /* 算算 一共 多少钱 */
    CHECK(!has(&s, "steps"));
    conv_tools(&s, NULL, cmp, NULL, 1, 2);
    CHECK(has(&s, "tools") && fabs(named(&s, "tool_plan") - log1p(1)) < 1e-12);   /* one clause */
    conv(&s, NULL, en, NULL, 1);
    CHECK(fabs(named(&s, "steps") - log1p(2)) < 1e-12);        /* first, then */
    CHECK(fabs(named(&s, "conditions") - log1p(1)) < 1e-12);   /* before */
    CHECK(fabs(named(&s, "compare") - log1p(2)) < 1e-12);      /* option, cheaper */
    CHECK(fabs(named(&s, "calc") - log1p(1)) < 1e-12);         /* total */
    CHECK(fabs(named(&s, "clauses") - log1p(2)) < 1e-12);      /* , ; */
    conv(&s, NULL, relay, NULL, 1);
    CHECK(fabs(named(&s, "relay") - log1p(1)) < 1e-12);        /* 短信, once */
    CHECK(fabs(named(&s, "clauses") - log1p(1)) < 1e-12);
    conv(&s, NULL, pt, NULL, 1);                                /* one word to the scanner */
    CHECK(fabs(named(&s, "relay") - log1p(1)) < 1e-12);
    CHECK(!has(&s, "verb:derive"));                             /* leite: milk */
    conv(&s, NULL, ar, NULL, 1);
    CHECK(fabs(named(&s, "clauses") - log1p(2)) < 1e-12);      /* Arabic comma, semicolon */
    conv(&s, NULL, de, NULL, 1);                                /* the export languages' markers */
    CHECK(fabs(named(&s, "calc") - log1p(1)) < 1e-12);         /* rechne */
    CHECK(fabs(named(&s, "compare") - log1p(1)) < 1e-12);      /* günstiger */
    CHECK(fabs(named(&s, "steps") - log1p(2)) < 1e-12);        /* dann zuerst */
    CHECK(!has(&s, "clauses"));
}

/* Branches and dictation pauses are counted in every turn and read only
 * with tools; the same request without tools has the same features as
 * under FEATURES_EXTENDS, so a request without tools has no tools-only
 * feature at all. */
static void test_tool_branches(void)
{
    static const char *const zh[] = {"明天早上要是低于五度的话 六点五十就开始预热 然后座椅加热开三档 要是不冷就提醒我"};
    static const char *const en[] = {"if it snows precondition the car, otherwise remind me at 7"};
    static const char *const ko[] = {"만약 비가 오면 창문 닫고 에어컨 켜줘"};
    static const char *const mixed[] = {"音量调到15 然后 Apple Music\n下一首　放周杰伦"};
    static const char *const none[] = {"打开空调"};
    static const char *const *all[] = {zh, en, ko, mixed, none};
    static seen s;

    conv_tools(&s, NULL, zh, NULL, 1, 5);
    CHECK(fabs(named(&s, "tool_branches") - log1p(3)) < 1e-12);   /* 要是 的话 要是 */
    CHECK(fabs(named(&s, "tool_pauses") - log1p(3)) < 1e-12);     /* three Han-space-Han */
    conv_tools(&s, NULL, en, NULL, 1, 3);
    CHECK(fabs(named(&s, "tool_branches") - log1p(2)) < 1e-12);   /* if, otherwise */
    CHECK(!has(&s, "tool_pauses"));
    conv_tools(&s, NULL, ko, NULL, 1, 3);
    CHECK(fabs(named(&s, "tool_branches") - log1p(1)) < 1e-12);   /* 만약 */
    CHECK(!has(&s, "tool_pauses"));                                /* Korean spaces are words' */
    conv_tools(&s, NULL, mixed, NULL, 1, 3);
    CHECK(fabs(named(&s, "tool_pauses") - log1p(1)) < 1e-12);     /* only the ideographic space */
    conv_tools(&s, NULL, none, NULL, 1, 3);
    CHECK(!has(&s, "tool_branches") && !has(&s, "tool_pauses"));
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) {
        conv(&s, NULL, all[k], NULL, 1);
        CHECK(!has(&s, "tools") && !has(&s, "tool_plan") && !has(&s, "tool_branches") && !has(&s, "tool_pauses"));
        for (size_t i = 0; i < s.n; i++) CHECK(!feature_second_stage(s.f[i].index));
    }
    CHECK(feature_second_stage(index_of(&s, "chars")) == false);
    conv_tools(&s, NULL, zh, NULL, 1, 5);
    CHECK(feature_second_stage(index_of(&s, "tools")) && feature_second_stage(index_of(&s, "tool_plan")) &&
          feature_second_stage(index_of(&s, "tool_branches")) && feature_second_stage(index_of(&s, "tool_pauses")));
    CHECK(!feature_second_stage(index_of(&s, "conditions")));
}

/* figures: three numbers or more and a marker of calculation or comparison,
 * in the request's instruction, with or without tools; the words of a
 * question about figures that is a lookup have no say. */
static void test_figures(void)
{
    static const char *const day_pass[] = {"we're 4 people, 3 rides each today and 2 tomorrow, is the day pass worth it"};
    static const char *const owe[] = {"I came in at 9 50 and it's now 3 35 I spent 85 at Myer so what do I owe"};
    static const char *const zh[] = {"两种套餐一个每月59一个每月99送20G，一年下来哪个划算"};
    static const char *const two[] = {"15% of 80?"};                         /* one step: two numbers */
    static const char *const lookup[] = {"how much is a day pass"};          /* a marker, no figures */
    static const char *const no_marker[] = {"call 555 0123 4567"};           /* figures, no marker */
    static const char *const quoted[] = {"Translate this: \"3 apples cost 2 euros, 5 pears cost 4 euros, and "
                                         "the total is 6 euros for the whole basket\""};
    static const char *const thread[] = {"I spent 85 at Myer, 60 at Kmart and 20 at Coles, what do I owe",
                                         "thanks, turn the radio on"};
    static seen s;

    conv(&s, NULL, day_pass, NULL, 1);
    CHECK(named(&s, "figures") == 1);
    conv(&s, NULL, owe, NULL, 1);
    CHECK(named(&s, "figures") == 1);
    conv(&s, NULL, zh, NULL, 1);
    CHECK(named(&s, "figures") == 1);
    conv_tools(&s, NULL, zh, NULL, 1, 4);
    CHECK(named(&s, "figures") == 1);
    conv(&s, NULL, two, NULL, 1);
    CHECK(!has(&s, "figures"));
    conv(&s, NULL, lookup, NULL, 1);
    CHECK(!has(&s, "figures") && has(&s, "calc"));
    conv(&s, NULL, no_marker, NULL, 1);
    CHECK(!has(&s, "figures"));
    conv(&s, NULL, quoted, NULL, 1);                     /* the quoted text's figures are not the ask's */
    CHECK(!has(&s, "figures") && has(&s, "payload"));
    conv(&s, NULL, thread, NULL, 2);                     /* only the request turn counts */
    CHECK(!has(&s, "figures"));
    conv(&s, NULL, thread, NULL, 1);
    CHECK(named(&s, "figures") == 1);
    CHECK(feature_second_stage(index_of(&s, "figures")));
    /* What FEATURES_EXTENDS promises: the named features it lacks are all
     * the second stage's. */
    for (uint32_t i = FEATURES_EXTENDS_NNAMED; i < FEATURES_NNAMED; i++) CHECK(feature_second_stage(i));
}

/* A text the request quotes to work on is read at 0.3 of the instruction's
 * weight, with its own length; the instruction alone counts for the plan.
 * After a colon, only a relay's text is such a text. */
static void test_payload(void)
{
    static const char relay[] = "Text to Coach Daniels: Hi Coach, this is Ethan's dad, Ethan twisted his ankle "
                                "at school today.";
    static const char sum[] = "帮我算一下：现在剩余电量35%，高速上每百公里耗电18度，到480公里外的目的地中途至少要充几次电";
    static const char review[] = "Is this review positive or negative? \"The battery lasts all day but the "
                                 "screen scratches way too easily.\"";
    static const char after[] = "“本次展会将于2025年3月18日在国家会展中心正式开幕，为期四天。”这段话里的日期是哪天";
    static const char shortq[] = "Give me a synonym for \"happy\"";
    static const char timed[] = "Remind me at 10:30: call the garage about the brakes, and ask whether the "
                                "part has arrived";
    static const char open[] = "Translate \"the charging cable is stuck in the port and will not come out";
    static const char inch[] = "I have a 27\" monitor and want to know how to calibrate its colours for photo "
                               "editing and print work";
    static const char whole[] = "\"Please prove that there are infinitely many primes, and then explain why\"";
    static const char relayq[] = "Text Maria: she said “the meeting moved to the big room on the third floor, "
                                 "bring the slides” so tell her I am late";
    static const char *const tools[] = {"text Maria: running late, start without me, order the pasta, tell "
                                        "everyone to wait"};
    static seen s;
    double instr = 21, payload = (double)strlen(relay) - 22;

    text(&s, relay);
    CHECK(sane(&s));
    CHECK(fabs(named(&s, "payload") - log1p(payload)) < 1e-12);
    CHECK(fabs(named(&s, "chars") - log1p(instr) - 0.3 * log1p(payload)) < 1e-12);
    CHECK(fabs(value(&s, "word:daniels") - unit(instr)) < 1e-12);         /* the instruction */
    CHECK(fabs(value(&s, "word:ankle") - 0.3 * unit(payload)) < 1e-12);   /* the text to pass on */
    CHECK(fabs(named(&s, "clauses") - 0.3 * log1p(2)) < 1e-12);          /* the text's commas */
    CHECK(fabs(named(&s, "relay") - log1p(1)) < 1e-12);                  /* "text": the message's own
                                                                             words do not count */

    text(&s, sum);                                                        /* the task itself */
    CHECK(!has(&s, "payload"));
    CHECK(fabs(named(&s, "chars") - log1p(49)) < 1e-12);

    text(&s, review);
    CHECK(fabs(named(&s, "payload") - log1p(66)) < 1e-12);
    CHECK(fabs(value(&s, "word:review") - unit(37)) < 1e-12);
    CHECK(fabs(value(&s, "word:battery") - 0.3 * unit(66)) < 1e-12);

    text(&s, after);                                                      /* the quote comes first */
    CHECK(fabs(named(&s, "payload") - log1p(33)) < 1e-12);
    CHECK(fabs(named(&s, "chars") - log1p(10) - 0.3 * log1p(33)) < 1e-12);

    text(&s, shortq);                                                     /* too short to be a text */
    CHECK(!has(&s, "payload"));
    CHECK(fabs(value(&s, "word:happy") - unit(29)) < 1e-12);

    text(&s, timed);                                                      /* 10:30 is a time */
    CHECK(fabs(value(&s, "word:remind") - unit(18)) < 1e-12);
    CHECK(has(&s, "payload"));

    text(&s, open);                                                       /* a quote must close */
    CHECK(!has(&s, "payload"));
    text(&s, inch);                                                       /* 27" is not a quote */
    CHECK(!has(&s, "payload"));
    text(&s, whole);                                                      /* no instruction outside */
    CHECK(!has(&s, "payload") && has(&s, "verb:prove"));
    CHECK(fabs(named(&s, "chars") - log1p((double)strlen(whole))) < 1e-12);
    text(&s, relayq);                                                     /* the relay's colon comes first */
    CHECK(fabs(named(&s, "payload") - log1p((double)strlen(relayq) - 11 - 4)) < 1e-12);   /* “ ” 3 bytes each */
    CHECK(fabs(value(&s, "word:maria") - unit(10)) < 1e-12);

    {
        /* A quotation inside a long text is part of it, and a turn longer
         * than the scan limit is never split. */
        static char mid[600], big[20000];
        size_t at = 0;

        for (; at < 250; at++) mid[at] = "explain this "[at % 13];
        at += (size_t)snprintf(mid + at, sizeof mid - at, "\"%s\"", "a sentence someone said on the radio this morning about traffic");
        for (; at < sizeof mid; at++) mid[at] = "and more text "[at % 14];
        bytes(&s, mid, sizeof mid);
        CHECK(!has(&s, "payload"));
        /* ... unless it ends the request, after its instruction. */
        at = 250;
        at += (size_t)snprintf(mid + at, sizeof mid - at, "please translate: \"%s\"",
                               "a sentence someone said on the radio this morning about traffic");
        bytes(&s, mid, at);
        CHECK(fabs(named(&s, "payload") - log1p(63)) < 1e-12);
        memset(big, 'a', sizeof big);
        memcpy(big, "Translate: ", 11);
        for (size_t i = 11; i < sizeof big; i += 8) big[i] = ' ';
        bytes(&s, big, sizeof big);
        CHECK(!has(&s, "payload") && sane(&s));
        CHECK(fabs(named(&s, "chars") - log1p((double)sizeof big)) < 0.01);
    }

    conv_tools(&s, NULL, tools, NULL, 1, 3);                              /* one action: send it */
    CHECK(has(&s, "payload") && has(&s, "tools") && !has(&s, "tool_plan"));
}

/* Names: the n-gram as seen, lower-cased, spaces collapsed, cut on a
 * character boundary; named features by their name. */
static void test_display(void)
{
    feature f = {FEATURES_NNAMED, 1};
    feature_origin o = {"words", "Hello \n\t World", 14};
    feature_origin zh = {"chars3", "证明题", 9};
    feature_origin none = {NULL, NULL, 0};
    char buf[64], tiny[12];

    feature_display(&f, &o, buf, sizeof buf);
    CHECK_STR(buf, "words:hello world");
    feature_display(&f, &zh, tiny, sizeof tiny);
    CHECK_STR(tiny, "chars3:证");   /* 明 would not fit with the NUL */
    f.index = 0;
    feature_display(&f, &none, buf, sizeof buf);
    CHECK_STR(buf, "chars");
    for (uint32_t i = 0; i < FEATURES_NNAMED; i++) {
        CHECK(feature_name(i) != NULL);
        for (uint32_t j = 0; j < i; j++) CHECK(strcmp(feature_name(i), feature_name(j)) != 0);
    }
    CHECK(feature_name(FEATURES_NNAMED) == NULL);
}

/* The same conversation gives the same features, with or without origins. */
static void test_deterministic(void)
{
    static const char *const unit = "Plan a 3-day trip to 北京, at least 5 sights; 预算不超过3000元。";
    static char t[1024];
    feature_message m;
    static seen a, b;

    t[0] = '\0';
    for (int i = 0; i < 8; i++) strcat(t, unit);
    m = (feature_message){true, t, strlen(t)};
    text(&a, t);
    text(&b, t);
    CHECK(same(&a, &b));
    b.n = b.batches = 0;
    b.origins_ok = true;
    featurize(fx, &m, 1, 0, false, record, &b);
    CHECK(!b.origins_ok);   /* origins NULL, as asked */
    CHECK(same(&a, &b));
    CHECK(a.batches >= 2);  /* more occurrences than one batch holds */
}

/* Truncated sequences, invalid bytes, overlongs, surrogates, NULs, every
 * prefix: a sane result and no read past len. */
static void test_hostile_bytes(void)
{
    static const char *const cases[] = {
        "\xe6\x89\x93\xe5\xbc\x80\xe7\xa9", "\xe7", "\xf0\x9f", "\xf0\x9f\x98", "\xc3", "\xff\xfe\xfd",
        "\x80\x80\x80", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80",
        "prove \xff derive \xe6\x8e", "12\xe5", "\xef\xbc\x9f\xef\xbc", "a'", "x-", "1.", "(1", "`", "#inc",
        "写一\xe7\xaf", "\xe4\xb8\x80\xe3\x80",
        "Write a proof that √2 is irrational; 用中文写一篇800字的文章，不少于三段。\n1. a\n```c\nint x;\n```",
    };
    static seen s;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = strlen(cases[i]);
        for (size_t cut = 0; cut <= len; cut++) {
            bytes(&s, cases[i], cut);
            if (!sane(&s)) fprintf(stderr, "case %zu cut %zu\n", i, cut);
            CHECK(sane(&s));
        }
    }
    bytes(&s, "a\0b\0prove\0", 10);
    CHECK(sane(&s) && has(&s, "verb:prove"));
    /* Invalid bytes show as U+FFFD, so a name is always valid UTF-8. */
    bytes(&s, "\xff", 1);
    CHECK(has(&s, "sym:\xef\xbf\xbd"));
}

/* A huge message costs a bounded scan, and its length still counts. */
static void test_huge_message(void)
{
    size_t len = 4u << 20;
    char *big = malloc(len);
    feature_message m = {true, big, len};
    static seen s;

    for (size_t i = 0; i < len; i++) big[i] = "lorem ipsum dolor sit amet "[i % 27];
    s.n = s.batches = 0;
    s.origins_ok = true;
    featurize(fx, &m, 1, 0, true, record, &s);
    CHECK(sane(&s));
    CHECK(fabs(named(&s, "chars") - log1p((double)len)) < 0.01);
    CHECK(s.n < MAX_SEEN);   /* only the first bytes were read */
    free(big);
}

int main(void)
{
    fx = featurizer_new();
    CHECK(fx != NULL);
    if (!fx) TEST_MAIN_END();
    test_cjk_ngrams();
    test_latin_ngrams();
    test_structural();
    test_normalisation();
    test_norm_pinned();
    test_conversations();
    test_focus();
    test_plans();
    test_tool_branches();
    test_figures();
    test_payload();
    test_display();
    test_deterministic();
    test_hostile_bytes();
    test_huge_message();
    featurizer_free(fx);
    TEST_MAIN_END();
}
