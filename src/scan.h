/* scan: one pass over the text of one message, for featurize.
 *
 * scan_text() reads UTF-8 text once.  It reports every n-gram occurrence,
 * hashed to a feature index, to a feature_fn in batches, and counts what the
 * named features need: characters, CJK characters, lines, code and maths
 * marks, numbers, operators between them, question marks, list items, and
 * the entries of a scan_lexicon (question words, constraint markers,
 * instruction verbs).  Which n-grams a text has, and how it is normalised on
 * the way (case, full width, numbers), is decided here and nowhere else. */
#ifndef TIERGATE_SCAN_H
#define TIERGATE_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "featurize.h"
#include "lexicon.h"

#define SCAN_LEXICON_SLOTS 2048
#define SCAN_FILTER_BITS 4096

/* Lexicon entries by the hash of their n-gram, and two filters that say
 * "no entry" for most n-grams with one bit test: filter by the hash's top 12
 * bits, cjk_last by the last character of a CJK entry. */
typedef struct scan_lexicon {
    uint64_t filter[SCAN_FILTER_BITS / 64];
    uint64_t cjk_last[SCAN_FILTER_BITS / 64];
    struct {
        uint64_t hash;            /* 0: empty */
        unsigned char named;      /* enum named_feature, LEXICON_ASKS or-ed in */
    } slot[SCAN_LEXICON_SLOTS];
    size_t used;                  /* slots taken */
} scan_lexicon;

/* What one pass counted. */
typedef struct scan_counts {
    size_t chars;                 /* characters read */
    size_t wide;                  /* of them, CJK characters and CJK punctuation */
    size_t dense;                 /* letters of Cyrillic, Arabic and other non-Latin
                                     alphabets, about 2.5 to a token */
    unsigned count[NF_END];       /* by enum named_feature: lines, code marks, ... (not
                                     the verbs) */
    uint32_t verbs;               /* bit k: instruction verb k seen */
} scan_counts;

/* Reads text[0, n).  Every n-gram occurrence, with value scale, goes to fn
 * (with its origin when origins is set); *out receives the counts. */
void scan_text(const scan_lexicon *lex, const char *text, size_t n, double scale, bool origins, feature_fn fn,
               void *ctx, scan_counts *out);

/* Adds text, which must read as exactly one n-gram, as an entry that counts
 * for named feature named (and, with LEXICON_ASKS, for figures_choice when
 * named is compare, for figures otherwise).  Returns 0, or -1 when text is
 * not one n-gram, is there already, or the table is half full. */
int scan_lexicon_add(scan_lexicon *lex, const char *text, unsigned named);

/* The character at p (avail >= 1 bytes) as the scan reads it (full-width
 * ASCII as ASCII, invalid bytes as U+FFFD), and in *len its length. */
uint32_t scan_char(const unsigned char *p, size_t avail, size_t *len);
/* Whether the scan reads cp as white space (line breaks included). */
bool scan_space(uint32_t cp);

#endif
