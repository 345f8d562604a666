/*
 * fakellm - tiergate's simulated OpenAI-compatible model server.
 *
 * Every integration test runs one or two of these as the gateway's backends,
 * the fault suite runs one inside a network namespace, and config/demo.json
 * uses two of them as its on-device and cloud tiers.  So it speaks the real
 * wire protocol over real sockets: HTTP/1.1 with keep-alive and pipelining,
 * Content-Length and chunked request bodies, Expect: 100-continue, and OpenAI
 * Chat Completions answers, either one JSON body or SSE over chunked transfer
 * encoding with one HTTP chunk per event (wire-formats.md sections 1.4-1.6,
 * 2.2, 2.4).
 *
 * Four files:
 *  - fakellm_http.c, the wire: one detached thread per connection (at most
 *    MAX_CONNS live), blocking sockets.  A connection reads one request at a
 *    time through a fixed 64 KiB buffer (which also bounds the header block),
 *    hands it to the endpoint it names, and loops while the connection is
 *    keep-alive.  SIGTERM and SIGINT _exit(0) at once: nothing needs
 *    flushing and the connection threads need no joining.
 *  - fakellm.c, the behaviour: the answers and what the faults do.  The answer is
 *    deterministic, "[<label> simulated] You said: <last user text>", so a
 *    test can tell which tier answered and what it was sent.  The fault mode
 *    (POST /_fake/mode or --mode) applies to every chat request until
 *    replaced; "fake:KEY=VALUE" tokens in the last user message override it
 *    for one request, so a test can inject a fault through the gateway.
 *    Every wait (delays, stall, hang, linger) polls the socket, so a client
 *    that goes away is noticed at once.  /_fake/stats counts chat responses
 *    in progress ("active", dropped just before a response's last write) and
 *    those the client abandoned ("client_closed").  Chat requests are
 *    recorded (the last LOG_KEEP) for GET /_fake/requests, so tests can check
 *    exactly what the gateway forwarded; each record's "continuation" is
 *    null, or {"dialect" (the shape the request spoke), "prefix" (the
 *    trailing assistant text), "outcome", "from" (where the sent text starts
 *    in the full answer), "error" (when refused)}.
 *  - fakellm_faults.c, the fault vocabulary below: mode, tokens, coded errors.
 *  - fakellm_cont.c, continuation: a request ending with an assistant message
 *    (with its dialect's marker) is answered with the rest of the full answer
 *    that message begins, streaming or not; the full answer is the same
 *    asked fresh or continued.  Outcomes: "continued"; "unmatched" (the
 *    prefix is not the start of the answer: answered from the start);
 *    "restarted", "trimmed", "rejected" (the faults); "fresh" (dialect none:
 *    a trailing assistant message is history); "refused" (a 400 in the
 *    dialect's error shape for any other shape: a missing or foreign marker,
 *    "prefix" outside /beta/, continue_final_message without
 *    add_generation_prompt false, two trailing assistant messages, tool
 *    calls or enable_thinking with prefill).  The 400's shape is the
 *    provider's: llama.cpp's (prefill), DeepSeek's (prefix), DashScope's with
 *    "request_id" (partial), vLLM's (continue_final_message), OpenAI's (none).
 *    A status fault comes before any refusal.  The tokens are read from the
 *    last user message, which a continuation has before its assistant one.
 *    fakellm_cont.c says why it refuses what it refuses.
 *
 * Faults:
 *   status N              answer HTTP N (400-599) with an error body, streaming
 *                         or not; 429 adds "Retry-After: 1"
 *   error_style "llama"   error bodies in llama.cpp's shape
 *   error_code "X"        with status: the error says "context_length" (exceeded)
 *                         or "content_filter", as OpenAI's code or llama.cpp's type
 *   health_status N       GET /health and .../models answer N (400-599)
 *   delay_headers_ms N    wait before answering at all
 *   delay_first_chunk_ms  streaming: wait between the headers and the first event
 *   chunk_delay_ms N      streaming: wait between events
 *   chunks N              content chunks (default 5)
 *   chunk_bytes N         streaming: content chunks of N bytes instead, each
 *                         carried on to the next UTF-8 character start (a JSON
 *                         string holds whole characters); pieces beside
 *                         multi-byte characters and inside placeholders
 *   cut_at_byte N         streaming: reset the connection once N bytes of SSE
 *                         text are sent; the last HTTP chunk is announced whole
 *                         and sent only up to the cut, which may fall inside an
 *                         event, a JSON string or a UTF-8 character
 *   dialect D             the continuation dialect spoken: prefill, prefix,
 *                         partial, continue_final_message or none (default:
 *                         --continuation, itself "prefill")
 *   continuation X        reject: a continuation gets the dialect's 400;
 *                         restart: the prefix is ignored, the answer starts
 *                         over; trim: trailing whitespace of the prefix is
 *                         dropped first (a template that trims), so the rest
 *                         repeats it; none: no fault
 *   cut_after N           streaming: reset the connection after N content
 *                         chunks (0: after the headers); otherwise after the
 *                         headers and half the body
 *   stall_after N         streaming: after N content chunks go silent until
 *                         the client leaves
 *   malformed_after N     streaming: after N content chunks send a non-JSON event
 *   error_event_after N   streaming: after N content chunks send an error event
 *                         and end the stream without [DONE]
 *   array_delta_after N   streaming: after N content chunks send a chunk whose
 *                         "delta" is an array, ["x"], not an object
 *   empty_choices         streaming: every chunk's "choices" is [] (the role,
 *                         content and finish chunks), then [DONE]
 *   no_done, no_finish    omit [DONE]; omit the finish and usage chunks and [DONE]
 *   tool_call             streaming: the answer's pieces are the arguments of one
 *                         tool call ("answer"; id and name in the first delta),
 *                         finish_reason "tool_calls" (a gateway must not continue
 *                         a stream cut inside it as text)
 *   no_usage              report no token counts: no "usage" in a plain answer,
 *                         no usage chunk in a stream (as some llama.cpp builds)
 *   usage_first           streaming: the usage chunk (empty choices) comes first,
 *                         before any other event, and not after the finish
 *   linger                streaming: after the finish (and usage) chunk send
 *                         nothing more, neither [DONE] nor the end of the
 *                         chunked body, and keep the connection open until
 *                         the client leaves
 *   hang                  read the request and never answer
 *   bad_json              not streaming: 200 with truncated JSON
 *   no_space, crlf,       "data:" without the space; \r\n line ends;
 *   keepalive             ": keep-alive" before every event
 *   burst                 streaming: the headers and events reach the client in
 *                         one read (TCP_CORK until the stream ends, or 200 ms)
 *   reply "TEXT"          the answer text (mode only)
 *   once                  the mode applies to the next chat request only, and
 *                         is then cleared (mode only): a fault that a retry cures
 * A count beyond the number of content chunks strikes after the last one.
 * Booleans take true/false or numbers in the mode, 1/0/true/false in tokens.
 */
