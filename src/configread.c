/* configread: see configread.h. */
#include "configread.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int configread_plain(configread *r) {
    for (char *c = r->err; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
    return -1;
}

int configread_fail(configread *r, const char *path, const char *fmt, ...) {
    int n = snprintf(r->err, r->errlen, "%s: ", path);
    if (n < 0 || (size_t)n >= r->errlen) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return configread_plain(r);
}

int configread_keys(configread *r, const cJSON *obj, const char *path, const char *const *allowed) {
    if (!cJSON_IsObject(obj)) return configread_fail(r, path, "must be an object");
    const cJSON *it;
    cJSON_ArrayForEach(it, obj) {
        bool known = false;
        for (const char *const *a = allowed; *a && !known; a++) known = strcmp(*a, it->string) == 0;
        if (!known) {
            char p[256];
            snprintf(p, sizeof p, "%s%s%s", path, *path ? "." : "", it->string);
            return configread_fail(r, p, "unknown key");
        }
        for (const cJSON *dup = it->next; dup; dup = dup->next)
            if (strcmp(dup->string, it->string) == 0) {
                char p[256];
                snprintf(p, sizeof p, "%s%s%s", path, *path ? "." : "", it->string);
                return configread_fail(r, p, "duplicate key");
            }
    }
    return 0;
}

void configread_path(char *out, size_t n, const char *path, const char *key) {
    snprintf(out, n, "%s%s%s", path, *path ? "." : "", key);
}

/* A whole number from min to max at obj[key]: 1 with *out set, 0 when
 * absent, -1 after naming the field. */
static int read_whole(configread *r, const cJSON *obj, const char *path, const char *key, double min,
                      double max, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) return 0;
    char p[256];
    configread_path(p, sizeof p, path, key);
    double d = v->valuedouble;
    if (!cJSON_IsNumber(v) || d != floor(d) || d < min || d > max)
        return configread_fail(r, p, "must be an integer from %.0f to %.0f", min, max);
    *out = d;
    return 1;
}

int configread_int(configread *r, const cJSON *obj, const char *path, const char *key, long min, long max,
                   long def, int *out) {
    double d = (double)def;
    int rc = read_whole(r, obj, path, key, (double)min, (double)max, &d);
    *out = (int)d;
    return rc < 0 ? -1 : 0;
}

int configread_size(configread *r, const cJSON *obj, const char *path, const char *key, double min,
                    double max, size_t def, size_t *out) {
    double d = (double)def;
    int rc = read_whole(r, obj, path, key, min, max, &d);
    *out = (size_t)d;
    return rc < 0 ? -1 : 0;
}

int configread_double(configread *r, const cJSON *obj, const char *path, const char *key, double min,
                      double max, double def, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) {
        *out = def;
        return 0;
    }
    char p[256];
    configread_path(p, sizeof p, path, key);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= min && v->valuedouble <= max))
        return configread_fail(r, p, "must be a number from %g to %g", min, max);
    *out = v->valuedouble;
    return 0;
}

int configread_bool(configread *r, const cJSON *obj, const char *path, const char *key, bool def, bool *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) {
        *out = def;
        return 0;
    }
    char p[256];
    configread_path(p, sizeof p, path, key);
    if (!cJSON_IsBool(v)) return configread_fail(r, p, "must be true or false");
    *out = cJSON_IsTrue(v);
    return 0;
}

int configread_choice(configread *r, const cJSON *obj, const char *path, const char *key,
                      const char *const *names, int def, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    char p[256], list[256] = "";
    configread_path(p, sizeof p, path, key);
    *out = def;
    if (!v) return 0;
    for (int k = 0; names[k]; k++) {
        if (cJSON_IsString(v) && strcmp(v->valuestring, names[k]) == 0) {
            *out = k;
            return 0;
        }
        size_t at = strlen(list);
        snprintf(list + at, sizeof list - at, "%s\"%s\"", k == 0 ? "" : names[k + 1] ? ", " : " or ", names[k]);
    }
    return configread_fail(r, p, "must be %s", list);
}

int configread_string(configread *r, const cJSON *obj, const char *path, const char *key, const char *def,
                      char **out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    char p[256];
    configread_path(p, sizeof p, path, key);
    if (!v) {
        if (!def) return configread_fail(r, p, "is required");
        *out = strdup(def);
    } else {
        if (!cJSON_IsString(v) || !v->valuestring[0]) return configread_fail(r, p, "must be a non-empty string");
        *out = strdup(v->valuestring);
    }
    if (!*out) return configread_fail(r, p, "out of memory");
    return 0;
}
