/* pii: one pass over the text, a validator per kind.
 *
 * Design.  A regex per kind would be simplest to read but a regex engine
 * visits every byte once per pattern and cannot check a check digit, so the
 * built-in detectors are hand-written: one left-to-right pass that stops
 * only where a token can start (a digit, '+', '-', '(', an ASCII letter
 * after a non-alphanumeric, or a Chinese character of a class some detector
 * starts at, piitext.h) and tries the validators that apply there.  Words
 * that match nothing are skipped whole.  E-mail addresses are found first,
 * from each '@' outwards, because their local part may hold digits that
 * would otherwise start a phone number; the main pass jumps over them.
 *
 * This file holds the pass and the formats with check digits or fixed
 * shapes (mobile numbers, ID and bank cards, plates, VINs, decimal GPS
 * pairs, IPv4, e-mail); piinum.c the numbers in other notations (landlines,
 * spoken digits, marked coordinates, passports) and piiword.c the values
 * found by their words (addresses, names).  Each family answers "what
 * starts here?" for one position; the pass owns the position, so the text
 * is visited once whatever the number of detectors.  From a position a
 * detector reads ahead or back a constant number of tokens or bytes (8
 * digit groups, 23 spoken digits, 4 words of a street and 3 of a name, a
 * capitalised word of 64 bytes and 4 parts, 24 characters back to an
 * address's city and no further than the value before, 64 bytes of an
 * e-mail's local part), and state carried forward (the window "passport"
 * opens, the last name's end) lives in pii_ctx.  So a byte is read by at
 * most a constant number of positions and the scan is linear in the text:
 * the gateway is one thread, and a detector that re-read an unbounded
 * stretch at every position stalled every client (bench_pii's adversarial
 * rows, test_piiscale).  The spans are then sorted in n log n (settle).
 * With only kinds that need a digit or '@' enabled, a text without either
 * costs one byte loop.
 *
 * Precision over recall where they conflict: every detector checks what the
 * format allows it to (check digits, ranges, lengths, boundaries, the words
 * around it), because in redact mode a false positive changes what the
 * model reads, and in local mode it keeps a request on the small model.
 * The exact rules and what they miss are in docs/privacy.md.
 *
 * Token boundaries are ASCII: a digit run glued to a Chinese character
 * ("电话13812345678") is a token, because Chinese text has no spaces; a run
 * glued to an ASCII letter or digit is part of a longer token and is not.
 * A digit run right after "<digit>." is the fraction of a decimal number. */
#include "pii.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "piinum.h"
#include "piitext.h"
#include "piiword.h"

static const char *const kind_names[] = {"PHONE", "CN_ID",   "BANK_CARD", "EMAIL", "PLATE", "VIN",
                                         "GPS",   "IPV4",    "ADDRESS",   "PASSPORT", "NAME", "CUSTOM"};

const char *pii_kind_name(pii_kind k) {
    assert((unsigned)k <= PII_CUSTOM);
    return kind_names[k];
}

int pii_kind_by_name(const char *name) {
    for (int k = 0; k < PII_BUILTIN_KINDS; k++)
        if (strcmp(kind_names[k], name) == 0) return k;
    return -1;
}

#define ON(kinds, k) ((kinds) >> (k) & 1u)
/* Kinds that can be found in a text with no digit and no '@': spoken
 * numbers, names, addresses in Chinese numerals. */
#define WORD_KINDS ((pii_kindset)1 << PII_PHONE | (pii_kindset)1 << PII_NAME | (pii_kindset)1 << PII_ADDRESS)

static bool digits(const pii_text *t, size_t i, size_t k) { return pt_digit_run(t, i) >= k; }

/* ---- numbers with check digits ---- */

static bool luhn(const unsigned char *d, size_t n) {
    unsigned sum = 0;
    for (size_t k = 0; k < n; k++) {
        unsigned x = (unsigned)(d[n - 1 - k] - '0');
        if (k & 1) x = x * 2 > 9 ? x * 2 - 9 : x * 2;
        sum += x;
    }
    return sum % 10 == 0;
}

