/* Unit tests: playlist_render (RFC 8216 media playlist text) and
 * playlist_trim (a recording's playlist cut to a window of media time). */
#include "unit.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "podium/playlist.h"

#define PDT0 INT64_C(1614009600123) /* 2021-02-22T16:00:00.123Z */

static const struct playlist_params live = { .target = 3, .ext = "ts" };

static int render(char *buf, size_t cap, const struct playlist_params *p,
                  const struct playlist_entry *e, size_t n)
{
    memset(buf, 0x7f, cap);
    return playlist_render(buf, cap, p, e, n);
}

/* Renders into a large buffer and compares the whole text. */
static void expect_text(const struct playlist_params *p,
                        const struct playlist_entry *e, size_t n,
                        const char *expected)
{
    char buf[4096];
    int len = render(buf, sizeof(buf), p, e, n);
    assert_string_equal(buf, expected);
    assert_int_equal(len, (int)strlen(expected));
}

static void test_window(void **state)
{
    (void)state;
    const struct playlist_entry e[] = {
        { .seq = 100, .duration = 2.0, .pdt_ms = PDT0, .independent = true },
        { .seq = 101, .duration = 2.002, .pdt_ms = PDT0 + 2000, .independent = true },
        { .seq = 102, .duration = 1.4999, .pdt_ms = PDT0 + 4002 - 118, .independent = true },
    };
    expect_text(&live, e, 3,
                "#EXTM3U\n"
                "#EXT-X-VERSION:3\n"
                "#EXT-X-TARGETDURATION:3\n"
                "#EXT-X-MEDIA-SEQUENCE:100\n"
                "#EXT-X-DISCONTINUITY-SEQUENCE:0\n"
                "#EXT-X-INDEPENDENT-SEGMENTS\n"
                "#EXT-X-PROGRAM-DATE-TIME:2021-02-22T16:00:00.123Z\n"
                "#EXTINF:2.000,\n"
                "100.ts\n"
                "#EXT-X-PROGRAM-DATE-TIME:2021-02-22T16:00:02.123Z\n"
                "#EXTINF:2.002,\n"
                "101.ts\n"
                "#EXT-X-PROGRAM-DATE-TIME:2021-02-22T16:00:04.007Z\n"
                "#EXTINF:1.500,\n"
                "102.ts\n");
}

static void test_discontinuity(void **state)
{
    (void)state;
    const struct playlist_entry e[] = {
        { .seq = 7, .duration = 2.0, .pdt_ms = PDT0, .independent = true },
        { .seq = 8, .duration = 1.0, .pdt_ms = PDT0 + 60000, .discontinuity = true,
          .independent = true },
        { .seq = 9, .duration = 2.0, .pdt_ms = PDT0 + 61000, .independent = true },
    };
    const struct playlist_params p = { .target = 2, .disc_seq = 4, .ext = "ts" };
    expect_text(&p, e, 3,
                "#EXTM3U\n"
                "#EXT-X-VERSION:3\n"
                "#EXT-X-TARGETDURATION:2\n"
                "#EXT-X-MEDIA-SEQUENCE:7\n"
                "#EXT-X-DISCONTINUITY-SEQUENCE:4\n"
                "#EXT-X-INDEPENDENT-SEGMENTS\n"
                "#EXT-X-PROGRAM-DATE-TIME:2021-02-22T16:00:00.123Z\n"
                "#EXTINF:2.000,\n"
                "7.ts\n"
                "#EXT-X-DISCONTINUITY\n"
                "#EXT-X-PROGRAM-DATE-TIME:2021-02-22T16:01:00.123Z\n"
                "#EXTINF:1.000,\n"
                "8.ts\n"
                "#EXT-X-PROGRAM-DATE-TIME:2021-02-22T16:01:01.123Z\n"
                "#EXTINF:2.000,\n"
                "9.ts\n");
}

static void test_ended_event_no_pdt(void **state)
{
    (void)state;
    const struct playlist_entry e[] = {
        { .seq = 0, .duration = 6.0, .independent = true },
        { .seq = 1, .duration = 0.04, .independent = true },
    };
    const struct playlist_params p = { .target = 6, .type = "EVENT", .ended = true,
                                       .ext = "ts" };
    expect_text(&p, e, 2,
                "#EXTM3U\n"
                "#EXT-X-VERSION:3\n"
                "#EXT-X-TARGETDURATION:6\n"
                "#EXT-X-MEDIA-SEQUENCE:0\n"
                "#EXT-X-DISCONTINUITY-SEQUENCE:0\n"
                "#EXT-X-PLAYLIST-TYPE:EVENT\n"
                "#EXT-X-INDEPENDENT-SEGMENTS\n"
                "#EXTINF:6.000,\n"
                "0.ts\n"
                "#EXTINF:0.040,\n"
                "1.ts\n"
                "#EXT-X-ENDLIST\n");

    /* VOD, another extension */
    const struct playlist_params v = { .target = 6, .type = "VOD", .ended = true,
                                       .ext = "m4s" };
    char buf[1024];
    assert_true(render(buf, sizeof(buf), &v, e, 2) > 0);
    assert_non_null(strstr(buf, "\n#EXT-X-PLAYLIST-TYPE:VOD\n"));
    assert_non_null(strstr(buf, "\n0.m4s\n"));
    assert_non_null(strstr(buf, "\n1.m4s\n#EXT-X-ENDLIST\n"));
    assert_null(strstr(buf, ".ts"));
}

static void test_not_independent(void **state)
{
    (void)state;
    const struct playlist_entry e[] = {
        { .seq = 5, .duration = 2.0, .independent = true },
        { .seq = 6, .duration = 2.0, .independent = false }, /* forced cut */
        { .seq = 7, .duration = 2.0, .independent = true },
    };
    expect_text(&live, e, 3,
                "#EXTM3U\n"
                "#EXT-X-VERSION:3\n"
                "#EXT-X-TARGETDURATION:3\n"
                "#EXT-X-MEDIA-SEQUENCE:5\n"
                "#EXT-X-DISCONTINUITY-SEQUENCE:0\n"
                "#EXTINF:2.000,\n"
                "5.ts\n"
                "#EXTINF:2.000,\n"
                "6.ts\n"
                "#EXTINF:2.000,\n"
                "7.ts\n");
}

