/* Unit tests: the model map. A table built from a real config file (cfg_load, then
 * routes_build), matching by name and by "*", the attempts of a plan in order (keys in
 * turn, then the fallbacks), keys resting after 401/403 and 429 on a clock the test moves,
 * every key resting, the attempt cap and the deadline, the one-upstream shorthand, and the
 * metrics naming keys by their variable, never their value. */
#include <check.h>

#include "check_main.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "route.h"

static char path[64];
static cfg C;

static char *ENV[] = {"K_A=sk-aaaa", "K_B=sk-bbbb", "K_C=sk-cccc", "K_ANT=sk-ant", NULL};

static const char MAP[] =
    "{\"upstreams\": ["
    " {\"name\": \"oai\", \"provider\": \"openai\", \"url\": \"http://127.0.0.1:1/v1/\","
    "  \"api_key_env\": [\"K_A\", \"K_B\", \"K_C\"], \"first_byte_timeout_ms\": 1500},"
    " {\"name\": \"claude\", \"provider\": \"anthropic\", \"api_key_env\": \"K_ANT\"},"
    " {\"name\": \"local\", \"provider\": \"ollama\", \"url\": \"http://127.0.0.1:11434\"}],"
    " \"models\": ["
    " {\"name\": \"gpt\", \"upstream\": \"oai\"},"
    " {\"name\": \"smart\", \"upstream\": \"claude\", \"model\": \"claude-x\","
    "  \"fallbacks\": [\"gpt\", \"lo\"]},"
    " {\"name\": \"lo\", \"upstream\": \"local\", \"model\": \"llama\"},"
    " {\"name\": \"*\", \"upstream\": \"local\"}]}";

/* Writes text as the config file and builds the table from it. */
static routes *build(const char *text, char *err, size_t errsz)
{
    strcpy(path, "/tmp/chatd-route-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char *argv[] = {"chatd", "--config", path, NULL};
    char cerr[512];
    memset(&C, 0, sizeof(C));
    ck_assert_msg(cfg_load(&C, 3, argv, ENV, cerr, sizeof(cerr)) == 0, "%s", cerr);
    routes *r = NULL;
    int rc = routes_build(&C, NULL, ENV, &r, err, errsz);
    unlink(path);
    return rc == 0 ? r : NULL;
}

START_TEST(builds_the_map)
{
    char err[512];
    routes *r = build(MAP, err, sizeof(err));
    ck_assert_msg(r != NULL, "%s", err);
    ck_assert_int_eq(r->nups, 3);
    ck_assert_int_eq(r->nmodels, 4);
    ck_assert_str_eq(r->ups[0].url, "http://127.0.0.1:1/v1");        /* trailing '/' gone */
    ck_assert_str_eq(r->ups[1].url, "https://api.anthropic.com/v1"); /* the provider's */
    ck_assert_int_eq(r->ups[0].nkeys, 3);
    ck_assert_str_eq(r->ups[0].keys[1].var, "K_B");
    ck_assert_str_eq(r->ups[0].keys[1].value, "sk-bbbb");
    ck_assert_int_eq(r->ups[2].nkeys, 0);
    ck_assert_int_eq(r->ups[0].first_byte_timeout_ms, 1500);
    ck_assert_int_eq(r->ups[1].first_byte_timeout_ms, C.upstream_first_byte_timeout_ms);
    ck_assert_str_eq(r->default_model, "gpt"); /* the first named entry */
    /* by name, else "*" */
    ck_assert_str_eq(route_find(r, "smart")->name, "smart");
    ck_assert_str_eq(route_find(r, NULL)->name, "gpt");
    const route_model *any = route_find(r, "mistral");
    ck_assert_str_eq(any->name, "*");
    ck_assert_str_eq(route_answer_name(any, "mistral"), "mistral");
    routes_unref(r);
}
END_TEST

START_TEST(keys_in_turn_then_fallbacks)
{
    char err[512];
    routes *r = build(MAP, err, sizeof(err));
    ck_assert_ptr_nonnull(r);
    route_plan p;
    route_attempt a;
    ck_assert_int_eq(route_plan_init(&p, r, "smart", 1000), 0);
    /* claude (one key), then gpt's three keys, then lo: at most fallback_max_attempts (4) */
    ck_assert_int_eq(route_next(&p, 1000, &a, NULL), ROUTE_NEXT_OK);
    ck_assert_str_eq(a.up->name, "claude");
    ck_assert_str_eq(a.upstream_model, "claude-x");
    ck_assert_str_eq(a.answer_model, "smart");
    ck_assert_str_eq(a.key->value, "sk-ant");
    ck_assert(route_more(&p));
    const char *seen[3];
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(route_next(&p, 1000, &a, NULL), ROUTE_NEXT_OK);
        ck_assert_str_eq(a.up->name, "oai");
        ck_assert_str_eq(a.answer_model, "gpt");
        ck_assert_str_eq(a.upstream_model, "gpt");
        seen[i] = a.key->var;
    }
    ck_assert(strcmp(seen[0], seen[1]) && strcmp(seen[1], seen[2]) && strcmp(seen[0], seen[2]));
    ck_assert(!route_more(&p)); /* four attempts: the cap */
    ck_assert_int_eq(route_next(&p, 1000, &a, NULL), ROUTE_NEXT_NONE);
    /* a new plan starts at the next key: the keys are used in turn */
    ck_assert_int_eq(route_plan_init(&p, r, "gpt", 1000), 0);
    ck_assert_int_eq(route_next(&p, 1000, &a, NULL), ROUTE_NEXT_OK);
    const char *first = a.key->var;
    ck_assert_int_eq(route_plan_init(&p, r, "gpt", 1000), 0);
    ck_assert_int_eq(route_next(&p, 1000, &a, NULL), ROUTE_NEXT_OK);
    ck_assert_str_ne(a.key->var, first);
    /* no such model without a "*" entry: covered by the map without one below */
    routes_unref(r);
}
END_TEST

