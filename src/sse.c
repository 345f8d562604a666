/* sse: an incremental text/event-stream parser (WHATWG HTML, "Server-sent
 * events", section "Interpreting an event stream").
 *
 * The parser keeps three buffers: the line being assembled when a feed ends
 * in the middle of one, the data of the event being assembled, and its event
 * name.  A complete line that lies wholly inside one feed is parsed straight
 * from the caller's bytes, so in the common case (a backend writes whole
 * events) only the data is copied, once, into the buffer that the callback
 * sees NUL-terminated.
 *
 * Line ends are found with memchr, one search per terminator kind; each
 * search result is reused until the scan passes it, so a feed costs O(n) no
 * matter how its lines end.  A line ending "\r" sets a flag that swallows a
 * "\n" at the start of the next line, which makes "\r\n" one line end even
 * when a feed boundary falls between the two bytes.
 *
 * Memory is bounded by one rule, applied to every line whether it arrives in
 * one feed or in many: the event's data plus the line being read must not
 * exceed max_event_bytes.  The whole line counts, field name included,
 * because until it ends the parser cannot know which field it holds; a huge
 * comment line is as much a threat as a huge data line.  Applying the same
 * rule to complete and partial lines makes the result independent of where
 * the feeds split the stream.
 *
 * Running out of memory is reported as SSE_ERR_TOO_LARGE too: to the caller
 * both mean a stream it cannot take.
 *
 * Deviations from the standard, all on the lenient side that backends need:
 * sse_finish() delivers an event that the stream ended without a blank line
 * after, including a last line with no line end at all. */
#include "sse.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct byte_buffer {
    char *bytes;
    size_t len, cap;
} byte_buffer;

struct sse_parser {
    size_t max_event_bytes;
    sse_event_fn fn;
    void *ud;
    byte_buffer line;        /* an incomplete line carried over between feeds */
    byte_buffer data;        /* data lines so far, joined by \n, NUL-terminated */
    byte_buffer event;       /* last "event:" value, NUL-terminated */
    size_t data_lines;       /* 0 means no event to dispatch */
    bool after_cr;           /* last line ended with \r: a leading \n is its tail */
    bool first_line;         /* a UTF-8 BOM may start the stream */
    int status;              /* non-zero once a feed has failed or stopped */
};

/* Appends len bytes and keeps the buffer NUL-terminated. */
static int buffer_append(byte_buffer *b, const char *src, size_t len) {
    size_t need = b->len + len + 1;

    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *bytes;
        while (cap < need) cap *= 2;
        bytes = realloc(b->bytes, cap);
        if (!bytes) return -1;
        b->bytes = bytes;
        b->cap = cap;
    }
    memcpy(b->bytes + b->len, src, len);
    b->len += len;
    b->bytes[b->len] = '\0';
    return 0;
}

sse_parser *sse_new(size_t max_event_bytes, sse_event_fn fn, void *ud) {
    sse_parser *p;

    assert(fn);
    p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->max_event_bytes = max_event_bytes;
    p->fn = fn;
    p->ud = ud;
    p->first_line = true;
    return p;
}

void sse_free(sse_parser *p) {
    if (!p) return;
    free(p->line.bytes);
    free(p->data.bytes);
    free(p->event.bytes);
    free(p);
}

static int dispatch(sse_parser *p) {
    int rc;

    /* A blank line after no data lines only resets the event name. */
    if (p->data_lines == 0) {
        p->event.len = 0;
        return 0;
    }
    /* buffer_append keeps both NUL-terminated, and a data line always
     * appends (possibly zero bytes), so data.bytes exists here. */
    assert(p->data.bytes);
    rc = p->fn(p->ud, p->event.len ? p->event.bytes : "", p->data.bytes, p->data.len);
    p->data.len = 0;
    p->data_lines = 0;
    p->event.len = 0;
    return rc;
}

static bool line_fits(const sse_parser *p, size_t line_len) {
    return line_len <= p->max_event_bytes && p->data.len <= p->max_event_bytes - line_len;
}

/* One complete line, without its terminator. */
static int process_line(sse_parser *p, const char *line, size_t len) {
    const char *colon, *value;
    size_t field_len, value_len;

    if (!line_fits(p, len)) return SSE_ERR_TOO_LARGE;
    if (p->first_line) {
        p->first_line = false;
        if (len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
            line += 3;
            len -= 3;
        }
    }
    if (len == 0) return dispatch(p);
    if (line[0] == ':') return 0;

    colon = memchr(line, ':', len);
    field_len = colon ? (size_t)(colon - line) : len;
    value = colon ? colon + 1 : line + len;
    value_len = len - (size_t)(value - line);
    if (value_len && value[0] == ' ') {
        value++;
        value_len--;
    }

    if (field_len == 4 && memcmp(line, "data", 4) == 0) {
        if (p->data_lines++ && buffer_append(&p->data, "\n", 1)) return SSE_ERR_TOO_LARGE;
        if (buffer_append(&p->data, value, value_len)) return SSE_ERR_TOO_LARGE;
    } else if (field_len == 5 && memcmp(line, "event", 5) == 0) {
        p->event.len = 0;
        if (buffer_append(&p->event, value, value_len)) return SSE_ERR_TOO_LARGE;
    }
    return 0;
}

static const char *find_byte(const char *from, const char *end, char c) {
    const char *hit = memchr(from, c, (size_t)(end - from));
    return hit ? hit : end;
}

int sse_feed(sse_parser *p, const char *buf, size_t len) {
    const char *pos = buf, *end, *cr, *lf;

    assert(p && (buf || len == 0));
    if (p->status) return p->status;
    if (len == 0) return 0;
    end = buf + len;
    cr = find_byte(pos, end, '\r');
    lf = find_byte(pos, end, '\n');
    while (pos < end) {
        const char *eol;
        int rc;

        if (p->after_cr) {
            p->after_cr = false;
            if (*pos == '\n' && ++pos == end) break;
        }
        if (cr < pos) cr = find_byte(pos, end, '\r');
        if (lf < pos) lf = find_byte(pos, end, '\n');
        eol = cr < lf ? cr : lf;

        if (eol == end) {
            /* An incomplete line: keep it for the next feed. */
            size_t part = (size_t)(end - pos);
            if (!line_fits(p, p->line.len + part) || buffer_append(&p->line, pos, part))
                return p->status = SSE_ERR_TOO_LARGE;
            break;
        }
        if (p->line.len) {
            size_t part = (size_t)(eol - pos);
            if (!line_fits(p, p->line.len + part) || buffer_append(&p->line, pos, part))
                return p->status = SSE_ERR_TOO_LARGE;
            rc = process_line(p, p->line.bytes, p->line.len);
            p->line.len = 0;
        } else {
            rc = process_line(p, pos, (size_t)(eol - pos));
        }
        if (rc) return p->status = rc;
        p->after_cr = *eol == '\r';
        pos = eol + 1;
    }
    return 0;
}

int sse_finish(sse_parser *p) {
    int rc = 0;

    assert(p);
    if (p->status) return p->status;
    if (p->line.len) {
        rc = process_line(p, p->line.bytes, p->line.len);
        p->line.len = 0;
    }
    if (rc == 0) rc = dispatch(p);
    return p->status = rc;
}
