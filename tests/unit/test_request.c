/* Unit tests for request parsing, validation and the upstream body.  Run
 * under AddressSanitizer, they also prove that no error path leaks. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "dialect.h"
#include "request.h"
#include "testlib.h"

#define MSGS "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]"
#define REQ(extra) "{\"model\":\"m\"," MSGS extra "}"

static int parse_len(const char *body, size_t len, chatreq *r, api_error *e) {
    memset(e, 0, sizeof *e);
    return chatreq_parse(body, len, r, e);
}

static int parse(const char *body, chatreq *r, api_error *e) {
    return parse_len(body, strlen(body), r, e);
}

/* Parses a body that must be refused with code and param (NULL for null). */
static void expect_error_len(int line, const char *body, size_t len, const char *code, const char *param) {
    chatreq r;
    api_error e;
    int rc;

    memset(&r, 0xAB, sizeof r);
    rc = parse_len(body, len, &r, &e);
    if (rc != -1 || e.status != 400 || strcmp(e.type, "invalid_request_error") != 0 ||
        !e.code || strcmp(e.code, code) != 0 || strcmp(e.param, param ? param : "") != 0 || !e.message[0]) {
        fprintf(stderr, "line %d: %.*s\n  got rc=%d status=%d code=%s param=%s message=%s\n", line, (int)len, body,
                rc, e.status, e.code ? e.code : "(null)", e.param, e.message);
        tl_failed++;
    } else {
        tl_passed++;
    }
    /* A refused request leaves nothing to free. */
    CHECK(r.root == NULL && r.msgs == NULL && r.joined == NULL && r.nmessages == 0);
    chatreq_free(&r);
}

#define EXPECT_ERROR(body, code, param) expect_error_len(__LINE__, body, strlen(body), code, param)

static void test_minimal(void) {
    chatreq r;
    api_error e;

    CHECK_INT(parse(REQ(""), &r, &e), 0);
    CHECK_STR(r.model, "m");
    CHECK(!r.stream && !r.include_usage);
    CHECK_INT(r.nmessages, 1);
    CHECK(r.msgs[0].user);
    CHECK_INT(r.msgs[0].len, 2);
    CHECK(memcmp(r.msgs[0].text, "hi", 2) == 0);
    chatreq_free(&r);
    CHECK(r.root == NULL);
    chatreq_free(&r);

    /* Whitespace around the value, a BOM, and Unicode text. */
    CHECK_INT(parse("\xEF\xBB\xBF \r\n\t{\"model\":\"車\",\"messages\":[{\"role\":\"user\",\"content\":\"打开空调 😀\"}]} \n", &r, &e), 0);
    CHECK_STR(r.model, "車");
    CHECK_STR(r.msgs[0].text, "打开空调 😀");
    chatreq_free(&r);
}

static void test_full_example(void) {
    const char *body =
        "{\"model\":\"car-assistant\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
        " \"max_completion_tokens\":256,\"temperature\":0.3,"
        " \"messages\":[{\"role\":\"system\",\"content\":\"You are a car assistant.\"},"
        "             {\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Open the sunroof\"}]}]}";
    chatreq r;
    api_error e;

    CHECK_INT(parse(body, &r, &e), 0);
    CHECK_STR(r.model, "car-assistant");
    CHECK(r.stream && r.include_usage);
    CHECK_INT(r.nmessages, 2);
    CHECK(!r.msgs[0].user);
    CHECK_STR(r.msgs[0].text, "You are a car assistant.");
    CHECK(r.msgs[1].user);
    CHECK_STR(r.msgs[1].text, "Open the sunroof");
    CHECK_INT(r.msgs[1].len, 16);
    CHECK_INT(r.njoined, 1);
    chatreq_free(&r);
}

