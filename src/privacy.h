/* privacy: personal data in a chat request, per privacy.mode.
 *
 * A privacy_call belongs to one request.  It scans the messages' text
 * (contents, text parts, tool-call arguments) with pii_scan(); in "local"
 * mode a request with personal data must stay on the device tier (the
 * router's device_only); in "redact" mode it builds the body larger tiers
 * get, every value masked (redact.h), and restores the values in their
 * answers, whole or streamed.  Only kinds are ever reported, never values. */
#ifndef TIERGATE_PRIVACY_H
#define TIERGATE_PRIVACY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "request.h"

struct cJSON;
struct configread;

/* Reads the "privacy" section of root into c (part of config_parse, like
 * cacheconf): mode, detectors (an object of built-in kind names, as
 * privacy.found spells them, to booleans, {"NAME": false}; kinds not named
 * stay on) and the operator's patterns, compiled; what it allocates is
 * config_free's.  -1 with the message in r. */
int privacy_parse_config(struct configread *r, const struct cJSON *root, config *c);

/* Kinds found: bit k for built-in kind k, bit PII_BUILTIN_KINDS + i for
 * operator pattern i. */
typedef uint64_t privacy_kinds;

typedef struct privacy_call privacy_call;

/* Scans req; in redact mode with personal data found, also sets
 * req->redacted (owned by the call, which must outlive req's use).  NULL
 * when out of memory. */
privacy_call *privacy_call_new(const config *cfg, chatreq *req);
void privacy_call_free(privacy_call *p);

privacy_kinds privacy_found(const privacy_call *p);
/* Whether any text the call scans (contents, text parts, tool-call
 * arguments) of the request body root holds personal data of any
 * built-in kind, whatever privacy.detectors and privacy.mode say, or of
 * the operator's patterns: the answer cache's check before it keeps an
 * answer, which outlives the request.  1, 0, or -1 when out of memory. */
int privacy_scan_all(const config *cfg, const struct cJSON *root);
/* True when the request must not leave the device tier. */
bool privacy_device_only(const privacy_call *p);
/* The kinds as names, "PHONE,EMAIL" into buf, or as a JSON array. */
void privacy_kinds_str(const config *cfg, privacy_kinds k, char *buf, size_t n);
struct cJSON *privacy_kinds_json(const config *cfg, privacy_kinds k);

/* The messages the classifier should read: req's, or, when personal data
 * was found, a copy with each value replaced by one space.  Valid while
 * both p and req live. */
const feature_message *privacy_scoring_msgs(const privacy_call *p, const chatreq *req);

/* Restores the placeholders in the answer of backend b, in place: message
 * content and tool-call arguments of a response, delta content and tool
 * arguments of a chunk.  Nothing to do unless b got the masked body. */
void privacy_restore_response(privacy_call *p, const config_backend *b, struct cJSON *body);
void privacy_restore_chunk(privacy_call *p, const config_backend *b, struct cJSON *chunk);
/* At the end of a stream: a chunk with the text still held back (a
 * placeholder's start the stream never completed), or NULL. */
struct cJSON *privacy_flush_chunk(privacy_call *p);

/* Issue 15.  The text a client has received (text, n bytes, restored),
 * as backend b must be sent it to continue the answer: masked with the
 * request's own placeholders when b gets the masked request, else as it
 * is; malloc'd into *out (NUL-terminated, length *outlen), -1 when out of
 * memory.  The restore streams' held bytes (a placeholder's start the
 * client never received) are dropped: the continuation writes it again.
 * 1, and nothing in *out, when b gets the masked request but the text ends
 * inside a personal value the client has part of (redact_cut_in_value):
 * that part would reach b unmasked, so b must not continue it. */
int privacy_continuation_text(privacy_call *p, const config_backend *b, const char *text, size_t n, char **out,
                              size_t *outlen);

#endif
