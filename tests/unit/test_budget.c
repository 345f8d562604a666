/* test_budget: the spend accounting with time as a number (caps in total and
 * per key, cap 0, days and their offset, a clock set back, new caps keeping
 * the spend, amounts that must not count, the key table's limit, blocking),
 * and the state file's bytes: the round trip, and every damage detected: cut
 * at each length, each byte changed, another version, garbage, empty,
 * trailing bytes, and well-checksummed bodies of the wrong shape. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "crc32.h"
#include "testlib.h"

/* 2026-11-22T10:00:00Z */
#define T0 INT64_C(1795341600)
#define DAY INT64_C(86400)

static budget *make(double daily, double per_key, const budget_key_cap *keys, size_t nkeys, int offset) {
    budget_limits l = {daily, per_key, keys, nkeys, offset};
    return budget_new(&l);
}

static void test_total_cap(void) {
    budget *b = make(1.0, BUDGET_NO_CAP, NULL, 0, 0);
    CHECK_INT(budget_check(b, "", T0), BUDGET_OK);
    CHECK_INT(budget_charge(b, "", 0.4, T0), 0);
    CHECK_INT(budget_check(b, "", T0), BUDGET_OK);
    CHECK(budget_spent(b, NULL, T0) == 0.4);
    budget_charge(b, "alice", 0.6, T0 + 1);
    /* Reached exactly: nothing more today, for anyone. */
    CHECK_INT(budget_check(b, "", T0 + 2), BUDGET_TOTAL_SPENT);
    CHECK_INT(budget_check(b, "bob", T0 + 2), BUDGET_TOTAL_SPENT);
    CHECK_STR(budget_verdict_name(BUDGET_TOTAL_SPENT), "total_spent");
    CHECK(budget_cap(b, NULL) == 1.0);
    CHECK(budget_cap(b, "alice") == BUDGET_NO_CAP);
    /* A request in flight when the cap was reached still counts. */
    budget_charge(b, "bob", 0.25, T0 + 3);
    CHECK(fabs(budget_spent(b, NULL, T0 + 3) - 1.25) < 1e-12);
    budget_free(b);

    /* A cap of 0 lets nothing through; no cap lets everything. */
    b = make(0, BUDGET_NO_CAP, NULL, 0, 0);
    CHECK_INT(budget_check(b, "", T0), BUDGET_TOTAL_SPENT);
    budget_free(b);
    b = make(BUDGET_NO_CAP, BUDGET_NO_CAP, NULL, 0, 0);
    budget_charge(b, "", 1e9, T0);
    CHECK_INT(budget_check(b, "", T0), BUDGET_OK);
    budget_free(b);
}

static void test_key_caps(void) {
    const budget_key_cap caps[] = {{"kiosk-7", 0.1}, {"ops", 5.0}, {"blocked", 0}};
    budget *b = make(10.0, 1.0, caps, 3, 0);
    CHECK(budget_cap(b, "alice") == 1.0);
    CHECK(budget_cap(b, "kiosk-7") == 0.1);
    CHECK(budget_cap(b, "") == 1.0);
    CHECK_INT(budget_check(b, "blocked", T0), BUDGET_KEY_SPENT);
    budget_charge(b, "kiosk-7", 0.1, T0);
    CHECK_INT(budget_check(b, "kiosk-7", T0), BUDGET_KEY_SPENT);
    CHECK_STR(budget_verdict_name(BUDGET_KEY_SPENT), "key_spent");
    CHECK_INT(budget_check(b, "alice", T0), BUDGET_OK);
    budget_charge(b, "alice", 0.99, T0);
    CHECK_INT(budget_check(b, "alice", T0), BUDGET_OK);
    budget_charge(b, "alice", 0.02, T0);
    CHECK_INT(budget_check(b, "alice", T0), BUDGET_KEY_SPENT);
    /* The named key's own cap replaces the default. */
    budget_charge(b, "ops", 2.0, T0);
    CHECK_INT(budget_check(b, "ops", T0), BUDGET_OK);
    CHECK(fabs(budget_spent(b, "ops", T0) - 2.0) < 1e-12);
    CHECK(fabs(budget_spent(b, NULL, T0) - 3.11) < 1e-12);
    CHECK(budget_spent(b, "nobody", T0) == 0);
    /* Without client keys only the total counts. */
    CHECK_INT(budget_check(b, "", T0), BUDGET_OK);
    budget_free(b);
}

