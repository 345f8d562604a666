/* testlib: the unit tests' whole framework.  CHECK records a failure and goes
 * on, so one run shows every broken assertion; TEST_MAIN prints the closing
 * line "N passed, N failed" and exits non-zero on any failure. */
#ifndef TIERGATE_TESTLIB_H
#define TIERGATE_TESTLIB_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int tl_passed, tl_failed;

#define CHECK(cond) do { \
        if (cond) tl_passed++; \
        else { tl_failed++; fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } \
    } while (0)

#define CHECK_STR(a, b) do { \
        const char *tl_a = (a), *tl_b = (b); \
        if (tl_a && tl_b && strcmp(tl_a, tl_b) == 0) tl_passed++; \
        else { tl_failed++; fprintf(stderr, "%s:%d: CHECK_STR failed: \"%s\" != \"%s\"\n", \
                                    __FILE__, __LINE__, tl_a ? tl_a : "(null)", tl_b ? tl_b : "(null)"); } \
    } while (0)

#define CHECK_INT(a, b) do { \
        long long tl_a = (long long)(a), tl_b = (long long)(b); \
        if (tl_a == tl_b) tl_passed++; \
        else { tl_failed++; fprintf(stderr, "%s:%d: CHECK_INT failed: %s == %lld, expected %lld\n", \
                                    __FILE__, __LINE__, #a, tl_a, tl_b); } \
    } while (0)

#define TEST_MAIN_END() do { \
        printf("%d passed, %d failed\n", tl_passed, tl_failed); \
        return tl_failed ? 1 : 0; \
    } while (0)

/* A new directory /tmp/tg-NAME-XXXXXX for a test's files, into dir. */
static inline void tl_make_dir(char *dir, size_t n, const char *name) {
    snprintf(dir, n, "/tmp/tg-%s-XXXXXX", name);
    if (!mkdtemp(dir)) abort();
}

/* Removes dir with the files and empty directories in it. */
static inline void tl_remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[512];
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (rmdir(p) < 0) unlink(p);
    }
    if (d) closedir(d);
    rmdir(dir);
}

#endif
