/* redact: a per-request table of values and placeholders.
 *
 * The table is a flat array searched linearly: a request holds a handful
 * of personal values, and a hash table would cost more to build than the
 * searches it saves.  Placeholders use the mathematical angle brackets
 * ⟨ ⟩ (U+27E8, U+27E9): models copy them through faithfully, they never
 * occur in ordinary text, and no JSON or Markdown escaping touches them.
 *
 * Restoring works on bytes, not characters, so a placeholder split inside
 * the three bytes of ⟨ is handled like any other split.  A stream holds
 * back only a tail that is still a proper prefix of a placeholder's shape
 * (⟨, name characters, part of ⟩) and at most REDACT_MAX_PLACEHOLDER bytes:
 * anything else is shown at once, so restoring never delays text that
 * cannot be a placeholder. */
#include "redact.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char open_mark[] = "\xE2\x9F\xA8", close_mark[] = "\xE2\x9F\xA9";

typedef struct entry {
    char *value;
    size_t vlen;
    char ph[REDACT_MAX_PLACEHOLDER + 1];
    size_t plen;
    const char *name;     /* static or the config's */
} entry;

struct redactor {
    entry *v;
    size_t n, cap;
};

/* A growing output string. */
typedef struct out {
    char *s;
    size_t n, cap;
    bool oom;
} out;

static void put(out *o, const char *s, size_t n) {
    /* The size guard also lets gcc -O3 see that the doubling below cannot
     * wrap, which it otherwise reports as an overflow. */
    if (o->oom || n > SIZE_MAX / 4 - o->n) {
        o->oom = true;
        return;
    }
    if (o->n + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 64;
        while (cap < o->n + n + 1) cap *= 2;
        char *ns = realloc(o->s, cap);
        if (!ns) {
            o->oom = true;
            return;
        }
        o->s = ns;
        o->cap = cap;
    }
    memcpy(o->s + o->n, s, n);
    o->n += n;
    o->s[o->n] = '\0';
}

static char *finish(out *o) {
    put(o, "", 0);
    if (!o->oom) return o->s;
    free(o->s);
    return NULL;
}

redactor *redactor_new(void) { return calloc(1, sizeof(redactor)); }

void redactor_free(redactor *r) {
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) free(r->v[i].value);
    free(r->v);
    free(r);
}

size_t redactor_count(const redactor *r) { return r->n; }

/* The entry of value, created with the next number of its kind if new. */
static const entry *entry_for(redactor *r, const char *value, size_t vlen, const char *name) {
    unsigned seq = 1;
    for (size_t i = 0; i < r->n; i++) {
        if (r->v[i].vlen == vlen && memcmp(r->v[i].value, value, vlen) == 0) return &r->v[i];
        seq += strcmp(r->v[i].name, name) == 0;
    }
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 8;
        entry *nv = realloc(r->v, cap * sizeof *nv);
        if (!nv) return NULL;
        r->v = nv;
        r->cap = cap;
    }
    entry *e = &r->v[r->n];
    e->value = malloc(vlen + 1);
    if (!e->value) return NULL;
    memcpy(e->value, value, vlen);
    e->value[vlen] = '\0';
    e->vlen = vlen;
    e->name = name;
    assert(strlen(name) <= PII_MAX_NAME);
    int len = snprintf(e->ph, sizeof e->ph, "%s%.*s_%u%s", open_mark, PII_MAX_NAME, name, seq, close_mark);
    assert(len > 0 && (size_t)len < sizeof e->ph);
    e->plen = (size_t)len;
    r->n++;
    return e;
}

char *redact_text(redactor *r, const char *s, size_t n, const pii_spans *sp, const pii_pattern *pats) {
    out o = {0};
    size_t pos = 0;
    for (size_t i = 0; i < sp->n; i++) {
        const pii_span *x = &sp->v[i];
        assert(x->off >= pos && x->off + x->len <= n);
        const char *name = x->kind == PII_CUSTOM ? pats[x->pattern].name : pii_kind_name(x->kind);
        const entry *e = entry_for(r, s + x->off, x->len, name);
        if (!e) o.oom = true;
        put(&o, s + pos, x->off - pos);
        if (e) put(&o, e->ph, e->plen);
        pos = x->off + x->len;
    }
    put(&o, s + pos, n - pos);
    return finish(&o);
}

