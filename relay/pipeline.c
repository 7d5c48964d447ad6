/* Publisher pipeline: SRT payload -> libavformat mpegts demuxer -> sink.
 *
 * The demuxer's AVIOContext reads through ingest_conn_read, which hands
 * srt_recvmsg the AVIOContext's own buffer, so SRT payload lands where the
 * demuxer parses it without an intermediate copy or queue. Each AVPacket
 * av_read_frame returns is refcounted; the sink references it.
 *
 * Framing. When the first TS packets show one access unit per PES (what
 * every encoder feeding SRT sends) and the codecs are H.264/HEVC/AAC, the
 * demuxer runs without libavcodec's parsers (AVFMT_FLAG_NOPARSE): they
 * would only re-find the frame boundaries the PES packets already carry,
 * scanning every byte and copying every frame twice, and they hold each
 * video frame back until the next one has arrived. Keyframes then come
 * from the NAL unit types and AAC PES packets are split on their ADTS
 * headers into references to the same buffer (framing.c). Anything else
 * keeps the parsers. Those first bytes are the one copy on this path: they
 * are read into a sniff buffer, then replayed to the demuxer.
 *
 * Lookahead. The demuxer completes a video frame only when the next one
 * starts; whether that next one is a keyframe it tells a frame later still.
 * On the PES-framed path the bytes handed to the demuxer are scanned for
 * video PES starts (a header check per TS packet), so the segmenter learns
 * the next frame's timestamps and keyframe flag as its first TS packet
 * arrives, and lists the segment or part that frame closes without waiting
 * for the frame itself. */
#define _GNU_SOURCE                      /* pthread_getattr_np */
#include "podium/pipeline.h"

#include <libavutil/opt.h>
#include <libavutil/time.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "podium/framing.h"
#include "podium/log.h"

/* The demuxer's read buffer. Each read returns one SRT message (1316
 * bytes), which libavformat appends while the buffer has 32 KiB left and
 * otherwise writes at its start: a 64 KiB buffer keeps ~33 KiB resident
 * for the session, a 4 KiB one a page (anonymous memory per session, 4
 * real-time sessions, 3 runs each: 1233-1241 -> 1209-1229 KiB). Reading
 * costs the same: one message per call either way. Probing briefly uses
 * a larger buffer (mpegts asks for seekback of probesize). */
#define IO_BUFFER_SIZE (4 * 1024)
/* Opening the input finds PAT and PMT in the first bytes, but the mpegts
 * demuxer sizes the read buffer by the probe size then (it must seek back
 * over what it read), and that buffer is only shrunk once the stream has
 * wrapped around it: 1 MiB walked through, ~2.5 s of a 3.3 Mbit/s session.
 * Probing for the streams' parameters then ends as soon as all are known,
 * usually at the first audio frame, which muxers send behind the video
 * (bench media, 3.6 Mbit/s: after 117 KB); its cap must not end it before
 * the 1 s of media does: with 1 MiB a 22 Mbit/s publisher was refused, its
 * audio not yet seen (it needed 1.9 MB). */
#define OPEN_PROBE_BYTES (1 << 20)
#define PROBE_BYTES (8 << 20)
#define ANALYZE_US 1000000
#define SNIFF_CHUNK 1456                  /* an SRT live payload at most */
/* The sniff ends after this much wall time too: an audio-only stream may
 * pack several frames per PES, and 24 of them took 8 s to arrive. */
#define SNIFF_US 1000000
/* Bounds on the time before a publisher's stream begins. Encoders send PAT
 * and PMT several times a second; a stream without a program after
 * PROGRAM_US, or still probing after BEGIN_US, is not a stream the session
 * can use, and the publisher must hear so at once, not at its hang-up. */
#define PROGRAM_US 3000000
#define BEGIN_US 10000000
#define AHEAD_MAX 8                       /* video PES starts not yet demuxed */

