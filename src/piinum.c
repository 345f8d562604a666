/* piinum: phone numbers, coordinates and passports in their many notations.
 *
 * Design.  Written numbers are read once into groups of digits (runs
 * separated by one space, dash or dot, the first possibly in brackets), and
 * the groups are then judged against each numbering plan: a Chinese
 * landline is 0, an area code (10, 2x or three digits from 3xx) and a
 * subscriber number of 7-8 digits that does not start with 0 or 1; a North
 * American number is NXX-NXX-XXXX without the N11, N00 and 8YY
 * (toll-free) area codes; anything after "+country code" with 7-12 national
 * digits is a number.  Service numbers (400/800, 95588, 110) fit none of
 * these and are not personal.  Spoken numbers are read the same way from
 * digit words and must make a whole mobile, landline or North American
 * number: counting ("one two three") and years never do.
 *
 * Coordinates: a pair of one latitude and one longitude, each marked
 * (N/S/E/W before or after, 北纬/南纬/东经/西经, lat/lon), each precise to
 * two decimals of a degree or to the minute.  Whole degrees ("北纬30度",
 * "40°N 74°W") are regions, not places, and a single marked value is a
 * parallel or a temperature as often as a position.
 *
 * Passports have no check digit in most countries and their shapes (a
 * letter or two and 6-8 digits, or 9 digits) are shared by order and part
 * numbers, so a shape counts only within 40 bytes after "passport"/护照 or
 * 24 bytes before it. */
#include "piinum.h"

#include <string.h>

#define ON(kinds, k) ((kinds) >> (k) & 1u)
#define PASSPORT_AFTER 40
#define PASSPORT_BEFORE 24

static bool found(pii_hit *h, size_t off, size_t len, pii_kind k) {
    *h = (pii_hit){off, len, k};
    return true;
}

/* ---- numbering plans, on digit strings ---- */

static bool cn_mobile(const char *d, size_t n) { return n == 11 && d[0] == '1' && d[1] >= '3' && d[1] <= '9'; }

static bool cn_landline(const char *d, size_t n) {
    if (n < 10 || n > 12 || d[0] != '0') return false;
    size_t area = d[1] == '1' ? (d[2] == '0' ? 3 : 0) : d[1] == '2' ? 3 : d[1] >= '3' ? 4 : 0;
    return area && (n - area == 7 || n - area == 8) && d[area] >= '2';
}

/* A Chinese number written after +86 or 86: the area code without its 0. */
static bool cn_national(const char *d, size_t n) {
    char z[24];
    if (n + 1 >= sizeof z) return false;
    z[0] = '0';
    memcpy(z + 1, d, n);
    return cn_mobile(d, n) || cn_landline(z, n + 1);
}

static bool nanp(const char *d, size_t n) {
    if (n == 11 && d[0] == '1') d++, n--;
    if (n != 10 || d[0] < '2' || d[3] < '2') return false;
    bool n11 = d[1] == '1' && d[2] == '1', n00 = d[1] == '0' && d[2] == '0', tollfree = d[0] == '8' && d[1] == d[2];
    return !n11 && !n00 && !tollfree && !(d[4] == '1' && d[5] == '1');
}

/* ---- written numbers ---- */

#define MAX_GROUPS 8

typedef struct groups {
    char d[24];
    size_t n, end;
    size_t count, len[MAX_GROUPS];
    unsigned char sep[MAX_GROUPS];   /* what followed each group: ' ', '-', '.', ')' */
    bool paren0;                     /* the first group was in brackets */
} groups;

static size_t bracket_open(const pii_text *t, size_t p) {
    return pt_at(t, p) == '(' ? 1 : pt_is(t, p, "\xEF\xBC\x88") ? 3 : 0;
}

static size_t bracket_close(const pii_text *t, size_t p) {
    return pt_at(t, p) == ')' ? 1 : pt_is(t, p, "\xEF\xBC\x89") ? 3 : 0;
}

static void read_groups(const pii_text *t, size_t p, groups *g) {
    g->n = g->count = 0;
    g->end = p;
    g->paren0 = false;
    while (g->count < MAX_GROUPS) {
        size_t open = bracket_open(t, p), q = p + open, r = pt_digit_run(t, q), close = 0;
        if (r == 0 || g->n + r >= sizeof g->d) break;
        if (open && !(close = bracket_close(t, q + r))) break;
        memcpy(g->d + g->n, t->s + q, r);
        g->n += r;
        g->paren0 |= g->count == 0 && open;
        g->len[g->count] = r;
        p = q + r + close;
        g->end = p;
        unsigned char c = pt_at(t, p);
        g->sep[g->count++] = close ? ')' : c;
        if (close) p = pt_skip_spaces(t, p);
        else if (c == ' ' || c == '-' || c == '.') p++;
        else break;
        if (!pt_digit(pt_at(t, p)) && !bracket_open(t, p)) break;
    }
    g->d[g->n] = '\0';
}

