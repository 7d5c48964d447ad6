/* Unit tests: config (defaults, INI loading, validation, error reporting). */
#include "unit.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "podium/config.h"

#define PASS10 "0123456789"
#define T_2021_02_22_16 ((time_t)1614009600) /* 2021-02-22T16:00:00Z */

/* ------------------------------------------------------------ helpers */

struct loaded {
    struct config cfg;
    int rc;
    char path[64];
    char *err;                  /* everything config_load wrote to err */
};

/* Writes text to a fresh temp file, runs config_load on it with err
 * captured in memory, removes the file. */
static void load_text(struct loaded *l, const char *text)
{
    const char *dir = getenv("TMPDIR");
    snprintf(l->path, sizeof(l->path), "%s/podium-unit-XXXXXX",
             dir && *dir && strlen(dir) < 32 ? dir : "/tmp");
    int fd = mkstemp(l->path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);

    size_t errlen = 0;
    FILE *err = open_memstream(&l->err, &errlen);
    assert_non_null(err);
    l->rc = config_load(&l->cfg, l->path, err);
    assert_int_equal(fclose(err), 0);
    unlink(l->path);
}

static void unload(struct loaded *l)
{
    config_free(&l->cfg);
    free(l->err);
    l->err = NULL;
}

/* The line of l->err starting with "PATH:LINE:" that also contains every
 * needle (NULL-terminated list), or NULL. Copied into buf. */
static const char *err_line(const struct loaded *l, int line, char *buf,
                            size_t cap, const char *const *needles)
{
    char prefix[128];
    snprintf(prefix, sizeof(prefix), "%s:%d:", l->path, line);
    const char *p = l->err;
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        snprintf(buf, cap, "%.*s", (int)n, p);
        if (strncmp(buf, prefix, strlen(prefix)) == 0) {
            bool all = true;
            for (const char *const *k = needles; *k; k++)
                all = all && strstr(buf + strlen(prefix), *k) != NULL;
            if (all)
                return buf;
        }
        p = nl ? nl + 1 : NULL;
    }
    return NULL;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; s && *s; s++)
        n += *s == '\n';
    return n;
}

#define assert_err_at(l, line, ...)                                          \
    do {                                                                     \
        char buf_[512];                                                      \
        const char *const nd_[] = { __VA_ARGS__, NULL };                     \
        if (!err_line((l), (line), buf_, sizeof(buf_), nd_))                 \
            fail_msg("expected an error '%s:%d: ...' mentioning '%s'; "      \
                     "config_load wrote:\n%s", (l)->path, (line), nd_[0],     \
                     (l)->err);                                              \
    } while (0)

#define assert_n_errors(l, n)                                                \
    do {                                                                     \
        if (count_lines((l)->err) != (n))                                    \
            fail_msg("expected %d error line(s), got:\n%s", (n), (l)->err);  \
    } while (0)

static bool near(double a, double b)
{
    return fabs(a - b) < 1e-9;
}

/* ------------------------------------------------------------ defaults */

static void test_defaults(void **state)
{
    (void)state;
    struct config c;
    config_defaults(&c);
    assert_null(c.path);
    assert_string_equal(c.srt_listen.host, "127.0.0.1");
    assert_int_equal(c.srt_listen.port, 9000);
    assert_string_equal(c.http_listen.host, "127.0.0.1");
    assert_int_equal(c.http_listen.port, 8080);
    assert_string_equal(c.data_dir, "./data");
    assert_int_equal(c.access, ACCESS_OPEN);
    assert_non_null(c.admin_token);
    assert_string_equal(c.admin_token, "");
    assert_string_equal(c.name, "");
    assert_int_equal(c.hls_format, HLS_FORMAT_TS);
    assert_true(near(c.segment_duration, 2.0));
    assert_int_equal(c.window, 6);
    assert_true(near(c.part_duration, 0.0));
    assert_int_equal(c.srt_latency_ms, 120);
    assert_int_equal(c.close_after, 60);
    assert_true(c.adhoc_sessions);
    assert_int_equal(c.n_sessions, 0);
    assert_null(config_find_session(&c, "keynote"));
    config_free(&c);

    /* config_free leaves it reusable after config_defaults */
    config_defaults(&c);
    assert_string_equal(c.data_dir, "./data");
    config_free(&c);
}

/* ------------------------------------------------------------ loading */

