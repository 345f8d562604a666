/* scan: the tokenizer and hasher behind the classifier's features.
 *
 * Design choices and their trade-offs:
 *
 * - Words for Latin text, characters for CJK text.  Chinese has no spaces, so
 *   splitting on them would make every sentence one "word".  A run of CJK
 *   characters yields every 1-, 2- and 3-character window instead; a 2-gram
 *   such as 证明 or 导航 carries most of the meaning and the windows need no
 *   dictionary.  Latin text yields lower-cased words and pairs of adjacent
 *   words.  Every number is the same element "#", so "调到22度" and "调到26度",
 *   or "800 words" and "500 words", are the same n-grams.  Full-width ASCII
 *   (ＡＢＣ，？) is read as ASCII.
 *
 * - Hashing, not a vocabulary.  An n-gram's index is its 64-bit hash cut to
 *   FEATURES_HASH_BITS bits, so any text maps to a feature without a
 *   dictionary in the model and unseen words cost nothing.  Collisions merge
 *   unrelated n-grams; with ten languages the training rows hold about
 *   120,000 distinct n-grams, so 2^20 buckets leave about one in nine in use
 *   (classifier.c says why that size and how the table stays 1 MB).  Word
 *   hashes are computed little-endian, so a model file works on any host.
 *
 * - Lexicon entries are n-grams too: the table holds the 64-bit hashes
 *   scan_lexicon_add() got by scanning each entry's text with this very
 *   scanner, so an entry and the text it matches are always hashed alike.
 *
 * - Speed.  The budget is 20 us at p99 for a 2 KB prompt, about 2000 n-grams
 *   of Chinese.  ASCII and CJK characters take inline fast paths, words are
 *   hashed eight bytes at a time, occurrences leave in batches, and the CJK
 *   loop keeps its state in locals and writes nothing the loop reads, so the
 *   compiler keeps it in registers.  A CJK character that ends a lexicon
 *   entry (one bit test, before any hashing) or is not three bytes long
 *   leaves the fast loop and takes the general path, which makes the same
 *   n-grams through the same hash functions.
 *
 * - Input is untrusted bytes: invalid UTF-8 is one U+FFFD per byte, and
 *   nothing is read past n. */
#include "scan.h"

#include <assert.h>
#include <stddef.h>
#include <string.h>

#include "utf8.h"
#include "wordhash.h"

#define FILTER_SHIFT (64 - 12)

enum char_class { C_SPACE, C_NEWLINE, C_LETTER, C_DIGIT, C_WIDE, C_SYMBOL };

/* The enum char_class of each ASCII character, as a digit: 0 space, 1
 * newline, 2 letter (and '_', for identifiers), 3 digit, 5 punctuation. */
static const char ascii_class[] = "55555555501000555555555555555555"
                                  "05555555555555553333333333555555"
                                  "52222222222222222222222222255552"
                                  "52222222222222222222222222255555";
_Static_assert(sizeof ascii_class == 129, "one class per ASCII character");

/* Hash salts, one per n-gram kind, so that "a" the word and "a" the symbol
 * are different features. */
#define S_WORD 0x243f6a8885a308d3ull
#define S_WORDS 0x13198a2e03707344ull
#define S_NUM 0xa4093822299f31d0ull
#define S_CHAR 0x082efa98ec4e6c89ull
#define S_CHARS2 0x452821e638d01377ull
#define S_CHARS3 0xbe5466cf34e90c6cull
#define S_SYM 0xc0ac29b7c97c50ddull
#define NUMBER_ELEMENT 0x3f84d5b5b5470917ull
#define PAIR_MUL 0x9e3779b97f4a7c15ull
#define BATCH 64

