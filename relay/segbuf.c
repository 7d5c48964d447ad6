/* Segment buffer in a memfd (see segbuf.h).
 *
 * Reserving room is free: ftruncate only sets the memfd's size and the
 * mapping is address space; a page costs memory once it is written. So the
 * buffer reserves twice the expected segment and rarely has to mremap.
 *
 * Pages are populated by madvise before the bytes are copied in: up to
 * 7/8 of the last segment's size in one call when the room is reserved
 * (prefill), past that exactly the pages each append will write (none
 * beyond: they would be resident for nothing). A write fault per 4 KiB page
 * was 14% of Podium's ingest CPU on this VM, where an exception costs more
 * than a system call: one MADV_POPULATE_WRITE per page is half the cost,
 * one call for the prefill less again.
 *
 * Cheaper still is a page that is already there: the segment that leaves
 * the live window as a new one starts hands its mapping over (the pool),
 * cut to the prefill (see reuse). */
#define _GNU_SOURCE
#include "podium/segbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <libavutil/mem.h>

#include "podium/log.h"

#define SEGBUF_MIN (256 * 1024)

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23      /* Linux 5.14; older kernels say EINVAL */
#endif

/* Opaque of a published buffer. tag marks it as ours for segbuf_fd: any
 * other AVBufferRef has a NULL opaque or one that does not point at it. */
struct segmap {
    const void *tag;
    int fd;
    uint8_t *data;
    size_t maplen;
    struct segpool *pool;       /* a reference, or NULL */
    atomic_bool lent;           /* its fd was handed out: never rewritten */
};

/* The spare mapping of one buffer, shared by it and every segment it
 * published (refs): whichever lets go last frees it. */
struct segpool {
    pthread_mutex_t lock;
    int refs;
    bool accepting;             /* a segment follows: keep a retired one */
    struct segmap *spare;
};

static const char segmap_tag;

/* Cleared for good when the kernel has no MADV_POPULATE_WRITE: the pages
 * are then faulted in by the copy, as before. */
static atomic_bool populate_works = true;

static size_t page_round(size_t n)
{
    size_t ps = (size_t)sysconf(_SC_PAGESIZE);
    return (n + ps - 1) / ps * ps;
}

void segbuf_init(struct segbuf *b, size_t max)
{
    *b = (struct segbuf){ .fd = -1, .max = max };
}

static void map_free(struct segmap *m)
{
    munmap(m->data, m->maplen);
    close(m->fd);
    free(m);
}

static void pool_ref(struct segpool *p)
{
    pthread_mutex_lock(&p->lock);
    p->refs++;
    pthread_mutex_unlock(&p->lock);
}

/* Drops one reference; m (when not NULL) is offered as the spare on the way. */
static void pool_put(struct segpool *p, struct segmap *m)
{
    pthread_mutex_lock(&p->lock);
    if (m && p->accepting && !p->spare) {
        p->spare = m;
        m = NULL;
    }
    bool last = --p->refs == 0;
    struct segmap *spare = last ? p->spare : NULL;
    pthread_mutex_unlock(&p->lock);
    if (m)
        map_free(m);
    if (last) {
        if (spare)
            map_free(spare);
        pthread_mutex_destroy(&p->lock);
        free(p);
    }
}

/* Takes the spare out of b's pool, setting whether later ones are kept. */
static struct segmap *pool_take(struct segbuf *b, bool accepting)
{
    if (!b->pool)
        return NULL;
    pthread_mutex_lock(&b->pool->lock);
    struct segmap *m = b->pool->spare;
    b->pool->spare = NULL;
    b->pool->accepting = accepting;
    pthread_mutex_unlock(&b->pool->lock);
    return m;
}

/* The bytes of room a segment gets pages for before its first byte: 7/8
 * of the last segment's size. They are resident from the start, so a
 * segment much smaller than the one before would otherwise hold more at its
 * end than pages that come as the bytes do; past it, they do. */
