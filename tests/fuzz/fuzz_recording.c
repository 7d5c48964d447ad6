/* A recording's index.m3u8 read back after a crash (or a disk that kept
 * half a write): whatever it holds, the recorder opens, keeps only entries
 * whose segment is on disk, and rewrites a playlist it can read again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "podium/log.h"
#include "podium/record.h"

static char root[] = "/tmp/podium-fuzz-rec-XXXXXX";
static char dir[256], index_path[300];

static void remove_tree(void)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", root);
}

int fuzz_init(void)
{
    if (!mkdtemp(root))
        return -1;
    atexit(remove_tree);
    snprintf(dir, sizeof(dir), "%s/recordings", root);
    mkdir(dir, 0700);
    snprintf(dir, sizeof(dir), "%s/recordings/fz", root);
    mkdir(dir, 0700);
    snprintf(index_path, sizeof(index_path), "%s/index.m3u8", dir);
    /* segments 0-3 exist, as .ts and .m4s; 4 and up were lost */
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 2; k++) {
            char p[320];
            snprintf(p, sizeof(p), "%s/%d.%s", dir, i, k ? "m4s" : "ts");
            FILE *f = fopen(p, "w");
            if (!f || fputs("segment", f) < 0 || fclose(f) != 0)
                return -1;
        }
    log_set_level((enum log_level)(LV_ERROR + 1));
    static const char ts[] =
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n"
        "#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-PROGRAM-DATE-TIME:2026-11-27T10:00:00.000Z\n"
        "#EXTINF:2.000,\n0.ts\n#EXTINF:1.960,\n1.ts\n#EXT-X-DISCONTINUITY\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-27T10:05:00.120Z\n#EXTINF:2.040,\n2.ts\n"
        "#EXTINF:2.000,\n4.ts\n#EXTINF:2.0,\n3.ts\n#EXT-X-ENDLIST\n";
    static const char fmp4[] =
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:1\n#EXT-X-MAP:URI=\"init-0.mp4\"\n"
        "#EXTINF:1.000,\n0.m4s\n#EXT-X-MAP:URI=\"init-1.mp4\"\n#EXT-X-DISCONTINUITY\n"
        "#EXTINF:1.000,\n1.m4s\n";
    fuzz_add_seed(ts, sizeof(ts) - 1);
    fuzz_add_seed(fmp4, sizeof(fmp4) - 1);
    return 0;
}

static size_t open_and_count(void)
{
    struct recorder *r = rec_open(NULL, root, "fz");
    if (!r)
        abort();
    struct rec_stats st;
    rec_get_stats(r, &st);
    size_t len = 0, n = 0;
    free(rec_playlist_open(r, &len, &n));
    size_t entries = st.segments;
    rec_free(&r);
    return entries;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fopen(index_path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
    size_t first = open_and_count();
    if (first > 4)
        abort();                              /* only 4 segments exist */
    /* the playlist recovery rewrote must read back the same */
    if (first > 0 && open_and_count() != first)
        abort();
    return 0;
}
