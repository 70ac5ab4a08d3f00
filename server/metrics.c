/* metrics — see metrics.h. */
#include "metrics.h"

static const double fc_le[METRICS_FC_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                 0.5,   1,    2.5,   5,    10,  30};
static const char *const uperr_name[UPERR_N] = {"status",   "connect",   "timeout", "malformed",
                                                 "reported", "early_end", "failed"};
static const char *const cancel_name[CANCEL_N] = {"request", "client_gone"};

void metrics_first_char(metrics *m, uint64_t us)
{
    for (int i = 0; i < METRICS_FC_BUCKETS; i++) {
        if ((double)us <= fc_le[i] * 1e6) {
            metrics_add(&m->fc_bucket[i], 1);
            break;
        }
    }
    metrics_add(&m->fc_count, 1);
    metrics_add(&m->fc_sum_us, us);
}

static uint64_t sum(metrics *const *b, int n, size_t offset)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v += atomic_load_explicit((atomic_ullong *)((char *)b[i] + offset), memory_order_relaxed);
    return v;
}

#define SUM(field) sum(b, n, offsetof(metrics, field))

static int counter(buf *o, const char *name, const char *help, uint64_t v)
{
    return buf_addf(o, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
                    (unsigned long long)v);
}

static int labelled(buf *o, metrics *const *b, int n)
{
    int rc = buf_addstr(o, "# HELP chatd_upstream_errors_total Upstream failures by type.\n"
                           "# TYPE chatd_upstream_errors_total counter\n");
    for (int k = 0; k < UPERR_N; k++)
        rc |= buf_addf(o, "chatd_upstream_errors_total{type=\"%s\"} %llu\n", uperr_name[k],
                       (unsigned long long)SUM(up_errors[k]));
    rc |= buf_addstr(o, "# HELP chatd_cancellations_total Streams cancelled, by cause.\n"
                        "# TYPE chatd_cancellations_total counter\n");
    for (int k = 0; k < CANCEL_N; k++)
        rc |= buf_addf(o, "chatd_cancellations_total{reason=\"%s\"} %llu\n", cancel_name[k],
                       (unsigned long long)SUM(cancels[k]));
    return rc;
}

static int histogram(buf *o, metrics *const *b, int n)
{
    int rc = buf_addstr(o, "# HELP chatd_first_character_seconds Time from request to the first "
                           "character released.\n# TYPE chatd_first_character_seconds histogram\n");
    uint64_t cum = 0;
    for (int k = 0; k < METRICS_FC_BUCKETS; k++) {
        cum += SUM(fc_bucket[k]);
        rc |= buf_addf(o, "chatd_first_character_seconds_bucket{le=\"%g\"} %llu\n", fc_le[k],
                       (unsigned long long)cum);
    }
    uint64_t count = SUM(fc_count);
    rc |= buf_addf(o, "chatd_first_character_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)count);
    rc |= buf_addf(o, "chatd_first_character_seconds_sum %.6f\n", (double)SUM(fc_sum_us) / 1e6);
    rc |= buf_addf(o, "chatd_first_character_seconds_count %llu\n", (unsigned long long)count);
    return rc;
}

int metrics_render(buf *o, metrics *const *b, int n, long active, long retained)
{
    int rc = buf_addf(o, "# HELP chatd_streams_active Answers streaming now.\n"
                         "# TYPE chatd_streams_active gauge\nchatd_streams_active %ld\n", active);
    rc |= buf_addf(o, "# HELP chatd_streams_retained Streams kept for resume.\n"
                      "# TYPE chatd_streams_retained gauge\nchatd_streams_retained %ld\n", retained);
    rc |= counter(o, "chatd_requests_total", "HTTP requests received.", SUM(requests));
    rc |= counter(o, "chatd_streams_total", "Answers started.", SUM(streams));
    rc |= counter(o, "chatd_characters_emitted_total", "Characters (grapheme clusters) released.", SUM(chars));
    rc |= counter(o, "chatd_resumes_total", "Streams resumed with GET /api/streams/{id}.", SUM(resumes));
    rc |= counter(o, "chatd_upstream_retries_total",
                  "Attempts after a failed one (the next key or a fallback), before a first character.",
                  SUM(fallbacks));
    rc |= counter(o, "chatd_rate_limited_total", "Requests refused with 429.", SUM(rate_limited));
    rc |= labelled(o, b, n);
    rc |= histogram(o, b, n);
    return rc ? -1 : 0;
}
