#include "podium/config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* An error is "<section>.<key>: <message>"; sized to hold both parts
 * whole, so no message is cut (gcc -O3 proves the smaller size could be). */
enum { ERR_WHAT_MAX = 200, ERR_MSG_MAX = 160 };

struct cfg_error {
    int line;
    char text[ERR_WHAT_MAX + 2 + ERR_MSG_MAX];
};

/* What libinih reads as one line: its buffer holds INI_MAX_LINE bytes with
 * the terminator (the line end may fall into the next read, which it takes
 * for an empty line). Debian builds it with the default. */
#define LINE_MAX_CHARS (INI_MAX_LINE - 1)
#define LINE_MAX_TEXT "199"
_Static_assert(INI_MAX_LINE == 200, "LINE_MAX_TEXT says 199");

struct load_ctx {
    struct config *cfg;
    const char *path;
    FILE *err;
    int errors;
    struct session_conf *cur;   /* section being filled, NULL outside one */
    char cur_section[128];
    /* how often each (section, key) was seen, to find the line of the nth */
    struct { char sec[64]; char key[64]; int count; } seen[256];
    int n_seen;
    int cur_nth;
    bool *entered;                      /* per session: its section was seen */
    /* Errors are printed once the whole file is read, in line order: the
     * checks run in three passes (prescan, keys, whole-config rules). */
    struct cfg_error errs[64];
    int n_errs;
    bool long_line;                     /* libinih's line numbers are off */
};

static const char *const format_names[] = { "presentation", "panel",
                                            "workshop", "lightning" };

static char *xstrdup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        abort(); /* start-up only: nothing sensible to do without memory */
    return d;
}

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = xstrdup(v);
}

void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->srt_listen.host, sizeof(cfg->srt_listen.host), "127.0.0.1");
    cfg->srt_listen.port = 9000;
    snprintf(cfg->http_listen.host, sizeof(cfg->http_listen.host), "127.0.0.1");
    cfg->http_listen.port = 8080;
    cfg->data_dir = xstrdup("./data");
    cfg->admin_token = xstrdup("");
    cfg->name = xstrdup("");
    cfg->access = ACCESS_OPEN;
    cfg->hls_format = HLS_FORMAT_TS;
    cfg->segment_duration = 2.0;
    cfg->window = 6;
    cfg->part_duration = 0;
    cfg->srt_latency_ms = 120;
    cfg->close_after = 60;
    cfg->adhoc_sessions = true;
}

void config_free(struct config *cfg)
{
    for (size_t i = 0; i < cfg->n_sessions; i++) {
        free(cfg->sessions[i].title);
        free(cfg->sessions[i].speakers);
        free(cfg->sessions[i].passphrase);
    }
    free(cfg->sessions);
    free(cfg->path);
    free(cfg->data_dir);
    free(cfg->admin_token);
    free(cfg->name);
    memset(cfg, 0, sizeof(*cfg));
}

bool config_valid_track(const char *s, const char **why)
{
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            *why = "must not contain control characters";
            return false;
        }
        chars += (*p & 0xC0) != 0x80;
    }
    if (chars > CONFIG_TRACK_MAX || strlen(s) > 4 * CONFIG_TRACK_MAX) {
        *why = "longer than " CONFIG_TRACK_MAX_TEXT " characters";
        return false;
    }
    return true;
}

int config_parse_listen(const char *s, struct listen_addr *out)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) >= sizeof(out->host))
        return -1;
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || port < 0 || port > 65535)
        return -1;
    const char *h = s;
    size_t hlen = (size_t)(colon - s);
    if (h[0] == '[') {                     /* [::1]:9000 */
        if (hlen < 3 || h[hlen - 1] != ']')
            return -1;
        h++;
        hlen -= 2;
    }
    memcpy(out->host, h, hlen);
    out->host[hlen] = '\0';
    out->port = (int)port;
    return 0;
}

bool config_valid_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > CONFIG_ID_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)id[i]) && id[i] != '-' && id[i] != '_')
            return false;
    return true;
}

int config_format_minutes(enum session_format f)
{
    static const int minutes[] = { 40, 60, 160, 10 };
    return minutes[f];
}

