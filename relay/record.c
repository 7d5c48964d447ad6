/* Recorder.
 *
 * Segments reach the recorder as references to the very bytes live viewers
 * get; the one writer thread puts each on disk once (tmp file, fsync,
 * rename, fsync of the folder), then appends its entry to the playlist and
 * fsyncs that (a changed header rewrites the playlist through a tmp file).
 * So after a kill -9 the folder holds a playlist listing only complete
 * segments; at worst the segment being written is missing, and a torn last
 * entry (power loss) is dropped on recovery.
 *
 * A write that fails (disk full, I/O error) or a queue that is full opens a
 * gap: the segments are not recorded, the error is logged once, counted and
 * listed in the stats, and the next segment that does get written carries a
 * discontinuity. Nothing already written is touched.
 *
 * A segment goes to disk with O_DIRECT (all but its last partial block):
 * the bytes are already in memory, in the memfd the viewers are sent from,
 * and copying them into the page cache was the costliest single step of
 * ingest (18% of the pipeline's CPU). The device reads them from that
 * memfd instead. */
#define _GNU_SOURCE             /* O_DIRECT */
#include "podium/record.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "podium/config.h"
#include "podium/log.h"
#include "podium/playlist.h"

#define PLAYLIST_HEAD_MAX 512
#define PEND_KEEP 4096                  /* pend capacity kept between segments */
#define ENTRY_MAX 512                   /* DISCONTINUITY, MAP, PDT, EXTINF, URI */

/* What the recorder keeps of each listed segment: enough to render its
 * entry again and for exports, 40 bytes where a playlist_entry takes 64. */
struct rec_entry {
    uint64_t seq;
    double duration;
    int64_t pdt_ms;
    uint64_t map_id;
    bool discontinuity, has_map;
};

enum job_kind { JOB_SEGMENT, JOB_GAP, JOB_FINALIZE, JOB_DELETE, JOB_FILE };

struct job {
    struct job *next;
    enum job_kind kind;
    struct recorder *rec;
    struct media_segment seg;       /* JOB_SEGMENT: seg.data is our reference */
    char *path, *data;              /* JOB_FILE */
    size_t len;
    bool append;
    int mode;
};

struct rec_writer {
    pthread_t thread;
    pthread_mutex_t lock;           /* queue */
    pthread_cond_t cond;
    struct job *head, *tail;
    size_t queued_bytes;
    bool stopping;
    char *fault_file;
    char *stall_file;
};

struct recorder {
    struct rec_writer *w;
    char id[CONFIG_ID_MAX];
    char dir[PATH_MAX - 128];       /* room for "/<seq>.ts.tmp" in PATH_MAX */

    pthread_mutex_t lock;           /* everything below */
    struct rec_entry *e;
    size_t n, cap;
    double duration;                /* of the n entries: the API asks often */
    bool open;
    bool recovered;
    bool in_gap;
    unsigned segments_queued;       /* JOB_SEGMENTs the writer has not done yet */
    uint64_t next_seq;
    uint64_t bytes, bytes_written, write_errors, gaps_total;
    bool discarded;
    bool fmp4;                      /* segments are .m4s with init sections */
    /* Entries rendered but not yet appended to index.m3u8: the text of
     * the ones on disk is not kept (0.35 MB for a 160-minute workshop);
     * a rewrite renders every entry again from e. */
    char *pend;
    size_t pend_len, pend_cap, pend_n;
    /* index.m3u8 as on disk while open: its fd, header and how many body
     * bytes follow the header. The writer thread changes pl_fd and shown_*
     * under lock (the HTTP thread reads them), the rest is its own. */
    int pl_fd;
    char pl_head[PLAYLIST_HEAD_MAX];
    size_t pl_head_len, pl_body_len;
    size_t shown_len, shown_entries;    /* complete, synced entries in the file */
    int max_target;
    bool all_independent;
    bool have_init;
    uint64_t init_written;          /* id of the last init-<id>.mp4 on disk */
    struct rec_gap gaps[REC_GAPS_KEPT];
    size_t n_gaps;
    time_t last_write;
};

/* ------------------------------------------------------------ files */

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return r;
}

