/* libFuzzer target for the budget's state file (budget_decode).
 *
 * The first byte chooses how the rest is read: even, as a whole file; odd,
 * as the body of a file whose header (length and CRC-32) is made here, so
 * that mutations reach the body's checks instead of dying at the checksum.
 * A refused file must give a one-line, non-empty message and change nothing;
 * an accepted one must encode and decode again to the very same bytes and
 * spend. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "crc32.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Not assert(): fuzz builds may define NDEBUG, and these checks are the point. */
#define REQUIRE(cond) do { \
        if (!(cond)) { fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); abort(); } \
    } while (0)

/* Earlier than any day a file can name, so encoding keeps the file's day. */
#define LONG_AGO (-(INT64_C(1) << 40))

static budget *fresh(void) {
    static const budget_key_cap caps[] = {{"a", 1.0}};
    budget_limits l = {5.0, 2.0, caps, 1, 0};
    budget *b = budget_new(&l);
    REQUIRE(b);
    return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    char *file = NULL, err[256];
    size_t len = size - 1;
    const char *rest = (const char *)data + 1;
    if (data[0] & 1) {
        char header[64];
        int h = snprintf(header, sizeof header, "tiergate-budget %d %zu %08x\n", BUDGET_VERSION, len,
                         (unsigned)crc32_ieee(rest, len));
        file = malloc((size_t)h + len + 1);
        REQUIRE(file);
        memcpy(file, header, (size_t)h);
        memcpy(file + h, rest, len);
        len += (size_t)h;
    } else {
        file = malloc(len + 1);
        REQUIRE(file);
        memcpy(file, rest, len);
    }

    budget *b = fresh();
    budget_charge(b, "a", 0.5, 0);
    memset(err, 'x', sizeof err);
    if (budget_decode(b, file, len, err, sizeof err) < 0) {
        REQUIRE(memchr(err, '\0', sizeof err) && err[0] && !strchr(err, '\n'));
        REQUIRE(budget_spent(b, NULL, 0) == 0.5 && budget_spent(b, "a", 0) == 0.5);
        goto done;
    }
    size_t n1, n2;
    char *first = budget_encode(b, LONG_AGO, &n1);
    REQUIRE(first);
    budget *c = fresh();
    REQUIRE(budget_decode(c, first, n1, err, sizeof err) == 0);
    char *second = budget_encode(c, LONG_AGO, &n2);
    REQUIRE(second && n1 == n2 && memcmp(first, second, n1) == 0);
    REQUIRE(budget_spent(b, NULL, LONG_AGO) == budget_spent(c, NULL, LONG_AGO));
    REQUIRE(budget_spent(b, "a", LONG_AGO) == budget_spent(c, "a", LONG_AGO));
    REQUIRE(budget_spent(c, "a", LONG_AGO) <= budget_spent(c, NULL, LONG_AGO));
    free(first);
    free(second);
    budget_free(c);
done:
    budget_free(b);
    free(file);
    return 0;
}
