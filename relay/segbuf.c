/* Segment buffer in an unlinked file or a memfd (see segbuf.h).
 *
 * Why write() and not a mapping: this VM charges the first user-space
 * write to every page of a fresh mapping (~4 us a page, the same whether
 * madvise made the page resident or not; only a mapping whose pages were
 * written before is free). Copying the muxer's 188-byte packets into a
 * mapped memfd cost ~2 ms a 1.6 MB segment in those charges alone; into
 * the staging buffer, whose pages stay mapped from one segment to the
 * next, and from there into the memfd by write(), ~0.35 ms, all of it.
 * The recorder's O_DIRECT and sendfile reach the pages without touching
 * the mapping, so a published segment's mapping is almost never touched.
 *
 * Why a disk filesystem's page cache and not only memfds: sendfile looks
 * shmem pages up one at a time and gets no large folios here
 * (shmem_enabled=never), while it reads an ext4 file's page cache in
 * batches. Serving one 0.9 MB segment to 100 connections, 1.03-1.09x
 * nginx's req/s from unlinked ext4 files against 0.69-0.77x from memfds
 * (2026-12-07, scripts/bench.d/FINDINGS.md).
 * An unlinked file that is closed before the kernel's dirty expiry is
 * never written to the disk. */
#define _GNU_SOURCE
#include "podium/segbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <libavutil/mem.h>

#include "podium/log.h"

#define SEGBUF_STAGE (64 * 1024)
#define SEGBUF_DIRECT (4 * 1024)   /* appends this large skip the stage */
#define SEGBUF_MIN (256 * 1024)     /* first room of a segment on the heap */
#define DISK_PAUSE 10               /* seconds of memfds after the disk refused bytes */

/* Filesystems whose page cache sendfile reads in batches, and which keep
 * a dirty page in memory until writeback: tmpfs is shmem (a memfd is the
 * same), a network filesystem would send the bytes away. */
#define EXT4_MAGIC 0xEF53
#define XFS_MAGIC 0x58465342
#define BTRFS_MAGIC 0x9123683E

static int disk_dir = -1;               /* set once, before any segment */
static double disk_seg_dur, disk_rounds, disk_expiry; /* set with it */
static _Atomic long long disk_off_until; /* CLOCK_MONOTONIC seconds */
static _Atomic long long open_said_until; /* the same clock */

/* Opaque of a published buffer. tag marks it as ours for segbuf_fd: any
 * other AVBufferRef has a NULL opaque or one that does not point at it. */
struct segmap {
    const void *tag;
    int fd;
    size_t len;
};

static const char segmap_tag;

/* The kernel writes a dirty page back once it is this old. */
static double dirty_expiry(void)
{
    FILE *f = fopen("/proc/sys/vm/dirty_expire_centisecs", "re");
    int cs = 0;
    if (f) {
        if (fscanf(f, "%d", &cs) != 1)
            cs = 0;
        fclose(f);
    }
    return cs > 0 ? cs / 100.0 : 30.0;
}

/* Why segments living lifetime seconds cannot live in dir's page cache,
 * whose dirty pages the kernel writes back after expiry seconds, or NULL
 * when they can. */
static const char *disk_unfit(int dir, double lifetime, double expiry)
{
    struct statfs fs;
    if (fstatfs(dir, &fs) < 0)
        return strerror(errno);
    if (fs.f_type != EXT4_MAGIC && fs.f_type != XFS_MAGIC && fs.f_type != BTRFS_MAGIC)
        return "not ext4, xfs or btrfs";
    if (lifetime >= expiry)
        return "segments outlive vm.dirty_expire_centisecs: the kernel would write them to disk";
    int fd = openat(dir, ".", O_TMPFILE | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0)
        return strerror(errno);
    close(fd);
    return NULL;
}

bool segbuf_use_dir(const char *dir, double segment_duration, double rounds)
{
    double lifetime = rounds * segment_duration, expiry = dirty_expiry();
    int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    const char *why = fd < 0 ? strerror(errno) : disk_unfit(fd, lifetime, expiry);
    if (why) {
        log_msg(LV_INFO, NULL, "\"live segments in memfds, not data_dir's page cache\" path=%s "
                "why=\"%s\"", dir, why);
        if (fd >= 0)
            close(fd);
        return false;
    }
    if (disk_dir >= 0)
        close(disk_dir);
    disk_dir = fd;
    disk_seg_dur = segment_duration;
    disk_rounds = rounds;
    disk_expiry = expiry;
    log_msg(LV_INFO, NULL, "\"live segments in data_dir's page cache (unlinked files)\" path=%s "
            "lifetime_s=%.0f", dir, lifetime);
    return true;
}