static void test_messages(void) {
    chatreq r;
    api_error e;

    CHECK_INT(parse("{\"model\":\"m\",\"messages\":[{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"be brief\"}]},"
                    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
                    "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,AAAA\",\"detail\":\"low\"}},"
                    "{\"type\":\"input_audio\",\"input_audio\":{\"data\":\"AAAA\",\"format\":\"wav\"}},"
                    "{\"type\":\"text\",\"text\":\"\"},{\"type\":\"text\",\"text\":\"b\"}],\"name\":\"bob\"},"
                    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\","
                    "\"function\":{\"name\":\"set_sunroof\",\"arguments\":\"{\\\"open\\\":true}\"}}]},"
                    "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"done\"},"
                    "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"call_2\",\"type\":\"function\",\"function\":{}}]},"
                    "{\"role\":\"assistant\",\"content\":\"ok\",\"refusal\":null,\"name\":null,\"tool_calls\":null},"
                    "{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"x\"}}],"
                    "\"extra_key\":{\"kept\":true}}]}",
                    &r, &e), 0);
    CHECK_INT(r.nmessages, 7);
    CHECK_STR(r.msgs[0].text, "be brief");
    CHECK(!r.msgs[0].user);
    CHECK_STR(r.msgs[1].text, "a\n\nb");
    CHECK_INT(r.msgs[1].len, 4);
    CHECK(r.msgs[1].user);
    CHECK_INT(r.msgs[2].len, 0);
    CHECK(!r.msgs[2].user);
    CHECK_STR(r.msgs[3].text, "done");
    CHECK_INT(r.msgs[4].len, 0);
    CHECK_STR(r.msgs[5].text, "ok");
    CHECK_INT(r.msgs[6].len, 0);
    CHECK(r.msgs[6].user);
    CHECK_INT(r.njoined, 3);
    chatreq_free(&r);

    /* Escapes decode; a surrogate pair becomes one 4-byte character. */
    CHECK_INT(parse("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\\n\\t\\\"\\\\\\/\\u00e9\\ud83d\\ude00\"}]}",
                    &r, &e), 0);
    CHECK_STR(r.msgs[0].text, "a\n\t\"\\/\xC3\xA9\xF0\x9F\x98\x80");
    chatreq_free(&r);
}

static void test_optional_fields(void) {
    chatreq r;
    api_error e;

    CHECK_INT(parse(REQ(",\"stream\":true,\"stream_options\":{\"include_usage\":false,\"include_obfuscation\":true},"
                        "\"max_tokens\":2147483647,\"max_completion_tokens\":1,\"temperature\":2,\"top_p\":0,\"n\":128,"
                        "\"stop\":[\"a\",\"b\",\"c\",\"d\"],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],"
                        "\"tool_choice\":\"auto\",\"parallel_tool_calls\":false,\"response_format\":{\"type\":\"json_object\"},"
                        "\"user\":\"u\",\"seed\":-42,\"logprobs\":true,\"top_logprobs\":20,\"frequency_penalty\":-2,"
                        "\"presence_penalty\":2,\"logit_bias\":{\"50256\":-100},\"metadata\":{\"k\":\"v\"},\"store\":false,"
                        "\"service_tier\":\"auto\",\"reasoning_effort\":\"low\",\"modalities\":[\"text\"],\"audio\":{},"
                        "\"prediction\":{},\"web_search_options\":{},\"safety_identifier\":\"s\",\"prompt_cache_key\":\"k\","
                        "\"verbosity\":\"low\",\"functions\":[],\"function_call\":{\"name\":\"f\"},\"top_k\":40,\"min_p\":0.05,"
                        "\"repeat_penalty\":1.1,\"typical_p\":1,\"mirostat\":2,\"chat_template_kwargs\":{\"enable_thinking\":false},"
                        "\"enable_thinking\":false,\"reasoning_format\":\"none\",\"cache_prompt\":true"),
                    &r, &e), 0);
    CHECK(r.stream && !r.include_usage);
    chatreq_free(&r);

    /* null means absent for every optional field. */
    CHECK_INT(parse(REQ(",\"stream\":null,\"stream_options\":null,\"max_tokens\":null,\"temperature\":null,\"stop\":null,"
                        "\"tools\":null,\"tool_choice\":null,\"seed\":null,\"user\":null,\"n\":null"),
                    &r, &e), 0);
    CHECK(!r.stream && !r.include_usage);
    chatreq_free(&r);

    CHECK_INT(parse(REQ(",\"stop\":\"x\",\"seed\":9007199254740993,\"tool_choice\":{\"type\":\"function\"}"), &r, &e), 0);
    chatreq_free(&r);
    CHECK_INT(parse(REQ(",\"stop\":[],\"stream\":true,\"stream_options\":{}"), &r, &e), 0);
    CHECK(r.stream && !r.include_usage);
    chatreq_free(&r);
}

static void test_bytes(void) {
    static const char *bad[] = {
        "\xC0\x80", "\xC1\xBF", "\xE0\x80\x80", "\xE0\x9F\xBF", "\xED\xA0\x80", "\xED\xBF\xBF",
        "\xF0\x80\x80\x80", "\xF0\x8F\xBF\xBF", "\xF4\x90\x80\x80", "\xF5\x80\x80\x80", "\xFF", "\x80",
        "\xE4\xB8", "\xC3", "\xF0\x9F\x98",
    };
    char body[128];

    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(body, sizeof body, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a%sb\"}]}", bad[i]);
        EXPECT_ERROR(body, "invalid_utf8", NULL);
        snprintf(body, sizeof body, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}%s", bad[i]);
        EXPECT_ERROR(body, "invalid_utf8", NULL);
    }
    EXPECT_ERROR("{\"m\xC3\x28\":1}", "invalid_utf8", NULL);
    expect_error_len(__LINE__, REQ(""), strlen(REQ("")) - 2, "invalid_json", NULL);
    expect_error_len(__LINE__, "{\"model\":\"m\0\"}", 14, "invalid_json", NULL);
    expect_error_len(__LINE__, "{\"model\":\"m\"}\0", 14, "invalid_json", NULL);
}

