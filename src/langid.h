/* langid: which language a request is written in, for the router's
 * unknown-language policy, /v1/route and the request log.
 *
 * Detection goes by script first (Han, kana, Hangul, Cyrillic, Arabic, Thai,
 * Hebrew, Greek, Devanagari, Latin), then, for Latin text, by the
 * language's function words, word endings and accented letters.  It reads a
 * bounded prefix of the text, allocates nothing per call and takes a few
 * microseconds; a langid only holds the word table. */
#ifndef TIERGATE_LANGID_H
#define TIERGATE_LANGID_H

#include <stddef.h>
#include <stdint.h>

#include "featurize.h"

/* Every language the detector can name.  LANG_UND: no letters, or Latin
 * text without a cue to any language (a one-word command, code). */
typedef enum langid_lang {
    LANG_UND, LANG_EN, LANG_ZH, LANG_JA, LANG_KO, LANG_RU, LANG_UK, LANG_AR, LANG_FA, LANG_DE, LANG_ES,
    LANG_FR, LANG_PT, LANG_IT, LANG_NL, LANG_TR, LANG_PL, LANG_VI, LANG_TH, LANG_HE, LANG_EL, LANG_HI,
    LANG_COUNT
} langid_lang;
_Static_assert(LANG_COUNT <= 32, "a set of languages is a 32-bit mask");

/* A set of languages: bit (1u << lang). */
typedef uint32_t langid_set;

typedef struct langid langid;

/* NULL when out of memory. */
langid *langid_new(void);
void langid_free(langid *id);

/* The language of text[0, len) (UTF-8, invalid bytes tolerated), from at
 * most its first LANGID_LIMIT bytes. */
#define LANGID_LIMIT 1024
langid_lang langid_text(const langid *id, const char *text, size_t len);
/* The language of a conversation: that of the request (the last user turn,
 * as featurize reads it), or when that says LANG_UND, of the latest earlier
 * user turn that says more, up to four of them. */
langid_lang langid_detect(const langid *id, const feature_message *msgs, size_t n);

/* "en", "zh", ... ("und" for LANG_UND). */
const char *langid_code(langid_lang lang);
/* The language of a two-letter code, or LANG_UND. */
langid_lang langid_from_code(const char *code);

#endif
