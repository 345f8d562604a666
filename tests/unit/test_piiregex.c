/* test_piiregex: operator patterns that would make regcomp build millions
 * of nodes are refused; ordinary ones, and the largest allowed shapes, pass
 * and compile. */
#include <regex.h>
#include <stdio.h>
#include <string.h>

#include "piiregex.h"
#include "testlib.h"

static void refused(const char *re, const char *why) {
    const char *got = piiregex_refuse(re);
    if (!got || !strstr(got, why)) fprintf(stderr, "%s: %s\n", re, got ? got : "(accepted)");
    CHECK(got != NULL && strstr(got, why) != NULL);
}

static void accepted(const char *re) {
    const char *got = piiregex_refuse(re);
    if (got) fprintf(stderr, "%s: %s\n", re, got);
    CHECK(got == NULL);
    regex_t r;
    int rc = regcomp(&r, re, REG_EXTENDED);
    CHECK_INT(rc, 0);
    if (rc == 0) regfree(&r);
}

int main(void) {
    /* Ordinary patterns. */
    accepted("EMP-[0-9]{6}");
    accepted("O[0-9]+");
    accepted("([A-Z]{2}[0-9]{4}){1,3}");
    accepted("[]{}*+?]{2}x");                      /* quantifier characters inside a bracket are literal */
    accepted("[[:digit:]]{1,1000}");
    accepted("((a{1,10}){1,10}){1,10}");           /* exactly 1000 copies */
    accepted("a\\{2}");                             /* an escaped brace is a literal */
    accepted("\\\\*x");                             /* an escaped backslash, repeated once */
    accepted("a{2}b{3}|c+d*e?");
    /* Stacked quantifiers, also after an escaped backslash or a group. */
    refused("a**", "stack");
    refused("a+{2}", "stack");
    refused("a{2}{3}", "stack");
    refused("\\\\**", "stack");
    refused("(ab)*+", "stack");
    /* Counts multiplied through nested groups. */
    refused("((a{1,255}){1,255}){1,255}", "1000 copies");
    refused("(a{1,255}){1,255}", "1000 copies");
    refused("((a{1,10}){1,10}){1,11}", "1000 copies");
    refused("(a{40}|b){30}", "1000 copies");
    refused("(x{20,}){50}", "1000 copies");
    refused("a{1001}", "1000 copies");
    refused("a{99999999999999999999}", "1000 copies");
    refused("((((a{2}){2}){2}){2}){2}{0}", "stack");
    refused("(((((((((a)))))))))", "8 deep");
    TEST_MAIN_END();
}
