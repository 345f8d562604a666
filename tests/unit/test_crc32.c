/* test_crc32: the CRC-32 against its published check value and against the
 * plain bitwise definition, at every length and alignment slicing-by-8
 * treats differently (under 8 bytes, a tail after whole words, odd starts). */
#include <stdint.h>
#include <string.h>

#include "crc32.h"
#include "testlib.h"

static uint32_t bitwise(const unsigned char *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xFFFFFFFFu;
}

int main(void) {
    CHECK_INT(crc32_ieee("123456789", 9), 0xCBF43926u);
    CHECK_INT(crc32_ieee("", 0), 0);
    /* In pieces, as the classifier reads its file: any split, the same CRC. */
    for (size_t k = 0; k <= 9; k++) {
        static const char check[] = "123456789";
        CHECK_INT(crc32_ieee_more(crc32_ieee(check, k), &check[k], 9 - k), 0xCBF43926u);
    }
    unsigned char buf[300];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)(i * 151 + 7);
    int bad = 0;
    for (size_t off = 0; off < 8; off++)
        for (size_t n = 0; n + off <= sizeof buf; n++) bad += crc32_ieee(buf + off, n) != bitwise(buf + off, n);
    CHECK_INT(bad, 0);
    TEST_MAIN_END();
}
