/* Unit tests: segmenter timestamp normalisation and cut decisions (the pure
 * functions exposed in segmenter.h). All times in 1/90000 s. */
#include "unit.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "podium/segmenter.h"

#define WRAP (INT64_C(1) << 33)
#define SEC(x) ((int64_t)((x) * SEG_CLOCK))
#define ORIGIN_OUT SEC(10)

/* ------------------------------------------------------------ wrap diff */

static void test_wrap_diff(void **state)
{
    (void)state;
    assert_int_equal(seg_wrap_diff(0, 0), 0);
    assert_int_equal(seg_wrap_diff(3000, 0), 3000);
    assert_int_equal(seg_wrap_diff(0, 3000), -3000);
    assert_int_equal(seg_wrap_diff(123456789, 123453789), 3000);
    /* across the 33-bit wrap, both directions */
    assert_int_equal(seg_wrap_diff(1500, WRAP - 1500), 3000);
    assert_int_equal(seg_wrap_diff(WRAP - 1500, 1500), -3000);
    assert_int_equal(seg_wrap_diff(0, WRAP - 1), 1);
    assert_int_equal(seg_wrap_diff(WRAP - 1, 0), -1);
    /* large but under half the range keeps its sign */
    int64_t hour = SEC(3600);
    assert_int_equal(seg_wrap_diff(hour, 0), hour);
    assert_int_equal(seg_wrap_diff(0, hour), -hour);
    assert_int_equal(seg_wrap_diff(hour / 2, WRAP - hour / 2), hour);
    assert_int_equal(seg_wrap_diff(WRAP / 2 - 1, 0), WRAP / 2 - 1);
    assert_int_equal(seg_wrap_diff(0, WRAP / 2 - 1), -(WRAP / 2 - 1));
    /* only the low 33 bits count */
    assert_int_equal(seg_wrap_diff(WRAP + 5, 5), 0);
    assert_int_equal(seg_wrap_diff(3 * WRAP + 3005, 5), 3000);
}

/* ------------------------------------------------------------ track map */

struct tl {
    struct seg_track t;
    int64_t origin_in;
    int64_t default_gap;
    struct seg_timeline line;
};

/* One track alone, told what the session clock is. */
static int64_t map(struct tl *x, int64_t in, int64_t clock, bool have_clock)
{
    x->line.origin_in = x->origin_in & (WRAP - 1);
    x->line.origin_out = ORIGIN_OUT;
    x->line.clock = clock;
    x->line.have_clock = have_clock;
    return seg_track_map(&x->t, &x->line, in & (WRAP - 1), x->default_gap);
}

/* Runs n frames of `step` from in0; returns the last output. */
static int64_t run(struct tl *x, int64_t in0, int n, int64_t step)
{
    int64_t out = 0;
    for (int k = 0; k < n; k++)
        out = map(x, in0 + k * step, 0, false);
    return out;
}

static void test_map_monotonic(void **state)
{
    (void)state;
    struct tl x = { .origin_in = 500000, .default_gap = 3000 };
    for (int k = 0; k < 100; k++) {
        int64_t out = map(&x, x.origin_in + k * 3000, 0, false);
        assert_int_equal(out, ORIGIN_OUT + k * 3000);
    }
    assert_true(x.t.seen);
    assert_int_equal(x.t.gap, 3000);
    assert_int_equal(x.t.last_out, ORIGIN_OUT + 99 * 3000);
}

static void test_map_first_packet_offset(void **state)
{
    (void)state;
    /* the publisher's first timestamp maps to origin_out ... */
    struct tl a = { .origin_in = 7777777, .default_gap = 3000 };
    assert_int_equal(map(&a, 7777777, 0, false), ORIGIN_OUT);
    /* ... and another track's first packet keeps its offset to it */
    struct tl v = { .origin_in = 7777777, .default_gap = 3000 };
    assert_int_equal(map(&v, 7777777 + 4500, ORIGIN_OUT, true), ORIGIN_OUT + 4500);
    struct tl b = { .origin_in = 7777777, .default_gap = 1920 };
    assert_int_equal(map(&b, 7777777 - 1500, ORIGIN_OUT, true), ORIGIN_OUT - 1500);
    /* offset measured across the wrap */
    struct tl w = { .origin_in = WRAP - 1000, .default_gap = 3000 };
    assert_int_equal(map(&w, 2000, ORIGIN_OUT, true), ORIGIN_OUT + 3000);
    /* a track on an unrelated time base starts at the session clock */
    struct tl far = { .origin_in = 7777777, .default_gap = 3000 };
    assert_int_equal(map(&far, 7777777 + SEC(3600), ORIGIN_OUT + 6000, true),
                     ORIGIN_OUT + 6000);
    struct tl back = { .origin_in = 7777777, .default_gap = 3000 };
    assert_int_equal(map(&back, 7777777 - SEC(600), ORIGIN_OUT + 6000, true),
                     ORIGIN_OUT + 6000);
}

/* A publisher after another begins at the previous one's end (floor):
 * its audio stamped before its first video frame would overlap the last
 * frames there, so it is dropped until it reaches the floor; video keeps
 * its place (its first frame is the keyframe a segment starts on). */
