/* runtime: the configuration in force and everything built from it.
 *
 * A runtime bundles one loaded configuration with the classifier model it
 * names, the backends' health (circuits, estimates, probes) and the dispatch
 * that carries requests out.  A reload (SIGHUP) builds a complete new runtime
 * beside the old one and only then switches: the swap is all or nothing, so an
 * invalid file or model never leaves the gateway half-configured.
 *
 * Runtimes are reference counted.  Each request takes a reference when it
 * starts and keeps reading the runtime it started with until it ends, so a
 * stream in flight finishes on the backend and the limits it was given while
 * new requests already use the new configuration.  The old runtime is freed
 * when its last request ends; retiring it stops its probes at once.
 *
 * Knowledge carries over: a backend of the new configuration with the same
 * name and URL as one of the old starts from the old one's circuit, hold-off
 * and estimates, so a reload does not forget that the cloud is unreachable. */
#ifndef TIERGATE_RUNTIME_H
#define TIERGATE_RUNTIME_H

#include "backends.h"
#include "classifier.h"
#include "config.h"
#include "dispatch.h"

struct evloop;
struct upstream;

typedef struct runtime runtime;

/* Takes ownership of cfg and model (freed here on failure too), builds the
 * backends (inheriting what prev knew; prev may be NULL) and the dispatch,
 * and starts the probes.  NULL when out of memory. */
runtime *runtime_new(config *cfg, classifier *model, struct evloop *loop, struct upstream *up,
                     const runtime *prev);
runtime *runtime_ref(runtime *rt);
/* Drops a reference; the last one frees the runtime. */
void runtime_unref(runtime *rt);
/* Stops the probes of a runtime that a newer one replaced. */
void runtime_retire(runtime *rt);

const config *runtime_config(const runtime *rt);
const classifier *runtime_classifier(const runtime *rt);
backends *runtime_backends(const runtime *rt);
dispatch *runtime_dispatch(const runtime *rt);

#endif
