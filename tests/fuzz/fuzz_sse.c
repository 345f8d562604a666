/* libFuzzer target for the SSE parser.
 *
 * The first three bytes choose the event size limit, the event after which
 * the callback stops the parser, and the seed of the feed sizes; the rest is
 * the stream.  It is parsed four ways: in one feed, one byte at a time, in
 * random pieces, and by a deliberately naive whole-buffer model of the same
 * rules written here.  All four must deliver the same events and the same
 * result, and every event must keep the callback's promises. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"

/* Not REQUIRE(): fuzz builds may define NDEBUG, and these checks are the point. */
#define REQUIRE(cond) do { \
        if (!(cond)) { fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); abort(); } \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct event_log {
    uint8_t *bytes;
    size_t len, cap;
    size_t nevents, stop_after, max;
} event_log;

#define STOP_VALUE 77

static void log_append(event_log *l, const void *src, size_t n) {
    if (l->len + n > l->cap) {
        l->cap = (l->len + n) * 2 + 64;
        l->bytes = realloc(l->bytes, l->cap);
        REQUIRE(l->bytes);
    }
    memcpy(l->bytes + l->len, src, n);
    l->len += n;
}

/* Each event is logged as its name and data, each preceded by its length. */
static void log_event(event_log *l, const char *event, size_t event_len, const char *data, size_t len) {
    log_append(l, &event_len, sizeof event_len);
    log_append(l, event, event_len);
    log_append(l, &len, sizeof len);
    log_append(l, data, len);
    l->nevents++;
}

static int on_event(void *ud, const char *event, const char *data, size_t len) {
    event_log *l = ud;
    size_t event_len = strlen(event);

    REQUIRE(data[len] == '\0');
    REQUIRE(len <= l->max);
    REQUIRE(!memchr(data, '\r', len));
    REQUIRE(!memchr(event, '\r', event_len) && !memchr(event, '\n', event_len));
    log_event(l, event, event_len, data, len);
    return l->stop_after && l->nevents == l->stop_after ? STOP_VALUE : 0;
}

/* Feeds the stream in pieces whose sizes come from seed (0: one piece, 1: one
 * byte each, else pseudo-random up to 64 bytes). */
static int run_parser(const char *s, size_t n, unsigned seed, event_log *l) {
    sse_parser *p = sse_new(l->max, on_event, l);
    size_t at = 0;
    int rc = 0;

    REQUIRE(p);
    while (at < n && rc == 0) {
        size_t piece = seed == 0 ? n : seed == 1 ? 1 : 0;
        if (piece == 0) {
            seed = seed * 1103515245u + 12345u;
            piece = (seed >> 16) % 65;
        }
        if (piece > n - at) piece = n - at;
        rc = sse_feed(p, s + at, piece);
        at += piece;
        REQUIRE(rc == 0 || rc == SSE_ERR_TOO_LARGE || rc == STOP_VALUE);
        if (rc) REQUIRE(sse_feed(p, "data: x\n\n", 9) == rc);
    }
    if (rc == 0) rc = sse_finish(p);
    sse_free(p);
    return rc;
}

/* The model: whole lines, found the obvious way, no buffering across feeds. */
static int run_model(const char *s, size_t n, event_log *l) {
    char *data = malloc(n + 1), *event = malloc(n + 1);
    size_t i = 0, dlen = 0, elen = 0, ndata = 0;
    int rc = 0;
    bool first = true;

    REQUIRE(data && event);
    while (rc == 0) {
        size_t j = i, len, field_len, vstart;
        const char *line = s + i;
        bool at_end;

        while (j < n && s[j] != '\r' && s[j] != '\n') j++;
        at_end = j == n;
        len = j - i;
        if (at_end && len == 0) break;
        if (len > l->max || dlen > l->max - len) {
            rc = SSE_ERR_TOO_LARGE;
            break;
        }
        if (first && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
            line += 3;
            len -= 3;
        }
        first = false;
        if (len == 0) {
            if (ndata) {
                data[dlen] = '\0';
                event[elen] = '\0';
                rc = on_event(l, event, data, dlen);
            }
            dlen = elen = ndata = 0;
        } else if (line[0] != ':') {
            for (field_len = 0; field_len < len && line[field_len] != ':'; field_len++) {}
            vstart = field_len < len ? field_len + 1 : len;
            if (vstart < len && line[vstart] == ' ') vstart++;
            if (field_len == 4 && memcmp(line, "data", 4) == 0) {
                if (ndata++) data[dlen++] = '\n';
                memcpy(data + dlen, line + vstart, len - vstart);
                dlen += len - vstart;
            } else if (field_len == 5 && memcmp(line, "event", 5) == 0) {
                memcpy(event, line + vstart, len - vstart);
                elen = len - vstart;
            }
        }
        if (at_end) break;
        i = j + 1;
        if (s[j] == '\r' && i < n && s[i] == '\n') i++;
    }
    if (rc == 0 && ndata) {
        data[dlen] = '\0';
        event[elen] = '\0';
        rc = on_event(l, event, data, dlen);
    }
    free(data);
    free(event);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const size_t limits[] = {8, 64, 1024, 1 << 20};
    event_log logs[4];
    int rc[4];
    const char *s;
    size_t n;

    if (size < 3) return 0;
    memset(logs, 0, sizeof logs);
    for (int k = 0; k < 4; k++) {
        logs[k].max = limits[data[0] & 3];
        logs[k].stop_after = data[1] % 8;
    }
    s = (const char *)data + 3;
    n = size - 3;

    rc[0] = run_model(s, n, &logs[0]);
    rc[1] = run_parser(s, n, 0, &logs[1]);
    rc[2] = run_parser(s, n, 1, &logs[2]);
    rc[3] = run_parser(s, n, data[2] | 2u, &logs[3]);
    for (int k = 1; k < 4; k++) {
        REQUIRE(rc[k] == rc[0]);
        REQUIRE(logs[k].nevents == logs[0].nevents);
        REQUIRE(logs[k].len == logs[0].len);
        REQUIRE(logs[k].len == 0 || memcmp(logs[k].bytes, logs[0].bytes, logs[0].len) == 0);
    }
    if (logs[0].stop_after) REQUIRE(logs[0].nevents <= logs[0].stop_after);
    if (rc[0] == STOP_VALUE) REQUIRE(logs[0].nevents == logs[0].stop_after);
    for (int k = 0; k < 4; k++) free(logs[k].bytes);
    return 0;
}
