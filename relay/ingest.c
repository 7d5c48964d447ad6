/* SRT ingest.
 *
 * One listener socket, one accept thread blocked in srt_accept. The listen
 * callback runs inside libsrt before the handshake completes: it parses the
 * stream id, refuses unknown sessions with SRT_REJX_NOTFOUND, and sets the
 * session's passphrase on the new socket so a wrong one fails the handshake
 * inside libsrt. libsrt reports that failure only through its log, so a log
 * handler turns it into a Podium log line with the peer address.
 *
 * A publisher connection is handed to the pipeline (callback) and released
 * with ingest_conn_close; an m=request one to its session's subscribers
 * (callback, pull.c), which own it from then on. Takeover and shutdown close the socket from this
 * side, which wakes the blocking srt_recvmsg of the publisher's thread; no
 * connection ever wakes on a timer of its own. */
#include "podium/ingest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <srt/access_control.h>
#include <srt/srt.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "podium/clock.h"
#include "podium/log.h"
#include "podium/pull.h"

#define PENDING_MAX 64            /* handshakes remembered for log lines */
#define LIVE_PAYLOAD_MAX 1456
/* A publisher's receive buffer (SRTO_RCVBUF, in 1472-byte units) and flow
 * window (SRTO_FC) bound its latency x bitrate: 8192 x 1316 bytes hold 8.6 s
 * of latency at 10 Mbps. At 4096 a 10.8 Mbps publisher asking for 4 s lost
 * 132 packets in 22 s (measured); at 8192 none. libsrt fills arrays sized
 * from them when a publisher connects (3 x 128 KiB here; 400 KB for the
 * loss list alone at libsrt's default window, 25600). */
#define SRT_RCV_BUFFER 8192
#define SRT_FLOW_WINDOW 8192
#define SRT_PAYLOAD_TS PULL_MESSAGE  /* 7 TS packets, what encoders send too */
#define SRT_UNIT_BYTES 1472       /* MSS 1500 less the UDP/IP headers */

struct pending {
    SRTSOCKET sock;
    char peer[64];
    char session[CONFIG_ID_MAX];
    bool keyed;                     /* the session has a passphrase */
};

struct ingest {
    const struct config *cfg;
    struct registry *reg;
    ingest_publisher_fn on_publisher;
    ingest_subscriber_fn on_subscriber;
    void *opaque;
    SRTSOCKET listener;
    int port;                     /* bound */
    pthread_t thread;
    atomic_bool stopping;

    pthread_mutex_t lock;         /* guards conns, n_conns, pending */
    pthread_cond_t released;
    struct ingest_conn *conns[INGEST_MAX_PUBLISHERS];
    int n_conns;
    struct pending pending[PENDING_MAX];
    unsigned pending_next;
};

struct ingest_conn {
    struct ingest *ing;
    SRTSOCKET sock;
    struct session *session;
    uint32_t gen;
    char peer[64];
    int slot;
    int rcvtimeo;                 /* SRTO_RCVTIMEO set on sock, -1: none */
    int32_t msgno;                /* of the last message read, SRT_MSGNO_NONE */
    atomic_bool taken_over;       /* closed by accept_one for a new publisher */
    /* Only used when the demuxer offers less room than one SRT message. */
    uint8_t stash[LIVE_PAYLOAD_MAX];
    size_t stash_off, stash_len;
};

/* libsrt's log handler has no per-listener opaque that survives srt_cleanup
 * ordering, so the one ingest instance registers itself here. */
static struct ingest *log_owner;