static int write_all(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Block size for O_DIRECT: offsets, lengths and memory aligned to a page
 * suit any device with sectors up to 4 KiB. */
#define DIRECT_ALIGN 4096

/* Cleared for good when the data folder's file system refuses O_DIRECT. */
static atomic_bool direct_works = true;

static void direct_refused(int err)
{
    if (atomic_exchange(&direct_works, false))
        log_msg(LV_INFO, NULL, "\"recordings written through the page cache: no O_DIRECT\" err=\"%s\"",
                strerror(err));
}

/* write_all into an empty file: the block-aligned head of a page-aligned
 * buffer with O_DIRECT and the rest through the page cache. Any refusal
 * of O_DIRECT leaves the bytes to the page cache; an error of the disk
 * (full, I/O) the buffered write then meets and returns. */
static int write_all_direct(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    size_t head = len / DIRECT_ALIGN * DIRECT_ALIGN, done = 0;
    int fl;
    if (head == 0 || (uintptr_t)p % DIRECT_ALIGN != 0
        || !atomic_load_explicit(&direct_works, memory_order_relaxed)
        || (fl = fcntl(fd, F_GETFL)) < 0)
        return write_all(fd, p, len);
    if (fcntl(fd, F_SETFL, fl | O_DIRECT) < 0) {
        direct_refused(errno);
        return write_all(fd, p, len);
    }
    while (done < head) {
        ssize_t w = write(fd, p + done, head - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EINVAL && done == 0)
            direct_refused(errno);
        if (w <= 0)
            break;
        done += (size_t)w;
        if (done % DIRECT_ALIGN != 0)
            break;                          /* an odd short write: the rest buffered */
    }
    if (fcntl(fd, F_SETFL, fl) < 0)
        return -errno;
    return write_all(fd, p + done, len - done);
}

#define MODE_UMASK (-1)                 /* 0644 less the umask */

/* Writes and fsyncs a new file, mode exactly mode unless MODE_UMASK; returns
 * its fd, open for appending, or -errno (nothing left open). direct: the
 * first buffer's bytes, written while the file is still empty, bypass the
 * page cache where they can (write_all_direct). */
static int write_iov_fd(const char *path, struct iovec *iov, int n, int mode, bool direct)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
                  mode == MODE_UMASK ? 0644 : mode);
    if (fd < 0)
        return -errno;
    int ret = mode != MODE_UMASK && fchmod(fd, (mode_t)mode) < 0 ? -errno : 0;
    for (int i = 0; i < n && ret == 0; i++)
        ret = direct && i == 0 ? write_all_direct(fd, iov[i].iov_base, iov[i].iov_len)
                               : write_all(fd, iov[i].iov_base, iov[i].iov_len);
    if (ret == 0 && fsync(fd) < 0)
        ret = -errno;
    if (ret < 0) {
        close(fd);
        return ret;
    }
    return fd;
}

/* Writes and fsyncs path.tmp, its name into tmp (PATH_MAX); returns its fd,
 * or -errno with nothing left behind. */
static int write_tmp(const char *path, char *tmp, struct iovec *iov, int n, int mode,
                     bool direct)
{
    if (snprintf(tmp, PATH_MAX, "%s.tmp", path) >= PATH_MAX)
        return -ENAMETOOLONG;
    int fd = write_iov_fd(tmp, iov, n, mode, direct);
    if (fd < 0)
        unlink(tmp);
    return fd;
}

/* Replaces path atomically. */
static int write_tmp_rename_iov(const char *path, struct iovec *iov, int n, int mode,
                                bool direct)
{
    char tmp[PATH_MAX];
    int fd = write_tmp(path, tmp, iov, n, mode, direct);
    if (fd < 0)
        return fd;
    int r = close(fd) < 0 ? -errno : 0;
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0)
        unlink(tmp);
    return r;
}

static int write_tmp_rename(const char *path, const void *data, size_t len, int mode,
                            bool direct)
{
    struct iovec iov = { (void *)data, len };
    return write_tmp_rename_iov(path, &iov, 1, mode, direct);
}

/* fsync of the folder path is in, so a rename in it is durable. */
static int fsync_parent(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    return fsync_dir(slash ? dir : ".");
}

int rec_write_atomic(const char *path, const void *data, size_t len)
{
    int r = write_tmp_rename(path, data, len, MODE_UMASK, false);
    return r < 0 ? r : fsync_parent(path);
}

/* Called for every segment (the folder may have been removed under a
 * running recording): one mkdir when the folder is there, 6 before. */
static int mkdirs(const char *path)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST)
        return 0;
    if (errno != ENOENT)
        return -errno;
    char buf[PATH_MAX];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, 0755) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

/* ------------------------------------------------------- playlists */

/* Renders entry i of r into buf; returns its length, or -1 when cap is
 * too small. */
static int render_entry(const struct recorder *r, size_t i, char *buf, size_t cap)
{
    const struct rec_entry *e = &r->e[i];
    bool map_changed = e->has_map && (i == 0 || !r->e[i - 1].has_map
                                      || r->e[i - 1].map_id != e->map_id
                                      || e->discontinuity);
    struct playlist_entry pe = { .seq = e->seq, .duration = e->duration, .pdt_ms = e->pdt_ms,
                                 .discontinuity = e->discontinuity, .has_map = e->has_map,
                                 .map_id = e->map_id };
    return playlist_render_entry(buf, cap, &pe, e->has_map ? "m4s" : "ts", map_changed);
}

/* Room for one more entry at *buf + len, doubling *cap (first: the size
 * when *buf is NULL); 0, or -ENOMEM with *buf unchanged. */
static int entry_room(char **buf, size_t *cap, size_t len, size_t first)
{
    if (*buf && *cap - len >= ENTRY_MAX)
        return 0;
    size_t c = *buf ? *cap * 2 : first;
    char *nb = realloc(*buf, c);
    if (!nb)
        return -ENOMEM;
    *buf = nb;
    *cap = c;
    return 0;
}

/* Caller holds r->lock. Accounts for entry i in the header: target
 * duration, independent segments. */
static void note_entry(struct recorder *r, size_t i, bool independent)
{
    int t = (int)(r->e[i].duration + 0.999);
    if (t > r->max_target)
        r->max_target = t;
    r->all_independent = (i == 0 || r->all_independent) && independent;
}

/* Caller holds r->lock. note_entry, and entry i rendered at the end of
 * pend for the next append to the file. */
