/* Tests for the demo model: a real HTTP/1.1 server on loopback, driven through libcurl
 * and through raw sockets where the exact bytes on the wire matter. */
#include "buf.h"
#include "demo/answers.h"
#include "demo/demo.h"

#include <arpa/inet.h>
#include <cJSON.h>
#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_CHUNKS 4096

static demo *D; /* interval 0, started for every test */

static void setup(void)
{
    ck_assert_int_eq(curl_global_init(CURL_GLOBAL_DEFAULT), 0);
    ck_assert_int_eq(demo_start(&D, 0), 0);
    ck_assert_ptr_nonnull(D);
}

static void teardown(void)
{
    demo_stop(D);
    D = NULL;
    curl_global_cleanup();
}

/* ---- UTF-8 ---- */

static int utf8_valid(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!len || i + len > n)
            return 0;
        for (size_t k = 1; k < len; k++)
            if (((unsigned char)s[i + k] & 0xc0) != 0x80)
                return 0;
        i += len;
    }
    return 1;
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- libcurl ---- */

typedef struct resp {
    long status;
    long connects;
    char ctype[128];
    buf body;
} resp;

static size_t collect(char *p, size_t size, size_t nmemb, void *ud)
{
    return buf_add(ud, p, size * nmemb) < 0 ? 0 : size * nmemb;
}

static size_t abort_write(char *p, size_t size, size_t nmemb, void *ud)
{
    return 0; /* the client walks away at its first bytes */
}

/* method NULL: GET without body, POST with one. path is appended to the base URL. */
static CURLcode http(CURL *h, const demo *d, const char *method, const char *path, const char *body,
                     resp *r)
{
    char url[256];
    const char *ctype = NULL;
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    snprintf(url, sizeof(url), "%s%s", demo_base_url(d), path);
    memset(r, 0, sizeof(*r));
    buf_init(&r->body, 1u << 20);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r->body);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &r->connects);
    curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ctype);
    snprintf(r->ctype, sizeof(r->ctype), "%s", ctype ? ctype : "");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdr);
    return rc;
}

static char *chat_body(const char *user, int stream, const char *extra)
{
    static char body[1024];
    snprintf(body, sizeof(body),
             "{\"model\":\"gpt-test\",\"messages\":[{\"role\":\"system\",\"content\":\"Be kind.\"},"
             "{\"role\":\"user\",\"content\":\"%s\"}],\"stream\":%s%s}",
             user, stream ? "true" : "false", extra ? extra : "");
    return body;
}

/* ---- the event stream ---- */

typedef struct sse {
    cJSON *chunk[MAX_CHUNKS];
    size_t n;
} sse;

/* Every event is exactly "data: <one line>\n\n"; the last is [DONE]. */
static void sse_parse(sse *s, const char *p, size_t n)
{
    int done = 0;
    memset(s, 0, sizeof(*s));
    while (n) {
        const char *end = memmem(p, n, "\n\n", 2);
        ck_assert_msg(end != NULL, "event without its blank line");
        ck_assert_msg(!done, "an event after [DONE]");
        ck_assert_msg(end - p > 6 && memcmp(p, "data: ", 6) == 0, "not a data event");
        size_t len = (size_t)(end - p) - 6;
        ck_assert_msg(memchr(p + 6, '\n', len) == NULL, "event of more than one line");
        if (len == 6 && memcmp(p + 6, "[DONE]", 6) == 0) {
            done = 1;
        } else {
            ck_assert_uint_lt(s->n, MAX_CHUNKS);
            s->chunk[s->n] = cJSON_ParseWithLength(p + 6, len);
            ck_assert_ptr_nonnull(s->chunk[s->n]);
            s->n++;
        }
        n -= (size_t)(end + 2 - p);
        p = end + 2;
    }
    ck_assert_msg(done, "no [DONE]");
}

static void sse_free(sse *s)
{
    for (size_t i = 0; i < s->n; i++)
        cJSON_Delete(s->chunk[i]);
}

static const char *str_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const cJSON *choice0(const cJSON *chunk)
{
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(chunk, "choices");
    ck_assert(cJSON_IsArray(choices));
    ck_assert_int_eq(cJSON_GetArraySize(choices), 1);
    const cJSON *c = cJSON_GetArrayItem(choices, 0);
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(c, "index")->valueint, 0);
    return c;
}

/* What a checked stream said. */
typedef struct result {
    char text[16384];
    size_t text_len;
    long chunks; /* content chunks */
    char finish[16];
    long usage[3]; /* prompt, completion, total; -1 when no usage chunk */
} result;

static void check_common(const sse *s, size_t i, const char *model)
{
    const cJSON *c = s->chunk[i], *c0 = s->chunk[0];
    ck_assert_str_eq(str_of(c, "object"), "chat.completion.chunk");
    ck_assert_str_eq(str_of(c, "model"), model);
    ck_assert(starts_with(str_of(c, "id"), "chatcmpl-"));
    ck_assert_str_eq(str_of(c, "id"), str_of(c0, "id"));
    ck_assert(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(c, "created")));
    ck_assert(cJSON_GetObjectItemCaseSensitive(c, "created")->valuedouble ==
              cJSON_GetObjectItemCaseSensitive(c0, "created")->valuedouble);
}

static void check_role(const cJSON *chunk)
{
    const cJSON *c = choice0(chunk);
    const cJSON *delta = cJSON_GetObjectItemCaseSensitive(c, "delta");
    ck_assert_str_eq(str_of(delta, "role"), "assistant");
    ck_assert_str_eq(str_of(delta, "content"), "");
    ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(c, "finish_reason")));
}

static void check_content(const cJSON *chunk, result *r)
{
    const cJSON *c = choice0(chunk);
    const cJSON *delta = cJSON_GetObjectItemCaseSensitive(c, "delta");
    const char *t = str_of(delta, "content");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(cJSON_GetArraySize(delta), 1);
    ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(c, "finish_reason")));
    size_t n = strlen(t);
    ck_assert_msg(n >= 1 && n <= 8, "token of %zu bytes", n);
    ck_assert(utf8_valid(t, n));
    ck_assert_uint_lt(r->text_len + n, sizeof(r->text));
    memcpy(r->text + r->text_len, t, n + 1);
    r->text_len += n;
    r->chunks++;
}

