/* Unit tests: framing (PES sniff, keyframes from NAL types, ADTS frames). */
#include "unit.h"

#include "podium/framing.h"

#include <libavcodec/avcodec.h>

/* One TS packet on pid 0x100 starting a PES with stream id sid. */
static void pes_start(uint8_t *p, uint8_t sid, unsigned pes_len, bool pts, bool adaptation)
{
    memset(p, 0xFF, TS_PACKET);
    p[0] = 0x47;
    p[1] = 0x40 | 0x01;                   /* PUSI, pid 0x100 */
    p[2] = 0x00;
    p[3] = adaptation ? 0x30 : 0x10;
    size_t off = 4;
    if (adaptation) {
        p[4] = 7;                         /* adaptation field with a PCR */
        p[5] = 0x10;
        off = 12;
    }
    uint8_t *h = p + off;
    h[0] = 0; h[1] = 0; h[2] = 1; h[3] = sid;
    h[4] = (uint8_t)(pes_len >> 8);
    h[5] = (uint8_t)pes_len;
    h[6] = 0x80;
    h[7] = pts ? 0x80 : 0x00;
    h[8] = pts ? 5 : 0;
}

static void continuation(uint8_t *p)
{
    memset(p, 0xAB, TS_PACKET);
    p[0] = 0x47;
    p[1] = 0x01;
    p[3] = 0x10;
}

static void test_sniff_aligned(void **state)
{
    (void)state;
    uint8_t ts[12 * TS_PACKET];
    for (int i = 0; i < 12; i += 3) {
        pes_start(ts + i * TS_PACKET, 0xE0, 0, true, i == 0);
        continuation(ts + (i + 1) * TS_PACKET);
        pes_start(ts + (i + 2) * TS_PACKET, 0xC0, 400, true, false);
    }
    /* fed in SRT-sized pieces that split TS packets */
    struct ts_sniff s = { 0 };
    for (size_t off = 0; off < sizeof(ts); off += 1000) {
        size_t n = sizeof(ts) - off < 1000 ? sizeof(ts) - off : 1000;
        framing_sniff(&s, ts + off, n);
    }
    assert_int_equal(s.video_pes, 4);
    assert_int_equal(s.pes, 8);
    assert_true(framing_sniff_done(&s));
    assert_true(framing_pes_aligned(&s));
}

static void test_sniff_bounded_or_no_pts(void **state)
{
    (void)state;
    uint8_t ts[2 * TS_PACKET];
    struct ts_sniff s = { 0 };

    pes_start(ts, 0xE0, 0, true, false);
    pes_start(ts + TS_PACKET, 0xE0, 60000, true, false);  /* bounded */
    framing_sniff(&s, ts, sizeof(ts));
    assert_false(framing_pes_aligned(&s));

    memset(&s, 0, sizeof(s));
    pes_start(ts + TS_PACKET, 0xE0, 0, false, false);     /* tail without PTS */
    framing_sniff(&s, ts, sizeof(ts));
    assert_false(framing_pes_aligned(&s));

    memset(&s, 0, sizeof(s));
    pes_start(ts + TS_PACKET, 0xC0, 900, true, false);    /* bounded audio is fine */
    framing_sniff(&s, ts, sizeof(ts));
    assert_true(framing_pes_aligned(&s));
    assert_false(framing_sniff_done(&s));
}

static void test_sniff_lost_sync(void **state)
{
    (void)state;
    uint8_t ts[3 * TS_PACKET];
    pes_start(ts, 0xE0, 0, true, false);
    memset(ts + TS_PACKET, 0x00, TS_PACKET);              /* no 0x47 */
    pes_start(ts + 2 * TS_PACKET, 0xE0, 0, true, false);
    struct ts_sniff s = { 0 };
    framing_sniff(&s, ts, sizeof(ts));
    assert_true(s.unaligned);
    assert_true(framing_sniff_done(&s));
    assert_false(framing_pes_aligned(&s));
}

