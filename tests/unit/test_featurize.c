/* test_featurize: what the classifier reads of a text.  CJK character
 * n-grams and Latin word n-grams, normalisation (case, full width,
 * numbers), the named structural features, quoted texts, length
 * normalisation, display names, and hostile bytes (conversations and
 * plans: test_plans). */
#include "featseen.h"

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


/* The shipped model was trained with 0.4: another value needs a new
 * FEATURES_VERSION and a retrained model, and this check says so. */
static void test_norm_pinned(void)
{
    CHECK_INT(FEATURES_VERSION, 13);
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
    test_payload();
    test_display();
    test_deterministic();
    test_hostile_bytes();
    test_huge_message();
    featurizer_free(fx);
    TEST_MAIN_END();
}
