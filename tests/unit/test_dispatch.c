/* test_dispatch: the request path without sockets or sleeping.  dispatch
 * and attempt run as in the gateway, on a real evloop whose clock the test
 * moves (evloop_advance), over scripted transfers put in place of libcurl's
 * through the upstream_ops seam: each transfer records what it was asked
 * (backend, limits), and the test plays the backend's side (status line,
 * body bytes, the end) and reads what the client's side got (the sink).
 *
 * Covered: the order of candidates; every retry rule (5xx and a lost
 * connection retried with jittered back-off, at most routing.retries
 * times; Retry-After obeyed and its hold-off, too long a one and a 429
 * without one going elsewhere; refusals and time-outs not retried); the
 * final status by the last failure; client errors and the context-length
 * fallback; the deadline cutting a back-off and capping each attempt's
 * limits; a hedge winning and losing; streams committed, completed (by
 * [DONE], by the finish grace), broken mid-stream, failing before their
 * first chunk; an attempt that cannot start (out of memory: a 500); backpressure reaching the transfer and holding the finish
 * grace; and the client hanging up in each state (attempt in flight,
 * back-off pending, hedged, committed, in the finish grace).
 * Continuation (issue 15): a stream broken after commitment by each kind of
 * failure, continued on the next candidate that can (the body it gets, the
 * seam: whitespace the client has dropped, the role delta dropped, a
 * restart refused); refusals, a continuation that breaks in turn, no
 * candidate that can, an answer that cannot be continued as text, the
 * deadline; and malformed events skipped mid-stream. */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends.h"
#include "dispatch.h"
#include "evloop.h"
#include "request.h"
#include "testlib.h"
#include "upstream.h"

/* ---- scripted transfers ---- */

#define MAX_XFERS 32

typedef struct fake_xfer {
    char host[32];                 /* the backend's name: its URL is http://<name>/v1 */
    upstream_request req;          /* limits as asked; url and body not kept */
    const upstream_callbacks *cb;
    void *ud;
    bool live, cancelled, paused;
    char body[1024];               /* the request's body, cut to fit */
} fake_xfer;

static fake_xfer xfers[MAX_XFERS];
static int nxfers;
static bool refuse_starts;         /* a transfer cannot be set up (out of memory) */

static upstream_xfer *fake_start(void *ctx, const upstream_request *req, const upstream_callbacks *cb, void *ud) {
    (void)ctx;
    if (nxfers == MAX_XFERS || refuse_starts) return NULL;
    fake_xfer *x = &xfers[nxfers++];
    memset(x, 0, sizeof *x);
    sscanf(req->url, "http://%31[^/]", x->host);
    x->req = *req;
    snprintf(x->body, sizeof x->body, "%.*s", (int)req->body_len, req->body);
    x->req.url = x->req.body = NULL;
    x->cb = cb;
    x->ud = ud;
    x->live = true;
    return (upstream_xfer *)x;
}

static void fake_cancel(void *ctx, upstream_xfer *ux) {
    (void)ctx;
    fake_xfer *x = (fake_xfer *)ux;
    x->live = false;
    x->cancelled = true;
}

static void fake_pause(void *ctx, upstream_xfer *ux, bool paused) {
    (void)ctx;
    ((fake_xfer *)ux)->paused = paused;
}

static const upstream_ops fake_ops = {fake_start, fake_cancel, fake_pause, NULL};

/* The backend's side of transfer i. */
static void headers(int i, long status) { xfers[i].cb->on_headers(xfers[i].ud, status, "application/json"); }
static void data(int i, const char *s) { xfers[i].cb->on_data(xfers[i].ud, s, strlen(s)); }

static void done_full(int i, upstream_result res, long status, const char *detail, int retry_after_ms) {
    fake_xfer *x = &xfers[i];
    upstream_report r = {.res = res, .status = status, .detail = detail, .connect_ms = -1,
                         .first_byte_ms = -1, .retry_after_ms = retry_after_ms};
    x->live = false;
    x->cb->on_done(x->ud, &r);
}

static void done(int i, upstream_result res, const char *detail) { done_full(i, res, 0, detail, -1); }

/* A whole HTTP answer: status line, body, end. */
static void answer(int i, long status, const char *body, int retry_after_ms) {
    headers(i, status);
    if (body) data(i, body);
    done_full(i, UPSTREAM_OK, status, "", retry_after_ms);
}

static const char plain_ok[] =
    "{\"id\":\"x\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":"
    "{\"role\":\"assistant\",\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}";
#define CHUNK(text) "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" text "\"}}]}\n\n"
#define FINISH "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
#define DONE "data: [DONE]\n\n"

/* n transfers have started, the last one to host. */
static void started(int n, const char *host) {
    CHECK_INT(nxfers, n);
    if (nxfers == n) CHECK_STR(xfers[n - 1].host, host);
}

/* ---- the sink: what the client's side saw, as one line ---- */

static char seen[2048];
static char client_text[512];      /* the content the client got */
static char last_error[1024];
static bool not_text;              /* on_continue: the answer cannot be continued as text */
static int not_to = -1;            /* on_continue: this backend may not continue it (privacy) */

static void note(const char *fmt, ...) {
    size_t n = strlen(seen);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(seen + n, sizeof seen - n, fmt, ap);
    va_end(ap);
}

static config *cfg;

static void on_response(void *ud, int backend, const char *reason, cJSON *body) {
    (void)ud;
    note("answer %s %s; ", cfg->backends[backend].name, reason);
    cJSON_Delete(body);
}

