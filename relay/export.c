/* MP4 export.
 *
 * Reads the recorded segments in order with libavformat and stream-copies
 * them into one MP4 (movflags +faststart, so moov precedes mdat). Recording
 * time T runs from 0 at the first segment; it is re-anchored at the first
 * segment read and at every discontinuity, from the segment durations in
 * the playlist. The file starts at the video keyframe at or before the trim
 * start, found by reading the first segment once beforehand, and ends after
 * the last video frame at or before the trim end. Both ends are decided by
 * time, never by reading order: the mov demuxer returns most of a fragment's
 * video before its audio. */
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
    char warning[EXPORT_WARNING_MAX];
};

struct run {
    struct exporter *e;
    AVFormatContext *oc;
    int out_video, out_audio;         /* output stream index or -1 */
    int64_t last_dts[2];
    int64_t base;                     /* T that is the MP4's zero: the cut's keyframe */
    bool based;
    int64_t max_t;
    char warning[EXPORT_WARNING_MAX];  /* the first audio change, when any */
};

const char *export_state_name(enum export_state s)
{
    static const char *const names[] = { "idle", "running", "done", "failed" };
    return names[s];
}

/* pkt has pts/dts in T (90 kHz) and stream_index = output index. */
static int write_out(struct run *r, AVPacket *pkt)
{
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

/* Opens recorded segment k (an fMP4 fragment is read after its init
 * section), probed: without the probe a TS audio PES of several AAC frames
 * gives one timestamp and frames without any, which were dropped. */
static int open_segment(struct exporter *e, AVFormatContext **ic, uint64_t seq, int64_t map)
{
    char path[2 * PATH_MAX + 16], init[PATH_MAX], frag[PATH_MAX];
    const AVInputFormat *fmt = av_find_input_format("mpegts");
    if (map >= 0) {
        rec_path(e->rec, init, sizeof(init), "init-%lld.mp4", (long long)map);
        rec_path(e->rec, frag, sizeof(frag), "%llu.m4s", (unsigned long long)seq);
        snprintf(path, sizeof(path), "concat:%s|%s", init, frag);
        fmt = av_find_input_format("mov");
    } else {
        rec_path(e->rec, path, sizeof(path), "%llu.ts", (unsigned long long)seq);
    }
    int ret = avformat_open_input(ic, path, fmt, NULL);
    if (ret >= 0 && (ret = avformat_find_stream_info(*ic, NULL)) < 0)
        avformat_close_input(ic);
    if (ret < 0)
        log_msg(LV_WARN, e->id, "\"export: segment unreadable, skipped\" file=%s", path);
    return ret;
}

/* A stream copy cannot make the MP4's one audio description fit audio
 * recorded with another rate or channel count (a publisher that came back
 * with other settings, or changed them): its decoder would play those
 * frames at the wrong speed. Said once per run, with the recording time of
 * the segment where it begins; the frames are kept (no media is dropped). */
static void check_audio(struct run *r, const AVFormatContext *ic, double at)
{
    if (r->out_audio < 0 || r->warning[0])
        return;
    const AVCodecParameters *out = r->oc->streams[r->out_audio]->codecpar;
    for (unsigned i = 0; i < ic->nb_streams; i++) {
        const AVCodecParameters *in = ic->streams[i]->codecpar;
        if (in->codec_type != AVMEDIA_TYPE_AUDIO)
            continue;
        if (in->sample_rate != out->sample_rate
            || in->ch_layout.nb_channels != out->ch_layout.nb_channels) {
            snprintf(r->warning, sizeof(r->warning), "audio changes from %d Hz, %d ch to %d Hz, "
                     "%d ch at %.1f s of the recording: the MP4 plays what follows at the wrong "
                     "speed (the HLS recording plays right; a trim on one side exports right)",
                     out->sample_rate, out->ch_layout.nb_channels, in->sample_rate,
                     in->ch_layout.nb_channels, at);
            log_msg(LV_WARN, r->e->id, "\"export: %s\"", r->warning);
        }
        return;                             /* the first audio stream is the one exported */
    }
}

/* Reads the next packet of ic that goes to an output stream, in T: the
 * segment's first packet is put at seg_t (*anchor, then cleared) and the
 * others keep their distance to it. Returns the output index, or <0 at the
 * end or on an error. */
static int next_packet(const struct run *r, AVFormatContext *ic, AVPacket *pkt, bool *anchor,
                       int64_t seg_t, int64_t *offset)
{
    int ret;
    while ((ret = av_read_frame(ic, pkt)) >= 0) {
        AVStream *ist = ic->streams[pkt->stream_index];
        enum AVMediaType type = ist->codecpar->codec_type;
        int o = type == AVMEDIA_TYPE_VIDEO ? r->out_video
                : type == AVMEDIA_TYPE_AUDIO ? r->out_audio : -1;
        if (o < 0 || pkt->dts == AV_NOPTS_VALUE) {
            av_packet_unref(pkt);
            continue;
        }
        av_packet_rescale_ts(pkt, ist->time_base, (AVRational){ 1, CLK });
        if (*anchor) {
            *offset = seg_t - pkt->dts;
            *anchor = false;
        }
        pkt->dts += *offset;
        pkt->pts = pkt->pts == AV_NOPTS_VALUE ? pkt->dts : pkt->pts + *offset;
        pkt->stream_index = o;
        pkt->pos = -1;
        return o;
    }
    return ret;
}

/* Where the export starts, in T: the latest video keyframe of the first
 * segment at or before start_t, else its first keyframe; start_t when it
 * has neither (audio only, or no keyframe in it). */
static int64_t cut_point(const struct run *r, AVFormatContext *ic, AVPacket *pkt,
                         int64_t seg_t, int64_t start_t)
{
    int64_t best = INT64_MIN, first = INT64_MIN, offset = 0;
    bool anchor = true;
    int o;
    while ((o = next_packet(r, ic, pkt, &anchor, seg_t, &offset)) >= 0) {
        if (o == r->out_video && (pkt->flags & AV_PKT_FLAG_KEY)) {
            if (first == INT64_MIN)
                first = pkt->dts;
            if (pkt->dts <= start_t)
                best = pkt->dts;
        }
        av_packet_unref(pkt);
    }
    return best != INT64_MIN ? best : first != INT64_MIN ? first : start_t;
}

/* Writes the MP4; on success *duration and warning (the run's, empty
 * when none; EXPORT_WARNING_MAX bytes) are set. */
static int export_run(struct exporter *e, const char *tmp_path, double *duration,
                      char *warning)
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
    int64_t cut_t = start_t;

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
        if (open_segment(e, &ic, seqs[k], maps[k]) < 0)
            continue;
        int64_t seg_t = (int64_t)(starts[k] * CLK);
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
            if (r.out_video >= 0) {
                cut_t = cut_point(&r, ic, pkt, seg_t, start_t);
                avformat_close_input(&ic);
                if (open_segment(e, &ic, seqs[k], maps[k]) < 0)
                    continue;
            }
        }
        check_audio(&r, ic, starts[k]);
        bool anchor = k == k0 || discs[k];
        int o;
        while ((o = next_packet(&r, ic, pkt, &anchor, seg_t, &offset)) >= 0) {
            int64_t t = pkt->dts;
            bool video = o == r.out_video;
            /* past the end: the rest of this segment's audio still counts */
            if (t > end_t || t < cut_t
                || (video && !r.based && !(pkt->flags & AV_PKT_FLAG_KEY))) {
                done = done || (t > end_t && (video || r.out_video < 0));
                av_packet_unref(pkt);
                continue;
            }
            if (!r.based) {
                /* the keyframe's time, even if audio is read before it */
                r.base = r.out_video >= 0 ? cut_t : t;
                r.based = true;
            }
            ret = write_out(&r, pkt);
            av_packet_unref(pkt);
            if (ret < 0)
                goto out_close;
        }
        ret = o == AVERROR_EOF ? 0 : o;
        avformat_close_input(&ic);
        atomic_store(&e->percent, (int)((k - k0 + 1) * 100 / (k_end - k0)));
        if (ret < 0)
            break;
    }
    if (ret >= 0 && header && r.based) {
        ret = av_write_trailer(r.oc);
        *duration = (double)r.max_t / CLK;
        memcpy(warning, r.warning, sizeof(r.warning));
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
    char warning[EXPORT_WARNING_MAX] = "";
    double duration = 0;

    rec_path(e->rec, tmp, sizeof(tmp), "%s.mp4.tmp", e->id);
    rec_path(e->rec, final, sizeof(final), "%s.mp4", e->id);
    log_msg(LV_INFO, e->id, "\"export started\" start=%.3f end=%.3f", e->start, e->end);
    int ret = export_run(e, tmp, &duration, warning);
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
        memcpy(e->warning, warning, sizeof(e->warning));
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
    e->warning[0] = '\0';
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
    e->warning[0] = '\0';
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
    snprintf(out->warning, sizeof(out->warning), "%s", e->warning);
    pthread_mutex_unlock(&e->lock);
}