static void test_map_floor(void **state)
{
    (void)state;
    const int64_t in0 = 900000;
    struct seg_timeline line = { .origin_in = in0, .origin_out = ORIGIN_OUT, .floor = ORIGIN_OUT,
                                 .tracks = 2 };
    struct seg_track v = { 0 }, a = { .contiguous = true };
    assert_int_equal(seg_track_map(&v, &line, in0, 3000), ORIGIN_OUT);
    assert_true(seg_track_map(&a, &line, in0 - 1920, 1920) == SEG_STALE);
    assert_false(a.seen);
    assert_int_equal(seg_track_map(&a, &line, in0 + 60, 1920), ORIGIN_OUT + 60);
    assert_int_equal(seg_track_map(&a, &line, in0 + 60 + 1920, 1920), ORIGIN_OUT + 60 + 1920);
    /* video is never held to the floor */
    struct seg_timeline vline = { .origin_in = in0, .origin_out = ORIGIN_OUT, .floor = ORIGIN_OUT,
                                  .tracks = 2 };
    struct seg_track a2 = { .contiguous = true }, v2 = { 0 };
    assert_int_equal(seg_track_map(&a2, &vline, in0, 1920), ORIGIN_OUT);
    assert_int_equal(seg_track_map(&v2, &vline, in0 - 3000, 3000), ORIGIN_OUT - 3000);
    /* the session's first publisher has no floor */
    struct seg_timeline first = { .origin_in = in0, .origin_out = ORIGIN_OUT, .tracks = 2 };
    struct seg_track a3 = { .contiguous = true };
    assert_int_equal(seg_track_map(&a3, &first, in0 - 1920, 1920), ORIGIN_OUT - 1920);
}

static void test_map_wrap(void **state)
{
    (void)state;
    struct tl x = { .origin_in = WRAP - 30000, .default_gap = 3000 };
    int64_t prev = 0;
    for (int k = 0; k < 30; k++) {
        int64_t in = (x.origin_in + k * 3000) % WRAP;   /* wraps at k = 10 */
        int64_t out = map(&x, in, prev, k > 0);
        assert_int_equal(out, ORIGIN_OUT + k * 3000);
        prev = out;
    }
    /* wrapping exactly onto 0 */
    struct tl z = { .origin_in = WRAP - 6000, .default_gap = 3000 };
    assert_int_equal(map(&z, WRAP - 6000, 0, false), ORIGIN_OUT);
    assert_int_equal(map(&z, WRAP - 3000, 0, false), ORIGIN_OUT + 3000);
    assert_int_equal(map(&z, 0, 0, false), ORIGIN_OUT + 6000);
    assert_int_equal(map(&z, 3000, 0, false), ORIGIN_OUT + 9000);
}

static void test_map_backward_jump_with_clock(void **state)
{
    (void)state;
    int64_t in0 = SEC(5000);
    /* clock well ahead of this track: re-anchored exactly to the clock */
    struct tl x = { .origin_in = in0, .default_gap = 3000 };
    int64_t last = run(&x, in0, 50, 3000);
    int64_t clock = last + SEC(0.5);
    int64_t out = map(&x, in0 + 50 * 3000 - SEC(3600), clock, true);
    assert_int_equal(out, clock);
    /* and continues from there at its own pace */
    assert_int_equal(map(&x, in0 + 51 * 3000 - SEC(3600), clock, true), clock + 3000);

    /* clock barely ahead: still after last_out and close to the clock */
    struct tl y = { .origin_in = in0, .default_gap = 3000 };
    last = run(&y, in0, 50, 3000);
    clock = last + 1000;
    out = map(&y, in0 + 50 * 3000 - SEC(3600), clock, true);
    assert_true(out > last);
    assert_true(llabs(out - clock) <= SEC(0.1));
}

static void test_map_backward_jump_without_clock(void **state)
{
    (void)state;
    int64_t in0 = SEC(5000);
    struct tl x = { .origin_in = in0, .default_gap = 3000 };
    int64_t last = run(&x, in0, 50, 3000);
    assert_int_equal(map(&x, in0 + 50 * 3000 - SEC(3600), 0, false), last + 3000);
    assert_int_equal(map(&x, in0 + 51 * 3000 - SEC(3600), 0, false), last + 6000);

    /* timebase reset to 0 */
    struct tl r = { .origin_in = in0, .default_gap = 3000 };
    last = run(&r, in0, 10, 3000);
    assert_int_equal(map(&r, 0, 0, false), last + 3000);
    assert_int_equal(map(&r, 3000, 0, false), last + 6000);
}

