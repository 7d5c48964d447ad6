/* Acceptor: a thread that accepts TCP connections as fast as they come and
 * hands each to a callback. HTTP uses it because libmicrohttpd 0.9.75
 * accepts at most 10 connections per turn of its event loop: when a
 * thousand attendees open a talk at once, the last ones waited over a
 * second in the listen queue while the loop was sending segments to the
 * first (wrk -c1000: p99 1.0 s against nginx's 0.5 s). */
#ifndef PODIUM_ACCEPTOR_H
#define PODIUM_ACCEPTOR_H

#include <netdb.h>
#include <sys/socket.h>

/* Called on the acceptor's thread with a new non-blocking, close-on-exec
 * socket, which the callback owns from then on. */
typedef void (*acceptor_take_fn)(void *cls, int fd, const struct sockaddr *peer,
                                 socklen_t peer_len);

struct acceptor;

/* A listening socket for ai (SO_REUSEADDR; IPv6 only for an IPv6 address),
 * owned by the caller; -1 with errno set when it cannot bind or listen. */
int acceptor_listen(const struct addrinfo *ai);

/* The port fd is bound to (host order), 0 if unknown. */
unsigned acceptor_port(int fd);

/* Starts accepting on listen_fd, which the acceptor owns from then on (it
 * closes it). NULL (listen_fd closed) when the thread cannot start. */
struct acceptor *acceptor_start(int listen_fd, acceptor_take_fn take, void *cls);

/* Stops accepting, returns once take is no longer running, closes the
 * listening socket and frees *a; connections still in the listen queue are
 * reset. NULL-safe; sets *a to NULL. */
void acceptor_stop(struct acceptor **a);

#endif
