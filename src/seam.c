/* seam: see seam.h.
 *
 * The probe compares bytes, not tokens: a restarted answer repeats the
 * prefix exactly (the same model, the same conversation), while a real
 * continuation that happens to begin with the prefix's first SEAM_PROBE
 * bytes would be a model repeating itself, which is no better to relay.  A
 * prefix shorter than the probe is compared whole, and a continuation that
 * ends before reaching the probe's length cannot be a restart: a restart
 * repeats at least the whole prefix.  Holding chunks costs the client at
 * most SEAM_PROBE bytes of delay at the join. */
#include "seam.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

struct seam {
    char *sent, *have;
    size_t nsent, nhave;
    cJSON *held;             /* chunks waiting for the verdict, in order */
    buf text;                /* their choice-0 content */
    seam_verdict verdict;
    size_t drop;             /* bytes of the content still to drop (the client has them) */
};

static char *dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d) return NULL;
    if (n) memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

seam *seam_new(const char *sent, size_t nsent, const char *have, size_t nhave) {
    seam *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->sent = dup_n(sent, nsent);
    s->have = dup_n(have, nhave);
    s->held = cJSON_CreateArray();
    s->nsent = nsent;
    s->nhave = nhave;
    if (s->sent && s->have && s->held) return s;
    seam_free(s);
    return NULL;
}

void seam_free(seam *s) {
    if (!s) return;
    free(s->sent);
    free(s->have);
    cJSON_Delete(s->held);
    buf_free(&s->text);
    free(s);
}

static bool space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

size_t seam_send_len(const char *text, size_t len) {
    size_t n = len;
    while (n && space(text[n - 1])) n--;
    return n ? n : len;
}

static cJSON *delta_of(const cJSON *chunk) {
    const cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(chunk, "choices"), 0);
    return cJSON_GetObjectItemCaseSensitive(c, "delta");
}

static bool finished(const cJSON *chunk) {
    const cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(chunk, "choices"), 0);
    return cJSON_IsString(cJSON_GetObjectItemCaseSensitive(c, "finish_reason"));
}

static seam_verdict judge(seam *s, bool final) {
    size_t n, probe = s->nsent < SEAM_PROBE ? s->nsent : SEAM_PROBE;
    const char *t = buf_data(&s->text, &n);
    if (n < probe && !final) return SEAM_WAIT;
    if (probe && n >= probe && memcmp(t, s->sent, probe) == 0) return s->verdict = SEAM_RESTARTED;
    while (s->drop < s->nhave && s->drop < n && t[s->drop] == s->have[s->drop]) s->drop++;
    return s->verdict = SEAM_JOINED;
}

int seam_add(seam *s, cJSON *chunk) {
    cJSON *delta = delta_of(chunk);
    cJSON_DeleteItemFromObjectCaseSensitive(delta, "role");
    const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(delta, "content"));
    bool fin = finished(chunk);
    if (!cJSON_AddItemToArray(s->held, chunk) || (t && !buf_append(&s->text, t, strlen(t), 0))) return -1;
    return (int)judge(s, fin);
}

seam_verdict seam_settle(seam *s) { return s->verdict != SEAM_WAIT ? s->verdict : judge(s, true); }

/* A chunk with nothing left for the client: no text, no tool call, no
 * finish, no usage. */
static bool empty(const cJSON *chunk) {
    const cJSON *delta = delta_of(chunk);
    const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(delta, "content"));
    return (!t || !*t) && !cJSON_HasObjectItem(delta, "tool_calls") && !cJSON_HasObjectItem(delta, "reasoning_content") &&
           !finished(chunk) && cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(chunk, "choices")) > 0;
}

cJSON *seam_next(seam *s) {
    while (cJSON_GetArraySize(s->held) > 0) {
        cJSON *chunk = cJSON_DetachItemFromArray(s->held, 0);
        cJSON *content = cJSON_GetObjectItemCaseSensitive(delta_of(chunk), "content");
        if (s->drop && cJSON_IsString(content)) {
            size_t n = strlen(content->valuestring), k = n < s->drop ? n : s->drop;
            /* The dropped bytes are ASCII whitespace, so the rest is still UTF-8. */
            memmove(content->valuestring, content->valuestring + k, n - k + 1);
            s->drop -= k;
        }
        if (!empty(chunk)) return chunk;
        cJSON_Delete(chunk);
    }
    return NULL;
}