static void test_map_forward_jump(void **state)
{
    (void)state;
    int64_t in0 = SEC(100);
    /* without a clock: one frame after the last output */
    struct tl x = { .origin_in = in0, .default_gap = 3000 };
    int64_t last = run(&x, in0, 20, 3000);
    assert_int_equal(map(&x, in0 + 20 * 3000 + SEC(30), 0, false), last + 3000);
    assert_int_equal(map(&x, in0 + 21 * 3000 + SEC(30), 0, false), last + 6000);

    /* with a clock far behind the landing point: also re-anchored */
    struct tl y = { .origin_in = in0, .default_gap = 3000 };
    last = run(&y, in0, 20, 3000);
    int64_t out = map(&y, in0 + 20 * 3000 + SEC(30), last + 1000, true);
    assert_true(out > last && out <= last + SEC(0.1));

    /* a stall every track saw (lands near the clock): kept as is */
    struct tl z = { .origin_in = in0, .default_gap = 3000 };
    last = run(&z, in0, 20, 3000);
    int64_t clock = last + 3000 + SEC(30) - SEC(0.5);
    assert_int_equal(map(&z, in0 + 20 * 3000 + SEC(30), clock, true),
                     last + 3000 + SEC(30));
}

/* A publisher's 30 fps video and AAC audio (1920 ticks a frame) on one
 * timeline, audio sent `lead` ahead of video as MPEG-TS muxers do. At
 * media time 4 s the encoder restarts: both go back 4 s. After the jump,
 * audio must keep its place relative to video (lip sync) and never
 * overlap its own frames. */
static void jump_keeps_av_sync(int64_t lead, int64_t jump)
{
    const int64_t in0 = SEC(1.4);
    struct seg_timeline line = { .origin_in = in0, .origin_out = ORIGIN_OUT, .tracks = 2 };
    struct seg_track v = { 0 }, a = { .contiguous = true };
    int64_t k = 0, n = 0, vout = 0, aout = -1, v_t = 0, a_t = 0;
    while (k < 240 || n < 375) {
        int64_t vt = k * 3000, at = n * 1920;
        bool audio = n < 375 && (k >= 240 || at - lead < vt);
        int64_t t = audio ? at : vt;
        int64_t in = in0 + t - (t >= jump ? jump : 0);
        if (audio) {
            int64_t out = seg_track_map(&a, &line, in, 1920);
            n++;
            if (out == SEG_STALE)
                continue;            /* a short reset the audio saw first */
            if (aout >= 0 && out < aout + 1920)
                fail_msg("lead %lld: audio frame %lld at %lld overlaps the one at %lld",
                         (long long)lead, (long long)n, (long long)out, (long long)aout);
            aout = out;
            a_t = at;
        } else {
            vout = seg_track_map(&v, &line, in, 3000);
            v_t = vt;
            k++;
        }
    }
    int64_t skew = (aout - vout) - (a_t - v_t);
    if (llabs(skew) > 1920)
        fail_msg("lead %lld: after the jump audio is %lld ticks off video", (long long)lead,
                 (long long)skew);
    assert_int_equal(line.jumps, 1);             /* one jump, logged once */
}

static void test_map_jump_keeps_av_sync(void **state)
{
    (void)state;
    jump_keeps_av_sync(SEC(0.2), SEC(4));        /* audio jumps first */
    jump_keeps_av_sync(-SEC(0.2), SEC(4));       /* video jumps first */
    jump_keeps_av_sync(0, SEC(4));
    /* back by less than STALE_MAX: audio that sees it first is dropped
     * until the video's jump sets the epoch */
    jump_keeps_av_sync(SEC(0.2), SEC(0.5));
    jump_keeps_av_sync(-SEC(0.2), SEC(0.5));
}

/* 30 fps video and AAC in PES of 5 frames (9600 ticks), audio 0.2 s ahead
 * as muxers send it. After the 20th, the audio PES before it comes again
 * (a repeat, or late around a loss; 75 publishers on 2 cores showed it):
 * it is dropped, nothing jumps, and the audio after it keeps its place
 * relative to the video. Re-anchored, it moved all later audio 0.1-0.2 s
 * off the video. */
static void test_map_stale_audio(void **state)
{
    (void)state;
    const int64_t in0 = SEC(7), lead = SEC(0.2), pes = 9600;
    struct seg_timeline line = { .origin_in = in0, .origin_out = ORIGIN_OUT, .tracks = 2 };
    struct seg_track v = { 0 }, a = { .contiguous = true };
    int64_t k = 0, n = 0, vout = 0, aout = -1, v_t = 0, a_t = 0;
    bool repeated = false;
    while (k < 120 || n < 40) {
        int64_t vt = k * 3000, at = n * pes;
        bool audio = n < 40 && (k >= 120 || at - lead < vt);
        if (audio) {
            int64_t out = seg_track_map(&a, &line, in0 + at, pes);
            if (aout >= 0 && out != aout + pes)
                fail_msg("audio PES %lld at %lld, %lld after the one before", (long long)n,
                         (long long)out, (long long)(out - aout));
            aout = out;
            a_t = at;
            if (n == 20 && !repeated) {
                repeated = true;
                assert_true(seg_track_map(&a, &line, in0 + at - pes, pes) == SEG_STALE);
            }
            n++;
        } else {
            vout = seg_track_map(&v, &line, in0 + vt, 3000);
            v_t = vt;
            k++;
        }
    }
    assert_int_equal((aout - vout) - (a_t - v_t), 0);
    assert_int_equal(line.jumps, 0);

    /* an audio-only publisher has no sync to keep: it re-anchors */
    struct seg_timeline alone = { .origin_in = in0, .origin_out = ORIGIN_OUT, .tracks = 1 };
    struct seg_track only = { .contiguous = true };
    for (n = 0; n <= 20; n++)
        aout = seg_track_map(&only, &alone, in0 + n * pes, pes);
    int64_t back = seg_track_map(&only, &alone, in0 + 19 * pes, pes);
    assert_true(back != SEG_STALE && back > aout);
    assert_int_equal(alone.jumps, 1);
}