#ifndef FAKELLM_H
#define FAKELLM_H

#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define IN_CAP (64 * 1024)       /* per-connection read buffer = header block limit */
#define MAX_HEADERS 100
#define WAIT_CAP_MS 120000       /* hang, stall and linger give up after this */

/* Set from the command line. */
extern const char *opt_model, *opt_label;
extern time_t start_time;
extern atomic_long n_connections;

struct buf {
    char *p;
    size_t len, cap;
};

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

/* ---- the wire (fakellm_http.c) ------------------------------------------- */

void *must(void *p);                     /* allocation failure is fatal */
void buf_add(struct buf *b, const void *p, size_t n);
__attribute__((format(printf, 2, 3))) void buf_printf(struct buf *b, const char *fmt, ...);
long long clock_ms(clockid_t clk);

bool send_all(struct conn *c, const char *p, size_t n);
bool send_chunk(struct conn *c, const char *p, size_t n);   /* one HTTP chunk */
bool path_ends(const struct request *rq, const char *suffix);

/* Status line and headers; len < 0 means a chunked body. */
void put_head(struct buf *b, struct request *rq, int status, const char *ctype, long long len,
              const char *extra);
enum outcome respond(struct conn *c, struct request *rq, int status, const char *body,
                     const char *extra);
enum outcome respond_json(struct conn *c, struct request *rq, int status, cJSON *json,
                          const char *extra);
enum outcome respond_error(struct conn *c, struct request *rq, int status, const char *message,
                           bool llama);
