/* configread: the typed readers that every section of the configuration is
 * read with (config.c).
 *
 * Each reads one key of a JSON object: absent, it gives the default; present,
 * it must have the right type and range, or the reader writes a message that
 * names the field by its path ("backends[1].timeouts.connect_ms: must be an
 * integer from 1 to 600000") and returns -1.  The first error wins, so a
 * section reads its fields in one chain of calls.  For the config module's
 * files only; nothing else parses configuration. */
#ifndef TIERGATE_CONFIGREAD_H
#define TIERGATE_CONFIGREAD_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct configread {
    char *err;                   /* where the message goes */
    size_t errlen;
    const char *(*getenv_fn)(const char *);
} configread;

/* Replaces control characters in the message (quoted keys and values must
 * not break it, or a log line, in two).  Returns -1. */
int configread_plain(configread *r);
/* "path: " and the message; returns -1. */
__attribute__((format(printf, 3, 4)))
int configread_fail(configread *r, const char *path, const char *fmt, ...);
/* obj must be an object whose keys are all in allowed (NULL-terminated),
 * each once. */
int configread_keys(configread *r, const cJSON *obj, const char *path, const char *const *allowed);
/* path.key, or key at the top. */
void configread_path(char *out, size_t n, const char *path, const char *key);

int configread_int(configread *r, const cJSON *obj, const char *path, const char *key, long min, long max,
                   long def, int *out);
int configread_size(configread *r, const cJSON *obj, const char *path, const char *key, double min,
                    double max, size_t def, size_t *out);
int configread_double(configread *r, const cJSON *obj, const char *path, const char *key, double min,
                      double max, double def, double *out);
int configread_bool(configread *r, const cJSON *obj, const char *path, const char *key, bool def, bool *out);
/* One of names (NULL-terminated): *out is its index; def when absent. */
int configread_choice(configread *r, const cJSON *obj, const char *path, const char *key,
                      const char *const *names, int def, int *out);
/* Required when def is NULL; a non-empty string, *out malloc'd. */
int configread_string(configread *r, const cJSON *obj, const char *path, const char *key, const char *def,
                      char **out);

#endif
