/* buf: see buf.h.
 *
 * Capacity doubles from BUF_MIN, so n appends cost O(total) copies.  Consumed
 * bytes at the front are reclaimed lazily: only when an append would
 * otherwise grow the block are the unconsumed bytes moved down, so a stream
 * that is read as fast as it is written never copies twice. */
#include "buf.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define BUF_MIN 512

bool buf_append(buf *b, const void *data, size_t n, size_t max) {
    assert(b->off <= b->len && b->len <= b->cap);
    size_t live = b->len - b->off;
    if (max && live + n > max) return false;
    if (b->off && b->len + n + 1 > b->cap) {
        memmove(b->p, b->p + b->off, live);
        b->len = live;
        b->off = 0;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : BUF_MIN;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return false;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return true;
}

const char *buf_data(const buf *b, size_t *n) {
    *n = b->len - b->off;
    return b->p ? b->p + b->off : "";
}

size_t buf_take(buf *b, char *out, size_t n) {
    size_t live = b->len - b->off;
    if (n > live) n = live;
    if (n == 0) return 0;   /* b->p may still be NULL */
    memcpy(out, b->p + b->off, n);
    b->off += n;
    if (b->off == b->len) b->off = b->len = 0;
    return n;
}

void buf_free(buf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}
