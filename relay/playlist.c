#include "podium/playlist.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
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
