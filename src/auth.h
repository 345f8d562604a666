/* auth: client API keys.
 *
 * Keys come from an environment variable or a file that the configuration
 * names (auth.keys_env / auth.keys_file), never from the configuration itself,
 * as "name:key" entries separated by newlines or commas.  A request presents
 * its key as "Authorization: Bearer <key>", as the OpenAI SDKs send it; the
 * key's name is what logs show.  With no keys configured authentication is
 * off (main logs a warning at every start).  auth also counts each key's
 * requests in flight, for limits.max_inflight_per_key.
 *
 * Admin keys (auth.admin_keys_env / auth.admin_keys_file, the same "name:key"
 * form) open the operator's endpoints, those marked admin in the server's
 * table (DELETE /v1/cache, ...): with none configured those endpoints do
 * not exist (404); a missing or wrong key is 401, a client key 403.  No key
 * may be both. */
#ifndef TIERGATE_AUTH_H
#define TIERGATE_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "apierror.h"
#include "config.h"

#define AUTH_MAX_KEY 256       /* longest key, bytes */
#define AUTH_MAX_NAME 64       /* longest key name, bytes */
#define AUTH_MAX_KEYS 1024

/* Fills cfg->client_keys from cfg->auth_keys_env (looked up with getenv_fn)
 * or cfg->auth_keys_file, and cfg->admin_keys likewise from the admin ones.  Returns -1 with err filled on a bad entry; err
 * names the entry by its number and never contains a key. */
int auth_load_keys(config *cfg, const char *(*getenv_fn)(const char *name), char *err, size_t errlen);
/* Wipes and frees keys[0..n). */
void auth_keys_free(config_client_key *keys, size_t n);

typedef struct auth auth;

/* Borrows cfg's keys; NULL on out of memory. */
auth *auth_new(const config *cfg);
void auth_free(auth *a);
bool auth_enabled(const auth *a);
/* The index of the key an Authorization header value presents, or -1.  The
 * time taken does not depend on which key matched or on how much of any key
 * the value has right. */
int auth_find(const auth *a, const char *authorization);
const char *auth_key_name(const auth *a, int key);
/* True when admin keys are configured: the admin endpoints exist. */
bool auth_admin_enabled(const auth *a);
/* Admits a request to an admin endpoint: 0 with *name the admin key's name
 * (borrowed from the configuration), or -1 with err a 401 (no or unknown
 * key) or 403 (a client key).  Constant time, as auth_find. */
int auth_admit_admin(const auth *a, const char *authorization, const char **name, api_error *err);
/* Admits a request with this Authorization header value (NULL if none):
 * returns 0 with *key the counted key (auth_release it when the request is
 * over), or -1 if auth is off; or -1 with err a 401 (invalid_api_key) or 429
 * (too many requests in flight for the key). */
int auth_admit(auth *a, const char *authorization, int *key, api_error *err);
/* Counts a request in flight for key; false (nothing counted) when the key
 * is at its limit. */
bool auth_acquire(auth *a, int key);
void auth_release(auth *a, int key);
/* A request admitted under the keys before a reload: counts it in flight
 * under the key of the same name here, over the limit if need be (it is
 * already running), and returns that key; -1 when the name is gone. */
int auth_carry(auth *a, const char *name);

#endif
