/* test_exchange_oom: the exchange's answers to running out of memory, on
 * the real server (libmicrohttpd, a loopback socket, the event loop) with
 * each allocation an answer needs made to fail on demand: the response
 * libmicrohttpd is asked for (the test is linked with
 * --wrap=MHD_create_response_from_buffer and
 * --wrap=MHD_create_response_from_callback), the stream's buffer (with
 * --wrap=realloc, the core's reallocs) and the error body (cJSON's hooks).
 *
 * The policy (docs/design.md, "Out of memory"): a request whose answer
 * cannot be built gets a 500 with Connection: close; a stream that has
 * begun gets an error event and its end; when not even that can be built,
 * the connection is closed, the request is logged as a 500, and the
 * exchange ends as the gateway's doing, not the client's.  After each, the
 * server answers the next request. */
#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "config.h"
#include "evloop.h"
#include "log.h"
#include "server.h"
#include "testlib.h"

/* ---- allocations that fail on demand ---- */

static bool fail_buffer, fail_callback, fail_realloc, fail_cjson;

struct MHD_Response *__real_MHD_create_response_from_buffer(size_t size, void *buffer,
                                                            enum MHD_ResponseMemoryMode mode);
struct MHD_Response *__wrap_MHD_create_response_from_buffer(size_t size, void *buffer,
                                                            enum MHD_ResponseMemoryMode mode);
struct MHD_Response *__wrap_MHD_create_response_from_buffer(size_t size, void *buffer,
                                                            enum MHD_ResponseMemoryMode mode) {
    if (fail_buffer) return NULL;
    return __real_MHD_create_response_from_buffer(size, buffer, mode);
}

struct MHD_Response *__real_MHD_create_response_from_callback(uint64_t size, size_t block,
                                                              MHD_ContentReaderCallback crc, void *crc_cls,
                                                              MHD_ContentReaderFreeCallback crfc);
struct MHD_Response *__wrap_MHD_create_response_from_callback(uint64_t size, size_t block,
                                                              MHD_ContentReaderCallback crc, void *crc_cls,
                                                              MHD_ContentReaderFreeCallback crfc);
struct MHD_Response *__wrap_MHD_create_response_from_callback(uint64_t size, size_t block,
                                                              MHD_ContentReaderCallback crc, void *crc_cls,
                                                              MHD_ContentReaderFreeCallback crfc) {
    if (fail_callback) return NULL;
    return __real_MHD_create_response_from_callback(size, block, crc, crc_cls, crfc);
}

void *__real_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n) {
    if (fail_realloc && n > 0) return NULL;
    return __real_realloc(p, n);
}

static void *cjson_malloc(size_t n) { return fail_cjson ? NULL : malloc(n); }

/* ---- a client on its own thread: one request, everything until EOF ---- */

typedef struct client {
    int port;
    const char *path;
    bool keep_alive;     /* no Connection: close of the client's own */
    char got[8192];
    size_t n;
    bool eof;            /* the server closed the connection (no timeout) */
    atomic_bool first;   /* the stream's first event has arrived */
    atomic_bool done;
} client;

static client *current;

/* ---- the endpoints: each builds its answer as a case asks ---- */

typedef struct outcome {
    int status;          /* the exchange's status when it ended */
    bool client_gone;
    bool closed;         /* on_close ran */
} outcome;

static outcome last;
static evloop *loop;
static evloop_timer later;
static server_exchange *streaming;

static void on_close(void *ud, bool client_gone) {
    server_exchange *ex = ud;
    last = (outcome){server_ex_status(ex), client_gone, true};
    if (ex == streaming) {
        evloop_timer_stop(loop, &later);
        streaming = NULL;
    }
}

static void reply(server_exchange *ex, void *ctx) {
    (void)ctx;
    server_ex_on_close(ex, on_close, ex);
    server_ex_reply(ex, 200, "text/plain", strdup("fine"), 4);
}

static void fail_oom(server_exchange *ex, void *ctx) {
    (void)ctx;
    server_ex_on_close(ex, on_close, ex);
    server_ex_fail_oom(ex);
}

static void stream(server_exchange *ex, void *ctx) {
    (void)ctx;
    server_ex_on_close(ex, on_close, ex);
    if (server_ex_stream_begin(ex) < 0) return;
    CHECK_INT(server_ex_stream_write(ex, "data: first\n\n", 13), 0);
    streaming = ex;
    evloop_timer_start(loop, &later, 5);     /* the rest once the client has the first event */
}

/* What the streaming endpoint does once the client has its first event, by case. */
static enum { GO_ON, LOSE_BYTES, FAIL_OOM } stream_then;

