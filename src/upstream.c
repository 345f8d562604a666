/* upstream: libcurl's multi-socket API on top of evloop.
 *
 * curl tells us which sockets to watch (socket callback) and when to wake it
 * (timer callback); we turn readiness and timer expiry back into
 * curl_multi_socket_action() calls and then collect finished transfers with
 * curl_multi_info_read().  Nothing blocks and nothing polls.
 *
 * Time limits.  curl enforces connect and total limits itself.  It has no
 * notion of "first byte" or of a stall between bytes, and CURLOPT_LOW_SPEED_*
 * works in whole seconds, so both are our own evloop timers.  The idle timer
 * is moved lazily: each byte only records the time, and when the timer fires
 * it re-arms itself for the remaining time if bytes came meanwhile.  That
 * keeps a busy stream from touching the timer heap on every chunk.
 *
 * Easy handles are pooled and reset between transfers; connections live in
 * the multi handle's cache, so keep-alive to a backend survives across
 * requests.  libcurl asks to stop watching a connection's socket whenever
 * its transfer ends and to watch it again when the next one starts: two
 * epoll_ctl calls per request on a kept-alive connection.  The sockets that
 * libcurl opens through open_socket are ours to close (close_socket), so
 * they stay registered while idle ("parked"): reuse costs no system call,
 * and a parked socket that reports an event (its server closed it) is
 * unregistered then.  Other descriptors (the resolver's) are registered and
 * unregistered as libcurl says.  Calls into libcurl from its own callbacks are forbidden
 * (CURLM_RECURSIVE_API_CALL), which is why on_headers/on_data abort by return
 * value and why a cancel that arrives while curl is calling us is deferred to
 * the write callback. */
#include "upstream.h"

#include <assert.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "evloop.h"
#include "httphdr.h"
#include "invariant.h"

#define UPSTREAM_POOL_MAX 64

struct upstream_xfer {
    upstream *u;
    CURL *easy;
    struct curl_slist *headers;
    const upstream_callbacks *cb;
    void *ud;
    long status;
    char content_type[128];
    bool headers_done, got_first_byte, aborted, cancelled;
    bool pause_wanted;                /* upstream_pause(x, true) and no resume since */
    bool paused;                      /* libcurl holds the transfer paused */
    int first_byte_ms, idle_ms, connect_ms;
    int retry_after_ms;
    uint64_t started_us, first_byte_us;
    uint64_t last_activity_ms;
    evloop_timer first_byte_timer, idle_timer, unpause_timer;
    char errbuf[CURL_ERROR_SIZE];
    upstream_xfer *prev, *next;       /* u->active list */
};

typedef struct upstream_socket {
    evloop_io io;
    upstream *u;
    curl_socket_t fd;
    uint32_t events;                  /* as registered */
    bool registered;
    bool wanted;                      /* libcurl watches it; false: parked */
    bool owned;                       /* opened by open_socket, in u->socks */
} upstream_socket;

struct upstream {
    evloop *loop;
    CURLM *multi;
    evloop_timer curl_timer;
    upstream_xfer *active;
    CURL *pool[UPSTREAM_POOL_MAX];
    size_t npool;
    int in_curl;                      /* depth of calls into libcurl */
    size_t pending_cancels;           /* cancelled inside libcurl, not yet released */
    upstream_socket **socks;          /* the owned sockets, by descriptor */
    size_t nsocks;
};

bool upstream_result_is_timeout(upstream_result r) {
    return r == UPSTREAM_ERR_CONNECT_TIMEOUT || r == UPSTREAM_ERR_FIRST_BYTE_TIMEOUT ||
           r == UPSTREAM_ERR_IDLE_TIMEOUT || r == UPSTREAM_ERR_TOTAL_TIMEOUT;
}

/* ---- finishing transfers ---- */

static void xfer_release(upstream_xfer *x) {
    upstream *u = x->u;
    evloop_timer_stop(u->loop, &x->first_byte_timer);
    evloop_timer_stop(u->loop, &x->idle_timer);
    evloop_timer_stop(u->loop, &x->unpause_timer);
    u->in_curl++;
    curl_multi_remove_handle(u->multi, x->easy);
    u->in_curl--;
    if (u->npool < UPSTREAM_POOL_MAX) {
        curl_easy_reset(x->easy);
        u->pool[u->npool++] = x->easy;
    } else {
        curl_easy_cleanup(x->easy);
    }
    curl_slist_free_all(x->headers);
    if (x->prev) x->prev->next = x->next; else u->active = x->next;
    if (x->next) x->next->prev = x->prev;
    free(x);
}