static void check_finish(const cJSON *chunk, result *r)
{
    const cJSON *c = choice0(chunk);
    const cJSON *delta = cJSON_GetObjectItemCaseSensitive(c, "delta");
    ck_assert(cJSON_IsObject(delta));
    ck_assert_int_eq(cJSON_GetArraySize(delta), 0);
    ck_assert_ptr_nonnull(str_of(c, "finish_reason"));
    snprintf(r->finish, sizeof(r->finish), "%s", str_of(c, "finish_reason"));
}

static void check_usage_chunk(const cJSON *chunk, result *r)
{
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(chunk, "choices");
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(chunk, "usage");
    ck_assert(cJSON_IsArray(choices));
    ck_assert_int_eq(cJSON_GetArraySize(choices), 0);
    ck_assert(cJSON_IsObject(u));
    r->usage[0] = (long)cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens")->valuedouble;
    r->usage[1] = (long)cJSON_GetObjectItemCaseSensitive(u, "completion_tokens")->valuedouble;
    r->usage[2] = (long)cJSON_GetObjectItemCaseSensitive(u, "total_tokens")->valuedouble;
}

/* Role chunk, content chunks, finish chunk, the usage chunk when asked for. */
static void check_stream(const sse *s, const char *model, int want_usage, result *r)
{
    size_t fin = want_usage ? s->n - 2 : s->n - 1;
    memset(r, 0, sizeof(*r));
    r->usage[0] = r->usage[1] = r->usage[2] = -1;
    ck_assert_uint_ge(s->n, want_usage ? 3 : 2);
    for (size_t i = 0; i < s->n; i++) {
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(s->chunk[i], "usage");
        check_common(s, i, model);
        if (!want_usage)
            ck_assert_ptr_null(u);
        else if (i < s->n - 1)
            ck_assert(cJSON_IsNull(u));
    }
    check_role(s->chunk[0]);
    for (size_t i = 1; i < fin; i++)
        check_content(s->chunk[i], r);
    check_finish(s->chunk[fin], r);
    if (want_usage)
        check_usage_chunk(s->chunk[s->n - 1], r);
}

/* POSTs a streaming chat, checks it end to end, returns what it said. */
static void stream_chat(CURL *h, const demo *d, const char *body, int want_usage, result *r)
{
    resp rs;
    sse s;
    ck_assert_int_eq(http(h, d, NULL, "/chat/completions", body, &rs), CURLE_OK);
    ck_assert_int_eq(rs.status, 200);
    ck_assert(starts_with(rs.ctype, "text/event-stream"));
    sse_parse(&s, buf_ptr(&rs.body), buf_len(&rs.body));
    check_stream(&s, "gpt-test", want_usage, r);
    sse_free(&s);
    buf_free(&rs.body);
}

/* ---- raw sockets ---- */

static int raw_connect(const demo *d)
{
    int port = 0;
    struct timeval guard = {.tv_sec = 10}; /* a failing test fails instead of hanging */
    ck_assert_int_eq(sscanf(demo_base_url(d), "http://127.0.0.1:%d/v1", &port), 1);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &guard, sizeof(guard));
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static void raw_send(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        ck_assert_int_gt(w, 0);
        s += w;
        n -= (size_t)w;
    }
}

/* Reads until the bytes read hold needle (NULL: until the server closes). 1 when the
 * server closed (or reset) the connection, else 0. */
static int raw_read(int fd, buf *out, const char *needle, size_t step)
{
    char tmp[16384];
    for (;;) {
        if (needle && memmem(buf_ptr(out), buf_len(out), needle, strlen(needle)))
            return 0;
        ssize_t r = recv(fd, tmp, step < sizeof(tmp) ? step : sizeof(tmp), 0);
        if (r <= 0) {
            ck_assert_msg(r == 0 || errno == ECONNRESET, "recv: %s", strerror(errno));
            return 1;
        }
        ck_assert_int_eq(buf_add(out, tmp, (size_t)r), 0);
        *buf_tail(out) = '\0'; /* buf_add keeps a byte spare: the text stays a C string */
    }
}

