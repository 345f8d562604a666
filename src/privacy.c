/* privacy: the glue between the request's JSON, the detectors and the
 * redactor.
 *
 * What is scanned: every text a model reads as the conversation: string
 * contents, the "text" of content parts, tool-call arguments and the legacy
 * function_call's arguments.  Names, roles, ids and image URLs are not: a
 * message's name is an identifier ([a-zA-Z0-9_-]{1,64} in OpenAI's API), in
 * which no detector has the words around a value it needs, and a
 * placeholder in it would make the request invalid; rewriting an image's
 * data URL would break it (docs/privacy.md).
 *
 * Redact mode scans twice when something was found: once over the client's
 * request (which also serves local mode and /v1/route), once over a copy,
 * replacing as it goes.  Requests without personal data, the common case,
 * pay one scan and no copy.  The device tier gets the original request; only
 * larger tiers get the copy, and only their answers are restored.
 *
 * Streams are restored per choice (up to PRIVACY_MAX_CHOICES; later choices
 * chunk by chunk, with no hold-back), and tool-call argument fragments of a
 * stream chunk by chunk: a placeholder split across two argument fragments
 * reaches the client masked (docs/privacy.md).
 *
 * The "privacy" section of the configuration is read here too (as the cache
 * reads its own in cacheconf): the detectors and patterns are this module's
 * vocabulary, and config.c stays a list of sections. */
#include "privacy.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "configread.h"
#include "pii.h"
#include "piiregex.h"
#include "redact.h"

#define PRIVACY_MAX_CHOICES 8

struct privacy_call {
    const config *cfg;
    privacy_kinds found;
    redactor *r;                 /* redact mode with personal data found, else NULL */
    cJSON *redacted;             /* owned: what req->redacted points at */
    pii_spans spans;
    restore_stream streams[PRIVACY_MAX_CHOICES];
    feature_message *masked;     /* owned: req->msgs with every value masked, or NULL */
    char **masked_texts;         /* owned: the masked texts, one per message (or NULL) */
    size_t nmasked;
    bool oom;
};

static int read_detectors(configread *r, const cJSON *pv, pii_kindset *kinds) {
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(pv, "detectors"), *x;
    *kinds = PII_ALL_KINDS;
    if (!d) return 0;
    if (!cJSON_IsObject(d)) return configread_fail(r, "privacy.detectors", "must be an object of kind names to true or false");
    pii_kindset seen = 0;
    cJSON_ArrayForEach(x, d) {
        int k = pii_kind_by_name(x->string);
        char path[80];
        configread_path(path, sizeof path, "privacy.detectors", x->string);
        if (k < 0)
            return configread_fail(r, path, "is not a built-in kind (PHONE, CN_ID, BANK_CARD, EMAIL, PLATE, VIN, GPS, "
                                            "IPV4, ADDRESS, PASSPORT, NAME)");
        if (seen >> k & 1) return configread_fail(r, path, "duplicate kind");
        seen |= (pii_kindset)1 << k;
        if (!cJSON_IsBool(x)) return configread_fail(r, path, "must be true or false");
        if (cJSON_IsTrue(x)) *kinds |= (pii_kindset)1 << k;
        else *kinds &= ~((pii_kindset)1 << k);
    }
    return 0;
}

/* A pattern name becomes a placeholder (⟨NAME_1⟩) that the answer path
 * recognises by its shape: upper-case letters, digits and '_'. */
static bool valid_pattern_name(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > PII_MAX_NAME || s[0] < 'A' || s[0] > 'Z') return false;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == n;
}

/* Fills c->patterns[i]; on success it counts in c->npatterns and is
 * config_free's, on failure nothing of it is left allocated. */
