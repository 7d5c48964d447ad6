/* Segmenter.
 *
 * Timestamps. Every packet's dts is mapped onto one session timeline in
 * 1/90000 s that starts at ORIGIN and never goes back, across publishers:
 * per track, the 33-bit difference to the previous dts is added to the
 * previous output, so PTS wrap is invisible. A difference that is negative
 * or too large is a jump or a timebase reset: the first track to see it is
 * re-anchored at the session clock (or one frame after its last output),
 * and the others keep their input offset to that track (lip sync), never
 * overlapping their own last frame. Audio is never put back over the
 * samples it already played. pts keeps its offset to dts (B-frames).
 *
 * Cuts. A segment is cut before the reference stream's (first video, else
 * first audio) keyframe at or after segment_duration. EXT-X-TARGETDURATION
 * is fixed by the first segment (the keyframe interval the publisher really
 * sends); afterwards a segment that would exceed it is cut anyway, on a
 * non-keyframe, and marked not independent. If the reference stream stalls
 * while another runs on, that stream's packets drive the forced cut.
 *
 * Muxing. One mpegts muxer per publisher writes through a custom AVIO into
 * a growable buffer; at a cut the muxer is flushed and that buffer becomes
 * the segment's AVBufferRef (no copy). The segment is handed to the output
 * callback, which references it. A new publisher gets a fresh muxer (its
 * streams may differ) and its first segment carries a discontinuity. */
#include "podium/segmenter.h"

#include "podium/segbuf.h"

#include <libavcodec/avcodec.h>
#include <libavutil/mathematics.h>
#include <libavutil/opt.h>
#include <libavutil/time.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "podium/framing.h"
#include "podium/log.h"
#include "podium/pull.h"

#define WRAP (INT64_C(1) << 33)
#define ORIGIN (10 * SEG_CLOCK)          /* keeps PCR = dts - delay positive */
#define MUX_DELAY_US 200000
#define MAX_STEP (2 * SEG_CLOCK)         /* a larger dts step is a jump ... */
#define CLOCK_SLACK SEG_CLOCK            /* ... unless it lands near the clock */
#define STALE_MAX SEG_CLOCK              /* audio back by less is a stale frame */
#define JITTER_MAX (SEG_CLOCK / 10)      /* back by less: jitter or an overlap, not stale */
#define MAX_PTS_OFFSET (10 * SEG_CLOCK)
#define KEY_WAIT (10 * SEG_CLOCK)        /* give up waiting for a keyframe */
#define MAX_IN_STREAMS 64
#define IO_BUF 65536

struct segmenter {
    pthread_mutex_t lock;                /* everything below */
    char id[CONFIG_ID_MAX];
    seg_output_fn output;
    seg_part_fn part_output;
    void *opaque;
    struct pipeline_sink sink;
    double segment_duration;
    bool fmp4;
    int64_t part_dur;                    /* 0: no parts */

    struct seg_cutter cut;
    uint64_t next_seq;
    bool next_disc;
    int64_t timeline_end;                /* end of everything muxed so far */
    int64_t pdt_end_ms;                  /* PROGRAM-DATE-TIME where the last segment ended */
    uint32_t last_gen;                   /* the newest publisher that began */

    /* current publisher */
    uint32_t gen;                        /* 0: none */
    AVFormatContext *oc;
    int map[MAX_IN_STREAMS];             /* input stream -> output, -1 drop */
    struct seg_track tracks[SEG_MAX_STREAMS];
    int64_t default_gap[SEG_MAX_STREAMS];
    int ref;                             /* output index of the reference */
    bool has_video;
    bool origin_set;
    struct seg_timeline tl;
    unsigned jumps_logged;
    int64_t wall_ms;
    int64_t ref_last;
    bool ref_seen;
    bool started;
    int64_t seg_start;
    int64_t seg_key_off;                 /* pts - dts of the frame that began it */
    bool seg_independent;
    bool seg_has_data;
    unsigned seg_streams;                /* bit o: stream o has a packet in it */
    struct segbuf buf;
    AVPacket *tmp;

    /* fMP4 */
    AVBufferRef *init;                   /* ftyp+moov of the current muxer */
    uint64_t init_id;
    bool strip_adts[SEG_MAX_STREAMS];    /* ADTS in, raw AAC out */
    /* In-stream parameter changes: what each stream last carried (AAC's
     * config, the video's parameter sets; NULL before its first), and a
     * change waiting for the next cut, when a new init section begins. */
    uint8_t *cfg[SEG_MAX_STREAMS];
    int cfg_len[SEG_MAX_STREAMS];
    AVCodecParameters *next_par[SEG_MAX_STREAMS];
    bool disc_pending;                   /* MPEG-TS: a change, cut at the next keyframe */
    uint64_t held_back;                  /* audio frames dropped while one waits */
    uint64_t stale;                      /* audio frames dropped as SEG_STALE: older */
    uint64_t overlapped;                 /* the same, over the frame before (a loop) */
    char peer[64];
    /* LL-HLS parts of the segment being built */
    int part_index;
    size_t part_off;                     /* where the part starts in buf */
    int64_t part_start;
    bool part_fresh, part_independent;

    /* m=request subscribers (MPEG-TS only) */
    struct pull *pull;
    size_t pull_off;                     /* bytes of buf they have been sent */
    bool pull_gap_logged;                /* in this segment */

    /* stats */
    uint64_t segments, bytes_out, dropped;
    double last_bitrate;
    /* the current publisher's keyframes (90 kHz): the organizer sees the
     * interval, and a long one (OBS's "auto" is ~8 s) is logged once */
    int64_t key_last, key_interval;
    bool key_seen, key_logged;
};

/* ---------------------------------------------------------------- cuts */

void seg_cutter_init(struct seg_cutter *c, double segment_duration, bool audio_ref)
{
    memset(c, 0, sizeof(*c));
    c->seg_dur = llrint(segment_duration * SEG_CLOCK);
    c->first_cap = c->seg_dur * 3 > 10 * SEG_CLOCK ? c->seg_dur * 3 : 10 * SEG_CLOCK;
    if (c->first_cap > 30 * SEG_CLOCK)
        c->first_cap = 30 * SEG_CLOCK;
    c->audio_ref = audio_ref;
}

enum seg_cut seg_cutter_check(const struct seg_cutter *c, int64_t ts, int64_t gap,
                              bool ref, bool key, int64_t ref_lag)
{
    int64_t elapsed = ts - c->start;
    int64_t limit = c->target ? (int64_t)c->target * SEG_CLOCK : c->first_cap;
    /* Audio frames never land on the boundary: cut at the last frame that
     * keeps the segment within segment_duration. */
    int64_t slack = c->audio_ref ? gap - 1 : SEG_CLOCK / 200;

    if (ref && key && elapsed >= c->seg_dur - slack && elapsed > 0)
        return SEG_CUT_KEYFRAME;
    if (ref && elapsed + gap > limit && elapsed > 0)
        return SEG_CUT_FORCED;
    if (!ref && ref_lag > SEG_CLOCK && elapsed + gap > limit && elapsed > 0)
        return SEG_CUT_FORCED;
    return SEG_CUT_NONE;
}

void seg_cutter_fix_target(struct seg_cutter *c, int64_t first_duration)
{
    if (c->target)
        return;
    /* Video: a GOP of 2.002 s (29.97 fps) needs a target of 3, else every
     * segment would be force-cut. Audio cuts are free, so round down. */
    double eps = c->audio_ref ? 0.05 : 0.001;
    double d = (double)(first_duration > c->seg_dur ? first_duration : c->seg_dur);
    int t = (int)ceil(d / SEG_CLOCK - eps);
    c->target = t < 1 ? 1 : t;
}

