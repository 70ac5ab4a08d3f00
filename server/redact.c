/* redact — see redact.h. */
#include "redact.h"

#include <string.h>

static int key_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_' || ch == '*' || ch == '.';
}

static int word_char(char ch)
{
    return key_char(ch) && ch != '.' && ch != '*';
}

int redact_quotes_key(const char *msg, const char *key)
{
    if (key && *key && strstr(msg, key))
        return 1;
    for (const char *p = strstr(msg, "sk-"); p; p = strstr(p + 1, "sk-")) {
        if (p > msg && word_char(p[-1]))
            continue; /* inside a word: task-1, disk-full */
        size_t n = 0;
        while (key_char(p[3 + n]))
            n++;
        if (n >= 4)
            return 1;
    }
    return 0;
}

int redact_credentials(char *msg, const char *key)
{
    if (!redact_quotes_key(msg, key))
        return 0;
    strcpy(msg, "(reason withheld: it quoted a credential)");
    return 1;
}
