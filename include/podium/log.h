/* Logging: one logfmt line per event on stderr.
 *   ts=2026-11-26T14:40:00.123Z level=info session=keynote msg="..." k=v
 * The format string after `msg` is the rest of the line; callers pass
 * key=value pairs inside it: log_msg(LV_INFO, id, "\"publisher joined\" peer=%s", p).
 * Thread-safe: each line is written with one write(2). */
#ifndef PODIUM_LOG_H
#define PODIUM_LOG_H

#include <stddef.h>

enum log_level { LV_DEBUG, LV_INFO, LV_WARN, LV_ERROR };

/* Minimum level printed; defaults to LV_INFO, PODIUM_LOG=debug lowers it. */
void log_set_level(enum log_level level);

/* s made safe to print inside a quoted log value: '"' and '\\' escaped,
 * control bytes as \n, \r, \t or \xHH, so a peer's string can neither end
 * the line nor the quotes. Line ends closing s are dropped (libraries end
 * their messages with one). At most max bytes of s are taken ("..." marks
 * the cut); the result is written to buf (cap bytes, truncated there too)
 * and returned. */
const char *log_escape(char *buf, size_t cap, const char *s, size_t max);

/* session may be NULL. fmt starts with the quoted message. */
void log_msg(enum log_level level, const char *session, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