static int count(const buf *b, const char *needle)
{
    int n = 0;
    for (const char *p = buf_ptr(b); (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* The body of a chunked response; asserts the framing and the final zero chunk. */
static void dechunk(const char *p, size_t n, buf *out)
{
    const char *body = memmem(p, n, "\r\n\r\n", 4);
    ck_assert_ptr_nonnull(body);
    ck_assert_ptr_nonnull(memmem(p, (size_t)(body - p), "Transfer-Encoding: chunked", 26));
    n -= (size_t)(body + 4 - p);
    p = body + 4;
    for (;;) {
        char *end;
        unsigned long len = strtoul(p, &end, 16);
        ck_assert(end > p && (size_t)(end - p) + 2 <= n && memcmp(end, "\r\n", 2) == 0);
        n -= (size_t)(end + 2 - p);
        p = end + 2;
        ck_assert_uint_ge(n, len + 2);
        ck_assert(memcmp(p + len, "\r\n", 2) == 0);
        ck_assert_int_eq(buf_add(out, p, len), 0);
        n -= len + 2;
        p += len + 2;
        if (len == 0)
            break;
    }
    ck_assert_uint_eq(n, 0);
}

static void raw_request(int fd, const char *method, const char *path, const char *headers,
                        const char *body)
{
    char head[1024];
    int n = snprintf(head, sizeof(head),
                     "%s /v1%s HTTP/1.1\r\nHost: x\r\n%sContent-Length: %zu\r\n\r\n", method, path,
                     headers, body ? strlen(body) : 0);
    raw_send(fd, head, (size_t)n);
    if (body)
        raw_send(fd, body, strlen(body));
}

/* ---- answers ---- */

START_TEST(test_answers_data)
{
    ck_assert_uint_ge(demo_answer_count(), 4);
    ck_assert_uint_le(demo_answer_count(), 6);
    ck_assert_ptr_null(demo_answer_at(demo_answer_count()));
    for (size_t i = 0; i < demo_answer_count(); i++) {
        const char *a = demo_answer_at(i);
        ck_assert(utf8_valid(a, strlen(a)));
        ck_assert_msg(utf8_chars(a) >= 400 && utf8_chars(a) <= 1500, "answer %zu: %zu", i,
                      utf8_chars(a));
        for (size_t k = 0; k < i; k++)
            ck_assert_ptr_ne(a, demo_answer_at(k));
    }
}
END_TEST

START_TEST(test_answers_choice)
{
    const char *def = demo_answer_at(0);
    ck_assert_ptr_eq(demo_answer_for(NULL), def);
    ck_assert_ptr_eq(demo_answer_for(""), def);
    ck_assert_ptr_eq(demo_answer_for("Hello, who are you?"), def);
    ck_assert_ptr_eq(demo_answer_for("codex"), def); /* words, not substrings */
    const char *code = demo_answer_for("Show me some Python");
    ck_assert_ptr_ne(code, def);
    ck_assert_ptr_nonnull(strstr(code, "```"));
    ck_assert_ptr_eq(demo_answer_for("how about C?"), code);
    ck_assert_ptr_eq(demo_answer_for("C++ please"), code);
    const char *cjk = demo_answer_for("Say it in Japanese");
    ck_assert_ptr_nonnull(strstr(cjk, "日本語"));
    ck_assert_ptr_eq(demo_answer_for("用中文说"), cjk);
    const char *emoji = demo_answer_for("EMOJI time");
    ck_assert_ptr_nonnull(strstr(emoji, "👩\u200d💻"));
    const char *md = demo_answer_for("make a table");
    ck_assert_ptr_nonnull(strstr(md, "|---|"));
    ck_assert_ptr_nonnull(strstr(md, "# "));
    const char *story = demo_answer_for("tell me a long story");
    ck_assert(story != def && story != code && story != cjk && story != emoji && story != md);
    /* The default shows a bit of everything. */
    ck_assert_ptr_nonnull(strstr(def, "```"));
    ck_assert_ptr_nonnull(strstr(def, "\n- "));
    ck_assert_ptr_nonnull(strstr(def, "日本語"));
    ck_assert_ptr_nonnull(strstr(def, "中文"));
    ck_assert_ptr_nonnull(strstr(def, "👩\u200d💻"));
    ck_assert_ptr_nonnull(strstr(def, "🇯🇵"));
    ck_assert_ptr_nonnull(strstr(def, "👍🏽"));
    ck_assert_ptr_nonnull(strstr(def, "❤\ufe0f"));
    ck_assert_ptr_nonnull(strstr(def, "cafe\u0301"));
}
END_TEST

/* ---- streaming ---- */

START_TEST(test_stream_default)
{
    CURL *h = curl_easy_init();
    result r;
    stream_chat(h, D, chat_body("hello there", 1, NULL), 0, &r);
    ck_assert_str_eq(r.text, demo_answer_for("hello there"));
    ck_assert_str_eq(r.finish, "stop");
    ck_assert_int_eq(r.usage[0], -1);
    ck_assert_int_gt(r.chunks, 100);
    curl_easy_cleanup(h);
}
END_TEST

START_TEST(test_stream_every_answer)
{
    const char *asks[] = {"hi", "code", "japanese", "emoji", "markdown", "story"};
    CURL *h = curl_easy_init();
    for (size_t i = 0; i < sizeof(asks) / sizeof(asks[0]); i++) {
        result r;
        stream_chat(h, D, chat_body(asks[i], 1, NULL), 0, &r);
        ck_assert_str_eq(r.text, demo_answer_for(asks[i]));
        ck_assert_str_eq(r.finish, "stop");
    }
    curl_easy_cleanup(h);
}
END_TEST

/* Like a byte-level tokenizer, the demo splits grapheme clusters between chunks. */
static int split_between(const sse *s, const char *left, const char *right)
{
    for (size_t i = 1; i + 2 < s->n; i++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(choice0(s->chunk[i]), "delta");
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(choice0(s->chunk[i + 1]), "delta");
        if (ends_with(str_of(a, "content"), left) && starts_with(str_of(b, "content"), right))
            return 1;
    }
    return 0;
}

START_TEST(test_stream_splits_clusters)
{
    CURL *h = curl_easy_init();
    resp rs;
    sse s;
    ck_assert_int_eq(http(h, D, NULL, "/chat/completions", chat_body("hi", 1, NULL), &rs), 0);
    sse_parse(&s, buf_ptr(&rs.body), buf_len(&rs.body));
    ck_assert(split_between(&s, "👩", "\u200d💻"));
    ck_assert(split_between(&s, "e", "\u0301"));
    ck_assert(split_between(&s, "🇯", "🇵"));
    ck_assert(split_between(&s, "👍", "🏽"));
    ck_assert(split_between(&s, "❤", "\ufe0f"));
    sse_free(&s);
    buf_free(&rs.body);
    curl_easy_cleanup(h);
}
END_TEST

START_TEST(test_stream_usage)
{
    /* "Be kind." and "emoji please": 8 + 12 characters, 20 / 4 = 5 prompt tokens. */
    const char *opts = ",\"stream_options\":{\"include_usage\":true}";
    CURL *h = curl_easy_init();
    result r;
    stream_chat(h, D, chat_body("emoji please", 1, opts), 1, &r);
    ck_assert_str_eq(r.text, demo_answer_for("emoji please"));
    ck_assert_str_eq(r.finish, "stop");
    ck_assert_int_eq(r.usage[0], 5);
    ck_assert_int_eq(r.usage[1], r.chunks);
    ck_assert_int_eq(r.usage[2], r.usage[0] + r.usage[1]);
    /* Explicitly not asked for: no usage anywhere. */
    stream_chat(h, D, chat_body("emoji please", 1, ",\"stream_options\":{\"include_usage\":false}"),
                0, &r);
    ck_assert_int_eq(r.usage[0], -1);
    curl_easy_cleanup(h);
}
END_TEST

START_TEST(test_stream_max_tokens)
{
    const char *answer = demo_answer_for("markdown");
    CURL *h = curl_easy_init();
    result r, whole;
    stream_chat(h, D, chat_body("markdown", 1, ",\"max_tokens\":5"), 0, &r);
    ck_assert_str_eq(r.finish, "length");
    ck_assert_int_eq(r.chunks, 5);
    ck_assert(r.text_len > 0 && r.text_len < strlen(answer));
    ck_assert(strncmp(answer, r.text, r.text_len) == 0);
    stream_chat(h, D, chat_body("markdown", 1, ",\"max_completion_tokens\":3"), 0, &r);
    ck_assert_str_eq(r.finish, "length");
    ck_assert_int_eq(r.chunks, 3);
    /* Exactly enough tokens: the answer is whole, so it stopped, not cut. */
    stream_chat(h, D, chat_body("markdown", 1, NULL), 0, &whole);
    char extra[64];
    snprintf(extra, sizeof(extra), ",\"max_tokens\":%ld", whole.chunks);
    stream_chat(h, D, chat_body("markdown", 1, extra), 0, &r);
    ck_assert_str_eq(r.finish, "stop");
    ck_assert_str_eq(r.text, answer);
    curl_easy_cleanup(h);
}
END_TEST

/* ---- non-streaming and other routes ---- */

static cJSON *json_of(const resp *r)
{
    cJSON *j = cJSON_ParseWithLength(buf_ptr(&r->body), buf_len(&r->body));
    ck_assert_ptr_nonnull(j);
    ck_assert(starts_with(r->ctype, "application/json"));
    return j;
}

START_TEST(test_completion)
{
    CURL *h = curl_easy_init();
    resp rs;
    result streamed;
    stream_chat(h, D, chat_body("write some code", 1, NULL), 0, &streamed);
    ck_assert_int_eq(
        http(h, D, NULL, "/chat/completions", chat_body("write some code", 0, NULL), &rs),
        CURLE_OK);
    ck_assert_int_eq(rs.status, 200);
    cJSON *j = json_of(&rs);
    ck_assert_str_eq(str_of(j, "object"), "chat.completion");
    ck_assert_str_eq(str_of(j, "model"), "gpt-test");
    ck_assert(starts_with(str_of(j, "id"), "chatcmpl-"));
    const cJSON *c = choice0(j);
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(c, "message");
    ck_assert_str_eq(str_of(msg, "role"), "assistant");
    ck_assert_str_eq(str_of(msg, "content"), demo_answer_for("write some code"));
    ck_assert_str_eq(str_of(c, "finish_reason"), "stop");
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(j, "usage");
    long prompt = (long)cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens")->valuedouble;
    long done = (long)cJSON_GetObjectItemCaseSensitive(u, "completion_tokens")->valuedouble;
    ck_assert_int_eq(prompt, (8 + 15 + 3) / 4);
    ck_assert_int_eq(done, streamed.chunks);
    ck_assert_int_eq((long)cJSON_GetObjectItemCaseSensitive(u, "total_tokens")->valuedouble,
                     prompt + done);
    cJSON_Delete(j);
    buf_free(&rs.body);
    curl_easy_cleanup(h);
}
END_TEST

START_TEST(test_completion_max_tokens)
{
    CURL *h = curl_easy_init();
    resp rs;
    result streamed;
    stream_chat(h, D, chat_body("hi", 1, ",\"max_tokens\":7"), 0, &streamed);
    ck_assert_int_eq(
        http(h, D, NULL, "/chat/completions", chat_body("hi", 0, ",\"max_tokens\":7"), &rs),
        CURLE_OK);
    cJSON *j = json_of(&rs);
    const cJSON *c = choice0(j);
    ck_assert_str_eq(str_of(c, "finish_reason"), "length");
    ck_assert_str_eq(str_of(cJSON_GetObjectItemCaseSensitive(c, "message"), "content"),
                     streamed.text);
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(j, "usage");
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(u, "completion_tokens")->valueint, 7);
    cJSON_Delete(j);
    buf_free(&rs.body);
    curl_easy_cleanup(h);
}
END_TEST

START_TEST(test_models)
{
    CURL *h = curl_easy_init();
    resp rs;
    ck_assert_int_eq(http(h, D, NULL, "/models", NULL, &rs), CURLE_OK);
    ck_assert_int_eq(rs.status, 200);
    cJSON *j = json_of(&rs);
    ck_assert_str_eq(str_of(j, "object"), "list");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(j, "data");
    ck_assert_int_eq(cJSON_GetArraySize(data), 1);
    ck_assert_str_eq(str_of(cJSON_GetArrayItem(data, 0), "id"), DEMO_MODEL);
    ck_assert_str_eq(str_of(cJSON_GetArrayItem(data, 0), "object"), "model");
    cJSON_Delete(j);
    buf_free(&rs.body);
    curl_easy_cleanup(h);
}
END_TEST

/* An error in OpenAI's shape; returns error.param (NULL when null). */
static void check_error(CURL *h, const char *method, const char *path, const char *body,
                        long status, const char *param)
{
    resp rs;
    ck_assert_int_eq(http(h, D, method, path, body, &rs), CURLE_OK);
    ck_assert_int_eq(rs.status, status);
    cJSON *j = json_of(&rs);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    ck_assert(cJSON_IsObject(e));
    ck_assert(str_of(e, "message") && *str_of(e, "message"));
    ck_assert_str_eq(str_of(e, "type"), "invalid_request_error");
    if (param)
        ck_assert_str_eq(str_of(e, "param"), param);
    else
        ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(e, "param")));
    ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(e, "code")));
    cJSON_Delete(j);
    buf_free(&rs.body);
}