static int parse_pattern(configread *r, const cJSON *obj, size_t i, config *c) {
    static const char *const keys[] = {"name", "regex", NULL};
    char path[64], p[80];
    snprintf(path, sizeof path, "privacy.patterns[%zu]", i);
    pii_pattern *pat = &c->patterns[i];
    char *regex = NULL;
    if (configread_keys(r, obj, path, keys) < 0 || configread_string(r, obj, path, "name", NULL, &pat->name) < 0)
        goto err;
    configread_path(p, sizeof p, path, "name");
    if (!valid_pattern_name(pat->name)) {
        configread_fail(r, p, "must be A-Z, 0-9 and '_', start with a letter, at most %d bytes", PII_MAX_NAME);
        goto err;
    }
    for (int k = 0; k < PII_BUILTIN_KINDS; k++)
        if (strcmp(pat->name, pii_kind_name((pii_kind)k)) == 0) {
            configread_fail(r, p, "is a built-in kind");
            goto err;
        }
    for (size_t k = 0; k < i; k++)
        if (strcmp(pat->name, c->patterns[k].name) == 0) {
            configread_fail(r, p, "duplicate name");
            goto err;
        }
    if (configread_string(r, obj, path, "regex", NULL, &regex) < 0) goto err;
    configread_path(p, sizeof p, path, "regex");
    const char *refused = piiregex_refuse(regex);
    if (refused) {
        free(regex);
        configread_fail(r, p, "%s", refused);
        goto err;
    }
    int rc = regcomp(&pat->re, regex, REG_EXTENDED);
    free(regex);
    if (rc != 0) {
        char msg[128];
        regerror(rc, &pat->re, msg, sizeof msg);
        configread_fail(r, p, "not a POSIX extended regular expression: %s", msg);
        goto err;
    }
    c->npatterns = i + 1;
    return 0;
err:
    free(pat->name);
    pat->name = NULL;
    return -1;
}

int privacy_parse_config(configread *r, const cJSON *root, config *c) {
    static const char *const keys[] = {"mode", "detectors", "patterns", NULL};
    static const cJSON empty = {.type = cJSON_Object};
    const cJSON *pv = cJSON_GetObjectItemCaseSensitive(root, "privacy");
    if (!pv) pv = &empty;
    if (configread_keys(r, pv, "privacy", keys) < 0) return -1;
    c->privacy = PRIVACY_REDACT;
    const cJSON *mode = cJSON_GetObjectItemCaseSensitive(pv, "mode");
    if (mode) {
        size_t m = 0;
        while (m < 3 && !(cJSON_IsString(mode) && strcmp(mode->valuestring, privacy_mode_name((privacy_mode)m)) == 0)) m++;
        if (m == 3) return configread_fail(r, "privacy.mode", "must be \"off\", \"local\" or \"redact\"");
        c->privacy = (privacy_mode)m;
    }
    if (read_detectors(r, pv, &c->pii_kinds) < 0) return -1;
    const cJSON *ps = cJSON_GetObjectItemCaseSensitive(pv, "patterns");
    if (!ps) return 0;
    if (!cJSON_IsArray(ps) || cJSON_GetArraySize(ps) > PII_MAX_PATTERNS)
        return configread_fail(r, "privacy.patterns", "must be an array of at most %d patterns", PII_MAX_PATTERNS);
    size_t n = (size_t)cJSON_GetArraySize(ps);
    if (n == 0) return 0;
    c->patterns = calloc(n, sizeof *c->patterns);
    if (!c->patterns) return configread_fail(r, "privacy.patterns", "out of memory");
    for (size_t i = 0; i < n; i++)
        if (parse_pattern(r, cJSON_GetArrayItem(ps, (int)i), i, c) < 0) return -1;
    return 0;
}

typedef void (*visit_fn)(privacy_call *p, cJSON *text);

static cJSON *get(const cJSON *o, const char *key) { return cJSON_GetObjectItemCaseSensitive(o, key); }

