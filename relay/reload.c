#include "podium/reload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podium/log.h"

/* Each "FILE:LINE: key: message" config_load wrote, as an error line. */
static void log_errors(char *text)
{
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char esc[512];
        log_msg(LV_ERROR, NULL, "\"config reload: %s\"", log_escape(esc, sizeof(esc), line, 400));
    }
}

static bool same_listen(const struct listen_addr *a, const struct listen_addr *b)
{
    return a->port == b->port && strcmp(a->host, b->host) == 0;
}

/* The keys the running process was built around (sockets, the data dir,
 * segmenters and windows already made): logged, not applied. */
static void server_keys(const struct config *run, const struct config *next)
{
    const struct { const char *key; bool changed; } keys[] = {
        { "[server] srt_listen", !same_listen(&run->srt_listen, &next->srt_listen) },
        { "[server] http_listen", !same_listen(&run->http_listen, &next->http_listen) },
        { "[server] data_dir", strcmp(run->data_dir, next->data_dir) != 0 },
        { "[server] access", run->access != next->access },
        { "[hls] format", run->hls_format != next->hls_format },
        { "[hls] segment_duration", run->segment_duration != next->segment_duration },
        { "[hls] window", run->window != next->window },
        { "[hls] part_duration", run->part_duration != next->part_duration },
        { "[srt] latency_ms", run->srt_latency_ms != next->srt_latency_ms },
        { "[recording] close_after", run->close_after != next->close_after },
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (keys[i].changed)
            log_msg(LV_WARN, NULL, "\"config reload: %s changed; it takes effect when Podium "
                    "restarts\"", keys[i].key);
}

/* Names of the fields of c that differ from what s holds, "" when none. */
static void changes(struct session *s, const struct session_conf *c, char *buf, size_t len)
{
    struct session_info in;
    session_info(s, &in);
    const struct { const char *name; bool changed; } f[] = {
        { "title", strcmp(in.title, c->title) != 0 },
        { "speakers", strcmp(in.speakers, c->speakers) != 0 },
        { "track", strcmp(in.track, c->track) != 0 },
        { "format", in.format != c->format },
        { "starts", in.starts != c->starts },
        { "passphrase", strcmp(in.passphrase, c->passphrase) != 0 },
        { "ingest_window", in.ingest_strict != c->ingest_strict },
    };
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
        if (f[i].changed && n < len)
            n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? "," : "", f[i].name);
}

static void passphrase_warning(const struct session_conf *c)
{
    char why[256];
    if (config_passphrase_warning(c->passphrase, why, sizeof(why)))
        log_msg(LV_WARN, c->id, "\"%s\"", why);
}

/* Applies one [session] of the new file: 1 added, 2 updated, 0 as before,
 * -1 not applied (logged). */
static int apply_session(struct registry *reg, const struct session_conf *c)
{
    struct session *s = registry_find(reg, c->id);
    if (!s) {
        int err = registry_add_config(reg, c, &s);
        if (err < 0) {
            log_msg(LV_ERROR, c->id, "\"config reload: session not added: %s\"", registry_strerror(err));
            return -1;
        }
        log_msg(LV_INFO, c->id, "\"session added by config reload\"");
        passphrase_warning(c);
        return 1;
    }
    struct session_info in;
    session_info(s, &in);
    if (in.from_api || in.adhoc) {
        log_msg(LV_WARN, c->id, "\"config reload: a session of this id was created %s; it is "
                "kept, and the config file's [session %s] is not applied\"",
                in.from_api ? "through the API" : "ad hoc", c->id);
        return -1;
    }
    char what[128];
    changes(s, c, what, sizeof(what));
    if (!what[0])
        return 0;
    if (session_update(s, c) < 0) {
        log_msg(LV_ERROR, c->id, "\"config reload: session not updated: out of memory\"");
        return -1;
    }
    log_msg(LV_INFO, c->id, "\"session updated by config reload\" changed=%s", what);
    if (strstr(what, "passphrase"))
        passphrase_warning(c);
    return 2;
}

int reload_config(struct registry *reg, const struct config *running, const char *path,
                  struct config *out, reload_remove_fn remove, void *opaque)
{
    char *errs = NULL;
    size_t errs_len = 0;
    FILE *err = open_memstream(&errs, &errs_len);
    struct config next;
    int r = config_load(&next, path, err ? err : stderr);
    *out = next;
    if (err)
        fclose(err);
    if (r < 0) {
        if (errs)
            log_errors(errs);
        log_msg(LV_ERROR, NULL, "\"config reload refused: the file has errors (above); the "
                "running sessions are unchanged\" config=%s", path);
        free(errs);
        return -1;
    }
    free(errs);
    server_keys(running, &next);
    int count[3] = { 0 }, failed = 0;
    for (size_t i = 0; i < next.n_sessions; i++) {
        int k = apply_session(reg, &next.sessions[i]);
        if (k < 0)
            failed++;
        else
            count[k]++;
    }
    /* A cancelled talk goes; one that streamed stays: ending a talk and
     * hiding its recording is the organizer's call (the end button), not
     * a side effect of tidying the file. */
    struct session *list[REGISTRY_MAX_SESSIONS];
    size_t n = registry_list(reg, list, REGISTRY_MAX_SESSIONS), kept = 0, removed = 0;
    for (size_t i = 0; i < n; i++) {
        struct session_info in;
        session_info(list[i], &in);
        if (in.from_api || in.adhoc || config_find_session(&next, list[i]->id))
            continue;
        if (remove(list[i], opaque)) {
            removed++;
            log_msg(LV_INFO, list[i]->id, "\"session removed by config reload (it never streamed)\"");
            continue;
        }
        kept++;
        log_msg(LV_WARN, list[i]->id, "\"config reload: session no longer in the config file, but it "
                "has streamed; it stays, with its recording, until Podium restarts (end it from the "
                "organizer page or the API)\"");
    }
    log_msg(LV_INFO, NULL, "\"config reloaded\" config=%s added=%d updated=%d unchanged=%d "
            "removed=%zu not_applied=%d removed_at_restart=%zu", path, count[1], count[2], count[0],
            removed, failed, kept);
    return 0;
}