/* A request chatd refuses with 400: its body (NULL: chat_body("x", stream, extra)) and
 * the param the error names (NULL: none checked). */
typedef struct bad_request {
    const char *body, *extra;
    int stream;
    const char *param;
} bad_request;

static void check_bad_requests(CURL *h, const bad_request *bad, size_t n)
{
    for (size_t i = 0; i < n; i++)
        check_error(h, NULL, "/chat/completions",
                    bad[i].body ? bad[i].body : chat_body("x", bad[i].stream, bad[i].extra), 400,
                    bad[i].param);
}

START_TEST(test_not_found)
{
    CURL *h = curl_easy_init();
    check_error(h, NULL, "/nothing", NULL, 404, NULL);
    check_error(h, NULL, "/chat/completions", NULL, 404, NULL); /* GET */
    check_error(h, "POST", "/models", "{}", 404, NULL);
    check_error(h, NULL, "/models/x?y=1", NULL, 404, NULL);
    resp rs;
    ck_assert_int_eq(http(h, D, NULL, "/nothing", NULL, &rs), CURLE_OK);
    ck_assert_ptr_nonnull(memmem(buf_ptr(&rs.body), buf_len(&rs.body), "GET /v1/nothing", 15));
    ck_assert_int_eq(rs.connects, 0); /* errors keep the connection alive */
    buf_free(&rs.body);
    /* The path as it came: escapes stay escapes, the query goes. */
    ck_assert_int_eq(http(h, D, NULL, "/a%20b%2Fc?q=1", NULL, &rs), CURLE_OK);
    ck_assert_int_eq(rs.status, 404);
    ck_assert_ptr_nonnull(memmem(buf_ptr(&rs.body), buf_len(&rs.body), "(GET /v1/a%20b%2Fc)", 19));
    buf_free(&rs.body);
    curl_easy_cleanup(h);
}
END_TEST

