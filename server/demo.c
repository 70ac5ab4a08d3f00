/* demo — see demo.h.
 * One thread, one level-triggered epoll, non-blocking sockets. A connection reads one
 * request at a time (head, then a Content-Length body) and answers it either at once
 * (JSON) or as a token stream that the loop's timer drives; then it reads the next. */
#include "demo.h"

#include "buf.h"
#include "demo_answers.h"

#include <cJSON.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DEMO_CONNS_MAX 4096          /* connections beyond this are closed on accept */
#define DEMO_HEAD_MAX (16u * 1024)   /* request line and headers */
#define DEMO_BODY_MAX (1u << 20)     /* Content-Length body */
#define DEMO_OUT_MAX (64u * 1024)    /* unsent response bytes per connection */
#define DEMO_READ_CHUNK (16u * 1024) /* bytes read per readiness event */
#define DEMO_SNDBUF (16 * 1024)      /* kernel send buffer per connection (doubled by Linux) */
#define DEMO_MODEL_MAX 128           /* requested model name, bytes */
#define DEMO_TOKEN_MAX 8             /* bytes in one token */
#define DEMO_MATCH_MAX 4096          /* bytes of a multi-part message matched for keywords */
#define DEMO_EVENTS 64               /* epoll events per wait */

enum { C_HEAD, C_BODY, C_STREAM, C_FLUSH };

/* The request head, as far as the demo cares. */
typedef struct head {
    char method[16];
    char path[128]; /* query dropped, bytes outside printable ASCII turned into '?' */
    size_t clen;
    int has_clen;
    int close; /* Connection: close, or HTTP/1.0: close after this response */
    int expect100;
    int chunked; /* a Transfer-Encoding body: not supported */
} head;

/* What a chat request asks for. */
typedef struct chatreq {
    const char *answer;
    long prompt_tokens;
    long max_tokens; /* 0: no limit */
    int stream;
    int include_usage;
    char model[DEMO_MODEL_MAX + 1];
} chatreq;

/* One answer being generated. */
typedef struct gen {
    const char *text; /* static answer data */
    size_t pos, len;
    long tokens; /* content chunks sent: completion_tokens */
    long max_tokens;
    long prompt_tokens;
    int include_usage;
    long long created;
    char id[40];
    char model[DEMO_MODEL_MAX + 1];
} gen;

typedef struct conn {
    int fd;
    int state;
    uint32_t events; /* what epoll watches */
    head h;
    size_t head_len;
    buf in, out;
    gen g;
    long long due;              /* C_STREAM: when the next chunk goes out (monotonic ms) */
    struct conn *prev, *next;   /* demo.all */
    struct conn *sprev, *snext; /* demo.streams, exactly while state == C_STREAM */
} conn;

struct demo {
    int lfd, wfd, ep; /* listener, eventfd that stops the thread, epoll */
    pthread_t thr;
    unsigned interval;
    int nconns;
    conn *all;
    conn *streams;
    uint64_t seq;  /* response ids */
    buf ev, delta; /* scratch for one event: the thread is the only user */
    char url[64];
};

/* ---- small helpers ---- */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* splitmix64's finaliser: a cheap, well spread, deterministic hash. */
static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Appends s as a JSON string. Bytes from 0x80 pass through: callers hand in UTF-8. */
static int json_str(buf *b, const char *s, size_t n)
{
    if (buf_add(b, "\"", 1) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        int r;
        if (ch == '"' || ch == '\\')
            r = buf_addf(b, "\\%c", ch);
        else if (ch == '\n')
            r = buf_add(b, "\\n", 2);
        else if (ch < 0x20)
            r = buf_addf(b, "\\u%04x", ch);
        else
            r = buf_add(b, &s[i], 1);
        if (r < 0)
            return -1;
    }
    return buf_add(b, "\"", 1);
}

