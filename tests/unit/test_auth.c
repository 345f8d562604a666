/* Client keys: loading, errors that never show a key, matching, in-flight counts;
 * and the new limits and tls keys of the configuration. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "config.h"
#include "testlib.h"

#define KEY_A "kA-0123456789abcdef"
#define KEY_B "kB-0123456789abcdef"
#define BACKEND "{\"name\":\"dev\",\"tier\":\"device\",\"url\":\"http://127.0.0.1:8080/v1\",\"model\":\"m\"}"

static const char *env_value;

static const char *admin_value;

static const char *fake_env(const char *name) {
    if (strcmp(name, "ADMIN") == 0) return admin_value;
    return strcmp(name, "KEYS") == 0 ? env_value : NULL;
}

static config *parse_with_keys(const char *keys, char *err) {
    static const char json[] = "{\"backends\":[" BACKEND "],\"auth\":{\"keys_env\":\"KEYS\"}}";
    env_value = keys;
    return config_parse(json, strlen(json), err, 256, fake_env);
}

static void expect_key_error(const char *keys, const char *want, const char *secret) {
    char err[256] = "";
    config *c = parse_with_keys(keys, err);
    CHECK(c == NULL);
    if (!strstr(err, want)) fprintf(stderr, "  got error: %s\n  wanted: %s\n", err, want);
    CHECK(strstr(err, want) != NULL);
    CHECK(!secret || strstr(err, secret) == NULL);
}

static void test_load(void) {
    char err[256] = "";
    config *c = parse_with_keys(" kiosk-3:" KEY_A " ,\n# comment,\n\ncar:" KEY_B "\n", err);
    CHECK(c != NULL);
    if (!c) return;
    CHECK_INT((int)c->nclient_keys, 2);
    CHECK_STR(c->client_keys[0].name, "kiosk-3");
    CHECK_STR(c->client_keys[1].key, KEY_B);
    config_free(c);
    expect_key_error("kiosk:short", "entry 1 (kiosk): the key must be", "short");
    expect_key_error("a:" KEY_A ",b:" KEY_A, "entry 2 (b) has the same key as a", KEY_A);
    expect_key_error("a:" KEY_A ",a:" KEY_B, "the name a is used twice", KEY_B);
    expect_key_error(KEY_A, "entry 1: must be \"name:key\"", KEY_A);
    expect_key_error("bad name:" KEY_A, "entry 1: must be", KEY_A);
    expect_key_error(NULL, "auth.keys_env: environment variable KEYS is not set", NULL);
}

static void test_match(void) {
    char err[256] = "";
    config *c = parse_with_keys("a:" KEY_A ",b:" KEY_B, err);
    CHECK(c != NULL);
    if (!c) return;
    auth *a = auth_new(c);
    CHECK(a && auth_enabled(a));
    CHECK_INT(auth_find(a, "Bearer " KEY_A), 0);
    CHECK_INT(auth_find(a, "bearer " KEY_B), 1);
    CHECK_INT(auth_find(a, "Bearer " KEY_B "x"), -1);
    CHECK_INT(auth_find(a, "Bearer kB-0123456789abcde"), -1);
    CHECK_INT(auth_find(a, KEY_A), -1);
    CHECK_INT(auth_find(a, "Bearer "), -1);
    CHECK_INT(auth_find(a, NULL), -1);
    CHECK_STR(auth_key_name(a, 1), "b");
    api_error e;
    int k1, k2;
    c->max_inflight_per_key = 1;
    CHECK_INT(auth_admit(a, "Bearer " KEY_A, &k1, &e), 0);
    CHECK_INT(auth_admit(a, "Bearer " KEY_A, &k2, &e), -1);
    CHECK_INT(e.status, 429);
    CHECK_INT(auth_admit(a, "Bearer nope-nope-nope-nope", &k2, &e), -1);
    CHECK_INT(e.status, 401);
    auth_release(a, k1);
    CHECK_INT(auth_admit(a, "Bearer " KEY_A, &k2, &e), 0);
    auth_release(a, k2);
    auth_free(a);
    config_free(c);
}

static void test_off(void) {
    char err[256] = "";
    static const char json[] = "{\"backends\":[" BACKEND "]}";
    config *c = config_parse(json, strlen(json), err, 256, fake_env);
    CHECK(c != NULL);
    if (!c) return;
    auth *a = auth_new(c);
    int k;
    api_error e;
    CHECK(a && !auth_enabled(a));
    CHECK_INT(auth_admit(a, NULL, &k, &e), 0);
    CHECK_INT(k, -1);
    CHECK_INT(c->max_json_depth, 64);
    CHECK_INT((int)c->max_header_bytes, 32768);
    CHECK_INT((int)c->max_connections_per_ip, 256);
    CHECK_INT(c->request_timeout_s, 60);
    CHECK_INT(c->max_messages, 1024);
    CHECK_INT((int)c->max_message_chars, 524288);
    CHECK_INT(c->max_inflight_per_key, 64);
    auth_free(a);
    config_free(c);
}

static void expect_config_error(const char *json, const char *want) {
    char err[256] = "";
    config *c = config_parse(json, strlen(json), err, 256, fake_env);
    CHECK(c == NULL);
    if (!strstr(err, want)) fprintf(stderr, "  got error: %s\n  wanted: %s\n", err, want);
    CHECK(strstr(err, want) != NULL);
}

static void test_config_errors(void) {
    expect_config_error("{\"backends\":[" BACKEND "],\"auth\":{}}", "auth: needs exactly one of keys_env and keys_file");
    expect_config_error("{\"backends\":[" BACKEND "],\"auth\":{\"keys_file\":\"/nonexistent/keys\"}}",
                        "auth.keys_file: /nonexistent/keys: No such file");
    expect_config_error("{\"backends\":[" BACKEND "],\"limits\":{\"max_json_depth\":1}}",
                        "limits.max_json_depth: must be an integer from 4 to 512");
    expect_config_error("{\"backends\":[{\"name\":\"c\",\"tier\":\"cloud\",\"url\":\"http://x/v1\",\"model\":\"m\","
                        "\"tls\":{\"insecure_skip_verify\":true}}]}", "backends[0].tls: applies only to an https:// url");
    expect_config_error("{\"backends\":[{\"name\":\"c\",\"tier\":\"cloud\",\"url\":\"https://x/v1\",\"model\":\"m\","
                        "\"tls\":{\"ca_file\":\"/nonexistent/ca.pem\"}}]}", "backends[0].tls.ca_file: /nonexistent/ca.pem");
    expect_config_error("{\"backends\":[{\"name\":\"c\",\"tier\":\"cloud\",\"url\":\"https://x/v1\",\"model\":\"m\","
                        "\"tls\":{\"verify\":false}}]}", "backends[0].tls.verify: unknown key");
}

/* Admin keys: their own list, never a client key; 401, 403 or the name. */
static void test_admin(void) {
    static const char both[] = "{\"backends\":[" BACKEND "],\"auth\":{\"keys_env\":\"KEYS\",\"admin_keys_env\":\"ADMIN\"}}";
    static const char only[] = "{\"backends\":[" BACKEND "],\"auth\":{\"admin_keys_env\":\"ADMIN\"}}";
    char err[256] = "";
    env_value = "kiosk:" KEY_A;
    admin_value = "ops:" KEY_B;
    config *c = config_parse(both, strlen(both), err, sizeof err, fake_env);
    CHECK(c != NULL);
    if (!c) return;
    CHECK_INT((int)c->nadmin_keys, 1);
    CHECK_STR(c->admin_keys[0].name, "ops");
    auth *a = auth_new(c);
    const char *name;
    api_error e;
    CHECK(auth_admin_enabled(a));
    CHECK_INT(auth_admit_admin(a, "Bearer " KEY_B, &name, &e), 0);
    CHECK_STR(name, "ops");
    CHECK_INT(auth_admit_admin(a, "Bearer " KEY_A, &name, &e), -1);
    CHECK_INT(e.status, 403);
    CHECK_STR(e.code, "permission_denied");
    CHECK_INT(auth_admit_admin(a, "Bearer sk-nothing-0123456789", &name, &e), -1);
    CHECK_INT(e.status, 401);
    CHECK_INT(auth_admit_admin(a, NULL, &name, &e), -1);
    CHECK_INT(e.status, 401);
    CHECK_INT(auth_find(a, "Bearer " KEY_B), -1);     /* an admin key is no client key */
    auth_free(a);
    config_free(c);
    /* Admin keys alone: client auth stays off. */
    c = config_parse(only, strlen(only), err, sizeof err, fake_env);
    CHECK(c != NULL);
    a = c ? auth_new(c) : NULL;
    CHECK(a && !auth_enabled(a) && auth_admin_enabled(a));
    auth_free(a);
    config_free(c);
    /* Without admin keys the admin endpoints do not exist. */
    c = parse_with_keys("kiosk:" KEY_A, err);
    a = c ? auth_new(c) : NULL;
    CHECK(a && !auth_admin_enabled(a));
    auth_free(a);
    config_free(c);
    /* One key in both lists, or an unset variable, is refused without showing a key. */
    admin_value = "ops:" KEY_A;
    CHECK(config_parse(both, strlen(both), err, sizeof err, fake_env) == NULL);
    CHECK(strstr(err, "auth.admin_keys: the admin key ops is also the client key kiosk") != NULL);
    CHECK(strstr(err, KEY_A) == NULL);
    admin_value = NULL;
    CHECK(config_parse(both, strlen(both), err, sizeof err, fake_env) == NULL);
    CHECK(strstr(err, "auth.admin_keys_env: environment variable ADMIN is not set") != NULL);
    expect_config_error("{\"backends\":[" BACKEND "],\"auth\":{\"admin_keys_env\":\"A\",\"admin_keys_file\":\"f\"}}",
                        "auth: needs at most one of admin_keys_env and admin_keys_file");
}

/* A reload's new table counts the requests already admitted by name, over
 * the limit if need be, and forgets those whose key is gone. */
static void test_carry(void) {
    char err[256] = "";
    config *c = parse_with_keys("a:" KEY_A ",b:" KEY_B, err);
    CHECK(c != NULL);
    if (!c) return;
    c->max_inflight_per_key = 1;
    auth *a = auth_new(c);
    CHECK(a != NULL);
    if (!a) goto out;
    CHECK_INT(auth_carry(a, "b"), 1);
    CHECK_INT(auth_carry(a, "b"), 1);
    CHECK(!auth_acquire(a, 1));
    CHECK_INT(auth_carry(a, "gone"), -1);
    auth_release(a, 1);
    CHECK(!auth_acquire(a, 1));
    auth_release(a, 1);
    CHECK(auth_acquire(a, 1));
    auth_release(a, 1);
    auth_free(a);
out:
    config_free(c);
}

int main(void) {
    test_carry();
    test_load();
    test_match();
    test_off();
    test_config_errors();
    test_admin();
    TEST_MAIN_END();
}
