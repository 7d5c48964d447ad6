/* libsrt's own receive floor: the cheapest correct server that takes N SRT
 * publishers the way Podium does (one listener, the per-session passphrase
 * set in the listen callback, TSBPD on with Podium's latency) and throws the
 * payload away. scripts/bench ingest --floor runs it beside Podium and the
 * ffmpeg peer with the same feeders, so whatever Podium spends above this
 * process is Podium's, and whatever this process spends no SRT server on
 * this libsrt can avoid.
 *
 *   srt_sink [--blocking | --poll MS | --batch MS] [--port N] [--latency MS]
 *            [--frames FILE] SESSIONS_FILE
 *
 * SESSIONS_FILE: one "<session> <passphrase>" per line. Prints "port=N"
 * once listening (--port 0, the default, takes an ephemeral port). On
 * SIGTERM/SIGINT prints one summary line and exits 0.
 *
 * Default: one thread drains every connection through srt_epoll_uwait, the
 * least a server can wake up. --blocking: one thread per connection blocked
 * in srt_recvmsg, which is what Podium's ingest does, to price that choice.
 * --poll MS: one thread wakes every MS milliseconds and reads what every
 * connection has ready without blocking: one wake-up per period for all
 * connections instead of one per message per connection. --batch MS: a
 * thread per connection, as --blocking, that reads it dry every MS ms.
 *
 * --frames FILE (with --blocking): for each video frame's first TS packet
 * (a video PES start) appends "<CLOCK_MONOTONIC s> <PTS> <key>" to FILE the
 * moment libsrt hands it over, key 1 for a keyframe (its adaptation field
 * sets random_access_indicator, as ffmpeg's muxer does): scripts/bench
 * latency's floor, the earliest a server could list the segment or part
 * that frame closes. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <srt/access_control.h>
#include <srt/srt.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_SESSIONS 1024
#define MAX_EVENTS 64
#define PAYLOAD 1456 /* SRT live mode's largest message: one TS burst of 7 packets */

struct cred {
    char id[64];
    char pass[80];
};

/* Counters are atomics only because --blocking adds to them from N threads;
 * relaxed adds cost nothing next to libsrt's per-packet work. */
struct sink {
    struct cred creds[MAX_SESSIONS];
    int n_creds;
    bool blocking;
    int poll_ms;      /* > 0: --poll */
    int batch_ms;     /* > 0: --batch (with blocking) */
    int epoll_id;
    SRTSOCKET listener;
    SRTSOCKET socks[MAX_SESSIONS];   /* accepted, for the loss totals at exit */
    atomic_int n_socks;
    atomic_ullong packets, bytes;
    FILE *frames;     /* --frames */
    pthread_mutex_t frames_lock;
};

struct reader_arg {
    struct sink *sink;
    SRTSOCKET sock;
};

static int load_creds(struct sink *s, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (s->n_creds < MAX_SESSIONS
           && fscanf(f, "%63s %79s", s->creds[s->n_creds].id,
                     s->creds[s->n_creds].pass) == 2)
        s->n_creds++;
    fclose(f);
    return s->n_creds > 0 ? 0 : -1;
}

/* "#!::r=<session>,m=publish" as Podium takes it: the session is the r key;
 * an m other than publish is refused. Returns the session's length, or -1. */
static int session_of(const char *sid, const char **id)
{
    static const char prefix[] = "#!::";
    int len = -1;
    if (!sid || strncmp(sid, prefix, sizeof(prefix) - 1) != 0)
        return -1;
    for (const char *p = sid + sizeof(prefix) - 1; *p;) {
        size_t n = strcspn(p, ",");
        if (n > 2 && p[0] == 'r' && p[1] == '=') {
            *id = p + 2;
            len = (int)n - 2;
        } else if (n >= 2 && p[0] == 'm' && p[1] == '='
                   && !(n == 9 && strncmp(p + 2, "publish", 7) == 0)) {
            return -1;
        }
        p += n + (p[n] == ',');
    }
    return len;
}

