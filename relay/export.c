/* MP4 export.
 *
 * Reads the recorded segments in order with libavformat and stream-copies
 * them into one MP4 (movflags +faststart, so moov precedes mdat). Recording
 * time T runs from 0 at the first segment; it is re-anchored at the first
 * segment read and at every discontinuity, from the segment durations in
 * the playlist. While T is before the trim start, packets are held from the
 * latest video keyframe on, so the file starts on the keyframe at or before
 * start. */
#include "podium/export.h"

#include <fcntl.h>
#include <libavformat/avformat.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "podium/log.h"

#define MAX_HELD 4096                 /* packets held before the trim start */
#define CLK 90000

struct exporter {
    struct recorder *rec;
    char id[CONFIG_ID_MAX];
    export_done_fn done;
    void *opaque;

    pthread_mutex_t lock;             /* status fields and thread state */
    pthread_t thread;
    bool joinable;
    atomic_bool cancel;
    enum export_state state;
    atomic_int percent;
    double start, end, duration;
    char error[128];
};

struct run {
    struct exporter *e;
    AVFormatContext *oc;
    int out_video, out_audio;         /* output stream index or -1 */
    int64_t last_dts[2];
    int64_t base;                     /* T of the first packet written */
    bool based;
    int64_t max_t;
    AVPacket *held[MAX_HELD];
    int n_held;
    int64_t held_kf_t;
};

const char *export_state_name(enum export_state s)
{
    static const char *const names[] = { "idle", "running", "done", "failed" };
    return names[s];
}

static void drop_held(struct run *r)
{
    for (int i = 0; i < r->n_held; i++)
        av_packet_free(&r->held[i]);
    r->n_held = 0;
}

/* pkt has pts/dts in T (90 kHz) and stream_index = output index. */
static int write_out(struct run *r, AVPacket *pkt)
{
    if (!r->based) {
        r->base = pkt->dts;
        r->based = true;
    }
    int o = pkt->stream_index;
    int slot = o == r->out_video ? 0 : 1;
    pkt->dts -= r->base;
    pkt->pts -= r->base;
    if (pkt->pts < pkt->dts)
        pkt->pts = pkt->dts;
    if (pkt->dts <= r->last_dts[slot]) {
        av_packet_unref(pkt);
        return 0;                      /* overlap at a segment seam */
    }
    r->last_dts[slot] = pkt->dts;
    int64_t end = pkt->dts + (pkt->duration > 0 ? pkt->duration : 0);
    if (end > r->max_t)
        r->max_t = end;
    av_packet_rescale_ts(pkt, (AVRational){ 1, CLK }, r->oc->streams[o]->time_base);
    return av_interleaved_write_frame(r->oc, pkt);
}

static int add_streams(struct run *r, AVFormatContext *ic)
{
    r->out_video = r->out_audio = -1;
    for (unsigned i = 0; i < ic->nb_streams; i++) {
        AVCodecParameters *par = ic->streams[i]->codecpar;
        bool v = par->codec_type == AVMEDIA_TYPE_VIDEO && r->out_video < 0;
        bool a = par->codec_type == AVMEDIA_TYPE_AUDIO && r->out_audio < 0;
        if (!v && !a)
            continue;
        AVStream *st = avformat_new_stream(r->oc, NULL);
        if (!st || avcodec_parameters_copy(st->codecpar, par) < 0)
            return AVERROR(ENOMEM);
        /* hvc1, not the muxer's hev1: QuickTime and Safari play only that */
        st->codecpar->codec_tag = par->codec_id == AV_CODEC_ID_HEVC ? MKTAG('h', 'v', 'c', '1') : 0;
        st->time_base = (AVRational){ 1, CLK };
        if (v)
            r->out_video = st->index;
        else
            r->out_audio = st->index;
    }
    return r->out_video >= 0 || r->out_audio >= 0 ? 0 : AVERROR_INVALIDDATA;
}

