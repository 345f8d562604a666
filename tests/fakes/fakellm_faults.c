/*
 * fakellm's fault vocabulary: the fault mode (POST /_fake/mode, --mode), the
 * "fake:KEY=VALUE" tokens that override it for one request, and the coded
 * error bodies some faults answer with.  The faults are listed in fakellm.h.
 *
 * One table names every fault with its kind, range and field, so the mode
 * (JSON values) and the tokens (strings) share one parser and one set of
 * limits; the mode is validated once when set and re-read per request.
 */
#include "fakellm.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int opt_dialect = DIALECT_PREFILL;

static pthread_mutex_t mode_lock = PTHREAD_MUTEX_INITIALIZER;
static cJSON *mode;                      /* the fault mode, a JSON object */

const struct faults no_faults = {
    .chunks = 5, .cut_after = -1, .stall_after = -1, .malformed_after = -1, .error_event_after = -1,
    .array_delta_after = -1,
    .cut_at_byte = -1,
};

const char *const dialect_names[] = {"prefill", "prefix", "partial", "continue_final_message", "none", NULL};
static const char *const continuation_names[] = {"none", "reject", "restart", "trim", NULL};

enum fault_kind { F_INT, F_BOOL, F_STYLE, F_REPLY, F_CODE, F_NAME };

/* The refusals a gateway must tell apart: each provider's code (OpenAI
 * shape) or type (llama.cpp shape) and its message. */
static const struct error_code {
    const char *name, *openai_code, *llama_type, *message;
} error_codes[] = {
    {"none", NULL, NULL, NULL},
    {"context_length", "context_length_exceeded", "exceed_context_size_error",
     "This model's maximum context length is 4096 tokens. However, your messages resulted in 5274 tokens."},
    {"content_filter", "content_filter", "content_filter",
     "The response was filtered due to the prompt triggering the content management policy."},
};

#define FAULT(key, kind, lo, hi) {#key, kind, offsetof(struct faults, key), lo, hi, NULL}
static const struct fault_key {
    const char *key;
    enum fault_kind kind;
    size_t off;
    int lo, hi;
    const char *const *names;    /* F_NAME: the values, in the order of their numbers */
} fault_keys[] = {
    FAULT(status, F_INT, 0, 599),
    FAULT(health_status, F_INT, 0, 599),
    {"error_style", F_STYLE, offsetof(struct faults, llama_errors), 0, 0, NULL},
    {"error_code", F_CODE, offsetof(struct faults, error_code), 0, 0, NULL},
    {"dialect", F_NAME, offsetof(struct faults, dialect), 0, 0, dialect_names},
    {"continuation", F_NAME, offsetof(struct faults, continuation), 0, 0, continuation_names},
    FAULT(chunk_bytes, F_INT, 0, 1000000),
    FAULT(cut_at_byte, F_INT, -1, 100000000),
    FAULT(delay_headers_ms, F_INT, 0, 86400000),
    FAULT(delay_first_chunk_ms, F_INT, 0, 86400000),
    FAULT(chunk_delay_ms, F_INT, 0, 86400000),
    FAULT(chunks, F_INT, 1, 1000000),
    FAULT(cut_after, F_INT, -1, 1000000),
    FAULT(stall_after, F_INT, -1, 1000000),
    FAULT(malformed_after, F_INT, -1, 1000000),
    FAULT(error_event_after, F_INT, -1, 1000000),
    FAULT(array_delta_after, F_INT, -1, 1000000),
    FAULT(empty_choices, F_BOOL, 0, 1),
    FAULT(no_done, F_BOOL, 0, 1),
    FAULT(no_finish, F_BOOL, 0, 1),
    FAULT(no_usage, F_BOOL, 0, 1),
    FAULT(usage_first, F_BOOL, 0, 1),
    FAULT(tool_call, F_BOOL, 0, 1),
    FAULT(linger, F_BOOL, 0, 1),
    FAULT(hang, F_BOOL, 0, 1),
    FAULT(bad_json, F_BOOL, 0, 1),
    FAULT(no_space, F_BOOL, 0, 1),
    FAULT(crlf, F_BOOL, 0, 1),
    FAULT(keepalive, F_BOOL, 0, 1),
    FAULT(burst, F_BOOL, 0, 1),
    FAULT(once, F_BOOL, 0, 1),
    FAULT(reply, F_REPLY, 0, 0),
};

/* An error body with a provider's code, in OpenAI's or llama.cpp's shape. */
static enum outcome respond_coded(struct conn *c, struct request *rq, int status, const struct error_code *ec,
                                  bool llama)
{
    cJSON *o = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "message", ec->message);
    if (llama) {
        cJSON_AddNumberToObject(e, "code", status);
        cJSON_AddStringToObject(e, "type", ec->llama_type);
    } else {
        cJSON_AddStringToObject(e, "type", "invalid_request_error");
        cJSON_AddNullToObject(e, "param");
        cJSON_AddStringToObject(e, "code", ec->openai_code);
    }
    return respond_json(c, rq, status, o, NULL);
}

/* Sets one fault from a JSON value (the mode) or a string (a request token).
 * Returns NULL, or what is wrong with it. */
