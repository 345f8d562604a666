/*
 * fakellm - tiergate's simulated OpenAI-compatible model server.
 *
 * Every integration test runs one or two of these as the gateway's backends,
 * and config/demo.json uses two of them as its on-device and cloud tiers.  So
 * it speaks the real wire protocol over real sockets: HTTP/1.1 with keep-alive
 * and pipelining, Content-Length and chunked request bodies, Expect:
 * 100-continue, and OpenAI Chat Completions answers, either one JSON body or
 * SSE over chunked transfer encoding with one HTTP chunk per event
 * (wire-formats.md sections 1.4-1.6, 2.2, 2.4).
 *
 * Design
 *  - One detached thread per connection (at most MAX_CONNS live), blocking
 *    sockets.  A connection reads one request at a time through a fixed 64 KiB
 *    buffer (which also bounds the header block), answers it, and loops while
 *    the connection is keep-alive.
 *  - The answer is deterministic, "[<label> simulated] You said: <last user
 *    text>", so a test can tell which tier answered and what it was sent.
 *  - Faults make the server misbehave on purpose (listed under "faults").
 *    The fault mode (POST /_fake/mode or --mode) applies to every chat request
 *    until replaced; "fake:KEY=VALUE" tokens in the last user message override
 *    it for one request, so a test can inject a fault through the gateway.
 *  - Every wait (delays, stall, hang) polls the socket, so a client that goes
 *    away is noticed at once.  /_fake/stats counts chat responses in progress
 *    ("active", dropped just before a response's last write) and those the
 *    client abandoned ("client_closed").
 *  - Chat requests are recorded (the last LOG_KEEP) for GET /_fake/requests,
 *    so tests can check exactly what the gateway forwarded.
 *  - SIGTERM and SIGINT _exit(0) at once: nothing needs flushing and the
 *    connection threads need no joining.
 */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_BODY (16u << 20)     /* larger request bodies get 413 */
#define IN_CAP (64 * 1024)       /* per-connection read buffer = header block limit */
#define MAX_HEADERS 100
#define MAX_CONNS 4096
#define LOG_KEEP 1000            /* recorded chat requests */
#define IDLE_MS 120000           /* an idle or silent client is dropped after this */
#define WAIT_CAP_MS 120000       /* hang and stall give up after this */
#define ECHO_MAX 200             /* bytes of the user's text echoed in the answer */
#define STACK_SIZE (512 * 1024)

#define BUSY_BODY \
    "{\"error\":{\"message\":\"too many connections\",\"type\":\"server_error\",\"param\":null,\"code\":null}}"
#define MIDSTREAM_ERROR \
    "{\"error\":{\"code\":500,\"message\":\"simulated mid-stream failure\",\"type\":\"server_error\"}}"

/* ---- global state -------------------------------------------------------- */

static const char *opt_model = "fake-model";
static const char *opt_label = "fake";
static bool opt_quiet;
static time_t start_time;

static atomic_long n_requests, n_probes, n_active, n_client_closed, n_connections, n_ids;
static atomic_int n_live;

static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static cJSON *mode;                      /* the fault mode, a JSON object */
static char *reqlog[LOG_KEEP];           /* printed request records, a ring */
static size_t reqlog_head, reqlog_count;

/* ---- small helpers ------------------------------------------------------- */

/* Allocation failure is fatal: this is a test double. */
static void *must(void *p)
{
    if (!p)
        abort();
    return p;
}

struct buf {
    char *p;
    size_t len, cap;
};

static void buf_add(struct buf *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->p = must(realloc(b->p, cap));
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

__attribute__((format(printf, 2, 3)))
static void buf_printf(struct buf *b, const char *fmt, ...)
{
    char *s;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        abort();
    buf_add(b, s, (size_t)n);
    free(s);
}

static long long clock_ms(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- connections and requests -------------------------------------------- */

struct conn {
    int fd;
    size_t off, len;         /* unread bytes are in[off..len) */
    char in[IN_CAP];
};

struct request {
    char *head;              /* copy of the header block, parsed in place */
    char *method, *target;
    size_t pathlen;          /* target up to any '?' */
    struct { char *name, *value; } hdr[MAX_HEADERS];  /* names lowercased */
    int nhdr;
    struct buf body;         /* always NUL-terminated */
    bool keep_alive;
    int status;              /* sent, for the log */
};

enum outcome {
    DONE,    /* response complete; the connection may serve another request */
    CLOSE,   /* close the connection */
    RESET,   /* abort the connection with an RST (a simulated crash) */
    GONE,    /* the client closed or reset the connection, or a write failed */
};

static bool send_all(struct conn *c, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        p += k;
        n -= (size_t)k;
    }
    return true;
}

/* Waits up to ms while watching the socket; true as soon as the client has
 * closed or reset the connection.  Bytes the client sends meanwhile (a
 * pipelined request) are left alone: from then on only a hang-up counts. */
static bool client_gone(int fd, int ms)
{
    long long deadline = clock_ms(CLOCK_MONOTONIC) + ms;
    struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};
    for (;;) {
        long long left = deadline - clock_ms(CLOCK_MONOTONIC);
        if (left <= 0)
            return false;
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno != EINTR)
            return true;
        if (r <= 0)
            continue;
        if (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL))
            return true;
        char ch;
        ssize_t n = recv(fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            return true;
        if (n > 0)
            p.events = POLLRDHUP;
    }
}

/* Reads more bytes, compacting the buffer first.  False on EOF, error, an idle
 * client, or a full buffer. */
