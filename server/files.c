/* files — see files.h. */
#include "files.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "resp.h"

static const struct {
    const char *ext, *type;
} mime[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".map", "application/json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".webp", "image/webp"},
    {".woff2", "font/woff2"},
    {".txt", "text/plain; charset=utf-8"},
    {".webmanifest", "application/manifest+json"},
};

static const char *mime_of(const char *path)
{
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof(mime) / sizeof(mime[0]); i++)
        if (!strcasecmp(dot, mime[i].ext))
            return mime[i].type;
    return "application/octet-stream";
}

/* No segment may start with '.': that rules out ".", "..", and dot-files alike. */
static int path_ok(const char *url)
{
    if (url[0] != '/' || strchr(url, '\\'))
        return 0;
    for (const char *p = url; (p = strchr(p, '/')); p++)
        if (p[1] == '.')
            return 0;
    return 1;
}

void files_security_headers(struct MHD_Response *r)
{
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; script-src 'self'; style-src 'self'; "
                            "img-src 'self' data:; connect-src 'self'; object-src 'none'; "
                            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
}

static enum MHD_Result not_found(struct MHD_Connection *mc)
{
    return resp_error(mc, API_NATIVE, 404, "not_found", "no such file", NULL, NULL);
}

/* Opens url under root; fd and st filled, or -1. */
static int open_under(const char *root, const char *url, int *fd, struct stat *st, char *real)
{
    char path[PATH_MAX];
    size_t ul = strlen(url);
    int n = snprintf(path, sizeof(path), "%s%s%s", root, url, url[ul - 1] == '/' ? "index.html" : "");
    if (n < 0 || (size_t)n >= sizeof(path) || !realpath(path, real))
        return -1;
    size_t rl = strlen(root);
    if (strncmp(real, root, rl) != 0 || real[rl] != '/')
        return -1; /* a symlink that leads out of the root */
    *fd = open(real, O_RDONLY | O_CLOEXEC);
    if (*fd < 0)
        return -1;
    if (fstat(*fd, st) < 0 || !S_ISREG(st->st_mode)) {
        close(*fd);
        return -1;
    }
    return 0;
}

enum MHD_Result files_serve(struct MHD_Connection *mc, const char *root, const char *url)
{
    char real[PATH_MAX], etag[64];
    struct stat st;
    int fd;
    if (!root[0] || !path_ok(url) || open_under(root, url, &fd, &st, real) < 0)
        return not_found(mc);
    snprintf(etag, sizeof(etag), "\"%llx-%llx\"", (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtime);
    const char *inm = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "If-None-Match");
    struct MHD_Response *r;
    unsigned status = MHD_HTTP_OK;
    if (inm && !strcmp(inm, etag)) {
        close(fd);
        r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
        status = MHD_HTTP_NOT_MODIFIED;
    } else {
        r = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    }
    if (!r) {
        if (status == MHD_HTTP_OK)
            close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", mime_of(real));
    MHD_add_response_header(r, "ETag", etag);
    /* File names carry no content hash: revalidate every time (cheap with the ETag). */
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    files_security_headers(r);
    enum MHD_Result rc = resp_queue(mc, status, r);
    MHD_destroy_response(r);
    return rc;
}
