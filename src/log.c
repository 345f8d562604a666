/* log: JSON lines, one write(2) per line.
 *
 * A single write keeps lines whole even when several processes share the
 * stream (a supervisor collecting stderr), and with O_APPEND a file shared
 * with another writer.  Timestamps are wall-clock UTC with milliseconds,
 * which is what log shippers parse without configuration.
 *
 * Reopening opens the path anew before closing the old descriptor, so no
 * line is lost or goes to the moved file once the reopen returned; when the
 * open fails the old file stays in use. */
#include "log.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jsonout.h"

static int request_fd = STDERR_FILENO;
static char *request_path;      /* NULL: request lines go to stderr */

cJSON *log_begin(const char *level, const char *msg) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    size_t n = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, sizeof when - n, ".%03ldZ", ts.tv_nsec / 1000000L);
    cJSON_AddStringToObject(o, "ts", when);
    cJSON_AddStringToObject(o, "level", level);
    cJSON_AddStringToObject(o, "msg", msg);
    return o;
}

static void write_line(int fd, cJSON *obj) {
    if (!obj) return;
    size_t len;
    char *s = jsonout_print(obj, NULL, "\n", &len);
    cJSON_Delete(obj);
    if (!s) return;
    const char *p = s;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w <= 0) break;
        p += w;
        left -= (size_t)w;
    }
    free(s);
}

void log_end(cJSON *obj) { write_line(STDERR_FILENO, obj); }

void log_msg(const char *level, const char *msg) { log_end(log_begin(level, msg)); }

void log_request(cJSON *obj) { write_line(request_fd, obj); }

int log_open(const char *path, char *err, size_t errlen) {
    int fd = STDERR_FILENO;
    char *copy = NULL;
    if (path) {
        if (!(copy = strdup(path))) {
            snprintf(err, errlen, "log.file: out of memory");
            return -1;
        }
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (fd < 0) {
            snprintf(err, errlen, "log.file: %s: %s", path, strerror(errno));
            free(copy);
            return -1;
        }
    }
    if (request_fd != STDERR_FILENO) close(request_fd);
    free(request_path);
    request_fd = fd;
    request_path = copy;
    return 0;
}

void log_close(void) {
    char err[8];
    log_open(NULL, err, sizeof err);
}
