/* HTTP server.
 *
 * Live playlists and segments are AVBufferRefs held by the session's live
 * window. A request takes its own reference and hands the bytes to
 * libmicrohttpd with a free callback that drops it when the response is
 * done: nothing is copied per request, and a segment leaving the window
 * stays valid for readers still sending it.
 *
 * A segment's bytes are a mapping of a memfd (segbuf.h): one response
 * reading that fd is shared by every GET of it, so the kernel sends the
 * segment's own pages (sendfile) instead of copying the bytes into each
 * socket, which is what bounds throughput for ~1 MB segments.
 *
 * Connections come from livesend (livesend.h), which answers what a
 * player's connection asks for (pages, hls.js, the session's JSON, live
 * playlists and segments: player_lookup) itself and hands a connection
 * over at its first other request (give_to_mhd). */
#define _GNU_SOURCE
#include "podium/http.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "podium/acceptor.h"
#include "podium/clock.h"
#include "podium/export.h"
#include "podium/ingest.h"
#include "podium/livesend.h"
#include "podium/record.h"
#include "podium/log.h"
#include "podium/playlist.h"
#include "podium/pull.h"
#include "podium/segbuf.h"
#include "podium/segmenter.h"
#include "podium/store.h"
#include "podium/token.h"

#define TOKEN_TTL (30 * 24 * 3600)        /* attendee tokens: a conference month */

#define MAX_CONNECTIONS 8192
#define CONN_TIMEOUT_S 30                 /* idle keep-alive connections */
/* Per connection: the request header (half of it at most, so 8 KB of
 * header lines) and the response header. MHD zeroes it for every request,
 * so the 32 KB default costs a 32 KB memset per request. */
#define CONN_MEMORY (16 * 1024)
#define ALLOW_READ "GET, HEAD, OPTIONS"
#define ALLOW_POST "POST, OPTIONS"
#define MAX_BODY (64 * 1024)
#define SEG_FILES 1024                 /* segments with a shared response; power of 2 */
#define IMMUTABLE "public, max-age=31536000, immutable"
#define PLAYLIST_TYPE "application/vnd.apple.mpegurl"
#define PAGE_TYPE "text/html; charset=utf-8"
#define SCRIPT_TYPE "text/javascript; charset=utf-8"
#define SCRIPT_CACHE "public, max-age=86400"
/* Header lines as livesend sends them: those reply adds, and a live
 * segment's as file_response adds them. */
#define REPLY_HEADERS "Access-Control-Allow-Origin: *\r\nServer: podium/" PODIUM_VERSION "\r\n"
#define SEGMENT_HEADERS(type) \
    "Content-Type: " type "\r\nCache-Control: " IMMUTABLE "\r\n" REPLY_HEADERS
/* jansson prints reals with %.17g, so an rtt of 0.058 went out as
 * 0.058000000000000003; 10 significant digits keep milliseconds on a
 * 160-minute recording's duration */
#define JSON_REPLY (JSON_COMPACT | JSON_REAL_PRECISION(10))

enum { ST_2XX, ST_304, ST_400, ST_401, ST_404, ST_405, ST_5XX, ST_OTHER, ST_N };
static const char *const status_names[ST_N] = { "2xx", "304", "400", "401", "404", "405",
                                                 "5xx", "other" };

/* Per request: the body of a POST/PATCH/DELETE, up to MAX_BODY; or the
 * state of a held (suspended) GET. */
struct request {
    char *body;
    size_t len;
    bool too_large;
    struct MHD_Connection *conn;
    struct live_window *win;         /* held on this window's waiters */
    bool waiting, too_far;
    bool resumed;                    /* called once since the resume */
};

/* A live segment with a response reading its memfd, shared by all its
 * requests. buf is the store's segment: held so that its data pointer, the
 * key, cannot be reused by another segment while the entry exists. */
struct seg_file {
    AVBufferRef *buf;
    struct MHD_Response *resp;
};

struct http {
    const struct config *cfg;
    pthread_mutex_t token_lock;           /* guards admin_token and site (a reload replaces them) */
    char *site;                           /* the conference's name, HTML-escaped */
    char *name;                           /* the same as written ("Podium": none) */
    char *admin_token;
    struct http_env env;
    char web_dir[PATH_MAX - 64];         /* hls.min.js and other assets */
    struct registry *reg;
    struct MHD_Daemon *daemon;
    struct acceptor *acceptor;            /* hands connections to livesend */
    struct livesend *livesend;            /* what players ask for; the rest to daemon */
    time_t started;
    atomic_int srt_port;                  /* 0 until ingest has bound it */
    atomic_uint_fast64_t by_status[ST_N];
    atomic_uint_fast64_t segment_bytes;
    /* how much of the traffic livesend keeps (podium_http_* in /metrics) */
    atomic_uint_fast64_t conns_accepted, conns_handed_over, livesend_responses;
    /* *req_cls of a GET/HEAD between its first and second handler call */
    char headers_seen;
    pthread_mutex_t files_lock;           /* files, n_files */
    struct seg_file files[SEG_FILES];     /* open addressing by buf->data */
    size_t n_files;
};

/* libmicrohttpd 0.9.75 closes the connection after a response queued in
 * the first handler call (it may not have read a body): answering in the
 * second, which follows at once, keeps it alive. A request to be held
 * must be suspended in the first call though: suspended in the second,
 * its resume never calls the handler again. */
static enum MHD_Result defer_reply(struct http *h, void **req_cls)
{
    *req_cls = &h->headers_seen;
    return MHD_YES;
}

/* The held state of a request, NULL while there is none. */
static struct request *request_of(struct http *h, void **req_cls)
{
    return *req_cls == &h->headers_seen ? NULL : *req_cls;
}

static void unref_cb(void *cls)
{
    AVBufferRef *b = cls;
    av_buffer_unref(&b);
}

static void count_status(struct http *h, unsigned code)
{
    int k = code >= 200 && code < 300 ? ST_2XX : code == 304 ? ST_304
            : code == 400 ? ST_400 : code == 401 ? ST_401 : code == 404 ? ST_404 : code == 405 ? ST_405
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
    if (r && code == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"podium\"");
    return reply(h, c, code, r);
}

static void html_escape(FILE *f, const char *s);

void http_set_name(struct http *h, const char *name)
{
    char *site = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&site, &len);
    if (f) {
        html_escape(f, *name ? name : "Podium");
        if (fclose(f) != 0) {
            free(site);
            site = NULL;
        }
    }
    char *plain = strdup(*name ? name : "Podium");
    pthread_mutex_lock(&h->token_lock);
    if (site && plain) {        /* out of memory: the old name stays */
        free(h->site);
        free(h->name);
        h->site = site;
        h->name = plain;
        site = plain = NULL;
    }
    pthread_mutex_unlock(&h->token_lock);
    free(site);
    free(plain);
}

/* A copy of the conference's name, HTML-escaped or as written; caller
 * frees (NULL: out of memory). */
static char *conference_name(struct http *h, bool html)
{
    pthread_mutex_lock(&h->token_lock);
    const char *name = html ? h->site : h->name;
    char *copy = strdup(name ? name : "Podium");
    pthread_mutex_unlock(&h->token_lock);
    return copy;
}

static char *site_name(struct http *h)
{
    return conference_name(h, true);
}

/* A browser that follows a stale or mistyped link to a page gets a page
 * back, with the way to the programme, not an API error in JSON. */
static enum MHD_Result page_not_found(struct http *h, struct MHD_Connection *c,
                                      const char *heading)
{
    char *site = site_name(h);
    struct MHD_Response *r = !site ? NULL : text_response(PAGE_TYPE,
        "<!doctype html><html><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        "<link rel=\"icon\" href=\"data:,\"><title>Not found - %s</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:1em auto;padding:0 1em}"
        "</style></head><body><h1>%s</h1><p>The link may be mistyped, or the session "
        "was removed.</p><p><a href=\"/\">See all sessions</a></p></body></html>\n",
        site, heading);
    free(site);
    if (r)
        MHD_add_response_header(r, "Cache-Control", "no-store");
    return reply(h, c, MHD_HTTP_NOT_FOUND, r);
}

static bool wants_html(struct MHD_Connection *c)
{
    const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
    return accept && strstr(accept, "text/html");
}

static enum MHD_Result method_not_allowed(struct http *h, struct MHD_Connection *c,
                                          const char *allow)
{
    struct MHD_Response *r = text_response("application/json",
                                           "{\"error\":\"method not allowed\"}\n");
    if (r)
        MHD_add_response_header(r, "Allow", allow);
    return reply(h, c, MHD_HTTP_METHOD_NOT_ALLOWED, r);
}

/* Constant time in the length of the expected token. */
static bool token_equal(const char *given, const char *expected)
{
    size_t n = strlen(expected), m = strlen(given);
    unsigned char diff = (unsigned char)(n != m);
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(expected[i] ^ (i < m ? given[i] : 0));
    return diff == 0 && n > 0;
}

static bool admin_bearer(struct http *h, const char *auth)
{
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
        return false;
    pthread_mutex_lock(&h->token_lock);
    bool ok = token_equal(auth + 7, h->admin_token ? h->admin_token : "");
    pthread_mutex_unlock(&h->token_lock);
    return ok;
}

void http_set_admin_token(struct http *h, const char *token)
{
    char *copy = strdup(token);
    pthread_mutex_lock(&h->token_lock);
    free(h->admin_token);
    h->admin_token = copy;          /* NULL (out of memory): nobody is organizer */
    pthread_mutex_unlock(&h->token_lock);
}

static bool is_organizer(struct http *h, struct MHD_Connection *c)
{
    return admin_bearer(h, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"));
}


/* ------------------------------------------------ attendee access */

/* The attendee token of a request: ?token= or a Bearer that is not the
 * admin token. */
static const char *token_of(const char *query_token, const char *auth)
{
    if (query_token && *query_token)
        return query_token;
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0)
        return auth + 7;
    return NULL;
}

static const char *request_token(struct MHD_Connection *c)
{
    return token_of(MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token"),
                    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"));
}

/* With access=registered, media needs a valid attendee token (organizers
 * pass). Returns true when the request may go on; otherwise *code and *why
 * say how to refuse it. */
static bool media_allowed(struct http *h, const char *query_token, const char *auth,
                          unsigned *code, const char **why)
{
    if (h->cfg->access != ACCESS_REGISTERED || admin_bearer(h, auth))
        return true;
    switch (token_check(h->env.secret, token_of(query_token, auth), time(NULL))) {
    case TOKEN_OK:
        return true;
    case TOKEN_MISSING:
        *code = MHD_HTTP_UNAUTHORIZED;
        *why = "registration required: POST /api/v1/register for a token";
        return false;
    case TOKEN_EXPIRED:
        *code = MHD_HTTP_FORBIDDEN;
        *why = "token expired: register again";
        return false;
    default:
        *code = MHD_HTTP_FORBIDDEN;
        *why = "invalid token";
        return false;
    }
}

static bool attendee_allowed(struct http *h, struct MHD_Connection *c, unsigned *code,
                             const char **why)
{
    return media_allowed(h, MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token"),
                         MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"),
                         code, why);
}

/* Appends ?token=... (&token=... after a query) to the URI ending at end. */
static char *put_token(char *w, const char *uri, const char *end, const char *token,
                       size_t tlen)
{
    memcpy(w, memchr(uri, '?', (size_t)(end - uri)) ? "&token=" : "?token=", 7);
    memcpy(w + 7, token, tlen);
    return w + 7 + tlen;
}

/* A copy of playlist text with the attendee's token on every URI, so any
 * HLS player carries it to what the playlist names: the URI lines, and the
 * URI="..." attributes of tag lines (an fMP4 init section, LL-HLS parts and
 * preload hints), which a player fetches as well. Caller frees. */
static char *tokened_playlist(const uint8_t *text, size_t len, const char *token,
                              size_t *out_len)
{
    static const char attr[] = "URI=\"";
    size_t uris = 1;
    for (size_t i = 0; i < len; i++)
        uris += text[i] == '\n' || (text[i] == 'U' && len - i >= 5 && memcmp(text + i, attr, 5) == 0);
    size_t tlen = strlen(token), cap = len + uris * (tlen + 8) + 1;
    char *out = malloc(cap), *w = out;
    if (!out)
        return NULL;
    const char *p = (const char *)text, *end = p + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        if (p < eol && *p != '#') {
            memcpy(w, p, (size_t)(eol - p));
            w = put_token(w + (eol - p), p, eol, token, tlen);
        } else {
            const char *q = p;
            for (const char *a; (a = memmem(q, (size_t)(eol - q), attr, 5)); ) {
                const char *close = memchr(a + 5, '"', (size_t)(eol - a - 5));
                if (!close)
                    break;
                memcpy(w, q, (size_t)(close - q));
                w = put_token(w + (close - q), a + 5, close, token, tlen);
                q = close;
            }
            memcpy(w, q, (size_t)(eol - q));
            w += eol - q;
        }
        if (eol < end)
            *w++ = '\n';
        p = eol + 1;
    }
    *out_len = (size_t)(w - out);
    return out;
}

static struct MHD_Response *playlist_with_token(const uint8_t *text, size_t len,
                                                const char *token)
{
    size_t n;
    char *out = tokened_playlist(text, len, token, &n);
    struct MHD_Response *r = out ? MHD_create_response_from_buffer(n, out, MHD_RESPMEM_MUST_FREE)
                                 : NULL;
    if (!r)
        free(out);
    return r;
}

/* A live playlist's Cache-Control: at most half the target, so players
 * see every new segment. */
static void live_playlist_cache(struct session *s, char *out, size_t cap)
{
    struct store_stats st;
    store_get_stats(s->win, &st);
    snprintf(out, cap, "max-age=%d", st.ended ? 60 : st.target / 2);
}

static bool token_in_playlists(struct http *h, struct MHD_Connection *c)
{
    return h->cfg->access == ACCESS_REGISTERED && !is_organizer(h, c) && request_token(c);
}

/* Parses a single "bytes=" range against size. 1: range set, 0: serve the
 * whole file (absent, multiple or malformed), -1: unsatisfiable. */
static int parse_range(const char *v, uint64_t size, uint64_t *from, uint64_t *to)
{
    if (!v || strncmp(v, "bytes=", 6) != 0 || strchr(v, ','))
        return 0;
    const char *p = v + 6;
    char *end;
    if (*p == '-') {
        errno = 0;
        unsigned long long n = strtoull(p + 1, &end, 10);
        if (errno || end == p + 1 || *end)
            return 0;
        if (n == 0 || size == 0)
            return -1;
        *from = n >= size ? 0 : size - n;
        *to = size - 1;
        return 1;
    }
    errno = 0;
    unsigned long long a = strtoull(p, &end, 10);
    if (errno || end == p || *end != '-')
        return 0;
    const char *q = end + 1;
    unsigned long long b = size ? size - 1 : 0;
    if (*q) {
        b = strtoull(q, &end, 10);
        if (errno || *end)
            return 0;
        if (b < a)
            return 0;
        if (b >= size)
            b = size - 1;
    }
    if (a >= size)
        return -1;
    *from = a;
    *to = b;
    return 1;
}

/* The single range a GET asks of a representation of size bytes, as
 * parse_range. An If-Range must name etag, the representation's strong
 * validator; without one (etag NULL) any If-Range gets the whole (RFC 9110
 * 13.1.5). */
static int request_range(struct MHD_Connection *c, const char *etag, uint64_t size,
                         uint64_t *from, uint64_t *to)
{
    const char *range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Range");
    const char *if_range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-Range");
    if (!range || (if_range && (!etag || strcmp(if_range, etag) != 0)))
        return 0;
    return parse_range(range, size, from, to);
}

static enum MHD_Result unsatisfiable_reply(struct http *h, struct MHD_Connection *c,
                                           uint64_t size)
{
    char cr[64];
    snprintf(cr, sizeof(cr), "bytes */%llu", (unsigned long long)size);
    struct MHD_Response *r = text_response("application/json",
                                           "{\"error\":\"range not satisfiable\"}\n");
    if (r)
        MHD_add_response_header(r, "Content-Range", cr);
    return reply(h, c, MHD_HTTP_RANGE_NOT_SATISFIABLE, r);
}

static void add_content_range(struct MHD_Response *r, uint64_t from, uint64_t to, uint64_t size)
{
    char cr[96];
    snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu", (unsigned long long)from,
             (unsigned long long)to, (unsigned long long)size);
    MHD_add_response_header(r, "Content-Range", cr);
}

/* A response sending len bytes of buf from off, which it takes (NULL, buf
 * let go, when out of memory). */
static struct MHD_Response *buffer_response(AVBufferRef *buf, size_t off, size_t len,
                                            const char *type, const char *cache)
{
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback_cls(
        len, buf->data + off, unref_cb, buf);
    if (!r) {
        av_buffer_unref(&buf);
        return NULL;
    }
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", cache);
    return r;
}

static enum MHD_Result buffer_reply(struct http *h, struct MHD_Connection *c,
                                    AVBufferRef *buf, const char *type,
                                    const char *cache)
{
    return reply(h, c, MHD_HTTP_OK, buffer_response(buf, 0, (size_t)buf->size, type, cache));
}

/* A live segment, part or init section from memory, a single Range
 * answered with 206 as /vod's files are: the same URL would otherwise
 * honour it only once the segment has left the window. Takes buf; adds
 * the body's length to *sent when it is not NULL. */
static enum MHD_Result media_reply(struct http *h, struct MHD_Connection *c,
                                   AVBufferRef *buf, const char *type, const char *cache,
                                   atomic_uint_fast64_t *sent)
{
    uint64_t size = (uint64_t)buf->size, from = 0, to = size ? size - 1 : 0;
    int rr = request_range(c, NULL, size, &from, &to);
    if (sent && rr >= 0)
        atomic_fetch_add_explicit(sent, rr > 0 ? to - from + 1 : size, memory_order_relaxed);
    if (rr == 0)
        return buffer_reply(h, c, buf, type, cache);
    if (rr < 0) {
        av_buffer_unref(&buf);
        return unsatisfiable_reply(h, c, size);
    }
    struct MHD_Response *r = buffer_response(buf, (size_t)from, (size_t)(to - from + 1), type, cache);
    if (r)
        add_content_range(r, from, to, size);
    return reply(h, c, MHD_HTTP_PARTIAL_CONTENT, r);
}

static size_t file_slot(const AVBufferRef *b)
{
    uintptr_t k = (uintptr_t)b->data;
    return (size_t)((k >> 4) ^ (k >> 20)) & (SEG_FILES - 1);
}

static void drop_file(struct http *h, struct seg_file *f)
{
    h->n_files--;
    MHD_destroy_response(f->resp);      /* in-flight requests keep it until done */
    av_buffer_unref(&f->buf);
    f->resp = NULL;
}

/* Forgets the segments the store no longer holds (ours is their last
 * reference): no request can name them again. Rehashes in place, so
 * lookups never need tombstones. Called with files_lock held. */
static void sweep_files(struct http *h)
{
    for (size_t i = 0; i < SEG_FILES; i++)
        if (h->files[i].buf && av_buffer_get_ref_count(h->files[i].buf) == 1)
            drop_file(h, &h->files[i]);
    for (size_t i = 0; i < SEG_FILES; i++) {
        struct seg_file f = h->files[i];
        if (!f.buf || file_slot(f.buf) == i)
            continue;
        h->files[i] = (struct seg_file){ 0 };
        size_t j = file_slot(f.buf);
        while (h->files[j].buf)
            j = (j + 1) & (SEG_FILES - 1);
        h->files[j] = f;
    }
}

/* A response reading seg's memfd, with every header set: shared, so
 * nothing may be added per request. NULL when seg has no memfd. */
static struct MHD_Response *file_response(const AVBufferRef *seg, const char *type)
{
    int fd = segbuf_fd(seg);
    /* the response's own descriptor keeps the bytes for requests still
     * sending them after the segment's last reference is gone */
    fd = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
    if (fd < 0)
        return NULL;
    struct MHD_Response *r = MHD_create_response_from_fd_at_offset64(seg->size, fd, 0);
    if (!r) {
        close(fd);
        return NULL;
    }
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", IMMUTABLE);
    MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
    MHD_add_response_header(r, "Server", "podium/" PODIUM_VERSION);
    return r;
}

/* Answers a GET of a live segment with its shared memfd response, made on
 * the first GET. Takes the reference seg. Falls back to sending from
 * memory when the table is full or seg has no memfd. */
