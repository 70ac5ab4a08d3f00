/* log — chatd's log lines on stderr: one JSON object per line, written with a single
 * write() so lines from several workers never interleave. The level is set once at
 * start; messages above it are dropped. Callers pass fields as ready JSON text. */
#ifndef CHATD_LOG_H
#define CHATD_LOG_H

#include "buf.h"

enum { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_set_level(int level);
int log_enabled(int level);
/* {"time":...,"level":...,<fields>} — fields: `"k":v,...` without braces. */
void log_fields(int level, const char *fields, size_t n);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