void segbuf_init(struct segbuf *b, size_t max, const char *owner)
{
    *b = (struct segbuf){ .fd = -1, .max = max, .owner = owner };
}

static bool pwrite_all(int fd, const uint8_t *p, size_t n, size_t off)
{
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
        off += (size_t)w;
    }
    return true;
}

static int new_memfd(void)
{
    return memfd_create("podium-segment", MFD_CLOEXEC | MFD_ALLOW_SEALING);
}

static double now_mono(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static long long now_s(void)
{
    return (long long)now_mono();
}

/* True for the one caller that moves *until, when passed, DISK_PAUSE
 * seconds on: a thing said once per pause, whoever notices first. */
static bool pause_begins(_Atomic long long *until)
{
    long long now = now_s(), was = atomic_load(until);
    return was <= now && atomic_compare_exchange_strong(until, &was, now + DISK_PAUSE);
}

/* The disk refused a segment (full, over quota, failing): segments go to
 * memfds for DISK_PAUSE seconds, and the first to notice says so. */
static void disk_refused(const char *owner, int err)
{
    if (pause_begins(&disk_off_until))
        log_msg(LV_WARN, owner, "\"live segments kept in memfds for %d s: data_dir refused "
                "their bytes\" err=\"%s\"", DISK_PAUSE, strerror(err));
}

/* No file could be made for a segment (out of descriptors or inodes, the
 * directory gone): not the disk refusing bytes, so no pause: the next
 * segment tries again. Said once per DISK_PAUSE seconds. */
static void no_disk_file(const char *owner, int err)
{
    if (pause_begins(&open_said_until))
        log_msg(LV_WARN, owner, "\"live segments kept in memfds: no file can be made in data_dir\" "
                "err=\"%s\"", strerror(err));
}

/* Moves the bytes already in b's disk file into a new memfd, which takes
 * its place; false (errno as the disk left it) when none can be made. */
static bool to_memory(struct segbuf *b)
{
    int err = errno;
    disk_refused(b->owner, err);
    int fd = new_memfd();
    off_t in = 0;
    while (fd >= 0 && (size_t)in < b->flushed) {
        ssize_t r = sendfile(fd, b->fd, &in, b->flushed - (size_t)in);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            close(fd);
            fd = -1;
        }
    }
    if (fd < 0) {
        errno = err;
        return false;
    }
    close(b->fd);
    b->fd = fd;
    b->disk = false;
    return true;
}

/* Writes n bytes at off into b's file. A disk file that refuses them
 * hands its bytes to a memfd first: a full disk must not cost viewers
 * the live stream (the recorder says what it costs the recording). */
static bool put(struct segbuf *b, const uint8_t *p, size_t n, size_t off)
{
    if (pwrite_all(b->fd, p, n, off))
        return true;
    return b->disk && to_memory(b) && pwrite_all(b->fd, p, n, off);
}

/* The segment's file could not take bytes: those not yet in it are lost,
 * the rest of the segment stays as it was. */
static bool write_failed(struct segbuf *b)
{
    if (!b->overflow)
        log_msg(LV_ERROR, b->owner, "\"segment bytes lost: the %s refused them\" bytes=%zu err=\"%s\"",
                b->disk ? "disk and memory" : "memfd", b->len - b->flushed, strerror(errno));
    if (b->fd >= 0 && ftruncate(b->fd, (off_t)b->flushed) < 0)
        log_msg(LV_WARN, b->owner, "\"segment file not cut back\" err=\"%s\"", strerror(errno));
    b->len = b->flushed;
    b->overflow = true;
    return false;
}

/* An append of n bytes found no memory: those are lost, the rest stays. */
static bool out_of_memory(struct segbuf *b, size_t n)
{
    if (!b->overflow)
        log_msg(LV_ERROR, b->owner, "\"segment bytes lost: out of memory\" bytes=%zu", n);
    b->overflow = true;
    return false;
}