static bool conn_fill(struct conn *c)
{
    if (c->off > 0) {
        memmove(c->in, c->in + c->off, c->len - c->off);
        c->len -= c->off;
        c->off = 0;
    }
    if (c->len == sizeof c->in)
        return false;
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    int r;
    while ((r = poll(&p, 1, IDLE_MS)) < 0 && errno == EINTR)
        ;
    if (r <= 0)
        return false;
    ssize_t n;
    while ((n = recv(c->fd, c->in + c->len, sizeof c->in - c->len, 0)) < 0 && errno == EINTR)
        ;
    if (n <= 0)
        return false;
    c->len += (size_t)n;
    return true;
}

/* Appends the next n bytes of the stream to out. */
static bool conn_take(struct conn *c, size_t n, struct buf *out)
{
    while (n > 0) {
        if (c->off == c->len && !conn_fill(c))
            return false;
        size_t k = c->len - c->off < n ? c->len - c->off : n;
        buf_add(out, c->in + c->off, k);
        c->off += k;
        n -= k;
    }
    return true;
}

/* Consumes the next line and returns it without its line ending, valid until
 * the next read; NULL on EOF or a line that does not fit the buffer. */
static char *conn_line(struct conn *c)
{
    for (;;) {
        char *s = c->in + c->off, *nl = memchr(s, '\n', c->len - c->off);
        if (nl) {
            c->off = (size_t)(nl + 1 - c->in);
            if (nl > s && nl[-1] == '\r')
                nl--;
            *nl = '\0';
            return s;
        }
        if (c->len - c->off >= sizeof c->in || !conn_fill(c))
            return NULL;
    }
}

/* Length of the header block at c->off up to and including its blank line,
 * or 0 if it is not complete yet. */
