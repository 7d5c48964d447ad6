/* Live sender: one thread, edge-triggered epoll, every connection
 * registered once for both directions (no epoll_ctl per response).
 *
 * A request is parsed from bytes peeked into the thread's one buffer, so a
 * waiting connection costs no buffer of its own; it is consumed (discarded
 * by the kernel, MSG_TRUNC) only when it is answered here. A connection that
 * used up its chunk while still writable waits on the ready list for the
 * next turn: edge-triggered epoll would not report it again. */
#define _GNU_SOURCE
#include "podium/livesend.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "podium/log.h"
#include "podium/segbuf.h"

/* A request header that does not end within this goes to libmicrohttpd,
 * which answers 431 (its own limit is the same, half of CONN_MEMORY). */
#define REQ_MAX 8192
/* Body bytes per connection per turn: TURN_BYTES shared by the responses
 * under way, within [CHUNK_MIN, CHUNK_MAX]. Few connections get large
 * chunks, as nginx's 2 MB sendfile_max_chunk: 128 KB chunks cost twice the
 * CPU per request at 100 connections. Many get small ones, so one turn
 * stays short and a connection that was not writable at its turn waits
 * little: whole segments at 1,000 connections doubled the p99. */
#define TURN_BYTES (64u << 20)
#define CHUNK_MIN (128u << 10)
#define CHUNK_MAX (2u << 20)
#define EVENTS 256
/* How long a connection answered with "Connection: close" waits for the
 * client's end after ours, as nginx's lingering_timeout. */
#define LINGER_MS 5000
#define HEAD_MAX 512

struct conn {
    int fd;
    bool sending, close_after, queued;
    bool peer_done;                 /* the client shut its side (EPOLLRDHUP) */
    bool drained;                   /* the request was all the socket held */
    bool lingering;                 /* answered and shut for writing: reads and discards */
    AVBufferRef *body;              /* being sent, our reference */
    int body_fd;                    /* segbuf_fd(body), or -1: sent from memory */
    size_t off;                     /* body bytes sent */
    size_t head_len, head_off;
    int64_t active;                 /* ms, now_ms(), of the last progress */
    struct conn *prev, *next;       /* every connection, under lock */
    struct conn *ready_next;        /* on the ready list, this thread only */
    char head[HEAD_MAX];
};

struct livesend {
    struct livesend_hooks hooks;
    unsigned idle_s;
    int ep, wake;
    pthread_t thread;
    atomic_bool stopping;
    pthread_mutex_t lock;           /* list */
    struct conn *list;
    struct conn *ready, **ready_tail;
    size_t sending;                 /* connections with a response under way */
    time_t date_at;
    char date[40];                  /* Date: value, once a second */
    char headers[HEAD_MAX / 2];     /* the lookup hook's header lines */
    char req[REQ_MAX];
};

enum parse { P_MORE, P_OURS, P_OTHER };

/* Coarse: read per chunk sent, and a timeout of seconds needs no more. */
static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')
           || (ch && strchr("!#$&'*+-.^_`|~", ch));
}

static bool name_is(const char *name, size_t len, const char *want)
{
    return strlen(want) == len && strncasecmp(name, want, len) == 0;
}

/* True when the comma-separated value holds token (any case). */
static bool has_token(const char *v, size_t len, const char *token)
{
    size_t tl = strlen(token), i = 0;
    while (i < len) {
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t j = i;
        while (j < len && v[j] != ',')
            j++;
        size_t k = j;
        while (k > i && (v[k - 1] == ' ' || v[k - 1] == '\t'))
            k--;
        if (k - i == tl && strncasecmp(v + i, token, tl) == 0)
            return true;
        i = j;
    }
    return false;
}

/* Headers whose meaning this module does not implement: with any of them
 * the request is libmicrohttpd's. */
static const char *const theirs[] = {
    "content-length", "transfer-encoding", "expect", "upgrade", "range", "if-range",
    "if-match", "if-none-match", "if-modified-since", "if-unmodified-since",
};

/* Parses the request at the start of b[0..n). P_OURS fills r, *len (bytes
 * up to and with the blank line) and *close. */
