/* piitext: shared reading helpers for the PII detectors.
 *
 * The class table covers the CJK Unified Ideographs block, one byte per
 * character (21 KB): the pass looks up every Chinese character it meets,
 * and a table lookup is the only test cheap enough for that (a sorted list
 * of a few hundred characters costs a binary search per character, several
 * microseconds per 2 KB of Chinese).  The lists it is built from are here,
 * in the order a reader checks them against a dictionary; the table is
 * built once, on first use, with call_once, because C has no way to build
 * it at compile time and a generated file would go stale.
 *
 * The surname list is the 150 most common surnames of the 2020 census
 * (together about 90 % of the population) and the first characters of the
 * common two-character ones; the rarer a surname, the more often its
 * character is an ordinary word, so a longer list buys little recall for
 * much noise (docs/privacy.md). */
#include "piitext.h"

#include <string.h>
#include <threads.h>

unsigned pt_num(const unsigned char *d, size_t k) {
    unsigned v = 0;
    while (k--) v = v * 10 + (unsigned)(*d++ - '0');
    return v;
}

bool pt_starts_token(const pii_text *t, size_t i) {
    if (i == 0) return true;
    unsigned char p = t->s[i - 1];
    return !pt_alnum(p) && !(p == '.' && i >= 2 && pt_digit(t->s[i - 2]));
}

bool pt_ends_token(const pii_text *t, size_t e) {
    unsigned char c = pt_at(t, e);
    return !pt_alnum(c) && !(c == '.' && pt_digit(pt_at(t, e + 1)));
}

static bool cont(unsigned char c) { return (c & 0xC0) == 0x80; }

uint32_t pt_char(const pii_text *t, size_t i, size_t *len) {
    unsigned char c = pt_at(t, i);
    *len = 1;
    if (c < 0x80) return c;
    if (c >= 0xC2 && c < 0xE0 && cont(pt_at(t, i + 1))) {
        *len = 2;
        return (uint32_t)(c & 0x1F) << 6 | (pt_at(t, i + 1) & 0x3F);
    }
    if (c >= 0xE0 && c < 0xF0 && cont(pt_at(t, i + 1)) && cont(pt_at(t, i + 2))) {
        *len = 3;
        return (uint32_t)(c & 0x0F) << 12 | (uint32_t)(pt_at(t, i + 1) & 0x3F) << 6 | (pt_at(t, i + 2) & 0x3F);
    }
    return c;
}

uint32_t pt_char_before(const pii_text *t, size_t i, size_t *start) {
    size_t b = i, len;
    if (i == 0) {
        *start = 0;
        return 0;
    }
    do b--;
    while (b > 0 && i - b < 3 && cont(t->s[b]));
    uint32_t cp = pt_char(t, b, &len);
    if (b + len != i) b = i - 1, cp = t->s[b];
    *start = b;
    return cp;
}

/* ---- the class table ---- */

static const char provinces[] = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼";
static const char surnames[] =
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
    "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔"
    "向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌"
    "毕单季";
static const char surname2_first[] = "欧司诸上东慕令皇尉公夏长宇端独南西";
static const char numerals[] = "零一二三四五六七八九幺两";
static const char roads[] = "路街道巷弄段同";
static const char estates[] = "区园苑寓村厦";
static const char compass[] = "北南东西";
static const char keywords[] = "护";

typedef struct word_class {
    const char *word;
    unsigned char cls;
    signed char value;
} word_class;

static const word_class words[] = {
    {"zero", PTW_DIGIT, 0},      {"oh", PTW_DIGIT, 0},       {"one", PTW_DIGIT, 1},     {"two", PTW_DIGIT, 2},
    {"three", PTW_DIGIT, 3},     {"four", PTW_DIGIT, 4},     {"five", PTW_DIGIT, 5},    {"six", PTW_DIGIT, 6},
    {"seven", PTW_DIGIT, 7},     {"eight", PTW_DIGIT, 8},    {"nine", PTW_DIGIT, 9},    {"double", PTW_REPEAT, 2},
    {"triple", PTW_REPEAT, 3},   {"call", PTW_CONTACT, 0},   {"called", PTW_CONTACT, 0}, {"text", PTW_CONTACT, 0},
    {"message", PTW_CONTACT, 0}, {"email", PTW_CONTACT, 0},  {"phone", PTW_CONTACT, 0}, {"ring", PTW_CONTACT, 0},
    {"dial", PTW_CONTACT, 0},    {"contact", PTW_CONTACT, 0}, {"tell", PTW_CONTACT, 0}, {"remind", PTW_CONTACT, 0},
    {"ask", PTW_CONTACT, 0},     {"invite", PTW_CONTACT, 0}, {"notify", PTW_CONTACT, 0}, {"ping", PTW_CONTACT, 0},
    {"facetime", PTW_CONTACT, 0}, {"send", PTW_CONTACT, 0},  {"write", PTW_CONTACT, 0}, {"reply", PTW_CONTACT, 0},
    {"named", PTW_CONTACT, 0},   {"passport", PTW_PASSPORT, 0}, {"passports", PTW_PASSPORT, 0},
    {"lat", PTW_LAT, 0},         {"latitude", PTW_LAT, 0},   {"lon", PTW_LON, 0},       {"long", PTW_LON, 0},
    {"lng", PTW_LON, 0},         {"longitude", PTW_LON, 0},  {"i", PTW_INTRO, 0},       {"this", PTW_INTRO, 0},
    {"name", PTW_INTRO, 0},      {"my", PTW_INTRO, 0},       {"e", PTW_INTRO, 0},
};