static size_t head_end(const struct conn *c)
{
    const char *s = c->in + c->off;
    size_t n = c->len - c->off;
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] != '\n')
            continue;
        if (s[i + 1] == '\n')
            return i + 2;
        if (s[i + 1] == '\r' && i + 2 < n && s[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

static char *next_line(char **cur)
{
    char *s = *cur, *nl = strchr(s, '\n');
    if (!nl)
        return NULL;
    *cur = nl + 1;
    if (nl > s && nl[-1] == '\r')
        nl--;
    *nl = '\0';
    return s;
}

static const char *header(const struct request *rq, const char *name)
{
    for (int i = 0; i < rq->nhdr; i++)
        if (strcmp(rq->hdr[i].name, name) == 0)
            return rq->hdr[i].value;
    return NULL;
}

/* Splits the header block into request line and headers.  0 or a status. */
static int parse_head(struct request *rq)
{
    char *cur = rq->head, *line = next_line(&cur);
    char *sp1 = line ? strchr(line, ' ') : NULL, *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp2 || sp1 == line || sp2 == sp1 + 1 || strncmp(sp2 + 1, "HTTP/1.", 7) != 0)
        return 400;
    *sp1 = *sp2 = '\0';
    rq->method = line;
    rq->target = sp1 + 1;
    rq->pathlen = strcspn(rq->target, "?");
    rq->keep_alive = strcmp(sp2 + 1, "HTTP/1.0") != 0;
    while ((line = next_line(&cur)) && *line) {
        char *colon = strchr(line, ':'), *v, *end;
        if (!colon || colon == line || isspace((unsigned char)*line))
            return 400;
        if (rq->nhdr == MAX_HEADERS)
            return 431;
        *colon = '\0';
        for (char *p = line; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
            ;
        for (end = v + strlen(v); end > v && (end[-1] == ' ' || end[-1] == '\t'); end--)
            ;
        *end = '\0';
        rq->hdr[rq->nhdr].name = line;
        rq->hdr[rq->nhdr++].value = v;
    }
    const char *conn = header(rq, "connection");
    if (conn && strcasestr(conn, "close"))
        rq->keep_alive = false;
    else if (conn && strcasestr(conn, "keep-alive"))
        rq->keep_alive = true;
    return 0;
}

static int read_chunked_body(struct conn *c, struct buf *body)
{
    for (;;) {
        char *line = conn_line(c), *end;
        if (!line || !isxdigit((unsigned char)*line))
            return 400;
        errno = 0;
        unsigned long long n = strtoull(line, &end, 16);
        if (errno || (*end && *end != ';' && *end != ' ' && *end != '\t'))
            return 400;
        if (n == 0)
            break;
        if (n > MAX_BODY - body->len)
            return 413;
        if (!conn_take(c, (size_t)n, body))
            return -1;
        if (!(line = conn_line(c)) || *line)
            return 400;
    }
    for (;;) {                           /* trailers, up to the blank line */
        char *line = conn_line(c);
        if (!line)
            return 400;
        if (!*line)
            return 0;
    }
}

/* Reads one request.  0 when complete, -1 when the connection is to be closed
 * silently, else the error status to answer with before closing. */
static int read_request(struct conn *c, struct request *rq)
{
    size_t n;
    for (;;) {
        while (c->off < c->len && (c->in[c->off] == '\r' || c->in[c->off] == '\n'))
            c->off++;
        if ((n = head_end(c)) > 0)
            break;
        if (c->len - c->off >= sizeof c->in)
            return 431;
        if (!conn_fill(c))
            return -1;
    }
    rq->head = must(malloc(n + 1));
    memcpy(rq->head, c->in + c->off, n);
    rq->head[n] = '\0';
    c->off += n;
    buf_add(&rq->body, "", 0);
    int st = parse_head(rq);
    if (st)
        return st;

    const char *te = header(rq, "transfer-encoding"), *cl = header(rq, "content-length");
    const char *expect = header(rq, "expect");
    unsigned long long len = 0;
    if (te) {
        size_t tl = strlen(te);
        if (tl < 7 || strcasecmp(te + tl - 7, "chunked") != 0)
            return 400;
    } else if (cl) {
        char *end;
        errno = 0;
        len = strtoull(cl, &end, 10);
        if (!isdigit((unsigned char)*cl) || *end || errno)
            return 400;
        if (len > MAX_BODY)
            return 413;
    }
    if ((te || len > 0) && expect && strcasecmp(expect, "100-continue") == 0 && c->off == c->len) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (!send_all(c, cont, sizeof cont - 1))
            return -1;
    }
    if (te)
        return read_chunked_body(c, &rq->body);
    return conn_take(c, (size_t)len, &rq->body) ? 0 : -1;
}

static bool path_is(const struct request *rq, const char *p)
{
    return rq->pathlen == strlen(p) && strncmp(rq->target, p, rq->pathlen) == 0;
}

static bool path_ends(const struct request *rq, const char *suffix)
{
    size_t n = strlen(suffix);
    return rq->pathlen >= n && strncmp(rq->target + rq->pathlen - n, suffix, n) == 0;
}

/* ---- responses ----------------------------------------------------------- */

static const char *reason(int status)
{
    static const struct { int status; const char *text; } reasons[] = {
        {200, "OK"}, {400, "Bad Request"}, {401, "Unauthorized"}, {403, "Forbidden"},
        {404, "Not Found"}, {408, "Request Timeout"}, {413, "Content Too Large"},
        {429, "Too Many Requests"}, {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"}, {502, "Bad Gateway"}, {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
    };
    for (size_t i = 0; i < sizeof reasons / sizeof *reasons; i++)
        if (reasons[i].status == status)
            return reasons[i].text;
    return status < 500 ? "Client Error" : "Server Error";
}

/* Status line and headers; len < 0 means a chunked body. */
static void put_head(struct buf *b, struct request *rq, int status, const char *ctype,
                     long long len, const char *extra)
{
    rq->status = status;
    buf_printf(b, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n", status, reason(status), ctype);
    if (len < 0)
        buf_printf(b, "Transfer-Encoding: chunked\r\n");
    else
        buf_printf(b, "Content-Length: %lld\r\n", len);
    buf_printf(b, "Connection: %s\r\n%s\r\n", rq->keep_alive ? "keep-alive" : "close", extra ? extra : "");
}

static enum outcome respond(struct conn *c, struct request *rq, int status, const char *body,
                            const char *extra)
{
    struct buf b = {0};
    size_t n = strlen(body);
    put_head(&b, rq, status, "application/json", (long long)n, extra);
    buf_add(&b, body, n);
    bool ok = send_all(c, b.p, b.len);
    free(b.p);
    return ok ? DONE : GONE;
}

static enum outcome respond_json(struct conn *c, struct request *rq, int status, cJSON *json,
                                 const char *extra)
{
    char *body = cJSON_PrintUnformatted(json);
    cJSON_Delete(json);
    enum outcome o = respond(c, rq, status, body, extra);
    free(body);
    return o;
}

/* An OpenAI error body, or llama.cpp's shape (integer code, no param). */
static enum outcome respond_error(struct conn *c, struct request *rq, int status,
                                  const char *message, bool llama)
{
    cJSON *o = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(o, "error");
    if (llama) {
        cJSON_AddNumberToObject(e, "code", status);
        cJSON_AddStringToObject(e, "message", message);
        cJSON_AddStringToObject(e, "type", "unavailable_error");
    } else {
        cJSON_AddStringToObject(e, "message", message);
        cJSON_AddStringToObject(e, "type", status == 429 ? "rate_limit_error"
                                           : status < 500 ? "invalid_request_error" : "server_error");
        cJSON_AddNullToObject(e, "param");
        cJSON_AddNullToObject(e, "code");
    }
    return respond_json(c, rq, status, o, status == 429 ? "Retry-After: 1\r\n" : NULL);
}

static enum outcome respond_simulated(struct conn *c, struct request *rq, int status, bool llama)
{
    char msg[32];
    snprintf(msg, sizeof msg, "simulated %d", status);
    return respond_error(c, rq, status, msg, llama);
}

/* ---- faults --------------------------------------------------------------
 *
 *   status N              answer HTTP N (400-599) with an error body, streaming
 *                         or not; 429 adds "Retry-After: 1"
 *   error_style "llama"   error bodies in llama.cpp's shape
 *   health_status N       GET /health and .../models answer N (400-599)
 *   delay_headers_ms N    wait before answering at all
 *   delay_first_chunk_ms  streaming: wait between the headers and the first event
 *   chunk_delay_ms N      streaming: wait between events
 *   chunks N              content chunks (default 5)
 *   cut_after N           streaming: reset the connection after N content
 *                         chunks (0: after the headers); otherwise after the
 *                         headers and half the body
 *   stall_after N         streaming: after N content chunks go silent until
 *                         the client leaves
 *   malformed_after N     streaming: after N content chunks send a non-JSON event
 *   error_event_after N   streaming: after N content chunks send an error event
 *                         and end the stream without [DONE]
 *   no_done, no_finish    omit [DONE]; omit the finish and usage chunks and [DONE]
 *   hang                  read the request and never answer
 *   bad_json              not streaming: 200 with truncated JSON
 *   no_space, crlf,       "data:" without the space; \r\n line ends;
 *   keepalive             ": keep-alive" before every event
 *   reply "TEXT"          the answer text (mode only)
 * A count beyond the number of content chunks strikes after the last one.
 * Booleans take true/false or numbers in the mode, 1/0/true/false in tokens. */

struct faults {
    int status, health_status;   /* < 400: no fault */
    bool llama_errors;           /* error_style "llama" */
    int delay_headers_ms, delay_first_chunk_ms, chunk_delay_ms, chunks;
    int cut_after, stall_after, malformed_after, error_event_after;   /* < 0: off */
    bool no_done, no_finish, hang, bad_json, no_space, crlf, keepalive;
    char *reply;                 /* mode only */
};

static const struct faults no_faults = {
    .chunks = 5, .cut_after = -1, .stall_after = -1, .malformed_after = -1, .error_event_after = -1,
};

enum fault_kind { F_INT, F_BOOL, F_STYLE, F_REPLY };

#define FAULT(key, kind, lo, hi) {#key, kind, offsetof(struct faults, key), lo, hi}
static const struct fault_key {
    const char *key;
    enum fault_kind kind;
    size_t off;
    int lo, hi;
} fault_keys[] = {
    FAULT(status, F_INT, 0, 599),
    FAULT(health_status, F_INT, 0, 599),
    {"error_style", F_STYLE, offsetof(struct faults, llama_errors), 0, 0},
    FAULT(delay_headers_ms, F_INT, 0, 86400000),
    FAULT(delay_first_chunk_ms, F_INT, 0, 86400000),
    FAULT(chunk_delay_ms, F_INT, 0, 86400000),
    FAULT(chunks, F_INT, 1, 1000000),
    FAULT(cut_after, F_INT, -1, 1000000),
    FAULT(stall_after, F_INT, -1, 1000000),
    FAULT(malformed_after, F_INT, -1, 1000000),
    FAULT(error_event_after, F_INT, -1, 1000000),
    FAULT(no_done, F_BOOL, 0, 1),
    FAULT(no_finish, F_BOOL, 0, 1),
    FAULT(hang, F_BOOL, 0, 1),
    FAULT(bad_json, F_BOOL, 0, 1),
    FAULT(no_space, F_BOOL, 0, 1),
    FAULT(crlf, F_BOOL, 0, 1),
    FAULT(keepalive, F_BOOL, 0, 1),
    FAULT(reply, F_REPLY, 0, 0),
};

/* Sets one fault from a JSON value (the mode) or a string (a request token).
 * Returns NULL, or what is wrong with it. */
static const char *fault_set(struct faults *f, const char *key, const cJSON *jv, const char *sv)
{
    const struct fault_key *k = NULL;
    for (size_t i = 0; i < sizeof fault_keys / sizeof *fault_keys && !k; i++)
        if (strcmp(fault_keys[i].key, key) == 0)
            k = &fault_keys[i];
    if (!k)
        return "unknown fault";
    void *field = (char *)f + k->off;
    switch (k->kind) {
    case F_INT: {
        double v;
        char *end;
        if (jv && !cJSON_IsNumber(jv))
            return "must be a number";
        v = jv ? jv->valuedouble : strtod(sv, &end);
        if ((!jv && end == sv) || !(v >= k->lo && v <= k->hi))
            return "out of range";
        *(int *)field = (int)v;
        return NULL;
    }
    case F_BOOL:
        if (jv && (cJSON_IsBool(jv) || cJSON_IsNumber(jv)))
            *(bool *)field = cJSON_IsTrue(jv) || (cJSON_IsNumber(jv) && jv->valuedouble != 0);
        else if (!jv && *sv && strchr("1tTyY", *sv))
            *(bool *)field = true;
        else if (!jv && *sv && strchr("0fFnN", *sv))
            *(bool *)field = false;
        else
            return "must be a boolean";
        return NULL;
    case F_STYLE: {
        const char *s = jv ? cJSON_GetStringValue(jv) : sv;
        if (!s || (strcmp(s, "llama") != 0 && strcmp(s, "openai") != 0))
            return "must be \"llama\" or \"openai\"";
        *(bool *)field = strcmp(s, "llama") == 0;
        return NULL;
    }
    case F_REPLY:
        if (!cJSON_IsString(jv))
            return "must be a string, and is only accepted in the mode";
        free(f->reply);
        f->reply = must(strdup(jv->valuestring));
        return NULL;
    }
    return "unknown fault";
}

/* Applies a mode object; on error *bad names the offending key. */
static const char *faults_from_json(struct faults *f, const cJSON *obj, const char **bad)
{
    const cJSON *item;
    cJSON_ArrayForEach(item, obj) {
        const char *err = fault_set(f, item->string, item, NULL);
        if (err) {
            *bad = item->string;
            return err;
        }
    }
    return NULL;
}

/* Applies the "fake:KEY=VALUE" tokens of a message; bad ones are ignored. */
static void faults_from_text(struct faults *f, const char *text)
{
    for (const char *p = text; (p = strstr(p, "fake:")) != NULL;) {
        p += 5;
        size_t klen = strspn(p, "abcdefghijklmnopqrstuvwxyz_");
        if (klen == 0 || klen >= 32 || p[klen] != '=')
            continue;
        char key[32], val[32];
        memcpy(key, p, klen);
        key[klen] = '\0';
        size_t vlen = strcspn(p + klen + 1, " \t\r\n\"',;)]}");
        if (vlen >= sizeof val)
            vlen = sizeof val - 1;
        memcpy(val, p + klen + 1, vlen);
        val[vlen] = '\0';
        (void)fault_set(f, key, NULL, val);
    }
}

static void faults_load_mode(struct faults *f)
{
    const char *bad;
    *f = no_faults;
    pthread_mutex_lock(&state_lock);
    (void)faults_from_json(f, mode, &bad);   /* validated when set */
    pthread_mutex_unlock(&state_lock);
}

/* Replaces the fault mode with a JSON object.  NULL, or an error in err. */
static const char *set_mode(const char *text, char *err, size_t errlen)
{
    cJSON *obj = cJSON_ParseWithOpts(text, NULL, true);
    struct faults f = no_faults;
    const char *bad = NULL, *why = "the mode must be a JSON object";
    if (cJSON_IsObject(obj) && !(why = faults_from_json(&f, obj, &bad))) {
        pthread_mutex_lock(&state_lock);
        cJSON_Delete(mode);
        mode = obj;
        pthread_mutex_unlock(&state_lock);
        obj = NULL;
    } else if (bad) {
        snprintf(err, errlen, "fault \"%s\": %s", bad, why);
    } else {
        snprintf(err, errlen, "%s", why);
    }
    free(f.reply);
    cJSON_Delete(obj);
    return why ? err : NULL;
}

/* ---- chat completions ---------------------------------------------------- */

struct chat {
    struct conn *c;
    struct request *rq;
    struct faults f;
    bool active;               /* still counted in stats "active" */
    char id[48];
    double created;
    const char *model;
    char *text;                /* the answer */
    long prompt_tokens, completion_tokens;
    bool include_usage;
    int events;                /* SSE events sent so far */
};

/* Called just before a response's last write, so that a client that has read
 * the whole response sees "active" already dropped. */
static void chat_done(struct chat *s)
{
    if (s->active)
        atomic_fetch_sub(&n_active, 1);
    s->active = false;
}

static void record_request(const struct request *rq)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "method", rq->method);
    cJSON_AddStringToObject(o, "path", rq->target);
    cJSON *h = cJSON_AddObjectToObject(o, "headers");
    for (int i = 0; i < rq->nhdr; i++) {
        const char *prev = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, rq->hdr[i].name));
        if (prev) {                      /* a repeated header: join the values */
            struct buf b = {0};
            buf_printf(&b, "%s, %s", prev, rq->hdr[i].value);
            cJSON_ReplaceItemInObjectCaseSensitive(h, rq->hdr[i].name, cJSON_CreateString(b.p));
            free(b.p);
        } else {
            cJSON_AddStringToObject(h, rq->hdr[i].name, rq->hdr[i].value);
        }
    }
    cJSON_AddStringToObject(o, "body", rq->body.p);
    cJSON_AddNumberToObject(o, "ts_ms", (double)clock_ms(CLOCK_REALTIME));
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    pthread_mutex_lock(&state_lock);
    if (reqlog_count == LOG_KEEP) {
        free(reqlog[reqlog_head]);
        reqlog[reqlog_head] = s;
        reqlog_head = (reqlog_head + 1) % LOG_KEEP;
    } else {
        reqlog[(reqlog_head + reqlog_count++) % LOG_KEEP] = s;
    }
    pthread_mutex_unlock(&state_lock);
}