static enum MHD_Result segment_reply(struct http *h, struct MHD_Connection *c,
                                     AVBufferRef *seg, const char *type)
{
    pthread_mutex_lock(&h->files_lock);
    size_t i = file_slot(seg);
    while (h->files[i].buf && h->files[i].buf->data != seg->data)
        i = (i + 1) & (SEG_FILES - 1);
    struct seg_file *f = &h->files[i];
    if (!f->buf) {
        /* a new segment is asked for about once per segment duration per
         * watched session: the time to let go of those that left */
        sweep_files(h);
        i = file_slot(seg);
        while (h->files[i].buf)
            i = (i + 1) & (SEG_FILES - 1);
        f = &h->files[i];
        bool room = h->n_files < SEG_FILES / 2;
        struct MHD_Response *r = room ? file_response(seg, type) : NULL;
        f->buf = r ? av_buffer_ref(seg) : NULL;
        if (!f->buf) {
            if (r)
                MHD_destroy_response(r);
            pthread_mutex_unlock(&h->files_lock);
            return buffer_reply(h, c, seg, type, IMMUTABLE);
        }
        f->resp = r;
        h->n_files++;
    }
    /* queued under the lock: a sweep cannot destroy it in between */
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, f->resp);
    pthread_mutex_unlock(&h->files_lock);
    av_buffer_unref(&seg);
    count_status(h, MHD_HTTP_OK);
    return ret;
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

/* The recording is still being written: the session has not ended (a
 * publisher may be away for less than close_after). */
static bool recording_live(struct session *s, const struct rec_stats *rs)
{
    return rs->open && !atomic_load(&s->ended);
}

/* scheduled -> live -> ended -> recorded (MP4 exported) -> published */
static const char *state_of(struct session *s, bool live, const struct rec_stats *rs,
                            const struct export_status *es, uint64_t live_segments)
{
    if (live || recording_live(s, rs))
        return "live";
    if (atomic_load(&s->published))
        return "published";
    if (es->state == EXPORT_DONE)
        return "recorded";
    return rs->exists || live_segments > 0 ? "ended" : "scheduled";
}

static const char *session_state(struct session *s)
{
    char addr[64];
    struct rec_stats rs;
    struct export_status es;
    struct store_stats ws;
    bool live = session_publisher(s, addr, sizeof(addr), NULL);
    rec_get_stats(s->rec, &rs);
    export_get_status(s->exp, &es);
    store_get_stats(s->win, &ws);
    return state_of(s, live, &rs, &es, ws.segments);
}

/* What a publisher sends, as relayed; a kind it does not send is null. */
static json_t *media_json(const struct seg_media *m)
{
    if (!m->on)
        return json_null();
    json_t *v = !m->video[0] ? json_null()
        : json_pack("{s:s, s:i, s:i, s:o, s:o, s:o}", "codec", m->video, "width", m->width,
                    "height", m->height, "fps", m->fps > 0 ? json_real(m->fps) : json_null(),
                    "keyframe_interval_s",
                    m->keyframe_interval > 0 ? json_real(m->keyframe_interval) : json_null(),
                    "ask_for", m->video_ask ? json_string(m->video_ask) : json_null());
    json_t *a = !m->audio[0] ? json_null()
        : json_pack("{s:s, s:i, s:i, s:o}", "codec", m->audio, "sample_rate", m->sample_rate,
                    "channels", m->channels,
                    "ask_for", m->audio_ask ? json_string(m->audio_ask) : json_null());
    return json_pack("{s:o, s:o}", "video", v, "audio", a);
}

/* A new JSON object for s. The publisher's address is a speaker's IP:
 * organizers only. Caller owns the object. */
static json_t *session_json(struct http *h, struct session *s, bool organizer)
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

    struct rec_stats rs = { 0 };
    struct export_status es = { 0 };
    if (s->rec)
        rec_get_stats(s->rec, &rs);
    if (s->exp)
        export_get_status(s->exp, &es);
    bool published = atomic_load(&s->published);
    const char *state = state_of(s, live, &rs, &es, ws.segments);
    /* Once the session is over an unpublished recording does not exist for
     * attendees (vod_reply answers them 404): they see what a session
     * recorded nowhere shows, not its size, length or export. */
    if (!organizer && rs.exists && !recording_live(s, &rs) && !published) {
        rs = (struct rec_stats){ 0 };
        es = (struct export_status){ 0 };
        if (strcmp(state, "recorded") == 0)
            state = "ended";
    }
    struct session_info in;
    session_info(s, &in);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(s->id));
    json_object_set_new(o, "title", json_string(in.title));
    json_object_set_new(o, "speakers", speakers_json(in.speakers));
    json_object_set_new(o, "track", in.track[0] ? json_string(in.track) : json_null());
    json_object_set_new(o, "format", json_string(config_format_name(in.format)));
    if (in.starts) {
        iso_time(in.starts, when, sizeof(when));
        json_object_set_new(o, "starts", json_string(when));
    } else {
        json_object_set_new(o, "starts", json_null());
    }
    json_object_set_new(o, "duration_minutes",
                        json_integer(config_format_minutes(in.format)));
    json_object_set_new(o, "ingest_window", json_string(in.ingest_strict ? "strict" : "open"));
    json_object_set_new(o, "source", json_string(in.from_api ? "api" : in.adhoc ? "adhoc" : "config"));
    json_object_set_new(o, "state", json_string(state));
    json_object_set_new(o, "live", json_boolean(live));
    if (live) {
        json_t *p = json_object();
        iso_time(since, when, sizeof(when));
        if (organizer)
            json_object_set_new(p, "address", json_string(addr));
        json_object_set_new(p, "since", json_string(when));
        struct ingest_link_stats ls;
        int sock = session_publisher_sock(s);
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
        json_object_set_new(p, "media", media_json(&ss.media));
        json_object_set_new(o, "publisher", p);
    } else {
        json_object_set_new(o, "publisher", json_null());
    }
    json_object_set_new(o, "bitrate_bps", json_integer((json_int_t)ss.last_bitrate));
    json_object_set_new(o, "bytes_in", json_integer((json_int_t)atomic_load(&s->bytes_in)));
    json_object_set_new(o, "segments", json_integer((json_int_t)ws.segments));
    json_object_set_new(o, "viewers", json_integer((json_int_t)ws.viewers));
    /* how many watched at most: what an organizer reports after the talk */
    json_object_set_new(o, "viewers_peak", json_integer((json_int_t)ws.viewers_peak));
    json_object_set_new(o, "media_sequence", json_integer((json_int_t)ws.media_sequence));
    json_object_set_new(o, "target_duration", json_integer(ws.target));
    json_object_set_new(o, "discontinuities", json_integer((json_int_t)ws.discontinuities));
    json_object_set_new(o, "subscribers", json_integer(pull_count(s->pull)));
    json_object_set_new(o, "publishers_total",
                        json_integer((json_int_t)atomic_load(&s->publishers_total)));
    char url[2 * CONFIG_ID_MAX + 32];
    snprintf(url, sizeof(url), "/live/%s/index.m3u8", s->id);
    json_object_set_new(o, "live_url", json_string(url));
    json_object_set_new(o, "access", json_string(h->cfg->access == ACCESS_REGISTERED
                                                 ? "registered" : "open"));

    json_t *r = json_object();
    json_object_set_new(r, "state", json_string(!rs.exists ? "none" : rs.open ? "recording"
                                                : "finalized"));
    json_object_set_new(r, "segments", json_integer((json_int_t)rs.segments));
    json_object_set_new(r, "duration", json_real(rs.duration));
    json_object_set_new(r, "bytes", json_integer((json_int_t)rs.bytes));
    json_object_set_new(r, "write_errors", json_integer((json_int_t)rs.write_errors));
    json_object_set_new(r, "gaps_total", json_integer((json_int_t)rs.gaps_total));
    json_t *gaps = json_array();
    for (size_t i = 0; i < rs.n_gaps; i++) {
        json_t *g = json_object();
        json_object_set_new(g, "after_seq", rs.gaps[i].at_start ? json_null()
                            : json_integer((json_int_t)rs.gaps[i].after_seq));
        json_object_set_new(g, "segments_lost", json_integer((json_int_t)rs.gaps[i].lost));
        json_object_set_new(g, "reason", json_string(rs.gaps[i].reason));
        json_array_append_new(gaps, g);
    }
    json_object_set_new(r, "gaps", gaps);
    json_object_set_new(r, "published", json_boolean(published));
    snprintf(url, sizeof(url), "/vod/%s/index.m3u8", s->id);
    json_object_set_new(r, "url", json_string(url));
    json_t *x = json_object();
    json_object_set_new(x, "state", json_string(export_state_name(es.state)));
    json_object_set_new(x, "percent", json_integer(es.percent));
    json_object_set_new(x, "start", json_real(es.start));
    json_object_set_new(x, "end", json_real(es.end));
    if (es.state == EXPORT_DONE) {
        json_object_set_new(x, "duration", json_real(es.duration));
        snprintf(url, sizeof(url), "/vod/%s/%s.mp4", s->id, s->id);
        json_object_set_new(x, "url", json_string(url));
    }
    if (es.error[0])
        json_object_set_new(x, "error", json_string(es.error));
    if (es.warning[0])
        json_object_set_new(x, "warning", json_string(es.warning));
    json_object_set_new(r, "export", x);
    json_object_set_new(o, "recording", r);
    return o;
}

/* A response owning text (freed with it, or here when none can be made):
 * an answer made for this request, stored by no cache. */
static struct MHD_Response *owned_response(char *text, size_t len, const char *type)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return NULL;
    }
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    return r;
}

/* Closes f, an open_memstream on *text and *len, and answers with what it
 * holds as a file to save (filename). */
static enum MHD_Result attachment_reply(struct http *h, struct MHD_Connection *c, FILE *f,
                                        char **text, size_t *len, const char *type,
                                        const char *filename)
{
    if (fclose(f) != 0) {
        free(*text);
        return error_reply(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    }
    struct MHD_Response *r = owned_response(*text, *len, type);
    if (r) {
        char cd[128];
        snprintf(cd, sizeof(cd), "attachment; filename=\"%s\"", filename);
        MHD_add_response_header(r, "Content-Disposition", cd);
    }
    return reply(h, c, MHD_HTTP_OK, r);
}

static enum MHD_Result json_reply_code(struct http *h, struct MHD_Connection *c, json_t *j,
                                       unsigned code)
{
    char *s = json_dumps(j, JSON_REPLY);
    json_decref(j);
    if (!s)
        return error_reply(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    return reply(h, c, code, owned_response(s, strlen(s), "application/json"));
}

static enum MHD_Result json_reply(struct http *h, struct MHD_Connection *c, json_t *j)
{
    return json_reply_code(h, c, j, MHD_HTTP_OK);
}

/* 400 naming the field of a request that is wrong. */
static enum MHD_Result field_error(struct http *h, struct MHD_Connection *c,
                                   const char *field, const char *why)
{
    json_t *o = json_object();
    char msg[256];
    snprintf(msg, sizeof(msg), "%s %s", field, why);
    json_object_set_new(o, "error", json_string(msg));
    json_object_set_new(o, "field", json_string(field));
    return json_reply_code(h, c, o, MHD_HTTP_BAD_REQUEST);
}

/* One CSV field (RFC 4180), quoted. An attendee's name starting with =, +,
 * - or @ would be a formula in a spreadsheet (CSV injection): a leading '
 * keeps it text. */
static void csv_field(FILE *f, const char *v, bool last)
{
    fputc('"', f);
    if (strchr("=+-@\t\r", v[0]) && v[0])
        fputc('\'', f);
    for (; *v; v++) {
        if (*v == '"')
            fputc('"', f);
        fputc(*v, f);
    }
    fputs(last ? "\"\r\n" : "\",", f);
}

/* One CSV row per element of list (write_row's), after the header line:
 * answered as a spreadsheet to save as name. Takes list. */
static enum MHD_Result csv_reply(struct http *h, struct MHD_Connection *c, json_t *list,
                                 const char *header, void (*write_row)(FILE *f, json_t *row),
                                 const char *name)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) {
        json_decref(list);
        return error_reply(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    }
    fputs(header, f);
    size_t i;
    json_t *row;
    json_array_foreach(list, i, row)
        write_row(f, row);
    json_decref(list);
    return attachment_reply(h, c, f, &text, &len, "text/csv; charset=utf-8", name);
}

/* A row of the sessions report (GET /api/v1/sessions?format=csv), the
 * organizer's after the event, from a session's JSON as the caller may see
 * it (an attendee's holds no unpublished recording): how long each
 * recording is and how many watched. */
static void session_row(FILE *f, json_t *s)
{
    json_t *rec = json_object_get(s, "recording"), *one;
    /* the list as it was written: ", " may add a byte per comma */
    char speakers[2 * SESSION_SPEAKERS_MAX + 2] = "", num[2][32];
    size_t k, used = 0;
    json_array_foreach(json_object_get(s, "speakers"), k, one)
        if (used < sizeof(speakers))
            used += (size_t)snprintf(speakers + used, sizeof(speakers) - used, "%s%s", k ? ", " : "",
                                     json_string_value(one));
    snprintf(num[0], sizeof(num[0]), "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(s, "viewers_peak")));
    snprintf(num[1], sizeof(num[1]), "%.1f", json_real_value(json_object_get(rec, "duration")));
    const char *v[] = {
        json_string_value(json_object_get(s, "id")), json_string_value(json_object_get(s, "title")),
        speakers, json_string_value(json_object_get(s, "track")),
        json_string_value(json_object_get(s, "format")), json_string_value(json_object_get(s, "starts")),
        json_string_value(json_object_get(s, "state")), num[0],
        json_string_value(json_object_get(rec, "state")), num[1],
        json_is_true(json_object_get(rec, "published")) ? "yes" : "no",
        json_string_value(json_object_get(json_object_get(rec, "export"), "url")),
    };
    for (size_t x = 0; x < sizeof(v) / sizeof(v[0]); x++)
        csv_field(f, v[x] ? v[x] : "", x + 1 == sizeof(v) / sizeof(v[0]));
}

static enum MHD_Result api_sessions(struct http *h, struct MHD_Connection *c,
                                    const char *id)
{
    bool organizer = is_organizer(h, c);
    if (id) {
        struct session *s = config_valid_id(id) ? registry_find(h->reg, id) : NULL;
        if (!s)
            return error_reply(h, c, MHD_HTTP_NOT_FOUND, "no such session");
        return json_reply(h, c, session_json(h, s, organizer));
    }
    const char *format = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format");
    bool csv = format && strcmp(format, "csv") == 0;
    if (format && !csv && strcmp(format, "json") != 0)
        return field_error(h, c, "format", "must be json or csv");
    struct session *list[REGISTRY_MAX_SESSIONS];
    size_t n = registry_list(h->reg, list, REGISTRY_MAX_SESSIONS);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, session_json(h, list[i], organizer));
    if (csv)
        return csv_reply(h, c, a, "id,title,speakers,track,format,starts,state,viewers_peak,recording,"
                         "recording_seconds,published,mp4\r\n", session_row, "sessions.csv");
    json_t *o = json_object();
    json_object_set_new(o, "sessions", a);
    /* whether the token was the admin token: a wrong one gets the attendees'
     * view, which the organizer page must not pass off as the real state */
    json_object_set_new(o, "organizer", json_boolean(organizer));
    int port = atomic_load(&h->srt_port);
    if (port > 0)
        json_object_set_new(o, "srt_port", json_integer(port));
    /* what a speaker's keyframe interval should match */
    json_object_set_new(o, "segment_duration", json_real(h->cfg->segment_duration));
    struct disk_space ds;
    diskspace_get(h->env.disk, &ds);
    if (organizer) {                /* peers' addresses are in them */
        char (*lines)[LOG_RECENT_LEN] = malloc(LOG_RECENT_MAX * sizeof(*lines));
        size_t nl = lines ? log_recent(lines, LOG_RECENT_MAX) : 0;
        json_t *problems = json_array();
        for (size_t i = 0; i < nl; i++) {
            json_t *v = json_string(lines[i]);
            /* a peer's bytes, or a line cut inside a character: not UTF-8 */
            for (char *p = lines[i]; !v && *p; p++)
                if ((unsigned char)*p >= 0x80)
                    *p = '?';
            json_array_append_new(problems, v ? v : json_string(lines[i]));
        }
        json_object_set_new(o, "recent_problems", problems);
        free(lines);
    }
    if (organizer && ds.known)      /* the path tells how the host is laid out */
        json_object_set_new(o, "disk", json_pack("{s:s, s:I, s:I, s:f, s:f, s:b}", "path", ds.path,
            "free_bytes", (json_int_t)ds.free_bytes, "total_bytes", (json_int_t)ds.total_bytes,
            "recording_bps", ds.recording_bps, "seconds_left", ds.seconds_left,
            "rate_assumed", ds.rate_assumed));
    return json_reply(h, c, o);
}

/* "<id>/<file>" -> the session (NULL when unknown) and *file. */
static struct session *session_of_path(struct http *h, const char *rest, const char **file)
{
    char id[CONFIG_ID_MAX];
    const char *slash = strchr(rest, '/');
    if (!slash || (size_t)(slash - rest) >= sizeof(id))
        return NULL;
    memcpy(id, rest, (size_t)(slash - rest));
    id[slash - rest] = '\0';
    *file = slash + 1;
    return config_valid_id(id) ? registry_find(h->reg, id) : NULL;
}

static void wake_request(void *arg)
{
    struct request *req = arg;
    req->waiting = false;
    MHD_resume_connection(req->conn);   /* the handler runs again and answers */
}

/* Holds the request (suspended, no thread) until segment msn / part is
 * there, at most three target durations. Returns true when it was
 * suspended: the caller returns MHD_YES and is called again. */
static bool hold_request(struct http *h, struct MHD_Connection *c, void **req_cls,
                         struct live_window *win, uint64_t msn, int part)
{
    struct request *req = request_of(h, req_cls);
    if (req || *req_cls)
        return false;                   /* resumed, or deferred: answer now */
    req = calloc(1, sizeof(*req));
    if (!req)
        return false;
    *req_cls = req;
    req->conn = c;
    req->win = win;
    int64_t now_ms = clock_mono_ms();
    /* the housekeeper ticks once a second: stay inside the limit */
    int hold = store_hold_limit_ms(win) - 1000;
    req->waiting = true;
    MHD_suspend_connection(c);
    enum store_wait r = store_wait(win, msn, part, now_ms + (hold > 500 ? hold : 500),
                                   wake_request, req);
    if (r != STORE_WAITING) {
        req->waiting = false;
        req->too_far = r == STORE_TOO_FAR;
        MHD_resume_connection(c);
    }
    return true;
}

static bool query_u64(struct MHD_Connection *c, const char *key, uint64_t *out, bool *bad)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
    if (!v)
        return false;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-' || n > INT64_MAX)
        *bad = true;
    *out = n;
    return true;
}

static enum MHD_Result file_reply_counted(struct http *h, struct MHD_Connection *c,
                                          const char *path, const char *type,
                                          const char *cache, atomic_uint_fast64_t *sent);

/* An answer in a request's first handler call closes its connection
 * (defer_reply): an error waits for the second call like any answer. */
static enum MHD_Result live_error(struct http *h, struct MHD_Connection *c, void **req_cls,
                                  unsigned code, const char *msg)
{
    if (!*req_cls)
        return defer_reply(h, req_cls);
    return error_reply(h, c, code, msg);
}

