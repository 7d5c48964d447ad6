#!/usr/bin/env python3
"""What a player's connection asks for over HTTP/1.1, as livesend (a
connection that starts with such a GET) and libmicrohttpd (every other
connection) serve it, with access = registered:

- a fresh connection's segment GET with ?token= is answered by livesend (its
  Content-Length comes right after Date and Connection, where
  libmicrohttpd 0.9.75 puts it after the response's own lines) and matches what
  libmicrohttpd sends for the same segment on a connection that first asked
  for /healthz: same body, Content-Type, Content-Length, Cache-Control,
  Access-Control-Allow-Origin and Server;
- on one keep-alive connection: a segment with a Bearer token, then a
  segment that does not exist (404 JSON from libmicrohttpd), then a segment
  again (200), all on the same socket;
- without a token 401 (WWW-Authenticate), with a forged one 403, HEAD 200
  with Content-Length and no body: libmicrohttpd's answers, also as a
  connection's first request;
- two pipelined GETs in one write, the second with Connection: close: two
  whole responses, then the server closes;
- /metrics counts livesend's responses: podium_http_segment_bytes_total
  grows by the segment's size, 2xx and livesend_responses by one per GET;
  connections_total by each connection and connections_handed_over_total
  by each one whose first request is not livesend's (the /metrics ones);
- the playlist as a fresh connection's first GET is livesend's and matches
  libmicrohttpd's: with an attendee's ?token= (or Bearer), every URI line
  carries the token and Cache-Control is private, no-cache; with the
  organizer's Bearer it is the plain playlist with max-age; a playlist GET
  with _HLS_msn, or without a token (401), is libmicrohttpd's;
- what a player's connection asks first is livesend's too and matches
  libmicrohttpd's (header fields but Date, body): the home page, the watch
  page, hls.min.js (when installed) and the session's JSON (same fields,
  same stable values); the organizer's JSON, an unknown session's page, the
  session list and a page with a query are libmicrohttpd's."""
import http.client
import json
import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

SID = "talk"
PASS = "talk-passphrase-8812"
COMPARED = ("Content-Type", "Content-Length", "Cache-Control", "Access-Control-Allow-Origin", "Server")


def raw_responses(port, data, count, until_close=False):
    """Sends data on a new connection; reads count responses (header bytes,
    body) and, with until_close, waits for the server to close after them."""
    s = socket.create_connection(("127.0.0.1", port), timeout=h.scaled(10))
    buf = b""
    out = []
    try:
        s.sendall(data)
        deadline = time.monotonic() + h.scaled(10)
        closed = False
        while time.monotonic() < deadline:
            while len(out) < count and b"\r\n\r\n" in buf:
                head, rest = buf.split(b"\r\n\r\n", 1)
                m = re.search(rb"\r\nContent-Length: (\d+)\r\n", head + b"\r\n", re.I)
                h.check(m is not None, "response without Content-Length: %r" % head[:300])
                n = int(m.group(1))
                if len(rest) < n:
                    break
                out.append((head + b"\r\n\r\n", rest[:n]))
                buf = rest[n:]
            if len(out) == count and (closed or not until_close):
                break
            if closed:
                break
            chunk = s.recv(1 << 20)
            if not chunk:
                closed = True
                continue
            buf += chunk
        h.check(len(out) == count, "%d of %d responses within the deadline" % (len(out), count))
        h.check(buf == b"", "%d bytes after the last response" % len(buf))
        return out, closed
    finally:
        s.close()


def get_on(conn, path, headers=None):
    conn.request("GET", path, headers=headers or {})
    r = conn.getresponse()
    return r.status, dict(r.getheaders()), r.read()


def by_livesend(head):
    return re.match(rb"HTTP/1.1 200 OK\r\nDate: [^\r]*\r\n(Connection: close\r\n)?Content-Length: ",
                    head) is not None


def head_of(st, fields):
    """A response header again, from http.client's status and fields (in
    the order they came)."""
    return ("HTTP/1.1 %d OK\r\n%s" % (st, "".join("%s: %s\r\n" % kv for kv in fields.items()))).encode()


def mhd_get(conn, path, headers=None):
    """get_on for a request libmicrohttpd must answer (conn's first request
    was not livesend's)."""
    st, hd, body = get_on(conn, path, headers)
    h.check(not by_livesend(head_of(st, hd)), "%s was answered by livesend, not libmicrohttpd" % path)
    return st, hd, body


def livesend_fields(head):
    """The header fields of a response livesend sent."""
    h.check(by_livesend(head), "a fresh connection's GET was not answered by livesend: %r" % head[:300])
    return dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:] if ": " in line)


