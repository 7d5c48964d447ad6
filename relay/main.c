/* podium: SRT in, HLS out. Wires the layers together and owns the process
 * lifecycle; signals are taken synchronously with sigwait, so no handler
 * and no global flag is needed. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libavformat/avformat.h>
#include <libavutil/log.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <srt/srt.h>
#include <unistd.h>

#include "podium/config.h"
#include "podium/diskspace.h"
#include "podium/export.h"
#include "podium/record.h"
#include "podium/http.h"
#include "podium/clock.h"
#include "podium/ingest.h"
#include "podium/log.h"
#include "podium/pipeline.h"
#include "podium/playlist.h"
#include "podium/pull.h"
#include "podium/reload.h"
#include "podium/segbuf.h"
#include "podium/segmenter.h"
#include "podium/session.h"
#include "podium/store.h"
#include "podium/token.h"

#define SHUTDOWN_PUBLISHERS_MS 3000

/* The orderly exit waits for the disk, which may hang (NFS, a dying drive).
 * A second SIGTERM or SIGINT is the operator saying not to wait: it exits
 * as kill -9 would, and the recordings on disk stay valid playlists of
 * complete segments (what was still queued is lost, and the log says so). */
static void *second_signal(void *arg)
{
    const sigset_t *sigs = arg;
    int sig = 0;
    while (sigwait(sigs, &sig) == 0) {
        if (sig == SIGHUP)
            continue;                   /* no reload while stopping */
        log_msg(LV_WARN, NULL, "\"second signal: exiting without waiting for the disk\" "
                "signal=%s lost=\"segments and playlist updates still queued\"",
                sig == SIGINT ? "SIGINT" : "SIGTERM");
        _exit(1);
    }
    return NULL;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: podium [-c FILE]          run the relay\n"
            "       podium --check -c FILE    validate a config file\n"
            "       podium --version | --help\n"
            "\n"
            "Without -c: listens on 127.0.0.1 (SRT :9000, HTTP :8080), data in ./data,\n"
            "and accepts any session id without a passphrase (ad-hoc sessions).\n"
            "Publish:  srt://HOST:9000?streamid=#!::r=<session>,m=publish&passphrase=...\n"
            "Watch:    http://HOST:8080/live/<session>/index.m3u8\n");
}

struct app {
    struct config cfg;
    struct rec_writer *writer;
    struct registry *reg;
    struct diskspace *disk;
    pthread_mutex_t lock;             /* stopping; wakes the housekeeper */
    pthread_cond_t wake;
    bool stopping;
};

/* A publisher's broken stream makes libav complain about every packet: a
 * reconnecting encoder's made 940 lines in half a minute. */
static struct log_quota av_quota = LOG_QUOTA("libav", 20, 10);

/* The segmenter's one output: the same segment to live viewers and disk. */
static void on_segment(void *opaque, const struct media_segment *seg)
{
    struct session *s = opaque;
    store_on_segment(s->win, seg);
    rec_on_segment(s->rec, seg);
    atomic_store(&s->ended, false);
}

static void on_part(void *opaque, const struct media_part *part)
{
    struct session *s = opaque;
    store_on_part(s->win, part);
}

/* Reads a small file into a NUL-terminated malloc'd string; NULL if absent. */
static char *read_small_file(const char *path, size_t max)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = malloc(max + 1);
    size_t n = buf ? fread(buf, 1, max, f) : 0;
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

static void published_path(const struct session *s, char *buf, size_t len)
{
    rec_path(s->rec, buf, len, "published");
}

/* The playlist attendees get of the published recording: cut to [start,
 * end) seconds (playlist_trim) when the organizer trimmed it, else the
 * recording's own. -1 (logged) when it cannot be cut: the recording must
 * not then be published, the cut part may be what nobody is to see. */