/* The text of the last user message; text parts are joined with "\n". */
static char *last_user_text(const cJSON *req)
{
    const cJSON *m, *last = NULL, *part;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(req, "messages")) {
        const char *role = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "role"));
        if (role && strcmp(role, "user") == 0)
            last = m;
    }
    struct buf b = {0};
    buf_add(&b, "", 0);
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(last, "content");
    if (cJSON_IsString(content)) {
        buf_add(&b, content->valuestring, strlen(content->valuestring));
        return b.p;
    }
    const cJSON *parts = cJSON_IsArray(content) ? content : NULL;
    cJSON_ArrayForEach(part, parts) {
        const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(part, "type"));
        const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(part, "text"));
        if (type && strcmp(type, "text") == 0 && text) {
            if (b.len)
                buf_add(&b, "\n", 1);
            buf_add(&b, text, strlen(text));
        }
    }
    return b.p;
}

static char *answer_text(const struct faults *f, const char *said)
{
    if (f->reply)
        return must(strdup(f->reply));
    size_t n = strlen(said);
    if (n > ECHO_MAX)
        for (n = ECHO_MAX; n > 0 && ((unsigned char)said[n] & 0xC0) == 0x80; n--)
            ;
    struct buf b = {0};
    buf_printf(&b, "[%s simulated] You said: %.*s", opt_label, (int)n, said);
    return b.p;
}

