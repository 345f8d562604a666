/* bench_pii: what PII scanning adds to a request.
 *
 * Times pii_scan() over 2 KB prompts, English and Chinese, without and with
 * personal data (the formats with check digits, and the kinds found by
 * notation and context: name, address, landline, marked coordinates,
 * passport), and with one operator regex, and prints p50 and p99 in
 * microseconds.  Every kind is on, as by default.  Each sample is one scan, timed with CLOCK_MONOTONIC after
 * a warm-up; the span list is reused, as it is not in a request (where one
 * scan per text allocates once when something is found).  Build in Release
 * and run: build-release/bench_pii.
 *
 * Then the adversarial rows: a short piece repeated to 64 KB and to 1 MB
 * (max_body_bytes), each scanned a few times and timed whole, in ms.  The
 * gateway is one thread, so a scan that grows faster than its text stalls
 * every client: the 1 MB figure should be about 16 times the 64 KB one.
 * The last row masks and restores distinct phone numbers ("138xxxxxxxx ")
 * filling the same two sizes: the placeholder table, not the scan.
 * An argument sets the large size in KB (the scanner before the fix took
 * minutes at 1 MB, so its figures were taken at 256). */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchlib.h"
#include "pii.h"
#include "redact.h"

#define PROMPT_BYTES 2048
#define RUNS 20000

/* Repeats filler up to PROMPT_BYTES (whole UTF-8 characters), with insert
 * placed in the middle when given. */
static void build(char *out, const char *filler, const char *insert) {
    size_t n = 0, fl = strlen(filler), il = insert ? strlen(insert) : 0;
    while (n + fl < PROMPT_BYTES - il) {
        memcpy(out + n, filler, fl);
        n += fl;
        if (insert && n >= (PROMPT_BYTES - il) / 2) {
            memcpy(out + n, insert, il);
            n += il;
            insert = NULL;
        }
    }
    out[n] = '\0';
}

static void run(const char *label, const char *text, const pii_pattern *pats, size_t npats) {
    static double t[RUNS];
    pii_spans sp = {0};
    size_t n = strlen(text), found = 0;
    for (int i = 0; i < 1000; i++) pii_scan(text, n, PII_ALL_KINDS, pats, npats, &sp);
    for (int i = 0; i < RUNS; i++) {
        double t0 = bench_now_us();
        if (pii_scan(text, n, PII_ALL_KINDS, pats, npats, &sp) < 0) abort();
        t[i] = bench_now_us() - t0;
        found = sp.n;
    }
    qsort(t, RUNS, sizeof t[0], bench_cmp_double);
    printf("%-38s %5zu B %3zu found  p50 %6.2f us  p99 %6.2f us\n", label, n, found, t[RUNS / 2],
           t[RUNS * 99 / 100]);
    pii_spans_free(&sp);
}

/* A few scans of piece repeated to n bytes (whole pieces): the median, in ms. */
static double big_ms(const char *piece, size_t n, size_t *found) {
    enum { BIG_RUNS = 3 };
    size_t pl = strlen(piece), len = n / pl * pl;
    char *text = malloc(len + 1);
    if (!text) abort();
    for (size_t k = 0; k < len; k += pl) memcpy(text + k, piece, pl);
    text[len] = '\0';
    pii_spans sp = {0};
    double t[BIG_RUNS];
    for (int i = 0; i < BIG_RUNS; i++) {
        double t0 = bench_now_us();
        if (pii_scan(text, len, PII_ALL_KINDS, NULL, 0, &sp) < 0) abort();
        t[i] = (bench_now_us() - t0) / 1000;
    }
    *found = sp.n;
    pii_spans_free(&sp);
    free(text);
    qsort(t, BIG_RUNS, sizeof t[0], bench_cmp_double);
    return t[BIG_RUNS / 2];
}