static void on_chunk(void *ud, int backend, const char *reason, cJSON *chunk) {
    (void)ud;
    const cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(chunk, "choices"), 0);
    const char *t = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(c, "delta"), "content"));
    note("chunk %s %s %s; ", cfg->backends[backend].name, reason, t ? t : "-");
    if (t) snprintf(client_text + strlen(client_text), sizeof client_text - strlen(client_text), "%s", t);
}

static void on_stream_end(void *ud) {
    (void)ud;
    note("end; ");
}

static void on_error(void *ud, const api_error *e, bool committed, int backend) {
    (void)ud;
    note("error %d%s %s; ", e->status, committed ? " committed" : "", backend >= 0 ? cfg->backends[backend].name : "-");
    snprintf(last_error, sizeof last_error, "%s", e->message);
}

static void on_attempt(void *ud, int backend, dispatch_attempt_kind kind) {
    (void)ud;
    static const char *const kinds[] = {"first", "retry", "fallback", "hedge", "continuation"};
    note("try %s %s; ", cfg->backends[backend].name, kinds[kind]);
}

static const char *on_continue(void *ud, int from, int to, size_t *len) {
    (void)ud;
    note("prefix %s>%s; ", cfg->backends[from].name, cfg->backends[to].name);
    *len = strlen(client_text);
    if (to == not_to) return DISPATCH_CONT_SKIP;
    return not_text ? NULL : client_text;
}

static void on_continued(void *ud, int from, int to, const char *outcome, const char *why) {
    (void)ud;
    (void)why;
    note("continued %s>%s %s; ", cfg->backends[from].name, to >= 0 ? cfg->backends[to].name : "none", outcome);
}

static void on_malformed(void *ud, int backend, int n) {
    (void)ud;
    note("malformed %s %d; ", cfg->backends[backend].name, n);
}

static bool whole_turn;            /* on_whole_turn's answer */

static bool on_whole_turn(void *ud) {
    (void)ud;
    if (whole_turn) note("whole turn; ");
    return whole_turn;
}

static const dispatch_sink sink = {on_response, on_chunk,     on_stream_end, on_error,    on_attempt,
                                   NULL,        on_continue, on_continued,  on_malformed, on_whole_turn};
/* Issue 17's and 15's callbacks left out: what a sink without them gets. */
static const dispatch_sink plain_sink = {on_response, on_chunk, on_stream_end, on_error, on_attempt,
                                         NULL,        NULL,     NULL,          NULL,     NULL};

/* ---- the fixture ---- */

static const char config_text[] =
    "{\"listen\":\"127.0.0.1:0\",\"backends\":["
    "{\"name\":\"local\",\"tier\":\"device\",\"url\":\"http://local/v1\",\"model\":\"m\",\"context_tokens\":4096,"
    " \"timeouts\":{\"connect_ms\":200,\"first_byte_ms\":3000,\"idle_ms\":2000,\"total_ms\":60000}},"
    "{\"name\":\"mid\",\"tier\":\"edge\",\"url\":\"http://mid/v1\",\"model\":\"m\",\"context_tokens\":4096},"
    "{\"name\":\"big\",\"tier\":\"cloud\",\"url\":\"http://big/v1\",\"model\":\"m\",\"context_tokens\":128000}],"
    "\"routing\":{\"fallback\":true,\"deadline_ms\":10000,\"retries\":2,\"retry_backoff_ms\":100,"
    "\"max_retry_after_ms\":2000}}";

static evloop *loop;
static backends *health;
static dispatch *disp;
static chatreq req_plain, req_stream;

static void setup(void) {
    char err[256];
    cfg = config_parse(config_text, sizeof config_text - 1, err, sizeof err, NULL);
    if (!cfg) {
        fprintf(stderr, "config: %s\n", err);
        exit(1);
    }
    loop = evloop_new();
    health = backends_new(cfg);
    backends_use_clock(health, loop);
    disp = dispatch_new(cfg, health, loop, &fake_ops);
    api_error e;
    static const char plain[] = "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    static const char stream[] =
        "{\"model\":\"auto\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    if (!loop || !health || !disp || chatreq_parse(plain, sizeof plain - 1, &req_plain, &e) < 0 ||
        chatreq_parse(stream, sizeof stream - 1, &req_stream, &e) < 0) {
        fprintf(stderr, "setup failed\n");
        exit(1);
    }
}

/* A fresh start for each case: no transfers, nothing seen, every circuit
 * closed and no hold-off (a new registry), the routing settings as in the
 * text above. */
static void reset(void) {
    for (int i = 0; i < nxfers; i++) CHECK(!xfers[i].live);   /* the last case left nothing running */
    nxfers = 0;
    seen[0] = client_text[0] = last_error[0] = '\0';
    not_text = false;
    not_to = -1;
    whole_turn = false;
    for (size_t i = 0; i < cfg->nbackends; i++) cfg->backends[i].continuation = CONTINUATION_NONE;
    dispatch_free(disp);
    backends_free(health);
    health = backends_new(cfg);
    backends_use_clock(health, loop);
    disp = dispatch_new(cfg, health, loop, &fake_ops);
    refuse_starts = false;
    cfg->hedge_after_ms = 0;
    cfg->retries = 2;
    cfg->fallback = true;
}

/* A job over the candidates named ("local big"), with deadline_ms. */
static dispatch_job *start(const chatreq *req, const char *names, int deadline_ms) {
    router_decision dec = {.tier = TIER_DEVICE, .reason = "complexity", .score = 0.1};
    char copy[128], *save = NULL;
    snprintf(copy, sizeof copy, "%s", names);
    for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save))
        dec.candidates[dec.ncandidates++] = config_backend_index(cfg, w);
    return dispatch_start(disp, req, &dec, deadline_ms, &sink, NULL);
}