static long count_words(const char *s)
{
    long n = 0;
    for (bool in_word = false; *s; s++) {
        bool sp = isspace((unsigned char)*s);
        n += !sp && !in_word;
        in_word = !sp;
    }
    return n;
}

/* {"id","object","created","model"}: the head of every answer object. */
static cJSON *chat_object(const struct chat *s, const char *object)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", s->id);
    cJSON_AddStringToObject(o, "object", object);
    cJSON_AddNumberToObject(o, "created", s->created);
    cJSON_AddStringToObject(o, "model", s->model);
    return o;
}

static void add_usage(const struct chat *s, cJSON *o)
{
    cJSON *u = cJSON_AddObjectToObject(o, "usage");
    cJSON_AddNumberToObject(u, "prompt_tokens", (double)s->prompt_tokens);
    cJSON_AddNumberToObject(u, "completion_tokens", (double)s->completion_tokens);
    cJSON_AddNumberToObject(u, "total_tokens", (double)(s->prompt_tokens + s->completion_tokens));
}

static cJSON *add_choice(cJSON *o, const char *key, cJSON *value, const char *finish)
{
    cJSON *choices = cJSON_AddArrayToObject(o, "choices"), *ch = cJSON_CreateObject();
    cJSON_AddItemToArray(choices, ch);
    cJSON_AddNumberToObject(ch, "index", 0);
    cJSON_AddItemToObject(ch, key, value);
    cJSON_AddNullToObject(ch, "logprobs");
    if (finish)
        cJSON_AddStringToObject(ch, "finish_reason", finish);
    else
        cJSON_AddNullToObject(ch, "finish_reason");
    return o;
}

