/* Every evaluation set of the project is kept apart from everything the
 * model is trained on, by one check for all of them:
 *
 * - every evaluation row is evaluation-only by licence (the one rule in
 *   tools/dataset.c), so tiergate-train can never pick one up;
 * - no message of an evaluation row longer than SHORT_CHARS normalised
 *   characters, and more than one short word of a language written with
 *   spaces ("morning"), appears in a trainable training row, exactly or after
 *   normalisation (case, full width, white space, punctuation), whole or
 *   inside a longer message.  Shorter messages ("继续", "why?", "go on")
 *   are formulaic and may recur, and a short stock question of the
 *   training data may sit inside a longer evaluation question ("Wie spät
 *   ist es?" is in every phrase book), but not the other way round;
 * - no evaluation row as a whole (its messages joined) is a training row,
 *   exactly or normalised: this covers the short single-message rows.
 *
 * The evaluation files are conversations-eval.jsonl (issue 18),
 * lang-eval.jsonl (the export languages) and single-eval.jsonl (English
 * single requests, and requests with three figures or more in six
 * languages), all the sixteenth sets, written by authors who had read no
 * training row; the training files are the project's six (the first
 * fifteen conversation sets and the first fifteen export-language sets
 * but the thirteenth, which was never written, among them, retired to
 * training as
 * conversations-dev.jsonl and lang-dev.jsonl) and, when it is
 * beside the repository, the public corpus.
 * Each evaluation file also has the rows docs/classifier.md reports. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset.h"
#include "langid.h"
#include "scan.h"
#include "testlib.h"
#include "utf8.h"

#define DATA TIERGATE_SOURCE_DIR "/tools/data/"
#define PUBLIC TIERGATE_SOURCE_DIR "/../shared/data/route-dev.jsonl"
#define SHORT_CHARS 4
#define ONE_WORD_CHARS 20
#define LANG_EVAL_ROWS_MIN 60

static featurizer *fx;

static bool punctuation(uint32_t cp)
{
    return (cp < 0x80 && cp > ' ' && !((cp | 0x20) - 'a' < 26u) && !(cp - '0' < 10u)) || cp == 0xA1 ||
           cp == 0xAB || cp == 0xBB || cp == 0xBF || cp == 0x60C || cp == 0x61B || cp == 0x61F ||
           (cp >= 0x2000 && cp <= 0x206F) || (cp >= 0x3000 && cp <= 0x303F) || (cp >= 0xFE30 && cp <= 0xFE4F) ||
           (cp >= 0xFF00 && cp <= 0xFF65);
}

/* text[0, len) lower-cased (utf8_lower; full width read as ASCII, as the
 * scanner reads it), without white space and punctuation; a new string.
 * *chars receives its characters. */
static char *normalise(const char *text, size_t len, size_t *chars)
{
    char *out = malloc(len * 2 + 1);
    size_t at = 0, i = 0;

    if (!out) exit(1);
    *chars = 0;
    while (i < len) {
        size_t n;
        uint32_t cp = scan_char((const unsigned char *)text + i, len - i, &n);

        if (!scan_space(cp) && !punctuation(cp)) {
            at += utf8_encode(utf8_lower(cp), (unsigned char *)out + at);
            ++*chars;
        }
        i += n;
    }
    out[at] = '\0';
    return out;
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);

    if (!d) exit(1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* Texts (messages or whole rows), exact and normalised, with the row each
 * came from. */
typedef struct texts {
    char **exact, **norm;
    const example **row;
    size_t n;
} texts;

static void push(texts *t, char *exact, char *norm, const example *row)
{
    t->exact = realloc(t->exact, (t->n + 1) * sizeof *t->exact);
    t->norm = realloc(t->norm, (t->n + 1) * sizeof *t->norm);
    t->row = realloc(t->row, (t->n + 1) * sizeof *t->row);
    if (!t->exact || !t->norm || !t->row) exit(1);
    t->exact[t->n] = exact;
    t->norm[t->n] = norm;
    t->row[t->n++] = row;
}

static void texts_free(texts *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->exact[i]);
        free(t->norm[i]);
    }
    free(t->exact);
    free(t->norm);
    free(t->row);
    *t = (texts){0};
}

static bool blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* Whether text[0, len) is one short word of a language written with spaces
 * ("morning", "Danke"): at most ONE_WORD_CHARS bytes, no white space inside,
 * no character from U+0800 on (CJK, kana, Hangul, Thai, which are written
 * without spaces). */
