#!/usr/bin/env python3
"""Mutated HTTP requests against a live Podium: valid requests to every kind
of endpoint (live playlists, also with LL-HLS blocking-reload queries,
segments with Range, the recording, the organizer API with JSON bodies and
the admin token, registration, metrics) are mutated byte-wise (fixed PRNG
seed) and sent raw over loopback, 1,000 of them. Every answer must be an
HTTP/1.x status line with a status below 500 (or 501/505 for an unknown
method or HTTP version), never a server error; between batches
/healthz answers and the session still produces segments; at the end
Podium exits 0 on SIGTERM (under ASan: no error, no leak)."""
import os
import random
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

SID = "keynote"
REQUESTS = 1000
BATCH = 100
STATUS_RE = re.compile(rb"^HTTP/1\.[01] (\d{3}) ")
# the protocol's own answers to a method or version it does not know
PROTOCOL_5XX = (501, 505)
SPECIAL = b"\x00\xff\r\n :/?&=%#\"{}[],.-0987654321"


def seeds(pod, auth):
    tok = auth["Authorization"]
    body = (b'{"id":"fz-%d","title":"Fuzzed talk","speakers":["Ada","Alan"],"format":"panel",'
            b'"starts":"2026-11-27T10:00:00Z","passphrase":"0123456789ab","ingest_window":"open"}')

    def req(method, path, headers=(), data=b""):
        lines = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1:%d" % pod.http_port]
        lines += list(headers)
        if data:
            lines += ["Content-Type: application/json", "Content-Length: %d" % len(data)]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + data

    admin = ["Authorization: " + tok]
    return [
        req("GET", "/live/%s/index.m3u8" % SID),
        req("GET", "/live/%s/3.ts" % SID, ["Range: bytes=100-2000"]),
        req("HEAD", "/live/%s/2.ts" % SID),
        req("GET", "/live/%s/index.m3u8?_HLS_msn=4&_HLS_part=1&_HLS_skip=YES" % SID),
        req("GET", "/live/%s/3.1.m4s?token=x" % SID),
        req("GET", "/vod/%s/index.m3u8" % SID, ["If-None-Match: \"abc\""]),
        req("GET", "/vod/%s/1.ts" % SID, ["Range: bytes=-500"]),
        req("GET", "/api/v1/sessions/%s" % SID, admin),
        req("POST", "/api/v1/sessions", admin, body),
        req("PATCH", "/api/v1/sessions/fz-1", admin, b'{"title":"Moved","speakers":"A, B"}'),
        req("POST", "/api/v1/sessions/%s/publish" % SID, admin, b'{"start":1.5,"end":4}'),
        req("POST", "/api/v1/register", [], b'{"name":"Grace","email":"grace@example.org"}'),
        req("GET", "/watch/%s?token=0123456789abcdef.1900000000.%s" % (SID, "0" * 64)),
        req("GET", "/metrics"),
        req("DELETE", "/api/v1/sessions/fz-2", admin),
    ]