enum outcome respond_simulated(struct conn *c, struct request *rq, int status, bool llama);

/* ---- the faults (fakellm_faults.c) -------------------------------------- */

/* The continuation dialects; their names are dialect_names[]. */
enum dialect { DIALECT_PREFILL, DIALECT_PREFIX, DIALECT_PARTIAL, DIALECT_CFM, DIALECT_NONE };
/* The continuation fault. */
enum cont_fault { CONT_FAULT_NONE, CONT_FAULT_REJECT, CONT_FAULT_RESTART, CONT_FAULT_TRIM };

struct faults {
    int status, health_status;   /* < 400: no fault */
    bool llama_errors;           /* error_style "llama" */
    int error_code;              /* an error code index; 0: the plain simulated error */
    int delay_headers_ms, delay_first_chunk_ms, chunk_delay_ms, chunks, chunk_bytes;
    int cut_after, stall_after, malformed_after, error_event_after, cut_at_byte;   /* < 0: off */
    int array_delta_after;       /* < 0: off */
    bool empty_choices;
    bool no_done, no_finish, no_usage, linger, hang, bad_json, no_space, crlf, keepalive, burst;
    bool usage_first;
    bool tool_call;              /* streaming: the answer as one tool call's arguments */
    bool once;                   /* mode only: cleared after the next chat request */
    int dialect;                 /* enum dialect: the one continuation dialect spoken */
    int continuation;            /* enum cont_fault */
    char *reply;                 /* mode only; the caller frees it */
};

extern const struct faults no_faults;
extern const char *const dialect_names[];   /* NULL-terminated */
extern int opt_dialect;                     /* --continuation; the default of "dialect" */

/* The mode's faults (over no_faults and opt_dialect).  A chat request takes
 * a mode set "once" with it: the next one finds none. */
void faults_load_mode(struct faults *f, bool chat);
/* Applies the "fake:KEY=VALUE" tokens of a text; bad ones are ignored. */
void faults_from_text(struct faults *f, const char *text);
/* Replaces the fault mode with a JSON object.  NULL, or an error in err. */
const char *set_mode(const char *text, char *err, size_t errlen);
/* The error answer of the status fault (f->status >= 400). */
enum outcome respond_fault_status(struct conn *c, struct request *rq, const struct faults *f);

/* ---- continuation (fakellm_cont.c) --------------------------------------- */

/* What a chat request asks of the continuation machinery, and what the fake
 * made of it. */
struct cont {
    bool asked;                  /* it ends with an assistant message or sets a marker */
    enum dialect shape;          /* the dialect its shape speaks */
    char *prefix;                /* the trailing assistant text, or NULL; owned */
    const char *refusal;         /* the fake refuses the request (400) for this reason */
    const char *outcome;         /* "continued", "unmatched", "restarted", "trimmed",
                                    "fresh", "refused", "rejected" */
    size_t from;                 /* where in the full answer the sent text starts */
};

/* Reads the request's shape and decides whether the dialect f->dialect
 * accepts it.  rq gives the path (the "prefix" dialect wants /beta/). */
void cont_classify(struct cont *ct, const cJSON *req, const struct request *rq, const struct faults *f);
/* For an accepted request: where the answer to send starts in the full
 * answer, after the continuation fault.  Sets ct->from and ct->outcome. */
size_t cont_start(struct cont *ct, const char *full, const struct faults *f);
/* The 400 of a refused or rejected continuation, in the dialect's error shape. */
enum outcome cont_respond_refusal(struct conn *c, struct request *rq, const struct cont *ct, int dialect);
/* The "continuation" field of a request record: null when not asked. */
cJSON *cont_record(const struct cont *ct);
void cont_free(struct cont *ct);

/* ---- the behaviour (fakellm.c) ------------------------------------------- */

/* The text of a message: its string content, or its text parts joined with
 * "\n" ("" for none).  The caller frees it. */
char *message_text(const cJSON *msg);

enum outcome handle_chat(struct conn *c, struct request *rq);
enum outcome handle_probe(struct conn *c, struct request *rq);
enum outcome handle_requests(struct conn *c, struct request *rq, bool clear);
enum outcome handle_stats(struct conn *c, struct request *rq);

#endif
