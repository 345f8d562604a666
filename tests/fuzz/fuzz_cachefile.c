/* libFuzzer target for the answer cache's file (cachefile.h).
 *
 * The first byte chooses how the rest is read: even, as a whole file (its
 * header, then every record until the first that fails); odd, as one
 * record's body given a correct head (length and CRC-32), so that
 * mutations reach the body's checks instead of dying at the checksum.  A
 * refused record must give a one-line, non-empty reason; an accepted one
 * must have its strings inside the body, valid UTF-8 text, and encode
 * again to the very same bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cachefile.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Not assert(): fuzz builds may define NDEBUG, and these checks are the point. */
#define REQUIRE(cond) do { \
        if (!(cond)) { fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); abort(); } \
    } while (0)

static bool inside(const char *s, const unsigned char *body, size_t len) {
    const unsigned char *u = (const unsigned char *)s;
    return u >= body && u < body + len && memchr(u, 0, (size_t)(body + len - u)) != NULL;
}

static void check_body(const unsigned char *body, size_t len) {
    cache_key k;
    cache_answer a;
    char why[128] = "";
    if (cachefile_decode_body(body, len, &k, &a, why, sizeof why) < 0) {
        REQUIRE(why[0] && !strchr(why, '\n'));
        return;
    }
    REQUIRE(inside(a.client, body, len) && inside(a.backend, body, len) && inside(a.model, body, len) &&
            inside(a.finish_reason, body, len) && inside(a.content, body, len));
    REQUIRE(strlen(a.content) == a.content_len);
    REQUIRE(utf8_invalid_offset(a.content, a.content_len) == a.content_len);
    REQUIRE(a.tier < TIER_COUNT);
    size_t n = cachefile_body_size(&a);
    REQUIRE(n == len);
    unsigned char *again = malloc(n);
    REQUIRE(again);
    cachefile_encode_body(&k, &a, again);
    REQUIRE(memcmp(again, body, n) == 0);
    free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    const unsigned char *p = data + 1;
    size_t n = size - 1;
    char why[128] = "";
    if (data[0] & 1) {
        unsigned char head[CACHEFILE_RECORD_HEAD];
        cachefile_record_head(p, n, head);
        unsigned char *rec = malloc(sizeof head + n + 1);
        REQUIRE(rec);
        memcpy(rec, head, sizeof head);
        memcpy(rec + sizeof head, p, n);
        size_t len, used;
        const unsigned char *body = cachefile_next(rec, sizeof head + n, &len, &used, why, sizeof why);
        if (body) {
            REQUIRE(len == n && used == sizeof head + n);
            check_body(body, len);
        } else {
            REQUIRE(why[0] && !strchr(why, '\n'));
        }
        free(rec);
        return 0;
    }
    if (cachefile_check_header(p, n, why, sizeof why) < 0) {
        REQUIRE(why[0] && !strchr(why, '\n'));
        return 0;
    }
    for (size_t off = CACHEFILE_HEADER; off < n;) {
        size_t len, used;
        const unsigned char *body = cachefile_next(p + off, n - off, &len, &used, why, sizeof why);
        if (!body) {
            REQUIRE(why[0] && !strchr(why, '\n'));
            break;
        }
        REQUIRE(used == len + CACHEFILE_RECORD_HEAD && off + used <= n);
        check_body(body, len);
        off += used;
    }
    return 0;
}
