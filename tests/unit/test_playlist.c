/* Unit tests: playlist_render (RFC 8216 media playlist text). */
#include "unit.h"

#include <stdbool.h>

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
    };
    return unit_main(argc, argv, "playlist", tests, UNIT_LEN(tests));
}
