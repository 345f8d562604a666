/* log: request lines to a file, reopened after a rotation, and back to
 * stderr; other lines never go to the file; a file that cannot be opened
 * leaves the lines where they were. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "testlib.h"

/* The file's text (static buffer), "" when it is missing. */
static const char *slurp(const char *path) {
    static char text[4096];
    text[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return text;
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

static void request_line(const char *id) {
    cJSON *o = log_begin("info", "request");
    cJSON_AddStringToObject(o, "request_id", id);
    log_request(o);
}

int main(void) {
    char dir[] = "/tmp/tiergate-test-log-XXXXXX", path[256], moved[256], err[256] = "";
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/requests.log", dir);
    snprintf(moved, sizeof moved, "%s/requests.log.1", dir);

    CHECK_INT(log_open(NULL, err, sizeof err), 0);      /* stderr: nothing to open */
    CHECK_INT(log_open(path, err, sizeof err), 0);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640);
    request_line("req_one");
    log_msg("info", "not a request line");
    CHECK(strstr(slurp(path), "\"request_id\":\"req_one\"}\n") != NULL);
    CHECK(strstr(slurp(path), "not a request line") == NULL);
    CHECK(strstr(slurp(path), "\"msg\":\"request\"") != NULL);

    /* logrotate moves the file; opening the path again (a reload) starts a new one there. */
    CHECK(rename(path, moved) == 0);
    CHECK_INT(log_open(path, err, sizeof err), 0);
    request_line("req_two");
    CHECK(strstr(slurp(path), "req_two") != NULL);
    CHECK(strstr(slurp(path), "req_one") == NULL);
    CHECK(strstr(slurp(moved), "req_two") == NULL);

    /* A path that cannot be opened is refused by name; the file stays in use. */
    char bad[300];
    snprintf(bad, sizeof bad, "%s/no/such/dir.log", dir);
    CHECK_INT(log_open(bad, err, sizeof err), -1);
    CHECK(strstr(err, "log.file: ") == err && strstr(err, bad) && strstr(err, "No such file or directory"));
    request_line("req_three");
    CHECK(strstr(slurp(path), "req_three") != NULL);

    log_close();
    request_line("req_four");                            /* to stderr now */
    CHECK(strstr(slurp(path), "req_four") == NULL);
    log_request(NULL);

    unlink(path);
    unlink(moved);
    rmdir(dir);
    TEST_MAIN_END();
}
