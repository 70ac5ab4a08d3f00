/* up — see up.h. */
#include "up.h"

#include "lim.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

struct up_xfer {
    CURL *easy;
    prov_http http;
    const up_ops *ops;
    void *ud;
    up *u;
    int paused;
    int h2;   /* asked for HTTP/2: its connection is shared, never idle for long */
    int origin; /* h2: its slot in up.origin; -1: none */
    long status;
    up_xfer *prev, *next; /* every live transfer, for up_free */
};

/* libcurl 7.88 walks its connection cache twice per transfer, comparing host names: at
 * the start to find a connection to reuse, and at the end, whenever the cache holds more
 * than CURLMOPT_MAXCONNECTS connections (a count that includes those in use), to find the
 * oldest idle one to close. Over HTTP/1.1 every open stream holds a connection, so both
 * walks grow with the open streams. Two countermeasures:
 *  - the limit follows the live transfers (live + LIM_UP_IDLE_CONNS), so the end walk
 *    happens only when there really are too many idle connections;
 *  - a cleartext transfer (HTTP/1.1: it cannot multiplex) skips the start walk
 *    (CURLOPT_FRESH_CONNECT) while no idle connection is likely to exist. The guess counts
 *    transfers that ended well (their connection went back to the cache) less those that
 *    took one since; a wrong guess costs a walk or a new connection, never a wrong
 *    answer. https transfers always look: one of them may multiplex on an HTTP/2
 *    connection another one opened, which a fresh connection would forgo. */
#define UP_ORIGINS 64 /* HTTP/2 origins counted at once (a worker's upstreams) */

struct up {
    CURLM *multi;
    loop *l;
    int64_t deadline; /* curl's timer, monotonic ms; -1: none */
    int running;
    int count;
    int idle_guess; /* cleartext connections likely idle in curl's cache */
    up_xfer *all;
    struct {
        char key[160]; /* scheme://host:port */
        int live;      /* HTTP/2 transfers to it; 0: a free slot */
    } origin[UP_ORIGINS]; /* see stop_h2 */
};

/* A stream of an HTTP/2 connection that ends early is reset (RST_STREAM), so the upstream
 * stops generating. libcurl 7.88 queues that small frame in its connection's output
 * buffer and writes it the next time the connection sends: when other streams share the
 * connection, with their next frames, or when a new request reuses it; but a connection
 * left idle in the cache is not serviced again, the frame stays there, and the upstream
 * goes on (and bills) to the end of its answer. libcurl does not say which connection a
 * transfer is on, so the live HTTP/2 transfers are counted per origin: a transfer stopped
 * while it is the last one to its origin closes its connection instead (the upstream sees
 * the close); with others live, traffic to the origin sends the reset. */
static int origin_of(up *u, const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t n = strcspn(p, "/?#");
    n += (size_t)(p - url);
    int free_slot = -1;
    for (int i = 0; i < UP_ORIGINS; i++) {
        if (u->origin[i].live && strlen(u->origin[i].key) == n && !strncmp(u->origin[i].key, url, n))
            return i;
        if (!u->origin[i].live && free_slot < 0)
            free_slot = i;
    }
    if (free_slot < 0 || n >= sizeof(u->origin[0].key))
        return -1;
    memcpy(u->origin[free_slot].key, url, n);
    u->origin[free_slot].key[n] = 0;
    return free_slot;
}

static void stop_h2(up *u, up_xfer *x)
{
    if (x->origin < 0 || u->origin[x->origin].live <= 1)
        curl_easy_setopt(x->easy, CURLOPT_FORBID_REUSE, 1L);
}

static void follow_limit(up *u)
{
    curl_multi_setopt(u->multi, CURLMOPT_MAXCONNECTS, (long)(u->count + LIM_UP_IDLE_CONNS));
}

static void check_done(up *u);

static void on_fd(loop *l, int fd, unsigned ev, void *ud)
{
    up *u = ud;
    int flags = 0;
    if (ev & (EPOLLIN | EPOLLHUP | EPOLLRDHUP))
        flags |= CURL_CSELECT_IN;
    if (ev & EPOLLOUT)
        flags |= CURL_CSELECT_OUT;
    if (ev & EPOLLERR)
        flags |= CURL_CSELECT_ERR;
    curl_multi_socket_action(u->multi, fd, flags, &u->running);
    check_done(u);
}

