/* piiregex: one left-to-right read of an extended regex.
 *
 * Each atom (a character, an escape, a bracket expression, a group) has a
 * cost: the copies of its innermost atom regcomp makes, 1 for a plain atom,
 * a group's the largest of its parts.  A quantifier multiplies the cost of
 * the atom before it by what glibc copies for it: {m} m, {m,} m + 1, {m,n}
 * n, '+' 2 (x x*), '*' and '?' 1.  The largest cost anywhere is what the
 * limit bounds; costs saturate at the limit + 1, so no product overflows.
 * Alternatives and sequences add rather than multiply, and the pattern's
 * length is bounded by the configuration file, so they need no limit. */
#include "piiregex.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define OVER (PIIREGEX_MAX_COPIES + 1)
_Static_assert(PIIREGEX_MAX_DEPTH == 8 && PIIREGEX_MAX_COPIES == 1000, "the messages below name the limits");

static size_t times(size_t a, size_t b) { return a > OVER / (b ? b : 1) ? OVER : a * b > OVER ? OVER : a * b; }

/* The end of the bracket expression opening at p ("[", "[^"; a ']' first
 * is literal; [:class:], [=e=], [.c.] inside), or NULL when unterminated. */
static const char *bracket_end(const char *p) {
    p++;
    if (*p == '^') p++;
    if (*p == ']') p++;
    for (; *p && *p != ']'; p++)
        if (*p == '[' && (p[1] == ':' || p[1] == '=' || p[1] == '.')) {
            const char *close = p + 2;
            while (*close && !(close[0] == p[1] && close[1] == ']')) close++;
            if (!*close) return NULL;
            p = close + 1;
        }
    return *p ? p : NULL;
}

/* A "{m}", "{m,}" or "{m,n}" at p: its end and the copies it makes, or NULL. */
static const char *interval(const char *p, size_t *copies) {
    char *e;
    if (p[1] < '0' || p[1] > '9') return NULL;
    unsigned long m = strtoul(p + 1, &e, 10), n = m;
    bool open = false;
    if (*e == ',') {
        if (e[1] >= '0' && e[1] <= '9') n = strtoul(e + 1, &e, 10);
        else e++, open = true;
    }
    if (*e != '}') return NULL;
    unsigned long c = open ? m + 1 : n > m ? n : m;
    *copies = c > OVER ? OVER : c ? (size_t)c : 1;
    return e;
}

const char *piiregex_refuse(const char *regex) {
    size_t group[PIIREGEX_MAX_DEPTH + 1] = {0};   /* largest cost inside each open group */
    size_t depth = 0, atom = 0;                    /* the cost of the atom just read, 0 if none */
    bool quantified = false;
    for (const char *p = regex; *p; p++) {
        size_t copies = 0;
        const char *e;
        if (*p == '*' || *p == '?' || *p == '+') copies = *p == '+' ? 2 : 1;
        else if (*p == '{' && atom && (e = interval(p, &copies))) p = e;
        if (copies) {
            if (quantified) return "must not stack quantifiers (\"a**\", \"a+{2}\")";
            if (!atom) continue;
            atom = times(atom, copies);
            if (atom > group[depth]) group[depth] = atom;
            if (atom > PIIREGEX_MAX_COPIES) return "must not repeat more than 1000 copies, counts multiplied through nested groups";
            quantified = true;
            continue;
        }
        quantified = false;
        if (*p == '(') {
            if (depth == PIIREGEX_MAX_DEPTH) return "must not nest groups more than 8 deep";
            group[++depth] = 0;
            atom = 0;
            continue;
        }
        if (*p == ')' && depth > 0) {
            atom = group[depth--];
            if (atom == 0) atom = 1;
        } else if (*p == '|' || *p == '^' || *p == '$') {
            atom = 0;
            continue;
        } else if (*p == '[' && (e = bracket_end(p))) {
            p = e;
            atom = 1;
        } else {
            if (*p == '\\' && p[1]) p++;
            atom = 1;
        }
        if (atom > group[depth]) group[depth] = atom;
    }
    return NULL;
}
