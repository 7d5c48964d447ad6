/* The framing helpers read TS packets and access units straight off the
 * wire: PES headers, NAL unit types, ADTS headers. */
#include <string.h>

#include "fuzz.h"
#include "podium/framing.h"

/* A TS packet starting a video PES (PTS and DTS) with an H.264 IDR slice
 * after SPS/PPS, padded with stuffing. */
static void video_packet(uint8_t *p, uint16_t pid)
{
    static const uint8_t head[] = {
        0x00, 0x00, 0x01, 0xE0, 0x00, 0x00, 0x80, 0xC0, 0x0A,
        0x31, 0x00, 0x01, 0x00, 0x01, 0x11, 0x00, 0x01, 0x00, 0x01,
        0x00, 0x00, 0x00, 0x01, 0x09, 0xF0,
        0x00, 0x00, 0x00, 0x01, 0x67, 0x42, 0xC0, 0x1E,
        0x00, 0x00, 0x00, 0x01, 0x68, 0xCE, 0x3C, 0x80,
        0x00, 0x00, 0x01, 0x65, 0x88, 0x84,
    };
    memset(p, 0xFF, TS_PACKET);
    p[0] = 0x47;
    p[1] = (uint8_t)(0x40 | (pid >> 8));
    p[2] = (uint8_t)pid;
    p[3] = 0x10;
    memcpy(p + 4, head, sizeof(head));
}

int fuzz_init(void)
{
    uint8_t ts[3 * TS_PACKET];
    video_packet(ts, 0x100);
    video_packet(ts + TS_PACKET, 0x100);
    ts[TS_PACKET + 4 + 43] = 0x41;            /* a non-IDR slice */
    video_packet(ts + 2 * TS_PACKET, 0x101);
    fuzz_add_seed(ts, sizeof(ts));
    /* two ADTS frames (AAC LC, 48 kHz, stereo), 16 bytes each */
    static const uint8_t adts[] = {
        0xFF, 0xF1, 0x4C, 0x80, 0x02, 0x1F, 0xFC, 1, 2, 3, 4, 5, 6, 7, 8, 9,
        0xFF, 0xF1, 0x4C, 0x80, 0x02, 0x1F, 0xFC, 1, 2, 3, 4, 5, 6, 7, 8, 9,
    };
    fuzz_add_seed(adts, sizeof(adts));
    /* HEVC: VPS, SPS, PPS, IDR_W_RADL */
    static const uint8_t hevc[] = {
        0, 0, 0, 1, 0x40, 0x01, 0x0C, 0, 0, 0, 1, 0x42, 0x01, 0x01,
        0, 0, 0, 1, 0x44, 0x01, 0xC1, 0, 0, 1, 0x26, 0x01, 0xAF,
    };
    fuzz_add_seed(hevc, sizeof(hevc));
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the sniff, fed in reads split where the input says */
    struct ts_sniff sn = { 0 };
    size_t step = size ? 1 + data[0] % 200 : 1;
    for (size_t off = 0; off < size && !framing_sniff_done(&sn); off += step)
        framing_sniff(&sn, data + off, size - off < step ? size - off : step);
    (void)framing_pes_aligned(&sn);

    int pid = size > 2 ? ((data[1] & 0x1F) << 8) | data[2] : 0x100;
    for (size_t off = 0; off + TS_PACKET <= size; off += TS_PACKET) {
        struct pes_start ps;
        (void)framing_pes_start(data + off, pid, AV_CODEC_ID_H264, &ps);
        (void)framing_pes_start(data + off, pid, AV_CODEC_ID_HEVC, &ps);
    }
    (void)framing_keyframe(AV_CODEC_ID_H264, data, size);
    (void)framing_keyframe(AV_CODEC_ID_HEVC, data, size);

    for (size_t off = 0; off < size;) {
        int rate = 0;
        size_t n = framing_adts_frame(data + off, size - off, &rate);
        size_t h = framing_adts_header(data + off, size - off);
        if (n > size - off || h > size - off)
            __builtin_trap();                 /* a frame longer than the bytes */
        off += n ? n : 1;
    }
    return 0;
}