const char *config_format_name(enum session_format f)
{
    return format_names[f];
}

bool config_passphrase_warning(const char *p, char *buf, size_t len)
{
    const char *bad = strpbrk(p, "&+");
    if (bad)
        snprintf(buf, len, "passphrase holds '%c': a speaker cannot write it into an srt:// "
                 "URL (ffmpeg and OBS end the value at & and read + as a space)", *bad);
    return bad != NULL;
}

/* 1 if s has exactly the shape of tmpl, where '0' stands for any digit. */
static bool shaped(const char *s, const char *tmpl)
{
    for (; *tmpl; s++, tmpl++)
        if (*tmpl == '0' ? !isdigit((unsigned char)*s) : *s != *tmpl)
            return false;
    return *s == '\0';
}

int config_parse_time(const char *s, time_t *out)
{
    enum { DATE_TIME_LEN = 19 };                /* 2021-02-22T16:00:00 */
    char date_time[DATE_TIME_LEN + 1];
    if (strlen(s) < DATE_TIME_LEN)
        return -1;
    memcpy(date_time, s, DATE_TIME_LEN);
    date_time[DATE_TIME_LEN] = '\0';
    const char *zone = s + DATE_TIME_LEN;
    /* The zone is required: a bare local time names a different instant
     * for each organizer and attendee who reads it. */
    if (!shaped(date_time, "0000-00-00T00:00:00")
        || (strcmp(zone, "Z") != 0 && !shaped(zone, "+00:00") && !shaped(zone, "-00:00")))
        return -1;

    struct tm tm = { 0 };
    sscanf(date_time, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
           &tm.tm_hour, &tm.tm_min, &tm.tm_sec);
    long offset = 0;
    if (*zone != 'Z') {
        int zh = (zone[1] - '0') * 10 + (zone[2] - '0');
        int zm = (zone[4] - '0') * 10 + (zone[5] - '0');
        if (zh > 23 || zm > 59)
            return -1;
        offset = (*zone == '-' ? -1 : 1) * (zh * 3600L + zm * 60L);
    }
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31
        || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    struct tm want = tm, back;
    time_t t = timegm(&tm);
    /* timegm normalises 2021-02-30 to March 2nd: reject such dates */
    if (!gmtime_r(&t, &back) || back.tm_mday != want.tm_mday || back.tm_mon != want.tm_mon
        || back.tm_year != want.tm_year)
        return -1;
    *out = t - offset;
    return 0;
}

const struct session_conf *config_find_session(const struct config *cfg,
                                               const char *id)
{
    for (size_t i = 0; i < cfg->n_sessions; i++)
        if (strcmp(cfg->sessions[i].id, id) == 0)
            return &cfg->sessions[i];
    return NULL;
}

/* libinih does not pass line numbers to handlers in Debian's build, so the
 * line of a bad key is found again by scanning the file: its nth
 * occurrence in section, or with nth 0 (or fewer than nth: a continuation
 * line repeats the key) the last. key "": the section's header. */
static int find_line(const char *path, const char *section, const char *key, int nth)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char buf[1024], cur[256] = "";
    int lineno = 0, found = 0, last = 0;
    size_t klen = strlen(key);
    while (!found && fgets(buf, sizeof(buf), f)) {
        lineno++;
        char *p = buf;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '[') {
            char *e = strchr(p, ']');
            if (e) {
                *e = '\0';
                snprintf(cur, sizeof(cur), "%s", p + 1);
            }
            if (!*key && strcmp(cur, section) == 0)
                found = lineno;
            continue;
        }
        if (*key && strcmp(cur, section) == 0 && strncmp(p, key, klen) == 0) {
            char *q = p + klen;
            while (*q == ' ' || *q == '\t')
                q++;
            if (*q == '=' || *q == ':') {
                last = lineno;
                if (--nth == 0)
                    found = lineno;
            }
        }
    }
    fclose(f);
    if (!found)
        found = last;
    return found;
}

