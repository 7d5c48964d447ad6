/* Unit tests: segbuf (segment bytes in a memfd, or an unlinked file in
 * data_dir). The published buffer, its file and a duplicate of that fd
 * must all show the same bytes, for as long as any of them is held, and
 * nobody may change them. The disk tests run last: segbuf_use_dir holds
 * for the rest of the process. */
#define _GNU_SOURCE
#include "unit.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "podium/segbuf.h"

static uint8_t byte_at(size_t i)
{
    return (uint8_t)(i * 7 + (i >> 12));
}

/* Appends bytes [from, to) of the pattern in uneven pieces. */
static void fill(struct segbuf *b, size_t from, size_t to)
{
    uint8_t piece[1000];
    while (from < to) {
        size_t n = to - from < sizeof(piece) ? to - from : 188 + from % 800;
        if (n > to - from)
            n = to - from;
        for (size_t i = 0; i < n; i++)
            piece[i] = byte_at(from + i);
        assert_true(segbuf_append(b, piece, n));
        from += n;
    }
}

static void expect_pattern(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != byte_at(i))
            fail_msg("byte %zu is %u, expected %u", i, p[i], byte_at(i));
}

/* The bytes read back through fd (pread: its offset is not ours). */
static void expect_fd_pattern(int fd, size_t len)
{
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal((size_t)st.st_size, len);
    uint8_t *p = malloc(len);
    assert_non_null(p);
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, p + got, len - got, (off_t)got);
        assert_true(n > 0);
        got += (size_t)n;
    }
    expect_pattern(p, len);
    free(p);
}

static void test_grows_and_publishes(void **state)
{
    (void)state;
    struct segbuf b;
    segbuf_init(&b, 64 << 20, NULL);
    assert_null(segbuf_publish(&b));        /* nothing appended yet */
    const size_t len = 3 * 1024 * 1024 + 123;  /* several regrowths */
    fill(&b, 0, len);
    assert_int_equal(b.len, len);
    assert_false(b.overflow);

    AVBufferRef *seg = segbuf_publish(&b);
    assert_non_null(seg);
    assert_int_equal(seg->size, len);
    assert_int_equal(b.len, 0);                /* b starts over, empty */
    assert_int_equal(b.fd, -1);
    expect_pattern(seg->data, len);
    int fd = segbuf_fd(seg);
    assert_true(fd >= 0);
    expect_fd_pattern(fd, len);
    const int sealed = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
    assert_true((fcntl(fd, F_GET_SEALS) & sealed) == sealed);
    assert_true(ftruncate(fd, 10) < 0);        /* nobody can cut it short under a reader */
    assert_true(pwrite(fd, "x", 1, 0) < 0);    /* nor change a byte */
    assert_false(av_buffer_is_writable(seg));

    /* A duplicate outlives the buffer's last reference. */
    int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    assert_true(dup >= 0);
    av_buffer_unref(&seg);
    expect_fd_pattern(dup, len);
    close(dup);

    /* The next segment gets a memfd of its own and reads back whole. */
    fill(&b, 0, 5000);
    AVBufferRef *next = segbuf_publish(&b);
    assert_non_null(next);
    expect_pattern(next->data, 5000);
    expect_fd_pattern(segbuf_fd(next), 5000);
    av_buffer_unref(&next);
    segbuf_free(&b);
}

static void test_overflow_and_reset(void **state)
{
    (void)state;
    struct segbuf b;
    segbuf_init(&b, 10000, NULL);
    fill(&b, 0, 9000);
    uint8_t more[2000] = { 0 };
    assert_false(segbuf_append(&b, more, sizeof(more)));   /* past max: refused whole */
    assert_true(b.overflow);
    assert_true(b.capped);
    assert_int_equal(b.len, 9000);
    assert_true(segbuf_append(&b, more, 1000));            /* exactly max still fits */
    assert_int_equal(b.len, 10000);

    segbuf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_false(b.overflow);
    assert_false(b.capped);
    fill(&b, 0, 4000);
    AVBufferRef *seg = segbuf_publish(&b);
    assert_non_null(seg);
    assert_int_equal(seg->size, 4000);
    expect_pattern(seg->data, 4000);
    av_buffer_unref(&seg);
    segbuf_free(&b);
    segbuf_free(&b);                           /* freeing twice is harmless */
}

