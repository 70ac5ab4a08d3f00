/* Unit tests: Redis URLs — tcp and unix forms, credentials, escapes, defaults, and a
 * one-line error for each way a URL can be wrong. */
#include <check.h>

#include "check_main.h"
#include <stdio.h>
#include <string.h>

#include "rconn_url.h"

static rconn_url u;
static char err[200];

static void ok(const char *s)
{
    err[0] = '\0';
    ck_assert_msg(rconn_url_parse(s, &u, err, sizeof(err)) == 0, "%s: %s", s, err);
}

/* Fails, with an error mentioning want; out is zeroed. */
static void bad(const char *s, const char *want)
{
    memset(&u, 0x55, sizeof(u));
    err[0] = '\0';
    ck_assert_msg(rconn_url_parse(s, &u, err, sizeof(err)) == -1, "%s parsed", s);
    ck_assert_msg(strstr(err, want) != NULL, "%s: '%s' lacks '%s'", s, err, want);
    ck_assert_ptr_null(strchr(err, '\n'));
    ck_assert_int_eq(u.port, 0);
    ck_assert_str_eq(u.pass, "");
}

START_TEST(tcp_defaults)
{
    ok("redis://localhost");
    ck_assert_int_eq(u.is_unix, 0);
    ck_assert_str_eq(u.host, "localhost");
    ck_assert_int_eq(u.port, 6379);
    ck_assert_int_eq(u.db, 0);
    ck_assert_str_eq(u.user, "");
    ck_assert_str_eq(u.pass, "");
    ok("redis://10.0.0.2/");
    ck_assert_str_eq(u.host, "10.0.0.2");
    ck_assert_int_eq(u.db, 0);
}
END_TEST

START_TEST(tcp_port_db)
{
    ok("redis://127.0.0.1:6380/3");
    ck_assert_str_eq(u.host, "127.0.0.1");
    ck_assert_int_eq(u.port, 6380);
    ck_assert_int_eq(u.db, 3);
    ok("redis://h:1");
    ck_assert_int_eq(u.port, 1);
    ok("redis://h:65535/15");
    ck_assert_int_eq(u.port, 65535);
    ck_assert_int_eq(u.db, 15);
    ok("redis://h/2147483647");
    ck_assert_int_eq(u.db, 2147483647);
}
END_TEST

START_TEST(tcp_credentials)
{
    ok("redis://:s3cret@cache:7000/1");
    ck_assert_str_eq(u.user, "");
    ck_assert_str_eq(u.pass, "s3cret");
    ck_assert_str_eq(u.host, "cache");
    ck_assert_int_eq(u.port, 7000);
    ck_assert_int_eq(u.db, 1);
    ok("redis://chatd:pw@cache");
    ck_assert_str_eq(u.user, "chatd");
    ck_assert_str_eq(u.pass, "pw");
    /* The last '@' ends the credentials; ':' in the password stays. */
    ok("redis://:a@b:c@h");
    ck_assert_str_eq(u.pass, "a@b:c");
    ck_assert_str_eq(u.host, "h");
    ok("redis://:p%40ss%2Fw%3a@h");
    ck_assert_str_eq(u.pass, "p@ss/w:");
    ok("redis://us%65r:p%20w@h");
    ck_assert_str_eq(u.user, "user");
    ck_assert_str_eq(u.pass, "p w");
}
END_TEST

START_TEST(tcp_ipv6)
{
    ok("redis://[::1]:6390/4");
    ck_assert_str_eq(u.host, "::1");
    ck_assert_int_eq(u.port, 6390);
    ck_assert_int_eq(u.db, 4);
    ok("redis://:pw@[fe80::1]");
    ck_assert_str_eq(u.host, "fe80::1");
    ck_assert_int_eq(u.port, 6379);
    bad("redis://[::1", "without ']'");
    bad("redis://[::1]x", "after ']'");
    bad("redis://[]:5", "empty host");
}
END_TEST

