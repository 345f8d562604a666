/* test_pii: the detectors' precision and recall on a generated test set.
 *
 * For every kind the test generates valid values (check digits computed
 * here, independently of pii.c's tables where the standard allows) in the
 * forms the detector claims to accept, and near-misses (a wrong check
 * digit, one character too few or too many, an excluded letter, a value
 * glued into a longer run, out-of-range numbers).  Each is embedded in an
 * English and a Chinese sentence.  A valid value counts as found only when
 * a span of its kind covers exactly it; a near-miss counts as a false
 * positive when any span touches it.  The goal is recall 1 and no false
 * positive, so both are asserted; the table printed is what docs/privacy.md
 * quotes.  The kinds found by the words around them (ADDRESS,
 * PASSPORT, NAME) and the other notations of PHONE and GPS cannot be
 * generated honestly: test_piicorpus measures them on a written corpus. */
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pii.h"
#include "testlib.h"

#define SAMPLES 200

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static unsigned rnd(unsigned n) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static void rnd_digits(char *d, size_t n) {
    for (size_t i = 0; i < n; i++) d[i] = (char)('0' + rnd(10));
    d[n] = '\0';
}

typedef struct tally {
    int tp, fn, fp, near;
} tally;

static tally tallies[PII_BUILTIN_KINDS + 1];

static const char *const contexts[][2] = {
    {"my value is ", " ok"},
    {"请记下", "，谢谢"},
    {"(", ")"},
    {"at the end of a sentence: ", "."},
    {"", ""},
};

/* Scans value in each context; found when a span of kind k is exactly it. */
static void valid(pii_kind k, const char *value) {
    for (size_t c = 0; c < sizeof contexts / sizeof contexts[0]; c++) {
        char buf[512];
        size_t pre = strlen(contexts[c][0]);
        snprintf(buf, sizeof buf, "%s%s%s", contexts[c][0], value, contexts[c][1]);
        pii_spans sp = {0};
        CHECK(pii_scan(buf, strlen(buf), PII_ALL_KINDS, NULL, 0, &sp) == 0);
        bool found = false;
        for (size_t i = 0; i < sp.n; i++)
            found |= sp.v[i].kind == k && sp.v[i].off == pre && sp.v[i].len == strlen(value);
        pii_spans_free(&sp);
        if (found) tallies[k].tp++;
        else {
            tallies[k].fn++;
            fprintf(stderr, "missed %s: \"%s\"\n", pii_kind_name(k), buf);
        }
    }
}

/* Scans a near-miss of kind k in each context; nothing may touch it. */
static void near(pii_kind k, const char *value) {
    for (size_t c = 0; c < sizeof contexts / sizeof contexts[0]; c++) {
        char buf[512];
        size_t pre = strlen(contexts[c][0]), end = pre + strlen(value);
        snprintf(buf, sizeof buf, "%s%s%s", contexts[c][0], value, contexts[c][1]);
        pii_spans sp = {0};
        CHECK(pii_scan(buf, strlen(buf), PII_ALL_KINDS, NULL, 0, &sp) == 0);
        bool hit = false;
        for (size_t i = 0; i < sp.n; i++) hit |= sp.v[i].off < end && sp.v[i].off + sp.v[i].len > pre;
        pii_spans_free(&sp);
        tallies[k].near++;
        if (hit) {
            tallies[k].fp++;
            fprintf(stderr, "flagged near-miss %s: \"%s\"\n", pii_kind_name(k), buf);
        }
    }
}

/* ---- generators ---- */

static void gen_phones(void) {
    for (int n = 0; n < SAMPLES; n++) {
        char d[16], v[40];
        d[0] = '1';
        d[1] = (char)('3' + rnd(7));
        rnd_digits(d + 2, 9);
        static const char *const fmts[] = {"%s", "+86%s", "+86 %s", "0086%s", "86%s"};
        snprintf(v, sizeof v, fmts[n % 5], d);
        valid(PII_PHONE, v);
        snprintf(v, sizeof v, "%.3s %.4s %.4s", d, d + 3, d + 7);
        valid(PII_PHONE, v);
        snprintf(v, sizeof v, "%.3s-%.4s-%.4s", d, d + 3, d + 7);
        valid(PII_PHONE, v);
        snprintf(v, sizeof v, "1%c%.9s", '0' + rnd(3), d + 2);     /* 10x, 11x, 12x */
        near(PII_PHONE, v);
        snprintf(v, sizeof v, "%.10s", d);                         /* too short */
        near(PII_PHONE, v);
        snprintf(v, sizeof v, "%s%c", d, '0' + rnd(10));           /* too long */
        near(PII_PHONE, v);
        snprintf(v, sizeof v, "9%s", d);                           /* inside a longer run */
        near(PII_PHONE, v);
        snprintf(v, sizeof v, "ab%s", d);                          /* inside a word */
        near(PII_PHONE, v);
        snprintf(v, sizeof v, "3.%s", d);                          /* a decimal fraction */
        near(PII_PHONE, v);
        snprintf(v, sizeof v, "%.3s %.4s %.3s", d, d + 3, d + 7);  /* short last group */
        near(PII_PHONE, v);
    }
}

