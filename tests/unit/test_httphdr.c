/* test_httphdr: header values and the Retry-After rules: seconds, an
 * HTTP-date, retry-after-ms winning over both, the first Retry-After
 * winning over a later one, and what is ignored. */
#include <string.h>

#include "httphdr.h"
#include "testlib.h"

static int ra(const char *line, int known) { return httphdr_retry_after(line, strlen(line), known, 784111777); }

int main(void) {
    char v[16];
    const char *l = "Content-Type:  text/event-stream \r\n";
    CHECK_STR(httphdr_value(l, strlen(l), "content-type", v, sizeof v), "text/event-stre");
    CHECK(httphdr_value(l, strlen(l), "content", v, sizeof v) == NULL);
    CHECK(httphdr_value("X: 1\r\n", 6, "content-type", v, sizeof v) == NULL);

    CHECK_INT(ra("Retry-After: 2\r\n", -1), 2000);
    CHECK_INT(ra("retry-after: 0\r\n", -1), 0);
    CHECK_INT(ra("Retry-After: 2\r\n", 500), 500);            /* a wait is known already */
    CHECK_INT(ra("retry-after-ms: 250\r\n", 2000), 250);      /* finer, and wins */
    CHECK_INT(ra("retry-after-ms: 12.5\r\n", -1), 12);
    /* 784111777 is Sun, 06 Nov 1994 08:49:37 GMT */
    CHECK_INT(ra("Retry-After: Sun, 06 Nov 1994 08:49:40 GMT\r\n", -1), 3000);
    CHECK_INT(ra("Retry-After: Sun, 06 Nov 1994 08:49:00 GMT\r\n", -1), 0);   /* past: at once */
    CHECK_INT(ra("Retry-After: Mon, 07 Nov 1994 08:49:37 GMT\r\n", -1), -1);  /* a day: ignored */
    CHECK_INT(ra("Retry-After: 86400\r\n", -1), -1);
    CHECK_INT(ra("Retry-After: soon\r\n", -1), -1);
    CHECK_INT(ra("retry-after-ms: -5\r\n", -1), -1);
    CHECK_INT(ra("X-Other: 5\r\n", 7), 7);
    TEST_MAIN_END();
}
