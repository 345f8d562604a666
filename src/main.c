/* main: command line, wiring, signals, reload and drain.
 *
 * main builds the modules in dependency order (loop, upstream, the runtime
 * of the configuration, handlers, server), runs the loop, and takes them down
 * in reverse: the server first, so that every open exchange releases its
 * dispatch job (and with it its upstream transfer) while upstream still
 * exists.  Signals arrive through a signalfd in the loop, so a handler never
 * runs in the middle of the gateway's own code.
 *
 * SIGHUP reloads: the file and its classifier model are read and checked as
 * at start, a new runtime is built beside the old (runtime.h), and only then
 * do new requests switch to it; requests in flight finish on the old one.
 * SIGTERM (or SIGINT) drains: the listening socket closes, requests in flight
 * may finish within limits.drain_timeout_s, then what is left is cut with an
 * error its client can read, and the process exits 0.  A second signal stops
 * at once.
 *
 * main owns the metrics registry, which outlives every runtime, so counters
 * run on across reloads; and it points the request log at log.file, at start
 * and at every reload (which also reopens the file after logrotate moved it).
 *
 * The spend budget (budgetstore.h) is main's too, outside the runtime: its
 * spend must outlive every reload.  A reload gives it new caps, opens it when
 * the budget was just turned on and saves and closes it when turned off.
 *
 * So is the vehicle's link report (linkreport.h, issue 15): it is about the
 * car, not the configuration, and a reload leaves it in force. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "budgetstore.h"
#include "cache.h"
#include "cacheserve.h"
#include "chat.h"
#include "evloop.h"
#include "linkreport.h"
#include "linkserve.h"
#include "log.h"
#include "metrics.h"
#include "runtime.h"
#include "server.h"
#include "status.h"
#include "upstream.h"

#define DEFAULT_CONFIG "config/tiergate.json"

static const char help_text[] =
    "usage: tiergate [--config FILE] [--listen HOST:PORT] [--check] [--debug] [--version] [--help]\n"
    "\n"
    "Routes OpenAI chat completion requests to an on-device or a cloud model.\n"
    "\n"
    "  --config FILE       configuration file (default " DEFAULT_CONFIG ")\n"
    "  --listen HOST:PORT  listen here instead of the configuration's \"listen\"\n"
    "  --check             validate the configuration, the classifier model and the budget's\n"
    "                      state file, print the configuration with secrets masked, exit\n"
    "  --debug             also log each request's and attempt's state changes (level debug)\n"
    "  --version           print the version and exit\n"
    "  --help, -h          print this help and exit\n"
    "\n"
    "Signals: SIGHUP reloads the configuration and the classifier model (kept as they are\n"
    "if the new ones are invalid); SIGTERM drains requests in flight and exits 0.\n";

typedef struct gateway {
    const char *config_path;
    const char *listen;      /* --listen, applied again at every reload */
    evloop *loop;
    upstream *up;
    runtime *rt;             /* the configuration in force; main's reference */
    budgetstore *budget;     /* NULL without a budget section */
    cache *cache;            /* the answer cache; NULL while cache.mode is "off" (issue 17) */
    metrics *metrics;        /* outlives the runtimes */
    linkreport *link;        /* the vehicle's link report; outlives the runtimes (issue 15) */
    linkserve link_endpoints;
    chat *chat;
    status *status;
    server *srv;
    evloop_io signals;
    int sigfd;
    evloop_timer drain_timer;
    bool draining, cut;
} gateway;

static void reload(gateway *g);
static void drain(gateway *g);

static void on_signal(void *ud, uint32_t events) {
    (void)events;
    gateway *g = ud;
    struct signalfd_siginfo si;
    while (read(g->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGHUP) reload(g);
        else drain(g);
    }
}

static int watch_signals(gateway *g) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) return -1;
    signal(SIGPIPE, SIG_IGN);
    g->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (g->sigfd < 0) return -1;
    return evloop_io_add(g->loop, &g->signals, g->sigfd, EPOLLIN, on_signal, g);
}

