/* HTTP front (libmicrohttpd): playlists and segments from memory, the
 * session API, health, metrics and the conference page. */
#ifndef PODIUM_HTTP_H
#define PODIUM_HTTP_H

#include <stdint.h>

#include "podium/config.h"
#include "podium/diskspace.h"
#include "podium/record.h"
#include "podium/session.h"
#include "podium/token.h"

struct http;

/* What the HTTP layer needs besides config and sessions. */
struct http_env {
    struct rec_writer *writer;            /* state files (sessions, registrations) */
    struct diskspace *disk;               /* space left for recordings */
    uint8_t secret[TOKEN_SECRET_LEN];     /* attendee token key */
};

/* Binds http_listen, logs `msg="listening" proto=http addr=...` and starts
 * the server's thread pool. NULL on failure (logged). cfg, reg,
 * env->writer and env->disk must outlive the server; env is copied. */
struct http *http_start(const struct config *cfg, struct registry *reg,
                        const struct http_env *env);

/* The SRT port the organizer page gives speakers (ingest starts after
 * HTTP, and may have picked the port). */
void http_set_srt_port(struct http *h, int port);

/* The conference's name heading attendees' pages (copied; "" for
 * "Podium"): a reload changes it for the next page served. */
void http_set_name(struct http *h, const char *name);

/* Replaces the admin token (copied): the old one stops working at once. */
void http_set_admin_token(struct http *h, const char *token);

/* Stops serving (in-flight responses drop their references); frees. */
void http_stop(struct http **h);

/* Call about once a second: reports how many of libmicrohttpd's messages
 * were left out once their window is over, not only at the next one. */
void http_log_tick(void);

#endif
