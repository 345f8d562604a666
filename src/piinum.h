/* piinum: personal numbers in the notations people write and say.
 *
 * Landline numbers (Chinese with area code, North American, any number
 * after +country code), mobile and landline numbers spoken digit by digit
 * in Chinese or English words (PHONE); coordinate pairs marked by
 * hemisphere (39.9042°N, N 40° 26.767′, 北纬39.9042度, lat/lon) in decimal
 * degrees, degrees-minutes or degrees-minutes-seconds (GPS); and passport
 * numbers where the text says "passport" or 护照 just before or after
 * (PASSPORT).  Called by pii_scan's pass (pii.h) at the positions where one
 * of these may start; the rules are in docs/privacy.md. */
#ifndef TIERGATE_PIINUM_H
#define TIERGATE_PIINUM_H

#include <stdbool.h>
#include <stdint.h>

#include "pii.h"
#include "piitext.h"

/* At i, the start of an ASCII token (a digit, letter, '+' or '('): fills h
 * and returns true when a number of an enabled kind starts there.  Notes
 * the word "passport" in ctx. */
bool piinum_ascii(const pii_text *t, size_t i, pii_kindset kinds, pii_ctx *ctx, pii_hit *h);

/* At i, a character cp of classes cls (piitext.h) outside ASCII: spoken
 * Chinese digits, 北纬/东经 coordinates, a landline in full-width brackets;
 * notes 护照 in ctx. */
bool piinum_cjk(const pii_text *t, size_t i, uint32_t cp, unsigned cls, pii_kindset kinds, pii_ctx *ctx,
                pii_hit *h);

#endif