static void test_days(void) {
    char day[16];
    budget *b = make(1.0, 0.5, NULL, 0, 0);
    budget_day_label(b, T0, day, sizeof day);
    CHECK_STR(day, "2026-11-22");
    CHECK_INT(budget_seconds_left(b, T0), 14 * 3600);
    budget_charge(b, "a", 1.0, T0);
    CHECK_INT(budget_check(b, "a", T0 + 14 * 3600 - 1), BUDGET_TOTAL_SPENT);
    CHECK_INT(budget_seconds_left(b, T0 + 14 * 3600 - 1), 1);
    /* Midnight UTC: a new day, read as zero before anything is charged. */
    CHECK_INT(budget_check(b, "a", T0 + 14 * 3600), BUDGET_OK);
    CHECK(budget_spent(b, NULL, T0 + 14 * 3600) == 0);
    CHECK(budget_spent(b, "a", T0 + 14 * 3600) == 0);
    budget_day_label(b, T0 + 14 * 3600, day, sizeof day);
    CHECK_STR(day, "2026-11-23");
    CHECK_INT(budget_seconds_left(b, T0 + 14 * 3600), DAY);
    uint64_t g = budget_generation(b);
    budget_charge(b, "b", 0.25, T0 + DAY);
    CHECK(budget_generation(b) != g);
    CHECK(budget_spent(b, NULL, T0 + DAY) == 0.25);
    CHECK(budget_spent(b, "a", T0 + DAY) == 0);

    /* The clock set back a day (an unset clock at boot): the day begun keeps
     * its spend instead of reopening the earlier one. */
    budget_charge(b, "b", 0.75, T0 + DAY);
    CHECK(!budget_clock_behind(b, T0 + DAY));
    CHECK(budget_clock_behind(b, T0));
    CHECK_INT(budget_check(b, "", T0), BUDGET_TOTAL_SPENT);
    CHECK_INT(budget_check(b, "", 0), BUDGET_TOTAL_SPENT);
    budget_day_label(b, 0, day, sizeof day);
    CHECK_STR(day, "2026-11-23");
    budget_charge(b, "b", 0.5, 0);
    CHECK(budget_spent(b, NULL, T0 + DAY) == 1.5);
    budget_free(b);

    /* UTC+8: the day ends at 16:00 UTC. */
    b = make(1.0, BUDGET_NO_CAP, NULL, 0, 480);
    budget_day_label(b, T0, day, sizeof day);
    CHECK_STR(day, "2026-11-22");
    CHECK_INT(budget_seconds_left(b, T0), 6 * 3600);
    budget_day_label(b, T0 + 6 * 3600, day, sizeof day);
    CHECK_STR(day, "2026-11-23");
    budget_free(b);
    /* UTC-12 and before 1970 (floor, not truncation). */
    b = make(1.0, BUDGET_NO_CAP, NULL, 0, -720);
    budget_day_label(b, 0, day, sizeof day);
    CHECK_STR(day, "1969-12-31");
    CHECK_INT(budget_seconds_left(b, 0), 12 * 3600);
    budget_day_label(b, INT64_C(951825600) + 12 * 3600, day, sizeof day);   /* 2000-02-29T12:00Z */
    CHECK_STR(day, "2000-02-29");
    budget_free(b);
}

static void test_limits_change(void) {
    const budget_key_cap before[] = {{"kiosk-7", 0.1}};
    const budget_key_cap after[] = {{"ops", 0.1}};
    budget *b = make(1.0, BUDGET_NO_CAP, before, 1, 0);
    budget_charge(b, "kiosk-7", 0.1, T0);
    budget_charge(b, "ops", 0.5, T0);
    CHECK_INT(budget_check(b, "kiosk-7", T0), BUDGET_KEY_SPENT);
    budget_limits l = {0.5, 2.0, after, 1, 0};
    CHECK_INT(budget_set_limits(b, &l), 0);
    /* The spend is kept; kiosk-7 now has the default, ops its own cap. */
    CHECK(fabs(budget_spent(b, NULL, T0) - 0.6) < 1e-12);
    CHECK(budget_cap(b, "kiosk-7") == 2.0);
    CHECK(budget_cap(b, "ops") == 0.1);
    CHECK_INT(budget_check(b, "kiosk-7", T0), BUDGET_TOTAL_SPENT);
    l.daily = BUDGET_NO_CAP;
    CHECK_INT(budget_set_limits(b, &l), 0);
    CHECK_INT(budget_check(b, "kiosk-7", T0), BUDGET_OK);
    CHECK_INT(budget_check(b, "ops", T0), BUDGET_KEY_SPENT);
    /* A new UTC offset is not taken: +14 h would start tomorrow now and hand
     * the day's budget out again. */
    int64_t end = budget_seconds_left(b, T0);
    l.utc_offset_min = 840;
    CHECK_INT(budget_set_limits(b, &l), 0);
    CHECK(budget_seconds_left(b, T0) == end);
    CHECK_INT(budget_check(b, "ops", T0), BUDGET_KEY_SPENT);
    budget_free(b);
}

