/* HTTP server.
 *
 * Live playlists and segments are AVBufferRefs held by the session's live
 * window. A request takes its own reference and hands the bytes to
 * libmicrohttpd with a free callback that drops it when the response is
 * done: nothing is copied per request, and a segment leaving the window
 * stays valid for readers still sending it. */
#define _GNU_SOURCE
#include "podium/http.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "podium/ingest.h"
#include "podium/log.h"
#include "podium/segmenter.h"
#include "podium/store.h"

#define POOL_THREADS 2
#define MAX_CONNECTIONS 8192
#define ALLOW_READ "GET, HEAD, OPTIONS"

enum { ST_2XX, ST_304, ST_400, ST_404, ST_405, ST_5XX, ST_OTHER, ST_N };
static const char *const status_names[ST_N] = { "2xx", "304", "400", "404", "405", "5xx", "other" };

struct http {
    const struct config *cfg;
    struct registry *reg;
    struct MHD_Daemon *daemon;
    time_t started;
    atomic_uint_fast64_t by_status[ST_N];
    atomic_uint_fast64_t segment_bytes;
};

static void unref_cb(void *cls)
{
    AVBufferRef *b = cls;
    av_buffer_unref(&b);
}

static void count_status(struct http *h, unsigned code)
{
    int k = code >= 200 && code < 300 ? ST_2XX : code == 304 ? ST_304
            : code == 400 ? ST_400 : code == 404 ? ST_404 : code == 405 ? ST_405
            : code >= 500 ? ST_5XX : ST_OTHER;
    atomic_fetch_add_explicit(&h->by_status[k], 1, memory_order_relaxed);
}

/* Queues r (dropping our reference) with the headers every answer has. */
static enum MHD_Result reply(struct http *h, struct MHD_Connection *c,
                             unsigned code, struct MHD_Response *r)
{
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
    MHD_add_response_header(r, "Server", "podium/" PODIUM_VERSION);
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    count_status(h, code);
    return ret;
}