static void test_no_open_ended_list_without_flag(void **state)
{
    (void)state;
    const struct playlist_entry e[] = { { .seq = 1, .duration = 2.0, .independent = true } };
    char buf[512];
    assert_true(render(buf, sizeof(buf), &live, e, 1) > 0);
    assert_null(strstr(buf, "ENDLIST"));
    assert_null(strstr(buf, "PLAYLIST-TYPE"));
    assert_null(strstr(buf, "#EXT-X-DISCONTINUITY\n"));
    assert_null(strstr(buf, "PROGRAM-DATE-TIME"));
}

static void test_cap(void **state)
{
    (void)state;
    const struct playlist_entry e[] = {
        { .seq = 100, .duration = 2.0, .pdt_ms = PDT0, .independent = true },
        { .seq = 101, .duration = 2.0, .pdt_ms = PDT0 + 2000, .independent = true },
    };
    const struct playlist_params p = { .target = 2, .ended = true, .ext = "ts" };
    char full[1024];
    int len = render(full, sizeof(full), &p, e, 2);
    assert_true(len > 0);
    assert_int_equal(strlen(full), (size_t)len);

    char buf[1024];
    /* exactly enough: text + NUL */
    assert_int_equal(render(buf, (size_t)len + 1, &p, e, 2), len);
    assert_string_equal(buf, full);
    /* one byte short, and much too short: -1, never past cap */
    for (size_t cap = 0; cap <= (size_t)len; cap += cap < 40 ? 1 : 13) {
        memset(buf, 0x7f, sizeof(buf));
        assert_int_equal(playlist_render(buf, cap, &p, e, 2), -1);
        for (size_t i = cap; i < sizeof(buf); i++)
            if ((unsigned char)buf[i] != 0x7f)
                fail_msg("cap %zu: byte %zu written", cap, i);
    }
    memset(buf, 0x7f, sizeof(buf));
    assert_int_equal(playlist_render(buf, (size_t)len, &p, e, 2), -1);
    assert_int_equal((unsigned char)buf[len], 0x7f);
}

static void test_large_seq(void **state)
{
    (void)state;
    const uint64_t big = (UINT64_C(1) << 63) - 1;
    const struct playlist_entry e[] = {
        { .seq = big, .duration = 2.0, .independent = true },
        { .seq = big + 1, .duration = 2.0, .independent = true },
        { .seq = big + 2, .duration = 2.0, .independent = true },
    };
    const struct playlist_params p = { .target = 2, .disc_seq = big, .ext = "ts" };
    expect_text(&p, e, 3,
                "#EXTM3U\n"
                "#EXT-X-VERSION:3\n"
                "#EXT-X-TARGETDURATION:2\n"
                "#EXT-X-MEDIA-SEQUENCE:9223372036854775807\n"
                "#EXT-X-DISCONTINUITY-SEQUENCE:9223372036854775807\n"
                "#EXT-X-INDEPENDENT-SEGMENTS\n"
                "#EXTINF:2.000,\n"
                "9223372036854775807.ts\n"
                "#EXTINF:2.000,\n"
                "9223372036854775808.ts\n"
                "#EXTINF:2.000,\n"
                "9223372036854775809.ts\n");
}

/* Millisecond formatting: zero-padded, and across day/year boundaries. */
static void test_pdt_format(void **state)
{
    (void)state;
    static const struct { int64_t ms; const char *text; } cases[] = {
        { 1, "1970-01-01T00:00:00.001Z" },
        { 999, "1970-01-01T00:00:00.999Z" },
        { 1000, "1970-01-01T00:00:01.000Z" },
        { INT64_C(978307199999), "2000-12-31T23:59:59.999Z" },
        { INT64_C(978307200000), "2001-01-01T00:00:00.000Z" },
        { INT64_C(1709164800050), "2024-02-29T00:00:00.050Z" },
    };
    for (size_t i = 0; i < UNIT_LEN(cases); i++) {
        struct playlist_entry e = { .seq = 1, .duration = 1.0, .pdt_ms = cases[i].ms };
        char buf[512], want[128];
        assert_true(render(buf, sizeof(buf), &live, &e, 1) > 0);
        snprintf(want, sizeof(want), "\n#EXT-X-PROGRAM-DATE-TIME:%s\n#EXTINF:1.000,\n1.ts\n",
                 cases[i].text);
        if (!strstr(buf, want))
            fail_msg("pdt_ms %lld: expected '%s' in:\n%s", (long long)cases[i].ms,
                     cases[i].text, buf);
    }
}


/* LL-HLS: server control, part info, maps, parts before their segment, the
 * segment being built and the preload hint for its next part. */
static void test_ll_parts(void **state)
{
    (void)state;
    const struct playlist_part p5[] = { { 0, 0.2, true }, { 1, 0.2, false } };
    const struct playlist_part p6[] = { { 0, 0.2, true } };
    const struct playlist_entry e[] = {
        { .seq = 5, .duration = 0.4, .independent = true, .has_map = true, .map_id = 3,
          .parts = p5, .n_parts = 2 },
    };
    const struct playlist_params p = { .target = 1, .ext = "m4s", .version = 9,
                                       .part_target = 0.2, .skip_until = 6.0,
                                       .pending_seq = 6, .pending = p6, .n_pending = 1,
                                       .pending_has_map = true, .pending_map_id = 3,
                                       .preload_hint = true };
    expect_text(&p, e, 1,
                "#EXTM3U\n"
                "#EXT-X-VERSION:9\n"
                "#EXT-X-TARGETDURATION:1\n"
                "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.600,CAN-SKIP-UNTIL=6.0\n"
                "#EXT-X-PART-INF:PART-TARGET=0.20000\n"
                "#EXT-X-MEDIA-SEQUENCE:5\n"
                "#EXT-X-DISCONTINUITY-SEQUENCE:0\n"
                "#EXT-X-INDEPENDENT-SEGMENTS\n"
                "#EXT-X-MAP:URI=\"init-3.mp4\"\n"
                "#EXT-X-PART:DURATION=0.20000,URI=\"5.0.m4s\",INDEPENDENT=YES\n"
                "#EXT-X-PART:DURATION=0.20000,URI=\"5.1.m4s\"\n"
                "#EXTINF:0.400,\n"
                "5.m4s\n"
                "#EXT-X-PART:DURATION=0.20000,URI=\"6.0.m4s\",INDEPENDENT=YES\n"
                "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"6.1.m4s\"\n");
}