static void test_load_full(void **state)
{
    (void)state;
    char pass79[CONFIG_PASS_MAX + 1];
    memset(pass79, 'p', CONFIG_PASS_MAX);
    pass79[CONFIG_PASS_MAX] = '\0';
    char text[4096];
    snprintf(text, sizeof(text),
             "; every key of the contract\n"
             "[server]\n"
             "srt_listen  = 0.0.0.0:9100\n"
             "http_listen = 192.168.1.2:8181   ; inline comment\n"
             "data_dir    = /var/lib/podium\n"
             "access      = registered\n"
             "admin_token = 0123456789abcdef\n"
             "name        = DevConf <2026> & Friends ; the conference's\n"
             "\n"
             "[hls]\n"
             "format           = fmp4\n"
             "segment_duration = 4.5\n"
             "window           = 10\n"
             "part_duration    = 0.5\n"
             "[srt]\n"
             "latency_ms = 250\n"
             "[recording]\n"
             "close_after = 120\n"
             "[session keynote]\n"
             "title      = Opening keynote\n"
             "speakers   = Ada Lovelace, Alan Turing\n"
             "track      = Hall B \xc3\xa9t\xc3\xa9 ; the room\n"
             "format     = presentation     ; presentation | panel\n"
             "starts     = 2021-02-22T16:00:00Z\n"
             "passphrase = change-me-please ; 10..79\n"
             "ingest_window = strict\n"
             "[session panel-2]\n"
             "format = panel\n"
             "passphrase = " PASS10 "\n"
             "ingest_window = open\n"
             "[session Work_shop_3]\n"
             "format = workshop\n"
             "passphrase = %s\n"
             "[session lt]\n"
             "format = lightning\n"
             "title = Lightning talks\n"
             "passphrase = lightning-pass\n",
             pass79);
    struct loaded l = { 0 };
    load_text(&l, text);
    if (l.rc != 0)
        fail_msg("config_load failed:\n%s", l.err);
    assert_string_equal(l.err, "");
    const struct config *c = &l.cfg;

    assert_string_equal(c->path, l.path);
    assert_string_equal(c->srt_listen.host, "0.0.0.0");
    assert_int_equal(c->srt_listen.port, 9100);
    assert_string_equal(c->http_listen.host, "192.168.1.2");
    assert_int_equal(c->http_listen.port, 8181);
    assert_string_equal(c->data_dir, "/var/lib/podium");
    assert_int_equal(c->access, ACCESS_REGISTERED);
    assert_string_equal(c->admin_token, "0123456789abcdef");
    assert_string_equal(c->name, "DevConf <2026> & Friends");
    assert_int_equal(c->hls_format, HLS_FORMAT_FMP4);
    assert_true(near(c->segment_duration, 4.5));
    assert_int_equal(c->window, 10);
    assert_true(near(c->part_duration, 0.5));
    assert_int_equal(c->srt_latency_ms, 250);
    assert_int_equal(c->close_after, 120);
    assert_false(c->adhoc_sessions);

    assert_int_equal(c->n_sessions, 4);
    const struct session_conf *s = config_find_session(c, "keynote");
    assert_ptr_equal(s, &c->sessions[0]);
    assert_string_equal(s->id, "keynote");
    assert_string_equal(s->title, "Opening keynote");
    assert_string_equal(s->speakers, "Ada Lovelace, Alan Turing");
    assert_string_equal(s->track, "Hall B \xc3\xa9t\xc3\xa9");
    assert_int_equal(s->format, FORMAT_PRESENTATION);
    assert_int_equal(s->starts, T_2021_02_22_16);
    assert_string_equal(s->passphrase, "change-me-please");
    assert_true(s->ingest_strict);

    s = config_find_session(c, "panel-2");
    assert_ptr_equal(s, &c->sessions[1]);
    assert_string_equal(s->title, "panel-2");       /* title defaults to id */
    assert_string_equal(s->speakers, "");
    assert_string_equal(s->track, "");              /* in no track */
    assert_int_equal(s->format, FORMAT_PANEL);
    assert_int_equal(s->starts, 0);                 /* unscheduled */
    assert_string_equal(s->passphrase, PASS10);     /* 10: the minimum */
    assert_false(s->ingest_strict);

    s = config_find_session(c, "Work_shop_3");
    assert_non_null(s);
    assert_int_equal(s->format, FORMAT_WORKSHOP);
    assert_string_equal(s->passphrase, pass79);     /* 79: the maximum */

    s = config_find_session(c, "lt");
    assert_non_null(s);
    assert_int_equal(s->format, FORMAT_LIGHTNING);
    assert_string_equal(s->title, "Lightning talks");

    assert_null(config_find_session(c, "missing"));
    assert_null(config_find_session(c, "Keynote"));  /* case-sensitive */
    unload(&l);
}

/* A file only overrides what it sets; the file defaults differ from the
 * embedded ones in the listen hosts and ad-hoc sessions. */
static void test_load_file_defaults(void **state)
{
    (void)state;
    struct loaded l = { 0 };
    load_text(&l, "[session a]\npassphrase = " PASS10 "\n");
    assert_int_equal(l.rc, 0);
    assert_string_equal(l.err, "");
    assert_string_equal(l.cfg.srt_listen.host, "0.0.0.0");
    assert_int_equal(l.cfg.srt_listen.port, 9000);
    assert_string_equal(l.cfg.http_listen.host, "0.0.0.0");
    assert_int_equal(l.cfg.http_listen.port, 8080);
    assert_string_equal(l.cfg.data_dir, "./data");
    assert_int_equal(l.cfg.access, ACCESS_OPEN);
    assert_int_equal(l.cfg.hls_format, HLS_FORMAT_TS);
    assert_true(near(l.cfg.segment_duration, 2.0));
    assert_int_equal(l.cfg.window, 6);
    assert_true(near(l.cfg.part_duration, 0.0));
    assert_int_equal(l.cfg.srt_latency_ms, 120);
    assert_int_equal(l.cfg.close_after, 60);
    assert_false(l.cfg.adhoc_sessions);
    assert_int_equal(l.cfg.n_sessions, 1);
    unload(&l);

    /* an empty file is valid too */
    load_text(&l, "");
    assert_int_equal(l.rc, 0);
    assert_int_equal(l.cfg.n_sessions, 0);
    unload(&l);
}

