/* Segment buffer: the bytes of a segment being built, in a memfd mapped
 * into the process. Published, it becomes an AVBufferRef over that mapping,
 * so the live window, the recorder and HTTP's sendfile all use the same
 * pages: a watched segment exists once in memory, not once on the heap and
 * once more in the kernel. Falls back to the heap when no memfd can be made
 * (the segment then has no fd). Not thread-safe: one owner at a time. */
#ifndef PODIUM_SEGBUF_H
#define PODIUM_SEGBUF_H

#include <libavutil/buffer.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct segbuf {
    uint8_t *data;
    size_t len;                 /* bytes appended */
    size_t cap;                 /* bytes mapped (or allocated) */
    size_t populated;           /* bytes of a memfd known resident, page-aligned */
    size_t max;                 /* appending past this fails */
    size_t hint;                /* expected size: the last segment's */
    int fd;                     /* -1: on the heap */
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
 * (its last unref unmaps and closes the memfd) and leaves b empty; the next
 * segment's room, sized after this one, is reserved at its first append.
 * NULL when b is empty or out of memory (b is then reset). */
AVBufferRef *segbuf_publish(struct segbuf *b);

/* The memfd behind a buffer made by segbuf_publish, owned by the buffer
 * (dup it to keep it): its size is buf->size. -1 for any other buffer. */
int segbuf_fd(const AVBufferRef *buf);

/* Frees what b holds. */
void segbuf_free(struct segbuf *b);

#endif