START_TEST(test_bad_requests)
{
    CURL *h = curl_easy_init();
    static const bad_request bad[] = {
        {"{not json", NULL, 0, NULL},
        {"[1,2]", NULL, 0, NULL},
        {"", NULL, 0, NULL},
        {"{\"model\":\"m\"}", NULL, 0, "messages"},
        {"{\"messages\":[]}", NULL, 0, "messages"},
        {"{\"messages\":[1]}", NULL, 0, "messages"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":5}]}", NULL, 0, "messages"},
        {NULL, ",\"max_tokens\":0", 1, "max_tokens"},
        {NULL, ",\"max_tokens\":1.5", 1, "max_tokens"},
        {NULL, ",\"stream_options\":{\"include_usage\":true}", 0, "stream_options"},
        {"{\"model\":\"a \\\"b\\\"\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", NULL,
         0, "model"},
        {"{\"model\":\"\",\"messages\":[{\"role\":\"user\"}]}", NULL, 0, "messages"},
        {"{\"model\":\"\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", NULL, 0, "model"},
        {"{\"messages\":[{\"role\":\"robot\",\"content\":\"x\"}]}", NULL, 0, "messages"},
        {NULL, ",\"max_completion_tokens\":0", 1, "max_tokens"},
        {"{\"stream\":\"yes\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", NULL, 0,
         "stream"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"\xff\"}]}", NULL, 0, NULL},
    };
    check_bad_requests(h, bad, sizeof(bad) / sizeof(bad[0]));
    /* The connection survived every one of them. */
    result r;
    stream_chat(h, D, chat_body("hi", 1, ",\"max_tokens\":2"), 0, &r);
    ck_assert_str_eq(r.finish, "length");
    curl_easy_cleanup(h);
}
END_TEST

/* Content given as an array of parts, OpenAI's other message shape: one text part, as
 * chatd's request parser takes it. */
START_TEST(test_content_parts)
{
    CURL *h = curl_easy_init();
    resp rs;
    const char *body = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
                       "\"text\",\"text\":\"some emoji\"}]},"
                       "{\"role\":\"assistant\",\"content\":\"\"}]}";
    ck_assert_int_eq(http(h, D, NULL, "/chat/completions", body, &rs), CURLE_OK);
    ck_assert_int_eq(rs.status, 200);
    cJSON *j = json_of(&rs);
    ck_assert_str_eq(str_of(cJSON_GetObjectItemCaseSensitive(choice0(j), "message"), "content"),
                     demo_answer_for("emoji"));
    ck_assert_str_eq(str_of(j, "model"), "m");
    /* "some emoji": 10 characters, 3 prompt tokens. */
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(j, "usage");
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens")->valueint, 3);
    cJSON_Delete(j);
    buf_free(&rs.body);
    /* A part of no known shape, an image not at a data: or https: URL, a null content:
     * refused. */
    static const bad_request bad[] = {
        {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
         "\"image_url\":{\"url\":\"http://x\"}}]}]}",
         NULL, 0, "messages"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}", NULL, 0,
         "messages"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":null}]}", NULL, 0, "messages"},
    };
    check_bad_requests(h, bad, sizeof(bad) / sizeof(bad[0]));
    curl_easy_cleanup(h);
}
END_TEST

/* ---- connections ---- */

START_TEST(test_keepalive)
{
    CURL *h = curl_easy_init();
    resp rs;
    ck_assert_int_eq(http(h, D, NULL, "/chat/completions", chat_body("hi", 1, NULL), &rs), 0);
    ck_assert_int_eq(rs.connects, 1);
    buf_free(&rs.body);
    ck_assert_int_eq(http(h, D, NULL, "/chat/completions", chat_body("code", 1, NULL), &rs), 0);
    ck_assert_int_eq(rs.status, 200);
    ck_assert_int_eq(rs.connects, 0);
    buf_free(&rs.body);
    ck_assert_int_eq(http(h, D, NULL, "/chat/completions", chat_body("code", 0, NULL), &rs), 0);
    ck_assert_int_eq(rs.connects, 0);
    buf_free(&rs.body);
    ck_assert_int_eq(http(h, D, NULL, "/models", NULL, &rs), 0);
    ck_assert_int_eq(rs.connects, 0);
    buf_free(&rs.body);
    curl_easy_cleanup(h);
}
END_TEST