struct job {
    struct ingest_conn *conn;
    pipeline_sink_fn sink_of;
};

/* The publisher's byte stream: the sniffed bytes first, then the rest. */
struct input {
    pipeline_read_fn read;
    void *opaque;
    uint8_t *pre;                        /* av_malloc'd; NULL once replayed */
    size_t pre_len, pre_off;
    bool eof;
    int64_t first_at;                    /* av_gettime_relative() of the first byte */
    int64_t deadline;                    /* av_gettime_relative(); 0: none */
    bool timed_out;
    /* lookahead: video PES starts the demuxer has not returned yet */
    int video_pid;                       /* -1: not scanning */
    enum AVCodecID video_codec;
    struct pes_start ahead[AHEAD_MAX];
    unsigned ahead_n;
};

/* Set when this thread's input ends, until the demuxer has handed out
 * what it held. */
static _Thread_local bool input_ended;

bool pipeline_input_ended(void)
{
    return input_ended;
}

static int read_cb(void *opaque, uint8_t *buf, int len, int timeout_ms)
{
    int n = ingest_conn_read(opaque, buf, (size_t)len, timeout_ms);
    return n == INGEST_EOF ? AVERROR_EOF : n == INGEST_TIMEOUT ? AVERROR(ETIMEDOUT) : n;
}

/* How long a read may wait: until the deadline, if one is set. A
 * publisher that goes quiet while it is probed must not hold the probe. */
static int read_timeout(const struct input *in)
{
    if (!in->deadline)
        return -1;
    int64_t left = (in->deadline - av_gettime_relative()) / 1000;
    return left < 1 ? 1 : left > INT_MAX ? INT_MAX : (int)left;
}

/* The sniffed bytes first, then the rest. */
static int input_read_raw(struct input *in, uint8_t *buf, int len)
{
    if (in->pre) {
        size_t n = in->pre_len - in->pre_off;
        if (n > (size_t)len)
            n = (size_t)len;
        memcpy(buf, in->pre + in->pre_off, n);
        in->pre_off += n;
        if (in->pre_off == in->pre_len)
            av_freep(&in->pre);
        if (n)
            return (int)n;
    }
    if (in->eof)
        return AVERROR_EOF;
    int n = in->read(in->opaque, buf, len, read_timeout(in));
    if (n == AVERROR(ETIMEDOUT)) {
        in->timed_out = true;
        return AVERROR_EXIT;
    }
    if (n < 0)
        in->eof = input_ended = true;
    return n;
}

/* Notes the video PES starts in what the demuxer is about to parse. Reads
 * are whole TS packets (an SRT message is 7); anything else is skipped,
 * which only costs the lookahead. */
static void scan_starts(struct input *in, const uint8_t *buf, int len)
{
    if (len % TS_PACKET || buf[0] != 0x47)
        return;
    for (int off = 0; off < len; off += TS_PACKET) {
        struct pes_start ps;
        if (!framing_pes_start(buf + off, in->video_pid, in->video_codec, &ps))
            continue;
        if (in->ahead_n == AHEAD_MAX) {
            memmove(in->ahead, in->ahead + 1, sizeof(in->ahead[0]) * (AHEAD_MAX - 1));
            in->ahead_n--;
        }
        in->ahead[in->ahead_n++] = ps;
    }
}

/* After the demuxer returned the video frame with pts: the start of the
 * frame after it, if already seen. Frames the demuxer returned before the
 * scan began, or merged after a loss, match nothing: no lookahead. */
static const struct pes_start *next_start(struct input *in, int64_t pts)
{
    for (unsigned i = 0; i < in->ahead_n; i++) {
        if (((in->ahead[i].pts - pts) & ((INT64_C(1) << 33) - 1)) != 0)
            continue;
        in->ahead_n -= i + 1;
        memmove(in->ahead, in->ahead + i + 1, sizeof(in->ahead[0]) * in->ahead_n);
        return in->ahead_n ? &in->ahead[0] : NULL;
    }
    return NULL;
}

