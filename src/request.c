/* request: parsing and validating the client's chat completion request.
 *
 * Validation runs in passes, cheapest and most fundamental first, and stops
 * at the first problem:
 *
 *   1. bytes: strict UTF-8 (no overlongs, surrogates or code points above
 *      U+10FFFF) and no NUL byte;
 *   2. syntax: a strict scan of the strings, then cJSON.  cJSON is lenient
 *      where it matters to us: it takes raw control characters inside
 *      strings and between tokens, reads a malformed \u escape as U+0000,
 *      and cuts a string at an escaped U+0000 without a word.  A cut string
 *      would let the gateway route and scan for private data one text while
 *      the backend reads another, so the scan rejects all of these, and
 *      unpaired surrogate escapes as invalid_utf8.  It only tracks string
 *      boundaries, which is exact on valid JSON; on a broken document it may
 *      name a different problem than cJSON would, but never accepts one.
 *      After it, every decoded string is valid UTF-8 without NUL;
 *   3. structure: one table of known top-level fields with a type and a
 *      range each, walked in document order, so the first unknown,
 *      duplicate or wrong field is the one reported; the messages are
 *      checked where they appear, and the required fields at the end.
 *
 * Duplicate keys matter for the same reason as cut strings: cJSON keeps
 * every member and its lookups return the first, while llama.cpp, Ollama and
 * most other parsers keep the last.  So duplicates are refused at the top
 * level, in messages and in content parts: the objects whose members the
 * gateway reads.  Deeper objects (tool schemas, metadata) pass through as
 * they are.  Numbers too large for a double (1e999) parse as infinity and
 * would be printed upstream as null, so they are refused anywhere.
 *
 * Error codes are a small fixed set: invalid_utf8, invalid_json,
 * unknown_parameter (OpenAI's wording), invalid_request (a missing field, a
 * wrong type, an empty array, a duplicate key, a bad combination) and
 * invalid_value (right type, value out of range or not supported).  JSON
 * null counts as absent for every optional field, as in OpenAI's schema.
 *
 * All texts of chatreq point into the parsed tree except joined content
 * parts, which get one owned buffer per message; chatreq_free() releases
 * everything, and every failure after the first allocation goes through it.
 * Running out of memory is a 500 server_error. */
#include "request.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "utf8.h"

/* ---- bytes ------------------------------------------------------------ */


/* ---- errors ----------------------------------------------------------- */

__attribute__((format(printf, 4, 5)))
static int reject(api_error *err, const char *code, const char *param, const char *fmt, ...) {
    char message[sizeof err->message];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    api_error_set(err, 400, "invalid_request_error", code, param, "%s", message);
    return -1;
}

static int out_of_memory(api_error *err) {
    api_error_set(err, 500, "server_error", NULL, NULL, "Out of memory while reading the request.");
    return -1;
}

static const char *json_type_name(const cJSON *item) {
    if (cJSON_IsString(item)) return "a string";
    if (cJSON_IsNumber(item)) return item->valuedouble == floor(item->valuedouble) ? "an integer" : "a decimal";
    if (cJSON_IsBool(item)) return "a boolean";
    if (cJSON_IsArray(item)) return "an array";
    if (cJSON_IsObject(item)) return "an object";
    return "null";
}

static int wrong_type(api_error *err, const char *param, const char *expected, const cJSON *item) {
    return reject(err, "invalid_request", param, "Invalid type for '%s': expected %s, but got %s instead.",
                  param, expected, json_type_name(item));
}

static int missing(api_error *err, const char *param) {
    return reject(err, "invalid_request", param, "Missing required parameter: '%s'.", param);
}

/* An error's param is the JSON path of the field, e.g. messages[2].content.
 * A path cut at the end of the buffer still names the field well enough. */
typedef char param_path[sizeof ((api_error *)0)->param];

__attribute__((format(printf, 2, 3)))
static const char *path(param_path buf, const char *fmt, ...) {
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(param_path), fmt, ap);
    va_end(ap);
    return buf;
}

/* obj[key] when it is there with the cJSON type wanted (cJSON_String or
 * cJSON_Object); otherwise NULL, with err naming where.key. */