static enum MHD_Result live_reply(struct http *h, struct MHD_Connection *c,
                                  const char *rest, void **req_cls, bool get)
{
    const char *file;
    struct session *s = session_of_path(h, rest, &file);
    if (!s || !s->win)
        return live_error(h, c, req_cls, MHD_HTTP_NOT_FOUND, "no such session");
    unsigned code;
    const char *why;
    if (!attendee_allowed(h, c, &code, &why))
        return live_error(h, c, req_cls, code, why);
    bool fmp4 = h->cfg->hls_format == HLS_FORMAT_FMP4;
    bool ll = fmp4 && h->cfg->part_duration > 0;
    bool first = !*req_cls;
    struct request *held = request_of(h, req_cls);
    if (held && !held->resumed) {
        /* The first call after a resume is made as the request's first:
         * an answer there is "early" and libmicrohttpd closes the
         * connection after it, so an LL-HLS player paid a TCP connection
         * a blocking reload. Answer in the call that follows. */
        held->resumed = true;
        return MHD_YES;
    }

    if (strcmp(file, "index.m3u8") == 0) {
        uint64_t msn = 0, part = 0;
        bool bad = false;
        bool has_msn = ll && query_u64(c, "_HLS_msn", &msn, &bad);
        bool has_part = ll && query_u64(c, "_HLS_part", &part, &bad);
        if (bad || (has_part && !has_msn) || part > 100000)
            return live_error(h, c, req_cls, MHD_HTTP_BAD_REQUEST,
                              "_HLS_msn/_HLS_part must be numbers, _HLS_part needs _HLS_msn");
        if (has_msn && hold_request(h, c, req_cls, s->win, msn, has_part ? (int)part : -1))
            return MHD_YES;
        if (first)
            return defer_reply(h, req_cls);
        struct request *req = request_of(h, req_cls);
        if (req && req->too_far)
            return live_error(h, c, req_cls, MHD_HTTP_BAD_REQUEST,
                              "_HLS_msn is too far ahead of the live edge");
        const char *skip = ll ? MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "_HLS_skip") : NULL;
        bool delta = skip && (strcmp(skip, "YES") == 0 || strcmp(skip, "v2") == 0);
        AVBufferRef *pl = delta ? store_playlist_skip(s->win) : store_playlist(s->win);
        if (!pl)
            return live_error(h, c, req_cls, MHD_HTTP_NOT_FOUND, "no segment yet");
        char cache[64];
        live_playlist_cache(s, cache, sizeof(cache));
        if (token_in_playlists(h, c)) {
            struct MHD_Response *r = playlist_with_token(pl->data, pl->size, request_token(c));
            av_buffer_unref(&pl);
            if (!r)
                return MHD_NO;
            MHD_add_response_header(r, "Content-Type", PLAYLIST_TYPE);
            MHD_add_response_header(r, "Cache-Control", "private, no-cache");
            return reply(h, c, MHD_HTTP_OK, r);
        }
        return buffer_reply(h, c, pl, PLAYLIST_TYPE, cache);
    }

    const char *immutable = IMMUTABLE;
    char *end;
    errno = 0;
    bool part_path = ll && (end = strchr(file, '.')) && end[1] >= '0' && end[1] <= '9';
    if (first && !part_path)
        return defer_reply(h, req_cls);
    if (fmp4 && strncmp(file, "init", 4) == 0) {
        AVBufferRef *init = NULL;
        if (strcmp(file, "init.mp4") == 0) {
            init = store_init(s->win, 0, true);
        } else if (file[4] == '-' && file[5] >= '0' && file[5] <= '9') {
            unsigned long long iid = strtoull(file + 5, &end, 10);
            if (!errno && strcmp(end, ".mp4") == 0)
                init = store_init(s->win, iid, false);
        }
        if (!init)
            return live_error(h, c, req_cls, MHD_HTTP_NOT_FOUND, "no such init section");
        return media_reply(h, c, init, "video/mp4", strcmp(file, "init.mp4") ? immutable : "no-cache",
                           NULL);
    }
    /* <n>.ts, <n>.m4s, <n>.<part>.m4s */
    if (file[0] < '0' || file[0] > '9')
        return live_error(h, c, req_cls, MHD_HTTP_NOT_FOUND, "not found");
    unsigned long long seq = strtoull(file, &end, 10);
    if (errno)
        return live_error(h, c, req_cls, MHD_HTTP_NOT_FOUND, "not found");
    /* a player's GET counts as a viewer; a HEAD, or a Range past the
     * start (the rest of a segment already counted), does not */
    const char *range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Range");
    bool counts = get && (!range || strncmp(range, "bytes=0-", 8) == 0);
    if (ll && *end == '.' && end[1] >= '0' && end[1] <= '9') {
        char *pend;
        unsigned long part = strtoul(end + 1, &pend, 10);
        if (strcmp(pend, ".m4s") != 0 || part > 100000)
            return live_error(h, c, req_cls, MHD_HTTP_NOT_FOUND, "not found");
        /* counted once: a first call only looks, and defers */
        AVBufferRef *pb = store_part(s->win, seq, (int)part, counts && !first);
        /* a preload-hinted part is held until it is complete */
        if (!pb && hold_request(h, c, req_cls, s->win, seq, (int)part))
            return MHD_YES;
        if (first) {
            av_buffer_unref(&pb);
            return defer_reply(h, req_cls);
        }
        if (!pb)
            pb = store_part(s->win, seq, (int)part, counts);
        if (!pb)
            return live_error(h, c, req_cls, MHD_HTTP_NOT_FOUND, "no such part");
        return media_reply(h, c, pb, "video/mp4", immutable, get ? &h->segment_bytes : NULL);
    }
    if (strcmp(end, fmp4 ? ".m4s" : ".ts") != 0)
        return live_error(h, c, req_cls, MHD_HTTP_NOT_FOUND, "not found");
    const char *type = fmp4 ? "video/mp4" : "video/mp2t";
    AVBufferRef *seg = store_segment(s->win, seq, counts);
    if (!seg && s->rec && store_recently_removed(s->win, seq)) {
        /* left the playlist a moment ago: the recording has it */
        char path[PATH_MAX];
        rec_path(s->rec, path, sizeof(path), "%llu%s", seq, end);
        return file_reply_counted(h, c, path, type, immutable, get ? &h->segment_bytes : NULL);
    }
    if (!seg)
        return live_error(h, c, req_cls, MHD_HTTP_NOT_FOUND, "no such segment");
    /* HEAD (e.g. sizing the window) sends no body and a Range only part of
     * it: neither takes the shared response */
    if (get && !range) {
        atomic_fetch_add_explicit(&h->segment_bytes, seg->size, memory_order_relaxed);
        return segment_reply(h, c, seg, type);
    }
    return media_reply(h, c, seg, type, immutable, get ? &h->segment_bytes : NULL);
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

struct listed {
    struct session *s;
    struct session_info in;
    const char *state;
};

static int by_start(const void *a, const void *b)
{
    const struct listed *x = a, *y = b;
    /* unscheduled sessions last */
    time_t tx = x->in.starts ? x->in.starts : (time_t)INT64_MAX;
    time_t ty = y->in.starts ? y->in.starts : (time_t)INT64_MAX;
    return tx < ty ? -1 : tx > ty;
}

/* Rewrites the <time> elements session_meta writes in the attendee's own
 * time zone; without scripts they stay in UTC. */
#define LOCAL_TIMES_JS \
    "function localTimes(root) {\n" \
    "  root.querySelectorAll('time[datetime]').forEach(t => { t.textContent = new Date(t.dateTime)\n" \
    "    .toLocaleString([], { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit',\n" \
    "                          minute: '2-digit', timeZoneName: 'short' }); });\n" \
    "}\n"

/* Speakers, then start time (UTC), format and length, as the home page
 * lists a session and the watch page heads it. */
static void session_meta(FILE *f, const struct session_info *in)
{
    char when[160] = "";
    if (in->speakers[0]) {
        fputs(" <span class=\"who\">", f);
        html_escape(f, in->speakers);
        fputs("</span>", f);
    }
    if (in->starts) {
        /* UTC in the page; its script shows the attendee's own clock */
        struct tm tm;
        gmtime_r(&in->starts, &tm);
        strftime(when, sizeof(when), "<time datetime=\"%Y-%m-%dT%H:%M:%SZ\">%a %d %b %H:%M UTC</time>",
                 &tm);
    }
    fprintf(f, " <span class=\"meta\">%s%s", when, when[0] ? " &middot; " : "");
    if (in->track[0]) {         /* parallel tracks: where to find it, and what else is on */
        fputs("<a class=\"track\" href=\"/?track=", f);
        for (const unsigned char *p = (const unsigned char *)in->track; *p; p++)
            if (isalnum(*p) || strchr("-._~", *p))
                fputc(*p, f);
            else
                fprintf(f, "%%%02X", *p);
        fputs("\">", f);
        html_escape(f, in->track);
        fputs("</a> &middot; ", f);
    }
    fprintf(f, "%s, %d min</span>", config_format_name(in->format), config_format_minutes(in->format));
}

/* The link preview of a talk's page (Open Graph, read by chat apps and
 * social sites when an attendee shares the link): the talk's title, and
 * its speakers, start (UTC: no script runs there), track and format. site
 * is HTML already (site_name). */
static void session_preview(FILE *f, const struct session_info *in, const char *site)
{
    fputs("<meta property=\"og:type\" content=\"video.other\"><meta property=\"og:site_name\" content=\"", f);
    fputs(site, f);
    fputs("\"><meta property=\"og:title\" content=\"", f);
    html_escape(f, in->title);
    fputs("\"><meta property=\"og:description\" name=\"description\" content=\"", f);
    if (in->speakers[0]) {
        html_escape(f, in->speakers);
        fputs(" &middot; ", f);
    }
    if (in->starts) {
        char when[64];
        struct tm tm;
        gmtime_r(&in->starts, &tm);
        strftime(when, sizeof(when), "%a %d %b %Y %H:%M UTC &middot; ", &tm);
        fputs(when, f);
    }
    if (in->track[0]) {
        html_escape(f, in->track);
        fputs(" &middot; ", f);
    }
    fprintf(f, "%s, %d min\">", config_format_name(in->format), config_format_minutes(in->format));
}

static void session_item(FILE *f, const struct listed *l, bool live)
{
    fputs("<li>", f);
    if (live)
        fputs("<span class=\"live\">LIVE</span> ", f);
    fputs("<a href=\"/watch/", f);
    html_escape(f, l->s->id);
    fputs("\">", f);
    html_escape(f, l->in.title);
    fputs("</a>", f);
    session_meta(f, &l->in);
    fputs("</li>", f);
}

/* The home page's HTML (caller frees), NULL when out of memory. */
static char *home_text(struct http *h, size_t *out_len, const char *track)
{
    char *page = NULL;
    size_t len = 0;
    struct session *list[REGISTRY_MAX_SESSIONS];
    size_t n = registry_list(h->reg, list, REGISTRY_MAX_SESSIONS);
    struct listed *l = calloc(n ? n : 1, sizeof(*l));
    char *site = site_name(h);
    FILE *f = l && site ? open_memstream(&page, &len) : NULL;
    if (!f) {
        free(l);
        free(site);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        l[i].s = list[i];
        session_info(list[i], &l[i].in);
        l[i].state = session_state(list[i]);
    }
    qsort(l, n, sizeof(*l), by_start);
    fprintf(f, "<!doctype html><html><head><meta charset=\"utf-8\"><title>%s</title>"
            "<meta property=\"og:type\" content=\"website\"><meta property=\"og:title\" content=\"%s\">"
            "<meta property=\"og:description\" name=\"description\" content=\"Talks live, the "
            "programme and the recordings\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            "<link rel=\"icon\" href=\"data:,\">"
            "<style>body{font-family:sans-serif;max-width:50em;margin:2em auto;padding:0 1em}"
            "li{margin:.5em 0}.live{color:#c00;font-weight:bold}.who{color:#333}"
            ".meta{color:#777;font-size:90%%}.none{color:#777}</style></head><body>"
            "<h1>%s</h1>", site, site, site);
    free(site);
    if (h->cfg->access == ACCESS_REGISTERED)
        fputs("<p>Attendance is free; the player asks you to register once.</p>", f);
    if (track) {
        fputs("<p id=\"track\">Track: <strong>", f);
        html_escape(f, track);
        fputs("</strong> &middot; <a href=\"/\">all tracks</a></p>", f);
    }
    fputs("<p><a href=\"/schedule.ics\">Add the programme to your calendar</a></p>", f);
    static const char *const titles[] = { "Live now", "Upcoming", "Recordings" };
    time_t now = time(NULL);
    for (int sec = 0; sec < 3; sec++) {
        int shown = 0;
        fprintf(f, "<h2>%s</h2><ul id=\"%s\">", titles[sec],
                sec == 0 ? "live" : sec == 1 ? "upcoming" : "recordings");
        for (size_t i = 0; i < n; i++) {
            /* a talk whose slot passed without it (cancelled, moved
             * without a word) would head the list for the rest of the
             * conference */
            time_t close = session_slot_close(&l[i].in);
            bool want = sec == 0 ? strcmp(l[i].state, "live") == 0
                      : sec == 1 ? strcmp(l[i].state, "scheduled") == 0 && (!close || now <= close)
                      : strcmp(l[i].state, "published") == 0;
            if (want && (!track || strcmp(l[i].in.track, track) == 0)) {
                session_item(f, &l[i], sec == 0);
                shown++;
            }
        }
        if (!shown)
            fprintf(f, "<li class=\"none\">%s</li>", sec == 0 ? "Nothing live right now."
                    : sec == 1 ? "Nothing scheduled." : "No recordings published yet.");
        fputs("</ul>", f);
    }
    /* Attendees wait on this page for a talk to start: refresh its lists
     * in place rather than have them reload it. */
    fputs("<p class=\"meta\"><a href=\"/organizer\">Organizers</a></p><script>\n"
          LOCAL_TIMES_JS
          "const lists = ['live', 'upcoming', 'recordings'], served = {};\n"
          "for (const id of lists) served[id] = document.getElementById(id).innerHTML;\n"
          "localTimes(document);\n"
          "setInterval(async () => {\n"
          "  try {\n"
          "    const r = await fetch('/' + location.search, { cache: 'no-store' });\n"
          "    if (!r.ok) return;\n"
          "    const doc = new DOMParser().parseFromString(await r.text(), 'text/html');\n"
          "    for (const id of lists) {\n"
          "      const now = document.getElementById(id), next = doc.getElementById(id);\n"
          "      if (!now || !next || served[id] === next.innerHTML) continue;\n"
          "      served[id] = now.innerHTML = next.innerHTML;\n"
          "      localTimes(now);\n"
          "    }\n"
          "  } catch (e) { /* offline for a moment: the next turn tries again */ }\n"
          "}, 10000);\n"
          "</script></body></html>\n", f);
    fclose(f);
    free(l);
    *out_len = len;
    return page;
}

/* Answers with an HTML page (takes page, len bytes; NULL: out of memory). */
static enum MHD_Result page_reply(struct http *h, struct MHD_Connection *c, char *page,
                                  size_t len)
{
    struct MHD_Response *r = page ? MHD_create_response_from_buffer(len, page,
                                                                    MHD_RESPMEM_MUST_FREE)
                                  : NULL;
    if (!r) {
        free(page);
        return error_reply(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    }
    MHD_add_response_header(r, "Content-Type", PAGE_TYPE);
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    return reply(h, c, MHD_HTTP_OK, r);
}

static enum MHD_Result home_page(struct http *h, struct MHD_Connection *c)
{
    size_t len = 0;
    /* ?track=: one track's programme, to link or embed on its own */
    const char *track = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "track");
    char *page = home_text(h, &len, track && *track ? track : NULL);
    return page_reply(h, c, page, len);
}

/* One iCalendar content line (RFC 5545 3.1): name, then value with TEXT
 * escapes when text, folded at 75 octets, never inside a UTF-8 character. */
static void ics_line(FILE *f, const char *name, const char *value, bool text)
{
    char line[2048];
    size_t n = (size_t)snprintf(line, sizeof(line), "%s:", name);
    for (const char *v = value; *v && n + 2 < sizeof(line); v++) {
        if (text && (*v == ',' || *v == ';' || *v == '\\'))
            line[n++] = '\\';
        if (text && *v == '\n') {
            line[n++] = '\\';
            line[n++] = 'n';
            continue;
        }
        line[n++] = *v;
    }
    line[n < sizeof(line) ? n : sizeof(line) - 1] = '\0';
    size_t col = 0;
    for (const unsigned char *p = (const unsigned char *)line; *p; p++) {
        size_t bytes = *p >= 0xF0 ? 4 : *p >= 0xE0 ? 3 : *p >= 0xC0 ? 2 : 1;
        if ((*p & 0xC0) != 0x80 && col + bytes > 75) {  /* a character's first byte */
            fputs("\r\n ", f);
            col = 1;
        }
        fputc(*p, f);
        col++;
    }
    fputs("\r\n", f);
}

/* GET /schedule.ics[?session=<id>]: the programme (or one talk) for an
 * attendee's calendar, which reminds them when it starts. Sessions without
 * a start are left out. Links to the player use the Host the attendee
 * asked. */
static enum MHD_Result schedule_ics(struct http *h, struct MHD_Connection *c)
{
    const char *only = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "session");
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    const char *proto = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-Proto");
    if (only && !(config_valid_id(only) && registry_find(h->reg, only)))
        return error_reply(h, c, MHD_HTTP_NOT_FOUND, "no such session");
    bool https = proto && strcmp(proto, "https") == 0;
    /* a Host a client made up goes no further than its own calendar, but
     * it must not break the line */
    if (host && (strpbrk(host, "\r\n\"<> /\\") || strlen(host) > 255))
        host = NULL;
    char *text = NULL, *name = conference_name(h, false);
    size_t len = 0;
    struct session *list[REGISTRY_MAX_SESSIONS];
    size_t n = registry_list(h->reg, list, REGISTRY_MAX_SESSIONS);
    FILE *f = name ? open_memstream(&text, &len) : NULL;
    if (!f) {
        free(name);
        return error_reply(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    }
    char now[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof(now), "%Y%m%dT%H%M%SZ", &tm);
    fputs("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Podium//Podium " PODIUM_VERSION "//EN\r\n"
          "CALSCALE:GREGORIAN\r\nMETHOD:PUBLISH\r\n", f);
    ics_line(f, "X-WR-CALNAME", name, true);
    for (size_t i = 0; i < n; i++) {
        struct session_info in;
        session_info(list[i], &in);
        if (!in.starts || (only && strcmp(only, list[i]->id) != 0))
            continue;
        char v[600], start[32];
        gmtime_r(&in.starts, &tm);
        strftime(start, sizeof(start), "%Y%m%dT%H%M%SZ", &tm);
        fputs("BEGIN:VEVENT\r\n", f);
        snprintf(v, sizeof(v), "%s@%s", list[i]->id, host ? host : "podium");
        ics_line(f, "UID", v, false);
        ics_line(f, "DTSTAMP", now, false);
        ics_line(f, "DTSTART", start, false);
        snprintf(v, sizeof(v), "PT%dM", config_format_minutes(in.format));
        ics_line(f, "DURATION", v, false);
        ics_line(f, "SUMMARY", in.title, true);
        if (in.track[0])
            ics_line(f, "LOCATION", in.track, true);
        char url[400] = "";
        if (host) {
            snprintf(url, sizeof(url), "%s://%s/watch/%s", https ? "https" : "http", host, list[i]->id);
            ics_line(f, "URL", url, false);
        }
        snprintf(v, sizeof(v), "%s%s%s%s%s", in.speakers, in.speakers[0] ? "\n" : "",
                 config_format_name(in.format), url[0] ? "\nWatch: " : "", url);
        ics_line(f, "DESCRIPTION", v, true);
        fputs("END:VEVENT\r\n", f);
    }
    fputs("END:VCALENDAR\r\n", f);
    free(name);
    return attachment_reply(h, c, f, &text, &len, "text/calendar; charset=utf-8",
                            only ? "talk.ics" : "schedule.ics");
}

/* One Prometheus family: HELP/TYPE once, then a sample per session. */
struct family {
    const char *name, *help, *type;
};

