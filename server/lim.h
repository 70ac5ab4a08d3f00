/* lim — every cap and fixed limit of chatd in one place.
 * Configurable limits take their defaults from here (see cfg.c); the rest are
 * compile-time caps that keep each buffer bounded. */
#ifndef CHATD_LIM_H
#define CHATD_LIM_H

/* Request side. */
#define LIM_BODY_DEFAULT        (1u << 20)   /* request body cap, bytes (cfg: max_body_bytes) */
#define LIM_MESSAGES_MAX        1024         /* messages per request */
#define LIM_MHD_POOL            (16u * 1024) /* libmicrohttpd per-connection memory pool */
#define LIM_MHD_SHARDS          8            /* libmicrohttpd daemons per worker (<= 32) */
#define LIM_CONN_TIMEOUT_S      60           /* idle or stalled client connection */
#define LIM_FD_TABLE            65536        /* descriptor slots made ready at start */

/* Upstream side. */
#define LIM_UP_LINE             (256u * 1024) /* longest upstream event-stream line */
#define LIM_UP_EVENT            (1u << 20)    /* largest upstream event data */
#define LIM_UP_ERRBODY          4096          /* upstream error body kept for the reason */
#define LIM_TOOLS               128           /* tool calls in one answer (= STREAM_TOOLS_MAX) */
#define LIM_UP_IDLE_CONNS       64            /* idle upstream connections kept per worker */
#define LIM_UP_RECVBUF          1024          /* curl's receive buffer per transfer (its minimum) */
/* MHD's buffer for a streamed response's pieces. Only HTTP/1.0 clients use it (no chunked
 * encoding): for HTTP/1.1 MHD has the callback write into the connection's own write
 * buffer. Events are tens of bytes, so a small block costs those clients little. */
#define LIM_RESP_BLOCK          256

/* Segmenter: a cluster longer than this is cut at a code point boundary. */
#define LIM_CLUSTER             1024

/* Backpressure: characters the slowest live reader has not taken yet. */
#define LIM_UNSENT_HIGH         (64u * 1024)  /* pause the upstream above this many */
#define LIM_UNSENT_LOW          (16u * 1024)  /* resume it below this many */
#define LIM_READER_OUT          (64u * 1024 + 8192) /* a reader's encoded bytes, hard cap */
#define LIM_LOG_TEXT            (4u << 20)    /* a stream's log of characters (and of lengths) */
#define LIM_READER_CHUNK        (16u * 1024)  /* encoded bytes a reader prepares at a time */

/* Timing. */
#define LIM_PING_IDLE_MS        10000  /* ': ping' after this much silence (contract: <= 15 s) */
#define LIM_HOUSEKEEP_MS        250    /* worker housekeeping tick */
#define LIM_PACE_TICK_MS        10     /* pacing tick while any stream has a backlog */

#endif
