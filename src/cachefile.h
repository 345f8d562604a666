/* cachefile: the bytes of the answer cache's file.
 *
 * The file is a 16-byte header (magic "TGCACHE\0", format version, CRC-32
 * of the first 12 bytes) followed by records, appended as answers are
 * stored.  A record is its body's length and CRC-32 (little-endian u32
 * each) and the body: the key, the tier, when the answer was made, its
 * token counts, and five NUL-terminated strings (client key name, backend,
 * model, finish_reason, content).  A later record for a key replaces an
 * earlier one.  Pure: encoding and checking bytes; cache.c does the I/O. */
#ifndef TIERGATE_CACHEFILE_H
#define TIERGATE_CACHEFILE_H

#include <stddef.h>
#include <stdint.h>

#include "cachekey.h"
#include "config.h"

#define CACHEFILE_HEADER 16
#define CACHEFILE_VERSION 1
#define CACHEFILE_RECORD_HEAD 8           /* length and CRC before each body */
#define CACHEFILE_MAX_BODY (8u << 20)     /* a larger answer is not stored */

/* One stored answer.  Strings are NUL-terminated; content may not hold NUL. */
typedef struct cache_answer {
    const char *client, *backend, *model, *finish_reason, *content;
    size_t content_len;
    tier_t tier;
    int64_t created;                      /* Unix seconds */
    uint32_t prompt_tokens, completion_tokens;
} cache_answer;

void cachefile_header(unsigned char out[CACHEFILE_HEADER]);
/* 0 for a good header of this version; -1 with why otherwise (n < 16 too). */
int cachefile_check_header(const unsigned char *p, size_t n, char *why, size_t whylen);

/* The body's size for a, or 0 when too large to store. */
size_t cachefile_body_size(const cache_answer *a);
/* Writes the body of (k, a) into out (cachefile_body_size bytes). */
void cachefile_encode_body(const cache_key *k, const cache_answer *a, unsigned char *out);
/* The 8-byte head of a body. */
void cachefile_record_head(const unsigned char *body, size_t len, unsigned char out[CACHEFILE_RECORD_HEAD]);

/* The record at p (n bytes left): returns its body (pointing into p) with
 * its length in *len, and the record's whole size in *used; NULL with why
 * when the record is cut short or damaged. */
const unsigned char *cachefile_next(const unsigned char *p, size_t n, size_t *len, size_t *used, char *why,
                                    size_t whylen);
/* Decodes a checked body; its strings point into it.  -1 with why when its
 * fields do not make sense (a bug or a forged CRC; never trusted). */
int cachefile_decode_body(const unsigned char *body, size_t len, cache_key *k, cache_answer *a, char *why,
                          size_t whylen);

#endif