static int export_run(struct exporter *e, const char *tmp_path, double *duration)
{
    uint64_t *seqs = NULL;
    double *durs = NULL;
    bool *discs = NULL;
    int64_t *maps = NULL;
    size_t n = rec_snapshot(e->rec, &seqs, &durs, &discs, &maps);
    struct run r = { .e = e, .last_dts = { INT64_MIN, INT64_MIN } };
    AVPacket *pkt = av_packet_alloc();
    AVFormatContext *ic = NULL;
    int ret = 0;
    bool header = false, done = false;
    int64_t start_t = (int64_t)(e->start * CLK);
    int64_t end_t = e->end > 0 ? (int64_t)(e->end * CLK) : INT64_MAX;

    if (!pkt || n == 0) {
        ret = n == 0 ? AVERROR_INVALIDDATA : AVERROR(ENOMEM);
        goto out;
    }
    /* First segment: the last one starting at or before the trim start. */
    size_t k0 = 0, k_end = n;
    double cum = 0, *starts = malloc(n * sizeof(*starts));
    if (!starts) {
        ret = AVERROR(ENOMEM);
        goto out;
    }
    for (size_t k = 0; k < n; k++) {
        starts[k] = cum;
        if (cum * CLK <= (double)start_t)
            k0 = k;
        if (cum * CLK > (double)end_t && k_end == n)
            k_end = k;
        cum += durs[k];
    }

    ret = avformat_alloc_output_context2(&r.oc, NULL, "mp4", tmp_path);
    if (ret < 0)
        goto out_starts;
    int64_t offset = 0;
    for (size_t k = k0; k < k_end && !done; k++) {
        if (atomic_load(&e->cancel)) {
            ret = AVERROR_EXIT;
            break;
        }
        char path[2 * PATH_MAX + 16], init[PATH_MAX], frag[PATH_MAX];
        const AVInputFormat *fmt = av_find_input_format("mpegts");
        if (maps[k] >= 0) {
            /* fMP4: the init section, then the fragment, read as one file */
            rec_path(e->rec, init, sizeof(init), "init-%lld.mp4", (long long)maps[k]);
            rec_path(e->rec, frag, sizeof(frag), "%llu.m4s", (unsigned long long)seqs[k]);
            snprintf(path, sizeof(path), "concat:%s|%s", init, frag);
            fmt = av_find_input_format("mov");
        } else {
            rec_path(e->rec, path, sizeof(path), "%llu.ts", (unsigned long long)seqs[k]);
        }
        /* Every segment probed, not only the first: without it a TS audio
         * PES of several AAC frames gives one timestamp and frames without
         * any, which were dropped (3 of every 4 in the MP4). */
        ret = avformat_open_input(&ic, path, fmt, NULL);
        if (ret >= 0 && (ret = avformat_find_stream_info(ic, NULL)) < 0)
            avformat_close_input(&ic);
        if (ret < 0) {
            log_msg(LV_WARN, e->id, "\"export: segment unreadable, skipped\" file=%s", path);
            ret = 0;
            continue;
        }
        if (!header) {
            if ((ret = add_streams(&r, ic)) < 0
                || (ret = avio_open(&r.oc->pb, tmp_path, AVIO_FLAG_WRITE)) < 0)
                goto out_close;
            AVDictionary *opts = NULL;
            av_dict_set(&opts, "movflags", "+faststart", 0);
            ret = avformat_write_header(r.oc, &opts);
            av_dict_free(&opts);
            if (ret < 0)
                goto out_close;
            header = true;
        }
        bool anchor = k == k0 || discs[k];
        while ((ret = av_read_frame(ic, pkt)) >= 0) {
            AVStream *ist = ic->streams[pkt->stream_index];
            int o = ist->codecpar->codec_type == AVMEDIA_TYPE_VIDEO ? r.out_video
                    : ist->codecpar->codec_type == AVMEDIA_TYPE_AUDIO ? r.out_audio : -1;
            if (o < 0 || pkt->dts == AV_NOPTS_VALUE) {
                av_packet_unref(pkt);
                continue;
            }
            av_packet_rescale_ts(pkt, ist->time_base, (AVRational){ 1, CLK });
            if (anchor) {
                offset = (int64_t)(starts[k] * CLK) - pkt->dts;
                anchor = false;
            }
            pkt->dts += offset;
            pkt->pts = pkt->pts == AV_NOPTS_VALUE ? pkt->dts : pkt->pts + offset;
            pkt->stream_index = o;
            pkt->pos = -1;
            int64_t t = pkt->dts;
            if (t > end_t) {
                av_packet_unref(pkt);
                if (o == r.out_video || r.out_video < 0) {
                    done = true;
                    break;
                }
                continue;
            }
            bool key = (pkt->flags & AV_PKT_FLAG_KEY) && o == r.out_video;
            if (t < start_t && r.out_video >= 0) {
                /* Before the start: keep only the latest GOP. */
                if (key) {
                    drop_held(&r);
                    r.held_kf_t = t;
                } else if (r.n_held == 0 || t < r.held_kf_t || r.n_held == MAX_HELD) {
                    av_packet_unref(pkt);
                    continue;
                }
                r.held[r.n_held] = av_packet_clone(pkt);
                if (r.held[r.n_held])
                    r.n_held++;
                av_packet_unref(pkt);
                continue;
            }
            if (t < start_t) {               /* audio-only: cut at start */
                av_packet_unref(pkt);
                continue;
            }
            for (int i = 0; i < r.n_held && ret >= 0; i++)
                ret = write_out(&r, r.held[i]);
            drop_held(&r);
            if (!r.based && r.out_video >= 0 && o == r.out_video && !key) {
                av_packet_unref(pkt);        /* never start on a non-keyframe */
                continue;
            }
            if (!r.based && r.out_video >= 0 && o != r.out_video) {
                av_packet_unref(pkt);        /* audio before the first keyframe */
                continue;
            }
            ret = write_out(&r, pkt);
            av_packet_unref(pkt);
            if (ret < 0)
                goto out_close;
        }
        if (ret == AVERROR_EOF)
            ret = 0;
        avformat_close_input(&ic);
        atomic_store(&e->percent, (int)((k - k0 + 1) * 100 / (k_end - k0)));
        if (ret < 0)
            break;
    }
    if (ret >= 0 && header && r.based) {
        ret = av_write_trailer(r.oc);
        *duration = (double)r.max_t / CLK;
    } else if (ret >= 0) {
        ret = AVERROR_INVALIDDATA;           /* nothing in the range */
    }

out_close:
    avformat_close_input(&ic);
    if (r.oc && r.oc->pb)
        avio_closep(&r.oc->pb);
out_starts:
    free(starts);
out:
    drop_held(&r);
    avformat_free_context(r.oc);
    av_packet_free(&pkt);
    free(seqs);
    free(durs);
    free(discs);
    free(maps);
    return ret;
}

