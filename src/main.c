/* main: command line, wiring, signals, orderly stop.
 *
 * main builds the modules in dependency order (loop, upstream, health,
 * dispatch, handlers, server), runs the loop, and takes them down in reverse:
 * the server first, so that every open exchange releases its dispatch job
 * (and with it its upstream transfer) while upstream still exists.
 * Signals arrive through a signalfd in the loop, so a handler never runs in
 * the middle of the gateway's own code. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "backends.h"
#include "chat.h"
#include "classifier.h"
#include "config.h"
#include "dispatch.h"
#include "evloop.h"
#include "log.h"
#include "server.h"
#include "status.h"
#include "upstream.h"

#define DEFAULT_CONFIG "config/tiergate.json"

static const char usage[] =
    "usage: tiergate [--config FILE] [--listen HOST:PORT] [--check] [--version] [--help]\n"
    "\n"
    "Routes OpenAI chat completion requests to an on-device or a cloud model.\n"
    "\n"
    "  --config FILE       configuration file (default " DEFAULT_CONFIG ")\n"
    "  --listen HOST:PORT  listen here instead of the configuration's \"listen\"\n"
    "  --check             validate the configuration and the classifier model, print the\n"
    "                      configuration with secrets masked, exit\n"
    "  --version           print the version and exit\n"
    "  --help              print this help and exit\n";

typedef struct gateway {
    config *cfg;
    classifier *model;       /* owned here, borrowed by chat, so a reload can swap it */
    evloop *loop;
    upstream *up;
    backends *health;
    dispatch *disp;
    chat *chat;
    status *status;
    server *srv;
    evloop_io signals;
    int sigfd;
} gateway;

static void on_signal(void *ud, uint32_t events) {
    (void)events;
    gateway *g = ud;
    struct signalfd_siginfo si;
    while (read(g->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM) {
            log_msg("info", "stopping");
            evloop_stop(g->loop);
        }
    }
}

static int watch_signals(gateway *g) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
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
}

static void gateway_free(gateway *g) {
    server_free(g->srv);
    chat_free(g->chat);
    status_free(g->status);
    dispatch_free(g->disp);
    backends_free(g->health);
    upstream_free(g->up);
    if (g->sigfd > 0) close(g->sigfd);
    evloop_free(g->loop);
    classifier_free(g->model);
    config_free(g->cfg);
}

static int gateway_run(gateway *g) {
    char err[512] = "out of memory";
    if (!(g->loop = evloop_new()) || watch_signals(g) < 0 || !(g->up = upstream_new(g->loop)) ||
        !(g->health = backends_new(g->cfg)) || backends_start_probes(g->health, g->loop, g->up) < 0 ||
        !(g->disp = dispatch_new(g->cfg, g->health, g->loop, g->up)) ||
        !(g->chat = chat_new(g->cfg, g->model, g->health, g->disp)) || !(g->status = status_new(g->cfg, g->health))) {
        fprintf(stderr, "tiergate: %s\n", err);
        return 1;
    }
    const server_endpoint table[] = {
        {"POST", "/v1/chat/completions", chat_handle_completions, g->chat, false},
        {"POST", "/v1/route", chat_handle_route, g->chat, false},
        {"GET", "/v1/models", status_handle_models, g->status, false},
        {"GET", "/v1/models/", status_handle_model, g->status, false},
        {"GET", "/healthz", status_handle_healthz, g->status, true},
        {"GET", "/readyz", status_handle_readyz, g->status, true},
    };
    g->srv = server_new(g->loop, g->cfg, table, sizeof table / sizeof *table, err, sizeof err);
    if (!g->srv) {
        fprintf(stderr, "tiergate: %s\n", err);
        return 1;
    }
    char listen[300];
    bool v6 = strchr(g->cfg->listen_host, ':') != NULL;
    snprintf(listen, sizeof listen, v6 ? "[%s]:%d" : "%s:%d", g->cfg->listen_host, server_port(g->srv));
    cJSON *o = log_begin("info", "listening");
    if (o) {
        cJSON_AddStringToObject(o, "listen", listen);
        cJSON_AddStringToObject(o, "version", TIERGATE_VERSION);
        cJSON_AddNumberToObject(o, "backends", (double)g->cfg->nbackends);
    }
    log_end(o);
    int rc = evloop_run(g->loop) < 0 ? 1 : 0;
    /* The table lives on this stack frame: the server must go first. */
    server_free(g->srv);
    g->srv = NULL;
    return rc;
}

int main(int argc, char **argv) {
    const char *config_path = DEFAULT_CONFIG, *listen = NULL;
    bool check = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) config_path = argv[++i];
        else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) listen = argv[++i];
        else if (strcmp(argv[i], "--check") == 0) check = true;
        else if (strcmp(argv[i], "--version") == 0) {
            printf("tiergate %s\n", TIERGATE_VERSION);
            return 0;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else {
            fprintf(stderr, "tiergate: unknown or incomplete option '%s'\n%s", argv[i], usage);
            return 2;
        }
    }
    gateway g = {.sigfd = -1};
    char err[512];
    g.cfg = config_load(config_path, err, sizeof err);
    if (g.cfg && listen && apply_listen(g.cfg, listen, err, sizeof err) < 0) {
        config_free(g.cfg);
        g.cfg = NULL;
    }
    if (g.cfg && !(g.model = classifier_load(g.cfg->classifier_model, err, sizeof err))) {
        config_free(g.cfg);
        g.cfg = NULL;
    }
    if (!g.cfg) {
        fprintf(stderr, "tiergate: %s\n", err);
        return 1;
    }
    warn_security(g.cfg);
    if (check) {
        config_print(g.cfg, stdout);
        classifier_free(g.model);
        config_free(g.cfg);
        return 0;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "tiergate: cannot initialise libcurl\n");
        classifier_free(g.model);
        config_free(g.cfg);
        return 1;
    }
    int rc = gateway_run(&g);
    gateway_free(&g);
    curl_global_cleanup();
    return rc;
}
