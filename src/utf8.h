/* utf8: strict UTF-8 checks (Unicode table 3-7: no overlongs, no surrogates,
 * nothing above U+10FFFF), shared by request validation, error bodies and the
 * classifier's features, so there is one definition of "valid text" in the
 * gateway; and decoding and encoding by that definition. */
#ifndef TIERGATE_UTF8_H
#define TIERGATE_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* The bytes at s (n > 0 available): the length of a well-formed character,
 * 0 for a malformed one, or -1 for the valid start of a character that the
 * end of the text cuts off. */
int utf8_char(const unsigned char *s, size_t n);
/* Offset of the first byte that is not well-formed UTF-8, or len. */
size_t utf8_invalid_offset(const char *text, size_t len);
/* The code point at s (n > 0 available) and in *len its length; a malformed
 * or cut sequence is one byte long and decodes to U+FFFD, so a reader always
 * advances and never reads past n. */
uint32_t utf8_decode(const unsigned char *s, size_t n, size_t *len);
/* Writes the UTF-8 of cp (<= U+10FFFF) to out; returns its length. */
size_t utf8_encode(uint32_t cp, unsigned char out[4]);
/* The lower case of cp for the alphabets the classifier reads in words:
 * ASCII, Latin-1, Latin Extended-A and Cyrillic capitals (dotted capital I
 * as i); any other character as it is. */
uint32_t utf8_lower(uint32_t cp);

#endif
