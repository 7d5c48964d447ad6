#include "podium/session.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "podium/clock.h"
#include "podium/log.h"

struct registry {
    const struct config *cfg;
    struct session_hooks hooks;
    pthread_mutex_t lock;                 /* guards the four fields below */
    struct session *items[REGISTRY_MAX_SESSIONS];   /* live, in creation order */
    size_t n;
    /* Deleted sessions leave items (their slot is reused) but are not
     * freed: threads may still hold them (see session.h). Live plus
     * deleted stay within REGISTRY_MAX_KEPT, so a deletion always has a
     * place here and create/delete cycles cannot grow memory without end. */
    struct session *deleted[REGISTRY_MAX_KEPT];
    size_t n_deleted;
};

static void session_destroy(struct registry *reg, struct session *s)
{
    if (reg->hooks.teardown)
        reg->hooks.teardown(s, reg->hooks.opaque);
    free(s->conf.title);
    free(s->conf.speakers);
    free(s->conf.passphrase);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Caller holds reg->lock. 0 when one more session fits, else a
 * registry_err (logged under id). */
static int room_locked(struct registry *reg, const char *id)
{
    if (reg->n >= REGISTRY_MAX_SESSIONS) {
        log_msg(LV_WARN, id, "\"session limit reached\" max=%d", REGISTRY_MAX_SESSIONS);
        return REGISTRY_FULL;
    }
    if (reg->n + reg->n_deleted >= REGISTRY_MAX_KEPT) {
        log_msg(LV_WARN, id, "\"session refused: the registry is full of deleted "
                "sessions, whose memory is kept until Podium restarts\" live=%zu deleted=%zu "
                "max=%d", reg->n, reg->n_deleted, REGISTRY_MAX_KEPT);
        return REGISTRY_FULL_DELETED;
    }
    return 0;
}

/* Caller holds reg->lock. 0 and *out, or a registry_err (logged). */
static int session_new(struct registry *reg, const struct session_conf *conf,
                       struct session **out)
{
    int room = room_locked(reg, conf->id);
    if (room < 0)
        return room;
    struct session *s = calloc(1, sizeof(*s));
    if (!s)
        return REGISTRY_FAILED;
    snprintf(s->id, sizeof(s->id), "%s", conf->id);
    s->conf = *conf;
    s->conf.title = dup_or_null(conf->title ? conf->title : conf->id);
    s->conf.speakers = dup_or_null(conf->speakers ? conf->speakers : "");
    s->conf.passphrase = dup_or_null(conf->passphrase);
    pthread_mutex_init(&s->lock, NULL);
    s->publisher_sock = NO_PUBLISHER;
    if (!s->conf.title || !s->conf.speakers
        || (conf->passphrase && !s->conf.passphrase)
        || (reg->hooks.setup && reg->hooks.setup(s, reg->hooks.opaque) < 0)) {
        log_msg(LV_ERROR, conf->id, "\"cannot set up session\"");
        free(s->conf.title);
        free(s->conf.speakers);
        free(s->conf.passphrase);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return REGISTRY_FAILED;
    }
    reg->items[reg->n++] = s;
    *out = s;
    return 0;
}

struct registry *registry_create(const struct config *cfg,
                                 const struct session_hooks *hooks)
{
    struct registry *reg = calloc(1, sizeof(*reg));
    if (!reg)
        return NULL;
    reg->cfg = cfg;
    if (hooks)
        reg->hooks = *hooks;
    pthread_mutex_init(&reg->lock, NULL);
    for (size_t i = 0; i < cfg->n_sessions; i++) {
        struct session *s;
        if (session_new(reg, &cfg->sessions[i], &s) < 0) {
            registry_free(&reg);
            return NULL;
        }
    }
    return reg;
}

void registry_free(struct registry **preg)
{
    struct registry *reg = *preg;
    if (!reg)
        return;
    for (size_t i = 0; i < reg->n; i++)
        session_destroy(reg, reg->items[i]);
    for (size_t i = 0; i < reg->n_deleted; i++)
        session_destroy(reg, reg->deleted[i]);
    pthread_mutex_destroy(&reg->lock);
    free(reg);
    *preg = NULL;
}

/* The live session of that id. */
static struct session *find_locked(struct registry *reg, const char *id)
{
    for (size_t i = 0; i < reg->n; i++)
        if (strcmp(reg->items[i]->id, id) == 0)
            return reg->items[i];
    return NULL;
}

struct session *registry_find(struct registry *reg, const char *id)
{
    pthread_mutex_lock(&reg->lock);
    struct session *s = find_locked(reg, id);
    pthread_mutex_unlock(&reg->lock);
    return s;
}

/* Caller holds reg->lock and has checked that no session has this id. */
static int adhoc_new_locked(struct registry *reg, const char *id, struct session **out)
{
    struct session_conf conf = { .format = FORMAT_PRESENTATION };
    snprintf(conf.id, sizeof(conf.id), "%s", id);
    int ret = session_new(reg, &conf, out);
    if (ret == 0)
        (*out)->adhoc = true;
    return ret;
}

struct session *registry_get_for_publish(struct registry *reg, const char *id)
{
    pthread_mutex_lock(&reg->lock);
    struct session *s = find_locked(reg, id);
    if (!s && reg->cfg->adhoc_sessions && config_valid_id(id)
        && adhoc_new_locked(reg, id, &s) == 0)
        log_msg(LV_WARN, id, "\"ad-hoc session created without passphrase\"");
    pthread_mutex_unlock(&reg->lock);
    return s;
}

int registry_adhoc_room(struct registry *reg, const char *id)
{
    if (!reg->cfg->adhoc_sessions || !config_valid_id(id))
        return REGISTRY_FAILED;
    pthread_mutex_lock(&reg->lock);
    int ret = find_locked(reg, id) ? REGISTRY_EXISTS : room_locked(reg, id);
    pthread_mutex_unlock(&reg->lock);
    return ret;
}

int registry_restore_adhoc(struct registry *reg, const char *id)
{
    if (!reg->cfg->adhoc_sessions || !config_valid_id(id))
        return REGISTRY_FAILED;
    struct session *s = NULL;
    pthread_mutex_lock(&reg->lock);
    int ret = find_locked(reg, id) ? 0 : adhoc_new_locked(reg, id, &s);
    pthread_mutex_unlock(&reg->lock);
    return s ? 1 : ret;
}

size_t registry_list(struct registry *reg, struct session **out, size_t cap)
{
    size_t n = 0;
    pthread_mutex_lock(&reg->lock);
    for (size_t i = 0; i < reg->n && n < cap; i++)
        out[n++] = reg->items[i];
    pthread_mutex_unlock(&reg->lock);
    return n;
}

size_t registry_count(struct registry *reg)
{
    pthread_mutex_lock(&reg->lock);
    size_t n = reg->n;
    pthread_mutex_unlock(&reg->lock);
    return n;
}

void session_info(struct session *s, struct session_info *out)
{
    pthread_mutex_lock(&s->lock);
    snprintf(out->title, sizeof(out->title), "%s", s->conf.title ? s->conf.title : s->id);
    snprintf(out->speakers, sizeof(out->speakers), "%s", s->conf.speakers ? s->conf.speakers : "");
    snprintf(out->track, sizeof(out->track), "%s", s->conf.track);
    out->format = s->conf.format;
    out->starts = s->conf.starts;
    out->has_passphrase = s->conf.passphrase != NULL;
    snprintf(out->passphrase, sizeof(out->passphrase), "%s",
             s->conf.passphrase ? s->conf.passphrase : "");
    out->ingest_strict = s->conf.ingest_strict;
    out->from_api = s->from_api;
    out->adhoc = s->adhoc;
    pthread_mutex_unlock(&s->lock);
}

time_t session_slot_close(const struct session_info *in)
{
    if (!in->starts)
        return 0;
    return in->starts + config_format_minutes(in->format) * 60 + SESSION_SLOT_MARGIN_S;
}

int session_update(struct session *s, const struct session_conf *conf)
{
    char *title = dup_or_null(conf->title ? conf->title : s->id);
    char *speakers = dup_or_null(conf->speakers ? conf->speakers : "");
    char *pass = dup_or_null(conf->passphrase);
    if (!title || !speakers || (conf->passphrase && !pass)) {
        free(title);
        free(speakers);
        free(pass);
        return -1;
    }
    pthread_mutex_lock(&s->lock);
    free(s->conf.title);
    free(s->conf.speakers);
    free(s->conf.passphrase);
    s->conf.title = title;
    s->conf.speakers = speakers;
    s->conf.passphrase = pass;
    snprintf(s->conf.track, sizeof(s->conf.track), "%s", conf->track);
    s->conf.format = conf->format;
    s->conf.starts = conf->starts;
    s->conf.ingest_strict = conf->ingest_strict;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

static int add(struct registry *reg, const struct session_conf *conf, bool from_api,
               struct session **out)
{
    struct session *s = NULL;
    pthread_mutex_lock(&reg->lock);
    /* A deleted session's object stays (other threads may still hold it);
     * a new one with the same id starts from scratch. */
    int ret = find_locked(reg, conf->id) ? REGISTRY_EXISTS : session_new(reg, conf, &s);
    if (ret == 0) {
        s->from_api = from_api;
        *out = s;
    }
    pthread_mutex_unlock(&reg->lock);
    return ret;
}

int registry_add(struct registry *reg, const struct session_conf *conf, struct session **out)
{
    return add(reg, conf, true, out);
}

int registry_add_config(struct registry *reg, const struct session_conf *conf, struct session **out)
{
    return add(reg, conf, false, out);
}

void registry_remove(struct registry *reg, struct session *s)
{
    pthread_mutex_lock(&reg->lock);
    /* Two DELETEs of one session may both have found it. */
    for (size_t i = 0; i < reg->n; i++) {
        if (reg->items[i] == s) {
            memmove(&reg->items[i], &reg->items[i + 1], (reg->n - i - 1) * sizeof(s));
            reg->n--;
            reg->deleted[reg->n_deleted++] = s;
            s->deleted = true;
            break;
        }
    }
    pthread_mutex_unlock(&reg->lock);
}

const char *registry_strerror(int err)
{
    switch (err) {
    case REGISTRY_EXISTS:
        return "a session with this id exists";
    case REGISTRY_FULL:
        return "session limit reached";
    case REGISTRY_FULL_DELETED:
        return "the registry is full of deleted sessions (freed when Podium restarts)";
    default:
        return "cannot create the session";
    }
}

static const char *const format_keys[] = { "presentation", "panel", "workshop", "lightning" };

char *registry_dump_api(struct registry *reg)
{
    json_t *arr = json_array();
    pthread_mutex_lock(&reg->lock);
    for (size_t i = 0; i < reg->n; i++) {
        struct session *s = reg->items[i];
        if (!s->from_api)
            continue;
        struct session_info in;
        session_info(s, &in);
        json_t *o = json_object();
        json_object_set_new(o, "id", json_string(s->id));
        json_object_set_new(o, "title", json_string(in.title));
        json_object_set_new(o, "speakers", json_string(in.speakers));
        json_object_set_new(o, "track", json_string(in.track));
        json_object_set_new(o, "format", json_string(format_keys[in.format]));
        json_object_set_new(o, "starts", json_integer((json_int_t)in.starts));
        json_object_set_new(o, "passphrase", json_string(in.passphrase));
        json_object_set_new(o, "ingest_window", json_string(in.ingest_strict ? "strict" : "open"));
        json_array_append_new(arr, o);
    }
    pthread_mutex_unlock(&reg->lock);
    json_t *root = json_object();
    json_object_set_new(root, "sessions", arr);
    char *txt = json_dumps(root, JSON_INDENT(1));
    json_decref(root);
    return txt;
}

int registry_load_api(struct registry *reg, const char *text)
{
    json_error_t err;
    json_t *root = json_loads(text, 0, &err);
    json_t *arr = root ? json_object_get(root, "sessions") : NULL;
    if (!json_is_array(arr)) {
        char why[2 * JSON_ERROR_TEXT_LENGTH];
        /* jansson quotes the text it stopped at */
        log_escape(why, sizeof(why), root ? "no sessions array" : err.text, sizeof(err.text));
        log_msg(LV_ERROR, NULL, "\"sessions.json is malformed\" line=%d err=\"%s\"",
                err.line, why);
        json_decref(root);
        return -1;
    }
    int n = 0;
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) {
        struct session_conf c = { 0 };
        const char *field, *why;
        const char *id = json_string_value(json_object_get(o, "id"));
        json_t *starts = json_object_get(o, "starts");
        if (!id || !config_valid_id(id)) {
            log_msg(LV_ERROR, NULL, "\"sessions.json: entry without a valid id skipped\" index=%zu", i);
            continue;
        }
        snprintf(c.id, sizeof(c.id), "%s", id);
        json_t *copy = json_deep_copy(o);
        if (json_is_integer(starts)) {      /* stored as Unix seconds */
            char iso[32];
            struct tm tm;
            time_t t = (time_t)json_integer_value(starts);
            /* a time gmtime cannot break down fails validation as text */
            if (!gmtime_r(&t, &tm) || !strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm))
                snprintf(iso, sizeof(iso), "out of range");
            if (t)
                json_object_set_new(copy, "starts", json_string(iso));
            else
                json_object_set_new(copy, "starts", json_null());
        }
        int r = session_conf_from_json(&c, copy, false, &field, &why);
        char fname[128];                    /* an unknown key names itself */
        log_escape(fname, sizeof(fname), r < 0 ? field : "id", 48);
        json_decref(copy);
        struct session *s;
        if (r == 0 && (r = registry_add(reg, &c, &s)) < 0)
            why = registry_strerror(r);
        if (r == 0)
            n++;
        else
            log_msg(LV_ERROR, id, "\"sessions.json: entry skipped\" field=\"%s\" why=\"%s\"",
                    fname, why);
        free(c.title);
        free(c.speakers);
        free(c.passphrase);
    }
    json_decref(root);
    return n;
}

