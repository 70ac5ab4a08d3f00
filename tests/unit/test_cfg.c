/* Unit tests for cfg: defaults, source precedence, flag forms, every error kind, per-provider
 * defaults, pace and listen parsing, redaction in cfg_print, and the shipped config file.
 * Each test runs in a fresh temporary working directory so no config/chatd.json leaks in. */
#include "cfg.h"

#include <check.h>
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ARGV(...) ((char *[]){"chatd", __VA_ARGS__, NULL})
#define ARGV0 ((char *[]){"chatd", NULL})
#define ENV(...) ((char *[]){__VA_ARGS__, NULL})

/* Every configuration key, in table order. */
static const char *const key_names[] = {"listen",
                                        "provider",
                                        "upstream_url",
                                        "upstream_api_key",
                                        "model",
                                        "pace",
                                        "pace_base_cps",
                                        "pace_max_lag_ms",
                                        "api_keys",
                                        "web_root",
                                        "resume_grace_ms",
                                        "stream_retention_ms",
                                        "redis_url",
                                        "workers",
                                        "max_body_bytes",
                                        "upstream_connect_timeout_ms",
                                        "upstream_first_byte_timeout_ms",
                                        "upstream_idle_timeout_ms",
                                        "upstream_http2",
                                        "upstream_ca_file",
                                        "max_streams",
                                        "shutdown_grace_ms",
                                        "log_level",
                                        "api_keys_file",
                                        "max_streams_total",
                                        "max_streams_per_client",
                                        "rate_limit_per_minute",
                                        "rate_limit_burst",
                                        "fallback_max_attempts",
                                        "fallback_deadline_ms",
                                        "max_stream_duration_ms",
                                        "request_timeout_ms",
                                        "max_header_bytes",
                                        "max_messages",
                                        "max_message_bytes",
                                        "cors_origins"};

static char root_dir[4096]; /* the working directory the tests were started from */
static char tmp_dir[64];
static char err[512];
static cfg c;

static void setup(void)
{
    strcpy(tmp_dir, "/tmp/test_cfg.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
    ck_assert_int_eq(chdir(tmp_dir), 0);
    err[0] = '\0';
}

static void teardown(void)
{
    ck_assert_int_eq(chdir(root_dir), 0);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_dir);
    ck_assert_int_eq(system(cmd), 0);
}

static int load(char **argv, char **envp)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    return cfg_load(&c, argc, argv, envp, err, sizeof(err));
}

static void write_file(const char *path, const char *text)
{
    if (strchr(path, '/'))
        ck_assert_int_eq(system("mkdir -p config"), 0);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
}

/* Loading must fail with a one-line message containing want. */
static void expect_error(int rc, const char *want)
{
    ck_assert_int_eq(rc, -1);
    ck_assert_msg(strncmp(err, "chatd: config: ", 15) == 0, "prefix: %s", err);
    ck_assert_msg(strstr(err, want) != NULL, "\"%s\" not in \"%s\"", want, err);
    ck_assert_ptr_null(strchr(err, '\n'));
}

/* cfg_print's output, NUL-terminated, in a static buffer. */
static const char *printed(void)
{
    static char out[16384];
    char *p = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&p, &n);
    ck_assert_ptr_nonnull(f);
    cfg_print(&c, f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_uint_lt(n, sizeof(out));
    memcpy(out, p, n + 1);
    free(p);
    return out;
}

static void expect_line(const char *line)
{
    const char *out = printed();
    char want[512];
    snprintf(want, sizeof(want), "\n%s\n", line);
    ck_assert_msg(strstr(out, want) != NULL, "line \"%s\" not in:\n%s", line, out);
}