static const cJSON *member(const cJSON *obj, const char *where, const char *key, int type, api_error *err) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    param_path param;

    if (item && (item->type & 0xFF) == type) return item;
    path(param, "%s.%s", where, key);
    if (!item) missing(err, param);
    else wrong_type(err, param, type == cJSON_String ? "a string" : "an object", item);
    return NULL;
}

/* ---- syntax ----------------------------------------------------------- */

static long hex4(const unsigned char *s) {
    long v = 0;

    for (int i = 0; i < 4; i++) {
        int c = s[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Checks the \u escape at s[*i] (s[*i + 1] == 'u') and moves *i to its last
 * byte; a surrogate must come as a high-low pair of escapes. */
static int check_unicode_escape(const unsigned char *s, size_t len, size_t *i, api_error *err) {
    size_t at = *i;
    long hi = len - at >= 6 ? hex4(s + at + 2) : -1, lo;

    if (hi < 0) return reject(err, "invalid_json", NULL, "Malformed \\u escape at byte %zu.", at);
    if (hi == 0) return reject(err, "invalid_value", NULL, "Strings may not contain U+0000 (byte %zu).", at);
    if (hi < 0xD800 || hi > 0xDFFF) {
        *i = at + 5;
        return 0;
    }
    lo = hi <= 0xDBFF && len - at >= 12 && s[at + 6] == '\\' && s[at + 7] == 'u' ? hex4(s + at + 8) : -1;
    if (lo < 0xDC00 || lo > 0xDFFF)
        return reject(err, "invalid_utf8", NULL, "Unpaired UTF-16 surrogate escape at byte %zu.", at);
    *i = at + 11;
    return 0;
}

/* The strict scan of pass 2 (see the top of the file). */
static int check_json_text(const char *text, size_t len, api_error *err) {
    const unsigned char *s = (const unsigned char *)text;
    int in_string = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = s[i];
        if (!in_string) {
            if (c == '"') in_string = 1;
            else if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
                return reject(err, "invalid_json", NULL, "Control character outside a string at byte %zu.", i);
        } else if (c == '"') {
            in_string = 0;
        } else if (c < 0x20) {
            return reject(err, "invalid_json", NULL, "Unescaped control character in a string at byte %zu.", i);
        } else if (c == '\\') {
            c = i + 1 < len ? s[i + 1] : 0;
            if (c == 'u') {
                if (check_unicode_escape(s, len, &i, err)) return -1;
            } else if (c && strchr("\"\\/bfnrt", c)) {
                i++;
            } else {
                return reject(err, "invalid_json", NULL, "Invalid escape in a string at byte %zu.", i);
            }
        }
    }
    return 0;
}

/* ---- structure -------------------------------------------------------- */

typedef enum {
    FIELD_MODEL, FIELD_MESSAGES, FIELD_STREAM_OPTIONS, FIELD_STOP,
    FIELD_NUMBER, FIELD_INTEGER,    /* finite (and integral), in [min, max] */
    FIELD_BOOL, FIELD_STRING, FIELD_OBJECT, FIELD_ARRAY, FIELD_OBJECT_ARRAY, FIELD_STRING_OR_OBJECT,
} field_kind;

typedef struct field {
    const char *name;
    field_kind kind;
    double min, max;
} field;

#define INT32_LIMIT 2147483647.0
#define INT64_LIMIT 0x1.fffffffffffffp62    /* the largest double below 2^63 */

static const field known_fields[] = {
    /* OpenAI's CreateChatCompletionRequest */
    {"model", FIELD_MODEL, 0, 0},                    {"messages", FIELD_MESSAGES, 0, 0},
    {"stream", FIELD_BOOL, 0, 0},                    {"stream_options", FIELD_STREAM_OPTIONS, 0, 0},
    {"max_tokens", FIELD_INTEGER, 1, INT32_LIMIT},   {"max_completion_tokens", FIELD_INTEGER, 1, INT32_LIMIT},
    {"temperature", FIELD_NUMBER, 0, 2},             {"top_p", FIELD_NUMBER, 0, 1},
    {"n", FIELD_INTEGER, 1, 128},                    {"stop", FIELD_STOP, 0, 0},
    {"tools", FIELD_OBJECT_ARRAY, 0, 0},             {"tool_choice", FIELD_STRING_OR_OBJECT, 0, 0},
    {"parallel_tool_calls", FIELD_BOOL, 0, 0},       {"response_format", FIELD_OBJECT, 0, 0},
    {"user", FIELD_STRING, 0, 0},                    {"seed", FIELD_INTEGER, -0x1p63, INT64_LIMIT},
    {"logprobs", FIELD_BOOL, 0, 0},                  {"top_logprobs", FIELD_INTEGER, 0, 20},
    {"frequency_penalty", FIELD_NUMBER, -2, 2},      {"presence_penalty", FIELD_NUMBER, -2, 2},
    {"logit_bias", FIELD_OBJECT, 0, 0},              {"metadata", FIELD_OBJECT, 0, 0},
    {"store", FIELD_BOOL, 0, 0},                     {"service_tier", FIELD_STRING, 0, 0},
    {"reasoning_effort", FIELD_STRING, 0, 0},        {"modalities", FIELD_ARRAY, 0, 0},
    {"audio", FIELD_OBJECT, 0, 0},                   {"prediction", FIELD_OBJECT, 0, 0},
    {"web_search_options", FIELD_OBJECT, 0, 0},      {"safety_identifier", FIELD_STRING, 0, 0},
    {"prompt_cache_key", FIELD_STRING, 0, 0},        {"verbosity", FIELD_STRING, 0, 0},
    {"functions", FIELD_OBJECT_ARRAY, 0, 0},         {"function_call", FIELD_STRING_OR_OBJECT, 0, 0},
    /* sampler options of llama.cpp and Ollama */
    {"top_k", FIELD_INTEGER, -INT32_LIMIT, INT32_LIMIT}, {"min_p", FIELD_NUMBER, 0, 1},
    {"repeat_penalty", FIELD_NUMBER, 0, DBL_MAX},    {"typical_p", FIELD_NUMBER, 0, 1},
    {"mirostat", FIELD_INTEGER, 0, 2},               {"chat_template_kwargs", FIELD_OBJECT, 0, 0},
    {"enable_thinking", FIELD_BOOL, 0, 0},           {"reasoning_format", FIELD_STRING, 0, 0},
    {"cache_prompt", FIELD_BOOL, 0, 0},
};

#define NFIELDS (sizeof known_fields / sizeof *known_fields)
/* check_fields() tracks the fields seen in one 64-bit mask. */
_Static_assert(NFIELDS <= 64, "too many known fields for the seen mask");

static const field *find_field(const char *name) {
    for (size_t i = 0; i < NFIELDS; i++)
        if (strcmp(known_fields[i].name, name) == 0) return &known_fields[i];
    return NULL;
}

static int all_finite(const cJSON *item) {
    if (cJSON_IsNumber(item)) return isfinite(item->valuedouble);
    for (const cJSON *child = item->child; child; child = child->next)
        if (!all_finite(child)) return 0;
    return 1;
}

static int compare_keys(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorting makes this O(n log n): a message may hold any number of keys. */
static int check_unique_keys(const cJSON *obj, const char *where, api_error *err) {
    const cJSON *item;
    const char **keys, *dup = NULL;
    size_t n = 0, i;
    param_path param;

    for (item = obj->child; item; item = item->next) n++;
    if (n < 2) return 0;
    keys = malloc(n * sizeof *keys);
    if (!keys) return out_of_memory(err);
    for (i = 0, item = obj->child; item; item = item->next) keys[i++] = item->string;
    qsort(keys, n, sizeof *keys, compare_keys);
    for (i = 1; i < n && !dup; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0) dup = keys[i];
    if (dup) reject(err, "invalid_request", path(param, "%s.%s", where, dup), "Duplicate key '%s' in '%s'.", dup, where);
    free(keys);
    return dup ? -1 : 0;
}

static int check_number(const field *f, const cJSON *item, int integer, api_error *err) {
    double v;

    if (!cJSON_IsNumber(item) || (integer && item->valuedouble != floor(item->valuedouble)))
        return wrong_type(err, f->name, integer ? "an integer" : "a number", item);
    v = item->valuedouble;
    if (v < f->min || v > f->max)
        return reject(err, "invalid_value", f->name,
                      "Invalid '%s': expected a value between %.15g and %.15g, but got %.15g instead.",
                      f->name, f->min, f->max, v);
    return 0;
}

static int check_object_array(const cJSON *item, const char *name, api_error *err) {
    param_path param;
    size_t i = 0;

    if (!cJSON_IsArray(item)) return wrong_type(err, name, "an array", item);
    for (const cJSON *e = item->child; e; e = e->next, i++)
        if (!cJSON_IsObject(e)) return wrong_type(err, path(param, "%s[%zu]", name, i), "an object", e);
    return 0;
}

static int check_stop(const cJSON *item, api_error *err) {
    param_path param;
    size_t i = 0;

    if (cJSON_IsString(item)) return 0;
    if (!cJSON_IsArray(item)) return wrong_type(err, "stop", "a string or an array of strings", item);
    for (const cJSON *e = item->child; e; e = e->next, i++) {
        if (i == 4) return reject(err, "invalid_value", "stop", "Invalid 'stop': at most 4 stop sequences are allowed.");
        if (!cJSON_IsString(e)) return wrong_type(err, path(param, "stop[%zu]", i), "a string", e);
    }
    return 0;
}

static int check_stream_options(const cJSON *item, chatreq *r, api_error *err) {
    const cJSON *usage;

    if (!cJSON_IsObject(item)) return wrong_type(err, "stream_options", "an object", item);
    if (check_unique_keys(item, "stream_options", err)) return -1;
    usage = cJSON_GetObjectItemCaseSensitive(item, "include_usage");
    if (usage && !cJSON_IsNull(usage) && !cJSON_IsBool(usage))
        return wrong_type(err, "stream_options.include_usage", "a boolean", usage);
    r->include_usage = cJSON_IsTrue(usage);
    return 0;
}

static int is_text_part(const cJSON *part) {
    return strcmp(cJSON_GetObjectItemCaseSensitive(part, "type")->valuestring, "text") == 0;
}

/* Checks a content array (where is its path) and joins its text parts with
 * "\n" into a buffer that r owns.  Only user messages may hold media. */
static int check_parts(const cJSON *content, const char *where, int user,
                       chatreq *r, feature_message *m, api_error *err) {
    param_path part_at, param;
    size_t total = 0, ntext = 0, j = 0;
    const cJSON *part;
    char *joined, *at;

    if (!content->child)
        return reject(err, "invalid_request", where, "Invalid '%s': empty array. Expected at least one content part.", where);
    for (part = content->child; part; part = part->next, j++) {
        const cJSON *type, *value;
        const char *name;

        path(part_at, "%s[%zu]", where, j);
        if (!cJSON_IsObject(part)) return wrong_type(err, part_at, "an object", part);
        if (check_unique_keys(part, part_at, err)) return -1;
        if (!(type = member(part, part_at, "type", cJSON_String, err))) return -1;
        name = type->valuestring;
        path(param, "%s.type", part_at);
        if (strcmp(name, "text") == 0) {
            if (!(value = member(part, part_at, "text", cJSON_String, err))) return -1;
            total += strlen(value->valuestring) + (ntext++ ? 1 : 0);
        } else if (strcmp(name, "image_url") != 0 && strcmp(name, "input_audio") != 0) {
            return reject(err, "invalid_value", param,
                          "Invalid value for '%s': '%s'. Supported values are: 'text', 'image_url' and 'input_audio'.",
                          param, name);
        } else if (!user) {
            return reject(err, "invalid_value", param,
                          "Invalid value for '%s': only user messages may contain '%s' parts.", param, name);
        } else if (!(value = member(part, part_at, name, cJSON_Object, err))) {
            return -1;
        } else if (strcmp(name, "image_url") == 0 &&
                   !member(value, path(param, "%s.image_url", part_at), "url", cJSON_String, err)) {
            return -1;
        }
    }

    joined = at = malloc(total + 1);
    if (!joined) return out_of_memory(err);
    r->joined[r->njoined++] = joined;
    for (part = content->child; part; part = part->next) {
        const char *text;
        size_t n;

        if (!is_text_part(part)) continue;
        text = cJSON_GetObjectItemCaseSensitive(part, "text")->valuestring;
        n = strlen(text);
        if (at != joined) *at++ = '\n';
        memcpy(at, text, n);
        at += n;
    }
    *at = '\0';
    assert((size_t)(at - joined) == total);
    m->text = joined;
    m->len = total;
    return 0;
}

static int check_message(const cJSON *msg, size_t i, chatreq *r, api_error *err) {
    static const char *const roles[] = {"system", "developer", "user", "assistant", "tool"};
    param_path where, param;
    const cJSON *role, *content, *item;
    feature_message *m = &r->msgs[i];
    int known = 0, user, assistant;

    path(where, "messages[%zu]", i);
    if (!cJSON_IsObject(msg)) return wrong_type(err, where, "an object", msg);
    if (check_unique_keys(msg, where, err)) return -1;

    if (!(role = member(msg, where, "role", cJSON_String, err))) return -1;
    for (size_t k = 0; k < sizeof roles / sizeof *roles; k++) known |= strcmp(role->valuestring, roles[k]) == 0;
    if (!known)
        return reject(err, "invalid_value", path(param, "%s.role", where),
                      "Invalid value for '%s': '%s'. Supported values are: 'system', 'developer', 'user', 'assistant' and 'tool'.",
                      param, role->valuestring);
    user = strcmp(role->valuestring, "user") == 0;
    assistant = strcmp(role->valuestring, "assistant") == 0;

    item = cJSON_GetObjectItemCaseSensitive(msg, "name");
    if (item && !cJSON_IsNull(item) && !cJSON_IsString(item))
        return wrong_type(err, path(param, "%s.name", where), "a string", item);
    item = cJSON_GetObjectItemCaseSensitive(msg, "tool_calls");
    if (item && !cJSON_IsNull(item) && check_object_array(item, path(param, "%s.tool_calls", where), err)) return -1;
    if (strcmp(role->valuestring, "tool") == 0 && !member(msg, where, "tool_call_id", cJSON_String, err)) return -1;

    content = cJSON_GetObjectItemCaseSensitive(msg, "content");
    path(param, "%s.content", where);
    m->user = user;
    if (cJSON_IsString(content)) {
        m->text = content->valuestring;
        m->len = strlen(content->valuestring);
    } else if (cJSON_IsArray(content)) {
        if (check_parts(content, param, user, r, m, err)) return -1;
    } else if (content && !cJSON_IsNull(content)) {
        return wrong_type(err, param, "a string or an array of content parts", content);
    } else if (!assistant) {
        return missing(err, param);
    } else {
        /* Null content: an assistant turn that only calls tools. */
        const cJSON *calls = cJSON_GetObjectItemCaseSensitive(msg, "tool_calls");
        if ((!cJSON_IsArray(calls) || !calls->child) &&
            !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(msg, "function_call")))
            return reject(err, "invalid_request", param,
                          "Invalid '%s': an assistant message needs content or tool_calls.", param);
        m->text = "";
        m->len = 0;
    }
    assert(utf8_invalid_offset(m->text, m->len) == m->len);
    return 0;
}

static int check_messages(const cJSON *messages, chatreq *r, api_error *err) {
    size_t n = 0, i = 0;

    if (!cJSON_IsArray(messages)) return wrong_type(err, "messages", "an array", messages);
    for (const cJSON *m = messages->child; m; m = m->next) n++;
    if (n == 0)
        return reject(err, "invalid_request", "messages",
                      "Invalid 'messages': empty array. Expected an array with minimum length 1.");
    r->msgs = calloc(n, sizeof *r->msgs);
    r->joined = calloc(n, sizeof *r->joined);
    if (!r->msgs || !r->joined) return out_of_memory(err);
    r->nmessages = n;
    for (const cJSON *m = messages->child; m; m = m->next, i++)
        if (check_message(m, i, r, err)) return -1;
    return 0;
}

static int check_field(const field *f, const cJSON *item, chatreq *r, api_error *err) {
    if (cJSON_IsNull(item) && f->kind != FIELD_MODEL && f->kind != FIELD_MESSAGES) return 0;
    switch (f->kind) {
    case FIELD_MODEL:
        if (!cJSON_IsString(item)) return wrong_type(err, f->name, "a string", item);
        if (!item->valuestring[0]) return reject(err, "invalid_value", f->name, "Invalid 'model': must not be empty.");
        r->model = item->valuestring;
        return 0;
    case FIELD_MESSAGES: return check_messages(item, r, err);
    case FIELD_STREAM_OPTIONS: return check_stream_options(item, r, err);
    case FIELD_STOP: return check_stop(item, err);
    case FIELD_BOOL: return cJSON_IsBool(item) ? 0 : wrong_type(err, f->name, "a boolean", item);
    case FIELD_STRING: return cJSON_IsString(item) ? 0 : wrong_type(err, f->name, "a string", item);
    case FIELD_NUMBER: return check_number(f, item, 0, err);
    case FIELD_INTEGER: return check_number(f, item, 1, err);
    case FIELD_OBJECT: return cJSON_IsObject(item) ? 0 : wrong_type(err, f->name, "an object", item);
    case FIELD_ARRAY: return cJSON_IsArray(item) ? 0 : wrong_type(err, f->name, "an array", item);
    case FIELD_OBJECT_ARRAY: return check_object_array(item, f->name, err);
    case FIELD_STRING_OR_OBJECT:
        return cJSON_IsString(item) || cJSON_IsObject(item) ? 0 : wrong_type(err, f->name, "a string or an object", item);
    }
    assert(0 && "unhandled field kind");
    return -1;
}

static int check_fields(chatreq *r, api_error *err) {
    const cJSON *stream_options;
    uint64_t seen = 0;

    for (const cJSON *item = r->root->child; item; item = item->next) {
        const field *f;
        uint64_t bit;

        assert(item->string);
        f = find_field(item->string);
        if (!f)
            return reject(err, "unknown_parameter", item->string,
                          "Unrecognized request argument supplied: %s", item->string);
        bit = 1ull << (f - known_fields);
        if (seen & bit) return reject(err, "invalid_request", f->name, "Duplicate key '%s' in the request.", f->name);
        seen |= bit;
        if (!all_finite(item))
            return reject(err, "invalid_value", f->name, "Invalid '%s': a number is too large.", f->name);
        if (check_field(f, item, r, err)) return -1;
    }
    if (!r->model) return missing(err, "model");
    if (!r->msgs) return missing(err, "messages");
    r->stream = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r->root, "stream"));
    stream_options = cJSON_GetObjectItemCaseSensitive(r->root, "stream_options");
    if (stream_options && !cJSON_IsNull(stream_options) && !r->stream)
        return reject(err, "invalid_request", "stream_options",
                      "The 'stream_options' parameter is only allowed when 'stream' is enabled.");
    return 0;
}