static bool name_char(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Length of the complete placeholder shape at s, or 0. */
static size_t placeholder_at(const char *s, size_t n) {
    if (n < 7 || memcmp(s, open_mark, 3) != 0) return 0;
    size_t k = 3;
    while (k < n && k < REDACT_MAX_PLACEHOLDER && name_char((unsigned char)s[k])) k++;
    return k > 3 && k + 3 <= n && memcmp(s + k, close_mark, 3) == 0 ? k + 3 : 0;
}

/* True when s (n bytes) is a proper prefix of a placeholder's shape. */
static bool partial_placeholder(const char *s, size_t n) {
    if (n >= REDACT_MAX_PLACEHOLDER) return false;
    if (n <= 3) return memcmp(s, open_mark, n) == 0;
    if (memcmp(s, open_mark, 3) != 0) return false;
    size_t k = 3;
    while (k < n && name_char((unsigned char)s[k])) k++;
    return k == n || (n - k < 3 && memcmp(s + k, close_mark, n - k) == 0);
}

static void restore_into(const redactor *r, out *o, const char *s, size_t n) {
    size_t pos = 0, i = 0;
    while (i < n) {
        const char *m = memchr(s + i, open_mark[0], n - i);
        if (!m) break;
        i = (size_t)(m - s);
        size_t len = placeholder_at(s + i, n - i);
        const entry *e = NULL;
        for (size_t k = 0; len && k < r->n && !e; k++)
            if (r->v[k].plen == len && memcmp(r->v[k].ph, s + i, len) == 0) e = &r->v[k];
        if (!e) {
            i++;
            continue;
        }
        put(o, s + pos, i - pos);
        put(o, e->value, e->vlen);
        i += len;
        pos = i;
    }
    put(o, s + pos, n - pos);
}

/* The value of r found at s (the longest when several are), or NULL. */
static const entry *value_at(const redactor *r, const char *s, size_t n) {
    const entry *best = NULL;
    for (size_t k = 0; k < r->n; k++)
        if (r->v[k].vlen && r->v[k].vlen <= n && memcmp(r->v[k].value, s, r->v[k].vlen) == 0 &&
            (!best || r->v[k].vlen > best->vlen))
            best = &r->v[k];
    return best;
}

char *redact_known(const redactor *r, const char *s, size_t n) {
    out o = {0};
    size_t pos = 0;
    for (size_t i = 0; i < n;) {
        const entry *e = value_at(r, s + i, n - i);
        if (!e) {
            i++;
            continue;
        }
        put(&o, s + pos, i - pos);
        put(&o, e->ph, e->plen);
        i += e->vlen;
        pos = i;
    }
    put(&o, s + pos, n - pos);
    return finish(&o);
}

bool redact_cut_in_value(const redactor *r, const char *s, size_t n) {
    for (size_t i = 0; i < r->n; i++)
        for (size_t k = r->v[i].vlen - 1; k >= REDACT_MIN_CUT && k < r->v[i].vlen; k--)
            if (k <= n && memcmp(s + n - k, r->v[i].value, k) == 0) return true;
    return false;
}

char *restore_text(const redactor *r, const char *s, size_t n) {
    out o = {0};
    restore_into(r, &o, s, n);
    return finish(&o);
}

char *restore_stream_feed(const redactor *r, restore_stream *st, const char *s, size_t n, bool final) {
    out in = {0}, o = {0};
    put(&in, st->held, st->nheld);
    put(&in, s, n);
    if (in.oom) return finish(&in);
    size_t keep = 0;
    for (size_t p = in.n > REDACT_MAX_PLACEHOLDER ? in.n - REDACT_MAX_PLACEHOLDER : 0; !final && p < in.n; p++)
        if (in.s[p] == open_mark[0] && partial_placeholder(in.s + p, in.n - p)) {
            keep = in.n - p;
            break;
        }
    assert(keep < sizeof st->held);
    restore_into(r, &o, in.s, in.n - keep);
    memcpy(st->held, in.s + in.n - keep, keep);
    st->nheld = keep;
    free(in.s);
    return finish(&o);
}
