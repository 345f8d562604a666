/* langid: script first, then function words.
 *
 * Design choices and their trade-offs:
 *
 * - Script first.  Most languages the gateway meets are told apart by their
 *   script alone: Hangul is Korean, kana is Japanese (Japanese text mixes
 *   kana into Han; Chinese text has none), Han without kana is Chinese,
 *   Thai, Hebrew, Greek and Devanagari are one language each here.  Cyrillic
 *   is Russian unless a letter only Ukrainian has (і ї є ґ) shows; Arabic
 *   script is Arabic unless a letter Persian adds (پ چ ژ گ ک ی) shows.  A
 *   CJK character counts three times, about a word's worth of letters, so a
 *   Chinese request quoting code is still Chinese.
 *
 * - Latin text by function words, endings and accents.  Articles,
 *   prepositions, pronouns, question words and the politeness words of
 *   commands ("bitte", "por favor", "s'il") are frequent in every register,
 *   the short commands of a car included, and need no model: a table of a
 *   few hundred words.  A word shared by k languages adds 12/k to each, so
 *   "la" (es, fr, it) counts less than "der" (de); endings (-ción, -ção,
 *   -zione, -ung) and letters (ñ, ã, ß, ğ, ł) add the same way.  The highest
 *   total wins, ties go to the language listed first in langid_lang; with no
 *   cue at all the answer is LANG_UND, not English: "Defrost" or a line of
 *   code says nothing about the speaker, and the router must not treat a
 *   guess as knowledge.  A character n-gram model would tell more languages
 *   apart, at the cost of a table per language and of training data; the
 *   router only needs to know whether the model learned the language.
 *
 * - Bounded, allocation-free calls.  Only the first LANGID_LIMIT bytes are
 *   read (a request's language shows in its first sentences); words are
 *   looked up in an open-addressed table of their hashes, built once by
 *   langid_new().  A lookup that finds a different word with the same 64-bit
 *   hash is not guarded against: its odds are negligible and the cost is one
 *   miscounted word. */
#include "langid.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

#define SLOTS 2048
#define WORD_MAX 24
#define HISTORY_TURNS 4
#define SHARE 12

struct langid {
    struct {
        uint64_t hash;     /* 0: empty */
        langid_set langs;
    } slot[SLOTS];
};

static const char *const codes[LANG_COUNT] = {
    "und", "en", "zh", "ja", "ko", "ru", "uk", "ar", "fa", "de", "es",
    "fr", "pt", "it", "nl", "tr", "pl", "vi", "th", "he", "el", "hi",
};

/* Function words (lower case, accents kept), space-separated, by language. */
static const struct {
    langid_lang lang;
    const char *words;
} function_words[] = {
    {LANG_EN, "the a an and or of to in on at for with from by is are was were be been it its this that these "
              "those i you he she we they my your me us what how why which who when where can could would "
              "should will do does did not please tell show turn set write explain about there their have has "
              "than then if so as no let t s ll ve re m all any some up down"},
    {LANG_DE, "der die das den dem des und oder ist sind war nicht ein eine einen einem einer mit für auf zu "
              "zum zur im vom ich du er sie wir ihr mir mich dir mein meine dein bitte wie was warum wo wann "
              "wer welche welcher auch noch sich es aus bei nach über unter aber wenn dass kann kannst können "
              "soll sollte wird werden habe hat hast mach schreib schreibe erkläre zeig zeige gibt gib ins "
              "einmal jetzt etwas an hoch runter leiser lauter alle alles klar danke gut gute guten morgen heute hier bis ja nein mal"},
    {LANG_ES, "el la los las y a es un una unos unas que de del en por para con como qué cómo cuál cuáles "
              "cuánto cuánta cuántos cuántas dónde cuándo quién favor mi mis me tu tus su sus al lo se está "
              "están hay muy más pero si puedes quiero dime escribe explica hola gracias son ser este esta "
              "estos estas yo tengo nos buen buena buenas buenos hoy mañana ahora aquí también"},
    {LANG_FR, "le la les l et ou est un une des du de au aux en pour avec dans sur que qui quel quelle quels "
              "quelles comment pourquoi où quand combien je j tu il elle nous vous mon ma mes ton ta moi ce "
              "cette ces pas ne n plaît merci bonjour peux fais écris explique sont être c qu y bon bonne aujourd demain maintenant ici aussi"},
    {LANG_PT, "o a os as e é um uma uns umas que de do da dos das no na nos nas em por para com como qual "
              "quais quanto quanta quantos quantas onde quando quem porque meu minha meus minhas você vocês "
              "não sim está estão tem muito mais obrigado obrigada olá oi pode escreva explique ao aos pelo "
              "pela seu sua eu me favor essa esse isso isto aqui agora também já ainda boa bom hoje amanhã"},
    {LANG_IT, "il lo la i gli le a è un una uno che di del della dei delle in per con come cosa quale quanto "
              "quanti dove quando chi perché mio mia miei non sono sei ho ha mi ti ci più anche grazie ciao "
              "puoi scrivi spiega nel nella al alla dal dalla questo questa"},
    {LANG_NL, "de het een en of is zijn van in op met voor niet dat die wat hoe waarom waar wanneer ik je jij "
              "mijn naar ook kun kunt graag alsjeblieft bij er maar"},
    {LANG_TR, "bir ve bu için ile ne nasıl neden nerede mi mı mu mü ben sen çok daha var yok lütfen değil "
              "gibi kaç şu ama"},
    {LANG_PL, "i w z na nie się jest to że do jak co dlaczego gdzie kiedy proszę czy ale ten ta"},
};

