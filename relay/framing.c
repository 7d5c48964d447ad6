/* Access-unit framing without libavcodec's parsers (see framing.h). */
#include "podium/framing.h"

#include <libavcodec/avcodec.h>

#include <string.h>

/* Enough to have seen several video frames, or an audio-only stream's
 * first second; the sniffed bytes are the demuxer's first bytes anyway. */
#define SNIFF_VIDEO_PES 4
#define SNIFF_PES 24
#define SNIFF_MAX_BYTES (2u << 20)

static void sniff_packet(struct ts_sniff *s, const uint8_t *b)
{
    if (b[0] != 0x47) {
        s->unaligned = true;
        return;
    }
    if (!(b[1] & 0x40) || !(b[3] & 0x10))
        return;                               /* no PES start, or no payload */
    size_t off = 4;
    if (b[3] & 0x20)
        off += 1 + (size_t)b[4];              /* adaptation field */
    if (off + 9 > TS_PACKET)
        return;
    const uint8_t *p = b + off;
    if (p[0] || p[1] || p[2] != 1)
        return;                               /* a section, not a PES */
    s->pes++;
    if ((p[3] & 0xF0) != 0xE0)
        return;
    s->video_pes++;
    unsigned pes_len = (unsigned)p[4] << 8 | p[5];
    /* A bounded video PES caps at 64 KiB, so its muxer splits large
     * frames; a PES without PTS is the tail of a split frame. */
    if (pes_len != 0 || !(p[7] & 0x80))
        s->bad_video++;
}

void framing_sniff(struct ts_sniff *s, const uint8_t *buf, size_t len)
{
    s->bytes += len;
    if (s->unaligned)
        return;
    if (s->carry_len) {
        size_t n = TS_PACKET - s->carry_len;
        if (n > len)
            n = len;
        memcpy(s->carry + s->carry_len, buf, n);
        s->carry_len += n;
        buf += n;
        len -= n;
        if (s->carry_len < TS_PACKET)
            return;
        sniff_packet(s, s->carry);
        s->carry_len = 0;
    }
    for (; len >= TS_PACKET && !s->unaligned; buf += TS_PACKET, len -= TS_PACKET)
        sniff_packet(s, buf);
    if (len && !s->unaligned) {
        memcpy(s->carry, buf, len);
        s->carry_len = len;
    }
}

bool framing_sniff_done(const struct ts_sniff *s)
{
    return s->unaligned || s->video_pes >= SNIFF_VIDEO_PES || s->pes >= SNIFF_PES
           || s->bytes >= SNIFF_MAX_BYTES;
}

bool framing_pes_aligned(const struct ts_sniff *s)
{
    return !s->unaligned && s->bad_video == 0;
}

bool framing_codec_supported(enum AVCodecID id)
{
    return id == AV_CODEC_ID_H264 || id == AV_CODEC_ID_HEVC || id == AV_CODEC_ID_AAC;
}

/* The type of the NAL unit whose header byte is h (HEVC: its first). */
static int nal_type(enum AVCodecID id, uint8_t h)
{
    return id == AV_CODEC_ID_H264 ? h & 0x1F : (h >> 1) & 0x3F;
}

/* Whether NAL type t is a slice: the access unit's headers end there. */
static bool nal_is_slice(enum AVCodecID id, int t)
{
    return id == AV_CODEC_ID_H264 ? t >= 1 && t <= 5 : t <= 31;
}

int framing_keyframe(enum AVCodecID id, const uint8_t *data, size_t size)
{
    /* Only the NAL headers before the first slice are looked at: an
     * access unit delimiter, parameter sets and SEI, a few hundred bytes. */
    for (size_t i = 0; i + 3 < size; i++) {
        if (data[i] || data[i + 1] || data[i + 2] != 1)
            continue;
        int t = nal_type(id, data[i + 3]);
        if (nal_is_slice(id, t))
            return id == AV_CODEC_ID_H264 ? t == 5
                                          : t >= 16 && t <= 23;    /* IRAP: BLA, IDR, CRA */
        i += 3;
    }
    return -1;
}

static int64_t pes_timestamp(const uint8_t *p)
{
    return (int64_t)(p[0] >> 1 & 7) << 30 | (int64_t)p[1] << 22 | (int64_t)(p[2] >> 1) << 15
           | (int64_t)p[3] << 7 | p[4] >> 1;
}

