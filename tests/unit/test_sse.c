/* Unit tests for the SSE parser: line endings, field rules, splitting the
 * stream at every byte, the size limit, and the callback's stop value. */
#include <stdlib.h>
#include <string.h>

#include "sse.h"
#include "testlib.h"

/* Events are recorded as "name|data;" in one string, so a whole event
 * sequence compares with one CHECK_STR. */
typedef struct recorder {
    char log[8192];
    size_t len;
    int nevents;
    int stop_after;    /* stop with stop_value at this event (1-based); 0 never */
    int stop_value;
} recorder;

static void log_bytes(recorder *r, const char *s, size_t n) {
    if (r->len + n >= sizeof r->log) n = sizeof r->log - 1 - r->len;
    memcpy(r->log + r->len, s, n);
    r->len += n;
    r->log[r->len] = '\0';
}

static int record(void *ud, const char *event, const char *data, size_t len) {
    recorder *r = ud;

    CHECK(data[len] == '\0');
    log_bytes(r, event, strlen(event));
    log_bytes(r, "|", 1);
    log_bytes(r, data, len);
    log_bytes(r, ";", 1);
    r->nevents++;
    return r->stop_after && r->nevents == r->stop_after ? r->stop_value : 0;
}

/* Feeds text in pieces cut at the given offsets (ascending), then finishes. */
static int parse_split(const char *text, size_t len, const size_t *cuts, size_t ncuts,
                       size_t max, recorder *r) {
    sse_parser *p = sse_new(max, record, r);
    size_t from = 0;
    int rc = 0;

    for (size_t i = 0; i <= ncuts && rc == 0; i++) {
        size_t to = i < ncuts ? cuts[i] : len;
        rc = sse_feed(p, text + from, to - from);
        from = to;
    }
    if (rc == 0) rc = sse_finish(p);
    sse_free(p);
    return rc;
}

static const char *parse(const char *text) {
    static recorder r;
    memset(&r, 0, sizeof r);
    CHECK_INT(parse_split(text, strlen(text), NULL, 0, 1 << 20, &r), 0);
    return r.log;
}

static void test_line_endings(void) {
    CHECK_STR(parse("data: hello\n\n"), "|hello;");
    CHECK_STR(parse("data: hello\r\n\r\n"), "|hello;");
    CHECK_STR(parse("data: hello\r\r"), "|hello;");
    CHECK_STR(parse("data: a\r\ndata: b\rdata: c\n\r\ndata: d\r\r\n\n"), "|a\nb\nc;|d;");
    /* "\n\r" is two line ends, so it ends the event. */
    CHECK_STR(parse("data: a\n\rdata: b\n\n"), "|a;|b;");
}

static void test_fields(void) {
    CHECK_STR(parse("data:x\n\n"), "|x;");
    CHECK_STR(parse("data:  two\n\n"), "| two;");
    CHECK_STR(parse("data: a\ndata: b\ndata:\ndata: c\n\n"), "|a\nb\n\nc;");
    CHECK_STR(parse("data\n\n"), "|;");
    CHECK_STR(parse("data:\n\n"), "|;");
    CHECK_STR(parse("data: a:b: c\n\n"), "|a:b: c;");
    CHECK_STR(parse("id: 7\nretry: 100\nfoo: bar\ndata: x\n\n"), "|x;");
    CHECK_STR(parse("Data: x\n\n"), "");
    CHECK_STR(parse(" data: x\n\n"), "");
    CHECK_STR(parse("data : x\n\n"), "");
    CHECK_STR(parse("\xEF\xBB\xBF" "data: bom\n\n"), "|bom;");
    CHECK_STR(parse("data: x\n\n\xEF\xBB\xBF" "data: y\n\n"), "|x;");
}

