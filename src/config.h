/* config: the one JSON configuration file, its validation and its defaults.
 *
 * config_load() reads and validates the file and returns a config that owns all
 * of its strings; nothing else in the gateway parses configuration.  Every error
 * names the offending field ("backends[1].timeouts.connect_ms: must be a positive
 * integer"), unknown keys are errors, and backend API keys are read from the
 * environment variables the file names, never from the file itself; client keys
 * likewise come from an environment variable or a file of their own (auth.h).
 * config_print() writes the effective configuration with secrets masked. */
#ifndef TIERGATE_CONFIG_H
#define TIERGATE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "circuit.h"
#include "pii.h"

typedef enum { TIER_DEVICE = 0, TIER_EDGE = 1, TIER_CLOUD = 2 } tier_t;
#define TIER_COUNT 3

const char *tier_name(tier_t t);
/* Returns 0 and sets *out when s is "device", "edge" or "cloud"; -1 otherwise. */
int tier_parse(const char *s, tier_t *out);

/* How a backend reads the OpenAI request.  "compat" (llama.cpp, Ollama, Spark,
 * DashScope, DeepSeek) reads max_tokens and knows no "developer" role; "openai"
 * takes the request as the client wrote it. */
typedef enum { DIALECT_COMPAT = 0, DIALECT_OPENAI = 1 } dialect_t;

/* backends[].continuation: how a backend is asked to continue an answer
 * whose beginning the client already has (dialect.h, docs/resilience.md). */
typedef enum {
    CONTINUATION_NONE = 0,               /* never asked to continue */
    CONTINUATION_PREFILL,                /* a trailing assistant message is continued */
    CONTINUATION_PREFIX,                 /* DeepSeek: "prefix": true on it */
    CONTINUATION_PARTIAL,                /* DashScope, Moonshot: "partial": true on it */
    CONTINUATION_CONTINUE_FINAL_MESSAGE  /* vLLM, SGLang: body flags */
} continuation_t;

/* What happens to a request that holds personal data (docs/privacy.md):
 * nothing, it stays on the device tier, or larger tiers get it masked. */
typedef enum { PRIVACY_OFF = 0, PRIVACY_LOCAL = 1, PRIVACY_REDACT = 2 } privacy_mode;

const char *privacy_mode_name(privacy_mode m);

/* routing.unknown_language: what decides the tier of a request in a language
 * the classifier did not learn (docs/classifier.md). */
typedef enum { UNKNOWN_LANGUAGE_SCORE = 0, UNKNOWN_LANGUAGE_CLOUD = 1, UNKNOWN_LANGUAGE_DEVICE = 2 } unknown_language_policy;
extern const char *const unknown_language_names[];   /* "score", "cloud", "device", NULL */

/* What a backend charges, per million tokens, in the operator's currency
 * (usage.h); 0 is free, as a device is. */
typedef struct config_price {
    double input_per_mtok;
    double output_per_mtok;
} config_price;

typedef struct config_backend {
    char *name;
    tier_t tier;
    char *url;           /* base URL without trailing slash, e.g. http://127.0.0.1:8080/v1 */
    char *model;         /* model name sent upstream */
    char *api_key_env;   /* NULL when the backend needs no key */
    char *api_key;       /* secret read from api_key_env at load; NULL if none */
    dialect_t dialect;
    continuation_t continuation;
    char *health_path;   /* appended to url for probes; default "/models" */
    int connect_ms, first_byte_ms, idle_ms, total_ms;
    int context_tokens;  /* context window, for context-length fallback; 0 = unknown */
    char *ca_file;       /* tls.ca_file: CA bundle for https, NULL = the system's */
    bool tls_insecure;   /* tls.insecure_skip_verify: no certificate or host check */
    config_price price;  /* price: default 0, free */
} config_backend;

/* A daily cap for one named client key (budget.keys). */
typedef struct config_budget_key {
    char *name;
    double daily;
} config_budget_key;

/* budget: cloud spend caps (budget.h, budgetstore.h); enabled when the
 * section is present.  Caps are BUDGET_NO_CAP (-1) when not set. */
typedef struct config_budget {
    bool enabled;
    double daily;                /* the total per day */
    double per_key_daily;        /* each client key per day */
    config_budget_key *keys;     /* caps for named keys, in place of per_key_daily */
    size_t nkeys;
    bool reject;                 /* when_exhausted: "reject" (429), else "downgrade" */
    int utc_offset_min;          /* where days begin */
    char *state_file;            /* resolved against the configuration's directory */
} config_budget;

/* routing.model_aliases: a client's model name and what it stands for. */
typedef struct config_alias {
    char *name;
    char *target;        /* "auto", a tier or a backend name */
} config_alias;

#define CONFIG_MAX_ALIASES 64

/* A client key: its name appears in logs, the key itself nowhere. */
typedef struct config_client_key {
    char *name;
    char *key;
} config_client_key;

/* cache: the answer cache (cache.h, docs/operations.md#answer-cache); its
 * parsing is cacheconf.c's.  mode CACHE_OFF leaves the rest unread. */
