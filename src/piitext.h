/* piitext: the text view, byte and character classes, and per-pass state
 * that the PII detectors (pii.c, piinum.c, piiword.c) share.
 *
 * Detectors read a text through a pii_text (bytes, with 0 past the end so
 * they may read ahead freely) and answer with a pii_hit.  Chinese
 * characters are classed by one lookup in a table built once per process
 * (pt_classes): whether a character may start a plate, a name, a spoken
 * number, an address or a coordinate.  Everything here is pure except that
 * table, which is written once (call_once) and only read afterwards. */
#ifndef TIERGATE_PIITEXT_H
#define TIERGATE_PIITEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pii.h"

typedef struct pii_text {
    const unsigned char *s;
    size_t n;
} pii_text;

/* What a detector found: [off, off + len) of kind; off may lie after the
 * position the detector was asked about (a name after "call"), or before
 * it (an address found at its road word). */
typedef struct pii_hit {
    size_t off, len;
    pii_kind kind;
} pii_hit;

/* What one pass remembers as it goes: where a window opened by the word
 * "passport" (or 护照) ends, where the last name ended (so "A and B" finds
 * B), and where the last value of any kind ended (a look back stops there,
 * so a value never starts inside the one before it). */
typedef struct pii_ctx {
    size_t passport_until;
    size_t name_end;
    bool any_name;
    size_t hit_end;
} pii_ctx;

static inline unsigned char pt_at(const pii_text *t, size_t i) { return i < t->n ? t->s[i] : 0; }
static inline bool pt_digit(unsigned char c) { return (unsigned)(c - '0') < 10u; }
static inline bool pt_upper(unsigned char c) { return (unsigned)(c - 'A') < 26u; }
static inline bool pt_lower(unsigned char c) { return (unsigned)(c - 'a') < 26u; }
static inline bool pt_alpha(unsigned char c) { return (unsigned)((c | 32) - 'a') < 26u; }
static inline bool pt_alnum(unsigned char c) { return pt_digit(c) || pt_alpha(c); }

static inline size_t pt_digit_run(const pii_text *t, size_t i) {
    size_t k = i;
    while (pt_digit(pt_at(t, k))) k++;
    return k - i;
}

static inline size_t pt_alnum_run(const pii_text *t, size_t i) {
    size_t k = i;
    while (pt_alnum(pt_at(t, k))) k++;
    return k - i;
}

/* The value of k decimal digits at d. */
unsigned pt_num(const unsigned char *d, size_t k);

/* A token may start at i: not inside a word or a decimal fraction. */
bool pt_starts_token(const pii_text *t, size_t i);
/* A token may end before e: no letter or digit follows, nor a decimal fraction. */
bool pt_ends_token(const pii_text *t, size_t e);

/* The code point of the UTF-8 character at i and its length in *len (1 for
 * a byte that starts no valid character: its value is returned). */
uint32_t pt_char(const pii_text *t, size_t i, size_t *len);
/* The character that ends just before i, and where it starts in *start;
 * 0 at the start of the text. */
uint32_t pt_char_before(const pii_text *t, size_t i, size_t *start);

/* Classes of Chinese characters (U+4E00..U+9FFF), a bit set per character. */
enum {
    PT_PROVINCE = 1,     /* a province abbreviation: may start a plate */
    PT_SURNAME = 2,      /* a one-character surname */
    PT_SURNAME2 = 4,     /* the first character of a two-character surname */
    PT_NUMERAL = 8,      /* a digit spoken: 零 一 … 九, 幺, 两 */
    PT_ROAD = 16,        /* ends a road name: 路 街 道 巷 弄 段 同 (胡同) */
    PT_ESTATE = 32,      /* ends a compound or building name: 区 (小区) 园 苑 寓 村 厦 */
    PT_COMPASS = 64,     /* 北 南 东 西: may start 北纬 … */
    PT_KEYWORD = 128     /* 护 (护照) */
};
#define PT_CJK_FIRST 0x4E00u
#define PT_CJK_LAST 0x9FFFu
/* The whole table, indexed by cp - PT_CJK_FIRST, for the pass's inner loop. */
const unsigned char *pt_classes(void);
/* The digit a spoken numeral stands for (〇 and 零 are 0, 幺 1, 两 2), or -1. */
int pt_numeral(uint32_t cp);

/* Classes of the ASCII words detectors start at, compared without case. */
enum {
    PTW_DIGIT = 1,       /* zero … nine, oh: *value is the digit */
    PTW_REPEAT = 2,      /* double, triple: *value is 2 or 3 */
    PTW_CONTACT = 4,     /* call, text, tell, …: a name may follow */
    PTW_PASSPORT = 8,    /* passport, passports */
    PTW_LAT = 16,        /* lat, latitude */
    PTW_LON = 32,        /* lon, long, lng, longitude */
    PTW_INTRO = 64       /* i, this, name, my, e (e-mail): a name may follow */
};
/* The classes of the word of ASCII letters at i (0 for any other word), its
 * length in *len, and its value in *value.  One hash lookup. */
unsigned pt_word(const pii_text *t, size_t i, size_t *len, int *value);

/* True when the text at i starts with lit (UTF-8, exact bytes). */
bool pt_is(const pii_text *t, size_t i, const char *lit);
/* The length of the first entry of list (NULL-terminated) the text at i
 * starts with, or 0. */
size_t pt_is_any(const pii_text *t, size_t i, const char *const *list);
/* The length of the first entry of list that the text before i ends with, or 0. */
size_t pt_ends_any(const pii_text *t, size_t i, const char *const *list);
/* The length of the ASCII word at i when it is one of list (lower case,
 * NULL-terminated), compared without case and followed by no letter; or 0. */
size_t pt_word_any(const pii_text *t, size_t i, const char *const *list);
/* i moved over spaces. */
size_t pt_skip_spaces(const pii_text *t, size_t i);

#endif