/* Inclusive range ends are accepted. */
static void test_load_bounds(void **state)
{
    (void)state;
    struct loaded l = { 0 };
    load_text(&l,
              "[server]\nsrt_listen = localhost:0\nhttp_listen = 127.0.0.1:65535\n"
              "[hls]\nsegment_duration = 0.5\nwindow = 3\npart_duration = 0\n"
              "[srt]\nlatency_ms = 20\n[recording]\nclose_after = 1\n");
    if (l.rc != 0)
        fail_msg("config_load failed:\n%s", l.err);
    assert_int_equal(l.cfg.srt_listen.port, 0);
    assert_int_equal(l.cfg.http_listen.port, 65535);
    assert_true(near(l.cfg.segment_duration, 0.5));
    assert_int_equal(l.cfg.window, 3);
    assert_int_equal(l.cfg.srt_latency_ms, 20);
    assert_int_equal(l.cfg.close_after, 1);
    unload(&l);

    load_text(&l,
              "[hls]\nformat = fmp4\nsegment_duration = 30\nwindow = 100\npart_duration = 5\n"
              "[srt]\nlatency_ms = 8000\n[recording]\nclose_after = 86400\n");
    if (l.rc != 0)
        fail_msg("config_load failed:\n%s", l.err);
    assert_true(near(l.cfg.segment_duration, 30.0));
    assert_int_equal(l.cfg.window, 100);
    assert_true(near(l.cfg.part_duration, 5.0));
    assert_int_equal(l.cfg.srt_latency_ms, 8000);
    assert_int_equal(l.cfg.close_after, 86400);
    unload(&l);
}

/* The shipped config files must stay valid. */
static void test_load_repo_configs(void **state)
{
    (void)state;
    static const char *const files[] = { "config/podium.ini", "config/demo.ini" };
    for (size_t i = 0; i < UNIT_LEN(files); i++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", PODIUM_SOURCE_DIR, files[i]);
        if (i > 0 && access(path, R_OK) != 0)
            continue;            /* only podium.ini is part of the contract */
        struct config c;
        char *out = NULL;
        size_t len = 0;
        FILE *err = open_memstream(&out, &len);
        assert_non_null(err);
        int rc = config_load(&c, path, err);
        fclose(err);
        if (rc != 0)
            fail_msg("%s does not load:\n%s", path, out);
        assert_true(c.n_sessions >= 1);
        config_free(&c);
        free(out);
    }
}

static void test_load_missing_file(void **state)
{
    (void)state;
    struct config c;
    char *out = NULL;
    size_t len = 0;
    FILE *err = open_memstream(&out, &len);
    assert_non_null(err);
    int rc = config_load(&c, "/nonexistent/podium.ini", err);
    fclose(err);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(out, "/nonexistent/podium.ini"));
    config_free(&c);             /* initialised even on failure */
    free(out);
}

/* libinih reads a directory as an empty file: "-c /etc/podium" passed
 * --check and ran on the defaults. */
static void test_bug_load_directory(void **state)
{
    (void)state;
    struct config c;
    char *out = NULL;
    size_t len = 0;
    char dir[] = "/tmp/podium-unit-dir-XXXXXX";
    assert_non_null(mkdtemp(dir));
    FILE *err = open_memstream(&out, &len);
    assert_non_null(err);
    int rc = config_load(&c, dir, err);
    fclose(err);
    rmdir(dir);
    assert_int_equal(rc, -1);
    if (!strstr(out, dir) || !strstr(out, "not a regular file"))
        fail_msg("loading a directory wrote: %s", out);
    config_free(&c);
    free(out);
}

/* ------------------------------------------------------------ errors */

/* One bad value per key: the file is
 *   1 ; bad value
 *   2 [section]
 *   3 passphrase = ...   (session sections only, unless passphrase is tested)
 *   N key = value
 * and exactly one error names FILE:N and the key. */
static void test_load_bad_values(void **state)
{
    (void)state;
    char pass80[CONFIG_PASS_MAX + 2];
    memset(pass80, 'x', CONFIG_PASS_MAX + 1);
    pass80[CONFIG_PASS_MAX + 1] = '\0';
    static const struct { const char *section, *key, *value; } cases[] = {
        { "server", "srt_listen", "0.0.0.0" },
        { "server", "srt_listen", "0.0.0.0:65536" },
        { "server", "srt_listen", ":9000" },
        { "server", "http_listen", "localhost" },
        { "server", "http_listen", "127.0.0.1:http" },
        { "server", "http_listen", "127.0.0.1:-1" },
        { "server", "data_dir", "" },
        { "server", "access", "closed" },
        { "server", "admin_token", "too-short" },
        { "server", "bogus", "1" },
        { "hls", "format", "mp4" },
        { "hls", "segment_duration", "0.1" },
        { "hls", "segment_duration", "30.5" },
        { "hls", "segment_duration", "2s" },
        { "hls", "segment_duration", "abc" },
        { "hls", "segment_duration", "nan" },
        { "hls", "segment_duration", "" },
        { "hls", "window", "2" },
        { "hls", "window", "101" },
        { "hls", "window", "6.5" },
        { "hls", "part_duration", "-0.1" },
        { "hls", "part_duration", "5.5" },
        { "hls", "segment_length", "2" },
        { "srt", "latency_ms", "19" },
        { "srt", "latency_ms", "8001" },
        { "srt", "passphrase", PASS10 },
        { "recording", "close_after", "0" },
        { "recording", "close_after", "86401" },
        { "recording", "dir", "/tmp" },
        { "session s1", "format", "keynote" },
        { "session s1", "starts", "2021-02-22 16:00:00" },
        { "session s1", "starts", "2021-02-22T16:00:00" },
        { "session s1", "starts", "2021-13-01T16:00:00Z" },
        { "session s1", "starts", "tomorrow" },
        { "session s1", "ingest_window", "closed" },
        { "session s1", "passphrase", "123456789" },  /* 9: too short */
        { "session s1", "passphrase", NULL },         /* 80: too long */
        { "session s1", "speaker", "Ada" },
        { "session s1", "track", "0123456789012345678901234567890123456789012345678901234567890" },
    };
    for (size_t i = 0; i < UNIT_LEN(cases); i++) {
        const char *value = cases[i].value ? cases[i].value : pass80;
        bool session = strncmp(cases[i].section, "session ", 8) == 0;
        bool need_pass = session && strcmp(cases[i].key, "passphrase") != 0;
        char text[512];
        snprintf(text, sizeof(text), "; bad value\n[%s]\n%s%s = %s\n",
                 cases[i].section, need_pass ? "passphrase = " PASS10 "\n" : "",
                 cases[i].key, value);
        int line = need_pass ? 4 : 3;
        struct loaded l = { 0 };
        load_text(&l, text);
        print_message("case %zu: [%s] %s = %s\n", i, cases[i].section,
                      cases[i].key, value);
        assert_int_equal(l.rc, -1);
        assert_err_at(&l, line, cases[i].key);
        if (session)
            assert_err_at(&l, line, cases[i].section);
        /* a rejected passphrase is not also reported missing */
        assert_n_errors(&l, 1);
        unload(&l);
    }
}