static bool one_word(const char *text, size_t len)
{
    size_t a = 0, b = len;

    while (a < b && blank(text[a])) a++;
    while (b > a && blank(text[b - 1])) b--;
    if (b - a > ONE_WORD_CHARS) return false;
    for (size_t i = a; i < b; i++)
        if (blank(text[i]) || (unsigned char)text[i] >= 0xE0) return false;
    return true;
}

/* Adds the messages of d's rows (those of more than SHORT_CHARS characters
 * and not one_word())
 * to msgs and each row, messages joined by a newline, to rows.  Training
 * data counts only where it may be trained on. */
static void collect(const dataset *d, bool training, texts *msgs, texts *rows)
{
    for (size_t r = 0; r < d->n; r++) {
        const example *e = &d->rows[r];
        size_t total = 0, at = 0, chars;
        char *joined;

        if (training && !e->trainable) continue;
        for (size_t i = 0; i < e->nmsgs; i++) {
            char *norm = normalise(e->msgs[i].text, e->msgs[i].len, &chars);
            total += e->msgs[i].len + 1;
            if (chars > SHORT_CHARS && !one_word(e->msgs[i].text, e->msgs[i].len))
                push(msgs, dup_n(e->msgs[i].text, e->msgs[i].len), norm, e);
            else free(norm);
        }
        joined = malloc(total + 1);
        if (!joined) exit(1);
        for (size_t i = 0; i < e->nmsgs; i++) {
            memcpy(joined + at, e->msgs[i].text, e->msgs[i].len);
            at += e->msgs[i].len;
            joined[at++] = '\n';
        }
        joined[at] = '\0';
        push(rows, joined, normalise(joined, at, &chars), e);
    }
}

/* How many of eval's texts are in train: exactly, or normalised (inside a
 * longer training text when inside is set); each one is named on stderr. */
static size_t overlap(const texts *eval, const texts *train, bool inside, const char *what)
{
    size_t found = 0;

    for (size_t i = 0; i < eval->n; i++)
        for (size_t k = 0; k < train->n; k++)
            if (strcmp(eval->exact[i], train->exact[k]) == 0 || strcmp(eval->norm[i], train->norm[k]) == 0 ||
                (inside && *eval->norm[i] && strstr(train->norm[k], eval->norm[i]))) {
                fprintf(stderr, "  evaluation %s %s also in training row %s: %s\n", what, eval->row[i]->id,
                        train->row[k]->id, eval->exact[i]);
                found++;
                break;
            }
    return found;
}

