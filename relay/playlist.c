#include "podium/playlist.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct out {
    char *buf;
    size_t cap, len;
    bool full;
};

__attribute__((format(printf, 2, 3)))
static void put(struct out *o, const char *fmt, ...)
{
    if (o->full)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->cap - o->len)
        o->full = true;
    else
        o->len += (size_t)n;
}

static void put_pdt(struct out *o, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    put(o, "#EXT-X-PROGRAM-DATE-TIME:%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\n",
        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
        tm.tm_sec, (int)(ms % 1000));
}

static void put_parts(struct out *o, uint64_t seq, const struct playlist_part *parts, int n,
                      const char *ext)
{
    for (int i = 0; i < n; i++)
        put(o, "#EXT-X-PART:DURATION=%.5f,URI=\"%" PRIu64 ".%d.%s\"%s\n", parts[i].duration,
            seq, parts[i].index, ext, parts[i].independent ? ",INDEPENDENT=YES" : "");
}

int playlist_render(char *buf, size_t cap, const struct playlist_params *p,
                    const struct playlist_entry *e, size_t n)
{
    struct out o = { .buf = buf, .cap = cap };
    bool independent = n > 0;
    size_t skip = p->skip < n ? p->skip : 0;
    for (size_t i = 0; i < n; i++)
        independent = independent && e[i].independent;

    if (cap == 0)
        return -1;
    buf[0] = '\0';
    put(&o, "#EXTM3U\n#EXT-X-VERSION:%d\n#EXT-X-TARGETDURATION:%d\n",
        p->version ? p->version : 3, p->target);
    if (p->part_target > 0) {
        put(&o, "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=%.3f",
            3 * p->part_target);
        if (p->skip_until > 0)
            put(&o, ",CAN-SKIP-UNTIL=%.1f", p->skip_until);
        put(&o, "\n#EXT-X-PART-INF:PART-TARGET=%.5f\n", p->part_target);
    }
    put(&o, "#EXT-X-MEDIA-SEQUENCE:%" PRIu64 "\n", n ? e[0].seq : p->pending_seq);
    put(&o, "#EXT-X-DISCONTINUITY-SEQUENCE:%" PRIu64 "\n", p->disc_seq);
    if (p->type)
        put(&o, "#EXT-X-PLAYLIST-TYPE:%s\n", p->type);
    /* Only claimed when it is true of every segment listed. */
    if (independent)
        put(&o, "#EXT-X-INDEPENDENT-SEGMENTS\n");
    if (skip)
        put(&o, "#EXT-X-SKIP:SKIPPED-SEGMENTS=%zu\n", skip);
    bool have_map = false;
    uint64_t map = 0;
    for (size_t i = skip; i < n; i++) {
        if (e[i].discontinuity)
            put(&o, "#EXT-X-DISCONTINUITY\n");
        if (e[i].has_map && (!have_map || e[i].map_id != map)) {
            put(&o, "#EXT-X-MAP:URI=\"init-%" PRIu64 ".mp4\"\n", e[i].map_id);
            have_map = true;
            map = e[i].map_id;
        }
        if (e[i].pdt_ms > 0)
            put_pdt(&o, e[i].pdt_ms);
        put_parts(&o, e[i].seq, e[i].parts, e[i].n_parts, p->ext);
        put(&o, "#EXTINF:%.3f,\n%" PRIu64 ".%s\n", e[i].duration, e[i].seq, p->ext);
    }
    if (p->part_target > 0 && !p->ended) {
        if (p->pending_has_map && (!have_map || p->pending_map_id != map))
            put(&o, "#EXT-X-MAP:URI=\"init-%" PRIu64 ".mp4\"\n", p->pending_map_id);
        put_parts(&o, p->pending_seq, p->pending, p->n_pending, p->ext);
        if (p->preload_hint)
            put(&o, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"%" PRIu64 ".%d.%s\"\n",
                p->pending_seq, p->n_pending, p->ext);
    }
    if (p->ended)
        put(&o, "#EXT-X-ENDLIST\n");
    return o.full ? -1 : (int)o.len;
}