static int sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    up *u = userp;
    if (what == CURL_POLL_REMOVE) {
        loop_unwatch(u->l, s);
        return 0;
    }
    unsigned ev = 0;
    if (what & CURL_POLL_IN)
        ev |= EPOLLIN;
    if (what & CURL_POLL_OUT)
        ev |= EPOLLOUT;
    return loop_watch(u->l, s, ev, on_fd, u) < 0 ? -1 : 0;
}

static int timer_cb(CURLM *m, long timeout_ms, void *userp)
{
    up *u = userp;
    u->deadline = timeout_ms < 0 ? -1 : (int64_t)(loop_now_ms() + (uint64_t)timeout_ms);
    return 0;
}

up *up_new(loop *l)
{
    up *u = calloc(1, sizeof(*u));
    if (!u)
        return NULL;
    u->multi = curl_multi_init();
    if (!u->multi) {
        free(u);
        return NULL;
    }
    u->l = l;
    u->deadline = -1;
    curl_multi_setopt(u->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(u->multi, CURLMOPT_SOCKETDATA, u);
    curl_multi_setopt(u->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(u->multi, CURLMOPT_TIMERDATA, u);
    curl_multi_setopt(u->multi, CURLMOPT_MAX_CONCURRENT_STREAMS, 1000L);
    /* Idle upstream connections kept for reuse: enough for a steady load, not every
     * connection a burst opened. */
    curl_multi_setopt(u->multi, CURLMOPT_MAXCONNECTS, (long)LIM_UP_IDLE_CONNS);
    return u;
}

static void xfer_free(up *u, up_xfer *x)
{
    if (x->origin >= 0)
        u->origin[x->origin].live--;
    if (x->prev)
        x->prev->next = x->next;
    else
        u->all = x->next;
    if (x->next)
        x->next->prev = x->prev;
    curl_multi_remove_handle(u->multi, x->easy);
    curl_easy_cleanup(x->easy);
    prov_http_free(&x->http);
    free(x);
    u->count--;
    follow_limit(u);
}

void up_free(up *u)
{
    if (!u)
        return;
    while (u->all)
        xfer_free(u, u->all);
    curl_multi_cleanup(u->multi);
    free(u);
}

static size_t write_cb(char *p, size_t size, size_t n, void *ud)
{
    up_xfer *x = ud;
    if (!x->status)
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
    int rc = x->ops->on_data(x->ud, x->status, p, size * n);
    if (rc == UP_DATA_PAUSE) {
        x->paused = 1;
        return CURL_WRITEFUNC_PAUSE;
    }
    if (rc == UP_DATA_OK)
        return size * n;
    if (x->h2)
        stop_h2(x->u, x);
    return 0;
}

static int is_https(const char *url)
{
    return !strncmp(url, "https:", 6);
}

static int setup(up_xfer *x, const up_opts *o)
{
    CURL *e = x->easy;
    int rc = 0;
    rc |= curl_easy_setopt(e, CURLOPT_URL, x->http.url);
    rc |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->http.headers);
    if (x->http.body) {
        rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->http.body);
        rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(x->http.body));
    }
    rc |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    rc |= curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    rc |= curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    rc |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    rc |= curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    rc |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
    if (o->ca_file && *o->ca_file)
        rc |= curl_easy_setopt(e, CURLOPT_CAINFO, o->ca_file);
    rc |= curl_easy_setopt(e, CURLOPT_USERAGENT, "chatd/0.1");
    /* HTTP/2 multiplexes the streams on a few connections: a request waits for one it can
     * share (PIPEWAIT) rather than opening its own. HTTP/1.1 would queue a burst of
     * requests behind the first whole answer that way, so there a request takes a fresh
     * connection unless an idle one is likely (the reuse search walks every connection;
     * struct up). */
    int https = is_https(x->http.url);
    int h2 = o->http2 == UP_H2_ON || (o->http2 == UP_H2_AUTO && https);
    rc |= curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
                           !h2     ? (long)CURL_HTTP_VERSION_1_1
                           : https ? (long)CURL_HTTP_VERSION_2TLS
                                   : (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
    x->h2 = h2;
    if (h2)
        rc |= curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    else if (x->u->idle_guess > 0)
        x->u->idle_guess--;
    else
        rc |= curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    /* Token streams arrive in pieces of a few hundred bytes: curl's smallest receive
     * buffer instead of its 16 KiB saves memory on every open stream; a larger burst
     * only takes a few more reads. */
    rc |= curl_easy_setopt(e, CURLOPT_BUFFERSIZE, (long)LIM_UP_RECVBUF);
    /* No redirects: a redirect would re-send the key to wherever it points. */
    rc |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    return rc ? -1 : 0;
}

