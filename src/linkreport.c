/* linkreport: see linkreport.h.
 *
 * Expiry.  A report ends at a fixed moment of the loop's monotonic clock,
 * set + for_ms.  The state read at or after that moment is LINK_NONE even
 * before the timer has run (the clock is cached per loop round, so the
 * timer and a request in the same round agree); the timer's part is the
 * log line, so that an operator sees when the gateway stopped believing
 * the car, without anything being asked.
 *
 * Validation follows request.c's codes (invalid_json, invalid_utf8,
 * unknown_parameter, invalid_request, invalid_value) and names the field in
 * "param", so the connectivity service's developer sees what to fix.  The
 * reason is a short label that goes to the log and back in the view: it is
 * limited in bytes and refused with control characters, which have no
 * business in a label and would only make log lines harder to read. */
#include "linkreport.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "evloop.h"
#include "log.h"
#include "utf8.h"

#define LINK_STATES 4

struct linkreport {
    evloop *loop;
    evloop_timer expiry;
    bool set;                  /* a report was put in force and not cleared or expired */
    linkreport_body body;
    uint64_t until_ms;         /* when it ends, on the loop clock */
    double since;              /* Unix seconds */
    unsigned long long reports[LINK_STATES];
};

static const char *const state_names[LINK_STATES] = {"none", "good", "weak", "offline"};

const char *link_state_name(link_state s) { return state_names[s]; }

static void log_report(const linkreport *lr, const char *msg) {
    cJSON *o = log_begin("info", msg);
    if (!o) return;
    cJSON_AddStringToObject(o, "state", link_state_name(lr->body.state));
    cJSON_AddNumberToObject(o, "for_ms", lr->body.for_ms);
    if (*lr->body.reason) cJSON_AddStringToObject(o, "reason", lr->body.reason);
    log_end(o);
}

static void on_expiry(void *ud) {
    linkreport *lr = ud;
    if (!lr->set) return;
    log_report(lr, "link report expired");
    lr->set = false;
}

linkreport *linkreport_new(evloop *loop) {
    linkreport *lr = calloc(1, sizeof *lr);
    if (!lr) return NULL;
    lr->loop = loop;
    evloop_timer_init(&lr->expiry, on_expiry, lr);
    return lr;
}

void linkreport_free(linkreport *lr) {
    if (!lr) return;
    evloop_timer_stop(lr->loop, &lr->expiry);
    free(lr);
}

void linkreport_set(linkreport *lr, const linkreport_body *r) {
    lr->body = *r;
    lr->set = true;
    lr->until_ms = evloop_now_ms(lr->loop) + (uint64_t)r->for_ms;
    lr->since = (double)time(NULL);
    lr->reports[r->state]++;
    evloop_timer_start(lr->loop, &lr->expiry, (uint64_t)r->for_ms);
    log_report(lr, "link reported");
}

bool linkreport_clear(linkreport *lr) {
    bool was = linkreport_state(lr) != LINK_NONE;
    evloop_timer_stop(lr->loop, &lr->expiry);
    if (was) log_report(lr, "link report cleared");
    lr->set = false;
    return was;
}

link_state linkreport_state(const linkreport *lr) {
    if (!lr || !lr->set || evloop_now_ms(lr->loop) >= lr->until_ms) return LINK_NONE;
    return lr->body.state;
}

uint64_t linkreport_offline_ms(const linkreport *lr) {
    return linkreport_state(lr) == LINK_OFFLINE ? lr->until_ms - evloop_now_ms(lr->loop) : 0;
}

cJSON *linkreport_json(const linkreport *lr) {
    if (linkreport_state(lr) == LINK_NONE) return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    bool ok = cJSON_AddStringToObject(o, "state", link_state_name(lr->body.state)) &&
              (*lr->body.reason ? cJSON_AddStringToObject(o, "reason", lr->body.reason)
                                : cJSON_AddNullToObject(o, "reason")) &&
              cJSON_AddNumberToObject(o, "for_ms", lr->body.for_ms) &&
              cJSON_AddNumberToObject(o, "remaining_ms", (double)(lr->until_ms - evloop_now_ms(lr->loop))) &&
              cJSON_AddNumberToObject(o, "since", lr->since);
    if (ok) return o;
    cJSON_Delete(o);
    return NULL;
}

/* Appends to out (n bytes) at *used, cutting what does not fit. */
static void append(char *out, size_t n, size_t *used, const char *fmt, ...) {
    if (*used + 1 >= n) return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(out + *used, n - *used, fmt, ap);
    va_end(ap);
    if (w > 0) *used += (size_t)w < n - *used ? (size_t)w : n - *used - 1;
}