START_TEST(defaults)
{
    ck_assert_int_eq(load(ARGV0, NULL), 0);
    ck_assert_str_eq(c.listen, "127.0.0.1:8080");
    ck_assert_str_eq(c.listen_host, "127.0.0.1");
    ck_assert_int_eq(c.listen_port, 8080);
    ck_assert_int_eq(c.provider, CFG_PROVIDER_DEMO);
    ck_assert_str_eq(cfg_provider_name(&c), "demo");
    ck_assert_str_eq(c.upstream_url, "");
    ck_assert_str_eq(c.upstream_api_key, "");
    ck_assert_str_eq(c.model, "chatd-demo");
    ck_assert_int_eq(c.pace_mode, CFG_PACE_ADAPTIVE);
    ck_assert_str_eq(cfg_pace_name(&c), "adaptive");
    ck_assert_double_eq(c.pace_base_cps, 80);
    ck_assert_int_eq(c.pace_max_lag_ms, 750);
    ck_assert_str_eq(c.api_keys, "");
    ck_assert_int_eq(c.resume_grace_ms, 5000);
    ck_assert_int_eq(c.stream_retention_ms, 60000);
    ck_assert_int_ge(c.workers, 1);
    ck_assert_int_le(c.workers, 256);
    ck_assert_int_eq(c.max_body_bytes, 1048576);
    ck_assert_int_eq(c.upstream_connect_timeout_ms, 10000);
    ck_assert_int_eq(c.upstream_first_byte_timeout_ms, 60000);
    ck_assert_int_eq(c.upstream_idle_timeout_ms, 60000);
    ck_assert_int_eq(c.max_streams, 10000);
    ck_assert_int_eq(c.shutdown_grace_ms, 5000);
    ck_assert_int_eq(c.log_level, CFG_LOG_INFO);
    ck_assert_str_eq(c.config_path, "");
    size_t n = strlen(c.web_root);
    ck_assert_uint_ge(n, 10);
    ck_assert_str_eq(c.web_root + n - 10, "client-web");
    expect_line("pace = adaptive (default)");
}
END_TEST

static void expect_file_has_every_key(const char *path)
{
    static char text[65536];
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    cJSON *root = cJSON_Parse(text);
    ck_assert_ptr_nonnull(root);
    size_t want = sizeof(key_names) / sizeof(key_names[0]);
    ck_assert_int_eq(cJSON_GetArraySize(root), (int)want);
    for (size_t i = 0; i < want; i++)
        ck_assert_msg(cJSON_GetObjectItemCaseSensitive(root, key_names[i]), "%s missing",
                      key_names[i]);
    cJSON_Delete(root);
}

/* The shipped file states every default: loading it changes no value, only sources. */
START_TEST(shipped_file_is_the_defaults)
{
    char path[4200];
    cfg base;
    snprintf(path, sizeof(path), "%s/config/chatd.json", root_dir);
    ck_assert_int_eq(load(ARGV0, NULL), 0);
    base = c;
    ck_assert_int_eq(load(ARGV("--config", path), NULL), 0);
    ck_assert_str_eq(c.config_path, path);
    memcpy(base.src, c.src, sizeof(base.src));
    memcpy(base.config_path, c.config_path, sizeof(base.config_path));
    ck_assert_int_eq(memcmp(&base, &c, sizeof(c)), 0);
    expect_file_has_every_key(path);
    char line[4300];
    snprintf(line, sizeof(line), "log_level = info (file %s)", path);
    expect_line(line);
}
END_TEST

START_TEST(default_file_is_read_when_present)
{
    write_file("config/chatd.json", "{\"model\": \"from-file\", \"workers\": 3}");
    ck_assert_int_eq(load(ARGV0, NULL), 0);
    ck_assert_str_eq(c.model, "from-file");
    ck_assert_int_eq(c.workers, 3);
    ck_assert_str_eq(c.config_path, "config/chatd.json");
    expect_line("model = from-file (file config/chatd.json)");
}
END_TEST

START_TEST(default_file_invalid_is_an_error)
{
    write_file("config/chatd.json", "{\"model\": }");
    expect_error(load(ARGV0, NULL), "config/chatd.json: not valid JSON (line 1)");
}
END_TEST