/* Word endings, for words of at least five letters. */
static const struct {
    const char *ending;
    unsigned char len;
    langid_set langs;
} endings[] = {
    {"ción", 5, 1u << LANG_ES}, {"ciones", 6, 1u << LANG_ES}, {"dad", 3, 1u << LANG_ES},
    {"ção", 5, 1u << LANG_PT}, {"ções", 6, 1u << LANG_PT}, {"dade", 4, 1u << LANG_PT}, {"ão", 3, 1u << LANG_PT},
    {"zione", 5, 1u << LANG_IT}, {"zioni", 5, 1u << LANG_IT}, {"mente", 5, 1u << LANG_ES | 1u << LANG_PT | 1u << LANG_IT},
    {"ung", 3, 1u << LANG_DE}, {"ungen", 5, 1u << LANG_DE}, {"keit", 4, 1u << LANG_DE}, {"heit", 4, 1u << LANG_DE},
    {"lich", 4, 1u << LANG_DE}, {"tion", 4, 1u << LANG_EN | 1u << LANG_FR}, {"ness", 4, 1u << LANG_EN},
    {"ing", 3, 1u << LANG_EN}, {"eux", 3, 1u << LANG_FR}, {"euse", 4, 1u << LANG_FR}, {"ement", 5, 1u << LANG_FR},
    {"ique", 4, 1u << LANG_FR}, {"eau", 3, 1u << LANG_FR}, {"eaux", 4, 1u << LANG_FR}, {"inho", 4, 1u << LANG_PT},
    {"inha", 4, 1u << LANG_PT}, {"agem", 4, 1u << LANG_PT}, {"aje", 3, 1u << LANG_ES}, {"lar", 3, 1u << LANG_TR}, {"ler", 3, 1u << LANG_TR}, {"ları", 5, 1u << LANG_TR}, {"leri", 4, 1u << LANG_TR},
};

/* The languages an accented Latin letter (lower case) points to, or 0. */
static langid_set letter_langs(uint32_t c)
{
    switch (c) {
    case 0xE4: case 0xDF: return 1u << LANG_DE;                                   /* ä ß */
    case 0xF6: case 0xFC: return 1u << LANG_DE | 1u << LANG_TR;                   /* ö ü */
    case 0xF1: case 0xA1: case 0xBF: return 1u << LANG_ES;                        /* ñ ¡ ¿ */
    case 0xE7: return 1u << LANG_FR | 1u << LANG_PT | 1u << LANG_TR;              /* ç */
    case 0xE3: case 0xF5: return 1u << LANG_PT;                                   /* ã õ */
    case 0xE2: case 0xEA: case 0xF4: return 1u << LANG_FR | 1u << LANG_PT;        /* â ê ô */
    case 0xE9: return 1u << LANG_FR | 1u << LANG_ES | 1u << LANG_PT | 1u << LANG_IT;   /* é */
    case 0xE8: case 0xF9: return 1u << LANG_FR | 1u << LANG_IT;                   /* è ù */
    case 0xE0: return 1u << LANG_FR | 1u << LANG_IT | 1u << LANG_PT;              /* à */
    case 0xEC: case 0xF2: return 1u << LANG_IT;                                   /* ì ò */
    case 0xE1: case 0xED: case 0xF3: case 0xFA: return 1u << LANG_ES | 1u << LANG_PT;   /* á í ó ú */
    case 0xEE: case 0xEB: case 0xEF: case 0xFB: case 0x153: return 1u << LANG_FR;  /* î ë ï û œ */
    case 0x11F: case 0x15F: case 0x131: return 1u << LANG_TR;                     /* ğ ş ı */
    case 0x142: case 0x105: case 0x119: case 0x15B: case 0x17A: case 0x17C: case 0x144: case 0x107:
        return 1u << LANG_PL;                                                      /* ł ą ę ś ź ż ń ć */
    case 0x1A1: case 0x1B0: case 0x111: case 0x103: return 1u << LANG_VI;         /* ơ ư đ ă */
    default: return c >= 0x1EA0 && c <= 0x1EF9 ? 1u << LANG_VI : 0;                /* ạ ả ế ... */
    }
}

