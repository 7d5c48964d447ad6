/* Unit tests: record (the recording folder of one session, written by the
 * real writer thread into a temporary folder). While the playlist header
 * stays the same, each new segment's entry is appended to index.m3u8 in
 * place; the file must always read exactly as a full rewrite would, and a
 * failed or torn append must never leave a broken entry behind. */
#define _GNU_SOURCE
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <libavutil/buffer.h>

#include "podium/record.h"
#include "podium/segbuf.h"

#define PDT0 INT64_C(1614009600000)
#define SEG_BYTES 188

struct fixture {
    char data_dir[64];
    char playlist[PATH_MAX];
    struct rec_writer *w;
    struct recorder *r;
};

static void open_recorder(struct fixture *f)
{
    f->w = rec_writer_start(NULL, NULL);
    assert_non_null(f->w);
    f->r = rec_open(f->w, f->data_dir, "talk");
    assert_non_null(f->r);
}

static void close_recorder(struct fixture *f)
{
    rec_writer_stop(&f->w);             /* drains the queue first */
    rec_free(&f->r);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->data_dir, sizeof(f->data_dir), "/tmp/podium-unit-record-XXXXXX");
    assert_non_null(mkdtemp(f->data_dir));
    snprintf(f->playlist, sizeof(f->playlist), "%s/recordings/talk/index.m3u8", f->data_dir);
    open_recorder(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->w)
        close_recorder(f);
    char dir[128];
    snprintf(dir, sizeof(dir), "%s/recordings/talk", f->data_dir);
    rec_free(&f->r);
    /* the recording holds only files this test made: unlink them by name */
    for (int seq = 0; seq < 64; seq++) {
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/%d.ts", dir, seq & 63);
        unlink(p);
        snprintf(p, sizeof(p), "%s/%d.m4s", dir, seq & 63);
        unlink(p);
        snprintf(p, sizeof(p), "%s/init-%d.mp4", dir, seq & 63);
        unlink(p);
    }
    unlink(f->playlist);
    rmdir(dir);
    snprintf(dir, sizeof(dir), "%s/recordings", f->data_dir);
    rmdir(dir);
    rmdir(f->data_dir);
    free(f);
    return 0;
}

/* An fMP4 segment when init is not NULL (its init section init-<init_id>). */
static void push_with(struct fixture *f, uint64_t seq, double duration, AVBufferRef *init,
                      uint64_t init_id, bool disc)
{
    AVBufferRef *data = av_buffer_alloc(SEG_BYTES);
    assert_non_null(data);
    memset(data->data, (int)seq, data->size);
    struct media_segment seg = {
        .seq = seq, .duration = duration, .target_duration = 2,
        .pdt_ms = PDT0 + (int64_t)seq * 2000, .independent = true, .data = data,
        .init = init, .init_id = init_id, .discontinuity = disc,
    };
    rec_on_segment(f->r, &seg);
    av_buffer_unref(&data);
}

static void push(struct fixture *f, uint64_t seq, double duration)
{
    push_with(f, seq, duration, NULL, 0, false);
}

/* Waits (deadline 10 s) until the writer has handled every job queued so
 * far, playlist writes included: it takes jobs in order, so a state file
 * queued now appears only once those are done. */
static void drain(struct fixture *f)
{
    static unsigned marks;
    char mark[PATH_MAX];
    snprintf(mark, sizeof(mark), "%s/drained-%u", f->data_dir, marks++);
    char *data = strdup("1");
    assert_non_null(data);
    rec_writer_file(f->w, mark, data, 1, false, 0600);     /* the writer frees data */
    struct timespec t0, now, nap = { 0, 2 * 1000 * 1000 };
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (access(mark, F_OK) != 0) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > 10)
            fail_msg("the recording writer did not drain within 10 s");
        nanosleep(&nap, NULL);
    }
    unlink(mark);
}

