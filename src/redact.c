/* redact: a per-request table of values and placeholders.
 *
 * The table is an array of entries with two open-addressing indexes, by
 * value (masking) and by placeholder (restoring).  A request usually holds
 * a handful of values, but a 1 MB body can hold 100 000, and the gateway is
 * one thread: searched linearly, masking and restoring them took seconds
 * (quadratic), so each lookup is a hash probe and each kind keeps its own
 * count for the next number.  Placeholders use the mathematical angle brackets
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

/* Open addressing, linear probing; a slot holds an entry's index + 1.
 * Kept at most half full. */
typedef struct lookup {
    size_t *slot;
    size_t cap;
} lookup;

/* How many entries a kind has: names are few (the built-in kinds and at
 * most PII_MAX_PATTERNS), so a short list. */
typedef struct kind_count {
    const char *name;
    unsigned n;
} kind_count;

struct redactor {
    entry *v;
    size_t n, cap;
    lookup by_value, by_ph;
    kind_count kinds[PII_BUILTIN_KINDS + PII_MAX_PATTERNS];
    size_t nkinds;
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
    free(r->by_value.slot);
    free(r->by_ph.slot);
    free(r);
}

static size_t hash(const char *s, size_t n) {
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    h ^= h >> 33;    /* FNV's low bits follow the last bytes: mix them (MurmurHash3's finaliser) */
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return (size_t)h;
}

static const char *value_of(const entry *e, size_t *n) {
    *n = e->vlen;
    return e->value;
}

static const char *ph_of(const entry *e, size_t *n) {
    *n = e->plen;
    return e->ph;
}

typedef const char *(*key_fn)(const entry *e, size_t *n);

/* The entry whose key is s (n bytes), or NULL. */
static const entry *find(const redactor *r, const lookup *x, key_fn key, const char *s, size_t n) {
    if (!x->cap) return NULL;
    for (size_t h = hash(s, n) & (x->cap - 1);; h = (h + 1) & (x->cap - 1)) {
        if (!x->slot[h]) return NULL;
        const entry *e = &r->v[x->slot[h] - 1];
        size_t kn;
        const char *k = key(e, &kn);
        if (kn == n && memcmp(k, s, n) == 0) return e;
    }
}

static void place(const redactor *r, lookup *x, key_fn key, size_t i) {
    size_t kn;
    const char *k = key(&r->v[i], &kn);
    size_t h = hash(k, kn) & (x->cap - 1);
    while (x->slot[h]) h = (h + 1) & (x->cap - 1);
    x->slot[h] = i + 1;
}

/* Room in x for one more of r->n entries, rebuilt from them when it grows. */
static int reserve(const redactor *r, lookup *x, key_fn key) {
    if (2 * (r->n + 1) <= x->cap) return 0;
    size_t cap = x->cap ? x->cap * 2 : 16;
    size_t *slot = calloc(cap, sizeof *slot);
    if (!slot) return -1;
    free(x->slot);
    x->slot = slot;
    x->cap = cap;
    for (size_t i = 0; i < r->n; i++) place(r, x, key, i);
    return 0;
}

/* The next number of the kind called name. */
static unsigned next_seq(redactor *r, const char *name) {
    size_t k = 0;
    while (k < r->nkinds && strcmp(r->kinds[k].name, name) != 0) k++;
    if (k == r->nkinds) {
        assert(k < sizeof r->kinds / sizeof r->kinds[0]);
        r->kinds[r->nkinds++] = (kind_count){name, 0};
    }
    return ++r->kinds[k].n;
}

size_t redactor_count(const redactor *r) { return r->n; }

/* The entry of value, created with the next number of its kind if new. */
static const entry *entry_for(redactor *r, const char *value, size_t vlen, const char *name) {
    const entry *found = find(r, &r->by_value, value_of, value, vlen);
    if (found) return found;
    if (reserve(r, &r->by_value, value_of) < 0 || reserve(r, &r->by_ph, ph_of) < 0) return NULL;
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
    int len = snprintf(e->ph, sizeof e->ph, "%s%.*s_%u%s", open_mark, PII_MAX_NAME, name, next_seq(r, name), close_mark);
    assert(len > 0 && (size_t)len < sizeof e->ph);
    e->plen = (size_t)len;
    place(r, &r->by_value, value_of, r->n);
    place(r, &r->by_ph, ph_of, r->n);
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
        const entry *e = len ? find(r, &r->by_ph, ph_of, s + i, len) : NULL;
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