static bool sizes(const groups *g, size_t a, size_t b, size_t c) {
    return g->count == 3 && g->len[0] == a && g->len[1] == b && g->len[2] == c;
}

/* A landline, international or North American number at i ('+', '(',
 * '（' or a digit): its length, or 0. */
static size_t written_phone(const pii_text *t, size_t i) {
    groups g;
    bool plus = pt_at(t, i) == '+';
    read_groups(t, i + plus, &g);
    if (g.count == 0 || !pt_ends_token(t, g.end)) return 0;
    bool ok;
    if (plus) {
        size_t cc = g.count > 1 ? g.len[0] : 0, nn = g.n - cc;
        if (cc > 3 || g.d[0] == '0' || g.paren0) return 0;
        if (cc == 0) ok = g.n >= 8 && g.n <= 15;
        else if (cc == 2 && g.d[0] == '8' && g.d[1] == '6') ok = cn_national(g.d + 2, nn);
        else if (cc == 1 && g.d[0] == '1') ok = nanp(g.d + 1, nn);
        else ok = nn >= 7 && nn <= 12 && g.n <= 15;
    } else if (g.d[0] == '0') {
        ok = g.count <= 3 && cn_landline(g.d, g.n);
    } else if (g.paren0) {
        ok = sizes(&g, 3, 3, 4) && nanp(g.d, g.n);
    } else if (g.count >= 3 && g.len[0] == 2 && g.d[0] == '8' && g.d[1] == '6') {
        ok = cn_national(g.d + 2, g.n - 2);
    } else {
        bool one = g.count == 4 && g.len[0] == 1 && g.len[1] == 3 && g.len[2] == 3 && g.len[3] == 4;
        bool plain = sizes(&g, 3, 3, 4);
        ok = (one || plain) && g.sep[0] == g.sep[1] && (!one || g.sep[1] == g.sep[2]) && nanp(g.d, g.n);
    }
    return ok ? g.end - i : 0;
}

/* ---- spoken numbers ---- */

/* The digit word at p: 0-9, 10 for "double", 11 for "triple", -1 if none;
 * its length in *w. */
static int en_digit(const pii_text *t, size_t p, size_t *w) {
    int v;
    unsigned c = pt_word(t, p, w, &v);
    return c & PTW_DIGIT ? v : c & PTW_REPEAT ? 8 + v : -1;
}

static bool whole_number(const char *d, size_t n) {
    return cn_mobile(d, n) || cn_landline(d, n) || (n == 10 && nanp(d, n));
}

static size_t spoken_en(const pii_text *t, size_t i) {
    char d[24];
    size_t n = 0, p = i, end = i, w;
    int repeat = 1;
    if (i > 0 && pt_alpha(t->s[i - 1])) return 0;
    for (;;) {
        int v = en_digit(t, p, &w);
        if (v < 0) break;
        if (v >= 10) {
            if (repeat != 1) break;
            repeat = v == 10 ? 2 : 3;
        } else {
            for (; repeat > 0; repeat--) {
                if (n + 1 >= sizeof d) return 0;
                d[n++] = (char)('0' + v);
            }
            repeat = 1;
            end = p + w;
        }
        size_t q = p + w;
        if (pt_at(t, q) == ',' || pt_at(t, q) == '-') q++;
        q = pt_skip_spaces(t, q);
        if (q == p + w) break;
        p = q;
    }
    return n >= 10 && whole_number(d, n) ? end - i : 0;
}

/* 十 百 千 万 亿 点: the numeral is part of a quantity, not a digit string. */
static bool magnitude(uint32_t cp) {
    return cp == 0x5341 || cp == 0x767E || cp == 0x5343 || cp == 0x4E07 || cp == 0x4EBF || cp == 0x70B9;
}

static bool digit_gap(uint32_t cp) { return cp == ' ' || cp == ',' || cp == '-' || cp == 0xFF0C || cp == 0x3001; }

