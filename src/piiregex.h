/* piiregex: the size check an operator pattern passes before regcomp.
 *
 * glibc's regcomp copies a subexpression once per count of a bounded
 * repetition ("x{1,255}" is 255 copies of x) and once per stacked
 * quantifier, so a short pattern can ask for millions of nodes
 * ("((a{1,255}){1,255}){1,255}") and gigabytes at config load or SIGHUP.
 * The check reads the pattern as POSIX extended syntax (escapes, bracket
 * expressions, groups, quantifiers) and refuses stacked quantifiers, groups
 * nested deeper than PIIREGEX_MAX_DEPTH and repetitions whose counts,
 * multiplied along any nesting, exceed PIIREGEX_MAX_COPIES.  What it does
 * not understand it lets through: regcomp then judges the syntax. */
#ifndef TIERGATE_PIIREGEX_H
#define TIERGATE_PIIREGEX_H

#include <stddef.h>

#define PIIREGEX_MAX_DEPTH 8
#define PIIREGEX_MAX_COPIES 1000

/* NULL when the pattern is within the limits, else why it is not (a
 * sentence fragment for the configuration error: "must not …"). */
const char *piiregex_refuse(const char *regex);

#endif