static void test_escapes(void) {
    EXPECT_ERROR(REQ(",\"user\":\"\\ud800\""), "invalid_utf8", NULL);
    EXPECT_ERROR(REQ(",\"user\":\"\\ud800x\""), "invalid_utf8", NULL);
    EXPECT_ERROR(REQ(",\"user\":\"\\udc00\\ud800\""), "invalid_utf8", NULL);
    EXPECT_ERROR(REQ(",\"user\":\"\\ud800\\u0041\""), "invalid_utf8", NULL);
    EXPECT_ERROR(REQ(",\"user\":\"\\ud800\\ud800\""), "invalid_utf8", NULL);
    EXPECT_ERROR(REQ(",\"user\":\"\\ud83d\""), "invalid_utf8", NULL);
    EXPECT_ERROR(REQ(",\"user\":\"\\uZZZZ\""), "invalid_json", NULL);
    EXPECT_ERROR(REQ(",\"user\":\"\\u12\""), "invalid_json", NULL);
    EXPECT_ERROR(REQ(",\"user\":\"\\q\""), "invalid_json", NULL);
    EXPECT_ERROR(REQ(",\"user\":\"\\U0041\""), "invalid_json", NULL);
    EXPECT_ERROR(REQ(",\"user\":\"a\\u0000b\""), "invalid_value", NULL);
    EXPECT_ERROR("{\"model\\u0000x\":\"m\"," MSGS "}", "invalid_value", NULL);
    EXPECT_ERROR(REQ(",\"user\":\"tab\there\""), "invalid_json", NULL);
    EXPECT_ERROR(REQ(",\"user\":\"line\nbreak\""), "invalid_json", NULL);
    EXPECT_ERROR("{\x01\"model\":\"m\"," MSGS "}", "invalid_json", NULL);
    EXPECT_ERROR("{\f\"model\":\"m\"," MSGS "}", "invalid_json", NULL);
    EXPECT_ERROR("{\"model\":\"m\"," MSGS ",\"user\":\"\\", "invalid_json", NULL);
    EXPECT_ERROR("\"\\u", "invalid_json", NULL);
}

static void test_syntax(void) {
    api_error e;
    chatreq r;
    char where[32];

    EXPECT_ERROR("", "invalid_json", NULL);
    EXPECT_ERROR("   ", "invalid_json", NULL);
    EXPECT_ERROR("hello", "invalid_json", NULL);
    EXPECT_ERROR("{", "invalid_json", NULL);
    EXPECT_ERROR("{\"model\":", "invalid_json", NULL);
    EXPECT_ERROR("{\"model\":\"m\",}", "invalid_json", NULL);
    EXPECT_ERROR(REQ("") " x", "invalid_json", NULL);
    EXPECT_ERROR(REQ("") REQ(""), "invalid_json", NULL);
    EXPECT_ERROR(REQ("") "\x0b", "invalid_json", NULL);
    EXPECT_ERROR("[]", "invalid_json", NULL);
    EXPECT_ERROR("\"model\"", "invalid_json", NULL);
    EXPECT_ERROR("42", "invalid_json", NULL);
    EXPECT_ERROR("null", "invalid_json", NULL);
    expect_error_len(__LINE__, NULL, 0, "invalid_json", NULL);

    /* The message says where. */
    CHECK_INT(parse("{\"model\": tru}", &r, &e), -1);
    CHECK(strstr(e.message, "byte 10") != NULL);
    CHECK_INT(parse(REQ("") "  x", &r, &e), -1);
    snprintf(where, sizeof where, "byte %zu", strlen(REQ("")) + 2);
    CHECK(strstr(e.message, where) != NULL);
}

static char *nested(size_t depth, const char *open, const char *close) {
    size_t head = strlen("{\"model\":\"m\"," MSGS ",\"metadata\":{\"k\":");
    char *s = malloc(head + depth * (strlen(open) + strlen(close)) + 3), *at = s;

    memcpy(at, "{\"model\":\"m\"," MSGS ",\"metadata\":{\"k\":", head);
    at += head;
    for (size_t i = 0; i < depth; i++) at += sprintf(at, "%s", open);
    for (size_t i = 0; i < depth; i++) at += sprintf(at, "%s", close);
    strcpy(at, "}}");
    return s;
}