typedef enum { CACHE_OFF = 0, CACHE_OFFLINE = 1, CACHE_ALWAYS = 2 } cache_mode;

typedef struct config_cache {
    cache_mode mode;
    char *file;                  /* resolved against the configuration's directory */
    size_t max_bytes;            /* the file's live records; LRU eviction past it */
    int ttl_s;                   /* "always": an entry younger than this answers first */
    int max_age_s;               /* the oldest entry ever served (stale-if-error) */
    double max_temperature;      /* hotter requests are not stored; absent counts as 1 */
    bool require_seed;           /* requests without "seed" are not stored */
} config_cache;

/* routing.degraded_reply: the sentence returned when no tier can answer and
 * nothing is cached; NULL strings when not configured. */
typedef struct config_degraded {
    char *zh, *en;
} config_degraded;

typedef struct config {
    char *listen_host;   /* default "127.0.0.1" */
    int listen_port;     /* default 8088 */
    config_backend *backends;
    size_t nbackends;
    double threshold;        /* score >= threshold needs a tier above device */
    double cloud_threshold;  /* with an edge tier: score >= this needs the cloud */
    char *classifier_model;  /* model file path; config_load resolves a relative
                                one against the config file's directory, else
                                the installed data directory (datadir.h) */
    bool fallback;           /* fall back to other tiers (also for forced models) */
    int deadline_ms;         /* whole-request budget across retries and fallbacks */
    int max_first_byte_ms;   /* slower larger tiers are passed over (slow_network); 0 = off */
    int hedge_after_ms;      /* start the next tier too after this long; 0 = off */
    int retries;             /* extra attempts on the same backend after a retryable failure */
    int retry_backoff_ms;    /* base of the jittered exponential back-off */
    int max_retry_after_ms;  /* longest Retry-After honoured; longer ones fail over */
    unknown_language_policy unknown_language;   /* default UNKNOWN_LANGUAGE_CLOUD */
    config_alias *aliases;   /* routing.model_aliases; owned */
    size_t naliases;
    circuit_params circuit;
    int probe_interval_ms;   /* active health probe period per backend */
    size_t max_body_bytes;
    unsigned max_connections;
    int client_timeout_s;    /* idle client connections are closed after this */
    size_t max_header_bytes; /* per-connection buffer for the request line and headers */
    unsigned max_connections_per_ip;   /* 0 = no per-address limit */
    int request_timeout_s;   /* a request must arrive whole (headers and body) within this */
    int max_json_depth;      /* nesting of arrays and objects in a request body */
    int max_messages;
    size_t max_message_chars;          /* code points over all message texts */
    int max_inflight_per_key;          /* requests in flight per client key */
    int drain_timeout_s;     /* SIGTERM: how long requests in flight may take to finish */
    char *auth_keys_env;     /* auth.keys_env or auth.keys_file (one of them, or neither) */
    char *auth_keys_file;
    config_client_key *client_keys;    /* owned; none = authentication off */
    size_t nclient_keys;
    char *auth_admin_keys_env;         /* auth.admin_keys_env or auth.admin_keys_file */
    char *auth_admin_keys_file;
    config_client_key *admin_keys;     /* owned; none = no admin endpoints */
    size_t nadmin_keys;
    char *log_file;          /* log.file: request lines go here; NULL = stderr; relative
                                to the configuration file's directory, as the other paths */
    bool log_include_text;   /* log.include_text: prompt and answer text in request lines (debug) */
    privacy_mode privacy;    /* default PRIVACY_REDACT */
    pii_kindset pii_kinds;   /* privacy.detectors: the built-in kinds scanned for (privacy.c) */
    pii_pattern *patterns;   /* operator patterns, compiled; owned */
    size_t npatterns;
    config_budget budget;
    config_cache cache;
    config_degraded degraded_reply;
} config;

/* Parses text (len bytes, need not be NUL-terminated).  On success returns a new
 * config; on failure returns NULL and writes a one-line message naming the field
 * into err.  getenv_fn looks up api_key_env (NULL means getenv). */
config *config_parse(const char *text, size_t len, char *err, size_t errlen,
                     const char *(*getenv_fn)(const char *name));
/* Reads path and calls config_parse; a relative routing.classifier_model or
 * budget.state_file (or cache.file) is then taken relative to the directory of path
 * (a model not found there, relative to the installed data directory). */
config *config_load(const char *path, char *err, size_t errlen);
void config_free(config *c);
/* Writes the effective configuration as JSON; API keys appear as "***". */
void config_print(const config *c, FILE *out);
/* Names the settings that differ between old and new but only take effect
 * at a restart (the listening address, the connection limits), comma
 * separated, into out; returns how many. */
int config_restart_fields(const config *old, const config *new_cfg, char *out, size_t outlen);

/* Index of the backend named name, or -1. */
int config_backend_index(const config *c, const char *name);
/* True when backend b has a price: its answers are spend (budget). */
bool config_backend_priced(const config_backend *b);

/* What model stands for: an alias's target, or model itself. */
const char *config_alias_target(const config *c, const char *model);
/* True when at least one backend serves tier t. */
bool config_has_tier(const config *c, tier_t t);

#endif