bool framing_pes_start(const uint8_t *b, int pid, enum AVCodecID id, struct pes_start *out)
{
    if (b[0] != 0x47 || !(b[1] & 0x40) || !(b[3] & 0x10) || ((b[1] & 0x1F) << 8 | b[2]) != pid)
        return false;
    size_t off = 4;
    if (b[3] & 0x20)
        off += 1 + (size_t)b[4];
    if (off + 14 > TS_PACKET)
        return false;
    const uint8_t *p = b + off;
    if (p[0] || p[1] || p[2] != 1 || !(p[7] & 0x80))
        return false;
    size_t payload = off + 9 + p[8];
    if (payload > TS_PACKET || (p[7] & 0x40 && p[8] < 10) || p[8] < 5)
        return false;
    out->pts = pes_timestamp(p + 9);
    out->dts = p[7] & 0x40 ? pes_timestamp(p + 14) : out->pts;
    out->key = framing_keyframe(id, b + payload, TS_PACKET - payload);
    return true;
}

size_t framing_adts_header(const uint8_t *data, size_t size)
{
    if (size < 7 || data[0] != 0xFF || (data[1] & 0xF6) != 0xF0)
        return 0;
    size_t hdr = (data[1] & 1) ? 7 : 9;  /* protection_absent: no CRC */
    return size >= hdr ? hdr : 0;
}

/* ADTS sampling_frequency_index -> Hz; 0 past the 13 defined */
static const int adts_rates[16] = { 96000, 88200, 64000, 48000, 44100, 32000, 24000,
                                    22050, 16000, 12000, 11025, 8000, 7350 };

/* AudioSpecificConfig: object type, rate index, channel configuration. */
static void write_asc(int aot, int fi, int ch, uint8_t asc[2])
{
    asc[0] = (uint8_t)((aot << 3) | (fi >> 1));
    asc[1] = (uint8_t)(((fi & 1) << 7) | (ch << 3));
}

int framing_aac_config(int profile, int sample_rate, int channels, uint8_t asc[2])
{
    int aot = 2;                                  /* LC, also when unknown */
    if (profile == FF_PROFILE_AAC_HE || profile == FF_PROFILE_AAC_HE_V2) {
        sample_rate /= 2;                         /* the core's rate */
        if (profile == FF_PROFILE_AAC_HE_V2)
            channels = 1;                         /* PS: a mono core */
    } else if (profile >= FF_PROFILE_AAC_MAIN && profile <= FF_PROFILE_AAC_LTP) {
        aot = profile + 1;                        /* Main 1, LC 2, SSR 3, LTP 4 */
    }
    int fi = -1;
    for (int i = 0; i < 13; i++)
        if (adts_rates[i] == sample_rate)
            fi = i;
    if (fi < 0 || channels < 1 || channels > 7)
        return -1;
    write_asc(aot, fi, channels, asc);
    return 0;
}

int framing_adts_config(const uint8_t *data, size_t size, uint8_t asc[2], int *rate,
                        int *channels)
{
    if (!framing_adts_header(data, size))
        return -1;
    int aot = (data[2] >> 6) + 1;
    int fi = (data[2] >> 2) & 0xF;
    int ch = (data[2] & 1) << 2 | data[3] >> 6;
    if (fi >= 13 || ch == 0)
        return -1;
    write_asc(aot, fi, ch, asc);
    *rate = adts_rates[fi];
    *channels = ch == 7 ? 8 : ch;
    return 0;
}

/* Where the NAL unit starting at data[i] (after its start code) ends: at
 * the next start code, less the zero byte of a 4-byte one. */
static size_t nal_end(const uint8_t *data, size_t size, size_t i)
{
    for (size_t j = i; j + 2 < size; j++)
        if (!data[j] && !data[j + 1] && data[j + 2] == 1)
            return j > i && !data[j - 1] ? j - 1 : j;
    return size;
}

int framing_param_sets(enum AVCodecID id, const uint8_t *data, size_t size, bool with_pps,
                       uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i + 3 < size; i++) {
        if (data[i] || data[i + 1] || data[i + 2] != 1)
            continue;
        size_t start = i + 3;
        int t = nal_type(id, data[start]);
        if (nal_is_slice(id, t))
            break;
        bool ps = id == AV_CODEC_ID_H264 ? t == 7 || (with_pps && t == 8)
                                         : (t >= 32 && t <= 33) || (with_pps && t == 34);
        size_t end = nal_end(data, size, start);
        if (ps) {
            if (n + 4 + (end - start) > cap)
                return -1;
            memcpy(out + n, "\0\0\0\1", 4);
            memcpy(out + n + 4, data + start, end - start);
            n += 4 + (end - start);
        }
        i = end - 1;
    }
    return (int)n;
}

size_t framing_adts_frame(const uint8_t *data, size_t size, int *sample_rate)
{
    size_t hdr = framing_adts_header(data, size);
    if (!hdr)
        return 0;
    size_t len = (size_t)(data[3] & 3) << 11 | (size_t)data[4] << 3 | data[5] >> 5;
    int rate = adts_rates[(data[2] >> 2) & 0xF];
    if (len <= hdr || len > size || !rate)
        return 0;
    *sample_rate = rate;
    return len;
}
