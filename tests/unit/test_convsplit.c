/* The conversation evaluation set is kept apart from everything the model is
 * trained on: no message of tools/data/conversations-eval.jsonl appears in a
 * training file, exactly or after normalisation (case, full-width forms,
 * white space and punctuation), and no whole conversation does.  Messages of
 * at most SHORT_CHARS normalised characters ("继续", "why?", "go on") are
 * formulaic and may recur; their conversations may not.  The evaluation
 * rows are evaluation-only by licence and the training rows trainable, so
 * tiergate-train can never pick up an evaluation row.  The public corpus
 * beside the repository is checked too when it is there. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset.h"
#include "scan.h"
#include "testlib.h"

#define DATA TIERGATE_SOURCE_DIR "/tools/data/"
#define PUBLIC TIERGATE_SOURCE_DIR "/../shared/data/route-dev.jsonl"
#define SHORT_CHARS 4

static featurizer *fx;

static bool punctuation(uint32_t cp)
{
    return (cp < 0x80 && cp > ' ' && !((cp | 0x20) - 'a' < 26u) && !(cp - '0' < 10u)) ||
           (cp >= 0x2000 && cp <= 0x206F) || (cp >= 0x3000 && cp <= 0x303F) || (cp >= 0xFE30 && cp <= 0xFE4F) ||
           (cp >= 0xFF00 && cp <= 0xFF65);
}

/* text[0, len) lower-cased (ASCII, full width read as ASCII), without white
 * space and punctuation; a new string.  *chars receives its characters. */
static char *normalise(const char *text, size_t len, size_t *chars)
{
    char *out = malloc(len + 1);
    size_t at = 0, i = 0;

    CHECK(out != NULL);
    if (!out) exit(1);
    *chars = 0;
    while (i < len) {
        size_t n;
        uint32_t cp = scan_char((const unsigned char *)text + i, len - i, &n);

        if (!scan_space(cp) && !punctuation(cp)) {
            if (cp < 0x80) out[at++] = (char)(cp - 'A' < 26u ? cp + 32 : cp);
            else {
                memcpy(out + at, text + i, n);
                at += n;
            }
            ++*chars;
        }
        i += n;
    }
    out[at] = '\0';
    return out;
}

/* Every message of a file, and every conversation, exact and normalised. */
typedef struct texts {
    char **exact, **norm;
    size_t n;
} texts;

static void push(texts *t, char *exact, char *norm)
{
    t->exact = realloc(t->exact, (t->n + 1) * sizeof *t->exact);
    t->norm = realloc(t->norm, (t->n + 1) * sizeof *t->norm);
    CHECK(t->exact && t->norm);
    if (!t->exact || !t->norm) exit(1);
    t->exact[t->n] = exact;
    t->norm[t->n++] = norm;
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d) exit(1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* Adds d's messages (of more than SHORT_CHARS characters) to msgs and its
 * conversations, messages joined by a newline, to convs. */
static void collect(const dataset *d, texts *msgs, texts *convs)
{
    for (size_t r = 0; r < d->n; r++) {
        const example *e = &d->rows[r];
        size_t total = 0, at = 0, chars;
        char *joined;

        for (size_t i = 0; i < e->nmsgs; i++) {
            char *norm = normalise(e->msgs[i].text, e->msgs[i].len, &chars);
            total += e->msgs[i].len + 1;
            if (chars > SHORT_CHARS) push(msgs, dup_n(e->msgs[i].text, e->msgs[i].len), norm);
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
        push(convs, joined, normalise(joined, at, &chars));
    }
}

static void texts_free(texts *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->exact[i]);
        free(t->norm[i]);
    }
    free(t->exact);
    free(t->norm);
    *t = (texts){0};
}

/* How many of eval's texts are in train, exactly or normalised; each one
 * is named on stderr. */
static size_t overlap(const texts *eval, const texts *train, const char *what)
{
    size_t found = 0;

    for (size_t i = 0; i < eval->n; i++)
        for (size_t k = 0; k < train->n; k++)
            if (strcmp(eval->exact[i], train->exact[k]) == 0 || strcmp(eval->norm[i], train->norm[k]) == 0) {
                fprintf(stderr, "  evaluation %s also in training data: %s\n", what, eval->exact[i]);
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

static void test_split(void)
{
    static const char *const training[] = {DATA "tiergate-examples.jsonl", DATA "conversations-train.jsonl"};
    dataset eval = {0}, train = {0};
    texts em = {0}, ec = {0}, tm = {0}, tc = {0};
    size_t categories = 0;

    load(&eval, DATA "conversations-eval.jsonl");
    for (size_t i = 0; i < sizeof training / sizeof training[0]; i++) load(&train, training[i]);
    if (access(PUBLIC, R_OK) == 0) load(&train, PUBLIC);
    else fprintf(stderr, "  note: %s is not there; the project's own training files were checked\n", PUBLIC);

    CHECK(eval.n >= 300);
    for (size_t i = 0; i < eval.n; i++) {
        CHECK(!eval.rows[i].trainable);
        CHECK(strncmp(eval.rows[i].id, "conveval:", 9) == 0);
        categories += i == 0 || strcmp(eval.rows[i].category, eval.rows[i - 1].category) != 0;
    }
    CHECK(categories >= 9);
    collect(&eval, &em, &ec);
    collect(&train, &tm, &tc);
    CHECK(em.n > eval.n);              /* the long messages, system prompts included */
    CHECK_INT(overlap(&em, &tm, "message"), 0);
    CHECK_INT(overlap(&ec, &tc, "conversation"), 0);

    /* The check finds what it must: an evaluation message inside the
     * training data, even with other case, width, spaces and punctuation. */
    push(&tm, dup_n("x", 1), normalise("ＯＫ，先把 座椅加热打开吧!", strlen("ＯＫ，先把 座椅加热打开吧!"), &(size_t){0}));
    push(&em, dup_n("ok先把座椅加热打开吧", strlen("ok先把座椅加热打开吧")),
         normalise("ok先把座椅加热打开吧", strlen("ok先把座椅加热打开吧"), &(size_t){0}));
    CHECK_INT(overlap(&em, &tm, "message (planted)"), 1);

    texts_free(&em);
    texts_free(&ec);
    texts_free(&tm);
    texts_free(&tc);
    dataset_free(&eval);
    dataset_free(&train);
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