int ingest_parse_streamid(const char *sid, struct streamid *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    out->mode = INGEST_PUBLISH;
    if (!sid || !*sid) {
        *why = "empty stream id";
        return -1;
    }
    if (strncmp(sid, "#!::", 4) != 0) {
        if (!config_valid_id(sid)) {
            *why = "stream id is not a valid session id";
            return -1;
        }
        snprintf(out->session, sizeof(out->session), "%s", sid);
        return 0;
    }

    bool have_r = false;
    out->mode = INGEST_REQUEST; /* SRT Access Control default for m */
    const char *p = sid + 4;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (!eq) {
            *why = "stream id item without '='";
            return -1;
        }
        size_t klen = (size_t)(eq - p), vlen = len - klen - 1;
        const char *v = eq + 1;
        if (klen == 1 && p[0] == 'r') {
            if (vlen == 0 || vlen >= sizeof(out->session)) {
                *why = "session id too long or empty";
                return -1;
            }
            memcpy(out->session, v, vlen);
            out->session[vlen] = '\0';
            if (!config_valid_id(out->session)) {
                *why = "stream id r= is not a valid session id";
                return -1;
            }
            have_r = true;
        } else if (klen == 1 && p[0] == 'm') {
            if (vlen == 7 && strncmp(v, "publish", 7) == 0)
                out->mode = INGEST_PUBLISH;
            else if (vlen == 7 && strncmp(v, "request", 7) == 0)
                out->mode = INGEST_REQUEST;
            else {
                *why = "stream id m= must be publish or request";
                return -1;
            }
        }
        /* other keys (u, h, s, t, ...) are allowed and ignored */
        p += len;
        if (*p == ',')
            p++;
    }
    if (!have_r) {
        *why = "stream id has no r=<session>";
        return -1;
    }
    return 0;
}

static void format_addr(const struct sockaddr *sa, char *buf, size_t len)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa && sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        port = ntohs(in->sin_port);
        snprintf(buf, len, "%s:%d", host, port);
    } else if (sa && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        port = ntohs(in6->sin6_port);
        snprintf(buf, len, "[%s]:%d", host, port);
    } else {
        snprintf(buf, len, "unknown");
    }
}

static void remember_pending(struct ingest *ing, SRTSOCKET ns, const char *peer,
                             const char *session, bool keyed)
{
    pthread_mutex_lock(&ing->lock);
    struct pending *p = &ing->pending[ing->pending_next++ % PENDING_MAX];
    p->sock = ns;
    p->keyed = keyed;
    snprintf(p->peer, sizeof(p->peer), "%s", peer);
    snprintf(p->session, sizeof(p->session), "%s", session);
    pthread_mutex_unlock(&ing->lock);
}