static int set_vod_window(struct session *s, double start, double end)
{
    char *out = NULL;
    size_t len = 0;
    uint64_t first = 0, last = 0;
    if (start > 0 || end > 0) {
        char path[PATH_MAX];
        rec_path(s->rec, path, sizeof(path), "index.m3u8");
        char *text = read_small_file(path, 16 << 20);
        const char *why = "cannot read the recording's playlist";
        out = text ? playlist_trim(text, strlen(text), start, end, &len, &why) : NULL;
        free(text);
        if (!out) {
            log_msg(LV_ERROR, s->id, "\"cannot trim the recording's playlist\" start=%.3f end=%.3f "
                    "err=\"%s\"", start, end, why);
            return -1;
        }
        /* the files it lists: attendees get no other */
        bool any = false;
        for (const char *l = out, *nl; ; l = nl + 1) {
            if (*l >= '0' && *l <= '9') {
                last = strtoull(l, NULL, 10);
                first = any ? first : last;
                any = true;
            }
            if (!(nl = strchr(l, '\n')))
                break;
        }
    }
    /* copied once here so that every request can share it by reference */
    AVBufferRef *cut = out ? av_buffer_alloc(len) : NULL;
    bool lost = out && !cut;
    if (cut)
        memcpy(cut->data, out, len);
    free(out);
    if (lost) {
        log_msg(LV_ERROR, s->id, "\"out of memory trimming the recording's playlist\"");
        return -1;
    }
    pthread_mutex_lock(&s->lock);
    av_buffer_unref(&s->vod_trim);
    s->vod_trim = cut;
    s->vod_first = first;
    s->vod_last = last;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

/* Runs on the export thread: the recording becomes public once its MP4 is
 * complete, unless the organizer unpublished it (or deleted it) meanwhile. */
static void on_export_done(void *opaque, bool ok)
{
    struct session *s = opaque;
    if (!ok || !atomic_exchange(&s->publish_wanted, false))
        return;
    struct export_status es;
    export_get_status(s->exp, &es);
    if (set_vod_window(s, es.start, es.end) < 0)
        return;
    /* the window, so a restart serves the same cut */
    char path[PATH_MAX], window[64];
    published_path(s, path, sizeof(path));
    int n = snprintf(window, sizeof(window), "%.3f %.3f\n", es.start, es.end);
    int err = rec_write_atomic(path, window, (size_t)n);
    if (err < 0)
        log_msg(LV_ERROR, s->id, "\"cannot persist the published flag\" err=\"%s\"", strerror(-err));
    atomic_store(&s->published, true);
    log_msg(LV_INFO, s->id, "\"recording published\"");
}

static bool recorded_cb(void *opaque, uint64_t seq)
{
    return rec_has_segment(opaque, seq);
}

static int setup_session(struct session *s, void *opaque)
{
    struct app *app = opaque;
    bool fmp4 = app->cfg.hls_format == HLS_FORMAT_FMP4;
    s->win = store_window_create(s->id, app->cfg.window);
    if (s->win)
        store_window_set_format(s->win, fmp4, app->cfg.part_duration);
    s->rec = rec_open(app->writer, app->cfg.data_dir, s->id);
    if (s->win && s->rec)
        store_window_set_recorded(s->win, recorded_cb, s->rec);
    if (s->rec) {
        char path[PATH_MAX];
        rec_path(s->rec, path, sizeof(path), "end_hold");
        s->hold_file = strdup(path);
        session_hold_restore(s);
    }
    s->pull = fmp4 ? NULL : pull_create(s->id);
    struct seg_params p = { .session_id = s->id,
                            .segment_duration = app->cfg.segment_duration,
                            .fmp4 = fmp4, .part_duration = app->cfg.part_duration,
                            .output = on_segment, .part_output = on_part, .opaque = s,
                            .pull = s->pull };
    s->seg = s->win && s->rec ? seg_create(&p) : NULL;
    s->exp = s->seg ? export_create(s->rec, s->id, on_export_done, s) : NULL;
    if (!s->exp || (!fmp4 && !s->pull)) {
        export_free(&s->exp);
        pull_free(&s->pull);
        seg_free(&s->seg);
        rec_free(&s->rec);
        store_window_free(&s->win);
        free(s->hold_file);
        s->hold_file = NULL;
        return -1;
    }
    seg_continue_from(s->seg, rec_next_seq(s->rec));

    struct rec_stats rs;
    rec_get_stats(s->rec, &rs);
    if (rs.exists && !rs.open) {
        char path[PATH_MAX];
        published_path(s, path, sizeof(path));
        atomic_store(&s->ended, true);
        /* "start end", or "1" from before trims were kept */
        char *pub = read_small_file(path, 64);
        double start = 0, end = 0;
        if (pub && sscanf(pub, "%lf %lf", &start, &end) != 2)
            start = end = 0;
        atomic_store(&s->published, pub && set_vod_window(s, start, end) == 0);
        free(pub);
    }
    if (rs.open)
        s->last_publish_end = time(NULL);   /* close_after counts from now */
    char path[PATH_MAX];
    rec_path(s->rec, path, sizeof(path), "viewers_peak");
    char *peak = rs.exists ? read_small_file(path, 24) : NULL;
    if (peak) {
        s->peak_saved = strtoull(peak, NULL, 10);
        store_set_peak(s->win, s->peak_saved);
    }
    free(peak);
    return 0;
}

/* The viewer peak outlives a restart (the organizer's report after the
 * talk): written beside the recording when it changes, on the writer
 * thread. Not before the first segment: the folder may not be there. */
static void save_peak(struct app *app, struct session *s)
{
    struct store_stats st;
    store_get_stats(s->win, &st);
    if (st.viewers_peak == s->peak_saved)
        return;
    struct rec_stats rs;
    rec_get_stats(s->rec, &rs);
    char path[PATH_MAX], line[24];
    snprintf(line, sizeof(line), "%" PRIu64 "\n", st.viewers_peak);
    char *text = rs.exists ? strdup(line) : NULL;
    if (!text)
        return;
    rec_path(s->rec, path, sizeof(path), "viewers_peak");
    rec_writer_file(app->writer, path, text, strlen(text), false, 0644);
    s->peak_saved = st.viewers_peak;
}

static void teardown_session(struct session *s, void *opaque)
{
    (void)opaque;
    export_free(&s->exp);
    seg_free(&s->seg);
    pull_free(&s->pull);
    rec_free(&s->rec);
    store_window_free(&s->win);
    av_buffer_unref(&s->vod_trim);
    free(s->hold_file);
    s->hold_file = NULL;
}

/* How often the publisher's SRT counters are read for the drop warning. */
#define LINK_CHECK_MS 5000

/* Logs media the SRT link lost for good since the last look: packets lost
 * on the way and not retransmitted within the latency, which libsrt drops
 * (a hole in the picture and the recording). Recovered losses only count
 * towards the next warning's figures; the API and /metrics show them all. */
static void check_link(struct session *s, const char *peer, int64_t now_ms)
{
    if (now_ms - s->link_seen_ms < LINK_CHECK_MS)
        return;
    pthread_mutex_lock(&s->lock);
    int sock = s->publisher_sock;
    uint32_t gen = s->publisher_gen;
    pthread_mutex_unlock(&s->lock);
    struct ingest_link_stats ls;
    if (ingest_sock_stats(sock, &ls) < 0)
        return;
    if (gen != s->link_gen) {            /* libsrt counts from zero per socket */
        s->link_gen = gen;
        s->link_dropped = s->link_lost = s->link_retrans = 0;
    }
    s->link_seen_ms = now_ms;
    if (ls.pkts_dropped > s->link_dropped)
        log_msg(LV_WARN, s->id, "\"SRT packets dropped: lost on the way and not retransmitted "
                "within the latency\" peer=%s dropped=%" PRId64 " lost=%" PRId64
                " retransmitted=%" PRId64 " dropped_total=%" PRId64 " rtt_ms=%.1f",
                peer, ls.pkts_dropped - s->link_dropped, ls.pkts_lost - s->link_lost,
                ls.pkts_retrans - s->link_retrans, ls.pkts_dropped, ls.rtt_ms);
    s->link_dropped = ls.pkts_dropped;
    s->link_lost = ls.pkts_lost;
    s->link_retrans = ls.pkts_retrans;
}

/* Ends sessions whose publisher has been gone for close_after (or that an
 * organizer ended): recording finalized, live playlist gets ENDLIST; warns
 * about SRT drops of the live ones. One process-wide tick; no session has a
 * timer of its own. */
static void *housekeeper(void *arg)
{
    struct app *app = arg;
    pthread_mutex_lock(&app->lock);
    while (!app->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&app->wake, &app->lock, &ts);
        if (app->stopping)
            break;
        pthread_mutex_unlock(&app->lock);

        http_log_tick();
        log_quota_tick(&av_quota, time(NULL));
        struct session *list[REGISTRY_MAX_SESSIONS];
        size_t n = registry_list(app->reg, list, REGISTRY_MAX_SESSIONS);
        time_t now = time(NULL);
        int64_t now_ms = clock_mono_ms();
        double recording_bps = 0;
        for (size_t i = 0; i < n; i++) {
            struct session *s = list[i];
            store_tick(s->win, now_ms);     /* held playlist requests time out */
            save_peak(app, s);
            char addr[64];
            if (session_publisher(s, addr, sizeof(addr), NULL)) {
                struct seg_stats ss = { 0 };
                seg_get_stats(s->seg, &ss);
                recording_bps += ss.last_bitrate;
                check_link(s, addr, now_ms);
                /* back within a second of the organizer's end: it still holds */
                if (atomic_load(&s->end_requested)) {
                    int sock = session_publisher_sock(s);
                    log_msg(LV_INFO, s->id, "\"publisher back before the session ended: kicked\" peer=%s",
                            addr);
                    ingest_kick(sock);
                }
                continue;
            }
            if (atomic_load(&s->ended)) {
                /* nothing to end: an end asked of an ended session must not
                 * end the next one the moment its publisher leaves */
                atomic_store(&s->end_requested, false);
                continue;
            }
            struct rec_stats rs;
            rec_get_stats(s->rec, &rs);
            pthread_mutex_lock(&s->lock);
            time_t since = s->last_publish_end;
            pthread_mutex_unlock(&s->lock);
            bool asked = atomic_exchange(&s->end_requested, false);
            if (!rs.open || (!asked && now - since < app->cfg.close_after))
                continue;
            rec_finalize(s->rec);
            store_set_ended(s->win, true);
            atomic_store(&s->ended, true);
            log_msg(LV_INFO, s->id, "\"session ended\" reason=%s", asked ? "organizer" : "close_after");
            /* a restream encoder pulling it should stop, as the players do */
            pull_drop_all(s->pull, "session ended");
        }
        diskspace_update(app->disk, recording_bps);
        pthread_mutex_lock(&app->lock);
    }
    pthread_mutex_unlock(&app->lock);
    return NULL;
}