static enum outcome send_completion(struct chat *s)
{
    if (s->f.bad_json) {
        chat_done(s);
        return respond(s->c, s->rq, 200, "{\"id\": \"x\", \"choices\": [", NULL);
    }
    cJSON *msg = cJSON_CreateObject();
    cJSON_AddStringToObject(msg, "role", "assistant");
    cJSON_AddStringToObject(msg, "content", s->text);
    cJSON *o = add_choice(chat_object(s, "chat.completion"), "message", msg, "stop");
    add_usage(s, o);
    if (s->f.cut_after < 0) {
        chat_done(s);
        return respond_json(s->c, s->rq, 200, o, NULL);
    }
    char *body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    struct buf b = {0};
    size_t n = strlen(body);
    put_head(&b, s->rq, 200, "application/json", (long long)n, NULL);
    buf_add(&b, body, n / 2);
    bool ok = send_all(s->c, b.p, b.len);
    free(b.p);
    free(body);
    return ok ? RESET : GONE;
}

static bool send_chunk(struct chat *s, const char *p, size_t n)
{
    struct buf b = {0};
    buf_printf(&b, "%zx\r\n", n);
    buf_add(&b, p, n);
    buf_add(&b, "\r\n", 2);
    bool ok = send_all(s->c, b.p, b.len);
    free(b.p);
    return ok;
}

/* One SSE event, in its own HTTP chunk, after the optional keep-alive comment
 * and the delay due before it. */
static enum outcome send_event(struct chat *s, const char *data)
{
    const char *eol = s->f.crlf ? "\r\n" : "\n";
    struct buf b = {0};
    bool ok = true;
    if (s->f.keepalive) {
        buf_printf(&b, ": keep-alive%s%s", eol, eol);
        ok = send_chunk(s, b.p, b.len);
        b.len = 0;
    }
    int delay = s->events == 0 ? s->f.delay_first_chunk_ms : s->f.chunk_delay_ms;
    if (!ok || (delay > 0 && client_gone(s->c->fd, delay))) {
        free(b.p);
        return GONE;
    }
    buf_printf(&b, "data:%s%s%s%s", s->f.no_space ? "" : " ", data, eol, eol);
    ok = send_chunk(s, b.p, b.len);
    free(b.p);
    s->events++;
    return ok ? DONE : GONE;
}

static enum outcome send_event_json(struct chat *s, cJSON *o)
{
    char *data = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    enum outcome out = send_event(s, data);
    free(data);
    return out;
}

/* A chunk with one choice; OpenAI sends "usage":null on these when the
 * client asked for usage. */
static enum outcome send_delta(struct chat *s, cJSON *delta, const char *finish)
{
    cJSON *o = add_choice(chat_object(s, "chat.completion.chunk"), "delta", delta, finish);
    if (s->include_usage)
        cJSON_AddNullToObject(o, "usage");
    return send_event_json(s, o);
}

static enum outcome send_piece(struct chat *s, size_t from, size_t to)
{
    cJSON *delta = cJSON_CreateObject();
    char *piece = must(strndup(s->text + from, to - from));
    cJSON_AddStringToObject(delta, "content", piece);
    free(piece);
    return send_delta(s, delta, NULL);
}

static enum outcome end_stream(struct chat *s)
{
    chat_done(s);
    return send_chunk(s, "", 0) ? DONE : GONE;
}

/* Splits text into at most k pieces of about equal size, cut at UTF-8
 * character starts.  Returns the number n of pieces; *edges gets n + 1
 * offsets. */
static size_t split_text(const char *t, int k, size_t **edges)
{
    size_t len = strlen(t), parts = (size_t)k < len ? (size_t)k : len, n = 0;
    size_t *e = must(malloc((parts + 1) * sizeof *e));
    e[0] = 0;
    for (size_t i = 1; i <= parts; i++) {
        size_t b = len * i / parts;
        while (b < len && ((unsigned char)t[b] & 0xC0) == 0x80)
            b++;
        if (b > e[n])
            e[++n] = b;
    }
    *edges = e;
    return n;
}

/* Whether a fault set to strike after `after` content chunks strikes at
 * position i (after i chunks; 0 = right after the headers).  One set beyond
 * the last chunk strikes after the last chunk. */
static bool strikes(int after, size_t i, size_t n)
{
    return after >= 0 && i == ((size_t)after < n ? (size_t)after : n);
}

static enum outcome stream_events(struct chat *s, const size_t *edge, size_t n)
{
    const struct faults *f = &s->f;
    enum outcome o = DONE;
    for (size_t i = 0; i <= n; i++) {
        if (strikes(f->cut_after, i, n))
            return RESET;
        if (strikes(f->stall_after, i, n))
            return client_gone(s->c->fd, WAIT_CAP_MS) ? GONE : CLOSE;
        if (strikes(f->malformed_after, i, n) && (o = send_event(s, "{this is not json")) != DONE)
            return o;
        if (strikes(f->error_event_after, i, n))
            return (o = send_event(s, MIDSTREAM_ERROR)) != DONE ? o : end_stream(s);
        if (i == 0) {
            cJSON *role = cJSON_CreateObject();
            cJSON_AddStringToObject(role, "role", "assistant");
            cJSON_AddStringToObject(role, "content", "");
            if ((o = send_delta(s, role, NULL)) != DONE)
                return o;
        }
        if (i < n && (o = send_piece(s, edge[i], edge[i + 1])) != DONE)
            return o;
    }
    if (!f->no_finish) {
        if ((o = send_delta(s, cJSON_CreateObject(), "stop")) != DONE)
            return o;
        if (s->include_usage) {
            cJSON *u = chat_object(s, "chat.completion.chunk");
            cJSON_AddArrayToObject(u, "choices");
            add_usage(s, u);
            if ((o = send_event_json(s, u)) != DONE)
                return o;
        }
        if (!f->no_done && (o = send_event(s, "[DONE]")) != DONE)
            return o;
    }
    return end_stream(s);
}

