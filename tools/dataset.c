/* dataset: reads labelled JSONL into featurized examples.
 *
 * The whole file is held in memory (the corpora are a few megabytes) and
 * every example keeps both its messages, which evaluation scores through the
 * classifier exactly as the gateway does, and its merged feature vector,
 * which training reads many times over.  Errors stop the load and name the
 * line: a silently skipped row would change what a model was trained on. */
#include "dataset.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "langid.h"
#include "utf8.h"

static const char *const permissive[] = {"CC-BY-3.0", "CC-BY-SA-3.0", "Apache-2.0", "MIT", "tiergate"};

/* The one rule that keeps the project's evaluation sets out of training: a
 * licence that says it is for evaluation only is never trainable, even when
 * it starts with a trainable name ("tiergate-eval (...; evaluation only)",
 * "evaluation-only (written by the project)"). */
static bool evaluation_only(const char *licence)
{
    /* "eval" or "evaluation", one space, '-' or '_', "only", in any case:
     * the rule must not hang on how a licence happens to be spelled. */
    for (const char *p = licence; *p; p++) {
        if (strncasecmp(p, "eval", 4) != 0) continue;
        const char *q = p + 4;
        if (strncasecmp(q, "uation", 6) == 0) q += 6;
        if ((*q == ' ' || *q == '-' || *q == '_') && strncasecmp(q + 1, "only", 4) == 0) return true;
    }
    return false;
}

bool dataset_licence_trainable(const char *licence)
{
    if (!licence || evaluation_only(licence)) return false;
    for (size_t k = 0; k < sizeof permissive / sizeof permissive[0]; k++) {
        size_t n = strlen(permissive[k]);
        /* "Apache-2.0 (repo licence; ...)" is Apache-2.0; "MITx" is not. */
        if (strncmp(licence, permissive[k], n) == 0 && (licence[n] == '\0' || licence[n] == ' '))
            return true;
    }
    return false;
}

bool dataset_id_held_out(const char *id)
{
    uint32_t h = 2166136261u;

    for (const unsigned char *p = (const unsigned char *)id; *p; p++) h = (h ^ *p) * 16777619u;
    return h % 5 == 0;
}

/* Growable (index, value) list that featurize() fills. */
typedef struct vec {
    uint32_t *index;
    double *value;
    size_t n, cap;
    bool oom;
} vec;

static void vec_add(void *ctx, const feature *f, const feature_origin *origin, size_t n)
{
    vec *v = ctx;

    (void)origin;
    if (v->oom) return;
    if (v->n + n > v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 128;
        while (cap < v->n + n) cap *= 2;
        uint32_t *i = realloc(v->index, cap * sizeof *i);
        if (i) v->index = i;
        double *d = i ? realloc(v->value, cap * sizeof *d) : NULL;
        if (!d) {
            v->oom = true;
            return;
        }
        v->value = d;
        v->cap = cap;
    }
    for (size_t k = 0; k < n; k++, v->n++) {
        v->index[v->n] = f[k].index;
        v->value[v->n] = f[k].value;
    }
}

/* Sorts the pairs by index and merges duplicates (insertion sort: a few
 * hundred pairs, mostly ascending within a run). */
static void vec_merge(vec *v)
{
    size_t out = 0;

    for (size_t i = 1; i < v->n; i++) {
        uint32_t ki = v->index[i];
        double vi = v->value[i];
        size_t j = i;
        for (; j > 0 && v->index[j - 1] > ki; j--) {
            v->index[j] = v->index[j - 1];
            v->value[j] = v->value[j - 1];
        }
        v->index[j] = ki;
        v->value[j] = vi;
    }
    for (size_t i = 0; i < v->n; i++) {
        if (out > 0 && v->index[out - 1] == v->index[i]) v->value[out - 1] += v->value[i];
        else {
            v->index[out] = v->index[i];
            v->value[out++] = v->value[i];
        }
    }
    v->n = out;
}

static char *dup_or_null(const cJSON *item)
{
    return cJSON_IsString(item) ? strdup(item->valuestring) : NULL;
}

/* The text of a message's content: a string, the text parts of an array
 * joined with "\n" (as the gateway joins them), or "" for null.  NULL when
 * out of memory or the content is of another kind (*bad set). */
static char *content_text(const cJSON *content, bool *bad)
{
    const cJSON *part;
    size_t total = 0;
    char *text, *at;

    *bad = false;
    if (cJSON_IsString(content)) return strdup(content->valuestring);
    if (cJSON_IsNull(content)) return strdup("");
    if (!cJSON_IsArray(content)) {
        *bad = true;
        return NULL;
    }
    cJSON_ArrayForEach(part, content) {
        const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(part, "text"));
        if (t) total += strlen(t) + 1;
    }
    if (!(text = at = malloc(total + 1))) return NULL;
    cJSON_ArrayForEach(part, content) {
        const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(part, "text"));
        if (!t) continue;
        if (at != text) *at++ = '\n';
        memcpy(at, t, strlen(t));
        at += strlen(t);
    }
    *at = '\0';
    return text;
}

/* Fills e->msgs from "messages" or "text", and e->ntools from "tools".
 * Returns an error text or NULL. */