static void test_h264_keyframe(void **state)
{
    (void)state;
    /* AUD, SPS, PPS, SEI, IDR slice */
    const uint8_t idr[] = { 0, 0, 0, 1, 0x09, 0xF0, 0, 0, 0, 1, 0x67, 0x64, 0x00, 0x1F,
                            0, 0, 1, 0x68, 0xEB, 0, 0, 1, 0x06, 0x05, 0x01, 0x00,
                            0, 0, 1, 0x65, 0x88, 0x84 };
    const uint8_t p[] = { 0, 0, 0, 1, 0x09, 0x30, 0, 0, 0, 1, 0x41, 0x9A, 0x02 };
    const uint8_t none[] = { 0, 0, 0, 1, 0x09, 0x30, 0, 0, 1, 0x06, 0x05 };
    /* an IDR type byte inside SEI payload must not count */
    const uint8_t trap[] = { 0, 0, 1, 0x06, 0x65, 0x65, 0, 0, 1, 0x01, 0x9A };
    assert_int_equal(framing_keyframe(AV_CODEC_ID_H264, idr, sizeof(idr)), 1);
    assert_int_equal(framing_keyframe(AV_CODEC_ID_H264, p, sizeof(p)), 0);
    assert_int_equal(framing_keyframe(AV_CODEC_ID_H264, none, sizeof(none)), -1);
    assert_int_equal(framing_keyframe(AV_CODEC_ID_H264, trap, sizeof(trap)), 0);
    assert_int_equal(framing_keyframe(AV_CODEC_ID_H264, idr, 3), -1);
}

static void test_hevc_keyframe(void **state)
{
    (void)state;
    /* AUD(35), VPS(32), SPS(33), PPS(34), IDR_W_RADL(19) */
    const uint8_t idr[] = { 0, 0, 0, 1, 0x46, 0x01, 0x50, 0, 0, 0, 1, 0x40, 0x01,
                            0, 0, 1, 0x42, 0x01, 0, 0, 1, 0x44, 0x01,
                            0, 0, 1, 0x26, 0x01, 0xAF };
    const uint8_t cra[] = { 0, 0, 1, 0x2A, 0x01, 0xAF };          /* CRA(21) */
    const uint8_t trail[] = { 0, 0, 1, 0x46, 0x01, 0x50, 0, 0, 1, 0x02, 0x01, 0xD0 };
    assert_int_equal(framing_keyframe(AV_CODEC_ID_HEVC, idr, sizeof(idr)), 1);
    assert_int_equal(framing_keyframe(AV_CODEC_ID_HEVC, cra, sizeof(cra)), 1);
    assert_int_equal(framing_keyframe(AV_CODEC_ID_HEVC, trail, sizeof(trail)), 0);
}

static void put_ts(uint8_t *b, unsigned marker, int64_t v)
{
    b[0] = (uint8_t)(marker << 4 | (v >> 29 & 0x0E) | 1);
    b[1] = (uint8_t)(v >> 22);
    b[2] = (uint8_t)((v >> 14 & 0xFE) | 1);
    b[3] = (uint8_t)(v >> 7);
    b[4] = (uint8_t)((v << 1 & 0xFE) | 1);
}

/* A video PES start on pid 0x100 whose payload begins with nal[]. */
static void video_start(uint8_t *p, int64_t pts, int64_t dts, const uint8_t *nal, size_t n)
{
    pes_start(p, 0xE0, 0, true, true);
    uint8_t *h = p + 12;
    if (dts >= 0) {
        h[7] = 0xC0;
        h[8] = 10;
        put_ts(h + 9, 3, pts);
        put_ts(h + 14, 1, dts);
    } else {
        put_ts(h + 9, 2, pts);
    }
    memcpy(h + 9 + h[8], nal, n);
}

