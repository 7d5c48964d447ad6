/* Session registry: every session Podium knows, configured, ad-hoc or
 * created through the organizer API. Sessions are created at start-up
 * (config), on first publish (ad-hoc, only without -c) or by the API, and
 * their memory lives until registry_free, deleted ones included: pointers
 * returned by the registry stay valid for the life of the process, so other
 * threads may hold them without reference counting. A deleted session
 * leaves the lookups and frees its place among the REGISTRY_MAX_SESSIONS;
 * its object is kept, up to REGISTRY_MAX_KEPT objects in all, but not its
 * media: the API's DELETE retires its live window (store.h). */
#ifndef PODIUM_SESSION_H
#define PODIUM_SESSION_H

#include <libavutil/buffer.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "podium/config.h"

#define REGISTRY_MAX_SESSIONS 1024     /* live (not deleted) sessions */
/* Session objects kept, live plus deleted: an idle one costs about 18 KB
 * (RSS per API create/delete cycle), so at most ~75 MB. */
#define REGISTRY_MAX_KEPT (4 * REGISTRY_MAX_SESSIONS)
#define NO_PUBLISHER (-1)

struct segmenter;
struct live_window;
struct recorder;
struct exporter;

#define SESSION_TITLE_MAX 200
#define SESSION_SPEAKERS_MAX 500

struct session {
    char id[CONFIG_ID_MAX];
    /* Guarded by lock (the organizer API may change it); read it with
     * session_info. Strings owned by the session. */
    struct session_conf conf;
    bool from_api;                  /* persisted in data_dir/sessions.json */
    bool adhoc;                     /* made by a publish or a recording, no -c */
    bool deleted;                   /* guarded by the registry lock */

    /* Media path objects, created by the registry's setup hook, owned by
     * whoever set them up (freed by its teardown hook). */
    struct segmenter *seg;
    struct live_window *win;
    struct recorder *rec;
    struct exporter *exp;
    struct pull *pull;         /* m=request subscribers (MPEG-TS sessions) */

    atomic_bool published;          /* recording public (MP4 exported) */
    atomic_bool publish_wanted;     /* publish asked, not unpublished since */
    /* Published with a trim: the recording's playlist cut to the window,
     * listing segment files vod_first..vod_last; NULL when not trimmed.
     * Guarded by lock; the session holds a reference, readers take their
     * own under lock (the text never changes once set). */
    AVBufferRef *vod_trim;
    uint64_t vod_first, vod_last;
    atomic_bool end_requested;      /* organizer asked to end it now */
    atomic_bool ended;              /* recording finalized, ENDLIST live */

    pthread_mutex_t lock;           /* guards the publisher fields below */
    int publisher_sock;             /* SRTSOCKET, NO_PUBLISHER when none */
    uint32_t publisher_gen;         /* bumped on every new publisher */
    char publisher_addr[64];
    time_t publisher_since;
    time_t last_publish_end;
    /* After the organizer's end (session_publisher_held): CLOCK_MONOTONIC
     * ms until which publishers are refused, and the host whose tries
     * move it on (the kicked publisher's; empty when there was none). */
    int64_t end_hold_ms;
    char end_hold_host[64];
    /* Where the hold outlives a restart ("<wall ms> <host>"), or NULL:
     * set and freed by the session hooks' owner (main.c). */
    char *hold_file;

    /* The housekeeper's last look at the publisher's SRT counters (its
     * thread only): drops between two looks are logged. */
    uint32_t link_gen;
    int64_t link_dropped, link_lost, link_retrans;
    int64_t link_seen_ms;
    /* The viewer peak last written to the recording's folder (the
     * housekeeper's only), so a restart keeps "how many watched". */
    uint64_t peak_saved;

    atomic_uint_fast64_t bytes_in;  /* SRT payload bytes received */
    atomic_uint_fast64_t packets_in;  /* SRT messages received */
    atomic_uint_fast64_t publishers_total;
};

struct session_hooks {
    /* Called once per new session before it becomes visible; 0 or -1. */
    int (*setup)(struct session *s, void *opaque);
    /* Called once per session by registry_free. */
    void (*teardown)(struct session *s, void *opaque);
    void *opaque;
};

struct registry;

/* Creates the registry and one session per configured [session]. The
 * registry keeps a pointer to cfg (which must outlive it). NULL on failure. */
struct registry *registry_create(const struct config *cfg,
                                 const struct session_hooks *hooks);

/* Tears down every session (teardown hook) and frees the registry. */
void registry_free(struct registry **reg);

/* Session by id, or NULL. */
struct session *registry_find(struct registry *reg, const char *id);

/* Session by id; in ad-hoc mode creates it when missing. NULL when unknown
 * (or the registry is full, or setup failed: logged). */
struct session *registry_get_for_publish(struct registry *reg, const char *id);

/* 0 when a publisher to id would make a new ad-hoc session and it fits;
 * REGISTRY_FAILED when not ad-hoc mode or id is invalid; REGISTRY_EXISTS
 * when it exists; else REGISTRY_FULL or REGISTRY_FULL_DELETED (logged). Makes nothing: ingest
 * asks before the handshake and creates once libsrt accepted it. */