static int append_entry(struct recorder *r, size_t i, bool independent)
{
    note_entry(r, i, independent);
    if (entry_room(&r->pend, &r->pend_cap, r->pend_len, PEND_KEEP) < 0)
        return -ENOMEM;
    int n = render_entry(r, i, r->pend + r->pend_len, r->pend_cap - r->pend_len);
    if (n < 0)
        return -EOVERFLOW;
    r->pend_len += (size_t)n;
    r->pend_n++;
    return 0;
}

/* The text of all entries, for a rewrite; NULL when out of memory. The
 * caller frees it. */
static char *render_body(const struct recorder *r, size_t *len)
{
    char *buf = NULL;
    size_t cap = 0, n = 0, first = r->n * 96 + ENTRY_MAX;
    if (entry_room(&buf, &cap, 0, first) < 0)
        return NULL;
    for (size_t i = 0; i < r->n; i++) {
        int k = entry_room(&buf, &cap, n, first) < 0 ? -1 : render_entry(r, i, buf + n, cap - n);
        if (k < 0) {
            free(buf);
            return NULL;
        }
        n += (size_t)k;
    }
    *len = n;
    return buf;
}

/* The playlist's header into head (PLAYLIST_HEAD_MAX); returns its length. */
static int render_head(const struct recorder *r, char *head)
{
    return snprintf(head, PLAYLIST_HEAD_MAX,
                    "#EXTM3U\n#EXT-X-VERSION:%d\n#EXT-X-TARGETDURATION:%d\n"
                    "#EXT-X-MEDIA-SEQUENCE:%llu\n#EXT-X-DISCONTINUITY-SEQUENCE:0\n"
                    "#EXT-X-PLAYLIST-TYPE:%s\n%s",
                    r->fmp4 ? 7 : 3, r->max_target > 0 ? r->max_target : 1,
                    (unsigned long long)(r->n ? r->e[0].seq : 0), r->open ? "EVENT" : "VOD",
                    r->all_independent && r->n ? "#EXT-X-INDEPENDENT-SEGMENTS\n" : "");
}

/* pend is in the file: empty it, and give back what a long failing stretch
 * (or a recovery) grew it to. */
static void pend_done(struct recorder *r)
{
    r->pend_len = r->pend_n = 0;
    if (r->pend_cap > PEND_KEEP) {
        free(r->pend);
        r->pend = NULL;
        r->pend_cap = 0;
    }
}

static void lock_unless(struct recorder *r, bool locked)
{
    if (!locked)
        pthread_mutex_lock(&r->lock);
}

static void unlock_unless(struct recorder *r, bool locked)
{
    if (!locked)
        pthread_mutex_unlock(&r->lock);
}

/* Called by the writer thread, which alone changes the recorder's entries,
 * pend and state; the pl_* fields are this function's own, but pl_fd and
 * shown_* change under r->lock (locked: the caller holds it). Finalizing
 * holds it throughout, so "finalized" is never seen before ENDLIST is on
 * disk. A new segment only adds its entry at the end, so while the header
 * stays the same the entry is appended to the file: a rewrite through a new
 * file would cost O(segments) bytes per segment and, on ext4, an inode
 * freed every segment, which every later file creation in the folder then
 * scans past (10% of the relay's CPU at 50 sessions). A changed header
 * (target duration, EVENT -> VOD, after recovery or delete) rewrites the
 * file from the entries, and so does an entry missing from pend (out of
 * memory). A failed append is cut back off, so the file always ends after
 * a complete entry; its text stays in pend for the next try. */
static int write_playlist(struct recorder *r, const char *dir, bool locked)
{
    char head[PLAYLIST_HEAD_MAX], tail[32] = "";
    int hn = render_head(r, head);
    if (r->open && r->pl_fd >= 0 && (size_t)hn == r->pl_head_len
        && memcmp(head, r->pl_head, (size_t)hn) == 0
        && r->shown_entries + r->pend_n == r->n) {
        /* the segment's rename must be durable before the entry is */
        int err = fsync_dir(dir);
        if (err == 0)
            err = write_all(r->pl_fd, r->pend, r->pend_len);
        if (err == 0 && fdatasync(r->pl_fd) < 0)
            err = -errno;
        if (err == 0) {
            r->pl_body_len += r->pend_len;
            pend_done(r);
            lock_unless(r, locked);
            r->shown_len = r->pl_head_len + r->pl_body_len;
            r->shown_entries = r->n;
            unlock_unless(r, locked);
            return 0;
        }
        if (ftruncate(r->pl_fd, (off_t)(r->pl_head_len + r->pl_body_len)) < 0) {
            lock_unless(r, locked);
            close(r->pl_fd);            /* a full rewrite repairs the file */
            r->pl_fd = -1;
            unlock_unless(r, locked);
        }
        return err;
    }
    if (!r->open)
        snprintf(tail, sizeof(tail), "#EXT-X-ENDLIST\n");
    size_t body_len = 0;
    char *body = render_body(r, &body_len);
    if (!body)
        return -ENOMEM;
    struct iovec iov[3] = { { head, (size_t)hn }, { body, body_len }, { tail, strlen(tail) } };
    char path[PATH_MAX], tmp[PATH_MAX];
    snprintf(path, sizeof(path), "%s/index.m3u8", dir);
    int fd = write_tmp(path, tmp, iov, 3, MODE_UMASK, false);
    free(body);
    bool wrote = fd >= 0;               /* else write_tmp left nothing behind */
    int err = wrote ? 0 : fd;
    if (err == 0 && !r->open) {         /* a finalized playlist takes no appends */
        err = close(fd) < 0 ? -errno : 0;
        fd = -1;
    }
    /* under the lock: the HTTP thread reads shown_len bytes of this file */
    lock_unless(r, locked);
    if (err == 0 && rename(tmp, path) < 0)
        err = -errno;
    if (err == 0) {
        if (r->pl_fd >= 0)
            close(r->pl_fd);
        r->pl_fd = fd;
        r->shown_len = (size_t)hn + body_len;
        r->shown_entries = r->n;
    }
    unlock_unless(r, locked);
    if (err < 0) {
        if (fd >= 0)
            close(fd);
        if (wrote)
            unlink(tmp);
        return err;
    }
    memcpy(r->pl_head, head, (size_t)hn);
    r->pl_head_len = (size_t)hn;
    r->pl_body_len = body_len;
    pend_done(r);
    return fsync_dir(dir);
}