/* ---- the cases ---- */

static void candidates_in_order(void) {
    reset();
    dispatch_job *j = start(&req_plain, "local mid big", 10000);
    started(1, "local");
    done(0, UPSTREAM_ERR_CONNECT, "connection refused");     /* not retried: go on */
    started(2, "mid");
    answer(1, 200, plain_ok, -1);
    CHECK_STR(seen, "try local first; try mid fallback; answer mid fallback; ");
    CHECK_INT(dispatch_job_attempts(j), 2);
    dispatch_job_free(j);

    /* fallback off: the first candidate's failure is the answer */
    reset();
    cfg->fallback = false;
    j = start(&req_plain, "local big", 10000);
    done(0, UPSTREAM_ERR_CONNECT, "connection refused");
    CHECK_INT(nxfers, 1);
    CHECK_STR(seen, "try local first; error 503 local; ");
    dispatch_job_free(j);
}

static void retry_5xx_with_backoff(void) {
    reset();
    dispatch_job *j = start(&req_plain, "local big", 10000);
    answer(0, 503, "{\"error\":{\"message\":\"busy\"}}", -1);
    /* back-off: 100 * 2^0 * U(0.5, 1.5) ms */
    evloop_advance(loop, 49);
    CHECK_INT(nxfers, 1);
    evloop_advance(loop, 101);
    started(2, "local");
    answer(1, 502, "", -1);
    /* second back-off: 200 * U(0.5, 1.5) */
    evloop_advance(loop, 99);
    CHECK_INT(nxfers, 2);
    evloop_advance(loop, 201);
    CHECK_INT(nxfers, 3);
    answer(2, 500, "", -1);                 /* retries (2) spent: on to the next */
    started(4, "big");
    answer(3, 200, plain_ok, -1);
    CHECK_STR(seen, "try local first; try local retry; try local retry; try big fallback; answer big fallback; ");
    dispatch_job_free(j);
}

static void retry_lost_connection_only_before_headers(void) {
    reset();
    dispatch_job *j = start(&req_plain, "local big", 10000);
    done(0, UPSTREAM_ERR_CUT, "connection lost");    /* status 0: a reset keep-alive connection */
    CHECK_INT(nxfers, 1);
    evloop_advance(loop, 150);
    started(2, "local");
    headers(1, 200);
    done_full(1, UPSTREAM_ERR_CUT, 200, "connection lost", -1);   /* after the headers: not retried */
    started(3, "big");
    answer(2, 200, plain_ok, -1);
    dispatch_job_free(j);
}

static void no_retry_for_timeouts_and_the_final_status(void) {
    struct { upstream_result res; const char *detail; int status; } cases[] = {
        {UPSTREAM_ERR_CONNECT, "connection refused", 503},
        {UPSTREAM_ERR_FIRST_BYTE_TIMEOUT, "first-byte timeout", 504},
        {UPSTREAM_ERR_CONNECT_TIMEOUT, "connect timeout", 504},
        {UPSTREAM_ERR_OTHER, "weird", 502},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        reset();
        dispatch_job *j = start(&req_plain, "local big", 10000);
        done(0, UPSTREAM_ERR_CONNECT, "connection refused");
        CHECK_INT(nxfers, 2);
        done(1, cases[k].res, cases[k].detail);          /* the last failure decides */
        char want[96];
        snprintf(want, sizeof want, "try local first; try big fallback; error %d big; ", cases[k].status);
        CHECK_STR(seen, want);
        CHECK_INT(nxfers, 2);
        dispatch_job_free(j);
    }
    /* a malformed answer is a bad answer: 502, not retried */
    reset();
    dispatch_job *j = start(&req_plain, "local", 10000);
    answer(0, 200, "{\"no\":\"choices\"}", -1);
    CHECK_STR(seen, "try local first; error 502 local; ");
    dispatch_job_free(j);
}

static void retry_after_rules(void) {
    /* obeyed when short enough, exactly */
    reset();
    dispatch_job *j = start(&req_plain, "local big", 10000);
    answer(0, 429, "", 300);
    evloop_advance(loop, 299);
    CHECK_INT(nxfers, 1);
    evloop_advance(loop, 1);
    started(2, "local");
    answer(1, 200, plain_ok, -1);
    dispatch_job_free(j);

    /* and it keeps other requests away for as long */
    reset();
    j = start(&req_plain, "local big", 10000);
    answer(0, 503, "", 1000);
    dispatch_job *other = start(&req_plain, "local big", 10000);
    started(2, "big");                  /* local was held off */
    answer(1, 200, plain_ok, -1);
    dispatch_job_free(other);
    dispatch_job_free(j);
    CHECK(!xfers[0].live);

    /* too long: elsewhere at once */
    reset();
    j = start(&req_plain, "local big", 10000);
    answer(0, 429, "", 5000);
    started(2, "big");
    answer(1, 200, plain_ok, -1);
    dispatch_job_free(j);

    /* a 429 without Retry-After: no guess, elsewhere at once */
    reset();
    j = start(&req_plain, "local big", 10000);
    answer(0, 429, "", -1);
    started(2, "big");
    answer(1, 200, plain_ok, -1);
    dispatch_job_free(j);
}

