/* usage: counts read from answers and chunks, the estimate where a backend
 * reports none, and cost. */
#include <cjson/cJSON.h>
#include <string.h>

#include "testlib.h"
#include "usage.h"

static void add_json(usage_meter *m, const char *json) {
    cJSON *o = cJSON_Parse(json);
    CHECK(o != NULL);
    usage_meter_add(m, o);
    cJSON_Delete(o);
}

static const feature_message conversation[] = {
    {false, "You are terse.", 14},                      /* 14 narrow: 4 tokens */
    {true, "\xe6\x89\x93\xe5\xbc\x80\xe7\xa9\xba\xe8\xb0\x83 ok", 15},   /* 打开空调 ok: 4 wide + 3 narrow */
};

static void test_estimate_text(void) {
    CHECK_INT(usage_estimate_text("", 0), 0);
    CHECK_INT(usage_estimate_text("abcd", 4), 1);
    CHECK_INT(usage_estimate_text("abcde", 5), 2);                 /* rounded up */
    CHECK_INT(usage_estimate_text("\xe6\x89\x93\xe5\xbc\x80", 6), 2);   /* two CJK characters */
    CHECK_INT(usage_estimate_text("\xc3\xa9t\xc3\xa9", 5), 1);     /* "été": three narrow characters */
    CHECK_INT(usage_estimate_text("\xf0\x9f\x98\x80", 4), 1);      /* an emoji: four bytes, one token */
    /* Continuation bytes alone (a character split between two chunks) count nothing. */
    CHECK_INT(usage_estimate_text("\x89\x93", 2), 0);
}

static void test_estimate_input(void) {
    /* 4 wide + ceil((14 + 3) / 4) = 5 narrow, + 4 per message. */
    CHECK_INT(usage_estimate_input(conversation, 2), 4 + 5 + 8);
    CHECK_INT(usage_estimate_input(NULL, 0), 0);
}

static void test_reported_plain(void) {
    usage_meter m;
    usage_meter_init(&m);
    add_json(&m, "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"hello there\"}}],"
                 "\"usage\":{\"prompt_tokens\":31,\"completion_tokens\":7,\"total_tokens\":38}}");
    usage u = usage_meter_result(&m, conversation, 2);
    CHECK_INT(u.input_tokens, 31);
    CHECK_INT(u.output_tokens, 7);
    CHECK(!u.input_estimated && !u.output_estimated);
}

static void test_estimated_plain(void) {
    usage_meter m;
    usage_meter_init(&m);
    /* 12 narrow characters of content, a tool call's name and arguments (13 + 9) and reasoning (8). */
    add_json(&m, "{\"choices\":[{\"message\":{\"content\":\"hello world!\",\"reasoning_content\":\"thinking\","
                 "\"tool_calls\":[{\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"c\\\":\\\"x\\\"}\"}}]}}]}");
    usage u = usage_meter_result(&m, conversation, 2);
    CHECK_INT(u.input_tokens, 17);
    CHECK_INT(u.output_tokens, (12 + 8 + 11 + 9 + 3) / 4);
    CHECK(u.input_estimated && u.output_estimated);
}

static void test_stream(void) {
    usage_meter m;
    usage_meter_init(&m);
    add_json(&m, "{\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}],\"usage\":null}");
    add_json(&m, "{\"choices\":[{\"delta\":{\"content\":\"\xe4\xbd\xa0\"}}]}");
    add_json(&m, "{\"choices\":[{\"delta\":{\"content\":\"\xe5\xa5\xbd abc\"}}]}");
    add_json(&m, "{\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}");
    usage est = usage_meter_result(&m, conversation, 2);
    CHECK_INT(est.output_tokens, 2 + 1);                 /* 你好: 2 wide; " abc": 4 narrow */
    CHECK(est.output_estimated);
    /* The usage chunk, when it comes, replaces the estimate. */
    add_json(&m, "{\"choices\":[],\"usage\":{\"prompt_tokens\":20,\"completion_tokens\":5}}");
    usage u = usage_meter_result(&m, conversation, 2);
    CHECK_INT(u.input_tokens, 20);
    CHECK_INT(u.output_tokens, 5);
    CHECK(!u.input_estimated && !u.output_estimated);
}

/* Only what is a count is taken; the rest is estimated. */
static void test_partial_and_bad_counts(void) {
    usage_meter m;
    usage_meter_init(&m);
    add_json(&m, "{\"choices\":[{\"message\":{\"content\":\"abcdefgh\"}}],"
                 "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":\"9\"}}");
    usage u = usage_meter_result(&m, conversation, 2);
    CHECK_INT(u.input_tokens, 12);
    CHECK(!u.input_estimated);
    CHECK_INT(u.output_tokens, 2);
    CHECK(u.output_estimated);

    usage_meter_init(&m);
    add_json(&m, "{\"choices\":[],\"usage\":{\"prompt_tokens\":-3,\"completion_tokens\":1e300}}");
    add_json(&m, "{\"choices\":\"no\",\"usage\":[1,2]}");
    u = usage_meter_result(&m, conversation, 2);
    CHECK(u.input_estimated && u.output_estimated);
    CHECK_INT(u.input_tokens, 17);
    CHECK_INT(u.output_tokens, 0);
}

static void test_cost(void) {
    config_price free_price = {0, 0}, deepseek = {0.27, 1.10};
    usage u = {.input_tokens = 1000000, .output_tokens = 500000};
    CHECK(usage_cost(&free_price, &u) == 0);
    double c = usage_cost(&deepseek, &u);
    CHECK(c > 0.8199999 && c < 0.8200001);               /* 0.27 + 0.55 */
    usage small = {.input_tokens = 31, .output_tokens = 7};
    c = usage_cost(&deepseek, &small);
    CHECK(c > 31 * 0.27e-6 + 7 * 1.1e-6 - 1e-15 && c < 31 * 0.27e-6 + 7 * 1.1e-6 + 1e-15);
}

int main(void) {
    test_estimate_text();
    test_estimate_input();
    test_reported_plain();
    test_estimated_plain();
    test_stream();
    test_partial_and_bad_counts();
    test_cost();
    TEST_MAIN_END();
}