/* Open addressing over the words above; a slot holds an index + 1. */
#define WORD_SLOTS 256
#define WORD_MAX 9
static unsigned char word_slots[WORD_SLOTS];
/* Bit n of lengths[c - 'a']: some word above starts with c and has n
 * letters; most words of a text are turned away by this alone. */
static uint16_t lengths[26];

static unsigned word_hash(const unsigned char *w, size_t n) {
    unsigned h = 2166136261u;
    for (size_t k = 0; k < n; k++) h = (h ^ (w[k] | 32u)) * 16777619u;
    return h % WORD_SLOTS;
}

static unsigned char classes[PT_CJK_LAST - PT_CJK_FIRST + 1];
static once_flag classes_once = ONCE_FLAG_INIT;

static void mark(const char *list, unsigned bit) {
    pii_text t = {(const unsigned char *)list, strlen(list)};
    size_t len;
    for (size_t i = 0; i < t.n; i += len) {
        uint32_t cp = pt_char(&t, i, &len);
        if (cp >= PT_CJK_FIRST && cp <= PT_CJK_LAST) classes[cp - PT_CJK_FIRST] |= (unsigned char)bit;
    }
}

static void build_classes(void) {
    mark(provinces, PT_PROVINCE);
    mark(surnames, PT_SURNAME);
    mark(surname2_first, PT_SURNAME2);
    mark(numerals, PT_NUMERAL);
    mark(roads, PT_ROAD);
    mark(estates, PT_ESTATE);
    mark(compass, PT_COMPASS);
    mark(keywords, PT_KEYWORD);
    for (size_t k = 0; k < sizeof words / sizeof words[0]; k++) {
        unsigned h = word_hash((const unsigned char *)words[k].word, strlen(words[k].word));
        while (word_slots[h]) h = (h + 1) % WORD_SLOTS;
        word_slots[h] = (unsigned char)(k + 1);
        lengths[words[k].word[0] - 'a'] |= (uint16_t)(1u << strlen(words[k].word));
    }
}

const unsigned char *pt_classes(void) {
    call_once(&classes_once, build_classes);
    return classes;
}


int pt_numeral(uint32_t cp) {
    switch (cp) {
    case 0x3007: case 0x96F6: return 0;          /* 〇 零 */
    case 0x4E00: case 0x5E7A: return 1;          /* 一 幺 */
    case 0x4E8C: case 0x4E24: return 2;          /* 二 两 */
    case 0x4E09: return 3;
    case 0x56DB: return 4;
    case 0x4E94: return 5;
    case 0x516D: return 6;
    case 0x4E03: return 7;
    case 0x516B: return 8;
    case 0x4E5D: return 9;
    default: return -1;
    }
}

unsigned pt_word(const pii_text *t, size_t i, size_t *len, int *value) {
    size_t w = 0;
    while (pt_alpha(pt_at(t, i + w))) w++;
    *len = w;
    if (w == 0 || w > WORD_MAX) return 0;
    call_once(&classes_once, build_classes);
    if (!(lengths[(t->s[i] | 32) - 'a'] >> w & 1)) return 0;
    for (unsigned h = word_hash(t->s + i, w); word_slots[h]; h = (h + 1) % WORD_SLOTS) {
        const word_class *c = &words[word_slots[h] - 1];
        size_t j = 0;
        while (j < w && c->word[j] == (t->s[i + j] | 32)) j++;
        if (j == w && c->word[w] == '\0') {
            *value = c->value;
            return c->cls;
        }
    }
    return 0;
}

/* ---- matching ---- */

bool pt_is(const pii_text *t, size_t i, const char *lit) {
    size_t k = strlen(lit);
    return i <= t->n && t->n - i >= k && memcmp(t->s + i, lit, k) == 0;
}

size_t pt_is_any(const pii_text *t, size_t i, const char *const *list) {
    unsigned char c = pt_at(t, i);
    for (; *list; list++)
        if ((unsigned char)**list == c && pt_is(t, i, *list)) return strlen(*list);
    return 0;
}

size_t pt_ends_any(const pii_text *t, size_t i, const char *const *list) {
    for (; *list; list++) {
        size_t k = strlen(*list);
        if (k <= i && memcmp(t->s + i - k, *list, k) == 0) return k;
    }
    return 0;
}

size_t pt_word_any(const pii_text *t, size_t i, const char *const *list) {
    size_t w = 0;
    while (pt_alpha(pt_at(t, i + w))) w++;
    if (w == 0) return 0;
    unsigned char c = t->s[i] | 32;
    for (; *list; list++) {
        if ((unsigned char)**list != c) continue;
        size_t k = strlen(*list), j = 0;
        if (k != w) continue;
        while (j < k && (t->s[i + j] | 32) == (unsigned char)(*list)[j]) j++;
        if (j == k) return w;
    }
    return 0;
}

size_t pt_skip_spaces(const pii_text *t, size_t i) {
    while (pt_at(t, i) == ' ') i++;
    return i;
}
