/* budget: daily spend against caps, and its state file's bytes; see budget.h.
 *
 * Per-key spend and caps live in one open-addressing table keyed by the
 * key's name, so a check is one hash lookup whatever the number of keys.
 * Entries are never removed: names come from the configuration (at most
 * AUTH_MAX_KEYS per load) and from spend, which is bounded by
 * BUDGET_MAX_KEYS, and a day's end only zeroes them.
 *
 * A day's end is noticed lazily, by the first check or charge on a later
 * day: nothing needs to run at midnight, and a check (const) simply reads a
 * spend that belongs to an earlier day as zero.
 *
 * Amounts that are not a positive number (a NaN from a broken price, a zero
 * for a free backend) are never added: one NaN in the total would compare
 * false against every cap and lift them all. */
#include "budget.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "crc32.h"

#define MAGIC "tiergate-budget "
#define MAX_HEADER 64
#define NO_DAY INT64_MIN
/* Larger spends in a file are taken for damage, not for a day's bill. */
#define MAX_AMOUNT 1e15

typedef struct entry {
    char name[AUTH_MAX_NAME + 1];    /* "" = free slot */
    double spent;
    double cap;                      /* BUDGET_NO_CAP: per_key_daily applies */
} entry;

struct budget {
    double daily, per_key_daily;
    int offset_min;
    int64_t day;                     /* the day total and spent belong to */
    double total;
    entry *slots;
    size_t nslots, used, counted;    /* counted: entries holding spend */
    bool blocked;                    /* the day in .day is blocked */
    uint64_t generation;
};

/* ---- days ---- */

static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

static int64_t day_at(const budget *b, int64_t now) { return floor_div(now + (int64_t)b->offset_min * 60, 86400); }

/* The day now belongs to: never earlier than the one already begun. */
static int64_t current_day(const budget *b, int64_t now) {
    int64_t d = day_at(b, now);
    return d > b->day ? d : b->day;
}

/* Howard Hinnant's days_from_civil: days since 1970-01-01 of a proleptic
 * Gregorian date. */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
    z += 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* Only a nonsense clock gives a year that does not fit; its label is cut
 * short, and parse_day refuses anything but YYYY-MM-DD anyway. */
static void format_day(int64_t day, char *out, size_t cap) {
    int64_t y;
    int m, d;
    civil_from_days(day, &y, &m, &d);
    int n = snprintf(out, cap, "%04" PRId64 "-%02d-%02d", y, m, d);
    if (n < 0 || (size_t)n >= cap) out[cap - 1] = '\0';
}

/* "YYYY-MM-DD" of a real date to its day number; false otherwise. */
static bool parse_day(const char *s, int64_t *day) {
    char back[16];
    int y, m, d;
    if (strlen(s) != 10 || strspn(s, "0123456789-") != 10 || s[4] != '-' || s[7] != '-') return false;
    if (sscanf(s, "%4d-%2d-%2d", &y, &m, &d) != 3 || m < 1 || m > 12 || d < 1 || d > 31) return false;
    *day = days_from_civil(y, m, d);
    format_day(*day, back, sizeof back);
    return strcmp(back, s) == 0;    /* refuses 2026-02-30 */
}

void budget_day_label(const budget *b, int64_t now, char *out, size_t cap) {
    assert(cap >= 11);
    format_day(current_day(b, now), out, cap);
}

int64_t budget_seconds_left(const budget *b, int64_t now) {
    int64_t end = (current_day(b, now) + 1) * 86400 - (int64_t)b->offset_min * 60;
    return end - now > 1 ? end - now : 1;
}

bool budget_clock_behind(const budget *b, int64_t now) { return b->day != NO_DAY && b->day > day_at(b, now); }

/* ---- the key table ---- */

static uint64_t hash_name(const char *s) {
    uint64_t h = 0xcbf29ce484222325u;    /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3u;
    return h;
}

