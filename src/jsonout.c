/* jsonout: compact JSON text from a cJSON tree, or field by field (see
 * jsonout.h for why).
 *
 * One growable buffer, doubled when full; a failed allocation sets a flag
 * that every later append checks, so the printer runs to the end without
 * error paths and reports once. */
#include "jsonout.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

typedef jsonout_text out;

/* Room for need more bytes (and a NUL); false when out of memory. */
static bool reserve(out *o, size_t need) {
    if (o->failed) return false;
    if (o->n + need < o->cap) return true;
    size_t cap = o->cap ? o->cap : 256;
    while (o->n + need >= cap) cap *= 2;
    char *p = realloc(o->p, cap);
    if (!p) {
        o->failed = true;
        return false;
    }
    o->p = p;
    o->cap = cap;
    return true;
}

/* n may be 0 with s NULL: an empty jsonout_text appended to another. */
static void put(out *o, const char *s, size_t n) {
    if (!n || !reserve(o, n)) return;
    memcpy(o->p + o->n, s, n);
    o->n += n;
}

static void put_char(out *o, char c) {
    if (!reserve(o, 1)) return;
    o->p[o->n++] = c;
}

/* Bytes that end a run of plain string bytes: 1 for those escaped (the
 * control characters, the quote and the backslash; the NUL ends the
 * string), 2 for the first byte of a multi-byte character, which stays in
 * the run when it is well-formed. */
#define HIGH16 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2
static const unsigned char stops[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    ['"'] = 1, ['\\'] = 1,
    [0x80] = HIGH16, HIGH16, HIGH16, HIGH16, HIGH16, HIGH16, HIGH16, HIGH16,
};
#undef HIGH16

/* Malformed UTF-8 (a byte from a client's URL, a backend's broken
 * answer) comes out as U+FFFD, one per byte, so that every text this
 * module writes is valid UTF-8 JSON: a log pipeline or a client decoding
 * strictly would otherwise reject the whole line or answer. */
static void put_string(out *o, const char *s) {
    static const char hex[] = "0123456789abcdef";
    put_char(o, '"');
    if (s) {
        for (;;) {
            const char *run = s;
            for (;;) {
                unsigned char stop = stops[(unsigned char)*s];
                if (!stop) {
                    s++;
                } else if (stop == 2) {
                    /* The NUL is not a continuation byte, so this reads no
                     * further than the string's end. */
                    int len = utf8_char((const unsigned char *)s, 4);
                    if (len <= 0) break;
                    s += len;
                } else {
                    break;
                }
            }
            put(o, run, (size_t)(s - run));
            unsigned char c = (unsigned char)*s;
            if (!c) break;
            if (c >= 0x80) {
                put(o, "\xEF\xBF\xBD", 3);
                s++;
                continue;
            }
            char esc[6] = {'\\', 0, 0, 0, 0, 0};
            size_t n = 2;
            switch (c) {
            case '"': esc[1] = '"'; break;
            case '\\': esc[1] = '\\'; break;
            case '\b': esc[1] = 'b'; break;
            case '\f': esc[1] = 'f'; break;
            case '\n': esc[1] = 'n'; break;
            case '\r': esc[1] = 'r'; break;
            case '\t': esc[1] = 't'; break;
            default:
                memcpy(esc + 1, "u00", 3);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                n = 6;
            }
            put(o, esc, n);
            s++;
        }
    }
    put_char(o, '"');
}

static void put_integer(out *o, long long v) {
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    char b[24], *e = b + sizeof b, *p = e;
    do *--p = (char)('0' + u % 10); while (u /= 10);
    if (v < 0) *--p = '-';
    put(o, p, (size_t)(e - p));
}

/* Integral doubles below 2^53 are exact as integers; everything else takes
 * the shortest of 15 or 17 significant digits that reads back equal. */
static void put_number(out *o, double d) {
    char b[32];
    size_t n;
    if (!isfinite(d)) {
        put(o, "null", 4);
        return;
    }
    if (d == 0 && signbit(d)) {
        put(o, "-0", 2);              /* as cJSON prints it */
        return;
    }
    if (d == trunc(d) && fabs(d) < 9007199254740992.0) {
        put_integer(o, (long long)d);
        return;
    }
    n = (size_t)snprintf(b, sizeof b, "%1.15g", d);
    if (strtod(b, NULL) != d) n = (size_t)snprintf(b, sizeof b, "%1.17g", d);
    put(o, b, n);
}

static void put_value(out *o, const cJSON *item) {
    const cJSON *c;
    switch (item->type & 0xFF) {
    case cJSON_NULL: put(o, "null", 4); return;
    case cJSON_False: put(o, "false", 5); return;
    case cJSON_True: put(o, "true", 4); return;
    case cJSON_Number: put_number(o, item->valuedouble); return;
    case cJSON_String: put_string(o, item->valuestring); return;
    case cJSON_Raw:
        if (item->valuestring) put(o, item->valuestring, strlen(item->valuestring));
        else o->failed = true;
        return;
    case cJSON_Array:
        put_char(o, '[');
        for (c = item->child; c; c = c->next) {
            put_value(o, c);
            if (c->next) put_char(o, ',');
        }
        put_char(o, ']');
        return;
    case cJSON_Object:
        put_char(o, '{');
        for (c = item->child; c; c = c->next) {
            put_string(o, c->string);
            put_char(o, ':');
            put_value(o, c);
            if (c->next) put_char(o, ',');
        }
        put_char(o, '}');
        return;
    default:
        o->failed = true;        /* not a JSON value: cJSON fails as well */
    }
}

char *jsonout_print(const cJSON *item, const char *prefix, const char *suffix, size_t *len) {
    assert(item);
    out o = {0};
    if (!reserve(&o, 511)) return NULL;
    if (prefix) put(&o, prefix, strlen(prefix));
    put_value(&o, item);
    if (suffix) put(&o, suffix, strlen(suffix));
    if (o.failed) {
        free(o.p);
        return NULL;
    }
    o.p[o.n] = '\0';             /* reserve keeps a byte for it */
    if (len) *len = o.n;
    return o.p;
}

void jsonout_put(jsonout_text *t, const char *s, size_t n) { put(t, s, n); }

void jsonout_string(jsonout_text *t, const char *s) { put_string(t, s); }

void jsonout_key(jsonout_text *t, const char *key) {
    put_char(t, ',');
    put_string(t, key);
    put_char(t, ':');
}

void jsonout_int(jsonout_text *t, long long v) { put_integer(t, v); }

void jsonout_milli(jsonout_text *t, long long v) {
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    const char frac[4] = {'.', (char)('0' + u / 100 % 10), (char)('0' + u / 10 % 10), (char)('0' + u % 10)};
    if (v < 0) put_char(t, '-');
    put_integer(t, (long long)(u / 1000));
    put(t, frac, sizeof frac);
}

void jsonout_value(jsonout_text *t, const cJSON *item) {
    assert(item);
    put_value(t, item);
}

void jsonout_text_free(jsonout_text *t) {
    free(t->p);
    *t = (jsonout_text){0};
}
