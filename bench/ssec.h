/* ssec — the load client's incremental event-stream parser (the WHATWG rules it needs:
 * event, data, id fields, comments, LF or CRLF line ends) and the one JSON extraction it
 * needs: a string member, unescaped to UTF-8. Bytes may come in any split; each
 * dispatched event goes to a callback. Zero an ssec before use; ssec_free at the end. */
#ifndef BENCH_SSEC_H
#define BENCH_SSEC_H

#include <stddef.h>

#define SSEC_LINE_MAX (64 * 1024)
#define SSEC_FIELD_MAX 64

typedef struct ssec_event {
    const char *type; /* "message" when the event named none */
    const char *data;
    size_t data_len;
    const char *id; /* NULL when the event had no id field */
} ssec_event;

/* Non-zero stops the feed and becomes its result. */
typedef int (*ssec_fn)(void *ud, const ssec_event *ev);

typedef struct ssec {
    char *line, *data;
    size_t line_len, line_cap, data_len, data_cap;
    char type[SSEC_FIELD_MAX], id[SSEC_FIELD_MAX];
    int has_id;
} ssec;

/* 0, -1 when a line or an event is over its cap, or the callback's non-zero value. */
int ssec_feed(ssec *s, const char *p, size_t n, ssec_fn fn, void *ud);
void ssec_free(ssec *s);

/* The string member "key" of the JSON text js[0..n), unescaped into out[0..cap): its
 * length; -1 when absent or not a string (null); -2 when malformed or longer than cap.
 * A plain search, enough for the flat objects of these streams. */
long ssec_json_string(const char *js, size_t n, const char *key, char *out, size_t cap);

#endif
