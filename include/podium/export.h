/* MP4 export of a recording: stream copy of the recorded segments into
 * <id>.mp4 with +faststart, optionally trimmed, on a background thread. */
#ifndef PODIUM_EXPORT_H
#define PODIUM_EXPORT_H

#include <stdbool.h>

#include "podium/record.h"

enum export_state { EXPORT_IDLE, EXPORT_RUNNING, EXPORT_DONE, EXPORT_FAILED };

struct exporter;

/* done(opaque, ok) is called on the export thread when a run finishes. */
typedef void (*export_done_fn)(void *opaque, bool ok);

struct exporter *export_create(struct recorder *rec, const char *id,
                               export_done_fn done, void *opaque);
/* Cancels a running export, waits for it, frees; sets *e to NULL. */
void export_free(struct exporter **e);
/* Cancels a running export (its partial file is removed), waits for it,
 * and forgets the last run: the state is EXPORT_IDLE again. For a recording
 * being deleted. */
void export_reset(struct exporter *e);

/* Starts an export of [start, end] seconds of the recording (end <= 0: to
 * the end). The cut is on the keyframe at or before start. Returns 0, or
 * -1 when one is already running. */
int export_start(struct exporter *e, double start, double end);

#define EXPORT_WARNING_MAX 224        /* export_status.warning, with its NUL */

struct export_status {
    enum export_state state;
    int percent;
    double start, end;             /* as requested */
    double duration;               /* of the file written (DONE) */
    char error[128];
    /* DONE: what the MP4 could not hold right (its audio changing rate or
     * channels: MP4 describes a track once), else empty */
    char warning[EXPORT_WARNING_MAX];
};
void export_get_status(struct exporter *e, struct export_status *out);
const char *export_state_name(enum export_state s);

#endif