/* ---------------------------------------------------------- timestamps */

int64_t seg_wrap_diff(int64_t a, int64_t b)
{
    int64_t d = (a - b) & (WRAP - 1);
    return d >= WRAP / 2 ? d - WRAP : d;
}

/* Whether input time `in` is near another track's recent re-anchoring. */
static bool in_epoch(const struct seg_timeline *tl, int64_t in)
{
    return tl->jumped && tl->clock - tl->jump_out <= MAX_STEP
           && llabs(seg_wrap_diff(in, tl->jump_in)) <= MAX_STEP;
}

/* Where a track that jumped lands. Another track of the publisher that
 * re-anchored moments ago, at an input time near this one, set the epoch:
 * keep the offset to it (the encoder's A/V sync), but never overlap this
 * track's own last frame. Otherwise this track starts the epoch, at the
 * session clock or one frame after its last output. */
static int64_t reanchor(const struct seg_track *t, struct seg_timeline *tl, int64_t in)
{
    int64_t next = t->last_out + t->gap;
    if (in_epoch(tl, in)) {
        int64_t out = tl->jump_out + seg_wrap_diff(in, tl->jump_in);
        return out > next ? out : next;
    }
    int64_t out = tl->have_clock && tl->clock > next ? tl->clock : next;
    tl->jumped = true;
    tl->jump_in = in;
    tl->jump_out = out;
    tl->jump_step = seg_wrap_diff(in, t->last_in);
    tl->jumps++;
    return out;
}

int64_t seg_track_map(struct seg_track *t, struct seg_timeline *tl, int64_t in,
                      int64_t default_gap)
{
    int64_t out;

    if (!t->seen) {
        int64_t off = seg_wrap_diff(in, tl->origin_in);
        if (tl->have_clock && (off < -MAX_STEP || off > MAX_STEP))
            out = tl->clock;
        else
            out = tl->origin_out + off;
        /* Audio the encoder stamped before the first video frame (AAC's
         * priming, 21 ms), when the publisher began on video: it would
         * overlap the previous publisher's last frames and step the
         * recording's timeline back. Dropped, the audio keeps its time
         * to the picture. Never video: its first frame is the keyframe
         * the segment starts on. */
        if (t->contiguous && out < tl->floor)
            return SEG_STALE;
        t->seen = true;
        t->gap = default_gap > 0 ? default_gap : SEG_CLOCK / 30;
        t->last_in = in;
        t->last_out = out;
        goto out;
    }

    int64_t d = seg_wrap_diff(in, t->last_in);
    if (t->contiguous && tl->tracks > 1 && d <= -JITTER_MAX && d > -STALE_MAX
        && !in_epoch(tl, in))
        /* Audio back by a frame or a few while no other track jumped: a
         * PES repeated, or late around a loss. Re-anchored, all later audio
         * would sit off the video for the rest of the connection (0.1-0.2 s,
         * seen with 75 publishers on 2 cores). A reset the audio sees first
         * loses the frames until the video's jump sets the epoch. */
        return SEG_STALE;
    if (t->contiguous && d > -JITTER_MAX && d < (t->dur > 0 ? t->dur / 2 : 1)) {
        /* Audio back over more than half its last frame (ffmpeg looping a
         * file sends each loop's first frame 1 tick after the last one, an
         * encoder restarting): those samples were played. Beside video the
         * frame is dropped: moved after them, every loop would put the
         * audio one frame further behind the picture (1 s after 45 loops
         * of a 60 s file, measured). Alone, the audio goes on after them. */
        if (tl->tracks > 1 && !in_epoch(tl, in))
            return SEG_STALE;
        out = t->last_out + (t->dur > 0 ? t->dur : t->gap);
    } else if (d > 0 && d <= MAX_STEP) {
        out = t->last_out + d;
        if (d < SEG_CLOCK)
            t->gap = d;
    } else if (d > 0 && tl->have_clock && llabs(t->last_out + d - tl->clock) <= CLOCK_SLACK) {
        out = t->last_out + d;               /* a stall the other tracks saw too */
    } else if (d <= 0 && d > -JITTER_MAX) {
        /* Jitter: keep dts increasing, and keep last_in so the next frame's
         * step absorbs the back-step instead of drifting by it. */
        out = ++t->last_out;
        goto out;
    } else {
        out = reanchor(t, tl, in);           /* jump or reset */
    }
    if (out <= t->last_out)
        out = t->last_out + 1;
    t->last_in = in;
    t->last_out = out;
out:
    if (!tl->have_clock || out > tl->clock)
        tl->clock = out;
    tl->have_clock = true;
    return out;
}

/* -------------------------------------------------------------- muxing */

/* Sends pull subscribers the segment buffer's new bytes in whole SRT
 * messages, straight from its staging when they are still there (they
 * are, but for a message across a write to the memfd); all: the tail too
 * (the segment is complete). buf holds exactly the current segment, so
 * offset 0 is a segment start. */
static void pull_flush(struct segmenter *s, bool all)
{
    /* nobody pulling: skip the bytes; a subscriber joins at offset 0 anyway */
    if (pull_count(s->pull) == 0) {
        s->pull_off = s->buf.len;
        return;
    }
    uint8_t msg[PULL_MESSAGE];
    while (s->buf.len > s->pull_off && (all || s->buf.len - s->pull_off >= PULL_MESSAGE)) {
        size_t n = s->buf.len - s->pull_off < PULL_MESSAGE ? s->buf.len - s->pull_off
                                                           : PULL_MESSAGE;
        const uint8_t *p = segbuf_read(&s->buf, s->pull_off, n, msg);
        if (p) {
            pull_send(s->pull, p, n, s->pull_off == 0);
        } else if (!s->pull_gap_logged) {
            /* their MPEG-TS has a hole here; the demuxer resyncs after it */
            log_msg(LV_ERROR, s->id, "\"SRT subscribers miss bytes not read back from the "
                    "segment\" seq=%llu offset=%zu bytes=%zu", (unsigned long long)s->next_seq,
                    s->pull_off, n);
            s->pull_gap_logged = true;
        }
        s->pull_off += n;
    }
}

static void reset_buf(struct segmenter *s)
{
    segbuf_reset(&s->buf);
    s->pull_off = 0;
    s->pull_gap_logged = false;
}

static int write_cb(void *opaque, uint8_t *data, int len)
{
    struct segmenter *s = opaque;
    if (len <= 0)
        return len;
    /* bytes that do not fit are dropped: the segment is cut at the next packet */
    segbuf_append(&s->buf, data, (size_t)len);
    if (s->pull)
        pull_flush(s, false);
    return len;
}

static void close_muxer(struct segmenter *s)
{
    av_buffer_unref(&s->init);
    if (!s->oc)
        return;
    if (s->oc->pb) {
        av_freep(&s->oc->pb->buffer);
        avio_context_free(&s->oc->pb);
    }
    avformat_free_context(s->oc);
    s->oc = NULL;
}

static int64_t now_ms(void)
{
    return av_gettime() / 1000;
}

/* Publishes what was muxed since the last part as part `part_index` of the
 * segment being built, ending at `end`. The part's bytes stay in the
 * segment buffer too: the segment is its parts, back to back. */
