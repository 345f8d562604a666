/* linkreport: what the vehicle says about its network link (issue 15).
 *
 * A car knows about its link before a request fails: the modem lost signal,
 * a tunnel is 30 s ahead, the driver switched to flight mode.  Its
 * connectivity service reports that through PUT /v1/link (linkserve.h); the
 * report lives here, one at a time, until it expires after its for_ms or
 * is cleared.  The router reads the state now in force (router_input.link):
 * offline leaves the edge and cloud tiers out, weak counts them as slower
 * than the latency budget, good (or no report) assumes nothing.
 *
 * main owns the one report, beside the metrics registry: it is about the
 * vehicle, not the configuration, so it outlives every reload. */
#ifndef TIERGATE_LINKREPORT_H
#define TIERGATE_LINKREPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apierror.h"

struct cJSON;
struct evloop;

/* LINK_NONE: no report in force (never set, cleared or expired). */
typedef enum { LINK_NONE = 0, LINK_GOOD, LINK_WEAK, LINK_OFFLINE } link_state;

#define LINKREPORT_MAX_FOR_MS 86400000     /* a day */
#define LINKREPORT_MAX_REASON 200          /* bytes of "reason" */

/* A PUT body, validated. */
typedef struct linkreport_body {
    link_state state;                      /* GOOD, WEAK or OFFLINE */
    int for_ms;                            /* 1 .. LINKREPORT_MAX_FOR_MS */
    char reason[LINKREPORT_MAX_REASON + 1];   /* "" when not given */
} linkreport_body;

typedef struct linkreport linkreport;

/* Reads time from loop's clock and expires reports with its timers.  NULL
 * when out of memory. */
linkreport *linkreport_new(struct evloop *loop);
void linkreport_free(linkreport *lr);

/* Parses and checks a PUT body: a JSON object with "state" ("offline",
 * "weak" or "good"), "for_ms" (an integer, 1 .. a day) and optionally
 * "reason" (a string of at most LINKREPORT_MAX_REASON bytes of UTF-8, no
 * control characters); any other member is refused.  0, or -1 with a 400
 * in err whose param names the field. */
int linkreport_parse(const char *body, size_t len, linkreport_body *out, api_error *err);

/* Puts r in force from now for r->for_ms, replacing any report. */
void linkreport_set(linkreport *lr, const linkreport_body *r);
/* Ends the report in force; false when there was none. */
bool linkreport_clear(linkreport *lr);

/* The state in force now; LINK_NONE for lr NULL. */
link_state linkreport_state(const linkreport *lr);
/* Milliseconds left of an offline report in force; 0 for any other. */
uint64_t linkreport_offline_ms(const linkreport *lr);
const char *link_state_name(link_state s);

/* The report in force as {"state","reason","for_ms","remaining_ms","since"}
 * (since: Unix seconds when it was set), or JSON null; NULL when out of
 * memory. */
struct cJSON *linkreport_json(const linkreport *lr);

/* The Prometheus text of the link's gauge and counters, into out (n bytes,
 * NUL-terminated); returns its length. */
size_t linkreport_render_metrics(const linkreport *lr, char *out, size_t n);

#endif
