/* wordhash: the 64-bit hash of a word's bytes that the classifier's scanner
 * (scan.c) turns into a feature index.  The model file's weights depend on
 * it: changing it changes what every word maps to (FEATURES_VERSION). */
#ifndef TIERGATE_WORDHASH_H
#define TIERGATE_WORDHASH_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of a word that its hash reads. */
#define WORD_HASH_MAX 64

/* Hash of a word of total bytes, of which p holds at least the first
 * min(total, WORD_HASH_MAX), and avail (>= that) bytes may be read.  ASCII
 * letters hash as their lower case. */
uint64_t wordhash(const unsigned char *p, size_t total, size_t avail);

#endif