START_TEST(resting_keys_on_a_clock)
{
    char err[512];
    routes *r = build(MAP, err, sizeof(err));
    ck_assert_ptr_nonnull(r);
    route_plan p;
    route_attempt a;
    uint64_t now = 50000, wait = 0;
    route_upstream *oai = &r->ups[0];
    /* K_A answered 401: it rests a minute; K_B answered 429 with Retry-After 7 */
    route_attempt ka = {.up = oai, .key = &oai->keys[0]}, kb = {.up = oai, .key = &oai->keys[1]};
    route_report(&ka, 401, -1, 1, now);
    route_report(&kb, 429, 7, 1, now);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(route_plan_init(&p, r, "gpt", now), 0);
        ck_assert_int_eq(route_next(&p, now, &a, NULL), ROUTE_NEXT_OK);
        ck_assert_str_eq(a.key->var, "K_C"); /* the only one not resting */
    }
    /* K_C answered 429 without Retry-After: every key rests; the shortest wait is K_B's */
    route_attempt kc = {.up = oai, .key = &oai->keys[2]};
    route_report(&kc, 429, -1, 1, now);
    ck_assert_int_eq(route_plan_init(&p, r, "gpt", now), 0);
    ck_assert_int_eq(route_next(&p, now, &a, &wait), ROUTE_NEXT_RESTING);
    ck_assert_uint_eq(wait, ROUTE_REST_429_MS); /* K_C: 5 s, shorter than K_B's 7 */
    /* 6 s later K_C is back; 8 s later K_B too; after a minute K_A */
    ck_assert_int_eq(route_plan_init(&p, r, "gpt", now + 6000), 0);
    ck_assert_int_eq(route_next(&p, now + 6000, &a, NULL), ROUTE_NEXT_OK);
    ck_assert_str_eq(a.key->var, "K_C");
    ck_assert_int_eq(route_next(&p, now + 6000, &a, &wait), ROUTE_NEXT_RESTING);
    ck_assert_uint_eq(wait, 1000);
    ck_assert_int_eq(route_plan_init(&p, r, "gpt", now + 8000), 0);
    int got_b = 0;
    while (route_next(&p, now + 8000, &a, NULL) == ROUTE_NEXT_OK) {
        got_b |= !strcmp(a.key->var, "K_B");
        ck_assert_str_ne(a.key->var, "K_A");
    }
    ck_assert(got_b);
    ck_assert_int_eq(route_plan_init(&p, r, "gpt", now + 61000), 0);
    int got_a = 0;
    while (route_next(&p, now + 61000, &a, NULL) == ROUTE_NEXT_OK)
        got_a |= !strcmp(a.key->var, "K_A");
    ck_assert(got_a);
    /* a resting key elsewhere in the plan: the fallback serves */
    route_report(&(route_attempt){.up = &r->ups[1], .key = &r->ups[1].keys[0]}, 429, 30, 1, now);
    ck_assert_int_eq(route_plan_init(&p, r, "smart", now + 61000), 0);
    ck_assert_int_eq(route_next(&p, now + 61000, &a, NULL), ROUTE_NEXT_OK);
    ck_assert_str_eq(a.up->name, "claude"); /* a lone key never rests */
    routes_unref(r);
}
END_TEST

START_TEST(deadline_ends_the_plan)
{
    char err[512];
    routes *r = build(MAP, err, sizeof(err));
    ck_assert_ptr_nonnull(r);
    route_plan p;
    route_attempt a;
    ck_assert_int_eq(route_plan_init(&p, r, "smart", 0), 0);
    ck_assert_int_eq(route_next(&p, 0, &a, NULL), ROUTE_NEXT_OK);
    ck_assert_int_eq(route_next(&p, (uint64_t)C.fallback_deadline_ms, &a, NULL), ROUTE_NEXT_NONE);
    routes_unref(r);
}
END_TEST

