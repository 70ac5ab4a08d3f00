/* proc — CPU time and resident memory of a set of processes, read from /proc. A process
 * that has exited counts as zero, so a sample never fails. */
#ifndef BENCH_PROC_H
#define BENCH_PROC_H

#include <stddef.h>

typedef struct proc_sample {
    double cpu_s;        /* user + system time, all threads, seconds */
    unsigned long rss_kb; /* VmRSS summed */
} proc_sample;

proc_sample proc_read(const int *pids, size_t n);

#endif
