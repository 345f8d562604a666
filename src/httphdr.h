/* httphdr: reading the response header lines libcurl hands over, one at a
 * time: a header's value, and the wait a backend asks for (Retry-After).
 * Pure (the time is passed in), so that the rules have a unit test
 * (tests/unit/test_httphdr.c); upstream.c is the caller. */
#ifndef TIERGATE_HTTPHDR_H
#define TIERGATE_HTTPHDR_H

#include <stddef.h>
#include <time.h>

/* The value of header name (case-insensitive) in the header line line,
 * trimmed and cut to fit out, or NULL when the line is another header. */
const char *httphdr_value(const char *line, size_t len, const char *name, char *out, size_t cap);

/* The wait in milliseconds after the header line line, given the wait
 * known so far (-1: none): retry-after-ms (OpenAI's, finer) always wins;
 * Retry-After (delay-seconds or an HTTP-date, RFC 9110 10.2.3, read as of
 * now) counts only when no wait is known yet.  Waits of a day or more, and
 * values that are neither, are ignored. */
int httphdr_retry_after(const char *line, size_t len, int known_ms, time_t now);

#endif