static void test_nesting(void) {
    chatreq r;
    api_error e;
    char *s;

    /* Within cJSON's limit of 1000 levels: accepted and copied upstream. */
    s = nested(990, "[", "]");
    CHECK_INT(parse(s, &r, &e), 0);
    if (r.root) {
        config_backend b = {.model = "up", .dialect = DIALECT_COMPAT};
        char *up = dialect_body(&r, &b, NULL);
        CHECK(up != NULL);
        free(up);
    }
    chatreq_free(&r);
    free(s);

    s = nested(1001, "[", "]");
    EXPECT_ERROR(s, "invalid_json", NULL);
    free(s);
    s = nested(100000, "{\"a\":", "}");
    EXPECT_ERROR(s, "invalid_json", NULL);
    free(s);
    s = nested(100000, "[", "");
    EXPECT_ERROR(s, "invalid_json", NULL);
    free(s);
}

static void test_duplicates(void) {
    EXPECT_ERROR("{\"model\":\"m\",\"model\":\"n\"," MSGS "}", "invalid_request", "model");
    EXPECT_ERROR(REQ(",\"stream\":true,\"stream\":false"), "invalid_request", "stream");
    EXPECT_ERROR(REQ(",\"user\":null,\"user\":\"x\""), "invalid_request", "user");
    EXPECT_ERROR("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\",\"content\":\"b\"}]}",
                 "invalid_request", "messages[0].content");
    EXPECT_ERROR("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"},"
                 "{\"role\":\"user\",\"x\":1,\"y\":2,\"z\":3,\"role\":\"system\",\"content\":\"b\"}]}",
                 "invalid_request", "messages[1].role");
    EXPECT_ERROR("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\",\"text\":\"b\"}]}]}",
                 "invalid_request", "messages[0].content[0].text");
    EXPECT_ERROR(REQ(",\"stream\":true,\"stream_options\":{\"include_usage\":false,\"include_usage\":true}"),
                 "invalid_request", "stream_options.include_usage");
}

static void test_required(void) {
    EXPECT_ERROR("{" MSGS "}", "invalid_request", "model");
    EXPECT_ERROR("{\"model\":5," MSGS "}", "invalid_request", "model");
    EXPECT_ERROR("{\"model\":null," MSGS "}", "invalid_request", "model");
    EXPECT_ERROR("{\"model\":\"\"," MSGS "}", "invalid_value", "model");
    EXPECT_ERROR("{\"model\":\"m\"}", "invalid_request", "messages");
    EXPECT_ERROR("{}", "invalid_request", "model");
    EXPECT_ERROR("{\"model\":\"m\",\"messages\":[]}", "invalid_request", "messages");
    EXPECT_ERROR("{\"model\":\"m\",\"messages\":{}}", "invalid_request", "messages");
    EXPECT_ERROR("{\"model\":\"m\",\"messages\":null}", "invalid_request", "messages");
    EXPECT_ERROR("{\"model\":\"m\",\"messages\":\"hi\"}", "invalid_request", "messages");
}

#define MSG(m) "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}," m "]}"

