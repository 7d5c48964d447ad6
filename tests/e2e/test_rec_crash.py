#!/usr/bin/env python3
"""kill -9 of podium mid-recording, restart on the same data_dir, speaker returns.

- at the kill, the publisher is live and the recording has >= 5 segments;
- after the restart (before anyone publishes again) the recording playlist is
  valid: EVENT (kept open for close_after), every listed segment exists and
  ffprobe reads it, no .tmp listed, every segment the playlist listed at the
  crash is still listed; a closed local copy decodes to its last segment with
  the duration the playlist claims;
- the speaker publishes again within close_after: the recording continues in
  the same playlist after exactly one #EXT-X-DISCONTINUITY, with higher segment
  numbers (the live playlist's numbers continue right after the recovered
  ones, and /live/ served the same bytes); the recovered segments are
  untouched (byte-identical);
- a second kill -9 while the speaker is back, restart, nobody publishes: the
  recovered playlist keeps both parts and the DISCONTINUITY, stays EVENT, and
  is finalized (VOD + ENDLIST) close_after after the restart; the whole
  recording decodes; unpublished, it is 404 without the token."""
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import rec_util as ru  # noqa: E402

SID = "workshop"
CLOSE_AFTER = 6      # must outlast restart + the returning publisher's connect (ASan too)
SECOND_SEGS = 4