/* Caller holds r->lock (or is recovering). */
static int room_for_entry(struct recorder *r)
{
    if (r->n < r->cap)
        return 0;
    size_t cap = r->cap ? r->cap * 2 : 256;
    struct rec_entry *e = cap <= REC_MAX_ENTRIES ? realloc(r->e, cap * sizeof(*e)) : NULL;
    if (!e)
        return -ENOMEM;
    r->e = e;
    r->cap = cap;
    return 0;
}

static void start_gap(struct recorder *r, const char *reason)
{
    if (!r->in_gap) {
        struct rec_gap *g = &r->gaps[r->n_gaps < REC_GAPS_KEPT ? r->n_gaps++ : REC_GAPS_KEPT - 1];
        g->at_start = r->n == 0;
        g->after_seq = r->n ? r->e[r->n - 1].seq : 0;
        g->lost = 0;
        snprintf(g->reason, sizeof(g->reason), "%s", reason);
        r->in_gap = true;
        r->gaps_total++;
        char after[24] = "none";     /* nothing recorded yet: not "after 0" */
        if (!g->at_start)
            snprintf(after, sizeof(after), "%llu", (unsigned long long)g->after_seq);
        log_msg(LV_ERROR, r->id, "\"recording gap: segment not written, live continues\" reason=\"%s\" after_seq=%s",
                reason, after);
    }
    r->gaps[r->n_gaps - 1].lost++;
}

/* dir: the recording's folder as it was when the job began (rec_discard
 * renames it under the lock). */
static void do_segment(struct rec_writer *w, struct recorder *r, const char *dir,
                       struct media_segment *seg)
{
    char path[PATH_MAX];
    int err = 0;

    bool fmp4 = seg->init != NULL;
    snprintf(path, sizeof(path), "%s/%llu.%s", dir, (unsigned long long)seg->seq,
             fmp4 ? "m4s" : "ts");
    if (w->fault_file && access(w->fault_file, F_OK) == 0) {
        err = -ENOSPC;                     /* test hook: simulated full disk */
    } else if (fmp4 && (!r->have_init || r->init_written != seg->init_id)) {
        char ipath[PATH_MAX];
        snprintf(ipath, sizeof(ipath), "%s/init-%llu.mp4", dir,
                 (unsigned long long)seg->init_id);
        err = write_tmp_rename(ipath, seg->init->data, seg->init->size, MODE_UMASK, false);
        if (err == 0) {
            r->have_init = true;
            r->init_written = seg->init_id;
        }
    }
    if (err == 0)
        err = write_tmp_rename(path, seg->data->data, seg->data->size, MODE_UMASK, true);

    pthread_mutex_lock(&r->lock);
    if (err == 0 && (err = room_for_entry(r)) < 0)
        unlink(path);
    if (err < 0) {
        r->write_errors++;
        start_gap(r, strerror(-err));
        pthread_mutex_unlock(&r->lock);
        return;
    }
    bool disc = seg->discontinuity || r->in_gap || (r->n > 0 && !r->open);
    if (r->in_gap)
        log_msg(LV_INFO, r->id, "\"recording resumed after gap\" seq=%llu lost=%llu",
                (unsigned long long)seg->seq,
                (unsigned long long)r->gaps[r->n_gaps - 1].lost);
    r->in_gap = false;
    r->fmp4 = fmp4;
    r->duration += seg->duration;
    r->e[r->n] = (struct rec_entry){ .seq = seg->seq, .duration = seg->duration,
                                     .pdt_ms = seg->pdt_ms, .discontinuity = disc && r->n > 0,
                                     .has_map = fmp4, .map_id = seg->init_id };
    r->n++;
    r->open = true;
    if (append_entry(r, r->n - 1, seg->independent) < 0)
        log_msg(LV_ERROR, r->id, "\"out of memory listing a recorded segment\"");
    r->bytes += seg->data->size;
    r->bytes_written += seg->data->size;
    r->next_seq = seg->seq + 1;
    r->last_write = time(NULL);
    pthread_mutex_unlock(&r->lock);
    /* Without the lock: its syncs can take a busy disk tens of ms, and the
     * HTTP thread takes this lock for the session's JSON and for segments
     * that left the live window. Only this thread changes what
     * write_playlist reads, and what it changes that others read (pl_fd,
     * shown_*) it changes under the lock. */
    err = write_playlist(r, dir, false);
    if (err < 0) {
        /* The segment is on disk but not listed; the next successful
         * playlist write lists it. Earlier state on disk is intact. */
        pthread_mutex_lock(&r->lock);
        r->write_errors++;
        pthread_mutex_unlock(&r->lock);
        log_msg(LV_ERROR, r->id, "\"recording playlist not updated\" err=\"%s\"", strerror(-err));
    }
}

