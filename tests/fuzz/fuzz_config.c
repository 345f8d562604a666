/* libFuzzer target for the configuration parser.
 *
 * The input is a configuration file.  A refused file must give a one-line,
 * non-empty message and leave nothing allocated (LeakSanitizer checks);
 * an accepted one must have its invariants (at least one backend, ranges
 * applied, cloud_threshold not below threshold) and print without trouble.
 * Every environment variable the file names has a fixed value, so backend
 * and client keys are exercised too.  Files named under /dev or /proc could
 * block or take long to read (auth.keys_file, tls.ca_file), so inputs naming
 * them are skipped. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) do { \
        if (!(cond)) { fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); abort(); } \
    } while (0)

static const char *fixed_env(const char *name) {
    return strcmp(name, "KEYS") == 0 ? "a:0123456789abcdef0123,b:fedcba9876543210fedc" : "sk-fuzz-secret-value";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static FILE *sink;
    char err[512];

    if (memmem(data, size, "/dev", 4) || memmem(data, size, "/proc", 5)) return 0;
    if (!sink) sink = fopen("/dev/null", "w");
    memset(err, 'x', sizeof err);
    config *c = config_parse((const char *)data, size, err, sizeof err, fixed_env);
    if (!c) {
        REQUIRE(memchr(err, '\0', sizeof err) && err[0] && !strchr(err, '\n'));
        return 0;
    }
    REQUIRE(c->nbackends >= 1 && c->listen_host);
    REQUIRE(c->threshold >= 0 && c->threshold <= 1 && c->cloud_threshold >= c->threshold);
    REQUIRE(c->max_json_depth >= 4 && c->max_messages >= 1 && c->request_timeout_s >= 1);
    for (size_t i = 0; i < c->nbackends; i++) REQUIRE(c->backends[i].name && c->backends[i].url);
    for (size_t i = 0; i < c->nclient_keys; i++) REQUIRE(strlen(c->client_keys[i].key) >= 16);
    if (sink) config_print(c, sink);
    config_free(c);
    return 0;
}