START_TEST(test_client_abort)
{
    demo *slow;
    CURL *h = curl_easy_init();
    resp rs;
    result r;
    char url[256];
    /* 1 ms a token: the stream is surely still going when the client walks away. */
    ck_assert_int_eq(demo_start(&slow, 1), 0);
    for (int i = 0; i < 10; i++) {
        /* A warm connection first, so that the abort also hits a reused one. */
        ck_assert_int_eq(http(h, slow, NULL, "/models", NULL, &rs), CURLE_OK);
        buf_free(&rs.body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, chat_body("story", 1, NULL));
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, -1L);
        curl_easy_setopt(h, CURLOPT_URL,
                         strcat(strcpy(url, demo_base_url(slow)), "/chat/completions"));
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, abort_write);
        ck_assert_int_eq(curl_easy_perform(h), CURLE_WRITE_ERROR);
    }
    /* The aborted connection is gone; a new one serves the next stream in full. */
    stream_chat(h, slow, chat_body("hi", 1, ",\"max_tokens\":20"), 0, &r);
    ck_assert_int_eq(r.chunks, 20);
    ck_assert_str_eq(r.finish, "length");
    ck_assert(strncmp(r.text, demo_answer_for("hi"), r.text_len) == 0);
    demo_stop(slow);
    curl_easy_cleanup(h);
}
END_TEST

/* A client that half-closes mid-stream is dropped at once, not at the next token. */
START_TEST(test_client_gone_noticed)
{
    demo *slow;
    buf in;
    ck_assert_int_eq(demo_start(&slow, 5000), 0);
    int fd = raw_connect(slow);
    buf_init(&in, 1u << 16);
    raw_request(fd, "POST", "/chat/completions", "", chat_body("hi", 1, NULL));
    ck_assert_int_eq(raw_read(fd, &in, "\"role\":\"assistant\"", 4096), 0);
    shutdown(fd, SHUT_WR);
    ck_assert_int_eq(raw_read(fd, &in, NULL, 4096), 1);
    /* Closed before the first token (seconds away) was due: the role chunk alone. */
    ck_assert_int_eq(count(&in, "\"content\":"), 1);
    ck_assert_int_eq(count(&in, "finish_reason\":\""), 0);
    close(fd);
    buf_free(&in);
    demo_stop(slow);
}
END_TEST

START_TEST(test_stop_with_open_connections)
{
    demo *slow;
    buf in;
    int fds[3];
    ck_assert_int_eq(demo_start(&slow, 5000), 0);
    buf_init(&in, 1u << 16);
    fds[0] = raw_connect(slow); /* idle */
    fds[1] = raw_connect(slow); /* half a request head */
    raw_send(fds[1], "POST /v1/chat/completions HTTP/1.1\r\nHost:", 41);
    fds[2] = raw_connect(slow); /* mid-stream */
    raw_request(fds[2], "POST", "/chat/completions", "", chat_body("hi", 1, NULL));
    ck_assert_int_eq(raw_read(fds[2], &in, "\"role\":\"assistant\"", 4096), 0);
    /* The server has every connection (it answered the last one to connect). */
    demo_stop(slow);
    for (int i = 0; i < 3; i++) {
        buf_reset(&in);
        ck_assert_int_eq(raw_read(fds[i], &in, NULL, 4096), 1);
        ck_assert_ptr_null(memmem(buf_ptr(&in), buf_len(&in), "[DONE]", 6));
        close(fds[i]);
    }
    buf_free(&in);
}
END_TEST