START_TEST(precedence_file_env_flag)
{
    write_file("c.json", "{\"pace\": 10, \"model\": \"f\", \"resume_grace_ms\": 100,\n"
                         " \"log_level\": \"warn\", \"listen\": \"0.0.0.0:1\"}");
    ck_assert_int_eq(
        load(ARGV("--config", "c.json", "--resume-grace-ms", "300", "--listen", "localhost:3"),
             ENV("CHATD_MODEL=e", "CHATD_RESUME_GRACE_MS=200", "CHATD_LISTEN=0.0.0.0:2")),
        0);
    ck_assert_int_eq(c.pace_mode, CFG_PACE_FIXED);
    ck_assert_double_eq(c.pace_cps, 10);
    ck_assert_int_eq(c.log_level, CFG_LOG_WARN);
    ck_assert_str_eq(c.model, "e");
    ck_assert_int_eq(c.resume_grace_ms, 300);
    ck_assert_str_eq(c.listen_host, "localhost");
    ck_assert_int_eq(c.listen_port, 3);
    expect_line("pace = 10 (file c.json)");
    expect_line("model = e (env CHATD_MODEL)");
    expect_line("resume_grace_ms = 300 (flag --resume-grace-ms)");
}
END_TEST

START_TEST(env_wins_over_file)
{
    write_file("c.json", "{\"max_streams\": 5}");
    ck_assert_int_eq(load(ARGV("--config=c.json"), ENV("CHATD_MAX_STREAMS=6")), 0);
    ck_assert_int_eq(c.max_streams, 6);
    ck_assert_int_eq(load(ARGV("--config=c.json"), NULL), 0);
    ck_assert_int_eq(c.max_streams, 5);
}
END_TEST

START_TEST(flag_forms)
{
    ck_assert_int_eq(load(ARGV("--upstream-first-byte-timeout-ms=7", "--max-body-bytes", "2048",
                               "--model=a=b", "--pace-base-cps", "12.5"),
                          NULL),
                     0);
    ck_assert_int_eq(c.upstream_first_byte_timeout_ms, 7);
    ck_assert_int_eq(c.max_body_bytes, 2048);
    ck_assert_str_eq(c.model, "a=b");
    ck_assert_double_eq(c.pace_base_cps, 12.5);
}
END_TEST

/* A flag's value is taken whatever it looks like, so "--model --help" is no help request. */
START_TEST(flag_value_may_look_like_a_flag)
{
    ck_assert_int_eq(load(ARGV("--model", "--help"), NULL), 0);
    ck_assert_str_eq(c.model, "--help");
}
END_TEST

START_TEST(later_flag_wins)
{
    ck_assert_int_eq(load(ARGV("--workers", "2", "--workers=4"), NULL), 0);
    ck_assert_int_eq(c.workers, 4);
}
END_TEST

START_TEST(unknown_env_is_ignored)
{
    ck_assert_int_eq(load(ARGV0, ENV("CHATD_BIN=build/chatd", "PATH=/bin")), 0);
}
END_TEST

START_TEST(error_exact_message)
{
    ck_assert_int_eq(load(ARGV0, ENV("CHATD_PACE=fast")), -1);
    ck_assert_str_eq(err, "chatd: config: CHATD_PACE: expected off, adaptive or a number of "
                          "characters per second, got \"fast\"");
}
END_TEST

START_TEST(error_unknown_json_key)
{
    write_file("c.json", "{\"model\": \"x\", \"bogus\": 1}");
    expect_error(load(ARGV("--config", "c.json"), NULL), "--config c.json: unknown key \"bogus\"");
}
END_TEST

START_TEST(error_not_json)
{
    write_file("c.json", "listen = 1\n");
    expect_error(load(ARGV("--config", "c.json"), NULL), "c.json: not valid JSON (line 1)");
    write_file("c.json", "{\"model\": \"x\"}\n{}");
    expect_error(load(ARGV("--config", "c.json"), NULL), "c.json: not valid JSON (line 2)");
    write_file("c.json", "");
    expect_error(load(ARGV("--config", "c.json"), NULL), "c.json: not valid JSON");
    write_file("c.json", "[]");
    expect_error(load(ARGV("--config", "c.json"), NULL), "c.json: expected a JSON object");
}
END_TEST

START_TEST(error_unreadable_file)
{
    expect_error(load(ARGV("--config", "missing.json"), NULL),
                 "--config missing.json: cannot read: No such file or directory");
    expect_error(load(ARGV("--config", "."), NULL), "--config .: cannot read");
}
END_TEST