/* The state of one pass. */
typedef struct scanner {
    const scan_lexicon *lex;
    bool learn;                /* scan_lexicon_add: record the whole text's hash */
    uint64_t learned;
    feature_fn fn;
    void *ctx;
    double scale;              /* value of one n-gram occurrence */
    const unsigned char *p;
    size_t n;
    size_t chars, wide, dense;
    unsigned count[NF_END];     /* occurrences behind the named count features */
    uint32_t verbs;            /* bit k: verb k seen */
    bool have_word;            /* a word or number precedes, only spaces between */
    uint64_t word_h;
    size_t word_at;
    size_t run, run_end;       /* CJK run: length so far, end of its last element */
    uint64_t run_h[2];
    size_t run_at[2];
    bool line_start, last_operand, after_operator;
    uint32_t line_last;        /* last non-space character of the line */
    bool origins;              /* fill origin[] too */
    size_t nbatch;
    feature batch[BATCH];
    feature_origin origin[BATCH];
} scanner;

/* The final mix of an n-gram hash: one multiplication, whose top bits
 * depend on every input bit.  The index takes the top FEATURES_HASH_BITS,
 * the lexicon filter the top 12, the lexicon slots the bits below. */
static uint64_t mix(uint64_t x)
{
    return (x ^ x >> 32) * 0xd6e8feb86659fd93ull;
}

static uint64_t pair(uint64_t a, uint64_t b) { return a * PAIR_MUL ^ b; }
static bool is_digit(uint32_t c) { return c - '0' < 10u; }
static bool is_alpha(uint32_t c) { return (c | 0x20) - 'a' < 26u; }

/* The character at p (avail >= 1 bytes) and its length.  Full-width ASCII and
 * the ideographic space read as ASCII; a malformed or cut sequence is one
 * byte of U+FFFD. */
static inline uint32_t decode(const unsigned char *p, size_t avail, size_t *len)
{
    uint32_t cp;

    if (p[0] < 0x80) {
        *len = 1;
        return p[0];
    }
    /* Two bytes under a lead byte C2..DF (Latin-1 to Arabic): any
     * continuation byte makes a valid character. */
    if (p[0] >= 0xC2 && p[0] <= 0xDF && avail >= 2 && (p[1] & 0xC0) == 0x80) {
        *len = 2;
        return (p[0] & 0x1Fu) << 6 | (p[1] & 0x3Fu);
    }
    /* Three bytes under a lead byte that allows any continuation byte (CJK
     * is E4..E9): no other check of Unicode's table 3-7 applies. */
    if (((p[0] >= 0xE1 && p[0] <= 0xEC) || p[0] >= 0xEE) && p[0] <= 0xEF && avail >= 3 &&
        (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80) {
        *len = 3;
        cp = (p[0] & 0x0Fu) << 12 | (p[1] & 0x3Fu) << 6 | (p[2] & 0x3Fu);
    } else {
        cp = utf8_decode(p, avail, len);
    }
    if (cp >= 0xFF01 && cp <= 0xFF5E) return cp - 0xFEE0;
    return cp == 0x3000 ? ' ' : cp;
}

/* Han, kana, Hangul, bopomofo: scripts written without spaces, or (Korean)
 * with spaces between words that take endings and particles, where the
 * 2- and 3-character windows find the stem as they find a Chinese word. */
static inline bool is_cjk(uint32_t cp)
{
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0xAC00 && cp <= 0xD7AF) ||
           (cp >= 0x1100 && cp <= 0x11FF) || (cp >= 0x3100 && cp <= 0x318F) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x20000 && cp <= 0x3FFFF);
}

static inline enum char_class classify(uint32_t cp)
{
    if (cp < 0x80) return (enum char_class)(ascii_class[cp] - '0');
    if (is_cjk(cp)) return C_WIDE;
    if (cp == 0xA0 || (cp >= 0x2000 && cp <= 0x200B) || cp == 0x2028 || cp == 0x2029) return C_SPACE;
    /* Latin-1 and Latin Extended letters (not the x and / signs), Cyrillic,
     * Hebrew, Arabic (its letters and vowel marks, not its digits and
     * punctuation) and Devanagari: scripts written in words, read as words
     * (Thai, written without spaces, stays one symbol a character).  Greek is left to symbols: in these prompts it is maths. */
    if ((cp >= 0xC0 && cp <= 0x24F && cp != 0xD7 && cp != 0xF7) || (cp >= 0x400 && cp <= 0x4FF) ||
        (cp >= 0x5D0 && cp <= 0x5EA) || (cp >= 0x620 && cp <= 0x65F) || (cp >= 0x66E && cp <= 0x6D3) ||
        (cp >= 0x900 && cp <= 0x97F) || (cp >= 0x1E00 && cp <= 0x1EFF))
        return C_LETTER;
    return C_SYMBOL;
}

