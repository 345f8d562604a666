/* log: JSON lines on stderr, one write(2) per line.
 *
 * A single write keeps lines whole even when several processes share the
 * stream (a supervisor collecting stderr).  Timestamps are wall-clock UTC with
 * milliseconds, which is what log shippers parse without configuration. */
#include "log.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jsonout.h"

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

void log_end(cJSON *obj) {
    if (!obj) return;
    size_t len;
    char *s = jsonout_print(obj, NULL, "\n", &len);
    cJSON_Delete(obj);
    if (!s) return;
    const char *p = s;
    size_t left = len;
    while (left) {
        ssize_t w = write(STDERR_FILENO, p, left);
        if (w <= 0) break;
        p += w;
        left -= (size_t)w;
    }
    free(s);
}

void log_msg(const char *level, const char *msg) { log_end(log_begin(level, msg)); }
