/* libFuzzer target for the body of PUT /v1/link (linkreport_parse).
 *
 * A refused body must give a 400 with a code and a one-line, non-empty
 * message; an accepted one a state of the three, for_ms in range and a
 * reason that is valid UTF-8, at most 200 bytes, with no control
 * characters. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linkreport.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Not assert(): fuzz builds may define NDEBUG, and these checks are the point. */
#define REQUIRE(cond) do { \
        if (!(cond)) { fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); abort(); } \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    linkreport_body b;
    api_error e = {0};
    if (linkreport_parse((const char *)data, size, &b, &e) < 0) {
        REQUIRE(e.status == 400 && e.code && *e.code);
        REQUIRE(*e.message && !strchr(e.message, '\n'));
        return 0;
    }
    REQUIRE(b.state == LINK_GOOD || b.state == LINK_WEAK || b.state == LINK_OFFLINE);
    REQUIRE(b.for_ms >= 1 && b.for_ms <= LINKREPORT_MAX_FOR_MS);
    size_t n = strlen(b.reason);
    REQUIRE(n <= LINKREPORT_MAX_REASON && utf8_invalid_offset(b.reason, n) == n);
    for (size_t i = 0; i < n; i++) REQUIRE((unsigned char)b.reason[i] >= 0x20 && b.reason[i] != 0x7f);
    return 0;
}
