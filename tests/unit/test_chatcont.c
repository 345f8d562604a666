/* chatcont: which broken streams are whole turns all the same (issue 15):
 * complete tool calls only, each named, with complete JSON arguments. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "chatcont.h"
#include "testlib.h"

/* Relays the chunks (JSON texts, NULL-terminated) and asks whether the
 * answer is a whole turn. */
static bool whole_after(const char *const *chunks) {
    chatcont cc = {0};
    for (size_t i = 0; chunks[i]; i++) {
        cJSON *c = cJSON_Parse(chunks[i]);
        CHECK(c != NULL);
        chatcont_chunk(&cc, c);
        cJSON_Delete(c);
    }
    bool whole = chatcont_whole_turn(&cc);
    chatcont_free(&cc);
    return whole;
}

#define CALL(i, name, args) \
    "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":" #i ",\"id\":\"c" #i "\",\"type\":\"function\"," \
    "\"function\":{\"name\":\"" name "\",\"arguments\":\"" args "\"}}]}}]}"
#define ARGS(i, args) \
    "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":" #i ",\"function\":{\"arguments\":\"" args "\"}}]}}]}"
#define TEXT(t) "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" t "\"}}]}"

int main(void) {
    /* one call, its arguments in pieces, cut after the closing brace */
    CHECK(whole_after((const char *const[]){CALL(0, "navigate", "{\\\"to\\\":"), ARGS(0, "\\\"home\\\"}"), NULL}));
    /* cut before it: never a whole call, whatever was sent */
    CHECK(!whole_after((const char *const[]){CALL(0, "navigate", "{\\\"to\\\":"), ARGS(0, "\\\"home\\\""), NULL}));
    CHECK(!whole_after((const char *const[]){CALL(0, "navigate", ""), NULL}));
    /* arguments that are not one object: a number, trailing bytes */
    CHECK(!whole_after((const char *const[]){CALL(0, "f", "42"), NULL}));
    CHECK(!whole_after((const char *const[]){CALL(0, "f", "{}x"), NULL}));
    /* no name */
    CHECK(!whole_after((const char *const[]){ARGS(0, "{}"), NULL}));
    /* two calls: both whole, or the second cut */
    CHECK(whole_after((const char *const[]){CALL(0, "seat_heat", "{\\\"on\\\":true}"), CALL(1, "navigate", "{}"), NULL}));
    CHECK(!whole_after((const char *const[]){CALL(0, "seat_heat", "{\\\"on\\\":true}"), CALL(1, "navigate", "{"), NULL}));
    /* a second call announced at index 1 with none at 0 */
    CHECK(!whole_after((const char *const[]){CALL(1, "navigate", "{}"), NULL}));
    /* text before the calls is the turn's; text after them is not closable */
    CHECK(whole_after((const char *const[]){TEXT("Sure."), CALL(0, "navigate", "{}"), NULL}));
    CHECK(!whole_after((const char *const[]){CALL(0, "navigate", "{}"), TEXT("and then"), NULL}));
    /* plain text, a second choice, an index past the limit */
    CHECK(!whole_after((const char *const[]){TEXT("Hello"), NULL}));
    CHECK(!whole_after((const char *const[]){CALL(0, "f", "{}"),
                                             "{\"choices\":[{\"index\":1,\"delta\":{\"content\":\"x\"}}]}", NULL}));
    CHECK(!whole_after((const char *const[]){CALL(0, "f", "{}"), CALL(8, "g", "{}"), NULL}));
    TEST_MAIN_END();
}