static int set_string(char **dst, json_t *v, size_t max, const char **why)
{
    if (!json_is_string(v)) {
        *why = "must be a string";
        return -1;
    }
    const char *str = json_string_value(v);
    size_t chars = 0;
    for (const char *q = str; *q; q++)
        chars += ((unsigned char)*q & 0xC0) != 0x80;   /* UTF-8 code points */
    if (chars > max || json_string_length(v) > 4 * max) {
        *why = "is too long";
        return -1;
    }
    for (const char *p = str; *p; p++) {
        if ((unsigned char)*p < 0x20) {
            *why = "must not contain control characters";
            return -1;
        }
    }
    char *d = strdup(str);
    if (!d) {
        *why = "out of memory";
        return -1;
    }
    free(*dst);
    *dst = d;
    return 0;
}

int session_conf_from_json(struct session_conf *c, const void *obj, bool partial,
                           const char **field, const char **why)
{
    json_t *o = (json_t *)obj;
    const char *key;
    json_t *v;
    if (!json_is_object(o)) {
        *field = "(body)";
        *why = "must be a JSON object";
        return -1;
    }
    json_object_foreach(o, key, v) {
        *field = key;
        if (strcmp(key, "id") == 0) {
            continue;                      /* checked by the caller */
        } else if (strcmp(key, "title") == 0) {
            if (set_string(&c->title, v, SESSION_TITLE_MAX, why) < 0)
                return -1;
            if (!*c->title) {
                *why = "must not be empty";
                return -1;
            }
        } else if (strcmp(key, "speakers") == 0) {
            if (json_is_array(v)) {
                /* ["Ada", "Alan"] is stored as "Ada, Alan" */
                char buf[SESSION_SPEAKERS_MAX + 1] = "";
                size_t i, len = 0;
                json_t *e;
                json_array_foreach(v, i, e) {
                    const char *name = json_string_value(e);
                    if (!name || strchr(name, ',')) {
                        *why = "must be strings without commas";
                        return -1;
                    }
                    int n = snprintf(buf + len, sizeof(buf) - len, "%s%s", i ? ", " : "", name);
                    if (n < 0 || (size_t)n >= sizeof(buf) - len) {
                        *why = "is too long";
                        return -1;
                    }
                    len += (size_t)n;
                }
                json_t *tmp = json_string(buf);
                int r = set_string(&c->speakers, tmp, SESSION_SPEAKERS_MAX, why);
                json_decref(tmp);
                if (r < 0)
                    return -1;
            } else if (set_string(&c->speakers, v, SESSION_SPEAKERS_MAX, why) < 0) {
                return -1;
            }
        } else if (strcmp(key, "track") == 0) {
            const char *t = json_is_null(v) ? "" : json_string_value(v);
            if (!t) {
                *why = "must be a string";
                return -1;
            }
            if (!config_valid_track(t, why))
                return -1;
            snprintf(c->track, sizeof(c->track), "%s", t);
        } else if (strcmp(key, "format") == 0) {
            const char *f = json_string_value(v);
            int i;
            for (i = 0; i < 4 && !(f && strcmp(f, format_keys[i]) == 0); i++)
                ;
            if (i == 4) {
                *why = "must be one of presentation, panel, workshop, lightning";
                return -1;
            }
            c->format = (enum session_format)i;
        } else if (strcmp(key, "starts") == 0) {
            if (json_is_null(v)) {
                c->starts = 0;
            } else if (!json_is_string(v) || config_parse_time(json_string_value(v), &c->starts) < 0) {
                *why = "must be a time like 2021-02-22T16:00:00Z (UTC) or "
                       "2021-02-22T17:00:00+01:00 (local, with its offset)";
                return -1;
            }
        } else if (strcmp(key, "passphrase") == 0) {
            size_t n = json_is_string(v) ? json_string_length(v) : 0;
            if (!json_is_string(v) || n < CONFIG_PASS_MIN || n > CONFIG_PASS_MAX) {
                *why = "must be a string of 10 to 79 characters";
                return -1;
            }
            if (set_string(&c->passphrase, v, CONFIG_PASS_MAX, why) < 0)
                return -1;
        } else if (strcmp(key, "ingest_window") == 0) {
            const char *w = json_string_value(v);
            if (!w || (strcmp(w, "open") && strcmp(w, "strict"))) {
                *why = "must be open or strict";
                return -1;
            }
            c->ingest_strict = strcmp(w, "strict") == 0;
        } else {
            *why = "unknown field";
            return -1;
        }
    }
    if (!partial && !c->passphrase) {
        *field = "passphrase";
        *why = "is required";
        return -1;
    }
    if (c->ingest_strict && !c->starts) {
        *field = "ingest_window";
        *why = "strict needs starts";
        return -1;
    }
    return 0;
}

