/* Unit tests: livesend, over real loopback TCP. A segment GET is answered
 * with the segment's bytes (memfd or memory, large or playlist-sized, with
 * the header lines the lookup wrote), keep-alive and pipelined; any
 * other request reaches the hand-over hook unread, byte for byte; a client
 * that stops halfway, goes idle or leaves mid-response costs nothing that
 * stays. */
#define _GNU_SOURCE
#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "podium/livesend.h"
#include "podium/segbuf.h"

#define SEG_SIZE (1500 * 1000)          /* several chunks and turns */
#define SMALL_SIZE 700                  /* a playlist */
#define BIG_SIZE (24 * 1000 * 1000)     /* more than loopback buffers hold */
#define DEADLINE_S 5.0
#define SEG_HEADERS "Content-Type: video/mp2t\r\nX-Test: 1\r\n"

struct fixture {
    struct segbuf sb, big_sb;
    AVBufferRef *seg, *mem, *big, *small; /* memfd, memory, memfd, memory */
    int lookups;
    int listen_fd;
    unsigned port;
    struct livesend *ls;
    pthread_mutex_t lock;
    int handed[32];
    int n_handed;
    char last_query[64], last_auth[64];
};

static uint8_t byte_at(size_t i)
{
    return (uint8_t)(i * 13 + (i >> 10));
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static AVBufferRef *published(struct segbuf *b, size_t size)
{
    uint8_t piece[4096];
    segbuf_init(b, size + 4096, NULL);
    for (size_t at = 0; at < size;) {
        size_t n = size - at < sizeof(piece) ? size - at : sizeof(piece);
        for (size_t i = 0; i < n; i++)
            piece[i] = byte_at(at + i);
        assert_true(segbuf_append(b, piece, n));
        at += n;
    }
    AVBufferRef *r = segbuf_publish(b);
    assert_non_null(r);
    assert_true(segbuf_fd(r) >= 0);
    return r;
}

static void copy_field(char *out, size_t cap, const char *p, size_t len)
{
    snprintf(out, cap, "%.*s", (int)len, p ? p : "");
}

/* Writes its header lines fresh each time: X-Lookup counts the calls. */
static AVBufferRef *lookup(void *cls, const struct livesend_req *r, char *headers, size_t cap)
{
    struct fixture *f = cls;
    pthread_mutex_lock(&f->lock);
    copy_field(f->last_query, sizeof(f->last_query), r->query, r->query_len);
    copy_field(f->last_auth, sizeof(f->last_auth), r->authorization, r->authorization_len);
    int n = ++f->lookups;
    pthread_mutex_unlock(&f->lock);
    AVBufferRef *b = NULL;
    if (r->path_len == 12 && memcmp(r->path, "/live/s/1.ts", 12) == 0)
        b = f->seg;
    else if (r->path_len == 12 && memcmp(r->path, "/live/s/2.ts", 12) == 0)
        b = f->mem;
    else if (r->path_len == 12 && memcmp(r->path, "/live/s/3.ts", 12) == 0)
        b = f->big;
    else if (r->path_len == 18 && memcmp(r->path, "/live/s/index.m3u8", 18) == 0)
        b = f->small;
    snprintf(headers, cap, SEG_HEADERS "X-Lookup: %d\r\n", n);
    return b ? av_buffer_ref(b) : NULL;
}

static void hand_over(void *cls, int fd)
{
    struct fixture *f = cls;
    pthread_mutex_lock(&f->lock);
    if (f->n_handed < (int)UNIT_LEN(f->handed))
        f->handed[f->n_handed++] = fd;
    else
        close(fd);
    pthread_mutex_unlock(&f->lock);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->seg = published(&f->sb, SEG_SIZE);
    f->big = published(&f->big_sb, BIG_SIZE);
    f->mem = av_buffer_alloc(SEG_SIZE);
    for (size_t i = 0; i < SEG_SIZE; i++)
        f->mem->data[i] = byte_at(i);
    f->small = av_buffer_alloc(SMALL_SIZE);
    for (size_t i = 0; i < SMALL_SIZE; i++)
        f->small->data[i] = byte_at(i);
    pthread_mutex_init(&f->lock, NULL);
    struct sockaddr_in sa = { .sin_family = AF_INET };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    f->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(bind(f->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(f->listen_fd, 16), 0);
    assert_int_equal(getsockname(f->listen_fd, (struct sockaddr *)&sa, &len), 0);
    f->port = ntohs(sa.sin_port);
    struct livesend_hooks hooks = { .lookup = lookup, .hand_over = hand_over, .cls = f };
    f->ls = livesend_start(&hooks, 1);
    assert_non_null(f->ls);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    livesend_stop(&f->ls);
    assert_null(f->ls);
    /* every response's reference is gone once livesend stopped */
    assert_int_equal(av_buffer_get_ref_count(f->seg), 1);
    assert_int_equal(av_buffer_get_ref_count(f->big), 1);
    assert_int_equal(av_buffer_get_ref_count(f->mem), 1);
    assert_int_equal(av_buffer_get_ref_count(f->small), 1);
    for (int i = 0; i < f->n_handed; i++)
        close(f->handed[i]);
    av_buffer_unref(&f->seg);
    av_buffer_unref(&f->big);
    av_buffer_unref(&f->mem);
    av_buffer_unref(&f->small);
    segbuf_free(&f->sb);
    segbuf_free(&f->big_sb);
    close(f->listen_fd);
    pthread_mutex_destroy(&f->lock);
    free(f);
    return 0;
}

/* A client socket whose server side livesend now holds. */
static int client(struct fixture *f)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)f->port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    int s = accept4(f->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    assert_true(s >= 0);
    livesend_add(f->ls, s);
    return fd;
}

static void send_all(int fd, const char *s)
{
    size_t n = strlen(s);
    assert_int_equal(send(fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* recv with a deadline: bytes read, 0 at EOF; fails the test on timeout. */
static ssize_t recv_some(int fd, void *buf, size_t cap)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (poll(&p, 1, (int)(DEADLINE_S * 1000)) != 1)
        fail_msg("no data within %.0f s", DEADLINE_S);
    ssize_t n = recv(fd, buf, cap, 0);
    assert_true(n >= 0);
    return n;
}

/* The server closed fd: EOF, or a reset when it left our bytes unread. */
static void expect_closed(int fd)
{
    char c;
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (poll(&p, 1, (int)(DEADLINE_S * 1000)) != 1)
        fail_msg("not closed within %.0f s", DEADLINE_S);
    ssize_t n = recv(fd, &c, 1, 0);
    assert_true(n == 0 || (n < 0 && errno == ECONNRESET));
}

/* Reads one response, of which hl header bytes are already in head: its
 * header (NUL-terminated into head) and body, which must be
 * byte_at(0..size). */
static void expect_response_after(int fd, char *head, size_t cap, size_t size, size_t hl)
{
    char *end = NULL;
    head[hl] = '\0';
    while (!end) {
        assert_true(hl < cap - 1);
        /* one byte at a time: the body must stay in the socket */
        ssize_t n = recv_some(fd, head + hl, 1);
        assert_int_equal(n, 1);
        head[++hl] = '\0';
        end = strstr(head, "\r\n\r\n");
    }
    assert_true(strncmp(head, "HTTP/1.1 200 OK\r\n", 17) == 0);
    char want[64];
    snprintf(want, sizeof(want), "\r\nContent-Length: %zu\r\n", size);
    assert_non_null(strstr(head, want));
    assert_non_null(strstr(head, "\r\n" SEG_HEADERS));
    assert_non_null(strstr(head, "\r\nDate: "));
    static uint8_t body[64 * 1024];
    for (size_t got = 0; got < size;) {
        size_t want_n = size - got < sizeof(body) ? size - got : sizeof(body);
        ssize_t n = recv_some(fd, body, want_n);
        assert_true(n > 0);
        for (ssize_t i = 0; i < n; i++)
            if (body[i] != byte_at(got + (size_t)i))
                fail_msg("body byte %zu is %u", got + (size_t)i, body[i]);
        got += (size_t)n;
    }
}

static void expect_response(int fd, char *head, size_t cap, size_t size)
{
    expect_response_after(fd, head, cap, size, 0);
}

/* The next connection handed over, within the deadline. */
static int handed_fd(struct fixture *f, int index)
{
    double until = now_s() + DEADLINE_S;
    for (;;) {
        pthread_mutex_lock(&f->lock);
        int fd = f->n_handed > index ? f->handed[index] : -1;
        pthread_mutex_unlock(&f->lock);
        if (fd >= 0)
            return fd;
        if (now_s() > until)
            fail_msg("no hand-over %d within %.0f s", index, DEADLINE_S);
        poll(NULL, 0, 5);
    }
}

/* fd (handed over) holds exactly req, unread. */
static void expect_unread(int fd, const char *req)
{
    char buf[16384];
    size_t n = strlen(req), got = 0;
    while (got < n) {
        ssize_t r = recv_some(fd, buf + got, sizeof(buf) - got);
        assert_true(r > 0);
        got += (size_t)r;
    }
    assert_int_equal(got, n);
    assert_memory_equal(buf, req, n);
}

/* A new connection sending req: the index-th hand-over gets it unread. */
static void expect_handed_over(struct fixture *f, int index, const char *req)
{
    int fd = client(f);
    send_all(fd, req);
    expect_unread(handed_fd(f, index), req);
    close(fd);
}

#define GET(path, extra) "GET " path " HTTP/1.1\r\nHost: 127.0.0.1\r\n" extra "\r\n"

static void test_serves_keep_alive_and_pipelined(void **state)
{
    struct fixture *f = *state;
    char head[1024];
    int fd = client(f);
    send_all(fd, GET("/live/s/1.ts?token=abc.1", "Authorization: Bearer t0k\r\n"));
    expect_response(fd, head, sizeof(head), SEG_SIZE);
    assert_null(strstr(head, "Connection:"));
    assert_string_equal(f->last_query, "token=abc.1");
    assert_string_equal(f->last_auth, "Bearer t0k");
    /* two in one write, the second from memory rather than a memfd */
    send_all(fd, GET("/live/s/1.ts", "") GET("/live/s/2.ts", "User-Agent: x\r\n"));
    expect_response(fd, head, sizeof(head), SEG_SIZE);
    expect_response(fd, head, sizeof(head), SEG_SIZE);
    assert_int_equal(f->n_handed, 0);
    close(fd);
}

/* Playlist-sized bodies from memory: header and body in one send each,
 * with the header lines of their own lookup. */
static void test_small_bodies(void **state)
{
    struct fixture *f = *state;
    char head[1024];
    int fd = client(f);
    send_all(fd, GET("/live/s/index.m3u8", ""));
    expect_response(fd, head, sizeof(head), SMALL_SIZE);
    assert_non_null(strstr(head, "\r\nX-Lookup: 1\r\n\r\n"));
    send_all(fd, GET("/live/s/index.m3u8", "") GET("/live/s/1.ts", "")
                 GET("/live/s/index.m3u8?token=z", "Connection: close\r\n"));
    expect_response(fd, head, sizeof(head), SMALL_SIZE);
    assert_non_null(strstr(head, "\r\nX-Lookup: 2\r\n\r\n"));
    expect_response(fd, head, sizeof(head), SEG_SIZE);
    expect_response(fd, head, sizeof(head), SMALL_SIZE);
    assert_non_null(strstr(head, "\r\nConnection: close\r\n"));
    assert_non_null(strstr(head, "\r\nX-Lookup: 4\r\n\r\n"));
    expect_closed(fd);
    close(fd);
    assert_int_equal(f->n_handed, 0);
}

/* The next request arrives while a response is still under way: it is
 * answered once that one is done, with no new bytes to signal it. */
static void test_request_during_response(void **state)
{
    struct fixture *f = *state;
    char head[1024];
    int fd = client(f);
    send_all(fd, GET("/live/s/3.ts", ""));
    /* more than the socket buffers hold: livesend waits for room, and the
     * next request arrives meanwhile, or during the last chunk */
    assert_true(recv_some(fd, head, 1) == 1);
    send_all(fd, GET("/live/s/index.m3u8", ""));
    expect_response_after(fd, head, sizeof(head), BIG_SIZE, 1);
    expect_response(fd, head, sizeof(head), SMALL_SIZE);
    close(fd);
    assert_int_equal(f->n_handed, 0);
}

static void test_connection_close(void **state)
{
    struct fixture *f = *state;
    char head[1024];
    int fd = client(f);
    send_all(fd, GET("/live/s/1.ts", "Connection: keep-alive, close\r\n"));
    expect_response(fd, head, sizeof(head), SEG_SIZE);
    assert_non_null(strstr(head, "\r\nConnection: close\r\n"));
    expect_closed(fd);
    close(fd);
}

static void test_request_in_pieces(void **state)
{
    struct fixture *f = *state;
    char head[1024];
    int fd = client(f);
    const char *req = GET("/live/s/1.ts", "Accept: */*\r\n");
    size_t n = strlen(req);
    for (size_t at = 0; at < n; at += 9) {
        size_t k = n - at < 9 ? n - at : 9;
        assert_int_equal(send(fd, req + at, k, MSG_NOSIGNAL), (ssize_t)k);
        poll(NULL, 0, 2);
    }
    expect_response(fd, head, sizeof(head), SEG_SIZE);
    close(fd);
}

/* Each of these reaches the hand-over hook unread, on a new connection. */
static void test_others_handed_over_unread(void **state)
{
    struct fixture *f = *state;
    static const char *const reqs[] = {
        GET("/live/s/9.ts", ""),                       /* lookup says no */
        GET("/live/s/init.mp4", ""),
        GET("/watch/s", ""),
        "HEAD /live/s/1.ts HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /live/s/1.ts HTTP/1.0\r\n\r\n",
        "GET /live/s/1.ts HTTP/1.1\r\n\r\n",              /* no Host */
        GET("/live/s/1.ts", "Host: b\r\n"),           /* two */
        GET("/live/s/1.ts", "Range: bytes=0-9\r\n"),
        GET("/live/s/1.ts", "If-None-Match: \"x\"\r\n"),
        GET("/live/s/1.ts", "Content-Length: 3\r\n") "abc",
        GET("/live/s/1.ts", "Transfer-Encoding: chunked\r\n") "0\r\n\r\n",
        GET("/live/s/%31.ts", ""),
        GET("/live/s/1.ts", "X-A: 1\r\n folded\r\n"),
        GET("/live/s/1.ts", "Bad Name: 1\r\n"),
        "GET /live/s/1.ts HTTP/1.1\nHost: a\n\n",
        "POST /live/s/1.ts HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi",
    };
    for (size_t i = 0; i < UNIT_LEN(reqs); i++)
        expect_handed_over(f, (int)i, reqs[i]);
}

/* Served, then a request it does not answer: handed over at that request. */
static void test_hand_over_after_serving(void **state)
{
    struct fixture *f = *state;
    char head[1024];
    int fd = client(f);
    const char *second = GET("/api/v1/sessions", "");
    send_all(fd, GET("/live/s/2.ts", ""));
    expect_response(fd, head, sizeof(head), SEG_SIZE);
    send_all(fd, second);
    expect_unread(handed_fd(f, 0), second);
    close(fd);
}

/* A request cut short by the client's FIN, or longer than livesend reads:
 * libmicrohttpd gets it and answers. */
static void test_truncated_and_oversized(void **state)
{
    struct fixture *f = *state;
    int fd = client(f);
    const char *part = "GET /live/s/1.ts HTTP/1.1\r\nHost: a\r\n";
    send_all(fd, part);
    poll(NULL, 0, 50);
    shutdown(fd, SHUT_WR);
    expect_unread(handed_fd(f, 0), part);
    close(fd);

    static char big[10000];
    size_t n = (size_t)snprintf(big, sizeof(big), "GET /live/s/1.ts HTTP/1.1\r\nX-Pad: ");
    memset(big + n, 'a', sizeof(big) - n - 1);
    expect_handed_over(f, 1, big);
}

static void test_idle_connection_closed(void **state)
{
    struct fixture *f = *state;
    int fd = client(f);
    double t0 = now_s();
    expect_closed(fd);                              /* timeout 1 s, swept each s */
    assert_true(now_s() - t0 >= 0.95);
    close(fd);
    fd = client(f);
    send_all(fd, "GET /live/s/1.ts HTTP/1.1\r\n");  /* never finished */
    expect_closed(fd);
    close(fd);
    assert_int_equal(f->n_handed, 0);
}

/* A client that leaves mid-response, and one that never reads while
 * livesend stops: no reference, descriptor or memory stays (teardown and
 * the sanitizer build check). */
static void test_client_leaves_mid_response(void **state)
{
    struct fixture *f = *state;
    char head[1024];
    int gone = client(f);
    send_all(gone, GET("/live/s/3.ts", ""));
    assert_true(recv_some(gone, head, sizeof(head)) > 0);
    close(gone);
    int stuck = client(f);
    send_all(stuck, GET("/live/s/3.ts", ""));
    /* the other connections are still served meanwhile */
    int fd = client(f);
    send_all(fd, GET("/live/s/1.ts", ""));
    expect_response(fd, head, sizeof(head), SEG_SIZE);
    close(fd);
    livesend_stop(&f->ls);
    close(stuck);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);           /* as podium's main: livesend.h says why */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_serves_keep_alive_and_pipelined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_small_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_during_response, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_in_pieces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_others_handed_over_unread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hand_over_after_serving, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_and_oversized, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_connection_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_leaves_mid_response, setup, teardown),
    };
    return unit_main(argc, argv, "livesend", tests, UNIT_LEN(tests));
}