static size_t slot_of(uint64_t h) { return (h >> 20) & (SCAN_LEXICON_SLOTS - 1); }

static int lexicon_find(const scan_lexicon *lex, uint64_t h)
{
    for (size_t i = slot_of(h);; i = (i + 1) & (SCAN_LEXICON_SLOTS - 1)) {
        if (lex->slot[i].hash == h) return lex->slot[i].named;
        if (lex->slot[i].hash == 0) return -1;
    }
}

static void flush(scanner *s)
{
    if (s->nbatch) s->fn(s->ctx, s->batch, s->origins ? s->origin : NULL, s->nbatch);
    s->nbatch = 0;
}

static inline void emit(scanner *s, uint32_t index, double value, const char *kind, size_t at, size_t end)
{
    if (s->nbatch == BATCH) flush(s);
    if (s->origins) s->origin[s->nbatch] = (feature_origin){kind, (const char *)s->p + at, end - at};
    s->batch[s->nbatch++] = (feature){index, value};
}

static bool bit(const uint64_t *set, uint64_t b) { return set[b / 64 % (SCAN_FILTER_BITS / 64)] >> (b % 64) & 1; }

/* Counts a lexicon entry's occurrence for its named feature, and for
 * figures or figures_choice when it asks for a figure or a choice. */
static void note(scanner *s, int named)
{
    if (named < 0) return;
    if (named & LEXICON_ASKS) {
        named &= ~(int)LEXICON_ASKS;
        s->count[named == NF_COMPARE ? NF_FIGURES_CHOICE : NF_FIGURES]++;
    }
    if (named >= NF_VERB && named < NF_VERB + NF_NVERBS) s->verbs |= 1u << (named - NF_VERB);
    else s->count[named]++;
}

/* The index of an n-gram's mixed hash. */
static inline uint32_t mixed_index(uint64_t mixed)
{
    return FEATURES_NNAMED + (uint32_t)(mixed >> (64 - FEATURES_HASH_BITS));
}

static inline uint32_t index_of(uint64_t h) { return mixed_index(mix(h)); }

/* One n-gram occurrence spanning p[at, end), with the pre-mix hash h,
 * counted for its named feature when it is a lexicon entry, and kept when
 * it is the whole entry scan_lexicon_add() is learning. */
static inline void ngram(scanner *s, const char *kind, uint64_t h, size_t at, size_t end)
{
    h = mix(h);
    if (s->learn && at == 0 && end == s->n) s->learned = h;
    if (bit(s->lex->filter, h >> FILTER_SHIFT)) note(s, lexicon_find(s->lex, h));
    emit(s, mixed_index(h), s->scale, kind, at, end);
}

/* Pre-mix hashes of the CJK n-grams that end with element h, after the
 * run's elements h0 and h1: the one definition both CJK paths use. */
static inline uint64_t gram1(uint64_t h) { return h ^ S_CHAR; }
static inline uint64_t gram2(uint64_t h1, uint64_t h) { return pair(h1, h) ^ S_CHARS2; }
static inline uint64_t gram3(uint64_t h0, uint64_t h1, uint64_t h) { return pair(pair(h0, h1), h) ^ S_CHARS3; }

/* Appends an element (CJK character or number) to the CJK run, which it
 * continues when it touches the run's last element. */
