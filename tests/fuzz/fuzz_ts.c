/* What a publisher sends: MPEG-TS through the production pipeline (demux,
 * PES framing, segmenter, live window), in SRT-sized reads, each segment
 * muxed as TS or fMP4 parts as a bit of the input says. Seeds: TS files given
 * with -s (ctest makes one with ffmpeg). Inputs run whole: no hang, no
 * crash, whatever the bytes. */
#include <libavutil/log.h>
#include <string.h>

#include "fuzz.h"
#include "podium/log.h"
#include "podium/pipeline.h"
#include "podium/segmenter.h"
#include "podium/store.h"

struct feed {
    const uint8_t *data;
    size_t size, off, chunk;
};

static int read_feed(void *opaque, uint8_t *buf, int len, int timeout_ms)
{
    (void)timeout_ms;                    /* the input is all there */
    struct feed *f = opaque;
    size_t n = f->size - f->off;
    if (n == 0)
        return AVERROR_EOF;
    if (n > f->chunk)
        n = f->chunk;
    if (n > (size_t)len)
        n = (size_t)len;
    memcpy(buf, f->data + f->off, n);
    f->off += n;
    return (int)n;
}

int fuzz_init(void)
{
    log_set_level((enum log_level)(LV_ERROR + 1));
    av_log_set_level(AV_LOG_QUIET);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bool fmp4 = size > 0 && data[size / 2] & 1;   /* the input decides: replays match */
    struct live_window *win = store_window_create("fz", 4);
    struct seg_params p = { .session_id = "fz", .segment_duration = 0.5, .fmp4 = fmp4,
                            .part_duration = fmp4 ? 0.2 : 0, .output = store_on_segment,
                            .part_output = store_on_part, .opaque = win };
    struct segmenter *seg = win ? seg_create(&p) : NULL;
    if (!seg)
        abort();
    /* 1316 bytes a read as SRT delivers, or an odd size the input picks */
    struct feed f = { data, size, 0, size && data[size - 1] % 3 == 0 ? 1 + data[0] : 1316 };
    pipeline_run("fz", 1, "fuzz", read_feed, &f, seg_sink(seg));
    seg_free(&seg);
    store_window_free(&win);
    return 0;
}