static const char *read_messages(const cJSON *root, example *e)
{
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(root, "text");
    const cJSON *tools = cJSON_GetObjectItemCaseSensitive(root, "tools");
    const cJSON *m;
    size_t i = 0;

    if (tools && !cJSON_IsArray(tools)) return "\"tools\" must be an array";
    e->ntools = (size_t)cJSON_GetArraySize(tools);
    if (!cJSON_IsArray(msgs)) {
        if (!cJSON_IsString(text)) return "needs \"text\" (a string) or \"messages\" (an array)";
        if (!(e->msgs = calloc(1, sizeof *e->msgs))) return "out of memory";
        e->nmsgs = 1;
        e->msgs[0] = (feature_message){true, strdup(text->valuestring), strlen(text->valuestring)};
        return e->msgs[0].text ? NULL : "out of memory";
    }
    e->nmsgs = (size_t)cJSON_GetArraySize(msgs);
    if (e->nmsgs == 0) return "\"messages\" is empty";
    if (!(e->msgs = calloc(e->nmsgs, sizeof *e->msgs))) return "out of memory";
    cJSON_ArrayForEach(m, msgs) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        bool bad;
        char *t;
        if (!cJSON_IsString(role)) return "each message needs a string \"role\"";
        t = content_text(cJSON_GetObjectItemCaseSensitive(m, "content"), &bad);
        if (bad) return "a message's \"content\" must be a string, an array of parts or null";
        if (!t) return "out of memory";
        e->msgs[i++] = (feature_message){strcmp(role->valuestring, "user") == 0, t, strlen(t)};
    }
    return NULL;
}

static void example_free(example *e)
{
    for (size_t i = 0; e->msgs && i < e->nmsgs; i++) free((char *)e->msgs[i].text);
    free(e->msgs);
    free(e->id);
    free(e->source);
    free(e->category);
    free(e->index);
    free(e->value);
}

/* Builds example e from one parsed line.  Returns an error text or NULL. */
static const char *read_example(const cJSON *root, const featurizer *fx, const langid *id, const char *path,
                                size_t line, example *e)
{
    const cJSON *label = cJSON_GetObjectItemCaseSensitive(root, "label");
    const cJSON *lang = cJSON_GetObjectItemCaseSensitive(root, "lang");
    const char *why;
    char fallback_id[64];
    vec v = {0};
    const char *base = strrchr(path, '/');

    if (!cJSON_IsObject(root)) return "not a JSON object";
    if (!cJSON_IsString(label) || (strcmp(label->valuestring, "simple") != 0 &&
                                   strcmp(label->valuestring, "complex") != 0))
        return "\"label\" must be \"simple\" or \"complex\"";
    e->label = strcmp(label->valuestring, "complex") == 0;
    if ((why = read_messages(root, e))) return why;
    for (size_t i = 0; i < e->nmsgs; i++)
        if (utf8_invalid_offset(e->msgs[i].text, e->msgs[i].len) != e->msgs[i].len) return "text is not valid UTF-8";
    snprintf(fallback_id, sizeof fallback_id, "%s:L%zu", base ? base + 1 : path, line);
    e->id = dup_or_null(cJSON_GetObjectItemCaseSensitive(root, "id"));
    if (!e->id) e->id = strdup(fallback_id);
    e->source = dup_or_null(cJSON_GetObjectItemCaseSensitive(root, "source"));
    if (!e->source) e->source = strdup("unknown");
    e->category = dup_or_null(cJSON_GetObjectItemCaseSensitive(root, "category"));
    if (!e->category) e->category = strdup("");
    if (!e->id || !e->source || !e->category) return "out of memory";
    if (cJSON_IsString(lang) && strlen(lang->valuestring) == 2 && (unsigned)(lang->valuestring[0] - 'a') < 26u &&
        (unsigned)(lang->valuestring[1] - 'a') < 26u)
        memcpy(e->lang, lang->valuestring, 3);
    else
        snprintf(e->lang, sizeof e->lang, "%s", langid_code(langid_detect(id, e->msgs, e->nmsgs)));
    e->trainable = dataset_licence_trainable(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "licence")));
    e->held_out = dataset_id_held_out(e->id);

    featurize(fx, e->msgs, e->nmsgs, e->ntools, false, vec_add, &v);
    e->index = v.index;
    e->value = v.value;
    if (v.oom) return "out of memory";
    vec_merge(&v);
    e->nnz = v.n;
    return NULL;
}

int dataset_load(dataset *d, const char *path, const featurizer *fx, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    langid *id = langid_new();
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t len;
    int rc = -1;

    assert(d != NULL && fx != NULL);
    if (!f || !id) {
        snprintf(err, errlen, "%s: %s", path, f ? "out of memory" : strerror(errno));
        if (f) fclose(f);
        langid_free(id);
        return -1;
    }
    while ((len = getline(&line, &cap, f)) >= 0) {
        cJSON *root;
        const char *why;
        example e = {0};

        lineno++;
        if (strspn(line, " \t\r\n") == (size_t)len) continue;
        if (!(root = cJSON_ParseWithLength(line, (size_t)len))) {
            snprintf(err, errlen, "%s:%zu: not valid JSON", path, lineno);
            goto out;
        }
        why = read_example(root, fx, id, path, lineno, &e);
        cJSON_Delete(root);
        if (!why && d->n == d->cap) {
            size_t ncap = d->cap ? 2 * d->cap : 1024;
            example *rows = realloc(d->rows, ncap * sizeof *rows);
            if (!rows) why = "out of memory";
            else {
                d->rows = rows;
                d->cap = ncap;
            }
        }
        if (why) {
            example_free(&e);
            snprintf(err, errlen, "%s:%zu: %s", path, lineno, why);
            goto out;
        }
        d->rows[d->n++] = e;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    free(line);
    fclose(f);
    langid_free(id);
    return rc;
}

void dataset_free(dataset *d)
{
    for (size_t i = 0; i < d->n; i++) example_free(&d->rows[i]);
    free(d->rows);
    d->rows = NULL;
    d->n = d->cap = 0;
}
