/* pii: one pass over the text, a validator per kind.
 *
 * Design.  A regex per kind would be simplest to read but a regex engine
 * visits every byte once per pattern and cannot check a check digit, so the
 * built-in detectors are hand-written: one left-to-right pass that stops
 * only where a token can start (a digit, '+', '-', an ASCII letter after a
 * non-alphanumeric, or the lead byte of a CJK character) and tries the
 * validators that apply to that first byte.  Words that match nothing are
 * skipped whole.  E-mail addresses are found first, from each '@' outwards,
 * because their local part may hold digits that would otherwise start a
 * phone number; the main pass jumps over them.  A text without a digit or
 * an '@' cannot hold any built-in kind (plates, VINs and all the numeric
 * kinds contain digits), so it costs one byte loop.
 *
 * Precision over recall where they conflict: every detector checks what the
 * format allows it to (check digits, ranges, lengths, boundaries), because
 * in redact mode a false positive changes what the model reads, and in local
 * mode it keeps a request on the small model.  The exact rules and what they
 * miss are in docs/privacy.md.
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

static const char *const kind_names[] = {"PHONE", "CN_ID", "BANK_CARD", "EMAIL", "PLATE",
                                         "VIN",   "GPS",   "IPV4",      "CUSTOM"};

const char *pii_kind_name(pii_kind k) {
    assert((unsigned)k <= PII_CUSTOM);
    return kind_names[k];
}

typedef struct text {
    const unsigned char *s;
    size_t n;
} text;

/* The byte at i, or 0 past the end: the validators read ahead freely. */
static unsigned char at(const text *t, size_t i) { return i < t->n ? t->s[i] : 0; }
static bool is_digit(unsigned char c) { return (unsigned)(c - '0') < 10u; }
static bool is_upper(unsigned char c) { return (unsigned)(c - 'A') < 26u; }
static bool is_alpha(unsigned char c) { return (unsigned)((c | 32) - 'a') < 26u; }
static bool is_alnum(unsigned char c) { return is_digit(c) || is_alpha(c); }

static size_t digit_run(const text *t, size_t i) {
    size_t k = i;
    while (is_digit(at(t, k))) k++;
    return k - i;
}

static size_t alnum_run(const text *t, size_t i) {
    size_t k = i;
    while (is_alnum(at(t, k))) k++;
    return k - i;
}

static bool digits(const text *t, size_t i, size_t k) { return digit_run(t, i) >= k; }

/* A token may start at i: not inside a word or a decimal fraction. */
static bool starts_token(const text *t, size_t i) {
    if (i == 0) return true;
    unsigned char p = t->s[i - 1];
    return !is_alnum(p) && !(p == '.' && i >= 2 && is_digit(t->s[i - 2]));
}

/* A token may end before e: no letter or digit follows, nor a decimal fraction. */
static bool ends_token(const text *t, size_t e) {
    unsigned char c = at(t, e);
    return !is_alnum(c) && !(c == '.' && is_digit(at(t, e + 1)));
}

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

static unsigned num(const unsigned char *d, size_t k) {
    unsigned v = 0;
    while (k--) v = v * 10 + (unsigned)(*d++ - '0');
    return v;
}

/* Mobile: 1[3-9] and nine digits, or 3-4-4 groups with one repeated space
 * or dash; an optional +86, 0086 or 86 glued in front. */
static size_t phone(const text *t, size_t i) {
    size_t p = i;
    if (at(t, p) == '+' && at(t, p + 1) == '8' && at(t, p + 2) == '6') {
        p += 3;
        if (at(t, p) == ' ' || at(t, p) == '-') p++;
    } else if (at(t, p) == '0' && at(t, p + 1) == '0' && at(t, p + 2) == '8' && at(t, p + 3) == '6') {
        p += 4;
    } else if (at(t, p) == '8' && at(t, p + 1) == '6' && at(t, p + 2) == '1') {
        p += 2;
    }
    if (at(t, p) != '1' || at(t, p + 1) < '3' || at(t, p + 1) > '9') return 0;
    size_t e;
    unsigned char sep = at(t, p + 3);
    if (digits(t, p, 11)) e = p + 11;
    else if (digits(t, p, 3) && (sep == ' ' || sep == '-') && digit_run(t, p + 4) == 4 && at(t, p + 8) == sep &&
             digits(t, p + 9, 4))
        e = p + 13;
    else return 0;
    return ends_token(t, e) ? e - i : 0;
}