static size_t spoken_zh(const pii_text *t, size_t i) {
    char d[24];
    size_t n = 0, p = i, end = i, len, l2, start;
    uint32_t before = pt_char_before(t, i, &start);
    if (pt_numeral(before) >= 0 || magnitude(before)) return 0;
    for (;;) {
        uint32_t cp = pt_char(t, p, &len);
        int v = pt_numeral(cp);
        if (v < 0) {
            if (n && digit_gap(cp) && pt_numeral(pt_char(t, p + len, &l2)) >= 0) {
                p += len;
                continue;
            }
            break;
        }
        if (n + 1 >= sizeof d) return 0;
        d[n++] = (char)('0' + v);
        p += len;
        end = p;
    }
    return !magnitude(pt_char(t, end, &len)) && whole_number(d, n) ? end - i : 0;
}

/* ---- coordinates ---- */

typedef struct coord {
    int axis;          /* 1 latitude, 2 longitude */
    unsigned deg;
    bool fine;         /* two decimals, or minutes */
} coord;

static size_t degree_mark(const pii_text *t, size_t p) {
    static const char *const m[] = {"\xC2\xB0", "\xC2\xBA", "度", NULL};
    return pt_is_any(t, p, m);
}

static size_t minute_mark(const pii_text *t, size_t p) {
    static const char *const m[] = {"'", "\xE2\x80\xB2", "\xE2\x80\x99", "分", NULL};
    return pt_is_any(t, p, m);
}

static size_t second_mark(const pii_text *t, size_t p) {
    static const char *const m[] = {"\"", "''", "\xE2\x80\xB3", "\xE2\x80\x9D", "秒", NULL};
    return pt_is_any(t, p, m);
}

/* digits [. digits] at p, at most maxd before the point, value below limit:
 * the end, or p when there is none; *frac gets the number of decimals. */
static size_t number(const pii_text *t, size_t p, size_t maxd, unsigned limit, unsigned *v, size_t *frac) {
    size_t d = pt_digit_run(t, p);
    *frac = 0;
    if (d < 1 || d > maxd || (*v = pt_num(t->s + p, d)) >= limit) return p;
    if (pt_at(t, p + d) == '.' && pt_digit(pt_at(t, p + d + 1))) *frac = pt_digit_run(t, p + d + 1);
    return p + d + (*frac ? *frac + 1 : 0);
}

/* Degrees, degrees and minutes, or degrees, minutes and seconds at p. */
static size_t degrees(const pii_text *t, size_t p, coord *c) {
    size_t q = p + (pt_at(t, p) == '-'), frac, e, m;
    unsigned v;
    if ((e = number(t, q, 3, 181, &c->deg, &frac)) == q) return 0;
    if (frac) {
        c->fine = frac >= 2;
        return e + degree_mark(t, e) - p;
    }
    if (!(m = degree_mark(t, e))) return 0;
    q = e + m;
    size_t r = pt_skip_spaces(t, q);
    if ((e = number(t, r, 2, 60, &v, &frac)) == r || !(m = minute_mark(t, e))) return q - p;
    q = e + m;
    c->fine = true;
    r = pt_skip_spaces(t, q);
    if ((e = number(t, r, 2, 60, &v, &frac)) == r || !(m = second_mark(t, e))) return q - p;
    return e + m - p;
}

static bool hemisphere(unsigned char c) { return c == 'N' || c == 'S' || c == 'E' || c == 'W'; }

/* A marker before a value: 北纬, N, lat, … (its length), and its axis. */
static size_t marker(const pii_text *t, size_t p, int *axis) {
    size_t w;
    int v;
    unsigned char c = pt_at(t, p);
    unsigned cls;
    if (pt_is(t, p, "北纬") || pt_is(t, p, "南纬") || pt_is(t, p, "东经") || pt_is(t, p, "西经")) {
        *axis = pt_is(t, p + 3, "纬") ? 1 : 2;
        return 6;
    }
    if (hemisphere(c) && !pt_alpha(pt_at(t, p + 1)) && pt_starts_token(t, p)) {
        *axis = c == 'N' || c == 'S' ? 1 : 2;
        return 1;
    }
    if ((cls = pt_word(t, p, &w, &v)) & (PTW_LAT | PTW_LON)) {
        *axis = cls & PTW_LAT ? 1 : 2;
        return w;
    }
    return 0;
}

