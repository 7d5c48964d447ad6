#!/usr/bin/env python3
"""HTTP semantics of DESIGN.md's paragraph after the HTTP table that no other
test asserts: CORS preflights, 431/414/405/501 on raw sockets, the
Cache-Control of a recording after ENDLIST, HEAD == GET without a body.

Every request goes on its own raw socket with `Connection: close` and is read
to EOF (http.client refuses some of them and hides what it was sent).

- CORS, for a player on another origin: a preflight (OPTIONS with Origin,
  Access-Control-Request-Method: GET, -Headers: range) of the live playlist,
  a live segment, a recording segment, /api/v1/sessions and
  /api/v1/sessions/<id> answers 2xx without a body, with
  Access-Control-Allow-Origin (`*`, or the origin and `Vary: Origin`),
  -Allow-Methods listing GET and -Allow-Headers listing Range; a GET of each
  with an Origin carries Access-Control-Allow-Origin; with access =
  registered the preflight needs no token (browsers send none) and allows
  the Authorization header, and the 401 of a GET without a token carries
  Access-Control-Allow-Origin (the player can tell "register" from a
  network error);
- 431 for a 32 KiB header field and for 300 header fields (on the playlist,
  and on a segment, whose first request a fresh connection's sender parses);
  414 for a 32 KiB path and a 32 KiB query; 405 with an Allow listing GET
  and HEAD (and not the method) for PUT/DELETE/POST/PATCH on GET-only paths
  (segment, recording playlist, /healthz, /metrics, /watch/<id>, /);
  501 for unknown methods (BREW, FROBNICATE, lower-case get); 400 for an
  HTTP/1.1 request without Host and any with two (RFC 9112 3.2: on the
  playlist, a segment, the API and the home page, with a warn line), while
  HTTP/1.0 needs none; podium keeps serving (/healthz, new segments);
- HEAD of a live segment, and of the published recording's playlist,
  segment and MP4: 200, every header field GET sends (but Date), equal
  values, no body; GET's body is Content-Length bytes;
- Cache-Control: an ended, unpublished recording fetched by the organizer
  (Bearer) is not storable by shared caches (private or no-store, never
  public), playlist and segment; once published its playlist (with
  #EXT-X-ENDLIST) is cacheable (max-age > 0, no no-store/no-cache/private)
  and its segments immutable with max-age >= 1 day.
- the requests a client may send and players do not (check_protocol_edges):
  a body on GET/HEAD/OPTIONS, keep-alive after early answers, the absolute
  form, Connection: close with bytes after it (lingering close), 304s.
- the organizer page sends X-Frame-Options: DENY and CSP frame-ancestors
  'none' (clickjacking); the player and conference pages may be framed;
- a 404 for /watch/<unknown id>, and for any other unknown path a browser
  asks for (Accept: text/html), is a page (text/html) with a heading and a
  link to the programme; API and media paths, and other clients, get JSON.
(The live playlist's max-age <= target/2 is asserted in test_publish_basic.)"""
import os
import socket
import sys
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import rec_util as ru  # noqa: E402

SID = "keynote"
REG_SID = "members"
ORIGIN = "https://player.example.org"
BIG = 32 * 1024
DAY = 86400


class Raw:
    def __init__(self, status, fields, body, head):
        self.status = status
        self.fields = fields      # lower-case name -> value (repeated ones joined by ", ")
        self.body = body
        self.head = head

    def get(self, name):
        return self.fields.get(name.lower())

    def __repr__(self):
        return "<%s, %d body bytes>" % (self.head.decode("latin-1").replace("\r\n", " | "), len(self.body))


