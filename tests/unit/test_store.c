/* Unit tests: store (the in-memory live window of one session). Run the
 * sanitized build to prove references outlive eviction (no use-after-free)
 * and that nothing leaks. */
#include "unit.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "podium/store.h"

#define WINDOW 3
#define HELD (WINDOW + STORE_KEEP_EXTRA)
#define PDT0 INT64_C(1614009600000)

/* ------------------------------------------------------------ helpers */

static size_t seg_size(uint64_t seq)
{
    return 188 + (size_t)(seq % 7) * 188;
}

static uint8_t seg_byte(uint64_t seq, size_t i)
{
    return (uint8_t)(seq * 31 + i);
}

static bool seg_data_ok(const AVBufferRef *b, uint64_t seq)
{
    if (!b || b->size != seg_size(seq))
        return false;
    for (size_t i = 0; i < b->size; i++)
        if (b->data[i] != seg_byte(seq, i))
            return false;
    return true;
}

/* Publishes segment seq like the segmenter does: the store gets a borrowed
 * segment and the producer drops its own reference right after. */
static void push(struct live_window *w, uint64_t seq, bool disc)
{
    AVBufferRef *data = av_buffer_alloc(seg_size(seq));
    assert_non_null(data);
    for (size_t i = 0; i < data->size; i++)
        data->data[i] = seg_byte(seq, i);
    struct media_segment seg = {
        .seq = seq, .duration = 2.0, .target_duration = 2,
        .pdt_ms = PDT0 + (int64_t)seq * 2000, .discontinuity = disc,
        .independent = true, .data = data,
    };
    store_on_segment(w, &seg);
    av_buffer_unref(&data);
}