/* Delta update: skipped entries still set MEDIA-SEQUENCE; a new init
 * section (a new publisher) gets its own EXT-X-MAP. */
static void test_ll_skip_and_map_change(void **state)
{
    (void)state;
    const struct playlist_entry e[] = {
        { .seq = 1, .duration = 1.0, .independent = true, .has_map = true, .map_id = 0 },
        { .seq = 2, .duration = 1.0, .independent = true, .has_map = true, .map_id = 0 },
        { .seq = 3, .duration = 1.0, .independent = true, .has_map = true, .map_id = 3,
          .discontinuity = true },
    };
    const struct playlist_params p = { .target = 1, .ext = "m4s", .version = 9,
                                       .part_target = 0.2, .skip = 1, .pending_seq = 4 };
    expect_text(&p, e, 3,
                "#EXTM3U\n"
                "#EXT-X-VERSION:9\n"
                "#EXT-X-TARGETDURATION:1\n"
                "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.600\n"
                "#EXT-X-PART-INF:PART-TARGET=0.20000\n"
                "#EXT-X-MEDIA-SEQUENCE:1\n"
                "#EXT-X-DISCONTINUITY-SEQUENCE:0\n"
                "#EXT-X-INDEPENDENT-SEGMENTS\n"
                "#EXT-X-SKIP:SKIPPED-SEGMENTS=1\n"
                "#EXT-X-MAP:URI=\"init-0.mp4\"\n"
                "#EXTINF:1.000,\n"
                "2.m4s\n"
                "#EXT-X-DISCONTINUITY\n"
                "#EXT-X-MAP:URI=\"init-3.mp4\"\n"
                "#EXTINF:1.000,\n"
                "3.m4s\n");
}

/* One entry of a growing (recording) playlist. */
static void test_render_entry(void **state)
{
    (void)state;
    char buf[256];
    const struct playlist_entry e = { .seq = 42, .duration = 1.9, .pdt_ms = PDT0,
                                      .discontinuity = true, .has_map = true, .map_id = 40 };
    int n = playlist_render_entry(buf, sizeof(buf), &e, "m4s", true);
    assert_string_equal(buf, "#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"init-40.mp4\"\n"
                             "#EXT-X-PROGRAM-DATE-TIME:2021-02-22T16:00:00.123Z\n"
                             "#EXTINF:1.900,\n42.m4s\n");
    assert_int_equal(n, (int)strlen(buf));
    n = playlist_render_entry(buf, sizeof(buf), &e, "m4s", false);
    assert_null(strstr(buf, "EXT-X-MAP"));
    assert_int_equal(playlist_render_entry(buf, 10, &e, "m4s", true), -1);
}

/* ------------------------------------------------------------ playlist_trim
 *
 * The playlists below are written as relay/record.c writes them:
 * render_head (VERSION 3 for TS, 7 for fMP4; MEDIA-SEQUENCE the first
 * entry's number; DISCONTINUITY-SEQUENCE:0; PLAYLIST-TYPE EVENT while open,
 * VOD and ENDLIST once finalized; INDEPENDENT-SEGMENTS), then each entry as
 * render_entry has it: DISCONTINUITY (after a gap or a new publisher), MAP
 * (fMP4: on the first entry, a new init section or after a discontinuity),
 * PROGRAM-DATE-TIME, EXTINF with 3 decimals, "<seq>.<ext>". A gap is only
 * a DISCONTINUITY and numbers skipped in the file names. */

#define HEAD(version, mseq, dseq, type)                                        \
    "#EXTM3U\n#EXT-X-VERSION:" version "\n#EXT-X-TARGETDURATION:2\n"          \
    "#EXT-X-MEDIA-SEQUENCE:" mseq "\n#EXT-X-DISCONTINUITY-SEQUENCE:" dseq "\n" \
    "#EXT-X-PLAYLIST-TYPE:" type "\n#EXT-X-INDEPENDENT-SEGMENTS\n"
#define PDT(hms) "#EXT-X-PROGRAM-DATE-TIME:2021-02-22T16:" hms "Z\n"
#define DISC "#EXT-X-DISCONTINUITY\n"
#define MAP(id) "#EXT-X-MAP:URI=\"init-" id ".mp4\"\n"
#define END "#EXT-X-ENDLIST\n"

/* MPEG-TS; media time: 0, 2, 4 | 3 and 4 lost | 6, 8 | new publisher | 10, 11.5; 13.5 */
#define TS0 PDT("00:00.000") "#EXTINF:2.000,\n0.ts\n"
#define TS1 PDT("00:02.000") "#EXTINF:2.000,\n1.ts\n"
#define TS2 PDT("00:04.000") "#EXTINF:2.000,\n2.ts\n"
#define TS5 DISC PDT("00:10.000") "#EXTINF:2.000,\n5.ts\n"
#define TS6 PDT("00:12.000") "#EXTINF:2.000,\n6.ts\n"
#define TS7 DISC PDT("01:00.000") "#EXTINF:1.500,\n7.ts\n"
#define TS8 PDT("01:01.500") "#EXTINF:2.000,\n8.ts\n"
#define TS_BODY TS0 TS1 TS2 TS5 TS6 TS7 TS8
static const char ts_vod[] = HEAD("3", "0", "0", "VOD") TS_BODY END;