static void test_fd_only_for_segbuf_buffers(void **state)
{
    (void)state;
    AVBufferRef *heap = av_buffer_alloc(100);
    assert_non_null(heap);
    assert_int_equal(segbuf_fd(heap), -1);
    av_buffer_unref(&heap);
    assert_int_equal(segbuf_fd(NULL), -1);
}

/* segbuf_copy reads back any range of the segment being built, whether
 * its bytes are still staged or already in the memfd. */
static void test_copy_reads_back(void **state)
{
    (void)state;
    struct segbuf b;
    segbuf_init(&b, 8 << 20, NULL);
    const size_t len = 300 * 1000 + 17;
    fill(&b, 0, len);
    assert_true(b.flushed > 0 && b.flushed < b.len);    /* some of each */
    uint8_t *out = malloc(len);
    assert_non_null(out);
    assert_true(segbuf_copy(&b, 0, out, len));
    expect_pattern(out, len);
    const size_t ranges[][2] = { { b.flushed - 100, 300 }, { b.flushed, 50 },
                                 { 1, 10 }, { len - 10, 10 }, { len, 0 } };
    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
        size_t off = ranges[i][0], n = ranges[i][1];
        memset(out, 0, len);
        assert_true(segbuf_copy(&b, off, out, n));
        for (size_t j = 0; j < n; j++)
            assert_int_equal(out[j], byte_at(off + j));
    }
    /* read: staged bytes in place, written ones through the scratch */
    const uint8_t *in = segbuf_read(&b, len - 10, 10, out);
    assert_true(in != NULL && in != out);
    assert_int_equal(in[9], byte_at(len - 1));
    assert_ptr_equal(segbuf_read(&b, b.flushed - 1, 2, out), out);
    assert_int_equal(out[0], byte_at(b.flushed - 1));
    assert_false(segbuf_copy(&b, len - 10, out, 11));   /* past the end */
    assert_false(segbuf_copy(&b, len + 1, out, 0));
    free(out);
    segbuf_free(&b);
}

static size_t page_round(size_t n)
{
    size_t ps = (size_t)sysconf(_SC_PAGESIZE);
    return (n + ps - 1) / ps * ps;
}

/* The memfd holds pages for the bytes written to it and none ahead: a
 * segment being built costs what it has, and its pages are never written
 * through a mapping (see segbuf.c). A large append skips the staging. */
static void test_memfd_holds_what_was_written(void **state)
{
    (void)state;
    struct segbuf b;
    segbuf_init(&b, 64 << 20, NULL);
    for (int seg = 0; seg < 3; seg++) {
        fill(&b, 0, 1600 * 1000);
        assert_true(b.fd >= 0);
        assert_true(b.len - b.flushed < 64 * 1024);
        struct stat st;
        assert_int_equal(fstat(b.fd, &st), 0);
        assert_int_equal((size_t)st.st_size, b.flushed);
        assert_int_equal((size_t)st.st_blocks * 512, page_round(b.flushed));
        AVBufferRef *s = segbuf_publish(&b);
        assert_non_null(s);
        assert_int_equal(fstat(segbuf_fd(s), &st), 0);
        assert_int_equal((size_t)st.st_blocks * 512, page_round(1600 * 1000));
        av_buffer_unref(&s);
    }

    size_t big = 300 * 1000;
    uint8_t *p = malloc(big);
    assert_non_null(p);
    for (size_t i = 0; i < big; i++)
        p[i] = byte_at(100 + i);
    fill(&b, 0, 100);
    assert_true(segbuf_append(&b, p, big));
    assert_int_equal(b.flushed, b.len);                  /* written as it came */
    AVBufferRef *s = segbuf_publish(&b);
    assert_non_null(s);
    expect_pattern(s->data, 100 + big);
    expect_fd_pattern(segbuf_fd(s), 100 + big);
    av_buffer_unref(&s);

    /* a segment may begin with one (nothing staged, no memfd yet) */
    for (size_t i = 0; i < big; i++)
        p[i] = byte_at(i);
    assert_true(segbuf_append(&b, p, big));
    assert_false(b.overflow);
    s = segbuf_publish(&b);
    assert_non_null(s);
    expect_fd_pattern(segbuf_fd(s), big);
    av_buffer_unref(&s);

    /* a muxer's AVIO buffer (4 KiB and more) is written as it comes though
     * the stage has room; anything smaller is staged */
    const size_t io = 4096;
    for (size_t i = 0; i < 2 * io; i++)
        p[i] = byte_at(100 + i);
    fill(&b, 0, 100);
    assert_true(segbuf_append(&b, p, io));
    assert_int_equal(b.flushed, b.len);
    assert_true(segbuf_append(&b, p + io, io - 1));
    assert_int_equal(b.flushed, 100 + io);
    s = segbuf_publish(&b);
    assert_non_null(s);
    expect_pattern(s->data, 100 + 2 * io - 1);
    expect_fd_pattern(segbuf_fd(s), 100 + 2 * io - 1);
    av_buffer_unref(&s);
    free(p);
    segbuf_free(&b);
}

