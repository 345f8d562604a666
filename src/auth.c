/* auth: client keys, loaded, compared in constant time, counted in flight.
 *
 * Comparison.  A key check must not tell an attacker, by its timing, which
 * key matched or how long a prefix of a key was right.  So every configured
 * key is kept zero-padded to AUTH_MAX_KEY bytes, the presented token is
 * padded the same way, and every check compares all bytes of all keys with
 * XOR-accumulation, no early exit, and selects the match with masks.  A
 * digest compare (SHA-256) would hide key lengths too, but needs a crypto
 * library the gateway otherwise does without; the lengths enter the same
 * accumulator, and the cost is fixed: n x 256 byte operations per request,
 * well under a microsecond for dozens of keys.
 *
 * Loading.  Entries are "name:key", separated by newlines (a file) or commas
 * (an environment variable); blank entries and lines starting with '#' are
 * skipped.  Errors name the entry by number, never by content, since the
 * content is a secret and error messages reach logs and --check output.
 * Duplicate names would make logs ambiguous and duplicate keys would make
 * the match ambiguous; both are refused. */
#include "auth.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUTH_MIN_KEY 16
#define AUTH_MAX_FILE (1u << 20)

struct auth {
    const config *cfg;
    size_t n;
    unsigned char (*padded)[AUTH_MAX_KEY];
    size_t *lens;
    int *inflight;
};

/* ---- loading ---- */

void auth_keys_free(config_client_key *keys, size_t n) {
    for (size_t i = 0; keys && i < n; i++) {
        free(keys[i].name);
        if (keys[i].key) {
            explicit_bzero(keys[i].key, strlen(keys[i].key));
            free(keys[i].key);
        }
    }
    free(keys);
}

static bool valid_key_name(const char *s, size_t n) {
    if (n == 0 || n > AUTH_MAX_NAME) return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("-_.", s[i])) return false;
    return true;
}

static bool valid_key(const char *s, size_t n) {
    if (n < AUTH_MIN_KEY || n > AUTH_MAX_KEY) return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x21 || s[i] > 0x7e) return false;
    return true;
}

/* Parses one trimmed entry into cfg->client_keys[cfg->nclient_keys]. */
static int add_entry(config *cfg, const char *src, size_t no, const char *e, size_t len, char *err,
                     size_t errlen) {
    const char *colon = memchr(e, ':', len);
    size_t nl = colon ? (size_t)(colon - e) : 0, kl = colon ? len - nl - 1 : 0;
    if (!colon || !valid_key_name(e, nl)) {
        snprintf(err, errlen, "%s: entry %zu: must be \"name:key\" with a name of 1 to %d letters, digits, "
                 "'-', '_' or '.'", src, no, AUTH_MAX_NAME);
        return -1;
    }
    if (!valid_key(colon + 1, kl)) {
        snprintf(err, errlen, "%s: entry %zu (%.*s): the key must be %d to %d printable ASCII characters "
                 "without spaces", src, no, (int)nl, e, AUTH_MIN_KEY, AUTH_MAX_KEY);
        return -1;
    }
    for (size_t i = 0; i < cfg->nclient_keys; i++) {
        const config_client_key *k = &cfg->client_keys[i];
        if (strlen(k->name) == nl && memcmp(k->name, e, nl) == 0) {
            snprintf(err, errlen, "%s: entry %zu: the name %.*s is used twice", src, no, (int)nl, e);
            return -1;
        }
        if (strlen(k->key) == kl && memcmp(k->key, colon + 1, kl) == 0) {
            snprintf(err, errlen, "%s: entry %zu (%.*s) has the same key as %s", src, no, (int)nl, e, k->name);
            return -1;
        }
    }
    if (cfg->nclient_keys == AUTH_MAX_KEYS) {
        snprintf(err, errlen, "%s: more than %d keys", src, AUTH_MAX_KEYS);
        return -1;
    }
    config_client_key *k = &cfg->client_keys[cfg->nclient_keys];
    k->name = strndup(e, nl);
    k->key = strndup(colon + 1, kl);
    cfg->nclient_keys++;
    if (!k->name || !k->key) {
        snprintf(err, errlen, "%s: out of memory", src);
        return -1;
    }
    return 0;
}

static int parse_entries(config *cfg, const char *src, const char *text, size_t len, char *err, size_t errlen) {
    size_t cap = 1;
    for (size_t i = 0; i < len; i++) cap += text[i] == '\n' || text[i] == ',';
    if (cap > AUTH_MAX_KEYS) cap = AUTH_MAX_KEYS;
    cfg->client_keys = calloc(cap, sizeof *cfg->client_keys);
    if (!cfg->client_keys) {
        snprintf(err, errlen, "%s: out of memory", src);
        return -1;
    }
    size_t no = 0;
    for (size_t at = 0; at <= len;) {
        size_t end = at;
        while (end < len && text[end] != '\n' && text[end] != ',') end++;
        size_t b = at, e = end;
        while (b < e && isspace((unsigned char)text[b])) b++;
        while (e > b && isspace((unsigned char)text[e - 1])) e--;
        no++;
        if (e > b && text[b] != '#' && add_entry(cfg, src, no, text + b, e - b, err, errlen) < 0) return -1;
        at = end + 1;
    }
    return 0;
}

