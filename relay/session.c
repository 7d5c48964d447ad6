#include "podium/session.h"

#include <stdlib.h>
#include <string.h>

#include "podium/log.h"

struct registry {
    const struct config *cfg;
    struct session_hooks hooks;
    pthread_mutex_t lock;                 /* guards items/n */
    struct session *items[REGISTRY_MAX_SESSIONS];
    size_t n;
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

/* Caller holds reg->lock. */
static struct session *session_new(struct registry *reg,
                                   const struct session_conf *conf)
{
    if (reg->n >= REGISTRY_MAX_SESSIONS) {
        log_msg(LV_WARN, conf->id, "\"session limit reached\" max=%d",
                REGISTRY_MAX_SESSIONS);
        return NULL;
    }
    struct session *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
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
        return NULL;
    }
    reg->items[reg->n++] = s;
    return s;
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
        if (!session_new(reg, &cfg->sessions[i])) {
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
    pthread_mutex_destroy(&reg->lock);
    free(reg);
    *preg = NULL;
}

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

struct session *registry_get_for_publish(struct registry *reg, const char *id)
{
    pthread_mutex_lock(&reg->lock);
    struct session *s = find_locked(reg, id);
    if (!s && reg->cfg->adhoc_sessions && config_valid_id(id)) {
        struct session_conf conf = { .format = FORMAT_PRESENTATION };
        snprintf(conf.id, sizeof(conf.id), "%s", id);
        s = session_new(reg, &conf);
        if (s)
            log_msg(LV_WARN, id, "\"ad-hoc session created without passphrase\"");
    }
    pthread_mutex_unlock(&reg->lock);
    return s;
}

size_t registry_list(struct registry *reg, struct session **out, size_t cap)
{
    pthread_mutex_lock(&reg->lock);
    size_t n = reg->n < cap ? reg->n : cap;
    memcpy(out, reg->items, n * sizeof(*out));
    pthread_mutex_unlock(&reg->lock);
    return n;
}

int session_attach(struct session *s, int sock, const char *addr, uint32_t *gen)
{
    pthread_mutex_lock(&s->lock);
    int old = s->publisher_sock;
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