START_TEST(error_json_wrong_type)
{
    write_file("c.json", "{\"workers\": \"4\"}");
    expect_error(load(ARGV("--config", "c.json"), NULL),
                 "c.json: workers: expected an integer from 0 to 256, got a string");
    write_file("c.json", "{\"model\": 4}");
    expect_error(load(ARGV("--config", "c.json"), NULL), "c.json: model: expected a string");
    write_file("c.json", "{\"workers\": 1.5}");
    expect_error(load(ARGV("--config", "c.json"), NULL), "c.json: workers: expected an integer");
    write_file("c.json", "{\"provider\": null}");
    expect_error(load(ARGV("--config", "c.json"), NULL),
                 "c.json: provider: expected demo, openai, anthropic or ollama, got null");
}
END_TEST

START_TEST(error_json_duplicate_key)
{
    write_file("c.json", "{\"workers\": 1, \"workers\": 2}");
    expect_error(load(ARGV("--config", "c.json"), NULL), "c.json: workers: duplicate key");
}
END_TEST

START_TEST(error_out_of_bounds)
{
    expect_error(load(ARGV0, ENV("CHATD_WORKERS=257")),
                 "CHATD_WORKERS: expected an integer from 0 to 256, got \"257\"");
    expect_error(load(ARGV("--max-body-bytes", "1023"), NULL), "--max-body-bytes: expected");
    expect_error(load(ARGV("--pace-max-lag-ms=9"), NULL), "--pace-max-lag-ms: expected");
    expect_error(load(ARGV("--resume-grace-ms=-1"), NULL), "--resume-grace-ms: expected");
    expect_error(load(ARGV("--max-streams=1e3"), NULL), "--max-streams: expected");
    expect_error(load(ARGV("--max-streams= 5"), NULL), "--max-streams: expected");
    expect_error(load(ARGV("--pace-base-cps=inf"), NULL), "--pace-base-cps: expected");
    expect_error(load(ARGV0, ENV("CHATD_SHUTDOWN_GRACE_MS=")), "CHATD_SHUTDOWN_GRACE_MS");
}
END_TEST

START_TEST(error_bad_enum)
{
    expect_error(load(ARGV("--provider", "OpenAI"), NULL),
                 "--provider: expected demo, openai, anthropic or ollama, got \"OpenAI\"");
    expect_error(load(ARGV0, ENV("CHATD_LOG_LEVEL=trace")),
                 "CHATD_LOG_LEVEL: expected error, warn, info or debug");
}
END_TEST

START_TEST(error_bad_flags)
{
    expect_error(load(ARGV("--bogus=1"), NULL), "--bogus: unknown flag");
    expect_error(load(ARGV("--upstream_url", "http://x"), NULL), "--upstream_url: unknown flag");
    expect_error(load(ARGV("-v"), NULL), "unexpected argument \"-v\"");
    expect_error(load(ARGV("--pace"), NULL), "--pace: missing value");
    expect_error(load(ARGV("--config"), NULL), "--config: missing value");
}
END_TEST

START_TEST(error_bad_url)
{
    expect_error(load(ARGV("--upstream-url", "ftp://x"), NULL), "--upstream-url: expected");
    expect_error(load(ARGV("--upstream-url", "https://"), NULL), "--upstream-url: expected");
    ck_assert_int_eq(load(ARGV("--upstream-url", "https://h.example/v1/"), NULL), 0);
    ck_assert_str_eq(c.upstream_url, "https://h.example/v1");
}
END_TEST

START_TEST(error_too_long_string)
{
    char model[400];
    memset(model, 'm', sizeof(model) - 1);
    model[sizeof(model) - 1] = '\0';
    expect_error(load(ARGV("--model", model), NULL),
                 "--model: expected a string of at most 255 bytes");
    ck_assert_uint_lt(strlen(err), 200); /* the value is cut short */
}
END_TEST