static void flush_part(struct segmenter *s, int64_t end)
{
    if (!s->part_dur || !s->part_output || !s->oc)
        return;
    av_write_frame(s->oc, NULL);         /* fMP4: writes one moof+mdat */
    avio_flush(s->oc->pb);
    size_t len = s->buf.len > s->part_off ? s->buf.len - s->part_off : 0;
    if (len == 0 || s->buf.overflow)
        return;
    /* Parts are copied out: the segment is in a memfd, written once. */
    AVBufferRef *b = av_buffer_alloc(len);
    if (!b) {
        log_msg(LV_ERROR, s->id, "\"out of memory publishing a part\" seq=%llu part=%d",
                (unsigned long long)s->next_seq, s->part_index);
        return;
    }
    if (!segbuf_copy(&s->buf, s->part_off, b->data, len)) {
        /* the segment keeps the bytes; the next part of it starts with them */
        log_msg(LV_ERROR, s->id, "\"part not read back from its segment\" seq=%llu part=%d "
                "bytes=%zu", (unsigned long long)s->next_seq, s->part_index, len);
        av_buffer_unref(&b);
        return;
    }
    struct media_part p = {
        .seq = s->next_seq, .index = s->part_index,
        .duration = (double)(end - s->part_start) / SEG_CLOCK,
        .independent = s->part_independent, .data = b,
        .init = s->init, .init_id = s->init_id,
    };
    /* logged before it is published: the log time is when it completed */
    log_msg(LV_DEBUG, s->id, "\"part\" seq=%llu part=%d duration=%.3f bytes=%zu",
            (unsigned long long)p.seq, p.index, p.duration, len);
    s->part_output(s->opaque, &p);
    av_buffer_unref(&b);
    s->part_index++;
    s->part_off = s->buf.len;
    s->part_start = end;
    s->part_fresh = true;
}

/* Flushes the muxer and publishes what it wrote as one segment ending at
 * `end` (session timeline). */
static void finish_segment(struct segmenter *s, int64_t end)
{
    if (!s->oc || !s->started)
        return;
    if (s->seg_has_data)
        flush_part(s, end);              /* the last part ends the segment */
    av_write_frame(s->oc, NULL);         /* flush PES buffered by mpegts */
    avio_flush(s->oc->pb);
    if (s->buf.len == 0 || !s->seg_has_data)
        return;

    int64_t dur = end - s->seg_start;
    if (dur <= 0)
        dur = 1;
    seg_cutter_fix_target(&s->cut, dur);
    if (dur > (int64_t)s->cut.target * SEG_CLOCK) {
        /* a few ms over after re-anchoring a timestamp jump is expected */
        bool small = dur - (int64_t)s->cut.target * SEG_CLOCK < SEG_CLOCK / 20;
        log_msg(small ? LV_DEBUG : LV_WARN, s->id, "\"segment longer than target, clamped\" seq=%llu duration=%.3f target=%d",
                (unsigned long long)s->next_seq, (double)dur / SEG_CLOCK, s->cut.target);
        dur = (int64_t)s->cut.target * SEG_CLOCK;
    }
    if (s->buf.capped)
        log_msg(LV_WARN, s->id, "\"segment exceeded the size cap, bytes dropped\" seq=%llu cap=%d",
                (unsigned long long)s->next_seq, SEG_MAX_BYTES);
    else if (s->buf.overflow)
        log_msg(LV_WARN, s->id, "\"segment published without the bytes it could not store\" "
                "seq=%llu bytes_kept=%zu", (unsigned long long)s->next_seq, s->buf.len);

    struct media_segment seg = {
        .seq = s->next_seq,
        .duration = (double)dur / SEG_CLOCK,
        .target_duration = s->cut.target,
        .pdt_ms = s->wall_ms + (s->seg_start - s->tl.origin_out) / 90,
        .discontinuity = s->next_disc,
        .independent = s->seg_independent,
        .init = s->init,
        .init_id = s->init_id,
        .parts = s->part_index,
    };
    size_t len = s->buf.len;
    if (s->pull)
        pull_flush(s, true);
    s->pull_off = 0;
    s->pull_gap_logged = false;
    /* The memfd becomes seg.data as it is: nothing is copied. */
    seg.data = segbuf_publish(&s->buf);
    if (!seg.data) {
        log_msg(LV_ERROR, s->id, "\"out of memory publishing a segment\" seq=%llu",
                (unsigned long long)seg.seq);
        return;
    }

    s->output(s->opaque, &seg);
    av_buffer_unref(&seg.data);
    s->pdt_end_ms = seg.pdt_ms + dur / 90;

    s->next_seq++;
    s->next_disc = false;
    s->seg_has_data = false;
    s->seg_streams = 0;
    s->part_index = 0;
    s->part_off = 0;
    s->part_start = end;
    s->part_fresh = true;
    s->segments++;
    s->bytes_out += len;
    s->last_bitrate = (double)len * 8.0 / ((double)dur / SEG_CLOCK);
    log_msg(LV_DEBUG, s->id, "\"segment\" seq=%llu duration=%.3f bytes=%zu independent=%d",
            (unsigned long long)seg.seq, seg.duration, len, seg.independent);

    /* Every segment must start with PAT/PMT, also on non-video cuts. */
    if (!s->fmp4)
        av_opt_set(s->oc->priv_data, "mpegts_flags", "+resend_headers", 0);
}

/* Publishes the partial segment of the current publisher and drops its
 * muxer; the next segment starts a discontinuity. */
static void end_publisher(struct segmenter *s)
{
    if (s->started) {
        int64_t end;
        if (s->ref_seen)
            end = s->tracks[s->ref].last_out + s->tracks[s->ref].gap;
        else
            end = s->tl.clock + SEG_CLOCK / 30;
        finish_segment(s, end);
    }
    for (int i = 0; i < SEG_MAX_STREAMS; i++)
        if (s->tracks[i].seen && s->tracks[i].last_out + s->tracks[i].gap > s->timeline_end)
            s->timeline_end = s->tracks[i].last_out + s->tracks[i].gap;
    if (s->stale > 1)
        log_msg(LV_WARN, s->id, "\"audio frames older than the one before them, dropped\" "
                "frames=%llu", (unsigned long long)s->stale);
    if (s->overlapped > 1)
        log_msg(LV_INFO, s->id, "\"audio frames over the one before them, dropped\" frames=%llu",
                (unsigned long long)s->overlapped);
    s->stale = 0;
    s->overlapped = 0;
    close_muxer(s);
    segbuf_idle(&s->buf);           /* no next segment to stage bytes for */
    if (s->segments > 0)
        s->next_disc = true;
    s->gen = 0;
    s->started = false;
    s->seg_has_data = false;
    s->seg_streams = 0;
}

static bool codec_supported(const AVCodecParameters *par)
{
    switch (par->codec_id) {
    case AV_CODEC_ID_H264:
    case AV_CODEC_ID_HEVC:
    case AV_CODEC_ID_AAC:
    case AV_CODEC_ID_MP3:
    case AV_CODEC_ID_MP2:
    case AV_CODEC_ID_OPUS:
        return true;
    default:
        return false;
    }
}

/* Relayed as it is, a codec some attendees' browsers cannot play gets the
 * organizer told what to ask the speaker for: Firefox and Chromium on
 * Linux have no HEVC decoder, and hls.js reads no Opus from TS (the video
 * plays without a sound). NULL when it plays everywhere. */
static const char *codec_ask(const AVCodecParameters *par, bool fmp4)
{
    if (par->codec_type == AVMEDIA_TYPE_VIDEO && par->codec_id != AV_CODEC_ID_H264)
        return "H.264";
    if (par->codec_id == AV_CODEC_ID_OPUS && !fmp4)
        return "AAC";
    return NULL;
}

static int64_t stream_gap(const AVStream *st)
{
    const AVCodecParameters *par = st->codecpar;
    if (par->codec_type == AVMEDIA_TYPE_AUDIO && par->sample_rate > 0) {
        int fs = par->frame_size > 0 ? par->frame_size : 1024;
        return av_rescale(fs, SEG_CLOCK, par->sample_rate);
    }
    AVRational fr = st->avg_frame_rate.num ? st->avg_frame_rate : st->r_frame_rate;
    if (fr.num > 0 && fr.den > 0 && av_q2d(fr) >= 1.0 && av_q2d(fr) <= 240.0)
        return av_rescale(SEG_CLOCK, fr.den, fr.num);
    return SEG_CLOCK / 30;
}