static uint64_t hash_bytes(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;

    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h | 1;   /* never 0, the empty slot */
}

static size_t slot_of(uint64_t h) { return (size_t)(h >> 40) & (SLOTS - 1); }

static void table_add(langid *id, const unsigned char *w, size_t n, langid_lang lang)
{
    uint64_t h = hash_bytes(w, n);
    size_t i = slot_of(h);

    while (id->slot[i].hash != 0 && id->slot[i].hash != h) i = (i + 1) & (SLOTS - 1);
    id->slot[i].hash = h;
    id->slot[i].langs |= 1u << lang;
}

static langid_set table_find(const langid *id, const unsigned char *w, size_t n)
{
    uint64_t h = hash_bytes(w, n);

    for (size_t i = slot_of(h); id->slot[i].hash != 0; i = (i + 1) & (SLOTS - 1))
        if (id->slot[i].hash == h) return id->slot[i].langs;
    return 0;
}

langid *langid_new(void)
{
    langid *id = calloc(1, sizeof *id);

    if (!id) return NULL;
    for (size_t k = 0; k < sizeof function_words / sizeof function_words[0]; k++) {
        const unsigned char *p = (const unsigned char *)function_words[k].words;
        while (*p) {
            size_t n = strcspn((const char *)p, " ");
            table_add(id, p, n, function_words[k].lang);
            p += n + (p[n] == ' ');
        }
    }
    return id;
}

void langid_free(langid *id) { free(id); }

static bool latin_letter(uint32_t c)
{
    return c - 'a' < 26u || c - 'A' < 26u || (c >= 0xC0 && c <= 0x24F && c != 0xD7 && c != 0xF7) ||
           (c >= 0x1E00 && c <= 0x1EFF);
}

enum script { S_LATIN, S_HAN, S_KANA, S_HANGUL, S_CYRILLIC, S_ARABIC, S_THAI, S_HEBREW, S_GREEK,
              S_DEVANAGARI, S_NONE };

static enum script script_of(uint32_t c)
{
    if (latin_letter(c)) return S_LATIN;
    if ((c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0xF900 && c <= 0xFAFF) ||
        (c >= 0x20000 && c <= 0x3FFFF))
        return S_HAN;
    if ((c >= 0x3040 && c <= 0x30FF && c != 0x30FB && c != 0x30FC) || (c >= 0x31F0 && c <= 0x31FF) ||
        (c >= 0xFF66 && c <= 0xFF9F))
        return S_KANA;
    if ((c >= 0xAC00 && c <= 0xD7AF) || (c >= 0x1100 && c <= 0x11FF) || (c >= 0x3130 && c <= 0x318F))
        return S_HANGUL;
    if (c >= 0x400 && c <= 0x4FF) return S_CYRILLIC;
    if ((c >= 0x600 && c <= 0x6FF && (c < 0x660 || c > 0x669)) || (c >= 0x750 && c <= 0x77F) ||
        (c >= 0xFB50 && c <= 0xFDFF) || (c >= 0xFE70 && c <= 0xFEFF))
        return S_ARABIC;
    if (c >= 0xE01 && c <= 0xE4E) return S_THAI;
    if (c >= 0x5D0 && c <= 0x5EA) return S_HEBREW;
    if (c >= 0x370 && c <= 0x3FF) return S_GREEK;
    if (c >= 0x900 && c <= 0x97F) return S_DEVANAGARI;
    return S_NONE;
}

/* The character at p (avail >= 1 bytes) and its length; ASCII and the
 * two-byte characters of Latin-1 to Arabic inline, the rest by utf8.c. */
static inline uint32_t decode(const unsigned char *p, size_t avail, size_t *len)
{
    if (p[0] < 0x80) {
        *len = 1;
        return p[0];
    }
    if (p[0] >= 0xC2 && p[0] <= 0xDF && avail >= 2 && (p[1] & 0xC0) == 0x80) {
        *len = 2;
        return (p[0] & 0x1Fu) << 6 | (p[1] & 0x3Fu);
    }
    return utf8_decode(p, avail, len);
}

/* Adds SHARE/k to each of the k languages of set. */
static inline void vote(unsigned *score, langid_set set)
{
    unsigned share = set ? SHARE / (unsigned)__builtin_popcount(set) : 0;

    for (; set; set &= set - 1) score[__builtin_ctz(set)] += share;
}

