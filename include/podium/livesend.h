/* Live sender: answers the GETs a player's connection makes (the lookup
 * hook says which: live segments and playlists, and the pages, script and
 * JSON before them) and hands every other request to libmicrohttpd.
 *
 * libmicrohttpd 0.9.75 pushes a file response's header in a packet of its
 * own and sends the body in 128 KB sendfile calls between cork toggles; the
 * client's receive window then stays small behind it and wrk spent twice
 * the CPU per segment it spends on nginx's (FINDINGS.md, 2026-12-04). Here
 * the header is corked with the start of the body (nginx's tcp_nopush) and
 * the body goes out in bounded sendfile chunks, so one turn over a thousand
 * connections stays short. A body held in memory (a playlist) leaves with
 * its header in one sendmsg: one call, one packet, no cork to toggle.
 * Playlists and pages are served here so that a player's connection,
 * which starts with them, gets its segments this way too.
 *
 * A connection starts here. Each request is read with MSG_PEEK and only
 * consumed once the lookup hook answers it: anything else (another path,
 * HEAD, a Range, a body, a malformed line, a segment that is not there) is
 * left unread and the connection handed over whole, so libmicrohttpd
 * parses that request itself and answers it, errors included. A
 * connection handed over stays with libmicrohttpd. */
#ifndef PODIUM_LIVESEND_H
#define PODIUM_LIVESEND_H

#include <libavutil/buffer.h>
#include <stdbool.h>
#include <stddef.h>

/* A GET this module may answer: HTTP/1.1, no body, no Range or
 * conditional headers, a target of printable ASCII without '%'. The strings
 * point into the request bytes and are not NUL-terminated. */
struct livesend_req {
    const char *path;             /* target up to '?' */
    size_t path_len;
    const char *query;            /* after '?', NULL when none */
    size_t query_len;
    const char *authorization;    /* value of Authorization, NULL when none */
    size_t authorization_len;
};

struct livesend_hooks {
    /* A new reference to the body answering req with 200 (livesend
     * unrefs it once sent), with the response's header lines besides
     * Date, Content-Length and Connection written to headers (at most cap
     * bytes with the NUL, each line ending in CRLF); NULL to hand the
     * request over. Called on livesend's thread. */
    AVBufferRef *(*lookup)(void *cls, const struct livesend_req *req, char *headers, size_t cap);
    /* Takes fd (non-blocking), positioned at the start of a request. */
    void (*hand_over)(void *cls, int fd);
    void *cls;
};

struct livesend;

/* Starts the sender's thread. The process must ignore SIGPIPE: sendfile
 * to a client that left raises it, and has no MSG_NOSIGNAL. idle_timeout_s
 * closes a connection that made
 * no progress for that long. NULL (errno set) when it cannot start. */
struct livesend *livesend_start(const struct livesend_hooks *hooks, unsigned idle_timeout_s);

/* Takes a new non-blocking connection (fd is owned by livesend from then
 * on). Callable from any thread. */
void livesend_add(struct livesend *ls, int fd);

/* Stops the thread, closes the connections it still holds and frees *ls.
 * Call once nothing calls livesend_add any more. NULL-safe; sets *ls NULL. */
void livesend_stop(struct livesend **ls);

#endif