/* MP4 needs codec configuration up front: an AudioSpecificConfig for AAC
 * (MPEG-TS carries ADTS headers instead, stripped per packet) and SPS/PPS
 * extradata for video. */
static int fmp4_prepare(struct segmenter *s, AVStream *ost, const char *peer)
{
    AVCodecParameters *par = ost->codecpar;
    if (par->codec_id == AV_CODEC_ID_AAC) {
        s->strip_adts[ost->index] = true;
        if (par->extradata_size >= 2)
            return 0;
        uint8_t *asc = av_mallocz(2 + AV_INPUT_BUFFER_PADDING_SIZE);
        if (!asc)
            return -1;
        if (framing_aac_config(par->profile, par->sample_rate, par->ch_layout.nb_channels,
                               asc) < 0) {
            av_free(asc);
            log_msg(LV_WARN, s->id, "\"publisher refused: AAC parameters unknown for fMP4\" peer=%s", peer);
            return -1;
        }
        av_freep(&par->extradata);
        par->extradata = asc;
        par->extradata_size = 2;
        return 0;
    }
    if ((par->codec_id == AV_CODEC_ID_H264 || par->codec_id == AV_CODEC_ID_HEVC)
        && par->extradata_size == 0) {
        log_msg(LV_WARN, s->id, "\"publisher refused: no SPS/PPS seen for fMP4\" peer=%s", peer);
        return -1;
    }
    /* The mp4 muxer's default for HEVC is hev1, which Safari and iOS do not
     * play (Apple's HLS authoring spec: hvc1, parameter sets in hvcC). */
    if (par->codec_id == AV_CODEC_ID_HEVC)
        par->codec_tag = MKTAG('h', 'v', 'c', '1');
    return 0;
}

/* Writes the header of s->oc, whose streams are set up: the fMP4 init
 * section, kept in s->init. The bytes of the segments go to s->buf. */
static int start_muxer(struct segmenter *s, const char *peer)
{
    char err[AV_ERROR_MAX_STRING_SIZE];
    uint8_t *iobuf = av_malloc(IO_BUF);
    if (!iobuf)
        goto out_nomem;
    s->oc->pb = avio_alloc_context(iobuf, IO_BUF, 1, s, NULL, write_cb, NULL);
    if (!s->oc->pb) {
        av_free(iobuf);
        goto out_nomem;
    }
    s->oc->max_delay = MUX_DELAY_US;
    /* libavformat flushes an output without a seek callback after every
     * packet; segments and parts flush it themselves when they end */
    s->oc->flush_packets = 0;
    AVDictionary *opts = NULL;
    if (s->fmp4) {
        /* Fragments only when we flush (parts, segments); the moov is the
         * init section, written by write_header. */
        av_dict_set(&opts, "movflags",
                    "+frag_custom+empty_moov+default_base_moof+skip_trailer", 0);
        /* Keep the session timeline in every track's tfdt: movenc would
         * otherwise move only the first sample of a track to zero and
         * audio and video would disagree by the offset. */
        av_dict_set(&opts, "use_editlist", "0", 0);
        s->oc->avoid_negative_ts = AVFMT_AVOID_NEG_TS_DISABLED;
    } else {
        av_dict_set(&opts, "mpegts_copyts", "1", 0);
        av_dict_set(&opts, "mpegts_flags", "+resend_headers", 0);
    }
    int ret = avformat_write_header(s->oc, &opts);
    av_dict_free(&opts);
    if (ret < 0) {
        log_msg(LV_WARN, s->id, "\"publisher refused: cannot mux its streams\" peer=%s err=\"%s\"",
                peer, av_make_error_string(err, sizeof(err), ret));
        close_muxer(s);
        return PIPE_REFUSE;
    }
    /* TS: the header (PAT/PMT) is written again at the first cut, keep the
     * first segment's bytes starting clean. fMP4: it is the init section. */
    avio_flush(s->oc->pb);
    if (s->fmp4) {
        s->init = av_buffer_alloc(s->buf.len);
        if (!s->init || !segbuf_copy(&s->buf, 0, s->init->data, s->buf.len))
            goto out_nomem;
        s->init_id = s->next_seq;
    }
    reset_buf(s);
    s->part_index = 0;
    s->part_off = 0;
    s->part_fresh = true;
    return PIPE_OK;

out_nomem:
    log_msg(LV_ERROR, s->id, "\"out of memory opening the muxer\" peer=%s", peer);
    close_muxer(s);
    return PIPE_REFUSE;
}

static bool in_program(const AVProgram *prog, unsigned i)
{
    if (!prog)
        return true;
    for (unsigned k = 0; k < prog->nb_stream_indexes; k++)
        if (prog->stream_index[k] == i)
            return true;
    return false;
}

/* A TS may carry several programs (a broadcast encoder's main and backup
 * feeds, say), and a playlist holds one: the program of the first video
 * stream Podium can relay (else of the first audio one) is kept, the other
 * programs' streams are left out. NULL: one program or none, all kept. */
static const AVProgram *relayed_program(const AVFormatContext *ic)
{
    if (ic->nb_programs < 2)
        return NULL;
    for (int pass = 0; pass < 2; pass++) {
        enum AVMediaType want = pass == 0 ? AVMEDIA_TYPE_VIDEO : AVMEDIA_TYPE_AUDIO;
        for (unsigned i = 0; i < ic->nb_streams; i++) {
            const AVCodecParameters *par = ic->streams[i]->codecpar;
            if (par->codec_type != want || !codec_supported(par))
                continue;
            for (unsigned p = 0; p < ic->nb_programs; p++)
                if (in_program(ic->programs[p], i))
                    return ic->programs[p];
        }
    }
    return NULL;
}