/* The recordings under data_dir. Without a config, sessions exist only
 * once published to: the ones an earlier run recorded come back with their
 * recordings, which would otherwise stay on disk with no page or URL
 * serving them. With one, a recording whose session is neither in it nor
 * created through the API (renamed, removed, or recorded in ad-hoc mode)
 * is served by nothing: said once at start-up, so it is not taken for
 * lost. */
static void check_recordings(struct registry *reg, const char *data_dir, bool adhoc)
{
    char **ids, names[256] = "";
    int n = rec_list(data_dir, &ids), restored = 0, unserved = 0;
    size_t used = 0;
    for (int i = 0; i < n; i++) {
        if (adhoc && registry_restore_adhoc(reg, ids[i]) == 1) {
            restored++;
        } else if (!adhoc && !registry_find(reg, ids[i])) {
            unserved++;
            int w = snprintf(names + used, sizeof(names) - used, "%s%s", used ? "," : "", ids[i]);
            if (w > 0 && (size_t)w < sizeof(names) - used)
                used += (size_t)w;
            else
                names[used] = '\0';        /* a name that does not fit is left out */
        }
        free(ids[i]);
    }
    free(ids);
    if (restored > 0)
        log_msg(LV_INFO, NULL, "\"ad-hoc sessions restored from their recordings\" count=%d "
                "path=%s/recordings", restored, data_dir);
    if (unserved > 0)
        log_msg(LV_WARN, NULL, "\"recordings of sessions neither in the config nor created "
                "through the API are not served: declare a [session <id>] for each to serve it\" "
                "count=%d ids=\"%s\" path=%s/recordings", unserved, names, data_dir);
}