/* Ends x with res and reports it, unless it was cancelled. */
static void xfer_finish(upstream_xfer *x, upstream_result res, const char *detail) {
    const upstream_callbacks *cb = x->cb;
    void *ud = x->ud;
    bool report = !x->cancelled;
    char msg[CURL_ERROR_SIZE + 32];
    snprintf(msg, sizeof msg, "%s", detail ? detail : "");
    curl_off_t connect_us = 0;
    curl_easy_getinfo(x->easy, CURLINFO_CONNECT_TIME_T, &connect_us);
    upstream_report r = {
        .res = res,
        .status = x->status,
        .detail = msg,
        .connect_ms = connect_us > 0 ? (int)(connect_us / 1000) : -1,
        .first_byte_ms = x->first_byte_us ? (int)((x->first_byte_us - x->started_us) / 1000) : -1,
        .retry_after_ms = x->retry_after_ms,
    };
    xfer_release(x);
    if (report) cb->on_done(ud, &r);
}

/* Whether the request got onto a connection.  CURLINFO_CONNECT_TIME is 0 on a
 * reused connection, so the pre-transfer time, set for every request once
 * its connection is ready, is the one to ask. */
static bool connected(upstream_xfer *x) {
    curl_off_t t = 0;
    curl_easy_getinfo(x->easy, CURLINFO_PRETRANSFER_TIME_T, &t);
    return t > 0;
}

static void finish_from_curl(upstream_xfer *x, CURLcode rc) {
    char detail[CURL_ERROR_SIZE + 32];   /* as large as xfer_finish keeps */
    upstream_result res;
    if (rc == CURLE_OK) {
        res = UPSTREAM_OK;
        snprintf(detail, sizeof detail, "HTTP %ld", x->status);
    } else if (x->aborted) {
        res = UPSTREAM_ERR_ABORTED;
        snprintf(detail, sizeof detail, "aborted by the gateway");
    } else if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
               rc == CURLE_COULDNT_RESOLVE_PROXY) {
        res = UPSTREAM_ERR_CONNECT;
        snprintf(detail, sizeof detail, "%s",
                 rc == CURLE_COULDNT_CONNECT ? "connection refused or unreachable" : "cannot resolve host");
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        if (!connected(x)) {
            res = UPSTREAM_ERR_CONNECT_TIMEOUT;
            snprintf(detail, sizeof detail, "connect timeout after %d ms", x->connect_ms);
        } else {
            res = UPSTREAM_ERR_TOTAL_TIMEOUT;
            snprintf(detail, sizeof detail, "total time limit reached");
        }
    } else if (rc == CURLE_RECV_ERROR || rc == CURLE_PARTIAL_FILE || rc == CURLE_GOT_NOTHING ||
               rc == CURLE_SEND_ERROR) {
        res = UPSTREAM_ERR_CUT;
        snprintf(detail, sizeof detail, "connection lost");
    } else {
        res = UPSTREAM_ERR_OTHER;
        snprintf(detail, sizeof detail, "%s", x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
    }
    xfer_finish(x, res, detail);
}

static void collect_finished(upstream *u) {
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(u->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        upstream_xfer *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        assert(x);
        finish_from_curl(x, m->data.result);
    }
}

/* Releases the transfers cancelled while libcurl was calling us, so that a
 * cancelled transfer to a silent backend does not hold its connection until
 * one of its time limits fires. */
static void release_cancelled(upstream *u) {
    upstream_xfer *x = u->active;
    while (x && u->pending_cancels) {
        upstream_xfer *next = x->next;
        if (x->cancelled) {
            xfer_release(x);
            u->pending_cancels--;
        }
        x = next;
    }
    u->pending_cancels = 0;
}

static void socket_action(upstream *u, curl_socket_t fd, int flags) {
    int running;
    u->in_curl++;
    curl_multi_socket_action(u->multi, fd, flags, &running);
    u->in_curl--;
    collect_finished(u);
    if (u->pending_cancels && !u->in_curl) release_cancelled(u);
}

/* ---- curl <-> evloop glue ---- */