static void client_errors(void) {
    reset();
    dispatch_job *j = start(&req_plain, "local big", 10000);
    answer(0, 400, "{\"error\":{\"message\":\"bad temperature\"}}", -1);
    CHECK_STR(seen, "try local first; error 400 local; ");
    CHECK_INT(nxfers, 1);
    dispatch_job_free(j);

    /* context length: on to a candidate with a larger context, past mid */
    reset();
    j = start(&req_plain, "local mid big", 10000);
    answer(0, 400, "{\"error\":{\"message\":\"x\",\"type\":\"exceed_context_size_error\"}}", -1);
    started(2, "big");
    answer(1, 200, plain_ok, -1);
    CHECK_STR(seen, "try local first; try big fallback; answer big fallback; ");
    dispatch_job_free(j);
}

static void deadline(void) {
    /* each attempt's limits are cut to the time left */
    reset();
    dispatch_job *j = start(&req_plain, "local big", 1000);
    CHECK_INT(xfers[0].req.first_byte_ms, 1000);
    CHECK_INT(xfers[0].req.total_ms, 1000);
    CHECK_INT(xfers[0].req.connect_ms, 200);
    evloop_advance(loop, 900);
    /* a back-off that would not leave 100 ms is not waited for: on to the next */
    answer(0, 503, "", -1);
    started(2, "big");
    CHECK_INT(xfers[1].req.total_ms, 100);
    evloop_advance(loop, 100);
    done(1, UPSTREAM_ERR_TOTAL_TIMEOUT, "total time limit reached");
    CHECK_STR(seen, "try local first; try big fallback; error 504 big; ");
    dispatch_job_free(j);

    /* a failure at the deadline: no candidate may start, and the error says why */
    reset();
    j = start(&req_plain, "local big", 500);
    evloop_advance(loop, 500);
    done(0, UPSTREAM_ERR_FIRST_BYTE_TIMEOUT, "first-byte timeout");
    CHECK_INT(nxfers, 1);
    CHECK_STR(seen, "try local first; error 504 local; ");
    dispatch_job_free(j);
}

static void hedging(void) {
    /* the hedge wins: the first is cancelled, the answer says "hedge" */
    reset();
    cfg->hedge_after_ms = 200;
    dispatch_job *j = start(&req_stream, "local big", 10000);
    evloop_advance(loop, 199);
    CHECK_INT(nxfers, 1);
    evloop_advance(loop, 1);
    started(2, "big");
    headers(1, 200);
    data(1, CHUNK("a"));
    CHECK(xfers[0].cancelled);
    data(1, FINISH DONE);
    evloop_advance(loop, 0);                          /* the rest of the read, a turn later */
    done_full(1, UPSTREAM_OK, 200, "", -1);
    CHECK_STR(seen, "try local first; try big hedge; chunk big hedge a; chunk big hedge -; end; ");
    dispatch_job_free(j);

    /* the first wins after the hedge started: the hedge is cancelled */
    reset();
    cfg->hedge_after_ms = 200;
    j = start(&req_stream, "local big", 10000);
    evloop_advance(loop, 200);
    CHECK_INT(nxfers, 2);
    headers(0, 200);
    data(0, CHUNK("b"));
    CHECK(xfers[1].cancelled);
    CHECK(!xfers[0].cancelled);
    data(0, FINISH DONE);
    evloop_advance(loop, 0);
    done_full(0, UPSTREAM_OK, 200, "", -1);
    CHECK_STR(seen, "try local first; try big hedge; chunk local complexity b; chunk local complexity -; end; ");
    dispatch_job_free(j);

    /* the hedge fails: the first goes on alone and answers */
    reset();
    cfg->hedge_after_ms = 200;
    j = start(&req_plain, "local big", 10000);
    evloop_advance(loop, 200);
    done(1, UPSTREAM_ERR_CONNECT, "connection refused");
    CHECK_INT(nxfers, 2);
    CHECK(xfers[0].live);
    answer(0, 200, plain_ok, -1);
    CHECK_STR(seen, "try local first; try big hedge; answer local complexity; ");
    dispatch_job_free(j);

    /* a first byte before the hedge timer: no hedge at all */
    reset();
    cfg->hedge_after_ms = 200;
    j = start(&req_plain, "local big", 10000);
    answer(0, 200, plain_ok, -1);
    evloop_advance(loop, 500);
    CHECK_INT(nxfers, 1);
    dispatch_job_free(j);
}