/* A rejected secret is never echoed, whichever variable carried it. */
START_TEST(error_never_echoes_secret)
{
    char key[CFG_SECRET_MAX + 40];
    snprintf(key, sizeof(key), "CHATD_UPSTREAM_API_KEY=sk-SECRET%0*d", CFG_SECRET_MAX, 0);
    expect_error(load(ARGV0, ENV(key)), "CHATD_UPSTREAM_API_KEY: expected");
    ck_assert_ptr_null(strstr(err, "SECRET"));
    expect_error(load(ARGV0, ENV("CHATD_API_KEYS=a\nSECRET")), "CHATD_API_KEYS: expected");
    ck_assert_ptr_null(strstr(err, "SECRET"));
    expect_error(load(ARGV0, ENV("CHATD_PROVIDER=openai", "OPENAI_API_KEY=sk\rSECRET")),
                 "OPENAI_API_KEY: expected");
    ck_assert_ptr_null(strstr(err, "SECRET"));
}
END_TEST

START_TEST(error_is_one_line)
{
    expect_error(load(ARGV("--model", "a\nb"), NULL), "--model: expected");
    write_file("c.json", "{\"bo\\ngus\": 1}");
    expect_error(load(ARGV("--config", "c.json"), NULL), "unknown key");
}
END_TEST

START_TEST(provider_defaults)
{
    ck_assert_int_eq(load(ARGV("--provider", "openai"), NULL), 0);
    ck_assert_str_eq(c.upstream_url, "https://api.openai.com/v1");
    ck_assert_str_eq(c.model, "gpt-4o-mini");
    expect_line("model = gpt-4o-mini (default for openai)");
    ck_assert_int_eq(load(ARGV0, ENV("CHATD_PROVIDER=anthropic")), 0);
    ck_assert_str_eq(c.upstream_url, "https://api.anthropic.com/v1");
    ck_assert_str_eq(c.model, "claude-sonnet-4-5");
    ck_assert_int_eq(load(ARGV("--provider=ollama"), NULL), 0);
    ck_assert_str_eq(c.upstream_url, "http://127.0.0.1:11434");
    ck_assert_str_eq(c.model, "llama3.2");
}
END_TEST

/* What the user set beats the provider's default, whatever the source order. */
START_TEST(provider_defaults_yield_to_user)
{
    write_file("c.json", "{\"model\": \"my-model\", \"upstream_url\": \"\"}");
    ck_assert_int_eq(load(ARGV("--config", "c.json", "--provider", "openai", "--upstream-url",
                               "http://127.0.0.1:9/v1"),
                          NULL),
                     0);
    ck_assert_str_eq(c.model, "my-model");
    ck_assert_str_eq(c.upstream_url, "http://127.0.0.1:9/v1");
}
END_TEST

START_TEST(openai_api_key_fallback)
{
    ck_assert_int_eq(load(ARGV0, ENV("CHATD_PROVIDER=openai", "OPENAI_API_KEY=sk-open")), 0);
    ck_assert_str_eq(c.upstream_api_key, "sk-open");
    expect_line("upstream_api_key = (set, redacted) (env OPENAI_API_KEY)");
    ck_assert_int_eq(load(ARGV("--upstream-api-key", "sk-flag"),
                          ENV("CHATD_PROVIDER=openai", "OPENAI_API_KEY=sk-open")),
                     0);
    ck_assert_str_eq(c.upstream_api_key, "sk-flag");
    ck_assert_int_eq(load(ARGV0, ENV("OPENAI_API_KEY=sk-open")), 0);
    ck_assert_str_eq(c.upstream_api_key, "");
    ck_assert_int_eq(load(ARGV0, ENV("CHATD_PROVIDER=anthropic", "OPENAI_API_KEY=sk-open",
                                     "ANTHROPIC_API_KEY=sk-ant")),
                     0);
    ck_assert_str_eq(c.upstream_api_key, "sk-ant");
}
END_TEST

