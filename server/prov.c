/* prov — see prov.h. What every provider module shares. */
#include "prov.h"

#include <curl/curl.h>
#include <stdlib.h>

/* url and body come from malloc (cJSON prints with malloc: chatd installs no cJSON hooks). */
void prov_http_free(prov_http *h)
{
    if (!h)
        return;
    free(h->url);
    curl_slist_free_all(h->headers);
    free(h->body);
    h->url = NULL;
    h->headers = NULL;
    h->body = NULL;
}
