/* Logging: one logfmt line per event on stderr.
 *   ts=2026-11-26T14:40:00.123Z level=info session=keynote msg="..." k=v
 * The format string after `msg` is the rest of the line; callers pass
 * key=value pairs inside it: log_msg(LV_INFO, id, "\"publisher joined\" peer=%s", p).
 * Thread-safe: each line is written with one write(2). */
#ifndef PODIUM_LOG_H
#define PODIUM_LOG_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

enum log_level { LV_DEBUG, LV_INFO, LV_WARN, LV_ERROR };

/* Minimum level printed; defaults to LV_INFO, PODIUM_LOG=debug lowers it. */
void log_set_level(enum log_level level);
/* Whether a line of this level would be printed. */
bool log_enabled(enum log_level level);

/* A budget of lines per window for a source that speaks about every bad
 * packet or request (libav, libmicrohttpd): a broken stream or a scanner
 * must not fill the disk. Static storage: LOG_QUOTA("libav", 20, 10). */
struct log_quota {
    pthread_mutex_t lock;
    const char *source;              /* named in the count line */
    unsigned per_window, window_s;
    time_t window;                   /* start of the current one */
    unsigned logged, left_out;
    bool clients;                    /* its count lines go with log_client */
};
#define LOG_QUOTA(source, per_window, window_s) \
    { PTHREAD_MUTEX_INITIALIZER, (source), (per_window), (window_s), 0, 0, 0, false }
/* For lines about HTTP clients' requests (log_client). */
#define LOG_CLIENT_QUOTA(source, per_window, window_s) \
    { PTHREAD_MUTEX_INITIALIZER, (source), (per_window), (window_s), 0, 0, 0, true }
/* Whether one more line may be logged at now. When a window is over, the
 * count of the lines it left out is logged first (a warn line,
 * "<source>: messages not logged ..." count=N). */
bool log_quota_take(struct log_quota *q, time_t now);
/* Logs that count for a window that is over without waiting for the next
 * line (call about once a second); returns it, 0 when nothing was left out. */
unsigned log_quota_tick(struct log_quota *q, time_t now);

/* s made safe to print inside a quoted log value: '"' and '\\' escaped,
 * control bytes as \n, \r, \t or \xHH, so a peer's string can neither end
 * the line nor the quotes. Line ends closing s are dropped (libraries end
 * their messages with one). At most max bytes of s are taken ("..." marks
 * the cut); the result is written to buf (cap bytes, truncated there too)
 * and returned. */
const char *log_escape(char *buf, size_t cap, const char *s, size_t max);

/* The last warn and error lines (a speaker refused, a link dropping
 * packets, keyframes far apart, a config reload refused, a disk filling),
 * for the organizer page: an organizer told "I cannot connect" sees why
 * without the server's log. Lines logged with log_client are not kept. */
#define LOG_RECENT_MAX 32
#define LOG_RECENT_LEN 512
/* Copies up to cap of them into out, oldest first, each without its newline
 * and cut to LOG_RECENT_LEN - 1 bytes; returns how many. */
size_t log_recent(char (*out)[LOG_RECENT_LEN], size_t cap);

/* session may be NULL. fmt starts with the quoted message. */
void log_msg(enum log_level level, const char *session, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A line about an HTTP client's request (a malformed one, a scanner's):
 * printed as log_msg prints it with no session, but never kept for
 * log_recent, where a scanner would push the organizer's problems out. */
void log_client(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
