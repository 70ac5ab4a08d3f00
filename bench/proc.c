/* proc — see proc.h. */
#include "proc.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* utime + stime in clock ticks: fields 14 and 15, counted after the ")" that ends the
 * command name (which may itself contain spaces or parentheses). */
static double cpu_of(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static unsigned long rss_of(int pid)
{
    char path[64], line[256];
    unsigned long kb = 0;
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %lu", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

proc_sample proc_read(const int *pids, size_t n)
{
    proc_sample s = {0, 0};
    for (size_t i = 0; i < n; i++) {
        s.cpu_s += cpu_of(pids[i]);
        s.rss_kb += rss_of(pids[i]);
    }
    return s;
}
