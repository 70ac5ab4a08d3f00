/* answers — see answers.h.
 * Invisible code points are written as escapes so a reader can see them: U+200D (zero
 * width joiner), U+FE0F (emoji presentation), U+20E3 (keycap), U+0301 and U+0308
 * (combining acute and diaeresis). */
#include "answers.h"

#include <string.h>
#include <strings.h>

/* The first thing a new user reads: what chatd is for, with a taste of every answer. */
static const char answer_default[] =
    "Hello! I'm the **demo model** built into chatd. I run inside the server itself, so "
    "this answer needs no API key and no network, yet it travels chatd's real path: an HTTP "
    "stream, the upstream parser, the grapheme segmenter and the pacer.\n"
    "\n"
    "What chatd does for a chat app:\n"
    "\n"
    "- streams each answer **one visible character at a time**, never half of one;\n"
    "- lets you press Stop, or reload the page and pick up where the answer was;\n"
    "- speaks its own event stream and the OpenAI API.\n"
    "\n"
    "Like real tokenizers, I sometimes cut a character in two, and chatd joins the pieces:\n"
    "\n"
    "```python\n"
    "for ch in chat(\"Hello\"):\n"
    "    print(ch, end=\"\", flush=True)\n"
    "```\n"
    "\n"
    "日本語：この文章も一文字ずつ届きます。\n"
    "中文：每个汉字都完整地显示出来。\n"
    "\n"
    "Emoji arrive whole: 👩\u200d💻 🇯🇵 👍🏽 ❤\ufe0f, and so does an accent typed as two "
    "code "
    "points, as in cafe\u0301.\n"
    "\n"
    "Ask me about **code**, **Japanese**, **emoji**, a **markdown table** or a **long "
    "story** to see more.";

static const char answer_code[] =
    "Here is a small Python client for chatd's native stream. It posts a conversation and "
    "prints each character as it arrives:\n"
    "\n"
    "```python\n"
    "import json\n"
    "import requests\n"
    "\n"
    "def chat(messages, url=\"http://127.0.0.1:8080/api/chat\"):\n"
    "    body = {\"messages\": messages}\n"
    "    with requests.post(url, json=body, stream=True) as r:\n"
    "        r.raise_for_status()\n"
    "        for line in r.iter_lines(decode_unicode=True):\n"
    "            if line.startswith(\"data: \"):\n"
    "                event = json.loads(line[6:])\n"
    "                if \"text\" in event:\n"
    "                    yield event[\"text\"]\n"
    "\n"
    "for ch in chat([{\"role\": \"user\", \"content\": \"Hi!\"}]):\n"
    "    print(ch, end=\"\", flush=True)\n"
    "```\n"
    "\n"
    "Each `delta` event carries exactly one grapheme cluster, so `print` never shows a "
    "broken character. chatd also speaks the OpenAI API; from C, libcurl only needs the URL:\n"
    "\n"
    "```c\n"
    "curl_easy_setopt(h, CURLOPT_URL, \"http://127.0.0.1:8080/v1/chat/completions\");\n"
    "```\n"
    "\n"
    "Tip: the final `done` event says why the answer ended: `stop`, `length` or "
    "`cancelled`.";

static const char answer_cjk[] =
    "Of course. Here is one thought in three languages. Every character below reaches "
    "your screen whole:\n"
    "\n"
    "日本語：チャットの返事は、一文字ずつ画面に現れます。漢字も、ひらがなも、カタカナも、"
    "途中で壊れることはありません。\n"
    "\n"
    "中文：聊天的回答会一个字一个字地出现。无论是汉字还是标点符号，都不会变成乱码。\n"
    "\n"
    "한국어：답변은 한 글자씩 화면에 나타납니다. 한글 음절도 깨지지 않습니다.\n"
    "\n"
    "In UTF-8 a CJK character takes three bytes, and a byte-level tokenizer is free to cut "
    "between them. chatd's segmenter holds an incomplete tail until the rest arrives, so "
    "what you see is always a whole character: 「こんにちは」 and 「你好」 included.";

static const char answer_emoji[] =
    "Emoji are the hardest test for a streaming chat, because one picture can be many code "
    "points. Here are some. The model sends each of them in pieces, and chatd shows each as "
    "a single character:\n"
    "\n"
    "- People at work (joined with ZWJ): 👩\u200d💻 👨\u200d🚀 🧑\u200d🍳\n"
    "- A family of seven code points: 👨\u200d👩\u200d👧\u200d👦\n"
    "- Skin tones: 👋🏻 👋🏽 👋🏿\n"
    "- Flags, pairs of regional indicators: 🇯🇵 🇫🇷 🇧🇷 🇰🇪\n"
    "- Emoji presentation: ❤\ufe0f ☀\ufe0f ✔\ufe0f\n"
    "- Keycaps: 1\ufe0f\u20e3 2\ufe0f\u20e3 #\ufe0f\u20e3\n"
    "- All of the above at once: 🏳\ufe0f\u200d🌈 ❤\ufe0f\u200d🔥 🐻\u200d❄\ufe0f\n"
    "\n"
    "If a chat ever shows you 👩 and 💻 side by side for a moment, or an empty box, something "
    "between the model and your screen is splitting graphemes. Here every one of them "
    "appears at once, complete. 🎉";