def same_fields(fields, mhd_headers, what):
    for name in COMPARED:
        h.check(fields.get(name) == mhd_headers.get(name),
                "%s %s: livesend %r, libmicrohttpd %r" % (what, name, fields.get(name), mhd_headers.get(name)))


def same_json(a, b):
    """Two answers for one session: the same fields and the same values
    where they do not move with the stream."""
    a, b = json.loads(a), json.loads(b)
    return sorted(a) == sorted(b) and all(a.get(k) == b.get(k) for k in
                                          ("id", "title", "state", "live_url", "access"))


def agree(port, path, headers, same=None):
    """livesend's answer to a fresh connection's GET of path and
    libmicrohttpd's (on a connection that first asked for /healthz) agree:
    the same body (or same(), and then any Content-Length) and the same
    header fields but Date; retried while a new segment lands between the
    two. The body."""
    extra = "".join("%s: %s\r\n" % kv for kv in headers.items())
    req = "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n" % (path, extra)
    for _ in range(5):
        [(head, body)], _ = raw_responses(port, req.encode(), 1)
        fields = livesend_fields(head)
        mhd = http.client.HTTPConnection("127.0.0.1", port, timeout=h.scaled(10))
        get_on(mhd, "/healthz")
        st, mhd_headers, mhd_body = mhd_get(mhd, path, headers)
        mhd.close()
        h.check(st == 200, "libmicrohttpd's %s -> %d" % (path, st))
        if same(body, mhd_body) if same else body == mhd_body:
            ours = {k: v for k, v in fields.items() if k != "Date"}
            theirs = {k: v for k, v in mhd_headers.items() if k != "Date"}
            if same:
                ours.pop("Content-Length")
                theirs.pop("Content-Length")
            h.check(ours == theirs, "%s header fields: livesend %r, libmicrohttpd %r"
                    % (path, ours, theirs))
            return body
    h.check(False, "livesend's and libmicrohttpd's %s differed 5 times in a row" % path)


