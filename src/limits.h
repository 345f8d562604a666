/* limits: the request-shape limits checked before and after parsing.
 *
 * limits_check_body() runs on the raw body before it is parsed, so a deeply
 * nested body is refused without the parser recursing into it;
 * limits_check_request() runs on the parsed request (number of messages,
 * characters over all messages).  Each failure is a 400 with its own code
 * (docs/security.md lists them).  The connection limits live in server.c
 * and connguard.c, where the connections are. */
#ifndef TIERGATE_LIMITS_H
#define TIERGATE_LIMITS_H

#include <stddef.h>

#include "apierror.h"
#include "config.h"
#include "request.h"

/* 0, or -1 with err filled when the body nests deeper than cfg allows. */
int limits_check_body(const config *cfg, const char *body, size_t len, api_error *err);
/* 0, or -1 with err filled when r has too many messages or characters. */
int limits_check_request(const config *cfg, const chatreq *r, api_error *err);

#endif