static enum outcome send_stream(struct chat *s)
{
    struct buf h = {0};
    put_head(&h, s->rq, 200, "text/event-stream", -1, "Cache-Control: no-cache\r\n");
    bool ok = send_all(s->c, h.p, h.len);
    free(h.p);
    if (!ok)
        return GONE;
    size_t *edges, n = split_text(s->text, s->f.chunks, &edges);
    enum outcome o = stream_events(s, edges, n);
    free(edges);
    return o;
}

static enum outcome serve_chat(struct chat *s, const cJSON *req)
{
    const cJSON *stream = cJSON_GetObjectItemCaseSensitive(req, "stream");
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(req, "stream_options");
    const char *model = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "model"));
    char *said = last_user_text(req);

    faults_load_mode(&s->f);
    faults_from_text(&s->f, said);
    snprintf(s->id, sizeof s->id, "chatcmpl-fake%ld", atomic_fetch_add(&n_ids, 1) + 1);
    s->created = (double)time(NULL);
    s->model = model && *model ? model : opt_model;
    s->text = answer_text(&s->f, said);
    free(said);
    s->prompt_tokens = s->rq->body.len / 4 > 0 ? (long)(s->rq->body.len / 4) : 1;
    s->completion_tokens = count_words(s->text);
    s->include_usage = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(so, "include_usage"));

    if (s->f.hang)
        return client_gone(s->c->fd, WAIT_CAP_MS) ? GONE : CLOSE;
    if (s->f.delay_headers_ms > 0 && client_gone(s->c->fd, s->f.delay_headers_ms))
        return GONE;
    if (s->f.status >= 400) {
        chat_done(s);
        return respond_simulated(s->c, s->rq, s->f.status, s->f.llama_errors);
    }
    return cJSON_IsTrue(stream) ? send_stream(s) : send_completion(s);
}

static enum outcome handle_chat(struct conn *c, struct request *rq)
{
    struct chat s = {.c = c, .rq = rq, .f = no_faults, .active = true};
    atomic_fetch_add(&n_requests, 1);
    atomic_fetch_add(&n_active, 1);
    record_request(rq);
    cJSON *req = cJSON_ParseWithOpts(rq->body.p, NULL, true);
    enum outcome o;
    if (cJSON_IsObject(req)) {
        o = serve_chat(&s, req);
    } else {
        chat_done(&s);
        o = respond_error(c, rq, 400, "We could not parse the JSON body of your request.", false);
    }
    if (o == GONE)
        atomic_fetch_add(&n_client_closed, 1);
    chat_done(&s);
    cJSON_Delete(req);
    free(s.text);
    free(s.f.reply);
    return o;
}

/* ---- other endpoints ----------------------------------------------------- */

static enum outcome handle_probe(struct conn *c, struct request *rq)
{
    struct faults f;
    atomic_fetch_add(&n_probes, 1);
    faults_load_mode(&f);
    free(f.reply);
    if (f.health_status >= 400)
        return respond_simulated(c, rq, f.health_status, f.llama_errors);
    if (path_ends(rq, "/health"))
        return respond(c, rq, 200, "{\"status\":\"ok\"}", NULL);
    cJSON *o = cJSON_CreateObject(), *m = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "object", "list");
    cJSON_AddItemToArray(cJSON_AddArrayToObject(o, "data"), m);
    cJSON_AddStringToObject(m, "id", opt_model);
    cJSON_AddStringToObject(m, "object", "model");
    cJSON_AddNumberToObject(m, "created", (double)start_time);
    cJSON_AddStringToObject(m, "owned_by", "fakellm");
    return respond_json(c, rq, 200, o, NULL);
}

static enum outcome handle_requests(struct conn *c, struct request *rq, bool clear)
{
    struct buf b = {0};
    buf_add(&b, "[", 1);
    pthread_mutex_lock(&state_lock);
    for (size_t i = 0; i < reqlog_count; i++) {
        char **slot = &reqlog[(reqlog_head + i) % LOG_KEEP];
        if (clear) {
            free(*slot);
            *slot = NULL;
        } else {
            buf_printf(&b, "%s%s", i ? "," : "", *slot);
        }
    }
    if (clear)
        reqlog_head = reqlog_count = 0;
    pthread_mutex_unlock(&state_lock);
    buf_add(&b, "]", 1);
    enum outcome o = respond(c, rq, 200, clear ? "{}" : b.p, NULL);
    free(b.p);
    return o;
}

static enum outcome handle_stats(struct conn *c, struct request *rq)
{
    char body[256];
    snprintf(body, sizeof body,
             "{\"requests\":%ld,\"probes\":%ld,\"active\":%ld,\"client_closed\":%ld,\"connections\":%ld}",
             atomic_load(&n_requests), atomic_load(&n_probes), atomic_load(&n_active),
             atomic_load(&n_client_closed), atomic_load(&n_connections));
    return respond(c, rq, 200, body, NULL);
}

