/* linkserve: the operator's /v1/link endpoints (issue 15), through which
 * the vehicle's connectivity service reports its network link.
 *
 *   PUT /v1/link     {"state": "offline"|"weak"|"good", "for_ms": N, "reason": "..."}
 *                    puts the report in force; 200 with the view below
 *   GET /v1/link     200 with the view
 *   DELETE /v1/link  ends the report in force (if any); 200 with the view
 *
 * The view: {"report": {"state", "reason", "for_ms", "remaining_ms",
 * "since"} or null, "backends": [as /readyz shows them: name, tier, state,
 * circuit, est_connect_ms, est_first_byte_ms, reason]}.  The endpoints are
 * marked admin in main's table: admin keys only, and absent without them. */
#ifndef TIERGATE_LINKSERVE_H
#define TIERGATE_LINKSERVE_H

#include "linkreport.h"
#include "runtime.h"
#include "server.h"

/* The handlers' context: main's report and its runtime in force, read at
 * each request (a reload swaps it). */
typedef struct linkserve {
    linkreport *report;
    runtime *const *rt;
} linkserve;

void linkserve_handle_get(server_exchange *ex, void *ctx);
void linkserve_handle_put(server_exchange *ex, void *ctx);
void linkserve_handle_delete(server_exchange *ex, void *ctx);

#endif