/* Masking then restoring n bytes of distinct phone numbers: ms, and the count. */
static double redact_ms(size_t n, size_t *found) {
    char *text = malloc(n + 16);
    if (!text) abort();
    size_t len = 0;
    for (unsigned k = 0; len + 12 <= n; k++) len += (size_t)snprintf(text + len, 13, "138%08u ", k);
    pii_spans sp = {0};
    if (pii_scan(text, len, PII_ALL_KINDS, NULL, 0, &sp) < 0) abort();
    redactor *r = redactor_new();
    double t0 = bench_now_us();
    char *masked = r ? redact_text(r, text, len, &sp, NULL) : NULL;
    char *back = masked ? restore_text(r, masked, strlen(masked)) : NULL;
    double t = (bench_now_us() - t0) / 1000;
    if (!back || strcmp(back, text) != 0) abort();
    *found = sp.n;
    free(back);
    free(masked);
    redactor_free(r);
    pii_spans_free(&sp);
    free(text);
    return t;
}

static void run_adversarial(size_t big_kb) {
    static const char *const pieces[] = {"A-", "A'", "Ab-", "A B ", "Ab Cd, ", "call A ", "一三八", "号号号",
                                         "路1号", "1-", "1 ", "passport ", "北纬", "@", "a@", "one ",
                                         "a@b.cc 13812345678 ", NULL};
    printf("\n%-24s %10s %10s %8s %8s\n", "adversarial piece", "64 KB ms", "big ms", "ratio", "found");
    for (const char *const *p = pieces; *p; p++) {
        size_t f_small, f_big;
        double small = big_ms(*p, 64 * 1024, &f_small), big = big_ms(*p, big_kb * 1024, &f_big);
        printf("\"%s\"%*s %10.2f %10.2f %8.1f %8zu\n", *p, (int)(22 - strlen(*p)), "", small, big, big / small, f_big);
    }
    size_t f_small, f_big;
    double small = redact_ms(64 * 1024, &f_small), big = redact_ms(big_kb * 1024, &f_big);
    printf("%-24s %10.2f %10.2f %8.1f %8zu\n", "mask+restore distinct", small, big, big / small, f_big);
}

int main(int argc, char **argv) {
    size_t big_kb = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024;
    if (big_kb < 64) big_kb = 1024;
    static char en[PROMPT_BYTES + 1], en_pii[PROMPT_BYTES + 1], zh[PROMPT_BYTES + 1], zh_pii[PROMPT_BYTES + 1];
    static char en_ctx[PROMPT_BYTES + 1], zh_ctx[PROMPT_BYTES + 1];
    const char *en_fill = "Please plan a route to the office that avoids the motorway and tolls. ";
    const char *zh_fill = "请帮我规划一条去公司的路线，避开高速和收费站。";
    build(en, en_fill, NULL);
    build(en_pii, en_fill, "Call 13812345678 or mail zhang.san@example.com, plate 粤B12345, at 22.543096,114.057865. ");
    build(zh, zh_fill, NULL);
    build(zh_pii, zh_fill, "我的电话是13812345678，身份证440305198807123455，车牌粤B12345。");
    build(en_ctx, en_fill,
          "Text Anna Müller that I'm at 221B Baker Street, London NW1, call (415) 555-0132, "
          "pin 39.9042°N 116.4074°E, passport G12345678. ");
    build(zh_ctx, zh_fill, "给张伟打电话，请他到北京市朝阳区建国路88号3单元502，座机010-65123456，车在北纬39.9042度，东经116.4074度。");
    pii_pattern pat = {.name = "EMPLOYEE_ID"};
    if (regcomp(&pat.re, "EMP-[0-9]{6}", REG_EXTENDED) != 0) return 1;
    run("English, no personal data", en, NULL, 0);
    run("English, 4 values", en_pii, NULL, 0);
    run("English, 5 values of the new kinds", en_ctx, NULL, 0);
    run("Chinese, no personal data", zh, NULL, 0);
    run("Chinese, 3 values", zh_pii, NULL, 0);
    run("Chinese, 4 values of the new kinds", zh_ctx, NULL, 0);
    run("English, 4 values + 1 operator regex", en_pii, &pat, 1);
    run("Chinese, 3 values + 1 operator regex", zh_pii, &pat, 1);
    regfree(&pat.re);
    run_adversarial(big_kb);
    return 0;
}
