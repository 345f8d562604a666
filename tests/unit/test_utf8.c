/* utf8: the strict validator on the boundaries of table 3-7. */
#include "testlib.h"
#include "utf8.h"

static int first_bad(const char *s) { return (int)utf8_invalid_offset(s, strlen(s)); }

int main(void) {
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
    TEST_MAIN_END();
}