static void run_push(scanner *s, uint64_t h, size_t at, size_t end)
{
    if (s->run > 0 && s->run_end != at) s->run = 0;
    if (s->run >= 1) ngram(s, "chars2", gram2(s->run_h[1], h), s->run_at[1], end);
    if (s->run >= 2) ngram(s, "chars3", gram3(s->run_h[0], s->run_h[1], h), s->run_at[0], end);
    s->run_h[0] = s->run_h[1];
    s->run_at[0] = s->run_at[1];
    s->run_h[1] = h;
    s->run_at[1] = at;
    s->run_end = end;
    s->run++;
}

/* The fast path of Chinese text: CJK characters from p[i] on, each one's
 * 1-gram and, with the run before it, 2- and 3-grams, exactly as
 * run_push() would make them.  It stops before a character it cannot take
 * in its stride (not three bytes, or the last character of a lexicon
 * entry: those go one by one through ngram() and run_push()), and returns
 * where it stopped.  The run's state lives in locals, and nothing is read
 * through s inside the loop, so that the compiler keeps it in registers. */
static size_t scan_cjk(scanner *s, size_t i)
{
    const scan_lexicon *lex = s->lex;
    const unsigned char *p = s->p;
    const char *text = (const char *)p;
    const double scale = s->scale;
    const bool origins = s->origins;
    feature *batch = s->batch;
    feature_origin *origin = s->origin;
    size_t n = s->n, start = i, nb = s->nbatch;
    size_t run = s->run > 0 && s->run_end == i ? s->run : 0, at0 = s->run_at[0], at1 = s->run_at[1];
    uint64_t h0 = s->run_h[0], h1 = s->run_h[1];
    uint32_t cp = 0;

    while (n - i >= 3) {
        /* Three bytes whose lead allows any continuation byte (CJK is
         * E4..E9): no other check of Unicode's table 3-7 applies. */
        uint32_t c = (p[i] & 0x0Fu) << 12 | (p[i + 1] & 0x3Fu) << 6 | (p[i + 2] & 0x3Fu);
        uint64_t h = (uint64_t)c * PAIR_MUL;
        size_t end = i + 3;

        if ((p[i] & 0xF0) != 0xE0 || p[i] == 0xE0 || p[i] == 0xED || (p[i + 1] & 0xC0) != 0x80 ||
            (p[i + 2] & 0xC0) != 0x80 || !is_cjk(c) || bit(lex->cjk_last, c))
            break;
        if (nb > BATCH - 3) {
            s->nbatch = nb;
            flush(s);
            nb = 0;
        }
        if (origins) {
            origin[nb] = (feature_origin){"char", text + i, 3};
            if (run >= 1) origin[nb + 1] = (feature_origin){"chars2", text + at1, end - at1};
            if (run >= 2) origin[nb + 2] = (feature_origin){"chars3", text + at0, end - at0};
        }
        batch[nb++] = (feature){index_of(gram1(h)), scale};
        if (run >= 1) batch[nb++] = (feature){index_of(gram2(h1, h)), scale};
        if (run >= 2) batch[nb++] = (feature){index_of(gram3(h0, h1, h)), scale};
        h0 = h1;
        at0 = at1;
        h1 = h;
        at1 = i;
        run++;
        cp = c;
        i = end;
    }
    s->nbatch = nb;
    if (i == start) return i;
    s->run = run;
    s->run_end = i;
    s->run_h[0] = h0;
    s->run_h[1] = h1;
    s->run_at[0] = at0;
    s->run_at[1] = at1;
    s->chars += (i - start) / 3;
    s->wide += (i - start) / 3;
    s->line_last = cp;
    s->have_word = false;
    s->last_operand = false;
    return i;
}

/* Appends a word or number to the Latin phrase. */
static inline void phrase_push(scanner *s, uint64_t h, size_t at, size_t end)
{
    if (s->have_word) ngram(s, "words", pair(s->word_h, h) ^ S_WORDS, s->word_at, end);
    s->have_word = true;
    s->word_h = h;
    s->word_at = at;
}