static const struct family families[] = {
    { "podium_session_live", "1 while a publisher is connected.", "gauge" },
    { "podium_session_bytes_in_total", "SRT payload bytes received.", "counter" },
    { "podium_session_packets_in_total", "SRT messages received.", "counter" },
    { "podium_session_segments_total", "Live segments published.", "counter" },
    { "podium_session_viewers", "Estimated viewers: the most requests of one live segment held.", "gauge" },
    { "podium_session_viewers_peak", "The most estimated viewers the session has had (kept across restarts).", "gauge" },
    { "podium_session_bitrate_bps", "Bitrate of the last segment.", "gauge" },
    { "podium_session_subscribers", "SRT pull (m=request) subscribers connected.", "gauge" },
    { "podium_srt_rtt_ms", "Publisher SRT round-trip time.", "gauge" },
    { "podium_srt_packets_lost_total", "Publisher SRT packets lost (receiver side).", "counter" },
    { "podium_srt_packets_retransmitted_total", "Publisher SRT retransmitted packets received.", "counter" },
    { "podium_srt_packets_dropped_total", "Publisher SRT packets dropped as too late.", "counter" },
    { "podium_srt_rcvbuf_ms", "Publisher SRT receive buffer level.", "gauge" },
    { "podium_recording_bytes_total", "Bytes recorded to disk.", "counter" },
    { "podium_recording_errors_total", "Recording write errors.", "counter" },
    { "podium_recording_gaps_total", "Recording gaps (segments not written).", "counter" },
};

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
    bool organizer = is_organizer(h, c);
    const size_t nf = sizeof(families) / sizeof(families[0]);
    /* values[session][family], NAN where a sample does not apply */
    double (*v)[sizeof(families) / sizeof(families[0])] = calloc(n ? n : 1, sizeof(*v));
    if (!v) {
        fclose(f);
        free(text);
        return error_reply(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        struct session *s = list[i];
        char addr[64];
        struct store_stats st = { 0 };
        struct seg_stats ss = { 0 };
        struct rec_stats rs = { 0 };
        struct ingest_link_stats ls;
        bool on = session_publisher(s, addr, sizeof(addr), NULL);
        live += on;
        store_get_stats(s->win, &st);
        seg_get_stats(s->seg, &ss);
        rec_get_stats(s->rec, &rs);
        int sock = session_publisher_sock(s);
        bool link = on && ingest_sock_stats(sock, &ls) == 0;
        /* Only the organizer learns that an unpublished recording exists
         * (DESIGN): anyone else sees recording samples while it is being
         * written or once published. Absent, not 0, so that no counter
         * seems to go back to a scraper. */
        bool rec = organizer || recording_live(s, &rs) || atomic_load(&s->published);
        double row[] = {
            on, (double)atomic_load(&s->bytes_in), (double)atomic_load(&s->packets_in),
            (double)st.segments, (double)st.viewers, (double)st.viewers_peak, ss.last_bitrate,
            pull_count(s->pull),
            link ? ls.rtt_ms : NAN, link ? (double)ls.pkts_lost : NAN,
            link ? (double)ls.pkts_retrans : NAN, link ? (double)ls.pkts_dropped : NAN,
            link ? ls.rcvbuf_ms : NAN, rec ? (double)rs.bytes_written : NAN,
            rec ? (double)rs.write_errors : NAN, rec ? (double)rs.gaps_total : NAN,
        };
        memcpy(v[i], row, sizeof(row));
    }
    for (size_t k = 0; k < nf; k++) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", families[k].name, families[k].help,
                families[k].name, families[k].type);
        for (size_t i = 0; i < n; i++)
            if (!isnan(v[i][k]))
                fprintf(f, "%s{session=\"%s\"} %.17g\n", families[k].name, list[i]->id, v[i][k]);
    }
    free(v);
    fprintf(f, "# HELP podium_publishers Connected publishers.\n"
               "# TYPE podium_publishers gauge\npodium_publishers %d\n", live);
    fprintf(f, "# HELP podium_sessions Sessions known.\n"
               "# TYPE podium_sessions gauge\npodium_sessions %zu\n", n);
    struct disk_space ds;
    diskspace_get(h->env.disk, &ds);
    if (ds.known)
        fprintf(f, "# HELP podium_disk_free_bytes Space left for recordings (data_dir/recordings).\n"
                   "# TYPE podium_disk_free_bytes gauge\npodium_disk_free_bytes %" PRIu64 "\n"
                   "# HELP podium_disk_size_bytes Size of the filesystem recordings go to.\n"
                   "# TYPE podium_disk_size_bytes gauge\npodium_disk_size_bytes %" PRIu64 "\n",
                ds.free_bytes, ds.total_bytes);
    fputs("# HELP podium_http_responses_total HTTP responses by status class.\n"
          "# TYPE podium_http_responses_total counter\n", f);
    for (int k = 0; k < ST_N; k++)
        fprintf(f, "podium_http_responses_total{status=\"%s\"} %" PRIuFAST64 "\n",
                status_names[k], atomic_load(&h->by_status[k]));
    fprintf(f, "# HELP podium_http_segment_bytes_total Live segment bytes served.\n"
               "# TYPE podium_http_segment_bytes_total counter\n"
               "podium_http_segment_bytes_total %" PRIuFAST64 "\n",
            atomic_load(&h->segment_bytes));
    fprintf(f, "# HELP podium_http_connections_total HTTP connections accepted.\n"
               "# TYPE podium_http_connections_total counter\n"
               "podium_http_connections_total %" PRIuFAST64 "\n"
               "# HELP podium_http_connections_handed_over_total Connections livesend handed "
               "to libmicrohttpd at a request it does not answer, with all later ones.\n"
               "# TYPE podium_http_connections_handed_over_total counter\n"
               "podium_http_connections_handed_over_total %" PRIuFAST64 "\n"
               "# HELP podium_http_livesend_responses_total Responses livesend sent: live "
               "segments and playlists, and the pages, script and JSON a player asks first.\n"
               "# TYPE podium_http_livesend_responses_total counter\n"
               "podium_http_livesend_responses_total %" PRIuFAST64 "\n",
            atomic_load(&h->conns_accepted), atomic_load(&h->conns_handed_over),
            atomic_load(&h->livesend_responses));
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


/* --------------------------------------------------------------- VOD */

static void http_date(time_t t, char *buf, size_t len)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* If-None-Match: a list of entity tags compared weakly (RFC 9110 13.1.2). */
static bool etag_matches(const char *list, const char *etag)
{
    size_t n = strlen(etag);
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == '*')
            return true;
        if (p[0] == 'W' && p[1] == '/')
            p += 2;
        if (strncmp(p, etag, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
            return true;
        while (*p && *p != ',')
            p++;
    }
    return false;
}

/* A file's ETag (size and mtime) and Last-Modified values. */
static void file_validators(const struct stat *st, char *etag, size_t etag_cap, char *lm,
                            size_t lm_cap)
{
    snprintf(etag, etag_cap, "\"%llx-%llx\"", (unsigned long long)st->st_size,
             (unsigned long long)st->st_mtim.tv_sec * 1000000000ull
                 + (unsigned long long)st->st_mtim.tv_nsec);
    http_date(st->st_mtime, lm, lm_cap);
}

static ssize_t no_body_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls; (void)pos; (void)buf; (void)max;
    return MHD_CONTENT_READER_END_WITH_ERROR;
}

/* A 304 for a representation of size bytes: libmicrohttpd sends its size
 * as Content-Length, which RFC 9110 8.6 allows only as the 200's. */
static struct MHD_Response *not_modified_response(uint64_t size)
{
    return MHD_create_response_from_callback(size, 4096, no_body_cb, NULL, NULL);
}

/* Serves a file from the recording folder with sendfile, ETag,
 * Last-Modified, conditional GET and single ranges; adds the body's length
 * to *sent when it is not NULL. */
static enum MHD_Result file_reply_counted(struct http *h, struct MHD_Connection *c,
                                          const char *path, const char *type,
                                          const char *cache, atomic_uint_fast64_t *sent)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return error_reply(h, c, MHD_HTTP_NOT_FOUND, "not found");
    }
    char etag[64], lm[64];
    file_validators(&st, etag, sizeof(etag), lm, sizeof(lm));
    const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match");
    if (inm && etag_matches(inm, etag)) {
        close(fd);
        struct MHD_Response *r = not_modified_response((uint64_t)st.st_size);
        if (r) {
            MHD_add_response_header(r, "ETag", etag);
            MHD_add_response_header(r, "Cache-Control", cache);
        }
        return reply(h, c, MHD_HTTP_NOT_MODIFIED, r);
    }
    uint64_t size = (uint64_t)st.st_size, from = 0, to = size ? size - 1 : 0;
    int rr = request_range(c, etag, size, &from, &to);
    if (rr < 0) {
        close(fd);
        return unsatisfiable_reply(h, c, size);
    }
    uint64_t len = rr > 0 ? to - from + 1 : size;
    struct MHD_Response *r = MHD_create_response_from_fd_at_offset64(len, fd, from);
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    if (sent)
        atomic_fetch_add_explicit(sent, len, memory_order_relaxed);
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", cache);
    MHD_add_response_header(r, "ETag", etag);
    MHD_add_response_header(r, "Last-Modified", lm);
    MHD_add_response_header(r, "Accept-Ranges", "bytes");
    unsigned code = MHD_HTTP_OK;
    if (rr > 0) {
        add_content_range(r, from, to, size);
        code = MHD_HTTP_PARTIAL_CONTENT;
    }
    return reply(h, c, code, r);
}

static enum MHD_Result file_reply(struct http *h, struct MHD_Connection *c,
                                  const char *path, const char *type, const char *cache)
{
    return file_reply_counted(h, c, path, type, cache, NULL);
}

static enum MHD_Result vod_playlist_with_token(struct http *h, struct MHD_Connection *c,
                                               const char *path)
{
    /* Recording playlists are small text files (about 60 bytes a segment). */
    FILE *f = fopen(path, "r");
    if (!f)
        return error_reply(h, c, MHD_HTTP_NOT_FOUND, "not found");
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap)
            break;
        uint8_t *nb = cap < (32u << 20) ? realloc(buf, cap * 2) : NULL;
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    fclose(f);
    if (!buf)
        return error_reply(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "playlist too large");
    struct MHD_Response *r = playlist_with_token(buf, len, request_token(c));
    free(buf);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", PLAYLIST_TYPE);
    MHD_add_response_header(r, "Cache-Control", "private, no-cache");
    return reply(h, c, MHD_HTTP_OK, r);
}

/* A published recording the organizer trimmed: its playlist cut to the
 * window (set_vod_window in main.c). Returns false, answering nothing,
 * when the recording is not trimmed: the file on disk is then the one. */
static bool trimmed_playlist_reply(struct http *h, struct MHD_Connection *c,
                                   struct session *s, enum MHD_Result *ret)
{
    pthread_mutex_lock(&s->lock);
    bool trimmed = s->vod_trim != NULL;
    AVBufferRef *text = trimmed ? av_buffer_ref(s->vod_trim) : NULL;
    pthread_mutex_unlock(&s->lock);
    if (!trimmed)
        return false;
    if (!text) {
        *ret = error_reply(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        return true;
    }
    if (!token_in_playlists(h, c)) {
        *ret = buffer_reply(h, c, text, PLAYLIST_TYPE, "public, max-age=300");
        return true;
    }
    struct MHD_Response *r = playlist_with_token(text->data, text->size, request_token(c));
    av_buffer_unref(&text);
    if (!r) {
        *ret = MHD_NO;
        return true;
    }
    MHD_add_response_header(r, "Content-Type", PLAYLIST_TYPE);
    MHD_add_response_header(r, "Cache-Control", "private, no-cache");
    *ret = reply(h, c, MHD_HTTP_OK, r);
    return true;
}

/* Whether attendees may fetch recording segment seq: a trimmed published
 * recording gives them only the segments its playlist lists. */
static bool in_published_window(struct session *s, uint64_t seq)
{
    pthread_mutex_lock(&s->lock);
    bool in = !s->vod_trim || (seq >= s->vod_first && seq <= s->vod_last);
    pthread_mutex_unlock(&s->lock);
    return in;
}

/* The open recording's playlist up to its last synced entry: the file on
 * disk can be caught mid-append (ext4 grows its size page by page), and a
 * player would get a half-written last entry. Returns false, answering
 * nothing, when the recording is no longer open: the file is then whole. */
static bool open_playlist_reply(struct http *h, struct MHD_Connection *c,
                                struct recorder *rec, enum MHD_Result *ret)
{
    size_t len = 0, entries = 0;
    char *text = rec_playlist_open(rec, &len, &entries);
    if (!text)
        return false;
    /* the text only grows while open: its length and entry count name it */
    char etag[48];
    const char *skip = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "_HLS_skip");
    bool delta = skip && (strcmp(skip, "YES") == 0 || strcmp(skip, "v2") == 0);
    snprintf(etag, sizeof(etag), "\"o%zx-%zx%s\"", len, entries, delta ? "-d" : "");
    /* a player re-reads it every segment: one watching a long talk from
     * the start would fetch hundreds of KB each time without delta updates */
    const char *why;
    size_t dlen;
    char *d = playlist_delta(text, len, delta, &dlen, &why);
    if (d) {
        free(text);
        text = d;
        len = dlen;
    } else {
        /* the recorder writes none it would refuse: said once, not per request */
        static atomic_bool said;
        if (!atomic_exchange(&said, true))
            log_msg(LV_WARN, NULL, "\"an open recording's playlist is served without delta updates\" "
                    "err=\"%s\"", why);
    }
    const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match");
    struct MHD_Response *r;
    /* a 304 is built as the 200: libmicrohttpd sends no body with it, and
     * its Content-Length must be the 200's (RFC 9110 8.6) */
    unsigned code = inm && etag_matches(inm, etag) ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK;
    if (token_in_playlists(h, c)) {
        r = playlist_with_token((const uint8_t *)text, len, request_token(c));
    } else {
        r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
        if (r)
            text = NULL;
    }
    free(text);
    if (r) {
        if (code == MHD_HTTP_OK)
            MHD_add_response_header(r, "Content-Type", PLAYLIST_TYPE);
        MHD_add_response_header(r, "Cache-Control", token_in_playlists(h, c) ? "private, no-cache"
                                                                              : "max-age=1");
        MHD_add_response_header(r, "ETag", etag);
    }
    *ret = reply(h, c, code, r);
    return true;
}

static enum MHD_Result vod_reply(struct http *h, struct MHD_Connection *c, const char *rest)
{
    const char *file;
    struct session *s = session_of_path(h, rest, &file);
    if (!s || !s->rec)
        return error_reply(h, c, MHD_HTTP_NOT_FOUND, "no such recording");
    struct rec_stats rs;
    rec_get_stats(s->rec, &rs);
    bool organizer = is_organizer(h, c);
    bool published = atomic_load(&s->published);
    bool open = recording_live(s, &rs);
    /* Attendees may seek back while the session runs; afterwards only a
     * published recording exists for them. */
    if (!rs.exists || (!open && !published && !organizer))
        return error_reply(h, c, MHD_HTTP_NOT_FOUND, "no such recording");
    unsigned code;
    const char *why;
    if (!attendee_allowed(h, c, &code, &why))
        return error_reply(h, c, code, why);
    const char *priv = "private, no-store";
    char path[PATH_MAX], mp4[CONFIG_ID_MAX + 8];
    snprintf(mp4, sizeof(mp4), "%s.mp4", s->id);
    if (strcmp(file, "index.m3u8") == 0) {
        enum MHD_Result ret;
        if (open && open_playlist_reply(h, c, s->rec, &ret))
            return ret;
        if (published && trimmed_playlist_reply(h, c, s, &ret))
            return ret;
        rec_path(s->rec, path, sizeof(path), "index.m3u8");
        if (token_in_playlists(h, c))
            return vod_playlist_with_token(h, c, path);
        return file_reply(h, c, path, PLAYLIST_TYPE,
                          !published && !open ? priv : open ? "max-age=1" : "public, max-age=300");
    }
    if (strcmp(file, mp4) == 0) {
        rec_path(s->rec, path, sizeof(path), "%s", mp4);
        return file_reply(h, c, path, "video/mp4",
                          published ? "public, max-age=300" : priv);
    }
    char *end;
    errno = 0;
    const char *cache = published || open ? "public, max-age=31536000, immutable" : priv;
    if (strncmp(file, "init-", 5) == 0 && file[5] >= '0' && file[5] <= '9') {
        unsigned long long iid = strtoull(file + 5, &end, 10);
        if (errno || strcmp(end, ".mp4") != 0)
            return error_reply(h, c, MHD_HTTP_NOT_FOUND, "not found");
        rec_path(s->rec, path, sizeof(path), "init-%llu.mp4", iid);
        return file_reply(h, c, path, "video/mp4", cache);
    }
    if (file[0] < '0' || file[0] > '9')
        return error_reply(h, c, MHD_HTTP_NOT_FOUND, "not found");
    unsigned long long seq = strtoull(file, &end, 10);
    bool ts = strcmp(end, ".ts") == 0, m4s = strcmp(end, ".m4s") == 0;
    if (errno || (!ts && !m4s))
        return error_reply(h, c, MHD_HTTP_NOT_FOUND, "not found");
    if (published && !in_published_window(s, seq)) {
        if (!organizer)         /* trimmed off: as if it did not exist */
            return error_reply(h, c, MHD_HTTP_NOT_FOUND, "not found");
        cache = priv;
    }
    rec_path(s->rec, path, sizeof(path), "%llu%s", seq, end);
    return file_reply(h, c, path, ts ? "video/mp2t" : "video/mp4", cache);
}


/* The player page. Prefers hls.js whenever MSE works: Chromium answers
 * "maybe" to canPlayType(mpegurl) and would otherwise skip it. */