static int listen_cb(void *opaque, SRTSOCKET ns, int hsversion,
                     const struct sockaddr *peeraddr, const char *streamid)
{
    struct ingest *ing = opaque;
    char peer[64];
    struct streamid sid;
    const char *why = NULL;
    (void)hsversion;

    format_addr(peeraddr, peer, sizeof(peer));
    if (atomic_load(&ing->stopping)) {
        srt_setrejectreason(ns, SRT_REJX_OVERLOAD);
        return -1;
    }
    if (ingest_parse_streamid(streamid, &sid, &why) < 0) {
        char esc[4 * 80 + 4];
        log_msg(LV_WARN, NULL, "\"connection refused: %s\" peer=%s streamid=\"%s\"",
                why, peer, log_escape(esc, sizeof(esc), streamid ? streamid : "", 80));
        srt_setrejectreason(ns, SRT_REJX_BAD_REQUEST);
        return -1;
    }
    bool publish = sid.mode == INGEST_PUBLISH;
    struct session *s = registry_find(ing->reg, sid.session);
    if (!s && publish) {
        /* An ad-hoc session is made in accept_one, once libsrt has
         * accepted the handshake: one refused (a passphrase sent) leaves
         * nothing behind. It has no passphrase, window, publication or
         * hold yet, so none of the checks below applies. */
        int room = registry_adhoc_room(ing->reg, sid.session);
        if (room == 0) {
            remember_pending(ing, ns, peer, sid.session, false);
            log_msg(LV_DEBUG, sid.session, "\"handshake\" peer=%s socket=%d adhoc=1", peer, ns);
            return 0;
        }
        if (room == REGISTRY_FULL || room == REGISTRY_FULL_DELETED) {
            log_msg(LV_WARN, sid.session, "\"connection refused: no room for another session\" "
                    "peer=%s", peer);
            srt_setrejectreason(ns, SRT_REJX_OVERLOAD);
            return -1;
        }
        s = registry_find(ing->reg, sid.session);   /* made meanwhile by another publisher */
    }
    if (!s) {
        log_msg(LV_WARN, sid.session,
                "\"connection refused: unknown session\" peer=%s mode=%s", peer,
                publish ? "publish" : "request");
        srt_setrejectreason(ns, SRT_REJX_NOTFOUND);
        return -1;
    }
    struct session_info in;
    session_info(s, &in);
    if (publish && in.ingest_strict) {
        time_t now = time(NULL);
        time_t open_at = in.starts - SESSION_SLOT_MARGIN_S;
        time_t close_at = session_slot_close(&in);
        if (now < open_at || now > close_at) {
            char when[32];
            struct tm tm;
            gmtime_r(now < open_at ? &open_at : &close_at, &tm);
            strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
            log_msg(LV_WARN, s->id, "\"connection refused: outside the ingest window\" peer=%s %s=%s",
                    peer, now < open_at ? "opens" : "closed", when);
            srt_setrejectreason(ns, SRT_REJX_FORBIDDEN);
            return -1;
        }
    }
    /* Published, the recording is what attendees replay and caches keep:
     * a publisher would reopen it (EVENT again, more segments). */
    if (publish && atomic_load(&s->published)) {
        log_msg(LV_WARN, s->id, "\"connection refused: the recording is published, unpublish it to "
                "stream again\" peer=%s", peer);
        srt_setrejectreason(ns, SRT_REJX_FORBIDDEN);
        return -1;
    }
    if (publish && session_publisher_held(s, peer)) {
        log_msg(LV_WARN, s->id, "\"connection refused: the organizer ended the session; stop the "
                "encoder, or start it again %d s after its last try\" peer=%s", SESSION_END_HOLD_S, peer);
        srt_setrejectreason(ns, SRT_REJX_FORBIDDEN);
        return -1;
    }
    if (in.has_passphrase) {
        const char *pw = in.passphrase;
        if (srt_setsockflag(ns, SRTO_PASSPHRASE, pw, (int)strlen(pw)) == SRT_ERROR) {
            log_msg(LV_ERROR, s->id, "\"cannot set passphrase\" peer=%s err=\"%s\"",
                    peer, srt_getlasterror_str());
            srt_setrejectreason(ns, SRT_REJX_ISE);
            return -1;
        }
    }
    remember_pending(ing, ns, peer, s->id, in.has_passphrase);
    log_msg(LV_DEBUG, s->id, "\"handshake\" peer=%s socket=%d", peer, ns);
    return 0;
}

/* libsrt reports a failed handshake (wrong or missing passphrase) only in
 * its log, as "@<socket>:newConnection: connection rejected due to: ...".
 * The pending table maps that socket back to the peer address and session
 * seen by the listen callback. */