/* Pushes a segment and waits until it is handled. */
static void record(struct fixture *f, uint64_t seq, double duration)
{
    push(f, seq, duration);
    drain(f);
}

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    char *buf = malloc(1 << 16);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (1 << 16) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    return buf;
}

static ino_t inode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_ino;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* "#EXT-X-PLAYLIST-TYPE:EVENT\n" -> VOD and ENDLIST at the end: what the
 * finalized playlist must be when the open one was complete. */
static char *as_finalized(const char *open_text)
{
    const char *ev = strstr(open_text, "EVENT\n");
    assert_non_null(ev);
    size_t n = strlen(open_text);
    char *out = malloc(n + 32);
    assert_non_null(out);
    snprintf(out, n + 32, "%.*sVOD\n%s#EXT-X-ENDLIST\n", (int)(ev - open_text), open_text,
             ev + 6);
    return out;
}

/* What HTTP serves while the recording is open is want, listing n entries. */
static void assert_served(struct fixture *f, const char *want, size_t n)
{
    size_t len = 0, entries = 0;
    char *served = rec_playlist_open(f->r, &len, &entries);
    assert_non_null(served);
    assert_string_equal(served, want);
    assert_int_equal(len, strlen(want));
    assert_int_equal(entries, n);
    free(served);
}

/* ------------------------------------------------------------- tests */

static void test_entries_appended_in_place(void **state)
{
    struct fixture *f = *state;
    record(f, 0, 2.0);
    ino_t first = inode_of(f->playlist);
    for (uint64_t seq = 1; seq < 6; seq++) {
        record(f, seq, 2.0);
        /* same file: appended, not replaced */
        assert_true(inode_of(f->playlist) == first);
    }
    char *open_text = slurp(f->playlist);
    assert_int_equal(count(open_text, "#EXTINF:2.000,\n"), 6);
    assert_non_null(strstr(open_text, "#EXT-X-TARGETDURATION:2\n"));
    assert_non_null(strstr(open_text, "#EXT-X-PROGRAM-DATE-TIME:"));
    assert_null(strstr(open_text, "#EXT-X-ENDLIST"));
    for (int seq = 0; seq < 6; seq++) {
        char uri[16];
        snprintf(uri, sizeof(uri), "\n%d.ts\n", seq);
        assert_non_null(strstr(open_text, uri));
    }

    /* what HTTP serves while the recording is open: the same text */
    assert_served(f, open_text, 6);

    /* finalizing rewrites the file from memory: it must equal the appended
     * text but for the type and ENDLIST */
    rec_finalize(f->r);
    drain(f);
    size_t len = 0, entries = 0;
    assert_null(rec_playlist_open(f->r, &len, &entries));
    close_recorder(f);
    char *final = slurp(f->playlist);
    char *want = as_finalized(open_text);
    assert_string_equal(final, want);
    free(open_text);
    free(final);
    free(want);
}

static void test_header_change_rewrites(void **state)
{
    struct fixture *f = *state;
    record(f, 0, 2.0);
    record(f, 1, 2.0);
    ino_t before = inode_of(f->playlist);
    record(f, 2, 2.5);                  /* target duration 2 -> 3: new header */
    ino_t after = inode_of(f->playlist);
    assert_true(after != before);
    char *text = slurp(f->playlist);
    assert_non_null(strstr(text, "#EXT-X-TARGETDURATION:3\n"));
    assert_int_equal(count(text, "#EXTINF:"), 3);
    free(text);

    record(f, 3, 2.0);                  /* same header again: appended */
    assert_true(inode_of(f->playlist) == after);
    text = slurp(f->playlist);
    assert_int_equal(count(text, "#EXTINF:"), 4);
    assert_non_null(strstr(text, "#EXT-X-TARGETDURATION:3\n"));
    assert_int_equal(strcmp(text + strlen(text) - 6, "\n3.ts\n"), 0);
    assert_served(f, text, 4);
    free(text);
}