static const char watch_html[] =
"<!doctype html><html><head><meta charset=\"utf-8\">"
"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
"<link rel=\"icon\" href=\"data:,\">"
"<title>%s - %s</title>%s"
"<style>body{font-family:sans-serif;max-width:60em;margin:1em auto;padding:0 1em}"
"video{width:100%%;background:#000}#status{color:#555}.who{color:#333}"
"#sound,#rewind{font-size:110%%;margin:.3em .5em .3em 0}"
".meta{color:#777;font-size:90%%}</style></head><body>"
"<p><a href=\"/\">&larr; all sessions</a></p><h1 id=\"title\">%s</h1><p id=\"about\">%s</p>"
"<form id=\"register\" hidden><p>Attendance is free: register once to watch.</p>"
"<label>Name <input id=\"name\" required maxlength=\"200\"></label> "
"<label>E-mail <input id=\"email\" type=\"email\" required maxlength=\"254\"></label> "
"<button>Register</button> <span id=\"formmsg\"></span></form>"
"<video id=\"video\" controls autoplay playsinline></video>"
"<button id=\"sound\" hidden>&#128264; Click for sound</button>"
"<button id=\"rewind\" hidden>&#9198; Watch from the start</button>"
"<p id=\"status\">loading&hellip;</p>"
"<script src=\"/static/hls.min.js\"></script>"
"<script>\n"
LOCAL_TIMES_JS
"localTimes(document);\n"
"const id = %s, sessionUrl = '/api/v1/sessions/' + encodeURIComponent(id);\n"
"const video = document.getElementById('video');\n"
"const status = document.getElementById('status');\n"
"// browsers let a page play with sound only once the attendee has used it:\n"
"// else play muted, and say where the sound is (a muted talk passes for a\n"
"// broken one)\n"
"const sound = document.getElementById('sound'), rewind = document.getElementById('rewind');\n"
"video.addEventListener('volumechange', () => { sound.hidden = !video.muted; });\n"
"// hidden at once: volumechange (which hides it too) comes a task later\n"
"sound.onclick = () => { video.muted = false; sound.hidden = true; video.play().catch(() => {}); };\n"
"function play() {\n"
"  video.play().catch((e) => {\n"
"    if (e.name !== 'NotAllowedError' || video.muted) return;\n"
"    video.muted = true;\n"
"    video.play().catch(() => {});\n"
"  });\n"
"}\n"
"window.podium = { errors: [], source: null, reconnects: 0, waits: [], onlineRetries: 0, recoveries: 0 };\n"
"// Thousands of attendees lose the server at one instant (a restart, a proxy\n"
"// reload): on a fixed clock they would all come back in lockstep, each\n"
"// time, for as long as it is away. Each page waits its own random share of\n"
"// a wait that doubles with every failure in a row (to 30 s); a page that\n"
"// plays starts over at 2 s, and one whose network comes back goes at once.\n"
"let failures = 0, pending = null;\n"
"function again(ms, failed) {\n"
"  const wait = failed ? Math.min(2000 * 2 ** failures++, 30000) : ms;\n"
"  const jittered = Math.round(wait * (0.5 + Math.random()));\n"
"  if (failed) window.podium.waits.push({ wait, ms: jittered });\n"
"  clearTimeout(pending);\n"
"  pending = setTimeout(() => { pending = null; start(); }, jittered);\n"
"}\n"
"window.addEventListener('online', () => {\n"
"  if (pending === null) return;\n"
"  clearTimeout(pending);\n"
"  pending = null;\n"
"  window.podium.onlineRetries++;\n"
"  start();\n"
"});\n"
"video.addEventListener('playing', () => { failures = 0; });\n"
"function attendeeToken() {\n"
"  const saved = localStorage.getItem('podium-token');\n"
"  if (saved) return Promise.resolve(saved);\n"
"  const form = document.getElementById('register');\n"
"  form.hidden = false;\n"
"  status.textContent = 'Registration required.';\n"
"  return new Promise(resolve => {\n"
"    form.onsubmit = async ev => {\n"
"      ev.preventDefault();\n"
"      const r = await fetch('/api/v1/register', { method: 'POST',\n"
"        headers: { 'Content-Type': 'application/json' },\n"
"        body: JSON.stringify({ name: document.getElementById('name').value,\n"
"                               email: document.getElementById('email').value }) });\n"
"      const j = await r.json();\n"
"      if (!r.ok) { document.getElementById('formmsg').textContent = j.error; return; }\n"
"      localStorage.setItem('podium-token', j.token);\n"
"      form.hidden = true;\n"
"      resolve(j.token);\n"
"    };\n"
"  });\n"
"}\n"
"// ', starts at 14:30 (in 12 min)' in the attendee's clock; '' unscheduled\n"
"function untilStart(starts) {\n"
"  if (!starts) return '';\n"
"  const at = new Date(starts), min = Math.max(0, Math.ceil((at - Date.now()) / 60000));\n"
"  const when = at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });\n"
"  return ', starts at ' + (min >= 24 * 60 ? at.toLocaleDateString([], { weekday: 'short', day: 'numeric',\n"
"    month: 'short' }) + ' ' + when : when + (min < 1 ? ' (any moment now)' : ' (in ' + (min < 60 ? min + ' min'\n"
"    : Math.floor(min / 60) + ' h' + (min %% 60 ? ' ' + min %% 60 + ' min' : '')) + ')'));\n"
"}\n"
"// Attendees open the page before the talk, and stay after it: look again\n"
"// until there is something to play, rather than leave them a dead page.\n"
"async function start() {\n"
"  let s;\n"
"  try {\n"
"    const r = await fetch(sessionUrl);\n"
"    if (r.status === 404) { status.textContent = 'No such session.'; return; }\n"
"    if (!r.ok) throw new Error(r.status);\n"
"    s = await r.json();\n"
"  } catch (e) {\n"
"    status.textContent = 'Cannot reach the server; trying again.';\n"
"    again(0, true);\n"
"    return;\n"
"  }\n"
"  // registered first, before the talk too: attendees arrive early\n"
"  const token = s.access === 'registered' ? await attendeeToken() : null;\n"
"  let src = null;\n"
"  // live, but no segment yet: the playlist would answer 404 to hls.js\n"
"  if (s.state === 'live' && s.segments > 0) src = s.live_url;\n"
"  else if (s.recording && s.recording.published) src = s.recording.url;\n"
"  if (!src) {\n"
"    const [text, wait] = s.state === 'live' ? ['Starting\u2026', 1000]\n"
"      // past its start, attendees would blame their own connection\n"
"      : s.state === 'scheduled' ? [s.starts && Date.now() > Date.parse(s.starts) + 60000\n"
"          ? 'The talk was due to start at ' + new Date(s.starts).toLocaleTimeString([],\n"
"              { hour: '2-digit', minute: '2-digit' }) + ' and has not started yet: the player starts '\n"
"              + 'by itself when it does.'\n"
"          : 'Not started yet' + untilStart(s.starts) + ': the player starts by itself when the talk does.', 5000]\n"
"      : ['The talk has ended; its recording plays here once the organizers publish it.', 30000];\n"
"    status.textContent = text;\n"
"    again(wait, false);\n"
"    return;\n"
"  }\n"
"  if (token) {\n"
"    src += '?token=' + encodeURIComponent(token);\n"
"    // a token from another event or an older secret would only make the\n"
"    // player fail: forget it and ask again\n"
"    const chk = await fetch(src, { method: 'HEAD' }).catch(() => null);\n"
"    if (chk && (chk.status === 401 || chk.status === 403)) {\n"
"      localStorage.removeItem('podium-token');\n"
"      return start();\n"
"    }\n"
"  }\n"
"  status.textContent = s.state === 'live' ? 'Live' : 'Recording';\n"
"  if (s.state === 'live') {\n"
"    liveSrc = src;\n"
"    // once: start() runs again after the attendee's network came back\n"
"    if (!watching) watchLive();\n"
"    // the live playlist holds the last few segments: an attendee who came\n"
"    // late watches the talk so far from its recording (an EVENT playlist\n"
"    // that grows), and comes back to live\n"
"    const rec = s.recording;\n"
"    if (rec && rec.state === 'recording' && rec.url) {\n"
"      const whole = rec.url + (token ? '?token=' + encodeURIComponent(token) : '');\n"
"      rewind.hidden = false;\n"
"      rewind.textContent = '\\u23ee Watch from the start';   // live again after a reconnect\n"
"      rewind.onclick = () => {\n"
"        const back = window.podium.source !== whole;\n"
"        attach(back ? whole : src, s, back);\n"
"        rewind.textContent = back ? '\\u23ed Back to live' : '\\u23ee Watch from the start';\n"
"        status.textContent = back ? 'From the start (live continues)' : 'Live';\n"
"      };\n"
"    }\n"
"  }\n"
"  attach(src, s, false);\n"
"}\n"
"// The live talk's end, and a speaker whose connection dropped: that leaves\n"
"// the picture frozen, and attendees who are not told blame their own\n"
"// connection and reload (checked every 5 s: SRT notices a silent peer\n"
"// after about as long).\n"
"let liveSrc = null, watching = false, resumeAt = -1;\n"
"function watchLive() {\n"
"  watching = true;\n"
"  let over = false;\n"
"  video.addEventListener('ended', () => {\n"
"    over = true;\n"
"    rewind.hidden = true;     // an unpublished recording is not the attendees'\n"
"    status.textContent = 'The talk has ended.';\n"
"  });\n"
"  const dropped = 'The speaker\\'s connection dropped: the talk goes on when they are back.';\n"
"  const check = setInterval(async () => {\n"
"    if (over) return clearInterval(check);\n"
"    const r = await fetch(sessionUrl).catch(() => null);\n"
"    const j = r && r.ok ? await r.json().catch(() => null) : null;\n"
"    if (!j || over) return;\n"
"    if (j.state !== 'live') return clearInterval(check);   // 'ended' says the rest\n"
"    if (window.podium.source !== liveSrc) return;     // watching from the start, or reconnecting\n"
"    if (!j.live) status.textContent = dropped;\n"
"    else if (status.textContent === dropped) status.textContent = 'Live';\n"
"  }, 5000);\n"
"}\n"
"// Plays src: the live playlist or a recording, or (fromStart) the live\n"
"// talk's recording from its beginning. One player at a time.\n"
"function attach(src, s, fromStart) {\n"
"  if (window.podium.hls) window.podium.hls.destroy();\n"
"  window.podium.source = src;\n"
"  if (window.Hls && Hls.isSupported()) {\n"
"    // live: catch up to the live edge (1.5x at most) instead of staying\n"
"    // where playback began; from the start: stay where the attendee is\n"
"    const cfg = fromStart ? { startPosition: 0 } : { lowLatencyMode: true, maxLiveSyncPlaybackRate: 1.5 };\n"
"    if (resumeAt >= 0) cfg.startPosition = resumeAt;\n"
"    resumeAt = -1;\n"
"    const hls = new Hls(cfg);\n"
"    window.podium.hls = hls;\n"
"    const mine = () => window.podium.hls === hls;\n"
"    // a browser without the speaker's codec (HEVC on Firefox or Chromium on\n"
"    // Linux) fails on the first segment: say what to do, not hls.js's name\n"
"    const video0 = s.publisher && s.publisher.media && s.publisher.media.video;\n"
"    let cannot = false, recovered = -Infinity;\n"
"    hls.on(Hls.Events.ERROR, (e, d) => {\n"
"      if (!d.fatal) return;\n"
"      cannot = cannot || d.details === 'bufferAddCodecError' || d.details === 'manifestIncompatibleCodecsError';\n"
"      if (cannot) {\n"
"        window.podium.errors.push(d.details);\n"
"        status.textContent = 'This browser cannot play the talk\\'s video' +\n"
"          (video0 ? ' (' + video0.codec.toUpperCase() + ')' : '') + ': try another browser (Safari, Edge) ' +\n"
"          'or device.';\n"
"        return;\n"
"      }\n"
"      // a segment the browser could not append or decode (a glitch in the\n"
"      // speaker's stream): hls.js rebuilds the media pipeline and goes on\n"
"      // from the playhead. Once in 10 s: a second one starts over below.\n"
"      if (d.type === Hls.ErrorTypes.MEDIA_ERROR && performance.now() - recovered > 10000) {\n"
"        recovered = performance.now();\n"
"        window.podium.recoveries++;\n"
"        hls.recoverMediaError();\n"
"        return;\n"
"      }\n"
"      // hls.js gives up on a playlist or segment after a few retries (a few\n"
"      // seconds): the attendee's network went, or the server, or the talk\n"
"      // ended meanwhile. Or the player itself failed again. Ask again what\n"
"      // there is to play rather than leave a dead player that only a reload\n"
"      // brings back. From the start, behind the talk, this is also how its\n"
"      // end shows: its recording is the organizers' until they publish it\n"
"      // (404), which start() says.\n"
"      // A recording goes on where the attendee was (read before the player\n"
"      // lets go of the video, which takes it to 0); live goes to live.\n"
"      resumeAt = s.state === 'live' ? -1 : video.currentTime;\n"
"      hls.destroy();\n"
"      window.podium.hls = null;\n"
"      window.podium.source = null;\n"
"      window.podium.reconnects++;\n"
"      if (fromStart) {\n"
"        rewind.hidden = true;\n"
"        start();\n"
"        return;\n"
"      }\n"
"      status.textContent = d.type === Hls.ErrorTypes.NETWORK_ERROR\n"
"        ? 'Lost the connection to the server; reconnecting\u2026'\n"
"        : 'The player stopped (' + d.details + '); starting it again\u2026';\n"
"      again(0, true);\n"
"    });\n"
"    if (!fromStart) {\n"
"      // hls.js only catches up (faster playback) within one target duration of\n"
"      // its target latency; further behind, e.g. after a stall on a part that\n"
"      // never arrived, it would stay there for good: jump back instead, unless\n"
"      // the attendee went back on purpose (a seek backwards) and has not\n"
"      // returned to the live edge since. And after a stall hold back one more\n"
"      // part, not a whole second.\n"
"      let watched = 0, rewound = false;\n"
"      // a seek starts synchronously but its event comes later, maybe after\n"
"      // the playlist update that would undo it: check in both places\n"
"      const noteRewind = () => { if (video.seeking && video.currentTime < watched - 1) rewound = true; };\n"
"      video.addEventListener('timeupdate', () => { if (!video.seeking) watched = video.currentTime; });\n"
"      video.addEventListener('seeking', () => { if (mine()) noteRewind(); });\n"
"      hls.on(Hls.Events.LEVEL_UPDATED, (e, d) => {\n"
"        const det = d.details;\n"
"        noteRewind();\n"
"        if (!det || !det.live || !(hls.targetLatency > 0)) return;\n"
"        if (det.partTarget > 0) hls.config.liveSyncOnStallIncrease = det.partTarget;\n"
"        const range = hls.targetLatency + det.targetduration;\n"
"        // not hls.latency: it is only updated on the next timeupdate after a seek\n"
"        if (rewound && !video.seeking && det.edge - video.currentTime < range) rewound = false;\n"
"        hls.config.liveMaxLatencyDuration = rewound ? Infinity : range;\n"
"      });\n"
"      // LL-HLS starts at the segment's first (independent) part, up to a\n"
"      // segment behind: once playing, jump to the live sync point instead.\n"
"      let synced = false;\n"
"      video.addEventListener('playing', () => {\n"
"        if (!mine() || synced || !hls.liveSyncPosition || !(hls.targetLatency < 2)) return;\n"
"        synced = true;\n"
"        if (hls.latency > hls.targetLatency + 0.3) video.currentTime = hls.liveSyncPosition;\n"
"      });\n"
"    }\n"
"    hls.loadSource(src);\n"
"    hls.attachMedia(video);\n"
"  } else if (video.canPlayType('application/vnd.apple.mpegurl')) {\n"
"    video.src = src;\n"
"    if (fromStart)\n"
"      video.addEventListener('loadedmetadata', () => {\n"
"        video.currentTime = video.seekable.length ? video.seekable.start(0) : 0;\n"
"      }, { once: true });\n"
"  } else {\n"
"    status.textContent = 'This browser cannot play HLS.';\n"
"  }\n"
"  play();\n"
"}\n"
"start();\n"
"</script></body></html>\n";

/* The watch page of s (caller frees), NULL when out of memory. */
static char *watch_text(struct http *h, struct session *s, size_t *out_len)
{
    char *title = NULL, *jsid = NULL, *page = NULL, *site = site_name(h);
    size_t tlen = 0;
    FILE *f = open_memstream(&title, &tlen);
    if (!f)
        return NULL;
    struct session_info in;
    session_info(s, &in);
    html_escape(f, in.title);
    fclose(f);
    char *preview = NULL;
    size_t plen = 0;
    f = site ? open_memstream(&preview, &plen) : NULL;
    if (f) {
        session_preview(f, &in, site);
        fclose(f);
    }
    char *about = NULL;
    size_t alen = 0;
    f = open_memstream(&about, &alen);
    if (f) {
        session_meta(f, &in);
        if (in.starts)          /* a reminder when it starts */
            fprintf(f, " <a href=\"/schedule.ics?session=%s\">Add to calendar</a>", s->id);
        fclose(f);
    }
    json_t *j = json_string(s->id);
    jsid = json_dumps(j, JSON_ENCODE_ANY);
    json_decref(j);
    int n = jsid && about && title && site && preview
            ? asprintf(&page, watch_html, title, site, preview, title, about, jsid) : -1;
    free(preview);
    free(site);
    free(title);
    free(about);
    free(jsid);
    if (n < 0)
        return NULL;
    *out_len = (size_t)n;
    return page;
}

static enum MHD_Result watch_page(struct http *h, struct MHD_Connection *c, const char *id)
{
    struct session *s = config_valid_id(id) ? registry_find(h->reg, id) : NULL;
    if (!s)
        return page_not_found(h, c, "No such session");
    size_t len = 0;
    char *page = watch_text(h, s, &len);
    return page_reply(h, c, page, len);
}


/* The organizer page: everything comes from the API with the admin token
 * the organizer types in (kept in sessionStorage). */
