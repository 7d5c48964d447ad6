#include "podium/diskspace.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "podium/log.h"

#define LOW_S 3600.0            /* warn: under an hour left */
#define CRITICAL_S 600.0        /* error: under 10 minutes */
#define RECOVERED_S 5400.0      /* above this again: said once (no flapping) */

enum level { SPACE_OK, SPACE_LOW, SPACE_CRITICAL };

struct diskspace {
    char data_dir[200];
    pthread_mutex_t lock;       /* guards now */
    struct disk_space now;
    enum level level;           /* the housekeeper's own */
    bool stat_failed;           /* the last statvfs failed (logged once) */
};

struct diskspace *diskspace_create(const char *data_dir)
{
    struct diskspace *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    snprintf(d->data_dir, sizeof(d->data_dir), "%s", data_dir);
    pthread_mutex_init(&d->lock, NULL);
    return d;
}

void diskspace_free(struct diskspace **pd)
{
    struct diskspace *d = *pd;
    if (!d)
        return;
    pthread_mutex_destroy(&d->lock);
    free(d);
    *pd = NULL;
}

static void say_time_left(char *buf, size_t len, double s)
{
    if (s < 3600)
        snprintf(buf, len, "%.0f min", s / 60);
    else
        snprintf(buf, len, "%.1f h", s / 3600);
}

void diskspace_update(struct diskspace *d, double recording_bps)
{
    struct disk_space m = { .recording_bps = recording_bps, .rate_assumed = recording_bps <= 0 };
    struct statvfs st;
    snprintf(m.path, sizeof(m.path), "%s/recordings", d->data_dir);
    int r = statvfs(m.path, &st);
    if (r < 0 && errno == ENOENT) {
        snprintf(m.path, sizeof(m.path), "%s", d->data_dir);
        r = statvfs(m.path, &st);
    }
    if (r < 0) {
        if (!d->stat_failed)
            log_msg(LV_WARN, NULL, "\"cannot measure the space left for recordings\" path=%s err=\"%s\"",
                    m.path, strerror(errno));
        d->stat_failed = true;
        return;
    }
    d->stat_failed = false;
    m.known = true;
    m.free_bytes = (uint64_t)st.f_bavail * st.f_frsize;
    m.total_bytes = (uint64_t)st.f_blocks * st.f_frsize;
    double rate = m.rate_assumed ? DISK_ASSUMED_BPS : recording_bps;
    m.seconds_left = (double)m.free_bytes * 8.0 / rate;
    pthread_mutex_lock(&d->lock);
    d->now = m;
    pthread_mutex_unlock(&d->lock);

    enum level was = d->level;
    d->level = m.seconds_left < CRITICAL_S ? SPACE_CRITICAL
             : m.seconds_left < LOW_S ? SPACE_LOW
             : was != SPACE_OK && m.seconds_left < RECOVERED_S ? SPACE_LOW : SPACE_OK;
    char left[32];
    say_time_left(left, sizeof(left), m.seconds_left);
    const char *at = m.rate_assumed ? "for one talk at 3.3 Mb/s (nothing is live)"
                                    : "at the rate of the live sessions";
    if (d->level > was)
        log_msg(d->level == SPACE_CRITICAL ? LV_ERROR : LV_WARN, NULL,
                "\"recording space low: about %s of recording left %s; free space in the "
                "data_dir, or recordings will get gaps\" path=%s free_bytes=%llu recording_bps=%.0f "
                "seconds_left=%.0f", left, at, m.path, (unsigned long long)m.free_bytes, rate,
                m.seconds_left);
    else if (was != SPACE_OK && d->level == SPACE_OK)
        log_msg(LV_INFO, NULL, "\"recording space no longer low: about %s left %s\" path=%s "
                "free_bytes=%llu recording_bps=%.0f", left, at, m.path,
                (unsigned long long)m.free_bytes, rate);
}

void diskspace_get(struct diskspace *d, struct disk_space *out)
{
    pthread_mutex_lock(&d->lock);
    *out = d->now;
    pthread_mutex_unlock(&d->lock);
}