/* fMP4: a rewrite (here a longer segment raises the target duration)
 * renders every entry again, init sections included, exactly as they were
 * appended. */
static void test_fmp4_rewrite_keeps_maps(void **state)
{
    struct fixture *f = *state;
    AVBufferRef *init = av_buffer_alloc(32);
    assert_non_null(init);
    memset(init->data, 0, init->size);
    push_with(f, 0, 2.0, init, 0, false);
    push_with(f, 1, 2.0, init, 0, false);
    push_with(f, 2, 2.0, init, 2, true);    /* a new publisher: new init section */
    drain(f);
    char *appended = slurp(f->playlist);
    assert_int_equal(count(appended, "#EXT-X-MAP:URI=\"init-0.mp4\"\n"), 1);
    assert_non_null(strstr(appended, "#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"init-2.mp4\"\n"));
    ino_t before = inode_of(f->playlist);
    push_with(f, 3, 2.5, init, 2, false);
    drain(f);
    assert_true(inode_of(f->playlist) != before);
    char *text = slurp(f->playlist);
    assert_non_null(strstr(text, "#EXT-X-TARGETDURATION:3\n"));
    assert_non_null(strstr(text, strstr(appended, "#EXT-X-MAP:")));
    assert_int_equal(count(text, "#EXT-X-MAP:"), 2);
    assert_int_equal(strcmp(text + strlen(text) - 7, "\n3.m4s\n"), 0);
    assert_served(f, text, 4);
    av_buffer_unref(&init);
    free(appended);
    free(text);
}

/* A speaker who comes back after the recording was finalized reopens it:
 * the playlist is rewritten open again from the entries kept in memory,
 * the new segment after a discontinuity, and appending goes on in place. */
static void test_reopen_after_finalize(void **state)
{
    struct fixture *f = *state;
    for (uint64_t seq = 0; seq < 3; seq++)
        record(f, seq, 2.0);
    char *before = slurp(f->playlist);
    rec_finalize(f->r);
    drain(f);
    record(f, 3, 2.0);
    char *text = slurp(f->playlist);
    assert_null(strstr(text, "#EXT-X-ENDLIST"));
    assert_non_null(strstr(text, "#EXT-X-PLAYLIST-TYPE:EVENT\n"));
    /* every earlier entry exactly as it was appended */
    const char *body = strstr(before, "#EXT-X-PROGRAM-DATE-TIME:");
    assert_non_null(body);
    assert_non_null(strstr(text, body));
    assert_non_null(strstr(text, "\n2.ts\n#EXT-X-DISCONTINUITY\n"));
    assert_served(f, text, 4);
    ino_t reopened = inode_of(f->playlist);
    record(f, 4, 2.0);
    assert_true(inode_of(f->playlist) == reopened);
    free(text);
    text = slurp(f->playlist);
    assert_int_equal(count(text, "#EXTINF:"), 5);
    assert_served(f, text, 5);
    free(before);
    free(text);
}

/* An append that fails half-way (here: the file size limit) is cut back
 * off, so the file still ends after a complete entry; the next append
 * lists the segment it missed. */
static void test_failed_append_cut_back(void **state)
{
    struct fixture *f = *state;
    record(f, 0, 2.0);
    record(f, 1, 2.0);
    char *good = slurp(f->playlist);
    size_t good_len = strlen(good);

    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = good_len + 20;       /* room for part of one entry only */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    record(f, 2, 2.0);                  /* segment file fits, entry does not */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);

    char *after = slurp(f->playlist);
    assert_string_equal(after, good);
    struct rec_stats st;
    rec_get_stats(f->r, &st);
    assert_true(st.write_errors >= 1);
    assert_served(f, good, 2);          /* HTTP lists only what is on disk */

    record(f, 3, 2.0);
    char *healed = slurp(f->playlist);
    assert_int_equal(strncmp(healed, good, good_len), 0);
    assert_non_null(strstr(healed + good_len, "\n2.ts\n"));
    assert_non_null(strstr(healed + good_len, "\n3.ts\n"));
    assert_int_equal(count(healed, "#EXTINF:"), 4);
    assert_served(f, healed, 4);
    free(good);
    free(after);
    free(healed);
}

