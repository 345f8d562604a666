/* test_buf: appends with and without a cap, the NUL after the data, reads
 * from the front, reclaiming consumed bytes, and free. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "testlib.h"

static void test_append_and_cap(void) {
    buf b = {0};
    size_t n;
    CHECK_STR(buf_data(&b, &n), "");
    CHECK_INT(n, 0);
    CHECK(buf_append(&b, "hello", 5, 10));
    CHECK(buf_append(&b, " world", 5, 10));   /* exactly at the cap */
    CHECK_STR(buf_data(&b, &n), "hello worl");
    CHECK_INT(n, 10);
    /* One byte over the cap: refused, and nothing changed. */
    CHECK(!buf_append(&b, "x", 1, 10));
    CHECK_STR(buf_data(&b, &n), "hello worl");
    /* No cap: grows past its first block, every byte kept. */
    char big[10000];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (char)('a' + i % 26);
    CHECK(buf_append(&b, big, sizeof big, 0));
    const char *d = buf_data(&b, &n);
    CHECK_INT(n, 10 + sizeof big);
    CHECK(memcmp(d + 10, big, sizeof big) == 0);
    CHECK(d[n] == '\0');
    buf_free(&b);
    CHECK(b.p == NULL && b.len == 0 && b.cap == 0);
    CHECK(buf_append(&b, "", 0, 0));
    CHECK_STR(buf_data(&b, &n), "");
    buf_free(&b);
}

static void test_queue(void) {
    buf b = {0};
    char out[8];
    size_t n;
    CHECK_INT(buf_take(&b, out, sizeof out), 0);
    CHECK(buf_append(&b, "abcdef", 6, 0));
    CHECK_INT(buf_take(&b, out, 4), 4);
    CHECK(memcmp(out, "abcd", 4) == 0);
    CHECK_STR(buf_data(&b, &n), "ef");
    /* The cap counts unconsumed bytes only. */
    CHECK(buf_append(&b, "gh", 2, 4));
    CHECK(!buf_append(&b, "i", 1, 4));
    CHECK_INT(buf_take(&b, out, sizeof out), 4);
    CHECK(memcmp(out, "efgh", 4) == 0);
    /* Drained: the block is reused from its start. */
    CHECK_INT(b.len, 0);
    CHECK_INT(b.off, 0);
    /* Consumed bytes are reclaimed rather than grown over. */
    char block[4000];
    memset(block, 'x', sizeof block);
    CHECK(buf_append(&b, block, sizeof block, 0));
    size_t cap = b.cap;
    CHECK_INT(buf_take(&b, block, 3000), 3000);
    CHECK(buf_append(&b, block, 3000, 0));
    CHECK_INT(b.cap, cap);
    CHECK_INT(b.off, 0);
    buf_data(&b, &n);
    CHECK_INT(n, 4000);
    buf_free(&b);
}

int main(void) {
    test_append_and_cap();
    test_queue();
    TEST_MAIN_END();
}
