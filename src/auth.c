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

/* Keys ready for the constant-time match. */
typedef struct keytable {
    size_t n;
    unsigned char (*padded)[AUTH_MAX_KEY];
    size_t *lens;
} keytable;

struct auth {
    const config *cfg;
    size_t n;                    /* client keys */
    keytable clients, admins;
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

/* A list of keys being loaded: the client keys or the admin keys. */
typedef struct keylist {
    config_client_key **keys;
    size_t *n;
} keylist;

/* Parses one trimmed entry into the list. */
static int add_entry(keylist list, const char *src, size_t no, const char *e, size_t len, char *err,
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
    for (size_t i = 0; i < *list.n; i++) {
        const config_client_key *k = &(*list.keys)[i];
        if (strlen(k->name) == nl && memcmp(k->name, e, nl) == 0) {
            snprintf(err, errlen, "%s: entry %zu: the name %.*s is used twice", src, no, (int)nl, e);
            return -1;
        }
        if (strlen(k->key) == kl && memcmp(k->key, colon + 1, kl) == 0) {
            snprintf(err, errlen, "%s: entry %zu (%.*s) has the same key as %s", src, no, (int)nl, e, k->name);
            return -1;
        }
    }
    if (*list.n == AUTH_MAX_KEYS) {
        snprintf(err, errlen, "%s: more than %d keys", src, AUTH_MAX_KEYS);
        return -1;
    }
    config_client_key *k = &(*list.keys)[*list.n];
    k->name = strndup(e, nl);
    k->key = strndup(colon + 1, kl);
    (*list.n)++;
    if (!k->name || !k->key) {
        snprintf(err, errlen, "%s: out of memory", src);
        return -1;
    }
    return 0;
}

static int parse_entries(keylist kl, const char *src, const char *text, size_t len, char *err, size_t errlen) {
    size_t cap = 1;
    for (size_t i = 0; i < len; i++) cap += text[i] == '\n' || text[i] == ',';
    if (cap > AUTH_MAX_KEYS) cap = AUTH_MAX_KEYS;
    *kl.keys = calloc(cap, sizeof **kl.keys);
    if (!*kl.keys) {
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
        if (e > b && text[b] != '#' && add_entry(kl, src, no, text + b, e - b, err, errlen) < 0) return -1;
        at = end + 1;
    }
    return 0;
}

/* Loads one list from the variable env (looked up with getenv_fn) or the
 * file; what is "auth.keys" or "auth.admin_keys", for messages. */
static int load_list(keylist kl, const char *what, const char *env, const char *file,
                     const char *(*getenv_fn)(const char *name), char *err, size_t errlen) {
    char src[64];
    if (env) {
        const char *v = getenv_fn(env);
        snprintf(src, sizeof src, "%s_env", what);
        if (!v || !*v) {
            snprintf(err, errlen, "%s: environment variable %s is not set", src, env);
            return -1;
        }
        return parse_entries(kl, src, v, strlen(v), err, errlen);
    }
    if (!file) return 0;
    snprintf(src, sizeof src, "%s_file", what);
    FILE *f = fopen(file, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s: %s", src, file, strerror(errno));
        return -1;
    }
    char *buf = malloc(AUTH_MAX_FILE + 1);
    size_t n = buf ? fread(buf, 1, AUTH_MAX_FILE + 1, f) : 0;
    fclose(f);
    int rc = -1;
    if (!buf) snprintf(err, errlen, "%s: out of memory", src);
    else if (n > AUTH_MAX_FILE) snprintf(err, errlen, "%s: larger than %u bytes", src, AUTH_MAX_FILE);
    else if ((rc = parse_entries(kl, src, buf, n, err, errlen)) == 0 && !*kl.n) {
        snprintf(err, errlen, "%s: %s holds no keys", src, file);
        rc = -1;
    }
    if (buf) {
        explicit_bzero(buf, n);
        free(buf);
    }
    return rc;
}

int auth_load_keys(config *cfg, const char *(*getenv_fn)(const char *name), char *err, size_t errlen) {
    assert(!(cfg->auth_keys_env && cfg->auth_keys_file));
    assert(!(cfg->auth_admin_keys_env && cfg->auth_admin_keys_file));
    if (load_list((keylist){&cfg->client_keys, &cfg->nclient_keys}, "auth.keys", cfg->auth_keys_env,
                  cfg->auth_keys_file, getenv_fn, err, errlen) < 0 ||
        load_list((keylist){&cfg->admin_keys, &cfg->nadmin_keys}, "auth.admin_keys", cfg->auth_admin_keys_env,
                  cfg->auth_admin_keys_file, getenv_fn, err, errlen) < 0)
        return -1;
    /* A key in both lists would make its holder an admin by accident. */
    for (size_t i = 0; i < cfg->nadmin_keys; i++)
        for (size_t j = 0; j < cfg->nclient_keys; j++)
            if (strcmp(cfg->admin_keys[i].key, cfg->client_keys[j].key) == 0) {
                snprintf(err, errlen, "auth.admin_keys: the admin key %s is also the client key %s",
                         cfg->admin_keys[i].name, cfg->client_keys[j].name);
                return -1;
            }
    return 0;
}

/* ---- checking ---- */

static int keytable_init(keytable *t, const config_client_key *keys, size_t n) {
    t->n = n;
    if (!n) return 0;
    t->padded = calloc(n, sizeof *t->padded);
    t->lens = calloc(n, sizeof *t->lens);
    if (!t->padded || !t->lens) return -1;
    for (size_t i = 0; i < n; i++) {
        t->lens[i] = strlen(keys[i].key);
        assert(t->lens[i] <= AUTH_MAX_KEY);
        memcpy(t->padded[i], keys[i].key, t->lens[i]);
    }
    return 0;
}

static void keytable_free(keytable *t) {
    if (t->padded) explicit_bzero(t->padded, t->n * sizeof *t->padded);
    free(t->padded);
    free(t->lens);
}

auth *auth_new(const config *cfg) {
    auth *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->cfg = cfg;
    a->n = cfg->nclient_keys;
    if ((a->n && !(a->inflight = calloc(a->n, sizeof *a->inflight))) ||
        keytable_init(&a->clients, cfg->client_keys, cfg->nclient_keys) < 0 ||
        keytable_init(&a->admins, cfg->admin_keys, cfg->nadmin_keys) < 0) {
        auth_free(a);
        return NULL;
    }
    return a;
}

void auth_free(auth *a) {
    if (!a) return;
    keytable_free(&a->clients);
    keytable_free(&a->admins);
    free(a->inflight);
    free(a);
}

bool auth_enabled(const auth *a) { return a->n > 0; }
bool auth_admin_enabled(const auth *a) { return a->admins.n > 0; }

/* The index in t of the key an Authorization header value presents, or -1;
 * in constant time (see the top of the file). */
static int keytable_find(const keytable *t, const char *authorization) {
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0) return -1;
    const char *tok = authorization + 7;
    while (*tok == ' ') tok++;
    size_t tl = strlen(tok);
    /* The presented token's length is the client's own knowledge. */
    if (tl == 0 || tl > AUTH_MAX_KEY) return -1;
    unsigned char buf[AUTH_MAX_KEY] = {0};
    memcpy(buf, tok, tl);
    unsigned match = 0, found = 0;
    for (size_t i = 0; i < t->n; i++) {
        unsigned d = (unsigned)(t->lens[i] ^ tl);
        for (size_t j = 0; j < AUTH_MAX_KEY; j++) d |= (unsigned)(t->padded[i][j] ^ buf[j]);
        /* d < 2^10, so d - 1 has its top bit set exactly when d == 0. */
        unsigned eq = (d - 1u) >> (sizeof d * 8 - 1);
        unsigned mask = 0u - eq;
        match = (match & ~mask) | ((unsigned)i & mask);
        found |= eq;
    }
    explicit_bzero(buf, sizeof buf);
    return found ? (int)match : -1;
}

int auth_find(const auth *a, const char *authorization) { return keytable_find(&a->clients, authorization); }

int auth_admit_admin(const auth *a, const char *authorization, const char **name, api_error *err) {
    *name = NULL;
    int k = keytable_find(&a->admins, authorization);
    if (k >= 0) {
        *name = a->cfg->admin_keys[k].name;
        return 0;
    }
    if (keytable_find(&a->clients, authorization) >= 0)
        api_error_set(err, 403, "invalid_request_error", "permission_denied", NULL,
                      "This endpoint needs an admin key (auth.admin_keys_env or auth.admin_keys_file); "
                      "a client key was presented");
    else
        api_error_set(err, 401, "invalid_request_error", "invalid_api_key", NULL,
                      "Missing or incorrect admin key; send it as \"Authorization: Bearer <key>\"");
    return -1;
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