static void on_socket_ready(void *ud, uint32_t events) {
    upstream_socket *s = ud;
    if (!s->wanted) {
        /* A parked connection's server closed it (or talked out of turn):
         * libcurl's check before reuse will find out; until then, quiet. */
        evloop_io_del(s->u->loop, &s->io);
        s->registered = false;
        return;
    }
    int flags = 0;
    if (events & EPOLLIN) flags |= CURL_CSELECT_IN;
    if (events & EPOLLOUT) flags |= CURL_CSELECT_OUT;
    if (events & (EPOLLERR | EPOLLHUP)) flags |= CURL_CSELECT_ERR;
    socket_action(s->u, s->fd, flags);
}

static upstream_socket *owned_socket(const upstream *u, curl_socket_t fd) {
    return fd >= 0 && (size_t)fd < u->nsocks ? u->socks[fd] : NULL;
}

/* Drops the state of an owned socket.  libcurl closes some through
 * close_socket and some (at its own clean-up) without telling: a descriptor
 * number that comes back from open_socket, or is left at the end, was
 * closed, and the kernel took it out of the epoll set then; the delete here
 * only keeps the loop from calling a freed watch. */
static void forget_socket(upstream *u, upstream_socket *s) {
    if (s->registered) evloop_io_del(u->loop, &s->io);
    u->socks[s->fd] = NULL;
    free(s);
}

static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a) {
    (void)purpose;
    upstream *u = clientp;
    upstream_socket *s = calloc(1, sizeof *s);
    int fd = s ? socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol) : -1;
    if (fd >= 0 && (size_t)fd >= u->nsocks) {
        size_t n = u->nsocks ? u->nsocks : 64;
        while (n <= (size_t)fd) n *= 2;
        upstream_socket **t = realloc(u->socks, n * sizeof *t);
        if (t) {
            memset(t + u->nsocks, 0, (n - u->nsocks) * sizeof *t);
            u->socks = t;
            u->nsocks = n;
        }
    }
    if (fd < 0 || (size_t)fd >= u->nsocks) {
        if (fd >= 0) close(fd);
        free(s);
        return CURL_SOCKET_BAD;
    }
    if (u->socks[fd]) forget_socket(u, u->socks[fd]);
    s->u = u;
    s->fd = fd;
    s->owned = true;
    u->socks[fd] = s;
    return fd;
}

static int close_socket(void *clientp, curl_socket_t fd) {
    upstream *u = clientp;
    upstream_socket *s = owned_socket(u, fd);
    if (s) forget_socket(u, s);
    return close(fd);
}

static int curl_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
    (void)easy;
    upstream *u = userp;
    upstream_socket *s = socketp ? socketp : owned_socket(u, fd);
    if (what == CURL_POLL_REMOVE) {
        if (!s) return 0;
        curl_multi_assign(u->multi, fd, NULL);
        s->wanted = false;
        if (s->owned) return 0;
        if (s->registered) evloop_io_del(u->loop, &s->io);
        free(s);
        return 0;
    }
    uint32_t events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
    if (!s) {
        if (!(s = calloc(1, sizeof *s))) return -1;
        s->u = u;
        s->fd = fd;
    }
    if (!s->registered) {
        if (evloop_io_add(u->loop, &s->io, fd, events, on_socket_ready, s) < 0) {
            if (!s->owned) free(s);
            return -1;
        }
        s->registered = true;
    } else if (s->events != events && evloop_io_mod(u->loop, &s->io, events) < 0) {
        return -1;
    }
    s->events = events;
    s->wanted = true;
    curl_multi_assign(u->multi, fd, s);
    return 0;
}

static void on_curl_timer(void *ud) { socket_action(ud, CURL_SOCKET_TIMEOUT, 0); }

static int curl_timer_cb(CURLM *multi, long timeout_ms, void *userp) {
    (void)multi;
    upstream *u = userp;
    if (timeout_ms < 0) evloop_timer_stop(u->loop, &u->curl_timer);
    else evloop_timer_start(u->loop, &u->curl_timer, (uint64_t)timeout_ms);
    return 0;
}

/* ---- our own time limits ---- */

static void on_first_byte_timeout(void *ud) {
    upstream_xfer *x = ud;
    char detail[96];
    if (!connected(x)) {
        snprintf(detail, sizeof detail, "connect timeout after %d ms", x->first_byte_ms);
        xfer_finish(x, UPSTREAM_ERR_CONNECT_TIMEOUT, detail);
    } else {
        snprintf(detail, sizeof detail, "first-byte timeout: nothing after %d ms", x->first_byte_ms);
        xfer_finish(x, UPSTREAM_ERR_FIRST_BYTE_TIMEOUT, detail);
    }
}

