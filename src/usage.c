/* usage: token counts from the backend, or estimated; and their cost.
 *
 * The estimate reads bytes, not code points: a UTF-8 lead byte of 0xE0 or
 * more starts a character of three or four bytes, and continuation bytes
 * start none.  So counting is one pass without decoding, and a stream's
 * pieces can be counted one by one (a character split between two chunks
 * would still be counted once: its continuation bytes count for nothing). */
#include "usage.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <string.h>

#define USAGE_PER_MESSAGE 4
#define USAGE_MAX_TOKENS 1e15     /* larger "counts" are nonsense, not counts */

void usage_meter_init(usage_meter *m) {
    *m = (usage_meter){.reported_input = -1, .reported_output = -1};
}

static void count_chars(const char *text, size_t len, size_t *wide, size_t *narrow) {
    const unsigned char *p = (const unsigned char *)text;
    for (size_t i = 0; i < len; i++) {
        if ((p[i] & 0xC0) == 0x80) continue;
        if (p[i] >= 0xE0) (*wide)++;
        else (*narrow)++;
    }
}

static long long tokens_of(size_t wide, size_t narrow) {
    return (long long)wide + (long long)((narrow + 3) / 4);
}

long long usage_estimate_text(const char *text, size_t len) {
    size_t wide = 0, narrow = 0;
    count_chars(text, len, &wide, &narrow);
    return tokens_of(wide, narrow);
}

long long usage_estimate_input(const feature_message *msgs, size_t nmsgs) {
    size_t wide = 0, narrow = 0;
    for (size_t i = 0; i < nmsgs; i++) count_chars(msgs[i].text, msgs[i].len, &wide, &narrow);
    return tokens_of(wide, narrow) + (long long)(USAGE_PER_MESSAGE * nmsgs);
}

static void count_string(usage_meter *m, const cJSON *s) {
    if (cJSON_IsString(s)) count_chars(s->valuestring, strlen(s->valuestring), &m->wide, &m->narrow);
}

/* A message (plain answer) or a delta (chunk): all the text it carries. */
static void count_message(usage_meter *m, const cJSON *msg) {
    count_string(m, cJSON_GetObjectItemCaseSensitive(msg, "content"));
    count_string(m, cJSON_GetObjectItemCaseSensitive(msg, "reasoning_content"));
    const cJSON *call;
    cJSON_ArrayForEach(call, cJSON_GetObjectItemCaseSensitive(msg, "tool_calls")) {
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(call, "function");
        count_string(m, cJSON_GetObjectItemCaseSensitive(fn, "name"));
        count_string(m, cJSON_GetObjectItemCaseSensitive(fn, "arguments"));
    }
}

/* A count as the backend wrote it, or -1 when it is absent or not a count. */
static long long read_count(const cJSON *u, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(u, key);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= USAGE_MAX_TOKENS)) return -1;
    return (long long)v->valuedouble;
}

void usage_meter_add(usage_meter *m, const cJSON *answer) {
    const cJSON *choice;
    cJSON_ArrayForEach(choice, cJSON_GetObjectItemCaseSensitive(answer, "choices")) {
        count_message(m, cJSON_GetObjectItemCaseSensitive(choice, "message"));
        count_message(m, cJSON_GetObjectItemCaseSensitive(choice, "delta"));
    }
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(answer, "usage");
    if (!cJSON_IsObject(u)) return;
    long long in = read_count(u, "prompt_tokens"), out = read_count(u, "completion_tokens");
    if (in >= 0) m->reported_input = in;
    if (out >= 0) m->reported_output = out;
}

usage usage_meter_result(const usage_meter *m, const feature_message *msgs, size_t nmsgs) {
    usage u = {
        .input_tokens = m->reported_input,
        .output_tokens = m->reported_output,
        .input_estimated = m->reported_input < 0,
        .output_estimated = m->reported_output < 0,
    };
    if (u.input_estimated) u.input_tokens = usage_estimate_input(msgs, nmsgs);
    if (u.output_estimated) u.output_tokens = tokens_of(m->wide, m->narrow);
    return u;
}

double usage_cost(const config_price *price, const usage *u) {
    assert(u->input_tokens >= 0 && u->output_tokens >= 0);
    return ((double)u->input_tokens * price->input_per_mtok + (double)u->output_tokens * price->output_per_mtok) / 1e6;
}
