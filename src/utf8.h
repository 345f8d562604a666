/* utf8: strict UTF-8 checks (Unicode table 3-7: no overlongs, no surrogates,
 * nothing above U+10FFFF), shared by request validation and error bodies, so
 * there is one definition of "valid text" in the gateway. */
#ifndef TIERGATE_UTF8_H
#define TIERGATE_UTF8_H

#include <stddef.h>

/* The bytes at s (n > 0 available): the length of a well-formed character,
 * 0 for a malformed one, or -1 for the valid start of a character that the
 * end of the text cuts off. */
int utf8_char(const unsigned char *s, size_t n);
/* Offset of the first byte that is not well-formed UTF-8, or len. */
size_t utf8_invalid_offset(const char *text, size_t len);

#endif
