/*
 * fakellm's wire layer: sockets, HTTP/1.1 requests and responses, the endpoint
 * table, the command line.  See fakellm.h for the whole program.
 */
#include "fakellm.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_BODY (16u << 20)     /* larger request bodies get 413 */
#define MAX_CONNS 4096
#define IDLE_MS 120000           /* an idle or silent client is dropped after this */
#define STACK_SIZE (512 * 1024)

#define BUSY_BODY \
    "{\"error\":{\"message\":\"too many connections\",\"type\":\"server_error\",\"param\":null,\"code\":null}}"

const char *opt_model = "fake-model";
const char *opt_label = "fake";
time_t start_time;
atomic_long n_connections;
static bool opt_quiet;
static atomic_int n_live;

/* ---- small helpers ------------------------------------------------------- */

void *must(void *p)
{
    if (!p)
        abort();
    return p;
}

void buf_add(struct buf *b, const void *p, size_t n)
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

void buf_printf(struct buf *b, const char *fmt, ...)
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

long long clock_ms(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- connections and requests -------------------------------------------- */

bool send_all(struct conn *c, const char *p, size_t n)
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

bool path_ends(const struct request *rq, const char *suffix)
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

void put_head(struct buf *b, struct request *rq, int status, const char *ctype,
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

enum outcome respond(struct conn *c, struct request *rq, int status, const char *body,
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

enum outcome respond_json(struct conn *c, struct request *rq, int status, cJSON *json,
                          const char *extra)
{
    char *body = cJSON_PrintUnformatted(json);
    cJSON_Delete(json);
    enum outcome o = respond(c, rq, status, body, extra);
    free(body);
    return o;
}

/* An OpenAI error body, or llama.cpp's shape (integer code, no param). */
enum outcome respond_error(struct conn *c, struct request *rq, int status,
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

enum outcome respond_simulated(struct conn *c, struct request *rq, int status, bool llama)
{
    char msg[32];
    snprintf(msg, sizeof msg, "simulated %d", status);
    return respond_error(c, rq, status, msg, llama);
}

bool send_chunk(struct conn *c, const char *p, size_t n)
{
    struct buf b = {0};
    buf_printf(&b, "%zx\r\n", n);
    buf_add(&b, p, n);
    buf_add(&b, "\r\n", 2);
    bool ok = send_all(c, b.p, b.len);
    free(b.p);
    return ok;
}

/* ---- endpoints ----------------------------------------------------------- */

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
                 "               [--mode JSON] [--continuation DIALECT] [--quiet]\n"
                 "DIALECT: prefill (default), prefix, partial, continue_final_message or none\n");
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *port = "0", *mode_json = "{}", *dialect = "prefill";
    for (int i = 1; i < argc; i++) {
        const char **dst = strcmp(argv[i], "--host") == 0 ? &host
                         : strcmp(argv[i], "--port") == 0 ? &port
                         : strcmp(argv[i], "--model") == 0 ? &opt_model
                         : strcmp(argv[i], "--label") == 0 ? &opt_label
                         : strcmp(argv[i], "--mode") == 0 ? &mode_json
                         : strcmp(argv[i], "--continuation") == 0 ? &dialect : NULL;
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
    for (opt_dialect = 0; dialect_names[opt_dialect] && strcmp(dialect, dialect_names[opt_dialect]) != 0;)
        opt_dialect++;
    if (!dialect_names[opt_dialect]) {
        fprintf(stderr, "fakellm: bad --continuation '%s'\n", dialect);
        usage(stderr);
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
