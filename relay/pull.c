/* SRT pull subscribers (see pull.h).
 *
 * The segmenter hands over its segment buffer in SRT-message slices, so
 * the only copy per subscriber is libsrt's own into its send buffer. A
 * subscriber joins at a segment start: that is where the segmenter puts
 * PAT/PMT and a keyframe. */
#include "podium/pull.h"

#include <pthread.h>
#include <srt/srt.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podium/log.h"

struct subscriber {
    SRTSOCKET sock;
    bool live;                      /* false: waiting for a segment start */
    char peer[64];
};

struct pull {
    char id[64];
    pthread_mutex_t lock;           /* subs, n */
    struct subscriber subs[PULL_MAX];
    int n;
    bool closed;                    /* shutting down: no new subscribers */
    atomic_int count;               /* n, read without the lock */
};

struct pull *pull_create(const char *id)
{
    struct pull *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    snprintf(p->id, sizeof(p->id), "%s", id);
    pthread_mutex_init(&p->lock, NULL);
    return p;
}

/* Caller holds p->lock. */
static void drop(struct pull *p, int i, const char *why)
{
    log_msg(LV_INFO, p->id, "\"subscriber dropped\" peer=%s reason=\"%s\"", p->subs[i].peer, why);
    srt_close(p->subs[i].sock);
    p->subs[i] = p->subs[--p->n];
    atomic_store(&p->count, p->n);
}

static void drop_all(struct pull *p, const char *why, bool close)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->closed = p->closed || close;
    while (p->n > 0)
        drop(p, p->n - 1, why);
    pthread_mutex_unlock(&p->lock);
}

void pull_drop_all(struct pull *p, const char *why)
{
    drop_all(p, why, false);
}

void pull_close_all(struct pull *p, const char *why)
{
    drop_all(p, why, true);
}

void pull_free(struct pull **pp)
{
    struct pull *p = *pp;
    if (!p)
        return;
    pull_close_all(p, "shutting down");
    pthread_mutex_destroy(&p->lock);
    free(p);
    *pp = NULL;
}

void pull_add(struct pull *p, int sock, const char *peer)
{
    bool no = false;
    /* sending must never block the publisher's thread */
    if (srt_setsockflag(sock, SRTO_SNDSYN, &no, sizeof(no)) == SRT_ERROR) {
        log_msg(LV_WARN, p->id, "\"subscriber refused: socket setup failed\" peer=%s err=\"%s\"",
                peer, srt_getlasterror_str());
        srt_close(sock);
        return;
    }
    pthread_mutex_lock(&p->lock);
    if (p->n == PULL_MAX || p->closed) {
        bool closed = p->closed;
        pthread_mutex_unlock(&p->lock);
        if (closed)
            log_msg(LV_INFO, p->id, "\"subscriber refused: shutting down\" peer=%s", peer);
        else
            log_msg(LV_WARN, p->id, "\"subscriber refused: too many subscribers\" peer=%s max=%d",
                    peer, PULL_MAX);
        srt_close(sock);
        return;
    }
    struct subscriber *s = &p->subs[p->n++];
    *s = (struct subscriber){ .sock = sock };
    snprintf(s->peer, sizeof(s->peer), "%s", peer);
    atomic_store(&p->count, p->n);
    pthread_mutex_unlock(&p->lock);
    log_msg(LV_INFO, p->id, "\"subscriber connected\" peer=%s", peer);
}

void pull_send(struct pull *p, const uint8_t *data, size_t len, bool segment_start)
{
    if (!p || atomic_load_explicit(&p->count, memory_order_relaxed) == 0)
        return;
    pthread_mutex_lock(&p->lock);
    /* downwards: drop() moves the last subscriber, already served, into i */
    for (int i = p->n; i-- > 0;) {
        if (segment_start)
            p->subs[i].live = true;
        if (!p->subs[i].live)
            continue;
        if (srt_sendmsg2(p->subs[i].sock, (const char *)data, (int)len, NULL) == SRT_ERROR)
            drop(p, i, srt_getlasterror(NULL) == SRT_EASYNCSND ? "too slow: send buffer full"
                                                               : srt_getlasterror_str());
    }
    pthread_mutex_unlock(&p->lock);
}

int pull_count(struct pull *p)
{
    return p ? atomic_load(&p->count) : 0;
}