/* fmt takes one %s, value. line 0: no one line applies. */
static void error_at(struct load_ctx *ctx, int line, const char *what, const char *fmt,
                     const char *value)
{
    ctx->errors++;
    if (ctx->n_errs == (int)(sizeof(ctx->errs) / sizeof(ctx->errs[0])))
        return;
    char msg[ERR_MSG_MAX];
    snprintf(msg, sizeof(msg), fmt, value);
    snprintf(ctx->errs[ctx->n_errs].text, sizeof(ctx->errs[0].text), "%s%s%s", what,
             *what ? ": " : "", msg);
    ctx->errs[ctx->n_errs++].line = line;
}

static void config_error(struct load_ctx *ctx, const char *section,
                         const char *key, const char *fmt, const char *value)
{
    char what[ERR_WHAT_MAX];
    snprintf(what, sizeof(what), "%s%s%s", section, key ? "." : "", key ? key : "");
    error_at(ctx, find_line(ctx->path, section, key ? key : "", key ? ctx->cur_nth : 1), what,
             fmt, value);
}

static bool error_on_line(const struct load_ctx *ctx, int line)
{
    for (int i = 0; i < ctx->n_errs; i++)
        if (ctx->errs[i].line == line)
            return true;
    return false;
}

static unsigned line_key(int line)
{
    return line > 0 ? (unsigned)line : UINT_MAX;    /* no line: after the rest */
}

/* Every recorded error, by line (stable: one line's in the order found). */
static void print_errors(struct load_ctx *ctx)
{
    for (int i = 1; i < ctx->n_errs; i++)
        for (int j = i; j > 0 && line_key(ctx->errs[j - 1].line) > line_key(ctx->errs[j].line); j--) {
            struct cfg_error t = ctx->errs[j];
            ctx->errs[j] = ctx->errs[j - 1];
            ctx->errs[j - 1] = t;
        }
    for (int i = 0; i < ctx->n_errs; i++) {
        if (ctx->errs[i].line > 0)
            fprintf(ctx->err, "%s:%d: %s\n", ctx->path, ctx->errs[i].line, ctx->errs[i].text);
        else
            fprintf(ctx->err, "%s: %s\n", ctx->path, ctx->errs[i].text);
    }
    if (ctx->errors > ctx->n_errs)
        fprintf(ctx->err, "%s: %d more errors\n", ctx->path, ctx->errors - ctx->n_errs);
}

static int parse_double(const char *v, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(d) || d < lo || d > hi)
        return -1;
    *out = d;
    return 0;
}

static int parse_int(const char *v, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long l = strtol(v, &end, 10);
    if (errno || end == v || *end || l < lo || l > hi)
        return -1;
    *out = (int)l;
    return 0;
}

static int lookup_name(const char *v, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(v, names[i]) == 0)
            return i;
    return -1;
}

static void server_key(struct load_ctx *ctx, const char *key, const char *v)
{
    struct config *cfg = ctx->cfg;
    static const char *const access_names[] = { "open", "registered" };
    int i;

    if (strcmp(key, "srt_listen") == 0) {
        if (config_parse_listen(v, &cfg->srt_listen))
            config_error(ctx, "server", key, "'%s' is not host:port", v);
    } else if (strcmp(key, "http_listen") == 0) {
        if (config_parse_listen(v, &cfg->http_listen))
            config_error(ctx, "server", key, "'%s' is not host:port", v);
    } else if (strcmp(key, "data_dir") == 0) {
        if (!*v)
            config_error(ctx, "server", key, "must not be empty%s", "");
        else
            set_str(&cfg->data_dir, v);
    } else if (strcmp(key, "access") == 0) {
        if ((i = lookup_name(v, access_names, 2)) < 0)
            config_error(ctx, "server", key,
                         "'%s' is not one of open, registered", v);
        else
            cfg->access = (enum access_mode)i;
    } else if (strcmp(key, "admin_token") == 0) {
        if (*v && strlen(v) < 16)
            config_error(ctx, "server", key,
                         "must be empty or at least 16 characters%s", "");
        else
            set_str(&cfg->admin_token, v);
    } else if (strcmp(key, "name") == 0) {
        if (strlen(v) > CONFIG_NAME_MAX)
            config_error(ctx, "server", key, "longer than " CONFIG_NAME_MAX_TEXT " bytes%s", "");
        else
            set_str(&cfg->name, v);
    } else {
        config_error(ctx, "server", key, "unknown key%s", "");
    }
}