static void test_pes_start(void **state)
{
    (void)state;
    static const uint8_t idr[] = { 0, 0, 0, 1, 0x09, 0xF0, 0, 0, 0, 1, 0x67, 0x42, 0, 0, 1, 0x65, 0x88 };
    static const uint8_t p_slice[] = { 0, 0, 0, 1, 0x09, 0x30, 0, 0, 1, 0x41, 0x9A };
    static const uint8_t sei_only[] = { 0, 0, 0, 1, 0x09, 0xF0, 0, 0, 1, 0x06, 0x05, 0xFF };
    uint8_t ts[TS_PACKET];
    struct pes_start ps;
    const int64_t big = (INT64_C(1) << 33) - 3003;   /* just before the wrap */

    video_start(ts, big, big - 3003, idr, sizeof(idr));
    assert_true(framing_pes_start(ts, 0x100, AV_CODEC_ID_H264, &ps));
    assert_int_equal(ps.pts, big);
    assert_int_equal(ps.dts, big - 3003);
    assert_int_equal(ps.key, 1);
    assert_false(framing_pes_start(ts, 0x101, AV_CODEC_ID_H264, &ps));   /* other pid */

    video_start(ts, 900000, -1, p_slice, sizeof(p_slice));
    assert_true(framing_pes_start(ts, 0x100, AV_CODEC_ID_H264, &ps));
    assert_int_equal(ps.pts, 900000);
    assert_int_equal(ps.dts, 900000);                /* no DTS: the PTS */
    assert_int_equal(ps.key, 0);

    video_start(ts, 3003, -1, sei_only, sizeof(sei_only));
    assert_true(framing_pes_start(ts, 0x100, AV_CODEC_ID_H264, &ps));
    assert_int_equal(ps.key, -1);                    /* no slice in this TS packet */

    continuation(ts);                                /* no PES start */
    assert_false(framing_pes_start(ts, 0x100, AV_CODEC_ID_H264, &ps));
    pes_start(ts, 0xE0, 0, false, false);            /* PES without PTS */
    assert_false(framing_pes_start(ts, 0x100, AV_CODEC_ID_H264, &ps));
    video_start(ts, 3003, 0, idr, sizeof(idr));
    ts[12 + 8] = 255;                                /* header longer than the packet */
    assert_false(framing_pes_start(ts, 0x100, AV_CODEC_ID_H264, &ps));
}

static void adts_header(uint8_t *h, size_t frame_len, int rate_index)
{
    h[0] = 0xFF;
    h[1] = 0xF1;                          /* MPEG-4, no CRC */
    h[2] = (uint8_t)(0x40 | rate_index << 2);
    h[3] = (uint8_t)(0x80 | (frame_len >> 11));
    h[4] = (uint8_t)(frame_len >> 3);
    h[5] = (uint8_t)((frame_len & 7) << 5 | 0x1F);
    h[6] = 0xFC;
}

static void test_adts(void **state)
{
    (void)state;
    uint8_t buf[600];
    memset(buf, 0x21, sizeof(buf));
    adts_header(buf, 300, 3);             /* 48 kHz */
    adts_header(buf + 300, 250, 4);       /* 44.1 kHz */
    int rate = 0;
    assert_int_equal(framing_adts_frame(buf, sizeof(buf), &rate), 300);
    assert_int_equal(rate, 48000);
    assert_int_equal(framing_adts_frame(buf + 300, 300, &rate), 250);
    assert_int_equal(rate, 44100);
    assert_int_equal(framing_adts_frame(buf + 300, 200, &rate), 0);  /* torn */
    assert_int_equal(framing_adts_frame(buf + 550, 50, &rate), 0);   /* no sync */
    adts_header(buf, 5, 3);                                          /* < header */
    assert_int_equal(framing_adts_frame(buf, sizeof(buf), &rate), 0);
    adts_header(buf, 300, 15);                                       /* bad rate */
    assert_int_equal(framing_adts_frame(buf, sizeof(buf), &rate), 0);
}

/* Expected bytes: ISO 14496-3 1.6.2.1, 5 bits object type, 4 bits rate
 * index, 4 bits channels; the LC 48 kHz stereo one is the well-known 11 90. */
static void test_aac_config(void **state)
{
    (void)state;
    uint8_t asc[2];
    assert_int_equal(framing_aac_config(FF_PROFILE_AAC_LOW, 48000, 2, asc), 0);
    assert_int_equal(asc[0], 0x11);
    assert_int_equal(asc[1], 0x90);
    /* HE-AAC as ADTS carries it: LC core at 24 kHz, SBR implicit */
    assert_int_equal(framing_aac_config(FF_PROFILE_AAC_HE, 48000, 2, asc), 0);
    assert_int_equal(asc[0], 0x13);
    assert_int_equal(asc[1], 0x10);
    /* HE-AAC v2: the decoder reports stereo; the core is mono (PS) */
    assert_int_equal(framing_aac_config(FF_PROFILE_AAC_HE_V2, 44100, 2, asc), 0);
    assert_int_equal(asc[0], 0x13);
    assert_int_equal(asc[1], 0x88);
    assert_int_equal(framing_aac_config(FF_PROFILE_UNKNOWN, 44100, 2, asc), 0);  /* LC */
    assert_int_equal(asc[0], 0x12);
    assert_int_equal(asc[1], 0x10);
    assert_int_equal(framing_aac_config(FF_PROFILE_AAC_MAIN, 48000, 1, asc), 0);
    assert_int_equal(asc[0], 0x09);
    assert_int_equal(asc[1], 0x88);
    assert_int_equal(framing_aac_config(FF_PROFILE_AAC_LOW, 22222, 2, asc), -1);
    assert_int_equal(framing_aac_config(FF_PROFILE_AAC_LOW, 48000, 0, asc), -1);
    assert_int_equal(framing_aac_config(FF_PROFILE_AAC_LOW, 48000, 8, asc), -1);
    assert_int_equal(framing_aac_config(FF_PROFILE_AAC_HE, 7350, 2, asc), -1);   /* no 3675 Hz core */
}

