/* Benchmark feeder: one process publishes one MPEG-TS file to N SRT
 * sessions in real time (scripts/bench scale). N ffmpeg processes would
 * cost the 2-core bench machine more than the relay they load, mostly in
 * libsrt's per-connection threads, so this sender keeps the client side
 * small and measurable:
 *
 * - All callers bind the same local UDP port (SRTO_REUSEADDR), so libsrt
 *   runs one multiplexer (one UDP socket, one send and one receive thread)
 *   for all of them, as a relay's listener does. --separate-ports gives each
 *   caller its own, for comparison.
 * - One thread paces every stream: each wake-up sends what is due, then
 *   sleeps (absolute CLOCK_MONOTONIC) until the next payload is due, at least
 *   --tick-us later, so N streams cost at most 1/tick wake-ups. A payload is
 *   due at the DTS of the frame it completes (a frame's payloads leave
 *   together, as from ffmpeg -re), or with --pace pcr at its own PCR time.
 *   Payloads are 7 TS packets (1316 bytes), as SRT publishers send them.
 * - Stream starts are spread evenly over --stagger seconds, so their
 *   keyframes (and the relay's segment cuts) do not all land at once.
 * - The file loops without a seam: from the second pass on, PTS, DTS and PCR
 *   are shifted by the pass duration and continuity counters carry on, so a
 *   receiver sees one continuous stream (no timestamp reset, no CC error).
 *
 * Exit status: 0 when every stream connected and every payload was handed to
 * libsrt; 1 otherwise; 2 on bad usage. The last stdout line is a summary.
 *
 *   srt_feeder -m FILE.ts -p PORT -f STREAMS -t SECONDS [options]
 *   STREAMS: one line per stream, "<session id> [<passphrase>]"
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <srt/srt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define TS_PKT 188
#define CHUNK_PKTS 7
#define CHUNK_MAX (TS_PKT * CHUNK_PKTS)
#define TS33_MASK ((UINT64_C(1) << 33) - 1)
#define PCR_WRAP (UINT64_C(1) << 33)        /* in 90 kHz units */
#define NPIDS 8192
#define ES_MAX 16                /* elementary streams with timestamps */
#define SID_MAX 512              /* SRT stream id limit */
#define PASS_MAX 80
#define NS 1000000000LL

struct media {
    uint8_t *buf;
    size_t n_pkts, n_chunks;
    int64_t *chunk_ns;          /* due time of each chunk within one pass */
    uint64_t pass_90k;          /* PTS shift per pass */
    int64_t pass_ns;
    uint8_t cc_step[NPIDS];     /* CC shift per pass, per PID */
    bool pace_frames;           /* else by PCR */
};

struct stream {
    SRTSOCKET sock;
    char sid[SID_MAX];
    char passphrase[PASS_MAX];
    int64_t start_ns;
    uint64_t pass;              /* how many times the file was sent */
    size_t chunk;               /* next chunk of the current pass */
    int64_t due_ns;
    bool done, failed;
    uint64_t sent, bytes, late, errors;
};