int playlist_render_entry(char *buf, size_t cap, const struct playlist_entry *e,
                          const char *ext, bool with_map)
{
    struct out o = { .buf = buf, .cap = cap };
    if (cap == 0)
        return -1;
    buf[0] = '\0';
    if (e->discontinuity)
        put(&o, "#EXT-X-DISCONTINUITY\n");
    if (with_map && e->has_map)
        put(&o, "#EXT-X-MAP:URI=\"init-%" PRIu64 ".mp4\"\n", e->map_id);
    if (e->pdt_ms > 0)
        put_pdt(&o, e->pdt_ms);
    put(&o, "#EXTINF:%.3f,\n%" PRIu64 ".%s\n", e->duration, e->seq, ext);
    return o.full ? -1 : (int)o.len;
}

/* ------------------------------------------------------------ trimming
 *
 * A published recording may be trimmed; its playlist is then cut to the
 * segments overlapping the window, so a player starts at most one segment
 * before it and stops at most one after. Two passes over the text: the
 * first validates it, adds up the durations and finds the first and last
 * segment kept, with what the first inherits from the dropped ones (the
 * EXT-X-MAP in effect, the discontinuities before it); the second copies
 * the lines that stay. Nothing per segment is stored, and the output is at
 * most the input plus a few lines, so its size is known before writing.
 *
 * Media time is what the MP4 export counts (export.c): 0 at the first
 * segment listed, each EXTINF added on, across discontinuities, a lost
 * stretch adding nothing; the export too starts with the last segment
 * starting at or before start. Sums are in whole microseconds from the
 * EXTINF text, so a window edge on a segment edge falls the same way
 * every time. A cut end gets ENDLIST: nothing will ever follow.
 *
 * Numbering stays that of the whole playlist (RFC 8216 6.2.1, 6.2.2): a
 * segment's media sequence number is MEDIA-SEQUENCE plus its index, which
 * is not its file name once the recorder lost segments in a gap, and every
 * DISCONTINUITY dropped ahead of the first segment kept raises
 * DISCONTINUITY-SEQUENCE by one.
 *
 * Tags that would need more than that are refused rather than trimmed
 * wrongly: keys and bitrates (in effect for later segments, like a map),
 * byte ranges (an offset implied by the previous segment), date ranges and
 * EXT-X-START (positions in the whole playlist), LL-HLS parts, variables
 * and master playlist tags. The recorder writes none of them. */

#define US_PER_S 1000000
#define EXTINF_MAX_US (INT64_C(86400) * US_PER_S)  /* as record.c recovers */

enum kind {
    K_SKIP,                 /* blank line or comment */
    K_EXTM3U,
    K_KEEP,                 /* playlist tag copied as it is */
    K_VERSION,              /* copied; a delta update raises it to 9 */
    K_SERVER,               /* SERVER-CONTROL: copied; a delta update writes its own */
    K_TARGET,
    K_MSEQ,
    K_DSEQ,
    K_ENDLIST,
    K_DISC,
    K_MAP,
    K_EXTINF,
    K_SEGTAG,               /* PROGRAM-DATE-TIME, GAP: for their segment only */
    K_UNKNOWN,              /* clients ignore it: header, or its segment's */
    K_REFUSED,
    K_URI,
};

struct line {
    const char *p;
    size_t n;
};

