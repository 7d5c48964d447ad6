#!/usr/bin/env python3
"""One ffmpeg publisher over SRT -> live HLS: playlist, segments, headers, API."""
import datetime
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

SID = "keynote"
SEG = 1.0
GOP = 1.0


def check_headers(pod, path, ctype, playlist_target=None):
    """GET and HEAD agree; Content-Type, Cache-Control, CORS are right."""
    g = pod.get(path)
    h.check(g.status == 200, "GET %s -> %d, expected 200" % (path, g.status))
    hd = pod.request("HEAD", path)
    h.check(hd.status == 200, "HEAD %s -> %d, expected 200" % (path, hd.status))
    h.check(hd.body == b"", "HEAD %s returned a body of %d bytes" % (path, len(hd.body)))
    for r, m in ((g, "GET"), (hd, "HEAD")):
        h.check(r.header("Content-Type") == ctype,
                "%s %s Content-Type %r, expected %r" % (m, path, r.header("Content-Type"), ctype))
        h.check(r.header("Access-Control-Allow-Origin") == "*",
                "%s %s Access-Control-Allow-Origin %r, expected '*'"
                % (m, path, r.header("Access-Control-Allow-Origin")))
        cc = r.header("Cache-Control")
        h.check(cc, "%s %s has no Cache-Control" % (m, path))
        if playlist_target is not None:
            age = h.max_age(cc)
            ok = (age is not None and age <= playlist_target / 2.0) or \
                 (age is None and ("no-cache" in cc or "no-store" in cc))
            h.check(ok, "%s %s Cache-Control %r: live playlist max-age must be <= target/2 = %.1f"
                    % (m, path, cc, playlist_target / 2.0))
        else:
            h.check("immutable" in cc and (h.max_age(cc) or 0) >= 3600,
                    "%s %s Cache-Control %r: segments must be immutable with a long max-age" % (m, path, cc))
    cl = hd.header("Content-Length")
    if cl is not None and path.endswith(".ts"):
        # segments are immutable, so HEAD and GET must agree on the length
        h.check(int(cl) == len(g.body), "HEAD %s Content-Length %s but GET returned %d bytes"
                % (path, cl, len(g.body)))
    return g