/* fMP4; media time: 0, 2, 4 | new publisher, init-3 | 6, 8 | 5 and 6 lost
 * (the same init repeated after the discontinuity) | 10, 11; 13 */
#define F0 MAP("0") PDT("00:00.000") "#EXTINF:2.000,\n0.m4s\n"
#define F1 PDT("00:02.000") "#EXTINF:2.000,\n1.m4s\n"
#define F2 PDT("00:04.000") "#EXTINF:2.000,\n2.m4s\n"
#define F3 DISC MAP("3") PDT("00:30.000") "#EXTINF:2.000,\n3.m4s\n"
#define F4 PDT("00:32.000") "#EXTINF:2.000,\n4.m4s\n"
#define F7 DISC MAP("3") PDT("00:40.000") "#EXTINF:1.000,\n7.m4s\n"
#define F8 PDT("00:41.000") "#EXTINF:2.000,\n8.m4s\n"
static const char fmp4_vod[] = HEAD("7", "0", "0", "VOD") F0 F1 F2 F3 F4 F7 F8 END;

static char *trim(const char *text, size_t len, double start, double end, const char **why)
{
    size_t n = 0x7777;
    *why = "(not set)";
    char *out = playlist_trim(text, len, start, end, &n, why);
    if (out) {
        assert_null(*why);
        assert_int_equal(n, strlen(out));
    } else {
        assert_non_null(*why);
        assert_int_equal(n, 0x7777);
    }
    return out;
}

static void expect_trim(const char *text, double start, double end, const char *want)
{
    const char *why;
    char *out = trim(text, strlen(text), start, end, &why);
    if (!out)
        fail_msg("trim [%g, %g): NULL, %s", start, end, why);
    if (strcmp(out, want) != 0)
        fail_msg("trim [%g, %g):\n%s\nexpected:\n%s", start, end, out, want);
    free(out);
}

static void expect_refused(const char *text, size_t len, double start, double end,
                           const char *reason)
{
    const char *why;
    char *out = trim(text, len, start, end, &why);
    if (out)
        fail_msg("trim [%g, %g) should fail (%s), gave:\n%s", start, end, reason, out);
    if (!strstr(why, reason))
        fail_msg("trim [%g, %g): reason '%s', expected '%s'", start, end, why, reason);
}

static void test_trim_whole(void **state)
{
    (void)state;
    /* no trim, end <= 0 or past the end, start <= 0: the same text */
    static const double w[][2] = { { 0, 0 }, { 0, 13.5 }, { 0, 100 }, { -3, -1 },
                                   { 0, INFINITY }, { -INFINITY, 0 } };
    for (size_t i = 0; i < UNIT_LEN(w); i++) {
        expect_trim(ts_vod, w[i][0], w[i][1], ts_vod);
        expect_trim(fmp4_vod, w[i][0], w[i][1], fmp4_vod);
    }
}

static void test_trim_start(void **state)
{
    (void)state;
    /* the end cut off: the trimmed list is final, ENDLIST even if open */
    expect_trim(ts_vod, 0, 3, HEAD("3", "0", "0", "VOD") TS0 TS1 END);
    expect_trim(fmp4_vod, 0, 0.001, HEAD("7", "0", "0", "VOD") F0 END);
}

static void test_trim_middle(void **state)
{
    (void)state;
    /* from the segment before start to the one containing end */
    expect_trim(ts_vod, 5, 9, HEAD("3", "2", "0", "VOD") TS2 TS5 TS6 END);
    /* MEDIA-SEQUENCE counts entries, not file names: 5.ts is the 4th
     * segment (index 3) after the gap; its own DISCONTINUITY stays */
    expect_trim(ts_vod, 6.5, 7.9, HEAD("3", "3", "0", "VOD") TS5 END);
    /* one discontinuity dropped before the first segment kept */
    expect_trim(ts_vod, 9, 10.5, HEAD("3", "4", "1", "VOD") TS6 TS7 END);
}

static void test_trim_end(void **state)
{
    (void)state;
    expect_trim(ts_vod, 10.5, 0, HEAD("3", "5", "1", "VOD") TS7 TS8 END);
    /* both discontinuities dropped */
    expect_trim(ts_vod, 12, 0, HEAD("3", "6", "2", "VOD") TS8 END);
    expect_trim(ts_vod, 13.499, 0, HEAD("3", "6", "2", "VOD") TS8 END);
    expect_trim(ts_vod, 11.5, 1e9, HEAD("3", "6", "2", "VOD") TS8 END);
}

/* A window edge on a segment edge: a segment ending at start or starting
 * at end does not overlap [start, end). */
static void test_trim_edges(void **state)
{
    (void)state;
    expect_trim(ts_vod, 4, 6, HEAD("3", "2", "0", "VOD") TS2 END);
    expect_trim(ts_vod, 2, 4, HEAD("3", "1", "0", "VOD") TS1 END);
    expect_trim(ts_vod, 3.999, 4.001, HEAD("3", "1", "0", "VOD") TS1 TS2 END);
    expect_trim(ts_vod, 10, 11.5, HEAD("3", "5", "1", "VOD") TS7 END);
    expect_trim(ts_vod, 0, 2, HEAD("3", "0", "0", "VOD") TS0 END);

    /* Edges summed from EXTINF text exactly: in binary 0.1 + 0.2 is
     * 0.30000000000000004, past the start of the third segment. */
    static const char tenths[] =
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n"
        "#EXT-X-DISCONTINUITY-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n"
        "#EXTINF:0.100,\n0.ts\n#EXTINF:0.200,\n1.ts\n#EXTINF:0.300,\n2.ts\n"
        "#EXTINF:1.000,\n3.ts\n" END;
    static const char head1[] =
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n";
    static const char tail[] = "#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:0.300,\n2.ts\n" END;
    char want[512];
    snprintf(want, sizeof(want), "%s#EXT-X-MEDIA-SEQUENCE:2\n"
             "#EXT-X-DISCONTINUITY-SEQUENCE:0\n%s", head1, tail);
    expect_trim(tenths, 0.1 + 0.2, 0.6, want);
    expect_trim(tenths, 0.3, 0.3 + 0.3, want);
    snprintf(want, sizeof(want), "%s#EXT-X-MEDIA-SEQUENCE:1\n"
             "#EXT-X-DISCONTINUITY-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n"
             "#EXTINF:0.200,\n1.ts\n" END, head1);
    expect_trim(tenths, 0.1, 0.1 + 0.2, want);
}