static void test_amounts_and_keys(void) {
    budget *b = make(1.0, 1.0, NULL, 0, 0);
    uint64_t g = budget_generation(b);
    CHECK_INT(budget_charge(b, "a", NAN, T0), 0);
    CHECK_INT(budget_charge(b, "a", -1.0, T0), 0);
    CHECK_INT(budget_charge(b, "a", 0, T0), 0);
    CHECK_INT(budget_charge(b, "a", INFINITY, T0), 0);
    CHECK(budget_generation(b) == g);
    CHECK(budget_spent(b, NULL, T0) == 0);
    CHECK_INT(budget_check(b, "a", T0), BUDGET_OK);

    /* Past BUDGET_MAX_KEYS names, a new one counts in the total only. */
    char name[32];
    int fails = 0;
    for (int i = 0; i <= BUDGET_MAX_KEYS; i++) {
        snprintf(name, sizeof name, "k%d", i);
        fails += budget_charge(b, name, 1e-6, T0) < 0;
    }
    CHECK_INT(fails, 1);
    CHECK(budget_spent(b, "k0", T0) == 1e-6);
    CHECK(budget_spent(b, name, T0) == 0);
    CHECK(fabs(budget_spent(b, NULL, T0) - (BUDGET_MAX_KEYS + 1) * 1e-6) < 1e-12);
    /* A name already counted today keeps counting. */
    CHECK_INT(budget_charge(b, "k0", 1e-6, T0), 0);
    CHECK(budget_spent(b, "k0", T0) == 2e-6);
    /* A new day frees the table's room. */
    CHECK_INT(budget_charge(b, name, 1e-6, T0 + DAY), 0);
    budget_free(b);
}

static void test_blocked(void) {
    budget *b = make(BUDGET_NO_CAP, BUDGET_NO_CAP, NULL, 0, 0);
    CHECK(!budget_blocked(b, T0));
    budget_block(b, true, T0);
    CHECK(budget_blocked(b, T0));
    CHECK_INT(budget_check(b, "", T0), BUDGET_BLOCKED);
    CHECK_INT(budget_check(b, "", T0 + 14 * 3600 - 1), BUDGET_BLOCKED);
    CHECK_STR(budget_verdict_name(BUDGET_BLOCKED), "blocked");
    /* The next day's spend is known: the block ends with the day. */
    CHECK(!budget_blocked(b, T0 + 14 * 3600));
    CHECK_INT(budget_check(b, "", T0 + DAY), BUDGET_OK);
    budget_charge(b, "", 1.0, T0 + DAY);
    CHECK(!budget_blocked(b, T0 + DAY));
    CHECK(budget_spent(b, NULL, T0 + DAY) == 1.0);
    /* Blocked with the clock set back: still the blocked day. */
    budget_block(b, true, T0 + DAY);
    CHECK_INT(budget_check(b, "", T0), BUDGET_BLOCKED);
    CHECK(budget_spent(b, NULL, T0 + DAY) == 0);
    budget_block(b, false, T0 + DAY);
    CHECK_INT(budget_check(b, "", T0 + DAY), BUDGET_OK);
    /* A good state read lifts it too. */
    budget_block(b, true, T0);
    size_t len;
    char *data = budget_encode(b, T0 + 2 * DAY, &len), err[64];
    CHECK_INT(budget_decode(b, data, len, err, sizeof err), 0);
    CHECK(!budget_blocked(b, T0 + DAY));
    free(data);
    budget_free(b);
}

/* ---- the file ---- */

static budget *spent_budget(char **data, size_t *len) {
    budget *b = make(5.0, 1.0, NULL, 0, 0);
    budget_charge(b, "alice", 0.1, T0);
    budget_charge(b, "alice", 0.2, T0);    /* 0.30000000000000004 must survive */
    budget_charge(b, "bob", 1.0 / 3.0, T0);
    budget_charge(b, "", 2.5e-7, T0);
    *data = budget_encode(b, T0, len);
    return b;
}