/* Overrides cfg's listen address with "host:port". */
static int apply_listen(config *cfg, const char *listen, char *err, size_t errlen) {
    const char *colon = strrchr(listen, ':');
    char *end;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || colon == listen || *end || end == colon + 1 || port < 0 || port > 65535) {
        snprintf(err, errlen, "--listen: must be HOST:PORT");
        return -1;
    }
    const char *h = listen;
    size_t hl = (size_t)(colon - listen);
    if (hl > 2 && h[0] == '[' && h[hl - 1] == ']') h++, hl -= 2;
    char *host = strndup(h, hl);
    if (!host) return -1;
    free(cfg->listen_host);
    cfg->listen_host = host;
    cfg->listen_port = (int)port;
    return 0;
}

/* Said at every start and by --check, so that an open gateway or an
 * unverified backend is never a silent state. */
static void warn_security(const config *c) {
    cJSON *o;
    if (!c->nclient_keys) {
        o = log_begin("warn", "client authentication is OFF: any client that reaches the listen address "
                              "may use every backend (set auth.keys_env or auth.keys_file)");
        log_end(o);
    } else if ((o = log_begin("info", "client authentication on"))) {
        cJSON_AddNumberToObject(o, "keys", (double)c->nclient_keys);
        log_end(o);
    }
    for (size_t i = 0; i < c->nbackends; i++) {
        if (!c->backends[i].tls_insecure) continue;
        o = log_begin("warn", "TLS verification is OFF for this backend (tls.insecure_skip_verify): "
                              "its certificate and host name are not checked");
        if (o) cJSON_AddStringToObject(o, "backend", c->backends[i].name);
        log_end(o);
    }
    if (c->log_include_text)
        log_msg("warn", "log.include_text is ON: request lines carry prompt and answer text, personal data "
                        "included; a debugging option, not for production");
}

/* Request lines to log.file (or stderr); a file that cannot be opened is
 * said, and the lines keep going where they went. */
static int open_request_log(const config *c) {
    char err[512];
    if (log_open(c->log_file, err, sizeof err) == 0) return 0;
    cJSON *o = log_begin("error", "cannot open the request log");
    if (o) cJSON_AddStringToObject(o, "error", err);
    log_end(o);
    return -1;
}

/* Reads the configuration and the classifier model it names; both or
 * neither.  Used at start and at every reload, so a reload checks exactly
 * what a start checks. */
static int load(const char *path, const char *listen, config **cfg, classifier **model, char *err,
                size_t errlen) {
    *model = NULL;
    if (!(*cfg = config_load(path, err, errlen))) return -1;
    if ((listen && apply_listen(*cfg, listen, err, errlen) < 0) ||
        !(*model = classifier_load((*cfg)->classifier_model, err, errlen))) {
        config_free(*cfg);
        *cfg = NULL;
        return -1;
    }
    return 0;
}

/* Points chat and status at store (NULL: none) and makes it the gateway's. */
static void use_budget(gateway *g, budgetstore *store) {
    chat_set_budget(g->chat, store);
    status_set_budget(g->status, store);
    if (store != g->budget) budgetstore_free(g->budget);
    g->budget = store;
}

/* The budget store for cfg at a reload: the one running, or a new one when
 * the budget was turned on (NULL when off).  -1 with err when the new one
 * cannot be opened. */
static int reload_budget(gateway *g, const config *cfg, budgetstore **out, char *err, size_t errlen) {
    *out = NULL;
    if (!cfg->budget.enabled) return 0;
    if (g->budget) {
        *out = g->budget;
        return 0;
    }
    *out = budgetstore_open(&cfg->budget, g->loop, NULL, err, errlen);
    return *out ? 0 : -1;
}

/* Issue 17: points chat and status at the answer cache (NULL: none) and
 * makes it the gateway's; an old one is written out and closed. */
static void use_cache(gateway *g, cache *store) {
    chat_set_cache(g->chat, store);
    status_set_cache(g->status, store);
    if (store != g->cache) cache_free(g->cache);
    g->cache = store;
}