static void srt_log_cb(void *opaque, int level, const char *file, int line,
                       const char *area, const char *message)
{
    (void)opaque; (void)file; (void)line; (void)area;
    struct ingest *ing = log_owner;
    if (!ing || !message)
        return;
    const char *rej = strstr(message, "connection rejected due to: ");
    const char *at = strchr(message, '@');
    if (!rej || !at) {
        char esc[4 * 200 + 4];
        log_msg(LV_DEBUG, NULL, "\"libsrt\" srt_level=%d detail=\"%s\"", level,
                log_escape(esc, sizeof(esc), message, 200));
        return;
    }
    /* Rejections our listen callback made were logged there already. */
    if (strstr(rej, "PREDEFINED") || strstr(rej, "USER"))
        return;
    SRTSOCKET sock = (SRTSOCKET)strtol(at + 1, NULL, 10);
    char peer[64] = "unknown", session[CONFIG_ID_MAX] = "", reason[96];
    bool keyed = true;
    pthread_mutex_lock(&ing->lock);
    for (int i = 0; i < PENDING_MAX; i++) {
        struct pending *p = &ing->pending[i];
        if (p->sock == sock && sock) {
            snprintf(peer, sizeof(peer), "%s", p->peer);
            snprintf(session, sizeof(session), "%s", p->session);
            keyed = p->keyed;
            break;
        }
    }
    pthread_mutex_unlock(&ing->lock);
    log_escape(reason, sizeof(reason), rej + 28, strcspn(rej + 28, "\n"));
    /* UNSECURE: one side encrypts and the other does not */
    const char *what = strstr(reason, "BADSECRET") ? "wrong passphrase"
                       : !strstr(reason, "UNSECURE") ? "handshake rejected"
                       : keyed ? "missing passphrase"
                       : "the publisher sent a passphrase, but this ad-hoc session has none: "
                         "remove it from the URL";
    log_msg(LV_WARN, session[0] ? session : NULL,
            "\"connection refused: %s\" peer=%s reason=\"%s\"", what, peer, reason);
}

static struct ingest_conn *conn_new(struct ingest *ing, SRTSOCKET sock,
                                    struct session *s, const char *peer)
{
    struct ingest_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->ing = ing;
    c->sock = sock;
    c->session = s;
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    pthread_mutex_lock(&ing->lock);
    c->slot = -1;
    c->rcvtimeo = -1;
    c->msgno = SRT_MSGNO_NONE;
    for (int i = 0; i < INGEST_MAX_PUBLISHERS; i++) {
        if (!ing->conns[i]) {
            ing->conns[i] = c;
            c->slot = i;
            ing->n_conns++;
            break;
        }
    }
    pthread_mutex_unlock(&ing->lock);
    if (c->slot < 0) {
        free(c);
        return NULL;
    }
    return c;
}

/* Tells the connection on sock that a new publisher closes it: it reads
 * no last messages, and its disconnect line says so. */
static void mark_taken_over(struct ingest *ing, SRTSOCKET sock)
{
    pthread_mutex_lock(&ing->lock);
    for (int i = 0; i < INGEST_MAX_PUBLISHERS; i++)
        if (ing->conns[i] && ing->conns[i]->sock == sock)
            atomic_store(&ing->conns[i]->taken_over, true);
    pthread_mutex_unlock(&ing->lock);
}