def exchange(port, method, path, headers=(), body=b"", timeout=10, host=True, version="HTTP/1.1",
             trailing=b""):
    """One request on a new connection (Connection: close), read to EOF.
    host=False leaves out the Host field; trailing is sent after the request."""
    lines = (["%s %s %s" % (method, path, version)] + (["Host: 127.0.0.1:%d" % port] if host else [])
             + list(headers))
    if body:
        lines.append("Content-Length: %d" % len(body))
    lines.append("Connection: close")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body + trailing
    what = "%s %s" % (method, path[:60])
    buf = b""
    reset = False
    with socket.create_connection(("127.0.0.1", port), timeout=h.scaled(timeout)) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass    # answered and closed before all of a too large request was read
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                reset = True
                break   # the unread rest of a refused request resets the connection
            except socket.timeout:
                h.fail("%s: no end of the response within %.0f s, got %r" % (what, h.scaled(timeout), buf[:300]))
            if not chunk:
                break
            buf += chunk
    h.check(b"\r\n\r\n" in buf, "%s: no complete HTTP response, got %r" % (what, buf[:300]))
    head, rest = buf.split(b"\r\n\r\n", 1)
    status_line, *field_lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    h.check(len(parts) >= 2 and parts[0] in ("HTTP/1.0", "HTTP/1.1") and parts[1].isdigit(),
            "%s: bad status line %r" % (what, status_line))
    fields = {}
    for line in field_lines:
        name, sep, value = line.partition(":")
        h.check(sep and name and name == name.strip(), "%s: bad header line %r" % (what, line))
        key = name.lower()
        value = value.strip()
        fields[key] = fields[key] + ", " + value if key in fields else value
    r = Raw(int(parts[1]), fields, rest, head)
    r.reset = reset
    return r


def pipelined(port, requests, what, timeout=10):
    """Sends requests [(method, bytes)] at once on one connection and reads
    a response to each; returns them (head and body bytes) and whether the
    connection was still open after the last."""
    out, buf = [], b""
    with socket.create_connection(("127.0.0.1", port), timeout=h.scaled(timeout)) as s:
        s.sendall(b"".join(data for _, data in requests))
        for method, _ in requests:
            while True:
                if b"\r\n\r\n" in buf:
                    head = buf.split(b"\r\n\r\n", 1)[0]
                    end = len(head) + 4 + body_size(method, head)
                    if len(buf) >= end:
                        out.append(buf[:end])
                        buf = buf[end:]
                        break
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    h.fail("%s: response %d of %d not complete within %.0f s, got %r"
                           % (what, len(out) + 1, len(requests), h.scaled(timeout), buf[:300]))
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    h.fail("%s: connection closed after %d of %d responses (%r), then %r"
                           % (what, len(out), len(requests), [r.split(b"\r\n", 1)[0] for r in out], buf[:200]))
                buf += chunk
        s.settimeout(0.3)
        try:
            still_open = s.recv(1) != b""
        except socket.timeout:
            still_open = True
        except ConnectionResetError:
            still_open = False
    return out, still_open


def body_size(method, head):
    lines = head.decode("latin-1").lower().split("\r\n")
    if method == "HEAD" or lines[0][9:12] in ("204", "304"):
        return 0
    for line in lines[1:]:
        if line.startswith("content-length:"):
            return int(line.split(":", 1)[1])
    return 0


def status_of(resp):
    return int(resp[9:12])


