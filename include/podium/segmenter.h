/* Segmenter: normalises timestamps, decides cuts, muxes MPEG-TS segments
 * once into refcounted memory and hands each finished segment on. */
#ifndef PODIUM_SEGMENTER_H
#define PODIUM_SEGMENTER_H

#include <libavformat/avformat.h>
#include <libavutil/buffer.h>
#include <stdbool.h>
#include <stdint.h>

#include "podium/pipeline.h"

#define SEG_CLOCK 90000              /* all segmenter times are in 1/90000 s */
#define SEG_MAX_BYTES (64 << 20)     /* a segment larger than this is cut */
#define SEG_MAX_STREAMS 8

/* A finished segment. `data` is immutable once published. */
struct media_segment {
    uint64_t seq;              /* media sequence number, never goes back */
    double duration;           /* seconds, <= target_duration */
    int target_duration;       /* EXT-X-TARGETDURATION, fixed per session */
    int64_t pdt_ms;            /* wall clock of the first frame, Unix ms */
    bool discontinuity;        /* first segment of a new publisher */
    bool independent;          /* starts with a keyframe (or audio-only) */
    AVBufferRef *data;         /* the muxed bytes */
    /* fMP4 only: the initialization section this segment needs, and its id
     * (the seq of the first segment muxed with it). NULL for MPEG-TS. */
    AVBufferRef *init;
    uint64_t init_id;
    int parts;                 /* LL-HLS parts the segment was published as */
};

/* An LL-HLS partial segment: part `index` of segment `seq`. The parts of a
 * segment, in order, are exactly the segment's bytes. */
struct media_part {
    uint64_t seq;
    int index;
    double duration;
    bool independent;          /* starts with a keyframe */
    AVBufferRef *data;
    AVBufferRef *init;         /* as in media_segment */
    uint64_t init_id;
};

/* Receive each segment / part; they borrow it (take av_buffer_ref to keep). */
typedef void (*seg_output_fn)(void *opaque, const struct media_segment *seg);
typedef void (*seg_part_fn)(void *opaque, const struct media_part *part);

/* --- cut logic (pure; exposed for unit tests) --- */
enum seg_cut { SEG_CUT_NONE, SEG_CUT_KEYFRAME, SEG_CUT_FORCED };

struct seg_cutter {
    int64_t seg_dur;           /* configured segment_duration */
    int64_t first_cap;         /* longest first segment before the target is fixed */
    int target;                /* fixed EXT-X-TARGETDURATION (s); 0 = not yet */
    bool audio_ref;            /* reference stream is audio (every frame a key) */
    int64_t start;             /* current segment's start */
};

void seg_cutter_init(struct seg_cutter *c, double segment_duration, bool audio_ref);
/* Decision for a packet at time ts on the reference stream (ref=true) or
 * another stream; gap is the spacing of that stream's frames; ref_lag is
 * how far the reference stream's last time is behind ts (0 for ref). */
enum seg_cut seg_cutter_check(const struct seg_cutter *c, int64_t ts, int64_t gap,
                              bool ref, bool key, int64_t ref_lag);
/* Fixes the target from the first segment's duration (ticks); idempotent. */
void seg_cutter_fix_target(struct seg_cutter *c, int64_t first_duration);

/* --- timestamp normalisation (pure; exposed for unit tests) --- */
struct seg_track {
    bool seen;
    bool contiguous;           /* audio: frames are samples, never overlap them */
    int64_t last_in;           /* last input dts (any epoch, 33-bit wrapping) */
    int64_t last_out;          /* last output dts on the session timeline */
    int64_t gap;               /* last positive dts spacing */
    int64_t dur;               /* the last frame's duration if the input said, else 0 */
};

/* What the tracks of one publisher share. */
struct seg_timeline {
    int64_t origin_in;         /* the publisher's first input dts ... */
    int64_t origin_out;        /* ... and where it landed */
    int64_t clock;             /* latest output dts of any track */
    int64_t floor;             /* where the previous publisher ended: no
                                  audio of this one begins before it */
    bool have_clock;
    unsigned tracks;           /* the publisher's tracks (a lone one has no sync to keep) */
    /* The newest re-anchoring after a jump: the tracks that jump after the
     * first one keep their offset to it, so audio stays with video. */
    bool jumped;
    int64_t jump_in, jump_out, jump_step;
    unsigned jumps;            /* how many new epochs were re-anchored */
};

/* Signed difference a-b of two 33-bit MPEG timestamps. */
int64_t seg_wrap_diff(int64_t a, int64_t b);

/* seg_track_map's answer for a frame to drop: audio stepping back into
 * frames already sent while another track goes on without a jump. */
#define SEG_STALE INT64_MIN

/* Maps one input dts to the session timeline and advances tl->clock.
 * Returns the output dts, strictly increasing per track; a jump or reset
 * is re-anchored at the clock, or beside another track's re-anchoring;
 * SEG_STALE (nothing changed) for a frame the caller must drop: also an
 * audio track's first frames while they would land before tl->floor. */
int64_t seg_track_map(struct seg_track *t, struct seg_timeline *tl, int64_t in,
                      int64_t default_gap);

/* --- the segmenter --- */
struct seg_params {
    const char *session_id;
    double segment_duration;
    bool fmp4;                 /* CMAF fragments instead of MPEG-TS */
    double part_duration;      /* > 0 (fmp4): publish parts this long */
    seg_output_fn output;
    seg_part_fn part_output;   /* may be NULL */
    void *opaque;              /* for both */
    struct pull *pull;         /* MPEG-TS subscribers fed as muxed; may be NULL */
};

struct segmenter;

/* NULL on allocation failure. Free with seg_free. */
struct segmenter *seg_create(const struct seg_params *p);
/* Flushes nothing; call seg_sink()->end first to publish a partial segment. */
void seg_free(struct segmenter **s);

/* The pipeline sink feeding this segmenter (pointer valid while s lives). */
const struct pipeline_sink *seg_sink(struct segmenter *s);

/* Numbers the next segment next_seq (recording continued after a restart);
 * it then carries a discontinuity. Call before the first publisher. */
void seg_continue_from(struct segmenter *s, uint64_t next_seq);

/* What the current publisher sends, as relayed (after any change of
 * parameters mid-stream): for the organizer, who asks a speaker to fix
 * their encoder before the talk rather than after. */
struct seg_media {
    bool on;                   /* a publisher's streams are being relayed */
    char video[16];            /* codec name, "" when none */
    int width, height;
    double fps;                /* from the last frame's duration, 0 unknown */
    double keyframe_interval;  /* s between the last two keyframes, 0 unknown */
    char audio[16];            /* codec name, "" when none */
    int sample_rate, channels;
    /* what to ask the speaker for when some browsers cannot play what they
     * send ("H.264", "AAC"), else NULL; static strings */
    const char *video_ask, *audio_ask;
};

struct seg_stats {
    uint64_t segments;         /* produced so far */
    uint64_t bytes_out;
    uint64_t packets_dropped;  /* before the first keyframe, unusable */
    int target;
    double last_bitrate;       /* bits/s of the last segment */
    struct seg_media media;
};
void seg_get_stats(struct segmenter *s, struct seg_stats *out);

#endif
