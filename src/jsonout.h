/* jsonout: compact JSON text, fast: from a cJSON tree, or written field by
 * field without one.
 *
 * Every request prints two trees or more (the body sent upstream, the
 * answer or each stream chunk), and cJSON_PrintUnformatted was the largest
 * single cost of a request in the profile (bench/README.md):
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
 * the last place, and prints DBL_MAX as a number that reads back infinite),
 * and that malformed UTF-8 in a string comes out as U+FFFD, a byte at a
 * time: everything jsonout writes is valid UTF-8.
 *
 * The request log line is written field by field into a jsonout_text, with
 * no tree at all: building it as cJSON objects cost about a tenth of a
 * request's instructions (an allocation per field, a copy of every key and
 * string, and the tree walk to print it). */
#ifndef TIERGATE_JSONOUT_H
#define TIERGATE_JSONOUT_H

#include <stdbool.h>
#include <stddef.h>

struct cJSON;

/* Growable text; a zeroed one is empty and ready.  After a failed
 * allocation (or a cJSON item that is not a JSON value) failed is set and
 * later appends do nothing, so a writer checks once at the end.  The text
 * is the first n bytes of p, not NUL-terminated. */
typedef struct jsonout_text {
    char *p;
    size_t n, cap;
    bool failed;
} jsonout_text;

/* Appends n bytes as they are (JSON text the caller vouches for). */
void jsonout_put(jsonout_text *t, const char *s, size_t n);
/* Appends s as a JSON string, quoted and escaped (NULL: ""). */
void jsonout_string(jsonout_text *t, const char *s);
/* Appends ,"key": -- the start of a field after the object's first. */
void jsonout_key(jsonout_text *t, const char *key);
void jsonout_int(jsonout_text *t, long long v);
/* Appends v / 1000 with three decimals ("12.345", "-0.001"): durations
 * kept in microseconds printed as milliseconds, without a printf. */
void jsonout_milli(jsonout_text *t, long long v);
/* Appends item's JSON text. */
void jsonout_value(jsonout_text *t, const struct cJSON *item);
/* Frees the memory; t is empty and ready again. */
void jsonout_text_free(jsonout_text *t);

/* prefix, the JSON text of item, suffix, NUL-terminated, in one malloc'd
 * buffer of *len bytes (without the NUL); prefix and suffix may be NULL.
 * NULL when out of memory. */
char *jsonout_print(const struct cJSON *item, const char *prefix, const char *suffix, size_t *len);

#endif