static void test_map_audio_back_step(void **state)
{
    (void)state;
    /* a looped file: the audio steps back 479 ticks; the frames after it
     * must not overlap the ones already sent */
    struct tl x = { .origin_in = 1000000, .default_gap = 1920 };
    x.t.contiguous = true;
    int64_t prev = map(&x, x.origin_in, 0, false);
    int64_t in = x.origin_in;
    for (int k = 1; k < 20; k++) {
        in += k == 10 ? 1920 - 2399 : 1920;
        int64_t out = map(&x, in, prev, true);
        if (out < prev + 1920)
            fail_msg("frame %d at %lld overlaps the one at %lld", k, (long long)out, (long long)prev);
        prev = out;
    }
    assert_int_equal(prev, ORIGIN_OUT + 19 * 1920);

    /* ffmpeg -stream_loop -c copy: one audio frame 1 tick after the last
     * one, which lasts 1920 (the demuxer said so) */
    struct tl y = { .origin_in = 1000000, .default_gap = 1920 };
    y.t.contiguous = true;
    prev = map(&y, y.origin_in, 0, false);
    in = y.origin_in;
    for (int k = 1; k < 20; k++) {
        y.t.dur = 1920;
        in += k == 10 ? 1 : 1920;
        int64_t out = map(&y, in, prev, true);
        if (out < prev + 1920)
            fail_msg("frame %d at %lld overlaps the one at %lld", k, (long long)out, (long long)prev);
        prev = out;
    }
    assert_int_equal(prev, ORIGIN_OUT + 19 * 1920);
}

/* ffmpeg -stream_loop -c copy beside video: each loop's first audio frame
 * comes 1 tick after the last one. Moved after it, the audio would fall a
 * frame further behind the picture every loop (1 s after 45 loops of a
 * 60 s file); dropped, it keeps its input time to the frame, loop after
 * loop, and no frame overlaps another. Alone (test_map_audio_back_step),
 * the audio is moved instead: there is no picture to keep up with. */
static void test_map_looped_audio_beside_video(void **state)
{
    (void)state;
    struct tl a = { .origin_in = 1000000, .default_gap = 1920 };
    a.t.contiguous = true;
    a.line.tracks = 2;
    int64_t in = a.origin_in, prev = map(&a, in, 0, false);
    int dropped = 0;
    for (int loop = 0; loop < 60; loop++) {
        for (int k = 1; k <= 100; k++) {
            a.t.dur = 1920;
            in += k == 1 ? 1 : 1920;           /* a loop's first frame: 1 tick on */
            int64_t out = map(&a, in, prev, true);
            if (out == SEG_STALE) {
                dropped++;
                continue;
            }
            if (out < prev + 1920)
                fail_msg("loop %d frame %d at %lld overlaps the one at %lld", loop, k, (long long)out,
                         (long long)prev);
            if (out - in != ORIGIN_OUT - a.origin_in)
                fail_msg("loop %d frame %d: %lld ticks off its input time", loop, k,
                         (long long)(out - in - (ORIGIN_OUT - a.origin_in)));
            prev = out;
        }
    }
    assert_int_equal(dropped, 60);
}

static void test_map_jitter(void **state)
{
    (void)state;
    static const int64_t in[] = { 0, 3000, 6000, 5990, 9000, 9000, 12000,
                                  11100, 15000, 18000 };
    struct tl x = { .origin_in = 1000000, .default_gap = 3000 };
    int64_t prev = -1;
    for (size_t k = 0; k < UNIT_LEN(in); k++) {
        int64_t out = map(&x, x.origin_in + in[k], 0, false);
        if (out <= prev)
            fail_msg("input %zu (%lld): output %lld not after %lld", k,
                     (long long)in[k], (long long)out, (long long)prev);
        /* stays close to the input timeline: no jump, no big drift */
        if (llabs(out - (ORIGIN_OUT + in[k])) > SEC(0.02))
            fail_msg("input %zu (%lld): output %lld drifted from %lld", k,
                     (long long)in[k], (long long)out,
                     (long long)(ORIGIN_OUT + in[k]));
        prev = out;
    }
}