static const char organizer_html[] =
"<!doctype html><html><head><meta charset=\"utf-8\"><title>Organizer - %s</title>"
"<link rel=\"icon\" href=\"data:,\">"
"<style>body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}"
"td,th{border:1px solid #ccc;padding:.3em .5em;text-align:left}.bad{color:#c00}"
"input.n{width:5em}.url{color:#555;font-size:85%%}form label{margin-right:.8em}"
"</style></head><body><h1>Organizer</h1>"
"<p><label>Admin token <input id=\"tok\" type=\"password\" size=\"40\"></label>"
" <span id=\"msg\"></span></p><p id=\"auth\" class=\"bad\"></p><p id=\"conn\" class=\"bad\"></p>"
"<p id=\"disk\"></p><p id=\"regs\"></p>"
"<table><thead><tr><th>session</th><th>state</th><th>publisher</th><th>bitrate</th>"
"<th>SRT rtt / lost / dropped</th><th>viewers</th><th>recording</th><th>actions</th>"
"</tr></thead><tbody id=\"rows\"></tbody></table>"
"<p><button id=\"report\">Download the sessions report (CSV)</button></p>"
"<h2 id=\"problems-head\" hidden>Recent problems</h2><ul id=\"problems\"></ul>"
"<h2 id=\"f-head\">New session</h2><form id=\"new\">"
"<label>id <input id=\"n-id\" required pattern=\"[A-Za-z0-9_\\-]{1,40}\" size=\"12\" "
"placeholder=\"keynote\" title=\"letters, digits, - and _\"></label>"
"<label>title <input id=\"n-title\" maxlength=\"200\"></label>"
"<label>speakers <input id=\"n-speakers\" placeholder=\"Ada Lovelace, Alan Turing\"></label>"
"<label>track <input id=\"n-track\" maxlength=\"60\" size=\"10\" placeholder=\"Hall B\"></label>"
"<label>format <select id=\"n-format\"><option>presentation</option><option>panel</option>"
"<option>workshop</option><option>lightning</option></select></label>"
"<label>starts <input id=\"n-starts\" type=\"datetime-local\"></label>"
"<label title=\"from 30 min before the start to 30 min after the slot\"><input id=\"n-strict\" "
"type=\"checkbox\"> speaker only around the start</label>"
"<label>passphrase <input id=\"n-pass\" required minlength=\"10\" maxlength=\"79\" size=\"24\">"
"</label><button id=\"n-create\">create</button> "
"<button id=\"n-cancel\" type=\"button\" hidden>cancel</button></form><p id=\"created\"></p>"
"<script>\n"
LOCAL_TIMES_JS
"const tok = document.getElementById('tok');\n"
"tok.value = sessionStorage.getItem('podium-admin') || '';\n"
"tok.onchange = () => { sessionStorage.setItem('podium-admin', tok.value); refresh(); };\n"
"const esc = v => String(v).replace(/[&<>\"']/g, c => '&#' + c.charCodeAt(0) + ';');\n"
"async function call(method, path, body) {\n"
"  const r = await fetch('/api/v1/sessions' + path, { method, headers: { 'Authorization': 'Bearer ' +\n"
"    tok.value, 'Content-Type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });\n"
"  return { r, j: await r.json().catch(() => ({})) };\n"
"}\n"
"async function act(id, what, body) {\n"
"  // next to the trim fields, a slip would cut a talk off mid-sentence\n"
"  if (what === 'end' && !confirm('End ' + id + ' now? The speaker is disconnected and the '\n"
"                                 + 'recording finalized.')) return;\n"
"  if (what === 'delete' && !confirm('Delete ' + id + '? Its recording is deleted with it, and '\n"
"                                    + 'speakers can no longer stream to it.')) return;\n"
"  const path = '/' + encodeURIComponent(id) + (what === 'delete' ? '' : '/' + what);\n"
"  const { r, j } = await call(what === 'delete' ? 'DELETE' : 'POST', path, body);\n"
"  document.getElementById('msg').textContent = r.ok ? what + ': ok' : what + ': ' + (j.error || r.status);\n"
"  refresh();\n"
"}\n"
"// what a speaker puts into OBS or ffmpeg (README, \"For speakers\")\n"
"let srtPort = 9000;\n"
"const speakerUrl = (id, pass) => 'srt://' + location.hostname + ':' + srtPort + '?streamid=#!::r=' +\n"
"  id + ',m=publish&passphrase=' + pass + '&latency=120000';\n"
"// no & + %% in it: ffmpeg's URL parsing would mangle them (FIELD-NOTES)\n"
"const newPass = () => Array.from(crypto.getRandomValues(new Uint8Array(20)), b =>\n"
"  'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_'[b & 63]).join('');\n"
"const form = document.getElementById('new'), pass = document.getElementById('n-pass');\n"
"const el = id => document.getElementById(id);\n"
"// the form edits an API session too (edit()): then the id is fixed and an\n"
"// empty passphrase keeps the one the speaker already has\n"
"let editing = null, listedById = {};\n"
"function formMode(id) {\n"
"  editing = id;\n"
"  form.reset();\n"
"  el('n-id').readOnly = !!id;\n"
"  pass.required = !id;\n"
"  pass.placeholder = id ? 'unchanged' : '';\n"
"  pass.value = id ? '' : newPass();\n"
"  el('f-head').textContent = id ? 'Edit session ' + id : 'New session';\n"
"  el('n-create').textContent = id ? 'save' : 'create';\n"
"  el('n-cancel').hidden = !id;\n"
"}\n"
"// a datetime-local field's value: the instant in the organizer's time zone\n"
"const localTime = iso => { const d = new Date(iso);\n"
"  return new Date(d - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16); };\n"
"function edit(id) {\n"
"  const s = listedById[id];\n"
"  if (!s) return;\n"
"  formMode(id);\n"
"  el('n-id').value = s.id;\n"
"  el('n-title').value = s.title;\n"
"  el('n-speakers').value = s.speakers.join(', ');\n"
"  el('n-track').value = s.track || '';\n"
"  el('n-format').value = s.format;\n"
"  el('n-starts').value = s.starts ? localTime(s.starts) : '';\n"
"  el('n-strict').checked = s.ingest_window === 'strict';\n"
"  el('created').textContent = '';\n"
"  form.scrollIntoView();\n"
"  el('n-title').focus();\n"
"}\n"
"el('n-cancel').onclick = () => formMode(null);\n"
"formMode(null);\n"
"form.onsubmit = async (ev) => {\n"
"  ev.preventDefault();\n"
"  const v = id => el(id).value.trim();\n"
"  const body = { format: v('n-format') };\n"
"  if (!editing) body.id = v('n-id');\n"
"  if (pass.value) body.passphrase = pass.value;\n"
"  if (v('n-title')) body.title = v('n-title');\n"
"  // an edit sends them even when emptied: that clears them\n"
"  if (v('n-speakers') || editing) body.speakers = v('n-speakers');\n"
"  if (v('n-track') || editing) body.track = v('n-track');\n"
"  // the field is in the organizer's own time zone; the API is given UTC\n"
"  if (v('n-starts')) body.starts = new Date(v('n-starts')).toISOString().slice(0, 19) + 'Z';\n"
"  else if (editing) body.starts = null;\n"
"  body.ingest_window = el('n-strict').checked ? 'strict' : 'open';\n"
"  const what = editing ? 'save' : 'create';\n"
"  const { r, j } = editing ? await call('PATCH', '/' + encodeURIComponent(editing), body)\n"
"                           : await call('POST', '', body);\n"
"  const out = el('created');\n"
"  out.className = r.ok ? '' : 'bad';\n"
"  if (!r.ok) { out.textContent = what + ': ' + (j.error || r.status); return; }\n"
"  out.textContent = (editing ? 'Saved ' : 'Created ') + j.id + '.';\n"
"  if (body.passphrase)\n"
"    out.textContent += ' Send its speaker this URL (the passphrase is not shown again): ' +\n"
"      speakerUrl(j.id, body.passphrase);\n"
"  if (j.warning) { out.textContent += ' Warning: ' + j.warning + '.'; out.className = 'bad'; }\n"
"  formMode(null);\n"
"  refresh();\n"
"};\n"
"// '90', '1:30' or '1:01:30' (parseFloat would read '41:30' as 41 s and\n"
"// publish the wrong cut); NaN for anything else\n"
"const secs = v => /^(\\d+|\\d+:[0-5]?\\d|\\d+:[0-5]?\\d:[0-5]?\\d)(\\.\\d+)?$/.test(v)\n"
"  ? v.split(':').reduce((a, x) => a * 60 + parseFloat(x), 0) : NaN;\n"
"function publish(id) {\n"
"  const sv = document.getElementById('s-' + id).value.trim();\n"
"  const ev = document.getElementById('e-' + id).value.trim();\n"
"  const s = sv ? secs(sv) : 0, e = ev ? secs(ev) : 0;\n"
"  if (isNaN(s) || isNaN(e)) {\n"
"    document.getElementById('msg').textContent = 'publish: write times as seconds, m:ss or h:mm:ss';\n"
"    return;\n"
"  }\n"
"  act(id, 'publish', ev ? { start: s, end: e } : { start: s });\n"
"}\n"
"// only what the session's state allows: anything else would earn an error\n"
"function actions(s) {\n"
"  const id = esc(s.id), rec = s.recording;\n"
"  const btn = (pre, js, label) => '<button id=\"' + pre + '-' + id + '\" onclick=\"' + js + '\">' + label + '</button> ';\n"
"  return (s.state === 'live' ? btn('x', 'act(\\'' + id + '\\', \\'end\\')', 'end') : '') +\n"
"    (rec.state === 'finalized' ? 'from <input class=\"n\" id=\"s-' + id + '\" placeholder=\"0:00\"> to ' +\n"
"     '<input class=\"n\" id=\"e-' + id + '\" placeholder=\"end\"> ' + btn('p', 'publish(\\'' + id + '\\')', 'publish') : '') +\n"
"    (rec.published ? btn('u', 'act(\\'' + id + '\\', \\'unpublish\\')', 'unpublish') : '') +\n"
"    (s.source === 'api' ? btn('ed', 'edit(\\'' + id + '\\')', 'edit') +\n"
"      btn('d', 'act(\\'' + id + '\\', \\'delete\\')', 'delete') : '');\n"
"}\n"
"// a file the API gives with the token (a link cannot send it)\n"
"async function download(url, name) {\n"
"  const c = await fetch(url, { headers: { 'Authorization': 'Bearer ' + tok.value } }).catch(() => null);\n"
"  if (!c || !c.ok) { el('msg').textContent = name + ': ' + (c ? c.status : 'cannot reach Podium'); return; }\n"
"  const a = document.createElement('a');\n"
"  a.href = URL.createObjectURL(await c.blob());\n"
"  a.download = name;\n"
"  a.click();\n"
"  setTimeout(() => URL.revokeObjectURL(a.href), 10000);\n"
"}\n"
"// after the event: each talk's recording and how many watched\n"
"el('report').onclick = () => download('/api/v1/sessions?format=csv', 'sessions.csv');\n"
"// who registered to attend (access = registered), and the list as a\n"
"// spreadsheet: the file is read each time, so every 30 s at most\n"
"let regsAt = 0;\n"
"async function showRegistrations(j) {\n"
"  const p = el('regs');\n"
"  if (!j.organizer || !j.sessions.some(s => s.access === 'registered')) {\n"
"    p.textContent = '';\n"
"    regsAt = 0;         // the right token typed next: at once\n"
"    return;\n"
"  }\n"
"  if (Date.now() - regsAt < 30000) return;\n"
"  regsAt = Date.now();\n"
"  const auth = { headers: { 'Authorization': 'Bearer ' + tok.value } };\n"
"  const r = await fetch('/api/v1/registrations', auth).catch(() => null);\n"
"  const d = r && r.ok ? await r.json().catch(() => null) : null;\n"
"  if (!d) { regsAt = 0; return; }\n"
"  p.textContent = 'Registered attendees: ' + d.count + ' (' + d.emails + ' e-mail addresses) ';\n"
"  const b = document.createElement('button');\n"
"  b.id = 'regcsv';\n"
"  b.textContent = 'Download as CSV';\n"
"  b.onclick = () => download('/api/v1/registrations?format=csv', 'registrations.csv');\n"
"  p.appendChild(b);\n"
"  // after the event: their names and addresses go, their tokens keep working\n"
"  if (!d.count) return;\n"
"  const del = document.createElement('button');\n"
"  del.id = 'regdel';\n"
"  del.textContent = 'Delete the list';\n"
"  del.onclick = async () => {\n"
"    if (!confirm('Delete the names and e-mail addresses of all ' + d.count + ' registrations? ' +\n"
"                 'Download the CSV first if you need it. Attendees keep watching until their tokens expire.'))\n"
"      return;\n"
"    const r = await fetch('/api/v1/registrations', { method: 'DELETE', headers: auth.headers }).catch(() => null);\n"
"    const x = r && r.ok ? await r.json().catch(() => null) : null;\n"
"    el('msg').textContent = x ? 'Registrations deleted: ' + x.deleted + '.'\n"
"      : 'registrations: ' + (r ? r.status : 'cannot reach Podium');\n"
"    if (x) p.textContent = 'Registered attendees: 0 ';\n"
"  };\n"
"  p.appendChild(del);\n"
"}\n"
"// a disk that fills up leaves gaps in every recording: say so in time\n"
"function showDisk(d) {\n"
"  const p = el('disk');\n"
"  if (!d) { p.textContent = ''; return; }\n"
"  const gib = b => (b / 2 ** 30).toFixed(1) + ' GiB';\n"
"  // with nothing live, for one talk: a disk filled overnight shows before the first\n"
"  const left = 'about ' + (d.seconds_left < 3600 ? Math.floor(d.seconds_left / 60) + ' min'\n"
"                  : (d.seconds_left / 3600).toFixed(1) + ' h') + ' of recording ' +\n"
"    (d.rate_assumed ? 'for one talk at 3.3 Mb/s (nothing is being recorded now)'\n"
"      : 'at the ' + (d.recording_bps / 1e6).toFixed(2) + ' Mb/s being recorded now');\n"
"  p.textContent = 'Recording space: ' + gib(d.free_bytes) + ' free of ' + gib(d.total_bytes) +\n"
"    ' in ' + d.path + ', ' + left + '.';\n"
"  p.className = d.seconds_left < 3600 ? 'bad' : '';\n"
"}\n"
"// what the speaker sends, and what to ask them to change before the talk\n"
"let segDur = 2;\n"
"function media(m) {\n"
"  if (!m) return '';\n"
"  const v = m.video, a = m.audio, bad = t => '<span class=\"bad\">' + t + '</span>';\n"
"  const k = v && v.keyframe_interval_s;\n"
"  return '<br>' + (v ? esc(v.codec + ' ' + v.width + 'x' + v.height) +\n"
"      (v.fps ? ' ' + v.fps.toFixed(v.fps %% 1 ? 2 : 0) + ' fps' : '') +\n"
"      (k ? (k > segDur + 0.5 ? ', ' + bad('keyframe every ' + k.toFixed(1) + ' s: ask for ' +\n"
"            Math.max(1, Math.round(segDur)) + ' s') : ', keyframe every ' + k.toFixed(1) + ' s') : '') +\n"
"      (v.ask_for ? ', ' + bad('plays in some browsers only: ask for ' + esc(v.ask_for)) : '')\n"
"      : bad('no video')) + '<br>' +\n"
"    (a ? esc(a.codec + ' ' + (a.sample_rate / 1000) + ' kHz ' + (a.channels === 1 ? 'mono' :\n"
"         a.channels === 2 ? 'stereo' : a.channels + ' ch')) +\n"
"      (a.ask_for ? ', ' + bad('plays in some browsers only: ask for ' + esc(a.ask_for)) : '')\n"
"      : bad('no audio'));\n"
"}\n"
"// what went wrong lately (a speaker refused, a link dropping packets, an\n"
"// encoder's keyframes far apart), newest first: Podium's own log lines\n"
"let shownProblems = '';\n"
"function showProblems(lines) {\n"
"  lines = (lines || []).slice(-10).reverse();\n"
"  if (lines.join('\\n') === shownProblems) return;\n"
"  shownProblems = lines.join('\\n');\n"
"  el('problems-head').hidden = !lines.length;\n"
"  const ul = el('problems');\n"
"  ul.textContent = '';\n"
"  const field = /(\\w+)=(\"(?:[^\"\\\\]|\\\\.)*\"|\\S+)/g;\n"
"  for (const l of lines) {\n"
"    const f = {};\n"
"    for (const m of l.matchAll(field))\n"
"      f[m[1]] = m[2][0] === '\"' ? m[2].slice(1, -1).replace(/\\\\(.)/g, '$1') : m[2];\n"
"    const rest = l.replace(/^.*? msg=(\"(?:[^\"\\\\]|\\\\.)*\"|\\S+) ?/, '');\n"
"    const li = document.createElement('li');\n"
"    // a line naming no session is the server's own (a reload refused, a\n"
"    // stream id no session could be read from)\n"
"    li.textContent = new Date(f.ts).toLocaleTimeString() + ' ' + (f.session || 'Podium') + ': ' + f.msg +\n"
"      (rest ? ' (' + rest + ')' : '');\n"
"    if (f.level === 'error') li.className = 'bad';\n"
"    ul.appendChild(li);\n"
"  }\n"
"}\n"
"window.podium = { refreshes: 0 };\n"
"let lostSince = null;\n"
"async function refresh() {\n"
"  const conn = document.getElementById('conn'), rows = document.getElementById('rows');\n"
"  let r = null, j = null;\n"
"  try {\n"
"    r = await fetch('/api/v1/sessions', { headers: { 'Authorization': 'Bearer ' + tok.value } });\n"
"    j = await r.json();\n"
"  } catch (e) { /* said below */ }\n"
"  if (!j || !Array.isArray(j.sessions)) {\n"
"    // a table that silently stops changing passes for the live state\n"
"    lostSince = lostSince || new Date().toLocaleTimeString();\n"
"    conn.textContent = (r ? 'Podium answered ' + r.status : 'Cannot reach Podium') + ' since ' +\n"
"      lostSince + ': the table shows what it last knew; trying again.';\n"
"    rows.style.opacity = 0.4;\n"
"    return;\n"
"  }\n"
"  lostSince = null;\n"
"  conn.textContent = '';\n"
"  rows.style.opacity = '';\n"
"  if (j.srt_port) srtPort = j.srt_port;\n"
"  if (j.segment_duration) segDur = j.segment_duration;\n"
"  showDisk(j.disk);\n"
"  showRegistrations(j);\n"
"  showProblems(j.recent_problems);\n"

"  // a redrawn cell loses what is typed into it: keep that\n"
"  const kept = {}, focused = document.activeElement;\n"
"  document.querySelectorAll('#rows input').forEach(i => { if (i.value) kept[i.id] = i.value; });\n"
"  const focusId = focused && focused.closest && focused.closest('#rows') ? focused.id : null;\n"
"  document.getElementById('auth').textContent = j.organizer ? ''\n"
"    : tok.value ? 'Wrong admin token: you see what attendees see (no addresses, no unpublished recordings).'\n"
"    : 'Type the admin token to see speakers\\' addresses and unpublished recordings, and to act.';\n"
"  const listed = new Set();\n"
"  listedById = Object.fromEntries(j.sessions.map(s => [s.id, s]));\n"
"  // a conference has hundreds of sessions: what is live, then what comes\n"
"  // next, then what waits to be published, then the published\n"
"  const rank = { live: 0, scheduled: 1, ended: 2, recorded: 2, published: 3 };\n"
"  const when = s => s.starts ? Date.parse(s.starts) : Infinity;\n"
"  j.sessions.sort((a, b) => (rank[a.state] ?? 2) - (rank[b.state] ?? 2) || when(a) - when(b));\n"
"  j.sessions.forEach((s, n) => {\n"
"    const p = s.publisher, l = p && p.srt, rec = s.recording, x = rec.export;\n"
"    const link = l ? esc(l.rtt_ms.toFixed(1)) + ' ms / ' + l.packets_lost + ' / ' + l.packets_dropped : '';\n"
"    const bad = l && (l.packets_dropped > 0 || l.rtt_ms > 300);\n"
"    const cells = [\n"
"      '<a href=\"/watch/' + esc(s.id) + '\">' + esc(s.id) + '</a><br>' + esc(s.title) +\n"
"        (s.track ? '<br>' + esc(s.track) : '') +\n"
"        (s.starts ? '<br><time datetime=\"' + esc(s.starts) + '\">' + esc(s.starts) + '</time>' : '') +\n"
"        '<br><span class=\"url\">' + esc(speakerUrl(s.id, 'PASSPHRASE')) + '</span>',\n"
"      // a speaker missing at their slot is the organizer's to chase\n"
"      esc(s.state) + (s.state === 'scheduled' && s.starts && Date.now() > Date.parse(s.starts) + 60000\n"
"        ? '<br><span class=\"bad\">' + Math.round((Date.now() - Date.parse(s.starts)) / 60000) +\n"
"          ' min late, no speaker yet</span>' : ''),\n"
"      p ? esc(p.address || 'connected since ' + p.since.slice(11, 16) + ' UTC') + media(p.media) : '',\n"
"      p ? (s.bitrate_bps / 1e6).toFixed(2) + ' Mb/s' : '',\n"
"      bad ? '<span class=\"bad\">' + link + '</span>' : link,\n"
"      String(s.viewers) + (s.viewers_peak > s.viewers ? ' (peak ' + s.viewers_peak + ')' : ''),\n"
"      esc(rec.state) + ' ' + rec.duration.toFixed(0) + ' s' +\n"
"        (rec.gaps_total ? ' <span class=\"bad\">' + rec.gaps_total + ' gaps</span>' : '') +\n"
"        (x.state !== 'idle' ? '<br>export ' + esc(x.state) + ' ' + x.percent + '%%' : '') +\n"
"        // what goes to the video platform afterwards; public once published\n"
"        (rec.published && x.state === 'done' ? ' <a download href=\"/vod/' + esc(s.id) + '/' +\n"
"          esc(s.id) + '.mp4\">MP4</a>' : '') +\n"
"        (x.warning ? ' <span class=\"bad\">' + esc(x.warning) + '</span>' : ''),\n"
"      actions(s)];\n"
"    const rid = 'row-' + s.id;\n"
"    listed.add(rid);\n"
"    let tr = document.getElementById(rid);\n"
"    if (!tr) {\n"
"      tr = document.createElement('tr');\n"
"      tr.id = rid;\n"
"      cells.forEach(() => tr.appendChild(document.createElement('td')));\n"
"    }\n"
"    if (rows.children[n] !== tr) rows.insertBefore(tr, rows.children[n] || null);\n"
"    // only a cell that changed is redrawn: a button replaced between the\n"
"    // press and the release of a click (every 2 s while live) lost it\n"
"    cells.forEach((html, i) => {\n"
"      const td = tr.children[i];\n"
"      if (td.dataset.html !== html) { td.innerHTML = html; td.dataset.html = html; localTimes(td); }\n"
"    });\n"
"  });\n"
"  Array.from(rows.children).forEach(tr => { if (!listed.has(tr.id)) tr.remove(); });\n"
"  for (const id in kept) {\n"
"    const i = document.getElementById(id);\n"
"    if (i && i.value !== kept[id]) i.value = kept[id];\n"
"  }\n"
"  const f = focusId && document.getElementById(focusId);\n"
"  if (f && f !== document.activeElement) {\n"
"    f.focus();\n"
"    if (f.tagName === 'INPUT') f.setSelectionRange(f.value.length, f.value.length);\n"
"  }\n"
"  window.podium.refreshes++;\n"
"}\n"
"refresh();\n"
"setInterval(refresh, 2000);\n"
"</script></body></html>\n";

static enum MHD_Result organizer_page(struct http *h, struct MHD_Connection *c)
{
    char *site = site_name(h);
    struct MHD_Response *r = site ? text_response("text/html; charset=utf-8", organizer_html, site) : NULL;
    free(site);
    if (r) {
        MHD_add_response_header(r, "Cache-Control", "no-cache");
        /* its buttons end talks and delete recordings: no other site may
         * frame it under a decoy (clickjacking); the player page, which
         * organizers embed in their own site, may be framed */
        MHD_add_response_header(r, "X-Frame-Options", "DENY");
        MHD_add_response_header(r, "Content-Security-Policy", "frame-ancestors 'none'");
    }
    return reply(h, c, MHD_HTTP_OK, r);
}

static enum MHD_Result static_file(struct http *h, struct MHD_Connection *c, const char *name)
{
    static const char *const allowed[] = { "hls.min.js" };
    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
        if (strcmp(name, allowed[i]) == 0) {
            char path[PATH_MAX];
            snprintf(path, sizeof(path), "%s/%s", h->web_dir, name);
            return file_reply(h, c, path, SCRIPT_TYPE, SCRIPT_CACHE);
        }
    }
    return error_reply(h, c, MHD_HTTP_NOT_FOUND, "not found");
}

/* ---------------------------------------------------- organizer API */