static int open_muxer(struct segmenter *s, const AVFormatContext *ic, const char *peer)
{
    int video = -1, audio = -1, n_out = 0, ret;

    for (int i = 0; i < MAX_IN_STREAMS; i++)
        s->map[i] = -1;
    ret = avformat_alloc_output_context2(&s->oc, NULL, s->fmp4 ? "mp4" : "mpegts", NULL);
    if (ret < 0 || !s->oc)
        goto out_nomem;

    const AVProgram *prog = relayed_program(ic);
    if (prog)
        log_msg(LV_INFO, s->id, "\"input carries several programs: one is relayed, the others' "
                "streams are left out\" peer=%s programs=%u program=%d", peer, ic->nb_programs,
                prog->program_num);
    bool video_read = false;
    for (unsigned i = 0; i < ic->nb_streams; i++) {
        const AVCodecParameters *par = ic->streams[i]->codecpar;
        if (par->codec_type == AVMEDIA_TYPE_VIDEO && codec_supported(par) && par->width > 0
            && in_program(prog, i))
            video_read = true;
    }
    for (unsigned i = 0; i < ic->nb_streams && i < MAX_IN_STREAMS; i++) {
        const AVStream *ist = ic->streams[i];
        const AVCodecParameters *par = ist->codecpar;
        if (par->codec_type != AVMEDIA_TYPE_VIDEO && par->codec_type != AVMEDIA_TYPE_AUDIO)
            continue;
        if (!in_program(prog, i))
            continue;
        if (!codec_supported(par)) {
            log_msg(LV_WARN, s->id, "\"input stream ignored: unsupported codec\" peer=%s index=%u codec=%s",
                    peer, i, avcodec_get_name(par->codec_id));
            continue;
        }
        /* Probing (1 s) saw no frame of it: an encoder whose audio starts
         * late, or never. Neither muxer can describe it; when the video
         * could be read, the session goes on with that rather than refuse
         * the speaker outright (without it, as with garbage, it fails). */
        if (par->codec_type == AVMEDIA_TYPE_AUDIO && par->sample_rate <= 0 && video_read) {
            log_msg(LV_WARN, s->id, "\"input stream ignored: no audio frame in the first second, "
                    "the session goes on without it (the speaker can reconnect once audio runs)\" "
                    "peer=%s index=%u codec=%s", peer, i, avcodec_get_name(par->codec_id));
            continue;
        }
        if (n_out >= SEG_MAX_STREAMS)
            break;
        AVStream *ost = avformat_new_stream(s->oc, NULL);
        if (!ost || avcodec_parameters_copy(ost->codecpar, par) < 0)
            goto out_nomem;
        ost->codecpar->codec_tag = 0;
        ost->time_base = (AVRational){ 1, SEG_CLOCK };
        s->strip_adts[n_out] = false;
        if (s->fmp4 && fmp4_prepare(s, ost, peer) < 0) {
            close_muxer(s);
            return PIPE_REFUSE;
        }
        s->map[i] = n_out;
        s->default_gap[n_out] = stream_gap(ist);
        s->tracks[n_out].contiguous = par->codec_type == AVMEDIA_TYPE_AUDIO;
        if (par->codec_type == AVMEDIA_TYPE_VIDEO && video < 0)
            video = n_out;
        if (par->codec_type == AVMEDIA_TYPE_AUDIO && audio < 0)
            audio = n_out;
        n_out++;
        const char *ask = codec_ask(par, s->fmp4);
        if (ask)
            log_msg(LV_WARN, s->id, "\"%s codec plays in some browsers only: ask the speaker for %s\" "
                    "peer=%s codec=%s", av_get_media_type_string(par->codec_type), ask, peer,
                    avcodec_get_name(par->codec_id));
    }
    s->tl.tracks = (unsigned)n_out;
    if (n_out == 0) {
        /* what was there: an H.264 stream whose first second held no
         * frame reads very differently from garbage */
        char seen[128] = "none";
        for (unsigned i = 0, n = 0; i < ic->nb_streams && n + 16 < sizeof(seen); i++)
            n += (size_t)snprintf(seen + n, sizeof(seen) - n, "%s%s", i ? "," : "",
                                  avcodec_get_name(ic->streams[i]->codecpar->codec_id));
        log_msg(LV_WARN, s->id, "\"publisher refused: no H.264/HEVC video or AAC/Opus/MP3 audio "
                "could be read in the first second\" peer=%s streams=%s", peer, seen);
        close_muxer(s);
        return PIPE_REFUSE;
    }

    ret = start_muxer(s, peer);
    if (ret != PIPE_OK)
        return ret;
    s->has_video = video >= 0;
    s->ref = video >= 0 ? video : audio;
    struct seg_cutter keep = s->cut;
    seg_cutter_init(&s->cut, s->segment_duration, video < 0);
    s->cut.target = keep.target;         /* fixed once per session */
    return PIPE_OK;

out_nomem:
    log_msg(LV_ERROR, s->id, "\"out of memory opening the muxer\" peer=%s", peer);
    close_muxer(s);
    return PIPE_REFUSE;
}

/* ------------------------------------------- in-stream parameter changes */

#define PARAM_SETS_MAX 1024

static void clear_params(struct segmenter *s)
{
    for (int i = 0; i < SEG_MAX_STREAMS; i++) {
        av_freep(&s->cfg[i]);
        s->cfg_len[i] = 0;
        avcodec_parameters_free(&s->next_par[i]);
    }
    s->disc_pending = false;
    s->held_back = 0;
}

/* Whether stream o now carries cfg, other than what it carried before; the
 * first one seen is what its init section was made from. */
static bool config_changed(struct segmenter *s, int o, const uint8_t *cfg, int len)
{
    if (s->cfg[o] && s->cfg_len[o] == len && !memcmp(s->cfg[o], cfg, (size_t)len))
        return false;
    bool first = !s->cfg[o];
    uint8_t *copy = av_memdup(cfg, (size_t)len);
    if (!copy)
        return false;                    /* no memory: go on with what we have */
    av_free(s->cfg[o]);
    s->cfg[o] = copy;
    s->cfg_len[o] = len;
    return !first;
}

/* The picture size the parameter sets before a keyframe's first slice
 * describe, as libavcodec's parser reads them. */
static int picture_size(enum AVCodecID id, const AVPacket *pkt, int *w, int *h)
{
    AVCodecParserContext *pc = av_parser_init(id);
    AVCodecContext *avctx = avcodec_alloc_context3(NULL);
    int ret = -1;
    if (pc && avctx) {
        uint8_t *out;
        int out_size;
        pc->flags |= PARSER_FLAG_COMPLETE_FRAMES;
        av_parser_parse2(pc, avctx, &out, &out_size, pkt->data, pkt->size, AV_NOPTS_VALUE,
                         AV_NOPTS_VALUE, 0);
        if (pc->width > 0 && pc->height > 0) {
            *w = pc->width;
            *h = pc->height;
            ret = 0;
        }
    }
    av_parser_close(pc);
    avcodec_free_context(&avctx);
    return ret;
}

/* MPEG-TS: the segments carry the new parameters in-band, but RFC 8216
 * 4.3.2.3 wants a DISCONTINUITY before a change of encoding parameters, and
 * a player (hls.js) reads an AAC track's rate once per discontinuity. Only
 * a change of picture size, rate or channels counts: encoders rewrite other
 * SPS fields now and then, and each would cost the players a reset. The
 * cut waits for the video's next keyframe (the change itself, when the
 * video changed), unless the segment being built has nothing of that
 * stream yet (sink_packet); the muxer's stream keeps the new values to
 * compare. */
static bool ts_param_change(struct segmenter *s, int o, bool audio, int rate, int channels,
                            int w, int h)
{
    AVCodecParameters *cur = s->oc->streams[o]->codecpar;
    if (audio ? rate == cur->sample_rate && channels == cur->ch_layout.nb_channels
              : w == cur->width && h == cur->height)
        return false;
    if (audio) {
        log_msg(LV_INFO, s->id, "\"audio parameters changed, a discontinuity follows\" "
                "stream=%d rate=%d->%d channels=%d->%d", o, cur->sample_rate, rate,
                cur->ch_layout.nb_channels, channels);
        cur->sample_rate = rate;
        av_channel_layout_uninit(&cur->ch_layout);
        av_channel_layout_default(&cur->ch_layout, channels);
    } else {
        log_msg(LV_INFO, s->id, "\"video parameters changed, a discontinuity follows\" "
                "stream=%d size=%dx%d->%dx%d", o, cur->width, cur->height, w, h);
        cur->width = w;
        cur->height = h;
    }
    s->disc_pending = true;
    return true;
}

/* MP4 describes a stream once, in the init section, and AAC's rate or a
 * video's SPS can change inside one connection (ADTS and in-band
 * parameter sets carry them). fMP4: a change waits in next_par[o] for the
 * cut that begins a new init section. MPEG-TS: ts_param_change, whose
 * result this returns (false for fMP4). */
