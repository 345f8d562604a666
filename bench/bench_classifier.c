/* bench_classifier: how long classifier_score() takes on a 2 KB prompt and
 * on a 10-message, 8 KB conversation with tools, and language identification
 * (classifier_language()), alone and with the score: the routing decision
 * needs both.
 *
 * Each prompt is scored RUNS times after a warm-up, every call timed on its
 * own with CLOCK_MONOTONIC, and the percentiles of those times printed.  The
 * prompts are built by repeating a realistic paragraph up to PROMPT_BYTES
 * (cut on a character boundary), one English, one Chinese, one a
 * conversation, so the figures cover both tokenizers and the history path,
 * and one each in German, Russian, Japanese and Arabic, whose accented,
 * Cyrillic and Arabic words take the scanner's general path.
 * The clock is CLOCK_MONOTONIC, read through the vDSO (about 20 ns, included
 * in every figure): wall time, what a request waits.  On a shared machine it
 * also counts the time the thread was not running, so the load average is
 * printed with the figures: under load the tail says more about the
 * scheduler than about the code.  (The thread CPU clock would leave
 * preemption out, but costs a system call of several microseconds per
 * reading in a VM, more than it would remove.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "classifier.h"

#define PROMPT_BYTES 2048
#define CONVERSATION_BYTES 8192
#define CONVERSATION_MESSAGES 10
#define CONVERSATION_TOOLS 10
#define WARMUP 2000
#define RUNS 200000

static const char english[] =
    "I am preparing a migration plan for our billing service and I need a careful analysis. "
    "The service is a ten-year-old monolith written in Java that handles invoices, payments and "
    "refunds for about two million customers. Please compare a strangler-fig migration with a "
    "full rewrite, estimate the risks of each, and design the first three milestones, with the "
    "data model changes, the rollback strategy and the tests we would need at every step. ";
static const char chinese[] =
    "我们公司准备把一个运行了十年的计费系统从单体架构迁移到微服务架构，这个系统负责大约两百万用户的"
    "账单、支付和退款。请你详细分析逐步替换和整体重写两种方案的优缺点，评估各自的风险，并设计前三个"
    "里程碑，包括数据模型的变化、回滚策略，以及每一步需要的测试。";

static const char german[] =
    "Wir planen die Umstellung unserer Lieferflotte von Diesel auf Elektro und brauchen eine gründliche "
    "Analyse. Vergleiche bitte die Gesamtkosten über acht Jahre für vierzig Transporter, schätze den "
    "Ladebedarf pro Standort, entwirf einen Zeitplan in drei Stufen und nenne die Risiken für jede Stufe. ";
static const char russian[] =
    "Мы планируем перевести наш парк из сорока фургонов с дизеля на электричество, и нам нужен подробный "
    "анализ. Сравни полную стоимость владения за восемь лет, оцени потребность в зарядке на каждой базе, "
    "составь план перехода в три этапа и назови риски каждого этапа. ";
static const char japanese[] =
    "配送用のバン四十台をディーゼルから電気自動車に切り替える計画について、詳しい分析をお願いします。"
    "八年間の総保有コストを比較し、拠点ごとの充電需要を見積もり、三段階の移行計画と各段階のリスクを"
    "まとめてください。";
static const char arabic[] =
    "نخطط لتحويل أسطولنا المكون من أربعين شاحنة صغيرة من الديزل إلى الكهرباء ونحتاج إلى تحليل مفصل. "
    "قارن التكلفة الإجمالية للملكية على مدى ثماني سنوات، وقدر حاجة الشحن في كل موقع، وضع خطة انتقال "
    "من ثلاث مراحل مع مخاطر كل مرحلة. ";

/* Length of buf[0, len) cut back to a UTF-8 character boundary. */
static size_t boundary(const char *buf, size_t len)
{
    while (len > 0 && ((unsigned char)buf[len] & 0xC0) == 0x80) len--;
    return len;
}

/* Fills buf with copies of text up to bytes, cut on a UTF-8 character
 * boundary; returns the length. */
static size_t make_text(char *buf, const char *text, size_t bytes)
{
    size_t n = strlen(text), len = 0;

    while (len + n <= bytes) {
        memcpy(buf + len, text, n);
        len += n;
    }
    memcpy(buf + len, text, bytes - len);
    return boundary(buf, bytes);
}

static size_t make_prompt(char *buf, const char *text) { return make_text(buf, text, PROMPT_BYTES); }

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* What a row times: the score, language identification, or both. */
enum work { SCORE, LANGUAGE, DECISION };

static double call(const classifier *m, enum work w, const feature_message *msgs, size_t n, size_t ntools)
{
    double v = 0;

    if (w != LANGUAGE) v += classifier_score(m, msgs, n, ntools);
    if (w != SCORE) v += (double)classifier_language(m, msgs, n);
    return v;
}