static void test_message_errors(void) {
    EXPECT_ERROR(MSG("\"hi\""), "invalid_request", "messages[1]");
    EXPECT_ERROR(MSG("{\"content\":\"x\"}"), "invalid_request", "messages[1].role");
    EXPECT_ERROR(MSG("{\"role\":5,\"content\":\"x\"}"), "invalid_request", "messages[1].role");
    EXPECT_ERROR(MSG("{\"role\":\"robot\",\"content\":\"x\"}"), "invalid_value", "messages[1].role");
    EXPECT_ERROR(MSG("{\"role\":\"function\",\"content\":\"x\"}"), "invalid_value", "messages[1].role");
    EXPECT_ERROR(MSG("{\"role\":\"User\",\"content\":\"x\"}"), "invalid_value", "messages[1].role");
    EXPECT_ERROR(MSG("{\"role\":\"user\"}"), "invalid_request", "messages[1].content");
    EXPECT_ERROR(MSG("{\"role\":\"system\",\"content\":null}"), "invalid_request", "messages[1].content");
    EXPECT_ERROR(MSG("{\"role\":\"developer\"}"), "invalid_request", "messages[1].content");
    EXPECT_ERROR(MSG("{\"role\":\"user\",\"content\":5}"), "invalid_request", "messages[1].content");
    EXPECT_ERROR(MSG("{\"role\":\"user\",\"content\":{\"text\":\"x\"}}"), "invalid_request", "messages[1].content");
    EXPECT_ERROR(MSG("{\"role\":\"assistant\",\"content\":null}"), "invalid_request", "messages[1].content");
    EXPECT_ERROR(MSG("{\"role\":\"assistant\"}"), "invalid_request", "messages[1].content");
    EXPECT_ERROR(MSG("{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[]}"), "invalid_request", "messages[1].content");
    EXPECT_ERROR(MSG("{\"role\":\"assistant\",\"content\":\"x\",\"tool_calls\":{}}"), "invalid_request", "messages[1].tool_calls");
    EXPECT_ERROR(MSG("{\"role\":\"assistant\",\"content\":\"x\",\"tool_calls\":[1]}"), "invalid_request", "messages[1].tool_calls[0]");
    EXPECT_ERROR(MSG("{\"role\":\"tool\",\"content\":\"x\"}"), "invalid_request", "messages[1].tool_call_id");
    EXPECT_ERROR(MSG("{\"role\":\"tool\",\"content\":\"x\",\"tool_call_id\":7}"), "invalid_request", "messages[1].tool_call_id");
    EXPECT_ERROR(MSG("{\"role\":\"tool\",\"tool_call_id\":\"c\"}"), "invalid_request", "messages[1].content");
    EXPECT_ERROR(MSG("{\"role\":\"user\",\"content\":\"x\",\"name\":1}"), "invalid_request", "messages[1].name");
}

#define PARTS(p) "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"}," p "]}]}"

static void test_part_errors(void) {
    EXPECT_ERROR("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[]}]}", "invalid_request", "messages[0].content");
    EXPECT_ERROR(PARTS("\"text\""), "invalid_request", "messages[0].content[1]");
    EXPECT_ERROR(PARTS("{\"text\":\"b\"}"), "invalid_request", "messages[0].content[1].type");
    EXPECT_ERROR(PARTS("{\"type\":1}"), "invalid_request", "messages[0].content[1].type");
    EXPECT_ERROR(PARTS("{\"type\":\"file\",\"file\":{}}"), "invalid_value", "messages[0].content[1].type");
    EXPECT_ERROR(PARTS("{\"type\":\"refusal\",\"refusal\":\"no\"}"), "invalid_value", "messages[0].content[1].type");
    EXPECT_ERROR(PARTS("{\"type\":\"text\"}"), "invalid_request", "messages[0].content[1].text");
    EXPECT_ERROR(PARTS("{\"type\":\"text\",\"text\":null}"), "invalid_request", "messages[0].content[1].text");
    EXPECT_ERROR(PARTS("{\"type\":\"image_url\"}"), "invalid_request", "messages[0].content[1].image_url");
    EXPECT_ERROR(PARTS("{\"type\":\"image_url\",\"image_url\":\"http://x\"}"), "invalid_request", "messages[0].content[1].image_url");
    EXPECT_ERROR(PARTS("{\"type\":\"image_url\",\"image_url\":{}}"), "invalid_request", "messages[0].content[1].image_url.url");
    EXPECT_ERROR(PARTS("{\"type\":\"image_url\",\"image_url\":{\"url\":1}}"), "invalid_request", "messages[0].content[1].image_url.url");
    EXPECT_ERROR(PARTS("{\"type\":\"input_audio\",\"input_audio\":[]}"), "invalid_request", "messages[0].content[1].input_audio");
    EXPECT_ERROR("{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"x\"}}]}]}",
                 "invalid_value", "messages[0].content[0].type");
}

