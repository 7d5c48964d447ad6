/* Config reload (SIGHUP): applies the [session] sections of the config
 * file to the running registry without a restart, so an organizer can add
 * a talk, move one or change a leaked passphrase while others are live. */
#ifndef PODIUM_RELOAD_H
#define PODIUM_RELOAD_H

#include "podium/config.h"
#include "podium/session.h"

/* Removes a session gone from the file when nothing of it would be lost
 * (never streamed: a cancelled talk); false when it must stay. */
typedef bool (*reload_remove_fn)(struct session *s, void *opaque);

/* Re-reads path into *next (the caller frees it with config_free, in
 * either case). A file with errors changes nothing (each error is logged).
 * Otherwise sessions new in the file are added and changed ones updated
 * (the next handshake uses a new passphrase; a publisher on stays on).
 * A session gone from the file is offered to remove(); one it keeps, and
 * [server]/[hls]/[srt]/[recording] keys that differ from running's, are
 * logged as waiting for a restart, except admin_token, which is the
 * caller's to apply from *next.
 * Returns 0 when the file was applied, -1 when it was refused. */
int reload_config(struct registry *reg, const struct config *running, const char *path,
                  struct config *next, reload_remove_fn remove, void *opaque);

#endif