static char id_check(const char *d17) {
    static const int w[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    int s = 0;
    for (int i = 0; i < 17; i++) s += (d17[i] - '0') * w[i];
    return "10X98765432"[s % 11];
}

static char luhn_digit(const char *d, size_t n) {
    int s = 0;
    for (size_t k = 0; k < n; k++) {
        int x = d[n - 1 - k] - '0';
        if (!(k & 1)) x = x * 2 > 9 ? x * 2 - 9 : x * 2;
        s += x;
    }
    return (char)('0' + (10 - s % 10) % 10);
}

static bool luhn_ok(const char *d, size_t n) { return luhn_digit(d, n - 1) == d[n - 1]; }

/* A digit string that is a valid bank card number is no near-miss of an ID
 * number, whatever it was generated as: such strings are left out. */
static void near_id(const char *v) {
    size_t n = strlen(v);
    if (n >= 13 && n <= 19 && v[0] >= '2' && v[0] <= '6' && strspn(v, "0123456789") == n && luhn_ok(v, n)) return;
    near(PII_CN_ID, v);
}

static void gen_ids(void) {
    static const char *const regions[] = {"11", "31", "44", "51", "65", "81"};
    for (int n = 0; n < SAMPLES; n++) {
        char d[24], v[40];
        /* One draw per statement: argument order is unspecified, and the set
         * should be the same under every compiler. */
        const char *region = regions[rnd(6)];
        unsigned county = rnd(10000), year = 1930 + rnd(90), month = 1 + rnd(12), day = 1 + rnd(28);
        snprintf(d, sizeof d, "%s%04u%04u%02u%02u", region, county, year, month, day);
        rnd_digits(d + 14, 3);
        char c = id_check(d);
        snprintf(v, sizeof v, "%s%c", d, c);
        valid(PII_CN_ID, v);
        if (c == 'X') {
            snprintf(v, sizeof v, "%sx", d);
            valid(PII_CN_ID, v);
        }
        snprintf(v, sizeof v, "%s%c", d, c == '0' ? '1' : c == 'X' ? '0' : c - 1);  /* wrong check digit */
        near_id(v);
        snprintf(v, sizeof v, "%s", d);                                              /* 17 digits */
        near_id(v);
        snprintf(v, sizeof v, "%s%c%c", d, c, '0' + rnd(10));                       /* 19 */
        near_id(v);
        memcpy(d + 10, "13", 2);                                                     /* month 13 */
        snprintf(v, sizeof v, "%s%c", d, id_check(d));
        near_id(v);
    }
}

static void gen_cards(void) {
    static const size_t lens[] = {13, 16, 16, 19};
    for (int n = 0; n < SAMPLES; n++) {
        size_t len = lens[n % 4];
        char d[24], v[40];
        d[0] = "2345626"[rnd(7)];
        rnd_digits(d + 1, len - 2);
        d[len - 1] = luhn_digit(d, len - 1);
        d[len] = '\0';
        valid(PII_BANK_CARD, d);
        size_t o = 0;
        char sep = n & 1 ? ' ' : '-';
        for (size_t k = 0; k < len; k++) {
            if (k && k % 4 == 0) v[o++] = sep;
            v[o++] = d[k];
        }
        v[o] = '\0';
        valid(PII_BANK_CARD, v);
        char bad[24];
        memcpy(bad, d, len + 1);
        bad[len - 1] = (char)('0' + (bad[len - 1] - '0' + 1) % 10);                /* Luhn fails */
        near(PII_BANK_CARD, bad);
        snprintf(v, sizeof v, "%s%c", d, '0' + rnd(10));                            /* one more */
        if (len == 19) near(PII_BANK_CARD, v);
        memcpy(bad, d, len + 1);
        bad[0] = '9';
        bad[len - 1] = luhn_digit(bad, len - 1);                                    /* no issuer 9 */
        near(PII_BANK_CARD, bad);
        memcpy(bad, d, 12);                                                         /* 12 digits */
        bad[11] = luhn_digit(bad, 11);
        bad[12] = '\0';
        near(PII_BANK_CARD, bad);
    }
}

static void gen_emails(void) {
    static const char *const ok[] = {"zhang.san@example.com", "li_si+car@mail.example.cn", "a@b.co",
                                     "13812345678@qq.com", "x-y%z@sub-domain.example.org"};
    static const char *const bad[] = {"user@localhost", "a@b.c", "@example.com", "a..b@example.com",
                                      ".a@example.com", "a.@example.com", "a@-b.com", "a@b-.com", "a@1.23"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) valid(PII_EMAIL, ok[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) near(PII_EMAIL, bad[i]);
}

static const char provinces[] = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼";
static const char letters[] = "ABCDEFGHJKLMNPQRSTUVWXYZ";

static void gen_plates(void) {
    for (int n = 0; n < SAMPLES; n++) {
        char v[40], tail[8];
        const char *p = provinces + 3 * rnd(31);
        char l = letters[rnd(24)];
        rnd_digits(tail, 5);
        size_t pos = rnd(5);
        tail[pos] = letters[rnd(24)];
        snprintf(v, sizeof v, "%.3s%c%s", p, l, tail);
        valid(PII_PLATE, v);
        snprintf(v, sizeof v, "%.3s%c·%s", p, l, tail);
        valid(PII_PLATE, v);
        rnd_digits(tail, 6);
        tail[0] = n & 1 ? 'D' : 'F';
        snprintf(v, sizeof v, "%.3s%c%s", p, l, tail);                 /* small new-energy */
        valid(PII_PLATE, v);
        rnd_digits(tail, 5);
        snprintf(v, sizeof v, "%.3s%c%s%c", p, l, tail, n & 1 ? 'D' : 'F');   /* large new-energy */
        valid(PII_PLATE, v);
        snprintf(v, sizeof v, "%.3s%c%.4s学", p, l, tail);
        valid(PII_PLATE, v);
        snprintf(v, sizeof v, "%.3s%c%s", p, n & 1 ? 'I' : 'O', tail); /* excluded letter */
        near(PII_PLATE, v);
        snprintf(v, sizeof v, "%.3s%c%.4s", p, l, tail);               /* too short */
        near(PII_PLATE, v);
        snprintf(v, sizeof v, "%.3s%c%s%c", p, l, tail, '0' + rnd(10)); /* six without D/F */
        near(PII_PLATE, v);
        snprintf(v, sizeof v, "中%c%s", l, tail);                      /* no province */
        near(PII_PLATE, v);
        snprintf(v, sizeof v, "%.3s%cAB%.2sC", p, l, tail);            /* three letters */
        near(PII_PLATE, v);
    }
}

static const char vin_chars[] = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ";

static char vin_check(const char *v) {
    static const int w[17] = {8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2};
    static const char *const groups[] = {"AJ", "BKS", "CLT", "DMU", "ENV", "FW", "GPX", "HY", "RZ"};
    int s = 0;
    for (int i = 0; i < 17; i++) {
        int x = 0;
        if (v[i] >= '0' && v[i] <= '9') x = v[i] - '0';
        else
            for (int g = 0; g < 9; g++)
                if (strchr(groups[g], v[i])) x = g == 8 ? 9 : g + 1;
        s += x * w[i];
    }
    return s % 11 == 10 ? 'X' : (char)('0' + s % 11);
}

static void gen_vins(void) {
    for (int n = 0; n < SAMPLES; n++) {
        char v[24], b[32];
        for (int i = 0; i < 17; i++) v[i] = vin_chars[rnd(33)];
        v[0] = "LJW1"[rnd(4)];
        v[1] = letters[rnd(24)];
        if (v[1] == 'Q') v[1] = 'B';
        v[12] = (char)('0' + rnd(10));
        v[17] = '\0';
        v[8] = vin_check(v);
        valid(PII_VIN, v);
        memcpy(b, v, 18);
        b[8] = b[8] == '0' ? '1' : '0';                                  /* wrong check digit */
        near(PII_VIN, b);
        memcpy(b, v, 18);
        b[3] = "IOQ"[rnd(3)];                                            /* excluded letter */
        b[8] = '0';
        b[8] = vin_check(b);
        near(PII_VIN, b);
        snprintf(b, sizeof b, "%.16s", v);                               /* 16 */
        near(PII_VIN, b);
        snprintf(b, sizeof b, "%sA", v);                                 /* 18 */
        near(PII_VIN, b);
    }
}

static void gen_gps(void) {
    for (int n = 0; n < SAMPLES; n++) {
        char v[800];   /* %f of any double: room for the largest, as -Wformat-truncation wants */
        double lat = (double)rnd(180000000) / 1e6 - 90, lon = (double)rnd(360000000) / 1e6 - 180;
        snprintf(v, sizeof v, n & 1 ? "%.6f,%.6f" : "%.5f, %.5f", lat, lon);
        valid(PII_GPS, v);
        snprintf(v, sizeof v, "%.6f，%.6f", lon, lat);                  /* longitude first, full-width comma */
        valid(PII_GPS, v);
        snprintf(v, sizeof v, "%.3f,%.3f", lat, lon);                    /* too coarse */
        near(PII_GPS, v);
        unsigned w1 = 91 + rnd(89), f1 = rnd(1000000), w2 = 91 + rnd(89), f2 = rnd(1000000), w3 = 181 + rnd(800);
        snprintf(v, sizeof v, "%u.%06u,%u.%06u", w1, f1, w2, f2);
        near(PII_GPS, v);                                                /* neither is a latitude */
        snprintf(v, sizeof v, "%u.%06u,%.6f", w3, f1, lat);
        near(PII_GPS, v);                                                /* out of range */
    }
}

static void gen_ipv4(void) {
    for (int n = 0; n < SAMPLES; n++) {
        char v[64];
        unsigned a = rnd(256), b = rnd(256), c = rnd(256), d = rnd(256);
        snprintf(v, sizeof v, "%u.%u.%u.%u", a, b, c, d);
        valid(PII_IPV4, v);
        snprintf(v, sizeof v, "%u.%u.%u.%u", 256 + rnd(700), b, c, d);  /* octet > 255 */
        near(PII_IPV4, v);
        snprintf(v, sizeof v, "%u.%u.%u", a, b, c);                      /* three parts */
        near(PII_IPV4, v);
        snprintf(v, sizeof v, "%u.%u.%u.%u.%u", a, b, c, d, rnd(256));   /* five parts */
        near(PII_IPV4, v);
        snprintf(v, sizeof v, "v%u.%u.%u.%u", a, b, c, d);               /* a version */
        near(PII_IPV4, v);
        snprintf(v, sizeof v, "0%u.%u.%u.%u", a, b, c, d);               /* leading zero */
        near(PII_IPV4, v);
    }
}

static void report(void) {
    printf("%-10s %6s %6s %6s %9s %9s\n", "kind", "valid", "near", "fp", "precision", "recall");
    for (int k = 0; k <= PII_IPV4; k++) {   /* the context kinds: test_piicorpus */
        tally *t = &tallies[k];
        double p = t->tp + t->fp ? (double)t->tp / (t->tp + t->fp) : 1, r = (double)t->tp / (t->tp + t->fn);
        printf("%-10s %6d %6d %6d %9.4f %9.4f\n", pii_kind_name((pii_kind)k), t->tp + t->fn, t->near, t->fp, p, r);
        CHECK(t->tp + t->fn > 0 && t->near > 0);
        CHECK_INT(t->fn, 0);
        CHECK_INT(t->fp, 0);
    }
}

/* Several kinds in one text, in order, and an operator pattern beside them. */
static void test_mixed(void) {
    const char *s = "电话13812345678，邮箱zhang@example.com，车牌粤B12345，位置22.543096,114.057865 EMP-004211";
    pii_pattern pat = {.name = "EMPLOYEE_ID"};
    CHECK(regcomp(&pat.re, "EMP-[0-9]{6}", REG_EXTENDED) == 0);
    pii_spans sp = {0};
    CHECK(pii_scan(s, strlen(s), PII_ALL_KINDS, &pat, 1, &sp) == 0);
    CHECK_INT(sp.n, 5);
    if (sp.n == 5) {
        CHECK_INT(sp.v[0].kind, PII_PHONE);
        CHECK_INT(sp.v[1].kind, PII_EMAIL);
        CHECK_INT(sp.v[2].kind, PII_PLATE);
        CHECK_INT(sp.v[3].kind, PII_GPS);
        CHECK_INT(sp.v[4].kind, PII_CUSTOM);
        CHECK_INT(sp.v[4].pattern, 0);
    }
    CHECK(pii_scan("no personal data here", 21, PII_ALL_KINDS, NULL, 0, &sp) == 0);
    CHECK_INT(sp.n, 0);
    /* privacy.detectors: a kind switched off is not looked for, the others are. */
    const char *t = "给张伟打电话，他的手机是13812345678，住在建国路88号";
    CHECK(pii_scan(t, strlen(t), PII_ALL_KINDS, NULL, 0, &sp) == 0);
    CHECK_INT(sp.n, 3);
    CHECK(pii_scan(t, strlen(t), PII_ALL_KINDS & ~(1u << PII_NAME), NULL, 0, &sp) == 0);
    CHECK_INT(sp.n, 2);
    if (sp.n == 2) {
        CHECK_INT(sp.v[0].kind, PII_PHONE);
        CHECK_INT(sp.v[1].kind, PII_ADDRESS);
    }
    CHECK(pii_scan(t, strlen(t), 1u << PII_NAME, NULL, 0, &sp) == 0);
    CHECK_INT(sp.n, 1);
    CHECK(pii_scan(t, strlen(t), 0, NULL, 0, &sp) == 0);
    CHECK_INT(sp.n, 0);
    /* No digit and no '@', yet an address, a spoken number and a name. */
    const char *w = "我家在解放路一百二十号，手机幺三八一二三四五六七八，联系王芳";
    CHECK(pii_scan(w, strlen(w), 1u << PII_ADDRESS, NULL, 0, &sp) == 0);
    CHECK_INT(sp.n, 1);
    CHECK(pii_scan(w, strlen(w), PII_ALL_KINDS, NULL, 0, &sp) == 0);
    CHECK_INT(sp.n, 3);
    CHECK(pii_scan(w, strlen(w), PII_ALL_KINDS & ~(1u << PII_ADDRESS | 1u << PII_PHONE | 1u << PII_NAME), NULL, 0,
                   &sp) == 0);
    CHECK_INT(sp.n, 0);
    CHECK_INT(pii_kind_by_name("PASSPORT"), PII_PASSPORT);
    CHECK_INT(pii_kind_by_name("CUSTOM"), -1);
    pii_spans_free(&sp);
    regfree(&pat.re);
}

/* The one span found in s is exactly value, an address. */
static void address_is(const char *s, const char *value) {
    pii_spans sp = {0};
    const char *at = strstr(s, value);
    CHECK(at != NULL && pii_scan(s, strlen(s), PII_ALL_KINDS, NULL, 0, &sp) == 0);
    if (sp.n != 1 || !at || sp.v[0].off != (size_t)(at - s) || sp.v[0].len != strlen(value))
        fprintf(stderr, "%s: %zu spans, first [%.*s]\n", s, sp.n, sp.n ? (int)sp.v[0].len : 0, sp.n ? s + sp.v[0].off : "");
    CHECK_INT(sp.n, 1);
    if (sp.n == 1 && at) {
        CHECK_INT(sp.v[0].kind, PII_ADDRESS);
        CHECK_INT(sp.v[0].off, at - s);
        CHECK_INT(sp.v[0].len, strlen(value));
    }
    pii_spans_free(&sp);
}

/* US addresses: "St." with its stop, a direction after the street, and the
 * city, state and ZIP after it. */
static void test_us_addresses(void) {
    address_is("send it to 12 Main St. Springfield, IL 62701 today", "12 Main St. Springfield, IL 62701");
    address_is("1600 Pennsylvania Avenue NW, Washington, DC 20500", "1600 Pennsylvania Avenue NW, Washington, DC 20500");
    address_is("go to 12 Ocean Ave E, Miami, FL 33139.", "12 Ocean Ave E, Miami, FL 33139");
    address_is("go to 40 Elm Rd. SW, Atlanta, GA 30303", "40 Elm Rd. SW, Atlanta, GA 30303");
    address_is("meet at 12 Main St. Then lunch.", "12 Main St.");
    address_is("meet at 77 Main Road. Springfield is far", "77 Main Road");
    address_is("500 W Madison St, Chicago, IL 60661", "500 W Madison St, Chicago, IL 60661");
}

int main(void) {
    gen_phones();
    gen_ids();
    gen_cards();
    gen_emails();
    gen_plates();
    gen_vins();
    gen_gps();
    gen_ipv4();
    report();
    test_mixed();
    test_us_addresses();
    TEST_MAIN_END();
}