#ifndef __SANITIZE_ADDRESS__
/* Probing decodes a frame or two, far deeper in this thread's stack than
 * demuxing and muxing ever go again; the pages it touched would stay
 * resident for the session. Gives back everything more than a page below
 * the caller's frame (the page holding it and madvise's own frames stay). */
static __attribute__((noinline)) void trim_stack(void)
{
    pthread_attr_t attr;
    void *lo;
    size_t size;
    if (pthread_getattr_np(pthread_self(), &attr) != 0)
        return;
    int ok = pthread_attr_getstack(&attr, &lo, &size) == 0;
    pthread_attr_destroy(&attr);
    long pg = sysconf(_SC_PAGESIZE);
    if (!ok || pg <= 0)
        return;
    uintptr_t bottom = ((uintptr_t)lo + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
    uintptr_t top = ((uintptr_t)__builtin_frame_address(0) & ~((uintptr_t)pg - 1))
                    - (uintptr_t)pg;
    if (top > bottom && top <= (uintptr_t)lo + size)
        madvise((void *)bottom, top - bottom, MADV_DONTNEED);
}
#endif

/* The mpegts demuxer puts each video PES of unknown length in a 200 KiB
 * buffer from a pool that keeps every buffer returned to it and hands out
 * the last one returned first. Probing holds five or six at once; after it
 * the session reuses two, and the others would keep the pages of the
 * frames probing wrote into them for good (~130 KiB per session at 720p).
 * The two in use would keep the pages of the largest keyframe all along,
 * though the frames in between need a fraction of them. So the pages of a
 * probed packet's buffer, and of a keyframe's, are given back when the
 * packet is let go (only ours: no other reference); what the next frames
 * write is faulted in anew. A handful of calls per publisher, then one per
 * GOP. */
#define POOLED_MIN (64 * 1024)
static void release_pooled(const AVPacket *pkt)
{
    const AVBufferRef *b = pkt->buf;
    long pg = sysconf(_SC_PAGESIZE);
    if (!b || b->size < POOLED_MIN || av_buffer_get_ref_count(b) != 1 || pg <= 0)
        return;
    uintptr_t mask = (uintptr_t)pg - 1;
    uintptr_t lo = ((uintptr_t)b->data + mask) & ~mask;
    uintptr_t hi = ((uintptr_t)b->data + b->size) & ~mask;
    if (hi > lo)
        madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

static int input_read(void *opaque, uint8_t *buf, int len)
{
    struct input *in = opaque;
    if (in->deadline && av_gettime_relative() > in->deadline) {
        in->timed_out = true;
        return AVERROR_EXIT;
    }
    int n = input_read_raw(in, buf, len);
    if (n > 0 && in->video_pid >= 0)
        scan_starts(in, buf, n);
    return n;
}

/* Reads the stream's first bytes into in->pre until they tell how its
 * video is framed. Returns whether the PES framing can be trusted. */
static bool sniff_input(struct input *in)
{
    struct ts_sniff sn = { 0 };
    size_t cap = 0;

    while (!framing_sniff_done(&sn)
           && (!sn.bytes || av_gettime_relative() < in->first_at + SNIFF_US)) {
        if (cap - in->pre_len < SNIFF_CHUNK) {
            size_t ncap = cap ? cap * 2 : 64 * 1024;
            uint8_t *n = av_realloc(in->pre, ncap);
            if (!n)
                break;                   /* replay what we have */
            in->pre = n;
            cap = ncap;
        }
        int r = in->read(in->opaque, in->pre + in->pre_len, SNIFF_CHUNK, read_timeout(in));
        if (r == AVERROR(ETIMEDOUT)) {
            in->timed_out = true;
            break;
        }
        if (r <= 0) {
            in->eof = input_ended = true;
            break;
        }
        if (!sn.bytes) {
            in->first_at = av_gettime_relative();
            if (in->deadline > in->first_at + SNIFF_US)
                in->deadline = in->first_at + SNIFF_US;   /* a stall ends the sniff too */
        }
        framing_sniff(&sn, in->pre + in->pre_len, (size_t)r);
        in->pre_len += (size_t)r;
    }
    if (!in->pre_len)
        av_freep(&in->pre);
    return framing_pes_aligned(&sn) && sn.bytes > 0;
}

static bool streams_framable(const AVFormatContext *ic)
{
    for (unsigned i = 0; i < ic->nb_streams; i++) {
        const AVCodecParameters *par = ic->streams[i]->codecpar;
        if ((par->codec_type == AVMEDIA_TYPE_VIDEO || par->codec_type == AVMEDIA_TYPE_AUDIO)
            && !framing_codec_supported(par->codec_id))
            return false;
    }
    return true;
}

/* Hands pkt to the sink as the parsers would have: video with its keyframe
 * flag, AAC one ADTS frame per packet. The frames are views into pkt's
 * buffer: pkt itself is narrowed to each in turn (it is ours, and
 * av_packet_unref only looks at its buf). */
static int deliver(const struct pipeline_sink *sink, uint32_t gen, AVPacket *pkt,
                   const AVStream *st)
{
    enum AVCodecID id = st->codecpar->codec_id;

    if (id == AV_CODEC_ID_H264 || id == AV_CODEC_ID_HEVC) {
        if (framing_keyframe(id, pkt->data, (size_t)pkt->size) == 1)
            pkt->flags |= AV_PKT_FLAG_KEY;
        else
            pkt->flags &= ~AV_PKT_FLAG_KEY;
        return sink->packet(sink->opaque, gen, pkt, st);
    }
    if (id != AV_CODEC_ID_AAC)
        return sink->packet(sink->opaque, gen, pkt, st);

    uint8_t *data = pkt->data;
    size_t off = 0, size = (size_t)pkt->size;
    int64_t pts = pkt->pts, dts = pkt->dts, samples = 0;
    int rate = 0, ret = PIPE_OK;
    while (off < size && ret != PIPE_STOP) {
        size_t len = framing_adts_frame(data + off, size - off, &rate);
        if (!len) {
            /* not ADTS: pass it on as it is; an ADTS frame cut short (what
             * an encoder's close leaves of its last PES) would break the
             * MP4 export's decoding: drop it, alone or as a tail */
            if (off == 0 && !framing_adts_header(data, size))
                return sink->packet(sink->opaque, gen, pkt, st);
            break;
        }
        AVRational fr = { 1, rate };
        int64_t at = av_rescale_q(samples, fr, st->time_base);
        pkt->data = data + off;
        pkt->size = (int)len;
        pkt->duration = av_rescale_q(samples + 1024, fr, st->time_base) - at;
        pkt->pts = pts != AV_NOPTS_VALUE ? pts + at : pts;
        pkt->dts = dts != AV_NOPTS_VALUE ? dts + at : dts;
        pkt->flags |= AV_PKT_FLAG_KEY;
        ret = sink->packet(sink->opaque, gen, pkt, st);
        off += len;
        samples += 1024;
    }
    return ret;
}

/* One publisher's demuxed packets on their way to the sink. */
struct run {
    const char *id;
    uint32_t gen;
    const char *peer;
    const struct pipeline_sink *sink;
    struct input *in;
    bool pes_framed;
    int64_t probed_end;                  /* probing read everything before */
    const AVFormatContext *ic;
    AVPacket *held;                      /* a video PES's first piece, or empty */
    AVPacket *tail;                      /* parsed video after the input's end, or empty */
};

/* Hands one demuxed packet of stream st to the sink and lets it go.
 * Returns the sink's PIPE_OK or PIPE_STOP. */
static int hand_on(struct run *run, AVPacket *pkt, const AVStream *st)
{
    int64_t pts = pkt->pts;
    int r = run->pes_framed ? deliver(run->sink, run->gen, pkt, st)
                            : run->sink->packet(run->sink->opaque, run->gen, pkt, st);
    if ((pkt->pos >= 0 && pkt->pos < run->probed_end)
        || (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO && (pkt->flags & AV_PKT_FLAG_KEY)))
        release_pooled(pkt);
    av_packet_unref(pkt);
    if (r != PIPE_STOP && st->id == run->in->video_pid && pts != AV_NOPTS_VALUE) {
        const struct pes_start *nx = next_start(run->in, pts);
        if (nx)
            run->sink->next_frame(run->sink->opaque, run->gen, st, nx->pts, nx->dts, nx->key == 1);
    }
    return r;
}

static void log_torn(const char *id, const char *peer)
{
    log_msg(LV_DEBUG, id, "\"last video frame dropped: may be incomplete\" peer=%s", peer);
}

/* hand_on, but video after the end of the input waits to show it is
 * whole. Returns the sink's PIPE_OK or PIPE_STOP. */
static int pass_on(struct run *run, AVPacket *pkt)
{
    const AVStream *st = run->ic->streams[pkt->stream_index];
    if (!run->in->eof || st->codecpar->codec_type != AVMEDIA_TYPE_VIDEO)
        return hand_on(run, pkt, st);
    /* A video PES is complete when the next one starts; the one the
     * demuxer flushes at the end of the input may have been cut short
     * (libsrt drops what is unacknowledged when a publisher closes), and
     * a torn last frame would stay in the recording. */
    if (run->pes_framed) {
        log_torn(run->id, run->peer);
        av_packet_unref(pkt);
        return PIPE_OK;
    }
    /* The parser hands out an access unit once the next one starts, and
     * at the end flushes the rest: complete ones, then that last PES's,
     * last. Each waits for the next; pipeline_run drops the one left. */
    int r = run->tail->buf ? hand_on(run, run->tail, run->ic->streams[run->tail->stream_index])
                           : PIPE_OK;
    av_packet_move_ref(run->tail, pkt);
    return r;
}

/* The mpegts demuxer holds a video PES of unknown length (what encoders
 * send) in a 200 KiB buffer (MAX_PES_PAYLOAD in ffmpeg's mpegts.c). A
 * longer one, a keyframe of a detailed picture at a few Mbit/s, it hands
 * out in pieces: the first as soon as the next TS packet's payload would
 * not fit, the rest when the next PES starts, untimed and at the first
 * piece's pos. The parsers would join them; on the PES-framed path each
 * piece would go out as a frame of its own, and the picture and the GOP
 * after it would not decode (720p, 360 KB keyframes: every segment).
 * A piece that filled the buffer is held until the next video packet
 * shows whether more of it follows: no delay, as the frame is not
 * complete before then anyway. */
#define PES_BUFFER_MAX (200 * 1024)
#define TS_PAYLOAD_MAX 184

static bool filled_buffer(const AVPacket *pkt)
{
    return pkt->size > PES_BUFFER_MAX - TS_PAYLOAD_MAX;
}

static int take_video(struct run *run, AVPacket *pkt)
{
    AVPacket *held = run->held;
    int r = PIPE_OK;

    if (held->buf && pkt->pos >= 0 && pkt->pos == held->pos
        && pkt->stream_index == held->stream_index) {
        int at = held->size;
        bool more = filled_buffer(pkt);
        /* The one copy of such a frame: av_grow_packet moves it out of the
         * pool buffer, whose pages are given back. */
        AVBufferRef *pooled = av_buffer_ref(held->buf);
        int err = av_grow_packet(held, pkt->size);
        if (err >= 0)
            memcpy(held->data + at, pkt->data, (size_t)pkt->size);
        av_packet_unref(pkt);
        if (pooled) {
            AVPacket view = { .buf = pooled };
            if (err >= 0)
                release_pooled(&view);
            av_buffer_unref(&pooled);
        }
        if (err < 0) {
            char e[AV_ERROR_MAX_STRING_SIZE];
            log_msg(LV_ERROR, run->id, "\"video frame dropped: cannot join its pieces\" "
                    "peer=%s size=%d err=\"%s\"", run->peer, at,
                    av_make_error_string(e, sizeof(e), err));
            av_packet_unref(held);
            return PIPE_OK;
        }
        if (more)
            return PIPE_OK;
        av_packet_move_ref(pkt, held);
        return pass_on(run, pkt);
    }
    if (held->buf && (r = pass_on(run, held)) == PIPE_STOP) {
        av_packet_unref(pkt);
        return r;
    }
    if (filled_buffer(pkt)) {
        av_packet_move_ref(held, pkt);
        return r;
    }
    return pass_on(run, pkt);
}

static const char *media_name(enum AVMediaType t)
{
    const char *s = av_get_media_type_string(t);
    return s ? s : "unknown";
}

int pipeline_run(const char *id, uint32_t gen, const char *peer, pipeline_read_fn read,
                 void *opaque, const struct pipeline_sink *sink)
{
    AVFormatContext *ic = NULL;
    AVIOContext *pb = NULL;
    AVPacket *pkt = NULL, *held = NULL, *tail = NULL;
    input_ended = false;
    struct input in = { .read = read, .opaque = opaque, .video_pid = -1 };
    uint8_t *iobuf = av_malloc(IO_BUFFER_SIZE);
    char err[AV_ERROR_MAX_STRING_SIZE];
    int ret;
    bool begun = false;
    uint64_t packets = 0;

    pkt = av_packet_alloc();
    held = av_packet_alloc();
    tail = av_packet_alloc();
    ic = avformat_alloc_context();
    if (iobuf)
        pb = avio_alloc_context(iobuf, IO_BUFFER_SIZE, 0, &in, input_read, NULL, NULL);
    if (!pkt || !held || !tail || !ic || !pb) {
        ret = AVERROR(ENOMEM);
        log_msg(LV_ERROR, id, "\"out of memory starting the pipeline\" peer=%s", peer);
        if (!pb)
            av_free(iobuf);
        goto out;
    }
    ic->pb = pb;
    ic->flags |= AVFMT_FLAG_CUSTOM_IO;
    ic->probesize = OPEN_PROBE_BYTES;
    ic->max_analyze_duration = ANALYZE_US;
    ic->fps_probe_size = 0;

    in.deadline = av_gettime_relative() + BEGIN_US;    /* for the first byte */
    bool pes_framed = sniff_input(&in);
    if (!in.pre) {
        if (in.timed_out)
            log_msg(LV_WARN, id, "\"publisher refused: nothing sent\" peer=%s seconds=%.1f", peer,
                    BEGIN_US / 1e6);
        else
            log_msg(LV_INFO, id, "\"publisher left before its stream began\" peer=%s bytes=0",
                    peer);
        ret = in.timed_out ? AVERROR_INVALIDDATA : AVERROR_EOF;
        goto out;
    }
    in.timed_out = false;                /* a stall after the first bytes: the limits below */
    int64_t t0 = in.first_at;

    AVDictionary *opts = NULL;
    av_dict_set(&opts, "fix_teletext_pts", "0", 0);
    in.deadline = t0 + PROGRAM_US;
    ret = avformat_open_input(&ic, NULL, av_find_input_format("mpegts"), &opts);
    av_dict_free(&opts);
    if (ret >= 0 && (in.timed_out || ic->nb_streams == 0))
        ret = in.eof && !in.timed_out ? AVERROR_EOF : AVERROR_INVALIDDATA;
    if (ret == AVERROR_EOF) {
        log_msg(LV_INFO, id, "\"publisher left before its stream began\" peer=%s bytes=%lld",
                peer, (long long)avio_tell(pb));
        goto out;
    }
    if (ret < 0) {
        log_msg(LV_WARN, id, "\"publisher refused: not an MPEG-TS stream\" peer=%s err=\"%s\" "
                "detail=\"no program (PAT/PMT) in the first %.1f s and %lld bytes\"",
                peer, av_make_error_string(err, sizeof(err), ret),
                (double)(av_gettime_relative() - t0) / 1e6, (long long)avio_tell(pb));
        goto out;
    }
    /* Only audio and video are relayed. A private data stream the demuxer
     * cannot name is probed from its own packets, and until that is done
     * every packet read after its first waits behind it (8 MB of the
     * stream, more than BEGIN_US of it): skip such streams' PES. */
    for (unsigned i = 0; i < ic->nb_streams; i++)
        if (ic->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_DATA)
            ic->streams[i]->discard = AVDISCARD_ALL;
    pes_framed = pes_framed && streams_framable(ic);
    if (pes_framed)
        ic->flags |= AVFMT_FLAG_NOPARSE; /* before probing creates parsers */
    log_msg(LV_INFO, id, "\"input framing\" peer=%s framing=%s", peer,
            pes_framed ? "pes" : "parser");
    /* Probing decodes a frame or two: one thread each, not a pool per
     * stream. The video's keyframe tells its parameters; the frames after
     * it, which probing also decodes while it waits for the audio, tell
     * nothing we use: skipped, a publisher that starts with a keyframe
     * costs 35 M instructions to probe instead of 80 M (720p, callgrind),
     * which counts when a conference's publishers all (re)connect at once.
     * It can also find more streams (a PMT that changes): the options
     * array is as long as the count before it. */
    ic->probesize = PROBE_BYTES;
    unsigned probed = ic->nb_streams;
    AVDictionary **sopts = av_calloc(probed ? probed : 1, sizeof(*sopts));
    for (unsigned i = 0; sopts && i < probed; i++) {
        av_dict_set(&sopts[i], "threads", "1", 0);
        if (ic->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO)
            av_dict_set(&sopts[i], "skip_frame", "nokey", 0);
    }
    in.deadline = t0 + BEGIN_US;
    ret = avformat_find_stream_info(ic, sopts);
    in.deadline = 0;
    for (unsigned i = 0; sopts && i < probed; i++)
        av_dict_free(&sopts[i]);
    av_freep(&sopts);
    if (in.timed_out) {
        /* the read that timed out left the input at an error for good */
        log_msg(LV_WARN, id, "\"publisher refused: its streams could not be identified\" peer=%s "
                "seconds=%.1f bytes=%lld", peer, (double)(av_gettime_relative() - t0) / 1e6,
                (long long)avio_tell(ic->pb));
        ret = AVERROR_INVALIDDATA;
        goto out;
    }
    /* Probing decoded a frame or two in this thread's malloc arena and
     * freed it: without a trim those pages stay resident for the session,
     * 0.4 MiB each (RSS per session 1.63 -> 1.22 MiB anonymous, 4 real-time
     * sessions). Once per publisher, ~0.2-0.3 ms. Not under ASan: its
     * allocator owns the heap, and glibc's, never used there, would be
     * initialised by the first trim, racily when two publishers probe at
     * once (an arena count then underflows at thread exit: abort). */
#ifndef __SANITIZE_ADDRESS__
    malloc_trim(0);
    trim_stack();
#endif
    /* Every packet probing queued, or began, starts before this byte. */
    int64_t probed_end = avio_tell(ic->pb);
    log_msg(LV_DEBUG, id, "\"probed\" peer=%s bytes=%lld", peer, (long long)probed_end);
    if (ret < 0)
        log_msg(LV_WARN, id, "\"stream info incomplete\" peer=%s err=\"%s\"",
                peer, av_make_error_string(err, sizeof(err), ret));

    for (unsigned i = 0; i < ic->nb_streams; i++) {
        const AVCodecParameters *par = ic->streams[i]->codecpar;
        if (par->codec_type == AVMEDIA_TYPE_VIDEO)
            log_msg(LV_INFO, id, "\"input stream\" index=%u type=video codec=%s size=%dx%d",
                    i, avcodec_get_name(par->codec_id), par->width, par->height);
        else if (par->codec_type == AVMEDIA_TYPE_AUDIO)
            log_msg(LV_INFO, id, "\"input stream\" index=%u type=audio codec=%s rate=%d",
                    i, avcodec_get_name(par->codec_id), par->sample_rate);
        else
            log_msg(LV_INFO, id, "\"input stream\" index=%u type=%s codec=%s",
                    i, media_name(par->codec_type), avcodec_get_name(par->codec_id));
    }
    for (unsigned i = 0; pes_framed && sink->next_frame && i < ic->nb_streams; i++) {
        const AVStream *st = ic->streams[i];
        if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO && in.video_pid < 0) {
            in.video_pid = st->id;       /* the mpegts demuxer's id is the PID */
            in.video_codec = st->codecpar->codec_id;
        }
    }
    if ((ret = sink->begin(sink->opaque, gen, ic, peer)) != PIPE_OK)
        goto out; /* the sink logged why */
    begun = true;

    struct run run = { .id = id, .gen = gen, .peer = peer, .sink = sink, .in = &in,
                       .pes_framed = pes_framed, .probed_end = probed_end, .ic = ic,
                       .held = held, .tail = tail };
    while ((ret = av_read_frame(ic, pkt)) >= 0) {
        packets++;
        const AVStream *st = ic->streams[pkt->stream_index];
        int r = pes_framed && st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO
                    ? take_video(&run, pkt) : pass_on(&run, pkt);
        if (r == PIPE_STOP)
            break;
    }
    input_ended = false;                 /* the demuxer is done; the sink's words count */
    if (tail->buf)
        log_torn(id, peer);
    if (ret < 0 && ret != AVERROR_EOF)
        log_msg(LV_WARN, id, "\"input ended with an error\" peer=%s err=\"%s\"",
                peer, av_make_error_string(err, sizeof(err), ret));
    log_msg(LV_INFO, id, "\"publisher stream ended\" peer=%s packets=%llu",
            peer, (unsigned long long)packets);

out:
    if (begun)
        sink->end(sink->opaque, gen);
    avformat_close_input(&ic);
    if (pb) {
        av_freep(&pb->buffer);
        avio_context_free(&pb);
    }
    av_packet_free(&pkt);
    av_packet_free(&held);             /* a piece whose rest never came */
    av_packet_free(&tail);             /* the parser's last, maybe cut short */
    av_free(in.pre);
    return ret == AVERROR_EOF || ret == PIPE_STOP ? 0 : ret;
}

static void *publisher_thread(void *arg)
{
    struct job *job = arg;
    struct ingest_conn *conn = job->conn;
    const struct pipeline_sink *sink = job->sink_of(ingest_conn_session(conn));
    free(job);
    struct session *s = ingest_conn_session(conn);
    pipeline_run(s->id, ingest_conn_gen(conn), ingest_conn_peer(conn), read_cb, conn, sink);
    ingest_conn_close(&conn);
    return NULL;
}

int pipeline_spawn(struct ingest_conn *conn, pipeline_sink_fn sink_of)
{
    struct job *job = malloc(sizeof(*job));
    pthread_attr_t attr;
    pthread_t tid;
    int ret = -1;

    if (!job)
        goto out_close;
    job->conn = conn;
    job->sink_of = sink_of;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&tid, &attr, publisher_thread, job) == 0)
        ret = 0;
    pthread_attr_destroy(&attr);
    if (ret == 0)
        return 0;
    free(job);
out_close:
    log_msg(LV_ERROR, ingest_conn_session(conn)->id, "\"cannot start publisher thread\"");
    ingest_conn_close(&conn);
    return -1;
}
