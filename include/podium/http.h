/* HTTP front (libmicrohttpd): playlists and segments from memory, the
 * session API, health, metrics and the conference page. */
#ifndef PODIUM_HTTP_H
#define PODIUM_HTTP_H

#include "podium/config.h"
#include "podium/session.h"

struct http;

/* Binds http_listen, logs `msg="listening" proto=http addr=...` and starts
 * the server's thread pool. NULL on failure (logged). cfg and reg must
 * outlive the server. */
struct http *http_start(const struct config *cfg, struct registry *reg);

/* Stops serving (in-flight responses drop their references); frees. */
void http_stop(struct http **h);

#endif