START_TEST(pace_parsing)
{
    ck_assert_int_eq(load(ARGV("--pace", "off"), NULL), 0);
    ck_assert_int_eq(c.pace_mode, CFG_PACE_OFF);
    ck_assert_str_eq(cfg_pace_name(&c), "off");
    ck_assert_int_eq(load(ARGV("--pace", "adaptive"), ENV("CHATD_PACE=off")), 0);
    ck_assert_int_eq(c.pace_mode, CFG_PACE_ADAPTIVE);
    ck_assert_int_eq(load(ARGV("--pace=40"), NULL), 0);
    ck_assert_int_eq(c.pace_mode, CFG_PACE_FIXED);
    ck_assert_str_eq(cfg_pace_name(&c), "fixed");
    ck_assert_double_eq(c.pace_cps, 40);
    expect_line("pace = 40 (flag --pace)");
    ck_assert_int_eq(load(ARGV("--pace=2.5"), NULL), 0);
    ck_assert_double_eq(c.pace_cps, 2.5);
    expect_error(load(ARGV("--pace", "0"), NULL),
                 "--pace: expected off, adaptive or a number of characters per second from 1 "
                 "to 100000, got \"0\"");
    expect_error(load(ARGV("--pace", "abc"), NULL), "got \"abc\"");
    expect_error(load(ARGV("--pace", "100001"), NULL), "--pace: expected");
    expect_error(load(ARGV("--pace", "Off"), NULL), "--pace: expected");
    write_file("c.json", "{\"pace\": true}");
    expect_error(load(ARGV("--config", "c.json"), NULL), "c.json: pace: expected off, adaptive");
}
END_TEST

START_TEST(listen_parsing)
{
    ck_assert_int_eq(load(ARGV("--listen", "10.1.2.3:80"), NULL), 0);
    ck_assert_str_eq(c.listen_host, "10.1.2.3");
    ck_assert_int_eq(c.listen_port, 80);
    ck_assert_int_eq(load(ARGV("--listen", "[::1]:8080"), NULL), 0);
    ck_assert_str_eq(c.listen_host, "::1");
    ck_assert_int_eq(c.listen_port, 8080);
    expect_line("listen = [::1]:8080 (flag --listen)");
    ck_assert_int_eq(load(ARGV("--listen", "0.0.0.0:0"), NULL), 0);
    ck_assert_int_eq(c.listen_port, 0);
    ck_assert_int_eq(load(ARGV("--listen", "localhost:65535"), NULL), 0);
    ck_assert_int_eq(c.listen_port, 65535);
    expect_error(load(ARGV("--listen", "127.0.0.1"), NULL),
                 "--listen: expected host:port with an IPv4 address, localhost or [IPv6] and a "
                 "port from 0 to 65535, got \"127.0.0.1\"");
    expect_error(load(ARGV("--listen", "127.0.0.1:"), NULL), "--listen: expected");
    expect_error(load(ARGV("--listen", "127.0.0.1:70000"), NULL), "got \"127.0.0.1:70000\"");
    expect_error(load(ARGV("--listen", "::1:8080"), NULL), "--listen: expected");
    expect_error(load(ARGV("--listen", "[::1]"), NULL), "--listen: expected");
    expect_error(load(ARGV("--listen", ":8080"), NULL), "--listen: expected");
    expect_error(load(ARGV("--listen", "1.2.3:80"), NULL), "--listen: expected");
    expect_error(load(ARGV("--listen", "example.com:80"), NULL), "--listen: expected");
    expect_error(load(ARGV("--listen", "[1.2.3.4]:80"), NULL), "--listen: expected");
}
END_TEST

START_TEST(print_redacts_secrets)
{
    ck_assert_int_eq(load(ARGV("--upstream-api-key", "sk-TOPSECRET-1"),
                          ENV("CHATD_API_KEYS=client-HIDDEN-a,client-HIDDEN-b")),
                     0);
    const char *out = printed();
    ck_assert_ptr_null(strstr(out, "TOPSECRET"));
    ck_assert_ptr_null(strstr(out, "HIDDEN"));
    expect_line("upstream_api_key = (set, redacted) (flag --upstream-api-key)");
    expect_line("api_keys = (set, redacted) (env CHATD_API_KEYS)");
    ck_assert_int_eq(load(ARGV0, NULL), 0);
    expect_line("upstream_api_key = (unset) (default)");
    expect_line("api_keys = (unset) (default)");
}
END_TEST

START_TEST(print_one_line_per_key)
{
    size_t n = sizeof(key_names) / sizeof(key_names[0]);
    ck_assert_int_eq(load(ARGV0, NULL), 0);
    const char *out = printed();
    size_t lines = 0;
    for (const char *p = out; *p; p++)
        lines += *p == '\n';
    ck_assert_uint_eq(lines, n + 1); /* + the "config = " line */
    for (size_t i = 0; i < n; i++) {
        char want[80];
        snprintf(want, sizeof(want), "\n%s = ", key_names[i]);
        ck_assert_msg(strstr(out, want), "%s missing", key_names[i]);
    }
    expect_line("max_streams = 10000 (default)");
}
END_TEST

