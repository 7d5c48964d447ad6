/* Access-unit framing without libavcodec's parsers.
 *
 * Encoders and muxers that feed SRT (OBS, ffmpeg, GStreamer, hardware
 * encoders built on them) put one video access unit per unbounded PES
 * packet with a PTS. For such input the H.264/HEVC parser libavformat
 * runs by default only re-finds frame boundaries the PES already gives,
 * and copies every frame twice doing so. These helpers let the pipeline
 * skip it: a sniff of the first TS packets decides whether the PES
 * framing can be trusted, keyframes come from the NAL unit types, and
 * multi-frame AAC PES packets are split on their ADTS headers. */
#ifndef PODIUM_FRAMING_H
#define PODIUM_FRAMING_H

#include <libavcodec/codec_id.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TS_PACKET 188

/* What the TS packets read so far say about video PES framing. */
struct ts_sniff {
    unsigned video_pes;      /* video PES packets started */
    unsigned pes;            /* PES packets started, any stream */
    unsigned bad_video;      /* bounded, or without PTS: may split frames */
    bool unaligned;          /* lost TS sync: tells nothing, trust nothing */
    size_t bytes;
    uint8_t carry[TS_PACKET];  /* a TS packet split across reads */
    size_t carry_len;
};

/* Feeds len bytes (TS packets from the start of the stream, split anywhere)
 * into s. Keeps no pointer to buf. */
void framing_sniff(struct ts_sniff *s, const uint8_t *buf, size_t len);

/* True once s has seen enough to decide. */
bool framing_sniff_done(const struct ts_sniff *s);

/* True if video PES packets can be taken as whole access units. */
bool framing_pes_aligned(const struct ts_sniff *s);

/* True for the codecs the pipeline can frame itself (H.264, HEVC, AAC). */
bool framing_codec_supported(enum AVCodecID id);

/* 1 if the access unit starts a closed GOP (H.264 IDR, HEVC IRAP), 0 if
 * not, -1 if no slice was found (not Annex B, or not a frame). */
int framing_keyframe(enum AVCodecID id, const uint8_t *data, size_t size);

/* The start of a PES packet as it arrives, before its frame is complete. */
struct pes_start {
    int64_t pts, dts;        /* 90 kHz, 33 bits; dts = pts when absent */
    int key;                 /* framing_keyframe on this TS packet's bytes */
};

/* If the 188-byte TS packet b starts a PES with a PTS on pid: fills *out
 * (key judged as codec id) and returns true. */
bool framing_pes_start(const uint8_t *b, int pid, enum AVCodecID id, struct pes_start *out);

/* Length of the ADTS frame at data (header included), or 0 if data does
 * not start with a complete ADTS frame. *sample_rate gets its rate. */
size_t framing_adts_frame(const uint8_t *data, size_t size, int *sample_rate);

/* Length of the ADTS header data starts with (7, or 9 with a CRC); 0 when
 * it does not start with a whole one. */
size_t framing_adts_header(const uint8_t *data, size_t size);

/* The 2-byte AudioSpecificConfig an ADTS stream stands for, from what the
 * decoder reported while probing (FF_PROFILE_AAC_*, output rate, output
 * channels). ADTS can only signal SBR and PS implicitly, so HE-AAC (v2)
 * gets the LC core at half the rate (and mono for v2), as aac_adtstoasc
 * writes it; players find SBR and PS in the frames. Returns 0, or -1 when
 * the rate or channels have no ADTS code. */
int framing_aac_config(int profile, int sample_rate, int channels, uint8_t asc[2]);

/* The AudioSpecificConfig, rate and channel count the ADTS header data
 * starts with stands for. Returns 0, or -1 when it is no ADTS header or
 * one MP4 cannot describe (channel configuration 0). */
int framing_adts_config(const uint8_t *data, size_t size, uint8_t asc[2], int *rate,
                        int *channels);

/* The parameter sets (H.264 SPS, PPS; HEVC VPS, SPS, PPS; without the
 * PPS unless with_pps) that come before the first slice of the Annex B
 * access unit data, each behind a 4-byte start code, written to out (up
 * to cap bytes). Returns their length, 0 when there are none, -1 when
 * they do not fit. */
int framing_param_sets(enum AVCodecID id, const uint8_t *data, size_t size, bool with_pps,
                       uint8_t *out, size_t cap);

#endif
