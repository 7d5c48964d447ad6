/* Bytes a client sends to livesend, over a real loopback TCP connection:
 * the first parser of the network's requests in the process. Each input is
 * written whole (then the client's side shut), while the answers are read.
 * What must hold, whatever the bytes:
 * - the connection ends within a deadline (no request hangs the sender);
 * - what comes back is a run of well-formed 200 responses, one per body the
 *   lookup hook gave, each with the bytes of that body;
 * - a connection handed over holds the rest of the input unread: livesend
 *   consumed exactly the requests it answered, never part of another. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fuzz.h"
#include "podium/livesend.h"
#include "podium/log.h"
#include "podium/segbuf.h"

#define DEADLINE_MS 5000
#define SEG_BYTES (64 * 1024)

static int listen_fd = -1, port;
static struct livesend *ls;
static struct segbuf seg_sb;
static AVBufferRef *small, *seg;       /* answered from memory / by sendfile */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned bodies;                 /* lookups that returned a body */
static bool handed;
static uint8_t *rest;                   /* what a handed-over connection held */
static size_t rest_len, rest_cap;

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_livesend: %s\n", what);
    abort();
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool path_is(const struct livesend_req *r, const char *p)
{
    return r->path_len == strlen(p) && memcmp(r->path, p, r->path_len) == 0;
}

static AVBufferRef *lookup(void *cls, const struct livesend_req *r, char *headers, size_t cap)
{
    (void)cls;
    if (r->path_len == 0 || r->path[0] != '/')
        fail("lookup got a path that does not start with /");
    for (size_t i = 0; i < r->path_len; i++)
        if (r->path[i] <= ' ' || r->path[i] > '~' || strchr("%#?", r->path[i]))
            fail("lookup got a path byte the parser should have refused");
    AVBufferRef *b = path_is(r, "/a") ? small : path_is(r, "/s.ts") ? seg : NULL;
    snprintf(headers, cap, "Cache-Control: no-cache\r\n");
    if (!b)
        return NULL;
    pthread_mutex_lock(&lock);
    bodies++;
    pthread_mutex_unlock(&lock);
    return av_buffer_ref(b);
}

/* libmicrohttpd's place: keeps what the connection still holds, to the
 * client's end, so the input's unread rest can be compared. */
static void hand_over(void *cls, int fd)
{
    (void)cls;
    uint8_t buf[16384];
    int64_t end = now_ms() + DEADLINE_MS;
    pthread_mutex_lock(&lock);
    handed = true;
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n > 0) {
            if (rest_len + (size_t)n > rest_cap) {
                rest_cap = (rest_len + (size_t)n) * 2;
                rest = realloc(rest, rest_cap);
                if (!rest)
                    fail("out of memory");
            }
            memcpy(rest + rest_len, buf, (size_t)n);
            rest_len += (size_t)n;
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            break;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int64_t left = end - now_ms();
        if (left <= 0 || poll(&p, 1, (int)left) < 0)
            fail("a handed-over connection's client never finished");
    }
    pthread_mutex_unlock(&lock);
    close(fd);
}

static AVBufferRef *published_segment(void)
{
    uint8_t piece[4096];
    segbuf_init(&seg_sb, SEG_BYTES + 4096, NULL);
    for (size_t at = 0; at < SEG_BYTES; at += sizeof(piece)) {
        for (size_t i = 0; i < sizeof(piece); i++)
            piece[i] = (uint8_t)((at + i) * 7);
        if (!segbuf_append(&seg_sb, piece, sizeof(piece)))
            return NULL;
    }
    return segbuf_publish(&seg_sb);
}