static struct MHD_Response *text_response(const char *type, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static struct MHD_Response *text_response(const char *type, const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    struct MHD_Response *r = MHD_create_response_from_buffer((size_t)n, s,
                                                             MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(s);
        return NULL;
    }
    MHD_add_response_header(r, "Content-Type", type);
    return r;
}

static enum MHD_Result error_reply(struct http *h, struct MHD_Connection *c,
                                   unsigned code, const char *msg)
{
    struct MHD_Response *r = text_response("application/json",
                                           "{\"error\":\"%s\"}\n", msg);
    if (r)
        MHD_add_response_header(r, "Cache-Control", "no-store");
    if (r && code == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, "Allow", ALLOW_READ);
    return reply(h, c, code, r);
}

static enum MHD_Result buffer_reply(struct http *h, struct MHD_Connection *c,
                                    AVBufferRef *buf, const char *type,
                                    const char *cache)
{
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback_cls(
        buf->size, buf->data, unref_cb, buf);
    if (!r) {
        av_buffer_unref(&buf);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", cache);
    return reply(h, c, MHD_HTTP_OK, r);
}

static void iso_time(time_t t, char *buf, size_t len)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *speakers_json(const char *list)
{
    json_t *a = json_array();
    const char *p = list ? list : "";
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        while (n > 0 && p[n - 1] == ' ')
            n--;
        if (n > 0)
            json_array_append_new(a, json_stringn(p, n));
        p += e ? (size_t)(e - p) : strlen(p);
    }
    return a;
}

static json_t *session_json(struct session *s)
{
    char addr[64], when[32];
    time_t since = 0;
    struct seg_stats ss = { 0 };
    struct store_stats ws = { 0 };
    bool live = session_publisher(s, addr, sizeof(addr), &since);

    if (s->seg)
        seg_get_stats(s->seg, &ss);
    if (s->win)
        store_get_stats(s->win, &ws);

    const char *state = live ? "live" : ws.segments > 0 ? "ended" : "scheduled";
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(s->id));
    json_object_set_new(o, "title", json_string(s->conf.title));
    json_object_set_new(o, "speakers", speakers_json(s->conf.speakers));
    json_object_set_new(o, "format", json_string(config_format_name(s->conf.format)));
    if (s->conf.starts) {
        iso_time(s->conf.starts, when, sizeof(when));
        json_object_set_new(o, "starts", json_string(when));
    } else {
        json_object_set_new(o, "starts", json_null());
    }
    json_object_set_new(o, "duration_minutes",
                        json_integer(config_format_minutes(s->conf.format)));
    json_object_set_new(o, "state", json_string(state));
    json_object_set_new(o, "live", json_boolean(live));
    if (live) {
        json_t *p = json_object();
        iso_time(since, when, sizeof(when));
        json_object_set_new(p, "address", json_string(addr));
        json_object_set_new(p, "since", json_string(when));
        struct ingest_link_stats ls;
        pthread_mutex_lock(&s->lock);
        int sock = s->publisher_sock;
        pthread_mutex_unlock(&s->lock);
        if (ingest_sock_stats(sock, &ls) == 0) {
            json_t *l = json_object();
            json_object_set_new(l, "rtt_ms", json_real(ls.rtt_ms));
            json_object_set_new(l, "recv_mbps", json_real(ls.mbps_recv));
            json_object_set_new(l, "packets_lost", json_integer(ls.pkts_lost));
            json_object_set_new(l, "packets_retransmitted", json_integer(ls.pkts_retrans));
            json_object_set_new(l, "packets_dropped", json_integer(ls.pkts_dropped));
            json_object_set_new(l, "rcvbuf_ms", json_integer(ls.rcvbuf_ms));
            json_object_set_new(p, "srt", l);
        }
        json_object_set_new(o, "publisher", p);
    } else {
        json_object_set_new(o, "publisher", json_null());
    }
    json_object_set_new(o, "bitrate_bps", json_integer((json_int_t)ss.last_bitrate));
    json_object_set_new(o, "bytes_in", json_integer((json_int_t)atomic_load(&s->bytes_in)));
    json_object_set_new(o, "segments", json_integer((json_int_t)ws.segments));
    json_object_set_new(o, "media_sequence", json_integer((json_int_t)ws.media_sequence));
    json_object_set_new(o, "target_duration", json_integer(ws.target));
    json_object_set_new(o, "discontinuities", json_integer((json_int_t)ws.discontinuities));
    json_object_set_new(o, "publishers_total",
                        json_integer((json_int_t)atomic_load(&s->publishers_total)));
    char url[128];
    snprintf(url, sizeof(url), "/live/%s/index.m3u8", s->id);
    json_object_set_new(o, "live_url", json_string(url));
    return o;
}

static enum MHD_Result json_reply(struct http *h, struct MHD_Connection *c, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!s)
        return error_reply(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    size_t n = strlen(s);
    struct MHD_Response *r = MHD_create_response_from_buffer(n, s, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(s);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    return reply(h, c, MHD_HTTP_OK, r);
}

static enum MHD_Result api_sessions(struct http *h, struct MHD_Connection *c,
                                    const char *id)
{
    if (id) {
        struct session *s = config_valid_id(id) ? registry_find(h->reg, id) : NULL;
        if (!s)
            return error_reply(h, c, MHD_HTTP_NOT_FOUND, "no such session");
        return json_reply(h, c, session_json(s));
    }
    struct session *list[REGISTRY_MAX_SESSIONS];
    size_t n = registry_list(h->reg, list, REGISTRY_MAX_SESSIONS);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, session_json(list[i]));
    json_t *o = json_object();
    json_object_set_new(o, "sessions", a);
    return json_reply(h, c, o);
}