/* The conference's name heads every attendee's page: 120 bytes at most. */
static void test_name_length(void **state)
{
    (void)state;
    char name[CONFIG_NAME_MAX + 2], text[CONFIG_NAME_MAX + 64];
    memset(name, 'n', CONFIG_NAME_MAX);
    name[CONFIG_NAME_MAX] = '\0';
    snprintf(text, sizeof(text), "[server]\nname = %s\n", name);
    struct loaded l = { 0 };
    load_text(&l, text);
    assert_int_equal(l.rc, 0);
    assert_string_equal(l.cfg.name, name);
    unload(&l);
    strcat(name, "n");
    snprintf(text, sizeof(text), "[server]\nname = %s\n", name);
    load_text(&l, text);
    assert_int_equal(l.rc, -1);
    assert_err_at(&l, 2, "name");
    assert_n_errors(&l, 1);
    unload(&l);
}

static void test_err_unknown_key(void **state)
{
    (void)state;
    struct loaded l = { 0 };
    load_text(&l, "[server]\ndata_dir = ./d\n\nlisten = 0.0.0.0:1\n");
    assert_int_equal(l.rc, -1);
    assert_err_at(&l, 4, "server", "listen", "unknown key");
    assert_n_errors(&l, 1);
    unload(&l);
}

static void test_err_unknown_section(void **state)
{
    (void)state;
    struct loaded l = { 0 };
    load_text(&l, "[server]\ndata_dir = ./d\n[servr]\nsrt_listen = 1.2.3.4:5\n"
                  "http_listen = 1.2.3.4:6\n");
    assert_int_equal(l.rc, -1);
    assert_err_at(&l, 3, "servr", "unknown section");
    assert_n_errors(&l, 1);      /* once per section, not per key */
    /* keys of an unknown section do not leak into [server] */
    assert_int_equal(l.cfg.srt_listen.port, 9000);
    unload(&l);
}

static void test_err_key_outside_section(void **state)
{
    (void)state;
    struct loaded l = { 0 };
    load_text(&l, "; no section yet\nwindow = 6\n[hls]\nwindow = 7\n");
    assert_int_equal(l.rc, -1);
    assert_err_at(&l, 2, "window");
    assert_n_errors(&l, 1);
    unload(&l);
}

static void test_err_syntax(void **state)
{
    (void)state;
    struct loaded l = { 0 };
    load_text(&l, "[hls]\nwindow = 6\nthis line has no equals sign\n");
    assert_int_equal(l.rc, -1);
    assert_err_at(&l, 3, "syntax");
    unload(&l);
}

static void test_err_missing_passphrase(void **state)
{
    (void)state;
    struct loaded l = { 0 };
    load_text(&l, "[session ok]\npassphrase = " PASS10 "\n"
                  "[session nopass]\ntitle = No passphrase here\n");
    assert_int_equal(l.rc, -1);
    assert_err_at(&l, 3, "session nopass", "passphrase");
    assert_n_errors(&l, 1);
    unload(&l);
}

static void test_err_duplicate_session(void **state)
{
    (void)state;
    struct loaded l = { 0 };
    load_text(&l, "[session a]\npassphrase = " PASS10 "\n"
                  "[session b]\npassphrase = " PASS10 "\n"
                  "[session a]\ntitle = again\n");
    assert_int_equal(l.rc, -1);
    assert_non_null(strstr(l.err, "session a"));
    assert_non_null(strstr(l.err, "twice"));
    assert_n_errors(&l, 1);
    /* the first definition stands */
    assert_int_equal(l.cfg.n_sessions, 2);
    assert_string_equal(config_find_session(&l.cfg, "a")->title, "a");
    unload(&l);
}

