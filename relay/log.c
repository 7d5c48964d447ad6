#include "podium/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static atomic_int min_level = LV_INFO;

static struct {
    pthread_mutex_t lock;
    char lines[LOG_RECENT_MAX][LOG_RECENT_LEN];
    unsigned next, count;               /* ring: next slot, slots used */
} recent = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void keep_recent(const char *line, size_t len)
{
    if (len >= LOG_RECENT_LEN)
        len = LOG_RECENT_LEN - 1;
    pthread_mutex_lock(&recent.lock);
    memcpy(recent.lines[recent.next], line, len);
    recent.lines[recent.next][len] = '\0';
    recent.next = (recent.next + 1) % LOG_RECENT_MAX;
    if (recent.count < LOG_RECENT_MAX)
        recent.count++;
    pthread_mutex_unlock(&recent.lock);
}

size_t log_recent(char (*out)[LOG_RECENT_LEN], size_t cap)
{
    pthread_mutex_lock(&recent.lock);
    size_t n = recent.count < cap ? recent.count : cap;
    /* the newest n, oldest first */
    for (size_t i = 0; i < n; i++) {
        unsigned at = (recent.next + LOG_RECENT_MAX - n + i) % LOG_RECENT_MAX;
        memcpy(out[i], recent.lines[at], LOG_RECENT_LEN);
    }
    pthread_mutex_unlock(&recent.lock);
    return n;
}

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void log_set_level(enum log_level level)
{
    atomic_store(&min_level, level);
}

bool log_enabled(enum log_level level)
{
    return (int)level >= atomic_load(&min_level);
}

/* Caller holds q->lock: starts a new window when the current one is over;
 * returns how many lines the one that ended left out. */
static unsigned quota_roll(struct log_quota *q, time_t now)
{
    if (now - q->window < (time_t)q->window_s)
        return 0;
    unsigned left_out = q->left_out;
    q->window = now;
    q->logged = q->left_out = 0;
    return left_out;
}

static unsigned quota_report(const struct log_quota *q, unsigned left_out)
{
    static const char fmt[] = "\"%s: messages not logged: more than %u in %u s\" count=%u";
    if (left_out && q->clients)
        log_client(LV_WARN, fmt, q->source, q->per_window, q->window_s, left_out);
    else if (left_out)
        log_msg(LV_WARN, NULL, fmt, q->source, q->per_window, q->window_s, left_out);
    return left_out;
}

bool log_quota_take(struct log_quota *q, time_t now)
{
    pthread_mutex_lock(&q->lock);
    unsigned left_out = quota_roll(q, now);
    bool take = q->logged < q->per_window;
    q->logged += take;
    q->left_out += !take;
    pthread_mutex_unlock(&q->lock);
    quota_report(q, left_out);
    return take;
}

unsigned log_quota_tick(struct log_quota *q, time_t now)
{
    pthread_mutex_lock(&q->lock);
    unsigned left_out = quota_roll(q, now);
    pthread_mutex_unlock(&q->lock);
    return quota_report(q, left_out);
}

const char *log_escape(char *buf, size_t cap, const char *s, size_t max)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0, i = 0, len = strnlen(s, max);
    bool longer = len == max && s[len];         /* more than max bytes */
    if (cap == 0)
        return buf;
    while (!longer && len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
        len--;
    for (; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char e[5] = { (char)c };
        size_t elen = 1;
        if (c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t') {
            e[0] = '\\';
            e[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : (char)c;
            elen = 2;
        } else if (c < 0x20 || c == 0x7f) {
            e[0] = '\\', e[1] = 'x', e[2] = hex[c >> 4], e[3] = hex[c & 15];
            elen = 4;
        }
        if (n + elen >= cap)
            break;
        memcpy(buf + n, e, elen);
        n += elen;
    }
    if ((i < len || longer) && n + 3 < cap) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    return buf;
}

static void log_line(enum log_level level, const char *session, bool keep,
                     const char *fmt, va_list ap)
{
    if ((int)level < atomic_load(&min_level))
        return;

    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);

    int n = snprintf(line, sizeof(line),
                     "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ level=%s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000),
                     level_names[level]);
    if (session && n < (int)sizeof(line))
        n += snprintf(line + n, sizeof(line) - n, "session=%s ", session);
    if (n < (int)sizeof(line))
        n += snprintf(line + n, sizeof(line) - n, "msg=");
    if (n < (int)sizeof(line))
        n += vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    /* Truncated lines still end in a newline so the next one starts clean. */
    if (n >= (int)sizeof(line) - 1)
        n = (int)sizeof(line) - 2;
    if (keep && level >= LV_WARN)
        keep_recent(line, (size_t)n);
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}

void log_msg(enum log_level level, const char *session, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line(level, session, true, fmt, ap);
    va_end(ap);
}

void log_client(enum log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line(level, NULL, false, fmt, ap);
    va_end(ap);
}
