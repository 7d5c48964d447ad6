#include "podium/store.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "podium/log.h"
#include "podium/playlist.h"

struct slot {
    struct playlist_entry e;
    AVBufferRef *data;
    uint64_t requests;              /* GETs of it so far */
};

#define PART_CAP 256                /* parts held (recent segments + pending) */
#define INIT_CAP 8                  /* init sections held */
#define WAITERS_INITIAL 64

struct part_slot {
    uint64_t seq;
    struct playlist_part p;
    AVBufferRef *data;
    uint64_t requests;              /* GETs of it so far */
};

struct init_slot {
    uint64_t id;
    AVBufferRef *data;
};

struct waiter {
    uint64_t msn;
    int part;
    int64_t deadline_ms;
    void (*wake)(void *arg);
    void *arg;
};

struct live_window {
    pthread_mutex_t lock;           /* everything below */
    char id[CONFIG_ID_MAX];
    int window;                     /* listed in the playlist */
    int cap;                        /* ring slots: window + STORE_KEEP_EXTRA */
    bool (*recorded)(void *opaque, uint64_t seq);   /* NULL: no recording */
    void *rec_opaque;
    struct slot *ring;
    int head, count;                /* oldest held at ring[head] */
    uint64_t disc_seq, disc_total, segments, held_bytes;
    int target;
    bool ended;
    AVBufferRef *playlist, *playlist_skip;
    bool fmp4;
    double part_target;             /* 0: no parts */
    uint64_t next_seq;              /* the segment being built */
    struct part_slot parts[PART_CAP];
    int part_head, part_count;
    struct init_slot inits[INIT_CAP];
    int init_next;
    uint64_t latest_init;
    bool have_init;
    struct waiter *waiters;
    size_t n_waiters, cap_waiters;
    /* Each player fetches every segment once: the requests of the segments
     * held estimate the audience without tracking anyone. */
    uint64_t viewers, viewers_peak;
    bool retired;                   /* its session is deleted: keeps nothing */
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

static void drop_media(struct live_window *w)
{
    for (int i = 0; i < w->cap; i++)
        av_buffer_unref(&w->ring[i].data);
    for (int i = 0; i < PART_CAP; i++)
        av_buffer_unref(&w->parts[i].data);
    for (int i = 0; i < INIT_CAP; i++)
        av_buffer_unref(&w->inits[i].data);
    av_buffer_unref(&w->playlist);
    av_buffer_unref(&w->playlist_skip);
}

void store_window_free(struct live_window **pw)
{
    struct live_window *w = *pw;
    if (!w)
        return;
    drop_media(w);
    free(w->waiters);
    pthread_mutex_destroy(&w->lock);
    free(w->ring);
    free(w);
    *pw = NULL;
}

static struct slot *slot_at(struct live_window *w, int i)
{
    return &w->ring[(w->head + i) % w->cap];
}

static struct part_slot *part_at(struct live_window *w, int i)
{
    return &w->parts[(w->part_head + i) % PART_CAP];
}

/* Parts of segment seq held in the ring (contiguous, in order). */
static int parts_of(struct live_window *w, uint64_t seq, struct playlist_part *out, int cap)
{
    int n = 0;
    for (int i = 0; i < w->part_count && n < cap; i++)
        if (part_at(w, i)->seq == seq)
            out[n++] = part_at(w, i)->p;
    return n;
}

static AVBufferRef *render_one(struct live_window *w, int listed, size_t skip)
{
    int first = w->count - listed;
    struct playlist_entry entries[listed > 0 ? listed : 1];
    /* parts listed: segments ending within three target durations of the
     * live edge, and the segment being built */
    int max_parts = PART_CAP;
    struct playlist_part *pbuf = w->part_target > 0 ? calloc(PART_CAP, sizeof(*pbuf)) : NULL;
    int used = 0;
    double edge = 0;
    for (int i = listed - 1; i >= 0; i--) {
        entries[i] = slot_at(w, first + i)->e;
        entries[i].parts = NULL;
        entries[i].n_parts = 0;
        if (pbuf && edge < 3.0 * w->target) {
            int n = parts_of(w, entries[i].seq, pbuf + used, max_parts - used);
            entries[i].parts = pbuf + used;
            entries[i].n_parts = n;
            used += n;
        }
        edge += entries[i].duration;
    }
    struct playlist_params p = { .target = w->target, .disc_seq = w->disc_seq,
                                 .ended = w->ended, .ext = w->fmp4 ? "m4s" : "ts",
                                 .version = w->fmp4 ? 7 : 3 };
    if (pbuf) {
        p.version = 9;
        p.part_target = w->part_target;
        p.skip_until = 6.0 * w->target;
        p.skip = skip;
        p.pending_seq = w->next_seq;
        p.pending = pbuf + used;
        p.n_pending = parts_of(w, w->next_seq, pbuf + used, max_parts - used);
        p.pending_has_map = w->have_init;
        p.pending_map_id = w->latest_init;
        p.preload_hint = true;
    }
    size_t cap = 1024 + (size_t)listed * 200 + (size_t)PART_CAP * 96;
    AVBufferRef *buf = av_buffer_alloc(cap);
    if (!buf) {
        free(pbuf);
        log_msg(LV_ERROR, w->id, "\"out of memory rendering the playlist\"");
        return NULL;
    }
    int n = playlist_render((char *)buf->data, cap, &p, entries, (size_t)listed);
    free(pbuf);
    if (n < 0) {
        log_msg(LV_ERROR, w->id, "\"playlist too long to render\"");
        av_buffer_unref(&buf);
        return NULL;
    }
    buf->size = (size_t)n;          /* served length; allocation unchanged */
    return buf;
}

/* Caller holds w->lock. Renders once per change; requests share it. */
static void render(struct live_window *w)
{
    int listed = w->count < w->window ? w->count : w->window;
    AVBufferRef *full = render_one(w, listed, 0);
    if (!full)
        return;
    av_buffer_unref(&w->playlist);
    w->playlist = full;
    av_buffer_unref(&w->playlist_skip);
    if (w->part_target > 0) {
        /* Delta update: skip segments older than CAN-SKIP-UNTIL. */
        double total = 0, until = 6.0 * w->target;
        size_t skip = 0;
        int first = w->count - listed;
        for (int i = listed - 1; i >= 0; i--) {
            total += slot_at(w, first + i)->e.duration;
            if (total > until) {
                skip = (size_t)i + 1;
                break;
            }
        }
        if (skip > 0)
            w->playlist_skip = render_one(w, listed, skip);
    }
}

static bool ready_locked(struct live_window *w, uint64_t msn, int part)
{
    if (w->segments > 0 && msn < w->next_seq)
        return true;                /* that segment is complete */
    if (part < 0 || msn != w->next_seq)
        return false;
    for (int i = 0; i < w->part_count; i++)
        if (part_at(w, i)->seq == msn && part_at(w, i)->p.index == part)
            return true;
    return false;
}

/* Caller holds w->lock: wakes the waiters that are ready (or expired). */
static void wake_ready(struct live_window *w, int64_t now_ms, bool all)
{
    size_t k = 0;
    for (size_t i = 0; i < w->n_waiters; i++) {
        struct waiter *x = &w->waiters[i];
        if (all || ready_locked(w, x->msn, x->part) || (now_ms >= 0 && now_ms >= x->deadline_ms))
            x->wake(x->arg);
        else
            w->waiters[k++] = *x;
    }
    w->n_waiters = k;
}

void store_window_set_format(struct live_window *w, bool fmp4, double part_duration)
{
    pthread_mutex_lock(&w->lock);
    w->fmp4 = fmp4;
    w->part_target = fmp4 && part_duration > 0 ? part_duration : 0;
    pthread_mutex_unlock(&w->lock);
}

static void keep_init(struct live_window *w, AVBufferRef *init, uint64_t id)
{
    if (!init || (w->have_init && w->latest_init == id))
        return;
    AVBufferRef *ref = av_buffer_ref(init);
    if (!ref)
        return;
    struct init_slot *slot = &w->inits[w->init_next++ % INIT_CAP];
    av_buffer_unref(&slot->data);
    slot->data = ref;
    slot->id = id;
    w->latest_init = id;
    w->have_init = true;
}

void store_window_retire(struct live_window *w)
{
    pthread_mutex_lock(&w->lock);
    w->retired = true;
    drop_media(w);
    w->head = w->count = 0;
    w->part_head = w->part_count = 0;
    w->have_init = false;
    w->held_bytes = 0;
    wake_ready(w, -1, true);
    pthread_mutex_unlock(&w->lock);
}

void store_on_part(void *opaque, const struct media_part *part)
{
    struct live_window *w = opaque;
    AVBufferRef *ref = av_buffer_ref(part->data);
    if (!ref)
        return;
    pthread_mutex_lock(&w->lock);
    if (w->retired) {
        pthread_mutex_unlock(&w->lock);
        av_buffer_unref(&ref);
        return;
    }
    keep_init(w, part->init, part->init_id);
    if (w->part_count == PART_CAP) {
        av_buffer_unref(&part_at(w, 0)->data);
        w->part_head = (w->part_head + 1) % PART_CAP;
        w->part_count--;
    }
    struct part_slot *ps = part_at(w, w->part_count++);
    ps->seq = part->seq;
    ps->p = (struct playlist_part){ .index = part->index, .duration = part->duration,
                                    .independent = part->independent };
    ps->data = ref;
    ps->requests = 0;
    w->next_seq = part->seq;
    w->ended = false;
    render(w);
    wake_ready(w, -1, false);
    pthread_mutex_unlock(&w->lock);
}

static void evict_oldest(struct live_window *w)
{
    struct slot *old = slot_at(w, 0);
    w->held_bytes -= old->data ? old->data->size : 0;
    av_buffer_unref(&old->data);
    w->head = (w->head + 1) % w->cap;
    w->count--;
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
    if (w->retired) {
        pthread_mutex_unlock(&w->lock);
        av_buffer_unref(&ref);
        return;
    }
    /* The segment about to leave the playlist takes its tag with it (it may
     * also be let go below, so count it first). */
    if (w->count >= w->window && slot_at(w, w->count - w->window)->e.discontinuity)
        w->disc_seq++;
    if (w->count == w->cap)
        evict_oldest(w);
    struct slot *s = slot_at(w, w->count);
    s->e = (struct playlist_entry){ .seq = seg->seq, .duration = seg->duration,
                                    .pdt_ms = seg->pdt_ms,
                                    .discontinuity = seg->discontinuity,
                                    .independent = seg->independent };
    s->data = ref;
    s->requests = 0;
    w->count++;
    w->segments++;
    w->held_bytes += ref->size;
    w->target = seg->target_duration;
    if (seg->discontinuity)
        w->disc_total++;
    w->ended = false;
    /* The most requests of one segment held, but the one just added: a
     * player that joins fetches the last few at once, one request each,
     * and counts once; one behind the live edge fetches each segment
     * later, but still once. One that leaves drops out as its segments
     * leave the window. */
    w->viewers = 0;
    for (int i = 0; i + 1 < w->count; i++)
        if (slot_at(w, i)->requests > w->viewers)
            w->viewers = slot_at(w, i)->requests;
    /* a Low-Latency player fetches parts, each once, and no segment */
    for (int i = 0; i < w->part_count; i++)
        if (part_at(w, i)->seq < seg->seq && part_at(w, i)->requests > w->viewers)
            w->viewers = part_at(w, i)->requests;
    if (w->viewers > w->viewers_peak)
        w->viewers_peak = w->viewers;
    keep_init(w, seg->init, seg->init_id);
    s->e.has_map = seg->init != NULL;
    s->e.map_id = seg->init_id;
    w->next_seq = seg->seq + 1;
    /* those that left the playlist and are on disk now come from there */
    while (w->count > w->window && w->recorded && w->recorded(w->rec_opaque, slot_at(w, 0)->e.seq))
        evict_oldest(w);
    /* parts of segments that left the playlist are not needed any more */
    uint64_t oldest = slot_at(w, w->count > w->window ? w->count - w->window : 0)->e.seq;
    while (w->part_count > 0 && part_at(w, 0)->seq < oldest) {
        av_buffer_unref(&part_at(w, 0)->data);
        w->part_head = (w->part_head + 1) % PART_CAP;
        w->part_count--;
    }
    render(w);
    wake_ready(w, -1, false);
    pthread_mutex_unlock(&w->lock);
}

void store_window_set_recorded(struct live_window *w,
                               bool (*recorded)(void *opaque, uint64_t seq), void *opaque)
{
    pthread_mutex_lock(&w->lock);
    w->recorded = recorded;
    w->rec_opaque = opaque;
    pthread_mutex_unlock(&w->lock);
}

bool store_recently_removed(struct live_window *w, uint64_t seq)
{
    pthread_mutex_lock(&w->lock);
    int listed = w->count < w->window ? w->count : w->window;
    uint64_t first = w->count ? slot_at(w, w->count - listed)->e.seq : 0;
    bool r = w->count > 0 && seq < first && first - seq <= (uint64_t)w->window + 2;
    pthread_mutex_unlock(&w->lock);
    return r;
}

void store_set_ended(struct live_window *w, bool ended)
{
    pthread_mutex_lock(&w->lock);
    if (w->ended != ended) {
        w->ended = ended;
        if (w->count)
            render(w);
        if (ended)
            wake_ready(w, -1, true);    /* nothing more is coming */
    }
    pthread_mutex_unlock(&w->lock);
}

AVBufferRef *store_playlist_skip(struct live_window *w)
{
    pthread_mutex_lock(&w->lock);
    AVBufferRef *src = w->playlist_skip ? w->playlist_skip : w->playlist;
    AVBufferRef *r = src ? av_buffer_ref(src) : NULL;
    pthread_mutex_unlock(&w->lock);
    return r;
}

AVBufferRef *store_part(struct live_window *w, uint64_t seq, int index, bool count)
{
    AVBufferRef *r = NULL;
    pthread_mutex_lock(&w->lock);
    for (int i = 0; i < w->part_count && !r; i++)
        if (part_at(w, i)->seq == seq && part_at(w, i)->p.index == index) {
            r = av_buffer_ref(part_at(w, i)->data);
            part_at(w, i)->requests += r && count;
        }
    pthread_mutex_unlock(&w->lock);
    return r;
}

AVBufferRef *store_init(struct live_window *w, uint64_t id, bool latest)
{
    AVBufferRef *r = NULL;
    pthread_mutex_lock(&w->lock);
    if (latest)
        id = w->latest_init;
    for (int i = 0; i < INIT_CAP && !r && (w->have_init); i++)
        if (w->inits[i].data && w->inits[i].id == id)
            r = av_buffer_ref(w->inits[i].data);
    pthread_mutex_unlock(&w->lock);
    return r;
}

enum store_wait store_wait(struct live_window *w, uint64_t msn, int part, int64_t deadline_ms,
                           void (*wake)(void *arg), void *arg)
{
    enum store_wait r;
    pthread_mutex_lock(&w->lock);
    if (ready_locked(w, msn, part) || w->ended || w->retired) {
        r = STORE_READY;
    } else if (msn > w->next_seq + 1) {
        r = STORE_TOO_FAR;          /* more than two segments ahead */
    } else {
        r = STORE_WAITING;
        if (w->n_waiters == w->cap_waiters) {
            size_t cap = w->cap_waiters ? w->cap_waiters * 2 : WAITERS_INITIAL;
            struct waiter *nw = realloc(w->waiters, cap * sizeof(*nw));
            if (!nw) {
                pthread_mutex_unlock(&w->lock);
                return STORE_READY;  /* answer now rather than fail */
            }
            w->waiters = nw;
            w->cap_waiters = cap;
        }
        w->waiters[w->n_waiters++] = (struct waiter){ msn, part, deadline_ms, wake, arg };
    }
    pthread_mutex_unlock(&w->lock);
    return r;
}

void store_cancel_wait(struct live_window *w, void *arg)
{
    pthread_mutex_lock(&w->lock);
    for (size_t i = 0; i < w->n_waiters; i++) {
        if (w->waiters[i].arg == arg) {
            w->waiters[i] = w->waiters[--w->n_waiters];
            break;
        }
    }
    pthread_mutex_unlock(&w->lock);
}

void store_tick(struct live_window *w, int64_t now_ms)
{
    pthread_mutex_lock(&w->lock);
    if (w->n_waiters)
        wake_ready(w, now_ms < 0 ? 0 : now_ms, now_ms < 0);
    pthread_mutex_unlock(&w->lock);
}

int store_hold_limit_ms(struct live_window *w)
{
    pthread_mutex_lock(&w->lock);
    int t = w->target > 0 ? w->target : 2;
    pthread_mutex_unlock(&w->lock);
    return 3 * t * 1000;
}

AVBufferRef *store_playlist(struct live_window *w)
{
    pthread_mutex_lock(&w->lock);
    AVBufferRef *r = w->playlist ? av_buffer_ref(w->playlist) : NULL;
    pthread_mutex_unlock(&w->lock);
    return r;
}

AVBufferRef *store_segment(struct live_window *w, uint64_t seq, bool count)
{
    AVBufferRef *r = NULL;
    pthread_mutex_lock(&w->lock);
    if (w->count > 0) {
        uint64_t first = slot_at(w, 0)->e.seq;
        if (seq >= first && seq - first < (uint64_t)w->count)
            r = av_buffer_ref(slot_at(w, (int)(seq - first))->data);
        if (r)
            slot_at(w, (int)(seq - first))->requests += count;
    }
    pthread_mutex_unlock(&w->lock);
    return r;
}

void store_set_peak(struct live_window *w, uint64_t peak)
{
    pthread_mutex_lock(&w->lock);
    w->viewers_peak = peak;
    pthread_mutex_unlock(&w->lock);
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
    out->viewers_peak = w->viewers_peak;
    pthread_mutex_unlock(&w->lock);
}