static void do_delete(struct recorder *r)
{
    pthread_mutex_lock(&r->lock);
    if (r->pl_fd >= 0)
        close(r->pl_fd);
    r->pl_fd = -1;
    DIR *d = opendir(r->dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.')
                continue;
            char path[PATH_MAX];
            if (snprintf(path, sizeof(path), "%s/%s", r->dir, de->d_name) < (int)sizeof(path))
                unlink(path);
        }
        closedir(d);
    }
    rmdir(r->dir);
    r->n = 0;
    r->duration = 0;
    r->pl_head_len = r->pl_body_len = 0;
    r->shown_len = r->shown_entries = 0;
    pend_done(r);
    r->max_target = 0;
    r->open = false;
    r->bytes = 0;
    r->n_gaps = 0;
    r->in_gap = false;
    pthread_mutex_unlock(&r->lock);
    log_msg(LV_INFO, r->id, "\"recording deleted\"");
}

static void do_file(struct job *j)
{
    int err = 0;
    if (j->append) {
        int fd = open(j->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, j->mode);
        off_t end = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1;
        if (fd < 0 || end < 0)
            err = -errno;
        else if ((err = write_all(fd, j->data, j->len)) == 0 && fsync(fd) < 0)
            err = -errno;
        /* a torn last line would make the whole file unreadable */
        if (err < 0 && end >= 0 && ftruncate(fd, end) < 0)
            log_msg(LV_ERROR, NULL, "\"cannot cut a failed append back\" path=%s err=\"%s\"",
                    j->path, strerror(errno));
        if (fd >= 0)
            close(fd);
    } else if ((err = write_tmp_rename(j->path, j->data, j->len, j->mode, false)) == 0) {
        fsync_parent(j->path);
    }
    if (err < 0)
        log_msg(LV_ERROR, NULL, "\"cannot write state file\" path=%s err=\"%s\"", j->path,
                strerror(-err ? -err : EIO));
}

static void *writer_thread(void *arg)
{
    struct rec_writer *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->head && !w->stopping)
            pthread_cond_wait(&w->cond, &w->lock);
        if (w->head && w->stall_file && access(w->stall_file, F_OK) == 0) {
            pthread_mutex_unlock(&w->lock); /* test hook: a hung disk */
            usleep(20 * 1000);
            pthread_mutex_lock(&w->lock);
            continue;
        }
        struct job *j = w->head;
        if (!j)
            break;                          /* stopping and drained */
        w->head = j->next;
        if (!w->head)
            w->tail = NULL;
        if (j->seg.data)
            w->queued_bytes -= j->seg.data->size;
        pthread_mutex_unlock(&w->lock);

        struct recorder *r = j->rec;
        switch (j->kind) {
        case JOB_SEGMENT:
            pthread_mutex_lock(&r->lock);
            bool gone = r->discarded;
            char dir[sizeof(r->dir)];
            memcpy(dir, r->dir, sizeof(dir));
            pthread_mutex_unlock(&r->lock);
            if (!gone && mkdirs(dir) < 0) {
                pthread_mutex_lock(&r->lock);
                r->write_errors++;
                start_gap(r, strerror(errno));
                pthread_mutex_unlock(&r->lock);
            } else if (!gone) {
                do_segment(w, r, dir, &j->seg);
            }
            pthread_mutex_lock(&r->lock);
            r->segments_queued--;
            pthread_mutex_unlock(&r->lock);
            break;
        case JOB_GAP:
            pthread_mutex_lock(&r->lock);
            start_gap(r, "write queue full");
            pthread_mutex_unlock(&r->lock);
            break;
        case JOB_FINALIZE:
            pthread_mutex_lock(&r->lock);
            if (r->open && r->n > 0) {
                r->open = false;
                int err = write_playlist(r, r->dir, true);
                if (err < 0)
                    log_msg(LV_ERROR, r->id, "\"cannot finalize recording playlist\" err=\"%s\"",
                            strerror(-err));
                else
                    log_msg(LV_INFO, r->id, "\"recording finalized\" segments=%zu", r->n);
            }
            r->recovered = false;
            pthread_mutex_unlock(&r->lock);
            break;
        case JOB_DELETE:
            do_delete(r);
            break;
        case JOB_FILE:
            do_file(j);
            free(j->path);
            free(j->data);
            break;
        }
        av_buffer_unref(&j->seg.data);
        free(j);
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static void enqueue(struct rec_writer *w, struct job *j)
{
    pthread_mutex_lock(&w->lock);
    if (w->tail)
        w->tail->next = j;
    else
        w->head = j;
    w->tail = j;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

struct rec_writer *rec_writer_start(const char *fault_file, const char *stall_file)
{
    struct rec_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    if (fault_file && !(w->fault_file = strdup(fault_file)))
        goto out_free;
    if (stall_file && !(w->stall_file = strdup(stall_file)))
        goto out_free;
    if (pthread_create(&w->thread, NULL, writer_thread, w) != 0)
        goto out_free;
    return w;
out_free:
    free(w->fault_file);
    free(w->stall_file);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w);
    return NULL;
}