static size_t utf8_count(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

/* ---- the tokenizer: cuts an answer the way a byte-level BPE tokenizer would ---- */

enum { K_ALNUM, K_PUNCT, K_SPACE, K_NL, K_WIDE, K_EXT, K_RI, K_KINDS };

/* Whether a token ending in a code point of kind [prev] takes one of kind [next].
 * Nothing takes an extender (combining mark, ZWJ, variation selector, skin tone, keycap)
 * or a second regional indicator: like real tokenizers, the demo splits grapheme
 * clusters between chunks, which is what chatd's segmenter is there to mend. */
/* clang-format off */
static const unsigned char tok_joins[K_KINDS][K_KINDS] = {
    /*  next:      ALNUM PUNCT SPACE NL WIDE EXT RI */
    [K_ALNUM] = {1,    0,    0,    0, 0,   0,  0},
    [K_PUNCT] = {0,    1,    0,    0, 0,   0,  0},
    [K_SPACE] = {1,    1,    1,    0, 1,   0,  1},
    [K_NL]    = {0,    0,    0,    1, 0,   0,  0},
    [K_WIDE]  = {0,    0,    0,    0, 1,   0,  0},
    [K_EXT]   = {0,    0,    0,    0, 1,   0,  0},
    [K_RI]    = {0,    0,    0,    0, 0,   0,  0},
};
/* clang-format on */

/* Decodes the code point at s (valid UTF-8: the answers are) and its length. */
static uint32_t cp_decode(const char *s, size_t *len)
{
    const unsigned char *p = (const unsigned char *)s;
    if (p[0] < 0x80) {
        *len = 1;
        return p[0];
    }
    size_t n = p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : 4;
    uint32_t cp = p[0] & (0x7f >> n);
    for (size_t i = 1; i < n; i++)
        cp = cp << 6 | (p[i] & 0x3f);
    *len = n;
    return cp;
}

static int cp_kind(uint32_t cp)
{
    if (cp == '\n')
        return K_NL;
    if (cp == ' ' || cp == '\t')
        return K_SPACE;
    if (((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') || (cp >= '0' && cp <= '9'))
        return K_ALNUM;
    if (cp < 0x80)
        return K_PUNCT;
    if ((cp >= 0x300 && cp <= 0x36f) || cp == 0x200d || cp == 0xfe0e || cp == 0xfe0f ||
        cp == 0x20e3 || (cp >= 0x1f3fb && cp <= 0x1f3ff) || (cp >= 0xe0020 && cp <= 0xe007f))
        return K_EXT;
    if (cp >= 0x1f1e6 && cp <= 0x1f1ff)
        return K_RI;
    return K_WIDE;
}

/* Length of token number seq at s (n > 0 bytes left): 2-6 bytes of ASCII, up to
 * DEMO_TOKEN_MAX of anything else, always whole code points. */
static size_t tok_len(const char *s, size_t n, long seq)
{
    size_t len, limit = (unsigned char)s[0] < 0x80 ? 2 + mix64((uint64_t)seq) % 5 : DEMO_TOKEN_MAX;
    int prev = cp_kind(cp_decode(s, &len));
    size_t have = len;
    while (have < n) {
        int next = cp_kind(cp_decode(s + have, &len));
        if (have + len > limit || !tok_joins[prev][next])
            break;
        have += len;
        prev = next;
    }
    return have;
}

/* ---- epoll interest, connection lists ---- */

static int conn_watch(demo *d, conn *c)
{
    uint32_t want = EPOLLIN | EPOLLRDHUP | (buf_len(&c->out) ? EPOLLOUT : 0);
    if (want == c->events)
        return 0;
    struct epoll_event ev = {.events = want, .data.ptr = c};
    if (epoll_ctl(d->ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        return -1;
    c->events = want;
    return 0;
}

static void stream_link(demo *d, conn *c)
{
    c->state = C_STREAM;
    c->sprev = NULL;
    c->snext = d->streams;
    if (d->streams)
        d->streams->sprev = c;
    d->streams = c;
}

static void stream_unlink(demo *d, conn *c)
{
    if (c->sprev)
        c->sprev->snext = c->snext;
    else
        d->streams = c->snext;
    if (c->snext)
        c->snext->sprev = c->sprev;
    c->sprev = c->snext = NULL;
    c->state = C_FLUSH;
}

static void conn_close(demo *d, conn *c)
{
    if (c->state == C_STREAM)
        stream_unlink(d, c);
    if (c->prev)
        c->prev->next = c->next;
    else
        d->all = c->next;
    if (c->next)
        c->next->prev = c->prev;
    close(c->fd); /* also takes it out of the epoll */
    buf_free(&c->in);
    buf_free(&c->out);
    free(c);
    d->nconns--;
}

static int conn_open(demo *d, int fd)
{
    int one = 1, sndbuf = DEMO_SNDBUF;
    conn *c = calloc(1, sizeof(*c));
    if (!c)
        return -1;
    c->fd = fd;
    c->events = EPOLLIN | EPOLLRDHUP;
    buf_init(&c->in, DEMO_HEAD_MAX + DEMO_BODY_MAX);
    buf_init(&c->out, DEMO_OUT_MAX);
    struct epoll_event ev = {.events = c->events, .data.ptr = c};
    if (epoll_ctl(d->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        free(c);
        return -1;
    }
    /* Each token is its own small write; Nagle would hold it back behind a delayed ACK. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /* Loopback would otherwise buffer megabytes per connection: a small send buffer makes
     * a reader that stops reading stop the tokens, as a distant provider's would. */
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    c->next = d->all;
    if (d->all)
        d->all->prev = c;
    d->all = c;
    d->nconns++;
    return 0;
}

/* ---- responses ---- */

static const char *status_text(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 413:
        return "Payload Too Large";
    case 431:
        return "Request Header Fields Too Large";
    case 501:
        return "Not Implemented";
    default:
        return "Internal Server Error";
    }
}

static int send_json(conn *c, int status, const char *body, size_t n)
{
    if (buf_addf(&c->out,
                 "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                 "%s\r\n",
                 status, status_text(status), n, c->h.close ? "Connection: close\r\n" : "") < 0 ||
        buf_add(&c->out, body, n) < 0)
        return -1;
    c->state = C_FLUSH;
    return 0;
}

/* An error in OpenAI's shape. param: the request field at fault, or NULL. */
static int send_error(demo *d, conn *c, int status, const char *msg, const char *param)
{
    buf *b = &d->ev;
    buf_reset(b);
    if (buf_addstr(b, "{\"error\":{\"message\":") < 0 || json_str(b, msg, strlen(msg)) < 0 ||
        buf_addf(b, ",\"type\":\"%s\",\"param\":",
                 status >= 500 ? "server_error" : "invalid_request_error") < 0 ||
        (param ? json_str(b, param, strlen(param)) : buf_addstr(b, "null")) < 0 ||
        buf_addstr(b, ",\"code\":null}}") < 0)
        return -1;
    return send_json(c, status, buf_ptr(b), buf_len(b));
}

/* An error after which the connection cannot go on (its framing is lost). */
static int send_fatal(demo *d, conn *c, int status, const char *msg)
{
    c->h.close = 1;
    return send_error(d, c, status, msg, NULL) < 0 ? -1 : 1;
}

static int send_models(conn *c)
{
    static const char body[] = "{\"object\":\"list\",\"data\":[{\"id\":\"" DEMO_MODEL
                               "\",\"object\":\"model\",\"created\":1700000000,"
                               "\"owned_by\":\"chatd\"}]}";
    return send_json(c, 200, body, sizeof(body) - 1);
}

/* ---- generation ---- */

static void gen_init(demo *d, gen *g, const chatreq *q)
{
    static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    uint64_t h = mix64(d->seq++ ^ ((uint64_t)time(NULL) << 20));
    memset(g, 0, sizeof(*g));
    g->text = q->answer;
    g->len = strlen(q->answer);
    g->max_tokens = q->max_tokens;
    g->prompt_tokens = q->prompt_tokens;
    g->include_usage = q->include_usage;
    g->created = (long long)time(NULL);
    memcpy(g->id, "chatcmpl-", 9);
    for (size_t i = 9; i < 9 + 24; i++, h = mix64(h))
        g->id[i] = alnum[h % (sizeof(alnum) - 1)];
    snprintf(g->model, sizeof(g->model), "%s", q->model);
}

static int gen_more(const gen *g)
{
    return g->pos < g->len && (g->max_tokens == 0 || g->tokens < g->max_tokens);
}

static const char *gen_finish_reason(const gen *g)
{
    return g->pos < g->len ? "length" : "stop";
}

/* Jitter of up to a fifth either way, the same for the same token number. */
static long long gen_delay(const demo *d, const gen *g)
{
    long long iv = d->interval;
    return iv + iv * ((long long)(mix64((uint64_t)g->tokens) % 41) - 20) / 100;
}

static int send_completion(demo *d, conn *c, const chatreq *q)
{
    gen *g = &c->g;
    buf *b = &d->ev;
    gen_init(d, g, q);
    while (gen_more(g)) {
        g->pos += tok_len(g->text + g->pos, g->len - g->pos, g->tokens);
        g->tokens++;
    }
    buf_reset(b);
    if (buf_addf(b,
                 "{\"id\":\"%s\",\"object\":\"chat.completion\",\"created\":%lld,\"model\":\"%s\","
                 "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":",
                 g->id, g->created, g->model) < 0 ||
        json_str(b, g->text, g->pos) < 0 ||
        buf_addf(b,
                 ",\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"%s\"}],\"usage\":{"
                 "\"prompt_tokens\":%ld,\"completion_tokens\":%ld,\"total_tokens\":%ld}}",
                 gen_finish_reason(g), g->prompt_tokens, g->tokens,
                 g->prompt_tokens + g->tokens) < 0)
        return -1;
    return send_json(c, 200, buf_ptr(b), buf_len(b));
}

/* ---- the event stream ---- */

/* Frames d->ev as one HTTP chunk on c. */
static int ev_send(demo *d, conn *c)
{
    if (buf_addf(&c->out, "%zx\r\n", buf_len(&d->ev)) < 0 ||
        buf_add(&c->out, buf_ptr(&d->ev), buf_len(&d->ev)) < 0 || buf_add(&c->out, "\r\n", 2) < 0)
        return -1;
    return 0;
}

static int ev_begin(demo *d, const gen *g)
{
    buf_reset(&d->ev);
    return buf_addf(&d->ev,
                    "data: {\"id\":\"%s\",\"object\":\"chat.completion.chunk\",\"created\":%lld,"
                    "\"model\":\"%s\",",
                    g->id, g->created, g->model);
}

/* A chunk with choices[0]: delta is JSON, finish a JSON value. OpenAI adds "usage":null
 * to every chunk but the usage one when usage was asked for. */
static int ev_choice(demo *d, conn *c, const char *delta, size_t n, const char *finish)
{
    const gen *g = &c->g;
    if (ev_begin(d, g) < 0 ||
        buf_addf(&d->ev,
                 "\"choices\":[{\"index\":0,\"delta\":%.*s,\"logprobs\":null,"
                 "\"finish_reason\":%s}]%s}\n\n",
                 (int)n, delta, finish, g->include_usage ? ",\"usage\":null" : "") < 0)
        return -1;
    return ev_send(d, c);
}

static int ev_usage(demo *d, conn *c)
{
    const gen *g = &c->g;
    if (ev_begin(d, g) < 0 ||
        buf_addf(&d->ev,
                 "\"choices\":[],\"usage\":{\"prompt_tokens\":%ld,\"completion_tokens\":%ld,"
                 "\"total_tokens\":%ld}}\n\n",
                 g->prompt_tokens, g->tokens, g->prompt_tokens + g->tokens) < 0)
        return -1;
    return ev_send(d, c);
}

static int stream_start(demo *d, conn *c, const chatreq *q)
{
    static const char role[] = "{\"role\":\"assistant\",\"content\":\"\"}";
    gen_init(d, &c->g, q);
    if (buf_addf(&c->out,
                 "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
                 "Transfer-Encoding: chunked\r\nCache-Control: no-cache\r\n%s\r\n",
                 c->h.close ? "Connection: close\r\n" : "") < 0 ||
        ev_choice(d, c, role, sizeof(role) - 1, "null") < 0)
        return -1;
    stream_link(d, c);
    c->due = now_ms() + gen_delay(d, &c->g);
    return 0;
}

static int stream_token(demo *d, conn *c)
{
    gen *g = &c->g;
    size_t n = tok_len(g->text + g->pos, g->len - g->pos, g->tokens);
    buf_reset(&d->delta);
    if (buf_addstr(&d->delta, "{\"content\":") < 0 ||
        json_str(&d->delta, g->text + g->pos, n) < 0 || buf_addstr(&d->delta, "}") < 0 ||
        ev_choice(d, c, buf_ptr(&d->delta), buf_len(&d->delta), "null") < 0)
        return -1;
    g->pos += n;
    g->tokens++;
    return 0;
}

/* The finish chunk, the usage chunk when asked for, [DONE], the end of the body. */
static int stream_finish(demo *d, conn *c)
{
    char finish[16];
    snprintf(finish, sizeof(finish), "\"%s\"", gen_finish_reason(&c->g));
    if (ev_choice(d, c, "{}", 2, finish) < 0 || (c->g.include_usage && ev_usage(d, c) < 0))
        return -1;
    buf_reset(&d->ev);
    if (buf_addstr(&d->ev, "data: [DONE]\n\n") < 0 || ev_send(d, c) < 0 ||
        buf_add(&c->out, "0\r\n\r\n", 5) < 0)
        return -1;
    stream_unlink(d, c);
    return 0;
}

static int stream_step(demo *d, conn *c, long long now)
{
    c->due = now + gen_delay(d, &c->g);
    return gen_more(&c->g) ? stream_token(d, c) : stream_finish(d, c);
}

/* ---- the chat request ---- */

static const char *msg_role(const cJSON *m)
{
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
    return cJSON_IsString(role) ? role->valuestring : NULL;
}

/* Characters of a message's content: a string, or an array of {"type":"text","text":…}. */
static size_t content_chars(const cJSON *content)
{
    const cJSON *part;
    size_t n = 0;
    if (cJSON_IsString(content))
        return utf8_count(content->valuestring);
    cJSON_ArrayForEach(part, content)
    {
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
        if (cJSON_IsString(text))
            n += utf8_count(text->valuestring);
    }
    return n;
}

/* The answer for a content value; the text parts of an array are matched together. */
static const char *content_answer(const cJSON *content)
{
    const cJSON *part;
    buf b;
    if (cJSON_IsString(content))
        return demo_answer_for(content->valuestring);
    buf_init(&b, DEMO_MATCH_MAX);
    cJSON_ArrayForEach(part, content)
    {
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
        size_t room = b.cap - buf_len(&b), n;
        if (!cJSON_IsString(text) || room < 2)
            continue;
        n = strlen(text->valuestring);
        if (n > room - 1)
            n = room - 1; /* the start of a long message is enough to pick an answer */
        if (buf_add(&b, text->valuestring, n) < 0 || buf_add(&b, " ", 1) < 0)
            break;
    }
    char *s = buf_take(&b);
    const char *answer = demo_answer_for(s);
    free(s);
    return answer;
}

static const char *parse_messages(const cJSON *root, chatreq *q, const char **param)
{
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(root, "messages"), *m;
    const cJSON *last_user = NULL;
    size_t chars = 0;
    *param = "messages";
    if (!cJSON_IsArray(msgs) || cJSON_GetArraySize(msgs) == 0)
        return "Missing required parameter: 'messages'.";
    cJSON_ArrayForEach(m, msgs)
    {
        const char *role = msg_role(m);
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        if (!role)
            return "Invalid 'messages': every message must be an object with a 'role'.";
        if (content && !cJSON_IsString(content) && !cJSON_IsArray(content) &&
            !cJSON_IsNull(content))
            return "Invalid 'messages': 'content' must be a string or an array of parts.";
        chars += content_chars(content);
        if (strcmp(role, "user") == 0)
            last_user = content;
    }
    q->prompt_tokens = (long)((chars + 3) / 4);
    q->answer = content_answer(last_user);
    *param = NULL;
    return NULL;
}

/* Model names as providers spell them: gpt-4o-mini, ft:gpt-4o:org::id, org/model:tag. */
static const char *parse_model(const cJSON *root, chatreq *q, const char **param)
{
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const char *s = cJSON_IsString(model) ? model->valuestring : DEMO_MODEL;
    size_t n = strlen(s);
    *param = "model";
    if ((model && !cJSON_IsString(model)) || n == 0 || n > DEMO_MODEL_MAX ||
        strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._:/@+") != n)
        return "Invalid 'model': expected a model name.";
    memcpy(q->model, s, n + 1);
    *param = NULL;
    return NULL;
}

/* 0 and *out (0: no limit), or -1. Beyond a billion is as good as no limit. */
static int parse_max_tokens(const cJSON *max, long *out)
{
    double v;
    *out = 0;
    if (!max || cJSON_IsNull(max))
        return 0;
    if (!cJSON_IsNumber(max) || !(max->valuedouble >= 1))
        return -1;
    v = max->valuedouble > 1e9 ? 1e9 : max->valuedouble;
    if (v != (double)(long)v)
        return -1;
    *out = (long)v;
    return 0;
}

static const char *parse_options(const cJSON *root, chatreq *q, const char **param)
{
    const cJSON *max = cJSON_GetObjectItemCaseSensitive(root, "max_completion_tokens");
    const cJSON *stream = cJSON_GetObjectItemCaseSensitive(root, "stream");
    const cJSON *opts = cJSON_GetObjectItemCaseSensitive(root, "stream_options");
    if (!max || cJSON_IsNull(max))
        max = cJSON_GetObjectItemCaseSensitive(root, "max_tokens");
    *param = "max_tokens";
    if (parse_max_tokens(max, &q->max_tokens) < 0)
        return "Invalid 'max_tokens': expected an integer of at least 1.";
    *param = "stream";
    if (stream && !cJSON_IsBool(stream) && !cJSON_IsNull(stream))
        return "Invalid 'stream': expected a boolean.";
    q->stream = cJSON_IsTrue(stream);
    *param = "stream_options";
    if (opts && !cJSON_IsNull(opts) && (!cJSON_IsObject(opts) || !q->stream))
        return "The 'stream_options' parameter is only allowed when 'stream' is enabled.";
    q->include_usage = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(opts, "include_usage"));
    *param = NULL;
    return NULL;
}

/* NULL and q filled, or what is wrong (and *param, the field, or NULL). */
static const char *chat_parse(const char *body, size_t n, chatreq *q, const char **param)
{
    cJSON *root = cJSON_ParseWithLength(body, n);
    const char *err = NULL;
    memset(q, 0, sizeof(*q));
    *param = NULL;
    if (!cJSON_IsObject(root))
        err = "We could not parse the JSON body of your request. The API expects a JSON "
              "object.";
    if (!err)
        err = parse_messages(root, q, param);
    if (!err)
        err = parse_model(root, q, param);
    if (!err)
        err = parse_options(root, q, param);
    cJSON_Delete(root);
    return err;
}

static int chat_route(demo *d, conn *c, const char *body, size_t n)
{
    chatreq q;
    const char *param;
    const char *err = chat_parse(body, n, &q, &param);
    if (err)
        return send_error(d, c, 400, err, param);
    return q.stream ? stream_start(d, c, &q) : send_completion(d, c, &q);
}

/* ---- HTTP request parsing ---- */

static int name_is(const char *p, size_t n, const char *name)
{
    return strlen(name) == n && strncasecmp(p, name, n) == 0;
}

static void trim(const char **p, size_t *n)
{
    while (*n && (**p == ' ' || **p == '\t')) {
        (*p)++;
        (*n)--;
    }
    while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
        (*n)--;
}

/* Whether a comma-separated header value holds tok (any case). */
static int has_token(const char *v, size_t n, const char *tok)
{
    while (n) {
        const char *comma = memchr(v, ',', n);
        size_t len = comma ? (size_t)(comma - v) : n;
        const char *t = v;
        size_t tn = len;
        trim(&t, &tn);
        if (name_is(t, tn, tok))
            return 1;
        v += len + (comma ? 1 : 0);
        n -= len + (comma ? 1 : 0);
    }
    return 0;
}

static int head_request_line(head *h, const char *p, size_t n)
{
    const char *end = p + n, *sp1 = memchr(p, ' ', n), *sp2, *t;
    if (!sp1 || sp1 == p || (size_t)(sp1 - p) >= sizeof(h->method))
        return 400;
    memcpy(h->method, p, (size_t)(sp1 - p));
    t = sp1 + 1;
    sp2 = memchr(t, ' ', (size_t)(end - t));
    if (!sp2 || sp2 == t)
        return 400;
    for (size_t i = 0; t + i < sp2 && t[i] != '?' && i + 1 < sizeof(h->path); i++)
        h->path[i] = t[i] > 0x20 && t[i] < 0x7f ? t[i] : '?';
    if (name_is(sp2 + 1, (size_t)(end - sp2 - 1), "HTTP/1.0"))
        h->close = 1;
    else if (!name_is(sp2 + 1, (size_t)(end - sp2 - 1), "HTTP/1.1"))
        return 400;
    return 0;
}

static int head_clen(head *h, const char *v, size_t n)
{
    size_t x = 0;
    if (h->has_clen || n == 0)
        return 400;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return 400;
        x = x * 10 + (size_t)(v[i] - '0');
        if (x > DEMO_BODY_MAX)
            return 413;
    }
    h->has_clen = 1;
    h->clen = x;
    return 0;
}

static int head_field(head *h, const char *p, size_t n)
{
    const char *colon = memchr(p, ':', n), *v;
    size_t vn;
    if (!colon || colon == p || *p == ' ' || *p == '\t')
        return 400;
    v = colon + 1;
    vn = (size_t)(p + n - v);
    trim(&v, &vn);
    if (name_is(p, (size_t)(colon - p), "content-length"))
        return head_clen(h, v, vn);
    if (name_is(p, (size_t)(colon - p), "transfer-encoding"))
        h->chunked = 1;
    else if (name_is(p, (size_t)(colon - p), "connection") && has_token(v, vn, "close"))
        h->close = 1;
    else if (name_is(p, (size_t)(colon - p), "expect") && name_is(v, vn, "100-continue"))
        h->expect100 = 1;
    return 0;
}

/* p..n: the request line and header lines, each ending in CRLF. 0 or an HTTP status. */
static int head_parse(head *h, const char *p, size_t n)
{
    const char *end = p + n, *eol = memmem(p, n, "\r\n", 2);
    int status = eol ? head_request_line(h, p, (size_t)(eol - p)) : 400;
    while (!status && (p = eol + 2) < end) {
        eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        status = head_field(h, p, (size_t)(eol - p));
    }
    return status ? status : h->chunked ? 501 : 0;
}

static const char *head_reason(int status)
{
    switch (status) {
    case 413:
        return "The request body is too large.";
    case 431:
        return "The request header is too large.";
    case 501:
        return "Transfer-Encoding request bodies are not supported; send Content-Length.";
    default:
        return "Malformed HTTP request.";
    }
}

/* ---- the connection's state machine ---- */

static int conn_route(demo *d, conn *c, const char *body)
{
    char msg[192];
    const head *h = &c->h;
    if (strcmp(h->path, "/v1/chat/completions") == 0 && strcmp(h->method, "POST") == 0)
        return chat_route(d, c, body, h->clen);
    if (strcmp(h->path, "/v1/models") == 0 && strcmp(h->method, "GET") == 0)
        return send_models(c);
    snprintf(msg, sizeof(msg), "Invalid URL (%s %s)", h->method, h->path);
    return send_error(d, c, 404, msg, NULL);
}

/* 1: a step was made, 0: more input is needed, -1: close. */
static int conn_parse_head(demo *d, conn *c)
{
    const char *p = buf_ptr(&c->in), *end;
    size_t n = buf_len(&c->in);
    end = memmem(p, n < DEMO_HEAD_MAX ? n : DEMO_HEAD_MAX, "\r\n\r\n", 4);
    if (!end)
        return n >= DEMO_HEAD_MAX ? send_fatal(d, c, 431, head_reason(431)) : 0;
    c->head_len = (size_t)(end - p) + 4;
    int status = head_parse(&c->h, p, c->head_len - 2);
    if (status)
        return send_fatal(d, c, status, head_reason(status));
    /* A client that waits for the go-ahead before sending its body gets it now. */
    if (c->h.expect100 && n - c->head_len < c->h.clen &&
        buf_addstr(&c->out, "HTTP/1.1 100 Continue\r\n\r\n") < 0)
        return -1;
    c->state = C_BODY;
    return 1;
}

static int conn_parse(demo *d, conn *c)
{
    if (c->state == C_HEAD)
        return conn_parse_head(d, c);
    if (buf_len(&c->in) - c->head_len < c->h.clen)
        return 0;
    int r = conn_route(d, c, buf_ptr(&c->in) + c->head_len);
    buf_consume(&c->in, c->head_len + c->h.clen);
    return r < 0 ? -1 : 1;
}

/* The response is out: get ready for the next request on this connection. */
static void conn_next(conn *c)
{
    memset(&c->h, 0, sizeof(c->h));
    c->head_len = 0;
    c->state = C_HEAD;
    buf_shrink(&c->in);
    buf_shrink(&c->out);
}

static int conn_flush(conn *c)
{
    while (buf_len(&c->out)) {
        ssize_t w = send(c->fd, buf_ptr(&c->out), buf_len(&c->out), MSG_NOSIGNAL);
        if (w > 0)
            buf_consume(&c->out, (size_t)w);
        else if (w < 0 && errno == EAGAIN)
            return 0; /* the rest waits in out; streams stop generating until it drains */
        else if (w < 0 && errno != EINTR)
            return -1;
    }
    return 0;
}

/* Moves the connection as far as it can go. -1: close it. */
static int conn_drive(demo *d, conn *c)
{
    for (;;) {
        if (conn_flush(c) < 0)
            return -1;
        if (c->state == C_FLUSH && buf_len(&c->out) == 0) {
            if (c->h.close)
                return -1;
            conn_next(c);
        }
        if (c->state == C_STREAM || c->state == C_FLUSH)
            break;
        int r = conn_parse(d, c);
        if (r < 0)
            return -1;
        if (r == 0)
            break;
    }
    return conn_watch(d, c);
}

/* One read per readiness event: level-triggered epoll calls again while more is there. */
static int conn_read(conn *c)
{
    size_t room = c->in.cap - buf_len(&c->in);
    if (room > DEMO_READ_CHUNK)
        room = DEMO_READ_CHUNK;
    if (room == 0 || buf_reserve(&c->in, room) < 0)
        return -1; /* more pipelined input than any request may hold */
    ssize_t r = recv(c->fd, buf_tail(&c->in), room, 0);
    if (r > 0)
        buf_commit(&c->in, (size_t)r);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
        return -1;
    return 0;
}

static void conn_event(demo *d, conn *c, uint32_t events)
{
    /* A client gone mid-stream is dropped at once: nobody reads what follows. */
    if ((events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) || ((events & EPOLLIN) && conn_read(c) < 0) ||
        conn_drive(d, c) < 0)
        conn_close(d, c);
}

/* ---- the loop ---- */

static void demo_accept(demo *d)
{
    for (;;) {
        int fd = accept4(d->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        if (d->nconns >= DEMO_CONNS_MAX || conn_open(d, fd) < 0)
            close(fd);
    }
}

/* Every stream whose next chunk is due and whose output has drained takes one step. */
static void demo_tick(demo *d)
{
    long long now = now_ms();
    conn *c, *next;
    for (c = d->streams; c; c = next) {
        next = c->snext;
        if (buf_len(&c->out) || c->due > now)
            continue;
        if (stream_step(d, c, now) < 0 || conn_drive(d, c) < 0)
            conn_close(d, c);
    }
}

/* Milliseconds until the next chunk is due; -1: nothing to time. */
static int demo_timeout(const demo *d)
{
    long long now = now_ms(), best = -1;
    for (const conn *c = d->streams; c; c = c->snext) {
        if (buf_len(&c->out))
            continue; /* waits for the socket, not for the clock */
        long long wait = c->due > now ? c->due - now : 0;
        if (best < 0 || wait < best)
            best = wait;
    }
    return best > 60000 ? 60000 : (int)best;
}

static void *demo_run(void *arg)
{
    demo *d = arg;
    struct epoll_event ev[DEMO_EVENTS];
    for (;;) {
        int n = epoll_wait(d->ep, ev, DEMO_EVENTS, demo_timeout(d));
        if (n < 0 && errno != EINTR)
            return NULL;
        for (int i = 0; i < n; i++) {
            if (ev[i].data.ptr == &d->wfd)
                return NULL;
            if (ev[i].data.ptr == &d->lfd)
                demo_accept(d);
            else
                conn_event(d, ev[i].data.ptr, ev[i].events);
        }
        demo_tick(d);
    }
}

/* ---- start and stop ---- */

static int demo_listen(demo *d)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    d->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (d->lfd < 0 || bind(d->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(d->lfd, SOMAXCONN) < 0 || getsockname(d->lfd, (struct sockaddr *)&sa, &len) < 0)
        return -errno;
    snprintf(d->url, sizeof(d->url), "http://127.0.0.1:%u/v1", (unsigned)ntohs(sa.sin_port));
    return 0;
}

static int demo_poll(demo *d)
{
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = &d->lfd};
    struct epoll_event wev = {.events = EPOLLIN, .data.ptr = &d->wfd};
    d->wfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    d->ep = epoll_create1(EPOLL_CLOEXEC);
    if (d->wfd < 0 || d->ep < 0 || epoll_ctl(d->ep, EPOLL_CTL_ADD, d->lfd, &lev) < 0 ||
        epoll_ctl(d->ep, EPOLL_CTL_ADD, d->wfd, &wev) < 0)
        return -errno;
    return 0;
}

/* The thread takes every signal blocked, so that signals reach the embedding program's
 * own threads and never interrupt this one. */
static int demo_thread(demo *d)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int err = pthread_create(&d->thr, NULL, demo_run, d);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return -err;
}

static void demo_free(demo *d)
{
    while (d->all)
        conn_close(d, d->all);
    if (d->ep >= 0)
        close(d->ep);
    if (d->wfd >= 0)
        close(d->wfd);
    if (d->lfd >= 0)
        close(d->lfd);
    buf_free(&d->ev);
    buf_free(&d->delta);
    free(d);
}

int demo_start(demo **out, unsigned token_interval_ms)
{
    demo *d = calloc(1, sizeof(*d));
    int err;
    *out = NULL;
    if (!d)
        return -ENOMEM;
    d->lfd = d->wfd = d->ep = -1;
    d->interval = token_interval_ms;
    buf_init(&d->ev, DEMO_OUT_MAX / 2);
    buf_init(&d->delta, 256);
    err = demo_listen(d);
    if (!err)
        err = demo_poll(d);
    if (!err)
        err = demo_thread(d);
    if (err) {
        demo_free(d);
        return err;
    }
    *out = d;
    return 0;
}

const char *demo_base_url(const demo *d)
{
    return d->url;
}

void demo_stop(demo *d)
{
    uint64_t one = 1;
    if (!d)
        return;
    /* One write to a fresh eventfd cannot fail: the counter is far from overflowing. */
    while (write(d->wfd, &one, sizeof(one)) < 0 && errno == EINTR)
        ;
    pthread_join(d->thr, NULL);
    demo_free(d);
}