/* The current playlist as a NUL-terminated string (caller frees). */
static char *playlist(struct live_window *w)
{
    AVBufferRef *b = store_playlist(w);
    if (!b)
        return NULL;
    char *s = malloc(b->size + 1);
    assert_non_null(s);
    memcpy(s, b->data, b->size);
    s[b->size] = '\0';
    av_buffer_unref(&b);
    return s;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void expect_in(const char *pl, const char *needle)
{
    if (!strstr(pl, needle))
        fail_msg("'%s' missing from playlist:\n%s", needle, pl);
}

static void expect_not_in(const char *pl, const char *needle)
{
    if (strstr(pl, needle))
        fail_msg("'%s' unexpected in playlist:\n%s", needle, pl);
}

/* Segment URIs listed, in order, as "a,b,c". */
static void listed(const char *pl, char *out, size_t cap)
{
    out[0] = '\0';
    for (const char *p = pl; (p = strstr(p, "#EXTINF:"));) {
        p = strchr(p, '\n') + 1;
        const char *e = strchr(p, '\n');
        size_t n = strlen(out);
        snprintf(out + n, cap - n, "%s%.*s", n ? "," : "", (int)(e - p), p);
        p = e;
    }
}

static struct live_window *window(void)
{
    struct live_window *w = store_window_create("unit", WINDOW);
    assert_non_null(w);
    return w;
}

/* ------------------------------------------------------------ tests */

static void test_empty(void **state)
{
    (void)state;
    struct live_window *w = window();
    assert_null(store_playlist(w));
    assert_null(store_segment(w, 0, true));
    assert_null(store_segment(w, 1, true));
    store_set_ended(w, true);                 /* still nothing to serve */
    assert_null(store_playlist(w));
    struct store_stats st;
    memset(&st, 0xff, sizeof(st));
    store_get_stats(w, &st);
    assert_int_equal(st.segments, 0);
    assert_int_equal(st.held_bytes, 0);
    assert_int_equal(st.discontinuities, 0);
    store_window_free(&w);
    assert_null(w);
    store_window_free(&w);                    /* NULL is fine */
}

static void test_first_segment(void **state)
{
    (void)state;
    struct live_window *w = window();
    push(w, 0, false);
    char *pl = playlist(w);
    assert_non_null(pl);
    assert_string_equal(pl,
                        "#EXTM3U\n"
                        "#EXT-X-VERSION:3\n"
                        "#EXT-X-TARGETDURATION:2\n"
                        "#EXT-X-MEDIA-SEQUENCE:0\n"
                        "#EXT-X-DISCONTINUITY-SEQUENCE:0\n"
                        "#EXT-X-INDEPENDENT-SEGMENTS\n"
                        "#EXT-X-PROGRAM-DATE-TIME:2021-02-22T16:00:00.000Z\n"
                        "#EXTINF:2.000,\n"
                        "0.ts\n");
    free(pl);
    /* the producer's reference is gone; the store's own one serves */
    AVBufferRef *b = store_segment(w, 0, true);
    assert_true(seg_data_ok(b, 0));
    av_buffer_unref(&b);
    store_window_free(&w);
}

static void test_window_slides(void **state)
{
    (void)state;
    struct live_window *w = window();
    for (uint64_t s = 0; s < 5; s++)
        push(w, s, false);
    char *pl = playlist(w);
    char uris[256];
    listed(pl, uris, sizeof(uris));
    assert_string_equal(uris, "2.ts,3.ts,4.ts");
    expect_in(pl, "#EXT-X-MEDIA-SEQUENCE:2\n");
    expect_in(pl, "#EXT-X-DISCONTINUITY-SEQUENCE:0\n");
    expect_in(pl, "#EXT-X-PROGRAM-DATE-TIME:2021-02-22T16:00:04.000Z\n#EXTINF:2.000,\n2.ts\n");
    assert_int_equal(count(pl, "#EXTINF:"), WINDOW);
    expect_not_in(pl, "ENDLIST");
    free(pl);

    /* segments that left the playlist are still served for a while */
    for (uint64_t s = 0; s < 5; s++) {
        AVBufferRef *b = store_segment(w, s, true);
        if (!seg_data_ok(b, s))
            fail_msg("segment %llu missing or wrong", (unsigned long long)s);
        av_buffer_unref(&b);
    }
    assert_null(store_segment(w, 5, true));         /* not yet produced */
    assert_null(store_segment(w, UINT64_MAX, true));
    store_window_free(&w);
}

static void test_eviction(void **state)
{
    (void)state;
    struct live_window *w = window();
    const uint64_t n = 20;
    for (uint64_t s = 0; s < n; s++) {
        push(w, s, false);
        /* after each push: exactly the last HELD segments are held */
        for (uint64_t q = 0; q <= s + 1; q++) {
            AVBufferRef *b = store_segment(w, q, true);
            bool want = q <= s && s - q < HELD;
            if (want != (b != NULL))
                fail_msg("after %llu: segment %llu %s", (unsigned long long)s,
                         (unsigned long long)q, b ? "still held" : "missing");
            if (b && !seg_data_ok(b, q))
                fail_msg("segment %llu has the wrong bytes", (unsigned long long)q);
            av_buffer_unref(&b);
        }
    }
    char *pl = playlist(w);
    char uris[256];
    listed(pl, uris, sizeof(uris));
    assert_string_equal(uris, "17.ts,18.ts,19.ts");
    expect_in(pl, "#EXT-X-MEDIA-SEQUENCE:17\n");
    free(pl);
    store_window_free(&w);
}

/* The recording as the window sees it: every segment but `lost`. */
static uint64_t lost_seq = UINT64_MAX;

static bool recorded(void *opaque, uint64_t seq)
{
    (void)opaque;
    return seq != lost_seq;
}

/* A recorded session's window holds only the listed segments; those that
 * left lately are reported as recently removed (the recording serves
 * them), for window + 2 segments, per RFC 8216 6.2.2. */
static void test_recorded_releases_unlisted(void **state)
{
    (void)state;
    struct live_window *w = window();
    lost_seq = UINT64_MAX;
    store_window_set_recorded(w, recorded, NULL);
    assert_false(store_recently_removed(w, 0));   /* nothing published yet */
    const uint64_t n = 20;
    for (uint64_t s = 0; s < n; s++) {
        push(w, s, false);
        uint64_t first = s + 1 > WINDOW ? s + 1 - WINDOW : 0;
        struct store_stats st;
        store_get_stats(w, &st);
        assert_int_equal(st.media_sequence, first);
        uint64_t bytes = 0;
        for (uint64_t q = 0; q <= s + 1; q++) {
            AVBufferRef *b = store_segment(w, q, true);
            bool listed = q >= first && q <= s;
            if (listed != (b != NULL))
                fail_msg("after %llu: segment %llu %s", (unsigned long long)s,
                         (unsigned long long)q, b ? "held but not listed" : "listed but missing");
            if (b && !seg_data_ok(b, q))
                fail_msg("segment %llu has the wrong bytes", (unsigned long long)q);
            bytes += b ? b->size : 0;
            av_buffer_unref(&b);
            bool recent = q < first && first - q <= WINDOW + 2;
            if (store_recently_removed(w, q) != recent)
                fail_msg("after %llu: segment %llu recently removed should be %d",
                         (unsigned long long)s, (unsigned long long)q, recent);
        }
        assert_int_equal(st.held_bytes, bytes);
    }
    assert_false(store_recently_removed(w, UINT64_MAX));
    store_window_free(&w);
}

/* A segment whose recording write failed stays in memory after it leaves
 * the playlist, for as long as one without a recording would
 * (STORE_KEEP_EXTRA): no recording file would serve it. */
static void test_unrecorded_kept(void **state)
{
    (void)state;
    struct live_window *w = window();
    lost_seq = 5;
    store_window_set_recorded(w, recorded, NULL);
    for (uint64_t s = 0; s <= 8; s++)
        push(w, s, false);
    /* listed 6..8; 5 left unrecorded, 4 and 3 left recorded */
    AVBufferRef *b = store_segment(w, 5, true);
    assert_true(seg_data_ok(b, 5));
    av_buffer_unref(&b);
    assert_null(store_segment(w, 4, true));
    assert_null(store_segment(w, 3, true));
    push(w, 9, false);
    push(w, 10, false);                       /* 5 is now 3 segments out */
    assert_null(store_segment(w, 5, true));
    assert_null(store_segment(w, 6, true));         /* recorded, behind it: gone too */
    assert_null(store_segment(w, 7, true));
    for (uint64_t q = 8; q <= 10; q++) {
        b = store_segment(w, q, true);
        assert_true(seg_data_ok(b, q));
        av_buffer_unref(&b);
    }
    struct store_stats st;
    store_get_stats(w, &st);
    assert_int_equal(st.held_bytes, seg_size(8) + seg_size(9) + seg_size(10));
    store_window_free(&w);
}

/* state: non-NULL for a recorded window, which lets go of a segment as it
 * leaves the playlist: the tag count must not depend on that. */
static void test_discontinuity_sequence(void **state)
{
    struct live_window *w = window();
    lost_seq = UINT64_MAX;
    if (*state)
        store_window_set_recorded(w, recorded, NULL);
    char uris[256];
    for (uint64_t s = 0; s < 5; s++)
        push(w, s, false);
    push(w, 5, true);                         /* a new publisher */
    char *pl = playlist(w);
    listed(pl, uris, sizeof(uris));
    assert_string_equal(uris, "3.ts,4.ts,5.ts");
    expect_in(pl, "#EXT-X-DISCONTINUITY-SEQUENCE:0\n");
    expect_in(pl, "4.ts\n#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:");
    assert_int_equal(count(pl, "#EXT-X-DISCONTINUITY\n"), 1);
    free(pl);

    push(w, 6, false);
    push(w, 7, false);
    pl = playlist(w);                         /* 5 still first in the list */
    listed(pl, uris, sizeof(uris));
    assert_string_equal(uris, "5.ts,6.ts,7.ts");
    expect_in(pl, "#EXT-X-DISCONTINUITY-SEQUENCE:0\n");
    expect_in(pl, "#EXT-X-MEDIA-SEQUENCE:5\n#EXT-X-DISCONTINUITY-SEQUENCE:0\n");
    expect_in(pl, "#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2021-02-22T16:00:10.000Z\n"
                  "#EXTINF:2.000,\n5.ts\n");
    free(pl);

    push(w, 8, false);                        /* 5 slides out with its tag */
    pl = playlist(w);
    listed(pl, uris, sizeof(uris));
    assert_string_equal(uris, "6.ts,7.ts,8.ts");
    expect_in(pl, "#EXT-X-DISCONTINUITY-SEQUENCE:1\n");
    assert_int_equal(count(pl, "#EXT-X-DISCONTINUITY\n"), 0);
    free(pl);

    /* two more, back to back */
    push(w, 9, true);
    push(w, 10, true);
    for (uint64_t s = 11; s < 14; s++)
        push(w, s, false);
    pl = playlist(w);
    expect_in(pl, "#EXT-X-DISCONTINUITY-SEQUENCE:3\n");
    free(pl);

    struct store_stats st;
    store_get_stats(w, &st);
    assert_int_equal(st.discontinuities, 3);
    assert_int_equal(st.segments, 14);
    assert_int_equal(st.media_sequence, 11);
    store_window_free(&w);
}

static void test_ended(void **state)
{
    (void)state;
    struct live_window *w = window();
    push(w, 0, false);
    push(w, 1, false);
    char *before = playlist(w);
    expect_not_in(before, "ENDLIST");

    store_set_ended(w, true);
    char *pl = playlist(w);
    size_t n = strlen(pl);
    assert_true(n > 15);
    assert_string_equal(pl + n - 15, "#EXT-X-ENDLIST\n");
    assert_int_equal(count(pl, "#EXT-X-ENDLIST"), 1);
    /* otherwise unchanged */
    assert_int_equal(strncmp(pl, before, strlen(before)), 0);
    assert_int_equal(n, strlen(before) + 15);
    struct store_stats st;
    store_get_stats(w, &st);
    assert_true(st.ended);
    store_set_ended(w, true);                 /* idempotent */
    free(pl);
    pl = playlist(w);
    assert_int_equal(count(pl, "#EXT-X-ENDLIST"), 1);
    free(pl);

    store_set_ended(w, false);                /* reopened */
    pl = playlist(w);
    assert_string_equal(pl, before);
    free(pl);

    /* a new segment after the end reopens the live playlist */
    store_set_ended(w, true);
    push(w, 2, true);
    pl = playlist(w);
    expect_not_in(pl, "ENDLIST");
    expect_in(pl, "1.ts\n#EXT-X-DISCONTINUITY\n");
    free(pl);
    store_get_stats(w, &st);
    assert_false(st.ended);
    free(before);
    store_window_free(&w);
}

/* References handed out stay valid after eviction and after the window
 * itself is gone; published playlists never change under a reader. */
static void test_references_outlive_eviction(void **state)
{
    (void)state;
    struct live_window *w = window();
    push(w, 0, false);
    push(w, 1, false);
    AVBufferRef *seg0 = store_segment(w, 0, true);
    AVBufferRef *pl0 = store_playlist(w);
    assert_non_null(seg0);
    assert_non_null(pl0);
    char *text0 = playlist(w);
    assert_int_equal(pl0->size, strlen(text0));

    for (uint64_t s = 2; s < 40; s++)
        push(w, s, s == 20);
    assert_null(store_segment(w, 0, true));         /* evicted from the store ... */
    assert_true(seg_data_ok(seg0, 0));        /* ... but still ours */
    assert_int_equal(memcmp(pl0->data, text0, pl0->size), 0);

    AVBufferRef *seg39 = store_segment(w, 39, true);
    AVBufferRef *pl39 = store_playlist(w);
    store_window_free(&w);
    assert_true(seg_data_ok(seg39, 39));
    assert_non_null(memchr(pl39->data, '3', pl39->size));
    assert_int_equal(pl39->data[pl39->size - 1], '\n');

    av_buffer_unref(&seg0);
    av_buffer_unref(&pl0);
    av_buffer_unref(&seg39);
    av_buffer_unref(&pl39);
    free(text0);
}

static void woken(void *arg)
{
    (*(int *)arg)++;
}

/* A deleted session's window keeps nothing: what it held goes at once
 * (only readers' own references stay), a held request is answered, and a
 * publisher still finishing its last segment stores nothing. */
static void test_retire(void **state)
{
    (void)state;
    struct live_window *w = window();
    for (uint64_t s = 0; s < 4; s++)
        push(w, s, false);
    AVBufferRef *mine = store_segment(w, 3, true);
    assert_int_equal(av_buffer_get_ref_count(mine), 2);
    int wakes = 0;
    assert_int_equal(store_wait(w, 5, -1, INT64_MAX, woken, &wakes), STORE_WAITING);

    store_window_retire(w);
    assert_int_equal(wakes, 1);
    assert_int_equal(av_buffer_get_ref_count(mine), 1);   /* the window's is gone */
    assert_true(seg_data_ok(mine, 3));
    assert_null(store_segment(w, 3, true));
    assert_null(store_playlist(w));
    struct store_stats st;
    store_get_stats(w, &st);
    assert_int_equal(st.held_bytes, 0);

    push(w, 4, false);                         /* the publisher's last segment */
    assert_null(store_segment(w, 4, true));
    assert_null(store_playlist(w));
    assert_int_equal(store_wait(w, 9, -1, INT64_MAX, woken, &wakes), STORE_READY);
    av_buffer_unref(&mine);
    store_window_free(&w);
}

static void test_stats(void **state)
{
    (void)state;
    struct live_window *w = window();
    struct store_stats st;
    for (uint64_t s = 0; s < 2; s++)
        push(w, s, false);
    store_get_stats(w, &st);
    assert_int_equal(st.segments, 2);
    assert_int_equal(st.media_sequence, 0);
    assert_int_equal(st.held_bytes, seg_size(0) + seg_size(1));
    assert_int_equal(st.target, 2);
    assert_int_equal(st.discontinuities, 0);
    assert_false(st.ended);

    for (uint64_t s = 2; s < 12; s++)
        push(w, s, s == 4 || s == 9);
    store_get_stats(w, &st);
    assert_int_equal(st.segments, 12);
    assert_int_equal(st.media_sequence, 12 - WINDOW);
    size_t held = 0;
    for (uint64_t s = 12 - HELD; s < 12; s++)
        held += seg_size(s);
    assert_int_equal(st.held_bytes, held);
    assert_int_equal(st.discontinuities, 2);
    assert_false(st.ended);
    store_set_ended(w, true);
    store_get_stats(w, &st);
    assert_true(st.ended);
    store_window_free(&w);
}

/* The window takes its target from the segments. */
static void test_target_from_segments(void **state)
{
    (void)state;
    struct live_window *w = window();
    AVBufferRef *data = av_buffer_alloc(188);
    assert_non_null(data);
    memset(data->data, 0x47, 188);
    struct media_segment seg = { .seq = 42, .duration = 2.9, .target_duration = 3,
                                 .independent = false, .data = data };
    store_on_segment(w, &seg);
    av_buffer_unref(&data);
    char *pl = playlist(w);
    expect_in(pl, "#EXT-X-TARGETDURATION:3\n#EXT-X-MEDIA-SEQUENCE:42\n");
    expect_in(pl, "#EXTINF:2.900,\n42.ts\n");
    expect_not_in(pl, "INDEPENDENT");
    expect_not_in(pl, "PROGRAM-DATE-TIME");
    free(pl);
    assert_null(store_segment(w, 41, true));
    AVBufferRef *b = store_segment(w, 42, true);
    assert_non_null(b);
    assert_int_equal(b->size, 188);
    av_buffer_unref(&b);
    struct store_stats st;
    store_get_stats(w, &st);
    assert_int_equal(st.media_sequence, 42);
    assert_int_equal(st.target, 3);
    store_window_free(&w);
}

/* ------------------------------------------------- concurrent readers */

struct race {
    struct live_window *w;
    atomic_bool stop;
    atomic_int errors;
    char what[256];             /* written by the first reader that fails */
};

static void *reader(void *arg)
{
    struct race *r = arg;
    unsigned seed = 1;
    while (!atomic_load(&r->stop) && !atomic_load(&r->errors)) {
        AVBufferRef *b = store_playlist(r->w);
        if (b) {
            /* a consistent playlist: MEDIA-SEQUENCE is the first URI */
            char *text = malloc(b->size + 1);
            memcpy(text, b->data, b->size);
            text[b->size] = '\0';
            const char *ms = strstr(text, "#EXT-X-MEDIA-SEQUENCE:");
            const char *inf = strstr(text, "#EXTINF:");
            unsigned long long seq = 0, first = 1;
            if (!ms || !inf || sscanf(ms, "#EXT-X-MEDIA-SEQUENCE:%llu", &seq) != 1
                || sscanf(strchr(inf, '\n') + 1, "%llu.ts", &first) != 1 || seq != first) {
                if (atomic_fetch_add(&r->errors, 1) == 0)
                    snprintf(r->what, sizeof(r->what), "inconsistent playlist:\n%s", text);
            }
            free(text);
            av_buffer_unref(&b);
            /* a segment near the window, if held, has its own bytes */
            uint64_t q = seq + (uint64_t)(rand_r(&seed) % 6);
            AVBufferRef *sb = store_segment(r->w, q, true);
            if (sb && !seg_data_ok(sb, q)) {
                if (atomic_fetch_add(&r->errors, 1) == 0)
                    snprintf(r->what, sizeof(r->what), "segment %llu corrupt",
                             (unsigned long long)q);
            }
            av_buffer_unref(&sb);
        }
    }
    return NULL;
}

static void test_concurrent_readers(void **state)
{
    (void)state;
    struct race r = { .w = window() };
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&th[i], NULL, reader, &r), 0);
    for (uint64_t s = 0; s < 3000 && !atomic_load(&r.errors); s++)
        push(r.w, s, s % 100 == 50);
    atomic_store(&r.stop, true);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    if (atomic_load(&r.errors))
        fail_msg("%s", r.what);
    struct store_stats st;
    store_get_stats(r.w, &st);
    assert_int_equal(st.segments, 3000);
    assert_int_equal(st.discontinuities, 30);
    store_window_free(&r.w);
}