static void load(dataset *d, const char *path)
{
    char err[512];

    if (dataset_load(d, path, fx, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        CHECK(!"data file loads");
    }
}

/* The conversation set: its ids and its nine categories. */
static void check_conversations(const dataset *d)
{
    size_t categories = 0;

    CHECK(d->n >= 300);
    for (size_t i = 0; i < d->n; i++) {
        CHECK(strncmp(d->rows[i].id, "conveval16:", 11) == 0);
        categories += i == 0 || strcmp(d->rows[i].category, d->rows[i - 1].category) != 0;
    }
    CHECK(categories >= 9);
}

/* The export-language set: enough rows in every learned language. */
static void check_languages(const dataset *d)
{
    static const char *const learned[] = {"de", "es", "fr", "pt", "ru", "ja", "ko", "ar"};

    for (size_t i = 0; i < d->n; i++) CHECK(strncmp(d->rows[i].id, "tiergate-eval16:", 16) == 0);
    for (size_t l = 0; l < sizeof learned / sizeof learned[0]; l++) {
        size_t n = 0;
        for (size_t i = 0; i < d->n; i++) n += strcmp(d->rows[i].lang, learned[l]) == 0;
        CHECK(n >= LANG_EVAL_ROWS_MIN);
        CHECK(langid_from_code(learned[l]) != LANG_UND);
    }
}

/* The single-request set: English requests to an assistant, and requests
 * with figures in Chinese, English, German, Spanish, French and Japanese,
 * both labels in each. */
static void check_single(const dataset *d)
{
    static const char *const figures[] = {"zh", "en", "de", "es", "fr", "ja"};
    size_t english = 0;

    for (size_t i = 0; i < d->n; i++) {
        bool single = strncmp(d->rows[i].id, "tiergate-single16:", 18) == 0;
        CHECK(single || strncmp(d->rows[i].id, "tiergate-figeval16:", 19) == 0);
        CHECK(!single || strcmp(d->rows[i].lang, "en") == 0);
        english += single;
    }
    CHECK(english >= 200);
    for (size_t l = 0; l < sizeof figures / sizeof figures[0]; l++) {
        size_t n[2] = {0, 0};
        for (size_t i = 0; i < d->n; i++)
            if (strncmp(d->rows[i].id, "tiergate-figeval16:", 19) == 0 && strcmp(d->rows[i].lang, figures[l]) == 0)
                n[d->rows[i].label]++;
        CHECK(n[0] >= 10 && n[1] >= 10);
    }
}

static void test_split(void)
{
    static const char *const training[] = {DATA "tiergate-examples.jsonl", DATA "conversations-train.jsonl",
                                           DATA "conversations-dev.jsonl",  DATA "lang-train.jsonl",
                                           DATA "lang-train2.jsonl",        DATA "lang-dev.jsonl"};
    static const struct {
        const char *path;
        void (*check)(const dataset *);
    } evaluation[] = {{DATA "conversations-eval.jsonl", check_conversations},
                      {DATA "lang-eval.jsonl", check_languages},
                      {DATA "single-eval.jsonl", check_single}};
    dataset train = {0}, public = {0};
    texts tm = {0}, tr = {0}, pm = {0}, pr = {0};

    for (size_t i = 0; i < sizeof training / sizeof training[0]; i++) load(&train, training[i]);
    if (access(PUBLIC, R_OK) == 0) load(&public, PUBLIC);
    else fprintf(stderr, "  note: %s is not there; the project's own training files were checked\n", PUBLIC);
    collect(&train, true, &tm, &tr);
    collect(&public, true, &pm, &pr);
    CHECK(tm.n > 4000);

    for (size_t f = 0; f < sizeof evaluation / sizeof evaluation[0]; f++) {
        dataset eval = {0};
        texts em = {0}, er = {0};

        load(&eval, evaluation[f].path);
        for (size_t i = 0; i < eval.n; i++) CHECK(!eval.rows[i].trainable);
        evaluation[f].check(&eval);
        collect(&eval, false, &em, &er);
        CHECK(em.n > eval.n / 2);
        CHECK_INT(overlap(&em, &tm, true, "message"), 0);
        CHECK_INT(overlap(&em, &pm, false, "message"), 0);
        CHECK_INT(overlap(&er, &tr, false, "row"), 0);
        CHECK_INT(overlap(&er, &pr, false, "row"), 0);
        texts_free(&em);
        texts_free(&er);
        dataset_free(&eval);
    }

    /* The check finds what it must: an evaluation message inside a
     * training message, with other case, width, spaces and punctuation;
     * and allows the other direction. */
    {
        static const example planted = {.id = "planted"};
        texts em = {0}, planted_m = {0};
        const char *in_training[] = {"ＯＫ，先把 座椅加热打开吧!", "Beweise, dass es UNENDLICH viele Primzahlen gibt!"};
        const char *in_eval[] = {"先把座椅加热打开吧", "beweise dass es unendlich viele primzahlen gibt"};
        size_t chars;

        for (size_t i = 0; i < 2; i++) {
            push(&planted_m, dup_n(in_training[i], strlen(in_training[i])),
                 normalise(in_training[i], strlen(in_training[i]), &chars), &planted);
            push(&em, dup_n(in_eval[i], strlen(in_eval[i])), normalise(in_eval[i], strlen(in_eval[i]), &chars),
                 &planted);
        }
        CHECK_INT(overlap(&em, &planted_m, true, "message (planted)"), 2);
        CHECK_INT(overlap(&planted_m, &em, true, "message (planted, reversed)"), 1);
        CHECK_INT(overlap(&em, &planted_m, false, "row (planted)"), 1);
        texts_free(&em);
        texts_free(&planted_m);
    }
    texts_free(&tm);
    texts_free(&tr);
    texts_free(&pm);
    texts_free(&pr);
    dataset_free(&train);
    dataset_free(&public);
}

int main(void)
{
    fx = featurizer_new();
    CHECK(fx != NULL);
    if (!fx) return 1;
    test_split();
    featurizer_free(fx);
    TEST_MAIN_END();
}
