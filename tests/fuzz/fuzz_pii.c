/* libFuzzer target for personal-data scanning, masking and restoring.
 *
 * The input is a message text, arbitrary bytes (the scanner runs before and
 * independently of any UTF-8 check in some callers' views, so it must be
 * safe on anything).  It is scanned with every kind on, and again with the
 * kinds the first two bytes pick (privacy.detectors): the second scan may
 * report only enabled kinds.  The detectors that read back (addresses) or
 * carry state forward (passports, names) are reached through the words in
 * the seed corpus.  The spans must be in bounds, sorted and disjoint;
 * masking and then restoring the text must give back the input whenever the
 * input holds no placeholder bracket of its own (U+27E8, which a real
 * client could send and which the restorer then reads as ours). */
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pii.h"
#include "redact.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) do { \
        if (!(cond)) { fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); abort(); } \
    } while (0)

static void check_spans(const pii_spans *sp, size_t size, pii_kindset kinds) {
    size_t end = 0;
    for (size_t i = 0; i < sp->n; i++) {
        const pii_span *x = &sp->v[i];
        REQUIRE(x->len > 0 && x->off >= end && x->off + x->len <= size);
        REQUIRE(x->kind == PII_CUSTOM ? x->pattern == 0 : x->pattern == -1 && (kinds >> x->kind & 1));
        end = x->off + x->len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static pii_pattern pat = {.name = "EMPLOYEE_ID"};
    static int compiled;
    if (!compiled) {
        REQUIRE(regcomp(&pat.re, "EMP-[0-9]{6}", REG_EXTENDED) == 0);
        compiled = 1;
    }
    /* pii_scan needs s[n] == '\0' for the operator patterns. */
    char *s = malloc(size + 1);
    REQUIRE(s);
    memcpy(s, data, size);
    s[size] = '\0';
    pii_spans sp = {0};
    pii_kindset some = size >= 2 ? (pii_kindset)(data[0] | data[1] << 8) & PII_ALL_KINDS : PII_ALL_KINDS;
    REQUIRE(pii_scan(s, size, some, &pat, 1, &sp) == 0);
    check_spans(&sp, size, some);
    REQUIRE(pii_scan(s, size, PII_ALL_KINDS, &pat, 1, &sp) == 0);
    check_spans(&sp, size, PII_ALL_KINDS);
    redactor *r = redactor_new();
    REQUIRE(r);
    char *masked = redact_text(r, s, size, &sp, &pat);
    REQUIRE(masked);
    char *back = restore_text(r, masked, strlen(masked));
    REQUIRE(back);
    if (!memmem(data, size, "\xe2\x9f\xa8", 3) && !memchr(data, '\0', size)) REQUIRE(strcmp(back, s) == 0);
    free(back);
    free(masked);
    redactor_free(r);
    pii_spans_free(&sp);
    free(s);
    return 0;
}
