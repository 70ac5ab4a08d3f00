/* files — the web UI's static files from the web root: only regular files under the
 * root (no "..", no dot-files, no symlink out of it, no listing), correct MIME types,
 * validators for caching, and the security headers the UI is built for. */
#ifndef CHATD_FILES_H
#define CHATD_FILES_H

#include <microhttpd.h>

/* root_real: the web root as realpath() gives it. Queues the file, a 304, or a 404. */
enum MHD_Result files_serve(struct MHD_Connection *mc, const char *root_real, const char *url);
/* Adds the security headers every response of chatd's UI carries. */
void files_security_headers(struct MHD_Response *r);

#endif