static void streams(void) {
    /* [DONE] ends a committed stream */
    reset();
    dispatch_job *j = start(&req_stream, "local big", 10000);
    headers(0, 200);
    data(0, CHUNK("x"));
    evloop_advance(loop, 0);
    data(0, FINISH);
    data(0, DONE);
    done_full(0, UPSTREAM_OK, 200, "", -1);
    CHECK_STR(seen, "try local first; chunk local complexity x; chunk local complexity -; end; ");
    dispatch_job_free(j);

    /* after [DONE], a malformed event and a line past the event limit are
     * only cut off: the answer stands */
    reset();
    j = start(&req_stream, "local big", 10000);
    headers(0, 200);
    data(0, CHUNK("w"));
    evloop_advance(loop, 0);
    data(0, FINISH DONE "data: {nope\n\n");
    size_t huge = 5u << 20;
    char *line = malloc(huge + 1);
    memset(line, 'x', huge);
    line[huge] = '\0';
    CHECK(xfers[0].cb->on_data(xfers[0].ud, line, huge) != 0);    /* too large: the transfer is aborted */
    free(line);
    done_full(0, UPSTREAM_ERR_ABORTED, 200, "aborted by the gateway", -1);
    CHECK_STR(seen, "try local first; chunk local complexity w; chunk local complexity -; end; ");
    dispatch_job_free(j);

    /* a finish_reason and then silence: complete after the grace */
    reset();
    j = start(&req_stream, "local", 10000);
    headers(0, 200);
    data(0, CHUNK("y"));
    evloop_advance(loop, 0);
    data(0, FINISH);
    evloop_advance(loop, 499);
    CHECK(xfers[0].live);
    evloop_advance(loop, 1);
    CHECK(xfers[0].cancelled);
    CHECK_STR(seen, "try local first; chunk local complexity y; chunk local complexity -; end; ");
    dispatch_job_free(j);

    /* [DONE] before any chunk: a failure before commitment, so the next candidate */
    reset();
    j = start(&req_stream, "local big", 10000);
    headers(0, 200);
    data(0, DONE);
    done_full(0, UPSTREAM_OK, 200, "", -1);
    CHECK_INT(nxfers, 2);
    headers(1, 200);
    data(1, CHUNK("z") FINISH DONE);
    evloop_advance(loop, 0);
    done_full(1, UPSTREAM_OK, 200, "", -1);
    CHECK_STR(seen, "try local first; try big fallback; chunk big fallback z; chunk big fallback -; end; ");
    dispatch_job_free(j);

    /* a malformed first chunk: the same */
    reset();
    j = start(&req_stream, "local big", 10000);
    headers(0, 200);
    data(0, "data: {nope\n\n");
    done(0, UPSTREAM_ERR_ABORTED, "aborted by the gateway");
    started(2, "big");
    answer(1, 503, "", -1);
    evloop_advance(loop, 150);
    answer(2, 503, "", -1);
    evloop_advance(loop, 300);
    answer(3, 503, "", -1);
    CHECK_STR(seen, "try local first; try big fallback; try big retry; try big retry; error 502 big; ");
    dispatch_job_free(j);
}

/* With no candidate that can continue it, a stream broken after its
 * first chunk ends with an error event (committed), whatever broke it. */
static void stream_broken_mid_way(void) {
    struct { const char *bytes; upstream_result res; } cases[] = {
        {"", UPSTREAM_ERR_CUT},                                   /* the connection is lost */
        {"", UPSTREAM_ERR_IDLE_TIMEOUT},                          /* the backend stalls */
        {"", UPSTREAM_OK},                                        /* a clean close without a finish */
        {"data: {\"error\":{\"message\":\"oops\"}}\n\n", UPSTREAM_ERR_ABORTED},   /* an error event */
        {"data: not json\n\n", UPSTREAM_OK},                    /* a malformed event, then the end */
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        reset();
        dispatch_job *j = start(&req_stream, "local big", 10000);
        headers(0, 200);
        data(0, CHUNK("p"));
        evloop_advance(loop, 0);
        if (cases[k].bytes[0]) data(0, cases[k].bytes);
        done_full(0, cases[k].res, 200, "lost", -1);
        CHECK_STR(seen, k == 4 ? "try local first; chunk local complexity p; malformed local 1; "
                                 "continued local>none unavailable; error 502 committed local; "
                               : "try local first; chunk local complexity p; continued local>none unavailable; "
                                 "error 502 committed local; ");
        CHECK(strncmp(last_error, "backend local failed mid-stream: ", 33) == 0);
        CHECK_INT(nxfers, 1);                                     /* big cannot continue */
        dispatch_job_free(j);
    }
    /* a sink without the continuation callbacks: the same error event */
    reset();
    cfg->backends[0].continuation = CONTINUATION_PREFILL;
    router_decision dec = {.tier = TIER_CLOUD, .reason = "complexity", .ncandidates = 2,
                           .candidates = {config_backend_index(cfg, "big"), config_backend_index(cfg, "local")}};
    dispatch_job *j = dispatch_start(disp, &req_stream, &dec, 10000, &plain_sink, NULL);
    headers(0, 200);
    data(0, CHUNK("p"));
    done(0, UPSTREAM_ERR_CUT, "connection lost");
    CHECK_STR(seen, "try big first; chunk big complexity p; error 502 committed big; ");
    CHECK_STR(last_error, "backend big failed mid-stream: connection lost");
    dispatch_job_free(j);
}

/* big's stream broke after "Hello, "; local continues it. */
static dispatch_job *broken_after_hello(upstream_result res, const char *bytes) {
    reset();
    cfg->backends[config_backend_index(cfg, "local")].continuation = CONTINUATION_PREFILL;
    dispatch_job *j = start(&req_stream, "big local", 10000);
    headers(0, 200);
    data(0, CHUNK("Hello") CHUNK(", "));
    evloop_advance(loop, 0);
    if (bytes) data(0, bytes);
    done_full(0, res, 200, "lost", -1);
    return j;
}

#define ROLE "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n"
#define USAGE "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2}}\n\n"