static void test_err_invalid_session_id(void **state)
{
    (void)state;
    /* (64 characters: see test_bug_long_session_id) */
    const char *ids[] = { "a b", "../x", "a.b", "", "a;b" };
    for (size_t i = 0; i < UNIT_LEN(ids); i++) {
        char text[256];
        snprintf(text, sizeof(text), "[hls]\nwindow = 6\n[session %s]\n"
                 "passphrase = " PASS10 "\n", ids[i]);
        struct loaded l = { 0 };
        load_text(&l, text);
        print_message("id '%s'\n", ids[i]);
        assert_int_equal(l.rc, -1);
        char sec[128];
        snprintf(sec, sizeof(sec), "session %s", ids[i]);
        assert_err_at(&l, 3, sec, "session id");
        assert_n_errors(&l, 1);
        assert_int_equal(l.cfg.n_sessions, 0);
        unload(&l);
    }
}

static void test_err_bad_starts(void **state)
{
    (void)state;
    struct loaded l = { 0 };
    load_text(&l, "[session talk]\ntitle = Talk\nstarts = 2021-02-22T16:00\n"
                  "passphrase = " PASS10 "\n");
    assert_int_equal(l.rc, -1);
    assert_err_at(&l, 3, "session talk", "starts");
    assert_n_errors(&l, 1);
    unload(&l);
}

static void test_err_strict_without_starts(void **state)
{
    (void)state;
    struct loaded l = { 0 };
    load_text(&l, "[session talk]\npassphrase = " PASS10 "\n"
                  "ingest_window = strict\n");
    assert_int_equal(l.rc, -1);
    assert_err_at(&l, 3, "session talk", "ingest_window");
    assert_n_errors(&l, 1);
    unload(&l);

    /* with starts it is fine, in either order */
    load_text(&l, "[session talk]\ningest_window = strict\npassphrase = " PASS10
                  "\nstarts = 2021-02-22T16:00:00Z\n");
    assert_int_equal(l.rc, 0);
    assert_true(l.cfg.sessions[0].ingest_strict);
    unload(&l);
}

static void test_err_part_not_below_segment(void **state)
{
    (void)state;
    struct loaded l = { 0 };
    load_text(&l, "[hls]\nformat = fmp4\nsegment_duration = 2\npart_duration = 2\n");
    assert_int_equal(l.rc, -1);
    assert_err_at(&l, 4, "part_duration");
    assert_n_errors(&l, 1);
    unload(&l);
}

/* A passphrase given but refused is one error, not also "is required". */
static void test_err_short_passphrase_once(void **state)
{
    (void)state;
    struct loaded l = { 0 };
    load_text(&l, "[session a]\npassphrase = short\n[session b]\ntitle = B\n");
    assert_int_equal(l.rc, -1);
    assert_err_at(&l, 2, "passphrase", "10 to 79");
    assert_err_at(&l, 3, "required");
    assert_n_errors(&l, 2);
    unload(&l);
}

/* Parts are fMP4: with ts (the default) part_duration did nothing. */
static void test_err_parts_need_fmp4(void **state)
{
    (void)state;
    struct loaded l = { 0 };
    load_text(&l, "[hls]\nsegment_duration = 2\npart_duration = 0.5\n");
    assert_int_equal(l.rc, -1);
    assert_err_at(&l, 3, "part_duration", "fmp4");
    assert_n_errors(&l, 1);
    unload(&l);
    load_text(&l, "[hls]\nformat = ts\npart_duration = 0\n");
    assert_int_equal(l.rc, 0);
    unload(&l);
}

/* Every error is reported, each at its own line, and the load fails. */
static void test_err_many(void **state)
{
    (void)state;
    struct loaded l = { 0 };
    load_text(&l,
              "[server]\n"                              /*  1 */
              "srt_listen = nowhere\n"                  /*  2 */
              "data_dir = ./ok\n"                       /*  3 */
              "colour = blue\n"                         /*  4 */
              "[hls]\n"                                 /*  5 */
              "segment_duration = 99\n"                 /*  6 */
              "window = 6\n"                            /*  7 */
              "[extra]\n"                               /*  8 */
              "x = 1\n"                                 /*  9 */
              "[session good]\n"                        /* 10 */
              "passphrase = " PASS10 "\n"               /* 11 */
              "[session bad id]\n"                      /* 12 */
              "passphrase = " PASS10 "\n"               /* 13 */
              "[session nopass]\n"                      /* 14 */
              "starts = yesterday\n"                    /* 15 */
              "passphrase = short\n"                    /* 16 */
              "[srt]\n"                                 /* 17 */
              "latency_ms = 5\n");                      /* 18 */
    assert_int_equal(l.rc, -1);
    assert_err_at(&l, 2, "srt_listen");
    assert_err_at(&l, 4, "colour");
    assert_err_at(&l, 6, "segment_duration");
    assert_err_at(&l, 8, "extra");
    assert_err_at(&l, 12, "bad id");
    assert_err_at(&l, 15, "starts");
    assert_err_at(&l, 16, "session nopass", "passphrase");
    assert_err_at(&l, 18, "latency_ms");
    assert_n_errors(&l, 8);
    unload(&l);
}

/* ------------------------------------------------------------ helpers */