/* fMP4: the first segment kept needs the init section declared before it. */
static void test_trim_map(void **state)
{
    (void)state;
    expect_trim(fmp4_vod, 2.5, 5, HEAD("7", "1", "0", "VOD") MAP("0") F1 F2 END);
    /* init-3, declared with the discontinuity, which is dropped */
    expect_trim(fmp4_vod, 9, 0, HEAD("7", "4", "1", "VOD") MAP("3") F4 F7 F8 END);
    /* its own MAP: not repeated */
    expect_trim(fmp4_vod, 6, 7, HEAD("7", "3", "0", "VOD") F3 END);
    expect_trim(fmp4_vod, 10.5, 10.9, HEAD("7", "5", "1", "VOD") F7 END);
    /* the latest MAP, not the first */
    expect_trim(fmp4_vod, 12, 0, HEAD("7", "6", "2", "VOD") MAP("3") F8 END);
}

/* Open (EVENT, no ENDLIST): to the end it may still grow; a cut end may not. */
static void test_trim_open(void **state)
{
    (void)state;
    static const char open[] = HEAD("3", "0", "0", "EVENT") TS0 TS1 TS2 TS5;
    expect_trim(open, 0, 0, open);
    expect_trim(open, 3, 0, HEAD("3", "1", "0", "EVENT") TS1 TS2 TS5);
    expect_trim(open, 0, 3, HEAD("3", "0", "0", "EVENT") TS0 TS1 END);
    expect_trim(open, 3, 7, HEAD("3", "1", "0", "EVENT") TS1 TS2 TS5);
}

/* Playlists without the sequence tags: they are added where RFC 8216 wants
 * them (before the first segment and any DISCONTINUITY) when not 0. The
 * shape of the fuzz_recording seeds: gap-marked segments are kept. */
static void test_trim_tags_added(void **state)
{
    (void)state;
    static const char bare[] =
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:VOD\n"
        "#EXTINF:2.000,\n0.ts\n" DISC "#EXTINF:2.000,\n1.ts\n"
        "#EXT-X-GAP\n#EXTINF:2.000,\n2.ts\n#EXTINF:2.000,\n3.ts\n" END;
    expect_trim(bare, 0, 1, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n"
                            "#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:2.000,\n0.ts\n" END);
    expect_trim(bare, 4, 5, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n"
                            "#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MEDIA-SEQUENCE:2\n"
                            "#EXT-X-DISCONTINUITY-SEQUENCE:1\n"
                            "#EXT-X-GAP\n#EXTINF:2.000,\n2.ts\n" END);
    expect_trim(bare, 6, 0, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n"
                            "#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MEDIA-SEQUENCE:3\n"
                            "#EXT-X-DISCONTINUITY-SEQUENCE:1\n"
                            "#EXTINF:2.000,\n3.ts\n" END);
    /* a DISCONTINUITY-SEQUENCE already counting earlier ones */
    static const char counted[] =
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:40\n"
        "#EXT-X-DISCONTINUITY-SEQUENCE:7\n"
        DISC "#EXTINF:2.000,\n40.ts\n" DISC DISC "#EXTINF:2.000,\n41.ts\n"
        "#EXTINF:2.000,\n42.ts\n";
    expect_trim(counted, 4, 0, "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:42\n"
                               "#EXT-X-DISCONTINUITY-SEQUENCE:10\n#EXTINF:2.000,\n42.ts\n");
}

/* Text as a file may have it: CRLF, blank lines, comments, no final
 * newline, bytes past len; the output is the canonical text. */
static void test_trim_text_forms(void **state)
{
    (void)state;
    static const char crlf[] =
        "#EXTM3U\r\n#EXT-X-VERSION:3\r\n\r\n#EXT-X-TARGETDURATION:2\r\n"
        "# a comment\r\n#EXT-X-MEDIA-SEQUENCE:0\r\n#EXT-X-DISCONTINUITY-SEQUENCE:0\r\n"
        "#EXT-X-PLAYLIST-TYPE:VOD\r\n#EXT-X-INDEPENDENT-SEGMENTS\r\n"
        "#EXT-X-PROGRAM-DATE-TIME:2021-02-22T16:00:00.000Z\r\n#EXTINF:2.000,\r\n0.ts\r\n"
        "\n#EXT-X-PROGRAM-DATE-TIME:2021-02-22T16:00:02.000Z\r\n#EXTINF:2.000,\r\n1.ts\r\n"
        "#EXT-X-ENDLIST";
    expect_trim(crlf, 0, 0, HEAD("3", "0", "0", "VOD") TS0 TS1 END);

    char buf[sizeof(ts_vod) + 32];
    snprintf(buf, sizeof(buf), "%sjunk.ts\n#EXT-X-KEY:", ts_vod);
    const char *why;
    char *out = trim(buf, strlen(ts_vod), 0, 0, &why);
    assert_non_null(out);
    assert_string_equal(out, ts_vod);
    free(out);
    out = trim(buf, strlen(ts_vod) - 1, 12, 0, &why);      /* no final newline */
    assert_non_null(out);
    assert_string_equal(out, HEAD("3", "6", "2", "VOD") TS8 END);
    free(out);
    /* out_len is optional */
    out = playlist_trim(ts_vod, strlen(ts_vod), 0, 0, NULL, &why);
    assert_non_null(out);
    free(out);
}