/* The slot holding name, or the free slot where it would go. */
static entry *slot_for(const budget *b, const char *name) {
    size_t mask = b->nslots - 1;
    for (size_t i = (size_t)hash_name(name) & mask;; i = (i + 1) & mask)
        if (!b->slots[i].name[0] || strcmp(b->slots[i].name, name) == 0) return &b->slots[i];
}

static const entry *find(const budget *b, const char *name) {
    const entry *e = slot_for(b, name);
    return e->name[0] ? e : NULL;
}

/* Makes room for n more names without moving any later; -1 on out of memory. */
static int reserve(budget *b, size_t n) {
    size_t want = b->nslots ? b->nslots : 16;
    while ((b->used + n) * 2 > want) want *= 2;
    if (want == b->nslots) return 0;
    entry *old = b->slots;
    size_t nold = b->nslots;
    if (!(b->slots = calloc(want, sizeof *b->slots))) {
        b->slots = old;
        return -1;
    }
    b->nslots = want;
    for (size_t i = 0; i < nold; i++)
        if (old[i].name[0]) *slot_for(b, old[i].name) = old[i];
    free(old);
    return 0;
}

/* The entry for name, added (with no cap of its own) if missing; room must
 * have been reserved. */
static entry *entry_for(budget *b, const char *name) {
    entry *e = slot_for(b, name);
    if (!e->name[0]) {
        assert((b->used + 1) * 2 <= b->nslots);
        snprintf(e->name, sizeof e->name, "%s", name);
        e->spent = 0;
        e->cap = BUDGET_NO_CAP;
        b->used++;
    }
    return e;
}

static void start_day(budget *b, int64_t day) {
    b->day = day;
    b->blocked = false;
    b->total = 0;
    b->counted = 0;
    for (size_t i = 0; i < b->nslots; i++) b->slots[i].spent = 0;
}

/* ---- caps and spend ---- */

budget *budget_new(const budget_limits *l) {
    budget *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->day = NO_DAY;
    assert(l->utc_offset_min >= -720 && l->utc_offset_min <= 840);
    b->offset_min = l->utc_offset_min;
    if (budget_set_limits(b, l) < 0) {
        budget_free(b);
        return NULL;
    }
    return b;
}

void budget_free(budget *b) {
    if (!b) return;
    free(b->slots);
    free(b);
}

int budget_set_limits(budget *b, const budget_limits *l) {
    if (reserve(b, l->nkeys) < 0) return -1;
    b->daily = l->daily;
    b->per_key_daily = l->per_key_daily;
    for (size_t i = 0; i < b->nslots; i++) b->slots[i].cap = BUDGET_NO_CAP;
    for (size_t i = 0; i < l->nkeys; i++) {
        assert(l->keys[i].name[0] && strlen(l->keys[i].name) <= AUTH_MAX_NAME && l->keys[i].cap >= 0);
        entry_for(b, l->keys[i].name)->cap = l->keys[i].cap;
    }
    return 0;
}

double budget_cap(const budget *b, const char *client) {
    if (!client) return b->daily;
    const entry *e = *client ? find(b, client) : NULL;
    return e && e->cap >= 0 ? e->cap : b->per_key_daily;
}

double budget_spent(const budget *b, const char *client, int64_t now) {
    if (current_day(b, now) != b->day) return 0;
    if (!client) return b->total;
    const entry *e = *client ? find(b, client) : NULL;
    return e ? e->spent : 0;
}

budget_verdict budget_check(const budget *b, const char *client, int64_t now) {
    if (budget_blocked(b, now)) return BUDGET_BLOCKED;
    if (b->daily >= 0 && budget_spent(b, NULL, now) >= b->daily) return BUDGET_TOTAL_SPENT;
    if (!*client) return BUDGET_OK;
    double cap = budget_cap(b, client);
    return cap >= 0 && budget_spent(b, client, now) >= cap ? BUDGET_KEY_SPENT : BUDGET_OK;
}

const char *budget_verdict_name(budget_verdict v) {
    static const char *const names[] = {"ok", "total_spent", "key_spent", "blocked"};
    assert((unsigned)v < sizeof names / sizeof *names);
    return names[v];
}