struct opts {
    const char *media, *host, *streams_file;
    int port, latency_ms;
    double seconds, stagger;
    bool separate_ports, pace_pcr;
    long tick_us, late_ms;
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

static void sleep_until(int64_t t)
{
    struct timespec ts = { .tv_sec = t / NS, .tv_nsec = t % NS };
    while (!stop_flag && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static uint64_t get_ts33(const uint8_t *p)
{
    return ((uint64_t)(p[0] >> 1 & 7) << 30) | ((uint64_t)p[1] << 22) |
           ((uint64_t)(p[2] >> 1) << 15) | ((uint64_t)p[3] << 7) | (uint64_t)(p[4] >> 1);
}

static void put_ts33(uint8_t *p, uint64_t v)
{
    p[0] = (uint8_t)((p[0] & 0xF1) | ((v >> 29) & 0x0E));
    p[1] = (uint8_t)(v >> 22);
    p[2] = (uint8_t)(((v >> 14) & 0xFE) | 1);
    p[3] = (uint8_t)(v >> 7);
    p[4] = (uint8_t)(((v << 1) & 0xFE) | 1);
}

static uint64_t get_pcr_base(const uint8_t *p)
{
    return ((uint64_t)p[0] << 25) | ((uint64_t)p[1] << 17) | ((uint64_t)p[2] << 9) |
           ((uint64_t)p[3] << 1) | (uint64_t)(p[4] >> 7);
}

static void put_pcr_base(uint8_t *p, uint64_t v)
{
    p[0] = (uint8_t)(v >> 25);
    p[1] = (uint8_t)(v >> 17);
    p[2] = (uint8_t)(v >> 9);
    p[3] = (uint8_t)(v >> 1);
    p[4] = (uint8_t)(((v & 1) << 7) | (p[4] & 0x7F));
}

/* Where the pieces of one TS packet are; NULL when absent. */
struct ts_view {
    unsigned pid;
    bool has_payload;
    uint8_t *pcr;               /* 6-byte PCR field */
    uint8_t *payload;
    size_t payload_len;
    uint8_t *pts, *dts;         /* 5-byte PES timestamps */
};

static bool pes_has_header(uint8_t stream_id)
{
    switch (stream_id) {
    case 0xBC: case 0xBE: case 0xBF: case 0xF0: case 0xF1: case 0xF2: case 0xF8: case 0xFF:
        return false;
    default:
        return true;
    }
}

static void ts_parse(uint8_t *p, struct ts_view *v)
{
    memset(v, 0, sizeof(*v));
    v->pid = (unsigned)(p[1] & 0x1F) << 8 | p[2];
    unsigned afc = p[3] >> 4 & 3;
    size_t off = 4;
    if (afc & 2) {
        size_t af_len = p[4];
        if (af_len >= 7 && 5 + af_len <= TS_PKT && (p[5] & 0x10))
            v->pcr = p + 6;
        off = 5 + af_len;
    }
    v->has_payload = (afc & 1) && off < TS_PKT;
    if (!v->has_payload)
        return;
    uint8_t *pl = v->payload = p + off;
    size_t len = v->payload_len = TS_PKT - off;
    if (!(p[1] & 0x40))
        return;
    if (len < 9 || pl[0] != 0 || pl[1] != 0 || pl[2] != 1 || !pes_has_header(pl[3]))
        return;
    unsigned flags = pl[7] >> 6;
    if ((flags & 2) && len >= 14)
        v->pts = pl + 9;
    if (flags == 3 && len >= 19)
        v->dts = pl + 14;
}

/* DTS (else PTS) span of one elementary stream, 33-bit wraps unrolled. */
struct es_span {
    unsigned pid;
    size_t n;
    uint64_t first, last, prev, raw_prev, wrap;
    size_t last_pkt;            /* where the last PES starts */
};

static void es_add(struct es_span *e, uint64_t raw, size_t pkt)
{
    e->last_pkt = pkt;
    if (e->n && raw < e->raw_prev && e->raw_prev - raw > PCR_WRAP / 2)
        e->wrap += PCR_WRAP;
    e->raw_prev = raw;
    e->prev = e->last;
    e->last = raw + e->wrap;
    if (!e->n)
        e->first = e->last;
    e->n++;
}

/* Duration (90 kHz) of the AAC frames in the PES starting at packet `first`
 * when it carries ADTS; 0 otherwise. Audio PES often hold several frames, so
 * the spacing of the last two PES says little about the last one. */
static uint64_t adts_pes_duration(const struct media *m, unsigned pid, size_t first)
{
    uint8_t es[16384];
    size_t len = 0;
    for (size_t k = first; k < m->n_pkts; k++) {
        struct ts_view v;
        uint8_t *p = m->buf + k * TS_PKT;
        ts_parse(p, &v);
        if (v.pid != pid || !v.has_payload)
            continue;
        if (k != first && (p[1] & 0x40))
            break;
        size_t n = v.payload_len < sizeof(es) - len ? v.payload_len : sizeof(es) - len;
        memcpy(es + len, v.payload, n);
        len += n;
    }
    if (len < 9 || len < 9u + es[8])
        return 0;
    static const unsigned rates[13] = { 96000, 88200, 64000, 48000, 44100, 32000, 24000,
                                        22050, 16000, 12000, 11025, 8000, 7350 };
    uint64_t samples = 0;
    unsigned rate = 0;
    for (size_t off = 9u + es[8]; off + 7 <= len;) {
        const uint8_t *h = es + off;
        size_t flen = (size_t)(h[3] & 3) << 11 | (size_t)h[4] << 3 | h[5] >> 5;
        unsigned sri = h[2] >> 2 & 15;
        if (h[0] != 0xFF || (h[1] & 0xF6) != 0xF0 || sri >= 13 || flen < 7)
            break;
        rate = rates[sri];
        samples += 1024u * ((h[6] & 3) + 1u);
        off += flen;
    }
    return rate ? samples * 90000 / rate : 0;
}

/* Frame pacing: a payload is due when the access unit its last byte belongs
 * to is due (the highest DTS of the PES started so far), so a frame's bytes
 * leave together, as from ffmpeg -re or an encoder writing frame by frame. */
static void frame_times(struct media *m, const struct es_span *es, size_t n_es)
{
    uint64_t base = UINT64_MAX, hi = 0, wrap = 0, prev = 0;
    bool any = false;
    for (size_t e = 0; e < n_es; e++)
        if (es[e].n && es[e].first < base)
            base = es[e].first;
    for (size_t c = 0; c < m->n_chunks; c++) {
        size_t last = (c + 1) * CHUNK_PKTS < m->n_pkts ? (c + 1) * CHUNK_PKTS : m->n_pkts;
        for (size_t k = c * CHUNK_PKTS; k < last; k++) {
            struct ts_view v;
            ts_parse(m->buf + k * TS_PKT, &v);
            if (!v.dts && !v.pts)
                continue;
            uint64_t raw = get_ts33(v.dts ? v.dts : v.pts);
            if (any && raw < prev && prev - raw > PCR_WRAP / 2)
                wrap += PCR_WRAP;
            prev = raw;
            any = true;
            if (raw + wrap > hi)
                hi = raw + wrap;
        }
        m->chunk_ns[c] = any && hi > base ? (int64_t)((hi - base) * 100000 / 9) : 0;
    }
}

/* Chunk due times from the PCR (linear between PCRs, extrapolated at the
 * ends), the pass duration from the PES timestamps, and each PID's
 * continuity-counter step per pass. */
static int media_analyze(struct media *m)
{
    int ret = -1;
    size_t cap = 1024, n_pcr = 0;
    size_t *pcr_pkt = malloc(cap * sizeof(*pcr_pkt));
    int64_t *pcr_ns = malloc(cap * sizeof(*pcr_ns));
    int first_cc[NPIDS], last_cc[NPIDS];
    int pcr_pid = -1;
    uint64_t pcr_prev = 0, pcr_unwrap = 0;
    struct es_span es[ES_MAX] = { 0 };
    size_t n_es = 0;

    if (!pcr_pkt || !pcr_ns)
        goto out_free;
    for (int i = 0; i < NPIDS; i++)
        first_cc[i] = last_cc[i] = -1;
    for (size_t k = 0; k < m->n_pkts; k++) {
        uint8_t *p = m->buf + k * TS_PKT;
        struct ts_view v;
        if (p[0] != 0x47) {
            fprintf(stderr, "srt_feeder: lost TS sync at packet %zu\n", k);
            goto out_free;
        }
        ts_parse(p, &v);
        if (v.has_payload && v.pid != 0x1FFF) {
            if (first_cc[v.pid] < 0)
                first_cc[v.pid] = p[3] & 15;
            last_cc[v.pid] = p[3] & 15;
        }
        if (v.pcr && pcr_pid < 0)
            pcr_pid = (int)v.pid;
        if (v.pcr && (int)v.pid == pcr_pid) {
            uint64_t b = get_pcr_base(v.pcr);
            uint64_t ext = (uint64_t)(v.pcr[4] & 1) << 8 | v.pcr[5];
            if (n_pcr && b + pcr_unwrap < pcr_prev && pcr_prev - (b + pcr_unwrap) > PCR_WRAP / 2)
                pcr_unwrap += PCR_WRAP;
            uint64_t pcr27 = (b + pcr_unwrap) * 300 + ext;
            pcr_prev = b + pcr_unwrap;
            if (n_pcr == cap) {
                cap *= 2;
                size_t *a = realloc(pcr_pkt, cap * sizeof(*pcr_pkt));
                if (a)
                    pcr_pkt = a;
                int64_t *b2 = realloc(pcr_ns, cap * sizeof(*pcr_ns));
                if (b2)
                    pcr_ns = b2;
                if (!a || !b2)
                    goto out_free;
            }
            pcr_pkt[n_pcr] = k;
            pcr_ns[n_pcr] = (int64_t)(pcr27 * 1000 / 27);
            n_pcr++;
        }
        if (v.dts || v.pts) {
            size_t e = 0;
            while (e < n_es && es[e].pid != v.pid)
                e++;
            if (e == ES_MAX)
                continue;
            if (e == n_es)
                es[n_es++].pid = v.pid;
            es_add(&es[e], get_ts33(v.dts ? v.dts : v.pts), k);
        }
    }
    /* The next pass starts where the longest stream ends (one PES past its
     * last one), so every stream's DTS keeps increasing across the seam; the
     * shorter ones get a gap of a frame at most, as with ffmpeg -stream_loop. */
    m->pass_90k = 0;
    for (size_t e = 0; e < n_es; e++) {
        if (es[e].n < 2)
            continue;
        uint64_t d = adts_pes_duration(m, es[e].pid, es[e].last_pkt);
        uint64_t end = es[e].last + (d ? d : es[e].last - es[e].prev);
        if (end - es[e].first > m->pass_90k)
            m->pass_90k = end - es[e].first;
    }
    if (n_pcr < 2 || m->pass_90k == 0) {
        fprintf(stderr, "srt_feeder: need at least 2 PCRs and 2 PES timestamps on a PID "
                "(got %zu PCRs, %zu PIDs with timestamps)\n", n_pcr, n_es);
        goto out_free;
    }
    m->pass_ns = (int64_t)(m->pass_90k * 100000 / 9);
    for (int i = 0; i < NPIDS; i++)
        m->cc_step[i] = first_cc[i] < 0 ? 0 : (uint8_t)((last_cc[i] + 1 - first_cc[i]) & 15);

    m->n_chunks = (m->n_pkts + CHUNK_PKTS - 1) / CHUNK_PKTS;
    m->chunk_ns = malloc(m->n_chunks * sizeof(*m->chunk_ns));
    if (!m->chunk_ns)
        goto out_free;
    if (m->pace_frames) {
        frame_times(m, es, n_es);
        ret = 0;
        goto out_free;
    }
    size_t seg = 0;
    for (size_t c = 0; c < m->n_chunks; c++) {
        size_t k = c * CHUNK_PKTS;
        while (seg + 2 < n_pcr && pcr_pkt[seg + 1] <= k)
            seg++;
        double slope = (double)(pcr_ns[seg + 1] - pcr_ns[seg]) /
                       (double)(pcr_pkt[seg + 1] - pcr_pkt[seg]);
        int64_t t = pcr_ns[seg] + (int64_t)(slope * ((double)k - (double)pcr_pkt[seg]));
        t -= pcr_ns[0];
        m->chunk_ns[c] = t < 0 ? 0 : t;
    }
    ret = 0;
out_free:
    free(pcr_pkt);
    free(pcr_ns);
    return ret;
}

static int media_load(struct media *m, const char *path)
{
    int ret = -1;
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "srt_feeder: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (fseek(f, 0, SEEK_END) != 0)
        goto out_close;
    long size = ftell(f);
    if (size < TS_PKT * 2 || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "srt_feeder: %s: too small or not seekable\n", path);
        goto out_close;
    }
    m->n_pkts = (size_t)size / TS_PKT;
    m->buf = malloc(m->n_pkts * TS_PKT);
    if (!m->buf || fread(m->buf, TS_PKT, m->n_pkts, f) != m->n_pkts) {
        fprintf(stderr, "srt_feeder: %s: cannot read\n", path);
        goto out_close;
    }
    ret = media_analyze(m);
out_close:
    fclose(f);
    return ret;
}

/* The chunk as pass `pass` carries it: pass 0 is the file itself; later
 * passes are a copy in `scratch` with timestamps and CCs moved on. */
static const uint8_t *chunk_for_pass(const struct media *m, size_t c, uint64_t pass,
                                     uint8_t *scratch, size_t *len)
{
    size_t first = c * CHUNK_PKTS;
    size_t n = m->n_pkts - first < CHUNK_PKTS ? m->n_pkts - first : CHUNK_PKTS;
    *len = n * TS_PKT;
    if (pass == 0)
        return m->buf + first * TS_PKT;
    memcpy(scratch, m->buf + first * TS_PKT, *len);
    uint64_t shift = (pass * m->pass_90k) & TS33_MASK;
    for (size_t i = 0; i < n; i++) {
        uint8_t *p = scratch + i * TS_PKT;
        struct ts_view v;
        ts_parse(p, &v);
        if (v.has_payload && v.pid != 0x1FFF)
            p[3] = (uint8_t)((p[3] & 0xF0) | ((p[3] + pass * m->cc_step[v.pid]) & 15));
        if (v.pcr)
            put_pcr_base(v.pcr, (get_pcr_base(v.pcr) + shift) & TS33_MASK);
        if (v.pts)
            put_ts33(v.pts, (get_ts33(v.pts) + shift) & TS33_MASK);
        if (v.dts)
            put_ts33(v.dts, (get_ts33(v.dts) + shift) & TS33_MASK);
    }
    return scratch;
}

static int read_streams(const char *path, struct stream **out, size_t *n_out)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "srt_feeder: %s: %s\n", path, strerror(errno));
        return -1;
    }
    int ret = -1;
    size_t n = 0, cap = 0;
    struct stream *s = NULL;
    char line[1024];
    while (fgets(line, sizeof(line), f)) {
        char sid[256], pass[PASS_MAX + 1];
        int k = sscanf(line, "%255s %80s", sid, pass);
        if (k < 1 || sid[0] == '#')
            continue;
        if (k == 2 && (strlen(pass) < 10 || strlen(pass) > 79)) {
            fprintf(stderr, "srt_feeder: %s: passphrase of %s must be 10..79 chars\n", path, sid);
            goto out_close;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            struct stream *t = realloc(s, cap * sizeof(*s));
            if (!t)
                goto out_close;
            s = t;
        }
        memset(&s[n], 0, sizeof(s[n]));
        s[n].sock = SRT_INVALID_SOCK;
        snprintf(s[n].sid, sizeof(s[n].sid), "#!::r=%s,m=publish", sid);
        if (k == 2)
            snprintf(s[n].passphrase, sizeof(s[n].passphrase), "%s", pass);
        n++;
    }
    if (n == 0) {
        fprintf(stderr, "srt_feeder: %s: no streams\n", path);
        goto out_close;
    }
    ret = 0;