static enum parse parse_request(const char *b, size_t n, struct livesend_req *r, size_t *len,
                                bool *close)
{
    static const char get[] = "GET /";        /* the hook decides the rest */
    size_t m = n < sizeof(get) - 1 ? n : sizeof(get) - 1;
    if (memcmp(b, get, m) != 0)
        return P_OTHER;
    for (const char *lf = memchr(b, '\n', n); lf; lf = memchr(lf + 1, '\n', n - (size_t)(lf + 1 - b)))
        if (lf == b || lf[-1] != '\r')
            return P_OTHER;          /* bare LF: would never end in CRLF CRLF */
    const char *end = memmem(b, n, "\r\n\r\n", 4);
    if (!end)
        return n >= REQ_MAX ? P_OTHER : P_MORE;
    *len = (size_t)(end - b) + 4;

    const char *p = b + 4, *sp = memchr(p, ' ', (size_t)(end - p));
    if (!sp)
        return P_OTHER;
    for (const char *q = p; q < sp; q++)
        if (*q <= ' ' || *q > '~' || *q == '%' || *q == '#')
            return P_OTHER;
    *r = (struct livesend_req){ .path = p, .path_len = (size_t)(sp - p) };
    const char *qm = memchr(p, '?', (size_t)(sp - p));
    if (qm) {
        r->path_len = (size_t)(qm - p);
        r->query = qm + 1;
        r->query_len = (size_t)(sp - qm - 1);
    }
    if (strncmp(sp, " HTTP/1.1\r\n", 11) != 0)
        return P_OTHER;

    unsigned hosts = 0;
    *close = false;
    for (const char *line = sp + 11; line < end + 2;) {
        const char *eol = memchr(line, '\r', (size_t)(end + 2 - line));
        if (!eol || eol[1] != '\n')
            return P_OTHER;
        const char *colon = line;
        while (colon < eol && tchar((unsigned char)*colon))
            colon++;
        if (colon == line || colon == eol || *colon != ':')
            return P_OTHER;          /* folded, empty or malformed name */
        const char *v = colon + 1, *ve = eol;
        for (const char *q = v; q < ve; q++)
            if ((unsigned char)*q < ' ' && *q != '\t')
                return P_OTHER;      /* a bare LF, a NUL, ... */
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        size_t nl = (size_t)(colon - line), vl = (size_t)(ve - v);
        for (size_t i = 0; i < sizeof(theirs) / sizeof(theirs[0]); i++)
            if (name_is(line, nl, theirs[i]))
                return P_OTHER;
        if (name_is(line, nl, "host")) {
            hosts++;
        } else if (name_is(line, nl, "connection")) {
            if (has_token(v, vl, "upgrade"))
                return P_OTHER;
            *close = *close || has_token(v, vl, "close");
        } else if (name_is(line, nl, "authorization")) {
            r->authorization = v;
            r->authorization_len = vl;
        }
        line = eol + 2;
    }
    /* HTTP/1.1 requires exactly one Host: libmicrohttpd answers 400 */
    return hosts == 1 ? P_OURS : P_OTHER;
}

/* -------------------------------------------------------------- conns */

static void conn_free(struct livesend *ls, struct conn *c, bool close_fd)
{
    if (c->sending)
        ls->sending--;
    pthread_mutex_lock(&ls->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        ls->list = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&ls->lock);
    if (close_fd)
        close(c->fd);
    av_buffer_unref(&c->body);
    free(c);
}

static void hand_over(struct livesend *ls, struct conn *c)
{
    int fd = c->fd;
    epoll_ctl(ls->ep, EPOLL_CTL_DEL, fd, NULL);
    conn_free(ls, c, false);
    ls->hooks.hand_over(ls->hooks.cls, fd);
}

static void set_cork(int fd, int on)
{
    setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
}