static void test_field_errors(void) {
    EXPECT_ERROR(REQ(",\"stream\":\"yes\""), "invalid_request", "stream");
    EXPECT_ERROR(REQ(",\"stream\":1"), "invalid_request", "stream");
    EXPECT_ERROR(REQ(",\"stream_options\":{\"include_usage\":true}"), "invalid_request", "stream_options");
    EXPECT_ERROR(REQ(",\"stream\":false,\"stream_options\":{}"), "invalid_request", "stream_options");
    EXPECT_ERROR(REQ(",\"stream\":true,\"stream_options\":true"), "invalid_request", "stream_options");
    EXPECT_ERROR(REQ(",\"stream\":true,\"stream_options\":{\"include_usage\":1}"), "invalid_request", "stream_options.include_usage");
    EXPECT_ERROR(REQ(",\"max_tokens\":0"), "invalid_value", "max_tokens");
    EXPECT_ERROR(REQ(",\"max_tokens\":-5"), "invalid_value", "max_tokens");
    EXPECT_ERROR(REQ(",\"max_tokens\":2147483648"), "invalid_value", "max_tokens");
    EXPECT_ERROR(REQ(",\"max_tokens\":1.5"), "invalid_request", "max_tokens");
    EXPECT_ERROR(REQ(",\"max_tokens\":\"10\""), "invalid_request", "max_tokens");
    EXPECT_ERROR(REQ(",\"max_tokens\":1e999"), "invalid_value", "max_tokens");
    EXPECT_ERROR(REQ(",\"max_completion_tokens\":0"), "invalid_value", "max_completion_tokens");
    EXPECT_ERROR(REQ(",\"max_completion_tokens\":1e10"), "invalid_value", "max_completion_tokens");
    EXPECT_ERROR(REQ(",\"max_completion_tokens\":true"), "invalid_request", "max_completion_tokens");
    EXPECT_ERROR(REQ(",\"temperature\":-0.1"), "invalid_value", "temperature");
    EXPECT_ERROR(REQ(",\"temperature\":2.0001"), "invalid_value", "temperature");
    EXPECT_ERROR(REQ(",\"temperature\":\"1\""), "invalid_request", "temperature");
    EXPECT_ERROR(REQ(",\"temperature\":-1e999"), "invalid_value", "temperature");
    EXPECT_ERROR(REQ(",\"top_p\":1.5"), "invalid_value", "top_p");
    EXPECT_ERROR(REQ(",\"n\":0"), "invalid_value", "n");
    EXPECT_ERROR(REQ(",\"n\":129"), "invalid_value", "n");
    EXPECT_ERROR(REQ(",\"n\":2.5"), "invalid_request", "n");
    EXPECT_ERROR(REQ(",\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]"), "invalid_value", "stop");
    EXPECT_ERROR(REQ(",\"stop\":[\"a\",1]"), "invalid_request", "stop[1]");
    EXPECT_ERROR(REQ(",\"stop\":5"), "invalid_request", "stop");
    EXPECT_ERROR(REQ(",\"tools\":{}"), "invalid_request", "tools");
    EXPECT_ERROR(REQ(",\"tools\":[{},\"f\"]"), "invalid_request", "tools[1]");
    EXPECT_ERROR(REQ(",\"tool_choice\":5"), "invalid_request", "tool_choice");
    EXPECT_ERROR(REQ(",\"parallel_tool_calls\":\"no\""), "invalid_request", "parallel_tool_calls");
    EXPECT_ERROR(REQ(",\"response_format\":\"json\""), "invalid_request", "response_format");
    EXPECT_ERROR(REQ(",\"user\":5"), "invalid_request", "user");
    EXPECT_ERROR(REQ(",\"seed\":1.5"), "invalid_request", "seed");
    EXPECT_ERROR(REQ(",\"seed\":1e19"), "invalid_value", "seed");
    EXPECT_ERROR(REQ(",\"seed\":9223372036854775808"), "invalid_value", "seed");
    EXPECT_ERROR(REQ(",\"frequency_penalty\":2.5"), "invalid_value", "frequency_penalty");
    EXPECT_ERROR(REQ(",\"presence_penalty\":-3"), "invalid_value", "presence_penalty");
    EXPECT_ERROR(REQ(",\"logprobs\":\"true\""), "invalid_request", "logprobs");
    EXPECT_ERROR(REQ(",\"top_logprobs\":21"), "invalid_value", "top_logprobs");
    EXPECT_ERROR(REQ(",\"top_logprobs\":-1"), "invalid_value", "top_logprobs");
    EXPECT_ERROR(REQ(",\"logit_bias\":[]"), "invalid_request", "logit_bias");
    EXPECT_ERROR(REQ(",\"modalities\":\"text\""), "invalid_request", "modalities");
    EXPECT_ERROR(REQ(",\"function_call\":[]"), "invalid_request", "function_call");
    EXPECT_ERROR(REQ(",\"mirostat\":3"), "invalid_value", "mirostat");
    EXPECT_ERROR(REQ(",\"cache_prompt\":\"yes\""), "invalid_request", "cache_prompt");
    /* Infinity anywhere, however deep, is refused. */
    EXPECT_ERROR(REQ(",\"metadata\":{\"a\":[1,{\"b\":1e999}]}"), "invalid_value", "metadata");
    EXPECT_ERROR(REQ(",\"tools\":[{\"function\":{\"parameters\":{\"maximum\":-1E400}}}]"), "invalid_value", "tools");
    EXPECT_ERROR("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\",\"x\":1e309}]}", "invalid_value", "messages");
}