void rec_writer_stop(struct rec_writer **pw)
{
    struct rec_writer *w = *pw;
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    size_t segments = 0, other = 0, files = 0;
    for (struct job *q = w->head; q; q = q->next) {
        if (q->kind == JOB_SEGMENT)
            segments++;
        else if (q->kind == JOB_FILE)
            files++;
        else
            other++;
    }
    size_t bytes = w->queued_bytes;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    /* The exit waits for these: say so, since a slow disk makes it long.
     * A lone rewrite of sessions.json is on every exit after an API call
     * and is no recording at stake, so it is only a debug line. */
    if (segments + other + files)
        log_msg(segments + other ? LV_INFO : LV_DEBUG, NULL,
                "\"writing what is queued before the exit\" segments=%zu segment_bytes=%zu "
                "recording_jobs=%zu state_files=%zu hint=\"a second SIGTERM or SIGINT exits "
                "without waiting\"", segments, bytes, other, files);
    pthread_join(w->thread, NULL);
    free(w->fault_file);
    free(w->stall_file);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w);
    *pw = NULL;
}

/* --------------------------------------------------------- recovery */

static bool file_ok(const char *dir, uint64_t seq, const char *ext)
{
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%llu.%s", dir, (unsigned long long)seq, ext);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
}

static void remove_tmp_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n > 4 && strcmp(de->d_name + n - 4, ".tmp") == 0) {
            char path[PATH_MAX];
            if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) < (int)sizeof(path))
                unlink(path);
        }
    }
    closedir(d);
}

/* Reads back a playlist this module wrote. Entries whose file is missing
 * (lost in a crash) are dropped, marking a discontinuity. */
static void recover(struct recorder *r)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/index.m3u8", r->dir);
    FILE *f = fopen(path, "r");
    remove_tmp_files(r->dir);
    if (!f)
        return;
    char line[512];
    struct rec_entry cur = { 0 };
    bool ended = false, have_inf = false, dropped = false, have_map = false;
    uint64_t map = 0;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strncmp(line, "#EXTINF:", 8) == 0) {
            cur.duration = strtod(line + 8, NULL);
            if (!(cur.duration >= 0 && cur.duration < 86400))    /* NaN too */
                cur.duration = 0;
            have_inf = true;
        } else if (strcmp(line, "#EXT-X-DISCONTINUITY") == 0) {
            cur.discontinuity = true;
        } else if (strncmp(line, "#EXT-X-PROGRAM-DATE-TIME:", 25) == 0) {
            struct tm tm = { 0 };
            int ms = 0;
            if (sscanf(line + 25, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon,
                       &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) == 7
                && tm.tm_year >= 1970 && tm.tm_year <= 9999 && ms >= 0 && ms < 1000) {
                tm.tm_year -= 1900;
                tm.tm_mon -= 1;
                cur.pdt_ms = (int64_t)timegm(&tm) * 1000 + ms;
            }
        } else if (strncmp(line, "#EXT-X-MAP:URI=\"init-", 21) == 0) {
            map = strtoull(line + 21, NULL, 10);
            have_map = true;
        } else if (strcmp(line, "#EXT-X-ENDLIST") == 0) {
            ended = true;
        } else if (line[0] != '#' && line[0] && have_inf) {
            char *end;
            unsigned long long seq = strtoull(line, &end, 10);
            const char *ext = strcmp(end, ".m4s") == 0 ? "m4s" : "ts";
            /* numbers only go up: an entry that repeats or goes back is
             * not one this module wrote */
            if ((strcmp(end, ".ts") == 0 || strcmp(end, ".m4s") == 0)
                && seq >= r->next_seq && file_ok(r->dir, seq, ext)) {
                if (room_for_entry(r) < 0)
                    break;
                cur.seq = seq;
                cur.has_map = have_map && ext[0] == 'm';
                cur.map_id = map;
                r->fmp4 = ext[0] == 'm';
                cur.discontinuity = (cur.discontinuity || dropped) && r->n > 0;
                r->duration += cur.duration;
                r->e[r->n++] = cur;
                r->next_seq = seq + 1;
                struct stat st;
                char sp[PATH_MAX];
                snprintf(sp, sizeof(sp), "%s/%llu.%s", r->dir, seq, ext);
                if (stat(sp, &st) == 0)
                    r->bytes += (uint64_t)st.st_size;
                dropped = false;
            } else {
                dropped = true;
            }
            memset(&cur, 0, sizeof(cur));
            have_inf = false;
        }
    }
    fclose(f);
    for (size_t i = 0; i < r->n; i++)
        note_entry(r, i, true);
    r->open = !ended && r->n > 0;
    r->recovered = r->open;
    if (r->open)
        log_msg(LV_WARN, r->id, "\"recording was interrupted; kept open for the speaker to return\" segments=%zu",
                r->n);
    if (r->n > 0)
        write_playlist(r, r->dir, false);   /* drop entries lost in a crash */
}

