/* redact — keeps credentials out of what chatd repeats: an upstream's error message may
 * quote the key it was sent (whole, or masked like "sk-abc***xyz"). Pure string work. */
#ifndef CHATD_REDACT_H
#define CHATD_REDACT_H

/* Does msg quote the key (when not empty) or something shaped like a secret key: "sk-"
 * starting a word, then at least four of a key's characters (letters, digits, - _ . and
 * the * of a mask)? "task-1" and "disk-full" are words, not keys. */
int redact_quotes_key(const char *msg, const char *key);
/* Replaces msg (a NUL-terminated buffer of at least 48 bytes) by a fixed notice when it
 * quotes a key. Returns 1 if it did. */
int redact_credentials(char *msg, const char *key);

#endif