/* Appends the folded form of cp, a character of a word with non-ASCII
 * characters, to buf[*total] (counting on past WORD_HASH_MAX, which the hash
 * does not read): lower case, a full-width letter as ASCII (decode), the
 * apostrophe U+2019 as '.  Arabic vowel marks and the tatweel are left out:
 * they are optional in writing, and a word with them is the same word. */
static inline void fold_into(unsigned char *buf, size_t *total, uint32_t cp)
{
    unsigned char u[4];
    size_t k;

    if ((cp >= 0x64B && cp <= 0x65F) || cp == 0x640) return;
    cp = cp == 0x2019 ? '\'' : utf8_lower(cp);
    if (cp < 0x80) {
        u[0] = (unsigned char)cp;
        k = 1;
    } else if (cp < 0x800) {
        u[0] = (unsigned char)(0xC0 | cp >> 6);
        u[1] = (unsigned char)(0x80 | (cp & 0x3F));
        k = 2;
    } else {
        k = utf8_encode(cp, u);
    }
    /* Not memcpy: a call to copy one to four bytes cost more than the rest
     * of the letter (a sixth of the score of an Arabic prompt). */
    if (*total + k <= WORD_HASH_MAX + 4) {
        unsigned char *at = buf + *total;
        at[0] = u[0];
        if (k > 1) at[1] = u[1];
        if (k > 2) at[2] = u[2];
        if (k > 3) at[3] = u[3];
    }
    *total += k;
}

/* A word: letters, then letters, digits and '_', with ' (or U+2019) and '-'
 * inside when a letter follows ("don't", "step-by-step").  Returns its end. */
static size_t scan_word(scanner *s, size_t i)
{
    const unsigned char *p = s->p;
    size_t at = i, nchars = 0, dense = 0, len, len2, total = 0;
    bool lower = false, camel = false, snake = false, ascii = true;
    unsigned char folded[WORD_HASH_MAX + 4];
    uint64_t h;

    while (i < s->n) {
        uint32_t cp = p[i];
        enum char_class c;
        bool wide_byte = cp >= 0x80;   /* full width decodes to ASCII, but is not ASCII text */

        if (!wide_byte) {
            len = 1;
            c = (enum char_class)(ascii_class[cp] - '0');
        } else {
            cp = decode(p + i, s->n - i, &len);
            c = classify(cp);
        }
        if (c != C_LETTER && c != C_DIGIT &&
            ((cp != '\'' && cp != 0x2019 && cp != '-') || i + len >= s->n ||
             classify(decode(p + i + len, s->n - i - len, &len2)) != C_LETTER))
            break;
        /* A word with non-ASCII characters is hashed over its folded form,
         * made here in the same pass; an ASCII word straight from the text. */
        if (wide_byte && ascii) {
            ascii = false;
            total = i - at < WORD_HASH_MAX ? i - at : WORD_HASH_MAX;
            memcpy(folded, p + at, total);
            total = i - at;
        }
        if (!ascii) {
            fold_into(folded, &total, cp);
            dense += cp >= 0x370 && c == C_LETTER;
        }
        camel |= lower && cp - 'A' < 26u;
        lower = cp - 'a' < 26u;
        snake |= cp == '_' && nchars > 0;
        nchars++;
        i += len;
    }
    s->chars += nchars;
    s->dense += dense;
    if (camel || snake) s->count[NF_CODE]++;
    s->last_operand = nchars == 1;
    s->run = 0;
    h = ascii ? wordhash(p + at, i - at, s->n - at)
              : wordhash(folded, total, total < WORD_HASH_MAX ? total : WORD_HASH_MAX);
    ngram(s, "word", h ^ S_WORD, at, i);
    phrase_push(s, h, at, i);
    return i;
}

