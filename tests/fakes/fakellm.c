/*
 * fakellm's behaviour: chat answers (fresh or continued, see fakellm_cont.c),
 * the faults that spoil them on purpose (named in fakellm_faults.c), health
 * probes and the test-control endpoints.  See fakellm.h.
 */
#include "fakellm.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#define LOG_KEEP 1000            /* recorded chat requests */
#define ECHO_MAX 200             /* bytes of the user's text echoed in the answer */

#define MIDSTREAM_ERROR \
    "{\"error\":{\"code\":500,\"message\":\"simulated mid-stream failure\",\"type\":\"server_error\"}}"

static atomic_long n_requests, n_probes, n_active, n_client_closed, n_ids;

static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static char *reqlog[LOG_KEEP];           /* printed request records, a ring */
static size_t reqlog_head, reqlog_count;

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


/* ---- chat completions ---------------------------------------------------- */

struct chat {
    struct conn *c;
    struct request *rq;
    struct faults f;
    bool active;               /* still counted in stats "active" */
    char id[48];
    double created;
    const char *model;
    char *text;                /* the answer sent: the full answer, or its rest */
    long prompt_tokens, completion_tokens;
    bool include_usage;
    struct cont cont;          /* what the request asks of continuation */
    int events;                /* SSE events sent so far */
    long long sse_bytes;       /* SSE text sent so far, for cut_at_byte */
};

/* Called just before a response's last write, so that a client that has read
 * the whole response sees "active" already dropped. */
static void chat_done(struct chat *s)
{
    if (s->active)
        atomic_fetch_sub(&n_active, 1);
    s->active = false;
}

/* Records a chat request; cont is its "continuation" field (taken). */
static void record_request(const struct request *rq, cJSON *cont)
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
    cJSON_AddItemToObject(o, "continuation", cont);
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

char *message_text(const cJSON *msg)
{
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content"), *part;
    struct buf b = {0};
    buf_add(&b, "", 0);
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

static char *last_user_text(const cJSON *req)
{
    const cJSON *m, *last = NULL;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(req, "messages")) {
        const char *role = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "role"));
        if (role && strcmp(role, "user") == 0)
            last = m;
    }
    return message_text(last);
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
    if (!s->f.no_usage)
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

/* One piece of SSE text in its own HTTP chunk.  With cut_at_byte the
 * connection is reset once the stream's SSE text reaches that many bytes: the
 * last chunk is announced whole but sent only up to the cut, which may fall
 * inside an event, a JSON string or a UTF-8 character. */
static enum outcome send_sse(struct chat *s, const char *p, size_t n)
{
    long long cut = s->f.cut_at_byte;
    if (cut < 0 || s->sse_bytes + (long long)n <= cut) {
        s->sse_bytes += (long long)n;
        return send_chunk(s->c, p, n) ? DONE : GONE;
    }
    struct buf b = {0};
    buf_printf(&b, "%zx\r\n", n);
    buf_add(&b, p, (size_t)(cut - s->sse_bytes));
    bool ok = send_all(s->c, b.p, b.len);
    free(b.p);
    return ok ? RESET : GONE;
}

/* One SSE event, in its own HTTP chunk, after the optional keep-alive comment
 * and the delay due before it. */
static enum outcome send_event(struct chat *s, const char *data)
{
    const char *eol = s->f.crlf ? "\r\n" : "\n";
    struct buf b = {0};
    enum outcome o = DONE;
    if (s->f.keepalive) {
        buf_printf(&b, ": keep-alive%s%s", eol, eol);
        o = send_sse(s, b.p, b.len);
        b.len = 0;
    }
    int delay = s->events == 0 ? s->f.delay_first_chunk_ms : s->f.chunk_delay_ms;
    if (o == DONE && delay > 0 && client_gone(s->c->fd, delay))
        o = GONE;
    if (o == DONE) {
        buf_printf(&b, "data:%s%s%s%s", s->f.no_space ? "" : " ", data, eol, eol);
        o = send_sse(s, b.p, b.len);
        s->events++;
    }
    free(b.p);
    return o;
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
    cJSON *o;
    if (s->f.empty_choices) {
        cJSON_Delete(delta);
        o = chat_object(s, "chat.completion.chunk");
        cJSON_AddArrayToObject(o, "choices");
    } else {
        o = add_choice(chat_object(s, "chat.completion.chunk"), "delta", delta, finish);
    }
    if (s->include_usage)
        cJSON_AddNullToObject(o, "usage");
    return send_event_json(s, o);
}