static void accept_one(struct ingest *ing, SRTSOCKET sock, const char *peer)
{
    char sidbuf[512] = "";
    int len = sizeof(sidbuf);
    struct streamid sid;
    const char *why;

    /* The listen callback already validated this id; read it again rather
     * than carry state across libsrt's threads. */
    if (srt_getsockflag(sock, SRTO_STREAMID, sidbuf, &len) == SRT_ERROR
        || ingest_parse_streamid(sidbuf, &sid, &why) < 0) {
        srt_close(sock);
        return;
    }
    struct session *s = sid.mode == INGEST_PUBLISH ? registry_get_for_publish(ing->reg, sid.session)
                                                   : registry_find(ing->reg, sid.session);
    if (!s) {
        /* deleted since the handshake, or no ad-hoc session could be made (logged) */
        log_msg(LV_WARN, sid.session, "\"connection closed: the session is gone\" peer=%s", peer);
        srt_close(sock);
        return;
    }
    if (sid.mode == INGEST_REQUEST) {
        ing->on_subscriber(s, sock, peer, ing->opaque);
        return;
    }
    struct ingest_conn *c = conn_new(ing, sock, s, peer);
    if (!c) {
        log_msg(LV_WARN, s->id, "\"publisher refused: too many connections\" peer=%s", peer);
        srt_close(sock);
        return;
    }
    char old_peer[sizeof(c->peer)];
    int old = session_attach(s, sock, peer, &c->gen, old_peer, sizeof(old_peer));
    if (old != NO_PUBLISHER && srt_getsockstate(old) == SRTS_BROKEN) {
        /* Its speaker stopped and came back within the latency: the old
         * connection still reads its last messages (recv_msg), and closing
         * it would cut them from the recording. It ends on its own within
         * its latency: before the new stream's first message is due, when
         * the speaker asks for the same latency again. */
        log_msg(LV_INFO, s->id, "\"publisher reconnected: the previous connection's last "
                "messages are still read\" peer=%s new_peer=%s", old_peer, peer);
    } else if (old != NO_PUBLISHER) {
        log_msg(LV_INFO, s->id, "\"publisher takeover: closing previous connection\" peer=%s "
                "new_peer=%s", old_peer, peer);
        mark_taken_over(ing, old);
        srt_close(old);
    }
    int latency = 0, llen = sizeof(latency);
    srt_getsockflag(sock, SRTO_RCVLATENCY, &latency, &llen);
    log_msg(LV_INFO, s->id, "\"publisher connected\" peer=%s latency_ms=%d", peer, latency);
    double fits_mbps = latency > 0 ? SRT_RCV_BUFFER * SRT_PAYLOAD_TS * 8.0 / latency / 1000.0 : 0;
    if (latency > 0 && fits_mbps < 10)
        log_msg(LV_WARN, s->id, "\"SRT latency longer than the receive buffer holds at high "
                "bitrates: above max_mbps the publisher is held back and loses media\" "
                "latency_ms=%d max_mbps=%.1f", latency, fits_mbps);
    ing->on_publisher(c, ing->opaque);
}

static void *accept_thread(void *arg)
{
    struct ingest *ing = arg;
    while (!atomic_load(&ing->stopping)) {
        struct sockaddr_storage ss;
        int sslen = sizeof(ss);
        SRTSOCKET sock = srt_accept(ing->listener, (struct sockaddr *)&ss, &sslen);
        if (sock == SRT_INVALID_SOCK) {
            if (atomic_load(&ing->stopping))
                break;
            log_msg(LV_WARN, NULL, "\"srt accept failed\" err=\"%s\"", srt_getlasterror_str());
            struct timespec ts = { 0, 50 * 1000 * 1000 };
            nanosleep(&ts, NULL); /* avoid a hot loop on a persistent error */
            continue;
        }
        char peer[64];
        format_addr((struct sockaddr *)&ss, peer, sizeof(peer));
        accept_one(ing, sock, peer);
    }
    return NULL;
}

static int resolve(const struct listen_addr *a, struct sockaddr_storage *ss,
                   int *sslen)
{
    struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_PASSIVE };
    struct addrinfo *res = NULL;
    char port[16];
    snprintf(port, sizeof(port), "%d", a->port);
    if (getaddrinfo(a->host, port, &hints, &res) != 0 || !res)
        return -1;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sslen = (int)res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