/* A number: digits, with '.', ',' or ':' between digits (3.14, 10,000, 6:30). */
static size_t scan_number(scanner *s, size_t i)
{
    size_t at = i, len, len2;

    while (i < s->n) {
        uint32_t cp = decode(s->p + i, s->n - i, &len);
        bool inner = (cp == '.' || cp == ',' || cp == ':') && i + len < s->n &&
                     is_digit(decode(s->p + i + len, s->n - i - len, &len2));

        if (!is_digit(cp) && !inner) break;
        s->chars++;
        i += len;
    }
    s->count[NF_NUMBERS]++;
    s->last_operand = true;
    ngram(s, "num", NUMBER_ELEMENT ^ S_NUM, at, i);
    phrase_push(s, NUMBER_ELEMENT, at, i);
    run_push(s, NUMBER_ELEMENT, at, i);
    return i;
}

/* Punctuation and symbols: the code, maths and question cues among them. */
static size_t scan_symbol(scanner *s, uint32_t cp, size_t i, size_t len)
{
    const unsigned char *p = s->p;
    size_t end = i + len;
    unsigned char next = end < s->n ? p[end] : 0;

    if (cp == '`') {
        while (end < s->n && p[end] == '`') end++;
        s->count[end - i >= 3 ? NF_CODE_FENCES : NF_CODE]++;
    } else if (cp == '?') {
        s->count[NF_QMARKS]++;
    } else if (cp == '{' || cp == '}' || (cp == '(' && next == ')') ||
               ((cp == '=' || cp == '!') && next == '=') || ((cp == '-' || cp == '=') && next == '>') ||
               (cp == ':' && next == ':') || (cp == '&' && next == '&') || (cp == '|' && next == '|') ||
               (cp == '<' && next == '/') || (cp == '/' && next == '>') ||
               (cp == '#' && s->n - end >= 7 && memcmp(p + end, "include", 7) == 0)) {
        s->count[NF_CODE]++;
    } else if ((cp == '\\' && is_alpha(next)) || lexicon_math_mark(cp)) {
        s->count[NF_MATH]++;
    } else if (cp == ',' || cp == ';' || cp == 0x3001 || cp == 0x060C || cp == 0x061B) {
        s->count[NF_CLAUSES]++;
    }
    if (cp >= 0x3000 && cp <= 0x303F) s->wide++;
    s->after_operator = lexicon_operator(cp) && s->last_operand;
    s->last_operand = false;
    s->chars += end > i + len ? end - i : 1;
    s->have_word = false;
    s->run = 0;
    ngram(s, "sym", (uint64_t)cp ^ S_SYM, i, end);
    return end;
}

static void end_line(scanner *s)
{
    if (s->line_last == ';' || s->line_last == '{') s->count[NF_CODE]++;
    s->line_last = 0;
    s->line_start = true;
}

static bool is_han(uint32_t cp) { return cp - 0x3400u <= 0x9FFFu - 0x3400u; }

/* Whether the white space at p[i] is a pause of dictation: the first of a
 * run of spaces (not line breaks) between two Han characters, which are
 * three bytes each.  A space after an ASCII byte, the common case, costs
 * one comparison. */
static bool pause_at(const unsigned char *p, size_t n, size_t i)
{
    size_t len, k = i;

    if (i < 3 || p[i - 1] < 0x80 || !is_han(decode(p + i - 3, 3, &len)) || len != 3) return false;
    while (k < n && classify(decode(p + k, n - k, &len)) == C_SPACE) k += len;
    return k < n && is_han(decode(p + k, n - k, &len));
}