START_TEST(metrics_name_keys_by_variable)
{
    char err[512];
    routes *r = build(MAP, err, sizeof(err));
    ck_assert_ptr_nonnull(r);
    route_attempt ka = {.up = &r->ups[0], .key = &r->ups[0].keys[0]};
    route_report(&ka, 401, -1, 1, 100);
    buf b;
    buf_init(&b, 1 << 16);
    routes_metrics(r, 100, &b);
    buf_add(&b, "", 1); /* NUL-terminated for strstr */
    const char *m = buf_ptr(&b);
    ck_assert_ptr_nonnull(
        strstr(m, "chatd_upstream_key_resting{upstream=\"oai\",key=\"0\",var=\"K_A\"} 1"));
    ck_assert_ptr_nonnull(
        strstr(m, "chatd_upstream_key_resting{upstream=\"oai\",key=\"1\",var=\"K_B\"} 0"));
    ck_assert_ptr_nonnull(strstr(m, "chatd_upstream_failures_total{upstream=\"oai\"} 1"));
    ck_assert_ptr_null(strstr(m, "sk-aaaa"));
    buf_free(&b);
    routes_unref(r);
}
END_TEST

START_TEST(bad_maps_say_which_entry)
{
    static const struct {
        const char *json, *want;
    } cases[] = {
        {"{\"upstreams\":[{\"name\":\"u\",\"provider\":\"openai\"}],"
         "\"models\":[{\"name\":\"m\",\"upstream\":\"v\"}]}",
         "models[0] (m): unknown upstream \"v\""},
        {"{\"upstreams\":[{\"name\":\"u\",\"provider\":\"openai\",\"api_key_env\":\"NOPE\"}]}",
         "upstreams[0] (u): api_key_env: NOPE is not set"},
        {"{\"upstreams\":[{\"name\":\"u\",\"provider\":\"openai\"}],"
         "\"models\":[{\"name\":\"m\",\"upstream\":\"u\",\"fallbacks\":[\"m\"]}]}",
         "models[0] (m): an entry cannot fall back to itself"},
        {"{\"upstreams\":[{\"name\":\"u\",\"provider\":\"openai\",\"url\":\"ftp://x\"}]}",
         "upstreams[0] (u): url must start with http:// or https://"},
        {"{\"upstreams\":[]}", "upstreams: expected a non-empty list of upstreams"},
        {"{\"upstreams\":[{\"provider\":\"openai\"}]}", "upstreams[0]: name is missing"},
        {"{\"upstreams\":[{\"name\":\"u\",\"provider\":\"openai\",\"idle_timeout_ms\":0}]}",
         "upstreams[0] (u): idle_timeout_ms must be a whole number of milliseconds, 1 to 3600000"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[512] = "";
        routes *r = build(cases[i].json, err, sizeof(err));
        ck_assert_ptr_null(r);
        ck_assert_str_eq(err, cases[i].want);
    }
    /* without a "*" entry an unknown model has no route */
    char err[512];
    routes *r = build("{\"upstreams\":[{\"name\":\"u\",\"provider\":\"openai\"}],"
                      "\"models\":[{\"name\":\"m\",\"upstream\":\"u\"}]}",
                      err, sizeof(err));
    ck_assert_ptr_nonnull(r);
    route_plan p;
    ck_assert_int_eq(route_plan_init(&p, r, "other", 0), -1);
    ck_assert_ptr_null(route_find(r, "other"));
    routes_unref(r);
}
END_TEST

START_TEST(shorthand_serves_every_model)
{
    char *argv[] = {"chatd", NULL};
    char *env[] = {"CHATD_PROVIDER=openai", "CHATD_UPSTREAM_URL=http://127.0.0.1:9/v1",
                   "CHATD_UPSTREAM_API_KEY=sk-one", NULL};
    char err[512];
    memset(&C, 0, sizeof(C));
    ck_assert_int_eq(cfg_load(&C, 1, argv, env, err, sizeof(err)), 0);
    routes *r = NULL;
    ck_assert_int_eq(routes_build(&C, C.upstream_url, env, &r, err, sizeof(err)), 0);
    ck_assert(r->shorthand);
    ck_assert_int_eq(r->nups, 1);
    ck_assert_str_eq(r->ups[0].name, "openai");
    ck_assert_int_eq(r->ups[0].nkeys, 1);
    route_plan p;
    route_attempt a;
    ck_assert_int_eq(route_plan_init(&p, r, "anything", 0), 0);
    ck_assert_int_eq(route_next(&p, 0, &a, NULL), ROUTE_NEXT_OK);
    ck_assert_str_eq(a.upstream_model, "anything");
    ck_assert(!route_more(&p));
    /* a lone key never rests: the next request tries it again */
    route_report(&a, 429, 60, 1, 0);
    ck_assert_int_eq(route_plan_init(&p, r, "anything", 0), 0);
    ck_assert_int_eq(route_next(&p, 0, &a, NULL), ROUTE_NEXT_OK);
    routes_install(r);
    routes *cur = routes_current();
    ck_assert_ptr_eq(cur, r);
    routes_unref(cur);
    routes_unref(r);
    routes_install(NULL); /* the last reference: freed */
}
END_TEST

int main(void)
{
    return check_tests("route", builds_the_map, keys_in_turn_then_fallbacks,
                       resting_keys_on_a_clock, deadline_ends_the_plan,
                       metrics_name_keys_by_variable, bad_maps_say_which_entry,
                       shorthand_serves_every_model);
}