static enum MHD_Result session_action(struct http *h, struct MHD_Connection *c,
                                      struct session *s, const char *action,
                                      const struct request *req)
{
    if (strcmp(action, "end") == 0) {
        int sock = session_publisher_sock(s);
        /* Nothing to end (ended, or never started). Kept, the request
         * would end the session's next publish the moment its publisher
         * left, close_after or not. */
        struct rec_stats rs;
        rec_get_stats(s->rec, &rs);
        if (sock == NO_PUBLISHER && !recording_live(s, &rs))
            return json_reply(h, c, session_json(h, s, true));
        log_msg(LV_INFO, s->id, "\"organizer ends the session\"");  /* before what it causes */
        session_hold_publishers(s);     /* before the kick: its encoder may be back at once */
        atomic_store(&s->end_requested, true);
        if (sock != NO_PUBLISHER)
            ingest_kick(sock);
        json_t *o = session_json(h, s, true);
        char *txt = json_dumps(o, JSON_REPLY);
        json_decref(o);
        if (!txt)
            return error_reply(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        struct MHD_Response *r = MHD_create_response_from_buffer(strlen(txt), txt,
                                                                 MHD_RESPMEM_MUST_FREE);
        if (!r) {
            free(txt);
            return MHD_NO;
        }
        MHD_add_response_header(r, "Content-Type", "application/json");
        return reply(h, c, MHD_HTTP_ACCEPTED, r);
    }
    if (strcmp(action, "publish") == 0) {
        double start = 0, end = 0;
        if (req->len > 0) {
            json_error_t jerr;
            json_t *j = json_loadb(req->body, req->len, 0, &jerr);
            if (!j || !json_is_object(j)) {
                json_decref(j);
                return field_error(h, c, "(body)", "must be a JSON object");
            }
            json_t *js = json_object_get(j, "start"), *je = json_object_get(j, "end");
            /* a misspelt "end" must not publish the untrimmed recording */
            const char *key, *field = NULL, *bad = NULL;
            json_t *v;
            char name[64];
            json_object_foreach(j, key, v) {
                if (strcmp(key, "start") != 0 && strcmp(key, "end") != 0) {
                    snprintf(name, sizeof(name), "%s", key);    /* key lives in j */
                    field = name;
                    bad = "unknown field";
                    break;
                }
            }
            if (!bad && js && !json_is_number(js))
                field = "start", bad = "must be a number of seconds";
            else if (!bad && je && !json_is_number(je))
                field = "end", bad = "must be a number of seconds";
            if (!bad) {
                start = js ? json_number_value(js) : 0;
                end = je ? json_number_value(je) : 0;
                if (start < 0)
                    field = "start", bad = "must be >= 0";
                else if (je && end <= start)
                    field = "end", bad = "must be greater than start";
            }
            json_decref(j);
            if (bad)
                return field_error(h, c, field, bad);
        }
        struct rec_stats rs;
        rec_get_stats(s->rec, &rs);
        if (!rs.exists)
            return error_reply(h, c, MHD_HTTP_CONFLICT, "nothing recorded yet");
        if (recording_live(s, &rs))
            return error_reply(h, c, MHD_HTTP_CONFLICT, "session still live: end it first");
        if (start >= rs.duration)
            return field_error(h, c, "start", "is beyond the recording");
        if (end > rs.duration)
            end = rs.duration;          /* the export says where it really ends */
        /* before the start: a short export may be done before it returns */
        bool wanted = atomic_exchange(&s->publish_wanted, true);
        if (export_start(s->exp, start, end) < 0) {
            atomic_store(&s->publish_wanted, wanted);
            return error_reply(h, c, MHD_HTTP_CONFLICT, "an export is already running");
        }
        return json_reply_code(h, c, session_json(h, s, true), MHD_HTTP_ACCEPTED);
    }
    if (strcmp(action, "unpublish") == 0) {
        char path[PATH_MAX];
        rec_path(s->rec, path, sizeof(path), "published");
        atomic_store(&s->publish_wanted, false);    /* a running export's too */
        unlink(path);
        atomic_store(&s->published, false);
        log_msg(LV_INFO, s->id, "\"recording unpublished\"");
        return json_reply(h, c, session_json(h, s, true));
    }
    if (strcmp(action, "recording") == 0) {      /* DELETE */
        struct rec_stats rs;
        rec_get_stats(s->rec, &rs);
        if (recording_live(s, &rs))
            return error_reply(h, c, MHD_HTTP_CONFLICT, "session still live: end it first");
        atomic_store(&s->publish_wanted, false);
        atomic_store(&s->published, false);
        /* before the files go: a running export would write its MP4 after
         * the delete, and a finished one's status would point at it */
        export_reset(s->exp);
        rec_delete(s->rec);
        store_set_peak(s->win, 0);      /* its audience went with it */
        return json_reply_code(h, c, session_json(h, s, true), MHD_HTTP_ACCEPTED);
    }
    return error_reply(h, c, MHD_HTTP_NOT_FOUND, "not found");
}

static void save_sessions(struct http *h)
{
    char *txt = registry_dump_api(h->reg);
    char path[PATH_MAX];
    if (!txt) {
        log_msg(LV_ERROR, NULL, "\"out of memory saving sessions\"");
        return;
    }
    snprintf(path, sizeof(path), "%s/sessions.json", h->cfg->data_dir);
    rec_writer_file(h->env.writer, path, txt, strlen(txt), false, 0600);
}

static json_t *parse_body(const struct request *req, json_error_t *err)
{
    if (!req->body || req->len == 0)
        return NULL;
    return json_loadb(req->body, req->len, JSON_REJECT_DUPLICATES, err);
}

static void free_conf_strings(struct session_conf *c)
{
    free(c->title);
    free(c->speakers);
    free(c->passphrase);
}

/* The session accepts the passphrase, but a speaker could not type it into
 * an srt:// URL: why (NULL: nothing to say) goes into the answer o
 * (returned) and the log. */
static json_t *passphrase_warning(const struct session *s, json_t *o, const char *why)
{
    if (why && o) {
        json_object_set_new(o, "warning", json_string(why));
        log_msg(LV_WARN, s->id, "\"%s\"", why);
    }
    return o;
}

static enum MHD_Result api_create(struct http *h, struct MHD_Connection *c,
                                  const struct request *req)
{
    json_error_t jerr;
    json_t *j = parse_body(req, &jerr);
    if (!json_is_object(j)) {
        json_decref(j);
        return field_error(h, c, "(body)", "must be a JSON object");
    }
    const char *id = json_string_value(json_object_get(j, "id"));
    if (!id || !config_valid_id(id)) {
        json_decref(j);
        return field_error(h, c, "id", "must be 1-40 of A-Z a-z 0-9 - _");
    }
    struct session_conf conf = { 0 };
    const char *field, *why;
    snprintf(conf.id, sizeof(conf.id), "%s", id);
    int r = session_conf_from_json(&conf, j, false, &field, &why);
    char fname[128];
    snprintf(fname, sizeof(fname), "%s", r < 0 ? field : "");  /* field lives in j */
    json_decref(j);
    if (r < 0) {
        enum MHD_Result ret = field_error(h, c, fname, why);
        free_conf_strings(&conf);
        return ret;
    }
    if (registry_find(h->reg, conf.id)) {
        free_conf_strings(&conf);
        return error_reply(h, c, MHD_HTTP_CONFLICT, "a session with this id exists");
    }
    struct session *s;
    char warning[256];
    bool warn = conf.passphrase
                && config_passphrase_warning(conf.passphrase, warning, sizeof(warning));
    int err = registry_add(h->reg, &conf, &s);
    free_conf_strings(&conf);
    if (err < 0)
        return error_reply(h, c, MHD_HTTP_CONFLICT, registry_strerror(err));
    save_sessions(h);
    log_msg(LV_INFO, s->id, "\"session created by the organizer API\"");
    return json_reply_code(h, c, passphrase_warning(s, session_json(h, s, true),
                                                    warn ? warning : NULL), MHD_HTTP_CREATED);
}

static enum MHD_Result api_update(struct http *h, struct MHD_Connection *c,
                                  struct session *s, const struct request *req)
{
    json_error_t jerr;
    json_t *j = parse_body(req, &jerr);
    if (!json_is_object(j)) {
        json_decref(j);
        return field_error(h, c, "(body)", "must be a JSON object");
    }
    const char *id = json_string_value(json_object_get(j, "id"));
    if (json_object_get(j, "id") && (!id || strcmp(id, s->id) != 0)) {
        json_decref(j);
        return field_error(h, c, "id", "cannot be changed");
    }
    struct session_info in;
    session_info(s, &in);
    struct session_conf conf = { .format = in.format, .starts = in.starts,
                                 .ingest_strict = in.ingest_strict };
    snprintf(conf.id, sizeof(conf.id), "%s", s->id);
    snprintf(conf.track, sizeof(conf.track), "%s", in.track);
    conf.title = strdup(in.title);
    conf.speakers = strdup(in.speakers);
    conf.passphrase = in.has_passphrase ? strdup(in.passphrase) : NULL;
    const char *field = "(body)", *why = "out of memory";
    bool json_passphrase = json_object_get(j, "passphrase") != NULL;
    int r = conf.title && conf.speakers ? session_conf_from_json(&conf, j, true, &field, &why) : -1;
    char fname[128];
    snprintf(fname, sizeof(fname), "%s", r < 0 ? field : "");  /* field lives in j */
    json_decref(j);
    if (r == 0 && session_update(s, &conf) < 0)
        r = -1;
    char warning[256];
    bool warn = r == 0 && json_passphrase && conf.passphrase
                && config_passphrase_warning(conf.passphrase, warning, sizeof(warning));
    free_conf_strings(&conf);
    if (r < 0)
        return field_error(h, c, fname, why);
    save_sessions(h);
    log_msg(LV_INFO, s->id, "\"session updated by the organizer API\"");
    return json_reply(h, c, passphrase_warning(s, session_json(h, s, true), warn ? warning : NULL));
}

static enum MHD_Result api_delete(struct http *h, struct MHD_Connection *c, struct session *s)
{
    int sock = session_publisher_sock(s);
    if (sock != NO_PUBLISHER)
        ingest_kick(sock);
    atomic_store(&s->end_requested, true);
    registry_remove(h->reg, s);
    /* Threads may still point at s, so it stays (session.h), but not its
     * media: the window's segments can be several MB. */
    store_window_retire(s->win);    /* also answers held playlist requests */
    pull_close_all(s->pull, "session deleted");
    atomic_store(&s->publish_wanted, false);
    atomic_store(&s->published, false);
    rec_discard(s->rec);            /* a new session with this id starts empty */
    save_sessions(h);
    log_msg(LV_INFO, s->id, "\"session deleted by the organizer API\"");
    struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    return reply(h, c, MHD_HTTP_NO_CONTENT, r);
}

static void registrations_path(const struct http *h, char *path, size_t len)
{
    snprintf(path, len, "%s/registrations.jsonl", h->cfg->data_dir);
}

static enum MHD_Result api_register(struct http *h, struct MHD_Connection *c,
                                    const struct request *req)
{
    if (h->cfg->access != ACCESS_REGISTERED)
        return error_reply(h, c, MHD_HTTP_NOT_FOUND, "registration is not enabled: access is open");
    if (req->too_large)
        return error_reply(h, c, MHD_HTTP_CONTENT_TOO_LARGE, "body too large");
    json_error_t jerr;
    json_t *j = parse_body(req, &jerr);
    if (!json_is_object(j)) {
        json_decref(j);
        return field_error(h, c, "(body)", "must be a JSON object with name and email");
    }
    json_t *jn = json_object_get(j, "name"), *je = json_object_get(j, "email");
    const char *name = json_string_value(jn), *email = json_string_value(je);
    const char *field = NULL, *why = NULL;
    if (!name || json_string_length(jn) == 0 || json_string_length(jn) > 200) {
        field = "name";
        why = "must be a string of 1 to 200 characters";
    } else if (!email || json_string_length(je) > 254 || !strchr(email, '@')
               || strchr(email, '@') == email || !strchr(strchr(email, '@'), '.')
               || strpbrk(email, " \t\r\n<>\"")) {
        field = "email";
        why = "must be an e-mail address";
    }
    if (field) {
        json_decref(j);
        return field_error(h, c, field, why);
    }
    uint8_t raw[TOKEN_REG_LEN / 2];
    char reg[TOKEN_REG_LEN + 1], tok[TOKEN_MAX];
    FILE *ur = fopen("/dev/urandom", "r");
    size_t got = ur ? fread(raw, 1, sizeof(raw), ur) : 0;
    if (ur)
        fclose(ur);
    time_t expiry = time(NULL) + TOKEN_TTL;
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(reg + 2 * i, 3, "%02x", raw[i]);
    if (got != sizeof(raw) || token_issue(h->env.secret, reg, expiry, tok, sizeof(tok)) < 0) {
        json_decref(j);
        return error_reply(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot issue a token");
    }
    json_t *rec = json_object();
    json_object_set_new(rec, "id", json_string(reg));
    json_object_set(rec, "name", jn);
    json_object_set(rec, "email", je);
    json_object_set_new(rec, "registered", json_integer((json_int_t)time(NULL)));
    json_object_set_new(rec, "expires", json_integer((json_int_t)expiry));
    char *line = json_dumps(rec, JSON_COMPACT);
    json_decref(rec);
    json_decref(j);
    if (line) {
        size_t n = strlen(line);
        char *withnl = realloc(line, n + 2);
        if (withnl) {
            withnl[n] = '\n';
            withnl[n + 1] = '\0';
            char path[PATH_MAX];
            registrations_path(h, path, sizeof(path));
            rec_writer_file(h->env.writer, path, withnl, n + 1, true, 0600);
        } else {
            free(line);
        }
    }
    log_msg(LV_INFO, NULL, "\"attendee registered\" registration=%s", reg);
    char when[32];
    iso_time(expiry, when, sizeof(when));
    json_t *o = json_object();
    json_object_set_new(o, "token", json_string(tok));
    json_object_set_new(o, "expires", json_string(when));
    return json_reply_code(h, c, o, MHD_HTTP_CREATED);
}

static int by_email(const void *a, const void *b)
{
    return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

/* How many different e-mail addresses (case aside) the registrations hold:
 * an attendee on a second browser registers again. */
static size_t unique_emails(json_t *list)
{
    size_t n = json_array_size(list), unique = 0;
    const char **emails = malloc((n ? n : 1) * sizeof(*emails));
    if (!emails)
        return 0;
    for (size_t i = 0; i < n; i++)
        emails[i] = json_string_value(json_object_get(json_array_get(list, i), "email"));
    qsort(emails, n, sizeof(*emails), by_email);
    for (size_t i = 0; i < n; i++)
        unique += i == 0 || strcasecmp(emails[i - 1], emails[i]) != 0;
    free(emails);
    return unique;
}

/* The registrations in data_dir/registrations.jsonl, as a new JSON array
 * the caller decrefs (empty when there is no file); a line that is not a
 * registration (the torn tail of a crash) is skipped, counted in *skipped
 * and logged. NULL when the file cannot be read (logged). */
static json_t *read_registrations(const struct http *h, size_t *skipped)
{
    char path[PATH_MAX];
    registrations_path(h, path, sizeof(path));
    FILE *in = fopen(path, "r");
    if (!in && errno != ENOENT) {
        log_msg(LV_ERROR, NULL, "\"cannot read the registrations\" path=%s err=\"%s\"", path,
                strerror(errno));
        return NULL;
    }
    json_t *list = json_array();
    size_t cap = 0;
    char *line = NULL;
    *skipped = 0;
    while (in && getline(&line, &cap, in) > 0) {
        json_t *r = json_loads(line, 0, NULL);
        json_t *name = json_object_get(r, "name"), *email = json_object_get(r, "email");
        json_t *at = json_object_get(r, "registered"), *until = json_object_get(r, "expires");
        if (!json_is_string(name) || !json_is_string(email) || !json_is_integer(at)
            || !json_is_integer(until) || !json_is_string(json_object_get(r, "id"))) {
            (*skipped)++;
            json_decref(r);
            continue;
        }
        char when[32], ends[32];
        iso_time((time_t)json_integer_value(at), when, sizeof(when));
        iso_time((time_t)json_integer_value(until), ends, sizeof(ends));
        json_array_append_new(list, json_pack("{s:O, s:O, s:O, s:s, s:s}", "id",
                                              json_object_get(r, "id"), "name", name, "email", email,
                                              "registered", when, "expires", ends));
        json_decref(r);
    }
    free(line);
    if (in)
        fclose(in);
    if (*skipped)
        log_msg(LV_WARN, NULL, "\"registrations: lines skipped, not registrations\" path=%s "
                "skipped=%zu", path, *skipped);
    return list;
}

static void registration_row(FILE *f, json_t *r)
{
    static const char *const keys[] = { "registered", "name", "email", "expires", "id" };
    const size_t n = sizeof(keys) / sizeof(keys[0]);
    for (size_t k = 0; k < n; k++)
        csv_field(f, json_string_value(json_object_get(r, keys[k])), k + 1 == n);
}

/* GET /api/v1/registrations: who registered to attend (access =
 * registered), for the organizer who wants to reach them without a shell on
 * the server. JSON, or a spreadsheet's CSV with ?format=csv. */
static enum MHD_Result api_registrations(struct http *h, struct MHD_Connection *c)
{
    if (!is_organizer(h, c))
        return error_reply(h, c, MHD_HTTP_UNAUTHORIZED, "organizer token required");
    const char *format = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format");
    bool csv = format && strcmp(format, "csv") == 0;
    if (format && !csv && strcmp(format, "json") != 0)
        return field_error(h, c, "format", "must be json or csv");
    size_t skipped;
    json_t *list = read_registrations(h, &skipped);
    if (!list)
        return error_reply(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot read the registrations");
    if (!csv) {
        json_t *o = json_pack("{s:I, s:I, s:I, s:o}", "count", (json_int_t)json_array_size(list),
                              "emails", (json_int_t)unique_emails(list),
                              "unreadable_lines", (json_int_t)skipped, "registrations", list);
        return json_reply(h, c, o);
    }
    return csv_reply(h, c, list, "registered,name,email,expires,id\r\n", registration_row,
                     "registrations.csv");
}

/* DELETE /api/v1/registrations: the attendees' names and e-mail addresses
 * go, as data protection wants once the event is over. The tokens already
 * issued hold none of them and keep working until they expire. The file is
 * emptied on the writer thread, after any registration queued before: 202,
 * with how many there were. */
static enum MHD_Result api_registrations_delete(struct http *h, struct MHD_Connection *c)
{
    size_t skipped;
    json_t *list = read_registrations(h, &skipped);
    char *empty = list ? malloc(1) : NULL;
    if (!empty) {
        json_decref(list);
        return error_reply(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot read the registrations");
    }
    size_t n = json_array_size(list);
    json_decref(list);
    char path[PATH_MAX];
    registrations_path(h, path, sizeof(path));
    rec_writer_file(h->env.writer, path, empty, 0, false, 0600);
    log_msg(LV_INFO, NULL, "\"registrations deleted by the organizer\" count=%zu unreadable_lines=%zu",
            n, skipped);
    return json_reply_code(h, c, json_pack("{s:I, s:I}", "deleted", (json_int_t)n,
                                           "unreadable_lines", (json_int_t)skipped),
                           MHD_HTTP_ACCEPTED);
}

/* The methods of the API resource at url (the Allow field), NULL when
 * there is no such resource. */
static const char *api_allow(const char *url)
{
    if (strcmp(url, "/api/v1/register") == 0)
        return ALLOW_POST;
    if (strcmp(url, "/api/v1/registrations") == 0)
        return "GET, HEAD, DELETE, OPTIONS";
    if (strcmp(url, "/api/v1/sessions") == 0)
        return "GET, HEAD, POST, OPTIONS";
    if (strncmp(url, "/api/v1/sessions/", 17) != 0 || !url[17] || url[17] == '/')
        return NULL;
    const char *slash = strchr(url + 17, '/');
    if (!slash)
        return "GET, HEAD, PATCH, DELETE, OPTIONS";
    const char *action = slash + 1;
    if (strcmp(action, "end") == 0 || strcmp(action, "publish") == 0
        || strcmp(action, "unpublish") == 0)
        return ALLOW_POST;
    if (strcmp(action, "recording") == 0)
        return "DELETE, OPTIONS";
    return NULL;
}

static bool allow_has(const char *allow, const char *method)
{
    size_t n = strlen(method);
    for (const char *p = allow; p; p = strchr(p, ',')) {
        p += *p == ',' ? 2 : 0;
        if (strncmp(p, method, n) == 0 && (p[n] == ',' || !p[n]))
            return true;
    }
    return false;
}

/* The Allow of the API resource at url (NULL: none); *code is 404 when
 * there is no such resource, 405 when it has no such method, else 0. */
static const char *api_route(const char *url, const char *method, unsigned *code)
{
    const char *allow = api_allow(url);
    *code = !allow ? MHD_HTTP_NOT_FOUND
            : !allow_has(allow, method) ? MHD_HTTP_METHOD_NOT_ALLOWED : 0;
    return allow;
}

static enum MHD_Result api_route_error(struct http *h, struct MHD_Connection *c, unsigned code,
                                       const char *allow)
{
    if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
        return method_not_allowed(h, c, allow);
    return error_reply(h, c, MHD_HTTP_NOT_FOUND, "not found");
}

/* POST/PATCH/DELETE under /api/. */
static enum MHD_Result api_write(struct http *h, struct MHD_Connection *c, const char *url,
                                 const char *method, const struct request *req)
{
    unsigned code;
    const char *allow = api_route(url, method, &code);
    if (code)
        return api_route_error(h, c, code, allow);
    if (strcmp(url, "/api/v1/register") == 0)
        return api_register(h, c, req);
    if (!is_organizer(h, c))
        return error_reply(h, c, MHD_HTTP_UNAUTHORIZED, "organizer token required");
    if (req->too_large)
        return error_reply(h, c, MHD_HTTP_CONTENT_TOO_LARGE, "body too large");
    if (strcmp(url, "/api/v1/sessions") == 0)
        return api_create(h, c, req);
    if (strcmp(url, "/api/v1/registrations") == 0)
        return api_registrations_delete(h, c);
    char id[CONFIG_ID_MAX];
    const char *rest = url + 17, *slash = strchr(rest, '/');
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
    if (n == 0 || n >= sizeof(id))
        return error_reply(h, c, MHD_HTTP_NOT_FOUND, "no such session");
    memcpy(id, rest, n);
    id[n] = '\0';
    struct session *s = config_valid_id(id) ? registry_find(h->reg, id) : NULL;
    if (!s)
        return error_reply(h, c, MHD_HTTP_NOT_FOUND, "no such session");
    if (!slash) {
        if (s->adhoc)
            return error_reply(h, c, MHD_HTTP_CONFLICT,
                               "ad-hoc session (Podium runs without a config file): "
                               "give sessions settings in a config file or create them "
                               "through the API");
        if (!s->from_api)
            return error_reply(h, c, MHD_HTTP_CONFLICT,
                               "session is defined in the config file: edit it there, then "
                               "reload it (SIGHUP: kill -HUP <podium's PID>)");
        return strcmp(method, "PATCH") == 0 ? api_update(h, c, s, req) : api_delete(h, c, s);
    }
    return session_action(h, c, s, slash + 1, req);
}

/* libmicrohttpd says something about every malformed request; ours take
 * their turn in the same budget */
static struct log_quota mhd_quota = LOG_CLIENT_QUOTA("http", 10, 10);

static enum MHD_Result count_host(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    (void)kind;
    (void)value;
    *(unsigned *)cls += strcasecmp(key, "Host") == 0;
    return MHD_YES;
}

/* RFC 9112 3.2: 400 for an HTTP/1.1 request without Host, and for any with
 * more than one (libmicrohttpd 0.9.75 lets both through). livesend hands
 * such requests over unanswered. */
static bool host_ok(struct MHD_Connection *c, const char *version)
{
    unsigned hosts = 0;
    MHD_get_connection_values(c, MHD_HEADER_KIND, count_host, &hosts);
    bool v11 = strcmp(version, MHD_HTTP_VERSION_1_1) == 0;
    if (hosts == 1 || (hosts == 0 && !v11))
        return true;
    if (log_quota_take(&mhd_quota, time(NULL)))
        log_client(LV_WARN, "\"http: %s request with %u Host headers refused (400)\"",
                v11 ? "HTTP/1.1" : "HTTP/1.0", hosts);
    return false;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version,
                               const char *upload_data, size_t *upload_size,
                               void **req_cls)
{
    struct http *h = cls;
    if (!*req_cls && !host_ok(c, version))
        return error_reply(h, c, MHD_HTTP_BAD_REQUEST, "one Host header is required (RFC 9112 3.2)");
    /* RFC 9112 3.2.2: the absolute form, as sent to a proxy, names the
     * same resource as its path */
    if (strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0) {
        const char *path = strchr(url + (url[4] == ':' ? 7 : 8), '/');
        url = path ? path : "/";
    }

    bool read = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool write = strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0
                 || strcmp(method, "PATCH") == 0 || strcmp(method, "DELETE") == 0;
    if (!write && *upload_size > 0) {
        /* A body means nothing to GET, HEAD or OPTIONS (RFC 9110 9.3):
         * read past it, and answer once it is all in. */
        *upload_size = 0;
        return MHD_YES;
    }
    if (write) {
        /* Collect the body (bounded) before answering. */
        struct request *req = *req_cls;
        if (!req) {
            req = calloc(1, sizeof(*req));
            if (!req)
                return MHD_NO;
            *req_cls = req;
            return MHD_YES;
        }
        if (*upload_size > 0) {
            if (!req->too_large && req->len + *upload_size <= MAX_BODY) {
                char *nb = realloc(req->body, req->len + *upload_size + 1);
                if (!nb)
                    return MHD_NO;
                req->body = nb;
                memcpy(req->body + req->len, upload_data, *upload_size);
                req->len += *upload_size;
                req->body[req->len] = '\0';
            } else {
                req->too_large = true;
            }
            *upload_size = 0;
            return MHD_YES;
        }
        if (strncmp(url, "/api/", 5) == 0)
            return api_write(h, c, url, method, req);
        return method_not_allowed(h, c, ALLOW_READ);
    }

    bool api = strncmp(url, "/api/", 5) == 0;
    if (!*req_cls && (read || strcmp(method, "OPTIONS") == 0)
        && !(read && strncmp(url, "/live/", 6) == 0))   /* live_reply defers itself */
        return defer_reply(h, req_cls);
    if (strcmp(method, "OPTIONS") == 0) {
        unsigned code = 0;
        const char *allow = api ? api_route(url, method, &code) : ALLOW_READ;
        if (code)
            return api_route_error(h, c, code, allow);
        struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL,
                                                                 MHD_RESPMEM_PERSISTENT);
        if (r) {
            MHD_add_response_header(r, "Access-Control-Allow-Methods", allow);
            MHD_add_response_header(r, "Access-Control-Allow-Headers",
                                    "Authorization, Content-Type, Range");
            MHD_add_response_header(r, "Access-Control-Max-Age", "86400");
            MHD_add_response_header(r, "Allow", allow);
        }
        return reply(h, c, MHD_HTTP_NO_CONTENT, r);
    }
    if (!read)
        return error_reply(h, c, MHD_HTTP_NOT_IMPLEMENTED, "method not implemented");

    if (strcmp(url, "/healthz") == 0)
        return reply(h, c, MHD_HTTP_OK, text_response("text/plain", "ok\n"));
    if (strcmp(url, "/") == 0)
        return home_page(h, c);
    if (strcmp(url, "/schedule.ics") == 0)
        return schedule_ics(h, c);
    if (strcmp(url, "/metrics") == 0)
        return metrics(h, c);
    if (strcmp(url, "/api/v1/sessions") == 0)
        return api_sessions(h, c, NULL);
    if (strncmp(url, "/api/v1/sessions/", 17) == 0 && !strchr(url + 17, '/'))
        return api_sessions(h, c, url + 17);
    if (strcmp(url, "/api/v1/registrations") == 0)
        return api_registrations(h, c);
    if (api) {
        unsigned code;
        const char *allow = api_route(url, method, &code);
        return api_route_error(h, c, code ? code : MHD_HTTP_NOT_FOUND, allow);
    }
    if (strncmp(url, "/live/", 6) == 0)
        return live_reply(h, c, url + 6, req_cls, strcmp(method, "GET") == 0);
    if (strncmp(url, "/vod/", 5) == 0)
        return vod_reply(h, c, url + 5);
    if (strcmp(url, "/organizer") == 0)
        return organizer_page(h, c);
    if (strncmp(url, "/watch/", 7) == 0)
        return watch_page(h, c, url + 7);
    if (strncmp(url, "/static/", 8) == 0)
        return static_file(h, c, url + 8);
    if (wants_html(c))
        return page_not_found(h, c, "No such page");
    return error_reply(h, c, MHD_HTTP_NOT_FOUND, "not found");
}

static void request_done(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)c; (void)toe;
    struct request *req = request_of(cls, req_cls);
    if (req) {
        if (req->win && req->waiting)
            store_cancel_wait(req->win, req);
        free(req->body);
        free(req);
    }
    *req_cls = NULL;
}

static int hexval(char ch)
{
    return ch >= '0' && ch <= '9' ? ch - '0'
           : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
           : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

/* Percent-decoding in place, except that "%00" stays as it is: a NUL would
 * cut the path short and "/live/x/0.ts%00.m3u8" would route as "0.ts". */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls; (void)c;
    char *w = s;
    for (const char *r = s; *r; r++) {
        int hi, lo;
        if (*r == '%' && (hi = hexval(r[1])) >= 0 && (lo = hexval(r[2])) >= 0
            && (hi | lo) != 0) {
            *w++ = (char)(hi * 16 + lo);
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

void http_log_tick(void)
{
    log_quota_tick(&mhd_quota, time(NULL));
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    if (!log_quota_take(&mhd_quota, time(NULL)))
        return;
    char raw[512], brief[160], msg[1024];
    vsnprintf(raw, sizeof(raw), fmt, ap);
    /* "Error processing request (HTTP response code is 400 ('<html>...
     * <title>Request malformed</title>...')). Closing connection.": the
     * code and the title say it */
    const char *text = raw;
    unsigned code;
    const char *t = strstr(raw, "<title>"), *te = t ? strstr(t, "</title>") : NULL;
    if (sscanf(raw, "Error processing request (HTTP response code is %u", &code) == 1 && te) {
        snprintf(brief, sizeof(brief), "bad request answered %u: %.*s", code, (int)(te - t - 7), t + 7);
        text = brief;
    }
    log_escape(msg, sizeof(msg), text, sizeof(raw));
    log_client(LV_WARN, "\"http: %s\"", msg);
}

/* The soft fd limit is often 1024 (systemd's default) while the hard one
 * allows MAX_CONNECTIONS: raise it, or say how many viewers fit. Every live
 * segment is a memfd too (about window + 1 per session, and one more for
 * each watched one's shared response). */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    const rlim_t want = MAX_CONNECTIONS + 4096;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    rlim_t cur = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        rl.rlim_cur = cur;
    if (rl.rlim_cur < want)
        log_msg(LV_WARN, NULL, "\"open file limit caps HTTP connections\" limit=%llu wanted=%llu",
                (unsigned long long)rl.rlim_cur, (unsigned long long)want);
}

/* ---------------------------------------------- livesend's hooks */

/* The first value of key in a query string, copied into out (size cap).
 * False when it is there but not as libmicrohttpd would decode it to the
 * same bytes (only [A-Za-z0-9._-]: tokens are hex and digits), or too
 * long; out is "" when it is absent. */
static bool query_value(const char *q, size_t len, const char *key, char *out, size_t cap)
{
    size_t kl = strlen(key);
    out[0] = '\0';
    for (size_t i = 0; q && i < len;) {
        size_t j = i;
        while (j < len && q[j] != '&')
            j++;
        if (j - i > kl && strncmp(q + i, key, kl) == 0 && q[i + kl] == '=') {
            size_t vl = j - i - kl - 1;
            const char *v = q + i + kl + 1;
            if (vl >= cap || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                       "0123456789._-") < vl)
                return false;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return true;
        }
        i = j + 1;
    }
    return true;
}

/* True when every parameter of the query string is key's. */
static bool query_only(const char *q, size_t len, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; q && i < len;) {
        size_t j = i;
        while (j < len && q[j] != '&')
            j++;
        if (j > i && (j - i <= kl || strncmp(q + i, key, kl) != 0 || q[i + kl] != '='))
            return false;
        i = j + 1;
    }
    return true;
}

static void free_text(void *opaque, uint8_t *data)
{
    (void)opaque;
    free(data);
}

/* text (malloc'd, len bytes) as a buffer that frees it; frees it on
 * failure. */
static AVBufferRef *text_buffer(char *text, size_t len)
{
    AVBufferRef *b = text && len ? av_buffer_create((uint8_t *)text, len, free_text, NULL, 0)
                                 : NULL;
    if (!b)
        free(text);
    return b;
}

/* The live playlist as live_reply answers a plain GET of it: a request
 * with any parameter but the token (_HLS_msn, _HLS_skip) is live_reply's.
 * token is the query's, "" when absent (token_of reads it so). */
static AVBufferRef *live_playlist(struct http *h, struct session *s, const struct livesend_req *r,
                                  const char *token, const char *auth, char *headers, size_t cap)
{
    if (!query_only(r->query, r->query_len, "token"))
        return NULL;
    AVBufferRef *pl = store_playlist(s->win);
    if (!pl)
        return NULL;
    const char *attendee = token_of(token, auth);
    if (h->cfg->access == ACCESS_REGISTERED && !admin_bearer(h, auth) && attendee) {
        size_t n;
        char *text = tokened_playlist(pl->data, pl->size, attendee, &n);
        av_buffer_unref(&pl);
        if (!(pl = text_buffer(text, n)))
            return NULL;
        snprintf(headers, cap, "Content-Type: " PLAYLIST_TYPE
                 "\r\nCache-Control: private, no-cache\r\n" REPLY_HEADERS);
    } else {
        char cache[64];
        live_playlist_cache(s, cache, sizeof(cache));
        snprintf(headers, cap, "Content-Type: " PLAYLIST_TYPE "\r\nCache-Control: %s\r\n"
                 REPLY_HEADERS, cache);
    }
    return pl;
}

/* A whole live segment, or the live playlist, a /live/ request may have.
 * Parts, init sections, refusals, held and delta playlists and segments
 * not in the window (404, or the recording's file) are left to
 * live_reply. */
static AVBufferRef *live_lookup(struct http *h, const struct livesend_req *r, char *headers,
                                size_t cap)
{
    char path[8 + CONFIG_ID_MAX + 32], token[TOKEN_MAX], auth[TOKEN_MAX + 16];
    if (r->path_len >= sizeof(path) || r->path_len < 6 || memcmp(r->path, "/live/", 6) != 0
        || r->authorization_len >= sizeof(auth)
        || !query_value(r->query, r->query_len, "token", token, sizeof(token)))
        return NULL;
    memcpy(path, r->path, r->path_len);
    path[r->path_len] = '\0';
    const char *file;
    struct session *s = session_of_path(h, path + 6, &file);
    if (!s || !s->win)
        return NULL;
    if (r->authorization) {
        memcpy(auth, r->authorization, r->authorization_len);
        auth[r->authorization_len] = '\0';
    }
    const char *authz = r->authorization ? auth : NULL;
    unsigned code;
    const char *why;
    if (!media_allowed(h, token, authz, &code, &why))
        return NULL;
    AVBufferRef *body = NULL;
    if (strcmp(file, "index.m3u8") == 0) {
        body = live_playlist(h, s, r, token, authz, headers, cap);
    } else if (file[0] >= '0' && file[0] <= '9') {
        bool fmp4 = h->cfg->hls_format == HLS_FORMAT_FMP4;
        char *end;
        errno = 0;
        unsigned long long seq = strtoull(file, &end, 10);
        if (errno || strcmp(end, fmp4 ? ".m4s" : ".ts") != 0)
            return NULL;
        body = store_segment(s->win, seq, true);    /* livesend answers GETs only */
        if (!body)
            return NULL;
        atomic_fetch_add_explicit(&h->segment_bytes, body->size, memory_order_relaxed);
        snprintf(headers, cap, "%s", fmp4 ? SEGMENT_HEADERS("video/mp4")
                                          : SEGMENT_HEADERS("video/mp2t"));
    }
    return body;
}

/* hls.min.js read whole, with the validators file_reply sends. */
static AVBufferRef *script_body(struct http *h, const char *name, char *etag, size_t etag_cap,
                                char *lm, size_t lm_cap)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", h->web_dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    AVBufferRef *b = NULL;
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0
        && st.st_size <= (8 << 20) && (b = av_buffer_alloc((size_t)st.st_size))) {
        size_t got = 0;
        ssize_t n = 1;
        while (got < (size_t)b->size && (n = pread(fd, b->data + got, b->size - got,
                                                    (off_t)got)) > 0)
            got += (size_t)n;
        if (got < (size_t)b->size)
            av_buffer_unref(&b);             /* shrank meanwhile: libmicrohttpd's */
        else
            file_validators(&st, etag, etag_cap, lm, lm_cap);
    }
    if (fd >= 0)
        close(fd);
    return b;
}

/* livesend's lookup: what a player's connection asks for (the home and
 * watch pages, hls.js, the session's JSON, the live playlist and its
 * segments) when the answer is a 200. Anything else, and the organizer's
 * requests (an Authorization header) outside /live/, is libmicrohttpd's. */
static AVBufferRef *player_lookup(void *cls, const struct livesend_req *r, char *headers,
                                  size_t cap)
{
    struct http *h = cls;
    AVBufferRef *body = NULL;
    char path[32 + CONFIG_ID_MAX];
    if (r->path_len >= 6 && memcmp(r->path, "/live/", 6) == 0) {
        body = live_lookup(h, r, headers, cap);
    } else if (!r->query && !r->authorization && r->path_len < sizeof(path)) {
        memcpy(path, r->path, r->path_len);
        path[r->path_len] = '\0';
        struct session *s = NULL;
        char *text = NULL;
        size_t len = 0;
        const char *lines = "Content-Type: " PAGE_TYPE "\r\nCache-Control: no-cache\r\n"
                            REPLY_HEADERS;
        if (strcmp(path, "/") == 0) {
            text = home_text(h, &len, NULL);
        } else if (strncmp(path, "/watch/", 7) == 0) {
            if (config_valid_id(path + 7) && (s = registry_find(h->reg, path + 7)))
                text = watch_text(h, s, &len);
        } else if (strncmp(path, "/api/v1/sessions/", 17) == 0) {
            if (config_valid_id(path + 17) && (s = registry_find(h->reg, path + 17))) {
                json_t *j = session_json(h, s, false);
                text = j ? json_dumps(j, JSON_REPLY) : NULL;
                len = text ? strlen(text) : 0;
                json_decref(j);
            }
            lines = "Content-Type: application/json\r\nCache-Control: no-store\r\n"
                    REPLY_HEADERS;
        } else if (strcmp(path, "/static/hls.min.js") == 0) {
            char etag[64], lm[64];
            body = script_body(h, "hls.min.js", etag, sizeof(etag), lm, sizeof(lm));
            if (body)
                snprintf(headers, cap, "Content-Type: " SCRIPT_TYPE "\r\nCache-Control: "
                         SCRIPT_CACHE "\r\nETag: %s\r\nLast-Modified: %s\r\n"
                         "Accept-Ranges: bytes\r\n" REPLY_HEADERS, etag, lm);
        }
        if (text && (body = text_buffer(text, len)))
            snprintf(headers, cap, "%s", lines);
    }
    if (body) {
        count_status(h, MHD_HTTP_OK);
        atomic_fetch_add_explicit(&h->livesend_responses, 1, memory_order_relaxed);
    }
    return body;
}

/* livesend's hand-over: MHD serves the connection from its next turn (ITC
 * wakes it), or closes it at the connection limit and says so. */
static void give_to_mhd(void *cls, int fd)
{
    struct http *h = cls;
    atomic_fetch_add_explicit(&h->conns_handed_over, 1, memory_order_relaxed);
    struct sockaddr_storage peer;
    socklen_t len = sizeof(peer);
    if (getpeername(fd, (struct sockaddr *)&peer, &len) != 0) {
        close(fd);                           /* reset by the peer meanwhile */
        return;
    }
    MHD_add_connection(h->daemon, fd, (struct sockaddr *)&peer, len);
}

/* The acceptor's callback: every connection starts with livesend. */
static void take_connection(void *cls, int fd, const struct sockaddr *peer, socklen_t len)
{
    struct http *h = cls;
    (void)peer; (void)len;
    atomic_fetch_add_explicit(&h->conns_accepted, 1, memory_order_relaxed);
    livesend_add(h->livesend, fd);
}

static void http_free(struct http *h)
{
    livesend_stop(&h->livesend);
    if (h->daemon)
        MHD_stop_daemon(h->daemon);
    pthread_mutex_destroy(&h->files_lock);
    pthread_mutex_destroy(&h->token_lock);
    free(h->admin_token);
    free(h->site);
    free(h->name);
    free(h);
}

/* Where the player's hls.min.js is: PODIUM_WEB_DIR; else beside an
 * installed binary (cmake --install: <prefix>/share/podium/web, wherever
 * the prefix was moved); else the source tree's npm folder it was built
 * from. Logged when none has it: every player page would fail. */
static void find_web_dir(char *out, size_t len)
{
    const char *wd = getenv("PODIUM_WEB_DIR");
    if (wd && *wd) {
        snprintf(out, len, "%s", wd);
        return;
    }
    char exe[PATH_MAX / 2], probe[PATH_MAX + 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe));
    char *slash = n > 0 && (size_t)n < sizeof(exe) ? (exe[n] = '\0', strrchr(exe, '/')) : NULL;
    if (slash) {
        *slash = '\0';
        snprintf(out, len, "%s/../share/podium/web", exe);
        snprintf(probe, sizeof(probe), "%s/hls.min.js", out);
        if (access(probe, R_OK) == 0)
            return;
    }
    snprintf(out, len, "%s", PODIUM_WEB_DIR_DEFAULT);
    snprintf(probe, sizeof(probe), "%s/hls.min.js", out);
    if (access(probe, R_OK) != 0)
        log_msg(LV_WARN, NULL, "\"player script hls.min.js not found: player pages will not play; "
                "set PODIUM_WEB_DIR, or install Podium with cmake --install\" looked_in=%s", out);
}