static void test_parse_listen(void **state)
{
    (void)state;
    struct listen_addr a;
    assert_int_equal(config_parse_listen("0.0.0.0:9000", &a), 0);
    assert_string_equal(a.host, "0.0.0.0");
    assert_int_equal(a.port, 9000);
    assert_int_equal(config_parse_listen("localhost:0", &a), 0);
    assert_string_equal(a.host, "localhost");
    assert_int_equal(a.port, 0);
    assert_int_equal(config_parse_listen("example.org:65535", &a), 0);
    assert_string_equal(a.host, "example.org");
    assert_int_equal(a.port, 65535);

    char host63[80];
    memset(host63, 'h', 63);
    strcpy(host63 + 63, ":1");
    assert_int_equal(config_parse_listen(host63, &a), 0);
    assert_int_equal(strlen(a.host), 63);
    assert_int_equal(a.port, 1);
    char host64[80];
    memset(host64, 'h', 64);
    strcpy(host64 + 64, ":1");
    assert_int_equal(config_parse_listen(host64, &a), -1);

    static const char *const bad[] = {
        "", ":", "host", "host:", ":9000", "host:65536", "host:-1",
        "host:80x", "host:0x50", "host:99999999999999999999", "host:8080 ",
    };
    for (size_t i = 0; i < UNIT_LEN(bad); i++) {
        print_message("'%s'\n", bad[i]);
        assert_int_equal(config_parse_listen(bad[i], &a), -1);
    }
}

static void test_valid_id(void **state)
{
    (void)state;
    char id[CONFIG_ID_MAX + 2];
    assert_true(config_valid_id("a"));
    assert_true(config_valid_id("keynote"));
    assert_true(config_valid_id("Track-A_2021"));
    assert_true(config_valid_id("0"));
    memset(id, 'x', CONFIG_ID_LEN);
    id[CONFIG_ID_LEN] = '\0';
    assert_true(config_valid_id(id));             /* 40 */
    memset(id, 'x', CONFIG_ID_LEN + 1);
    id[CONFIG_ID_LEN + 1] = '\0';
    assert_false(config_valid_id(id));            /* 41 */

    static const char *const bad[] = {
        "", " ", "a b", "../x", "a/b", "a.b", "a:b", "a,b", "a=b", "#!::r=a",
        "caf\xc3\xa9", "tab\there", "nl\n",
    };
    for (size_t i = 0; i < UNIT_LEN(bad); i++) {
        print_message("'%s'\n", bad[i]);
        assert_false(config_valid_id(bad[i]));
    }
}

static void test_parse_time(void **state)
{
    (void)state;
    time_t t = 12345;
    assert_int_equal(config_parse_time("2021-02-22T16:00:00Z", &t), 0);
    assert_int_equal(t, T_2021_02_22_16);
    assert_int_equal(config_parse_time("1970-01-01T00:00:01Z", &t), 0);
    assert_int_equal(t, 1);
    assert_int_equal(config_parse_time("2024-02-29T00:00:00Z", &t), 0);
    assert_int_equal(t, 1709164800);              /* leap day */
    assert_int_equal(config_parse_time("2000-12-31T23:59:59Z", &t), 0);
    assert_int_equal(t, 978307199);
    /* local times with their offset name the same instant */
    assert_int_equal(config_parse_time("2021-02-22T17:00:00+01:00", &t), 0);
    assert_int_equal(t, T_2021_02_22_16);
    assert_int_equal(config_parse_time("2021-02-22T10:30:00-05:30", &t), 0);
    assert_int_equal(t, T_2021_02_22_16);
    assert_int_equal(config_parse_time("2021-02-23T01:00:00+09:00", &t), 0);
    assert_int_equal(t, T_2021_02_22_16);     /* the day before in UTC */
    assert_int_equal(config_parse_time("2021-02-22T16:00:00-00:00", &t), 0);
    assert_int_equal(t, T_2021_02_22_16);

    static const char *const bad[] = {
        "", "Z", "2021-02-22", "2021-02-22T16:00Z", "2021-02-22T16:00:00",
        "2021-02-22T16:00:00z", "2021-02-22T16:00:00+0100",
        "2021-02-22T16:00:00+01", "2021-02-22T16:00:00+1:00", "2021-02-22T16:00:00+01:00Z",
        "2021-02-22T16:00:00+24:00", "2021-02-22T16:00:00+01:60", "2021-02-22T16:00:00 +01:00",
        "2021-02-22T16:00:00+-1:00", "2021-02-22T16:00:00+01:00 ", "2021-02-22T1:00:00Z",
        "2021-02-22T 1:00:00Z", "2021-02-22T+1:00:00Z", "12021-02-22T16:00:00Z",
        "2021-02-22T16:00:00ZZ", "2021-02-22T16:00:00Z ", "2021-02-22 16:00:00Z",
        "2021-00-22T16:00:00Z", "2021-13-22T16:00:00Z", "2021-02-00T16:00:00Z",
        "2021-02-32T16:00:00Z", "2021-02-22T24:00:00Z", "2021-02-22T16:60:00Z",
        "2021-02-22T16:00:61Z", "2021/02/22T16:00:00Z", "yesterday",
    };
    for (size_t i = 0; i < UNIT_LEN(bad); i++) {
        print_message("'%s'\n", bad[i]);
        assert_int_equal(config_parse_time(bad[i], &t), -1);
    }
}

static void test_formats(void **state)
{
    (void)state;
    assert_int_equal(config_format_minutes(FORMAT_PRESENTATION), 40);
    assert_int_equal(config_format_minutes(FORMAT_PANEL), 60);
    assert_int_equal(config_format_minutes(FORMAT_WORKSHOP), 160);
    assert_int_equal(config_format_minutes(FORMAT_LIGHTNING), 10);
    assert_string_equal(config_format_name(FORMAT_PRESENTATION), "presentation");
    assert_string_equal(config_format_name(FORMAT_PANEL), "panel");
    assert_string_equal(config_format_name(FORMAT_WORKSHOP), "workshop");
    assert_string_equal(config_format_name(FORMAT_LIGHTNING), "lightning");
}

