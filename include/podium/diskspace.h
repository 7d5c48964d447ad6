/* Space left for recordings: the free space of the filesystem under
 * data_dir/recordings against the rate the live sessions record at, so an
 * organizer hears about a filling disk while there is time to act, not
 * from the first write error. */
#ifndef PODIUM_DISKSPACE_H
#define PODIUM_DISKSPACE_H

#include <stdbool.h>
#include <stdint.h>

struct diskspace;

struct disk_space {
    bool known;                 /* statvfs has answered at least once */
    char path[256];             /* the folder measured */
    uint64_t free_bytes;        /* available to Podium (f_bavail) */
    uint64_t total_bytes;
    double recording_bps;       /* bits/s being recorded now */
    /* at that rate or, with nothing live, at DISK_ASSUMED_BPS (one talk) */
    double seconds_left;
    bool rate_assumed;          /* nothing live: seconds_left is for one talk */
};

/* The rate of one talk as the README asks speakers for it (720p30 at up to
 * 3.5 Mb/s with audio): what the space is measured against while nothing
 * is live, so a disk filled overnight is said before the first talk. */
#define DISK_ASSUMED_BPS 3.3e6

/* Watches data_dir's recordings folder (data_dir itself until that exists).
 * NULL when out of memory. Free with diskspace_free. */
struct diskspace *diskspace_create(const char *data_dir);
void diskspace_free(struct diskspace **d);

/* Measures now, with recording_bps the sum of the live sessions' rates (0:
 * none live). Logs a warn line when under an hour of recording is left, an
 * error line under 10 minutes, and an info line once there are 90 minutes
 * again.
 * One thread calls it (the housekeeper). */
void diskspace_update(struct diskspace *d, double recording_bps);

/* The last measurement (thread-safe). */
void diskspace_get(struct diskspace *d, struct disk_space *out);

#endif
