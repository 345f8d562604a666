/* crc32: see crc32.h.
 *
 * Slicing-by-8 (Intel's method): eight tables let the loop fold eight bytes
 * per step with independent lookups, about four times the byte-at-a-time
 * speed; loading a 64 MB answer cache is mostly this loop (bench/README.md).
 * zlib's crc32() computes the same and is faster still, but would make zlib
 * a direct build dependency for twenty lines; the tables (8 KB) are built
 * on the first call. */
#include "crc32.h"

static uint32_t table[8][256];
static int ready;

static void build(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++) table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xFF];
    ready = 1;
}

uint32_t crc32_ieee(const void *data, size_t n) { return crc32_ieee_more(0, data, n); }

uint32_t crc32_ieee_more(uint32_t crc, const void *data, size_t n)
{
    const unsigned char *p = data;

    crc ^= 0xFFFFFFFFu;

    if (!ready) build();
    for (; n >= 8; n -= 8, p += 8) {
        uint32_t lo = ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24) ^ crc;
        crc = table[7][lo & 0xFF] ^ table[6][(lo >> 8) & 0xFF] ^ table[5][(lo >> 16) & 0xFF] ^ table[4][lo >> 24] ^
              table[3][p[4]] ^ table[2][p[5]] ^ table[1][p[6]] ^ table[0][p[7]];
    }
    while (n--) crc = table[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return crc ^ 0xFFFFFFFFu;
}
