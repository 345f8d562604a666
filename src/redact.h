/* redact: personal data out of a request, and back into the answer.
 *
 * A redactor belongs to one request.  redact_text() replaces each span
 * pii_scan() found by a placeholder such as ⟨PHONE_1⟩, the same value always
 * by the same placeholder (across all the messages of the request), so the
 * model can still tell two numbers apart and refer to them.  restore_text()
 * puts the values back into a whole answer; a restore_stream does it for an
 * answer that arrives in pieces, holding back a piece's tail that may be the
 * start of a placeholder (split between two chunks, even inside one UTF-8
 * character) until the next piece shows what it is.  A placeholder the
 * redactor did not issue is left as it is. */
#ifndef TIERGATE_REDACT_H
#define TIERGATE_REDACT_H

#include <stdbool.h>
#include <stddef.h>

#include "pii.h"

/* The longest placeholder: ⟨ NAME _ n ⟩; a stream holds back at most this. */
#define REDACT_MAX_PLACEHOLDER (3 + PII_MAX_NAME + 1 + 10 + 3)

typedef struct redactor redactor;

redactor *redactor_new(void);
void redactor_free(redactor *r);
/* Values replaced so far. */
size_t redactor_count(const redactor *r);

/* s (n bytes) with every span of sp replaced by its placeholder; custom
 * spans are named after pats[span.pattern].  malloc'd and NUL-terminated,
 * or NULL when out of memory. */
char *redact_text(redactor *r, const char *s, size_t n, const pii_spans *sp, const pii_pattern *pats);

/* Issue 15: s (n bytes) with every value r holds replaced by its
 * placeholder, longest value first; malloc'd, NULL when out of memory. */
char *redact_known(const redactor *r, const char *s, size_t n);
/* Issue 15: whether s (n bytes) ends inside one of r's values, with at
 * least REDACT_MIN_CUT bytes of it and not all of it: a stream cut there
 * holds part of a personal value that redact_known cannot mask, because no
 * placeholder stands for a part. */
#define REDACT_MIN_CUT 3
bool redact_cut_in_value(const redactor *r, const char *s, size_t n);

/* s with every placeholder r issued replaced by its value; malloc'd, NULL
 * when out of memory. */
char *restore_text(const redactor *r, const char *s, size_t n);

typedef struct restore_stream {
    char held[REDACT_MAX_PLACEHOLDER];
    size_t nheld;
} restore_stream;

/* The next piece of a streamed text: returns what may be shown now
 * (malloc'd, NUL-terminated; NULL when out of memory), the held bytes and s
 * restored, less a trailing partial placeholder, which st keeps.  With
 * final, nothing is kept: a partial placeholder is shown as it is. */
char *restore_stream_feed(const redactor *r, restore_stream *st, const char *s, size_t n, bool final);

#endif
