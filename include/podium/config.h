/* Configuration: embedded defaults, INI file (libinih), validation.
 * Keys and defaults are documented in config/podium.ini. */
#ifndef PODIUM_CONFIG_H
#define PODIUM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#define CONFIG_ID_LEN 40        /* session ids: [A-Za-z0-9_-]{1,40} */
#define CONFIG_ID_MAX 64        /* buffer size for an id */
#define CONFIG_PASS_MIN 10      /* SRT passphrase length limits (libsrt) */
#define CONFIG_PASS_MAX 79
#define CONFIG_NAME_MAX 120     /* [server] name, bytes */
#define CONFIG_NAME_MAX_TEXT "120"
#define CONFIG_TRACK_MAX 60     /* [session] track, characters (UTF-8 code points) */
#define CONFIG_TRACK_MAX_TEXT "60"

enum hls_format { HLS_FORMAT_TS, HLS_FORMAT_FMP4 };
enum access_mode { ACCESS_OPEN, ACCESS_REGISTERED };
enum session_format { FORMAT_PRESENTATION, FORMAT_PANEL, FORMAT_WORKSHOP,
                      FORMAT_LIGHTNING };

struct session_conf {
    char id[CONFIG_ID_MAX];
    char *title;                /* owned */
    char *speakers;             /* owned, comma separated as written */
    enum session_format format;
    time_t starts;              /* 0: unscheduled */
    char *passphrase;           /* owned; NULL only for ad-hoc sessions */
    bool ingest_strict;
    /* the parallel track (room, stream) it is part of, "" for none */
    char track[4 * CONFIG_TRACK_MAX + 1];
};

/* Whether s fits a track: at most CONFIG_TRACK_MAX characters, no control
 * characters; why says what is wrong otherwise. */
bool config_valid_track(const char *s, const char **why);

struct listen_addr {
    char host[64];
    int port;                   /* 0: ephemeral, the bound port is logged */
};

struct config {
    char *path;                 /* NULL: embedded defaults */
    struct listen_addr srt_listen;
    struct listen_addr http_listen;
    char *data_dir;
    enum access_mode access;
    char *admin_token;
    char *name;                 /* the conference's, heading attendees' pages;
                                   "" for "Podium" */
    bool admin_token_generated; /* admin_token empty in the file: read from or
                                   written to data_dir/admin.token */
    enum hls_format hls_format;
    double segment_duration;    /* seconds */
    int window;                 /* segments in the live playlist */
    double part_duration;       /* 0: no LL-HLS parts */
    int srt_latency_ms;
    int close_after;            /* seconds */
    bool adhoc_sessions;        /* accept any session id (no -c) */
    struct session_conf *sessions;
    size_t n_sessions;
};

/* Fills *cfg with the embedded defaults (no file). Free with config_free. */
void config_defaults(struct config *cfg);

/* Loads path over the file defaults. Every error is printed to err as
 * "FILE:LINE: key: message". Returns 0, or -1 when any error was found;
 * in both cases *cfg is initialised and must be freed with config_free. */
int config_load(struct config *cfg, const char *path, FILE *err);

/* Frees everything cfg owns; cfg may be reused after config_defaults. */
void config_free(struct config *cfg);

/* Parses "host:port" (port 0..65535). Returns 0 or -1. */
int config_parse_listen(const char *s, struct listen_addr *out);

/* True when id is a valid session id. */
bool config_valid_id(const char *id);

/* Minutes a session of this format is scheduled for. */
int config_format_minutes(enum session_format f);
const char *config_format_name(enum session_format f);

/* When a speaker could not write passphrase p into an srt:// URL (ffmpeg,
 * and OBS through it, end the value at '&' and read '+' as a space): writes
 * why into buf ("passphrase holds '&': ...", never the passphrase) and
 * returns true. */
bool config_passphrase_warning(const char *p, char *buf, size_t len);

/* Parses "YYYY-MM-DDTHH:MM:SS" followed by "Z" or a "+HH:MM"/"-HH:MM" offset
 * (RFC 3339 with whole seconds) into *out. Returns 0 or -1. */
int config_parse_time(const char *s, time_t *out);

const struct session_conf *config_find_session(const struct config *cfg,
                                               const char *id);

#endif