struct ingest *ingest_start(const struct config *cfg, struct registry *reg,
                            ingest_publisher_fn on_publisher,
                            ingest_subscriber_fn on_subscriber, void *opaque)
{
    struct ingest *ing = calloc(1, sizeof(*ing));
    struct sockaddr_storage ss;
    int sslen = 0, yes = 1, no = 0;
    int latency = cfg->srt_latency_ms;
    int fc = SRT_FLOW_WINDOW, rcvbuf = SRT_RCV_BUFFER * SRT_UNIT_BYTES;

    if (!ing)
        return NULL;
    ing->cfg = cfg;
    ing->reg = reg;
    ing->on_publisher = on_publisher;
    ing->on_subscriber = on_subscriber;
    ing->opaque = opaque;
    pthread_mutex_init(&ing->lock, NULL);
    pthread_cond_init(&ing->released, NULL);

    srt_startup();
    log_owner = ing;
    srt_setloglevel(LOG_WARNING);
    srt_setloghandler(NULL, srt_log_cb);
    srt_setlogflags(SRT_LOGF_DISABLE_TIME | SRT_LOGF_DISABLE_THREADNAME
                    | SRT_LOGF_DISABLE_SEVERITY | SRT_LOGF_DISABLE_EOL);

    if (resolve(&cfg->srt_listen, &ss, &sslen) < 0) {
        log_msg(LV_ERROR, NULL, "\"cannot resolve srt_listen\" addr=%s:%d",
                cfg->srt_listen.host, cfg->srt_listen.port);
        goto out_fail;
    }
    ing->listener = srt_create_socket();
    if (ing->listener == SRT_INVALID_SOCK
        || srt_setsockflag(ing->listener, SRTO_RCVSYN, &yes, sizeof(yes)) == SRT_ERROR
        || srt_setsockflag(ing->listener, SRTO_LATENCY, &latency, sizeof(latency)) == SRT_ERROR
        || srt_setsockflag(ing->listener, SRTO_SENDER, &no, sizeof(no)) == SRT_ERROR
        || srt_setsockflag(ing->listener, SRTO_FC, &fc, sizeof(fc)) == SRT_ERROR
        || srt_setsockflag(ing->listener, SRTO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) == SRT_ERROR
        || srt_bind(ing->listener, (struct sockaddr *)&ss, sslen) == SRT_ERROR
        || srt_listen_callback(ing->listener, listen_cb, ing) == SRT_ERROR
        || srt_listen(ing->listener, 64) == SRT_ERROR) {
        log_msg(LV_ERROR, NULL, "\"cannot listen for SRT\" addr=%s:%d err=\"%s\"",
                cfg->srt_listen.host, cfg->srt_listen.port, srt_getlasterror_str());
        goto out_fail;
    }
    struct sockaddr_storage bound;
    int blen = sizeof(bound);
    char addr[64];
    srt_getsockname(ing->listener, (struct sockaddr *)&bound, &blen);
    format_addr((struct sockaddr *)&bound, addr, sizeof(addr));
    ing->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                  : ((struct sockaddr_in *)&bound)->sin_port);
    log_msg(LV_INFO, NULL, "\"listening\" proto=srt addr=%s latency_ms=%d", addr, latency);

    if (pthread_create(&ing->thread, NULL, accept_thread, ing) != 0) {
        log_msg(LV_ERROR, NULL, "\"cannot start the SRT accept thread\"");
        goto out_fail;
    }
    return ing;

out_fail:
    if (ing->listener != SRT_INVALID_SOCK && ing->listener)
        srt_close(ing->listener);
    log_owner = NULL;
    srt_cleanup();
    pthread_cond_destroy(&ing->released);
    pthread_mutex_destroy(&ing->lock);
    free(ing);
    return NULL;
}

int ingest_port(const struct ingest *ing)
{
    return ing->port;
}

void ingest_stop(struct ingest **ping, int timeout_ms)
{
    struct ingest *ing = *ping;
    if (!ing)
        return;
    atomic_store(&ing->stopping, true);
    srt_close(ing->listener);
    pthread_join(ing->thread, NULL);

    /* Close outside the lock: libsrt may call our log handler, which takes it. */
    SRTSOCKET *socks = calloc(INGEST_MAX_PUBLISHERS, sizeof(*socks));
    int n = 0;
    pthread_mutex_lock(&ing->lock);
    for (int i = 0; i < INGEST_MAX_PUBLISHERS; i++)
        if (ing->conns[i] && socks)
            socks[n++] = ing->conns[i]->sock;
    pthread_mutex_unlock(&ing->lock);
    for (int i = 0; i < n; i++)
        srt_close(socks[i]);
    free(socks);

    pthread_mutex_lock(&ing->lock);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    while (ing->n_conns > 0)
        if (pthread_cond_timedwait(&ing->released, &ing->lock, &deadline) == ETIMEDOUT)
            break;
    int left = ing->n_conns;
    pthread_mutex_unlock(&ing->lock);
    if (left > 0) {
        /* Threads still own their connections; leaking the ingest is safer
         * than freeing memory they use. The process is about to exit. */
        log_msg(LV_ERROR, NULL, "\"publishers did not stop in time\" left=%d", left);
        *ping = NULL;
        return;
    }
    log_owner = NULL;
    srt_setloghandler(NULL, NULL);
    srt_cleanup();
    pthread_cond_destroy(&ing->released);
    pthread_mutex_destroy(&ing->lock);
    free(ing);
    *ping = NULL;
}