static void hls_key(struct load_ctx *ctx, const char *key, const char *v)
{
    struct config *cfg = ctx->cfg;
    static const char *const fmt_names[] = { "ts", "fmp4" };
    int i;

    if (strcmp(key, "format") == 0) {
        if ((i = lookup_name(v, fmt_names, 2)) < 0)
            config_error(ctx, "hls", key, "'%s' is not one of ts, fmp4", v);
        else
            cfg->hls_format = (enum hls_format)i;
    } else if (strcmp(key, "segment_duration") == 0) {
        if (parse_double(v, 0.5, 30.0, &cfg->segment_duration))
            config_error(ctx, "hls", key,
                         "'%s' is not a number of seconds in [0.5, 30]", v);
    } else if (strcmp(key, "window") == 0) {
        if (parse_int(v, 3, 100, &cfg->window))
            config_error(ctx, "hls", key, "'%s' is not an integer in [3, 100]", v);
    } else if (strcmp(key, "part_duration") == 0) {
        if (parse_double(v, 0.0, 5.0, &cfg->part_duration))
            config_error(ctx, "hls", key,
                         "'%s' is not a number of seconds in [0, 5]", v);
    } else {
        config_error(ctx, "hls", key, "unknown key%s", "");
    }
}

static void new_session(struct load_ctx *ctx, const char *id, int line)
{
    struct config *cfg = ctx->cfg;
    if (!config_valid_id(id)) {
        error_at(ctx, line, "", "session %s: invalid session id (use 1-40 of A-Z a-z 0-9 - _)", id);
        return;
    }
    if (config_find_session(cfg, id)) {
        error_at(ctx, line, "", "session %s: defined twice", id);
        return;
    }
    struct session_conf *s = realloc(cfg->sessions,
                                     (cfg->n_sessions + 1) * sizeof(*s));
    if (!s)
        abort();
    cfg->sessions = s;
    s = &cfg->sessions[cfg->n_sessions++];
    memset(s, 0, sizeof(*s));
    snprintf(s->id, sizeof(s->id), "%s", id);
    s->title = xstrdup(id);
    s->speakers = xstrdup("");
}

enum line_kind { LINE_NONE, LINE_KEY, LINE_BAD };

/* libinih's reading of a line that is not a section header, p at its first
 * non-blank: blank, a comment or an indented continuation of the key above
 * (LINE_NONE), key = value or key: value, unless a ';' after a blank (an
 * inline comment) comes first. */
static enum line_kind line_kind(const char *p, bool indented, bool key_above)
{
    if (!*p || *p == ';' || *p == '#' || (indented && key_above))
        return LINE_NONE;
    for (const char *q = p; *q; q++) {
        if (*q == '=' || *q == ':')
            return LINE_KEY;
        if (*q == ';' && (q[-1] == ' ' || q[-1] == '\t'))
            break;
    }
    return LINE_BAD;
}

/* Section headers and line syntax are checked here, before libinih runs:
 * Debian's libinih neither reports a section without keys nor keeps more
 * than 49 characters of a name, a duplicate must be reported at its own
 * line, and libinih names only the first bad line. */
