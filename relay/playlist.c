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

int playlist_render(char *buf, size_t cap, const struct playlist_params *p,
                    const struct playlist_entry *e, size_t n)
{
    struct out o = { .buf = buf, .cap = cap };
    bool independent = n > 0;
    for (size_t i = 0; i < n; i++)
        independent = independent && e[i].independent;

    if (cap == 0)
        return -1;
    buf[0] = '\0';
    put(&o, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%d\n", p->target);
    put(&o, "#EXT-X-MEDIA-SEQUENCE:%" PRIu64 "\n", n ? e[0].seq : 0);
    put(&o, "#EXT-X-DISCONTINUITY-SEQUENCE:%" PRIu64 "\n", p->disc_seq);
    if (p->type)
        put(&o, "#EXT-X-PLAYLIST-TYPE:%s\n", p->type);
    /* Only claimed when it is true of every segment listed. */
    if (independent)
        put(&o, "#EXT-X-INDEPENDENT-SEGMENTS\n");
    for (size_t i = 0; i < n; i++) {
        if (e[i].discontinuity)
            put(&o, "#EXT-X-DISCONTINUITY\n");
        if (e[i].pdt_ms > 0)
            put_pdt(&o, e[i].pdt_ms);
        put(&o, "#EXTINF:%.3f,\n%" PRIu64 ".%s\n", e[i].duration, e[i].seq, p->ext);
    }
    if (p->ended)
        put(&o, "#EXT-X-ENDLIST\n");
    return o.full ? -1 : (int)o.len;
}
