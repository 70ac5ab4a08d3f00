/* redact: what counts as quoting a credential, and what does not. */
#include <string.h>

#include "check_main.h"
#include "redact.h"

START_TEST(the_configured_key_is_withheld)
{
    ck_assert(redact_quotes_key("bad key my-secret-value given", "my-secret-value"));
    ck_assert(!redact_quotes_key("bad key given", "my-secret-value"));
    ck_assert(!redact_quotes_key("bad key given", "")); /* no key: nothing to find */
}
END_TEST

START_TEST(key_shapes_are_withheld)
{
    ck_assert(redact_quotes_key("Incorrect API key provided: sk-abcd1234", NULL));
    ck_assert(redact_quotes_key("Incorrect API key provided: sk-proj-****wxyz.", NULL));
    ck_assert(redact_quotes_key("sk-ant-api03-xxxx at the start", NULL));
    ck_assert(redact_quotes_key("key (sk-1234) in parentheses", NULL));
    ck_assert(redact_quotes_key("masked sk-***123", NULL));
}
END_TEST

START_TEST(words_with_sk_are_not_keys)
{
    ck_assert(!redact_quotes_key("task-1234 failed", NULL));
    ck_assert(!redact_quotes_key("disk-full: no space left", NULL));
    ck_assert(!redact_quotes_key("risk-assessment-model is overloaded", NULL));
    ck_assert(!redact_quotes_key("sk- alone", NULL));
    ck_assert(!redact_quotes_key("sk-ab is too short", NULL));
    ck_assert(!redact_quotes_key("use **bold** and *** rules", NULL));
}
END_TEST

START_TEST(redaction_replaces_the_whole_message)
{
    char msg[128] = "invalid sk-live-abcdef key";
    ck_assert_int_eq(redact_credentials(msg, NULL), 1);
    ck_assert_str_eq(msg, "(reason withheld: it quoted a credential)");
    char ok[128] = "task-12 timed out";
    ck_assert_int_eq(redact_credentials(ok, "sk-real"), 0);
    ck_assert_str_eq(ok, "task-12 timed out");
}
END_TEST

int main(void)
{
    return check_tests("redact", the_configured_key_is_withheld, key_shapes_are_withheld,
                       words_with_sk_are_not_keys, redaction_replaces_the_whole_message);
}
