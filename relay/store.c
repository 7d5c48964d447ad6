#include "podium/store.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "podium/log.h"
#include "podium/playlist.h"

struct slot {
    struct playlist_entry e;
    AVBufferRef *data;
};

struct live_window {
    pthread_mutex_t lock;           /* everything below */
    char id[CONFIG_ID_MAX];
    int window;                     /* listed in the playlist */
    int cap;                        /* held: window + STORE_KEEP_EXTRA */
    struct slot *ring;
    int head, count;                /* oldest held at ring[head] */
    uint64_t disc_seq, disc_total, segments, held_bytes;
    int target;
    bool ended;
    AVBufferRef *playlist;
    /* Each player fetches every segment once: requests per segment period
     * estimate the audience without tracking anyone. */
    uint64_t requests, viewers;
};

struct live_window *store_window_create(const char *session_id, int window)
{
    struct live_window *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->window = window;
    w->cap = window + STORE_KEEP_EXTRA;
    w->ring = calloc((size_t)w->cap, sizeof(*w->ring));
    if (!w->ring) {
        free(w);
        return NULL;
    }
    snprintf(w->id, sizeof(w->id), "%s", session_id);
    pthread_mutex_init(&w->lock, NULL);
    return w;
}

void store_window_free(struct live_window **pw)
{
    struct live_window *w = *pw;
    if (!w)
        return;
    for (int i = 0; i < w->cap; i++)
        av_buffer_unref(&w->ring[i].data);
    av_buffer_unref(&w->playlist);
    pthread_mutex_destroy(&w->lock);
    free(w->ring);
    free(w);
    *pw = NULL;
}

static struct slot *slot_at(struct live_window *w, int i)
{
    return &w->ring[(w->head + i) % w->cap];
}

/* Caller holds w->lock. Renders once per change; requests share it. */
static void render(struct live_window *w)
{
    int listed = w->count < w->window ? w->count : w->window;
    int first = w->count - listed;
    struct playlist_entry entries[listed > 0 ? listed : 1];
    for (int i = 0; i < listed; i++)
        entries[i] = slot_at(w, first + i)->e;

    struct playlist_params p = { .target = w->target, .disc_seq = w->disc_seq,
                                 .ended = w->ended, .ext = "ts" };
    size_t cap = 512 + (size_t)listed * 160;
    AVBufferRef *buf = av_buffer_alloc(cap);
    if (!buf) {
        log_msg(LV_ERROR, w->id, "\"out of memory rendering the playlist\"");
        return;
    }
    int n = playlist_render((char *)buf->data, cap, &p, entries, (size_t)listed);
    if (n < 0) {
        log_msg(LV_ERROR, w->id, "\"playlist too long to render\"");
        av_buffer_unref(&buf);
        return;
    }
    buf->size = (size_t)n;          /* served length; allocation unchanged */
    av_buffer_unref(&w->playlist);
    w->playlist = buf;
}

void store_on_segment(void *opaque, const struct media_segment *seg)
{
    struct live_window *w = opaque;
    AVBufferRef *ref = av_buffer_ref(seg->data);
    if (!ref) {
        log_msg(LV_ERROR, w->id, "\"out of memory storing a segment\" seq=%llu",
                (unsigned long long)seg->seq);
        return;
    }
    pthread_mutex_lock(&w->lock);
    if (w->count == w->cap) {
        struct slot *old = slot_at(w, 0);
        w->held_bytes -= old->data ? old->data->size : 0;
        av_buffer_unref(&old->data);
        w->head = (w->head + 1) % w->cap;
        w->count--;
    }
    /* The segment about to leave the playlist takes its tag with it. */
    if (w->count >= w->window && slot_at(w, w->count - w->window)->e.discontinuity)
        w->disc_seq++;
    struct slot *s = slot_at(w, w->count);
    s->e = (struct playlist_entry){ .seq = seg->seq, .duration = seg->duration,
                                    .pdt_ms = seg->pdt_ms,
                                    .discontinuity = seg->discontinuity,
                                    .independent = seg->independent };
    s->data = ref;
    w->count++;
    w->segments++;
    w->held_bytes += ref->size;
    w->target = seg->target_duration;
    if (seg->discontinuity)
        w->disc_total++;
    w->ended = false;
    w->viewers = w->requests;
    w->requests = 0;
    render(w);
    pthread_mutex_unlock(&w->lock);
}

void store_set_ended(struct live_window *w, bool ended)
{
    pthread_mutex_lock(&w->lock);
    if (w->ended != ended) {
        w->ended = ended;
        if (w->count)
            render(w);
    }
    pthread_mutex_unlock(&w->lock);
}

AVBufferRef *store_playlist(struct live_window *w)
{
    pthread_mutex_lock(&w->lock);
    AVBufferRef *r = w->playlist ? av_buffer_ref(w->playlist) : NULL;
    pthread_mutex_unlock(&w->lock);
    return r;
}

AVBufferRef *store_segment(struct live_window *w, uint64_t seq)
{
    AVBufferRef *r = NULL;
    pthread_mutex_lock(&w->lock);
    if (w->count > 0) {
        uint64_t first = slot_at(w, 0)->e.seq;
        if (seq >= first && seq - first < (uint64_t)w->count)
            r = av_buffer_ref(slot_at(w, (int)(seq - first))->data);
        if (r)
            w->requests++;
    }
    pthread_mutex_unlock(&w->lock);
    return r;
}

void store_get_stats(struct live_window *w, struct store_stats *out)
{
    pthread_mutex_lock(&w->lock);
    int listed = w->count < w->window ? w->count : w->window;
    out->segments = w->segments;
    out->media_sequence = w->count ? slot_at(w, w->count - listed)->e.seq : 0;
    out->discontinuities = w->disc_total;
    out->held_bytes = w->held_bytes;
    out->target = w->target;
    out->ended = w->ended;
    out->viewers = w->viewers;
    pthread_mutex_unlock(&w->lock);
}