int session_attach(struct session *s, int sock, const char *addr, uint32_t *gen,
                   char *old_addr, size_t old_len)
{
    pthread_mutex_lock(&s->lock);
    int old = s->publisher_sock;
    if (old_addr)
        snprintf(old_addr, old_len, "%s", old != NO_PUBLISHER ? s->publisher_addr : "");
    s->publisher_sock = sock;
    *gen = ++s->publisher_gen;
    snprintf(s->publisher_addr, sizeof(s->publisher_addr), "%s", addr);
    s->publisher_since = time(NULL);
    pthread_mutex_unlock(&s->lock);
    atomic_fetch_add(&s->publishers_total, 1);
    return old;
}

bool session_detach(struct session *s, uint32_t gen)
{
    bool current;
    pthread_mutex_lock(&s->lock);
    current = s->publisher_gen == gen;
    if (current) {
        s->publisher_sock = NO_PUBLISHER;
        s->publisher_addr[0] = '\0';
        s->last_publish_end = time(NULL);
    }
    pthread_mutex_unlock(&s->lock);
    return current;
}

/* Length of the host part of "host:port" or "[v6]:port". */
static size_t host_len(const char *addr)
{
    const char *colon = strrchr(addr, ':');
    return colon ? (size_t)(colon - addr) : strlen(addr);
}

