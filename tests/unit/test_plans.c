/* test_plans: what the classifier reads of a conversation and of a plan:
 * which turns a request rests on (follow-ups, switches), the markers of
 * steps, comparison, calculation and conditions, a tool request's plan,
 * branches and pauses, and figures. */
#include "featseen.h"
#include "lexicon.h"

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
 * with tools; the same request without tools (and without figures) has
 * the same features as under FEATURES_EXTENDS, no second-stage feature at
 * all. */
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

/* figures: three numbers or more and a marker that asks for a figure
 * (LEXICON_ASKS), in the request's instruction, with or without tools; a
 * marker that names a rate or offers alternatives, and a lookup with one
 * number, have no say. */
static void test_figures(void)
{
    static const char *const day_pass[] = {"we're 4 people, 3 rides each today and 2 tomorrow, "
                                           "is the day pass worth it"};
    static const char *const owe[] = {"I came in at 9 50 and it's now 3 35 I spent 85 at Myer so what do I owe"};
    static const char *const zh[] = {"两种套餐一个每月59一个每月99送20G，一年下来哪个划算"};
    static const char *const de[] = {"wir sind 4, je 3 Fahrten heute und 2 morgen, ist die Tageskarte günstiger"};
    static const char *const two[] = {"how much is 15% of 80"};            /* one step: two numbers */
    static const char *const three[] = {"how much is 15% of 80 plus 5"};   /* the same with a third */
    static const char *const lookup[] = {"how much is a day pass"};        /* a marker, no figures */
    static const char *const no_marker[] = {"call 555 0123 4567"};         /* figures, no marker */
    /* Markers that name a rate or offer alternatives do not ask. */
    static const char *const commands[] = {"turn off alarms 1 2 and 3", "set the temperature to 21 or 22, fan 3",
                                           "空调调到22度还是23度，风量3档", "每天7点、8点和9点提醒我",
                                           "3 items 20% off, 2 for 5 euros per piece",
                                           "erinnere mich monatlich am 3., 15. und 28."};
    static const char *const quoted[] = {"Translate this: \"3 apples cost 2 euros, 5 pears cost 4 euros, and "
                                         "the total is 6 euros for the whole basket\""};
    static const char *const thread[] = {"I spent 85 at Myer, 60 at Kmart and 20 at Coles, what do I owe",
                                         "thanks, turn the radio on"};
    static seen s;

    conv(&s, NULL, day_pass, NULL, 1);                  /* a choice */
    CHECK(named(&s, "figures_choice") == 1 && !has(&s, "figures"));
    conv(&s, NULL, owe, NULL, 1);                       /* a figure */
    CHECK(named(&s, "figures") == 1 && !has(&s, "figures_choice"));
    conv(&s, NULL, zh, NULL, 1);
    CHECK(named(&s, "figures_choice") == 1);
    conv_tools(&s, NULL, zh, NULL, 1, 4);
    CHECK(named(&s, "figures_choice") == 1);
    conv(&s, NULL, de, NULL, 1);
    CHECK(named(&s, "figures_choice") == 1);
    conv(&s, NULL, two, NULL, 1);
    CHECK(!has(&s, "figures") && has(&s, "calc") && fabs(named(&s, "numbers") - log1p(2)) < 1e-12);
    conv(&s, NULL, three, NULL, 1);
    CHECK(named(&s, "figures") == 1 && fabs(named(&s, "numbers") - log1p(3)) < 1e-12);
    conv(&s, NULL, lookup, NULL, 1);
    CHECK(!has(&s, "figures") && has(&s, "calc"));
    conv(&s, NULL, no_marker, NULL, 1);
    CHECK(!has(&s, "figures"));
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        conv_tools(&s, NULL, &commands[i], NULL, 1, 5);
        CHECK(!has(&s, "figures") && !has(&s, "figures_choice") && (has(&s, "calc") || has(&s, "compare")));
        CHECK(named(&s, "numbers") >= log1p(3) - 1e-12);
    }
    conv(&s, NULL, quoted, NULL, 1);                     /* the quoted text's figures are not the ask's */
    CHECK(!has(&s, "figures") && has(&s, "payload"));
    conv(&s, NULL, thread, NULL, 2);                     /* only the request turn counts */
    CHECK(!has(&s, "figures"));
    conv(&s, NULL, thread, NULL, 1);
    CHECK(named(&s, "figures") == 1);
    CHECK(feature_second_stage(index_of(&s, "figures")));
    conv(&s, NULL, day_pass, NULL, 1);
    CHECK(feature_second_stage(index_of(&s, "figures_choice")));
    /* What FEATURES_EXTENDS promises: the named features it lacks are all
     * the second stage's. */
    for (uint32_t i = FEATURES_EXTENDS_NNAMED; i < FEATURES_NNAMED; i++) CHECK(feature_second_stage(i));
}

/* Questions for a quantity ask for a figure, in Chinese, English and every
 * learned export language; those the first stage counts as question words
 * count as one still, the others count for nothing but figures.  Each row
 * has no other marker that asks. */