static enum outcome send_piece(struct chat *s, size_t from, size_t to)
{
    cJSON *delta = cJSON_CreateObject();
    char *piece = must(strndup(s->text + from, to - from));
    if (s->f.tool_call) {
        cJSON *call = cJSON_CreateObject();
        cJSON_AddItemToArray(cJSON_AddArrayToObject(delta, "tool_calls"), call);
        cJSON_AddNumberToObject(call, "index", 0);
        if (from == 0) {
            cJSON_AddStringToObject(call, "id", "call_1");
            cJSON_AddStringToObject(call, "type", "function");
        }
        cJSON *fn = cJSON_AddObjectToObject(call, "function");
        if (from == 0)
            cJSON_AddStringToObject(fn, "name", "answer");
        cJSON_AddStringToObject(fn, "arguments", piece);
    } else {
        cJSON_AddStringToObject(delta, "content", piece);
    }
    free(piece);
    return send_delta(s, delta, NULL);
}

static enum outcome end_stream(struct chat *s)
{
    chat_done(s);
    return send_chunk(s->c, "", 0) ? DONE : GONE;
}

/* Splits text into at most k pieces of about equal size, or (bytes > 0) into
 * pieces of `bytes` bytes, cut at UTF-8 character starts either way: a JSON
 * string holds whole characters only (see fakellm_cont.c on cut_at_byte).
 * Returns the number n of pieces; *edges gets n + 1 offsets. */