static void test_map_gap(void **state)
{
    (void)state;
    /* re-anchoring uses the stream's default gap before any spacing is seen */
    struct tl a = { .origin_in = 0, .default_gap = 3600 };
    assert_int_equal(map(&a, 0, 0, false), ORIGIN_OUT);
    assert_int_equal(map(&a, SEC(100), 0, false), ORIGIN_OUT + 3600);
    /* no default: 1/30 s */
    struct tl b = { .origin_in = 0, .default_gap = 0 };
    assert_int_equal(map(&b, 0, 0, false), ORIGIN_OUT);
    assert_int_equal(map(&b, -SEC(100), 0, false), ORIGIN_OUT + SEG_CLOCK / 30);
    /* afterwards the observed spacing (29.97 fps) */
    struct tl c = { .origin_in = 0, .default_gap = 3000 };
    int64_t last = run(&c, 0, 10, 3003);
    assert_int_equal(c.t.gap, 3003);
    assert_int_equal(map(&c, SEC(1000), 0, false), last + 3003);
    /* a step of up to 2 s (audio hole) is kept as is */
    struct tl d = { .origin_in = 0, .default_gap = 1920 };
    last = run(&d, 0, 10, 1920);
    assert_int_equal(map(&d, 9 * 1920 + SEC(1.5), 0, false), last + SEC(1.5));
    assert_int_equal(d.t.gap, 1920);  /* a hole is not the frame spacing */
}

/* ------------------------------------------------------------ cutter */

static struct seg_cutter cutter(double dur, bool audio, int64_t start)
{
    struct seg_cutter c;
    seg_cutter_init(&c, dur, audio);
    c.start = start;
    return c;
}

static void test_cutter_init(void **state)
{
    (void)state;
    struct seg_cutter c;
    seg_cutter_init(&c, 2.0, false);
    assert_int_equal(c.seg_dur, 180000);
    assert_int_equal(c.target, 0);
    assert_false(c.audio_ref);
    assert_int_equal(c.start, 0);
    assert_true(c.first_cap >= 3 * c.seg_dur);
    assert_true(c.first_cap <= SEC(30));
    seg_cutter_init(&c, 2.5, true);
    assert_int_equal(c.seg_dur, 225000);
    assert_true(c.audio_ref);
    seg_cutter_init(&c, 0.5, false);
    assert_int_equal(c.seg_dur, 45000);
    seg_cutter_init(&c, 30.0, false);
    assert_int_equal(c.seg_dur, SEC(30));
    assert_true(c.first_cap >= c.seg_dur);
}

static void test_cutter_keyframe(void **state)
{
    (void)state;
    const int64_t s = SEC(20);
    struct seg_cutter c = cutter(2.0, false, s);
    /* video reference keyframe at or after segment_duration */
    assert_int_equal(seg_cutter_check(&c, s + 180000, 3000, true, true, 0), SEG_CUT_KEYFRAME);
    assert_int_equal(seg_cutter_check(&c, s + 270000, 3000, true, true, 0), SEG_CUT_KEYFRAME);
    /* too early, not the reference, not a keyframe, or the segment's start */
    assert_int_equal(seg_cutter_check(&c, s + 90000, 3000, true, true, 0), SEG_CUT_NONE);
    assert_int_equal(seg_cutter_check(&c, s + 177000, 3000, true, true, 0), SEG_CUT_NONE);
    assert_int_equal(seg_cutter_check(&c, s + 180000, 1920, false, true, 0), SEG_CUT_NONE);
    assert_int_equal(seg_cutter_check(&c, s + 180000, 3000, true, false, 0), SEG_CUT_NONE);
    assert_int_equal(seg_cutter_check(&c, s + 270000, 3000, true, false, 0), SEG_CUT_NONE);
    assert_int_equal(seg_cutter_check(&c, s, 3000, true, true, 0), SEG_CUT_NONE);
}

static void test_cutter_first_cap(void **state)
{
    (void)state;
    const int64_t s = SEC(20);
    struct seg_cutter c = cutter(2.0, false, s);
    int64_t cap = c.first_cap;
    /* before the target is fixed only the cap forces a cut */
    assert_int_equal(seg_cutter_check(&c, s + SEC(5), 3000, true, false, 0), SEG_CUT_NONE);
    assert_int_equal(seg_cutter_check(&c, s + cap - 3000, 3000, true, false, 0), SEG_CUT_NONE);
    assert_int_equal(seg_cutter_check(&c, s + cap - 2999, 3000, true, false, 0), SEG_CUT_FORCED);
    assert_int_equal(seg_cutter_check(&c, s + cap, 3000, true, false, 0), SEG_CUT_FORCED);
    /* a longer GOP than segment_duration is waited for: 3 s here */
    assert_int_equal(seg_cutter_check(&c, s + SEC(3) - 3000, 3000, true, false, 0), SEG_CUT_NONE);
    assert_int_equal(seg_cutter_check(&c, s + SEC(3), 3000, true, true, 0), SEG_CUT_KEYFRAME);
    /* non-reference stream with a stalled reference: cap too */
    assert_int_equal(seg_cutter_check(&c, s + cap, 1920, false, true, SEC(2)), SEG_CUT_FORCED);
    assert_int_equal(seg_cutter_check(&c, s + SEC(5), 1920, false, true, SEC(2)), SEG_CUT_NONE);
}

