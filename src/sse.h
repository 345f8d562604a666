/* sse: an incremental parser for text/event-stream, as backends send it.
 *
 * Bytes go in as they arrive, split anywhere; each complete event with data
 * comes out through the callback.  It accepts "data:" with or without a space,
 * \n, \r\n and \r line endings, comment lines (": keep-alive"), several data
 * lines per event (joined by \n), and ignores id: and retry:.  An event whose
 * data would exceed max_event_bytes is an error, so a hostile backend cannot
 * make the gateway buffer without bound. */
#ifndef TIERGATE_SSE_H
#define TIERGATE_SSE_H

#include <stddef.h>

/* event is the "event:" field ("" when absent); data is NUL-terminated.
 * Return 0 to go on, anything else to stop sse_feed at once with that value. */
typedef int (*sse_event_fn)(void *ud, const char *event, const char *data, size_t len);

typedef struct sse_parser sse_parser;

sse_parser *sse_new(size_t max_event_bytes, sse_event_fn fn, void *ud);
void sse_free(sse_parser *p);
/* Returns 0, SSE_ERR_TOO_LARGE, or the callback's non-zero value.  After a
 * non-zero return the parser must not be fed again. */
int sse_feed(sse_parser *p, const char *buf, size_t len);
/* Ends the stream: an event still pending with data is delivered (a stream
 * that ends without the blank line).  Same returns as sse_feed. */
int sse_finish(sse_parser *p);

#define SSE_ERR_TOO_LARGE (-1)

#endif
