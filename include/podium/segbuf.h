/* Segment buffer: the bytes of a segment being built, in a memfd mapped
 * into the process. Published, it becomes an AVBufferRef over that mapping,
 * so the live window, the recorder and HTTP's sendfile all use the same
 * pages: a watched segment exists once in memory, not once on the heap and
 * once more in the kernel. Falls back to the heap when no memfd can be made
 * (the segment then has no fd). Not thread-safe: one owner at a time.
 *
 * A published segment whose fd was never asked for (segbuf_fd) gives its
 * pages back to the buffer that made it when its last reference goes: the
 * next segment is written into them. Fresh memfd pages cost ~2 ms per
 * 0.9 MB segment on this VM populated one by one, ~1 ms in one call (what
 * a segment after a lent one gets); pages already resident, nothing. One
 * that was lent is never rewritten: sendfile leaves its pages in socket
 * buffers after the call returns. */
#ifndef PODIUM_SEGBUF_H
#define PODIUM_SEGBUF_H

#include <libavutil/buffer.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct segpool;

struct segbuf {
    uint8_t *data;
    size_t len;                 /* bytes appended */
    size_t cap;                 /* bytes mapped (or allocated) */
    size_t populated;           /* bytes of a memfd known resident, page-aligned */
    size_t max;                 /* appending past this fails */
    size_t hint;                /* expected size: the last segment's */
    int fd;                     /* -1: on the heap */
    struct segpool *pool;       /* where a retired segment's pages wait, or NULL */
    bool overflow;              /* an append failed since the last reset */
};

/* An empty buffer that never grows beyond max bytes; nothing is allocated
 * until the first append. */
void segbuf_init(struct segbuf *b, size_t max);

/* Appends n bytes, growing the buffer; false (and overflow set) when that
 * would pass max or memory runs out, in which case nothing is appended. */
bool segbuf_append(struct segbuf *b, const void *p, size_t n);

/* Forgets the bytes (keeps the memory for the next ones). */
void segbuf_reset(struct segbuf *b);

/* Hands the bytes over as a new read-only AVBufferRef the caller owns
 * (its last unref unmaps and closes the memfd, or gives it back to b) and
 * leaves b empty, still to be freed; the next segment's room, sized after
 * this one, is reserved at its first append.
 * NULL when b is empty or out of memory (b is then reset). */
AVBufferRef *segbuf_publish(struct segbuf *b);

/* The memfd behind a buffer made by segbuf_publish, owned by the buffer
 * (dup it to keep it): its size is buf->size, sealed against any change of
 * size, and its pages are never reused. -1 for any other buffer. */
int segbuf_fd(const AVBufferRef *buf);

/* No segment follows soon (the publisher left): pages of segments retired
 * from now on are freed, not kept for the next one, until the next append. */
void segbuf_idle(struct segbuf *b);

/* Frees what b holds. */
void segbuf_free(struct segbuf *b);

#endif
