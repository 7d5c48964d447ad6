/* A recording's playlist trimmed for publishing: the text is read back from
 * disk, so anything may be in it. The first two bytes pick the window (half
 * seconds from -1, so "from the beginning" and "to the end" come up), the
 * rest is the playlist. Whatever is given, a refusal says why, and a
 * trimmed text is a playlist that trims as a whole to itself. The same text
 * goes through playlist_delta (the first byte's low bit asks for a skip). */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "podium/playlist.h"

#define PDT(hms) "#EXT-X-PROGRAM-DATE-TIME:2021-02-22T16:" hms "Z\n"

int fuzz_init(void)
{
    /* as relay/record.c writes them: a gap, a new publisher */
    static const char ts[] =
        "\x07\x14#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n"
        "#EXT-X-DISCONTINUITY-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n"
        "#EXT-X-INDEPENDENT-SEGMENTS\n" PDT("00:00.000") "#EXTINF:2.000,\n0.ts\n"
        PDT("00:02.000") "#EXTINF:1.960,\n1.ts\n#EXT-X-DISCONTINUITY\n" PDT("00:08.000")
        "#EXTINF:2.000,\n4.ts\n#EXT-X-DISCONTINUITY\n" PDT("01:00.000")
        "#EXTINF:1.500,\n5.ts\n" PDT("01:01.500") "#EXTINF:2.000,\n6.ts\n#EXT-X-ENDLIST\n";
    static const char fmp4[] =
        "\x05\x00#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:3\n"
        "#EXT-X-DISCONTINUITY-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:EVENT\n"
        "#EXT-X-MAP:URI=\"init-3.mp4\"\n" PDT("00:00.000") "#EXTINF:2.000,\n3.m4s\n"
        PDT("00:02.000") "#EXTINF:2.000,\n4.m4s\n#EXT-X-DISCONTINUITY\n"
        "#EXT-X-MAP:URI=\"init-5.mp4\"\n" PDT("00:30.000") "#EXTINF:2.000,\n5.m4s\n"
        PDT("00:32.000") "#EXTINF:0.999,\n6.m4s\n";
    /* what other writers may leave: no sequence tags, CRLF, gaps, comments */
    static const char other[] =
        "\x02\x09#EXTM3U\r\n#EXT-X-TARGETDURATION:3\r\n# note\r\n#EXT-X-FOO:1\r\n"
        "#EXTINF:2.5,a\r\n0.ts\r\n\r\n#EXT-X-DISCONTINUITY\r\n#EXT-X-GAP\r\n#EXTINF:3,\r\n1.ts\r\n"
        "#EXT-X-ENDLIST\r\n#EXTINF:0.1,\r\n2.ts";
    fuzz_add_seed(ts, sizeof(ts) - 1);
    fuzz_add_seed(fmp4, sizeof(fmp4) - 1);
    fuzz_add_seed(other, sizeof(other) - 1);
    return 0;
}

/* URI lines: not a tag or comment, not empty once its line end is off. */
static size_t segments(const char *text)
{
    size_t n = 0;
    for (const char *p = text; *p;) {
        size_t k = strcspn(p, "\n"), e = k;
        while (e > 0 && p[e - 1] == '\r')
            e--;
        n += e > 0 && p[0] != '#';
        p += p[k] ? k + 1 : k;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    double start = data[0] / 2.0 - 1, end = data[1] / 2.0 - 1;
    const char *text = (const char *)data + 2, *why = NULL;
    size_t len = size - 2, out_len = 0;
    /* the open recording's delta update: refused exactly when a whole
     * trim is, and never longer than the text, an inherited map and the
     * added tags */
    const char *dwhy = NULL, *wwhy = NULL;
    size_t d_len = 0;
    char *delta = playlist_delta(text, len, data[0] & 1, &d_len, &dwhy);
    char *whole = playlist_trim(text, len, 0, 0, NULL, &wwhy);
    if (!delta != !whole || (!delta && !dwhy)
        || (delta && (strlen(delta) != d_len || d_len > 2 * len + 320 || strncmp(delta, "#EXTM3U\n", 8) != 0)))
        abort();
    free(delta);
    free(whole);
    char *out = playlist_trim(text, len, start, end, &out_len, &why);
    if (!out) {
        if (!why)
            abort();                          /* a refusal must say why */
        return 0;
    }
    if (why || strlen(out) != out_len || out_len > 2 * len + 256
        || strncmp(out, "#EXTM3U\n", 8) != 0 || out[out_len - 1] != '\n')
        abort();
    /* a valid playlist: read back, as a whole it is the same text */
    size_t again_len = 0;
    char *again = playlist_trim(out, out_len, 0, 0, &again_len, &why);
    if (!again || again_len != out_len || memcmp(again, out, out_len) != 0)
        abort();
    char *in = fuzz_cstring((const uint8_t *)text, len);
    size_t n = segments(out);
    if (n == 0 || n > segments(in))
        abort();
    free(in);
    free(again);
    free(out);
    return 0;
}