int budget_charge(budget *b, const char *client, double amount, int64_t now) {
    if (!(amount > 0) || !isfinite(amount)) return 0;
    int64_t day = current_day(b, now);
    if (day != b->day) start_day(b, day);
    b->total += amount;
    b->generation++;
    if (!*client) return 0;
    entry *e = slot_for(b, client);
    if (!e->name[0] || e->spent == 0) {
        /* A name with nothing spent yet today starts to count. */
        if (b->counted >= BUDGET_MAX_KEYS || (!e->name[0] && reserve(b, 1) < 0)) return -1;
        e = entry_for(b, client);
        b->counted++;
    }
    e->spent += amount;
    return 0;
}

void budget_block(budget *b, bool blocked, int64_t now) {
    if (blocked) start_day(b, current_day(b, now));
    b->blocked = blocked;
}

bool budget_blocked(const budget *b, int64_t now) { return b->blocked && current_day(b, now) == b->day; }

uint64_t budget_generation(const budget *b) { return b->generation; }

/* ---- the state file ---- */

/* Adds v as the shortest number that reads back as exactly v.  cJSON's own
 * printing settles for one that reads back within an epsilon, and a state
 * file must not drift a little on every restart. */
static bool add_amount(cJSON *o, const char *key, double v) {
    char num[32];
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(num, sizeof num, "%.*g", digits, v);
        if (strtod(num, NULL) == v) break;
    }
    return cJSON_AddRawToObject(o, key, num) != NULL;
}

static int by_name(const void *a, const void *b) {
    return strcmp((*(const entry *const *)a)->name, (*(const entry *const *)b)->name);
}

/* Keys in name order: the same state is always the same bytes, which makes
 * the file comparable and its round trip testable. */
char *budget_encode(const budget *b, int64_t now, size_t *len) {
    char day[16], header[MAX_HEADER];
    bool today = current_day(b, now) == b->day;
    char *body = NULL, *out = NULL;
    const entry **spent = calloc(b->used + 1, sizeof *spent);
    size_t n = 0;
    cJSON *o = cJSON_CreateObject(), *keys;
    budget_day_label(b, now, day, sizeof day);
    if (!spent || !o || !cJSON_AddStringToObject(o, "day", day) ||
        !add_amount(o, "total", today ? b->total : 0) || !(keys = cJSON_AddObjectToObject(o, "keys")))
        goto err;
    for (size_t i = 0; today && i < b->nslots; i++)
        if (b->slots[i].name[0] && b->slots[i].spent > 0) spent[n++] = &b->slots[i];
    qsort(spent, n, sizeof *spent, by_name);
    for (size_t i = 0; i < n; i++)
        if (!add_amount(keys, spent[i]->name, spent[i]->spent)) goto err;
    if (!(body = cJSON_PrintUnformatted(o))) goto err;
    n = strlen(body);
    body[n] = '\n';    /* cJSON's terminator becomes the body's last byte */
    int h = snprintf(header, sizeof header, MAGIC "%d %zu %08" PRIx32 "\n", BUDGET_VERSION, n + 1,
                     crc32_ieee(body, n + 1));
    assert(h > 0 && (size_t)h < sizeof header);
    if (!(out = malloc((size_t)h + n + 2))) goto err;
    memcpy(out, header, (size_t)h);
    memcpy(out + h, body, n + 1);
    out[h + n + 1] = '\0';
    *len = (size_t)h + n + 1;
err:
    free(spent);
    cJSON_free(body);
    cJSON_Delete(o);
    return out;
}