static void stream_later(void *ud) {
    (void)ud;
    server_exchange *ex = streaming;
    static char big[65536];
    if (!ex) return;
    if (!atomic_load(&current->first)) {
        evloop_timer_start(loop, &later, 5);
        return;
    }
    memset(big, 'x', sizeof big);
    switch (stream_then) {
    case GO_ON:
        CHECK_INT(server_ex_stream_write(ex, "data: second\n\n", 14), 0);
        server_ex_stream_end(ex);
        break;
    case LOSE_BYTES:
        fail_realloc = true;
        CHECK_INT(server_ex_stream_write(ex, big, sizeof big), -1);
        fail_realloc = false;
        break;
    case FAIL_OOM:
        server_ex_fail_oom(ex);
        break;
    }
}

static void *client_run(void *ud) {
    client *c = ud;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {5, 0};
    char req[256];
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
        int len = snprintf(req, sizeof req,
                           "POST %s HTTP/1.1\r\nHost: t\r\n%sContent-Type: application/json\r\n"
                           "Content-Length: 2\r\n\r\n{}", c->path, c->keep_alive ? "" : "Connection: close\r\n");
        if (send(fd, req, (size_t)len, 0) == len) {
            for (;;) {
                ssize_t r = recv(fd, c->got + c->n, sizeof c->got - 1 - c->n, 0);
                if (r > 0) c->n += (size_t)r;
                c->got[c->n] = '\0';
                if (strstr(c->got, "data: first")) atomic_store(&c->first, true);
                if (r == 0) c->eof = true;
                if (r <= 0 || c->n == sizeof c->got - 1) break;
            }
        }
    }
    close(fd);
    atomic_store(&c->done, true);
    return NULL;
}

static evloop_timer poll_timer;

/* The loop runs until the client is done. */
static void poll_done(void *ud) {
    client *c = ud;
    if (atomic_load(&c->done)) evloop_stop(loop);
    else evloop_timer_start(loop, &poll_timer, 5);
}

static void before_wait(void *ud) {
    server_before_wait(ud);
    log_flush();
}

/* Runs one request to path through the loop; the client's bytes in c. */
static void request_on(server *s, const char *path, bool keep_alive, client *c) {
    pthread_t th;
    memset(c, 0, sizeof *c);
    c->port = server_port(s);
    c->path = path;
    c->keep_alive = keep_alive;
    current = c;
    last = (outcome){0};
    evloop_timer_init(&poll_timer, poll_done, c);
    evloop_timer_start(loop, &poll_timer, 5);
    CHECK_INT(pthread_create(&th, NULL, client_run, c), 0);
    evloop_run(loop);
    pthread_join(th, NULL);
    /* The exchange ends when libmicrohttpd finishes with the connection,
     * which may be a pass after the client saw it close. */
    for (int i = 0; i < 100 && !last.closed; i++) {
        evloop_timer_start(loop, &poll_timer, 5);
        evloop_run(loop);
    }
    evloop_timer_stop(loop, &poll_timer);
}

static void request(server *s, const char *path, client *c) { request_on(s, path, false, c); }

/* The same, with *fail set for its length. */
static void request_failing(server *s, const char *path, bool *fail, client *c) {
    *fail = true;
    request(s, path, c);
    *fail = false;
}

/* The status of the last request line in the log file at path, or -1.
 * The lines of the loop's last pass may still wait for its next one. */
static int logged_status(const char *path) {
    char line[4096];
    int status = -1;
    log_flush();
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    while (fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "\"status\":");
        if (strstr(line, "\"msg\":\"request\"") && p) status = atoi(p + 9);
    }
    fclose(f);
    return status;
}

/* Whether the client has a chunked response's end. */
static bool ended(const client *c) {
    return c->n >= 5 && strcmp(c->got + c->n - 5, "0\r\n\r\n") == 0;
}

/* The server still answers: a request after each case gets its 200. */
static void expect_healthy(server *s, const char *logpath) {
    client c;
    request(s, "/reply", &c);
    CHECK(strncmp(c.got, "HTTP/1.1 200", 12) == 0);
    CHECK(strstr(c.got, "\r\n\r\nfine") != NULL);
    CHECK_INT(last.status, 200);
    CHECK_INT(logged_status(logpath), 200);
}

/* The exchange ended as the gateway's doing, logged as a 500, and the
 * server goes on. */
static void expect_failed(server *s, const char *logpath) {
    CHECK(last.closed);
    CHECK_INT(last.status, 500);
    CHECK(!last.client_gone);
    CHECK_INT(logged_status(logpath), 500);
    expect_healthy(s, logpath);
}

