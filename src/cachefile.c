/* cachefile: see cachefile.h.
 *
 * Why one CRC per record rather than one per file.  Records are appended a
 * few at a time; a per-file checksum would make every append rewrite the
 * file.  Each record checks itself, so a load keeps every record before the
 * first damaged one, and a power cut that tears the last append costs that
 * append only.  A record after a damaged one is not trusted: its start is
 * known only through the damaged length.
 *
 * Integers are little-endian whatever the host, so a card moved between
 * head units still reads. */
#include "cachefile.h"

#include <stdio.h>
#include <string.h>

#include "crc32.h"
#include "utf8.h"

static const unsigned char magic[8] = {'T', 'G', 'C', 'A', 'C', 'H', 'E', 0};

/* The body's fixed part: type, tier, 2 reserved, key 16, created 8, tokens
 * 4 + 4, string lengths 2 x 4 and content 4. */
#define FIXED 48
#define TYPE_ANSWER 1

static void put16(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}
static void put32(unsigned char *p, uint32_t v) {
    put16(p, v);
    put16(p + 2, v >> 16);
}
static void put64(unsigned char *p, uint64_t v) {
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}
static uint32_t get16(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t get32(const unsigned char *p) { return get16(p) | get16(p + 2) << 16; }
static uint64_t get64(const unsigned char *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }

void cachefile_header(unsigned char out[CACHEFILE_HEADER]) {
    memcpy(out, magic, 8);
    put32(out + 8, CACHEFILE_VERSION);
    put32(out + 12, crc32_ieee(out, 12));
}

int cachefile_check_header(const unsigned char *p, size_t n, char *why, size_t whylen) {
    if (n < CACHEFILE_HEADER) snprintf(why, whylen, "shorter than its header (%zu bytes)", n);
    else if (memcmp(p, magic, 8) != 0) snprintf(why, whylen, "not a tiergate cache file");
    else if (get32(p + 12) != crc32_ieee(p, 12)) snprintf(why, whylen, "damaged header");
    else if (get32(p + 8) != CACHEFILE_VERSION)
        snprintf(why, whylen, "format version %u, this build reads %u", get32(p + 8), CACHEFILE_VERSION);
    else return 0;
    return -1;
}

size_t cachefile_body_size(const cache_answer *a) {
    size_t s[4] = {strlen(a->client), strlen(a->backend), strlen(a->model), strlen(a->finish_reason)};
    size_t n = FIXED + a->content_len + 1;
    for (int i = 0; i < 4; i++) {
        if (s[i] > 0xFFFF) return 0;
        n += s[i] + 1;
    }
    return n > CACHEFILE_MAX_BODY ? 0 : n;
}

void cachefile_encode_body(const cache_key *k, const cache_answer *a, unsigned char *out) {
    const char *str[5] = {a->client, a->backend, a->model, a->finish_reason, a->content};
    size_t len[5] = {strlen(a->client), strlen(a->backend), strlen(a->model), strlen(a->finish_reason),
                     a->content_len};
    out[0] = TYPE_ANSWER;
    out[1] = (unsigned char)a->tier;
    put16(out + 2, 0);
    put64(out + 4, k->h[0]);
    put64(out + 12, k->h[1]);
    put64(out + 20, (uint64_t)a->created);
    put32(out + 28, a->prompt_tokens);
    put32(out + 32, a->completion_tokens);
    for (int i = 0; i < 4; i++) put16(out + 36 + 2 * i, (uint32_t)len[i]);
    put32(out + 44, (uint32_t)len[4]);
    unsigned char *p = out + FIXED;
    for (int i = 0; i < 5; i++) {
        memcpy(p, str[i], len[i]);
        p[len[i]] = 0;
        p += len[i] + 1;
    }
}

void cachefile_record_head(const unsigned char *body, size_t len, unsigned char out[CACHEFILE_RECORD_HEAD]) {
    put32(out, (uint32_t)len);
    put32(out + 4, crc32_ieee(body, len));
}

const unsigned char *cachefile_next(const unsigned char *p, size_t n, size_t *len, size_t *used, char *why,
                                    size_t whylen) {
    if (n < CACHEFILE_RECORD_HEAD) {
        snprintf(why, whylen, "a record cut short (%zu bytes of its head)", n);
        return NULL;
    }
    uint32_t l = get32(p);
    if (l < FIXED || l > CACHEFILE_MAX_BODY) {
        snprintf(why, whylen, "a record with an impossible length (%u)", l);
        return NULL;
    }
    if (l > n - CACHEFILE_RECORD_HEAD) {
        snprintf(why, whylen, "a record cut short (%zu of %u bytes)", n - CACHEFILE_RECORD_HEAD, l);
        return NULL;
    }
    if (crc32_ieee(p + CACHEFILE_RECORD_HEAD, l) != get32(p + 4)) {
        snprintf(why, whylen, "a record whose checksum does not match");
        return NULL;
    }
    *len = l;
    *used = CACHEFILE_RECORD_HEAD + l;
    return p + CACHEFILE_RECORD_HEAD;
}

int cachefile_decode_body(const unsigned char *b, size_t len, cache_key *k, cache_answer *a, char *why,
                          size_t whylen) {
    if (len < FIXED || b[0] != TYPE_ANSWER || b[1] >= TIER_COUNT || get16(b + 2) != 0) {
        snprintf(why, whylen, "a record of an unknown kind");
        return -1;
    }
    size_t l[5] = {get16(b + 36), get16(b + 38), get16(b + 40), get16(b + 42), get32(b + 44)};
    const char *s[5];
    size_t at = FIXED;
    for (int i = 0; i < 5; i++) {
        if (l[i] >= len - at || b[at + l[i]] != 0 || memchr(b + at, 0, l[i])) {
            snprintf(why, whylen, "a record whose fields do not fit");
            return -1;
        }
        s[i] = (const char *)b + at;
        at += l[i] + 1;
    }
    if (at != len || !l[1] || !l[2] || !l[3] || utf8_invalid_offset(s[4], l[4]) != l[4]) {
        snprintf(why, whylen, "a record whose fields are not valid");
        return -1;
    }
    k->h[0] = get64(b + 4);
    k->h[1] = get64(b + 12);
    *a = (cache_answer){s[0], s[1], s[2], s[3], s[4], l[4], (tier_t)b[1], (int64_t)get64(b + 20),
                        get32(b + 28), get32(b + 32)};
    return 0;
}
