/* answers — the canned answers of the built-in demo model, and how one is chosen.
 * The answers are static UTF-8 data owned by this module (never freed, never changed);
 * callers get pointers into it. */
#ifndef CHATD_DEMO_ANSWERS_H
#define CHATD_DEMO_ANSWERS_H

#include <stddef.h>

#define DEMO_MODEL "chatd-demo" /* what /v1/models lists; any requested name is accepted */

/* The answer for a user's message, picked by keywords (code, CJK, emoji, markdown, a long
 * story); the default answer for anything else, NULL included. Never NULL. */
const char *demo_answer_for(const char *last_user_message);

/* Every answer, the default first: for tests and for anyone listing them. */
size_t demo_answer_count(void);
const char *demo_answer_at(size_t i); /* NULL past the end */

#endif
