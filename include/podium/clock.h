/* CLOCK_MONOTONIC in milliseconds: the time base of held playlist requests'
 * deadlines (store.h) and of the publisher hold after an end (session.h). */
#ifndef PODIUM_CLOCK_H
#define PODIUM_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t clock_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* CLOCK_REALTIME in milliseconds: for times kept across a restart. */
static inline int64_t clock_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