/* Issue 17: the cache for cfg at a reload: the one running with new limits
 * when the file is the same, a new one for a new file, NULL when off.  -1
 * with err when a new one cannot be opened. */
static int reload_cache(gateway *g, const config *cfg, cache **out, char *err, size_t errlen) {
    *out = NULL;
    if (cfg->cache.mode == CACHE_OFF) return 0;
    if (g->cache && strcmp(cache_path(g->cache), cfg->cache.file) == 0) {
        *out = g->cache;
        return 0;
    }
    *out = cache_open(&cfg->cache, g->loop, err, errlen);
    return *out ? 0 : -1;
}

/* SIGHUP.  Everything is built before anything is switched, so a failure
 * at any step leaves the running configuration exactly as it was. */
static void reload(gateway *g) {
    char err[512] = "out of memory";
    config *cfg;
    classifier *model;
    cJSON *o;
    if (g->draining) return;
    if (load(g->config_path, g->listen, &cfg, &model, err, sizeof err) < 0) goto err;
    char restart[256];
    int nrestart = config_restart_fields(runtime_config(g->rt), cfg, restart, sizeof restart);
    runtime *rt = runtime_new(cfg, model, g->loop, g->up, g->rt);
    if (!rt) goto err;
    budgetstore *store;
    if (reload_budget(g, runtime_config(rt), &store, err, sizeof err) < 0) {
        runtime_unref(rt);
        goto err;
    }
    cache *answers;
    if (reload_cache(g, runtime_config(rt), &answers, err, sizeof err) < 0) {
        if (store != g->budget) budgetstore_free(store);
        runtime_unref(rt);
        goto err;
    }
    /* The request log is the last step that can fail for a reason of the
     * file's; log_open keeps the old file when it cannot open the new one.
     * Only running out of memory can stop the switch after it. */
    if (log_open(runtime_config(rt)->log_file, err, sizeof err) < 0 ||
        server_reconfigure(g->srv, runtime_config(rt)) < 0) {
        if (store != g->budget) budgetstore_free(store);
        if (answers != g->cache) cache_free(answers);
        runtime_unref(rt);
        goto err;
    }
    /* New caps keep the day's spend; only out of memory stops them. */
    if (store && store == g->budget && budgetstore_reconfigure(store, &runtime_config(rt)->budget) < 0)
        log_msg("error", "budget caps not changed: out of memory");
    chat_set_runtime(g->chat, rt);
    status_set_runtime(g->status, rt);
    use_budget(g, store);
    if (answers && answers == g->cache) cache_reconfigure(answers, &runtime_config(rt)->cache);
    use_cache(g, answers);
    runtime_retire(g->rt);
    runtime_unref(g->rt);
    g->rt = rt;
    if ((o = log_begin("info", "configuration reloaded"))) {
        cJSON_AddStringToObject(o, "config", g->config_path);
        cJSON_AddNumberToObject(o, "backends", (double)runtime_config(rt)->nbackends);
        log_end(o);
    }
    warn_security(runtime_config(rt));
    if (nrestart && (o = log_begin("warn", "these settings changed but take effect only at a restart"))) {
        cJSON_AddStringToObject(o, "settings", restart);
        log_end(o);
    }
    return;
err:
    if ((o = log_begin("error", "reload failed; the configuration in force stays"))) {
        cJSON_AddStringToObject(o, "error", err);
        log_end(o);
    }
}

static void on_drained(void *ud) {
    gateway *g = ud;
    log_msg("info", "drained: no request left");
    evloop_stop(g->loop);
}

/* The deadline first cuts what is left, each with an error its client can
 * read, and then gives the sockets a second to take those last bytes. */
static void on_drain_deadline(void *ud) {
    gateway *g = ud;
    if (g->cut) {
        evloop_stop(g->loop);
        return;
    }
    g->cut = true;
    cJSON *o = log_begin("warn", "drain deadline passed; cutting the requests left");
    if (o) {
        cJSON_AddNumberToObject(o, "cut", (double)server_cut_all(g->srv));
        log_end(o);
    }
    evloop_timer_start(g->loop, &g->drain_timer, 1000);
}