static void on_idle_timeout(void *ud) {
    upstream_xfer *x = ud;
    uint64_t now = evloop_now_ms(x->u->loop);
    uint64_t due = x->last_activity_ms + (uint64_t)x->idle_ms;
    if (x->pause_wanted || x->paused) due = now + (uint64_t)x->idle_ms;   /* our pause, not a stall */
    if (now < due) {
        evloop_timer_start(x->u->loop, &x->idle_timer, due - now);
        return;
    }
    char detail[96];
    snprintf(detail, sizeof detail, "idle timeout: stalled for %d ms", x->idle_ms);
    xfer_finish(x, UPSTREAM_ERR_IDLE_TIMEOUT, detail);
}

static void note_activity(upstream_xfer *x) {
    x->last_activity_ms = evloop_now_ms(x->u->loop);
    if (x->got_first_byte) return;
    x->got_first_byte = true;
    x->first_byte_us = evloop_clock_us();
    evloop_timer_stop(x->u->loop, &x->first_byte_timer);
    if (x->idle_ms > 0) evloop_timer_start(x->u->loop, &x->idle_timer, (uint64_t)x->idle_ms);
}

/* ---- backpressure ---- */

/* The resume, outside libcurl: unpausing may deliver the bytes libcurl
 * held at once, through write_cb, which may ask for the pause again. */
static void on_unpause(void *ud) {
    upstream_xfer *x = ud;
    if (x->cancelled || x->pause_wanted || !x->paused) return;
    x->paused = false;
    x->last_activity_ms = evloop_now_ms(x->u->loop);
    x->u->in_curl++;
    curl_easy_pause(x->easy, CURLPAUSE_CONT);
    x->u->in_curl--;
    if (x->u->pending_cancels && !x->u->in_curl) release_cancelled(x->u);
}

void upstream_pause(upstream_xfer *x, bool paused) {
    if (!x || x->cancelled) return;
    x->pause_wanted = paused;
    if (!paused) {
        x->last_activity_ms = evloop_now_ms(x->u->loop);
        if (x->paused) evloop_timer_start(x->u->loop, &x->unpause_timer, 0);
    }
}

/* ---- libcurl data callbacks ---- */

static size_t header_cb(char *buf, size_t size, size_t n, void *ud) {
    upstream_xfer *x = ud;
    size_t len = size * n;
    if (x->cancelled) return 0;
    note_activity(x);
    if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
        x->content_type[0] = '\0';
        x->retry_after_ms = -1;
        return len;
    }
    if (httphdr_value(buf, len, "content-type", x->content_type, sizeof x->content_type)) return len;
    x->retry_after_ms = httphdr_retry_after(buf, len, x->retry_after_ms, time(NULL));
    if ((len == 2 && buf[0] == '\r') || (len == 1 && buf[0] == '\n')) {
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
        if (x->status >= 200 && !x->headers_done) {
            x->headers_done = true;
            if (x->cb->on_headers && x->cb->on_headers(x->ud, x->status, x->content_type)) {
                x->aborted = true;
                return 0;
            }
        }
    }
    return len;
}

/* A pause asked for during the previous call (the bytes were taken then)
 * is libcurl's from here: these bytes stay with it until the resume. */
static size_t write_cb(char *buf, size_t size, size_t n, void *ud) {
    upstream_xfer *x = ud;
    size_t len = size * n;
    if (x->cancelled) return 0;
    if (x->pause_wanted) {
        x->paused = true;
        return CURL_WRITEFUNC_PAUSE;
    }
    note_activity(x);
    if (x->cb->on_data && x->cb->on_data(x->ud, buf, len)) {
        x->aborted = true;
        return 0;
    }
    return len;
}

/* ---- public API ---- */

