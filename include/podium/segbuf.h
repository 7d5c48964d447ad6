/* Segment buffer: the bytes of a segment being built, written into a file
 * that nothing in this process maps writable: an unlinked file in data_dir
 * (its pages stay in the page cache: the segment is gone before writeback
 * would take them), or a memfd when segbuf_use_dir did not allow that or
 * the disk refused bytes. Published, the file becomes an AVBufferRef over
 * a read-only mapping of it, so the live window, the recorder (O_DIRECT
 * from the mapping) and HTTP's sendfile all use the same pages: a watched
 * segment exists once in memory, not once on the heap and once more in the
 * kernel. Falls back to the heap when no memfd can be made (the segment
 * then has no fd). Not thread-safe: one owner at a time.
 *
 * Appends of 4 KiB and more (a muxer's AVIO buffer) reach the file by
 * write() as they come; smaller ones (TS packets for SRT subscribers, the
 * tail of a segment) are gathered in a staging buffer that stays with b
 * and written 64 KiB at a time. On this VM the
 * first write from user space to each freshly mapped page costs about as
 * much as a system call (~2 ms a 1.6 MB segment, resident or not; ~0.3 ms
 * by write()), so no segment's pages are ever touched through a mapping.
 * The kernel gives the file exactly the pages written: none ahead. */
#ifndef PODIUM_SEGBUF_H
#define PODIUM_SEGBUF_H

#include <libavutil/buffer.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct segbuf {
    uint8_t *stage;             /* bytes not yet in fd; on the heap: all of them */
    size_t cap;                 /* bytes allocated at stage */
    size_t len;                 /* bytes appended */
    size_t flushed;             /* of them, written to fd */
    size_t max;                 /* appending past this fails */
    size_t hint;                /* expected size: the last segment's */
    int fd;                     /* the segment's file, or -1 (none yet, or heap) */
    bool disk;                  /* fd is an unlinked file in data_dir, not a memfd */
    bool heap;                  /* no file: the segment is at stage whole */
    bool overflow;              /* an append failed since the last reset */
    bool capped;                /* one of them because it would have passed max */
    bool long_said;             /* said that its segments outlive the dirty expiry */
    double begun;               /* when the segment's first byte came (monotonic s) */
    double span;                /* how long the last segment took to build, s */
    const char *owner;          /* session id for log lines (not owned), or NULL */
};

/* Lets later segments live in unlinked files in dir (data_dir) when its
 * filesystem is ext4, xfs or btrfs and a segment's lifetime, from its
 * first byte to the window letting go of it, rounds times its length
 * (segment_duration, or as long as the buffer's last segment took to
 * build, when longer: keyframes far apart), is shorter than the kernel's
 * dirty expiry; logs which it chose. Call before any segment is made.
 * False: segments stay in memfds. */
bool segbuf_use_dir(const char *dir, double segment_duration, double rounds);

/* An empty buffer that never grows beyond max bytes; nothing is allocated
 * until the first append. owner (may be NULL) must outlive b: its log lines
 * name it as their session. */
void segbuf_init(struct segbuf *b, size_t max, const char *owner);

/* Appends n bytes; false (and overflow set) when that would pass max, in
 * which case nothing is appended (capped is set too), or when memory runs
 * out or the file refuses bytes (a disk file that does first moves to a
 * memfd), in which case bytes appended since the last write to the file
 * are lost as well (len says what is kept). */
bool segbuf_append(struct segbuf *b, const void *p, size_t n);

/* Copies bytes [off, off + n) of the segment being built into dst; false
 * when they are not all there or cannot be read back. */
bool segbuf_copy(const struct segbuf *b, size_t off, void *dst, size_t n);

/* Bytes [off, off + n) of the segment being built, in place when they are
 * still staged (valid until the next append), else copied into scratch (n
 * bytes) and returned there; NULL when they cannot be read. */
const uint8_t *segbuf_read(const struct segbuf *b, size_t off, size_t n, uint8_t *scratch);

/* Forgets the bytes (keeps the memory for the next ones). */
void segbuf_reset(struct segbuf *b);

/* Hands the bytes over as a new read-only AVBufferRef the caller owns (its
 * last unref unmaps and closes the file) and leaves b empty, still to be
 * freed. NULL when b is empty or out of memory (b is then reset). */
AVBufferRef *segbuf_publish(struct segbuf *b);

/* The file behind a buffer made by segbuf_publish, owned by the buffer
 * (dup it to keep it): its size is buf->size and nothing writes it again
 * (a memfd is sealed against any write or change of size). -1 for any
 * other buffer. */
int segbuf_fd(const AVBufferRef *buf);

/* No segment follows soon (the publisher left): the staging buffer is
 * freed until the next append. */
void segbuf_idle(struct segbuf *b);

/* Frees what b holds. */
void segbuf_free(struct segbuf *b);

#endif