static bool check_params(struct segmenter *s, int o, const AVPacket *pkt, bool key)
{
    const AVCodecParameters *cur = s->oc->streams[o]->codecpar;
    uint8_t cfg[PARAM_SETS_MAX];
    int len, rate = 0, channels = 0, w = 0, h = 0;
    /* fMP4 strips the ADTS headers that TS keeps */
    bool adts = s->strip_adts[o] || (!s->fmp4 && cur->codec_id == AV_CODEC_ID_AAC);

    if (adts) {
        if (framing_adts_config(pkt->data, (size_t)pkt->size, cfg, &rate, &channels) < 0)
            return false;
        len = 2;
    } else if ((cur->codec_id == AV_CODEC_ID_H264 || cur->codec_id == AV_CODEC_ID_HEVC) && key) {
        /* The SPS (and VPS) only: some encoders vary their PPS from one
         * keyframe to the next, and a new init section on each would make
         * every segment a discontinuity. */
        len = framing_param_sets(cur->codec_id, pkt->data, (size_t)pkt->size, false, cfg,
                                 sizeof(cfg));
        if (len <= 0)
            return false;
    } else {
        return false;
    }
    if (!config_changed(s, o, cfg, len))
        return false;
    if (!adts && picture_size(cur->codec_id, pkt, &w, &h) < 0) {
        log_msg(LV_WARN, s->id, "\"video parameters changed but cannot be read, kept as they were\" "
                "stream=%d", o);
        return false;
    }
    if (!s->fmp4)
        return ts_param_change(s, o, adts, rate, channels, w, h);
    uint8_t full[PARAM_SETS_MAX];        /* the init section needs the PPS too */
    if (!s->strip_adts[o]) {
        len = framing_param_sets(cur->codec_id, pkt->data, (size_t)pkt->size, true, full,
                                 sizeof(full));
        if (len <= 0)
            return false;
    }
    AVCodecParameters *par = avcodec_parameters_alloc();
    uint8_t *extra = av_mallocz((size_t)len + AV_INPUT_BUFFER_PADDING_SIZE);
    if (!par || !extra || avcodec_parameters_copy(par, cur) < 0) {
        avcodec_parameters_free(&par);
        av_free(extra);
        return false;
    }
    memcpy(extra, s->strip_adts[o] ? cfg : full, (size_t)len);
    av_freep(&par->extradata);
    par->extradata = extra;
    par->extradata_size = len;
    if (s->strip_adts[o]) {
        par->sample_rate = rate;
        av_channel_layout_uninit(&par->ch_layout);
        av_channel_layout_default(&par->ch_layout, channels);
        log_msg(LV_INFO, s->id, "\"audio parameters changed, a new init section follows\" "
                "stream=%d rate=%d->%d channels=%d->%d", o, cur->sample_rate, rate,
                cur->ch_layout.nb_channels, channels);
    } else {
        par->width = w;
        par->height = h;
        log_msg(LV_INFO, s->id, "\"video parameters changed, a new init section follows\" "
                "stream=%d size=%dx%d->%dx%d", o, cur->width, cur->height, w, h);
    }
    avcodec_parameters_free(&s->next_par[o]);
    s->next_par[o] = par;
    return false;
}

static bool params_pending(const struct segmenter *s)
{
    for (int i = 0; i < SEG_MAX_STREAMS; i++)
        if (s->next_par[i])
            return true;
    return false;
}

/* Ends the segment at `at` (the packet that begins the next one) and goes
 * on with a new muxer, whose init section has the changed parameters; the
 * timeline goes on, the next segment starts a discontinuity. */
static int apply_params(struct segmenter *s, int64_t at, int64_t off, bool independent)
{
    AVCodecParameters *pars[SEG_MAX_STREAMS] = { 0 };
    unsigned n = s->oc->nb_streams;
    int ret = PIPE_OK;

    if (s->started) {
        s->cut.start = s->seg_start;
        finish_segment(s, at);
        s->seg_start = s->cut.start = at;
        s->seg_key_off = off;
        s->seg_independent = independent;
    }
    for (unsigned i = 0; i < n; i++) {
        pars[i] = s->next_par[i];
        s->next_par[i] = NULL;
        if (!pars[i] && (!(pars[i] = avcodec_parameters_alloc())
                         || avcodec_parameters_copy(pars[i], s->oc->streams[i]->codecpar) < 0))
            ret = PIPE_REFUSE;
    }
    close_muxer(s);
    reset_buf(s);
    if (ret == PIPE_OK && avformat_alloc_output_context2(&s->oc, NULL, "mp4", NULL) < 0)
        ret = PIPE_REFUSE;
    for (unsigned i = 0; ret == PIPE_OK && i < n; i++) {
        AVStream *ost = avformat_new_stream(s->oc, NULL);
        if (!ost || avcodec_parameters_copy(ost->codecpar, pars[i]) < 0)
            ret = PIPE_REFUSE;
        else
            ost->time_base = (AVRational){ 1, SEG_CLOCK };
    }
    for (unsigned i = 0; i < n; i++)
        avcodec_parameters_free(&pars[i]);
    if (ret == PIPE_OK)
        ret = start_muxer(s, s->peer);
    else
        close_muxer(s);
    if (ret != PIPE_OK) {
        log_msg(LV_ERROR, s->id, "\"cannot begin a new init section, the publisher is closed\" "
                "peer=%s", s->peer);
        return ret;
    }
    if (s->next_seq > 0)
        s->next_disc = true;
    if (s->held_back)
        log_msg(LV_INFO, s->id, "\"audio frames held back until the video's keyframe\" frames=%llu",
                (unsigned long long)s->held_back);
    s->held_back = 0;
    return PIPE_OK;
}

/* ---------------------------------------------------------------- sink */

static int sink_begin(void *opaque, uint32_t gen, const AVFormatContext *ic,
                      const char *peer)
{
    struct segmenter *s = opaque;
    pthread_mutex_lock(&s->lock);
    if (s->last_gen && (int32_t)(gen - s->last_gen) < 0) {
        /* A connection taken over while it probed replays what it had
         * read: its media is older than the publisher that replaced it. */
        pthread_mutex_unlock(&s->lock);
        log_msg(LV_INFO, s->id, "\"publisher refused: taken over before its stream began\" peer=%s",
                peer);
        return PIPE_REFUSE;
    }
    if (s->gen)
        end_publisher(s);                /* taken over mid-segment */
    memset(s->tracks, 0, sizeof(s->tracks));
    s->key_seen = s->key_logged = false;
    s->key_interval = 0;
    s->origin_set = false;
    memset(&s->tl, 0, sizeof(s->tl));
    s->jumps_logged = 0;
    s->ref_seen = false;
    s->started = false;
    s->seg_has_data = false;
    s->seg_streams = 0;
    reset_buf(s);
    clear_params(s);
    snprintf(s->peer, sizeof(s->peer), "%s", peer);
    int ret = open_muxer(s, ic, peer);
    if (ret == PIPE_OK)
        s->gen = s->last_gen = gen;
    pthread_mutex_unlock(&s->lock);
    return ret;
}

static void sink_end(void *opaque, uint32_t gen)
{
    struct segmenter *s = opaque;
    pthread_mutex_lock(&s->lock);
    if (s->gen == gen)
        end_publisher(s);
    pthread_mutex_unlock(&s->lock);
}

/* Segments are cut on keyframes: with an interval well over
 * segment_duration every segment is that long, and viewers lag further
 * behind. Said once per publisher, with what the speaker should change. */
static void note_keyframe(struct segmenter *s, int64_t dts)
{
    if (s->key_seen && dts > s->key_last)
        s->key_interval = dts - s->key_last;
    s->key_last = dts;
    s->key_seen = true;
    double iv = (double)s->key_interval / SEG_CLOCK;
    if (!s->key_logged && iv > 2 * s->segment_duration && iv > s->segment_duration + 1) {
        s->key_logged = true;
        log_msg(LV_WARN, s->id, "\"keyframes far apart: segments are as long, and viewers further "
                "behind; ask the speaker for a keyframe interval of %.0f s (OBS: Output > "
                "Keyframe Interval)\" peer=%s keyframe_interval_s=%.2f segment_duration_s=%.2f",
                s->segment_duration < 1 ? 1 : s->segment_duration, s->peer, iv, s->segment_duration);
    }
}