/* Province-level codes of GB/T 2260, the first two digits of an ID number. */
static bool id_region(unsigned r) {
    return (r >= 11 && r <= 15) || (r >= 21 && r <= 23) || (r >= 31 && r <= 37) || (r >= 41 && r <= 46) ||
           (r >= 50 && r <= 54) || (r >= 61 && r <= 65) || r == 71 || (r >= 81 && r <= 83);
}

/* Resident ID (GB 11643): region, birth date, sequence, ISO 7064 mod 11-2. */
static size_t cn_id(const text *t, size_t i) {
    static const unsigned w[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    const unsigned char *d = t->s + i;
    if (digit_run(t, i) != 17 && digit_run(t, i) != 18) return 0;
    unsigned char last = at(t, i + 17);
    if (!(is_digit(last) || last == 'X' || last == 'x') || !ends_token(t, i + 18)) return 0;
    unsigned y = num(d + 6, 4), m = num(d + 10, 2), day = num(d + 12, 2);
    if (!id_region(num(d, 2)) || y < 1900 || y > 2099 || m < 1 || m > 12 || day < 1 || day > 31) return 0;
    unsigned sum = 0;
    for (size_t k = 0; k < 17; k++) sum += (unsigned)(d[k] - '0') * w[k];
    return "10X98765432"[sum % 11] == (last == 'x' ? 'X' : last) ? 18 : 0;
}

/* Card: 13-19 digits, issuer digit 2-6, Luhn; contiguous or in groups of
 * four (the last may be shorter) with one repeated space or dash. */
static size_t bank_card(const text *t, size_t i) {
    unsigned char buf[19];
    size_t nd = 0, p = i, r = digit_run(t, i);
    if (at(t, i) < '2' || at(t, i) > '6') return 0;
    if (r >= 13 && r <= 19) {
        return ends_token(t, i + r) && luhn(t->s + i, r) ? r : 0;
    }
    unsigned char sep = at(t, i + 4);
    if (r != 4 || (sep != ' ' && sep != '-')) return 0;
    for (;;) {
        size_t g = digit_run(t, p);
        if (g == 0 || g > 4 || nd + g > sizeof buf) return 0;
        memcpy(buf + nd, t->s + p, g);
        nd += g;
        p += g;
        if (g < 4 || at(t, p) != sep || !is_digit(at(t, p + 1)) || nd == sizeof buf) break;
        p++;
    }
    return nd >= 13 && ends_token(t, p) && luhn(buf, nd) ? p - i : 0;
}

/* VIN (ISO 3779): 17 of 0-9 and A-Z without I, O, Q, at least one of each
 * class, and the check digit at position 9 (mandatory in North America and
 * in China, GB 16735; see docs/privacy.md for Europe). */
static size_t vin(const text *t, size_t i) {
    static const unsigned char w[17] = {8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2};
    /* Transliteration of A..Z; 0 marks the letters a VIN never uses. */
    static const unsigned char tr[26] = {1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 2, 3, 4,
                                         5, 0, 7, 0, 9, 2, 3, 4, 5, 6, 7, 8, 9};
    if (alnum_run(t, i) != 17) return 0;
    unsigned sum = 0;
    bool letter = false, digit = false;
    for (size_t k = 0; k < 17; k++) {
        unsigned char c = t->s[i + k];
        unsigned v;
        if (is_digit(c)) {
            v = (unsigned)(c - '0');
            digit = true;
        } else if (is_upper(c) && tr[c - 'A']) {
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
static size_t ipv4(const text *t, size_t i) {
    size_t p = i;
    for (int k = 0; k < 4; k++) {
        size_t d = digit_run(t, p);
        if (d < 1 || d > 3 || (d > 1 && t->s[p] == '0') || num(t->s + p, d) > 255) return 0;
        p += d;
        if (k < 3) {
            if (at(t, p) != '.') return 0;
            p++;
        }
    }
    return ends_token(t, p) && !(at(t, p) == '.' && is_digit(at(t, p + 1))) ? p - i : 0;
}

/* One decimal coordinate with at least four decimals (about 11 m): its
 * length, or 0; *whole and *zero_frac describe its magnitude. */
static size_t coord(const text *t, size_t i, unsigned *whole, bool *zero_frac) {
    size_t p = i + (at(t, i) == '-');
    size_t d = digit_run(t, p);
    if (d < 1 || d > 3 || at(t, p + d) != '.') return 0;
    *whole = num(t->s + p, d);
    p += d + 1;
    size_t f = digit_run(t, p);
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
static size_t gps(const text *t, size_t i) {
    unsigned a, b;
    bool za, zb;
    size_t p = i, l = coord(t, p, &a, &za);
    if (!l) return 0;
    p += l;
    while (at(t, p) == ' ') p++;
    if (at(t, p) == ',') p++;
    else if (at(t, p) == 0xEF && at(t, p + 1) == 0xBC && at(t, p + 2) == 0x8C) p += 3;
    else return 0;
    while (at(t, p) == ' ') p++;
    if (!(l = coord(t, p, &b, &zb))) return 0;
    p += l;
    bool ok = (within(a, za, 90) && within(b, zb, 180)) || (within(a, za, 180) && within(b, zb, 90));
    return ok && ends_token(t, p) ? p - i : 0;
}

/* ---- plates ---- */

/* The one-character abbreviations of the 31 provinces, 3 UTF-8 bytes each. */
static const char provinces[] = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼";
/* Final characters of special plates: driving school, police, trailer, HK, Macau, consulate. */
static const char specials[] = "学警挂港澳领";

static bool in_set(const char *set, const unsigned char *c) {
    for (const char *p = set; *p; p += 3)
        if (memcmp(p, c, 3) == 0) return true;
    return false;
}

static bool plate_char(unsigned char c) { return is_digit(c) || (is_upper(c) && c != 'I' && c != 'O'); }

/* Licence plate (GA 36): province, letter, optional '·' or space, then five
 * of A-Z 0-9 without I and O with at least three digits (the rules allow at
 * most two letters), four and a special character, or six for new-energy
 * plates: D/F, one, four digits (small cars) or five digits, D/F (large). */
static size_t plate(const text *t, size_t i) {
    if (i + 4 > t->n || !plate_char(at(t, i + 3)) || is_digit(at(t, i + 3)) || !in_set(provinces, t->s + i))
        return 0;
    size_t p = i + 4;
    if (at(t, p) == 0xC2 && at(t, p + 1) == 0xB7) p += 2;
    else if (at(t, p) == ' ') p++;
    size_t r = alnum_run(t, p), nd = 0;
    const unsigned char *c = t->s + p;
    for (size_t k = 0; k < r; k++) {
        if (!plate_char(c[k])) return 0;
        nd += is_digit(c[k]);
    }
    if (r == 5 && nd >= 3) return p + 5 - i;
    if (r == 4 && nd >= 3 && p + 7 <= t->n && in_set(specials, c + 4)) return p + 7 - i;
    if (r == 6 && (c[0] == 'D' || c[0] == 'F') && digits(t, p + 2, 4)) return p + 6 - i;
    if (r == 6 && digits(t, p, 5) && (c[5] == 'D' || c[5] == 'F')) return p + 6 - i;
    return 0;
}

/* ---- e-mail ---- */

static bool local_char(unsigned char c) {
    return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

/* The address around the '@' at a: [start, end), or false. */
static bool email_at(const text *t, size_t a, size_t *start, size_t *end) {
    size_t b = a;
    while (b > 0 && a - b < 64 && local_char(t->s[b - 1])) b--;
    if (b == a || t->s[b] == '.' || t->s[a - 1] == '.' || (b > 0 && local_char(t->s[b - 1]))) return false;
    for (size_t k = b; k + 1 < a; k++)
        if (t->s[k] == '.' && t->s[k + 1] == '.') return false;
    size_t p = a + 1, labels = 0, last = 0, tld_letters = 0;
    for (;;) {
        size_t l = 0;
        tld_letters = 0;
        for (unsigned char c = at(t, p); is_alnum(c) || c == '-'; c = at(t, p + ++l)) tld_letters += is_alpha(c);
        if (l == 0 || l > 63 || at(t, p) == '-' || at(t, p + l - 1) == '-') return false;
        labels++;
        last = l;
        p += l;
        if (at(t, p) != '.' || !is_alnum(at(t, p + 1))) break;
        p++;
    }
    if (labels < 2 || last < 2 || tld_letters != last || at(t, p) == '@') return false;
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

/* The kind and length of a built-in token starting at i, or 0. */
static size_t token(const text *t, size_t i, pii_kind *k) {
    unsigned char c = t->s[i];
    size_t len;
    if (c == '-') return (*k = PII_GPS, gps(t, i));
    if (c == '+') return (*k = PII_PHONE, phone(t, i));
    if (is_digit(c)) {
        size_t d = digit_run(t, i);
        if (at(t, i + d) == '.') {
            if ((len = gps(t, i))) return (*k = PII_GPS, len);
            if ((len = ipv4(t, i))) return (*k = PII_IPV4, len);
        }
        if ((len = phone(t, i))) return (*k = PII_PHONE, len);
        if ((len = cn_id(t, i))) return (*k = PII_CN_ID, len);
        if ((len = bank_card(t, i))) return (*k = PII_BANK_CARD, len);
    }
    return (*k = PII_VIN, vin(t, i));
}

static bool may_hold_builtin(const text *t) {
    for (size_t i = 0; i < t->n; i++)
        if (is_digit(t->s[i]) || t->s[i] == '@') return true;
    return false;
}

static int scan_builtin(const text *t, pii_spans *out) {
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
    size_t nemail = out->n, ei = 0, i = 0;
    while (i < t->n) {
        if (ei < nemail && i >= out->v[ei].off) {
            i = out->v[ei].off + out->v[ei].len;
            ei++;
            continue;
        }
        unsigned char c = t->s[i];
        pii_kind k = PII_PHONE;
        size_t len = 0;
        if (c >= 0xE0 && c < 0xF0) len = (k = PII_PLATE, plate(t, i));
        else if ((is_alnum(c) || c == '+' || c == '-') && starts_token(t, i)) len = token(t, i, &k);
        if (len) {
            if (push(out, i, len, k, -1) < 0) return -1;
            i += len;
        } else {
            i += is_alnum(c) ? alnum_run(t, i) : 1;
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

/* Sorts by offset (longer first on a tie) and drops spans that overlap an
 * earlier one.  Lists are short: insertion sort. */
static void settle(pii_spans *o) {
    for (size_t i = 1; i < o->n; i++) {
        pii_span x = o->v[i];
        size_t j = i;
        while (j > 0 && (o->v[j - 1].off > x.off || (o->v[j - 1].off == x.off && o->v[j - 1].len < x.len))) {
            o->v[j] = o->v[j - 1];
            j--;
        }
        o->v[j] = x;
    }
    size_t keep = 0;
    for (size_t i = 0; i < o->n; i++)
        if (keep == 0 || o->v[i].off >= o->v[keep - 1].off + o->v[keep - 1].len) o->v[keep++] = o->v[i];
    o->n = keep;
}

int pii_scan(const char *s, size_t n, const pii_pattern *pats, size_t npats, pii_spans *out) {
    assert(s != NULL && out != NULL && npats <= PII_MAX_PATTERNS);
    text t = {(const unsigned char *)s, n};
    out->n = 0;
    if (may_hold_builtin(&t) && scan_builtin(&t, out) < 0) return -1;
    if (scan_patterns(s, n, pats, npats, out) < 0) return -1;
    settle(out);
    return 0;
}

void pii_spans_free(pii_spans *sp) {
    free(sp->v);
    *sp = (pii_spans){0};
}