static void test_cutter_fix_target(void **state)
{
    (void)state;
    struct seg_cutter c;
    seg_cutter_init(&c, 2.0, false);
    seg_cutter_fix_target(&c, SEC(2.0));
    assert_int_equal(c.target, 2);

    seg_cutter_init(&c, 2.0, false);
    seg_cutter_fix_target(&c, 180180);            /* 2.002 s: 60 frames at 29.97 */
    assert_int_equal(c.target, 3);

    seg_cutter_init(&c, 1.0, false);
    seg_cutter_fix_target(&c, SEC(3.0));           /* 3 s GOP */
    assert_int_equal(c.target, 3);

    seg_cutter_init(&c, 2.0, true);
    seg_cutter_fix_target(&c, 180450);            /* audio, 2.005 s */
    assert_int_equal(c.target, 2);

    /* a short first segment (publisher left early) still gets the config */
    seg_cutter_init(&c, 2.0, false);
    seg_cutter_fix_target(&c, SEC(0.4));
    assert_int_equal(c.target, 2);
    seg_cutter_init(&c, 0.5, false);
    seg_cutter_fix_target(&c, SEC(0.5));
    assert_int_equal(c.target, 1);

    /* fixed once: later calls change nothing */
    seg_cutter_init(&c, 2.0, false);
    seg_cutter_fix_target(&c, SEC(2.0));
    seg_cutter_fix_target(&c, SEC(6.0));
    assert_int_equal(c.target, 2);
}

static void test_cutter_after_target(void **state)
{
    (void)state;
    const int64_t s = SEC(100);
    struct seg_cutter c = cutter(2.0, false, s);
    seg_cutter_fix_target(&c, SEC(2.0));
    assert_int_equal(c.target, 2);
    c.start = s;

    /* reference: the next frame would end past the target -> forced */
    assert_int_equal(seg_cutter_check(&c, s + 178000, 3000, true, false, 0), SEG_CUT_FORCED);
    assert_int_equal(seg_cutter_check(&c, s + 177000, 3000, true, false, 0), SEG_CUT_NONE);
    assert_int_equal(seg_cutter_check(&c, s + 170000, 3000, true, false, 0), SEG_CUT_NONE);
    /* a keyframe is still a keyframe cut */
    assert_int_equal(seg_cutter_check(&c, s + 180000, 3000, true, true, 0), SEG_CUT_KEYFRAME);

    /* other stream, reference stalled for over a second -> forced */
    assert_int_equal(seg_cutter_check(&c, s + 178500, 1920, false, true, SEC(1.5)), SEG_CUT_FORCED);
    /* ... but not when the reference is only a little behind */
    assert_int_equal(seg_cutter_check(&c, s + 178500, 1920, false, true, SEC(0.2)), SEG_CUT_NONE);
    assert_int_equal(seg_cutter_check(&c, s + 178500, 1920, false, true, 0), SEG_CUT_NONE);
    /* ... nor before the target is near */
    assert_int_equal(seg_cutter_check(&c, s + SEC(1), 1920, false, true, SEC(5)), SEG_CUT_NONE);

    /* target 3 from a 3 s GOP with 1 s configured: the limit is 3 s */
    struct seg_cutter d = cutter(1.0, false, s);
    seg_cutter_fix_target(&d, SEC(3.0));
    d.start = s;
    assert_int_equal(seg_cutter_check(&d, s + SEC(2.5), 3000, true, false, 0), SEG_CUT_NONE);
    assert_int_equal(seg_cutter_check(&d, s + SEC(3) - 2000, 3000, true, false, 0), SEG_CUT_FORCED);
    assert_int_equal(seg_cutter_check(&d, s + SEC(1), 3000, true, true, 0), SEG_CUT_KEYFRAME);
}

/* Audio reference: every frame is a keyframe; the cut lands on the frame
 * boundary closest to segment_duration without exceeding the target. */
static void test_cutter_audio(void **state)
{
    (void)state;
    static const int64_t gaps[] = { 1920 /* AAC 48k */, 2089 /* AAC 44.1k */,
                                    1800 /* Opus 20 ms */, 2160 /* MP3 48k */ };
    const int64_t s = SEC(50);
    for (size_t i = 0; i < UNIT_LEN(gaps); i++) {
        struct seg_cutter c = cutter(2.0, true, s);
        int64_t g = gaps[i];
        int k = 1;
        while (k < 1000 && seg_cutter_check(&c, s + k * g, g, true, true, 0) == SEG_CUT_NONE)
            k++;
        int64_t dur = k * g;
        print_message("gap %lld: cut after %d frames = %lld\n", (long long)g, k,
                      (long long)dur);
        assert_int_equal(seg_cutter_check(&c, s + dur, g, true, true, 0), SEG_CUT_KEYFRAME);
        assert_true(llabs(dur - c.seg_dur) < g);
        /* the segment fits the target the first one fixes */
        seg_cutter_fix_target(&c, dur);
        assert_int_equal(c.target, 2);
        assert_true(dur <= (int64_t)c.target * SEG_CLOCK);
        /* and with the target fixed, the next segments are cut the same */
        int k2 = 1;
        while (k2 < 1000 && seg_cutter_check(&c, s + k2 * g, g, true, true, 0) == SEG_CUT_NONE)
            k2++;
        assert_true(k2 * g <= (int64_t)c.target * SEG_CLOCK);
    }
}

/* ------------------------------------------------------------ known bugs */

/* A dts that steps back a little (jitter) is output as last_out + 1, but
 * last_in still takes the jittered value, so the following normal step adds
 * the jitter back on top: every backwards step shifts the track for good by
 * |d| + 1 ticks. Ten 1000-tick back-steps move an audio track 0.11 s away
 * from its input timeline (and from the video track): A/V drift that grows
 * with every jitter event. Expected: the output stays within one frame of
 * the input timeline. */