/* ------------------------------------------------------------ known bugs */

/* config_parse_time accepts impossible dates: timegm() normalises
 * 2021-02-30 to 2021-03-02, so a typo in `starts` silently moves a session. */
static void test_bug_parse_time_impossible_date(void **state)
{
    (void)state;
    time_t t;
    assert_int_equal(config_parse_time("2021-02-30T16:00:00Z", &t), -1);
    assert_int_equal(config_parse_time("2021-04-31T16:00:00Z", &t), -1);
    assert_int_equal(config_parse_time("2023-02-29T16:00:00Z", &t), -1);
}

/* A duplicate session must be reported at the line of the second
 * definition; find_line() returns the first header of that name. */
static void test_bug_duplicate_session_line(void **state)
{
    (void)state;
    struct loaded l = { 0 };
    load_text(&l, "[session a]\npassphrase = " PASS10 "\n"
                  "[session b]\npassphrase = " PASS10 "\n"
                  "[session a]\ntitle = again\n");
    char buf[512];
    const char *const nd[] = { "session a", "twice", NULL };
    bool found = err_line(&l, 5, buf, sizeof(buf), nd) != NULL;
    int rc = l.rc;
    if (!found)
        print_error("config_load wrote:\n%s", l.err);
    unload(&l);
    assert_int_equal(rc, -1);
    assert_true(found);
}

/* Two consecutive sections with the same session id are not detected:
 * on_ini_key only notices a section change when the name differs, so the
 * second [session a] silently overrides the first one's keys. */
static void test_bug_duplicate_session_adjacent(void **state)
{
    (void)state;
    struct loaded l = { 0 };
    load_text(&l, "[session a]\npassphrase = " PASS10 "\ntitle = first\n"
                  "[session a]\ntitle = second\n");
    char buf[512];
    const char *const nd[] = { "session a", "twice", NULL };
    bool found = err_line(&l, 4, buf, sizeof(buf), nd) != NULL;
    int rc = l.rc;
    if (!found)
        print_error("config_load wrote:\n%s", l.err);
    unload(&l);
    assert_int_equal(rc, -1);
    assert_true(found);
}

/* A session section without keys is dropped without an error: libinih is
 * built without INI_CALL_HANDLER_ON_NEW_SECTION, so new_session() never runs
 * and the "passphrase is required" check never sees the session. */
static void test_bug_empty_session_section(void **state)
{
    (void)state;
    struct loaded l = { 0 };
    load_text(&l, "[session lonely]\n[hls]\nwindow = 6\n");
    char buf[512];
    const char *const nd[] = { "session lonely", "passphrase", NULL };
    bool found = err_line(&l, 1, buf, sizeof(buf), nd) != NULL;
    int rc = l.rc;
    if (!found)
        print_error("config_load returned %d and wrote:\n%s", rc, l.err);
    unload(&l);
    assert_int_equal(rc, -1);
    assert_true(found);
}

/* An IPv6 listen address can only be written as [addr]:port, but the
 * brackets are kept in host and getaddrinfo("[::1]") then fails at start. */
static void test_bug_parse_listen_ipv6_brackets(void **state)
{
    (void)state;
    struct listen_addr a;
    assert_int_equal(config_parse_listen("[::1]:9000", &a), 0);
    assert_int_equal(a.port, 9000);
    assert_string_equal(a.host, "::1");
}

/* Session ids have at most 40 characters: libinih keeps only 49 of a
 * section name, so "[session <40 chars>]" is the longest that loads intact.
 * A longer id is refused at its own line instead of silently truncated. */
static void test_bug_long_session_id(void **state)
{
    (void)state;
    char id63[CONFIG_ID_MAX], id64[CONFIG_ID_MAX + 1], text[256];
    memset(id63, 'i', CONFIG_ID_LEN);
    id63[CONFIG_ID_LEN] = '\0';
    memset(id64, 'j', CONFIG_ID_MAX);
    id64[CONFIG_ID_MAX] = '\0';
    struct loaded l = { 0 };
    snprintf(text, sizeof(text), "[session %s]\npassphrase = " PASS10 "\n", id63);
    load_text(&l, text);
    int rc63 = l.rc;
    bool found63 = config_find_session(&l.cfg, id63) != NULL;
    unload(&l);
    snprintf(text, sizeof(text), "[session %s]\npassphrase = " PASS10 "\n", id64);
    load_text(&l, text);
    int rc64 = l.rc;
    unload(&l);
    assert_int_equal(rc63, 0);
    assert_true(found63);
    assert_int_equal(rc64, -1);
}

/* An error about a key given twice in a section points at the first
 * occurrence (find_line), not at the line holding the bad value. */
static void test_bug_repeated_key_line(void **state)
{
    (void)state;
    struct loaded l = { 0 };
    load_text(&l, "[hls]\nwindow = 6\nwindow = 1000\n");
    char buf[512];
    const char *const nd[] = { "window", NULL };
    bool found = err_line(&l, 3, buf, sizeof(buf), nd) != NULL;
    int rc = l.rc;
    if (!found)
        print_error("config_load wrote:\n%s", l.err);
    unload(&l);
    assert_int_equal(rc, -1);
    assert_true(found);
}