static size_t split_text(const char *t, int k, int bytes, size_t **edges)
{
    size_t len = strlen(t), n = 0;
    size_t parts = bytes > 0 ? (len + (size_t)bytes - 1) / (size_t)bytes : (size_t)k < len ? (size_t)k : len;
    size_t *e = must(malloc((parts + 1) * sizeof *e));
    e[0] = 0;
    for (size_t i = 1; i <= parts; i++) {
        size_t b = bytes > 0 ? (i * (size_t)bytes < len ? i * (size_t)bytes : len) : len * i / parts;
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

/* The usage chunk: no choices, the token counts. */
static enum outcome send_usage(struct chat *s)
{
    cJSON *u = chat_object(s, "chat.completion.chunk");
    cJSON_AddArrayToObject(u, "choices");
    add_usage(s, u);
    return send_event_json(s, u);
}

static enum outcome stream_events(struct chat *s, const size_t *edge, size_t n)
{
    const struct faults *f = &s->f;
    enum outcome o = DONE;
    if (f->usage_first && (o = send_usage(s)) != DONE)
        return o;
    for (size_t i = 0; i <= n; i++) {
        if (strikes(f->cut_after, i, n))
            return RESET;
        if (strikes(f->stall_after, i, n))
            return client_gone(s->c->fd, WAIT_CAP_MS) ? GONE : CLOSE;
        if (strikes(f->malformed_after, i, n) && (o = send_event(s, "{this is not json")) != DONE)
            return o;
        if (strikes(f->array_delta_after, i, n)) {
            cJSON *a = cJSON_CreateArray();
            cJSON_AddItemToArray(a, cJSON_CreateString("x"));
            if ((o = send_delta(s, a, NULL)) != DONE)
                return o;
        }
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
        if ((o = send_delta(s, cJSON_CreateObject(), s->f.tool_call ? "tool_calls" : "stop")) != DONE)
            return o;
        if (s->include_usage && !f->no_usage && !f->usage_first && (o = send_usage(s)) != DONE)
            return o;
        if (f->linger)          /* the answer is complete, yet the stream never ends */
            return client_gone(s->c->fd, WAIT_CAP_MS) ? GONE : CLOSE;
        if (!f->no_done && (o = send_event(s, "[DONE]")) != DONE)
            return o;
    }
    return end_stream(s);
}

/* With the burst fault the kernel holds every write (TCP_CORK) until the
 * stream ends, or for 200 ms when it does not: the client reads the headers
 * and many events at once, as from a fast backend. */
static void cork(struct chat *s, int on)
{
    if (s->f.burst)
        setsockopt(s->c->fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on);
}

static enum outcome send_stream(struct chat *s)
{
    struct buf h = {0};
    cork(s, 1);
    put_head(&h, s->rq, 200, "text/event-stream", -1, "Cache-Control: no-cache\r\n");
    bool ok = send_all(s->c, h.p, h.len);
    free(h.p);
    if (!ok)
        return GONE;
    size_t *edges, n = split_text(s->text, s->f.chunks, s->f.chunk_bytes, &edges);
    enum outcome o = stream_events(s, edges, n);
    free(edges);
    cork(s, 0);
    return o;
}

static enum outcome serve_chat(struct chat *s, const cJSON *req)
{
    const cJSON *stream = cJSON_GetObjectItemCaseSensitive(req, "stream");
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(req, "stream_options");
    const char *model = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "model"));
    char *said = last_user_text(req);

    faults_load_mode(&s->f, true);
    faults_from_text(&s->f, said);
    snprintf(s->id, sizeof s->id, "chatcmpl-fake%ld", atomic_fetch_add(&n_ids, 1) + 1);
    s->created = (double)time(NULL);
    s->model = model && *model ? model : opt_model;
    s->text = answer_text(&s->f, said);
    free(said);
    cont_classify(&s->cont, req, s->rq, &s->f);
    if (s->cont.asked && !s->cont.refusal) {
        size_t from = cont_start(&s->cont, s->text, &s->f);
        memmove(s->text, s->text + from, strlen(s->text + from) + 1);
    }
    record_request(s->rq, cont_record(&s->cont));
    s->prompt_tokens = s->rq->body.len / 4 > 0 ? (long)(s->rq->body.len / 4) : 1;
    s->completion_tokens = count_words(s->text);
    s->include_usage = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(so, "include_usage"));

    if (s->f.hang)
        return client_gone(s->c->fd, WAIT_CAP_MS) ? GONE : CLOSE;
    if (s->f.delay_headers_ms > 0 && client_gone(s->c->fd, s->f.delay_headers_ms))
        return GONE;
    if (s->f.status >= 400 || s->cont.refusal)
        chat_done(s);
    if (s->f.status >= 400)
        return respond_fault_status(s->c, s->rq, &s->f);
    if (s->cont.refusal)
        return cont_respond_refusal(s->c, s->rq, &s->cont, s->f.dialect);
    return cJSON_IsTrue(stream) ? send_stream(s) : send_completion(s);
}

enum outcome handle_chat(struct conn *c, struct request *rq)
{
    struct chat s = {.c = c, .rq = rq, .f = no_faults, .active = true};
    atomic_fetch_add(&n_requests, 1);
    atomic_fetch_add(&n_active, 1);
    cJSON *req = cJSON_ParseWithOpts(rq->body.p, NULL, true);
    enum outcome o;
    if (cJSON_IsObject(req)) {
        o = serve_chat(&s, req);
    } else {
        record_request(rq, cJSON_CreateNull());
        chat_done(&s);
        o = respond_error(c, rq, 400, "We could not parse the JSON body of your request.", false);
    }
    if (o == GONE)
        atomic_fetch_add(&n_client_closed, 1);
    chat_done(&s);
    cJSON_Delete(req);
    cont_free(&s.cont);
    free(s.text);
    free(s.f.reply);
    return o;
}

/* ---- other endpoints ----------------------------------------------------- */

enum outcome handle_probe(struct conn *c, struct request *rq)
{
    struct faults f;
    atomic_fetch_add(&n_probes, 1);
    faults_load_mode(&f, false);
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

enum outcome handle_requests(struct conn *c, struct request *rq, bool clear)
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

enum outcome handle_stats(struct conn *c, struct request *rq)
{
    char body[256];
    snprintf(body, sizeof body,
             "{\"requests\":%ld,\"probes\":%ld,\"active\":%ld,\"client_closed\":%ld,\"connections\":%ld}",
             atomic_load(&n_requests), atomic_load(&n_probes), atomic_load(&n_active),
             atomic_load(&n_client_closed), atomic_load(&n_connections));
    return respond(c, rq, 200, body, NULL);
}
