/* runtime: see runtime.h.  Single-threaded like the rest of the gateway, so
 * the count is a plain int. */
#include "runtime.h"

#include <stdlib.h>

#include "invariant.h"

struct runtime {
    config *cfg;
    classifier *model;
    backends *health;
    dispatch *disp;
    int refs;
};

runtime *runtime_new(config *cfg, classifier *model, struct evloop *loop, struct upstream *up,
                     const runtime *prev) {
    runtime *rt = calloc(1, sizeof *rt);
    if (!rt) goto err;
    rt->cfg = cfg;
    rt->model = model;
    rt->refs = 1;
    if (!(rt->health = backends_new(cfg))) goto err;
    if (prev) backends_inherit(rt->health, prev->health);
    upstream_ops ops = upstream_ops_of(up);
    if (!(rt->disp = dispatch_new(cfg, rt->health, loop, &ops))) goto err;
    if (backends_start_probes(rt->health, loop, up) < 0) goto err;
    return rt;
err:
    if (rt) {
        dispatch_free(rt->disp);
        backends_free(rt->health);
        free(rt);
    }
    classifier_free(model);
    config_free(cfg);
    return NULL;
}

runtime *runtime_ref(runtime *rt) {
    INVARIANT(rt->refs > 0);
    rt->refs++;
    return rt;
}

void runtime_unref(runtime *rt) {
    if (!rt) return;
    INVARIANT(rt->refs > 0);
    if (--rt->refs > 0) return;
    dispatch_free(rt->disp);
    backends_free(rt->health);
    classifier_free(rt->model);
    config_free(rt->cfg);
    free(rt);
}

void runtime_retire(runtime *rt) { backends_stop_probes(rt->health); }

const config *runtime_config(const runtime *rt) { return rt->cfg; }
const classifier *runtime_classifier(const runtime *rt) { return rt->model; }
backends *runtime_backends(const runtime *rt) { return rt->health; }
dispatch *runtime_dispatch(const runtime *rt) { return rt->disp; }