static void test_trim_no_overlap(void **state)
{
    (void)state;
    size_t n = strlen(ts_vod);
    expect_refused(ts_vod, n, 13.5, 0, "starts at or after the end");
    expect_refused(ts_vod, n, 13.5, 20, "starts at or after the end");
    expect_refused(ts_vod, n, 1e12, 0, "starts at or after the end");
    expect_refused(ts_vod, n, INFINITY, 0, "starts at or after the end");
    expect_refused(fmp4_vod, strlen(fmp4_vod), 13, 0, "starts at or after the end");
    expect_refused(ts_vod, n, 5, 5, "empty");
    expect_refused(ts_vod, n, 5, 3, "empty");
    expect_refused(ts_vod, n, 5, 5.0000001, "empty");      /* within a microsecond */
    expect_refused(ts_vod, n, NAN, 0, "not a number");
    expect_refused(ts_vod, n, 0, NAN, "not a number");
}

static void test_trim_malformed(void **state)
{
    (void)state;
#define T2 "#EXTM3U\n#EXT-X-TARGETDURATION:2\n"
    static const struct { const char *text; const char *why; } bad[] = {
        { "", "#EXTM3U" },
        { "#EXT-X-VERSION:3\n#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n0.ts\n", "#EXTM3U" },
        { "\xef\xbb\xbf#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n0.ts\n", "#EXTM3U" },
        { "#EXTM3U\n#EXTINF:2.000,\n0.ts\n", "no EXT-X-TARGETDURATION" },
        { T2 "#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n0.ts\n", "TARGETDURATION" },
        { "#EXTM3U\n#EXT-X-TARGETDURATION:two\n#EXTINF:2,\n0.ts\n", "TARGETDURATION" },
        { T2 "#EXTINF:2.6,\n0.ts\n", "longer than EXT-X-TARGETDURATION" },
        { T2 "#EXTINF:abc,\n0.ts\n", "bad EXTINF" },
        { T2 "#EXTINF:-1.0,\n0.ts\n", "bad EXTINF" },
        { T2 "#EXTINF:2.0 ,\n0.ts\n", "bad EXTINF" },
        { T2 "#EXTINF:,\n0.ts\n", "bad EXTINF" },
        { T2 "#EXTINF:99999999999999999999,\n0.ts\n", "bad EXTINF" },
        { T2 "0.ts\n", "without EXTINF" },
        { T2 "#EXTINF:2,\n#EXTINF:2,\n0.ts\n", "two EXTINF" },
        /* a torn last entry (record.c drops it on recovery) */
        { T2 "#EXTINF:2,\n0.ts\n" PDT("00:02.000") "#EXTINF:2.000,\n", "after the last segment" },
        { T2 "#EXTINF:2,\n0.ts\n" DISC, "after the last segment" },
        { T2 END, "no segment" },
        { T2 "#EXT-X-MEDIA-SEQUENCE:1\n#EXT-X-MEDIA-SEQUENCE:1\n#EXTINF:2,\n0.ts\n", "MEDIA-SEQUENCE" },
        { T2 "#EXTINF:2,\n0.ts\n#EXT-X-MEDIA-SEQUENCE:1\n", "MEDIA-SEQUENCE" },
        { T2 DISC "#EXT-X-DISCONTINUITY-SEQUENCE:1\n#EXTINF:2,\n0.ts\n", "DISCONTINUITY-SEQUENCE" },
        { T2 "#EXT-X-MEDIA-SEQUENCE:-1\n#EXTINF:2,\n0.ts\n", "MEDIA-SEQUENCE" },
        { T2 "#EXT-X-MEDIA-SEQUENCE:18446744073709551616\n#EXTINF:2,\n0.ts\n", "MEDIA-SEQUENCE" },
        { T2 "#EXTINF:2,\n0.ts\n#EXTM3U\n", "#EXTM3U twice" },
        /* what trimming cannot carry over correctly */
        { T2 "#EXT-X-KEY:METHOD=AES-128,URI=\"k\"\n#EXTINF:2,\n0.ts\n", "does not handle" },
        { T2 "#EXTINF:2,\n#EXT-X-BYTERANGE:100@0\n0.ts\n", "does not handle" },
        { T2 "#EXT-X-START:TIME-OFFSET=4\n#EXTINF:2,\n0.ts\n", "does not handle" },
        { T2 "#EXT-X-PART:DURATION=0.5,URI=\"0.0.m4s\"\n#EXTINF:2,\n0.m4s\n", "does not handle" },
        { "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nlow.m3u8\n", "does not handle" },
    };
#undef T2
    for (size_t i = 0; i < UNIT_LEN(bad); i++)
        expect_refused(bad[i].text, strlen(bad[i].text), 0, 0, bad[i].why);
    /* a NUL inside the given length */
    static const char nul[] = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n0.ts\0\n";
    expect_refused(nul, sizeof(nul) - 1, 0, 0, "NUL");
}

/* Sequence numbers up to 2^64-1: kept exactly, and refused rather than
 * wrapped when trimming would go past. */
static void test_trim_large_seq(void **state)
{
    (void)state;
    static const char big[] =
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:18446744073709551614\n"
        "#EXT-X-DISCONTINUITY-SEQUENCE:18446744073709551615\n"
        "#EXTINF:2,\n0.ts\n#EXTINF:2,\n1.ts\n#EXTINF:2,\n2.ts\n";
    expect_trim(big, 3, 0, "#EXTM3U\n#EXT-X-TARGETDURATION:2\n"
                           "#EXT-X-MEDIA-SEQUENCE:18446744073709551615\n"
                           "#EXT-X-DISCONTINUITY-SEQUENCE:18446744073709551615\n"
                           "#EXTINF:2,\n1.ts\n#EXTINF:2,\n2.ts\n");
    expect_refused(big, strlen(big), 4, 0, "overflow");
}

/* Many record.c-shaped playlists, every window on a grid and on every
 * segment edge: the whole text is what the recorder's own renderer gives
 * for the expected entries. */
struct gen {
    struct playlist_entry e[120];
    size_t n;
    bool fmp4;
    int64_t start_ms[121];          /* start of each entry; [n]: total */
};

