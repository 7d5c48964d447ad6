/* Publisher pipeline: SRT payload -> libavformat mpegts demuxer -> sink.
 *
 * The demuxer's AVIOContext reads through ingest_conn_read, which hands
 * srt_recvmsg the AVIOContext's own buffer, so SRT payload lands where the
 * demuxer parses it without an intermediate copy or queue. Each AVPacket
 * av_read_frame returns is refcounted; the sink references it. */
#include "podium/pipeline.h"

#include <libavutil/opt.h>
#include <pthread.h>
#include <stdlib.h>

#include "podium/log.h"

#define IO_BUFFER_SIZE (64 * 1024)
/* Fast start: enough to see PAT/PMT and the first keyframe's parameters. */
#define PROBE_BYTES (1 << 20)
#define ANALYZE_US 1000000

struct job {
    struct ingest_conn *conn;
    pipeline_sink_fn sink_of;
};

static int read_cb(void *opaque, uint8_t *buf, int len)
{
    int n = ingest_conn_read(opaque, buf, (size_t)len);
    return n == INGEST_EOF ? AVERROR_EOF : n;
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
    AVPacket *pkt = NULL;
    uint8_t *iobuf = av_malloc(IO_BUFFER_SIZE);
    char err[AV_ERROR_MAX_STRING_SIZE];
    int ret;
    bool begun = false;
    uint64_t packets = 0;

    pkt = av_packet_alloc();
    ic = avformat_alloc_context();
    if (iobuf)
        pb = avio_alloc_context(iobuf, IO_BUFFER_SIZE, 0, opaque, read, NULL, NULL);
    if (!pkt || !ic || !pb) {
        ret = AVERROR(ENOMEM);
        log_msg(LV_ERROR, id, "\"out of memory starting the pipeline\" peer=%s", peer);
        if (!pb)
            av_free(iobuf);
        goto out;
    }
    ic->pb = pb;
    ic->flags |= AVFMT_FLAG_CUSTOM_IO;
    ic->probesize = PROBE_BYTES;
    ic->max_analyze_duration = ANALYZE_US;
    ic->fps_probe_size = 0;

    AVDictionary *opts = NULL;
    av_dict_set(&opts, "fix_teletext_pts", "0", 0);
    ret = avformat_open_input(&ic, NULL, av_find_input_format("mpegts"), &opts);
    av_dict_free(&opts);
    if (ret < 0) {
        log_msg(LV_WARN, id, "\"publisher refused: not an MPEG-TS stream\" peer=%s err=\"%s\"",
                peer, av_make_error_string(err, sizeof(err), ret));
        goto out;
    }
    /* Probing decodes a frame or two: one thread each, not a pool per stream. */
    AVDictionary **sopts = av_calloc(ic->nb_streams ? ic->nb_streams : 1, sizeof(*sopts));
    for (unsigned i = 0; sopts && i < ic->nb_streams; i++)
        av_dict_set(&sopts[i], "threads", "1", 0);
    ret = avformat_find_stream_info(ic, sopts);
    for (unsigned i = 0; sopts && i < ic->nb_streams; i++)
        av_dict_free(&sopts[i]);
    av_freep(&sopts);
    if (ret < 0)
        log_msg(LV_WARN, id, "\"stream info incomplete\" peer=%s err=\"%s\"",
                peer, av_make_error_string(err, sizeof(err), ret));

    for (unsigned i = 0; i < ic->nb_streams; i++) {
        const AVCodecParameters *par = ic->streams[i]->codecpar;
        log_msg(LV_INFO, id, "\"input stream\" index=%u type=%s codec=%s",
                i, media_name(par->codec_type), avcodec_get_name(par->codec_id));
    }
    if ((ret = sink->begin(sink->opaque, gen, ic, peer)) != PIPE_OK)
        goto out; /* the sink logged why */
    begun = true;

    while ((ret = av_read_frame(ic, pkt)) >= 0) {
        packets++;
        int r = sink->packet(sink->opaque, gen, pkt, ic->streams[pkt->stream_index]);
        av_packet_unref(pkt);
        if (r == PIPE_STOP)
            break;
    }
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