/* Times RUNS calls and prints one table row. */
static void run(const classifier *m, enum work w, const char *name, const feature_message *msgs, size_t n,
                size_t ntools, double *t)
{
    static const char *const what[] = {"score", "language", "score + language"};
    volatile double sink = 0;
    size_t bytes = 0;

    for (size_t i = 0; i < n; i++) bytes += msgs[i].len;
    for (int i = 0; i < WARMUP; i++) sink += call(m, w, msgs, n, ntools);
    for (int i = 0; i < RUNS; i++) {
        double start = now_ns();
        sink += call(m, w, msgs, n, ntools);
        t[i] = now_ns() - start;
    }
    qsort(t, RUNS, sizeof *t, by_value);
    printf("| %s | %s | %zu | %.2f | %.2f | %.2f | %.2f | %.3f | %s |\n", name, what[w], bytes, t[RUNS / 2] / 1e3,
           t[RUNS * 99 / 100] / 1e3, t[RUNS * 999 / 1000] / 1e3, t[RUNS - 1] / 1e3,
           classifier_score(m, msgs, n, ntools), langid_code(classifier_language(m, msgs, n)));
    (void)sink;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "config/classifier.model";
    static char en[PROMPT_BYTES + 1], zh[PROMPT_BYTES + 1], de[PROMPT_BYTES + 1], ru[PROMPT_BYTES + 1],
        ja[PROMPT_BYTES + 1], ar[PROMPT_BYTES + 1], mixed[CONVERSATION_BYTES + 1];
    feature_message turns[CONVERSATION_MESSAGES];
    size_t at = 0;
    double *t = malloc(RUNS * sizeof *t);
    char err[512];
    classifier *m = classifier_load(path, err, sizeof err);

    if (!m || !t) {
        fprintf(stderr, "bench_classifier: %s\n", m ? "out of memory" : err);
        classifier_free(m);
        free(t);
        return 1;
    }
    feature_message one_en = {true, en, make_prompt(en, english)};
    feature_message one_zh = {true, zh, make_prompt(zh, chinese)};
    feature_message conv[] = {one_zh, {false, en, 300}, {true, "继续，再详细一点", strlen("继续，再详细一点")}};
    feature_message others[] = {{true, de, make_prompt(de, german)}, {true, ru, make_prompt(ru, russian)},
                                {true, ja, make_prompt(ja, japanese)}, {true, ar, make_prompt(ar, arabic)}};
    static const char *const names[] = {"German, one turn", "Russian, one turn", "Japanese, one turn",
                                        "Arabic, one turn"};

    /* A system prompt, then user and assistant turns in turn, Chinese and
     * English text, about 820 bytes each, the last a user turn. */
    for (size_t k = 0; k < CONVERSATION_MESSAGES; k++) {
        size_t want = (k + 1) * CONVERSATION_BYTES / CONVERSATION_MESSAGES - at;
        size_t len = make_text(mixed + at, k % 2 ? english : chinese, want);
        turns[k] = (feature_message){k % 2 == 1, mixed + at, len};   /* system, user, assistant, ..., user */
        at += len;
    }

    double load[3] = {0, 0, 0};
    if (getloadavg(load, 3) == 3) printf("load average before: %.2f %.2f %.2f\n\n", load[0], load[1], load[2]);
    printf("| prompt | timed | bytes | p50 (us) | p99 (us) | p99.9 (us) | max (us) | score | lang |\n");
    printf("|---|---|---:|---:|---:|---:|---:|---:|---|\n");
    run(m, SCORE, "English, one turn", &one_en, 1, 0, t);
    run(m, SCORE, "Chinese, one turn", &one_zh, 1, 0, t);
    run(m, SCORE, "Chinese, 2 KB turn + answer + follow-up", conv, 3, 0, t);
    run(m, SCORE, "10 messages, 8 KB, zh and en, 10 tools", turns, CONVERSATION_MESSAGES, CONVERSATION_TOOLS, t);
    for (size_t i = 0; i < 4; i++) run(m, SCORE, names[i], &others[i], 1, 0, t);
    run(m, LANGUAGE, "English, one turn", &one_en, 1, 0, t);
    run(m, LANGUAGE, "Chinese, one turn", &one_zh, 1, 0, t);
    run(m, LANGUAGE, "10 messages, 8 KB, zh and en, 10 tools", turns, CONVERSATION_MESSAGES, CONVERSATION_TOOLS, t);
    for (size_t i = 0; i < 4; i++) run(m, LANGUAGE, names[i], &others[i], 1, 0, t);
    run(m, DECISION, "English, one turn", &one_en, 1, 0, t);
    run(m, DECISION, "Chinese, one turn", &one_zh, 1, 0, t);
    run(m, DECISION, "10 messages, 8 KB, zh and en, 10 tools", turns, CONVERSATION_MESSAGES, CONVERSATION_TOOLS, t);
    for (size_t i = 0; i < 4; i++) run(m, DECISION, names[i], &others[i], 1, 0, t);
    classifier_free(m);
    free(t);
    return 0;
}