static int listen_cb(void *opaque, SRTSOCKET ns, int hs_version,
                     const struct sockaddr *peer, const char *streamid)
{
    struct sink *s = opaque;
    const char *id = NULL;
    int len = session_of(streamid, &id);
    (void)hs_version;
    (void)peer;
    for (int i = 0; len > 0 && i < s->n_creds; i++) {
        const struct cred *c = &s->creds[i];
        if (strlen(c->id) == (size_t)len && strncmp(c->id, id, (size_t)len) == 0)
            return srt_setsockflag(ns, SRTO_PASSPHRASE, c->pass,
                                   (int)strlen(c->pass)) == SRT_ERROR ? -1 : 0;
    }
    srt_setrejectreason(ns, SRT_REJX_NOTFOUND);
    return -1;
}

static void count(struct sink *s, int n)
{
    atomic_fetch_add_explicit(&s->packets, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->bytes, (unsigned long long)n, memory_order_relaxed);
}

#define TS_PACKET 188

/* The PTS of a video PES starting in this TS packet, or -1; *key: whether
 * the packet marks a random access point. */
static long long frame_pts(const uint8_t *p, int *key)
{
    if (p[0] != 0x47 || !(p[1] & 0x40) || !(p[3] & 0x10))
        return -1;                       /* not a PES start */
    int at = 4;
    *key = 0;
    if (p[3] & 0x20) {                   /* adaptation field */
        at = 5 + p[4];
        *key = p[4] > 0 && (p[5] & 0x40);
    }
    if (at + 14 > TS_PACKET)
        return -1;
    const uint8_t *h = p + at;
    if (h[0] || h[1] || h[2] != 1 || (h[3] & 0xf0) != 0xe0 || !(h[7] & 0x80))
        return -1;                       /* not a video PES with a PTS */
    return ((long long)(h[9] & 0x0e) << 29) | ((long long)h[10] << 22)
           | ((long long)(h[11] & 0xfe) << 14) | ((long long)h[12] << 7) | (h[13] >> 1);
}

static void note_frames(struct sink *s, const uint8_t *buf, int n)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    for (int off = 0; off + TS_PACKET <= n; off += TS_PACKET) {
        int key;
        long long pts = frame_pts(buf + off, &key);
        if (pts < 0)
            continue;
        pthread_mutex_lock(&s->frames_lock);
        fprintf(s->frames, "%lld.%06ld %lld %d\n", (long long)now.tv_sec, now.tv_nsec / 1000,
                pts, key);
        fflush(s->frames);
        pthread_mutex_unlock(&s->frames_lock);
    }
}

static void *blocking_reader(void *opaque)
{
    struct reader_arg a = *(struct reader_arg *)opaque;
    char buf[PAYLOAD];
    int n;
    free(opaque);
    while ((n = srt_recvmsg(a.sock, buf, sizeof(buf))) > 0) {
        count(a.sink, n);
        if (a.sink->frames)
            note_frames(a.sink, (const uint8_t *)buf, n);
    }
    return NULL;
}

static void *epoll_reader(void *opaque)
{
    struct sink *s = opaque;
    SRT_EPOLL_EVENT ev[MAX_EVENTS];
    char buf[PAYLOAD];
    for (;;) {
        int k = srt_epoll_uwait(s->epoll_id, ev, MAX_EVENTS, 1000);
        for (int i = 0; i < k; i++) {
            int n;
            while ((n = srt_recvmsg(ev[i].fd, buf, sizeof(buf))) > 0)
                count(s, n);
            /* a broken connection stays in the set until removed, and would
             * wake this thread on every wait */
            if (n == SRT_ERROR && srt_getlasterror(NULL) != SRT_EASYNCRCV)
                srt_epoll_remove_usock(s->epoll_id, ev[i].fd);
        }
    }
    return NULL;
}

static struct timespec ms_timespec(int ms)
{
    return (struct timespec){ ms / 1000, (long)(ms % 1000) * 1000000L };
}

