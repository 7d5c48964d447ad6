/* Acceptor: one thread blocked in accept4(), so a burst of connections is
 * taken from the listen queue as fast as the kernel completes them, not at
 * the pace of the thread that serves them. */
#define _GNU_SOURCE
#include "podium/acceptor.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "podium/log.h"

/* Out of descriptors (or memory), the pending connection stays queued and
 * accept fails again at once: wait this long before retrying. */
#define BACKOFF_MS 100

struct acceptor {
    int fd;
    acceptor_take_fn take;
    void *cls;
    atomic_bool stopping;
    pthread_t thread;
};

int acceptor_listen(const struct addrinfo *ai)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        return -1;
    int one = 1;
    /* a restart must not wait for the last run's connections in TIME_WAIT */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ai->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

unsigned acceptor_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

static void *accept_loop(void *arg)
{
    struct acceptor *a = arg;
    unsigned long failed = 0;         /* in a row, logged when it starts and ends */

    for (;;) {
        struct sockaddr_storage peer;
        socklen_t len = sizeof(peer);
        int fd = accept4(a->fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            if (failed)
                log_msg(LV_INFO, NULL, "\"accepting connections again\" failed_attempts=%lu",
                        failed);
            failed = 0;
            a->take(a->cls, fd, (struct sockaddr *)&peer, len);
            continue;
        }
        int err = errno;
        if (atomic_load(&a->stopping))
            break;
        /* the peer gave up while queued, or a signal: nothing to wait for */
        if (err == EINTR || err == ECONNABORTED || err == EPROTO)
            continue;
        if (failed++ == 0)
            log_msg(LV_WARN, NULL, "\"cannot accept connection\" err=\"%s\" retry_ms=%d",
                    strerror(err), BACKOFF_MS);
        nanosleep(&(struct timespec){ .tv_nsec = BACKOFF_MS * 1000000L }, NULL);
    }
    return NULL;
}

struct acceptor *acceptor_start(int listen_fd, acceptor_take_fn take, void *cls)
{
    struct acceptor *a = calloc(1, sizeof(*a));
    if (!a) {
        close(listen_fd);
        return NULL;
    }
    a->fd = listen_fd;
    a->take = take;
    a->cls = cls;
    atomic_init(&a->stopping, false);
    int err = pthread_create(&a->thread, NULL, accept_loop, a);
    if (err != 0) {
        close(listen_fd);
        free(a);
        errno = err;
        return NULL;
    }
    return a;
}

void acceptor_stop(struct acceptor **pa)
{
    struct acceptor *a = *pa;
    if (!a)
        return;
    atomic_store(&a->stopping, true);
    /* on Linux this wakes a thread blocked in accept (it fails EINVAL) */
    shutdown(a->fd, SHUT_RDWR);
    pthread_join(a->thread, NULL);
    close(a->fd);
    free(a);
    *pa = NULL;
}
