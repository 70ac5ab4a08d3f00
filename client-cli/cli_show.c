/* cli_show — see cli_show.h. */
#include "cli_show.h"

#include <cJSON.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DIM "\033[2m"
#define RESET "\033[0m"

void cli_show_init(cli_show *s, int json, int reasoning, int color)
{
    memset(s, 0, sizeof(*s));
    s->json = json;
    s->reasoning = reasoning;
    s->color = color;
    s->tty = isatty(STDOUT_FILENO);
    s->at_bol = 1;
    s->tool_index = -1;
    seg_init(&s->text);
}

/* One whole character to stdout: on a terminal in one write, so it is never torn. */
static int put_cluster(void *ctx, const char *p, size_t n)
{
    cli_show *s = ctx;
    fwrite(p, 1, n, stdout);
    if (s->tty)
        fflush(stdout);
    s->at_bol = n && p[n - 1] == '\n';
    return 0;
}

static void end_reasoning(cli_show *s)
{
    if (!s->in_reasoning)
        return;
    s->in_reasoning = 0;
    fputs(s->color ? RESET "\n" : "\n", stderr);
}

static void end_tool(cli_show *s)
{
    if (!s->in_tool)
        return;
    s->in_tool = 0;
    fputc('\n', stdout);
    s->at_bol = 1;
}

static void text(cli_show *s, const char *t)
{
    end_reasoning(s);
    end_tool(s);
    /* chatd sends one whole character per delta: each goes out at once, never held back
     * waiting for the next one to show where it ends. */
    seg_feed(&s->text, t, strlen(t), put_cluster, s);
    seg_finish(&s->text, put_cluster, s);
}

static void reasoning(cli_show *s, const char *t)
{
    if (!s->reasoning)
        return;
    if (!s->in_reasoning) {
        s->in_reasoning = 1;
        if (s->color)
            fputs(DIM, stderr);
    }
    fputs(t, stderr);
    fflush(stderr);
}

static void tool_call(cli_show *s, const cJSON *d)
{
    const cJSON *idx = cJSON_GetObjectItemCaseSensitive(d, "index");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(d, "name");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(d, "id");
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(d, "arguments");
    int index = cJSON_IsNumber(idx) ? idx->valueint : 0;
    end_reasoning(s);
    seg_finish(&s->text, put_cluster, s);
    if (cJSON_IsString(name) || index != s->tool_index) {
        end_tool(s);
        if (!s->at_bol)
            fputc('\n', stdout);
        fprintf(stdout, "[tool_call %s", cJSON_IsString(name) ? name->valuestring : "?");
        if (cJSON_IsString(id))
            fprintf(stdout, " id=%s", id->valuestring);
        fputs("] ", stdout);
        s->in_tool = 1;
        s->tool_index = index;
        s->at_bol = 0;
    }
    if (cJSON_IsString(args))
        fputs(args->valuestring, stdout);
}

void cli_show_event(cli_show *s, const char *type, const char *data, long long id)
{
    if (s->json) {
        cJSON *d = cJSON_Parse(data);
        char *dj = d ? cJSON_PrintUnformatted(d) : NULL;
        cJSON *ty = cJSON_CreateString(type);
        char *tj = ty ? cJSON_PrintUnformatted(ty) : NULL;
        if (tj && dj) {
            if (id >= 0)
                fprintf(stdout, "{\"id\":%lld,\"event\":%s,\"data\":%s}\n", id, tj, dj);
            else
                fprintf(stdout, "{\"event\":%s,\"data\":%s}\n", tj, dj);
        }
        cJSON_free(dj);
        cJSON_free(tj);
        cJSON_Delete(ty);
        cJSON_Delete(d);
        return;
    }
    cJSON *d = cJSON_Parse(data);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(d, "text");
    if (!strcmp(type, "delta") && cJSON_IsString(t))
        text(s, t->valuestring);
    else if (!strcmp(type, "reasoning") && cJSON_IsString(t))
        reasoning(s, t->valuestring);
    else if (!strcmp(type, "tool_call") && cJSON_IsObject(d))
        tool_call(s, d);
    cJSON_Delete(d);
}

void cli_show_flush(cli_show *s)
{
    fflush(stdout);
    fflush(stderr);
}

void cli_show_end(cli_show *s)
{
    if (!s->json) {
        seg_finish(&s->text, put_cluster, s);
        end_reasoning(s);
        end_tool(s);
        if (s->tty && !s->at_bol)
            fputc('\n', stdout);
        s->at_bol = 1;
        s->tool_index = -1;
    }
    cli_show_flush(s);
}