struct http *http_start(const struct config *cfg, struct registry *reg,
                        const struct http_env *env)
{
    struct http *h = calloc(1, sizeof(*h));
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
    struct addrinfo *res = NULL;
    char port[16];

    if (!h)
        return NULL;
    h->cfg = cfg;
    h->reg = reg;
    h->env = *env;
    h->started = time(NULL);
    pthread_mutex_init(&h->files_lock, NULL);
    pthread_mutex_init(&h->token_lock, NULL);
    h->admin_token = cfg->admin_token ? strdup(cfg->admin_token) : NULL;
    http_set_name(h, cfg->name);
    raise_fd_limit();
    find_web_dir(h->web_dir, sizeof(h->web_dir));
    snprintf(port, sizeof(port), "%d", cfg->http_listen.port);
    if (getaddrinfo(cfg->http_listen.host, port, &hints, &res) != 0 || !res) {
        log_msg(LV_ERROR, NULL, "\"cannot resolve http_listen\" addr=%s:%d",
                cfg->http_listen.host, cfg->http_listen.port);
        http_free(h);
        return NULL;
    }
    int lfd = acceptor_listen(res);
    freeaddrinfo(res);
    if (lfd < 0) {
        log_msg(LV_ERROR, NULL, "\"cannot listen for HTTP\" addr=%s:%d err=\"%s\"",
                cfg->http_listen.host, cfg->http_listen.port, strerror(errno));
        http_free(h);
        return NULL;
    }
    unsigned bound = acceptor_port(lfd);
    /* One event thread, as nginx's one worker, and no thread pool: with
     * two, connections split unevenly between the threads and the busier
     * half waits longer (p99 at 1,000 connections 1.3x worse on 2 cores,
     * req/s no better). It accepts nothing itself (acceptor.h says why).
     * ITC: resumes and added connections wake the poller at once. TURBO:
     * read and write before asking epoll, which mostly succeeds under
     * load. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG
                     | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC | MHD_USE_TURBO
                     | MHD_USE_NO_LISTEN_SOCKET;
    h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, handler, h,
                                 MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                                 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONN_TIMEOUT_S,
                                 MHD_OPTION_NOTIFY_COMPLETED, request_done, h,
                                 MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
                                 MHD_OPTION_END);
    struct livesend_hooks hooks = { .lookup = player_lookup, .hand_over = give_to_mhd, .cls = h };
    if (h->daemon)
        h->livesend = livesend_start(&hooks, CONN_TIMEOUT_S);
    if (h->livesend)
        h->acceptor = acceptor_start(lfd, take_connection, h);
    else
        close(lfd);
    if (!h->acceptor) {
        log_msg(LV_ERROR, NULL, "\"cannot start HTTP\" addr=%s:%d err=\"%s\"",
                cfg->http_listen.host, cfg->http_listen.port, strerror(errno));
        http_free(h);
        return NULL;
    }
    log_msg(LV_INFO, NULL, "\"listening\" proto=http addr=%s:%u", cfg->http_listen.host,
            bound ? bound : (unsigned)cfg->http_listen.port);
    return h;
}

void http_set_srt_port(struct http *h, int port)
{
    atomic_store(&h->srt_port, port);
}

void http_stop(struct http **ph)
{
    struct http *h = *ph;
    if (!h)
        return;
    /* Held requests are answered now; MHD closes what is left. */
    struct session *list[REGISTRY_MAX_SESSIONS];
    size_t n = registry_list(h->reg, list, REGISTRY_MAX_SESSIONS);
    for (size_t i = 0; i < n; i++)
        store_tick(list[i]->win, -1);
    acceptor_stop(&h->acceptor);
    livesend_stop(&h->livesend);       /* nothing is added to a stopped daemon */
    MHD_stop_daemon(h->daemon);
    h->daemon = NULL;
    for (size_t i = 0; i < SEG_FILES; i++)
        if (h->files[i].buf)
            drop_file(h, &h->files[i]);
    http_free(h);
    *ph = NULL;
}
