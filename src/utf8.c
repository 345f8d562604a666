/* utf8: the strict validator, and a decoder and encoder that agree with it.
 * Requests are mostly ASCII, so the validating scan skips ASCII eight bytes
 * at a time and decodes only the rest. */
#include "utf8.h"

#include <stdint.h>
#include <string.h>

/* Classifies the bytes at s (n > 0 available): the length of a well-formed
 * UTF-8 character, 0 for a malformed one, or -1 for the valid beginning of a
 * character that the end of the text cuts off.  Strict (Unicode table 3-7):
 * no overlongs, no surrogates, nothing above U+10FFFF. */
int utf8_char(const unsigned char *s, size_t n) {
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    size_t len, i;

    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) len = 3;
    else if (c >= 0xF0 && c <= 0xF4) len = 4;
    else return 0;
    if (c == 0xE0) lo = 0xA0;
    else if (c == 0xED) hi = 0x9F;
    else if (c == 0xF0) lo = 0x90;
    else if (c == 0xF4) hi = 0x8F;
    for (i = 1; i < len && i < n; i++) {
        if (s[i] < lo || s[i] > hi) return 0;
        lo = 0x80;
        hi = 0xBF;
    }
    return i == len ? (int)len : -1;
}

/* Offset of the first byte that is not well-formed UTF-8, or len. */
size_t utf8_invalid_offset(const char *text, size_t len) {
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;

    while (i < len) {
        if (s[i] < 0x80) {
            /* Requests are mostly ASCII: skip it a word at a time. */
            uint64_t word;
            while (i + 8 <= len && (memcpy(&word, s + i, 8), (word & 0x8080808080808080ull) == 0))
                i += 8;
            while (i < len && s[i] < 0x80) i++;
            continue;
        }
        int n = utf8_char(s + i, len - i);
        if (n <= 0) return i;
        i += (size_t)n;
    }
    return len;
}

uint32_t utf8_decode(const unsigned char *s, size_t n, size_t *len) {
    int k = utf8_char(s, n);
    uint32_t cp;

    if (k <= 0) {
        *len = 1;
        return 0xFFFD;
    }
    cp = k == 1 ? s[0] : k == 2 ? s[0] & 0x1Fu : k == 3 ? s[0] & 0x0Fu : s[0] & 0x07u;
    for (int i = 1; i < k; i++) cp = cp << 6 | (s[i] & 0x3Fu);
    *len = (size_t)k;
    return cp;
}

size_t utf8_encode(uint32_t cp, unsigned char out[4]) {
    size_t n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;

    if (n == 1) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    for (size_t k = n - 1; k > 0; k--, cp >>= 6) out[k] = (unsigned char)(0x80 | (cp & 0x3F));
    out[0] = (unsigned char)((0xF00u >> n) | cp);
    return n;
}

uint32_t utf8_lower(uint32_t cp)
{
    /* Every capital below is under U+0430; the letters above it (lower-case
     * Cyrillic, Arabic, ...), most of a Russian or Arabic text, leave at
     * once. */
    if (cp >= 0x430) return cp;
    if (cp - 'A' < 26u || (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) || (cp >= 0x410 && cp <= 0x42F)) return cp + 0x20;
    if (cp >= 0x400 && cp <= 0x40F) return cp + 0x50;
    if (cp == 0x130) return 'i';
    if ((cp >= 0x100 && cp <= 0x137) || (cp >= 0x14A && cp <= 0x177)) return cp | 1;
    if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E)) return cp & 1 ? cp + 1 : cp;
    return cp;
}