/* GETs segment seq (a player's when count), n times. */
static void fetch(struct live_window *w, uint64_t seq, bool count, int n)
{
    for (int i = 0; i < n; i++) {
        AVBufferRef *b = store_segment(w, seq, count);
        assert_non_null(b);
        av_buffer_unref(&b);
    }
}

/* Viewers: the most counted GETs of one segment held but the newest; a
 * look that is not a player's (count false) leaves it, and a peak set
 * (restored after a restart, or 0 for a deleted recording) is kept until
 * more watch. */
static void test_viewers(void **state)
{
    (void)state;
    struct live_window *w = window();
    struct store_stats st;
    push(w, 0, false);
    fetch(w, 0, false, 5);
    push(w, 1, false);
    store_get_stats(w, &st);
    assert_int_equal(st.viewers, 0);
    fetch(w, 1, true, 3);
    push(w, 2, false);
    store_get_stats(w, &st);
    assert_int_equal(st.viewers, 3);
    assert_int_equal(st.viewers_peak, 3);
    store_set_peak(w, 7);
    push(w, 3, false);
    store_get_stats(w, &st);
    assert_int_equal(st.viewers, 3);        /* segment 1 is still held */
    assert_int_equal(st.viewers_peak, 7);
    store_set_peak(w, 0);
    store_get_stats(w, &st);
    assert_int_equal(st.viewers_peak, 0);
    store_window_free(&w);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_first_segment),
        cmocka_unit_test(test_window_slides),
        cmocka_unit_test(test_eviction),
        cmocka_unit_test(test_recorded_releases_unlisted),
        cmocka_unit_test(test_unrecorded_kept),
        cmocka_unit_test_prestate(test_discontinuity_sequence, NULL),
        cmocka_unit_test_prestate(test_discontinuity_sequence, (void *)"recorded"),
        cmocka_unit_test(test_ended),
        cmocka_unit_test(test_references_outlive_eviction),
        cmocka_unit_test(test_retire),
        cmocka_unit_test(test_stats),
        cmocka_unit_test(test_viewers),
        cmocka_unit_test(test_target_from_segments),
        cmocka_unit_test(test_concurrent_readers),
    };
    return unit_main(argc, argv, "store", tests, UNIT_LEN(tests));
}