/* pts - dts of a frame (its reorder delay), 0 when unknown or absurd. */
static int64_t pts_offset(int64_t pts, int64_t dts)
{
    int64_t off = pts != AV_NOPTS_VALUE && dts != AV_NOPTS_VALUE ? seg_wrap_diff(pts, dts) : 0;
    return off < 0 || off > MAX_PTS_OFFSET ? 0 : off;
}

/* The time a keyframe is judged at for a cut: its dts moved by how much
 * more it is reordered than the frame that began the segment. An open
 * GOP's CRA is decoded well before it is shown (its leading pictures come
 * after it), so by dts it looks early and the segment ran a GOP long. */
static int64_t cut_time(const struct segmenter *s, int64_t dts, int64_t off, bool key)
{
    return key ? dts + off - s->seg_key_off : dts;
}

/* Whether a reference frame at `at` (frames `gap` apart) would make the
 * current LL-HLS part longer than part_duration: end the part before it. */
static bool part_due(const struct segmenter *s, int64_t at, int64_t gap)
{
    return s->part_dur && !s->part_fresh && at - s->part_start + gap > s->part_dur;
}

static int sink_packet(void *opaque, uint32_t gen, const AVPacket *pkt,
                       const AVStream *st)
{
    struct segmenter *s = opaque;
    int ret = PIPE_OK;
    char err[AV_ERROR_MAX_STRING_SIZE];

    pthread_mutex_lock(&s->lock);
    if (s->gen != gen) {
        ret = PIPE_STOP;
        goto out_unlock;
    }
    if (pkt->stream_index < 0 || pkt->stream_index >= MAX_IN_STREAMS
        || s->map[pkt->stream_index] < 0 || pkt->size <= 0)
        goto out_unlock;

    int o = s->map[pkt->stream_index];
    struct seg_track *t = &s->tracks[o];
    int64_t raw = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
    int64_t pts_raw = pkt->pts;
    AVRational tb = st->time_base;
    bool tb90 = tb.num == 1 && tb.den == SEG_CLOCK;
    if (!tb90) {
        AVRational clk = { 1, SEG_CLOCK };
        if (raw != AV_NOPTS_VALUE)
            raw = av_rescale_q(raw, tb, clk);
        if (pts_raw != AV_NOPTS_VALUE)
            pts_raw = av_rescale_q(pts_raw, tb, clk);
    }
    if (raw == AV_NOPTS_VALUE) {
        if (!t->seen)
            goto out_unlock;            /* nothing to anchor it to */
        raw = t->last_in + t->gap;
    }
    if (!s->origin_set) {
        s->tl.origin_in = raw;
        s->tl.origin_out = s->timeline_end > 0 ? s->timeline_end : ORIGIN;
        s->tl.floor = s->timeline_end;
        /* A publisher whose media came in a burst (what a connection had
         * buffered) dated its segments ahead of the clock: the next one
         * goes on from there, as PROGRAM-DATE-TIME must not go back. */
        s->wall_ms = now_ms();
        if (s->wall_ms < s->pdt_end_ms)
            s->wall_ms = s->pdt_end_ms;
        s->origin_set = true;
    }
    bool first = !t->seen;
    int64_t dts = seg_track_map(t, &s->tl, raw, s->default_gap[o]);
    if (dts == SEG_STALE && first) {
        log_msg(LV_DEBUG, s->id, "\"frame before the previous publisher's end, dropped\" "
                "stream=%d", o);
        goto out_unlock;
    }
    if (dts == SEG_STALE) {
        /* seg_track_map's two reasons: a frame back by 0.1 s or more is
         * stale (a repeat, or late); one over the frame before it is what a
         * looped or concatenated file sends, expected */
        int64_t step = seg_wrap_diff(raw, t->last_in);
        if (step <= -JITTER_MAX && s->stale++ == 0)
            log_msg(LV_WARN, s->id, "\"audio frame older than the one before it, dropped\" "
                    "stream=%d step_s=%.3f", o, (double)step / SEG_CLOCK);
        else if (step > -JITTER_MAX && s->overlapped++ == 0)
            log_msg(LV_INFO, s->id, "\"audio frame over the one before it, dropped: the audio keeps "
                    "its time to the picture\" stream=%d step_s=%.3f", o, (double)step / SEG_CLOCK);
        goto out_unlock;
    }
    if (s->tl.jumps != s->jumps_logged) {
        log_msg(LV_INFO, s->id, "\"timestamps jumped inside the stream, the timeline goes on\" "
                "stream=%d step_s=%.3f", o, (double)s->tl.jump_step / SEG_CLOCK);
        s->jumps_logged = s->tl.jumps;
    }
    t->dur = 0;
    if (pkt->duration > 0) {
        int64_t d = tb90 ? pkt->duration
                         : av_rescale_q(pkt->duration, tb, (AVRational){ 1, SEG_CLOCK });
        if (d > 0 && d < SEG_CLOCK)
            t->gap = t->dur = d;
    }
    int64_t off = pts_offset(pts_raw, raw);
    int64_t pts = dts + off;

    bool ref = o == s->ref;
    bool key = (pkt->flags & AV_PKT_FLAG_KEY) || !s->has_video;
    if (ref) {
        s->ref_last = dts;
        s->ref_seen = true;
    }
    if (ref && s->has_video && key)
        note_keyframe(s, dts);

    bool cut_done = false;
    bool ts_change = check_params(s, o, pkt, key);
    if (ts_change && !(s->started && (s->seg_streams & (1u << o)))) {
        /* the segment being built has nothing of this stream yet: it is
         * the first with the new parameters, no cut needed */
        s->disc_pending = false;
        if (s->started && s->next_seq > 0)
            s->next_disc = true;
    }
    if (s->fmp4) {
        if (params_pending(s) && ((ref && key) || !s->has_video)) {
            if ((ret = apply_params(s, dts, off, ref && key)) != PIPE_OK) {
                end_publisher(s);
                goto out_unlock;
            }
            cut_done = true;
        } else if (s->next_par[o]) {
            s->held_back++;              /* not for this init section: wait */
            goto out_unlock;
        }
    } else if (s->disc_pending && (!s->started || (ref && key) || !s->has_video)) {
        s->disc_pending = false;
        if (s->started) {
            s->cut.start = s->seg_start;
            finish_segment(s, dts);
            s->seg_start = dts;
            s->seg_key_off = off;
            s->seg_independent = ref && key;
            s->next_disc = s->next_seq > 0;
            cut_done = true;
        }
    }

    if (!s->started) {
        if (s->has_video && !(ref && key)) {
            if (dts - s->tl.origin_out < KEY_WAIT) {
                s->dropped++;
                goto out_unlock;         /* clean start at the first keyframe */
            }
            log_msg(LV_WARN, s->id, "\"no keyframe within 10 s, starting anyway\"");
        }
        s->started = true;
        s->seg_start = dts;
        s->seg_key_off = off;
        s->part_start = dts;
        s->seg_independent = ref && key;
        if (s->dropped)
            log_msg(LV_INFO, s->id, "\"started at the first keyframe\" dropped_packets=%llu",
                    (unsigned long long)s->dropped);
    } else if (!cut_done) {
        int64_t lag = ref ? 0 : (s->ref_seen ? dts - s->ref_last : INT64_MAX / 2);
        enum seg_cut c = seg_cutter_check(&s->cut, cut_time(s, dts, off, ref && key), t->gap,
                                          ref, key, lag);
        if (c == SEG_CUT_NONE && s->buf.len > SEG_MAX_BYTES - (4 << 20))
            c = SEG_CUT_FORCED;
        if (c != SEG_CUT_NONE) {
            s->cut.start = s->seg_start;
            finish_segment(s, dts);
            s->seg_start = dts;
            s->seg_key_off = off;
            s->seg_independent = c == SEG_CUT_KEYFRAME || (ref && key);
        } else if (ref && part_due(s, dts, t->gap)) {
            flush_part(s, dts);          /* parts no longer than part_duration */
        }
    }
    if (s->part_fresh) {
        s->part_independent = (ref && key) || !s->has_video;
        s->part_fresh = false;
    }
    s->cut.start = s->seg_start;

    /* A view of pkt without a reference of its own: av_write_frame copies
     * nothing from a packet without buf and frees nothing of it either. */
    s->tmp->data = pkt->data;
    s->tmp->size = pkt->size;
    s->tmp->flags = pkt->flags;
    s->tmp->side_data = pkt->side_data;
    s->tmp->side_data_elems = pkt->side_data_elems;
    s->tmp->stream_index = o;
    s->tmp->dts = dts;
    s->tmp->pts = pts;
    s->tmp->pos = -1;
    s->tmp->duration = 0;
    s->tmp->time_base = (AVRational){ 1, SEG_CLOCK };
    /* the mp4 muxer picks its own time base (1/sample_rate for audio) */
    AVRational otb = s->oc->streams[o]->time_base;
    if (otb.num != 1 || otb.den != SEG_CLOCK)
        av_packet_rescale_ts(s->tmp, (AVRational){ 1, SEG_CLOCK }, otb);
    size_t hdr = s->strip_adts[o] ? framing_adts_header(s->tmp->data, (size_t)s->tmp->size) : 0;
    if (hdr && (size_t)s->tmp->size > hdr) {
        s->tmp->data += hdr;             /* same buffer, no copy */
        s->tmp->size -= (int)hdr;
    }
    /* TS packets reach the segment through the AVIO buffer, written to the
     * segment's file a buffer at a time: a callback per 188-byte packet was
     * 13% of the packet path's instructions. SRT subscribers get each
     * packet as it is muxed (direct mode flushes the buffer first). fMP4 stays buffered: movenc patches box
     * sizes by seeking back inside the buffer. */
    if (!s->fmp4)
        s->oc->pb->direct = pull_count(s->pull) > 0;
    int r = av_write_frame(s->oc, s->tmp);
    s->tmp->side_data = NULL;            /* pkt's, not ours to free */
    s->tmp->side_data_elems = 0;
    s->tmp->data = NULL;
    if (r < 0)
        log_msg(LV_WARN, s->id, "\"packet not muxed\" stream=%d err=\"%s\"",
                o, av_make_error_string(err, sizeof(err), r));
    else {
        s->seg_has_data = true;
        s->seg_streams |= 1u << o;
    }

out_unlock:
    pthread_mutex_unlock(&s->lock);
    return ret;
}