out_close:
    fclose(f);
    if (ret < 0) {
        free(s);
    } else {
        *out = s;
        *n_out = n;
    }
    return ret;
}

static int set_opt(SRTSOCKET s, SRT_SOCKOPT o, const void *v, int len, const char *what)
{
    if (srt_setsockflag(s, o, v, len) == SRT_ERROR) {
        fprintf(stderr, "srt_feeder: set %s: %s\n", what, srt_getlasterror_str());
        return -1;
    }
    return 0;
}

/* Connects stream s; the first one binds an ephemeral port that the others
 * share unless separate ports were asked for. */
static int stream_connect(struct stream *s, const struct opts *o,
                          const struct sockaddr_in *peer, struct sockaddr_in *local)
{
    int yes = 1, no = 0;
    s->sock = srt_create_socket();
    if (s->sock == SRT_INVALID_SOCK) {
        fprintf(stderr, "srt_feeder: srt_create_socket: %s\n", srt_getlasterror_str());
        return -1;
    }
    if (set_opt(s->sock, SRTO_LATENCY, &o->latency_ms, sizeof(int), "latency") < 0 ||
        set_opt(s->sock, SRTO_STREAMID, s->sid, (int)strlen(s->sid), "streamid") < 0 ||
        set_opt(s->sock, SRTO_REUSEADDR, &yes, sizeof(yes), "reuseaddr") < 0)
        return -1;
    if (s->passphrase[0] && set_opt(s->sock, SRTO_PASSPHRASE, s->passphrase,
                                    (int)strlen(s->passphrase), "passphrase") < 0)
        return -1;
    if (!o->separate_ports) {
        if (srt_bind(s->sock, (const struct sockaddr *)local, sizeof(*local)) == SRT_ERROR) {
            fprintf(stderr, "srt_feeder: bind 127.0.0.1:%d: %s\n", ntohs(local->sin_port),
                    srt_getlasterror_str());
            return -1;
        }
        if (local->sin_port == 0) {
            int len = sizeof(*local);
            if (srt_getsockname(s->sock, (struct sockaddr *)local, &len) == SRT_ERROR)
                return -1;
        }
    }
    if (srt_connect(s->sock, (const struct sockaddr *)peer, sizeof(*peer)) == SRT_ERROR) {
        fprintf(stderr, "srt_feeder: connect %s: %s (reject reason %d)\n", s->sid,
                srt_getlasterror_str(), srt_getrejectreason(s->sock));
        return -1;
    }
    /* a full send buffer must cost one payload of one stream, not stall all */
    return set_opt(s->sock, SRTO_SNDSYN, &no, sizeof(no), "sndsyn");
}