static void test_unknown(void) {
    chatreq r;
    api_error e;

    CHECK_INT(parse(REQ(",\"foo\":1"), &r, &e), -1);
    CHECK_STR(e.code, "unknown_parameter");
    CHECK_STR(e.param, "foo");
    CHECK_STR(e.message, "Unrecognized request argument supplied: foo");
    EXPECT_ERROR(REQ(",\"Model\":\"m\""), "unknown_parameter", "Model");
    EXPECT_ERROR(REQ(",\"options\":{\"num_ctx\":8192}"), "unknown_parameter", "options");
    EXPECT_ERROR(REQ(",\"\":1"), "unknown_parameter", NULL);
    /* The first problem in document order is the one reported. */
    EXPECT_ERROR("{\"foo\":1,\"model\":5," MSGS "}", "unknown_parameter", "foo");
    EXPECT_ERROR("{\"model\":5,\"foo\":1," MSGS "}", "invalid_request", "model");
}

/* Upstream body helpers: parse the output back to inspect it. */
static cJSON *upstream(const char *body, dialect_t dialect, chatreq *r) {
    config_backend b = {.name = "b", .model = "upstream-model", .dialect = dialect};
    api_error e;
    size_t len = 0;
    char *before, *after, *text;
    cJSON *json;

    if (parse(body, r, &e) != 0) {
        fprintf(stderr, "upstream(): %s: %s\n", body, e.message);
        tl_failed++;
        return cJSON_CreateObject();
    }
    before = cJSON_PrintUnformatted(r->root);
    text = dialect_body(r, &b, &len);
    after = cJSON_PrintUnformatted(r->root);
    CHECK(text != NULL);
    CHECK_INT(len, strlen(text));
    /* The client's request is left as it was. */
    CHECK_STR(after, before);
    CHECK(strchr(text, '\n') == NULL);
    json = cJSON_Parse(text);
    CHECK(json != NULL);
    /* What goes upstream is itself a valid request. */
    {
        chatreq again;
        CHECK_INT(parse(text, &again, &e), 0);
        chatreq_free(&again);
    }
    free(before);
    free(after);
    free(text);
    return json;
}