int auth_load_keys(config *cfg, const char *(*getenv_fn)(const char *name), char *err, size_t errlen) {
    assert(!(cfg->auth_keys_env && cfg->auth_keys_file));
    if (cfg->auth_keys_env) {
        const char *v = getenv_fn(cfg->auth_keys_env);
        if (!v || !*v) {
            snprintf(err, errlen, "auth.keys_env: environment variable %s is not set", cfg->auth_keys_env);
            return -1;
        }
        return parse_entries(cfg, "auth.keys_env", v, strlen(v), err, errlen);
    }
    if (!cfg->auth_keys_file) return 0;
    FILE *f = fopen(cfg->auth_keys_file, "rb");
    if (!f) {
        snprintf(err, errlen, "auth.keys_file: %s: %s", cfg->auth_keys_file, strerror(errno));
        return -1;
    }
    char *buf = malloc(AUTH_MAX_FILE + 1);
    size_t n = buf ? fread(buf, 1, AUTH_MAX_FILE + 1, f) : 0;
    fclose(f);
    int rc = -1;
    if (!buf) snprintf(err, errlen, "auth.keys_file: out of memory");
    else if (n > AUTH_MAX_FILE) snprintf(err, errlen, "auth.keys_file: larger than %u bytes", AUTH_MAX_FILE);
    else if ((rc = parse_entries(cfg, "auth.keys_file", buf, n, err, errlen)) == 0 && !cfg->nclient_keys) {
        snprintf(err, errlen, "auth.keys_file: %s holds no keys", cfg->auth_keys_file);
        rc = -1;
    }
    if (buf) {
        explicit_bzero(buf, n);
        free(buf);
    }
    return rc;
}

/* ---- checking ---- */

auth *auth_new(const config *cfg) {
    auth *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->cfg = cfg;
    a->n = cfg->nclient_keys;
    if (a->n) {
        a->padded = calloc(a->n, sizeof *a->padded);
        a->lens = calloc(a->n, sizeof *a->lens);
        a->inflight = calloc(a->n, sizeof *a->inflight);
        if (!a->padded || !a->lens || !a->inflight) goto err;
    }
    for (size_t i = 0; i < a->n; i++) {
        a->lens[i] = strlen(cfg->client_keys[i].key);
        assert(a->lens[i] <= AUTH_MAX_KEY);
        memcpy(a->padded[i], cfg->client_keys[i].key, a->lens[i]);
    }
    return a;
err:
    auth_free(a);
    return NULL;
}

void auth_free(auth *a) {
    if (!a) return;
    if (a->padded) explicit_bzero(a->padded, a->n * sizeof *a->padded);
    free(a->padded);
    free(a->lens);
    free(a->inflight);
    free(a);
}

bool auth_enabled(const auth *a) { return a->n > 0; }

int auth_find(const auth *a, const char *authorization) {
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0) return -1;
    const char *tok = authorization + 7;
    while (*tok == ' ') tok++;
    size_t tl = strlen(tok);
    /* The presented token's length is the client's own knowledge. */
    if (tl == 0 || tl > AUTH_MAX_KEY) return -1;
    unsigned char buf[AUTH_MAX_KEY] = {0};
    memcpy(buf, tok, tl);
    unsigned match = 0, found = 0;
    for (size_t i = 0; i < a->n; i++) {
        unsigned d = (unsigned)(a->lens[i] ^ tl);
        for (size_t j = 0; j < AUTH_MAX_KEY; j++) d |= (unsigned)(a->padded[i][j] ^ buf[j]);
        /* d < 2^10, so d - 1 has its top bit set exactly when d == 0. */
        unsigned eq = (d - 1u) >> (sizeof d * 8 - 1);
        unsigned mask = 0u - eq;
        match = (match & ~mask) | ((unsigned)i & mask);
        found |= eq;
    }
    explicit_bzero(buf, sizeof buf);
    return found ? (int)match : -1;
}

const char *auth_key_name(const auth *a, int key) {
    assert(key >= 0 && (size_t)key < a->n);
    return a->cfg->client_keys[key].name;
}

bool auth_acquire(auth *a, int key) {
    assert(key >= 0 && (size_t)key < a->n);
    if (a->inflight[key] >= a->cfg->max_inflight_per_key) return false;
    a->inflight[key]++;
    return true;
}

int auth_admit(auth *a, const char *authorization, int *key, api_error *err) {
    *key = -1;
    if (!auth_enabled(a)) return 0;
    int k = auth_find(a, authorization);
    if (k < 0) {
        api_error_set(err, 401, "invalid_request_error", "invalid_api_key", NULL,
                      "Missing or incorrect API key; send it as \"Authorization: Bearer <key>\"");
        return -1;
    }
    if (!auth_acquire(a, k)) {
        api_error_set(err, 429, "requests", "rate_limit_exceeded", NULL,
                      "Too many requests in flight for key %s (limit %d)", auth_key_name(a, k),
                      a->cfg->max_inflight_per_key);
        return -1;
    }
    *key = k;
    return 0;
}

int auth_carry(auth *a, const char *name) {
    for (size_t i = 0; i < a->n; i++) {
        if (strcmp(a->cfg->client_keys[i].name, name) != 0) continue;
        a->inflight[i]++;
        return (int)i;
    }
    return -1;
}

void auth_release(auth *a, int key) {
    assert(key >= 0 && (size_t)key < a->n && a->inflight[key] > 0);
    a->inflight[key]--;
}
