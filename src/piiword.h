/* piiword: personal data found by its words: addresses and names.
 *
 * ADDRESS: a Chinese road or compound with a house or building number
 * (…路88号3单元502, …小区5号楼), extended back over the city and district
 * written before it; an English house number, street name and street word
 * (221B Baker Street), with apartment, city, state and postcode after it.
 * NAME: a Chinese surname and one or two given characters after a contact
 * verb (给…打电话, 联系, 我叫) or before 的电话; English capitalised words
 * after a contact verb (call, text, tell …), "my name is", "my wife", or
 * before "'s number".  Called by pii_scan's pass (pii.h) where these may
 * start; rules and their trade-offs are in docs/privacy.md. */
#ifndef TIERGATE_PIIWORD_H
#define TIERGATE_PIIWORD_H

#include <stdbool.h>
#include <stdint.h>

#include "pii.h"
#include "piitext.h"

/* At i, the start of an ASCII token: a house number that starts an
 * address, or a word that introduces a name (the hit then lies after i). */
bool piiword_ascii(const pii_text *t, size_t i, pii_kindset kinds, pii_ctx *ctx, pii_hit *h);

/* At i, a Chinese character cp of classes cls (piitext.h): a surname that
 * starts a name, or the road or compound word of an address (the hit then
 * starts before i). */
bool piiword_cjk(const pii_text *t, size_t i, uint32_t cp, unsigned cls, pii_kindset kinds, pii_ctx *ctx,
                 pii_hit *h);

#endif