static void usage(FILE *f, const char *argv0)
{
    fprintf(f,
            "usage: %s -m FILE.ts -p PORT -f STREAMS -t SECONDS [options]\n"
            "  -m, --media FILE       MPEG-TS file, looped seamlessly\n"
            "  -H, --host ADDR        relay address (default 127.0.0.1)\n"
            "  -p, --port PORT        relay SRT port\n"
            "  -f, --streams FILE     one line per stream: <session id> [<passphrase>]\n"
            "  -t, --seconds S        media seconds sent per stream\n"
            "  -l, --latency-ms MS    SRT latency (default 120)\n"
            "  -s, --stagger S        stream k starts k*S/N after the first (default 2)\n"
            "      --separate-ports   one UDP port (libsrt multiplexer) per stream\n"
            "      --pace frame|pcr   frame: a frame's payloads leave together at its DTS,\n"
            "                         like ffmpeg -re (default); pcr: every payload at\n"
            "                         its own PCR time, a smooth CBR sender\n"
            "      --tick-us US       minimum time between wake-ups (default 1000)\n"
            "      --late-ms MS       a send this late counts as late (default 50)\n",
            argv0);
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        { "media", required_argument, NULL, 'm' },
        { "host", required_argument, NULL, 'H' },
        { "port", required_argument, NULL, 'p' },
        { "streams", required_argument, NULL, 'f' },
        { "seconds", required_argument, NULL, 't' },
        { "latency-ms", required_argument, NULL, 'l' },
        { "stagger", required_argument, NULL, 's' },
        { "separate-ports", no_argument, NULL, 'S' },
        { "pace", required_argument, NULL, 'P' },
        { "tick-us", required_argument, NULL, 'T' },
        { "late-ms", required_argument, NULL, 'L' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    *o = (struct opts){ .host = "127.0.0.1", .latency_ms = 120, .stagger = 2.0,
                        .tick_us = 1000, .late_ms = 50 };
    int c;
    while ((c = getopt_long(argc, argv, "m:H:p:f:t:l:s:h", lo, NULL)) != -1) {
        switch (c) {
        case 'm': o->media = optarg; break;
        case 'H': o->host = optarg; break;
        case 'p': o->port = atoi(optarg); break;
        case 'f': o->streams_file = optarg; break;
        case 't': o->seconds = atof(optarg); break;
        case 'l': o->latency_ms = atoi(optarg); break;
        case 's': o->stagger = atof(optarg); break;
        case 'S': o->separate_ports = true; break;
        case 'P':
            if (strcmp(optarg, "pcr") != 0 && strcmp(optarg, "frame") != 0) {
                fprintf(stderr, "srt_feeder: --pace must be frame or pcr\n");
                return -1;
            }
            o->pace_pcr = strcmp(optarg, "pcr") == 0;
            break;
        case 'T': o->tick_us = atol(optarg); break;
        case 'L': o->late_ms = atol(optarg); break;
        case 'h': usage(stdout, argv[0]); exit(0);
        default: return -1;
        }
    }
    if (!o->media || !o->streams_file || o->port <= 0 || o->port > 65535 ||
        o->seconds <= 0 || o->stagger < 0 || o->tick_us < 0 || o->latency_ms < 0) {
        usage(stderr, argv[0]);
        return -1;
    }
    return 0;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Sends every payload of s that is due at `now`; returns the next due time. */
static int64_t stream_pump(struct stream *s, const struct media *m, int64_t media_end_ns,
                           int64_t late_ns, int64_t *max_late, uint8_t *scratch)
{
    int64_t now = now_ns();
    while (!s->done && s->due_ns <= now) {
        size_t len;
        const uint8_t *p = chunk_for_pass(m, s->chunk, s->pass, scratch, &len);
        int64_t lateness = now - s->due_ns;
        if (lateness > late_ns)
            s->late++;
        if (lateness > *max_late)
            *max_late = lateness;
        if (srt_sendmsg2(s->sock, (const char *)p, (int)len, NULL) == SRT_ERROR) {
            int err = srt_getlasterror(NULL);
            s->errors++;
            if (err != SRT_EASYNCSND) {
                fprintf(stderr, "srt_feeder: %s: send: %s\n", s->sid, srt_getlasterror_str());
                s->failed = s->done = true;
                break;
            }
        } else {
            s->sent++;
            s->bytes += len;
        }
        if (++s->chunk == m->n_chunks) {
            s->chunk = 0;
            s->pass++;
        }
        int64_t media_t = (int64_t)s->pass * m->pass_ns + m->chunk_ns[s->chunk];
        s->due_ns = s->start_ns + media_t;
        s->done = media_t >= media_end_ns;
        now = now_ns();
    }
    return s->done ? INT64_MAX : s->due_ns;
}

int main(int argc, char **argv)
{
    struct opts o;
    struct media m = { 0 };
    struct stream *st = NULL;
    size_t n = 0, connected = 0;
    int ret = 1;
    if (parse_opts(argc, argv, &o) < 0)
        return 2;
    m.pace_frames = !o.pace_pcr;
    if (media_load(&m, o.media) < 0 || read_streams(o.streams_file, &st, &n) < 0)
        goto out_free;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    if (srt_startup() < 0) {
        fprintf(stderr, "srt_feeder: srt_startup: %s\n", srt_getlasterror_str());
        goto out_free;
    }

    struct sockaddr_in peer = { .sin_family = AF_INET, .sin_port = htons((uint16_t)o.port) };
    struct sockaddr_in local = { .sin_family = AF_INET };
    if (inet_pton(AF_INET, o.host, &peer.sin_addr) != 1) {
        fprintf(stderr, "srt_feeder: --host %s: not an IPv4 address\n", o.host);
        goto out_cleanup;
    }
    local.sin_addr = peer.sin_addr;
    double cpu0 = cpu_seconds();
    int64_t t_conn = now_ns();
    for (size_t i = 0; i < n && !stop_flag; i++) {
        if (stream_connect(&st[i], &o, &peer, &local) < 0) {
            st[i].failed = st[i].done = true;
            continue;
        }
        connected++;
    }
    int64_t t0 = now_ns();
    printf("srt_feeder: connected %zu/%zu streams in %.2f s, %s, media %zu payloads, "
           "pass %.3f s, paced by %s\n", connected, n, (double)(t0 - t_conn) / 1e9,
           o.separate_ports ? "one local port per stream" : "one local port (shared)",
           m.n_chunks, (double)m.pass_ns / 1e9, o.pace_pcr ? "PCR" : "frame DTS");
    fflush(stdout);

    t0 += 100 * 1000000LL;
    int64_t media_end = (int64_t)(o.seconds * 1e9);
    int64_t late_ns = o.late_ms * 1000000LL, tick = o.tick_us * 1000LL, max_late = 0;
    uint8_t scratch[CHUNK_MAX];
    for (size_t i = 0; i < n; i++) {
        st[i].start_ns = t0 + (int64_t)(o.stagger * 1e9 * (double)i / (double)n);
        st[i].due_ns = st[i].start_ns;
    }
    uint64_t wakeups = 0;
    while (!stop_flag) {
        int64_t next = INT64_MAX;
        for (size_t i = 0; i < n; i++) {
            int64_t d = stream_pump(&st[i], &m, media_end, late_ns, &max_late, scratch);
            if (d < next)
                next = d;
        }
        if (next == INT64_MAX)
            break;
        int64_t earliest = now_ns() + tick;
        sleep_until(next > earliest ? next : earliest);
        wakeups++;
    }
    int64_t t_end = now_ns();

    /* live mode keeps payloads until acknowledged: let the tail reach the relay */
    for (int64_t deadline = now_ns() + 2 * NS; now_ns() < deadline && !stop_flag;) {
        size_t left = 0;
        for (size_t i = 0; i < n; i++) {
            size_t blocks = 0, bytes = 0;
            if (!st[i].failed && srt_getsndbuffer(st[i].sock, &blocks, &bytes) != SRT_ERROR)
                left += blocks;
        }
        if (left == 0)
            break;
        sleep_until(now_ns() + 10 * 1000000LL);
    }
    /* Acknowledged is not delivered: the receiver holds each payload for the
     * SRT latency, and a closed connection takes what is still held with it. */
    sleep_until(now_ns() + (2LL * o.latency_ms + 200) * 1000000LL);

    uint64_t sent = 0, bytes = 0, late = 0, errors = 0, failed = 0;
    int64_t retrans = 0, snd_loss = 0, snd_drop = 0;
    for (size_t i = 0; i < n; i++) {
        SRT_TRACEBSTATS bs;
        sent += st[i].sent;
        bytes += st[i].bytes;
        late += st[i].late;
        errors += st[i].errors;
        failed += st[i].failed;
        if (st[i].sock != SRT_INVALID_SOCK && srt_bstats(st[i].sock, &bs, 0) != SRT_ERROR) {
            retrans += bs.pktRetransTotal;
            snd_loss += bs.pktSndLossTotal;
            snd_drop += bs.pktSndDropTotal;
        }
    }
    double wall = (double)(t_end - t0) / 1e9;
    printf("srt_feeder: streams=%zu connected=%zu failed=%" PRIu64 " packets=%" PRIu64
           " bytes=%" PRIu64 " wall_s=%.2f mbps_per_stream=%.3f wakeups=%" PRIu64
           " late=%" PRIu64 " late_ms=%ld max_late_ms=%.1f send_errors=%" PRIu64
           " srt_retrans=%" PRId64 " srt_snd_loss=%" PRId64 " srt_snd_drop=%" PRId64
           " cpu_s=%.2f interrupted=%d\n",
           n, connected, failed, sent, bytes, wall,
           wall > 0 && connected ? (double)bytes * 8 / 1e6 / wall / (double)connected : 0.0,
           wakeups, late, o.late_ms, (double)max_late / 1e6, errors, retrans, snd_loss,
           snd_drop, cpu_seconds() - cpu0, (int)stop_flag);
    fflush(stdout);
    ret = (connected == n && errors == 0 && failed == 0 && !stop_flag) ? 0 : 1;
out_cleanup:
    for (size_t i = 0; i < n; i++)
        if (st[i].sock != SRT_INVALID_SOCK)
            srt_close(st[i].sock);
    srt_cleanup();
out_free:
    free(st);
    free(m.buf);
    free(m.chunk_ns);
    return ret;
}
