/* invariant: see invariant.h.  The line is written with plain stdio rather
 * than through log.c's buffers: what broke may be the memory those use. */
#include "invariant.h"

#include <stdio.h>
#include <stdlib.h>

_Noreturn void invariant_failed(const char *what, const char *file, int line) {
    fprintf(stderr, "{\"level\":\"error\",\"msg\":\"invariant broken\",\"check\":\"%s\",\"at\":\"%s:%d\"}\n",
            what, file, line);
    fflush(stderr);
    abort();
}

bool invariant_asserts_on(void) {
#ifdef NDEBUG
    return false;
#else
    return true;
#endif
}
