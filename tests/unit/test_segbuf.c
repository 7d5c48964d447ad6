/* Unit tests: segbuf (segment bytes in a memfd). The published buffer, its
 * memfd and a duplicate of that fd must all show the same bytes, for as
 * long as any of them is held; a segment's pages are written again only
 * when nobody can read them any more. */
#define _GNU_SOURCE
#include "unit.h"

#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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
    segbuf_init(&b, 64 << 20);
    assert_null(segbuf_publish(&b));        /* nothing appended yet */
    const size_t len = 3 * 1024 * 1024 + 123;  /* several regrowths */
    fill(&b, 0, len);
    assert_int_equal(b.len, len);
    assert_false(b.overflow);

    AVBufferRef *seg = segbuf_publish(&b);
    assert_non_null(seg);
    assert_int_equal(seg->size, len);
    assert_int_equal(b.len, 0);                /* b starts over, empty */
    assert_null(b.data);
    expect_pattern(seg->data, len);
    int fd = segbuf_fd(seg);
    assert_true(fd >= 0);
    expect_fd_pattern(fd, len);
    int seals = fcntl(fd, F_GET_SEALS);
    assert_true((seals & (F_SEAL_SHRINK | F_SEAL_GROW)) == (F_SEAL_SHRINK | F_SEAL_GROW));
    assert_true(ftruncate(fd, 10) < 0);        /* nobody can cut it short under a reader */
    assert_false(av_buffer_is_writable(seg));

    /* A duplicate outlives the buffer's last reference. */
    int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    assert_true(dup >= 0);
    av_buffer_unref(&seg);
    expect_fd_pattern(dup, len);
    close(dup);

    /* The next segment reuses nothing of the first (its fd was lent) and
     * reads back whole. */
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
    segbuf_init(&b, 10000);
    fill(&b, 0, 9000);
    uint8_t more[2000] = { 0 };
    assert_false(segbuf_append(&b, more, sizeof(more)));   /* past max: refused whole */
    assert_true(b.overflow);
    assert_int_equal(b.len, 9000);
    assert_true(segbuf_append(&b, more, 1000));            /* exactly max still fits */
    assert_int_equal(b.len, 10000);

    segbuf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_false(b.overflow);
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

/* A counter of this thread's page faults taken in user mode (the copy's),
 * which pages populated by madvise do not count in; -1 if perf events are
 * not allowed here. */