static void *poll_reader(void *opaque)
{
    struct sink *s = opaque;
    char buf[PAYLOAD];
    bool gone[MAX_SESSIONS] = { false };
    const struct timespec period = ms_timespec(s->poll_ms);
    for (;;) {
        nanosleep(&period, NULL);
        int n_socks = atomic_load(&s->n_socks);
        for (int i = 0; i < n_socks; i++) {
            int n;
            if (gone[i])
                continue;
            while ((n = srt_recvmsg(s->socks[i], buf, sizeof(buf))) > 0)
                count(s, n);
            if (n == SRT_ERROR && srt_getlasterror(NULL) != SRT_EASYNCRCV)
                gone[i] = true;
        }
    }
    return NULL;
}

/* --batch: a blocking socket whose reads never wait (SRTO_RCVTIMEO 0), read
 * dry every batch_ms: the reader wakes on its own timer, not per message. */
static void *batch_reader(void *opaque)
{
    struct reader_arg a = *(struct reader_arg *)opaque;
    char buf[PAYLOAD];
    free(opaque);
    const struct timespec period = ms_timespec(a.sink->batch_ms);
    for (;;) {
        int n;
        while ((n = srt_recvmsg(a.sock, buf, sizeof(buf))) > 0)
            count(a.sink, n);
        int e = srt_getlasterror(NULL);
        if (e != SRT_ETIMEOUT && e != SRT_EASYNCRCV)
            return NULL;
        nanosleep(&period, NULL);
    }
}

static int start_blocking_reader(struct sink *s, SRTSOCKET sock)
{
    struct reader_arg *a = malloc(sizeof(*a));
    pthread_t t;
    if (!a)
        return -1;
    a->sink = s;
    a->sock = sock;
    if (s->batch_ms > 0) {
        const int zero = 0;
        if (srt_setsockflag(sock, SRTO_RCVTIMEO, &zero, sizeof(zero)) == SRT_ERROR) {
            free(a);
            return -1;
        }
    }
    if (pthread_create(&t, NULL, s->batch_ms > 0 ? batch_reader : blocking_reader, a) != 0) {
        free(a);
        return -1;
    }
    pthread_detach(t);
    return 0;
}

static void *acceptor(void *opaque)
{
    struct sink *s = opaque;
    const bool no = false;
    const int events = SRT_EPOLL_IN | SRT_EPOLL_ERR;
    for (;;) {
        SRTSOCKET sock = srt_accept(s->listener, NULL, NULL);
        if (sock == SRT_INVALID_SOCK) {
            fprintf(stderr, "srt_sink: accept: %s\n", srt_getlasterror_str());
            return NULL;
        }
        int slot = atomic_load(&s->n_socks);
        int ok = slot < MAX_SESSIONS;
        if (ok && s->poll_ms > 0)
            ok = srt_setsockflag(sock, SRTO_RCVSYN, &no, sizeof(no)) != SRT_ERROR;
        else if (ok && !s->blocking)
            ok = srt_setsockflag(sock, SRTO_RCVSYN, &no, sizeof(no)) != SRT_ERROR
                 && srt_epoll_add_usock(s->epoll_id, sock, &events) != SRT_ERROR;
        else if (ok)
            ok = start_blocking_reader(s, sock) == 0;
        if (!ok) {
            fprintf(stderr, "srt_sink: cannot take connection: %s\n", srt_getlasterror_str());
            srt_close(sock);
            continue;
        }
        s->socks[slot] = sock;
        atomic_store(&s->n_socks, slot + 1);
    }
}

/* Loss and drop totals say whether the sink kept up: a floor that lost
 * packets would be cheaper than a correct receiver. */
static void print_summary(struct sink *s)
{
    long long lost = 0, dropped = 0;
    int n = atomic_load(&s->n_socks);
    for (int i = 0; i < n; i++) {
        SRT_TRACEBSTATS st;
        if (srt_bstats(s->socks[i], &st, 0) != SRT_ERROR) {
            lost += st.pktRcvLossTotal;
            dropped += st.pktRcvDropTotal;
        }
    }
    printf("srt_sink: mode=%s connections=%d packets=%llu bytes=%llu lost=%lld dropped=%lld\n",
           s->batch_ms > 0 ? "batch" : s->blocking ? "blocking" : s->poll_ms > 0 ? "poll" : "epoll", n,
           (unsigned long long)atomic_load(&s->packets),
           (unsigned long long)atomic_load(&s->bytes), lost, dropped);
    fflush(stdout);
}