static void prescan(struct load_ctx *ctx)
{
    static const char *const known[] = { "server", "hls", "srt", "recording" };
    FILE *f = fopen(ctx->path, "r");
    if (!f)
        return;
    char buf[1024];
    int lineno = 0;
    bool key_above = false;
    while (fgets(buf, sizeof(buf), f)) {
        lineno++;
        size_t n = strlen(buf), len = strcspn(buf, "\r\n");
        if (n > 0 && buf[n - 1] != '\n')          /* the rest of a long line */
            for (int c; (c = fgetc(f)) != EOF && c != '\n'; )
                len++;
        buf[strcspn(buf, "\r\n")] = '\0';
        /* libinih reads a longer one as two lines, and names a line below
         * it (a long title read as "syntax error" on the next line) */
        if (len > LINE_MAX_CHARS) {
            error_at(ctx, lineno, "", "line longer than " LINE_MAX_TEXT " characters%s", "");
            ctx->long_line = true;
            continue;
        }
        char *p = buf;
        if (lineno == 1 && strncmp(p, "\xEF\xBB\xBF", 3) == 0)
            p += 3;                                 /* a UTF-8 BOM */
        char *start = p;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p != '[') {
            enum line_kind k = line_kind(p, p > start, key_above);
            if (k == LINE_BAD)
                error_at(ctx, lineno, "", "syntax error: expected key = value%s", "");
            key_above = key_above || k == LINE_KEY;
            continue;
        }
        key_above = false;
        char *e = strchr(p, ']');
        if (!e) {
            error_at(ctx, lineno, "", "section header without ']'%s", "");
            continue;
        }
        *e = '\0';
        const char *name = p + 1;
        if (strncmp(name, "session ", 8) == 0) {
            new_session(ctx, name + 8, lineno);
            continue;
        }
        bool ok = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            ok = ok || strcmp(name, known[i]) == 0;
        if (!ok)
            error_at(ctx, lineno, "", "unknown section [%s]", name);
    }
    fclose(f);
}

static void session_key(struct load_ctx *ctx, const char *key, const char *v)
{
    struct session_conf *s = ctx->cur;
    static const char *const window_names[] = { "open", "strict" };
    int i;

    if (!s)
        return; /* the section header was already reported */
    if (strcmp(key, "title") == 0) {
        set_str(&s->title, v);
    } else if (strcmp(key, "speakers") == 0) {
        set_str(&s->speakers, v);
    } else if (strcmp(key, "track") == 0) {
        const char *why;
        if (!config_valid_track(v, &why))
            config_error(ctx, ctx->cur_section, key, "%s", why);
        else
            snprintf(s->track, sizeof(s->track), "%s", v);
    } else if (strcmp(key, "format") == 0) {
        if ((i = lookup_name(v, format_names, 4)) < 0)
            config_error(ctx, ctx->cur_section, key,
                "'%s' is not one of presentation, panel, workshop, lightning", v);
        else
            s->format = (enum session_format)i;
    } else if (strcmp(key, "starts") == 0) {
        if (config_parse_time(v, &s->starts))
            config_error(ctx, ctx->cur_section, key,
                         "'%s' is not a time like 2021-02-22T16:00:00Z (UTC) or "
                         "2021-02-22T17:00:00+01:00 (local, with its offset)", v);
    } else if (strcmp(key, "passphrase") == 0) {
        size_t n = strlen(v);
        if (n < CONFIG_PASS_MIN || n > CONFIG_PASS_MAX)
            config_error(ctx, ctx->cur_section, key,
                         "must be 10 to 79 characters%s", "");
        else
            set_str(&s->passphrase, v);
    } else if (strcmp(key, "ingest_window") == 0) {
        if ((i = lookup_name(v, window_names, 2)) < 0)
            config_error(ctx, ctx->cur_section, key,
                         "'%s' is not one of open, strict", v);
        else
            s->ingest_strict = i == 1;
    } else {
        config_error(ctx, ctx->cur_section, key, "unknown key%s", "");
    }
}

