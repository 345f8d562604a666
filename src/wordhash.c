/* wordhash: the hash of one word, split out of the scanner (scan.c), which
 * calls it once a word.
 *
 * Eight bytes at a time, read little-endian whatever the host, so that a
 * model file trained on one machine scores alike on another.  Only the
 * first WORD_HASH_MAX bytes are read, and the total length is mixed in, so
 * a long identifier costs at most eight rounds.  The call is not inlined
 * into the scanner's word loop; it costs a few nanoseconds a word, which
 * bench_classifier's English prompt includes. */
#include "wordhash.h"

/* Bytes p[0, 8) as a little-endian number, whatever the host, so that a
 * model file works everywhere (compilers make this one load). */
static uint64_t load64(const unsigned char *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
           (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

/* Hash of a word of total bytes, of which p holds at least the first
 * WORD_HASH_MAX, and avail bytes may be read: eight at a time, past the
 * word's end when the text goes on (those bytes are masked off).  Bit 5 is
 * set in every ASCII byte, which lower-cases A-Z and changes no other byte
 * a word can hold but '_' (to 0x7F, which no word holds). */
uint64_t wordhash(const unsigned char *p, size_t total, size_t avail)
{
    size_t n = total < WORD_HASH_MAX ? total : WORD_HASH_MAX;
    uint64_t h = 0x6a09e667f3bcc908ull ^ (uint64_t)total;

    for (size_t i = 0; i < n; i += 8) {
        size_t k = n - i < 8 ? n - i : 8;
        uint64_t x = 0;
        if (avail - i >= 8) x = load64(p + i);
        else
            for (size_t j = 0; j < k; j++) x |= (uint64_t)p[i + j] << (8 * j);
        x &= ~(uint64_t)0 >> (64 - 8 * k);
        x |= (~x & 0x8080808080808080ull) >> 2;
        h = (h ^ x) * 0x9fb21c651e98df25ull;
        h ^= h >> 29;
    }
    return h;
}
