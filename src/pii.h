/* pii: detectors of personal data in UTF-8 text.
 *
 * pii_scan() finds phone numbers (mobile, landline, international, spoken
 * as words), resident ID numbers, bank card numbers, e-mail addresses,
 * Chinese licence plates, VINs, coordinates, IPv4 addresses, postal
 * addresses, passport numbers, people's names and the operator's own
 * patterns, and reports each as a span (offset, length, kind).  The
 * built-in detectors validate what they can (check digits, ranges,
 * boundaries, the words around a value), so a near-miss is not reported;
 * the rules, their limits and their measured precision and recall are in
 * docs/privacy.md.  No I/O; the only allocation is the span list, and the
 * only global state a character table built once (piitext.h). */
#ifndef TIERGATE_PII_H
#define TIERGATE_PII_H

#include <regex.h>
#include <stddef.h>

typedef enum {
    PII_PHONE = 0,     /* mobile, landline or international number, written or spoken */
    PII_CN_ID,         /* Chinese resident ID number */
    PII_BANK_CARD,
    PII_EMAIL,
    PII_PLATE,         /* Chinese licence plate */
    PII_VIN,
    PII_GPS,
    PII_IPV4,
    PII_ADDRESS,       /* postal address with a house or building number */
    PII_PASSPORT,      /* passport number, where the text says it is one */
    PII_NAME,          /* a person's name where the text is about them */
    PII_CUSTOM         /* an operator pattern; pii_span.pattern says which */
} pii_kind;
#define PII_BUILTIN_KINDS 11

/* A set of built-in kinds, bit k for kind k: the detectors to run
 * (privacy.detectors). */
typedef unsigned pii_kindset;
#define PII_ALL_KINDS ((pii_kindset)((1u << PII_BUILTIN_KINDS) - 1))

/* At most this many operator patterns (their kinds share a 64-bit mask
 * with the built-in ones, see privacy.h). */
#define PII_MAX_PATTERNS 32
/* Longest operator pattern name: names become placeholders such as
 * ⟨EMPLOYEE_ID_1⟩, which the answer path must recognise in a bounded window. */
#define PII_MAX_NAME 32

/* An operator pattern: a POSIX extended regex, compiled once at config load. */
typedef struct pii_pattern {
    char *name;        /* [A-Z][A-Z0-9_]*, at most PII_MAX_NAME bytes */
    regex_t re;
} pii_pattern;

typedef struct pii_span {
    size_t off, len;
    pii_kind kind;
    int pattern;       /* PII_CUSTOM: index into the patterns; otherwise -1 */
} pii_span;

/* A growable list of spans; zero-initialise, reuse, pii_spans_free. */
typedef struct pii_spans {
    pii_span *v;
    size_t n, cap;
} pii_spans;

/* "PHONE", "CN_ID", "BANK_CARD", "EMAIL", "PLATE", "VIN", "GPS", "IPV4",
 * "ADDRESS", "PASSPORT", "NAME". */
const char *pii_kind_name(pii_kind k);
/* The built-in kind called name, or -1. */
int pii_kind_by_name(const char *name);

/* Replaces out's contents with the spans of s (n bytes, s[n] must be NUL
 * when npats > 0) of the built-in kinds in kinds and of the operator
 * patterns, sorted by offset and not overlapping: spans that overlap are
 * merged into one that covers both, of the kind of the earlier (then the
 * longer) one, so every byte a detector found is in a span.  Returns 0, or
 * -1 when out of memory. */
int pii_scan(const char *s, size_t n, pii_kindset kinds, const pii_pattern *pats, size_t npats, pii_spans *out);
void pii_spans_free(pii_spans *sp);

#endif
