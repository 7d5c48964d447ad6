/* Playlist text (RFC 8216): pure rendering of a media playlist. */
#ifndef PODIUM_PLAYLIST_H
#define PODIUM_PLAYLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct playlist_entry {
    uint64_t seq;
    double duration;
    int64_t pdt_ms;                 /* 0: no PROGRAM-DATE-TIME */
    bool discontinuity;
    bool independent;
};

struct playlist_params {
    int target;                     /* EXT-X-TARGETDURATION */
    uint64_t disc_seq;              /* EXT-X-DISCONTINUITY-SEQUENCE */
    bool ended;                     /* EXT-X-ENDLIST */
    const char *type;               /* NULL, "EVENT" or "VOD" */
    const char *ext;                /* segment file extension, e.g. "ts" */
};

/* Renders n entries (oldest first; MEDIA-SEQUENCE is e[0].seq) into buf.
 * Returns the length written (without NUL), or -1 if cap is too small. */
int playlist_render(char *buf, size_t cap, const struct playlist_params *p,
                    const struct playlist_entry *e, size_t n);

#endif