def check_protocol_edges(pod, seg):
    """Requests a client may send and players do not: a body on GET, HEAD and
    OPTIONS (RFC 9110 9.3: read past it and answer); keep-alive kept after
    a CORS preflight of the live playlist and a 404 of an unknown live
    session (each preflight would cost a TCP connection); the absolute form
    (RFC 9112 3.2.2); a live segment asked with Connection: close and more
    bytes after it comes whole, ended by FIN, never cut by an RST (a lingering
    close, RFC 9112 9.6); a 304 carries no Content-Length but the 200's
    (RFC 9110 8.6)."""
    port = pod.http_port
    live = "/live/%s/index.m3u8" % SID
    host = "Host: 127.0.0.1:%d\r\n" % port
    healthz = ("GET", ("GET /healthz HTTP/1.1\r\n%s\r\n" % host).encode())
    with_body = [
        ("GET", "/healthz", "Content-Length: 5\r\n\r\nhello", 200),
        ("GET", live, "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 200),
        ("HEAD", "/healthz", "Content-Length: 5\r\n\r\nhello", 200),
        ("OPTIONS", "/api/v1/sessions", "Content-Length: 5\r\n\r\nhello", 204),
    ]
    for method, path, rest, want in with_body:
        what = "%s %s with a body (%s)" % (method, path, rest.split(":")[0])
        req = ("%s %s HTTP/1.1\r\n%s%s" % (method, path, host, rest)).encode()
        out, _ = pipelined(port, [(method, req), healthz], what)
        h.check(status_of(out[0]) == want and status_of(out[1]) == 200,
                "%s -> %r then %r, expected %d then /healthz 200 on the same connection"
                % (what, out[0][:60], out[1][:60], want))
        h.note("%s -> %d, keep-alive kept" % (what, want))
    for method, path, want in (("OPTIONS", live, 204), ("OPTIONS", "/live/%s/%d.ts" % (SID, seg), 204),
                               ("GET", "/live/nosuch/index.m3u8", 404)):
        what = "%s %s, then /healthz on the same connection" % (method, path)
        req = ("%s %s HTTP/1.1\r\n%sOrigin: %s\r\nAccess-Control-Request-Method: GET\r\n\r\n"
               % (method, path, host, ORIGIN)).encode()
        out, still_open = pipelined(port, [(method, req), healthz], what)
        h.check(status_of(out[0]) == want and status_of(out[1]) == 200 and still_open,
                "%s -> %r, %r, open %s: expected %d, 200, still open"
                % (what, out[0][:40], out[1][:40], still_open, want))
    for path in ("http://127.0.0.1:%d/healthz" % port, "http://127.0.0.1:%d%s" % (port, live)):
        r = exchange(port, "GET", path)
        h.check(r.status == 200, "GET %s (absolute form) -> %d, expected 200 as its path" % (path, r.status))
    h.note("absolute-form request targets -> 200")

    # the newest segment: the one main() picked may have left the window
    pl = exchange(port, "GET", live)
    newest = [line for line in pl.body.decode("latin-1").splitlines() if line.endswith(".ts")]
    h.check(pl.status == 200 and newest, "GET %s -> %d without segments" % (live, pl.status))
    seg_path = "/live/%s/%s" % (SID, newest[-1])
    for trailer in (healthz[1], b"\r\n"):
        for _ in range(3):
            r = exchange(port, "GET", seg_path, [], trailing=trailer)
            h.check(r.status == 200 and r.get("Content-Length") and len(r.body) == int(r.get("Content-Length"))
                    and not r.reset,
                    "GET %s with Connection: close and %r after it: %d, %d of %s body bytes%s"
                    % (seg_path, trailer[:20], r.status, len(r.body), r.get("Content-Length"),
                       ", ended by an RST" if r.reset else ""))
    h.note("Connection: close with bytes after the request: whole segment, FIN")

    for path in ("/static/hls.min.js", "/vod/%s/index.m3u8" % SID):
        for _ in range(5):
            r = exchange(port, "GET", path)
            h.check(r.status == 200 and r.get("ETag"), "GET %s -> %d, ETag %r" % (path, r.status, r.get("ETag")))
            nm = exchange(port, "GET", path, ["If-None-Match: " + r.get("ETag")])
            if nm.status != 200 or nm.get("ETag") == r.get("ETag"):
                break   # a 200 with a new ETag: the open recording grew in between
        h.check(nm.status == 304 and nm.body == b"", "GET %s If-None-Match -> %d, %d body bytes, expected 304"
                % (path, nm.status, len(nm.body)))
        h.check(nm.get("Content-Length") in (None, r.get("Content-Length")),
                "304 for %s carries Content-Length %r, the 200 has %r (RFC 9110 8.6)"
                % (path, nm.get("Content-Length"), r.get("Content-Length")))
        h.note("304 %s: Content-Length %r (200's %r)" % (path, nm.get("Content-Length"), r.get("Content-Length")))
    pod.assert_running()


def tokens(value):
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def cc_directives(r):
    return {d.split("=", 1)[0].strip().lower() for d in tokens(r.get("Cache-Control"))}


# ---------------------------------------------------------------- CORS

def check_allow_origin(r, what):
    acao = r.get("Access-Control-Allow-Origin")
    h.check(acao in ("*", ORIGIN), "%s: Access-Control-Allow-Origin %r, expected '*' or %r (%r)"
            % (what, acao, ORIGIN, r))
    if acao == ORIGIN:
        h.check("origin" in [v.lower() for v in tokens(r.get("Vary"))],
                "%s: Access-Control-Allow-Origin echoes the origin without Vary: Origin (%r)" % (what, r))


def check_preflight(port, path, request_headers="range", must_allow=("range",)):
    what = "preflight OPTIONS %s" % path
    r = exchange(port, "OPTIONS", path, ["Origin: " + ORIGIN, "Access-Control-Request-Method: GET",
                                         "Access-Control-Request-Headers: " + request_headers])
    h.check(200 <= r.status < 300, "%s -> %d, expected 2xx (%r)" % (what, r.status, r))
    h.check(r.body == b"", "%s: a body of %d bytes" % (what, len(r.body)))
    check_allow_origin(r, what)
    methods = tokens(r.get("Access-Control-Allow-Methods"))
    h.check("GET" in methods or "*" in methods, "%s: Access-Control-Allow-Methods %r does not allow GET"
            % (what, r.get("Access-Control-Allow-Methods")))
    allowed = [v.lower() for v in tokens(r.get("Access-Control-Allow-Headers"))]
    for name in must_allow:
        h.check(name in allowed or "*" in allowed, "%s: Access-Control-Allow-Headers %r does not allow %s"
                % (what, r.get("Access-Control-Allow-Headers"), name))


def check_cors_get(port, path, status=200, headers=()):
    r = exchange(port, "GET", path, ["Origin: " + ORIGIN] + list(headers))
    h.check(r.status == status, "GET %s with an Origin -> %d, expected %d (%r)" % (path, r.status, status, r))
    check_allow_origin(r, "GET %s (Origin, status %d)" % (path, status))
    return r


def check_cors(pod, paths):
    for path in paths:
        check_preflight(pod.http_port, path)
        check_cors_get(pod.http_port, path)
    h.note("CORS preflight + GET with Origin ok on %d paths" % len(paths))


def start_registered(t):
    """A second podium with access = registered and a publisher."""
    reg = t.podium({REG_SID: {"title": "Members only", "passphrase": "members-secret-42"}},
                   server_ini="access = registered")
    reg.pub = reg.publish(REG_SID, duration=30)
    return reg


def check_cors_registered(reg):
    def listed():
        reg.assert_running()
        r = reg.get("/live/%s/index.m3u8" % REG_SID, headers=reg.admin_auth())
        pl = h.Playlist(r.body.decode()) if r.status == 200 else None
        return pl if pl and pl.segments else None
    pl = h.wait_for(listed, 15, "a segment in the registered session's live playlist (organizer token)")
    seg = urlsplit(pl.segments[0].uri).path
    for path in ("/live/%s/index.m3u8" % REG_SID, "/live/%s/%s" % (REG_SID, seg), "/vod/%s/index.m3u8" % REG_SID):
        check_preflight(reg.http_port, path, "authorization, range", ("authorization", "range"))
        r = check_cors_get(reg.http_port, path, status=401)
        h.check(r.get("WWW-Authenticate"), "GET %s without a token: 401 without WWW-Authenticate" % path)
    reg.pub.kill()
    reg.stop()
    h.note("access = registered: preflights need no token, 401s carry Access-Control-Allow-Origin")


# ---------------------------------------------------------------- error codes

def check_error_codes(pod, seg):
    port = pod.http_port
    live = "/live/%s/index.m3u8" % SID
    seg_path = "/live/%s/%d.ts" % (SID, seg)
    many = ["X-Field-%03d: %s" % (i, "v" * 100) for i in range(300)]
    cases = [
        (431, "GET", live, ["X-Padding: " + "a" * BIG], "a 32 KiB header field"),
        (431, "GET", live, many, "300 header fields of 100 bytes"),
        (431, "GET", seg_path, ["X-Padding: " + "a" * BIG], "a 32 KiB header field on a segment"),
        (414, "GET", "/live/%s/%s/index.m3u8" % (SID, "p" * BIG), [], "a 32 KiB path"),
        (414, "GET", live + "?pad=" + "q" * BIG, [], "a 32 KiB query"),
        (501, "BREW", live, [], "an unknown method"),
        (501, "FROBNICATE", "/", [], "an unknown method"),
        (501, "get", "/healthz", [], "a lower-case method (methods are case-sensitive)"),
    ]
    for method, path in (("PUT", seg_path), ("DELETE", "/vod/%s/index.m3u8" % SID), ("POST", "/healthz"),
                         ("PATCH", "/metrics"), ("POST", "/watch/%s" % SID), ("DELETE", "/")):
        cases.append((405, method, path, [], "a method the path does not support"))
    hostless = []
    for path in (live, seg_path, "/api/v1/sessions", "/"):
        hostless.append((400, "GET", path, [], "HTTP/1.1 without Host"))
        hostless.append((400, "GET", path, ["Host: other.example"], "two Host fields"))
    hostless.append((400, "POST", "/api/v1/sessions", [], "HTTP/1.1 without Host"))
    for want, method, path, headers, why in cases + hostless:
        body = b"{}" if method in ("PUT", "POST", "PATCH") else b""
        r = exchange(port, method, path, headers, body, host=why != "HTTP/1.1 without Host")
        h.check(r.status == want, "%s %s (%s) -> %d, expected %d (%r)"
                % (method, path[:70], why, r.status, want, r))
        if want == 405:
            allow = tokens(r.get("Allow"))
            h.check("GET" in allow and "HEAD" in allow and method not in allow,
                    "%s %s -> 405 with Allow %r: expected GET and HEAD, not %s" % (method, path, r.get("Allow"), method))
        h.note("%s %s (%s) -> %d%s" % (method, path[:40], why, r.status,
                                      " Allow: %s" % r.get("Allow") if want == 405 else ""))
    r = exchange(port, "GET", "/healthz", host=False, version="HTTP/1.0")
    h.check(r.status == 200, "HTTP/1.0 GET /healthz without Host -> %d, expected 200 (Host is "
            "HTTP/1.1's)" % r.status)
    h.check(pod.log_lines_matching(lambda f, line: f.get("level") == "warn" and "2 Host headers" in f.get("msg", "")),
            "no warn line for the request with two Host fields")
    # an HTTP client's bad request is the client's problem, not the organizer's:
    # a scanner would push the speakers' refusals off the organizer page
    recent = pod.get("/api/v1/sessions", headers=pod.admin_auth()).json().get("recent_problems")
    h.check(recent is not None and not [l for l in recent if "http:" in l],
            "the organizer's recent_problems has the HTTP clients' bad requests: %r" % recent)
    h.check(pod.get("/healthz").status == 200, "/healthz after the bad requests is not 200")
    pod.assert_running()


def check_not_found_pages(pod):
    """A browser on a stale link gets a page with the way home; API and
    media paths keep their JSON errors, whatever the client accepts."""
    port = pod.http_port
    browser = ["Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"]
    for path, headers in (("/watch/nosuch", browser), ("/watch/nosuch", []), ("/nosuch", browser),
                          ("/watch/%s/extra" % SID, browser)):
        r = exchange(port, "GET", path, headers)
        what = "GET %s%s" % (path, " (browser)" if headers else "")
        h.check(r.status == 404, "%s -> %d, expected 404" % (what, r.status))
        h.check((r.get("Content-Type") or "").startswith("text/html"),
                "%s: 404 with Content-Type %r, expected a page (text/html)" % (what, r.get("Content-Type")))
        h.check(b'href="/"' in r.body and b"<h1>" in r.body,
                "%s: the 404 page has no heading or link to the programme: %r" % (what, r.body[:300]))
    json_cases = [("/nosuch", [])] + [(p, hd) for p in ("/api/v1/sessions/nosuch", "/live/nosuch/index.m3u8",
                                                         "/vod/nosuch/index.m3u8") for hd in ([], browser)]
    for path, headers in json_cases:
        r = exchange(port, "GET", path, headers)
        what = "GET %s%s" % (path, " (browser)" if headers else "")
        h.check(r.status == 404 and (r.get("Content-Type") or "").startswith("application/json")
                and b'"error"' in r.body, "%s -> %d %r %r, expected a 404 in JSON"
                % (what, r.status, r.get("Content-Type"), r.body[:200]))
    h.note("404s: pages for /watch/<unknown> and browsers, JSON for API, media and other clients")


# ---------------------------------------------------------------- HEAD, Cache-Control

def check_head_like_get(port, path, headers=()):
    """HEAD answers GET's status and header fields (but Date), and no body; returns the GET."""
    g = exchange(port, "GET", path, headers)
    hd = exchange(port, "HEAD", path, headers)
    h.check(g.status == 200 and hd.status == 200, "GET %s -> %d, HEAD -> %d, expected 200 both"
            % (path, g.status, hd.status))
    h.check(g.get("Content-Length") is not None and int(g.get("Content-Length")) == len(g.body),
            "GET %s: Content-Length %r, %d body bytes" % (path, g.get("Content-Length"), len(g.body)))
    h.check(hd.body == b"", "HEAD %s returned a body of %d bytes" % (path, len(hd.body)))
    gf = {k: v for k, v in g.fields.items() if k != "date"}
    hf = {k: v for k, v in hd.fields.items() if k != "date"}
    diff = sorted(k for k in set(gf) | set(hf) if gf.get(k) != hf.get(k))
    h.check(not diff, "HEAD %s differs from GET in %s:\n  GET  %r\n  HEAD %r"
            % (path, ", ".join("%s (%r vs %r)" % (k, gf.get(k), hf.get(k)) for k in diff), g, hd))
    return g


def check_not_shared(r, what):
    d = cc_directives(r)
    h.check("public" not in d and ("private" in d or "no-store" in d),
            "%s: Cache-Control %r lets a shared cache keep what only organizers may see "
            "(expected private or no-store, never public)" % (what, r.get("Cache-Control")))


def check_recording(t, pod, folder):
    port = pod.http_port
    r = ru.post(pod, SID, "end")
    h.check(r.status == 202, "POST .../end -> %d, expected 202: %r" % (r.status, r.body[:200]))
    ru.wait_finalized(pod, SID, 10)
    text = ru.disk_text(pod, SID)
    pl = ru.check_rec_playlist(text, "recording after end", folder=folder, ended=True)
    seg = "/vod/%s/%s" % (SID, pl.segments[0].uri)
    vod = "/vod/%s/index.m3u8" % SID
    mp4 = "/vod/%s/%s.mp4" % (SID, SID)
    auth = ["Authorization: " + ru.AUTH["Authorization"]]

    # ended, unpublished: the organizer's copy must not land in a shared cache
    r = exchange(port, "GET", vod, auth)
    h.check(r.status == 200 and b"#EXT-X-ENDLIST" in r.body, "GET %s (organizer) -> %d, ENDLIST %s"
            % (vod, r.status, b"#EXT-X-ENDLIST" in r.body))
    check_not_shared(r, "unpublished recording playlist (organizer)")
    check_not_shared(exchange(port, "GET", seg, auth), "unpublished recording segment (organizer)")
    h.check(exchange(port, "GET", seg).status == 404, "unpublished recording segment without token is not 404")

    r = ru.post(pod, SID, "publish")
    h.check(r.status == 202, "POST .../publish -> %d, expected 202: %r" % (r.status, r.body[:200]))
    h.wait_for(lambda: pod.api(SID).get("recording", {}).get("published") is True, 30,
               "recording.published true (attendee's JSON)")

    g = check_head_like_get(port, vod)
    h.check(b"#EXT-X-ENDLIST" in g.body, "published recording playlist without #EXT-X-ENDLIST:\n%s"
            % g.body.decode(errors="replace"))
    cc = g.get("Cache-Control")
    d = cc_directives(g)
    h.check((h.max_age(cc) or 0) > 0 and not d & {"no-store", "no-cache", "private"},
            "published recording playlist (ENDLIST) Cache-Control %r: expected cacheable (max-age > 0, "
            "no no-store/no-cache/private)" % cc)
    h.note("published recording playlist: Cache-Control %r" % cc)
    for path in [seg] + ["/vod/%s/%s" % (SID, s.uri) for s in pl.segments[-1:]]:
        g = check_head_like_get(port, path)
        cc = g.get("Cache-Control")
        h.check("immutable" in cc_directives(g) and (h.max_age(cc) or 0) >= DAY,
                "published recording segment %s Cache-Control %r: expected immutable, max-age >= %d"
                % (path, cc, DAY))
        with open(os.path.join(folder, os.path.basename(path)), "rb") as f:
            h.check(g.body == f.read(), "GET %s: body differs from the file on disk" % path)
    h.note("published recording segments: Cache-Control %r" % cc)
    g = check_head_like_get(port, mp4)
    h.check(g.get("Content-Type") == "video/mp4", "GET %s Content-Type %r" % (mp4, g.get("Content-Type")))


def check_framing(pod):
    """The organizer page (its buttons end talks) may not be framed by
    another site; the player page, which organizers embed, may."""
    r = pod.get("/organizer")
    h.check(r.header("X-Frame-Options") == "DENY"
            and "frame-ancestors 'none'" in (r.header("Content-Security-Policy") or ""),
            "/organizer: X-Frame-Options %r, CSP %r; expected DENY and frame-ancestors 'none'"
            % (r.header("X-Frame-Options"), r.header("Content-Security-Policy")))
    for path in ("/watch/%s" % SID, "/"):
        r = pod.get(path)
        h.check(r.status == 200 and not r.header("X-Frame-Options")
                and "frame-ancestors" not in (r.header("Content-Security-Policy") or ""),
                "%s may not be framed (X-Frame-Options %r): organizers embed the player"
                % (path, r.header("X-Frame-Options")))


def main(t):
    pod = ru.podium(t, {SID: {"title": "Keynote", "passphrase": "keynote-secret-123"}}, close_after=30)
    reg = start_registered(t)
    folder = ru.rec_dir(pod, SID)
    pod.publish(SID, duration=60)
    w = pod.watch(SID, allow_endlist=True)
    w.wait_segments(3, 20, "3 live segments")
    check_cors_registered(reg)

    pl, _, _ = w.snapshot()
    seg = pl.segments[-1].seq
    rec_seg = ru.disk_segments(pod, SID)[0]
    check_cors(pod, ["/live/%s/index.m3u8" % SID, "/live/%s/%d.ts" % (SID, seg),
                     "/vod/%s/%d.ts" % (SID, rec_seg), "/api/v1/sessions", "/api/v1/sessions/%s" % SID])
    check_error_codes(pod, seg)
    check_protocol_edges(pod, seg)
    check_not_found_pages(pod)
    check_framing(pod)
    before = w.newest()
    h.wait_for(lambda: (w.newest() or 0) > before, 10, "a new live segment after the bad requests")

    g = check_head_like_get(pod.http_port, "/live/%s/%d.ts" % (SID, seg))
    h.check(g.get("Content-Type") == "video/mp2t", "live segment Content-Type %r" % g.get("Content-Type"))
    h.note("HEAD == GET (but Date, no body) for live segment %d.ts" % seg)

    check_recording(t, pod, folder)
    w.stop()
    w.assert_ok()


if __name__ == "__main__":
    h.run(main)