/* Runs cfg_load with stdout sent to a file; returns what was printed. */
static const char *help_output(char **argv, int *rc)
{
    static char out[16384];
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    FILE *f = fopen("help.txt", "w+");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_ge(dup2(fileno(f), STDOUT_FILENO), 0);
    *rc = load(argv, NULL);
    fflush(stdout);
    ck_assert_int_ge(dup2(saved, STDOUT_FILENO), 0);
    close(saved);
    rewind(f);
    size_t n = fread(out, 1, sizeof(out) - 1, f);
    out[n] = '\0';
    fclose(f);
    return out;
}

START_TEST(help_lists_every_flag)
{
    int rc;
    const char *out = help_output(ARGV("--bogus", "-h"), &rc);
    ck_assert_int_eq(rc, 1);
    static const char *const want[] = {
        "--config PATH",
        "--listen HOST:PORT  (CHATD_LISTEN; default 127.0.0.1:8080)",
        "--provider NAME  (CHATD_PROVIDER; default demo)",
        "--pace off|adaptive|CPS  (CHATD_PACE; default adaptive)",
        "--resume-grace-ms MS  (CHATD_RESUME_GRACE_MS; default 5000)",
        "--max-body-bytes BYTES  (CHATD_MAX_BODY_BYTES; default 1048576)",
        "--upstream-first-byte-timeout-ms MS  (CHATD_UPSTREAM_FIRST_BYTE_TIMEOUT_MS; default "
        "60000)",
        "--log-level LEVEL  (CHATD_LOG_LEVEL; default info)",
        "-h, --help"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        ck_assert_msg(strstr(out, want[i]), "\"%s\" not in help:\n%s", want[i], out);
    out = help_output(ARGV("--help"), &rc);
    ck_assert_int_eq(rc, 1);
    ck_assert_ptr_nonnull(strstr(out, "--shutdown-grace-ms MS  (CHATD_SHUTDOWN_GRACE_MS"));
}
END_TEST

static Suite *cfg_suite(void)
{
    Suite *s = suite_create("cfg");
    TCase *t = tcase_create("cfg");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, defaults);
    tcase_add_test(t, shipped_file_is_the_defaults);
    tcase_add_test(t, default_file_is_read_when_present);
    tcase_add_test(t, default_file_invalid_is_an_error);
    tcase_add_test(t, precedence_file_env_flag);
    tcase_add_test(t, env_wins_over_file);
    tcase_add_test(t, flag_forms);
    tcase_add_test(t, flag_value_may_look_like_a_flag);
    tcase_add_test(t, later_flag_wins);
    tcase_add_test(t, unknown_env_is_ignored);
    tcase_add_test(t, error_exact_message);
    tcase_add_test(t, error_unknown_json_key);
    tcase_add_test(t, error_not_json);
    tcase_add_test(t, error_unreadable_file);
    tcase_add_test(t, error_json_wrong_type);
    tcase_add_test(t, error_json_duplicate_key);
    tcase_add_test(t, error_out_of_bounds);
    tcase_add_test(t, error_bad_enum);
    tcase_add_test(t, error_bad_flags);
    tcase_add_test(t, error_bad_url);
    tcase_add_test(t, error_too_long_string);
    tcase_add_test(t, error_never_echoes_secret);
    tcase_add_test(t, error_is_one_line);
    tcase_add_test(t, provider_defaults);
    tcase_add_test(t, provider_defaults_yield_to_user);
    tcase_add_test(t, openai_api_key_fallback);
    tcase_add_test(t, pace_parsing);
    tcase_add_test(t, listen_parsing);
    tcase_add_test(t, print_redacts_secrets);
    tcase_add_test(t, print_one_line_per_key);
    tcase_add_test(t, help_lists_every_flag);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    if (!getcwd(root_dir, sizeof(root_dir)))
        return EXIT_FAILURE;
    SRunner *r = srunner_create(cfg_suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