/* Calls fn on each text of one message (or a response's message). */
static void each_text_of(cJSON *m, privacy_call *p, visit_fn fn) {
    cJSON *c = get(m, "content"), *x;
    if (cJSON_IsString(c)) fn(p, c);
    else if (cJSON_IsArray(c))
        cJSON_ArrayForEach(x, c) {
            cJSON *t = get(x, "text");
            if (cJSON_IsString(t)) fn(p, t);
        }
    cJSON *calls = get(m, "tool_calls");
    if (cJSON_IsArray(calls))
        cJSON_ArrayForEach(x, calls) {
            cJSON *a = get(get(x, "function"), "arguments");
            if (cJSON_IsString(a)) fn(p, a);
        }
    cJSON *legacy = get(get(m, "function_call"), "arguments");
    if (cJSON_IsString(legacy)) fn(p, legacy);
}

static void each_text(cJSON *messages, privacy_call *p, visit_fn fn) {
    cJSON *m;
    if (!cJSON_IsArray(messages)) return;
    cJSON_ArrayForEach(m, messages) each_text_of(m, p, fn);
}

static void scan_one(privacy_call *p, cJSON *text) {
    const config *cfg = p->cfg;
    if (pii_scan(text->valuestring, strlen(text->valuestring), cfg->pii_kinds, cfg->patterns, cfg->npatterns, &p->spans) < 0) {
        p->oom = true;
        return;
    }
    for (size_t i = 0; i < p->spans.n; i++) {
        const pii_span *s = &p->spans.v[i];
        p->found |= (privacy_kinds)1 << (s->kind == PII_CUSTOM ? PII_BUILTIN_KINDS + s->pattern : (int)s->kind);
    }
}

static void redact_one(privacy_call *p, cJSON *text) {
    scan_one(p, text);
    if (p->oom || p->spans.n == 0) return;
    char *t = redact_text(p->r, text->valuestring, strlen(text->valuestring), &p->spans, p->cfg->patterns);
    if (!t || !cJSON_SetValuestring(text, t)) p->oom = true;
    free(t);
}

/* s[0, n) with every span of sp replaced by one space; a new string (its
 * length in *out_len), or NULL when out of memory. */
static char *blank_spans(const char *s, size_t n, const pii_spans *sp, size_t *out_len) {
    char *out = malloc(n + 1);
    size_t at = 0, pos = 0;
    if (!out) return NULL;
    for (size_t i = 0; i < sp->n; i++) {
        const pii_span *x = &sp->v[i];
        assert(x->off >= pos && x->off + x->len <= n);
        memcpy(out + at, s + pos, x->off - pos);
        at += x->off - pos;
        out[at++] = ' ';
        pos = x->off + x->len;
    }
    memcpy(out + at, s + pos, n - pos);
    *out_len = at + n - pos;
    out[*out_len] = '\0';
    return out;
}

/* The messages as the classifier reads them, each value replaced by a
 * space.  A phone number or a name says nothing about complexity, and
 * /v1/route names the n-grams that moved the score, which must never be a
 * value.  Not the redactor's placeholder: the model was trained on text
 * without placeholders, and "⟨NAME_1⟩" reads as a snake_case code mark and
 * an unseen word, which pushed requests naming a person toward the cloud. */
static void mask_for_scoring(privacy_call *p, const chatreq *req) {
    p->masked = calloc(req->nmessages ? req->nmessages : 1, sizeof *p->masked);
    p->masked_texts = calloc(req->nmessages ? req->nmessages : 1, sizeof *p->masked_texts);
    p->nmasked = req->nmessages;
    if (!p->masked || !p->masked_texts) goto err;
    for (size_t i = 0; i < req->nmessages; i++) {
        const feature_message *m = &req->msgs[i];
        p->masked[i] = *m;
        if (pii_scan(m->text, m->len, p->cfg->pii_kinds, p->cfg->patterns, p->cfg->npatterns, &p->spans) < 0) goto err;
        if (p->spans.n == 0) continue;
        if (!(p->masked_texts[i] = blank_spans(m->text, m->len, &p->spans, &p->masked[i].len))) goto err;
        p->masked[i].text = p->masked_texts[i];
    }
    return;
err:
    p->oom = true;
}