static int on_ini_key(void *user, const char *section, const char *key,
                       const char *value)
{
    struct load_ctx *ctx = user;

    if (strcmp(section, ctx->cur_section) != 0) {
        snprintf(ctx->cur_section, sizeof(ctx->cur_section), "%s", section);
        ctx->cur = NULL;
        if (strncmp(section, "session ", 8) == 0) {
            const struct session_conf *sc = config_find_session(ctx->cfg, section + 8);
            size_t i = sc ? (size_t)(sc - ctx->cfg->sessions) : 0;
            /* a duplicate section (reported by prescan) must not override */
            if (sc && ctx->entered && !ctx->entered[i]) {
                ctx->entered[i] = true;
                ctx->cur = &ctx->cfg->sessions[i];
            }
        }
    }
    if (!key)
        return 1;

    /* count this (section, key) so errors point at the right line */
    ctx->cur_nth = 1;
    int i;
    for (i = 0; i < ctx->n_seen; i++)
        if (strcmp(ctx->seen[i].sec, section) == 0 && strcmp(ctx->seen[i].key, key) == 0)
            break;
    if (i < ctx->n_seen) {
        ctx->cur_nth = ++ctx->seen[i].count;
    } else if (ctx->n_seen < (int)(sizeof(ctx->seen) / sizeof(ctx->seen[0]))) {
        snprintf(ctx->seen[i].sec, sizeof(ctx->seen[i].sec), "%s", section);
        snprintf(ctx->seen[i].key, sizeof(ctx->seen[i].key), "%s", key);
        ctx->seen[i].count = 1;
        ctx->n_seen++;
    }

    if (strcmp(section, "server") == 0)
        server_key(ctx, key, value);
    else if (strcmp(section, "hls") == 0)
        hls_key(ctx, key, value);
    else if (strcmp(section, "srt") == 0) {
        if (strcmp(key, "latency_ms") != 0)
            config_error(ctx, section, key, "unknown key%s", "");
        else if (parse_int(value, 20, 8000, &ctx->cfg->srt_latency_ms))
            config_error(ctx, section, key,
                         "'%s' is not milliseconds in [20, 8000]", value);
    } else if (strcmp(section, "recording") == 0) {
        if (strcmp(key, "close_after") != 0)
            config_error(ctx, section, key, "unknown key%s", "");
        else if (parse_int(value, 1, 86400, &ctx->cfg->close_after))
            config_error(ctx, section, key,
                         "'%s' is not seconds in [1, 86400]", value);
    } else if (strncmp(section, "session ", 8) == 0)
        session_key(ctx, key, value);
    else if (!*section)
        config_error(ctx, "", key, "key outside any section%s", "");
    /* keys of unknown sections: the section was reported by prescan */
    return 1;
}

int config_load(struct config *cfg, const char *path, FILE *err)
{
    config_defaults(cfg);
    snprintf(cfg->srt_listen.host, sizeof(cfg->srt_listen.host), "0.0.0.0");
    snprintf(cfg->http_listen.host, sizeof(cfg->http_listen.host), "0.0.0.0");
    cfg->adhoc_sessions = false;
    cfg->path = xstrdup(path);

    /* libinih reads a directory as an empty file, and the file is read
     * more than once (prescan, lines of errors): a regular file only */
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        fprintf(err, "%s: cannot read: not a regular file\n", path);
        return -1;
    }
    struct load_ctx ctx = { .cfg = cfg, .path = path, .err = err };
    prescan(&ctx);
    ctx.entered = calloc(cfg->n_sessions + 1, sizeof(*ctx.entered));
    int r = ini_parse(path, on_ini_key, &ctx);
    free(ctx.entered);
    if (r < 0) {
        fprintf(err, "%s: cannot read: %s\n", path, strerror(errno));
        return -1;
    }
    if (r > 0 && !error_on_line(&ctx, r) && !ctx.long_line)
        error_at(&ctx, r, "", "syntax error%s", "");
    /* a key given twice counts as its last line, the value that holds */
    ctx.cur_nth = 0;
    for (size_t i = 0; i < cfg->n_sessions; i++) {
        struct session_conf *s = &cfg->sessions[i];
        char sec[128];
        snprintf(sec, sizeof(sec), "session %s", s->id);
        /* one given but refused has its own error already */
        if (!s->passphrase && find_line(path, sec, "passphrase", 0) == 0) {
            ctx.path = path;
            config_error(&ctx, sec, NULL, "passphrase is required%s", "");
        }
        if (s->ingest_strict && !s->starts) {
            config_error(&ctx, sec, "ingest_window",
                         "strict needs 'starts'%s", "");
        }
    }
    if (cfg->part_duration > 0 && cfg->part_duration >= cfg->segment_duration)
        config_error(&ctx, "hls", "part_duration",
                     "must be smaller than segment_duration%s", "");
    /* LL-HLS parts are fMP4 fragments: with ts the organizer would get
     * plain HLS and wonder where the low latency went */
    if (cfg->part_duration > 0 && cfg->hls_format != HLS_FORMAT_FMP4)
        config_error(&ctx, "hls", "part_duration",
                     "needs format = fmp4 (LL-HLS parts are fMP4), or set it to 0%s", "");
    print_errors(&ctx);
    return ctx.errors ? -1 : 0;
}