/* SIGTERM or SIGINT: stop taking work, let what is in flight finish within
 * limits.drain_timeout_s, exit 0.  A second signal stops at once. */
static void drain(gateway *g) {
    if (g->draining) {
        log_msg("info", "second stop signal: stopping now");
        evloop_stop(g->loop);
        return;
    }
    g->draining = true;
    cJSON *o = log_begin("info", "draining: no new connections; requests in flight may finish");
    if (o) {
        cJSON_AddNumberToObject(o, "drain_timeout_s", runtime_config(g->rt)->drain_timeout_s);
        log_end(o);
    }
    status_set_draining(g->status);
    evloop_timer_init(&g->drain_timer, on_drain_deadline, g);
    evloop_timer_start(g->loop, &g->drain_timer, (uint64_t)runtime_config(g->rt)->drain_timeout_s * 1000);
    server_drain(g->srv, on_drained, g);
}

static void count_refused(void *ud, int status) { metrics_refused(ud, status); }

/* The one function the loop runs before it waits (evloop_set_before_wait),
 * and its order:
 *   1. the server: MHD runs for the connections resumed this round (a late
 *      reply, a stream's bytes, a hang-up's end) and its timer is armed; the
 *      requests it finishes add their lines to the request log;
 *   2. the request log: the lines of this round, the server's included, go
 *      out in one write before the gateway sleeps.
 * libcurl needs nothing here: its sockets and its timer are the loop's, and
 * a transfer started inside MHD_run is driven by curl's timer, armed then. */
static void before_wait(void *ud) {
    gateway *g = ud;
    if (g->srv) server_before_wait(g->srv);
    log_flush();
}

/* Reverse order of building: the server first, so every exchange releases
 * its request (its runtime reference, its upstream transfer) while the rest
 * still exists. */
static void gateway_free(gateway *g) {
    server_free(g->srv);
    chat_free(g->chat);
    status_free(g->status);
    runtime_unref(g->rt);
    budgetstore_free(g->budget);    /* after the server: every answer has been charged */
    cache_free(g->cache);           /* after the server: every answer has been stored */
    metrics_free(g->metrics);
    linkreport_free(g->link);
    upstream_free(g->up);
    log_close();
    if (g->sigfd >= 0) close(g->sigfd);
    evloop_free(g->loop);
}