/* A Latin word w[0, n) (lower case, UTF-8) of chars letters: its function
 * word and ending votes. */
static void word_votes(const langid *id, unsigned *score, const unsigned char *w, size_t n, size_t chars)
{
    vote(score, table_find(id, w, n));
    if (chars < 5) return;
    for (size_t k = 0; k < sizeof endings / sizeof endings[0]; k++) {
        size_t e = endings[k].len;
        if (e < n && (unsigned char)endings[k].ending[e - 1] == w[n - 1] &&
            memcmp(w + n - e, endings[k].ending, e) == 0)
            vote(score, endings[k].langs);
    }
}

static langid_lang best(const unsigned *score)
{
    langid_lang top = LANG_UND;

    for (unsigned l = 1; l < LANG_COUNT; l++)
        if (score[l] > score[top]) top = (langid_lang)l;
    return top;
}

langid_lang langid_text(const langid *id, const char *text, size_t len)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t n = len < LANGID_LIMIT ? len : LANGID_LIMIT, i = 0, wn = 0, wchars = 0;
    unsigned count[S_NONE] = {0}, weight[S_NONE], score[LANG_COUNT] = {0}, ukrainian = 0, persian = 0;
    unsigned char w[WORD_MAX + 4];
    unsigned top = S_NONE;

    assert(id != NULL && (text != NULL || len == 0));
    while (i <= n) {
        size_t l = 1;
        uint32_t c = i == n ? ' ' : decode(p + i, n - i, &l);
        enum script s;

        /* ASCII letters: the common case, without the script table. */
        if ((c | 0x20) - 'a' < 26u) {
            if (wn < WORD_MAX) w[wn] = (unsigned char)(c | 0x20);
            wn++;
            wchars++;
            count[S_LATIN]++;
            i++;
            continue;
        }
        s = i < n ? script_of(c) : S_NONE;
        if (s == S_LATIN) {
            uint32_t lc = utf8_lower(c);
            unsigned char u[4];
            size_t k = utf8_encode(lc, u);
            vote(score, letter_langs(lc));
            if (wn + k <= WORD_MAX) memcpy(w + wn, u, k);
            wn += k;
            wchars++;
        } else {
            if (wchars > 0 && wn <= WORD_MAX) word_votes(id, score, w, wn, wchars);
            wn = wchars = 0;
            if (c == 0xA1 || c == 0xBF) vote(score, letter_langs(c));
            ukrainian += c == 0x456 || c == 0x457 || c == 0x454 || c == 0x491;
            persian += c == 0x67E || c == 0x686 || c == 0x698 || c == 0x6AF || c == 0x6A9 || c == 0x6CC;
        }
        if (s != S_NONE) count[s]++;
        i += l;
    }
    memcpy(weight, count, sizeof weight);
    weight[S_HAN] = 3 * (count[S_HAN] + count[S_KANA]);
    weight[S_KANA] = 0;
    weight[S_HANGUL] = 3 * count[S_HANGUL];
    for (unsigned s = 0; s < S_NONE; s++)
        if (weight[s] > 0 && (top == S_NONE || weight[s] > weight[top])) top = s;
    switch (top) {
    case S_LATIN: return best(score);
    case S_HAN: return count[S_KANA] > 0 && 10 * count[S_KANA] >= count[S_HAN] ? LANG_JA : LANG_ZH;
    case S_HANGUL: return LANG_KO;
    case S_CYRILLIC: return ukrainian ? LANG_UK : LANG_RU;
    case S_ARABIC: return persian ? LANG_FA : LANG_AR;
    case S_THAI: return LANG_TH;
    case S_HEBREW: return LANG_HE;
    case S_GREEK: return LANG_EL;
    case S_DEVANAGARI: return LANG_HI;
    default: return LANG_UND;
    }
}

langid_lang langid_detect(const langid *id, const feature_message *msgs, size_t n)
{
    size_t seen = 0;

    assert(msgs != NULL || n == 0);
    for (size_t i = n; i-- > 0 && seen <= HISTORY_TURNS;) {
        langid_lang l;
        if (!msgs[i].user) continue;
        seen++;
        if ((l = langid_text(id, msgs[i].text, msgs[i].len)) != LANG_UND) return l;
    }
    /* With no user turn the request is the last message, as in featurize. */
    return seen == 0 && n > 0 ? langid_text(id, msgs[n - 1].text, msgs[n - 1].len) : LANG_UND;
}

const char *langid_code(langid_lang lang)
{
    assert(lang < LANG_COUNT);
    return codes[lang];
}

langid_lang langid_from_code(const char *code)
{
    for (unsigned l = 1; code && l < LANG_COUNT; l++)
        if (strcmp(codes[l], code) == 0) return (langid_lang)l;
    return LANG_UND;
}