struct recorder *rec_open(struct rec_writer *w, const char *data_dir, const char *id)
{
    struct recorder *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->w = w;
    snprintf(r->id, sizeof(r->id), "%s", id);
    if (snprintf(r->dir, sizeof(r->dir), "%s/recordings/%s", data_dir, id) >= (int)sizeof(r->dir)) {
        log_msg(LV_ERROR, id, "\"recording path too long\"");
        free(r);
        return NULL;
    }
    r->pl_fd = -1;
    pthread_mutex_init(&r->lock, NULL);
    recover(r);
    return r;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int rec_list(const char *data_dir, char ***ids)
{
    char dir[PATH_MAX];
    *ids = NULL;
    snprintf(dir, sizeof(dir), "%s/recordings", data_dir);
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        log_msg(LV_ERROR, NULL, "\"cannot read the recordings folder\" path=%s err=\"%s\"",
                dir, strerror(errno));
        return -1;
    }
    char **out = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        char pl[PATH_MAX];
        struct stat st;
        /* folders rec_discard renamed away have a dot, and so fail this */
        if (!config_valid_id(de->d_name)
            || snprintf(pl, sizeof(pl), "%s/%s/index.m3u8", dir, de->d_name) >= (int)sizeof(pl)
            || stat(pl, &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        if (n == cap) {
            char **grown = realloc(out, (cap ? 2 * cap : 16) * sizeof(*out));
            if (!grown)
                break;
            out = grown;
            cap = cap ? 2 * cap : 16;
        }
        if (!(out[n] = strdup(de->d_name)))
            break;
        n++;
    }
    bool short_of_memory = de != NULL;
    closedir(d);
    if (short_of_memory)
        log_msg(LV_ERROR, NULL, "\"out of memory listing the recordings\" path=%s listed=%zu",
                dir, n);
    if (n)
        qsort(out, n, sizeof(*out), cmp_names);
    *ids = out;
    return (int)n;
}

void rec_free(struct recorder **pr)
{
    struct recorder *r = *pr;
    if (!r)
        return;
    pthread_mutex_destroy(&r->lock);
    if (r->pl_fd >= 0)
        close(r->pl_fd);
    free(r->e);
    free(r->pend);
    free(r);
    *pr = NULL;
}

void rec_on_segment(void *opaque, const struct media_segment *seg)
{
    struct recorder *r = opaque;
    struct rec_writer *w = r->w;
    struct job *j = calloc(1, sizeof(*j));
    if (!j) {
        log_msg(LV_ERROR, r->id, "\"out of memory queueing a recording write\"");
        return;
    }
    j->rec = r;
    pthread_mutex_lock(&w->lock);
    bool full = w->queued_bytes + seg->data->size > REC_QUEUE_BYTES;
    if (!full)
        w->queued_bytes += seg->data->size;
    pthread_mutex_unlock(&w->lock);
    if (full) {
        j->kind = JOB_GAP;                  /* refuse instead of growing */
    } else {
        j->kind = JOB_SEGMENT;
        j->seg = *seg;
        j->seg.data = av_buffer_ref(seg->data);
        if (!j->seg.data) {
            j->kind = JOB_GAP;
            pthread_mutex_lock(&w->lock);
            w->queued_bytes -= seg->data->size;
            pthread_mutex_unlock(&w->lock);
        }
    }
    if (j->kind == JOB_SEGMENT) {
        pthread_mutex_lock(&r->lock);
        r->segments_queued++;
        pthread_mutex_unlock(&r->lock);
    }
    enqueue(w, j);
}

static void simple_job(struct recorder *r, enum job_kind kind)
{
    struct job *j = calloc(1, sizeof(*j));
    if (!j)
        return;
    j->kind = kind;
    j->rec = r;
    enqueue(r->w, j);
}

/* A replacing write makes a queued replacement of the same file, not yet
 * started, pointless: the newer text takes its place in the queue. Only when
 * nothing after it touches the file, so an append queued in between still
 * lands on the text it followed. Without this an organizer's script that
 * creates and deletes sessions queues one fsync'd rewrite of sessions.json
 * per call, which SIGTERM then has to drain. Takes j's data on success. */
static bool supersede_queued(struct rec_writer *w, struct job *j)
{
    struct job *last = NULL;
    pthread_mutex_lock(&w->lock);
    for (struct job *q = w->head; q; q = q->next)
        if (q->kind == JOB_FILE && strcmp(q->path, j->path) == 0)
            last = q;
    bool done = last && !last->append;
    if (done) {
        free(last->data);
        last->data = j->data;
        last->len = j->len;
        last->mode = j->mode;
    }
    pthread_mutex_unlock(&w->lock);
    if (done) {
        free(j->path);
        free(j);
    }
    return done;
}

void rec_writer_file(struct rec_writer *w, const char *path, char *data, size_t len,
                     bool append, int mode)
{
    struct job *j = calloc(1, sizeof(*j));
    char *p = strdup(path);
    if (!j || !p) {
        log_msg(LV_ERROR, NULL, "\"out of memory queueing a state file\" path=%s", path);
        free(j);
        free(p);
        free(data);
        return;
    }
    j->kind = JOB_FILE;
    j->path = p;
    j->data = data;
    j->len = len;
    j->append = append;
    j->mode = mode;
    if (append || !supersede_queued(w, j))
        enqueue(w, j);
}

void rec_finalize(struct recorder *r)
{
    /* Nothing open and nothing queued that would open it: no job, so the
     * exit line does not count one for every recording ever finalized. */
    pthread_mutex_lock(&r->lock);
    bool idle = !r->open && !r->recovered && r->segments_queued == 0;
    pthread_mutex_unlock(&r->lock);
    if (!idle)
        simple_job(r, JOB_FINALIZE);
}

void rec_delete(struct recorder *r)
{
    simple_job(r, JOB_DELETE);
}

void rec_discard(struct recorder *r)
{
    char away[sizeof(r->dir)];
    pthread_mutex_lock(&r->lock);
    r->discarded = true;
    if (snprintf(away, sizeof(away), "%.*s.deleted-%lld", (int)sizeof(r->dir) - 40, r->dir,
                 (long long)time(NULL)) < (int)sizeof(away)
        && rename(r->dir, away) == 0)
        snprintf(r->dir, sizeof(r->dir), "%s", away);
    pthread_mutex_unlock(&r->lock);
    simple_job(r, JOB_DELETE);
}

bool rec_has_segment(struct recorder *r, uint64_t seq)
{
    bool found = false;
    pthread_mutex_lock(&r->lock);
    /* asked about segments leaving the live playlist: a few from the end */
    for (size_t i = r->n; i-- > 0 && r->e[i].seq >= seq && !found;)
        found = r->e[i].seq == seq;
    pthread_mutex_unlock(&r->lock);
    return found;
}

uint64_t rec_next_seq(struct recorder *r)
{
    pthread_mutex_lock(&r->lock);
    uint64_t n = r->next_seq;
    pthread_mutex_unlock(&r->lock);
    return n;
}

void rec_get_stats(struct recorder *r, struct rec_stats *out)
{
    pthread_mutex_lock(&r->lock);
    memset(out, 0, sizeof(*out));
    out->exists = r->n > 0;
    out->open = r->open;
    out->recovered = r->recovered;
    out->segments = r->n;
    out->duration = r->duration;
    out->bytes = r->bytes;
    out->bytes_written = r->bytes_written;
    out->write_errors = r->write_errors;
    out->gaps_total = r->gaps_total;
    out->n_gaps = r->n_gaps;
    memcpy(out->gaps, r->gaps, sizeof(out->gaps));
    out->last_write = r->last_write;
    pthread_mutex_unlock(&r->lock);
}

char *rec_playlist_open(struct recorder *r, size_t *len, size_t *entries)
{
    size_t n = 0, k = 0;
    int fd = -1;
    pthread_mutex_lock(&r->lock);
    if (r->open && r->shown_entries > 0) {
        /* under the lock: a rewrite renames a new file in under it */
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/index.m3u8", r->dir);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        n = r->shown_len;
        k = r->shown_entries;
    }
    pthread_mutex_unlock(&r->lock);
    if (fd < 0)
        return NULL;
    /* only the synced, complete entries: the file can be caught mid-append */
    char *text = malloc(n + 1);
    size_t got = 0;
    int err = text ? 0 : ENOMEM;
    while (text && got < n) {
        ssize_t m = pread(fd, text + got, n - got, (off_t)got);
        if (m < 0 && errno == EINTR)
            continue;
        if (m <= 0) {
            err = m < 0 ? errno : EIO;      /* EIO: shorter than synced */
            break;
        }
        got += (size_t)m;
    }
    close(fd);
    if (err) {
        log_msg(LV_WARN, r->id, "\"cannot read the open recording's playlist\" err=\"%s\"",
                strerror(err));
        free(text);
        return NULL;
    }
    text[n] = '\0';
    *len = n;
    *entries = k;
    return text;
}

int rec_path(struct recorder *r, char *buf, size_t len, const char *fmt, ...)
{
    pthread_mutex_lock(&r->lock);
    int n = snprintf(buf, len, "%s/", r->dir);
    pthread_mutex_unlock(&r->lock);
    if (n < 0 || (size_t)n >= len)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, len - (size_t)n, fmt, ap);
    va_end(ap);
    return m < 0 || (size_t)m >= len - (size_t)n ? -1 : n + m;
}

size_t rec_snapshot(struct recorder *r, uint64_t **seqs, double **durs, bool **discs,
                    int64_t **maps)
{
    pthread_mutex_lock(&r->lock);
    *maps = malloc((r->n ? r->n : 1) * sizeof(**maps));
    size_t n = r->n;
    *seqs = malloc((n ? n : 1) * sizeof(**seqs));
    *durs = malloc((n ? n : 1) * sizeof(**durs));
    *discs = malloc((n ? n : 1) * sizeof(**discs));
    if (!*seqs || !*durs || !*discs || !*maps) {
        free(*seqs);
        free(*durs);
        free(*discs);
        free(*maps);
        *seqs = NULL;
        *durs = NULL;
        *discs = NULL;
        *maps = NULL;
        n = 0;
    }
    for (size_t i = 0; i < n; i++) {
        (*seqs)[i] = r->e[i].seq;
        (*durs)[i] = r->e[i].duration;
        (*discs)[i] = r->e[i].discontinuity;
        (*maps)[i] = r->e[i].has_map ? (int64_t)r->e[i].map_id : -1;
    }
    pthread_mutex_unlock(&r->lock);
    return n;
}