static void test_comments_and_keepalive(void) {
    CHECK_STR(parse(": keep-alive\n\n"), "");
    CHECK_STR(parse(":\n\n: keepalive\r\n\r\n"), "");
    CHECK_STR(parse("data: a\n: in between\ndata: b\n\n"), "|a\nb;");
    CHECK_STR(parse("\n\n\n\ndata: x\n\n\n\n"), "|x;");
}

static void test_event_names(void) {
    CHECK_STR(parse("event: error\ndata: {\"e\":1}\n\n"), "error|{\"e\":1};");
    CHECK_STR(parse("event: a\nevent: b\ndata: x\n\ndata: y\n\n"), "b|x;|y;");
    /* An event with no data is not delivered and its name does not leak. */
    CHECK_STR(parse("event: ping\n\ndata: y\n\n"), "|y;");
    CHECK_STR(parse("event\ndata: x\n\n"), "|x;");
}

static void test_openai_stream(void) {
    const char *s =
        "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n"
        ": keepalive\n\n"
        "data:{\"code\":0,\"sid\":\"x\"}\n\n"
        "data: [DONE]\n\n";
    CHECK_STR(parse(s), "|{\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]};|{\"code\":0,\"sid\":\"x\"};|[DONE];");
}

static void test_every_split(void) {
    static const char *streams[] = {
        "data: one\n\nevent: e\ndata: two\ndata: 2\n\n: c\n\ndata: [DONE]\n\n",
        "data: one\r\n\r\nevent: e\r\ndata: two\r\ndata: 2\r\n\r\n: c\r\n\r\ndata: [DONE]\r\n\r\n",
        "data: one\r\revent: e\rdata: two\rdata: 2\r\r: c\r\rdata: [DONE]\r\r",
        "\357\273\277data:a\r\n\ndata\r\r\ndata: b\n\rdata: [DONE]",
    };
    for (size_t s = 0; s < sizeof streams / sizeof *streams; s++) {
        const char *text = streams[s];
        size_t len = strlen(text), bad = 0;
        recorder whole, bytes;
        size_t cuts[512];

        memset(&whole, 0, sizeof whole);
        CHECK_INT(parse_split(text, len, NULL, 0, 4096, &whole), 0);
        CHECK(whole.nevents >= 3);

        for (size_t i = 1; i < len; i++) {
            recorder r;
            memset(&r, 0, sizeof r);
            if (parse_split(text, len, &i, 1, 4096, &r) != 0 || strcmp(r.log, whole.log) != 0) bad++;
            for (size_t j = i + 1; j < len; j++) {
                size_t two[2] = {i, j};
                memset(&r, 0, sizeof r);
                if (parse_split(text, len, two, 2, 4096, &r) != 0 || strcmp(r.log, whole.log) != 0) bad++;
            }
        }
        CHECK_INT(bad, 0);

        for (size_t i = 0; i + 1 < len; i++) cuts[i] = i + 1;
        memset(&bytes, 0, sizeof bytes);
        CHECK_INT(parse_split(text, len, cuts, len - 1, 4096, &bytes), 0);
        CHECK_STR(bytes.log, whole.log);
    }
}

