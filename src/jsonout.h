/* jsonout: a cJSON tree to compact JSON text, fast.
 *
 * Every request prints three or four trees (the body sent upstream, the
 * answer or each stream chunk, the log line), and cJSON_PrintUnformatted
 * was the largest single cost of a request in the profile (bench/README.md):
 * it formats every number with sprintf("%1.15g") and reads it back with
 * sscanf to check the round trip, and grows its buffer from 256 bytes.
 * This printer writes integral numbers (the common case: token counts,
 * timestamps, indexes, status codes) with its own digit loop, uses the
 * sprintf round trip only for fractions, escapes strings with one scan per
 * run of plain bytes, and can frame the text with a prefix and a suffix (an
 * SSE "data: " line, a log line's newline) so the caller copies nothing.
 *
 * The output is what cJSON_PrintUnformatted gives for the same tree, except
 * that integral numbers of 2^31 and above print in full ("4294967296", not
 * "4.294967296e+09"; both read back to the same double), and that every
 * number reads back exactly (cJSON's check allows an error of one unit in
 * the last place, and prints DBL_MAX as a number that reads back infinite). */
#ifndef TIERGATE_JSONOUT_H
#define TIERGATE_JSONOUT_H

#include <stddef.h>

struct cJSON;

/* prefix, the JSON text of item, suffix, NUL-terminated, in one malloc'd
 * buffer of *len bytes (without the NUL); prefix and suffix may be NULL.
 * NULL when out of memory. */
char *jsonout_print(const struct cJSON *item, const char *prefix, const char *suffix, size_t *len);

#endif
