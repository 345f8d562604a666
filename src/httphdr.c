/* httphdr: see httphdr.h.  An HTTP-date is parsed by curl_getdate(), which
 * knows the three date formats RFC 9110 still allows. */
#include "httphdr.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *httphdr_value(const char *line, size_t len, const char *name, char *out, size_t cap) {
    size_t nl = strlen(name);
    if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':') return NULL;
    const char *v = line + nl + 1;
    size_t vl = len - nl - 1;
    while (vl && (*v == ' ' || *v == '\t')) v++, vl--;
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' ')) vl--;
    if (vl >= cap) vl = cap - 1;
    memcpy(out, v, vl);
    out[vl] = '\0';
    return out;
}

int httphdr_retry_after(const char *line, size_t len, int known_ms, time_t now) {
    char v[64];
    char *end;
    if (httphdr_value(line, len, "retry-after-ms", v, sizeof v)) {
        double ms = strtod(v, &end);
        return end != v && *end == '\0' && ms >= 0 && ms < 86400e3 ? (int)ms : known_ms;
    }
    if (known_ms >= 0 || !httphdr_value(line, len, "retry-after", v, sizeof v)) return known_ms;
    long s = strtol(v, &end, 10);
    if (end != v && *end == '\0') return s >= 0 && s < 86400 ? (int)(s * 1000) : known_ms;
    time_t when = curl_getdate(v, NULL);
    if (when < 0 || when - now >= 86400) return known_ms;
    return when > now ? (int)(when - now) * 1000 : 0;
}