static const struct { const char *name; enum kind kind; } tags[] = {
    /* the lines every segment has first: a recording's playlist is
     * classified line by line on each delta update */
    { "EXTINF", K_EXTINF },
    { "EXT-X-PROGRAM-DATE-TIME", K_SEGTAG },
    { "EXTM3U", K_EXTM3U },
    { "EXT-X-VERSION", K_VERSION },
    { "EXT-X-SERVER-CONTROL", K_SERVER },
    { "EXT-X-PLAYLIST-TYPE", K_KEEP },
    { "EXT-X-INDEPENDENT-SEGMENTS", K_KEEP },
    { "EXT-X-TARGETDURATION", K_TARGET },
    { "EXT-X-MEDIA-SEQUENCE", K_MSEQ },
    { "EXT-X-DISCONTINUITY-SEQUENCE", K_DSEQ },
    { "EXT-X-ENDLIST", K_ENDLIST },
    { "EXT-X-DISCONTINUITY", K_DISC },
    { "EXT-X-MAP", K_MAP },
    { "EXT-X-GAP", K_SEGTAG },
    { "EXT-X-KEY", K_REFUSED },
    { "EXT-X-BITRATE", K_REFUSED },
    { "EXT-X-BYTERANGE", K_REFUSED },
    { "EXT-X-DATERANGE", K_REFUSED },
    { "EXT-X-START", K_REFUSED },
    { "EXT-X-PART", K_REFUSED },
    { "EXT-X-SKIP", K_REFUSED },
    { "EXT-X-PRELOAD-HINT", K_REFUSED },
    { "EXT-X-RENDITION-REPORT", K_REFUSED },
    { "EXT-X-I-FRAMES-ONLY", K_REFUSED },
    { "EXT-X-DEFINE", K_REFUSED },
    { "EXT-X-STREAM-INF", K_REFUSED },
    { "EXT-X-I-FRAME-STREAM-INF", K_REFUSED },
    { "EXT-X-MEDIA", K_REFUSED },
    { "EXT-X-SESSION-DATA", K_REFUSED },
    { "EXT-X-SESSION-KEY", K_REFUSED },
    { "EXT-X-CONTENT-STEERING", K_REFUSED },
};

/* The line at *pos, without its "\n" or "\r\n"; false at the end. Every
 * trailing CR goes, so that a trimmed text, read again, reads the same. */
static bool next_line(const char *text, size_t len, size_t *pos, struct line *l)
{
    if (*pos >= len)
        return false;
    const char *p = text + *pos, *nl = memchr(p, '\n', len - *pos);
    size_t n = nl ? (size_t)(nl - p) : len - *pos;
    *pos += nl ? n + 1 : n;
    while (n > 0 && p[n - 1] == '\r')
        n--;
    *l = (struct line){ p, n };
    return true;
}

static enum kind classify(const struct line *l)
{
    if (l->n == 0)
        return K_SKIP;
    if (l->p[0] != '#')
        return K_URI;
    if (l->n < 4 || memcmp(l->p, "#EXT", 4) != 0)
        return K_SKIP;
    const char *colon = memchr(l->p, ':', l->n);
    size_t name = (colon ? (size_t)(colon - l->p) : l->n) - 1;
    for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
        if (strlen(tags[i].name) == name && memcmp(tags[i].name, l->p + 1, name) == 0)
            return tags[i].kind;
    return K_UNKNOWN;
}

/* The value after "#NAME:" of l, or an empty line when it has none. */
static struct line value(const struct line *l)
{
    const char *colon = memchr(l->p, ':', l->n);
    if (!colon)
        return (struct line){ l->p + l->n, 0 };
    return (struct line){ colon + 1, l->n - (size_t)(colon + 1 - l->p) };
}

