/* utf8: the strict validator on the boundaries of table 3-7, and the decoder
 * and encoder that agree with it. */
#include <stdint.h>

#include "testlib.h"
#include "utf8.h"

static int first_bad(const char *s) { return (int)utf8_invalid_offset(s, strlen(s)); }

int main(void) {
    /* Lower case for the alphabets read in words; everything else as it is. */
    CHECK_INT(utf8_lower('Q'), 'q');
    CHECK_INT(utf8_lower('q'), 'q');
    CHECK_INT(utf8_lower('['), '[');
    CHECK_INT(utf8_lower(0xC9), 0xE9);                     /* É -> é */
    CHECK_INT(utf8_lower(0xD7), 0xD7);                     /* the multiplication sign */
    CHECK_INT(utf8_lower(0xDF), 0xDF);                     /* ß has no capital here */
    CHECK_INT(utf8_lower(0x11E), 0x11F);                   /* Ğ -> ğ */
    CHECK_INT(utf8_lower(0x130), 'i');                     /* İ -> i */
    CHECK_INT(utf8_lower(0x131), 0x131);                   /* ı stays */
    CHECK_INT(utf8_lower(0x141), 0x142);                   /* Ł -> ł (odd capitals) */
    CHECK_INT(utf8_lower(0x17D), 0x17E);                   /* Ž -> ž */
    CHECK_INT(utf8_lower(0x410), 0x430);                   /* А -> а */
    CHECK_INT(utf8_lower(0x401), 0x451);                   /* Ё -> ё */
    CHECK_INT(utf8_lower(0x44F), 0x44F);
    CHECK_INT(utf8_lower(0x4E00), 0x4E00);
    CHECK_INT(utf8_lower(0x42F), 0x44F);                   /* Я -> я, the last capital */
    /* No capital at or above U+0430: lower-case Cyrillic, Arabic and the
     * rest leave as they are (the early exit that keeps Russian and Arabic
     * words cheap). */
    {
        uint32_t moved = 0;
        for (uint32_t cp = 0x430; cp < 0x3000; cp++) moved += utf8_lower(cp) != cp;
        CHECK_INT(moved, 0);
    }
    CHECK_INT(first_bad("plain ascii, long enough to take the 8-byte path"), 48);
    CHECK_INT(first_bad("打开空调"), 12);
    CHECK_INT(first_bad("\xF0\x9F\x98\x80"), 4);            /* U+1F600 */
    CHECK_INT(first_bad("ok\xC0\xAF"), 2);                 /* overlong '/' */
    CHECK_INT(first_bad("ok\xE0\x80\xAF"), 2);             /* overlong, 3 bytes */
    CHECK_INT(first_bad("abc\xED\xA0\x80"), 3);            /* surrogate U+D800 */
    CHECK_INT(first_bad("\xF4\x90\x80\x80"), 0);           /* above U+10FFFF */
    CHECK_INT(first_bad("12345678\xFF"), 8);               /* after the fast path */
    CHECK_INT(first_bad("\xE6\x89"), 0);                   /* cut short */
    const unsigned char cut[] = {0xE6, 0x89};
    CHECK_INT(utf8_char(cut, 2), -1);                      /* valid start, cut off */
    const unsigned char bad[] = {0xE6, 0x41};
    CHECK_INT(utf8_char(bad, 2), 0);
    const unsigned char two[] = {0xC3, 0xA9};
    CHECK_INT(utf8_char(two, 2), 2);

    /* Decoding: every length, and one byte of U+FFFD for anything invalid. */
    static const struct { const char *s; uint32_t cp; size_t len; } dec[] = {
        {"A", 'A', 1}, {"\xC3\xA9", 0xE9, 2}, {"\xE6\x89\x93", 0x6253, 3}, {"\xF0\x9F\x98\x80", 0x1F600, 4},
        {"\xC0\xAF", 0xFFFD, 1}, {"\xED\xA0\x80", 0xFFFD, 1}, {"\xE6\x89", 0xFFFD, 1}, {"\xFF", 0xFFFD, 1},
        {"\x80", 0xFFFD, 1},
    };
    for (size_t i = 0; i < sizeof dec / sizeof dec[0]; i++) {
        size_t len = 9;
        CHECK_INT(utf8_decode((const unsigned char *)dec[i].s, strlen(dec[i].s), &len), dec[i].cp);
        CHECK_INT(len, dec[i].len);
    }
    /* Encoding round-trips through the decoder at every length boundary. */
    static const uint32_t cps[] = {0, 0x7F, 0x80, 0x7FF, 0x800, 0xFFFF, 0x10000, 0x10FFFF, 0x4E2D};
    for (size_t i = 0; i < sizeof cps / sizeof cps[0]; i++) {
        unsigned char u[4];
        size_t n = utf8_encode(cps[i], u), len = 0;
        CHECK_INT(utf8_char(u, n), (int)n);
        CHECK_INT(utf8_decode(u, n, &len), cps[i]);
        CHECK_INT(len, n);
    }
    TEST_MAIN_END();
}
