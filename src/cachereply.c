/* cachereply: see cachereply.h.
 *
 * Chunks are printed with cJSON and jsonout, as chat prints a backend's, so
 * a replayed stream is byte for byte the shape of a live one; each content
 * chunk carries "usage": null when the client asked for usage, as OpenAI's
 * do.  The created time is the replay's, not the original's: the client
 * asked now, and X-Tiergate-Cache says the answer is older. */
#include "cachereply.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "jsonout.h"
#include "utf8.h"


static cJSON *object(const cache_answer *a, const char *id, double created, const char *type) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "object", type);
    cJSON_AddNumberToObject(o, "created", created);
    cJSON_AddStringToObject(o, "model", a->model);
    return o;
}

static void add_usage(cJSON *o, const cache_answer *a) {
    cJSON *u = cJSON_AddObjectToObject(o, "usage");
    cJSON_AddNumberToObject(u, "prompt_tokens", a->prompt_tokens);
    cJSON_AddNumberToObject(u, "completion_tokens", a->completion_tokens);
    cJSON_AddNumberToObject(u, "total_tokens", (double)a->prompt_tokens + a->completion_tokens);
}

char *cachereply_json(const cache_answer *a, const char *id, double created, size_t *len) {
    cJSON *o = object(a, id, created, "chat.completion");
    cJSON *ch = cJSON_CreateObject(), *m = cJSON_CreateObject();
    cJSON_AddNumberToObject(ch, "index", 0);
    cJSON_AddStringToObject(m, "role", "assistant");
    cJSON_AddStringToObject(m, "content", a->content);
    cJSON_AddItemToObject(ch, "message", m);
    cJSON_AddStringToObject(ch, "finish_reason", a->finish_reason);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(o, "choices"), ch);
    add_usage(o, a);
    char *s = jsonout_print(o, NULL, NULL, len);
    cJSON_Delete(o);
    return s;
}

/* One event: a chunk with delta {role?, content?} and finish_reason. */
static bool put_chunk(buf *out, const cache_answer *a, const char *id, double created, bool usage_null,
                      const char *role, const char *text, size_t n, const char *finish) {
    cJSON *o = object(a, id, created, "chat.completion.chunk");
    cJSON *ch = cJSON_CreateObject(), *d = cJSON_CreateObject();
    cJSON_AddNumberToObject(ch, "index", 0);
    if (role) cJSON_AddStringToObject(d, "role", role);
    if (text) {
        char *piece = strndup(text, n);
        cJSON_AddItemToObject(d, "content", piece ? cJSON_CreateString(piece) : NULL);
        free(piece);
    }
    cJSON_AddItemToObject(ch, "delta", d);
    if (finish) cJSON_AddStringToObject(ch, "finish_reason", finish);
    else cJSON_AddNullToObject(ch, "finish_reason");
    cJSON_AddItemToArray(cJSON_AddArrayToObject(o, "choices"), ch);
    if (usage_null) cJSON_AddNullToObject(o, "usage");
    size_t len;
    char *s = jsonout_print(o, "data: ", "\n\n", &len);
    cJSON_Delete(o);
    bool ok = s && buf_append(out, s, len, 0);
    free(s);
    return ok;
}

int cachereply_sse(buf *out, const cache_answer *a, const char *id, double created, bool include_usage) {
    bool ok = put_chunk(out, a, id, created, include_usage, "assistant", "", 0, NULL);
    size_t piece = a->content_len / CACHEREPLY_PIECES + 1;
    if (piece < CACHEREPLY_PIECE_MIN) piece = CACHEREPLY_PIECE_MIN;
    for (size_t at = 0; ok && at < a->content_len;) {
        size_t n = a->content_len - at < piece ? a->content_len - at : piece;
        while (at + n < a->content_len && ((unsigned char)a->content[at + n] & 0xC0) == 0x80) n++;
        ok = put_chunk(out, a, id, created, include_usage, NULL, a->content + at, n, NULL);
        at += n;
    }
    ok = ok && put_chunk(out, a, id, created, include_usage, NULL, NULL, 0, a->finish_reason);
    if (ok && include_usage) {
        cJSON *o = object(a, id, created, "chat.completion.chunk");
        cJSON_AddArrayToObject(o, "choices");
        add_usage(o, a);
        size_t n;
        char *s = jsonout_print(o, "data: ", "\n\n", &n);
        cJSON_Delete(o);
        ok = s && buf_append(out, s, n, 0);
        free(s);
    }
    static const char done[] = "data: [DONE]\n\n";
    return ok && buf_append(out, done, sizeof done - 1, 0) ? 0 : -1;
}

/* True when text holds a CJK ideograph. */
static bool has_han(const char *text, size_t n) {
    for (size_t at = 0; at < n;) {
        size_t l;
        uint32_t cp = utf8_decode((const unsigned char *)text + at, n - at, &l);
        if ((cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0xF900 && cp <= 0xFAFF))
            return true;
        at += l ? l : 1;
    }
    return false;
}

const char *cachereply_degraded_text(const config_degraded *d, const chatreq *req) {
    bool zh = false;
    for (size_t i = req->nmessages; i-- > 0;)
        if (req->msgs[i].user) {
            zh = has_han(req->msgs[i].text, req->msgs[i].len);
            break;
        }
    if (zh && d->zh) return d->zh;
    return d->en ? d->en : d->zh;
}

/* ---- collection ---- */

static const cJSON *get(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }

/* Takes one choice's message or delta, and its finish_reason. */
static void collect_choice(cache_collect *k, const cJSON *choices, const char *part) {
    if (cJSON_GetArraySize(choices) == 0) return;   /* the usage chunk */
    const cJSON *c = cJSON_GetArrayItem(choices, 0);
    const cJSON *idx = get(c, "index");
    if (cJSON_GetArraySize(choices) != 1 || (idx && (!cJSON_IsNumber(idx) || idx->valuedouble != 0))) {
        k->unfit = true;
        return;
    }
    const cJSON *m = get(c, part), *f;
    /* A backend's JSON is checked only for "choices" being an array: a
     * message or delta of another shape is not an answer to keep. */
    if (!cJSON_IsObject(c) || (m && !cJSON_IsObject(m))) {
        k->unfit = true;
        return;
    }
    cJSON_ArrayForEach(f, m) {
        if (!f->string) {
            k->unfit = true;
            continue;
        }
        if (strcmp(f->string, "role") == 0 || cJSON_IsNull(f) ||
            (strcmp(f->string, "refusal") == 0 && cJSON_IsNull(f)) ||
            (strcmp(f->string, "tool_calls") == 0 && cJSON_GetArraySize(f) == 0))
            continue;
        if (strcmp(f->string, "content") != 0 || !cJSON_IsString(f) ||
            !buf_append(&k->content, f->valuestring, strlen(f->valuestring), CACHEREPLY_MAX_STORED))
            k->unfit = true;
    }
    const char *fr = cJSON_GetStringValue(get(c, "finish_reason"));
    if (fr) snprintf(k->finish, sizeof k->finish, "%s", fr);
}

void cachecollect_chunk(cache_collect *k, const cJSON *chunk) { collect_choice(k, get(chunk, "choices"), "delta"); }

void cachecollect_response(cache_collect *k, const cJSON *body) {
    collect_choice(k, get(body, "choices"), "message");
}

const char *cachecollect_result(cache_collect *k, size_t *len) {
    if (k->unfit || strcmp(k->finish, "stop") != 0) return NULL;
    const char *s = buf_data(&k->content, len);
    return *len && !memchr(s, 0, *len) ? s : NULL;
}

void cachecollect_free(cache_collect *k) { buf_free(&k->content); }
