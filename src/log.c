/* log: JSON lines, each whole in one write(2).
 *
 * A single write keeps lines whole even when several processes share the
 * stream (a supervisor collecting stderr), and with O_APPEND a file shared
 * with another writer.  Request lines wait in one buffer and go out
 * together (log_flush); other lines are written at once, after the request
 * lines waiting when both go to stderr, so the stream keeps their order.
 * Timestamps are wall-clock UTC with milliseconds, which is what log
 * shippers parse without configuration.
 *
 * Reopening opens the path anew before closing the old descriptor, so no
 * line is lost or goes to the moved file once the reopen returned; when the
 * open fails the old file stays in use. */
#include "log.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/limits.h>   /* PIPE_BUF; <limits.h> is src/limits.h here */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jsonout.h"

#define LOG_PENDING_MAX (64 * 1024)

static int request_fd = STDERR_FILENO;
static jsonout_text pending;    /* request lines not yet written */
static size_t line_start;       /* where the line being written begins */
static bool in_line;
static bool debug;

/* "2026-11-22T23:55:45.945Z": wall-clock UTC with milliseconds. */
static void timestamp(char out[40]) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 40 - n, ".%03ldZ", ts.tv_nsec / 1000000L);
}

static void write_all(int fd, const char *p, size_t left) {
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w <= 0) break;
        p += w;
        left -= (size_t)w;
    }
}

cJSON *log_begin(const char *level, const char *msg) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    char when[40];
    timestamp(when);
    cJSON_AddStringToObject(o, "ts", when);
    cJSON_AddStringToObject(o, "level", level);
    cJSON_AddStringToObject(o, "msg", msg);
    return o;
}

void log_end(cJSON *obj) {
    if (!obj) return;
    size_t len;
    char *s = jsonout_print(obj, NULL, "\n", &len);
    cJSON_Delete(obj);
    if (!s) return;
    if (request_fd == STDERR_FILENO) log_flush();
    write_all(STDERR_FILENO, s, len);
    free(s);
}

void log_msg(const char *level, const char *msg) { log_end(log_begin(level, msg)); }

void log_set_debug(bool on) { debug = on; }
bool log_debug_on(void) { return debug; }

void log_state(const char *of, const char *id, const char *from, const char *to) {
    if (!debug) return;
    cJSON *o = log_begin("debug", "state");
    if (!o) return;
    cJSON_AddStringToObject(o, "of", of);
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "from", from);
    cJSON_AddStringToObject(o, "to", to);
    log_end(o);
}

jsonout_text *log_request_begin(void) {
    assert(!in_line);
    in_line = true;
    line_start = pending.n;
    char when[40];
    timestamp(when);
    static const char open[] = "{\"ts\":", rest[] = ",\"level\":\"info\",\"msg\":\"request\"";
    jsonout_put(&pending, open, sizeof open - 1);
    jsonout_string(&pending, when);
    jsonout_put(&pending, rest, sizeof rest - 1);
    return &pending;
}

void log_request_end(void) {
    assert(in_line);
    in_line = false;
    jsonout_put(&pending, "}\n", 2);
    if (pending.failed) {
        /* The lines before this one are whole; only this one is lost. */
        pending.n = line_start;
        pending.failed = false;
    }
    if (pending.n >= LOG_PENDING_MAX) log_flush();
}

/* Writes of at most PIPE_BUF bytes, each ending at a line's end, keep the
 * lines whole on a pipe that other processes write to as well (a write to
 * a pipe is atomic only up to PIPE_BUF); a longer line gets a write of its
 * own. */
void log_flush(void) {
    assert(!in_line);
    if (!pending.n) return;                         /* and pending.p may be NULL */
    const char *p = pending.p, *end = p + pending.n;
    while (p < end) {
        size_t left = (size_t)(end - p), n = left;
        if (n > PIPE_BUF) {
            const char *nl = memrchr(p, '\n', PIPE_BUF);
            if (!nl) nl = memchr(p + PIPE_BUF, '\n', left - PIPE_BUF);
            assert(nl);                 /* every line waiting ends with one */
            n = (size_t)(nl + 1 - p);
        }
        write_all(request_fd, p, n);
        p += n;
    }
    pending.n = 0;
    if (pending.cap > 2 * LOG_PENDING_MAX) jsonout_text_free(&pending);
}

int log_open(const char *path, char *err, size_t errlen) {
    int fd = STDERR_FILENO;
    if (path && (fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640)) < 0) {
        snprintf(err, errlen, "log.file: %s: %s", path, strerror(errno));
        return -1;
    }
    log_flush();                /* the lines so far belong to the old file */
    if (request_fd != STDERR_FILENO) close(request_fd);
    request_fd = fd;
    return 0;
}

void log_close(void) {
    char err[8];
    log_open(NULL, err, sizeof err);
}