const feature_message *privacy_scoring_msgs(const privacy_call *p, const chatreq *req) {
    return p->masked ? p->masked : req->msgs;
}

privacy_call *privacy_call_new(const config *cfg, chatreq *req) {
    privacy_call *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->cfg = cfg;
    if (cfg->privacy == PRIVACY_OFF) return p;
    each_text(get(req->root, "messages"), p, scan_one);
    if (!p->oom && p->found) mask_for_scoring(p, req);
    if (!p->oom && p->found && cfg->privacy == PRIVACY_REDACT) {
        p->r = redactor_new();
        p->redacted = cJSON_Duplicate(req->root, 1);
        if (!p->r || !p->redacted) p->oom = true;
        else each_text(get(p->redacted, "messages"), p, redact_one);
    }
    if (p->oom) goto err;
    pii_spans_free(&p->spans);
    req->redacted = p->redacted;
    return p;
err:
    privacy_call_free(p);
    return NULL;
}

void privacy_call_free(privacy_call *p) {
    if (!p) return;
    for (size_t i = 0; p->masked_texts && i < p->nmasked; i++) free(p->masked_texts[i]);
    free(p->masked_texts);
    free(p->masked);
    redactor_free(p->r);
    cJSON_Delete(p->redacted);
    pii_spans_free(&p->spans);
    free(p);
}

privacy_kinds privacy_found(const privacy_call *p) { return p->found; }

int privacy_scan_all(const config *cfg, const cJSON *root) {
    config all = *cfg;
    all.pii_kinds = PII_ALL_KINDS;
    privacy_call p = {.cfg = &all};
    each_text(get(root, "messages"), &p, scan_one);
    pii_spans_free(&p.spans);
    return p.oom ? -1 : p.found != 0;
}

bool privacy_device_only(const privacy_call *p) { return p->cfg->privacy == PRIVACY_LOCAL && p->found; }

static const char *kind_name(const config *cfg, int bit) {
    return bit < PII_BUILTIN_KINDS ? pii_kind_name((pii_kind)bit) : cfg->patterns[bit - PII_BUILTIN_KINDS].name;
}

void privacy_kinds_str(const config *cfg, privacy_kinds k, char *buf, size_t n) {
    size_t used = 0;
    assert(n > 0);
    buf[0] = '\0';
    for (int bit = 0; bit < PII_BUILTIN_KINDS + PII_MAX_PATTERNS && used < n; bit++) {
        if (!(k >> bit & 1)) continue;
        int w = snprintf(buf + used, n - used, "%s%s", used ? "," : "", kind_name(cfg, bit));
        used += w > 0 ? (size_t)w : 0;
    }
}

cJSON *privacy_kinds_json(const config *cfg, privacy_kinds k) {
    cJSON *a = cJSON_CreateArray();
    for (int bit = 0; a && bit < PII_BUILTIN_KINDS + PII_MAX_PATTERNS; bit++)
        if (k >> bit & 1) cJSON_AddItemToArray(a, cJSON_CreateString(kind_name(cfg, bit)));
    return a;
}

/* ---- the answer path ---- */

/* A failed restore (out of memory) leaves the placeholder: the client then
 * sees the mask, never another request's value. */
static void restore_one(privacy_call *p, cJSON *text) {
    char *t = restore_text(p->r, text->valuestring, strlen(text->valuestring));
    if (t) cJSON_SetValuestring(text, t);
    free(t);
}

void privacy_restore_response(privacy_call *p, const config_backend *b, cJSON *body) {
    cJSON *c;
    if (!p->r || b->tier == TIER_DEVICE) return;
    cJSON_ArrayForEach(c, get(body, "choices")) each_text_of(get(c, "message"), p, restore_one);
}