/* The attendee token key: data_dir/secret (0600), created once. */
static int load_secret(const struct config *cfg, uint8_t out[TOKEN_SECRET_LEN])
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/secret", cfg->data_dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, out, TOKEN_SECRET_LEN);
        close(fd);
        if (n == TOKEN_SECRET_LEN)
            return 0;
    }
    FILE *r = fopen("/dev/urandom", "r");
    size_t got = r ? fread(out, 1, TOKEN_SECRET_LEN, r) : 0;
    if (r)
        fclose(r);
    if (got != TOKEN_SECRET_LEN)
        return -1;
    int err = rec_write_atomic(path, out, TOKEN_SECRET_LEN);
    if (err == 0 && chmod(path, 0600) < 0)
        err = -errno;
    if (err < 0) {
        log_msg(LV_ERROR, NULL, "\"cannot store the token secret\" path=%s err=\"%s\"",
                path, strerror(-err));
        return -1;
    }
    return 0;
}

/* admin_token from the config, else data_dir/admin.token, else a new one
 * stored there (0600). */
static int load_admin_token(struct config *cfg)
{
    char path[PATH_MAX], tok[65] = "";
    if (cfg->admin_token && *cfg->admin_token)
        return 0;
    snprintf(path, sizeof(path), "%s/admin.token", cfg->data_dir);
    FILE *f = fopen(path, "r");
    if (f) {
        if (fgets(tok, sizeof(tok), f))
            tok[strcspn(tok, "\r\n")] = '\0';
        /* copied or restored with other permissions: anyone who can read
         * it can run the organizer API */
        struct stat st;
        if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077)) {
            if (fchmod(fileno(f), 0600) == 0)
                log_msg(LV_WARN, NULL, "\"admin token file was readable by others: made 0600\" path=%s "
                        "mode=%03o", path, (unsigned)(st.st_mode & 0777));
            else
                log_msg(LV_WARN, NULL, "\"admin token file is readable by others\" path=%s mode=%03o "
                        "err=\"%s\"", path, (unsigned)(st.st_mode & 0777), strerror(errno));
        }
        fclose(f);
    }
    if (strlen(tok) < 16) {
        uint8_t raw[24];
        FILE *r = fopen("/dev/urandom", "r");
        if (!r || fread(raw, 1, sizeof(raw), r) != sizeof(raw)) {
            if (r)
                fclose(r);
            log_msg(LV_ERROR, NULL, "\"cannot read /dev/urandom for the admin token\"");
            return -1;
        }
        fclose(r);
        for (size_t i = 0; i < sizeof(raw); i++)
            snprintf(tok + 2 * i, 3, "%02x", raw[i]);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, tok, strlen(tok)) < 0 || fsync(fd) < 0) {
            log_msg(LV_ERROR, NULL, "\"cannot store the admin token\" path=%s err=\"%s\"",
                    path, strerror(errno));
            if (fd >= 0)
                close(fd);
            return -1;
        }
        close(fd);
        log_msg(LV_INFO, NULL, "\"admin token generated\" path=%s", path);
    }
    free(cfg->admin_token);
    cfg->admin_token = strdup(tok);
    cfg->admin_token_generated = true;
    return cfg->admin_token ? 0 : -1;
}