/* A gap before anything was recorded follows no segment: at_start says
 * so (the API shows after_seq null), not "after 0.ts". A later gap
 * follows the last segment recorded. */
static void test_gap_before_first_segment(void **state)
{
    struct fixture *f = *state;
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = SEG_BYTES / 2;       /* no segment file fits */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    record(f, 0, 2.0);
    record(f, 1, 2.0);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    record(f, 2, 2.0);

    struct rec_stats st;
    rec_get_stats(f->r, &st);
    assert_int_equal(st.gaps_total, 1);
    assert_int_equal(st.n_gaps, 1);
    assert_true(st.gaps[0].at_start);
    assert_int_equal(st.gaps[0].lost, 2);
    assert_int_equal(st.segments, 1);
    char *text = slurp(f->playlist);
    assert_non_null(strstr(text, "\n2.ts\n"));
    assert_null(strstr(text, "DISCONTINUITY\n#"));   /* nothing before it to break from */

    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    record(f, 3, 2.0);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    rec_get_stats(f->r, &st);
    assert_int_equal(st.n_gaps, 2);
    assert_false(st.gaps[1].at_start);
    assert_int_equal(st.gaps[1].after_seq, 2);
    free(text);
}

/* A crash can leave the last append torn; recovery keeps every complete
 * entry, drops the torn one, and appending goes on after it. */