static void set_content(cJSON *delta, const char *text) {
    cJSON *v = cJSON_CreateString(text);
    if (!v) return;
    if (get(delta, "content")) cJSON_ReplaceItemInObjectCaseSensitive(delta, "content", v);
    else cJSON_AddItemToObject(delta, "content", v);
}

void privacy_restore_chunk(privacy_call *p, const config_backend *b, cJSON *chunk) {
    cJSON *c, *x;
    if (!p->r || b->tier == TIER_DEVICE) return;
    cJSON_ArrayForEach(c, get(chunk, "choices")) {
        cJSON *delta = get(c, "delta"), *content = get(delta, "content"), *idx = get(c, "index");
        int i = cJSON_IsNumber(idx) ? idx->valueint : 0;
        bool final = cJSON_IsString(get(c, "finish_reason"));
        if (i < 0 || i >= PRIVACY_MAX_CHOICES) {
            if (cJSON_IsString(content)) restore_one(p, content);
        } else if (cJSON_IsObject(delta) && (cJSON_IsString(content) || (final && p->streams[i].nheld))) {
            const char *s = cJSON_IsString(content) ? content->valuestring : "";
            char *t = restore_stream_feed(p->r, &p->streams[i], s, strlen(s), final);
            if (t) set_content(delta, t);
            free(t);
        }
        cJSON *calls = get(delta, "tool_calls");
        if (cJSON_IsArray(calls))
            cJSON_ArrayForEach(x, calls) {
                cJSON *a = get(get(x, "function"), "arguments");
                if (cJSON_IsString(a)) restore_one(p, a);
            }
    }
}

cJSON *privacy_flush_chunk(privacy_call *p) {
    cJSON *chunk = NULL, *choices = NULL;
    for (int i = 0; p->r && i < PRIVACY_MAX_CHOICES; i++) {
        restore_stream *st = &p->streams[i];
        if (!st->nheld) continue;
        if (!chunk) {
            chunk = cJSON_CreateObject();
            choices = cJSON_AddArrayToObject(chunk, "choices");
            if (!choices) break;
        }
        char text[sizeof st->held + 1];
        memcpy(text, st->held, st->nheld);
        text[st->nheld] = '\0';
        st->nheld = 0;
        cJSON *c = cJSON_CreateObject();
        cJSON_AddItemToArray(choices, c);
        cJSON_AddNumberToObject(c, "index", i);
        cJSON_AddStringToObject(cJSON_AddObjectToObject(c, "delta"), "content", text);
        cJSON_AddNullToObject(c, "finish_reason");
    }
    return chunk;
}

/* Every value the request's text held is masked by the same placeholder
 * the request used, whether or not the scanner would find it again in the
 * answer's context (redact_known); values the scanner finds that the
 * request did not hold get new placeholders, which the restore knows. */
int privacy_continuation_text(privacy_call *p, const config_backend *b, const char *text, size_t n, char **out,
                              size_t *outlen) {
    for (int i = 0; i < PRIVACY_MAX_CHOICES; i++) p->streams[i].nheld = 0;
    char *t;
    if (!p->r || b->tier == TIER_DEVICE) {
        t = malloc(n + 1);
        if (t) {
            memcpy(t, text, n);
            t[n] = '\0';
        }
    } else {
        if (redact_cut_in_value(p->r, text, n)) return 1;
        char *known = redact_known(p->r, text, n);
        t = NULL;
        if (known && pii_scan(known, strlen(known), p->cfg->pii_kinds, p->cfg->patterns, p->cfg->npatterns,
                              &p->spans) == 0)
            t = redact_text(p->r, known, strlen(known), &p->spans, p->cfg->patterns);
        free(known);
    }
    if (!t) return -1;
    *out = t;
    *outlen = strlen(t);
    return 0;
}
