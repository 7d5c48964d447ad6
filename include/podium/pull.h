/* SRT pull subscribers (stream id m=request): each gets the session's live
 * MPEG-TS as the segmenter muxes it, from the start of the next segment
 * (PAT/PMT and a keyframe) on. The bytes are muxed once and sent to every
 * subscriber; a subscriber whose connection fails or falls behind (libsrt's
 * send buffer full) is dropped, never waited for. */
#ifndef PODIUM_PULL_H
#define PODIUM_PULL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PULL_MAX 8                  /* subscribers per session */
#define PULL_MESSAGE (7 * 188)      /* TS bytes per SRT message, as receivers expect */

struct pull;

/* NULL on allocation failure. id: the session's, for log lines. */
struct pull *pull_create(const char *id);
/* Closes every subscriber's socket and frees p (call while libsrt is up). */
void pull_free(struct pull **p);

/* Takes ownership of the connected SRT socket sock: it is closed when the
 * subscriber is dropped or p freed, or now when p is full (logged). */
void pull_add(struct pull *p, int sock, const char *peer);

/* Closes every subscriber; later ones are still accepted (a session that
 * ended may start again). why is logged. */
void pull_drop_all(struct pull *p, const char *why);

/* Closes every subscriber and refuses later ones (shutdown, before libsrt
 * stops, or the session deleted). why is logged. */
void pull_close_all(struct pull *p, const char *why);

/* Sends one SRT message (len <= PULL_MESSAGE) of the segmenter's MPEG-TS
 * to every subscriber; segment_start: it begins a segment, where waiting
 * subscribers join. The bytes are only read. */
void pull_send(struct pull *p, const uint8_t *data, size_t len, bool segment_start);

/* Connected subscribers (for the session JSON and metrics). */
int pull_count(struct pull *p);

#endif
