/* crc32: the CRC-32 of IEEE 802.3 (zlib's, PNG's), for files that check
 * themselves: the classifier model and the budget state.
 *
 * A table-driven byte-at-a-time loop: both files are read or written a few
 * times an hour at most, so speed does not matter and no table is kept.  The
 * name is not "crc32": libcurl pulls in zlib, whose crc32 would clash. */
#ifndef TIERGATE_CRC32_H
#define TIERGATE_CRC32_H

#include <stddef.h>
#include <stdint.h>

uint32_t crc32_ieee(const void *data, size_t n);

#endif