static enum MHD_Result live_reply(struct http *h, struct MHD_Connection *c,
                                  const char *rest)
{
    char id[CONFIG_ID_MAX];
    const char *slash = strchr(rest, '/');
    if (!slash || (size_t)(slash - rest) >= sizeof(id))
        return error_reply(h, c, MHD_HTTP_NOT_FOUND, "not found");
    memcpy(id, rest, (size_t)(slash - rest));
    id[slash - rest] = '\0';
    const char *file = slash + 1;
    struct session *s = config_valid_id(id) ? registry_find(h->reg, id) : NULL;
    if (!s || !s->win)
        return error_reply(h, c, MHD_HTTP_NOT_FOUND, "no such session");

    if (strcmp(file, "index.m3u8") == 0) {
        AVBufferRef *pl = store_playlist(s->win);
        if (!pl)
            return error_reply(h, c, MHD_HTTP_NOT_FOUND, "no segment yet");
        struct store_stats st;
        store_get_stats(s->win, &st);
        char cache[64];
        /* At most half the target, so players see every new segment. */
        snprintf(cache, sizeof(cache), "max-age=%d", st.ended ? 60 : st.target / 2);
        return buffer_reply(h, c, pl, "application/vnd.apple.mpegurl", cache);
    }

    /* <n>.ts */
    char *end;
    errno = 0;
    if (file[0] < '0' || file[0] > '9')
        return error_reply(h, c, MHD_HTTP_NOT_FOUND, "not found");
    unsigned long long seq = strtoull(file, &end, 10);
    if (errno || strcmp(end, ".ts") != 0)
        return error_reply(h, c, MHD_HTTP_NOT_FOUND, "not found");
    AVBufferRef *seg = store_segment(s->win, seq);
    if (!seg)
        return error_reply(h, c, MHD_HTTP_NOT_FOUND, "no such segment");
    atomic_fetch_add_explicit(&h->segment_bytes, seg->size, memory_order_relaxed);
    return buffer_reply(h, c, seg, "video/mp2t", "public, max-age=31536000, immutable");
}

static void html_escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

static enum MHD_Result home_page(struct http *h, struct MHD_Connection *c)
{
    char *page = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&page, &len);
    if (!f)
        return error_reply(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    struct session *list[REGISTRY_MAX_SESSIONS];
    size_t n = registry_list(h->reg, list, REGISTRY_MAX_SESSIONS);
    fputs("<!doctype html><html><head><meta charset=\"utf-8\"><title>Podium</title>"
          "<style>body{font-family:sans-serif;max-width:50em;margin:2em auto}"
          "li{margin:.4em 0}.live{color:#c00;font-weight:bold}</style></head><body>"
          "<h1>Podium</h1><h2>Sessions</h2><ul>", f);
    for (size_t i = 0; i < n; i++) {
        char addr[64];
        bool live = session_publisher(list[i], addr, sizeof(addr), NULL);
        fputs("<li>", f);
        if (live)
            fputs("<span class=\"live\">LIVE</span> ", f);
        html_escape(f, list[i]->conf.title);
        fputs(" &mdash; <a href=\"/live/", f);
        html_escape(f, list[i]->id);
        fputs("/index.m3u8\">HLS</a></li>", f);
    }
    fputs("</ul></body></html>\n", f);
    fclose(f);
    struct MHD_Response *r = MHD_create_response_from_buffer(len, page, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(page);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "text/html; charset=utf-8");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    return reply(h, c, MHD_HTTP_OK, r);
}