/* How often a closed publisher's last messages are looked for: they come
 * due one by one over the latency, and this runs once per publisher. */
#define CLOSED_POLL_MS 10
#define TS_PACKET 188

/* One srt_recvmsg2. libsrt 1.5.1's call blocked when the publisher closes
 * copies the next message into buf, then fails with SRT_ECONNLOST and
 * drops that message, a hole in the talk's last second (seen with a peer
 * closing after its last message: the failed call's msgno was the next
 * one, buf held its bytes, and no later read returned it). The length is
 * lost with it; TS packets tell it: each sync byte position is cleared
 * before the call, and the message ends at the first one not rewritten.
 * A libsrt that does not do this leaves msgno unset and nothing is taken. */
static int recv_once(struct ingest_conn *c, char *buf, int len)
{
    int marks = (len < LIVE_PAYLOAD_MAX ? len : LIVE_PAYLOAD_MAX) / TS_PACKET;
    for (;;) {
        for (int i = 0; i < marks; i++)
            buf[i * TS_PACKET] = 0;
        SRT_MSGCTRL mc = srt_msgctrl_default;
        int n = srt_recvmsg2(c->sock, buf, len, &mc);
        if (n == SRT_ERROR && srt_getlasterror(NULL) == SRT_ECONNLOST
            && mc.msgno > SRT_MSGNO_CONTROL && mc.msgno != c->msgno) {
            int k = 0;
            while (k < marks && buf[k * TS_PACKET] == 0x47)
                k++;
            if (k > 0) {
                log_msg(LV_DEBUG, c->session->id, "\"message taken from a failed read\" "
                        "peer=%s msgno=%d bytes=%d", c->peer, mc.msgno, k * TS_PACKET);
                n = k * TS_PACKET;
                srt_clearlasterror();
            }
        }
        if (n <= 0 || mc.msgno <= SRT_MSGNO_CONTROL || mc.msgno != c->msgno) {
            if (n > 0)
                c->msgno = mc.msgno;
            return n;
        }
        /* had it already: a libsrt that both fails and keeps the message */
    }
}

/* srt_recvmsg, and after the publisher closed, its last messages too.
 * When an encoder stops (OBS: Stop Streaming), libsrt reports the
 * connection lost at once and hands over only messages whose play time
 * has come; the last latency's worth (120 ms by default, seconds for a
 * speaker far away) stays in its buffer and goes with the socket: the end
 * of every talk was cut from its recording. Those messages are read as
 * their time comes. A connection closed for a takeover reads nothing
 * more (taken_over: its socket may still answer for a moment); one closed
 * for an organizer's end or at shutdown stops where SRTO_RCVDATA fails,
 * or at the deadline. Returns what srt_recvmsg would. */
static int recv_msg(struct ingest_conn *c, char *buf, int len)
{
    int n = recv_once(c, buf, len);
    if (n != SRT_ERROR || srt_getlasterror(NULL) != SRT_ECONNLOST || atomic_load(&c->taken_over))
        return n;
    int latency = 0, optlen = sizeof(latency);
    if (srt_getsockflag(c->sock, SRTO_RCVLATENCY, &latency, &optlen) == SRT_ERROR)
        return SRT_ERROR;
    int64_t deadline = clock_mono_ms() + latency + 2 * CLOSED_POLL_MS;
    for (;;) {
        int pending = 0;
        optlen = sizeof(pending);
        if (srt_getsockflag(c->sock, SRTO_RCVDATA, &pending, &optlen) == SRT_ERROR
            || pending <= 0 || clock_mono_ms() >= deadline)
            return SRT_ERROR;
        struct timespec ts = { 0, CLOSED_POLL_MS * 1000000L };
        nanosleep(&ts, NULL);
        if ((n = recv_once(c, buf, len)) > 0)
            return n;
    }
}

