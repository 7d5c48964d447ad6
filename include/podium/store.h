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

/* seg_output_fn: opaque is the window; takes its own reference of data. */
void store_on_segment(void *opaque, const struct media_segment *seg);

/* Marks the live playlist ended (EXT-X-ENDLIST) or open again. */
void store_set_ended(struct live_window *w, bool ended);

/* New reference to the current playlist text, NULL before the first
 * segment. The caller unrefs. */
AVBufferRef *store_playlist(struct live_window *w);

/* New reference to segment seq, NULL when not (or no longer) held. */
AVBufferRef *store_segment(struct live_window *w, uint64_t seq);

struct store_stats {
    uint64_t segments;          /* published so far */
    uint64_t media_sequence;    /* first segment in the playlist */
    uint64_t discontinuities;   /* in total */
    uint64_t held_bytes;        /* bytes of segments held in memory */
    int target;
    bool ended;
    uint64_t viewers;           /* segment requests during the last segment */
};
void store_get_stats(struct live_window *w, struct store_stats *out);

#endif