/* ------------------------------------------------- lookahead (next_frame) */

struct cuts {
    bool in_lookahead;           /* set by the test around next_frame */
    int n, early;
    double duration[8];
    size_t bytes[8];
    int64_t pdt_ms[8];
};

static void on_segment(void *opaque, const struct media_segment *seg)
{
    struct cuts *c = opaque;
    if (c->n < 8) {
        c->duration[c->n] = seg->duration;
        c->bytes[c->n] = (size_t)seg->data->size;
        c->pdt_ms[c->n] = seg->pdt_ms;
    }
    c->n++;
    c->early += c->in_lookahead;
}

/* One H.264 stream, 320x240 at 30 fps, in 1/90000 s. */
static AVFormatContext *video_input(void)
{
    AVFormatContext *ic = avformat_alloc_context();
    AVStream *st = avformat_new_stream(ic, NULL);
    assert_non_null(st);
    st->id = 0x100;
    st->time_base = (AVRational){ 1, SEG_CLOCK };
    st->avg_frame_rate = (AVRational){ 30, 1 };
    st->codecpar->codec_type = AVMEDIA_TYPE_VIDEO;
    st->codecpar->codec_id = AV_CODEC_ID_H264;
    st->codecpar->width = 320;
    st->codecpar->height = 240;
    return ic;
}

/* 96 frames at 30 fps, a keyframe every 30, through the TS segmenter; with
 * lookahead each frame is announced by next_frame first. */
static void feed(struct cuts *c, bool lookahead, int64_t jump_at)
{
    static uint8_t idr[64] = { 0, 0, 0, 1, 0x09, 0x10, 0, 0, 0, 1, 0x65, 0x88, 0x84 };
    static uint8_t non_idr[64] = { 0, 0, 0, 1, 0x09, 0x30, 0, 0, 0, 1, 0x41, 0x9A };
    AVFormatContext *ic = video_input();
    AVStream *st = ic->streams[0];
    AVPacket *pkt = av_packet_alloc();
    assert_non_null(pkt);
    struct seg_params sp = { .session_id = "unit", .segment_duration = 1.0,
                             .output = on_segment, .opaque = c };
    struct segmenter *seg = seg_create(&sp);
    assert_non_null(seg);
    const struct pipeline_sink *k = seg_sink(seg);
    assert_int_equal(k->begin(k->opaque, 1, ic, "unit"), PIPE_OK);
    for (int i = 0; i < 96; i++) {
        int64_t ts = SEC(1) + i * 3000 + (i >= jump_at ? SEC(5) : 0);
        bool key = i % 30 == 0;
        if (lookahead && i > 0) {
            c->in_lookahead = true;
            k->next_frame(k->opaque, 1, st, ts, ts, key);
            c->in_lookahead = false;
        }
        pkt->data = key ? idr : non_idr;
        pkt->size = (int)sizeof(idr);
        pkt->pts = pkt->dts = ts;
        pkt->flags = key ? AV_PKT_FLAG_KEY : 0;
        pkt->stream_index = 0;
        assert_int_equal(k->packet(k->opaque, 1, pkt, st), PIPE_OK);
    }
    k->end(k->opaque, 1);
    seg_free(&seg);
    av_packet_free(&pkt);
    avformat_free_context(ic);
}

static void test_lookahead_cuts_early(void **state)
{
    (void)state;
    struct cuts plain = { 0 }, ahead = { 0 };
    feed(&plain, false, INT64_MAX);
    feed(&ahead, true, INT64_MAX);
    /* segments at frames 30, 60, 90, then the rest at the end */
    assert_int_equal(plain.n, 4);
    assert_int_equal(plain.early, 0);
    assert_int_equal(ahead.n, 4);
    assert_int_equal(ahead.early, 3);      /* each cut when its keyframe began */
    for (int i = 0; i < 4; i++) {
        assert_true(fabs(ahead.duration[i] - plain.duration[i]) < 1e-9);
        assert_int_equal(ahead.bytes[i], plain.bytes[i]);
    }
    assert_true(fabs(plain.duration[0] - 1.0) < 1e-9);

    /* a timestamp jump just before a keyframe: no early cut there; the
     * packet re-anchors and cuts as without lookahead */
    struct cuts jp = { 0 }, ja = { 0 };
    feed(&jp, false, 60);
    feed(&ja, true, 60);
    assert_int_equal(ja.n, jp.n);
    assert_int_equal(ja.early, 2);
    for (int i = 0; i < ja.n && i < 8; i++)
        assert_true(fabs(ja.duration[i] - jp.duration[i]) < 1e-9);
}

/* ------------------------------------------------------------ takeover */

/* n frames at 30 fps from t0 as publisher gen, a keyframe every second,
 * all at once: returns the last packet() result. */