static void *export_thread(void *arg)
{
    struct exporter *e = arg;
    char tmp[PATH_MAX], final[PATH_MAX], err[AV_ERROR_MAX_STRING_SIZE];
    double duration = 0;

    rec_path(e->rec, tmp, sizeof(tmp), "%s.mp4.tmp", e->id);
    rec_path(e->rec, final, sizeof(final), "%s.mp4", e->id);
    log_msg(LV_INFO, e->id, "\"export started\" start=%.3f end=%.3f", e->start, e->end);
    int ret = export_run(e, tmp, &duration);
    if (ret >= 0) {
        int fd = open(tmp, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) < 0 || rename(tmp, final) < 0)
            ret = AVERROR(errno);
        if (fd >= 0)
            close(fd);
    }
    if (ret < 0)
        unlink(tmp);

    pthread_mutex_lock(&e->lock);
    if (ret >= 0) {
        e->state = EXPORT_DONE;
        e->duration = duration;
        atomic_store(&e->percent, 100);
        log_msg(LV_INFO, e->id, "\"export done\" file=%s duration=%.3f", final, duration);
    } else {
        e->state = EXPORT_FAILED;
        av_make_error_string(err, sizeof(err), ret);
        snprintf(e->error, sizeof(e->error), "%s", err);
        log_msg(LV_ERROR, e->id, "\"export failed\" err=\"%s\"", err);
    }
    pthread_mutex_unlock(&e->lock);
    if (e->done)
        e->done(e->opaque, ret >= 0);
    return NULL;
}

struct exporter *export_create(struct recorder *rec, const char *id,
                               export_done_fn done, void *opaque)
{
    struct exporter *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->rec = rec;
    snprintf(e->id, sizeof(e->id), "%s", id);
    e->done = done;
    e->opaque = opaque;
    pthread_mutex_init(&e->lock, NULL);
    return e;
}

/* Cancels a running export and waits for its thread. */
static void stop_run(struct exporter *e)
{
    atomic_store(&e->cancel, true);
    pthread_mutex_lock(&e->lock);
    bool join = e->joinable;
    e->joinable = false;
    pthread_mutex_unlock(&e->lock);
    if (join)
        pthread_join(e->thread, NULL);
}

void export_reset(struct exporter *e)
{
    stop_run(e);
    pthread_mutex_lock(&e->lock);
    e->state = EXPORT_IDLE;
    e->start = e->end = e->duration = 0;
    e->error[0] = '\0';
    atomic_store(&e->percent, 0);
    pthread_mutex_unlock(&e->lock);
}

void export_free(struct exporter **pe)
{
    struct exporter *e = *pe;
    if (!e)
        return;
    stop_run(e);
    pthread_mutex_destroy(&e->lock);
    free(e);
    *pe = NULL;
}

int export_start(struct exporter *e, double start, double end)
{
    pthread_mutex_lock(&e->lock);
    if (e->state == EXPORT_RUNNING) {
        pthread_mutex_unlock(&e->lock);
        return -1;
    }
    if (e->joinable) {
        pthread_join(e->thread, NULL);       /* the previous run has ended */
        e->joinable = false;
    }
    e->state = EXPORT_RUNNING;
    e->start = start;
    e->end = end;
    e->duration = 0;
    e->error[0] = '\0';
    atomic_store(&e->percent, 0);
    atomic_store(&e->cancel, false);
    int ret = 0;
    if (pthread_create(&e->thread, NULL, export_thread, e) != 0) {
        e->state = EXPORT_FAILED;
        snprintf(e->error, sizeof(e->error), "cannot start thread");
        ret = -1;
    } else {
        e->joinable = true;
    }
    pthread_mutex_unlock(&e->lock);
    return ret;
}

void export_get_status(struct exporter *e, struct export_status *out)
{
    pthread_mutex_lock(&e->lock);
    out->state = e->state;
    out->percent = atomic_load(&e->percent);
    out->start = e->start;
    out->end = e->end;
    out->duration = e->duration;
    snprintf(out->error, sizeof(out->error), "%s", e->error);
    pthread_mutex_unlock(&e->lock);
}