int registry_adhoc_room(struct registry *reg, const char *id);

/* In ad-hoc mode, the session of a recording an earlier run left in
 * data_dir/recordings (the setup hook finds the recording): 1 when it was
 * made, 0 when a session of that id exists, a registry_err otherwise
 * (logged). */
int registry_restore_adhoc(struct registry *reg, const char *id);

/* Snapshot of the sessions, in creation order. Returns the count written. */
size_t registry_list(struct registry *reg, struct session **out, size_t cap);

/* How many sessions registry_list would give now (deleted ones excluded). */
size_t registry_count(struct registry *reg);

/* A consistent copy of a session's descriptive fields. */
struct session_info {
    char title[SESSION_TITLE_MAX + 1];
    char speakers[SESSION_SPEAKERS_MAX + 1];
    char track[4 * CONFIG_TRACK_MAX + 1];
    enum session_format format;
    time_t starts;
    bool has_passphrase;
    char passphrase[CONFIG_PASS_MAX + 1];
    bool ingest_strict;
    bool from_api;
    bool adhoc;
};
void session_info(struct session *s, struct session_info *out);

/* A slot's margin: ingest_window = strict lets a speaker in this long
 * before and after the slot, and the conference page lists a talk that has
 * not started as upcoming until the end of it (a speaker running late). */
#define SESSION_SLOT_MARGIN_S (30 * 60)

/* The end of a scheduled session's slot, margin included; 0 when it has no
 * start time. */
time_t session_slot_close(const struct session_info *in);

/* Replaces the descriptive fields (copies conf's strings). 0 or -1 (ENOMEM). */
int session_update(struct session *s, const struct session_conf *conf);

/* registry_add's errors. */
enum registry_err {
    REGISTRY_EXISTS = -1,           /* a (not deleted) session has this id */
    REGISTRY_FULL = -2,             /* REGISTRY_MAX_SESSIONS live sessions */
    REGISTRY_FULL_DELETED = -3,     /* REGISTRY_MAX_KEPT objects, the rest deleted */
    REGISTRY_FAILED = -4,           /* out of memory, or the setup hook failed */
};

/* Adds a session created through the API: 0 and *out, or a registry_err
 * (the limits and failures are logged; *out is left untouched). A deleted
 * session of the same id stays deleted; the new one starts from scratch. */
int registry_add(struct registry *reg, const struct session_conf *conf, struct session **out);

/* The same for a [session] a config reload added (not saved to
 * sessions.json, not changed or deleted through the API). */
int registry_add_config(struct registry *reg, const struct session_conf *conf, struct session **out);

/* A short message for a registry_err. */
const char *registry_strerror(int err);

/* Hides a session from lookups and publishers and frees its place among the
 * live sessions; its memory stays valid until registry_free. Removing it
 * twice is harmless. */
void registry_remove(struct registry *reg, struct session *s);

/* JSON text of the API-created sessions for data_dir/sessions.json
 * (passphrases included; the file is 0600). Caller frees. NULL on ENOMEM. */
char *registry_dump_api(struct registry *reg);

/* Adds the sessions of a sessions.json text. Returns how many, -1 on a
 * malformed file (logged). */
int registry_load_api(struct registry *reg, const char *json_text);

/* Validates and fills conf from a JSON object (API create/update). With
 * partial, absent fields keep conf's values. On error returns -1 and points
 * *field at the offending field name and *why at a message (static). */
int session_conf_from_json(struct session_conf *conf, const void *json_obj, bool partial,
                           const char **field, const char **why);

/* Publisher bookkeeping, all under s->lock. session_attach returns the
 * previous publisher socket (NO_PUBLISHER if none) which the caller closes,
 * copies its address into old_addr (if not NULL; empty when none) and
 * stores the new generation in *gen. */
int session_attach(struct session *s, int sock, const char *addr, uint32_t *gen,
                   char *old_addr, size_t old_len);
/* Clears the publisher if gen is still the current one; returns true then. */
bool session_detach(struct session *s, uint32_t gen);
/* Copies the publisher address into buf (empty when none); returns live. */
bool session_publisher(struct session *s, char *buf, size_t len, time_t *since);
/* The publisher's socket (to kick it, or read its link), NO_PUBLISHER when none. */
int session_publisher_sock(struct session *s);

/* After the organizer's end an encoder left running (OBS and
 * srt-live-transmit reconnect by themselves) would make the session live
 * again at once, or keep it from ending: publishers are refused for
 * SESSION_END_HOLD_S from the end, and from each refused try after it that
 * comes from the kicked publisher's host (anyone else's tries cannot keep
 * the session closed). A speaker who stops and starts again later gets in.
 * Call before kicking the publisher. */
#define SESSION_END_HOLD_S 10
void session_hold_publishers(struct session *s);
/* True when a publisher from peer ("host:port") is to be refused now. */
bool session_publisher_held(struct session *s, const char *peer);
/* The hold as hold_file left it, when its SESSION_END_HOLD_S have not run
 * out: a restart must not let the encoder the organizer ended back in. */
void session_hold_restore(struct session *s);

#endif
