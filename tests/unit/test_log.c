/* log: request lines to a file, reopened after a rotation, and back to
 * stderr; other lines never go to the file; a file that cannot be opened
 * leaves the lines where they were.  Request lines wait for log_flush (or
 * 64 KiB of them), go out whole and in order, and a failed line is dropped
 * without touching the lines around it. */
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
    static char text[256 * 1024];
    text[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return text;
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

static void request_line(const char *id) {
    jsonout_text *t = log_request_begin();
    jsonout_key(t, "request_id");
    jsonout_string(t, id);
    log_request_end();
}

/* Each line of text is a JSON object; returns how many there are, and
 * checks that the n-th request line carries request_id "r<n>". */
static int whole_lines(const char *text) {
    int lines = 0, requests = 0;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        CHECK(nl != NULL);
        if (!nl) break;
        cJSON *o = cJSON_ParseWithLength(p, (size_t)(nl - p));
        CHECK(o != NULL);
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "request_id"));
        if (id) {
            char want[32];
            snprintf(want, sizeof want, "r%d", requests++);
            CHECK_STR(id, want);
        }
        cJSON_Delete(o);
        lines++;
        p = nl + 1;
    }
    return lines;
}

/* Lines wait for the flush, past 64 KiB go out by themselves, and one
 * longer than a pipe's atomic write goes out whole; a line whose text
 * failed leaves no trace. */
static void test_buffering(const char *path) {
    char err[256];
    CHECK_INT(log_open(path, err, sizeof err), 0);
    request_line("r0");
    CHECK_STR(slurp(path), "");
    log_flush();
    CHECK(strstr(slurp(path), "\"request_id\":\"r0\"}\n") != NULL);

    jsonout_text *t = log_request_begin();
    jsonout_key(t, "request_id");
    jsonout_string(t, "lost");
    t->failed = true;                                 /* as when memory ran out */
    log_request_end();
    char big[6000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    t = log_request_begin();
    jsonout_key(t, "request_id");
    jsonout_string(t, "r1");
    jsonout_key(t, "big");
    jsonout_string(t, big);
    log_request_end();
    int n = 2;
    char id[32];
    for (; n < 40; n++) {
        snprintf(id, sizeof id, "r%d", n);
        request_line(id);
    }
    log_flush();
    const char *text = slurp(path);
    CHECK(strstr(text, "lost") == NULL);
    CHECK_INT(whole_lines(text), n);

    /* 64 KiB of lines are written without waiting for the flush. */
    size_t before = strlen(slurp(path));
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof id, "r%d", n++);
        request_line(id);
    }
    CHECK(strlen(slurp(path)) >= before + 64 * 1024);
    log_close();                                      /* flushes the rest */
    CHECK_INT(whole_lines(slurp(path)), n);
    unlink(path);
}

/* When request lines go to stderr, another line goes out after them. */
static void test_order_on_stderr(const char *path) {
    int saved = dup(STDERR_FILENO);
    FILE *f = fopen(path, "w");
    CHECK(f && saved >= 0);
    if (!f || saved < 0) return;
    dup2(fileno(f), STDERR_FILENO);
    request_line("r0");
    log_msg("warn", "after the request");
    request_line("r1");
    log_flush();
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    fclose(f);
    const char *text = slurp(path), *r0 = strstr(text, "\"r0\""), *w = strstr(text, "after the request"),
               *r1 = strstr(text, "\"r1\"");
    CHECK(r0 && w && r1 && r0 < w && w < r1);
    CHECK_INT(whole_lines(text), 3);
    unlink(path);
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
    log_flush();
    CHECK(strstr(slurp(path), "\"request_id\":\"req_one\"}\n") != NULL);
    CHECK(strstr(slurp(path), "not a request line") == NULL);
    CHECK(strstr(slurp(path), "\"msg\":\"request\"") != NULL);

    /* logrotate moves the file; opening the path again (a reload) starts a new one there. */
    CHECK(rename(path, moved) == 0);
    CHECK_INT(log_open(path, err, sizeof err), 0);
    request_line("req_two");
    log_flush();
    CHECK(strstr(slurp(path), "req_two") != NULL);
    CHECK(strstr(slurp(path), "req_one") == NULL);
    CHECK(strstr(slurp(moved), "req_two") == NULL);

    /* A path that cannot be opened is refused by name; the file stays in use. */
    char bad[300];
    snprintf(bad, sizeof bad, "%s/no/such/dir.log", dir);
    CHECK_INT(log_open(bad, err, sizeof err), -1);
    CHECK(strstr(err, "log.file: ") == err && strstr(err, bad) && strstr(err, "No such file or directory"));
    request_line("req_three");
    log_flush();
    CHECK(strstr(slurp(path), "req_three") != NULL);

    request_line("req_four");
    log_close();                                         /* the file gets the lines waiting */
    CHECK(strstr(slurp(path), "req_four") != NULL);
    request_line("req_five");                            /* to stderr now */
    log_flush();
    CHECK(strstr(slurp(path), "req_five") == NULL);

    unlink(path);
    test_buffering(path);
    test_order_on_stderr(path);

    unlink(path);
    unlink(moved);
    rmdir(dir);
    TEST_MAIN_END();
}
