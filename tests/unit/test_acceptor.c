/* Unit tests: acceptor. A burst of connections is handed over whole, each
 * socket non-blocking, and stopping wakes a thread blocked in accept. */
#define _GNU_SOURCE
#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "podium/acceptor.h"

#define BURST 200

struct taken {
    atomic_int n;
    atomic_int blocking;            /* sockets handed over without O_NONBLOCK */
};

static void take(void *cls, int fd, const struct sockaddr *peer, socklen_t len)
{
    struct taken *t = cls;
    if (!(fcntl(fd, F_GETFL) & O_NONBLOCK) || len == 0 || peer->sa_family != AF_INET)
        atomic_fetch_add(&t->blocking, 1);
    close(fd);
    atomic_fetch_add(&t->n, 1);
}

static int loopback_listener(void)
{
    struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
    struct addrinfo *ai = NULL;
    assert_int_equal(getaddrinfo("127.0.0.1", "0", &hints, &ai), 0);
    int fd = acceptor_listen(ai);
    freeaddrinfo(ai);
    assert_true(fd >= 0);
    assert_true(acceptor_port(fd) > 0);
    return fd;
}

/* A socket connecting to 127.0.0.1:port; *rc is connect's result. */
static int try_connect(unsigned port, int *rc)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    *rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    return fd;
}

static int connect_to(unsigned port)
{
    int rc;
    int fd = try_connect(port, &rc);
    assert_int_equal(rc, 0);
    return fd;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_burst_handed_over(void **state)
{
    (void)state;
    struct taken t = { 0 };
    int lfd = loopback_listener();
    unsigned port = acceptor_port(lfd);
    struct acceptor *a = acceptor_start(lfd, take, &t);
    assert_non_null(a);
    int c[BURST];
    for (int i = 0; i < BURST; i++)
        c[i] = connect_to(port);
    double deadline = now_s() + 10;
    while (atomic_load(&t.n) < BURST && now_s() < deadline)
        nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
    assert_int_equal(atomic_load(&t.n), BURST);
    assert_int_equal(atomic_load(&t.blocking), 0);
    acceptor_stop(&a);
    assert_null(a);
    for (int i = 0; i < BURST; i++)
        close(c[i]);
    /* the listening socket went with the acceptor */
    int rc;
    int fd = try_connect(port, &rc);
    assert_int_not_equal(rc, 0);
    assert_int_equal(errno, ECONNREFUSED);
    close(fd);
}

static void test_stop_while_idle(void **state)
{
    (void)state;
    struct taken t = { 0 };
    struct acceptor *a = acceptor_start(loopback_listener(), take, &t);
    assert_non_null(a);
    /* Not synchronisation: nothing shows that the thread is blocked in
     * accept(), so this only makes that case (the one stop must wake)
     * likely; stopping before it gets there has to work as well. */
    nanosleep(&(struct timespec){ .tv_nsec = 20000000 }, NULL);
    double t0 = now_s();
    acceptor_stop(&a);
    assert_true(now_s() - t0 < 1.0);
    assert_int_equal(atomic_load(&t.n), 0);
    acceptor_stop(&a);          /* NULL-safe */
}

static void test_listen_refuses_taken_port(void **state)
{
    (void)state;
    int lfd = loopback_listener();
    char port[16];
    snprintf(port, sizeof(port), "%u", acceptor_port(lfd));
    struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
    struct addrinfo *ai = NULL;
    assert_int_equal(getaddrinfo("127.0.0.1", port, &hints, &ai), 0);
    errno = 0;
    assert_int_equal(acceptor_listen(ai), -1);
    assert_int_equal(errno, EADDRINUSE);
    freeaddrinfo(ai);
    close(lfd);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_handed_over),
        cmocka_unit_test(test_stop_while_idle),
        cmocka_unit_test(test_listen_refuses_taken_port),
    };
    return unit_main(argc, argv, "acceptor", tests, UNIT_LEN(tests));
}
