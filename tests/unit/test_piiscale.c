/* test_piiscale: the scan stays linear on adversarial text, and its spans
 * are right there.
 *
 * The gateway is one thread: a detector that re-reads an unbounded stretch
 * at every position of a repeated piece stalls every client (a megabyte of
 * "A-" took minutes).  Each detector's reach is a constant in its code
 * (piiword.c's CAP_WORD_BYTES, ADDRESS_BACK; piinum.c's PASSPORT_* and
 * MAX_GROUPS), so this test does not time anything: it scans a megabyte
 * (max_body_bytes) of each piece, checks what is found in it and that a
 * value after it is still found, and a regression shows as the ctest
 * timeout.  bench_pii's adversarial rows measure the time. */
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pii.h"
#include "testlib.h"

#define BIG (1024 * 1024)
static const char tail[] = "\n电话13812345678";

/* piece repeated to about BIG bytes, then tail; *reps gets the count. */
static char *repeat(const char *piece, size_t *reps, size_t *len) {
    size_t pl = strlen(piece), tl = strlen(tail);
    *reps = BIG / pl;
    *len = *reps * pl + tl;
    char *s = malloc(*len + 1);
    if (!s) abort();
    for (size_t k = 0; k < *reps; k++) memcpy(s + k * pl, piece, pl);
    memcpy(s + *reps * pl, tail, tl + 1);
    return s;
}

/* Pieces in which nothing is personal: only the phone number after them is found. */
static void test_nothing_found(void) {
    static const char *const pieces[] = {"A-", "A'", "Ab-", "A B ", "Ab Cd, ", "Ab-Cd ", "call A ", "call A-", "1 A ",
                                         "一三八", "一,", "one ", "one, ", "号号号", "路路", "小区", "1-", "1 ", "1.",
                                         "(1)", "passport ", "护照", "北纬", "N 1", "@", "a@", "a.", "Ab's ", NULL};
    pii_spans sp = {0};
    for (const char *const *p = pieces; *p; p++) {
        size_t reps, len;
        char *s = repeat(*p, &reps, &len);
        CHECK(pii_scan(s, len, PII_ALL_KINDS, NULL, 0, &sp) == 0);
        if (sp.n != 1) fprintf(stderr, "piece \"%s\": %zu spans\n", *p, sp.n);
        CHECK_INT(sp.n, 1);
        if (sp.n >= 1) {
            CHECK_INT(sp.v[sp.n - 1].kind, PII_PHONE);
            CHECK_INT(sp.v[sp.n - 1].off, len - 11);
        }
        free(s);
    }
    pii_spans_free(&sp);
}

/* A piece that is itself a value, repeated: every one is found. */
static void test_every_one_found(void) {
    static const struct {
        const char *piece;
        pii_kind kind;
        size_t off, len;   /* of each value inside its piece */
    } pieces[] = {
        {"13812345678-", PII_PHONE, 0, 11},
        {"x@b.cc ", PII_EMAIL, 0, 6},
        {"call Anna ", PII_NAME, 5, 4},
    };
    pii_spans sp = {0};
    for (size_t k = 0; k < sizeof pieces / sizeof pieces[0]; k++) {
        size_t reps, len, pl = strlen(pieces[k].piece), bad = 0;
        char *s = repeat(pieces[k].piece, &reps, &len);
        CHECK(pii_scan(s, len, PII_ALL_KINDS, NULL, 0, &sp) == 0);
        CHECK_INT(sp.n, reps + 1);
        for (size_t i = 0; i < reps && i < sp.n; i++)
            bad += sp.v[i].kind != pieces[k].kind || sp.v[i].off != i * pl + pieces[k].off || sp.v[i].len != pieces[k].len;
        CHECK_INT(bad, 0);
        free(s);
    }
    pii_spans_free(&sp);
}

/* The bound is on a name's word, not on names: four parts are a name, a
 * fifth makes the chain no name at all (nor any shorter tail of it). */
static void test_name_chain_bound(void) {
    pii_spans sp = {0};
    const char *four = "call Marie-Anne-Sophie-Luce now", *five = "call Ab-Marie-Anne-Sophie-Luce now";
    CHECK(pii_scan(four, strlen(four), PII_ALL_KINDS, NULL, 0, &sp) == 0);
    CHECK_INT(sp.n, 1);
    if (sp.n == 1) CHECK_INT(sp.v[0].len, strlen("Marie-Anne-Sophie-Luce"));
    CHECK(pii_scan(five, strlen(five), PII_ALL_KINDS, NULL, 0, &sp) == 0);
    CHECK_INT(sp.n, 0);
    pii_spans_free(&sp);
}

/* E-mails are found before the main pass and operator patterns after it:
 * interleaved, the three sources must come out in text order (they did,
 * in quadratic time: bench_pii's "a@b.cc 13812345678 " row). */