upstream *upstream_new(evloop *loop) {
    upstream *u = calloc(1, sizeof *u);
    if (!u) return NULL;
    u->loop = loop;
    u->multi = curl_multi_init();
    if (!u->multi) {
        free(u);
        return NULL;
    }
    evloop_timer_init(&u->curl_timer, on_curl_timer, u);
    curl_multi_setopt(u->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
    curl_multi_setopt(u->multi, CURLMOPT_SOCKETDATA, u);
    curl_multi_setopt(u->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
    curl_multi_setopt(u->multi, CURLMOPT_TIMERDATA, u);
    /* Idle keep-alive connections to backends; more only costs descriptors. */
    curl_multi_setopt(u->multi, CURLMOPT_MAXCONNECTS, 256L);
    return u;
}

void upstream_free(upstream *u) {
    if (!u) return;
    while (u->active) {
        u->active->cancelled = true;
        xfer_release(u->active);
    }
    for (size_t i = 0; i < u->npool; i++) curl_easy_cleanup(u->pool[i]);
    curl_multi_cleanup(u->multi);
    evloop_timer_stop(u->loop, &u->curl_timer);
    for (size_t i = 0; i < u->nsocks; i++)
        if (u->socks[i]) forget_socket(u, u->socks[i]);
    free(u->socks);
    free(u);
}

upstream_xfer *upstream_start(upstream *u, const upstream_request *req,
                              const upstream_callbacks *cb, void *ud) {
    INVARIANT(u->in_curl == 0);   /* libcurl forbids the re-entry */
    upstream_xfer *x = calloc(1, sizeof *x);
    if (!x) return NULL;
    x->u = u;
    x->cb = cb;
    x->ud = ud;
    x->first_byte_ms = req->first_byte_ms;
    x->idle_ms = req->idle_ms;
    x->connect_ms = req->connect_ms;
    x->retry_after_ms = -1;
    x->started_us = evloop_clock_us();
    evloop_timer_init(&x->first_byte_timer, on_first_byte_timeout, x);
    evloop_timer_init(&x->idle_timer, on_idle_timeout, x);
    evloop_timer_init(&x->unpause_timer, on_unpause, x);
    x->easy = u->npool ? u->pool[--u->npool] : curl_easy_init();
    if (!x->easy) goto err;

    char auth[1024];
    struct curl_slist *h = NULL, *t;
    const char *fixed[] = {
        req->body ? "Content-Type: application/json" : NULL,
        req->accept_sse ? "Accept: text/event-stream" : "Accept: application/json",
        "Expect:",  /* no 100-continue round trip before the body */
    };
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) {
        if (!fixed[i]) continue;
        if (!(t = curl_slist_append(h, fixed[i]))) goto err_headers;
        h = t;
    }
    if (req->bearer) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", req->bearer);
        t = curl_slist_append(h, auth);
        memset(auth, 0, sizeof auth);
        if (!t) goto err_headers;
        h = t;
    }
    x->headers = h;

    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "tiergate/" TIERGATE_VERSION);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    /* Pooled handles are reset, but verification is set every time anyway:
     * it must never depend on what a handle did before. */
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, req->insecure ? 0L : 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, req->insecure ? 0L : 2L);
    if (req->ca_file) curl_easy_setopt(e, CURLOPT_CAINFO, req->ca_file);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, u);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, close_socket);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, u);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    if (req->connect_ms > 0) curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)req->connect_ms);
    if (req->total_ms > 0) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)req->total_ms);
    if (req->body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, req->body);
    }

    x->next = u->active;
    if (u->active) u->active->prev = x;
    u->active = x;
    u->in_curl++;
    CURLMcode mc = curl_multi_add_handle(u->multi, e);
    u->in_curl--;
    if (mc != CURLM_OK) {
        x->cancelled = true;
        xfer_release(x);
        return NULL;
    }
    x->last_activity_ms = evloop_now_ms(u->loop);
    if (req->first_byte_ms > 0)
        evloop_timer_start(u->loop, &x->first_byte_timer, (uint64_t)req->first_byte_ms);
    return x;

err_headers:
    curl_slist_free_all(h);
err:
    if (x->easy) curl_easy_cleanup(x->easy);
    free(x);
    return NULL;
}

static upstream_xfer *ops_start(void *ctx, const upstream_request *req, const upstream_callbacks *cb, void *ud) {
    return upstream_start(ctx, req, cb, ud);
}

static void ops_cancel(void *ctx, upstream_xfer *x) {
    (void)ctx;
    upstream_cancel(x);
}

static void ops_pause(void *ctx, upstream_xfer *x, bool paused) {
    (void)ctx;
    upstream_pause(x, paused);
}

upstream_ops upstream_ops_of(upstream *u) { return (upstream_ops){ops_start, ops_cancel, ops_pause, u}; }

void upstream_cancel(upstream_xfer *x) {
    if (!x) return;
    x->cancelled = true;
    /* Inside a libcurl call the handle cannot be removed; it is released
     * when that call returns (socket_action), or, should libcurl call the
     * transfer first, its callbacks return 0 and it ends silently. */
    if (x->u->in_curl) {
        x->u->pending_cancels++;
        return;
    }
    xfer_release(x);
}