static const char *fault_set(struct faults *f, const char *key, const cJSON *jv, const char *sv)
{
    const struct fault_key *k = NULL;
    for (size_t i = 0; i < sizeof fault_keys / sizeof *fault_keys && !k; i++)
        if (strcmp(fault_keys[i].key, key) == 0)
            k = &fault_keys[i];
    if (!k)
        return "unknown fault";
    void *field = (char *)f + k->off;
    switch (k->kind) {
    case F_INT: {
        double v;
        char *end;
        if (jv && !cJSON_IsNumber(jv))
            return "must be a number";
        v = jv ? jv->valuedouble : strtod(sv, &end);
        if ((!jv && end == sv) || !(v >= k->lo && v <= k->hi))
            return "out of range";
        *(int *)field = (int)v;
        return NULL;
    }
    case F_BOOL:
        if (jv && (cJSON_IsBool(jv) || cJSON_IsNumber(jv)))
            *(bool *)field = cJSON_IsTrue(jv) || (cJSON_IsNumber(jv) && jv->valuedouble != 0);
        else if (!jv && *sv && strchr("1tTyY", *sv))
            *(bool *)field = true;
        else if (!jv && *sv && strchr("0fFnN", *sv))
            *(bool *)field = false;
        else
            return "must be a boolean";
        return NULL;
    case F_STYLE: {
        const char *s = jv ? cJSON_GetStringValue(jv) : sv;
        if (!s || (strcmp(s, "llama") != 0 && strcmp(s, "openai") != 0))
            return "must be \"llama\" or \"openai\"";
        *(bool *)field = strcmp(s, "llama") == 0;
        return NULL;
    }
    case F_CODE: {
        const char *s = jv ? cJSON_GetStringValue(jv) : sv;
        for (size_t i = 0; s && i < sizeof error_codes / sizeof *error_codes; i++)
            if (strcmp(s, error_codes[i].name) == 0) {
                *(int *)field = (int)i;
                return NULL;
            }
        return "must be \"none\", \"context_length\" or \"content_filter\"";
    }
    case F_NAME: {
        const char *s = jv ? cJSON_GetStringValue(jv) : sv;
        for (int i = 0; s && k->names[i]; i++)
            if (strcmp(s, k->names[i]) == 0) {
                *(int *)field = i;
                return NULL;
            }
        return k->names == dialect_names
            ? "must be \"prefill\", \"prefix\", \"partial\", \"continue_final_message\" or \"none\""
            : "must be \"none\", \"reject\", \"restart\" or \"trim\"";
    }
    case F_REPLY:
        if (!cJSON_IsString(jv))
            return "must be a string, and is only accepted in the mode";
        free(f->reply);
        f->reply = must(strdup(jv->valuestring));
        return NULL;
    }
    return "unknown fault";
}

/* Applies a mode object; on error *bad names the offending key. */
static const char *faults_from_json(struct faults *f, const cJSON *obj, const char **bad)
{
    const cJSON *item;
    cJSON_ArrayForEach(item, obj) {
        const char *err = fault_set(f, item->string, item, NULL);
        if (err) {
            *bad = item->string;
            return err;
        }
    }
    return NULL;
}

/* Applies the "fake:KEY=VALUE" tokens of a message; bad ones are ignored. */
void faults_from_text(struct faults *f, const char *text)
{
    for (const char *p = text; (p = strstr(p, "fake:")) != NULL;) {
        p += 5;
        size_t klen = strspn(p, "abcdefghijklmnopqrstuvwxyz_");
        if (klen == 0 || klen >= 32 || p[klen] != '=')
            continue;
        char key[32], val[32];
        memcpy(key, p, klen);
        key[klen] = '\0';
        size_t vlen = strcspn(p + klen + 1, " \t\r\n\"',;)]}");
        if (vlen >= sizeof val)
            vlen = sizeof val - 1;
        memcpy(val, p + klen + 1, vlen);
        val[vlen] = '\0';
        (void)fault_set(f, key, NULL, val);
    }
}

/* A chat request takes a mode set "once" with it: the next one finds none. */
void faults_load_mode(struct faults *f, bool chat)
{
    const char *bad;
    *f = no_faults;
    f->dialect = opt_dialect;
    pthread_mutex_lock(&mode_lock);
    (void)faults_from_json(f, mode, &bad);   /* validated when set */
    if (chat && f->once) {
        cJSON_Delete(mode);
        mode = NULL;
    }
    pthread_mutex_unlock(&mode_lock);
}

const char *set_mode(const char *text, char *err, size_t errlen)
{
    cJSON *obj = cJSON_ParseWithOpts(text, NULL, true);
    struct faults f = no_faults;
    const char *bad = NULL, *why = "the mode must be a JSON object";
    if (cJSON_IsObject(obj) && !(why = faults_from_json(&f, obj, &bad))) {
        pthread_mutex_lock(&mode_lock);
        cJSON_Delete(mode);
        mode = obj;
        pthread_mutex_unlock(&mode_lock);
        obj = NULL;
    } else if (bad) {
        snprintf(err, errlen, "fault \"%s\": %s", bad, why);
    } else {
        snprintf(err, errlen, "%s", why);
    }
    free(f.reply);
    cJSON_Delete(obj);
    return why ? err : NULL;
}

enum outcome respond_fault_status(struct conn *c, struct request *rq, const struct faults *f)
{
    if (f->error_code)
        return respond_coded(c, rq, f->status, &error_codes[f->error_code], f->llama_errors);
    return respond_simulated(c, rq, f->status, f->llama_errors);
}