int fuzz_init(void)
{
    static const char *const seeds[] = {
        "GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
        /* two pipelined: a segment by sendfile, then a query and a token */
        "GET /s.ts HTTP/1.1\r\nHost: x\r\nUser-Agent: hls.js\r\n\r\n"
        "GET /a?t=tok HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer abc\r\n\r\n",
        "GET /a HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, close\r\n\r\nGET /a HTTP/1.1\r\n",
        "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /other HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /s.ts HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9\r\n\r\n",
        "GET /a HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
        "GET /a HTTP/1.1\nHost: x\n\n",
        "GET /a HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
        "HEAD /a HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /a HTTP/1.0\r\n\r\n",
        "GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /a HTTP/1.1\r\n\r\n",
        "GET /a%20b HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /a HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        /* runs of answerable requests, so that a mutation that spoils one
         * leaves the others to be answered before the hand-over */
        "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /s.ts HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /s.ts HTTP/1.1\r\nHost: x\r\n\r\nGET /s.ts HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /s.ts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /a HTTP/1.1\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
        fuzz_add_seed(seeds[i], strlen(seeds[i]));
    log_set_level((enum log_level)(LV_ERROR + 1));
    signal(SIGPIPE, SIG_IGN);                 /* livesend_start's contract */

    small = av_buffer_alloc(13);
    seg = published_segment();
    if (!small || !seg)
        return -1;
    memcpy(small->data, "hello, world\n", 13);
    struct sockaddr_in sa = { .sin_family = AF_INET };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0
        || listen(listen_fd, 16) < 0 || getsockname(listen_fd, (struct sockaddr *)&sa, &len) < 0)
        return -1;
    port = ntohs(sa.sin_port);
    struct livesend_hooks hooks = { .lookup = lookup, .hand_over = hand_over };
    ls = livesend_start(&hooks, 60);
    return ls ? 0 : -1;
}

/* Checks got[0..n) is a run of 200 responses with known bodies; returns
 * how many. */
static unsigned check_responses(const uint8_t *got, size_t n)
{
    unsigned count = 0;
    for (size_t at = 0; at < n; count++) {
        const uint8_t *end = memmem(got + at, n - at, "\r\n\r\n", 4);
        if (!end)
            fail("a response header that does not end");
        size_t head = (size_t)(end - (got + at)) + 4;
        char h[512];
        if (head >= sizeof(h))
            fail("a response header longer than livesend writes");
        memcpy(h, got + at, head);
        h[head] = '\0';
        const char *cl = strstr(h, "\r\nContent-Length: ");
        if (strncmp(h, "HTTP/1.1 200 OK\r\n", 17) != 0 || !cl)
            fail("a response that is not a 200 with a length");
        size_t body = strtoul(cl + 18, NULL, 10);
        const AVBufferRef *want = body == (size_t)small->size ? small
                                : body == (size_t)seg->size ? seg : NULL;
        if (!want || n - at - head < body)
            fail("a response body of a length no lookup gave, or cut short");
        if (memcmp(got + at + head, want->data, body) != 0)
            fail("a response body with other bytes than its buffer's");
        at += head + body;
    }
    return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pthread_mutex_lock(&lock);
    bodies = 0;
    handed = false;
    rest_len = 0;
    pthread_mutex_unlock(&lock);

    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        fail("cannot connect");
    int s = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (s < 0)
        fail("cannot accept");
    livesend_add(ls, s);

    size_t sent = 0, got_len = 0, got_cap = 65536;
    uint8_t *got = malloc(got_cap);
    bool shut = false;
    int64_t end = now_ms() + DEADLINE_MS;
    if (!got)
        fail("out of memory");
    for (;;) {
        if (sent == size && !shut) {
            shutdown(c, SHUT_WR);
            shut = true;
        }
        struct pollfd p = { .fd = c, .events = POLLIN | (shut ? 0 : POLLOUT) };
        int64_t left = end - now_ms();
        if (left <= 0)
            fail("the connection did not end in time");
        if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
            fail("poll failed");
        if (p.revents & POLLOUT) {
            ssize_t w = send(c, data + sent, size - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (w > 0)
                sent += (size_t)w;
            else if (w < 0 && errno != EAGAIN && errno != EINTR)
                sent = size;                  /* livesend closed: the rest is moot */
        }
        if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        if (got_cap - got_len < 16384) {
            got_cap *= 2;
            got = realloc(got, got_cap);
            if (!got)
                fail("out of memory");
        }
        ssize_t r = recv(c, got + got_len, got_cap - got_len, MSG_DONTWAIT);
        if (r > 0)
            got_len += (size_t)r;
        else if (r == 0 || (errno != EAGAIN && errno != EINTR))
            break;                            /* the end, or a reset */
    }
    close(c);

    unsigned responses = check_responses(got, got_len);
    free(got);
    pthread_mutex_lock(&lock);
    if (responses != bodies)
        fail("a body the lookup gave that was never sent whole");
    if (handed && (rest_len > size || memcmp(rest, data + size - rest_len, rest_len) != 0))
        fail("a handed-over connection that does not hold the input's unread rest");
    pthread_mutex_unlock(&lock);
    return 0;
}
