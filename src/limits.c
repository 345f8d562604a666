/* limits: nesting depth, message count and message size.
 *
 * Depth is measured on the bytes, not the tree: cJSON recurses once per
 * level and only stops at its compile-time limit of 1000, so a hostile body
 * costs stack before any check on the parsed tree could run.  The scan is
 * one pass that tracks strings and escapes; on a body that is not valid
 * JSON it may count differently from the parser, which is harmless because
 * such a body is refused either way (the status may then be this 400 rather
 * than the parser's, also a 400).
 *
 * Characters are Unicode code points of the message texts as the classifier
 * and backends see them (array parts joined), counted by skipping UTF-8
 * continuation bytes; the request parser has already checked the UTF-8. */
#include "limits.h"

#include <stdbool.h>

int limits_check_body(const config *cfg, const char *body, size_t len, api_error *err) {
    int depth = 0;
    bool in_string = false, escaped = false;
    for (size_t i = 0; i < len; i++) {
        char c = body[i];
        if (in_string) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > cfg->max_json_depth) {
                api_error_set(err, 400, "invalid_request_error", "nesting_too_deep", NULL,
                              "The request nests arrays and objects deeper than the limit of %d",
                              cfg->max_json_depth);
                return -1;
            }
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return 0;
}

int limits_check_request(const config *cfg, const chatreq *r, api_error *err) {
    if (r->nmessages > (size_t)cfg->max_messages) {
        api_error_set(err, 400, "invalid_request_error", "too_many_messages", "messages",
                      "The request has %zu messages; the limit is %d", r->nmessages, cfg->max_messages);
        return -1;
    }
    size_t chars = 0;
    for (size_t i = 0; i < r->nmessages; i++)
        for (size_t j = 0; j < r->msgs[i].len; j++) chars += ((unsigned char)r->msgs[i].text[j] & 0xC0) != 0x80;
    if (chars > cfg->max_message_chars) {
        api_error_set(err, 400, "invalid_request_error", "messages_too_long", "messages",
                      "The messages hold %zu characters; the limit is %zu", chars, cfg->max_message_chars);
        return -1;
    }
    return 0;
}