/* After the publisher leaves, b holds nothing until the next append. */
static void test_idle_lets_go(void **state)
{
    (void)state;
    struct segbuf b;
    segbuf_init(&b, 8 << 20, NULL);
    fill(&b, 0, 100 * 1000);
    segbuf_idle(&b);                           /* bytes pending: kept */
    assert_int_equal(b.len, 100 * 1000);
    AVBufferRef *s = segbuf_publish(&b);
    assert_non_null(s);
    assert_int_equal(b.fd, -1);
    assert_non_null(b.stage);
    segbuf_idle(&b);
    assert_null(b.stage);
    assert_int_equal(b.cap, 0);
    fill(&b, 0, 5000);
    AVBufferRef *t = segbuf_publish(&b);
    assert_non_null(t);
    expect_pattern(t->data, 5000);
    expect_pattern(s->data, 100 * 1000);       /* the first is untouched */
    av_buffer_unref(&s);
    av_buffer_unref(&t);
    segbuf_free(&b);
}

/* With no descriptor to spare, the segment goes on the heap, whole and
 * readable, and the next one tries a memfd again. */
static void test_heap_when_no_memfd(void **state)
{
    (void)state;
    struct rlimit old;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    int next = dup(0);                        /* the lowest free descriptor */
    assert_true(next >= 0);
    close(next);
    struct rlimit tight = { .rlim_cur = (rlim_t)next, .rlim_max = old.rlim_max };
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &tight), 0);

    struct segbuf b;
    segbuf_init(&b, 8 << 20, NULL);
    const size_t len = 700 * 1000;
    fill(&b, 0, len);
    assert_true(b.heap);
    uint8_t tail[100];
    assert_true(segbuf_copy(&b, len - 100, tail, 100));
    assert_int_equal(tail[99], byte_at(len - 1));
    AVBufferRef *seg = segbuf_publish(&b);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    assert_non_null(seg);
    assert_int_equal(segbuf_fd(seg), -1);
    expect_pattern(seg->data, len);
    av_buffer_unref(&seg);

    fill(&b, 0, 100 * 1000);
    seg = segbuf_publish(&b);
    assert_non_null(seg);
    assert_true(segbuf_fd(seg) >= 0);
    expect_fd_pattern(segbuf_fd(seg), 100 * 1000);
    av_buffer_unref(&seg);
    segbuf_free(&b);
}

/* stderr caught in a memfd, so a test can read the log lines it made. */
struct caught {
    int saved, cap;
};

static struct caught catch_stderr(void)
{
    struct caught c = { dup(STDERR_FILENO), memfd_create("stderr", MFD_CLOEXEC) };
    assert_true(c.saved >= 0 && c.cap >= 0);
    assert_int_equal(dup2(c.cap, STDERR_FILENO), STDERR_FILENO);
    return c;
}

/* Puts stderr back and returns what was caught in said (NUL-terminated). */
static ssize_t release_stderr(struct caught c, char *said, size_t len)
{
    ssize_t n = pread(c.cap, said, len - 1, 0);
    assert_int_equal(dup2(c.saved, STDERR_FILENO), STDERR_FILENO);
    close(c.saved);
    close(c.cap);
    said[n > 0 ? n : 0] = '\0';
    return n;
}

/* A memfd that refuses bytes (here: past RLIMIT_FSIZE) costs the bytes
 * not yet in it, says so (naming the buffer's session), and leaves the
 * rest of the segment whole; a
 * segment that lost everything publishes nothing and leaves b ready for
 * the next one. */
