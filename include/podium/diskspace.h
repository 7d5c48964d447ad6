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
    double seconds_left;        /* at that rate; < 0 when nothing records */
};

/* Watches data_dir's recordings folder (data_dir itself until that exists).
 * NULL when out of memory. Free with diskspace_free. */
struct diskspace *diskspace_create(const char *data_dir);
void diskspace_free(struct diskspace **d);

/* Measures now, with recording_bps the sum of the live sessions' rates.
 * Logs a warn line when under an hour of recording is left, an error line
 * under 10 minutes, and an info line once there are 90 minutes again.
 * One thread calls it (the housekeeper). */
void diskspace_update(struct diskspace *d, double recording_bps);

/* The last measurement (thread-safe). */
void diskspace_get(struct diskspace *d, struct disk_space *out);

#endif
