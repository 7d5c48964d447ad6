#!/usr/bin/env python3
"""Recording of one 30 s publish, finalized after close_after.

- while live: the recording playlist is public, EVENT;
- after close_after: API recording.state finalized, session ended, live
  playlist gets #EXT-X-ENDLIST, recording playlist VOD + #EXT-X-ENDLIST,
  404 without the admin token (unpublished), 200 with it; the attendee's
  session JSON (one and list) shows no recording, the organizer's the
  finalized one;
- every listed segment is on disk, nothing else is; no gap, no discontinuity;
- the recording decodes end to end over HTTP (ffmpeg -f null, no errors) and
  its duration (EXTINF sum, decoded video frames, API) is within one segment of
  the 30 s sent;
- every segment file is byte-identical to what /live/ served for that number
  while live (the recording is the very bytes live viewers got);
- /vod/ file serving: ETag, Last-Modified, Accept-Ranges, If-None-Match -> 304,
  Range -> 206 with Content-Range, HEAD;
- a live segment still in the window (held in memory) answers a Range as
  /vod does: 206 with Content-Range and that slice, suffix ranges, 416
  beyond the end, and the whole with an If-Range it cannot match."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import rec_util as ru  # noqa: E402

SID = "keynote"
SENT = 30.0
CLOSE_AFTER = 2


def check_file_serving(pod, seq, disk_path):
    path = "/vod/%s/%d.ts" % (SID, seq)
    with open(disk_path, "rb") as f:
        data = f.read()
    g = pod.get(path, headers=ru.AUTH)
    h.check(g.status == 200 and g.body == data,
            "GET %s (token) -> %d, %d bytes; expected 200 and the %d bytes of %s"
            % (path, g.status, len(g.body), len(data), disk_path))
    for name in ("ETag", "Last-Modified", "Accept-Ranges"):
        h.check(g.header(name), "GET %s: no %s header (headers: %s)" % (path, name, dict(g.headers)))
    h.check(g.header("Accept-Ranges") == "bytes", "GET %s Accept-Ranges %r" % (path, g.header("Accept-Ranges")))
    h.check(g.header("Content-Type") == "video/mp2t", "GET %s Content-Type %r" % (path, g.header("Content-Type")))
    hd = pod.request("HEAD", path, headers=ru.AUTH)
    h.check(hd.status == 200 and hd.body == b"" and hd.header("ETag") == g.header("ETag"),
            "HEAD %s -> %d, body %d bytes, ETag %r (GET ETag %r)"
            % (path, hd.status, len(hd.body), hd.header("ETag"), g.header("ETag")))
    if hd.header("Content-Length") is not None:
        h.check(int(hd.header("Content-Length")) == len(data),
                "HEAD %s Content-Length %s, file has %d bytes" % (path, hd.header("Content-Length"), len(data)))
    nm = pod.get(path, headers=dict(ru.AUTH, **{"If-None-Match": g.header("ETag")}))
    h.check(nm.status == 304 and nm.body == b"",
            "GET %s If-None-Match: <its ETag> -> %d (%d bytes), expected 304 without body"
            % (path, nm.status, len(nm.body)))
    r = pod.get(path, headers=dict(ru.AUTH, Range="bytes=188-1127"))
    h.check(r.status == 206, "GET %s Range bytes=188-1127 -> %d, expected 206" % (path, r.status))
    h.check(r.header("Content-Range") == "bytes 188-1127/%d" % len(data),
            "GET %s Range: Content-Range %r, expected 'bytes 188-1127/%d'"
            % (path, r.header("Content-Range"), len(data)))
    h.check(r.body == data[188:1128], "GET %s Range bytes=188-1127: body differs from the file slice" % path)
    r = pod.get(path, headers=dict(ru.AUTH, Range="bytes=%d-" % (len(data) + 10)))
    h.check(r.status == 416, "GET %s Range beyond the end -> %d, expected 416" % (path, r.status))


def check_live_range(pod):
    """Range on the newest segment of the live window, held in memory."""
    pl = h.Playlist(pod.get("/live/%s/index.m3u8" % SID).body.decode())
    h.check(pl.segments, "live playlist lists no segment")
    path = "/live/%s/%s" % (SID, pl.segments[-1].uri)
    data = pod.get(path).body
    h.check(len(data) > 2000, "GET %s: %d bytes" % (path, len(data)))
    for rng, lo, hi in (("bytes=188-1127", 188, 1127), ("bytes=-376", len(data) - 376, len(data) - 1)):
        r = pod.get(path, headers={"Range": rng})
        want = "bytes %d-%d/%d" % (lo, hi, len(data))
        h.check(r.status == 206 and r.header("Content-Range") == want and r.body == data[lo:hi + 1],
                "live GET %s Range %s -> %d, Content-Range %r, %d bytes; expected 206, %r and that slice"
                % (path, rng, r.status, r.header("Content-Range"), len(r.body), want))
    r = pod.get(path, headers={"Range": "bytes=%d-" % len(data)})
    h.check(r.status == 416 and r.header("Content-Range") == "bytes */%d" % len(data),
            "live GET %s Range beyond the end -> %d, Content-Range %r; expected 416, 'bytes */%d'"
            % (path, r.status, r.header("Content-Range"), len(data)))
    # no validator to match an If-Range: the whole segment
    r = pod.get(path, headers={"Range": "bytes=0-99", "If-Range": '"x"'})
    h.check(r.status == 200 and r.body == data,
            "live GET %s Range with If-Range -> %d, %d bytes; expected 200 and the whole segment"
            % (path, r.status, len(r.body)))


def entries(text):
    """(EXTINF duration, URI) of each segment of a playlist text."""
    out, dur = [], None
    for line in text.splitlines():
        if line.startswith("#EXTINF:"):
            dur = float(line[8:].split(",")[0])
        elif line and not line.startswith("#"):
            out.append((dur, line))
    return out


def check_delta_update(pod):
    """A player re-reads the open recording's playlist every segment (an
    attendee watching the talk from the start): it offers delta updates
    (CAN-SKIP-UNTIL, six target durations), and _HLS_skip=YES gets the
    segments from the one holding that boundary, the rest an EXT-X-SKIP
    that stands for exactly the segments left out."""
    path = "/vod/%s/index.m3u8" % SID
    full = h.wait_for(lambda: (lambda r: r if sum(d for d, _ in entries(r.body.decode())) >= 16 else None)(
        pod.get(path)), 20, "16 s in the open recording's playlist").body.decode()
    target = int(re.search(r"#EXT-X-TARGETDURATION:(\d+)", full).group(1))
    until = 6 * target
    h.check("#EXT-X-SERVER-CONTROL:CAN-SKIP-UNTIL=%.1f" % until in full,
            "the open recording's playlist offers no delta updates:\n%s" % full[:400])
    r = pod.get(path + "?_HLS_skip=YES")
    delta = r.body.decode()
    after = pod.get(path).body.decode()       # as long as the delta's, or longer
    m = re.search(r"^#EXT-X-SKIP:SKIPPED-SEGMENTS=(\d+)$", delta, re.M)
    h.check(r.status == 200 and m and "#EXT-X-VERSION:9" in delta and r.header("ETag") not in (None, ""),
            "_HLS_skip=YES -> %d, ETag %r:\n%s" % (r.status, r.header("ETag"), delta[:600]))
    skipped, kept, whole = int(m.group(1)), entries(delta), entries(after)
    h.check(whole[skipped:skipped + len(kept)] == kept,
            "the delta's %d segments after skipping %d are not the playlist's from there:\n%s\n---\n%s"
            % (len(kept), skipped, delta, after))
    h.check(sum(d for d, _ in kept) >= until > sum(d for d, _ in kept[1:]),
            "the delta keeps %.3f s, the last %.3f s without its first: expected the segment holding the "
            "boundary %d s before the end, and all after it" % (sum(d for d, _ in kept),
                                                               sum(d for d, _ in kept[1:]), until))
    h.check(re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", delta).group(1)
            == re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", after).group(1), "the delta's MEDIA-SEQUENCE moved")
    h.note("open recording playlist: %d bytes, delta update %d bytes (%d segments skipped, %d kept)"
           % (len(after), len(delta), skipped, len(kept)))


def main(t):
    pod = ru.podium(t, {SID: {"title": "Keynote", "passphrase": "keynote-secret-123"}},
                    close_after=CLOSE_AFTER)
    folder = ru.rec_dir(pod, SID)

    r = pod.get("/vod/%s/index.m3u8" % SID, headers=ru.AUTH)
    h.check(r.status == 404, "recording playlist before anything was recorded -> %d, expected 404" % r.status)
    rj = ru.rec_json(pod, SID)
    h.check(rj.get("state") == "none", "API recording.state %r before publishing, expected none" % rj.get("state"))

    w = pod.watch(SID, allow_endlist=True)
    pub = pod.publish(SID, duration=SENT)

    # Live phase: the recording grows on disk and its playlist is public (EVENT).
    h.wait_for(lambda: (pod.assert_running() or True) and len(ru.disk_segments(pod, SID)) >= 3,
               15, "3 recording segments on disk in %s" % folder)
    r = pod.get("/vod/%s/index.m3u8" % SID)
    h.check(r.status == 200, "recording playlist while live, without token -> %d, expected 200 (public)"
            % r.status)
    ru.check_rec_playlist(r.body.decode(), "recording playlist while live", ended=False)
    # served from the recorder's memory while open: an ETag that only a new
    # entry changes (a conditional GET answers 304 or the longer playlist)
    etag = r.header("ETag")
    h.check(etag and r.header("Cache-Control") == "max-age=1",
            "open recording playlist: ETag %r, Cache-Control %r" % (etag, r.header("Cache-Control")))
    nm = pod.get("/vod/%s/index.m3u8" % SID, headers={"If-None-Match": etag})
    h.check((nm.status == 304 and nm.body == b"")
            or (nm.status == 200 and nm.header("ETag") != etag and len(nm.body) > len(r.body)),
            "open recording playlist, If-None-Match: its ETag -> %d, ETag %r (was %r), %d bytes (was %d)"
            % (nm.status, nm.header("ETag"), etag, len(nm.body), len(r.body)))
    j = pod.api(SID)
    h.check(j.get("state") == "live" and j["recording"].get("state") == "recording",
            "API while live: state %r recording.state %r, expected live/recording"
            % (j.get("state"), j["recording"].get("state")))
    w.wait_segments(5, 15, "5 live segments downloaded while live")
    check_live_range(pod)
    check_delta_update(pod)

    pub.wait_ok(SENT + 20)
    h.note("publisher finished; waiting for finalization (close_after=%d)" % CLOSE_AFTER)
    ru.wait_finalized(pod, SID, CLOSE_AFTER + 10)
    h.wait_for(lambda: "#EXT-X-ENDLIST" in pod.get("/live/%s/index.m3u8" % SID).body.decode(), 5,
               "#EXT-X-ENDLIST in the live playlist after the session ended")
    w.wait_polls(2)
    w.stop()
    w.assert_ok()
    j = pod.api(SID, organizer=True)
    h.check(j.get("state") == "ended", "API state %r after finalization, expected ended" % j.get("state"))
    rj = j["recording"]
    h.check(rj.get("published") is False, "API recording.published %r, expected false" % rj.get("published"))
    # attendees learn nothing of the unpublished recording, not even that it exists
    for what, a in (("session", pod.api(SID)),
                    ("list", next(x for x in pod.get("/api/v1/sessions").json()["sessions"] if x["id"] == SID))):
        ar = a["recording"]
        h.check(a.get("state") == "ended" and ar.get("state") == "none" and ar.get("segments") == 0
                and ar.get("bytes") == 0 and ar.get("duration") == 0 and ar.get("published") is False
                and ar["export"].get("state") == "idle",
                "attendee's %s JSON after the session ended shows the unpublished recording: state %r "
                "recording %r" % (what, a.get("state"), ar))

    # Unpublished now: hidden without the token.
    for path in ("/vod/%s/index.m3u8" % SID, "/vod/%s/%d.ts" % (SID, ru.disk_segments(pod, SID)[0])):
        r = pod.get(path)
        h.check(r.status == 404, "GET %s without token after the session ended (unpublished) -> %d, "
                                 "expected 404" % (path, r.status))
    r = pod.get("/vod/%s/index.m3u8" % SID, headers={"Authorization": "Bearer wrong-token-0123456789"})
    h.check(r.status == 404, "recording playlist with a wrong token -> %d, expected 404" % r.status)
    r = pod.get("/vod/%s/index.m3u8" % SID, headers=ru.AUTH)
    h.check(r.status == 200, "recording playlist with the admin token -> %d, expected 200" % r.status)
    text = r.body.decode()
    h.check(text == ru.disk_text(pod, SID), "served recording playlist differs from %s/index.m3u8" % folder)
    pl = ru.check_rec_playlist(text, "finalized recording playlist", folder=folder, ended=True)
    seqs = [ru.uri_seq(s.uri) for s in pl.segments]
    h.check(seqs == list(range(seqs[0], seqs[-1] + 1)),
            "recording of one publisher skips segment numbers: %r" % seqs)
    h.check(not any(s.disc for s in pl.segments), "recording of one publisher has #EXT-X-DISCONTINUITY:\n%s" % text)
    on_disk = ru.disk_segments(pod, SID)
    h.check(on_disk == seqs, "segment files on disk %r differ from the playlist %r" % (on_disk, seqs))
    leftovers = [n for n in os.listdir(folder) if n.endswith(".tmp")]
    h.check(not leftovers, "temporary files left in %s: %r" % (folder, leftovers))

    # Byte-identical to what /live/ served.
    live = w.downloaded()
    h.check(len(live) >= 20, "only %d live segments downloaded during the live phase" % len(live))
    h.check(set(live) <= set(seqs), "live segments %r not all in the recording %r"
            % (sorted(set(live) - set(seqs)), seqs))
    for q in live:
        a, b = ru.sha256(w.segment_path(q)), ru.sha256(os.path.join(folder, "%d.ts" % q))
        h.check(a == b, "%d.ts on disk differs from the bytes /live/ served for it" % q)
    h.note("%d segments byte-identical to the live ones (%d..%d)" % (len(live), live[0], live[-1]))

    # Durations.
    total = sum(s.duration for s in pl.segments)
    h.check(abs(total - SENT) <= ru.SEG,
            "recording EXTINF sum %.3f s, sent %.1f s: differs by more than one segment (%.1f s)"
            % (total, SENT, ru.SEG))
    h.check(abs(rj.get("duration", -1) - total) < 0.05 and rj.get("segments") == len(seqs),
            "API recording duration %r segments %r, playlist says %.3f s in %d segments"
            % (rj.get("duration"), rj.get("segments"), total, len(seqs)))
    size = sum(os.path.getsize(os.path.join(folder, "%d.ts" % q)) for q in seqs)
    h.check(rj.get("bytes") == size, "API recording.bytes %r, files total %d" % (rj.get("bytes"), size))
    h.check(rj.get("write_errors") == 0 and rj.get("gaps_total") == 0 and rj.get("gaps") == [],
            "API recording write_errors %r gaps_total %r gaps %r, expected none"
            % (rj.get("write_errors"), rj.get("gaps_total"), rj.get("gaps")))

    # Decode end to end over HTTP (organizer token on every request).
    frames, out_s = ru.decode(pod.url("/vod/%s/index.m3u8" % SID), "the recording over HTTP", headers=ru.AUTH)
    h.note("decoded %d video frames, %.3f s; EXTINF sum %.3f s" % (frames, out_s, total))
    h.check(abs(frames / float(ru.FPS) - SENT) <= ru.SEG,
            "decoded %d video frames = %.2f s, sent %.1f s: differs by more than one segment"
            % (frames, frames / float(ru.FPS), SENT))
    dur, kinds = ru.probe_duration(ru.local_copy(folder, text, t.path("vodcopy")), "local copy of the recording")
    h.check(kinds == ["audio", "video"], "recording streams %r, expected audio+video" % kinds)
    h.check(abs(dur - SENT) <= ru.SEG, "ffprobe duration of the recording %.3f s, sent %.1f s" % (dur, SENT))
    for q in (seqs[0], seqs[len(seqs) // 2], seqs[-1]):
        h.check_segment(os.path.join(folder, "%d.ts" % q))

    check_file_serving(pod, seqs[1], os.path.join(folder, "%d.ts" % seqs[1]))


if __name__ == "__main__":
    h.run(main)