def main(t):
    pod = ru.podium(t, {SID: {"title": "Workshop", "passphrase": "workshop-secret-77"}},
                    close_after=CLOSE_AFTER)
    folder = ru.rec_dir(pod, SID)
    pub1 = pod.publish(SID, duration=60)

    def listed():
        try:
            return len(h.Playlist(ru.disk_text(pod, SID)).segments)
        except FileNotFoundError:
            return 0
    h.wait_for(lambda: (pod.assert_running() or True) and pub1.poll() is None and listed() >= 5, 20,
               "5 segments listed in %s/index.m3u8 while the publisher is live" % folder)
    ru.kill9(pod)
    crash_text = ru.disk_text(pod, SID)
    crash_files = sorted(os.listdir(folder))
    pub1.kill()
    crash_pl = h.Playlist(crash_text)
    crash_seqs = [ru.uri_seq(s.uri) for s in crash_pl.segments]
    h.note("at the crash: playlist lists %r; folder holds %r" % (crash_seqs, crash_files))
    h.check(not crash_pl.endlist, "playlist had #EXT-X-ENDLIST while the publisher was live:\n%s" % crash_text)

    ru.restart(pod)
    # Snapshot the recovered state at once, then let the speaker return within close_after.
    rj = ru.rec_json(pod, SID)
    text = ru.disk_text(pod, SID)
    snap = t.path("recovered")
    os.makedirs(snap)
    rec_pl = h.Playlist(text)
    for s in rec_pl.segments:
        src = os.path.join(folder, s.uri)
        h.check(os.path.isfile(src), "after the restart the playlist lists %s, which does not exist" % s.uri)
        shutil.copyfile(src, os.path.join(snap, s.uri))
    pub2 = pod.publish(SID, duration=60)

    h.check(rj.get("state") == "recording",
            "API recording.state %r right after the restart, expected recording (kept open for close_after)"
            % rj.get("state"))
    pl = ru.check_rec_playlist(text, "recording playlist after the restart", folder=snap, ended=False)
    seqs = [ru.uri_seq(s.uri) for s in pl.segments]
    h.check(seqs == crash_seqs,
            "after the restart the playlist lists %r; at the crash it listed %r (all complete)" % (seqs, crash_seqs))
    tmp_left = [n for n in os.listdir(folder) if n.endswith(".tmp")]
    if tmp_left:
        h.note("note: .tmp files in the folder after the restart: %r" % tmp_left)
    hashes = {q: ru.sha256(os.path.join(snap, "%d.ts" % q)) for q in seqs}
    for q in seqs:
        h.check_segment(os.path.join(snap, "%d.ts" % q))
    copy = ru.local_copy(snap, text, t.path("recovered-closed"))
    frames, _ = ru.decode(copy, "closed copy of the recovered recording")
    claimed = sum(s.duration for s in pl.segments)
    h.note("recovered recording: %d segments, %.3f s; decoded %d video frames" % (len(seqs), claimed, frames))
    h.check(abs(frames / float(ru.FPS) - claimed) <= ru.SEG,
            "recovered recording decodes to %d frames (%.2f s) but its playlist claims %.3f s"
            % (frames, frames / float(ru.FPS), claimed))
    h.check(abs(rj.get("duration", -1) - claimed) < 0.05 and rj.get("segments") == len(seqs),
            "API after restart: recording segments %r duration %r; playlist %d segments %.3f s"
            % (rj.get("segments"), rj.get("duration"), len(seqs), claimed))

    # The speaker is back: the recording continues after one DISCONTINUITY.
    w = pod.watch(SID)
    h.wait_for(lambda: (pod.assert_running() or True) and pub2.poll() is None
               and len(ru.disk_segments(pod, SID)) >= len(seqs) + SECOND_SEGS
               and len(w.downloaded()) >= SECOND_SEGS, 20,
               "%d segments from the returning speaker, recorded and served live" % SECOND_SEGS)
    mid = ru.disk_text(pod, SID)
    mpl = ru.check_rec_playlist(mid, "recording playlist with the returning speaker", folder=folder, ended=False)
    check_continued(mpl, seqs, "with the returning speaker", mid)
    w.stop()                 # before the next kill -9: the watcher would see the server vanish
    w.assert_ok()
    live = w.seen_seqs()
    h.check(live and live[0] == seqs[-1] + 1,
            "live segment numbers after the restart start at %r, expected %d (continuing after the recovered %d.ts)"
            % (live[:1], seqs[-1] + 1, seqs[-1]))
    for q in w.downloaded():
        p = os.path.join(folder, "%d.ts" % q)
        if os.path.exists(p):
            h.check(ru.sha256(w.segment_path(q)) == ru.sha256(p),
                    "%d.ts on disk differs from the bytes /live/ served" % q)

    # Second crash, this time nobody comes back: finalized after close_after.
    ru.kill9(pod)
    crash2 = h.Playlist(ru.disk_text(pod, SID))
    crash2_seqs = [ru.uri_seq(s.uri) for s in crash2.segments]
    pub2.kill()
    ru.restart(pod)
    t_restart = time.monotonic()
    text2 = ru.disk_text(pod, SID)
    pl2 = ru.check_rec_playlist(text2, "recording playlist after the second restart", folder=folder, ended=False)
    h.check([ru.uri_seq(s.uri) for s in pl2.segments] == crash2_seqs,
            "after the second restart the playlist lists %r; at the crash it listed %r"
            % ([ru.uri_seq(s.uri) for s in pl2.segments], crash2_seqs))
    check_continued(pl2, seqs, "after the second restart", text2)
    h.check(ru.rec_json(pod, SID).get("state") == "recording",
            "recording.state %r after the second restart, expected recording" % ru.rec_json(pod, SID).get("state"))
    ru.wait_finalized(pod, SID, CLOSE_AFTER + 10)
    waited = time.monotonic() - t_restart
    h.note("finalized %.1f s after the second restart (close_after=%d)" % (waited, CLOSE_AFTER))
    h.check(waited >= CLOSE_AFTER - 1.5,
            "recording finalized %.1f s after the restart, before close_after=%d" % (waited, CLOSE_AFTER))
    final = ru.disk_text(pod, SID)
    fpl = ru.check_rec_playlist(final, "final recording playlist", folder=folder, ended=True)
    h.check([ru.uri_seq(s.uri) for s in fpl.segments] == crash2_seqs,
            "finalizing changed the segment list: %r -> %r" % (crash2_seqs, [ru.uri_seq(s.uri) for s in fpl.segments]))
    check_continued(fpl, seqs, "finalized", final)
    for q in seqs:
        h.check(ru.sha256(os.path.join(folder, "%d.ts" % q)) == hashes[q],
                "recovered %d.ts changed after the speaker returned" % q)
    total = sum(s.duration for s in fpl.segments)
    frames, _ = ru.decode(pod.url("/vod/%s/index.m3u8" % SID), "the final recording over HTTP",
                          headers=ru.AUTH, allow_disc_noise=True)
    h.check(abs(frames / float(ru.FPS) - total) <= 2 * ru.SEG,
            "final recording decodes to %d frames (%.2f s), its playlist claims %.3f s"
            % (frames, frames / float(ru.FPS), total))
    r = pod.get("/vod/%s/index.m3u8" % SID)
    h.check(r.status == 404, "finalized unpublished recording without token -> %d, expected 404" % r.status)


def check_continued(pl, recovered, where, text):
    """pl starts with the recovered segments; the returning speaker's segments follow
    with higher numbers after exactly one DISCONTINUITY."""
    q = [ru.uri_seq(s.uri) for s in pl.segments]
    h.check(q[:len(recovered)] == recovered,
            "%s: the recording does not start with the recovered segments %r: %r" % (where, recovered, q))
    new = pl.segments[len(recovered):]
    h.check(len(new) >= 1, "%s: nothing recorded after the recovered segments:\n%s" % (where, text))
    first = ru.uri_seq(new[0].uri)
    h.check(first > recovered[-1], "%s: new segment numbers do not go up: %s after %d.ts"
            % (where, new[0].uri, recovered[-1]))
    discs = [ru.uri_seq(s.uri) for s in pl.segments if s.disc]
    h.check(discs == [first],
            "%s: expected exactly one #EXT-X-DISCONTINUITY, before the returning speaker's first segment %s; "
            "found before %r:\n%s" % (where, new[0].uri, discs, text))


if __name__ == "__main__":
    h.run(main)