/* A session taken out of the config file goes when nothing of it would be
 * lost: no publisher, nothing live, no recording (a cancelled talk). */
static bool remove_if_unused(struct session *s, void *opaque)
{
    struct registry *reg = opaque;
    struct rec_stats rs;
    struct store_stats ws;
    char addr[64];
    rec_get_stats(s->rec, &rs);
    store_get_stats(s->win, &ws);
    if (session_publisher(s, addr, sizeof(addr), NULL) || rs.exists || ws.segments > 0)
        return false;
    registry_remove(reg, s);
    /* a speaker who connected just now, to a talk the file cancels */
    int sock = session_publisher_sock(s);
    if (sock != NO_PUBLISHER)
        ingest_kick(sock);
    store_window_retire(s->win);    /* answers held playlist requests */
    pull_close_all(s->pull, "session removed from the config");
    return true;
}

/* SIGHUP: the file's sessions (reload.c), the conference's name, and a new
 * admin token, which an organizer whose token leaked (on a shared screen,
 * say) must not wait for a restart to replace. */
static void reload(struct config *cfg, struct registry *reg, struct http *http, const char *path)
{
    struct config next;
    if (reload_config(reg, cfg, path, &next, remove_if_unused, reg) < 0) {
        config_free(&next);
        return;
    }
    if (strcmp(cfg->name, next.name) != 0) {
        char esc[4 * CONFIG_NAME_MAX + 4];
        http_set_name(http, next.name);
        log_msg(LV_INFO, NULL, "\"config reload: the conference's name changed\" name=\"%s\"",
                log_escape(esc, sizeof(esc), next.name, CONFIG_NAME_MAX));
        free(cfg->name);
        cfg->name = next.name;
        next.name = NULL;
    }
    /* an empty admin_token means the one in data_dir/admin.token */
    bool was_file = cfg->admin_token_generated, is_file = !*next.admin_token;
    if (was_file != is_file || (!is_file && strcmp(cfg->admin_token, next.admin_token) != 0)) {
        free(next.data_dir);            /* a new data_dir waits for a restart */
        next.data_dir = strdup(cfg->data_dir);
        if (next.data_dir && load_admin_token(&next) == 0) {
            http_set_admin_token(http, next.admin_token);
            free(cfg->admin_token);
            cfg->admin_token = next.admin_token;
            cfg->admin_token_generated = next.admin_token_generated;
            next.admin_token = NULL;
            log_msg(LV_INFO, NULL, "\"admin token replaced by config reload: the old one no longer "
                    "works\" source=%s", is_file ? "data_dir/admin.token" : "config");
        } else {
            log_msg(LV_ERROR, NULL, "\"config reload: the admin token was not replaced\"");
        }
    }
    config_free(&next);
}