static void test_quantity_questions(void)
{
    static const char *const asks[] = {"我们4个人 每人3张 一张45 要买几张",
                                       "我们4个人 每人3张 一张45 付多少",
                                       "somos 4, 3 viajes cada uno a 2,50, cuánto pagamos",
                                       "somos 4, 3 viagens a 2,50 cada, quanto pagamos",
                                       "нас 4, по 3 поездки по 50 рублей, сколько платим",
                                       "نحن 4 و 3 رحلات لكل واحد بسعر 50 كم ندفع",
                                       "on est 6, l'addition fait 312 euros, 5 % de pourboire, combien chacun",
                                       "배터리 25% 남았고 210킬로 가야 돼 100kW 충전기면 몇 분 충전해야 돼",
                                       "wir sind 4, 3 Fahrten je 2,90 Euro, wie viel zahlen wir",
                                       "battery at 25% with 210 km to go on a 100 kW charger, how long do I charge",
                                       "3人で8,000円のコースと2,500円の飲み放題、いくつ頼めばいい",
                                       "3人で8,000円のコースと2,500円の飲み放題、何回分"};
    static seen s, plain;

    for (size_t i = 0; i < sizeof asks / sizeof asks[0]; i++) {
        text(&s, asks[i]);
        CHECK(named(&s, "figures") == 1 && !has(&s, "numbers_stated"));
    }
    /* "wie viel" counts for figures alone: the question words are "wie"'s. */
    text(&s, "wie viel kostet es");
    text(&plain, "wie kostet es");
    CHECK(named(&s, "question_words") > 0);
    CHECK(fabs(named(&s, "question_words") - named(&plain, "question_words")) < 1e-12);
    text(&s, "몇 시야");                                  /* 몇 is no question word to the first stage */
    CHECK(!has(&s, "question_words"));
}

/* numbers_stated: three numbers or more handed over, not asked about, nor
 * chosen between. */
static void test_numbers_stated(void)
{
    static const char *const stated[] = {"Wecker morgen 5:30 und nochmal 5:45 Lautstärke 8",
                                         "add 2 kg potatoes 6 eggs and 1 litre of milk to the list",
                                         "提醒我3号9点交话费 45块",
                                         "text Anna the tickets are 45, meet at gate 3 at 7"};
    static const char *const question[] = {"is flight OS 112 at 16:05 still leaving from gate 23?",
                                           "wie schaut's aus mit dem Flug OS 112 um 16:05 ab Gate 23",
                                           "3号线16:05那班车在23号口吗"};
    static const char *const two[] = {"remind me at 7 to call 555"};
    static const char *const asked[] = {"一共3个人，每人2张票，4块一张，一共多少钱"};
    static const char *const chosen[] = {"2 nights at 89 or 3 at 75 better"};
    static const char *const quoted[] = {"Translate this: \"3 apples cost 2 euros, 5 pears cost 4 euros, and "
                                         "the total is 6 euros for the whole basket\""};
    static const char *const thread[] = {"add 2 kg potatoes 6 eggs and 1 litre of milk to the list", "thanks"};
    static seen s;

    for (size_t i = 0; i < sizeof stated / sizeof stated[0]; i++) {
        conv(&s, NULL, &stated[i], NULL, 1);
        CHECK(named(&s, "numbers_stated") == 1 && !has(&s, "figures"));
        CHECK(feature_second_stage(index_of(&s, "numbers_stated")));
        conv_tools(&s, NULL, &stated[i], NULL, 1, 5);        /* a tool request's own features read it */
        CHECK(!has(&s, "numbers_stated"));
    }
    for (size_t i = 0; i < sizeof question / sizeof question[0]; i++) {
        conv(&s, NULL, &question[i], NULL, 1);
        CHECK(!has(&s, "numbers_stated") && !has(&s, "figures") && named(&s, "numbers") >= log1p(3) - 1e-12);
    }
    conv(&s, NULL, two, NULL, 1);
    CHECK(!has(&s, "numbers_stated"));
    conv(&s, NULL, asked, NULL, 1);
    CHECK(!has(&s, "numbers_stated") && named(&s, "figures") == 1);
    conv(&s, NULL, chosen, NULL, 1);
    CHECK(!has(&s, "numbers_stated") && named(&s, "figures_choice") == 1);
    conv(&s, NULL, quoted, NULL, 1);                    /* the quoted text's numbers are not handed over */
    CHECK(!has(&s, "numbers_stated") && has(&s, "payload"));
    conv(&s, NULL, thread, NULL, 2);                    /* only the request turn counts */
    CHECK(!has(&s, "numbers_stated"));
}

/* The flag that makes a marker ask: only on calc and compare entries and
 * quantity question words, and it leaves the named feature readable; the
 * entries of figures itself carry no flag (these hold whatever NDEBUG
 * says).  The counts are what docs/classifier.md states. */
static void test_lexicon_asks(void)
{
    size_t asks = 0, own = 0;

    for (size_t k = 0; k < LEXICON_ENTRIES; k++) {
        unsigned named;
        const char *text = lexicon_entry(k, &named);
        unsigned f = named & ~LEXICON_ASKS;

        CHECK(text != NULL && f < FEATURES_NNAMED);
        if (named & LEXICON_ASKS) {
            asks++;
            CHECK(f == NF_CALC || f == NF_COMPARE || f == NF_QWORDS);
        }
        own += named == NF_FIGURES;
    }
    CHECK_INT(asks, 99);
    CHECK_INT(own, 22);
}

int main(void)
{
    fx = featurizer_new();
    CHECK(fx != NULL);
    if (!fx) TEST_MAIN_END();
    test_conversations();
    test_focus();
    test_plans();
    test_tool_branches();
    test_figures();
    test_quantity_questions();
    test_numbers_stated();
    test_lexicon_asks();
    featurizer_free(fx);
    TEST_MAIN_END();
}