static const char *http_date(struct livesend *ls)
{
    time_t t = time(NULL);
    if (t != ls->date_at) {
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(ls->date, sizeof(ls->date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        ls->date_at = t;
    }
    return ls->date;
}

enum sent { S_DONE, S_BLOCKED, S_TURN, S_ERROR };

/* Sends the header and at most chunk body bytes of the current response.
 * A body in memory goes out with the header in one sendmsg, uncorked; a
 * memfd's is sendfile'd behind the corked header. */
static enum sent send_some(struct conn *c, size_t chunk)
{
    size_t size = (size_t)c->body->size, budget = chunk;
    while (c->head_off < c->head_len || (c->off < size && budget > 0)) {
        size_t head = c->head_len - c->head_off;
        size_t want = size - c->off < budget ? size - c->off : budget;
        ssize_t w;
        if (c->body_fd < 0) {
            struct iovec iov[2] = { { c->head + c->head_off, head },
                                    { c->body->data + c->off, want } };
            struct msghdr m = { .msg_iov = head ? iov : iov + 1, .msg_iovlen = head ? 2 : 1 };
            w = sendmsg(c->fd, &m, MSG_NOSIGNAL);
        } else if (head) {
            w = send(c->fd, c->head + c->head_off, head, MSG_NOSIGNAL);
        } else {
            off_t o = (off_t)c->off;
            w = sendfile(c->fd, c->body_fd, &o, want);
        }
        if (w < 0)
            return errno == EAGAIN || errno == EINTR ? S_BLOCKED : S_ERROR;
        if (w == 0)
            return S_ERROR;          /* the memfd is shorter than the buffer */
        size_t of_head = (size_t)w < head ? (size_t)w : head;
        c->head_off += of_head;
        c->off += (size_t)w - of_head;
        budget -= (size_t)w - of_head;
        c->active = now_ms();       /* coarse clock: a vDSO read, no syscall */
    }
    if (c->off < size)
        return S_TURN;
    if (c->body_fd >= 0)
        set_cork(c->fd, 0);          /* pushes the tail */
    return S_DONE;
}

enum start { START_OK, START_UNREAD, START_LOST };

/* Starts answering the request peeked into ls->req (len bytes) with body
 * (takes the reference). START_UNREAD: not started, the request is still
 * unread; START_LOST: only part of it could be consumed. */
static enum start start_response(struct livesend *ls, struct conn *c, AVBufferRef *body,
                                 const char *headers, size_t len)
{
    int n = snprintf(c->head, sizeof(c->head),
                     "HTTP/1.1 200 OK\r\nDate: %s\r\n%sContent-Length: %zu\r\n%s\r\n",
                     http_date(ls), c->close_after ? "Connection: close\r\n" : "", body->size,
                     headers);
    /* MSG_TRUNC discards the bytes without copying them (TCP); all of
     * them, as they were peeked, unless the kernel says otherwise */
    ssize_t got = n < 0 || (size_t)n >= sizeof(c->head)
                      ? -1 : recv(c->fd, NULL, len, MSG_TRUNC | MSG_DONTWAIT);
    if (got != (ssize_t)len) {
        av_buffer_unref(&body);
        return got > 0 ? START_LOST : START_UNREAD;
    }
    c->body = body;
    c->body_fd = segbuf_fd(body);
    c->off = 0;
    c->head_len = (size_t)n;
    c->head_off = 0;
    c->sending = true;
    ls->sending++;
    c->active = now_ms();
    if (c->body_fd >= 0)
        set_cork(c->fd, 1);          /* the header leaves with the body */
    return START_OK;
}

static size_t chunk_of(const struct livesend *ls)
{
    size_t c = ls->sending ? TURN_BYTES / ls->sending : CHUNK_MAX;
    return c < CHUNK_MIN ? CHUNK_MIN : c > CHUNK_MAX ? CHUNK_MAX : c;
}

static void queue_ready(struct livesend *ls, struct conn *c)
{
    c->queued = true;
    c->ready_next = NULL;
    *ls->ready_tail = c;
    ls->ready_tail = &c->ready_next;
}

/* Discards what the client still sends after our last response, until it
 * closes too (then c is freed). Closed with unread bytes, the socket would
 * send an RST that can destroy the end of the response before the client
 * read it (RFC 9112 9.6). */
static void linger(struct livesend *ls, struct conn *c)
{
    for (;;) {
        ssize_t n = recv(c->fd, NULL, 65536, MSG_TRUNC | MSG_DONTWAIT);
        if (n > 0)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        conn_free(ls, c, true);
        return;
    }
}

/* Runs c until it waits for the network, used up its turn, was handed
 * over or closed (then c is freed). */
static void conn_run(struct livesend *ls, struct conn *c)
{
    if (c->lingering) {
        linger(ls, c);
        return;
    }
    for (;;) {
        if (c->sending) {
            switch (send_some(c, chunk_of(ls))) {
            case S_BLOCKED:
                return;
            case S_TURN:
                queue_ready(ls, c);
                return;
            case S_ERROR:
                conn_free(ls, c, true);
                return;
            case S_DONE:
                c->sending = false;
                ls->sending--;
                av_buffer_unref(&c->body);
                if (c->close_after) {
                    shutdown(c->fd, SHUT_WR);
                    c->lingering = true;
                    c->active = now_ms();
                    linger(ls, c);
                    return;
                }
                /* a later request comes with an edge of its own: no peek
                 * to learn that there is none yet (a syscall a request) */
                if (c->drained && !c->peer_done)
                    return;
                break;
            }
        }
        ssize_t n = recv(c->fd, ls->req, sizeof(ls->req), MSG_PEEK | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0) {
            conn_free(ls, c, true);          /* the client is done, or gone */
            return;
        }
        struct livesend_req r;
        size_t len = 0;
        enum parse p = parse_request(ls->req, (size_t)n, &r, &len, &c->close_after);
        /* the rest arrives with a new edge, unless the client is done:
         * libmicrohttpd answers the truncated request */
        if (p == P_MORE && !c->peer_done)
            return;
        c->drained = p == P_OURS && len == (size_t)n && (size_t)n < sizeof(ls->req);
        ls->headers[0] = '\0';
        AVBufferRef *body = p == P_OURS ? ls->hooks.lookup(ls->hooks.cls, &r, ls->headers,
                                                          sizeof(ls->headers))
                                       : NULL;
        switch (body ? start_response(ls, c, body, ls->headers, len) : START_UNREAD) {
        case START_OK:
            break;
        case START_UNREAD:
            hand_over(ls, c);
            return;
        case START_LOST:
            /* libmicrohttpd would read the rest as a request of its own */
            log_client(LV_WARN, "\"livesend: request only partly consumed, connection "
                    "closed\" bytes=%zu", len);
            conn_free(ls, c, true);
            return;
        }
    }
}

/* Connections without progress for idle_s; once a second. */
static void sweep_idle(struct livesend *ls, int64_t now)
{
    struct conn *stale = NULL;
    pthread_mutex_lock(&ls->lock);
    for (struct conn *c = ls->list; c; c = c->next)
        if (!c->queued && now - c->active >= (c->lingering ? LINGER_MS
                                                        : (int64_t)ls->idle_s * 1000)) {
            c->ready_next = stale;           /* not queued: the link is free */
            stale = c;
        }
    pthread_mutex_unlock(&ls->lock);
    while (stale) {
        struct conn *next = stale->ready_next;
        conn_free(ls, stale, true);
        stale = next;
    }
}

static void *loop(void *arg)
{
    struct livesend *ls = arg;
    struct epoll_event ev[EVENTS];
    int64_t swept = now_ms();

    while (!atomic_load(&ls->stopping)) {
        int n = epoll_wait(ls->ep, ev, EVENTS, ls->ready ? 0 : 1000);
        for (int i = 0; i < n; i++) {
            struct conn *c = ev[i].data.ptr;
            if (!c)
                continue;
            c->peer_done = c->peer_done || (ev[i].events & (EPOLLRDHUP | EPOLLHUP));
            if (ev[i].events & EPOLLIN)
                c->drained = false;          /* bytes came after the last peek */
            if (!c->queued)                  /* queued: runs below anyway */
                conn_run(ls, c);
        }
        struct conn *c = ls->ready;
        ls->ready = NULL;
        ls->ready_tail = &ls->ready;
        while (c) {
            struct conn *next = c->ready_next;
            c->queued = false;
            conn_run(ls, c);
            c = next;
        }
        int64_t now = now_ms();
        if (now - swept >= 1000) {
            sweep_idle(ls, now);
            swept = now;
        }
    }
    return NULL;
}

struct livesend *livesend_start(const struct livesend_hooks *hooks, unsigned idle_timeout_s)
{
    struct livesend *ls = calloc(1, sizeof(*ls));
    if (!ls)
        return NULL;
    ls->hooks = *hooks;
    ls->idle_s = idle_timeout_s;
    ls->ready_tail = &ls->ready;
    atomic_init(&ls->stopping, false);
    pthread_mutex_init(&ls->lock, NULL);
    ls->ep = epoll_create1(EPOLL_CLOEXEC);
    ls->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    int err = 0;
    if (ls->ep < 0 || ls->wake < 0 || epoll_ctl(ls->ep, EPOLL_CTL_ADD, ls->wake, &ev) != 0)
        err = errno;
    else
        err = pthread_create(&ls->thread, NULL, loop, ls);
    if (err) {
        if (ls->ep >= 0)
            close(ls->ep);
        if (ls->wake >= 0)
            close(ls->wake);
        pthread_mutex_destroy(&ls->lock);
        free(ls);
        errno = err;
        return NULL;
    }
    return ls;
}

void livesend_add(struct livesend *ls, int fd)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (!c) {
        ls->hooks.hand_over(ls->hooks.cls, fd);
        return;
    }
    c->fd = fd;
    c->body_fd = -1;
    c->active = now_ms();
    pthread_mutex_lock(&ls->lock);
    c->next = ls->list;
    if (ls->list)
        ls->list->prev = c;
    ls->list = c;
    pthread_mutex_unlock(&ls->lock);
    /* From here the sender's thread may run c: do not touch it again. */
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                              .data.ptr = c };
    if (epoll_ctl(ls->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        log_msg(LV_WARN, NULL, "\"livesend: cannot watch connection\" err=\"%s\"",
                strerror(errno));
        conn_free(ls, c, false);
        ls->hooks.hand_over(ls->hooks.cls, fd);
    }
}

void livesend_stop(struct livesend **pls)
{
    struct livesend *ls = *pls;
    if (!ls)
        return;
    atomic_store(&ls->stopping, true);
    uint64_t one = 1;
    if (write(ls->wake, &one, sizeof(one)) < 0)
        log_msg(LV_WARN, NULL, "\"livesend: cannot wake\" err=\"%s\"", strerror(errno));
    pthread_join(ls->thread, NULL);
    while (ls->list)
        conn_free(ls, ls->list, true);
    close(ls->ep);
    close(ls->wake);
    pthread_mutex_destroy(&ls->lock);
    free(ls);
    *pls = NULL;
}
