/* Playlist text (RFC 8216): pure rendering of a media playlist, and
 * trimming a recorded one to a window of its media time. */
#ifndef PODIUM_PLAYLIST_H
#define PODIUM_PLAYLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An LL-HLS partial segment, listed as "<seq>.<index>.<ext>". */
struct playlist_part {
    int index;
    double duration;
    bool independent;
};

struct playlist_entry {
    uint64_t seq;
    double duration;
    int64_t pdt_ms;                 /* 0: no PROGRAM-DATE-TIME */
    bool discontinuity;
    bool independent;
    bool has_map;                   /* fMP4: needs init-<map_id>.mp4 */
    uint64_t map_id;
    const struct playlist_part *parts;  /* listed before the segment (LL-HLS) */
    int n_parts;
};

struct playlist_params {
    int target;                     /* EXT-X-TARGETDURATION */
    uint64_t disc_seq;              /* EXT-X-DISCONTINUITY-SEQUENCE */
    bool ended;                     /* EXT-X-ENDLIST */
    const char *type;               /* NULL, "EVENT" or "VOD" */
    const char *ext;                /* segment file extension, e.g. "ts" */
    int version;                    /* EXT-X-VERSION; 0: 3 */
    /* LL-HLS (part_target > 0) */
    double part_target;             /* EXT-X-PART-INF:PART-TARGET */
    double skip_until;              /* > 0: CAN-SKIP-UNTIL */
    size_t skip;                    /* leading entries replaced by EXT-X-SKIP */
    uint64_t pending_seq;           /* the segment being built ... */
    const struct playlist_part *pending;  /* ... its parts so far */
    int n_pending;
    bool pending_has_map;
    uint64_t pending_map_id;
    bool preload_hint;              /* EXT-X-PRELOAD-HINT for the next part */
};

/* Renders n entries (oldest first; MEDIA-SEQUENCE is e[0].seq) into buf.
 * Returns the length written (without NUL), or -1 if cap is too small. */
int playlist_render(char *buf, size_t cap, const struct playlist_params *p,
                    const struct playlist_entry *e, size_t n);

/* Renders the lines of one media segment (DISCONTINUITY, MAP when
 * with_map, PROGRAM-DATE-TIME, EXTINF, URI) for playlists that only ever
 * grow, such as recordings. Returns the length, or -1 if cap is too small. */
int playlist_render_entry(char *buf, size_t cap, const struct playlist_entry *e,
                          const char *ext, bool with_map);

/* Trims a recording's media playlist (text: len bytes, NUL not needed) to
 * the segments overlapping [start, end) seconds of media time, counted from
 * 0 at its first segment by adding EXTINF durations, as the MP4 export
 * counts; start <= 0: from the beginning, end <= 0: to the end. Returns a
 * new NUL-terminated text (its length in *out_len unless NULL) that the
 * caller frees; or NULL and *why, a static message, when the window
 * overlaps no segment, the text is not a media playlist this can trim, or
 * memory runs out. text is only read. */
char *playlist_trim(const char *text, size_t len, double start, double end,
                    size_t *out_len, const char **why);

/* A recording's open (EVENT) playlist as served with Playlist Delta Updates
 * (RFC 8216bis 6.2.5.1), so a player re-reading a long talk's playlist gets
 * its last minute, not all of it: the text with
 * EXT-X-SERVER-CONTROL:CAN-SKIP-UNTIL (six target durations) added, and
 * with skip (the player's _HLS_skip=YES) the segments before the one
 * holding that boundary from the end replaced by EXT-X-SKIP (EXT-X-VERSION
 * 9, the EXT-X-MAP in effect carried to the first segment kept; sequence
 * numbers unchanged). Returns a new NUL-terminated text (its length in
 * *out_len unless NULL) the caller frees, or NULL and *why, a static
 * message, for a text playlist_trim would refuse. text is only read. */
char *playlist_delta(const char *text, size_t len, bool skip, size_t *out_len, const char **why);

#endif
