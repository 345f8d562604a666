/* test_piicorpus: recall and false positives of the context detectors on
 * the project's labelled corpus, tests/data/pii-corpus.txt (its header
 * says how it is written and labelled).
 *
 * A positive counts as found when spans of its kind cover every byte of
 * each marked value; "exact" also counts those where one span of the kind is
 * exactly the value.  A near-miss is a false positive when the scanner
 * reports any span at all in it.  The goals are asserted per kind, over
 * both languages: recall at least 0.98 and at most 2 % false positives;
 * names, the noisy detector, are held to the floors docs/privacy.md states
 * for them.  A second, smaller set written after the detectors
 * (tests/data/pii-heldout.txt) is measured and printed, not held to the
 * goals.  The tables printed are the ones docs/privacy.md quotes.  Without
 * either file the test fails. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pii.h"
#include "testlib.h"

#define OPEN "\xE2\x9F\xA6"     /* ⟦ */
#define CLOSE "\xE2\x9F\xA7"    /* ⟧ */
#define MAX_VALUES 4

/* Stated floors for names (docs/privacy.md): below these, something broke. */
#define NAME_MIN_RECALL 0.95
#define NAME_MAX_FP 0.06

typedef struct tally {
    int pos, found, exact, near, fp;
} tally;

typedef tally tallies[PII_BUILTIN_KINDS][2];   /* [kind][0 zh, 1 en] */

typedef struct value {
    size_t off, len;
} value;

/* Strips the markers from line into text; fills the values. */
static size_t unmark(const char *line, char *text, value *v, size_t *nv) {
    size_t n = 0;
    *nv = 0;
    for (const char *p = line; *p;) {
        if (strncmp(p, OPEN, 3) == 0) {
            if (*nv < MAX_VALUES) v[*nv].off = n;
            p += 3;
        } else if (strncmp(p, CLOSE, 3) == 0) {
            if (*nv < MAX_VALUES) v[*nv].len = n - v[*nv].off;
            ++*nv;
            p += 3;
        } else {
            text[n++] = *p++;
        }
    }
    text[n] = '\0';
    return n;
}

static bool covered(const pii_spans *sp, pii_kind k, value v, bool *exact) {
    size_t pos = v.off, end = v.off + v.len;
    for (size_t i = 0; i < sp->n && pos < end; i++) {
        const pii_span *s = &sp->v[i];
        if (s->kind != k) continue;
        if (s->off == v.off && s->len == v.len) *exact = true;
        if (s->off <= pos && s->off + s->len > pos) pos = s->off + s->len;
    }
    return pos >= end;
}

static void show(const char *what, const char *text, const pii_spans *sp) {
    fprintf(stderr, "%s: %s  [", what, text);
    for (size_t i = 0; i < sp->n; i++)
        fprintf(stderr, " %s:%.*s", pii_kind_name(sp->v[i].kind), (int)sp->v[i].len, text + sp->v[i].off);
    fprintf(stderr, " ]\n");
}

static void run_line(char *line, int lineno, tallies ts) {
    char sign, lang[4], kind[16];
    int used = 0;
    if (sscanf(line, "%c %3s %15s %n", &sign, lang, kind, &used) != 3 || used == 0) {
        fprintf(stderr, "corpus line %d: unreadable\n", lineno);
        CHECK(0);
        return;
    }
    int k = pii_kind_by_name(kind), l = strcmp(lang, "en") == 0;
    CHECK(k >= 0 && (sign == '+' || sign == '-') && (l || strcmp(lang, "zh") == 0));
    if (k < 0) return;
    char text[1024];
    value v[MAX_VALUES];
    size_t nv, n = unmark(line + used, text, v, &nv);
    CHECK(nv <= MAX_VALUES && (sign == '+') == (nv > 0));
    pii_spans sp = {0};
    CHECK(pii_scan(text, n, PII_ALL_KINDS, NULL, 0, &sp) == 0);
    tally *t = &ts[k][l];
    if (sign == '-') {
        t->near++;
        if (sp.n) {
            t->fp++;
            show("flagged near-miss", text, &sp);
        }
    } else {
        bool all = true, exact = true;
        for (size_t i = 0; i < nv && i < MAX_VALUES; i++) {
            bool e = false;
            all &= covered(&sp, (pii_kind)k, v[i], &e);
            exact &= e;
        }
        t->pos++;
        t->found += all;
        t->exact += all && exact;
        if (!all) show("missed", text, &sp);
        else if (!exact) show("inexact", text, &sp);
    }
    pii_spans_free(&sp);
}

/* Prints the table; with goals, asserts them. */
static void report(const char *title, tallies ts, bool goals) {
    printf("%s\n", title);
    printf("%-9s %4s %5s %5s %5s %7s %5s %4s %7s\n", "kind", "lang", "pos", "found", "exact", "recall", "near", "fp",
           "fp rate");
    for (int k = 0; k < PII_BUILTIN_KINDS; k++) {
        tally sum = {0};
        for (int l = 0; l < 2; l++) {
            const tally *t = &ts[k][l];
            sum.pos += t->pos, sum.found += t->found, sum.exact += t->exact, sum.near += t->near, sum.fp += t->fp;
        }
        if (!sum.pos && !sum.near) continue;
        for (int l = 0; l <= 2; l++) {
            const tally *t = l < 2 ? &ts[k][l] : &sum;
            printf("%-9s %4s %5d %5d %5d %7.4f %5d %4d %6.2f%%\n", pii_kind_name((pii_kind)k),
                   l == 0 ? "zh" : l == 1 ? "en" : "all", t->pos, t->found, t->exact,
                   t->pos ? (double)t->found / t->pos : 0, t->near, t->fp, t->near ? 100.0 * t->fp / t->near : 0);
        }
        if (!goals) continue;
        double recall = (double)sum.found / sum.pos, fp = (double)sum.fp / sum.near;
        CHECK(ts[k][0].pos >= 40 && ts[k][0].near >= 40 && ts[k][1].pos >= 40 && ts[k][1].near >= 40);
        if (k == PII_NAME) {
            CHECK(recall >= NAME_MIN_RECALL);
            CHECK(fp <= NAME_MAX_FP);
        } else {
            CHECK(recall >= 0.98);
            CHECK(fp <= 0.02);
        }
    }
}

/* Runs every case of the file at path into ts; the number of cases, or -1
 * when it cannot be read. */
static int run_file(const char *path, tallies ts) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return -1;
    }
    char line[1024];
    int lineno = 0, cases = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0') continue;
        run_line(line, lineno, ts);
        cases++;
    }
    fclose(f);
    return cases;
}

int main(void) {
    static tallies corpus, heldout;
    CHECK(run_file(TIERGATE_SOURCE_DIR "/tests/data/pii-corpus.txt", corpus) >= 800);
    report("pii-corpus.txt (held to the goals)", corpus, true);
    /* Measured and shown, not held to the goals (docs/privacy.md). */
    CHECK(run_file(TIERGATE_SOURCE_DIR "/tests/data/pii-heldout.txt", heldout) >= 90);
    report("pii-heldout.txt (written after the detectors, not tuned on)", heldout, false);
    TEST_MAIN_END();
}
