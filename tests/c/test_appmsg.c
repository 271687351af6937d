/* The app protocol's strict JSON codec (c_examples/appmsg.h): escapes,
 * \u surrogate pairs, UTF-8 validation, limits, and message building. */
#include "../../c_examples/appmsg.h"
#include "harness.h"

static int parse(const char *text, struct app_json *j, const char **err) {
    *err = NULL;
    return app_json_parse(text, strlen(text), j, err);
}

TEST(flat_object_with_strings_and_numbers) {
    struct app_json j;
    const char *err;
    CHECK(parse(" {\"action\": \"search\", \"value\" : \"ring\",\"n\":42 } ", &j, &err) == 0);
    CHECK(j.count == 3);
    CHECK(strcmp(app_json_get(&j, "action")->str, "search") == 0);
    CHECK(app_json_get(&j, "n")->is_number && app_json_get(&j, "n")->number == 42);
    CHECK(app_json_get(&j, "missing") == NULL);
    CHECK(parse("{}", &j, &err) == 0 && j.count == 0);
}

TEST(escapes_and_surrogate_pairs) {
    struct app_json j;
    const char *err;
    CHECK(parse("{\"v\": \"a\\\"b\\\\c\\/d\\n\\t\\u00e9\"}", &j, &err) == 0);
    CHECK(strcmp(app_json_get(&j, "v")->str, "a\"b\\c/d\n\t\xc3\xa9") == 0);
    /* U+1F436 (dog face) as a surrogate pair, and as raw UTF-8 */
    CHECK(parse("{\"v\": \"\\ud83d\\udc36\"}", &j, &err) == 0);
    CHECK(strcmp(app_json_get(&j, "v")->str, "\xf0\x9f\x90\xb6") == 0);
    CHECK(parse("{\"v\": \"\xf0\x9f\x90\xb6\"}", &j, &err) == 0);
    CHECK(app_json_get(&j, "v")->str_len == 4);
    CHECK(parse("{\"v\": \"\\ud83d\"}", &j, &err) == -1 && err);
    CHECK(parse("{\"v\": \"\\udc36\"}", &j, &err) == -1 && err);
    CHECK(parse("{\"v\": \"\\ud83d\\u0041\"}", &j, &err) == -1 && err);
    CHECK(parse("{\"v\": \"\\x\"}", &j, &err) == -1 && err);
    CHECK(parse("{\"v\": \"\\u12g4\"}", &j, &err) == -1 && err);
}

TEST(malformed_input_is_rejected_with_a_reason) {
    static const char *const bad[] = {
        "", "[]", "{", "{\"a\"}", "{\"a\":}", "{\"a\": true}", "{\"a\": -1}", "{\"a\": 01}",
        "{\"a\": \"x\",}", "{\"a\": \"x\"} x", "{\"a\": {\"b\": 1}}", "{\"a\": \"tab\there\"}",
        "{\"a\": \"\xc0\xaf\"}", "{\"a\": \"\xed\xa0\x80\"}", "{\"a\": \"\xff\"}", "{\"a\": 99999999999999999999}",
        "{\"a\": \"unterminated",
    };
    struct app_json j;
    const char *err;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (parse(bad[i], &j, &err) != -1 || !err) {
            fprintf(stderr, "  accepted: %s\n", bad[i]);
            CHECK(0);
        }
    }
}

TEST(limits_are_enforced) {
    char text[3000];
    struct app_json j;
    const char *err;
    /* a value longer than APP_MAX_VALUE */
    size_t at = (size_t)snprintf(text, sizeof text, "{\"v\": \"");
    memset(text + at, 'x', 2000);
    strcpy(text + at + 2000, "\"}");
    CHECK(parse(text, &j, &err) == -1 && strcmp(err, "string too long") == 0);
    /* more than APP_MAX_FIELDS fields */
    strcpy(text, "{\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"f\":1,\"g\":1,\"h\":1,\"i\":1}");
    CHECK(parse(text, &j, &err) == -1 && strcmp(err, "too many fields") == 0);
}

TEST(built_messages_parse_back) {
    unsigned char msg[512];
    const char *content = "{\"action\": \"search\", \"value\": \"say \\\"hi\\\"\"}";
    size_t n = app_build_message(msg, sizeof msg, "text/json", "utf-8", content, strlen(content));
    CHECK(n > 2);
    size_t hlen = (size_t)msg[0] << 8 | msg[1];
    CHECK(2 + hlen + strlen(content) == n);
    struct app_json h;
    const char *err = NULL;
    CHECK(app_json_parse(msg + 2, hlen, &h, &err) == 0);
    CHECK(app_check_header(&h) == NULL);
    CHECK(app_json_get(&h, "content-length")->number == (long long)strlen(content));
    CHECK(strcmp(app_json_get(&h, "content-type")->str, "text/json") == 0);
    CHECK(memcmp(msg + 2 + hlen, content, strlen(content)) == 0);
    /* escaping of control characters and quotes in header values */
    n = app_build_message(msg, sizeof msg, "a\"b\n", "binary", "", 0);
    hlen = (size_t)msg[0] << 8 | msg[1];
    CHECK(app_json_parse(msg + 2, hlen, &h, &err) == 0);
    CHECK(strcmp(app_json_get(&h, "content-type")->str, "a\"b\n") == 0);
    CHECK(app_build_message(msg, 10, "text/json", "utf-8", content, strlen(content)) == 0);
}

TEST(header_checks) {
    struct app_json h;
    const char *err;
    CHECK(parse("{\"byteorder\": \"little\", \"content-type\": \"t\", \"content-encoding\": \"e\", \"content-length\": 5}", &h, &err) == 0);
    CHECK(app_check_header(&h) == NULL);
    CHECK(parse("{\"byteorder\": \"little\", \"content-type\": \"t\", \"content-length\": 5}", &h, &err) == 0);
    CHECK(app_check_header(&h) != NULL);
    CHECK(parse("{\"byteorder\": \"little\", \"content-type\": \"t\", \"content-encoding\": \"e\", \"content-length\": 9999999}", &h, &err) == 0);
    CHECK(app_check_header(&h) != NULL);
}

RUN_TESTS("test_appmsg", T(flat_object_with_strings_and_numbers), T(escapes_and_surrogate_pairs),
          T(malformed_input_is_rejected_with_a_reason), T(limits_are_enforced), T(built_messages_parse_back),
          T(header_checks))