static void continued_on_the_next_candidate(void) {
    static const struct { upstream_result res; const char *bytes; } kinds[] = {
        {UPSTREAM_ERR_CUT, NULL},                                                     /* cut */
        {UPSTREAM_ERR_IDLE_TIMEOUT, NULL},                                            /* stall */
        {UPSTREAM_ERR_ABORTED, "data: {\"error\":{\"message\":\"overloaded\"}}\n\n"},   /* error event */
        {UPSTREAM_OK, NULL},                                                          /* no finish_reason */
        {UPSTREAM_OK, "data: nonsense\n\n"},                                          /* malformed, then no finish */
    };
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        dispatch_job *j = broken_after_hello(kinds[k].res, kinds[k].bytes);
        started(2, "local");
        /* the prefix without its trailing space, as a prefill */
        CHECK(strstr(xfers[1].body, "{\"role\":\"assistant\",\"content\":\"Hello,\"}]") != NULL);
        CHECK(xfers[1].req.total_ms <= 10000);
        headers(1, 200);
        data(1, ROLE CHUNK(" wor"));                 /* the space the client has is dropped */
        evloop_advance(loop, 0);
        data(1, CHUNK("ld") FINISH USAGE DONE);
        evloop_advance(loop, 0);
        done_full(1, UPSTREAM_OK, 200, "", -1);
        CHECK_STR(client_text, "Hello, world");
        CHECK(strstr(seen, "prefix big>local; try local continuation; chunk local continuation wor; chunk local "
                           "continuation ld; chunk local continuation -; chunk local continuation -; continued "
                           "big>local completed; end; ") != NULL);
        CHECK_INT(k == 4, strstr(seen, "malformed big 1; ") != NULL);
        dispatch_job_free(j);
    }

    /* a seam inside the probe: the continuation comes a byte at a time and
     * finishes before SEAM_PROBE bytes; none of its text is lost */
    dispatch_job *j = broken_after_hello(UPSTREAM_ERR_CUT, NULL);
    headers(1, 200);
    data(1, ROLE CHUNK(" ") CHUNK("w") CHUNK("!") FINISH DONE);
    evloop_advance(loop, 0);
    done_full(1, UPSTREAM_OK, 200, "", -1);
    CHECK_STR(client_text, "Hello, w!");
    dispatch_job_free(j);

    /* the other dialects' markers */
    static const struct { continuation_t c; const char *marker; } dialects[] = {
        {CONTINUATION_PREFIX, "\"content\":\"Hello,\",\"prefix\":true}"},
        {CONTINUATION_PARTIAL, "\"content\":\"Hello,\",\"partial\":true}"},
        {CONTINUATION_CONTINUE_FINAL_MESSAGE, "\"continue_final_message\":true,\"add_generation_prompt\":false"},
    };
    for (size_t k = 0; k < sizeof dialects / sizeof *dialects; k++) {
        reset();
        cfg->backends[config_backend_index(cfg, "local")].continuation = dialects[k].c;
        j = start(&req_stream, "big local", 10000);
        headers(0, 200);
        data(0, CHUNK("Hello,"));
        done(0, UPSTREAM_ERR_CUT, "lost");
        CHECK(strstr(xfers[1].body, dialects[k].marker) != NULL);
        dispatch_job_free(j);
    }
}

/* big's stream broke after bytes; local and then mid can continue it. */
static dispatch_job *big_cut_after(const char *bytes) {
    reset();
    cfg->backends[config_backend_index(cfg, "local")].continuation = CONTINUATION_PREFILL;
    cfg->backends[config_backend_index(cfg, "mid")].continuation = CONTINUATION_PREFILL;
    dispatch_job *j = start(&req_stream, "big local mid", 10000);
    headers(0, 200);
    data(0, bytes);
    done(0, UPSTREAM_ERR_CUT, "lost");
    return j;
}

static void continuation_refused(void) {
    /* an answer that starts over: a clean error naming the first failure */
    dispatch_job *j = broken_after_hello(UPSTREAM_ERR_CUT, NULL);
    headers(1, 200);
    data(1, ROLE CHUNK("Hello, world, and so on"));
    evloop_advance(loop, 0);
    done(1, UPSTREAM_ERR_ABORTED, "aborted by the gateway");
    CHECK_STR(client_text, "Hello, ");
    CHECK(strstr(seen, "continued big>local refused; error 502 committed local; ") != NULL);
    CHECK(strncmp(last_error, "backend big failed mid-stream: lost; continuation on local: ", 60) == 0);
    dispatch_job_free(j);

    /* a 400 */
    j = broken_after_hello(UPSTREAM_ERR_CUT, NULL);
    answer(1, 400, "{\"error\":{\"message\":\"Cannot continue\"}}", -1);
    CHECK(strstr(seen, "continued big>local refused; error 502 committed local; ") != NULL);
    CHECK(strstr(last_error, "backend big failed mid-stream: lost") == last_error);
    dispatch_job_free(j);

    /* a continuation that fails before its first byte; then mid continues */
    j = big_cut_after(CHUNK("Hi"));
    done(1, UPSTREAM_ERR_CONNECT, "connection refused");   /* not retried: the next one */
    started(3, "mid");
    headers(2, 200);
    data(2, CHUNK(" there") FINISH DONE);
    evloop_advance(loop, 0);
    done_full(2, UPSTREAM_OK, 200, "", -1);
    CHECK_STR(client_text, "Hi there");
    CHECK(strstr(seen, "continued big>local failed; prefix big>mid; try mid continuation; ") != NULL);
    CHECK(strstr(seen, "continued big>mid completed; end; ") != NULL);
    dispatch_job_free(j);

    /* a continuation that breaks in turn is continued from where it got */
    j = big_cut_after(CHUNK("one"));
    headers(1, 200);
    data(1, CHUNK(" two"));
    evloop_advance(loop, 0);
    done(1, UPSTREAM_ERR_IDLE_TIMEOUT, "idle");
    CHECK(strstr(xfers[2].body, "\"content\":\"one two\"}]") != NULL);
    headers(2, 200);
    data(2, CHUNK(" three") FINISH DONE);
    evloop_advance(loop, 0);
    done_full(2, UPSTREAM_OK, 200, "", -1);
    CHECK_STR(client_text, "one two three");
    CHECK(strstr(seen, "continued big>local broken; prefix local>mid; ") != NULL);
    dispatch_job_free(j);
}