static int burst(const struct pipeline_sink *k, uint32_t gen, AVFormatContext *ic, int64_t t0, int n)
{
    static uint8_t idr[64] = { 0, 0, 0, 1, 0x09, 0x10, 0, 0, 0, 1, 0x65, 0x88, 0x84 };
    static uint8_t non_idr[64] = { 0, 0, 0, 1, 0x09, 0x30, 0, 0, 0, 1, 0x41, 0x9A };
    AVPacket *pkt = av_packet_alloc();
    assert_non_null(pkt);
    int ret = PIPE_OK;
    for (int i = 0; i < n && ret == PIPE_OK; i++) {
        bool key = i % 30 == 0;
        pkt->data = key ? idr : non_idr;
        pkt->size = (int)sizeof(idr);
        pkt->pts = pkt->dts = t0 + i * 3000;
        pkt->flags = key ? AV_PKT_FLAG_KEY : 0;
        pkt->stream_index = 0;
        ret = k->packet(k->opaque, gen, pkt, ic->streams[0]);
    }
    av_packet_free(&pkt);
    return ret;
}

/* A connection taken over while it probed begins after the publisher that
 * replaced it: refused, and the new one keeps the session. A publisher
 * whose buffered media came in a burst dated its segments ahead of the
 * clock: the next one's PROGRAM-DATE-TIME does not go back. */
static void test_takeover_order(void **state)
{
    (void)state;
    struct cuts c = { 0 };
    AVFormatContext *ic = video_input();
    struct seg_params sp = { .session_id = "unit", .segment_duration = 1.0,
                             .output = on_segment, .opaque = &c };
    struct segmenter *seg = seg_create(&sp);
    assert_non_null(seg);
    const struct pipeline_sink *k = seg_sink(seg);

    /* publisher 1: 4 s of media in a burst -> 3 segments, the 4th at its end */
    assert_int_equal(k->begin(k->opaque, 1, ic, "one"), PIPE_OK);
    assert_int_equal(burst(k, 1, ic, SEC(1), 120), PIPE_OK);
    /* publisher 3 takes over; 2, replaced while probing, begins after it */
    assert_int_equal(k->begin(k->opaque, 3, ic, "three"), PIPE_OK);
    assert_int_equal(c.n, 4);
    int64_t end1 = c.pdt_ms[3] + (int64_t)(c.duration[3] * 1000);
    assert_int_equal(k->begin(k->opaque, 2, ic, "two"), PIPE_REFUSE);
    assert_int_equal(burst(k, 2, ic, SEC(50), 10), PIPE_STOP);
    assert_int_equal(burst(k, 3, ic, SEC(100), 61), PIPE_OK);
    k->end(k->opaque, 3);
    assert_int_equal(c.n, 7);
    for (int i = 1; i < c.n; i++) {
        int64_t prev_end = c.pdt_ms[i - 1] + (int64_t)(c.duration[i - 1] * 1000);
        print_message("segment %d: pdt %+lld ms, previous ends %+lld\n", i,
                      (long long)(c.pdt_ms[i] - c.pdt_ms[0]), (long long)(prev_end - c.pdt_ms[0]));
        assert_true(c.pdt_ms[i] >= prev_end - 1);
    }
    assert_true(c.pdt_ms[4] >= end1 - 1);
    seg_free(&seg);
    avformat_free_context(ic);
}

static void test_bug_map_jitter_drift_accumulates(void **state)
{
    (void)state;
    struct tl x = { .origin_in = 0, .default_gap = 3000 };
    int64_t worst = 0, in = 0;
    for (int k = 0; k < 40; k++) {
        in = (int64_t)k * 3000;
        if (k % 4 == 3)
            in -= 4000;               /* 1000 ticks before the previous dts */
        int64_t out = map(&x, in, 0, false);
        int64_t drift = llabs(out - (ORIGIN_OUT + in));
        if (drift > worst)
            worst = drift;
    }
    print_message("worst drift %lld ticks\n", (long long)worst);
    assert_true(worst <= 3000);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wrap_diff),
        cmocka_unit_test(test_map_monotonic),
        cmocka_unit_test(test_map_first_packet_offset),
        cmocka_unit_test(test_map_floor),
        cmocka_unit_test(test_map_wrap),
        cmocka_unit_test(test_map_backward_jump_with_clock),
        cmocka_unit_test(test_map_backward_jump_without_clock),
        cmocka_unit_test(test_map_forward_jump),
        cmocka_unit_test(test_map_jitter),
        cmocka_unit_test(test_map_jump_keeps_av_sync),
        cmocka_unit_test(test_map_audio_back_step),
        cmocka_unit_test(test_map_looped_audio_beside_video),
        cmocka_unit_test(test_map_stale_audio),
        cmocka_unit_test(test_map_gap),
        cmocka_unit_test(test_cutter_init),
        cmocka_unit_test(test_cutter_keyframe),
        cmocka_unit_test(test_cutter_first_cap),
        cmocka_unit_test(test_cutter_fix_target),
        cmocka_unit_test(test_cutter_after_target),
        cmocka_unit_test(test_cutter_audio),
        cmocka_unit_test(test_bug_map_jitter_drift_accumulates),
        cmocka_unit_test(test_lookahead_cuts_early),
        cmocka_unit_test(test_takeover_order),
    };
    return unit_main(argc, argv, "segmenter", tests, UNIT_LEN(tests));
}