static void test_recovery_drops_torn_entry(void **state)
{
    struct fixture *f = *state;
    for (uint64_t seq = 0; seq < 3; seq++)
        record(f, seq, 2.0);
    close_recorder(f);

    char *clean = slurp(f->playlist);
    int fd = open(f->playlist, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    const char torn[] = "#EXT-X-PROGRAM-DATE-TIME:2021-02-22T16:00:06.000Z\n#EXTINF:2.000,\n3";
    assert_int_equal(write(fd, torn, sizeof(torn) - 1), (ssize_t)(sizeof(torn) - 1));
    close(fd);

    open_recorder(f);
    struct rec_stats st;
    rec_get_stats(f->r, &st);
    assert_int_equal(st.segments, 3);
    assert_true(st.open);
    char *recovered = slurp(f->playlist);
    assert_string_equal(recovered, clean);

    record(f, 3, 2.0);
    char *text = slurp(f->playlist);
    assert_int_equal(count(text, "#EXTINF:"), 4);
    assert_int_equal(strcmp(text + strlen(text) - 6, "\n3.ts\n"), 0);
    free(clean);
    free(recovered);
    free(text);
}

/* Segment numbers only go up: a playlist (damaged on disk) that lists a
 * segment again, or an older one after a newer, recovers with each listed
 * once, in order, and the next segment continues after the newest. */
static void test_recovery_numbers_go_up(void **state)
{
    struct fixture *f = *state;
    for (uint64_t seq = 0; seq < 3; seq++)
        record(f, seq, 2.0);
    close_recorder(f);

    int fd = open(f->playlist, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    const char again[] = "#EXTINF:2.000,\n1.ts\n#EXTINF:-5,\n2.ts\n";
    assert_int_equal(write(fd, again, sizeof(again) - 1), (ssize_t)(sizeof(again) - 1));
    close(fd);

    open_recorder(f);
    struct rec_stats st;
    rec_get_stats(f->r, &st);
    assert_int_equal(st.segments, 3);
    assert_true(st.duration > 5.9 && st.duration < 6.1);
    char *text = slurp(f->playlist);
    assert_int_equal(count(text, "\n1.ts\n"), 1);
    assert_int_equal(count(text, "\n2.ts\n"), 1);
    record(f, 3, 2.0);
    free(text);
    text = slurp(f->playlist);
    assert_int_equal(count(text, "#EXTINF:"), 4);
    assert_int_equal(strcmp(text + strlen(text) - 6, "\n3.ts\n"), 0);
    free(text);
}

/* A state file append (registrations) that fails half-way is cut back, so
 * the file never ends in a torn line; the next append goes after the last
 * complete one. */
static void test_state_append_cut_back(void **state)
{
    struct fixture *f = *state;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/state.jsonl", f->data_dir);
    rec_writer_file(f->w, path, strdup("{\"n\":1}\n"), 8, true, 0600);
    drain(f);

    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = 8 + 4;               /* room for part of the next line only */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    rec_writer_file(f->w, path, strdup("{\"n\":22}\n"), 9, true, 0600);
    drain(f);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    char *text = slurp(path);
    assert_string_equal(text, "{\"n\":1}\n");
    free(text);

    rec_writer_file(f->w, path, strdup("{\"n\":3}\n"), 8, true, 0600);
    drain(f);
    text = slurp(path);
    assert_string_equal(text, "{\"n\":1}\n{\"n\":3}\n");
    free(text);
    unlink(path);
}

/* Whether files in dir can bypass the page cache (not tmpfs, whose files
 * live in it, and O_DIRECT accepted). */
static bool direct_io_here(const char *dir)
{
    struct statfs sf;
    if (statfs(dir, &sf) != 0 || sf.f_type == 0x01021994)      /* TMPFS_MAGIC */
        return false;
    char probe[PATH_MAX];
    if (snprintf(probe, sizeof(probe), "%s/direct-probe", dir) >= (int)sizeof(probe))
        return false;
    int fd = open(probe, O_WRONLY | O_CREAT | O_DIRECT | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
    unlink(probe);
    return fd >= 0;
}

/* How many of the first pages of path are in the page cache. */
static size_t cached_pages(const char *path, size_t pages)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    long ps = sysconf(_SC_PAGESIZE);
    void *m = mmap(NULL, pages * (size_t)ps, PROT_READ, MAP_SHARED, fd, 0);
    assert_true(m != MAP_FAILED);
    unsigned char vec[64];
    assert_true(pages <= sizeof(vec));
    assert_int_equal(mincore(m, pages * (size_t)ps, vec), 0);
    size_t n = 0;
    for (size_t i = 0; i < pages; i++)
        n += vec[i] & 1;
    munmap(m, pages * (size_t)ps);
    close(fd);
    return n;
}

/* A segment from the live path (a memfd, as segbuf makes it) goes to disk
 * byte for byte, whatever its length, and its whole blocks bypass the page
 * cache, where the bytes would be a second copy in memory. */
static void test_segment_bypasses_page_cache(void **state)
{
    struct fixture *f = *state;
    const size_t lens[] = { 3 * 4096 + 777, 2 * 4096, 1000 };
    for (size_t k = 0; k < 3; k++) {
        struct segbuf b;
        segbuf_init(&b, 1 << 20, NULL);
        for (size_t i = 0; i < lens[k]; i++) {
            uint8_t c = (uint8_t)(i * 13 + k);
            assert_true(segbuf_append(&b, &c, 1));
        }
        AVBufferRef *data = segbuf_publish(&b);
        segbuf_free(&b);
        assert_non_null(data);
        struct media_segment seg = { .seq = k, .duration = 2.0, .target_duration = 2,
                                     .pdt_ms = PDT0, .independent = true, .data = data };
        rec_on_segment(f->r, &seg);
        av_buffer_unref(&data);
    }
    drain(f);
    char dir[128];
    snprintf(dir, sizeof(dir), "%s/recordings/talk", f->data_dir);
    bool direct = direct_io_here(dir);
    if (!direct)
        print_message("no O_DIRECT in %s: page cache not checked\n", dir);
    for (size_t k = 0; k < 3; k++) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%zu.ts", dir, k);
        size_t whole = lens[k] / 4096;
        /* before reading it back, which fills the cache */
        if (direct && whole > 0 && cached_pages(path, whole) != 0)
            fail_msg("%s: %zu of its %zu whole pages in the page cache", path,
                     cached_pages(path, whole), whole);
        FILE *fp = fopen(path, "rb");
        assert_non_null(fp);
        uint8_t buf[4 * 4096];
        size_t n = fread(buf, 1, sizeof(buf), fp);
        fclose(fp);
        assert_int_equal(n, lens[k]);
        for (size_t i = 0; i < n; i++)
            if (buf[i] != (uint8_t)(i * 13 + k))
                fail_msg("%s: byte %zu is %u", path, i, buf[i]);
    }
}

/* rec_path formats inside the recording folder, refuses what does not fit,
 * and follows the folder when a discard renames it away. */
static void test_rec_path(void **state)
{
    struct fixture *f = *state;
    char want[PATH_MAX], got[PATH_MAX];
    int n = snprintf(want, sizeof(want), "%s/recordings/talk/%llu.ts", f->data_dir, 42ULL);
    assert_int_equal(rec_path(f->r, got, sizeof(got), "%llu.ts", 42ULL), n);
    assert_string_equal(got, want);
    assert_int_equal(rec_path(f->r, got, (size_t)n, "%llu.ts", 42ULL), -1);
    assert_int_equal(rec_path(f->r, got, 8, "x"), -1);

    record(f, 0, 2.0);                  /* the folder exists from the first segment */
    rec_discard(f->r);
    assert_true(rec_path(f->r, got, sizeof(got), "index.m3u8") > 0);
    snprintf(want, sizeof(want), "%s/recordings/talk.deleted-", f->data_dir);
    assert_memory_equal(got, want, strlen(want));
    assert_non_null(strstr(got, "/index.m3u8"));
}

/* rec_list names the recording folders by session id, in name order, and
 * skips what is not one: a discarded folder, a folder with no playlist, a
 * name that is no session id. */
static void test_rec_list(void **state)
{
    struct fixture *f = *state;
    char **ids;
    assert_int_equal(rec_list(f->data_dir, &ids), 0);     /* nothing recorded yet */
    free(ids);
    record(f, 0, 2.0);
    close_recorder(f);
    char p[PATH_MAX];
    const char *extra[] = { "alpha", "no-playlist", "bad.name" };
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s/recordings/%s", f->data_dir, extra[i]);
        assert_int_equal(mkdir(p, 0755), 0);
        if (i != 1) {
            snprintf(p, sizeof(p), "%s/recordings/%s/index.m3u8", f->data_dir, extra[i]);
            FILE *fp = fopen(p, "w");
            assert_non_null(fp);
            fclose(fp);
        }
    }
    int n = rec_list(f->data_dir, &ids);
    assert_int_equal(n, 2);
    assert_string_equal(ids[0], "alpha");
    assert_string_equal(ids[1], "talk");
    for (int i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s/recordings/%s/index.m3u8", f->data_dir, extra[i]);
        unlink(p);
        snprintf(p, sizeof(p), "%s/recordings/%s", f->data_dir, extra[i]);
        assert_int_equal(rmdir(p), 0);
    }
    open_recorder(f);
    rec_discard(f->r);                  /* renamed away: no longer listed */
    close_recorder(f);
    assert_int_equal(rec_list(f->data_dir, &ids), 0);
    free(ids);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_entries_appended_in_place, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_change_rewrites, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_append_cut_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gap_before_first_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_after_finalize, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fmp4_rewrite_keeps_maps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_drops_torn_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_numbers_go_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_append_cut_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rec_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rec_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_segment_bypasses_page_cache, setup, teardown),
    };
    return unit_main(argc, argv, "record", tests, UNIT_LEN(tests));
}