static size_t prefill(const struct segbuf *b, size_t cap)
{
    size_t n = page_round(b->hint / 8 * 7);
    return n < cap ? n : cap;
}

/* Makes m's mapping b's room of cap bytes, its pages kept up to prefill. */
static bool reuse(struct segbuf *b, struct segmap *m, size_t cap)
{
    size_t keep = prefill(b, cap);
    if (keep > m->maplen)
        keep = m->maplen;
    if (ftruncate(m->fd, (off_t)keep) < 0 || ftruncate(m->fd, (off_t)cap) < 0)
        return false;
    void *data = cap == m->maplen ? m->data : mremap(m->data, m->maplen, cap, MREMAP_MAYMOVE);
    if (data == MAP_FAILED)
        return false;
    b->data = data;
    b->cap = cap;
    b->fd = m->fd;
    b->populated = keep;
    free(m);
    return true;
}

/* Makes the pages under [0, end) of a memfd buffer resident. false only
 * when memory ran out: the copy would have died of SIGBUS there. */
static bool populate(struct segbuf *b, size_t end)
{
    if (b->fd < 0 || end <= b->populated
        || !atomic_load_explicit(&populate_works, memory_order_relaxed))
        return true;
    size_t to = page_round(end);
    if (to > b->cap)
        to = b->cap;
    if (madvise(b->data + b->populated, to - b->populated, MADV_POPULATE_WRITE) == 0) {
        b->populated = to;
        return true;
    }
    if (errno == ENOMEM || errno == EFAULT)
        return false;
    /* EINVAL (an older kernel) or anything else: let the copy fault */
    if (atomic_exchange(&populate_works, false) == true)
        log_msg(LV_INFO, NULL, "\"segment pages faulted in one by one\" err=\"%s\"",
                strerror(errno));
    return true;
}