up_xfer *up_start(up *u, prov_http *h, const up_opts *o, const up_ops *ops, void *ud)
{
    up_xfer *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->http = *h;
    memset(h, 0, sizeof(*h));
    x->ops = ops;
    x->ud = ud;
    x->u = u;
    x->origin = -1;
    x->easy = curl_easy_init();
    if (!x->easy || setup(x, o) < 0 || curl_multi_add_handle(u->multi, x->easy) != CURLM_OK) {
        if (x->easy)
            curl_easy_cleanup(x->easy);
        prov_http_free(&x->http);
        free(x);
        return NULL;
    }
    if (x->h2 && (x->origin = origin_of(u, x->http.url)) >= 0)
        u->origin[x->origin].live++;
    x->next = u->all;
    if (u->all)
        u->all->prev = x;
    u->all = x;
    u->count++;
    follow_limit(u);
    return x;
}

void up_cancel(up *u, up_xfer *x)
{
    if (!x)
        return;
    if (x->h2)
        stop_h2(u, x);
    xfer_free(u, x);
}

void up_resume(up *u, up_xfer *x)
{
    if (!x->paused)
        return;
    x->paused = 0;
    /* May deliver the held bytes right here, through write_cb. Then make sure curl looks at
     * the socket again on the next pass: some libcurl versions lose track of it across a
     * pause in multi_socket mode. */
    curl_easy_pause(x->easy, CURLPAUSE_CONT);
    u->deadline = (int64_t)loop_now_ms();
}

int up_h2c_ok(void)
{
    /* libcurl before 8.0.0 stacks a second HTTP/2 layer on a prior-knowledge connection it
     * reuses, and the transfer fails with "Error in the HTTP2 framing layer" (curl issue
     * 10634, fixed in 8.0.0): h2c could not multiplex. ALPN (https) is not affected. */
    return curl_version_info(CURLVERSION_NOW)->version_num >= 0x080000;
}

const char *up_libcurl_version(void)
{
    return curl_version_info(CURLVERSION_NOW)->version;
}

int up_timeout_ms(const up *u, uint64_t now)
{
    if (u->deadline < 0)
        return -1;
    return (uint64_t)u->deadline <= now ? 0 : (int)((uint64_t)u->deadline - now);
}

static int classify(CURLcode rc)
{
    switch (rc) {
    case CURLE_OK:
        return UP_OK;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
        return UP_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        return UP_TIMEOUT;
    case CURLE_WRITE_ERROR:
        return UP_ABORTED;
    default:
        return UP_FAILED;
    }
}

static void check_done(up *u)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(u->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        up_xfer *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        CURLcode rc = m->data.result;
        long status = 0;
        curl_off_t retry_after = -1;
        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        if (curl_easy_getinfo(m->easy_handle, CURLINFO_RETRY_AFTER, &retry_after) != CURLE_OK ||
            retry_after <= 0)
            retry_after = -1;
        if (rc == CURLE_OK && !x->h2 && u->idle_guess < LIM_UP_IDLE_CONNS)
            u->idle_guess++;
        const up_ops *ops = x->ops;
        void *ud = x->ud;
        /* Free first: on_done may start another transfer or free its owner. */
        xfer_free(u, x);
        ops->on_done(ud, classify(rc), status, retry_after > 86400 ? 86400 : (long)retry_after,
                     curl_easy_strerror(rc));
    }
}

void up_tick(up *u, uint64_t now)
{
    if (u->deadline >= 0 && (uint64_t)u->deadline <= now) {
        u->deadline = -1;
        curl_multi_socket_action(u->multi, CURL_SOCKET_TIMEOUT, 0, &u->running);
    }
    check_done(u);
}

int up_count(const up *u)
{
    return u->count;
}
