/* Pipeline: one thread per publisher demuxes the SRT byte stream with
 * libavformat and fans refcounted packets out to a sink. */
#ifndef PODIUM_PIPELINE_H
#define PODIUM_PIPELINE_H

#include <libavformat/avformat.h>
#include <stdbool.h>
#include <stdint.h>

#include "podium/ingest.h"

#define PIPE_OK 0
#define PIPE_STOP (-2)     /* sink: this publisher was superseded, stop */
#define PIPE_REFUSE (-3)   /* sink: the input cannot be used, drop it */

/* The consumer of one session's packets. The pipeline borrows the packet
 * for the duration of `packet`; a sink that keeps it takes av_packet_ref. */
struct pipeline_sink {
    /* New publisher `gen` with the demuxed streams; PIPE_OK or PIPE_REFUSE. */
    int (*begin)(void *opaque, uint32_t gen, const AVFormatContext *ic,
                 const char *peer);
    /* PIPE_OK, or PIPE_STOP when gen is no longer the session's publisher. */
    int (*packet)(void *opaque, uint32_t gen, const AVPacket *pkt,
                  const AVStream *st);
    /* Optional. The next frame of st has begun to arrive: its timestamps
     * (st->time_base) and whether it is a keyframe are known, its data is
     * not. What the sink builds can be closed now instead of one frame
     * later, when that frame is complete. */
    void (*next_frame)(void *opaque, uint32_t gen, const AVStream *st,
                       int64_t pts, int64_t dts, bool key);
    /* Publisher `gen` is gone (disconnect, error, takeover, shutdown). */
    void (*end)(void *opaque, uint32_t gen);
    void *opaque;
};

/* Resolves the sink of a session (set up by main). */
typedef const struct pipeline_sink *(*pipeline_sink_fn)(struct session *s);

/* Reads up to len bytes of MPEG-TS into buf, waiting at most timeout_ms
 * (-1: no limit): bytes read, AVERROR(ETIMEDOUT), or AVERROR_EOF. */
typedef int (*pipeline_read_fn)(void *opaque, uint8_t *buf, int len, int timeout_ms);

/* Demuxes what read delivers and feeds sink as publisher gen of session id,
 * on the calling thread, until the input ends or the sink says stop.
 * Returns 0, or a negative AVERROR / PIPE_REFUSE when the input was unusable.
 * (The publisher threads run this over SRT; benchmarks over a file.) */
int pipeline_run(const char *id, uint32_t gen, const char *peer, pipeline_read_fn read,
                 void *opaque, const struct pipeline_sink *sink);

/* Starts the publisher's thread, which owns conn from now on and releases
 * it with ingest_conn_close when the stream ends. On failure conn is
 * closed here. Returns 0 or -1. */
int pipeline_spawn(struct ingest_conn *conn, pipeline_sink_fn sink_of);

/* Whether the input pipeline_run reads on the calling thread has ended and
 * the demuxer is handing out what it held: what libav then says about the
 * last frames (cut short when an encoder stops) is expected. */
bool pipeline_input_ended(void);

#endif