/* The config an ADTS header stands for is what framing_aac_config makes
 * of the same stream (the init section and a change are compared so). */
static void test_adts_config(void **state)
{
    (void)state;
    uint8_t h[7], asc[2], want[2];
    int rate = 0, ch = 0;
    adts_header(h, 300, 4);               /* LC, 44.1 kHz, stereo */
    assert_int_equal(framing_adts_config(h, sizeof(h), asc, &rate, &ch), 0);
    assert_int_equal(framing_aac_config(FF_PROFILE_AAC_LOW, 44100, 2, want), 0);
    assert_memory_equal(asc, want, 2);
    assert_int_equal(rate, 44100);
    assert_int_equal(ch, 2);
    h[3] &= 0x3F;                         /* channel configuration 0: in the PCE */
    assert_int_equal(framing_adts_config(h, sizeof(h), asc, &rate, &ch), -1);
    assert_int_equal(framing_adts_config(h, 5, asc, &rate, &ch), -1);  /* torn */
}

/* AUD, SPS, PPS, SEI, IDR slice, and an SPS after the slice, which is not
 * looked at. Each parameter set comes out behind a 4-byte start code. */
static void test_param_sets(void **state)
{
    (void)state;
    static const uint8_t au[] = {
        0, 0, 0, 1, 0x09, 0xF0,
        0, 0, 0, 1, 0x67, 0x64, 0x00, 0x1F, 0xAC,
        0, 0, 1, 0x68, 0xEE, 0x3C, 0x80,
        0, 0, 1, 0x06, 0x05, 0x01, 0xAA,
        0, 0, 1, 0x65, 0x88, 0x84, 0x00,
        0, 0, 1, 0x67, 0x42,
    };
    static const uint8_t sps[] = { 0, 0, 0, 1, 0x67, 0x64, 0x00, 0x1F, 0xAC };
    static const uint8_t both[] = { 0, 0, 0, 1, 0x67, 0x64, 0x00, 0x1F, 0xAC,
                                    0, 0, 0, 1, 0x68, 0xEE, 0x3C, 0x80 };
    uint8_t out[64];
    assert_int_equal(framing_param_sets(AV_CODEC_ID_H264, au, sizeof(au), false, out, sizeof(out)),
                     sizeof(sps));
    assert_memory_equal(out, sps, sizeof(sps));
    assert_int_equal(framing_param_sets(AV_CODEC_ID_H264, au, sizeof(au), true, out, sizeof(out)),
                     sizeof(both));
    assert_memory_equal(out, both, sizeof(both));
    assert_int_equal(framing_param_sets(AV_CODEC_ID_H264, au, sizeof(au), true, out, 10), -1);
    assert_int_equal(framing_param_sets(AV_CODEC_ID_H264, au + 29, sizeof(au) - 29, true, out,
                                        sizeof(out)), 0);          /* from the slice on: none */
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sniff_aligned),
        cmocka_unit_test(test_sniff_bounded_or_no_pts),
        cmocka_unit_test(test_sniff_lost_sync),
        cmocka_unit_test(test_h264_keyframe),
        cmocka_unit_test(test_hevc_keyframe),
        cmocka_unit_test(test_adts),
        cmocka_unit_test(test_aac_config),
        cmocka_unit_test(test_adts_config),
        cmocka_unit_test(test_param_sets),
        cmocka_unit_test(test_pes_start),
    };
    return unit_main(argc, argv, "framing", tests, UNIT_LEN(tests));
}
