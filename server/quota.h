/* quota — per-client limits shared by every worker: concurrent streams and a token-bucket
 * request rate. A client is its API key (when keys are configured) or its IP address.
 * One table behind one mutex, touched once when a chat starts and once when it ends. */
#ifndef CHATD_QUOTA_H
#define CHATD_QUOTA_H

#include <stdint.h>

#define QUOTA_CLIENT_MAX 64 /* bytes of a client name, NUL included */

enum { QUOTA_OK = 0, QUOTA_STREAMS = 1, QUOTA_RATE = 2, QUOTA_FULL = 3 };

/* max_streams 0: no concurrency limit; rate_per_min 0: no rate limit. */
int quota_init(long max_streams, long rate_per_min, long burst);
void quota_free(void);
/* Takes a stream slot and a token, or says why not; retry_after_s for QUOTA_RATE. */
int quota_admit(const char *client, uint64_t now_ms, int *retry_after_s);
void quota_release(const char *client, uint64_t now_ms);
int quota_clients(void); /* entries in the table (tests, metrics) */
/* The most entries the table holds (1000000 unless set); past it, new clients get
 * QUOTA_FULL. For tests. */
void quota_set_max_clients(int n);

#endif