/* The pass over s->p[0, s->n). */
static void pass(scanner *s)
{
    const unsigned char *p = s->p;
    size_t i = 0, n = s->n;

    s->line_start = true;
    while (i < n) {
        size_t len;
        uint32_t cp = decode(p + i, n - i, &len);
        enum char_class c = classify(cp);
        bool operand_before = s->after_operator;

        if (c == C_SPACE || c == C_NEWLINE) {
            if (c == C_SPACE && pause_at(p, n, i)) s->count[NF_TOOL_PAUSES]++;
            s->chars++;
            i += len;
            if (c == C_NEWLINE) {
                s->count[NF_LINES]++;
                s->have_word = false;
                end_line(s);
            }
            continue;
        }
        if (s->line_start && lexicon_list_item(p, n, i)) s->count[NF_LISTS]++;
        s->line_start = false;
        s->line_last = cp;
        if (c == C_WIDE) {
            size_t j = s->learn ? i : scan_cjk(s, i);
            if (j == i) {
                uint64_t h = (uint64_t)cp * PAIR_MUL;
                s->chars++;
                s->wide++;
                s->have_word = false;
                s->last_operand = false;
                ngram(s, "char", gram1(h), i, i + len);
                run_push(s, h, i, i + len);
                j = i + len;
            }
            i = j;
        } else if (c == C_LETTER) {
            i = scan_word(s, i);
        } else if (c == C_DIGIT) {
            i = scan_number(s, i);
        } else {
            i = scan_symbol(s, cp, i, len);
            continue;
        }
        if (operand_before && s->last_operand) s->count[NF_OPERATORS]++;
        s->after_operator = false;
    }
    end_line(s);
}

static void ignore(void *ctx, const feature *f, const feature_origin *o, size_t n)
{
    (void)ctx, (void)f, (void)o, (void)n;
}

static scanner *start(scanner *s, const scan_lexicon *lex, const char *text, size_t n)
{
    assert(lex != NULL && (text != NULL || n == 0));
    memset(s, 0, offsetof(scanner, batch));
    s->lex = lex;
    s->p = (const unsigned char *)text;
    s->n = n;
    return s;
}

void scan_text(const scan_lexicon *lex, const char *text, size_t n, double scale, bool origins, feature_fn fn,
               void *ctx, scan_counts *out)
{
    scanner s;

    assert(fn != NULL && out != NULL);
    start(&s, lex, text, n);
    s.fn = fn;
    s.ctx = ctx;
    s.scale = scale;
    s.origins = origins;
    pass(&s);
    flush(&s);
    out->chars = s.chars;
    out->wide = s.wide;
    out->dense = s.dense;
    memcpy(out->count, s.count, sizeof out->count);
    out->verbs = s.verbs;
}

int scan_lexicon_add(scan_lexicon *lex, const char *text, unsigned named)
{
    scanner s;
    size_t i, len;
    uint32_t last;
    uint64_t h;

    assert((named & ~LEXICON_ASKS) < FEATURES_NNAMED);
    assert(!(named & LEXICON_ASKS) || (named & ~LEXICON_ASKS) == NF_CALC || (named & ~LEXICON_ASKS) == NF_COMPARE ||
           (named & ~LEXICON_ASKS) == NF_QWORDS);
    start(&s, lex, text, strlen(text));
    s.fn = ignore;
    s.learn = true;
    pass(&s);
    if ((h = s.learned) == 0) return -1;
    if (lex->used >= SCAN_LEXICON_SLOTS / 2) return -1;
    for (i = slot_of(h); lex->slot[i].hash != 0; i = (i + 1) & (SCAN_LEXICON_SLOTS - 1))
        if (lex->slot[i].hash == h) return -1;
    lex->slot[i].hash = h;
    lex->slot[i].named = (unsigned char)named;
    lex->used++;
    lex->filter[h >> FILTER_SHIFT >> 6] |= 1ull << (h >> FILTER_SHIFT & 63);
    for (i = s.n; i > 0 && (s.p[i - 1] & 0xC0) == 0x80; i--) {}
    last = decode(s.p + i - 1, s.n - i + 1, &len);
    if (is_cjk(last)) lex->cjk_last[last / 64 % (SCAN_FILTER_BITS / 64)] |= 1ull << (last % 64);
    return 0;
}

uint32_t scan_char(const unsigned char *p, size_t avail, size_t *len) { return decode(p, avail, len); }

bool scan_space(uint32_t cp)
{
    enum char_class c = classify(cp);

    return c == C_SPACE || c == C_NEWLINE;
}