/* RFC 8216 decimal-integer: 1-20 digits, at most 2^64-1. */
static bool parse_u64(struct line v, uint64_t *out)
{
    uint64_t x = 0;
    if (v.n == 0 || v.n > 20)
        return false;
    for (size_t i = 0; i < v.n; i++) {
        unsigned d = (unsigned)(v.p[i] - '0');
        if (d > 9 || x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
    }
    *out = x;
    return true;
}

/* "#EXTINF:<duration>,[<title>]" to whole microseconds, exactly: the sums
 * compared with the window must not depend on binary rounding when a
 * window edge falls on a segment edge. */
static bool parse_extinf(struct line v, int64_t *us)
{
    size_t i = 0, digits = 0;
    int64_t whole = 0, frac = 0, scale = US_PER_S;
    for (; i < v.n && v.p[i] >= '0' && v.p[i] <= '9'; i++, digits++) {
        if (whole > EXTINF_MAX_US / US_PER_S)
            return false;
        whole = whole * 10 + (v.p[i] - '0');
    }
    if (i < v.n && v.p[i] == '.') {
        for (i++; i < v.n && v.p[i] >= '0' && v.p[i] <= '9'; i++, digits++) {
            if (scale > 1) {
                scale /= 10;
                frac += (v.p[i] - '0') * scale;
            } else if (scale == 1) {
                frac += v.p[i] >= '5';      /* rounds to the microsecond */
                scale = 0;
            }
        }
    }
    if (digits == 0 || (i < v.n && v.p[i] != ','))
        return false;
    *us = whole * US_PER_S + frac;
    return *us <= EXTINF_MAX_US;
}

/* Seconds to microseconds: NaN is refused by the caller, anything past
 * what a playlist can hold is "past the end". */
static int64_t seconds_to_us(double s)
{
    if (s <= 0)
        return 0;
    if (s >= 9e12)
        return INT64_MAX;
    return llround(s * US_PER_S);
}

/* What the first pass learns. */
struct scan {
    uint64_t mseq, dseq, target, version;
    bool has_mseq, has_dseq, ended;
    int64_t total;                  /* media time, microseconds */
    size_t n;                       /* segments */
    size_t first, last;             /* the segments kept */
    uint64_t disc_dropped;          /* DISCONTINUITY tags before first's */
    struct line map;                /* the map first inherits, if any */
    bool first_has_map;             /* first's own lines have one */
};

static const char *scan(const char *text, size_t len, int64_t start, int64_t end,
                        struct scan *s)
{
    size_t pos = 0;
    struct line l, map = { NULL, 0 }, inherited = { NULL, 0 };
    bool segments = false, has_target = false, has_inf = false, has_map = false;
    bool pending = false;           /* lines waiting for their URI */
    uint64_t disc = 0, block_disc = 0, max_rounded = 0;
    int64_t total = 0, dur = 0;

    if (len > 0 && memchr(text, '\0', len))
        return "playlist: NUL byte in the text";
    if (!next_line(text, len, &pos, &l) || classify(&l) != K_EXTM3U || l.n != 7)
        return "playlist: does not begin with #EXTM3U";
    while (next_line(text, len, &pos, &l)) {
        enum kind k = classify(&l);
        switch (k) {
        case K_SKIP:
        case K_KEEP:
        case K_SERVER:
        case K_UNKNOWN:
            break;
        case K_VERSION:
            if (!parse_u64(value(&l), &s->version))
                return "playlist: bad EXT-X-VERSION";
            break;
        case K_EXTM3U:
            return "playlist: #EXTM3U twice";
        case K_REFUSED:
            return "playlist: a tag trimming does not handle (encryption, byte ranges, "
                   "date ranges, EXT-X-START, LL-HLS parts, variables or a master playlist)";
        case K_TARGET:
            if (has_target || !parse_u64(value(&l), &s->target))
                return "playlist: bad or repeated EXT-X-TARGETDURATION";
            has_target = true;
            break;
        case K_MSEQ:
        case K_DSEQ: {
            bool *has = k == K_MSEQ ? &s->has_mseq : &s->has_dseq;
            if (*has || segments || !parse_u64(value(&l), k == K_MSEQ ? &s->mseq : &s->dseq))
                return "playlist: bad, repeated or late EXT-X-MEDIA-SEQUENCE or "
                       "EXT-X-DISCONTINUITY-SEQUENCE";
            *has = true;
            break;
        }
        case K_ENDLIST:
            s->ended = true;
            break;
        case K_DISC:
            block_disc++;
            segments = pending = true;
            break;
        case K_MAP:
            map = l;
            segments = pending = has_map = true;
            break;
        case K_SEGTAG:
            segments = pending = true;
            break;
        case K_EXTINF:
            if (has_inf)
                return "playlist: two EXTINF for one segment";
            if (!parse_extinf(value(&l), &dur))
                return "playlist: bad EXTINF duration";
            segments = pending = has_inf = true;
            break;
        case K_URI: {
            if (!has_inf)
                return "playlist: segment without EXTINF";
            if (total <= start) {
                s->first = s->n;
                s->disc_dropped = disc;
                s->map = inherited;
                s->first_has_map = has_map;
            }
            if (total < end)
                s->last = s->n;
            uint64_t rounded = (uint64_t)((dur + US_PER_S / 2) / US_PER_S);
            if (rounded > max_rounded)
                max_rounded = rounded;
            if (total > INT64_MAX - dur)
                return "playlist: too long";
            total += dur;
            disc += block_disc;
            block_disc = 0;
            inherited = map;
            segments = true;
            s->n++;
            has_inf = has_map = pending = false;
            break;
        }
        }
    }
    if (pending)
        return "playlist: tags after the last segment";
    if (!has_target)
        return "playlist: no EXT-X-TARGETDURATION";
    if (max_rounded > s->target)
        return "playlist: a segment is longer than EXT-X-TARGETDURATION";
    if (s->n == 0)
        return "playlist: no segment";
    if (start >= total)
        return "trim window starts at or after the end of the recording";
    s->total = total;
    if (s->mseq > UINT64_MAX - s->first || s->dseq > UINT64_MAX - s->disc_dropped)
        return "playlist: sequence numbers overflow";
    return NULL;
}

/* Appends l and a newline; the output was sized for everything written. */
static void put_line(struct out *o, const struct line *l)
{
    put(o, "%.*s\n", (int)l->n, l->p);
}

/* What the second pass writes: segments first..last (with the map and
 * discontinuities they inherit), these sequence numbers, and for a delta
 * update its SERVER-CONTROL and SKIP. */
struct emit {
    size_t first, last;
    uint64_t mseq, dseq;
    double skip_until;              /* > 0: CAN-SKIP-UNTIL */
    bool skip;                      /* segments before first are EXT-X-SKIP */
    bool endlist;
};

/* The second pass over a text scan() accepted: a new NUL-terminated text,
 * or NULL and *why. */
static char *emit(const char *text, size_t len, const struct scan *s, const struct emit *e,
                  size_t *out_len, const char **why)
{
    struct line l;
    size_t pos = 0, i = 0;
    bool header = true;
    /* Lines are copied or shortened; what is added: an inherited map, the
     * sequence numbers (rewritten or added, up to 20 digits), the delta
     * update's tags and ENDLIST. */
    size_t cap = len + s->map.n + 320;
    bool map_done = !s->map.p || s->first_has_map;
    char *buf = malloc(cap);
    if (!buf) {
        *why = "out of memory";
        return NULL;
    }
    struct out o = { .buf = buf, .cap = cap };
    buf[0] = '\0';
    while (next_line(text, len, &pos, &l)) {
        enum kind k = classify(&l);
        switch (k) {
        case K_SKIP:
        case K_ENDLIST:
        case K_REFUSED:             /* none: scan refused them */
            continue;
        case K_SERVER:
            if (e->skip_until <= 0)
                put_line(&o, &l);
            continue;
        case K_VERSION:
            /* EXT-X-SKIP needs version 9 */
            if (e->skip && s->version < 9)
                put(&o, "#EXT-X-VERSION:9\n");
            else
                put_line(&o, &l);
            continue;
        case K_TARGET:
            put_line(&o, &l);
            if (e->skip_until > 0)
                put(&o, "#EXT-X-SERVER-CONTROL:CAN-SKIP-UNTIL=%.1f\n", e->skip_until);
            continue;
        case K_EXTM3U:
        case K_KEEP:
            put_line(&o, &l);
            continue;
        case K_MSEQ:
            put(&o, "#EXT-X-MEDIA-SEQUENCE:%" PRIu64 "\n", e->mseq);
            continue;
        case K_DSEQ:
            put(&o, "#EXT-X-DISCONTINUITY-SEQUENCE:%" PRIu64 "\n", e->dseq);
            continue;
        case K_UNKNOWN:
            if (header) {
                put_line(&o, &l);
                continue;
            }
            break;
        case K_DISC:
        case K_MAP:
        case K_EXTINF:
        case K_SEGTAG:
        case K_URI:
            break;
        }
        if (header) {
            /* RFC 8216 4.3.3.2-3: before the first segment (and any
             * DISCONTINUITY); absent means 0 */
            if (!s->has_mseq && e->mseq > 0)
                put(&o, "#EXT-X-MEDIA-SEQUENCE:%" PRIu64 "\n", e->mseq);
            if (!s->has_dseq && e->dseq > 0)
                put(&o, "#EXT-X-DISCONTINUITY-SEQUENCE:%" PRIu64 "\n", e->dseq);
            if (e->skip && !s->version)
                put(&o, "#EXT-X-VERSION:9\n");
            if (e->skip)
                put(&o, "#EXT-X-SKIP:SKIPPED-SEGMENTS=%zu\n", e->first);
            header = false;
        }
        if (i >= e->first && i <= e->last) {
            /* after the segment's DISCONTINUITY, where the recorder puts
             * a map */
            if (i == e->first && !map_done && k != K_DISC) {
                put_line(&o, &s->map);
                map_done = true;
            }
            put_line(&o, &l);
        }
        if (k == K_URI)
            i++;
    }
    if (e->endlist)
        put(&o, "#EXT-X-ENDLIST\n");
    if (o.full) {
        *why = "internal error: playlist outgrew its buffer";
        free(buf);
        return NULL;
    }
    if (out_len)
        *out_len = o.len;
    return buf;
}

char *playlist_trim(const char *text, size_t len, double start, double end,
                    size_t *out_len, const char **why)
{
    struct scan s = { 0 };
    *why = NULL;
    if (isnan(start) || isnan(end)) {
        *why = "trim window: not a number";
        return NULL;
    }
    int64_t start_us = seconds_to_us(start);
    int64_t end_us = end > 0 ? seconds_to_us(end) : INT64_MAX;
    if (end > 0 && end_us <= start_us) {
        *why = "trim window is empty: end <= start";
        return NULL;
    }
    /* put() formats with int lengths */
    if (len > INT_MAX / 2) {
        *why = "playlist: too large";
        return NULL;
    }
    if ((*why = scan(text, len, start_us, end_us, &s)))
        return NULL;
    struct emit e = { .first = s.first, .last = s.last, .mseq = s.mseq + s.first,
                      .dseq = s.dseq + s.disc_dropped,
                      .endlist = s.ended || s.last + 1 < s.n };   /* a cut end is final */
    return emit(text, len, &s, &e, out_len, why);
}

char *playlist_delta(const char *text, size_t len, bool skip, size_t *out_len, const char **why)
{
    struct scan s = { 0 };
    *why = NULL;
    if (len > INT_MAX / 2) {
        *why = "playlist: too large";
        return NULL;
    }
    if ((*why = scan(text, len, 0, INT64_MAX, &s)))
        return NULL;
    /* no segment is longer than a day (EXTINF_MAX_US), whatever the text's
     * target says: kept in range of the microsecond sums */
    uint64_t target = s.target < EXTINF_MAX_US / US_PER_S ? s.target : EXTINF_MAX_US / US_PER_S;
    int64_t until = (int64_t)target * 6 * US_PER_S;
    struct emit e = { .last = s.n - 1, .mseq = s.mseq, .dseq = s.dseq,
                      .skip_until = 6.0 * (double)target, .endlist = s.ended };
    /* the segment holding the skip boundary is kept, and all after it */
    if (skip && target > 0 && s.total > until) {
        struct scan b = { 0 };
        if ((*why = scan(text, len, s.total - until, INT64_MAX, &b)))
            return NULL;
        e.first = b.first;
        e.skip = b.first > 0;
        s.map = b.map;
        s.first_has_map = b.first_has_map;
    }
    return emit(text, len, &s, &e, out_len, why);
}