static void test_round_trip(void) {
    char *data;
    size_t len;
    budget *b = spent_budget(&data, &len);
    CHECK(data != NULL);
    CHECK(strncmp(data, "tiergate-budget 1 ", 18) == 0);
    CHECK(strstr(data, "\"day\":\"2026-11-22\"") != NULL);
    CHECK(data[len - 1] == '\n');

    char err[256] = "";
    budget *c = make(5.0, 1.0, NULL, 0, 0);
    uint64_t g = budget_generation(c);
    CHECK_INT(budget_decode(c, data, len, err, sizeof err), 0);
    CHECK_STR(err, "");
    CHECK(budget_generation(c) != g);
    CHECK(budget_spent(c, NULL, T0) == budget_spent(b, NULL, T0));
    CHECK(budget_spent(c, "alice", T0) == 0.1 + 0.2);
    CHECK(budget_spent(c, "bob", T0) == 1.0 / 3.0);
    CHECK(budget_spent(c, "", T0) == 0);
    /* The same state encodes to the same bytes. */
    size_t len2;
    char *again = budget_encode(c, T0, &len2);
    CHECK(again && len2 == len && memcmp(again, data, len) == 0);
    free(again);
    /* Read on a later day, it is yesterday's: today starts at zero. */
    CHECK(budget_spent(c, NULL, T0 + DAY) == 0);
    again = budget_encode(c, T0 + DAY, &len2);
    CHECK(again && strstr(again, "{\"day\":\"2026-11-23\",\"total\":0,\"keys\":{}}\n") != NULL);
    free(again);
    budget_free(c);
    budget_free(b);
    free(data);
}

static int decode_fails(const char *data, size_t len, const char *want) {
    char err[256] = "";
    budget *c = make(5.0, 1.0, NULL, 0, 0);
    budget_charge(c, "carol", 0.5, T0);
    int rc = budget_decode(c, data, len, err, sizeof err);
    /* A refused file changes nothing. */
    bool unchanged = budget_spent(c, "carol", T0) == 0.5 && budget_spent(c, NULL, T0) == 0.5;
    bool said = want == NULL || strstr(err, want) != NULL;
    if (rc == 0 || !unchanged || !said || !err[0])
        fprintf(stderr, "decode of %zu bytes: rc %d, error \"%s\" (wanted \"%s\")\n", len, rc, err, want ? want : "");
    budget_free(c);
    return rc < 0 && unchanged && said && err[0];
}

/* A file whose header is right for body: only the body's shape is wrong. */
static char *with_header(const char *body, int version) {
    size_t n = strlen(body);
    char *out = malloc(n + 64);
    int h = snprintf(out, 64, "tiergate-budget %d %zu %08x\n", version, n, (unsigned)crc32_ieee(body, n));
    memcpy(out + h, body, n + 1);
    return out;
}

static void check_body_refused(const char *body, const char *want) {
    char *f = with_header(body, 1);
    CHECK(decode_fails(f, strlen(f), want));
    free(f);
}

