/* Store: the live window of one session, in memory. Segments are held by
 * reference; readers get their own reference and never see a partial
 * segment or playlist (both are immutable once published). */
#ifndef PODIUM_STORE_H
#define PODIUM_STORE_H

#include <libavutil/buffer.h>
#include <stdbool.h>
#include <stdint.h>

#include "podium/segmenter.h"

#define STORE_KEEP_EXTRA 2   /* segments kept after leaving the playlist, for players a little behind */

struct live_window;

/* window: segments listed in the playlist. NULL on allocation failure. */
struct live_window *store_window_create(const char *session_id, int window);
/* Drops every reference the window holds; sets *w to NULL. */
void store_window_free(struct live_window **w);
/* The session is deleted: drops every segment, part, init section and
 * playlist now (readers holding references keep theirs), wakes every
 * waiter, and drops whatever its publisher still stores. The object itself
 * stays for threads that still point at it. */
void store_window_retire(struct live_window *w);

/* fMP4 segments (".m4s", EXT-X-MAP) and, with part_duration > 0, LL-HLS
 * parts, preload hints and blocking reloads. Call before the first segment. */
void store_window_set_format(struct live_window *w, bool fmp4, double part_duration);

/* The session's recording holds its segments, so the window lets go of a
 * segment as soon as it has left the playlist and recorded(opaque, seq) says
 * the recording has it: players a little behind get it from there (see
 * store_recently_removed). One the recording lacks (a write failed) is kept
 * for STORE_KEEP_EXTRA segments, like every one without a recording.
 * recorded is called under the window's lock. Call before the first
 * segment. */
void store_window_set_recorded(struct live_window *w,
                               bool (*recorded)(void *opaque, uint64_t seq), void *opaque);

/* True when seq left the playlist at most window + 2 segments ago: RFC 8216
 * 6.2.2 keeps a removed segment available for its own duration plus the
 * playlist's, during which window + 1 more are published. False for listed,
 * future and older segments. */
bool store_recently_removed(struct live_window *w, uint64_t seq);

/* seg_output_fn: opaque is the window; takes its own reference of data. */
void store_on_segment(void *opaque, const struct media_segment *seg);

/* seg_part_fn: opaque is the window; takes its own reference of data. */
void store_on_part(void *opaque, const struct media_part *part);

/* New reference to part `index` of segment seq, or to init section id
 * (the latest when latest is true); NULL when not held. count: the request
 * is being answered (it counts for the viewer estimate), not looked at. */
AVBufferRef *store_part(struct live_window *w, uint64_t seq, int index, bool count);
AVBufferRef *store_init(struct live_window *w, uint64_t id, bool latest);

/* New reference to the delta playlist (EXT-X-SKIP), or the full one when a
 * delta would skip nothing. NULL before the first segment. */
AVBufferRef *store_playlist_skip(struct live_window *w);

/* Blocking playlist reload (and preload-hinted part requests). */
enum store_wait { STORE_READY, STORE_WAITING, STORE_TOO_FAR };
/* READY when segment msn is complete or (part >= 0) its part exists;
 * TOO_FAR when msn is more than two segments ahead; otherwise registers
 * the waiter: wake(arg) is called once, from any thread and under the
 * window lock, when it becomes ready or at deadline_ms (store_tick). */
enum store_wait store_wait(struct live_window *w, uint64_t msn, int part, int64_t deadline_ms,
                           void (*wake)(void *arg), void *arg);
/* Forgets the waiter with this arg, if still registered. */
void store_cancel_wait(struct live_window *w, void *arg);
/* Wakes waiters whose deadline passed (all of them when now_ms < 0). */
void store_tick(struct live_window *w, int64_t now_ms);
/* Seconds the window's playlist may be held: three target durations. */
int store_hold_limit_ms(struct live_window *w);

/* Marks the live playlist ended (EXT-X-ENDLIST) or open again. */
void store_set_ended(struct live_window *w, bool ended);

/* New reference to the current playlist text, NULL before the first
 * segment. The caller unrefs. */
AVBufferRef *store_playlist(struct live_window *w);

/* New reference to segment seq, NULL when not (or no longer) held in
 * memory. count: a player's GET of it (the viewer estimate), not a HEAD or
 * a request for part of it. */
AVBufferRef *store_segment(struct live_window *w, uint64_t seq, bool count);

struct store_stats {
    uint64_t segments;          /* published so far */
    uint64_t media_sequence;    /* first segment in the playlist */
    uint64_t discontinuities;   /* in total */
    uint64_t held_bytes;        /* bytes of segments held in memory */
    int target;
    bool ended;
    uint64_t viewers;           /* the most GETs of one segment held (players) */
    uint64_t viewers_peak;      /* the most viewers has been (or store_set_peak) */
};
void store_get_stats(struct live_window *w, struct store_stats *out);
/* Sets the peak: the one an earlier run kept, or 0 for a new recording. */
void store_set_peak(struct live_window *w, uint64_t peak);

#endif