/* big has sent "x", local can continue; deadline_ms for the job. */
static dispatch_job *big_sent_x(int deadline_ms) {
    reset();
    cfg->backends[config_backend_index(cfg, "local")].continuation = CONTINUATION_PREFILL;
    dispatch_job *j = start(&req_stream, "big local", deadline_ms);
    headers(0, 200);
    data(0, CHUNK("x"));
    return j;
}

static void continuation_impossible(void) {
    /* the answer cannot be continued as text (a tool call was under way) */
    dispatch_job *j = big_sent_x(10000);
    not_text = true;
    done(0, UPSTREAM_ERR_CUT, "lost");
    CHECK_INT(nxfers, 1);
    CHECK(strstr(seen, "continued big>none unavailable; error 502 committed big; ") != NULL);
    CHECK(strstr(last_error, "it cannot be continued as text") != NULL);
    dispatch_job_free(j);

    /* no time left: the deadline passed while the first stream ran */
    j = big_sent_x(1000);
    evloop_advance(loop, 1000);
    done(0, UPSTREAM_ERR_TOTAL_TIMEOUT, "total time-out");
    CHECK_INT(nxfers, 1);
    CHECK(strstr(last_error, "no time left to continue it") != NULL);
    dispatch_job_free(j);

    /* the time runs out during the continuation: its limits are what is
     * left, and the error names the first failure */
    j = big_sent_x(1000);
    evloop_advance(loop, 600);
    done(0, UPSTREAM_ERR_CUT, "lost");
    CHECK_INT(xfers[1].req.total_ms, 400);
    evloop_advance(loop, 400);
    done(1, UPSTREAM_ERR_TOTAL_TIMEOUT, "total time-out");
    CHECK(strstr(seen, "continued big>local failed; error 502 committed local; ") != NULL);
    CHECK(strstr(last_error, "backend big failed mid-stream: lost") == last_error);
    dispatch_job_free(j);
}

/* A candidate that may not see the text (cut inside a personal value it
 * gets masked) is passed over: the next one continues, or none does. */
static void continuation_passed_over(void) {
    reset();
    cfg->backends[config_backend_index(cfg, "local")].continuation = CONTINUATION_PREFILL;
    cfg->backends[config_backend_index(cfg, "mid")].continuation = CONTINUATION_PREFILL;
    not_to = config_backend_index(cfg, "local");
    dispatch_job *j = start(&req_stream, "big local mid", 10000);
    headers(0, 200);
    data(0, CHUNK("call 1381"));
    done(0, UPSTREAM_ERR_CUT, "lost");
    started(2, "mid");
    CHECK(strstr(seen, "prefix big>local; prefix big>mid; try mid continuation; ") != NULL);
    headers(1, 200);
    data(1, ROLE CHUNK("2345678") FINISH DONE);
    evloop_advance(loop, 0);
    done_full(1, UPSTREAM_OK, 200, "", -1);
    CHECK_STR(client_text, "call 13812345678");
    dispatch_job_free(j);

    /* the only candidate passed over: the stream ends with the error event */
    reset();
    cfg->backends[config_backend_index(cfg, "local")].continuation = CONTINUATION_PREFILL;
    not_to = config_backend_index(cfg, "local");
    j = start(&req_stream, "big local", 10000);
    headers(0, 200);
    data(0, CHUNK("call 1381"));
    done(0, UPSTREAM_ERR_CUT, "lost");
    CHECK_INT(nxfers, 1);
    CHECK(strstr(seen, "continued big>none unavailable; error 502 committed big; ") != NULL);
    CHECK(strstr(last_error, "continuation on local: not asked: the answer was cut inside a personal value") != NULL);
    dispatch_job_free(j);
}

/* A stream that broke after whole tool calls is a whole turn: it ends as
 * an answer, with no continuation asked for and no error. */
static void whole_turn_closed(void) {
    dispatch_job *j = big_sent_x(10000);
    not_text = true;
    whole_turn = true;
    done(0, UPSTREAM_ERR_CUT, "lost");
    CHECK_INT(nxfers, 1);
    CHECK(strstr(seen, "whole turn; continued big>none closed; end; ") != NULL);
    CHECK(strstr(seen, "error") == NULL);
    dispatch_job_free(j);
}

/* A malformed event amid a stream is skipped: the answer goes on. */
static void malformed_event_skipped(void) {
    reset();
    dispatch_job *j = start(&req_stream, "local", 10000);
    headers(0, 200);
    data(0, CHUNK("a"));
    evloop_advance(loop, 0);
    data(0, "data: {nope\n\n" CHUNK("b") FINISH DONE);
    done_full(0, UPSTREAM_OK, 200, "", -1);
    CHECK_STR(seen, "try local first; chunk local complexity a; chunk local complexity b; "
                    "chunk local complexity -; malformed local 1; end; ");
    dispatch_job_free(j);
}

/* The one out-of-memory policy: an attempt that cannot start ends the job
 * with a 500, not with another candidate or a 502. */
static void out_of_memory(void) {
    reset();
    refuse_starts = true;
    dispatch_job *j = start(&req_plain, "local big", 10000);
    CHECK_INT(nxfers, 0);
    CHECK_STR(seen, "error 500 -; ");
    dispatch_job_free(j);

    /* on a retry, after a failure */
    reset();
    j = start(&req_plain, "local big", 10000);
    answer(0, 503, "", -1);
    refuse_starts = true;
    evloop_advance(loop, 200);
    CHECK_STR(seen, "try local first; error 500 local; ");
    dispatch_job_free(j);
}

