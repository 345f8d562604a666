/* linkserve: see linkserve.h.
 *
 * Every answer is the whole view, the PUT's and DELETE's too: the service
 * that reported sees at once what the gateway now believes and what it has
 * measured itself, so a report that disagrees with the estimates (offline
 * reported, the cloud answering in 80 ms) is visible where it was made.
 * The backends are rendered by backends_json, the same objects as /readyz. */
#include "linkserve.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "backends.h"
#include "jsonout.h"

static void reply_view(server_exchange *ex, const linkserve *ls) {
    cJSON *o = cJSON_CreateObject(), *report = linkreport_json(ls->report);
    cJSON *backs = backends_json(runtime_backends(*ls->rt));
    bool ok = o && report && backs;
    if (ok) {
        cJSON_AddItemToObject(o, "report", report);
        cJSON_AddItemToObject(o, "backends", backs);
    } else {
        cJSON_Delete(report);
        cJSON_Delete(backs);
    }
    size_t len;
    char *body = ok ? jsonout_print(o, NULL, NULL, &len) : NULL;
    cJSON_Delete(o);
    if (!body) server_ex_fail_oom(ex);
    else server_ex_reply(ex, 200, "application/json", body, len);
}

void linkserve_handle_get(server_exchange *ex, void *ctx) { reply_view(ex, ctx); }

void linkserve_handle_put(server_exchange *ex, void *ctx) {
    linkserve *ls = ctx;
    size_t len;
    const char *body = server_ex_body(ex, &len);
    linkreport_body r;
    api_error err;
    if (linkreport_parse(body ? body : "", body ? len : 0, &r, &err) < 0) {
        server_ex_reply_error(ex, &err);
        return;
    }
    linkreport_set(ls->report, &r);
    server_ex_log_str(ex, "link", link_state_name(r.state));
    reply_view(ex, ls);
}

void linkserve_handle_delete(server_exchange *ex, void *ctx) {
    linkserve *ls = ctx;
    linkreport_clear(ls->report);
    reply_view(ex, ls);
}