static const struct pipeline_sink *sink_of(struct session *s)
{
    return seg_sink(s->seg);
}

static void on_publisher(struct ingest_conn *conn, void *opaque)
{
    (void)opaque;
    pipeline_spawn(conn, sink_of);
}

static void on_subscriber(struct session *s, int sock, const char *peer, void *opaque)
{
    (void)opaque;
    if (!s->pull) {
        log_msg(LV_WARN, s->id, "\"subscriber refused: m=request needs MPEG-TS segments "
                "([hls] format = ts)\" peer=%s", peer);
        srt_close(sock);
        return;
    }
    pull_add(s->pull, sock, peer);
}

/* libav prints through av_log; keep its errors, in our format, rate-limited
 * so a garbage stream cannot flood the log. */
static void av_log_cb(void *avcl, int level, const char *fmt, va_list vl)
{
    /* After a publisher's input ended, its torn last frame is expected
     * (the Opus parser, say, finds no header in it): debug, not warn. */
    enum log_level lv = level <= AV_LOG_ERROR && !pipeline_input_ended() ? LV_WARN : LV_DEBUG;
    if (level > AV_LOG_WARNING || !log_enabled(lv) || !log_quota_take(&av_quota, time(NULL)))
        return;
    char line[512], esc[4 * sizeof(line)];
    int print_prefix = 1;
    av_log_format_line(avcl, level, fmt, vl, line, sizeof(line), &print_prefix);
    /* the text can quote stream data (metadata, a broken header) */
    log_msg(lv, NULL, "\"libav: %s\"", log_escape(esc, sizeof(esc), line, sizeof(line)));
}

static int ensure_dir(const char *path)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST)
        return 0;
    log_msg(LV_ERROR, NULL, "\"cannot create data_dir\" path=%s err=\"%s\"", path,
            strerror(errno));
    return -1;
}

/* Two Podiums on one data_dir would interleave the same recordings and
 * each rewrite sessions.json without the other's sessions: the second is
 * refused. The lock lives as long as the process (the descriptor is never
 * closed), so a crashed Podium leaves none behind. */