__attribute__((format(printf, 3, 4)))
static int refuse(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* Reads a decimal number of at most 10 digits at *p, no leading zero. */
static bool read_number(const char **p, const char *end, uint64_t *out) {
    const char *s = *p;
    uint64_t v = 0;
    while (*p < end && **p >= '0' && **p <= '9' && *p - s < 10) v = v * 10 + (uint64_t)(*(*p)++ - '0');
    *out = v;
    return *p > s && !(**p >= '0' && **p <= '9') && !(s[0] == '0' && *p - s > 1);
}

/* The header line; on success *body and *body_len are what follows it. */
static int decode_header(const char *data, size_t len, uint64_t *want, uint32_t *crc, const char **body,
                         char *err, size_t errlen) {
    size_t magic = strlen(MAGIC);
    if (len == 0) return refuse(err, errlen, "empty file");
    if (memcmp(data, MAGIC, len < magic ? len : magic) != 0)
        return refuse(err, errlen, "not a tiergate budget state file");
    const char *nl = memchr(data, '\n', len < MAX_HEADER ? len : MAX_HEADER);
    if (!nl) return refuse(err, errlen, len < MAX_HEADER ? "truncated in its header line" : "header line too long");
    const char *p = data + magic;
    uint64_t version, hex = 0;
    if (!read_number(&p, nl, &version) || *p++ != ' ')
        return refuse(err, errlen, "malformed header line");
    if (version != BUDGET_VERSION)
        return refuse(err, errlen, "format version %" PRIu64 " (this build reads version %d)", version, BUDGET_VERSION);
    if (!read_number(&p, nl, want) || *p++ != ' ' || nl - p != 8) return refuse(err, errlen, "malformed header line");
    for (; p < nl; p++) {
        const char *digit = strchr("0123456789abcdef", *p);
        if (!*p || !digit) return refuse(err, errlen, "malformed header line");
        hex = hex << 4 | (uint64_t)(digit - "0123456789abcdef");
    }
    *crc = (uint32_t)hex;
    *body = nl + 1;
    return 0;
}

static bool amount_ok(const cJSON *v) {
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= MAX_AMOUNT;
}

int budget_decode(budget *b, const char *data, size_t len, char *err, size_t errlen) {
    uint64_t want = 0;
    uint32_t crc = 0;
    const char *body = data;
    if (decode_header(data, len, &want, &crc, &body, err, errlen) < 0) return -1;
    size_t have = len - (size_t)(body - data);
    if (have < want) return refuse(err, errlen, "truncated: %zu of %" PRIu64 " bytes after the header", have, want);
    if (have > want) return refuse(err, errlen, "%zu bytes after the header, %" PRIu64 " expected", have, want);
    if (crc32_ieee(body, have) != crc) return refuse(err, errlen, "CRC-32 mismatch: the file is damaged");

    const char *why = "the state is not {\"day\",\"total\",\"keys\"} as written by tiergate";
    cJSON *o = cJSON_ParseWithLength(body, have);
    const cJSON *day = cJSON_GetObjectItemCaseSensitive(o, "day");
    const cJSON *total = cJSON_GetObjectItemCaseSensitive(o, "total");
    const cJSON *keys = cJSON_GetObjectItemCaseSensitive(o, "keys"), *k;
    int64_t dayno;
    if (!cJSON_IsObject(o) || cJSON_GetArraySize(o) != 3 || !cJSON_IsString(day) ||
        !parse_day(day->valuestring, &dayno) || !amount_ok(total) || !cJSON_IsObject(keys) ||
        cJSON_GetArraySize(keys) > BUDGET_MAX_KEYS)
        goto done;
    cJSON_ArrayForEach(k, keys) {
        size_t n = strlen(k->string);
        if (n == 0 || n > AUTH_MAX_NAME || !amount_ok(k) || k->valuedouble > total->valuedouble) goto done;
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)k->string[i] < 0x20 || k->string[i] == 0x7f) goto done;
        for (const cJSON *dup = k->next; dup; dup = dup->next)
            if (strcmp(dup->string, k->string) == 0) goto done;
    }
    why = "out of memory";
    if (reserve(b, (size_t)cJSON_GetArraySize(keys)) < 0) goto done;
    start_day(b, dayno);
    b->total = total->valuedouble;
    cJSON_ArrayForEach(k, keys) {
        entry *e = entry_for(b, k->string);
        e->spent = k->valuedouble;
        b->counted += e->spent > 0;
    }
    b->generation++;
    why = NULL;
done:
    cJSON_Delete(o);
    return why ? refuse(err, errlen, "%s", why) : 0;
}
