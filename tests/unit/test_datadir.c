/* datadir: a file is found under the data directory taken from a binary's
 * path, and only when it is there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datadir.h"
#include "testlib.h"

static void write_file(const char *path) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) fclose(f);
}

int main(void) {
    char root[] = "/tmp/tiergate-datadir-XXXXXX";
    CHECK(mkdtemp(root) != NULL);
    char dir[4096], exe[4096], model[4096], out[4096];
    snprintf(dir, sizeof dir, "%s/share", root);
    CHECK(mkdir(dir, 0755) == 0);
    snprintf(dir, sizeof dir, "%s/share/tiergate", root);
    CHECK(mkdir(dir, 0755) == 0);
    snprintf(dir, sizeof dir, "%s/bin", root);
    CHECK(mkdir(dir, 0755) == 0);
    snprintf(exe, sizeof exe, "%s/bin/tiergate", root);
    snprintf(model, sizeof model, "%s/share/tiergate/classifier.model", root);

    /* Absent: not found, even though the path is written. */
    CHECK_INT(datadir_find_from(exe, "classifier.model", out, sizeof out), 0);
    write_file(model);
    CHECK_INT(datadir_find_from(exe, "classifier.model", out, sizeof out), 1);
    char want[4096];
    snprintf(want, sizeof want, "%s/bin/../share/tiergate/classifier.model", root);
    CHECK_STR(out, want);
    /* A name with a directory part is taken as it is. */
    CHECK_INT(datadir_find_from(exe, "./classifier.model", out, sizeof out), 1);
    CHECK_INT(datadir_find_from(exe, "other.model", out, sizeof out), 0);
    /* Absolute and empty names are never looked up there. */
    CHECK_INT(datadir_find_from(exe, model, out, sizeof out), 0);
    CHECK_INT(datadir_find_from(exe, "", out, sizeof out), 0);
    /* A binary path without a directory has no data directory. */
    CHECK_INT(datadir_find_from("tiergate", "classifier.model", out, sizeof out), 0);
    /* A path that does not fit is not found rather than cut short. */
    char small[16];
    CHECK_INT(datadir_find_from(exe, "classifier.model", small, sizeof small), 0);

    /* This test binary has no share/tiergate beside it. */
    CHECK_INT(datadir_find("classifier.model", out, sizeof out), 0);

    unlink(model);
    snprintf(dir, sizeof dir, "%s/share/tiergate", root);
    rmdir(dir);
    snprintf(dir, sizeof dir, "%s/share", root);
    rmdir(dir);
    snprintf(dir, sizeof dir, "%s/bin", root);
    rmdir(dir);
    CHECK(rmdir(root) == 0);
    TEST_MAIN_END();
}