/* Takes ownership of cfg and model. */
static int gateway_run(gateway *g, config *cfg, classifier *model) {
    char err[512] = "out of memory";
    if (!(g->loop = evloop_new()) || watch_signals(g) < 0 || !(g->up = upstream_new(g->loop)) ||
        !(g->metrics = metrics_new()) || !(g->link = linkreport_new(g->loop))) {
        classifier_free(model);
        config_free(cfg);
        fprintf(stderr, "tiergate: %s\n", err);
        return 1;
    }
    if (!(g->rt = runtime_new(cfg, model, g->loop, g->up, NULL)) || !(g->chat = chat_new(g->rt, g->metrics)) ||
        !(g->status = status_new(g->rt, g->metrics))) {
        fprintf(stderr, "tiergate: %s\n", err);
        return 1;
    }
    chat_set_link(g->chat, g->link);
    status_set_link(g->status, g->link);
    g->link_endpoints = (linkserve){g->link, &g->rt};
    if (open_request_log(runtime_config(g->rt)) < 0) return 1;
    const config *c = runtime_config(g->rt);
    if (c->budget.enabled) {
        budgetstore *store = budgetstore_open(&c->budget, g->loop, NULL, err, sizeof err);
        if (!store) {
            fprintf(stderr, "tiergate: %s\n", err);
            return 1;
        }
        use_budget(g, store);
    }
    if (c->cache.mode != CACHE_OFF) {
        cache *answers = cache_open(&c->cache, g->loop, err, sizeof err);
        if (!answers) {
            fprintf(stderr, "tiergate: %s\n", err);
            return 1;
        }
        use_cache(g, answers);
    }
    const server_endpoint table[] = {
        {"POST", "/v1/chat/completions", chat_handle_completions, g->chat, false, false},
        {"POST", "/v1/route", chat_handle_route, g->chat, false, false},
        {"GET", "/v1/models", status_handle_models, g->status, false, false},
        {"GET", "/v1/models/", status_handle_model, g->status, false, false},
        {"GET", "/healthz", status_handle_healthz, g->status, true, false},
        {"GET", "/readyz", status_handle_readyz, g->status, true, false},
        {"GET", "/metrics", status_handle_metrics, g->status, false, false},
        {"DELETE", "/v1/cache", cacheserve_handle_delete, &g->cache, false, true},   /* admin (issue 17) */
        {"GET", "/v1/link", linkserve_handle_get, &g->link_endpoints, false, true},    /* admin (issue 15) */
        {"PUT", "/v1/link", linkserve_handle_put, &g->link_endpoints, false, true},
        {"DELETE", "/v1/link", linkserve_handle_delete, &g->link_endpoints, false, true},
    };
    g->srv = server_new(g->loop, c, table, sizeof table / sizeof *table, err, sizeof err);
    if (!g->srv) {
        fprintf(stderr, "tiergate: %s\n", err);
        return 1;
    }
    server_on_refused(g->srv, count_refused, g->metrics);
    evloop_set_before_wait(g->loop, before_wait, g);
    char listen[300];
    bool v6 = strchr(c->listen_host, ':') != NULL;
    snprintf(listen, sizeof listen, v6 ? "[%s]:%d" : "%s:%d", c->listen_host, server_port(g->srv));
    cJSON *o = log_begin("info", "listening");
    if (o) {
        cJSON_AddStringToObject(o, "listen", listen);
        cJSON_AddStringToObject(o, "version", TIERGATE_VERSION);
        cJSON_AddNumberToObject(o, "backends", (double)c->nbackends);
        cJSON_AddNumberToObject(o, "pid", (double)getpid());
    }
    log_end(o);
    int rc = evloop_run(g->loop) < 0 ? 1 : 0;
    /* The table lives on this stack frame: the server must go first. */
    server_free(g->srv);
    g->srv = NULL;
    return rc;
}

/* --check: the budget's state file is read as a start would read it. */
static int check_budget(const config *cfg) {
    char msg[768];
    if (!cfg->budget.enabled) return 0;
    if (budgetstore_check(&cfg->budget, msg, sizeof msg) < 0) {
        fprintf(stderr, "tiergate: %s\n", msg);
        return 1;
    }
    cJSON *o = log_begin("info", msg);
    log_end(o);
    return 0;
}

int main(int argc, char **argv) {
    gateway g = {.config_path = DEFAULT_CONFIG, .sigfd = -1};
    bool check = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) g.config_path = argv[++i];
        else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) g.listen = argv[++i];
        else if (strcmp(argv[i], "--check") == 0) check = true;
        else if (strcmp(argv[i], "--debug") == 0) log_set_debug(true);
        else if (strcmp(argv[i], "--version") == 0) {
            printf("tiergate %s\n", TIERGATE_VERSION);
            return 0;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(help_text, stdout);
            return 0;
        } else {
            fprintf(stderr, "tiergate: unknown or incomplete option '%s'\n%s", argv[i], help_text);
            return 2;
        }
    }
    char err[512];
    config *cfg;
    classifier *model;
    if (load(g.config_path, g.listen, &cfg, &model, err, sizeof err) < 0) {
        fprintf(stderr, "tiergate: %s\n", err);
        return 1;
    }
    warn_security(cfg);
    if (check) {
        config_print(cfg, stdout);
        int rc = check_budget(cfg);
        classifier_free(model);
        config_free(cfg);
        return rc;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "tiergate: cannot initialise libcurl\n");
        classifier_free(model);
        config_free(cfg);
        return 1;
    }
    int rc = gateway_run(&g, cfg, model);
    gateway_free(&g);
    curl_global_cleanup();
    return rc;
}