static enum MHD_Result metrics(struct http *h, struct MHD_Connection *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return error_reply(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    struct session *list[REGISTRY_MAX_SESSIONS];
    size_t n = registry_list(h->reg, list, REGISTRY_MAX_SESSIONS);
    int live = 0;
    fputs("# HELP podium_session_bytes_in_total SRT payload bytes received.\n"
          "# TYPE podium_session_bytes_in_total counter\n", f);
    for (size_t i = 0; i < n; i++) {
        char addr[64];
        live += session_publisher(list[i], addr, sizeof(addr), NULL);
        fprintf(f, "podium_session_bytes_in_total{session=\"%s\"} %" PRIuFAST64 "\n",
                list[i]->id, atomic_load(&list[i]->bytes_in));
    }
    fputs("# HELP podium_session_segments_total Segments published.\n"
          "# TYPE podium_session_segments_total counter\n", f);
    for (size_t i = 0; i < n; i++) {
        struct store_stats st = { 0 };
        if (list[i]->win)
            store_get_stats(list[i]->win, &st);
        fprintf(f, "podium_session_segments_total{session=\"%s\"} %" PRIu64 "\n",
                list[i]->id, st.segments);
    }
    fprintf(f, "# HELP podium_publishers Connected publishers.\n"
               "# TYPE podium_publishers gauge\npodium_publishers %d\n", live);
    fputs("# HELP podium_http_responses_total HTTP responses by status class.\n"
          "# TYPE podium_http_responses_total counter\n", f);
    for (int k = 0; k < ST_N; k++)
        fprintf(f, "podium_http_responses_total{status=\"%s\"} %" PRIuFAST64 "\n",
                status_names[k], atomic_load(&h->by_status[k]));
    fprintf(f, "# HELP podium_http_segment_bytes_total Segment bytes served.\n"
               "# TYPE podium_http_segment_bytes_total counter\n"
               "podium_http_segment_bytes_total %" PRIuFAST64 "\n",
            atomic_load(&h->segment_bytes));
    fclose(f);
    struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    return reply(h, c, MHD_HTTP_OK, r);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version,
                               const char *upload_data, size_t *upload_size,
                               void **req_cls)
{
    struct http *h = cls;
    (void)version; (void)upload_data; (void)upload_size; (void)req_cls;

    if (strcmp(method, "OPTIONS") == 0) {
        struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL,
                                                                 MHD_RESPMEM_PERSISTENT);
        if (r) {
            MHD_add_response_header(r, "Access-Control-Allow-Methods", ALLOW_READ);
            MHD_add_response_header(r, "Access-Control-Allow-Headers",
                                    "Authorization, Content-Type, Range");
            MHD_add_response_header(r, "Access-Control-Max-Age", "86400");
            MHD_add_response_header(r, "Allow", ALLOW_READ);
        }
        return reply(h, c, MHD_HTTP_NO_CONTENT, r);
    }
    bool read = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (!read) {
        if (strcmp(method, "POST") && strcmp(method, "PUT") && strcmp(method, "PATCH")
            && strcmp(method, "DELETE"))
            return error_reply(h, c, MHD_HTTP_NOT_IMPLEMENTED, "method not implemented");
        return error_reply(h, c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
    }

    if (strcmp(url, "/healthz") == 0)
        return reply(h, c, MHD_HTTP_OK, text_response("text/plain", "ok\n"));
    if (strcmp(url, "/") == 0)
        return home_page(h, c);
    if (strcmp(url, "/metrics") == 0)
        return metrics(h, c);
    if (strcmp(url, "/api/v1/sessions") == 0)
        return api_sessions(h, c, NULL);
    if (strncmp(url, "/api/v1/sessions/", 17) == 0)
        return api_sessions(h, c, url + 17);
    if (strncmp(url, "/live/", 6) == 0)
        return live_reply(h, c, url + 6);
    return error_reply(h, c, MHD_HTTP_NOT_FOUND, "not found");
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '"')
            *p = ' ';
    log_msg(LV_WARN, NULL, "\"http: %s\"", msg);
}

struct http *http_start(const struct config *cfg, struct registry *reg)
{
    struct http *h = calloc(1, sizeof(*h));
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
    struct addrinfo *res = NULL;
    char port[16];

    if (!h)
        return NULL;
    h->cfg = cfg;
    h->reg = reg;
    h->started = time(NULL);
    snprintf(port, sizeof(port), "%d", cfg->http_listen.port);
    if (getaddrinfo(cfg->http_listen.host, port, &hints, &res) != 0 || !res) {
        log_msg(LV_ERROR, NULL, "\"cannot resolve http_listen\" addr=%s:%d",
                cfg->http_listen.host, cfg->http_listen.port);
        free(h);
        return NULL;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (res->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h->daemon = MHD_start_daemon(flags, (uint16_t)cfg->http_listen.port, NULL, NULL,
                                 handler, h,
                                 MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                                 MHD_OPTION_SOCK_ADDR, res->ai_addr,
                                 MHD_OPTION_THREAD_POOL_SIZE, (unsigned)POOL_THREADS,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
                                 MHD_OPTION_END);
    freeaddrinfo(res);
    if (!h->daemon) {
        log_msg(LV_ERROR, NULL, "\"cannot listen for HTTP\" addr=%s:%d err=\"%s\"",
                cfg->http_listen.host, cfg->http_listen.port, strerror(errno));
        free(h);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon,
                                                           MHD_DAEMON_INFO_BIND_PORT);
    log_msg(LV_INFO, NULL, "\"listening\" proto=http addr=%s:%u",
            cfg->http_listen.host, info ? info->port : (unsigned)cfg->http_listen.port);
    return h;
}

void http_stop(struct http **ph)
{
    struct http *h = *ph;
    if (!h)
        return;
    MHD_stop_daemon(h->daemon);
    free(h);
    *ph = NULL;
}