def main(t):
    pod = t.podium({SID: {"title": "Opening keynote", "passphrase": "keynote-secret-123"},
                    "later": {"title": "Later talk", "passphrase": "later-secret-4567"}},
                   segment_duration=SEG, window=6)

    # Before anyone publishes.
    r = pod.get("/live/%s/index.m3u8" % SID)
    h.check(r.status == 404, "playlist before first segment -> %d, expected 404" % r.status)
    j = pod.api(SID)
    h.check(j.get("id") == SID, "API id %r, expected %r" % (j.get("id"), SID))
    h.check(j.get("title") == "Opening keynote", "API title %r" % j.get("title"))
    h.check(j.get("live") is False, "API live=%r before publishing, expected false" % j.get("live"))
    h.check(j.get("publisher", "missing") is None, "API publisher=%r before publishing, expected null"
            % j.get("publisher", "missing"))
    h.check(j.get("state") == "scheduled", "API state %r before publishing, expected scheduled" % j.get("state"))
    lst = pod.get("/api/v1/sessions")
    h.check(lst.status == 200, "GET /api/v1/sessions -> %d" % lst.status)
    h.check("json" in (lst.header("Content-Type") or ""), "API Content-Type %r" % lst.header("Content-Type"))
    ids = sorted(s.get("id") for s in lst.json().get("sessions", []))
    h.check(ids == ["keynote", "later"], "GET /api/v1/sessions ids %r, expected ['keynote', 'later']" % ids)

    pub = pod.publish(SID, duration=10, gop=int(30 * GOP))
    w = pod.watch(SID)
    w.wait_segments(3, 20, "first 3 segments of the live playlist")

    # While live: API.
    def live_api():
        j = pod.api(SID)
        return j if (j.get("live") is True and (j.get("bitrate_bps") or 0) > 0
                     and (j.get("segments") or 0) > 0) else None
    j = h.wait_for(live_api, 8, "API live=true, bitrate_bps>0, segments>0")
    h.check(j.get("state") == "live", "API state %r while publishing, expected live" % j.get("state"))
    pubinfo = j.get("publisher")
    h.check(isinstance(pubinfo, dict), "API publisher %r while publishing, expected an object" % pubinfo)
    # the address is the speaker's IP: organizers only
    h.check("address" not in pubinfo, "API shows the publisher's address %r to an attendee"
            % pubinfo.get("address"))
    listed = [s for s in pod.get("/api/v1/sessions").json().get("sessions", []) if s.get("id") == SID]
    h.check(len(listed) == 1 and "address" not in (listed[0].get("publisher") or {}),
            "GET /api/v1/sessions shows the publisher's address to an attendee: %r" % listed)
    pubinfo = pod.api(SID, organizer=True).get("publisher") or {}
    addr = pubinfo.get("address", "")
    h.check(addr.startswith("127.0.0.1:") and addr.split(":")[1].isdigit() and int(addr.split(":")[1]) > 0,
            "API publisher.address %r, expected 127.0.0.1:PORT" % addr)
    try:
        since = h.parse_pdt(pubinfo.get("since", ""))
    except ValueError as e:
        h.fail("API publisher.since: %s" % e)
    now = datetime.datetime.now(datetime.timezone.utc)
    h.check(abs((now - since).total_seconds()) < 60, "API publisher.since %s is not about now (%s)"
            % (pubinfo.get("since"), now.isoformat()))
    for k in ("bitrate_bps", "segments", "media_sequence", "target_duration", "discontinuities"):
        h.check(isinstance(j.get(k), int) and not isinstance(j.get(k), bool),
                "API %s=%r, expected an integer" % (k, j.get(k)))
    h.check(j["discontinuities"] == 0, "API discontinuities=%d, expected 0" % j["discontinuities"])
    h.check(j["bitrate_bps"] < 50_000_000, "API bitrate_bps=%d is implausible" % j["bitrate_bps"])
    lst = pod.get("/api/v1/sessions").json().get("sessions", [])
    k = [s for s in lst if s.get("id") == SID]
    h.check(k and k[0].get("live") is True, "GET /api/v1/sessions does not show %s live: %r" % (SID, k))

    # While live: headers of playlist and a segment, GET vs HEAD.
    pl, _, _ = w.snapshot()
    h.check(j["target_duration"] == pl.target, "API target_duration %d != playlist TARGETDURATION %d"
            % (j["target_duration"], pl.target))
    check_headers(pod, "/live/%s/index.m3u8" % SID, "application/vnd.apple.mpegurl", playlist_target=pl.target)
    check_headers(pod, "/live/%s/%d.ts" % (SID, pl.segments[-1].seq), "video/mp2t")

    # Errors.
    for path in ("/live/nosuch/index.m3u8", "/live/nosuch/0.ts", "/api/v1/sessions/nosuch",
                 "/live/later/index.m3u8", "/live/%s/999999.ts" % SID):
        r = pod.get(path)
        h.check(r.status == 404, "GET %s -> %d, expected 404" % (path, r.status))
    r = pod.request("POST", "/live/%s/index.m3u8" % SID, data=b"x")
    h.check(r.status == 405, "POST playlist -> %d, expected 405" % r.status)
    allow = (r.header("Allow") or "").upper()
    h.check("GET" in allow, "405 response Allow header %r does not list GET" % r.header("Allow"))

    w.assert_ok()  # a broken playlist would otherwise show up only as a hanging reader below
    # A real HLS client reading the live playlist over HTTP (bounded with -t).
    rc, _, err = h.run_capture(["ffmpeg", "-hide_banner", "-nostdin", "-v", "error",
                                "-i", pod.url("/live/%s/index.m3u8" % SID), "-t", "2",
                                "-f", "null", "-"], 20, "ffmpeg reading the live playlist")
    h.check(rc == 0, "ffmpeg could not read the live playlist over HTTP (exit %d): %s" % (rc, err[-600:]))

    pub.wait_ok(25)
    h.wait_for(lambda: pod.api(SID).get("publisher") is None, 10,
               "API publisher=null after the publisher disconnected")
    w.wait_polls(3)
    w.stop()
    w.assert_ok()

    seqs = w.seen_seqs()
    h.check(len(seqs) >= 7, "only %d segments for a 10 s stream with segment_duration 1: %r" % (len(seqs), seqs))
    h.check(seqs == list(range(seqs[0], seqs[-1] + 1)), "segment numbers not contiguous: %r" % seqs)
    h.check(not w.disc_seqs(), "unexpected discontinuities at %r" % w.disc_seqs())
    w.check_durations_against(SEG, GOP)
    total = sum(w.segs[q].duration for q in seqs)
    h.check(8.0 <= total <= 11.5, "sum of EXTINF %.2f s for a 10 s stream" % total)
    for q in w.downloaded():
        h.check_segment(w.segment_path(q), video=True, audio=True)
    h.check_timestamp_continuity(w)

    # ffprobe the final playlist through a closed local copy.
    final, _, _ = w.snapshot()
    local = h.closed_copy(w, final, os.path.join(w.dir, "closed.m3u8"))
    streams, fmt = h.probe_streams(local)
    kinds = sorted(s.get("codec_name") for s in streams)
    h.check(kinds == ["aac", "h264"], "ffprobe of the playlist found codecs %r, expected aac+h264" % kinds)
    dur = float(fmt.get("duration") or 0)
    want = sum(s.duration for s in final.segments)
    h.check(abs(dur - want) < 1.0, "ffprobe playlist duration %.2f s, EXTINF sum %.2f s" % (dur, want))
    j = pod.api(SID)
    h.check(j.get("segments") == len(seqs),
            "API segments=%r after the stream, but %d segments were published" % (j.get("segments"), len(seqs)))
    h.check(j.get("media_sequence") == final.media_seq, "API media_sequence %r != playlist %d"
            % (j.get("media_sequence"), final.media_seq))

    check_removed_segments(pod, w, final)
    check_hostile_paths(pod)
    check_latency_logged(t, pod)