static enum outcome dispatch(struct conn *c, struct request *rq)
{
    bool get = strcmp(rq->method, "GET") == 0, post = strcmp(rq->method, "POST") == 0;
    if (post && path_ends(rq, "/chat/completions"))
        return handle_chat(c, rq);
    if (get && (path_ends(rq, "/models") || path_ends(rq, "/health")))
        return handle_probe(c, rq);
    if (path_is(rq, "/_fake/requests") && (get || strcmp(rq->method, "DELETE") == 0))
        return handle_requests(c, rq, !get);
    if (get && path_is(rq, "/_fake/stats"))
        return handle_stats(c, rq);
    if (post && path_is(rq, "/_fake/mode")) {
        char err[160];
        if (set_mode(rq->body.p, err, sizeof err))
            return respond_error(c, rq, 400, err, false);
        return respond(c, rq, 200, "{}", NULL);
    }
    struct buf b = {0};
    buf_printf(&b, "Invalid URL (%s %.*s)", rq->method, (int)rq->pathlen, rq->target);
    enum outcome o = respond_error(c, rq, 404, b.p, false);
    free(b.p);
    return o;
}

/* ---- connections and main ------------------------------------------------ */

static void log_request(const struct request *rq, enum outcome o)
{
    static const char *const notes[] = {[DONE] = "", [CLOSE] = " (closed)", [RESET] = " (reset)",
                                        [GONE] = " (client gone)"};
    if (!opt_quiet)
        fprintf(stderr, "fakellm[%s]: %s %s -> %d%s\n", opt_label, rq->method ? rq->method : "-",
                rq->target ? rq->target : "-", rq->status, notes[o]);
}

static void *connection_main(void *arg)
{
    struct conn *c = arg;
    enum outcome o;
    bool again;
    do {
        struct request rq = {0};
        int st = read_request(c, &rq);
        o = CLOSE;
        if (st == 0) {
            o = dispatch(c, &rq);
        } else if (st > 0) {
            rq.keep_alive = false;
            respond_error(c, &rq, st, st == 413 ? "Request body larger than 16 MiB"
                                      : st == 431 ? "Request header block too large"
                                      : "Malformed HTTP request", false);
        }
        if (st >= 0)
            log_request(&rq, o);
        again = o == DONE && rq.keep_alive;
        free(rq.head);
        free(rq.body.p);
    } while (again);
    if (o == RESET) {                    /* an RST instead of a FIN */
        struct linger l = {.l_onoff = 1, .l_linger = 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    close(c->fd);
    free(c);
    atomic_fetch_sub(&n_live, 1);
    return NULL;
}

static void on_signal(int sig)
{
    (void)sig;
    _exit(0);
}

static int listen_on(const char *host, const char *port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *res, *ai;
    int err = getaddrinfo(host, port, &hints, &res), fd = -1, one = 1;
    if (err) {
        fprintf(stderr, "fakellm: %s: %s\n", host, gai_strerror(err));
        return -1;
    }
    for (ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0) {
            close(fd);
            fd = -1;
        }
    }
    if (fd < 0)
        fprintf(stderr, "fakellm: cannot listen on %s:%s: %s\n", host, port, strerror(errno));
    freeaddrinfo(res);
    return fd;
}

static void print_listening(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char host[NI_MAXHOST] = "?", port[NI_MAXSERV] = "?";
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    getnameinfo((struct sockaddr *)&ss, sl, host, sizeof host, port, sizeof port,
                NI_NUMERICHOST | NI_NUMERICSERV);
    printf(strchr(host, ':') ? "listening [%s]:%s\n" : "listening %s:%s\n", host, port);
    fflush(stdout);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: fakellm [--host 127.0.0.1] [--port N] [--model NAME] [--label TEXT]\n"
                 "               [--mode JSON] [--quiet]\n");
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *port = "0", *mode_json = "{}";
    for (int i = 1; i < argc; i++) {
        const char **dst = strcmp(argv[i], "--host") == 0 ? &host
                         : strcmp(argv[i], "--port") == 0 ? &port
                         : strcmp(argv[i], "--model") == 0 ? &opt_model
                         : strcmp(argv[i], "--label") == 0 ? &opt_label
                         : strcmp(argv[i], "--mode") == 0 ? &mode_json : NULL;
        if (strcmp(argv[i], "--quiet") == 0) {
            opt_quiet = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (dst && i + 1 < argc) {
            *dst = argv[++i];
        } else {
            fprintf(stderr, "fakellm: bad argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    char *end, err[160];
    long p = strtol(port, &end, 10);
    if (!*port || *end || p < 0 || p > 65535) {
        fprintf(stderr, "fakellm: bad port '%s'\n", port);
        return 2;
    }
    if (set_mode(mode_json, err, sizeof err)) {
        fprintf(stderr, "fakellm: --mode: %s\n", err);
        return 2;
    }
    start_time = time(NULL);

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int lfd = listen_on(host, port);
    if (lfd < 0)
        return 1;
    print_listening(lfd);

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, STACK_SIZE);
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                poll(NULL, 0, 10);       /* out of resources: let connections end */
            continue;
        }
        atomic_fetch_add(&n_connections, 1);
        int one = 1;
        struct timeval tv = {.tv_sec = IDLE_MS / 1000};
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (atomic_load(&n_live) >= MAX_CONNS) {
            char busy[256];
            int n = snprintf(busy, sizeof busy, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: "
                             "application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                             sizeof BUSY_BODY - 1, BUSY_BODY);
            send(fd, busy, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
            close(fd);
            continue;
        }
        struct conn *c = must(calloc(1, sizeof *c));
        pthread_t t;
        c->fd = fd;
        atomic_fetch_add(&n_live, 1);
        if (pthread_create(&t, &attr, connection_main, c) != 0) {
            atomic_fetch_sub(&n_live, 1);
            close(fd);
            free(c);
        }
    }
}