/* Writes when the hold was last moved on, and for whom. A torn write
 * reads back as no hold: the file only ever narrows who gets in. */
static void hold_save(const struct session *s, const char *host)
{
    if (!s->hold_file)
        return;
    FILE *f = fopen(s->hold_file, "w");
    if (!f && errno == ENOENT)
        return;                     /* nothing recorded yet, so no folder */
    int bad = !f || fprintf(f, "%lld %s\n", (long long)clock_wall_ms(), host) < 0;
    if (f && fclose(f) != 0)
        bad = 1;
    if (bad) {
        log_msg(LV_WARN, s->id, "\"cannot keep the end hold for a restart\" path=%s err=\"%s\"",
                s->hold_file, strerror(errno));
    }
}

void session_hold_publishers(struct session *s)
{
    char host[sizeof(s->end_hold_host)];
    pthread_mutex_lock(&s->lock);
    s->end_hold_ms = clock_mono_ms() + SESSION_END_HOLD_S * 1000LL;
    bool on = s->publisher_sock != NO_PUBLISHER;
    snprintf(s->end_hold_host, sizeof(s->end_hold_host), "%.*s",
             on ? (int)host_len(s->publisher_addr) : 0, s->publisher_addr);
    snprintf(host, sizeof(host), "%s", s->end_hold_host);
    pthread_mutex_unlock(&s->lock);
    hold_save(s, host);
}