static void backpressure(void) {
    reset();
    dispatch_job *j = start(&req_stream, "local big", 10000);
    dispatch_job_pause(j, true);                 /* nothing committed: nothing to pause */
    CHECK(!xfers[0].paused);
    headers(0, 200);
    data(0, CHUNK("q"));
    dispatch_job_pause(j, true);
    CHECK(xfers[0].paused);
    dispatch_job_pause(j, false);
    CHECK(!xfers[0].paused);
    dispatch_job_free(j);
    CHECK(xfers[0].cancelled);

    /* the finish grace waits while paused: the usage chunk and [DONE] may
     * be held back by the pause, not missing */
    reset();
    j = start(&req_stream, "local", 10000);
    headers(0, 200);
    data(0, CHUNK("u"));
    evloop_advance(loop, 0);
    data(0, FINISH);
    dispatch_job_pause(j, true);
    evloop_advance(loop, 5000);
    CHECK(xfers[0].live);
    CHECK_STR(seen, "try local first; chunk local complexity u; chunk local complexity -; ");
    dispatch_job_pause(j, false);
    evloop_advance(loop, 499);
    CHECK(xfers[0].live);
    evloop_advance(loop, 1);
    CHECK(xfers[0].cancelled);
    CHECK_STR(seen, "try local first; chunk local complexity u; chunk local complexity -; end; ");
    dispatch_job_free(j);

    /* the client is held off when the stream breaks: the continuation
     * starts paused once it commits, and resumes with the client */
    j = big_sent_x(10000);
    dispatch_job_pause(j, true);
    CHECK(xfers[0].paused);
    done(0, UPSTREAM_ERR_CUT, "lost");
    headers(1, 200);
    CHECK(!xfers[1].paused);
    data(1, CHUNK("yz abcdefghijklmnopq"));
    CHECK(xfers[1].paused);
    dispatch_job_pause(j, false);
    CHECK(!xfers[1].paused);
    dispatch_job_free(j);
}

/* The client hangs up (chat frees the job) in each state of the job: the
 * transfers are cancelled, no timer starts another, the sink hears nothing. */
static void client_hang_up(void) {
    /* an attempt in flight */
    reset();
    dispatch_job *j = start(&req_plain, "local big", 10000);
    dispatch_job_free(j);
    CHECK(xfers[0].cancelled);
    CHECK_STR(seen, "try local first; ");

    /* a back-off pending */
    reset();
    j = start(&req_plain, "local big", 10000);
    answer(0, 503, "", -1);
    dispatch_job_free(j);
    evloop_advance(loop, 1000);
    CHECK_INT(nxfers, 1);
    CHECK_STR(seen, "try local first; ");

    /* hedged: two in flight, and the hedge timer's turn passed */
    reset();
    cfg->hedge_after_ms = 100;
    j = start(&req_plain, "local mid big", 10000);
    evloop_advance(loop, 100);
    CHECK_INT(nxfers, 2);
    dispatch_job_free(j);
    CHECK(xfers[0].cancelled && xfers[1].cancelled);

    /* the hedge timer not yet fired */
    reset();
    cfg->hedge_after_ms = 100;
    j = start(&req_plain, "local big", 10000);
    dispatch_job_free(j);
    evloop_advance(loop, 200);
    CHECK_INT(nxfers, 1);

    /* committed, mid-stream, with bytes held for the next turn (a read of
     * more than one 256-byte slice: the first event goes out at once) */
    reset();
    j = start(&req_stream, "local big", 10000);
    headers(0, 200);
    char burst[4096] = "";
    int sent = 0;
    for (; strlen(burst) < 1000; sent++) strcat(burst, CHUNK("s"));
    data(0, burst);
    char before[sizeof seen];
    snprintf(before, sizeof before, "%s", seen);
    int got = 0;
    for (const char *p = seen; (p = strstr(p, "chunk ")); p++) got++;
    CHECK(got >= 1 && got < sent);
    dispatch_job_free(j);
    evloop_advance(loop, 0);
    CHECK(xfers[0].cancelled);
    CHECK_STR(seen, before);

    /* in the finish grace */
    reset();
    j = start(&req_stream, "local", 10000);
    headers(0, 200);
    data(0, CHUNK("t"));
    evloop_advance(loop, 0);
    data(0, FINISH);
    dispatch_job_free(j);
    evloop_advance(loop, 1000);
    CHECK(xfers[0].cancelled);
    CHECK_STR(seen, "try local first; chunk local complexity t; chunk local complexity -; ");
}

int main(void) {
    setup();
    candidates_in_order();
    retry_5xx_with_backoff();
    retry_lost_connection_only_before_headers();
    no_retry_for_timeouts_and_the_final_status();
    retry_after_rules();
    client_errors();
    deadline();
    hedging();
    streams();
    stream_broken_mid_way();
    continued_on_the_next_candidate();
    continuation_refused();
    continuation_impossible();
    continuation_passed_over();
    whole_turn_closed();
    malformed_event_skipped();
    out_of_memory();
    backpressure();
    client_hang_up();
    reset();
    dispatch_free(disp);
    backends_free(health);
    chatreq_free(&req_plain);
    chatreq_free(&req_stream);
    evloop_free(loop);
    config_free(cfg);
    TEST_MAIN_END();
}