static void test_interleaved_kinds(void) {
    static const char piece[] = "a@b.cc 13812345678 EMP-004211 ";
    pii_pattern pat = {.name = "EMPLOYEE_ID"};
    CHECK(regcomp(&pat.re, "EMP-[0-9]{6}", REG_EXTENDED) == 0);
    size_t pl = strlen(piece), reps = BIG / pl, bad = 0;
    char *s = malloc(reps * pl + 1);
    if (!s) abort();
    for (size_t k = 0; k < reps; k++) memcpy(s + k * pl, piece, pl);
    s[reps * pl] = '\0';
    pii_spans sp = {0};
    CHECK(pii_scan(s, reps * pl, PII_ALL_KINDS, &pat, 1, &sp) == 0);
    CHECK_INT(sp.n, 3 * reps);
    static const pii_kind kinds[3] = {PII_EMAIL, PII_PHONE, PII_CUSTOM};
    static const size_t offs[3] = {0, 7, 19}, lens[3] = {6, 11, 10};
    for (size_t i = 0; i < sp.n && i < 3 * reps; i++)
        bad += sp.v[i].kind != kinds[i % 3] || sp.v[i].off != i / 3 * pl + offs[i % 3] || sp.v[i].len != lens[i % 3];
    CHECK_INT(bad, 0);
    pii_spans_free(&sp);
    free(s);
    regfree(&pat.re);
}

static void check_span(const pii_spans *sp, size_t i, const char *s, const char *value, pii_kind kind) {
    const char *at = strstr(s, value);
    CHECK(at != NULL && i < sp->n);
    if (!at || i >= sp->n) return;
    CHECK_INT(sp->v[i].kind, kind);
    CHECK_INT(sp->v[i].off, at - s);
    CHECK_INT(sp->v[i].len, strlen(value));
}

/* An address's look back stops at the value before it, and spans that
 * overlap are merged, never dropped: before, the second address reached
 * the cloud in clear. */
static void test_adjacent_values(void) {
    pii_spans sp = {0};
    const char *two = "寄到北京市朝阳区建国路88号海淀区中关村大街27号";
    CHECK(pii_scan(two, strlen(two), PII_ALL_KINDS, NULL, 0, &sp) == 0);
    CHECK_INT(sp.n, 2);
    check_span(&sp, 0, two, "北京市朝阳区建国路88号", PII_ADDRESS);
    check_span(&sp, 1, two, "海淀区中关村大街27号", PII_ADDRESS);
    const char *spoken = "幺三八一二三四五六七八中关村大街27号";
    CHECK(pii_scan(spoken, strlen(spoken), PII_ALL_KINDS, NULL, 0, &sp) == 0);
    CHECK_INT(sp.n, 2);
    check_span(&sp, 0, spoken, "幺三八一二三四五六七八", PII_PHONE);
    check_span(&sp, 1, spoken, "中关村大街27号", PII_ADDRESS);
    /* A road repeated: each address starts where the one before ended (the
     * first road has no name before it, the phone number after the last). */
    size_t reps, len, bad = 0;
    char *s = repeat("路1号", &reps, &len);
    CHECK(pii_scan(s, len, PII_ALL_KINDS, NULL, 0, &sp) == 0);
    CHECK_INT(sp.n, reps);
    for (size_t i = 0; i + 2 < sp.n; i++) bad += sp.v[i].kind != PII_ADDRESS || sp.v[i].off + sp.v[i].len != sp.v[i + 1].off;
    CHECK_INT(bad, 0);
    free(s);
    /* An operator pattern overlapping a built-in value: one span over both. */
    pii_pattern pat = {.name = "EXT"};
    CHECK(regcomp(&pat.re, "5678 ext [0-9]+", REG_EXTENDED) == 0);
    const char *ext = "call 13812345678 ext 42 now";
    CHECK(pii_scan(ext, strlen(ext), PII_ALL_KINDS, &pat, 1, &sp) == 0);
    CHECK_INT(sp.n, 1);
    check_span(&sp, 0, ext, "13812345678 ext 42", PII_PHONE);
    regfree(&pat.re);
    CHECK(regcomp(&pat.re, "88号海淀", REG_EXTENDED) == 0);
    CHECK(pii_scan(two, strlen(two), 1u << PII_PHONE, &pat, 1, &sp) == 0);
    CHECK_INT(sp.n, 1);
    check_span(&sp, 0, two, "88号海淀", PII_CUSTOM);
    CHECK(pii_scan(two, strlen(two), PII_ALL_KINDS, &pat, 1, &sp) == 0);
    CHECK_INT(sp.n, 1);
    check_span(&sp, 0, two, "北京市朝阳区建国路88号海淀区中关村大街27号", PII_ADDRESS);
    regfree(&pat.re);
    pii_spans_free(&sp);
}

int main(void) {
    test_nothing_found();
    test_every_one_found();
    test_name_chain_bound();
    test_interleaved_kinds();
    test_adjacent_values();
    TEST_MAIN_END();
}