/* A new memfd mapped as b's room of cap bytes; false with errno set. */
static bool map_fresh(struct segbuf *b, size_t cap)
{
    int fd = memfd_create("podium-segment", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return false;
    void *m = ftruncate(fd, (off_t)cap) == 0
        ? mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
    if (m == MAP_FAILED) {
        int err = errno;
        close(fd);
        errno = err;
        return false;
    }
    b->data = m;
    b->cap = cap;
    b->fd = fd;
    return true;
}

/* The first room of a buffer: a memfd, or the heap when none can be made. */
static bool reserve(struct segbuf *b, size_t cap)
{
    static atomic_bool warned;
    struct segmap *spare = pool_take(b, true);
    if (spare && !reuse(b, spare, cap)) {
        map_free(spare);
        spare = NULL;
    }
    if (spare || map_fresh(b, cap)) {
        /* Pages up to the prefill that were not kept come in one call: a
         * page at a time cost a watched session (its segments are never
         * reused) 43% more CPU than an unwatched one. A failure is the
         * append's to report. */
        populate(b, prefill(b, cap));
        return true;
    }
    if (!atomic_exchange(&warned, true))
        log_msg(LV_WARN, NULL, "\"segments kept on the heap: no memfd\" err=\"%s\"",
                strerror(errno));
    b->data = av_malloc(cap);
    b->cap = b->data ? cap : 0;
    return b->data != NULL;
}

static bool grow(struct segbuf *b, size_t need)
{
    size_t cap = b->cap ? b->cap : b->hint * 2 > SEGBUF_MIN ? b->hint * 2 : SEGBUF_MIN;
    while (cap < need)
        cap *= 2;
    if (cap > b->max)
        cap = b->max;
    cap = page_round(cap);
    if (!b->data)
        return reserve(b, cap);
    if (b->fd >= 0) {
        if (ftruncate(b->fd, (off_t)cap) < 0)
            return false;
        void *m = mremap(b->data, b->cap, cap, MREMAP_MAYMOVE);
        if (m == MAP_FAILED)
            return false;                /* the memfd is just longer than mapped */
        b->data = m;
    } else {
        uint8_t *n = av_realloc(b->data, cap);
        if (!n)
            return false;
        b->data = n;
    }
    b->cap = cap;
    return true;
}

bool segbuf_append(struct segbuf *b, const void *p, size_t n)
{
    if (n > b->max - b->len || (b->len + n > b->cap && !grow(b, b->len + n))
        || !populate(b, b->len + n)) {
        b->overflow = true;
        return false;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return true;
}

void segbuf_reset(struct segbuf *b)
{
    b->len = 0;
    b->overflow = false;
}

static void unmap_cb(void *opaque, uint8_t *data)
{
    struct segmap *m = opaque;
    struct segpool *p = m->pool;
    (void)data;                     /* m->data */
    if (p && !atomic_load(&m->lent)) {
        pool_put(p, m);
        return;
    }
    map_free(m);
    if (p)
        pool_put(p, NULL);
}

/* b's pool, made on its first publish; NULL when out of memory (segments
 * are then freed, not reused). */
static struct segpool *pool_of(struct segbuf *b)
{
    if (!b->pool && (b->pool = calloc(1, sizeof(*b->pool)))) {
        pthread_mutex_init(&b->pool->lock, NULL);
        b->pool->refs = 1;
        b->pool->accepting = true;
    }
    return b->pool;
}

AVBufferRef *segbuf_publish(struct segbuf *b)
{
    if (!b->len)
        return NULL;
    AVBufferRef *ref = NULL;
    if (b->fd >= 0) {
        struct segmap *m = malloc(sizeof(*m));
        if (m) {
            /* Give the unwritten reserve back and fix the size that
             * sendfile and the recorder see. */
            size_t keep = page_round(b->len);
            void *shrunk = keep < b->cap ? mremap(b->data, b->cap, keep, 0) : MAP_FAILED;
            if (shrunk != MAP_FAILED)
                b->cap = keep;
            if (ftruncate(b->fd, (off_t)b->len) < 0)
                log_msg(LV_WARN, NULL, "\"segment memfd not cut to size\" err=\"%s\"",
                        strerror(errno));
            *m = (struct segmap){ .tag = &segmap_tag, .fd = b->fd, .data = b->data,
                                  .maplen = b->cap, .pool = pool_of(b) };
            ref = av_buffer_create(b->data, b->len, unmap_cb, m, AV_BUFFER_FLAG_READONLY);
            if (!ref)
                free(m);
            else if (m->pool)
                pool_ref(m->pool);
        }
    } else {
        /* realloc shrinks in place, or by mremap for large blocks */
        uint8_t *fit = b->cap > b->len + b->len / 16 ? av_realloc(b->data, b->len) : NULL;
        if (fit)
            b->data = fit;
        ref = av_buffer_create(b->data, b->len, av_buffer_default_free, NULL,
                               AV_BUFFER_FLAG_READONLY);
    }
    if (!ref) {
        segbuf_reset(b);
        return NULL;
    }
    /* reserved at the next append: a publisher that has gone holds none */
    size_t hint = b->len;
    struct segpool *pool = b->pool;
    segbuf_init(b, b->max);
    b->hint = hint;
    b->pool = pool;
    return ref;
}

int segbuf_fd(const AVBufferRef *buf)
{
    struct segmap *m = buf ? av_buffer_get_opaque(buf) : NULL;
    if (!m || m->tag != &segmap_tag)
        return -1;
    /* whoever reads it from now on may outlive every reference */
    if (!atomic_exchange(&m->lent, true))
        fcntl(m->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
    return m->fd;
}

void segbuf_idle(struct segbuf *b)
{
    struct segmap *m = pool_take(b, false);
    if (m)
        map_free(m);
}

void segbuf_free(struct segbuf *b)
{
    if (b->fd >= 0) {
        munmap(b->data, b->cap);
        close(b->fd);
    } else {
        av_free(b->data);
    }
    segbuf_idle(b);
    if (b->pool)
        pool_put(b->pool, NULL);
    segbuf_init(b, b->max);
}