static int fault_counter(void)
{
    struct perf_event_attr a = {
        .type = PERF_TYPE_SOFTWARE,
        .size = sizeof(a),
        .config = PERF_COUNT_SW_PAGE_FAULTS,
        .exclude_kernel = 1,
        .exclude_hv = 1,
    };
    return (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
}

static uint64_t faults(int fd)
{
    uint64_t n = 0;
    assert_int_equal(read(fd, &n, sizeof(n)), (ssize_t)sizeof(n));
    return n;
}

/* Appending does not fault segment pages in one by one, and makes resident
 * only the pages written (the memory bar counts every one). */
static void test_pages_populated_not_faulted(void **state)
{
    (void)state;
    int pf = fault_counter();
    if (pf < 0) {
        print_message("perf events not allowed here: fault count not checked\n");
    }
    struct segbuf b;
    segbuf_init(&b, 64 << 20);
    fill(&b, 0, 4096);                         /* reserve outside the count */
    const size_t len = 1024 * 1024 + 100;
    uint64_t before = pf >= 0 ? faults(pf) : 0;
    fill(&b, 4096, len);
    if (pf >= 0) {
        uint64_t took = faults(pf) - before;
        /* 257 pages written; a regrowth (mremap) may fault a few */
        if (took > 16)
            fail_msg("appending %zu bytes took %llu page faults", len - 4096,
                     (unsigned long long)took);
        close(pf);
    }
    long ps = sysconf(_SC_PAGESIZE);
    size_t pages = b.cap / (size_t)ps;
    unsigned char *vec = malloc(pages);
    assert_non_null(vec);
    assert_int_equal(mincore(b.data, b.cap, vec), 0);
    size_t written = (len + (size_t)ps - 1) / (size_t)ps;
    for (size_t i = 0; i < pages; i++)
        if ((vec[i] & 1) != (i < written))
            fail_msg("page %zu of %zu resident=%d, %zu written", i, pages, vec[i] & 1, written);
    free(vec);
    segbuf_free(&b);
}

static ino_t ino_of(int fd)
{
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    return st.st_ino;
}

/* How many of the pages under [p, p + len) are resident. */
static size_t resident_pages(const uint8_t *p, size_t len)
{
    long ps = sysconf(_SC_PAGESIZE);
    size_t pages = (len + (size_t)ps - 1) / (size_t)ps, n = 0;
    unsigned char *vec = malloc(pages);
    assert_non_null(vec);
    assert_int_equal(mincore((void *)p, len, vec), 0);
    for (size_t i = 0; i < pages; i++)
        n += vec[i] & 1;
    free(vec);
    return n;
}

/* A retired segment nobody lent the fd of becomes the next one's room:
 * same memfd, its pages kept up to 7/8 of the last segment's size, and the new
 * bytes read back whole, with nothing of the old one past their end. */
static void test_retired_pages_reused(void **state)
{
    (void)state;
    long ps = sysconf(_SC_PAGESIZE);
    struct segbuf b;
    segbuf_init(&b, 64 << 20);
    fill(&b, 0, 600 * 1024 + 5);
    ino_t first = ino_of(b.fd);
    AVBufferRef *a = segbuf_publish(&b);
    fill(&b, 0, 300 * 1024 + 7);               /* the last segment, smaller */
    AVBufferRef *bseg = segbuf_publish(&b);
    assert_true(ino_of(segbuf_fd(bseg)) != first);   /* a was still held */
    av_buffer_unref(&a);                       /* a retires: kept for the next */

    uint8_t one = byte_at(0);
    assert_true(segbuf_append(&b, &one, 1));
    assert_int_equal(ino_of(b.fd), first);
    /* a's pages up to 7/8 of the last segment's size, no more */
    size_t kept = ((300 * 1024 + 7) / 8 * 7 + (size_t)ps - 1) / (size_t)ps;
    assert_int_equal(b.populated, kept * (size_t)ps);
    assert_int_equal(resident_pages(b.data, b.cap), kept);
    fill(&b, 1, 200 * 1024 + 3);
    AVBufferRef *c = segbuf_publish(&b);
    assert_non_null(c);
    expect_pattern(c->data, c->size);
    /* past the end, to the end of its page, zeros, not a's bytes */
    for (size_t i = c->size; i % (size_t)ps; i++)
        if (c->data[i])
            fail_msg("byte %zu past the end is %u", i, c->data[i]);
    expect_fd_pattern(segbuf_fd(c), 200 * 1024 + 3);
    av_buffer_unref(&bseg);
    av_buffer_unref(&c);
    segbuf_free(&b);
}

/* A segment whose fd was lent is never rewritten: a reader that got the
 * fd (sendfile, a dup) may read its pages after the last reference; the
 * next one gets fresh pages, as many as a reused one would keep. Nor is
 * one that retires after the publisher left (segbuf_idle) reused. */
static void test_lent_or_idle_not_reused(void **state)
{
    (void)state;
    struct segbuf b;
    segbuf_init(&b, 64 << 20);
    fill(&b, 0, 100000);
    AVBufferRef *a = segbuf_publish(&b);
    int dup = fcntl(segbuf_fd(a), F_DUPFD_CLOEXEC, 0);
    assert_true(dup >= 0);
    ino_t lent = ino_of(dup);
    av_buffer_unref(&a);
    fill(&b, 0, 5000);
    assert_true(ino_of(b.fd) != lent);
    expect_fd_pattern(dup, 100000);            /* still the first segment's bytes */
    close(dup);
    /* the fresh memfd has the pages a reused one would have kept */
    long ps = sysconf(_SC_PAGESIZE);
    size_t kept = (100000 / 8 * 7 + (size_t)ps - 1) / (size_t)ps;
    assert_int_equal(b.populated, kept * (size_t)ps);
    assert_int_equal(resident_pages(b.data, b.cap), kept);

    ino_t second = ino_of(b.fd);
    AVBufferRef *s2 = segbuf_publish(&b);
    segbuf_idle(&b);
    av_buffer_unref(&s2);                      /* retired while idle: freed */
    fill(&b, 0, 5000);
    assert_true(ino_of(b.fd) != second);

    /* a segment that outlives its buffer frees itself */
    AVBufferRef *s3 = segbuf_publish(&b);
    segbuf_free(&b);
    expect_pattern(s3->data, 5000);
    av_buffer_unref(&s3);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grows_and_publishes),
        cmocka_unit_test(test_overflow_and_reset),
        cmocka_unit_test(test_fd_only_for_segbuf_buffers),
        cmocka_unit_test(test_pages_populated_not_faulted),
        cmocka_unit_test(test_retired_pages_reused),
        cmocka_unit_test(test_lent_or_idle_not_reused),
    };
    return unit_main(argc, argv, "segbuf", tests, UNIT_LEN(tests));
}