int ingest_conn_read(struct ingest_conn *c, uint8_t *buf, size_t len, int timeout_ms)
{
    /* Only while a publisher is probed; then back to blocking for good,
     * which costs nothing per read. */
    if (timeout_ms != c->rcvtimeo
        && srt_setsockflag(c->sock, SRTO_RCVTIMEO, &timeout_ms, sizeof(timeout_ms)) != SRT_ERROR)
        c->rcvtimeo = timeout_ms;
    if (c->stash_len > c->stash_off) {
        size_t n = c->stash_len - c->stash_off;
        if (n > len)
            n = len;
        memcpy(buf, c->stash + c->stash_off, n);
        c->stash_off += n;
        return (int)n;
    }
    /* Rare: the demuxer's buffer has less room than one message. */
    bool stash = len < LIVE_PAYLOAD_MAX;
    int n = stash ? recv_msg(c, (char *)c->stash, sizeof(c->stash))
                  : recv_msg(c, (char *)buf, (int)(len > INT32_MAX ? INT32_MAX : len));
    if (n == SRT_ERROR && timeout_ms >= 0
        && (srt_getlasterror(NULL) == SRT_ETIMEOUT || srt_getlasterror(NULL) == SRT_EASYNCRCV))
        return INGEST_TIMEOUT;
    if (n <= 0)
        return INGEST_EOF;
    atomic_fetch_add_explicit(&c->session->bytes_in, (uint_fast64_t)n,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&c->session->packets_in, 1, memory_order_relaxed);
    if (!stash)
        return n;
    c->stash_len = (size_t)n;
    c->stash_off = 0;
    return ingest_conn_read(c, buf, len, timeout_ms);
}

struct session *ingest_conn_session(const struct ingest_conn *c)
{
    return c->session;
}

uint32_t ingest_conn_gen(const struct ingest_conn *c)
{
    return c->gen;
}

const char *ingest_conn_peer(const struct ingest_conn *c)
{
    return c->peer;
}

int ingest_sock_stats(int sock, struct ingest_link_stats *out)
{
    SRT_TRACEBSTATS st;
    if (sock == NO_PUBLISHER || srt_bstats(sock, &st, 0) == SRT_ERROR)
        return -1;
    out->rtt_ms = st.msRTT;
    out->mbps_recv = st.mbpsRecvRate;
    out->pkts_lost = st.pktRcvLossTotal;
    out->pkts_retrans = st.pktRcvRetrans;
    out->pkts_dropped = st.pktRcvDropTotal;
    out->rcvbuf_ms = st.msRcvBuf;
    return 0;
}

void ingest_kick(int sock)
{
    if (sock != NO_PUBLISHER)
        srt_close(sock);
}

void ingest_conn_close(struct ingest_conn **pc)
{
    struct ingest_conn *c = *pc;
    if (!c)
        return;
    struct ingest *ing = c->ing;
    bool current = session_detach(c->session, c->gen);
    /* Taken over while live, or replaced after its publisher left (a
     * speaker back while this one read its last messages). */
    const char *why = current ? ""
                      : atomic_load(&c->taken_over) ? " reason=\"taken over\"" : " reason=reconnected";
    log_msg(LV_INFO, c->session->id, "\"publisher disconnected\" peer=%s%s", c->peer, why);
    srt_close(c->sock);
    pthread_mutex_lock(&ing->lock);
    ing->conns[c->slot] = NULL;
    ing->n_conns--;
    pthread_cond_broadcast(&ing->released);
    pthread_mutex_unlock(&ing->lock);
    free(c);
    *pc = NULL;
}