static void test_too_large(void) {
    char big[300];
    recorder r;
    sse_parser *p;

    /* The limit covers the data plus the line being read, field name and all. */
    memset(&r, 0, sizeof r);
    CHECK_INT(parse_split("data: 1234\n\n", 12, NULL, 0, 10, &r), 0);
    CHECK_STR(r.log, "|1234;");
    memset(&r, 0, sizeof r);
    CHECK_INT(parse_split("data: 12345\n\n", 13, NULL, 0, 10, &r), SSE_ERR_TOO_LARGE);
    CHECK_INT(r.nevents, 0);

    /* Data accumulated over many lines. */
    memset(&r, 0, sizeof r);
    CHECK_INT(parse_split("data: 12\ndata: 34\ndata: 56\n\n", 28, NULL, 0, 12, &r), SSE_ERR_TOO_LARGE);
    CHECK_INT(r.nevents, 0);

    /* A line that never ends, fed in pieces, fails before it ends. */
    memset(big, 'x', sizeof big);
    memset(&r, 0, sizeof r);
    p = sse_new(256, record, &r);
    CHECK_INT(sse_feed(p, ": ", 2), 0);
    CHECK_INT(sse_feed(p, big, 200), 0);
    CHECK_INT(sse_feed(p, big, 200), SSE_ERR_TOO_LARGE);
    /* The error sticks. */
    CHECK_INT(sse_feed(p, "\n\ndata: x\n\n", 11), SSE_ERR_TOO_LARGE);
    CHECK_INT(sse_finish(p), SSE_ERR_TOO_LARGE);
    CHECK_INT(r.nevents, 0);
    sse_free(p);

    /* The same comment in one feed fails the same way. */
    memset(&r, 0, sizeof r);
    p = sse_new(256, record, &r);
    CHECK_INT(sse_feed(p, big, sizeof big), SSE_ERR_TOO_LARGE);
    sse_free(p);

    /* Events before the oversized one are delivered. */
    memset(&r, 0, sizeof r);
    p = sse_new(256, record, &r);
    CHECK_INT(sse_feed(p, "data: ok\n\n", 10), 0);
    CHECK_INT(sse_feed(p, "data: ", 6), 0);
    CHECK_INT(sse_feed(p, big, sizeof big), SSE_ERR_TOO_LARGE);
    CHECK_STR(r.log, "|ok;");
    sse_free(p);
}

static void test_stop_value(void) {
    const char *s = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
    recorder r;
    sse_parser *p;

    memset(&r, 0, sizeof r);
    r.stop_after = 2;
    r.stop_value = 42;
    p = sse_new(1024, record, &r);
    CHECK_INT(sse_feed(p, s, strlen(s)), 42);
    CHECK_STR(r.log, "|1;|2;");
    CHECK_INT(sse_feed(p, s, strlen(s)), 42);
    CHECK_INT(r.nevents, 2);
    sse_free(p);

    /* A stop during sse_finish is returned by sse_finish. */
    memset(&r, 0, sizeof r);
    r.stop_after = 1;
    r.stop_value = 7;
    p = sse_new(1024, record, &r);
    CHECK_INT(sse_feed(p, "data: x", 7), 0);
    CHECK_INT(sse_finish(p), 7);
    sse_free(p);
}

static void test_finish(void) {
    recorder r;
    sse_parser *p;

    CHECK_STR(parse("data: no blank line\n"), "|no blank line;");
    CHECK_STR(parse("data: no line end"), "|no line end;");
    CHECK_STR(parse("data: a\ndata: b\r"), "|a\nb;");
    CHECK_STR(parse("event: x\n"), "");
    CHECK_STR(parse(": only a comment"), "");

    memset(&r, 0, sizeof r);
    p = sse_new(1024, record, &r);
    CHECK_INT(sse_feed(p, "", 0), 0);
    CHECK_INT(sse_feed(p, NULL, 0), 0);
    CHECK_INT(sse_finish(p), 0);
    CHECK_INT(r.nevents, 0);
    sse_free(p);
    sse_free(NULL);
}

static void test_binary_data(void) {
    static const char s[] = "data: a\0b\n\n";
    recorder r;

    memset(&r, 0, sizeof r);
    CHECK_INT(parse_split(s, sizeof s - 1, NULL, 0, 1024, &r), 0);
    CHECK_INT(r.nevents, 1);
    CHECK_INT(r.len, 5);
    CHECK(memcmp(r.log, "|a\0b;", 5) == 0);
}

int main(void) {
    test_line_endings();
    test_fields();
    test_comments_and_keepalive();
    test_event_names();
    test_openai_stream();
    test_every_split();
    test_too_large();
    test_stop_value();
    test_finish();
    test_binary_data();
    TEST_MAIN_END();
}