def check_latency_logged(t, pod):
    """The negotiated SRT latency is logged when a publisher connects; one
    too long for the receive buffer at 10 Mbps is warned about."""
    def connected(f, _l):
        return f.get("msg") == "publisher connected" and f.get("session") == SID
    first = pod.log_lines_matching(connected)
    h.check(first and all("latency_ms=120" in l for l in first),
            "'publisher connected' lines without latency_ms=120: %r" % first)
    h.check(not pod.log_lines_matching(lambda f, l: "SRT latency longer" in l),
            "latency warning at 120 ms")
    # a speaker who asks for 10 s: max(ours, theirs) is negotiated
    url = pod.srt_url(SID).replace("latency=120000", "latency=10000000")
    pub = t.publisher(url, duration=2, label="latency-10s")
    lines = h.wait_for(lambda: pod.log_lines_matching(
        lambda f, l: "SRT latency longer" in l and f.get("latency_ms") == "10000"), 20,
        "the latency warning for a 10 s publisher")
    h.check(lines and "max_mbps=8.6" in lines[0], "latency warning %r, expected max_mbps=8.6" % lines)
    h.wait_exit(pub.proc, 30, "the 10 s latency publisher")


def check_removed_segments(pod, w, final):
    """Segments that left the playlist are still served (RFC 8216 6.2.2:
    for their duration plus the playlist's), now from the recording: same
    bytes as when they were live, same headers."""
    gone = [q for q in w.downloaded() if q < final.media_seq]
    h.check(len(gone) >= 2, "only %d downloaded segments left the playlist: %r" % (len(gone), gone))
    for q in gone:
        path = "/live/%s/%d.ts" % (SID, q)
        g = check_headers(pod, path, "video/mp2t")
        with open(w.segment_path(q), "rb") as f:
            live = f.read()
        h.check(g.body == live, "GET %s after it left the playlist: %d bytes, not the %d served live"
                % (path, len(g.body), len(live)))


def check_hostile_paths(pod):
    """Hostile paths: refused, never a file outside the data dir, never a crash."""
    for path in ("/live/%s/../../../../etc/passwd" % SID, "/live/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
                 "/live/..%2f..%2f..%2fetc%2fpasswd/index.m3u8", "/live/%s/-1.ts" % SID,
                 "/live/%s/abc.ts" % SID, "/live/%s/99999999999999999999999999.ts" % SID,
                 "/live/%s/index.m3u8/extra" % SID, "/live/%s/0.ts%%00.m3u8" % SID,
                 "/live/" + "a" * 8000 + "/index.m3u8", "/api/v1/sessions/" + "%ff" * 100):
        r = pod.get(path)
        h.check(b"root:" not in r.body, "GET %s served /etc/passwd" % path[:80])
        h.check(r.status in (400, 403, 404, 414), "GET %s -> %d (Content-Type %s, %d bytes), expected 400/403/404/414"
                % (path[:80], r.status, r.header("Content-Type"), len(r.body)))
    pod.assert_running()


if __name__ == "__main__":
    h.run(main)