/* Mobile: 1[3-9] and nine digits, or 3-4-4 groups with one repeated space
 * or dash; an optional +86, 0086 or 86 glued in front. */
static size_t phone(const pii_text *t, size_t i) {
    size_t p = i;
    if (pt_at(t, p) == '+' && pt_at(t, p + 1) == '8' && pt_at(t, p + 2) == '6') {
        p += 3;
        if (pt_at(t, p) == ' ' || pt_at(t, p) == '-') p++;
    } else if (pt_at(t, p) == '0' && pt_at(t, p + 1) == '0' && pt_at(t, p + 2) == '8' && pt_at(t, p + 3) == '6') {
        p += 4;
    } else if (pt_at(t, p) == '8' && pt_at(t, p + 1) == '6' && pt_at(t, p + 2) == '1') {
        p += 2;
    }
    if (pt_at(t, p) != '1' || pt_at(t, p + 1) < '3' || pt_at(t, p + 1) > '9') return 0;
    size_t e;
    unsigned char sep = pt_at(t, p + 3);
    if (digits(t, p, 11)) e = p + 11;
    else if (digits(t, p, 3) && (sep == ' ' || sep == '-') && pt_digit_run(t, p + 4) == 4 && pt_at(t, p + 8) == sep &&
             digits(t, p + 9, 4))
        e = p + 13;
    else return 0;
    return pt_ends_token(t, e) ? e - i : 0;
}

/* Province-level codes of GB/T 2260, the first two digits of an ID number. */
static bool id_region(unsigned r) {
    return (r >= 11 && r <= 15) || (r >= 21 && r <= 23) || (r >= 31 && r <= 37) || (r >= 41 && r <= 46) ||
           (r >= 50 && r <= 54) || (r >= 61 && r <= 65) || r == 71 || (r >= 81 && r <= 83);
}

