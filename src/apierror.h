/* apierror: the OpenAI error shape, {"error":{"message","type","param","code"}}.
 *
 * Every module that can refuse a request fills an api_error; only the server
 * turns it into bytes, so the shape the official SDKs parse lives in one place. */
#ifndef TIERGATE_APIERROR_H
#define TIERGATE_APIERROR_H

#include <stddef.h>

typedef struct api_error {
    int status;          /* HTTP status, e.g. 400 */
    const char *type;    /* static: "invalid_request_error", "server_error", ... */
    const char *code;    /* static or NULL: "invalid_json", "model_not_found", ... */
    char param[64];      /* "" means null */
    char message[768];
} api_error;

void api_error_set(api_error *e, int status, const char *type, const char *code,
                   const char *param, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Returns the JSON body (malloc'd, NUL-terminated) and its length in *len. */
char *api_error_json(const api_error *e, size_t *len);
/* The same object as an SSE event: "data: {...}\n\n" (malloc'd). */
char *api_error_sse(const api_error *e, size_t *len);

#endif