def mutate(rng, data, pool):
    b = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(6)
        at = rng.randrange(len(b) + 1)
        if op == 0 and b:
            b[min(at, len(b) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1 and b:
            b[min(at, len(b) - 1)] = SPECIAL[rng.randrange(len(SPECIAL))]
        elif op == 2:
            del b[at:at + rng.randint(1, 16)]
        elif op == 3:
            b[at:at] = bytes([SPECIAL[rng.randrange(len(SPECIAL))]]) * rng.choice((1, 8, 300, 9000))
        elif op == 4:
            other = rng.choice(pool)
            i = rng.randrange(len(other))
            b[at:at] = other[i:i + rng.randint(1, 64)]
        else:
            b = b[:at]
    return bytes(b)


def send(port, data, timeout=2.0):
    """The status of the first answer, or None when the server closed without
    one. A request the server is still waiting to complete (no blank line,
    a body shorter than its Content-Length) is ended by closing our side for
    writing, as a client that gives up does."""
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    got = b""
    try:
        s.sendall(data)
        s.settimeout(0.05)
        shut = False
        deadline = time.monotonic() + timeout
        while b"\r\n" not in got and len(got) < 64 and time.monotonic() < deadline:
            try:
                chunk = s.recv(4096)
            except socket.timeout:
                if not shut:
                    s.shutdown(socket.SHUT_WR)
                    shut = True
                continue
            if not chunk:
                break
            got += chunk
    except ConnectionError:
        pass
    finally:
        s.close()
    if not got:
        return None
    m = STATUS_RE.match(got)
    h.check(m is not None, "answer without an HTTP/1.x status line: %r\nto: %r" % (got[:80], data[:300]))
    return int(m.group(1))


def main(t):
    pod = t.podium({SID: {"title": "Keynote", "passphrase": "keynote-secret-9"}})
    pub = pod.publish(SID, duration=60)
    w = pod.watch(SID, allow_endlist=True)
    w.wait_segments(3, 20, "3 segments before fuzzing")
    auth = pod.admin_auth()
    pool = seeds(pod, auth)
    for s in pool:
        st = send(pod.http_port, s, timeout=2)
        h.check(st is not None and st < 500, "seed request answered %r: %r" % (st, s[:120]))

    started = time.monotonic()
    rng = random.Random(20261127)
    statuses = {}
    for n in range(REQUESTS):
        data = mutate(rng, rng.choice(pool), pool)
        st = send(pod.http_port, data)
        statuses[st] = statuses.get(st, 0) + 1
        h.check(st is None or st < 500 or st in PROTOCOL_5XX,
                "status %r for a mutated request: %r" % (st, data[:400]))
        if (n + 1) % BATCH == 0:
            pod.assert_running()
            h.check(pod.get("/healthz").status == 200, "/healthz after %d requests" % (n + 1))
    h.note("%d mutated requests, statuses: %s" % (REQUESTS, ", ".join(
        "%s x%d" % (k, v) for k, v in sorted(statuses.items(), key=lambda kv: str(kv[0])))))
    h.check(sum(v for k, v in statuses.items() if k is not None and k < 300) > 0,
            "no mutated request succeeded: the mutations never reach the handlers")
    h.check(sum(v for k, v in statuses.items() if k is not None and 400 <= k < 500) > 0,
            "no mutated request was refused: the mutations are not reaching the parsers")
    w.wait_segments(w.count() + 2, 20, "the session still producing segments")

    # libmicrohttpd's complaints are rate-limited: at most 10 lines per 10 s,
    # and a count of those left out
    mhd = [f for f in pod.log_records() if f.get("msg", "").startswith("http: ")]
    skipped = [f for f in mhd if f["msg"].startswith("http: messages not logged")]
    windows = (time.monotonic() - started) / 10 + 2
    h.check(len(mhd) - len(skipped) <= 10 * windows,
            "%d libmicrohttpd lines in %.0f s: not rate-limited" % (len(mhd) - len(skipped),
                                                                   time.monotonic() - started))
    h.check(skipped and all(int(f.get("count", "0")) > 0 for f in skipped),
            "no 'http: messages not logged ... count=N' line after %d requests" % REQUESTS)
    h.note("libmicrohttpd: %d lines logged, %d left out" % (
        len(mhd) - len(skipped), sum(int(f["count"]) for f in skipped)))
    h.check(not [f for f in mhd if "<html>" in f["msg"]],
            "libmicrohttpd's lines carry its HTML error pages: %r" % [f["msg"] for f in mhd if "<html>" in f["msg"]][:2])
    # the count of a window's left-out lines comes when it is over, not
    # only with the next bad request (none is sent after this burst)
    def counted():
        return len([f for f in pod.log_records() if f.get("msg", "").startswith("http: messages not logged")])
    for attempt in range(3):
        before = counted()
        for _ in range(25):      # more than a window logs
            st = send(pod.http_port, b"GET / HTTP/9.9\r\nHost: a\r\n\r\n")
            h.check(st == 505, "HTTP/9.9 request answered %r, expected 505" % st)
        if counted() == before:
            break                # all in one window: 15 or more left out, not yet counted
        # a window ended inside the burst (and counted the one before):
        # again, inside the window that just began
    h.wait_for(lambda: counted() > before or None, 13, "the count of the lines the last 10 s window left out, "
               "without another bad request")
    w.stop()                 # before SIGTERM: the watcher would see the server vanish
    pub.kill()
    pod.stop()


if __name__ == "__main__":
    h.run(main, tools=["ffmpeg", "ffprobe"])
