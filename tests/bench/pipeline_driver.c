/* Benchmark driver: feeds an MPEG-TS file through Podium's production path
 * (libavformat demux -> segmenter -> live window + recording on disk) on one
 * thread, in 1316-byte reads as SRT delivers them, as fast as it can.
 * scripts/bench pipeline counts its instructions with callgrind.
 *
 *   pipeline_driver [--watched] FILE.ts DATA_DIR [SEGMENT_DURATION]
 *
 * --watched hands every segment's fd out as a viewer's download does
 * (segbuf_fd). Builds that reused a retired segment's pages (before
 * segbuf's staging) then reused none: it compares them with this one.
 */
#include <errno.h>
#include <fcntl.h>
#include <libavformat/avformat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "podium/pipeline.h"
#include "podium/record.h"
#include "podium/segbuf.h"
#include "podium/segmenter.h"
#include "podium/store.h"

#define SRT_PAYLOAD 1316

struct fanout {
    struct live_window *win;
    struct recorder *rec;
    unsigned long segments;
    bool watched;
};

static void on_segment(void *opaque, const struct media_segment *seg)
{
    struct fanout *f = opaque;
    if (f->watched)
        segbuf_fd(seg->data);            /* as the first viewer's sendfile */
    store_on_segment(f->win, seg);
    rec_on_segment(f->rec, seg);
    f->segments++;
}

static int read_file(void *opaque, uint8_t *buf, int len, int timeout_ms)
{
    (void)timeout_ms;                    /* a file never keeps us waiting */
    int fd = *(int *)opaque;
    ssize_t n;
    do
        n = read(fd, buf, len < SRT_PAYLOAD ? (size_t)len : SRT_PAYLOAD);
    while (n < 0 && errno == EINTR);
    return n > 0 ? (int)n : AVERROR_EOF;
}

int main(int argc, char **argv)
{
    bool watched = argc > 1 && strcmp(argv[1], "--watched") == 0;
    if (watched) {
        argv++;
        argc--;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: pipeline_driver [--watched] FILE.ts DATA_DIR [SEGMENT_DURATION]\n");
        return 2;
    }
    double segdur = argc > 3 ? atof(argv[3]) : 2.0;
    int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "%s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    struct rec_writer *w = rec_writer_start(NULL, NULL);
    struct fanout f = { .win = store_window_create("bench", 6), .watched = watched };
    f.rec = w ? rec_open(w, argv[2], "bench") : NULL;
    struct seg_params p = { .session_id = "bench", .segment_duration = segdur,
                            .output = on_segment, .opaque = &f };
    struct segmenter *seg = f.win && f.rec ? seg_create(&p) : NULL;
    int ret = 1;
    if (seg) {
        ret = pipeline_run("bench", 1, "file", read_file, &fd, seg_sink(seg)) < 0;
        rec_finalize(f.rec);
    }
    rec_writer_stop(&w);
    printf("segments=%lu\n", f.segments);
    seg_free(&seg);
    rec_free(&f.rec);
    store_window_free(&f.win);
    close(fd);
    return ret;
}
