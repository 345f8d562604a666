/* The export-language evaluation set (tools/data/lang-eval.jsonl) is kept
 * apart from every training file of the project: no evaluation text appears
 * in training data, neither exactly nor once normalised (case, width,
 * punctuation and white space), neither as a whole row nor inside a longer
 * one.  (The reverse, a short stock question of the training data inside a
 * longer evaluation question, is allowed: "Wie spät ist es?" is in both
 * languages' every phrase book.)  It
 * also checks that the evaluation set can never be trained on (its licence)
 * and that each learned language has the rows docs/classifier.md reports. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "langid.h"
#include "scan.h"
#include "testlib.h"
#include "utf8.h"

#define DATA TIERGATE_SOURCE_DIR "/tools/data/"
#define MAX_ROWS 8192
#define EVAL_ROWS_MIN 60

typedef struct text {
    char *raw, *norm;
    char lang[4];
    bool trainable;
} text;

/* Lower-case letters and digits only, full width read as ASCII (scan_char):
 * what is left when punctuation, spacing and case are taken away. */
static char *normalise(const char *s)
{
    size_t n = strlen(s), at = 0, i = 0;
    char *out = malloc(n * 2 + 1);

    if (!out) return NULL;
    while (i < n) {
        size_t len;
        uint32_t cp = scan_char((const unsigned char *)s + i, n - i, &len);
        unsigned char u[4];
        i += len;
        if (cp < 0x80 && !((cp | 0x20) - 'a' < 26u || cp - '0' < 10u)) continue;
        if (cp - 'A' < 26u) cp += 32;
        if ((cp >= 0x2000 && cp <= 0x206F) || (cp >= 0x3000 && cp <= 0x303F) || cp == 0xA0 || cp == 0xAB ||
            cp == 0xBB || cp == 0xBF || cp == 0xA1 || (cp >= 0xFF00 && cp <= 0xFF0F))
            continue;
        size_t k = utf8_encode(cp, u);
        memcpy(out + at, u, k);
        at += k;
    }
    out[at] = '\0';
    return out;
}

/* Appends the user texts of path's rows to t[*n]. */
static void load(const char *path, text *t, size_t *n)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;

    CHECK(f != NULL);
    if (!f) {
        fprintf(stderr, "  cannot open %s\n", path);
        return;
    }
    while (getline(&line, &cap, f) > 0 && *n < MAX_ROWS) {
        cJSON *root = cJSON_Parse(line), *msgs, *m;
        const char *lang = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "lang"));
        bool trainable = dataset_licence_trainable(
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "licence")));
        const char *one = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "text"));

        CHECK(root != NULL);
        msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");
        if (one) {
            t[*n] = (text){strdup(one), normalise(one), "", trainable};
            snprintf(t[*n].lang, sizeof t[*n].lang, "%s", lang ? lang : "");
            ++*n;
        }
        cJSON_ArrayForEach(m, msgs) {
            const char *c = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "content"));
            if (c && *n < MAX_ROWS) t[(*n)++] = (text){strdup(c), normalise(c), "", trainable};
        }
        cJSON_Delete(root);
    }
    free(line);
    fclose(f);
}

int main(void)
{
    static const char *const learned[] = {"de", "es", "fr", "pt", "ru", "ja", "ko", "ar"};
    text *eval = calloc(MAX_ROWS, sizeof *eval), *train = calloc(MAX_ROWS, sizeof *train);
    size_t neval = 0, ntrain = 0, clashes = 0;

    CHECK(eval != NULL && train != NULL);
    if (!eval || !train) return 1;
    load(DATA "lang-eval.jsonl", eval, &neval);
    load(DATA "lang-train.jsonl", train, &ntrain);
    load(DATA "tiergate-examples.jsonl", train, &ntrain);
    CHECK(neval >= 8 * EVAL_ROWS_MIN);
    CHECK(ntrain > 1000);
    for (size_t i = 0; i < neval; i++) {
        CHECK(eval[i].raw != NULL && eval[i].norm != NULL);
        /* The evaluation set may never be trained on. */
        CHECK(!eval[i].trainable);
        for (size_t k = 0; k < ntrain && eval[i].norm; k++) {
            if (!train[k].norm || !train[k].trainable) continue;
            if (strcmp(eval[i].raw, train[k].raw) == 0 || strstr(train[k].norm, eval[i].norm)) {
                fprintf(stderr, "  evaluation text in training data: %s\n    (training: %s)\n", eval[i].raw,
                        train[k].raw);
                clashes++;
            }
        }
    }
    CHECK_INT(clashes, 0);
    /* The normalisation sees through case, width and punctuation. */
    {
        char *a = normalise("Beweise, dass es unendlich viele Primzahlen gibt!"),
             *b = normalise("beweise dass es UNENDLICH viele primzahlen gibt"), *c = normalise("打开空调？"),
             *d = normalise("打开空调"), *e = normalise("ＡＢＣ，"), *f = normalise("abc");
        CHECK(a && b && strcmp(a, b) == 0);
        CHECK(c && d && strcmp(c, d) == 0);
        CHECK(e && f && strcmp(e, f) == 0);
        free(a), free(b), free(c), free(d), free(e), free(f);
    }
    for (size_t l = 0; l < sizeof learned / sizeof learned[0]; l++) {
        size_t n = 0;
        for (size_t i = 0; i < neval; i++) n += strcmp(eval[i].lang, learned[l]) == 0;
        CHECK(n >= EVAL_ROWS_MIN);
        CHECK(langid_from_code(learned[l]) != LANG_UND);
    }
    for (size_t i = 0; i < neval; i++) free(eval[i].raw), free(eval[i].norm);
    for (size_t i = 0; i < ntrain; i++) free(train[i].raw), free(train[i].norm);
    free(eval);
    free(train);
    TEST_MAIN_END();
}