static void test_refused_write_keeps_the_rest(void **state)
{
    (void)state;
    struct rlimit old;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*was)(int) = signal(SIGXFSZ, SIG_IGN);
    struct rlimit tight = { .rlim_cur = 200 * 1000, .rlim_max = old.rlim_max };
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &tight), 0);

    struct segbuf b;
    segbuf_init(&b, 8 << 20, "unit-talk");
    uint8_t piece[188];
    size_t off = 0;
    struct caught c = catch_stderr();          /* the log line */
    for (; off < 400 * 1000; off += sizeof(piece)) {
        for (size_t i = 0; i < sizeof(piece); i++)
            piece[i] = byte_at(off + i);
        if (!segbuf_append(&b, piece, sizeof(piece)))
            break;
    }
    char said[512];
    assert_true(release_stderr(c, said, sizeof(said)) > 0);
    if (!strstr(said, "session=unit-talk") || !strstr(said, "memfd refused"))
        fail_msg("the lost bytes' log line does not name its session: %s", said);
    assert_true(off < 400 * 1000);
    assert_true(b.overflow);
    assert_false(b.capped);                    /* refused, not past max */
    assert_int_equal(b.len, b.flushed);        /* what the memfd holds, no more */
    assert_true(b.len > 0 && b.len <= 200 * 1000);
    size_t kept = b.len;
    AVBufferRef *seg = segbuf_publish(&b);
    assert_non_null(seg);
    assert_int_equal(seg->size, kept);
    expect_pattern(seg->data, kept);
    av_buffer_unref(&seg);
    assert_false(b.overflow);

    tight.rlim_cur = 0;                        /* now nothing gets in */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &tight), 0);
    fill(&b, 0, 1000);                         /* staged: no write yet */
    assert_null(segbuf_publish(&b));
    assert_false(b.overflow);
    assert_int_equal(b.len, 0);

    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, was);
    fill(&b, 0, 1000);
    seg = segbuf_publish(&b);
    assert_non_null(seg);
    expect_fd_pattern(segbuf_fd(seg), 1000);
    av_buffer_unref(&seg);
    segbuf_free(&b);
}

/* What segbuf_use_dir logged, caught on its way to stderr, and its answer. */
static bool use_dir_said(const char *dir, double seg_dur, double rounds, char *said, size_t len)
{
    struct caught c = catch_stderr();
    bool ok = segbuf_use_dir(dir, seg_dur, rounds);
    release_stderr(c, said, len);
    return ok;
}

static bool is_memfd(int fd)
{
    char link[64], target[256];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof(target) - 1);
    assert_true(n > 0);
    target[n] = '\0';
    return strncmp(target, "/memfd:", 7) == 0;
}

static char disk_dir[64];

/* Names in dir other than . and .. */
static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* Segments go to data_dir's page cache only where sendfile reads it well
 * and the kernel would not write them back before they are gone; each
 * refusal says why. */
static void test_use_dir_chooses(void **state)
{
    (void)state;
    char said[1024];
    struct statfs fs;
    if (statfs("/dev/shm", &fs) == 0 && fs.f_type == 0x01021994) {
        assert_false(use_dir_said("/dev/shm", 2, 8, said, sizeof(said)));
        if (!strstr(said, "live segments in memfds") || !strstr(said, "not ext4, xfs or btrfs"))
            fail_msg("tmpfs refused without the reason: %s", said);
    }
    assert_false(use_dir_said("/nonexistent/podium", 2, 8, said, sizeof(said)));
    assert_non_null(strstr(said, "No such file or directory"));

    snprintf(disk_dir, sizeof(disk_dir), "/tmp/podium-unit-segbuf-XXXXXX");
    assert_non_null(mkdtemp(disk_dir));
    assert_int_equal(statfs(disk_dir, &fs), 0);
    if (fs.f_type != 0xEF53 && fs.f_type != 0x58465342 && fs.f_type != 0x9123683E) {
        print_message("skipping the disk cases: /tmp is not ext4, xfs or btrfs\n");
        assert_int_equal(rmdir(disk_dir), 0);
        return;
    }
    assert_false(use_dir_said(disk_dir, 1e6, 1, said, sizeof(said)));
    assert_non_null(strstr(said, "outlive vm.dirty_expire_centisecs"));
    assert_true(use_dir_said(disk_dir, 2, 8, said, sizeof(said)));
    assert_non_null(strstr(said, "live segments in data_dir's page cache"));
}