/* Resident ID (GB 11643): region, birth date, sequence, ISO 7064 mod 11-2. */
static size_t cn_id(const pii_text *t, size_t i) {
    static const unsigned w[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    const unsigned char *d = t->s + i;
    if (pt_digit_run(t, i) != 17 && pt_digit_run(t, i) != 18) return 0;
    unsigned char last = pt_at(t, i + 17);
    if (!(pt_digit(last) || last == 'X' || last == 'x') || !pt_ends_token(t, i + 18)) return 0;
    unsigned y = pt_num(d + 6, 4), m = pt_num(d + 10, 2), day = pt_num(d + 12, 2);
    if (!id_region(pt_num(d, 2)) || y < 1900 || y > 2099 || m < 1 || m > 12 || day < 1 || day > 31) return 0;
    unsigned sum = 0;
    for (size_t k = 0; k < 17; k++) sum += (unsigned)(d[k] - '0') * w[k];
    return "10X98765432"[sum % 11] == (last == 'x' ? 'X' : last) ? 18 : 0;
}

/* Card: 13-19 digits, issuer digit 2-6, Luhn; contiguous or in groups of
 * four (the last may be shorter) with one repeated space or dash. */
static size_t bank_card(const pii_text *t, size_t i) {
    unsigned char buf[19];
    size_t nd = 0, p = i, r = pt_digit_run(t, i);
    if (pt_at(t, i) < '2' || pt_at(t, i) > '6') return 0;
    if (r >= 13 && r <= 19) {
        return pt_ends_token(t, i + r) && luhn(t->s + i, r) ? r : 0;
    }
    unsigned char sep = pt_at(t, i + 4);
    if (r != 4 || (sep != ' ' && sep != '-')) return 0;
    for (;;) {
        size_t g = pt_digit_run(t, p);
        if (g == 0 || g > 4 || nd + g > sizeof buf) return 0;
        memcpy(buf + nd, t->s + p, g);
        nd += g;
        p += g;
        if (g < 4 || pt_at(t, p) != sep || !pt_digit(pt_at(t, p + 1)) || nd == sizeof buf) break;
        p++;
    }
    return nd >= 13 && pt_ends_token(t, p) && luhn(buf, nd) ? p - i : 0;
}

/* VIN (ISO 3779): 17 of 0-9 and A-Z without I, O, Q, at least one of each
 * class, and the check digit at position 9 (mandatory in North America and
 * in China, GB 16735; see docs/privacy.md for Europe). */
static size_t vin(const pii_text *t, size_t i) {
    static const unsigned char w[17] = {8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2};
    /* Transliteration of A..Z; 0 marks the letters a VIN never uses. */
    static const unsigned char tr[26] = {1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 2, 3, 4,
                                         5, 0, 7, 0, 9, 2, 3, 4, 5, 6, 7, 8, 9};
    if (pt_alnum_run(t, i) != 17) return 0;
    unsigned sum = 0;
    bool letter = false, digit = false;
    for (size_t k = 0; k < 17; k++) {
        unsigned char c = t->s[i + k];
        unsigned v;
        if (pt_digit(c)) {
            v = (unsigned)(c - '0');
            digit = true;
        } else if (pt_upper(c) && tr[c - 'A']) {
            v = tr[c - 'A'];
            letter = true;
        } else {
            return 0;
        }
        sum += v * w[k];
    }
    unsigned char check = t->s[i + 8];
    return letter && digit && (sum % 11 == 10 ? 'X' : (unsigned char)('0' + sum % 11)) == check ? 17 : 0;
}

/* ---- dotted numbers ---- */

/* IPv4: four decimal octets 0-255 without leading zeros, not part of a
 * longer dotted sequence. */
static size_t ipv4(const pii_text *t, size_t i) {
    size_t p = i;
    for (int k = 0; k < 4; k++) {
        size_t d = pt_digit_run(t, p);
        if (d < 1 || d > 3 || (d > 1 && t->s[p] == '0') || pt_num(t->s + p, d) > 255) return 0;
        p += d;
        if (k < 3) {
            if (pt_at(t, p) != '.') return 0;
            p++;
        }
    }
    return pt_ends_token(t, p) && !(pt_at(t, p) == '.' && pt_digit(pt_at(t, p + 1))) ? p - i : 0;
}

/* One decimal coordinate with at least four decimals (about 11 m): its
 * length, or 0; *whole and *zero_frac describe its magnitude. */
static size_t coord(const pii_text *t, size_t i, unsigned *whole, bool *zero_frac) {
    size_t p = i + (pt_at(t, i) == '-');
    size_t d = pt_digit_run(t, p);
    if (d < 1 || d > 3 || pt_at(t, p + d) != '.') return 0;
    *whole = pt_num(t->s + p, d);
    p += d + 1;
    size_t f = pt_digit_run(t, p);
    if (f < 4) return 0;
    *zero_frac = true;
    for (size_t k = 0; k < f; k++) *zero_frac &= t->s[p + k] == '0';
    return p + f - i;
}

static bool within(unsigned whole, bool zero_frac, unsigned limit) {
    return whole < limit || (whole == limit && zero_frac);
}

/* GPS: "lat, lon" or "lon, lat" (Chinese map services write longitude
 * first), comma or full-width comma, both with four or more decimals, one
 * of them a latitude. */
static size_t gps(const pii_text *t, size_t i) {
    unsigned a, b;
    bool za, zb;
    size_t p = i, l = coord(t, p, &a, &za);
    if (!l) return 0;
    p += l;
    while (pt_at(t, p) == ' ') p++;
    if (pt_at(t, p) == ',') p++;
    else if (pt_at(t, p) == 0xEF && pt_at(t, p + 1) == 0xBC && pt_at(t, p + 2) == 0x8C) p += 3;
    else return 0;
    while (pt_at(t, p) == ' ') p++;
    if (!(l = coord(t, p, &b, &zb))) return 0;
    p += l;
    bool ok = (within(a, za, 90) && within(b, zb, 180)) || (within(a, za, 180) && within(b, zb, 90));
    return ok && pt_ends_token(t, p) ? p - i : 0;
}

/* ---- plates ---- */

/* Final characters of special plates: driving school, police, trailer, HK, Macau, consulate. */
static const char specials[] = "学警挂港澳领";

static bool in_set(const char *set, const unsigned char *c) {
    for (const char *p = set; *p; p += 3)
        if (memcmp(p, c, 3) == 0) return true;
    return false;
}

static bool plate_char(unsigned char c) { return pt_digit(c) || (pt_upper(c) && c != 'I' && c != 'O'); }

/* Licence plate (GA 36): province, letter, optional '·' or space, then five
 * of A-Z 0-9 without I and O with at least three digits (the rules allow at
 * most two letters), four and a special character, or six for new-energy
 * plates: D/F, one, four digits (small cars) or five digits, D/F (large). */
static size_t plate(const pii_text *t, size_t i) {
    if (i + 4 > t->n || !plate_char(pt_at(t, i + 3)) || pt_digit(pt_at(t, i + 3)))
        return 0;
    size_t p = i + 4;
    if (pt_at(t, p) == 0xC2 && pt_at(t, p + 1) == 0xB7) p += 2;
    else if (pt_at(t, p) == ' ') p++;
    size_t r = pt_alnum_run(t, p), nd = 0;
    const unsigned char *c = t->s + p;
    for (size_t k = 0; k < r; k++) {
        if (!plate_char(c[k])) return 0;
        nd += pt_digit(c[k]);
    }
    if (r == 5 && nd >= 3) return p + 5 - i;
    if (r == 4 && nd >= 3 && p + 7 <= t->n && in_set(specials, c + 4)) return p + 7 - i;
    if (r == 6 && (c[0] == 'D' || c[0] == 'F') && digits(t, p + 2, 4)) return p + 6 - i;
    if (r == 6 && digits(t, p, 5) && (c[5] == 'D' || c[5] == 'F')) return p + 6 - i;
    return 0;
}

/* ---- e-mail ---- */

static bool local_char(unsigned char c) {
    return pt_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

/* The address around the '@' at a: [start, end), or false. */
static bool email_at(const pii_text *t, size_t a, size_t *start, size_t *end) {
    size_t b = a;
    while (b > 0 && a - b < 64 && local_char(t->s[b - 1])) b--;
    if (b == a || t->s[b] == '.' || t->s[a - 1] == '.' || (b > 0 && local_char(t->s[b - 1]))) return false;
    for (size_t k = b; k + 1 < a; k++)
        if (t->s[k] == '.' && t->s[k + 1] == '.') return false;
    size_t p = a + 1, labels = 0, last = 0, tld_letters = 0;
    for (;;) {
        size_t l = 0;
        tld_letters = 0;
        for (unsigned char c = pt_at(t, p); pt_alnum(c) || c == '-'; c = pt_at(t, p + ++l)) tld_letters += pt_alpha(c);
        if (l == 0 || l > 63 || pt_at(t, p) == '-' || pt_at(t, p + l - 1) == '-') return false;
        labels++;
        last = l;
        p += l;
        if (pt_at(t, p) != '.' || !pt_alnum(pt_at(t, p + 1))) break;
        p++;
    }
    if (labels < 2 || last < 2 || tld_letters != last || pt_at(t, p) == '@') return false;
    *start = b;
    *end = p;
    return true;
}

/* ---- the pass ---- */

static int push(pii_spans *o, size_t off, size_t len, pii_kind k, int pattern) {
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 16;
        pii_span *v = realloc(o->v, cap * sizeof *v);
        if (!v) return -1;
        o->v = v;
        o->cap = cap;
    }
    o->v[o->n++] = (pii_span){off, len, k, pattern};
    return 0;
}

/* A built-in value at i, the start of an ASCII token: fills h. */
static bool token(const pii_text *t, size_t i, pii_kindset kinds, pii_ctx *ctx, pii_hit *h) {
    unsigned char c = t->s[i];
    size_t len = 0;
    pii_kind k = PII_PHONE;
    if (c == '-') {
        if (ON(kinds, PII_GPS) && (len = gps(t, i))) k = PII_GPS;
    } else if (c == '+') {
        if (ON(kinds, PII_PHONE)) len = phone(t, i);
    } else if (pt_digit(c)) {
        size_t d = pt_digit_run(t, i);
        if (pt_at(t, i + d) == '.') {
            if (ON(kinds, PII_GPS) && (len = gps(t, i))) k = PII_GPS;
            else if (ON(kinds, PII_IPV4) && (len = ipv4(t, i))) k = PII_IPV4;
        }
        if (!len && ON(kinds, PII_PHONE) && (len = phone(t, i))) k = PII_PHONE;
        if (!len && ON(kinds, PII_CN_ID) && (len = cn_id(t, i))) k = PII_CN_ID;
        if (!len && ON(kinds, PII_BANK_CARD) && (len = bank_card(t, i))) k = PII_BANK_CARD;
    }
    if (!len && pt_alnum(c) && ON(kinds, PII_VIN) && (len = vin(t, i))) k = PII_VIN;
    if (len) {
        *h = (pii_hit){i, len, k};
        return true;
    }
    int v;
    /* A lower-case word no detector starts at: the common case in English. */
    if (pt_lower(c) && !pt_word(t, i, &len, &v)) return false;
    return c != '-' && (piinum_ascii(t, i, kinds, ctx, h) || piiword_ascii(t, i, kinds, ctx, h));
}

/* A built-in value at the Chinese or full-width character at i. */
static bool wide(const pii_text *t, size_t i, uint32_t cp, unsigned cls, pii_kindset kinds, pii_ctx *ctx, pii_hit *h) {
    size_t len;
    if ((cls & PT_PROVINCE) && ON(kinds, PII_PLATE) && (len = plate(t, i))) {
        *h = (pii_hit){i, len, PII_PLATE};
        return true;
    }
    if (!cls && cp != 0xFF08 && cp != 0x3007) return false;    /* （ 〇 start a landline, a spoken 0 */
    return piinum_cjk(t, i, cp, cls, kinds, ctx, h) || piiword_cjk(t, i, cp, cls, kinds, ctx, h);
}

static bool may_hold_builtin(const pii_text *t, pii_kindset kinds) {
    if (kinds & WORD_KINDS) return true;
    for (size_t i = 0; i < t->n; i++)
        if (pt_digit(t->s[i]) || t->s[i] == '@') return true;
    return false;
}

static int scan_emails(const pii_text *t, pii_spans *out) {
    const unsigned char *a = t->s;
    size_t s0, e0;
    while ((a = memchr(a, '@', t->n - (size_t)(a - t->s)))) {
        size_t at_off = (size_t)(a - t->s);
        if (email_at(t, at_off, &s0, &e0)) {
            if (push(out, s0, e0 - s0, PII_EMAIL, -1) < 0) return -1;
            a = t->s + e0;
        } else {
            a++;
        }
        if (a >= t->s + t->n) break;
    }
    return 0;
}

static int scan_builtin(const pii_text *t, pii_kindset kinds, pii_spans *out) {
    if (ON(kinds, PII_EMAIL) && scan_emails(t, out) < 0) return -1;
    const unsigned char *classes = pt_classes();
    pii_ctx ctx = {0};
    size_t nemail = out->n, ei = 0, i = 0;
    while (i < t->n) {
        if (ei < nemail && i >= out->v[ei].off) {
            i = ctx.hit_end = out->v[ei].off + out->v[ei].len;
            ei++;
            continue;
        }
        unsigned char c = t->s[i];
        size_t step = 1;
        pii_hit h;
        bool hit = false;
        if (c >= 0xE0 && c < 0xF0) {
            uint32_t cp = pt_char(t, i, &step);
            unsigned cls = cp >= PT_CJK_FIRST && cp <= PT_CJK_LAST ? classes[cp - PT_CJK_FIRST] : 0;
            hit = wide(t, i, cp, cls, kinds, &ctx, &h);
        } else if ((pt_alnum(c) || c == '+' || c == '-' || c == '(') && pt_starts_token(t, i)) {
            hit = token(t, i, kinds, &ctx, &h);
            if (pt_alnum(c)) step = pt_alnum_run(t, i);
        } else if (pt_alnum(c)) {
            step = pt_alnum_run(t, i);
        }
        if (hit) {
            if (push(out, h.off, h.len, h.kind, -1) < 0) return -1;
            ctx.hit_end = h.off + h.len;
            i = h.off + h.len > i ? h.off + h.len : i + 1;
        } else {
            i += step;
        }
    }
    return 0;
}

static int scan_patterns(const char *s, size_t n, const pii_pattern *pats, size_t npats, pii_spans *out) {
    assert(npats == 0 || s[n] == '\0');
    for (size_t p = 0; p < npats; p++) {
        size_t pos = 0;
        while (pos <= n) {
            regmatch_t m = {.rm_so = (regoff_t)pos, .rm_eo = (regoff_t)n};
            if (regexec(&pats[p].re, s, 1, &m, REG_STARTEND | (pos ? REG_NOTBOL : 0)) != 0) break;
            size_t so = (size_t)m.rm_so, eo = (size_t)m.rm_eo;
            if (eo > so && push(out, so, eo - so, PII_CUSTOM, (int)p) < 0) return -1;
            pos = eo > so ? eo : so + 1;
        }
    }
    return 0;
}

/* By offset, the longer first on a tie, then by kind and pattern (so the
 * order never depends on the sort's stability). */
static int span_order(const void *a, const void *b) {
    const pii_span *x = a, *y = b;
    if (x->off != y->off) return x->off < y->off ? -1 : 1;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    if (x->kind != y->kind) return x->kind < y->kind ? -1 : 1;
    return (x->pattern > y->pattern) - (x->pattern < y->pattern);
}

/* Sorts and merges spans that overlap into the earlier one, which grows to
 * cover both (so no byte any detector found is left in clear; dropping the
 * later span sent the rest of it to the cloud).  The list is the
 * e-mails, then the main pass's hits, then each pattern's: sorted runs, one
 * per source, so alternating kinds made an insertion sort quadratic (110 000
 * spans in 1 MB of "a@b.cc 13812345678 " took a second); qsort is n log n. */
static void settle(pii_spans *o) {
    if (o->n > 1) qsort(o->v, o->n, sizeof o->v[0], span_order);
    size_t keep = 0;
    for (size_t i = 0; i < o->n; i++) {
        pii_span *last = keep ? &o->v[keep - 1] : NULL;
        size_t end = o->v[i].off + o->v[i].len;
        if (!last || o->v[i].off >= last->off + last->len) o->v[keep++] = o->v[i];
        else if (end > last->off + last->len) last->len = end - last->off;
    }
    o->n = keep;
}

int pii_scan(const char *s, size_t n, pii_kindset kinds, const pii_pattern *pats, size_t npats, pii_spans *out) {
    assert(s != NULL && out != NULL && npats <= PII_MAX_PATTERNS);
    pii_text t = {(const unsigned char *)s, n};
    out->n = 0;
    if (kinds && may_hold_builtin(&t, kinds) && scan_builtin(&t, kinds, out) < 0) return -1;
    if (scan_patterns(s, n, pats, npats, out) < 0) return -1;
    settle(out);
    return 0;
}

void pii_spans_free(pii_spans *sp) {
    free(sp->v);
    *sp = (pii_spans){0};
}