static const cJSON *get(const cJSON *obj, const char *key) {
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

static void test_upstream_openai(void) {
    const char *body = "{\"model\":\"cloud\",\"messages\":[{\"role\":\"developer\",\"content\":\"d\"},{\"role\":\"user\",\"content\":\"u\"}],"
                       "\"max_completion_tokens\":256,\"store\":true,\"user\":\"x\",\"metadata\":{\"k\":\"v\"},\"temperature\":0.3}";
    chatreq r;
    cJSON *j = upstream(body, DIALECT_OPENAI, &r);

    CHECK_STR(get(j, "model")->valuestring, "upstream-model");
    CHECK_STR(r.model, "cloud");
    CHECK_INT(get(j, "max_completion_tokens")->valueint, 256);
    CHECK(get(j, "max_tokens") == NULL);
    CHECK(cJSON_IsTrue(get(j, "store")));
    CHECK_STR(get(j, "user")->valuestring, "x");
    CHECK(get(j, "metadata") != NULL);
    CHECK(get(j, "stream_options") == NULL);
    CHECK_STR(get(cJSON_GetArrayItem(get(j, "messages"), 0), "role")->valuestring, "developer");
    CHECK(get(j, "temperature")->valuedouble == 0.3);
    cJSON_Delete(j);
    chatreq_free(&r);
}

static void test_upstream_stream(void) {
    chatreq r;
    cJSON *j;

    j = upstream(REQ(",\"stream\":true"), DIALECT_OPENAI, &r);
    CHECK(cJSON_IsTrue(get(get(j, "stream_options"), "include_usage")));
    CHECK(!r.include_usage);
    cJSON_Delete(j);
    chatreq_free(&r);

    j = upstream(REQ(",\"stream\":true,\"stream_options\":{\"include_usage\":false,\"include_obfuscation\":false}"),
                 DIALECT_COMPAT, &r);
    CHECK(cJSON_IsTrue(get(get(j, "stream_options"), "include_usage")));
    CHECK(cJSON_IsFalse(get(get(j, "stream_options"), "include_obfuscation")));
    CHECK(!r.include_usage);
    CHECK_INT(cJSON_GetArraySize(get(j, "stream_options")), 2);
    cJSON_Delete(j);
    chatreq_free(&r);

    j = upstream(REQ(",\"stream\":true,\"stream_options\":null"), DIALECT_COMPAT, &r);
    CHECK(cJSON_IsTrue(get(get(j, "stream_options"), "include_usage")));
    cJSON_Delete(j);
    chatreq_free(&r);

    j = upstream(REQ(",\"stream\":false"), DIALECT_COMPAT, &r);
    CHECK(get(j, "stream_options") == NULL);
    cJSON_Delete(j);
    chatreq_free(&r);
}

static void test_upstream_compat(void) {
    const char *body =
        "{\"model\":\"device\",\"messages\":[{\"role\":\"developer\",\"content\":\"d\"},{\"role\":\"system\",\"content\":\"s\"},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"u\"}]},{\"role\":\"developer\",\"content\":\"d2\"}],"
        "\"max_completion_tokens\":256,\"store\":true,\"metadata\":{},\"service_tier\":\"auto\",\"prediction\":{},"
        "\"web_search_options\":{},\"modalities\":[\"text\"],\"audio\":{},\"safety_identifier\":\"s\","
        "\"prompt_cache_key\":\"k\",\"verbosity\":\"low\",\"user\":\"x\",\"logit_bias\":{\"1\":2},"
        "\"reasoning_effort\":\"low\",\"top_k\":40,\"seed\":7}";
    static const char *dropped[] = {"store", "metadata", "service_tier", "prediction", "web_search_options",
                                    "modalities", "audio", "safety_identifier", "prompt_cache_key", "verbosity",
                                    "user", "max_completion_tokens"};
    chatreq r;
    cJSON *j = upstream(body, DIALECT_COMPAT, &r);
    const cJSON *msgs = get(j, "messages");

    CHECK_STR(get(j, "model")->valuestring, "upstream-model");
    CHECK_INT(get(j, "max_tokens")->valueint, 256);
    for (size_t i = 0; i < sizeof dropped / sizeof *dropped; i++) CHECK(get(j, dropped[i]) == NULL);
    CHECK(get(j, "logit_bias") != NULL);
    CHECK_STR(get(j, "reasoning_effort")->valuestring, "low");
    CHECK_INT(get(j, "top_k")->valueint, 40);
    CHECK_INT(get(j, "seed")->valueint, 7);
    CHECK_INT(cJSON_GetArraySize(msgs), 4);
    CHECK_STR(get(cJSON_GetArrayItem(msgs, 0), "role")->valuestring, "system");
    CHECK_STR(get(cJSON_GetArrayItem(msgs, 0), "content")->valuestring, "d");
    CHECK_STR(get(cJSON_GetArrayItem(msgs, 1), "role")->valuestring, "system");
    CHECK_STR(get(cJSON_GetArrayItem(msgs, 2), "role")->valuestring, "user");
    CHECK(cJSON_IsArray(get(cJSON_GetArrayItem(msgs, 2), "content")));
    CHECK_STR(get(cJSON_GetArrayItem(msgs, 3), "role")->valuestring, "system");
    /* The parsed request still holds the client's texts. */
    CHECK_STR(r.msgs[3].text, "d2");
    cJSON_Delete(j);
    chatreq_free(&r);

    /* max_tokens wins over max_completion_tokens. */
    j = upstream(REQ(",\"max_tokens\":100,\"max_completion_tokens\":256"), DIALECT_COMPAT, &r);
    CHECK_INT(get(j, "max_tokens")->valueint, 100);
    CHECK(get(j, "max_completion_tokens") == NULL);
    cJSON_Delete(j);
    chatreq_free(&r);

    j = upstream(REQ(",\"max_tokens\":null,\"max_completion_tokens\":256"), DIALECT_COMPAT, &r);
    CHECK_INT(get(j, "max_tokens")->valueint, 256);
    CHECK(get(j, "max_completion_tokens") == NULL);
    cJSON_Delete(j);
    chatreq_free(&r);

    j = upstream(REQ(",\"max_completion_tokens\":null"), DIALECT_COMPAT, &r);
    CHECK(get(j, "max_tokens") == NULL);
    CHECK(get(j, "max_completion_tokens") == NULL);
    cJSON_Delete(j);
    chatreq_free(&r);

    /* Escaped and non-ASCII text survives the round trip. */
    j = upstream("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"\\\"q\\\" \\u4e2d \xe6\x96\x87\\n\"}]}",
                 DIALECT_COMPAT, &r);
    CHECK_STR(get(cJSON_GetArrayItem(get(j, "messages"), 0), "content")->valuestring, "\"q\" 中 文\n");
    cJSON_Delete(j);
    chatreq_free(&r);
}

int main(void) {
    test_minimal();
    test_full_example();
    test_messages();
    test_optional_fields();
    test_bytes();
    test_escapes();
    test_syntax();
    test_nesting();
    test_duplicates();
    test_required();
    test_message_errors();
    test_part_errors();
    test_field_errors();
    test_unknown();
    test_upstream_openai();
    test_upstream_stream();
    test_upstream_compat();
    TEST_MAIN_END();
}