/* A connection closed by the gateway with nothing sent. */
static void expect_closed_silently(server *s, const client *c, const char *logpath) {
    CHECK(c->eof);
    CHECK_INT(c->n, 0);
    expect_failed(s, logpath);
}

/* A stream that had begun, closed before its end: the client cannot take
 * what it has for the whole answer. */
static void expect_cut_stream(server *s, const client *c, const char *logpath) {
    CHECK(strncmp(c->got, "HTTP/1.1 200", 12) == 0);
    CHECK(c->eof);
    CHECK(strstr(c->got, "error") == NULL && strstr(c->got, "xxxx") == NULL);
    CHECK(!ended(c));
    expect_failed(s, logpath);
}

int main(void) {
    static const char json[] =
        "{\"listen\":\"127.0.0.1:0\",\"backends\":[{\"name\":\"dev\",\"tier\":\"device\","
        "\"url\":\"http://127.0.0.1:9/v1\",\"model\":\"m\"}]}";
    static const server_endpoint table[] = {
        {"POST", "/reply", reply, NULL, false, false},
        {"POST", "/oom", fail_oom, NULL, false, false},
        {"POST", "/stream", stream, NULL, false, false},
    };
    char err[256] = "", dir[64], logpath[128];
    cJSON_Hooks failing = {cjson_malloc, free};
    client c;

    tl_make_dir(dir, sizeof dir, "exoom");
    snprintf(logpath, sizeof logpath, "%s/requests.log", dir);
    CHECK_INT(log_open(logpath, err, sizeof err), 0);
    config *cfg = config_parse(json, strlen(json), err, sizeof err, NULL);
    CHECK(cfg != NULL);
    loop = evloop_new();
    server *s = cfg && loop ? server_new(loop, cfg, table, sizeof table / sizeof *table, err, sizeof err) : NULL;
    CHECK(s != NULL);
    if (!s) {
        fprintf(stderr, "%s\n", err);
        TEST_MAIN_END();
    }
    evloop_set_before_wait(loop, before_wait, s);
    evloop_timer_init(&later, stream_later, NULL);
    cJSON_InitHooks(&failing);
    expect_healthy(s, logpath);

    /* A reply whose response cannot be made: closed, logged 500, the
     * body freed (the sanitizer builds would see it leak). */
    request_failing(s, "/reply", &fail_buffer, &c);
    expect_closed_silently(s, &c, logpath);

    /* Out of memory with room for the error: a 500 that closes the
     * connection the client would have kept. */
    request_on(s, "/oom", true, &c);
    CHECK(strncmp(c.got, "HTTP/1.1 500", 12) == 0);
    CHECK(strstr(c.got, "\r\nConnection: close\r\n") != NULL);
    CHECK(strstr(c.got, "\"message\":\"out of memory\"") != NULL);
    CHECK(c.eof);
    CHECK_INT(logged_status(logpath), 500);
    expect_healthy(s, logpath);

    /* ... and without room for the error's body: closed silently. */
    request_failing(s, "/oom", &fail_cjson, &c);
    expect_closed_silently(s, &c, logpath);

    /* A stream whose response cannot be made: closed silently. */
    request_failing(s, "/stream", &fail_callback, &c);
    expect_closed_silently(s, &c, logpath);

    /* A whole stream, for comparison: both events and the chunked end. */
    stream_then = GO_ON;
    request(s, "/stream", &c);
    CHECK(strncmp(c.got, "HTTP/1.1 200", 12) == 0);
    CHECK(strstr(c.got, "data: first") != NULL && strstr(c.got, "data: second") != NULL);
    CHECK(ended(&c));
    CHECK_INT(last.status, 200);

    /* Out of memory in a stream that has begun: an error event and the
     * stream's end, without [DONE]. */
    stream_then = FAIL_OOM;
    request(s, "/stream", &c);
    CHECK(strstr(c.got, "data: first") != NULL);
    CHECK(strstr(c.got, "data: {\"error\":") != NULL && strstr(c.got, "out of memory") != NULL);
    CHECK(ended(&c));
    expect_healthy(s, logpath);

    /* ... and without room for the event: the connection closes before
     * the stream's end. */
    stream_then = FAIL_OOM;
    request_failing(s, "/stream", &fail_cjson, &c);
    expect_cut_stream(s, &c, logpath);

    /* Part of a stream lost (its buffer cannot grow): closed the same way. */
    stream_then = LOSE_BYTES;
    request(s, "/stream", &c);
    expect_cut_stream(s, &c, logpath);

    cJSON_InitHooks(NULL);
    server_free(s);
    evloop_free(loop);
    config_free(cfg);
    log_close();
    tl_remove_dir(dir);
    TEST_MAIN_END();
}
