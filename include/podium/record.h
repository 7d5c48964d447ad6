/* Recording: every segment a session publishes is written once to
 * data_dir/recordings/<id>/ by one background writer thread, with an HLS
 * playlist that only ever lists complete segments (EVENT while open, each
 * new entry appended; VOD once finalized).
 * Writes never run on the packet path or an HTTP thread. */
#ifndef PODIUM_RECORD_H
#define PODIUM_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "podium/segmenter.h"

#define REC_QUEUE_BYTES (256u << 20)   /* pending writes, all sessions */
#define REC_MAX_ENTRIES 200000          /* segments per recording */
#define REC_GAPS_KEPT 16

struct rec_writer;
struct recorder;

/* Starts the writer thread. fault_file and stall_file (either may be NULL)
 * are test hooks: while fault_file exists every segment write fails with
 * ENOSPC; while stall_file exists the writer takes no job, as on a hung disk.
 * NULL on failure. */
struct rec_writer *rec_writer_start(const char *fault_file, const char *stall_file);
/* Writes everything queued, stops the thread, frees; sets *w to NULL. */
void rec_writer_stop(struct rec_writer **w);

/* Queues a small state file write on the writer thread, so HTTP threads
 * never block on the disk. Takes ownership of data (malloc'd). With append
 * the data is appended (O_APPEND, fsync); otherwise the file is replaced
 * atomically with the given mode. */
void rec_writer_file(struct rec_writer *w, const char *path, char *data, size_t len,
                     bool append, int mode);

/* Opens (creating or recovering after a crash) the recording of session id
 * under data_dir. A recording found without ENDLIST stays open and is
 * finalized by the caller after close_after. NULL on failure (logged). */
struct recorder *rec_open(struct rec_writer *w, const char *data_dir, const char *id);
/* The ids of the recordings under data_dir/recordings (folders named as a
 * valid session id that hold an index.m3u8), in name order: an array of
 * malloc'd strings, both the caller's to free. Returns the count, 0 when
 * there are none, -1 when the folder cannot be read (logged). */
int rec_list(const char *data_dir, char ***ids);

/* Frees r (the writer must have been stopped or drained first). */
void rec_free(struct recorder **r);

/* seg_output_fn: queues the segment for writing (takes a reference). */
void rec_on_segment(void *opaque, const struct media_segment *seg);

/* Queues finalization: ENDLIST + PLAYLIST-TYPE:VOD. A later segment reopens
 * the recording after a discontinuity. Queues nothing when the recording is
 * not open and no segment is queued for it. */
void rec_finalize(struct recorder *r);

/* Removes the recording's files (asynchronously, on the writer thread) and
 * empties it. */
void rec_delete(struct recorder *r);

/* The session is gone: its folder is renamed away at once (so a new
 * session of the same id starts empty) and deleted on the writer thread;
 * later segments are dropped. */
void rec_discard(struct recorder *r);

/* True when segment seq is in the recording (written and listed). */
bool rec_has_segment(struct recorder *r, uint64_t seq);

/* Sequence number after the last recorded segment (0 when empty). */
uint64_t rec_next_seq(struct recorder *r);

struct rec_gap {
    uint64_t after_seq;             /* last segment written before the gap */
    bool at_start;                  /* none was: after_seq means nothing */
    uint64_t lost;                  /* segments not recorded */
    char reason[48];
};

struct rec_stats {
    bool exists;                    /* at least one segment recorded */
    bool open;                      /* no ENDLIST yet */
    bool recovered;                 /* found open at start-up */
    uint64_t segments;
    double duration;                /* seconds recorded */
    uint64_t bytes;                 /* of the recording as it is now */
    uint64_t bytes_written;         /* by this process, ever (a counter) */
    uint64_t write_errors;
    uint64_t gaps_total;
    size_t n_gaps;
    struct rec_gap gaps[REC_GAPS_KEPT];
    time_t last_write;
};
void rec_get_stats(struct recorder *r, struct rec_stats *out);

/* While the recording is open: index.m3u8 up to its last synced entry, so a
 * reader never sees an entry half-written; entries is how many it lists.
 * NULL when finalized, with nothing on disk yet, or unreadable. The caller
 * frees the text. */
char *rec_playlist_open(struct recorder *r, size_t *len, size_t *entries);

/* buf = "<recording folder>/" followed by fmt's output. The folder is read
 * under the lock: rec_discard renames it while HTTP and export use it.
 * Returns the length, or -1 when it does not fit in len. */
int rec_path(struct recorder *r, char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Snapshot of (seq, duration, discontinuity, init id or -1 for MPEG-TS)
 * for export; the caller frees the four arrays. Returns the count. */
size_t rec_snapshot(struct recorder *r, uint64_t **seqs, double **durs, bool **discs,
                    int64_t **maps);

/* Atomic file write: path.tmp, fsync, rename, fsync of the folder. 0/-errno. */
int rec_write_atomic(const char *path, const void *data, size_t len);

#endif