START_TEST(test_expect_continue)
{
    const char *body = chat_body("code", 0, NULL);
    char head[512];
    buf in;
    int fd = raw_connect(D);
    buf_init(&in, 1u << 16);
    int n = snprintf(head, sizeof(head),
                     "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                     "Connection: close\r\nContent-Length: %zu\r\n\r\n",
                     strlen(body));
    raw_send(fd, head, (size_t)n);
    /* Nothing of the body was sent: the server must ask for it. */
    ck_assert_int_eq(raw_read(fd, &in, "\r\n\r\n", 1), 0);
    ck_assert_uint_eq(buf_len(&in), 25);
    ck_assert(memcmp(buf_ptr(&in), "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0);
    raw_send(fd, body, strlen(body));
    buf_reset(&in);
    ck_assert_int_eq(raw_read(fd, &in, NULL, 4096), 1);
    ck_assert(starts_with(buf_ptr(&in), "HTTP/1.1 200 OK\r\n"));
    ck_assert_ptr_nonnull(memmem(buf_ptr(&in), buf_len(&in), "Connection: close\r\n", 19));
    ck_assert_ptr_nonnull(memmem(buf_ptr(&in), buf_len(&in), "```python", 9));
    close(fd);
    buf_free(&in);
}
END_TEST

/* Sends request on a fresh connection; the answer must start with status_line and the
 * server must close the connection after it. json: the body is the demo's own error
 * object (else libmicrohttpd answered the malformed request itself). */
static void check_refused(const char *request, size_t n, const char *status_line, int json)
{
    buf in;
    int fd = raw_connect(D);
    buf_init(&in, 1u << 16);
    raw_send(fd, request, n);
    ck_assert_int_eq(raw_read(fd, &in, NULL, 4096), 1); /* answered, then closed */
    ck_assert_msg(starts_with(buf_ptr(&in), status_line), "got: %.40s", buf_ptr(&in));
    ck_assert_ptr_nonnull(memmem(buf_ptr(&in), buf_len(&in), "Connection: close\r\n", 19));
    if (json) {
        ck_assert_ptr_nonnull(memmem(buf_ptr(&in), buf_len(&in), "application/json", 16));
        ck_assert_ptr_nonnull(memmem(buf_ptr(&in), buf_len(&in), "\"error\":{", 9));
    }
    close(fd);
    buf_free(&in);
}

START_TEST(test_limits)
{
    static char big[40 * 1024];
    const char *r;
    char head[20 * 1024];
    /* What the head shows is wrong: the demo's own errors, before any body is read. */
    r = "POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n";
    check_refused(r, strlen(r), "HTTP/1.1 413 ", 1);
    r = "POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n";
    check_refused(r, strlen(r), "HTTP/1.1 400 ", 1);
    r = "POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 1\r\n"
        "Transfer-Encoding: chunked\r\n\r\n";
    check_refused(r, strlen(r), "HTTP/1.1 400 ", 1);
    /* A whole head over 16 KiB. */
    int n =
        snprintf(head, sizeof(head), "GET /v1/models HTTP/1.1\r\nX: %0*d\r\n\r\n", 17 * 1024, 0);
    check_refused(head, (size_t)n, "HTTP/1.1 431 ", 1);
    /* A chunked body that goes over 1 MiB: read to its end, then refused. */
    buf req;
    buf_init(&req, 2u << 20);
    ck_assert_int_eq(buf_addstr(&req, "POST /v1/chat/completions HTTP/1.1\r\n"
                                      "Transfer-Encoding: chunked\r\n\r\n"),
                     0);
    for (int i = 0; i < 17; i++) {
        ck_assert_int_eq(buf_addstr(&req, "10000\r\n"), 0);
        ck_assert_int_eq(buf_reserve(&req, 65536), 0);
        memset(buf_tail(&req), 'a', 65536);
        buf_commit(&req, 65536);
        ck_assert_int_eq(buf_addstr(&req, "\r\n"), 0);
    }
    ck_assert_int_eq(buf_addstr(&req, "0\r\n\r\n"), 0);
    check_refused(buf_ptr(&req), buf_len(&req), "HTTP/1.1 413 ", 1);
    buf_free(&req);
    /* Broken framing: libmicrohttpd answers, and closes. */
    r = "POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n";
    check_refused(r, strlen(r), "HTTP/1.1 413 ", 0);
    r = "POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 1x\r\n\r\n";
    check_refused(r, strlen(r), "HTTP/1.1 400 ", 0);
    r = "GET /v1/models HTTP/2.0\r\n\r\n";
    check_refused(r, strlen(r), "HTTP/1.1 505 ", 0);
    r = "GET /v1/models HTTP/1.1\r\nno colon here\r\n\r\n";
    check_refused(r, strlen(r), "HTTP/1.1 400 ", 0);
    /* A head that never ends within the connection's memory. */
    memset(big, 'a', sizeof(big));
    memcpy(big, "GET /v1/models HTTP/1.1\r\nX: ", 28);
    check_refused(big, sizeof(big), "HTTP/1.1 431 ", 0);
    /* Not HTTP at all: closed without an answer. */
    buf in;
    int fd = raw_connect(D);
    buf_init(&in, 4096);
    raw_send(fd, "garbage\r\n\r\n", 11);
    ck_assert_int_eq(raw_read(fd, &in, NULL, 4096), 1);
    ck_assert_uint_eq(buf_len(&in), 0);
    close(fd);
    buf_free(&in);
}
END_TEST

/* A body sent in chunks is read whole, like one with a Content-Length. */
START_TEST(test_chunked_body)
{
    const char *body = chat_body("emoji", 1, ",\"max_tokens\":4");
    size_t half = strlen(body) / 2;
    char req[2048];
    buf in, events;
    sse s;
    result r;
    int fd = raw_connect(D);
    int n = snprintf(req, sizeof(req),
                     "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n%zx\r\n%.*s\r\n%zx\r\n%s\r\n0\r\n\r\n",
                     half, (int)half, body, strlen(body) - half, body + half);
    ck_assert_int_lt(n, (int)sizeof(req));
    buf_init(&in, 1u << 20);
    buf_init(&events, 1u << 20);
    raw_send(fd, req, (size_t)n);
    ck_assert_int_eq(raw_read(fd, &in, NULL, 4096), 1);
    ck_assert(starts_with(buf_ptr(&in), "HTTP/1.1 200 OK\r\n"));
    dechunk(buf_ptr(&in), buf_len(&in), &events);
    sse_parse(&s, buf_ptr(&events), buf_len(&events));
    check_stream(&s, "gpt-test", 0, &r);
    ck_assert_int_eq(r.chunks, 4);
    ck_assert(strncmp(r.text, demo_answer_for("emoji"), r.text_len) == 0);
    sse_free(&s);
    buf_free(&in);
    buf_free(&events);
    close(fd);
}
END_TEST

START_TEST(test_pipelined_and_http10)
{
    const char *two = "GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n"
                      "GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    buf in;
    int fd = raw_connect(D);
    buf_init(&in, 1u << 16);
    raw_send(fd, two, strlen(two));
    ck_assert_int_eq(raw_read(fd, &in, NULL, 4096), 1);
    const char *second = memmem(buf_ptr(&in) + 1, buf_len(&in) - 1, "HTTP/1.1 200 OK", 15);
    ck_assert(starts_with(buf_ptr(&in), "HTTP/1.1 200 OK"));
    ck_assert_ptr_nonnull(second);
    ck_assert_ptr_nonnull(strstr(second, "Connection: close"));
    close(fd);
    /* HTTP/1.0: answered, then closed. */
    fd = raw_connect(D);
    buf_reset(&in);
    raw_send(fd, "GET /v1/models HTTP/1.0\r\n\r\n", 27);
    ck_assert_int_eq(raw_read(fd, &in, NULL, 4096), 1);
    ck_assert(starts_with(buf_ptr(&in), "HTTP/1.1 200 OK"));
    close(fd);
    buf_free(&in);
}
END_TEST

/* An HTTP/1.0 client has no chunked encoding: the stream's end is the connection's. */
START_TEST(test_http10_stream)
{
    const char *body = chat_body("japanese", 1, ",\"max_tokens\":6");
    char head[256];
    buf in;
    sse s;
    result r;
    int fd = raw_connect(D);
    int n =
        snprintf(head, sizeof(head),
                 "POST /v1/chat/completions HTTP/1.0\r\nContent-Length: %zu\r\n\r\n", strlen(body));
    buf_init(&in, 1u << 20);
    raw_send(fd, head, (size_t)n);
    raw_send(fd, body, strlen(body));
    ck_assert_int_eq(raw_read(fd, &in, NULL, 4096), 1);
    const char *events = memmem(buf_ptr(&in), buf_len(&in), "\r\n\r\n", 4);
    ck_assert_ptr_nonnull(events);
    events += 4;
    ck_assert(starts_with(buf_ptr(&in), "HTTP/1.1 200 OK\r\n"));
    ck_assert_ptr_null(memmem(buf_ptr(&in), (size_t)(events - buf_ptr(&in)), "chunked", 7));
    ck_assert_ptr_null(memmem(buf_ptr(&in), (size_t)(events - buf_ptr(&in)), "Content-Length", 14));
    sse_parse(&s, events, buf_len(&in) - (size_t)(events - buf_ptr(&in)));
    check_stream(&s, "gpt-test", 0, &r);
    ck_assert_int_eq(r.chunks, 6);
    ck_assert_str_eq(r.finish, "length");
    ck_assert(strncmp(r.text, demo_answer_for("japanese"), r.text_len) == 0);
    sse_free(&s);
    buf_free(&in);
    close(fd);
}
END_TEST

/* A client that stops reading: its stream stops where the buffers are full and goes on,
 * intact, once the client reads again. */
START_TEST(test_backpressure)
{
    int small = 2048, port = 0;
    buf in, body;
    sse s;
    result r;
    CURL *h = curl_easy_init();
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval guard = {.tv_sec = 10};
    ck_assert_int_eq(sscanf(demo_base_url(D), "http://127.0.0.1:%d/v1", &port), 1);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &guard, sizeof(guard));
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    buf_init(&in, 1u << 20);
    buf_init(&body, 1u << 20);
    raw_request(fd, "POST", "/chat/completions", "Connection: close\r\n",
                chat_body("a long story", 1, NULL));
    ck_assert_int_eq(raw_read(fd, &in, "\"role\":\"assistant\"", 1), 0);
    /* The loop steps every due stream in turn, so while this whole stream runs, the one
     * above gets as many steps: more than its ~80 KB need to fill the buffers. */
    stream_chat(h, D, chat_body("a long story", 1, NULL), 0, &r);
    ck_assert_str_eq(r.text, demo_answer_for("story"));
    ck_assert_int_eq(raw_read(fd, &in, NULL, 4096), 1);
    dechunk(buf_ptr(&in), buf_len(&in), &body);
    sse_parse(&s, buf_ptr(&body), buf_len(&body));
    check_stream(&s, "gpt-test", 0, &r);
    ck_assert_str_eq(r.text, demo_answer_for("story"));
    sse_free(&s);
    buf_free(&in);
    buf_free(&body);
    close(fd);
    curl_easy_cleanup(h);
}
END_TEST

/* Every event of a raw stream is its own HTTP chunk. */
START_TEST(test_chunk_per_event)
{
    buf in, body;
    int fd = raw_connect(D);
    buf_init(&in, 1u << 20);
    buf_init(&body, 1u << 20);
    raw_request(fd, "POST", "/chat/completions", "Connection: close\r\n",
                chat_body("hi", 1, ",\"max_tokens\":3"));
    ck_assert_int_eq(raw_read(fd, &in, NULL, 4096), 1);
    ck_assert(starts_with(buf_ptr(&in), "HTTP/1.1 200 OK\r\n"));
    ck_assert_ptr_nonnull(memmem(buf_ptr(&in), buf_len(&in),
                                 "Content-Type: text/event-stream; charset=utf-8\r\n", 48));
    dechunk(buf_ptr(&in), buf_len(&in), &body);
    const char *p = memmem(buf_ptr(&in), buf_len(&in), "\r\n\r\n", 4) + 4;
    /* role, 3 tokens, finish, [DONE]: six chunks, each one whole event. */
    for (int i = 0; i < 6; i++) {
        char *end;
        unsigned long len = strtoul(p, &end, 16);
        ck_assert(starts_with(end + 2, "data: "));
        ck_assert(memcmp(end + 2 + len - 2, "\n\n", 2) == 0);
        p = end + 2 + len + 2;
    }
    ck_assert(starts_with(p, "0\r\n\r\n"));
    buf_free(&in);
    buf_free(&body);
    close(fd);
}
END_TEST

static Suite *demo_suite(void)
{
    Suite *s = suite_create("demo");
    TCase *t = tcase_create("demo");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 30);
    tcase_add_test(t, test_answers_data);
    tcase_add_test(t, test_answers_choice);
    tcase_add_test(t, test_stream_default);
    tcase_add_test(t, test_stream_every_answer);
    tcase_add_test(t, test_stream_splits_clusters);
    tcase_add_test(t, test_stream_usage);
    tcase_add_test(t, test_stream_max_tokens);
    tcase_add_test(t, test_completion);
    tcase_add_test(t, test_completion_max_tokens);
    tcase_add_test(t, test_models);
    tcase_add_test(t, test_not_found);
    tcase_add_test(t, test_bad_requests);
    tcase_add_test(t, test_content_parts);
    tcase_add_test(t, test_keepalive);
    tcase_add_test(t, test_client_abort);
    tcase_add_test(t, test_client_gone_noticed);
    tcase_add_test(t, test_stop_with_open_connections);
    tcase_add_test(t, test_expect_continue);
    tcase_add_test(t, test_limits);
    tcase_add_test(t, test_chunked_body);
    tcase_add_test(t, test_pipelined_and_http10);
    tcase_add_test(t, test_http10_stream);
    tcase_add_test(t, test_backpressure);
    tcase_add_test(t, test_chunk_per_event);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(demo_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
