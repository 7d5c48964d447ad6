/* libsrt's own receive floor: the cheapest server that takes N SRT
 * publishers the way Podium does (one listener, per-session passphrase set
 * in the listen callback, TSBPD and latency as configured) and throws the
 * payload away. scripts/bench ingest --floor runs it beside Podium so the
 * CPU libsrt costs by itself is measured in the same run.
 *
 *   srt_sink SESSIONS_FILE [LATENCY_MS] [--epoll]
 *
 * SESSIONS_FILE: one "<session> <passphrase>" per line. Prints "port=N"
 * once listening; on SIGTERM/SIGINT prints a summary line and exits 0.
 * Default: one thread per connection blocked in srt_recvmsg (Podium's
 * model); --epoll: one thread draining every ready socket. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <srt/srt.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SESSIONS 1024
#define PAYLOAD 1456

struct cred {
    char id[64];
    char pass[80];
};

static struct cred creds[MAX_SESSIONS];
static int n_creds;
static atomic_ullong packets, bytes;
static atomic_int conns;
static int epoll_id = -1;

static int load_creds(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (n_creds < MAX_SESSIONS
           && fscanf(f, "%63s %79s", creds[n_creds].id, creds[n_creds].pass) == 2)
        n_creds++;
    fclose(f);
    return n_creds > 0 ? 0 : -1;
}

/* Same stream id form Podium takes: "#!::r=<id>,..." or a bare id. */
static int listen_cb(void *opaque, SRTSOCKET ns, int hs_version,
                     const struct sockaddr *peer, const char *streamid)
{
    (void)opaque; (void)hs_version; (void)peer;
    const char *r = streamid ? strstr(streamid, "r=") : NULL;
    const char *id = r ? r + 2 : streamid;
    size_t len = id ? strcspn(id, ",") : 0;
    for (int i = 0; i < n_creds; i++) {
        if (strlen(creds[i].id) == len && strncmp(creds[i].id, id, len) == 0)
            return srt_setsockflag(ns, SRTO_PASSPHRASE, creds[i].pass,
                                   (int)strlen(creds[i].pass)) == SRT_ERROR ? -1 : 0;
    }
    return -1;
}

static void count(int n)
{
    atomic_fetch_add_explicit(&packets, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&bytes, (unsigned long long)n, memory_order_relaxed);
}

static void *reader(void *arg)
{
    SRTSOCKET s = (SRTSOCKET)(intptr_t)arg;
    char buf[PAYLOAD];
    int n;
    while ((n = srt_recvmsg(s, buf, sizeof(buf))) > 0)
        count(n);
    srt_close(s);
    return NULL;
}

static void *epoll_reader(void *arg)
{
    (void)arg;
    SRT_EPOLL_EVENT ev[64];
    char buf[PAYLOAD];
    for (;;) {
        int k = srt_epoll_uwait(epoll_id, ev, 64, 1000);
        for (int i = 0; i < k; i++) {
            int n;
            while ((n = srt_recvmsg(ev[i].fd, buf, sizeof(buf))) > 0)
                count(n);
            if (n == SRT_ERROR && srt_getlasterror(NULL) != SRT_EASYNCRCV) {
                srt_epoll_remove_usock(epoll_id, ev[i].fd);
                srt_close(ev[i].fd);
            }
        }
    }
    return NULL;
}

static void *acceptor(void *arg)
{
    SRTSOCKET l = (SRTSOCKET)(intptr_t)arg;
    bool no = false;
    for (;;) {
        SRTSOCKET s = srt_accept(l, NULL, NULL);
        if (s == SRT_INVALID_SOCK)
            return NULL;
        atomic_fetch_add(&conns, 1);
        if (epoll_id >= 0) {
            int in = SRT_EPOLL_IN | SRT_EPOLL_ERR;
            srt_setsockflag(s, SRTO_RCVSYN, &no, sizeof(no));
            srt_epoll_add_usock(epoll_id, s, &in);
            continue;
        }
        pthread_t t;
        if (pthread_create(&t, NULL, reader, (void *)(intptr_t)s) == 0)
            pthread_detach(t);
        else
            srt_close(s);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2 || load_creds(argv[1]) < 0) {
        fprintf(stderr, "usage: %s SESSIONS_FILE [LATENCY_MS] [--epoll]\n", argv[0]);
        return 2;
    }
    int latency = argc > 2 && argv[2][0] != '-' ? atoi(argv[2]) : 120;
    bool use_epoll = strcmp(argv[argc - 1], "--epoll") == 0;

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);   /* every thread; sigwait below */

    srt_startup();
    srt_setloglevel(LOG_ERR);
    SRTSOCKET l = srt_create_socket();
    bool no = false;
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (l == SRT_INVALID_SOCK
        || srt_setsockflag(l, SRTO_LATENCY, &latency, sizeof(latency)) == SRT_ERROR
        || srt_setsockflag(l, SRTO_SENDER, &no, sizeof(no)) == SRT_ERROR
        || srt_bind(l, (struct sockaddr *)&sa, sizeof(sa)) == SRT_ERROR
        || srt_listen_callback(l, listen_cb, NULL) == SRT_ERROR
        || srt_listen(l, 64) == SRT_ERROR) {
        fprintf(stderr, "srt_sink: cannot listen: %s\n", srt_getlasterror_str());
        return 1;
    }
    struct sockaddr_in bound;
    int blen = sizeof(bound);
    srt_getsockname(l, (struct sockaddr *)&bound, &blen);
    if (use_epoll)
        epoll_id = srt_epoll_create();
    pthread_t t;
    if (pthread_create(&t, NULL, acceptor, (void *)(intptr_t)l) != 0
        || (use_epoll && pthread_create(&t, NULL, epoll_reader, NULL) != 0)) {
        fprintf(stderr, "srt_sink: cannot start threads\n");
        return 1;
    }
    printf("port=%d\n", ntohs(bound.sin_port));
    fflush(stdout);

    int sig;
    sigwait(&sigs, &sig);
    printf("srt_sink: mode=%s connections=%d packets=%llu bytes=%llu\n",
           use_epoll ? "epoll" : "blocking", atomic_load(&conns),
           (unsigned long long)atomic_load(&packets), (unsigned long long)atomic_load(&bytes));
    fflush(stdout);
    _exit(0);                            /* readers are blocked in libsrt */
}