size_t linkreport_render_metrics(const linkreport *lr, char *out, size_t n) {
    link_state now = linkreport_state(lr);
    size_t used = 0;
    out[0] = '\0';
    append(out, n, &used,
           "# HELP tiergate_link_state The vehicle's link report in force (PUT /v1/link): 1 for its state, "
           "\"none\" when there is none.\n"
           "# TYPE tiergate_link_state gauge\n");
    for (int s = 0; s < LINK_STATES; s++)
        append(out, n, &used, "tiergate_link_state{state=\"%s\"} %d\n", state_names[s], s == (int)now);
    append(out, n, &used,
           "# HELP tiergate_link_reports_total Link reports accepted, by the state reported.\n"
           "# TYPE tiergate_link_reports_total counter\n");
    for (int s = LINK_GOOD; s < LINK_STATES; s++)
        append(out, n, &used, "tiergate_link_reports_total{state=\"%s\"} %llu\n", state_names[s],
               lr ? lr->reports[s] : 0ULL);
    return used;
}

/* ---- the PUT body ---- */

static int bad(api_error *err, const char *code, const char *param, const char *msg) {
    api_error_set(err, 400, "invalid_request_error", code, param, "%s", msg);
    return -1;
}

static int parse_state(const cJSON *v, link_state *out, api_error *err) {
    if (!cJSON_IsString(v)) return bad(err, "invalid_request", "state", "Invalid type for 'state': expected a string.");
    for (int s = LINK_GOOD; s < LINK_STATES; s++) {
        if (strcmp(v->valuestring, state_names[s]) == 0) {
            *out = (link_state)s;
            return 0;
        }
    }
    return bad(err, "invalid_value", "state", "Invalid 'state': must be \"offline\", \"weak\" or \"good\".");
}

static int parse_for_ms(const cJSON *v, int *out, api_error *err) {
    if (!cJSON_IsNumber(v))
        return bad(err, "invalid_request", "for_ms", "Invalid type for 'for_ms': expected an integer.");
    double d = v->valuedouble;
    if (!(d >= 1 && d <= LINKREPORT_MAX_FOR_MS) || d != floor(d))
        return bad(err, "invalid_value", "for_ms",
                   "Invalid 'for_ms': must be an integer from 1 to 86400000 (a day), in milliseconds.");
    *out = (int)d;
    return 0;
}

static bool has_control(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return true;
    return false;
}

static int parse_reason(const cJSON *v, char *out, api_error *err) {
    if (cJSON_IsNull(v)) return 0;
    if (!cJSON_IsString(v))
        return bad(err, "invalid_request", "reason", "Invalid type for 'reason': expected a string.");
    size_t n = strlen(v->valuestring);
    if (n > LINKREPORT_MAX_REASON)
        return bad(err, "invalid_value", "reason", "Invalid 'reason': at most 200 bytes.");
    if (has_control(v->valuestring))
        return bad(err, "invalid_value", "reason", "Invalid 'reason': control characters are not allowed.");
    memcpy(out, v->valuestring, n + 1);
    return 0;
}

int linkreport_parse(const char *body, size_t len, linkreport_body *out, api_error *err) {
    *out = (linkreport_body){.state = LINK_NONE};
    if (utf8_invalid_offset(body, len) != len) return bad(err, "invalid_utf8", NULL, "The body is not valid UTF-8.");
    const char *end = body;
    cJSON *root = cJSON_ParseWithLengthOpts(body, len, &end, false);
    while (root && end < body + len && strchr(" \t\r\n", *end) && *end) end++;
    if (!cJSON_IsObject(root) || end != body + len) {   /* nothing may follow the object */
        cJSON_Delete(root);
        return bad(err, "invalid_json", NULL,
                   "The body must be a JSON object: {\"state\": \"offline\"|\"weak\"|\"good\", \"for_ms\": N, "
                   "\"reason\": \"...\"}.");
    }
    const cJSON *state = NULL, *for_ms = NULL, *reason = NULL;
    int rc = 0;
    for (const cJSON *m = root->child; m && rc == 0; m = m->next) {
        const cJSON **slot = strcmp(m->string, "state") == 0    ? &state
                             : strcmp(m->string, "for_ms") == 0 ? &for_ms
                             : strcmp(m->string, "reason") == 0 ? &reason
                                                                : NULL;
        if (!slot) {
            /* The name is quoted only when it keeps the message one line; param has it anyway. */
            bool printable = !has_control(m->string);
            api_error_set(err, 400, "invalid_request_error", "unknown_parameter", m->string,
                          "Unrecognized request argument supplied%s%.64s (expected state, for_ms, reason).",
                          printable ? ": " : "", printable ? m->string : "");
            rc = -1;
        } else if (*slot) {
            rc = bad(err, "invalid_request", m->string, "Duplicate key in the body.");
        } else {
            *slot = m;
        }
    }
    if (rc == 0 && !state) rc = bad(err, "invalid_request", "state", "Missing required parameter: 'state'.");
    if (rc == 0 && !for_ms) rc = bad(err, "invalid_request", "for_ms", "Missing required parameter: 'for_ms'.");
    if (rc == 0) rc = parse_state(state, &out->state, err);
    if (rc == 0) rc = parse_for_ms(for_ms, &out->for_ms, err);
    if (rc == 0 && reason) rc = parse_reason(reason, out->reason, err);
    cJSON_Delete(root);
    return rc;
}