static const char answer_markdown[] =
    "# Markdown, rendered as it streams\n"
    "\n"
    "chatd sends plain text, one character at a time; the web page renders the "
    "**markdown** as it arrives.\n"
    "\n"
    "## What you get\n"
    "\n"
    "1. Headings, like the two above\n"
    "2. **Bold**, *italic* and `inline code`\n"
    "3. Lists, nested when needed:\n"
    "   - bullets\n"
    "   - and numbers\n"
    "4. Tables:\n"
    "\n"
    "| Feature | Native API | OpenAI API |\n"
    "|---|---|---|\n"
    "| One character per event | ✅ | ✅ |\n"
    "| Resume after a reload | ✅ | — |\n"
    "| Stop button | ✅ | close the stream |\n"
    "\n"
    "> A quote, for good measure: *people read characters, not tokens.*\n"
    "\n"
    "## Why character by character?\n"
    "\n"
    "Tokens are a detail of the model. People read characters, so that is what chatd "
    "paces and delivers: never a half-drawn table cell, never a broken u\u0308.";

/* Long enough to press Stop, or to reload the page and watch the stream resume. */
static const char answer_long[] =
    "Here is a longer answer, so you have time to press Stop, or to reload the page and "
    "watch it resume.\n"
    "\n"
    "The keeper of the lighthouse on Kestrel Point had one way to talk to the mainland: a "
    "lamp, a shutter and a code she had learned as a girl. Every evening she sent the day's "
    "news, one letter at a time, and every evening the harbour master's son wrote the "
    "letters down in a notebook with a blue cover.\n"
    "\n"
    "Some nights the fog swallowed half a letter. He learned to wait: a letter seen in part "
    "was not a letter yet, so he kept the pieces in the margin until the rest came through. "
    "His notebook never held a broken word.\n"
    "\n"
    "One winter the storms lasted nine days. When the light came back, the keeper did not "
    "start again from the beginning. She asked, in three short flashes, where he had "
    "stopped reading, and carried on from there.\n"
    "\n"
    "Years later he built machines that sent words around the world faster than any lamp. "
    "He kept two rules from the notebook: never show half a letter, and always remember "
    "where the reader stopped.\n"
    "\n"
    "That is what chatd does. The model is the lighthouse, the network is the fog, and your "
    "screen is the blue notebook. Press Stop whenever you like: the story ends cleanly, "
    "with nothing cut in half. ☕";

typedef struct answer {
    const char *const *keys; /* ASCII keys match whole words, any case; others substrings */
    const char *text;
} answer;

static const char *const keys_code[] = {
    "code",       "coding", "program",    "programming", "python",  "c",   "c++", "c#",   "rust",
    "javascript", "js",     "typescript", "function",    "snippet", "sdk", "api", "curl", NULL};
static const char *const keys_cjk[] = {
    "japanese", "chinese", "korean", "cjk",  "kanji", "hanzi",  "hangul",   "日本語", "日本",
    "中文",     "汉语",    "漢語",   "汉字", "漢字",  "한국어", "にほんご", NULL};
static const char *const keys_emoji[] = {"emoji", "emojis", "emoticon", "emoticons", "smiley",
                                         "flag",  "flags",  "zwj",      NULL};
static const char *const keys_markdown[] = {"markdown", "md",         "table",   "tables",
                                            "list",     "lists",      "heading", "headings",
                                            "format",   "formatting", "bold",    NULL};
static const char *const keys_long[] = {"long", "longer", "story",  "essay", "poem",
                                        "stop", "cancel", "resume", "slow",  NULL};

/* In match order; the default answer has no keys and comes last. */
static const answer answers[] = {
    {keys_code, answer_code},         {keys_cjk, answer_cjk},   {keys_emoji, answer_emoji},
    {keys_markdown, answer_markdown}, {keys_long, answer_long}, {NULL, answer_default},
};
#define N_ANSWERS (sizeof(answers) / sizeof(answers[0]))

/* Word characters: '+' and '#' too, so that "c++" and "c#" are words of their own. */
static int word_char(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '+' || ch == '#';
}

static int word_is_key(const char *w, size_t n, const char *const *keys)
{
    for (; *keys; keys++)
        if (strlen(*keys) == n && strncasecmp(w, *keys, n) == 0)
            return 1;
    return 0;
}

static int has_key_word(const char *msg, const char *const *keys)
{
    const unsigned char *p = (const unsigned char *)msg;
    while (*p) {
        if (!word_char(*p)) {
            p++;
            continue;
        }
        const unsigned char *w = p;
        while (word_char(*p))
            p++;
        if (word_is_key((const char *)w, (size_t)(p - w), keys))
            return 1;
    }
    return 0;
}

static int has_key_substring(const char *msg, const char *const *keys)
{
    for (; *keys; keys++)
        if ((unsigned char)**keys >= 0x80 && strstr(msg, *keys))
            return 1;
    return 0;
}

const char *demo_answer_for(const char *last_user_message)
{
    const char *m = last_user_message ? last_user_message : "";
    for (size_t i = 0; i + 1 < N_ANSWERS; i++)
        if (has_key_word(m, answers[i].keys) || has_key_substring(m, answers[i].keys))
            return answers[i].text;
    return answer_default;
}

size_t demo_answer_count(void)
{
    return N_ANSWERS;
}

const char *demo_answer_at(size_t i)
{
    if (i >= N_ANSWERS)
        return NULL;
    return answers[(i + N_ANSWERS - 1) % N_ANSWERS].text; /* the default first */
}