/* Whether b's next segment leaves the window before the kernel would
 * write it back: it lives about disk_rounds times as long as the last one
 * took to build, which keyframes further apart than segment_duration
 * make longer. Said once per run of segments that would not. */
static bool short_lived(struct segbuf *b)
{
    double life = disk_rounds * (b->span > disk_seg_dur ? b->span : disk_seg_dur);
    if (life < disk_expiry) {
        b->long_said = false;
        return true;
    }
    if (!b->long_said)
        log_msg(LV_INFO, b->owner, "\"live segments in memfds: as long as they are, they would "
                "outlive vm.dirty_expire_centisecs\" segment_s=%.1f lifetime_s=%.0f "
                "expiry_s=%.0f", b->span, life, disk_expiry);
    b->long_said = true;
    return false;
}

/* Makes the segment's file: unlinked in data_dir when segbuf_use_dir
 * allowed it, the segment is short enough and the disk has not refused
 * bytes lately, else a memfd, else, when none can be made, moves the
 * segment to the heap: the staging buffer, which then holds it whole,
 * grows. */
static void make_fd(struct segbuf *b)
{
    static atomic_bool warned;
    b->disk = false;
    if (disk_dir >= 0 && now_s() >= atomic_load(&disk_off_until) && short_lived(b)) {
        b->fd = openat(disk_dir, ".", O_TMPFILE | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
        if (b->fd >= 0) {
            b->disk = true;
            return;
        }
        no_disk_file(b->owner, errno);
    }
    b->fd = new_memfd();
    if (b->fd >= 0)
        return;
    if (!atomic_exchange(&warned, true))
        log_msg(LV_WARN, NULL, "\"segments kept on the heap: no memfd\" err=\"%s\"",
                strerror(errno));
    b->heap = true;
}

/* Moves the staged bytes into the file; false when they were lost. */
static bool flush(struct segbuf *b)
{
    size_t n = b->len - b->flushed;
    if (b->heap || n == 0)
        return true;
    if (b->fd < 0)
        make_fd(b);
    if (b->heap)
        return true;
    if (!put(b, b->stage, n, b->flushed))
        return write_failed(b);
    b->flushed = b->len;
    return true;
}

static bool grow_heap(struct segbuf *b, size_t need)
{
    size_t cap = b->cap * 2 > SEGBUF_MIN ? b->cap * 2 : SEGBUF_MIN;
    if (cap < b->hint * 2)
        cap = b->hint * 2;
    while (cap < need)
        cap *= 2;
    if (cap > b->max)
        cap = b->max;
    uint8_t *n = av_realloc(b->stage, cap);
    if (!n)
        return false;
    b->stage = n;
    b->cap = cap;
    return true;
}

bool segbuf_append(struct segbuf *b, const void *p, size_t n)
{
    if (n > b->max - b->len) {
        b->overflow = true;
        b->capped = true;
        return false;
    }
    if (b->len == 0)
        b->begun = now_mono();
    if (!b->heap && (n >= SEGBUF_DIRECT || (b->stage && n > b->cap - (b->len - b->flushed)))) {
        if (!flush(b))
            return false;
        if (b->fd < 0 && !b->heap)
            make_fd(b);                 /* nothing was staged */
        /* A muxer's AVIO buffer, or fMP4's media data: staging them would
         * copy them once more, and write() takes them as they are. */
        if (!b->heap && n >= SEGBUF_DIRECT) {
            if (!put(b, p, n, b->len))
                return write_failed(b);
            b->len += n;
            b->flushed = b->len;
            return true;
        }
    }
    if (!b->stage) {
        if (!(b->stage = av_malloc(SEGBUF_STAGE)))
            return out_of_memory(b, n);
        b->cap = SEGBUF_STAGE;
    }
    if (b->heap && b->len + n > b->cap && !grow_heap(b, b->len + n))
        return out_of_memory(b, n);
    memcpy(b->stage + (b->len - b->flushed), p, n);
    b->len += n;
    return true;
}

bool segbuf_copy(const struct segbuf *b, size_t off, void *dst, size_t n)
{
    if (off > b->len || n > b->len - off)
        return false;
    uint8_t *d = dst;
    while (n > 0 && off < b->flushed) {
        size_t want = b->flushed - off < n ? b->flushed - off : n;
        ssize_t r = pread(b->fd, d, want, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        d += r;
        off += (size_t)r;
        n -= (size_t)r;
    }
    if (n > 0)
        memcpy(d, b->stage + (off - b->flushed), n);
    return true;
}

const uint8_t *segbuf_read(const struct segbuf *b, size_t off, size_t n, uint8_t *scratch)
{
    if (off >= b->flushed && off <= b->len && n <= b->len - off)
        return b->stage + (off - b->flushed);
    return segbuf_copy(b, off, scratch, n) ? scratch : NULL;
}

void segbuf_reset(struct segbuf *b)
{
    if (b->fd >= 0 && b->flushed > 0 && ftruncate(b->fd, 0) < 0)
        log_msg(LV_WARN, b->owner, "\"segment file not emptied\" err=\"%s\"", strerror(errno));
    b->len = 0;
    b->flushed = 0;
    b->overflow = false;
    b->capped = false;
}

static void unmap_cb(void *opaque, uint8_t *data)
{
    struct segmap *m = opaque;
    munmap(data, m->len);
    close(m->fd);
    free(m);
}

/* The file, mapped read-only (a memfd sealed first), as a buffer that owns
 * it. b lets go of the fd either way: the next segment gets a new one, as
 * a sealed memfd cannot take it. */
static AVBufferRef *publish_fd(struct segbuf *b)
{
    static atomic_bool warned;
    /* sealed before it is mapped: a kernel before 6.7 refuses F_SEAL_WRITE
     * while a shared mapping could still be made writable */
    const int seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL;
    if (!b->disk && fcntl(b->fd, F_ADD_SEALS, seals) < 0 && !atomic_exchange(&warned, true))
        log_msg(LV_WARN, NULL, "\"segment memfd not sealed\" err=\"%s\"", strerror(errno));
    struct segmap *m = malloc(sizeof(*m));
    void *data = m ? mmap(NULL, b->len, PROT_READ, MAP_SHARED, b->fd, 0) : MAP_FAILED;
    AVBufferRef *ref = data != MAP_FAILED
        ? av_buffer_create(data, b->len, unmap_cb, m, AV_BUFFER_FLAG_READONLY) : NULL;
    if (ref) {
        *m = (struct segmap){ .tag = &segmap_tag, .fd = b->fd, .len = b->len };
    } else {
        if (data != MAP_FAILED)
            munmap(data, b->len);
        free(m);
        close(b->fd);
    }
    b->fd = -1;
    return ref;
}

/* The heap block, cut to size, as a buffer that owns it. */
static AVBufferRef *publish_heap(struct segbuf *b)
{
    /* realloc shrinks in place, or by mremap for large blocks */
    uint8_t *fit = b->cap > b->len + b->len / 16 ? av_realloc(b->stage, b->len) : NULL;
    if (fit)
        b->stage = fit;
    AVBufferRef *ref = av_buffer_create(b->stage, b->len, av_buffer_default_free, NULL,
                                        AV_BUFFER_FLAG_READONLY);
    if (ref) {
        /* the next segment tries a memfd again */
        b->stage = NULL;
        b->cap = 0;
        b->heap = false;
    }
    return ref;
}

AVBufferRef *segbuf_publish(struct segbuf *b)
{
    flush(b);                       /* a failure costs the staged bytes only */
    size_t len = b->len;
    AVBufferRef *ref = !len ? NULL : b->heap ? publish_heap(b) : publish_fd(b);
    segbuf_reset(b);
    if (ref) {
        b->hint = len;
        b->span = now_mono() - b->begun;
    }
    return ref;
}

int segbuf_fd(const AVBufferRef *buf)
{
    struct segmap *m = buf ? av_buffer_get_opaque(buf) : NULL;
    return m && m->tag == &segmap_tag ? m->fd : -1;
}

void segbuf_idle(struct segbuf *b)
{
    if (b->len > 0)
        return;
    if (b->fd >= 0)
        close(b->fd);
    av_freep(&b->stage);
    b->fd = -1;
    b->cap = 0;
    b->heap = false;
}

void segbuf_free(struct segbuf *b)
{
    if (b->fd >= 0)
        close(b->fd);
    av_freep(&b->stage);
    segbuf_init(b, b->max, b->owner);
}