/* Whole-config checks ran after the last key with that key's count: a
 * repeated key last made them print "PATH:0:". They name the line of the
 * value that holds, the last. */
static void test_bug_late_error_line(void **state)
{
    (void)state;
    struct loaded l = { 0 };
    load_text(&l, "[session talk]\npassphrase = abcdefghijkl\ningest_window = open\n"
                  "ingest_window = strict\n[hls]\nformat = fmp4\nsegment_duration = 2\n"
                  "part_duration = 3\nwindow = 6\nwindow = 7\n");
    assert_int_equal(l.rc, -1);
    assert_err_at(&l, 4, "ingest_window", "starts");
    assert_err_at(&l, 8, "part_duration", "smaller");
    assert_n_errors(&l, 2);
    assert_null(strstr(l.err, ":0:"));
    unload(&l);
}

/* libinih reads a line over 199 characters as two, and named the line
 * below a long title as a syntax error: the long one is named instead,
 * once, whatever follows it; 199 characters still load whole. */
static void test_bug_long_line(void **state)
{
    (void)state;
    char title[300], text[512];
    memset(title, 't', sizeof(title) - 1);
    title[sizeof(title) - 1] = '\0';
    const size_t fits = 199 - strlen("title = ");
    title[fits] = '\0';
    snprintf(text, sizeof(text), "[session a]\npassphrase = abcdefghijkl\ntitle = %s\r\nformat = panel\n", title);
    struct loaded l = { 0 };
    load_text(&l, text);
    if (l.rc != 0)
        fail_msg("a 199-character line:\n%s", l.err);
    assert_string_equal(l.cfg.sessions[0].title, title);
    unload(&l);
    title[fits] = 't';
    title[250] = '\0';
    snprintf(text, sizeof(text), "[session a]\npassphrase = abcdefghijkl\ntitle = %s\nformat = panel\n", title);
    load_text(&l, text);
    assert_int_equal(l.rc, -1);
    assert_err_at(&l, 3, "longer than 199 characters");
    assert_n_errors(&l, 1);
    unload(&l);
}

/* libinih names only its first bad line; every one is reported, and all
 * errors come out in line order whichever pass found them. An indented
 * line under a key continues it (libinih's multi-line values), a ';'
 * after a blank starts a comment. */
static void test_bug_every_syntax_error_in_order(void **state)
{
    (void)state;
    struct loaded l = { 0 };
    load_text(&l, "[server]\nbad line one\nhttp_listen = 127.0.0.1:8080\nbad ; line = two\n"
                  "[session talk]\ningest_window = strict\npassphrase = abcdefghijkl\n"
                  "[hls]\nwindow = 6\n   still window\n# comment\n; comment\n\n[srt\n");
    assert_int_equal(l.rc, -1);
    assert_err_at(&l, 2, "syntax");
    assert_err_at(&l, 4, "syntax");
    assert_err_at(&l, 6, "starts");
    assert_err_at(&l, 9, "window", "still window");     /* the key's line */
    assert_err_at(&l, 14, "']'");
    assert_n_errors(&l, 5);
    char prefix[128];
    int lines[] = { 2, 4, 6, 9, 14 };
    const char *p = l.err;
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++, p = strchr(p, '\n') + 1) {
        snprintf(prefix, sizeof(prefix), "%s:%d:", l.path, lines[i]);
        if (strncmp(p, prefix, strlen(prefix)) != 0)
            fail_msg("error %zu is not at line %d (errors out of line order):\n%s", i + 1, lines[i], l.err);
    }
    unload(&l);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_load_full),
        cmocka_unit_test(test_load_file_defaults),
        cmocka_unit_test(test_load_bounds),
        cmocka_unit_test(test_load_repo_configs),
        cmocka_unit_test(test_load_missing_file),
        cmocka_unit_test(test_bug_load_directory),
        cmocka_unit_test(test_load_bad_values),
        cmocka_unit_test(test_name_length),
        cmocka_unit_test(test_err_unknown_key),
        cmocka_unit_test(test_err_unknown_section),
        cmocka_unit_test(test_err_key_outside_section),
        cmocka_unit_test(test_err_syntax),
        cmocka_unit_test(test_err_missing_passphrase),
        cmocka_unit_test(test_err_duplicate_session),
        cmocka_unit_test(test_err_invalid_session_id),
        cmocka_unit_test(test_err_bad_starts),
        cmocka_unit_test(test_err_strict_without_starts),
        cmocka_unit_test(test_err_part_not_below_segment),
        cmocka_unit_test(test_err_parts_need_fmp4),
        cmocka_unit_test(test_err_short_passphrase_once),
        cmocka_unit_test(test_err_many),
        cmocka_unit_test(test_parse_listen),
        cmocka_unit_test(test_valid_id),
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_bug_parse_time_impossible_date),
        cmocka_unit_test(test_bug_duplicate_session_line),
        cmocka_unit_test(test_bug_duplicate_session_adjacent),
        cmocka_unit_test(test_bug_empty_session_section),
        cmocka_unit_test(test_bug_parse_listen_ipv6_brackets),
        cmocka_unit_test(test_bug_long_session_id),
        cmocka_unit_test(test_bug_repeated_key_line),
        cmocka_unit_test(test_bug_late_error_line),
        cmocka_unit_test(test_bug_long_line),
        cmocka_unit_test(test_bug_every_syntax_error_in_order),
    };
    return unit_main(argc, argv, "config", tests, UNIT_LEN(tests));
}