/* Segments in data_dir: unlinked files nobody else can reach, read back
 * whole through the mapping and the descriptor, after the buffer too. */
static void test_disk_segments(void **state)
{
    (void)state;
    struct segbuf b;
    segbuf_init(&b, 64 << 20, NULL);
    fill(&b, 0, 5000);                         /* staged only: no file yet */
    assert_int_equal(b.fd, -1);
    fill(&b, 5000, 1600 * 1000);
    if (!b.disk) {
        assert_true(is_memfd(b.fd));
        skip();                                /* test_use_dir_chooses said why */
    }
    assert_false(is_memfd(b.fd));
    AVBufferRef *seg = segbuf_publish(&b);
    assert_non_null(seg);
    expect_pattern(seg->data, 1600 * 1000);
    int fd = segbuf_fd(seg);
    expect_fd_pattern(fd, 1600 * 1000);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_nlink, 0);          /* in no directory */
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(entries(disk_dir), 0);    /* which stays empty */
    int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    av_buffer_unref(&seg);
    expect_fd_pattern(dup, 1600 * 1000);
    close(dup);

    /* a muxer's AVIO buffer goes straight in, and so does a segment's first */
    uint8_t *p = malloc(300 * 1000);
    assert_non_null(p);
    for (size_t i = 0; i < 300 * 1000; i++)
        p[i] = byte_at(i);
    assert_true(segbuf_append(&b, p, 300 * 1000));
    assert_true(b.disk);
    assert_int_equal(b.flushed, b.len);
    seg = segbuf_publish(&b);
    assert_non_null(seg);
    expect_fd_pattern(segbuf_fd(seg), 300 * 1000);
    av_buffer_unref(&seg);
    free(p);
    segbuf_free(&b);
}

/* No file can be made in data_dir (here the directory is gone: EPERM; out of
 * descriptors or inodes alike): the segment is a memfd, the log says why
 * without blaming the disk for bytes, and nothing pauses the disk: the
 * next segment made once data_dir is back is a file there again. */
static void test_no_file_in_dir(void **state)
{
    (void)state;
    char gone[96], said[1024];
    snprintf(gone, sizeof(gone), "%s/gone", disk_dir);
    /* test_use_dir_chooses said why when there is no disk_dir to use */
    if (mkdir(gone, 0700) < 0)
        skip();
    bool usable = use_dir_said(gone, 2, 8, said, sizeof(said));
    assert_int_equal(rmdir(gone), 0);
    if (!usable)
        skip();

    struct segbuf b;
    segbuf_init(&b, 64 << 20, "unit-talk");
    struct caught c = catch_stderr();
    fill(&b, 0, 200 * 1000);
    assert_true(release_stderr(c, said, sizeof(said)) > 0);
    if (!strstr(said, "session=unit-talk") || !strstr(said, "no file can be made in data_dir")
        || !strstr(said, "err=\"") || strstr(said, "refused"))
        fail_msg("the memfd's reason was not said as it is: %s", said);
    assert_false(b.disk);
    assert_true(is_memfd(b.fd));
    AVBufferRef *seg = segbuf_publish(&b);
    assert_non_null(seg);
    expect_fd_pattern(segbuf_fd(seg), 200 * 1000);
    av_buffer_unref(&seg);

    assert_true(use_dir_said(disk_dir, 2, 8, said, sizeof(said)));
    fill(&b, 0, 200 * 1000);
    assert_true(b.disk);
    seg = segbuf_publish(&b);
    av_buffer_unref(&seg);
    segbuf_free(&b);
}

/* The kernel's dirty expiry, s: what a disk segment's lifetime is held to. */
static double expiry_s(void)
{
    FILE *f = fopen("/proc/sys/vm/dirty_expire_centisecs", "re");
    int cs = 0;
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%d", &cs), 1);
    fclose(f);
    return cs / 100.0;
}

/* A segment that took long to build (keyframes far apart) would outlive
 * the dirty expiry: the next one is a memfd, said once with the session;
 * once segments are short again they go back to the disk. Here a segment
 * lives rounds x its length, 0.01 s, a quarter of the expiry; one that
 * takes 0.06 s to build would live 1.5 times the expiry. */