static size_t coord_at(const pii_text *t, size_t p, coord *c) {
    size_t q = p, mk = marker(t, p, &c->axis), v;
    if (mk) {
        q = pt_skip_spaces(t, p + mk);
        if (pt_at(t, q) == ':') q = pt_skip_spaces(t, q + 1);
    } else if (!pt_digit(pt_at(t, p))) {
        return 0;
    }
    if (!(v = degrees(t, q, c))) return 0;
    q += v;
    if (!mk) {
        size_t r = pt_skip_spaces(t, q);
        if (!hemisphere(pt_at(t, r)) || pt_alpha(pt_at(t, r + 1))) return 0;
        c->axis = pt_at(t, r) == 'N' || pt_at(t, r) == 'S' ? 1 : 2;
        q = r + 1;
    }
    return c->deg <= (c->axis == 1 ? 90u : 180u) ? q - p : 0;
}

static size_t pair_separator(const pii_text *t, size_t p) {
    static const char *const s[] = {",", ";", "/", "，", "、", "；", NULL};
    return pt_is_any(t, p, s);
}

static size_t gps_pair(const pii_text *t, size_t i) {
    coord a = {0}, b = {0};
    size_t la = coord_at(t, i, &a), q, lb;
    if (!la || !a.fine) return 0;
    q = pt_skip_spaces(t, i + la);
    q = pt_skip_spaces(t, q + pair_separator(t, q));
    if (!(lb = coord_at(t, q, &b)) || !b.fine || a.axis == b.axis) return 0;
    return pt_ends_token(t, q + lb) ? q + lb - i : 0;
}

/* ---- passports ---- */

static bool passport_word(const pii_text *t, size_t p, size_t *w) {
    int v;
    return (pt_word(t, p, w, &v) & PTW_PASSPORT) != 0;
}

/* 7-9 capital letters and digits, at least five digits; all digits only
 * with 8 or 9. */
static size_t passport_shape(const pii_text *t, size_t i) {
    size_t r = pt_alnum_run(t, i), nd = 0;
    if (r < 7 || r > 9 || !pt_ends_token(t, i + r)) return 0;
    for (size_t k = 0; k < r; k++) {
        if (pt_lower(t->s[i + k])) return 0;
        nd += pt_digit(t->s[i + k]);
    }
    return nd >= 5 && (nd < r || r >= 8) ? r : 0;
}

static bool passport_follows(const pii_text *t, size_t e) {
    size_t w;
    for (size_t p = e; p < t->n && p < e + PASSPORT_BEFORE; p++)
        if (pt_is(t, p, "护照") || ((t->s[p] | 32) == 'p' && !pt_alpha(t->s[p - 1]) && passport_word(t, p, &w)))
            return true;
    return false;
}

/* ---- entry points ---- */

bool piinum_ascii(const pii_text *t, size_t i, pii_kindset kinds, pii_ctx *ctx, pii_hit *h) {
    unsigned char c = t->s[i];
    size_t len;
    if (ON(kinds, PII_GPS) && (pt_digit(c) || hemisphere(c) || (c | 32) == 'l') && (len = gps_pair(t, i)))
        return found(h, i, len, PII_GPS);
    if (ON(kinds, PII_PHONE)) {
        if ((pt_digit(c) || c == '+' || c == '(') && (len = written_phone(t, i))) return found(h, i, len, PII_PHONE);
        if (pt_alpha(c) && (len = spoken_en(t, i))) return found(h, i, len, PII_PHONE);
    }
    if (ON(kinds, PII_PASSPORT)) {
        if ((c | 32) == 'p' && passport_word(t, i, &len)) {
            ctx->passport_until = i + len + PASSPORT_AFTER;
            return false;
        }
        if ((len = passport_shape(t, i)) && (i < ctx->passport_until || passport_follows(t, i + len)))
            return found(h, i, len, PII_PASSPORT);
    }
    return false;
}

bool piinum_cjk(const pii_text *t, size_t i, uint32_t cp, unsigned cls, pii_kindset kinds, pii_ctx *ctx,
                pii_hit *h) {
    size_t len;
    if ((cls & PT_COMPASS) && ON(kinds, PII_GPS) && (len = gps_pair(t, i))) return found(h, i, len, PII_GPS);
    if (ON(kinds, PII_PHONE)) {
        if (((cls & PT_NUMERAL) || cp == 0x3007) && (len = spoken_zh(t, i))) return found(h, i, len, PII_PHONE);
        if (cp == 0xFF08 && (len = written_phone(t, i))) return found(h, i, len, PII_PHONE);
    }
    if ((cls & PT_KEYWORD) && ON(kinds, PII_PASSPORT) && pt_is(t, i, "护照")) ctx->passport_until = i + 6 + PASSPORT_AFTER;
    return false;
}
