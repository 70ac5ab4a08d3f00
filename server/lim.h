/* lim — every cap and fixed limit of chatd in one place.
 * Configurable limits take their defaults from here (see cfg.c); the rest are
 * compile-time caps that keep each buffer bounded. */
#ifndef CHATD_LIM_H
#define CHATD_LIM_H

/* Request side. */
#define LIM_BODY_DEFAULT        (1u << 20)   /* request body cap, bytes (cfg: max_body_bytes) */
#define LIM_MESSAGES_MAX        1024         /* messages per request */
#define LIM_MHD_POOL            (16u * 1024) /* libmicrohttpd per-connection memory pool */
#define LIM_CONN_TIMEOUT_S      60           /* idle or stalled client connection */

/* Upstream side. */
#define LIM_UP_LINE             (256u * 1024) /* longest upstream event-stream line */
#define LIM_UP_EVENT            (1u << 20)    /* largest upstream event data */
#define LIM_UP_ERRBODY          4096          /* upstream error body kept for the reason */

/* Segmenter: a cluster longer than this is cut at a code point boundary. */
#define LIM_CLUSTER             1024

/* Per-stream buffers (the backpressure chain: out -> pending -> pause upstream). */
#define LIM_OUT_HIGH            (64u * 1024)  /* stop moving pending into out above this */
#define LIM_OUT_MAX             (256u * 1024) /* out buffer hard cap */
#define LIM_PEND_HIGH           (128u * 1024) /* pause the upstream above this */
#define LIM_PEND_LOW            (32u * 1024)  /* resume the upstream below this */
#define LIM_PEND_MAX            (512u * 1024) /* pending hard cap: over it the stream errors */
#define LIM_FULL_MAX            (8u << 20)    /* a non-streamed answer, collected whole */

/* Timing. */
#define LIM_PING_IDLE_MS        10000  /* ': ping' after this much silence (contract: <= 15 s) */
#define LIM_HOUSEKEEP_MS        250    /* worker housekeeping tick */
#define LIM_PACE_TICK_MS        10     /* pacing tick while any stream has a backlog */

#endif