static int usage(const char *argv0)
{
    fprintf(stderr, "usage: %s [--blocking | --poll MS | --batch MS] [--port N] [--latency MS] "
            "[--frames FILE] SESSIONS_FILE\n", argv0);
    return 2;
}

int main(int argc, char **argv)
{
    struct sink sink = { .epoll_id = -1, .listener = SRT_INVALID_SOCK };
    struct sink *s = &sink;
    int port = 0, latency = 120, i;
    const char *creds = NULL, *frames = NULL;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--blocking") == 0)
            s->blocking = true;
        else if (strcmp(argv[i], "--poll") == 0 && i + 1 < argc)
            s->poll_ms = atoi(argv[++i]);
        else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
            s->batch_ms = atoi(argv[++i]), s->blocking = true;
        else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--latency") == 0 && i + 1 < argc)
            latency = atoi(argv[++i]);
        else if (strcmp(argv[i], "--frames") == 0 && i + 1 < argc)
            frames = argv[++i];
        else if (argv[i][0] != '-' && !creds)
            creds = argv[i];
        else
            return usage(argv[0]);
    }
    if (!creds || port < 0 || port > 65535 || latency < 0 || s->poll_ms < 0
        || (s->blocking && s->poll_ms > 0) || (frames && (!s->blocking || s->batch_ms > 0)))
        return usage(argv[0]);
    if (frames && !(s->frames = fopen(frames, "a"))) {
        fprintf(stderr, "srt_sink: cannot open %s: %s\n", frames, strerror(errno));
        return 1;
    }
    pthread_mutex_init(&s->frames_lock, NULL);
    if (load_creds(s, creds) < 0) {
        fprintf(stderr, "srt_sink: no sessions in %s\n", creds);
        return 1;
    }

    /* blocked in every thread (libsrt's too, created after this), taken by
     * sigwait in main */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    if (srt_startup() == SRT_ERROR) {
        fprintf(stderr, "srt_sink: srt_startup: %s\n", srt_getlasterror_str());
        return 1;
    }
    srt_setloglevel(LOG_ERR);
    const bool yes = true, no = false;
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct sockaddr_in bound;
    int blen = sizeof(bound);
    s->listener = srt_create_socket();
    if (s->listener == SRT_INVALID_SOCK
        || srt_setsockflag(s->listener, SRTO_RCVSYN, &yes, sizeof(yes)) == SRT_ERROR
        || srt_setsockflag(s->listener, SRTO_LATENCY, &latency, sizeof(latency)) == SRT_ERROR
        || srt_setsockflag(s->listener, SRTO_SENDER, &no, sizeof(no)) == SRT_ERROR
        || srt_bind(s->listener, (struct sockaddr *)&sa, sizeof(sa)) == SRT_ERROR
        || srt_listen_callback(s->listener, listen_cb, s) == SRT_ERROR
        || srt_listen(s->listener, 64) == SRT_ERROR
        || srt_getsockname(s->listener, (struct sockaddr *)&bound, &blen) == SRT_ERROR) {
        fprintf(stderr, "srt_sink: cannot listen on 127.0.0.1:%d: %s\n", port,
                srt_getlasterror_str());
        return 1;
    }
    if (!s->blocking && !s->poll_ms && (s->epoll_id = srt_epoll_create()) < 0) {
        fprintf(stderr, "srt_sink: srt_epoll_create: %s\n", srt_getlasterror_str());
        return 1;
    }
    pthread_t t;
    if ((s->poll_ms > 0 && pthread_create(&t, NULL, poll_reader, s) != 0)
        || (!s->blocking && !s->poll_ms && pthread_create(&t, NULL, epoll_reader, s) != 0)
        || pthread_create(&t, NULL, acceptor, s) != 0) {
        fprintf(stderr, "srt_sink: cannot start threads\n");
        return 1;
    }
    printf("port=%d\n", ntohs(bound.sin_port));
    fflush(stdout);

    int sig;
    sigwait(&sigs, &sig);
    print_summary(s);
    _exit(0);   /* the readers sit in libsrt calls; nothing left to flush */
}