static void test_damage(void) {
    char *data;
    size_t len;
    budget *b = spent_budget(&data, &len);

    /* Cut short at every length, empty included. */
    int refused = 0;
    for (size_t n = 0; n < len; n++) refused += decode_fails(data, n, NULL);
    CHECK_INT(refused, (long long)len);
    CHECK(decode_fails(data, 0, "empty"));
    CHECK(decode_fails(data, 10, "truncated"));
    CHECK(decode_fails(data, len - 1, "truncated"));

    /* Every byte changed, three ways (lowest bit, highest bit, all bits). */
    refused = 0;
    static const unsigned char flips[] = {0x01, 0x80, 0xFF};
    for (size_t i = 0; i < len; i++)
        for (size_t f = 0; f < sizeof flips; f++) {
            data[i] ^= (char)flips[f];
            refused += decode_fails(data, len, NULL);
            data[i] ^= (char)flips[f];
        }
    CHECK_INT(refused, (long long)(3 * len));
    size_t body_at = (size_t)(strchr(data, '\n') - data) + 1;
    data[body_at + 3] ^= 0x01;
    CHECK(decode_fails(data, len, "CRC-32 mismatch"));
    data[body_at + 3] ^= 0x01;

    /* Bytes after the end. */
    char *longer = malloc(len + 1);
    memcpy(longer, data, len);
    longer[len] = '\n';
    CHECK(decode_fails(longer, len + 1, "expected"));
    free(longer);

    /* Garbage, another program's file, a header line without end. */
    CHECK(decode_fails("\x89PNG\r\n\x1a\n", 8, "not a tiergate budget state file"));
    CHECK(decode_fails("{\"day\":\"2026-11-22\"}", 20, "not a tiergate budget state file"));
    char endless[200];
    memset(endless, '7', sizeof endless);
    memcpy(endless, "tiergate-budget 1 ", 18);
    CHECK(decode_fails(endless, sizeof endless, "header line too long"));
    CHECK(decode_fails("tiergate-budget x 5 00000000\n", 29, "malformed"));
    CHECK(decode_fails("tiergate-budget 1 05 00000000\n{}\n..", 35, "malformed"));
    CHECK(decode_fails("tiergate-budget 1 5 0000000g\n", 29, "malformed"));
    CHECK(decode_fails("tiergate-budget 1 5 000000000\n", 30, "malformed"));
    CHECK(decode_fails("tiergate-budget 1 99999999999 00000000\n", 39, "malformed"));

    /* Another version, with a correct checksum. */
    const char *body = strchr(data, '\n') + 1;
    char *v2 = with_header(body, 2);
    CHECK(decode_fails(v2, strlen(v2), "format version 2"));
    free(v2);
    char *v1 = with_header(body, 1);
    char err[64];
    budget *c = make(5.0, 1.0, NULL, 0, 0);
    CHECK_INT(budget_decode(c, v1, strlen(v1), err, sizeof err), 0);
    budget_free(c);
    free(v1);

    /* Well-checksummed, wrong shape. */
    check_body_refused("not json\n", "not {");
    check_body_refused("[]\n", "not {");
    check_body_refused("{\"day\":\"2026-11-22\",\"total\":1}\n", "not {");
    check_body_refused("{\"day\":\"2026-11-22\",\"total\":1,\"keys\":{},\"extra\":0}\n", "not {");
    check_body_refused("{\"day\":\"2026-02-30\",\"total\":1,\"keys\":{}}\n", "not {");
    check_body_refused("{\"day\":\"26-11-22\",\"total\":1,\"keys\":{}}\n", "not {");
    check_body_refused("{\"day\":20261122,\"total\":1,\"keys\":{}}\n", "not {");
    check_body_refused("{\"day\":\"2026-11-22\",\"total\":-1,\"keys\":{}}\n", "not {");
    check_body_refused("{\"day\":\"2026-11-22\",\"total\":\"1\",\"keys\":{}}\n", "not {");
    check_body_refused("{\"day\":\"2026-11-22\",\"total\":1e300,\"keys\":{}}\n", "not {");
    check_body_refused("{\"day\":\"2026-11-22\",\"total\":1,\"keys\":[]}\n", "not {");
    check_body_refused("{\"day\":\"2026-11-22\",\"total\":1,\"keys\":{\"a\":2}}\n", "not {");
    check_body_refused("{\"day\":\"2026-11-22\",\"total\":1,\"keys\":{\"\":0.5}}\n", "not {");
    check_body_refused("{\"day\":\"2026-11-22\",\"total\":1,\"keys\":{\"a\\n\":0.5}}\n", "not {");
    check_body_refused("{\"day\":\"2026-11-22\",\"total\":1,\"keys\":{\"a\":0.5,\"a\":0.5}}\n", "not {");
    check_body_refused("{\"day\":\"2026-11-22\",\"total\":1,\"keys\":{\"a\":null}}\n", "not {");
    check_body_refused("{\"day\":\"2026-11-22\",\"total\":1,\"keys\":{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                       "aaaaaaaaaaaaaaaaaaaa\":0.5}}\n", "not {");
    /* Too many keys. */
    size_t cap = (BUDGET_MAX_KEYS + 1) * 16 + 64, n = 0;
    char *many = malloc(cap);
    n += (size_t)snprintf(many, cap, "{\"day\":\"2026-11-22\",\"total\":1,\"keys\":{");
    for (int i = 0; i <= BUDGET_MAX_KEYS; i++) n += (size_t)snprintf(many + n, cap - n, "%s\"k%d\":0", i ? "," : "", i);
    snprintf(many + n, cap - n, "}}\n");
    check_body_refused(many, "not {");
    free(many);

    budget_free(b);
    free(data);
}

int main(void) {
    test_total_cap();
    test_key_caps();
    test_days();
    test_limits_change();
    test_amounts_and_keys();
    test_blocked();
    test_round_trip();
    test_damage();
    TEST_MAIN_END();
}