static void test_long_segments_in_memory(void **state)
{
    (void)state;
    char said[1024];
    const double rounds = expiry_s() / 0.04;
    if (!use_dir_said(disk_dir, 0.01, rounds, said, sizeof(said)))
        skip();                                /* test_use_dir_chooses said why */
    struct segbuf b;
    segbuf_init(&b, 64 << 20, "unit-talk");
    fill(&b, 0, 200 * 1000);
    assert_true(b.disk);                       /* no segment before it: 0.01 s long */
    const struct timespec slow = { 0, 60 * 1000 * 1000 };
    nanosleep(&slow, NULL);                    /* the segment is that long to build */
    AVBufferRef *seg = segbuf_publish(&b);
    av_buffer_unref(&seg);

    struct caught c = catch_stderr();
    fill(&b, 0, 200 * 1000);
    release_stderr(c, said, sizeof(said));
    if (!strstr(said, "session=unit-talk") || !strstr(said, "would outlive vm.dirty_expire_centisecs"))
        fail_msg("the long segment's memfd was not said: %s", said);
    assert_false(b.disk);
    assert_true(is_memfd(b.fd));
    seg = segbuf_publish(&b);                  /* built at once */
    expect_fd_pattern(segbuf_fd(seg), 200 * 1000);
    av_buffer_unref(&seg);

    c = catch_stderr();
    fill(&b, 0, 200 * 1000);
    assert_int_equal(release_stderr(c, said, sizeof(said)), 0);
    assert_true(b.disk);
    seg = segbuf_publish(&b);
    av_buffer_unref(&seg);
    segbuf_free(&b);
    assert_true(use_dir_said(disk_dir, 2, 8, said, sizeof(said)));
}

/* The disk refuses bytes (full, failing; here a descriptor that cannot
 * write): the segment moves to a memfd with every byte, says so, and the
 * segments right after it stay in memory. */
static void test_disk_refusal_moves_to_memory(void **state)
{
    (void)state;
    struct segbuf b;
    segbuf_init(&b, 64 << 20, "unit-talk");
    fill(&b, 0, 200 * 1000);
    if (!b.disk)
        skip();
    assert_true(b.flushed > 0);
    char link[64];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", b.fd);
    int ro = open(link, O_RDONLY | O_CLOEXEC);
    assert_true(ro >= 0);
    close(b.fd);
    b.fd = ro;

    struct caught c = catch_stderr();
    fill(&b, 200 * 1000, 900 * 1000);          /* staged, then written */
    char said[512];
    assert_true(release_stderr(c, said, sizeof(said)) > 0);
    if (!strstr(said, "session=unit-talk") || !strstr(said, "kept in memfds")
        || !strstr(said, "Bad file descriptor"))
        fail_msg("the move to memory was not said: %s", said);
    assert_false(b.overflow);
    assert_false(b.disk);
    assert_true(is_memfd(b.fd));
    AVBufferRef *seg = segbuf_publish(&b);
    assert_non_null(seg);
    expect_pattern(seg->data, 900 * 1000);
    expect_fd_pattern(segbuf_fd(seg), 900 * 1000);
    av_buffer_unref(&seg);

    fill(&b, 0, 100 * 1000);                   /* the next waits out the pause */
    assert_false(b.disk);
    assert_true(is_memfd(b.fd));
    seg = segbuf_publish(&b);
    const int sealed = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
    assert_true((fcntl(segbuf_fd(seg), F_GET_SEALS) & sealed) == sealed);
    av_buffer_unref(&seg);
    segbuf_free(&b);
    assert_int_equal(rmdir(disk_dir), 0);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grows_and_publishes),
        cmocka_unit_test(test_overflow_and_reset),
        cmocka_unit_test(test_fd_only_for_segbuf_buffers),
        cmocka_unit_test(test_copy_reads_back),
        cmocka_unit_test(test_memfd_holds_what_was_written),
        cmocka_unit_test(test_idle_lets_go),
        cmocka_unit_test(test_heap_when_no_memfd),
        cmocka_unit_test(test_refused_write_keeps_the_rest),
        cmocka_unit_test(test_use_dir_chooses),
        cmocka_unit_test(test_disk_segments),
        cmocka_unit_test(test_no_file_in_dir),
        cmocka_unit_test(test_long_segments_in_memory),
        cmocka_unit_test(test_disk_refusal_moves_to_memory),
    };
    return unit_main(argc, argv, "segbuf", tests, UNIT_LEN(tests));
}
