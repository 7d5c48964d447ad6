/* podium: SRT in, HLS out. Wires the layers together and owns the process
 * lifecycle; signals are taken synchronously with sigwait, so no handler
 * and no global flag is needed. */
#include <errno.h>
#include <getopt.h>
#include <libavformat/avformat.h>
#include <libavutil/log.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "podium/config.h"
#include "podium/http.h"
#include "podium/ingest.h"
#include "podium/log.h"
#include "podium/pipeline.h"
#include "podium/segmenter.h"
#include "podium/session.h"
#include "podium/store.h"

#define SHUTDOWN_PUBLISHERS_MS 3000

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

static int setup_session(struct session *s, void *opaque)
{
    const struct config *cfg = opaque;
    s->win = store_window_create(s->id, cfg->window);
    struct seg_params p = { .session_id = s->id,
                            .segment_duration = cfg->segment_duration,
                            .output = store_on_segment, .opaque = s->win };
    s->seg = s->win ? seg_create(&p) : NULL;
    if (!s->seg) {
        store_window_free(&s->win);
        return -1;
    }
    return 0;
}

static void teardown_session(struct session *s, void *opaque)
{
    (void)opaque;
    seg_free(&s->seg);
    store_window_free(&s->win);
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

/* libav prints through av_log; keep its errors, in our format, rate-limited
 * so a garbage stream cannot flood the log. */
static void av_log_cb(void *avcl, int level, const char *fmt, va_list vl)
{
    static atomic_long window_start;
    static atomic_int in_window;
    if (level > AV_LOG_WARNING)
        return;
    long now = (long)time(NULL);
    if (atomic_exchange(&window_start, now) != now)
        atomic_store(&in_window, 0);
    if (atomic_fetch_add(&in_window, 1) >= 20)
        return;
    char line[512];
    int print_prefix = 1;
    av_log_format_line(avcl, level, fmt, vl, line, sizeof(line), &print_prefix);
    for (char *p = line; *p; p++)
        if (*p == '\n' || *p == '"')
            *p = ' ';
    log_msg(level <= AV_LOG_ERROR ? LV_WARN : LV_DEBUG, NULL, "\"libav: %s\"", line);
}

static int ensure_dir(const char *path)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST)
        return 0;
    log_msg(LV_ERROR, NULL, "\"cannot create data_dir\" path=%s err=\"%s\"", path,
            strerror(errno));
    return -1;
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
    struct config cfg;
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
        if (config_load(&cfg, path, stderr) < 0) {
            config_free(&cfg);
            return 1;
        }
    } else {
        config_defaults(&cfg);
    }
    if (check) {
        printf("%s: ok (%zu sessions)\n", path, cfg.n_sessions);
        config_free(&cfg);
        return 0;
    }

    /* Every thread inherits this mask; only sigwait below sees the signals. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    av_log_set_callback(av_log_cb);
    log_msg(LV_INFO, NULL, "\"starting\" version=%s config=%s", PODIUM_VERSION,
            path ? path : "(defaults)");
    if (!path)
        log_msg(LV_WARN, NULL, "\"no config file: accepting any session id without a passphrase\"");

    if (ensure_dir(cfg.data_dir) < 0)
        goto out;
    struct session_hooks hooks = { .setup = setup_session,
                                   .teardown = teardown_session, .opaque = &cfg };
    reg = registry_create(&cfg, &hooks);
    if (!reg)
        goto out;
    http = http_start(&cfg, reg);
    if (!http)
        goto out;
    ing = ingest_start(&cfg, reg, on_publisher, NULL);
    if (!ing)
        goto out;
    log_msg(LV_INFO, NULL, "\"ready\" sessions=%zu", cfg.n_sessions);

    int sig = 0;
    sigwait(&sigs, &sig);
    log_msg(LV_INFO, NULL, "\"shutting down\" signal=%s", sig == SIGINT ? "SIGINT" : "SIGTERM");
    ret = 0;

out:
    /* Publishers first: their threads flush the last segment into the
     * window, which HTTP may still be serving until http_stop. */
    ingest_stop(&ing, SHUTDOWN_PUBLISHERS_MS);
    http_stop(&http);
    registry_free(&reg);
    config_free(&cfg);
    if (ret == 0)
        log_msg(LV_INFO, NULL, "\"stopped\"");
    return ret;
}