/* The pipeline saw the next video frame begin: cut the segment or end the
 * part that frame will close now, a frame earlier than its packet allows.
 * Only for a step that sink_packet will map exactly the same way. */
static void sink_next_frame(void *opaque, uint32_t gen, const AVStream *st,
                            int64_t pts, int64_t dts, bool key)
{
    struct segmenter *s = opaque;
    int64_t raw = dts != AV_NOPTS_VALUE ? dts : pts;

    pthread_mutex_lock(&s->lock);
    if (s->gen != gen || !s->started || !s->has_video || raw == AV_NOPTS_VALUE
        || st->index < 0 || st->index >= MAX_IN_STREAMS || s->map[st->index] != s->ref
        || st->time_base.num != 1 || st->time_base.den != SEG_CLOCK)
        goto out;
    struct seg_track *t = &s->tracks[s->ref];
    int64_t d = seg_wrap_diff(raw, t->last_in);
    if (!t->seen || d <= 0 || d > MAX_STEP)
        goto out;
    int64_t at = t->last_out + d, off = pts_offset(pts, raw);
    enum seg_cut c = seg_cutter_check(&s->cut, cut_time(s, at, off, key), t->gap, true, key, 0);
    if (c == SEG_CUT_KEYFRAME) {
        finish_segment(s, at);
        s->seg_start = s->cut.start = at;
        s->seg_key_off = off;
        s->seg_independent = true;
    } else if (c == SEG_CUT_NONE && part_due(s, at, t->gap)) {
        flush_part(s, at);
    } else {
        goto out;
    }
    /* what arrives before that frame (audio) belongs to its part */
    s->part_independent = key;
    s->part_fresh = false;
out:
    pthread_mutex_unlock(&s->lock);
}

/* ---------------------------------------------------------- lifecycle */

struct segmenter *seg_create(const struct seg_params *p)
{
    struct segmenter *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->tmp = av_packet_alloc();
    if (!s->tmp) {
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    segbuf_init(&s->buf, SEG_MAX_BYTES + IO_BUF, s->id);
    snprintf(s->id, sizeof(s->id), "%s", p->session_id);
    s->output = p->output;
    s->part_output = p->part_output;
    s->opaque = p->opaque;
    s->segment_duration = p->segment_duration;
    s->fmp4 = p->fmp4;
    s->pull = p->fmp4 ? NULL : p->pull;
    s->part_dur = p->fmp4 && p->part_duration > 0 ? llrint(p->part_duration * SEG_CLOCK) : 0;
    seg_cutter_init(&s->cut, p->segment_duration, false);
    s->sink = (struct pipeline_sink){ .begin = sink_begin, .packet = sink_packet,
                                      .next_frame = sink_next_frame,
                                      .end = sink_end, .opaque = s };
    return s;
}

void seg_free(struct segmenter **ps)
{
    struct segmenter *s = *ps;
    if (!s)
        return;
    close_muxer(s);
    clear_params(s);
    segbuf_free(&s->buf);
    av_packet_free(&s->tmp);
    pthread_mutex_destroy(&s->lock);
    free(s);
    *ps = NULL;
}

const struct pipeline_sink *seg_sink(struct segmenter *s)
{
    return &s->sink;
}

void seg_continue_from(struct segmenter *s, uint64_t next_seq)
{
    pthread_mutex_lock(&s->lock);
    s->next_seq = next_seq;
    s->next_disc = next_seq > 0;
    pthread_mutex_unlock(&s->lock);
}

void seg_get_stats(struct segmenter *s, struct seg_stats *out)
{
    pthread_mutex_lock(&s->lock);
    out->segments = s->segments;
    out->bytes_out = s->bytes_out;
    out->packets_dropped = s->dropped;
    out->target = s->cut.target;
    out->last_bitrate = s->last_bitrate;
    struct seg_media *m = &out->media;
    memset(m, 0, sizeof(*m));
    for (unsigned o = 0; s->gen && s->oc && o < s->oc->nb_streams; o++) {
        const AVCodecParameters *par = s->oc->streams[o]->codecpar;
        if (par->codec_type == AVMEDIA_TYPE_VIDEO && !m->video[0]) {
            snprintf(m->video, sizeof(m->video), "%s", avcodec_get_name(par->codec_id));
            m->width = par->width;
            m->height = par->height;
            if (s->tracks[o].gap > 0)
                m->fps = (double)SEG_CLOCK / (double)s->tracks[o].gap;
            m->keyframe_interval = (double)s->key_interval / SEG_CLOCK;
            m->video_ask = codec_ask(par, s->fmp4);
        } else if (par->codec_type == AVMEDIA_TYPE_AUDIO && !m->audio[0]) {
            snprintf(m->audio, sizeof(m->audio), "%s", avcodec_get_name(par->codec_id));
            m->audio_ask = codec_ask(par, s->fmp4);
            m->sample_rate = par->sample_rate;
            m->channels = par->ch_layout.nb_channels;
        }
        m->on = true;
    }
    pthread_mutex_unlock(&s->lock);
}