int chatreq_parse(const char *body, size_t len, chatreq *out, api_error *err) {
    const char *end = NULL, *nul;
    size_t bad;

    assert(out && err && (body || len == 0));
    memset(out, 0, sizeof *out);
    if (!body) body = "";
    bad = utf8_invalid_offset(body, len);
    if (bad < len) return reject(err, "invalid_utf8", NULL, "The request body is not valid UTF-8 (byte %zu).", bad);
    nul = memchr(body, '\0', len);
    if (nul) return reject(err, "invalid_json", NULL, "The request body contains a NUL byte (byte %zu).", (size_t)(nul - body));

    if (check_json_text(body, len, err)) return -1;
    /* The offset comes from return_parse_end, not cJSON_GetErrorPtr(), which
     * all threads share.  A failure may also be cJSON running out of memory;
     * it cannot say. */
    out->root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (!out->root) {
        reject(err, "invalid_json", NULL, "We could not parse the JSON body of your request (syntax error at byte %zu).",
               end ? (size_t)(end - body) : 0);
        goto err;
    }
    for (const char *p = end; p < body + len; p++) {
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') continue;
        reject(err, "invalid_json", NULL, "Unexpected data after the JSON value (byte %zu).", (size_t)(p - body));
        goto err;
    }
    if (!cJSON_IsObject(out->root)) {
        reject(err, "invalid_json", NULL, "The request body must be a JSON object.");
        goto err;
    }
    if (check_fields(out, err)) goto err;
    out->ntools = (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(out->root, "tools")) +
                  (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(out->root, "functions"));
    return 0;

err:
    chatreq_free(out);
    return -1;
}

void chatreq_free(chatreq *r) {
    if (!r) return;
    for (size_t i = 0; i < r->njoined; i++) free(r->joined[i]);
    free(r->joined);
    free(r->msgs);
    cJSON_Delete(r->root);
    memset(r, 0, sizeof *r);
}