static int lock_data_dir(const char *dir)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/podium.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        log_msg(LV_ERROR, NULL, "\"cannot open the data_dir lock\" path=%s err=\"%s\"", path,
                strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int err = errno;
        char pid[24] = "";
        ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
        pid[n > 0 ? strcspn(pid, "\n") : 0] = '\0';
        if (err == EWOULDBLOCK)
            log_msg(LV_ERROR, NULL, "\"data_dir is in use by another Podium: stop it, or give this "
                    "one its own data_dir\" path=%s pid=%s", dir, pid[0] ? pid : "unknown");
        else
            log_msg(LV_ERROR, NULL, "\"cannot lock data_dir\" path=%s err=\"%s\"", path,
                    strerror(err));
        close(fd);
        return -1;
    }
    char pid[24];
    int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len)
        log_msg(LV_WARN, NULL, "\"cannot write the pid into the data_dir lock\" path=%s", path);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "check", no_argument, NULL, 'k' },
        { "version", no_argument, NULL, 'V' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *path = NULL;
    bool check = false;
    int opt, ret = 1;
    static struct app app = { .lock = PTHREAD_MUTEX_INITIALIZER,
                              .wake = PTHREAD_COND_INITIALIZER };
    struct config *cfgp = &app.cfg;
    pthread_t keeper;
    bool keeper_started = false;
    struct registry *reg = NULL;
    struct http *http = NULL;
    struct ingest *ing = NULL;

    while ((opt = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': path = optarg; break;
        case 'k': check = true; break;
        case 'V': printf("podium %s\n", PODIUM_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "podium: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (check && !path) {
        fprintf(stderr, "podium: --check needs -c FILE\n");
        return 2;
    }

    const char *lv = getenv("PODIUM_LOG");
    if (lv && strcmp(lv, "debug") == 0)
        log_set_level(LV_DEBUG);

    if (path) {
        if (config_load(cfgp, path, stderr) < 0) {
            config_free(cfgp);
            return 1;
        }
    } else {
        config_defaults(cfgp);
    }
    /* valid, but every speaker of the session would fail the handshake */
    for (size_t i = 0; i < cfgp->n_sessions; i++) {
        const struct session_conf *sc = &cfgp->sessions[i];
        char why[256];
        if (!sc->passphrase || !config_passphrase_warning(sc->passphrase, why, sizeof(why)))
            continue;
        if (check)
            fprintf(stderr, "%s: warning: session %s.%s\n", path, sc->id, why);
        else
            log_msg(LV_WARN, sc->id, "\"%s\"", why);
    }
    if (check) {
        printf("%s: ok (%zu session%s)\n", path, cfgp->n_sessions, cfgp->n_sessions == 1 ? "" : "s");
        config_free(cfgp);
        return 0;
    }

    /* One thread per publisher would otherwise get a malloc arena each, and
     * RSS would grow with fragmentation rather than with the live windows. */
    mallopt(M_ARENA_MAX, 2);
    /* A fixed threshold keeps large blocks mapped. glibc's moving one rises
     * to the size of the first large block freed (a frame decoded while
     * probing a publisher, 1.4 MB at 720p), and later blocks that size then
     * come from, and stay in, the arenas: +0.9 MB per session at 4 sessions. */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);

    /* Every thread inherits this mask; only sigwait below sees the signals. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    av_log_set_callback(av_log_cb);
    log_msg(LV_INFO, NULL, "\"starting\" version=%s config=%s", PODIUM_VERSION,
            path ? path : "(defaults)");
    if (!path)
        log_msg(LV_WARN, NULL, "\"no config file: accepting any session id without a passphrase\"");

    if (ensure_dir(cfgp->data_dir) < 0 || lock_data_dir(cfgp->data_dir) < 0
        || load_admin_token(cfgp) < 0)
        goto out;
    /* a segment is built, listed for window segments, then may still be
     * sent for a while: two segment durations allow for both */
    segbuf_use_dir(cfgp->data_dir, cfgp->segment_duration, cfgp->window + 2);
    app.disk = diskspace_create(cfgp->data_dir);
    if (!app.disk)
        goto out;
    diskspace_update(app.disk, 0);
    struct disk_space ds;
    diskspace_get(app.disk, &ds);
    if (ds.known)
        log_msg(LV_INFO, NULL, "\"recording space\" path=%s free_bytes=%llu total_bytes=%llu "
                "hours_at_3.3_mbps=%.1f", ds.path, (unsigned long long)ds.free_bytes,
                (unsigned long long)ds.total_bytes, ds.seconds_left / 3600);
    app.writer = rec_writer_start(getenv("PODIUM_TEST_FAULT_ENOSPC"),
                                  getenv("PODIUM_TEST_FAULT_STALL"));
    if (!app.writer)
        goto out;
    struct session_hooks hooks = { .setup = setup_session,
                                   .teardown = teardown_session, .opaque = &app };
    reg = registry_create(cfgp, &hooks);
    app.reg = reg;
    if (!reg)
        goto out;
    char sj[PATH_MAX];
    snprintf(sj, sizeof(sj), "%s/sessions.json", cfgp->data_dir);
    char *saved = read_small_file(sj, 16 << 20);
    if (saved) {
        int n = registry_load_api(reg, saved);
        free(saved);
        if (n >= 0)
            log_msg(LV_INFO, NULL, "\"sessions loaded\" file=%s count=%d", sj, n);
    }
    check_recordings(reg, cfgp->data_dir, cfgp->adhoc_sessions);
    struct http_env env = { .writer = app.writer, .disk = app.disk };
    if (load_secret(cfgp, env.secret) < 0)
        goto out;
    keeper_started = pthread_create(&keeper, NULL, housekeeper, &app) == 0;
    http = http_start(cfgp, reg, &env);
    if (!http || !keeper_started)
        goto out;
    ing = ingest_start(cfgp, reg, on_publisher, on_subscriber, NULL);
    if (!ing)
        goto out;
    http_set_srt_port(http, ingest_port(ing));
    /* the config's and the API's */
    /* the pid is what kill -HUP (a config reload) needs */
    log_msg(LV_INFO, NULL, "\"ready\" sessions=%zu pid=%ld", registry_count(reg), (long)getpid());

    int sig = 0;
    while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP) {
        if (path)
            reload(cfgp, reg, http, path);
        else
            log_msg(LV_WARN, NULL, "\"SIGHUP: no config file to reload (Podium runs on its "
                    "embedded defaults)\"");
    }
    log_msg(LV_INFO, NULL, "\"shutting down\" signal=%s", sig == SIGINT ? "SIGINT" : "SIGTERM");
    ret = 0;

out:;
    pthread_t watcher;
    bool watching = pthread_create(&watcher, NULL, second_signal, &sigs) == 0;
    /* Subscribers while libsrt is up, then publishers: their threads flush
     * the last segment into the window, which HTTP may still be serving
     * until http_stop. */
    if (reg) {
        struct session *list[REGISTRY_MAX_SESSIONS];
        size_t n = registry_list(reg, list, REGISTRY_MAX_SESSIONS);
        for (size_t i = 0; i < n; i++)
            pull_close_all(list[i]->pull, "shutting down");
    }
    ingest_stop(&ing, SHUTDOWN_PUBLISHERS_MS);
    if (keeper_started) {
        pthread_mutex_lock(&app.lock);
        app.stopping = true;
        pthread_cond_signal(&app.wake);
        pthread_mutex_unlock(&app.lock);
        pthread_join(keeper, NULL);
    }
    http_stop(&http);
    if (reg) {
        struct session *list[REGISTRY_MAX_SESSIONS];
        size_t n = registry_list(reg, list, REGISTRY_MAX_SESSIONS);
        for (size_t i = 0; i < n; i++)
            rec_finalize(list[i]->rec);     /* no-op unless open */
    }
    /* Every queued segment reaches the disk before the recorders go. */
    rec_writer_stop(&app.writer);
    if (watching) {
        pthread_cancel(watcher);        /* sigwait is a cancellation point */
        pthread_join(watcher, NULL);
    }
    registry_free(&reg);
    diskspace_free(&app.disk);
    config_free(cfgp);
    if (ret == 0)
        log_msg(LV_INFO, NULL, "\"stopped\"");
    return ret;
}
