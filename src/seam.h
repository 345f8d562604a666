/* seam: where a continuation's text joins the text a client already has.
 *
 * A continuation (issue 15) asks a backend to go on from a prefix: the text
 * relayed so far, without its trailing whitespace (templates trim it, and a
 * model then writes it again; docs/resilience.md).  The backend's first
 * chunks wait here until the seam is known: either the answer starts over
 * (its first bytes are the prefix's first bytes: a backend that ignored the
 * continuation, which must become a clean error, not a doubled answer), or
 * it continues, and then the whitespace the client already has is dropped
 * from its start as far as the two agree.  The continuation's own role
 * delta is dropped too: the client had one.  Only choice 0 is joined. */
#ifndef TIERGATE_SEAM_H
#define TIERGATE_SEAM_H

#include <stdbool.h>
#include <stddef.h>

struct cJSON;

/* Bytes of the prefix's start that a restart must repeat to be taken for
 * one: more than a coincidence, fewer than a short answer's first chunk. */
#define SEAM_PROBE 16

typedef enum {
    SEAM_WAIT,       /* not enough text yet to tell */
    SEAM_JOINED,     /* it continues: seam_next gives the chunks */
    SEAM_RESTARTED   /* it started over */
} seam_verdict;

typedef struct seam seam;

/* A seam for the prefix sent (sent, nsent bytes) and what the client has
 * beyond it (have, nhave: whitespace); both copied.  NULL when out of memory. */
seam *seam_new(const char *sent, size_t nsent, const char *have, size_t nhave);
void seam_free(seam *s);

/* Splits text (a prefix the client has) into what to send, its length
 * without trailing ASCII whitespace, and the rest; a text of whitespace
 * only is sent whole. */
size_t seam_send_len(const char *text, size_t len);

/* Takes a chunk (ownership passes).  SEAM_WAIT until the text held shows
 * a restart or reaches SEAM_PROBE bytes, or the chunk carries a
 * finish_reason; -1 when out of memory. */
int seam_add(seam *s, struct cJSON *chunk);
/* The verdict on what arrived, when nothing more will (the stream ended). */
seam_verdict seam_settle(seam *s);
/* After SEAM_JOINED: the held chunks in order, seamed (the caller's to
 * delete), then NULL; later chunks go straight to the caller. */
struct cJSON *seam_next(seam *s);

#endif