START_TEST(unix_forms)
{
    ok("unix:///run/redis/redis.sock");
    ck_assert_int_eq(u.is_unix, 1);
    ck_assert_str_eq(u.path, "/run/redis/redis.sock");
    ck_assert_int_eq(u.db, 0);
    ck_assert_str_eq(u.host, "");
    ok("unix:///tmp/r.sock?db=7");
    ck_assert_str_eq(u.path, "/tmp/r.sock");
    ck_assert_int_eq(u.db, 7);
    ok("redis+unix:///var/run/r%20s.sock?db=0");
    ck_assert_int_eq(u.is_unix, 1);
    ck_assert_str_eq(u.path, "/var/run/r s.sock");
    bad("unix://relative.sock", "absolute path");
    bad("unix:///tmp/r.sock?db=x", "not a number");
    bad("unix:///tmp/r.sock?password=x", "?db=N");
    bad("unix:///tmp/r.sock#frag", "fragment");
    bad("unix:///tmp/%00.sock", "bad socket path");
}
END_TEST

START_TEST(unix_path_cap)
{
    char s[300], path[200];
    memset(path, 'a', sizeof(path));
    path[0] = '/';
    path[RCONN_URL_PATH_MAX] = '\0'; /* exactly the longest */
    snprintf(s, sizeof(s), "unix://%s", path);
    ok(s);
    ck_assert_uint_eq(strlen(u.path), RCONN_URL_PATH_MAX);
    path[RCONN_URL_PATH_MAX] = 'a';
    path[RCONN_URL_PATH_MAX + 1] = '\0';
    snprintf(s, sizeof(s), "unix://%s", path);
    bad(s, "longer than");
}
END_TEST

START_TEST(bad_scheme)
{
    bad("http://h", "scheme 'http'");
    bad("h:6379", "scheme 'h'");
    bad("redis:/h", "scheme");
    bad("REDIS://h", "scheme");
    bad("rediss://h", "TLS");
    bad("", "empty");
    ck_assert_int_eq(rconn_url_parse(NULL, &u, err, sizeof(err)), -1);
}
END_TEST

START_TEST(bad_port)
{
    bad("redis://h:0", "1..65535");
    bad("redis://h:65536", "1..65535");
    bad("redis://h:99999999999", "1..65535");
    bad("redis://h:-1", "1..65535");
    bad("redis://h:", "1..65535");
    bad("redis://h:12ab", "1..65535");
    bad("redis://h:1:2", "1..65535");
}
END_TEST

START_TEST(bad_db)
{
    bad("redis://h/x", "db 'x' is not a number");
    bad("redis://h/-1", "not a number");
    bad("redis://h/1/2", "not a number");
    bad("redis://h/2147483648", "not a number");
    bad("redis://h/3?x=1", "no query");
}
END_TEST

START_TEST(bad_host)
{
    bad("redis://", "empty host");
    bad("redis://:6379", "empty host");
    bad("redis://:pw@", "empty host");
    bad("redis://:pw@/1", "empty host");
    bad("redis://h%41", "bad character");
    char s[400];
    char host[300];
    memset(host, 'h', sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    snprintf(s, sizeof(s), "redis://%s", host);
    bad(s, "host longer");
}
END_TEST

START_TEST(bad_credentials)
{
    bad("redis://user@h", "':password'");
    bad("redis://user:@h", "empty password");
    bad("redis://:pw%0a@h", "password has a control character");
    bad("redis://:pw%7f@h", "control character");
    bad("redis://:pw%00@h", "control character");
    bad("redis://u%01:pw@h", "user has a control character");
    bad("redis://:pw%4@h", "%-escape");
    bad("redis://:pw%zz@h", "%-escape");
    bad("redis://:p\tw@h", "control characters");
    bad("redis://:p w@h", "control characters");
    char s[700], pw[600];
    memset(pw, 'p', sizeof(pw) - 1);
    pw[sizeof(pw) - 1] = '\0';
    snprintf(s, sizeof(s), "redis://:%s@h", pw);
    bad(s, "password is longer");
}
END_TEST

START_TEST(error_truncated_to_buffer)
{
    char small[8];
    ck_assert_int_eq(rconn_url_parse("http://h", &u, small, sizeof(small)), -1);
    ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
    ck_assert_int_eq(rconn_url_parse("http://h", &u, NULL, 0), -1);
}
END_TEST

int main(void)
{
    return check_tests("rconn_url", tcp_defaults, tcp_port_db, tcp_credentials, tcp_ipv6,
                       unix_forms, unix_path_cap, bad_scheme, bad_port, bad_db, bad_host,
                       bad_credentials, error_truncated_to_buffer);
}