static uint32_t rnd(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

static void gen_make(struct gen *g, bool fmp4, uint32_t seed)
{
    uint64_t seq = 10, map = 10;
    memset(g, 0, sizeof(*g));
    g->fmp4 = fmp4;
    g->n = UNIT_LEN(g->e);
    for (size_t i = 0; i < g->n; i++) {
        struct playlist_entry *e = &g->e[i];
        /* 0.5 to 2 s with millisecond precision, as EXTINF shows it */
        int64_t ms = 500 + rnd(&seed) % 1501;
        bool disc = i > 0 && rnd(&seed) % 9 == 0;
        if (disc && rnd(&seed) % 2)
            seq += 1 + rnd(&seed) % 3;              /* a gap */
        else if (disc)
            map = seq;                              /* a new publisher */
        *e = (struct playlist_entry){ .seq = seq++, .duration = (double)ms / 1000,
                                      .pdt_ms = PDT0 + g->start_ms[i], .discontinuity = disc,
                                      .has_map = fmp4, .map_id = map };
        g->start_ms[i + 1] = g->start_ms[i] + ms;
    }
}

/* record.c's render_entry rule for when an entry repeats its MAP */
static bool map_changed(const struct gen *g, size_t i)
{
    const struct playlist_entry *e = &g->e[i];
    return e->has_map && (i == 0 || g->e[i - 1].map_id != e->map_id || e->discontinuity);
}

/* Entries [first, last] as record.c writes them, the header carrying mseq
 * and dseq; the first one with its MAP when inherit. */
static size_t gen_text(const struct gen *g, char *buf, size_t cap, size_t first, size_t last,
                       uint64_t mseq, uint64_t dseq, bool inherit, bool ended)
{
    int n = snprintf(buf, cap,
                     "#EXTM3U\n#EXT-X-VERSION:%d\n#EXT-X-TARGETDURATION:2\n"
                     "#EXT-X-MEDIA-SEQUENCE:%" PRIu64 "\n#EXT-X-DISCONTINUITY-SEQUENCE:%" PRIu64
                     "\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n",
                     g->fmp4 ? 7 : 3, mseq, dseq);
    size_t len = (size_t)n;
    for (size_t i = first; i <= last; i++) {
        int k = playlist_render_entry(buf + len, cap - len, &g->e[i], g->fmp4 ? "m4s" : "ts",
                                      map_changed(g, i) || (i == first && inherit));
        assert_true(k > 0);
        len += (size_t)k;
    }
    if (ended)
        len += (size_t)snprintf(buf + len, cap - len, END);
    assert_true(len < cap);
    return len;
}

static void check_window(const struct gen *g, const char *text, size_t len, int64_t s_ms,
                         int64_t e_ms)
{
    static char want[32768];
    const int64_t total = g->start_ms[g->n];
    const char *why;
    char *out = trim(text, len, (double)s_ms / 1000, (double)e_ms / 1000, &why);
    if (s_ms >= total) {
        if (out)
            fail_msg("[%lld, %lld) ms past the end: not refused", (long long)s_ms, (long long)e_ms);
        return;
    }
    if (!out)
        fail_msg("[%lld, %lld) ms: NULL, %s", (long long)s_ms, (long long)e_ms, why);
    size_t first = 0, last = 0;
    uint64_t dseq = 0;
    for (size_t i = 0; i < g->n; i++) {
        if (g->start_ms[i] <= s_ms)
            first = i;
        if (e_ms <= 0 || g->start_ms[i] < e_ms)
            last = i;
    }
    for (size_t i = 0; i < first; i++)
        dseq += g->e[i].discontinuity;
    gen_text(g, want, sizeof(want), first, last, 10 + first, dseq, g->fmp4, true);
    if (strcmp(out, want) != 0)
        fail_msg("%s [%lld, %lld) ms:\n%s\nexpected:\n%s", g->fmp4 ? "fmp4" : "ts",
                 (long long)s_ms, (long long)e_ms, out, want);
    /* what it gives is a playlist it reads back as a whole */
    char *again = trim(out, strlen(out), 0, 0, &why);
    assert_non_null(again);
    assert_string_equal(again, out);
    free(again);
    free(out);
}

static void test_trim_generated(void **state)
{
    (void)state;
    static struct gen g;
    static char text[32768];
    for (int form = 0; form < 2; form++) {
        gen_make(&g, form == 1, 0x2545F491u + (uint32_t)form);
        size_t len = gen_text(&g, text, sizeof(text), 0, g.n - 1, 10, 0, false, true);
        const int64_t total = g.start_ms[g.n];
        /* every window edge on a 1.7 s grid, to the end and past it */
        for (int64_t s = 0; s <= total + 1700; s += 1700)
            for (int64_t e = s + 1; e <= total + 3400; e += 1700) {
                check_window(&g, text, len, s, e);
                check_window(&g, text, len, s, 0);
            }
        /* on every segment edge, and a millisecond either side */
        for (size_t i = 0; i <= g.n; i++)
            for (int64_t d = -1; d <= 1; d++) {
                int64_t s = g.start_ms[i] + d;
                if (s < 0)
                    continue;
                check_window(&g, text, len, s, s + 1);
                check_window(&g, text, len, s, 0);
                if (i + 3 <= g.n)
                    check_window(&g, text, len, s, g.start_ms[i + 3] + d);
            }
    }
}

/* ------------------------------------------------------------ playlist_delta
 *
 * An open recording's playlist served with delta updates: TARGETDURATION
 * 2, so CAN-SKIP-UNTIL is 12 s and a delta keeps the segment holding the
 * point 12 s before the end, and all after it. */

#define TS9 PDT("01:03.500") "#EXTINF:2.000,\n9.ts\n"
#define TS10 PDT("01:05.500") "#EXTINF:2.000,\n10.ts\n"
#define F9 PDT("00:43.000") "#EXTINF:2.000,\n9.m4s\n"
#define F10 PDT("00:45.000") "#EXTINF:2.000,\n10.m4s\n"
#define F11 PDT("00:47.000") "#EXTINF:2.000,\n11.m4s\n"
#define F12 PDT("00:49.000") "#EXTINF:2.000,\n12.m4s\n"
#define CONTROL "#EXT-X-SERVER-CONTROL:CAN-SKIP-UNTIL=12.0\n"
#define HEAD_CONTROL(version)                                                  \
    "#EXTM3U\n#EXT-X-VERSION:" version "\n#EXT-X-TARGETDURATION:2\n" CONTROL  \
    "#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-DISCONTINUITY-SEQUENCE:0\n"              \
    "#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-INDEPENDENT-SEGMENTS\n"

static void expect_delta(const char *text, bool skip, const char *want)
{
    const char *why = "(not set)";
    size_t n = 0x7777;
    char *out = playlist_delta(text, strlen(text), skip, &n, &why);
    if (!out)
        fail_msg("delta (skip %d): NULL, %s", skip, why);
    assert_int_equal(n, strlen(out));
    if (strcmp(out, want) != 0)
        fail_msg("delta (skip %d):\n%s\nexpected:\n%s", skip, out, want);
    free(out);
}

static void test_delta(void **state)
{
    (void)state;
    const char *why_huge = NULL;
    /* 17.5 s of TS: the boundary, 5.5 s, falls in 2.ts (4-6 s); the two
     * before it are skipped, the discontinuities after it stay */
    static const char ts_open[] = HEAD("3", "0", "0", "EVENT") TS_BODY TS9 TS10;
    expect_delta(ts_open, false, HEAD_CONTROL("3") TS_BODY TS9 TS10);
    expect_delta(ts_open, true, HEAD_CONTROL("9") "#EXT-X-SKIP:SKIPPED-SEGMENTS=2\n"
                 TS2 TS5 TS6 TS7 TS8 TS9 TS10);
    /* fMP4, 17 s: 2.m4s (4-6 s) holds the boundary and gets the map
     * 0.m4s declared, after any DISCONTINUITY it has */
    static const char f_open[] = HEAD("7", "0", "0", "EVENT") F0 F1 F2 F3 F4 F7 F8 F9 F10;
    expect_delta(f_open, true, HEAD_CONTROL("9") "#EXT-X-SKIP:SKIPPED-SEGMENTS=2\n"
                 MAP("0") F2 F3 F4 F7 F8 F9 F10);
    /* 19 s: the boundary (7 s) in 3.m4s, which has its own map after its
     * DISCONTINUITY; 21 s: in 4.m4s, which inherits 3.m4s's */
    static const char f_later[] = HEAD("7", "0", "0", "EVENT") F0 F1 F2 F3 F4 F7 F8 F9 F10 F11;
    expect_delta(f_later, true, HEAD_CONTROL("9") "#EXT-X-SKIP:SKIPPED-SEGMENTS=3\n"
                 F3 F4 F7 F8 F9 F10 F11);
    static const char f_latest[] = HEAD("7", "0", "0", "EVENT") F0 F1 F2 F3 F4 F7 F8 F9 F10 F11 F12;
    expect_delta(f_latest, true, HEAD_CONTROL("9") "#EXT-X-SKIP:SKIPPED-SEGMENTS=4\n"
                 MAP("3") F4 F7 F8 F9 F10 F11 F12);
    /* 13.5 s: nothing lies wholly before the boundary, nothing is skipped */
    static const char short_open[] = HEAD("3", "0", "0", "EVENT") TS_BODY;
    expect_delta(short_open, true, HEAD_CONTROL("3") TS_BODY);
    /* a finalized recording keeps its ENDLIST */
    expect_delta(ts_vod, false, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n" CONTROL
                 "#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-DISCONTINUITY-SEQUENCE:0\n"
                 "#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n" TS_BODY END);
    /* a target past a day is offered as a day's (no overflow) */
    static const char huge[] = "#EXTM3U\n#EXT-X-TARGETDURATION:18446744073709551615\n" TS0;
    char *out = playlist_delta(huge, strlen(huge), true, NULL, &why_huge);
    assert_non_null(out);
    assert_non_null(strstr(out, "CAN-SKIP-UNTIL=518400.0\n"));
    assert_null(strstr(out, "#EXT-X-SKIP"));
    free(out);
    /* what the recorder never writes is refused, as by playlist_trim */
    const char *why = NULL;
    assert_null(playlist_delta("#EXT-X-VERSION:3\n", 17, true, NULL, &why));
    assert_non_null(strstr(why, "#EXTM3U"));
    static const char keyed[] = HEAD("3", "0", "0", "EVENT") "#EXT-X-KEY:METHOD=NONE\n" TS_BODY;
    assert_null(playlist_delta(keyed, strlen(keyed), true, NULL, &why));
    static const char badver[] = "#EXTM3U\n#EXT-X-VERSION:x\n#EXT-X-TARGETDURATION:2\n" TS0;
    assert_null(playlist_delta(badver, strlen(badver), false, NULL, &why));
    assert_non_null(strstr(why, "VERSION"));
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_discontinuity),
        cmocka_unit_test(test_ended_event_no_pdt),
        cmocka_unit_test(test_not_independent),
        cmocka_unit_test(test_no_open_ended_list_without_flag),
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_large_seq),
        cmocka_unit_test(test_pdt_format),
        cmocka_unit_test(test_ll_parts),
        cmocka_unit_test(test_ll_skip_and_map_change),
        cmocka_unit_test(test_render_entry),
        cmocka_unit_test(test_trim_whole),
        cmocka_unit_test(test_trim_start),
        cmocka_unit_test(test_trim_middle),
        cmocka_unit_test(test_trim_end),
        cmocka_unit_test(test_trim_edges),
        cmocka_unit_test(test_trim_map),
        cmocka_unit_test(test_trim_open),
        cmocka_unit_test(test_trim_tags_added),
        cmocka_unit_test(test_trim_text_forms),
        cmocka_unit_test(test_trim_no_overlap),
        cmocka_unit_test(test_trim_malformed),
        cmocka_unit_test(test_trim_large_seq),
        cmocka_unit_test(test_trim_generated),
        cmocka_unit_test(test_delta),
    };
    return unit_main(argc, argv, "playlist", tests, UNIT_LEN(tests));
}
