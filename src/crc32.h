/* crc32: the CRC-32 of IEEE 802.3 (zlib's, PNG's), for files that check
 * themselves: the classifier model, the budget state and the answer cache.
 *
 * Slicing-by-8, its tables built once (the answer cache checks tens of
 * megabytes at start).  Not thread-safe on its first call; the gateway has
 * one thread.  The name is not "crc32": libcurl
 * pulls in zlib, whose crc32 would clash. */
#ifndef TIERGATE_CRC32_H
#define TIERGATE_CRC32_H

#include <stddef.h>
#include <stdint.h>

uint32_t crc32_ieee(const void *data, size_t n);
/* The CRC-32 of the bytes that gave crc followed by data[0, n):
 * crc32_ieee_more(crc32_ieee(a, k), b, m) is the CRC of a and b together,
 * for a file read in pieces. */
uint32_t crc32_ieee_more(uint32_t crc, const void *data, size_t n);

#endif
