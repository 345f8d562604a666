/* buf: a growable byte queue with a size cap.
 *
 * The one way the gateway collects bytes whose total is not known in
 * advance: a client's request body, a backend's plain answer, a stream's
 * bytes waiting for a slow client.  (JSON text being written has its own
 * growable text, jsonout_text, whose appends check nothing until the end:
 * the printer's inner loop cannot afford a function call and a cap per
 * byte run.)  Appends keep a NUL after the data, so a
 * body can go to a parser as a string; reads consume from the front.  A
 * zeroed buf is empty and ready. */
#ifndef TIERGATE_BUF_H
#define TIERGATE_BUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct buf {
    char *p;                 /* owned; NULL until the first append */
    size_t len;              /* bytes held, consumed ones included */
    size_t off;              /* bytes consumed from the front */
    size_t cap;
} buf;

/* Appends n bytes.  False, with b unchanged, when the unconsumed bytes would
 * pass max (0: no cap) or memory ran out. */
bool buf_append(buf *b, const void *data, size_t n, size_t max);
/* The unconsumed bytes (NUL-terminated; "" when none) and their count. */
const char *buf_data(const buf *b, size_t *n);
/* Moves up to n unconsumed bytes to out; returns how many. */
size_t buf_take(buf *b, char *out, size_t n);
/* Frees the memory; b is empty and ready again. */
void buf_free(buf *b);

#endif