bool session_publisher_held(struct session *s, const char *peer)
{
    int64_t now = clock_mono_ms();
    char host[sizeof(s->end_hold_host)];
    pthread_mutex_lock(&s->lock);
    bool held = now < s->end_hold_ms;
    size_t n = host_len(peer);
    bool again = held && s->end_hold_host[0] && strlen(s->end_hold_host) == n
                 && strncmp(s->end_hold_host, peer, n) == 0;
    if (again)
        s->end_hold_ms = now + SESSION_END_HOLD_S * 1000LL;
    snprintf(host, sizeof(host), "%s", s->end_hold_host);
    pthread_mutex_unlock(&s->lock);
    if (again)
        hold_save(s, host);
    return held;
}

void session_hold_restore(struct session *s)
{
    FILE *f = s->hold_file ? fopen(s->hold_file, "r") : NULL;
    if (!f)
        return;
    long long at = 0;
    char host[sizeof(s->end_hold_host)] = "";
    int got = fscanf(f, "%lld %63s", &at, host);
    fclose(f);
    int64_t left = at + SESSION_END_HOLD_S * 1000LL - clock_wall_ms();
    if (got < 1 || left <= 0 || left > SESSION_END_HOLD_S * 1000LL)
        return;
    pthread_mutex_lock(&s->lock);
    s->end_hold_ms = clock_mono_ms() + left;
    snprintf(s->end_hold_host, sizeof(s->end_hold_host), "%s", host);
    pthread_mutex_unlock(&s->lock);
    log_msg(LV_INFO, s->id, "\"end hold kept across the restart\" host=%s left_ms=%lld",
            host[0] ? host : "(any)", (long long)left);
}

int session_publisher_sock(struct session *s)
{
    pthread_mutex_lock(&s->lock);
    int sock = s->publisher_sock;
    pthread_mutex_unlock(&s->lock);
    return sock;
}

bool session_publisher(struct session *s, char *buf, size_t len, time_t *since)
{
    pthread_mutex_lock(&s->lock);
    bool live = s->publisher_sock != NO_PUBLISHER;
    snprintf(buf, len, "%s", live ? s->publisher_addr : "");
    if (since)
        *since = s->publisher_since;
    pthread_mutex_unlock(&s->lock);
    return live;
}
