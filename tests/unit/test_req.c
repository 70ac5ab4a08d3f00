/* Unit tests: request validation and UTF-8 checks. */
#include <check.h>

#include "check_main.h"
#include <string.h>

#include "req.h"
#include "utf8.h"

static int parse(const char *body, char *err)
{
    chat_req r;
    int rc = req_parse(body, strlen(body), 0, NULL, &r, err, 256);
    if (rc == 0)
        req_free(&r);
    return rc;
}

START_TEST(valid_request)
{
    const char *b = "{\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
                    "{\"role\":\"user\",\"content\":\"\xe6\x97\xa5\"}],\"model\":\"x\","
                    "\"temperature\":0.5,\"max_tokens\":12,\"extra\":true}";
    chat_req r;
    char err[256];
    ck_assert_int_eq(req_parse(b, strlen(b), 0, NULL, &r, err, sizeof(err)), 0);
    ck_assert_uint_eq(r.n_msgs, 2);
    ck_assert_str_eq(r.msgs[1].role, "user");
    ck_assert_str_eq(r.msgs[1].content, "\xe6\x97\xa5");
    ck_assert_str_eq(r.model, "x");
    ck_assert(r.has_temperature && r.temperature == 0.5);
    ck_assert_int_eq(r.max_tokens, 12);
    req_free(&r);
}
END_TEST

static const struct {
    const char *body;
    const char *msg;
} bad[] = {
    {"", "not valid JSON"},
    {"{", "not valid JSON"},
    {"[]", "must be a JSON object"},
    {"{}", "messages is required"},
    {"{\"messages\":{}}", "messages must be an array"},
    {"{\"messages\":[]}", "must not be empty"},
    {"{\"messages\":[1]}", "messages[0] must be an object"},
    {"{\"messages\":[{\"role\":\"bot\",\"content\":\"x\"}]}", "messages[0].role"},
    {"{\"messages\":[{\"content\":\"x\"}]}", "messages[0].role"},
    {"{\"messages\":[{\"role\":\"user\",\"content\":5}]}", "messages[0].content"},
    {"{\"messages\":[{\"role\":\"user\"}]}", "messages[0].content"},
    {"{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"model\":3}", "model"},
    {"{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"model\":\"\"}", "model"},
    {"{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":\"hot\"}",
     "temperature"},
    {"{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":9}", "temperature"},
    {"{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":0}", "max_tokens"},
    {"{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":1.5}", "max_tokens"},
    {"{\"messages\":[{\"role\":\"user\",\"content\":\"\xc3\x28\"}]}", "UTF-8"},
    {"{\"messages\":[{\"role\":\"user\",\"content\":\"\xed\xa0\x80\"}]}", "UTF-8"},
    {"{\"messages\":[{\"role\":\"user\",\"content\":\"\\ud800\"}]}", "not valid JSON"},
    {"{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]} x", "not valid JSON"},
    {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"x\"}]}]}",
     "content"},
};

START_TEST(invalid_requests)
{
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[256] = "";
        ck_assert_msg(parse(bad[i].body, err) == -1, "accepted: %s", bad[i].body);
        ck_assert_msg(strstr(err, bad[i].msg), "for %s got \"%s\"", bad[i].body, err);
    }
}
END_TEST

START_TEST(openai_content_parts)
{
    const char *b =
        "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"x\"}]}]} \n";
    chat_req r;
    char err[256];
    ck_assert_int_eq(req_parse(b, strlen(b), REQ_OPENAI, NULL, &r, err, sizeof(err)), 0);
    ck_assert_str_eq(r.msgs[0].content, "x");
    req_free(&r);
}
END_TEST

START_TEST(utf8_validation)
{
    ck_assert(utf8_valid("a\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80", 10));
    ck_assert(!utf8_valid("\xc0\xaf", 2));         /* overlong */
    ck_assert(!utf8_valid("\xe0\x80\xaf", 3));     /* overlong */
    ck_assert(!utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    ck_assert(!utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    ck_assert(!utf8_valid("\x80", 1));
    ck_assert(!utf8_valid("\xe6\x97", 2)); /* truncated */
    ck_assert_uint_eq(utf8_trim("ab\xe6\x97", 4), 2);
    ck_assert_uint_eq(utf8_trim("ab\xe6\x97\xa5", 5), 5);
}
END_TEST

int main(void)
{
    return check_tests("req", valid_request, invalid_requests, openai_content_parts,
                       utf8_validation);
}
