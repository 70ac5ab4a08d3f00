/* log — see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "jsonw.h"

static int max_level = LOG_INFO;
static const char *const names[] = {"error", "warn", "info", "debug"};

void log_set_level(int level)
{
    max_level = level;
}

int log_enabled(int level)
{
    return level <= max_level;
}

static void stamp(buf *b, int level)
{
    struct timeval tv;
    struct tm tm;
    char t[32];
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
    buf_addf(b, "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\"", t, (long)tv.tv_usec / 1000, names[level]);
}

/* Writes the line only if every add into b went through: buf's error is sticky, so a
 * failed piece anywhere makes the closing add fail too. */
static void emit(buf *b)
{
    if (buf_add(b, "}\n", 2) == 0 && write(STDERR_FILENO, buf_ptr(b), buf_len(b)) < 0) {
        /* nowhere left to report it */
    }
    buf_free(b);
}

void log_fields(int level, const char *fields, size_t n)
{
    if (!log_enabled(level))
        return;
    buf b;
    buf_init(&b, 16384);
    stamp(&b, level);
    if (n && (buf_add(&b, ",", 1) < 0 || buf_add(&b, fields, n) < 0)) {
        buf_free(&b);
        return;
    }
    emit(&b);
}

void log_msg(int level, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    buf b;
    buf_init(&b, 4096);
    stamp(&b, level);
    buf_addstr(&b, ",\"msg\":");
    jsonw_str(&b, msg, strlen(msg));
    emit(&b);
}