def main(t):
    pod = t.podium({SID: {"title": "Talk", "passphrase": PASS}}, server_ini="access = registered")
    admin = pod.admin_auth()
    pub = pod.publish(SID, duration=40)
    seqs = []

    def listed():
        r = pod.get("/live/%s/index.m3u8" % SID, headers=admin)
        if r.status == 200:
            seqs[:] = h.Playlist(r.body.decode()).seqs()
        return len(seqs) >= 3
    h.wait_for(listed, 30, "3 segments listed")
    r = pod.request("POST", "/api/v1/register", data=b'{"name":"Ada","email":"ada@example.org"}',
                    headers={"Content-Type": "application/json"})
    h.check(r.status == 201, "register -> %d" % r.status)
    token = r.json()["token"]
    seg, seg2 = "/live/%s/%d.ts" % (SID, seqs[0]), "/live/%s/%d.ts" % (SID, seqs[1])
    q = "?token=" + token

    # libmicrohttpd: /healthz first, then the segment on that connection
    mhd = http.client.HTTPConnection("127.0.0.1", pod.http_port, timeout=h.scaled(10))
    st, _, _ = get_on(mhd, "/healthz")
    h.check(st == 200, "/healthz -> %d" % st)
    st, mhd_headers, mhd_body = mhd_get(mhd, seg + q)
    h.check(st == 200 and len(mhd_body) > 0, "segment after /healthz -> %d" % st)
    mhd.close()

    counters = ("podium_http_segment_bytes_total", 'podium_http_responses_total{status="2xx"}',
                "podium_http_livesend_responses_total", "podium_http_connections_total",
                "podium_http_connections_handed_over_total")
    bytes0, ok0, ls0, conns0, handed0 = pod.counters(*counters)
    req = "GET %s%s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % (seg, q)
    [(head, body)], _ = raw_responses(pod.http_port, req.encode(), 1)
    fields = livesend_fields(head)
    h.check(body == mhd_body, "livesend's body differs from libmicrohttpd's (%d vs %d bytes)"
            % (len(body), len(mhd_body)))
    same_fields(fields, mhd_headers, "segment")
    bytes1, ok1, ls1, conns1, handed1 = pod.counters(*counters)
    h.check(bytes1 - bytes0 == len(body), "segment bytes metric grew by %d, not %d"
            % (bytes1 - bytes0, len(body)))
    h.check(ok1 - ok0 == 2, "2xx responses grew by %d, not by one for livesend's answer and "
            "one for the first /metrics" % (ok1 - ok0))
    # the segment's connection and the second /metrics', counted before it answered
    h.check((ls1 - ls0, conns1 - conns0, handed1 - handed0) == (1, 2, 1),
            "livesend responses, connections, handed over grew by %d, %d, %d: not 1, 2, 1"
            % (ls1 - ls0, conns1 - conns0, handed1 - handed0))

    # keep-alive: livesend, then a 404 handed over, then libmicrohttpd
    conn = http.client.HTTPConnection("127.0.0.1", pod.http_port, timeout=h.scaled(10))
    st, hd, b2 = get_on(conn, seg2, {"Authorization": "Bearer " + token})
    h.check(st == 200 and len(b2) > 0 and by_livesend(head_of(st, hd)),
            "segment with a Bearer token -> %d %r" % (st, hd))
    sock = conn.sock
    st, hd, b404 = get_on(conn, "/live/%s/999999.ts%s" % (SID, q))
    h.check(st == 404 and b'"error"' in b404, "missing segment -> %d %r" % (st, b404[:100]))
    st, _, again = mhd_get(conn, seg + q)
    h.check(st == 200 and again == mhd_body, "segment after the 404 -> %d" % st)
    h.check(conn.sock is sock, "the keep-alive connection was not kept")
    conn.close()

    # refusals and HEAD as a connection's first request
    r = pod.get(seg)
    h.check(r.status == 401 and r.header("WWW-Authenticate"), "no token -> %d" % r.status)
    forged = token[:-1] + ("0" if token[-1] != "0" else "1")
    r = pod.get(seg + "?token=" + forged)
    h.check(r.status == 403, "forged token -> %d" % r.status)
    r = pod.request("HEAD", seg + q)
    h.check(r.status == 200 and r.body == b"" and r.header("Content-Length") == str(len(mhd_body)),
            "HEAD -> %d, Content-Length %r, %d body bytes" % (r.status, r.header("Content-Length"), len(r.body)))

    # pipelined, the second closing
    two = ("GET %s%s HTTP/1.1\r\nHost: a\r\n\r\n"
           "GET %s HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n"
           % (seg, q, seg2, token))
    out, closed = raw_responses(pod.http_port, two.encode(), 2, until_close=True)
    h.check(out[0][1] == mhd_body and out[1][1] == b2, "pipelined bodies differ")
    h.check(b"\r\nConnection: close\r\n" in out[1][0] and closed,
            "Connection: close was not honoured: %r, closed=%s" % (out[1][0][:300], closed))

    # playlists
    pl_path = "/live/%s/index.m3u8" % SID
    text = agree(pod.http_port, pl_path + q, {}).decode()
    uris = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    h.check(len(uris) >= 3 and all(u.endswith(q) for u in uris),
            "attendee playlist URIs without the token: %r" % uris[:3])
    agree(pod.http_port, pl_path, {"Authorization": "Bearer " + token})
    text = agree(pod.http_port, pl_path, admin).decode()
    h.check("token=" not in text, "the organizer's playlist carries a token")
    req = "GET %s%s&_HLS_msn=1 HTTP/1.1\r\nHost: a\r\n\r\n" % (pl_path, q)
    [(head, body)], _ = raw_responses(pod.http_port, req.encode(), 1)
    h.check(not by_livesend(head) and head.startswith(b"HTTP/1.1 200 OK\r\n") and b"#EXTM3U" in body,
            "a playlist GET with _HLS_msn was not libmicrohttpd's: %r" % head[:200])
    r = pod.get(pl_path)
    h.check(r.status == 401, "playlist without a token -> %d" % r.status)

    # what a player's connection asks before the playlist
    page = agree(pod.http_port, "/", {}).decode()
    h.check("/watch/%s" % SID in page, "the home page does not link the session")
    h.check(b"<video" in agree(pod.http_port, "/watch/%s" % SID, {}), "no player on the watch page")
    agree(pod.http_port, "/api/v1/sessions/%s" % SID, {}, same_json)
    if pod.get("/static/hls.min.js").status == 200:
        agree(pod.http_port, "/static/hls.min.js", {})
    else:
        h.note("no hls.min.js installed: its comparison skipped")
    for path, hdrs in (("/api/v1/sessions/%s" % SID, admin), ("/watch/nosuch", {}),
                       ("/api/v1/sessions", {}), ("/watch/%s?x=1" % SID, {})):
        extra = "".join("%s: %s\r\n" % kv for kv in hdrs.items())
        [(head, _)], _ = raw_responses(pod.http_port, ("GET %s HTTP/1.1\r\nHost: a\r\n%s\r\n"
                                                       % (path, extra)).encode(), 1)
        h.check(not by_livesend(head), "%s%s was livesend's: %r"
                % (path, " (organizer)" if hdrs else "", head[:200]))
    h.note("segment %d bytes; livesend and libmicrohttpd agree on it and on playlists"
           % len(mhd_body))
    pub.kill()
    pod.stop()


if __name__ == "__main__":
    h.run(main, tools=["ffmpeg", "ffprobe"])
